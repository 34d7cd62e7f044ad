/* Cache keys: a canonical serializer over json-c objects and SHA-256 keys for
 * the response cache and the token-count cache. Pure: no I/O, clock or logs. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cache/cache.h"
#include "common/alloc.h"

#include "common/banned.h"

#define NS_RESPONSE "ccproxy/response/v1"
#define NS_RESPONSE_BYTES "ccproxy/response-bytes/v1"
#define NS_TOKENS "ccproxy/tokens/v1"
#define NS_TENANT "ccproxy/tenant/v1"

/* Where canonical bytes go: a buffer, a running digest, or both. Small writes
 * to the digest are gathered in stage[] first. */
struct sink {
    struct buf *b;
    EVP_MD_CTX *md;
    unsigned char stage[4096];
    size_t staged;
};

static enum ccp_err sink_flush(struct sink *s)
{
    if (s->md != NULL && s->staged > 0) {
        if (EVP_DigestUpdate(s->md, s->stage, s->staged) != 1) {
            return CCP_ERR_INTERNAL;
        }
    }
    s->staged = 0;
    return CCP_OK;
}

static enum ccp_err sink_write(struct sink *s, const void *p, size_t n)
{
    enum ccp_err rc;

    if (n == 0) {
        return CCP_OK;
    }
    if (s->b != NULL) {
        rc = buf_append(s->b, p, n);
        if (rc != CCP_OK) {
            return rc;
        }
    }
    if (s->md == NULL) {
        return CCP_OK;
    }
    if (n > sizeof(s->stage) - s->staged) {
        rc = sink_flush(s);
        if (rc != CCP_OK) {
            return rc;
        }
        if (n > sizeof(s->stage)) {
            return EVP_DigestUpdate(s->md, p, n) == 1 ? CCP_OK : CCP_ERR_INTERNAL;
        }
    }
    memcpy(s->stage + s->staged, p, n);
    s->staged += n;
    return CCP_OK;
}

static enum ccp_err sink_cstr(struct sink *s, const char *str)
{
    return sink_write(s, str, strlen(str));
}

/* A JSON string literal; only '"', '\\' and bytes below 0x20 are escaped, so
 * the mapping from byte strings to literals is one-to-one. */
static enum ccp_err write_string(struct sink *s, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    enum ccp_err rc;
    size_t i, run = 0;
    char esc[6];

    rc = sink_write(s, "\"", 1);
    for (i = 0; i < n && rc == CCP_OK; i++) {
        unsigned char c = (unsigned char)p[i];
        size_t elen = 0;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        } else {
            run++;
            continue;
        }
        rc = sink_write(s, p + i - run, run);
        run = 0;
        if (rc == CCP_OK) {
            rc = sink_write(s, esc, elen);
        }
    }
    if (rc == CCP_OK) {
        rc = sink_write(s, p + n - run, run);
    }
    if (rc == CCP_OK) {
        rc = sink_write(s, "\"", 1);
    }
    return rc;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static enum ccp_err write_value(struct sink *s, struct json_object *o, int depth);

static enum ccp_err write_object(struct sink *s, struct json_object *o, int depth)
{
    size_t n = (size_t)json_object_object_length(o), i = 0;
    const char **keys = NULL;
    enum ccp_err rc = CCP_OK;

    if (n > 0) {
        keys = ccp_malloc(n * sizeof(*keys));
        if (keys == NULL) {
            return CCP_ERR_NOMEM;
        }
        json_object_object_foreach(o, k, v)
        {
            (void)v;
            if (i < n) {
                keys[i++] = k;
            }
        }
        qsort(keys, i, sizeof(*keys), cmp_keys);
    }
    rc = sink_write(s, "{", 1);
    for (n = 0; n < i && rc == CCP_OK; n++) {
        struct json_object *val = NULL;
        if (n > 0) {
            rc = sink_write(s, ",", 1);
            if (rc != CCP_OK) {
                break;
            }
        }
        rc = write_string(s, keys[n], strlen(keys[n]));
        if (rc == CCP_OK) {
            rc = sink_write(s, ":", 1);
        }
        if (rc == CCP_OK) {
            (void)json_object_object_get_ex(o, keys[n], &val);
            rc = write_value(s, val, depth + 1);
        }
    }
    if (rc == CCP_OK) {
        rc = sink_write(s, "}", 1);
    }
    ccp_free(keys);
    return rc;
}

/* A double in its shortest "%.*g" form that reads back as the same value.
 * The text json-c kept from parsing is not used: json-c accepts forms such as
 * "0672e" that would not reparse to the same number. Zero (also -0) is "0";
 * non-finite values use json-c's spellings NaN, Infinity and -Infinity. */
static enum ccp_err write_double(struct sink *s, double d)
{
    char t[40];
    int n = 0, prec;

    if (isnan(d)) {
        return sink_cstr(s, "NaN");
    }
    if (isinf(d)) {
        return sink_cstr(s, d > 0 ? "Infinity" : "-Infinity");
    }
    if (d == 0) {
        return sink_cstr(s, "0");
    }
    for (prec = 15; prec <= 17; prec++) {
        n = snprintf(t, sizeof(t), "%.*g", prec, d);
        if (n > 0 && (size_t)n < sizeof(t) && strtod(t, NULL) == d) {
            break;
        }
    }
    if (n <= 0 || (size_t)n >= sizeof(t)) {
        return CCP_ERR_INTERNAL;
    }
    return sink_write(s, t, (size_t)n);
}

static enum ccp_err write_value(struct sink *s, struct json_object *o, int depth)
{
    enum ccp_err rc = CCP_OK;
    size_t i, n;

    if (depth > CACHE_CANON_MAX_DEPTH) {
        return CCP_ERR_TOO_LARGE;
    }
    switch (json_object_get_type(o)) {
    case json_type_null:
        return sink_cstr(s, "null");
    case json_type_boolean:
        return sink_cstr(s, json_object_get_boolean(o) ? "true" : "false");
    case json_type_double:
        return write_double(s, json_object_get_double(o));
    case json_type_int: {
        size_t len = 0;
        const char *t = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (t == NULL) {
            return CCP_ERR_NOMEM;
        }
        return sink_write(s, t, len);
    }
    case json_type_string:
        return write_string(s, json_object_get_string(o), (size_t)json_object_get_string_len(o));
    case json_type_array:
        n = json_object_array_length(o);
        rc = sink_write(s, "[", 1);
        for (i = 0; i < n && rc == CCP_OK; i++) {
            if (i > 0) {
                rc = sink_write(s, ",", 1);
            }
            if (rc == CCP_OK) {
                rc = write_value(s, json_object_array_get_idx(o, i), depth + 1);
            }
        }
        if (rc == CCP_OK) {
            rc = sink_write(s, "]", 1);
        }
        return rc;
    case json_type_object:
        return write_object(s, o, depth);
    }
    return CCP_ERR_INTERNAL;
}

enum ccp_err cache_canonical_json(struct json_object *obj, struct buf *out)
{
    struct sink s;
    size_t oldlen = out->len;
    enum ccp_err rc;

    memset(&s, 0, sizeof(s));
    s.b = out;
    rc = write_value(&s, obj, 0);
    if (rc != CCP_OK && out->ptr != NULL) {
        out->len = oldlen;
        out->ptr[oldlen] = '\0';
    }
    return rc;
}

/* SHA-256, fetched from the provider once: EVP_sha256() makes OpenSSL 3
 * look the implementation up again at every EVP_DigestInit_ex (a lock and a
 * hash table walk per key). Fetched objects are immutable and shareable
 * between threads; this one is never freed. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md != NULL ? sha256_md : EVP_sha256();
}

/* Start a digest and feed it the namespace with its NUL. */
static enum ccp_err digest_begin(struct sink *s, const char *ns)
{
    memset(s, 0, sizeof(*s));
    s->md = EVP_MD_CTX_new();
    if (s->md == NULL) {
        return CCP_ERR_NOMEM;
    }
    if (EVP_DigestInit_ex(s->md, sha256(), NULL) != 1) {
        return CCP_ERR_INTERNAL;
    }
    return sink_write(s, ns, strlen(ns) + 1);
}

/* A length-prefixed field: decimal length, ':', the bytes. */
static enum ccp_err digest_field(struct sink *s, const void *p, size_t n)
{
    char num[24];
    size_t i = sizeof(num);
    size_t v = n;
    enum ccp_err rc;

    do {
        num[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && i > 0);
    rc = sink_write(s, num + i, sizeof(num) - i);
    if (rc == CCP_OK) {
        rc = sink_write(s, ":", 1);
    }
    if (rc == CCP_OK) {
        rc = sink_write(s, p, n);
    }
    return rc;
}

/* Finish the digest into out as hex and free it (also on failure). */
static enum ccp_err digest_end(struct sink *s, enum ccp_err rc, struct cache_key *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;

    if (rc == CCP_OK) {
        rc = sink_flush(s);
    }
    if (rc == CCP_OK && EVP_DigestFinal_ex(s->md, md, &mdlen) != 1) {
        rc = CCP_ERR_INTERNAL;
    }
    if (rc == CCP_OK && mdlen * 2 != CACHE_KEY_HEX_LEN) {
        rc = CCP_ERR_INTERNAL;
    }
    if (rc == CCP_OK) {
        for (i = 0; i < mdlen; i++) {
            out->hex[2 * i] = hex[md[i] >> 4];
            out->hex[2 * i + 1] = hex[md[i] & 15];
        }
        out->hex[CACHE_KEY_HEX_LEN] = '\0';
    }
    EVP_MD_CTX_free(s->md);
    s->md = NULL;
    return rc;
}

enum ccp_err cache_tenant_id(const char *api_key, size_t n, struct cache_key *out)
{
    struct sink s;
    enum ccp_err rc;

    rc = digest_begin(&s, NS_TENANT);
    if (rc == CCP_OK) {
        rc = digest_field(&s, api_key, n);
    }
    rc = digest_end(&s, rc, out);
    OPENSSL_cleanse(s.stage, sizeof(s.stage));
    return rc;
}

/* What both response keys start with: the namespace, the tenant and the
 * stream flag. */
static enum ccp_err response_key_begin(struct sink *s, const char *ns, const char *tenant,
                                       size_t tenant_len, bool stream)
{
    enum ccp_err rc = digest_begin(s, ns);

    if (rc == CCP_OK) {
        rc = digest_field(s, tenant, tenant_len);
    }
    if (rc == CCP_OK) {
        rc = sink_write(s, stream ? "stream:1\n" : "stream:0\n", 9);
    }
    return rc;
}

enum ccp_err cache_response_key(struct json_object *req, const char *tenant, size_t tenant_len,
                                bool stream, struct cache_key *out)
{
    struct sink s;
    enum ccp_err rc = response_key_begin(&s, NS_RESPONSE, tenant, tenant_len, stream);

    if (rc == CCP_OK) {
        rc = write_value(&s, req, 0);
    }
    return digest_end(&s, rc, out);
}

enum ccp_err cache_response_key_bytes(const char *body, size_t n, const char *tenant,
                                      size_t tenant_len, bool stream, struct cache_key *out)
{
    struct sink s;
    enum ccp_err rc = response_key_begin(&s, NS_RESPONSE_BYTES, tenant, tenant_len, stream);

    if (rc == CCP_OK) {
        rc = digest_field(&s, body, n);
    }
    return digest_end(&s, rc, out);
}

enum ccp_err cache_token_key(const char *encoding, const void *block, size_t n,
                             struct cache_key *out)
{
    struct sink s;
    enum ccp_err rc;

    rc = digest_begin(&s, NS_TOKENS);
    if (rc == CCP_OK) {
        rc = digest_field(&s, encoding, strlen(encoding));
    }
    if (rc == CCP_OK) {
        rc = digest_field(&s, block, n);
    }
    return digest_end(&s, rc, out);
}
