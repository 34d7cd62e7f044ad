/* Unit tests of cache/lru.c: hits, eviction by count and bytes, TTL, threads. */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cache/cache.h"
#include "common/alloc.h"

static void put(struct cache_lru *l, const char *k, const char *v, uint64_t now, uint64_t ttl)
{
    assert_int_equal(cache_lru_set(l, k, strlen(k), v, strlen(v), now, ttl), CCP_OK);
}

/* True if k is present with value v at time now. */
static bool has(struct cache_lru *l, const char *k, const char *v, uint64_t now)
{
    char *got = NULL;
    size_t n = 0;
    enum ccp_err rc = cache_lru_get(l, k, strlen(k), now, &got, &n);
    bool ok;

    if (rc == CCP_DECLINED) {
        return false;
    }
    assert_int_equal(rc, CCP_OK);
    ok = n == strlen(v) && memcmp(got, v, n) == 0 && got[n] == '\0';
    ccp_free(got);
    assert_true(ok);
    return true;
}

static void test_get_returns_a_copy(void **state)
{
    struct cache_lru *l = cache_lru_new(4, 4096);
    struct cache_lru_stats st;
    char *a = NULL, *b = NULL;
    size_t n;

    (void)state;
    assert_non_null(l);
    put(l, "k", "value", 0, 0);
    assert_int_equal(cache_lru_get(l, "k", 1, 0, &a, &n), CCP_OK);
    assert_int_equal(cache_lru_get(l, "k", 1, 0, &b, &n), CCP_OK);
    assert_ptr_not_equal(a, b);
    a[0] = 'X'; /* the caller's copy; the cache is unaffected */
    assert_true(has(l, "k", "value", 0));
    ccp_free(a);
    ccp_free(b);
    assert_false(has(l, "missing", "", 0));
    put(l, "k", "new", 0, 0); /* replace */
    assert_true(has(l, "k", "new", 0));
    cache_lru_delete(l, "k", 1);
    assert_false(has(l, "k", "new", 0));
    cache_lru_get_stats(l, &st);
    assert_int_equal(st.hits, 4);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    cache_lru_free(l);
    cache_lru_free(NULL);
}

static void test_evicts_least_recently_used_by_count(void **state)
{
    struct cache_lru *l = cache_lru_new(3, 1 << 20);
    struct cache_lru_stats st;

    (void)state;
    put(l, "a", "1", 0, 0);
    put(l, "b", "2", 0, 0);
    put(l, "c", "3", 0, 0);
    assert_true(has(l, "a", "1", 0)); /* a is now the newest; b the oldest */
    put(l, "d", "4", 0, 0);
    assert_false(has(l, "b", "2", 0));
    assert_true(has(l, "a", "1", 0));
    assert_true(has(l, "c", "3", 0));
    assert_true(has(l, "d", "4", 0));
    cache_lru_get_stats(l, &st);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.evictions, 1);
    cache_lru_free(l);
}

static void test_evicts_by_bytes(void **state)
{
    char big[1000];
    struct cache_lru *l;
    struct cache_lru_stats st;

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    /* room for two 999-byte values plus overhead, not three */
    l = cache_lru_new(100, 2600);
    put(l, "a", big, 0, 0);
    put(l, "b", big, 0, 0);
    cache_lru_get_stats(l, &st);
    assert_int_equal(st.entries, 2);
    assert_true(st.bytes <= 2600);
    put(l, "c", big, 0, 0);
    assert_false(has(l, "a", big, 0));
    assert_true(has(l, "b", big, 0));
    assert_true(has(l, "c", big, 0));
    /* small entries fit beside them */
    put(l, "s", "small", 0, 0);
    cache_lru_get_stats(l, &st);
    assert_true(st.bytes <= 2600);
    /* one value larger than the whole cache is refused, and the old value
     * under that key is dropped rather than left stale */
    cache_lru_free(l);
    l = cache_lru_new(10, 600);
    put(l, "k", "old", 0, 0);
    assert_int_equal(cache_lru_set(l, "k", 1, big, 999, 0, 0), CCP_ERR_TOO_LARGE);
    assert_false(has(l, "k", "old", 0));
    cache_lru_free(l);
}

static void test_ttl_uses_callers_clock(void **state)
{
    struct cache_lru *l = cache_lru_new(10, 1 << 20);
    struct cache_lru_stats st;

    (void)state;
    put(l, "short", "v", 1000, 500); /* expires at 1500 */
    put(l, "forever", "v", 1000, 0);
    assert_true(has(l, "short", "v", 1499));
    assert_false(has(l, "short", "v", 1500));
    assert_false(has(l, "short", "v", 1000)); /* dropped, not revived */
    assert_true(has(l, "forever", "v", UINT64_MAX));
    put(l, "huge", "v", 10, UINT64_MAX); /* no overflow */
    assert_true(has(l, "huge", "v", UINT64_MAX - 1));
    cache_lru_get_stats(l, &st);
    assert_int_equal(st.expirations, 1);
    assert_int_equal(st.entries, 2);
    cache_lru_free(l);
}

static struct cache_lru *shared;

static void *hammer(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg, i;
    char k[32], v[32];

    for (i = 0; i < 2000; i++) {
        char *got = NULL;
        size_t n;
        int kl = snprintf(k, sizeof(k), "k%u", (i * 7 + id) % 50);
        int vl = snprintf(v, sizeof(v), "v%u", i);
        if (cache_lru_set(shared, k, (size_t)kl, v, (size_t)vl, i, 100) != CCP_OK) {
            return (void *)1;
        }
        if (cache_lru_get(shared, k, (size_t)kl, i, &got, &n) == CCP_OK) {
            ccp_free(got);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t t[4];
    struct cache_lru_stats st;
    uintptr_t i;
    void *res;

    (void)state;
    shared = cache_lru_new(20, 1 << 20);
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)i), 0);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], &res), 0);
        assert_null(res);
    }
    cache_lru_get_stats(shared, &st);
    assert_int_equal(st.sets, 8000);
    assert_int_equal(st.hits + st.misses, 8000);
    assert_true(st.entries <= 20);
    cache_lru_free(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_returns_a_copy),
        cmocka_unit_test(test_evicts_least_recently_used_by_count),
        cmocka_unit_test(test_evicts_by_bytes),
        cmocka_unit_test(test_ttl_uses_callers_clock),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests_name("cache_lru", tests, NULL, NULL);
}
