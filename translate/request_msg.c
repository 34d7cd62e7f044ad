/* translate/request_msg.c: the Anthropic system prompt and messages become
 * OpenAI chat messages (text, images, tool calls, tool results). */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/buf.h"
#include "translate/request_int.h"

#include "common/banned.h"

/* Joining rules. The blocks of a system prompt (top-level `system` or a
 * message with role "system") are joined with a blank line, as they are
 * separate sections. Text blocks inside one user, assistant or tool message
 * are joined with a single newline. Empty texts are skipped, so joins never
 * add stray separators. A user message whose content has no image becomes a
 * plain string; with an image it becomes an array of parts, one text part
 * per non-empty text block, in the original order. */
#define SYSTEM_SEP "\n\n"
#define TEXT_SEP "\n"

/* Text put in a tool message where a tool_result held an image, and the
 * text part that introduces that image in the user message after the tool
 * messages (OpenAI tool messages cannot carry images). */
#define TOOL_IMAGE_NOTE "[image attached in the next user message]"
#define TOOL_IMAGE_LEAD "Image from tool result %s:"
/* The same for a PDF document inside a tool_result. */
#define TOOL_FILE_NOTE "[document attached in the next user message]"
#define TOOL_FILE_LEAD "Document from tool result %s:"

/* The content of the tool message added for a tool_use that has no
 * tool_result in the next user message (the user interrupted the call):
 * OpenAI upstreams reject a tool call without its answer. */
#define TOOL_NO_RESULT "[no result: the tool call was interrupted before it returned]"
/* The lead of a tool_result whose tool_use_id matches no tool call of the
 * assistant message before it; it is sent as user text instead. */
#define TOOL_ORPHAN_LEAD "Tool result for %s:\n"
/* What replaces an image for a model without vision. */
#define NO_VISION_NOTE "[image omitted: the model does not accept images]"
/* Default file name of a PDF document without a title. */
#define PDF_NAME "document.pdf"

/* Where a block sits, for error messages ("messages.3.content.1"). */
#define AT_LEN 96

enum ccp_err tr_rq_obj_add(struct json_object *obj, const char *k, struct json_object *v)
{
    if (v == NULL) {
        return CCP_ERR_NOMEM;
    }
    if (json_object_object_add_ex(obj, k, v, JSON_C_OBJECT_KEY_IS_CONSTANT) != 0) {
        json_object_put(v);
        return CCP_ERR_NOMEM;
    }
    return CCP_OK;
}

enum ccp_err tr_rq_arr_add(struct json_object *arr, struct json_object *v)
{
    if (v == NULL) {
        return CCP_ERR_NOMEM;
    }
    if (json_object_array_add(arr, v) != 0) {
        json_object_put(v);
        return CCP_ERR_NOMEM;
    }
    return CCP_OK;
}

struct json_object *tr_rq_string_from_buf(const struct buf *b)
{
    if (b->len > (size_t)INT_MAX) {
        return NULL;
    }
    return json_object_new_string_len(b->len > 0 ? b->ptr : "", (int)b->len);
}

const char *tr_rq_get_string(struct json_object *obj, const char *k)
{
    struct json_object *v;

    if (!json_object_object_get_ex(obj, k, &v) || !json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    return json_object_get_string(v);
}

/* The "text" of a block when it is a string: *s and *n, true; else false. */
static bool block_text_obj(struct json_object *blk, const char **s, size_t *n,
                           struct json_object **obj)
{
    struct json_object *v;

    if (!json_object_is_type(blk, json_type_object) ||
        !json_object_object_get_ex(blk, "text", &v) || !json_object_is_type(v, json_type_string)) {
        return false;
    }
    *s = json_object_get_string(v);
    *n = (size_t)json_object_get_string_len(v);
    *obj = v;
    return true;
}

static bool block_text(struct json_object *blk, const char **s, size_t *n)
{
    struct json_object *v;

    return block_text_obj(blk, s, n, &v);
}

static bool type_is(struct json_object *blk, const char *type)
{
    const char *t =
        json_object_is_type(blk, json_type_object) ? tr_rq_get_string(blk, "type") : NULL;
    return t != NULL && strcmp(t, type) == 0;
}

/* Append s to b, preceded by sep when b already holds text. */
static enum ccp_err join_text(struct buf *b, const char *sep, const char *s, size_t n)
{
    enum ccp_err rc = CCP_OK;

    if (n == 0) {
        goto out;
    }
    if (b->len > 0) {
        rc = buf_append_cstr(b, sep);
        if (rc != CCP_OK) {
            goto out;
        }
    }
    rc = buf_append(b, s, n);
out:
    return rc;
}

/* Join the texts of a string or an array of blocks (blocks without a string
 * "text" are skipped) into b. */
static enum ccp_err join_content(struct buf *b, const char *sep, struct json_object *content)
{
    enum ccp_err rc = CCP_OK;
    const char *s;
    size_t n, i;

    if (json_object_is_type(content, json_type_string)) {
        rc = join_text(b, sep, json_object_get_string(content),
                       (size_t)json_object_get_string_len(content));
        goto out;
    }
    if (!json_object_is_type(content, json_type_array)) {
        goto out;
    }
    for (i = 0; i < json_object_array_length(content); i++) {
        if (block_text(json_object_array_get_idx(content, i), &s, &n)) {
            rc = join_text(b, sep, s, n);
            if (rc != CCP_OK) {
                goto out;
            }
        }
    }
out:
    return rc;
}

/* {"role": role, "content": <b as a string>} appended to msgs. */
static enum ccp_err add_text_msg(struct json_object *msgs, const char *role, const struct buf *b)
{
    struct json_object *m = json_object_new_object();
    enum ccp_err rc;

    if (m == NULL) {
        return CCP_ERR_NOMEM;
    }
    rc = tr_rq_obj_add(m, "role", json_object_new_string(role));
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(m, "content", tr_rq_string_from_buf(b));
    }
    if (rc != CCP_OK) {
        json_object_put(m);
        return rc;
    }
    return tr_rq_arr_add(msgs, m);
}

enum ccp_err tr_rq_system(struct tr_rq_ctx *c, struct json_object *sys, struct json_object *msgs)
{
    struct buf b;
    enum ccp_err rc = CCP_OK;

    buf_init(&b, c->o->max_out);
    if (sys == NULL || json_object_is_type(sys, json_type_null)) {
        goto out;
    }
    if (!json_object_is_type(sys, json_type_string) && !json_object_is_type(sys, json_type_array)) {
        tr_error_set(c->err, CCP_ERR_INVALID,
                     "system: must be a string or an array of text blocks");
        rc = CCP_ERR_INVALID;
        goto out;
    }
    rc = join_content(&b, SYSTEM_SEP, sys);
    if (rc == CCP_OK && b.len > 0) {
        rc = add_text_msg(msgs, "system", &b);
    }
out:
    buf_release(&b);
    return rc;
}

/* {"type":"text","text":s} appended to parts; nothing for an empty text.
 * src, when not NULL, is the client's JSON string holding exactly s[0..n):
 * the part takes a reference to it instead of a copy (no string of either
 * tree is ever changed in place). */
static enum ccp_err add_text_part_src(struct json_object *parts, const char *s, size_t n,
                                      struct json_object *src)
{
    struct json_object *p;
    enum ccp_err rc;

    if (n == 0) {
        return CCP_OK;
    }
    p = json_object_new_object();
    if (p == NULL) {
        return CCP_ERR_NOMEM;
    }
    rc = tr_rq_obj_add(p, "type", json_object_new_string("text"));
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(
            p, "text", src != NULL ? json_object_get(src) : json_object_new_string_len(s, (int)n));
    }
    if (rc != CCP_OK) {
        json_object_put(p);
        return rc;
    }
    return tr_rq_arr_add(parts, p);
}

static enum ccp_err add_text_part(struct json_object *parts, const char *s, size_t n)
{
    return add_text_part_src(parts, s, n, NULL);
}

/* The URL of an image block's source: a data: URL for base64, the URL as is
 * for a url source. Other or missing sources are a client error. */
static enum ccp_err image_url(struct tr_rq_ctx *c, struct json_object *blk, const char *at,
                              struct buf *url)
{
    struct json_object *src, *data;
    const char *type, *mt;
    enum ccp_err rc = CCP_ERR_INVALID;

    if (!json_object_object_get_ex(blk, "source", &src) ||
        !json_object_is_type(src, json_type_object)) {
        tr_error_set(c->err, rc, "%s.source: an image block needs a source object", at);
        goto out;
    }
    type = tr_rq_get_string(src, "type");
    if (type != NULL && strcmp(type, "base64") == 0) {
        mt = tr_rq_get_string(src, "media_type");
        if (mt == NULL || !json_object_object_get_ex(src, "data", &data) ||
            !json_object_is_type(data, json_type_string)) {
            tr_error_set(c->err, rc, "%s.source: a base64 image needs media_type and data strings",
                         at);
            goto out;
        }
        rc = buf_appendf(url, "data:%s;base64,", mt);
        if (rc == CCP_OK) {
            rc = buf_append(url, json_object_get_string(data),
                            (size_t)json_object_get_string_len(data));
        }
    } else if (type != NULL && strcmp(type, "url") == 0) {
        if (tr_rq_get_string(src, "url") == NULL) {
            tr_error_set(c->err, rc, "%s.source.url: a url image needs a url string", at);
            goto out;
        }
        rc = buf_append_cstr(url, tr_rq_get_string(src, "url"));
    } else {
        tr_error_set(c->err, rc, "%s.source.type: unsupported image source (use base64 or url)",
                     at);
    }
out:
    return rc;
}

/* {"type":"image_url","image_url":{"url":...}} for an image block, appended
 * to parts. */
static enum ccp_err add_image_part(struct tr_rq_ctx *c, struct json_object *blk, const char *at,
                                   struct json_object *parts)
{
    struct json_object *part = NULL, *iu = NULL;
    struct buf url;
    enum ccp_err rc;

    buf_init(&url, c->o->max_out);
    rc = image_url(c, blk, at, &url);
    if (rc != CCP_OK || !c->caps.vision) {
        if (rc == CCP_OK) {
            rc = add_text_part(parts, NO_VISION_NOTE, strlen(NO_VISION_NOTE));
        }
        goto out;
    }
    rc = CCP_ERR_NOMEM;
    part = json_object_new_object();
    iu = json_object_new_object();
    if (part == NULL || iu == NULL) {
        goto out;
    }
    rc = tr_rq_obj_add(iu, "url", tr_rq_string_from_buf(&url));
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(part, "type", json_object_new_string("image_url"));
    }
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(part, "image_url", iu);
        iu = NULL; /* taken, or already put on failure */
    }
    if (rc == CCP_OK) {
        rc = tr_rq_arr_add(parts, part);
        part = NULL;
    }
out:
    json_object_put(iu);
    json_object_put(part);
    buf_release(&url);
    return rc;
}

/* A document block appended to parts: a base64 PDF as a file part
 * {"type":"file","file":{"filename":..,"file_data":"data:..;base64,.."}};
 * plain text (source.type "text") and content blocks (source.type
 * "content") as text, headed by the title when there is one; a URL (or any
 * other source) as a text line naming it. Never an error. */
static enum ccp_err add_document_part(struct tr_rq_ctx *c, struct json_object *blk,
                                      struct json_object *parts)
{
    struct json_object *src = NULL, *part = NULL, *file = NULL, *v = NULL;
    const char *type = NULL, *title = tr_rq_get_string(blk, "title"), *mt, *data;
    struct buf b;
    enum ccp_err rc = CCP_OK;

    buf_init(&b, c->o->max_out);
    if (json_object_object_get_ex(blk, "source", &src) &&
        json_object_is_type(src, json_type_object)) {
        type = tr_rq_get_string(src, "type");
    }
    mt = type != NULL ? tr_rq_get_string(src, "media_type") : NULL;
    data = type != NULL ? tr_rq_get_string(src, "data") : NULL;
    if (type != NULL && strcmp(type, "base64") == 0 && data != NULL) {
        rc = buf_appendf(&b, "data:%s;base64,%s", mt != NULL ? mt : "application/pdf", data);
        if (rc != CCP_OK) {
            goto out;
        }
        rc = CCP_ERR_NOMEM;
        part = json_object_new_object();
        file = json_object_new_object();
        if (part == NULL || file == NULL) {
            goto out;
        }
        rc = tr_rq_obj_add(file, "filename",
                           json_object_new_string(title != NULL ? title : PDF_NAME));
        if (rc == CCP_OK) {
            rc = tr_rq_obj_add(file, "file_data", tr_rq_string_from_buf(&b));
        }
        if (rc == CCP_OK) {
            rc = tr_rq_obj_add(part, "type", json_object_new_string("file"));
        }
        if (rc == CCP_OK) {
            rc = tr_rq_obj_add(part, "file", file);
            file = NULL;
        }
        if (rc == CCP_OK) {
            rc = tr_rq_arr_add(parts, part);
            part = NULL;
        }
        goto out;
    }
    if (title != NULL) {
        rc = buf_appendf(&b, "%s", title);
    }
    if (rc == CCP_OK && type != NULL && strcmp(type, "text") == 0 && data != NULL) {
        rc = join_text(&b, TEXT_SEP, data, strlen(data));
    } else if (rc == CCP_OK && type != NULL && strcmp(type, "content") == 0 &&
               json_object_object_get_ex(src, "content", &v)) {
        rc = join_content(&b, TEXT_SEP, v);
    } else if (rc == CCP_OK && type != NULL && tr_rq_get_string(src, "url") != NULL) {
        rc = buf_appendf(&b, "%sDocument: %s", b.len > 0 ? TEXT_SEP : "",
                         tr_rq_get_string(src, "url"));
    }
    if (rc == CCP_OK) {
        rc = add_text_part(parts, b.ptr, b.len);
    }
out:
    json_object_put(file);
    json_object_put(part);
    buf_release(&b);
    return rc;
}

/* A document inside a tool_result: its text joins b; a PDF (file part)
 * moves to imgs like an image, leaving a note in b. */
static enum ccp_err tool_document(struct tr_rq_ctx *c, struct json_object *ib, const char *id,
                                  struct buf *b, struct json_object *imgs)
{
    struct json_object *tmp = json_object_new_array(), *p, *v;
    char lead[AT_LEN + 160];
    enum ccp_err rc;

    if (tmp == NULL) {
        return CCP_ERR_NOMEM;
    }
    rc = add_document_part(c, ib, tmp);
    p = rc == CCP_OK && json_object_array_length(tmp) > 0 ? json_object_array_get_idx(tmp, 0)
                                                          : NULL;
    if (p != NULL && type_is(p, "file")) {
        (void)snprintf(lead, sizeof(lead), TOOL_FILE_LEAD, id);
        rc = add_text_part(imgs, lead, strlen(lead));
        if (rc == CCP_OK) {
            rc = tr_rq_arr_add(imgs, json_object_get(p));
        }
        if (rc == CCP_OK) {
            rc = join_text(b, TEXT_SEP, TOOL_FILE_NOTE, strlen(TOOL_FILE_NOTE));
        }
    } else if (p != NULL && json_object_object_get_ex(p, "text", &v)) {
        rc = join_text(b, TEXT_SEP, json_object_get_string(v),
                       (size_t)json_object_get_string_len(v));
    }
    json_object_put(tmp);
    return rc;
}

/* Render one block of a tool_result's content into text b; images go to
 * imgs (with a text part naming the tool call) and leave a note in b. Text
 * blocks give their text; other blocks their "text" if any, else their JSON
 * (e.g. a ToolSearch tool_reference, so the model sees which tool loaded). */
static enum ccp_err tool_result_block(struct tr_rq_ctx *c, struct json_object *ib, const char *at,
                                      const char *id, struct buf *b, struct json_object *imgs)
{
    char lead[AT_LEN + 160];
    const char *s;
    size_t n;
    enum ccp_err rc;

    if (type_is(ib, "image")) {
        (void)snprintf(lead, sizeof(lead), TOOL_IMAGE_LEAD, id);
        rc = add_text_part(imgs, lead, strlen(lead));
        if (rc == CCP_OK) {
            rc = add_image_part(c, ib, at, imgs);
        }
        if (rc == CCP_OK) {
            rc = join_text(b, TEXT_SEP, TOOL_IMAGE_NOTE, strlen(TOOL_IMAGE_NOTE));
        }
        return rc;
    }
    if (type_is(ib, "document")) {
        return tool_document(c, ib, id, b, imgs);
    }
    if (block_text(ib, &s, &n)) {
        return join_text(b, TEXT_SEP, s, n);
    }
    if (json_object_is_type(ib, json_type_null)) {
        return CCP_OK;
    }
    s = json_object_to_json_string_ext(ib, TR_RQ_JSON_FLAGS);
    if (s == NULL) {
        return CCP_ERR_NOMEM;
    }
    return join_text(b, TEXT_SEP, s, strlen(s));
}

/* True if a tool_result says "is_error": true. */
static bool result_is_error(struct json_object *blk)
{
    struct json_object *v;

    return json_object_object_get_ex(blk, "is_error", &v) &&
           json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* The text of a tool_result (blk, id known) into b: its blocks rendered
 * by tool_result_block, and with is_error true prefixed "Error: " (or just
 * "Error" when the result has no text). */
static enum ccp_err result_text(struct tr_rq_ctx *c, struct json_object *blk, const char *at,
                                const char *id, struct buf *b, struct json_object *imgs)
{
    struct json_object *content = NULL;
    char inner[AT_LEN + 32];
    struct buf *t = &c->text; /* kept for the next tool_result */
    bool is_error;
    size_t i;
    enum ccp_err rc = CCP_OK;

    buf_reset(t);
    is_error = result_is_error(blk);
    (void)json_object_object_get_ex(blk, "content", &content);
    if (json_object_is_type(content, json_type_array)) {
        for (i = 0; i < json_object_array_length(content) && rc == CCP_OK; i++) {
            (void)snprintf(inner, sizeof(inner), "%s.content.%zu", at, i);
            rc = tool_result_block(c, json_object_array_get_idx(content, i), inner, id, t, imgs);
        }
    } else if (json_object_is_type(content, json_type_string)) {
        rc = buf_append(t, json_object_get_string(content),
                        (size_t)json_object_get_string_len(content));
    } else {
        /* null or absent gives "", anything else its JSON */
        rc = tool_result_block(c, content, at, id, t, imgs);
    }
    if (rc == CCP_OK && is_error) {
        rc = buf_append_cstr(b, t->len > 0 ? "Error: " : "Error");
    }
    if (rc == CCP_OK) {
        rc = buf_append(b, t->ptr, t->len);
    }
    return rc;
}

/* True if the array of strings arr holds s. */
static bool has_id(struct json_object *arr, const char *s)
{
    size_t i;

    for (i = 0; i < json_object_array_length(arr); i++) {
        if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), s) == 0) {
            return true;
        }
    }
    return false;
}

/* {"role":"tool","tool_call_id":id,"content":text} appended to msgs, or,
 * when msgs[first..] already holds a tool message for id (a second
 * tool_result for the same call), text appended to its content after a
 * newline: exactly one tool message per tool call. */
static enum ccp_err add_tool_msg_src(struct tr_rq_ctx *c, struct json_object *msgs, size_t first,
                                     const char *id, const char *text, size_t n,
                                     struct json_object *src)
{
    struct json_object *m, *v;
    const char *old;
    struct buf b;
    size_t i;
    enum ccp_err rc;

    for (i = first; i < json_object_array_length(msgs); i++) {
        m = json_object_array_get_idx(msgs, i);
        old = tr_rq_get_string(m, "tool_call_id");
        if (old == NULL || strcmp(old, id) != 0 || !json_object_object_get_ex(m, "content", &v)) {
            continue;
        }
        buf_init(&b, c->o->max_out);
        rc = join_text(&b, TEXT_SEP, json_object_get_string(v),
                       (size_t)json_object_get_string_len(v));
        if (rc == CCP_OK) {
            rc = join_text(&b, TEXT_SEP, text, n);
        }
        if (rc == CCP_OK) {
            rc = tr_rq_obj_add(m, "content", tr_rq_string_from_buf(&b));
        }
        buf_release(&b);
        return rc;
    }
    m = json_object_new_object();
    if (m == NULL) {
        return CCP_ERR_NOMEM;
    }
    rc = tr_rq_obj_add(m, "role", json_object_new_string("tool"));
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(m, "tool_call_id", json_object_new_string(id));
    }
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(m, "content",
                           src != NULL ? json_object_get(src)
                                       : json_object_new_string_len(n > 0 ? text : "", (int)n));
    }
    if (rc != CCP_OK) {
        json_object_put(m);
        return rc;
    }
    return tr_rq_arr_add(msgs, m);
}

/* add_tool_msg_src with a copy of text. */
static enum ccp_err add_tool_msg(struct tr_rq_ctx *c, struct json_object *msgs, size_t first,
                                 const char *id, const char *text, size_t n)
{
    return add_tool_msg_src(c, msgs, first, id, text, n, NULL);
}

/* A tool_result block. When its id answers a call of the assistant message
 * before it (in pending) it becomes a tool message (see add_tool_msg) and
 * the id goes to answered; otherwise the upstream would reject a tool
 * message, so its text goes to parts as user text after TOOL_ORPHAN_LEAD.
 * Images inside go to imgs. */
static enum ccp_err tool_result(struct tr_rq_ctx *c, struct json_object *blk, const char *at,
                                struct json_object *msgs, size_t first, struct json_object *pending,
                                struct json_object *answered, struct json_object *imgs,
                                struct json_object *parts)
{
    const char *id = tr_rq_get_string(blk, "tool_use_id");
    struct json_object *content;
    struct buf b;
    enum ccp_err rc = CCP_OK;

    buf_init(&b, c->o->max_out);
    if (id == NULL) {
        rc = CCP_ERR_INVALID;
        tr_error_set(c->err, rc, "%s.tool_use_id: a tool_result needs a string tool_use_id", at);
        goto out;
    }
    if (!has_id(pending, id)) {
        rc = buf_appendf(&b, TOOL_ORPHAN_LEAD, id);
        if (rc == CCP_OK) {
            rc = result_text(c, blk, at, id, &b, imgs);
        }
        if (rc == CCP_OK) {
            rc = add_text_part(parts, b.ptr, b.len);
        }
        goto out;
    }
    if (json_object_object_get_ex(blk, "content", &content) &&
        json_object_is_type(content, json_type_string) && !result_is_error(blk)) {
        /* the usual result, a string that is not an error: its text is that
         * string (see result_text), which the tool message shares */
        rc = add_tool_msg_src(c, msgs, first, id, json_object_get_string(content),
                              (size_t)json_object_get_string_len(content), content);
    } else {
        rc = result_text(c, blk, at, id, &b, imgs);
        if (rc == CCP_OK) {
            rc = add_tool_msg(c, msgs, first, id, b.ptr, b.len);
        }
    }
    if (rc == CCP_OK && !has_id(answered, id)) {
        rc = tr_rq_arr_add(answered, json_object_new_string(id));
    }
out:
    buf_release(&b);
    return rc;
}

/* A synthetic tool message for every id in pending that is not in
 * answered (NULL: none answered); pending is emptied. */
static enum ccp_err unanswered(struct tr_rq_ctx *c, struct json_object *msgs, size_t first,
                               struct json_object *pending, struct json_object *answered)
{
    const char *id;
    size_t i;
    enum ccp_err rc = CCP_OK;

    for (i = 0; i < json_object_array_length(pending) && rc == CCP_OK; i++) {
        id = json_object_get_string(json_object_array_get_idx(pending, i));
        if (answered == NULL || !has_id(answered, id)) {
            rc = add_tool_msg(c, msgs, first, id, TOOL_NO_RESULT, strlen(TOOL_NO_RESULT));
        }
    }
    if (rc == CCP_OK && json_object_array_length(pending) > 0 &&
        json_object_array_del_idx(pending, 0, json_object_array_length(pending)) != 0) {
        rc = CCP_ERR_NOMEM;
    }
    return rc;
}

/* Set *content to the user content for parts: the joined texts as one
 * string when there is no image part, else the parts array itself. */
static enum ccp_err user_content(struct tr_rq_ctx *c, struct json_object *parts,
                                 struct json_object **content)
{
    struct json_object *p, *v;
    struct buf b;
    size_t i;
    bool has_image = false;
    enum ccp_err rc = CCP_OK;

    for (i = 0; i < json_object_array_length(parts); i++) {
        if (type_is(json_object_array_get_idx(parts, i), "image_url") ||
            type_is(json_object_array_get_idx(parts, i), "file")) {
            has_image = true;
        }
    }
    if (has_image) {
        *content = json_object_get(parts);
        return CCP_OK;
    }
    /* one text (the usual case): that string itself, not a copy */
    if (json_object_array_length(parts) == 1 &&
        json_object_object_get_ex(json_object_array_get_idx(parts, 0), "text", &v) &&
        json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0) {
        *content = json_object_get(v);
        return CCP_OK;
    }
    buf_init(&b, c->o->max_out);
    for (i = 0; i < json_object_array_length(parts) && rc == CCP_OK; i++) {
        p = json_object_array_get_idx(parts, i);
        if (json_object_object_get_ex(p, "text", &v)) {
            rc = join_text(&b, TEXT_SEP, json_object_get_string(v),
                           (size_t)json_object_get_string_len(v));
        }
    }
    if (rc == CCP_OK) {
        *content = tr_rq_string_from_buf(&b);
        rc = *content != NULL ? CCP_OK : CCP_ERR_NOMEM;
    }
    buf_release(&b);
    return rc;
}

/* The blocks of a user message other than tool_result, appended to parts:
 * text, image and document; thinking dropped; unknown blocks kept as text when they
 * have a "text" string, else dropped. */
static enum ccp_err user_block(struct tr_rq_ctx *c, struct json_object *blk, const char *at,
                               struct json_object *parts)
{
    struct json_object *v;
    const char *s;
    size_t n;

    if (type_is(blk, "tool_result")) {
        return CCP_OK;
    }
    if (type_is(blk, "image")) {
        return add_image_part(c, blk, at, parts);
    }
    if (type_is(blk, "document")) {
        return add_document_part(c, blk, parts);
    }
    if (type_is(blk, "thinking") || type_is(blk, "redacted_thinking")) {
        return CCP_OK;
    }
    if (block_text_obj(blk, &s, &n, &v)) {
        return add_text_part_src(parts, s, n, v);
    }
    return CCP_OK;
}

/* A user message. Its tool_result blocks become tool messages first, in the
 * order received; then one user message carries the images found inside
 * tool results followed by the user's own text and images. */
static enum ccp_err user_msg(struct tr_rq_ctx *c, size_t mi, struct json_object *content,
                             struct json_object *msgs, struct json_object *pending)
{
    struct json_object *parts = NULL, *orphans = NULL, *answered = NULL, *m = NULL, *blk;
    struct json_object *uc = NULL;
    char at[AT_LEN];
    size_t i, ntool = 0, n, first = json_object_array_length(msgs);
    enum ccp_err rc = CCP_OK;

    if (json_object_is_type(content, json_type_string)) {
        rc = unanswered(c, msgs, first, pending, NULL);
        uc = json_object_get(content);
        if (rc != CCP_OK) {
            goto out;
        }
        goto emit;
    }
    parts = json_object_new_array();
    orphans = json_object_new_array();
    answered = json_object_new_array();
    if (parts == NULL || orphans == NULL || answered == NULL) {
        rc = CCP_ERR_NOMEM;
        goto out;
    }
    n = json_object_array_length(content);
    for (i = 0; i < n && rc == CCP_OK; i++) {
        blk = json_object_array_get_idx(content, i);
        if (type_is(blk, "tool_result")) {
            (void)snprintf(at, sizeof(at), "messages.%zu.content.%zu", mi, i);
            rc = tool_result(c, blk, at, msgs, first, pending, answered, parts, orphans);
            ntool++;
        }
    }
    if (rc == CCP_OK) {
        rc = unanswered(c, msgs, first, pending, answered);
    }
    /* orphaned results lead the user's own blocks, after moved images */
    for (i = 0; i < json_object_array_length(orphans) && rc == CCP_OK; i++) {
        rc = tr_rq_arr_add(parts, json_object_get(json_object_array_get_idx(orphans, i)));
    }
    for (i = 0; i < n && rc == CCP_OK; i++) {
        (void)snprintf(at, sizeof(at), "messages.%zu.content.%zu", mi, i);
        rc = user_block(c, json_object_array_get_idx(content, i), at, parts);
    }
    if (rc != CCP_OK || (ntool > 0 && json_object_array_length(parts) == 0)) {
        goto out;
    }
    rc = user_content(c, parts, &uc);
    if (rc != CCP_OK) {
        goto out;
    }
emit:
    rc = CCP_ERR_NOMEM;
    m = json_object_new_object();
    if (m == NULL) {
        goto out;
    }
    rc = tr_rq_obj_add(m, "role", json_object_new_string("user"));
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(m, "content", uc);
        uc = NULL;
    }
    if (rc == CCP_OK) {
        rc = tr_rq_arr_add(msgs, m);
        m = NULL;
    }
out:
    json_object_put(uc);
    json_object_put(m);
    json_object_put(answered);
    json_object_put(orphans);
    json_object_put(parts);
    return rc;
}

/* {"id":..,"type":"function","function":{"name":..,"arguments":"<json>"}}
 * for a tool_use block, appended to calls. */
static enum ccp_err tool_call(struct tr_rq_ctx *c, struct json_object *blk, const char *at,
                              struct json_object *calls)
{
    struct json_object *input = NULL, *call = NULL, *fn = NULL;
    const char *id = tr_rq_get_string(blk, "id"), *name = tr_rq_get_string(blk, "name");
    char uname[TR_TOOL_NAME_MAX + 1];
    struct buf args;
    enum ccp_err rc = CCP_ERR_INVALID;

    buf_init(&args, c->o->max_out);
    if (id == NULL || name == NULL) {
        tr_error_set(c->err, rc, "%s: a tool_use block needs string id and name", at);
        goto out;
    }
    name = tr_tool_name_upstream(name, uname);
    if (json_object_object_get_ex(blk, "input", &input) && input != NULL) {
        rc = tr_json_append(input, &args);
    } else {
        rc = buf_append(&args, "{}", 2);
    }
    if (rc == CCP_OK && args.len > (size_t)INT_MAX) {
        rc = CCP_ERR_TOO_LARGE;
    }
    if (rc != CCP_OK) {
        goto out;
    }
    rc = CCP_ERR_NOMEM;
    call = json_object_new_object();
    fn = json_object_new_object();
    if (call == NULL || fn == NULL) {
        goto out;
    }
    rc = tr_rq_obj_add(fn, "name", json_object_new_string(name));
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(fn, "arguments", json_object_new_string_len(args.ptr, (int)args.len));
    }
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(call, "id", json_object_new_string(id));
    }
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(call, "type", json_object_new_string("function"));
    }
    if (rc == CCP_OK) {
        rc = tr_rq_obj_add(call, "function", fn);
        fn = NULL;
    }
    if (rc == CCP_OK) {
        rc = tr_rq_arr_add(calls, call);
        call = NULL;
    }
out:
    json_object_put(fn);
    json_object_put(call);
    buf_release(&args);
    return rc;
}

/* The ids of the tool calls in calls appended to pending. */
static enum ccp_err note_calls(struct json_object *calls, struct json_object *pending)
{
    const char *id;
    size_t i;
    enum ccp_err rc = CCP_OK;

    for (i = 0; i < json_object_array_length(calls) && rc == CCP_OK; i++) {
        id = tr_rq_get_string(json_object_array_get_idx(calls, i), "id");
        if (id != NULL && !has_id(pending, id)) {
            rc = tr_rq_arr_add(pending, json_object_new_string(id));
        }
    }
    return rc;
}

/* An assistant message: text blocks joined, tool_use blocks as tool_calls
 * (content null when there is no text; their ids go to pending), images
 * dropped, unknown blocks kept when they have a "text" string. Thinking
 * blocks are joined into reasoning_content when the model replays
 * reasoning (c->caps.replay), else dropped; redacted_thinking is always
 * dropped. A message left with neither text nor tool calls is dropped. */
static enum ccp_err assistant_msg(struct tr_rq_ctx *c, size_t mi, struct json_object *content,
                                  struct json_object *msgs, struct json_object *pending)
{
    struct json_object *calls = NULL, *m = NULL, *blk, *v;
    char at[AT_LEN];
    const char *s;
    struct buf b, r;
    size_t i, n;
    enum ccp_err rc = CCP_ERR_NOMEM;

    buf_init(&b, c->o->max_out);
    buf_init(&r, c->o->max_out);
    calls = json_object_new_array();
    if (calls == NULL) {
        goto out;
    }
    rc =
        join_content(&b, TEXT_SEP, json_object_is_type(content, json_type_string) ? content : NULL);
    for (i = 0; json_object_is_type(content, json_type_array) &&
                i < json_object_array_length(content) && rc == CCP_OK;
         i++) {
        blk = json_object_array_get_idx(content, i);
        if (type_is(blk, "tool_use")) {
            (void)snprintf(at, sizeof(at), "messages.%zu.content.%zu", mi, i);
            rc = tool_call(c, blk, at, calls);
        } else if (type_is(blk, "thinking")) {
            if (c->caps.replay && json_object_object_get_ex(blk, "thinking", &v) &&
                json_object_is_type(v, json_type_string)) {
                rc = join_text(&r, TEXT_SEP, json_object_get_string(v),
                               (size_t)json_object_get_string_len(v));
            }
        } else if (!type_is(blk, "thinking") && !type_is(blk, "redacted_thinking") &&
                   block_text(blk, &s, &n)) {
            rc = join_text(&b, TEXT_SEP, s, n);
        }
    }
    if (rc != CCP_OK || (b.len == 0 && json_object_array_length(calls) == 0)) {
        goto out;
    }
    rc = CCP_ERR_NOMEM;
    m = json_object_new_object();
    if (m == NULL) {
        goto out;
    }
    rc = tr_rq_obj_add(m, "role", json_object_new_string("assistant"));
    if (rc == CCP_OK && b.len > 0) {
        rc = tr_rq_obj_add(m, "content", tr_rq_string_from_buf(&b));
    } else if (rc == CCP_OK &&
               json_object_object_add_ex(m, "content", NULL, JSON_C_OBJECT_KEY_IS_CONSTANT) != 0) {
        rc = CCP_ERR_NOMEM;
    }
    if (rc == CCP_OK && r.len > 0) {
        rc = tr_rq_obj_add(m, "reasoning_content", tr_rq_string_from_buf(&r));
    }
    if (rc == CCP_OK && json_object_array_length(calls) > 0) {
        rc = note_calls(calls, pending);
        if (rc == CCP_OK) {
            rc = tr_rq_obj_add(m, "tool_calls", json_object_get(calls));
        }
    }
    if (rc == CCP_OK) {
        rc = tr_rq_arr_add(msgs, m);
        m = NULL;
    }
out:
    json_object_put(m);
    json_object_put(calls);
    buf_release(&r);
    buf_release(&b);
    return rc;
}

/* A message with role "system" inside `messages` (Claude Code sends these)
 * becomes a system message at the same place; dropped when empty. */
static enum ccp_err system_msg(struct tr_rq_ctx *c, struct json_object *content,
                               struct json_object *msgs)
{
    struct buf b;
    enum ccp_err rc;

    buf_init(&b, c->o->max_out);
    rc = join_content(&b, SYSTEM_SEP, content);
    if (rc == CCP_OK && b.len > 0) {
        rc = add_text_msg(msgs, "system", &b);
    }
    buf_release(&b);
    return rc;
}

/* Tool calls of the last assistant message still waiting for their
 * results (pending) are answered by the next user message; when the next
 * assistant message (or the end) comes first, each gets a synthetic tool
 * message (TOOL_NO_RESULT), so the upstream accepts the history. A system
 * message that comes while calls are pending is held back (held) and sent
 * after the next user message, since nothing may sit between an assistant
 * message and its tool messages. */
enum ccp_err tr_rq_messages(struct tr_rq_ctx *c, struct json_object *in, struct json_object *msgs)
{
    struct json_object *msg, *content, *pending = json_object_new_array();
    struct json_object *held = json_object_new_array();
    const char *role;
    size_t i, j;
    enum ccp_err rc = CCP_OK;

    if (pending == NULL || held == NULL) {
        rc = CCP_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < json_object_array_length(in) && rc == CCP_OK; i++) {
        msg = json_object_array_get_idx(in, i);
        if (!json_object_is_type(msg, json_type_object)) {
            rc = CCP_ERR_INVALID;
            tr_error_set(c->err, rc, "messages.%zu: must be an object", i);
            break;
        }
        role = tr_rq_get_string(msg, "role");
        if (!json_object_object_get_ex(msg, "content", &content) ||
            (!json_object_is_type(content, json_type_string) &&
             !json_object_is_type(content, json_type_array))) {
            rc = CCP_ERR_INVALID;
            tr_error_set(c->err, rc,
                         "messages.%zu.content: must be a string or an array of content blocks", i);
            break;
        }
        if (role != NULL && strcmp(role, "assistant") == 0) {
            rc = unanswered(c, msgs, json_object_array_length(msgs), pending, NULL);
        }
        for (j = 0; rc == CCP_OK && role != NULL && strcmp(role, "system") != 0 &&
                    json_object_array_length(pending) == 0 && j < json_object_array_length(held);
             j++) {
            rc = tr_rq_arr_add(msgs, json_object_get(json_object_array_get_idx(held, j)));
        }
        if (rc == CCP_OK && json_object_array_length(pending) == 0 &&
            json_object_array_length(held) > 0 &&
            json_object_array_del_idx(held, 0, json_object_array_length(held)) != 0) {
            rc = CCP_ERR_NOMEM;
        }
        if (rc != CCP_OK) {
            break;
        }
        if (role != NULL && strcmp(role, "user") == 0) {
            rc = user_msg(c, i, content, msgs, pending);
        } else if (role != NULL && strcmp(role, "assistant") == 0) {
            rc = assistant_msg(c, i, content, msgs, pending);
        } else if (role != NULL && strcmp(role, "system") == 0) {
            rc = system_msg(c, content, json_object_array_length(pending) > 0 ? held : msgs);
        } else {
            rc = CCP_ERR_INVALID;
            tr_error_set(c->err, rc,
                         "messages.%zu.role: must be \"user\", \"assistant\" or \"system\"", i);
        }
    }
    if (rc == CCP_OK) {
        rc = unanswered(c, msgs, json_object_array_length(msgs), pending, NULL);
    }
    for (j = 0; rc == CCP_OK && j < json_object_array_length(held); j++) {
        rc = tr_rq_arr_add(msgs, json_object_get(json_object_array_get_idx(held, j)));
    }
out:
    json_object_put(held);
    json_object_put(pending);
    return rc;
}
