/* translate/sse.c: split a text/event-stream into lines and fields, fed in
 * arbitrary chunks; the result does not depend on where chunks end. */
#include "config.h"

#include <string.h>

#include "translate/sse_int.h"

#include "common/banned.h"

void tr_sse_init(struct tr_sse *s, size_t max_line)
{
    buf_init(&s->pending, max_line);
    s->max_line = max_line;
    s->skip_lf = false;
    s->first_line = true;
}

void tr_sse_release(struct tr_sse *s)
{
    buf_release(&s->pending);
}

/* Split one complete line and hand it to fn. */
static enum ccp_err deliver(struct tr_sse *s, const char *p, size_t n, tr_sse_line_fn fn, void *ctx)
{
    struct tr_sse_line line;
    const char *colon;

    if (s->first_line) {
        s->first_line = false;
        if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
            p += 3;
            n -= 3;
        }
    }
    memset(&line, 0, sizeof(line));
    line.field.ptr = p;
    line.value.ptr = p + n;
    if (n == 0) {
        line.blank = true;
        return fn(ctx, &line);
    }
    colon = memchr(p, ':', n);
    if (colon == NULL) {
        line.field.len = n;
        return fn(ctx, &line);
    }
    line.field.len = (size_t)(colon - p);
    line.comment = line.field.len == 0;
    line.value.ptr = colon + 1;
    line.value.len = n - line.field.len - 1;
    if (line.value.len > 0 && line.value.ptr[0] == ' ') {
        line.value.ptr++;
        line.value.len--;
    }
    return fn(ctx, &line);
}

enum ccp_err tr_sse_feed(struct tr_sse *s, const char *p, size_t n, tr_sse_line_fn fn, void *ctx)
{
    const char *end = p + n;
    enum ccp_err rc = CCP_OK;

    while (p < end) {
        const char *eol, *cr;
        size_t len;

        if (s->skip_lf) {
            s->skip_lf = false;
            if (*p == '\n') {
                p++;
                continue;
            }
        }
        /* the first LF or CR: memchr scans many bytes at a time */
        eol = memchr(p, '\n', (size_t)(end - p));
        cr = memchr(p, '\r', (size_t)((eol != NULL ? eol : end) - p));
        if (cr != NULL) {
            eol = cr;
        } else if (eol == NULL) {
            eol = end;
        }
        len = (size_t)(eol - p);
        if (len > s->max_line || s->pending.len > s->max_line - len) {
            return CCP_ERR_TOO_LARGE;
        }
        if (eol == end) { /* incomplete: keep it for the next chunk */
            return buf_append(&s->pending, p, len);
        }
        if (s->pending.len > 0) {
            rc = buf_append(&s->pending, p, len);
            if (rc != CCP_OK) {
                return rc;
            }
            rc = deliver(s, s->pending.ptr, s->pending.len, fn, ctx);
            buf_reset(&s->pending);
        } else {
            rc = deliver(s, p, len, fn, ctx);
        }
        if (*eol == '\r') {
            s->skip_lf = true;
        }
        p = eol + 1;
        if (rc != CCP_OK) {
            return rc;
        }
    }
    return rc;
}

enum ccp_err tr_sse_flush(struct tr_sse *s, tr_sse_line_fn fn, void *ctx)
{
    enum ccp_err rc = CCP_OK;

    if (s->pending.len > 0) {
        rc = deliver(s, s->pending.ptr, s->pending.len, fn, ctx);
        buf_reset(&s->pending);
    }
    return rc;
}
