"""TESTING.md B6 "No growth": after a 100-request warm-up, 1,000 more
requests through one worker process (2 threads) leave its open descriptors
unchanged and its resident memory less than 1 MiB larger. Streams, non-stream
answers and count_tokens, every prompt distinct; the response and token-count
caches are off, since a cache filling up is growth by design, not a leak."""

import json
import os
import time

from harness import CLIENT_HEADERS, Proxy, parse_sse, wait_until
from test_proxy import names, user_turn, worker_pids

WARMUP = 100
REQUESTS = 1000
RSS_GROWTH_MAX_KB = 1024


def snapshot(pid):
    """(open descriptors, VmRSS in kB) of the worker, once it is idle."""
    time.sleep(0.3)  # the last request's teardown (FCGX_Finish) after the client has its answer
    fds = sorted(os.listdir("/proc/%d/fd" % pid))
    with open("/proc/%d/status" % pid) as f:
        rss = [int(line.split()[1]) for line in f if line.startswith("VmRSS:")][0]
    return fds, rss


def one_request(conn, i):
    """Request i on a kept-alive connection: a stream, an answer or a count."""
    text = "no-growth request %d: say something short" % i
    path, stream = "/v1/messages", i % 2 == 0
    if i % 5 == 4:
        path, stream = "/v1/messages/count_tokens", False
    conn.request("POST", path, body=json.dumps(user_turn(text, stream=stream)),
                 headers=dict(CLIENT_HEADERS, **{"Content-Type": "application/json"}))
    resp = conn.getresponse()
    raw = resp.read()
    assert resp.status == 200, raw[:300]
    if stream:
        assert names(parse_sse(raw))[-1] == "message_stop", raw[-300:]


def test_no_fd_or_rss_growth_over_1000_requests(run_dir, mock):
    p = Proxy(run_dir, mock.base_url, {"CCPROXY_PROCS": "1", "WORKER_THREADS": "2",
                                        "LOG_LEVEL": "WARNING",
                                        "RESPONSE_CACHE_ENABLED": "false",
                                        "CACHE_TOKEN_COUNTS_ENABLED": "false"})
    try:
        pid = wait_until(lambda: worker_pids(p) if len(worker_pids(p)) == 1 else None, 10,
                         "1 worker process")[0]
        with open("/proc/%d/maps" % pid) as f:
            asan = "libasan" in f.read()
        conn = p.conn()
        t0 = time.monotonic()
        try:
            for i in range(WARMUP):
                one_request(conn, i)
            fds0, rss0 = snapshot(pid)
            for i in range(WARMUP, WARMUP + REQUESTS):
                one_request(conn, i)
            fds1, rss1 = snapshot(pid)
        finally:
            conn.close()
        elapsed = time.monotonic() - t0
        # the same process served them all (no crash and respawn hiding growth)
        assert worker_pids(p) == [pid]
        assert len(mock.requests()) == (WARMUP + REQUESTS) * 4 // 5
        assert fds1 == fds0, "descriptors before %s, after %s" % (fds0, fds1)
        print("%d requests in %.1f s; fds %d; RSS %d -> %d kB" %
              (WARMUP + REQUESTS, elapsed, len(fds1), rss0, rss1))
        if asan:
            # ASan keeps freed blocks in its quarantine (up to 256 MB), so
            # RSS grows by design there; LeakSanitizer checks leaks instead.
            return
        assert rss1 - rss0 < RSS_GROWTH_MAX_KB, \
            "RSS grew by %d kB over %d requests (%d -> %d kB)" % (rss1 - rss0, REQUESTS, rss0,
                                                                  rss1)
    finally:
        p.stop()
