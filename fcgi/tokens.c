/* fcgi/tokens.c: count_tokens in the worker: rank tables mapped once per
 * process, exact counts with a per-string cache (LRU, then memcached), the
 * optional upstream counting endpoint, the estimate as the last resort. */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cache/cache.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/vocab.h"
#include "fcgi/handler_int.h"
#include "fcgi/metrics.h"
#include "fcgi/tokens.h"
#include "fcgi/upstream.h"
#include "translate/bpe.h"
#include "translate/translate.h"

#include "common/banned.h"

/* The LRU's byte bound per entry: node, 64-byte key, a short decimal value. */
#define LRU_BYTES_PER_ENTRY 256
/* Largest answer read from COUNT_TOKENS_UPSTREAM_URL. */
#define UPSTREAM_ANSWER_MAX (64 * 1024)
/* Time allowed for the upstream counting call before counting locally. */
#define UPSTREAM_COUNT_TIMEOUT_MS 10000L

struct wk_tokens {
    const struct conf *conf;
    pthread_mutex_t load_lock;
    bool load_tried;
    _Atomic bool loaded; /* enc[] final (set after load_tried under the lock) */
    struct vocab_map maps[2];
    struct tr_bpe *enc[2];
    int encoding; /* -1: by model */
    bool cache_on;
    struct cache_lru *lru;     /* NULL: none */
    struct cache_store *store; /* NULL: none */
    bool own_store;            /* made here: no response cache had one */
    _Atomic uint64_t exact, estimates, upstream, hits, misses;
};

/* One request's view of the count cache. */
struct count_ctx {
    struct wk_tokens *t;
    unsigned hits, misses;
    /* the key of the last miss, reused by put() for the same string */
    const char *last_s;
    size_t last_n;
    struct cache_key last_key;
    bool have_key;
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- rank tables --------------------------------------------------------- */

/* TOKENIZER_DATA_DIR when set (and only it), else the installed data
 * directory, else the source tree's data/ (an in-tree run). */
static enum ccp_err map_table(const struct conf *c, enum tr_bpe_encoding e, struct vocab_map *m)
{
    const char *set = c->tokenizer_data_dir;
    const char *dirs[] = {CCP_PKGDATADIR, CCP_SRCDATADIR};
    enum ccp_err rc = CCP_DECLINED;

    if (set != NULL && set[0] != '\0') {
        return vocab_map_file(set, tr_bpe_table_name(e), m);
    }
    for (size_t i = 0; i < CCP_ARRAY_LEN(dirs) && rc == CCP_DECLINED; i++) {
        rc = vocab_map_file(dirs[i], tr_bpe_table_name(e), m);
    }
    return rc;
}

/* Map and check both tables, once; a failure is logged once and leaves
 * that encoder NULL (count.c then uses the other one). */
static void load(struct wk_tokens *t)
{
    const char *dir = t->conf->tokenizer_data_dir;
    enum ccp_err rc;

    if (atomic_load(&t->loaded)) {
        return;
    }
    pthread_mutex_lock(&t->load_lock);
    if (!t->load_tried) {
        t->load_tried = true;
        for (int e = 0; e < 2; e++) {
            enum tr_bpe_encoding enc = (enum tr_bpe_encoding)e;

            rc = map_table(t->conf, enc, &t->maps[e]);
            if (rc == CCP_OK) {
                rc = tr_bpe_new(enc, t->maps[e].ptr, t->maps[e].len, &t->enc[e]);
            }
            if (rc != CCP_OK) {
                LOG_ERROR("count_tokens: cannot load %s from %s: %s", tr_bpe_table_name(enc),
                          dir != NULL && dir[0] != '\0' ? dir
                                                        : CCP_PKGDATADIR " or " CCP_SRCDATADIR,
                          rc == CCP_DECLINED ? "not found" : ccp_strerror(rc));
                t->enc[e] = NULL;
                vocab_unmap(&t->maps[e]);
            }
        }
        if (t->enc[0] == NULL && t->enc[1] == NULL) {
            LOG_ERROR("count_tokens: no tokenizer vocabulary; answering estimates (set "
                      "TOKENIZER_DATA_DIR)");
        }
        atomic_store(&t->loaded, true);
    }
    pthread_mutex_unlock(&t->load_lock);
}

/* ---- the count cache ----------------------------------------------------- */

static bool key_for(struct count_ctx *x, const char *encoding, const char *s, size_t n)
{
    if (x->have_key && x->last_s == s && x->last_n == n) {
        return true;
    }
    x->have_key = cache_token_key(encoding, s, n, &x->last_key) == CCP_OK;
    x->last_s = s;
    x->last_n = n;
    return x->have_key;
}

static bool parse_count(const char *p, size_t n, size_t *out)
{
    unsigned long long v = 0;

    if (n == 0 || n > 19) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned long long)(p[i] - '0');
    }
    *out = (size_t)v;
    return true;
}

static bool cache_get(void *ctx, const char *encoding, const char *s, size_t n, size_t *count)
{
    struct count_ctx *x = ctx;
    struct wk_tokens *t = x->t;
    char *val = NULL;
    size_t len = 0;
    struct buf b;
    bool hit = false;
    enum ccp_err e;

    if (!key_for(x, encoding, s, n)) {
        return false;
    }
    if (t->lru != NULL &&
        cache_lru_get(t->lru, x->last_key.hex, CACHE_KEY_HEX_LEN, now_ms(), &val, &len) == CCP_OK) {
        hit = parse_count(val, len, count);
        ccp_free(val);
    }
    if (!hit && t->store != NULL) {
        buf_init(&b, 32);
        if (cache_store_get(t->store, x->last_key.hex, &b) == CCP_OK) {
            hit = parse_count(b.ptr, b.len, count);
            if (hit && t->lru != NULL) {
                e = cache_lru_set(t->lru, x->last_key.hex, CACHE_KEY_HEX_LEN, b.ptr, b.len,
                                  now_ms(), (uint64_t)t->conf->token_counts_ttl_s * 1000u);
                (void)e; /* a failed refill is only a later miss */
            }
        }
        buf_release(&b);
    }
    if (hit) {
        x->hits++;
    } else {
        x->misses++;
    }
    return hit;
}

static void cache_put(void *ctx, const char *encoding, const char *s, size_t n, size_t count)
{
    struct count_ctx *x = ctx;
    struct wk_tokens *t = x->t;
    char val[24];
    int len;
    enum ccp_err e;

    if (!key_for(x, encoding, s, n)) {
        return;
    }
    len = snprintf(val, sizeof(val), "%zu", count);
    if (t->lru != NULL) {
        e = cache_lru_set(t->lru, x->last_key.hex, CACHE_KEY_HEX_LEN, val, (size_t)len, now_ms(),
                          (uint64_t)t->conf->token_counts_ttl_s * 1000u);
        (void)e; /* counted by the LRU */
    }
    if (t->store != NULL) {
        (void)cache_store_set(t->store, x->last_key.hex, val, (size_t)len,
                              (unsigned long)t->conf->token_counts_ttl_s);
    }
}

/* ---- set-up -------------------------------------------------------------- */

static int parse_encoding(const char *s)
{
    enum tr_bpe_encoding e;

    if (s == NULL || strcmp(s, "auto") == 0 || tr_bpe_encoding_parse(s, &e) != CCP_OK) {
        return -1;
    }
    return (int)e;
}

struct wk_tokens *wk_tokens_new(const struct conf *c, struct wk_rcache *rc, bool eager,
                                bool with_lru)
{
    struct wk_tokens *t = ccp_calloc(1, sizeof(*t));
    struct cache_store_opts so;
    char errmsg[256];

    if (t == NULL) {
        return NULL;
    }
    t->conf = c;
    pthread_mutex_init(&t->load_lock, NULL);
    t->encoding = parse_encoding(c->token_count_encoding);
    t->cache_on = c->token_counts_cache_enabled;
    if (t->cache_on && with_lru && c->token_counts_max > 0) {
        t->lru = cache_lru_new((size_t)c->token_counts_max,
                               (size_t)c->token_counts_max * LRU_BYTES_PER_ENTRY);
        if (t->lru == NULL) {
            LOG_WARN("count_tokens: out of memory for the in-process count cache");
        }
    }
    t->store = t->cache_on ? wk_rcache_store(rc) : NULL;
    if (t->cache_on && t->store == NULL && c->memcached_servers != NULL &&
        c->memcached_servers[0] != '\0') {
        /* no response cache (or it has no memcached): the only pool is ours */
        memset(&so, 0, sizeof(so));
        so.servers = c->memcached_servers;
        so.timeout_ms = c->memcached_timeout_ms;
        so.set_noreply = c->memcached_set_noreply;
        so.max_item_bytes = c->response_cache_max_item;
        so.max_handles = c->worker_threads > 0 && c->worker_threads < (long)UINT_MAX
                             ? (unsigned)c->worker_threads
                             : 1;
        if (cache_store_new(&so, &t->store, errmsg, sizeof(errmsg)) != CCP_OK) {
            LOG_ERROR("count_tokens: MEMCACHED_SERVERS not usable (%s)", errmsg);
            t->store = NULL;
        } else {
            t->own_store = true;
        }
    }
    if (eager) {
        load(t);
    }
    return t;
}

void wk_tokens_free(struct wk_tokens *t)
{
    if (t == NULL) {
        return;
    }
    for (int e = 0; e < 2; e++) {
        tr_bpe_free(t->enc[e]);
        vocab_unmap(&t->maps[e]);
    }
    if (t->own_store) {
        cache_store_free(t->store);
    }
    cache_lru_free(t->lru);
    pthread_mutex_destroy(&t->load_lock);
    ccp_free(t);
}

void wk_tokens_get_stats(struct wk_tokens *t, struct wk_tokens_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->exact = atomic_load(&t->exact);
    out->estimates = atomic_load(&t->estimates);
    out->upstream = atomic_load(&t->upstream);
    out->cache_hits = atomic_load(&t->hits);
    out->cache_misses = atomic_load(&t->misses);
}

struct cache_store *wk_tokens_store(struct wk_tokens *t)
{
    return t != NULL ? t->store : NULL;
}

/* ---- counting through the upstream --------------------------------------- */

static bool sink_data(void *ctx, int status, const char *p, size_t n)
{
    struct buf *b = ctx;

    (void)status;
    return buf_append(b, p, n) == CCP_OK;
}

/* The count from a {"input_tokens":N} or {"count":N} answer. */
static bool answer_count(const char *body, size_t n, int depth, unsigned long *out)
{
    struct json_tokener *tok = json_tokener_new_ex(depth > 0 ? depth : 64);
    struct json_object *obj = NULL, *v = NULL;
    bool ok = false;
    int64_t x;

    if (tok == NULL || n > (size_t)INT_MAX) {
        goto out;
    }
    obj = json_tokener_parse_ex(tok, body, (int)n);
    if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success) {
        goto out;
    }
    if (!json_object_object_get_ex(obj, "input_tokens", &v) &&
        !json_object_object_get_ex(obj, "count", &v)) {
        goto out;
    }
    if (!json_object_is_type(v, json_type_int)) {
        goto out;
    }
    x = json_object_get_int64(v);
    if (x < 0) {
        goto out;
    }
    *out = (unsigned long)x;
    ok = true;
out:
    json_object_put(obj);
    if (tok != NULL) {
        json_tokener_free(tok);
    }
    return ok;
}

/* COUNT_TOKENS_UPSTREAM: post the translated request to the counting URL.
 * true with *tokens on a usable 2xx answer; anything else is logged. */
static bool count_upstream(struct wk_req *r, unsigned long *tokens)
{
    struct wk_worker *w = r->w;
    struct wk_upstream_sink sink;
    struct wk_upstream_result res;
    struct tr_reqinfo info;
    struct tr_error err;
    struct buf up, ans;
    bool ok = false;

    memset(&err, 0, sizeof(err));
    buf_init(&up, w->opts.max_out);
    buf_init(&ans, UPSTREAM_ANSWER_MAX);
    if (tr_request(&w->opts, r->body.ptr != NULL ? r->body.ptr : "", r->body.len, &up, &info,
                   &err) != CCP_OK) {
        goto out; /* the local count answers the same error */
    }
    memset(&sink, 0, sizeof(sink)); /* no alive, drain or watch */
    sink.data = sink_data;
    sink.ctx = &ans;
    wk_upstream_post_url(w->up, w->conf->count_tokens_upstream_url, up.ptr, up.len,
                         UPSTREAM_COUNT_TIMEOUT_MS, &sink, &res);
    if (res.err != CCP_OK || res.status < 200 || res.status >= 300) {
        LOG_WARN("count_tokens: COUNT_TOKENS_UPSTREAM_URL failed (%s, status %d); counting "
                 "locally",
                 res.err != CCP_OK ? res.message : "answered", res.status);
        goto out;
    }
    ok = answer_count(ans.ptr != NULL ? ans.ptr : "", ans.len, w->opts.max_json_depth, tokens);
    if (!ok) {
        LOG_WARN("count_tokens: COUNT_TOKENS_UPSTREAM_URL answered no input_tokens or count; "
                 "counting locally");
    }
out:
    buf_release(&ans);
    buf_release(&up);
    return ok;
}

/* ---- the route ------------------------------------------------------------ */

static void answer(struct wk_req *r, unsigned long tokens, const char *extra)
{
    char json[64];
    int n = snprintf(json, sizeof(json), "{\"input_tokens\":%lu}", tokens);

    wk_send_json(r, 200, extra, json, (size_t)n);
}

void wk_route_count_tokens(struct wk_req *r)
{
    struct wk_worker *w = r->w;
    struct wk_tokens *t = w->tok;
    struct tr_count_hooks hooks;
    struct count_ctx x;
    struct tr_error err;
    unsigned long tokens = 0;
    char extra[160];
    enum ccp_err rc;

    memset(&err, 0, sizeof(err));
    if (t != NULL && w->conf->count_tokens_upstream && count_upstream(r, &tokens)) {
        atomic_fetch_add(&t->upstream, 1);
        answer(r, tokens, "x-ccproxy-token-count: upstream\r\n");
        return;
    }
    if (t != NULL) {
        load(t);
    }
    if (t != NULL && w->bpe == NULL && (t->enc[0] != NULL || t->enc[1] != NULL) &&
        tr_bpe_scratch_new(&w->bpe) != CCP_OK) {
        w->bpe = NULL;
    }
    if (t == NULL || w->bpe == NULL) {
        rc = tr_count_tokens_estimate(&w->opts, r->body.ptr != NULL ? r->body.ptr : "", r->body.len,
                                      &tokens, &err);
        if (rc != CCP_OK) {
            wk_send_error(r, &err);
            return;
        }
        if (t != NULL) {
            atomic_fetch_add(&t->estimates, 1);
        }
        answer(r, tokens, "x-ccproxy-token-count: estimate\r\n");
        return;
    }
    memset(&x, 0, sizeof(x));
    x.t = t;
    memset(&hooks, 0, sizeof(hooks));
    hooks.encoding = t->encoding;
    if (t->cache_on && (t->lru != NULL || t->store != NULL)) {
        hooks.get = cache_get;
        hooks.put = cache_put;
        hooks.ctx = &x;
    }
    rc = tr_count_tokens_ex(&w->opts, (const struct tr_bpe *const *)t->enc, w->bpe, &hooks,
                            r->body.ptr != NULL ? r->body.ptr : "", r->body.len, &tokens, &err);
    if (rc != CCP_OK) {
        wk_send_error(r, &err);
        return;
    }
    atomic_fetch_add(&t->exact, 1);
    atomic_fetch_add(&t->hits, x.hits);
    atomic_fetch_add(&t->misses, x.misses);
    wk_metrics_add(WK_C_TC_HIT, x.hits); /* per cached string (block), not per request */
    wk_metrics_add(WK_C_TC_MISS, x.misses);
    if (hooks.get != NULL) {
        snprintf(extra, sizeof(extra),
                 "x-ccproxy-token-count: exact\r\nx-ccproxy-token-cache: hits=%u misses=%u\r\n",
                 x.hits, x.misses);
    } else {
        snprintf(extra, sizeof(extra), "x-ccproxy-token-count: exact\r\n");
    }
    answer(r, tokens, extra);
}
