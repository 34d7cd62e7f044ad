/* Coordinator client for the worker: blocking calls with timeouts over one
 * connection to ccproxy-coordd. Every failure comes back as an error (never
 * a hang past the timeout), so the caller can go direct (fail-open).
 *
 * Use: coord_connect, then coord_join(key). A leader calls upstream and
 * sends each chunk of translated events with coord_publish, then coord_end
 * or coord_abort; coord_followers tells it how many followers are attached
 * (when its own client has gone and the count is 0, cancel upstream). A
 * follower calls coord_next until END, ABORT or ERROR. A leader whose
 * upstream call failed before its first event sends the error answer with
 * coord_error instead, and every follower answers its client with it. After
 * a terminal frame the connection may JOIN again (coord_idle says so).
 * Not thread-safe: one client per thread. */
#ifndef CCP_COORD_CLIENT_H
#define CCP_COORD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/err.h"

struct coord_client;

enum coord_role { COORD_ROLE_LEADER = 1, COORD_ROLE_FOLLOWER = 2 };
enum coord_next_kind {
    COORD_NEXT_EVENT = 1,
    COORD_NEXT_END = 2,
    COORD_NEXT_ABORT = 3,
    COORD_NEXT_ERROR = 4
};

/* Connect to the first coordinator of addrs that answers: a comma-separated
 * list of "unix:PATH", "/absolute/path" or "HOST:PORT". Each try (connect
 * and HELLO) gets timeout_ms; a missing or stale socket fails at once.
 * max_payload bounds the frames accepted from the daemon (0: the default).
 * CCP_OK with *out (free with coord_close); CCP_ERR_COORD, CCP_ERR_TIMEOUT,
 * CCP_ERR_INVALID (unparsable addrs) or CCP_ERR_NOMEM. */
CCP_NODISCARD enum ccp_err coord_connect(const char *addrs, int timeout_ms, size_t max_payload,
                                         struct coord_client **out);
/* Close and free. NULL is a no-op. A leader that has not ended aborts its
 * followers this way ("leader gone"). */
void coord_close(struct coord_client *c);
/* The socket, for poll(): readable means coord_next or coord_followers has
 * something. -1 if NULL. */
int coord_fd(const struct coord_client *c);

/* True if bytes have been received on c and not yet read as a frame: a
 * frame may be waiting there without the socket being readable. */
bool coord_has_input(const struct coord_client *c);

/* True if c is connected and between streams (a new coord_join may follow),
 * so it can be kept for the next request. False for NULL. */
bool coord_idle(const struct coord_client *c);

/* Ask to join the stream of key (1..256 bytes; include the tenant in it).
 * CCP_OK with *role; CCP_ERR_COORD when the daemon declines (busy) or
 * fails, CCP_ERR_TIMEOUT, CCP_ERR_INVALID (bad key, or not idle). */
CCP_NODISCARD enum ccp_err coord_join(struct coord_client *c, const void *key, size_t len,
                                      int timeout_ms, enum coord_role *role);
/* coord_join in two halves, so that the caller can do something else (a
 * cache lookup) while the daemon answers: send the JOIN (same results but
 * no role), then wait for the answer (same results as coord_join). Between
 * the two, c is neither idle nor in a stream; coord_close is the only other
 * call allowed. */
CCP_NODISCARD enum ccp_err coord_join_send(struct coord_client *c, const void *key, size_t len,
                                           int timeout_ms);
CCP_NODISCARD enum ccp_err coord_join_wait(struct coord_client *c, int timeout_ms,
                                           enum coord_role *role);

/* Leader: send len (>= 1) bytes of whole Anthropic SSE events.
 * CCP_ERR_COORD if the daemon failed or dropped the stream (then carry on
 * alone and coord_close), CCP_ERR_TIMEOUT, CCP_ERR_TOO_LARGE. */
CCP_NODISCARD enum ccp_err coord_publish(struct coord_client *c, const void *p, size_t len,
                                         int timeout_ms);
/* Leader: the stream finished; followers get END. */
CCP_NODISCARD enum ccp_err coord_end(struct coord_client *c, int timeout_ms);
/* Leader: the stream failed; followers get ABORT with reason (NULL: ""). */
CCP_NODISCARD enum ccp_err coord_abort(struct coord_client *c, const char *reason, int timeout_ms);
/* Leader, before any coord_publish: the stream never started; followers get
 * ERROR with this answer (see coord_encode_error for the arguments) and
 * answer their clients with it instead of calling upstream. Same results
 * as coord_publish, plus CCP_ERR_INVALID for a bad answer or after a
 * publish. */
CCP_NODISCARD enum ccp_err coord_error(struct coord_client *c, unsigned status, const char *headers,
                                       size_t hlen, const char *body, size_t blen, int timeout_ms);
/* Leader: how many followers are attached, after reading what the daemon
 * sent (waiting up to timeout_ms for a change; 0 does not wait).
 * CCP_OK with *count, or CCP_ERR_COORD. */
CCP_NODISCARD enum ccp_err coord_followers(struct coord_client *c, int timeout_ms, unsigned *count);

/* Follower: wait up to timeout_ms for the next frame. CCP_OK with *kind:
 * EVENT (its bytes appended to out), END, ABORT (the reason appended to
 * out) or ERROR (its payload appended to out; coord_parse_error splits it);
 * after END, ABORT or ERROR the client is idle again. CCP_ERR_TIMEOUT (the
 * caller may wait again, or close and go direct), CCP_ERR_COORD (daemon gone
 * or garbage), CCP_ERR_TOO_LARGE (out is full). */
CCP_NODISCARD enum ccp_err coord_next(struct coord_client *c, struct buf *out, int timeout_ms,
                                      enum coord_next_kind *kind);

#endif /* CCP_COORD_CLIENT_H */
