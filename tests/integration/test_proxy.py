"""Integration tests (TESTING.md D1, D5, D6): client -> lighttpd (top-level
lighttpd.conf) -> ccproxy-fcgi -> mock OpenAI upstream, all on 127.0.0.1."""

import json
import socket
import time

from harness import (BIG_MODEL, CLIENT_HEADERS, SMALL_MODEL, UPSTREAM_KEY, parse_sse,
                      wait_until)

SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-3-5-haiku-20241022"

BASH_TOOL = {
    "name": "Bash",
    "description": "Run a shell command.",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}, "description": {"type": "string"}},
        "required": ["command"],
    },
}
READ_TOOL = {
    "name": "Read",
    "description": "Read a file.",
    "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}},
                     "required": ["file_path"]},
}


def text_of(content):
    """Text of an OpenAI message content: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def header_names(record):
    return {k.lower() for k, _ in record["headers"]}


def header(record, name):
    for k, v in record["headers"]:
        if k.lower() == name:
            return v
    return None


def only_request(mock):
    reqs = mock.requests()
    assert len(reqs) == 1, "mock got %d requests: %r" % (len(reqs), [r["path"] for r in reqs])
    return reqs[0]


def user_turn(text, model=SONNET, stream=False, **extra):
    body = {"model": model, "max_tokens": 1024, "stream": stream,
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}
    body.update(extra)
    return body


def events_of(status, headers, raw):
    assert status == 200, raw[:500]
    assert headers.get("content-type", "").startswith("text/event-stream")
    return parse_sse(raw)


def names(events):
    return [n for n, _ in events if n != "ping"]


# ---- probes ---------------------------------------------------------------

def test_health_probes_models_and_404(proxy, mock):
    status, _, body = proxy.request("GET", "/health")
    assert status == 200, body
    for path in ("/", "/api/hello"):
        status, _, body = proxy.request("HEAD", path)
        assert status == 200, path
        assert body == b""
    status, headers, body = proxy.request("GET", "/v1/models?limit=1000", headers=CLIENT_HEADERS)
    assert status == 200, body
    models = json.loads(body)
    assert isinstance(models.get("data"), list) and models["data"], models
    assert all(isinstance(m.get("id"), str) for m in models["data"])
    status, headers, body = proxy.request("GET", "/v1/no-such-thing")
    assert status == 404
    err = json.loads(body)
    assert err["type"] == "error" and isinstance(err["error"].get("type"), str), err
    assert mock.requests() == [], "probes must not reach the upstream"


# ---- non-streaming --------------------------------------------------------

def test_nonstream_text_exact_upstream_request(proxy, mock):
    mock.script({"kind": "text", "text": "Hello there, friend."})
    body = user_turn("Say hi", system="You are terse.", temperature=0.5)
    status, headers, raw = proxy.messages(body)
    assert status == 200, raw
    rec = only_request(mock)
    assert rec["method"] == "POST" and rec["path"] == "/v1/chat/completions"
    up = rec["body"]
    assert up["model"] == BIG_MODEL
    assert not up.get("stream")
    assert up["messages"][0]["role"] == "system"
    assert text_of(up["messages"][0]["content"]) == "You are terse."
    assert up["messages"][-1]["role"] == "user"
    assert text_of(up["messages"][-1]["content"]) == "Say hi"
    assert up.get("temperature") == 0.5
    sent = header_names(rec)
    for h in ("anthropic-beta", "x-api-key", "anthropic-version", "x-app"):
        assert h not in sent, "%s forwarded upstream" % h
    assert header(rec, "authorization") == "Bearer " + UPSTREAM_KEY
    msg = json.loads(raw)
    assert msg["type"] == "message" and msg["role"] == "assistant"
    assert msg["model"] == SONNET
    assert msg["content"] == [{"type": "text", "text": "Hello there, friend."}]
    assert msg["stop_reason"] == "end_turn"
    assert msg["usage"]["input_tokens"] > 0 and msg["usage"]["output_tokens"] > 0


def test_haiku_maps_to_small_model(proxy, mock):
    status, _, raw = proxy.messages(user_turn("hi", model=HAIKU))
    assert status == 200, raw
    assert only_request(mock)["body"]["model"] == SMALL_MODEL
    assert json.loads(raw)["content"][0]["text"] == "Hello from the mock upstream."


def test_beta_query_string_accepted(proxy, mock):
    status, _, raw = proxy.messages(user_turn("hi"), path="/v1/messages?beta=true")
    assert status == 200, raw
    assert json.loads(raw)["type"] == "message"
    assert only_request(mock)["path"] == "/v1/chat/completions"


def test_two_megabyte_body_accepted(proxy, mock):
    big = "0123456789abcdef" * (2 * 1024 * 1024 // 16)
    status, _, raw = proxy.messages(user_turn("Summarise: " + big), timeout=60)
    assert status == 200, raw[:500]
    rec = only_request(mock)
    assert rec["body_bytes"] > 2 * 1024 * 1024
    assert big in text_of(rec["body"]["messages"][-1]["content"])


def test_count_tokens_is_local(proxy, mock):
    body = {"model": SONNET, "messages": [{"role": "user", "content": "Count these words please"}],
            "system": "You are terse.", "tools": [BASH_TOOL]}
    status, _, raw = proxy.messages(body, path="/v1/messages/count_tokens?beta=true")
    assert status == 200, raw
    n = json.loads(raw)["input_tokens"]
    assert isinstance(n, int) and n > 0
    assert mock.requests() == []


# ---- streaming ------------------------------------------------------------

def test_stream_text_event_order(proxy, mock):
    chunks = ["Hel", "lo, ", "stream", "ing ", "world."]
    mock.script({"kind": "text", "chunks": chunks})
    status, headers, raw = proxy.messages(user_turn("hi", stream=True))
    events = events_of(status, headers, raw)
    seq = names(events)
    assert seq[0] == "message_start"
    assert seq[1] == "content_block_start"
    assert seq[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(seq[2:-3]) == {"content_block_delta"}
    start = events[[n for n, _ in events].index("content_block_start")][1]
    assert start["content_block"]["type"] == "text"
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text == "".join(chunks)
    delta = [d for n, d in events if n == "message_delta"][0]
    assert delta["delta"]["stop_reason"] == "end_turn"
    for n, d in events:
        assert d["type"] == n, "event name and data type differ"
    rec = only_request(mock)
    assert rec["body"]["stream"] is True and rec["body"]["model"] == BIG_MODEL


def test_stream_first_event_not_buffered(proxy, mock):
    """Events reach the client as the upstream sends them (stream-response-body).
    The mock pauses 0.4 s before each chunk after its first: the first text goes
    out at 0.4 s, the last at 1.6 s."""
    mock.script({"kind": "slow", "chunks": ["one ", "two ", "three ", "four"], "delay": 0.4})
    conn = proxy.conn()
    conn.request("POST", "/v1/messages", body=json.dumps(user_turn("hi", stream=True)),
                 headers=dict(CLIENT_HEADERS, **{"Content-Type": "application/json"}))
    t0 = time.monotonic()
    resp = conn.getresponse()
    assert resp.status == 200
    arrivals = []
    while True:
        line = resp.readline()
        if not line:
            break
        if b"text_delta" in line:
            arrivals.append(time.monotonic() - t0)
    conn.close()
    assert len(arrivals) == 4
    assert arrivals[0] < 0.4 + 0.2, "first text delta after %.2f s: buffered" % arrivals[0]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert min(gaps) > 0.25, "deltas arrived together %r: response is buffered" % gaps


def test_stream_tool_call(proxy, mock):
    args = {"command": "ls -la /tmp | head -n 3", "description": "List \"tmp\" files"}
    mock.script({"kind": "tool_calls", "text": "Let me look.",
                 "calls": [{"id": "call_abc123", "name": "Bash", "arguments": args,
                            "fragments": 5}]})
    status, headers, raw = proxy.messages(user_turn("list tmp", stream=True, tools=[BASH_TOOL]))
    events = events_of(status, headers, raw)
    starts = [d for n, d in events if n == "content_block_start"]
    tool_starts = [d for d in starts if d["content_block"]["type"] == "tool_use"]
    assert len(tool_starts) == 1
    block = tool_starts[0]
    assert block["content_block"]["id"] == "call_abc123"
    assert block["content_block"]["name"] == "Bash"
    parts = [d["delta"]["partial_json"] for n, d in events
             if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
             and d["index"] == block["index"]]
    assert len(parts) >= 1
    assert json.loads("".join(parts)) == args
    text = "".join(d["delta"]["text"] for n, d in events
                   if n == "content_block_delta" and d["delta"]["type"] == "text_delta")
    assert text == "Let me look."
    delta = [d for n, d in events if n == "message_delta"][0]
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert names(events)[-1] == "message_stop"
    up = only_request(mock)["body"]
    assert [t["function"]["name"] for t in up["tools"]] == ["Bash"]


def test_stream_parallel_tool_calls(proxy, mock):
    a = {"command": "echo one"}
    b = {"file_path": "/etc/hostname"}
    # OpenAI sends parallel calls one after the other, each by its index.
    mock.script({"kind": "tool_calls",
                 "calls": [{"id": "call_one", "name": "Bash", "arguments": a, "fragments": 3},
                           {"id": "call_two", "name": "Read", "arguments": b, "fragments": 4}]})
    status, headers, raw = proxy.messages(
        user_turn("both", stream=True, tools=[BASH_TOOL, READ_TOOL]))
    events = events_of(status, headers, raw)
    blocks = {}
    for n, d in events:
        if n == "content_block_start" and d["content_block"]["type"] == "tool_use":
            blocks[d["index"]] = {"id": d["content_block"]["id"],
                                  "name": d["content_block"]["name"], "json": ""}
        elif n == "content_block_delta" and d["delta"]["type"] == "input_json_delta":
            blocks[d["index"]]["json"] += d["delta"]["partial_json"]
    got = sorted((v["id"], v["name"], json.loads(v["json"])) for v in blocks.values())
    assert got == [("call_one", "Bash", a), ("call_two", "Read", b)]
    assert len(set(blocks)) == 2
    # A block is opened and closed once; no index is reused.
    start_idx = [d["index"] for n, d in events if n == "content_block_start"]
    stop_idx = [d["index"] for n, d in events if n == "content_block_stop"]
    assert sorted(start_idx) == sorted(stop_idx) and len(set(start_idx)) == len(start_idx)
    assert [d for n, d in events if n == "message_delta"][0]["delta"]["stop_reason"] == "tool_use"


def test_tool_result_followup(proxy, mock):
    tool_input = {"command": "ls"}
    body = {
        "model": SONNET, "max_tokens": 1024, "stream": False, "tools": [BASH_TOOL],
        "messages": [
            {"role": "user", "content": "list files and read one"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Running both."},
                {"type": "tool_use", "id": "toolu_A", "name": "Bash", "input": tool_input},
                {"type": "tool_use", "id": "toolu_B", "name": "Read",
                 "input": {"file_path": "/x"}}]},
            # Results in the order the tools finished: B before A.
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_B", "content": "contents of x"},
                {"type": "tool_result", "tool_use_id": "toolu_A",
                 "content": [{"type": "text", "text": "file1\nfile2"}]}]},
        ],
    }
    status, _, raw = proxy.messages(body)
    assert status == 200, raw
    msgs = only_request(mock)["body"]["messages"]
    roles = [m["role"] for m in msgs]
    i = roles.index("assistant")
    asst = msgs[i]
    calls = asst["tool_calls"]
    assert [c["id"] for c in calls] == ["toolu_A", "toolu_B"]
    assert calls[0]["function"]["name"] == "Bash"
    assert json.loads(calls[0]["function"]["arguments"]) == tool_input
    assert "Running both." in text_of(asst.get("content"))
    assert roles[i + 1:i + 3] == ["tool", "tool"]
    assert msgs[i + 1]["tool_call_id"] == "toolu_B"
    assert "contents of x" in text_of(msgs[i + 1]["content"])
    assert msgs[i + 2]["tool_call_id"] == "toolu_A"
    assert "file1\nfile2" in text_of(msgs[i + 2]["content"])
    assert json.loads(raw)["content"][0]["text"].startswith("The command printed: ")


# ---- upstream faults (D5) -------------------------------------------------

def test_upstream_429_retry_after_passes_through(proxy, mock):
    for stream in (False, True):
        mock.reset()
        mock.script({"kind": "error", "status": 429, "retry_after": "7"})
        status, headers, raw = proxy.messages(user_turn("hi", stream=stream))
        assert status == 429, raw
        assert headers.get("retry-after") == "7"
        err = json.loads(raw)
        assert err["type"] == "error" and err["error"]["type"] == "rate_limit_error"
        assert len(mock.requests()) == 1, "the proxy must not retry a 429 itself"


def test_upstream_5xx(run_dir, mock):
    """500 goes straight back as api_error; 502 and 503 are retried
    (PROVIDER_MAX_RETRIES=3 by default: 4 attempts) and then come back as
    529 overloaded_error, which Claude Code retries itself."""
    from harness import Proxy
    env_file = run_dir / "fast-retry.env"
    env_file.write_text("MEMCACHED_SERVERS=\nPROVIDER_RETRY_BASE_DELAY=0.02\n"
                        "PROVIDER_RETRY_JITTER=0\n")
    p = Proxy(run_dir, mock.base_url, {"CCPROXY_ENV_FILE": str(env_file)})
    try:
        for up_status, want_status, want_type, calls in ((500, 500, "api_error", 1),
                                                         (502, 529, "overloaded_error", 4),
                                                         (503, 529, "overloaded_error", 4)):
            mock.reset()
            mock.script(*[{"kind": "error", "status": up_status}] * calls)
            status, _, raw = p.messages(user_turn("hi %d" % up_status))
            assert status == want_status, (up_status, status, raw)
            err = json.loads(raw)
            assert err["type"] == "error"
            assert err["error"]["type"] == want_type, err
            assert len(mock.requests()) == calls
    finally:
        p.stop()


def test_context_length_400_is_prompt_too_long(proxy, mock):
    mock.script({"kind": "error", "status": 400, "body": {"error": {
        "message": "This model's maximum context length is 128000 tokens. However, your "
                   "messages resulted in 190000 tokens. Please reduce the length of the "
                   "messages.",
        "type": "invalid_request_error", "param": "messages",
        "code": "context_length_exceeded"}}})
    status, _, raw = proxy.messages(user_turn("very long"))
    assert status == 400, raw
    err = json.loads(raw)
    assert err["error"]["type"] == "invalid_request_error"
    assert "prompt is too long" in err["error"]["message"].lower()


def test_stream_cut_ends_with_error_event(proxy, mock):
    mock.script({"kind": "cut", "chunks": ["partial ", "answer"]})
    t0 = time.monotonic()
    status, headers, raw = proxy.messages(user_turn("hi", stream=True), timeout=20)
    assert time.monotonic() - t0 < 10
    events = events_of(status, headers, raw)
    seq = names(events)
    assert seq[0] == "message_start"
    assert seq[-1] == "error", seq
    assert "message_stop" not in seq
    assert events[-1][1]["type"] == "error"
    assert isinstance(events[-1][1]["error"]["type"], str)
    # The worker is ready for the next request.
    status, _, raw = proxy.messages(user_turn("again"))
    assert status == 200, raw


def test_client_disconnect_cancels_upstream(proxy, mock):
    mock.script({"kind": "slow", "count": 200, "delay": 0.1})
    body = json.dumps(user_turn("go slowly", stream=True)).encode()
    head = ("POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "".join("%s: %s\r\n" % kv for kv in CLIENT_HEADERS.items())
            + "Content-Length: %d\r\n\r\n" % len(body)).encode()
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    sock.sendall(head + body)
    seen = b""
    while seen.count(b"text_delta") < 2:
        data = sock.recv(65536)
        assert data, "stream ended early: %r" % seen[-300:]
        seen += data
    sock.close()
    t0 = time.monotonic()
    recs = wait_until(lambda: mock.streams(), 5, "the mock to see its stream end")
    elapsed = time.monotonic() - t0
    assert recs[0]["state"] == "client_closed", recs
    assert recs[0]["chunks_sent"] < 100
    assert elapsed < 2.0, "upstream closed %.2f s after the client left" % elapsed
    # The worker serves the next request.
    status, _, raw = proxy.messages(user_turn("next"))
    assert status == 200, raw


def test_upstream_connection_refused(run_dir, mock):
    from harness import Proxy, free_port
    dead = "http://127.0.0.1:%d/v1" % free_port()
    env_file = run_dir / "fast-retry.env"
    env_file.write_text("MEMCACHED_SERVERS=\nPROVIDER_RETRY_BASE_DELAY=0.05\n"
                        "PROVIDER_RETRY_JITTER=0\n")
    p = Proxy(run_dir, dead, {"CCPROXY_ENV_FILE": str(env_file)})
    try:
        t0 = time.monotonic()
        status, _, raw = p.messages(user_turn("hi"))
        assert time.monotonic() - t0 < 5
        assert 500 <= status <= 599, (status, raw)
        assert json.loads(raw)["type"] == "error"
        status, headers, raw = p.messages(user_turn("hi", stream=True))
        if status == 200:
            assert names(parse_sse(raw))[-1] == "error"
        else:
            assert 500 <= status <= 599 and json.loads(raw)["type"] == "error"
    finally:
        p.stop()


def test_upstream_silent_past_read_timeout(run_dir, mock):
    from harness import Proxy
    p = Proxy(run_dir, mock.base_url, {"HTTP_READ_TIMEOUT": "1"})
    try:
        mock.script({"kind": "text", "first_byte_delay": 6})
        t0 = time.monotonic()
        status, _, raw = p.messages(user_turn("hi"), timeout=15)
        elapsed = time.monotonic() - t0
        assert 500 <= status <= 599, (status, raw)
        assert json.loads(raw)["type"] == "error"
        assert elapsed < 1 + 1.5, "answered after %.2f s with a 1 s read timeout" % elapsed
        mock.script({"kind": "slow", "chunks": ["a", "b"], "delay": 6})
        t0 = time.monotonic()
        status, headers, raw = p.messages(user_turn("hi", stream=True), timeout=15)
        elapsed = time.monotonic() - t0
        assert elapsed < 1 + 1.5, "stream ended after %.2f s with a 1 s read timeout" % elapsed
        assert status == 200
        assert names(parse_sse(raw))[-1] == "error"
    finally:
        p.stop()


def test_malformed_sse_ends_in_error(proxy, mock):
    mock.script({"kind": "raw", "chunks": [
        'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m",'
        '"choices":[{"index":0,"delta":{"role":"assistant","content":"ok "},'
        '"finish_reason":null}]}\n\n',
        "data: {this is not json\n\n"]})
    status, headers, raw = proxy.messages(user_turn("hi", stream=True), timeout=20)
    if status == 200:
        seq = names(parse_sse(raw))
        assert seq[-1] == "error" and "message_stop" not in seq, seq
    else:
        assert 500 <= status <= 599 and json.loads(raw)["type"] == "error"


def test_concurrent_streams(proxy, mock):
    import threading
    n = 24
    texts = ["answer number %d here" % i for i in range(n)]
    mock.script(*[{"kind": "slow", "text": t, "delay": 0.05} for t in texts])
    got, errors = [], []

    def one():
        try:
            # distinct prompts: identical ones may be answered by the response cache
            status, headers, raw = proxy.messages(
                user_turn("hi %d" % threading.get_ident(), stream=True), timeout=60)
            events = events_of(status, headers, raw)
            assert names(events)[-1] == "message_stop"
            got.append("".join(d["delta"]["text"] for n_, d in events
                               if n_ == "content_block_delta"))
        except Exception as e:  # collected and reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors[:3]
    assert sorted(got) == sorted(texts)


def worker_pids(proxy):
    """PIDs of the ccproxy-fcgi processes under this test's lighttpd."""
    import os
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
            exe = os.readlink("/proc/%s/exe" % entry)
        except OSError:
            continue
        if not exe.endswith("/ccproxy-fcgi"):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        try:
            with open("/proc/%d/stat" % ppid) as f:
                pstat = f.read()
        except OSError:
            continue
        # lighttpd's parent is the `timeout` process this test started.
        if int(pstat.rsplit(")", 1)[1].split()[1]) == proxy.proc.pid and \
                stat.rsplit(")", 1)[1].split()[0] != "Z":
            pids.append(int(entry))
    return sorted(pids)


def test_killed_worker_is_respawned(proxy, mock):
    import os
    import signal
    before = wait_until(lambda: worker_pids(proxy) if len(worker_pids(proxy)) == 2 else None,
                        5, "2 worker processes")
    os.kill(before[0], signal.SIGKILL)
    wait_until(lambda: before[0] not in worker_pids(proxy) and len(worker_pids(proxy)) == 2,
               5, "lighttpd to respawn the killed worker")
    for _ in range(4):
        status, _, raw = proxy.messages(user_turn("after respawn"))
        assert status == 200, raw


def test_stream_interleaved_tool_calls_delivered_whole(proxy, mock):
    """Fragments of two calls interleaved by index: both tool_use blocks come
    out, each whole and in its own block, with their exact arguments."""
    a = {"command": "echo one"}
    b = {"file_path": "/etc/hostname"}
    mock.script({"kind": "tool_calls", "interleave": True,
                 "calls": [{"id": "call_one", "name": "Bash", "arguments": a, "fragments": 3},
                           {"id": "call_two", "name": "Read", "arguments": b, "fragments": 4}]})
    status, headers, raw = proxy.messages(
        user_turn("both", stream=True, tools=[BASH_TOOL, READ_TOOL]))
    events = events_of(status, headers, raw)
    assert "error" not in names(events), raw
    assert names(events)[-1] == "message_stop"
    blocks = {}
    open_blocks = set()
    for n, d in events:
        if n == "content_block_start" and d["content_block"]["type"] == "tool_use":
            assert not open_blocks, "a block started while another was open"
            open_blocks.add(d["index"])
            blocks[d["index"]] = [d["content_block"]["id"], d["content_block"]["name"], ""]
        elif n == "content_block_delta" and d["delta"]["type"] == "input_json_delta":
            assert d["index"] in open_blocks
            blocks[d["index"]][2] += d["delta"]["partial_json"]
        elif n == "content_block_stop":
            open_blocks.discard(d["index"])
    assert sorted(blocks) == [0, 1]
    assert [(i, nm, json.loads(j)) for i, nm, j in (blocks[0], blocks[1])] == [
        ("call_one", "Bash", a), ("call_two", "Read", b)]
    stop = [d for n, d in events if n == "message_delta"][0]
    assert stop["delta"]["stop_reason"] == "tool_use"


def test_stalled_clients_do_not_block_others(proxy, mock):
    """D6: clients that stop reading long streams hold their own request only."""
    stalled = []
    try:
        for _ in range(3):
            mock.script({"kind": "text", "count": 20000})
            body = json.dumps(user_turn("long", stream=True)).encode()
            sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(("POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                          % len(body)).encode() + body)
            stalled.append(sock)
        wait_until(lambda: len(mock.requests()) == 3, 5, "the stalled streams to start")
        t0 = time.monotonic()
        for _ in range(5):
            status, _, raw = proxy.messages(user_turn("quick"))
            assert status == 200, raw
        assert time.monotonic() - t0 < 3
    finally:
        for sock in stalled:
            sock.close()
