/* Shared by the jparse unit test and the chunk fuzz target: does
 * tr_jparse_chunk read a stream chunk as translate/stream.c's json-c path
 * (handle_data, handle_choice) takes it apart? */
#ifndef CCP_TESTS_CHUNK_SAME_H
#define CCP_TESTS_CHUNK_SAME_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <json-c/json.h>

#include "translate/errmap_int.h"
#include "translate/jparse.h"
#include "translate/json_int.h"

static inline bool cs_same(const char *a, size_t an, const char *b, size_t bn)
{
    return (a == NULL) == (b == NULL) && (a == NULL || (an == bn && memcmp(a, b, an) == 0));
}

/* delta.tool_calls (a json-c array) as stream.c reads each object in it,
 * against fast's tool calls: NULL if the same. */
static inline const char *cs_tools_differ(struct json_object *arr, const struct tr_chunk *fast)
{
    size_t i;

    if (json_object_array_length(arr) != fast->ntools) {
        return "tool call count";
    }
    for (i = 0; i < fast->ntools; i++) {
        struct json_object *tc = json_object_array_get_idx(arr, i), *fn = NULL, *v;
        const struct tr_chunk_tool *t = &fast->tool[i];
        const char *id, *name = NULL, *args = NULL;
        size_t idn, namen = 0, argsn = 0;
        bool has_index;

        if (!json_object_is_type(tc, json_type_object)) {
            return "a tool call that is not an object";
        }
        if (json_object_object_get_ex(tc, "function", &fn) &&
            json_object_is_type(fn, json_type_object)) {
            args = tr_json_str(fn, "arguments", &argsn);
            name = tr_json_str(fn, "name", &namen);
        }
        id = tr_json_str(tc, "id", &idn);
        has_index =
            json_object_object_get_ex(tc, "index", &v) && json_object_is_type(v, json_type_int);
        if (has_index != t->has_index || (has_index && json_object_get_int64(v) != t->index)) {
            return "tool call index";
        }
        if (!cs_same(id, idn, t->id, t->id_len) || !cs_same(name, namen, t->name, t->name_len) ||
            !cs_same(args, argsn, t->args, t->args_len)) {
            return "tool call id, name or arguments";
        }
    }
    return NULL;
}

/* NULL when json-c's reading of p[0..n) (flags 0, depth) leads stream.c to
 * do exactly what fast (tr_jparse_chunk's reading, which took the text)
 * leads it to do; else what differs. */
static inline const char *jp_chunk_differs(const char *p, size_t n, int depth,
                                           const struct tr_chunk *fast)
{
    static const char *const keys[TR_CHUNK_FIELDS] = {"reasoning_content", "reasoning", "content",
                                                      "refusal", "finish_reason"};
    struct json_tokener *tok = json_tokener_new_ex(depth);
    struct json_object *root, *v, *ch = NULL, *delta = NULL;
    const char *why = NULL;
    struct tr_chunk slow;
    size_t end, i;

    if (tok == NULL) {
        return "out of memory";
    }
    root = json_tokener_parse_ex(tok, p, (int)n);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        why = "json-c refuses the text";
        goto out;
    }
    for (end = json_tokener_get_parse_end(tok); end < n; end++) {
        if (strchr(" \t\r\n", p[end]) == NULL || p[end] == '\0') {
            why = "json-c stops before the end";
            goto out;
        }
    }
    if (!json_object_is_type(root, json_type_object)) {
        why = "not an object";
        goto out;
    }
    if (tr_is_error_doc(root)) {
        why = "an error document";
        goto out;
    }
    if (json_object_object_get_ex(root, "usage", &v) && json_object_is_type(v, json_type_object)) {
        why = "usage to take";
        goto out;
    }
    memset(&slow, 0, sizeof(slow));
    if (json_object_object_get_ex(root, "choices", &v) && json_object_is_type(v, json_type_array)) {
        if (json_object_array_length(v) > 1) {
            why = "more than one choice";
            goto out;
        }
        if (json_object_array_length(v) == 1) {
            ch = json_object_array_get_idx(v, 0);
            if (!json_object_is_type(ch, json_type_object)) {
                why = "a choice json-c's path skips";
                goto out;
            }
            slow.choice =
                !json_object_object_get_ex(ch, "index", &v) || json_object_get_int64(v) == 0;
        }
    }
    if (slow.choice != fast->choice) {
        why = "choice taken by one reading only";
        goto out;
    }
    if (!slow.choice) {
        goto out; /* nothing else is read */
    }
    if (json_object_object_get_ex(ch, "delta", &delta) &&
        json_object_is_type(delta, json_type_object)) {
        for (i = 0; i < TR_CHUNK_FINISH_REASON; i++) {
            slow.s[i] = tr_json_str(delta, keys[i], &slow.n[i]);
        }
        if (json_object_object_get_ex(delta, "tool_calls", &v) &&
            json_object_is_type(v, json_type_array)) {
            why = cs_tools_differ(v, fast);
            if (why != NULL) {
                goto out;
            }
        } else if (fast->ntools > 0) {
            why = "tool calls read by one reading only";
            goto out;
        }
    } else if (fast->ntools > 0) {
        why = "tool calls read by one reading only";
        goto out;
    }
    slow.s[TR_CHUNK_FINISH_REASON] =
        tr_json_str(ch, keys[TR_CHUNK_FINISH_REASON], &slow.n[TR_CHUNK_FINISH_REASON]);
    for (i = 0; i < TR_CHUNK_FIELDS; i++) {
        if (!cs_same(slow.s[i], slow.n[i], fast->s[i], fast->n[i])) {
            why = keys[i];
            goto out;
        }
    }
out:
    json_object_put(root);
    json_tokener_free(tok);
    return why;
}

#endif /* CCP_TESTS_CHUNK_SAME_H */
