/* fcgi/upstream.c: libcurl transport to the OpenAI-compatible upstream. One
 * easy handle per thread, kept across requests; a CURLSH shares DNS and TLS
 * sessions. Each thread drives its own calls on its own connections with a
 * multi handle of its own (so it knows when libcurl has read all there is,
 * see sink->drain), or, with UPSTREAM_MULTI, hands them to the process's
 * transport thread. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "fcgi/metrics_int.h"
#include "fcgi/transport.h"
#include "fcgi/upstream.h"

#include "common/banned.h"

struct wk_upstream {
    CURL *easy;
    CURLM *mh;            /* this thread's multi: drives easy, holds its connections */
    struct wk_xfer *xfer; /* UPSTREAM_MULTI: the slot on the transport thread */
    const struct conf *conf;
    char *url;  /* <base>/chat/completions */
    char *auth; /* "Authorization: Bearer <key>"; secret, never logged */
    /* state of the call in progress */
    const struct wk_upstream_sink *sink;
    struct wk_upstream_result *res;
    bool sink_aborted;
    bool silent_too_long; /* no byte from the upstream for read_timeout_s */
    struct timespec last_rx;
    struct timespec last_alive; /* sink->alive last asked */
    char errbuf[CURL_ERROR_SIZE];
};

static CURLSH *share;
static bool multi; /* UPSTREAM_MULTI: the transport thread runs */
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
    (void)h;
    (void)access;
    (void)userp;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST) {
        pthread_mutex_lock(&share_locks[data]);
    }
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
    (void)h;
    (void)userp;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST) {
        pthread_mutex_unlock(&share_locks[data]);
    }
}

enum ccp_err wk_upstream_global_init(const struct conf *c, bool shared)
{
    size_t i;
    enum ccp_err rc;

    for (i = 0; i < CCP_ARRAY_LEN(share_locks); i++) {
        pthread_mutex_init(&share_locks[i], NULL);
    }
    share = curl_share_init();
    if (share == NULL) {
        return CCP_ERR_NOMEM;
    }
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    /* Not CURL_LOCK_DATA_CONNECT: libcurl documents sharing connections
     * between concurrent threads as unsupported (a known race in its
     * connection cache, curl 7.88 included). Each handle keeps its own
     * cache instead; pooling across threads waits for the multi-handle
     * transport thread described in DESIGN.md. */
    if (shared) {
        rc = wk_transport_start(c);
        if (rc != CCP_OK) {
            return rc;
        }
        multi = true;
    }
    return CCP_OK;
}

void wk_upstream_global_cleanup(void)
{
    size_t i;

    if (multi) {
        wk_transport_stop();
        multi = false;
    }
    if (share == NULL) {
        return;
    }
    curl_share_cleanup(share);
    share = NULL;
    for (i = 0; i < CCP_ARRAY_LEN(share_locks); i++) {
        pthread_mutex_destroy(&share_locks[i]);
    }
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long)(t1.tv_sec - t0->tv_sec) * 1000L + (long)(t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* Body bytes: hand them to the sink with the final status. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *userp)
{
    struct wk_upstream *u = userp;
    size_t n = size * nmemb;
    long status = 0;

    clock_gettime(CLOCK_MONOTONIC, &u->last_rx);
    curl_easy_getinfo(u->easy, CURLINFO_RESPONSE_CODE, &status);
    u->res->status = (int)status;
    u->res->bytes_in += n;
    if (!u->sink->data(u->sink->ctx, (int)status, p, n)) {
        u->sink_aborted = true;
        return 0; /* CURLE_WRITE_ERROR: stop the transfer now */
    }
    return n;
}

/* Header lines: remember retry-after of the final response. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *userp)
{
    struct wk_upstream *u = userp;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    size_t nl = sizeof(name) - 1;
    size_t i, o = 0;

    if (u->xfer != NULL) {
        wk_xfer_touch(u->xfer); /* on the transport thread */
    } else {
        clock_gettime(CLOCK_MONOTONIC, &u->last_rx);
    }
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        u->res->retry_after[0] = '\0'; /* a new response (after 100 or a 1xx) */
        return n;
    }
    if (n > nl && strncasecmp(p, name, nl) == 0) {
        for (i = nl; i < n && o + 1 < sizeof(u->res->retry_after); i++) {
            unsigned char c = (unsigned char)p[i];

            if (c == ' ' || c == '\t') {
                if (o == 0) {
                    continue;
                }
            }
            if (c == '\r' || c == '\n' || c < 0x20 || c > 0x7e) {
                break;
            }
            u->res->retry_after[o++] = (char)c;
        }
        while (o > 0 && (u->res->retry_after[o - 1] == ' ' || u->res->retry_after[o - 1] == '\t')) {
            o--;
        }
        u->res->retry_after[o] = '\0';
    }
    return n;
}

static int on_progress(void *userp, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    struct wk_upstream *u = userp;

    (void)dlt;
    (void)dln;
    (void)ult;
    (void)uln;
    /* LOW_SPEED_TIME averages over a window that still holds the request
     * upload, so it fires seconds late; this is the exact silence limit. */
    if ((double)ms_since(&u->last_rx) > u->conf->read_timeout_s * 1000.0) {
        u->silent_too_long = true;
        return 1;
    }
    /* libcurl calls this many times per transfer; alive() may poll the
     * client's socket, so it runs at most every WK_ALIVE_EVERY_MS */
    if (u->sink->alive != NULL && ms_since(&u->last_alive) >= WK_ALIVE_EVERY_MS) {
        clock_gettime(CLOCK_MONOTONIC, &u->last_alive);
        if (!u->sink->alive(u->sink->ctx)) {
            u->sink_aborted = true;
            return 1; /* CURLE_ABORTED_BY_CALLBACK */
        }
    }
    return 0;
}

/* Options that stay the same for every request of this handle. */
static void set_static_opts(struct wk_upstream *u)
{
    const struct conf *c = u->conf;
    CURL *e = u->easy;
    long low_speed_time = (long)ceil(c->read_timeout_s);

    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SHARE, share);
    curl_easy_setopt(e, CURLOPT_URL, u->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     c->http2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 60L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 30L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->connect_timeout_s * 1000.0));
    curl_easy_setopt(e, CURLOPT_TIMEOUT, c->max_stream_seconds);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, low_speed_time > 0 ? low_speed_time : 1L);
    curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, c->pool_keepalive_s);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* every decoder curl has: gzip, br, zstd */
    curl_easy_setopt(e, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, u);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, u);
    if (c->openai_ca_bundle != NULL && c->openai_ca_bundle[0] != '\0') {
        curl_easy_setopt(e, CURLOPT_CAINFO, c->openai_ca_bundle);
    }
    if (multi) {
        /* the transport thread watches silence; alive() runs on this thread,
         * and it sets CURLOPT_PIPEWAIT per call (wk_xfer_run) */
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(e, CURLOPT_XFERINFODATA, u);
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    }
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, u->errbuf);
}

struct wk_upstream *wk_upstream_new(const struct conf *c)
{
    struct wk_upstream *u = NULL;
    struct buf b;
    enum ccp_err rc;

    buf_init(&b, 64 * 1024);
    u = ccp_calloc(1, sizeof(*u));
    if (u == NULL) {
        goto fail;
    }
    u->conf = c;
    rc = buf_appendf(&b, "%s/chat/completions", c->openai_base_url);
    if (rc != CCP_OK) {
        goto fail;
    }
    u->url = buf_take(&b, NULL);
    if (u->url == NULL) {
        goto fail;
    }
    rc = buf_appendf(&b, "Authorization: Bearer %s",
                     c->openai_api_key != NULL ? c->openai_api_key : "");
    if (rc != CCP_OK) {
        goto fail;
    }
    u->auth = buf_take(&b, NULL);
    if (u->auth == NULL) {
        goto fail;
    }
    u->easy = curl_easy_init();
    if (u->easy == NULL) {
        goto fail;
    }
    set_static_opts(u);
    wk_metrics_curl_setup(u->easy); /* metrics hook: open-connections gauge */
    if (multi) {
        u->xfer = wk_xfer_new(u->easy); /* takes over the write callback */
        if (u->xfer == NULL) {
            goto fail;
        }
    } else {
        u->mh = curl_multi_init(); /* this thread's own transfers and connections */
        if (u->mh == NULL) {
            goto fail;
        }
        curl_multi_setopt(u->mh, CURLMOPT_MAXCONNECTS, c->pool_max_connections);
    }
    return u;

fail:
    buf_release(&b);
    wk_upstream_free(u);
    return NULL;
}

void wk_upstream_free(struct wk_upstream *u)
{
    if (u == NULL) {
        return;
    }
    wk_xfer_free(u->xfer);
    if (u->easy != NULL) {
        curl_easy_cleanup(u->easy);
    }
    if (u->mh != NULL) {
        curl_multi_cleanup(u->mh); /* closes the connections it kept */
    }
    if (u->auth != NULL) {
        explicit_bzero(u->auth, strlen(u->auth));
    }
    CCP_FREE(u->auth);
    CCP_FREE(u->url);
    ccp_free(u);
}

static void set_result_error(struct wk_upstream *u, CURLcode cc)
{
    struct wk_upstream_result *res = u->res;
    const char *detail = u->errbuf[0] != '\0' ? u->errbuf : curl_easy_strerror(cc);

    if (u->silent_too_long) {
        res->err = CCP_ERR_TIMEOUT;
        snprintf(res->message, sizeof(res->message),
                 "upstream timed out: nothing received for %.0f s (HTTP_READ_TIMEOUT)",
                 u->conf->read_timeout_s);
        return;
    }
    if (u->sink_aborted) {
        res->err = CCP_DECLINED;
        snprintf(res->message, sizeof(res->message), "transfer stopped by the proxy");
        return;
    }
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t connected = 0;

        res->err = CCP_ERR_TIMEOUT;
        snprintf(res->message, sizeof(res->message), "upstream timed out: %.200s", detail);
        /* no connection yet: a connect timeout, worth another attempt */
        if (curl_easy_getinfo(u->easy, CURLINFO_CONNECT_TIME_T, &connected) == CURLE_OK &&
            connected == 0 && res->status == 0) {
            res->retryable = true;
        }
        break;
    }
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        res->retryable = true;
        res->err = CCP_ERR_UPSTREAM;
        snprintf(res->message, sizeof(res->message), "upstream connection failed: %.200s", detail);
        break;
    default:
        res->err = CCP_ERR_UPSTREAM;
        snprintf(res->message, sizeof(res->message), "upstream connection failed: %.200s", detail);
        break;
    }
}

static void post(struct wk_upstream *u, const char *url, const char *body, size_t len, bool stream,
                 long timeout_ms, const struct wk_upstream_sink *sink,
                 struct wk_upstream_result *res);

/* UPSTREAM_MULTI: the body chunks the transport thread queued, on this thread. */
static bool shared_data(void *ctx, int status, const char *p, size_t n)
{
    struct wk_upstream *u = ctx;

    u->res->status = status;
    u->res->bytes_in += n;
    if (!u->sink->data(u->sink->ctx, status, p, n)) {
        u->sink_aborted = true;
        return false;
    }
    return true;
}

/* Everything read so far went to the sink: let it write out what it kept
 * back. false (the sink aborted) if it could not. */
static bool drain_sink(struct wk_upstream *u)
{
    if (u->sink->drain != NULL && !u->sink->drain(u->sink->ctx)) {
        u->sink_aborted = true;
        return false;
    }
    return true;
}

/* UPSTREAM_MULTI: every chunk queued so far went to shared_data. */
static bool shared_drain(void *ctx)
{
    return drain_sink(ctx);
}

static bool shared_alive(void *ctx)
{
    struct wk_upstream *u = ctx;

    if (u->sink->alive != NULL && !u->sink->alive(u->sink->ctx)) {
        u->sink_aborted = true;
        return false;
    }
    return true;
}

/* UPSTREAM_MULTI: run the call to `url` on the transport thread, wait here. */
static CURLcode perform_shared(struct wk_upstream *u, const char *url)
{
    struct wk_xfer_hooks hooks = {shared_data, shared_alive, shared_drain, u};
    struct wk_xfer_end end;

    wk_xfer_run(u->xfer, url, &hooks, &end);
    if (end.silent) {
        u->silent_too_long = true;
    }
    return end.cc;
}

/* One transfer on this thread's multi handle: what curl_easy_perform does,
 * plus sink->drain each time libcurl has delivered all it read and is about
 * to wait, so a burst of stream events leaves in one write. */
static CURLcode perform_own(struct wk_upstream *u)
{
    CURLMcode mc;
    CURLMsg *msg;
    CURLcode cc = CURLE_OK;
    struct curl_waitfd wfd;
    int running = 1, left = 0;

    mc = curl_multi_add_handle(u->mh, u->easy);
    if (mc != CURLM_OK) {
        snprintf(u->errbuf, sizeof(u->errbuf), "%s", curl_multi_strerror(mc));
        return mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
    }
    for (;;) {
        mc = curl_multi_perform(u->mh, &running);
        if (mc == CURLM_OK && !u->sink_aborted && !drain_sink(u)) {
            cc = CURLE_WRITE_ERROR;
            break;
        }
        if (mc != CURLM_OK || running == 0) {
            break;
        }
        /* curl_multi_poll shortens the wait to libcurl's own next timeout;
         * the sink's descriptor (a fan-out leader's coordinator link) is
         * watched in the same wait */
        wfd.fd = u->sink->watch_fd != NULL ? u->sink->watch_fd(u->sink->ctx) : -1;
        wfd.events = CURL_WAIT_POLLIN;
        wfd.revents = 0;
        mc = curl_multi_poll(u->mh, wfd.fd >= 0 ? &wfd : NULL, wfd.fd >= 0 ? 1u : 0u, 1000, NULL);
        if (mc != CURLM_OK) {
            break;
        }
        if (wfd.fd >= 0 && wfd.revents != 0) {
            u->sink->watch(u->sink->ctx);
        }
    }
    if (mc != CURLM_OK) {
        snprintf(u->errbuf, sizeof(u->errbuf), "%s", curl_multi_strerror(mc));
        cc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_RECV_ERROR;
    }
    while ((msg = curl_multi_info_read(u->mh, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == u->easy && cc == CURLE_OK) {
            cc = msg->data.result;
        }
    }
    if (running != 0 && cc == CURLE_OK) {
        cc = CURLE_RECV_ERROR; /* left the loop with the transfer unfinished */
    }
    curl_multi_remove_handle(u->mh, u->easy);
    return cc;
}

bool wk_upstream_watches(void)
{
    return !multi;
}

void wk_upstream_post(struct wk_upstream *u, const char *body, size_t len, bool stream,
                      long timeout_ms, const struct wk_upstream_sink *sink,
                      struct wk_upstream_result *res)
{
    post(u, u->url, body, len, stream, timeout_ms, sink, res);
}

void wk_upstream_post_url(struct wk_upstream *u, const char *url, const char *body, size_t len,
                          long timeout_ms, const struct wk_upstream_sink *sink,
                          struct wk_upstream_result *res)
{
    post(u, url, body, len, false, timeout_ms, sink, res);
    curl_easy_setopt(u->easy, CURLOPT_URL, u->url);
}

static void post(struct wk_upstream *u, const char *url, const char *body, size_t len, bool stream,
                 long timeout_ms, const struct wk_upstream_sink *sink,
                 struct wk_upstream_result *res)
{
    long max_ms = u->conf->max_stream_seconds * 1000L;

    struct curl_slist *hdrs = NULL, *h;
    struct timespec t0;
    CURLcode cc;
    long status = 0;

    memset(res, 0, sizeof(*res));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    u->sink = sink;
    u->res = res;
    u->sink_aborted = false;
    u->silent_too_long = false;
    u->last_rx = t0;
    u->last_alive = t0;
    u->errbuf[0] = '\0';

    /* Only these headers go upstream: nothing of the client's is forwarded
     * (no anthropic-*, x-api-key or client Authorization). */
    h = curl_slist_append(hdrs, u->auth);
    if (h != NULL) {
        hdrs = h;
        h = curl_slist_append(hdrs, "Content-Type: application/json");
    }
    if (h != NULL) {
        h = curl_slist_append(hdrs,
                              stream ? "Accept: text/event-stream" : "Accept: application/json");
    }
    if (h != NULL) {
        h = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    }
    if (h == NULL) {
        res->err = CCP_ERR_NOMEM;
        snprintf(res->message, sizeof(res->message), "out of memory");
        goto out;
    }
    curl_easy_setopt(u->easy, CURLOPT_URL, url);
    curl_easy_setopt(u->easy, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(u->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(u->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(u->easy, CURLOPT_TIMEOUT_MS,
                     timeout_ms >= 1 && timeout_ms < max_ms ? timeout_ms : max_ms);

    cc = multi ? perform_shared(u, url) : perform_own(u);
    curl_easy_getinfo(u->easy, CURLINFO_RESPONSE_CODE, &status);
    res->status = (int)status;
    if (cc == CURLE_OK) {
        res->err = CCP_OK;
    } else {
        set_result_error(u, cc);
    }
    wk_metrics_upstream_attempt(u->easy, res); /* metrics hook */

out:
    curl_easy_setopt(u->easy, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(u->easy, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(hdrs);
    res->ms = ms_since(&t0);
    u->sink = NULL;
    u->res = NULL;
}
