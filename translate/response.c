/* translate/response.c: a non-streaming OpenAI chat.completion turned into an
 * Anthropic Message (thinking, text and tool_use blocks, stop_reason, usage). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/str.h"
#include "translate/errmap_int.h"
#include "translate/json_int.h"
#include "translate/translate.h"

#include "common/banned.h"

/* Attach val (not NULL) to obj under key; on failure val is put. */
static bool add(struct json_object *obj, const char *key, struct json_object *val)
{
    /* keys are literals: not copied */
    if (val == NULL ||
        json_object_object_add_ex(obj, key, val, JSON_C_OBJECT_KEY_IS_CONSTANT) != 0) {
        json_object_put(val);
        return false;
    }
    return true;
}

static bool push(struct json_object *arr, struct json_object *val)
{
    if (val == NULL || json_object_array_add(arr, val) != 0) {
        json_object_put(val);
        return false;
    }
    return true;
}

/* json_object_new_string_len, or NULL. */
static struct json_object *jstr(const char *s, size_t n)
{
    return n > INT32_MAX ? NULL : json_object_new_string_len(s, (int)n);
}

/* A block {"type":type, key:text, [extra_key:""]}. */
static struct json_object *text_block(const char *type, const char *key, const char *s, size_t n,
                                      const char *extra_key)
{
    struct json_object *b = json_object_new_object();

    if (b == NULL) {
        return NULL;
    }
    if (!add(b, "type", json_object_new_string(type)) || !add(b, key, jstr(s, n)) ||
        (extra_key != NULL && !add(b, extra_key, json_object_new_string("")))) {
        json_object_put(b);
        return NULL;
    }
    return b;
}

/* Tool arguments as an object: {} when empty or not JSON. Arguments that
 * are a JSON string holding an object (double-encoded) are decoded once. */
static struct json_object *tool_input(const char *args, size_t n, struct json_tokener **tok,
                                      int depth)
{
    struct json_object *in = NULL;

    if (args != NULL && n > 0) {
        in = tr_json_parse_tok(tok, args, n, depth);
    }
    if (in != NULL && json_object_is_type(in, json_type_string)) {
        struct json_object *inner = tr_json_parse_tok(
            tok, json_object_get_string(in), (size_t)json_object_get_string_len(in), depth);
        json_object_put(in);
        in = inner;
    }
    if (in != NULL && !json_object_is_type(in, json_type_object)) {
        json_object_put(in);
        in = NULL;
    }
    return in != NULL ? in : json_object_new_object();
}

/* A tool_use block; a shortened tool name is mapped back to the client's
 * name through info's aliases. */
static struct json_object *tool_block(const struct tr_reqinfo *info, struct json_object *fn,
                                      const char *id, size_t idlen, const char *msg_id, size_t nth,
                                      struct json_tokener **tok, int depth)
{
    struct json_object *b = json_object_new_object();
    const char *name, *args;
    size_t namelen, alen;
    char gen[200];

    if (b == NULL) {
        return NULL;
    }
    name = tr_json_str(fn, "name", &namelen);
    if (name != NULL && tr_tool_name_client(info, name, namelen) != NULL) {
        name = tr_tool_name_client(info, name, namelen);
        namelen = strlen(name);
    }
    args = tr_json_str(fn, "arguments", &alen);
    if (id == NULL || idlen == 0) { /* a deterministic id, unique per message */
        int k = snprintf(gen, sizeof(gen), "toolu_%s_%zu", msg_id, nth);
        id = gen;
        idlen = k > 0 && (size_t)k < sizeof(gen) ? (size_t)k : 0;
    }
    if (!add(b, "type", json_object_new_string("tool_use")) || !add(b, "id", jstr(id, idlen)) ||
        !add(b, "name", jstr(name != NULL ? name : "", namelen)) ||
        !add(b, "input", tool_input(args, alen, tok, depth))) {
        json_object_put(b);
        return NULL;
    }
    return b;
}

/* Fill content from the choice's message; *tools tells whether any
 * tool_use block was added. false on allocation failure. */
static bool build_content(const struct tr_reqinfo *info, struct json_object *content,
                          struct json_object *msg, const char *msg_id, struct json_tokener **tok,
                          int depth, bool *tools)
{
    struct json_object *calls = NULL, *fc;
    const char *s, *text;
    size_t n, tlen, i, ncalls = 0, nth = 0;

    *tools = false;
    s = tr_json_str(msg, "reasoning_content", &n);
    if (s == NULL || n == 0) {
        s = tr_json_str(msg, "reasoning", &n);
    }
    if (s != NULL && n > 0 &&
        !push(content, text_block("thinking", "thinking", s, n, "signature"))) {
        return false;
    }
    if (msg != NULL && json_object_object_get_ex(msg, "tool_calls", &calls) &&
        json_object_is_type(calls, json_type_array)) {
        ncalls = json_object_array_length(calls);
    }
    text = tr_json_str(msg, "content", &tlen);
    if (text == NULL || tlen == 0) {
        text = tr_json_str(msg, "refusal", &tlen);
    }
    fc = NULL;
    if (msg != NULL && json_object_object_get_ex(msg, "function_call", &fc) &&
        !json_object_is_type(fc, json_type_object)) {
        fc = NULL;
    }
    if ((tlen > 0 || (ncalls == 0 && fc == NULL)) &&
        !push(content, text_block("text", "text", text != NULL ? text : "", tlen, NULL))) {
        return false;
    }
    for (i = 0; i < ncalls; i++) {
        struct json_object *tc = json_object_array_get_idx(calls, i), *fn = NULL;
        const char *id;
        size_t idlen;
        if (!json_object_is_type(tc, json_type_object)) {
            continue;
        }
        json_object_object_get_ex(tc, "function", &fn);
        id = tr_json_str(tc, "id", &idlen);
        if (!push(content, tool_block(info, fn, id, idlen, msg_id, nth++, tok, depth))) {
            return false;
        }
        *tools = true;
    }
    if (fc != NULL) { /* the legacy single function_call */
        if (!push(content, tool_block(info, fc, NULL, 0, msg_id, nth, tok, depth))) {
            return false;
        }
        *tools = true;
    }
    return true;
}

static const char *stop_reason(const char *finish, bool tools)
{
    if (finish != NULL && strcmp(finish, "length") == 0) {
        return "max_tokens";
    }
    if (finish != NULL && strcmp(finish, "content_filter") == 0) {
        return "refusal";
    }
    if (tools || (finish != NULL &&
                  (strcmp(finish, "tool_calls") == 0 || strcmp(finish, "function_call") == 0))) {
        return "tool_use";
    }
    return "end_turn";
}

static void read_usage(struct json_object *u, struct tr_usage *t)
{
    struct json_object *d = NULL;

    memset(t, 0, sizeof(*t));
    t->present = json_object_is_type(u, json_type_object);
    t->prompt = tr_json_ulong(u, "prompt_tokens");
    t->completion = tr_json_ulong(u, "completion_tokens");
    if (u != NULL && json_object_object_get_ex(u, "prompt_tokens_details", &d)) {
        t->cached = tr_json_ulong(d, "cached_tokens");
    }
    if (t->cached == 0) {
        t->cached = tr_json_ulong(u, "prompt_cache_hit_tokens"); /* DeepSeek */
    }
    if (t->cached > t->prompt) {
        t->cached = t->prompt;
    }
}

static struct json_object *build_usage(const struct tr_usage *t)
{
    struct json_object *o = json_object_new_object();

    if (o == NULL) {
        return NULL;
    }
    if (!add(o, "input_tokens", json_object_new_int64((int64_t)(t->prompt - t->cached))) ||
        !add(o, "cache_creation_input_tokens", json_object_new_int64(0)) ||
        !add(o, "cache_read_input_tokens", json_object_new_int64((int64_t)t->cached)) ||
        !add(o, "output_tokens", json_object_new_int64((int64_t)t->completion))) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* The first choice, or NULL if root is not a completion. */
static struct json_object *first_choice(struct json_object *root)
{
    struct json_object *choices, *ch;

    if (!json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "choices", &choices) ||
        !json_object_is_type(choices, json_type_array) || json_object_array_length(choices) == 0) {
        return NULL;
    }
    ch = json_object_array_get_idx(choices, 0);
    return json_object_is_type(ch, json_type_object) ? ch : NULL;
}

/* Room reserved in the output beyond the upstream body's length. */
#define OUT_SLACK 512

enum ccp_err tr_response(const struct tr_opts *o, const struct tr_reqinfo *info, const char *msg_id,
                         const char *body, size_t len, struct buf *out, struct tr_error *err)
{
    struct tr_usage usage;

    return tr_response_usage(o, info, msg_id, body, len, out, err, &usage);
}

enum ccp_err tr_response_usage(const struct tr_opts *o, const struct tr_reqinfo *info,
                               const char *msg_id, const char *body, size_t len, struct buf *out,
                               struct tr_error *err, struct tr_usage *usage)
{
    struct json_object *root = NULL, *msg = NULL, *res = NULL, *content, *ch, *u = NULL;
    struct json_tokener *tok = NULL;
    const char *finish, *model = info->client_model;
    size_t n;
    bool tools = false;
    int depth = tr_json_depth(o->max_json_depth);
    enum ccp_err rc = CCP_OK;
    const char *s;

    /* one tokener for the body and every tool call's arguments, made if
     * one of them needs json-c */
    memset(usage, 0, sizeof(*usage));
    root = tr_json_parse_tok(&tok, body, len, depth);
    if (root != NULL && tr_is_error_doc(root)) {
        tr_error_from_upstream_obj(err, root);
        rc = err->code;
        goto out;
    }
    ch = root != NULL ? first_choice(root) : NULL;
    if (ch == NULL) {
        rc = CCP_ERR_UPSTREAM_PROTO;
        tr_error_set(err, rc, "upstream sent a response that is not a chat completion");
        goto out;
    }
    json_object_object_get_ex(ch, "message", &msg);
    if (msg != NULL && !json_object_is_type(msg, json_type_object)) {
        msg = NULL;
    }
    finish = tr_json_str(ch, "finish_reason", &n);
    json_object_object_get_ex(root, "usage", &u);
    read_usage(u, usage);
    if (model[0] == '\0') {
        s = tr_json_str(root, "model", &n);
        model = s != NULL ? s : "";
    }
    res = json_object_new_object();
    content = json_object_new_array();
    if (res == NULL || content == NULL) {
        json_object_put(content);
        goto nomem;
    }
    if (!add(res, "id", json_object_new_string(msg_id)) ||
        !add(res, "type", json_object_new_string("message")) ||
        !add(res, "role", json_object_new_string("assistant")) ||
        !add(res, "model", json_object_new_string(model)) || !add(res, "content", content) ||
        !build_content(info, content, msg, msg_id, &tok, depth, &tools) ||
        !add(res, "stop_reason", json_object_new_string(stop_reason(finish, tools))) ||
        json_object_object_add_ex(res, "stop_sequence", NULL, JSON_C_OBJECT_KEY_IS_CONSTANT) != 0 ||
        !add(res, "usage", build_usage(usage))) {
        goto nomem;
    }
    buf_presize(out, len + OUT_SLACK); /* the answer is about as long as the upstream's */
    rc = tr_json_append(res, out);
    if (rc == CCP_ERR_TOO_LARGE) {
        tr_error_set(err, rc, "the translated response is too large");
    } else if (rc != CCP_OK) {
        goto nomem;
    }
    goto out;
nomem:
    rc = CCP_ERR_NOMEM;
    tr_error_set(err, rc, "out of memory translating the response");
out:
    json_object_put(res);
    json_object_put(root);
    if (tok != NULL) {
        json_tokener_free(tok);
    }
    return rc;
}
