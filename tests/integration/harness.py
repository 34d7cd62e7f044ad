"""Harness for the integration and e2e suites: the mock OpenAI upstream and lighttpd
with the top-level lighttpd.conf running ccproxy-fcgi, all on 127.0.0.1.

Each test gets its own run directory, mock and lighttpd (and so its own
workers). Every process runs under `timeout` and is stopped by its PID.
The worker binary is $CCP_BUILD_DIR/ccproxy-fcgi (default: the top of the
repository, an in-tree build). lighttpd starts $CCP_WORKER_WRAPPER instead
when it is set (run-tests.sh --long: a script that execs the worker under
valgrind). ASAN_OPTIONS and UBSAN_OPTIONS, when set, reach the workers
(run-tests.sh sets them for the ASan build).
"""

import http.client
import json
import os
import signal
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
SANITIZER_OPTIONS = ("ASAN_OPTIONS", "UBSAN_OPTIONS")


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

    def __init__(self, argv, env, log_path, cwd=None, append=False):
        self.log_path = log_path
        self.log = open(log_path, "ab" if append else "wb")
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


def stray_workers(run_dir):
    """PIDs of ccproxy-fcgi processes configured from this test's run dir
    (their CCPROXY_ENV_FILE lies in it) that are still running."""
    mark = ("CCPROXY_ENV_FILE=" + str(run_dir)).encode()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if not os.readlink("/proc/%s/exe" % d).endswith("ccproxy-fcgi"):
                continue
            if not is_running(int(d)):
                continue
            with open("/proc/%s/environ" % d, "rb") as f:
                if mark in f.read():
                    found.append(int(d))
        except OSError:
            continue
    return found


def stop_stray_workers(run_dir):
    """Stop, by PID, workers the web server left behind. Workers finish their
    requests after the server's SIGTERM, so give them a moment first; one the
    server was still (re)starting while it shut down is not its child any
    more and would keep running after the test."""
    deadline = time.monotonic() + 3
    strays = stray_workers(run_dir)
    while strays and time.monotonic() < deadline:
        time.sleep(0.05)
        strays = [p for p in strays if is_running(p)]
    for pid in strays:
        print("stopping stray worker %d of %s" % (pid, run_dir))
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 5
    while strays and time.monotonic() < deadline:
        time.sleep(0.05)
        strays = [p for p in strays if is_running(p)]
    for pid in strays:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def is_running(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


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
        # Our own env file: the worker must not pick up a .env from elsewhere,
        # nor a memcached that happens to run on this machine (tests that want
        # one start their own and pass their own env file).
        env_file = run_dir / "test.env"
        env_file.write_text("MEMCACHED_SERVERS=\n")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "CCPROXY_BIN": os.environ.get("CCP_WORKER_WRAPPER") or str(worker),
            "CCPROXY_RUN_DIR": str(run_dir),
            "CCPROXY_BIND": "127.0.0.1",
            "CCPROXY_PROCS": "2",
            "CCPROXY_ENV_FILE": str(env_file),
            "OPENAI_API_KEY": UPSTREAM_KEY,
            "OPENAI_BASE_URL": mock_base_url,
            "BIG_MODEL_NAME": BIG_MODEL,
            "SMALL_MODEL_NAME": SMALL_MODEL,
            "LOG_LEVEL": "DEBUG",
            "WORKER_THREADS": "4",
        }
        # sanitizer options of an ASan build (lighttpd.conf copies them)
        for name in SANITIZER_OPTIONS:
            if os.environ.get(name):
                env[name] = os.environ[name]
        # run-tests.sh runs the suite once per upstream transport
        if os.environ.get("UPSTREAM_MULTI"):
            env["UPSTREAM_MULTI"] = os.environ["UPSTREAM_MULTI"]
        env.update(extra_env or {})
        # The workers inherit lighttpd's stderr; under -D that is not
        # server.errorlog, so send it there (both append) as a service
        # manager would collect it: one log with lighttpd's and the
        # workers' lines, including the JSON request lines.

        def start(port, _attempt):
            return Proc(["lighttpd", "-D", "-f", str(LIGHTTPD_CONF)], dict(env, PORT=str(port)),
                        run_dir / "lighttpd-error.log", append=True)

        self._start(start, "lighttpd", 10)

    def _start(self, start, what, timeout):
        """self.proc = start(port, attempt) on a free port, up to 3 attempts
        (the port may be taken in between), until it accepts connections."""
        last_error = ""
        for attempt in range(3):
            self.port = free_port()
            self.proc = start(self.port, attempt)
            try:
                wait_until(lambda: can_connect(self.port) or not self.proc.alive(), timeout,
                           "%s to accept on port %d" % (what, self.port))
            except AssertionError:
                self.proc.stop()
                raise
            if self.proc.alive():
                return
            last_error = self.proc.output() + self.error_log()
            self.proc.stop()
        pytest.fail("%s did not start: %s" % (what, last_error))

    def error_log(self):
        try:
            return (self.run_dir / "lighttpd-error.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        self.proc.stop()
        stop_stray_workers(self.run_dir)

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


# ---- other deployments: Apache, spawn-fcgi, plain CGI ---------------------
# (tests/integration/test_apache.py, test_spawn_fcgi.py, test_cgi.py)

import grp  # noqa: E402
import pwd  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

APACHE_CONF = REPO / "apache-example.conf"
LIGHTTPD_SPAWN_CONF = REPO / "lighttpd-spawn-fcgi.conf"
CONTRIB = REPO / "contrib"
APACHE_MODULES = "/usr/lib/apache2/modules"
SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def need(*programs):
    """Skip (visibly) when a server program is not installed."""
    for p in programs:
        if shutil.which(p, path=SYS_PATH) is None:
            pytest.skip("%s is not installed (run-tests.sh installs it)" % p)


def worker_config(mock_base_url, **extra):
    """The worker configuration the lighttpd tests use, as .env text."""
    conf = {"OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": mock_base_url,
            "BIG_MODEL_NAME": BIG_MODEL, "SMALL_MODEL_NAME": SMALL_MODEL,
            "LOG_LEVEL": "DEBUG", "MEMCACHED_SERVERS": ""}
    conf.update(extra)
    return "".join("%s=%s\n" % kv for kv in conf.items())


class PublicDir:
    """A temporary directory the web server's account can read (Apache drops
    root for www-data; pytest's own directories are private to root)."""

    def __init__(self, prefix):
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self.path.chmod(0o755)

    def copy_worker(self, rel):
        dst = self.path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.parent.chmod(0o755)
        shutil.copyfile(worker_path(), dst)
        dst.chmod(0o755)
        return dst

    def write(self, rel, text, mode=0o644):
        dst = self.path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(text)
        dst.chmod(mode)
        return dst

    def remove(self):
        if not os.environ.get("CCP_KEEP_TMP"):
            shutil.rmtree(self.path, ignore_errors=True)


def server_account():
    """(user, group) for Apache's User/Group: www-data when we are root."""
    if os.getuid() == 0:
        return "www-data", "www-data"
    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name


def pids_of(exe):
    """PIDs of the running processes whose executable is `exe`."""
    found = []
    exe = str(exe)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/exe" % d) == exe:
                found.append(int(d))
        except OSError:
            continue
    return found


class Server(Proxy):
    """An HTTP server started from `argv` on a free port (given to it as PORT
    in its environment), with the client methods of Proxy."""

    def __init__(self, argv, env, run_dir, error_log, what):
        self.run_dir = run_dir
        self.error_path = error_log

        def start(port, attempt):
            return Proc(argv, dict(env, PORT=str(port)),
                        run_dir / ("%s-%d.out" % (what, attempt)))

        self._start(start, what, 15)

    def error_log(self):
        try:
            return Path(self.error_path).read_text(errors="replace")
        except OSError:
            return ""


def apache_env(run_dir, **extra):
    """Environment for apache-example.conf and contrib/cgi/apache-cgi.conf."""
    user, group = server_account()
    env = {"PATH": SYS_PATH, "LANG": "C.UTF-8", "CCPROXY_RUN_DIR": str(run_dir),
           "CCPROXY_BIND": "127.0.0.1", "APACHE_RUN_USER": user, "APACHE_RUN_GROUP": group,
           "APACHE_MODULES": APACHE_MODULES}
    env.update(extra)
    return env


def apache(conf, env, run_dir):
    """apache2 in the foreground with its own configuration file."""
    return Server(["apache2", "-f", str(conf), "-DFOREGROUND"], env, run_dir,
                  run_dir / "apache-error.log", "apache2")


def user_message(text, stream=False, model="claude-sonnet-4-5-20250929", **extra):
    """A Claude Code style request body with one user turn."""
    body = {"model": model, "max_tokens": 1024, "stream": stream,
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}
    body.update(extra)
    return body


def stream_arrivals(server, body, path="/v1/messages", marker=b"text_delta"):
    """Send a streaming request; seconds after sending at which each SSE line
    containing `marker` arrived, and the whole body."""
    conn = server.conn()
    try:
        conn.request("POST", path, body=json.dumps(body),
                     headers=dict(CLIENT_HEADERS, **{"Content-Type": "application/json"}))
        t0 = time.monotonic()
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()[:500]
        arrivals, raw = [], b""
        while True:
            line = resp.readline()
            if not line:
                break
            raw += line
            if marker in line:
                arrivals.append(time.monotonic() - t0)
        return arrivals, raw
    finally:
        conn.close()


BASH_TOOL = {
    "name": "Bash",
    "description": "Run a shell command.",
    "input_schema": {"type": "object",
                     "properties": {"command": {"type": "string"},
                                    "description": {"type": "string"}},
                     "required": ["command"]},
}


def check_stream_tool_call(server, mock, path="/v1/messages"):
    """A streamed tool call arrives as one tool_use block with the exact input."""
    args = {"command": "ls -la /tmp | head -n 3", "description": "List \"tmp\" files"}
    mock.script({"kind": "tool_calls", "text": "Let me look.",
                 "calls": [{"id": "call_abc123", "name": "Bash", "arguments": args,
                            "fragments": 5}]})
    status, headers, raw = server.messages(
        user_message("list tmp", stream=True, tools=[BASH_TOOL]), path=path)
    assert status == 200, raw[:500]
    assert headers.get("content-type", "").startswith("text/event-stream")
    events = parse_sse(raw)
    tools = [d for n, d in events
             if n == "content_block_start" and d["content_block"]["type"] == "tool_use"]
    assert len(tools) == 1, events
    block = tools[0]
    assert block["content_block"]["id"] == "call_abc123"
    assert block["content_block"]["name"] == "Bash"
    parts = "".join(d["delta"]["partial_json"] for n, d in events
                    if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta")
    assert json.loads(parts) == args
    stop = [d for n, d in events if n == "message_delta"][0]
    assert stop["delta"]["stop_reason"] == "tool_use"
    assert [n for n, _ in events if n != "ping"][-1] == "message_stop"


def check_stream_not_buffered(server, mock, path="/v1/messages"):
    """Events reach the client as the upstream sends them: the mock pauses
    0.4 s before each chunk after its first (text at 0.4, 0.8, 1.2, 1.6 s)."""
    mock.script({"kind": "slow", "chunks": ["one ", "two ", "three ", "four"], "delay": 0.4})
    arrivals, raw = stream_arrivals(server, user_message("hi", stream=True), path=path)
    assert len(arrivals) == 4, raw[:1000]
    assert arrivals[0] < 0.4 + 0.3, "first text delta after %.2f s: buffered" % arrivals[0]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert min(gaps) > 0.25, "deltas arrived together %r: response is buffered" % gaps
    events = parse_sse(raw)
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text == "one two three four"
    assert [n for n, _ in events if n != "ping"][-1] == "message_stop"


def check_nonstream(server, mock, path="/v1/messages"):
    mock.script({"kind": "text", "text": "Hello there, friend."})
    status, _, raw = server.messages(user_message("Say hi"), path=path)
    assert status == 200, raw[:500]
    msg = json.loads(raw)
    assert msg["type"] == "message" and msg["role"] == "assistant"
    assert msg["content"] == [{"type": "text", "text": "Hello there, friend."}]
    assert msg["stop_reason"] == "end_turn"
    reqs = mock.requests()
    assert len(reqs) == 1 and reqs[0]["body"]["model"] == BIG_MODEL
    auth = [v for k, v in reqs[0]["headers"] if k.lower() == "authorization"]
    assert auth == ["Bearer " + UPSTREAM_KEY]


def text_of_last_user(openai_body):
    """Text of the last message of an OpenAI request body."""
    content = openai_body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict))


MEMCACHED_BIN = shutil.which("memcached") or "/usr/bin/memcached"


class Memcached:
    """memcached on one port; start() again after stop() reuses the port."""

    def __init__(self, run_dir):
        if not os.access(MEMCACHED_BIN, os.X_OK):
            pytest.skip("memcached is not installed (apt-get install memcached)")
        self.run_dir = run_dir
        self.port = free_port()
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        argv = [MEMCACHED_BIN, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "16",
                "-t", "2"]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]  # memcached refuses to run as root without -u
        self.proc = Proc(argv, dict(os.environ),
                         self.run_dir / ("memcached-%d.log" % self.starts))
        wait_until(lambda: can_connect(self.port) or not self.proc.alive(), 10,
                   "memcached to accept")
        assert self.proc.alive(), self.proc.output()

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


class Coordd:
    """ccproxy-coordd on a unix socket in the run dir (and optionally TCP)."""

    def __init__(self, run_dir, name="coordd", tcp=False, args=()):
        binary = build_dir() / "ccproxy-coordd"
        if not os.access(binary, os.X_OK):
            pytest.fail("no ccproxy-coordd at %s: build first or set CCP_BUILD_DIR" % binary)
        self.path = str(run_dir / (name + ".sock"))
        self.port = free_port() if tcp else None
        argv = [str(binary), "--socket", self.path, "--log-level", "DEBUG", *args]
        if tcp:
            argv += ["--listen", "127.0.0.1:%d" % self.port]
        self.proc = Proc(argv, dict(os.environ), run_dir / (name + ".log"))
        wait_until(lambda: self.ready() or not self.proc.alive(), 10, "coordd to listen")
        assert self.proc.alive(), self.proc.output()

    def ready(self):
        if self.port is not None and not can_connect(self.port):
            return False
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.path)
            return True
        except OSError:
            return False
        finally:
            s.close()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port if self.port is not None else self.path

    def kill(self):
        """SIGKILL the daemon itself (not the timeout wrapper)."""
        out = os.popen("pgrep -P %d" % self.proc.pid).read().split()
        for pid in out:
            os.kill(int(pid), signal.SIGKILL)
        wait_until(lambda: not self.ready(), 5, "coordd to die")

    def stop(self):
        self.proc.stop()


# ---- fixtures, imported by the integration and e2e conftest.py ----------------


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    return d


@pytest.fixture
def mock(run_dir):
    m = Mock(run_dir)
    yield m
    m.proc.stop()


@pytest.fixture
def proxy(run_dir, mock):
    # Shown with a failing test: where the logs of this run are.
    print("run dir (lighttpd-error.log, access.log, mock.log): %s" % run_dir)
    p = Proxy(run_dir, mock.base_url)
    yield p
    p.stop()


@pytest.fixture
def memcached(run_dir):
    """A real memcached on a free 127.0.0.1 port, stopped by PID."""
    m = Memcached(run_dir)
    m.start()
    yield m
    m.stop()


@pytest.fixture
def coordd(run_dir):
    """ccproxy-coordd on a unix socket in the run dir, stopped by PID."""
    c = Coordd(run_dir)
    yield c
    c.stop()


def nghttpx_upstream(run_dir, mock, name, extra_args=()):
    """nghttpx (TLS, a self-signed certificate for 127.0.0.1) on a free port
    in front of the mock; returns (Proc, base_url, cert). The caller stops
    the Proc. Skips the test without nghttpx or openssl."""
    need("nghttpx", "openssl")
    key, cert = run_dir / ("%s.key" % name), run_dir / ("%s.crt" % name)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    port = free_port()
    proc = Proc(["nghttpx", "--frontend=127.0.0.1,%d" % port,
                 "--backend=127.0.0.1,%d" % mock.port, "--workers=1", "--no-ocsp",
                 "--backend-connections-per-frontend=0"] + list(extra_args) +
                ["--errorlog-file=%s" % (run_dir / "nghttpx-error.log"), str(key), str(cert)],
                {"PATH": "/usr/sbin:/usr/bin:/bin"}, run_dir / "nghttpx.log")
    try:
        wait_until(lambda: can_connect(port) or not proc.alive(), 10, "nghttpx to accept")
        assert proc.alive(), "nghttpx died: " + proc.output()
    except BaseException:
        proc.stop()
        raise
    return proc, "https://127.0.0.1:%d/v1" % port, cert
