/* Fuzz target for translate/response.c: any bytes as an OpenAI
 * chat.completion. A success must be an Anthropic message object; a failure
 * must come with a 5xx status and a message. */
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
    enum ccp_err rc;

    if (size > FUZZ_MAX_LEN) {
        return 0;
    }
    memset(&o, 0, sizeof(o));
    o.max_json_depth = 64;
    o.max_out = 1 << 20;
    memset(&info, 0, sizeof(info));
    memcpy(info.client_model, "claude-sonnet-4-5", sizeof("claude-sonnet-4-5"));
    memset(&err, 0, sizeof(err));
    buf_init(&out, o.max_out);
    rc = tr_response(&o, &info, "msg_fuzz", (const char *)data, size, &out, &err);
    if (rc == CCP_OK) {
        j = json_tokener_parse(out.ptr);
        if (j == NULL || !json_object_object_get_ex(j, "type", &v) ||
            strcmp(json_object_get_string(v), "message") != 0 ||
            !json_object_object_get_ex(j, "content", &v) ||
            !json_object_is_type(v, json_type_array)) {
            abort();
        }
        json_object_put(j);
    } else if (out.len != 0 || err.message[0] == '\0' || err.status < 400) {
        abort();
    }
    buf_release(&out);
    return 0;
}
