"""D1: through lighttpd and the worker, every golden stream case of
tests/data/translate/stream gives the client exactly its anthropic.sse bytes
(the message id, random per request, aside). The mock sends the case's
openai.sse in 97-byte HTTP chunks."""

import json
import re

import pytest

from harness import REPO

CASES = REPO / "tests" / "data" / "translate" / "stream"
CASE_NAMES = sorted(p.name for p in CASES.iterdir()) if CASES.is_dir() else []
MSG_ID = re.compile(rb'"id":"msg_[A-Za-z0-9_]*"')


def normalise(raw):
    return MSG_ID.sub(b'"id":"msg_ID"', raw)


def test_golden_cases_exist():
    assert len(CASE_NAMES) >= 20, "golden stream cases missing under %s" % CASES


@pytest.mark.parametrize("case", CASE_NAMES)
def test_golden_stream_bytes(proxy, mock, case):
    src = (CASES / case / "openai.sse").read_bytes().decode("utf-8")
    want = (CASES / case / "anthropic.sse").read_bytes()
    mock.script({"kind": "raw", "chunks": [src[i:i + 97] for i in range(0, len(src), 97)]})
    body = {"model": "claude-sonnet-4-5-20250929", "max_tokens": 1024, "stream": True,
            "messages": [{"role": "user", "content": "golden"}]}
    info = CASES / case / "info.json"
    if info.is_file():
        # the case expects long tool names the request declared: declare them
        aliases = json.loads(info.read_text()).get("aliases", [])
        body["tools"] = [{"name": full, "description": "t",
                          "input_schema": {"type": "object", "properties": {}}}
                         for _short, full in aliases]
    status, headers, raw = proxy.messages(body)
    assert status == 200
    assert headers.get("content-type", "").startswith("text/event-stream")
    assert MSG_ID.search(raw), "no message id in the stream"
    assert normalise(raw).decode("utf-8") == normalise(want).decode("utf-8")
