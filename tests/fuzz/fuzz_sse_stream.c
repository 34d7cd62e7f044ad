/* Fuzz target for translate/stream.c and sse.c: the first two bytes choose
 * a chunk size, the rest is an upstream event stream. Fed in one piece and
 * in chunks, the output, result and token counts must be identical. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "translate/translate.h"

#include "common/banned.h"

#define FUZZ_MAX_LEN 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run the stream over p[0..n) in pieces of `step` bytes (n: one piece);
 * the result code of the first failure or of finish. */
static enum ccp_err run(const struct tr_opts *o, const struct tr_reqinfo *info, const char *p,
                        size_t n, size_t step, struct buf *out, unsigned long *tin,
                        unsigned long *tout)
{
    struct tr_stream *st = tr_stream_new(o, info, "msg_fuzz");
    struct tr_error err;
    enum ccp_err rc = CCP_OK;
    size_t off = 0;

    if (st == NULL) {
        abort();
    }
    memset(&err, 0, sizeof(err));
    while (off < n && rc == CCP_OK) {
        size_t k = n - off < step ? n - off : step;

        rc = tr_stream_feed(st, p + off, k, out, &err);
        off += k;
    }
    if (rc == CCP_OK) {
        rc = tr_stream_finish(st, out, &err);
    }
    tr_stream_usage(st, tin, tout);
    tr_stream_free(st);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_opts o;
    struct tr_reqinfo info;
    struct buf a, b;
    unsigned long ain = 0, aout = 0, bin = 0, bout = 0;
    enum ccp_err ra, rb;
    size_t step;

    if (size < 2 || size > FUZZ_MAX_LEN) {
        return 0;
    }
    step = ((size_t)data[0] << 8 | data[1]) % 97 + 1;
    data += 2;
    size -= 2;
    memset(&o, 0, sizeof(o));
    o.max_json_depth = 64;
    o.max_out = 4 << 20;
    o.max_sse_line = 8192;
    memset(&info, 0, sizeof(info));
    info.stream = true;
    memcpy(info.client_model, "claude-sonnet-4-5", sizeof("claude-sonnet-4-5"));
    buf_init(&a, 64 << 20);
    buf_init(&b, 64 << 20);
    ra = run(&o, &info, (const char *)data, size, size > 0 ? size : 1, &a, &ain, &aout);
    rb = run(&o, &info, (const char *)data, size, step, &b, &bin, &bout);
    if (ra != rb || a.len != b.len || (a.len > 0 && memcmp(a.ptr, b.ptr, a.len) != 0) ||
        ain != bin || aout != bout) {
        abort();
    }
    buf_release(&a);
    buf_release(&b);
    return 0;
}
