/* Fuzz target for coord/proto.c: decoding never reads past the input (the
 * input is copied into an allocation of exactly its size), every decoded
 * frame encodes back to the same bytes, and the result does not depend on
 * how the input is split. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "coord/proto.h"

#include "common/banned.h"

#define FUZZ_MAX_PAYLOAD 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode frames from p[0..n) as a stream reader would, with the input split
 * at cut; append each frame's re-encoding to out. Returns the status that
 * stopped decoding (CCP_DECLINED at a clean or partial end). */
static enum ccp_err decode_stream(const unsigned char *p, size_t n, size_t cut, struct buf *out)
{
    struct coord_frame f;
    size_t off = 0, avail = cut < n ? cut : n, used;
    enum ccp_err rc;

    for (;;) {
        rc = coord_decode(p + off, avail - off, FUZZ_MAX_PAYLOAD, &f, &used);
        if (rc == CCP_DECLINED && avail < n) {
            avail = n; /* the rest of the bytes arrive */
            continue;
        }
        if (rc != CCP_OK) {
            return rc;
        }
        if (used > avail - off || used != COORD_FRAME_HEADER + f.len ||
            f.payload != p + off + COORD_FRAME_HEADER) {
            abort();
        }
        if (coord_encode(out, f.type, f.payload, f.len, FUZZ_MAX_PAYLOAD) != CCP_OK) {
            abort(); /* a frame we accept must be one we can write */
        }
        /* encode after decode reproduces the bytes */
        if (memcmp(out->ptr + out->len - used, p + off, used) != 0) {
            abort();
        }
        off += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *copy;
    struct buf one, split;
    enum ccp_err rc1, rc2;
    size_t cut;

    if (size > 65536) {
        return 0;
    }
    copy = malloc(size > 0 ? size : 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    buf_init(&one, 2 * size + 64);
    buf_init(&split, 2 * size + 64);
    /* the first two bytes choose a split point */
    cut = size >= 2 ? ((size_t)data[0] << 8 | data[1]) % (size + 1) : 0;
    rc1 = decode_stream(copy, size, size, &one);
    rc2 = decode_stream(copy, size, cut, &split);
    if (rc1 != rc2 || one.len != split.len ||
        (one.len > 0 && memcmp(one.ptr, split.ptr, one.len) != 0)) {
        abort();
    }
    if (rc1 != CCP_DECLINED && rc1 != CCP_ERR_INVALID) {
        abort();
    }
    buf_release(&one);
    buf_release(&split);
    free(copy);
    return 0;
}
