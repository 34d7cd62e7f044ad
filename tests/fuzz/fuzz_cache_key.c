/* Fuzz target for cache/key.c: the response key ignores member order and is
 * stable under canonicalisation (canonical form reparses to the same bytes
 * and the same key). Input: any bytes, parsed as JSON. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cache/cache.h"
#include "common/alloc.h"

#include "common/banned.h"

#define FUZZ_MAX_LEN 65536
#define FUZZ_DEPTH 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse the n bytes at p, which must be followed by a NUL: the NUL is passed
 * too, so a number at the very end is complete. false if they are not JSON
 * ("null" gives true and NULL). */
static bool parse(const char *p, size_t n, struct json_object **out)
{
    struct json_tokener *tok = json_tokener_new_ex(FUZZ_DEPTH);
    struct json_object *o;
    bool ok;

    *out = NULL;
    if (tok == NULL) {
        return false;
    }
    o = json_tokener_parse_ex(tok, p, (int)n + 1);
    ok = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(o);
        return false;
    }
    *out = o;
    return true;
}

/* A deep copy whose object members are inserted in reverse order. NULL on
 * allocation failure (then *ok is cleared). */
static struct json_object *reversed(struct json_object *o, bool *ok)
{
    struct json_object *c = NULL;
    size_t i, n;

    switch (json_object_get_type(o)) {
    case json_type_object: {
        const char **keys;
        n = 0;
        keys = ccp_malloc(((size_t)json_object_object_length(o) + 1) * sizeof(*keys));
        c = json_object_new_object();
        if (c == NULL || keys == NULL) {
            json_object_put(c);
            c = NULL;
            ccp_free(keys);
            break;
        }
        json_object_object_foreach(o, k, v)
        {
            (void)v;
            keys[n++] = k;
        }
        while (n > 0 && *ok) {
            struct json_object *val = NULL, *cv;
            n--;
            (void)json_object_object_get_ex(o, keys[n], &val);
            cv = reversed(val, ok);
            if (json_object_object_add(c, keys[n], cv) != 0) {
                json_object_put(cv);
                *ok = false;
            }
        }
        ccp_free(keys);
        return c;
    }
    case json_type_array:
        n = json_object_array_length(o);
        c = json_object_new_array();
        for (i = 0; c != NULL && i < n && *ok; i++) {
            struct json_object *cv = reversed(json_object_array_get_idx(o, i), ok);
            if (json_object_array_add(c, cv) != 0) {
                json_object_put(cv);
                *ok = false;
            }
        }
        break;
    case json_type_null:
        return NULL;
    default:
        /* scalars are shared: a new reference to the same value */
        return json_object_get(o);
    }
    if (c == NULL) {
        *ok = false;
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *o1 = NULL, *o2 = NULL, *o3 = NULL;
    struct buf c1, c2;
    struct cache_key k1, k2, k3;
    bool stream = size > 0 && (data[0] & 1) != 0, ok = true;

    buf_init(&c1, 4 * FUZZ_MAX_LEN + 1024);
    buf_init(&c2, 4 * FUZZ_MAX_LEN + 1024);
    if (size > FUZZ_MAX_LEN) {
        goto out;
    }
    if (buf_append(&c2, data, size) != CCP_OK) {
        goto out;
    }
    if (!parse(c2.ptr, c2.len, &o1)) {
        goto out;
    }
    buf_reset(&c2);
    if (cache_canonical_json(o1, &c1) != CCP_OK ||
        cache_response_key(o1, "fuzz", 4, stream, &k1) != CCP_OK) {
        goto out; /* out of memory or over the buffer cap */
    }
    /* the canonical form is JSON that canonicalises to itself */
    if (!parse(c1.ptr, c1.len, &o2)) {
        abort();
    }
    if (cache_canonical_json(o2, &c2) != CCP_OK) {
        goto out;
    }
    if (c1.len != c2.len || memcmp(c1.ptr, c2.ptr, c1.len) != 0) {
        abort();
    }
    if (cache_response_key(o2, "fuzz", 4, stream, &k2) != CCP_OK) {
        goto out;
    }
    if (strcmp(k1.hex, k2.hex) != 0) {
        abort();
    }
    /* member order does not matter */
    o3 = reversed(o1, &ok);
    if (ok && cache_response_key(o3, "fuzz", 4, stream, &k3) == CCP_OK &&
        strcmp(k1.hex, k3.hex) != 0) {
        abort();
    }
    /* the tenant and the stream flag always matter */
    if (cache_response_key(o1, "fuzz", 4, !stream, &k3) == CCP_OK && strcmp(k1.hex, k3.hex) == 0) {
        abort();
    }
    if (cache_response_key(o1, "fuzy", 4, stream, &k3) == CCP_OK && strcmp(k1.hex, k3.hex) == 0) {
        abort();
    }
out:
    json_object_put(o3);
    json_object_put(o2);
    json_object_put(o1);
    buf_release(&c2);
    buf_release(&c1);
    return 0;
}
