/* fcgi/messages.c: POST /v1/messages (translate, call the upstream, stream
 * or buffer the answer back) and POST /v1/messages/count_tokens. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "fcgi/handler_int.h"
#include "fcgi/upstream.h"
#include "translate/translate.h"

#include "common/banned.h"

#define ERR_BODY_MAX (64 * 1024) /* kept of an upstream error answer */

static const char sse_headers[] = "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
static const char sse_ctype[] = "text/event-stream; charset=utf-8";

/* One upstream call and what it produced so far. */
struct call {
    struct wk_req *r;
    struct tr_stream *st; /* streaming only */
    bool stream;
    bool started;        /* SSE headers sent to the client */
    bool ended;          /* the stream wrote its terminal event (error) already */
    bool too_large;      /* a non-stream body passed MAX_UPSTREAM_RESPONSE_BYTES */
    int status;          /* upstream status seen by the sink */
    struct buf events;   /* translated events waiting to be written */
    struct buf body;     /* non-stream body, or the (bounded) error body */
    struct tr_error err; /* the stream translation's error, if any */
};

/* Write and flush the pending events; false if the client is gone. */
static bool push_events(struct call *c)
{
    bool ok = true;

    if (c->events.len > 0) {
        ok = wk_send_body(c->r, c->events.ptr, c->events.len) == 0;
        buf_reset(&c->events);
    }
    if (ok && wk_io_flush(c->r->io) != 0) {
        ok = false;
    }
    if (!ok) {
        c->r->client_gone = true;
    }
    return ok;
}

static bool start_stream(struct call *c)
{
    c->started = true;
    if (wk_send_head(c->r, 200, sse_ctype, sse_headers) != 0) {
        return false;
    }
    return push_events(c);
}

static bool sink_data(void *ctx, int status, const char *p, size_t n)
{
    struct call *c = ctx;
    enum ccp_err rc;

    c->status = status;
    if (status < 200 || status >= 300) {
        /* an error answer: keep its start for the error mapping */
        size_t room = c->body.max - c->body.len;

        if (room > 0 && buf_append(&c->body, p, n < room ? n : room) != CCP_OK) {
            return false;
        }
        return true;
    }
    if (!c->stream) {
        rc = buf_append(&c->body, p, n);
        if (rc != CCP_OK) {
            c->too_large = true;
            return false;
        }
        return true;
    }
    if (!c->started && !start_stream(c)) {
        return false;
    }
    if (c->ended) {
        return false;
    }
    rc = tr_stream_feed(c->st, p, n, &c->events, &c->err);
    if (!push_events(c)) {
        return false;
    }
    if (rc != CCP_OK) {
        /* the stream appended its terminal event; nothing more to read */
        LOG_WARN("upstream stream failed: %s (%s)", c->err.message, ccp_strerror(rc));
        c->ended = true;
        return false;
    }
    return true;
}

static bool sink_alive(void *ctx)
{
    struct call *c = ctx;

    if (c->r->io->gone(c->r->io)) {
        c->r->client_gone = true;
        return false;
    }
    return true;
}

/* Streaming: end the client's stream after the transfer. */
static void finish_stream(struct call *c, const struct wk_upstream_result *res)
{
    struct tr_error err;
    enum ccp_err rc;

    memset(&err, 0, sizeof(err));
    if (c->r->client_gone || c->ended) {
        return;
    }
    if (res->err == CCP_OK) {
        rc = tr_stream_finish(c->st, &c->events, &err);
        if (rc != CCP_OK) {
            LOG_WARN("upstream stream ended early: %s", err.message);
        }
    } else {
        tr_error_set(&err, res->err, "%s", res->message);
        LOG_WARN("upstream failed mid-stream: %s", res->message);
        rc = tr_stream_fail(c->st, &err, &c->events);
        if (rc != CCP_OK) {
            LOG_ERROR("could not end the stream with an error event (%s)", ccp_strerror(rc));
        }
    }
    (void)push_events(c);
}

/* Non-streaming 2xx: translate the buffered completion. */
static void answer_completion(struct call *c, const char *msg_id)
{
    struct wk_req *r = c->r;
    struct tr_error err;
    struct buf out;
    enum ccp_err rc;

    memset(&err, 0, sizeof(err));
    buf_init(&out, r->w->opts.max_out);
    rc = tr_response(&r->w->opts, &r->info, msg_id, c->body.ptr != NULL ? c->body.ptr : "",
                     c->body.len, &out, &err);
    if (rc != CCP_OK) {
        LOG_WARN("upstream answer not usable: %s", err.message);
        wk_send_error(r, &err);
    } else {
        wk_send_json(r, 200, NULL, out.ptr, out.len);
    }
    buf_release(&out);
}

/* After the transfer, when nothing went to the client yet. */
static void answer_after(struct call *c, const struct wk_upstream_result *res, const char *msg_id)
{
    struct wk_req *r = c->r;
    struct tr_error err;

    memset(&err, 0, sizeof(err));
    if (r->client_gone) {
        return;
    }
    if (c->too_large) {
        tr_error_set(&err, CCP_ERR_UPSTREAM, "upstream answer larger than %zu bytes", c->body.max);
        wk_send_error(r, &err);
        return;
    }
    if (res->err != CCP_OK) {
        LOG_WARN("upstream call failed: %s", res->message);
        tr_error_set(&err, res->err == CCP_DECLINED ? CCP_ERR_INTERNAL : res->err, "%s",
                     res->message);
        wk_send_error(r, &err);
        return;
    }
    if (res->status < 200 || res->status >= 300) {
        tr_error_from_upstream(&err, res->status, c->body.ptr != NULL ? c->body.ptr : "",
                               c->body.len, res->retry_after[0] != '\0' ? res->retry_after : NULL);
        LOG_WARN("upstream answered %d: %s", res->status, err.message);
        wk_send_error(r, &err);
        return;
    }
    if (c->stream) {
        /* 2xx with an empty body: the stream state machine says what is missing */
        if (start_stream(c)) {
            finish_stream(c, res);
        }
        return;
    }
    answer_completion(c, msg_id);
}

void wk_route_messages(struct wk_req *r)
{
    struct wk_worker *w = r->w;
    struct tr_error err;
    struct buf up_body;
    struct call c;
    struct wk_upstream_sink sink;
    struct wk_upstream_result res;
    char msg_id[4 + 24 + 1];
    enum ccp_err rc;

    memset(&err, 0, sizeof(err));
    memset(&c, 0, sizeof(c));
    buf_init(&up_body, w->opts.max_out);
    buf_init(&c.events, w->opts.max_out);
    if (w->conf->openai_api_key == NULL || w->conf->openai_api_key[0] == '\0') {
        tr_error_set(&err, CCP_ERR_INTERNAL,
                     "the proxy has no upstream API key configured (set OPENAI_API_KEY or "
                     "OPENAI_API_KEY_FILE)");
        wk_send_error(r, &err);
        goto out;
    }
    rc = tr_request(&w->opts, r->body.ptr != NULL ? r->body.ptr : "", r->body.len, &up_body,
                    &r->info, &err);
    if (rc != CCP_OK) {
        wk_send_error(r, &err);
        goto out;
    }
    r->have_info = true;
    LOG_DEBUG("upstream request: %.2000s", up_body.ptr);
    memcpy(msg_id, "msg_", 4);
    wk_random_hex(msg_id + 4, 24);

    c.r = r;
    c.stream = r->info.stream;
    buf_init(&c.body, c.stream ? ERR_BODY_MAX : w->conf->max_upstream_bytes);
    if (c.stream) {
        c.st = tr_stream_new(&w->opts, &r->info, msg_id);
        if (c.st == NULL) {
            tr_error_set(&err, CCP_ERR_NOMEM, "out of memory");
            wk_send_error(r, &err);
            goto out;
        }
    }
    sink.data = sink_data;
    sink.alive = sink_alive;
    sink.ctx = &c;
    wk_upstream_post(w->up, up_body.ptr, up_body.len, c.stream, &sink, &res);
    r->upstream_ms = res.ms;
    if (c.started) {
        finish_stream(&c, &res);
    } else {
        answer_after(&c, &res, msg_id);
    }
    if (c.started) {
        tr_stream_usage(c.st, &r->tokens_in, &r->tokens_out);
        r->tokens_cached = tr_stream_cached_tokens(c.st);
        r->have_tokens = true;
    } else if (res.err == CCP_OK && res.status >= 200 && res.status < 300) {
        wk_usage_from_completion(r, c.body.ptr, c.body.len); /* metrics hook */
    }

out:
    tr_stream_free(c.st);
    buf_release(&c.body);
    buf_release(&c.events);
    buf_release(&up_body);
}

void wk_route_count_tokens(struct wk_req *r)
{
    struct tr_error err;
    unsigned long tokens = 0;
    char json[64];
    int n;
    enum ccp_err rc;

    memset(&err, 0, sizeof(err));
    rc = tr_count_tokens_estimate(&r->w->opts, r->body.ptr != NULL ? r->body.ptr : "", r->body.len,
                                  &tokens, &err);
    if (rc != CCP_OK) {
        wk_send_error(r, &err);
        return;
    }
    n = snprintf(json, sizeof(json), "{\"input_tokens\":%lu}", tokens);
    wk_send_json(r, 200, "x-ccproxy-token-count: estimate\r\n", json, (size_t)n);
}
