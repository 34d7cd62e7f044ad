/* Coordinator client: one non-blocking socket driven by poll() with a
 * deadline per call, so the worker never waits longer than it asked. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "coord/client.h"
#include "coord/proto.h"

#include "common/banned.h"

enum cl_state { CL_IDLE, CL_JOINING, CL_LEADER, CL_FOLLOWER, CL_BROKEN };

struct coord_client {
    int fd;
    enum cl_state state;
    size_t max_payload;
    size_t consume; /* bytes of in held by the last frame returned */
    unsigned followers;
    bool published; /* leader: an EVENT went out in this stream */
    struct buf in;
    struct buf out;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
    int64_t l = deadline - now_ms();

    return l <= 0 ? 0 : (l > 1000000 ? 1000000 : (int)l);
}

/* Wait for events on fd until deadline. 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd pfd;
    int r;

    for (;;) {
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        r = poll(&pfd, 1, left_ms(deadline));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -1;
        }
        return r == 0 ? 0 : 1;
    }
}

static enum ccp_err fail(struct coord_client *c, enum ccp_err rc)
{
    c->state = CL_BROKEN;
    return rc;
}

/* Send all of c->out before deadline. */
static enum ccp_err send_out(struct coord_client *c, int64_t deadline)
{
    ssize_t w;
    int r;

    while (c->out.len > 0) {
        w = send(c->fd, c->out.ptr, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            buf_consume(&c->out, (size_t)w);
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            r = wait_fd(c->fd, POLLOUT, deadline);
            if (r == 0) {
                return fail(c, CCP_ERR_TIMEOUT); /* a half-sent frame: unusable */
            }
            if (r > 0) {
                continue;
            }
        }
        return fail(c, CCP_ERR_COORD);
    }
    return CCP_OK;
}

/* The next frame from the daemon, waiting until deadline (a deadline in the
 * past only reads what is there). f borrows c->in until the next call. */
static enum ccp_err read_frame(struct coord_client *c, int64_t deadline, struct coord_frame *f)
{
    size_t used, room;
    ssize_t n;
    enum ccp_err rc;
    int r;

    buf_consume(&c->in, c->consume);
    c->consume = 0;
    for (;;) {
        rc = coord_decode(c->in.ptr, c->in.len, c->max_payload, f, &used);
        if (rc == CCP_OK) {
            c->consume = used;
            return CCP_OK;
        }
        if (rc != CCP_DECLINED) {
            return fail(c, CCP_ERR_COORD);
        }
        room = c->in.max - c->in.len;
        room = room > 65536 ? 65536 : room;
        if (room == 0 || buf_reserve(&c->in, room) != CCP_OK) {
            return fail(c, CCP_ERR_COORD);
        }
        n = recv(c->fd, c->in.ptr + c->in.len, room, MSG_DONTWAIT);
        if (n > 0) {
            c->in.len += (size_t)n;
            c->in.ptr[c->in.len] = '\0';
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (left_ms(deadline) == 0) {
                /* nothing there and no time to wait (a leader looking for
                 * FOLLOWERS at every event): no poll(0) after the recv */
                return CCP_ERR_TIMEOUT;
            }
            r = wait_fd(c->fd, POLLIN, deadline);
            if (r == 0) {
                return CCP_ERR_TIMEOUT;
            }
            if (r > 0) {
                continue;
            }
        }
        return fail(c, CCP_ERR_COORD); /* closed or failed */
    }
}

/* Connect to one address before deadline; the socket or -1. */
static int connect_one(const char *a, size_t alen, int64_t deadline)
{
    struct sockaddr_un sun;
    struct addrinfo hints, *res = NULL, *ai;
    char host[256], port[6];
    const char *path = NULL;
    int fd = -1, err = 0, r;
    socklen_t el = sizeof(err);

    if (alen > 5 && memcmp(a, "unix:", 5) == 0) {
        path = a + 5;
        alen -= 5;
    } else if (alen > 0 && a[0] == '/') {
        path = a;
    }
    if (path != NULL) {
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        if (alen == 0 || alen >= sizeof(sun.sun_path)) {
            return -1;
        }
        memcpy(sun.sun_path, path, alen);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return -1;
        }
        /* a unix connect completes or fails at once (ENOENT, ECONNREFUSED for a
         * stale file, EAGAIN for a full backlog): never wait */
        if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    if (coord_parse_hostport(a, alen, host, sizeof(host), port) != CCP_OK) {
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV; /* no DNS wait inside a request */
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        return -1;
    }
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        if (errno == EINPROGRESS) {
            r = wait_fd(fd, POLLOUT, deadline);
            if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0) {
                break;
            }
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static enum ccp_err client_new(int fd, size_t max_payload, struct coord_client **out)
{
    struct coord_client *c = ccp_calloc(1, sizeof(*c));

    if (c == NULL) {
        return CCP_ERR_NOMEM;
    }
    c->fd = fd;
    c->state = CL_IDLE;
    c->max_payload = max_payload;
    buf_init(&c->in, max_payload + COORD_FRAME_HEADER);
    buf_init(&c->out, max_payload + COORD_FRAME_HEADER);
    *out = c;
    return CCP_OK;
}

/* HELLO both ways: the peer is a live coordinator speaking our protocol. */
static enum ccp_err hello(struct coord_client *c, int64_t deadline)
{
    unsigned char v = COORD_PROTO_VERSION;
    struct coord_frame f;
    enum ccp_err rc;

    rc = coord_encode(&c->out, COORD_HELLO, &v, 1, 1);
    if (rc == CCP_OK) {
        rc = send_out(c, deadline);
    }
    if (rc == CCP_OK) {
        rc = read_frame(c, deadline, &f);
    }
    if (rc == CCP_OK && (f.type != COORD_HELLO || f.count != COORD_PROTO_VERSION)) {
        rc = CCP_ERR_COORD;
    }
    return rc;
}

enum ccp_err coord_connect(const char *addrs, int timeout_ms, size_t max_payload,
                           struct coord_client **out)
{
    struct coord_client *c = NULL;
    const char *p = addrs, *comma;
    size_t n;
    int64_t deadline;
    enum ccp_err rc = CCP_ERR_INVALID;
    int fd;

    if (addrs == NULL || timeout_ms < 0) {
        return CCP_ERR_INVALID;
    }
    if (max_payload == 0) {
        max_payload = COORD_DEFAULT_MAX_PAYLOAD;
    }
    while (*p != '\0') {
        comma = strchr(p, ',');
        n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (n > 0) {
            deadline = now_ms() + timeout_ms;
            fd = connect_one(p, n, deadline);
            rc = CCP_ERR_COORD;
            if (fd >= 0) {
                rc = client_new(fd, max_payload, &c);
                if (rc != CCP_OK) {
                    close(fd);
                    return rc;
                }
                rc = hello(c, deadline);
                if (rc == CCP_OK) {
                    *out = c;
                    return CCP_OK;
                }
                coord_close(c);
                c = NULL;
            }
        }
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    return rc;
}

void coord_close(struct coord_client *c)
{
    if (c == NULL) {
        return;
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    buf_release(&c->in);
    buf_release(&c->out);
    ccp_free(c);
}

int coord_fd(const struct coord_client *c)
{
    return c != NULL ? c->fd : -1;
}

bool coord_has_input(const struct coord_client *c)
{
    return c != NULL && c->in.len > c->consume;
}

bool coord_idle(const struct coord_client *c)
{
    return c != NULL && c->state == CL_IDLE;
}

enum ccp_err coord_join_send(struct coord_client *c, const void *key, size_t len, int timeout_ms)
{
    enum ccp_err rc;

    if (c->state == CL_BROKEN) {
        return CCP_ERR_COORD;
    }
    if (c->state != CL_IDLE || len == 0 || len > COORD_KEY_MAX) {
        return CCP_ERR_INVALID;
    }
    rc = coord_encode(&c->out, COORD_JOIN, key, len, c->max_payload);
    if (rc != CCP_OK) {
        return rc;
    }
    rc = send_out(c, now_ms() + timeout_ms);
    if (rc == CCP_OK) {
        c->state = CL_JOINING;
    }
    return rc;
}

enum ccp_err coord_join_wait(struct coord_client *c, int timeout_ms, enum coord_role *role)
{
    int64_t deadline = now_ms() + timeout_ms;
    struct coord_frame f;
    enum ccp_err rc;

    if (c->state == CL_BROKEN) {
        return CCP_ERR_COORD;
    }
    if (c->state != CL_JOINING) {
        return CCP_ERR_INVALID;
    }
    do {
        /* a FOLLOWERS frame of an earlier stream may come first */
        rc = read_frame(c, deadline, &f);
    } while (rc == CCP_OK && f.type == COORD_FOLLOWERS);
    if (rc != CCP_OK) {
        /* a timeout too: the answer may still come, so the connection is out of step */
        return fail(c, rc);
    }
    if (f.type == COORD_LEAD) {
        c->state = CL_LEADER;
        c->followers = 0;
        c->published = false;
        *role = COORD_ROLE_LEADER;
    } else if (f.type == COORD_FOLLOW) {
        c->state = CL_FOLLOWER;
        *role = COORD_ROLE_FOLLOWER;
    } else if (f.type == COORD_ABORT) {
        c->state = CL_IDLE;
        rc = CCP_ERR_COORD; /* declined (busy); the connection stays idle */
    } else {
        rc = fail(c, CCP_ERR_COORD);
    }
    return rc;
}

enum ccp_err coord_join(struct coord_client *c, const void *key, size_t len, int timeout_ms,
                        enum coord_role *role)
{
    enum ccp_err rc = coord_join_send(c, key, len, timeout_ms);

    if (rc == CCP_OK) {
        rc = coord_join_wait(c, timeout_ms, role);
    }
    return rc;
}

/* Leader: read what the daemon sent, waiting until deadline for the first
 * frame at most. FOLLOWERS updates the count; ABORT means the daemon dropped
 * the stream. */
static enum ccp_err leader_drain(struct coord_client *c, int64_t deadline)
{
    struct coord_frame f;
    enum ccp_err rc;

    for (;;) {
        rc = read_frame(c, deadline, &f);
        if (rc == CCP_ERR_TIMEOUT) {
            return CCP_OK;
        }
        if (rc != CCP_OK) {
            return rc;
        }
        if (f.type == COORD_FOLLOWERS) {
            c->followers = f.count;
        } else {
            return fail(c, CCP_ERR_COORD); /* ABORT (too large, no memory) or garbage */
        }
        deadline = 0; /* only what is already there from now on */
    }
}

/* Leader: send one frame. */
static enum ccp_err leader_send(struct coord_client *c, enum coord_type t, const void *p,
                                size_t len, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    enum ccp_err rc;

    if (c->state == CL_BROKEN) {
        return CCP_ERR_COORD;
    }
    if (c->state != CL_LEADER) {
        return CCP_ERR_INVALID;
    }
    rc = leader_drain(c, 0);
    if (rc != CCP_OK) {
        return rc;
    }
    if (t == COORD_ERROR) {
        const struct coord_error *e = p;

        rc = c->published ? CCP_ERR_INVALID
                          : coord_encode_error(&c->out, e->status, e->headers, e->headers_len,
                                               e->body, e->body_len, c->max_payload);
    } else {
        rc = coord_encode(&c->out, t, p, len, c->max_payload);
    }
    if (rc != CCP_OK) {
        return rc;
    }
    c->published = c->published || t == COORD_EVENT;
    rc = send_out(c, deadline);
    if (rc == CCP_OK && t != COORD_EVENT) {
        c->state = CL_IDLE;
        c->followers = 0;
    }
    return rc;
}

enum ccp_err coord_publish(struct coord_client *c, const void *p, size_t len, int timeout_ms)
{
    if (len == 0) {
        return CCP_ERR_INVALID;
    }
    return leader_send(c, COORD_EVENT, p, len, timeout_ms);
}

enum ccp_err coord_end(struct coord_client *c, int timeout_ms)
{
    return leader_send(c, COORD_END, NULL, 0, timeout_ms);
}

enum ccp_err coord_abort(struct coord_client *c, const char *reason, int timeout_ms)
{
    size_t n = reason != NULL ? strlen(reason) : 0;

    return leader_send(c, COORD_ABORT, reason, n > COORD_REASON_MAX ? COORD_REASON_MAX : n,
                       timeout_ms);
}

enum ccp_err coord_error(struct coord_client *c, unsigned status, const char *headers, size_t hlen,
                         const char *body, size_t blen, int timeout_ms)
{
    struct coord_error e;

    e.status = status;
    e.headers = headers;
    e.headers_len = hlen;
    e.body = body;
    e.body_len = blen;
    return leader_send(c, COORD_ERROR, &e, 0, timeout_ms);
}

enum ccp_err coord_followers(struct coord_client *c, int timeout_ms, unsigned *count)
{
    enum ccp_err rc;

    if (c->state == CL_BROKEN) {
        return CCP_ERR_COORD;
    }
    if (c->state != CL_LEADER) {
        return CCP_ERR_INVALID;
    }
    rc = leader_drain(c, now_ms() + timeout_ms);
    if (rc == CCP_OK) {
        *count = c->followers;
    }
    return rc;
}

enum ccp_err coord_next(struct coord_client *c, struct buf *out, int timeout_ms,
                        enum coord_next_kind *kind)
{
    struct coord_frame f;
    enum ccp_err rc;

    if (c->state == CL_BROKEN) {
        return CCP_ERR_COORD;
    }
    if (c->state != CL_FOLLOWER) {
        return CCP_ERR_INVALID;
    }
    rc = read_frame(c, now_ms() + timeout_ms, &f);
    if (rc != CCP_OK) {
        return rc;
    }
    switch (f.type) {
    case COORD_EVENT:
    case COORD_ABORT:
    case COORD_ERROR:
        rc = buf_append(out, f.payload, f.len);
        if (rc != CCP_OK) {
            return fail(c, rc);
        }
        *kind = f.type == COORD_EVENT   ? COORD_NEXT_EVENT
                : f.type == COORD_ABORT ? COORD_NEXT_ABORT
                                        : COORD_NEXT_ERROR;
        break;
    case COORD_END:
        *kind = COORD_NEXT_END;
        break;
    default:
        return fail(c, CCP_ERR_COORD);
    }
    if (f.type != COORD_EVENT) {
        c->state = CL_IDLE;
    }
    return CCP_OK;
}
