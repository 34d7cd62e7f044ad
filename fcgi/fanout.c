/* fcgi/fanout.c: the worker's side of the streaming fan-out: pick a
 * coordinator by key hash, join, publish as leader, relay as follower, and
 * fall back to a direct upstream call whenever the coordinator fails. */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"
#include "coord/client.h"
#include "coord/proto.h"
#include "fcgi/fanout.h"
#include "fcgi/handler_int.h"
#include "fcgi/metrics.h"
#include "translate/translate.h"

#include "common/banned.h"

#define ADDR_SLOTS 16               /* addresses remembered as down (more share slots) */
#define DOWN_MS 2000                /* an address that failed is skipped this long */
#define BACKLOG_MAX (64u << 20)     /* a leader's events kept for a first follower */
#define PUBLISH_MS 1000             /* longest a leader waits for the coordinator to take a chunk */
#define SLICE_MS 200                /* a follower checks its client this often */
#define LOG_EVERY_MS 10000          /* repeated coordinator failures are logged this rarely */
#define ADDR_MAX WK_FANOUT_ADDR_MAX /* longest address */
#define EVENT_MAX (COORD_DEFAULT_MAX_PAYLOAD)

static const char sse_headers[] = "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
static const char sse_ctype[] = "text/event-stream; charset=utf-8";

/* Per process: until when each address is skipped (CLOCK_MONOTONIC ms). */
static atomic_llong down_until[ADDR_SLOTS];
static atomic_llong last_log_ms;
static atomic_long failures_since_log;

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Log a coordinator failure at most once per LOG_EVERY_MS, with a count. */
static void note_failure(const char *addr, const char *what, enum ccp_err rc)
{
    long long now = now_ms(), last = atomic_load(&last_log_ms);
    long n = atomic_fetch_add(&failures_since_log, 1) + 1;

    if (now - last >= LOG_EVERY_MS && atomic_compare_exchange_strong(&last_log_ms, &last, now)) {
        atomic_store(&failures_since_log, 0);
        LOG_WARN("coordinator %s: %s (%s); going direct (%ld failures in the last %d s)", addr,
                 what, ccp_strerror(rc), n, LOG_EVERY_MS / 1000);
    } else {
        LOG_DEBUG("coordinator %s: %s (%s); going direct", addr, what, ccp_strerror(rc));
    }
}

bool wk_fanout_enabled(const struct conf *c)
{
    return c->stream_dedupe_enabled && c->coord_addresses != NULL && c->coord_addresses[0] != '\0';
}

/* The first 32 bits of the key's hex digest. */
static uint32_t key_hash(const struct cache_key *key)
{
    uint32_t h = 0;
    size_t i;

    for (i = 0; i < 8 && key->hex[i] != '\0'; i++) {
        char ch = key->hex[i];
        uint32_t d = ch >= '0' && ch <= '9' ? (uint32_t)(ch - '0') : (uint32_t)(ch - 'a' + 10);

        h = (h << 4) | (d & 0xf);
    }
    return h;
}

/* Copy address number `pick` modulo their count out of the comma list.
 * Its number in *no and its slot (for down_until and kept connections) in
 * *idx. False if the list has none. */
static bool pick_address(const char *list, uint32_t pick, char *out, size_t cap, size_t *idx,
                         size_t *no)
{
    const char *p;
    size_t count = 0, want, n;

    for (p = list; *p != '\0';) {
        n = strcspn(p, ",");
        count += n > 0 ? 1 : 0;
        p += n + (p[n] == ',' ? 1 : 0);
    }
    if (count == 0) {
        return false;
    }
    want = pick % count;
    count = 0;
    for (p = list; *p != '\0';) {
        n = strcspn(p, ",");
        if (n > 0 && count++ == want) {
            if (n >= cap) {
                return false;
            }
            memcpy(out, p, n);
            out[n] = '\0';
            *idx = want % ADDR_SLOTS;
            *no = want;
            return true;
        }
        p += n + (p[n] == ',' ? 1 : 0);
    }
    return false;
}

/* A worker thread's kept coordinator connections, by address slot. */
struct wk_fanout_conns {
    struct coord_client *cc[ADDR_SLOTS];
    size_t addr_no[ADDR_SLOTS]; /* which address cc[i] is connected to */
};

void wk_fanout_conns_free(struct wk_fanout_conns *k)
{
    size_t i;

    if (k == NULL) {
        return;
    }
    for (i = 0; i < ADDR_SLOTS; i++) {
        coord_close(k->cc[i]);
    }
    ccp_free(k);
}

/* Take the kept connection to address addr_no out of its slot, or NULL. */
static struct coord_client *take_kept(struct wk_fanout_conns **keep, size_t slot, size_t addr_no)
{
    struct coord_client *cc = NULL;

    if (keep != NULL && *keep != NULL && (*keep)->cc[slot] != NULL &&
        (*keep)->addr_no[slot] == addr_no) {
        cc = (*keep)->cc[slot];
        (*keep)->cc[slot] = NULL;
    }
    return cc;
}

/* Keep the idle connection cc to address addr_no in its slot of *keep
 * (replacing another address's). False (cc not taken) if it is not idle or
 * no memory is had. */
static bool keep_cc(struct wk_fanout_conns **keep, size_t slot, size_t addr_no,
                    struct coord_client *cc)
{
    struct wk_fanout_conns *k;

    if (keep == NULL || !coord_idle(cc)) {
        return false;
    }
    if (*keep == NULL) {
        *keep = ccp_calloc(1, sizeof(**keep));
        if (*keep == NULL) {
            return false;
        }
    }
    k = *keep;
    coord_close(k->cc[slot]);
    k->cc[slot] = cc;
    k->addr_no[slot] = addr_no;
    return true;
}

/* Keep fo's idle connection in its slot. */
static bool keep_conn(struct wk_fanout *fo)
{
    if (!keep_cc(fo->keep, fo->slot, fo->addr_no, fo->cc)) {
        return false;
    }
    fo->cc = NULL;
    return true;
}

void wk_fanout_prewarm(struct wk_worker *w)
{
    const struct conf *c = w->conf;
    struct coord_client *cc;
    char addr[ADDR_MAX];
    size_t idx, addr_no;
    uint32_t i;
    enum ccp_err rc;

    if (!wk_fanout_enabled(c)) {
        return;
    }
    for (i = 0; i < ADDR_SLOTS; i++) {
        if (!pick_address(c->coord_addresses, i, addr, sizeof(addr), &idx, &addr_no) ||
            addr_no != i) {
            break; /* (pick wraps round after the last address) */
        }
        if (atomic_load(&down_until[idx]) > now_ms()) {
            continue;
        }
        rc = coord_connect(addr, (int)c->coord_connect_timeout_ms, 0, &cc);
        if (rc != CCP_OK) {
            LOG_DEBUG("coordinator %s: not connected at start (%s)", addr, ccp_strerror(rc));
            continue;
        }
        if (!keep_cc(&w->fanout, idx, addr_no, cc)) {
            coord_close(cc);
        }
    }
}

/* The failure of a join on fo->cc (rc): the connection is kept when the
 * daemon declined (busy), else closed. True if the caller should try once
 * more on a fresh connection: a kept one that turned out dead. */
static bool join_failed(struct wk_fanout *fo, enum ccp_err rc)
{
    const char *addr = fo->addr;

    if (coord_idle(fo->cc)) {
        /* declined (busy): the connection itself is fine */
        note_failure(addr, "join declined", rc);
        wk_metrics_add(WK_C_CO_FAILOPEN, 1);
        wk_fanout_release(fo);
        return false;
    }
    coord_close(fo->cc);
    fo->cc = NULL;
    if (fo->reused && rc == CCP_ERR_COORD) {
        /* the kept connection died between requests (daemon restarted,
         * or it closed us after an ABORT): one fresh try */
        LOG_DEBUG("coordinator %s: kept connection is gone; reconnecting", addr);
        fo->reused = false;
        return true;
    }
    if (rc != CCP_ERR_COORD) {
        atomic_store(&down_until[fo->slot], now_ms() + DOWN_MS);
    }
    note_failure(addr, "join failed", rc);
    wk_metrics_add(WK_C_CO_FAILOPEN, 1);
    return false;
}

void wk_fanout_join_start(struct wk_fanout *fo, struct wk_worker *w, const struct cache_key *key)
{
    const struct conf *c = w->conf;
    size_t idx = 0, addr_no = 0;
    enum ccp_err rc;
    int timeout = (int)c->coord_connect_timeout_ms;

    memset(fo, 0, sizeof(*fo));
    buf_init(&fo->backlog, BACKLOG_MAX);
    fo->conf = c;
    fo->keep = &w->fanout;
    if (!wk_fanout_enabled(c) || !pick_address(c->coord_addresses, key_hash(key), fo->addr,
                                               sizeof(fo->addr), &idx, &addr_no)) {
        return;
    }
    fo->slot = idx;
    fo->addr_no = addr_no;
    fo->cc = take_kept(fo->keep, idx, addr_no);
    fo->reused = fo->cc != NULL;
    for (;;) {
        if (fo->cc == NULL) {
            if (atomic_load(&down_until[idx]) > now_ms()) {
                wk_metrics_add(WK_C_CO_FAILOPEN, 1); /* known down: direct without trying */
                return;
            }
            rc = coord_connect(fo->addr, timeout, 0, &fo->cc);
            if (rc != CCP_OK) {
                fo->cc = NULL;
                atomic_store(&down_until[idx], now_ms() + DOWN_MS);
                note_failure(fo->addr, "cannot connect", rc);
                wk_metrics_add(WK_C_CO_FAILOPEN, 1);
                return;
            }
        }
        rc = coord_join_send(fo->cc, key->hex, strlen(key->hex), timeout);
        if (rc == CCP_OK) {
            fo->joining = true;
            return;
        }
        if (!join_failed(fo, rc)) {
            return;
        }
    }
}

enum ccp_err wk_fanout_join_finish(struct wk_fanout *fo, struct wk_worker *w,
                                   const struct cache_key *key)
{
    enum coord_role role;
    enum ccp_err rc;

    if (!fo->joining) {
        return CCP_DECLINED;
    }
    fo->joining = false;
    rc = coord_join_wait(fo->cc, (int)fo->conf->coord_connect_timeout_ms, &role);
    if (rc != CCP_OK) {
        if (!join_failed(fo, rc)) {
            return CCP_DECLINED;
        }
        return wk_fanout_join(fo, w, key); /* fresh connection; no second retry */
    }
    fo->leader = role == COORD_ROLE_LEADER;
    wk_metrics_add(fo->leader ? WK_C_CO_LEADERS : WK_C_CO_FOLLOWERS, 1);
    LOG_DEBUG("coordinator %s: %s stream %.16s%s", fo->addr, fo->leader ? "leading" : "following",
              key->hex, fo->reused ? " (kept connection)" : "");
    return CCP_OK;
}

void wk_fanout_join_cancel(struct wk_fanout *fo)
{
    enum coord_role role;

    if (!fo->joining) {
        return;
    }
    fo->joining = false;
    if (coord_join_wait(fo->cc, (int)fo->conf->coord_connect_timeout_ms, &role) == CCP_OK) {
        if (role == COORD_ROLE_LEADER) {
            /* an identical request that joined meanwhile goes direct */
            if (coord_abort(fo->cc, "answered from the response cache", PUBLISH_MS) != CCP_OK) {
                LOG_DEBUG("coordinator: could not end the stream");
            }
        } else {
            coord_close(fo->cc); /* a follower leaves by going away */
            fo->cc = NULL;
        }
    }
    wk_fanout_release(fo);
}

enum ccp_err wk_fanout_join(struct wk_fanout *fo, struct wk_worker *w, const struct cache_key *key)
{
    wk_fanout_join_start(fo, w, key);
    return wk_fanout_join_finish(fo, w, key);
}

void wk_fanout_error(struct wk_fanout *fo, const struct tr_error *err)
{
    char hdr[64] = "";
    struct buf body;
    unsigned status = err->status >= 400 && err->status <= 599 ? (unsigned)err->status : 500;
    enum ccp_err rc;

    if (fo->cc == NULL || !fo->leader) {
        return;
    }
    buf_init(&body, COORD_ERROR_MAX / 2);
    if (err->retry_after[0] != '\0') {
        snprintf(hdr, sizeof(hdr), "retry-after: %s\r\n", err->retry_after);
    }
    rc = tr_error_json(err, &body);
    if (rc == CCP_OK) {
        rc = coord_error(fo->cc, status, hdr, strlen(hdr), body.ptr, body.len, PUBLISH_MS);
    }
    if (rc != CCP_OK) {
        /* an unusable retry-after or a broken link: followers get ABORT and go direct */
        LOG_DEBUG("coordinator: could not share the error answer (%s)", ccp_strerror(rc));
        if (coord_abort(fo->cc, "leader failed", PUBLISH_MS) != CCP_OK) {
            LOG_DEBUG("coordinator: could not end the stream");
        }
    } else {
        LOG_DEBUG("upstream error %u shared with the followers", status);
    }
    buf_release(&body);
    wk_fanout_release(fo);
}

/* Leader: send the kept events once a follower is attached. false if the
 * link failed (fo is released then). */
static bool flush_backlog(struct wk_fanout *fo)
{
    unsigned count = 0;
    enum ccp_err rc;

    if (fo->publishing) {
        return true;
    }
    if (fo->watched && fo->followers == 0 && !coord_has_input(fo->cc)) {
        return true; /* nothing new on the link: the upstream wait watches it */
    }
    rc = coord_followers(fo->cc, 0, &count);
    if (rc == CCP_OK && count == 0) {
        return true; /* nobody to send to yet */
    }
    if (rc == CCP_OK) {
        fo->followers = count;
        fo->publishing = true;
        if (fo->backlog.len > 0) {
            rc = coord_publish(fo->cc, fo->backlog.ptr, fo->backlog.len, PUBLISH_MS);
        }
        buf_release(&fo->backlog);
    }
    if (rc != CCP_OK) {
        note_failure("link", "publish failed; the stream goes on without followers", rc);
        wk_fanout_release(fo);
        return false;
    }
    return true;
}

void wk_fanout_publish(struct wk_fanout *fo, const char *p, size_t n)
{
    enum ccp_err rc;

    if (fo->cc == NULL || !fo->leader || n == 0) {
        return;
    }
    if (!flush_backlog(fo)) {
        return;
    }
    if (!fo->publishing) {
        if (buf_append(&fo->backlog, p, n) != CCP_OK) {
            /* too long to replay to a late follower: stop offering it */
            if (coord_abort(fo->cc, "too large", PUBLISH_MS) != CCP_OK) {
                LOG_DEBUG("coordinator: could not abort an oversized stream");
            }
            wk_fanout_release(fo);
        }
        return;
    }
    rc = coord_publish(fo->cc, p, n, PUBLISH_MS);
    if (rc != CCP_OK) {
        note_failure("link", "publish failed; the stream goes on without followers", rc);
        wk_fanout_release(fo);
    }
}

int wk_fanout_watch_fd(const struct wk_fanout *fo)
{
    return fo->cc != NULL && fo->leader && !fo->publishing ? coord_fd(fo->cc) : -1;
}

void wk_fanout_watch(struct wk_fanout *fo)
{
    unsigned count = 0;
    enum ccp_err rc;

    if (wk_fanout_watch_fd(fo) < 0) {
        return;
    }
    rc = coord_followers(fo->cc, 0, &count);
    if (rc != CCP_OK) {
        note_failure("link", "lost; the stream goes on without followers", rc);
        wk_fanout_release(fo);
        return;
    }
    fo->followers = count;
}

bool wk_fanout_wanted(struct wk_fanout *fo)
{
    unsigned count = 0;

    if (fo->cc == NULL || !fo->leader) {
        return false;
    }
    if (coord_followers(fo->cc, 0, &count) != CCP_OK) {
        wk_fanout_release(fo);
        return false;
    }
    fo->followers = count;
    return count > 0;
}

void wk_fanout_finish(struct wk_fanout *fo, bool complete)
{
    enum ccp_err rc;

    if (fo->cc == NULL) {
        return;
    }
    /* a follower that came after the last wait must get the backlog
     * before END: read the link now, watched or not */
    fo->watched = false;
    if (fo->leader && complete && !flush_backlog(fo)) {
        return; /* released */
    }
    if (fo->leader) {
        rc = complete ? coord_end(fo->cc, PUBLISH_MS)
                      : coord_abort(fo->cc, "leader failed", PUBLISH_MS);
        if (rc != CCP_OK) {
            LOG_DEBUG("coordinator: could not end the stream (%s)", ccp_strerror(rc));
        }
    }
    wk_fanout_release(fo);
}

void wk_fanout_release(struct wk_fanout *fo)
{
    if (fo->cc != NULL && !keep_conn(fo)) {
        coord_close(fo->cc);
    }
    fo->cc = NULL;
    fo->leader = false;
    fo->followers = 0;
    fo->publishing = false;
    fo->watched = false;
    buf_release(&fo->backlog);
}

/* End a started relay with an error event saying why. */
static void relay_error(struct wk_req *r, const char *why)
{
    struct tr_error err;
    struct buf ev;

    memset(&err, 0, sizeof(err));
    buf_init(&ev, 4096);
    tr_error_set(&err, CCP_ERR_UPSTREAM, "the shared upstream stream failed: %s", why);
    if (tr_error_sse(&err, &ev) == CCP_OK && wk_send_body(r, ev.ptr, ev.len) == 0) {
        wk_end_answer(r);
    }
    buf_release(&ev);
}

/* Send one chunk of relayed events, with the headers first. False if the
 * client is gone. */
static bool relay_chunk(struct wk_req *r, const struct buf *ev)
{
    if (!r->sent_head) {
        r->cache = WK_CACHE_COALESCED;
        if (wk_send_head(r, 200, sse_ctype, sse_headers) != 0) {
            return false;
        }
    }
    return wk_send_body(r, ev->ptr, ev->len) == 0 && wk_io_flush(r->io) == 0;
}

/* Answer r's client with the leader's error answer (an ERROR payload in
 * ev). CCP_OK, or CCP_DECLINED (go direct) if the payload is unusable. */
static enum ccp_err relay_answer(struct wk_req *r, const struct buf *ev, bool sent)
{
    struct coord_error e;
    char extra[512]; /* the leader sends retry-after only */

    if (coord_parse_error(ev->ptr, ev->len, &e) != CCP_OK || e.headers_len >= sizeof(extra)) {
        LOG_WARN("coalesced stream: unusable error answer; going direct");
        return CCP_DECLINED;
    }
    if (sent) {
        relay_error(r, "the upstream call failed"); /* cannot happen: ERROR comes first */
        return CCP_OK;
    }
    memcpy(extra, e.headers, e.headers_len);
    extra[e.headers_len] = '\0';
    r->cache = WK_CACHE_COALESCED;
    LOG_INFO("coalesced stream: the leader's upstream answered %u; passed on", e.status);
    wk_send_json(r, (int)e.status, extra, e.body, e.body_len);
    return CCP_OK;
}

enum ccp_err wk_fanout_follow(struct wk_fanout *fo, struct wk_req *r)
{
    const struct conf *c = fo->conf;
    long long t0 = now_ms();
    long long first_by = t0 + c->coord_follower_wait_ms;
    long long end_by = first_by + c->max_stream_seconds * 1000LL;
    enum coord_next_kind kind;
    enum ccp_err rc = CCP_DECLINED, nrc;
    struct buf ev;
    bool sent = false, dropped = true; /* false: ended normally or the client left */
    bool following = fo->cc != NULL && !fo->leader;

    buf_init(&ev, EVENT_MAX);
    if (!following) {
        goto out;
    }
    for (;;) {
        long long now = now_ms(), limit = sent ? end_by : first_by;
        int wait = (int)(limit - now < SLICE_MS ? limit - now : SLICE_MS);

        if (wait <= 0) {
            if (!sent) {
                LOG_INFO("coalesced stream: no event within COORD_FOLLOWER_WAIT_MS; going direct");
                goto out;
            }
            relay_error(r, "no end within MAX_STREAM_SECONDS");
            rc = CCP_OK;
            goto out;
        }
        buf_reset(&ev);
        nrc = coord_next(fo->cc, &ev, wait, &kind);
        if (nrc == CCP_ERR_TIMEOUT) {
            if (r->io->gone(r->io)) {
                r->client_gone = true;
                dropped = false;
                rc = CCP_OK;
                goto out;
            }
            continue;
        }
        if (nrc != CCP_OK) {
            note_failure("link", "lost while following", nrc);
            if (sent) {
                relay_error(r, "coordinator lost");
                rc = CCP_OK;
            }
            goto out;
        }
        if (kind == COORD_NEXT_EVENT) {
            if (!relay_chunk(r, &ev)) {
                r->client_gone = true; /* closing the link tells the leader */
                dropped = false;
                rc = CCP_OK;
                goto out;
            }
            sent = true;
            continue;
        }
        if (kind == COORD_NEXT_END && sent) {
            dropped = false;
            rc = CCP_OK;
            goto out;
        }
        if (kind == COORD_NEXT_ERROR) {
            dropped = false; /* the leader's own answer, shared */
            rc = relay_answer(r, &ev, sent);
            goto out;
        }
        /* ABORT "slow" is followed by the daemon closing us: do not keep it */
        coord_close(fo->cc);
        fo->cc = NULL;
        /* ABORT, or END with no event at all */
        LOG_INFO("coalesced stream aborted (%.*s)%s", (int)(ev.len < 200 ? ev.len : 200),
                 ev.ptr != NULL ? ev.ptr : "", sent ? "" : "; going direct");
        if (sent) {
            relay_error(r, ev.len > 0 ? ev.ptr : "aborted");
            rc = CCP_OK;
        }
        goto out;
    }

out:
    if (dropped && following) {
        wk_metrics_add(WK_C_CO_DROPS, 1); /* wait over, link lost, or the leader aborted */
    }
    wk_fanout_release(fo);
    buf_release(&ev);
    return rc;
}
