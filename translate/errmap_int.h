/* translate/errmap_int.h: error helpers shared by response.c and stream.c
 * (not part of the public translate API). */
#ifndef CCP_TRANSLATE_ERRMAP_INT_H
#define CCP_TRANSLATE_ERRMAP_INT_H

#include <stddef.h>

#include <json-c/json.h>

#include "translate/translate.h"

/* Set *err from an upstream error document that arrived without a useful
 * HTTP status (a 200 body or a `data:` line holding {"error":...}). The
 * status is taken from error.code when it is an HTTP status, else guessed
 * from error.type / error.code names ("rate_limit_exceeded" → 429, ...),
 * else the error is a 502 api_error. Can't fail. */
void tr_error_from_upstream_obj(struct tr_error *err, struct json_object *root);

/* True if `root` is an upstream error document: an object with an "error"
 * member that is an object or a string, or an array whose first element is
 * such an object (Gemini's OpenAI endpoint). */
bool tr_is_error_doc(struct json_object *root);

/* Parse len bytes of JSON with a tokener of the given depth (<= 0 means
 * 64). Returns a new reference, or NULL if the text is not one complete
 * JSON value (trailing whitespace allowed) or on allocation failure. */
struct json_object *tr_json_parse(const char *p, size_t len, int depth);
/* tr_json_parse with the caller's tokener *tok (reset first, left for
 * reuse; the caller frees it): one tokener for many texts instead of one
 * allocated per text. Plain JSON objects and arrays take the fast path
 * (jparse.h), which needs none: *tok is made, with this depth, only when
 * it is NULL and a text needs json-c. */
struct json_object *tr_json_parse_tok(struct json_tokener **tok, const char *p, size_t len,
                                      int depth);

#endif /* CCP_TRANSLATE_ERRMAP_INT_H */
