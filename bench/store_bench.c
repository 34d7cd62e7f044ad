/* bench/store_bench: time cache_store_get (miss), cache_store_set and
 * cache_store_get (hit) against a running memcached, one op at a time on one
 * thread, the way a worker thread uses the store. Prints per-op latency.
 * Usage: store_bench SERVERS OPS [VALUE_BYTES] [PHASES] [binary|noreply]
 *   PHASES: comma-separated miss,set,hit (default all three, in that order) */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "common/alloc.h"
#include "common/buf.h"

#include "common/banned.h"

#define MAX_OPS 1000000UL

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time (user + system) this process has used, in nanoseconds. */
static uint64_t cpu_ns(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void report(const char *name, uint64_t *lat, unsigned long n, unsigned long failed,
                   uint64_t cpu)
{
    uint64_t sum = 0;
    unsigned long i;

    if (n == 0) {
        return;
    }
    for (i = 0; i < n; i++) {
        sum += lat[i];
    }
    qsort(lat, n, sizeof(*lat), cmp_u64);
    printf("%-5s ops %lu  mean %.1f us  p50 %.1f us  p99 %.1f us  max %.1f us  cpu %.1f us/op  "
           "unexpected %lu\n",
           name, n, (double)sum / (double)n / 1000.0, (double)lat[n / 2] / 1000.0,
           (double)lat[n * 99 / 100] / 1000.0, (double)lat[n - 1] / 1000.0,
           (double)cpu / (double)n / 1000.0, failed);
}

static void key_of(char *key, size_t size, unsigned long run, unsigned long i)
{
    snprintf(key, size, "bench-%lx-%08lu", run, i);
}

/* One phase over n keys; returns the number of ops with an unexpected result. */
static unsigned long phase(struct cache_store *st, const char *name, unsigned long run,
                           unsigned long n, const char *val, size_t vlen, uint64_t *lat)
{
    char key[64];
    unsigned long i, bad = 0;
    struct buf b;
    uint64_t t0, cpu0 = cpu_ns();
    enum ccp_err rc;

    buf_init(&b, 1u << 20);
    for (i = 0; i < n; i++) {
        key_of(key, sizeof(key), run, i);
        buf_reset(&b);
        t0 = now_ns();
        if (strcmp(name, "set") == 0) {
            rc = cache_store_set(st, key, val, vlen, 60);
            bad += rc != CCP_OK;
        } else {
            rc = cache_store_get(st, key, &b);
            bad += strcmp(name, "hit") == 0 ? rc != CCP_OK || b.len != vlen : rc != CCP_DECLINED;
        }
        lat[i] = now_ns() - t0;
    }
    buf_release(&b);
    report(name, lat, n, bad, cpu_ns() - cpu0);
    return bad;
}

int main(int argc, char **argv)
{
    struct cache_store_opts o;
    struct cache_store *st = NULL;
    struct cache_store_stats s;
    char err[256], *val = NULL, *phases, *tok, *save = NULL;
    unsigned long ops, vlen = 700, run, bad = 0;
    uint64_t *lat = NULL;
    int ret = 1;

    if (argc < 3) {
        fprintf(stderr, "usage: %s SERVERS OPS [VALUE_BYTES] [miss,set,hit] [binary|noreply]\n",
                argv[0]);
        return 2;
    }
    ops = strtoul(argv[2], NULL, 10);
    if (argc > 3) {
        vlen = strtoul(argv[3], NULL, 10);
    }
    if (ops > MAX_OPS || vlen > 900000) {
        fprintf(stderr, "at most %lu ops and 900000 value bytes\n", MAX_OPS);
        return 2;
    }
    memset(&o, 0, sizeof(o));
    o.servers = argv[1];
    o.timeout_ms = 100;
    o.max_item_bytes = 1048576;
    o.max_handles = 1;
    o.binary_protocol = argc > 5 && strcmp(argv[5], "binary") == 0;
    o.set_noreply = argc > 5 && strcmp(argv[5], "noreply") == 0;
    if (cache_store_new(&o, &st, err, sizeof(err)) != CCP_OK) {
        fprintf(stderr, "store: %s\n", err);
        return 1;
    }
    lat = ccp_calloc(ops + 1, sizeof(*lat));
    val = ccp_malloc(vlen + 1);
    phases = ccp_strdup(argc > 4 ? argv[4] : "miss,set,hit");
    if (lat == NULL || val == NULL || phases == NULL) {
        fprintf(stderr, "out of memory\n");
        goto out;
    }
    memset(val, 'v', vlen);
    run = (unsigned long)now_ns() ^ ((unsigned long)getpid() << 20);
    (void)cache_store_set(st, "bench-warm", "x", 1, 60); /* connect outside the timed loop */
    for (tok = strtok_r(phases, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "miss") != 0 && strcmp(tok, "set") != 0 && strcmp(tok, "hit") != 0) {
            fprintf(stderr, "unknown phase %s\n", tok);
            goto out;
        }
        bad += phase(st, tok, run, ops, val, vlen, lat);
    }
    cache_store_get_stats(st, &s);
    printf("store hits %" PRIu64 " misses %" PRIu64 " sets %" PRIu64 " errors %" PRIu64 "\n",
           s.hits, s.misses, s.sets, s.errors);
    ret = bad == 0 && s.errors == 0 ? 0 : 1;
out:
    cache_store_free(st);
    ccp_free(lat);
    ccp_free(val);
    ccp_free(phases);
    return ret;
}
