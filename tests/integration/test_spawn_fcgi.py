"""spawn-fcgi + multiwatch on a unix socket behind lighttpd (TESTING.md D2):
the workers are started by the command line of contrib/systemd/ccproxy-fcgi.service,
lighttpd runs the top-level lighttpd-spawn-fcgi.conf; a killed worker is
restarted by multiwatch and the next request succeeds."""

import os
import shlex
import shutil
import signal
import socket
import subprocess

import pytest

from harness import (CONTRIB, LIGHTTPD_SPAWN_CONF, SYS_PATH, Proc, Server, check_nonstream,
                     check_stream_not_buffered, check_stream_tool_call, need, pids_of,
                     wait_until, worker_config, worker_path)

UNIT = CONTRIB / "systemd" / "ccproxy-fcgi.service"
COORD_UNIT = CONTRIB / "systemd" / "ccproxy-coordd.service"


def unit_exec_start(unit, substitutions):
    """argv of the unit's ExecStart= with its install paths replaced."""
    line = [x for x in unit.read_text().splitlines() if x.startswith("ExecStart=")]
    assert len(line) == 1, "%s: one ExecStart= expected" % unit
    cmd = line[0][len("ExecStart="):]
    for old, new in substitutions.items():
        assert old in cmd, "%s: %s not in ExecStart" % (unit, old)
        cmd = cmd.replace(old, new)
    return shlex.split(cmd)


def socket_accepts(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.fixture
def server(run_dir, mock):
    need("spawn-fcgi", "multiwatch", "lighttpd")
    worker = run_dir / "bin" / "ccproxy-fcgi"  # a copy: its PIDs are this test's
    worker.parent.mkdir()
    shutil.copyfile(worker_path(), worker)
    worker.chmod(0o755)
    sock = run_dir / "fcgi.sock"
    env_file = run_dir / "ccproxy.env"
    env_file.write_text(worker_config(mock.base_url, WORKER_THREADS="4"))
    # one worker, so the request after the kill needs the restarted one
    argv = unit_exec_start(UNIT, {"/run/ccproxy/fcgi.sock": str(sock),
                                  "/usr/local/bin/ccproxy-fcgi": str(worker),
                                  "${WORKERS}": "1"})
    workers = Proc(argv, {"PATH": SYS_PATH, "LANG": "C.UTF-8",
                          "CCPROXY_ENV_FILE": str(env_file)}, run_dir / "workers.log")
    srv = None
    try:
        wait_until(lambda: socket_accepts(sock) or not workers.alive(), 10,
                   "spawn-fcgi socket %s" % sock)
        assert workers.alive(), workers.output()
        wait_until(lambda: pids_of(worker), 10, "multiwatch to start the worker")
        srv = Server(["lighttpd", "-D", "-f", str(LIGHTTPD_SPAWN_CONF)],
                     {"PATH": SYS_PATH, "CCPROXY_RUN_DIR": str(run_dir),
                      "CCPROXY_BIND": "127.0.0.1", "CCPROXY_SOCKET": str(sock)},
                     run_dir, run_dir / "lighttpd-error.log", "lighttpd")
        srv.worker = worker
        srv.workers = workers
        yield srv
    finally:
        if srv is not None:
            srv.stop()
        workers.stop()  # timeout forwards SIGTERM: spawn-fcgi, multiwatch, workers
        try:
            wait_until(lambda: not pids_of(worker), 10, "workers to exit")
        finally:
            for pid in pids_of(worker):
                os.kill(pid, signal.SIGKILL)


def test_nonstream(server, mock):
    check_nonstream(server, mock)


def test_stream_not_buffered(server, mock):
    check_stream_not_buffered(server, mock)


def test_stream_tool_call(server, mock):
    check_stream_tool_call(server, mock)


def test_killed_worker_is_restarted(server, mock):
    before = pids_of(server.worker)
    assert len(before) == 1, before
    os.kill(before[0], signal.SIGKILL)
    wait_until(lambda: before[0] not in pids_of(server.worker), 5, "the worker to die")
    # no waiting for the restart: the request sits in the socket's backlog
    check_nonstream(server, mock)
    after = pids_of(server.worker)
    assert len(after) == 1 and after != before, (before, after)
    status, _, body = server.request("GET", "/health")
    assert status == 200, body


def test_systemd_units_verify(tmp_path):
    need("systemd-analyze")
    for unit, subst in ((UNIT, {"/usr/local/bin/ccproxy-fcgi": str(worker_path())}),
                        (COORD_UNIT, {"/usr/local/bin/ccproxy-coordd": "/bin/true"})):
        text = unit.read_text()
        for old, new in subst.items():
            assert old in text
            text = text.replace(old, new)
        copy = tmp_path / unit.name
        copy.write_text(text)
        res = subprocess.run(["timeout", "30", "systemd-analyze", "verify", str(copy)],
                             capture_output=True, text=True)
        out = "\n".join(line for line in (res.stdout + res.stderr).splitlines()
                        if str(copy) in line or unit.name in line)
        assert res.returncode == 0 and not out, res.stdout + res.stderr
