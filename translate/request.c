/* translate/request.c: an Anthropic /v1/messages body becomes an OpenAI
 * /chat/completions body (model, parameters, tools); model mapping; the
 * count_tokens estimate. Messages are in request_msg.c. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "common/buf.h"
#include "common/str.h"
#include "translate/request_int.h"
#include "translate/translate.h"

#include "common/banned.h"

/* Tokener depth used if the configuration gives none (it never should). */
#define DEFAULT_JSON_DEPTH 64

/* OpenAI rejects a `user` longer than this; longer ids are not forwarded. */
#define MAX_USER_LEN 64

const char *tr_map_model(const struct tr_opts *o, const char *model)
{
    struct str m = str_from_cstr(model);

    if ((str_contains_nocase(m, "opus") || str_contains_nocase(m, "sonnet")) &&
        o->big_model != NULL && o->big_model[0] != '\0') {
        return o->big_model;
    }
    if (str_contains_nocase(m, "haiku") && o->small_model != NULL && o->small_model[0] != '\0') {
        return o->small_model;
    }
    return model;
}

/* Reasoning models (gpt-5*, o1*, o3*, o4*, case-insensitive, after any
 * "provider/" prefix) take max_completion_tokens and no temperature/top_p. */
static bool is_reasoning_model(const char *model)
{
    static const char *const prefixes[] = {"gpt-5", "o1", "o3", "o4"};
    const char *slash = strrchr(model, '/');
    const char *m = slash != NULL ? slash + 1 : model;
    size_t i;

    for (i = 0; i < CCP_ARRAY_LEN(prefixes); i++) {
        if (strncasecmp(m, prefixes[i], strlen(prefixes[i])) == 0) {
            return true;
        }
    }
    return false;
}

/* Parse body into *out (one reference). Not JSON, trailing data, too deep,
 * invalid UTF-8 or not an object: CCP_ERR_INVALID with *err set. */
static enum ccp_err parse_body(struct tr_rq_ctx *c, const char *body, size_t len,
                               struct json_object **out)
{
    int depth = c->o->max_json_depth > 0 ? c->o->max_json_depth : DEFAULT_JSON_DEPTH;
    struct json_tokener *tok = NULL;
    struct json_object *obj = NULL;
    enum json_tokener_error jerr;
    size_t end;
    enum ccp_err rc = CCP_ERR_INVALID;

    if (len > (size_t)INT_MAX - 1) {
        rc = CCP_ERR_TOO_LARGE; /* *err is set by error_for() */
        goto out;
    }
    tok = json_tokener_new_ex(depth);
    if (tok == NULL) {
        rc = CCP_ERR_NOMEM;
        goto out;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, body != NULL ? body : "", (int)len);
    jerr = json_tokener_get_error(tok);
    if (obj == NULL && jerr == json_tokener_continue) {
        /* the input is complete: a NUL ends a pending top-level number */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
    }
    if (obj == NULL) {
        tr_error_set(c->err, rc, "request body is not valid JSON: %s",
                     jerr == json_tokener_continue ? "unexpected end of data"
                                                   : json_tokener_error_desc(jerr));
        goto out;
    }
    for (end = json_tokener_get_parse_end(tok); end < len; end++) {
        if (strchr(" \t\r\n", body[end]) == NULL || body[end] == '\0') {
            tr_error_set(c->err, rc, "request body is not valid JSON: data after the value");
            goto out;
        }
    }
    if (!json_object_is_type(obj, json_type_object)) {
        tr_error_set(c->err, rc, "request body must be a JSON object");
        goto out;
    }
    *out = obj;
    obj = NULL;
    rc = CCP_OK;
out:
    json_object_put(obj);
    if (tok != NULL) {
        json_tokener_free(tok);
    }
    return rc;
}

static bool is_number(struct json_object *v)
{
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* obj[k] when present and not null, else NULL. */
static struct json_object *field(struct json_object *obj, const char *k)
{
    struct json_object *v = NULL;

    if (!json_object_object_get_ex(obj, k, &v) || json_object_is_type(v, json_type_null)) {
        return NULL;
    }
    return v;
}

static enum ccp_err invalid(struct tr_rq_ctx *c, const char *field_name, const char *what)
{
    tr_error_set(c->err, CCP_ERR_INVALID, "%s: %s", field_name, what);
    return CCP_ERR_INVALID;
}

/* One Anthropic tool as an OpenAI function tool in *out, or *out = NULL when
 * it is dropped: no name, or a server tool (a `type` other than "custom"
 * and no input_schema, e.g. web_search_20250305). Only name, description
 * and parameters are kept (cache_control, defer_loading... are not). */
static enum ccp_err one_tool(struct json_object *t, struct json_object **out)
{
    struct json_object *schema, *fn = NULL, *tool = NULL, *params;
    const char *name, *type, *desc;
    enum ccp_err rc = CCP_OK;

    *out = NULL;
    if (!json_object_is_type(t, json_type_object)) {
        goto out;
    }
    name = tr_rq_get_string(t, "name");
    type = tr_rq_get_string(t, "type");
    schema = field(t, "input_schema");
    if (!json_object_is_type(schema, json_type_object)) {
        schema = NULL;
    }
    if (name == NULL || name[0] == '\0' ||
        (schema == NULL && type != NULL && strcmp(type, "custom") != 0)) {
        goto out;
    }
    rc = CCP_ERR_NOMEM;
    fn = json_object_new_object();
    tool = json_object_new_object();
    if (fn == NULL || tool == NULL) {
        goto out;
    }
    if (schema != NULL) {
        params = json_object_get(schema); /* shared with the input tree */
    } else {
        params = json_tokener_parse("{\"type\":\"object\",\"properties\":{}}");
    }
    rc = tr_rq_obj_add(fn, "name", json_object_new_string(name));
    desc = tr_rq_get_string(t, "description");
    if (rc == CCP_OK && desc != NULL) {
        rc = tr_rq_obj_add(fn, "description", json_object_new_string(desc));
    }
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(fn, "parameters", params);
    } else {
        json_object_put(params);
    }
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(tool, "type", json_object_new_string("function"));
    }
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(tool, "function", fn);
        fn = NULL;
    }
    if (rc == CCP_OK) {
        *out = tool;
        tool = NULL;
    }
out:
    json_object_put(fn);
    json_object_put(tool);
    return rc;
}

/* tool_choice for the tools that remain: auto -> "auto", any -> "required",
 * none -> "none", tool -> {"type":"function","function":{"name":..}};
 * unknown types are left out. disable_parallel_tool_use true ->
 * parallel_tool_calls false. */
static enum ccp_err tool_choice(struct tr_rq_ctx *c, struct json_object *tc,
                                struct json_object *root)
{
    struct json_object *v, *choice = NULL, *fn;
    const char *type, *name;
    enum ccp_err rc = CCP_OK;

    if (!json_object_is_type(tc, json_type_object)) {
        goto out;
    }
    type = tr_rq_get_string(tc, "type");
    if (type == NULL) {
        type = "";
    }
    if (strcmp(type, "auto") == 0) {
        choice = json_object_new_string("auto");
    } else if (strcmp(type, "any") == 0) {
        choice = json_object_new_string("required");
    } else if (strcmp(type, "none") == 0) {
        choice = json_object_new_string("none");
    } else if (strcmp(type, "tool") == 0) {
        name = tr_rq_get_string(tc, "name");
        if (name == NULL) {
            rc = invalid(c, "tool_choice.name", "required when tool_choice.type is \"tool\"");
            goto out;
        }
        choice = json_tokener_parse("{\"type\":\"function\",\"function\":{}}");
        if (choice == NULL || !json_object_object_get_ex(choice, "function", &fn)) {
            rc = CCP_ERR_NOMEM;
            goto out;
        }
        rc = tr_rq_obj_add(fn, "name", json_object_new_string(name));
        if (rc != CCP_OK) {
            goto out;
        }
    }
    if (choice != NULL) {
        rc = tr_rq_obj_add(root, "tool_choice", choice);
        choice = NULL;
    }
    v = field(tc, "disable_parallel_tool_use");
    if (rc == CCP_OK && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v)) {
        rc = tr_rq_obj_add(root, "parallel_tool_calls", json_object_new_boolean(0));
    }
out:
    json_object_put(choice);
    return rc;
}

static enum ccp_err tools(struct tr_rq_ctx *c, struct json_object *in, struct json_object *root)
{
    struct json_object *list = field(in, "tools"), *arr = NULL, *t;
    size_t i;
    enum ccp_err rc = CCP_OK;

    if (list == NULL) {
        goto out;
    }
    if (!json_object_is_type(list, json_type_array)) {
        rc = invalid(c, "tools", "must be an array");
        goto out;
    }
    arr = json_object_new_array();
    if (arr == NULL) {
        rc = CCP_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < json_object_array_length(list) && rc == CCP_OK; i++) {
        rc = one_tool(json_object_array_get_idx(list, i), &t);
        if (rc == CCP_OK && t != NULL) {
            rc = tr_rq_arr_add(arr, t);
        }
    }
    if (rc != CCP_OK || json_object_array_length(arr) == 0) {
        goto out; /* no tools left: no tools, no tool_choice */
    }
    rc = tr_rq_obj_add(root, "tools", arr);
    arr = NULL;
    if (rc == CCP_OK) {
        rc = tool_choice(c, field(in, "tool_choice"), root);
    }
out:
    json_object_put(arr);
    return rc;
}

/* max_tokens, temperature, top_p, stop_sequences, stream, metadata.user_id.
 * top_k and unknown fields are not forwarded. */
static enum ccp_err params(struct tr_rq_ctx *c, struct json_object *in, const char *model,
                           struct json_object *root, bool *stream)
{
    bool reasoning = is_reasoning_model(model);
    struct json_object *v, *so = NULL, *e;
    const char *user;
    size_t i;
    enum ccp_err rc = CCP_OK;

    v = field(in, "max_tokens");
    if (v != NULL) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1) {
            rc = invalid(c, "max_tokens", "must be a positive integer");
            goto out;
        }
        rc = tr_rq_obj_add(root, reasoning ? "max_completion_tokens" : "max_tokens",
                           json_object_get(v));
    }
    v = field(in, "temperature");
    if (rc == CCP_OK && v != NULL && !is_number(v)) {
        rc = invalid(c, "temperature", "must be a number");
    } else if (rc == CCP_OK && v != NULL && !reasoning) {
        rc = tr_rq_obj_add(root, "temperature", json_object_get(v));
    }
    v = field(in, "top_p");
    if (rc == CCP_OK && v != NULL && !is_number(v)) {
        rc = invalid(c, "top_p", "must be a number");
    } else if (rc == CCP_OK && v != NULL && !reasoning) {
        rc = tr_rq_obj_add(root, "top_p", json_object_get(v));
    }
    v = field(in, "stop_sequences");
    if (rc == CCP_OK && v != NULL) {
        if (!json_object_is_type(v, json_type_array)) {
            rc = invalid(c, "stop_sequences", "must be an array of strings");
            goto out;
        }
        for (i = 0; i < json_object_array_length(v); i++) {
            e = json_object_array_get_idx(v, i);
            if (!json_object_is_type(e, json_type_string)) {
                rc = invalid(c, "stop_sequences", "must be an array of strings");
                goto out;
            }
        }
        if (json_object_array_length(v) > 0) {
            rc = tr_rq_obj_add(root, "stop", json_object_get(v));
        }
    }
    v = field(in, "stream");
    if (rc == CCP_OK && v != NULL && !json_object_is_type(v, json_type_boolean)) {
        rc = invalid(c, "stream", "must be a boolean");
        goto out;
    }
    *stream = v != NULL && json_object_get_boolean(v);
    if (rc == CCP_OK && *stream) {
        rc = tr_rq_obj_add(root, "stream", json_object_new_boolean(1));
        so = json_tokener_parse("{\"include_usage\":true}");
        if (rc == CCP_OK) {
            rc = tr_rq_obj_add(root, "stream_options", so);
            so = NULL;
        }
    }
    v = field(in, "metadata");
    user = json_object_is_type(v, json_type_object) ? tr_rq_get_string(v, "user_id") : NULL;
    if (rc == CCP_OK && user != NULL && user[0] != '\0' && strlen(user) <= MAX_USER_LEN) {
        rc = tr_rq_obj_add(root, "user", json_object_new_string(user));
    }
out:
    json_object_put(so);
    return rc;
}

/* Copy s into dst[cap]; false if it does not fit. */
static bool copy_name(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);

    if (n >= cap) {
        return false;
    }
    memcpy(dst, s, n + 1);
    return true;
}

/* The whole translation as a json-c tree in *out; info filled. Shared by
 * tr_request and tr_count_tokens_estimate. */
static enum ccp_err build(struct tr_rq_ctx *c, const char *body, size_t len,
                          struct json_object **out, struct tr_reqinfo *info)
{
    struct json_object *in = NULL, *root = NULL, *msgs = NULL, *v;
    const char *model = NULL, *mapped;
    enum ccp_err rc;

    rc = parse_body(c, body, len, &in);
    if (rc != CCP_OK) {
        goto out;
    }
    v = field(in, "model");
    if (v != NULL && json_object_is_type(v, json_type_string)) {
        model = json_object_get_string(v);
    }
    if (model == NULL || model[0] == '\0') {
        rc = invalid(c, "model", "required, must be a non-empty string");
        goto out;
    }
    mapped = tr_map_model(c->o, model);
    if (!copy_name(info->client_model, sizeof(info->client_model), model) ||
        !copy_name(info->upstream_model, sizeof(info->upstream_model), mapped)) {
        rc = invalid(c, "model", "name is too long");
        goto out;
    }
    v = field(in, "messages");
    if (v == NULL || !json_object_is_type(v, json_type_array)) {
        rc = invalid(c, "messages", "required, must be an array of messages");
        goto out;
    }
    rc = CCP_ERR_NOMEM;
    root = json_object_new_object();
    msgs = json_object_new_array();
    if (root == NULL || msgs == NULL) {
        goto out;
    }
    rc = tr_rq_obj_add(root, "model", json_object_new_string(mapped));
    if (rc == CCP_OK) {
        rc = tr_rq_system(c, field(in, "system"), msgs);
    }
    if (rc == CCP_OK) {
        rc = tr_rq_messages(c, v, msgs);
    }
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(root, "messages", msgs);
        msgs = NULL;
    }
    if (rc == CCP_OK) {
        rc = params(c, in, mapped, root, &info->stream);
    }
    if (rc == CCP_OK) {
        rc = tools(c, in, root);
    }
    /* thinking, output_config, context_management, top_k and anything else
     * are accepted and not forwarded */
    if (rc == CCP_OK) {
        *out = root;
        root = NULL;
    }
out:
    json_object_put(msgs);
    json_object_put(root);
    json_object_put(in);
    return rc;
}

/* Fill *err for failures that did not set it themselves. */
static void error_for(struct tr_rq_ctx *c, enum ccp_err rc)
{
    if (rc == CCP_ERR_TOO_LARGE) {
        tr_error_set(c->err, rc, "request too large: its translation would exceed %zu bytes",
                     c->o->max_out);
    } else if (rc == CCP_ERR_NOMEM) {
        tr_error_set(c->err, rc, "out of memory while translating the request");
    }
}

enum ccp_err tr_request(const struct tr_opts *o, const char *body, size_t len, struct buf *out,
                        struct tr_reqinfo *info, struct tr_error *err)
{
    struct tr_rq_ctx c = {o, err};
    struct json_object *root = NULL;
    struct tr_reqinfo ri;
    size_t start;
    enum ccp_err rc;

    memset(&ri, 0, sizeof(ri));
    rc = build(&c, body, len, &root, &ri);
    if (rc != CCP_OK) {
        goto out;
    }
    start = out->len;
    rc = tr_json_append(root, out);
    if (rc == CCP_OK && out->len - start > o->max_out) {
        out->len = start;
        out->ptr[start] = '\0';
        rc = CCP_ERR_TOO_LARGE;
    }
    if (rc == CCP_OK) {
        *info = ri;
    }
out:
    if (rc == CCP_ERR_TOO_LARGE || rc == CCP_ERR_NOMEM) {
        error_for(&c, rc);
    }
    json_object_put(root);
    return rc;
}

/* ---- count_tokens estimate ------------------------------------------------
 * An ESTIMATE until the BPE tokenizer lands: ceil(bytes / 4) over the text
 * the upstream would see (message text, tool call names and arguments, tool
 * definitions as JSON), plus MSG_OVERHEAD tokens per message, IMAGE_TOKENS
 * per image and PRIMING_TOKENS for the reply priming. Non-empty input never
 * gives 0; more text never gives fewer tokens. */
#define MSG_OVERHEAD 4
#define IMAGE_TOKENS 1000
#define PRIMING_TOKENS 3

struct est {
    unsigned long bytes;
    unsigned long extra;
};

static void est_string(struct est *e, struct json_object *s)
{
    if (json_object_is_type(s, json_type_string)) {
        e->bytes += (unsigned long)json_object_get_string_len(s);
    }
}

static void est_content(struct est *e, struct json_object *content)
{
    struct json_object *p, *v;
    size_t i;

    est_string(e, content);
    for (i = 0;
         json_object_is_type(content, json_type_array) && i < json_object_array_length(content);
         i++) {
        p = json_object_array_get_idx(content, i);
        if (json_object_object_get_ex(p, "text", &v)) {
            est_string(e, v);
        } else {
            e->extra += IMAGE_TOKENS;
        }
    }
}

static enum ccp_err est_tree(struct json_object *root, struct est *e)
{
    struct json_object *msgs, *tools, *m, *v, *calls, *fn;
    const char *s;
    size_t i, j;

    if (json_object_object_get_ex(root, "messages", &msgs)) {
        for (i = 0; i < json_object_array_length(msgs); i++) {
            m = json_object_array_get_idx(msgs, i);
            e->extra += MSG_OVERHEAD;
            if (json_object_object_get_ex(m, "content", &v)) {
                est_content(e, v);
            }
            if (!json_object_object_get_ex(m, "tool_calls", &calls)) {
                continue;
            }
            for (j = 0; j < json_object_array_length(calls); j++) {
                if (json_object_object_get_ex(json_object_array_get_idx(calls, j), "function",
                                              &fn)) {
                    est_string(e, json_object_object_get(fn, "name"));
                    est_string(e, json_object_object_get(fn, "arguments"));
                }
            }
        }
    }
    if (json_object_object_get_ex(root, "tools", &tools)) {
        for (i = 0; i < json_object_array_length(tools); i++) {
            s = json_object_to_json_string_ext(json_object_array_get_idx(tools, i),
                                               TR_RQ_JSON_FLAGS);
            if (s == NULL) {
                return CCP_ERR_NOMEM;
            }
            e->bytes += (unsigned long)strlen(s);
        }
    }
    return CCP_OK;
}

enum ccp_err tr_count_tokens_estimate(const struct tr_opts *o, const char *body, size_t len,
                                      unsigned long *tokens, struct tr_error *err)
{
    struct tr_rq_ctx c = {o, err};
    struct json_object *root = NULL;
    struct tr_reqinfo ri;
    struct est e = {0, PRIMING_TOKENS};
    enum ccp_err rc;

    memset(&ri, 0, sizeof(ri));
    rc = build(&c, body, len, &root, &ri);
    if (rc == CCP_OK) {
        rc = est_tree(root, &e);
    }
    if (rc == CCP_OK) {
        *tokens = (e.bytes + 3) / 4 + e.extra;
    } else if (rc == CCP_ERR_TOO_LARGE || rc == CCP_ERR_NOMEM) {
        error_for(&c, rc);
    }
    json_object_put(root);
    return rc;
}
