/* Tests of translate/response.c: golden OpenAI chat.completion → Anthropic
 * Message cases (JSON-equal), failures with their client error, and the
 * field order and limits of the output. */
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

#include "common/alloc.h"
#include "common/buf.h"
#include "tests/unit/golden.h"
#include "translate/translate.h"

#define MAX_OUT ((size_t)64 << 20)
#define MSG_ID "msg_test_0001"

static void setup(struct tr_opts *o, struct tr_reqinfo *info, const char *dir)
{
    char *text = dir != NULL ? golden_read(dir, "info.json", NULL) : NULL;
    struct json_object *j = text != NULL ? json_tokener_parse(text) : NULL, *v;
    const char *m = "claude-sonnet-4-5-20250929";

    memset(o, 0, sizeof(*o));
    o->big_model = "gpt-big";
    o->small_model = "gpt-small";
    o->max_json_depth = 64;
    o->max_out = MAX_OUT;
    memset(info, 0, sizeof(*info));
    if (j != NULL && json_object_object_get_ex(j, "client_model", &v)) {
        m = json_object_get_string(v);
    }
    snprintf(info->client_model, sizeof(info->client_model), "%s", m);
    snprintf(info->upstream_model, sizeof(info->upstream_model), "gpt-big");
    golden_info_aliases(info, j);
    json_object_put(j);
    free(text);
}

static void key_order(struct json_object *o, char *dst, size_t cap)
{
    size_t n = 0;

    dst[0] = '\0';
    json_object_object_foreach(o, k, v)
    {
        (void)v;
        n += (size_t)snprintf(dst + n, n < cap ? cap - n : 0, "%s%s", n ? "," : "", k);
    }
}

static void test_golden(void **state)
{
    const char *dir = *state;
    size_t len;
    char *in = golden_read(dir, "openai.json", &len);
    char *want_err = golden_read(dir, "error.json", NULL);
    struct tr_opts o;
    struct tr_reqinfo info;
    struct tr_error err;
    struct buf out;
    enum ccp_err rc;

    assert_non_null(in);
    setup(&o, &info, dir);
    buf_init(&out, MAX_OUT);
    assert_int_equal(buf_append_cstr(&out, "PRE"), CCP_OK);
    rc = tr_response(&o, &info, MSG_ID, in, len, &out, &err);
    if (want_err != NULL) {
        struct json_object *e = json_tokener_parse(want_err), *v;
        assert_non_null(e);
        assert_int_not_equal(rc, CCP_OK);
        assert_string_equal(out.ptr, "PRE"); /* output left as it was */
        assert_true(json_object_object_get_ex(e, "status", &v));
        assert_int_equal(err.status, json_object_get_int(v));
        assert_true(json_object_object_get_ex(e, "type", &v));
        assert_string_equal(err.type, json_object_get_string(v));
        assert_true(json_object_object_get_ex(e, "message_contains", &v));
        if (strstr(err.message, json_object_get_string(v)) == NULL) {
            printf("message: %s\n", err.message);
            fail();
        }
        json_object_put(e);
    } else {
        struct json_object *j, *u;
        char keys[256];
        assert_int_equal(rc, CCP_OK);
        if (getenv("CCP_GOLDEN_UPDATE") != NULL) {
            const char *s;
            j = json_tokener_parse(out.ptr + 3);
            s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
            golden_write(dir, "anthropic.json", s, strlen(s));
            json_object_put(j);
        } else {
            char *want = golden_read(dir, "anthropic.json", NULL);
            assert_non_null(want);
            assert_true(golden_json_equal(dir, want, out.ptr + 3));
            free(want);
        }
        j = json_tokener_parse(out.ptr + 3);
        assert_non_null(j);
        key_order(j, keys, sizeof(keys));
        assert_string_equal(keys, "id,type,role,model,content,stop_reason,stop_sequence,usage");
        assert_true(json_object_object_get_ex(j, "usage", &u));
        key_order(u, keys, sizeof(keys));
        assert_string_equal(keys, "input_tokens,cache_creation_input_tokens,"
                                  "cache_read_input_tokens,output_tokens");
        json_object_put(j);
    }
    buf_release(&out);
    free(in);
    free(want_err);
}

static void test_output_cap_leaves_buffer(void **state)
{
    static const char body[] =
        "{\"choices\":[{\"message\":{\"content\":\"a fairly long answer text\"},"
        "\"finish_reason\":\"stop\"}]}";
    struct tr_opts o;
    struct tr_reqinfo info;
    struct tr_error err;
    struct buf out;

    (void)state;
    setup(&o, &info, NULL);
    buf_init(&out, 50);
    assert_int_equal(buf_append_cstr(&out, "x"), CCP_OK);
    assert_int_equal(tr_response(&o, &info, MSG_ID, body, strlen(body), &out, &err),
                     CCP_ERR_TOO_LARGE);
    assert_string_equal(out.ptr, "x");
    assert_int_equal(err.status, 413);
    buf_release(&out);
}

static void test_compact_serialization(void **state)
{
    static const char body[] = "{\"choices\":[{\"message\":{\"content\":\"a/b\"},"
                               "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,"
                               "\"completion_tokens\":1}}";
    struct tr_opts o;
    struct tr_reqinfo info;
    struct tr_error err;
    struct buf out;

    (void)state;
    setup(&o, &info, NULL);
    buf_init(&out, MAX_OUT);
    assert_int_equal(tr_response(&o, &info, MSG_ID, body, strlen(body), &out, &err), CCP_OK);
    assert_string_equal(out.ptr,
                        "{\"id\":\"msg_test_0001\",\"type\":\"message\",\"role\":\"assistant\","
                        "\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[{\"type\":\"text\","
                        "\"text\":\"a/b\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
                        "\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":0,"
                        "\"cache_read_input_tokens\":0,\"output_tokens\":1}}");
    buf_release(&out);
}

/* The usage handed to the worker (request line, metrics, prices) is the
 * answer's, from the same parse: OpenAI's cached tokens, DeepSeek's, none. */
static void test_usage_out(void **state)
{
    static const char *bodies[] = {
        "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":500,"
        "\"prompt_tokens_details\":{\"cached_tokens\":200}}}",
        "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,"
        "\"prompt_cache_hit_tokens\":40}}",
        "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}",
        "{\"error\":{\"message\":\"no\",\"type\":\"server_error\"}}",
    };
    static const struct tr_usage want[] = {
        {true, 1000, 500, 200}, {true, 10, 2, 10}, {false, 0, 0, 0}, {false, 0, 0, 0}};
    struct tr_opts o;
    struct tr_reqinfo info;
    struct tr_error err;
    struct tr_usage u;
    struct buf out;
    enum ccp_err rc;
    size_t i;

    (void)state;
    setup(&o, &info, NULL);
    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        buf_init(&out, MAX_OUT);
        memset(&u, 0xa5, sizeof(u));
        rc = tr_response_usage(&o, &info, MSG_ID, bodies[i], strlen(bodies[i]), &out, &err, &u);
        assert_true(i < 3 ? rc == CCP_OK : rc != CCP_OK); /* the last is an error document */
        assert_int_equal(u.present, want[i].present);
        assert_int_equal(u.prompt, want[i].prompt);
        assert_int_equal(u.completion, want[i].completion);
        assert_int_equal(u.cached, want[i].cached);
        buf_release(&out);
    }
}

/* Torture (--enable-fault-injection builds): fail each of our allocations
 * in turn for every golden completion that translates; each must give
 * CCP_ERR_NOMEM with a 503 and leave out as it was. */
struct torture_resp {
    const struct tr_opts *o;
    const struct tr_reqinfo *info;
    const char *in;
    size_t len;
};

static enum ccp_err torture_response(void *ctx, struct buf *out, struct tr_error *err)
{
    struct torture_resp *t = ctx;

    return tr_response(t->o, t->info, MSG_ID, t->in, t->len, out, err);
}

static void torture_case(void **state)
{
    const char *dir = *state;
    struct torture_resp t;
    struct tr_opts o;
    struct tr_reqinfo info;
    char *in;

    if (golden_exists(dir, "error.json") || ccp_alloc_fail_at(0) == 0) {
        skip();
    }
    in = golden_read(dir, "openai.json", &t.len);
    assert_non_null(in);
    setup(&o, &info, dir);
    t.o = &o;
    t.info = &info;
    t.in = in;
    golden_torture(torture_response, &t, MAX_OUT);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_cap_leaves_buffer),
        cmocka_unit_test(test_compact_serialization),
        cmocka_unit_test(test_usage_out),
    };
    int rc = cmocka_run_group_tests_name("response", tests, NULL, NULL);

    rc += golden_run("response_golden", "response", test_golden);
    if (ccp_alloc_fail_at(0) != 0) { /* only in fault-injection builds */
        rc += golden_run("response_torture", "response", torture_case);
    }
    return rc;
}
