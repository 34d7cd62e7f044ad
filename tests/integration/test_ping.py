"""SSE pings: once a stream has started, a silent upstream (long reasoning)
gives the client `event: ping` every PING_INTERVAL_S seconds, between whole
events, and the stream is otherwise the same."""

import json
import socket
import time

import pytest

from harness import CLIENT_HEADERS, Proxy, parse_sse

PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def stream_body(text):
    return {"model": "claude-sonnet-4-5-20250929", "max_tokens": 100, "stream": True,
            "messages": [{"role": "user", "content": text}]}


def read_timed(proxy, body, timeout=30):
    """POST a stream over a raw socket; (head bytes, [(t, chunk bytes)])."""
    data = json.dumps(body).encode()
    hdrs = "".join("%s: %s\r\n" % kv for kv in CLIENT_HEADERS.items())
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)
    try:
        sock.sendall(("POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                      "Content-Type: application/json\r\n%sContent-Length: %d\r\n\r\n"
                      % (hdrs, len(data))).encode() + data)
        got, t0, raw = [], time.monotonic(), b""
        while time.monotonic() - t0 < timeout:
            b = sock.recv(65536)
            if not b:
                break
            got.append((time.monotonic() - t0, b))
            raw += b
    finally:
        sock.close()
    return raw, got


def dechunk(body):
    """HTTP/1.1 chunked body -> bytes (lighttpd streams the answer chunked)."""
    out, pos = b"", 0
    while True:
        nl = body.index(b"\r\n", pos)
        size = int(body[pos:nl].split(b";")[0], 16)
        if size == 0:
            return out
        out += body[nl + 2:nl + 2 + size]
        pos = nl + 2 + size + 2


@pytest.fixture
def ping_proxy(run_dir, mock):
    p = Proxy(run_dir, mock.base_url, {"PING_INTERVAL_S": "1"})
    yield p
    p.stop()


def test_pings_while_upstream_silent(ping_proxy, mock):
    # role chunk, "Hello", 2.5 s of silence, then the rest
    mock.script({"kind": "text", "chunks": ["Hello", " after", " the pause."],
                 "pauses": {"2": 2.5}})
    raw, got = read_timed(ping_proxy, stream_body("think long"))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    text = body.decode()
    events = parse_sse(body)
    kinds = [n for n, _ in events]
    # the stream is intact: one message, the whole text, a proper end
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop", kinds
    deltas = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert deltas == "Hello after the pause."
    assert "error" not in kinds
    # pings inside the pause: after the "Hello" delta, before " after"
    first = text.index('"text":"Hello"')
    later = text.index('"text":" after"')
    pings = text.count(PING.decode(), first, later)
    assert 1 <= pings <= 4, text
    # every event is whole: the body splits into well-formed events only
    for block in text.split("\n\n")[:-1]:
        lines = block.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), block
    # and the pings arrived during the pause, not all at the end
    t_first_ping = None
    seen = b""
    for t, b in got:
        seen += b
        if t_first_ping is None and seen.count(b'"type":"ping"') > 1:  # 1: after message_start
            t_first_ping = t
    t_end = got[-1][0]
    assert t_first_ping is not None and t_first_ping < t_end - 0.5, (t_first_ping, t_end)


def test_no_pings_when_upstream_keeps_talking(ping_proxy, mock):
    mock.script({"kind": "text", "chunks": ["a", "b", "c", "d"], "delay": 0.3})
    raw, _ = read_timed(ping_proxy, stream_body("quick"))
    # only the ping that follows message_start (as Anthropic sends it)
    assert raw.count(b'"type":"ping"') == 1, raw
