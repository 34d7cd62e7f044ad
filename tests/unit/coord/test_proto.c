/* Unit tests of coord/proto.c: round trips, every split point, truncated
 * and malformed input, size limits. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "coord/proto.h"

#define MAXP 4096

struct sample {
    enum coord_type type;
    const char *payload;
    size_t len;
};

static const struct sample samples[] = {
    {COORD_HELLO, "\x01", 1},
    {COORD_JOIN, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64},
    {COORD_LEAD, NULL, 0},
    {COORD_FOLLOW, NULL, 0},
    {COORD_EVENT, "event: message_start\ndata: {\"type\":\"message_start\"}\n\n", 52},
    {COORD_EVENT, "\x00\xff", 2},
    {COORD_FOLLOWERS, "\x00\x00\x01\x02", 4},
    {COORD_ABORT, "slow", 4},
    {COORD_ABORT, NULL, 0},
    {COORD_END, NULL, 0},
    {COORD_ERROR, "\x01\xad\x00\x10retry-after: 3\r\n{\"type\":\"error\"}", 36},
    {COORD_ERROR, "\x01\xf4\x00\x00", 4},
};

static void encode_samples(struct buf *b)
{
    size_t i;

    for (i = 0; i < CCP_ARRAY_LEN(samples); i++) {
        assert_int_equal(coord_encode(b, samples[i].type, samples[i].payload, samples[i].len, MAXP),
                         CCP_OK);
    }
}

/* Decode p[0..len) from a heap copy of exactly len bytes (so a sanitizer or
 * valgrind sees any over-read). Returns the frames decoded. */
static size_t decode_all(const char *p, size_t len, struct coord_frame *frames, size_t max,
                         size_t *used_total)
{
    char *copy = malloc(len > 0 ? len : 1);
    size_t off = 0, n = 0, used = 0;
    struct coord_frame f;

    assert_non_null(copy);
    memcpy(copy, p, len);
    while (n < max && coord_decode(copy + off, len - off, MAXP, &f, &used) == CCP_OK) {
        /* payload pointers point into copy: compare against the original */
        f.payload = (const unsigned char *)p + (f.payload - (const unsigned char *)copy);
        frames[n++] = f;
        off += used;
    }
    free(copy);
    *used_total = off;
    return n;
}

static void test_round_trip(void **state)
{
    struct coord_frame f[16];
    struct buf b;
    size_t n, used, i;

    (void)state;
    buf_init(&b, 1 << 20);
    encode_samples(&b);
    n = decode_all(b.ptr, b.len, f, 16, &used);
    assert_int_equal(n, CCP_ARRAY_LEN(samples));
    assert_int_equal(used, b.len);
    for (i = 0; i < n; i++) {
        assert_int_equal(f[i].type, samples[i].type);
        assert_int_equal(f[i].len, samples[i].len);
        if (f[i].len > 0) {
            assert_memory_equal(f[i].payload, samples[i].payload, f[i].len);
        }
    }
    assert_int_equal(f[0].count, 1);     /* HELLO version */
    assert_int_equal(f[6].count, 0x102); /* FOLLOWERS count */
    buf_release(&b);
}

static void test_wire_format(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 100);
    assert_int_equal(coord_encode(&b, COORD_ABORT, "slow", 4, MAXP), CCP_OK);
    assert_int_equal(b.len, 9);
    assert_memory_equal(b.ptr, "\x00\x00\x00\x05\x07slow", 9);
    buf_reset(&b);
    assert_int_equal(coord_encode_followers(&b, 0x01020304), CCP_OK);
    assert_memory_equal(b.ptr, "\x00\x00\x00\x05\x08\x01\x02\x03\x04", 9);
    buf_reset(&b);
    assert_int_equal(coord_encode(&b, COORD_END, NULL, 0, MAXP), CCP_OK);
    assert_memory_equal(b.ptr, "\x00\x00\x00\x01\x06", 5);
    buf_release(&b);
    assert_string_equal(coord_type_name(COORD_JOIN), "JOIN");
    assert_string_equal(coord_type_name((enum coord_type)99), "?");
}

/* Feed the stream in two parts split at every point, and byte by byte, as a
 * reader does: append what arrived, decode all whole frames, keep the rest. */
static size_t feed(const char *p, size_t len, const size_t *cuts, size_t ncuts,
                   struct buf *out_payloads, enum coord_type *types)
{
    struct buf in;
    struct coord_frame f;
    size_t from = 0, c, used, n = 0;
    enum ccp_err rc;

    buf_init(&in, len + 1);
    for (c = 0; c <= ncuts; c++) {
        size_t to = c < ncuts ? cuts[c] : len;
        assert_int_equal(buf_append(&in, p + from, to - from), CCP_OK);
        from = to;
        for (;;) {
            rc = coord_decode(in.ptr, in.len, MAXP, &f, &used);
            if (rc == CCP_DECLINED) {
                break;
            }
            assert_int_equal(rc, CCP_OK);
            types[n++] = f.type;
            assert_int_equal(buf_append(out_payloads, &f.len, sizeof(f.len)), CCP_OK);
            assert_int_equal(buf_append(out_payloads, f.payload, f.len), CCP_OK);
            buf_consume(&in, used);
        }
    }
    assert_int_equal(in.len, 0);
    buf_release(&in);
    return n;
}

static void test_every_split_point(void **state)
{
    struct buf b, whole, part;
    enum coord_type t1[32], t2[32];
    size_t n1, n2, cut, *cuts, i, none = 0;

    (void)state;
    buf_init(&b, 1 << 20);
    encode_samples(&b);
    buf_init(&whole, 1 << 20);
    buf_init(&part, 1 << 20);
    n1 = feed(b.ptr, b.len, &none, 0, &whole, t1);
    assert_int_equal(n1, CCP_ARRAY_LEN(samples));
    for (cut = 0; cut <= b.len; cut++) {
        buf_reset(&part);
        n2 = feed(b.ptr, b.len, &cut, 1, &part, t2);
        assert_int_equal(n2, n1);
        assert_memory_equal(t1, t2, n1 * sizeof(t1[0]));
        assert_int_equal(part.len, whole.len);
        assert_memory_equal(part.ptr, whole.ptr, whole.len);
    }
    cuts = malloc(b.len * sizeof(*cuts));
    assert_non_null(cuts);
    for (i = 0; i < b.len; i++) {
        cuts[i] = i;
    }
    buf_reset(&part);
    n2 = feed(b.ptr, b.len, cuts, b.len, &part, t2);
    assert_int_equal(n2, n1);
    assert_memory_equal(part.ptr, whole.ptr, whole.len);
    free(cuts);
    buf_release(&part);
    buf_release(&whole);
    buf_release(&b);
}

static void test_truncated_is_declined(void **state)
{
    struct coord_frame f = {COORD_END, NULL, 7, 7};
    size_t used = 12345, k, i;
    struct buf b;
    char *copy;

    (void)state;
    buf_init(&b, 1 << 20);
    for (i = 0; i < CCP_ARRAY_LEN(samples); i++) {
        buf_reset(&b);
        assert_int_equal(
            coord_encode(&b, samples[i].type, samples[i].payload, samples[i].len, MAXP), CCP_OK);
        for (k = 0; k < b.len; k++) {
            copy = malloc(k > 0 ? k : 1);
            assert_non_null(copy);
            memcpy(copy, b.ptr, k);
            assert_int_equal(coord_decode(copy, k, MAXP, &f, &used), CCP_DECLINED);
            free(copy);
        }
    }
    /* out-parameters untouched when there is no frame */
    assert_int_equal(used, 12345);
    assert_int_equal(f.len, 7);
    buf_release(&b);
}

static void expect_invalid(const char *p, size_t len)
{
    struct coord_frame f;
    size_t used = 0;

    assert_int_equal(coord_decode(p, len, MAXP, &f, &used), CCP_ERR_INVALID);
}

static void test_garbage_is_invalid(void **state)
{
    (void)state;
    expect_invalid("\x00\x00\x00\x00", 4);             /* zero length */
    expect_invalid("\x00\x00\x00\x01\x00", 5);         /* type 0 */
    expect_invalid("\x00\x00\x00\x01\x09", 5);         /* ERROR with no status */
    expect_invalid("\x00\x00\x00\x01\x0a", 5);         /* type 10 */
    expect_invalid("\x00\x00\x00\x05\xff", 5);         /* unknown type, before its payload */
    expect_invalid("\x00\x00\x00\x02\x03x", 6);        /* LEAD with a payload */
    expect_invalid("\x00\x00\x00\x02\x06x", 6);        /* END with a payload */
    expect_invalid("\x00\x00\x00\x01\x05", 5);         /* empty EVENT */
    expect_invalid("\x00\x00\x00\x01\x02", 5);         /* empty JOIN key */
    expect_invalid("\x00\x00\x00\x03\x01\x01\x01", 7); /* HELLO of 2 bytes */
    expect_invalid("\x00\x00\x00\x04\x08\x00\x00", 7); /* FOLLOWERS of 3 bytes, from the header */
    expect_invalid("GET / HTTP/1.1\r\n", 16);
}

static void test_length_over_max(void **state)
{
    struct coord_frame f;
    size_t used;
    char hdr[5] = {0, 0, 0x10, 0x02, COORD_EVENT}; /* payload 4097 > MAXP */

    (void)state;
    /* decided from the 4 length bytes alone, before any payload arrives */
    assert_int_equal(coord_decode(hdr, 4, MAXP, &f, &used), CCP_ERR_INVALID);
    assert_int_equal(coord_decode(hdr, 5, MAXP, &f, &used), CCP_ERR_INVALID);
    hdr[3] = 0x01; /* payload exactly MAXP: wait for it */
    assert_int_equal(coord_decode(hdr, 5, MAXP, &f, &used), CCP_DECLINED);
    assert_int_equal(coord_decode("\xff\xff\xff\xff", 4, SIZE_MAX, &f, &used), CCP_DECLINED);
}

static void test_encode_rejects(void **state)
{
    char big[COORD_REASON_MAX + COORD_KEY_MAX + 8];
    struct buf b;

    (void)state;
    memset(big, 'k', sizeof(big));
    buf_init(&b, 1 << 20);
    assert_int_equal(coord_encode(&b, COORD_EVENT, "x", 1, MAXP), CCP_OK);
    assert_int_equal(coord_encode(&b, COORD_EVENT, NULL, 0, MAXP), CCP_ERR_INVALID);
    assert_int_equal(coord_encode(&b, COORD_JOIN, NULL, 0, MAXP), CCP_ERR_INVALID);
    assert_int_equal(coord_encode(&b, COORD_JOIN, big, COORD_KEY_MAX + 1, MAXP), CCP_ERR_INVALID);
    assert_int_equal(coord_encode(&b, COORD_JOIN, big, COORD_KEY_MAX, MAXP), CCP_OK);
    assert_int_equal(coord_encode(&b, COORD_ABORT, big, COORD_REASON_MAX + 1, MAXP),
                     CCP_ERR_INVALID);
    assert_int_equal(coord_encode(&b, COORD_LEAD, "x", 1, MAXP), CCP_ERR_INVALID);
    assert_int_equal(coord_encode(&b, COORD_HELLO, "xy", 2, MAXP), CCP_ERR_INVALID);
    assert_int_equal(coord_encode(&b, (enum coord_type)0, NULL, 0, MAXP), CCP_ERR_INVALID);
    assert_int_equal(coord_encode(&b, (enum coord_type)10, NULL, 0, MAXP), CCP_ERR_INVALID);
    assert_int_equal(coord_encode(&b, COORD_ERROR, NULL, 0, MAXP), CCP_ERR_INVALID);
    assert_int_equal(coord_encode(&b, COORD_EVENT, big, 100, 99), CCP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 6 + 5 + COORD_KEY_MAX); /* failures left nothing behind */
    buf_release(&b);
    /* the buffer's own limit: nothing partial is left */
    buf_init(&b, 10);
    assert_int_equal(coord_encode(&b, COORD_EVENT, "abcd", 4, MAXP), CCP_OK);
    assert_int_equal(coord_encode(&b, COORD_EVENT, "a", 1, MAXP), CCP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 9);
    buf_release(&b);
}

static void test_error_frame(void **state)
{
    static const char json[] = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\"}}";
    static const char hdrs[] = "retry-after: 3\r\nx-a:\tb\r\n";
    char big[COORD_ERROR_MAX];
    struct coord_error e;
    struct coord_frame f;
    struct buf b;
    size_t used;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(coord_encode_error(&b, 429, hdrs, strlen(hdrs), json, strlen(json), MAXP),
                     CCP_OK);
    assert_int_equal(b.len, COORD_FRAME_HEADER + 4 + strlen(hdrs) + strlen(json));
    assert_memory_equal(b.ptr + 4, "\x09\x01\xad\x00\x18", 5); /* type, status, hlen */
    assert_int_equal(coord_decode(b.ptr, b.len, MAXP, &f, &used), CCP_OK);
    assert_int_equal(f.type, COORD_ERROR);
    assert_int_equal(used, b.len);
    assert_int_equal(coord_parse_error(f.payload, f.len, &e), CCP_OK);
    assert_int_equal(e.status, 429);
    assert_int_equal(e.headers_len, strlen(hdrs));
    assert_memory_equal(e.headers, hdrs, e.headers_len);
    assert_int_equal(e.body_len, strlen(json));
    assert_memory_equal(e.body, json, e.body_len);
    assert_string_equal(coord_type_name(COORD_ERROR), "ERROR");
    /* no headers, no body */
    buf_reset(&b);
    assert_int_equal(coord_encode_error(&b, 503, NULL, 0, NULL, 0, MAXP), CCP_OK);
    assert_int_equal(coord_decode(b.ptr, b.len, MAXP, &f, &used), CCP_OK);
    assert_int_equal(coord_parse_error(f.payload, f.len, &e), CCP_OK);
    assert_int_equal(e.status, 503);
    assert_int_equal(e.headers_len + e.body_len, 0);
    /* what the encoder refuses */
    buf_reset(&b);
    assert_int_equal(coord_encode_error(&b, 99, NULL, 0, "x", 1, MAXP), CCP_ERR_INVALID);
    assert_int_equal(coord_encode_error(&b, 600, NULL, 0, "x", 1, MAXP), CCP_ERR_INVALID);
    assert_int_equal(coord_encode_error(&b, 429, "retry-after: 3", 14, NULL, 0, MAXP),
                     CCP_ERR_INVALID); /* no CRLF */
    assert_int_equal(coord_encode_error(&b, 429, "a: b\nc: d\r\n", 12, NULL, 0, MAXP),
                     CCP_ERR_INVALID); /* bare LF: header injection */
    assert_int_equal(coord_encode_error(&b, 429, ": b\r\n", 5, NULL, 0, MAXP), CCP_ERR_INVALID);
    assert_int_equal(coord_encode_error(&b, 429, "a b: c\r\n", 8, NULL, 0, MAXP), CCP_ERR_INVALID);
    assert_int_equal(coord_encode_error(&b, 429, "a: \x01\r\n", 6, NULL, 0, MAXP), CCP_ERR_INVALID);
    memset(big, '{', sizeof(big));
    assert_int_equal(coord_encode_error(&b, 500, NULL, 0, big, COORD_ERROR_MAX - 4, 1 << 20),
                     CCP_OK);
    assert_int_equal(coord_encode_error(&b, 500, NULL, 0, big, COORD_ERROR_MAX - 3, 1 << 20),
                     CCP_ERR_TOO_LARGE);
    assert_int_equal(coord_encode_error(&b, 500, NULL, 0, big, 100, 50), CCP_ERR_TOO_LARGE);
    assert_int_equal(b.len, COORD_FRAME_HEADER + COORD_ERROR_MAX); /* failures left nothing */
    /* what the decoder refuses, once the payload is there */
    assert_int_equal(coord_decode("\x00\x00\x00\x05\x09\x01\xad", 7, MAXP, &f, &used),
                     CCP_DECLINED);
    expect_invalid("\x00\x00\x00\x04\x09\x01\xad\x00", 8);     /* payload < 4 */
    expect_invalid("\x00\x00\x00\x05\x09\x00\x63\x00\x00", 9); /* status 99 */
    expect_invalid("\x00\x00\x00\x05\x09\x01\xad\x00\x01", 9); /* hlen past the end */
    expect_invalid("\x00\x00\x00\x08\x09\x01\xad\x00\x03"
                   "a:\n",
                   12); /* bad header block */
    /* over COORD_ERROR_MAX, decided from the header */
    assert_int_equal(coord_decode("\x00\x00\x50\x00\x09", 5, 1 << 20, &f, &used), CCP_ERR_INVALID);
    assert_int_equal(coord_parse_error("\x01\xad\x00", 3, &e), CCP_ERR_INVALID);
    buf_release(&b);
}

static void test_parse_hostport(void **state)
{
    char host[16], port[6];

    (void)state;
    assert_int_equal(coord_parse_hostport("127.0.0.1:7000", 14, host, sizeof(host), port), CCP_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_string_equal(port, "7000");
    assert_int_equal(coord_parse_hostport("[::1]:0,rest", 7, host, sizeof(host), port), CCP_OK);
    assert_string_equal(host, "::1");
    assert_string_equal(port, "0");
    assert_int_equal(coord_parse_hostport("::1:65535", 9, host, sizeof(host), port), CCP_OK);
    assert_string_equal(host, "::1");
    assert_string_equal(port, "65535");
    memcpy(host, "untouched", 10);
    assert_int_equal(coord_parse_hostport("localhost", 9, host, sizeof(host), port),
                     CCP_ERR_INVALID);
    assert_int_equal(coord_parse_hostport(":80", 3, host, sizeof(host), port), CCP_ERR_INVALID);
    assert_int_equal(coord_parse_hostport("[]:80", 5, host, sizeof(host), port), CCP_ERR_INVALID);
    assert_int_equal(coord_parse_hostport("h:", 2, host, sizeof(host), port), CCP_ERR_INVALID);
    assert_int_equal(coord_parse_hostport("h:123456", 8, host, sizeof(host), port),
                     CCP_ERR_INVALID);
    assert_int_equal(coord_parse_hostport("h:80x", 5, host, sizeof(host), port), CCP_ERR_INVALID);
    assert_int_equal(coord_parse_hostport("a-very-long-hostname:1", 22, host, sizeof(host), port),
                     CCP_ERR_INVALID);
    assert_string_equal(host, "untouched");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),         cmocka_unit_test(test_wire_format),
        cmocka_unit_test(test_every_split_point),  cmocka_unit_test(test_truncated_is_declined),
        cmocka_unit_test(test_garbage_is_invalid), cmocka_unit_test(test_length_over_max),
        cmocka_unit_test(test_encode_rejects),     cmocka_unit_test(test_parse_hostport),
        cmocka_unit_test(test_error_frame),
    };

    return cmocka_run_group_tests_name("coord_proto", tests, NULL, NULL);
}
