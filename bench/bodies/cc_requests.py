#!/usr/bin/python3
"""The largest POST /v1/messages bodies among captured Claude Code requests
(../shared/claude-code/requests: one JSON file per request, its parsed body
under "body"), written compactly as OUTDIR/<capture name>.json for
bench/translate_bench. The text is the captured body re-serialized (same
content, keys in the captured order), not the client's exact bytes.

Usage: cc_requests.py CAPTURE_DIR OUTDIR [N=3]
"""

import json
import os
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    found = []
    for name in sorted(os.listdir(src)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(src, name)) as f:
            cap = json.load(f)
        path = cap.get("path", "") if isinstance(cap, dict) else ""
        body = cap.get("body") if isinstance(cap, dict) else None
        if cap.get("method", "POST") != "POST" or not isinstance(body, dict):
            continue
        if not path.startswith("/v1/messages") or path.startswith("/v1/messages/"):
            continue
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        found.append((len(text.encode()), name, text))
    found.sort(key=lambda x: (-x[0], x[1]))
    os.makedirs(out, exist_ok=True)
    for _, name, text in found[:n]:
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
        print(name)


if __name__ == "__main__":
    main()
