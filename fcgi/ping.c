/* fcgi/ping.c: when a started SSE stream has been silent long enough for a
 * ping event. */
#include "config.h"

#include <time.h>

#include "fcgi/ping.h"

#include "common/banned.h"

const char wk_ping_event[] = "event: ping\ndata: {\"type\":\"ping\"}\n\n";
const size_t wk_ping_event_len = sizeof(wk_ping_event) - 1;

void wk_ping_init(struct wk_ping *p, double interval_s)
{
    p->interval_ms = interval_s > 0 ? (long)(interval_s * 1000.0) : 0;
    if (interval_s > 0 && p->interval_ms < 1) {
        p->interval_ms = 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &p->last_out);
}

void wk_ping_note_output(struct wk_ping *p)
{
    clock_gettime(CLOCK_MONOTONIC, &p->last_out);
}

bool wk_ping_due(struct wk_ping *p)
{
    struct timespec now;
    long ms;

    if (p->interval_ms <= 0) {
        return false;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (long)(now.tv_sec - p->last_out.tv_sec) * 1000L +
         (long)(now.tv_nsec - p->last_out.tv_nsec) / 1000000L;
    if (ms < p->interval_ms) {
        return false;
    }
    p->last_out = now;
    return true;
}
