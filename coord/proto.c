/* Coordinator wire protocol: encode and decode frames. Pure: no I/O, clock,
 * environment or logging, so it is unit-tested and fuzzed in isolation. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "coord/proto.h"

#include "common/banned.h"

const char *coord_type_name(enum coord_type t)
{
    switch (t) {
    case COORD_HELLO:
        return "HELLO";
    case COORD_JOIN:
        return "JOIN";
    case COORD_LEAD:
        return "LEAD";
    case COORD_FOLLOW:
        return "FOLLOW";
    case COORD_EVENT:
        return "EVENT";
    case COORD_END:
        return "END";
    case COORD_ABORT:
        return "ABORT";
    case COORD_FOLLOWERS:
        return "FOLLOWERS";
    case COORD_ERROR:
        return "ERROR";
    }
    return "?";
}

/* CCP_OK if h[0..n) is zero or more "Name: value\r\n" lines: printable
 * ASCII, a non-empty name of token characters, every line ended by CRLF. */
static enum ccp_err check_headers(const unsigned char *h, size_t n)
{
    size_t i = 0, name;

    while (i < n) {
        for (name = 0; i < n && h[i] != ':'; i++, name++) {
            if (h[i] <= 0x20 || h[i] >= 0x7f) {
                return CCP_ERR_INVALID;
            }
        }
        if (name == 0 || i == n) {
            return CCP_ERR_INVALID;
        }
        for (i++; i < n && h[i] != '\r'; i++) {
            if ((h[i] < 0x20 && h[i] != '\t') || h[i] >= 0x7f) {
                return CCP_ERR_INVALID;
            }
        }
        if (n - i < 2 || h[i + 1] != '\n') {
            return CCP_ERR_INVALID;
        }
        i += 2;
    }
    return CCP_OK;
}

static unsigned get_be16(const unsigned char *p)
{
    return ((unsigned)p[0] << 8) | (unsigned)p[1];
}

enum ccp_err coord_parse_error(const void *p, size_t len, struct coord_error *out)
{
    const unsigned char *s = p;
    unsigned status;
    size_t hlen;

    if (len < 4 || len > COORD_ERROR_MAX) {
        return CCP_ERR_INVALID;
    }
    status = get_be16(s);
    hlen = get_be16(s + 2);
    if (status < 100 || status > 599 || hlen > len - 4 || check_headers(s + 4, hlen) != CCP_OK) {
        return CCP_ERR_INVALID;
    }
    out->status = status;
    out->headers = (const char *)s + 4;
    out->headers_len = hlen;
    out->body = (const char *)s + 4 + hlen;
    out->body_len = len - 4 - hlen;
    return CCP_OK;
}

/* CCP_OK if a payload p of len bytes fits type t, else CCP_ERR_INVALID (or
 * CCP_ERR_TOO_LARGE over max_payload). p NULL: check the size only (the
 * bytes have not arrived yet). */
static enum ccp_err check_payload(unsigned t, const unsigned char *p, size_t len,
                                  size_t max_payload)
{
    struct coord_error e;

    if (len > max_payload) {
        return CCP_ERR_TOO_LARGE;
    }
    switch (t) {
    case COORD_HELLO:
        return len == 1 ? CCP_OK : CCP_ERR_INVALID;
    case COORD_JOIN:
        return len >= 1 && len <= COORD_KEY_MAX ? CCP_OK : CCP_ERR_INVALID;
    case COORD_LEAD:
    case COORD_FOLLOW:
    case COORD_END:
        return len == 0 ? CCP_OK : CCP_ERR_INVALID;
    case COORD_EVENT:
        return len >= 1 ? CCP_OK : CCP_ERR_INVALID;
    case COORD_ABORT:
        return len <= COORD_REASON_MAX ? CCP_OK : CCP_ERR_INVALID;
    case COORD_FOLLOWERS:
        return len == 4 ? CCP_OK : CCP_ERR_INVALID;
    case COORD_ERROR:
        if (p == NULL) {
            return len >= 4 && len <= COORD_ERROR_MAX ? CCP_OK : CCP_ERR_INVALID;
        }
        return coord_parse_error(p, len, &e);
    default:
        return CCP_ERR_INVALID;
    }
}

static uint32_t get_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

enum ccp_err coord_encode(struct buf *out, enum coord_type type, const void *payload, size_t len,
                          size_t max_payload)
{
    unsigned char hdr[COORD_FRAME_HEADER];
    enum ccp_err rc;

    rc = check_payload((unsigned)type, payload, len, max_payload);
    if (rc != CCP_OK) {
        goto out;
    }
    if (len > (size_t)UINT32_MAX - 1) {
        rc = CCP_ERR_TOO_LARGE;
        goto out;
    }
    rc = buf_reserve(out, sizeof(hdr) + len);
    if (rc != CCP_OK) {
        goto out;
    }
    put_be32(hdr, (uint32_t)(len + 1));
    hdr[4] = (unsigned char)type;
    rc = buf_append(out, hdr, sizeof(hdr));
    if (rc == CCP_OK && len > 0) {
        rc = buf_append(out, payload, len);
    }
    CCP_ASSERT(rc == CCP_OK); /* the reserve above made room for both */
out:
    return rc;
}

enum ccp_err coord_encode_followers(struct buf *out, uint32_t count)
{
    unsigned char p[4];

    put_be32(p, count);
    return coord_encode(out, COORD_FOLLOWERS, p, sizeof(p), sizeof(p));
}

enum ccp_err coord_encode_error(struct buf *out, unsigned status, const char *headers, size_t hlen,
                                const char *body, size_t blen, size_t max_payload)
{
    unsigned char hdr[4];
    size_t old = out->len, n;
    enum ccp_err rc;

    if (status < 100 || status > 599 || hlen > 0xffff ||
        check_headers((const unsigned char *)headers, hlen) != CCP_OK) {
        return CCP_ERR_INVALID;
    }
    if (blen > COORD_ERROR_MAX || hlen + blen > COORD_ERROR_MAX - 4) {
        return CCP_ERR_TOO_LARGE;
    }
    n = 4 + hlen + blen;
    if (n > max_payload) {
        return CCP_ERR_TOO_LARGE;
    }
    hdr[0] = (unsigned char)(status >> 8);
    hdr[1] = (unsigned char)status;
    hdr[2] = (unsigned char)(hlen >> 8);
    hdr[3] = (unsigned char)hlen;
    /* header and length first, then the payload in place */
    rc = buf_reserve(out, COORD_FRAME_HEADER + n);
    if (rc != CCP_OK) {
        return rc;
    }
    put_be32((unsigned char *)out->ptr + old, (uint32_t)(n + 1));
    out->ptr[old + 4] = (char)COORD_ERROR;
    memcpy(out->ptr + old + COORD_FRAME_HEADER, hdr, 4);
    if (hlen > 0) {
        memcpy(out->ptr + old + COORD_FRAME_HEADER + 4, headers, hlen);
    }
    if (blen > 0) {
        memcpy(out->ptr + old + COORD_FRAME_HEADER + 4 + hlen, body, blen);
    }
    out->len = old + COORD_FRAME_HEADER + n;
    out->ptr[out->len] = '\0';
    return CCP_OK;
}

enum ccp_err coord_decode(const void *p, size_t len, size_t max_payload, struct coord_frame *out,
                          size_t *consumed)
{
    const unsigned char *s = p;
    uint32_t flen;
    size_t plen;
    unsigned type;
    enum ccp_err rc;

    if (len < 4) {
        return CCP_DECLINED;
    }
    flen = get_be32(s);
    if (flen == 0) {
        return CCP_ERR_INVALID;
    }
    plen = (size_t)flen - 1;
    if (plen > max_payload) {
        return CCP_ERR_INVALID; /* decided from the header, before the bytes arrive */
    }
    if (len < COORD_FRAME_HEADER) {
        return CCP_DECLINED;
    }
    type = s[4];
    /* reject an unknown type or an impossible size as early as the header */
    rc = check_payload(type, NULL, plen, max_payload);
    if (rc != CCP_OK) {
        return CCP_ERR_INVALID;
    }
    if (len - COORD_FRAME_HEADER < plen) {
        return CCP_DECLINED;
    }
    if (type == COORD_ERROR &&
        check_payload(type, s + COORD_FRAME_HEADER, plen, max_payload) != CCP_OK) {
        return CCP_ERR_INVALID;
    }
    out->type = (enum coord_type)type;
    out->payload = s + COORD_FRAME_HEADER;
    out->len = plen;
    out->count = 0;
    if (type == COORD_FOLLOWERS) {
        out->count = get_be32(out->payload);
    } else if (type == COORD_HELLO) {
        out->count = out->payload[0];
    }
    *consumed = COORD_FRAME_HEADER + plen;
    return CCP_OK;
}

enum ccp_err coord_parse_hostport(const char *s, size_t n, char *host, size_t hostcap, char port[6])
{
    const char *portp;
    size_t colon = n, hl, pl, i;

    for (i = 0; i < n; i++) {
        if (s[i] == ':') {
            colon = i;
        }
    }
    if (colon == n) {
        return CCP_ERR_INVALID;
    }
    portp = s + colon + 1;
    pl = n - colon - 1;
    if (pl == 0 || pl > 5) {
        return CCP_ERR_INVALID;
    }
    for (i = colon + 1; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return CCP_ERR_INVALID;
        }
    }
    hl = colon;
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hostcap || memchr(s, '\0', hl) != NULL) {
        return CCP_ERR_INVALID;
    }
    memcpy(host, s, hl);
    host[hl] = '\0';
    memcpy(port, portp, pl);
    port[pl] = '\0';
    return CCP_OK;
}
