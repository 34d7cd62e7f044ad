/* In-process LRU: a chained hash table plus a recency list under one mutex,
 * bounded by entry count and bytes, with a TTL per entry. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "cache/cache.h"
#include "common/alloc.h"

#include "common/banned.h"

#define LRU_MAX_BUCKETS ((size_t)1 << 20)

/* One entry, one allocation: key bytes, then value bytes and a NUL. */
struct lru_node {
    struct lru_node *hnext;       /* bucket chain */
    struct lru_node *prev, *next; /* recency list: prev is newer, next older */
    uint64_t hash;
    uint64_t expires_ms; /* 0: never */
    size_t keylen, vallen;
    char data[];
};

struct cache_lru {
    pthread_mutex_t mu;
    struct lru_node **buckets;
    size_t nbuckets; /* a power of two */
    struct lru_node *newest, *oldest;
    size_t max_entries, max_bytes;
    struct cache_lru_stats st;
};

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *u = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= u[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static size_t node_cost(size_t keylen, size_t vallen)
{
    return sizeof(struct lru_node) + keylen + vallen + 1;
}

struct cache_lru *cache_lru_new(size_t max_entries, size_t max_bytes)
{
    struct cache_lru *lru;
    size_t nb = 16;

    if (max_entries == 0) {
        return NULL;
    }
    while (nb < max_entries && nb < LRU_MAX_BUCKETS) {
        nb *= 2;
    }
    lru = ccp_calloc(1, sizeof(*lru));
    if (lru == NULL) {
        return NULL;
    }
    lru->buckets = ccp_calloc(nb, sizeof(*lru->buckets));
    if (lru->buckets == NULL || pthread_mutex_init(&lru->mu, NULL) != 0) {
        ccp_free(lru->buckets);
        ccp_free(lru);
        return NULL;
    }
    lru->nbuckets = nb;
    lru->max_entries = max_entries;
    lru->max_bytes = max_bytes;
    return lru;
}

void cache_lru_free(struct cache_lru *lru)
{
    struct lru_node *n, *next;

    if (lru == NULL) {
        return;
    }
    for (n = lru->newest; n != NULL; n = next) {
        next = n->next;
        ccp_free(n);
    }
    pthread_mutex_destroy(&lru->mu);
    ccp_free(lru->buckets);
    ccp_free(lru);
}

/* The bucket slot pointing at the node with this key, or at the chain's end. */
static struct lru_node **find_slot(struct cache_lru *lru, const void *key, size_t keylen,
                                   uint64_t h)
{
    struct lru_node **pp = &lru->buckets[h & (lru->nbuckets - 1)];

    while (*pp != NULL) {
        struct lru_node *n = *pp;
        if (n->hash == h && n->keylen == keylen && memcmp(n->data, key, keylen) == 0) {
            break;
        }
        pp = &n->hnext;
    }
    return pp;
}

static void list_unlink(struct cache_lru *lru, struct lru_node *n)
{
    if (n->prev != NULL) {
        n->prev->next = n->next;
    } else {
        lru->newest = n->next;
    }
    if (n->next != NULL) {
        n->next->prev = n->prev;
    } else {
        lru->oldest = n->prev;
    }
    n->prev = NULL;
    n->next = NULL;
}

static void list_push_front(struct cache_lru *lru, struct lru_node *n)
{
    n->prev = NULL;
    n->next = lru->newest;
    if (lru->newest != NULL) {
        lru->newest->prev = n;
    } else {
        lru->oldest = n;
    }
    lru->newest = n;
}

/* Take n out of the table and the list; the caller frees it. */
static void node_remove(struct cache_lru *lru, struct lru_node *n)
{
    struct lru_node **pp = find_slot(lru, n->data, n->keylen, n->hash);

    CCP_ASSERT(*pp == n);
    *pp = n->hnext;
    list_unlink(lru, n);
    lru->st.entries--;
    lru->st.bytes -= node_cost(n->keylen, n->vallen);
}

enum ccp_err cache_lru_get(struct cache_lru *lru, const void *key, size_t keylen, uint64_t now_ms,
                           char **val, size_t *len)
{
    uint64_t h = hash_bytes(key, keylen);
    struct lru_node *n, *expired = NULL;
    enum ccp_err rc = CCP_DECLINED;
    char *copy;

    pthread_mutex_lock(&lru->mu);
    n = *find_slot(lru, key, keylen, h);
    if (n != NULL && n->expires_ms != 0 && now_ms >= n->expires_ms) {
        node_remove(lru, n);
        lru->st.expirations++;
        expired = n;
        n = NULL;
    }
    if (n == NULL) {
        lru->st.misses++;
        goto out;
    }
    copy = ccp_malloc(n->vallen + 1);
    if (copy == NULL) {
        rc = CCP_ERR_NOMEM;
        goto out;
    }
    memcpy(copy, n->data + n->keylen, n->vallen + 1);
    *val = copy;
    *len = n->vallen;
    list_unlink(lru, n);
    list_push_front(lru, n);
    lru->st.hits++;
    rc = CCP_OK;
out:
    pthread_mutex_unlock(&lru->mu);
    ccp_free(expired);
    return rc;
}

enum ccp_err cache_lru_set(struct cache_lru *lru, const void *key, size_t keylen, const void *val,
                           size_t len, uint64_t now_ms, uint64_t ttl_ms)
{
    uint64_t h = hash_bytes(key, keylen);
    struct lru_node *n = NULL, *old, *dead = NULL;
    struct lru_node **pp;
    size_t cost;

    if (keylen > lru->max_bytes || len > lru->max_bytes ||
        node_cost(keylen, len) > lru->max_bytes) {
        cache_lru_delete(lru, key, keylen);
        return CCP_ERR_TOO_LARGE;
    }
    cost = node_cost(keylen, len);
    n = ccp_malloc(cost);
    if (n == NULL) {
        return CCP_ERR_NOMEM;
    }
    memset(n, 0, sizeof(*n));
    n->hash = h;
    n->keylen = keylen;
    n->vallen = len;
    n->expires_ms = ttl_ms == 0 ? 0 : (now_ms > UINT64_MAX - ttl_ms ? UINT64_MAX : now_ms + ttl_ms);
    if (keylen > 0) {
        memcpy(n->data, key, keylen);
    }
    if (len > 0) {
        memcpy(n->data + keylen, val, len);
    }
    n->data[keylen + len] = '\0';

    pthread_mutex_lock(&lru->mu);
    pp = find_slot(lru, key, keylen, h);
    old = *pp;
    if (old != NULL) {
        node_remove(lru, old);
        old->hnext = dead;
        dead = old;
    }
    pp = &lru->buckets[h & (lru->nbuckets - 1)];
    n->hnext = *pp;
    *pp = n;
    list_push_front(lru, n);
    lru->st.entries++;
    lru->st.bytes += cost;
    lru->st.sets++;
    /* the new node is never evicted: it alone fits both limits */
    while (lru->st.entries > lru->max_entries || lru->st.bytes > lru->max_bytes) {
        old = lru->oldest;
        CCP_ASSERT(old != NULL && old != n);
        node_remove(lru, old);
        lru->st.evictions++;
        old->hnext = dead;
        dead = old;
    }
    pthread_mutex_unlock(&lru->mu);
    while (dead != NULL) {
        old = dead->hnext;
        ccp_free(dead);
        dead = old;
    }
    return CCP_OK;
}

void cache_lru_delete(struct cache_lru *lru, const void *key, size_t keylen)
{
    uint64_t h = hash_bytes(key, keylen);
    struct lru_node *n;

    pthread_mutex_lock(&lru->mu);
    n = *find_slot(lru, key, keylen, h);
    if (n != NULL) {
        node_remove(lru, n);
    }
    pthread_mutex_unlock(&lru->mu);
    ccp_free(n);
}

void cache_lru_get_stats(struct cache_lru *lru, struct cache_lru_stats *out)
{
    pthread_mutex_lock(&lru->mu);
    *out = lru->st;
    pthread_mutex_unlock(&lru->mu);
}
