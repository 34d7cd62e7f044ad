/* fcgi/handler.c: one request from start to its JSON log line: request id,
 * path and method routing, the bounded body read, and answer helpers. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/str.h"
#include "fcgi/fanout.h"
#include "fcgi/handler.h"
#include "fcgi/handler_int.h"
#include "translate/bpe.h"

#include "common/banned.h"

enum route {
    ROUTE_NONE,
    ROUTE_MESSAGES,
    ROUTE_COUNT_TOKENS,
    ROUTE_MODELS,
    ROUTE_HEALTH,
    ROUTE_METRICS_JSON,
    ROUTE_METRICS_PROM,
    ROUTE_STATUS
};

struct route_entry {
    const char *path;
    bool prefix; /* matches path + "/<something>" */
    bool post;   /* POST only; otherwise GET and HEAD */
    enum route route;
};

static const struct route_entry routes[] = {
    {"/v1/messages", false, true, ROUTE_MESSAGES},
    {"/v1/messages/count_tokens", false, true, ROUTE_COUNT_TOKENS},
    {"/v1/models", false, false, ROUTE_MODELS},
    {"/v1/models", true, false, ROUTE_MODELS},
    {"/", false, false, ROUTE_HEALTH},
    {"/health", false, false, ROUTE_HEALTH},
    {"/api/hello", false, false, ROUTE_HEALTH},
    {"/v1/metrics", false, false, ROUTE_METRICS_JSON},
    {"/metrics", false, false, ROUTE_METRICS_PROM},
    {"/status", false, false, ROUTE_STATUS},
};

enum ccp_err wk_worker_init(struct wk_worker *w, const struct conf *c, struct wk_rcache *rc)
{
    size_t big =
        c->max_body_bytes > c->max_upstream_bytes ? c->max_body_bytes : c->max_upstream_bytes;

    char msg[256];
    enum ccp_err err;

    memset(w, 0, sizeof(*w));
    w->conf = c;
    w->rc = rc;
    /* a translated body may grow (escaping, wrappers): twice the biggest input */
    err = wk_opts_init(&w->opts, &w->rules, c, 2 * big, msg, sizeof(msg));
    if (err != CCP_OK) {
        LOG_ERROR("%s", msg);
        return err;
    }
    w->up = wk_upstream_new(c);
    if (w->up == NULL) {
        return CCP_ERR_NOMEM;
    }
    return CCP_OK;
}

void wk_worker_release(struct wk_worker *w)
{
    wk_upstream_free(w->up);
    w->up = NULL;
    tr_bpe_scratch_free(w->bpe);
    w->bpe = NULL;
    wk_fanout_conns_free(w->fanout);
    w->fanout = NULL;
}

void wk_server_tools_warning(const struct tr_reqinfo *info, char *out, size_t cap)
{
    char name[64];
    size_t i, n = 0;

    /* only the tool's name, in header-safe characters: "web_search_20250305" -> "web_search" */
    for (i = 0; info->server_tool[i] != '\0' && n + 1 < sizeof(name); i++) {
        char ch = info->server_tool[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '-' ||
                  (ch >= '0' && ch <= '9');

        if (!ok) {
            break;
        }
        name[n++] = ch;
    }
    name[n] = '\0';
    /* drop a trailing _<date> version */
    if (n > 9 && name[n - 9] == '_' && strspn(name + n - 8, "0123456789") == 8) {
        name[n - 9] = '\0';
    }
    snprintf(out, cap, "x-ccproxy-warning: dropped server tools: %s%s\r\n",
             name[0] != '\0' ? name : "unknown",
             info->server_tools_dropped > 1 ? " (and more)" : "");
}

long wk_ms_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long)(t1.tv_sec - t0->tv_sec) * 1000L + (long)(t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* Ids and retry jitter need to be unique and spread, not secret: each
 * thread seeds a 64-bit state once from the kernel (getrandom, or the clock
 * and an address if it has none) and then steps it with splitmix64, so a
 * request id, a message id or a jitter costs no system call. */
static _Thread_local uint64_t id_state;
static _Thread_local bool id_seeded;

static void id_seed(void)
{
    uint64_t x = 0;
    ssize_t got;

    do {
        got = getrandom(&x, sizeof(x), GRND_NONBLOCK);
    } while (got < 0 && errno == EINTR);
    if (got != (ssize_t)sizeof(x)) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec ^
            (uint64_t)(uintptr_t)&ts;
    }
    id_state = x;
    id_seeded = true;
}

uint64_t wk_random_u64(void)
{
    uint64_t z;

    if (!id_seeded) {
        id_seed();
    }
    id_state += 0x9e3779b97f4a7c15ULL;
    z = id_state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void wk_random_hex(char *buf, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t x = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (i % 16 == 0) {
            x = wk_random_u64();
        }
        buf[i] = hex[x & 0xf];
        x >>= 4;
    }
    buf[n] = '\0';
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 529:
        return "Overloaded";
    default:
        return "Status";
    }
}

int wk_send_head(struct wk_req *r, int status, const char *ctype, const char *extra)
{
    char head[1024], cache[48] = "", warn[128] = "";
    int n;

    CCP_ASSERT(!r->sent_head);
    r->sent_head = true;
    r->status = status;
    r->ttfb_ms = wk_ms_since(&r->t0);
    if (r->cache != WK_CACHE_OFF) {
        snprintf(cache, sizeof(cache), "x-ccproxy-cache: %s\r\n", wk_cache_state_name(r->cache));
    }
    if (r->have_info && r->info.server_tools_dropped > 0) {
        wk_server_tools_warning(&r->info, warn, sizeof(warn));
    }
    n = snprintf(head, sizeof(head),
                 "Status: %d %s\r\nContent-Type: %s\r\nrequest-id: %s\r\n%s%s%s\r\n", status,
                 reason(status), ctype, r->id, cache, warn, extra != NULL ? extra : "");
    if (n < 0 || (size_t)n >= sizeof(head)) {
        return -1;
    }
    if (wk_io_write(r->io, head, (size_t)n) != 0) {
        r->client_gone = true;
        return -1;
    }
    return 0;
}

int wk_send_body(struct wk_req *r, const char *p, size_t n)
{
    if (r->head) {
        return 0;
    }
    if (wk_io_write(r->io, p, n) != 0) {
        r->client_gone = true;
        return -1;
    }
    r->bytes_out += n;
    return 0;
}

void wk_send_json(struct wk_req *r, int status, const char *extra, const char *json, size_t n)
{
    if (wk_send_head(r, status, "application/json", extra) != 0) {
        return;
    }
    if (wk_send_body(r, json, n) != 0) {
        return;
    }
    wk_end_answer(r); /* the answer and the end records in one write */
}

void wk_send_error(struct wk_req *r, const struct tr_error *err)
{
    static const char fallback[] =
        "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"internal error\"}}";
    char extra[64] = "";
    struct buf b;
    int status = err->status >= 400 && err->status <= 599 ? err->status : 500;

    buf_init(&b, 16 * 1024);
    if (err->retry_after[0] != '\0') {
        snprintf(extra, sizeof(extra), "retry-after: %s\r\n", err->retry_after);
    }
    if (tr_error_json(err, &b) != CCP_OK) {
        wk_send_json(r, status, extra, fallback, sizeof(fallback) - 1);
    } else {
        wk_send_json(r, status, extra, b.ptr, b.len);
    }
    buf_release(&b);
}

static void send_error_extra(struct wk_req *r, enum ccp_err code, int status, const char *type,
                             const char *msg, const char *extra)
{
    struct tr_error err;
    struct buf b;

    memset(&err, 0, sizeof(err));
    tr_error_set(&err, code, "%s", msg);
    /* routing errors have no ccp_err of their own: set status and type */
    if (status != 0) {
        err.status = status;
        err.type = type;
    }
    if (extra == NULL) {
        wk_send_error(r, &err);
        return;
    }
    buf_init(&b, 16 * 1024);
    if (tr_error_json(&err, &b) == CCP_OK) {
        wk_send_json(r, err.status, extra, b.ptr, b.len);
    } else {
        wk_send_error(r, &err);
    }
    buf_release(&b);
}

static void send_simple_error(struct wk_req *r, enum ccp_err code, int status, const char *type,
                              const char *msg)
{
    send_error_extra(r, code, status, type, msg, NULL);
}

/* A client-chosen request id is kept if it is short and plain. */
static bool id_is_sane(const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0') {
        return false;
    }
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == ':';

        if (!ok || i + 1 >= WK_REQ_ID_MAX) {
            return false;
        }
    }
    return true;
}

static void set_request_id(struct wk_req *r)
{
    const char *given = r->io->param(r->io, "HTTP_X_REQUEST_ID");

    if (id_is_sane(given)) {
        memcpy(r->id, given, strlen(given) + 1);
    } else {
        memcpy(r->id, "req_", 4);
        wk_random_hex(r->id + 4, 24);
    }
    log_set_request_id(r->id);
}

/* Copy the path part of s (up to '?' or '#') into out. */
static void copy_path(char *out, size_t cap, const char *s)
{
    size_t n = strcspn(s, "?#");

    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

static const struct route_entry *find_route(const char *path)
{
    struct str p = str_from_cstr(path);
    size_t i;

    for (i = 0; i < CCP_ARRAY_LEN(routes); i++) {
        const struct route_entry *e = &routes[i];
        size_t n = strlen(e->path);

        if (!e->prefix && str_eq_cstr(p, e->path)) {
            return e;
        }
        if (e->prefix && p.len > n + 1 && str_starts_with(p, e->path) && p.ptr[n] == '/' &&
            memchr(p.ptr + n + 1, '/', p.len - n - 1) == NULL) {
            return e;
        }
    }
    return NULL;
}

/* The routed path: REQUEST_URI without its query (we are mounted at "/"),
 * else SCRIPT_NAME + PATH_INFO; if that is no route but PATH_INFO is, we
 * are mounted under a prefix and PATH_INFO is the path. */
static const struct route_entry *resolve_path(struct wk_req *r)
{
    const char *uri = r->io->param(r->io, "REQUEST_URI");
    const char *script = r->io->param(r->io, "SCRIPT_NAME");
    const char *info = r->io->param(r->io, "PATH_INFO");
    const struct route_entry *e;
    char joined[256];

    if (uri != NULL && uri[0] != '\0') {
        copy_path(r->path, sizeof(r->path), uri);
    } else {
        snprintf(joined, sizeof(joined), "%s%s", script != NULL ? script : "",
                 info != NULL ? info : "");
        copy_path(r->path, sizeof(r->path), joined[0] != '\0' ? joined : "/");
    }
    e = find_route(r->path);
    if (e == NULL && info != NULL && info[0] == '/') {
        e = find_route(info);
        if (e != NULL) {
            copy_path(r->path, sizeof(r->path), info);
        }
    }
    return e;
}

/* Read the body into r->body, bounded by MAX_REQUEST_BODY_BYTES. On failure
 * the error answer has been sent. */
/* Bytes of a body with a known length reserved before the first read, so
 * that a body up to this size is read straight into one allocation. */
#define BODY_PRESIZE_MAX (1024 * 1024)
#define BODY_READ_MAX 65536

static bool read_body(struct wk_req *r)
{
    size_t max = r->w->conf->max_body_bytes;
    const char *cl = r->io->param(r->io, "CONTENT_LENGTH");
    bool known = false;
    unsigned long long want = 0;
    char chunk[16384];
    char msg[160];

    buf_init(&r->body, max);
    if (cl != NULL && cl[0] != '\0') {
        char *end = NULL;

        errno = 0;
        want = strtoull(cl, &end, 10);
        if (errno != 0 || end == cl || *end != '\0' || cl[0] == '-') {
            send_simple_error(r, CCP_ERR_INVALID, 0, NULL, "invalid Content-Length");
            return false;
        }
        known = true;
    } else if (r->io->req == NULL) {
        known = true; /* CGI without CONTENT_LENGTH: no body */
    }
    if (known && want > (unsigned long long)max) {
        snprintf(msg, sizeof(msg),
                 "request body of %llu bytes is larger than the limit of %zu bytes", want, max);
        send_simple_error(r, CCP_ERR_TOO_LARGE, 0, NULL, msg);
        return false;
    }
    /* a known length: read into the body itself, reserved once up to
     * BODY_PRESIZE_MAX (a client that announces more than it sends costs no
     * more than that) and grown past it; else through chunk */
    if (known && want > 0) {
        buf_presize(&r->body, want < BODY_PRESIZE_MAX ? (size_t)want : BODY_PRESIZE_MAX);
    }
    while (!known || r->body.len < (size_t)want) {
        size_t ask = known ? (size_t)want - r->body.len : sizeof(chunk);
        char *into = chunk;
        ssize_t got;
        enum ccp_err rc = CCP_OK;

        if (known) {
            ask = ask < BODY_READ_MAX ? ask : BODY_READ_MAX;
            rc = buf_reserve(&r->body, ask);
            into = r->body.ptr + r->body.len;
        }
        if (rc == CCP_OK) {
            got = r->io->read(r->io, into, ask);
            if (got < 0) {
                send_simple_error(r, CCP_ERR_INVALID, 0, NULL, "could not read the request body");
                return false;
            }
            if (got == 0) {
                break;
            }
            if (known) {
                r->body.len += (size_t)got;
                r->body.ptr[r->body.len] = '\0';
            } else {
                rc = buf_append(&r->body, chunk, (size_t)got);
            }
        }
        if (rc == CCP_ERR_TOO_LARGE) {
            snprintf(msg, sizeof(msg), "request body is larger than the limit of %zu bytes", max);
            send_simple_error(r, CCP_ERR_TOO_LARGE, 0, NULL, msg);
            return false;
        }
        if (rc != CCP_OK) {
            send_simple_error(r, rc, 0, NULL, "out of memory reading the request body");
            return false;
        }
    }
    if (known && r->body.len < (size_t)want) {
        send_simple_error(r, CCP_ERR_INVALID, 0, NULL, "request body shorter than Content-Length");
        return false;
    }
    return true;
}

static void route_health(struct wk_req *r)
{
    static const char ok[] = "{\"status\":\"ok\"}";

    wk_send_json(r, 200, "Cache-Control: no-store\r\n", ok, sizeof(ok) - 1);
}

void wk_end_answer(struct wk_req *r)
{
    if (!r->io->ended && wk_io_end(r->io) != 0) {
        r->client_gone = true;
    }
}

void wk_handle(struct wk_worker *w, struct wk_io *io)
{
    struct wk_req r;
    const struct route_entry *e;
    char msg[160];
    bool is_post, is_get;

    memset(&r, 0, sizeof(r));
    clock_gettime(CLOCK_MONOTONIC, &r.t0);
    r.ttfb_ms = -1;
    r.w = w;
    r.io = io;
    buf_init(&r.body, w->conf->max_body_bytes);
    set_request_id(&r);
    wk_request_start(&r);
    r.method = io->param(io, "REQUEST_METHOD");
    if (r.method == NULL) {
        r.method = "GET";
    }
    is_post = strcmp(r.method, "POST") == 0;
    r.head = strcmp(r.method, "HEAD") == 0;
    is_get = r.head || strcmp(r.method, "GET") == 0;
    e = resolve_path(&r);
    /* w is this thread's own: the session of this request, cleared below */
    w->opts.session_id = wk_opts_session_id(io->param(io, "HTTP_X_CLAUDE_CODE_SESSION_ID"));

    if (e == NULL) {
        snprintf(msg, sizeof(msg), "no route for %s %.100s", r.method, r.path);
        send_simple_error(&r, CCP_ERR_INVALID, 404, "not_found_error", msg);
    } else if ((e->post && !is_post) || (!e->post && !is_get)) {
        snprintf(msg, sizeof(msg), "method %.16s is not allowed on %.100s; use %s", r.method,
                 r.path, e->post ? "POST" : "GET or HEAD");
        r.head = false; /* the error body goes out even for a mis-sent HEAD */
        send_error_extra(&r, CCP_ERR_INVALID, 405, "invalid_request_error", msg,
                         e->post ? "Allow: POST\r\n" : "Allow: GET, HEAD\r\n");
    } else if (e->route == ROUTE_HEALTH) {
        route_health(&r);
    } else if (!r.head && !wk_guard_request(&r)) {
        /* answered 401 or 429 */
    } else if (e->post && !wk_guard_content_type(&r)) {
        /* answered 415 */
    } else if (e->route == ROUTE_MODELS) {
        wk_route_models(&r);
    } else if (e->route == ROUTE_METRICS_JSON) {
        wk_route_metrics_json(&r);
    } else if (e->route == ROUTE_METRICS_PROM) {
        wk_route_metrics_prometheus(&r);
    } else if (e->route == ROUTE_STATUS) {
        wk_route_status(&r);
    } else if (read_body(&r)) {
        if (e->route == ROUTE_MESSAGES) {
            wk_route_messages(&r);
        } else {
            wk_route_count_tokens(&r);
        }
        wk_guard_done(&r);
    }
    w->opts.session_id = NULL;
    wk_end_answer(&r);   /* the client has the whole answer now (if not already) */
    wk_request_done(&r); /* metrics and the JSON request line */
    buf_release(&r.body);
    log_set_request_id(NULL);
}
