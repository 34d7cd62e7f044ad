#!/usr/bin/python3
"""Request bodies in Claude Code's shape for bench/run.sh (synthetic text in
lines, with tabs and quotes).

Writes into OUTDIR:
  small.json    ~2 KB   haiku-style side request: short system, one user turn
  medium.json   ~50 KB  a session turn: system blocks, 12 tools, a few turns
  large.json    ~600 KB a long session: 25 tools, many tool_use/tool_result turns
  *.stream.json the same bodies with "stream": true
  slow.stream.json  small body whose text asks the C mock for a slow stream (W3)
  w4.stream.json    small body asking for a 40-chunk stream 25 ms apart (W4)
  count_tokens.json the large body without max_tokens/stream (count_tokens)
Deterministic (fixed seed). Usage: gen.py OUTDIR [--only small]
"""

import json
import os
import random
import sys

WORDS = ("the file function return value error test build request response stream "
         "buffer worker thread upstream client token model message content tool input "
         "schema string number object array result config path line code change commit "
         "check read write open close parse json header status cache limit size").split()


def text(rng, nbytes):
    """Words in lines of about 80 bytes, some lines indented by a tab and
    some words quoted, as in code and command output: real Claude Code
    bodies have an escape (\\n, \\") every 80 to 95 bytes (the three largest
    requests in ../shared/claude-code/requests), these every 70 or so, and a
    JSON reader or writer pays for each one."""
    out = []
    n = col = 0
    while n < nbytes:
        w = rng.choice(WORDS)
        if rng.random() < 0.015:
            w = '"' + w + '"'
        col += len(w) + 1
        sep = " "
        if col > 80:
            sep = "\n\t" if rng.random() < 0.1 else "\n"
            col = 0
        out.append(w + sep)
        n += len(w) + len(sep)
    return "".join(out)[:nbytes]


def tool(rng, i, desc_bytes):
    props = {}
    for j in range(4):
        props["param_%d" % j] = {"type": rng.choice(["string", "number", "boolean"]),
                                 "description": text(rng, 120)}
    return {"name": "Tool%d" % i, "description": text(rng, desc_bytes),
            "input_schema": {"type": "object", "properties": props,
                             "required": ["param_0"], "additionalProperties": False,
                             "$schema": "http://json-schema.org/draft-07/schema#"}}


def system(rng, nbytes):
    return [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.331; cc_entrypoint=cli;"},
            {"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": text(rng, nbytes), "cache_control": {"type": "ephemeral"}}]


def turns(rng, nturns, result_bytes):
    msgs = [{"role": "user", "content": [{"type": "text", "text": "<system-reminder>\n" + text(rng, 800) + "\n</system-reminder>"},
                                          {"type": "text", "text": text(rng, 200)}]}]
    for i in range(nturns):
        tid = "toolu_%024x" % rng.getrandbits(96)
        msgs.append({"role": "assistant", "content": [
            {"type": "text", "text": text(rng, 150)},
            {"type": "tool_use", "id": tid, "name": "Tool%d" % (i % 5),
             "input": {"param_0": text(rng, 60), "param_1": i}}]})
        msgs.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tid, "is_error": False,
             "content": text(rng, result_bytes)}]})
    msgs[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
    return msgs


def envelope(model, sys_blocks, msgs, tools):
    b = {"model": model, "messages": msgs, "system": sys_blocks, "max_tokens": 32000,
         "metadata": {"user_id": json.dumps({"device_id": "0" * 64, "session_id": "bench"})},
         "stream": False}
    if tools:
        b["tools"] = tools
        b["thinking"] = {"type": "adaptive"}
        b["output_config"] = {"effort": "medium"}
    return b


def bodies():
    rng = random.Random(1)
    small = envelope("claude-3-5-haiku-20241022",
                     [{"type": "text", "text": "Summarize this coding conversation in under 50 characters."}],
                     [{"role": "user", "content": text(rng, 1600)}], None)
    medium = envelope("claude-sonnet-4-5-20250929", system(rng, 9000), turns(rng, 6, 1500),
                      [tool(rng, i, 1500) for i in range(12)])
    large = envelope("claude-sonnet-4-5-20250929", system(rng, 15000), turns(rng, 90, 5200),
                     [tool(rng, i, 2000) for i in range(25)])
    return {"small": small, "medium": medium, "large": large}


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))


def main():
    out = sys.argv[1]
    only = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--only" else None
    os.makedirs(out, exist_ok=True)
    for name, b in bodies().items():
        if only and name != only:
            continue
        dump(os.path.join(out, name + ".json"), b)
        s = dict(b, stream=True)
        dump(os.path.join(out, name + ".stream.json"), s)
        if name == "small":
            slow = json.loads(json.dumps(s))
            slow["messages"][0]["content"] += " mock_delay_ms=50 mock_chunks=100"
            dump(os.path.join(out, "slow.stream.json"), slow)
            w4 = json.loads(json.dumps(s))
            w4["messages"][0]["content"] += " mock_delay_ms=25 mock_chunks=40"
            dump(os.path.join(out, "w4.stream.json"), w4)
        if name == "large":
            c = {k: v for k, v in b.items() if k not in ("max_tokens", "stream", "metadata")}
            dump(os.path.join(out, "count_tokens.json"), c)


if __name__ == "__main__":
    main()
