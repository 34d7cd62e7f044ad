"""An HTTP/2 upstream: nghttpx (TLS, a self-signed certificate made here)
in front of the mock. With UPSTREAM_MULTI one worker process carries 50
concurrent slow streams over at most 4 TCP connections; with per-thread
handles it opens about one per stream."""

import concurrent.futures

import pytest

from harness import Proxy, nghttpx_upstream, parse_sse, user_message, wait_until

STREAMS = 50


@pytest.fixture
def h2_upstream(run_dir, mock):
    """nghttpx on https://127.0.0.1:<port>/v1 proxying to the mock; yields
    (base_url, ca_file, access_log)."""
    access = run_dir / "nghttpx-access.log"
    proc, base_url, cert = nghttpx_upstream(
        run_dir, mock, "h2", ["--frontend-http2-max-concurrent-streams=256",
                              "--accesslog-file=%s" % access,
                              "--accesslog-format=$remote_port $alpn $status $request"])
    try:
        yield base_url, cert, access
    finally:
        proc.stop()


def upstream_calls(access):
    """(remote port, alpn) of each chat/completions call nghttpx served."""
    calls = []
    for line in access.read_text().splitlines():
        parts = line.split(" ")
        if len(parts) >= 4 and "/chat/completions" in line:
            calls.append((parts[0], parts[1]))
    return calls


def run_streams(run_dir, mock, h2_upstream, multi):
    base_url, cert, access = h2_upstream
    mock.script(*[{"kind": "slow", "count": 10, "delay": 0.1} for _ in range(STREAMS)])
    proxy = Proxy(run_dir, base_url, {
        "CCPROXY_PROCS": "1", "WORKER_THREADS": "64", "UPSTREAM_MULTI": multi,
        "OPENAI_CA_BUNDLE": str(cert), "LOG_LEVEL": "INFO"})
    try:
        def one(i):
            return proxy.messages(user_message("h2 stream %d" % i, stream=True), timeout=60)

        with concurrent.futures.ThreadPoolExecutor(STREAMS) as pool:
            results = list(pool.map(one, range(STREAMS)))
    finally:
        proxy.stop()
    for status, _headers, raw in results:
        assert status == 200, raw[:300]
        events = parse_sse(raw)
        assert events[-1][0] == "message_stop", raw[-300:]
        text = "".join(d["delta"].get("text", "") for n, d in events
                       if n == "content_block_delta")
        assert text, raw[:300]
    calls = wait_until(lambda: (lambda c: c if len(c) >= STREAMS else None)(
        upstream_calls(access)), 10, "nghttpx access log lines")
    assert {alpn for _port, alpn in calls} == {"h2"}, calls[:5]
    print("UPSTREAM_MULTI=%s: %d streams over %d upstream connections"
          % (multi, len(calls), len({port for port, _alpn in calls})))
    return {port for port, _alpn in calls}


def test_h2_streams_share_few_connections(run_dir, mock, h2_upstream):
    ports = run_streams(run_dir, mock, h2_upstream, "true")
    assert 1 <= len(ports) <= 4, "%d upstream connections for %d streams" % (len(ports),
                                                                           STREAMS)


def test_h2_per_thread_handles_open_many(run_dir, mock, h2_upstream):
    # the contrast: without the shared transport each thread connects by itself
    ports = run_streams(run_dir, mock, h2_upstream, "false")
    assert len(ports) > 4, ports
