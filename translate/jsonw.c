/* translate/jsonw.c: write a json-c tree into a struct buf, byte for byte what
 * json_object_to_json_string_ext gives with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE, at a fraction of its cost (json-c's writer
 * was half the translation time of a 600 KB request). */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "common/buf.h"
#include "translate/request_int.h"

#include "common/banned.h"

/* Output bytes for one input byte of a string: 1, 2 (\n \" ...) or 6 (\u00XX). */
/* clang-format off */
static const unsigned char esc_tab[256] = {
    6, 6, 6, 6, 6, 6, 6, 6, 2, 2, 2, 6, 2, 2, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};
/* clang-format on */

static size_t esc_len(unsigned char c)
{
    return esc_tab[c];
}

/* The escape for c, one of the bytes tr_json_string_stop stops at, into p;
 * returns its length (2 or 6). */
static size_t put_escape(char *p, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";

    p[0] = '\\';
    switch (c) {
    case '\b':
        p[1] = 'b';
        return 2;
    case '\n':
        p[1] = 'n';
        return 2;
    case '\r':
        p[1] = 'r';
        return 2;
    case '\t':
        p[1] = 't';
        return 2;
    case '\f':
        p[1] = 'f';
        return 2;
    case '"':
    case '\\':
        p[1] = (char)c;
        return 2;
    default:
        memcpy(p + 1, "u00", 3);
        p[4] = hex[c >> 4];
        p[5] = hex[c & 0xf];
        return 6;
    }
}

/* s (n bytes) as a quoted JSON string, escaped as json-c escapes it. Two
 * passes eight bytes at a time (tr_json_string_stop): one to size the
 * output, one to copy the runs between escapes. */
static enum ccp_err put_string(struct buf *b, const char *s, size_t n)
{
    size_t i, need = n + 2;
    char *p;
    enum ccp_err rc;

    for (i = tr_json_string_stop(s, n); i < n; i += 1 + tr_json_string_stop(s + i + 1, n - i - 1)) {
        need += esc_len((unsigned char)s[i]) - 1;
    }
    rc = buf_reserve(b, need);
    if (rc != CCP_OK) {
        return rc;
    }
    p = b->ptr + b->len;
    *p++ = '"';
    i = 0;
    while (i < n) {
        size_t k = tr_json_string_stop(s + i, n - i);

        memcpy(p, s + i, k);
        p += k;
        i += k;
        if (i < n) {
            p += put_escape(p, (unsigned char)s[i]);
            i++;
        }
    }
    *p++ = '"';
    b->len = (size_t)(p - b->ptr);
    b->ptr[b->len] = '\0';
    return CCP_OK;
}

static enum ccp_err put_value(struct buf *b, struct json_object *o)
{
    enum ccp_err rc = CCP_OK;
    size_t i, n;
    bool first = true;
    const char *s;

    switch (json_object_get_type(o)) {
    case json_type_null:
        return buf_append(b, "null", 4);
    case json_type_boolean:
        return json_object_get_boolean(o) ? buf_append(b, "true", 4) : buf_append(b, "false", 5);
    case json_type_string:
        return put_string(b, json_object_get_string(o), (size_t)json_object_get_string_len(o));
    case json_type_object:
        rc = buf_putc(b, '{');
        json_object_object_foreach(o, key, val)
        {
            if (rc == CCP_OK && !first) {
                rc = buf_putc(b, ',');
            }
            first = false;
            if (rc == CCP_OK) {
                rc = put_string(b, key, strlen(key));
            }
            if (rc == CCP_OK) {
                rc = buf_putc(b, ':');
            }
            if (rc == CCP_OK) {
                rc = put_value(b, val);
            }
        }
        return rc == CCP_OK ? buf_putc(b, '}') : rc;
    case json_type_array:
        rc = buf_putc(b, '[');
        n = json_object_array_length(o);
        for (i = 0; i < n && rc == CCP_OK; i++) {
            if (i > 0) {
                rc = buf_putc(b, ',');
            }
            if (rc == CCP_OK) {
                rc = put_value(b, json_object_array_get_idx(o, i));
            }
        }
        return rc == CCP_OK ? buf_putc(b, ']') : rc;
    default:
        /* numbers: json-c's own formatting (doubles keep their parsed text) */
        s = json_object_to_json_string_ext(o, TR_RQ_JSON_FLAGS);
        return s != NULL ? buf_append(b, s, strlen(s)) : CCP_ERR_NOMEM;
    }
}

enum ccp_err tr_json_append(struct json_object *o, struct buf *out)
{
    size_t start = out->len;
    enum ccp_err rc = put_value(out, o);

    if (rc != CCP_OK) {
        out->len = start;
        if (out->ptr != NULL) {
            out->ptr[start] = '\0';
        }
    }
    return rc;
}
