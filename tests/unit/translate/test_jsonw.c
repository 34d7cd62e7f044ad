/* Unit tests of translate/jsonw.c: tr_json_append writes exactly what
 * json-c's own writer writes (PLAIN | NOSLASHESCAPE), and leaves the buffer
 * as it was when the output does not fit. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/buf.h"
#include "translate/request_int.h"

#include "common/banned.h"

static void same_as_json_c(struct json_object *o)
{
    struct buf b;
    const char *want = json_object_to_json_string_ext(o, TR_RQ_JSON_FLAGS);

    buf_init(&b, 1024 * 1024);
    assert_int_equal(buf_append(&b, "prefix", 6), CCP_OK);
    assert_int_equal(tr_json_append(o, &b), CCP_OK);
    assert_int_equal(b.len, 6 + strlen(want));
    assert_memory_equal(b.ptr + 6, want, strlen(want));
    buf_release(&b);
}

static void test_parsed_documents(void **state)
{
    static const char *docs[] = {
        "{}",
        "[]",
        "null",
        "{\"a\":{},\"b\":[],\"c\":[{}],\"d\":null,\"e\":true,\"f\":false}",
        "{\"n\":[0,-1,9223372036854775807,-9223372036854775808,18446744073709551615]}",
        "{\"d\":[1.5,-0.0,1e300,2.50,3.14159265358979,1E-7,12345678901234567890.5]}",
        "{\"s\":\"a/b \\\"q\\\" back\\\\slash \\b\\f\\n\\r\\t \\u0001\\u001f\\u007f end\"}",
        "{\"k\\\"ey\\n/\":\"\\u00e9\\u4e2d\\ud83d\\ude00\"}",
        "[[[[[\"deep\"]]]],{\"x\":[1,{\"y\":\"z\"}]}]",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct json_object *o = json_tokener_parse(docs[i]);

        assert_true(o != NULL || strcmp(docs[i], "null") == 0);
        same_as_json_c(o);
        json_object_put(o);
    }
}

static void test_every_byte(void **state)
{
    char s[256];
    struct json_object *o, *arr;
    int i;

    (void)state;
    for (i = 0; i < 256; i++) {
        s[i] = (char)(i == 0 ? 'x' : i);
    }
    /* all bytes, and an embedded NUL (written as \u0000 by both) */
    arr = json_object_new_array();
    o = json_object_new_string_len(s, 256);
    assert_int_equal(json_object_array_add(arr, o), 0);
    assert_int_equal(json_object_array_add(arr, json_object_new_string_len("a\0b", 3)), 0);
    same_as_json_c(arr);
    json_object_put(arr);
}

/* Each byte at each place of strings of 1 to 24 bytes, alone and after
 * another escape: the writer scans eight bytes at a time, so an escape must
 * be found in a word's every lane and in the bytes after the last word. */
static void test_every_byte_at_every_offset(void **state)
{
    char s[24];
    struct json_object *arr;
    int c, len, at;

    (void)state;
    for (len = 1; len <= 24; len++) {
        arr = json_object_new_array();
        for (c = 0; c < 256; c++) {
            for (at = 0; at < len; at++) {
                memset(s, 'a', sizeof(s));
                s[at] = (char)c;
                if (at + 2 < len) {
                    s[at + 2] = '\n';
                }
                assert_int_equal(json_object_array_add(arr, json_object_new_string_len(s, len)), 0);
            }
        }
        same_as_json_c(arr);
        json_object_put(arr);
    }
}

static void test_too_large_leaves_buffer(void **state)
{
    struct buf b;
    struct json_object *o = json_tokener_parse("{\"text\":\"0123456789012345678901234567890\"}");

    (void)state;
    buf_init(&b, 20);
    assert_int_equal(buf_append(&b, "keep", 4), CCP_OK);
    assert_int_equal(tr_json_append(o, &b), CCP_ERR_TOO_LARGE);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.ptr, "keep");
    buf_release(&b);
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parsed_documents),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_every_byte_at_every_offset),
        cmocka_unit_test(test_too_large_leaves_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
