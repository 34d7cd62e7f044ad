/* fcgi/retry.h: the upstream retry policy. Claude Code retries 429, 5xx and
 * 401 up to 10 times by itself, so the proxy retries little:
 * - only before any byte reached the client (a started stream is never
 *   retried; it ends with an error event instead);
 * - only on connect failures (refused, connect timeout, TLS handshake),
 *   broken connections (reset, nothing received, HTTP/2 errors) and upstream
 *   502/503/504; a 429 only with PROVIDER_RETRY_ON_429; 4xx, 500 and read
 *   timeouts never;
 * - at most PROVIDER_MAX_RETRIES retries after the first attempt, waiting
 *   PROVIDER_RETRY_BASE_DELAY * 2^n (at most 60 s) plus up to
 *   PROVIDER_RETRY_JITTER seconds, or exactly the upstream's retry-after if
 *   it is a number of seconds up to PROVIDER_RETRY_AFTER_MAX_S; a longer one
 *   (or an HTTP date) goes straight back to the client with its retry-after;
 * - all attempts and waits together stay within MAX_STREAM_SECONDS;
 * - a wait ends at once when the client goes away (then nothing is sent).
 * The last attempt's answer is what the client gets; the log line says
 * attempts=N. */
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
