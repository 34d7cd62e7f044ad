/* bench/load_client: the HTTP/1.1 load client of bench/run.sh for time to
 * first byte, total latency and completeness of each request, up to
 * thousands at once (one epoll thread, one connection per request,
 * Connection: close), so that the client is not what a run measures.
 *
 * Usage: load_client --url http://127.0.0.1:PORT/PATH --body FILE
 *                    [--n 100] [--concurrency 1] [--marker TEXT]
 *                    [--timeout SECONDS] [--nonce TEXT [--unique]]
 * --nonce puts TEXT (with --unique: TEXT-<i>, a different one per request)
 * and a space at the start of the body's first "text" (else "content")
 * string, so that the response cache and the fan-out tell requests apart.
 * Prints one JSON object: n, ok (2xx), complete (2xx and the marker seen),
 * errors, elapsed_s, rps, p50_ms, p99_ms, ttfb_p50_ms, ttfb_p99_ms, cache
 * (count of each x-ccproxy-cache value), hit_p50_ms, hit_p99_ms. Time runs
 * from just before connect(); the first byte is the first one after the
 * response headers. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 8192
#define CACHE_KINDS 8

struct req {
    int fd;
    size_t id;
    char *out; /* request bytes */
    size_t out_len, out_off;
    char head[HEAD_MAX]; /* response headers until complete */
    size_t head_len;
    bool head_done, chunked, saw_marker;
    long long body_left; /* Content-Length still to come, or -1 */
    char tail[16];       /* last body bytes (chunked end, marker across reads) */
    size_t tail_len;
    int status;
    char cache[32];
    double t0, ttfb;
};

struct result {
    double ms, ttfb;
    int status;
    bool ok, complete, hit, has_ttfb;
    char cache[32];
};

static const char *marker;
static size_t marker_len;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n = -1;

    if (f != NULL && fseek(f, 0, SEEK_END) == 0) {
        n = ftell(f);
    }
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        p = malloc((size_t)n + 1);
    }
    if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "load_client: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The p-th percentile as the pct() of earlier runs' client took it: the
 * round(p/100*n + 0.5)-th smallest, halves to even. */
static void print_pct(const char *name, double *xs, size_t n, double p, bool comma)
{
    long k;

    if (n == 0) {
        printf("\"%s\": null%s", name, comma ? ", " : "");
        return;
    }
    qsort(xs, n, sizeof(*xs), cmp_double);
    k = (long)nearbyint(p / 100.0 * (double)n + 0.5) - 1;
    if (k < 0) {
        k = 0;
    }
    if (k > (long)n - 1) {
        k = (long)n - 1;
    }
    printf("\"%s\": %.3f%s", name, xs[k], comma ? ", " : "");
}

/* One response header's value (lower-case name with ':'), or NULL. */
static const char *header(const struct req *r, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name), i;

    for (i = 0; i + nlen + 2 < r->head_len; i++) {
        if (r->head[i] == '\n' && strncasecmp(r->head + i + 1, name, nlen) == 0) {
            const char *v = r->head + i + 1 + nlen, *e;

            while (*v == ' ') {
                v++;
            }
            e = strstr(v, "\r\n");
            *vlen = e != NULL ? (size_t)(e - v) : strlen(v);
            return v;
        }
    }
    return NULL;
}

static void note_tail(struct req *r, const char *p, size_t n)
{
    size_t keep = sizeof(r->tail);

    if (marker_len > 0 && !r->saw_marker) {
        /* the marker may straddle reads: look at the tail plus this read */
        char *both = malloc(r->tail_len + n + 1);

        if (both != NULL) {
            memcpy(both, r->tail, r->tail_len);
            memcpy(both + r->tail_len, p, n);
            both[r->tail_len + n] = '\0';
            r->saw_marker = memmem(both, r->tail_len + n, marker, marker_len) != NULL;
            free(both);
        }
    }
    if (n >= keep) {
        memcpy(r->tail, p + n - keep, keep);
        r->tail_len = keep;
    } else {
        size_t old = r->tail_len + n > keep ? keep - n : r->tail_len;

        memmove(r->tail, r->tail + r->tail_len - old, old);
        memcpy(r->tail + old, p, n);
        r->tail_len = old + n;
    }
}

/* Body bytes p[0..n): true when the response is complete. */
static bool on_body(struct req *r, const char *p, size_t n)
{
    if (n > 0 && r->ttfb < 0) {
        r->ttfb = now_ms() - r->t0;
    }
    note_tail(r, p, n);
    if (r->body_left >= 0) {
        r->body_left -= (long long)n;
        return r->body_left <= 0;
    }
    return r->chunked && r->tail_len >= 5 && memcmp(r->tail + r->tail_len - 5, "0\r\n\r\n", 5) == 0;
}

/* Bytes read: true when the response is complete. */
static bool on_data(struct req *r, const char *p, size_t n)
{
    if (!r->head_done) {
        size_t take = n < HEAD_MAX - 1 - r->head_len ? n : HEAD_MAX - 1 - r->head_len;
        char *end;
        const char *v;
        size_t vlen, used;

        memcpy(r->head + r->head_len, p, take);
        r->head_len += take;
        r->head[r->head_len] = '\0';
        end = strstr(r->head, "\r\n\r\n");
        if (end == NULL) {
            return false;
        }
        used = (size_t)(end + 4 - r->head) - (r->head_len - take);
        r->head_len = (size_t)(end + 2 - r->head);
        r->head[r->head_len] = '\0';
        r->head_done = true;
        r->status = r->head_len > 12 ? atoi(r->head + 9) : 0;
        v = header(r, "content-length:", &vlen);
        r->body_left = v != NULL ? atoll(v) : -1;
        v = header(r, "transfer-encoding:", &vlen);
        r->chunked = v != NULL && vlen >= 7 && strncasecmp(v, "chunked", 7) == 0;
        v = header(r, "x-ccproxy-cache:", &vlen);
        if (v != NULL && vlen < sizeof(r->cache)) {
            memcpy(r->cache, v, vlen);
            r->cache[vlen] = '\0';
        }
        p += used;
        n -= used;
        if (r->body_left == 0) {
            return true;
        }
    }
    return on_body(r, p, n);
}

static char *build_request(const char *host, int port, const char *path, const char *body,
                           size_t body_len, const char *tag, size_t *len)
{
    static const char *marks[] = {"\"text\":\"", "\"content\":\""};
    size_t at = body_len, tag_len = tag != NULL ? strlen(tag) + 1 : 0, i, cap;
    char *out;
    int k;

    if (tag != NULL) {
        for (i = 0; i < 2 && at == body_len; i++) {
            const char *m = memmem(body, body_len, marks[i], strlen(marks[i]));

            if (m != NULL) {
                at = (size_t)(m - body) + strlen(marks[i]);
            }
        }
        if (at == body_len) {
            fprintf(stderr, "load_client: no text string in the body for --nonce\n");
            exit(2);
        }
    }
    cap = body_len + tag_len + 512 + strlen(path) + strlen(host);
    out = malloc(cap);
    if (out == NULL) {
        exit(3);
    }
    k = snprintf(out, cap,
                 "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                 "x-api-key: bench\r\nanthropic-version: 2023-06-01\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 path, host, port, body_len + tag_len);
    *len = (size_t)k;
    memcpy(out + *len, body, at);
    *len += at;
    if (tag != NULL) {
        memcpy(out + *len, tag, tag_len - 1);
        *len += tag_len - 1;
        out[(*len)++] = ' ';
    }
    memcpy(out + *len, body + at, body_len - at);
    *len += body_len - at;
    return out;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *body_path = NULL, *nonce = NULL;
    size_t n = 100, conc = 1, started = 0, finished = 0, i, body_len, nres = 0;
    double timeout_ms = 60000.0, t_start, elapsed;
    bool unique = false;
    char host[256], path[1024], *body;
    int port = 80, ep;
    struct sockaddr_in sa;
    struct req **live;
    struct result *res;
    struct epoll_event evs[256];

    for (i = 1; i < (size_t)argc; i++) {
        const char *a = argv[i], *v = i + 1 < (size_t)argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--unique") == 0) {
            unique = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "load_client: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--url") == 0) {
            url = v;
        } else if (strcmp(a, "--body") == 0) {
            body_path = v;
        } else if (strcmp(a, "--n") == 0) {
            n = strtoul(v, NULL, 10);
        } else if (strcmp(a, "--concurrency") == 0) {
            conc = strtoul(v, NULL, 10);
        } else if (strcmp(a, "--marker") == 0) {
            marker = v;
        } else if (strcmp(a, "--timeout") == 0) {
            timeout_ms = strtod(v, NULL) * 1000.0;
        } else if (strcmp(a, "--nonce") == 0) {
            nonce = v;
        } else {
            fprintf(stderr, "load_client: unknown option %s\n", a);
            return 2;
        }
    }
    if (url == NULL || body_path == NULL || n == 0 || conc == 0 ||
        sscanf(url, "http://%255[^:/]:%d%1023s", host, &port, path) != 3) {
        fprintf(stderr,
                "usage: load_client --url http://HOST:PORT/PATH --body FILE [--n N] "
                "[--concurrency C] [--marker TEXT] [--timeout S] [--nonce TEXT [--unique]]\n");
        return 2;
    }
    marker_len = marker != NULL ? strlen(marker) : 0;
    if (marker_len >= sizeof(((struct req *)0)->tail)) {
        fprintf(stderr, "load_client: --marker longer than %zu bytes\n",
                sizeof(((struct req *)0)->tail) - 1);
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sa.sin_addr) !=
        1) {
        fprintf(stderr, "load_client: %s is not an IPv4 address\n", host);
        return 2;
    }
    body = read_file(body_path, &body_len);
    if (conc > n) {
        conc = n;
    }
    ep = epoll_create1(0);
    live = calloc(conc, sizeof(*live));
    res = calloc(n, sizeof(*res));
    if (ep < 0 || live == NULL || res == NULL) {
        return 3;
    }
    t_start = now_ms();
    while (finished < n) {
        double now;
        int k, j;

        /* start requests up to the concurrency */
        for (i = 0; i < conc && started < n; i++) {
            struct req *r;
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN};
            char tag[256];
            int one = 1;

            if (live[i] != NULL) {
                continue;
            }
            r = calloc(1, sizeof(*r));
            if (r == NULL) {
                return 3;
            }
            r->id = started++;
            r->ttfb = -1;
            r->body_left = -1;
            if (nonce != NULL) {
                if (unique) {
                    snprintf(tag, sizeof(tag), "%s-%zu", nonce, r->id);
                } else {
                    snprintf(tag, sizeof(tag), "%s", nonce);
                }
            }
            r->out = build_request(host, port, path, body, body_len, nonce != NULL ? tag : NULL,
                                   &r->out_len);
            r->t0 = now_ms();
            r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (r->fd < 0) {
                perror("load_client: socket");
                return 3;
            }
            setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            /* a refused connect shows as EPOLLERR: the send fails, an error */
            (void)connect(r->fd, (struct sockaddr *)&sa, sizeof(sa));
            ev.data.u64 = i;
            epoll_ctl(ep, EPOLL_CTL_ADD, r->fd, &ev);
            live[i] = r;
        }
        k = epoll_wait(ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), 50);
        now = now_ms();
        for (j = 0; j < k; j++) {
            size_t slot = (size_t)evs[j].data.u64;
            struct req *r = live[slot];
            bool end = false, failed = false;

            if (r == NULL) {
                continue;
            }
            if (r->out_off < r->out_len && (evs[j].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                ssize_t w = send(r->fd, r->out + r->out_off, r->out_len - r->out_off, MSG_NOSIGNAL);

                if (w > 0) {
                    r->out_off += (size_t)w;
                    if (r->out_off == r->out_len) {
                        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = slot};

                        epoll_ctl(ep, EPOLL_CTL_MOD, r->fd, &ev);
                    }
                } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                    failed = true;
                }
            }
            if (!failed && (evs[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                char buf[65536];

                for (;;) {
                    ssize_t got = recv(r->fd, buf, sizeof(buf), 0);

                    if (got > 0) {
                        if (on_data(r, buf, (size_t)got)) {
                            end = true;
                            break;
                        }
                        continue;
                    }
                    if (got == 0) {
                        end = true; /* Connection: close */
                    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                        failed = true;
                    }
                    break;
                }
            }
            if (end || failed) {
                struct result *x = &res[nres++];

                x->status = failed || !r->head_done ? 0 : r->status;
                x->ok = x->status >= 200 && x->status < 300;
                x->complete = x->ok && (marker_len == 0 || r->saw_marker);
                x->ms = now - r->t0;
                x->has_ttfb = r->ttfb >= 0;
                x->ttfb = r->ttfb;
                memcpy(x->cache, r->cache, sizeof(x->cache));
                x->hit = strcmp(r->cache, "hit") == 0;
                close(r->fd);
                free(r->out);
                free(r);
                live[slot] = NULL;
                finished++;
            }
        }
        /* requests past their time are errors */
        for (i = 0; i < conc; i++) {
            struct req *r = live[i];

            if (r != NULL && now - r->t0 > timeout_ms) {
                struct result *x = &res[nres++];

                memset(x, 0, sizeof(*x));
                close(r->fd);
                free(r->out);
                free(r);
                live[i] = NULL;
                finished++;
            }
        }
    }
    elapsed = now_ms() - t_start;
    {
        double *ms = calloc(n, sizeof(double)), *tt = calloc(n, sizeof(double)),
               *hits = calloc(n, sizeof(double));
        size_t nms = 0, ntt = 0, nhits = 0, ok = 0, complete = 0;
        char kinds[CACHE_KINDS][32];
        size_t counts[CACHE_KINDS], nkinds = 0, c;

        if (ms == NULL || tt == NULL || hits == NULL) {
            return 3;
        }
        for (i = 0; i < nres; i++) {
            struct result *x = &res[i];

            ok += x->ok;
            complete += x->complete;
            if (!x->ok) {
                continue;
            }
            ms[nms++] = x->ms;
            if (x->has_ttfb) {
                tt[ntt++] = x->ttfb;
            }
            if (x->hit) {
                hits[nhits++] = x->ms;
            }
            if (x->cache[0] != '\0') {
                for (c = 0; c < nkinds && strcmp(kinds[c], x->cache) != 0; c++) {
                }
                if (c == nkinds && nkinds < CACHE_KINDS) {
                    memcpy(kinds[nkinds], x->cache, sizeof(kinds[0]));
                    counts[nkinds++] = 0;
                }
                if (c < nkinds) {
                    counts[c]++;
                }
            }
        }
        printf("{\"n\": %zu, \"ok\": %zu, \"complete\": %zu, \"errors\": %zu, "
               "\"elapsed_s\": %.6f, \"rps\": %.3f, ",
               n, ok, complete, n - ok, elapsed / 1e3, (double)n / (elapsed / 1e3));
        print_pct("p50_ms", ms, nms, 50, true);
        print_pct("p99_ms", ms, nms, 99, true);
        print_pct("ttfb_p50_ms", tt, ntt, 50, true);
        print_pct("ttfb_p99_ms", tt, ntt, 99, true);
        printf("\"cache\": {");
        for (c = 0; c < nkinds; c++) {
            printf("%s\"%s\": %zu", c > 0 ? ", " : "", kinds[c], counts[c]);
        }
        printf("}, ");
        print_pct("hit_p50_ms", hits, nhits, 50, true);
        print_pct("hit_p99_ms", hits, nhits, 99, false);
        printf("}\n");
    }
    return 0;
}
