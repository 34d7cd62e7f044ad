"""Upstream and worker faults not covered by test_proxy.py (TESTING.md D5, D7):
stutter, 5xx bursts, total stream time (MAX_STREAM_SECONDS), SSE lines and
answers over their limits, SIGTERM finishing the request in flight. Every
case: a documented status or a terminal error event within timeout + 1 s,
and the worker serves the next request."""

import json
import os
import signal
import threading
import time

from harness import Proxy, parse_sse, wait_until
from test_proxy import names, user_turn, worker_pids


def assert_next_ok(p):
    status, _, raw = p.messages(user_turn("next"))
    assert status == 200, raw[:300]


def test_stutter_one_byte_per_50ms(proxy, mock):
    text = "stutter!" * 4
    mock.script({"kind": "slow", "chunks": list(text), "delay": 0.05})
    t0 = time.monotonic()
    status, _, raw = proxy.messages(user_turn("hi", stream=True), timeout=30)
    assert status == 200
    events = parse_sse(raw)
    assert names(events)[-1] == "message_stop"
    got = "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
    assert got == text
    assert time.monotonic() - t0 < 10
    assert_next_ok(proxy)


def test_5xx_burst_then_recovery(proxy, mock):
    # enough failures to outlast any retry policy (PROVIDER_MAX_RETRIES <= 3 by default)
    mock.script(*[{"kind": "error", "status": s, "body": {"error": {"message": "down"}}}
                  for s in (500, 502, 503, 500, 502, 503, 500, 502)])
    status, _, raw = proxy.messages(user_turn("hi"), timeout=60)
    assert 500 <= status <= 599, (status, raw[:300])
    assert json.loads(raw)["type"] == "error"
    mock.reset()
    assert_next_ok(proxy)


def test_max_stream_seconds_ends_stream(run_dir, mock):
    p = Proxy(run_dir, mock.base_url, {"MAX_STREAM_SECONDS": "2"})
    try:
        mock.script({"kind": "slow", "count": 100, "delay": 0.2})
        t0 = time.monotonic()
        status, _, raw = p.messages(user_turn("hi", stream=True), timeout=30)
        elapsed = time.monotonic() - t0
        assert status == 200
        assert names(parse_sse(raw))[-1] == "error"
        assert elapsed < 2 + 1, "stream ran %.2f s with MAX_STREAM_SECONDS=2" % elapsed
        assert_next_ok(p)
    finally:
        p.stop()


def test_sse_line_over_limit_and_answer_over_limit(run_dir, mock):
    p = Proxy(run_dir, mock.base_url, {"MAX_SSE_LINE_BYTES": "4096",
                                        "MAX_UPSTREAM_RESPONSE_BYTES": "8192"})
    try:
        mock.script({"kind": "text", "chunks": ["x" * 10000]})
        status, _, raw = p.messages(user_turn("hi", stream=True), timeout=30)
        assert status == 200
        events = parse_sse(raw)
        assert names(events)[-1] == "error", names(events)
        assert "size limit" in events[-1][1]["error"]["message"]
        mock.script({"kind": "text", "text": "y" * 20000})
        status, _, raw = p.messages(user_turn("hi"), timeout=30)
        assert 500 <= status <= 599, (status, raw[:300])
        assert json.loads(raw)["type"] == "error"
        assert_next_ok(p)
    finally:
        p.stop()


def test_sigterm_finishes_request_in_flight(run_dir, mock):
    p = Proxy(run_dir, mock.base_url, {"CCPROXY_PROCS": "1", "WORKER_THREADS": "2"})
    try:
        pids = wait_until(lambda: worker_pids(p) if len(worker_pids(p)) == 1 else None, 5,
                          "1 worker process")
        mock.script({"kind": "slow", "chunks": ["a", "b", "c", "d", "e", "f"], "delay": 0.3})
        result = {}

        def run():
            result["r"] = p.messages(user_turn("long", stream=True), timeout=30)

        t = threading.Thread(target=run)
        t.start()
        wait_until(lambda: mock.requests(), 5, "the stream to reach the upstream")
        os.kill(pids[0], signal.SIGTERM)
        t.join(30)
        assert not t.is_alive()
        status, _, raw = result["r"]
        assert status == 200
        events = parse_sse(raw)
        assert names(events)[-1] == "message_stop", names(events)
        text = "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
        assert text == "abcdef"
        wait_until(lambda: pids[0] not in worker_pids(p), 10, "the old worker to exit")
        wait_until(lambda: len(worker_pids(p)) == 1, 10, "lighttpd to start a new worker")
        assert_next_ok(p)
    finally:
        p.stop()


def test_stream_over_total_byte_cap(run_dir, mock):
    # MAX_UPSTREAM_STREAM_BYTES bounds one whole upstream stream (each line is
    # short, so MAX_SSE_LINE_BYTES never trips): past it the client's stream
    # ends with an api_error event and the upstream connection is cut.
    p = Proxy(run_dir, mock.base_url, {"MAX_UPSTREAM_STREAM_BYTES": "8192"})
    try:
        chunks = ["w%03d " % i for i in range(400)]  # about 70 KB of SSE; 4 s at 10 ms each
        mock.script({"kind": "slow", "chunks": chunks, "delay": 0.01})
        t0 = time.monotonic()
        status, _, raw = p.messages(user_turn("hi", stream=True), timeout=30)
        elapsed = time.monotonic() - t0
        assert status == 200
        events = parse_sse(raw)
        assert names(events)[0] == "message_start"
        assert names(events)[-1] == "error", names(events)
        err = events[-1][1]["error"]
        assert err["type"] == "api_error"
        assert "MAX_UPSTREAM_STREAM_BYTES" in err["message"], err
        got = "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
        assert got and "".join(chunks).startswith(got), got[:200]
        assert len(got) < len("".join(chunks)) // 2
        assert elapsed < 3, "stream ran %.2f s past the cap" % elapsed
        # the upstream saw its connection closed long before the end
        ends = wait_until(lambda: [s for s in mock.streams() if s["state"] != "complete"]
                          or None, 5, "the mock to record the cut stream")
        assert ends[0]["state"] == "client_closed", ends
        assert ends[0]["chunks_sent"] < len(chunks) // 2, ends
        # a stream under the cap still completes, and so does the next request
        mock.script({"kind": "text", "chunks": ["short ", "answer"]})
        status, _, raw = p.messages(user_turn("again", stream=True), timeout=30)
        assert status == 200 and names(parse_sse(raw))[-1] == "message_stop"
        assert_next_ok(p)
    finally:
        p.stop()
