/* Fuzz target for translate/jparse.c's stream chunk reader against the
 * translator's json-c path: whatever tr_jparse_chunk takes, json_tokener
 * (flags 0, the same depth) must take whole, and stream.c's reading of the
 * json-c tree must find the same choice, texts and finish reason
 * (tests/unit/chunk_same.h). What the reader declines is json-c's. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/buf.h"
#include "tests/unit/chunk_same.h"
#include "translate/jparse.h"

#include "common/banned.h"

#define FUZZ_MAX_LEN 65536
#define FUZZ_DEPTH 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf store;
    struct tr_chunk ck;
    bool taken;

    if (size > FUZZ_MAX_LEN) {
        return 0;
    }
    buf_init(&store, FUZZ_MAX_LEN);
    taken = tr_jparse_chunk((const char *)data, size, FUZZ_DEPTH, &store, &ck);
    if (taken && jp_chunk_differs((const char *)data, size, FUZZ_DEPTH, &ck) != NULL) {
        abort();
    }
    buf_release(&store);
    return 0;
}
