/* fcgi/metrics.h: host-wide metrics shared by every worker process through
 * one mmap'ed file (atomic counters, fixed histograms, bounded per-model and
 * per-tenant tables, a per-minute ring), its renderers (JSON, Prometheus) and
 * the pricing table that turns tokens into cost and savings. */
#ifndef CCP_FCGI_METRICS_H
#define CCP_FCGI_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/err.h"

/* ---- counters ------------------------------------------------------------ */

enum wk_ctr {
    /* performance */
    WK_C_REQUESTS,
    WK_C_REQ_2XX,
    WK_C_REQ_4XX,
    WK_C_REQ_5XX,
    WK_C_ERRORS, /* answered >= 500, or 429 */
    WK_C_CLIENT_GONE,
    WK_C_MESSAGES,
    WK_C_STREAMS,
    WK_C_COUNT_TOKENS,
    WK_C_BYTES_IN,
    WK_C_BYTES_OUT,
    WK_C_TOKENS_IN,
    WK_C_TOKENS_OUT,
    WK_C_TOKENS_CACHED,
    /* response_cache */
    WK_C_RC_HIT,
    WK_C_RC_MISS,
    WK_C_RC_BYPASS,
    WK_C_RC_STORE,
    WK_C_RC_ERROR,
    /* request_validator_cache (no such cache in this build: stays 0) */
    WK_C_RV_HIT,
    WK_C_RV_MISS,
    /* token_count_cache */
    WK_C_TC_HIT,
    WK_C_TC_MISS,
    /* upstream */
    WK_C_UP_ATTEMPTS,
    WK_C_UP_2XX,
    WK_C_UP_4XX,
    WK_C_UP_429,
    WK_C_UP_5XX,
    WK_C_UP_TRANSPORT,
    WK_C_UP_TIMEOUT,
    WK_C_UP_ABORTED,
    WK_C_UP_RETRIES,
    WK_C_UP_HTTP1,
    WK_C_UP_HTTP2,
    WK_C_UP_HTTP3,
    WK_C_UP_CONN_NEW,
    /* coordinator */
    WK_C_CO_LEADERS,
    WK_C_CO_FOLLOWERS,
    WK_C_CO_DROPS,
    WK_C_CO_FAILOPEN,
    /* cost, in nano-US-dollars */
    WK_C_COST_NUSD,
    WK_C_CLAUDE_NUSD, /* what the requested Claude models would have cost */
    WK_C_PRICED,      /* requests whose upstream model had a price */
    WK_C__COUNT
};

/* Latency histograms, in milliseconds. */
enum wk_hist_id { WK_H_TOTAL, WK_H_UPSTREAM, WK_H_TTFB, WK_H__COUNT };

#define WK_HIST_BUCKETS 16 /* 15 finite upper bounds and +Inf */
extern const double wk_hist_bounds_ms[WK_HIST_BUCKETS - 1];

struct wk_hist {
    uint64_t count[WK_HIST_BUCKETS]; /* per bucket, not cumulative */
    uint64_t sum_ms;
};

/* Values kept per model and per tenant. */
enum wk_slot_val {
    WK_V_REQUESTS,
    WK_V_TOKENS_IN,
    WK_V_TOKENS_OUT,
    WK_V_TOKENS_CACHED,
    WK_V_COST_NUSD,
    WK_V_CLAUDE_NUSD,
    WK_V__COUNT
};

/* Values kept per minute, for the status page's charts. */
enum wk_minute_val {
    WK_M_REQUESTS,
    WK_M_ERRORS, /* answered >= 500, or 429 */
    WK_M_TOKENS_IN,
    WK_M_TOKENS_OUT,
    WK_M_COST_NUSD,
    WK_M_CLAUDE_NUSD,
    WK_M_RC_HIT,
    WK_M_RC_MISS,
    WK_M__COUNT
};

#define WK_MODELS_MAX 32
#define WK_TENANTS_MAX 64 /* more tenants are summed in "other" */
#define WK_MINUTES 60
#define WK_PROCS_MAX 64
#define WK_NAME_MAX 64

struct wk_named {
    char name[WK_NAME_MAX];
    uint64_t v[WK_V__COUNT];
};

struct wk_minute {
    uint64_t minute; /* unix time / 60; 0: no data */
    uint64_t v[WK_M__COUNT];
    uint64_t hist[WK_HIST_BUCKETS]; /* request latency of that minute */
};

/* A consistent-enough copy of the shared numbers, aggregated over every
 * process (what the renderers take). */
struct wk_msnap {
    uint64_t c[WK_C__COUNT];
    struct wk_hist h[WK_H__COUNT];
    struct wk_named models[WK_MODELS_MAX];
    size_t n_models;
    struct wk_named tenants[WK_TENANTS_MAX];
    size_t n_tenants;
    struct wk_named tenant_other;
    struct wk_minute minutes[WK_MINUTES]; /* oldest first; the last is the current minute */
    int64_t open_conns;                   /* upstream connections open now */
    int64_t inflight;                     /* requests being served now */
    long processes;                       /* live worker processes attached */
    long pids[WK_PROCS_MAX];
    uint64_t created_unix; /* when the shared file was created */
    uint64_t now_unix;
    bool shared; /* false: the shared file could not be used; numbers are this process's */
};

/* ---- pure helpers (fcgi/metrics_render.c) -------------------------------- */

/* Index of the bucket for a value in ms. */
size_t wk_hist_bucket(double ms);
/* The q-quantile (0 < q <= 1) of a histogram of n = WK_HIST_BUCKETS bucket
 * counts, interpolated linearly inside the bucket; values in the +Inf bucket
 * report the largest finite bound. -1 when the histogram is empty. */
double wk_hist_quantile(const uint64_t *count, double q);
/* Append the snapshot as the /v1/metrics JSON document. */
CCP_NODISCARD enum ccp_err wk_metrics_json(const struct wk_msnap *s, struct buf *out);
/* Append the snapshot in the Prometheus text exposition format 0.0.4. */
CCP_NODISCARD enum ccp_err wk_metrics_prometheus(const struct wk_msnap *s, struct buf *out);

/* ---- pricing (fcgi/pricing.c) ---------------------------------------------- */

/* US dollars per million tokens. */
struct wk_price {
    char model[WK_NAME_MAX]; /* a model name or the start of one ("gpt-5") */
    double input, output, cached_input;
};

#define WK_PRICES_MAX 256
struct wk_pricing {
    struct wk_price v[WK_PRICES_MAX];
    size_t n;
};

/* Fill p with the built-in prices. Can't fail. */
void wk_pricing_defaults(struct wk_pricing *p);
/* Merge a pricing JSON document over p: {"model": {"input": 1.25, "output":
 * 10, "cached_input": 0.125}, ...} (cached_input defaults to input). A
 * listed model replaces the built-in one. CCP_OK, or CCP_ERR_INVALID with a
 * message in errmsg (p unchanged). */
CCP_NODISCARD enum ccp_err wk_pricing_parse(struct wk_pricing *p, const char *json, size_t len,
                                            char *errmsg, size_t errlen);
/* Read and merge a pricing file (see wk_pricing_parse). */
CCP_NODISCARD enum ccp_err wk_pricing_load(struct wk_pricing *p, const char *path, char *errmsg,
                                           size_t errlen);
/* The price for a model: an exact match, else the longest entry that is a
 * prefix of the name followed by '-' or '@' or the end (after dropping a
 * "provider/" prefix); case-insensitive. NULL if none. */
const struct wk_price *wk_pricing_find(const struct wk_pricing *p, const char *model);
/* Cost in nano-US-dollars of tokens_in (of which `cached` were cached
 * input) and tokens_out at price pr. */
uint64_t wk_cost_nusd(const struct wk_price *pr, uint64_t tokens_in, uint64_t cached,
                      uint64_t tokens_out);

/* ---- admin access (fcgi/admin.c; pure) ----------------------------------- */

/* True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z (REMOTE_ADDR text). */
bool wk_addr_is_loopback(const char *addr);
/* given equals secret (non-empty); the time taken depends only on the
 * secret's length. given may be NULL (false). */
bool wk_secret_equal(const char *given, const char *secret);
/* The password of "Basic base64(user:password)" into out (cap bytes with
 * the NUL). False if the header is not that. */
bool wk_basic_password(const char *header, char *out, size_t cap);

/* ---- the shared file (fcgi/metrics_shm.c) ---------------------------------- */

/* Attach this process to the shared metrics file at path (created, or
 * recreated if it is not a current one: a new file is renamed over the old,
 * so processes still using the old one never fault). NULL path or failure:
 * numbers are kept in this process only (the reason goes to errmsg) and
 * CCP_ERR_INTERNAL is returned; recording still works. Call once at start,
 * before threads. */
CCP_NODISCARD enum ccp_err wk_metrics_attach(const char *path, char *errmsg, size_t errlen);
/* Give up this process's gauge slot and unmap. */
void wk_metrics_detach(void);

/* Add to a counter. Can't fail; safe from any thread and process. */
void wk_metrics_add(enum wk_ctr c, uint64_t n);
/* Record a latency in ms into a histogram. */
void wk_metrics_observe(enum wk_hist_id h, double ms);
/* Add per-model (by name) and per-tenant (by hash; NULL: not counted)
 * values, and a request's values to the current minute. */
void wk_metrics_add_model(const char *model, const uint64_t *v);
void wk_metrics_add_tenant(const char *tenant, const uint64_t *v);
void wk_metrics_add_minute(const uint64_t *v, double total_ms);
/* Change this process's gauges (open upstream connections, requests in
 * flight) by delta. */
void wk_metrics_gauge_conns(int64_t delta);
void wk_metrics_gauge_inflight(int64_t delta);
/* Fill *s from the shared file (every live process). Can't fail. */
void wk_metrics_snapshot(struct wk_msnap *s);

#endif /* CCP_FCGI_METRICS_H */
