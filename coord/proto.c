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
    }
    return "?";
}

/* CCP_OK if a payload of len bytes fits type t, else CCP_ERR_INVALID. */
static enum ccp_err check_payload(unsigned t, size_t len, size_t max_payload)
{
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

    rc = check_payload((unsigned)type, len, max_payload);
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
    rc = check_payload(type, plen, max_payload);
    if (rc != CCP_OK) {
        return CCP_ERR_INVALID;
    }
    if (len - COORD_FRAME_HEADER < plen) {
        return CCP_DECLINED;
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
