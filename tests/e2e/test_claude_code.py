"""End-to-end: the real Claude Code CLI through lighttpd -> ccproxy-fcgi ->
the mock OpenAI upstream (auto mode). With
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1, `claude -p` sends one request per
turn, so the mock's request count proves there were no retries or fallbacks."""

import base64
import json
import os
from pathlib import Path

from harness import BIG_MODEL

# a 2x2 red PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==")


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


def tool_outputs(msgs):
    return [m for m in msgs if m["role"] == "tool"]


def text_of(content):
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


def test_parallel_tool_calls(run_claude, mock):
    a, b = "ccp-par-a-%d" % os.getpid(), "ccp-par-b-%d" % os.getpid()
    res = run_claude("Run both. PARALLEL_BASH:echo %s|echo %s" % (a, b), "--allowedTools", "Bash")
    assert res.returncode == 0
    reqs = chat_requests(mock)
    assert len(reqs) == 2, "expected 2 turns, got %d requests" % len(reqs)
    msgs = reqs[1]["body"]["messages"]
    asst = [m for m in msgs if m["role"] == "assistant" and m.get("tool_calls")]
    assert len(asst) == 1 and len(asst[0]["tool_calls"]) == 2
    assert [json.loads(c["function"]["arguments"])["command"] for c in asst[0]["tool_calls"]] == [
        "echo " + a, "echo " + b]
    tools = tool_outputs(msgs)
    assert sorted(m["tool_call_id"] for m in tools) == sorted(
        c["id"] for c in asst[0]["tool_calls"])
    outs = {m["tool_call_id"]: text_of(m["content"]) for m in tools}
    assert a in outs[asst[0]["tool_calls"][0]["id"]] and b in outs[asst[0]["tool_calls"][1]["id"]]
    assert a in res.stdout and b in res.stdout


def test_thinking_shown_before_answer(run_claude, mock):
    res = run_claude("THINK:The answer is 42.", "--output-format", "stream-json", "--verbose")
    assert res.returncode == 0
    kinds = []
    for line in res.stdout.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("type") == "assistant":
            for block in ev["message"]["content"]:
                kinds.append((block["type"], block.get("thinking") or block.get("text")))
    types = [k for k, _ in kinds]
    assert "thinking" in types and "text" in types, kinds
    assert types.index("thinking") < types.index("text"), kinds
    assert "Let me think about this carefully." in kinds[types.index("thinking")][1]
    assert "The answer is 42." in kinds[types.index("text")][1]
    assert len(chat_requests(mock)) == 1


def test_image_from_read_tool(run_claude, mock):
    png = Path(run_claude.project) / "dot.png"
    png.write_bytes(PNG)
    res = run_claude("Look at this picture. READ_FILE:%s" % png, "--allowedTools", "Read")
    assert res.returncode == 0
    reqs = chat_requests(mock)
    assert len(reqs) == 2, "expected 2 turns, got %d requests" % len(reqs)
    msgs = reqs[1]["body"]["messages"]
    tool_at = [i for i, m in enumerate(msgs) if m["role"] == "tool"]
    assert len(tool_at) == 1, [m["role"] for m in msgs]
    after = msgs[tool_at[0] + 1:]
    images = [p for m in after if m["role"] == "user" and isinstance(m["content"], list)
              for p in m["content"] if p.get("type") == "image_url"]
    assert len(images) == 1, after
    assert images[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert res.stdout.strip()


def test_sub_agent(run_claude, mock):
    """Main turn calls Agent; the sub-agent's own request arrives and is
    answered; its answer reaches the main agent (2.1.197: as the tool result;
    2.1.331 runs agents in the background: the tool result says it started and
    a later notification turn carries the answer)."""
    res = run_claude("Delegate this. TASK:Say the word SUBAGENT_READY and stop.",
                     "--allowedTools", "Agent")
    assert res.returncode == 0
    assert res.stdout.strip()
    reqs = [r["body"] for r in chat_requests(mock)]
    assert 3 <= len(reqs) <= 4, "main, sub-agent, main (+ notification): %d" % len(reqs)

    def calls(b):
        return [c["function"]["name"] for m in b["messages"] if m["role"] == "assistant"
                for c in m.get("tool_calls") or []]

    subs = [b for b in reqs[1:] if not calls(b) and any(
        "SUBAGENT_READY" in text_of(m["content"]) for m in b["messages"] if m["role"] == "user")]
    assert len(subs) == 1, "no single sub-agent request"
    mains = [b for b in reqs if "Agent" in calls(b)]
    assert mains, "the Agent call never came back to the main agent"
    last = mains[-1]["messages"]
    after_call = "".join(text_of(m["content"]) for m in last if m["role"] in ("tool", "user"))
    assert "Hello from the mock upstream." in after_call


def test_count_tokens_shape(proxy, claude_bin):
    """-p mode makes no count_tokens call; the TUI's body shape (captured)
    is sent directly."""
    cap = json.loads(Path("/work/shared/claude-code/requests/i-count-tokens-tools.json")
                     .read_text()) if Path("/work/shared/claude-code/requests/"
                                           "i-count-tokens-tools.json").exists() else None
    body = cap["body"] if cap else {
        "model": "claude-opus-5-5",
        "messages": [{"role": "user", "content": "foo"}],
        "tools": [{"name": "Bash", "description": "Run a command", "input_schema": {
            "type": "object", "properties": {"command": {"type": "string"}}}}]}
    if isinstance(body, str):
        body = json.loads(body)
    status, headers, raw = proxy.messages(body, path="/v1/messages/count_tokens?beta=true")
    assert status == 200, raw
    assert json.loads(raw)["input_tokens"] > 0


def test_rate_limit_retry_after(run_claude, mock):
    mock.script({"kind": "error", "status": 429, "retry_after": "1"})
    res = run_claude("Say hello in five words.")
    assert res.returncode == 0
    assert "Hello from the mock upstream." in res.stdout
    reqs = chat_requests(mock)
    assert len(reqs) == 2, len(reqs)
    assert reqs[1]["time"] - reqs[0]["time"] >= 0.9  # retry-after honoured


def test_context_length_is_prompt_too_long(run_claude, mock):
    err = {"error": {"message": "This model's maximum context length is 128000 tokens. "
                                "However, your messages resulted in 210000 tokens. Please "
                                "reduce the length of the messages.",
                     "type": "invalid_request_error", "param": "messages",
                     "code": "context_length_exceeded"}}
    mock.script(*[{"kind": "error", "status": 400, "body": err}] * 3)
    res = run_claude("Say hello in five words.")
    assert "Prompt is too long" in res.stdout + res.stderr
    assert "Hello from the mock upstream." not in res.stdout
    assert len(chat_requests(mock)) <= 3


def test_stream_cut_recovers(run_claude, mock):
    mock.script({"kind": "cut", "chunks": ["Partial "]})
    res = run_claude("Say hello in five words.")
    assert res.returncode == 0
    assert "Hello from the mock upstream." in res.stdout
    reqs = chat_requests(mock)
    assert len(reqs) == 2, "one cut, one retry: %d requests" % len(reqs)
    assert [s["state"] for s in mock.streams()][:1] == ["cut"]
