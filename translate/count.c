/* translate/count.c: count_tokens with the target model's BPE, counted over
 * the translated request the way OpenAI bills it (cookbook message overheads,
 * tool definitions, image tiles from the image header, documents). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "common/alloc.h"
#include "translate/bpe.h"
#include "translate/request_int.h"
#include "translate/translate.h"

#include "common/banned.h"

/* OpenAI cookbook (How_to_count_tokens_with_tiktoken): every message costs
 * 3 tokens plus its values, a name 1 more, and the reply is primed with 3. */
#define PER_MESSAGE 3
#define PER_NAME 1
#define REPLY_PRIMING 3
/* Each tool call: our approximation of its framing around name and
 * arguments (docs/tokens.md). */
#define PER_TOOL_CALL 3
/* Tool definitions, the cookbook's num_tokens_for_tools constants. */
#define FUNC_INIT_O200K 7
#define FUNC_INIT_CL100K 10
#define PROP_INIT 3
#define PROP_KEY 3
#define ENUM_INIT (-3)
#define ENUM_ITEM 3
#define FUNC_END 12
/* Nesting of schemas walked for tool definitions. */
#define MAX_SCHEMA_DEPTH 8
/* An image whose size can't be read (URL, unknown format) counts as this. */
#define DEFAULT_IMAGE_SIDE 1024
/* A PDF page: the image of a letter page at 150 dpi plus its text. */
#define PDF_PAGE_W 1275
#define PDF_PAGE_H 1650
#define PDF_PAGE_TEXT 550
/* PDF bytes per page when no page object can be found (object streams). */
#define PDF_BYTES_PER_PAGE 50000
/* Most JPEG segments walked before the size is given up. */
#define JPEG_MAX_SEGMENTS 1024

struct counter {
    const struct tr_bpe *v;
    struct tr_bpe_scratch *s;
    const char *model; /* upstream model */
    bool cl100k;
    long total;
    const struct tr_count_hooks *h; /* NULL: no cache */
    const char *enc_name;
    size_t cache_min;
};

/* ---- images: base64 header readers ---------------------------------------- */

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+' || c == '-') {
        return 62;
    }
    if (c == '/' || c == '_') {
        return 63;
    }
    return -1;
}

/* Byte idx of the data encoded in b64[0..n) into *out, decoding only the
 * two characters that hold it. false past the end or on a bad character. */
static bool b64_byte(const char *b64, size_t n, size_t idx, unsigned char *out)
{
    size_t at = idx / 3 * 4 + idx % 3;
    int hi, lo;

    if (at + 1 >= n || at + 1 < at) {
        return false;
    }
    hi = b64_val((unsigned char)b64[at]);
    lo = b64_val((unsigned char)b64[at + 1]);
    if (hi < 0 || lo < 0) {
        return false;
    }
    switch (idx % 3) {
    case 0:
        *out = (unsigned char)(hi << 2 | lo >> 4);
        break;
    case 1:
        *out = (unsigned char)((hi & 0xf) << 4 | lo >> 2);
        break;
    default:
        *out = (unsigned char)((hi & 0x3) << 6 | lo);
        break;
    }
    return true;
}

/* n bytes from offset off into p; false when they are not all there. */
static bool b64_read(const char *b64, size_t len, size_t off, unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!b64_byte(b64, len, off + i, &p[i])) {
            return false;
        }
    }
    return true;
}

static unsigned long be16(const unsigned char *p)
{
    return (unsigned long)p[0] << 8 | p[1];
}

static unsigned long le16(const unsigned char *p)
{
    return (unsigned long)p[1] << 8 | p[0];
}

static unsigned long le24(const unsigned char *p)
{
    return (unsigned long)p[2] << 16 | (unsigned long)p[1] << 8 | p[0];
}

static bool png_size(const unsigned char *h, unsigned long *w, unsigned long *ht)
{
    if (memcmp(h, "\x89PNG\r\n\x1a\n", 8) != 0 || memcmp(h + 12, "IHDR", 4) != 0) {
        return false;
    }
    *w = be16(h + 16) << 16 | be16(h + 18);
    *ht = be16(h + 20) << 16 | be16(h + 22);
    return true;
}

static bool gif_size(const unsigned char *h, unsigned long *w, unsigned long *ht)
{
    if (memcmp(h, "GIF87a", 6) != 0 && memcmp(h, "GIF89a", 6) != 0) {
        return false;
    }
    *w = le16(h + 6);
    *ht = le16(h + 8);
    return true;
}

/* WebP: RIFF....WEBP then a VP8 (lossy), VP8L (lossless) or VP8X chunk. */
static bool webp_size(const unsigned char *h, unsigned long *w, unsigned long *ht)
{
    if (memcmp(h, "RIFF", 4) != 0 || memcmp(h + 8, "WEBP", 4) != 0) {
        return false;
    }
    if (memcmp(h + 12, "VP8 ", 4) == 0 && memcmp(h + 23, "\x9d\x01\x2a", 3) == 0) {
        *w = le16(h + 26) & 0x3fff;
        *ht = le16(h + 28) & 0x3fff;
        return true;
    }
    if (memcmp(h + 12, "VP8L", 4) == 0 && h[20] == 0x2f) {
        unsigned long bits = le24(h + 21) | (unsigned long)h[24] << 24;
        *w = (bits & 0x3fff) + 1;
        *ht = (bits >> 14 & 0x3fff) + 1;
        return true;
    }
    if (memcmp(h + 12, "VP8X", 4) == 0) {
        *w = le24(h + 24) + 1;
        *ht = le24(h + 27) + 1;
        return true;
    }
    return false;
}

/* JPEG: walk the segments to the first SOFn (not DHT C4, JPG C8, DAC CC). */
static bool jpeg_size(const char *b64, size_t len, unsigned long *w, unsigned long *ht)
{
    unsigned char m[4], sof[5];
    size_t pos = 2;

    if (!b64_read(b64, len, 0, m, 2) || m[0] != 0xff || m[1] != 0xd8) {
        return false;
    }
    for (int seg = 0; seg < JPEG_MAX_SEGMENTS; seg++) {
        if (!b64_read(b64, len, pos, m, 2) || m[0] != 0xff) {
            return false;
        }
        if (m[1] == 0xff) {
            pos++; /* fill byte */
            continue;
        }
        if (m[1] == 0x01 || m[1] == 0xd8 || (m[1] >= 0xd0 && m[1] <= 0xd7)) {
            pos += 2; /* standalone marker */
            continue;
        }
        if (m[1] == 0xd9 || m[1] == 0xda || !b64_read(b64, len, pos + 2, m + 2, 2) ||
            be16(m + 2) < 2) {
            return false; /* end or scan data before any frame header */
        }
        if (m[1] >= 0xc0 && m[1] <= 0xcf && m[1] != 0xc4 && m[1] != 0xc8 && m[1] != 0xcc) {
            if (!b64_read(b64, len, pos + 4, sof, 5)) {
                return false;
            }
            *ht = be16(sof + 1);
            *w = be16(sof + 3);
            return true;
        }
        pos += 2 + be16(m + 2);
    }
    return false;
}

bool tr_image_size_b64(const char *b64, size_t len, unsigned long *w, unsigned long *h)
{
    unsigned char hd[30];
    unsigned long x = 0, y = 0;
    bool ok = false;

    if (b64 == NULL) {
        return false;
    }
    if (b64_read(b64, len, 0, hd, 2) && hd[0] == 0xff && hd[1] == 0xd8) {
        ok = jpeg_size(b64, len, &x, &y);
    } else if (b64_read(b64, len, 0, hd, 24) && memcmp(hd, "\x89PNG", 4) == 0) {
        ok = png_size(hd, &x, &y);
    } else if (b64_read(b64, len, 0, hd, 10) && memcmp(hd, "GIF8", 4) == 0) {
        ok = gif_size(hd, &x, &y);
    } else if (b64_read(b64, len, 0, hd, 30)) {
        ok = webp_size(hd, &x, &y);
    }
    if (!ok || x == 0 || y == 0) {
        return false;
    }
    *w = x;
    *h = y;
    return true;
}

/* ---- images: token formulas ------------------------------------------------ */

/* The model name after any "provider/" prefix. */
static const char *base_model(const char *model)
{
    const char *slash = model != NULL ? strrchr(model, '/') : NULL;

    if (model == NULL) {
        return "";
    }
    return slash != NULL ? slash + 1 : model;
}

static bool has_prefix(const char *s, const char *p)
{
    return strncasecmp(s, p, strlen(p)) == 0;
}

struct image_cost {
    const char *prefix;
    unsigned base;     /* tile models: tokens per image */
    unsigned tile;     /* tile models: tokens per 512-px tile; 0 = patch model */
    unsigned mult_pct; /* patch models: multiplier in hundredths */
};

/* OpenAI's vision pricing guide; first match wins, the last is the default. */
static const struct image_cost image_costs[] = {
    {"gpt-4.1-mini", 0, 0, 162}, {"gpt-4.1-nano", 0, 0, 246},
    {"gpt-5-mini", 0, 0, 162},   {"gpt-5-nano", 0, 0, 246},
    {"o4-mini", 0, 0, 172},      {"gpt-4o-mini", 2833, 5667, 0},
    {"gpt-5", 70, 140, 0},       {"o1", 75, 150, 0},
    {"o3", 75, 150, 0},          {"", 85, 170, 0},
};

static unsigned long div_up(unsigned long long a, unsigned long long b)
{
    return (unsigned long)((a + b - 1) / b);
}

/* Square root by Newton's method (no libm in translate/). x >= 0. */
static double root(double x)
{
    double r = x > 1 ? x : 1;

    for (int i = 0; i < 64; i++) {
        r = (r + x / r) / 2;
    }
    return r;
}

static unsigned long long floor_pos(double x)
{
    return x > 0 ? (unsigned long long)x : 0;
}

/* Ceiling that forgives rounding noise: the shrink step makes one side an
 * exact whole number of patches, which floating point may put a hair above. */
static unsigned long long ceil_pos(double x)
{
    unsigned long long f = floor_pos(x);

    return (double)f + 1e-9 < x ? f + 1 : f;
}

/* 32-px patches, capped at 1536 by shrinking the image (OpenAI's steps). */
static unsigned long long patches(unsigned long w, unsigned long h)
{
    unsigned long long raw = (unsigned long long)div_up(w, 32) * div_up(h, 32);
    double r, fw, fh, sw, sh;

    if (raw <= 1536) {
        return raw;
    }
    r = root(32.0 * 32.0 * 1536.0 / ((double)w * (double)h));
    fw = (double)w * r / 32.0;
    fh = (double)h * r / 32.0;
    sw = (double)floor_pos(fw) / fw;
    sh = (double)floor_pos(fh) / fh;
    r *= sw < sh ? sw : sh;
    raw = ceil_pos((double)w * r / 32.0) * ceil_pos((double)h * r / 32.0);
    return raw > 1536 ? 1536 : raw;
}

unsigned long tr_image_tokens(const char *model, unsigned long w, unsigned long h, bool low)
{
    const char *m = base_model(model);
    const struct image_cost *c = &image_costs[CCP_ARRAY_LEN(image_costs) - 1];
    unsigned long long x = w > 0 ? w : 1, y = h > 0 ? h : 1, big, small;

    for (size_t i = 0; i < CCP_ARRAY_LEN(image_costs); i++) {
        if (has_prefix(m, image_costs[i].prefix)) {
            c = &image_costs[i];
            break;
        }
    }
    if (c->tile == 0) {
        return (unsigned long)((patches((unsigned long)x, (unsigned long)y) * c->mult_pct + 99) /
                               100);
    }
    if (low) {
        return c->base;
    }
    big = x > y ? x : y;
    if (big > 2048) { /* fit in 2048 x 2048 */
        x = x * 2048 / big;
        y = y * 2048 / big;
    }
    small = x < y ? x : y;
    if (small > 768) { /* shortest side down to 768; never scaled up */
        x = x * 768 / small;
        y = y * 768 / small;
    }
    x = x > 0 ? x : 1;
    y = y > 0 ? y : 1;
    return c->base + c->tile * div_up(x, 512) * div_up(y, 512);
}

/* ---- text ------------------------------------------------------------------ */

static enum ccp_err add_text(struct counter *k, const char *s, size_t n)
{
    size_t c = 0;
    enum ccp_err rc;

    bool cached = k->h != NULL && k->h->get != NULL && n >= k->cache_min;

    if (n == 0) {
        return CCP_OK;
    }
    if (cached && k->h->get(k->h->ctx, k->enc_name, s, n, &c)) {
        k->total += (long)c;
        return CCP_OK;
    }
    rc = tr_bpe_count_with(k->v, k->s, s, n, &c);
    if (rc == CCP_OK) {
        k->total += (long)c;
        if (cached && k->h->put != NULL) {
            k->h->put(k->h->ctx, k->enc_name, s, n, c);
        }
    }
    return rc;
}

static enum ccp_err add_json_string(struct counter *k, struct json_object *s)
{
    if (!json_object_is_type(s, json_type_string)) {
        return CCP_OK;
    }
    return add_text(k, json_object_get_string(s), (size_t)json_object_get_string_len(s));
}

static struct json_object *get(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;

    if (!json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v)) {
        return NULL;
    }
    return v;
}

/* An image_url part: a data: URL is sized from its header, anything else
 * counts as a DEFAULT_IMAGE_SIDE square. */
static void add_image(struct counter *k, struct json_object *iu)
{
    const char *url = tr_rq_get_string(iu, "url"), *detail = tr_rq_get_string(iu, "detail");
    const char *b64;
    unsigned long w = DEFAULT_IMAGE_SIDE, h = DEFAULT_IMAGE_SIDE;

    if (url != NULL && strncmp(url, "data:", 5) == 0) {
        b64 = strstr(url, ";base64,");
        if (b64 != NULL && memchr(url, ',', (size_t)(b64 - url)) == NULL) {
            b64 += 8;
            if (!tr_image_size_b64(b64, strlen(b64), &w, &h)) {
                w = DEFAULT_IMAGE_SIDE;
                h = DEFAULT_IMAGE_SIDE;
            }
        }
    }
    k->total += (long)tr_image_tokens(k->model, w, h, detail != NULL && strcmp(detail, "low") == 0);
}

static enum ccp_err add_pdf(struct counter *k, const char *b64);

/* A file part: a PDF data: URL is estimated per page; other files, whose size
 * is unknown, count as one page. Text documents arrive as text parts. */
static enum ccp_err add_file(struct counter *k, struct json_object *file)
{
    const char *data = tr_rq_get_string(file, "file_data");
    const char *comma = data != NULL ? strstr(data, ";base64,") : NULL;

    if (comma != NULL) {
        return add_pdf(k, comma + 8);
    }
    k->total += (long)(tr_image_tokens(k->model, PDF_PAGE_W, PDF_PAGE_H, false) + PDF_PAGE_TEXT);
    return CCP_OK;
}

static enum ccp_err add_content(struct counter *k, struct json_object *content)
{
    struct json_object *p;
    const char *type;
    enum ccp_err rc = CCP_OK;

    if (!json_object_is_type(content, json_type_array)) {
        return add_json_string(k, content);
    }
    for (size_t i = 0; i < json_object_array_length(content) && rc == CCP_OK; i++) {
        p = json_object_array_get_idx(content, i);
        type = tr_rq_get_string(p, "type");
        if (type != NULL && strcmp(type, "image_url") == 0) {
            add_image(k, get(p, "image_url"));
        } else if (type != NULL && strcmp(type, "file") == 0) {
            rc = add_file(k, get(p, "file"));
        } else {
            rc = add_json_string(k, get(p, "text"));
        }
    }
    return rc;
}

/* One OpenAI message: 3 + role + content (+ name + 1) + its tool calls.
 * tool_call_id is not counted: it is not rendered into the prompt. */
static enum ccp_err add_message(struct counter *k, struct json_object *m)
{
    struct json_object *calls = get(m, "tool_calls"), *fn;
    enum ccp_err rc;

    k->total += PER_MESSAGE;
    rc = add_json_string(k, get(m, "role"));
    if (rc == CCP_OK) {
        rc = add_content(k, get(m, "content"));
    }
    if (rc == CCP_OK && json_object_is_type(get(m, "name"), json_type_string)) {
        k->total += PER_NAME;
        rc = add_json_string(k, get(m, "name"));
    }
    for (size_t i = 0; json_object_is_type(calls, json_type_array) &&
                       i < json_object_array_length(calls) && rc == CCP_OK;
         i++) {
        fn = get(json_object_array_get_idx(calls, i), "function");
        k->total += PER_TOOL_CALL;
        rc = add_json_string(k, get(fn, "name"));
        if (rc == CCP_OK) {
            rc = add_json_string(k, get(fn, "arguments"));
        }
    }
    return rc;
}

/* ---- tool definitions ------------------------------------------------------ */

/* "a:b:c" (a trailing "." of the last part dropped) counted as one text. */
static enum ccp_err add_line(struct counter *k, const char *const *parts, size_t n)
{
    struct buf b;
    enum ccp_err rc = CCP_OK;
    size_t len;

    buf_init(&b, SIZE_MAX / 2);
    for (size_t i = 0; i < n && rc == CCP_OK; i++) {
        len = strlen(parts[i]);
        if (i + 1 == n && len > 0 && parts[i][len - 1] == '.') {
            len--;
        }
        if (i > 0) {
            rc = buf_append(&b, ":", 1);
        }
        if (rc == CCP_OK) {
            rc = buf_append(&b, parts[i], len);
        }
    }
    if (rc == CCP_OK) {
        rc = add_text(k, b.ptr != NULL ? b.ptr : "", b.len);
    }
    buf_release(&b);
    return rc;
}

/* The JSON type of a property: a string, or the strings of an array joined
 * by "|"; "" when absent. */
static const char *prop_type(struct json_object *p, char *tmp, size_t cap)
{
    struct json_object *t = get(p, "type"), *e;
    size_t at = 0, n;

    if (json_object_is_type(t, json_type_string)) {
        return json_object_get_string(t);
    }
    tmp[0] = '\0';
    for (size_t i = 0; json_object_is_type(t, json_type_array) && i < json_object_array_length(t);
         i++) {
        e = json_object_array_get_idx(t, i);
        if (!json_object_is_type(e, json_type_string)) {
            continue;
        }
        n = (size_t)json_object_get_string_len(e);
        if (at + n + 2 > cap) {
            break;
        }
        if (at > 0) {
            tmp[at++] = '|';
        }
        memcpy(tmp + at, json_object_get_string(e), n);
        at += n;
        tmp[at] = '\0';
    }
    return tmp;
}

static enum ccp_err add_properties(struct counter *k, struct json_object *schema, int depth);

/* One property: key, "name:type:description", enum values, nested object
 * properties (also through array items). */
static enum ccp_err add_property(struct counter *k, const char *name, struct json_object *p,
                                 int depth)
{
    struct json_object *en = get(p, "enum"), *items = get(p, "items");
    const char *desc = tr_rq_get_string(p, "description");
    const char *parts[3];
    char tmp[128];
    enum ccp_err rc;

    k->total += PROP_KEY;
    if (json_object_is_type(en, json_type_array)) {
        k->total += ENUM_INIT;
        for (size_t i = 0; i < json_object_array_length(en); i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(en, i));
            k->total += ENUM_ITEM;
            rc = add_text(k, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
            if (rc != CCP_OK) {
                return rc;
            }
        }
    }
    parts[0] = name;
    parts[1] = prop_type(p, tmp, sizeof(tmp));
    parts[2] = desc != NULL ? desc : "";
    rc = add_line(k, parts, 3);
    if (rc == CCP_OK) {
        rc = add_properties(k, p, depth + 1);
    }
    if (rc == CCP_OK && json_object_is_type(items, json_type_object)) {
        rc = add_properties(k, items, depth + 1);
    }
    return rc;
}

static enum ccp_err add_properties(struct counter *k, struct json_object *schema, int depth)
{
    struct json_object *props = get(schema, "properties");
    enum ccp_err rc = CCP_OK;

    if (depth > MAX_SCHEMA_DEPTH || !json_object_is_type(props, json_type_object) ||
        json_object_object_length(props) == 0) {
        return CCP_OK;
    }
    k->total += PROP_INIT;
    json_object_object_foreach(props, key, val)
    {
        if (rc == CCP_OK) {
            rc = add_property(k, key, val, depth);
        }
    }
    return rc;
}

static enum ccp_err add_tools(struct counter *k, struct json_object *tools)
{
    struct json_object *fn;
    const char *parts[2], *name, *desc;
    enum ccp_err rc = CCP_OK;

    if (!json_object_is_type(tools, json_type_array) || json_object_array_length(tools) == 0) {
        return CCP_OK;
    }
    for (size_t i = 0; i < json_object_array_length(tools) && rc == CCP_OK; i++) {
        fn = get(json_object_array_get_idx(tools, i), "function");
        name = tr_rq_get_string(fn, "name");
        desc = tr_rq_get_string(fn, "description");
        k->total += k->cl100k ? FUNC_INIT_CL100K : FUNC_INIT_O200K;
        parts[0] = name != NULL ? name : "";
        parts[1] = desc != NULL ? desc : "";
        rc = add_line(k, parts, 2);
        if (rc == CCP_OK) {
            rc = add_properties(k, get(fn, "parameters"), 0);
        }
    }
    k->total += FUNC_END;
    return rc;
}

/* ---- documents (PDF file parts of the translation) ------------------------- */

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\0';
}

/* Page objects in a PDF: "/Type" [ws] "/Page" not followed by "s". 0 when
 * the pages sit in compressed object streams. */
static unsigned long pdf_pages(const unsigned char *p, size_t n)
{
    unsigned long pages = 0;
    size_t j;

    for (size_t i = 0; i + 10 <= n; i++) {
        if (p[i] != '/' || memcmp(p + i, "/Type", 5) != 0) {
            continue;
        }
        for (j = i + 5; j < n && is_ws(p[j]); j++) {
        }
        if (j + 5 <= n && memcmp(p + j, "/Page", 5) == 0 && (j + 5 == n || p[j + 5] != 's')) {
            pages++;
        }
    }
    return pages;
}

static enum ccp_err add_pdf(struct counter *k, const char *b64)
{
    size_t len = strlen(b64), n = 0;
    unsigned char *p = ccp_malloc(len / 4 * 3 + 3);
    unsigned long pages;

    if (p == NULL) {
        return CCP_ERR_NOMEM;
    }
    while (b64_byte(b64, len, n, &p[n])) {
        n++;
    }
    pages = pdf_pages(p, n);
    if (pages == 0) {
        pages = div_up(n > 0 ? n : 1, PDF_BYTES_PER_PAGE);
    }
    k->total +=
        (long)(pages * (tr_image_tokens(k->model, PDF_PAGE_W, PDF_PAGE_H, false) + PDF_PAGE_TEXT));
    ccp_free(p);
    return CCP_OK;
}

/* ---- entry points ---------------------------------------------------------- */

const char *tr_encoding_for_model(const char *model)
{
    const char *m = base_model(model);

    if (has_prefix(m, "gpt-3.5") || (has_prefix(m, "gpt-4") && !has_prefix(m, "gpt-4o") &&
                                     !has_prefix(m, "gpt-4.1") && !has_prefix(m, "gpt-4.5"))) {
        return "cl100k_base";
    }
    return "o200k_base";
}

enum ccp_err tr_count_tokens(const struct tr_opts *o, const struct tr_bpe *const enc[2],
                             struct tr_bpe_scratch *s, const char *body, size_t len,
                             unsigned long *tokens, struct tr_error *err)
{
    return tr_count_tokens_ex(o, enc, s, NULL, body, len, tokens, err);
}

enum ccp_err tr_count_tokens_ex(const struct tr_opts *o, const struct tr_bpe *const enc[2],
                                struct tr_bpe_scratch *s, const struct tr_count_hooks *hooks,
                                const char *body, size_t len, unsigned long *tokens,
                                struct tr_error *err)
{
    struct tr_rq_ctx c = {.o = o, .err = err};
    struct json_object *root = NULL, *in = NULL, *msgs;
    struct tr_bpe_scratch *own = NULL;
    struct tr_reqinfo ri;
    struct counter k;
    enum tr_bpe_encoding e = TR_BPE_O200K_BASE;
    enum ccp_err rc;

    rc = tr_rq_build(&c, body, len, &root, &in, &ri);
    if (rc != CCP_OK) {
        goto out;
    }
    if (hooks != NULL &&
        (hooks->encoding == (int)TR_BPE_O200K_BASE || hooks->encoding == (int)TR_BPE_CL100K_BASE)) {
        e = (enum tr_bpe_encoding)hooks->encoding;
    } else if (tr_bpe_encoding_parse(tr_encoding_for_model(ri.upstream_model), &e) != CCP_OK) {
        e = TR_BPE_O200K_BASE;
    }
    memset(&k, 0, sizeof(k));
    k.v = enc[e] != NULL ? enc[e] : enc[1 - (int)e];
    k.cl100k = k.v == enc[TR_BPE_CL100K_BASE];
    k.model = ri.upstream_model;
    k.h = hooks;
    k.enc_name = tr_bpe_encoding_name(k.cl100k ? TR_BPE_CL100K_BASE : TR_BPE_O200K_BASE);
    k.cache_min = hooks != NULL && hooks->cache_min > 0 ? hooks->cache_min : TR_COUNT_CACHE_MIN;
    if (k.v == NULL) {
        rc = CCP_ERR_INTERNAL;
        tr_error_set(err, rc, "no tokenizer vocabulary is loaded");
        goto out;
    }
    if (s == NULL) {
        rc = tr_bpe_scratch_new(&own);
        if (rc != CCP_OK) {
            goto out;
        }
        s = own;
    }
    k.s = s;
    k.total = REPLY_PRIMING;
    msgs = get(root, "messages");
    for (size_t i = 0; i < json_object_array_length(msgs) && rc == CCP_OK; i++) {
        rc = add_message(&k, json_object_array_get_idx(msgs, i));
    }
    if (rc == CCP_OK) {
        rc = add_tools(&k, get(root, "tools"));
    }
    if (rc == CCP_OK) {
        *tokens = k.total > 0 ? (unsigned long)k.total : 0;
    }
out:
    if (rc == CCP_ERR_TOO_LARGE || rc == CCP_ERR_NOMEM) {
        tr_rq_error_for(&c, rc);
    }
    tr_bpe_scratch_free(own);
    json_object_put(in);
    json_object_put(root);
    return rc;
}
