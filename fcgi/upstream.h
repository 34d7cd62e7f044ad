/* fcgi/upstream.h: the upstream transport (libcurl). One handle per worker
 * thread, reused across requests; DNS and TLS sessions are shared by all
 * threads; connections are the thread's own, or the process's (UPSTREAM_MULTI). */
#ifndef CCP_FCGI_UPSTREAM_H
#define CCP_FCGI_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"
#include "common/conf.h"
#include "common/err.h"

struct wk_upstream;

/* how often, at most, a transfer asks sink->alive (ms) */
#define WK_ALIVE_EVERY_MS 250

/* Where the response body goes, chunk by chunk, as it arrives (already
 * decoded from gzip/br/zstd). */
struct wk_upstream_sink {
    /* Called for each chunk with the final HTTP status. Return false to
     * abort the transfer at once (the result then says CCP_DECLINED). */
    bool (*data)(void *ctx, int status, const char *p, size_t n);
    /* Optional: called while waiting; return false to abort (client gone).
     * At most every WK_ALIVE_EVERY_MS (it may cost a system call). */
    bool (*alive)(void *ctx);
    /* Optional: called when libcurl has handed over every byte it read in
     * one go and is about to wait for more: the moment to write out what
     * data() kept back, in one write. Return false to abort. */
    bool (*drain)(void *ctx);
    /* Optional: a descriptor to wait on beside the upstream's (-1: none,
     * asked before each wait), and what to do when it is readable: read
     * what is there, or stop returning it. Only transfers on the calling
     * thread watch it (wk_upstream_watches). */
    int (*watch_fd)(void *ctx);
    void (*watch)(void *ctx);
    void *ctx;
};

struct wk_upstream_result {
    int status;           /* upstream HTTP status, 0 if none was received */
    enum ccp_err err;     /* CCP_OK (a response arrived, any status),
                             CCP_ERR_UPSTREAM (connect/transport failure),
                             CCP_ERR_TIMEOUT, CCP_DECLINED (the sink aborted) */
    char message[256];    /* what failed, for logs and the client; no secrets */
    char retry_after[32]; /* the upstream's retry-after header, or "" */
    long ms;              /* duration of the call */
    size_t bytes_in;      /* decoded body bytes received */
    bool retryable;       /* a transport failure worth retrying: no connection could be
                             made (refused, connect timeout, TLS handshake) or the
                             connection broke (reset, nothing received, HTTP/2 error) */
};

/* Process-wide set-up of the cache shared by all handles and, if `shared`
 * (UPSTREAM_MULTI), of the transport thread that performs every handle's
 * calls on one multi handle. `c` is borrowed and must outlive the cleanup.
 * Call once after curl_global_init and before any thread starts. CCP_OK,
 * CCP_ERR_NOMEM or CCP_ERR_INTERNAL. */
CCP_NODISCARD enum ccp_err wk_upstream_global_init(const struct conf *c, bool shared);
/* Undo wk_upstream_global_init after every handle is freed. */
void wk_upstream_global_cleanup(void);

/* A handle for one thread. `c` is borrowed and must outlive it. NULL on
 * allocation failure. */
struct wk_upstream *wk_upstream_new(const struct conf *c);
void wk_upstream_free(struct wk_upstream *u);

/* POST `body` (a Chat Completions request) to <OPENAI_BASE_URL>/chat/completions
 * and pass the answer to `sink`. The whole call may take timeout_ms (at
 * least 1; at most MAX_STREAM_SECONDS). Never follows redirects, never
 * retries: the caller's retry loop wraps this call. Fills *res; can't fail
 * otherwise. */
void wk_upstream_post(struct wk_upstream *u, const char *body, size_t len, bool stream,
                      long timeout_ms, const struct wk_upstream_sink *sink,
                      struct wk_upstream_result *res);

/* True if this process's transfers run on the calling thread, which then
 * waits on the sink's watch_fd too; false under UPSTREAM_MULTI, whose
 * transport thread does the waiting. */
bool wk_upstream_watches(void);

/* The same, non-streaming, to another URL with the same key and limits
 * (COUNT_TOKENS_UPSTREAM_URL). */
void wk_upstream_post_url(struct wk_upstream *u, const char *url, const char *body, size_t len,
                          long timeout_ms, const struct wk_upstream_sink *sink,
                          struct wk_upstream_result *res);

#endif /* CCP_FCGI_UPSTREAM_H */
