/* Unit tests of cache/entry.c: encode/decode round trip and garbage rejection. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cache/cache.h"

static void encode(const struct cache_entry *e, struct buf *b)
{
    buf_init(b, 1 << 20);
    assert_int_equal(cache_entry_encode(e, b), CCP_OK);
}

static void test_round_trip(void **state)
{
    static const char body[] = "event: message_start\ndata: {\"x\":1}\n\n\0binary";
    struct cache_entry in, out;
    struct buf b;

    (void)state;
    in.kind = CACHE_ENTRY_SSE;
    in.status = 200;
    in.content_type = STR_LIT("text/event-stream; charset=utf-8");
    in.body.ptr = body;
    in.body.len = sizeof(body) - 1;
    encode(&in, &b);
    /* layout as documented: magic, version, kind, status, ctype length */
    assert_memory_equal(b.ptr, "CCPE\x01\x01\x00\xc8\x00\x20", 10);
    assert_int_equal(b.len, 10 + in.content_type.len + 4 + in.body.len);
    assert_int_equal(cache_entry_decode(b.ptr, b.len, &out), CCP_OK);
    assert_int_equal(out.kind, CACHE_ENTRY_SSE);
    assert_int_equal(out.status, 200);
    assert_true(str_eq(out.content_type, in.content_type));
    assert_int_equal(out.body.len, in.body.len);
    assert_memory_equal(out.body.ptr, body, in.body.len);
    buf_release(&b);

    /* JSON, error status, empty content type and empty body */
    in.kind = CACHE_ENTRY_JSON;
    in.status = 599;
    in.content_type.ptr = NULL;
    in.content_type.len = 0;
    in.body.ptr = NULL;
    in.body.len = 0;
    encode(&in, &b);
    assert_int_equal(cache_entry_decode(b.ptr, b.len, &out), CCP_OK);
    assert_int_equal(out.kind, CACHE_ENTRY_JSON);
    assert_int_equal(out.status, 599);
    assert_int_equal(out.content_type.len, 0);
    assert_int_equal(out.body.len, 0);
    buf_release(&b);
}

static void test_encode_rejects_bad_fields(void **state)
{
    struct cache_entry e;
    struct buf b;

    (void)state;
    buf_init(&b, 1 << 20);
    e.kind = CACHE_ENTRY_JSON;
    e.status = 200;
    e.content_type = STR_LIT("application/json\r\nX-Evil: 1");
    e.body = STR_LIT("{}");
    assert_int_equal(cache_entry_encode(&e, &b), CCP_ERR_INVALID);
    e.content_type = STR_LIT("application/json");
    e.status = 99;
    assert_int_equal(cache_entry_encode(&e, &b), CCP_ERR_INVALID);
    e.status = 600;
    assert_int_equal(cache_entry_encode(&e, &b), CCP_ERR_INVALID);
    e.status = 200;
    e.kind = (enum cache_entry_kind)7;
    assert_int_equal(cache_entry_encode(&e, &b), CCP_ERR_INVALID);
    assert_int_equal(b.len, 0);
    buf_release(&b);
    /* too large for the output buffer: nothing half-written */
    buf_init(&b, 12);
    e.kind = CACHE_ENTRY_JSON;
    assert_int_equal(buf_append(&b, "ab", 2), CCP_OK);
    assert_int_equal(cache_entry_encode(&e, &b), CCP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 2);
    buf_release(&b);
}

static void test_decode_rejects_garbage(void **state)
{
    struct cache_entry in, out;
    struct buf b;
    char *copy;
    size_t i;

    (void)state;
    in.kind = CACHE_ENTRY_JSON;
    in.status = 200;
    in.content_type = STR_LIT("application/json");
    in.body = STR_LIT("{\"type\":\"message\"}");
    encode(&in, &b);
    memset(&out, 0x5a, sizeof(out));
    /* every truncation and one extra byte */
    for (i = 0; i < b.len; i++) {
        assert_int_equal(cache_entry_decode(b.ptr, i, &out), CCP_ERR_INVALID);
    }
    assert_int_equal(cache_entry_decode(NULL, 0, &out), CCP_ERR_INVALID);
    copy = test_malloc(b.len + 1);
    memcpy(copy, b.ptr, b.len);
    copy[b.len] = 'x';
    assert_int_equal(cache_entry_decode(copy, b.len + 1, &out), CCP_ERR_INVALID);
    /* wrong magic, version, kind, status, content-type byte, lengths */
    copy[0] = 'X';
    assert_int_equal(cache_entry_decode(copy, b.len, &out), CCP_ERR_INVALID);
    memcpy(copy, b.ptr, b.len);
    copy[4] = 2;
    assert_int_equal(cache_entry_decode(copy, b.len, &out), CCP_ERR_INVALID);
    memcpy(copy, b.ptr, b.len);
    copy[5] = 2;
    assert_int_equal(cache_entry_decode(copy, b.len, &out), CCP_ERR_INVALID);
    memcpy(copy, b.ptr, b.len);
    copy[6] = 0x03; /* status 968 */
    assert_int_equal(cache_entry_decode(copy, b.len, &out), CCP_ERR_INVALID);
    memcpy(copy, b.ptr, b.len);
    copy[10] = '\n';
    assert_int_equal(cache_entry_decode(copy, b.len, &out), CCP_ERR_INVALID);
    memcpy(copy, b.ptr, b.len);
    copy[9] = (char)0xff; /* content-type length past the end */
    assert_int_equal(cache_entry_decode(copy, b.len, &out), CCP_ERR_INVALID);
    memcpy(copy, b.ptr, b.len);
    copy[10 + in.content_type.len] = 1; /* body length 16 MiB + n */
    assert_int_equal(cache_entry_decode(copy, b.len, &out), CCP_ERR_INVALID);
    /* nothing was written on any failure */
    for (i = 0; i < sizeof(out); i++) {
        assert_int_equal(((unsigned char *)&out)[i], 0x5a);
    }
    memcpy(copy, b.ptr, b.len);
    assert_int_equal(cache_entry_decode(copy, b.len, &out), CCP_OK);
    test_free(copy);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_rejects_bad_fields),
        cmocka_unit_test(test_decode_rejects_garbage),
    };
    return cmocka_run_group_tests_name("cache_entry", tests, NULL, NULL);
}
