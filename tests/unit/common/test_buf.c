/* Unit tests of common/buf.c. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"

static void test_append_and_invariants(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 100);
    assert_null(b.ptr);
    assert_int_equal(buf_append(&b, "abc", 3), CCP_OK);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.ptr, "abc");
    assert_true(b.len < b.cap && b.cap <= b.max + 1);
    assert_int_equal(buf_appendf(&b, "-%d-%s", 42, "x"), CCP_OK);
    assert_string_equal(b.ptr, "abc-42-x");
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.ptr, "");
    buf_release(&b);
    assert_null(b.ptr);
    buf_release(&b); /* twice is a no-op */
}

static void test_max_is_enforced_and_contents_kept(void **state)
{
    struct buf b;
    char big[200];

    (void)state;
    memset(big, 'x', sizeof(big));
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, "0123456789", 10), CCP_OK);
    assert_int_equal(buf_append(&b, "a", 1), CCP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.ptr, "0123456789");
    assert_true(b.cap <= b.max + 1);
    buf_reset(&b);
    assert_int_equal(buf_append(&b, big, sizeof(big)), CCP_ERR_TOO_LARGE);
    assert_int_equal(buf_appendf(&b, "%s", "01234567890"), CCP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_append(&b, "x", SIZE_MAX), CCP_ERR_TOO_LARGE);
    buf_release(&b);
}

static void test_json_string(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 1000);
    assert_int_equal(buf_append_json_string(&b, "a\"b\\c\n\t\x01", 8), CCP_OK);
    assert_string_equal(b.ptr, "\"a\\\"b\\\\c\\n\\t\\u0001\"");
    buf_reset(&b);
    /* valid UTF-8 passes through, invalid bytes become U+FFFD */
    assert_int_equal(buf_append_json_string(&b, "\xc3\xa9\xff\xe4\xb8\xad", 6), CCP_OK);
    assert_string_equal(b.ptr, "\"\xc3\xa9\xef\xbf\xbd\xe4\xb8\xad\"");
    buf_reset(&b);
    /* a truncated sequence at the end is replaced, not over-read */
    assert_int_equal(buf_append_json_string(&b, "ab\xe4\xb8", 4), CCP_OK);
    assert_string_equal(b.ptr, "\"ab\xef\xbf\xbd\xef\xbf\xbd\"");
    /* on overflow the buffer keeps its previous contents */
    buf_release(&b);
    buf_init(&b, 8);
    assert_int_equal(buf_append(&b, "ok", 2), CCP_OK);
    assert_int_equal(buf_append_json_string(&b, "0123456789", 10), CCP_ERR_TOO_LARGE);
    assert_string_equal(b.ptr, "ok");
    buf_release(&b);
}

static void test_consume_and_take(void **state)
{
    struct buf b;
    size_t n = 99;
    char *p;

    (void)state;
    buf_init(&b, 100);
    assert_int_equal(buf_append_cstr(&b, "hello world"), CCP_OK);
    buf_consume(&b, 6);
    assert_string_equal(b.ptr, "world");
    p = buf_take(&b, &n);
    assert_string_equal(p, "world");
    assert_int_equal(n, 5);
    assert_null(b.ptr);
    assert_int_equal(b.len, 0);
    ccp_free(p);
    p = buf_take(&b, &n);
    assert_string_equal(p, "");
    assert_int_equal(n, 0);
    ccp_free(p);
}

static void test_nomem_keeps_contents(void **state)
{
    struct buf b;
    char big[4096];

    (void)state;
    if (!ccp_alloc_fail_at(0)) {
        skip();
    }
    memset(big, 'y', sizeof(big));
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_append_cstr(&b, "keep"), CCP_OK);
    ccp_alloc_fail_at(1);
    assert_int_equal(buf_append(&b, big, sizeof(big)), CCP_ERR_NOMEM);
    assert_string_equal(b.ptr, "keep");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_invariants),
        cmocka_unit_test(test_max_is_enforced_and_contents_kept),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_consume_and_take),
        cmocka_unit_test(test_nomem_keeps_contents),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
