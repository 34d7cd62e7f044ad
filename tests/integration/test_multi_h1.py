"""The shared transport (UPSTREAM_MULTI=true) against an upstream that speaks
HTTP/1.1: a burst of concurrent streams all start at once, each on its own
connection. Before the fix a call that found another connection to the
upstream still being set up waited (CURLOPT_PIPEWAIT) in curl's pending queue
for a multiplexing that HTTP/1.1 never offers, and got its first byte only
when an earlier stream had ended (the 5 s TTFB tail of W3). Covered: plain
http:// to the mock, and https:// through nghttpx offering only http/1.1 by
ALPN (UPSTREAM_HTTP2 on: the transport learns the upstream does not
multiplex)."""

import concurrent.futures

import pytest

from harness import Proxy, nghttpx_upstream, parse_sse, stream_arrivals, user_message

STREAMS = 64
CHUNKS = 8
DELAY = 0.5  # s between chunks: each stream lasts about 4 s
# A stream that waited for another one to end gets its first text after
# about CHUNKS * DELAY; one that did not, after about DELAY.
FIRST_TEXT_MAX = 2.0


def burst(run_dir, mock, base_url, extra):
    mock.script(*[{"kind": "slow", "count": CHUNKS, "delay": DELAY} for _ in range(STREAMS)])
    env = {"CCPROXY_PROCS": "1", "WORKER_THREADS": "80", "UPSTREAM_MULTI": "true",
           "LOG_LEVEL": "INFO"}
    env.update(extra)
    proxy = Proxy(run_dir, base_url, env)
    try:
        def one(i):
            return stream_arrivals(proxy, user_message("h1 burst %d" % i, stream=True))

        with concurrent.futures.ThreadPoolExecutor(STREAMS) as pool:
            results = list(pool.map(one, range(STREAMS)))
    finally:
        proxy.stop()
    firsts = []
    for arrivals, raw in results:
        events = parse_sse(raw)
        assert events[-1][0] == "message_stop", raw[-300:]
        assert len(arrivals) >= CHUNKS, raw[:300]
        firsts.append(arrivals[0])
    firsts.sort()
    print("first text of %d streams: median %.2f s, max %.2f s"
          % (len(firsts), firsts[len(firsts) // 2], firsts[-1]))
    late = [round(t, 2) for t in firsts if t > FIRST_TEXT_MAX]
    assert not late, "%d of %d streams waited for another to end: %s" % (len(late), STREAMS,
                                                                         late)
    return proxy


def test_multi_h1_burst_starts_at_once(run_dir, mock):
    proxy = burst(run_dir, mock, mock.base_url, {})
    assert "answers HTTP/1.x" not in proxy.error_log()  # http:// never waits to multiplex


@pytest.fixture
def h1_tls_upstream(run_dir, mock):
    """nghttpx offering only http/1.1 by ALPN, proxying to the mock; yields
    (base_url, ca_file)."""
    proc, base_url, cert = nghttpx_upstream(run_dir, mock, "h1", ["--npn-list=http/1.1"])
    try:
        yield base_url, cert
    finally:
        proc.stop()


def test_multi_h1_over_tls_burst_starts_at_once(run_dir, mock, h1_tls_upstream):
    base_url, cert = h1_tls_upstream
    proxy = burst(run_dir, mock, base_url,
                  {"OPENAI_CA_BUNDLE": str(cert), "UPSTREAM_HTTP2": "true"})
    assert "answers HTTP/1.x" in proxy.error_log()
