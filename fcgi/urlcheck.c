/* fcgi/urlcheck.c: OPENAI_BASE_URL is checked once at start-up with
 * libcurl's own URL parser (the one that will use it): scheme, host, no
 * credentials, query or fragment, and the optional host allow-list. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/log.h"
#include "fcgi/guard.h"

#include "common/banned.h"

static bool is_loopback(const char *host)
{
    return strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
           strcmp(host, "::1") == 0 || strncmp(host, "127.", 4) == 0;
}

/* host is in the comma list (case-insensitive, blanks around names ignored) */
static bool host_listed(const char *host, const char *list)
{
    const char *p = list;
    size_t hl = strlen(host);

    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        const char *end = comma != NULL ? comma : p + strlen(p);

        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if ((size_t)(end - p) == hl && strncasecmp(p, host, hl) == 0) {
            return true;
        }
        p = comma != NULL ? comma + 1 : NULL;
    }
    return false;
}

static bool has_part(CURLU *u, CURLUPart part)
{
    char *v = NULL;
    bool yes = curl_url_get(u, part, &v, 0) == CURLUE_OK && v != NULL && v[0] != '\0';

    curl_free(v);
    return yes;
}

enum ccp_err wk_check_base_url(const struct conf *c, char *errmsg, size_t errlen)
{
    const char *url = c->openai_base_url != NULL ? c->openai_base_url : "";
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    enum ccp_err rc = CCP_ERR_INVALID;

    if (u == NULL) {
        snprintf(errmsg, errlen, "out of memory checking OPENAI_BASE_URL");
        return CCP_ERR_NOMEM;
    }
    /* the URL itself is not repeated in messages: it might hold a password */
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        snprintf(errmsg, errlen, "OPENAI_BASE_URL is not a valid URL");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        snprintf(errmsg, errlen, "OPENAI_BASE_URL must use http or https");
        goto out;
    }
    /* libcurl reads "https:///v1" as host "v1"; we do not */
    if (strstr(url, ":///") != NULL || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        host == NULL || host[0] == '\0') {
        snprintf(errmsg, errlen, "OPENAI_BASE_URL has no host");
        goto out;
    }
    if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD) ||
        has_part(u, CURLUPART_OPTIONS) || strchr(url, '@') != NULL) {
        snprintf(errmsg, errlen,
                 "OPENAI_BASE_URL must not contain a user name or password; put the upstream "
                 "key in OPENAI_API_KEY or OPENAI_API_KEY_FILE");
        goto out;
    }
    if (has_part(u, CURLUPART_FRAGMENT) || strchr(url, '#') != NULL) {
        snprintf(errmsg, errlen, "OPENAI_BASE_URL must not have a #fragment");
        goto out;
    }
    if (has_part(u, CURLUPART_QUERY) || strchr(url, '?') != NULL) {
        snprintf(errmsg, errlen,
                 "OPENAI_BASE_URL must not have a ?query (/chat/completions is appended)");
        goto out;
    }
    if (c->restrict_base_url && !is_loopback(host) &&
        !host_listed(host, c->allowed_base_url_hosts != NULL ? c->allowed_base_url_hosts : "")) {
        snprintf(errmsg, errlen,
                 "OPENAI_BASE_URL host %.200s is not in ALLOWED_BASE_URL_HOSTS "
                 "(RESTRICT_BASE_URL is true)",
                 host);
        goto out;
    }
    if (strcasecmp(scheme, "http") == 0 && !is_loopback(host)) {
        LOG_WARN("OPENAI_BASE_URL uses plain http to %.200s: the upstream key travels "
                 "unencrypted",
                 host);
    }
    rc = CCP_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}
