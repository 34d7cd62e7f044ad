/* Internal interface between translate/request.c (body, parameters, tools,
 * token estimate) and translate/request_msg.c (system and messages). */
#ifndef CCP_TRANSLATE_REQUEST_INT_H
#define CCP_TRANSLATE_REQUEST_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "common/buf.h"
#include "common/err.h"
#include "translate/json_int.h"
#include "translate/translate.h"

/* One translation in progress. */
struct tr_rq_ctx {
    const struct tr_opts *o;
    struct tr_error *err;      /* set by whoever returns CCP_ERR_INVALID */
    struct tr_model_caps caps; /* of the upstream model */
    struct tr_reqinfo *info;   /* being filled (aliases, dropped tools) */
    struct json_tokener *tok;  /* made on first use; tr_rq_build frees it */
    struct buf text;           /* a tool_result's text being rendered; tr_rq_build
                                * makes and frees it */
};

/* Serialization flags for everything translate/ turns into JSON text. */
#define TR_RQ_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Add v under key k of object obj, taking the reference to v in all cases
 * (it is put on failure). v == NULL counts as an allocation failure. k is
 * not copied: it must outlive obj (a string literal). */
CCP_NODISCARD enum ccp_err tr_rq_obj_add(struct json_object *obj, const char *k,
                                         struct json_object *v);
/* Append v to array arr, taking the reference to v in all cases. */
CCP_NODISCARD enum ccp_err tr_rq_arr_add(struct json_object *arr, struct json_object *v);
/* A new JSON string holding the contents of b ("" when b is empty). */
struct json_object *tr_rq_string_from_buf(const struct buf *b);
/* Borrowed string value of obj[k] when it is a string, else NULL. */
const char *tr_rq_get_string(struct json_object *obj, const char *k);

/* Append the system prompt (string or text blocks) as one leading system
 * message to msgs; nothing when it is absent or empty. `sys` may be NULL. */
CCP_NODISCARD enum ccp_err tr_rq_system(struct tr_rq_ctx *c, struct json_object *sys,
                                        struct json_object *msgs);
/* Translate the Anthropic `messages` array into OpenAI messages appended to
 * msgs. */
CCP_NODISCARD enum ccp_err tr_rq_messages(struct tr_rq_ctx *c, struct json_object *in,
                                          struct json_object *msgs);

/* Check a parsed request body against the count and size limits of c->o
 * (translate/limits.c). CCP_OK, or CCP_ERR_INVALID with c->err naming the
 * limit and the value found. */
CCP_NODISCARD enum ccp_err tr_rq_check_limits(struct tr_rq_ctx *c, struct json_object *root);
/* The whole translation of an Anthropic body as a json-c tree in *out (one
 * reference), info filled; when input is not NULL, the parsed client body
 * too (one reference). Shared by tr_request, tr_count_tokens_estimate and
 * tr_count_tokens (count.c). *info is cleared first (aliases[] past
 * naliases are left as they were); *out and *input are written only on
 * success. */
CCP_NODISCARD enum ccp_err tr_rq_build(struct tr_rq_ctx *c, const char *body, size_t len,
                                       struct json_object **out, struct json_object **input,
                                       struct tr_reqinfo *info);
/* Fill *c->err for CCP_ERR_TOO_LARGE and CCP_ERR_NOMEM, which tr_rq_build
 * does not describe itself; other codes are left alone. */
void tr_rq_error_for(struct tr_rq_ctx *c, enum ccp_err rc);

#endif /* CCP_TRANSLATE_REQUEST_INT_H */
