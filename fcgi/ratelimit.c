/* fcgi/ratelimit.c: per client-key request and token limits, counted in
 * memcached (atomic incr) so they hold across worker processes and hosts.
 * Fixed windows on the wall clock: one minute for RATE_LIMIT_PER_MINUTE
 * and RATE_LIMIT_TOKENS_PER_MINUTE, one second for RATE_LIMIT_BURST. Any
 * memcached failure lets the request through (fail open). The memcached
 * pool is the process's shared one when it has one. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cache/cache.h"
#include "common/log.h"
#include "fcgi/guard.h"

#include "common/banned.h"

static struct cache_store *store;
static bool own_store; /* opened here: nobody else in the process had one */
static long per_minute, burst, tokens_per_minute;

enum ccp_err wk_ratelimit_init(const struct conf *c, struct cache_store *shared, char *errmsg,
                               size_t errlen)
{
    struct cache_store_opts o;
    enum ccp_err rc;

    wk_ratelimit_cleanup();
    if (!c->rate_limit_enabled) {
        return CCP_OK;
    }
    if (c->memcached_servers == NULL || c->memcached_servers[0] == '\0') {
        LOG_WARN("RATE_LIMIT_ENABLED is true but MEMCACHED_SERVERS is empty: no rate limits");
        return CCP_OK;
    }
    if (shared != NULL) {
        store = shared;
    } else {
        memset(&o, 0, sizeof(o));
        o.servers = c->memcached_servers;
        o.timeout_ms = c->memcached_timeout_ms;
        o.max_item_bytes = c->response_cache_max_item;
        o.max_handles = (unsigned)c->worker_threads;
        rc = cache_store_new(&o, &store, errmsg, errlen);
        if (rc != CCP_OK) {
            store = NULL;
            return rc;
        }
        own_store = true;
    }
    per_minute = c->rate_limit_per_minute;
    burst = c->rate_limit_burst;
    tokens_per_minute = c->rate_limit_tpm;
    LOG_INFO("rate limits per client key: %ld requests/minute, %ld/second burst, %ld "
             "tokens/minute (0: none); memcached pool %s",
             per_minute, burst, tokens_per_minute, own_store ? "of its own" : "shared");
    return CCP_OK;
}

void wk_ratelimit_cleanup(void)
{
    if (own_store) {
        cache_store_free(store);
    }
    store = NULL;
    own_store = false;
}

/* The counter key: "ccp:rl:<kind>:<tenant hex>:<window number>". */
static bool counter_key(char *out, size_t cap, char kind, const char *key, size_t n, int64_t window)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[WK_KEY_DIGEST_LEN];
    char tenant[2 * 16 + 1];
    size_t i;
    int w;

    if (key == NULL) {
        memcpy(tenant, "anonymous", sizeof("anonymous"));
    } else {
        if (!wk_sha256(key, n, d)) {
            return false;
        }
        /* 128 bits of the digest name the tenant; the key never leaves */
        for (i = 0; i < 16; i++) {
            tenant[2 * i] = hex[d[i] >> 4];
            tenant[2 * i + 1] = hex[d[i] & 0xf];
        }
        tenant[32] = '\0';
    }
    w = snprintf(out, cap, "ccp:rl:%c:%s:%lld", kind, tenant, (long long)window);
    return w > 0 && (size_t)w < cap;
}

bool wk_ratelimit_admit(const char *key, size_t n, int64_t now, long *retry_after,
                        const char **which)
{
    char k[128];
    uint64_t v = 0;

    if (store == NULL) {
        return true;
    }
    if (burst > 0 && counter_key(k, sizeof(k), 's', key, n, now) &&
        cache_store_incr(store, k, 1, 2, &v) == CCP_OK && v > (uint64_t)burst) {
        *retry_after = 1;
        *which = "RATE_LIMIT_BURST";
        return false;
    }
    if (tokens_per_minute > 0 && counter_key(k, sizeof(k), 't', key, n, now / 60) &&
        cache_store_incr(store, k, 0, 120, &v) == CCP_OK && v >= (uint64_t)tokens_per_minute) {
        *retry_after = 60 - (long)(now % 60);
        *which = "RATE_LIMIT_TOKENS_PER_MINUTE";
        return false;
    }
    if (counter_key(k, sizeof(k), 'm', key, n, now / 60) &&
        cache_store_incr(store, k, 1, 120, &v) == CCP_OK && v > (uint64_t)per_minute) {
        *retry_after = 60 - (long)(now % 60);
        *which = "RATE_LIMIT_PER_MINUTE";
        return false;
    }
    return true;
}

void wk_ratelimit_charge(const char *key, size_t n, int64_t now, uint64_t tokens)
{
    char k[128];
    uint64_t v = 0;

    if (store == NULL || tokens_per_minute <= 0 || tokens == 0) {
        return;
    }
    if (tokens > UINT32_MAX) {
        tokens = UINT32_MAX;
    }
    if (counter_key(k, sizeof(k), 't', key, n, now / 60) &&
        cache_store_incr(store, k, tokens, 120, &v) != CCP_OK) {
        LOG_DEBUG("rate limit: token count not stored (memcached unavailable)");
    }
}
