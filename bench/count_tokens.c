/* bench/count_tokens: time tr_count_tokens in-process on one request body:
 * uncached, fully cached (per-string counts in an in-process LRU, keyed like
 * the worker's cache: SHA-256 of encoding + bytes) and grown (the cache holds
 * the same conversation one turn shorter). Prints p50/p90 in milliseconds.
 * Usage: count_tokens DATA_DIR REQUEST.json [SHORTER.json] [ITERATIONS] */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/cache.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/vocab.h"
#include "translate/bpe.h"
#include "translate/translate.h"

#include "common/banned.h"

#define MIB (1024UL * 1024UL)

struct lru_ctx {
    struct cache_lru *lru;
    unsigned long hits, misses;
};

static bool get(void *ctx, const char *enc, const char *s, size_t n, size_t *count)
{
    struct lru_ctx *x = ctx;
    struct cache_key k;
    char *val = NULL;
    size_t len = 0;

    if (cache_token_key(enc, s, n, &k) != CCP_OK ||
        cache_lru_get(x->lru, k.hex, CACHE_KEY_HEX_LEN, 0, &val, &len) != CCP_OK) {
        x->misses++;
        return false;
    }
    *count = (size_t)strtoul(val, NULL, 10);
    ccp_free(val);
    x->hits++;
    return true;
}

static void put(void *ctx, const char *enc, const char *s, size_t n, size_t count)
{
    struct lru_ctx *x = ctx;
    struct cache_key k;
    char val[24];
    int len = snprintf(val, sizeof(val), "%zu", count);

    if (cache_token_key(enc, s, n, &k) == CCP_OK &&
        cache_lru_set(x->lru, k.hex, CACHE_KEY_HEX_LEN, val, (size_t)len, 0, 0) != CCP_OK) {
        x->misses++; /* not stored: shows as a later miss */
    }
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[65536];
    size_t got;

    buf_init(&b, 256 * MIB);
    if (f == NULL) {
        return NULL;
    }
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf_append(&b, chunk, got) != CCP_OK) {
            break;
        }
    }
    fclose(f);
    return buf_take(&b, n);
}

static void report(const char *what, double *ms, int n, unsigned long tokens)
{
    qsort(ms, (size_t)n, sizeof(*ms), cmp);
    printf("%-10s p50 %8.2f ms   p90 %8.2f ms   (%d runs, %lu tokens)\n", what, ms[n / 2],
           ms[n * 9 / 10], n, tokens);
}

int main(int argc, char **argv)
{
    struct vocab_map maps[2] = {{NULL, 0}, {NULL, 0}};
    struct tr_bpe *enc[2] = {NULL, NULL};
    struct tr_bpe_scratch *st = NULL;
    struct tr_opts o;
    struct tr_error err;
    struct tr_count_hooks h;
    struct lru_ctx x;
    char *body = NULL, *shorter = NULL;
    size_t len = 0, slen = 0;
    int iters = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 20, status = 1;
    unsigned long tokens = 0, t2 = 0;
    double *ms = NULL, t0;

    if (argc < 3 || iters < 1) {
        fputs("usage: count_tokens DATA_DIR REQUEST.json [SHORTER.json] [ITERATIONS]\n", stderr);
        return 2;
    }
    for (int e = 0; e < 2; e++) {
        if (vocab_map_file(argv[1], tr_bpe_table_name((enum tr_bpe_encoding)e), &maps[e]) !=
                CCP_OK ||
            tr_bpe_new((enum tr_bpe_encoding)e, maps[e].ptr, maps[e].len, &enc[e]) != CCP_OK) {
            fprintf(stderr, "count_tokens: cannot load the tables from %s\n", argv[1]);
            goto out;
        }
    }
    body = slurp(argv[2], &len);
    shorter = argc > 3 && argv[3][0] != '\0' ? slurp(argv[3], &slen) : NULL;
    ms = ccp_calloc((size_t)iters, sizeof(*ms));
    if (body == NULL || ms == NULL || tr_bpe_scratch_new(&st) != CCP_OK) {
        goto out;
    }
    memset(&o, 0, sizeof(o));
    o.big_model = "gpt-5";
    o.small_model = "gpt-5-mini";
    o.max_json_depth = 64;
    o.max_out = 256 * MIB;
    printf("request: %zu bytes\n", len);

    for (int i = 0; i < iters; i++) {
        t0 = now();
        if (tr_count_tokens(&o, (const struct tr_bpe *const *)enc, st, body, len, &tokens, &err) !=
            CCP_OK) {
            fprintf(stderr, "count_tokens: %s\n", err.message);
            goto out;
        }
        ms[i] = now() - t0;
    }
    report("uncached", ms, iters, tokens);

    memset(&h, 0, sizeof(h));
    h.encoding = -1;
    h.get = get;
    h.put = put;
    h.ctx = &x;
    memset(&x, 0, sizeof(x));
    x.lru = cache_lru_new(100000, 64 * MIB);
    if (x.lru == NULL || tr_count_tokens_ex(&o, (const struct tr_bpe *const *)enc, st, &h, body,
                                            len, &t2, &err) != CCP_OK) {
        goto out;
    }
    for (int i = 0; i < iters; i++) {
        x.hits = x.misses = 0;
        t0 = now();
        if (tr_count_tokens_ex(&o, (const struct tr_bpe *const *)enc, st, &h, body, len, &t2,
                               &err) != CCP_OK) {
            goto out;
        }
        ms[i] = now() - t0;
    }
    report("cached", ms, iters, t2);
    printf("           (%lu strings from the cache, %lu counted)\n", x.hits, x.misses);
    cache_lru_free(x.lru);
    x.lru = NULL;
    if (t2 != tokens) {
        fprintf(stderr, "count_tokens: cached count %lu != %lu\n", t2, tokens);
        goto out;
    }

    for (int i = 0; shorter != NULL && i < iters; i++) {
        x.lru = cache_lru_new(100000, 64 * MIB);
        if (x.lru == NULL || tr_count_tokens_ex(&o, (const struct tr_bpe *const *)enc, st, &h,
                                                shorter, slen, &t2, &err) != CCP_OK) {
            goto out;
        }
        x.hits = x.misses = 0;
        t0 = now();
        if (tr_count_tokens_ex(&o, (const struct tr_bpe *const *)enc, st, &h, body, len, &t2,
                               &err) != CCP_OK) {
            goto out;
        }
        ms[i] = now() - t0;
        cache_lru_free(x.lru);
        x.lru = NULL;
    }
    if (shorter != NULL) {
        report("grown", ms, iters, t2);
        printf("           (one turn more than the cached conversation: %lu strings from the "
               "cache, %lu counted)\n",
               x.hits, x.misses);
    }
    status = 0;
out:
    cache_lru_free(x.lru);
    ccp_free(ms);
    ccp_free(body);
    ccp_free(shorter);
    tr_bpe_scratch_free(st);
    for (int e = 0; e < 2; e++) {
        tr_bpe_free(enc[e]);
        vocab_unmap(&maps[e]);
    }
    return status;
}
