/* translate/sse_int.h: an incremental parser of text/event-stream lines
 * (WHATWG SSE framing), fed arbitrary chunks. Internal to translate/. */
#ifndef CCP_TRANSLATE_SSE_INT_H
#define CCP_TRANSLATE_SSE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/err.h"
#include "common/str.h"

/* One complete line: `field` is the part before the first ':' (the whole
 * line when there is none; empty for a comment), `value` the rest with one
 * leading space removed. Blank lines are reported with both empty and
 * `blank` set. The views live until the callback returns. */
struct tr_sse_line {
    struct str field;
    struct str value;
    bool comment;
    bool blank;
};

/* Called for each line; a result other than CCP_OK stops the feed, which
 * returns it. */
typedef enum ccp_err (*tr_sse_line_fn)(void *ctx, const struct tr_sse_line *line);

struct tr_sse {
    struct buf pending; /* bytes of an incomplete line (without terminator) */
    size_t max_line;    /* longest line accepted, terminator excluded */
    bool skip_lf;       /* the previous chunk ended in CR: drop a leading LF */
    bool first_line;    /* no line seen yet: strip a UTF-8 BOM */
};

/* Initialize; lines longer than max_line make tr_sse_feed fail with
 * CCP_ERR_TOO_LARGE. Can't fail. */
void tr_sse_init(struct tr_sse *s, size_t max_line);
/* Split p[0..n) into lines (LF, CRLF or CR end a line, also across chunk
 * boundaries) and call fn for each complete one. The remainder is kept for
 * the next call. Returns CCP_OK, fn's first error, CCP_ERR_TOO_LARGE or
 * CCP_ERR_NOMEM. */
CCP_NODISCARD enum ccp_err tr_sse_feed(struct tr_sse *s, const char *p, size_t n, tr_sse_line_fn fn,
                                       void *ctx);
/* Deliver a last line left without a terminator, if any (the upstream
 * closed mid-line). */
CCP_NODISCARD enum ccp_err tr_sse_flush(struct tr_sse *s, tr_sse_line_fn fn, void *ctx);
/* Free the pending buffer. A zeroed or released parser is fine. */
void tr_sse_release(struct tr_sse *s);

#endif /* CCP_TRANSLATE_SSE_INT_H */
