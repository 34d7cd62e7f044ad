"""Streaming fan-out through real lighttpd, ccproxy-fcgi, ccproxy-coordd and
memcached (all on 127.0.0.1, stopped by PID) against the mock upstream:
coalescing, separation, late joiners, slow followers, leader failure, a
coordinator that dies or is absent, memcached restarts, and two hosts."""

import json
import os
import socket
import threading
import time

import pytest

from harness import CLIENT_HEADERS, Coordd, Proxy, parse_sse, stray_workers, wait_until

SONNET = "claude-sonnet-4-5-20250929"


def stream_turn(text, stream=True, max_tokens=1024):
    return {"model": SONNET, "max_tokens": max_tokens, "stream": stream,
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}


def slow_reply(count=20, delay=0.05, size=8):
    return {"kind": "slow", "chunks": ["w%03d" % i + "x" * size + " " for i in range(count)],
            "delay": delay}


def start_proxy(run_dir, mock, threads=12, procs=2, **conf):
    """A proxy whose configuration comes from its own env file."""
    run_dir.mkdir(exist_ok=True)
    env_file = run_dir / "fanout.env"
    base = {"PROVIDER_MAX_RETRIES": "0", "COORD_FOLLOWER_WAIT_MS": "5000",
            "MEMCACHED_SERVERS": ""}
    base.update(conf)
    env_file.write_text("".join("%s=%s\n" % kv for kv in base.items()))
    return Proxy(run_dir, mock.base_url,
                 {"CCPROXY_ENV_FILE": str(env_file), "WORKER_THREADS": str(threads),
                  "CCPROXY_PROCS": str(procs), "LOG_LEVEL": "INFO"})


@pytest.fixture
def fproxy(run_dir, mock, coordd, memcached):
    p = start_proxy(run_dir, mock, COORD_ADDRESSES=coordd.address,
                    MEMCACHED_SERVERS="127.0.0.1:%d" % memcached.port, RESPONSE_CACHE_LRU_MAX="0")
    yield p
    p.stop()


def run_concurrently(fns, timeout=30):
    """Call every fn in its own thread at once; their results in order."""
    results = [None] * len(fns)
    errors = []
    start = threading.Barrier(len(fns))

    def body(i, fn):
        try:
            start.wait(timeout=10)
            results[i] = fn()
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a request hung"
    assert not errors, errors
    return results


def upstream_calls(mock):
    return [r for r in mock.requests() if r["path"].endswith("/chat/completions")]


def events_of(body):
    return [name for name, _ in parse_sse(body)]


def complete(body):
    names = events_of(body)
    return names[0] == "message_start" and names[-1] == "message_stop"


def test_identical_streams_coalesce(fproxy, mock):
    mock.script(slow_reply(count=20, delay=0.05))
    body = stream_turn("coalesce me")
    results = run_concurrently([lambda: fproxy.messages(body)] * 20)
    assert len(upstream_calls(mock)) == 1
    bodies = [raw for _status, _hdrs, raw in results]
    assert all(status == 200 for status, _h, _r in results)
    assert all(complete(raw) for raw in bodies), bodies[0][:300]
    assert len(set(bodies)) == 1, "streams differ"
    states = sorted(h.get("x-ccproxy-cache") for _s, h, _r in results)
    assert states.count("miss") == 1 and states.count("coalesced") == 19, states


def test_different_requests_are_separate(fproxy, mock):
    mock.script(*[slow_reply(count=10, delay=0.05) for _ in range(5)])
    base = stream_turn("separate me")
    other_key = dict(CLIENT_HEADERS, **{"x-api-key": "sk-ant-another-client"})
    variants = [
        lambda: fproxy.messages(base),
        lambda: fproxy.messages(stream_turn("separate me, differently")),
        lambda: fproxy.messages(stream_turn("separate me", max_tokens=777)),
        lambda: fproxy.messages(stream_turn("separate me", stream=False)),
        lambda: fproxy.messages(base, headers=other_key),
    ]
    results = run_concurrently(variants)
    assert len(upstream_calls(mock)) == 5
    assert all(status == 200 for status, _h, _r in results)
    assert all(h.get("x-ccproxy-cache") == "miss" for _s, h, _r in results)


def open_stream(proxy, body, headers=None):
    """Send a streaming request; the response object, headers read."""
    conn = proxy.conn(timeout=30)
    hdrs = dict(CLIENT_HEADERS, **{"Content-Type": "application/json"})
    hdrs.update(headers or {})
    conn.request("POST", "/v1/messages", body=json.dumps(body).encode(), headers=hdrs)
    resp = conn.getresponse()
    return conn, resp


def test_late_joiner_gets_the_full_stream(fproxy, mock):
    mock.script(slow_reply(count=30, delay=0.05))
    body = stream_turn("late joiner")
    conn, resp = open_stream(fproxy, body)
    first = resp.read1(65536)  # the leader's first events are out
    assert first.startswith(b"event: message_start")
    status, hdrs, late = fproxy.messages(body)
    early = first + resp.read()
    conn.close()
    assert status == 200 and hdrs.get("x-ccproxy-cache") == "coalesced"
    assert late == early and complete(late)
    assert len(upstream_calls(mock)) == 1


def test_leader_upstream_cut_ends_every_follower(fproxy, mock):
    mock.script({"kind": "cut", "chunks": ["part %d " % i for i in range(10)], "delay": 0.1})
    body = stream_turn("cut me")
    t0 = time.monotonic()
    results = run_concurrently([lambda: fproxy.messages(body, timeout=20)] * 5)
    assert time.monotonic() - t0 < 10
    assert len(upstream_calls(mock)) == 1
    for status, _h, raw in results:
        assert status == 200
        assert events_of(raw)[-1] == "error", raw[-300:]


def test_slow_follower_is_dropped_alone(run_dir, mock, memcached):
    c = Coordd(run_dir, args=("--queue-bytes", "1048576"))
    p = start_proxy(run_dir, mock, COORD_ADDRESSES=c.address)
    try:
        # about 12 MB of events: more than every socket buffer between coordd
        # and a client that stopped reading, plus its 1 MB queue
        mock.script(slow_reply(count=1500, delay=0.001, size=8000))
        body = stream_turn("slow follower")
        conn, resp = open_stream(p, body)
        assert resp.read1(65536).startswith(b"event: message_start")
        # the slow client: a raw socket with a small buffer that reads nothing
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", p.port))
        data = json.dumps(body).encode()
        head = "".join("%s: %s\r\n" % kv for kv in CLIENT_HEADERS.items())
        slow.sendall(("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\nConnection: close\r\n%s\r\n" % (len(data), head))
                     .encode() + data)
        t0 = time.monotonic()
        leader_out = {}
        reader = threading.Thread(target=lambda: leader_out.update(raw=resp.read()))
        reader.start()
        fast = run_concurrently([lambda: p.messages(body, timeout=30)] * 3)
        reader.join(30)
        assert not reader.is_alive()
        leader = leader_out["raw"]
        conn.close()
        assert time.monotonic() - t0 < 20
        for status, hdrs, raw in fast:
            assert status == 200 and hdrs.get("x-ccproxy-cache") == "coalesced"
            assert complete(raw) and raw.endswith(leader[-200:])
        # now drain the slow one: it was cut off with an error event
        slow.settimeout(20)
        got = b""
        while True:
            chunk = slow.recv(1 << 20)
            if not chunk:
                break
            got += chunk
        slow.close()
        body_part = got.split(b"\r\n\r\n", 1)[1]
        assert b"event: error" in body_part[-2000:]
        assert b"event: message_stop" not in body_part
        assert len(upstream_calls(mock)) == 1
    finally:
        p.stop()
        c.stop()


def test_coordd_killed_mid_stream(fproxy, mock, coordd):
    mock.script(*[slow_reply(count=20, delay=0.05) for _ in range(6)])
    body = stream_turn("kill the coordinator")
    conn, resp = open_stream(fproxy, body)
    first = resp.read1(65536)
    # a follower: its headers come with the first relayed event
    fconn, fresp = open_stream(fproxy, body)
    assert fresp.getheader("x-ccproxy-cache") == "coalesced"
    coordd.kill()
    leader = first + resp.read()
    follower = fresp.read()
    conn.close()
    fconn.close()
    assert complete(leader)
    # the follower had bytes out: it ends with an error event (or, if it had
    # everything already, complete)
    assert events_of(follower)[-1] in ("message_stop", "error")
    # new requests go direct at once
    mock.script({"kind": "text", "text": "after the coordinator"})
    t0 = time.monotonic()
    status, hdrs, raw = fproxy.messages(stream_turn("after kill"))
    assert status == 200 and complete(raw)
    assert time.monotonic() - t0 < 2


def cpu_seconds(pids):
    """User and system CPU time of the processes pids, in seconds."""
    ticks = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def test_leader_alone_waits_quietly_when_its_coordinator_dies(fproxy, mock, coordd, run_dir):
    """A leader holding its events back (no follower yet) watches its
    coordinator link while it waits for the upstream. When the coordinator
    dies the link reads as closed: the leader lets it go and waits on for
    the upstream alone, instead of waking for the closed link again and
    again until its stream ends."""
    mock.script(slow_reply(count=25, delay=0.1))
    conn, resp = open_stream(fproxy, stream_turn("a leader alone"))
    first = resp.read1(65536)
    coordd.kill()
    pids = stray_workers(run_dir)
    assert pids
    before = cpu_seconds(pids)
    rest = resp.read()  # 2.5 s of a slow upstream
    used = cpu_seconds(pids) - before
    conn.close()
    assert complete(first + rest)
    assert used < 1.0, "the workers used %.2f s of CPU waiting 2.5 s" % used


@pytest.mark.parametrize("kind", ["absent", "stale"])
def test_coordinator_absent_goes_direct(run_dir, mock, kind):
    path = str(run_dir / "nobody.sock")
    if kind == "stale":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.close()  # the file stays; nobody listens
    p = start_proxy(run_dir, mock, COORD_ADDRESSES=path, COORD_CONNECT_TIMEOUT_MS="100")
    try:
        for i in range(3):
            mock.script({"kind": "text", "text": "direct %d" % i})
            t0 = time.monotonic()
            status, hdrs, raw = p.messages(stream_turn("direct %d" % i))
            assert status == 200 and complete(raw)
            assert time.monotonic() - t0 < 1.5
        results = run_concurrently([lambda: p.messages(stream_turn("same"))] * 3)
        assert all(s == 200 and complete(r) for s, _h, r in results)
    finally:
        p.stop()


def stores(proxy):
    status, _, raw = proxy.request("GET", "/v1/metrics")
    assert status == 200
    return json.loads(raw)["response_cache"]["stores"]


def wait_stored(proxy, n):
    """A fan-out leader stores its stream after its client's answer ended
    (an identical request meanwhile follows it): wait for the store."""
    wait_until(lambda: stores(proxy) >= n, 5, "%d response cache store(s)" % n)


def test_memcached_restart_with_fanout(fproxy, mock, memcached):
    body = stream_turn("cache me")
    status, hdrs, first = fproxy.messages(body)
    assert status == 200 and hdrs.get("x-ccproxy-cache") == "miss"
    wait_stored(fproxy, 1)
    status, hdrs, _ = fproxy.messages(body)
    assert hdrs.get("x-ccproxy-cache") == "hit"
    memcached.stop()
    status, hdrs, raw = fproxy.messages(stream_turn("while memcached is down"))
    assert status == 200 and complete(raw)
    memcached.start()

    def hit():
        fproxy.messages(body)
        return fproxy.messages(body)[1].get("x-ccproxy-cache") == "hit"

    wait_until(hit, 15, "cache hits after memcached restarted", step=0.3)


def test_two_hosts_share_the_coordinators(run_dir, mock, memcached):
    # two coordinators (one on TCP); both hosts list both, in the same order
    c1 = Coordd(run_dir, "coordd1", tcp=True)
    c2 = Coordd(run_dir, "coordd2")
    addrs = "%s,%s" % (c1.address, c2.address)
    hosts = []
    try:
        for name in ("host-a", "host-b"):
            hosts.append(start_proxy(run_dir / name, mock, threads=6, COORD_ADDRESSES=addrs,
                                     MEMCACHED_SERVERS="127.0.0.1:%d" % memcached.port))
        for n in range(3):  # several keys: both coordinators get used
            mock.reset()
            mock.script(slow_reply(count=15, delay=0.05))
            body = stream_turn("two hosts %d" % n)
            results = run_concurrently([lambda h=h: h.messages(body) for h in hosts] * 3)
            assert len(upstream_calls(mock)) == 1
            assert len({raw for _s, _h, raw in results}) == 1
            assert all(complete(raw) for _s, _h, raw in results)
    finally:
        for h in hosts:
            h.stop()
        c1.stop()
        c2.stop()


def test_follower_wait_timeout_goes_direct(run_dir, mock, coordd):
    p = start_proxy(run_dir, mock, COORD_ADDRESSES=coordd.address, COORD_FOLLOWER_WAIT_MS="300")
    try:
        # the leader's upstream is silent for 1.5 s; the follower stops
        # waiting after 0.3 s and calls upstream itself
        mock.script(dict(slow_reply(count=5, delay=0.01), first_byte_delay=1.5),
                    slow_reply(count=5, delay=0.01))
        body = stream_turn("wait for me")
        results = run_concurrently([lambda: p.messages(body)] * 2)
        assert len(upstream_calls(mock)) == 2
        assert all(s == 200 and complete(r) for s, _h, r in results)
        assert all(h.get("x-ccproxy-cache") == "miss" for _s, h, _r in results)
    finally:
        p.stop()


def test_leader_error_answer_is_shared(run_dir, mock, coordd):
    # the upstream is overloaded: the leader's one call gets a 429, and every
    # follower answers its client with the same 429 instead of calling upstream
    p = start_proxy(run_dir, mock, COORD_ADDRESSES=coordd.address)
    try:
        # the 429 comes after 0.5 s, so all five have joined by then; nothing
        # else is scripted (a second call would get the mock's automatic 200)
        mock.script({"kind": "error", "status": 429, "retry_after": "3", "first_byte_delay": 0.5,
                     "body": {"error": {"message": "Rate limit reached", "type": "requests",
                                        "code": "rate_limit_exceeded"}}})
        body = stream_turn("overloaded")
        results = run_concurrently([lambda: p.messages(body)] * 5)
        assert len(upstream_calls(mock)) == 1
        bodies = set()
        for status, hdrs, raw in results:
            assert status == 429, raw[:300]
            assert hdrs.get("retry-after") == "3"
            err = json.loads(raw)
            assert err["type"] == "error" and err["error"]["type"] == "rate_limit_error"
            bodies.add(raw)
        assert len(bodies) == 1
        states = sorted(h.get("x-ccproxy-cache") for _s, h, _r in results)
        assert states.count("coalesced") == 4, states
        # the connections stay usable: the next identical request leads anew
        mock.script({"kind": "text", "text": "better now"})
        status, hdrs, raw = p.messages(body)
        assert status == 200 and complete(raw)
        assert len(upstream_calls(mock)) == 2
    finally:
        p.stop()


def test_context_length_error_is_shared(run_dir, mock, coordd):
    p = start_proxy(run_dir, mock, COORD_ADDRESSES=coordd.address)
    try:
        mock.script({"kind": "error", "status": 400, "first_byte_delay": 0.5,
                     "body": {"error": {"message": "This model's maximum context length is "
                                        "128000 tokens. However, your messages resulted in "
                                        "200000 tokens.", "type": "invalid_request_error",
                                        "code": "context_length_exceeded"}}})
        results = run_concurrently([lambda: p.messages(stream_turn("too long"))] * 3)
        assert len(upstream_calls(mock)) == 1
        for status, _hdrs, raw in results:
            assert status == 400, raw[:300]
            err = json.loads(raw)["error"]
            assert err["type"] == "invalid_request_error"
            assert "context length" in err["message"] or "too long" in err["message"]
    finally:
        p.stop()


def test_long_stream_keeps_followers_past_the_wait(run_dir, mock, coordd):
    # COORD_FOLLOWER_WAIT_MS bounds the wait for the first event only: a
    # stream with gaps longer than it keeps every follower attached
    p = start_proxy(run_dir, mock, COORD_ADDRESSES=coordd.address, COORD_FOLLOWER_WAIT_MS="300")
    try:
        mock.script(dict(slow_reply(count=6, delay=0.01), pauses={"2": 0.8, "4": 0.8}),
                    slow_reply(count=6, delay=0.01))
        body = stream_turn("long gaps")
        conn, resp = open_stream(p, body)
        first = resp.read1(65536)
        assert first.startswith(b"event: message_start")
        results = run_concurrently([lambda: p.messages(body, timeout=20)] * 3)
        leader = first + resp.read()
        conn.close()
        assert len(upstream_calls(mock)) == 1
        for status, hdrs, raw in results:
            assert status == 200 and hdrs.get("x-ccproxy-cache") == "coalesced"
            assert raw == leader and complete(raw)
    finally:
        p.stop()


def coordd_connections(path):
    """Connections the daemon accepted on its unix socket (its side of each
    connected pair carries the socket's path in /proc/net/unix)."""
    n = 0
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            cols = line.split()
            if len(cols) >= 8 and cols[7] == path and cols[5] == "03":  # SS_CONNECTED
                n += 1
    return n


def test_worker_threads_connect_at_start(run_dir, mock, coordd):
    # every worker thread (2 processes x 5) connects when it starts, before any
    # stream: a burst of first streams then waits for no connect and HELLO
    p = start_proxy(run_dir, mock, threads=5, COORD_ADDRESSES=coordd.address)
    try:
        wait_until(lambda: coordd_connections(coordd.path) >= 10, 5,
                   "10 coordinator connections")
        time.sleep(0.2)
        assert coordd_connections(coordd.path) == 10
        # the streams use those connections: no new one
        for i in range(3):
            mock.script({"kind": "text", "text": "kept %d" % i})
            status, hdrs, raw = p.messages(stream_turn("kept %d" % i))
            assert status == 200 and complete(raw)
        assert coordd_connections(coordd.path) == 10
    finally:
        p.stop()


def coordinator_counts(proxy):
    status, _, raw = proxy.request("GET", "/v1/metrics")
    assert status == 200
    co = json.loads(raw)["coordinator"]
    return co["leaders"], co["followers"]


def test_cache_hit_ends_the_join_sent_during_the_lookup(run_dir, mock, coordd, memcached):
    # a stream's JOIN goes to the coordinator while memcached is asked; on a
    # hit the join is ended on the same connection: the threads keep their
    # coordinator connections, no stream is counted, and an identical
    # request that skips the cache then leads its own stream at once
    p = start_proxy(run_dir, mock, threads=3, COORD_ADDRESSES=coordd.address,
                    MEMCACHED_SERVERS="127.0.0.1:%d" % memcached.port,
                    RESPONSE_CACHE_LRU_MAX="0")  # every hit comes from memcached
    try:
        wait_until(lambda: coordd_connections(coordd.path) >= 6, 5, "6 coordinator connections")
        body = stream_turn("answered from memcached")
        status, hdrs, first = p.messages(body)
        assert status == 200 and hdrs.get("x-ccproxy-cache") == "miss" and complete(first)
        wait_stored(p, 1)
        before = coordinator_counts(p)
        for _ in range(12):  # enough to reach every thread of both processes
            status, hdrs, raw = p.messages(body)
            assert status == 200 and hdrs.get("x-ccproxy-cache") == "hit" and complete(raw)
        assert coordinator_counts(p) == before
        assert coordd_connections(coordd.path) == 6
        status, hdrs, raw = p.messages(body, headers={"Cache-Control": "no-cache"}, timeout=4)
        assert status == 200 and complete(raw)
        assert coordinator_counts(p) == (before[0] + 1, before[1])
        assert len(upstream_calls(mock)) == 2
    finally:
        p.stop()


class SlowStoreMemcached:
    """A memcached stand-in (text protocol, 127.0.0.1) that takes `delay`
    seconds over each set: the value is there, and STORED goes out, only
    then. Gets answer at once. Stopped with stop()."""

    def __init__(self, delay):
        self.delay = delay
        self.items = {}
        self.sets = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        try:
            self._serve_commands(conn)
        except OSError:  # the worker closed its connection
            pass
        conn.close()

    def _serve_commands(self, conn):
        conn.settimeout(0.2)
        buf = b""
        while not self.stopping:
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            buf += data
            while b"\r\n" in buf:
                line, rest = buf.split(b"\r\n", 1)
                words = line.split()
                if words and words[0] == b"set":
                    size = int(words[4])
                    if len(rest) < size + 2:
                        break  # the value is not all here yet
                    value, buf = rest[:size], rest[size + 2:]
                    time.sleep(self.delay)
                    with self.lock:
                        self.items[words[1]] = (words[2], value)
                        self.sets += 1
                    if b"noreply" not in words[5:]:
                        conn.sendall(b"STORED\r\n")
                    continue
                buf = rest
                if words and words[0] in (b"get", b"gets"):
                    out = b""
                    with self.lock:
                        for key in words[1:]:
                            if key in self.items:
                                flags, value = self.items[key]
                                out += b"VALUE %s %s %d\r\n%s\r\n" % (key, flags, len(value),
                                                                    value)
                    conn.sendall(out + b"END\r\n")
                elif words and words[0] == b"version":
                    conn.sendall(b"VERSION 1.6.18\r\n")
                elif words and words[0] == b"quit":
                    return
                else:
                    conn.sendall(b"ERROR\r\n")

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(2)
        self.sock.close()


def test_fanout_leader_ends_its_answer_before_the_store(run_dir, mock, coordd):
    # a fan-out leader's client has the whole stream without waiting for
    # memcached; an identical request sent while the store is still under
    # way becomes a follower and gets the same stream from the coordinator;
    # one upstream call in all, and the stored answer serves the next one
    mc = SlowStoreMemcached(delay=3.0)
    p = start_proxy(run_dir, mock, threads=3, COORD_ADDRESSES=coordd.address,
                    MEMCACHED_SERVERS="127.0.0.1:%d" % mc.port, MEMCACHED_TIMEOUT_MS="10000",
                    RESPONSE_CACHE_LRU_MAX="0")
    try:
        mock.script(slow_reply(count=5, delay=0.02))
        body = stream_turn("stored after the answer")
        t0 = time.monotonic()
        status, hdrs, first = p.messages(body)
        took = time.monotonic() - t0
        assert status == 200 and hdrs.get("x-ccproxy-cache") == "miss" and complete(first)
        assert took < 2.0, "the answer waited for the store (%.2f s)" % took
        status, hdrs, again = p.messages(body)
        assert status == 200 and hdrs.get("x-ccproxy-cache") == "coalesced"
        assert again == first
        assert mc.sets == 1
        status, hdrs, third = p.messages(body)
        assert status == 200 and hdrs.get("x-ccproxy-cache") == "hit" and complete(third)
        assert len(upstream_calls(mock)) == 1
    finally:
        p.stop()
        mc.stop()


def test_without_fanout_the_answer_waits_for_the_store(run_dir, mock):
    # no coordinator to answer a repeat while the store is under way: the
    # answer ends only once memcached has it, so a client that repeats the
    # request at once gets the stored answer, not a second upstream call
    mc = SlowStoreMemcached(delay=1.0)
    p = start_proxy(run_dir, mock, threads=3, MEMCACHED_SERVERS="127.0.0.1:%d" % mc.port,
                    MEMCACHED_TIMEOUT_MS="10000", RESPONSE_CACHE_LRU_MAX="0")
    try:
        mock.script(slow_reply(count=5, delay=0.02))
        body = stream_turn("stored before the answer ends")
        status, hdrs, first = p.messages(body)
        assert status == 200 and hdrs.get("x-ccproxy-cache") == "miss" and complete(first)
        status, hdrs, again = p.messages(body)
        assert status == 200 and hdrs.get("x-ccproxy-cache") == "hit" and complete(again)
        assert len(upstream_calls(mock)) == 1
    finally:
        p.stop()
        mc.stop()


def test_answer_goes_out_before_memcached_has_it(run_dir, mock):
    # with the in-process LRU (the default) a stored answer, plain or stream,
    # reaches its client before memcached is asked to store it: the client
    # does not wait for memcached, and a repeat served by the same process
    # finds the LRU's copy at once; memcached gets the entry just after
    mc = SlowStoreMemcached(delay=2.0)
    p = start_proxy(run_dir, mock, threads=3, procs=1, MEMCACHED_SERVERS="127.0.0.1:%d" % mc.port,
                    MEMCACHED_TIMEOUT_MS="10000")
    try:
        for n, stream in enumerate((False, True), start=1):
            body = stream_turn("answered before the store", stream=stream)
            t0 = time.monotonic()
            status, hdrs, first = p.messages(body)
            took = time.monotonic() - t0
            assert status == 200 and hdrs.get("x-ccproxy-cache") == "miss", first
            assert took < 1.5, "the answer waited for memcached (%.2f s)" % took
            status, hdrs, again = p.messages(body)
            assert status == 200 and hdrs.get("x-ccproxy-cache") == "hit", again
            assert len(upstream_calls(mock)) == n
            wait_until(lambda: mc.sets == n, 10, "memcached to get store %d" % n)
        assert len(mc.items) == 2
    finally:
        p.stop()
        mc.stop()


def mc_talk(port, data, until):
    """Send data to memcached on 127.0.0.1:port; its answer up to `until`."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        out = b""
        while not out.endswith(until):
            chunk = s.recv(65536)
            assert chunk, out
            out += chunk
        return out


def test_follower_whose_leader_ended_without_events_asks_the_cache_again(run_dir, mock, coordd,
                                                                           memcached):
    # a leader stores its stream and then sends END; a request that joined
    # just before that END gets no event from the coordinator. It asks the
    # cache again (the stored answer is there by then) instead of calling
    # upstream a second time. Here the test itself plays that leader.
    from test_coordd import END as F_END, FOLLOWERS as F_FOLLOWERS, HELLO as F_HELLO
    from test_coordd import LEAD as F_LEAD, Peer

    p = start_proxy(run_dir, mock, threads=3, COORD_ADDRESSES=coordd.address,
                    MEMCACHED_SERVERS="127.0.0.1:%d" % memcached.port,
                    RESPONSE_CACHE_LRU_MAX="0")
    leader = None
    try:
        mock.script(slow_reply(count=5, delay=0.01))
        body = stream_turn("my leader ended as I joined")
        status, hdrs, first = p.messages(body)
        assert status == 200 and hdrs.get("x-ccproxy-cache") == "miss" and complete(first)
        wait_stored(p, 1)
        dump = mc_talk(memcached.port, b"lru_crawler metadump all\r\n", b"END\r\n")
        keys = [w[4:] for w in dump.split() if w.startswith(b"key=")]
        assert len(keys) == 1, dump
        key = keys[0]
        stored = mc_talk(memcached.port, b"get " + key + b"\r\n", b"END\r\n")
        head, value = stored.split(b"\r\n", 1)
        flags, size = head.split()[2], int(head.split()[3])
        value = value[:size]
        assert mc_talk(memcached.port, b"delete " + key + b"\r\n", b"\r\n") == b"DELETED\r\n"

        leader = Peer(coordd.path)
        leader.send(F_HELLO, b"\x01")
        assert leader.recv()[0] == F_HELLO
        assert leader.join(key)[0] == F_LEAD
        result = {}
        t = threading.Thread(target=lambda: result.update(answer=p.messages(body)))
        t.start()
        ftype, payload = leader.recv(timeout=10)  # the request follows us
        assert ftype == F_FOLLOWERS and payload == b"\x00\x00\x00\x01"
        assert mc_talk(memcached.port, b"set %s %s 0 %d\r\n%s\r\n" % (key, flags, size, value),
                       b"\r\n") == b"STORED\r\n"
        leader.send(F_END)
        t.join(15)
        assert not t.is_alive(), "the follower hung"
        status, hdrs, again = result["answer"]
        assert status == 200 and hdrs.get("x-ccproxy-cache") == "hit" and complete(again)
        assert len(upstream_calls(mock)) == 1
        status, _, raw = p.request("GET", "/v1/metrics")
        rc = json.loads(raw)["response_cache"]
        assert (rc["misses"], rc["hits"], rc["stores"]) == (1, 1, 1), rc  # counted once each
    finally:
        if leader is not None:
            leader.close()
        p.stop()
