"""A worker whose FastCGI socket cannot accept (its web server gone, the
socket unusable) stops within seconds with a clear log line, so a supervisor
can start a fresh one, instead of spinning on accept() for ever."""

import os
import socket
import subprocess
import time

from harness import worker_path


def test_worker_stops_when_accept_keeps_failing(tmp_path):
    # a unix socket that is bound but not listening: libfcgi takes fd 0 for a
    # FastCGI socket (it has no peer), and every accept() on it fails
    path = str(tmp_path / "dead.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    env = {"PATH": "/usr/bin:/bin", "CCPROXY_ENV_FILE": os.devnull,
           "OPENAI_API_KEY": "sk-test", "MEMCACHED_SERVERS": "", "WORKER_THREADS": "2",
           "METRICS_SHM_PATH": str(tmp_path / "metrics")}
    log = open(tmp_path / "worker.log", "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen(["timeout", "-k", "5", "20", str(worker_path())], stdin=sock.fileno(),
                            stdout=subprocess.DEVNULL, stderr=log, env=env)
    try:
        rc = proc.wait(timeout=30)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        sock.close()
    text = (tmp_path / "worker.log").read_text(errors="replace")
    assert rc != 124, "the worker kept spinning until timeout killed it:\n" + text[-2000:]
    assert elapsed < 15, elapsed
    assert "FCGX_Accept_r failed 50 times in a row; stopping" in text, text[-2000:]
