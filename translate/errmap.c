/* translate/errmap.c: the one table from enum ccp_err to HTTP status and
 * Anthropic error type, the mapping of upstream (OpenAI-style) errors to
 * what Claude Code expects, and the error body / error event writers. */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "common/str.h"
#include "translate/errmap_int.h"
#include "translate/jparse.h"
#include "translate/json_int.h"
#include "translate/translate.h"

#include "common/banned.h"

/* Anthropic error types. */
#define T_INVALID "invalid_request_error"
#define T_AUTH "authentication_error"
#define T_PERM "permission_error"
#define T_NOTFOUND "not_found_error"
#define T_TOOLARGE "request_too_large"
#define T_RATE "rate_limit_error"
#define T_API "api_error"
#define T_OVERLOADED "overloaded_error"

/* Our own failures. NOMEM is a transient overload of this worker (503, which
 * Claude Code retries); upstream failures are a bad gateway (502) and a
 * timeout is 504, all "api_error" so the client retries them. */
static const struct {
    enum ccp_err code;
    int status;
    const char *type;
} code_map[] = {
    {CCP_ERR_NOMEM, 503, T_OVERLOADED},   {CCP_ERR_INVALID, 400, T_INVALID},
    {CCP_ERR_TOO_LARGE, 413, T_TOOLARGE}, {CCP_ERR_UNSUPPORTED, 400, T_INVALID},
    {CCP_ERR_UPSTREAM, 502, T_API},       {CCP_ERR_UPSTREAM_PROTO, 502, T_API},
    {CCP_ERR_TIMEOUT, 504, T_API},        {CCP_ERR_CACHE, 500, T_API},
    {CCP_ERR_COORD, 502, T_API},          {CCP_ERR_INTERNAL, 500, T_API},
};

/* Upstream HTTP status → what the client gets. 502/503/504 become 529
 * overloaded_error, the status Claude Code treats as "busy, retry later". */
static const struct {
    int upstream;
    int status;
    const char *type;
} http_map[] = {
    {400, 400, T_INVALID},    {401, 401, T_AUTH},       {403, 403, T_PERM},
    {404, 404, T_NOTFOUND},   {413, 413, T_TOOLARGE},   {429, 429, T_RATE},
    {500, 500, T_API},        {502, 529, T_OVERLOADED}, {503, 529, T_OVERLOADED},
    {504, 529, T_OVERLOADED},
};

/* Phrases with which upstreams say the prompt does not fit the context. */
static const char *const ctx_phrases[] = {
    "context length",    "context_length",    "maximum context",
    "context window",    "too many tokens",   "prompt is too long",
    "input is too long", "reduce the length", "exceeds the context",
};

#define PROMPT_TOO_LONG "prompt is too long"
#define EXCERPT_MAX 200

/* Length of the longest prefix of s[0..n) that ends on a UTF-8 boundary. */
static size_t utf8_cut(const char *s, size_t n)
{
    size_t i = n;

    /* step back over continuation bytes, then check the lead covers them */
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3) {
        i--;
    }
    if (i > 0 && (unsigned char)s[i - 1] >= 0xC0) {
        unsigned char c = (unsigned char)s[i - 1];
        size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (n - (i - 1) < want) {
            return i - 1;
        }
    }
    return n;
}

/* Copy n bytes into err->message, truncated on a UTF-8 boundary. */
static void set_message(struct tr_error *err, const char *s, size_t n)
{
    if (n > sizeof(err->message) - 1) {
        n = utf8_cut(s, sizeof(err->message) - 1);
    }
    memcpy(err->message, s, n);
    err->message[n] = '\0';
}

void tr_error_set(struct tr_error *err, enum ccp_err code, const char *fmt, ...)
{
    va_list ap;
    size_t i;
    int n;

    err->code = code;
    err->status = 500;
    err->type = T_API;
    err->retry_after[0] = '\0';
    for (i = 0; i < CCP_ARRAY_LEN(code_map); i++) {
        if (code_map[i].code == code) {
            err->status = code_map[i].status;
            err->type = code_map[i].type;
            break;
        }
    }
    va_start(ap, fmt);
    n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    if (n < 0) {
        err->message[0] = '\0';
    } else if ((size_t)n >= sizeof(err->message)) {
        size_t len = utf8_cut(err->message, sizeof(err->message) - 1);
        err->message[len] = '\0';
    }
}

/* A short, single-line, valid UTF-8 excerpt of an upstream body. Empty for
 * HTML pages (a proxy's error page says nothing useful to the user). */
static size_t body_excerpt(const char *body, size_t len, char *out, size_t cap)
{
    size_t i = 0, o = 0;
    bool space = false;

    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) {
        i++;
    }
    if (i < len && body[i] == '<') {
        return 0;
    }
    for (; i < len && o + 4 < cap && o < EXCERPT_MAX; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c < 0x20 || c == 0x7F) {
            space = true;
            continue;
        }
        if (space && o > 0 && c != ' ') {
            out[o++] = ' ';
        }
        space = c == ' ';
        if (!space) {
            out[o++] = (char)c;
        }
    }
    o = utf8_cut(out, o);
    out[o] = '\0';
    return o;
}

/* Copy a retry-after header value if it is short printable ASCII (never a
 * CR or LF: the value goes back out as a header). */
static void set_retry_after(struct tr_error *err, const char *ra)
{
    struct str s = str_trim(str_from_cstr(ra));
    size_t i;

    err->retry_after[0] = '\0';
    if (s.len == 0 || s.len >= sizeof(err->retry_after)) {
        return;
    }
    for (i = 0; i < s.len; i++) {
        if (s.ptr[i] < 0x20 || s.ptr[i] > 0x7E) {
            return;
        }
    }
    memcpy(err->retry_after, s.ptr, s.len);
    err->retry_after[s.len] = '\0';
}

static const char *get_string(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (o != NULL && json_object_object_get_ex(o, key, &v) &&
        json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v);
    }
    return NULL;
}

/* The object holding the error fields: root.error when it is an object,
 * else root; for a Gemini-style array, its first element. */
static struct json_object *error_root(struct json_object *root)
{
    if (json_object_is_type(root, json_type_array) && json_object_array_length(root) > 0) {
        root = json_object_array_get_idx(root, 0);
    }
    return json_object_is_type(root, json_type_object) ? root : NULL;
}

bool tr_is_error_doc(struct json_object *root)
{
    struct json_object *e, *v;

    e = error_root(root);
    if (e == NULL || !json_object_object_get_ex(e, "error", &v)) {
        return false;
    }
    return json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_string);
}

/* The upstream's error message and error object (NULL if none). */
static const char *error_message(struct json_object *root, struct json_object **eobj)
{
    struct json_object *r = error_root(root), *e = NULL;
    const char *m = NULL;

    *eobj = NULL;
    if (r == NULL) {
        return NULL;
    }
    if (json_object_object_get_ex(r, "error", &e)) {
        if (json_object_is_type(e, json_type_string)) {
            return json_object_get_string(e);
        }
        if (json_object_is_type(e, json_type_object)) {
            *eobj = e;
            m = get_string(e, "message");
        }
    }
    if (m == NULL) {
        m = get_string(r, "message");
    }
    if (m == NULL) {
        m = get_string(r, "detail");
    }
    return m;
}

static bool mentions_context(const char *msg, const char *code, const char *type)
{
    struct str m = str_from_cstr(msg);
    size_t i;

    for (i = 0; i < CCP_ARRAY_LEN(ctx_phrases); i++) {
        if (str_contains_nocase(m, ctx_phrases[i])) {
            return true;
        }
    }
    return (code != NULL && strstr(code, "context_length") != NULL) ||
           (type != NULL && strstr(type, "context_length") != NULL);
}

/* The first decimal number after `after` in s, or 0. */
static unsigned long number_after(const char *s, const char *after)
{
    const char *p = strstr(s, after);
    unsigned long v = 0;

    if (p == NULL) {
        return 0;
    }
    p += strlen(after);
    while (*p == ' ') {
        p++;
    }
    while (*p >= '0' && *p <= '9' && v < ULONG_MAX / 10 - 10) {
        v = v * 10 + (unsigned long)(*p - '0');
        p++;
    }
    return v;
}

/* Claude Code compacts the conversation when a 400 says "prompt is too
 * long"; it reads "N tokens > M maximum" like Anthropic's own message. */
static void set_prompt_too_long(struct tr_error *err, const char *msg)
{
    unsigned long max = number_after(msg, "maximum context length is");
    unsigned long got = number_after(msg, "resulted in");

    if (got == 0) {
        got = number_after(msg, "you requested");
    }
    if (got == 0) {
        got = number_after(msg, "requested");
    }
    if (strncasecmp(msg, PROMPT_TOO_LONG, strlen(PROMPT_TOO_LONG)) == 0) {
        set_message(err, msg, strlen(msg));
        memcpy(err->message, PROMPT_TOO_LONG, strlen(PROMPT_TOO_LONG));
    } else if (max > 0 && got > 0) {
        snprintf(err->message, sizeof(err->message), PROMPT_TOO_LONG ": %lu tokens > %lu maximum",
                 got, max);
    } else {
        char tmp[sizeof(err->message) + 32];
        int n = snprintf(tmp, sizeof(tmp), PROMPT_TOO_LONG ": %s", msg);
        set_message(err, tmp, n < 0 ? 0 : (size_t)n >= sizeof(tmp) ? sizeof(tmp) - 1 : (size_t)n);
    }
}

/* Fill status/type from an upstream HTTP status, and the message. */
static void map_status(struct tr_error *err, int http_status, const char *msg, const char *code,
                       const char *type)
{
    size_t i;
    bool mapped = false;

    err->code = CCP_ERR_UPSTREAM;
    for (i = 0; i < CCP_ARRAY_LEN(http_map); i++) {
        if (http_map[i].upstream == http_status) {
            err->status = http_map[i].status;
            err->type = http_map[i].type;
            mapped = true;
            break;
        }
    }
    if (!mapped) {
        if (http_status == 408) { /* the upstream timed out waiting: retryable */
            err->status = 504;
            err->type = T_API;
        } else if (http_status >= 400 && http_status < 500) {
            err->status = 400;
            err->type = T_INVALID;
        } else if (http_status >= 500 && http_status < 600) {
            err->status = http_status;
            err->type = T_API;
        } else { /* 1xx-3xx or garbage: a bad gateway */
            err->status = 502;
            err->type = T_API;
        }
    }
    if (msg != NULL && msg[0] != '\0' && strcmp(err->type, T_INVALID) == 0 &&
        mentions_context(msg, code, type)) {
        set_prompt_too_long(err, msg);
    } else if (msg != NULL && msg[0] != '\0') {
        set_message(err, msg, strlen(msg));
    } else {
        snprintf(err->message, sizeof(err->message), "upstream returned HTTP %d", http_status);
    }
}

struct json_object *tr_json_parse_tok(struct json_tokener **tokp, const char *p, size_t len,
                                      int depth)
{
    struct json_tokener *tok;
    struct json_object *obj;
    size_t off;
    bool handled;

    if (len > INT_MAX) {
        return NULL;
    }
    obj = tr_jparse(p, len, depth, &handled);
    if (handled) {
        return obj;
    }
    if (*tokp == NULL) {
        *tokp = json_tokener_new_ex(depth);
        if (*tokp == NULL) {
            return NULL;
        }
    } else {
        json_tokener_reset(*tokp);
    }
    tok = *tokp;
    obj = json_tokener_parse_ex(tok, p, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(obj); /* NULL-safe */
        return NULL;
    }
    for (off = json_tokener_get_parse_end(tok); off < len; off++) {
        if (!tr_json_ws(p[off])) {
            json_object_put(obj);
            return NULL;
        }
    }
    return obj;
}

struct json_object *tr_json_parse(const char *p, size_t len, int depth)
{
    struct json_tokener *tok = NULL;
    struct json_object *obj;

    if (len > INT_MAX) {
        return NULL;
    }
    depth = tr_json_depth(depth);
    obj = tr_json_parse_tok(&tok, p, len, depth);
    if (tok != NULL) {
        json_tokener_free(tok);
    }
    return obj;
}

void tr_error_from_upstream(struct tr_error *err, int http_status, const char *body, size_t len,
                            const char *retry_after)
{
    struct json_object *root = NULL, *eobj = NULL;
    const char *msg = NULL;
    char excerpt[EXCERPT_MAX + 8];

    memset(err, 0, sizeof(*err));
    if (body != NULL && len > 0) {
        root = tr_json_parse(body, len, 32);
    }
    if (root != NULL) {
        msg = error_message(root, &eobj);
    }
    if (msg == NULL && body != NULL && body_excerpt(body, len, excerpt, sizeof(excerpt)) > 0) {
        msg = excerpt;
    }
    map_status(err, http_status, msg, get_string(eobj, "code"), get_string(eobj, "type"));
    set_retry_after(err, retry_after);
    json_object_put(root);
}

/* Guess an HTTP status from error.type / error.code names; 0 if unknown. */
static int status_from_names(const char *code, const char *type)
{
    static const struct {
        const char *word;
        int status;
    } names[] = {
        {"context_length", 400},     {"rate_limit", 429},       {"insufficient_quota", 429},
        {"resource_exhausted", 429}, {"invalid_api_key", 401},  {"authentication", 401},
        {"unauthenticated", 401},    {"permission", 403},       {"not_found", 404},
        {"overloaded", 503},         {"unavailable", 503},      {"timeout", 504},
        {"invalid_request", 400},    {"invalid_argument", 400}, {"server_error", 500},
        {"internal", 500},
    };
    const char *s[2] = {code, type};
    size_t i, j;

    for (j = 0; j < 2; j++) {
        for (i = 0; s[j] != NULL && i < CCP_ARRAY_LEN(names); i++) {
            if (str_contains_nocase(str_from_cstr(s[j]), names[i].word)) {
                return names[i].status;
            }
        }
    }
    return 0;
}

void tr_error_from_upstream_obj(struct tr_error *err, struct json_object *root)
{
    struct json_object *eobj = NULL, *c;
    const char *msg = error_message(root, &eobj);
    const char *code = get_string(eobj, "code"), *type = get_string(eobj, "type");
    int status = 0;

    memset(err, 0, sizeof(*err));
    if (eobj != NULL && json_object_object_get_ex(eobj, "code", &c) &&
        json_object_is_type(c, json_type_int)) {
        int64_t v = json_object_get_int64(c);
        if (v >= 400 && v <= 599) {
            status = (int)v;
        }
    }
    if (status == 0) {
        status = status_from_names(code, type);
        if (status == 0) {
            status = status_from_names(get_string(eobj, "status"), NULL);
        }
    }
    if (status == 0) {
        tr_error_set(err, CCP_ERR_UPSTREAM, "%s",
                     msg != NULL && msg[0] != '\0' ? msg : "upstream reported an error");
        return;
    }
    map_status(err, status, msg, code, type);
}

static void rollback(struct buf *out, size_t len)
{
    if (out->ptr != NULL) {
        out->len = len;
        out->ptr[len] = '\0';
    }
}

static enum ccp_err error_body(const struct tr_error *err, struct buf *out)
{
    enum ccp_err rc;
    const char *type = err->type != NULL ? err->type : T_API;

    rc = buf_append_cstr(out, "{\"type\":\"error\",\"error\":{\"type\":");
    if (rc == CCP_OK) {
        rc = buf_append_json_string(out, type, strlen(type));
    }
    if (rc == CCP_OK) {
        rc = buf_append_cstr(out, ",\"message\":");
    }
    if (rc == CCP_OK) {
        rc = buf_append_json_string(out, err->message, strnlen(err->message, sizeof(err->message)));
    }
    if (rc == CCP_OK) {
        rc = buf_append_cstr(out, "}}");
    }
    return rc;
}

enum ccp_err tr_error_json(const struct tr_error *err, struct buf *out)
{
    size_t old = out->len;
    enum ccp_err rc = error_body(err, out);

    if (rc != CCP_OK) {
        rollback(out, old);
    }
    return rc;
}

enum ccp_err tr_error_sse(const struct tr_error *err, struct buf *out)
{
    size_t old = out->len;
    enum ccp_err rc = buf_append_cstr(out, "event: error\ndata: ");

    if (rc == CCP_OK) {
        rc = error_body(err, out);
    }
    if (rc == CCP_OK) {
        rc = buf_append_cstr(out, "\n\n");
    }
    if (rc != CCP_OK) {
        rollback(out, old);
    }
    return rc;
}
