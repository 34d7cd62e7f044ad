/* The memcached store: pools of libmemcached handles over one configured
 * prototype (consistent hashing, short timeouts), plus a set-only pool when
 * sets go without reply. The only file that includes libmemcached. Every
 * failure is a miss plus a counter. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmemcached/memcached.h>

#include "cache/cache.h"
#include "common/alloc.h"
#include "common/log.h"

#include "common/banned.h"

#define STORE_DEFAULT_PORT 11211
#define STORE_DEFAULT_HANDLES 64
#define STORE_DEFAULT_RETRY_S 2
#define STORE_MAX_TTL_S 2592000UL /* memcached reads larger values as a date */
#define STORE_LOG_INTERVAL_MS 10000

struct store_counters {
    _Atomic uint64_t hits, misses, sets, errors, skipped_too_large, skipped_busy;
};

/* A pool of handles cloned from one configured prototype. */
struct store_pool {
    memcached_st *proto; /* configured, never used for I/O; handles are clones */
    memcached_st **idle; /* handles not in use */
    unsigned nidle, nlive;
    pthread_cond_t freed; /* a handle came back */
    bool cond_init;
};

struct cache_store {
    struct store_pool main;    /* gets, incr, and sets unless set_noreply */
    struct store_pool noreply; /* sets with set_noreply (proto NULL otherwise) */
    pthread_mutex_t mu;        /* guards both pools */
    unsigned max_handles;      /* per pool */
    size_t max_item_bytes;
    long timeout_ms;
    struct store_counters c;
};

/* ---- log rate limiting: one line per 10 s per kind of error, with a count ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t log_last_ms[MEMCACHED_MAXIMUM_RETURN + 1]; /* by return code */
static unsigned long log_suppressed[MEMCACHED_MAXIMUM_RETURN + 1];

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void note_error(struct cache_store *st, memcached_st *mc, const char *op,
                       memcached_return_t rc)
{
    uint64_t now = mono_ms();
    unsigned long suppressed;
    size_t i = (size_t)rc <= MEMCACHED_MAXIMUM_RETURN ? (size_t)rc : MEMCACHED_MAXIMUM_RETURN;

    atomic_fetch_add_explicit(&st->c.errors, 1, memory_order_relaxed);
    pthread_mutex_lock(&log_mu);
    if (log_last_ms[i] != 0 && now - log_last_ms[i] < STORE_LOG_INTERVAL_MS) {
        log_suppressed[i]++;
        pthread_mutex_unlock(&log_mu);
        return;
    }
    suppressed = log_suppressed[i];
    log_suppressed[i] = 0;
    log_last_ms[i] = now != 0 ? now : 1;
    pthread_mutex_unlock(&log_mu);
    LOG_WARN("memcached %s failed, treated as a miss: %s (%lu more like it since the last report)",
             op, mc != NULL ? memcached_last_error_message(mc) : memcached_strerror(NULL, rc),
             suppressed);
}

/* ---- configuration ---- */

static bool parse_port(const char *p, size_t n, unsigned *out)
{
    unsigned v = 0;
    size_t i;

    if (n == 0 || n > 5) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v == 0 || v > 65535) {
        return false;
    }
    *out = v;
    return true;
}

/* Add one "host[:port]", "[v6]:port" or "/unix/socket" item to mc. */
static enum ccp_err add_server(memcached_st *mc, struct str item, char *errmsg, size_t errlen)
{
    const char *p = item.ptr, *end = item.ptr + item.len, *host, *hend, *colon;
    unsigned port = STORE_DEFAULT_PORT;
    memcached_return_t mrc;
    char *h = NULL;
    enum ccp_err rc = CCP_ERR_INVALID;

    if (item.len == 0) {
        goto bad;
    }
    if (p[0] == '/') {
        h = ccp_strndup(p, item.len);
        if (h == NULL) {
            return CCP_ERR_NOMEM;
        }
        mrc = memcached_server_add_unix_socket(mc, h);
        goto added;
    }
    if (p[0] == '[') {
        host = p + 1;
        hend = memchr(host, ']', (size_t)(end - host));
        if (hend == NULL || hend == host) {
            goto bad;
        }
        if (hend + 1 < end &&
            (hend[1] != ':' || !parse_port(hend + 2, (size_t)(end - hend - 2), &port))) {
            goto bad;
        }
    } else {
        host = p;
        colon = memchr(p, ':', item.len);
        hend = colon != NULL ? colon : end;
        if (hend == host || (colon != NULL && memchr(colon + 1, ':', (size_t)(end - colon - 1)))) {
            goto bad;
        }
        if (colon != NULL && !parse_port(colon + 1, (size_t)(end - colon - 1), &port)) {
            goto bad;
        }
    }
    h = ccp_strndup(host, (size_t)(hend - host));
    if (h == NULL) {
        return CCP_ERR_NOMEM;
    }
    mrc = memcached_server_add(mc, h, (in_port_t)port);
added:
    if (memcached_failed(mrc)) {
        snprintf(errmsg, errlen, "MEMCACHED_SERVERS: cannot add '%.*s': %s", (int)item.len,
                 item.ptr, memcached_strerror(mc, mrc));
        rc = CCP_ERR_CACHE;
    } else {
        rc = CCP_OK;
    }
    ccp_free(h);
    return rc;
bad:
    snprintf(errmsg, errlen, "MEMCACHED_SERVERS: bad server '%.*s' (want host:port)",
             (int)(item.len > 200 ? 200 : item.len), item.ptr);
    return rc;
}

static enum ccp_err add_servers(memcached_st *mc, const char *list, char *errmsg, size_t errlen)
{
    const char *p = list, *end = list + strlen(list), *comma;
    enum ccp_err rc = CCP_OK;
    unsigned n = 0;

    while (p < end && rc == CCP_OK) {
        struct str item;
        comma = memchr(p, ',', (size_t)(end - p));
        if (comma == NULL) {
            comma = end;
        }
        item.ptr = p;
        item.len = (size_t)(comma - p);
        item = str_trim(item);
        rc = add_server(mc, item, errmsg, errlen);
        n++;
        p = comma + 1;
    }
    if (rc == CCP_OK && n == 0) {
        snprintf(errmsg, errlen, "MEMCACHED_SERVERS: no servers given");
        rc = CCP_ERR_INVALID;
    }
    return rc;
}

static bool set_behaviors(memcached_st *mc, const struct cache_store_opts *o)
{
    uint64_t ms = (uint64_t)o->timeout_ms;
    uint64_t retry = o->retry_s != 0 ? o->retry_s : STORE_DEFAULT_RETRY_S;

    return !memcached_failed(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NO_BLOCK, 1)) &&
           !memcached_failed(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1)) &&
           !memcached_failed(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                                                    MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA)) &&
           !memcached_failed(
               memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_KETAMA_HASH, MEMCACHED_HASH_MD5)) &&
           !memcached_failed(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ms)) &&
           !memcached_failed(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ms)) &&
           !memcached_failed(
               memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SND_TIMEOUT, ms * 1000u)) &&
           !memcached_failed(
               memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, ms * 1000u)) &&
           !memcached_failed(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, retry)) &&
           !memcached_failed(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL,
                                                    o->binary_protocol ? 1 : 0));
}

/* Allocate a pool's idle array and condition variable; the prototype is set
 * by the caller. */
static enum ccp_err pool_init(struct store_pool *p, unsigned max_handles)
{
    pthread_condattr_t ca;

    p->idle = ccp_calloc(max_handles, sizeof(*p->idle));
    if (p->idle == NULL) {
        return CCP_ERR_NOMEM;
    }
    if (pthread_condattr_init(&ca) != 0) {
        return CCP_ERR_INTERNAL;
    }
    p->cond_init = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                   pthread_cond_init(&p->freed, &ca) == 0;
    pthread_condattr_destroy(&ca);
    return p->cond_init ? CCP_OK : CCP_ERR_INTERNAL;
}

/* Free a pool's handles, prototype and condition variable. No handle may be
 * borrowed. A zeroed pool is a no-op. */
static void pool_release(struct store_pool *p)
{
    unsigned i;

    CCP_ASSERT(p->nidle == p->nlive); /* no handle still borrowed */
    for (i = 0; i < p->nidle; i++) {
        memcached_free(p->idle[i]);
    }
    if (p->proto != NULL) {
        memcached_free(p->proto);
    }
    if (p->cond_init) {
        pthread_cond_destroy(&p->freed);
    }
    ccp_free(p->idle);
    memset(p, 0, sizeof(*p));
}

/* The set-only pool's prototype: the main one plus NOREPLY. libmemcached then
 * sends "set <key> <flags> <ttl> <bytes> noreply" and returns after the
 * send, reading nothing. memcached (1.6 proto_text.c: set_noreply_maybe, then
 * out_string drops every reply while noreply is set, including "SERVER_ERROR
 * object too large" and "out of memory storing object", and swallows the
 * value) answers nothing to such a set, so no reply is left on the socket.
 * Should a server answer anyway, the answer can only be read on a handle of
 * this pool, which never reads: it can never be taken as the answer to a get.
 * Binary "quiet" sets do answer errors, hence ASCII only. */
static bool make_noreply_proto(struct cache_store *st)
{
    st->noreply.proto = memcached_clone(NULL, st->main.proto);
    return st->noreply.proto != NULL && !memcached_failed(memcached_behavior_set(
                                            st->noreply.proto, MEMCACHED_BEHAVIOR_NOREPLY, 1));
}

enum ccp_err cache_store_new(const struct cache_store_opts *opts, struct cache_store **out,
                             char *errmsg, size_t errlen)
{
    struct cache_store *st = NULL;
    enum ccp_err rc = CCP_OK;
    bool mu_init = false;

    if (errlen > 0) {
        errmsg[0] = '\0';
    }
    if (opts->servers == NULL || opts->servers[0] == '\0') {
        snprintf(errmsg, errlen, "MEMCACHED_SERVERS: no servers given");
        return CCP_ERR_INVALID;
    }
    if (opts->timeout_ms < 1 || opts->timeout_ms > 60000) {
        snprintf(errmsg, errlen, "MEMCACHED_TIMEOUT_MS must be from 1 to 60000");
        return CCP_ERR_INVALID;
    }
    if (opts->set_noreply && opts->binary_protocol) {
        snprintf(errmsg, errlen, "memcached: sets without reply need the ASCII protocol");
        return CCP_ERR_INVALID;
    }
    st = ccp_calloc(1, sizeof(*st));
    if (st == NULL) {
        rc = CCP_ERR_NOMEM;
        goto out;
    }
    st->max_handles = opts->max_handles != 0 ? opts->max_handles : STORE_DEFAULT_HANDLES;
    st->max_item_bytes = opts->max_item_bytes;
    st->timeout_ms = opts->timeout_ms;
    if (pthread_mutex_init(&st->mu, NULL) != 0) {
        rc = CCP_ERR_INTERNAL;
        goto out;
    }
    mu_init = true;
    rc = pool_init(&st->main, st->max_handles);
    if (rc == CCP_OK && opts->set_noreply) {
        rc = pool_init(&st->noreply, st->max_handles);
    }
    if (rc != CCP_OK) {
        goto out;
    }
    st->main.proto = memcached_create(NULL);
    if (st->main.proto == NULL) {
        rc = CCP_ERR_NOMEM;
        goto out;
    }
    if (!set_behaviors(st->main.proto, opts)) {
        snprintf(errmsg, errlen, "memcached: cannot set options: %s",
                 memcached_last_error_message(st->main.proto));
        rc = CCP_ERR_CACHE;
        goto out;
    }
    rc = add_servers(st->main.proto, opts->servers, errmsg, errlen);
    if (rc != CCP_OK) {
        goto out;
    }
    if (opts->set_noreply && !make_noreply_proto(st)) {
        snprintf(errmsg, errlen, "memcached: cannot set up sets without reply");
        rc = CCP_ERR_CACHE;
        goto out;
    }
    *out = st;
    st = NULL;
out:
    if (st != NULL) {
        pool_release(&st->main);
        pool_release(&st->noreply);
        if (mu_init) {
            pthread_mutex_destroy(&st->mu);
        }
        ccp_free(st);
    }
    if (rc == CCP_ERR_NOMEM && errlen > 0 && errmsg[0] == '\0') {
        snprintf(errmsg, errlen, "memcached: out of memory");
    }
    return rc;
}

void cache_store_free(struct cache_store *st)
{
    if (st == NULL) {
        return;
    }
    pool_release(&st->main);
    pool_release(&st->noreply);
    pthread_mutex_destroy(&st->mu);
    ccp_free(st);
}

/* Borrow a handle of pool p: an idle one, or a new clone while under
 * max_handles, or one given back within timeout_ms. NULL (counted) if none
 * came or the clone failed. */
static memcached_st *borrow(struct cache_store *st, struct store_pool *p)
{
    memcached_st *mc = NULL;
    struct timespec deadline;
    int wrc = 0;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += st->timeout_ms / 1000;
    deadline.tv_nsec += (st->timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&st->mu);
    while (p->nidle == 0 && p->nlive >= st->max_handles && wrc == 0) {
        wrc = pthread_cond_timedwait(&p->freed, &st->mu, &deadline);
    }
    if (p->nidle > 0) {
        mc = p->idle[--p->nidle];
    } else if (p->nlive < st->max_handles) {
        mc = memcached_clone(NULL, p->proto);
        if (mc != NULL) {
            p->nlive++;
        }
    }
    pthread_mutex_unlock(&st->mu);
    if (mc == NULL) {
        atomic_fetch_add_explicit(&st->c.skipped_busy, 1, memory_order_relaxed);
    }
    return mc;
}

static void give_back(struct cache_store *st, struct store_pool *p, memcached_st *mc)
{
    pthread_mutex_lock(&st->mu);
    CCP_ASSERT(p->nidle < st->max_handles);
    p->idle[p->nidle++] = mc;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&st->mu);
}

/* A key memcached accepts in both protocols: 1..250 printable non-space bytes. */
static bool key_ok(const char *key, size_t n)
{
    size_t i;

    if (n == 0 || n > CACHE_STORE_MAX_KEY) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

enum ccp_err cache_store_get(struct cache_store *st, const char *key, struct buf *out)
{
    size_t klen = strnlen(key, CACHE_STORE_MAX_KEY + 1), vlen = 0;
    uint32_t flags = 0;
    memcached_return_t mrc = MEMCACHED_SUCCESS;
    memcached_st *mc = NULL;
    char *val = NULL;
    enum ccp_err rc = CCP_DECLINED;

    if (!key_ok(key, klen)) {
        note_error(st, NULL, "get", MEMCACHED_BAD_KEY_PROVIDED);
        goto out;
    }
    mc = borrow(st, &st->main);
    if (mc == NULL) {
        goto out;
    }
    val = memcached_get(mc, key, klen, &vlen, &flags, &mrc);
    if (mrc == MEMCACHED_NOTFOUND) {
        goto out;
    }
    if (memcached_failed(mrc) || (val == NULL && vlen != 0)) {
        note_error(st, mc, "get", mrc);
        goto out;
    }
    if (buf_append(out, val, vlen) != CCP_OK) {
        atomic_fetch_add_explicit(&st->c.skipped_too_large, 1, memory_order_relaxed);
        goto out;
    }
    rc = CCP_OK;
out:
    free(val); /* libmemcached allocates values with malloc */
    if (mc != NULL) {
        give_back(st, &st->main, mc);
    }
    atomic_fetch_add_explicit(rc == CCP_OK ? &st->c.hits : &st->c.misses, 1, memory_order_relaxed);
    return rc;
}

enum ccp_err cache_store_set(struct cache_store *st, const char *key, const void *val, size_t n,
                             unsigned long ttl_s)
{
    size_t klen = strnlen(key, CACHE_STORE_MAX_KEY + 1);
    struct store_pool *p = st->noreply.proto != NULL ? &st->noreply : &st->main;
    memcached_return_t mrc;
    memcached_st *mc;

    if (!key_ok(key, klen)) {
        note_error(st, NULL, "set", MEMCACHED_BAD_KEY_PROVIDED);
        return CCP_DECLINED;
    }
    if (n > st->max_item_bytes || st->max_item_bytes - n < klen + CACHE_STORE_ITEM_OVERHEAD) {
        atomic_fetch_add_explicit(&st->c.skipped_too_large, 1, memory_order_relaxed);
        return CCP_DECLINED;
    }
    if (ttl_s == 0) {
        ttl_s = 1;
    } else if (ttl_s > STORE_MAX_TTL_S) {
        ttl_s = STORE_MAX_TTL_S;
    }
    mc = borrow(st, p);
    if (mc == NULL) {
        return CCP_DECLINED;
    }
    mrc = memcached_set(mc, key, klen, val, n, (time_t)ttl_s, 0);
    if (mrc == MEMCACHED_E2BIG) {
        atomic_fetch_add_explicit(&st->c.skipped_too_large, 1, memory_order_relaxed);
    } else if (memcached_failed(mrc)) {
        note_error(st, mc, "set", mrc);
    } else {
        atomic_fetch_add_explicit(&st->c.sets, 1, memory_order_relaxed);
    }
    give_back(st, p, mc);
    return memcached_success(mrc) ? CCP_OK : CCP_DECLINED;
}

enum ccp_err cache_store_incr(struct cache_store *st, const char *key, uint64_t delta,
                              unsigned long ttl_s, uint64_t *value)
{
    size_t klen = strnlen(key, CACHE_STORE_MAX_KEY + 1);
    memcached_return_t mrc;
    memcached_st *mc = NULL;
    char init[24];
    int n, attempt;
    enum ccp_err rc = CCP_DECLINED;

    if (!key_ok(key, klen)) {
        note_error(st, NULL, "incr", MEMCACHED_BAD_KEY_PROVIDED);
        return CCP_DECLINED;
    }
    if (ttl_s == 0) {
        ttl_s = 1;
    } else if (ttl_s > STORE_MAX_TTL_S) {
        ttl_s = STORE_MAX_TTL_S;
    }
    mc = borrow(st, &st->main);
    if (mc == NULL) {
        return CCP_DECLINED;
    }
    /* incr on an existing counter, else add it with the first value; a
     * concurrent add wins the race and we incr again. Both are atomic in
     * memcached, and this works with the ASCII and the binary protocol
     * (memcached_increment_with_initial is binary-only). */
    for (attempt = 0; attempt < 3 && rc == CCP_DECLINED; attempt++) {
        mrc = memcached_increment(mc, key, klen, (uint32_t)delta, value);
        if (memcached_success(mrc)) {
            rc = CCP_OK;
            break;
        }
        if (mrc != MEMCACHED_NOTFOUND) {
            note_error(st, mc, "incr", mrc);
            break;
        }
        n = snprintf(init, sizeof(init), "%llu", (unsigned long long)delta);
        mrc = memcached_add(mc, key, klen, init, (size_t)n, (time_t)ttl_s, 0);
        if (memcached_success(mrc)) {
            *value = delta;
            rc = CCP_OK;
            break;
        }
        if (mrc != MEMCACHED_NOTSTORED && mrc != MEMCACHED_DATA_EXISTS) {
            note_error(st, mc, "add", mrc);
            break;
        }
    }
    give_back(st, &st->main, mc);
    return rc;
}

void cache_store_get_stats(struct cache_store *st, struct cache_store_stats *out)
{
    out->hits = atomic_load_explicit(&st->c.hits, memory_order_relaxed);
    out->misses = atomic_load_explicit(&st->c.misses, memory_order_relaxed);
    out->sets = atomic_load_explicit(&st->c.sets, memory_order_relaxed);
    out->errors = atomic_load_explicit(&st->c.errors, memory_order_relaxed);
    out->skipped_too_large = atomic_load_explicit(&st->c.skipped_too_large, memory_order_relaxed);
    out->skipped_busy = atomic_load_explicit(&st->c.skipped_busy, memory_order_relaxed);
}
