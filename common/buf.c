/* Growable byte buffer with a hard maximum. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"

#include "common/banned.h"

#define BUF_MIN_CAP 64

void buf_init(struct buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

enum ccp_err buf_reserve(struct buf *b, size_t n)
{
    size_t need, ncap;
    char *p;

    if (n > b->max || b->len > b->max - n) {
        return CCP_ERR_TOO_LARGE;
    }
    need = b->len + n + 1;
    if (need <= b->cap) {
        return CCP_OK;
    }
    ncap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
    while (ncap < need) {
        ncap = ncap > (SIZE_MAX / 2) ? need : ncap * 2;
    }
    if (ncap > b->max + 1) {
        ncap = b->max + 1;
    }
    p = ccp_realloc(b->ptr, ncap);
    if (p == NULL) {
        return CCP_ERR_NOMEM;
    }
    b->ptr = p;
    b->cap = ncap;
    b->ptr[b->len] = '\0';
    return CCP_OK;
}

void buf_presize(struct buf *b, size_t n)
{
    if (b->len > b->max) {
        return;
    }
    if (n > b->max - b->len) {
        n = b->max - b->len;
    }
    if (buf_reserve(b, n) != CCP_OK) {
        return; /* the appends will report it */
    }
}

enum ccp_err buf_append(struct buf *b, const void *p, size_t n)
{
    enum ccp_err rc = buf_reserve(b, n);

    if (rc != CCP_OK) {
        return rc;
    }
    if (n > 0) {
        memcpy(b->ptr + b->len, p, n);
    }
    b->len += n;
    b->ptr[b->len] = '\0';
    return CCP_OK;
}

enum ccp_err buf_append_cstr(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum ccp_err buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

enum ccp_err buf_vappendf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    enum ccp_err rc;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        return CCP_ERR_INTERNAL;
    }
    rc = buf_reserve(b, (size_t)n);
    if (rc != CCP_OK) {
        return rc;
    }
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return CCP_OK;
}

enum ccp_err buf_appendf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    enum ccp_err rc;

    va_start(ap, fmt);
    rc = buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) {
            return 0;
        }
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F)) {
            return 0; /* overlong or surrogate */
        }
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) {
            return 0;
        }
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F)) {
            return 0;
        }
        return 4;
    }
    return 0;
}

enum ccp_err buf_append_json_string(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t oldlen = b->len, i = 0, run;
    enum ccp_err rc;

    rc = buf_putc(b, '"');
    while (rc == CCP_OK && i < n) {
        /* copy the longest run of bytes that need no escaping */
        run = i;
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\') {
            run++;
        }
        if (run > i) {
            rc = buf_append(b, p + i, run - i);
            i = run;
            continue;
        }
        if (p[i] >= 0x80) {
            size_t sl = utf8_seq_len(p + i, n - i);
            if (sl == 0) {
                rc = buf_append(b, "\xEF\xBF\xBD", 3);
                i++;
            } else {
                rc = buf_append(b, p + i, sl);
                i += sl;
            }
            continue;
        }
        switch (p[i]) {
        case '"':
            rc = buf_append(b, "\\\"", 2);
            break;
        case '\\':
            rc = buf_append(b, "\\\\", 2);
            break;
        case '\n':
            rc = buf_append(b, "\\n", 2);
            break;
        case '\r':
            rc = buf_append(b, "\\r", 2);
            break;
        case '\t':
            rc = buf_append(b, "\\t", 2);
            break;
        case '\b':
            rc = buf_append(b, "\\b", 2);
            break;
        case '\f':
            rc = buf_append(b, "\\f", 2);
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[p[i] >> 4], hex[p[i] & 0xF]};
            rc = buf_append(b, esc, sizeof(esc));
            break;
        }
        }
        i++;
    }
    if (rc == CCP_OK) {
        rc = buf_putc(b, '"');
    }
    if (rc != CCP_OK && b->ptr != NULL) {
        b->len = oldlen;
        b->ptr[oldlen] = '\0';
    }
    return rc;
}

void buf_consume(struct buf *b, size_t n)
{
    CCP_ASSERT(n <= b->len);
    if (n == 0) {
        return;
    }
    memmove(b->ptr, b->ptr + n, b->len - n);
    b->len -= n;
    b->ptr[b->len] = '\0';
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->ptr != NULL) {
        b->ptr[0] = '\0';
    }
}

void buf_release(struct buf *b)
{
    CCP_FREE(b->ptr);
    b->len = 0;
    b->cap = 0;
}

char *buf_take(struct buf *b, size_t *len_out)
{
    char *p;

    if (b->ptr == NULL) {
        p = ccp_strdup("");
        if (p != NULL && len_out != NULL) {
            *len_out = 0;
        }
        return p;
    }
    p = b->ptr;
    if (len_out != NULL) {
        *len_out = b->len;
    }
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
