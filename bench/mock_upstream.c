/* bench/mock_upstream.c: a fast mock OpenAI upstream for the benchmarks (not
 * part of the product). One epoll thread, HTTP/1.1 keep-alive; slow streams
 * are timerfds, so 500 of them cost nothing. See bench/README in
 * docs/benchmarks.md.
 *
 *   POST .../chat/completions  canned chat.completion, or (body has
 *        "stream":true) an SSE stream of N content chunks; markers anywhere in
 *        the body override the defaults: mock_chunks=N, mock_delay_ms=N.
 *   GET  /stats                {"requests":..,"connections":..,"open":..}
 *   anything else              404
 *
 * Usage: mock_upstream [--port N] [--port-file F] [--chunks N] [--delay-ms N]
 *                      [--text-bytes N]
 * Listens on 127.0.0.1 only. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/banned.h"

#define MAX_HEADER (64 * 1024)
#define MAX_BODY (64 * 1024 * 1024)
#define MAX_EVENTS 256

struct conn {
    int fd;
    int tfd; /* slow stream timer, -1 if none */
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_off, out_cap;
    bool want_out;    /* EPOLLOUT armed */
    bool streaming;   /* a slow stream is in progress */
    bool close_after; /* the request said Connection: close */
    long chunks_left, chunk_no;
};

static struct {
    long chunks;
    long delay_ms;
    long text_bytes;
    unsigned long requests, connections, open;
    int ep;
    char *canned; /* non-stream response head + body */
    size_t canned_len;
} g;

/* Epoll user data: a conn pointer with the low bit set for its timer. */
static uint64_t tag(struct conn *c, bool timer)
{
    return (uint64_t)(uintptr_t)c | (timer ? 1u : 0u);
}

static void die(const char *what)
{
    fprintf(stderr, "mock_upstream: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void out_reserve(struct conn *c, size_t n)
{
    if (c->out_len + n <= c->out_cap) {
        return;
    }
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_len + n <= c->out_cap) {
            return;
        }
    }
    while (c->out_len + n > c->out_cap) {
        c->out_cap = c->out_cap == 0 ? 16384 : c->out_cap * 2;
    }
    c->out = realloc(c->out, c->out_cap);
    if (c->out == NULL) {
        die("realloc");
    }
}

static void out_add(struct conn *c, const char *p, size_t n)
{
    out_reserve(c, n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* One HTTP chunk holding an SSE "data: <json>\n\n" event. */
static void out_sse(struct conn *c, const char *json)
{
    char head[32];
    size_t n = strlen(json) + 8; /* "data: " + "\n\n" */
    int h = snprintf(head, sizeof(head), "%zx\r\n", n);

    out_add(c, head, (size_t)h);
    out_add(c, "data: ", 6);
    out_add(c, json, strlen(json));
    out_add(c, "\n\n\r\n", 4);
}

static void out_chunk_no(struct conn *c, long i)
{
    char json[384];

    snprintf(
        json, sizeof(json),
        "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
        "\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
        "\"word%ld \"},\"finish_reason\":null}]}",
        i);
    out_sse(c, json);
}

static void out_stream_end(struct conn *c, long chunks)
{
    char json[384];

    snprintf(
        json, sizeof(json),
        "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
        "\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
        "\"stop\"}],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":%ld,"
        "\"total_tokens\":%ld}}",
        chunks, chunks + 100);
    out_sse(c, json);
    out_sse(c, "[DONE]");
    out_add(c, "0\r\n\r\n", 5);
}

static void flush_out(struct conn *c);
static void conn_close(struct conn *c);
static void on_input(struct conn *c);

static void arm(struct conn *c, bool want_out)
{
    struct epoll_event ev;

    if (c->want_out == want_out) {
        return;
    }
    c->want_out = want_out;
    ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0u);
    ev.data.u64 = tag(c, false);
    epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* A number after `marker` in the body, or def. */
static long marker(const char *body, size_t n, const char *m, long def)
{
    const char *p = memmem(body, n, m, strlen(m));
    long v = 0;

    if (p == NULL) {
        return def;
    }
    p += strlen(m);
    while (p < body + n && *p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        p++;
    }
    return v;
}

static void start_stream(struct conn *c, const char *body, size_t n)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";
    long chunks = marker(body, n, "mock_chunks=", g.chunks);
    long delay = marker(body, n, "mock_delay_ms=", g.delay_ms);
    long i;

    out_add(c, head, sizeof(head) - 1);
    out_sse(c, "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":"
               "1700000000,\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"delta\":"
               "{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}");
    if (delay <= 0 || chunks <= 0) {
        for (i = 0; i < chunks; i++) {
            out_chunk_no(c, i);
        }
        out_stream_end(c, chunks);
        return;
    }
    /* slow: one chunk per timer tick */
    {
        struct itimerspec its;
        struct epoll_event ev;

        if (c->tfd < 0) {
            c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
            if (c->tfd < 0) {
                die("timerfd_create");
            }
            ev.events = EPOLLIN;
            ev.data.u64 = tag(c, true);
            epoll_ctl(g.ep, EPOLL_CTL_ADD, c->tfd, &ev);
        }
        memset(&its, 0, sizeof(its));
        its.it_value.tv_sec = delay / 1000;
        its.it_value.tv_nsec = (delay % 1000) * 1000000L;
        its.it_interval = its.it_value;
        timerfd_settime(c->tfd, 0, &its, NULL);
        c->streaming = true;
        c->chunks_left = chunks;
        c->chunk_no = 0;
    }
}

static void on_tick(struct conn *c)
{
    uint64_t n = 0;
    struct itimerspec off;

    if (read(c->tfd, &n, sizeof(n)) != (ssize_t)sizeof(n) || !c->streaming) {
        return;
    }
    while (n-- > 0 && c->chunks_left > 0) {
        out_chunk_no(c, c->chunk_no++);
        c->chunks_left--;
    }
    if (c->chunks_left == 0) {
        out_stream_end(c, c->chunk_no);
        c->streaming = false;
        memset(&off, 0, sizeof(off));
        timerfd_settime(c->tfd, 0, &off, NULL);
    }
    flush_out(c);
    if (c->fd >= 0 && !c->streaming && c->in_len > 0) {
        on_input(c); /* a request that came in during the stream */
    }
}

static void answer_stats(struct conn *c)
{
    char body[256], head[128];
    int bn = snprintf(body, sizeof(body), "{\"requests\":%lu,\"connections\":%lu,\"open\":%lu}\n",
                      g.requests, g.connections, g.open);
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\n\r\n",
                      bn);

    out_add(c, head, (size_t)hn);
    out_add(c, body, (size_t)bn);
}

static void answer_404(struct conn *c)
{
    static const char r[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

    out_add(c, r, sizeof(r) - 1);
}

/* Handle complete requests in c->in; keep a partial one. */
static void on_input(struct conn *c)
{
    size_t off = 0;

    while (!c->streaming) {
        char *p = c->in + off;
        size_t avail = c->in_len - off;
        char *end = memmem(p, avail, "\r\n\r\n", 4);
        size_t hlen, clen = 0, i;
        const char *body;

        if (end == NULL) {
            if (avail > MAX_HEADER) {
                conn_close(c);
                return;
            }
            break;
        }
        hlen = (size_t)(end - p) + 4;
        for (i = 0; i + 16 < hlen; i++) {
            if ((p[i] == '\n') && strncasecmp(p + i + 1, "content-length:", 15) == 0) {
                clen = strtoul(p + i + 16, NULL, 10);
                break;
            }
        }
        for (i = 0; i + 18 < hlen; i++) {
            if ((p[i] == '\n') && strncasecmp(p + i + 1, "connection: close", 17) == 0) {
                c->close_after = true;
                break;
            }
        }
        if (clen > MAX_BODY) {
            conn_close(c);
            return;
        }
        if (avail < hlen + clen) {
            break;
        }
        body = p + hlen;
        if (strncmp(p, "POST ", 5) == 0 && memmem(p, hlen, "/chat/completions ", 18) != NULL) {
            g.requests++;
            if (memmem(body, clen, "\"stream\":true", 13) != NULL ||
                memmem(body, clen, "\"stream\": true", 14) != NULL) {
                start_stream(c, body, clen);
            } else {
                out_add(c, g.canned, g.canned_len);
            }
        } else if (strncmp(p, "GET /stats ", 11) == 0) {
            answer_stats(c);
        } else {
            answer_404(c);
        }
        off += hlen + clen;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    flush_out(c);
}

static void flush_out(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            arm(c, true);
            return;
        }
        if (w < 0) {
            conn_close(c);
            return;
        }
        c->out_off += (size_t)w;
    }
    c->out_off = 0;
    c->out_len = 0;
    arm(c, false);
    if (c->close_after && !c->streaming) {
        conn_close(c);
    }
}

static void conn_close(struct conn *c)
{
    /* closed connections are kept (fd -1) until the end of this epoll batch */
    if (c->fd < 0) {
        return;
    }
    epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (c->tfd >= 0) {
        epoll_ctl(g.ep, EPOLL_CTL_DEL, c->tfd, NULL);
        close(c->tfd);
        c->tfd = -1;
    }
    c->streaming = false;
    g.open--;
}

static void on_readable(struct conn *c)
{
    for (;;) {
        ssize_t r;

        if (c->in_cap - c->in_len < 65536) {
            c->in_cap = c->in_cap == 0 ? 131072 : c->in_cap * 2;
            c->in = realloc(c->in, c->in_cap);
            if (c->in == NULL) {
                die("realloc");
            }
        }
        r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (r <= 0) {
            conn_close(c);
            return;
        }
        c->in_len += (size_t)r;
    }
    on_input(c);
}

static void make_canned(void)
{
    char *text = malloc((size_t)g.text_bytes + 1);
    char *body;
    size_t cap = (size_t)g.text_bytes + 1024;
    int bn, hn;
    long i;

    body = malloc(cap);
    g.canned = malloc(cap + 256);
    if (text == NULL || body == NULL || g.canned == NULL) {
        die("malloc");
    }
    for (i = 0; i < g.text_bytes; i++) {
        text[i] = (i % 6 == 5) ? ' ' : (char)('a' + i % 26);
    }
    text[g.text_bytes] = '\0';
    bn =
        snprintf(body, cap,
                 "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1700000000,"
                 "\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                 "\"assistant\",\"content\":\"%s\"},\"finish_reason\":\"stop\"}],\"usage\":{"
                 "\"prompt_tokens\":100,\"completion_tokens\":50,\"total_tokens\":150}}",
                 text);
    hn = snprintf(g.canned, cap + 256,
                  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
                  bn);
    memcpy(g.canned + hn, body, (size_t)bn);
    g.canned_len = (size_t)hn + (size_t)bn;
    free(text);
    free(body);
}

static long num_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "mock_upstream: %s needs a value\n", argv[*i]);
        exit(2);
    }
    (*i)++;
    return strtol(argv[*i], NULL, 10);
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    struct epoll_event ev, evs[MAX_EVENTS];
    const char *port_file = NULL;
    long port = 0;
    int lfd, one = 1, i;

    g.chunks = 100;
    g.text_bytes = 800;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0) {
            port = num_arg(argc, argv, &i);
        } else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
            port_file = argv[++i];
        } else if (strcmp(argv[i], "--chunks") == 0) {
            g.chunks = num_arg(argc, argv, &i);
        } else if (strcmp(argv[i], "--delay-ms") == 0) {
            g.delay_ms = num_arg(argc, argv, &i);
        } else if (strcmp(argv[i], "--text-bytes") == 0) {
            g.text_bytes = num_arg(argc, argv, &i);
        } else {
            fprintf(stderr, "usage: mock_upstream [--port N] [--port-file F] [--chunks N] "
                            "[--delay-ms N] [--text-bytes N]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    make_canned();

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        die("socket");
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 4096) != 0) {
        die("bind/listen");
    }
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    if (port_file != NULL) {
        FILE *f = fopen(port_file, "w");

        if (f == NULL) {
            die(port_file);
        }
        fprintf(f, "%u\n", ntohs(sa.sin_port));
        fclose(f);
    } else {
        printf("%u\n", ntohs(sa.sin_port));
        fflush(stdout);
    }

    g.ep = epoll_create1(EPOLL_CLOEXEC);
    if (g.ep < 0) {
        die("epoll_create1");
    }
    ev.events = EPOLLIN;
    ev.data.u64 = 0;
    epoll_ctl(g.ep, EPOLL_CTL_ADD, lfd, &ev);

    for (;;) {
        struct conn *dead[MAX_EVENTS];
        int n = epoll_wait(g.ep, evs, MAX_EVENTS, -1), nd = 0, k;

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            die("epoll_wait");
        }
        for (k = 0; k < n; k++) {
            uint64_t u = evs[k].data.u64;
            struct conn *c = (struct conn *)(uintptr_t)(u & ~(uint64_t)1);

            if (u == 0) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    struct conn *nc;

                    if (fd < 0) {
                        break;
                    }
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    nc = calloc(1, sizeof(*nc));
                    if (nc == NULL) {
                        die("calloc");
                    }
                    nc->fd = fd;
                    nc->tfd = -1;
                    ev.events = EPOLLIN;
                    ev.data.u64 = tag(nc, false);
                    epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev);
                    g.connections++;
                    g.open++;
                }
                continue;
            }
            if (c->fd < 0) {
                continue;
            }
            if (u & 1) {
                on_tick(c);
            } else {
                if (evs[k].events & EPOLLOUT) {
                    flush_out(c);
                }
                if (c->fd >= 0 && (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                    on_readable(c);
                    if (c->fd >= 0 && !c->streaming && c->in_len > 0) {
                        on_input(c);
                    }
                }
            }
            if (c->fd < 0) {
                dead[nd++] = c;
            }
        }
        for (k = 0; k < nd; k++) {
            int j, seen = 0;

            for (j = 0; j < k; j++) {
                seen |= dead[j] == dead[k];
            }
            if (!seen) {
                free(dead[k]->in);
                free(dead[k]->out);
                free(dead[k]);
            }
        }
    }
}
