#!/usr/bin/python3
"""Write a Claude Code-shaped count_tokens request of about SIZE bytes to stdout:
the system prompt, tools and first user message of a captured Claude Code
request (claude-code/requests/i-main.json), then turns repeated until the size
is reached: assistant text + tool_use (Read/Bash), user tool_result holding
source files of this repository (code) or prose, each turn numbered so every
block is distinct, like a real growing conversation.
Usage: bench/gen-cc-request.py SHARED_DIR [SIZE] [TURNS_LESS]
TURNS_LESS drops that many turns from the end (a conversation one step back)."""
import json
import sys
from pathlib import Path

shared = Path(sys.argv[1])
size = int(sys.argv[2]) if len(sys.argv) > 2 else 600 * 1024
less = int(sys.argv[3]) if len(sys.argv) > 3 else 0
top = Path(__file__).resolve().parents[1]
src = json.loads((shared / "claude-code/requests/i-main.json").read_text())["body"]
body = {k: src[k] for k in ("model", "system", "tools", "max_tokens") if k in src}
first = next(m for m in src["messages"] if m["role"] == "user")
files = sorted(p for d in ("translate", "fcgi", "cache") for p in (top / d).glob("*.c"))
prose = (top / "docs/tokens.md").read_text()
turns = []
t = 0
while True:
    f = files[t % len(files)]
    content = f.read_text()[:6000] if t % 3 != 2 else prose[(t * 997) % 2000:][:4000]
    turns.append({"role": "assistant", "content": [
        {"type": "text", "text": "Step %d: I'll look at %s next." % (t, f.name)},
        {"type": "tool_use", "id": "toolu_%04d" % t, "name": "Read" if t % 2 else "Bash",
         "input": {"file_path": str(f)} if t % 2 else {"command": "sed -n 1,200p %s" % f}}]})
    turns.append({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_%04d" % t,
         "content": "turn %d\n%s" % (t, content)}]})
    body["messages"] = [first] + turns
    if len(json.dumps(body)) >= size:
        break
    t += 1
if less:
    body["messages"] = [first] + turns[:len(turns) - 2 * less]
sys.stdout.write(json.dumps(body))
