/* Tests of coord/client.c against the real ccproxy-coordd (started with
 * fork/exec from $CCP_COORDD, stopped by PID): fail-fast connects, the
 * leader/follower calls, timeouts, and a daemon that dies mid-stream. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "coord/client.h"
#include "coord/proto.h"

static char dir[64];
static char sock_path[128];
static pid_t daemon_pid = -1;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Start the daemon on sock_path with extra arguments; wait (bounded) until it
 * answers. */
static void start_daemon(const char *extra1, const char *extra2)
{
    const char *bin = getenv("CCP_COORDD");
    struct coord_client *c = NULL;
    int i;

    if (bin == NULL) {
        bin = "./ccproxy-coordd";
    }
    daemon_pid = fork();
    assert_true(daemon_pid >= 0);
    if (daemon_pid == 0) {
        execl(bin, bin, "--socket", sock_path, "--log-level", "WARNING", extra1, extra2,
              (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 500; i++) {
        if (coord_connect(sock_path, 100, 0, &c) == CCP_OK) {
            coord_close(c);
            return;
        }
        sleep_ms(10);
    }
    fail_msg("ccproxy-coordd (%s) did not start", bin);
}

static void stop_daemon(int sig)
{
    int status, i;

    if (daemon_pid <= 0) {
        return;
    }
    kill(daemon_pid, sig);
    for (i = 0; i < 500; i++) {
        if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
            daemon_pid = -1;
            return;
        }
        sleep_ms(10);
    }
    kill(daemon_pid, SIGKILL);
    waitpid(daemon_pid, &status, 0);
    daemon_pid = -1;
}

static int setup(void **state)
{
    (void)state;
    memcpy(dir, "/tmp/ccp-coord-XXXXXX", 22);
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(sock_path, sizeof(sock_path), "%s/coordd.sock", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_daemon(SIGTERM);
    unlink(sock_path);
    rmdir(dir);
    return 0;
}

static void test_absent_or_stale_fails_fast(void **state)
{
    struct coord_client *c = NULL;
    struct sockaddr_un sa;
    int64_t t0;
    int fd;

    (void)state;
    t0 = now_ms();
    assert_int_equal(coord_connect(sock_path, 2000, 0, &c), CCP_ERR_COORD); /* no file */
    assert_true(now_ms() - t0 <= 100);
    /* a socket file nobody listens on (a daemon that died) */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, sock_path, strlen(sock_path));
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    t0 = now_ms();
    assert_int_equal(coord_connect(sock_path, 2000, 0, &c), CCP_ERR_COORD);
    assert_int_equal(coord_connect("unix:/nonexistent/x.sock,127.0.0.1:1", 2000, 0, &c),
                     CCP_ERR_COORD);
    assert_true(now_ms() - t0 <= 100);
    assert_null(c);
    assert_int_equal(coord_connect("", 100, 0, &c), CCP_ERR_INVALID);
    /* the daemon replaces the stale file; the list falls through to it */
    start_daemon(NULL, NULL);
    assert_int_equal(coord_connect("/nonexistent/x.sock", 100, 0, &c), CCP_ERR_COORD);
    {
        char list[200];
        snprintf(list, sizeof(list), "/nonexistent/x.sock,unix:%s", sock_path);
        assert_int_equal(coord_connect(list, 100, 0, &c), CCP_OK);
    }
    coord_close(c);
}

static void test_lead_follow_publish_next(void **state)
{
    struct coord_client *l = NULL, *f1 = NULL, *f2 = NULL;
    enum coord_role role;
    enum coord_next_kind kind;
    struct buf got, want;
    unsigned count = 0;
    char ev[64];
    int i, k;

    (void)state;
    buf_init(&got, 1 << 20);
    buf_init(&want, 1 << 20);
    assert_int_equal(coord_connect(sock_path, 100, 0, &l), CCP_OK);
    assert_int_equal(coord_connect(sock_path, 100, 0, &f1), CCP_OK);
    assert_int_equal(coord_connect(sock_path, 100, 0, &f2), CCP_OK);
    assert_int_equal(coord_join(l, "tenant1:abc", 11, 1000, &role), CCP_OK);
    assert_int_equal(role, COORD_ROLE_LEADER);
    assert_int_equal(coord_followers(l, 0, &count), CCP_OK);
    assert_int_equal(count, 0);
    assert_int_equal(coord_join(f1, "tenant1:abc", 11, 1000, &role), CCP_OK);
    assert_int_equal(role, COORD_ROLE_FOLLOWER);
    for (i = 0; i < 40; i++) {
        k = snprintf(ev, sizeof(ev), "event: ping\ndata: {\"type\":\"ping\",\"n\":%d}\n\n", i);
        assert_int_equal(coord_publish(l, ev, (size_t)k, 1000), CCP_OK);
        assert_int_equal(buf_append(&want, ev, (size_t)k), CCP_OK);
        if (i == 20) { /* a late joiner */
            assert_int_equal(coord_join(f2, "tenant1:abc", 11, 1000, &role), CCP_OK);
            assert_int_equal(role, COORD_ROLE_FOLLOWER);
        }
    }
    for (i = 0; i < 100 && count != 2; i++) {
        assert_int_equal(coord_followers(l, 50, &count), CCP_OK);
    }
    assert_int_equal(count, 2);
    assert_int_equal(coord_end(l, 1000), CCP_OK);
    assert_int_equal(coord_publish(l, "x", 1, 100), CCP_ERR_INVALID); /* not leading any more */
    for (k = 0; k < 2; k++) {
        struct coord_client *f = k == 0 ? f1 : f2;
        buf_reset(&got);
        for (i = 0; i < 100; i++) {
            assert_int_equal(coord_next(f, &got, 1000, &kind), CCP_OK);
            if (kind != COORD_NEXT_EVENT) {
                break;
            }
        }
        assert_int_equal(kind, COORD_NEXT_END);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.ptr, want.ptr, want.len);
    }
    /* idle again: the same key now leads a new stream */
    assert_int_equal(coord_join(f1, "tenant1:abc", 11, 1000, &role), CCP_OK);
    assert_int_equal(role, COORD_ROLE_LEADER);
    coord_close(f1);
    coord_close(f2);
    coord_close(l);
    buf_release(&got);
    buf_release(&want);
}

static void test_wait_timeout_abort_and_leader_gone(void **state)
{
    struct coord_client *l = NULL, *f = NULL;
    enum coord_role role;
    enum coord_next_kind kind;
    struct buf got;
    int64_t t0, el;

    (void)state;
    buf_init(&got, 1 << 16);
    assert_int_equal(coord_connect(sock_path, 100, 0, &l), CCP_OK);
    assert_int_equal(coord_connect(sock_path, 100, 0, &f), CCP_OK);
    assert_int_equal(coord_join(l, "k2", 2, 1000, &role), CCP_OK);
    assert_int_equal(coord_join(f, "k2", 2, 1000, &role), CCP_OK);
    assert_int_equal(role, COORD_ROLE_FOLLOWER);
    /* nothing published: the follower's wait ends on time (then it may go direct) */
    t0 = now_ms();
    assert_int_equal(coord_next(f, &got, 150, &kind), CCP_ERR_TIMEOUT);
    el = now_ms() - t0;
    assert_true(el >= 140 && el < 1000);
    /* a leader's ABORT reaches the follower with its reason */
    assert_int_equal(coord_abort(l, "upstream 502", 1000), CCP_OK);
    assert_int_equal(coord_next(f, &got, 1000, &kind), CCP_OK);
    assert_int_equal(kind, COORD_NEXT_ABORT);
    assert_int_equal(got.len, 12);
    assert_memory_equal(got.ptr, "upstream 502", 12);
    /* a leader that goes away without END */
    assert_int_equal(coord_join(l, "k3", 2, 1000, &role), CCP_OK);
    assert_int_equal(role, COORD_ROLE_LEADER);
    assert_int_equal(coord_join(f, "k3", 2, 1000, &role), CCP_OK);
    assert_int_equal(role, COORD_ROLE_FOLLOWER);
    assert_int_equal(coord_publish(l, "e1", 2, 1000), CCP_OK);
    coord_close(l);
    buf_reset(&got);
    t0 = now_ms();
    assert_int_equal(coord_next(f, &got, 1000, &kind), CCP_OK);
    assert_int_equal(kind, COORD_NEXT_EVENT);
    assert_int_equal(coord_next(f, &got, 1000, &kind), CCP_OK);
    assert_int_equal(kind, COORD_NEXT_ABORT);
    assert_true(now_ms() - t0 < 500);
    assert_memory_equal(got.ptr, "e1leader gone", 13);
    coord_close(f);
    buf_release(&got);
}

static void test_error_answer_reaches_every_follower(void **state)
{
    static const char hdrs[] = "retry-after: 3\r\n";
    static const char json[] = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\"}}";
    struct coord_client *l = NULL, *f[3] = {NULL, NULL, NULL};
    enum coord_role role;
    enum coord_next_kind kind;
    struct coord_error e;
    struct buf got;
    unsigned count = 0;
    int i;

    (void)state;
    buf_init(&got, 1 << 16);
    assert_int_equal(coord_connect(sock_path, 100, 0, &l), CCP_OK);
    assert_int_equal(coord_join(l, "k429", 4, 1000, &role), CCP_OK);
    assert_int_equal(role, COORD_ROLE_LEADER);
    for (i = 0; i < 3; i++) {
        assert_int_equal(coord_connect(sock_path, 100, 0, &f[i]), CCP_OK);
        assert_int_equal(coord_join(f[i], "k429", 4, 1000, &role), CCP_OK);
        assert_int_equal(role, COORD_ROLE_FOLLOWER);
    }
    for (i = 0; i < 100 && count != 3; i++) {
        assert_int_equal(coord_followers(l, 50, &count), CCP_OK);
    }
    assert_int_equal(count, 3);
    assert_int_equal(coord_error(l, 429, hdrs, strlen(hdrs), json, strlen(json), 1000), CCP_OK);
    assert_true(coord_idle(l));
    for (i = 0; i < 3; i++) {
        buf_reset(&got);
        assert_int_equal(coord_next(f[i], &got, 1000, &kind), CCP_OK);
        assert_int_equal(kind, COORD_NEXT_ERROR);
        assert_int_equal(coord_parse_error(got.ptr, got.len, &e), CCP_OK);
        assert_int_equal(e.status, 429);
        assert_int_equal(e.headers_len, strlen(hdrs));
        assert_memory_equal(e.headers, hdrs, e.headers_len);
        assert_int_equal(e.body_len, strlen(json));
        assert_memory_equal(e.body, json, e.body_len);
        assert_true(coord_idle(f[i]));
    }
    /* every connection is usable again; the key leads a new stream */
    assert_int_equal(coord_join(f[0], "k429", 4, 1000, &role), CCP_OK);
    assert_int_equal(role, COORD_ROLE_LEADER);
    /* after an EVENT the stream has started: no error answer any more */
    assert_int_equal(coord_publish(f[0], "e1", 2, 1000), CCP_OK);
    assert_int_equal(coord_error(f[0], 500, NULL, 0, "{}", 2, 1000), CCP_ERR_INVALID);
    assert_int_equal(coord_end(f[0], 1000), CCP_OK);
    /* a bad answer is refused before it is sent */
    assert_int_equal(coord_join(l, "k-bad", 5, 1000, &role), CCP_OK);
    assert_int_equal(coord_error(l, 429, "a\nb: c\r\n", 9, "{}", 2, 1000), CCP_ERR_INVALID);
    assert_int_equal(coord_end(l, 1000), CCP_OK);
    assert_false(coord_idle(NULL));
    for (i = 0; i < 3; i++) {
        coord_close(f[i]);
    }
    coord_close(l);
    buf_release(&got);
}

static void test_busy_is_an_error_and_connection_stays_usable(void **state)
{
    struct coord_client *a = NULL, *b = NULL;
    enum coord_role role;

    (void)state;
    stop_daemon(SIGTERM);
    start_daemon("--max-sessions", "1");
    assert_int_equal(coord_connect(sock_path, 100, 0, &a), CCP_OK);
    assert_int_equal(coord_connect(sock_path, 100, 0, &b), CCP_OK);
    assert_int_equal(coord_join(a, "one", 3, 1000, &role), CCP_OK);
    assert_int_equal(coord_join(b, "two", 3, 1000, &role), CCP_ERR_COORD);
    assert_int_equal(coord_join(b, "one", 3, 1000, &role), CCP_OK);
    assert_int_equal(role, COORD_ROLE_FOLLOWER);
    coord_close(a);
    coord_close(b);
}

static void test_tcp_address(void **state)
{
    struct coord_client *c = NULL;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    enum coord_role role;
    char listen[32], list[64];
    int fd;

    (void)state;
    /* an ephemeral port the kernel just handed out and took back */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    stop_daemon(SIGTERM);
    start_daemon("--listen", listen);
    snprintf(list, sizeof(list), "/nonexistent/x.sock,%s", listen);
    assert_int_equal(coord_connect(list, 100, 0, &c), CCP_OK);
    assert_int_equal(coord_join(c, "tcp-key", 7, 1000, &role), CCP_OK);
    assert_int_equal(role, COORD_ROLE_LEADER);
    coord_close(c);
}

static void test_daemon_killed_mid_stream(void **state)
{
    struct coord_client *l = NULL, *f = NULL;
    enum coord_role role;
    enum coord_next_kind kind;
    enum ccp_err rc = CCP_OK;
    struct buf got;
    int64_t t0;
    int i;

    (void)state;
    buf_init(&got, 1 << 16);
    assert_int_equal(coord_connect(sock_path, 100, 0, &l), CCP_OK);
    assert_int_equal(coord_connect(sock_path, 100, 0, &f), CCP_OK);
    assert_int_equal(coord_join(l, "k4", 2, 1000, &role), CCP_OK);
    assert_int_equal(coord_join(f, "k4", 2, 1000, &role), CCP_OK);
    assert_int_equal(coord_publish(l, "e1", 2, 1000), CCP_OK);
    assert_int_equal(coord_next(f, &got, 1000, &kind), CCP_OK);
    stop_daemon(SIGKILL);
    t0 = now_ms();
    assert_int_equal(coord_next(f, &got, 5000, &kind), CCP_ERR_COORD);
    assert_true(now_ms() - t0 < 500);
    for (i = 0; i < 3 && rc == CCP_OK; i++) {
        rc = coord_publish(l, "e2", 2, 1000);
    }
    assert_int_equal(rc, CCP_ERR_COORD);
    assert_int_equal(coord_publish(l, "e3", 2, 1000), CCP_ERR_COORD); /* stays failed */
    t0 = now_ms();
    coord_close(l);
    coord_close(f);
    assert_int_equal(coord_connect(sock_path, 1000, 0, &l), CCP_ERR_COORD);
    assert_true(now_ms() - t0 <= 100);
    buf_release(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent_or_stale_fails_fast),
        cmocka_unit_test(test_lead_follow_publish_next),
        cmocka_unit_test(test_wait_timeout_abort_and_leader_gone),
        cmocka_unit_test(test_error_answer_reaches_every_follower),
        cmocka_unit_test(test_busy_is_an_error_and_connection_stays_usable),
        cmocka_unit_test(test_tcp_address),
        cmocka_unit_test(test_daemon_killed_mid_stream),
    };

    return cmocka_run_group_tests_name("coord_client", tests, setup, teardown);
}
