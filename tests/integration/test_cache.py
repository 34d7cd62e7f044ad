"""Response cache through lighttpd and the worker, with a real memcached on an
ephemeral 127.0.0.1 port (started here, stopped by PID): hits, stream replay,
tenant separation, bypass, memcached outages, errors never cached."""

import json
import re
import time

import pytest

from harness import CLIENT_HEADERS, Proxy, parse_sse, wait_until

SONNET = "claude-sonnet-4-5-20250929"
MSG_ID = re.compile(rb"msg_[0-9a-f]{24}")


def user_turn(text, stream=False):
    return {"model": SONNET, "max_tokens": 1024, "stream": stream,
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}


def start_proxy(run_dir, mock, **conf):
    """The proxy with conf written to its env file (every variable reaches the
    worker that way, whatever lighttpd.conf copies)."""
    env_file = run_dir / "cache.env"
    env_file.write_text("".join("%s=%s\n" % kv for kv in conf.items()))
    return Proxy(run_dir, mock.base_url, {"CCPROXY_ENV_FILE": str(env_file)})


@pytest.fixture
def cproxy(run_dir, mock, memcached):
    # No in-process LRU: every hit below comes from memcached, which both
    # worker processes share.
    p = start_proxy(run_dir, mock, MEMCACHED_SERVERS="127.0.0.1:%d" % memcached.port,
                    RESPONSE_CACHE_LRU_MAX="0", MEMCACHED_TIMEOUT_MS="200",
                    PROVIDER_MAX_RETRIES="0")
    yield p
    p.stop()


def test_repeat_nonstream_is_a_hit(cproxy, mock):
    body = user_turn("cache me")
    s1, h1, r1 = cproxy.messages(body)
    assert s1 == 200, r1
    assert h1.get("x-ccproxy-cache") == "miss"
    s2, h2, r2 = cproxy.messages(body)
    assert s2 == 200, r2
    assert h2.get("x-ccproxy-cache") == "hit"
    assert len(mock.requests()) == 1
    a, b = json.loads(r1), json.loads(r2)
    assert b["content"] == a["content"] and b["stop_reason"] == a["stop_reason"]
    assert b["usage"] == a["usage"] and b["model"] == a["model"]
    # the replay carries a fresh message id of the same shape
    assert re.fullmatch(r"msg_[0-9a-f]{24}", b["id"]) and b["id"] != a["id"]
    assert MSG_ID.sub(b"ID", r1) == MSG_ID.sub(b"ID", r2)


def test_repeat_stream_replays_the_stream(cproxy, mock):
    body = user_turn("stream me", stream=True)
    s1, h1, r1 = cproxy.messages(body)
    assert s1 == 200 and h1.get("x-ccproxy-cache") == "miss", r1
    s2, h2, r2 = cproxy.messages(body)
    assert s2 == 200, r2
    assert h2.get("x-ccproxy-cache") == "hit"
    assert h2["content-type"] == h1["content-type"]
    assert h2["content-type"].startswith("text/event-stream")
    assert len(mock.requests()) == 1
    assert MSG_ID.sub(b"ID", r1) == MSG_ID.sub(b"ID", r2)
    events = parse_sse(r2)
    assert events[0][0] == "message_start" and events[-1][0] == "message_stop"
    assert events[0][1]["message"]["id"] != parse_sse(r1)[0][1]["message"]["id"]
    # the non-stream form of the same request is a different entry
    s3, h3, _ = cproxy.messages(user_turn("stream me"))
    assert s3 == 200 and h3.get("x-ccproxy-cache") == "miss"
    assert len(mock.requests()) == 2


def test_set_noreply_stores_without_a_reply(run_dir, mock, memcached):
    """MEMCACHED_SET_NOREPLY=true: stores go out as "set ... noreply"; once
    memcached has read them (the option's documented delay) a repeat of a
    stream and of a plain answer is a hit in either worker process, and a
    refused store (over memcached's 1 MB item limit) breaks nothing after it."""
    p = start_proxy(run_dir, mock, MEMCACHED_SERVERS="127.0.0.1:%d" % memcached.port,
                    RESPONSE_CACHE_LRU_MAX="0", MEMCACHED_SET_NOREPLY="true",
                    RESPONSE_CACHE_MAX_ITEM_BYTES="4194304", PROVIDER_MAX_RETRIES="0")
    try:
        big = "x" * (1536 * 1024)  # an answer memcached refuses: no reply, no harm
        mock.script({"kind": "text", "text": big})
        s, h, _ = p.messages(user_turn("too big"))
        assert s == 200 and h.get("x-ccproxy-cache") == "miss"
        for stream in (True, False):
            body = user_turn("noreply %s" % stream, stream=stream)
            mock.script({"kind": "text", "text": "stored without a reply"})
            s1, h1, r1 = p.messages(body)
            assert s1 == 200 and h1.get("x-ccproxy-cache") == "miss", r1
            calls = len(mock.requests())
            hits = []
            for _ in range(8):  # bounded: the store is read within milliseconds
                time.sleep(0.05)
                s2, h2, r2 = p.messages(body)
                assert s2 == 200, r2
                hits.append(h2.get("x-ccproxy-cache"))
                if hits[-1] == "hit":
                    assert MSG_ID.sub(b"ID", r1) == MSG_ID.sub(b"ID", r2)
            assert hits.count("hit") >= 7, hits
            assert len(mock.requests()) - calls == hits.count("miss")
    finally:
        p.stop()


def test_key_ignores_client_whitespace_and_field_order(cproxy, mock):
    """The key is taken over the translated request, which the proxy writes
    in its own field order without whitespace: the same request sent
    pretty-printed with its fields in another order is a hit; a changed
    value is not."""
    body = user_turn("order and spacing")
    body["temperature"] = 0.5
    body["system"] = [{"type": "text", "text": "be brief"}]
    s1, h1, _ = cproxy.messages(body)
    assert s1 == 200 and h1.get("x-ccproxy-cache") == "miss"
    shuffled = dict(reversed(list(body.items())))
    shuffled["messages"] = [dict(reversed(list(m.items()))) for m in body["messages"]]
    raw = json.dumps(shuffled, indent=3, separators=(" , ", " : ")).encode()
    status, hdrs, _ = cproxy.messages(raw)
    assert status == 200 and hdrs.get("x-ccproxy-cache") == "hit"
    changed = dict(body, temperature=0.25)
    s3, h3, _ = cproxy.messages(changed)
    assert s3 == 200 and h3.get("x-ccproxy-cache") == "miss"
    assert len(mock.requests()) == 2


def test_tenants_are_separate(cproxy, mock):
    body = user_turn("per tenant")
    assert cproxy.messages(body)[1].get("x-ccproxy-cache") == "miss"
    other = {"x-api-key": "sk-ant-another-client-789"}
    s, h, _ = cproxy.messages(body, headers=other)
    assert s == 200 and h.get("x-ccproxy-cache") == "miss"
    assert len(mock.requests()) == 2
    # the same key sent as a Bearer token is the same tenant
    bearer = dict(CLIENT_HEADERS)
    del bearer["x-api-key"]
    bearer["Authorization"] = "Bearer sk-ant-another-client-789"
    s, h, _ = cproxy.request("POST", "/v1/messages", body, bearer)
    assert s == 200 and h.get("x-ccproxy-cache") == "hit"
    assert len(mock.requests()) == 2


def test_no_cache_bypasses(cproxy, mock):
    body = user_turn("bypass me")
    assert cproxy.messages(body)[1].get("x-ccproxy-cache") == "miss"
    s, h, _ = cproxy.messages(body, headers={"Cache-Control": "no-cache"})
    assert s == 200 and h.get("x-ccproxy-cache") == "bypass"
    assert len(mock.requests()) == 2
    s, h, _ = cproxy.messages(body)
    assert s == 200 and h.get("x-ccproxy-cache") == "hit"
    assert len(mock.requests()) == 2


def test_errors_are_never_cached(cproxy, mock):
    body = user_turn("fail first")
    mock.script({"kind": "error", "status": 500})
    s, h, _ = cproxy.messages(body)
    assert s >= 500 and h.get("x-ccproxy-cache") == "miss"
    s, h, _ = cproxy.messages(body)
    assert s == 200 and h.get("x-ccproxy-cache") == "miss"
    # a stream cut before its end is not cached either
    sbody = user_turn("cut stream", stream=True)
    mock.script({"kind": "cut", "chunks": ["partial "]})
    s, _, raw = cproxy.messages(sbody)
    assert s == 200 and parse_sse(raw)[-1][0] == "error"
    s, h, raw = cproxy.messages(sbody)
    assert s == 200 and h.get("x-ccproxy-cache") == "miss"
    assert parse_sse(raw)[-1][0] == "message_stop"
    assert len(mock.requests()) == 4


def test_memcached_down_is_a_miss_then_hits_resume(cproxy, mock, memcached):
    memcached.stop()
    for i in range(2):
        s, h, raw = cproxy.messages(user_turn("while down"))
        assert s == 200, raw
        assert h.get("x-ccproxy-cache") == "miss"
    assert len(mock.requests()) == 2
    memcached.start()
    body = user_turn("after restart")

    # a failed server is left alone for a moment (libmemcached retry timeout):
    # poll until a repeat is a hit, bounded in time and count
    def hit():
        s, h, _ = cproxy.messages(body)
        assert s == 200
        return h.get("x-ccproxy-cache") == "hit"

    wait_until(hit, 15, "cache hits after memcached restarted", step=0.3)


def test_in_process_lru_without_memcached(run_dir, mock):
    env_file = run_dir / "lru.env"
    env_file.write_text("MEMCACHED_SERVERS=\nRESPONSE_CACHE_LRU_MAX=16\n")
    p = Proxy(run_dir, mock.base_url, {"CCPROXY_ENV_FILE": str(env_file), "CCPROXY_PROCS": "1"})
    try:
        body = user_turn("lru only")
        assert p.messages(body)[1].get("x-ccproxy-cache") == "miss"
        s, h, _ = p.messages(body)
        assert s == 200 and h.get("x-ccproxy-cache") == "hit"
        assert len(mock.requests()) == 1
    finally:
        p.stop()


def test_cache_disabled_sends_no_header(run_dir, mock):
    env_file = run_dir / "off.env"
    env_file.write_text("RESPONSE_CACHE_ENABLED=false\n")
    p = Proxy(run_dir, mock.base_url, {"CCPROXY_ENV_FILE": str(env_file)})
    try:
        body = user_turn("no cache at all")
        for _ in range(2):
            s, h, _ = p.messages(body)
            assert s == 200 and "x-ccproxy-cache" not in h
        assert len(mock.requests()) == 2
    finally:
        p.stop()
