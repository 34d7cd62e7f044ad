/* struct buf: a growable byte buffer with a hard maximum (after curl dynbuf).
 *
 * Invariants: ptr == NULL only while cap == 0; otherwise ptr[len] == '\0'
 * and len < cap <= max + 1. Appends never leave a partial result: on failure
 * the buffer keeps its previous contents. */
#ifndef CCP_COMMON_BUF_H
#define CCP_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "common/compiler.h"
#include "common/err.h"

struct buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max; /* the largest len allowed */
};

/* Initialize an empty buffer that may hold up to max bytes. Can't fail. */
void buf_init(struct buf *b, size_t max);
/* Append n bytes. CCP_OK, CCP_ERR_NOMEM or CCP_ERR_TOO_LARGE. */
CCP_NODISCARD enum ccp_err buf_append(struct buf *b, const void *p, size_t n);
/* Append a NUL-terminated string. */
CCP_NODISCARD enum ccp_err buf_append_cstr(struct buf *b, const char *s);
CCP_NODISCARD enum ccp_err buf_putc(struct buf *b, char c);
/* Append printf-formatted text. */
CCP_NODISCARD enum ccp_err buf_appendf(struct buf *b, const char *fmt, ...) CCP_PRINTF(2, 3);
CCP_NODISCARD enum ccp_err buf_vappendf(struct buf *b, const char *fmt, va_list ap)
    CCP_PRINTF(2, 0);
/* Append s (n bytes) as a JSON string literal with quotes. Invalid UTF-8
 * bytes are replaced by U+FFFD so the output is always valid JSON. */
CCP_NODISCARD enum ccp_err buf_append_json_string(struct buf *b, const char *s, size_t n);
/* Make room for at least n more bytes without changing len. */
CCP_NODISCARD enum ccp_err buf_reserve(struct buf *b, size_t n);
/* Like buf_reserve, as a hint before appends of about n bytes in all
 * (clamped to what max leaves): one allocation instead of a series of
 * doublings. Can't fail; if no memory is had, the appends will say so. */
void buf_presize(struct buf *b, size_t n);
/* Drop the first n bytes (n <= len), keeping the memory. */
void buf_consume(struct buf *b, size_t n);
/* Set len to 0, keep the memory. */
void buf_reset(struct buf *b);
/* Free the memory; the buffer is empty and reusable with the same max. */
void buf_release(struct buf *b);
/* Hand the NUL-terminated contents to the caller (who frees it with
 * ccp_free) and leave the buffer empty; *len_out gets the length if not NULL.
 * Returns NULL only on allocation failure of an empty buffer. */
char *buf_take(struct buf *b, size_t *len_out);

#endif /* CCP_COMMON_BUF_H */
