/* fcgi/rcache.c: the worker's response cache: tenant and key from the
 * translated request, an in-process LRU in front of the memcached store,
 * entries in cache/entry.c's format. Every failure is a miss. */
#include "config.h"

#include <limits.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/alloc.h"
#include "common/log.h"
#include "fcgi/metrics.h"
#include "fcgi/rcache.h"

#include "common/banned.h"

struct wk_rcache {
    const struct conf *conf;
    struct cache_store *store; /* NULL: no memcached */
    struct cache_lru *lru;     /* NULL: no in-process LRU */
    _Atomic uint64_t hits, misses, bypasses, stores, skipped_too_large, errors;
};

/* Room for the entry header (magic, version, kind, status, content type). */
#define ENTRY_HEADER_MAX (16 + CACHE_ENTRY_MAX_CTYPE)

const char *wk_cache_state_name(enum wk_cache_state s)
{
    switch (s) {
    case WK_CACHE_MISS:
        return "miss";
    case WK_CACHE_HIT:
        return "hit";
    case WK_CACHE_BYPASS:
        return "bypass";
    case WK_CACHE_COALESCED:
        return "coalesced";
    case WK_CACHE_OFF:
        break;
    }
    return "off";
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct wk_rcache *wk_rcache_new(const struct conf *c, bool with_lru)
{
    struct wk_rcache *rc = NULL;
    struct cache_store_opts so;
    char errmsg[256];
    bool have_servers = c->memcached_servers != NULL && c->memcached_servers[0] != '\0';

    if (!c->response_cache_enabled) {
        return NULL;
    }
    with_lru = with_lru && c->response_cache_lru_max > 0 && c->response_cache_lru_bytes > 0;
    if (!have_servers && !with_lru) {
        return NULL;
    }
    rc = ccp_calloc(1, sizeof(*rc));
    if (rc == NULL) {
        goto fail;
    }
    rc->conf = c;
    if (have_servers) {
        memset(&so, 0, sizeof(so));
        so.servers = c->memcached_servers;
        so.timeout_ms = c->memcached_timeout_ms;
        so.set_noreply = c->memcached_set_noreply;
        so.max_item_bytes = c->response_cache_max_item;
        so.binary_protocol = false;
        so.max_handles = c->worker_threads > 0 && c->worker_threads < (long)UINT_MAX
                             ? (unsigned)c->worker_threads
                             : 1;
        so.retry_s = 0;
        if (cache_store_new(&so, &rc->store, errmsg, sizeof(errmsg)) != CCP_OK) {
            LOG_ERROR("response cache: MEMCACHED_SERVERS not usable (%s); running without "
                      "memcached",
                      errmsg);
            rc->store = NULL;
        }
    }
    if (with_lru) {
        rc->lru = cache_lru_new((size_t)c->response_cache_lru_max, c->response_cache_lru_bytes);
        if (rc->lru == NULL) {
            LOG_ERROR("response cache: out of memory for the in-process cache");
        }
    }
    if (rc->store == NULL && rc->lru == NULL) {
        goto fail;
    }
    return rc;

fail:
    LOG_WARN("response cache disabled");
    wk_rcache_free(rc);
    return NULL;
}

void wk_rcache_free(struct wk_rcache *rc)
{
    if (rc == NULL) {
        return;
    }
    cache_store_free(rc->store);
    cache_lru_free(rc->lru);
    ccp_free(rc);
}

enum ccp_err wk_rcache_key(const char *body, size_t len, const struct cache_key *tenant,
                           bool stream, struct cache_key *out)
{
    return cache_response_key_bytes(body, len, tenant->hex, CACHE_KEY_HEX_LEN, stream, out);
}

static bool entry_usable(const char *p, size_t n)
{
    struct cache_entry e;

    return cache_entry_decode(p, n, &e) == CCP_OK && e.status == 200;
}

enum ccp_err wk_rcache_get(struct wk_rcache *rc, const struct cache_key *key, struct buf *raw)
{
    return wk_rcache_get_ex(rc, key, raw, NULL, NULL);
}

/* The lookup of wk_rcache_get_ex, counting errors but not hits or misses. */
static enum ccp_err lookup(struct wk_rcache *rc, const struct cache_key *key, struct buf *raw,
                           void (*before_shared)(void *arg), void *arg)
{
    char *val = NULL;
    size_t len = 0, old = raw->len;
    enum ccp_err e;

    if (rc->lru != NULL &&
        cache_lru_get(rc->lru, key->hex, CACHE_KEY_HEX_LEN, now_ms(), &val, &len) == CCP_OK) {
        if (entry_usable(val, len) && buf_append(raw, val, len) == CCP_OK) {
            ccp_free(val);
            return CCP_OK;
        }
        ccp_free(val);
        cache_lru_delete(rc->lru, key->hex, CACHE_KEY_HEX_LEN);
    }
    if (rc->store != NULL && before_shared != NULL) {
        before_shared(arg); /* only when memcached is asked */
    }
    if (rc->store != NULL && cache_store_get(rc->store, key->hex, raw) == CCP_OK) {
        if (entry_usable(raw->ptr + old, raw->len - old)) {
            if (rc->lru != NULL) {
                e = cache_lru_set(rc->lru, key->hex, CACHE_KEY_HEX_LEN, raw->ptr + old,
                                  raw->len - old, now_ms(),
                                  (uint64_t)rc->conf->response_cache_ttl_s * 1000u);
                (void)e; /* an entry too large for the LRU is served from memcached */
            }
            return CCP_OK;
        }
        LOG_WARN("response cache: malformed entry %.16s... ignored", key->hex);
        atomic_fetch_add(&rc->errors, 1);
        wk_metrics_add(WK_C_RC_ERROR, 1);
        raw->len = old;
        raw->ptr[old] = '\0';
    }
    return CCP_DECLINED;
}

enum ccp_err wk_rcache_get_ex(struct wk_rcache *rc, const struct cache_key *key, struct buf *raw,
                              void (*before_shared)(void *arg), void *arg)
{
    enum ccp_err e = lookup(rc, key, raw, before_shared, arg);

    atomic_fetch_add(e == CCP_OK ? &rc->hits : &rc->misses, 1);
    return e;
}

enum ccp_err wk_rcache_recheck(struct wk_rcache *rc, const struct cache_key *key, struct buf *raw)
{
    enum ccp_err e = lookup(rc, key, raw, NULL, NULL);

    if (e == CCP_OK) { /* the request's miss turns out a hit */
        atomic_fetch_sub(&rc->misses, 1);
        atomic_fetch_add(&rc->hits, 1);
    }
    return e;
}

void wk_rcache_put(struct wk_rcache *rc, const struct cache_key *key, enum cache_entry_kind kind,
                   const char *ctype, const char *body, size_t n, void (*before_shared)(void *arg),
                   void *arg)
{
    struct cache_entry ent;
    struct buf enc;
    enum ccp_err e;

    buf_init(&enc, rc->conf->response_cache_max_item);
    ent.kind = kind;
    ent.status = 200;
    ent.content_type = str_from_cstr(ctype);
    ent.body.ptr = body;
    ent.body.len = n;
    e = cache_entry_encode(&ent, &enc);
    if (e == CCP_ERR_TOO_LARGE) {
        atomic_fetch_add(&rc->skipped_too_large, 1);
        LOG_DEBUG("response cache: answer of %zu bytes over RESPONSE_CACHE_MAX_ITEM_BYTES, "
                  "not stored",
                  n);
        goto out;
    }
    if (e != CCP_OK) {
        atomic_fetch_add(&rc->errors, 1);
        wk_metrics_add(WK_C_RC_ERROR, 1);
        goto out;
    }
    if (rc->lru != NULL) {
        e = cache_lru_set(rc->lru, key->hex, CACHE_KEY_HEX_LEN, enc.ptr, enc.len, now_ms(),
                          (uint64_t)rc->conf->response_cache_ttl_s * 1000u);
        (void)e; /* counted by the LRU; memcached may still take it */
    }
    if (rc->lru != NULL && before_shared != NULL) {
        before_shared(arg); /* a repeat served by this process finds the LRU's copy */
        before_shared = NULL;
    }
    if (rc->store != NULL &&
        cache_store_set(rc->store, key->hex, enc.ptr, enc.len,
                        (unsigned long)rc->conf->response_cache_ttl_s) != CCP_OK) {
        /* memcached down or refusing: the LRU (if any) still has it */
        atomic_fetch_add(&rc->errors, 1);
        wk_metrics_add(WK_C_RC_ERROR, 1);
    }
    atomic_fetch_add(&rc->stores, 1);
    wk_metrics_add(WK_C_RC_STORE, 1);

out:
    if (before_shared != NULL) { /* no LRU, or nothing stored: still called once */
        before_shared(arg);
    }
    buf_release(&enc);
}

void wk_rcache_note_bypass(struct wk_rcache *rc)
{
    atomic_fetch_add(&rc->bypasses, 1);
}

size_t wk_rcache_max_body(const struct wk_rcache *rc)
{
    size_t max = rc->conf->response_cache_max_item;

    return max > ENTRY_HEADER_MAX ? max - ENTRY_HEADER_MAX : 0;
}

void wk_rcache_get_stats(struct wk_rcache *rc, struct wk_rcache_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->hits = atomic_load(&rc->hits);
    out->misses = atomic_load(&rc->misses);
    out->bypasses = atomic_load(&rc->bypasses);
    out->stores = atomic_load(&rc->stores);
    out->skipped_too_large = atomic_load(&rc->skipped_too_large);
    out->errors = atomic_load(&rc->errors);
}

struct cache_store *wk_rcache_store(struct wk_rcache *rc)
{
    return rc != NULL ? rc->store : NULL;
}
