/* Tests of translate/stream.c: golden OpenAI SSE → Anthropic SSE cases,
 * compared byte for byte and replayed under every chunking, a checker of
 * the Anthropic event grammar, and the limits and failure paths. */
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
#define SMALL_FILE 4096

static void opts_init(struct tr_opts *o, size_t max_out)
{
    memset(o, 0, sizeof(*o));
    o->big_model = "gpt-big";
    o->small_model = "gpt-small";
    o->max_json_depth = 64;
    o->max_out = max_out;
}

/* reqinfo: defaults, or the case's info.json {"client_model":...}. */
static void info_init(struct tr_reqinfo *info, const char *dir)
{
    char *text = dir != NULL ? golden_read(dir, "info.json", NULL) : NULL;
    const char *m = "claude-sonnet-4-5-20250929";
    struct json_object *j = text != NULL ? json_tokener_parse(text) : NULL, *v;

    memset(info, 0, sizeof(*info));
    info->stream = true;
    if (j != NULL && json_object_object_get_ex(j, "client_model", &v)) {
        m = json_object_get_string(v);
    }
    snprintf(info->client_model, sizeof(info->client_model), "%s", m);
    snprintf(info->upstream_model, sizeof(info->upstream_model), "gpt-big");
    golden_info_aliases(info, j);
    json_object_put(j);
    free(text);
}

struct run {
    char *out; /* malloc'd output */
    size_t len;
    bool failed; /* some call returned an error */
};

/* Feed `in` cut at the sorted positions cuts[0..ncut), then finish. */
static void run_split(const char *dir, const char *in, size_t len, const size_t *cuts, size_t ncut,
                      struct run *r)
{
    struct tr_opts o;
    struct tr_reqinfo info;
    struct tr_stream *st;
    struct tr_error err;
    struct buf out;
    size_t i, pos = 0;

    opts_init(&o, MAX_OUT);
    info_init(&info, dir);
    st = tr_stream_new(&o, &info, MSG_ID);
    assert_non_null(st);
    buf_init(&out, MAX_OUT);
    r->failed = false;
    for (i = 0; i <= ncut; i++) {
        size_t end = i < ncut ? cuts[i] : len;
        if (tr_stream_feed(st, in + pos, end - pos, &out, &err) != CCP_OK) {
            r->failed = true;
        }
        pos = end;
    }
    if (tr_stream_finish(st, &out, &err) != CCP_OK) {
        r->failed = true;
        assert_true(err.status >= 400);
        assert_non_null(err.type);
    }
    tr_stream_free(st);
    r->len = out.len;
    r->out = buf_take(&out, NULL);
    assert_non_null(r->out);
}

static void expect_same(const struct run *want, const struct run *got, const char *how)
{
    if (want->len != got->len || memcmp(want->out, got->out, want->len) != 0 ||
        want->failed != got->failed) {
        printf("--- chunking changed the output (%s)\n--- one-shot:\n%s\n--- chunked:\n%s\n", how,
               want->out, got->out);
        fail();
    }
}

/* ---- a checker of the Anthropic event grammar --------------------------- */

static const char *jstr(struct json_object *o, const char *k)
{
    struct json_object *v;

    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static int64_t jint(struct json_object *o, const char *k)
{
    struct json_object *v;

    assert_true(json_object_object_get_ex(o, k, &v));
    assert_true(json_object_is_type(v, json_type_int));
    return json_object_get_int64(v);
}

/* Keys of o, in order, joined by ','. */
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

/* Checks what Claude Code relies on: every event is `event: T\ndata: J\n\n`
 * with J compact JSON of type T; message_start, then ping; blocks opened,
 * fed and stopped in index order 0,1,2 with matching delta kinds; thinking
 * blocks end with a signature; tool input deltas join to a JSON object;
 * message_delta with no open block, then message_stop last; or an error
 * event last. Returns the number of events. */
static size_t check_grammar(const char *s, size_t len)
{
    const char *p = s, *end = s + len;
    size_t nev = 0;
    int64_t open = -1, next = 0;
    char kind[32] = "";
    char keys[256], args[8192];
    bool bad_args = false, signed_thinking = false, delta_seen = false, stopped = false,
         errored = false;

    args[0] = '\0';
    while (p < end) {
        const char *nl = strstr(p, "\n"), *sep = strstr(p, "\n\n");
        struct json_object *j, *d, *cb;
        char type[64];
        const char *t;

        assert_false(stopped || errored); /* nothing after the last event */
        assert_non_null(sep);
        assert_true(strncmp(p, "event: ", 7) == 0);
        assert_true((size_t)(nl - p - 7) < sizeof(type));
        memcpy(type, p + 7, (size_t)(nl - p - 7));
        type[nl - p - 7] = '\0';
        assert_true(strncmp(nl + 1, "data: ", 6) == 0);
        {
            char *data = strndup(nl + 7, (size_t)(sep - nl - 7));
            assert_null(strchr(data, '\n'));
            j = json_tokener_parse(data);
            assert_non_null(j);
            /* compact: re-serializing gives the same bytes */
            assert_string_equal(json_object_to_json_string_ext(
                                    j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                                data);
            free(data);
        }
        t = jstr(j, "type");
        assert_non_null(t);
        assert_string_equal(t, type);
        if (nev == 0) {
            assert_string_equal(type, "message_start");
            assert_true(json_object_object_get_ex(j, "message", &d));
            key_order(d, keys, sizeof(keys));
            assert_string_equal(keys, "id,type,role,model,content,stop_reason,stop_sequence,usage");
            assert_string_equal(jstr(d, "id"), MSG_ID);
        } else if (nev == 1) {
            assert_string_equal(type, "ping");
        } else if (strcmp(type, "content_block_start") == 0) {
            assert_int_equal(open, -1);
            assert_false(delta_seen);
            assert_int_equal(jint(j, "index"), next);
            assert_true(json_object_object_get_ex(j, "content_block", &cb));
            assert_non_null(jstr(cb, "type"));
            snprintf(kind, sizeof(kind), "%s", jstr(cb, "type"));
            key_order(cb, keys, sizeof(keys));
            if (strcmp(kind, "text") == 0) {
                assert_string_equal(keys, "type,text");
            } else if (strcmp(kind, "thinking") == 0) {
                assert_string_equal(keys, "type,thinking,signature");
            } else {
                assert_string_equal(kind, "tool_use");
                assert_string_equal(keys, "type,id,name,input");
                assert_true(strlen(jstr(cb, "id")) > 0);
            }
            open = next++;
            signed_thinking = false;
            args[0] = '\0';
        } else if (strcmp(type, "content_block_delta") == 0) {
            const char *dt;
            assert_int_equal(jint(j, "index"), open);
            assert_true(json_object_object_get_ex(j, "delta", &d));
            dt = jstr(d, "type");
            if (strcmp(kind, "text") == 0) {
                assert_string_equal(dt, "text_delta");
            } else if (strcmp(kind, "thinking") == 0) {
                assert_false(signed_thinking);
                if (strcmp(dt, "signature_delta") == 0) {
                    signed_thinking = true;
                } else {
                    assert_string_equal(dt, "thinking_delta");
                }
            } else {
                assert_string_equal(dt, "input_json_delta");
                assert_true(strlen(args) + strlen(jstr(d, "partial_json")) < sizeof(args));
                memcpy(args + strlen(args), jstr(d, "partial_json"),
                       strlen(jstr(d, "partial_json")) + 1);
            }
        } else if (strcmp(type, "content_block_stop") == 0) {
            assert_int_equal(jint(j, "index"), open);
            if (strcmp(kind, "thinking") == 0) {
                assert_true(signed_thinking);
            } else if (strcmp(kind, "tool_use") == 0) {
                struct json_object *in = json_tokener_parse(args);
                if (in == NULL || !json_object_is_type(in, json_type_object)) {
                    bad_args = true; /* only acceptable in a stream that then fails */
                }
                json_object_put(in);
            }
            open = -1;
        } else if (strcmp(type, "message_delta") == 0) {
            assert_int_equal(open, -1);
            assert_false(delta_seen);
            assert_true(json_object_object_get_ex(j, "delta", &d));
            key_order(d, keys, sizeof(keys));
            assert_string_equal(keys, "stop_reason,stop_sequence");
            assert_true(json_object_object_get_ex(j, "usage", &d));
            assert_true(jint(d, "output_tokens") >= 0);
            delta_seen = true;
        } else if (strcmp(type, "message_stop") == 0) {
            assert_true(delta_seen);
            stopped = true;
        } else if (strcmp(type, "error") == 0) {
            assert_true(json_object_object_get_ex(j, "error", &d));
            assert_non_null(jstr(d, "type"));
            assert_non_null(jstr(d, "message"));
            errored = true;
        } else {
            assert_string_equal(type, "ping");
        }
        json_object_put(j);
        nev++;
        p = sep + 2;
    }
    assert_true(stopped || errored); /* never ends in silence */
    assert_false(bad_args && !errored);
    return nev;
}

/* ---- golden cases -------------------------------------------------------- */

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void test_golden(void **state)
{
    const char *dir = *state;
    size_t len, elen, i, *cuts;
    char *in = golden_read(dir, "openai.sse", &len);
    char *want = golden_read(dir, "anthropic.sse", &elen);
    struct run one, got;
    uint64_t seed = 0x5eed;

    assert_non_null(in);
    run_split(dir, in, len, NULL, 0, &one);
    if (getenv("CCP_GOLDEN_UPDATE") != NULL) {
        golden_write(dir, "anthropic.sse", one.out, one.len);
    } else {
        assert_non_null(want);
        if (elen != one.len || memcmp(want, one.out, elen) != 0) {
            printf("--- %s: expected\n%s--- actual\n%s", dir, want, one.out);
            fail();
        }
    }
    check_grammar(one.out, one.len);
    /* an error event is reported by a return code too, and only then */
    assert_int_equal(one.failed, strstr(one.out, "event: error\n") != NULL);

    cuts = calloc(len + 1, sizeof(*cuts));
    assert_non_null(cuts);
    /* two chunks, cut at every byte (or at 1,000 random bytes) */
    for (i = 0; i <= len && (len <= SMALL_FILE || i < 1000); i++) {
        cuts[0] = len <= SMALL_FILE ? i : (size_t)(lcg(&seed) % (len + 1));
        run_split(dir, in, len, cuts, 1, &got);
        expect_same(&one, &got, "two chunks");
        free(got.out);
    }
    /* one byte at a time */
    for (i = 0; i < len; i++) {
        cuts[i] = i + 1;
    }
    run_split(dir, in, len, cuts, len > 0 ? len - 1 : 0, &got);
    expect_same(&one, &got, "one byte at a time");
    free(got.out);
    /* many chunks at random cuts */
    if (len > SMALL_FILE) {
        size_t n = 1000;
        for (i = 0; i < n; i++) {
            cuts[i] = (size_t)(lcg(&seed) % (len + 1));
        }
        qsort(cuts, n, sizeof(*cuts), cmp_size);
        run_split(dir, in, len, cuts, n, &got);
        expect_same(&one, &got, "1,000 random cuts");
        free(got.out);
    }
    free(cuts);
    free(one.out);
    free(in);
    free(want);
}

/* ---- behaviour outside the golden files ---------------------------------- */

static const char *const TEXT_STREAM =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2}}\n\n";

static struct tr_stream *new_stream(size_t max_out)
{
    struct tr_opts o;
    struct tr_reqinfo info;

    opts_init(&o, max_out);
    info_init(&info, NULL);
    return tr_stream_new(&o, &info, MSG_ID);
}

static void test_line_over_cap_fails_with_error_event(void **state)
{
    struct tr_stream *st = new_stream(1024);
    struct tr_error err;
    struct buf out;
    char line[1025];

    (void)state;
    assert_non_null(st);
    buf_init(&out, MAX_OUT);
    memset(line, 'x', sizeof(line));
    memcpy(line, "data: ", 6);
    /* no newline yet: the pending line alone passes the cap */
    assert_int_equal(tr_stream_feed(st, line, sizeof(line), &out, &err), CCP_ERR_UPSTREAM_PROTO);
    assert_int_equal(err.status, 502);
    assert_string_equal(err.type, "api_error");
    assert_non_null(strstr(out.ptr, "event: message_start\n"));
    assert_non_null(strstr(out.ptr, "event: error\ndata: {\"type\":\"error\""));
    /* then everything is ignored */
    {
        size_t before = out.len;
        assert_int_not_equal(tr_stream_feed(st, "\n\n", 2, &out, &err), CCP_OK);
        assert_int_not_equal(tr_stream_finish(st, &out, &err), CCP_OK);
        assert_int_equal(out.len, before);
    }
    tr_stream_free(st);
    buf_release(&out);
}

static void test_fail_before_any_data_sends_message_start(void **state)
{
    struct tr_stream *st = new_stream(MAX_OUT);
    struct tr_error e;
    struct buf out;

    (void)state;
    buf_init(&out, MAX_OUT);
    tr_error_set(&e, CCP_ERR_TIMEOUT, "upstream timed out after %d s", 300);
    assert_int_equal(tr_stream_fail(st, &e, &out), CCP_OK);
    assert_true(strncmp(out.ptr, "event: message_start\n", 21) == 0);
    assert_non_null(strstr(out.ptr, "event: ping\n"));
    assert_non_null(strstr(out.ptr, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                    "\"api_error\",\"message\":\"upstream timed out after 300 s\"}}"
                                    "\n\n"));
    check_grammar(out.ptr, out.len);
    tr_stream_free(st);
    buf_release(&out);
}

static void test_fail_mid_stream_keeps_content_and_ends(void **state)
{
    struct tr_stream *st = new_stream(MAX_OUT);
    struct tr_error e, err;
    struct buf out;
    size_t before, first = (size_t)(strstr(TEXT_STREAM, "\n\n") + 2 - TEXT_STREAM);

    (void)state;
    buf_init(&out, MAX_OUT);
    assert_int_equal(tr_stream_feed(st, TEXT_STREAM, first, &out, &err), CCP_OK);
    assert_non_null(strstr(out.ptr, "\"text\":\"Hi\""));
    tr_error_set(&e, CCP_ERR_UPSTREAM, "connection reset");
    assert_int_equal(tr_stream_fail(st, &e, &out), CCP_OK);
    check_grammar(out.ptr, out.len);
    assert_null(strstr(out.ptr, "message_stop"));
    before = out.len;
    assert_int_not_equal(
        tr_stream_feed(st, TEXT_STREAM + first, strlen(TEXT_STREAM) - first, &out, &err), CCP_OK);
    assert_int_equal(tr_stream_fail(st, &e, &out), CCP_OK); /* a second fail adds nothing */
    assert_int_equal(out.len, before);
    tr_stream_free(st);
    buf_release(&out);
}

static void test_usage_reported(void **state)
{
    struct tr_stream *st = new_stream(MAX_OUT);
    struct tr_error err;
    struct buf out;
    unsigned long in = 0, outt = 0;

    (void)state;
    buf_init(&out, MAX_OUT);
    assert_int_equal(tr_stream_feed(st, TEXT_STREAM, strlen(TEXT_STREAM), &out, &err), CCP_OK);
    assert_int_equal(tr_stream_finish(st, &out, &err), CCP_OK);
    tr_stream_usage(st, &in, &outt);
    assert_int_equal(in, 11);
    assert_int_equal(outt, 2);
    assert_non_null(strstr(out.ptr, "\"output_tokens\":2}}\n\nevent: message_stop\n"));
    /* finishing twice is harmless */
    assert_int_equal(tr_stream_finish(st, &out, &err), CCP_OK);
    tr_stream_free(st);
    buf_release(&out);
}

static void test_output_buffer_full_is_reported(void **state)
{
    struct tr_stream *st = new_stream(MAX_OUT);
    struct tr_error err;
    struct buf out;

    (void)state;
    buf_init(&out, 100); /* smaller than message_start */
    assert_int_equal(tr_stream_feed(st, TEXT_STREAM, strlen(TEXT_STREAM), &out, &err),
                     CCP_ERR_TOO_LARGE);
    assert_int_equal(out.len, 0); /* no half event */
    assert_int_not_equal(tr_stream_finish(st, &out, &err), CCP_OK);
    tr_stream_free(st);
    buf_release(&out);
    tr_stream_free(NULL);
}

/* Torture (--enable-fault-injection builds): fail each of our allocations
 * in turn (at most 200 points per case) while streaming a golden case in
 * one piece: stream_new gives NULL or some call reports CCP_ERR_NOMEM; no
 * crash, and nothing leaks (run under valgrind or ASan). */
static enum ccp_err torture_run(const char *in, size_t len, const struct tr_reqinfo *info,
                                bool *got_null)
{
    struct tr_opts o;
    struct tr_error err;
    struct buf out;
    struct tr_stream *st;
    enum ccp_err rc;

    opts_init(&o, MAX_OUT);
    st = tr_stream_new(&o, info, MSG_ID);
    *got_null = st == NULL;
    if (st == NULL) {
        return CCP_ERR_NOMEM;
    }
    buf_init(&out, MAX_OUT);
    rc = tr_stream_feed(st, in, len, &out, &err);
    if (rc == CCP_OK) {
        rc = tr_stream_finish(st, &out, &err);
    }
    tr_stream_free(st);
    buf_release(&out);
    return rc;
}

static void torture_case(void **state)
{
    const char *dir = *state;
    struct ccp_alloc_stats st;
    struct tr_reqinfo info;
    size_t len, n, total;
    bool got_null;
    char *in;
    enum ccp_err rc0, rc;

    if (ccp_alloc_fail_at(0) == 0) {
        skip();
    }
    in = golden_read(dir, "openai.sse", &len);
    assert_non_null(in);
    info_init(&info, dir);
    ccp_alloc_reset();
    rc0 = torture_run(in, len, &info, &got_null);
    ccp_alloc_get_stats(&st);
    total = st.count < 200 ? st.count : 200;
    for (n = 1; n <= total; n++) {
        ccp_alloc_reset();
        (void)ccp_alloc_fail_at(n);
        rc = torture_run(in, len, &info, &got_null);
        (void)ccp_alloc_fail_at(0);
        if (rc != CCP_ERR_NOMEM && rc != rc0) {
            printf("allocation %zu of %zu failed: result %s, without failure %s\n", n, total,
                   ccp_strerror(rc), ccp_strerror(rc0));
            fail();
        }
    }
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_over_cap_fails_with_error_event),
        cmocka_unit_test(test_fail_before_any_data_sends_message_start),
        cmocka_unit_test(test_fail_mid_stream_keeps_content_and_ends),
        cmocka_unit_test(test_usage_reported),
        cmocka_unit_test(test_output_buffer_full_is_reported),
    };
    int rc = cmocka_run_group_tests_name("stream", tests, NULL, NULL);

    rc += golden_run("stream_golden", "stream", test_golden);
    if (ccp_alloc_fail_at(0) != 0) { /* only in fault-injection builds */
        rc += golden_run("stream_torture", "stream", torture_case);
    }
    return rc;
}
