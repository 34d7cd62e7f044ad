"""Shared hosting: the same ccproxy-fcgi binary as plain CGI (one process per
request), configured by a .env beside it, under Apache mod_cgi with
contrib/cgi/htaccess.example and under lighttpd mod_cgi with
contrib/cgi/lighttpd-cgi.conf."""

import json
import os

import pytest

from harness import (APACHE_MODULES, CONTRIB, SYS_PATH, PublicDir, Server, apache, apache_env,
                     check_nonstream, check_stream_not_buffered, check_stream_tool_call, need,
                     worker_config)

CGI = CONTRIB / "cgi"
SCRIPT = "/ccproxy/ccproxy.cgi"
MESSAGES = SCRIPT + "/v1/messages"


def web_space(pub, mock):
    """What a user uploads: the binary renamed, its .env and the .htaccess."""
    pub.copy_worker("www/ccproxy/ccproxy.cgi")
    pub.write("www/ccproxy/.env", worker_config(mock.base_url))
    pub.write("www/ccproxy/.htaccess", (CGI / "htaccess.example").read_text())
    (pub.path / "www").chmod(0o755)
    return pub.path / "www"


@pytest.fixture(params=["apache", "lighttpd"])
def server(request, mock):
    if request.param == "apache":
        need("apache2")
        if not os.path.exists(os.path.join(APACHE_MODULES, "mod_cgi.so")):
            pytest.skip("mod_cgi is not installed (apache2)")
    else:
        need("lighttpd")
    pub = PublicDir("ccp-cgi-")
    print("server dir (error log, access log): %s" % pub.path)
    docroot = web_space(pub, mock)
    if request.param == "apache":
        srv = apache(CGI / "apache-cgi.conf",
                     apache_env(pub.path, CCPROXY_DOCROOT=str(docroot)), pub.path)
    else:
        srv = Server(["lighttpd", "-D", "-f", str(CGI / "lighttpd-cgi.conf")],
                     {"PATH": SYS_PATH, "CCPROXY_RUN_DIR": str(pub.path),
                      "CCPROXY_BIND": "127.0.0.1", "CCPROXY_DOCROOT": str(docroot)},
                     pub.path, pub.path / "lighttpd-error.log", "lighttpd")
    yield srv
    srv.stop()
    pub.remove()


def test_health_and_env_file_not_served(server, mock):
    status, _, body = server.request("GET", SCRIPT + "/health")
    assert status == 200 and json.loads(body)["status"] == "ok", body
    status, _, body = server.request("GET", "/ccproxy/.env")
    assert status in (403, 404), status
    assert b"sk-test-upstream-key" not in body
    assert mock.requests() == []


def test_nonstream(server, mock):
    check_nonstream(server, mock, path=MESSAGES)


def test_stream_not_buffered(server, mock):
    check_stream_not_buffered(server, mock, path=MESSAGES)


def test_stream_tool_call(server, mock):
    check_stream_tool_call(server, mock, path=MESSAGES)
