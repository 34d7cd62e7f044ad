"""End-to-end: the real Claude Code CLI through lighttpd -> ccproxy-fcgi ->
the mock OpenAI upstream (auto mode). With
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1, `claude -p` sends one request per
turn, so the mock's request count proves there were no retries or fallbacks."""

import json
import os

from harness import BIG_MODEL


def chat_requests(mock):
    return [r for r in mock.requests() if r["path"].endswith("/chat/completions")]


def test_text_answer(run_claude, mock):
    res = run_claude("Say hello in five words.")
    assert res.returncode == 0
    assert "Hello from the mock upstream." in res.stdout
    reqs = chat_requests(mock)
    assert len(reqs) == 1, "Claude Code retried or fell back: %d requests" % len(reqs)
    body = reqs[0]["body"]
    assert body["model"] == BIG_MODEL
    assert body["stream"] is True
    user = [m for m in body["messages"] if m["role"] == "user"]
    assert "Say hello in five words." in json.dumps(user[-1]["content"])


def test_bash_tool_loop(run_claude, mock):
    marker = "ccp-e2e-%d" % os.getpid()
    res = run_claude("Run this command for me. RUN_BASH:echo %s" % marker,
                     "--allowedTools", "Bash")
    assert res.returncode == 0
    reqs = chat_requests(mock)
    assert len(reqs) == 2, "expected 2 turns, got %d requests" % len(reqs)
    first, second = reqs[0]["body"], reqs[1]["body"]
    assert "Bash" in [t["function"]["name"] for t in first["tools"]]
    msgs = second["messages"]
    tool_msgs = [i for i, m in enumerate(msgs) if m["role"] == "tool"]
    assert len(tool_msgs) == 1, [m["role"] for m in msgs]
    i = tool_msgs[0]
    asst = msgs[i - 1]
    assert asst["role"] == "assistant"
    calls = asst["tool_calls"]
    assert len(calls) == 1 and calls[0]["function"]["name"] == "Bash"
    # The id the mock gave its call (first request was seq 1) comes back.
    assert calls[0]["id"] == "call_mock_1"
    assert msgs[i]["tool_call_id"] == calls[0]["id"]
    content = msgs[i]["content"]
    text = content if isinstance(content, str) else "".join(
        p.get("text", "") for p in content if isinstance(p, dict))
    assert marker in text
    assert "The command printed: " + marker in res.stdout
