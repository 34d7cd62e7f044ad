/* fcgi/transport.c: one curl multi handle per process and the thread that
 * drives it (UPSTREAM_MULTI). Easy-handle callbacks run on that thread; body
 * bytes go to the request thread through a bounded per-transfer queue. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "common/alloc.h"
#include "common/log.h"
#include "fcgi/transport.h"

#include "common/banned.h"

/* Queued body bytes of one transfer beyond which its transfer is paused
 * until the request thread catches up. */
#define XFER_QUEUE_MAX (256 * 1024)
/* Longest wait of either thread before it looks around (alive, silence). */
#define TICK_MS 200L
/* scheme://host:port of an upstream URL, at most this long (with the NUL) */
#define ORIGIN_MAX 160
/* Upstream origins remembered as answering HTTP/1.x over TLS. */
#define H1_ORIGINS_MAX 8

struct chunk {
    struct chunk *next;
    size_t n;
    char p[];
};

struct wk_xfer {
    CURL *easy;
    pthread_mutex_t lock; /* guards the fields down to `end` */
    pthread_cond_t cond;  /* the request thread waits here */
    struct chunk *head, *tail;
    size_t queued;    /* bytes in the queue */
    int status;       /* HTTP status of the queued bytes */
    bool paused;      /* the write callback paused the transfer */
    bool want_resume; /* the request thread drained the queue: unpause */
    bool stop;        /* the request thread wants the transfer gone */
    bool done;        /* the transport let go of the handle; `end` is set */
    struct wk_xfer_end end;
    /* set by the request thread before it hands the transfer over */
    char origin[ORIGIN_MAX]; /* "" if the URL has none we can keep */
    bool may_mux;            /* https and UPSTREAM_HTTP2: HTTP/2 is possible */
    /* transport thread only */
    atomic_llong last_rx_ms;
    bool active;        /* in the multi handle */
    bool pipewait;      /* CURLOPT_PIPEWAIT is on for this run */
    bool version_known; /* the HTTP version of the response was looked at */
    struct wk_xfer *next_active, *prev_active;
    /* under tp.lock */
    struct wk_xfer *next_new;
    struct wk_xfer *next_signal;
    bool signalled;
};

static struct {
    CURLM *multi;
    pthread_t tid;
    bool running;
    atomic_bool quit;
    const struct conf *conf;
    pthread_mutex_t lock; /* guards the two lists below */
    struct wk_xfer *incoming;
    struct wk_xfer *signals;
    /* transport thread only */
    struct wk_xfer *active;
    /* Origins that answered HTTP/1.x over TLS (ALPN): no CURLOPT_PIPEWAIT
     * for them. A transfer with PIPEWAIT that finds a connection to its host
     * still being set up waits in curl's pending queue instead of opening
     * its own; over HTTP/1.1 nothing multiplexes, and curl wakes one pending
     * transfer per event (a transfer ending, a TLS handshake done), so a
     * burst of them waits for earlier streams to end (the 5 s W3 tail). */
    char h1_origins[H1_ORIGINS_MAX][ORIGIN_MAX];
    unsigned h1_next; /* slot the next new origin takes */
    bool unwait_due;  /* an origin was added: take PIPEWAIT off its transfers */
    CURL *kick;       /* an idle easy handle; see unwait_pending */
} tp = {.lock = PTHREAD_MUTEX_INITIALIZER};

static long long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000LL + (long long)t.tv_nsec / 1000000LL;
}

static void touch(struct wk_xfer *x)
{
    atomic_store(&x->last_rx_ms, now_ms());
}

/* The slot remembering origin as answering HTTP/1.x, or -1. An origin is
 * remembered at most once. */
static int h1_slot(const char *origin)
{
    int i;

    if (origin[0] == '\0') {
        return -1;
    }
    for (i = 0; i < H1_ORIGINS_MAX; i++) {
        if (strcmp(tp.h1_origins[i], origin) == 0) {
            return i;
        }
    }
    return -1;
}

static bool h1_origin(const char *origin)
{
    return h1_slot(origin) >= 0;
}

/* Transport thread, in a callback: once the response's status line is in,
 * remember whether its origin multiplexes. Only notes it; the transfers that
 * wait are released from the main loop (no multi calls from callbacks). */
static void note_version(struct wk_xfer *x)
{
    long v = 0;
    int i;

    if (x->version_known || x->origin[0] == '\0' || !x->may_mux) {
        return;
    }
    if (curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &v) != CURLE_OK || v == 0) {
        return; /* no status line yet */
    }
    x->version_known = true;
    if (v >= (long)CURL_HTTP_VERSION_2_0) {
        /* it multiplexes (again): forget an old HTTP/1.x answer */
        i = h1_slot(x->origin);
        if (i >= 0) {
            tp.h1_origins[i][0] = '\0';
        }
        return;
    }
    if (h1_origin(x->origin)) {
        return;
    }
    memcpy(tp.h1_origins[tp.h1_next], x->origin, sizeof(x->origin));
    tp.h1_next = (tp.h1_next + 1) % H1_ORIGINS_MAX;
    tp.unwait_due = true;
    LOG_INFO("upstream %s answers HTTP/1.x: new calls to it open their own connection", x->origin);
}

void wk_xfer_touch(struct wk_xfer *x)
{
    touch(x);
    note_version(x);
}

/* Body bytes, on the transport thread: queue them for the request thread,
 * or pause the transfer while the queue is full. */
static size_t on_write(char *p, size_t size, size_t nmemb, void *userp)
{
    struct wk_xfer *x = userp;
    size_t n = size * nmemb;
    struct chunk *c;
    long status = 0;

    wk_xfer_touch(x);
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    pthread_mutex_lock(&x->lock);
    if (x->stop) {
        pthread_mutex_unlock(&x->lock);
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (n > 0 && x->queued >= XFER_QUEUE_MAX) {
        x->paused = true;
        pthread_mutex_unlock(&x->lock);
        return CURL_WRITEFUNC_PAUSE; /* curl keeps the bytes and offers them again */
    }
    c = ccp_malloc(sizeof(*c) + n);
    if (c == NULL) {
        pthread_mutex_unlock(&x->lock);
        return 0;
    }
    c->next = NULL;
    c->n = n;
    memcpy(c->p, p, n);
    if (x->tail != NULL) {
        x->tail->next = c;
    } else {
        x->head = c;
    }
    x->tail = c;
    x->queued += n;
    x->status = (int)status;
    pthread_cond_signal(&x->cond);
    pthread_mutex_unlock(&x->lock);
    return n;
}

struct wk_xfer *wk_xfer_new(CURL *easy)
{
    struct wk_xfer *x = ccp_calloc(1, sizeof(*x));

    if (x == NULL) {
        return NULL;
    }
    x->easy = easy;
    pthread_mutex_init(&x->lock, NULL);
    pthread_cond_init(&x->cond, NULL);
    atomic_init(&x->last_rx_ms, 0);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
    return x;
}

static void drop_queue(struct wk_xfer *x)
{
    struct chunk *c = x->head, *next;

    while (c != NULL) {
        next = c->next;
        ccp_free(c);
        c = next;
    }
    x->head = NULL;
    x->tail = NULL;
    x->queued = 0;
}

void wk_xfer_free(struct wk_xfer *x)
{
    if (x == NULL) {
        return;
    }
    drop_queue(x);
    pthread_cond_destroy(&x->cond);
    pthread_mutex_destroy(&x->lock);
    ccp_free(x);
}

/* Request thread: ask the transport thread to look at `x` (stop, resume). */
static void signal_transport(struct wk_xfer *x)
{
    pthread_mutex_lock(&tp.lock);
    if (!x->signalled) {
        x->signalled = true;
        x->next_signal = tp.signals;
        tp.signals = x;
    }
    pthread_mutex_unlock(&tp.lock);
    curl_multi_wakeup(tp.multi);
}

/* ---- transport thread ---- */

static void unlink_active(struct wk_xfer *x)
{
    if (x->prev_active != NULL) {
        x->prev_active->next_active = x->next_active;
    } else {
        tp.active = x->next_active;
    }
    if (x->next_active != NULL) {
        x->next_active->prev_active = x->prev_active;
    }
    x->next_active = NULL;
    x->prev_active = NULL;
    x->active = false;
}

/* Let go of `x` and tell its request thread how it ended. */
static void finish(struct wk_xfer *x, CURLcode cc, bool silent)
{
    if (x->active) {
        curl_multi_remove_handle(tp.multi, x->easy);
        unlink_active(x);
    }
    pthread_mutex_lock(&x->lock);
    x->end.cc = cc;
    x->end.silent = silent;
    x->done = true;
    pthread_cond_signal(&x->cond);
    pthread_mutex_unlock(&x->lock);
}

static void take_incoming(void)
{
    struct wk_xfer *x, *next;

    pthread_mutex_lock(&tp.lock);
    x = tp.incoming;
    tp.incoming = NULL;
    pthread_mutex_unlock(&tp.lock);
    for (; x != NULL; x = next) {
        CURLMcode mc;

        next = x->next_new;
        x->next_new = NULL;
        touch(x);
        /* wait for a connection being set up only if it may multiplex */
        x->pipewait = x->may_mux && !h1_origin(x->origin);
        x->version_known = false;
        curl_easy_setopt(x->easy, CURLOPT_PIPEWAIT, x->pipewait ? 1L : 0L);
        mc = curl_multi_add_handle(tp.multi, x->easy);
        if (mc != CURLM_OK) {
            LOG_WARN("curl_multi_add_handle: %s", curl_multi_strerror(mc));
            finish(x, CURLE_OUT_OF_MEMORY, false);
            continue;
        }
        x->active = true;
        x->prev_active = NULL;
        x->next_active = tp.active;
        if (tp.active != NULL) {
            tp.active->prev_active = x;
        }
        tp.active = x;
    }
}

/* Stop or resume the transfers whose request threads asked for it. */
static void take_signals(void)
{
    struct wk_xfer *x, *next;

    pthread_mutex_lock(&tp.lock);
    x = tp.signals;
    tp.signals = NULL;
    for (next = x; next != NULL; next = next->next_signal) {
        next->signalled = false;
    }
    pthread_mutex_unlock(&tp.lock);
    for (; x != NULL; x = next) {
        bool stop, resume;

        next = x->next_signal;
        if (!x->active) {
            continue; /* ended meanwhile */
        }
        pthread_mutex_lock(&x->lock);
        stop = x->stop;
        resume = x->want_resume && x->paused;
        x->want_resume = false;
        if (resume) {
            x->paused = false;
        }
        pthread_mutex_unlock(&x->lock);
        if (stop) {
            finish(x, CURLE_ABORTED_BY_CALLBACK, false);
        } else if (resume) {
            /* may call on_write at once: no lock held here */
            curl_easy_pause(x->easy, CURLPAUSE_CONT);
        }
    }
}

/* End the transfers that received nothing for HTTP_READ_TIMEOUT (a transfer
 * we paused ourselves is not silent). */
static void sweep_silent(long long now)
{
    long long limit = (long long)(tp.conf->read_timeout_s * 1000.0);
    struct wk_xfer *x, *next;

    for (x = tp.active; x != NULL; x = next) {
        bool paused;

        next = x->next_active;
        pthread_mutex_lock(&x->lock);
        paused = x->paused;
        pthread_mutex_unlock(&x->lock);
        if (paused) {
            touch(x);
        } else if (now - atomic_load(&x->last_rx_ms) > limit) {
            finish(x, CURLE_OPERATION_TIMEDOUT, true);
        }
    }
}

/* An origin turned out not to multiplex: its transfers stop waiting for
 * connections being set up. Some may already sit in curl's pending queue;
 * curl takes the first one out when a handle leaves the multi, and each
 * one that then gets a connection takes out the next, so adding and
 * removing an idle handle starts that chain (curl 7.88: multi.c,
 * process_pending_handles). */
static void unwait_pending(void)
{
    struct wk_xfer *x;

    tp.unwait_due = false;
    for (x = tp.active; x != NULL; x = x->next_active) {
        if (x->pipewait && h1_origin(x->origin)) {
            x->pipewait = false;
            curl_easy_setopt(x->easy, CURLOPT_PIPEWAIT, 0L);
        }
    }
    if (tp.kick != NULL && curl_multi_add_handle(tp.multi, tp.kick) == CURLM_OK) {
        curl_multi_remove_handle(tp.multi, tp.kick);
    }
}

static void take_done(void)
{
    CURLMsg *m;
    int left = 0;

    while ((m = curl_multi_info_read(tp.multi, &left)) != NULL) {
        struct wk_xfer *x = NULL;

        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x != NULL && x->active) {
            finish(x, m->data.result, false);
        }
    }
}

static void *transport_main(void *arg)
{
    long long last_sweep = now_ms();

    (void)arg;
    while (!atomic_load(&tp.quit)) {
        int running = 0;
        long long now;
        CURLMcode mc;

        take_incoming();
        take_signals();
        mc = curl_multi_perform(tp.multi, &running);
        if (mc != CURLM_OK) {
            LOG_WARN("curl_multi_perform: %s", curl_multi_strerror(mc));
        }
        take_done();
        if (tp.unwait_due) {
            unwait_pending();
            continue; /* run the released transfers now */
        }
        now = now_ms();
        if (now - last_sweep >= TICK_MS) {
            sweep_silent(now);
            last_sweep = now;
        }
        mc = curl_multi_poll(tp.multi, NULL, 0, (int)TICK_MS, NULL);
        if (mc != CURLM_OK) {
            LOG_WARN("curl_multi_poll: %s", curl_multi_strerror(mc));
        }
    }
    while (tp.active != NULL) {
        finish(tp.active, CURLE_ABORTED_BY_CALLBACK, false);
    }
    return NULL;
}

enum ccp_err wk_transport_start(const struct conf *c)
{
    long max_host = c->upstream_max_connections;
    sigset_t all, old;
    bool started;

    tp.multi = curl_multi_init();
    if (tp.multi == NULL) {
        return CCP_ERR_NOMEM;
    }
    tp.conf = c;
    atomic_store(&tp.quit, false);
    memset(tp.h1_origins, 0, sizeof(tp.h1_origins));
    tp.h1_next = 0;
    tp.unwait_due = false;
    tp.kick = curl_easy_init(); /* without it, pending transfers wait for the next event */
    curl_multi_setopt(tp.multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    /* the process-wide cache of open connections */
    curl_multi_setopt(tp.multi, CURLMOPT_MAXCONNECTS, c->pool_max_connections);
    if (max_host > 0) {
        curl_multi_setopt(tp.multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_host);
    }
    /* the server's SETTINGS bound it further */
    curl_multi_setopt(tp.multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 1000L);
    /* no signal for this thread: the main thread waits for them (sigwait) */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    started = pthread_create(&tp.tid, NULL, transport_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!started) {
        LOG_ERROR("could not start the upstream transport thread: %s", strerror(errno));
        curl_multi_cleanup(tp.multi);
        tp.multi = NULL;
        curl_easy_cleanup(tp.kick);
        tp.kick = NULL;
        return CCP_ERR_INTERNAL;
    }
    tp.running = true;
    LOG_INFO("upstream transport: one multi handle, %s, %s",
             c->http2 ? "HTTP/2 multiplexing over TLS" : "HTTP/1.1",
             max_host > 0 ? "bounded connections per host" : "no connection bound");
    return CCP_OK;
}

void wk_transport_stop(void)
{
    if (!tp.running) {
        return;
    }
    atomic_store(&tp.quit, true);
    curl_multi_wakeup(tp.multi);
    pthread_join(tp.tid, NULL);
    tp.running = false;
    curl_multi_cleanup(tp.multi);
    tp.multi = NULL;
    curl_easy_cleanup(tp.kick);
    tp.kick = NULL;
}

/* ---- request thread ---- */

/* x->origin and x->may_mux for `url`: "https://host:port" (no user info:
 * it is logged), kept only if it fits; HTTP/2 (and so waiting to multiplex)
 * only over TLS, where ALPN offers it: curl speaks HTTP/1.1 to http:// with
 * CURL_HTTP_VERSION_2TLS. */
static void set_origin(struct wk_xfer *x, const char *url)
{
    const char *p = strstr(url, "://");
    const char *host, *at;
    size_t scheme, n;

    x->origin[0] = '\0';
    x->may_mux = tp.conf->http2 && strncasecmp(url, "https://", 8) == 0;
    if (p == NULL) {
        goto out;
    }
    scheme = (size_t)(p + 3 - url);
    host = p + 3;
    n = strcspn(host, "/?#");
    at = memchr(host, '@', n);
    if (at != NULL) {
        n -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    if (scheme + n >= sizeof(x->origin)) {
        goto out;
    }
    memcpy(x->origin, url, scheme);
    memcpy(x->origin + scheme, host, n);
    x->origin[scheme + n] = '\0';
out:
    return;
}

void wk_xfer_run(struct wk_xfer *x, const char *url, const struct wk_xfer_hooks *hooks,
                 struct wk_xfer_end *end)
{
    long long last_alive = now_ms();
    bool stopped = false;

    set_origin(x, url);

    pthread_mutex_lock(&x->lock);
    drop_queue(x);
    x->status = 0;
    x->paused = false;
    x->want_resume = false;
    x->stop = false;
    x->done = false;
    memset(&x->end, 0, sizeof(x->end));
    pthread_mutex_unlock(&x->lock);

    pthread_mutex_lock(&tp.lock);
    x->next_new = tp.incoming;
    tp.incoming = x;
    pthread_mutex_unlock(&tp.lock);
    curl_multi_wakeup(tp.multi);

    pthread_mutex_lock(&x->lock);
    for (;;) {
        struct chunk *c, *next;
        bool resume, alive_due;
        int status;

        if (x->head != NULL) {
            c = x->head;
            x->head = NULL;
            x->tail = NULL;
            x->queued = 0;
            status = x->status;
            resume = x->paused && !x->want_resume;
            if (resume) {
                x->want_resume = true;
            }
            pthread_mutex_unlock(&x->lock);
            if (resume) {
                signal_transport(x);
            }
            for (; c != NULL; c = next) {
                next = c->next;
                if (!stopped && !hooks->data(hooks->ctx, status, c->p, c->n)) {
                    stopped = true;
                }
                ccp_free(c);
            }
            if (!stopped && hooks->drain != NULL && !hooks->drain(hooks->ctx)) {
                stopped = true;
            }
        } else if (x->done) {
            break;
        } else {
            struct timespec until;

            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += TICK_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            (void)pthread_cond_timedwait(&x->cond, &x->lock, &until);
            pthread_mutex_unlock(&x->lock);
        }
        alive_due = now_ms() - last_alive >= TICK_MS;
        if (!stopped && alive_due && hooks->alive != NULL) {
            last_alive = now_ms();
            if (!hooks->alive(hooks->ctx)) {
                stopped = true;
            }
        }
        pthread_mutex_lock(&x->lock);
        if (stopped && !x->stop && !x->done) {
            x->stop = true;
            pthread_mutex_unlock(&x->lock);
            signal_transport(x);
            pthread_mutex_lock(&x->lock);
        }
    }
    *end = x->end;
    end->stopped = stopped;
    drop_queue(x);
    pthread_mutex_unlock(&x->lock);
}
