"""Apache httpd 2.4 + mod_fcgid (TESTING.md D3): client -> apache2 running the
top-level apache-example.conf -> ccproxy-fcgi -> mock upstream, on 127.0.0.1."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from harness import (APACHE_CONF, APACHE_MODULES, PublicDir, apache, apache_env,
                     check_nonstream, check_stream_not_buffered, check_stream_tool_call,
                     need, pids_of, text_of_last_user, user_message, wait_until, worker_config)


def setup_env(pub, mock):
    worker = pub.copy_worker("bin/ccproxy-fcgi")
    env_file = pub.write("ccproxy.env", worker_config(mock.base_url))
    return worker, apache_env(pub.path, CCPROXY_BIN=str(worker), CCPROXY_PROCS="4",
                              CCPROXY_ENV_FILE=str(env_file))


@pytest.fixture
def server(mock):
    need("apache2")
    if not os.path.exists(os.path.join(APACHE_MODULES, "mod_fcgid.so")):
        pytest.skip("mod_fcgid is not installed (libapache2-mod-fcgid)")
    pub = PublicDir("ccp-apache-")
    print("apache dir (apache-error.log, access.log): %s" % pub.path)
    worker, env = setup_env(pub, mock)
    srv = apache(APACHE_CONF, env, pub.path)
    srv.worker = worker
    yield srv
    srv.stop()
    try:
        # mod_fcgid stops its workers with the server
        wait_until(lambda: not pids_of(worker), 10, "mod_fcgid workers to exit")
    finally:
        for pid in pids_of(worker):
            os.kill(pid, 9)
        pub.remove()


def test_config_syntax_and_documented_settings(mock):
    need("apache2")
    pub = PublicDir("ccp-apache-")
    try:
        _, env = setup_env(pub, mock)
        res = subprocess.run(["timeout", "20", "apache2", "-t", "-f", str(APACHE_CONF)],
                             env=dict(env, PORT="8082"), capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr
        # every ${NAME} the file uses is set: Apache only warns about unset ones
        assert "not defined" not in res.stderr, res.stderr
    finally:
        pub.remove()
    text = APACHE_CONF.read_text()
    settings = dict(re.findall(r"^\s*(Fcgid\w+)\s+(\S+)", text, re.M))
    assert settings["FcgidOutputBufferSize"] == "0"
    assert int(settings["FcgidMaxRequestLen"]) >= 64 * 1024 * 1024
    assert int(settings["FcgidIOTimeout"]) >= 600
    assert int(settings["FcgidBusyTimeout"]) > 600  # above MAX_STREAM_SECONDS


def test_health_and_probes(server, mock):
    status, _, body = server.request("GET", "/health")
    assert status == 200 and json.loads(body)["status"] == "ok", body
    status, _, body = server.request("HEAD", "/")
    assert status == 200 and body == b""
    status, _, body = server.request("GET", "/v1/no-such-thing")
    assert status == 404 and json.loads(body)["type"] == "error"
    assert mock.requests() == []


def test_nonstream(server, mock):
    check_nonstream(server, mock)


def test_stream_not_buffered(server, mock):
    check_stream_not_buffered(server, mock)


def test_stream_tool_call(server, mock):
    check_stream_tool_call(server, mock)


def test_two_megabyte_body(server, mock):
    """Above mod_fcgid's default FcgidMaxRequestLen (131072) by 16 times."""
    big = "0123456789abcdef" * (2 * 1024 * 1024 // 16)
    status, _, raw = server.messages(user_message("Summarise: " + big), timeout=60)
    assert status == 200, raw[:500]
    assert json.loads(raw)["type"] == "message"
    reqs = mock.requests()
    assert len(reqs) == 1 and reqs[0]["body_bytes"] > 2 * 1024 * 1024
    assert big in text_of_last_user(reqs[0]["body"])


def test_worker_log_lands_in_apache_error_log(server, mock):
    check_nonstream(server, mock)
    log = Path(server.error_path)
    wait_until(lambda: '"path":"/v1/messages"' in log.read_text(errors="replace"), 5,
               "the worker's request line in %s" % log)
    assert "sk-test-upstream-key" not in log.read_text(errors="replace")
