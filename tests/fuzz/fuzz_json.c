/* Fuzz target for translate/jparse.c against json-c itself: whatever the
 * fast path accepts, json_tokener (flags 0, the same depth) must accept
 * whole, into the same tree (types, values, key order, double texts) and
 * the same serialized bytes, which translate/jsonw.c's writer must give
 * too. What the fast path declines is json-c's. */
#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/buf.h"
#include "tests/unit/jparse_same.h"
#include "translate/jparse.h"
#include "translate/json_int.h"

#include "common/banned.h"

#define FUZZ_MAX_LEN 65536
#define FUZZ_DEPTH 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_tokener *tok;
    struct json_object *fast, *slow;
    const char *p = (const char *)data, *want;
    struct buf out;
    bool handled;
    size_t end;

    if (size > FUZZ_MAX_LEN) {
        return 0;
    }
    fast = tr_jparse(p, size, FUZZ_DEPTH, &handled);
    if (!handled) {
        if (fast != NULL) {
            abort(); /* declined means nothing built */
        }
        return 0;
    }
    tok = json_tokener_new_ex(FUZZ_DEPTH);
    if (tok == NULL) {
        abort();
    }
    slow = json_tokener_parse_ex(tok, p, (int)size);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        abort(); /* accepted here, refused by json-c */
    }
    for (end = json_tokener_get_parse_end(tok); end < size; end++) {
        if (strchr(" \t\r\n", p[end]) == NULL || p[end] == '\0') {
            abort(); /* json-c stops before the end */
        }
    }
    want = json_object_to_json_string_ext(slow,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!jp_same_tree(fast, slow) ||
        strcmp(json_object_to_json_string_ext(fast, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE),
               want) != 0) {
        abort();
    }
    buf_init(&out, SIZE_MAX / 2);
    if (tr_json_append(slow, &out) != CCP_OK || out.len != strlen(want) ||
        memcmp(out.ptr, want, out.len) != 0) {
        abort(); /* our writer differs from json-c's */
    }
    buf_release(&out);
    json_object_put(fast);
    json_object_put(slow);
    json_tokener_free(tok);
    return 0;
}
