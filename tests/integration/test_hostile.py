"""Hostile input, client authentication, upstream URL checks and per-key rate
limits (TESTING.md A6, D5; the hardening issue). Hostile-input cases run with
one worker process and one thread, so every answer comes from the same
worker: after each bad request the next good one must succeed."""

import hashlib
import json
import os
import socket
import subprocess
import time

import pytest

from harness import CLIENT_HEADERS, Proxy, free_port, worker_path

SONNET = "claude-sonnet-4-5-20250929"
GOOD = {"model": SONNET, "max_tokens": 64,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}


def assert_error(status, raw, want_status=None, want_type=None):
    assert 400 <= status <= 499, (status, raw[:300])
    if want_status is not None:
        assert status == want_status, (status, raw[:300])
    body = json.loads(raw)
    assert body["type"] == "error", body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if want_type is not None:
        assert body["error"]["type"] == want_type, body
    return body


@pytest.fixture
def one_worker(run_dir, mock):
    p = Proxy(run_dir, mock.base_url, {"WORKER_THREADS": "1", "CCPROXY_PROCS": "1",
                                        "MAX_REQUEST_BODY_BYTES": str(16 << 20),
                                        "MAX_JSON_DEPTH": "32"})
    yield p
    p.stop()


def raw_post(proxy, body, headers):
    """POST raw bytes with exactly these headers (no defaults added)."""
    conn = proxy.conn(60)
    try:
        conn.request("POST", "/v1/messages", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


JSON_CT = {"Content-Type": "application/json", "x-api-key": CLIENT_HEADERS["x-api-key"]}

HOSTILE = [
    ("malformed", b'{"model": "x", "messages": [', 400),
    ("not-json", b"hello world", 400),
    ("trailing-garbage", json.dumps(GOOD).encode() + b" xyz", 400),
    ("array-root", b"[1,2,3]", 400),
    ("messages-wrong-type", json.dumps({"model": SONNET, "max_tokens": 5,
                                        "messages": "hi"}).encode(), 400),
    ("model-wrong-type", json.dumps({"model": 5, "max_tokens": 5,
                                     "messages": GOOD["messages"]}).encode(), 400),
    ("content-wrong-type", json.dumps({"model": SONNET, "max_tokens": 5,
                                       "messages": [{"role": "user", "content": 7}]}).encode(),
     400),
    ("invalid-utf8", b'{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user",'
                     b'"content":"\xff\xfe bad"}]}', 400),
    ("overlong-utf8", b'{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user",'
                      b'"content":"\xc0\xaf"}]}', 400),
    ("ten-mb-string", b'{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user",'
                      b'"content":"' + b"a" * (10 << 20) + b'"}]}', 400),
    ("deep-nesting", b'{"model":"m","max_tokens":5,"metadata":' + b"[" * 5000 + b"]" * 5000
     + b',"messages":[]}', 400),
    ("empty-body", b"", 400),
    ("truncated-json", json.dumps(GOOD).encode()[:-7], 400),
    ("nul-byte", b'{"model":"m"\x00,"messages":[]}', 400),
    ("huge-number", b'{"model":"m","max_tokens":1e999999,"messages":[]}', 400),
]


@pytest.mark.parametrize("name,body,want", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_body_then_next_request_works(one_worker, mock, name, body, want):
    status, raw = raw_post(one_worker, body, JSON_CT)
    assert_error(status, raw, want)
    status, _, raw = one_worker.messages(GOOD)
    assert status == 200, raw[:300]
    assert json.loads(raw)["type"] == "message"


def test_wrong_content_type_is_415(one_worker, mock):
    status, raw = raw_post(one_worker, json.dumps(GOOD).encode(),
                           {"Content-Type": "text/plain", "x-api-key": "k"})
    assert_error(status, raw, 415, "invalid_request_error")
    status, raw = raw_post(one_worker, json.dumps(GOOD).encode(),
                           {"Content-Type": "application/json; charset=utf-8", "x-api-key": "k"})
    assert status == 200, raw[:300]
    assert mock.requests(), "the accepted request reached the upstream"


def test_duplicate_keys_last_one_wins(one_worker, mock):
    body = (b'{"model":"claude-3-5-haiku-20241022","model":"' + SONNET.encode()
            + b'","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}')
    status, raw = raw_post(one_worker, body, JSON_CT)
    assert status == 200, raw[:300]
    sent = mock.requests()[-1]["body"]
    assert sent["model"] == "gpt-mock-big", sent["model"]


def test_body_over_limit_is_413_and_truncated_body_is_refused(one_worker, mock):
    status, raw = raw_post(one_worker, b"{" + b" " * (17 << 20) + b"}", JSON_CT)
    assert_error(status, raw, 413, "request_too_large")
    # Content-Length says more than arrives: the client gives up half way
    s = socket.create_connection(("127.0.0.1", one_worker.port), timeout=5)
    try:
        s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"model\":")
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
    finally:
        s.close()
    t0 = time.monotonic()
    status, _, raw = one_worker.messages(GOOD, timeout=15)
    assert status == 200, raw[:300]
    assert time.monotonic() - t0 < 5


def test_count_limits_from_config(run_dir, mock):
    p = Proxy(run_dir, mock.base_url, {"MAX_MESSAGES": "3", "MAX_CONTENT_BLOCKS": "4",
                                        "MAX_STRING_BYTES": "1000"})
    try:
        msgs = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}] * 2
        status, _, raw = p.messages({"model": SONNET, "max_tokens": 5, "messages": msgs})
        assert "MAX_MESSAGES" in assert_error(status, raw, 400)["error"]["message"]
        blocks = [{"type": "text", "text": "x"}] * 5
        status, _, raw = p.messages({"model": SONNET, "max_tokens": 5,
                                     "messages": [{"role": "user", "content": blocks}]})
        assert "MAX_CONTENT_BLOCKS" in assert_error(status, raw, 400)["error"]["message"]
        status, _, raw = p.messages({"model": SONNET, "max_tokens": 5,
                                     "messages": [{"role": "user", "content": "y" * 1001}]})
        assert "MAX_STRING_BYTES" in assert_error(status, raw, 400)["error"]["message"]
        status, _, raw = p.request("POST", "/v1/messages/count_tokens",
                                   {"model": SONNET, "messages": msgs}, CLIENT_HEADERS)
        assert_error(status, raw, 400)
        assert mock.requests() == []
        status, _, raw = p.messages({"model": SONNET, "max_tokens": 5,
                                     "messages": [{"role": "user", "content": "y" * 1000}]})
        assert status == 200, raw[:300]
    finally:
        p.stop()


# ---- client authentication --------------------------------------------------

def test_client_keys_required_when_configured(run_dir, mock):
    keyfile = run_dir / "keys.sha256"
    file_key = "sk-file-key-789"
    keyfile.write_text("# accepted keys\n\n%s\n" % hashlib.sha256(file_key.encode()).hexdigest())
    p = Proxy(run_dir, mock.base_url, {"CLIENT_API_KEYS": "sk-one, sk-two-secret",
                                        "CLIENT_API_KEYS_FILE": str(keyfile)})
    try:
        no_key = {k: v for k, v in CLIENT_HEADERS.items() if k != "x-api-key"}
        status, _, raw = p.request("POST", "/v1/messages", GOOD, no_key)
        assert_error(status, raw, 401, "authentication_error")
        status, _, raw = p.messages(GOOD, headers={"x-api-key": "sk-two-secreT"})
        assert_error(status, raw, 401, "authentication_error")
        status, _, raw = p.request("GET", "/v1/models", None, no_key)
        assert_error(status, raw, 401, "authentication_error")
        status, _, raw = p.request("POST", "/v1/messages/count_tokens", GOOD, no_key)
        assert_error(status, raw, 401, "authentication_error")
        assert mock.requests() == [], "an unauthenticated request reached the upstream"
        for hdrs in ({"x-api-key": "sk-two-secret"}, {"x-api-key": file_key},
                     {"x-api-key": "", "Authorization": "Bearer sk-one"}):
            h = dict(no_key)
            h.update(hdrs)
            status, _, raw = p.request("POST", "/v1/messages", GOOD, h)
            assert status == 200, (hdrs, raw[:300])
        # probes stay open
        for path in ("/", "/health"):
            status, _, _ = p.request("GET", path, None, {})
            assert status == 200
        status, _, _ = p.request("HEAD", "/health", None, {})
        assert status == 200
        log = p.error_log()
        for secret in ("sk-two-secret", "sk-one", file_key, "sk-two-secreT"):
            assert secret not in log, "a client key was logged"
    finally:
        p.stop()


def check_config(env_extra):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CCPROXY_ENV_FILE": "/dev/null",
           "OPENAI_API_KEY": "sk-x"}
    env.update(env_extra)
    r = subprocess.run([str(worker_path()), "--check-config"], env=env, capture_output=True,
                       timeout=30, text=True)
    return r.returncode, r.stdout + r.stderr


def test_base_url_checked_at_start():
    bad = {
        "ftp://api.openai.com/v1": "http",
        "https://user:hunter2@api.openai.com/v1": "user name or password",
        "https://api.openai.com/v1#frag": "fragment",
        "https://api.openai.com/v1?x=1": "query",
        "https:///v1": "no host",
        "http://:8080/v1": None,
    }
    for url, words in bad.items():
        rc, out = check_config({"OPENAI_BASE_URL": url})
        assert rc != 0, (url, out)
        assert "OPENAI_BASE_URL" in out, out
        assert "hunter2" not in out, "a password in the URL was printed"
        if words:
            assert words in out, (url, out)
    rc, out = check_config({"OPENAI_BASE_URL": "https://evil.example/v1",
                            "RESTRICT_BASE_URL": "true"})
    assert rc != 0 and "ALLOWED_BASE_URL_HOSTS" in out, out
    for url in ("https://api.openai.com/v1", "http://127.0.0.1:9/v1"):
        rc, out = check_config({"OPENAI_BASE_URL": url, "RESTRICT_BASE_URL": "true"})
        assert rc == 0, (url, out)
    rc, out = check_config({"OPENAI_BASE_URL": "https://gw.internal/v1",
                            "RESTRICT_BASE_URL": "true",
                            "ALLOWED_BASE_URL_HOSTS": "a.example, gw.internal"})
    assert rc == 0, out
    rc, out = check_config({"CLIENT_API_KEYS_FILE": "/nonexistent/keys"})
    assert rc != 0 and "CLIENT_API_KEYS_FILE" in out, out


def test_redirect_from_upstream_not_followed(proxy, mock):
    target = "http://127.0.0.1:%d/v1/chat/completions" % mock.port
    mock.script({"kind": "raw", "status": 307, "headers": {"Location": target},
                 "chunks": ["moved"]})
    status, _, raw = proxy.messages(GOOD)
    assert 400 <= status <= 599 and status not in (301, 302, 307, 308), (status, raw[:300])
    assert json.loads(raw)["type"] == "error"
    assert len(mock.requests()) == 1, "the redirect was followed"


# ---- rate limits --------------------------------------------------------------

def away_from_minute_end():
    """Counters use one-minute windows: do not start a test in a window's last seconds."""
    left = 60 - time.time() % 60
    if left < 8:
        time.sleep(left + 0.2)


def test_rate_limit_per_key_across_workers(run_dir, mock, memcached):
    p = Proxy(run_dir, mock.base_url, {"RATE_LIMIT_ENABLED": "true",
                                        "RATE_LIMIT_PER_MINUTE": "3", "RATE_LIMIT_BURST": "0",
                                        "MEMCACHED_SERVERS": "127.0.0.1:%d" % memcached.port,
                                        "CCPROXY_PROCS": "2", "WORKER_THREADS": "1",
                                        "RESPONSE_CACHE_ENABLED": "false"})
    try:
        away_from_minute_end()
        for i in range(3):
            status, _, raw = p.messages(GOOD, headers={"x-api-key": "sk-limited"})
            assert status == 200, (i, raw[:300])
        status, headers, raw = p.messages(GOOD, headers={"x-api-key": "sk-limited"})
        assert_error(status, raw, 429, "rate_limit_error")
        assert 1 <= int(headers["retry-after"]) <= 60
        status, _, raw = p.messages(GOOD, headers={"x-api-key": "sk-other"})
        assert status == 200, raw[:300]
        assert len(mock.requests()) == 4
        assert "sk-limited" not in p.error_log()
    finally:
        p.stop()


def test_rate_limit_burst_and_tokens(run_dir, mock, memcached):
    p = Proxy(run_dir, mock.base_url, {"RATE_LIMIT_ENABLED": "true",
                                        "RATE_LIMIT_PER_MINUTE": "1000", "RATE_LIMIT_BURST": "2",
                                        "RATE_LIMIT_TOKENS_PER_MINUTE": "1",
                                        "MEMCACHED_SERVERS": "127.0.0.1:%d" % memcached.port})
    try:
        away_from_minute_end()
        # burst: 2 per second; bursts are per key, tokens too
        statuses = []
        for _ in range(3):
            s, h, raw = p.request("GET", "/v1/models", None, {"x-api-key": "sk-burst"})
            statuses.append(s)
        assert 429 in statuses, statuses
        # tokens: the first request uses up the minute's single token
        status, _, raw = p.messages(GOOD, headers={"x-api-key": "sk-tokens"})
        assert status == 200, raw[:300]
        time.sleep(1.1)  # out of the one-second burst window
        status, headers, raw = p.messages(GOOD, headers={"x-api-key": "sk-tokens"})
        body = assert_error(status, raw, 429, "rate_limit_error")
        assert "TOKENS" in body["error"]["message"]
    finally:
        p.stop()


def test_rate_limit_fails_open_without_memcached(run_dir, mock):
    p = Proxy(run_dir, mock.base_url, {"RATE_LIMIT_ENABLED": "true",
                                        "RATE_LIMIT_PER_MINUTE": "1", "RATE_LIMIT_BURST": "0",
                                        "MEMCACHED_SERVERS": "127.0.0.1:%d" % free_port(),
                                        "MEMCACHED_TIMEOUT_MS": "50"})
    try:
        for _ in range(3):
            t0 = time.monotonic()
            status, _, raw = p.messages(GOOD)
            assert status == 200, raw[:300]
            assert time.monotonic() - t0 < 2
    finally:
        p.stop()
