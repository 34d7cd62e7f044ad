/* Fuzz target for translate/request.c: any bytes as an Anthropic request.
 * A success must serialize to a JSON object with `model` and `messages`;
 * a failure must be a client error (400/413) with a message. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/buf.h"
#include "translate/translate.h"

#include "common/banned.h"

#define FUZZ_MAX_LEN 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_opts o;
    struct tr_reqinfo info;
    struct tr_error err;
    struct buf out;
    struct json_object *j, *v;
    unsigned long tokens = 0;
    enum ccp_err rc;

    if (size > FUZZ_MAX_LEN) {
        return 0;
    }
    memset(&o, 0, sizeof(o));
    o.big_model = "gpt-big";
    o.small_model = "gpt-small";
    o.max_json_depth = 64;
    o.max_out = 1 << 20;
    o.max_messages = 1000;
    o.max_content_blocks = 5000;
    o.max_string_bytes = 1 << 16;
    memset(&err, 0, sizeof(err));
    buf_init(&out, o.max_out);
    rc = tr_request(&o, (const char *)data, size, &out, &info, &err);
    if (rc == CCP_OK) {
        j = json_tokener_parse(out.ptr);
        if (j == NULL || !json_object_object_get_ex(j, "model", &v) ||
            !json_object_object_get_ex(j, "messages", &v) ||
            !json_object_is_type(v, json_type_array)) {
            abort();
        }
        json_object_put(j);
    } else if (rc == CCP_ERR_INVALID || rc == CCP_ERR_TOO_LARGE) {
        if (out.len != 0 || err.message[0] == '\0' || (err.status != 400 && err.status != 413)) {
            abort();
        }
    } else {
        abort();
    }
    buf_release(&out);
    rc = tr_count_tokens_estimate(&o, (const char *)data, size, &tokens, &err);
    if (rc != CCP_OK && rc != CCP_ERR_INVALID && rc != CCP_ERR_TOO_LARGE) {
        abort();
    }
    return 0;
}
