/* Unit tests of common/conf.c: env file, environment precedence, validation. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/conf.h"
#include "common/log.h"

static char envpath[64];

static int make_env_file(void **state)
{
    FILE *f;
    int fd;

    (void)state;
    memcpy(envpath, "/tmp/ccp-test-env-XXXXXX", 25);
    fd = mkstemp(envpath);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("# comment\n"
          "OPENAI_API_KEY=\"sk-file-key\"\n"
          "export BIG_MODEL_NAME=gpt-4o   # inline comment\n"
          "SMALL_MODEL_NAME='gpt-4o-mini'\n"
          "OPENAI_BASE_URL=http://127.0.0.1:9/v1/\n"
          "UNRELATED_VARIABLE=1\n"
          "LOG_PRETTY_CONSOLE=True\n"
          "HTTP_CONNECT_TIMEOUT = 2.5\n",
          f);
    fclose(f);
    return 0;
}

static int remove_env_file(void **state)
{
    (void)state;
    unlink(envpath);
    return 0;
}

static void test_defaults(void **state)
{
    struct conf c;
    char err[256];
    const char *envp[] = {NULL};

    (void)state;
    assert_int_equal(conf_load_from(&c, NULL, envp, err, sizeof(err)), CCP_OK);
    assert_string_equal(c.openai_base_url, "https://api.openai.com/v1");
    assert_string_equal(c.big_model, "gpt-5-2025-08-07");
    assert_string_equal(c.small_model, "gpt-5-mini-2025-08-07");
    assert_string_equal(c.openai_api_key, "");
    assert_int_equal(c.provider_max_retries, 3);
    assert_int_equal(c.max_json_depth, 64);
    assert_int_equal(c.log_level, LOG_LEVEL_INFO);
    assert_null(c.inert_set);
    conf_release(&c);
    conf_release(&c);
}

static void test_file_then_environment(void **state)
{
    struct conf c;
    char err[256];
    const char *envp[] = {"BIG_MODEL_NAME=gpt-5", "PATH=/bin", "LOG_LEVEL=debug", NULL};

    (void)state;
    assert_int_equal(conf_load_from(&c, envpath, envp, err, sizeof(err)), CCP_OK);
    assert_string_equal(c.openai_api_key, "sk-file-key");
    assert_string_equal(c.big_model, "gpt-5"); /* environment wins */
    assert_string_equal(c.small_model, "gpt-4o-mini");
    assert_string_equal(c.openai_base_url, "http://127.0.0.1:9/v1"); /* slash dropped */
    assert_true(c.connect_timeout_s > 2.49 && c.connect_timeout_s < 2.51);
    assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
    assert_string_equal(c.inert_set, "LOG_PRETTY_CONSOLE");
    conf_release(&c);
}

static void test_bad_values_name_the_variable(void **state)
{
    struct conf c;
    char err[256];
    const char *bad1[] = {"PROVIDER_MAX_RETRIES=three", NULL};
    const char *bad2[] = {"OPENAI_BASE_URL=ftp://x", NULL};
    const char *bad3[] = {"HTTP_CONNECT_TIMEOUT=-1", NULL};
    const char *bad4[] = {"UPSTREAM_HTTP2=maybe", NULL};
    const char *bad5[] = {"WORKER_THREADS=100000", NULL};
    const char *bad6[] = {"LOG_LEVEL=loud", NULL};
    const char *bad7[] = {"MAX_REQUEST_BODY_BYTES=12abc", NULL};

    (void)state;
    memset(&c, 0, sizeof(c));
    assert_int_equal(conf_load_from(&c, NULL, bad1, err, sizeof(err)), CCP_ERR_INVALID);
    assert_non_null(strstr(err, "PROVIDER_MAX_RETRIES"));
    assert_null(c.openai_base_url); /* nothing handed out on failure */
    assert_int_equal(conf_load_from(&c, NULL, bad2, err, sizeof(err)), CCP_ERR_INVALID);
    assert_non_null(strstr(err, "OPENAI_BASE_URL"));
    assert_int_equal(conf_load_from(&c, NULL, bad3, err, sizeof(err)), CCP_ERR_INVALID);
    assert_non_null(strstr(err, "HTTP_CONNECT_TIMEOUT"));
    assert_int_equal(conf_load_from(&c, NULL, bad4, err, sizeof(err)), CCP_ERR_INVALID);
    assert_non_null(strstr(err, "UPSTREAM_HTTP2"));
    assert_int_equal(conf_load_from(&c, NULL, bad5, err, sizeof(err)), CCP_ERR_INVALID);
    assert_non_null(strstr(err, "WORKER_THREADS"));
    assert_int_equal(conf_load_from(&c, NULL, bad6, err, sizeof(err)), CCP_ERR_INVALID);
    assert_non_null(strstr(err, "LOG_LEVEL"));
    assert_int_equal(conf_load_from(&c, NULL, bad7, err, sizeof(err)), CCP_ERR_INVALID);
    assert_non_null(strstr(err, "MAX_REQUEST_BODY_BYTES"));
}

static void test_describe_redacts_secret(void **state)
{
    struct conf c;
    struct buf b;
    char err[256];
    const char *envp[] = {"OPENAI_API_KEY=sk-very-secret", NULL};

    (void)state;
    assert_int_equal(conf_load_from(&c, NULL, envp, err, sizeof(err)), CCP_OK);
    buf_init(&b, 1 << 16);
    assert_int_equal(conf_describe(&c, &b), CCP_OK);
    assert_null(strstr(b.ptr, "sk-very-secret"));
    assert_non_null(strstr(b.ptr, "OPENAI_API_KEY=(set, redacted)"));
    assert_non_null(strstr(b.ptr, "BIG_MODEL_NAME=gpt-5-2025-08-07"));
    buf_release(&b);
    conf_release(&c);
}

static void test_example_lists_every_original_variable(void **state)
{
    static const char *const names[] = {"OPENAI_API_KEY",
                                        "OPENAI_BASE_URL",
                                        "BIG_MODEL_NAME",
                                        "SMALL_MODEL_NAME",
                                        "LOG_LEVEL",
                                        "PROVIDER_MAX_RETRIES",
                                        "PROVIDER_RETRY_BASE_DELAY",
                                        "PROVIDER_RETRY_JITTER",
                                        "CACHE_TOKEN_COUNTS_ENABLED",
                                        "CACHE_TOKEN_COUNTS_TTL_S",
                                        "CACHE_TOKEN_COUNTS_MAX",
                                        "CACHE_CONVERTERS_ENABLED",
                                        "CACHE_CONVERTERS_MAX",
                                        "STREAM_DEDUPE_ENABLED",
                                        "HTTP_CONNECT_TIMEOUT",
                                        "HTTP_WRITE_TIMEOUT",
                                        "HTTP_POOL_TIMEOUT",
                                        "MAX_STREAM_SECONDS",
                                        "POOL_MAX_KEEPALIVE_CONNECTIONS",
                                        "POOL_MAX_CONNECTIONS",
                                        "POOL_KEEPALIVE_EXPIRY"};
    struct buf b;
    size_t i;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(conf_example(&b), CCP_OK);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct buf needle;
        buf_init(&needle, 256);
        assert_int_equal(buf_appendf(&needle, "\n%s=", names[i]), CCP_OK);
        assert_non_null(strstr(b.ptr, needle.ptr));
        buf_release(&needle);
    }
    buf_release(&b);
}

static void test_cache_variables(void **state)
{
    struct conf c;
    struct buf b;
    char err[256];
    const char *none[] = {NULL};
    const char *set[] = {"MEMCACHED_SERVERS=",
                         "MEMCACHED_TIMEOUT_MS=250",
                         "RESPONSE_CACHE_ENABLED=false",
                         "RESPONSE_CACHE_TTL_S=60",
                         "RESPONSE_CACHE_MAX_ITEM_BYTES=2097152",
                         "CACHE_TOKEN_COUNTS_ENABLED=no",
                         "CACHE_TOKEN_COUNTS_TTL_S=30",
                         "CACHE_TOKEN_COUNTS_MAX=10",
                         NULL};
    const char *bad1[] = {"MEMCACHED_TIMEOUT_MS=0", NULL};
    const char *bad2[] = {"CACHE_TOKEN_COUNTS_TTL_S=soon", NULL};
    const char *bad3[] = {"RESPONSE_CACHE_MAX_ITEM_BYTES=12", NULL};
    const char *bad4[] = {"CACHE_TOKEN_COUNTS_ENABLED=perhaps", NULL};

    (void)state;
    assert_int_equal(conf_load_from(&c, NULL, none, err, sizeof(err)), CCP_OK);
    assert_string_equal(c.memcached_servers, "127.0.0.1:11211");
    assert_int_equal(c.memcached_timeout_ms, 100);
    assert_true(c.response_cache_enabled);
    assert_int_equal(c.response_cache_ttl_s, 3600);
    assert_int_equal(c.response_cache_max_item, 1048576);
    assert_true(c.token_counts_cache_enabled);
    assert_int_equal(c.token_counts_ttl_s, 300);
    assert_int_equal(c.token_counts_max, 2048);
    conf_release(&c);

    assert_int_equal(conf_load_from(&c, NULL, set, err, sizeof(err)), CCP_OK);
    assert_string_equal(c.memcached_servers, ""); /* empty turns memcached off */
    assert_int_equal(c.memcached_timeout_ms, 250);
    assert_false(c.response_cache_enabled);
    assert_int_equal(c.response_cache_ttl_s, 60);
    assert_int_equal(c.response_cache_max_item, 2097152);
    assert_false(c.token_counts_cache_enabled);
    assert_int_equal(c.token_counts_ttl_s, 30);
    assert_int_equal(c.token_counts_max, 10);
    assert_null(c.inert_set); /* the token-count variables now have an effect */
    buf_init(&b, 1 << 16);
    assert_int_equal(conf_describe(&c, &b), CCP_OK);
    assert_non_null(strstr(b.ptr, "\nMEMCACHED_SERVERS=\n"));
    assert_non_null(strstr(b.ptr, "\nCACHE_TOKEN_COUNTS_TTL_S=30\n"));
    assert_non_null(strstr(b.ptr, "\nRESPONSE_CACHE_ENABLED=false\n"));
    buf_release(&b);
    conf_release(&c);

    assert_int_equal(conf_load_from(&c, NULL, bad1, err, sizeof(err)), CCP_ERR_INVALID);
    assert_non_null(strstr(err, "MEMCACHED_TIMEOUT_MS"));
    assert_int_equal(conf_load_from(&c, NULL, bad2, err, sizeof(err)), CCP_ERR_INVALID);
    assert_non_null(strstr(err, "CACHE_TOKEN_COUNTS_TTL_S"));
    assert_int_equal(conf_load_from(&c, NULL, bad3, err, sizeof(err)), CCP_ERR_INVALID);
    assert_non_null(strstr(err, "RESPONSE_CACHE_MAX_ITEM_BYTES"));
    assert_int_equal(conf_load_from(&c, NULL, bad4, err, sizeof(err)), CCP_ERR_INVALID);
    assert_non_null(strstr(err, "CACHE_TOKEN_COUNTS_ENABLED"));
}

/* UPSTREAM_MULTI: auto shares connections where HTTP/2 can multiplex them
 * (an https base URL, UPSTREAM_HTTP2 on); true and false are taken as said. */
static void test_upstream_multi(void **state)
{
    static const struct {
        const char *env[4];
        bool multi;
    } cases[] = {
        {{NULL}, true}, /* the default base URL is https://api.openai.com/v1 */
        {{"OPENAI_BASE_URL=http://127.0.0.1:8000/v1", NULL}, false},
        {{"OPENAI_BASE_URL=https://example.com/v1", NULL}, true},
        {{"UPSTREAM_HTTP2=false", NULL}, false},
        {{"UPSTREAM_MULTI=true", "OPENAI_BASE_URL=http://127.0.0.1:8000/v1", NULL}, true},
        {{"UPSTREAM_MULTI=off", NULL}, false},
        {{"UPSTREAM_MULTI=AUTO", "UPSTREAM_HTTP2=true", NULL}, true},
    };
    const char *bad[] = {"UPSTREAM_MULTI=sometimes", NULL};
    struct conf c;
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(conf_load_from(&c, NULL, cases[i].env, err, sizeof(err)), CCP_OK);
        assert_int_equal(c.upstream_multi, cases[i].multi);
        conf_release(&c);
    }
    assert_int_equal(conf_load_from(&c, NULL, bad, err, sizeof(err)), CCP_ERR_INVALID);
    assert_non_null(strstr(err, "UPSTREAM_MULTI must be true, false or auto"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_then_environment),
        cmocka_unit_test(test_bad_values_name_the_variable),
        cmocka_unit_test(test_describe_redacts_secret),
        cmocka_unit_test(test_example_lists_every_original_variable),
        cmocka_unit_test(test_cache_variables),
        cmocka_unit_test(test_upstream_multi),
    };
    return cmocka_run_group_tests_name("conf", tests, make_env_file, remove_env_file);
}
