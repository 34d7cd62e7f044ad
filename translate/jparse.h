/* A fast path for json-c's tokener (jparse.c), internal to translate/. */
#ifndef CCP_TRANSLATE_JPARSE_H
#define CCP_TRANSLATE_JPARSE_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

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

#endif /* CCP_TRANSLATE_JPARSE_H */
