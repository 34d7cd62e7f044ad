/* bench/translate_bench.c: CPU time and heap allocations of the translation
 * (not part of the product): request (tr_request, tr_count_tokens_estimate),
 * non-streaming response (tr_response) and a 100-chunk stream (tr_stream_*),
 * each per call, with the inputs bench/mock_upstream.c sends.
 * Usage: translate_bench FILE [ITERATIONS]     one request body
 *        translate_bench --response [ITERATIONS]
 *        translate_bench --stream [ITERATIONS]
 *        translate_bench --all DIR [ITERATIONS] small, medium, large, response, stream
 *        translate_bench --dump FILE            the translated body, once
 *
 * Allocations are counted by replacing malloc, calloc, realloc and free in
 * this program (glibc allows it: ELF interposition, see the glibc manual,
 * "Replacing malloc"); the replacements count and call glibc's own
 * allocator. Every heap allocation of the process goes through them: ours
 * (ccp_malloc...), json-c's and libc's own (vasprintf...). A realloc counts
 * as one allocation, like ccp_realloc; `ours` is the part made through
 * common/alloc.h. Under valgrind its own allocator takes over and the counts
 * read 0 (valgrind's "total heap usage" gives them instead). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "translate/translate.h"

#include "common/banned.h"

/* ---- counting allocator --------------------------------------------------- */

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t nmemb, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

/* allocations (a realloc counts as one), and blocks live now; the bench is
 * single-threaded */
static unsigned long n_allocs;
static long n_live;

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);

    n_allocs++;
    n_live += p != NULL;
    return p;
}

void *calloc(size_t nmemb, size_t size)
{
    void *p = __libc_calloc(nmemb, size);

    n_allocs++;
    n_live += p != NULL;
    return p;
}

void *realloc(void *old, size_t n)
{
    void *p = __libc_realloc(old, n);

    n_allocs++;
    if (old == NULL && p != NULL) {
        n_live++;
    } else if (old != NULL && n == 0 && p == NULL) {
        n_live--; /* glibc frees on realloc(p, 0) */
    }
    return p;
}

void free(void *p)
{
    n_live -= p != NULL;
    __libc_free(p);
}

/* ---- inputs --------------------------------------------------------------- */

#define RESPONSE_TEXT_BYTES 800 /* mock_upstream's default --text-bytes */
#define STREAM_CHUNKS 100       /* mock_upstream's default --chunks */
#define ROUNDS 5                /* the best of this many rounds is reported */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        if (f != NULL) {
            fclose(f);
        }
        return NULL;
    }
    p = malloc((size_t)n + 1);
    if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(p);
        return NULL;
    }
    p[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* The chat.completion mock_upstream answers a non-stream request with. */
static int make_response(struct buf *b)
{
    char text[RESPONSE_TEXT_BYTES + 1];
    int i;

    for (i = 0; i < RESPONSE_TEXT_BYTES; i++) {
        text[i] = (i % 6 == 5) ? ' ' : (char)('a' + i % 26);
    }
    text[RESPONSE_TEXT_BYTES] = '\0';
    return buf_appendf(b,
                       "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":"
                       "1700000000,\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"message\":"
                       "{\"role\":\"assistant\",\"content\":\"%s\"},\"finish_reason\":\"stop\"}],"
                       "\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":50,"
                       "\"total_tokens\":150}}",
                       text) == CCP_OK
               ? 0
               : -1;
}

/* The SSE events of mock_upstream's stream (HTTP chunking removed): a role
 * chunk, STREAM_CHUNKS content chunks, the finish chunk with usage, [DONE].
 * ends[i] is where event i ends; *nev the number of events. */
static int make_stream(struct buf *b, size_t *ends, size_t *nev)
{
    static const char head[] =
        "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":"
        "1700000000,\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"delta\":";
    enum ccp_err rc;
    size_t k = 0;
    int i;

    rc = buf_appendf(b, "%s{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
                     head);
    ends[k++] = b->len;
    for (i = 0; i < STREAM_CHUNKS && rc == CCP_OK; i++) {
        rc = buf_appendf(b, "%s{\"content\":\"word%d \"},\"finish_reason\":null}]}\n\n", head, i);
        ends[k++] = b->len;
    }
    if (rc == CCP_OK) {
        rc = buf_appendf(b,
                         "%s{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":100,"
                         "\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n",
                         head, STREAM_CHUNKS, STREAM_CHUNKS + 100);
        ends[k++] = b->len;
    }
    if (rc == CCP_OK) {
        rc = buf_append_cstr(b, "data: [DONE]\n\n");
        ends[k++] = b->len;
    }
    *nev = k;
    return rc == CCP_OK ? 0 : -1;
}

/* ---- the measured calls --------------------------------------------------- */

struct bench {
    struct tr_opts o;
    const char *body; /* request body, or the upstream answer */
    size_t len;
    const size_t *ends; /* stream: event boundaries in body */
    size_t nev;
    struct tr_reqinfo info; /* of the request, for the response side */
    size_t out_len;         /* output of the last call */
    unsigned long tokens;
};

/* One call as the worker makes it: a fresh output buffer, released after. */
static int one_request(struct bench *b)
{
    struct tr_error err;
    struct buf out;
    int status = 0;

    buf_init(&out, b->o.max_out);
    if (tr_request(&b->o, b->body, b->len, &out, &b->info, &err) != CCP_OK) {
        fprintf(stderr, "translate_bench: tr_request failed: %s\n", err.message);
        status = -1;
    }
    b->out_len = out.len;
    buf_release(&out);
    return status;
}

static int one_count(struct bench *b)
{
    struct tr_error err;

    if (tr_count_tokens_estimate(&b->o, b->body, b->len, &b->tokens, &err) != CCP_OK) {
        fprintf(stderr, "translate_bench: count_tokens failed: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int one_response(struct bench *b)
{
    struct tr_error err;
    struct buf out;
    int status = 0;

    buf_init(&out, b->o.max_out);
    if (tr_response(&b->o, &b->info, "msg_0123456789abcdef01234567", b->body, b->len, &out, &err) !=
        CCP_OK) {
        fprintf(stderr, "translate_bench: tr_response failed: %s\n", err.message);
        status = -1;
    }
    b->out_len = out.len;
    buf_release(&out);
    return status;
}

/* A whole stream: new, one feed per upstream event (the events buffer is
 * emptied after each, as the worker does when it writes them), finish,
 * free. out_len is the total of the events. */
static int one_stream(struct bench *b)
{
    struct tr_stream *st = tr_stream_new(&b->o, &b->info, "msg_0123456789abcdef01234567");
    struct tr_error err;
    struct buf ev;
    size_t i, prev = 0, total = 0;
    enum ccp_err rc = CCP_OK;

    if (st == NULL) {
        return -1;
    }
    buf_init(&ev, b->o.max_out);
    for (i = 0; i < b->nev && rc == CCP_OK; i++) {
        rc = tr_stream_feed(st, b->body + prev, b->ends[i] - prev, &ev, &err);
        prev = b->ends[i];
        total += ev.len;
        buf_reset(&ev);
    }
    if (rc == CCP_OK) {
        rc = tr_stream_finish(st, &ev, &err);
        total += ev.len;
    }
    if (rc != CCP_OK) {
        fprintf(stderr, "translate_bench: stream failed: %s\n", err.message);
    }
    b->out_len = total;
    buf_release(&ev);
    tr_stream_free(st);
    return rc == CCP_OK ? 0 : -1;
}

static double now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

struct result {
    double us;           /* per call, best round */
    unsigned long total; /* heap allocations of one call, all of them */
    unsigned long ours;  /* of which through common/alloc.h */
    long leaked;         /* blocks one call left allocated (0) */
};

/* Run fn once for the counts, then ROUNDS rounds of iters calls. */
static int measure(struct bench *b, int (*fn)(struct bench *), long iters, struct result *r)
{
    struct ccp_alloc_stats s;
    unsigned long a0;
    long l0;
    double t0, best = 0;
    long i;
    int k;

    if (fn(b) != 0) { /* warm-up: first-call effects stay out of the counts */
        return -1;
    }
    ccp_alloc_reset();
    a0 = n_allocs;
    l0 = n_live;
    if (fn(b) != 0) {
        return -1;
    }
    r->total = n_allocs - a0;
    r->leaked = n_live - l0;
    ccp_alloc_get_stats(&s);
    r->ours = (unsigned long)s.count;
    for (k = 0; k < ROUNDS; k++) {
        t0 = now_us();
        for (i = 0; i < iters; i++) {
            if (fn(b) != 0) {
                return -1;
            }
        }
        t0 = (now_us() - t0) / (double)iters;
        best = k == 0 || t0 < best ? t0 : best;
    }
    r->us = best;
    return 0;
}

static void print_result(const char *what, const struct result *r)
{
    printf(" %s_us=%.2f %s_allocs=%lu %s_allocs_ours=%lu", what, r->us, what, r->total, what,
           r->ours);
    if (r->leaked != 0) {
        printf(" %s_unfreed=%ld", what, r->leaked);
    }
}

static void bench_init(struct bench *b)
{
    memset(b, 0, sizeof(*b));
    b->o.big_model = "bench-model";
    b->o.small_model = "bench-small-model";
    b->o.max_json_depth = 64;
    b->o.max_out = 256u * 1024 * 1024;
    (void)snprintf(b->info.client_model, sizeof(b->info.client_model), "%s",
                   "claude-sonnet-4-5-20250929");
}

static int run_request(const char *path, long iters, const char *label)
{
    struct bench b;
    struct result rq, ct;
    char *body;
    int status = 1;

    bench_init(&b);
    body = slurp(path, &b.len);
    if (body == NULL) {
        fprintf(stderr, "translate_bench: cannot read %s\n", path);
        return 2;
    }
    b.body = body;
    if (measure(&b, one_request, iters, &rq) != 0 || measure(&b, one_count, iters, &ct) != 0) {
        goto out;
    }
    if (label != NULL) {
        printf("%-9s", label);
    }
    printf("body_bytes=%zu out_bytes=%zu iterations=%ld", b.len, b.out_len, iters);
    print_result("tr_request", &rq);
    print_result("count_tokens", &ct);
    printf(" tokens=%lu\n", b.tokens);
    status = 0;
out:
    free(body);
    return status;
}

static int run_response(long iters, const char *label)
{
    struct bench b;
    struct result r;
    struct buf in;
    int status = 1;

    bench_init(&b);
    buf_init(&in, 1 << 20);
    if (make_response(&in) != 0) {
        goto out;
    }
    b.body = in.ptr;
    b.len = in.len;
    if (measure(&b, one_response, iters, &r) != 0) {
        goto out;
    }
    if (label != NULL) {
        printf("%-9s", label);
    }
    printf("body_bytes=%zu out_bytes=%zu iterations=%ld", b.len, b.out_len, iters);
    print_result("tr_response", &r);
    printf("\n");
    status = 0;
out:
    buf_release(&in);
    return status;
}

static int run_stream(long iters, const char *label)
{
    size_t ends[STREAM_CHUNKS + 3];
    struct bench b;
    struct result r;
    struct buf in;
    int status = 1;

    bench_init(&b);
    buf_init(&in, 1 << 20);
    if (make_stream(&in, ends, &b.nev) != 0) {
        goto out;
    }
    b.body = in.ptr;
    b.len = in.len;
    b.ends = ends;
    if (measure(&b, one_stream, iters, &r) != 0) {
        goto out;
    }
    if (label != NULL) {
        printf("%-9s", label);
    }
    printf("body_bytes=%zu events_in=%zu out_bytes=%zu iterations=%ld", b.len, b.nev, b.out_len,
           iters);
    print_result("stream", &r);
    printf(" per_event_us=%.3f per_event_allocs=%.2f\n", r.us / (double)b.nev,
           (double)r.total / (double)b.nev);
    status = 0;
out:
    buf_release(&in);
    return status;
}

static int run_all(const char *dir, long iters)
{
    static const char *const names[] = {"small", "medium", "large"};
    char path[4096];
    long n;
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        (void)snprintf(path, sizeof(path), "%s/%s.json", dir, names[i]);
        /* the same CPU time per body: fewer rounds for the bigger ones */
        n = i == 0 ? iters : i == 1 ? iters / 20 : iters / 200;
        if (run_request(path, n > 0 ? n : 1, names[i]) != 0) {
            return 1;
        }
    }
    if (run_response(iters, "response") != 0 ||
        run_stream(iters / 10 > 0 ? iters / 10 : 1, "stream") != 0) {
        return 1;
    }
    return 0;
}

static int dump(const char *path)
{
    struct bench b;
    struct tr_error err;
    struct buf out;
    char *body;
    int status = 1;

    bench_init(&b);
    body = slurp(path, &b.len);
    if (body == NULL) {
        fprintf(stderr, "translate_bench: cannot read %s\n", path);
        return 2;
    }
    buf_init(&out, b.o.max_out);
    if (tr_request(&b.o, body, b.len, &out, &b.info, &err) != CCP_OK) {
        fprintf(stderr, "translate_bench: tr_request failed: %s\n", err.message);
    } else {
        status = fwrite(out.ptr, 1, out.len, stdout) == out.len ? 0 : 1;
    }
    buf_release(&out);
    free(body);
    return status;
}

static long iterations(const char *s, long dflt)
{
    long n = s != NULL ? strtol(s, NULL, 10) : dflt;

    return n > 0 ? n : -1;
}

int main(int argc, char **argv)
{
    long iters;

    if (argc == 3 && strcmp(argv[1], "--dump") == 0) {
        return dump(argv[2]);
    }
    if ((argc == 2 || argc == 3) && strcmp(argv[1], "--response") == 0) {
        iters = iterations(argc == 3 ? argv[2] : NULL, 20000);
        return iters > 0 ? run_response(iters, NULL) : 2;
    }
    if ((argc == 2 || argc == 3) && strcmp(argv[1], "--stream") == 0) {
        iters = iterations(argc == 3 ? argv[2] : NULL, 2000);
        return iters > 0 ? run_stream(iters, NULL) : 2;
    }
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "--all") == 0) {
        iters = iterations(argc == 4 ? argv[3] : NULL, 20000);
        return iters > 0 ? run_all(argv[2], iters) : 2;
    }
    if ((argc == 2 || argc == 3) && argv[1][0] != '-') {
        iters = iterations(argc == 3 ? argv[2] : NULL, 200);
        return iters > 0 ? run_request(argv[1], iters, NULL) : 2;
    }
    fprintf(stderr, "usage: translate_bench FILE [ITERATIONS] | --response [ITERATIONS] | "
                    "--stream [ITERATIONS] | --all DIR [ITERATIONS] | --dump FILE\n");
    return 2;
}
