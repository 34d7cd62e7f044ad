/* Cached response entries: a small versioned header (kind, status, content
 * type) and the body bytes. Pure: encode and decode only. */
#include "config.h"

#include <string.h>

#include "cache/cache.h"

#include "common/banned.h"

#define ENTRY_MAGIC "CCPE"
#define ENTRY_FIXED 10 /* magic, version, kind, status, content-type length */

static bool ctype_ok(struct str ct)
{
    size_t i;

    if (ct.len > CACHE_ENTRY_MAX_CTYPE || (ct.len > 0 && ct.ptr == NULL)) {
        return false;
    }
    for (i = 0; i < ct.len; i++) {
        unsigned char c = (unsigned char)ct.ptr[i];
        if (c < 0x20 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

static bool kind_ok(unsigned k)
{
    return k == CACHE_ENTRY_JSON || k == CACHE_ENTRY_SSE;
}

enum ccp_err cache_entry_encode(const struct cache_entry *e, struct buf *out)
{
    unsigned char h[ENTRY_FIXED];
    unsigned char bl[4];
    size_t oldlen = out->len;
    enum ccp_err rc;

    if (!kind_ok((unsigned)e->kind) || e->status < 100 || e->status > 599 ||
        !ctype_ok(e->content_type) || e->body.len > 0xffffffffu ||
        (e->body.len > 0 && e->body.ptr == NULL)) {
        return CCP_ERR_INVALID;
    }
    memcpy(h, ENTRY_MAGIC, 4);
    h[4] = CACHE_ENTRY_VERSION;
    h[5] = (unsigned char)e->kind;
    h[6] = (unsigned char)(e->status >> 8);
    h[7] = (unsigned char)(e->status & 0xff);
    h[8] = (unsigned char)(e->content_type.len >> 8);
    h[9] = (unsigned char)(e->content_type.len & 0xff);
    bl[0] = (unsigned char)(e->body.len >> 24);
    bl[1] = (unsigned char)(e->body.len >> 16);
    bl[2] = (unsigned char)(e->body.len >> 8);
    bl[3] = (unsigned char)(e->body.len & 0xff);
    rc = buf_reserve(out, sizeof(h) + e->content_type.len + sizeof(bl) + e->body.len);
    if (rc == CCP_OK) {
        rc = buf_append(out, h, sizeof(h));
    }
    if (rc == CCP_OK) {
        rc = buf_append(out, e->content_type.ptr, e->content_type.len);
    }
    if (rc == CCP_OK) {
        rc = buf_append(out, bl, sizeof(bl));
    }
    if (rc == CCP_OK) {
        rc = buf_append(out, e->body.ptr, e->body.len);
    }
    if (rc != CCP_OK && out->ptr != NULL) {
        out->len = oldlen;
        out->ptr[oldlen] = '\0';
    }
    return rc;
}

enum ccp_err cache_entry_decode(const void *p, size_t n, struct cache_entry *out)
{
    const unsigned char *u = p;
    struct cache_entry e;
    size_t ctlen, blen, pos;
    unsigned status;

    if (p == NULL || n < ENTRY_FIXED + 4 || memcmp(u, ENTRY_MAGIC, 4) != 0 ||
        u[4] != CACHE_ENTRY_VERSION || !kind_ok(u[5])) {
        return CCP_ERR_INVALID;
    }
    status = ((unsigned)u[6] << 8) | u[7];
    ctlen = ((size_t)u[8] << 8) | u[9];
    if (status < 100 || status > 599 || ctlen > CACHE_ENTRY_MAX_CTYPE ||
        ctlen > n - ENTRY_FIXED - 4) {
        return CCP_ERR_INVALID;
    }
    pos = ENTRY_FIXED + ctlen;
    blen = ((size_t)u[pos] << 24) | ((size_t)u[pos + 1] << 16) | ((size_t)u[pos + 2] << 8) |
           u[pos + 3];
    pos += 4;
    if (blen != n - pos) {
        return CCP_ERR_INVALID;
    }
    e.kind = u[5] == CACHE_ENTRY_SSE ? CACHE_ENTRY_SSE : CACHE_ENTRY_JSON;
    e.status = (int)status;
    e.content_type.ptr = (const char *)u + ENTRY_FIXED;
    e.content_type.len = ctlen;
    e.body.ptr = (const char *)u + pos;
    e.body.len = blen;
    if (!ctype_ok(e.content_type)) {
        return CCP_ERR_INVALID;
    }
    *out = e;
    return CCP_OK;
}
