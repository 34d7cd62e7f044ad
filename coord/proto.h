/* Coordinator wire protocol (pure: no I/O). A frame is a 4-byte big-endian
 * length, then a 1-byte type, then the payload; the length counts the type
 * byte and the payload, so it is always >= 1. */
#ifndef CCP_COORD_PROTO_H
#define CCP_COORD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/err.h"

#define COORD_PROTO_VERSION 1
#define COORD_FRAME_HEADER 5  /* length (4) + type (1) */
#define COORD_KEY_MAX 256     /* JOIN key: 1..256 bytes (raw or hex SHA-256) */
#define COORD_REASON_MAX 1024 /* ABORT reason: 0..1024 bytes of text */
#define COORD_ERROR_MAX 16384 /* ERROR payload: status, headers and body together */
/* Default largest payload a peer may send (16 MiB). */
#define COORD_DEFAULT_MAX_PAYLOAD ((size_t)16 * 1024 * 1024)

/* Frame types. Direction and payload:
 *   HELLO     both ways   1 byte: protocol version (the daemon answers one)
 *   JOIN      worker->d   the request key (1..COORD_KEY_MAX bytes)
 *   LEAD      d->worker   empty: you are the leader, call upstream
 *   FOLLOW    d->worker   empty: events follow (replay from the start)
 *   EVENT     both ways   1+ bytes: one or more complete Anthropic SSE events
 *   END       both ways   empty: the stream finished
 *   ABORT     both ways   0..COORD_REASON_MAX bytes of reason text
 *   FOLLOWERS d->leader   4 bytes big-endian: followers attached right now
 *   ERROR     both ways   the stream never started: the complete non-stream
 *                         answer every client gets instead (see
 *                         coord_encode_error); terminal like END and ABORT.
 *                         A leader sends it only before its first EVENT.
 * ERROR was added without a version change: an old daemon closes a leader
 * that sends it (its followers then get ABORT "leader gone", as before), and
 * an old worker never sends it. */
enum coord_type {
    COORD_HELLO = 1,
    COORD_JOIN = 2,
    COORD_LEAD = 3,
    COORD_FOLLOW = 4,
    COORD_EVENT = 5,
    COORD_END = 6,
    COORD_ABORT = 7,
    COORD_FOLLOWERS = 8,
    COORD_ERROR = 9
};

/* An ERROR payload, decoded: borrows from the frame. Wire form: 2 bytes
 * big-endian status (100..599), 2 bytes big-endian length of the header
 * block, the header block (zero or more "Name: value\r\n" lines of
 * printable ASCII), then the body (an Anthropic error JSON, 0+ bytes).
 * The whole payload is at most COORD_ERROR_MAX bytes. */
struct coord_error {
    unsigned status;
    const char *headers;
    size_t headers_len;
    const char *body;
    size_t body_len;
};

/* A decoded frame. payload borrows from the decoder's input. */
struct coord_frame {
    enum coord_type type;
    const unsigned char *payload;
    size_t len;
    uint32_t count; /* FOLLOWERS: the count; HELLO: the version; else 0 */
};

/* Short name of a frame type ("JOIN", ...), "?" if unknown. Can't fail. */
const char *coord_type_name(enum coord_type t);

/* Append one frame to out. The payload must fit its type (see above) and
 * max_payload. CCP_OK; CCP_ERR_INVALID for a payload the type does not
 * allow; CCP_ERR_TOO_LARGE over max_payload or out's max; CCP_ERR_NOMEM.
 * On failure out keeps its previous contents. */
CCP_NODISCARD enum ccp_err coord_encode(struct buf *out, enum coord_type type, const void *payload,
                                        size_t len, size_t max_payload);
/* Append a FOLLOWERS frame carrying count. Same results as coord_encode. */
CCP_NODISCARD enum ccp_err coord_encode_followers(struct buf *out, uint32_t count);

/* Append an ERROR frame for status (100..599), a header block (hlen bytes
 * of "Name: value\r\n" lines; NULL with 0 for none) and a body. Same
 * results as coord_encode (CCP_ERR_INVALID for a bad status or header block,
 * CCP_ERR_TOO_LARGE over COORD_ERROR_MAX or max_payload). */
CCP_NODISCARD enum ccp_err coord_encode_error(struct buf *out, unsigned status, const char *headers,
                                              size_t hlen, const char *body, size_t blen,
                                              size_t max_payload);
/* Split an ERROR payload p[0..len) into *out (borrowing from p). CCP_OK, or
 * CCP_ERR_INVALID when it is not a well-formed ERROR payload. out is written
 * only on success. coord_decode accepts an ERROR frame only if this does. */
CCP_NODISCARD enum ccp_err coord_parse_error(const void *p, size_t len, struct coord_error *out);

/* Decode the first frame of p[0..len). Never reads past len.
 * CCP_OK: *out is the frame (borrowing from p) and *consumed its size.
 * CCP_DECLINED: p holds only part of a frame; call again with more bytes.
 * CCP_ERR_INVALID: not a frame (unknown type, bad payload for the type,
 * payload over max_payload); the connection should be closed.
 * out and consumed are written only on CCP_OK. */
CCP_NODISCARD enum ccp_err coord_decode(const void *p, size_t len, size_t max_payload,
                                        struct coord_frame *out, size_t *consumed);

/* Split an address "HOST:PORT" or "[IPV6]:PORT" (s: n bytes, need not be
 * NUL-terminated) into NUL-terminated host and port. CCP_OK, or
 * CCP_ERR_INVALID when it is malformed (no host, a port that is not 1-5
 * digits) or the host does not fit hostcap. host and port are written only
 * on success. */
CCP_NODISCARD enum ccp_err coord_parse_hostport(const char *s, size_t n, char *host, size_t hostcap,
                                                char port[6]);

#endif /* CCP_COORD_PROTO_H */
