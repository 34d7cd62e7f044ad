/* fcgi/auth.c: client authentication. Accepted keys are held only as
 * SHA-256 digests; a presented key is hashed and compared against every
 * digest in constant time. Keys are never logged. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/alloc.h"
#include "common/log.h"
#include "fcgi/guard.h"

#include "common/banned.h"

#define KEYS_MAX 100000 /* digests accepted from the file and the list */

static unsigned char (*digests)[WK_KEY_DIGEST_LEN];
static size_t ndigests;

bool wk_sha256(const void *p, size_t n, unsigned char out[WK_KEY_DIGEST_LEN])
{
    unsigned int len = 0;

    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == WK_KEY_DIGEST_LEN;
}

static enum ccp_err add_digest(const unsigned char d[WK_KEY_DIGEST_LEN])
{
    unsigned char(*grown)[WK_KEY_DIGEST_LEN];

    if (ndigests >= KEYS_MAX) {
        return CCP_ERR_TOO_LARGE;
    }
    grown = ccp_realloc(digests, (ndigests + 1) * sizeof(*digests));
    if (grown == NULL) {
        return CCP_ERR_NOMEM;
    }
    digests = grown;
    memcpy(digests[ndigests++], d, WK_KEY_DIGEST_LEN);
    return CCP_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Keys from the comma list: surrounding blanks are dropped. */
static enum ccp_err load_list(const char *list, char *errmsg, size_t errlen)
{
    const char *p = list;
    unsigned char d[WK_KEY_DIGEST_LEN];
    enum ccp_err rc = CCP_OK;

    while (p != NULL && *p != '\0' && rc == CCP_OK) {
        const char *comma = strchr(p, ',');
        const char *end = comma != NULL ? comma : p + strlen(p);
        const char *s = p;

        while (s < end && isspace((unsigned char)*s)) {
            s++;
        }
        while (end > s && isspace((unsigned char)end[-1])) {
            end--;
        }
        if (end > s) {
            if (!wk_sha256(s, (size_t)(end - s), d)) {
                snprintf(errmsg, errlen, "CLIENT_API_KEYS: SHA-256 failed");
                return CCP_ERR_INTERNAL;
            }
            rc = add_digest(d);
        }
        p = comma != NULL ? comma + 1 : NULL;
    }
    explicit_bzero(d, sizeof(d));
    if (rc == CCP_ERR_TOO_LARGE) {
        snprintf(errmsg, errlen, "CLIENT_API_KEYS: more than %d keys", KEYS_MAX);
    }
    return rc;
}

/* One digest per line, 64 hex digits; blank lines and # comments skipped. */
static enum ccp_err load_file(const char *path, char *errmsg, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[512];
    unsigned long lineno = 0;
    enum ccp_err rc = CCP_OK;

    if (f == NULL) {
        snprintf(errmsg, errlen, "CLIENT_API_KEYS_FILE: cannot open %s", path);
        return CCP_ERR_INVALID;
    }
    while (rc == CCP_OK && fgets(line, sizeof(line), f) != NULL) {
        unsigned char d[WK_KEY_DIGEST_LEN];
        size_t n = strcspn(line, "\r\n"), i, s = 0;

        lineno++;
        while (n > 0 && isspace((unsigned char)line[n - 1])) {
            n--;
        }
        while (s < n && isspace((unsigned char)line[s])) {
            s++;
        }
        if (s == n || line[s] == '#') {
            continue;
        }
        if (n - s != 2 * WK_KEY_DIGEST_LEN) {
            snprintf(errmsg, errlen,
                     "CLIENT_API_KEYS_FILE: %s line %lu is not a SHA-256 hex digest "
                     "(64 hex digits, e.g. from `printf %%s KEY | sha256sum`)",
                     path, lineno);
            rc = CCP_ERR_INVALID;
            break;
        }
        for (i = 0; i < WK_KEY_DIGEST_LEN; i++) {
            int hi = hexval(line[s + 2 * i]), lo = hexval(line[s + 2 * i + 1]);

            if (hi < 0 || lo < 0) {
                snprintf(errmsg, errlen, "CLIENT_API_KEYS_FILE: %s line %lu has a non-hex digit",
                         path, lineno);
                rc = CCP_ERR_INVALID;
                break;
            }
            d[i] = (unsigned char)(hi << 4 | lo);
        }
        if (rc == CCP_OK) {
            rc = add_digest(d);
            if (rc == CCP_ERR_TOO_LARGE) {
                snprintf(errmsg, errlen, "CLIENT_API_KEYS_FILE: more than %d keys", KEYS_MAX);
            }
        }
    }
    explicit_bzero(line, sizeof(line));
    fclose(f);
    return rc;
}

enum ccp_err wk_auth_init(const struct conf *c, char *errmsg, size_t errlen)
{
    enum ccp_err rc = CCP_OK;

    wk_auth_cleanup();
    if (c->client_api_keys != NULL && c->client_api_keys[0] != '\0') {
        rc = load_list(c->client_api_keys, errmsg, errlen);
    }
    if (rc == CCP_OK && c->client_api_keys_file != NULL && c->client_api_keys_file[0] != '\0') {
        rc = load_file(c->client_api_keys_file, errmsg, errlen);
        if (rc == CCP_OK && ndigests == 0) {
            snprintf(errmsg, errlen, "CLIENT_API_KEYS_FILE: %s holds no key",
                     c->client_api_keys_file);
            rc = CCP_ERR_INVALID;
        }
    }
    if (rc == CCP_ERR_NOMEM) {
        snprintf(errmsg, errlen, "out of memory loading client keys");
    }
    if (rc != CCP_OK) {
        wk_auth_cleanup();
    }
    return rc;
}

void wk_auth_cleanup(void)
{
    if (digests != NULL) {
        explicit_bzero(digests, ndigests * sizeof(*digests));
    }
    CCP_FREE(digests);
    ndigests = 0;
}

bool wk_auth_required(void)
{
    return ndigests > 0;
}

const char *wk_auth_presented(const char *xkey, const char *authz, size_t *n)
{
    const char *p;

    if (xkey != NULL && xkey[0] != '\0') {
        *n = strlen(xkey);
        return xkey;
    }
    if (authz == NULL || strncasecmp(authz, "Bearer", 6) != 0 ||
        (authz[6] != ' ' && authz[6] != '\t')) {
        return NULL;
    }
    p = authz + 6;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    *n = strlen(p);
    while (*n > 0 && (p[*n - 1] == ' ' || p[*n - 1] == '\t')) {
        (*n)--;
    }
    return *n > 0 ? p : NULL;
}

bool wk_auth_check(const char *key, size_t n)
{
    unsigned char d[WK_KEY_DIGEST_LEN];
    unsigned int match = 0;
    size_t i;

    if (key == NULL || !wk_sha256(key, n, d)) {
        return false;
    }
    /* every digest is compared, whatever matched before */
    for (i = 0; i < ndigests; i++) {
        match |= (unsigned int)(CRYPTO_memcmp(d, digests[i], WK_KEY_DIGEST_LEN) == 0);
    }
    explicit_bzero(d, sizeof(d));
    return match != 0;
}
