/* Small json-c helpers shared inside translate/ (internal). */
#ifndef CCP_TRANSLATE_JSON_INT_H
#define CCP_TRANSLATE_JSON_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <json-c/json.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/err.h"

/* The json-c tokener depth for a configured MAX_JSON_DEPTH (tr_opts'
 * max_json_depth; 0 or less, which the configuration never gives: the
 * default). A text's json-c parse and its fast path (jparse.h) must use the
 * same depth. */
#define TR_JSON_DEPTH_DEFAULT 64
static inline int tr_json_depth(int configured)
{
    return configured > 0 ? configured : TR_JSON_DEPTH_DEFAULT;
}

/* JSON whitespace (RFC 8259; json-c reads the same four). */
static inline bool tr_json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Offset of the first '"', '\\' or control byte (< 0x20) in p[0..n), or n:
 * the bytes a JSON string must escape, and where a string being read stops.
 * Sixteen bytes at a time with SSE2 (every x86-64 has it), then eight at a
 * time in a 64-bit word on a little-endian machine: in each word test the
 * lowest flagged byte is exact (a borrow only flags bytes above a flagged
 * one); then a byte at a time. */
static inline size_t tr_json_string_stop(const char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;

#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  ctl = _mm_set1_epi8(0x1f);

    for (; n - i >= 16; i += 16) {
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, bslash)),
                                 _mm_cmpeq_epi8(_mm_min_epu8(w, ctl), w)); /* w <= 0x1f */
        unsigned mask = (unsigned)_mm_movemask_epi8(m);

        if (mask != 0) {
            return i + (size_t)__builtin_ctz(mask);
        }
    }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; n - i >= 8; i += 8) {
        uint64_t w, q, b, m;

        memcpy(&w, p + i, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        m = ((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w);
        m &= highs;
        if (m != 0) {
            return i + (size_t)(__builtin_ctzll(m) >> 3);
        }
    }
#else
    (void)ones;
    (void)highs;
#endif
    for (; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c == '"' || c == '\\' || c < 0x20) {
            break;
        }
    }
    return i;
}

/* Append o serialized exactly as json_object_to_json_string_ext(o,
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) would, without
 * json-c's intermediate buffers (jsonw.c). On failure out is as it was. */
CCP_NODISCARD enum ccp_err tr_json_append(struct json_object *o, struct buf *out);

/* o[key] when it is a string: its bytes (borrowed from o) and *len; else
 * NULL and *len = 0. o may be NULL. */
static inline const char *tr_json_str(struct json_object *o, const char *key, size_t *len)
{
    struct json_object *v;

    if (o != NULL && json_object_object_get_ex(o, key, &v) &&
        json_object_is_type(v, json_type_string)) {
        *len = (size_t)json_object_get_string_len(v);
        return json_object_get_string(v);
    }
    *len = 0;
    return NULL;
}

/* o[key] when it is a positive integer, else 0. o may be NULL. */
static inline unsigned long tr_json_ulong(struct json_object *o, const char *key)
{
    struct json_object *v;
    int64_t n;

    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_int)) {
        return 0;
    }
    n = json_object_get_int64(v);
    return n > 0 ? (unsigned long)n : 0;
}

#endif /* CCP_TRANSLATE_JSON_INT_H */
