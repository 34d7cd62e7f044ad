/* Tests of cache/store.c against a real memcached started here on an
 * ephemeral 127.0.0.1 port (skipped, exit 77, if /usr/bin/memcached is absent). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cache/cache.h"
#include "common/log.h"

#define MEMCACHED_BIN "/usr/bin/memcached"
#define TIMEOUT_BIN "/usr/bin/timeout"

struct mc_server {
    pid_t pid;
    unsigned port;
};

static struct mc_server srv;

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* A port the kernel just handed out on 127.0.0.1 (and released). */
static unsigned free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned port;

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool can_connect(unsigned port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    if (fd < 0) {
        return false;
    }
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* Start memcached (under timeout(1), 300 s) on port; wait until it accepts. */
static bool mc_start(struct mc_server *s, unsigned port)
{
    char portstr[16];
    int i;
    pid_t pid;

    snprintf(portstr, sizeof(portstr), "%u", port);
    pid = fork();
    if (pid < 0) {
        return false;
    }
    if (pid == 0) {
        const char *argv[] = {TIMEOUT_BIN, "300", MEMCACHED_BIN, "-U", "0",  "-l",
                              "127.0.0.1", "-p",  portstr,       "-m", "64", "-I",
                              "1m",        "-t",  "1",           NULL, NULL, NULL};
        if (geteuid() == 0) {
            argv[15] = "-u";
            argv[16] = "nobody";
        }
        execv(TIMEOUT_BIN, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    s->pid = pid;
    s->port = port;
    for (i = 0; i < 250; i++) { /* up to 5 s */
        if (can_connect(port)) {
            return true;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            s->pid = 0;
            return false;
        }
        sleep_ms(20);
    }
    return false;
}

static void mc_stop(struct mc_server *s)
{
    int i;

    if (s->pid <= 0) {
        return;
    }
    kill(s->pid, SIGTERM);
    for (i = 0; i < 250; i++) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            return;
        }
        sleep_ms(20);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

/* Start on a fresh port, a few attempts in case another process took it. */
static bool mc_start_any(struct mc_server *s)
{
    int i;

    for (i = 0; i < 5; i++) {
        if (mc_start(s, free_port())) {
            return true;
        }
        mc_stop(s);
    }
    return false;
}

static int group_setup(void **state)
{
    (void)state;
    return mc_start_any(&srv) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    mc_stop(&srv);
    return 0;
}

static struct cache_store *open_store(const char *servers, size_t max_item)
{
    struct cache_store_opts o;
    struct cache_store *st = NULL;
    char err[256];

    memset(&o, 0, sizeof(o));
    o.servers = servers;
    o.timeout_ms = 100;
    o.max_item_bytes = max_item;
    o.retry_s = 1;
    assert_int_equal(cache_store_new(&o, &st, err, sizeof(err)), CCP_OK);
    return st;
}

static struct cache_store *open_default(void)
{
    char servers[64];

    snprintf(servers, sizeof(servers), "127.0.0.1:%u", srv.port);
    return open_store(servers, 1048576);
}

/* get key; true on a hit whose value equals v (NULL: any value). */
static bool get_is(struct cache_store *st, const char *key, const char *v)
{
    struct buf b;
    enum ccp_err rc;
    bool ok = false;

    buf_init(&b, 8 << 20);
    rc = cache_store_get(st, key, &b);
    if (rc == CCP_OK) {
        ok = v == NULL || (b.len == strlen(v) && memcmp(b.ptr, v, b.len) == 0);
        assert_true(ok);
    } else {
        assert_int_equal(rc, CCP_DECLINED);
        assert_int_equal(b.len, 0);
    }
    buf_release(&b);
    return ok;
}

static void test_set_get_round_trip_and_miss(void **state)
{
    struct cache_store *st = open_default();
    struct cache_store_stats s;
    struct cache_key k;

    (void)state;
    assert_int_equal(cache_token_key("o200k_base", "abc", 3, &k), CCP_OK);
    assert_int_equal(cache_store_set(st, k.hex, "value\0with nul", 14, 60), CCP_OK);
    {
        struct buf b;
        buf_init(&b, 1024);
        assert_int_equal(buf_append(&b, "pre:", 4), CCP_OK);
        assert_int_equal(cache_store_get(st, k.hex, &b), CCP_OK);
        assert_int_equal(b.len, 18);
        assert_memory_equal(b.ptr, "pre:value\0with nul", 18);
        buf_release(&b);
    }
    assert_false(get_is(st, "no-such-key", NULL));
    assert_int_equal(cache_store_set(st, "empty", "", 0, 60), CCP_OK);
    assert_true(get_is(st, "empty", ""));
    cache_store_get_stats(st, &s);
    assert_int_equal(s.hits, 2);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.sets, 2);
    assert_int_equal(s.errors, 0);
    cache_store_free(st);
    cache_store_free(NULL);
}

static void test_binary_protocol(void **state)
{
    struct cache_store_opts o;
    struct cache_store *st = NULL;
    struct cache_store_stats s;
    char servers[64], err[256];

    (void)state;
    snprintf(servers, sizeof(servers), "127.0.0.1:%u", srv.port);
    memset(&o, 0, sizeof(o));
    o.servers = servers;
    o.timeout_ms = 100;
    o.max_item_bytes = 1048576;
    o.binary_protocol = true;
    assert_int_equal(cache_store_new(&o, &st, err, sizeof(err)), CCP_OK);
    assert_int_equal(cache_store_set(st, "bin-key", "bin value", 9, 60), CCP_OK);
    assert_true(get_is(st, "bin-key", "bin value"));
    assert_false(get_is(st, "bin-missing", NULL));
    cache_store_get_stats(st, &s);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.errors, 0);
    cache_store_free(st);
}

static void test_bad_keys_are_misses(void **state)
{
    struct cache_store *st = open_default();
    struct cache_store_stats s;
    char longkey[300];

    (void)state;
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    assert_int_equal(cache_store_set(st, "has space", "v", 1, 60), CCP_DECLINED);
    assert_int_equal(cache_store_set(st, longkey, "v", 1, 60), CCP_DECLINED);
    assert_int_equal(cache_store_set(st, "", "v", 1, 60), CCP_DECLINED);
    assert_false(get_is(st, "bad\nkey", NULL));
    cache_store_get_stats(st, &s);
    assert_int_equal(s.errors, 4);
    assert_int_equal(s.sets, 0);
    assert_int_equal(s.misses, 1);
    cache_store_free(st);
}

static void test_ttl_expires(void **state)
{
    struct cache_store *st = open_default();
    uint64_t t0 = now_ms();
    int i;

    (void)state;
    assert_int_equal(cache_store_set(st, "ttl-key", "v", 1, 1), CCP_OK);
    assert_true(get_is(st, "ttl-key", "v"));
    for (i = 0; i < 40 && get_is(st, "ttl-key", "v"); i++) {
        sleep_ms(100);
    }
    assert_false(get_is(st, "ttl-key", NULL));
    assert_true(now_ms() - t0 <= 4000); /* memcached clock has 1 s resolution */
    assert_int_equal(cache_store_set(st, "ttl-long", "v", 1, 60), CCP_OK);
    assert_true(get_is(st, "ttl-long", "v"));
    cache_store_free(st);
}

static void test_too_large_is_skipped(void **state)
{
    struct cache_store *st = open_default();
    struct cache_store_stats s;
    size_t n = 2u << 20, fits = 1048576 - CACHE_STORE_ITEM_OVERHEAD - 3;
    char *big = test_malloc(n);
    struct buf small;

    (void)state;
    memset(big, 'b', n);
    /* over the configured item size: not sent */
    assert_int_equal(cache_store_set(st, "big", big, 1048576, 60), CCP_DECLINED);
    assert_false(get_is(st, "big", NULL));
    /* the largest value that fits is stored by a real memcached -I 1m */
    assert_int_equal(cache_store_set(st, "fit", big, fits, 60), CCP_OK);
    assert_true(get_is(st, "fit", NULL));
    /* a hit that does not fit the caller's buffer is a miss */
    buf_init(&small, 1000);
    assert_int_equal(cache_store_get(st, "fit", &small), CCP_DECLINED);
    assert_int_equal(small.len, 0);
    buf_release(&small);
    cache_store_get_stats(st, &s);
    assert_int_equal(s.skipped_too_large, 2);
    assert_int_equal(s.sets, 1);
    assert_int_equal(s.errors, 0);
    cache_store_free(st);

    /* configured larger than the server allows: the server's refusal is
     * counted as too large as well, and the next request works */
    {
        char servers[64];
        snprintf(servers, sizeof(servers), "127.0.0.1:%u", srv.port);
        st = open_store(servers, 4u << 20);
    }
    assert_int_equal(cache_store_set(st, "big2", big, n, 60), CCP_DECLINED);
    assert_false(get_is(st, "big2", NULL));
    assert_int_equal(cache_store_set(st, "after", "ok", 2, 60), CCP_OK);
    assert_true(get_is(st, "after", "ok"));
    cache_store_get_stats(st, &s);
    assert_int_equal(s.skipped_too_large, 1);
    assert_int_equal(s.errors, 0);
    cache_store_free(st);
    test_free(big);
}

static void test_config_errors(void **state)
{
    static const char *const bad[] = {"",           ",",         "host:",    "host:0",
                                      "host:65536", "host:12ab", "a:1:2",    "[::1",
                                      "[]:11211",   "[::1]x",    "h:1,,h:2", " , "};
    struct cache_store_opts o;
    struct cache_store *st = NULL;
    char err[256];
    size_t i;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.timeout_ms = 100;
    o.max_item_bytes = 1048576;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o.servers = bad[i];
        assert_int_equal(cache_store_new(&o, &st, err, sizeof(err)), CCP_ERR_INVALID);
        assert_null(st);
        assert_non_null(strstr(err, "MEMCACHED_SERVERS"));
    }
    o.servers = "127.0.0.1:11211";
    o.timeout_ms = 0;
    assert_int_equal(cache_store_new(&o, &st, err, sizeof(err)), CCP_ERR_INVALID);
    assert_non_null(strstr(err, "MEMCACHED_TIMEOUT_MS"));
    o.timeout_ms = 100;
    o.servers = "127.0.0.1:11211";
    o.binary_protocol = true;
    o.set_noreply = true; /* binary quiet sets answer errors: refused */
    assert_int_equal(cache_store_new(&o, &st, err, sizeof(err)), CCP_ERR_INVALID);
    assert_null(st);
    assert_non_null(strstr(err, "ASCII"));
    o.binary_protocol = false;
    assert_int_equal(cache_store_new(&o, &st, err, sizeof(err)), CCP_OK);
    cache_store_free(st);
    st = NULL;
    o.set_noreply = false;
    o.servers = " 127.0.0.1:11211 , [::1]:11212,localhost,/tmp/ccp-no-such.sock";
    assert_int_equal(cache_store_new(&o, &st, err, sizeof(err)), CCP_OK);
    cache_store_free(st);
}

/* A listener that never accepts or answers: requests must give up after the
 * configured timeout, not hang. */
static void test_silent_server_times_out(void **state)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char servers[64];
    struct cache_store *st;
    struct cache_store_stats s;
    uint64_t t0, took;

    (void)state;
    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(servers, sizeof(servers), "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    st = open_store(servers, 1048576);
    t0 = now_ms();
    assert_false(get_is(st, "k", NULL));
    took = now_ms() - t0;
    assert_true(took < 1000); /* 100 ms timeout; generous bound for slow CI */
    t0 = now_ms();
    assert_int_equal(cache_store_set(st, "k", "v", 1, 60), CCP_DECLINED);
    assert_true(now_ms() - t0 < 1000);
    cache_store_get_stats(st, &s);
    assert_int_equal(s.errors, 2);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.hits, 0);
    cache_store_free(st);
    close(fd);
}

/* Lines of the file open at fd that contain needle (echoed to the test log). */
static unsigned count_lines(int fd, const char *needle)
{
    char text[65536];
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    unsigned count = 0;
    char *p, *nl;

    assert_true(n >= 0);
    text[n] = '\0';
    for (p = text; *p != '\0'; p = nl + 1) {
        nl = strchr(p, '\n');
        if (nl == NULL) {
            break;
        }
        *nl = '\0';
        if (strstr(p, needle) != NULL) {
            printf("# logged: %s\n", p);
            count++;
        }
    }
    return count;
}

static struct cache_store *shared;

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg, i, hits = 0;
    char key[32], val[32];

    for (i = 0; i < 200; i++) {
        struct buf b;
        snprintf(key, sizeof(key), "thr-%u-%u", id, i % 10);
        snprintf(val, sizeof(val), "v-%u-%u", id, i % 10);
        (void)cache_store_set(shared, key, val, strlen(val), 60);
        buf_init(&b, 64);
        if (cache_store_get(shared, key, &b) == CCP_OK) {
            if (strcmp(b.ptr, val) != 0) {
                buf_release(&b);
                return (void *)1; /* another thread's value: handles mixed up */
            }
            hits++;
        }
        buf_release(&b);
    }
    return hits > 0 ? NULL : (void *)2;
}

/* Threads share one store with fewer handles than threads: no mixed-up
 * replies, and callers wait for a free handle instead of missing. */
static void threads_share_a_store(bool set_noreply)
{
    struct cache_store_opts o;
    struct cache_store_stats s;
    char servers[64], err[256];
    pthread_t t[6];
    uintptr_t i, rcs[6];
    void *res;

    snprintf(servers, sizeof(servers), "127.0.0.1:%u", srv.port);
    memset(&o, 0, sizeof(o));
    o.servers = servers;
    o.timeout_ms = 500;
    o.max_item_bytes = 1048576;
    o.max_handles = 3;
    o.set_noreply = set_noreply;
    assert_int_equal(cache_store_new(&o, &shared, err, sizeof(err)), CCP_OK);
    for (i = 0; i < 6; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    }
    for (i = 0; i < 6; i++) {
        assert_int_equal(pthread_join(t[i], &res), 0);
        rcs[i] = (uintptr_t)res;
    }
    cache_store_get_stats(shared, &s);
    printf("# hits %llu misses %llu sets %llu errors %llu busy %llu\n", (unsigned long long)s.hits,
           (unsigned long long)s.misses, (unsigned long long)s.sets, (unsigned long long)s.errors,
           (unsigned long long)s.skipped_busy);
    for (i = 0; i < 6; i++) {
        assert_int_equal(rcs[i], 0);
    }
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.skipped_busy, 0);
    assert_int_equal(s.hits + s.misses, 1200);
    assert_true(s.hits > 0);
    assert_int_equal(s.sets, 1200);
    cache_store_free(shared);
    shared = NULL;
}

static void test_threads_share_a_store(void **state)
{
    (void)state;
    threads_share_a_store(false);
}

/* The same with sets in their own pool without replies. */
static void test_threads_share_a_store_noreply(void **state)
{
    (void)state;
    threads_share_a_store(true);
}

/* cache_store_incr: creates with the delta, adds atomically, delta 0 reads,
 * a dead server is a CCP_DECLINED (callers fail open). */
static void test_incr_counter(void **state)
{
    struct cache_store *st = open_default();
    struct cache_store *dead = open_store("127.0.0.1:1", 1048576);
    uint64_t v = 0;

    (void)state;
    assert_int_equal(cache_store_incr(st, "ctr:a", 5, 60, &v), CCP_OK);
    assert_int_equal(v, 5);
    assert_int_equal(cache_store_incr(st, "ctr:a", 1, 60, &v), CCP_OK);
    assert_int_equal(v, 6);
    assert_int_equal(cache_store_incr(st, "ctr:a", 0, 60, &v), CCP_OK);
    assert_int_equal(v, 6);
    assert_int_equal(cache_store_incr(st, "ctr:b", 0, 60, &v), CCP_OK);
    assert_int_equal(v, 0);
    assert_true(get_is(st, "ctr:a", NULL));
    assert_int_equal(cache_store_incr(st, "bad key", 1, 60, &v), CCP_DECLINED);
    assert_int_equal(cache_store_incr(dead, "ctr:a", 1, 60, &v), CCP_DECLINED);
    cache_store_free(dead);
    cache_store_free(st);
}

static void test_server_down_then_back(void **state)
{
    struct cache_store *st = open_default();
    struct cache_store_stats s;
    unsigned port = srv.port;
    uint64_t t0, worst = 0;
    int i, logfd;
    unsigned lines;
    bool back = false;
    char logpath[] = "/tmp/ccp-test-store-log-XXXXXX";

    (void)state;
    assert_int_equal(cache_store_set(st, "persist", "v1", 2, 60), CCP_OK);
    assert_true(get_is(st, "persist", "v1"));
    mc_stop(&srv);
    logfd = mkstemp(logpath);
    assert_true(logfd >= 0);
    log_init(LOG_LEVEL_WARN, logfd);
    for (i = 0; i < 20; i++) {
        t0 = now_ms();
        assert_false(get_is(st, "persist", NULL));
        assert_int_equal(cache_store_set(st, "persist", "v2", 2, 60), CCP_DECLINED);
        if (now_ms() - t0 > worst) {
            worst = now_ms() - t0;
        }
    }
    assert_true(worst < 1000); /* each get+set pair within the timeouts */
    cache_store_get_stats(st, &s);
    assert_true(s.errors >= 40);
    assert_int_equal(s.hits, 1);
    assert_true(s.misses >= 20);
    /* 40 failures in well under 10 s: one line per kind of error, not 40 */
    log_init(LOG_LEVEL_ERROR, 2);
    lines = count_lines(logfd, "memcached");
    assert_true(lines >= 1 && lines <= 3);
    close(logfd);
    unlink(logpath);

    /* restart on the same port: hits resume after the retry interval */
    assert_true(mc_start(&srv, port));
    for (i = 0; i < 50 && !back; i++) { /* up to about 5 s */
        if (cache_store_set(st, "persist", "v3", 2, 60) == CCP_OK) {
            back = get_is(st, "persist", "v3");
        }
        if (!back) {
            sleep_ms(100);
        }
    }
    assert_true(back);
    cache_store_free(st);
}

static void test_keys_spread_over_servers(void **state)
{
    struct mc_server second = {0, 0};
    char both[96], one[48], two[48], key[32];
    struct cache_store *st, *s1, *s2;
    unsigned on1 = 0, on2 = 0, i;

    (void)state;
    assert_true(mc_start_any(&second));
    snprintf(one, sizeof(one), "127.0.0.1:%u", srv.port);
    snprintf(two, sizeof(two), "127.0.0.1:%u", second.port);
    snprintf(both, sizeof(both), "%s,%s", one, two);
    st = open_store(both, 1048576);
    s1 = open_store(one, 1048576);
    s2 = open_store(two, 1048576);
    for (i = 0; i < 64; i++) {
        snprintf(key, sizeof(key), "spread-%u", i);
        assert_int_equal(cache_store_set(st, key, "x", 1, 60), CCP_OK);
    }
    for (i = 0; i < 64; i++) {
        snprintf(key, sizeof(key), "spread-%u", i);
        assert_true(get_is(st, key, "x"));
        on1 += get_is(s1, key, "x") ? 1 : 0;
        on2 += get_is(s2, key, "x") ? 1 : 0;
    }
    assert_int_equal(on1 + on2, 64); /* each key on exactly one server */
    assert_true(on1 > 0 && on2 > 0);
    cache_store_free(st);
    cache_store_free(s1);
    cache_store_free(s2);
    mc_stop(&second);
}

static struct cache_store *open_noreply(size_t max_item)
{
    struct cache_store_opts o;
    struct cache_store *st = NULL;
    char servers[64], err[256];

    snprintf(servers, sizeof(servers), "127.0.0.1:%u", srv.port);
    memset(&o, 0, sizeof(o));
    o.servers = servers;
    o.timeout_ms = 100;
    o.max_item_bytes = max_item;
    o.retry_s = 1;
    o.max_handles = 1; /* every set on one connection, every get on another */
    o.set_noreply = true;
    assert_int_equal(cache_store_new(&o, &st, err, sizeof(err)), CCP_OK);
    return st;
}

/* get key until it equals v (NULL: until a miss), up to about 2 s: a set
 * without reply may reach memcached after a get on the other connection. */
static bool eventually(struct cache_store *st, const char *key, const char *v)
{
    int i;

    for (i = 0; i < 100; i++) {
        struct buf b;
        enum ccp_err rc;
        bool done;
        buf_init(&b, 8 << 20);
        rc = cache_store_get(st, key, &b);
        done = v == NULL ? rc == CCP_DECLINED
                         : rc == CCP_OK && b.len == strlen(v) && memcmp(b.ptr, v, b.len) == 0;
        buf_release(&b);
        if (done) {
            return true;
        }
        sleep_ms(20);
    }
    return false;
}

/* Sets without reply are stored, replace older values, and a set memcached
 * refuses (too large for its -I 1m) leaves both connections in step: the
 * gets after it answer for their own keys. */
static void test_noreply_sets(void **state)
{
    struct cache_store *st = open_noreply(4u << 20);
    struct cache_store_stats s;
    size_t n = 2u << 20;
    char *big = test_malloc(n);
    int i;

    (void)state;
    memset(big, 'b', n);
    assert_int_equal(cache_store_set(st, "nr-key", "v1", 2, 60), CCP_OK);
    assert_true(eventually(st, "nr-key", "v1"));
    assert_int_equal(cache_store_set(st, "nr-key", "v2", 2, 60), CCP_OK);
    assert_true(eventually(st, "nr-key", "v2"));
    assert_int_equal(cache_store_set(st, "nr-before", "before", 6, 60), CCP_OK);
    /* sent: the refusal is not seen (documented); the server swallows the value */
    assert_int_equal(cache_store_set(st, "nr-big", big, n, 60), CCP_OK);
    for (i = 0; i < 20; i++) {
        char key[32], val[32];
        snprintf(key, sizeof(key), "nr-after-%d", i);
        snprintf(val, sizeof(val), "after-%d", i);
        assert_int_equal(cache_store_set(st, key, val, strlen(val), 60), CCP_OK);
    }
    assert_true(eventually(st, "nr-after-19", "after-19"));
    for (i = 0; i < 20; i++) {
        char key[32], val[32];
        snprintf(key, sizeof(key), "nr-after-%d", i);
        snprintf(val, sizeof(val), "after-%d", i);
        assert_true(get_is(st, key, val));
    }
    assert_true(get_is(st, "nr-before", "before"));
    assert_false(get_is(st, "nr-big", NULL));
    assert_true(get_is(st, "nr-key", "v2"));
    cache_store_get_stats(st, &s);
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.sets, 24);
    cache_store_free(st);
    test_free(big);
}

/* A listener whose accept queue is full drops new SYNs, like a blackholed
 * host: connects never complete. Gets and sets, with and without reply, give
 * up within the timeout (100 ms; bounds generous for slow CI) and are misses. */
static void test_blackholed_server_fails_open(void **state)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd[4], i, mode;
    char servers[64];
    uint64_t t0, worst = 0;

    (void)state;
    assert_true(lfd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 0), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    for (i = 0; i < 4; i++) { /* fill the accept queue; later SYNs are dropped */
        cfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(cfd[i] >= 0);
        (void)connect(cfd[i], (struct sockaddr *)&a, sizeof(a));
    }
    sleep_ms(50);
    snprintf(servers, sizeof(servers), "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    for (mode = 0; mode < 2; mode++) {
        struct cache_store_opts o;
        struct cache_store *st = NULL;
        struct cache_store_stats s;
        char err[256];
        memset(&o, 0, sizeof(o));
        o.servers = servers;
        o.timeout_ms = 100;
        o.max_item_bytes = 1048576;
        o.retry_s = 1;
        o.set_noreply = mode == 1;
        assert_int_equal(cache_store_new(&o, &st, err, sizeof(err)), CCP_OK);
        for (i = 0; i < 3; i++) {
            t0 = now_ms();
            assert_false(get_is(st, "bh", NULL));
            assert_int_equal(cache_store_set(st, "bh", "v", 1, 60), CCP_DECLINED);
            if (now_ms() - t0 > worst) {
                worst = now_ms() - t0;
            }
        }
        cache_store_get_stats(st, &s);
        printf("# blackholed, %s: worst get+set %llu ms, errors %llu\n",
               mode == 1 ? "noreply" : "reply", (unsigned long long)worst,
               (unsigned long long)s.errors);
        assert_int_equal(s.errors, 6);
        assert_int_equal(s.sets, 0);
        assert_int_equal(s.hits, 0);
        cache_store_free(st);
    }
    assert_true(worst < 1000);
    for (i = 0; i < 4; i++) {
        close(cfd[i]);
    }
    close(lfd);
}

/* memcached stops: sets without reply do not hang and fail from the second
 * call on at the latest; after a restart they are stored again. */
static void test_noreply_server_down_then_back(void **state)
{
    struct cache_store *st = open_noreply(1048576);
    unsigned port = srv.port;
    uint64_t t0;
    int i, declined = 0;
    bool back = false;

    (void)state;
    assert_int_equal(cache_store_set(st, "nr-persist", "v1", 2, 60), CCP_OK);
    assert_true(eventually(st, "nr-persist", "v1"));
    mc_stop(&srv);
    t0 = now_ms();
    for (i = 0; i < 10; i++) {
        declined += cache_store_set(st, "nr-persist", "v2", 2, 60) == CCP_DECLINED;
        assert_false(get_is(st, "nr-persist", NULL));
    }
    assert_true(now_ms() - t0 < 2000);
    assert_true(declined >= 9);
    assert_true(mc_start(&srv, port));
    for (i = 0; i < 50 && !back; i++) { /* up to about 5 s */
        if (cache_store_set(st, "nr-persist", "v3", 2, 60) == CCP_OK) {
            back = eventually(st, "nr-persist", "v3");
        } else {
            sleep_ms(100);
        }
    }
    assert_true(back);
    cache_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_round_trip_and_miss),
        cmocka_unit_test(test_binary_protocol),
        cmocka_unit_test(test_bad_keys_are_misses),
        cmocka_unit_test(test_ttl_expires),
        cmocka_unit_test(test_too_large_is_skipped),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_keys_spread_over_servers),
        cmocka_unit_test(test_threads_share_a_store),
        cmocka_unit_test(test_threads_share_a_store_noreply),
        cmocka_unit_test(test_noreply_sets),
        cmocka_unit_test(test_blackholed_server_fails_open),
        cmocka_unit_test(test_server_down_then_back),
        cmocka_unit_test(test_noreply_server_down_then_back),
        cmocka_unit_test(test_incr_counter),
    };

    if (access(MEMCACHED_BIN, X_OK) != 0 || access(TIMEOUT_BIN, X_OK) != 0) {
        printf("SKIP: %s or %s not found; install memcached and coreutils\n", MEMCACHED_BIN,
               TIMEOUT_BIN);
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    log_init(LOG_LEVEL_ERROR, 2); /* the store's rate-limited warnings are expected here */
    return cmocka_run_group_tests_name("cache_store", tests, group_setup, group_teardown);
}
