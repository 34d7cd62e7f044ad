/* Unit tests of the worker's metrics parts: pricing (parse, lookup, cost),
 * histogram quantiles, JSON and Prometheus rendering, admin checks, and the
 * shared file (sharing, recreation of a stale file). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/buf.h"
#include "fcgi/metrics.h"

/* ---- pricing ---- */

static void test_pricing_defaults_and_prefix(void **state)
{
    struct wk_pricing p;
    const struct wk_price *pr;

    (void)state;
    wk_pricing_defaults(&p);
    pr = wk_pricing_find(&p, "gpt-5-2025-08-07");
    assert_non_null(pr);
    assert_string_equal(pr->model, "gpt-5");
    assert_true(pr->input == 1.25 && pr->output == 10.0);
    pr = wk_pricing_find(&p, "gpt-5-mini-2025-08-07"); /* longest prefix wins */
    assert_string_equal(pr->model, "gpt-5-mini");
    assert_string_equal(wk_pricing_find(&p, "openai/gpt-4o-mini")->model, "gpt-4o-mini");
    assert_string_equal(wk_pricing_find(&p, "claude-opus-4-1-20250805")->model, "claude-opus-4-1");
    assert_true(wk_pricing_find(&p, "claude-opus-4-1-20250805")->output == 75.0);
    assert_string_equal(wk_pricing_find(&p, "claude-sonnet-4-5-20250929")->model,
                        "claude-sonnet-4-5");
    assert_string_equal(wk_pricing_find(&p, "claude-3-5-haiku-20241022")->model,
                        "claude-3-5-haiku");
    assert_string_equal(wk_pricing_find(&p, "O3")->model, "o3");
    assert_null(wk_pricing_find(&p, "gpt-50")); /* not at a name boundary */
    assert_null(wk_pricing_find(&p, "llama-3"));
    assert_null(wk_pricing_find(&p, ""));
}

static void test_pricing_parse_overrides(void **state)
{
    static const char doc[] =
        "{\"gpt-5\": {\"input\": 1, \"output\": 2},"
        " \"my-model\": {\"input\": 0.5, \"output\": 4, \"cached_input\": 0.1}}";
    struct wk_pricing p;
    char err[256];
    size_t n0;

    (void)state;
    wk_pricing_defaults(&p);
    n0 = p.n;
    assert_int_equal(wk_pricing_parse(&p, doc, strlen(doc), err, sizeof(err)), CCP_OK);
    assert_int_equal(p.n, n0 + 1);
    assert_true(wk_pricing_find(&p, "gpt-5")->input == 1.0);
    assert_true(wk_pricing_find(&p, "gpt-5")->cached_input == 1.0); /* defaults to input */
    assert_true(wk_pricing_find(&p, "my-model-v2")->cached_input == 0.1);
}

static void test_pricing_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "[]",
        "{\"m\": 1}",
        "{\"m\": {\"input\": 1}}",
        "{\"m\": {\"input\": -1, \"output\": 1}}",
        "{\"m\": {\"input\": \"1\", \"output\": 1}}",
        "{\"m\": {\"input\": 1, \"output\": 1, \"cached_input\": null}}",
        "{\"m\": {\"input\": 1, \"output\": 1}} x",
        "{\"\": {\"input\": 1, \"output\": 1}}",
        "{\"m\": {\"input\": 1e9, \"output\": 1}}",
        "not json",
    };
    struct wk_pricing p, before;
    char err[256];
    size_t i;

    (void)state;
    wk_pricing_defaults(&p);
    before = p;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(wk_pricing_parse(&p, bad[i], strlen(bad[i]), err, sizeof(err)),
                         CCP_ERR_INVALID);
        assert_true(strncmp(err, "pricing: ", 9) == 0);
        assert_memory_equal(&p, &before, sizeof(p)); /* unchanged on failure */
    }
}

static void test_cost(void **state)
{
    struct wk_price gpt5 = {"gpt-5", 1.25, 10.0, 0.125};

    (void)state;
    /* 1M input, none cached: $1.25 = 1.25e9 nano-USD */
    assert_int_equal(wk_cost_nusd(&gpt5, 1000000, 0, 0), 1250000000ULL);
    /* 1000 in (200 cached) + 500 out: 800*1.25 + 200*0.125 + 500*10 = 6025 milli-micro */
    assert_int_equal(wk_cost_nusd(&gpt5, 1000, 200, 500), 6025000ULL);
    assert_int_equal(wk_cost_nusd(&gpt5, 10, 50, 0), 1250ULL); /* cached capped at input */
    assert_int_equal(wk_cost_nusd(NULL, 10, 0, 10), 0);
}

/* ---- histograms ---- */

static void test_hist_buckets_and_quantiles(void **state)
{
    uint64_t c[WK_HIST_BUCKETS];

    (void)state;
    assert_int_equal(wk_hist_bucket(0), 0);
    assert_int_equal(wk_hist_bucket(10), 0);
    assert_int_equal(wk_hist_bucket(10.5), 1);
    assert_int_equal(wk_hist_bucket(1e9), WK_HIST_BUCKETS - 1);
    memset(c, 0, sizeof(c));
    assert_true(wk_hist_quantile(c, 0.5) < 0); /* empty */
    c[wk_hist_bucket(75)] = 10;                /* 10 values in (50, 100] */
    assert_true(wk_hist_quantile(c, 0.5) == 75.0);
    assert_true(wk_hist_quantile(c, 1.0) == 100.0);
    assert_true(wk_hist_quantile(c, 0.1) == 55.0);
    c[wk_hist_bucket(400)] = 10; /* and 10 in (250, 500] */
    assert_true(wk_hist_quantile(c, 0.5) == 100.0);
    assert_true(wk_hist_quantile(c, 0.75) == 375.0);
    memset(c, 0, sizeof(c));
    c[WK_HIST_BUCKETS - 1] = 3; /* +Inf reports the largest finite bound */
    assert_true(wk_hist_quantile(c, 0.99) == wk_hist_bounds_ms[WK_HIST_BUCKETS - 2]);
}

/* ---- rendering ---- */

static struct wk_msnap *sample_snapshot(void)
{
    struct wk_msnap *s = calloc(1, sizeof(*s));
    size_t i;

    assert_non_null(s);
    s->c[WK_C_REQUESTS] = 7;
    s->c[WK_C_REQ_2XX] = 6;
    s->c[WK_C_REQ_5XX] = 1;
    s->c[WK_C_ERRORS] = 1;
    s->c[WK_C_RC_HIT] = 1;
    s->c[WK_C_RC_MISS] = 3;
    s->c[WK_C_COST_NUSD] = 1500000000ULL;   /* $1.50 */
    s->c[WK_C_CLAUDE_NUSD] = 4000000000ULL; /* $4.00 */
    s->h[WK_H_TOTAL].count[wk_hist_bucket(30)] = 2;
    s->h[WK_H_TOTAL].count[wk_hist_bucket(700)] = 5;
    s->h[WK_H_TOTAL].sum_ms = 3560;
    memcpy(s->models[0].name, "we\"ird\\model\n", 14);
    s->models[0].v[WK_V_REQUESTS] = 7;
    s->n_models = 1;
    memcpy(s->tenant_other.name, "other", 6);
    s->processes = 2;
    s->pids[0] = 10;
    s->pids[1] = 11;
    for (i = 0; i < WK_MINUTES; i++) {
        s->minutes[i].minute = 1000 + i;
    }
    s->minutes[WK_MINUTES - 1].v[WK_M_REQUESTS] = 7;
    return s;
}

static void test_json_document(void **state)
{
    struct wk_msnap *s = sample_snapshot();
    struct json_object *root, *o, *v;
    struct buf b;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(wk_metrics_json(s, &b), CCP_OK);
    root = json_tokener_parse(b.ptr);
    assert_non_null(root);
    assert_true(json_object_object_get_ex(root, "performance", &o));
    assert_true(json_object_object_get_ex(o, "requests_total", &v));
    assert_int_equal(json_object_get_int64(v), 7);
    assert_true(json_object_object_get_ex(o, "latency_ms", &o));
    assert_true(json_object_object_get_ex(o, "p50", &v));
    assert_true(json_object_get_double(v) > 500 && json_object_get_double(v) <= 1000);
    assert_true(json_object_object_get_ex(root, "response_cache", &o));
    assert_true(json_object_object_get_ex(o, "hit_rate", &v));
    assert_true(json_object_get_double(v) == 0.25);
    assert_true(json_object_object_get_ex(root, "cost", &o));
    assert_true(json_object_object_get_ex(o, "savings_usd", &v));
    assert_true(json_object_get_double(v) == 2.5);
    assert_true(json_object_object_get_ex(o, "by_model", &v));
    assert_string_equal(
        json_object_get_string(json_object_object_get(json_object_array_get_idx(v, 0), "model")),
        "we\"ird\\model\n");
    assert_true(json_object_object_get_ex(root, "series", &o));
    assert_true(json_object_object_get_ex(o, "requests", &v));
    assert_int_equal(json_object_array_length(v), WK_MINUTES);
    assert_true(json_object_object_get_ex(root, "token_count_cache", &o));
    assert_true(json_object_object_get_ex(o, "hit_rate", &v));
    assert_null(v); /* no lookups: null, not 0 */
    json_object_put(root);
    buf_release(&b);
    free(s);
}

static void test_prometheus_text(void **state)
{
    struct wk_msnap *s = sample_snapshot();
    struct buf b;
    const char *p;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(wk_metrics_prometheus(s, &b), CCP_OK);
    assert_non_null(strstr(b.ptr, "# HELP ccproxy_requests_total "));
    assert_non_null(
        strstr(b.ptr, "# TYPE ccproxy_requests_total counter\nccproxy_requests_total 7\n"));
    assert_non_null(strstr(b.ptr, "# TYPE ccproxy_request_duration_seconds histogram\n"));
    /* cumulative buckets in seconds: 2 at or below 0.05 s, all 7 at 1 s */
    assert_non_null(strstr(b.ptr, "ccproxy_request_duration_seconds_bucket{le=\"0.05\"} 2\n"));
    assert_non_null(strstr(b.ptr, "ccproxy_request_duration_seconds_bucket{le=\"0.5\"} 2\n"));
    assert_non_null(strstr(b.ptr, "ccproxy_request_duration_seconds_bucket{le=\"1\"} 7\n"));
    assert_non_null(strstr(b.ptr, "ccproxy_request_duration_seconds_bucket{le=\"+Inf\"} 7\n"));
    assert_non_null(strstr(b.ptr, "ccproxy_request_duration_seconds_sum 3.560\n"));
    assert_non_null(strstr(b.ptr, "ccproxy_request_duration_seconds_count 7\n"));
    assert_non_null(strstr(b.ptr, "ccproxy_savings_usd 2.500000000\n"));
    /* label values escaped */
    assert_non_null(
        strstr(b.ptr, "ccproxy_model_requests_total{model=\"we\\\"ird\\\\model\\n\"} 7\n"));
    assert_non_null(strstr(b.ptr, "ccproxy_tenant_requests_total{tenant=\"other\"} 0\n"));
    /* every line is a comment or "name[{labels}] value" */
    for (p = b.ptr; *p != '\0'; p = strchr(p, '\n') + 1) {
        assert_true(*p == '#' || (*p >= 'a' && *p <= 'z'));
    }
    assert_true(b.ptr[b.len - 1] == '\n');
    buf_release(&b);
    free(s);
}

/* The sections filled by the caches and the fan-out come from their own
 * counters (distinct values, so a swapped pair shows). */
static void test_sections_render_their_counters(void **state)
{
    static const struct {
        const char *section, *field;
        enum wk_ctr c;
        const char *prom;
    } want[] = {
        {"coordinator", "leaders", WK_C_CO_LEADERS,
         "ccproxy_coordinator_events_total{event=\"leader\"} 11\n"},
        {"coordinator", "followers", WK_C_CO_FOLLOWERS,
         "ccproxy_coordinator_events_total{event=\"follower\"} 12\n"},
        {"coordinator", "drops", WK_C_CO_DROPS,
         "ccproxy_coordinator_events_total{event=\"drop\"} 13\n"},
        {"coordinator", "fail_opens", WK_C_CO_FAILOPEN,
         "ccproxy_coordinator_events_total{event=\"fail_open\"} 14\n"},
        {"response_cache", "stores", WK_C_RC_STORE, NULL},
        {"response_cache", "errors", WK_C_RC_ERROR, NULL},
        {"token_count_cache", "hits", WK_C_TC_HIT, NULL},
        {"token_count_cache", "misses", WK_C_TC_MISS, NULL},
    };
    struct wk_msnap *s = calloc(1, sizeof(*s));
    struct json_object *root, *o, *v;
    struct buf b;
    size_t i;

    (void)state;
    assert_non_null(s);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        s->c[want[i].c] = 11 + i;
    }
    buf_init(&b, 1 << 20);
    assert_int_equal(wk_metrics_json(s, &b), CCP_OK);
    root = json_tokener_parse(b.ptr);
    assert_non_null(root);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_true(json_object_object_get_ex(root, want[i].section, &o));
        assert_true(json_object_object_get_ex(o, want[i].field, &v));
        assert_int_equal(json_object_get_int64(v), 11 + i);
    }
    assert_true(json_object_object_get_ex(root, "token_count_cache", &o));
    assert_true(json_object_object_get_ex(o, "hit_rate", &v));
    /* rendered rounded */
    assert_true(json_object_get_double(v) > 17.0 / 35 - 1e-3 &&
                json_object_get_double(v) < 17.0 / 35 + 1e-3);
    json_object_put(root);
    buf_reset(&b);
    assert_int_equal(wk_metrics_prometheus(s, &b), CCP_OK);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (want[i].prom != NULL) {
            assert_non_null(strstr(b.ptr, want[i].prom));
        }
    }
    buf_release(&b);
    free(s);
}

static void test_render_too_small(void **state)
{
    struct wk_msnap *s = sample_snapshot();
    struct buf b;

    (void)state;
    buf_init(&b, 100);
    assert_int_equal(wk_metrics_prometheus(s, &b), CCP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    assert_int_equal(wk_metrics_json(s, &b), CCP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    buf_release(&b);
    free(s);
}

/* ---- admin checks ---- */

static void test_admin_checks(void **state)
{
    char pass[64];

    (void)state;
    assert_true(wk_addr_is_loopback("127.0.0.1"));
    assert_true(wk_addr_is_loopback("127.8.9.1"));
    assert_true(wk_addr_is_loopback("::1"));
    assert_true(wk_addr_is_loopback("::ffff:127.0.0.1"));
    assert_false(wk_addr_is_loopback("10.0.0.1"));
    assert_false(wk_addr_is_loopback("::ffff:10.0.0.1"));
    assert_false(wk_addr_is_loopback("1127.0.0.1"));
    assert_false(wk_addr_is_loopback(NULL));
    assert_true(wk_secret_equal("s3cret", "s3cret"));
    assert_false(wk_secret_equal("s3cre", "s3cret"));
    assert_false(wk_secret_equal("s3crett", "s3cret"));
    assert_false(wk_secret_equal("", ""));
    assert_false(wk_secret_equal(NULL, "x"));
    assert_true(wk_basic_password("Basic dXNlcjphZG0tc2VjcmV0LTc=", pass, sizeof(pass)));
    assert_string_equal(pass, "adm-secret-7");
    assert_true(wk_basic_password("basic OnA=", pass, sizeof(pass))); /* ":p" */
    assert_string_equal(pass, "p");
    assert_false(wk_basic_password("Basic dXNlcg==", pass, sizeof(pass))); /* no colon */
    assert_false(wk_basic_password("Bearer abc", pass, sizeof(pass)));
    assert_false(wk_basic_password("Basic ***", pass, sizeof(pass)));
}

/* ---- the shared file ---- */

static void test_shm_shared_and_recreated(void **state)
{
    char dir[] = "/tmp/ccp-test-metrics-XXXXXX";
    char path[128], err[256];
    struct wk_msnap *s = calloc(1, sizeof(*s));
    uint64_t v[WK_V__COUNT] = {1, 100, 50, 0, 7, 9};
    struct stat st1, st2;
    FILE *f;

    (void)state;
    assert_non_null(s);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/m.metrics", dir);
    /* a stale file of another layout: replaced by a new file */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("CCPMETR\nold layout", f);
    fclose(f);
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(wk_metrics_attach(path, err, sizeof(err)), CCP_OK);
    assert_int_equal(stat(path, &st2), 0);
    assert_true(st2.st_size > st1.st_size);
    wk_metrics_add(WK_C_REQUESTS, 3);
    wk_metrics_observe(WK_H_TOTAL, 42);
    wk_metrics_add_model("gpt-5", v);
    wk_metrics_add_model("gpt-5", v);
    wk_metrics_add_tenant("abcd", v);
    wk_metrics_snapshot(s);
    assert_true(s->shared);
    assert_int_equal(s->c[WK_C_REQUESTS], 3);
    assert_int_equal(s->h[WK_H_TOTAL].count[wk_hist_bucket(42)], 1);
    assert_int_equal(s->n_models, 1);
    assert_int_equal(s->models[0].v[WK_V_TOKENS_IN], 200);
    assert_int_equal(s->n_tenants, 1);
    assert_int_equal(s->processes, 1);
    assert_int_equal(s->pids[0], (long)getpid());
    wk_metrics_detach();

    /* attach again (a restarted worker): the counters are still there */
    assert_int_equal(wk_metrics_attach(path, err, sizeof(err)), CCP_OK);
    wk_metrics_add(WK_C_REQUESTS, 1);
    wk_metrics_snapshot(s);
    assert_int_equal(s->c[WK_C_REQUESTS], 4);
    wk_metrics_detach();

    /* a bad path: numbers stay in this process, recording still works */
    snprintf(path, sizeof(path), "%s/no/such/dir/m", dir);
    assert_int_equal(wk_metrics_attach(path, err, sizeof(err)), CCP_ERR_INTERNAL);
    assert_non_null(strstr(err, "cannot open"));
    wk_metrics_add(WK_C_REQUESTS, 2);
    wk_metrics_snapshot(s);
    assert_false(s->shared);
    assert_int_equal(s->c[WK_C_REQUESTS], 2);
    wk_metrics_detach();

    snprintf(path, sizeof(path), "%s/m.metrics", dir);
    unlink(path);
    rmdir(dir);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pricing_defaults_and_prefix),
        cmocka_unit_test(test_pricing_parse_overrides),
        cmocka_unit_test(test_pricing_parse_rejects),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_hist_buckets_and_quantiles),
        cmocka_unit_test(test_json_document),
        cmocka_unit_test(test_prometheus_text),
        cmocka_unit_test(test_sections_render_their_counters),
        cmocka_unit_test(test_render_too_small),
        cmocka_unit_test(test_admin_checks),
        cmocka_unit_test(test_shm_shared_and_recreated),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
