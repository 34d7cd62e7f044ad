/* ccproxy-fcgi: the worker. Under FastCGI (a listening socket on fd 0) a pool
 * of threads serves requests until SIGTERM; without one it answers exactly
 * one request as plain CGI. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fcgiapp.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/conf.h"
#include "common/log.h"
#include "fcgi/fanout.h"
#include "fcgi/guard.h"
#include "fcgi/handler.h"
#include "fcgi/io.h"
#include "fcgi/metrics_int.h"
#include "fcgi/opts.h"
#include "fcgi/rcache.h"
#include "fcgi/tokens.h"
#include "fcgi/upstream.h"

#include "common/banned.h"

/* Shutdown (SIGTERM, SIGINT, or libfcgi's SIGUSR1):
 * - every thread runs with those signals blocked; the main thread waits
 *   for them with sigwait, so no request is ever interrupted by them;
 * - on the first one, `stopping` is set and FCGX_ShutdownPending() called;
 *   threads waiting for an accept turn are woken (wake_idle); the (at
 *   most ACCEPT_TURNS) threads inside FCGX_Accept_r (see take_turn) are
 *   woken with SIGUSR2, whose empty handler has no
 *   SA_RESTART, so accept() fails with EINTR (FCGI_FAIL_ACCEPT_ON_INTR);
 *   SIGUSR2 is re-sent every 100 ms while a thread sits in accept, which
 *   closes the race of a signal arriving just before accept() blocks;
 * - threads that are serving a request finish it, then see `stopping`
 *   and exit; the process exits 0 when the last one is done;
 * - a second signal during the drain exits at once.
 * A connection accepted in the instant of the wake-up may have its
 * parameter read interrupted too; the web server then sees a closed
 * connection and answers that one client with an error. */
struct pool_thread {
    pthread_t tid;
    bool running;
    atomic_int in_accept;
    struct wk_worker w;
    FCGX_Request req;
    pthread_cond_t wake; /* signalled when the accept turn is handed to us */
    bool has_turn;
    struct pool_thread *next_idle;
};

static atomic_int stopping;
/* consecutive accept failures (100 ms apart) before the worker stops */
#define ACCEPT_FAILS_MAX 50u
static atomic_long live_threads;

/* Accept turns: at most ACCEPT_TURNS threads at a time are in
 * FCGX_Accept_r. Threads that want a turn while all are taken wait on a
 * stack, and when the last thread in accept leaves it with a connection,
 * it hands a turn to the one that went idle last (LIFO): under light load
 * the same few threads, with warm caches and warm upstream connections,
 * serve every request (a mutex would rotate through all WORKER_THREADS:
 * 25 % slower at concurrency 1 with 256 threads, see docs/benchmarks.md).
 * Two turns rather than one: a thread that takes a connection while the
 * other still waits in accept wakes nobody, and on finishing its request
 * finds a turn free and goes back to accept itself. So at concurrency 1 no
 * request pays for waking a thread (a futex wake and a switch on the other
 * CPU: 10 us p50 and a tenth of the worker's CPU per 2 KB request, in
 * rounds of alternating order), and a connection on which the web server
 * sends nothing (libfcgi waits up to 2 s for its first bytes, inside
 * FCGX_Accept_r) no longer holds up the ones behind it. */
#define ACCEPT_TURNS 2u
static pthread_mutex_t turn_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned turns_taken;
static struct pool_thread *idle_top;

/* Wait for an accept turn; false if stopping before it came. */
static bool take_turn(struct pool_thread *t)
{
    struct pool_thread **pp;
    bool got = true;

    pthread_mutex_lock(&turn_lock);
    if (turns_taken < ACCEPT_TURNS) {
        turns_taken++;
        goto out;
    }
    t->has_turn = false;
    t->next_idle = idle_top;
    idle_top = t;
    while (!t->has_turn && !atomic_load(&stopping)) {
        pthread_cond_wait(&t->wake, &turn_lock);
    }
    if (!t->has_turn) {
        for (pp = &idle_top; *pp != NULL; pp = &(*pp)->next_idle) {
            if (*pp == t) {
                *pp = t->next_idle;
                break;
            }
        }
        got = false;
    }
out:
    pthread_mutex_unlock(&turn_lock);
    return got;
}

/* Give our turn back; if no thread is left in accept, hand a turn to the
 * thread that went idle last. */
static void give_turn(void)
{
    struct pool_thread *next;

    pthread_mutex_lock(&turn_lock);
    CCP_ASSERT(turns_taken > 0);
    next = idle_top;
    if (turns_taken == 1 && next != NULL) { /* ours is the last: it passes on */
        idle_top = next->next_idle;
        next->has_turn = true;
        pthread_cond_signal(&next->wake);
    } else {
        turns_taken--;
    }
    pthread_mutex_unlock(&turn_lock);
}

/* Shutdown: wake every thread waiting for a turn (they see `stopping`). */
static void wake_idle(void)
{
    struct pool_thread *t;

    pthread_mutex_lock(&turn_lock);
    for (t = idle_top; t != NULL; t = t->next_idle) {
        pthread_cond_signal(&t->wake);
    }
    pthread_mutex_unlock(&turn_lock);
}

static void usage(FILE *f)
{
    fputs("Usage: ccproxy-fcgi [--help | --version | --print-env-example | --check-config]\n"
          "\n"
          "CCProxy worker: serves the Anthropic Messages API (POST /v1/messages,\n"
          "/v1/messages/count_tokens, GET /v1/models, health) on top of an\n"
          "OpenAI-compatible Chat Completions upstream.\n"
          "\n"
          "Started by a web server with a FastCGI socket on fd 0 (lighttpd bin-path,\n"
          "spawn-fcgi, mod_fcgid) it serves requests with WORKER_THREADS threads until\n"
          "SIGTERM, then finishes the requests in flight and exits 0. Started without\n"
          "one it answers a single request as plain CGI.\n"
          "\n"
          "Configuration comes from the env file named by CCPROXY_ENV_FILE (default\n"
          ".env in the working directory), then the process environment.\n"
          "\n"
          "  --help               this text\n"
          "  --version            print the version\n"
          "  --print-env-example  print a commented .env with every variable\n"
          "  --check-config       load the configuration, print it (secrets redacted),\n"
          "                       exit 0 if valid, 1 if not\n",
          f);
}

static int print_env_example(void)
{
    struct buf b;
    int status = 1;

    buf_init(&b, 1024 * 1024);
    if (conf_example(&b) == CCP_OK && fwrite(b.ptr, 1, b.len, stdout) == b.len) {
        status = 0;
    }
    buf_release(&b);
    return status;
}

/* The effective configuration (secrets redacted) as few log lines as
 * possible: NAME=value pairs separated by spaces. */
static void log_config(const struct conf *c)
{
    struct buf b;
    char *p, *start;

    buf_init(&b, 1024 * 1024);
    if (conf_describe(c, &b) != CCP_OK) {
        LOG_WARN("could not describe the configuration");
        goto out;
    }
    while (b.len > 0 && b.ptr[b.len - 1] == '\n') {
        b.ptr[--b.len] = '\0';
    }
    for (p = b.ptr; p != NULL && *p != '\0'; p++) {
        if (*p == '\n') {
            *p = ' ';
        }
    }
    start = b.ptr;
    while (start != NULL && *start != '\0') {
        size_t n = strlen(start);

        if (n > 1800) {
            n = 1800;
            while (n > 0 && start[n] != ' ') {
                n--;
            }
            if (n == 0) {
                n = 1800;
            }
        }
        LOG_INFO("config %.*s", (int)n, start);
        start += n;
        while (*start == ' ') {
            start++;
        }
    }
    if (c->inert_set != NULL && c->inert_set[0] != '\0') {
        LOG_INFO("config accepted, no effect: %s", c->inert_set);
    }
out:
    buf_release(&b);
}

static int check_config(const struct conf *c)
{
    struct buf b;
    int status = 1;

    buf_init(&b, 1024 * 1024);
    if (conf_describe(c, &b) == CCP_OK && fwrite(b.ptr, 1, b.len, stdout) == b.len) {
        status = 0;
    }
    if (status == 0 && c->inert_set != NULL && c->inert_set[0] != '\0') {
        printf("# accepted, no effect: %s\n", c->inert_set);
    }
    buf_release(&b);
    return status;
}

static int serve_cgi(const struct conf *c, struct wk_rcache *rc, struct wk_tokens *tok)
{
    struct wk_worker w;
    struct wk_io io;

    if (wk_worker_init(&w, c, rc) != CCP_OK) {
        LOG_ERROR("could not start the worker");
        wk_worker_release(&w);
        return 1;
    }
    w.tok = tok;
    wk_io_cgi(&io);
    wk_handle(&w, &io);
    wk_worker_release(&w);
    return 0;
}

/* The FastCGI listening socket is a unix socket (looked up once). */
static bool listen_unix;

/* End the request and close its connection. libfcgi's close shuts the
 * write side down and then waits (up to 2 s) for the web server to close
 * its own, so that no TCP reset can cut the answer short; a unix socket has
 * no resets, so there the connection is closed at once, and the thread is
 * free one wake-up earlier. A connection the web server asked to keep
 * (FCGI_KEEP_CONN) stays open as before. */
static void finish_request(FCGX_Request *req)
{
    if (!listen_unix || req->keepConnection) {
        FCGX_Finish_r(req);
        return;
    }
    req->keepConnection = 1; /* libfcgi flushes and frees, and leaves ipcFd */
    FCGX_Finish_r(req);
    req->keepConnection = 0;
    if (req->ipcFd >= 0) { /* still open: libfcgi saw no error */
        close(req->ipcFd);
        req->ipcFd = -1;
    }
}

static void *thread_main(void *arg)
{
    struct pool_thread *t = arg;
    struct wk_io io;
    unsigned fails = 0;

    wk_fanout_prewarm(&t->w); /* before its first request, not during it */
    while (!atomic_load(&stopping)) {
        /* a connection the web server keeps open (FCGI_KEEP_CONN) has its
         * next request read without the accept turn: the turn holder may
         * wait in accept() for a new connection that never comes */
        bool kept = t->req.ipcFd >= 0;
        int rc;

        if (!kept && !take_turn(t)) {
            break;
        }
        if (atomic_load(&stopping)) {
            if (!kept) {
                give_turn();
            }
            break;
        }
        atomic_store(&t->in_accept, 1); /* SIGUSR2 interrupts the wait */
        rc = FCGX_Accept_r(&t->req);
        atomic_store(&t->in_accept, 0);
        if (!kept) {
            give_turn();
        }
        if (rc < 0) {
            struct timespec pause = {0, 100 * 1000 * 1000};

            if (atomic_load(&stopping)) {
                break;
            }
            if (fails++ % 10 == 0) {
                LOG_WARN("FCGX_Accept_r failed (%d); retrying", rc);
            }
            if (fails >= ACCEPT_FAILS_MAX) {
                /* the listening socket is unusable (e.g. the web server that
                 * owned it has gone): stop, so the supervisor starts a fresh
                 * worker, instead of spinning here for ever */
                LOG_ERROR("FCGX_Accept_r failed %u times in a row; stopping", fails);
                kill(getpid(), SIGTERM);
                break;
            }
            nanosleep(&pause, NULL);
            continue;
        }
        fails = 0;
        wk_io_fcgx(&io, &t->req);
        io.close_at_end = listen_unix; /* see finish_request */
        wk_handle(&t->w, &io);
        finish_request(&t->req);
    }
    atomic_fetch_sub(&live_threads, 1);
    return NULL;
}

static void on_wake(int sig)
{
    (void)sig; /* only interrupts accept() */
}

static int serve_fastcgi(const struct conf *c, struct wk_rcache *rc, struct wk_tokens *tok)
{
    struct pool_thread *threads = NULL;
    long n = c->worker_threads, started = 0, inited = 0, i;
    sigset_t stop_set;
    struct sigaction sa;
    struct timespec tick = {0, 100 * 1000 * 1000};
    int sig = 0, status = 1, e;

    {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);

        listen_unix = getsockname(0, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_UNIX;
    }
    if (FCGX_Init() != 0) {
        LOG_ERROR("FCGX_Init failed");
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_wake;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: accept() must return EINTR */
    sigaction(SIGUSR2, &sa, NULL);
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL); /* inherited by the threads */

    threads = ccp_calloc((size_t)n, sizeof(*threads));
    if (threads == NULL) {
        LOG_ERROR("out of memory at start-up");
        goto out;
    }
    for (i = 0; i < n; i++) {
        struct pool_thread *t = &threads[i];

        pthread_cond_init(&t->wake, NULL);
        inited++;
        if (wk_worker_init(&t->w, c, rc) != CCP_OK ||
            FCGX_InitRequest(&t->req, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
            LOG_ERROR("could not start thread %ld", i);
            wk_worker_release(&t->w);
            break;
        }
        t->w.tok = tok;
        atomic_fetch_add(&live_threads, 1);
        e = pthread_create(&t->tid, NULL, thread_main, t);
        if (e != 0) {
            atomic_fetch_sub(&live_threads, 1);
            LOG_ERROR("could not start thread %ld: %s", i, strerror(e)); /* not in errno */
            wk_worker_release(&t->w);
            break;
        }
        t->running = true;
        started++;
    }
    if (started == 0) {
        goto out;
    }
    LOG_INFO("serving FastCGI with %ld threads", started);

    while (sigwait(&stop_set, &sig) != 0) {
    }
    LOG_INFO("signal %d: no new requests; finishing the ones in flight", sig);
    atomic_store(&stopping, 1);
    FCGX_ShutdownPending();
    while (atomic_load(&live_threads) > 0) {
        wake_idle();
        for (i = 0; i < n; i++) {
            if (threads[i].running && atomic_load(&threads[i].in_accept)) {
                pthread_kill(threads[i].tid, SIGUSR2);
            }
        }
        sig = sigtimedwait(&stop_set, NULL, &tick);
        if (sig > 0) {
            LOG_WARN("second signal %d: exiting without waiting", sig);
            _exit(0);
        }
    }
    for (i = 0; i < n; i++) {
        if (threads[i].running) {
            pthread_join(threads[i].tid, NULL);
            wk_worker_release(&threads[i].w);
        }
    }
    LOG_INFO("all requests finished; exiting");
    status = 0;

out:
    /* every started thread has been joined, or none was started */
    for (i = 0; i < inited; i++) {
        pthread_cond_destroy(&threads[i].wake);
    }
    ccp_free(threads);
    return status;
}

int main(int argc, char **argv)
{
    struct conf c;
    struct wk_rcache *rc = NULL;
    struct wk_tokens *tok = NULL;
    char errmsg[512];
    bool check = false, cgi;
    int status = 1;

    memset(&c, 0, sizeof(c));
    if (argc > 2) {
        usage(stderr);
        return 2;
    }
    if (argc == 2) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
            printf("ccproxy-fcgi %s (%s)\n", PACKAGE_VERSION, curl_version());
            return 0;
        }
        if (strcmp(argv[1], "--print-env-example") == 0) {
            return print_env_example();
        }
        if (strcmp(argv[1], "--check-config") != 0) {
            fprintf(stderr, "ccproxy-fcgi: unknown option %s\n", argv[1]);
            usage(stderr);
            return 2;
        }
        check = true;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("ccproxy-fcgi: curl_global_init failed\n", stderr);
        return 1;
    }
    if (conf_load(&c, NULL, errmsg, sizeof(errmsg)) != CCP_OK) {
        fprintf(stderr, "ccproxy-fcgi: configuration error: %s\n", errmsg);
        goto out;
    }
    if (wk_check_base_url(&c, errmsg, sizeof(errmsg)) != CCP_OK ||
        wk_auth_init(&c, errmsg, sizeof(errmsg)) != CCP_OK ||
        wk_opts_check(&c, errmsg, sizeof(errmsg)) != CCP_OK) {
        fprintf(stderr, "ccproxy-fcgi: configuration error: %s\n", errmsg);
        goto out;
    }
    if (check) {
        status = check_config(&c);
        goto out;
    }
    log_init((enum log_level)c.log_level, 2);
    /* plain CGI starts a process per request: keep its start-up quiet */
    cgi = FCGX_IsCGI();
    if (!cgi || log_get_level() >= LOG_LEVEL_DEBUG) {
        log_config(&c);
    }
    signal(SIGPIPE, SIG_IGN); /* a client that left must give EPIPE, not kill us */
    if (!cgi && (c.openai_api_key == NULL || c.openai_api_key[0] == '\0')) {
        LOG_WARN("OPENAI_API_KEY is not set: /v1/messages will answer errors until it is");
    }
    if (wk_metrics_init(&c, cgi) != CCP_OK) {
        goto out; /* a bad PRICING_FILE, logged */
    }
    if (!wk_auth_required() && !cgi) {
        LOG_WARN("no CLIENT_API_KEYS: anyone who can reach this service uses the upstream key");
    }
    /* plain CGI makes one call per process: no transport thread there */
    if (wk_upstream_global_init(&c, c.upstream_multi && !cgi) != CCP_OK) {
        LOG_ERROR("could not set up the upstream transport");
        goto out;
    }
    if (!cgi) {
        LOG_INFO("upstream transport: %s (UPSTREAM_MULTI=%s)",
                 c.upstream_multi ? "one shared multi handle per process"
                                  : "connections of each request thread",
                 c.upstream_multi_mode != NULL ? c.upstream_multi_mode : "auto");
    }
    /* one response cache per process, shared by its threads; plain CGI
     * answers one request per process, so no in-process LRU there */
    rc = wk_rcache_new(&c, !cgi);
    /* the rank tables: mapped now under FastCGI, on the first count_tokens
     * under CGI (a /v1/messages process never needs them) */
    tok = wk_tokens_new(&c, rc, !cgi, !cgi);
    /* one memcached pool per process: the rate limits borrow the caches' */
    if (wk_ratelimit_init(&c,
                          wk_rcache_store(rc) != NULL ? wk_rcache_store(rc) : wk_tokens_store(tok),
                          errmsg, sizeof(errmsg)) != CCP_OK) {
        LOG_ERROR("configuration error: %s", errmsg);
    } else if (cgi) {
        status = serve_cgi(&c, rc, tok);
    } else {
        status = serve_fastcgi(&c, rc, tok);
    }
    wk_ratelimit_cleanup(); /* before the store it may borrow goes */
    wk_tokens_free(tok);
    wk_rcache_free(rc);
    wk_upstream_global_cleanup();

out:
    wk_metrics_detach();
    wk_ratelimit_cleanup();
    wk_auth_cleanup();
    conf_release(&c);
    curl_global_cleanup();
    return status;
}
