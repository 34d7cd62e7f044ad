/* fcgi/metrics_render.c: pure functions over a metrics snapshot: histogram
 * buckets and quantiles, the /v1/metrics JSON document and the Prometheus
 * text format (no I/O, no clock; the snapshot carries the time). */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fcgi/metrics.h"

#include "common/banned.h"

const double wk_hist_bounds_ms[WK_HIST_BUCKETS - 1] = {
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000, 600000,
};

size_t wk_hist_bucket(double ms)
{
    size_t i;

    for (i = 0; i < WK_HIST_BUCKETS - 1; i++) {
        if (ms <= wk_hist_bounds_ms[i]) {
            return i;
        }
    }
    return WK_HIST_BUCKETS - 1;
}

double wk_hist_quantile(const uint64_t *count, double q)
{
    uint64_t total = 0, cum = 0;
    double rank;
    size_t i;

    for (i = 0; i < WK_HIST_BUCKETS; i++) {
        total += count[i];
    }
    if (total == 0 || !(q > 0)) {
        return -1;
    }
    if (q > 1) {
        q = 1;
    }
    rank = q * (double)total;
    for (i = 0; i < WK_HIST_BUCKETS; i++) {
        double lo = i == 0 ? 0 : wk_hist_bounds_ms[i - 1];

        if (count[i] > 0 && (double)(cum + count[i]) >= rank) {
            if (i == WK_HIST_BUCKETS - 1) {
                return lo;
            }
            return lo + (wk_hist_bounds_ms[i] - lo) * (rank - (double)cum) / (double)count[i];
        }
        cum += count[i];
    }
    return wk_hist_bounds_ms[WK_HIST_BUCKETS - 2];
}

/* Output with a sticky error: once an append fails, the rest do nothing. */
struct out {
    struct buf *b;
    enum ccp_err rc;
};

static void put(struct out *o, const char *fmt, ...) CCP_PRINTF(2, 3);

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;

    if (o->rc != CCP_OK) {
        return;
    }
    va_start(ap, fmt);
    o->rc = buf_vappendf(o->b, fmt, ap);
    va_end(ap);
}

static void put_jstr(struct out *o, const char *s)
{
    if (o->rc == CCP_OK) {
        o->rc = buf_append_json_string(o->b, s, strlen(s));
    }
}

static double usd(uint64_t nusd)
{
    return (double)nusd / 1e9;
}

/* ---- JSON --------------------------------------------------------------- */

/* A ratio or null. */
static void put_ratio(struct out *o, uint64_t num, uint64_t den)
{
    if (den == 0) {
        put(o, "null");
    } else {
        put(o, "%.6g", (double)num / (double)den);
    }
}

static void put_ms(struct out *o, double v)
{
    if (v < 0) {
        put(o, "null");
    } else {
        put(o, "%.1f", v);
    }
}

static void json_hist(struct out *o, const struct wk_hist *h)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; i < WK_HIST_BUCKETS; i++) {
        n += h->count[i];
    }
    put(o, "{\"count\":%llu,\"sum\":%llu,\"mean\":", (unsigned long long)n,
        (unsigned long long)h->sum_ms);
    put_ms(o, n > 0 ? (double)h->sum_ms / (double)n : -1);
    put(o, ",\"p50\":");
    put_ms(o, wk_hist_quantile(h->count, 0.50));
    put(o, ",\"p90\":");
    put_ms(o, wk_hist_quantile(h->count, 0.90));
    put(o, ",\"p95\":");
    put_ms(o, wk_hist_quantile(h->count, 0.95));
    put(o, ",\"p99\":");
    put_ms(o, wk_hist_quantile(h->count, 0.99));
    put(o, ",\"buckets\":[");
    for (i = 0; i < WK_HIST_BUCKETS; i++) {
        put(o, "%s%llu", i > 0 ? "," : "", (unsigned long long)h->count[i]);
    }
    put(o, "]}");
}

static void json_named(struct out *o, const struct wk_named *n, const char *key)
{
    const uint64_t *v = n->v;

    put(o, "{\"%s\":", key);
    put_jstr(o, n->name);
    put(o,
        ",\"requests\":%llu,\"tokens_in\":%llu,\"tokens_out\":%llu,\"tokens_cached\":%llu,"
        "\"cost_usd\":%.9f,\"claude_equivalent_usd\":%.9f,\"savings_usd\":%.9f}",
        (unsigned long long)v[WK_V_REQUESTS], (unsigned long long)v[WK_V_TOKENS_IN],
        (unsigned long long)v[WK_V_TOKENS_OUT], (unsigned long long)v[WK_V_TOKENS_CACHED],
        usd(v[WK_V_COST_NUSD]), usd(v[WK_V_CLAUDE_NUSD]),
        usd(v[WK_V_CLAUDE_NUSD]) - usd(v[WK_V_COST_NUSD]));
}

static void json_series(struct out *o, const struct wk_msnap *s)
{
    static const struct {
        const char *name;
        enum wk_minute_val v;
        bool money;
    } cols[] = {
        {"requests", WK_M_REQUESTS, false},    {"errors", WK_M_ERRORS, false},
        {"tokens_in", WK_M_TOKENS_IN, false},  {"tokens_out", WK_M_TOKENS_OUT, false},
        {"cost_usd", WK_M_COST_NUSD, true},    {"cache_hits", WK_M_RC_HIT, false},
        {"cache_misses", WK_M_RC_MISS, false},
    };
    size_t c, i;

    put(o, "\"series\":{\"step_s\":60,\"start_unix\":%llu",
        (unsigned long long)(s->minutes[0].minute * 60));
    for (c = 0; c < sizeof(cols) / sizeof(cols[0]); c++) {
        put(o, ",\"%s\":[", cols[c].name);
        for (i = 0; i < WK_MINUTES; i++) {
            uint64_t v = s->minutes[i].v[cols[c].v];

            if (cols[c].money) {
                put(o, "%s%.9f", i > 0 ? "," : "", usd(v));
            } else {
                put(o, "%s%llu", i > 0 ? "," : "", (unsigned long long)v);
            }
        }
        put(o, "]");
    }
    put(o, ",\"savings_usd\":[");
    for (i = 0; i < WK_MINUTES; i++) {
        const uint64_t *v = s->minutes[i].v;

        put(o, "%s%.9f", i > 0 ? "," : "", usd(v[WK_M_CLAUDE_NUSD]) - usd(v[WK_M_COST_NUSD]));
    }
    put(o, "],\"p50_ms\":[");
    for (i = 0; i < WK_MINUTES; i++) {
        put(o, "%s", i > 0 ? "," : "");
        put_ms(o, wk_hist_quantile(s->minutes[i].hist, 0.5));
    }
    put(o, "],\"p95_ms\":[");
    for (i = 0; i < WK_MINUTES; i++) {
        put(o, "%s", i > 0 ? "," : "");
        put_ms(o, wk_hist_quantile(s->minutes[i].hist, 0.95));
    }
    put(o, "]}");
}

enum ccp_err wk_metrics_json(const struct wk_msnap *s, struct buf *out)
{
    struct out o = {out, CCP_OK};
    const uint64_t *c = s->c;
    size_t len0 = out->len, i;

    put(&o, "{\"host\":{\"shared\":%s,\"processes\":%ld,\"pids\":[", s->shared ? "true" : "false",
        s->processes);
    for (i = 0; i < (size_t)s->processes; i++) {
        put(&o, "%s%ld", i > 0 ? "," : "", s->pids[i]);
    }
    put(&o, "],\"since_unix\":%llu,\"now_unix\":%llu},", (unsigned long long)s->created_unix,
        (unsigned long long)s->now_unix);

    put(&o,
        "\"performance\":{\"requests_total\":%llu,\"status\":{\"2xx\":%llu,\"4xx\":%llu,"
        "\"5xx\":%llu},\"errors\":%llu,\"error_rate\":",
        (unsigned long long)c[WK_C_REQUESTS], (unsigned long long)c[WK_C_REQ_2XX],
        (unsigned long long)c[WK_C_REQ_4XX], (unsigned long long)c[WK_C_REQ_5XX],
        (unsigned long long)c[WK_C_ERRORS]);
    put_ratio(&o, c[WK_C_ERRORS], c[WK_C_REQUESTS]);
    put(&o,
        ",\"client_gone\":%llu,\"messages\":%llu,\"streams\":%llu,\"count_tokens\":%llu,"
        "\"in_flight\":%lld,\"bytes_in\":%llu,\"bytes_out\":%llu,\"tokens\":{\"input\":%llu,"
        "\"output\":%llu,\"cached_input\":%llu},\"latency_ms\":",
        (unsigned long long)c[WK_C_CLIENT_GONE], (unsigned long long)c[WK_C_MESSAGES],
        (unsigned long long)c[WK_C_STREAMS], (unsigned long long)c[WK_C_COUNT_TOKENS],
        (long long)s->inflight, (unsigned long long)c[WK_C_BYTES_IN],
        (unsigned long long)c[WK_C_BYTES_OUT], (unsigned long long)c[WK_C_TOKENS_IN],
        (unsigned long long)c[WK_C_TOKENS_OUT], (unsigned long long)c[WK_C_TOKENS_CACHED]);
    json_hist(&o, &s->h[WK_H_TOTAL]);
    put(&o, "},");

    put(&o,
        "\"response_cache\":{\"hits\":%llu,\"misses\":%llu,\"bypass\":%llu,\"stores\":%llu,"
        "\"errors\":%llu,\"hit_rate\":",
        (unsigned long long)c[WK_C_RC_HIT], (unsigned long long)c[WK_C_RC_MISS],
        (unsigned long long)c[WK_C_RC_BYPASS], (unsigned long long)c[WK_C_RC_STORE],
        (unsigned long long)c[WK_C_RC_ERROR]);
    put_ratio(&o, c[WK_C_RC_HIT], c[WK_C_RC_HIT] + c[WK_C_RC_MISS]);
    put(&o,
        "},\"request_validator_cache\":{\"enabled\":false,\"hits\":%llu,\"misses\":%llu,"
        "\"hit_rate\":",
        (unsigned long long)c[WK_C_RV_HIT], (unsigned long long)c[WK_C_RV_MISS]);
    put_ratio(&o, c[WK_C_RV_HIT], c[WK_C_RV_HIT] + c[WK_C_RV_MISS]);
    put(&o, "},\"token_count_cache\":{\"hits\":%llu,\"misses\":%llu,\"hit_rate\":",
        (unsigned long long)c[WK_C_TC_HIT], (unsigned long long)c[WK_C_TC_MISS]);
    put_ratio(&o, c[WK_C_TC_HIT], c[WK_C_TC_HIT] + c[WK_C_TC_MISS]);
    put(&o, "},");

    put(&o,
        "\"upstream\":{\"requests\":%llu,\"status\":{\"2xx\":%llu,\"429\":%llu,"
        "\"4xx_other\":%llu,\"5xx\":%llu},\"transport_errors\":%llu,\"timeouts\":%llu,"
        "\"aborted\":%llu,\"retries\":%llu,\"open_connections\":%lld,"
        "\"connections_opened\":%llu,\"http_version\":{\"1.1\":%llu,\"2\":%llu,\"3\":%llu},"
        "\"latency_ms\":",
        (unsigned long long)c[WK_C_UP_ATTEMPTS], (unsigned long long)c[WK_C_UP_2XX],
        (unsigned long long)c[WK_C_UP_429], (unsigned long long)c[WK_C_UP_4XX],
        (unsigned long long)c[WK_C_UP_5XX], (unsigned long long)c[WK_C_UP_TRANSPORT],
        (unsigned long long)c[WK_C_UP_TIMEOUT], (unsigned long long)c[WK_C_UP_ABORTED],
        (unsigned long long)c[WK_C_UP_RETRIES], (long long)s->open_conns,
        (unsigned long long)c[WK_C_UP_CONN_NEW], (unsigned long long)c[WK_C_UP_HTTP1],
        (unsigned long long)c[WK_C_UP_HTTP2], (unsigned long long)c[WK_C_UP_HTTP3]);
    json_hist(&o, &s->h[WK_H_UPSTREAM]);
    put(&o, ",\"ttfb_ms\":");
    json_hist(&o, &s->h[WK_H_TTFB]);
    put(&o, "},");

    put(&o,
        "\"coordinator\":{\"leaders\":%llu,\"followers\":%llu,\"drops\":%llu,"
        "\"fail_opens\":%llu},",
        (unsigned long long)c[WK_C_CO_LEADERS], (unsigned long long)c[WK_C_CO_FOLLOWERS],
        (unsigned long long)c[WK_C_CO_DROPS], (unsigned long long)c[WK_C_CO_FAILOPEN]);

    put(&o,
        "\"cost\":{\"currency\":\"USD\",\"total_usd\":%.9f,\"claude_equivalent_usd\":%.9f,"
        "\"savings_usd\":%.9f,\"priced_requests\":%llu,\"by_model\":[",
        usd(c[WK_C_COST_NUSD]), usd(c[WK_C_CLAUDE_NUSD]),
        usd(c[WK_C_CLAUDE_NUSD]) - usd(c[WK_C_COST_NUSD]), (unsigned long long)c[WK_C_PRICED]);
    for (i = 0; i < s->n_models; i++) {
        put(&o, "%s", i > 0 ? "," : "");
        json_named(&o, &s->models[i], "model");
    }
    put(&o, "],\"by_tenant\":[");
    for (i = 0; i < s->n_tenants; i++) {
        put(&o, "%s", i > 0 ? "," : "");
        json_named(&o, &s->tenants[i], "tenant");
    }
    put(&o, "],\"tenant_other\":");
    json_named(&o, &s->tenant_other, "tenant");
    put(&o, "},");
    json_series(&o, s);
    put(&o, "}");
    if (o.rc != CCP_OK) {
        out->len = len0;
        if (out->ptr != NULL) {
            out->ptr[len0] = '\0';
        }
    }
    return o.rc;
}

/* ---- Prometheus ----------------------------------------------------------- */

static void family(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \\, \" and \n escaped. */
static void put_label(struct out *o, const char *v)
{
    for (; *v != '\0' && o->rc == CCP_OK; v++) {
        if (*v == '\\') {
            put(o, "\\\\");
        } else if (*v == '"') {
            put(o, "\\\"");
        } else if (*v == '\n') {
            put(o, "\\n");
        } else {
            o->rc = buf_putc(o->b, *v);
        }
    }
}

static void sample_u(struct out *o, const char *name, const char *labels, uint64_t v)
{
    put(o, "%s%s%s%s %llu\n", name, labels[0] != '\0' ? "{" : "", labels,
        labels[0] != '\0' ? "}" : "", (unsigned long long)v);
}

static void counter(struct out *o, const char *name, const char *help, uint64_t v)
{
    family(o, name, "counter", help);
    sample_u(o, name, "", v);
}

static void prom_hist(struct out *o, const char *name, const char *help, const struct wk_hist *h)
{
    uint64_t cum = 0;
    size_t i;

    family(o, name, "histogram", help);
    for (i = 0; i < WK_HIST_BUCKETS; i++) {
        cum += h->count[i];
        if (i < WK_HIST_BUCKETS - 1) {
            put(o, "%s_bucket{le=\"%g\"} %llu\n", name, wk_hist_bounds_ms[i] / 1000.0,
                (unsigned long long)cum);
        } else {
            put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
        }
    }
    put(o, "%s_sum %.3f\n%s_count %llu\n", name, (double)h->sum_ms / 1000.0, name,
        (unsigned long long)cum);
}

static void prom_named(struct out *o, const char *label, const struct wk_named *t, size_t n,
                       const struct wk_named *other, const char *what)
{
    char name[96];
    size_t i, pass;
    static const char *const fams[] = {"requests_total", "tokens_total", "cost_usd_total"};

    for (pass = 0; pass < 3; pass++) {
        snprintf(name, sizeof(name), "ccproxy_%s_%s", what, fams[pass]);
        family(o, name, "counter",
               pass == 0   ? "Requests priced, by label."
               : pass == 1 ? "Tokens by label and kind (cached_input is part of input)."
                           : "Upstream cost in US dollars, by label.");
        for (i = 0; i <= n; i++) {
            const struct wk_named *e = i < n ? &t[i] : other;

            if (e == NULL) {
                continue;
            }
            if (pass == 0) {
                put(o, "%s{%s=\"", name, label);
                put_label(o, e->name);
                put(o, "\"} %llu\n", (unsigned long long)e->v[WK_V_REQUESTS]);
            } else if (pass == 1) {
                static const char *const kinds[] = {"input", "output", "cached_input"};
                static const enum wk_slot_val vals[] = {WK_V_TOKENS_IN, WK_V_TOKENS_OUT,
                                                        WK_V_TOKENS_CACHED};
                size_t k;

                for (k = 0; k < 3; k++) {
                    put(o, "%s{%s=\"", name, label);
                    put_label(o, e->name);
                    put(o, "\",kind=\"%s\"} %llu\n", kinds[k], (unsigned long long)e->v[vals[k]]);
                }
            } else {
                put(o, "%s{%s=\"", name, label);
                put_label(o, e->name);
                put(o, "\"} %.9f\n", usd(e->v[WK_V_COST_NUSD]));
            }
        }
    }
}

enum ccp_err wk_metrics_prometheus(const struct wk_msnap *s, struct buf *out)
{
    struct out o = {out, CCP_OK};
    const uint64_t *c = s->c;
    size_t len0 = out->len;

    counter(&o, "ccproxy_requests_total", "Requests served by the workers of this host.",
            c[WK_C_REQUESTS]);
    family(&o, "ccproxy_responses_total", "counter", "Responses by status class.");
    sample_u(&o, "ccproxy_responses_total", "class=\"2xx\"", c[WK_C_REQ_2XX]);
    sample_u(&o, "ccproxy_responses_total", "class=\"4xx\"", c[WK_C_REQ_4XX]);
    sample_u(&o, "ccproxy_responses_total", "class=\"5xx\"", c[WK_C_REQ_5XX]);
    counter(&o, "ccproxy_request_errors_total", "Responses with status 5xx or 429.",
            c[WK_C_ERRORS]);
    counter(&o, "ccproxy_client_gone_total", "Requests whose client left before the end.",
            c[WK_C_CLIENT_GONE]);
    family(&o, "ccproxy_messages_total", "counter", "POST /v1/messages requests by stream flag.");
    sample_u(&o, "ccproxy_messages_total", "stream=\"true\"", c[WK_C_STREAMS]);
    sample_u(&o, "ccproxy_messages_total", "stream=\"false\"",
             c[WK_C_MESSAGES] >= c[WK_C_STREAMS] ? c[WK_C_MESSAGES] - c[WK_C_STREAMS] : 0);
    counter(&o, "ccproxy_count_tokens_total", "POST /v1/messages/count_tokens requests.",
            c[WK_C_COUNT_TOKENS]);
    family(&o, "ccproxy_bytes_total", "counter", "Body bytes from and to clients.");
    sample_u(&o, "ccproxy_bytes_total", "direction=\"in\"", c[WK_C_BYTES_IN]);
    sample_u(&o, "ccproxy_bytes_total", "direction=\"out\"", c[WK_C_BYTES_OUT]);
    family(&o, "ccproxy_tokens_total", "counter",
           "Tokens by kind (cached_input is part of input).");
    sample_u(&o, "ccproxy_tokens_total", "kind=\"input\"", c[WK_C_TOKENS_IN]);
    sample_u(&o, "ccproxy_tokens_total", "kind=\"output\"", c[WK_C_TOKENS_OUT]);
    sample_u(&o, "ccproxy_tokens_total", "kind=\"cached_input\"", c[WK_C_TOKENS_CACHED]);
    family(&o, "ccproxy_requests_in_flight", "gauge", "Requests being served now.");
    put(&o, "ccproxy_requests_in_flight %lld\n", (long long)s->inflight);
    family(&o, "ccproxy_worker_processes", "gauge", "Live worker processes sharing these metrics.");
    put(&o, "ccproxy_worker_processes %ld\n", s->processes);
    prom_hist(&o, "ccproxy_request_duration_seconds", "Time to serve a request.",
              &s->h[WK_H_TOTAL]);

    family(&o, "ccproxy_cache_requests_total", "counter", "Cache lookups by cache and result.");
    sample_u(&o, "ccproxy_cache_requests_total", "cache=\"response\",result=\"hit\"",
             c[WK_C_RC_HIT]);
    sample_u(&o, "ccproxy_cache_requests_total", "cache=\"response\",result=\"miss\"",
             c[WK_C_RC_MISS]);
    sample_u(&o, "ccproxy_cache_requests_total", "cache=\"response\",result=\"bypass\"",
             c[WK_C_RC_BYPASS]);
    sample_u(&o, "ccproxy_cache_requests_total", "cache=\"request_validator\",result=\"hit\"",
             c[WK_C_RV_HIT]);
    sample_u(&o, "ccproxy_cache_requests_total", "cache=\"request_validator\",result=\"miss\"",
             c[WK_C_RV_MISS]);
    sample_u(&o, "ccproxy_cache_requests_total", "cache=\"token_count\",result=\"hit\"",
             c[WK_C_TC_HIT]);
    sample_u(&o, "ccproxy_cache_requests_total", "cache=\"token_count\",result=\"miss\"",
             c[WK_C_TC_MISS]);
    counter(&o, "ccproxy_response_cache_stores_total", "Responses stored in the cache.",
            c[WK_C_RC_STORE]);
    counter(&o, "ccproxy_response_cache_errors_total", "Cache errors (each served as a miss).",
            c[WK_C_RC_ERROR]);

    counter(&o, "ccproxy_upstream_requests_total", "Upstream calls, retries included.",
            c[WK_C_UP_ATTEMPTS]);
    family(&o, "ccproxy_upstream_responses_total", "counter", "Upstream answers by status.");
    sample_u(&o, "ccproxy_upstream_responses_total", "class=\"2xx\"", c[WK_C_UP_2XX]);
    sample_u(&o, "ccproxy_upstream_responses_total", "class=\"429\"", c[WK_C_UP_429]);
    sample_u(&o, "ccproxy_upstream_responses_total", "class=\"4xx_other\"", c[WK_C_UP_4XX]);
    sample_u(&o, "ccproxy_upstream_responses_total", "class=\"5xx\"", c[WK_C_UP_5XX]);
    family(&o, "ccproxy_upstream_failures_total", "counter", "Upstream calls without an answer.");
    sample_u(&o, "ccproxy_upstream_failures_total", "kind=\"transport\"", c[WK_C_UP_TRANSPORT]);
    sample_u(&o, "ccproxy_upstream_failures_total", "kind=\"timeout\"", c[WK_C_UP_TIMEOUT]);
    sample_u(&o, "ccproxy_upstream_failures_total", "kind=\"aborted\"", c[WK_C_UP_ABORTED]);
    counter(&o, "ccproxy_upstream_retries_total", "Upstream calls repeated after a failure.",
            c[WK_C_UP_RETRIES]);
    family(&o, "ccproxy_upstream_http_version_total", "counter", "Upstream calls by HTTP version.");
    sample_u(&o, "ccproxy_upstream_http_version_total", "version=\"1.1\"", c[WK_C_UP_HTTP1]);
    sample_u(&o, "ccproxy_upstream_http_version_total", "version=\"2\"", c[WK_C_UP_HTTP2]);
    sample_u(&o, "ccproxy_upstream_http_version_total", "version=\"3\"", c[WK_C_UP_HTTP3]);
    counter(&o, "ccproxy_upstream_connections_opened_total", "New upstream connections.",
            c[WK_C_UP_CONN_NEW]);
    family(&o, "ccproxy_upstream_open_connections", "gauge", "Upstream connections open now.");
    put(&o, "ccproxy_upstream_open_connections %lld\n", (long long)s->open_conns);
    prom_hist(&o, "ccproxy_upstream_duration_seconds", "Duration of one upstream call.",
              &s->h[WK_H_UPSTREAM]);
    prom_hist(&o, "ccproxy_upstream_ttfb_seconds", "Time to the first upstream response byte.",
              &s->h[WK_H_TTFB]);

    family(&o, "ccproxy_coordinator_events_total", "counter", "Stream coalescing events.");
    sample_u(&o, "ccproxy_coordinator_events_total", "event=\"leader\"", c[WK_C_CO_LEADERS]);
    sample_u(&o, "ccproxy_coordinator_events_total", "event=\"follower\"", c[WK_C_CO_FOLLOWERS]);
    sample_u(&o, "ccproxy_coordinator_events_total", "event=\"drop\"", c[WK_C_CO_DROPS]);
    sample_u(&o, "ccproxy_coordinator_events_total", "event=\"fail_open\"", c[WK_C_CO_FAILOPEN]);

    family(&o, "ccproxy_cost_usd_total", "counter", "Upstream cost in US dollars.");
    put(&o, "ccproxy_cost_usd_total %.9f\n", usd(c[WK_C_COST_NUSD]));
    family(&o, "ccproxy_claude_equivalent_usd_total", "counter",
           "What the requested Claude models would have cost for the same tokens.");
    put(&o, "ccproxy_claude_equivalent_usd_total %.9f\n", usd(c[WK_C_CLAUDE_NUSD]));
    family(&o, "ccproxy_savings_usd", "gauge", "Claude equivalent minus upstream cost.");
    put(&o, "ccproxy_savings_usd %.9f\n", usd(c[WK_C_CLAUDE_NUSD]) - usd(c[WK_C_COST_NUSD]));
    prom_named(&o, "model", s->models, s->n_models, NULL, "model");
    prom_named(&o, "tenant", s->tenants, s->n_tenants, &s->tenant_other, "tenant");
    if (o.rc != CCP_OK) {
        out->len = len0;
        if (out->ptr != NULL) {
            out->ptr[len0] = '\0';
        }
    }
    return o.rc;
}
