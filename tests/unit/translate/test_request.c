/* Unit and golden tests of translate/request.c: Anthropic request bodies
 * under tests/data/translate/request/<NNN-slug>/ against the expected OpenAI
 * body (openai.json) or client error (error.json); model mapping; the
 * count_tokens estimate. CCP_GOLDEN_UPDATE=1 writes actual outputs (review
 * every one by hand). */
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

#define MIB (1024UL * 1024UL)

static void default_opts(struct tr_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->big_model = "gpt-big";
    o->small_model = "gpt-small";
    o->max_json_depth = 64;
    o->max_out = 64 * MIB;
}

/* Rules parsed from an opts.json "model_rules" (one case at a time). */
static struct tr_model_rule case_rules[16];
static char case_rule_strings[1024];

/* Apply a case's opts.json ({"big_model":..,"small_model":..,
 * "max_json_depth":.., "session_id":.., "model_rules":"<MODEL_RULES text>",
 * "no_user":true, "no_prompt_cache_key":true}); the strings stay owned by
 * *holder. */
static void case_opts(const char *dir, struct tr_opts *o, struct json_object **holder)
{
    char msg[200];
    char *text = golden_read(dir, "opts.json", NULL);
    struct json_object *v;

    default_opts(o);
    *holder = NULL;
    if (text == NULL) {
        return;
    }
    *holder = json_tokener_parse(text);
    free(text);
    assert_non_null(*holder);
    if (json_object_object_get_ex(*holder, "big_model", &v)) {
        o->big_model = json_object_get_string(v);
    }
    if (json_object_object_get_ex(*holder, "small_model", &v)) {
        o->small_model = json_object_get_string(v);
    }
    if (json_object_object_get_ex(*holder, "max_json_depth", &v)) {
        o->max_json_depth = json_object_get_int(v);
    }
    if (json_object_object_get_ex(*holder, "session_id", &v)) {
        o->session_id = json_object_get_string(v);
    }
    if (json_object_object_get_ex(*holder, "no_user", &v)) {
        o->no_user = json_object_get_boolean(v);
    }
    if (json_object_object_get_ex(*holder, "no_prompt_cache_key", &v)) {
        o->no_prompt_cache_key = json_object_get_boolean(v);
    }
    if (json_object_object_get_ex(*holder, "model_rules", &v)) {
        assert_int_equal(tr_model_rules_parse(json_object_get_string(v), case_rules,
                                              CCP_ARRAY_LEN(case_rules), &o->nrules,
                                              case_rule_strings, sizeof(case_rule_strings), msg,
                                              sizeof(msg)),
                         CCP_OK);
        o->rules = case_rules;
    }
}

/* A case's reqinfo.json, when present, must match what tr_request
 * reported: {"server_tools_dropped":n,"server_tool":..,"aliases":[[u,c],..]}. */
static void check_reqinfo(const char *dir, const struct tr_reqinfo *info)
{
    char *text = golden_read(dir, "reqinfo.json", NULL);
    struct json_object *j, *v, *pair;
    size_t i;

    if (text == NULL) {
        return;
    }
    j = json_tokener_parse(text);
    free(text);
    assert_non_null(j);
    if (json_object_object_get_ex(j, "server_tools_dropped", &v)) {
        assert_int_equal(info->server_tools_dropped, json_object_get_int(v));
    }
    if (json_object_object_get_ex(j, "server_tool", &v)) {
        assert_string_equal(info->server_tool, json_object_get_string(v));
    }
    if (json_object_object_get_ex(j, "aliases", &v)) {
        assert_int_equal(info->naliases, json_object_array_length(v));
        for (i = 0; i < info->naliases; i++) {
            pair = json_object_array_get_idx(v, i);
            assert_string_equal(info->aliases[i].upstream,
                                json_object_get_string(json_object_array_get_idx(pair, 0)));
            assert_string_equal(info->aliases[i].client,
                                json_object_get_string(json_object_array_get_idx(pair, 1)));
        }
    }
    json_object_put(j);
}

/* The output must agree with what tr_request reported in *info. */
static void check_info(const char *actual, const struct tr_reqinfo *info, const char *in)
{
    struct json_object *a = json_tokener_parse(actual), *i = json_tokener_parse(in), *v;
    bool stream;

    assert_non_null(a);
    assert_non_null(i);
    assert_true(json_object_object_get_ex(a, "model", &v));
    assert_string_equal(json_object_get_string(v), info->upstream_model);
    assert_true(json_object_object_get_ex(i, "model", &v));
    assert_string_equal(json_object_get_string(v), info->client_model);
    stream = json_object_object_get_ex(a, "stream", &v) && json_object_get_boolean(v);
    assert_int_equal(stream, info->stream);
    json_object_put(a);
    json_object_put(i);
}

static void check_error(const char *dir, enum ccp_err rc, const struct tr_error *err)
{
    char *text = golden_read(dir, "error.json", NULL);
    struct json_object *e, *v;

    assert_non_null(text);
    e = json_tokener_parse(text);
    free(text);
    assert_non_null(e);
    assert_int_not_equal(rc, CCP_OK);
    printf("# %s: %d %s: %s\n", dir, err->status, err->type, err->message);
    assert_true(json_object_object_get_ex(e, "status", &v));
    assert_int_equal(err->status, json_object_get_int(v));
    assert_true(json_object_object_get_ex(e, "type", &v));
    assert_string_equal(err->type, json_object_get_string(v));
    assert_true(json_object_object_get_ex(e, "message_contains", &v));
    assert_non_null(strstr(err->message, json_object_get_string(v)));
    json_object_put(e);
}

static void golden_case(void **state)
{
    const char *dir = *state;
    struct json_object *holder, *actual;
    struct tr_opts o;
    struct tr_reqinfo info;
    struct tr_error err;
    struct buf out;
    size_t len;
    char *in = golden_read(dir, "anthropic.json", &len), *expected;
    const char *upd = getenv("CCP_GOLDEN_UPDATE"), *pretty;
    enum ccp_err rc;

    assert_non_null(in);
    case_opts(dir, &o, &holder);
    memset(&info, 0, sizeof(info));
    memset(&err, 0, sizeof(err));
    buf_init(&out, 64 * MIB);
    rc = tr_request(&o, in, len, &out, &info, &err);
    if (golden_exists(dir, "error.json")) {
        check_error(dir, rc, &err);
        assert_int_equal(out.len, 0);
        goto done;
    }
    if (rc != CCP_OK) {
        printf("# %s: unexpected error %d %s: %s\n", dir, err.status, err.type, err.message);
    }
    assert_int_equal(rc, CCP_OK);
    if (upd != NULL && strcmp(upd, "1") == 0) {
        actual = json_tokener_parse(out.ptr);
        assert_non_null(actual);
        pretty = json_object_to_json_string_ext(actual, JSON_C_TO_STRING_PRETTY |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE);
        len = strlen(pretty);
        expected = malloc(len + 1);
        assert_non_null(expected);
        memcpy(expected, pretty, len);
        expected[len] = '\n';
        golden_write(dir, "openai.json", expected, len + 1);
        free(expected);
        json_object_put(actual);
    }
    expected = golden_read(dir, "openai.json", NULL);
    assert_non_null(expected);
    assert_true(golden_json_equal(dir, expected, out.ptr));
    check_info(out.ptr, &info, in);
    check_reqinfo(dir, &info);
    free(expected);
done:
    buf_release(&out);
    json_object_put(holder);
    free(in);
}

/* ---- direct tests ------------------------------------------------------- */

static void test_map_model(void **state)
{
    struct tr_opts o;

    (void)state;
    default_opts(&o);
    assert_string_equal(tr_map_model(&o, "claude-opus-5-5"), "gpt-big");
    assert_string_equal(tr_map_model(&o, "claude-sonnet-4-5-20250929"), "gpt-big");
    assert_string_equal(tr_map_model(&o, "CLAUDE-SONNET-5-5"), "gpt-big");
    assert_string_equal(tr_map_model(&o, "claude-3-5-haiku-20241022"), "gpt-small");
    assert_string_equal(tr_map_model(&o, "Claude-Haiku-5-5"), "gpt-small");
    assert_string_equal(tr_map_model(&o, "gpt-4o"), "gpt-4o");
    assert_string_equal(tr_map_model(&o, "fable"), "fable");
    assert_string_equal(tr_map_model(&o, ""), "");
    /* an unset target leaves the name as it is */
    o.small_model = "";
    assert_string_equal(tr_map_model(&o, "claude-haiku-5-5"), "claude-haiku-5-5");
}

static unsigned long count(const char *body, enum ccp_err want)
{
    struct tr_opts o;
    struct tr_error err;
    unsigned long n = 12345;

    default_opts(&o);
    memset(&err, 0, sizeof(err));
    assert_int_equal(tr_count_tokens_estimate(&o, body, strlen(body), &n, &err), want);
    if (want == CCP_ERR_INVALID) {
        assert_int_equal(err.status, 400);
        assert_string_equal(err.type, "invalid_request_error");
        assert_int_equal(n, 12345); /* untouched on failure */
    }
    return n;
}

static void test_count_tokens(void **state)
{
    char big[4200], body[4400];
    unsigned long a, b, c, d, t;

    (void)state;
    a = count(
        "{\"model\":\"claude-opus-5-5\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        CCP_OK);
    assert_true(a > 0);
    b = count("{\"model\":\"claude-opus-5-5\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"hello there, how are you doing today?\"}]}",
              CCP_OK);
    assert_true(b > a);
    memset(big, 'x', 4000);
    big[4000] = '\0';
    (void)snprintf(body, sizeof(body),
                   "{\"model\":\"claude-opus-5-5\",\"messages\":[{\"role\":\"user\",\"content\":"
                   "\"%s\"}]}",
                   big);
    c = count(body, CCP_OK);
    /* about bytes / 4 */
    assert_true(c >= 1000 && c <= 1100);
    /* a system prompt, a second message and tools all add */
    d = count("{\"model\":\"claude-opus-5-5\",\"system\":\"be brief\",\"messages\":[{\"role\":"
              "\"user\",\"content\":\"hi\"}]}",
              CCP_OK);
    assert_true(d > a);
    t = count("{\"model\":\"claude-opus-5-5\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}"
              "],\"tools\":[{\"name\":\"Bash\",\"description\":\"run a command\",\"input_schema\":"
              "{\"type\":\"object\"}}]}",
              CCP_OK);
    assert_true(t > a);
    /* count_tokens bodies have no max_tokens; an empty message list still counts */
    assert_true(count("{\"model\":\"m\",\"messages\":[]}", CCP_OK) > 0);
    (void)count("{\"model\":\"m\"}", CCP_ERR_INVALID);
    (void)count("[1]", CCP_ERR_INVALID);
}

static void test_out_untouched_and_appended(void **state)
{
    static const char body[] = "{\"model\":\"claude-haiku-5-5\",\"max_tokens\":5,\"stream\":true,"
                               "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    struct tr_opts o;
    struct tr_reqinfo info;
    struct tr_error err;
    struct buf out;

    (void)state;
    default_opts(&o);
    buf_init(&out, MIB);
    assert_int_equal(buf_append_cstr(&out, "PREFIX"), CCP_OK);
    /* failure leaves out and info as they were */
    memset(&info, 0x5a, sizeof(info));
    assert_int_equal(tr_request(&o, "{", 1, &out, &info, &err), CCP_ERR_INVALID);
    assert_string_equal(out.ptr, "PREFIX");
    assert_int_equal(info.client_model[0], 0x5a);
    /* success appends and fills info */
    assert_int_equal(tr_request(&o, body, strlen(body), &out, &info, &err), CCP_OK);
    assert_int_equal(strncmp(out.ptr, "PREFIX{", 7), 0);
    assert_true(info.stream);
    assert_string_equal(info.client_model, "claude-haiku-5-5");
    assert_string_equal(info.upstream_model, "gpt-small");
    buf_release(&out);
}

/* What json-c itself says of body with its UTF-8 check on: NULL when the
 * body is one JSON value (trailing whitespace allowed), else its error. */
static const char *jsonc_verdict(const char *body, size_t len)
{
    struct json_tokener *tok = json_tokener_new_ex(64);
    struct json_object *obj;
    const char *verdict = NULL;
    size_t end;

    assert_non_null(tok);
    json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, body, (int)len);
    if (obj == NULL) {
        verdict = json_tokener_error_desc(json_tokener_get_error(tok));
    }
    for (end = json_tokener_get_parse_end(tok); obj != NULL && end < len; end++) {
        if (strchr(" \t\r\n", body[end]) == NULL) {
            verdict = "data after the value";
            break;
        }
    }
    json_object_put(obj);
    json_tokener_free(tok);
    return verdict;
}

/* tr_request checks UTF-8 itself and parses valid bodies without json-c's
 * per-byte check: every body must still get json-c's own verdict, with
 * non-ASCII bytes on both sides of 8-byte boundaries, inside and after the
 * value. */
static void test_utf8_verdicts(void **state)
{
    static const char *const texts[] = {
        "h\xc3\xa9llo",           /* valid 2-byte */
        "\xe2\x82\xac euro",      /* valid 3-byte */
        "\xf0\x9f\x98\x80 smile", /* valid 4-byte */
        "\xc0\x80",               /* overlong: json-c lets it through */
        "\xf7\xbf\xbf\xbf",       /* above U+10FFFF: likewise */
        "bad \xff byte",          /* never valid */
        "lone \x80 continuation",
        "cut \xe2\x82", /* sequence cut by the closing quote */
        "cut \xf0\x9f\x98",
        "\xc3",
    };
    static const char *const tails[] = {"", " \n", "x", "\xc3\xa9", "\xff", " \xe2\x82\xac"};
    char body[256];
    struct tr_opts o;
    struct tr_reqinfo info;
    struct tr_error err;
    struct buf out;
    const char *want;
    size_t t, k, pad, len;
    enum ccp_err rc;

    (void)state;
    default_opts(&o);
    buf_init(&out, MIB);
    for (t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
        for (k = 0; k < sizeof(tails) / sizeof(tails[0]); k++) {
            for (pad = 0; pad < 8; pad++) {
                len =
                    (size_t)snprintf(body, sizeof(body),
                                     "{\"model\":\"claude-haiku-5\",\"max_tokens\":5,\"messages\":"
                                     "[{\"role\":\"user\",\"content\":\"%.*s%s\"}]}%s",
                                     (int)pad, "........", texts[t], tails[k]);
                want = jsonc_verdict(body, len);
                buf_reset(&out);
                memset(&err, 0, sizeof(err));
                rc = tr_request(&o, body, len, &out, &info, &err);
                if (want == NULL) {
                    assert_int_equal(rc, CCP_OK);
                } else {
                    assert_int_equal(rc, CCP_ERR_INVALID);
                    assert_non_null(strstr(err.message, want));
                }
            }
        }
    }
    buf_release(&out);
}

static void test_too_large(void **state)
{
    static const char body[] = "{\"model\":\"claude-opus-5-5\",\"max_tokens\":5,"
                               "\"messages\":[{\"role\":\"user\",\"content\":"
                               "\"0123456789012345678901234567890123456789\"}]}";
    struct tr_opts o;
    struct tr_reqinfo info;
    struct tr_error err;
    struct buf out;

    (void)state;
    default_opts(&o);
    o.max_out = 40; /* the content alone is 40 bytes */
    buf_init(&out, MIB);
    assert_int_equal(tr_request(&o, body, strlen(body), &out, &info, &err), CCP_ERR_TOO_LARGE);
    assert_int_equal(err.status, 413);
    assert_string_equal(err.type, "request_too_large");
    assert_int_equal(out.len, 0);
    /* the limit of out itself also counts */
    default_opts(&o);
    buf_release(&out);
    buf_init(&out, 50);
    assert_int_equal(tr_request(&o, body, strlen(body), &out, &info, &err), CCP_ERR_TOO_LARGE);
    assert_int_equal(err.status, 413);
    assert_int_equal(out.len, 0);
    buf_release(&out);
}

/* Nesting just inside and beyond the configured tokener depth. json-c
 * counts every value on its stack, the innermost scalar too: with depth 16,
 * 15 containers around a number parse and 16 do not. */
static void test_depth_limit(void **state)
{
    struct tr_opts o;
    struct tr_reqinfo info;
    struct tr_error err;
    struct buf out, body;
    int depth, i;
    enum ccp_err rc;

    (void)state;
    default_opts(&o);
    o.max_json_depth = 16;
    for (depth = 14; depth <= 17; depth++) {
        buf_init(&body, MIB);
        buf_init(&out, MIB);
        /* root object (1) + messages array (2) + message (3) + content (4) + block (5)
         * + input object (6) then nested arrays inside the tool input */
        assert_int_equal(buf_append_cstr(&body, "{\"model\":\"x\",\"messages\":[{\"role\":"
                                                "\"assistant\",\"content\":[{\"type\":"
                                                "\"tool_use\",\"id\":\"t\",\"name\":\"n\","
                                                "\"input\":{\"a\":"),
                         CCP_OK);
        for (i = 6; i < depth; i++) {
            assert_int_equal(buf_putc(&body, '['), CCP_OK);
        }
        assert_int_equal(buf_putc(&body, '1'), CCP_OK);
        for (i = 6; i < depth; i++) {
            assert_int_equal(buf_putc(&body, ']'), CCP_OK);
        }
        assert_int_equal(buf_append_cstr(&body, "}}]}]}"), CCP_OK);
        rc = tr_request(&o, body.ptr, body.len, &out, &info, &err);
        assert_int_equal(rc, depth < 16 ? CCP_OK : CCP_ERR_INVALID);
        if (depth >= 16) {
            assert_int_equal(err.status, 400);
            assert_non_null(strstr(err.message, "not valid JSON"));
        }
        buf_release(&out);
        buf_release(&body);
    }
}

/* MAX_MESSAGES, MAX_CONTENT_BLOCKS, MAX_STRING_BYTES: at the limit passes,
 * one over gives 400 naming the limit, for /v1/messages and count_tokens. */
static void expect_limit(const struct tr_opts *o, const char *body, const char *name)
{
    struct tr_reqinfo info;
    struct tr_error err;
    struct buf out;
    unsigned long tokens = 0;
    enum ccp_err rc;

    buf_init(&out, MIB);
    rc = tr_request(o, body, strlen(body), &out, &info, &err);
    if (name == NULL) {
        assert_int_equal(rc, CCP_OK);
        assert_int_equal(tr_count_tokens_estimate(o, body, strlen(body), &tokens, &err), CCP_OK);
    } else {
        assert_int_equal(rc, CCP_ERR_INVALID);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.type, "invalid_request_error");
        assert_non_null(strstr(err.message, name));
        assert_int_equal(out.len, 0);
        assert_int_equal(tr_count_tokens_estimate(o, body, strlen(body), &tokens, &err),
                         CCP_ERR_INVALID);
        assert_non_null(strstr(err.message, name));
    }
    buf_release(&out);
}

static void test_request_limits(void **state)
{
    static const char two_msgs[] =
        "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
        "{\"role\":\"assistant\",\"content\":\"b\"}]}";
    static const char three_blocks[] =
        "{\"model\":\"m\",\"max_tokens\":5,\"system\":[{\"type\":\"text\",\"text\":\"s\"}],"
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
        "{\"type\":\"text\",\"text\":\"b\"}]}]}";
    static const char long_str[] =
        "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":"
        "[{\"type\":\"text\",\"text\":\"0123456789\"}]}]}";
    static const char long_key[] =
        "{\"model\":\"m\",\"max_tokens\":5,\"metadata\":{\"abcdefghijkl\":1},"
        "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    struct tr_opts o;

    (void)state;
    default_opts(&o);
    o.max_messages = 2;
    expect_limit(&o, two_msgs, NULL);
    o.max_messages = 1;
    expect_limit(&o, two_msgs, "MAX_MESSAGES");

    default_opts(&o);
    o.max_content_blocks = 3;
    expect_limit(&o, three_blocks, NULL);
    o.max_content_blocks = 2;
    expect_limit(&o, three_blocks, "MAX_CONTENT_BLOCKS");

    default_opts(&o);
    o.max_string_bytes = 10;
    expect_limit(&o, long_str, NULL);
    o.max_string_bytes = 9;
    expect_limit(&o, long_str, "MAX_STRING_BYTES");
    expect_limit(&o, long_key, "MAX_STRING_BYTES");
}

/* Torture (--enable-fault-injection builds): fail each of our allocations
 * in turn while translating every golden case that succeeds; each must give
 * CCP_ERR_NOMEM with a 503, leave out empty and leak nothing (valgrind). */
struct torture_req {
    const struct tr_opts *o;
    const char *in;
    size_t len;
    struct tr_reqinfo info;
};

static enum ccp_err torture_request(void *ctx, struct buf *out, struct tr_error *err)
{
    struct torture_req *t = ctx;

    return tr_request(t->o, t->in, t->len, out, &t->info, err);
}

static void torture_case(void **state)
{
    const char *dir = *state;
    struct json_object *holder;
    struct torture_req t;
    struct tr_opts o;
    char *in;

    if (golden_exists(dir, "error.json") || ccp_alloc_fail_at(0) == 0) {
        skip();
    }
    in = golden_read(dir, "anthropic.json", &t.len);
    assert_non_null(in);
    case_opts(dir, &o, &holder);
    t.o = &o;
    t.in = in;
    golden_torture(torture_request, &t, 64 * MIB);
    json_object_put(holder);
    free(in);
}

static void test_model_rules_parse(void **state)
{
    struct tr_model_rule r[4];
    struct tr_model_caps caps;
    struct tr_opts o;
    char strings[128], msg[160];
    size_t n = 99;

    (void)state;
    default_opts(&o);
    assert_int_equal(tr_model_rules_parse(" my-* : max_output=1000, effort=yes ;; gpt-4o*:"
                                          "vision=no;x/y:max_field=max_completion_tokens",
                                          r, 4, &n, strings, sizeof(strings), msg, sizeof(msg)),
                     CCP_OK);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].pattern, "my-*");
    assert_int_equal(r[0].max_output, 1000);
    assert_int_equal(r[0].effort, TR_YES);
    assert_int_equal(r[0].sampling, TR_UNSET);
    assert_string_equal(r[2].pattern, "x/y");
    assert_int_equal(r[2].max_field, TR_MAXF_MAX_COMPLETION_TOKENS);
    o.rules = r;
    o.nrules = n;
    /* an override sets some fields; the rest come from the built-ins */
    tr_model_caps(&o, "openrouter/GPT-4o-mini", &caps);
    assert_false(caps.vision);
    assert_int_equal(caps.max_output, 16384);
    assert_true(caps.sampling);
    tr_model_caps(&o, "my-model", &caps);
    assert_true(caps.effort);
    assert_int_equal(caps.max_output, 1000);
    tr_model_caps(&o, "x/y", &caps);
    assert_int_equal(caps.max_field, TR_MAXF_MAX_COMPLETION_TOKENS);
    tr_model_caps(&o, "z/y", &caps); /* a pattern with '/' matches the whole name */
    assert_int_equal(caps.max_field, TR_MAXF_MAX_TOKENS);
    o.nrules = 0;
    tr_model_caps(&o, "o3-mini", &caps);
    assert_int_equal(caps.max_field, TR_MAXF_MAX_COMPLETION_TOKENS);
    assert_false(caps.sampling);
    assert_true(caps.effort);
    tr_model_caps(&o, "deepseek-reasoner", &caps);
    assert_true(caps.replay);
    assert_false(caps.vision);
    tr_model_caps(&o, "llama-3", &caps);
    assert_int_equal(caps.max_output, 0);
    assert_true(caps.sampling && caps.vision && !caps.effort && !caps.replay);
    /* errors name the rule and leave *n alone */
    n = 99;
    assert_int_equal(tr_model_rules_parse("a:effort=maybe", r, 4, &n, strings, sizeof(strings), msg,
                                          sizeof(msg)),
                     CCP_ERR_INVALID);
    assert_non_null(strstr(msg, "effort=maybe"));
    assert_int_equal(n, 99);
    assert_int_equal(
        tr_model_rules_parse("nocolon", r, 4, &n, strings, sizeof(strings), msg, sizeof(msg)),
        CCP_ERR_INVALID);
    assert_int_equal(
        tr_model_rules_parse(":vision=no", r, 4, &n, strings, sizeof(strings), msg, sizeof(msg)),
        CCP_ERR_INVALID);
    assert_int_equal(tr_model_rules_parse("a:max_output=12x", r, 4, &n, strings, sizeof(strings),
                                          msg, sizeof(msg)),
                     CCP_ERR_INVALID);
    assert_int_equal(
        tr_model_rules_parse("a:x=1", r, 4, &n, strings, sizeof(strings), msg, sizeof(msg)),
        CCP_ERR_INVALID);
    assert_int_equal(tr_model_rules_parse("a:;b:;c:;d:;e:", r, 4, &n, strings, sizeof(strings), msg,
                                          sizeof(msg)),
                     CCP_ERR_TOO_LARGE);
    assert_int_equal(tr_model_rules_parse("", r, 4, &n, strings, sizeof(strings), msg, sizeof(msg)),
                     CCP_OK);
    assert_int_equal(n, 0);
}

static void test_tool_name_upstream(void **state)
{
    char a[TR_TOOL_NAME_MAX + 1], b[TR_TOOL_NAME_MAX + 1];
    char l1[100], l2[100];

    (void)state;
    assert_string_equal(tr_tool_name_upstream("Bash", a), "Bash");
    memset(l1, 'x', 64);
    l1[64] = '\0';
    assert_string_equal(tr_tool_name_upstream(l1, a), l1); /* exactly 64: kept */
    memset(l1, 'm', 80);
    l1[80] = '\0';
    memcpy(l2, l1, sizeof(l1));
    l2[79] = 'n'; /* differs only past the kept prefix */
    tr_tool_name_upstream(l1, a);
    tr_tool_name_upstream(l2, b);
    assert_int_equal(strlen(a), TR_TOOL_NAME_MAX);
    assert_int_equal(strlen(b), TR_TOOL_NAME_MAX);
    assert_string_not_equal(a, b);
    assert_int_equal(strncmp(a, l1, 55), 0);
    assert_int_equal(a[55], '_');
    /* stable */
    tr_tool_name_upstream(l1, b);
    assert_string_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_model),
        cmocka_unit_test(test_count_tokens),
        cmocka_unit_test(test_out_untouched_and_appended),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_utf8_verdicts),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_request_limits),
        cmocka_unit_test(test_model_rules_parse),
        cmocka_unit_test(test_tool_name_upstream),
    };
    int rc = cmocka_run_group_tests_name("request_unit", tests, NULL, NULL);

    rc += golden_run("request", "request", golden_case);
    if (ccp_alloc_fail_at(0) != 0) { /* only in fault-injection builds */
        rc += golden_run("request_torture", "request", torture_case);
    }
    return rc != 0;
}
