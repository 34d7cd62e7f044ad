/* Unit and golden tests of translate/count.c: the count_tokens golden cases
 * under tests/data/translate/count/<case>/ (made by gen.py there, from the
 * method in docs/tokens.md), encoding choice, image formulas and the image
 * header readers on real, truncated and garbage input. */
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
#include "common/vocab.h"
#include "tests/unit/golden.h"
#include "translate/bpe.h"
#include "translate/translate.h"

#include "common/banned.h"

#define MIB (1024UL * 1024UL)

static struct vocab_map maps[2];
static const struct tr_bpe *encs[2];
static struct tr_bpe_scratch *scratch;

static void opts(struct tr_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->big_model = "gpt-4o";
    o->small_model = "gpt-4o-mini";
    o->max_json_depth = 64;
    o->max_out = 64 * MIB;
}

static int load(void)
{
    struct tr_bpe *v;

    for (int e = 0; e < 2; e++) {
        if (vocab_map_file(CCP_SRCDATADIR, tr_bpe_table_name((enum tr_bpe_encoding)e), &maps[e]) !=
                CCP_OK ||
            tr_bpe_new((enum tr_bpe_encoding)e, maps[e].ptr, maps[e].len, &v) != CCP_OK) {
            return -1;
        }
        encs[e] = v;
    }
    return tr_bpe_scratch_new(&scratch) == CCP_OK ? 0 : -1;
}

static void unload(void)
{
    tr_bpe_scratch_free(scratch);
    for (int e = 0; e < 2; e++) {
        tr_bpe_free((struct tr_bpe *)(uintptr_t)encs[e]);
        vocab_unmap(&maps[e]);
    }
}

static unsigned long count_ok(const char *body, struct tr_bpe_scratch *s)
{
    struct tr_opts o;
    struct tr_error err;
    unsigned long n = 0;

    opts(&o);
    memset(&err, 0, sizeof(err));
    assert_int_equal(tr_count_tokens(&o, encs, s, body, strlen(body), &n, &err), CCP_OK);
    return n;
}

static void golden_case(void **state)
{
    const char *dir = *state;
    char *body = golden_read(dir, "anthropic.json", NULL);
    char *exp = golden_read(dir, "expected.json", NULL);
    struct json_object *e, *in, *n, *enc, *model;
    struct tr_opts o;

    assert_non_null(body);
    assert_non_null(exp);
    e = json_tokener_parse(exp);
    in = json_tokener_parse(body);
    assert_true(json_object_object_get_ex(e, "input_tokens", &n));
    assert_true(json_object_object_get_ex(e, "encoding", &enc));
    assert_true(json_object_object_get_ex(in, "model", &model));
    opts(&o);
    assert_string_equal(tr_encoding_for_model(tr_map_model(&o, json_object_get_string(model))),
                        json_object_get_string(enc));
    if (count_ok(body, scratch) != (unsigned long)json_object_get_int64(n)) {
        print_error("%s: counted %lu, expected %lld\n", dir, count_ok(body, scratch),
                    (long long)json_object_get_int64(n));
        fail();
    }
    /* a scratch made inside gives the same count */
    assert_int_equal(count_ok(body, NULL), json_object_get_int64(n));
    json_object_put(in);
    json_object_put(e);
    free(body);
    free(exp);
}

static void test_encoding_for_model(void **state)
{
    static const char *const o200k[] = {
        "gpt-4o",          "gpt-4o-mini",   "GPT-4O-2024-08-06", "gpt-4.1", "gpt-4.1-nano",
        "gpt-4.5-preview", "gpt-5",         "gpt-5-mini",        "o1",      "o3-mini",
        "o4-mini",         "openai/gpt-4o", "chatgpt-4o-latest", "llama-3", "",
        "claude-x"};
    static const char *const cl100k[] = {"gpt-4",
                                         "gpt-4-turbo",
                                         "gpt-4-0613",
                                         "gpt-3.5-turbo",
                                         "openrouter/openai/gpt-4-32k",
                                         "GPT-3.5-TURBO-16K"};
    (void)state;
    for (size_t i = 0; i < CCP_ARRAY_LEN(o200k); i++) {
        assert_string_equal(tr_encoding_for_model(o200k[i]), "o200k_base");
    }
    for (size_t i = 0; i < CCP_ARRAY_LEN(cl100k); i++) {
        assert_string_equal(tr_encoding_for_model(cl100k[i]), "cl100k_base");
    }
    assert_string_equal(tr_encoding_for_model(NULL), "o200k_base");
}

/* The worked examples of OpenAI's vision pricing guide. */
static void test_image_tokens(void **state)
{
    (void)state;
    assert_int_equal(tr_image_tokens("gpt-4o", 1024, 1024, false), 765);
    assert_int_equal(tr_image_tokens("gpt-4o", 2048, 4096, false), 1105);
    assert_int_equal(tr_image_tokens("gpt-4o", 4096, 8192, true), 85);
    assert_int_equal(tr_image_tokens("gpt-4.1", 512, 512, false), 255);
    assert_int_equal(tr_image_tokens("gpt-4o", 100, 100, false), 255); /* never scaled up */
    assert_int_equal(tr_image_tokens("gpt-4o-mini", 1024, 1024, false), 2833 + 4 * 5667);
    assert_int_equal(tr_image_tokens("gpt-5", 1024, 1024, false), 70 + 4 * 140);
    assert_int_equal(tr_image_tokens("o3", 1024, 1024, false), 75 + 4 * 150);
    /* patch models: 1024x1024 is 1024 patches; 1800x2400 shrinks to 33x44 */
    assert_int_equal(tr_image_tokens("gpt-4.1-mini", 1024, 1024, false), (1024 * 162 + 99) / 100);
    assert_int_equal(tr_image_tokens("gpt-4.1-nano", 1800, 2400, false), (1452 * 246 + 99) / 100);
    assert_int_equal(tr_image_tokens("o4-mini", 1800, 2400, false), (1452 * 172 + 99) / 100);
    assert_int_equal(tr_image_tokens("gpt-5-mini", 20000, 16, false), (625 * 162 + 99) / 100);
    assert_true(tr_image_tokens("gpt-5-mini", 20000, 20000, false) <= (1536 * 162 + 99) / 100);
    assert_true(tr_image_tokens("gpt-5-mini", 20000, 20000, false) >= (1400 * 162 + 99) / 100);
    /* degenerate sizes still count as one tile */
    assert_int_equal(tr_image_tokens("gpt-4o", 0, 0, false), 255);
    assert_int_equal(tr_image_tokens("gpt-4o", 4294967295UL, 1, false), 85 + 170 * 4);
}

static void b64(const unsigned char *p, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i;

    for (i = 0; i + 2 < n; i += 3) {
        out[o++] = abc[p[i] >> 2];
        out[o++] = abc[(p[i] & 3) << 4 | p[i + 1] >> 4];
        out[o++] = abc[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
        out[o++] = abc[p[i + 2] & 63];
    }
    if (i < n) {
        out[o++] = abc[p[i] >> 2];
        out[o++] = abc[(p[i] & 3) << 4 | (i + 1 < n ? p[i + 1] >> 4 : 0)];
        out[o++] = i + 1 < n ? abc[(p[i + 1] & 15) << 2] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

/* Sizes from the base64 of p[0..n); every prefix of the header must give
 * false or the full answer, never a crash or a wrong size. */
static void expect_size(const unsigned char *p, size_t n, unsigned long w, unsigned long h)
{
    char enc[512];
    unsigned long x = 7, y = 7;

    assert_true(n <= 360);
    b64(p, n, enc);
    assert_true(tr_image_size_b64(enc, strlen(enc), &x, &y));
    assert_int_equal(x, w);
    assert_int_equal(y, h);
    for (size_t cut = 0; cut < strlen(enc); cut++) {
        x = 7;
        y = 7;
        if (tr_image_size_b64(enc, cut, &x, &y)) {
            assert_int_equal(x, w);
            assert_int_equal(y, h);
        } else {
            assert_int_equal(x, 7);
            assert_int_equal(y, 7);
        }
    }
}

static void test_image_headers(void **state)
{
    static const unsigned char png[] = {0x89, 'P', 'N',  'G',  '\r', '\n', 0x1a, '\n', 0,    0,
                                        0,    13,  'I',  'H',  'D',  'R',  0,    0,    0x07, 0xd0,
                                        0,    0,   0x03, 0xe8, 8,    2,    0,    0,    0};
    static const unsigned char gif[] = {'G', 'I', 'F', '8', '7', 'a', 0x2c, 0x01, 0xc8, 0x00, 0};
    static const unsigned char vp8[] = {'R', 'I', 'F', 'F',  0,    0,    0,    0,    'W',  'E',
                                        'B', 'P', 'V', 'P',  '8',  ' ',  0,    0,    0,    0,
                                        0,   0,   0,   0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x41};
    /* VP8L: 0x2f then 14 bits width-1 (399), 14 bits height-1 (299) */
    unsigned char vp8l[30] = {'R', 'I', 'F', 'F', 0,   0, 0, 0, 'W', 'E', 'B',
                              'P', 'V', 'P', '8', 'L', 0, 0, 0, 0,   0x2f};
    static const unsigned char vp8x[] = {'R', 'I', 'F', 'F', 0,    0,    0,    0,    'W',  'E',
                                         'B', 'P', 'V', 'P', '8',  'X',  10,   0,    0,    0,
                                         0,   0,   0,   0,   0xff, 0x0f, 0x00, 0xff, 0x03, 0x00};
    /* JPEG: SOI, APP0 (16), a fill byte, DQT (67), SOF2 480x640 */
    unsigned char jpg[128] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F'};
    size_t at = 2 + 2 + 16;
    unsigned long bits = 399u | 299u << 14, x = 1, y = 1;

    (void)state;
    expect_size(png, sizeof(png), 2000, 1000);
    expect_size(gif, sizeof(gif), 300, 200);
    expect_size(vp8, sizeof(vp8), 640, 480 & 0x3fff);
    vp8l[21] = (unsigned char)bits;
    vp8l[22] = (unsigned char)(bits >> 8);
    vp8l[23] = (unsigned char)(bits >> 16);
    vp8l[24] = (unsigned char)(bits >> 24);
    expect_size(vp8l, sizeof(vp8l), 400, 300);
    expect_size(vp8x, sizeof(vp8x), 4096, 1024);
    jpg[at++] = 0xff; /* fill byte before the next marker */
    jpg[at++] = 0xff;
    jpg[at++] = 0xdb;
    jpg[at++] = 0x00;
    jpg[at++] = 67;
    at += 65;
    memcpy(jpg + at, "\xff\xc2\x00\x11\x08\x01\xe0\x02\x80\x03", 10);
    expect_size(jpg, at + 10, 640, 480);

    /* not images, or broken ones: false, sizes untouched */
    assert_false(tr_image_size_b64("", 0, &x, &y));
    assert_false(tr_image_size_b64(NULL, 0, &x, &y));
    assert_false(tr_image_size_b64("!!!!not base64 at all!!!!", 25, &x, &y));
    assert_false(tr_image_size_b64("aGVsbG8gd29ybGQsIHRoaXMgaXMgdGV4dA==", 36, &x, &y));
    /* a JPEG whose segment lengths point past the data */
    assert_false(tr_image_size_b64("/9j/4P//", 8, &x, &y));
    /* a JPEG of zero-length segments and SOS before any frame */
    assert_false(tr_image_size_b64("/9j/2gAA", 8, &x, &y));
    /* PNG with a zero width */
    {
        unsigned char z[sizeof(png)];
        char enc[64];
        memcpy(z, png, sizeof(png));
        memset(z + 16, 0, 4);
        b64(z, sizeof(z), enc);
        assert_false(tr_image_size_b64(enc, strlen(enc), &x, &y));
    }
    assert_int_equal(x, 1);
    assert_int_equal(y, 1);
}

/* A malformed image or a URL image counts as the documented default; an
 * invalid body is refused like tr_request refuses it. */
static void test_defaults_and_errors(void **state)
{
    const char *garbage = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":["
                          "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
                          "\"image/png\",\"data\":\"iVBORw0KGgo=\"}}]}]}";
    const char *text = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}";
    const struct tr_bpe *none[2] = {NULL, NULL};
    const struct tr_bpe *only_o200k[2] = {encs[0], NULL};
    struct tr_opts o;
    struct tr_error err;
    unsigned long n = 42;

    (void)state;
    /* 3 priming + 3 message + "user" (1) + 765 for a 1024x1024 default */
    assert_int_equal(count_ok(garbage, scratch), 3 + 3 + 1 + 765);
    assert_int_equal(count_ok(text, scratch), 3 + 3 + 1);
    opts(&o);
    memset(&err, 0, sizeof(err));
    assert_int_equal(tr_count_tokens(&o, encs, scratch, "{\"model\":1}", 11, &n, &err),
                     CCP_ERR_INVALID);
    assert_int_equal(err.status, 400);
    assert_int_equal(n, 42);
    assert_int_equal(tr_count_tokens(&o, none, scratch, text, strlen(text), &n, &err),
                     CCP_ERR_INTERNAL);
    assert_int_equal(n, 42);
    /* a cl100k model with only o200k loaded still counts, with o200k */
    text = "{\"model\":\"gpt-4\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    assert_int_equal(tr_count_tokens(&o, only_o200k, scratch, text, strlen(text), &n, &err),
                     CCP_OK);
    assert_int_equal(n, 3 + 3 + 1 + 1);
}

/* ---- per-string cache hooks ---------------------------------------------- */

#define FAKE_MAX 64

/* A fake cache: exact copies of the strings looked up, with their counts. */
struct fake_cache {
    char *keys[FAKE_MAX];
    size_t lens[FAKE_MAX], counts[FAKE_MAX];
    char enc[FAKE_MAX][16];
    size_t n, gets, hits, puts, min_seen;
    size_t bias; /* added to every count served: shows a hit skips tokenizing */
};

static int fake_find(struct fake_cache *f, const char *enc, const char *s, size_t n)
{
    for (size_t i = 0; i < f->n; i++) {
        if (f->lens[i] == n && memcmp(f->keys[i], s, n) == 0 && strcmp(f->enc[i], enc) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static bool fake_get(void *ctx, const char *enc, const char *s, size_t n, size_t *count)
{
    struct fake_cache *f = ctx;
    int i = fake_find(f, enc, s, n);

    f->gets++;
    if (f->min_seen == 0 || n < f->min_seen) {
        f->min_seen = n;
    }
    if (i < 0) {
        return false;
    }
    f->hits++;
    *count = f->counts[i] + f->bias;
    return true;
}

static void fake_put(void *ctx, const char *enc, const char *s, size_t n, size_t count)
{
    struct fake_cache *f = ctx;

    f->puts++;
    assert_true(f->n < FAKE_MAX);
    assert_true(fake_find(f, enc, s, n) < 0);
    f->keys[f->n] = ccp_malloc(n);
    assert_non_null(f->keys[f->n]);
    memcpy(f->keys[f->n], s, n);
    f->lens[f->n] = n;
    f->counts[f->n] = count;
    snprintf(f->enc[f->n], sizeof(f->enc[0]), "%s", enc);
    f->n++;
}

static void fake_release(struct fake_cache *f)
{
    for (size_t i = 0; i < f->n; i++) {
        ccp_free(f->keys[i]);
    }
}

/* A conversation of turns long enough to be cached: turn i repeats a phrase. */
static char *conversation(int turns)
{
    struct buf b;
    static const char phrase[] = "The quick brown fox jumps over the lazy dog; ";

    buf_init(&b, 4 * MIB);
    assert_int_equal(buf_append_cstr(&b, "{\"model\":\"claude-sonnet-4-5\",\"system\":\"You are a "
                                         "helpful assistant.\",\"messages\":["),
                     CCP_OK);
    for (int t = 0; t < turns; t++) {
        assert_int_equal(buf_appendf(&b,
                                     "%s{\"role\":\"%s\",\"content\":[{\"type\":\"text\","
                                     "\"text\":\"turn %d: ",
                                     t > 0 ? "," : "", t % 2 == 0 ? "user" : "assistant", t),
                         CCP_OK);
        for (int i = 0; i < 8 + t; i++) {
            assert_int_equal(buf_append_cstr(&b, phrase), CCP_OK);
        }
        assert_int_equal(buf_append_cstr(&b, "\"}]}"), CCP_OK);
    }
    assert_int_equal(buf_append_cstr(&b, "]}"), CCP_OK);
    return b.ptr;
}

static unsigned long count_hooked(const char *body, const struct tr_count_hooks *h)
{
    struct tr_opts o;
    struct tr_error err;
    unsigned long n = 0;

    opts(&o);
    memset(&err, 0, sizeof(err));
    assert_int_equal(tr_count_tokens_ex(&o, encs, scratch, h, body, strlen(body), &n, &err),
                     CCP_OK);
    return n;
}

/* Misses store every long string, hits serve them without tokenizing, and
 * the total is the uncached one; a growing conversation only misses on the
 * new turn; short strings never reach the cache. */
static void test_cache_hooks(void **state)
{
    struct fake_cache f;
    struct tr_count_hooks h;
    char *three = conversation(3), *four = conversation(4);
    unsigned long plain3 = count_ok(three, scratch), plain4 = count_ok(four, scratch);

    (void)state;
    memset(&f, 0, sizeof(f));
    memset(&h, 0, sizeof(h));
    h.encoding = -1;
    h.get = fake_get;
    h.put = fake_put;
    h.ctx = &f;
    assert_int_equal(count_hooked(three, &h), plain3);
    assert_int_equal(f.hits, 0);
    assert_int_equal(f.puts, 3); /* the three turns; role and system strings are short */
    assert_true(f.min_seen >= TR_COUNT_CACHE_MIN);
    assert_string_equal(f.enc[0], "o200k_base");

    f.gets = f.puts = 0;
    assert_int_equal(count_hooked(three, &h), plain3);
    assert_int_equal(f.hits, 3);
    assert_int_equal(f.puts, 0);

    f.hits = f.puts = 0;
    assert_int_equal(count_hooked(four, &h), plain4);
    assert_int_equal(f.hits, 3);
    assert_int_equal(f.puts, 1); /* only the new turn is tokenized */

    /* a hit's count is used as given: the text is not tokenized again */
    f.hits = 0;
    f.bias = 1000;
    assert_int_equal(count_hooked(four, &h), plain4 + 4 * 1000);
    assert_int_equal(f.hits, 4);
    f.bias = 0;

    /* a smaller threshold sends the short strings through the cache too */
    f.hits = f.puts = f.gets = f.min_seen = 0;
    h.cache_min = 1;
    assert_int_equal(count_hooked(four, &h), plain4);
    assert_true(f.puts > 0);
    assert_true(f.min_seen < TR_COUNT_CACHE_MIN);
    h.cache_min = 0;

    /* the encoding override counts with cl100k and keys by it */
    h.encoding = TR_BPE_CL100K_BASE;
    f.puts = 0;
    {
        struct tr_opts o;
        struct tr_error err;
        unsigned long want = 0;

        opts(&o);
        o.big_model = "gpt-4";
        memset(&err, 0, sizeof(err));
        assert_int_equal(tr_count_tokens(&o, encs, scratch, four, strlen(four), &want, &err),
                         CCP_OK);
        assert_int_equal(count_hooked(four, &h), want);
    }
    assert_int_equal(f.puts, 4); /* new keys: another encoding */
    assert_string_equal(f.enc[f.n - 1], "cl100k_base");
    fake_release(&f);
    ccp_free(three);
    ccp_free(four);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding_for_model), cmocka_unit_test(test_image_tokens),
        cmocka_unit_test(test_image_headers),      cmocka_unit_test(test_defaults_and_errors),
        cmocka_unit_test(test_cache_hooks),
    };
    int rc;

    if (load() != 0) {
        fprintf(stderr, "test_count: cannot load the rank tables from %s\n", CCP_SRCDATADIR);
        return 1;
    }
    rc = cmocka_run_group_tests_name("count", tests, NULL, NULL);
    rc += golden_run("count", "count", golden_case);
    unload();
    return rc != 0;
}
