/* fcgi/retry.c: which upstream outcomes are retried, how long to wait
 * between attempts, and a wait that ends when the client leaves. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcgi/handler_int.h"
#include "fcgi/retry.h"

#include "common/banned.h"

#define BACKOFF_MAX_MS 60000L
#define SLEEP_SLICE_MS 50L

bool wk_retry_wanted(const struct conf *c, const struct wk_upstream_result *res)
{
    if (res->err == CCP_ERR_UPSTREAM || res->err == CCP_ERR_TIMEOUT) {
        return res->retryable; /* connect failures and resets, not read timeouts */
    }
    if (res->err != CCP_OK) {
        return false; /* stopped by the proxy (client gone, answer too large) */
    }
    switch (res->status) {
    case 502:
    case 503:
    case 504:
        return true;
    case 429:
        return c->retry_on_429;
    default:
        return false;
    }
}

/* A uniform random number in [0, 1), from the thread's id generator. */
static double random_unit(void)
{
    return (double)(wk_random_u64() >> 11) / 9007199254740992.0; /* 53 bits / 2^53 */
}

/* Seconds of a retry-after value: a non-negative decimal number. -1 if it
 * is something else (an HTTP date, garbage). */
static double parse_retry_after(const char *s)
{
    char *end = NULL;
    double v;

    if (s[0] < '0' || s[0] > '9') {
        return -1;
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0) {
        return -1;
    }
    return v;
}

long wk_retry_delay_ms(const struct conf *c, unsigned attempt, const char *retry_after)
{
    double ms;

    if (retry_after != NULL && retry_after[0] != '\0') {
        double s = parse_retry_after(retry_after);

        if (s < 0 || s > c->retry_after_max_s) {
            return -1;
        }
        return (long)ceil(s * 1000.0);
    }
    ms = c->retry_base_delay_s * 1000.0 * pow(2.0, attempt < 30 ? (double)attempt : 30.0);
    if (ms > (double)BACKOFF_MAX_MS) {
        ms = (double)BACKOFF_MAX_MS;
    }
    ms += c->retry_jitter_s * 1000.0 * random_unit();
    return (long)ms;
}

bool wk_retry_sleep(struct wk_io *io, long ms)
{
    struct timespec t0, now, slice;
    long left = ms;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (left > 0) {
        long step = left < SLEEP_SLICE_MS ? left : SLEEP_SLICE_MS;

        if (io->gone(io)) {
            return false;
        }
        slice.tv_sec = step / 1000;
        slice.tv_nsec = (step % 1000) * 1000000L;
        (void)nanosleep(&slice, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        left = ms - ((long)(now.tv_sec - t0.tv_sec) * 1000L +
                     (long)(now.tv_nsec - t0.tv_nsec) / 1000000L);
    }
    return !io->gone(io);
}
