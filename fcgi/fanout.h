/* fcgi/fanout.h: streaming fan-out through ccproxy-coordd (coord/client.h).
 * Identical concurrent streaming requests share one upstream call.
 *
 * Policy (POST /v1/messages with "stream": true, after a response cache miss
 * or bypass, when STREAM_DEDUPE_ENABLED and COORD_ADDRESSES are set):
 * - Key: the response cache key (fcgi/rcache.h: canonical translated request,
 *   stream flag, tenant), so different client keys never share a stream.
 *   With several COORD_ADDRESSES the key's hash picks one, so identical
 *   requests on every host meet at the same coordinator.
 * - The first request leads: it calls upstream as usual and publishes every
 *   chunk of translated Anthropic SSE bytes. The others follow: they get the
 *   bytes from the first event on, then live ones, and relay them as they
 *   are. So every client of one stream gets byte-identical events, including
 *   the leader's message id (unlike a response cache hit, which gets its own
 *   id). Their x-ccproxy-cache header says "coalesced".
 * - A leader whose upstream call fails before its first event (a 429 with
 *   retry-after, a 5xx after its retries, a 400 such as a context-length
 *   error, a transport failure) publishes its error answer (status,
 *   retry-after, Anthropic error JSON) with wk_fanout_error; every follower
 *   answers its client with the same error without calling upstream, so an
 *   overloaded upstream sees one call, not a herd.
 * - A follower that got nothing yet goes direct (asks the response cache
 *   again, messages.c, then calls upstream itself) when
 *   the coordinator is down, dies or stalls, when the leader dies, aborts or ends
 *   before its first event, or when no first event came within
 *   COORD_FOLLOWER_WAIT_MS. The wait bounds the first event only: once a
 *   follower has relayed bytes it stays attached however long the stream
 *   and its gaps (up to MAX_STREAM_SECONDS), and any later failure ends its
 *   client's stream with an error event; it never goes direct then.
 * - Each worker thread keeps its coordinator connection between requests
 *   (one per address), and reconnects once when a kept one turns out dead.
 * - A leader whose client left keeps reading upstream while followers remain,
 *   and cancels the upstream call when none remain. A leader that fails, or
 *   whose process dies, ends every follower (the coordinator aborts them).
 * - A coordinator that cannot be reached costs one failed connect (at most
 *   COORD_CONNECT_TIMEOUT_MS; a missing or stale unix socket fails at once);
 *   then this process skips that address for 2 s and goes direct.
 * - The JOIN goes out while memcached is asked (wk_fanout_join_start from
 *   the response cache lookup), and a hit ends it (wk_fanout_join_cancel).
 * - A leader whose stream completed ends its client's answer, stores the
 *   stream in the response cache, then sends END: an identical request in
 *   between follows it (messages.c, store_stream).
 * - Non-streaming requests are not coalesced (the response cache serves
 *   repeats once the first one finished).
 * - Metrics (coordinator section): leaders and followers per successful
 *   join; fail_opens per request that went direct because the coordinator
 *   could not be reached or refused the join (or was skipped as down);
 *   drops per follower whose relay ended early (wait over, link lost, leader
 *   aborted; not a client that left). */
#ifndef CCP_FCGI_FANOUT_H
#define CCP_FCGI_FANOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "cache/cache.h"
#include "common/compiler.h"
#include "common/conf.h"
#include "common/err.h"

struct coord_client;
struct tr_error;
struct wk_fanout_conns;
struct wk_req;
struct wk_worker;

#define WK_FANOUT_ADDR_MAX 512 /* longest coordinator address */

/* One request's link to the coordinator. Zero it before use. */
struct wk_fanout {
    struct coord_client *cc; /* NULL: not coalescing (or the link broke) */
    const struct conf *conf;
    struct wk_fanout_conns **keep; /* the thread's kept connections (wk_worker) */
    size_t slot;                   /* cc's address: slot in *keep and its number */
    size_t addr_no;
    bool leader;
    unsigned followers; /* leader: followers attached, last we heard */
    /* leader: events are kept here, not sent, until the first follower
     * joins (most streams never get one); then the backlog goes first */
    struct buf backlog;
    bool publishing;
    /* leader: the upstream wait watches the link while events are held
     * back (wk_fanout_watch_fd), so a publish need not read the link to
     * learn whether a follower came: one system call fewer per event */
    bool watched;
    bool joining; /* the JOIN is sent, its answer not read yet */
    bool reused;  /* cc was a kept connection */
    char addr[WK_FANOUT_ADDR_MAX];
};

/* True if conf turns fan-out on (STREAM_DEDUPE_ENABLED and COORD_ADDRESSES). */
bool wk_fanout_enabled(const struct conf *c);

/* Join the stream of key at the coordinator its hash picks, through w's
 * kept connection to it (made on first use). CCP_OK: fo is linked and
 * fo->leader says the role (a leader calls upstream and publishes; a
 * follower calls wk_fanout_follow). CCP_DECLINED: go direct (coordinator
 * down, busy or off; nothing to release). Can't fail otherwise. */
CCP_NODISCARD enum ccp_err wk_fanout_join(struct wk_fanout *fo, struct wk_worker *w,
                                          const struct cache_key *key);

/* wk_fanout_join in two halves, so that the response cache's memcached
 * lookup runs while the coordinator answers: start sends the JOIN (or
 * declines: nothing is pending then, nothing to release), finish reads the
 * answer with wk_fanout_join's results (CCP_DECLINED if nothing is
 * pending: go direct). cancel ends a pending join whose request was answered from the
 * cache: a leader aborts (an identical request that joined meanwhile goes
 * direct), a follower leaves; then fo is released. No-op if nothing is
 * pending. */
void wk_fanout_join_start(struct wk_fanout *fo, struct wk_worker *w, const struct cache_key *key);
CCP_NODISCARD enum ccp_err wk_fanout_join_finish(struct wk_fanout *fo, struct wk_worker *w,
                                                 const struct cache_key *key);
void wk_fanout_join_cancel(struct wk_fanout *fo);

/* Leader, before any publish: the upstream call failed and err is the answer
 * the leader's client gets; send it to the followers so they answer the
 * same (wk_send_error's status, retry-after and JSON). Unlinks fo. No-op if
 * not leading. */
void wk_fanout_error(struct wk_fanout *fo, const struct tr_error *err);

/* Connect w's thread to every coordinator address (the first 16) now and
 * keep the connections for its streams. Nothing if fan-out is off; an
 * address that does not answer is left for the first stream to try (and
 * then marked down as usual). Logs at DEBUG only. */
void wk_fanout_prewarm(struct wk_worker *w);

/* Close the connections a worker thread kept (wk_worker_release). NULL is a
 * no-op. */
void wk_fanout_conns_free(struct wk_fanout_conns *k);

/* Leader holding its events back (no follower yet): the coordinator link,
 * for the upstream wait to watch beside the upstream's socket; -1 when
 * there is nothing to watch. */
int wk_fanout_watch_fd(const struct wk_fanout *fo);
/* The watched link is readable: read what the coordinator sent (the count
 * of followers; the next publish then sends them the backlog). A broken
 * link unlinks fo, and the leader carries on alone. */
void wk_fanout_watch(struct wk_fanout *fo);

/* Leader: send n bytes of whole translated events to the followers. A
 * failure unlinks fo (the leader carries on alone). No-op if not leading. */
void wk_fanout_publish(struct wk_fanout *fo, const char *p, size_t n);

/* Leader: true while followers are attached (its upstream call must go on
 * even if its own client left). Never blocks. False if not leading. */
bool wk_fanout_wanted(struct wk_fanout *fo);

/* Leader: the stream is over. complete: the followers got every event up
 * to a terminal one (message_stop or an error event): END. Otherwise ABORT,
 * so followers that got nothing go direct and the others end with an error
 * event. Unlinks fo. No-op if not linked. */
void wk_fanout_finish(struct wk_fanout *fo, bool complete);

/* Follower: relay the stream to r's client until it ends. CCP_OK: r was
 * answered (or its client left); CCP_DECLINED: nothing was sent, go direct.
 * Unlinks fo either way. */
CCP_NODISCARD enum ccp_err wk_fanout_follow(struct wk_fanout *fo, struct wk_req *r);

/* Unlink: keep the connection for the thread's next request if it is
 * between streams, else close it (a leader that did not finish aborts its
 * followers). Safe on a zeroed or already released struct. */
void wk_fanout_release(struct wk_fanout *fo);

#endif /* CCP_FCGI_FANOUT_H */
