"""The /v1/metrics sections other code fills (coordinator, response cache,
token-count cache), ttfb_ms in the JSON request line, and the rate limits
borrowing the caches' memcached pool. Real lighttpd, ccproxy-fcgi,
ccproxy-coordd and memcached, all on 127.0.0.1 and stopped by PID."""

import json
import socket
import time

import pytest

from harness import Proxy, wait_until
from test_count_tokens import PATH as COUNT_PATH
from test_count_tokens import conversation
from test_fanout import complete, run_concurrently, slow_reply, start_proxy, stream_turn
from test_fanout import upstream_calls


def metrics(proxy):
    status, _hdrs, body = proxy.request("GET", "/v1/metrics")
    assert status == 200, body[:300]
    return json.loads(body)


def message_lines(proxy):
    """The JSON request lines of POST /v1/messages in lighttpd's error log."""
    out = []
    for line in proxy.error_log().splitlines():
        if line.startswith("{") and '"msg":"request"' in line:
            x = json.loads(line)
            if x["path"] == "/v1/messages":
                out.append(x)
    return out


def test_fanout_and_response_cache_are_counted(run_dir, mock, coordd, memcached):
    p = start_proxy(run_dir, mock, COORD_ADDRESSES=coordd.address,
                    MEMCACHED_SERVERS="127.0.0.1:%d" % memcached.port,
                    RESPONSE_CACHE_LRU_MAX="0")
    try:
        before = metrics(p)
        assert before["coordinator"] == {"leaders": 0, "followers": 0, "drops": 0,
                                         "fail_opens": 0}
        mock.script(slow_reply(count=20, delay=0.05))
        body = stream_turn("count the fan-out")
        results = run_concurrently([lambda: p.messages(body)] * 5)
        assert all(s == 200 and complete(raw) for s, _h, raw in results)
        assert len(upstream_calls(mock)) == 1
        co = metrics(p)["coordinator"]
        assert co["leaders"] >= 1 and co["followers"] >= 4, co
        assert co["leaders"] + co["followers"] == 5, co
        assert co["drops"] == 0 and co["fail_opens"] == 0, co

        # the leader stored the stream; the same request again is a hit
        status, hdrs, raw = p.messages(body)
        assert status == 200 and hdrs.get("x-ccproxy-cache") == "hit" and complete(raw)
        rc = metrics(p)["response_cache"]
        assert rc["misses"] == 1 and rc["hits"] == 1 and rc["stores"] == 1, rc
        assert rc["errors"] == 0 and rc["hit_rate"] == pytest.approx(0.5), rc

        # time to the client's first byte: a stream's comes with its first
        # upstream chunk, well before its end; a hit's at once
        lines = message_lines(p)
        assert len(lines) == 6
        for x in lines:
            assert isinstance(x["ttfb_ms"], int) and 0 <= x["ttfb_ms"] <= x["total_ms"], x
        hit = [x for x in lines if x["cache"] == "hit"]
        assert len(hit) == 1 and hit[0]["ttfb_ms"] < 200, hit
        leader = [x for x in lines if x["cache"] == "miss"]
        assert len(leader) == 1 and leader[0]["total_ms"] >= 900, leader
        assert leader[0]["ttfb_ms"] < leader[0]["total_ms"] - 500, leader
    finally:
        p.stop()


def test_ttfb_of_a_stream_and_a_buffered_answer(run_dir, mock):
    p = start_proxy(run_dir, mock, LOG_LEVEL="INFO")
    try:
        mock.script(dict(slow_reply(count=10, delay=0.1), first_byte_delay=0.4),
                    {"kind": "text", "text": "buffered", "first_byte_delay": 0.4})
        status, _h, raw = p.messages(stream_turn("ttfb stream"))
        assert status == 200 and complete(raw)
        status, _h, raw = p.messages(stream_turn("ttfb buffered", stream=False))
        assert status == 200, raw[:300]
        streamed, buffered = message_lines(p)
        assert streamed["stream"] is True and buffered["stream"] is False
        # the stream's headers leave with its first event: after the upstream's
        # first byte (0.4 s), about 1 s before its end
        assert 350 <= streamed["ttfb_ms"] <= streamed["total_ms"] - 600, streamed
        # a buffered answer's first byte leaves once the whole answer is in
        assert buffered["ttfb_ms"] >= 350 and buffered["ttfb_ms"] <= buffered["total_ms"]
    finally:
        p.stop()


@pytest.mark.parametrize("kind", ["absent", "stale"])
def test_unreachable_coordinator_counts_fail_opens(run_dir, mock, kind):
    path = str(run_dir / "no-coordd.sock")
    if kind == "stale":  # a socket file nobody listens on
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.close()
    p = start_proxy(run_dir, mock, COORD_ADDRESSES=path, COORD_CONNECT_TIMEOUT_MS="100")
    try:
        assert metrics(p)["coordinator"]["fail_opens"] == 0
        for i in range(3):
            mock.script({"kind": "text", "text": "direct %d" % i})
            status, _h, raw = p.messages(stream_turn("direct %d" % i))
            assert status == 200 and complete(raw)
        co = metrics(p)["coordinator"]
        assert co["fail_opens"] == 3, co
        assert co["leaders"] == 0 and co["followers"] == 0, co
    finally:
        p.stop()


def test_token_count_cache_is_counted(run_dir, mock, memcached):
    p = start_proxy(run_dir, mock, MEMCACHED_SERVERS="127.0.0.1:%d" % memcached.port,
                    RESPONSE_CACHE_LRU_MAX="0", CACHE_TOKEN_COUNTS_MAX="1")
    try:
        seen = [0, 0]
        for _ in range(2):
            status, hdrs, raw = p.messages(conversation(4), path=COUNT_PATH)
            assert status == 200, raw[:300]
            parts = dict(kv.split("=") for kv in hdrs["x-ccproxy-token-cache"].split())
            seen[0] += int(parts["hits"])
            seen[1] += int(parts["misses"])
        tc = metrics(p)["token_count_cache"]
        assert tc["misses"] >= 4 and tc["hits"] >= 4, tc  # the repeat hits every block
        assert [tc["hits"], tc["misses"]] == seen, (tc, seen)
        assert metrics(p)["performance"]["count_tokens"] == 2
    finally:
        p.stop()


def memcached_connections(port):
    """curr_connections of memcached, minus this query's own connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = s.recv(65536)
            assert chunk, "memcached closed the stats connection"
            data += chunk
    for line in data.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "curr_connections":
            return int(parts[2]) - 1
    raise AssertionError("no curr_connections in memcached stats")


def test_rate_limits_share_the_memcached_pool(run_dir, mock, memcached):
    # one process with one thread: the response cache, the count cache and the
    # rate limits need one memcached connection between them
    env_file = run_dir / "shared.env"
    env_file.write_text("MEMCACHED_SERVERS=127.0.0.1:%d\nRATE_LIMIT_ENABLED=true\n"
                        "RATE_LIMIT_PER_MINUTE=1000\nRATE_LIMIT_BURST=0\n"
                        "RESPONSE_CACHE_LRU_MAX=0\n" % memcached.port)
    # memcached may still count a stats connection that just closed: take the
    # lowest of a few readings as the baseline
    idle = min(memcached_connections(memcached.port) for _ in range(5) if not time.sleep(0.05))
    p = Proxy(run_dir, mock.base_url, {"CCPROXY_ENV_FILE": str(env_file), "CCPROXY_PROCS": "1",
                                       "WORKER_THREADS": "1"})
    try:
        mock.script({"kind": "text", "text": "limited but shared"})
        status, hdrs, raw = p.messages(stream_turn("share the pool", stream=False))
        assert status == 200 and hdrs.get("x-ccproxy-cache") == "miss", raw[:300]
        status, _h, raw = p.messages(conversation(2), path=COUNT_PATH)
        assert status == 200, raw[:300]
        status, hdrs, _raw = p.messages(stream_turn("share the pool", stream=False))
        assert hdrs.get("x-ccproxy-cache") == "hit"
        log = p.error_log()
        assert "memcached pool shared" in log and "memcached pool of its own" not in log
        wait_until(lambda: memcached_connections(memcached.port) - idle == 1, 3,
                   "one memcached connection for the caches and the limits")
        memcached.stop()  # memcached gone: the limits let requests through
        mock.script({"kind": "text", "text": "fail open"})
        status, _h, raw = p.messages(stream_turn("memcached is down", stream=False))
        assert status == 200, raw[:300]
    finally:
        p.stop()
