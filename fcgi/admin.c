/* fcgi/admin.c: pure checks for the admin endpoints (/v1/metrics, /metrics,
 * /status): loopback addresses, constant-time key comparison, and the
 * password of an HTTP Basic Authorization header. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "fcgi/metrics.h"

#include "common/banned.h"

bool wk_addr_is_loopback(const char *addr)
{
    if (addr == NULL) {
        return false;
    }
    if (strncasecmp(addr, "::ffff:", 7) == 0) {
        addr += 7; /* an IPv4 address seen through an IPv6 socket */
    }
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
}

bool wk_secret_equal(const char *given, const char *secret)
{
    size_t n = strlen(secret), g = given != NULL ? strlen(given) : 0, i;
    unsigned char d = (unsigned char)(g != n);

    if (given == NULL) {
        given = "";
    }
    /* time depends only on the secret's length */
    for (i = 0; i < n; i++) {
        unsigned char a = i < g ? (unsigned char)given[i] : 0;

        d |= (unsigned char)(a ^ (unsigned char)secret[i]);
    }
    return d == 0 && n > 0;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

bool wk_basic_password(const char *header, char *out, size_t cap)
{
    char dec[512];
    size_t n = 0, i;
    unsigned acc = 0;
    int bits = 0;
    const char *colon;

    if (header == NULL || strncasecmp(header, "Basic ", 6) != 0 || cap == 0) {
        return false;
    }
    for (i = 6; header[i] != '\0' && header[i] != '='; i++) {
        int v = b64_value(header[i]);

        if (v < 0 || n + 1 >= sizeof(dec)) {
            return false;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dec[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    dec[n] = '\0';
    colon = memchr(dec, ':', n);
    if (colon == NULL || strlen(colon + 1) >= cap || memchr(dec, '\0', n) != NULL) {
        return false;
    }
    memcpy(out, colon + 1, strlen(colon + 1) + 1);
    return true;
}
