/* fcgi/metrics.c: the worker's side of metrics: start-up (pricing, where the
 * shared file lives), and per request the tenant hash, counters, cost and
 * savings, and one JSON line to stderr. */
#include "config.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cache/cache.h"
#include "common/log.h"
#include "fcgi/guard.h"
#include "fcgi/handler_int.h"
#include "fcgi/metrics.h"
#include "fcgi/metrics_int.h"

#include "common/banned.h"

static struct wk_pricing g_pricing;

const struct wk_pricing *wk_metrics_pricing(void)
{
    return &g_pricing;
}

/* Where the shared file goes: METRICS_SHM_PATH, else beside the FastCGI
 * unix socket (lighttpd names them <socket>-0, <socket>-1, ...: the
 * suffix is dropped so all processes of one server agree), else
 * /dev/shm/ccproxy-metrics-<uid>-<port> for a TCP socket, else
 * /dev/shm/ccproxy-metrics-<uid>-cgi. */
static void shm_path_for(const char *conf_path, const struct sockaddr_storage *sa, bool have_sa,
                         char *out, size_t cap)
{
    if (conf_path != NULL && conf_path[0] != '\0') {
        snprintf(out, cap, "%s", conf_path);
        return;
    }
    if (have_sa && sa->ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)(const void *)sa;
        char p[sizeof(un->sun_path) + 1];
        size_t n;

        memcpy(p, un->sun_path, sizeof(un->sun_path));
        p[sizeof(un->sun_path)] = '\0';
        n = strlen(p);
        if (n > 0 && p[0] == '/') {
            size_t d = n;

            while (d > 0 && p[d - 1] >= '0' && p[d - 1] <= '9') {
                d--;
            }
            if (d < n && d > 0 && p[d - 1] == '-') {
                p[d - 1] = '\0';
            }
            snprintf(out, cap, "%s.metrics", p);
            return;
        }
    }
    if (have_sa && (sa->ss_family == AF_INET || sa->ss_family == AF_INET6)) {
        unsigned port = sa->ss_family == AF_INET
                            ? ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port)
                            : ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);

        snprintf(out, cap, "/dev/shm/ccproxy-metrics-%u-%u", (unsigned)getuid(), port);
        return;
    }
    snprintf(out, cap, "/dev/shm/ccproxy-metrics-%u-cgi", (unsigned)getuid());
}

enum ccp_err wk_metrics_init(const struct conf *c, bool cgi)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    bool have_sa = false;
    char path[4096], errmsg[512];

    wk_pricing_defaults(&g_pricing);
    if (c->pricing_file != NULL && c->pricing_file[0] != '\0') {
        if (wk_pricing_load(&g_pricing, c->pricing_file, errmsg, sizeof(errmsg)) != CCP_OK) {
            LOG_ERROR("%s", errmsg);
            return CCP_ERR_INVALID;
        }
        LOG_INFO("pricing: %zu models (built-in and %s)", g_pricing.n, c->pricing_file);
    }
    memset(&sa, 0, sizeof(sa));
    if (!cgi && getsockname(0, (struct sockaddr *)&sa, &len) == 0) {
        have_sa = true;
    }
    shm_path_for(c->metrics_shm_path, &sa, have_sa, path, sizeof(path));
    if (wk_metrics_attach(path, errmsg, sizeof(errmsg)) != CCP_OK) {
        LOG_WARN("metrics: %s; /v1/metrics shows this process only", errmsg);
    } else if (!cgi) {
        LOG_INFO("metrics: shared file %s", path);
    }
    return CCP_OK;
}

void wk_request_start(struct wk_req *r)
{
    size_t n = 0;
    const char *key = wk_auth_presented(r->io->param(r->io, "HTTP_X_API_KEY"),
                                        r->io->param(r->io, "HTTP_AUTHORIZATION"), &n);

    /* one digest of the key the client presented (the one authentication
     * checks) for both the request line and the response cache; clients
     * without a key share the tenant of "" */
    r->tenant[0] = '\0';
    r->have_tenant_key =
        cache_tenant_id(key != NULL ? key : "", key != NULL ? n : 0, &r->tenant_key) == CCP_OK;
    if (key != NULL && r->have_tenant_key) {
        memcpy(r->tenant, r->tenant_key.hex, WK_TENANT_LEN);
        r->tenant[WK_TENANT_LEN] = '\0';
    }
    wk_metrics_gauge_inflight(1);
}

static bool is_admin_path(const char *p)
{
    return strcmp(p, "/v1/metrics") == 0 || strcmp(p, "/metrics") == 0 || strcmp(p, "/status") == 0;
}

/* Cost and what the requested Claude model would have cost, in nano-USD.
 * A request that is not priced on both sides saves nothing. */
static void price(const struct wk_req *r, uint64_t *cost, uint64_t *claude, bool *priced)
{
    const struct wk_price *up, *cl = NULL;
    uint64_t in = r->tokens_in, out = r->tokens_out, cached = r->tokens_cached;

    *cost = 0;
    *claude = 0;
    *priced = false;
    if (!r->have_info || !r->have_tokens) {
        return;
    }
    up = wk_pricing_find(&g_pricing, r->info.upstream_model);
    if (strncmp(r->info.client_model, "claude", 6) == 0) {
        cl = wk_pricing_find(&g_pricing, r->info.client_model);
    }
    if (up == NULL && r->cache != WK_CACHE_HIT) {
        return;
    }
    *priced = true;
    *cost = r->cache == WK_CACHE_HIT ? 0 : wk_cost_nusd(up, in, cached, out);
    *claude = cl != NULL ? wk_cost_nusd(cl, in, cached, out) : *cost;
}

/* getpid() is a system call each time; a thread asks once */
static _Thread_local long log_pid;

static void log_line(const struct wk_req *r, long total_ms, uint64_t cost, uint64_t claude)
{
    char ts[96], ttfb[24] = "null"; /* null: nothing was sent (the client left first) */
    struct timespec now;
    struct tm tm;
    struct buf b;
    enum ccp_err rc;

    if (log_get_level() < LOG_LEVEL_INFO) {
        return;
    }
    if (log_pid == 0) {
        log_pid = (long)getpid();
    }
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000L);
    if (r->ttfb_ms >= 0) {
        snprintf(ttfb, sizeof(ttfb), "%ld", r->ttfb_ms);
    }
    buf_init(&b, 8192);
    rc = buf_appendf(&b,
                     "{\"ts\":\"%s\",\"level\":\"info\",\"msg\":\"request\",\"pid\":%ld,"
                     "\"request_id\":",
                     ts, log_pid);
    if (rc == CCP_OK) {
        rc = buf_append_json_string(&b, r->id, strlen(r->id));
    }
    if (rc == CCP_OK) {
        rc = buf_append_cstr(&b, ",\"method\":");
    }
    if (rc == CCP_OK) {
        rc = buf_append_json_string(&b, r->method, strlen(r->method));
    }
    if (rc == CCP_OK) {
        rc = buf_append_cstr(&b, ",\"path\":");
    }
    if (rc == CCP_OK) {
        rc = buf_append_json_string(&b, r->path, strlen(r->path));
    }
    if (rc == CCP_OK) {
        rc = buf_appendf(&b, ",\"tenant\":%s%s%s,\"model\":", r->tenant[0] != '\0' ? "\"" : "",
                         r->tenant[0] != '\0' ? r->tenant : "null",
                         r->tenant[0] != '\0' ? "\"" : "");
    }
    if (rc == CCP_OK) {
        rc = r->have_info
                 ? buf_append_json_string(&b, r->info.client_model, strlen(r->info.client_model))
                 : buf_append_cstr(&b, "null");
    }
    if (rc == CCP_OK) {
        rc = buf_append_cstr(&b, ",\"upstream_model\":");
    }
    if (rc == CCP_OK) {
        rc = r->have_info ? buf_append_json_string(&b, r->info.upstream_model,
                                                   strlen(r->info.upstream_model))
                          : buf_append_cstr(&b, "null");
    }
    if (rc == CCP_OK) {
        rc = buf_appendf(&b,
                         ",\"stream\":%s,\"status\":%d,\"cache\":\"%s\",\"attempts\":%u,"
                         "\"tokens_in\":%lu,"
                         "\"tokens_out\":%lu,\"tokens_cached\":%lu,\"upstream_ms\":%ld,"
                         "\"total_ms\":%ld,\"ttfb_ms\":%s,\"bytes_in\":%zu,\"bytes_out\":%zu,"
                         "\"cost_usd\":%.9f,\"savings_usd\":%.9f,\"client_gone\":%s}",
                         r->have_info && r->info.stream ? "true" : "false", r->status,
                         wk_cache_state_name(r->cache), r->attempts,
                         r->have_tokens ? r->tokens_in : 0, r->have_tokens ? r->tokens_out : 0,
                         r->have_tokens ? r->tokens_cached : 0, r->upstream_ms, total_ms, ttfb,
                         r->body.len, r->bytes_out, (double)cost / 1e9,
                         ((double)claude - (double)cost) / 1e9, r->client_gone ? "true" : "false");
    }
    if (rc == CCP_OK) {
        log_line_raw(LOG_LEVEL_INFO, b.ptr, b.len);
    } else {
        LOG_WARN("could not format the request line (%s)", ccp_strerror(rc));
    }
    buf_release(&b);
}

void wk_request_done(struct wk_req *r)
{
    long total_ms = wk_ms_since(&r->t0);
    uint64_t cost, claude, v[WK_V__COUNT], m[WK_M__COUNT];
    bool priced, messages = strcmp(r->path, "/v1/messages") == 0;
    bool error = r->status >= 500 || r->status == 429;

    wk_metrics_gauge_inflight(-1);
    price(r, &cost, &claude, &priced);
    log_line(r, total_ms, cost, claude);
    if (is_admin_path(r->path)) {
        return; /* scrapes and the status page do not count as traffic */
    }
    wk_metrics_add(WK_C_REQUESTS, 1);
    if (r->status >= 200 && r->status < 300) {
        wk_metrics_add(WK_C_REQ_2XX, 1);
    } else if (r->status >= 400 && r->status < 500) {
        wk_metrics_add(WK_C_REQ_4XX, 1);
    } else if (r->status >= 500) {
        wk_metrics_add(WK_C_REQ_5XX, 1);
    }
    wk_metrics_add(WK_C_ERRORS, error ? 1 : 0);
    wk_metrics_add(WK_C_CLIENT_GONE, r->client_gone ? 1 : 0);
    wk_metrics_add(WK_C_BYTES_IN, r->body.len);
    wk_metrics_add(WK_C_BYTES_OUT, r->bytes_out);
    if (strcmp(r->path, "/v1/messages/count_tokens") == 0) {
        wk_metrics_add(WK_C_COUNT_TOKENS, 1);
    }
    if (!messages) {
        return;
    }
    wk_metrics_add(WK_C_MESSAGES, 1);
    wk_metrics_add(WK_C_STREAMS, r->have_info && r->info.stream ? 1 : 0);
    wk_metrics_observe(WK_H_TOTAL, (double)total_ms);
    switch (r->cache) {
    case WK_CACHE_HIT:
        wk_metrics_add(WK_C_RC_HIT, 1);
        break;
    case WK_CACHE_MISS:
        wk_metrics_add(WK_C_RC_MISS, 1);
        break;
    case WK_CACHE_BYPASS:
        wk_metrics_add(WK_C_RC_BYPASS, 1);
        break;
    case WK_CACHE_OFF:
    case WK_CACHE_COALESCED:
        break;
    }
    memset(v, 0, sizeof(v));
    if (r->have_tokens) {
        v[WK_V_TOKENS_IN] = r->tokens_in;
        v[WK_V_TOKENS_OUT] = r->tokens_out;
        v[WK_V_TOKENS_CACHED] = r->tokens_cached;
        wk_metrics_add(WK_C_TOKENS_IN, r->tokens_in);
        wk_metrics_add(WK_C_TOKENS_OUT, r->tokens_out);
        wk_metrics_add(WK_C_TOKENS_CACHED, r->tokens_cached);
    }
    v[WK_V_REQUESTS] = 1;
    v[WK_V_COST_NUSD] = cost;
    v[WK_V_CLAUDE_NUSD] = claude;
    if (priced) {
        wk_metrics_add(WK_C_PRICED, 1);
        wk_metrics_add(WK_C_COST_NUSD, cost);
        wk_metrics_add(WK_C_CLAUDE_NUSD, claude);
    }
    if (r->have_info) {
        wk_metrics_add_model(r->info.upstream_model, v);
    }
    wk_metrics_add_tenant(r->tenant, v);
    memset(m, 0, sizeof(m));
    m[WK_M_REQUESTS] = 1;
    m[WK_M_ERRORS] = error ? 1 : 0;
    m[WK_M_TOKENS_IN] = v[WK_V_TOKENS_IN];
    m[WK_M_TOKENS_OUT] = v[WK_V_TOKENS_OUT];
    m[WK_M_COST_NUSD] = cost;
    m[WK_M_CLAUDE_NUSD] = claude;
    m[WK_M_RC_HIT] = r->cache == WK_CACHE_HIT ? 1 : 0;
    m[WK_M_RC_MISS] = r->cache == WK_CACHE_MISS ? 1 : 0;
    wk_metrics_add_minute(m, (double)total_ms);
}
