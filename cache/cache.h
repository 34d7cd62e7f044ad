/* cache/: response-cache and token-count-cache keys (key.c, pure), the cached
 * entry format (entry.c, pure), an in-process LRU (lru.c) and the memcached
 * store (store.c, the only user of libmemcached). */
#ifndef CCP_CACHE_CACHE_H
#define CCP_CACHE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/err.h"
#include "common/str.h"

/* ---- keys (cache/key.c; pure: no I/O, clock, environment or logging) ---- */

/* A key is a SHA-256 digest as 64 lower-case hex characters plus a NUL. It is
 * a valid memcached key (no spaces or control characters, well under 250). */
#define CACHE_KEY_HEX_LEN 64
struct cache_key {
    char hex[CACHE_KEY_HEX_LEN + 1];
};

/* Deepest nesting cache_canonical_json accepts; deeper objects give
 * CCP_ERR_TOO_LARGE (the request parser's depth limit is far below this). */
#define CACHE_CANON_MAX_DEPTH 1000

/* Append the canonical form of obj to out: object members sorted by key
 * (bytewise, recursively), no whitespace, strings escaped minimally (only '"',
 * '\\' and bytes below 0x20; other bytes, valid UTF-8 or not, are copied, so
 * distinct strings stay distinct), integers as parsed (json-c int64/uint64),
 * doubles in the shortest %g form that reads back exactly (1.50 -> 1.5,
 * 1.0 -> 1, -0.0 -> 0; NaN, Infinity, -Infinity as json-c spells them). The
 * result parses back to a document whose canonical form is the same bytes.
 * CCP_OK, CCP_ERR_NOMEM, CCP_ERR_TOO_LARGE (out's max or nesting depth); on
 * failure out keeps its previous contents. obj is not changed, except that
 * json-c caches an integer's text inside it. */
CCP_NODISCARD enum ccp_err cache_canonical_json(struct json_object *obj, struct buf *out);

/* The tenant of a client: SHA-256 over a fixed namespace and the client's API
 * key (n bytes), as hex. The key itself never leaves this function. Can't
 * fail except for CCP_ERR_NOMEM/CCP_ERR_INTERNAL from libcrypto; *out is
 * written only on CCP_OK. */
CCP_NODISCARD enum ccp_err cache_tenant_id(const char *api_key, size_t n, struct cache_key *out);

/* The response-cache key of a translated upstream request: SHA-256 over the
 * namespace "ccproxy/response/v1", the tenant (e.g. cache_tenant_id().hex,
 * any bytes, length-prefixed), the stream flag and the canonical form of req.
 * Field order and insignificant whitespace of the request do not matter;
 * any change of a value, the tenant or the stream flag changes the key.
 * CCP_OK, CCP_ERR_NOMEM, CCP_ERR_TOO_LARGE (nesting), CCP_ERR_INTERNAL
 * (libcrypto). *out is written only on CCP_OK. */
CCP_NODISCARD enum ccp_err cache_response_key(struct json_object *req, const char *tenant,
                                              size_t tenant_len, bool stream,
                                              struct cache_key *out);

/* The response-cache key over the bytes of a translated request as the
 * translator wrote them (namespace "ccproxy/response-bytes/v1", tenant,
 * stream flag, body): no parse, no canonical walk. The translator writes
 * every field it builds in a fixed order with no whitespace, so the client's
 * whitespace and field order already do not reach these bytes; objects it
 * passes through (tool schemas, tool inputs) keep the client's key order.
 * Never equal to a cache_response_key() key. CCP_OK or CCP_ERR_NOMEM /
 * CCP_ERR_INTERNAL (libcrypto); *out is written only on CCP_OK. */
CCP_NODISCARD enum ccp_err cache_response_key_bytes(const char *body, size_t n, const char *tenant,
                                                    size_t tenant_len, bool stream,
                                                    struct cache_key *out);

/* The token-count-cache key of one content block: SHA-256 over the namespace
 * "ccproxy/tokens/v1", the encoding name ("o200k_base", length-prefixed) and
 * the block's bytes. Token counts do not depend on the tenant, so the key has
 * none. CCP_OK, CCP_ERR_NOMEM or CCP_ERR_INTERNAL; *out written on CCP_OK. */
CCP_NODISCARD enum ccp_err cache_token_key(const char *encoding, const void *block, size_t n,
                                           struct cache_key *out);

/* ---- cached response entries (cache/entry.c; pure) ---- */

/* Stored layout, all integers big-endian:
 *   "CCPE" | version (1 byte, CACHE_ENTRY_VERSION) | kind (1 byte) |
 *   status (2) | content-type length (2) | content-type | body length (4) | body
 * Decoding checks every field and that nothing follows the body. */
#define CACHE_ENTRY_VERSION 1
#define CACHE_ENTRY_MAX_CTYPE 255
enum cache_entry_kind {
    CACHE_ENTRY_JSON = 0, /* a complete JSON response */
    CACHE_ENTRY_SSE = 1   /* a complete event stream, replayed as is */
};

struct cache_entry {
    enum cache_entry_kind kind;
    int status;              /* HTTP status, 100..599 */
    struct str content_type; /* printable ASCII, at most CACHE_ENTRY_MAX_CTYPE bytes */
    struct str body;
};

/* Append the encoded entry to out. CCP_ERR_INVALID if a field is out of range
 * (status, kind, content type length or a control character in it, body over
 * 4 GiB - 1), CCP_ERR_NOMEM, CCP_ERR_TOO_LARGE (out's max). On failure out
 * keeps its previous contents. */
CCP_NODISCARD enum ccp_err cache_entry_encode(const struct cache_entry *e, struct buf *out);

/* Decode n bytes at p. On CCP_OK *out holds views into p (borrowed: they live
 * as long as p). CCP_ERR_INVALID for anything malformed, truncated, of
 * another version or with trailing bytes; *out is then untouched. */
CCP_NODISCARD enum ccp_err cache_entry_decode(const void *p, size_t n, struct cache_entry *out);

/* ---- in-process LRU (cache/lru.c) ---- */

/* A thread-safe (one mutex) map from byte keys to byte values, bounded by
 * entry count and by bytes (key + value + per-entry overhead), with a TTL per
 * entry. Time is passed in by the caller as milliseconds on any monotonic
 * clock, so tests control it. */
struct cache_lru;

struct cache_lru_stats {
    uint64_t hits, misses, sets, evictions, expirations;
    size_t entries, bytes;
};

/* New LRU holding at most max_entries (>= 1) entries and max_bytes bytes.
 * NULL on allocation failure or max_entries == 0. Free with cache_lru_free. */
struct cache_lru *cache_lru_new(size_t max_entries, size_t max_bytes);
/* Free the LRU and every value in it. NULL is a no-op. No other thread may
 * use it any more. */
void cache_lru_free(struct cache_lru *lru);

/* Look key up at time now_ms. CCP_OK on a hit: *val is a fresh copy (NUL
 * terminated for convenience, not counted in *len) that the caller frees
 * with ccp_free, and the entry becomes the most recent. CCP_DECLINED on a
 * miss or an expired entry (which is dropped), CCP_ERR_NOMEM if the copy
 * fails. *val and *len are written only on CCP_OK. */
CCP_NODISCARD enum ccp_err cache_lru_get(struct cache_lru *lru, const void *key, size_t keylen,
                                         uint64_t now_ms, char **val, size_t *len);

/* Store a copy of the value under key, replacing an old one, valid until
 * now_ms + ttl_ms (ttl_ms 0: never expires). Least recently used entries are
 * evicted until both limits hold (expired ones are dropped when looked up). CCP_OK, CCP_ERR_NOMEM,
 * or CCP_ERR_TOO_LARGE if the entry alone exceeds max_bytes (nothing stored;
 * an older value under key is removed so stale data is never served). */
CCP_NODISCARD enum ccp_err cache_lru_set(struct cache_lru *lru, const void *key, size_t keylen,
                                         const void *val, size_t len, uint64_t now_ms,
                                         uint64_t ttl_ms);

/* Remove key if present. Can't fail. */
void cache_lru_delete(struct cache_lru *lru, const void *key, size_t keylen);
/* Copy the counters and sizes. Can't fail. */
void cache_lru_get_stats(struct cache_lru *lru, struct cache_lru_stats *out);

/* ---- memcached store (cache/store.c) ---- */

/* A memcached cluster client. Thread-safe: it keeps a small pool of
 * memcached_st handles and each call borrows one, so at most one handle per
 * concurrently calling thread exists (up to max_handles; a caller finding
 * none free waits up to timeout_ms, then has a miss). Every failure is a
 * miss plus a counter, never an error for the caller; repeated identical
 * failures are logged at most once per 10 s with a count.
 *
 * Values larger than max_item_bytes (less the memcached item overhead of the
 * key and CACHE_STORE_ITEM_OVERHEAD bytes) are not stored and are counted in
 * skipped_too_large; they are not split into chunks. A value the server
 * refuses as too large counts there too. */
struct cache_store;

#define CACHE_STORE_ITEM_OVERHEAD 128
#define CACHE_STORE_MAX_KEY 250

struct cache_store_opts {
    const char *servers;   /* "host:port,host:port", "[::1]:11211", "/path/sock";
                              port defaults to 11211 */
    long timeout_ms;       /* connect, poll, send and receive timeout (1..60000) */
    size_t max_item_bytes; /* the servers' item size limit (memcached -I), 1 MiB */
    bool binary_protocol;  /* false: ASCII protocol */
    unsigned max_handles;  /* connections per server; 0: 64 (set >= WORKER_THREADS) */
    unsigned retry_s;      /* seconds a failed server is left alone. 0: 2 */
    bool set_noreply;      /* sets without waiting for an answer (see below) */
};

/* set_noreply: cache_store_set sends "set ... noreply" and returns once the
 * bytes are handed to the kernel (one send instead of send, receive and wait;
 * measured in bench/store_bench about a fifth of the CPU of a set). Its
 * CCP_OK then means "sent", not "stored": a value the server refuses (too
 * large, out of memory) is not noticed or counted, and a server that stopped
 * or never answers is noticed by the first call that reads (a get) or by the
 * send failing, not by each set; a failed send still counts and gives
 * CCP_DECLINED. Sets then use a pool of their own (up to max_handles more
 * connections), never read, so a stray answer can never be taken for a get's.
 * A get on another handle may run before memcached has stored the value.
 * ASCII protocol only: CCP_ERR_INVALID together with binary_protocol. */

struct cache_store_stats {
    uint64_t hits, misses, sets, errors, skipped_too_large, skipped_busy;
};

/* Create a store. CCP_ERR_INVALID (with a message in errmsg naming the bad
 * part) for an empty or malformed server list or timeout, CCP_ERR_NOMEM, or
 * CCP_ERR_CACHE if libmemcached refuses the setup. No connection is opened
 * here; servers that are down only cause misses later. *out written on
 * CCP_OK; free with cache_store_free. */
CCP_NODISCARD enum ccp_err cache_store_new(const struct cache_store_opts *opts,
                                           struct cache_store **out, char *errmsg, size_t errlen);
/* Free the store and its connections. NULL is a no-op. */
void cache_store_free(struct cache_store *st);

/* Fetch key (a NUL-terminated memcached key, see CACHE_STORE_MAX_KEY).
 * CCP_OK on a hit: the value is appended to out. CCP_DECLINED on a miss, any
 * failure, or a value that does not fit in out (out then keeps its previous
 * contents). Never returns anything else. */
CCP_NODISCARD enum ccp_err cache_store_get(struct cache_store *st, const char *key,
                                           struct buf *out);

/* Store n bytes under key for ttl_s seconds (1..2592000; larger values are
 * clamped). CCP_OK if stored, CCP_DECLINED if not (too large, server down,
 * bad key: all counted). The result is informational; ignoring it is fine. */
enum ccp_err cache_store_set(struct cache_store *st, const char *key, const void *val, size_t n,
                             unsigned long ttl_s);

/* Atomically add delta (< 2^32) to the decimal counter under key, creating
 * it with the value delta and a lifetime of ttl_s seconds if it does not
 * exist (the lifetime is not extended by later increments). CCP_OK with the
 * new value in *value, or CCP_DECLINED for any failure (server down, bad
 * key, counted like the other calls): callers fail open. */
CCP_NODISCARD enum ccp_err cache_store_incr(struct cache_store *st, const char *key, uint64_t delta,
                                            unsigned long ttl_s, uint64_t *value);

/* Copy the counters. Can't fail. */
void cache_store_get_stats(struct cache_store *st, struct cache_store_stats *out);

#endif /* CCP_CACHE_CACHE_H */
