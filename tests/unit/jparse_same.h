/* Shared by the jparse unit test and fuzz target: do two json-c trees hold
 * the same types, values, key order and double texts? */
#ifndef CCP_TESTS_JPARSE_SAME_H
#define CCP_TESTS_JPARSE_SAME_H

#include <stdbool.h>
#include <string.h>

#include <json-c/json.h>

static inline bool jp_same_tree(struct json_object *a, struct json_object *b)
{
    enum json_type t = json_object_get_type(a);
    size_t i, n;

    if (t != json_object_get_type(b)) {
        return false;
    }
    switch (t) {
    case json_type_null:
        return a == NULL && b == NULL;
    case json_type_boolean:
        return json_object_get_boolean(a) == json_object_get_boolean(b);
    case json_type_int:
        return json_object_get_int64(a) == json_object_get_int64(b) &&
               json_object_get_uint64(a) == json_object_get_uint64(b);
    case json_type_double: {
        double x = json_object_get_double(a), y = json_object_get_double(b);

        return memcmp(&x, &y, sizeof(x)) == 0 &&
               strcmp(json_object_to_json_string(a), json_object_to_json_string(b)) == 0;
    }
    case json_type_string:
        return json_object_get_string_len(a) == json_object_get_string_len(b) &&
               memcmp(json_object_get_string(a), json_object_get_string(b),
                      (size_t)json_object_get_string_len(a)) == 0;
    case json_type_array:
        n = json_object_array_length(a);
        if (n != json_object_array_length(b)) {
            return false;
        }
        for (i = 0; i < n; i++) {
            if (!jp_same_tree(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i))) {
                return false;
            }
        }
        return true;
    case json_type_object: {
        struct json_object_iterator ia = json_object_iter_begin(a), ea = json_object_iter_end(a);
        struct json_object_iterator ib = json_object_iter_begin(b), eb = json_object_iter_end(b);

        if (json_object_object_length(a) != json_object_object_length(b)) {
            return false;
        }
        while (!json_object_iter_equal(&ia, &ea) && !json_object_iter_equal(&ib, &eb)) {
            if (strcmp(json_object_iter_peek_name(&ia), json_object_iter_peek_name(&ib)) != 0 ||
                !jp_same_tree(json_object_iter_peek_value(&ia), json_object_iter_peek_value(&ib))) {
                return false;
            }
            json_object_iter_next(&ia);
            json_object_iter_next(&ib);
        }
        return json_object_iter_equal(&ia, &ea) && json_object_iter_equal(&ib, &eb);
    }
    }
    return false;
}

#endif /* CCP_TESTS_JPARSE_SAME_H */
