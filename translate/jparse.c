/* A fast path for json-c's tokener: parses plain JSON (RFC 8259) into the
 * same json-c objects json_tokener_parse_ex would build, and declines
 * everything else (see jparse.h), which the caller then gives to json-c. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "translate/jparse.h"
#include "translate/json_int.h"

#include "common/banned.h"

/* Containers this deep or deeper go to json-c, which decides (its limit is
 * max_depth - 1 enclosing containers; we stay one below it). */
#define JP_STACK_MAX 1024
/* longest number handled here (json-c copes with any length) */
#define JP_NUMBER_MAX 64

struct jp_frame {
    struct json_object *obj; /* the open object or array */
    bool is_object;
    size_t key_off; /* its pending key in jp.keys (objects) */
    size_t key_len;
};

/* room for the keys of the open objects without an allocation */
#define JP_KEYS_INLINE 512

struct jp {
    const char *p, *end;
    /* NUL-terminated keys of the open objects, innermost last: in
     * keys_inline until they outgrow it */
    char *keys;
    size_t keys_len, keys_cap;
    struct buf scratch; /* a string being unescaped */
    char keys_inline[JP_KEYS_INLINE];
};

static void skip_ws(struct jp *j)
{
    while (j->p < j->end && tr_json_ws(*j->p)) {
        j->p++;
    }
}

static int hex4(const char *p)
{
    int v = 0, i;

    for (i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v |= c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v |= c - 'A' + 10;
        } else {
            return -1;
        }
    }
    return v;
}

/* Append code point u as UTF-8 (as json-c writes an escape's code point). */
static bool put_utf8(struct buf *b, unsigned u)
{
    char s[4];
    size_t n;

    if (u < 0x80) {
        s[0] = (char)u;
        n = 1;
    } else if (u < 0x800) {
        s[0] = (char)(0xc0 | (u >> 6));
        s[1] = (char)(0x80 | (u & 0x3f));
        n = 2;
    } else if (u < 0x10000) {
        s[0] = (char)(0xe0 | (u >> 12));
        s[1] = (char)(0x80 | ((u >> 6) & 0x3f));
        s[2] = (char)(0x80 | (u & 0x3f));
        n = 3;
    } else {
        s[0] = (char)(0xf0 | ((u >> 18) & 0x07));
        s[1] = (char)(0x80 | ((u >> 12) & 0x3f));
        s[2] = (char)(0x80 | ((u >> 6) & 0x3f));
        s[3] = (char)(0x80 | (u & 0x3f));
        n = 4;
    }
    return buf_append(b, s, n) == CCP_OK;
}

/* One escape after the backslash at j->p: appended to out, j->p past it.
 * False for what json-c would not read the same way here: an unknown
 * escape, a lone or reversed surrogate (json-c substitutes U+FFFD), a
 * pair json-c 0.16 mangles (below), and
 * \u0000 where nul_ok is false (a key: json-c cuts it there). */
static bool unescape(struct jp *j, struct buf *out, bool nul_ok)
{
    const char *p = j->p + 1;
    char c;
    int u, lo;

    if (p >= j->end) {
        return false;
    }
    c = *p++;
    switch (c) {
    case '"':
    case '\\':
    case '/':
        j->p = p;
        return buf_append(out, &c, 1) == CCP_OK;
    case 'b':
        c = '\b';
        break;
    case 'f':
        c = '\f';
        break;
    case 'n':
        c = '\n';
        break;
    case 'r':
        c = '\r';
        break;
    case 't':
        c = '\t';
        break;
    case 'u':
        u = j->end - p >= 4 ? hex4(p) : -1;
        if (u < 0 || (u >= 0xdc00 && u <= 0xdfff)) {
            return false; /* not four hex digits, or a low surrogate first */
        }
        p += 4;
        if (u >= 0xd800 && u <= 0xdbff) {
            lo = j->end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
            if (lo < 0xdc00 || lo > 0xdfff) {
                return false;
            }
            if ((u & 0x3e) == 0x36) {
                /* json-c 0.16 writes U+FFFD for a pair whose high half
                 * ends in 0x36 or 0x37 (U+1D800-U+1DFFF and 31 more
                 * 1 KiB ranges, found by fuzz_json): its reading stands */
                return false;
            }
            p += 6;
            u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (u == 0 && !nul_ok) {
            return false;
        }
        j->p = p;
        return put_utf8(out, (unsigned)u);
    default:
        return false;
    }
    j->p = p;
    return buf_append(out, &c, 1) == CCP_OK;
}

/* The string whose opening quote is at j->p: its bytes in *s, *n (in the
 * input when it has no escape, else in out from out->len = from on), j->p
 * past the closing quote. */
static bool read_string_at(struct jp *j, struct buf *out, size_t from, bool nul_ok, const char **s,
                           size_t *n)
{
    const char *start = j->p + 1;
    size_t k;

    j->p = start;
    k = tr_json_string_stop(j->p, (size_t)(j->end - j->p));
    if (j->p + k < j->end && j->p[k] == '"') { /* the common case: no escape */
        *s = start;
        *n = k;
        j->p += k + 1;
        return true;
    }
    out->len = from;
    for (;;) {
        if (j->p + k >= j->end || (unsigned char)j->p[k] < 0x20) {
            return false; /* unterminated, or a raw control byte */
        }
        if (buf_append(out, j->p, k) != CCP_OK) {
            return false;
        }
        j->p += k;
        if (*j->p == '"') {
            j->p++;
            break;
        }
        if (!unescape(j, out, nul_ok)) {
            return false;
        }
        k = tr_json_string_stop(j->p, (size_t)(j->end - j->p));
    }
    *s = out->ptr != NULL ? out->ptr + from : "";
    *n = out->len - from;
    return true;
}

static bool read_string(struct jp *j, struct buf *out, bool nul_ok, const char **s, size_t *n)
{
    return read_string_at(j, out, 0, nul_ok, s, n);
}

/* A number as json-c reads it: an integer of up to 18 digits becomes an
 * int64, one with a fraction or exponent a double that keeps its text
 * (json_object_new_double_s). Longer integers, leading zeros and the rest
 * go to json-c. */
/* The RFC 8259 number at j->p, within the lengths tr_jparse takes (an
 * integer of at most 18 digits; with a fraction or an exponent at most
 * JP_NUMBER_MAX characters): its end, or NULL (none there, or longer);
 * whether it is an integer, and then its value in *v. */
static const char *number_take(const struct jp *j, bool *is_int, int64_t *v)
{
    const char *p = j->p, *digits, *d;
    bool is_double = false;
    int64_t n = 0;

    if (*p == '-') {
        p++;
    }
    digits = p;
    while (p < j->end && *p >= '0' && *p <= '9') {
        p++;
    }
    if (p == digits || (*digits == '0' && p - digits > 1)) {
        return NULL;
    }
    if (p < j->end && *p == '.') {
        const char *f = ++p;

        while (p < j->end && *p >= '0' && *p <= '9') {
            p++;
        }
        if (p == f) {
            return NULL;
        }
        is_double = true;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        const char *e;

        p++;
        if (p < j->end && (*p == '+' || *p == '-')) {
            p++;
        }
        e = p;
        while (p < j->end && *p >= '0' && *p <= '9') {
            p++;
        }
        if (p == e) {
            return NULL;
        }
        is_double = true;
    }
    if (is_double ? (size_t)(p - j->p) > JP_NUMBER_MAX : p - digits > 18) {
        return NULL;
    }
    *is_int = !is_double;
    if (*is_int) {
        for (d = digits; d < p; d++) {
            n = n * 10 + (*d - '0');
        }
        *v = *j->p == '-' ? -n : n;
    }
    return p;
}

static bool read_number(struct jp *j, struct json_object **v)
{
    const char *p;
    bool is_int = false;
    int64_t n = 0;
    char text[JP_NUMBER_MAX + 1], *endp;
    size_t len;
    double d;

    p = number_take(j, &is_int, &n);
    if (p == NULL) {
        return false;
    }
    if (is_int) {
        *v = json_object_new_int64(n);
    } else {
        len = (size_t)(p - j->p);
        memcpy(text, j->p, len);
        text[len] = '\0';
        d = strtod(text, &endp);
        if (endp != text + len) {
            return false;
        }
        *v = json_object_new_double_s(d, text);
    }
    j->p = p;
    return *v != NULL;
}

static bool literal(struct jp *j, const char *word, size_t n)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) {
        return false;
    }
    j->p += n;
    return true;
}

/* The keys Anthropic requests, OpenAI answers and JSON Schemas use most,
 * as string literals: an object gets such a key without json-c copying it
 * (JSON_C_OBJECT_KEY_IS_CONSTANT; a literal outlives every object), one
 * allocation and one free fewer per key, a fifth of a Claude Code
 * request's allocations. NULL for any other key, which json-c copies. A
 * literal is only ever returned for a key of its own length and bytes, so
 * a literal listed under the wrong length is never returned. */
#define KEY(lit)                                                                                   \
    do {                                                                                           \
        if (n == sizeof(lit) - 1 && memcmp(k, lit, sizeof(lit) - 1) == 0) {                        \
            return lit;                                                                            \
        }                                                                                          \
    } while (0)

static const char *common_key(const char *k, size_t n)
{
    switch (n) {
    case 2:
        KEY("id");
        break;
    case 3:
        KEY("url");
        KEY("ttl");
        KEY("$id");
        break;
    case 4:
        KEY("type");
        KEY("text");
        KEY("name");
        KEY("role");
        KEY("data");
        KEY("enum");
        KEY("code");
        KEY("$ref");
        break;
    case 5:
        KEY("model");
        KEY("input");
        KEY("items");
        KEY("tools");
        KEY("top_p");
        KEY("top_k");
        KEY("index");
        KEY("usage");
        KEY("delta");
        KEY("error");
        KEY("param");
        KEY("const");
        KEY("title");
        KEY("anyOf");
        KEY("oneOf");
        KEY("allOf");
        KEY("$defs");
        break;
    case 6:
        KEY("system");
        KEY("stream");
        KEY("source");
        KEY("object");
        KEY("effort");
        KEY("format");
        break;
    case 7:
        KEY("content");
        KEY("user_id");
        KEY("message");
        KEY("created");
        KEY("refusal");
        KEY("default");
        KEY("pattern");
        KEY("minimum");
        KEY("maximum");
        KEY("$schema");
        KEY("choices");
        KEY("context");
        break;
    case 8:
        KEY("messages");
        KEY("metadata");
        KEY("thinking");
        KEY("is_error");
        KEY("required");
        KEY("function");
        KEY("logprobs");
        KEY("examples");
        KEY("nullable");
        KEY("minItems");
        KEY("maxItems");
        break;
    case 9:
        KEY("signature");
        KEY("citations");
        KEY("arguments");
        KEY("minLength");
        KEY("maxLength");
        KEY("reasoning");
        break;
    case 10:
        KEY("max_tokens");
        KEY("media_type");
        KEY("properties");
        KEY("tool_calls");
        KEY("multipleOf");
        break;
    case 11:
        KEY("description");
        KEY("tool_use_id");
        KEY("temperature");
        KEY("tool_choice");
        KEY("definitions");
        break;
    case 12:
        KEY("input_schema");
        KEY("total_tokens");
        KEY("service_tier");
        KEY("input_tokens");
        break;
    case 13:
        KEY("cache_control");
        KEY("budget_tokens");
        KEY("output_config");
        KEY("finish_reason");
        KEY("prompt_tokens");
        KEY("cached_tokens");
        KEY("output_tokens");
        break;
    case 14:
        KEY("stop_sequences");
        break;
    case 16:
        KEY("reasoning_tokens");
        KEY("exclusiveMinimum");
        KEY("exclusiveMaximum");
        break;
    case 17:
        KEY("completion_tokens");
        KEY("reasoning_content");
        break;
    case 18:
        KEY("system_fingerprint");
        break;
    case 20:
        KEY("additionalProperties");
        break;
    case 21:
        KEY("prompt_tokens_details");
        break;
    case 25:
        KEY("completion_tokens_details");
        KEY("disable_parallel_tool_use");
        break;
    default:
        break;
    }
    return NULL;
}

#undef KEY

/* Add v to the innermost open container (taking v's reference). */
static bool add_value(struct jp *j, struct jp_frame *f, struct json_object *v)
{
    const char *lit;

    if (!f->is_object) {
        if (json_object_array_add(f->obj, v) != 0) {
            json_object_put(v);
            return false;
        }
        return true;
    }
    /* json-c adds with json_object_object_add too: a repeated key keeps its
     * place and takes the later value (the same with a constant key) */
    lit = common_key(j->keys + f->key_off, f->key_len);
    if ((lit != NULL ? json_object_object_add_ex(f->obj, lit, v, JSON_C_OBJECT_KEY_IS_CONSTANT)
                     : json_object_object_add(f->obj, j->keys + f->key_off, v)) != 0) {
        json_object_put(v);
        return false;
    }
    j->keys_len = f->key_off;
    return true;
}

/* The key at j->p (a '"' expected), then its ':'. */
static bool read_key(struct jp *j, struct jp_frame *f)
{
    const char *s;
    size_t n;

    skip_ws(j);
    if (j->p >= j->end || *j->p != '"' || !read_string(j, &j->scratch, false, &s, &n)) {
        return false;
    }
    f->key_off = j->keys_len;
    f->key_len = n;
    if (n >= j->keys_cap - j->keys_len) {
        size_t cap = 2 * j->keys_cap + n;
        char *bigger = ccp_malloc(cap);

        if (bigger == NULL) {
            return false;
        }
        memcpy(bigger, j->keys, j->keys_len);
        if (j->keys != j->keys_inline) {
            ccp_free(j->keys);
        }
        j->keys = bigger;
        j->keys_cap = cap;
    }
    memcpy(j->keys + j->keys_len, s, n);
    j->keys[j->keys_len + n] = '\0';
    j->keys_len += n + 1;
    skip_ws(j);
    if (j->p >= j->end || *j->p != ':') {
        return false;
    }
    j->p++;
    return true;
}

struct json_object *tr_jparse(const char *p, size_t len, int max_depth, bool *handled)
{
    struct jp j;
    struct jp_frame stack_small[16], *stack = stack_small;
    struct json_object *root = NULL, *v = NULL;
    size_t depth = 0, cap = sizeof(stack_small) / sizeof(stack_small[0]), limit;
    bool ok = false;

    *handled = false;
    j.p = p;
    j.end = p + len;
    j.keys_len = 0;
    limit = max_depth > 2 ? (size_t)max_depth - 2 : 0;
    if (limit > JP_STACK_MAX) {
        limit = JP_STACK_MAX;
    }
    j.keys = j.keys_inline;
    j.keys_cap = sizeof(j.keys_inline);
    buf_init(&j.scratch, SIZE_MAX - 1);
    for (;;) {
        /* a value */
        skip_ws(&j);
        if (j.p >= j.end) {
            goto out;
        }
        v = NULL;
        switch (*j.p) {
        case '{':
        case '[': {
            bool is_object = *j.p == '{';

            if (depth >= limit) {
                goto out;
            }
            if (depth == cap) {
                struct jp_frame *bigger = ccp_calloc(limit, sizeof(*bigger));

                if (bigger == NULL) {
                    goto out;
                }
                memcpy(bigger, stack, depth * sizeof(*stack));
                stack = bigger;
                cap = limit;
            }
            j.p++;
            v = is_object ? json_object_new_object() : json_object_new_array();
            if (v == NULL) {
                goto out;
            }
            if (depth > 0 && !add_value(&j, &stack[depth - 1], json_object_get(v))) {
                json_object_put(v);
                goto out;
            }
            if (depth == 0) {
                root = v;
            } else {
                json_object_put(v); /* the parent holds it */
            }
            stack[depth].obj = v;
            stack[depth].is_object = is_object;
            stack[depth].key_off = j.keys_len;
            depth++;
            v = NULL;
            skip_ws(&j);
            if (j.p < j.end && *j.p == (is_object ? '}' : ']')) {
                j.p++;
                if (!is_object) {
                    json_object_array_shrink(stack[depth - 1].obj, 0);
                }
                if (--depth == 0) {
                    goto done;
                }
                goto after_value;
            }
            if (is_object && !read_key(&j, &stack[depth - 1])) {
                goto out;
            }
            continue;
        }
        case '"': {
            const char *s;
            size_t n;

            if (!read_string(&j, &j.scratch, true, &s, &n)) {
                goto out;
            }
            if (n > INT32_MAX) {
                goto out;
            }
            v = json_object_new_string_len(s, (int)n);
            if (v == NULL) {
                goto out;
            }
            break;
        }
        case 't':
        case 'f': {
            bool t = *j.p == 't';

            if (!literal(&j, t ? "true" : "false", t ? 4 : 5)) {
                goto out;
            }
            v = json_object_new_boolean(t);
            if (v == NULL) {
                goto out;
            }
            break;
        }
        case 'n':
            if (!literal(&j, "null", 4)) {
                goto out;
            }
            break; /* json-c's null is NULL */
        default:
            if ((*j.p >= '0' && *j.p <= '9') || *j.p == '-') {
                if (!read_number(&j, &v)) {
                    goto out;
                }
                break;
            }
            goto out;
        }
        /* a scalar, in its container (a scalar document goes to json-c,
         * which wants more input after a top-level number) */
        if (depth == 0) {
            goto out;
        }
        if (!add_value(&j, &stack[depth - 1], v)) {
            v = NULL;
            goto out;
        }
        v = NULL;
    after_value:
        /* ',' and the next value, or the container closes */
        for (;;) {
            struct jp_frame *f = &stack[depth - 1];

            skip_ws(&j);
            if (j.p >= j.end) {
                goto out;
            }
            if (*j.p == ',') {
                j.p++;
                if (f->is_object && !read_key(&j, f)) {
                    goto out;
                }
                break;
            }
            if (*j.p != (f->is_object ? '}' : ']')) {
                goto out;
            }
            j.p++;
            if (!f->is_object) {
                json_object_array_shrink(f->obj, 0); /* as json-c does */
            }
            depth--;
            if (depth == 0) {
                goto done;
            }
        }
    }
done:
    skip_ws(&j);
    if (j.p != j.end) {
        goto out; /* data after the value: json-c words the error */
    }
    ok = true;
out:
    json_object_put(v);
    if (!ok) {
        json_object_put(root);
        root = NULL;
    }
    if (stack != stack_small) {
        ccp_free(stack);
    }
    if (j.keys != j.keys_inline) {
        ccp_free(j.keys);
    }
    buf_release(&j.scratch);
    *handled = ok;
    return root;
}

/* ---- a stream chunk without json-c objects ------------------------------ */

/* Nesting the chunk reader follows at most (deeper goes to json-c). */
#define CH_DEPTH_MAX 32
/* Containers around a value: in the chunk, in a choice, in its delta. */
#define CH_IN_CHUNK 1
#define CH_IN_CHOICE 3
#define CH_IN_DELTA 4
/* ... in a tool call (in delta.tool_calls), in its function */
#define CH_IN_TOOL 6
#define CH_IN_FUNCTION 7

/* Strings read here: the fields and three per tool call. */
#define CH_STRINGS_MAX (TR_CHUNK_FIELDS + 3 * TR_CHUNK_TOOLS_MAX)

/* What the tool call being read (and its function) had (repeats are
 * declined). */
struct ch_tool_seen {
    bool index, id, function, name, args;
};

struct ch {
    struct jp j;
    struct buf *store;
    size_t limit; /* a container inside this many: declined */
    bool seen[TR_CHUNK_FIELDS];
    bool seen_choices, seen_index, seen_delta, seen_tools; /* (repeated: declined) */
    struct ch_tool_seen tool_seen;
    /* strings unescaped into store: where their pointer goes once store
     * stops moving, and their offset in it */
    const char **fix[CH_STRINGS_MAX];
    size_t fix_off[CH_STRINGS_MAX], nfix;
};

static bool ch_value(struct ch *c, size_t in);

/* A string, checked as tr_jparse reads a value and dropped. */
static bool ch_skip_string(struct ch *c)
{
    size_t mark = c->store->len;
    const char *s;
    size_t n;
    bool ok = read_string_at(&c->j, c->store, mark, true, &s, &n);

    c->store->len = mark;
    return ok;
}

/* The ':' after a key, and the start of its value. */
static bool ch_colon(struct ch *c)
{
    struct jp *j = &c->j;

    skip_ws(j);
    if (j->p >= j->end || *j->p != ':') {
        return false;
    }
    j->p++;
    skip_ws(j);
    return j->p < j->end;
}

/* The key at j->p ('"' expected) without escapes, its ':' and the start of
 * its value (a key with an escape or a control byte: json-c's path reads
 * it). */
static bool ch_key(struct ch *c, const char **k, size_t *n)
{
    struct jp *j = &c->j;
    size_t len;

    skip_ws(j);
    if (j->p >= j->end || *j->p != '"') {
        return false;
    }
    j->p++;
    len = tr_json_string_stop(j->p, (size_t)(j->end - j->p));
    if (j->p + len >= j->end || j->p[len] != '"') {
        return false;
    }
    *k = j->p;
    *n = len;
    j->p += len + 1;
    return ch_colon(c);
}

static bool key_is(const char *k, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(k, name, n) == 0;
}

/* After a member or element: *more true for ',', false for `close`;
 * false for anything else. */
static bool ch_next(struct ch *c, char close, bool *more)
{
    struct jp *j = &c->j;

    skip_ws(j);
    if (j->p >= j->end || (*j->p != ',' && *j->p != close)) {
        return false;
    }
    *more = *j->p == ',';
    j->p++;
    return true;
}

/* A string read here: *sp and *np as tr_json_str gives them (NULL when the
 * value is not a string, which is then skipped). */
static bool ch_string(struct ch *c, const char **sp, size_t *np, size_t in)
{
    size_t mark = c->store->len;
    const char *s;
    size_t n;

    if (*c->j.p != '"') {
        return ch_value(c, in);
    }
    if (!read_string_at(&c->j, c->store, mark, true, &s, &n)) {
        return false;
    }
    *np = n;
    if (c->store->len > mark) { /* unescaped into store, which may still move */
        if (c->nfix == CH_STRINGS_MAX) {
            return false;
        }
        c->fix[c->nfix] = sp;
        c->fix_off[c->nfix++] = mark;
    } else {
        *sp = s;
    }
    return true;
}

/* A repeated key is declined (json-c's path would take the later value). */
static bool first_time(bool *seen)
{
    bool was = *seen;

    *seen = true;
    return !was;
}

/* The value of field f (in `in` containers). */
static bool ch_field(struct ch *c, struct tr_chunk *out, enum tr_chunk_field f, size_t in)
{
    return first_time(&c->seen[f]) && ch_string(c, &out->s[f], &out->n[f], in);
}

/* An integer json-c reads as json_type_int (at most 18 digits here): true
 * with *is_int and *v; a value of another type: true, *is_int false, the
 * value skipped. */
static bool ch_int(struct ch *c, bool *is_int, int64_t *v, size_t in)
{
    struct jp *j = &c->j;
    const char *e;

    *is_int = false;
    if (*j->p != '-' && (*j->p < '0' || *j->p > '9')) {
        return ch_value(c, in);
    }
    e = number_take(j, is_int, v);
    if (e == NULL) {
        return false;
    }
    j->p = e;
    return true;
}

/* The container opening at j->p, after any whitespace (`open` expected):
 * true with *empty when it closes at once (then consumed whole). */
static bool ch_open(struct ch *c, char open, char close, bool *empty)
{
    struct jp *j = &c->j;

    skip_ws(j);
    if (j->p >= j->end || *j->p != open) {
        return false;
    }
    j->p++;
    skip_ws(j);
    *empty = j->p < j->end && *j->p == close;
    if (*empty) {
        j->p++;
    }
    return true;
}

/* Any JSON value at j->p (in `in` containers), checked as tr_jparse reads
 * it, and skipped. */
static bool ch_value(struct ch *c, size_t in)
{
    struct jp *j = &c->j;
    const char *e;
    bool more = true, is_int, empty;
    int64_t v;
    char close;

    skip_ws(j);
    if (j->p >= j->end) {
        return false;
    }
    switch (*j->p) {
    case '{':
    case '[':
        if (in >= c->limit) {
            return false;
        }
        close = *j->p == '{' ? '}' : ']';
        if (!ch_open(c, *j->p, close, &empty)) {
            return false;
        }
        while (more && !empty) {
            if (close == '}') { /* any key: only checked */
                skip_ws(j);
                if (j->p >= j->end || *j->p != '"' || !ch_skip_string(c) || !ch_colon(c)) {
                    return false;
                }
            }
            if (!ch_value(c, in + 1) || !ch_next(c, close, &more)) {
                return false;
            }
        }
        return true;
    case '"':
        return ch_skip_string(c);
    case 't':
        return literal(j, "true", 4);
    case 'f':
        return literal(j, "false", 5);
    case 'n':
        return literal(j, "null", 4);
    default:
        e = number_take(j, &is_int, &v);
        if (e == NULL) {
            return false;
        }
        j->p = e;
        return true;
    }
}

/* A null at j->p, consumed: true; anything else: false, nothing consumed. */
static bool ch_null(struct ch *c)
{
    return c->j.p < c->j.end && *c->j.p == 'n' && literal(&c->j, "null", 4);
}

/* The members of the object at j->p ('{'), each handed to member(); an
 * empty object is fine. */
static bool ch_object(struct ch *c, struct tr_chunk *out,
                      bool (*member)(struct ch *, struct tr_chunk *, const char *, size_t))
{
    const char *k;
    size_t n;
    bool more = true, empty;

    if (!ch_open(c, '{', '}', &empty)) {
        return false;
    }
    while (more && !empty) {
        if (!ch_key(c, &k, &n) || !member(c, out, k, n) || !ch_next(c, '}', &more)) {
            return false;
        }
    }
    return true;
}

static bool function_member(struct ch *c, struct tr_chunk *out, const char *k, size_t n)
{
    struct tr_chunk_tool *t = &out->tool[out->ntools - 1];

    if (key_is(k, n, "name")) {
        return first_time(&c->tool_seen.name) &&
               ch_string(c, &t->name, &t->name_len, CH_IN_FUNCTION);
    }
    if (key_is(k, n, "arguments")) {
        return first_time(&c->tool_seen.args) &&
               ch_string(c, &t->args, &t->args_len, CH_IN_FUNCTION);
    }
    return ch_value(c, CH_IN_FUNCTION);
}

static bool tool_member(struct ch *c, struct tr_chunk *out, const char *k, size_t n)
{
    struct tr_chunk_tool *t = &out->tool[out->ntools - 1];

    if (key_is(k, n, "index")) {
        return first_time(&c->tool_seen.index) && ch_int(c, &t->has_index, &t->index, CH_IN_TOOL);
    }
    if (key_is(k, n, "id")) {
        return first_time(&c->tool_seen.id) && ch_string(c, &t->id, &t->id_len, CH_IN_TOOL);
    }
    if (key_is(k, n, "function")) {
        if (!first_time(&c->tool_seen.function)) {
            return false;
        }
        if (*c->j.p != '{') {
            return ch_value(c, CH_IN_TOOL); /* not an object: no name, no arguments */
        }
        return ch_object(c, out, function_member);
    }
    return ch_value(c, CH_IN_TOOL);
}

/* delta.tool_calls: null, or an array of objects. */
static bool ch_tools(struct ch *c, struct tr_chunk *out)
{
    bool more = true, empty;

    if (!first_time(&c->seen_tools)) {
        return false;
    }
    if (ch_null(c)) {
        return true;
    }
    if (!ch_open(c, '[', ']', &empty)) {
        return false;
    }
    while (more && !empty) {
        if (out->ntools == TR_CHUNK_TOOLS_MAX) {
            return false;
        }
        out->ntools++;
        memset(&c->tool_seen, 0, sizeof(c->tool_seen));
        if (!ch_object(c, out, tool_member) || !ch_next(c, ']', &more)) {
            return false;
        }
    }
    return true;
}

const char *const tr_chunk_field_key[TR_CHUNK_FIELDS] = {
    [TR_CHUNK_REASONING_CONTENT] = "reasoning_content",
    [TR_CHUNK_REASONING] = "reasoning",
    [TR_CHUNK_CONTENT] = "content",
    [TR_CHUNK_REFUSAL] = "refusal",
    [TR_CHUNK_FINISH_REASON] = "finish_reason",
};

static bool delta_member(struct ch *c, struct tr_chunk *out, const char *k, size_t n)
{
    int f;

    for (f = 0; f < TR_CHUNK_FINISH_REASON; f++) {
        if (key_is(k, n, tr_chunk_field_key[f])) {
            return ch_field(c, out, (enum tr_chunk_field)f, CH_IN_DELTA);
        }
    }
    if (key_is(k, n, "tool_calls")) {
        return ch_tools(c, out);
    }
    return ch_value(c, CH_IN_DELTA);
}

static bool choice_member(struct ch *c, struct tr_chunk *out, const char *k, size_t n)
{
    bool is_int;
    int64_t index;

    if (key_is(k, n, "index")) {
        /* an integer as json_object_get_int64 reads it (null is 0): other
         * than 0 is a choice json-c's path skips; other types are declined */
        if (!first_time(&c->seen_index)) {
            return false;
        }
        if (ch_null(c)) {
            return true;
        }
        if (!ch_int(c, &is_int, &index, CH_IN_CHOICE) || !is_int) {
            return false;
        }
        if (index != 0) {
            out->choice = false;
        }
        return true;
    }
    if (key_is(k, n, "delta")) {
        return first_time(&c->seen_delta) && (ch_null(c) || ch_object(c, out, delta_member));
    }
    if (key_is(k, n, tr_chunk_field_key[TR_CHUNK_FINISH_REASON])) {
        return ch_field(c, out, TR_CHUNK_FINISH_REASON, CH_IN_CHOICE);
    }
    return ch_value(c, CH_IN_CHOICE);
}

static bool chunk_member(struct ch *c, struct tr_chunk *out, const char *k, size_t n)
{
    bool more, empty;

    if (key_is(k, n, "choices")) {
        if (!first_time(&c->seen_choices) || !ch_open(c, '[', ']', &empty)) {
            return false;
        }
        if (empty) {
            return true;
        }
        out->choice = true;
        return ch_object(c, out, choice_member) && ch_next(c, ']', &more) && !more;
    }
    if (key_is(k, n, "usage")) {
        return ch_null(c); /* usage: json-c's path */
    }
    if (key_is(k, n, "error")) {
        return false; /* perhaps an error document: json-c's path words it */
    }
    return ch_value(c, CH_IN_CHUNK);
}

bool tr_jparse_chunk(const char *p, size_t len, int max_depth, struct buf *store,
                     struct tr_chunk *out)
{
    struct ch c;
    size_t i;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    c.j.p = p;
    c.j.end = p + len;
    c.store = store;
    store->len = 0;
    c.limit = max_depth > 2 ? (size_t)max_depth - 2 : 0;
    if (c.limit > CH_DEPTH_MAX) {
        c.limit = CH_DEPTH_MAX;
    }
    if (c.limit <= CH_IN_FUNCTION) {
        return false; /* a tool call's function would be too deep: json-c decides */
    }
    if (!ch_object(&c, out, chunk_member)) {
        return false;
    }
    skip_ws(&c.j);
    if (c.j.p != c.j.end) {
        return false;
    }
    for (i = 0; i < c.nfix; i++) {
        *c.fix[i] = store->ptr + c.fix_off[i];
    }
    return true;
}
