"""The mock upstream itself: what the other tests rely on it to do."""

import http.client
import json
import socket
import time

from harness import wait_until


def post(mock, body, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=timeout)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps(body),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def sse_chunks(raw):
    out = []
    for block in raw.decode().split("\n\n"):
        if block.startswith("data: "):
            payload = block[len("data: "):]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


BASH = {"type": "function", "function": {"name": "Bash", "parameters": {"type": "object"}}}


def test_auto_tool_loop(mock):
    status, _, raw = post(mock, {"model": "m", "stream": True, "tools": [BASH],
                                 "stream_options": {"include_usage": True},
                                 "messages": [{"role": "user", "content": [
                                     {"type": "text", "text": "<reminder>x</reminder>"},
                                     {"type": "text", "text": "go RUN_BASH:echo hi there"}]},
                                     {"role": "system", "content": "environment"}]})
    assert status == 200
    chunks = sse_chunks(raw)
    assert chunks[-1] == "[DONE]"
    assert chunks[-2]["choices"] == [] and chunks[-2]["usage"]["total_tokens"] > 0
    assert chunks[-3]["choices"][0]["finish_reason"] == "tool_calls"
    frags = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[:-2]
             if c["choices"] and "tool_calls" in c["choices"][0]["delta"]]
    assert frags[0]["id"] == "call_mock_1" and frags[0]["function"]["name"] == "Bash"
    assert all("id" not in f for f in frags[1:]) and len(frags) >= 3
    args = "".join(f["function"]["arguments"] for f in frags)
    assert json.loads(args) == {"command": "echo hi there"}
    status, _, raw = post(mock, {"model": "m", "messages": [
        {"role": "tool", "tool_call_id": "call_mock_1", "content": "hi there\n"}]})
    assert json.loads(raw)["choices"][0]["message"]["content"] == "The command printed: hi there"
    assert [r["seq"] for r in mock.requests()] == [1, 2]


def test_scripted_error_then_auto(mock):
    mock.script({"kind": "error", "status": 429, "retry_after": "4"})
    status, headers, raw = post(mock, {"model": "m", "messages": []})
    assert status == 429 and headers.get("retry-after") == "4"
    assert json.loads(raw)["error"]["code"] == "rate_limit_exceeded"
    status, _, raw = post(mock, {"model": "m", "messages": []})
    assert status == 200


def test_cut_and_client_close_are_recorded(mock):
    mock.script({"kind": "cut", "chunks": ["a", "b"]})
    try:
        post(mock, {"model": "m", "stream": True, "messages": []})
        raise AssertionError("a cut stream must not read as complete")
    except http.client.IncompleteRead:
        pass
    mock.script({"kind": "slow", "count": 100, "delay": 0.1})
    body = json.dumps({"model": "m", "stream": True, "messages": []}).encode()
    sock = socket.create_connection(("127.0.0.1", mock.port), timeout=5)
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))
    assert sock.recv(4096)
    sock.close()
    t0 = time.monotonic()
    wait_until(lambda: len(mock.streams()) == 2, 2, "the mock to notice the close")
    assert time.monotonic() - t0 < 1.0
    assert [s["state"] for s in mock.streams()] == ["cut", "client_closed"]
