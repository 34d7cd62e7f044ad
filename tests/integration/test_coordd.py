"""ccproxy-coordd against real sockets: fan-out, replay, slow followers,
leader failure, garbage, limits and the socket file's life cycle.

Uses the built daemon from $CCP_BUILD_DIR (default build/ at the top of the
tree) and speaks the frame protocol of coord/proto.h directly:
4-byte big-endian length (type byte + payload), 1-byte type, payload.
"""
import os
import select
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CCP_BUILD_DIR", os.path.join(TOP, "build"))
COORDD = os.path.join(BUILD, "ccproxy-coordd")

HELLO, JOIN, LEAD, FOLLOW, EVENT, END, ABORT, FOLLOWERS = range(1, 9)

pytestmark = pytest.mark.skipif(
    not os.access(COORDD, os.X_OK), reason=f"{COORDD} not built (set CCP_BUILD_DIR)"
)


def frame(ftype, payload=b""):
    return struct.pack(">IB", len(payload) + 1, ftype) + payload


class Peer:
    """One worker connection; every read has a deadline."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.rbuf = b""
        self.raw = b""  # every byte received, for byte-for-byte comparisons

    def send(self, ftype, payload=b""):
        self.sock.sendall(frame(ftype, payload))

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no frame before the deadline")
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.rbuf += data
        self.raw += data

    def recv(self, timeout=5.0):
        """The next frame as (type, payload)."""
        deadline = time.monotonic() + timeout
        while len(self.rbuf) < 5 or len(self.rbuf) < 4 + struct.unpack(">I", self.rbuf[:4])[0]:
            self._fill(deadline)
        n = struct.unpack(">I", self.rbuf[:4])[0]
        ftype, payload = self.rbuf[4], self.rbuf[5 : 4 + n]
        self.rbuf = self.rbuf[4 + n :]
        return ftype, payload

    def poll(self):
        """A frame if one is already there, else None."""
        r, _, _ = select.select([self.sock], [], [], 0)
        if not r and len(self.rbuf) < 5:
            return None
        try:
            return self.recv(timeout=0.2)
        except TimeoutError:
            return None

    def join(self, key):
        """JOIN, and the answer; a FOLLOWERS frame left from an earlier stream
        is skipped, as coord/client.c does."""
        self.send(JOIN, key)
        fr = self.recv()
        while fr[0] == FOLLOWERS:
            fr = self.recv()
        return fr

    def read_stream(self, timeout=10.0):
        """Events until END or ABORT: (list of payloads, terminal frame)."""
        events = []
        deadline = time.monotonic() + timeout
        while True:
            ftype, payload = self.recv(timeout=max(0.01, deadline - time.monotonic()))
            if ftype == EVENT:
                events.append(payload)
            else:
                return events, (ftype, payload)

    def closed(self, timeout=2.0):
        """True if the daemon closes this connection within timeout."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except EOFError:
            return True
        except (TimeoutError, socket.timeout):
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def sse(i, size=0):
    body = f'{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"t{i}"}}}}'
    ev = f"event: content_block_delta\ndata: {body}\n\n".encode()
    return ev + b" " * max(0, size - len(ev))


class Daemon:
    def __init__(self, tmp_path, *args):
        self.path = str(tmp_path / "coordd.sock")
        self.log = open(tmp_path / "coordd.log", "wb")
        # --foreground: SIGTERM goes to coordd alone, not to its process group
        # (where LeakSanitizer's exit-time tracer of an ASan build lives)
        self.proc = subprocess.Popen(
            ["timeout", "--foreground", "120", COORDD, "--socket", self.path, "--log-level", "DEBUG", *args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 5
        while True:  # readiness: a polled HELLO, never a fixed sleep
            assert self.proc.poll() is None, "coordd exited at start"
            try:
                p = Peer(self.path, timeout=1)
                p.send(HELLO, b"\x01")
                assert p.recv() == (HELLO, b"\x01")
                p.close()
                break
            except (FileNotFoundError, ConnectionRefusedError):
                assert time.monotonic() < deadline, "coordd not ready within 5 s"
                time.sleep(0.02)

    def peer(self):
        return Peer(self.path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def coordd_factory(tmp_path):
    started = []

    def start(*args, sub=None):
        d = tmp_path / (sub or f"d{len(started)}")
        d.mkdir(exist_ok=True)
        daemon = Daemon(d, *args)
        started.append(daemon)
        return daemon

    yield start
    # every daemon exits cleanly on SIGTERM (and, in sanitizer builds, leak-free)
    codes = [daemon.stop() for daemon in started]
    assert codes == [0] * len(codes), f"coordd exit codes {codes}; logs in {tmp_path}"


@pytest.fixture
def coordd(coordd_factory):
    return coordd_factory()


KEY = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


def test_one_leader_five_followers_get_identical_bytes(coordd):
    leader = coordd.peer()
    assert leader.join(KEY) == (LEAD, b"")
    followers = [coordd.peer() for _ in range(5)]
    for f in followers:
        assert f.join(KEY) == (FOLLOW, b"")
    # the leader is told how many followers are attached
    count = None
    deadline = time.monotonic() + 5
    while count != 5 and time.monotonic() < deadline:
        ftype, payload = leader.recv()
        assert ftype == FOLLOWERS
        count = struct.unpack(">I", payload)[0]
    assert count == 5
    sent = [sse(i) for i in range(300)]
    for ev in sent:
        leader.send(EVENT, ev)
    leader.send(END)
    streams = []
    for f in followers:
        events, term = f.read_stream()
        assert events == sent
        assert term == (END, b"")
        streams.append(f.raw)
    assert all(s == streams[0] for s in streams)


def test_late_joiner_gets_full_replay_then_live_events(coordd):
    leader = coordd.peer()
    assert leader.join(KEY) == (LEAD, b"")
    sent = [sse(i) for i in range(50)]
    for ev in sent:
        leader.send(EVENT, ev)
    early = coordd.peer()
    assert early.join(KEY) == (FOLLOW, b"")
    time.sleep(0.05)  # let the events flow before the late joiner arrives
    late = coordd.peer()
    assert late.join(KEY) == (FOLLOW, b"")
    more = [sse(i) for i in range(50, 60)]
    for ev in more:
        leader.send(EVENT, ev)
    leader.send(END)
    for f in (early, late):
        events, term = f.read_stream()
        assert events == sent + more
        assert term == (END, b"")
    # the session is gone after END: the same key leads a new stream
    again = coordd.peer()
    assert again.join(KEY) == (LEAD, b"")


def test_connection_can_join_again_after_the_end(coordd):
    leader, follower = coordd.peer(), coordd.peer()
    assert leader.join(KEY) == (LEAD, b"")
    assert follower.join(KEY) == (FOLLOW, b"")
    leader.send(EVENT, sse(1))
    leader.send(END)
    assert follower.read_stream() == ([sse(1)], (END, b""))
    assert follower.join(b"other-key") == (LEAD, b"")
    # the old leader connection is idle again too
    assert leader.join(b"other-key")[0] == FOLLOW


@pytest.mark.parametrize(
    "limit", [("--queue-max", "100"), ("--queue-bytes", "100000", "--queue-max", "1000000")]
)
def test_slow_follower_is_dropped_alone(coordd_factory, limit):
    d = coordd_factory(*limit, "--linger-ms", "10000")
    leader = d.peer()
    assert leader.join(KEY) == (LEAD, b"")
    fast = [d.peer() for _ in range(2)]
    slow = d.peer()
    for f in fast + [slow]:
        assert f.join(KEY) == (FOLLOW, b"")
    count = None
    while count != 3:
        ftype, payload = leader.recv()
        assert ftype == FOLLOWERS
        count = struct.unpack(">I", payload)[0]
    sent = [sse(i, 1000) for i in range(3000)]
    got = [0, 0]
    results = [None, None]

    def reader(i):
        events = []
        while True:
            ftype, payload = fast[i].recv(timeout=20)
            if ftype != EVENT:
                results[i] = (events, (ftype, payload))
                return
            events.append(payload)
            got[i] = len(events)

    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    counts = []
    dropped_at = None
    for i, ev in enumerate(sent):
        deadline = time.monotonic() + 10
        while min(got) < i - 50:  # pace the leader to the fast followers only
            assert time.monotonic() < deadline, "fast followers stalled"
            time.sleep(0.001)
        leader.send(EVENT, ev)
        fr = leader.poll()
        while fr is not None:
            assert fr[0] == FOLLOWERS
            counts.append(struct.unpack(">I", fr[1])[0])
            if counts[-1] == 2 and dropped_at is None:
                dropped_at = i
            fr = leader.poll()
    leader.send(END)
    for t in threads:
        t.join(timeout=20)
    for r in results:
        assert r is not None, "a fast follower did not finish"
        assert r[0] == sent
        assert r[1] == (END, b"")
    assert dropped_at is not None, f"slow follower never dropped; counts={counts[-5:]}"
    # the slow one gets whole frames: a prefix of the stream, then ABORT slow, then EOF
    events, term = slow.read_stream(timeout=10)
    assert term == (ABORT, b"slow")
    assert 0 < len(events) < len(sent)
    assert events == sent[: len(events)]
    assert slow.closed()


def test_leader_gone_aborts_followers_promptly(coordd):
    leader = coordd.peer()
    assert leader.join(KEY) == (LEAD, b"")
    followers = [coordd.peer() for _ in range(3)]
    for f in followers:
        assert f.join(KEY) == (FOLLOW, b"")
    sent = [sse(i) for i in range(5)]
    for ev in sent:
        leader.send(EVENT, ev)
    leader.close()  # no END
    t0 = time.monotonic()
    for f in followers:
        events, term = f.read_stream(timeout=2)
        assert events == sent
        assert term == (ABORT, b"leader gone")
    assert time.monotonic() - t0 < 1.0
    again = coordd.peer()
    assert again.join(KEY) == (LEAD, b"")


def test_leader_abort_reaches_followers(coordd):
    leader, follower = coordd.peer(), coordd.peer()
    assert leader.join(KEY) == (LEAD, b"")
    assert follower.join(KEY) == (FOLLOW, b"")
    leader.send(EVENT, sse(0))
    leader.send(ABORT, b"upstream 502")
    assert follower.read_stream() == ([sse(0)], (ABORT, b"upstream 502"))


def test_follower_count_drops_when_followers_leave(coordd):
    leader = coordd.peer()
    assert leader.join(KEY) == (LEAD, b"")
    f1, f2 = coordd.peer(), coordd.peer()
    assert f1.join(KEY) == (FOLLOW, b"")
    assert f2.join(KEY) == (FOLLOW, b"")
    f1.close()
    f2.close()
    last = None
    deadline = time.monotonic() + 3
    while last != 0:
        ftype, payload = leader.recv(timeout=max(0.01, deadline - time.monotonic()))
        assert ftype == FOLLOWERS
        last = struct.unpack(">I", payload)[0]
    assert last == 0


@pytest.mark.parametrize(
    "garbage",
    [
        frame(99, b"x"),  # unknown type
        struct.pack(">IB", 0xFFFFFFF0, EVENT),  # over the frame size limit
        struct.pack(">I", 0),  # zero length
        frame(LEAD),  # a frame only the daemon sends
        frame(EVENT, b"data"),  # EVENT before JOIN
        frame(JOIN, b""),  # empty key
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_garbage_closes_only_that_connection(coordd, garbage):
    leader, follower = coordd.peer(), coordd.peer()
    assert leader.join(KEY) == (LEAD, b"")
    assert follower.join(KEY) == (FOLLOW, b"")
    leader.send(EVENT, sse(0))
    bad = coordd.peer()
    bad.sock.sendall(garbage)
    assert bad.closed(timeout=2)
    leader.send(EVENT, sse(1))
    leader.send(END)
    events, term = follower.read_stream()
    assert events == [sse(0), sse(1)] and term == (END, b"")
    p = coordd.peer()
    p.send(HELLO, b"\x01")
    assert p.recv() == (HELLO, b"\x01")


def test_follower_that_talks_is_closed_alone(coordd):
    leader, good, chatty = coordd.peer(), coordd.peer(), coordd.peer()
    assert leader.join(KEY) == (LEAD, b"")
    assert good.join(KEY) == (FOLLOW, b"")
    assert chatty.join(KEY) == (FOLLOW, b"")
    chatty.send(EVENT, b"not yours")
    assert chatty.closed()
    leader.send(EVENT, sse(0))
    leader.send(END)
    assert good.read_stream() == ([sse(0)], (END, b""))


def test_session_and_connection_limits(coordd_factory):
    d = coordd_factory("--max-sessions", "1", "--max-conns", "3")
    a, b = d.peer(), d.peer()
    assert a.join(b"key-a") == (LEAD, b"")
    assert b.join(b"key-b") == (ABORT, b"busy")
    assert b.join(b"key-a") == (FOLLOW, b"")  # still usable, and following is allowed
    c = d.peer()
    over = d.peer()  # the fourth connection
    assert over.closed()
    c.send(HELLO, b"\x01")
    assert c.recv() == (HELLO, b"\x01")


def test_a_burst_of_connects_waits_in_the_queue(coordd_factory):
    # every worker thread connects when it starts: a few worker processes
    # starting while the daemon is busy must find room in its accept queue
    # (a unix connect beyond a full queue fails at once, and goes direct)
    d = coordd_factory()
    pid = int(subprocess.check_output(["pgrep", "-P", str(d.proc.pid)]).split()[0])
    socks = []
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(600):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(d.path)
            except BlockingIOError:
                s.close()
                break
            socks.append(s)
    finally:
        os.kill(pid, signal.SIGCONT)
    try:
        assert len(socks) == 600
        last = socks[-1]
        last.setblocking(True)
        last.settimeout(5)
        last.sendall(frame(HELLO, b"\x01"))
        assert last.recv(16) == frame(HELLO, b"\x01")
    finally:
        for s in socks:
            s.close()


def test_stale_socket_file_is_replaced(coordd_factory, tmp_path):
    sub = tmp_path / "stale"
    sub.mkdir()
    path = str(sub / "coordd.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)  # a socket file nobody listens on, like a daemon that died
    s.close()
    assert os.path.exists(path)
    t0 = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        Peer(path)
    assert time.monotonic() - t0 < 0.1
    d = coordd_factory(sub="stale")
    assert d.path == path
    p = d.peer()
    assert p.join(KEY) == (LEAD, b"")


def test_live_socket_and_regular_file_are_not_replaced(coordd, tmp_path):
    # a second daemon on the same live socket refuses to start
    r = subprocess.run(
        ["timeout", "10", COORDD, "--socket", coordd.path], capture_output=True, timeout=15
    )
    assert r.returncode == 1
    assert b"another coordinator" in r.stderr
    p = coordd.peer()
    assert p.join(KEY) == (LEAD, b"")
    # a regular file is never deleted
    f = tmp_path / "not-a-socket"
    f.write_bytes(b"keep me")
    r = subprocess.run(["timeout", "10", COORDD, "--socket", str(f)], capture_output=True, timeout=15)
    assert r.returncode == 1
    assert f.read_bytes() == b"keep me"


def test_sigterm_exits_cleanly_and_removes_the_socket(coordd):
    p = coordd.peer()
    assert p.join(KEY) == (LEAD, b"")
    assert coordd.stop() == 0
    assert not os.path.exists(coordd.path)
    assert p.closed()


def test_tcp_listener(coordd_factory):
    d = coordd_factory("--listen", "127.0.0.1:0")
    port = None
    deadline = time.monotonic() + 5
    while port is None and time.monotonic() < deadline:
        with open(d.log.name, "rb") as f:
            for line in f:
                if b"listening tcp=127.0.0.1:" in line:
                    port = int(line.split(b"listening tcp=127.0.0.1:")[1].split()[0])
        time.sleep(0.01)
    assert port
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(frame(JOIN, KEY))
    assert s.recv(5) == struct.pack(">IB", 1, LEAD)
    s.close()


def test_bad_options_are_refused():
    for args in (["--queue-max", "0"], ["--queue-max", "12x"], ["--bogus"], ["--socket", "none"]):
        r = subprocess.run(["timeout", "10", COORDD, *args], capture_output=True, timeout=15)
        assert r.returncode == 2, args
    r = subprocess.run(["timeout", "10", COORDD, "--version"], capture_output=True, timeout=15)
    assert r.returncode == 0 and r.stdout.startswith(b"ccproxy-coordd ")


def test_stream_size_caps_abort_that_stream_only(coordd_factory):
    d = coordd_factory("--session-bytes", "4096", "--total-bytes", "5000")
    a, fa = d.peer(), d.peer()
    assert a.join(b"key-a") == (LEAD, b"")
    assert fa.join(b"key-a") == (FOLLOW, b"")
    big = b"x" * 1500
    a.send(EVENT, big)
    a.send(EVENT, big)
    # over this stream's cap: its leader and followers get ABORT "too large"
    a.send(EVENT, big)
    assert fa.read_stream() == ([big, big], (ABORT, b"too large"))
    fr = a.recv()
    while fr[0] == FOLLOWERS:
        fr = a.recv()
    assert fr == (ABORT, b"too large")
    assert a.closed()
    # the aborted stream still holds its bytes until its last follower is done
    b_, fb = d.peer(), d.peer()
    assert b_.join(b"key-b") == (LEAD, b"")
    assert fb.join(b"key-b") == (FOLLOW, b"")
    b_.send(EVENT, big)
    b_.send(EVENT, big)
    b_.send(END)
    assert fb.read_stream() == ([big, big], (END, b""))
    # over the total of all streams: this stream is aborted, others go on
    c, fc = d.peer(), d.peer()
    e, fe = d.peer(), d.peer()
    assert c.join(b"key-c") == (LEAD, b"")
    assert fc.join(b"key-c") == (FOLLOW, b"")
    assert e.join(b"key-e") == (LEAD, b"")
    assert fe.join(b"key-e") == (FOLLOW, b"")
    c.send(EVENT, big)
    c.send(EVENT, big)  # 2 x 1505 = 3010 bytes
    # frames on different connections have no order: let c's land first
    assert fc.recv() == (EVENT, big)
    assert fc.recv() == (EVENT, big)
    e.send(EVENT, big)  # 4515 in all
    e.send(EVENT, big)  # would be 6020 > 5000, though this stream is under its own cap
    assert fe.read_stream() == ([big], (ABORT, b"coordinator full"))
    c.send(END)
    assert fc.read_stream() == ([], (END, b""))
