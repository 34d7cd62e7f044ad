/* fcgi/guard.h: process-wide request guards set up once at start-up: client
 * authentication (auth.c), the upstream URL check (urlcheck.c) and per
 * client-key rate limits in memcached (ratelimit.c). */
#ifndef CCP_FCGI_GUARD_H
#define CCP_FCGI_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/conf.h"
#include "common/err.h"

#define WK_KEY_DIGEST_LEN 32 /* SHA-256 */

/* ---- client keys (auth.c) ---- */

/* Load CLIENT_API_KEYS and CLIENT_API_KEYS_FILE (SHA-256 hex lines).
 * CCP_ERR_INVALID with errmsg naming the file and line, or CCP_ERR_NOMEM.
 * Call once before any request thread starts. */
CCP_NODISCARD enum ccp_err wk_auth_init(const struct conf *c, char *errmsg, size_t errlen);
void wk_auth_cleanup(void);
/* True when client keys are configured (requests must carry one). */
bool wk_auth_required(void);
/* The key the client presented: x-api-key, else Authorization: Bearer. NULL
 * if none. `xkey` and `authz` are the raw header values (may be NULL). The
 * result points into one of them; *n is its length. */
const char *wk_auth_presented(const char *xkey, const char *authz, size_t *n);
/* True if key (n bytes) is one of the configured keys. Compares SHA-256
 * digests against every configured digest with CRYPTO_memcmp, so the time
 * does not depend on where or whether a key matched. */
bool wk_auth_check(const char *key, size_t n);
/* SHA-256 of n bytes into out. false if libcrypto failed. */
bool wk_sha256(const void *p, size_t n, unsigned char out[WK_KEY_DIGEST_LEN]);

/* ---- upstream URL (urlcheck.c) ---- */

/* Check OPENAI_BASE_URL: http or https, a host, no user name or password,
 * no query or fragment; with RESTRICT_BASE_URL the host must be loopback or
 * in ALLOWED_BASE_URL_HOSTS. CCP_OK or CCP_ERR_INVALID with a message that
 * never repeats a credential. */
CCP_NODISCARD enum ccp_err wk_check_base_url(const struct conf *c, char *errmsg, size_t errlen);

/* ---- rate limits (ratelimit.c) ---- */

struct cache_store;

/* Set up the memcached counters if RATE_LIMIT_ENABLED. `shared` is the
 * process's memcached store (the response cache's or the count cache's; NULL
 * if neither has one): it is borrowed, so the process keeps one connection
 * pool, and must outlive the limits (call wk_ratelimit_cleanup first). Only
 * without it is a pool of our own opened. CCP_OK also when the limits are
 * off or memcached is not configured (logged: fail open). */
CCP_NODISCARD enum ccp_err wk_ratelimit_init(const struct conf *c, struct cache_store *shared,
                                             char *errmsg, size_t errlen);
/* Drop the store (freed only if it is our own). Safe to call twice. */
void wk_ratelimit_cleanup(void);

/* Decide on one request of the client whose key is `key` (n bytes; NULL:
 * anonymous) at wall-clock second `now`. True to let it through; false when
 * a limit is reached, with the seconds to wait in *retry_after and the
 * limit's name in *which. Memcached failures let the request through. */
bool wk_ratelimit_admit(const char *key, size_t n, int64_t now, long *retry_after,
                        const char **which);
/* Count tokens used by a finished request of that client. */
void wk_ratelimit_charge(const char *key, size_t n, int64_t now, uint64_t tokens);

#endif /* CCP_FCGI_GUARD_H */
