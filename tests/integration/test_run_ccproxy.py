"""./run-ccproxy.sh, the README's first command, as a user runs it: --mock,
an empty .env, its own memcached (on a unix socket) and ccproxy-coordd;
answers, a repeat served from memcached, and Ctrl-C / SIGTERM stopping
every process it started."""

import json
import os
import signal
import subprocess
import time
import urllib.request

from harness import CLIENT_HEADERS, REPO, build_dir, free_port, wait_until


def procs_under(path):
    """PIDs of processes whose command line or environment mentions path
    (lighttpd and the workers have CCPROXY_RUN_DIR=path)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        text = b""
        for name in ("cmdline", "environ"):
            try:
                with open("/proc/%s/%s" % (pid, name), "rb") as f:
                    text += f.read() + b"\0"
            except OSError:
                pass
        if path.encode() in text:
            found.append(int(pid))
    return found


def post(base, body):
    req = urllib.request.Request(base + "/v1/messages", json.dumps(body).encode(),
                                 dict(CLIENT_HEADERS, **{"content-type": "application/json"}))
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.headers.get("x-ccproxy-cache"), json.loads(r.read())


def test_run_ccproxy_mock_starts_serves_and_stops(tmp_path):
    run_dir = tmp_path / "run"
    env_file = tmp_path / "empty.env"
    env_file.write_text("# nothing: defaults\n")
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "PORT": str(port), "CCPROXY_RUN_DIR": str(run_dir),
           "CCP_BUILD_DIR": str(build_dir()), "CCPROXY_ENV_FILE": str(env_file),
           "CCPROXY_PROCS": "2", "WORKER_THREADS": "4",
           # no in-process cache: the repeat below must come from memcached
           "RESPONSE_CACHE_LRU_MAX": "0"}
    log = open(tmp_path / "run-ccproxy.out", "w")
    p = subprocess.Popen([str(REPO / "run-ccproxy.sh"), "--mock"], env=env, stdout=log,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    base = "http://127.0.0.1:%d" % port
    try:
        def up():
            assert p.poll() is None, (tmp_path / "run-ccproxy.out").read_text()
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_until(up, 120, "run-ccproxy.sh to serve /health", step=0.2)
        hint = "export ANTHROPIC_BASE_URL=http://127.0.0.1:%d" % port
        wait_until(lambda: hint in (tmp_path / "run-ccproxy.out").read_text(), 10,
                   "run-ccproxy.sh to print " + hint)
        out = (tmp_path / "run-ccproxy.out").read_text()
        mc = [ln for ln in out.splitlines() if ln.startswith("run-ccproxy: memcached at /")]
        assert mc and mc[0].endswith("/memcached.sock"), out  # a unix socket
        sock = mc[0].split(" at ", 1)[1]
        assert os.path.exists(sock)
        body = {"model": "claude-sonnet-4-5-20250929", "max_tokens": 64,
                "messages": [{"role": "user", "content": "hello from the README"}]}
        status, cache, answer = post(base, body)
        assert status == 200 and cache == "miss"
        assert answer["type"] == "message" and answer["content"][0]["type"] == "text"
        status, cache, again = post(base, body)
        assert status == 200 and cache == "hit"
        assert again["content"] == answer["content"]
        started = procs_under(str(run_dir))
        # the script, mock, memcached, coordd, lighttpd, 2 workers
        assert len(started) >= 7, started
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)
        log.close()
    assert p.returncode == 143, (tmp_path / "run-ccproxy.out").read_text()
    deadline = time.monotonic() + 10
    while procs_under(str(run_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = procs_under(str(run_dir))
    for pid in left:  # never leave strays behind, even when failing
        os.kill(pid, signal.SIGKILL)
    assert not left, "run-ccproxy.sh left processes running: %s" % left
    assert not os.path.exists(sock), "the memcached socket outlived run-ccproxy.sh"
