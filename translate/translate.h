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

/* Tri-state of a model rule field: not set by this rule (the next matching
 * rule decides), or set to no / yes. */
enum tr_tri { TR_UNSET = 0, TR_NO, TR_YES };

/* Which field carries the output cap upstream. */
enum tr_maxfield { TR_MAXF_UNSET = 0, TR_MAXF_MAX_TOKENS, TR_MAXF_MAX_COMPLETION_TOKENS };

/* One model capability rule (model_rules.c). `pattern` is a case-insensitive
 * glob where '*' matches any run of characters; a pattern without '/' is
 * matched against the model name after its last '/' (so "gpt-5*" matches
 * "openai/gpt-5-mini"), a pattern with '/' against the whole name. Every
 * field left unset falls through to the next matching rule: overrides in
 * tr_opts first, then the built-in table, whose last rule "*" sets all. */
struct tr_model_rule {
    const char *pattern;
    enum tr_maxfield max_field; /* max_tokens or max_completion_tokens */
    unsigned long max_output;   /* clamp the client's max_tokens to this; 0 = unset */
    enum tr_tri sampling;       /* temperature and top_p forwarded */
    enum tr_tri effort;         /* reasoning_effort accepted */
    enum tr_tri vision;         /* image parts accepted */
    enum tr_tri replay;         /* history thinking replayed as reasoning_content */
};

/* The capabilities of one model: every rule field resolved. max_output 0
 * means no clamp. */
struct tr_model_caps {
    enum tr_maxfield max_field;
    unsigned long max_output;
    bool sampling, effort, vision, replay;
};

/* What the translation needs from the configuration (and, for session_id,
 * from the request being translated). Zero-initialised fields give the
 * documented defaults. */
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
    /* model rules searched before the built-ins (see tr_model_rules_parse) */
    const struct tr_model_rule *rules;
    size_t nrules;
    /* the X-Claude-Code-Session-Id header value of this request, or NULL */
    const char *session_id;
    bool no_user;             /* do not send `user` */
    bool no_prompt_cache_key; /* do not send `prompt_cache_key` */
};

/* An error for the client. `type` is an Anthropic error type
 * ("invalid_request_error", "authentication_error", "permission_error",
 * "not_found_error", "request_too_large", "rate_limit_error", "api_error",
 * "overloaded_error"), a static string. */
struct tr_error {
    enum ccp_err code;
    int status;           /* HTTP status to send the client */
    const char *type;     /* static string */
    char message[512];    /* NUL-terminated, for the client */
    char retry_after[32]; /* retry-after value to pass through, or "" */
};

/* Upstream function names are at most this long (OpenAI's limit). */
#define TR_TOOL_NAME_MAX 64
/* Client tool names up to this many bytes can be mapped back. */
#define TR_CLIENT_TOOL_NAME_MAX 256
/* At most this many shortened tool names are remembered per request. */
#define TR_MAX_TOOL_ALIASES 32

/* A client tool name longer than TR_TOOL_NAME_MAX and the name sent upstream. */
struct tr_tool_alias {
    char upstream[TR_TOOL_NAME_MAX + 1];
    char client[TR_CLIENT_TOOL_NAME_MAX];
};

/* What the request translation learned that the response side needs. */
struct tr_reqinfo {
    bool stream;              /* the client asked for an SSE stream */
    char client_model[160];   /* model named by the client, echoed in responses */
    char upstream_model[160]; /* model sent upstream */
    /* server tools (web_search_*, ...) dropped from `tools`: their count and
     * the type of the first, for a warning header */
    unsigned server_tools_dropped;
    char server_tool[64];
    /* long tool names shortened in the request, mapped back in responses */
    struct tr_tool_alias aliases[TR_MAX_TOOL_ALIASES];
    size_t naliases;
};

/* ---- request (request.c) ------------------------------------------------ */

/* The upstream model for a client model name: names containing "opus" or
 * "sonnet" map to o->big_model, "haiku" to o->small_model (case-insensitive),
 * anything else passes through. Returns `model` or one of the opts strings. */
const char *tr_map_model(const struct tr_opts *o, const char *model);

/* Translate an Anthropic /v1/messages body into an OpenAI /chat/completions
 * body appended to `out`. Fills *info (of aliases[], the first naliases
 * entries; the rest are left as they were). Unknown fields and block types never
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

/* ---- count_tokens (count.c; method and expected error in docs/tokens.md) -- */

struct tr_bpe;         /* translate/bpe.h */
struct tr_bpe_scratch; /* translate/bpe.h */

/* The tiktoken encoding OpenAI uses for an upstream model (case-insensitive,
 * after any "provider/" prefix): "cl100k_base" for gpt-4 (not gpt-4o, gpt-4.1,
 * gpt-4.5) and gpt-3.5*; "o200k_base" for everything else (gpt-4o*,
 * gpt-4.1*, gpt-5*, o1*, o3*, o4* and unknown names). A static string. */
const char *tr_encoding_for_model(const char *model);

/* Count the input tokens of an Anthropic count_tokens body as the upstream
 * would bill its translation (the same translation as tr_request): OpenAI's
 * per-message and per-name overheads, tool calls, tool definitions, images
 * by the tile or patch formula from their header, documents. enc[] holds the
 * encoders indexed by enum tr_bpe_encoding (bpe.h); the one for
 * tr_encoding_for_model(upstream model) is used, or the other when that one
 * is NULL. s is a scratch of the calling thread, or NULL (made inside).
 * *tokens is written only on success. CCP_ERR_INVALID / TOO_LARGE / NOMEM
 * as tr_request, with *err set; CCP_ERR_INTERNAL when both encoders are
 * NULL. */
CCP_NODISCARD enum ccp_err tr_count_tokens(const struct tr_opts *o,
                                           const struct tr_bpe *const enc[2],
                                           struct tr_bpe_scratch *s, const char *body, size_t len,
                                           unsigned long *tokens, struct tr_error *err);

/* Strings shorter than this are counted directly, without the cache. */
#define TR_COUNT_CACHE_MIN 256

/* Optional hooks of tr_count_tokens_ex, provided by the caller (translate/
 * does no I/O itself): an encoding override and a per-string count cache.
 * Every text string of the counted request (a message's text, a text part,
 * a tool call's arguments, a tool result, a tool's definition line) of at
 * least cache_min bytes is first looked up with get(); on a miss it is
 * tokenized and its count handed to put(). Counts depend only on the
 * encoding and the bytes, so the total is the same with or without a cache. */
struct tr_count_hooks {
    int encoding;     /* -1: by model (tr_encoding_for_model); else an enum tr_bpe_encoding */
    size_t cache_min; /* 0: TR_COUNT_CACHE_MIN */
    /* true and *count set when s[0..n) is cached for `encoding` ("o200k_base"...) */
    bool (*get)(void *ctx, const char *encoding, const char *s, size_t n, size_t *count);
    /* the count just computed for s[0..n); may be NULL */
    void (*put)(void *ctx, const char *encoding, const char *s, size_t n, size_t count);
    void *ctx;
};

/* tr_count_tokens with hooks (NULL: none). When the encoding override names
 * a table that is not loaded, the other one is used, as for the model's. */
CCP_NODISCARD enum ccp_err
tr_count_tokens_ex(const struct tr_opts *o, const struct tr_bpe *const enc[2],
                   struct tr_bpe_scratch *s, const struct tr_count_hooks *hooks, const char *body,
                   size_t len, unsigned long *tokens, struct tr_error *err);

/* Width and height of an image from the first bytes of its base64 data
 * (b64[0..len), no data: prefix): PNG, JPEG, GIF and WebP headers; only the
 * bytes needed are decoded. false for anything else (truncated, garbage,
 * other formats, zero sizes), leaving *w and *h alone. Can't fail otherwise. */
bool tr_image_size_b64(const char *b64, size_t len, unsigned long *w, unsigned long *h);

/* Input tokens OpenAI bills for a w x h image sent to model with detail
 * "auto"/"high" (low == false) or "low": the 512-px tile formula (base +
 * per-tile tokens of the model family) or, for the 32-px patch models
 * (gpt-4.1-mini/nano, gpt-5-mini/nano, o4-mini), patches times the model's
 * multiplier. Can't fail. */
unsigned long tr_image_tokens(const char *model, unsigned long w, unsigned long h, bool low);

/* ---- model rules and tool names (model_rules.c) ------------------------ */

/* Resolve the capabilities of `model` from o->rules then the built-ins. */
void tr_model_caps(const struct tr_opts *o, const char *model, struct tr_model_caps *caps);

/* Parse the MODEL_RULES text: rules separated by ';', each
 * `pattern:key=value,key=value`. Keys: max_field=max_tokens|
 * max_completion_tokens, max_output=<n> (0 = no clamp), and sampling,
 * effort, vision, replay = yes|no. Whitespace around tokens is ignored;
 * empty rules are skipped. Patterns are copied into `strings` (capacity
 * `cap` bytes) and rules[] (capacity `nmax`) point into it. On success
 * *n is the number of rules. On a syntax error returns CCP_ERR_INVALID and
 * writes a message (naming the rule) to msg[msgcap]. */
CCP_NODISCARD enum ccp_err tr_model_rules_parse(const char *text, struct tr_model_rule *rules,
                                                size_t nmax, size_t *n, char *strings, size_t cap,
                                                char *msg, size_t msgcap);

/* The upstream name for a client tool name: itself when it is at most
 * TR_TOOL_NAME_MAX bytes, else its first 55 bytes, '_' and 8 hex digits of
 * a 32-bit FNV-1a hash of the whole name (64 bytes). dst has room for
 * TR_TOOL_NAME_MAX + 1 bytes. Returns dst. */
const char *tr_tool_name_upstream(const char *name, char *dst);

/* The client name for an upstream tool name (name, nlen): the alias's
 * client name when info has one, else NULL. */
const char *tr_tool_name_client(const struct tr_reqinfo *info, const char *name, size_t nlen);

/* ---- non-streaming response (response.c) -------------------------------- */

/* Translate an OpenAI chat.completion JSON body into an Anthropic Message
 * appended to `out`, with id `msg_id` and model info->client_model. An
 * upstream body that is not a completion gives CCP_ERR_UPSTREAM_PROTO with
 * *err set to a 502 api_error. */
CCP_NODISCARD enum ccp_err tr_response(const struct tr_opts *o, const struct tr_reqinfo *info,
                                       const char *msg_id, const char *body, size_t len,
                                       struct buf *out, struct tr_error *err);

/* Token counts of an upstream answer, as logs and prices use them. */
struct tr_usage {
    bool present;             /* the answer had a usage object */
    unsigned long prompt;     /* usage.prompt_tokens (the cached ones included) */
    unsigned long completion; /* usage.completion_tokens */
    unsigned long cached;     /* prompt_tokens_details.cached_tokens, or DeepSeek's
                                 prompt_cache_hit_tokens; never above prompt */
};

/* tr_response, and the answer's usage in *usage (zeroed first; not present
 * when the answer had none), read from the same parse. */
CCP_NODISCARD enum ccp_err tr_response_usage(const struct tr_opts *o, const struct tr_reqinfo *info,
                                             const char *msg_id, const char *body, size_t len,
                                             struct buf *out, struct tr_error *err,
                                             struct tr_usage *usage);

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
/* Of the input tokens, how many the upstream served from its prompt cache
 * (usage.prompt_tokens_details.cached_tokens), as seen so far. */
unsigned long tr_stream_cached_tokens(const struct tr_stream *st);
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
