/* translate/request.c: an Anthropic /v1/messages body becomes an OpenAI
 * /chat/completions body (model, parameters, tools); model mapping; the
 * count_tokens estimate. Messages are in request_msg.c. */
#include "config.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "common/buf.h"
#include "common/str.h"
#include "translate/jparse.h"
#include "translate/json_int.h"
#include "translate/request_int.h"
#include "translate/translate.h"

#include "common/banned.h"

/* Room reserved in the output beyond the body's length. */
#define OUT_SLACK 512

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

/* The tokener of this translation, made on first use and reset for each
 * parse (one per call instead of one per parsed text). NULL when out of
 * memory. */
static int tok_depth(const struct tr_rq_ctx *c)
{
    return tr_json_depth(c->o->max_json_depth);
}

static struct json_tokener *tokener(struct tr_rq_ctx *c)
{
    if (c->tok == NULL) {
        c->tok = json_tokener_new_ex(tok_depth(c));
    } else {
        json_tokener_reset(c->tok);
    }
    return c->tok;
}

/* True if p[0..n) passes json-c's UTF-8 check (JSON_TOKENER_VALIDATE_UTF8:
 * a lead byte 110xxxxx, 1110xxxx or 11110xxx followed by that many
 * 10xxxxxx bytes; nothing else at or above 0x80), eight ASCII bytes at a
 * time. json-c checks each byte through a call, a tenth of the time of a
 * small request. */
static bool utf8_ok(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0, k;
    uint64_t w;

    while (i < n) {
        if (n - i >= 8) {
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        k = (s[i] & 0xe0) == 0xc0 ? 1 : (s[i] & 0xf0) == 0xe0 ? 2 : (s[i] & 0xf8) == 0xf0 ? 3 : 0;
        if (k == 0 || n - i - 1 < k) {
            return false;
        }
        for (i++; k > 0; k--, i++) {
            if ((s[i] & 0xc0) != 0x80) {
                return false;
            }
        }
    }
    return true;
}

/* Parse body with the call's tokener and these tokener flags: the value in
 * *obj (or NULL), where parsing stopped in *end; returns json-c's error. */
static enum json_tokener_error parse_with(struct json_tokener *tok, const char *body, size_t len,
                                          int flags, struct json_object **obj, size_t *end)
{
    enum json_tokener_error jerr;

    json_tokener_reset(tok);
    json_tokener_set_flags(tok, flags);
    *obj = json_tokener_parse_ex(tok, body, (int)len);
    jerr = json_tokener_get_error(tok);
    if (*obj == NULL && jerr == json_tokener_continue) {
        /* the input is complete: a NUL ends a pending top-level number */
        *obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
    }
    *end = json_tokener_get_parse_end(tok);
    return jerr;
}

/* Only JSON whitespace in p[from..n). */
static bool only_ws(const char *p, size_t from, size_t n)
{
    for (; from < n; from++) {
        if (!tr_json_ws(p[from])) {
            return false;
        }
    }
    return true;
}

/* Parse body into *out (one reference). Not JSON, trailing data, too deep,
 * invalid UTF-8 or not an object: CCP_ERR_INVALID with *err set. A body
 * that passes utf8_ok() is parsed without json-c's UTF-8 check, which then
 * could not fail; any error sends it through json-c's check again, so the
 * error reported is json-c's. */
static enum ccp_err parse_body(struct tr_rq_ctx *c, const char *body, size_t len,
                               struct json_object **out)
{
    struct json_tokener *tok;
    struct json_object *obj = NULL;
    enum json_tokener_error jerr;
    size_t end;
    bool fast, handled;
    enum ccp_err rc = CCP_ERR_INVALID;

    if (len > (size_t)INT_MAX - 1) {
        rc = CCP_ERR_TOO_LARGE; /* *err is set by tr_rq_error_for() */
        goto out;
    }
    body = body != NULL ? body : "";
    fast = utf8_ok(body, len);
    obj = fast ? tr_jparse(body, len, tok_depth(c), &handled) : NULL;
    if (obj != NULL) { /* plain JSON, as json-c would have read it: no tokener */
        goto parsed;
    }
    tok = tokener(c);
    if (tok == NULL) {
        rc = CCP_ERR_NOMEM;
        goto out;
    }
    jerr = parse_with(tok, body, len, fast ? 0 : JSON_TOKENER_VALIDATE_UTF8, &obj, &end);
    if (fast && (obj == NULL || !only_ws(body, end, len))) {
        json_object_put(obj);
        jerr = parse_with(tok, body, len, JSON_TOKENER_VALIDATE_UTF8, &obj, &end);
    }
    if (obj == NULL) {
        tr_error_set(c->err, rc, "request body is not valid JSON: %s",
                     jerr == json_tokener_continue ? "unexpected end of data"
                                                   : json_tokener_error_desc(jerr));
        goto out;
    }
    if (!only_ws(body, end, len)) {
        tr_error_set(c->err, rc, "request body is not valid JSON: data after the value");
        goto out;
    }
parsed:
    if (!json_object_is_type(obj, json_type_object)) {
        tr_error_set(c->err, rc, "request body must be a JSON object");
        goto out;
    }
    rc = tr_rq_check_limits(c, obj);
    if (rc != CCP_OK) {
        goto out;
    }
    *out = obj;
    obj = NULL;
    rc = CCP_OK;
out:
    json_object_put(obj);
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

/* Remember that a server tool of this type was dropped. */
static void note_server_tool(struct tr_rq_ctx *c, const char *type)
{
    struct tr_reqinfo *ri = c->info;

    if (ri->server_tools_dropped == 0) {
        (void)snprintf(ri->server_tool, sizeof(ri->server_tool), "%s", type);
    }
    ri->server_tools_dropped++;
}

/* The upstream name of a client tool name into dst; a shortened name is
 * remembered in info so responses can map it back. */
static const char *upstream_tool_name(struct tr_rq_ctx *c, const char *name, char *dst)
{
    struct tr_reqinfo *ri = c->info;
    struct tr_tool_alias *a;

    tr_tool_name_upstream(name, dst);
    if (strcmp(dst, name) == 0 || tr_tool_name_client(ri, dst, strlen(dst)) != NULL ||
        ri->naliases == TR_MAX_TOOL_ALIASES || strlen(name) >= sizeof(a->client)) {
        return dst;
    }
    a = &ri->aliases[ri->naliases++];
    (void)snprintf(a->upstream, sizeof(a->upstream), "%s", dst);
    (void)snprintf(a->client, sizeof(a->client), "%s", name);
    return dst;
}

/* One Anthropic tool as an OpenAI function tool in *out, or *out = NULL when
 * it is dropped: no name, or a server tool (a `type` other than "custom"
 * and no input_schema, e.g. web_search_20250305, noted in c->info). Only
 * name (shortened past 64 bytes), description and parameters are kept
 * (cache_control, defer_loading... are not); a schema without "type" gets
 * "type":"object". */
static enum ccp_err one_tool(struct tr_rq_ctx *c, struct json_object *t, struct json_object **out)
{
    struct json_object *schema, *fn = NULL, *tool = NULL, *params, *dv;
    const char *name, *type, *desc;
    char uname[TR_TOOL_NAME_MAX + 1];
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
    if (schema == NULL && type != NULL && strcmp(type, "custom") != 0) {
        note_server_tool(c, type);
        goto out;
    }
    if (name == NULL || name[0] == '\0') {
        goto out;
    }
    if (schema != NULL && field(schema, "type") == NULL) {
        rc = tr_rq_obj_add(schema, "type", json_object_new_string("object"));
        if (rc != CCP_OK) {
            goto out;
        }
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
    rc = tr_rq_obj_add(fn, "name", json_object_new_string(upstream_tool_name(c, name, uname)));
    dv = field(t, "description");
    desc = json_object_is_type(dv, json_type_string) ? json_object_get_string(dv) : NULL;
    if (rc == CCP_OK && desc != NULL) {
        /* the client's string itself unless a NUL cuts it short */
        rc = tr_rq_obj_add(fn, "description",
                           strlen(desc) == (size_t)json_object_get_string_len(dv)
                               ? json_object_get(dv)
                               : json_object_new_string(desc));
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

/* True if the translated tools (arr) hold a function named name. */
static bool has_tool(struct json_object *arr, const char *name)
{
    struct json_object *fn;
    const char *n;
    size_t i;

    for (i = 0; i < json_object_array_length(arr); i++) {
        if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "function", &fn)) {
            n = tr_rq_get_string(fn, "name");
            if (n != NULL && strcmp(n, name) == 0) {
                return true;
            }
        }
    }
    return false;
}

/* {"type":"function","function":{"name":name}}, or NULL. */
static struct json_object *function_choice(const char *name)
{
    struct json_object *choice = json_tokener_parse("{\"type\":\"function\",\"function\":{}}");
    struct json_object *fn;

    if (choice == NULL || !json_object_object_get_ex(choice, "function", &fn) ||
        tr_rq_obj_add(fn, "name", json_object_new_string(name)) != CCP_OK) {
        json_object_put(choice);
        return NULL;
    }
    return choice;
}

/* tool_choice for the tools that remain (arr): auto -> "auto", any ->
 * "required", none -> "none", tool -> {"type":"function","function":
 * {"name":..}} (the upstream name), or "auto" when that tool was dropped
 * (a server tool); unknown types are left out. disable_parallel_tool_use
 * true -> parallel_tool_calls false. */
static enum ccp_err tool_choice(struct tr_rq_ctx *c, struct json_object *tc,
                                struct json_object *arr, struct json_object *root)
{
    struct json_object *v, *choice = NULL;
    const char *type, *name;
    char uname[TR_TOOL_NAME_MAX + 1];
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
        name = tr_tool_name_upstream(name, uname);
        choice = has_tool(arr, name) ? function_choice(name) : json_object_new_string("auto");
        if (choice == NULL) {
            rc = CCP_ERR_NOMEM;
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
        rc = one_tool(c, json_object_array_get_idx(list, i), &t);
        if (rc == CCP_OK && t != NULL) {
            rc = tr_rq_arr_add(arr, t);
        }
    }
    if (rc != CCP_OK || json_object_array_length(arr) == 0) {
        goto out; /* no tools left: no tools, no tool_choice */
    }
    rc = tr_rq_obj_add(root, "tools", json_object_get(arr));
    if (rc == CCP_OK) {
        rc = tool_choice(c, field(in, "tool_choice"), arr, root);
    }
out:
    json_object_put(arr);
    return rc;
}

/* Upstream accepts at most this many stop sequences: the first ones are
 * sent, the rest dropped. */
#define MAX_STOP 4

/* Budgets below these give reasoning_effort low / medium; above, high. */
#define BUDGET_LOW 4096
#define BUDGET_MEDIUM 16384

/* A 64-bit FNV-1a hash of s as "<prefix><16 hex digits>" in dst[cap]. */
static const char *hashed_id(const char *prefix, const char *s, char *dst, size_t cap)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    (void)snprintf(dst, cap, "%s%016llx", prefix, (unsigned long long)h);
    return dst;
}

/* reasoning_effort from thinking and output_config.effort, or NULL:
 * thinking disabled -> none; effort low/medium/high as is, max -> high;
 * else thinking enabled with budget_tokens -> low below BUDGET_LOW, medium
 * below BUDGET_MEDIUM, else high; else none. */
static const char *effort_for(struct json_object *in)
{
    struct json_object *th = field(in, "thinking"), *oc = field(in, "output_config"), *v;
    const char *type =
        json_object_is_type(th, json_type_object) ? tr_rq_get_string(th, "type") : NULL;
    const char *e =
        json_object_is_type(oc, json_type_object) ? tr_rq_get_string(oc, "effort") : NULL;
    int64_t budget;

    if (type != NULL && strcmp(type, "disabled") == 0) {
        return NULL;
    }
    if (e != NULL &&
        (strcmp(e, "low") == 0 || strcmp(e, "medium") == 0 || strcmp(e, "high") == 0)) {
        return e;
    }
    if (e != NULL && strcmp(e, "max") == 0) {
        return "high";
    }
    v = type != NULL && strcmp(type, "enabled") == 0 ? field(th, "budget_tokens") : NULL;
    if (!json_object_is_type(v, json_type_int)) {
        return NULL;
    }
    budget = json_object_get_int64(v);
    return budget < BUDGET_LOW ? "low" : budget < BUDGET_MEDIUM ? "medium" : "high";
}

/* max_tokens as max_tokens or max_completion_tokens (by model rule),
 * clamped to the rule's cap, never raised. */
static enum ccp_err max_tokens(struct tr_rq_ctx *c, struct json_object *in,
                               struct json_object *root)
{
    struct json_object *v = field(in, "max_tokens");
    int64_t n;

    if (v == NULL) {
        return CCP_OK;
    }
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1) {
        return invalid(c, "max_tokens", "must be a positive integer");
    }
    n = json_object_get_int64(v);
    if (c->caps.max_output != 0 && (uint64_t)n > c->caps.max_output) {
        n = (int64_t)c->caps.max_output;
    }
    return tr_rq_obj_add(
        root,
        c->caps.max_field == TR_MAXF_MAX_COMPLETION_TOKENS ? "max_completion_tokens" : "max_tokens",
        json_object_new_int64(n));
}

/* stop_sequences -> stop: the first MAX_STOP non-empty strings. */
static enum ccp_err stop(struct tr_rq_ctx *c, struct json_object *in, struct json_object *root)
{
    struct json_object *v = field(in, "stop_sequences"), *e, *arr = NULL;
    size_t i;
    enum ccp_err rc = CCP_OK;

    if (v == NULL) {
        goto out;
    }
    if (!json_object_is_type(v, json_type_array)) {
        rc = invalid(c, "stop_sequences", "must be an array of strings");
        goto out;
    }
    arr = json_object_new_array();
    if (arr == NULL) {
        rc = CCP_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < json_object_array_length(v) && rc == CCP_OK; i++) {
        e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string)) {
            rc = invalid(c, "stop_sequences", "must be an array of strings");
        } else if (json_object_get_string_len(e) > 0 && json_object_array_length(arr) < MAX_STOP) {
            rc = tr_rq_arr_add(arr, json_object_get(e));
        }
    }
    if (rc == CCP_OK && json_object_array_length(arr) > 0) {
        rc = tr_rq_obj_add(root, "stop", arr);
        arr = NULL;
    }
out:
    json_object_put(arr);
    return rc;
}

/* The session_id inside a Claude Code metadata.user_id (a JSON string
 * {"device_id":..,"session_id":..}) copied to dst[cap], or "". */
static void session_from_user_id(struct tr_rq_ctx *c, const char *user, char *dst, size_t cap)
{
    struct json_tokener *tok;
    struct json_object *u = NULL;
    const char *sid;
    size_t n = strlen(user);
    bool handled;

    dst[0] = '\0';
    if (user[0] != '{' || n > (size_t)INT_MAX) {
        return;
    }
    /* json-c reads the object at its start; the fast path, when it takes
     * the text, reads the same object without a tokener */
    u = tr_jparse(user, n, tok_depth(c), &handled);
    if (!handled) {
        tok = tokener(c);
        if (tok == NULL) {
            return;
        }
        json_tokener_set_flags(tok, 0);
        u = json_tokener_parse_ex(tok, user, (int)n);
    }
    sid = json_object_is_type(u, json_type_object) ? tr_rq_get_string(u, "session_id") : NULL;
    if (sid != NULL) {
        (void)snprintf(dst, cap, "%s", sid);
    }
    json_object_put(u);
}

/* metadata.user_id -> user (as is up to MAX_USER_LEN bytes, else "u_" and
 * a 64-bit hash); the session (o->session_id, else the session_id inside
 * user_id) -> prompt_cache_key (as is up to MAX_USER_LEN, else "s_" and a
 * hash). Each can be switched off in tr_opts. */
static enum ccp_err identity(struct tr_rq_ctx *c, struct json_object *in, struct json_object *root)
{
    struct json_object *v = field(in, "metadata");
    const char *user =
        json_object_is_type(v, json_type_object) ? tr_rq_get_string(v, "user_id") : NULL;
    const char *sid = c->o->session_id;
    char hash[40], sbuf[160];
    enum ccp_err rc = CCP_OK;

    if (user != NULL && user[0] != '\0' && !c->o->no_user) {
        rc = tr_rq_obj_add(root, "user",
                           json_object_new_string(strlen(user) <= MAX_USER_LEN
                                                      ? user
                                                      : hashed_id("u_", user, hash, sizeof(hash))));
    }
    if ((sid == NULL || sid[0] == '\0') && user != NULL) {
        session_from_user_id(c, user, sbuf, sizeof(sbuf));
        sid = sbuf;
    }
    if (rc == CCP_OK && sid != NULL && sid[0] != '\0' && !c->o->no_prompt_cache_key) {
        rc = tr_rq_obj_add(root, "prompt_cache_key",
                           json_object_new_string(strlen(sid) <= MAX_USER_LEN
                                                      ? sid
                                                      : hashed_id("s_", sid, hash, sizeof(hash))));
    }
    return rc;
}

/* max_tokens, temperature, top_p (when the model takes them), stop,
 * reasoning_effort (when the model takes it), stream, user and
 * prompt_cache_key. top_k and unknown fields are not forwarded. */
static enum ccp_err params(struct tr_rq_ctx *c, struct json_object *in, struct json_object *root,
                           bool *stream)
{
    struct json_object *v, *so = NULL;
    const char *effort;
    enum ccp_err rc;

    rc = max_tokens(c, in, root);
    if (rc != CCP_OK) {
        goto out;
    }
    v = field(in, "temperature");
    if (v != NULL && !is_number(v)) {
        rc = invalid(c, "temperature", "must be a number");
    } else if (v != NULL && c->caps.sampling) {
        rc = tr_rq_obj_add(root, "temperature", json_object_get(v));
    }
    v = field(in, "top_p");
    if (rc == CCP_OK && v != NULL && !is_number(v)) {
        rc = invalid(c, "top_p", "must be a number");
    } else if (rc == CCP_OK && v != NULL && c->caps.sampling) {
        rc = tr_rq_obj_add(root, "top_p", json_object_get(v));
    }
    if (rc == CCP_OK) {
        rc = stop(c, in, root);
    }
    effort = c->caps.effort ? effort_for(in) : NULL;
    if (rc == CCP_OK && effort != NULL) {
        rc = tr_rq_obj_add(root, "reasoning_effort", json_object_new_string(effort));
    }
    if (rc != CCP_OK) {
        goto out;
    }
    v = field(in, "stream");
    if (v != NULL && !json_object_is_type(v, json_type_boolean)) {
        rc = invalid(c, "stream", "must be a boolean");
        goto out;
    }
    *stream = v != NULL && json_object_get_boolean(v);
    if (*stream) {
        rc = tr_rq_obj_add(root, "stream", json_object_new_boolean(1));
        so = json_tokener_parse("{\"include_usage\":true}");
        if (rc == CCP_OK) {
            rc = tr_rq_obj_add(root, "stream_options", so);
            so = NULL;
        }
    }
    if (rc == CCP_OK) {
        rc = identity(c, in, root);
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

/* An empty reqinfo. Only what naliases says is used of aliases[], so the
 * 10 KB array is left alone (clearing it was a tenth of a small request's
 * translation). */
static void info_clear(struct tr_reqinfo *ri)
{
    memset(ri, 0, offsetof(struct tr_reqinfo, aliases));
    ri->naliases = 0;
}

/* *dst = *src for everything a reader may look at. */
static void info_copy(struct tr_reqinfo *dst, const struct tr_reqinfo *src)
{
    memcpy(dst, src, offsetof(struct tr_reqinfo, aliases));
    memcpy(dst->aliases, src->aliases, src->naliases * sizeof(src->aliases[0]));
    dst->naliases = src->naliases;
}

enum ccp_err tr_rq_build(struct tr_rq_ctx *c, const char *body, size_t len,
                         struct json_object **out, struct json_object **input,
                         struct tr_reqinfo *info)
{
    struct json_object *in = NULL, *root = NULL, *msgs = NULL, *v;
    const char *model = NULL, *mapped;
    enum ccp_err rc;

    info_clear(info);
    buf_init(&c->text, c->o->max_out);
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
    tr_model_caps(c->o, mapped, &c->caps);
    c->info = info;
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
        rc = params(c, in, root, &info->stream);
    }
    if (rc == CCP_OK) {
        rc = tools(c, in, root);
    }
    /* thinking and output_config become reasoning_effort (params);
     * context_management, top_k and anything else are not forwarded */
    if (rc == CCP_OK) {
        *out = root;
        root = NULL;
        if (input != NULL) {
            *input = in;
            in = NULL;
        }
    }
out:
    json_object_put(msgs);
    json_object_put(root);
    json_object_put(in);
    if (c->tok != NULL) {
        json_tokener_free(c->tok);
        c->tok = NULL;
    }
    buf_release(&c->text);
    return rc;
}

void tr_rq_error_for(struct tr_rq_ctx *c, enum ccp_err rc)
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
    struct tr_rq_ctx c = {.o = o, .err = err};
    struct json_object *root = NULL;
    struct tr_reqinfo ri;
    size_t start;
    enum ccp_err rc;

    rc = tr_rq_build(&c, body, len, &root, NULL, &ri);
    if (rc != CCP_OK) {
        goto out;
    }
    start = out->len;
    /* the translation is about as long as the body */
    buf_presize(out, len + OUT_SLACK < o->max_out ? len + OUT_SLACK : o->max_out);
    rc = tr_json_append(root, out);
    if (rc == CCP_OK && out->len - start > o->max_out) {
        out->len = start;
        out->ptr[start] = '\0';
        rc = CCP_ERR_TOO_LARGE;
    }
    if (rc == CCP_OK) {
        info_copy(info, &ri);
    }
out:
    if (rc == CCP_ERR_TOO_LARGE || rc == CCP_ERR_NOMEM) {
        tr_rq_error_for(&c, rc);
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
        struct buf b;
        enum ccp_err rc = CCP_OK;

        buf_init(&b, SIZE_MAX / 2);
        for (i = 0; i < json_object_array_length(tools) && rc == CCP_OK; i++) {
            buf_reset(&b);
            rc = tr_json_append(json_object_array_get_idx(tools, i), &b);
            e->bytes += (unsigned long)b.len;
        }
        buf_release(&b);
        return rc;
    }
    return CCP_OK;
}

enum ccp_err tr_count_tokens_estimate(const struct tr_opts *o, const char *body, size_t len,
                                      unsigned long *tokens, struct tr_error *err)
{
    struct tr_rq_ctx c = {.o = o, .err = err};
    struct json_object *root = NULL;
    struct tr_reqinfo ri;
    struct est e = {0, PRIMING_TOKENS};
    enum ccp_err rc;

    rc = tr_rq_build(&c, body, len, &root, NULL, &ri);
    if (rc == CCP_OK) {
        rc = est_tree(root, &e);
    }
    if (rc == CCP_OK) {
        *tokens = (e.bytes + 3) / 4 + e.extra;
    } else if (rc == CCP_ERR_TOO_LARGE || rc == CCP_ERR_NOMEM) {
        tr_rq_error_for(&c, rc);
    }
    json_object_put(root);
    return rc;
}
