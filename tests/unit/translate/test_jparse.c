/* Unit tests of translate/jparse.c: what the fast path accepts it reads
 * exactly as json-c does (same tree, same serialized bytes), over crafted
 * edge cases and every JSON text of the golden cases; what it declines is
 * left to json-c; and it is the path the golden cases actually take. The
 * stream chunk reader (tr_jparse_chunk) likewise: what it takes, the
 * translator's json-c path reads the same (tests/unit/chunk_same.h). */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "tests/unit/chunk_same.h"
#include "tests/unit/golden.h"
#include "tests/unit/jparse_same.h"
#include "translate/errmap_int.h"
#include "translate/jparse.h"

#include "common/banned.h"

#define DEPTH 64
#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* json-c's reading of p[0..n) (flags 0, DEPTH): NULL unless it takes the
 * whole text (whitespace after it aside). */
static struct json_object *json_c(const char *p, size_t n, bool *ok)
{
    struct json_tokener *tok = json_tokener_new_ex(DEPTH);
    struct json_object *o;
    size_t end;

    assert_non_null(tok);
    o = json_tokener_parse_ex(tok, p, (int)n);
    *ok = json_tokener_get_error(tok) == json_tokener_success;
    for (end = json_tokener_get_parse_end(tok); *ok && end < n; end++) {
        *ok = strchr(" \t\r\n", p[end]) != NULL && p[end] != '\0';
    }
    json_tokener_free(tok);
    if (!*ok) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

/* Parse p[0..n) both ways; when the fast path takes it, json-c must too,
 * identically. Returns whether the fast path took it. */
static bool check_same(const char *label, const char *p, size_t n)
{
    bool handled, ok;
    struct json_object *fast = tr_jparse(p, n, DEPTH, &handled), *slow;

    if (!handled) {
        assert_null(fast);
        return false;
    }
    slow = json_c(p, n, &ok);
    if (!ok || !jp_same_tree(fast, slow) ||
        strcmp(json_object_to_json_string_ext(fast, FLAGS),
               json_object_to_json_string_ext(slow, FLAGS)) != 0) {
        print_error("%s: fast path and json-c differ\n  fast %s\n  json-c %s\n", label,
                    json_object_to_json_string_ext(fast, FLAGS),
                    ok ? json_object_to_json_string_ext(slow, FLAGS) : "(error)");
        fail();
    }
    json_object_put(fast);
    json_object_put(slow);
    return true;
}

/* Each of docs[0..n) must be taken by the reader check() tries (taken) or
 * declined: check_same for the fast path, check_chunk for the chunk reader. */
static void check_docs(const char *const *docs, size_t n, bool taken,
                       bool (*check)(const char *label, const char *p, size_t n))
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (check(docs[i], docs[i], strlen(docs[i])) != taken) {
            print_error("%s: %s\n", taken ? "declined" : "taken, not declined", docs[i]);
            fail();
        }
    }
}

static void test_taken(void **state)
{
    static const char *docs[] = {
        "{}",
        "[]",
        " \t\r\n{ } \n",
        "{\"a\":{},\"b\":[],\"c\":[{}],\"d\":null,\"e\":true,\"f\":false}",
        "[null,true,false,[],[[]],{\"\":\"\"}]",
        "{\"n\":[0,-0,-1,123456789012345678,-123456789012345678]}",
        "{\"d\":[1.5,-0.0,1e300,2.50,3.14159265358979,1E-7,1e+2,0.1e1,-2.5E-3,1e400]}",
        "{\"s\":\"a/b \\/ \\\"q\\\" \\\\ \\b\\f\\n\\r\\t \\u0001\\u001f\\u007f \\u00e9\\u4e2d\"}",
        "{\"pair\":\"\\ud83d\\ude00 \\uD83D\\uDE00\",\"nul\":\"a\\u0000b\"}",
        "{\"raw\":\"\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\",\"bad utf-8 kept\":\"\xff\xfe\"}",
        "{\"k\\\"ey\\n/\":1,\"k\\u00e9y\":2}",
        "{\"a\":1,\"b\":2,\"a\":3}",
        "{\"a\":{\"x\":1},\"a\":[2],\"b\":{\"a\":{},\"a\":null}}",
        "[[[[[\"deep\"]]]],{\"x\":[1,{\"y\":\"z\"}]}]",
        "{\"long\":"
        "\"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\\n\"}",
    };

    (void)state;
    check_docs(docs, sizeof(docs) / sizeof(docs[0]), true, check_same);
}

static void test_declined(void **state)
{
    /* malformed, scalar documents, json-c's extensions, and what json-c
     * would write otherwise: json-c's answer (or error) stands for these */
    static const char *docs[] = {
        "",
        " ",
        "1",
        "\"s\"",
        "null",
        "{",
        "{\"a\"",
        "{\"a\":}",
        "{\"a\":1,}",
        "[1,]",
        "[1 2]",
        "{\"a\" 1}",
        "{a:1}",
        "{'a':1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":-}",
        "{\"a\":+1}",
        "{\"a\":1234567890123456789}",
        "{\"a\":NaN}",
        "{\"a\":Infinity}",
        "{\"a\":True}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "/* c */ {}",
        "{} // c",
        "{} x",
        "{}{}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"\\ude00\"}",
        /* pairs json-c 0.16 reads as U+FFFD (high half & 0x3e == 0x36) */
        "{\"a\":\"\\ud836\\udc00\"}",
        "{\"a\":\"x \\ud83d\\ude00 \\uDBF7\\uDFFF\"}",
        "{\"\\u0000\":1}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":\"unterminated}",
        "{\"a\":1}\v",
    };

    (void)state;
    check_docs(docs, sizeof(docs) / sizeof(docs[0]), false, check_same);
    /* a NUL byte inside the text */
    assert_false(check_same("NUL", "{\"a\":\"x\0\"}", 9));
}

/* Keys longer than the parser's inline room, nested, with escapes. */
static void test_long_keys(void **state)
{
    char doc[4096];
    size_t n = 0;
    int i;

    (void)state;
    for (i = 0; i < 5; i++) {
        doc[n++] = '{';
        doc[n++] = '"';
        memset(doc + n, 'a' + i, 300);
        n += 300;
        memcpy(doc + n, "\\n\":", 4); /* an escape ends each key */
        n += 4;
    }
    memcpy(doc + n, "[1]}}}}}", 8);
    n += 8;
    assert_true(check_same("long keys", doc, n));
}

/* The common keys (type, content, properties...) are not copied per
 * object: two parses share the key's bytes, while any other key, however
 * close to a common one, is the object's own copy; and either way the tree
 * is json-c's, repeats, escapes and deletions included. */
static void test_common_keys(void **state)
{
    static const char *docs[] = {
        "{\"type\":\"object\",\"properties\":{\"type\":{\"type\":\"string\"}},"
        "\"required\":[\"type\"],\"additionalProperties\":false}",
        "{\"type\":1,\"typ\":2,\"types\":3,\"Type\":4,\"type\":5}",
        "{\"ty\\u0070e\":\"escaped\",\"type\":\"plain\"}",
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\","
        "\"is_error\":false,\"content\":\"x\",\"cache_control\":{\"type\":\"ephemeral\"}}]}",
        "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
        "\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{"
        "\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}",
    };
    const char *doc = "{\"type\":1,\"typex\":2}";
    struct json_object *a, *b;
    struct json_object_iterator ia, ib;
    bool handled;

    (void)state;
    check_docs(docs, sizeof(docs) / sizeof(docs[0]), true, check_same);

    a = tr_jparse(doc, strlen(doc), DEPTH, &handled);
    assert_true(handled);
    b = tr_jparse(doc, strlen(doc), DEPTH, &handled);
    assert_true(handled);
    ia = json_object_iter_begin(a);
    ib = json_object_iter_begin(b);
    assert_string_equal(json_object_iter_peek_name(&ia), "type");
    assert_ptr_equal(json_object_iter_peek_name(&ia), json_object_iter_peek_name(&ib));
    json_object_iter_next(&ia);
    json_object_iter_next(&ib);
    assert_string_equal(json_object_iter_peek_name(&ia), "typex");
    assert_ptr_not_equal(json_object_iter_peek_name(&ia), json_object_iter_peek_name(&ib));

    /* deleting and replacing keys of either kind leaves a sound tree */
    json_object_object_del(a, "type");
    json_object_object_del(a, "typex");
    assert_int_equal(json_object_object_length(a), 0);
    assert_int_equal(json_object_object_add(b, "type", json_object_new_int(7)), 0);
    assert_string_equal(json_object_to_json_string_ext(b, FLAGS), "{\"type\":7,\"typex\":2}");
    json_object_put(a);
    json_object_put(b);
}

/* Nesting within two levels of the depth goes to json-c, which decides. */
static void test_depth(void **state)
{
    char doc[2 * DEPTH + 8];
    int k;

    (void)state;
    for (k = 1; k < DEPTH + 2; k++) {
        bool handled;
        struct json_object *o;

        memset(doc, '[', (size_t)k);
        memset(doc + k, ']', (size_t)k);
        o = tr_jparse(doc, 2 * (size_t)k, DEPTH, &handled);
        assert_int_equal(handled, k <= DEPTH - 2);
        json_object_put(o);
        (void)check_same("nested", doc, 2 * (size_t)k);
    }
}

/* tr_json_parse_tok: the fast path's tree when it takes the text, json-c's
 * otherwise (a scalar, an extension), NULL for what json-c refuses; the
 * tokener is made only when json-c is needed, then kept and reused. */
static void test_parse_tok(void **state)
{
    struct json_tokener *tok = NULL, *made;
    struct json_object *o;

    (void)state;
    o = tr_json_parse_tok(&tok, "{\"a\":[1,2.50]}", 14, DEPTH);
    assert_string_equal(json_object_to_json_string_ext(o, FLAGS), "{\"a\":[1,2.50]}");
    json_object_put(o);
    assert_null(tok); /* the fast path took it */
    o = tr_json_parse_tok(&tok, "\"s\"", 3, DEPTH);
    assert_true(json_object_is_type(o, json_type_string));
    json_object_put(o);
    assert_non_null(tok);
    made = tok;
    o = tr_json_parse_tok(&tok, "{\"a\":NaN}", 9, DEPTH);
    assert_true(json_object_is_type(o, json_type_object));
    json_object_put(o);
    assert_null(tr_json_parse_tok(&tok, "{\"a\":1} x", 9, DEPTH));
    assert_null(tr_json_parse_tok(&tok, "{\"a\":", 5, DEPTH));
    /* reset, not left mid-text by the refused one */
    o = tr_json_parse_tok(&tok, "[1,NaN]", 7, DEPTH);
    assert_true(json_object_is_type(o, json_type_array));
    json_object_put(o);
    assert_ptr_equal(tok, made);
    json_tokener_free(tok);
}

/* Read p[0..n) as a stream chunk both ways; when the chunk reader takes
 * it, the json-c path must read the same. Returns whether it took it. */
static bool check_chunk(const char *label, const char *p, size_t n)
{
    struct buf store;
    struct tr_chunk ck;
    const char *why;
    bool taken;

    buf_init(&store, 1u << 20);
    taken = tr_jparse_chunk(p, n, DEPTH, &store, &ck);
    if (taken) {
        why = jp_chunk_differs(p, n, DEPTH, &ck);
        if (why != NULL) {
            print_error("%s: chunk reader and json-c path differ (%s)\n  %.*s\n", label, why,
                        (int)n, p);
            buf_release(&store);
            fail();
        }
    }
    buf_release(&store);
    return taken;
}

static void test_chunk_taken(void **state)
{
    static const char *const docs[] = {
        /* OpenAI */
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,"
        "\"model\":\"gpt-5\",\"system_fingerprint\":null,\"choices\":[{\"index\":0,"
        "\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
        "\"logprobs\":null,\"finish_reason\":null}],\"obfuscation\":\"x1\"}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}],\"usage\":null}",
        "{\"choices\":[],\"usage\":null}",
        "{}",
        " {\"choices\" : [ { \"delta\" : { \"content\" : \"a b\" } } ] }\r\n",
        /* escapes in the text, NUL and astral characters included */
        "{\"choices\":[{\"delta\":{\"content\":\"line\\nnext \\\"q\\\" \\\\ \\/ \\t\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"\\u00e9t\\u00e9 \\ud83d\\ude00 \\u0000 end\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"caf\xc3\xa9 \xff raw\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"a\\nb\",\"reasoning_content\":\"r\\tq\"},"
        "\"finish_reason\":\"st\\u006fp\"}]}",
        /* DeepSeek, OpenRouter: reasoning */
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":null,\"reasoning_content\":\"think\"},"
        "\"logprobs\":null,\"finish_reason\":null}]}",
        "{\"choices\":[{\"delta\":{\"reasoning\":\"hm\",\"reasoning_details\":[{\"type\":"
        "\"reasoning.text\",\"text\":\"hm\",\"n\":[1,2.5,-3e2,0,true,false,null]}]}}]}",
        "{\"choices\":[{\"delta\":{\"reasoning_content\":\"\",\"reasoning\":\"fallback\"}}]}",
        /* a tool-less delta with tool_calls null; other types are not strings */
        "{\"choices\":[{\"delta\":{\"content\":\"x\",\"tool_calls\":null}}]}",
        "{\"choices\":[{\"delta\":{\"content\":5,\"refusal\":{\"a\":[]}},\"finish_reason\":7}]}",
        "{\"choices\":[{\"delta\":null,\"finish_reason\":\"content_filter\"}]}",
        /* index: other than 0 is skipped; null is 0 */
        "{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"second\"}}]}",
        "{\"choices\":[{\"index\":-0,\"delta\":{\"content\":\"zero\"}}]}",
        "{\"choices\":[{\"index\":null,\"delta\":{\"content\":\"null index\"}}]}",
        "{\"choices\":[{\"index\":123456789012345678,\"delta\":{\"content\":\"far\"}}]}",
        /* Azure's content filter results, any keys with escapes among the skipped */
        "{\"choices\":[{\"content_filter_results\":{\"hate\":{\"filtered\":false,\"severity\":"
        "\"safe\"}},\"delta\":{\"content\":\"ok\"}}],\"prompt_filter_results\":[{\"k\\u00e9y\":1}]"
        "}",
        /* repeated keys the reader does not look at */
        "{\"id\":1,\"id\":2,\"choices\":[{\"logprobs\":null,\"logprobs\":[],\"delta\":{\"role\":"
        "\"a\",\"role\":\"b\",\"content\":\"c\"}}]}",
        /* tool calls: OpenAI's fragments, several in one chunk, no index,
         * odd index and function types, arguments with escapes */
        "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,"
        "\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":"
        "{\"name\":\"Read\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
        "\"{\\\"file_path\\\": \\\"/tmp/a\\\\nb\\\"}\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":"
        "{\"name\":\"f\",\"arguments\":\"{}\"}},{\"index\":1,\"id\":\"b\",\"function\":"
        "{\"name\":\"g\",\"arguments\":\"{\\\"x\\\":1}\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"noindex\",\"function\":{\"name\":"
        "\"f\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1.0,\"function\":null},"
        "{\"index\":\"2\",\"function\":7},{\"index\":-3,\"id\":null,\"function\":{\"name\":5}}]}}]"
        "}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":"
        "\"\\u0000\\ud83d\\ude00\","
        "\"extra\":{\"deep\":[[[]]]}}}]}}]}",
        /* a finish reason with a NUL: read up to it, as the C string was */
        "{\"choices\":[{\"finish_reason\":\"length\\u0000junk\"}]}",
    };

    (void)state;
    check_docs(docs, sizeof(docs) / sizeof(docs[0]), true, check_chunk);
}

static void test_chunk_declined(void **state)
{
    static const char *const docs[] = {
        /* what json-c's path handles: usage, errors, several choices, odd tool calls */
        "{\"choices\":[{\"delta\":{\"tool_calls\":[1]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":{}}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{},{},{},{},{},{},{},{},{}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"index\":1}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"a\",\"id\":\"b\"}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{},\"function\":{}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"name\":\"a\",\"name\":null}}]}}"
        "]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"\","
        "\"arguments\":\"{\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1234567890123456789}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":null,\"tool_calls\":[]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"n\\u0061me\":\"f\"}}]}}]}",
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}",
        "{\"error\":{\"message\":\"overloaded\"}}",
        "{\"error\":null,\"choices\":[]}",
        "{\"choices\":[{\"delta\":{}},{\"delta\":{}}]}",
        "{\"choices\":[1]}",
        "{\"choices\":null}",
        "{\"choices\":{}}",
        "[{\"choices\":[]}]",
        /* keys it reads, repeated: json-c takes the later value */
        "{\"choices\":[],\"choices\":[{\"delta\":{\"content\":\"x\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"a\",\"content\":\"b\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":null,\"content\":\"b\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"a\"},\"delta\":{}}]}",
        "{\"choices\":[{\"index\":1,\"index\":0}]}",
        "{\"choices\":[{\"finish_reason\":\"stop\",\"finish_reason\":null}]}",
        /* an escaped key it would have to compare */
        "{\"choices\":[{\"delta\":{\"cont\\u0065nt\":\"x\"}}]}",
        "{\"ch\\u006fices\":[]}",
        /* an index json_object_get_int64 reads otherwise */
        "{\"choices\":[{\"index\":\"1\"}]}",
        "{\"choices\":[{\"index\":0.0}]}",
        "{\"choices\":[{\"index\":1234567890123456789}]}",
        /* what tr_jparse declines, and not JSON at all */
        "{\"choices\":[{\"delta\":{\"content\":\"\\ud800 lone\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"raw\ttab\"}}]}",
        "{\"n\":01}",
        "{\"n\":1.}",
        "{\"n\":NaN}",
        "{\"choices\":[]} x",
        "{\"choices\":[]",
        "{\"choices\":[],}",
        "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        "",
        "null",
    };

    (void)state;
    check_docs(docs, sizeof(docs) / sizeof(docs[0]), false, check_chunk);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Every *.json of every golden case of kind, and every "data:" line of its
 * *.sse files: checked, and counted in *total and *taken. */
static size_t chunk_total, chunk_taken;

static void walk_kind(const char *kind, size_t *total, size_t *taken)
{
    char **cases = NULL;
    size_t ncases = golden_cases(kind, &cases), i;

    for (i = 0; i < ncases; i++) {
        DIR *d = opendir(cases[i]);
        struct dirent *e;

        assert_non_null(d);
        while ((e = readdir(d)) != NULL) {
            char label[1024];
            size_t len;
            char *text;

            if (!has_suffix(e->d_name, ".json") && !has_suffix(e->d_name, ".sse")) {
                continue;
            }
            text = golden_read(cases[i], e->d_name, &len);
            assert_non_null(text);
            snprintf(label, sizeof(label), "%s/%s", cases[i], e->d_name);
            if (has_suffix(e->d_name, ".json")) {
                (*total)++;
                *taken += check_same(label, text, len);
            } else {
                char *line = text, *nl;

                for (; *line != '\0'; line = nl + 1) {
                    nl = strchr(line, '\n');
                    if (nl == NULL) {
                        nl = line + strlen(line);
                    }
                    if (strncmp(line, "data: {", 7) == 0) {
                        (*total)++;
                        *taken += check_same(label, line + 6, (size_t)(nl - line - 6));
                        chunk_total++;
                        chunk_taken += check_chunk(label, line + 6, (size_t)(nl - line - 6));
                    }
                    if (*nl == '\0') {
                        break;
                    }
                }
            }
            free(text); /* golden_read's malloc */
        }
        closedir(d);
    }
    golden_cases_free(cases, ncases);
}

static void test_golden_texts(void **state)
{
    static const char *kinds[] = {"request", "response", "stream", "count", "errors"};
    size_t total = 0, taken = 0, i;

    (void)state;
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        walk_kind(kinds[i], &total, &taken);
    }
    print_message("golden JSON texts: %zu, taken by the fast path: %zu\n", total, taken);
    print_message("golden stream data lines: %zu, taken by the chunk reader: %zu\n", chunk_total,
                  chunk_taken);
    assert_true(total > 300);
    /* most upstream chunks are text: the chunk reader must take a good share */
    assert_true(chunk_total > 200 && chunk_taken * 2 >= chunk_total);
    /* the golden cases are what clients and upstreams send: nearly all of
     * it must take the fast path (the rest are deliberate oddities) */
    assert_true(taken * 100 >= total * 95);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_taken),          cmocka_unit_test(test_declined),
        cmocka_unit_test(test_long_keys),      cmocka_unit_test(test_depth),
        cmocka_unit_test(test_common_keys),    cmocka_unit_test(test_parse_tok),
        cmocka_unit_test(test_golden_texts),   cmocka_unit_test(test_chunk_taken),
        cmocka_unit_test(test_chunk_declined),
    };

    return cmocka_run_group_tests_name("translate/jparse", tests, NULL, NULL);
}
