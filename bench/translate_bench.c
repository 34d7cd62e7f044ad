/* bench/translate_bench.c: CPU cost of the request translation (not part of
 * the product). Runs tr_request and tr_count_tokens_estimate on one Anthropic
 * body in a loop and prints microseconds per call; --dump writes the
 * translated OpenAI body once (the direct baseline sends exactly that).
 * Usage: translate_bench FILE [ITERATIONS] | translate_bench --dump FILE */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "translate/translate.h"

#include "common/banned.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
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

static double now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    struct tr_opts o = {.big_model = "bench-model",
                        .small_model = "bench-small-model",
                        .max_json_depth = 64,
                        .max_out = 256u * 1024 * 1024};
    struct tr_reqinfo info;
    struct tr_error err;
    struct buf out;
    const char *path;
    bool dump = false;
    char *body;
    size_t len = 0;
    long iters = 200, i;
    unsigned long tokens = 0;
    double t0, t_req, t_tok;
    int status = 1;

    if (argc >= 2 && strcmp(argv[1], "--dump") == 0) {
        dump = true;
        argc--;
        argv++;
    }
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: translate_bench FILE [ITERATIONS] | --dump FILE\n");
        return 2;
    }
    path = argv[1];
    if (argc == 3) {
        iters = strtol(argv[2], NULL, 10);
    }
    body = slurp(path, &len);
    if (body == NULL || iters < 1) {
        fprintf(stderr, "translate_bench: cannot read %s\n", path);
        return 2;
    }
    buf_init(&out, o.max_out);
    memset(&err, 0, sizeof(err));
    if (tr_request(&o, body, len, &out, &info, &err) != CCP_OK) {
        fprintf(stderr, "translate_bench: tr_request failed: %s\n", err.message);
        goto out;
    }
    if (dump) {
        status = fwrite(out.ptr, 1, out.len, stdout) == out.len ? 0 : 1;
        goto out;
    }
    t0 = now_us();
    for (i = 0; i < iters; i++) {
        buf_reset(&out);
        if (tr_request(&o, body, len, &out, &info, &err) != CCP_OK) {
            fprintf(stderr, "translate_bench: tr_request failed: %s\n", err.message);
            goto out;
        }
    }
    t_req = (now_us() - t0) / (double)iters;
    t0 = now_us();
    for (i = 0; i < iters; i++) {
        if (tr_count_tokens_estimate(&o, body, len, &tokens, &err) != CCP_OK) {
            fprintf(stderr, "translate_bench: count_tokens failed: %s\n", err.message);
            goto out;
        }
    }
    t_tok = (now_us() - t0) / (double)iters;
    printf("body_bytes=%zu out_bytes=%zu iterations=%ld tr_request_us=%.1f "
           "count_tokens_us=%.1f tokens=%lu\n",
           len, out.len, iters, t_req, t_tok, tokens);
    status = 0;
out:
    buf_release(&out);
    free(body);
    return status;
}
