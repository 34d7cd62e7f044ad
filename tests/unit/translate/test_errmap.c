/* Tests of translate/errmap.c: golden upstream-error cases (status, type,
 * message, retry-after), the code table, and the error body writers. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/buf.h"
#include "tests/unit/golden.h"
#include "translate/translate.h"

static const char *jget(struct json_object *o, const char *k)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null)) {
        return NULL;
    }
    return json_object_get_string(v);
}

/* The error as a body and as an event must both carry type and message. */
static void check_writers(const struct tr_error *err)
{
    struct buf b;
    struct json_object *j, *e;
    char *expect;
    size_t n;

    buf_init(&b, 1 << 20);
    assert_int_equal(tr_error_json(err, &b), CCP_OK);
    j = json_tokener_parse(b.ptr);
    assert_non_null(j);
    assert_string_equal(jget(j, "type"), "error");
    assert_true(json_object_object_get_ex(j, "error", &e));
    assert_string_equal(jget(e, "type"), err->type);
    assert_string_equal(jget(e, "message"), err->message);
    n = strlen(b.ptr) + 32;
    expect = malloc(n);
    assert_non_null(expect);
    snprintf(expect, n, "event: error\ndata: %s\n\n", b.ptr);
    buf_reset(&b);
    assert_int_equal(tr_error_sse(err, &b), CCP_OK);
    assert_string_equal(b.ptr, expect);
    free(expect);
    json_object_put(j);
    buf_release(&b);
}

static void test_golden(void **state)
{
    const char *dir = *state;
    char *up_text = golden_read(dir, "upstream.json", NULL);
    char *ex_text = golden_read(dir, "expected.json", NULL);
    struct json_object *up, *ex, *v;
    struct tr_error err;
    const char *body, *ra, *want;

    assert_non_null(up_text);
    assert_non_null(ex_text);
    up = json_tokener_parse(up_text);
    ex = json_tokener_parse(ex_text);
    assert_non_null(up);
    assert_non_null(ex);
    assert_true(json_object_object_get_ex(up, "status", &v));
    body = jget(up, "body");
    ra = jget(up, "retry_after");
    memset(&err, 0x5A, sizeof(err));
    tr_error_from_upstream(&err, json_object_get_int(v), body, body != NULL ? strlen(body) : 0, ra);
    printf("# %s -> %d %s \"%s\" retry-after \"%s\"\n", strrchr(dir, '/') + 1, err.status, err.type,
           err.message, err.retry_after);
    assert_int_equal(err.code, CCP_ERR_UPSTREAM);
    assert_true(json_object_object_get_ex(ex, "status", &v));
    assert_int_equal(err.status, json_object_get_int(v));
    assert_string_equal(err.type, jget(ex, "type"));
    assert_non_null(strstr(err.message, jget(ex, "message_contains")));
    want = jget(ex, "message_not_contains");
    if (want != NULL) {
        assert_null(strstr(err.message, want));
    }
    want = jget(ex, "retry_after");
    assert_string_equal(err.retry_after, want != NULL ? want : "");
    check_writers(&err);
    json_object_put(up);
    json_object_put(ex);
    free(up_text);
    free(ex_text);
}

static void test_code_table(void **state)
{
    static const struct {
        enum ccp_err code;
        int status;
        const char *type;
    } want[] = {
        {CCP_ERR_INVALID, 400, "invalid_request_error"},
        {CCP_ERR_TOO_LARGE, 413, "request_too_large"},
        {CCP_ERR_NOMEM, 503, "overloaded_error"},
        {CCP_ERR_UNSUPPORTED, 400, "invalid_request_error"},
        {CCP_ERR_UPSTREAM, 502, "api_error"},
        {CCP_ERR_UPSTREAM_PROTO, 502, "api_error"},
        {CCP_ERR_TIMEOUT, 504, "api_error"},
        {CCP_ERR_INTERNAL, 500, "api_error"},
    };
    struct tr_error err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        tr_error_set(&err, want[i].code, "field %s: %d", "x", 7);
        assert_int_equal(err.code, want[i].code);
        assert_int_equal(err.status, want[i].status);
        assert_string_equal(err.type, want[i].type);
        assert_string_equal(err.message, "field x: 7");
        assert_string_equal(err.retry_after, "");
    }
}

static void test_exact_bytes(void **state)
{
    struct tr_error err;
    struct buf b;

    (void)state;
    buf_init(&b, 4096);
    tr_error_set(&err, CCP_ERR_INVALID, "bad \"model\"\n");
    assert_int_equal(tr_error_json(&err, &b), CCP_OK);
    assert_string_equal(b.ptr, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                               "\"message\":\"bad \\\"model\\\"\\n\"}}");
    buf_reset(&b);
    assert_int_equal(tr_error_sse(&err, &b), CCP_OK);
    assert_string_equal(b.ptr,
                        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                        "\"invalid_request_error\",\"message\":\"bad \\\"model\\\"\\n\"}}\n\n");
    buf_release(&b);
}

static void test_long_message_cut_on_utf8_boundary(void **state)
{
    struct tr_error err;
    char big[2000];
    size_t i, n;

    (void)state;
    for (i = 0; i + 2 < sizeof(big); i += 2) {
        big[i] = (char)0xC3; /* "é" */
        big[i + 1] = (char)0xA9;
    }
    big[i] = '\0';
    tr_error_set(&err, CCP_ERR_INVALID, "x%s", big); /* odd offset: cut mid-character */
    n = strlen(err.message);
    assert_true(n < sizeof(err.message));
    assert_true(n % 2 == 1); /* "x" then whole two-byte characters only */
    assert_int_equal((unsigned char)err.message[n - 1], 0xA9);
    /* the same through the upstream path */
    {
        char body[2100];
        snprintf(body, sizeof(body), "{\"error\":{\"message\":\"x%s\"}}", big);
        tr_error_from_upstream(&err, 500, body, strlen(body), NULL);
        n = strlen(err.message);
        assert_true(n % 2 == 1);
        assert_int_equal((unsigned char)err.message[n - 1], 0xA9);
    }
}

static void test_writer_keeps_buffer_on_failure(void **state)
{
    struct tr_error err;
    struct buf b;

    (void)state;
    buf_init(&b, 40);
    assert_int_equal(buf_append_cstr(&b, "keep"), CCP_OK);
    tr_error_set(&err, CCP_ERR_UPSTREAM, "a message long enough to pass the cap");
    assert_int_equal(tr_error_json(&err, &b), CCP_ERR_TOO_LARGE);
    assert_string_equal(b.ptr, "keep");
    assert_int_equal(tr_error_sse(&err, &b), CCP_ERR_TOO_LARGE);
    assert_string_equal(b.ptr, "keep");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_code_table),
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_long_message_cut_on_utf8_boundary),
        cmocka_unit_test(test_writer_keeps_buffer_on_failure),
    };
    int rc = cmocka_run_group_tests_name("errmap", tests, NULL, NULL);

    return rc + golden_run("errmap_golden", "errors", test_golden);
}
