/* fcgi/messages.c: POST /v1/messages (translate, answer from the response
 * cache or call the upstream with retries, stream or buffer the answer back,
 * store it) and POST /v1/messages/count_tokens. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "fcgi/fanout.h"
#include "fcgi/handler_int.h"
#include "fcgi/metrics_int.h"
#include "fcgi/ping.h"
#include "fcgi/rcache.h"
#include "fcgi/retry.h"
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
    size_t streamed;     /* 2xx stream bytes so far (MAX_UPSTREAM_STREAM_BYTES) */
    int status;          /* upstream status seen by the sink */
    struct buf events;   /* translated events waiting to be written */
    struct buf body;     /* non-stream body, or the (bounded) error body */
    struct tr_error err; /* the stream translation's error, if any */
    /* response cache: store the answer under key if it completes */
    bool store;
    struct cache_key key;
    struct buf capture;  /* streams: every event written, up to the item size */
    bool capture_full;   /* the stream outgrew the item size: not stored */
    struct wk_ping ping; /* started streams: pings while the upstream is silent */
    bool have_key;       /* key is set (the cache or the fan-out computed it) */
    /* streaming fan-out (fcgi/fanout.h): leading, publish every event */
    struct wk_fanout fo;
    bool terminal;     /* the stream's terminal event went out (to the client or followers) */
    bool unflushed;    /* the head or events are written but not flushed */
    bool join_started; /* wk_fanout_join_start ran (during the cache lookup) */
    bool store_ready;  /* the stream ended well: store it (store_stream) */
};

/* The client left and no follower needs the stream: stop. */
static bool nobody_left(struct call *c)
{
    return c->r->client_gone && !wk_fanout_wanted(&c->fo);
}

/* Write the pending events (and publish them to followers), and flush them
 * unless `last`: the stream's last events go out with the end of the answer
 * (wk_end_answer), in one write. False if nobody is left to read them. */
static bool push_out(struct call *c, bool last)
{
    bool ok = !c->r->client_gone;

    if (c->events.len > 0) {
        if (c->store && !c->capture_full &&
            buf_append(&c->capture, c->events.ptr, c->events.len) != CCP_OK) {
            c->capture_full = true; /* too large for the cache (or no memory) */
            buf_release(&c->capture);
        }
        wk_fanout_publish(&c->fo, c->events.ptr, c->events.len);
        ok = ok && wk_send_body(c->r, c->events.ptr, c->events.len) == 0;
        buf_reset(&c->events);
        wk_ping_note_output(&c->ping);
    }
    if (ok && !last && wk_io_flush(c->r->io) != 0) {
        ok = false;
    }
    c->unflushed = false;
    if (!ok) {
        c->r->client_gone = true;
    }
    return !nobody_left(c);
}

static bool push_events(struct call *c)
{
    return push_out(c, false);
}

/* The stream's head; it leaves with the first events (sink_drain), or at
 * once if push. */
static bool start_stream(struct call *c, bool push)
{
    c->started = true;
    if (!c->r->client_gone && wk_send_head(c->r, 200, sse_ctype, sse_headers) != 0) {
        c->r->client_gone = true;
    }
    c->unflushed = true;
    return push ? push_events(c) : !nobody_left(c);
}

/* The stream passed MAX_UPSTREAM_STREAM_BYTES: end the client's stream with
 * an error event; false, so the upstream transfer is cut. */
static bool stream_over_cap(struct call *c)
{
    size_t cap = c->r->w->conf->max_upstream_stream_bytes;

    tr_error_set(&c->err, CCP_ERR_UPSTREAM,
                 "upstream stream longer than MAX_UPSTREAM_STREAM_BYTES (%zu bytes)", cap);
    LOG_WARN("%s: cut", c->err.message);
    if (tr_stream_fail(c->st, &c->err, &c->events) != CCP_OK) {
        LOG_ERROR("could not end the stream with an error event");
    }
    (void)push_events(c);
    c->ended = true;
    c->terminal = true;
    return false;
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
    if (!c->started && !start_stream(c, false)) {
        return false;
    }
    if (c->ended) {
        return false;
    }
    c->streamed += n;
    if (c->streamed > c->r->w->conf->max_upstream_stream_bytes) {
        return stream_over_cap(c);
    }
    /* the events wait in c->events for sink_drain: what libcurl read in one
     * go leaves in one write */
    rc = tr_stream_feed(c->st, p, n, &c->events, &c->err);
    if (rc != CCP_OK) {
        /* the stream appended its terminal event; nothing more to read */
        (void)push_events(c);
        LOG_WARN("upstream stream failed: %s (%s)", c->err.message, ccp_strerror(rc));
        c->ended = true;
        c->terminal = true;
        return false;
    }
    return true;
}

static bool sink_alive(void *ctx)
{
    struct call *c = ctx;

    if (!c->r->client_gone && c->r->io->gone(c->r->io)) {
        c->r->client_gone = true;
    }
    /* between two feeds the client's stream is at an event boundary: a ping
     * fits there (never cached: it goes around c->capture) */
    if (c->started && !c->ended && !c->r->client_gone && wk_ping_due(&c->ping)) {
        if ((c->unflushed || c->events.len > 0) && !push_events(c)) { /* pings go after */
            return false;
        }
        if (wk_send_body(c->r, wk_ping_event, wk_ping_event_len) != 0 ||
            wk_io_flush(c->r->io) != 0) {
            c->r->client_gone = true;
        }
    }
    return !nobody_left(c);
}

/* A fan-out leader's coordinator link, watched while the upstream is
 * awaited (a follower coming is news to act on only at the next event). */
static int sink_watch_fd(void *ctx)
{
    struct call *c = ctx;

    return wk_fanout_watch_fd(&c->fo);
}

static void sink_watch(void *ctx)
{
    struct call *c = ctx;

    wk_fanout_watch(&c->fo);
}

/* libcurl delivered all it read: write the events it gave in one go. */
static bool sink_drain(void *ctx)
{
    struct call *c = ctx;

    if (!c->started || c->ended || (!c->unflushed && c->events.len == 0)) {
        return true;
    }
    return push_events(c);
}

/* Streaming: the client's stream's last events after the transfer, written
 * but not flushed (the end of the answer takes them: store_stream, or the
 * caller); c->store_ready if message_stop went out with no error. */
static void finish_stream(struct call *c, const struct wk_upstream_result *res)
{
    struct tr_error err;
    enum ccp_err rc;

    memset(&err, 0, sizeof(err));
    if (nobody_left(c) || c->ended) {
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
        rc = CCP_ERR_UPSTREAM; /* an error event: never stored */
    }
    c->terminal = push_out(c, true) || c->terminal;
    c->store_ready = c->terminal && rc == CCP_OK && c->store && !c->capture_full;
}

static void end_answer(void *arg)
{
    wk_end_answer(arg);
}

/* Store a finished stream in the response cache. A fan-out leader ends its
 * client's answer first, so the client does not wait for memcached: until
 * the leader's END, which goes after the store, the coordinator makes an
 * identical request a follower and replays the stream to it; after END the
 * stored answer is there. Without fan-out the answer ends once the
 * in-process LRU has it (wk_rcache_put; without an LRU, once memcached
 * has it): a client that repeats the request at once must find it. */
static void store_stream(struct call *c)
{
    struct wk_req *r = c->r;
    bool leader = c->fo.cc != NULL && c->fo.leader;

    if (leader) {
        wk_end_answer(r);
    }
    wk_rcache_put(r->w->rc, &c->key, CACHE_ENTRY_SSE, sse_ctype, c->capture.ptr, c->capture.len,
                  leader ? NULL : end_answer, r);
}

struct json_answer {
    struct wk_req *r;
    const struct buf *out;
};

/* Send a translated answer, which ends it (wk_rcache_put's before_shared). */
static void send_answer(void *arg)
{
    struct json_answer *a = arg;

    wk_send_json(a->r, 200, NULL, a->out->ptr, a->out->len);
}

/* Non-streaming 2xx: translate the buffered completion. Stored, it goes to
 * the client before memcached is asked (wk_rcache_put). */
static void answer_completion(struct call *c, const char *msg_id)
{
    struct wk_req *r = c->r;
    struct json_answer a;
    struct tr_usage usage;
    struct tr_error err;
    struct buf out;
    enum ccp_err rc;

    memset(&err, 0, sizeof(err));
    buf_init(&out, r->w->opts.max_out);
    rc = tr_response_usage(&r->w->opts, &r->info, msg_id, c->body.ptr != NULL ? c->body.ptr : "",
                           c->body.len, &out, &err, &usage);
    if (usage.present) { /* for the request line, metrics and prices */
        r->tokens_in = usage.prompt;
        r->tokens_out = usage.completion;
        r->tokens_cached = usage.cached;
        r->have_tokens = true;
    }
    if (rc != CCP_OK) {
        LOG_WARN("upstream answer not usable: %s", err.message);
        wk_send_error(r, &err);
    } else if (c->store && out.len <= wk_rcache_max_body(r->w->rc)) {
        a.r = r;
        a.out = &out;
        wk_rcache_put(r->w->rc, &c->key, CACHE_ENTRY_JSON, "application/json", out.ptr, out.len,
                      send_answer, &a);
    } else {
        wk_send_json(r, 200, NULL, out.ptr, out.len);
    }
    buf_release(&out);
}

/* An upstream error answer, to the client and (leading a fan-out) to every
 * follower, so they answer the same without calling upstream. */
static void send_upstream_error(struct call *c, const struct tr_error *err)
{
    wk_fanout_error(&c->fo, err);
    if (!c->r->client_gone) {
        wk_send_error(c->r, err);
    }
}

/* After the transfer, when nothing went to the client yet. */
static void answer_after(struct call *c, const struct wk_upstream_result *res, const char *msg_id)
{
    struct wk_req *r = c->r;
    struct tr_error err;

    memset(&err, 0, sizeof(err));
    if (r->client_gone && c->fo.cc == NULL) {
        return; /* (a leader whose client left still answers its followers) */
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
        if (res->err == CCP_DECLINED) {
            wk_fanout_finish(&c->fo, false); /* we stopped it ourselves: followers go direct */
        }
        send_upstream_error(c, &err);
        return;
    }
    if (res->status < 200 || res->status >= 300) {
        tr_error_from_upstream(&err, res->status, c->body.ptr != NULL ? c->body.ptr : "",
                               c->body.len, res->retry_after[0] != '\0' ? res->retry_after : NULL);
        LOG_WARN("upstream answered %d: %s", res->status, err.message);
        send_upstream_error(c, &err);
        return;
    }
    if (c->stream) {
        /* 2xx with an empty body: the stream state machine says what is missing */
        if (start_stream(c, true)) {
            finish_stream(c, res);
        }
        return;
    }
    answer_completion(c, msg_id);
}

/* Replace every occurrence of the message id in a cached answer (the first
 * "id":"msg_<24 hex>") with msg_id, which has the same length, so a replayed
 * answer carries this request's id. */
static void substitute_id(char *p, size_t n, const char *msg_id)
{
    static const char pat[] = "\"id\":\"msg_";
    size_t idlen = strlen(msg_id), i;
    char old[64];
    const char *at = NULL;

    for (i = 0; i + sizeof(pat) - 1 + 24 + 1 <= n; i++) {
        if (memcmp(p + i, pat, sizeof(pat) - 1) == 0) {
            at = p + i + 6; /* at "msg_" */
            break;
        }
    }
    if (at == NULL || idlen != 28 || at[28] != '"') {
        return;
    }
    memcpy(old, at, 28);
    for (i = 0; i + 28 <= n; i++) {
        if (p[i] == 'm' && memcmp(p + i, old, 28) == 0) {
            memcpy(p + i, msg_id, 28);
            i += 27;
        }
    }
}

/* A stream with fan-out on: send the coordinator its JOIN now, so that its
 * answer comes while memcached looks the key up (wk_rcache_get_ex). */
static void start_join(void *arg)
{
    struct call *c = arg;

    if (c->stream && c->have_key && wk_fanout_enabled(c->r->w->conf)) {
        c->join_started = true;
        wk_fanout_join_start(&c->fo, c->r->w, &c->key);
    }
}

/* Answer from the cache. True if a hit was sent (or the client left while
 * it was), false on a miss. recheck: this request was counted as a miss
 * already (wk_rcache_recheck); else a stream's JOIN goes out during the
 * lookup (start_join). */
static bool answer_from_cache(struct wk_req *r, struct call *c, const char *msg_id, bool recheck)
{
    const struct cache_key *key = &c->key;
    struct buf raw;
    struct cache_entry e;
    bool hit = false;
    char *body;

    buf_init(&raw, r->w->conf->response_cache_max_item + 1024);
    if ((recheck ? wk_rcache_recheck(r->w->rc, key, &raw)
                 : wk_rcache_get_ex(r->w->rc, key, &raw, start_join, c)) != CCP_OK ||
        cache_entry_decode(raw.ptr, raw.len, &e) != CCP_OK ||
        (e.kind == CACHE_ENTRY_SSE) != r->info.stream) {
        goto out;
    }
    hit = true;
    r->cache = WK_CACHE_HIT;
    body = raw.ptr + (e.body.ptr - raw.ptr); /* e.body is a view into raw, which we own */
    substitute_id(body, e.body.len, msg_id);
    if (e.kind == CACHE_ENTRY_JSON) {
        wk_send_json(r, 200, NULL, e.body.ptr, e.body.len);
        goto out;
    }
    if (wk_send_head(r, 200, sse_ctype, sse_headers) == 0 &&
        wk_send_body(r, e.body.ptr, e.body.len) == 0) {
        wk_end_answer(r);
    }

out:
    buf_release(&raw);
    return hit;
}

/* The response key of this call (the cache and the fan-out share it),
 * computed once; false if there is none (no tenant digest, libcrypto). */
static bool call_key(struct wk_req *r, struct call *c, const struct buf *up_body)
{
    if (!c->have_key) {
        c->have_key =
            r->have_tenant_key && wk_rcache_key(up_body->ptr, up_body->len, &r->tenant_key,
                                                r->info.stream, &c->key) == CCP_OK;
    }
    return c->have_key;
}

/* Decide what the cache does for this request (r->cache, c->store, c->key);
 * true if it answered. */
static bool consult_cache(struct wk_req *r, struct call *c, const struct buf *up_body,
                          const char *msg_id)
{
    struct wk_rcache *rc = r->w->rc;
    const char *cc = r->io->param(r->io, "HTTP_CACHE_CONTROL");
    bool no_store = cc != NULL && strstr(cc, "no-store") != NULL;
    bool no_cache = no_store || (cc != NULL && strstr(cc, "no-cache") != NULL);

    if (rc == NULL) {
        return false;
    }
    if (!call_key(r, c, up_body)) {
        LOG_WARN("response cache: no key for this request; not cached");
        r->cache = WK_CACHE_BYPASS;
        wk_rcache_note_bypass(rc);
        return false;
    }
    if (no_cache) {
        /* no-cache: skip the lookup but keep the fresh answer; no-store: neither */
        r->cache = WK_CACHE_BYPASS;
        wk_rcache_note_bypass(rc);
        c->store = !no_store;
    } else if (answer_from_cache(r, c, msg_id, false)) {
        wk_fanout_join_cancel(&c->fo); /* a join started during the lookup */
        return true;
    } else {
        r->cache = WK_CACHE_MISS;
        c->store = true;
    }
    buf_init(&c->capture, wk_rcache_max_body(rc));
    return false;
}

/* Streaming with fan-out on: join the coordinator under the response key.
 * True if this request was answered as a follower; false to call upstream
 * (leading, or going direct). */
static bool join_fanout(struct wk_req *r, struct call *c, const struct buf *up_body,
                        const char *msg_id)
{
    enum ccp_err rc;

    if (!c->stream || !wk_fanout_enabled(r->w->conf)) {
        return false;
    }
    if (!call_key(r, c, up_body)) {
        return false;
    }
    /* a join started during the lookup is finished, not made again */
    rc = c->join_started ? wk_fanout_join_finish(&c->fo, r->w, &c->key)
                         : wk_fanout_join(&c->fo, r->w, &c->key);
    if (rc != CCP_OK || c->fo.leader) {
        return false;
    }
    if (wk_fanout_follow(&c->fo, r) == CCP_OK) {
        return true;
    }
    /* nothing was relayed: the leader failed, ended without an event, or
     * the coordinator went away. A leader stores its stream before its END,
     * so one that ended just as this request joined left its answer in the
     * cache: ask again before going direct (calling upstream). */
    if (r->cache == WK_CACHE_COALESCED) {
        r->cache = WK_CACHE_MISS;
    }
    return r->cache == WK_CACHE_MISS && answer_from_cache(r, c, msg_id, true);
}

/* Call the upstream, retrying while nothing reached the client (see
 * fcgi/retry.h), within MAX_STREAM_SECONDS in all. */
static void call_upstream(struct call *c, const struct buf *up_body,
                          const struct wk_upstream_sink *sink, struct wk_upstream_result *res)
{
    struct wk_req *r = c->r;
    const struct conf *conf = r->w->conf;
    long budget_ms = conf->max_stream_seconds * 1000L, delay;
    struct timespec t0;
    unsigned attempt;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (attempt = 0;; attempt++) {
        buf_reset(&c->body);
        c->status = 0;
        c->too_large = false;
        wk_upstream_post(r->w->up, up_body->ptr, up_body->len, c->stream,
                         budget_ms - wk_ms_since(&t0), sink, res);
        r->attempts = attempt + 1;
        if (c->started || r->client_gone || attempt >= (unsigned)conf->provider_max_retries ||
            !wk_retry_wanted(conf, res)) {
            break;
        }
        delay = wk_retry_delay_ms(conf, attempt, res->err == CCP_OK ? res->retry_after : NULL);
        if (delay < 0) {
            LOG_INFO("upstream answered %d with retry-after %s (over "
                     "PROVIDER_RETRY_AFTER_MAX_S): passed back",
                     res->status, res->retry_after);
            break;
        }
        if (wk_ms_since(&t0) + delay >= budget_ms) {
            LOG_INFO("upstream attempt %u failed; no time left for another", attempt + 1);
            break;
        }
        if (res->err == CCP_OK) {
            LOG_INFO("upstream attempt %u answered %d; retrying in %ld ms", attempt + 1,
                     res->status, delay);
        } else {
            LOG_INFO("upstream attempt %u failed (%s); retrying in %ld ms", attempt + 1,
                     res->message, delay);
        }
        wk_metrics_upstream_retry();
        if (!wk_retry_sleep(r->io, delay)) {
            r->client_gone = true;
            break;
        }
    }
    r->upstream_ms = wk_ms_since(&t0);
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
    buf_init(&c.capture, 0);
    buf_init(&c.body, 0);
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
    wk_ping_init(&c.ping, w->conf->ping_interval_s);
    if (consult_cache(r, &c, &up_body, msg_id) || join_fanout(r, &c, &up_body, msg_id)) {
        goto out;
    }
    buf_init(&c.body, c.stream ? ERR_BODY_MAX : w->conf->max_upstream_bytes);
    if (c.stream) {
        c.st = tr_stream_new(&w->opts, &r->info, msg_id);
        if (c.st == NULL) {
            tr_error_set(&err, CCP_ERR_NOMEM, "out of memory");
            wk_send_error(r, &err);
            goto out;
        }
    }
    memset(&sink, 0, sizeof(sink));
    sink.data = sink_data;
    sink.alive = sink_alive;
    sink.drain = sink_drain;
    sink.watch_fd = sink_watch_fd;
    sink.watch = sink_watch;
    sink.ctx = &c;
    c.fo.watched = wk_upstream_watches();
    call_upstream(&c, &up_body, &sink, &res);
    if (c.started) {
        finish_stream(&c, &res);
    } else {
        answer_after(&c, &res, msg_id);
    }
    if (c.store_ready) {
        store_stream(&c);
    } else if (c.started) {
        wk_end_answer(r);
    }
    wk_fanout_finish(&c.fo, c.terminal);
    if (c.started) {
        tr_stream_usage(c.st, &r->tokens_in, &r->tokens_out);
        r->tokens_cached = tr_stream_cached_tokens(c.st);
        r->have_tokens = true;
    }

out:
    wk_fanout_release(&c.fo);
    tr_stream_free(c.st);
    buf_release(&c.capture);
    buf_release(&c.body);
    buf_release(&c.events);
    buf_release(&up_body);
}
