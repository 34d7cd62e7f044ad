/* translate/: pure translation between the Anthropic Messages API and OpenAI
 * Chat Completions. No I/O, clock, environment, randomness or logging here:
 * everything the code needs comes in struct tr_opts, errors go out in
 * struct tr_error. `make check-purity` enforces this. */
#ifndef CCP_TRANSLATE_TRANSLATE_H
#define CCP_TRANSLATE_TRANSLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/err.h"

/* What the translation needs from the configuration. */
struct tr_opts {
    const char *big_model;   /* target for claude-*opus* / *sonnet* */
    const char *small_model; /* target for claude-*haiku* */
    int max_json_depth;      /* json-c tokener depth for client and upstream JSON (> 0) */
    size_t max_out;          /* cap on one translated body or one batch of events */
    /* Limits on client requests (0: no limit); exceeding one is a 400
     * invalid_request_error naming the limit. */
    size_t max_messages;       /* entries of `messages` */
    size_t max_content_blocks; /* content blocks over system and all messages */
    size_t max_string_bytes;   /* bytes of any one JSON string (key or value) */
    size_t max_sse_line;       /* longest upstream SSE line (0: max_out) */
};

/* An error for the client. `type` is an Anthropic error type
 * ("invalid_request_error", "authentication_error", "permission_error",
 * "not_found_error", "request_too_large", "rate_limit_error", "api_error",
 * "overloaded_error"), a static string. */
struct tr_error {
    enum ccp_err code;
    int status;             /* HTTP status to send the client */
    const char *type;       /* static string */
    char message[512];      /* NUL-terminated, for the client */
    char retry_after[32];   /* retry-after value to pass through, or "" */
};

/* What the request translation learned that the response side needs. */
struct tr_reqinfo {
    bool stream;                /* the client asked for an SSE stream */
    char client_model[160];     /* model named by the client, echoed in responses */
    char upstream_model[160];   /* model sent upstream */
};

/* ---- request (request.c) ------------------------------------------------ */

/* The upstream model for a client model name: names containing "opus" or
 * "sonnet" map to o->big_model, "haiku" to o->small_model (case-insensitive),
 * anything else passes through. Returns `model` or one of the opts strings. */
const char *tr_map_model(const struct tr_opts *o, const char *model);

/* Translate an Anthropic /v1/messages body into an OpenAI /chat/completions
 * body appended to `out`. Fills *info. Unknown fields and block types never
 * fail. On failure returns CCP_ERR_INVALID / CCP_ERR_TOO_LARGE / CCP_ERR_NOMEM,
 * fills *err (status 400/413/503) and leaves `out` as it was. */
CCP_NODISCARD enum ccp_err tr_request(const struct tr_opts *o, const char *body, size_t len,
                                      struct buf *out, struct tr_reqinfo *info,
                                      struct tr_error *err);

/* Estimate the input tokens of an Anthropic count_tokens body (same shape as
 * /v1/messages without max_tokens). Stored in *tokens on success. */
CCP_NODISCARD enum ccp_err tr_count_tokens_estimate(const struct tr_opts *o, const char *body,
                                                    size_t len, unsigned long *tokens,
                                                    struct tr_error *err);

/* ---- non-streaming response (response.c) -------------------------------- */

/* Translate an OpenAI chat.completion JSON body into an Anthropic Message
 * appended to `out`, with id `msg_id` and model info->client_model. An
 * upstream body that is not a completion gives CCP_ERR_UPSTREAM_PROTO with
 * *err set to a 502 api_error. */
CCP_NODISCARD enum ccp_err tr_response(const struct tr_opts *o, const struct tr_reqinfo *info,
                                       const char *msg_id, const char *body, size_t len,
                                       struct buf *out, struct tr_error *err);

/* ---- streaming response (stream.c) -------------------------------------- */

struct tr_stream;

/* A state machine turning OpenAI SSE bytes into Anthropic SSE events (each
 * with an `event:` line). NULL on allocation failure. `msg_id` is copied. */
struct tr_stream *tr_stream_new(const struct tr_opts *o, const struct tr_reqinfo *info,
                                const char *msg_id);
/* Feed any chunk of upstream bytes; complete events are appended to `out`.
 * The output does not depend on how the input is split. After an error the
 * stream has appended a terminal `event: error` (if it had started) and
 * further feeds do nothing. */
CCP_NODISCARD enum ccp_err tr_stream_feed(struct tr_stream *st, const char *p, size_t n,
                                          struct buf *out, struct tr_error *err);
/* The upstream ended. Closes open blocks and appends message_delta and
 * message_stop; if the upstream ended before its finish (no finish_reason and
 * no [DONE]), appends `event: error` instead and returns CCP_ERR_UPSTREAM. */
CCP_NODISCARD enum ccp_err tr_stream_finish(struct tr_stream *st, struct buf *out,
                                            struct tr_error *err);
/* Append a terminal `event: error` for `err` (used by the worker when the
 * transfer fails mid-stream). If message_start was not yet sent it is sent
 * first, so the client always sees a well-formed stream. */
CCP_NODISCARD enum ccp_err tr_stream_fail(struct tr_stream *st, const struct tr_error *err,
                                          struct buf *out);
/* Output tokens and input tokens seen so far (for logs and metrics). */
void tr_stream_usage(const struct tr_stream *st, unsigned long *in, unsigned long *out);
void tr_stream_free(struct tr_stream *st);

/* ---- errors (errmap.c) -------------------------------------------------- */

/* Set *err from a code with a printf message; status and type come from the
 * errmap table (CCP_ERR_INVALID → 400 invalid_request_error, TOO_LARGE → 413
 * request_too_large, NOMEM → 503 overloaded_error, UPSTREAM → 502 api_error,
 * TIMEOUT → 504 api_error, ...). */
void tr_error_set(struct tr_error *err, enum ccp_err code, const char *fmt, ...) CCP_PRINTF(3, 4);

/* Map an upstream HTTP error (status, body, retry-after header or NULL) to
 * the Anthropic status, type and message the client gets. */
void tr_error_from_upstream(struct tr_error *err, int http_status, const char *body, size_t len,
                            const char *retry_after);

/* Append {"type":"error","error":{"type":...,"message":...}} to out. */
CCP_NODISCARD enum ccp_err tr_error_json(const struct tr_error *err, struct buf *out);
/* Append "event: error\ndata: {...}\n\n" to out. */
CCP_NODISCARD enum ccp_err tr_error_sse(const struct tr_error *err, struct buf *out);

#endif /* CCP_TRANSLATE_TRANSLATE_H */
