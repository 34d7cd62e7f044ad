"""Upstream retries through lighttpd and the worker: only before any byte
reached the client, only on connect failures, resets and 502/503/504, with
backoff and a capped retry-after; 429 and 4xx go straight back."""

import json
import subprocess
import time

import pytest

from harness import UPSTREAM_KEY, Proxy, free_port, wait_until, worker_path

SONNET = "claude-sonnet-4-5-20250929"


def user_turn(text, stream=False):
    return {"model": SONNET, "max_tokens": 1024, "stream": stream,
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}


def start_proxy(run_dir, base_url, **conf):
    env_file = run_dir / "retry.env"
    base = {"RESPONSE_CACHE_ENABLED": "false", "PROVIDER_MAX_RETRIES": "3",
            "PROVIDER_RETRY_BASE_DELAY": "0.1", "PROVIDER_RETRY_JITTER": "0",
            "PROVIDER_RETRY_AFTER_MAX_S": "2", "MEMCACHED_SERVERS": ""}
    base.update(conf)
    env_file.write_text("".join("%s=%s\n" % kv for kv in base.items()))
    return Proxy(run_dir, base_url, {"CCPROXY_ENV_FILE": str(env_file)})


@pytest.fixture
def rproxy(run_dir, mock):
    p = start_proxy(run_dir, mock.base_url)
    yield p
    p.stop()


@pytest.mark.parametrize("stream", [False, True])
def test_503_twice_then_success(rproxy, mock, stream):
    mock.script({"kind": "error", "status": 503}, {"kind": "error", "status": 502})
    status, _, raw = rproxy.messages(user_turn("retry me", stream=stream))
    assert status == 200, raw
    assert len(mock.requests()) == 3
    if stream:
        assert b"event: message_stop" in raw
    else:
        assert json.loads(raw)["type"] == "message"


def test_retries_run_out(rproxy, mock):
    mock.script(*[{"kind": "error", "status": 504}] * 4)
    t0 = time.monotonic()
    status, _, raw = rproxy.messages(user_turn("always failing"))
    elapsed = time.monotonic() - t0
    assert status in (504, 529), raw  # the error map may call it overloaded
    assert json.loads(raw)["type"] == "error"
    assert len(mock.requests()) == 4  # the first attempt and PROVIDER_MAX_RETRIES=3
    assert elapsed >= 0.1 + 0.2 + 0.4 - 0.05  # exponential backoff from 0.1 s


def test_429_goes_straight_back(rproxy, mock):
    mock.script({"kind": "error", "status": 429, "retry_after": "1"})
    status, headers, raw = rproxy.messages(user_turn("rate limited"))
    assert status == 429, raw
    assert headers.get("retry-after") == "1"
    assert len(mock.requests()) == 1


def test_4xx_is_not_retried(rproxy, mock):
    mock.script({"kind": "error", "status": 400})
    status, _, raw = rproxy.messages(user_turn("bad request"))
    assert status == 400, raw
    assert len(mock.requests()) == 1


def test_retry_after_is_honoured(rproxy, mock):
    mock.script({"kind": "error", "status": 503, "retry_after": "1"})
    t0 = time.monotonic()
    status, _, raw = rproxy.messages(user_turn("wait for it"))
    assert status == 200, raw
    reqs = mock.requests()
    assert len(reqs) == 2
    assert reqs[1]["time"] - reqs[0]["time"] >= 0.95
    assert time.monotonic() - t0 < 5


def test_retry_after_over_the_cap_goes_back(rproxy, mock):
    mock.script({"kind": "error", "status": 503, "retry_after": "30"})
    t0 = time.monotonic()
    status, headers, raw = rproxy.messages(user_turn("too long to wait"))
    assert status in (503, 529), raw
    assert headers.get("retry-after") == "30"
    assert len(mock.requests()) == 1
    assert time.monotonic() - t0 < 2


def test_429_retried_when_configured(run_dir, mock):
    p = start_proxy(run_dir, mock.base_url, PROVIDER_RETRY_ON_429="true")
    try:
        mock.script({"kind": "error", "status": 429, "retry_after": "0"})
        status, _, raw = p.messages(user_turn("retry the 429"))
        assert status == 200, raw
        assert len(mock.requests()) == 2
    finally:
        p.stop()


def test_connect_refused_gives_502_after_retries(run_dir):
    dead = "http://127.0.0.1:%d/v1" % free_port()  # nothing listens there
    p = start_proxy(run_dir, dead, PROVIDER_MAX_RETRIES="2")
    try:
        t0 = time.monotonic()
        status, _, raw = p.messages(user_turn("nobody home"))
        elapsed = time.monotonic() - t0
        assert status == 502, raw
        assert json.loads(raw)["error"]["type"] == "api_error"
        assert 0.3 - 0.05 <= elapsed < 5  # 0.1 s + 0.2 s of backoff, no more
        wait_until(lambda: "attempts=3" in p.proc.output(), 5, "the summary log line")
    finally:
        p.stop()


def test_client_leaving_ends_the_wait(run_dir, mock):
    """A client that goes away during a long retry-after wait ends the wait:
    the retry never reaches the upstream. lighttpd does not pass on a client
    that leaves before the answer starts, so the worker runs here as plain
    CGI with its answer on a pipe whose reader closes."""
    mock.script({"kind": "error", "status": 503, "retry_after": "3"})
    env_file = run_dir / "cgi.env"
    env_file.write_text("RESPONSE_CACHE_ENABLED=false\nPROVIDER_RETRY_AFTER_MAX_S=5\n")
    body = json.dumps(user_turn("leaving")).encode()
    env = {"PATH": "/usr/bin:/bin", "CCPROXY_ENV_FILE": str(env_file),
           "OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": mock.base_url,
           "REQUEST_METHOD": "POST", "REQUEST_URI": "/v1/messages",
           "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
           "HTTP_X_API_KEY": "sk-ant-x", "LOG_LEVEL": "INFO"}
    log = open(run_dir / "cgi.log", "wb")
    proc = subprocess.Popen(["timeout", "30", str(worker_path())], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
    try:
        proc.stdin.write(body)
        proc.stdin.close()
        wait_until(lambda: len(mock.requests()) == 1, 5, "the first attempt")
        time.sleep(0.3)
        t0 = time.monotonic()
        proc.stdout.close()  # the client leaves
        proc.wait(timeout=10)
        assert time.monotonic() - t0 < 1.5, "the worker waited out the retry-after"
        assert len(mock.requests()) == 1
        assert b"client=gone" in (run_dir / "cgi.log").read_bytes()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
