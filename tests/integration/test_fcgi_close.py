"""The worker's FastCGI connections, spoken to directly on a unix socket:
a finished request's connection is closed at once, so a web server that is
slow to close its side does not hold a worker thread (libfcgi's own close
waits up to 2 s for it, to avoid TCP resets, which a unix socket does not
have); a burst of connections is served in full, a connection the web
server keeps (FCGI_KEEP_CONN) carries request after request, one that never
sends anything is dropped after about 2 s (libfcgi's wait for a unix
connection's first bytes) and the worker goes on serving, SIGTERM stops
an idle worker at once, and an answer is ended before the worker writes its
request line, so a stuck log does not hold it."""

import fcntl
import os
import socket
import struct
import subprocess
import termios
import threading
import time

from harness import worker_path

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def record(rtype, content, req_id=1):
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, rtype, req_id, len(content), pad, 0) + content + b"\0" * pad


def nv(name, value):
    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return length(len(name)) + length(len(value)) + name + value


def send_health(sock, keep=False):
    params = b"".join(nv(k, v) for k, v in [(b"REQUEST_METHOD", b"GET"),
                                             (b"REQUEST_URI", b"/health"),
                                             (b"SCRIPT_NAME", b"/health")])
    sock.sendall(record(BEGIN, struct.pack(">HB5x", 1, 1 if keep else 0)) +
                 record(PARAMS, params) + record(PARAMS, b"") + record(STDIN, b""))


def read_answer(sock, deadline):
    """STDOUT bytes up to FCGI_END_REQUEST."""
    data, out = b"", b""
    while time.monotonic() < deadline:
        while len(data) >= 8:
            _, rtype, _, clen, pad, _ = struct.unpack(">BBHHBB", data[:8])
            if len(data) < 8 + clen + pad:
                break
            body, data = data[8:8 + clen], data[8 + clen + pad:]
            if rtype == STDOUT:
                out += body
            elif rtype == END:
                return out
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        assert chunk, "connection closed before FCGI_END_REQUEST"
        data += chunk
    raise AssertionError("no FCGI_END_REQUEST in time")


def start_worker(tmp_path, threads, backlog=16, log_level="WARNING", stderr=None):
    """A worker on its own listening unix socket: (path, process, log).
    Its log goes to worker.log, or to the file descriptor stderr."""
    path = str(tmp_path / "w.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(backlog)
    env_file = tmp_path / "w.env"
    env_file.write_text("")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CCPROXY_ENV_FILE": str(env_file),
           "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
           "WORKER_THREADS": str(threads), "MEMCACHED_SERVERS": "", "COORD_ADDRESSES": "",
           "LOG_LEVEL": log_level}
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen([str(worker_path())], stdin=listener.fileno(), stdout=log,
                              stderr=subprocess.STDOUT if stderr is None else stderr, env=env)
    listener.close()
    return path, worker, log


def stop_worker(worker, log):
    worker.terminate()
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=5)
    log.close()


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def test_unix_socket_connection_closed_without_waiting_for_the_server(tmp_path):
    path, worker, log = start_worker(tmp_path, 1)
    held = []
    try:
        # the web server reads the answer but keeps its end open
        first = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        first.connect(path)
        held.append(first)
        send_health(first)
        assert b"200 OK" in read_answer(first, time.monotonic() + 10)
        # the only thread is free at once for the next request
        t0 = time.monotonic()
        second = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        second.connect(path)
        held.append(second)
        send_health(second)
        assert b"200 OK" in read_answer(second, time.monotonic() + 10)
        took = time.monotonic() - t0
        assert took < 1.0, "the second request waited %.2f s for the first's close" % took
        # and the worker did close the first connection: end of file
        first.settimeout(2)
        assert first.recv(1) == b""
    finally:
        for s in held:
            s.close()
        stop_worker(worker, log)


def test_burst_of_connections_all_served(tmp_path):
    """200 connections made at once to 8 threads: every one answered."""
    path, worker, log = start_worker(tmp_path, 8, backlog=256)
    socks = []
    try:
        for _ in range(200):
            s = connect(path)
            send_health(s)
            socks.append(s)
        deadline = time.monotonic() + 30
        for s in socks:
            assert b"200 OK" in read_answer(s, deadline)
    finally:
        for s in socks:
            s.close()
        stop_worker(worker, log)


def test_kept_connection_carries_several_requests(tmp_path):
    """FCGI_KEEP_CONN: the connection stays open and its next requests are
    read and answered on it, not lost to a newly accepted one."""
    path, worker, log = start_worker(tmp_path, 2)
    kept = connect(path)
    other = None
    try:
        for _ in range(3):
            send_health(kept, keep=True)
            assert b"200 OK" in read_answer(kept, time.monotonic() + 10)
        # meanwhile other connections are served by the other thread
        other = connect(path)
        send_health(other)
        assert b"200 OK" in read_answer(other, time.monotonic() + 10)
        send_health(kept, keep=True)
        assert b"200 OK" in read_answer(kept, time.monotonic() + 10)
    finally:
        kept.close()
        if other is not None:
            other.close()
        stop_worker(worker, log)


def test_silent_connection_dropped_and_others_served(tmp_path):
    """A connection that never sends its request is closed after about 2 s
    (libfcgi waits that long for its first bytes, holding the accept turn
    meanwhile); the requests behind it are then answered."""
    path, worker, log = start_worker(tmp_path, 2)
    silent = connect(path)
    other = None
    try:
        time.sleep(0.2)
        t0 = time.monotonic()
        other = connect(path)
        send_health(other)
        assert b"200 OK" in read_answer(other, time.monotonic() + 10)
        assert time.monotonic() - t0 < 5.0
        silent.settimeout(10)
        assert silent.recv(1) == b""
        assert time.monotonic() - t0 < 5.0
        # and the worker goes on serving
        again = connect(path)
        send_health(again)
        assert b"200 OK" in read_answer(again, time.monotonic() + 10)
        again.close()
    finally:
        silent.close()
        if other is not None:
            other.close()
        stop_worker(worker, log)


def test_silent_connection_does_not_hold_up_the_next(tmp_path):
    """Two threads wait in accept: while libfcgi waits (up to 2 s) for the
    first bytes of a connection on which the web server sends nothing, the
    next connection is answered at once by the other one, not after those
    2 s."""
    path, worker, log = start_worker(tmp_path, 4)
    silent = other = None
    try:
        first = connect(path)  # the worker is up and serving
        send_health(first)
        assert b"200 OK" in read_answer(first, time.monotonic() + 10)
        first.close()
        silent = connect(path)
        time.sleep(0.2)  # taken by a thread, which now waits for its bytes
        t0 = time.monotonic()
        other = connect(path)
        send_health(other)
        assert b"200 OK" in read_answer(other, time.monotonic() + 10)
        assert time.monotonic() - t0 < 1.0
    finally:
        for s in (silent, other):
            if s is not None:
                s.close()
        stop_worker(worker, log)


def test_sigterm_stops_an_idle_worker_at_once(tmp_path):
    """Also with a kept connection idle between two requests."""
    path, worker, log = start_worker(tmp_path, 16)
    kept = None
    try:
        s = connect(path)
        send_health(s)
        assert b"200 OK" in read_answer(s, time.monotonic() + 10)
        s.close()
        kept = connect(path)
        send_health(kept, keep=True)
        assert b"200 OK" in read_answer(kept, time.monotonic() + 10)
        t0 = time.monotonic()
        worker.terminate()
        assert worker.wait(timeout=10) == 0
        assert time.monotonic() - t0 < 2.0
    finally:
        if kept is not None:
            kept.close()
        stop_worker(worker, log)


def pipe_bytes(fd):
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def test_answer_ends_before_the_request_line_is_written(tmp_path):
    """The request line (and the metrics) come after the answer's end
    records: with the worker's log a full pipe that nobody reads, a request
    is still answered in full and its connection closed; the thread then
    waits on the log, not the client."""
    rfd, wfd = os.pipe()
    path, worker, log = start_worker(tmp_path, 2, log_level="INFO", stderr=wfd)
    filler = None
    drained = threading.Event()
    try:
        s = connect(path)
        send_health(s)
        assert b"200 OK" in read_answer(s, time.monotonic() + 10)
        s.close()
        # fill the pipe; cat blocks once it is full
        filler = subprocess.Popen(["cat", "/dev/zero"], stdout=wfd)
        before, deadline = -1, time.monotonic() + 10
        while time.monotonic() < deadline:
            now = pipe_bytes(rfd)
            if now == before and now > 0:
                break
            before = now
            time.sleep(0.2)
        assert pipe_bytes(rfd) >= 4096, "the log pipe did not fill"
        s = connect(path)
        send_health(s)
        assert b"200 OK" in read_answer(s, time.monotonic() + 5)
        s.settimeout(5)
        assert s.recv(1) == b"", "the connection was not closed"
        s.close()
    finally:
        if filler is not None:
            filler.kill()
            filler.wait(timeout=5)

        def drain():
            while not drained.is_set():
                try:
                    if not os.read(rfd, 65536):
                        return
                except OSError:
                    return
        t = threading.Thread(target=drain, daemon=True)
        t.start()
        stop_worker(worker, log)
        drained.set()
        os.close(wfd)
        t.join(timeout=5)
        os.close(rfd)
