"""Harness for the integration and e2e suites: the mock OpenAI upstream and lighttpd
with the top-level lighttpd.conf running ccproxy-fcgi, all on 127.0.0.1.

Each test gets its own run directory, mock and lighttpd (and so its own
workers). Every process runs under `timeout` and is stopped by its PID.
The worker binary is $CCP_BUILD_DIR/ccproxy-fcgi (default: the top of the
repository, an in-tree build).
"""

import http.client
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MOCK = REPO / "tests" / "mock" / "mock_openai.py"
LIGHTTPD_CONF = REPO / "lighttpd.conf"
UPSTREAM_KEY = "sk-test-upstream-key-123"
BIG_MODEL = "gpt-mock-big"
SMALL_MODEL = "gpt-mock-small"
PROC_LIMIT_S = "600"  # hard cap on any process a test starts


def build_dir():
    return Path(os.environ.get("CCP_BUILD_DIR") or REPO)


def worker_path():
    return build_dir() / "ccproxy-fcgi"


def wait_until(pred, timeout, what, step=0.02):
    """Poll pred() until it is truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(step)


def can_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A process started under `timeout`, stopped by its PID."""

    def __init__(self, argv, env, log_path, cwd=None):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.popen = subprocess.Popen(["timeout", "-k", "5", PROC_LIMIT_S] + argv, env=env,
                                      stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd,
                                      stdin=subprocess.DEVNULL)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self):
        if self.popen.poll() is None:
            self.popen.terminate()  # timeout forwards SIGTERM to its child
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self.log.close()

    def output(self):
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""


class Mock:
    """The mock upstream and its control API."""

    def __init__(self, run_dir):
        port_file = run_dir / "mock.port"
        self.proc = Proc(["/usr/bin/python3", str(MOCK), "--port", "0", "--port-file",
                          str(port_file), "--quiet"], dict(os.environ), run_dir / "mock.log")
        try:
            wait_until(lambda: port_file.exists() or not self.proc.alive(), 10,
                       "mock port file")
            assert self.proc.alive(), "mock died: " + self.proc.output()
            self.port = int(port_file.read_text())
            self.base_url = "http://127.0.0.1:%d/v1" % self.port
            wait_until(lambda: can_connect(self.port), 10, "mock to accept")
        except BaseException:
            self.proc.stop()
            raise

    def _call(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            resp = conn.getresponse()
            return json.loads(resp.read())
        finally:
            conn.close()

    def script(self, *replies):
        self._call("POST", "/_mock/script", list(replies))

    def requests(self):
        return self._call("GET", "/_mock/requests")

    def streams(self):
        return self._call("GET", "/_mock/streams")

    def reset(self):
        self._call("POST", "/_mock/reset", {})


class Proxy:
    """lighttpd with the top-level lighttpd.conf and ccproxy-fcgi workers."""

    def __init__(self, run_dir, mock_base_url, extra_env=None):
        worker = worker_path()
        if not os.access(worker, os.X_OK):
            pytest.fail("no worker binary at %s: build first or set CCP_BUILD_DIR" % worker)
        self.run_dir = run_dir
        last_error = ""
        # Our own env file: the worker must not pick up a .env from elsewhere,
        # nor a memcached that happens to run on this machine (tests that want
        # one start their own and pass their own env file).
        env_file = run_dir / "test.env"
        env_file.write_text("MEMCACHED_SERVERS=\n")
        for _attempt in range(3):  # the free port may be taken in between: retry
            self.port = free_port()
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "CCPROXY_BIN": str(worker),
                "CCPROXY_RUN_DIR": str(run_dir),
                "CCPROXY_BIND": "127.0.0.1",
                "PORT": str(self.port),
                "CCPROXY_PROCS": "2",
                "CCPROXY_ENV_FILE": str(env_file),
                "OPENAI_API_KEY": UPSTREAM_KEY,
                "OPENAI_BASE_URL": mock_base_url,
                "BIG_MODEL_NAME": BIG_MODEL,
                "SMALL_MODEL_NAME": SMALL_MODEL,
                "LOG_LEVEL": "DEBUG",
                "WORKER_THREADS": "4",
            }
            env.update(extra_env or {})
            self.proc = Proc(["lighttpd", "-D", "-f", str(LIGHTTPD_CONF)], env,
                             run_dir / "lighttpd.out")
            try:
                wait_until(lambda: can_connect(self.port) or not self.proc.alive(), 10,
                           "lighttpd to accept on port %d" % self.port)
            except AssertionError:
                self.proc.stop()
                raise
            if self.proc.alive():
                return
            last_error = self.proc.output() + self.error_log()
            self.proc.stop()
        pytest.fail("lighttpd did not start: " + last_error)

    def error_log(self):
        try:
            return (self.run_dir / "lighttpd-error.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        self.proc.stop()

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=30):
        """One request; returns (status, headers dict lower-cased, body bytes)."""
        conn = self.conn(timeout)
        try:
            hdrs = dict(headers or {})
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                hdrs.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw
        finally:
            conn.close()

    def messages(self, body, path="/v1/messages", headers=None, timeout=30):
        hdrs = dict(CLIENT_HEADERS)
        hdrs.update(headers or {})
        return self.request("POST", path, body, hdrs, timeout)


# What Claude Code sends besides the body (see /work/shared/claude-code).
CLIENT_HEADERS = {
    "x-api-key": "sk-ant-client-key-456",
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
    "x-app": "cli",
    "User-Agent": "claude-cli/2.1.331 (external, cli)",
}


def parse_sse(raw):
    """Anthropic SSE bytes -> list of (event name, data object)."""
    events = []
    text = raw.decode("utf-8")
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[len("event:"):].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:"):].lstrip(" "))
        payload = json.loads("\n".join(data)) if data else None
        events.append((name, payload))
    return events
