"""Integration: the upstream may answer compressed (gzip, br, zstd) when the
worker's Accept-Encoding allows it; the worker decodes and the client gets
the same plain Anthropic answer (libcurl CURLOPT_ACCEPT_ENCODING "")."""

import json

import pytest

from harness import parse_sse, wait_until

SONNET = "claude-sonnet-4-5-20250929"
TEXT = "Compressed hello, " + "and some more words to compress " * 20


def turn(stream):
    return {"model": SONNET, "max_tokens": 1024, "stream": stream,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}


def header(record, name):
    for k, v in record["headers"]:
        if k.lower() == name:
            return v
    return ""


@pytest.mark.parametrize("enc", ["gzip", "br", "zstd"])
def test_nonstream_compressed_upstream_is_decoded(proxy, mock, enc):
    mock.script({"kind": "text", "text": TEXT, "encoding": enc})
    status, _, raw = proxy.messages(turn(False))
    assert status == 200, raw
    asked = [e.strip() for e in header(mock.requests()[0], "accept-encoding").split(",")]
    assert enc in asked, "worker did not offer %s: %r" % (enc, asked)
    assert mock.requests()[0].get("encoding") == enc
    # the mock notes the reply's end after its last write: the client may be first
    done = wait_until(mock.streams, 5, "the mock to note the reply")
    assert done[0]["state"] == "complete"
    msg = json.loads(raw)
    assert msg["content"] == [{"type": "text", "text": TEXT}]


@pytest.mark.parametrize("enc", ["gzip", "br", "zstd"])
def test_stream_compressed_upstream_is_decoded(proxy, mock, enc):
    chunks = ["Compressed ", "stream ", "in ", "pieces."]
    mock.script({"kind": "text", "chunks": chunks, "encoding": enc})
    status, headers, raw = proxy.messages(turn(True))
    assert status == 200, raw
    assert mock.requests()[0].get("encoding") == enc
    events = parse_sse(raw)
    names = [e[0] for e in events]
    assert names[0] == "message_start" and names[-1] == "message_stop", names
    text = "".join(d["delta"].get("text", "") for n, d in events
                   if n == "content_block_delta")
    assert text == "".join(chunks)
