"""Worker options from issue 4: MODEL_RULES (checked at start-up), the
X-Claude-Code-Session-Id header as prompt_cache_key, the user and
prompt_cache_key switches, and the warning header for dropped server tools."""

import json
import os
import subprocess

import pytest

from harness import BIG_MODEL, Proxy, worker_path

SONNET = "claude-sonnet-4-5-20250929"
USER_ID = json.dumps({"device_id": "dev-1", "account_uuid": "",
                      "session_id": "sess-from-metadata"})


def body(**extra):
    b = {"model": SONNET, "max_tokens": 5000, "metadata": {"user_id": USER_ID},
         "messages": [{"role": "user", "content": "hi"}]}
    b.update(extra)
    return b


def upstream_body(mock):
    reqs = [r for r in mock.requests() if r["path"].endswith("/chat/completions")]
    assert len(reqs) == 1, len(reqs)
    return reqs[0]["body"]


@pytest.fixture
def make_proxy(run_dir, mock):
    made = []

    def make(env):
        p = Proxy(run_dir, mock.base_url, env)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


def test_model_rules_applied(make_proxy, mock):
    # the big model is "gpt-mock-big"-like: a rule for it clamps max_tokens
    # and switches sampling off
    proxy = make_proxy({"MODEL_RULES": "%s:max_output=1234,sampling=no" % BIG_MODEL})
    status, _, raw = proxy.messages(body(temperature=0.3))
    assert status == 200, raw
    up = upstream_body(mock)
    cap = up.get("max_tokens", up.get("max_completion_tokens"))
    assert cap == 1234, up
    assert "temperature" not in up


def test_bad_model_rules_refused_at_start_up():
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CCPROXY_ENV_FILE": "/dev/null",
           "MODEL_RULES": "gpt-4o*:vision=maybe"}
    res = subprocess.run([str(worker_path()), "--check-config"], env=env, capture_output=True,
                         text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert res.returncode == 1
    assert "MODEL_RULES" in res.stderr and "gpt-4o*" in res.stderr, res.stderr


def test_session_header_is_prompt_cache_key(make_proxy, mock):
    proxy = make_proxy({})
    status, _, raw = proxy.messages(body(), headers={"X-Claude-Code-Session-Id": "sess-hdr-42"})
    assert status == 200, raw
    up = upstream_body(mock)
    assert up["prompt_cache_key"] == "sess-hdr-42"
    assert up["user"].startswith("u_")  # user_id over 64 bytes: hashed
    # without the header the session inside metadata.user_id is used, on the
    # same worker thread: nothing of the previous request sticks
    mock.reset()
    status, _, raw = proxy.messages(body())
    assert status == 200, raw
    assert upstream_body(mock)["prompt_cache_key"] == "sess-from-metadata"


def test_user_and_prompt_cache_key_switches(make_proxy, mock):
    proxy = make_proxy({"PROMPT_CACHE_KEY_ENABLED": "false", "UPSTREAM_USER_ENABLED": "false"})
    status, _, raw = proxy.messages(body(), headers={"X-Claude-Code-Session-Id": "sess-hdr-42"})
    assert status == 200, raw
    up = upstream_body(mock)
    assert "prompt_cache_key" not in up and "user" not in up, up


def test_dropped_server_tool_warning_header(make_proxy, mock):
    proxy = make_proxy({})
    tools = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
             {"name": "Bash", "description": "run", "input_schema": {
                 "type": "object", "properties": {"command": {"type": "string"}}}}]
    for stream in (False, True):
        mock.reset()
        status, headers, raw = proxy.messages(body(tools=tools, stream=stream))
        assert status == 200, raw
        assert headers.get("x-ccproxy-warning") == "dropped server tools: web_search", headers
        assert [t["function"]["name"] for t in upstream_body(mock)["tools"]] == ["Bash"]
    status, headers, raw = proxy.messages(body())
    assert "x-ccproxy-warning" not in headers
