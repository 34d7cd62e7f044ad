/* Unit tests of translate/bpe.c: ids equal tiktoken's (the shared vectors and
 * fixed cases), any bytes round-trip, long pieces stay fast, bad tables fail. */
#include "config.h"

#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/banned.h"
#include "common/vocab.h"
#include "translate/bpe.h"

struct fixture {
    struct vocab_map map[2];
    struct tr_bpe *enc[2];
    struct tr_bpe_scratch *st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    for (int e = 0; e < 2; e++) {
        assert_int_equal(vocab_map_file(CCP_SRCDATADIR, tr_bpe_table_name(e), &f->map[e]), CCP_OK);
        assert_int_equal(tr_bpe_new(e, f->map[e].ptr, f->map[e].len, &f->enc[e]), CCP_OK);
    }
    assert_int_equal(tr_bpe_scratch_new(&f->st), CCP_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tr_bpe_scratch_free(f->st);
    for (int e = 0; e < 2; e++) {
        tr_bpe_free(f->enc[e]);
        vocab_unmap(&f->map[e]);
    }
    free(f);
    return 0;
}

/* Encode s[0..n) with encoding e; check the count and the decoded bytes. */
static void encode(struct fixture *f, int e, const char *s, size_t n, struct tr_bpe_ids *ids)
{
    ids->len = 0;
    assert_int_equal(tr_bpe_encode(f->enc[e], f->st, s, n, ids), CCP_OK);
    size_t count = 0, at = 0;
    assert_int_equal(tr_bpe_count_with(f->enc[e], f->st, s, n, &count), CCP_OK);
    assert_int_equal(count, ids->len);
    for (size_t i = 0; i < ids->len; i++) {
        size_t len = 0;
        const unsigned char *tok = tr_bpe_token(f->enc[e], ids->ids[i], &len);
        assert_non_null(tok);
        assert_true(at + len <= n);
        assert_memory_equal(tok, s + at, len);
        at += len;
    }
    assert_int_equal(at, n);
}

static void expect_ids(struct fixture *f, int e, const char *s, const uint32_t *want, size_t nwant)
{
    struct tr_bpe_ids ids = {NULL, 0, 0};
    encode(f, e, s, strlen(s), &ids);
    assert_int_equal(ids.len, nwant);
    for (size_t i = 0; i < nwant; i++) {
        assert_int_equal(ids.ids[i], want[i]);
    }
    tr_bpe_ids_release(&ids);
}

static void test_vectors(void **state)
{
    struct fixture *f = *state;
    /* $CCP_SHARED_DIR, else ../shared beside the source tree (a checkout in
     * /work/<repo>), else ../../shared (a worktree in /work/wt/<name>) */
    const char *env = getenv("CCP_SHARED_DIR");
    const char *dirs[] = {env != NULL && env[0] != '\0' ? env : CCP_DEFAULT_SHARED_DIR,
                          CCP_SRCDATADIR "/../../../shared"};
    char path[4096];
    FILE *fp = NULL;
    for (size_t i = 0; i < 2 && fp == NULL; i++) {
        snprintf(path, sizeof(path), "%s/tokenizer/vectors-public.jsonl", dirs[i]);
        fp = fopen(path, "r");
        if (env != NULL && env[0] != '\0') {
            break; /* an explicit directory is not second-guessed */
        }
    }
    if (fp == NULL) {
        fail_msg("cannot open %s (set CCP_SHARED_DIR)", path);
    }
    char *line = NULL;
    size_t cap = 0, cases[2] = {0, 0};
    struct tr_bpe_ids ids = {NULL, 0, 0};
    while (getline(&line, &cap, fp) > 0) {
        struct json_tokener *tok = json_tokener_new_ex(64);
        assert_non_null(tok);
        struct json_object *c = json_tokener_parse_ex(tok, line, (int)strlen(line));
        json_tokener_free(tok);
        assert_non_null(c);
        struct json_object *jenc, *jtext, *jids, *jcase;
        assert_true(json_object_object_get_ex(c, "encoding", &jenc));
        assert_true(json_object_object_get_ex(c, "text", &jtext));
        assert_true(json_object_object_get_ex(c, "ids", &jids));
        assert_true(json_object_object_get_ex(c, "case", &jcase));
        enum tr_bpe_encoding e;
        assert_int_equal(tr_bpe_encoding_parse(json_object_get_string(jenc), &e), CCP_OK);
        encode(f, (int)e, json_object_get_string(jtext), (size_t)json_object_get_string_len(jtext),
               &ids);
        size_t nwant = json_object_array_length(jids);
        if (ids.len != nwant) {
            fail_msg("%s %s: %zu ids, tiktoken %zu", json_object_get_string(jcase),
                     tr_bpe_encoding_name(e), ids.len, nwant);
        }
        for (size_t i = 0; i < nwant; i++) {
            uint32_t want = (uint32_t)json_object_get_int64(json_object_array_get_idx(jids, i));
            if (ids.ids[i] != want) {
                fail_msg("%s %s: id %zu is %u, tiktoken %u", json_object_get_string(jcase),
                         tr_bpe_encoding_name(e), i, (unsigned)ids.ids[i], (unsigned)want);
            }
        }
        cases[e]++;
        json_object_put(c);
    }
    free(line);
    fclose(fp);
    tr_bpe_ids_release(&ids);
    assert_true(cases[TR_BPE_O200K_BASE] >= 20);
    assert_true(cases[TR_BPE_CL100K_BASE] >= 20);
}

static void test_empty(void **state)
{
    struct fixture *f = *state;
    for (int e = 0; e < 2; e++) {
        struct tr_bpe_ids ids = {NULL, 0, 0};
        encode(f, e, "", 0, &ids);
        assert_int_equal(ids.len, 0);
        size_t n = 99;
        assert_int_equal(tr_bpe_count(f->enc[e], "", 0, &n), CCP_OK);
        assert_int_equal(n, 0);
        tr_bpe_ids_release(&ids);
    }
}

static void test_invalid_utf8(void **state)
{
    struct fixture *f = *state;
    static const char *const inputs[] = {
        "\xff",
        "\xc3(",
        "abc\xff\xfe def",
        "\xe4\xb8",
        "caf\xc3",
        "\xed\xa0\x80 surrogate",
        "\xf4\x90\x80\x80 too big",
        "ok \xc0\xaf overlong \x80\x80\x80",
    };
    for (int e = 0; e < 2; e++) {
        for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
            struct tr_bpe_ids ids = {NULL, 0, 0};
            encode(f, e, inputs[i], strlen(inputs[i]), &ids); /* round-trips */
            assert_true(ids.len >= 1);
            tr_bpe_ids_release(&ids);
        }
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One long pre-token each; counts from tiktoken 1.0.22. A merge that rescans
 * the piece would take minutes here; we allow 2 s a case. */
static void test_long_runs(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *unit;
        size_t reps;
        const char *tail;
        size_t want;
    } cases[] = {
        {"a", 100000, "", 12500},           {"A", 100000, "", 12500}, {" ", 100000, "x", 783},
        {"\xe4\xb8\xad", 50000, "", 50000}, {"7", 99999, "", 33333},
    };
    for (int e = 0; e < 2; e++) {
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            size_t ul = strlen(cases[c].unit), tl = strlen(cases[c].tail);
            size_t n = ul * cases[c].reps + tl;
            char *s = malloc(n + 1);
            assert_non_null(s);
            for (size_t i = 0; i < cases[c].reps; i++) {
                memcpy(s + i * ul, cases[c].unit, ul);
            }
            memcpy(s + n - tl, cases[c].tail, tl + 1);
            struct tr_bpe_ids ids = {NULL, 0, 0};
            double t0 = now();
            encode(f, e, s, n, &ids);
            double dt = now() - t0;
            if (dt > 2.0) {
                fail_msg("%s x %zu: %.2f s", cases[c].unit, cases[c].reps, dt);
            }
            assert_int_equal(ids.len, cases[c].want);
            tr_bpe_ids_release(&ids);
            free(s);
        }
    }
}

static const char cjk[] = "東京都は日本の首都です。今日はいい天気ですね！我们正在测试分词器，"
                          "中文没有空格。한국어 문장도 있습니다.";

static void test_cjk(void **state)
{
    static const uint32_t o200k[] = {
        123558, 5205,   9048,  3385,  15425,  12232, 15121, 788,   170411, 64170, 867,
        25717,  131656, 3393,  24809, 70104,  82843, 2957,  31892, 13837,  979,   10667,
        23714,  16207,  13511, 788,   114854, 5959,  26387, 7681,  5827,   25824, 13};
    static const uint32_t cl100k[] = {
        14276, 109,   47653, 72368, 15682, 9080,  22656, 16144, 61075, 72368, 38641, 1811,
        37271, 9080,  15682, 16995, 16995, 36827, 95221, 38641, 2243,  255,   6447,  98739,
        97655, 82805, 17620, 6744,  235,   32648, 3922,  16325, 17161, 81543, 35894, 35083,
        1811,  24486, 89059, 255,   32179, 54535, 41953, 49085, 36439, 39331, 13};
    expect_ids(*state, TR_BPE_O200K_BASE, cjk, o200k, sizeof(o200k) / sizeof(o200k[0]));
    expect_ids(*state, TR_BPE_CL100K_BASE, cjk, cl100k, sizeof(cl100k) / sizeof(cl100k[0]));
}

/* A 96-byte word: merged on the heap path; ids from tiktoken 1.0.22. */
static void test_long_word(void **state)
{
    static const char word[] = "qwxzvbnmlkjhgfdsapoiuytrewqzxcvbnmasdfghjklpoiuytrewqmnbvcxzlkjh"
                               "gfdsaqwertyuiopzxcvbnmlkjhgfdsa";
    static const uint32_t o200k[] = {
        80,    43176, 89,     85,     22040, 1560,   38076, 71,     68187, 8559,  403,
        3412,  3731,  4086,   86,     80,    89,     19115, 85,     22040, 4227,  4750,
        956,   73,    4586,   121363, 3731,  4086,   86,    120289, 7291,  11983, 174377,
        31466, 73,    115323, 13073,  4578,  80,     21773, 88,     1866,  467,   89,
        19115, 85,    22040,  1560,   38076, 115323, 13073, 4578};
    static const uint32_t cl100k[] = {
        80,   21659, 89,   85,    11328, 1029, 74,    75406, 46224, 5469,  391,   6870,  4168,
        83,   4361,  80,   89,    8311,  85,   11328, 7044,  3013,  876,   73,    10784, 83363,
        4168, 83,    4361, 78498, 18571, 7513, 94055, 42848, 75406, 46224, 5469,  37406, 86,
        1368, 2005,  454,  89,    8311,  85,   11328, 1029,  74,    75406, 46224, 97880};
    expect_ids(*state, TR_BPE_O200K_BASE, word, o200k, sizeof(o200k) / sizeof(o200k[0]));
    expect_ids(*state, TR_BPE_CL100K_BASE, word, cl100k, sizeof(cl100k) / sizeof(cl100k[0]));
    /* the same scratch, back to the first encoding: its caches must not leak */
    expect_ids(*state, TR_BPE_O200K_BASE, word, o200k, sizeof(o200k) / sizeof(o200k[0]));
}

/* ---- randomized differential test against a naive reference BPE ---------- */

/* bytes -> rank of one encoding, built from tr_bpe_token (test-only). */
struct ref_map {
    const struct tr_bpe *v;
    uint32_t *slot; /* rank + 1, 0 = empty */
    size_t mask;
};

static uint64_t ref_hash(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static void ref_map_init(struct ref_map *m, const struct tr_bpe *v)
{
    size_t n = tr_bpe_vocab_size(v), cap = 1;
    while (cap < 2 * n) {
        cap <<= 1;
    }
    m->v = v;
    m->mask = cap - 1;
    m->slot = calloc(cap, sizeof(*m->slot));
    assert_non_null(m->slot);
    for (uint32_t r = 0; r < n; r++) {
        size_t len = 0;
        const unsigned char *t = tr_bpe_token(v, r, &len);
        assert_non_null(t);
        size_t i = ref_hash(t, len) & m->mask;
        while (m->slot[i] != 0) {
            i = (i + 1) & m->mask;
        }
        m->slot[i] = r + 1;
    }
}

static uint32_t ref_rank(const struct ref_map *m, const unsigned char *p, size_t n)
{
    for (size_t i = ref_hash(p, n) & m->mask; m->slot[i] != 0; i = (i + 1) & m->mask) {
        size_t len = 0;
        const unsigned char *t = tr_bpe_token(m->v, m->slot[i] - 1, &len);
        if (len == n && memcmp(t, p, n) == 0) {
            return m->slot[i] - 1;
        }
    }
    return UINT32_MAX;
}

/* tiktoken's definition, quadratic and obvious: merge the lowest-ranked
 * neighbouring pair (leftmost on ties) until none is a token. */
static size_t ref_bpe(const struct ref_map *m, const unsigned char *p, size_t n, size_t *bd,
                      uint32_t *ids)
{
    size_t parts = n;
    for (size_t i = 0; i <= n; i++) {
        bd[i] = i;
    }
    for (;;) {
        uint32_t best = UINT32_MAX;
        size_t at = 0;
        for (size_t k = 0; k + 1 < parts; k++) {
            uint32_t r = ref_rank(m, p + bd[k], bd[k + 2] - bd[k]);
            if (r < best) {
                best = r;
                at = k;
            }
        }
        if (best == UINT32_MAX) {
            break;
        }
        memmove(bd + at + 1, bd + at + 2, (parts - at - 1) * sizeof(*bd));
        parts--;
    }
    for (size_t k = 0; k < parts; k++) {
        ids[k] = ref_rank(m, p + bd[k], bd[k + 1] - bd[k]);
    }
    return parts;
}

/* Random runs of letters (CJK, kana, Hangul, lowercase Latin, Cyrillic and
 * accented letters; no upper case, digits, spaces or punctuation), so each
 * input is one pre-token of both encodings, 16 to 900 bytes long: the long
 * piece path must give the reference's ids. Fixed seed, bounded count. */
static void test_differential(void **state)
{
    struct fixture *f = *state;
    static const char *const alphabet[] = {"\xe7\x9a\x84",
                                           "\xe4\xb8\x80",
                                           "\xe6\x98\xaf",
                                           "\xe4\xb8\x8d",
                                           "\xe4\xba\x86",
                                           "\xe4\xba\xba",
                                           "\xe6\x88\x91",
                                           "\xe5\x9c\xa8",
                                           "\xe6\x9c\x89",
                                           "\xe4\xbb\x96",
                                           "\xe8\xbf\x99",
                                           "\xe4\xb8\xad",
                                           "\xe5\xa4\xa7",
                                           "\xe6\x9d\xa5",
                                           "\xe4\xb8\x8a",
                                           "\xe5\x9b\xbd",
                                           "\xe9\xbe\x98",
                                           "\xe7\x8c\xab",
                                           "\xe3\x81\x82",
                                           "\xe3\x81\xae",
                                           "\xe3\x82\xab",
                                           "\xe3\x83\xb3",
                                           "\xed\x95\x9c",
                                           "\xea\xb5\xad",
                                           "\xec\x96\xb4",
                                           "a",
                                           "e",
                                           "t",
                                           "n",
                                           "s",
                                           "q",
                                           "\xc3\xa9",
                                           "\xc3\xbc",
                                           "\xd0\xb4",
                                           "\xd0\xb0",
                                           "\xf0\xa0\x80\x80"};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    unsigned char *buf = malloc(1024);
    size_t *bd = malloc(1025 * sizeof(*bd));
    uint32_t *want = malloc(1024 * sizeof(*want));
    struct ref_map maps[2];
    assert_non_null(buf);
    assert_non_null(bd);
    assert_non_null(want);
    for (int e = 0; e < 2; e++) {
        ref_map_init(&maps[e], f->enc[e]);
    }
    for (int round = 0; round < 400; round++) {
        size_t n = 0, target;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        target = 16 + (size_t)(seed >> 33) % 880;
        /* runs of one symbol now and then, as in real long pieces */
        while (n < target) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const char *sym = alphabet[(seed >> 33) % CCP_ARRAY_LEN(alphabet)];
            size_t reps = (seed >> 60) == 0 ? 1 + (size_t)(seed >> 40) % 20 : 1;
            size_t len = strlen(sym);
            for (size_t r = 0; r < reps && n + len <= 1000; r++) {
                memcpy(buf + n, sym, len);
                n += len;
            }
            if (n + 4 > 1000) {
                break;
            }
        }
        for (int e = 0; e < 2; e++) {
            struct tr_bpe_ids ids = {NULL, 0, 0};
            size_t nw = ref_bpe(&maps[e], buf, n, bd, want);
            encode(f, e, (const char *)buf, n, &ids);
            if (ids.len != nw || memcmp(ids.ids, want, nw * sizeof(*want)) != 0) {
                fail_msg("round %d encoding %d: %zu bytes, %zu ids, reference %zu", round, e, n,
                         ids.len, nw);
            }
            tr_bpe_ids_release(&ids);
        }
    }
    for (int e = 0; e < 2; e++) {
        free(maps[e].slot);
    }
    free(want);
    free(bd);
    free(buf);
}

/* The ASCII pre-tokenizer must cut exactly where PCRE2 does: random strings of
 * ASCII (letters of both cases, digits, contractions, spaces, line breaks,
 * slashes, punctuation, control bytes) mixed with characters that decide a
 * piece differently outside ASCII (long s, which folds to s; U+0085 and NBSP,
 * white space; accented and CJK letters; combining marks; a stray byte).
 * Fixed seed, bounded count. */
static void test_split_differential(void **state)
{
    struct fixture *f = *state;
    static const char *const atoms[] = {"a",
                                        "e",
                                        "z",
                                        "A",
                                        "Q",
                                        "Z",
                                        "0",
                                        "7",
                                        "9",
                                        " ",
                                        " ",
                                        "  ",
                                        "\t",
                                        "\n",
                                        "\r\n",
                                        "\r",
                                        "\v",
                                        "\f",
                                        "/",
                                        "//",
                                        "'",
                                        "'s",
                                        "'S",
                                        "'re",
                                        "'VE",
                                        "'ll",
                                        "'Ll",
                                        "'d",
                                        "'m",
                                        "'t",
                                        "'x",
                                        "'r",
                                        "'l",
                                        ".",
                                        ",",
                                        ";",
                                        "(",
                                        ")",
                                        "{",
                                        "}",
                                        "=",
                                        "+",
                                        "-",
                                        "_",
                                        "\"",
                                        "!",
                                        "?",
                                        "#",
                                        "$",
                                        "\\",
                                        "`",
                                        "~",
                                        "\x01",
                                        "\x1b",
                                        "\x7f",
                                        "\xc5\xbf",
                                        "\xc2\x85",
                                        "\xc2\xa0",
                                        "\xc3\xa9",
                                        "\xc3\x89",
                                        "\xe3\x80\x80",
                                        "\xe6\x97\xa5",
                                        "\xcc\x81",
                                        "\xe2\x80\x8b",
                                        "\xef\xbb\xbf",
                                        "\xd9\xa3",
                                        "\xff",
                                        "hello",
                                        "World",
                                        "HTTPServer",
                                        "x=1;",
                                        "if(a){b()}",
                                        "123456",
                                        " 42",
                                        "\n\n  ",
                                        "  \n",
                                        "don't",
                                        "I'M"};
    uint64_t seed = 0x243f6a8885a308d3ull;
    char buf[300];
    size_t fast[300], slow[300];
    for (int round = 0; round < 4000; round++) {
        size_t n = 0, nf = 0, ns = 0;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t target = 1 + (size_t)(seed >> 33) % 120;
        /* every fourth string is ASCII only, so the fast path runs to the end */
        size_t natoms = (round & 3) == 0 ? 55 : CCP_ARRAY_LEN(atoms);
        while (n < target) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const char *a = atoms[(seed >> 33) % natoms];
            size_t len = strlen(a);
            if (n + len > sizeof(buf)) {
                break;
            }
            memcpy(buf + n, a, len);
            n += len;
        }
        for (int e = 0; e < 2; e++) {
            assert_int_equal(tr_bpe_split(f->enc[e], f->st, buf, n, true, fast, 300, &nf), CCP_OK);
            assert_int_equal(tr_bpe_split(f->enc[e], f->st, buf, n, false, slow, 300, &ns), CCP_OK);
            if (nf != ns || memcmp(fast, slow, nf * sizeof(*fast)) != 0) {
                fail_msg("round %d encoding %d: %zu pieces, PCRE2 %zu", round, e, nf, ns);
            }
            assert_int_equal(slow[ns - 1], n);
        }
    }
}

static void test_bad_tables(void **state)
{
    struct fixture *f = *state;
    struct tr_bpe *v = NULL;
    const struct vocab_map *m = &f->map[0];
    assert_int_equal(tr_bpe_new(TR_BPE_O200K_BASE, m->ptr, m->len - 1, &v), CCP_ERR_INVALID);
    assert_int_equal(tr_bpe_new(TR_BPE_O200K_BASE, m->ptr, 16, &v), CCP_ERR_INVALID);
    uint32_t *junk = calloc(1, m->len);
    assert_non_null(junk);
    assert_int_equal(tr_bpe_new(TR_BPE_O200K_BASE, junk, m->len, &v), CCP_ERR_INVALID);
    free(junk);
    assert_null(v);
    enum tr_bpe_encoding e;
    assert_int_equal(tr_bpe_encoding_parse("p50k_base", &e), CCP_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_long_runs),
        cmocka_unit_test(test_cjk),
        cmocka_unit_test(test_long_word),
        cmocka_unit_test(test_bad_tables),
        cmocka_unit_test(test_differential),
        cmocka_unit_test(test_split_differential),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
