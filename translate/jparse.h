/* A fast path for json-c's tokener (jparse.c), internal to translate/. */
#ifndef CCP_TRANSLATE_JPARSE_H
#define CCP_TRANSLATE_JPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/buf.h"

/* Parse p[0..len), an object or array with only JSON whitespace around it,
 * into the json-c objects json_tokener_parse_ex (flags 0, depth max_depth)
 * builds from it: same types, same values, same key order, a repeated key
 * taking the later value in the first one's place, doubles keeping their
 * text. Reads strict RFC 8259 JSON, numbers of at most 18 digits without a
 * fraction or exponent as int64 and the rest up to 64 characters as
 * doubles, any bytes at or above 0x80 as they are (UTF-8 is the caller's to
 * check). Declines, with *handled false and NULL, everything else:
 * malformed input, a scalar document, json-c's extensions (comments,
 * single quotes, NaN, Infinity, raw control bytes), what json-c would write
 * differently (lone surrogate escapes, \u0000 in a key, integers beyond
 * int64), nesting within two levels of max_depth, and out of memory. The
 * caller then parses with json-c, whose answer, and error, stands. */
struct json_object *tr_jparse(const char *p, size_t len, int max_depth, bool *handled);

/* The strings a streamed chat.completion.chunk's first choice carries. */
enum tr_chunk_field {
    TR_CHUNK_REASONING_CONTENT, /* delta.reasoning_content */
    TR_CHUNK_REASONING,         /* delta.reasoning */
    TR_CHUNK_CONTENT,           /* delta.content */
    TR_CHUNK_REFUSAL,           /* delta.refusal */
    TR_CHUNK_FINISH_REASON,     /* finish_reason */
    TR_CHUNK_FIELDS
};

/* The key each field is read from (in delta; finish_reason in the choice). */
extern const char *const tr_chunk_field_key[TR_CHUNK_FIELDS];

/* One element of delta.tool_calls (an object), as stream.c reads it. Each
 * string as tr_json_str gives it: NULL (absent, null, or not a string) or
 * its bytes, unescaped, with the length (a string may hold NUL bytes, as
 * json-c's do). */
struct tr_chunk_tool {
    bool has_index; /* "index" is an integer */
    int64_t index;
    const char *id, *name, *args; /* id, function.name, function.arguments */
    size_t id_len, name_len, args_len;
};

/* Most tool call elements one chunk may carry here (more: json-c's path). */
#define TR_CHUNK_TOOLS_MAX 8

/* A chunk read by tr_jparse_chunk: what the json-c path reads from the
 * parsed chunk, for the chunks that carry nothing else. */
struct tr_chunk {
    /* a choice to handle: choices has one element, an object whose index is
     * 0, null or absent (json-c's path skips other indices) */
    bool choice;
    /* each field as tr_json_str gives it (see tr_chunk_tool) */
    const char *s[TR_CHUNK_FIELDS];
    size_t n[TR_CHUNK_FIELDS];
    /* delta.tool_calls, when an array: its elements */
    size_t ntools;
    struct tr_chunk_tool tool[TR_CHUNK_TOOLS_MAX];
};

/* Read the stream chunk p[0..len) without building json-c objects, when it
 * is an object of the common shape: "choices" absent or an array of at most
 * one object; in it "delta" absent, null or an object whose "tool_calls"
 * is absent, null or an array of at most TR_CHUNK_TOOLS_MAX objects (each
 * "function" absent, null or an object); "usage" absent or null; no
 * "error"; none of the keys read here twice in one object; keys without
 * escapes; integers read here of at most 18 digits; nesting within 32
 * levels and two below max_depth. Every other value is skipped but must be
 * JSON that tr_jparse takes. True with *out filled (strings with escapes
 * are unescaped into store, which is reset first; the pointers live until
 * store changes), or false: the caller parses the chunk with
 * tr_json_parse_tok and reads it as before. */
bool tr_jparse_chunk(const char *p, size_t len, int max_depth, struct buf *store,
                     struct tr_chunk *out);

#endif /* CCP_TRANSLATE_JPARSE_H */
