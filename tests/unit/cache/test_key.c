/* Unit tests of cache/key.c: canonical JSON and response/token/tenant keys. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cache/cache.h"

static struct json_object *parse(const char *text)
{
    struct json_tokener *tok = json_tokener_new_ex(64);
    struct json_object *o;

    assert_non_null(tok);
    /* the NUL is passed too, so a number at the very end is complete */
    o = json_tokener_parse_ex(tok, text, (int)strlen(text) + 1);
    assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
    json_tokener_free(tok);
    return o;
}

/* Response key of a JSON text for tenant "t1", non-streaming unless told. */
static void key_of(const char *text, const char *tenant, bool stream, struct cache_key *k)
{
    struct json_object *o = parse(text);

    assert_int_equal(cache_response_key(o, tenant, strlen(tenant), stream, k), CCP_OK);
    json_object_put(o);
}

static void canon_of(const char *text, struct buf *b)
{
    struct json_object *o = parse(text);

    buf_init(b, 1 << 20);
    assert_int_equal(cache_canonical_json(o, b), CCP_OK);
    json_object_put(o);
}

static const char req_a[] =
    "{\"model\":\"gpt-5\",\"stream\":false,\"max_completion_tokens\":1024,"
    "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi \\\"there\\\"\"}]}],"
    "\"temperature\":0.70,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"ls\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]}";

/* The same request with members reordered at every level and whitespace added. */
static const char req_a_reordered[] =
    "{ \"tools\" : [ { \"function\" : { \"parameters\" : { \"properties\" : { } ,\n"
    "  \"type\" : \"object\" } , \"name\" : \"ls\" } , \"type\" : \"function\" } ] ,\n"
    "  \"temperature\" : 0.70 ,\t\"messages\" : [ { \"content\" : \"be brief\" , "
    "\"role\" : \"system\" } , { \"content\" : [ { \"text\" : \"hi \\\"there\\\"\" , "
    "\"type\" : \"text\" } ] , \"role\" : \"user\" } ] , \"max_completion_tokens\" : 1024 ,"
    " \"stream\" : false , \"model\" : \"gpt-5\" }\n";

static void test_canonical_form_is_sorted_and_compact(void **state)
{
    struct buf b;

    (void)state;
    canon_of("{ \"b\" : [3, {\"z\":1, \"a\":null}], \"a\" : \"x\\u0001\\/y\", \"c\": true,"
             " \"d\": 1.50, \"e\": -0, \"f\": 12345678901234567890 }",
             &b);
    assert_string_equal(b.ptr, "{\"a\":\"x\\u0001/y\",\"b\":[3,{\"a\":null,\"z\":1}],\"c\":true,"
                               "\"d\":1.5,\"e\":0,\"f\":12345678901234567890}");
    buf_release(&b);
}

static void test_key_ignores_order_and_whitespace(void **state)
{
    struct cache_key k1, k2;
    struct buf c1, c2;

    (void)state;
    key_of(req_a, "t1", false, &k1);
    key_of(req_a_reordered, "t1", false, &k2);
    assert_string_equal(k1.hex, k2.hex);
    assert_int_equal(strlen(k1.hex), CACHE_KEY_HEX_LEN);
    assert_int_equal(strspn(k1.hex, "0123456789abcdef"), CACHE_KEY_HEX_LEN);
    canon_of(req_a, &c1);
    canon_of(req_a_reordered, &c2);
    assert_string_equal(c1.ptr, c2.ptr);
    buf_release(&c1);
    buf_release(&c2);
}

static void test_key_is_stable(void **state)
{
    struct cache_key k1, k2;

    (void)state;
    /* the same input twice, and a value computed independently (Python hashlib
     * over the documented framing): a change of the key format
     * must be deliberate (bump the namespace) because it empties the cache */
    key_of("{\"b\":1,\"a\":[true,null,\"s\"]}", "tenant", false, &k1);
    key_of("{\"a\":[true,null,\"s\"],\"b\":1}", "tenant", false, &k2);
    assert_string_equal(k1.hex, k2.hex);
    assert_string_equal(k1.hex, "157377b4faac8bcfd237ba1be9c49b6826b120437ffef0e350dc9d32add492fb");
}

static void test_key_separates_what_matters(void **state)
{
    struct cache_key base, k;

    (void)state;
    key_of(req_a, "t1", false, &base);
    key_of(req_a, "t2", false, &k); /* another tenant */
    assert_string_not_equal(base.hex, k.hex);
    key_of(req_a, "t1", true, &k); /* streaming */
    assert_string_not_equal(base.hex, k.hex);
    key_of(req_a, "", false, &k); /* no tenant */
    assert_string_not_equal(base.hex, k.hex);
    /* one value changed, deep inside */
    key_of("{\"model\":\"gpt-5\",\"stream\":false,\"max_completion_tokens\":1024,"
           "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
           "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi \\\"there!\\\"\"}]}],"
           "\"temperature\":0.70,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"ls\","
           "\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]}",
           "t1", false, &k);
    assert_string_not_equal(base.hex, k.hex);
    /* types and array order matter */
    key_of("{\"a\":1}", "t1", false, &base);
    key_of("{\"a\":\"1\"}", "t1", false, &k);
    assert_string_not_equal(base.hex, k.hex);
    key_of("{\"a\":[1,2]}", "t1", false, &base);
    key_of("{\"a\":[2,1]}", "t1", false, &k);
    assert_string_not_equal(base.hex, k.hex);
    /* a field that is present but null differs from an absent one */
    key_of("{\"a\":1}", "t1", false, &base);
    key_of("{\"a\":1,\"b\":null}", "t1", false, &k);
    assert_string_not_equal(base.hex, k.hex);
}

static void test_doubles_are_normalised(void **state)
{
    struct cache_key k1, k2;
    struct buf b;

    (void)state;
    canon_of("[1.50,1.0,-0.0,0.1,2.5E-3,1e400,-1e400,NaN,123456789.125]", &b);
    assert_string_equal(b.ptr, "[1.5,1,0,0.1,0.0025,Infinity,-Infinity,NaN,123456789.125]");
    buf_release(&b);
    key_of("{\"temperature\":0.70}", "t", false, &k1);
    key_of("{\"temperature\":7e-1}", "t", false, &k2);
    assert_string_equal(k1.hex, k2.hex);
    key_of("{\"temperature\":0.71}", "t", false, &k2);
    assert_string_not_equal(k1.hex, k2.hex);
}

static void test_tenant_boundary_is_unambiguous(void **state)
{
    struct cache_key k1, k2;

    (void)state;
    /* tenant bytes cannot run into the request: length-prefixed */
    key_of("{\"a\":1}", "ab", false, &k1);
    key_of("{\"a\":1}", "a", false, &k2);
    assert_string_not_equal(k1.hex, k2.hex);
}

static void test_strings_with_nul_and_invalid_utf8_stay_distinct(void **state)
{
    struct json_object *a = json_object_new_string_len("x\0y", 3);
    struct json_object *b = json_object_new_string_len("x", 1);
    struct json_object *c = json_object_new_string_len("\xff", 1);
    struct json_object *d = json_object_new_string_len("\xfe", 1);
    struct cache_key ka, kb, kc, kd;

    (void)state;
    assert_int_equal(cache_response_key(a, "t", 1, false, &ka), CCP_OK);
    assert_int_equal(cache_response_key(b, "t", 1, false, &kb), CCP_OK);
    assert_int_equal(cache_response_key(c, "t", 1, false, &kc), CCP_OK);
    assert_int_equal(cache_response_key(d, "t", 1, false, &kd), CCP_OK);
    assert_string_not_equal(ka.hex, kb.hex);
    assert_string_not_equal(kc.hex, kd.hex);
    json_object_put(a);
    json_object_put(b);
    json_object_put(c);
    json_object_put(d);
}

static void test_canonical_reparses_to_same_key(void **state)
{
    static const char *const docs[] = {
        req_a, "[]", "{}", "\"\\u00e9\\ud83d\\ude00\"", "[1e5,-2.5E-3,0.1,true,false,null]",
        "{\"\":{\"\":[{}]}}", "{\"k\\\"ey\":\"v\\\\al\\n\"}",
        /* found by fuzz_cache_key: json-c keeps "0672" as a
         * double's text, which reparses as the integer 672 */
        "0672ec58", "[0672e5,00.5]", "[1.50,-0.0,1e400,-1e400,NaN,0.1,1e-320]", "7"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct buf c1, c2;
        struct cache_key k1, k2;
        canon_of(docs[i], &c1);
        canon_of(c1.ptr, &c2);
        assert_string_equal(c1.ptr, c2.ptr);
        key_of(docs[i], "t", false, &k1);
        key_of(c1.ptr, "t", false, &k2);
        assert_string_equal(k1.hex, k2.hex);
        buf_release(&c1);
        buf_release(&c2);
    }
}

static void test_canonical_respects_buffer_max(void **state)
{
    struct json_object *o = parse("{\"a\":\"0123456789\"}");
    struct buf b;

    (void)state;
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, "xy", 2), CCP_OK);
    assert_int_equal(cache_canonical_json(o, &b), CCP_ERR_TOO_LARGE);
    assert_string_equal(b.ptr, "xy"); /* previous contents kept */
    buf_release(&b);
    json_object_put(o);
}

static void test_depth_limit(void **state)
{
    struct json_object *root = json_object_new_array(), *cur = root;
    struct cache_key k;
    int i;

    (void)state;
    for (i = 0; i < CACHE_CANON_MAX_DEPTH + 5; i++) {
        struct json_object *n = json_object_new_array();
        assert_int_equal(json_object_array_add(cur, n), 0);
        cur = n;
    }
    assert_int_equal(cache_response_key(root, "t", 1, false, &k), CCP_ERR_TOO_LARGE);
    json_object_put(root);
}

static void test_response_key_bytes(void **state)
{
    static const char body[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}";
    struct cache_key a, b, c, v1;
    size_t n = sizeof(body) - 1;

    (void)state;
    assert_int_equal(cache_response_key_bytes(body, n, "t1", 2, false, &a), CCP_OK);
    assert_int_equal(strlen(a.hex), CACHE_KEY_HEX_LEN);
    assert_int_equal(cache_response_key_bytes(body, n, "t1", 2, false, &b), CCP_OK);
    assert_string_equal(a.hex, b.hex);
    /* tenant, stream flag and every body byte count */
    assert_int_equal(cache_response_key_bytes(body, n, "t2", 2, false, &c), CCP_OK);
    assert_string_not_equal(a.hex, c.hex);
    assert_int_equal(cache_response_key_bytes(body, n, "t1", 2, true, &c), CCP_OK);
    assert_string_not_equal(a.hex, c.hex);
    assert_int_equal(cache_response_key_bytes(body, n - 1, "t1", 2, false, &c), CCP_OK);
    assert_string_not_equal(a.hex, c.hex);
    /* tenant and body are length-prefixed: no shifting bytes across */
    assert_int_equal(cache_response_key_bytes("bc", 2, "a", 1, false, &b), CCP_OK);
    assert_int_equal(cache_response_key_bytes("c", 1, "ab", 2, false, &c), CCP_OK);
    assert_string_not_equal(b.hex, c.hex);
    /* its own namespace: never the canonical key of the same request */
    key_of(body, "t1", false, &v1);
    assert_string_not_equal(a.hex, v1.hex);
}

static void test_token_and_tenant_keys(void **state)
{
    struct cache_key a, b, c, t1, t2;

    (void)state;
    assert_int_equal(cache_token_key("o200k_base", "hello", 5, &a), CCP_OK);
    assert_int_equal(cache_token_key("cl100k_base", "hello", 5, &b), CCP_OK);
    assert_int_equal(cache_token_key("o200k_base", "hello!", 6, &c), CCP_OK);
    assert_string_not_equal(a.hex, b.hex);
    assert_string_not_equal(a.hex, c.hex);
    assert_int_equal(cache_token_key("o200k_base", "hello", 5, &b), CCP_OK);
    assert_string_equal(a.hex, b.hex);
    assert_int_equal(cache_token_key("o200k_base", NULL, 0, &c), CCP_OK);
    assert_string_not_equal(a.hex, c.hex);
    /* encoding name and block are length-prefixed: no shifting bytes across */
    assert_int_equal(cache_token_key("ab", "c", 1, &a), CCP_OK);
    assert_int_equal(cache_token_key("a", "bc", 2, &b), CCP_OK);
    assert_string_not_equal(a.hex, b.hex);

    assert_int_equal(cache_tenant_id("sk-ant-one", 10, &t1), CCP_OK);
    assert_int_equal(cache_tenant_id("sk-ant-two", 10, &t2), CCP_OK);
    assert_string_not_equal(t1.hex, t2.hex);
    assert_null(strstr(t1.hex, "sk-ant"));
    assert_int_equal(cache_tenant_id("sk-ant-one", 10, &t2), CCP_OK);
    assert_string_equal(t1.hex, t2.hex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_form_is_sorted_and_compact),
        cmocka_unit_test(test_key_ignores_order_and_whitespace),
        cmocka_unit_test(test_key_is_stable),
        cmocka_unit_test(test_key_separates_what_matters),
        cmocka_unit_test(test_doubles_are_normalised),
        cmocka_unit_test(test_tenant_boundary_is_unambiguous),
        cmocka_unit_test(test_strings_with_nul_and_invalid_utf8_stay_distinct),
        cmocka_unit_test(test_canonical_reparses_to_same_key),
        cmocka_unit_test(test_canonical_respects_buffer_max),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_response_key_bytes),
        cmocka_unit_test(test_token_and_tenant_keys),
    };
    return cmocka_run_group_tests_name("cache_key", tests, NULL, NULL);
}
