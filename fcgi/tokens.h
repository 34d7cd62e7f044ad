/* fcgi/tokens.h: POST /v1/messages/count_tokens in the worker: the rank
 * tables mapped once per process, exact counts (translate/count.c) with a
 * per-string count cache (in-process LRU, then the response cache's
 * memcached store), the optional upstream counting endpoint, and the
 * estimate when no rank table can be loaded. */
#ifndef CCP_FCGI_TOKENS_H
#define CCP_FCGI_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/conf.h"
#include "fcgi/rcache.h"

struct wk_tokens;

struct wk_tokens_stats {
    uint64_t exact, estimates, upstream; /* answers by source */
    uint64_t cache_hits, cache_misses;   /* per-string count cache */
};

/* The count_tokens state of one process for configuration c (borrowed).
 * rc is the process's response cache (may be NULL): its memcached store is
 * reused, so the process holds one connection pool. `eager` maps the rank
 * tables now (FastCGI: before the threads start); otherwise on the first
 * count (plain CGI: a /v1/messages request never maps them). `with_lru`
 * keeps an in-process count cache (pointless under CGI). NULL only when out
 * of memory. */
struct wk_tokens *wk_tokens_new(const struct conf *c, struct wk_rcache *rc, bool eager,
                                bool with_lru);
void wk_tokens_free(struct wk_tokens *t);
void wk_tokens_get_stats(struct wk_tokens *t, struct wk_tokens_stats *out);
/* The memcached store the count cache uses (the response cache's, or its
 * own when the response cache has none); NULL if none or t is NULL. */
struct cache_store *wk_tokens_store(struct wk_tokens *t);

#endif /* CCP_FCGI_TOKENS_H */
