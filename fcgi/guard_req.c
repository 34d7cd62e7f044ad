/* fcgi/guard_req.c: the per-request side of the guards: 401 without a valid
 * client key, 429 over a rate limit, and counting a finished request's
 * tokens. Called from handler.c for every route except health probes. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "fcgi/guard.h"
#include "fcgi/handler_int.h"

#include "common/banned.h"

static const char *presented(struct wk_req *r, size_t *n)
{
    return wk_auth_presented(r->io->param(r->io, "HTTP_X_API_KEY"),
                             r->io->param(r->io, "HTTP_AUTHORIZATION"), n);
}

static void send_guard_error(struct wk_req *r, int status, const char *type, const char *msg,
                             long retry_after)
{
    struct tr_error err;

    memset(&err, 0, sizeof(err));
    tr_error_set(&err, CCP_ERR_INVALID, "%s", msg);
    err.status = status;
    err.type = type;
    if (retry_after > 0) {
        snprintf(err.retry_after, sizeof(err.retry_after), "%ld", retry_after);
    }
    wk_send_error(r, &err);
}

bool wk_guard_request(struct wk_req *r)
{
    size_t n = 0;
    const char *key = presented(r, &n);
    long retry_after = 0;
    const char *which = "";
    char msg[200];

    if (wk_auth_required() && !wk_auth_check(key, n)) {
        LOG_WARN("client authentication failed: %s", key == NULL ? "no key" : "unknown key");
        send_guard_error(r, 401, "authentication_error",
                         key == NULL ? "missing API key: send x-api-key or Authorization: Bearer"
                                     : "invalid API key",
                         0);
        return false;
    }
    if (!wk_ratelimit_admit(key, n, (int64_t)time(NULL), &retry_after, &which)) {
        LOG_WARN("client over its rate limit (%s); retry after %ld s", which, retry_after);
        snprintf(msg, sizeof(msg), "rate limit reached for this API key (%s); retry after %ld s",
                 which, retry_after);
        send_guard_error(r, 429, "rate_limit_error", msg, retry_after);
        return false;
    }
    return true;
}

void wk_guard_done(struct wk_req *r)
{
    size_t n = 0;
    const char *key = presented(r, &n);
    uint64_t tokens;

    if (r->have_tokens) {
        tokens = (uint64_t)r->tokens_in + (uint64_t)r->tokens_out;
    } else {
        /* no usage counted (non-streaming): about 4 bytes per token */
        tokens = ((uint64_t)r->body.len + (uint64_t)r->bytes_out) / 4;
    }
    wk_ratelimit_charge(key, n, (int64_t)time(NULL), tokens);
}

bool wk_guard_content_type(struct wk_req *r)
{
    const char *ct = r->io->param(r->io, "CONTENT_TYPE");
    size_t n;
    char msg[200];

    if (ct == NULL || ct[0] == '\0') {
        return true; /* curl -d without -H: taken as JSON */
    }
    n = strcspn(ct, "; \t");
    if ((n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
        (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0)) {
        return true;
    }
    snprintf(msg, sizeof(msg), "Content-Type %.*s is not supported; send application/json",
             (int)(n < 80 ? n : 80), ct);
    send_guard_error(r, 415, "invalid_request_error", msg, 0);
    return false;
}
