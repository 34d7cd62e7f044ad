/* Golden-case helpers shared by the translate unit tests. */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "tests/unit/golden.h"
#include "translate/translate.h"

const char *golden_data_dir(void)
{
    const char *d = getenv("CCP_TEST_DATA");
    return d != NULL && d[0] != '\0' ? d : "tests/data";
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);

    if (p == NULL) {
        abort();
    }
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

char *golden_read(const char *dir, const char *name, size_t *len)
{
    char *path = join(dir, name), *data;
    FILE *f = fopen(path, "rb");
    long n;

    free(path);
    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    data = malloc((size_t)n + 1);
    if (data == NULL || fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        fclose(f);
        return NULL;
    }
    data[n] = '\0';
    fclose(f);
    if (len != NULL) {
        *len = (size_t)n;
    }
    return data;
}

bool golden_exists(const char *dir, const char *name)
{
    char *path = join(dir, name);
    struct stat st;
    bool ok = stat(path, &st) == 0;

    free(path);
    return ok;
}

void golden_write(const char *dir, const char *name, const char *data, size_t len)
{
    char *path = join(dir, name);
    FILE *f = fopen(path, "wb");

    if (f != NULL) {
        if (fwrite(data, 1, len, f) != len) {
            fprintf(stderr, "short write to %s\n", path);
        }
        fclose(f);
    }
    free(path);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t golden_cases(const char *kind, char ***out)
{
    char *base = join(golden_data_dir(), "translate"), *dir = join(base, kind);
    DIR *d = opendir(dir);
    struct dirent *de;
    char **v = NULL;
    size_t n = 0, cap = 0;

    free(base);
    *out = NULL;
    if (d == NULL) {
        free(dir);
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        char *p;
        struct stat st;
        if (de->d_name[0] == '.') {
            continue;
        }
        p = join(dir, de->d_name);
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
            free(p);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            v = realloc(v, cap * sizeof(*v));
            if (v == NULL) {
                abort();
            }
        }
        v[n++] = p;
    }
    closedir(d);
    free(dir);
    if (n > 0) {
        qsort(v, n, sizeof(*v), cmp_str);
    }
    *out = v;
    return n;
}

void golden_cases_free(char **cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(cases[i]);
    }
    free(cases);
}

bool golden_json_equal(const char *label, const char *expected, const char *actual)
{
    struct json_object *e = json_tokener_parse(expected);
    struct json_object *a = json_tokener_parse(actual);
    bool eq = e != NULL && a != NULL && json_object_equal(e, a);

    if (!eq) {
        int fl = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE;
        printf("--- %s: expected\n%s\n--- actual\n%s\n", label,
               e != NULL ? json_object_to_json_string_ext(e, fl) : expected,
               a != NULL ? json_object_to_json_string_ext(a, fl) : actual);
    }
    json_object_put(e);
    json_object_put(a);
    return eq;
}

int golden_run(const char *group, const char *kind, golden_fn fn)
{
    char **cases;
    size_t n = golden_cases(kind, &cases), i;
    struct CMUnitTest *tests;
    int rc;

    if (n == 0) {
        fprintf(stderr, "%s: no golden cases under %s/translate/%s\n", group, golden_data_dir(),
                kind);
        return 1;
    }
    tests = calloc(n, sizeof(*tests));
    if (tests == NULL) {
        abort();
    }
    for (i = 0; i < n; i++) {
        const char *slash = strrchr(cases[i], '/');
        tests[i].name = slash != NULL ? slash + 1 : cases[i];
        tests[i].test_func = fn;
        tests[i].initial_state = cases[i];
    }
    rc = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
    free(tests);
    golden_cases_free(cases, n);
    return rc;
}

void golden_info_aliases(struct tr_reqinfo *info, struct json_object *j)
{
    struct json_object *arr, *pair;
    size_t i;

    if (j == NULL || !json_object_object_get_ex(j, "aliases", &arr)) {
        return;
    }
    for (i = 0; i < json_object_array_length(arr) && i < TR_MAX_TOOL_ALIASES; i++) {
        pair = json_object_array_get_idx(arr, i);
        snprintf(info->aliases[i].upstream, sizeof(info->aliases[i].upstream), "%s",
                 json_object_get_string(json_object_array_get_idx(pair, 0)));
        snprintf(info->aliases[i].client, sizeof(info->aliases[i].client), "%s",
                 json_object_get_string(json_object_array_get_idx(pair, 1)));
        info->naliases = i + 1;
    }
}

void golden_torture(golden_torture_fn run, void *ctx, size_t out_max)
{
    struct ccp_alloc_stats st;
    struct tr_error err;
    struct buf out;
    size_t n, total, ref_len = 0;
    char *ref;
    enum ccp_err rc;

    buf_init(&out, out_max);
    ccp_alloc_reset();
    assert_int_equal(run(ctx, &out, &err), CCP_OK);
    ccp_alloc_get_stats(&st);
    total = st.count;
    ref = buf_take(&out, &ref_len); /* what every run that succeeds must give */
    assert_non_null(ref);
    for (n = 1; n <= total; n++) {
        buf_release(&out);
        ccp_alloc_reset();
        (void)ccp_alloc_fail_at(n);
        rc = run(ctx, &out, &err);
        (void)ccp_alloc_fail_at(0);
        if (rc == CCP_OK) {
            /* a failed size hint (buf_presize) or fast parse (jparse.c,
             * which then leaves the text to json-c) is not an error: the
             * answer must then be exactly the one without failures */
            assert_int_equal(out.len, ref_len);
            assert_memory_equal(out.ptr, ref, ref_len);
            continue;
        }
        assert_int_equal(rc, CCP_ERR_NOMEM);
        assert_int_equal(err.status, 503);
        assert_int_equal(out.len, 0);
    }
    ccp_free(ref);
    buf_release(&out);
}
