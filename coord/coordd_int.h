/* Internal to ccproxy-coordd: options, sessions (session.c) and the
 * connection event loop (loop.c). Not used by the worker. */
#ifndef CCP_COORD_COORDD_INT_H
#define CCP_COORD_COORDD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/err.h"

struct coordd_opts {
    const char *socket_path;  /* unix socket to listen on; NULL for none */
    const char *listen_addr;  /* "HOST:PORT" to listen on too, or NULL */
    size_t queue_max;         /* events a follower may lag behind the leader */
    size_t queue_bytes_max;   /* bytes a follower may lag behind the leader */
    size_t max_payload;       /* largest frame payload a peer may send */
    size_t session_bytes_max; /* largest stream kept for replay */
    size_t total_bytes_max;   /* all streams kept for replay together */
    size_t max_sessions;      /* live sessions at once; more JOINs get ABORT "busy" */
    size_t max_conns;         /* connections at once; more are closed on accept */
    int linger_ms;            /* how long a dropped connection may take to read its ABORT */
};

/* The defaults of every option. Can't fail. */
void coordd_opts_default(struct coordd_opts *o);

struct coordd_conn;

/* One in-flight stream: the leader's frames, kept from the first so a
 * follower that joins late gets them all (replay). */
struct coord_session {
    unsigned char *key;
    size_t key_len;
    struct buf stream; /* EVENT frames, then one END or ABORT frame; or one ERROR frame */
    size_t *ends;      /* ends[i]: offset just after frame i in stream */
    size_t n_frames;
    size_t cap_frames;
    size_t event_bytes_max; /* EVENT frames stop here; the terminal frame always fits */
    bool finished;          /* the terminal frame is in stream */
    bool in_table;
    bool pumping;                  /* loop.c is walking the followers; do not free yet */
    struct coordd_conn *leader;    /* NULL once the leader has left */
    struct coordd_conn *followers; /* list through conn->fnext/fprev */
    size_t n_followers;
    struct coord_session *hnext; /* hash chain */
};

/* Sessions by key. */
struct coord_table {
    struct coord_session **buckets;
    size_t n_buckets; /* a power of two */
    size_t count;
};

/* Buckets for about max_sessions sessions. CCP_OK or CCP_ERR_NOMEM. */
CCP_NODISCARD enum ccp_err coord_table_init(struct coord_table *t, size_t max_sessions);
/* Free the buckets (the sessions must be gone). Safe on a zeroed table. */
void coord_table_release(struct coord_table *t);
/* The live session for key, or NULL. */
struct coord_session *coord_table_find(const struct coord_table *t, const void *key, size_t len);
/* Create a session for key and add it to t (the key must not be there).
 * CCP_OK with *out set, or CCP_ERR_NOMEM. */
CCP_NODISCARD enum ccp_err coord_session_new(struct coord_table *t, const void *key, size_t len,
                                             size_t event_bytes_max, struct coord_session **out);
/* Take s out of t so the next JOIN of its key leads a new session. Idempotent. */
void coord_table_remove(struct coord_table *t, struct coord_session *s);
/* Free s (already out of the table, no leader, no followers). NULL is a no-op. */
void coord_session_free(struct coord_session *s);
/* Append an EVENT (payload) frame. CCP_ERR_TOO_LARGE past event_bytes_max,
 * CCP_ERR_NOMEM; on failure the stream is unchanged. */
CCP_NODISCARD enum ccp_err coord_session_event(struct coord_session *s, const void *p, size_t len);
/* Append the terminal frame (END, or ABORT with reason) and mark s finished.
 * CCP_OK or CCP_ERR_NOMEM (then s is still marked finished, and followers
 * must be closed: the caller treats them as aborted). */
CCP_NODISCARD enum ccp_err coord_session_finish(struct coord_session *s, bool ok,
                                                const char *reason);
/* Append the ERROR frame (payload p: a valid ERROR payload, see
 * coord/proto.h) as the only frame of a stream with no events, and mark s
 * finished. CCP_OK, CCP_ERR_INVALID, CCP_ERR_NOMEM (s is still marked
 * finished: as for coord_session_finish, the caller closes the followers). */
CCP_NODISCARD enum ccp_err coord_session_finish_error(struct coord_session *s, const void *p,
                                                      size_t len);
/* Number of whole frames that end at or before offset off. */
size_t coord_session_frames_before(const struct coord_session *s, size_t off);
/* Offset of the end of the frame that contains offset off (off itself if a
 * frame ends there). */
size_t coord_session_frame_end(const struct coord_session *s, size_t off);

/* Run the daemon until SIGTERM or SIGINT. 0 on a clean exit, 1 if it could
 * not start (logged). */
int coordd_run(const struct coordd_opts *o);

#endif /* CCP_COORD_COORDD_INT_H */
