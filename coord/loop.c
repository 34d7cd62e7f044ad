/* ccproxy-coordd event loop: one thread, epoll, non-blocking sockets.
 * Reads frames from workers, runs the JOIN/LEAD/FOLLOW state of each
 * connection, and fans the leader's frames out to its followers. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "coord/coordd_int.h"
#include "coord/proto.h"

#include "common/banned.h"

#define READ_CHUNK 65536
#define READS_PER_WAKE 16
#define ACCEPTS_PER_WAKE 64
#define MAX_EVENTS 128
/* Connections waiting to be accepted (the kernel caps it at
 * net.core.somaxconn). Every worker thread connects when it starts, so a few
 * worker processes starting at once bring thousands; on a unix socket a full
 * queue fails the connect at once, and that worker goes direct. */
#define LISTEN_BACKLOG 4096

enum conn_role { CONN_IDLE, CONN_LEADER, CONN_FOLLOWER, CONN_CLOSING };

struct coordd_conn {
    int fd;
    enum conn_role role;
    bool dead;            /* closed; freed at the end of this loop turn */
    bool epollout;        /* EPOLLOUT is registered */
    bool followers_dirty; /* leader: a FOLLOWERS frame is owed */
    struct buf in;        /* bytes read and not yet decoded */
    struct buf out;       /* our own frames, written before any stream bytes */
    struct coord_session *sess;
    size_t cursor;                     /* follower: stream bytes written so far */
    size_t join_off;                   /* follower: stream length when it joined */
    size_t join_frames;                /* follower: frames in the stream when it joined */
    int64_t close_at;                  /* CLOSING: monotonic ms after which it is closed */
    struct coordd_conn *fprev, *fnext; /* the session's followers */
    struct coordd_conn *prev, *next;   /* every connection */
};

struct coordd {
    const struct coordd_opts *o;
    int ep;
    int sigfd;
    int ufd;
    int tfd;
    struct coord_table table;
    struct coordd_conn *conns;
    struct coordd_conn *dead; /* closed this turn, through next */
    size_t n_conns;
    size_t n_closing;
    size_t stream_bytes; /* bytes of every session's stream together */
    sigset_t oldmask;    /* the signal mask before we blocked SIGTERM and SIGINT */
    bool stop;
};

static void conn_close(struct coordd *d, struct coordd_conn *c);

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void want_out(struct coordd *d, struct coordd_conn *c, bool on)
{
    struct epoll_event ev;

    if (c->epollout == on || c->dead) {
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
    ev.data.ptr = c;
    if (epoll_ctl(d->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0) {
        c->epollout = on;
    }
}

/* Free a session nobody uses any more. */
static void session_maybe_free(struct coordd *d, struct coord_session *s)
{
    if (s->pumping || s->leader != NULL || s->followers != NULL) {
        return;
    }
    coord_table_remove(&d->table, s);
    d->stream_bytes -= s->stream.len;
    coord_session_free(s);
}

/* Take follower c off its session; it becomes role. */
static void follower_detach(struct coordd *d, struct coordd_conn *c, enum conn_role role)
{
    struct coord_session *s = c->sess;

    if (c->fprev != NULL) {
        c->fprev->fnext = c->fnext;
    } else {
        s->followers = c->fnext;
    }
    if (c->fnext != NULL) {
        c->fnext->fprev = c->fprev;
    }
    c->fprev = NULL;
    c->fnext = NULL;
    s->n_followers--;
    c->sess = NULL;
    c->role = role;
    if (s->leader != NULL) {
        s->leader->followers_dirty = true;
        want_out(d, s->leader, true);
    }
    session_maybe_free(d, s);
}

/* Put c in CLOSING: it gets what is in out, then is closed (at the latest
 * after linger_ms). */
static void conn_linger(struct coordd *d, struct coordd_conn *c)
{
    c->role = CONN_CLOSING;
    c->close_at = now_ms() + d->o->linger_ms;
    d->n_closing++;
    want_out(d, c, true);
}

/* Write what c is owed. <0: the connection must be closed; 0 otherwise. */
static int conn_flush(struct coordd *d, struct coordd_conn *c)
{
    const char *p;
    size_t n;
    ssize_t w;

    for (;;) {
        if (c->out.len > 0) {
            p = c->out.ptr;
            n = c->out.len;
        } else if (c->role == CONN_LEADER && c->followers_dirty) {
            c->followers_dirty = false;
            if (coord_encode_followers(&c->out, (uint32_t)c->sess->n_followers) != CCP_OK) {
                return -1;
            }
            continue;
        } else if (c->role == CONN_FOLLOWER && c->cursor < c->sess->stream.len) {
            p = c->sess->stream.ptr + c->cursor;
            n = c->sess->stream.len - c->cursor;
        } else if (c->role == CONN_FOLLOWER && c->sess->finished) {
            follower_detach(d, c, CONN_IDLE); /* it has the whole stream */
            continue;
        } else if (c->role == CONN_CLOSING) {
            return -1; /* everything owed was written */
        } else {
            want_out(d, c, false);
            return 0;
        }
        w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want_out(d, c, true);
            return 0;
        }
        if (w <= 0) {
            return -1;
        }
        if (c->out.len > 0) {
            buf_consume(&c->out, (size_t)w);
        } else {
            c->cursor += (size_t)w;
        }
    }
}

/* Drop a follower that fell too far behind: finish the frame it is in the
 * middle of, then ABORT "slow", then close. */
static void drop_slow(struct coordd *d, struct coordd_conn *c)
{
    struct coord_session *s = c->sess;
    size_t end = coord_session_frame_end(s, c->cursor);
    bool ok;

    LOG_INFO("follower fell behind, dropped fd=%d lag_bytes=%zu", c->fd, s->stream.len - c->cursor);
    ok = buf_append(&c->out, s->stream.ptr + c->cursor, end - c->cursor) == CCP_OK &&
         coord_encode(&c->out, COORD_ABORT, "slow", 4, COORD_REASON_MAX) == CCP_OK;
    c->cursor = end;
    follower_detach(d, c, CONN_IDLE);
    if (!ok) {
        conn_close(d, c);
        return;
    }
    conn_linger(d, c);
    if (conn_flush(d, c) < 0) {
        conn_close(d, c);
    }
}

static bool follower_too_slow(const struct coordd *d, const struct coordd_conn *c)
{
    const struct coord_session *s = c->sess;
    size_t from = c->cursor > c->join_off ? c->cursor : c->join_off;
    size_t done = coord_session_frames_before(s, c->cursor);

    /* replayed frames are shared, so only what arrived after the join counts */
    if (done < c->join_frames) {
        done = c->join_frames;
    }
    return s->stream.len - from > d->o->queue_bytes_max || s->n_frames - done > d->o->queue_max;
}

/* Push new stream bytes to every follower; drop the ones too far behind. */
static void session_pump(struct coordd *d, struct coord_session *s)
{
    struct coordd_conn *c, *next;

    s->pumping = true;
    for (c = s->followers; c != NULL; c = next) {
        next = c->fnext;
        if (conn_flush(d, c) < 0) {
            conn_close(d, c);
        } else if (c->role == CONN_FOLLOWER && follower_too_slow(d, c)) {
            drop_slow(d, c);
        }
    }
    s->pumping = false;
    session_maybe_free(d, s);
}

/* The stream of s is over: store its terminal frame (errf: the leader's
 * ERROR frame; else END if ok, else ABORT reason), take it out of the table
 * so the next JOIN leads a new one, and let the followers finish. */
static void session_end(struct coordd *d, struct coord_session *s, bool ok, const char *reason,
                        const struct coord_frame *errf)
{
    struct coordd_conn *c, *next;
    size_t before = s->stream.len;
    enum ccp_err rc;

    coord_table_remove(&d->table, s);
    if (errf != NULL) {
        rc = coord_session_finish_error(s, errf->payload, errf->len);
        reason = "error answer";
    } else {
        rc = coord_session_finish(s, ok, reason);
    }
    if (rc != CCP_OK) {
        /* no terminal frame: the followers would wait forever, so close them */
        s->pumping = true;
        for (c = s->followers; c != NULL; c = next) {
            next = c->fnext;
            conn_close(d, c);
        }
        s->pumping = false;
    }
    d->stream_bytes += s->stream.len - before;
    if (s->leader != NULL) {
        s->leader->sess = NULL;
        s->leader->role = CONN_IDLE;
        s->leader->followers_dirty = false;
        s->leader = NULL;
    }
    LOG_DEBUG("session ended ok=%d reason=%s followers=%zu bytes=%zu", ok ? 1 : 0,
              reason != NULL ? reason : "", s->n_followers, s->stream.len);
    session_pump(d, s);
}

static void conn_close(struct coordd *d, struct coordd_conn *c)
{
    if (c->dead) {
        return;
    }
    if (c->role == CONN_LEADER) {
        session_end(d, c->sess, false, "leader gone", NULL);
    } else if (c->role == CONN_FOLLOWER) {
        follower_detach(d, c, CONN_IDLE);
    } else if (c->role == CONN_CLOSING) {
        d->n_closing--;
    }
    c->dead = true;
    epoll_ctl(d->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        d->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    d->n_conns--;
    c->prev = NULL;
    c->next = d->dead;
    d->dead = c;
}

static void free_dead(struct coordd *d)
{
    struct coordd_conn *c;

    while (d->dead != NULL) {
        c = d->dead;
        d->dead = c->next;
        buf_release(&c->in);
        buf_release(&c->out);
        ccp_free(c);
    }
}

static int on_join(struct coordd *d, struct coordd_conn *c, const struct coord_frame *f)
{
    struct coord_session *s;
    enum ccp_err rc;

    s = coord_table_find(&d->table, f->payload, f->len);
    if (s == NULL) {
        if (d->table.count >= d->o->max_sessions) {
            LOG_WARN("session limit reached, JOIN declined max_sessions=%zu", d->o->max_sessions);
            rc = coord_encode(&c->out, COORD_ABORT, "busy", 4, COORD_REASON_MAX);
            return rc == CCP_OK ? 0 : -1;
        }
        rc = coord_session_new(&d->table, f->payload, f->len, d->o->session_bytes_max, &s);
        if (rc != CCP_OK) {
            return -1;
        }
        s->leader = c;
        c->role = CONN_LEADER;
        c->sess = s;
        c->followers_dirty = false;
        rc = coord_encode(&c->out, COORD_LEAD, NULL, 0, 0);
        return rc == CCP_OK ? 0 : -1;
    }
    rc = coord_encode(&c->out, COORD_FOLLOW, NULL, 0, 0);
    if (rc != CCP_OK) {
        return -1;
    }
    c->role = CONN_FOLLOWER;
    c->sess = s;
    c->cursor = 0;
    c->join_off = s->stream.len;
    c->join_frames = s->n_frames;
    c->fprev = NULL;
    c->fnext = s->followers;
    if (s->followers != NULL) {
        s->followers->fprev = c;
    }
    s->followers = c;
    s->n_followers++;
    s->leader->followers_dirty = true;
    want_out(d, s->leader, true);
    return 0;
}

static int on_leader_frame(struct coordd *d, struct coordd_conn *c, const struct coord_frame *f)
{
    struct coord_session *s = c->sess;
    char reason[COORD_REASON_MAX + 1];
    size_t before = s->stream.len;
    enum ccp_err rc;

    switch (f->type) {
    case COORD_EVENT:
        rc = CCP_ERR_NOMEM;
        if (d->stream_bytes + COORD_FRAME_HEADER + f->len <= d->o->total_bytes_max) {
            rc = coord_session_event(s, f->payload, f->len);
        }
        d->stream_bytes += s->stream.len - before;
        if (rc != CCP_OK) {
            const char *why = rc == CCP_ERR_TOO_LARGE ? "too large" : "coordinator full";
            LOG_WARN("session aborted: %s bytes=%zu", why, s->stream.len);
            session_end(d, s, false, why, NULL);
            if (coord_encode(&c->out, COORD_ABORT, why, strlen(why), COORD_REASON_MAX) != CCP_OK) {
                return -1;
            }
            conn_linger(d, c);
            return 0;
        }
        session_pump(d, s);
        return 0;
    case COORD_END:
        session_end(d, s, true, NULL, NULL);
        return 0;
    case COORD_ABORT:
        memcpy(reason, f->payload, f->len);
        reason[f->len] = '\0';
        session_end(d, s, false, reason, NULL);
        return 0;
    case COORD_ERROR:
        if (s->n_frames > 0) {
            return -1; /* only a stream that never started can end this way */
        }
        LOG_DEBUG("session ends with an error answer status=%u followers=%zu",
                  (unsigned)(((unsigned)f->payload[0] << 8) | f->payload[1]), s->n_followers);
        session_end(d, s, false, NULL, f);
        return 0;
    default:
        return -1;
    }
}

static int on_frame(struct coordd *d, struct coordd_conn *c, const struct coord_frame *f)
{
    unsigned char v = COORD_PROTO_VERSION;

    switch (c->role) {
    case CONN_IDLE:
        if (f->type == COORD_HELLO) {
            return coord_encode(&c->out, COORD_HELLO, &v, 1, 1) == CCP_OK ? 0 : -1;
        }
        if (f->type == COORD_JOIN) {
            return on_join(d, c, f);
        }
        return -1;
    case CONN_LEADER:
        return on_leader_frame(d, c, f);
    case CONN_CLOSING:
        return 0; /* it is going away; ignore what it says */
    case CONN_FOLLOWER:
        break;
    }
    return -1; /* followers only listen */
}

/* Decode and handle every whole frame in c->in. <0: close c. */
static int conn_process(struct coordd *d, struct coordd_conn *c)
{
    struct coord_frame f;
    size_t off = 0, used;
    enum ccp_err rc;
    int r = 0;

    while (r == 0 && off < c->in.len) {
        rc = coord_decode(c->in.ptr + off, c->in.len - off, d->o->max_payload, &f, &used);
        if (rc == CCP_DECLINED) {
            break;
        }
        if (rc != CCP_OK) {
            LOG_WARN("bad frame from fd=%d, closing it", c->fd);
            return -1;
        }
        off += used;
        r = on_frame(d, c, &f);
        if (r < 0) {
            LOG_WARN("unexpected %s frame from fd=%d, closing it", coord_type_name(f.type), c->fd);
        }
    }
    buf_consume(&c->in, off);
    return r;
}

/* Read what is there. <0: close c. */
static int conn_read(struct coordd *d, struct coordd_conn *c)
{
    size_t room;
    ssize_t n;
    int i;

    for (i = 0; i < READS_PER_WAKE && !c->dead; i++) {
        room = c->in.max - c->in.len;
        if (room > READ_CHUNK) {
            room = READ_CHUNK;
        }
        if (room == 0 || buf_reserve(&c->in, room) != CCP_OK) {
            return -1;
        }
        n = recv(c->fd, c->in.ptr + c->in.len, room, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (n <= 0) {
            return -1; /* peer closed, or an error */
        }
        c->in.len += (size_t)n;
        c->in.ptr[c->in.len] = '\0';
        if (conn_process(d, c) < 0) {
            return -1;
        }
    }
    return 0;
}

static void on_conn_event(struct coordd *d, struct coordd_conn *c, uint32_t events)
{
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && conn_read(d, c) < 0) {
        conn_close(d, c);
        return;
    }
    if (!c->dead && conn_flush(d, c) < 0) {
        conn_close(d, c);
    }
}

static void on_accept(struct coordd *d, int lfd)
{
    struct epoll_event ev;
    struct coordd_conn *c;
    size_t outmax = d->o->max_payload + 2 * COORD_FRAME_HEADER + COORD_REASON_MAX + 64;
    int i, fd;

    for (i = 0; i < ACCEPTS_PER_WAKE; i++) {
        fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                LOG_WARN("accept: %s", strerror(errno));
            }
            return;
        }
        if (d->n_conns >= d->o->max_conns) {
            LOG_WARN("connection limit reached, closing new connection max_conns=%zu",
                     d->o->max_conns);
            close(fd);
            continue;
        }
        c = ccp_calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        buf_init(&c->in, d->o->max_payload + COORD_FRAME_HEADER);
        buf_init(&c->out, outmax);
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            ccp_free(c);
            continue;
        }
        c->next = d->conns;
        if (d->conns != NULL) {
            d->conns->prev = c;
        }
        d->conns = c;
        d->n_conns++;
    }
}

static void close_lingering(struct coordd *d)
{
    struct coordd_conn *c, *next;
    int64_t now = now_ms();

    for (c = d->conns; c != NULL; c = next) {
        next = c->next;
        if (c->role == CONN_CLOSING && c->close_at <= now) {
            conn_close(d, c);
        }
    }
}

/* Listen on a unix socket at path. A socket file nobody answers on is stale
 * (a daemon that died) and is replaced; a live one means another daemon runs. */
static int listen_unix(const char *path)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd = -1, probe;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        LOG_ERROR("socket path too long: %s", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path));
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            LOG_ERROR("%s exists and is not a socket; not replacing it", path);
            return -1;
        }
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0) {
            LOG_ERROR("socket: %s", strerror(errno));
            return -1;
        }
        if (connect(probe, (const struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(probe);
            LOG_ERROR("another coordinator is listening on %s", path);
            return -1;
        }
        close(probe);
        LOG_INFO("removing stale socket %s", path);
        if (unlink(path) != 0) {
            LOG_ERROR("unlink %s: %s", path, strerror(errno));
            return -1;
        }
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        LOG_ERROR("socket: %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0) {
        LOG_ERROR("listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    LOG_INFO("listening unix=%s", path);
    return fd;
}

/* Listen on "HOST:PORT" ("[::1]:PORT" for IPv6); port 0 picks a free one,
 * which is logged. */
static int listen_tcp(const char *addr)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[256], port[6], shost[NI_MAXHOST], sport[NI_MAXSERV];
    int fd = -1, one = 1;

    if (coord_parse_hostport(addr, strlen(addr), host, sizeof(host), port) != CCP_OK) {
        LOG_ERROR("--listen wants HOST:PORT, got %s", addr);
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        LOG_ERROR("cannot resolve --listen %s", host);
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0) {
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        LOG_ERROR("cannot listen on %s: %s", addr, strerror(errno));
        return -1;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        getnameinfo((struct sockaddr *)&ss, sl, shost, sizeof(shost), sport, sizeof(sport),
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
        LOG_INFO("listening tcp=%s:%s", shost, sport);
    }
    return fd;
}

static int add_fd(struct coordd *d, int *fdp)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = fdp; /* fixed fds are told apart by their address in struct coordd */
    return epoll_ctl(d->ep, EPOLL_CTL_ADD, *fdp, &ev);
}

static int setup(struct coordd *d)
{
    sigset_t mask;

    d->ep = epoll_create1(EPOLL_CLOEXEC);
    if (d->ep < 0) {
        LOG_ERROR("epoll_create1: %s", strerror(errno));
        return -1;
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, &d->oldmask) != 0) {
        return -1;
    }
    d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (d->sigfd < 0 || add_fd(d, &d->sigfd) != 0) {
        LOG_ERROR("signalfd: %s", strerror(errno));
        return -1;
    }
    if (coord_table_init(&d->table, d->o->max_sessions) != CCP_OK) {
        LOG_ERROR("out of memory");
        return -1;
    }
    if (d->o->socket_path != NULL) {
        d->ufd = listen_unix(d->o->socket_path);
        if (d->ufd < 0 || add_fd(d, &d->ufd) != 0) {
            return -1;
        }
    }
    if (d->o->listen_addr != NULL) {
        d->tfd = listen_tcp(d->o->listen_addr);
        if (d->tfd < 0 || add_fd(d, &d->tfd) != 0) {
            return -1;
        }
    }
    return 0;
}

static void teardown(struct coordd *d)
{
    while (d->conns != NULL) {
        conn_close(d, d->conns);
    }
    free_dead(d);
    if (d->ufd >= 0) {
        close(d->ufd);
        unlink(d->o->socket_path);
    }
    if (d->tfd >= 0) {
        close(d->tfd);
    }
    if (d->sigfd >= 0) {
        /* already on the way out: a second SIGTERM (timeout(1) sends one to
         * the process and one to its group) must not kill us half-closed */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        close(d->sigfd);
        sigprocmask(SIG_SETMASK, &d->oldmask, NULL);
    }
    if (d->ep >= 0) {
        close(d->ep);
    }
    coord_table_release(&d->table);
}

static void on_signal(struct coordd *d)
{
    struct signalfd_siginfo si;

    while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        LOG_INFO("signal %u, exiting", si.ssi_signo);
        d->stop = true;
    }
}

int coordd_run(const struct coordd_opts *o)
{
    struct epoll_event evs[MAX_EVENTS];
    struct coordd d;
    int n, i, rc = 1;

    memset(&d, 0, sizeof(d));
    d.o = o;
    d.ep = d.sigfd = d.ufd = d.tfd = -1;
    if (setup(&d) != 0) {
        goto out;
    }
    LOG_INFO("ccproxy-coordd %s ready queue_max=%zu queue_bytes_max=%zu max_payload=%zu",
             PACKAGE_VERSION, o->queue_max, o->queue_bytes_max, o->max_payload);
    while (!d.stop) {
        n = epoll_wait(d.ep, evs, MAX_EVENTS, d.n_closing > 0 ? 100 : -1);
        if (n < 0 && errno != EINTR) {
            LOG_ERROR("epoll_wait: %s", strerror(errno));
            goto out;
        }
        for (i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &d.sigfd) {
                on_signal(&d);
            } else if (p == &d.ufd) {
                on_accept(&d, d.ufd);
            } else if (p == &d.tfd) {
                on_accept(&d, d.tfd);
            } else if (!((struct coordd_conn *)p)->dead) {
                on_conn_event(&d, p, evs[i].events);
            }
        }
        if (d.n_closing > 0) {
            close_lingering(&d);
        }
        free_dead(&d);
    }
    rc = 0;
out:
    teardown(&d);
    return rc;
}
