/* translate/limits.c: count and size limits on a parsed client request
 * (messages, content blocks, any one string), so hostile bodies that fit
 * the byte limit still cannot make translation or the upstream call huge. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include <json-c/json.h>

#include "translate/request_int.h"
#include "translate/translate.h"

#include "common/banned.h"

/* The first string (value or object key) longer than max, found depth
 * first; the tokener's depth limit bounds the recursion. */
static bool string_over(struct json_object *v, size_t max, size_t *found)
{
    size_t i, n;

    switch (json_object_get_type(v)) {
    case json_type_string:
        n = (size_t)json_object_get_string_len(v);
        if (n > max) {
            *found = n;
            return true;
        }
        return false;
    case json_type_array:
        n = json_object_array_length(v);
        for (i = 0; i < n; i++) {
            if (string_over(json_object_array_get_idx(v, i), max, found)) {
                return true;
            }
        }
        return false;
    case json_type_object: {
        struct json_object_iterator it = json_object_iter_begin(v);
        struct json_object_iterator end = json_object_iter_end(v);

        while (!json_object_iter_equal(&it, &end)) {
            size_t klen = strlen(json_object_iter_peek_name(&it));

            if (klen > max) {
                *found = klen;
                return true;
            }
            if (string_over(json_object_iter_peek_value(&it), max, found)) {
                return true;
            }
            json_object_iter_next(&it);
        }
        return false;
    }
    default:
        return false;
    }
}

static size_t blocks_of(struct json_object *content)
{
    return json_object_is_type(content, json_type_array) ? json_object_array_length(content) : 0;
}

enum ccp_err tr_rq_check_limits(struct tr_rq_ctx *c, struct json_object *root)
{
    const struct tr_opts *o = c->o;
    struct json_object *msgs = NULL, *sys = NULL, *content = NULL;
    size_t nmsg = 0, blocks = 0, i, found = 0;

    if (json_object_object_get_ex(root, "messages", &msgs) &&
        json_object_is_type(msgs, json_type_array)) {
        nmsg = json_object_array_length(msgs);
    }
    if (o->max_messages > 0 && nmsg > o->max_messages) {
        tr_error_set(c->err, CCP_ERR_INVALID,
                     "messages: %zu messages is more than the limit of %zu (MAX_MESSAGES)", nmsg,
                     o->max_messages);
        return CCP_ERR_INVALID;
    }
    if (o->max_content_blocks > 0) {
        if (json_object_object_get_ex(root, "system", &sys)) {
            blocks += blocks_of(sys);
        }
        for (i = 0; i < nmsg; i++) {
            if (json_object_object_get_ex(json_object_array_get_idx(msgs, i), "content",
                                          &content)) {
                blocks += blocks_of(content);
            }
        }
        if (blocks > o->max_content_blocks) {
            tr_error_set(c->err, CCP_ERR_INVALID,
                         "%zu content blocks is more than the limit of %zu (MAX_CONTENT_BLOCKS)",
                         blocks, o->max_content_blocks);
            return CCP_ERR_INVALID;
        }
    }
    if (o->max_string_bytes > 0 && string_over(root, o->max_string_bytes, &found)) {
        tr_error_set(c->err, CCP_ERR_INVALID,
                     "a string of %zu bytes is longer than the limit of %zu bytes "
                     "(MAX_STRING_BYTES)",
                     found, o->max_string_bytes);
        return CCP_ERR_INVALID;
    }
    return CCP_OK;
}
