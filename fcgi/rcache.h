/* fcgi/rcache.h: the worker's response cache: one per process, shared by its
 * threads. An in-process LRU in front of memcached (cache/); every cache
 * failure is a miss and a counter, never a failed request.
 *
 * Policy (POST /v1/messages):
 * - Key: SHA-256 over the canonical translated upstream request, the stream
 *   flag and the tenant (a hash of the client's x-api-key, else its Bearer
 *   token; the key is never stored or logged). Clients without a key share
 *   one tenant.
 * - Stored: complete successful answers only: a non-stream 200 message, or a
 *   stream whose message_stop went out with no error event; never an error
 *   answer, a cut stream or a stream whose client left. Answers larger than
 *   RESPONSE_CACHE_MAX_ITEM_BYTES are served but not stored (never split).
 * - A hit replays the stored bytes with the same status and content type (a
 *   stream as a stream, at once). The message id is replaced by the new
 *   request's id (same length), so every answer has its own msg_ id; tool
 *   use ids inside stay as first sent.
 * - x-ccproxy-cache: hit | miss | bypass on every /v1/messages answer once
 *   the request translated; no header when no cache is configured, except
 *   "coalesced" on a stream relayed by the fan-out (fcgi/fanout.h). The
 *   client's cache-control: no-cache skips the lookup and stores the fresh
 *   answer; no-store skips both.
 * - A stored answer goes to the client once the LRU has it, before
 *   memcached is asked (wk_rcache_put); without an LRU, after memcached
 *   has it.
 * - The LRU (per process) and memcached share the TTL. memcached down or
 *   slow (MEMCACHED_TIMEOUT_MS) is a miss; a failed server is retried after
 *   libmemcached's retry timeout (about 2 s). */
#ifndef CCP_FCGI_RCACHE_H
#define CCP_FCGI_RCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "common/buf.h"
#include "common/compiler.h"
#include "common/conf.h"
#include "common/err.h"

struct wk_rcache;

/* What the cache did for one request: the x-ccproxy-cache header and the
 * log line's cache= field. */
enum wk_cache_state {
    WK_CACHE_OFF,      /* no response cache configured: no header */
    WK_CACHE_MISS,     /* looked up, not found (or the cache failed): answer stored if complete */
    WK_CACHE_HIT,      /* answered from the cache */
    WK_CACHE_BYPASS,   /* the client sent cache-control: no-cache or no-store */
    WK_CACHE_COALESCED /* a stream relayed from an identical request in flight (fcgi/fanout.h) */
};

/* "off", "miss", "hit", "bypass" or "coalesced". */
const char *wk_cache_state_name(enum wk_cache_state s);

struct wk_rcache_stats {
    uint64_t hits, misses, bypasses, stores, skipped_too_large, errors;
};

/* The response cache for configuration c (borrowed; it must outlive the
 * cache), or NULL when RESPONSE_CACHE_ENABLED is false, when neither
 * memcached servers nor an in-process LRU are configured, or when set-up
 * fails (logged; the worker then runs without a cache). `with_lru` false
 * leaves the in-process LRU out (plain CGI: one request per process).
 * memcached connections: one per worker thread at most. */
struct wk_rcache *wk_rcache_new(const struct conf *c, bool with_lru);
/* Free the cache. NULL is a no-op; no thread may use it any more. */
void wk_rcache_free(struct wk_rcache *rc);

/* The response key of a translated upstream request (the len bytes the
 * translator wrote) for tenant and stream flag: cache_response_key_bytes(),
 * SHA-256 with no parse (cache/cache.h says why the bytes are canonical
 * enough). CCP_OK, CCP_ERR_NOMEM or CCP_ERR_INTERNAL; *out on CCP_OK only. */
CCP_NODISCARD enum ccp_err wk_rcache_key(const char *body, size_t len,
                                         const struct cache_key *tenant, bool stream,
                                         struct cache_key *out);

/* Look key up: the LRU first, then memcached (a memcached hit refills the
 * LRU). CCP_OK on a hit: the encoded entry (cache_entry_decode) is appended
 * to raw (its max bounds the entry). CCP_DECLINED on a miss or any failure.
 * Counts the hit or miss. */
CCP_NODISCARD enum ccp_err wk_rcache_get(struct wk_rcache *rc, const struct cache_key *key,
                                         struct buf *raw);
/* wk_rcache_get, calling before_shared(arg) (when not NULL) after a miss in
 * the in-process LRU, just before asking memcached: what the caller starts
 * there runs while memcached answers. */
CCP_NODISCARD enum ccp_err wk_rcache_get_ex(struct wk_rcache *rc, const struct cache_key *key,
                                            struct buf *raw, void (*before_shared)(void *arg),
                                            void *arg);

/* Look key up again for a request already counted as a miss (a follower
 * whose leader ended as it joined): like wk_rcache_get, but a miss is not
 * counted twice and a hit replaces the miss. */
CCP_NODISCARD enum ccp_err wk_rcache_recheck(struct wk_rcache *rc, const struct cache_key *key,
                                             struct buf *raw);

/* Store a complete successful answer (kind, status 200, content type, body)
 * under key in the LRU and in memcached for RESPONSE_CACHE_TTL_S. Answers
 * over RESPONSE_CACHE_MAX_ITEM_BYTES (encoded) are skipped and counted.
 * Never fails for the caller. before_shared(arg), when not NULL, is called
 * exactly once: after the entry is in the in-process LRU and before
 * memcached is asked; without an LRU (plain CGI), or when nothing is
 * stored, at the end. A caller answers its client there: the client does
 * not wait for memcached, and a repeat served by the same process already
 * finds the answer. A repeat that another worker process serves in the
 * microseconds before the store reaches memcached misses (one more upstream
 * call, never a wrong answer). */
void wk_rcache_put(struct wk_rcache *rc, const struct cache_key *key, enum cache_entry_kind kind,
                   const char *ctype, const char *body, size_t n, void (*before_shared)(void *arg),
                   void *arg);

/* Count a bypassed request. */
void wk_rcache_note_bypass(struct wk_rcache *rc);

/* The largest answer body worth capturing for the cache (bytes). */
size_t wk_rcache_max_body(const struct wk_rcache *rc);

/* Copy the counters. Can't fail. */
void wk_rcache_get_stats(struct wk_rcache *rc, struct wk_rcache_stats *out);

/* The cache's memcached store (NULL when rc is NULL or has none), shared
 * with the token-count cache so a process keeps one connection pool. */
struct cache_store *wk_rcache_store(struct wk_rcache *rc);

#endif /* CCP_FCGI_RCACHE_H */
