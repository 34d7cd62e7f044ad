/* fcgi/handler_int.h: what handler.c shares with the route files
 * (messages.c, models.c): the request being served and answer helpers. */
#ifndef CCP_FCGI_HANDLER_INT_H
#define CCP_FCGI_HANDLER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "fcgi/handler.h"
#include "fcgi/io.h"
#include "fcgi/rcache.h"
#include "translate/translate.h"

#define WK_REQ_ID_MAX 40
#define WK_TENANT_LEN 16 /* hex digits of the tenant hash in logs and metrics */

struct wk_req {
    struct wk_worker *w;
    struct wk_io *io;
    const char *method;
    char path[256]; /* routed path, query stripped (truncated if longer) */
    char id[WK_REQ_ID_MAX];
    bool head;      /* HEAD: headers only */
    bool sent_head; /* the status line and headers went out */
    int status;     /* status sent to the client (0: none) */
    bool client_gone;
    struct buf body; /* the request body (bounded by MAX_REQUEST_BODY_BYTES) */
    /* for the summary log line */
    struct tr_reqinfo info; /* models and stream flag, once the body parsed */
    bool have_info;
    long upstream_ms;
    bool have_tokens; /* streams: usage the translation counted */
    unsigned long tokens_in, tokens_out;
    size_t bytes_out;
    struct timespec t0;
    enum wk_cache_state cache; /* sent as x-ccproxy-cache unless WK_CACHE_OFF */
    unsigned attempts;         /* upstream attempts (retries + 1); 0: none */
    /* metrics and the JSON request line (fcgi/metrics.c) */
    char tenant[WK_TENANT_LEN + 1]; /* hash of the client key, "" if none */
    struct cache_key tenant_key;    /* cache_tenant_id of the presented key (or ""):
                                       the response cache's tenant */
    bool have_tenant_key;           /* tenant_key is set */
    unsigned long tokens_cached;    /* of tokens_in, served from the upstream's prompt cache */
    long ttfb_ms;                   /* t0 to the status line and headers going out; -1 until then */
};

/* Write the status line and headers: Content-Type `ctype`, request-id,
 * x-ccproxy-cache (unless r->cache is WK_CACHE_OFF) and `extra` (zero or
 * more "Name: value\r\n" lines, or NULL). 0 or -1 (client gone). */
int wk_send_head(struct wk_req *r, int status, const char *ctype, const char *extra);
/* Write body bytes (skipped for HEAD), counted in bytes_out. 0 or -1. */
int wk_send_body(struct wk_req *r, const char *p, size_t n);
/* A whole JSON answer: head, body, and its end (wk_end_answer): nothing may be
 * written after it. */
void wk_send_json(struct wk_req *r, int status, const char *extra, const char *json, size_t n);
/* End the answer (wk_io_end) with what is still buffered, once; a failed
 * write marks the client gone. */
void wk_end_answer(struct wk_req *r);
/* An Anthropic error JSON answer for err; passes err->retry_after on. */
void wk_send_error(struct wk_req *r, const struct tr_error *err);
/* The "x-ccproxy-warning: dropped server tools: <name>\r\n" line for info
 * (the first dropped tool's type without its _<date> version) into out. */
void wk_server_tools_warning(const struct tr_reqinfo *info, char *out, size_t cap);
/* Fill buf with n random lower-case hex digits and a NUL (buf holds n + 1). */
void wk_random_hex(char *buf, size_t n);
/* 64 random bits from this thread's generator (unique ids, jitter; not
 * for secrets). */
uint64_t wk_random_u64(void);
/* Milliseconds since t0 (CLOCK_MONOTONIC). */
long wk_ms_since(const struct timespec *t0);

/* Guards (guard_req.c): false after answering 401 (client key) or 429
 * (rate limit); wk_guard_done counts the finished request's tokens. */
bool wk_guard_request(struct wk_req *r);
void wk_guard_done(struct wk_req *r);
/* false after answering 415 for a body that is not declared as JSON. */
bool wk_guard_content_type(struct wk_req *r);

/* Routes. */
void wk_route_messages(struct wk_req *r);
void wk_route_count_tokens(struct wk_req *r);
void wk_route_models(struct wk_req *r);
/* Admin routes (fcgi/status.c): GET /v1/metrics, /metrics, /status. */
void wk_route_metrics_json(struct wk_req *r);
void wk_route_metrics_prometheus(struct wk_req *r);
void wk_route_status(struct wk_req *r);

/* Metrics hooks (fcgi/metrics.c). Start: tenant and in-flight gauge; done:
 * counters, cost, and the JSON request line at info. Can't fail. */
void wk_request_start(struct wk_req *r);
void wk_request_done(struct wk_req *r);

#endif /* CCP_FCGI_HANDLER_INT_H */
