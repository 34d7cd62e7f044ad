/* Internal interface between translate/request.c (body, parameters, tools,
 * token estimate) and translate/request_msg.c (system and messages). */
#ifndef CCP_TRANSLATE_REQUEST_INT_H
#define CCP_TRANSLATE_REQUEST_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "common/buf.h"
#include "common/err.h"
#include "translate/translate.h"

/* One translation in progress. */
struct tr_rq_ctx {
    const struct tr_opts *o;
    struct tr_error *err; /* set by whoever returns CCP_ERR_INVALID */
};

/* Serialization flags for everything translate/ turns into JSON text. */
#define TR_RQ_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Add v under key k of object obj, taking the reference to v in all cases
 * (it is put on failure). v == NULL counts as an allocation failure. */
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

/* Append o serialized exactly as json_object_to_json_string_ext(o,
 * TR_RQ_JSON_FLAGS) would (jsonw.c). On failure out is as it was. */
CCP_NODISCARD enum ccp_err tr_json_append(struct json_object *o, struct buf *out);

#endif /* CCP_TRANSLATE_REQUEST_INT_H */
