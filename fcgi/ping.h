/* fcgi/ping.h: SSE keep-alive pings while a started stream is silent (long
 * upstream reasoning), as Anthropic sends them, so clients and proxies in
 * between see the connection alive. */
#ifndef CCP_FCGI_PING_H
#define CCP_FCGI_PING_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* The exact event Anthropic sends. */
extern const char wk_ping_event[];
extern const size_t wk_ping_event_len;

struct wk_ping {
    long interval_ms; /* 0: no pings */
    struct timespec last_out;
};

/* Pings after interval_s seconds without output (0: never). */
void wk_ping_init(struct wk_ping *p, double interval_s);
/* Something went to the client now. */
void wk_ping_note_output(struct wk_ping *p);
/* True when a ping is due; the timer then restarts. */
bool wk_ping_due(struct wk_ping *p);

#endif /* CCP_FCGI_PING_H */
