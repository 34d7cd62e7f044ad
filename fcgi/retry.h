/* fcgi/retry.h: the upstream retry policy. The proxy retries only before any
 * byte reached the client, only on connect failures, resets and 502/503/504
 * (429 if PROVIDER_RETRY_ON_429), with exponential backoff and jitter, and
 * waits out a retry-after up to PROVIDER_RETRY_AFTER_MAX_S. */
#ifndef CCP_FCGI_RETRY_H
#define CCP_FCGI_RETRY_H

#include <stdbool.h>

#include "common/conf.h"
#include "fcgi/io.h"
#include "fcgi/upstream.h"

/* True if the outcome res of an attempt may be retried under c (the caller
 * checks that nothing reached the client and counts the attempts). */
bool wk_retry_wanted(const struct conf *c, const struct wk_upstream_result *res);

/* Milliseconds to wait before retry number `attempt` (0 for the first
 * retry): the upstream's retry-after in seconds if it gave one, else
 * PROVIDER_RETRY_BASE_DELAY * 2^attempt (at most 60 s) plus a random
 * jitter of up to PROVIDER_RETRY_JITTER. -1: do not retry, because the
 * retry-after is longer than PROVIDER_RETRY_AFTER_MAX_S or not a number of
 * seconds (an HTTP date): the client gets the answer and its retry-after. */
long wk_retry_delay_ms(const struct conf *c, unsigned attempt, const char *retry_after);

/* Sleep ms milliseconds in short slices, stopping early if the client goes
 * away. True if the whole time passed, false if the client is gone. */
bool wk_retry_sleep(struct wk_io *io, long ms);

#endif /* CCP_FCGI_RETRY_H */
