#!/usr/bin/env python3
"""Writes the count_tokens golden cases: anthropic.json and expected.json.

expected.json's input_tokens is computed here, independently of
translate/count.c, from the method in docs/tokens.md; BPE counts of single
strings come from ccproxy-tokens (whose ids are checked against tiktoken by
test_bpe). Usage: gen.py BUILD_DIR  (rewrites the case directories here).
"""
import base64, json, os, struct, subprocess, sys, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", "ccproxy-tokens")


def tok(s, enc):
    if s == "":
        return 0
    out = subprocess.run([TOOL, "--encoding", enc, "--count"], input=s.encode(),
                         capture_output=True, check=True)
    return int(out.stdout)


def png(w, h):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\x00" + b"\x00" * w for _ in range(h))  # grey, filter 0
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def jpeg(w, h):
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    app1 = b"Exif\x00\x00" + b"\x00" * 300
    dqt = b"\x00" + bytes(range(64))
    sof = struct.pack(">BHHB", 8, h, w, 1) + b"\x01\x11\x00"
    seg = lambda m, d: b"\xff" + bytes([m]) + struct.pack(">H", len(d) + 2) + d
    return b"\xff\xd8" + seg(0xE0, app0) + seg(0xE1, app1) + seg(0xDB, dqt) + seg(0xC0, sof) + b"\xff\xd9"


def gif(w, h):
    return (b"GIF89a" + struct.pack("<HHBBB", w, h, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
            + b"," + struct.pack("<HHHHB", 0, 0, w, h, 0) + b"\x02\x02\x44\x01\x00;")


def webp_vp8x(w, h):
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + \
        (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


def tiles(w, h, base=85, tile=170):
    big = max(w, h)
    if big > 2048:
        w, h = w * 2048 // big, h * 2048 // big
    small = min(w, h)
    if small > 768:
        w, h = w * 768 // small, h * 768 // small
    return base + tile * (-(-w // 512)) * (-(-h // 512))


# ---- the method, over the OpenAI request the translation produces ----------

def messages(msgs, enc):
    n = 3  # reply priming
    for m in msgs:
        n += 3 + tok(m["role"], enc)
        c = m.get("content")
        if isinstance(c, str):
            n += tok(c, enc)
        elif isinstance(c, list):
            for p in c:
                n += p["tokens"] if p.get("type") == "image" else tok(p["text"], enc)
        for call in m.get("tool_calls", []):
            n += 3 + tok(call["name"], enc) + tok(call["arguments"], enc)
    return n


def strip_dot(s):
    return s[:-1] if s.endswith(".") else s


def props(schema, enc):
    p = schema.get("properties") or {}
    if not p:
        return 0
    n = 3
    for k, v in p.items():
        n += 3
        if "enum" in v:
            n += -3 + sum(3 + tok(str(e), enc) for e in v["enum"])
        t = v.get("type", "")
        t = "|".join(t) if isinstance(t, list) else t
        n += tok(f"{k}:{t}:{strip_dot(v.get('description', ''))}", enc)
        n += props(v, enc)
        if isinstance(v.get("items"), dict):
            n += props(v["items"], enc)
    return n


def tools(ts, enc):
    if not ts:
        return 0
    n = 12
    for t in ts:
        n += (10 if enc == "cl100k_base" else 7)
        n += tok(f"{t['name']}:{strip_dot(t.get('description', ''))}", enc)
        n += props(t["input_schema"], enc)
    return n


def b64(data):
    return base64.b64encode(data).decode()


def img(media, data):
    return {"type": "image", "source": {"type": "base64", "media_type": media, "data": b64(data)}}


SYS = "You are Claude Code, Anthropic's official CLI for Claude."
BASH = {"name": "Bash", "description": "Executes a given bash command.",
        "input_schema": {"type": "object", "properties": {
            "command": {"type": "string", "description": "The command to execute."},
            "timeout": {"type": "number", "description": "Optional timeout in milliseconds"},
            "mode": {"type": "string", "enum": ["fast", "safe"]},
            "env": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "value": {"type": ["string", "null"]}}}}},
            "required": ["command"]}}
READ = {"name": "Read", "description": "Reads a file from the local filesystem.",
        "input_schema": {"type": "object", "properties": {
            "file_path": {"type": "string", "description": "The absolute path to the file to read"}},
            "required": ["file_path"]}}

cases = {}


def case(name, body, enc, n):
    cases[name] = (body, {"input_tokens": n, "encoding": enc})


o2, cl = "o200k_base", "cl100k_base"

t = "Hello, world! How many tokens is this sentence?"
case("001-plain-text", {"model": "gpt-4o", "messages": [{"role": "user", "content": t}]}, o2,
     messages([{"role": "user", "content": t}], o2))

conv = [("user", "What does `ls -la` print?"),
        ("assistant", "It lists all files, including hidden ones, in long format."),
        ("user", "日本語で説明してください。")]
case("002-system-multi-turn",
     {"model": "claude-sonnet-4-5", "system": [{"type": "text", "text": SYS},
                                                {"type": "text", "text": "Be brief."}],
      "messages": [{"role": r, "content": c} for r, c in conv]}, o2,
     messages([{"role": "system", "content": SYS + "\n\nBe brief."}] +
              [{"role": r, "content": c} for r, c in conv], o2))

case("003-tools", {"model": "gpt-4.1", "tools": [BASH, READ],
                   "messages": [{"role": "user", "content": "list the files"}]}, o2,
     messages([{"role": "user", "content": "list the files"}], o2) + tools([BASH, READ], o2))

args = '{"file_path":"/home/user/a.txt"}'
case("004-tool-use-result",
     {"model": "gpt-4o", "tools": [READ], "messages": [
         {"role": "user", "content": "read a.txt"},
         {"role": "assistant", "content": [
             {"type": "text", "text": "Reading it."},
             {"type": "tool_use", "id": "toolu_01", "name": "Read",
              "input": {"file_path": "/home/user/a.txt"}}]},
         {"role": "user", "content": [
             {"type": "tool_result", "tool_use_id": "toolu_01", "content": "1\thello\n2\tworld"}]}]},
     o2,
     messages([{"role": "user", "content": "read a.txt"},
               {"role": "assistant", "content": "Reading it.",
                "tool_calls": [{"name": "Read", "arguments": args}]},
               {"role": "tool", "content": "1\thello\n2\tworld"}], o2) + tools([READ], o2))

for name, media, data, w, h in [("005-image-png", "image/png", png(2000, 1000), 2000, 1000),
                                ("006-image-jpeg", "image/jpeg", jpeg(640, 480), 640, 480),
                                ("007-image-gif", "image/gif", gif(300, 200), 300, 200),
                                ("008-image-webp", "image/webp", webp_vp8x(4096, 1024), 4096, 1024)]:
    case(name, {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        img(media, data), {"type": "text", "text": "What is in this image?"}]}]}, o2,
        messages([{"role": "user", "content": [{"type": "image", "tokens": tiles(w, h)},
                                               {"type": "text", "text": "What is in this image?"}]}], o2))

case("009-cl100k-model", {"model": "gpt-4-turbo", "system": SYS, "tools": [BASH],
                          "messages": [{"role": "user", "content": "列出文件 and run ls"}]}, cl,
     messages([{"role": "system", "content": SYS}, {"role": "user", "content": "列出文件 and run ls"}], cl)
     + tools([BASH], cl))

case("010-image-url", {"model": "gpt-4o", "messages": [{"role": "user", "content": [
    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
    {"type": "text", "text": "Describe."}]}]}, o2,
     messages([{"role": "user", "content": [{"type": "image", "tokens": tiles(1024, 1024)},
                                            {"type": "text", "text": "Describe."}]}], o2))

doc = "The quick brown fox jumps over the lazy dog.\n" * 20
case("011-document-text", {"model": "gpt-4o", "messages": [{"role": "user", "content": [
    {"type": "document", "title": "fox.txt",
     "source": {"type": "text", "media_type": "text/plain", "data": doc}},
    {"type": "text", "text": "Summarize the document."}]}]}, o2,
     # the translation sends a text document as text: title, text, then the
     # user's own text, joined by newlines into one string
     messages([{"role": "user", "content": "fox.txt\n" + doc + "\nSummarize the document."}], o2))

pdf = b"%PDF-1.4\n1 0 obj<</Type /Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type /Pages/Count 2>>endobj\n" \
      b"3 0 obj<</Type /Page/Parent 2 0 R>>endobj\n4 0 obj<</Type/Page/Parent 2 0 R>>endobj\n%%EOF\n"
case("012-document-pdf", {"model": "gpt-4o", "messages": [{"role": "user", "content": [
    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": b64(pdf)}},
    {"type": "text", "text": "Summarize."}]}]}, o2,
     messages([{"role": "user", "content": "Summarize."}], o2) + 2 * (tiles(1275, 1650) + 550))

for name, (body, exp) in cases.items():
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "anthropic.json"), "w") as f:
        json.dump(body, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(exp, f)
        f.write("\n")
    print(name, exp)
