#!/usr/bin/python3
"""Two-sided mock of an OpenAI Chat Completions upstream for CCProxy tests.

Upstream side: POST .../chat/completions answers either the next scripted
reply (FIFO, pushed with POST /_mock/script) or, when the script is empty,
an automatic reply (see auto_reply). Control side, for the tests:
  GET  /_mock/requests   every request received (method, path, headers, body)
  GET  /_mock/streams    one record per reply written: how it ended
                         ("complete", "cut", "client_closed") and when
  POST /_mock/script     push one reply object or a list of them
  POST /_mock/reset      forget requests, streams and pending script
  GET  /_mock/health     200 {"ok": true}
  POST .../tokenize      a counting endpoint (vLLM-like): {"count": 1000 + messages},
                         or the next scripted reply if it is an error

Reply objects ("kind" selects; every field optional unless noted):
  {"kind": "text", "text": "...", "chunks": ["a", "b"], "delay": 0.05,
   "finish_reason": "stop", "usage": {...}, "first_byte_delay": 0,
   "encoding": "gzip" | "br" | "zstd"}
      "encoding" (text and tool_calls, stream or not): the body is sent
      compressed with that Content-Encoding if the request's Accept-Encoding
      names it (streams: flushed after every event); otherwise plain.
  {"kind": "tool_calls", "text": "optional text first",
   "calls": [{"id": "call_1", "name": "Bash", "arguments": {...} or "raw json",
              "fragments": 3}],
   "interleave": false, "delay": 0}
  {"kind": "error", "status": 429, "body": {...} or "text",
   "retry_after": "3", "headers": {"x-extra": "v"}}
  {"kind": "cut", "chunks": ["partial "], "delay": 0}
      stream: send the role chunk and these chunks, then close the connection
      with no finish_reason, no [DONE] and no terminating HTTP chunk.
      non-stream: send headers with a Content-Length larger than the data.
  {"kind": "slow", "chunks": [...] or "count": 100, "delay": 0.2}
      a text stream with a pause between chunks (same as "text").
  {"kind": "raw", "status": 200, "headers": {...}, "chunks": ["bytes", ...],
   "delay": 0, "close": false}  arbitrary body, sent chunk by chunk.
Streams also take "pauses": {"<n>": seconds} (wait that long before SSE
event n, the role chunk being 0) and text replies "reasoning": "..." (sent
as reasoning_content chunks before the text).

Auto mode markers (last user text): RUN_BASH:<cmd>; PARALLEL_BASH:<c1>|<c2>
(two Bash calls in one turn); READ_FILE:<path> (a Read call); TASK:<prompt>
(a Task/Agent call running a sub-agent with <prompt>); THINK:<text> (reasoning
then the answer). After tool results: "The command printed: <results>".

Python 3 standard library only. Run: /usr/bin/python3 mock_openai.py --port 0
--port-file FILE. Listens on 127.0.0.1 only.
"""

import argparse
import json
import zlib
import os
import select
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_TEXT = "Hello from the mock upstream."


class State:
    """Everything the control side can see, behind one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.streams = []
        self.script = []
        self.counter = 0

    def reset(self):
        with self.lock:
            self.requests = []
            self.streams = []
            self.script = []

    def next_id(self):
        with self.lock:
            self.counter += 1
            return self.counter


STATE = State()


class Encoder:
    """Incremental Content-Encoding compressor (gzip, br, zstd) whose
    push() output decodes to everything pushed so far."""

    def __init__(self, name):
        self.name = name
        if name == "gzip":
            self.c = zlib.compressobj(wbits=31)
        elif name == "br":
            import brotli  # Debian python3-brotli
            self.c = brotli.Compressor()
        elif name == "zstd":
            import zstandard  # Debian python3-zstandard
            self.c = zstandard.ZstdCompressor().compressobj()
        else:
            raise ValueError("unknown encoding %r" % name)

    def push(self, data):
        if self.name == "gzip":
            return self.c.compress(data) + self.c.flush(zlib.Z_SYNC_FLUSH)
        if self.name == "br":
            return self.c.process(data) + self.c.flush()
        import zstandard
        return self.c.compress(data) + self.c.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)

    def finish(self):
        if self.name == "br":
            return self.c.finish()
        return self.c.flush()


def message_text(msg):
    """The text of an OpenAI message: content as a string or a list of parts."""
    content = msg.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return ""


def tool_names(body):
    names = []
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            fn = tool.get("function") or {}
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                names.append(fn["name"])
    return names


def auto_reply(body, seq):
    """The reply when no script is pending: the tool-loop behaviour Claude Code needs.
    Last turn a tool result -> "The command printed: <result>"; last user text
    with RUN_BASH:<cmd> -> a call of the Bash tool (or the first tool) with
    {"command": "<cmd>"}; else DEFAULT_TEXT."""
    # Claude Code puts a role "system" message (its environment) after the
    # user's turn: look at the last message that is not a system message.
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    turns = [m for m in messages if m.get("role") not in ("system", "developer")]
    last = turns[-1] if turns else {}
    role = last.get("role")
    if role == "tool":
        results = []
        for m in reversed(turns):
            if m.get("role") != "tool":
                break
            results.insert(0, message_text(m).strip())
        return {"kind": "text", "text": "The command printed: " + " + ".join(results)}
    if role == "user":
        text = message_text(last)
        names = tool_names(body)
        # a user turn right after tool results (e.g. an image from Read)
        prev = turns[-2] if len(turns) >= 2 else {}
        if prev.get("role") == "tool" and not text.strip():
            return {"kind": "text", "text": "The command printed: " + message_text(prev).strip()}
        for marker, make in (("RUN_BASH:", _bash_call), ("PARALLEL_BASH:", _parallel_calls),
                             ("READ_FILE:", _read_call), ("TASK:", _task_call),
                             ("THINK:", _think_reply)):
            pos = text.rfind(marker)
            if pos >= 0:
                arg = text[pos + len(marker):].split("\n", 1)[0].strip()
                reply = make(arg, names, seq) if arg else None
                if reply is not None:
                    return reply
    return {"kind": "text", "text": DEFAULT_TEXT}


def _bash_call(cmd, names, seq):
    name = "Bash" if "Bash" in names else (names[0] if names else None)
    if not name:
        return None
    return {"kind": "tool_calls",
            "calls": [{"id": "call_mock_%d" % seq, "name": name,
                       "arguments": {"command": cmd}, "fragments": 3}]}


def _parallel_calls(arg, names, seq):
    if "Bash" not in names:
        return None
    cmds = [c.strip() for c in arg.split("|") if c.strip()]
    return {"kind": "tool_calls",
            "calls": [{"id": "call_mock_%d_%d" % (seq, i), "name": "Bash",
                       "arguments": {"command": c, "description": "step %d" % i},
                       "fragments": 3} for i, c in enumerate(cmds)]}


def _read_call(path, names, seq):
    if "Read" not in names:
        return None
    return {"kind": "tool_calls",
            "calls": [{"id": "call_mock_%d" % seq, "name": "Read",
                       "arguments": {"file_path": path}, "fragments": 2}]}


def _task_call(prompt, names, seq):
    name = "Task" if "Task" in names else ("Agent" if "Agent" in names else None)
    if not name:
        return None
    return {"kind": "tool_calls",
            "calls": [{"id": "call_mock_%d" % seq, "name": name,
                       "arguments": {"description": "Sub-agent task", "prompt": prompt,
                                     "subagent_type": "general-purpose"},
                       "fragments": 3}]}


def _think_reply(text, names, seq):
    return {"kind": "text", "reasoning": "Let me think about this carefully. " * 3,
            "text": text}


def split_text(text, parts):
    """Split text into `parts` pieces (at least one char each, when possible)."""
    parts = max(1, min(parts, len(text))) if text else 1
    size = -(-len(text) // parts) if text else 0
    out = [text[i:i + size] for i in range(0, len(text), size)] if text else [""]
    return out


def estimate_tokens(body_bytes):
    return max(1, body_bytes // 4)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-openai/1.0"

    # ---- plumbing -------------------------------------------------------
    def log_message(self, fmt, *args):
        if not self.server.quiet:
            sys.stderr.write("mock: %s %s\n" % (self.address_string(), fmt % args))

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_json(self, status, obj, extra_headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def peer_closed(self, timeout):
        """Wait up to `timeout` s; True as soon as the client has closed its side."""
        deadline = time.monotonic() + max(0.0, timeout)
        sock = self.connection
        while True:
            left = deadline - time.monotonic()
            try:
                ready, _, _ = select.select([sock], [], [], max(0.0, min(left, 0.05)))
            except (OSError, ValueError):
                return True
            if ready:
                try:
                    peek = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    peek = b"x"
                except OSError:
                    return True
                if peek == b"":
                    return True
                # Unexpected bytes while we stream: leave them, just sleep out.
                time.sleep(max(0.0, min(left, 0.05)))
            if left <= 0:
                return False

    def write_chunk(self, data):
        """One HTTP/1.1 chunk. Raises OSError when the client is gone."""
        if isinstance(data, str):
            data = data.encode()
        if not data:
            return
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def hard_close(self):
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- routes ---------------------------------------------------------
    def do_HEAD(self):
        self.send_json(200, {})

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/_mock/requests":
            with STATE.lock:
                self.send_json(200, list(STATE.requests))
        elif path == "/_mock/streams":
            with STATE.lock:
                self.send_json(200, [dict(s) for s in STATE.streams])
        elif path == "/_mock/health":
            self.send_json(200, {"ok": True})
        elif path.endswith("/models"):
            self.send_json(200, {"object": "list", "data": [
                {"id": "gpt-mock-big", "object": "model", "created": 0, "owned_by": "mock"}]})
        else:
            self.send_json(404, {"error": {"message": "mock: no route " + path,
                                           "type": "invalid_request_error", "code": None}})

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        raw = self.read_body()
        if path == "/_mock/reset":
            STATE.reset()
            self.send_json(200, {"ok": True})
            return
        if path == "/_mock/script":
            try:
                items = json.loads(raw or b"[]")
            except ValueError as e:
                self.send_json(400, {"error": str(e)})
                return
            if isinstance(items, dict):
                items = [items]
            with STATE.lock:
                STATE.script.extend(items)
                pending = len(STATE.script)
            self.send_json(200, {"ok": True, "pending": pending})
            return
        if path.endswith("/tokenize"):
            self.tokenize(raw)
            return
        if not path.endswith("/chat/completions"):
            self.send_json(404, {"error": {"message": "mock: no route " + path,
                                           "type": "invalid_request_error", "code": None}})
            return
        self.chat_completions(raw)

    def tokenize(self, raw):
        """A counting endpoint like vLLM's /tokenize: {"count": N}, N = 1000 +
        the number of messages; a scripted error reply is sent instead."""
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        record = {"seq": STATE.next_id(), "method": self.command, "path": self.path,
                  "headers": [[k, v] for k, v in self.headers.items()],
                  "body_bytes": len(raw), "body": body, "time": time.time()}
        with STATE.lock:
            STATE.requests.append(record)
            reply = STATE.script.pop(0) if STATE.script else None
        if reply is not None and reply.get("kind") == "error":
            self.reply_error(reply)
            return
        msgs = body.get("messages") if isinstance(body, dict) else None
        self.send_json(200, {"count": 1000 + len(msgs or []), "max_model_len": 128000,
                             "tokens": []})

    def chat_completions(self, raw):
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        seq = STATE.next_id()
        record = {
            "seq": seq,
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_bytes": len(raw),
            "body": body,
            "time": time.time(),
        }
        with STATE.lock:
            STATE.requests.append(record)
            reply = STATE.script.pop(0) if STATE.script else None
        if not isinstance(body, dict):
            self.send_json(400, {"error": {"message": "mock: body is not a JSON object",
                                           "type": "invalid_request_error", "code": None}})
            return
        if reply is None:
            reply = auto_reply(body, seq)
        if reply.get("first_byte_delay"):
            if self.peer_closed(float(reply["first_byte_delay"])):
                self.note_stream(seq, "client_closed", 0)
                self.close_connection = True
                return
        stream = bool(body.get("stream"))
        kind = reply.get("kind", "text")
        ctx = {
            "seq": seq,
            "id": "chatcmpl-mock-%d" % seq,
            "model": body.get("model", "gpt-mock"),
            "created": int(time.time()),
            "usage_wanted": bool((body.get("stream_options") or {}).get("include_usage")),
            "prompt_tokens": estimate_tokens(len(raw)),
            "encoder": None,
        }
        enc = reply.get("encoding")
        accepted = [e.split(";")[0].strip().lower()
                    for e in (self.headers.get("Accept-Encoding") or "").split(",")]
        if enc and enc in accepted:
            ctx["encoder"] = Encoder(enc)
            with STATE.lock:
                record["encoding"] = enc  # what the reply was sent in
        if kind == "error":
            self.reply_error(reply)
        elif kind == "raw":
            self.reply_raw(seq, reply)
        elif stream:
            self.reply_stream(ctx, reply, kind)
        else:
            self.reply_json(ctx, reply, kind)

    # ---- replies --------------------------------------------------------
    def note_stream(self, seq, state, chunks_sent):
        with STATE.lock:
            STATE.streams.append({"seq": seq, "state": state, "chunks_sent": chunks_sent,
                                  "ended_at": time.time()})

    def reply_error(self, reply):
        status = int(reply.get("status", 500))
        body = reply.get("body")
        if body is None:
            etype, code = {400: ("invalid_request_error", None),
                           401: ("invalid_request_error", "invalid_api_key"),
                           429: ("requests", "rate_limit_exceeded")}.get(
                               status, ("server_error", None))
            body = {"error": {"message": "mock: HTTP %d" % status, "type": etype,
                              "code": code}}
        headers = dict(reply.get("headers") or {})
        if reply.get("retry_after") is not None:
            headers["retry-after"] = str(reply["retry_after"])
        if isinstance(body, str):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", headers.pop("content-type", "text/plain"))
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        else:
            self.send_json(status, body, headers)

    def reply_raw(self, seq, reply):
        self.send_response(int(reply.get("status", 200)))
        headers = dict(reply.get("headers") or {"Content-Type": "text/event-stream"})
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.stream_out(seq, [c for c in reply.get("chunks") or []],
                        float(reply.get("delay", 0)), cut=bool(reply.get("close")))

    def text_chunks(self, reply):
        if reply.get("chunks") is not None:
            return [str(c) for c in reply["chunks"]]
        if reply.get("count"):
            return ["tok%d " % i for i in range(int(reply["count"]))]
        text = reply.get("text", DEFAULT_TEXT)
        words = text.split(" ")
        return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]

    def calls_of(self, reply):
        calls = []
        for i, call in enumerate(reply.get("calls") or []):
            args = call.get("arguments", {})
            if not isinstance(args, str):
                args = json.dumps(args)
            calls.append({"index": i, "id": call.get("id", "call_mock_%d" % i),
                          "name": call.get("name", "Bash"), "arguments": args,
                          "fragments": int(call.get("fragments", 3))})
        return calls

    def usage(self, ctx, reply, completion_tokens):
        usage = reply.get("usage")
        if usage is None:
            usage = {"prompt_tokens": ctx["prompt_tokens"],
                     "completion_tokens": max(1, completion_tokens)}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return usage

    def reply_json(self, ctx, reply, kind):
        message = {"role": "assistant", "content": None, "refusal": None}
        finish = reply.get("finish_reason")
        if kind == "tool_calls":
            calls = self.calls_of(reply)
            message["content"] = reply.get("text")
            message["tool_calls"] = [{"id": c["id"], "type": "function",
                                      "function": {"name": c["name"],
                                                   "arguments": c["arguments"]}}
                                     for c in calls]
            finish = finish or "tool_calls"
            ntok = sum(len(c["arguments"]) for c in calls) // 4
        else:
            text = "".join(self.text_chunks(reply))
            message["content"] = text
            finish = finish or "stop"
            ntok = len(text.split())
        obj = {"id": ctx["id"], "object": "chat.completion", "created": ctx["created"],
               "model": ctx["model"],
               "choices": [{"index": 0, "message": message, "logprobs": None,
                            "finish_reason": finish}],
               "usage": self.usage(ctx, reply, ntok), "system_fingerprint": None}
        if kind == "cut":
            data = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.hard_close()
            self.note_stream(ctx["seq"], "cut", 1)
            return
        if ctx["encoder"] is not None:
            data = json.dumps(obj).encode()
            data = ctx["encoder"].push(data) + ctx["encoder"].finish()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", ctx["encoder"].name)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        else:
            self.send_json(200, obj)
        self.note_stream(ctx["seq"], "complete", 1)

    def chunk(self, ctx, delta, finish=None):
        obj = {"id": ctx["id"], "object": "chat.completion.chunk", "created": ctx["created"],
               "model": ctx["model"], "system_fingerprint": None,
               "choices": [{"index": 0, "delta": delta, "logprobs": None,
                            "finish_reason": finish}]}
        return "data: " + json.dumps(obj) + "\n\n"

    def reply_stream(self, ctx, reply, kind):
        events = [self.chunk(ctx, {"role": "assistant", "content": "", "refusal": None})]
        ntok = 0
        if kind == "tool_calls":
            if reply.get("text"):
                for piece in split_text(reply["text"], 3):
                    events.append(self.chunk(ctx, {"content": piece}))
            calls = self.calls_of(reply)
            per_call = []
            for c in calls:
                frags = split_text(c["arguments"], c["fragments"])
                first = {"index": c["index"], "id": c["id"], "type": "function",
                         "function": {"name": c["name"], "arguments": ""}}
                evs = [self.chunk(ctx, {"tool_calls": [first]})]
                for f in frags:
                    evs.append(self.chunk(ctx, {"tool_calls": [
                        {"index": c["index"], "function": {"arguments": f}}]}))
                per_call.append(evs)
                ntok += len(c["arguments"]) // 4
            if reply.get("interleave"):
                longest = max((len(e) for e in per_call), default=0)
                for i in range(longest):
                    for evs in per_call:
                        if i < len(evs):
                            events.append(evs[i])
            else:
                for evs in per_call:
                    events.extend(evs)
            finish = reply.get("finish_reason", "tool_calls")
        else:
            if reply.get("reasoning"):
                for piece in split_text(reply["reasoning"], 4):
                    events.append(self.chunk(ctx, {"reasoning_content": piece}))
                    ntok += 1
            for piece in self.text_chunks(reply):
                events.append(self.chunk(ctx, {"content": piece}))
                ntok += 1
            finish = reply.get("finish_reason", "stop")
        cut = kind == "cut"
        if not cut:
            events.append(self.chunk(ctx, {}, finish))
            if ctx["usage_wanted"]:
                events.append("data: " + json.dumps({
                    "id": ctx["id"], "object": "chat.completion.chunk",
                    "created": ctx["created"], "model": ctx["model"],
                    "system_fingerprint": None, "choices": [],
                    "usage": self.usage(ctx, reply, ntok)}) + "\n\n")
            events.append("data: [DONE]\n\n")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        if ctx["encoder"] is not None:
            self.send_header("Content-Encoding", ctx["encoder"].name)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.stream_out(ctx["seq"], events, float(reply.get("delay", 0)), cut,
                        reply.get("pauses"), ctx["encoder"])

    def stream_out(self, seq, events, delay, cut, pauses=None, encoder=None):
        sent = 0
        pauses = {int(k): float(v) for k, v in (pauses or {}).items()}
        try:
            for i, ev in enumerate(events):
                if i > 0 and delay > 0 and self.peer_closed(delay):
                    raise ConnectionResetError("peer closed")
                if pauses.get(i) and self.peer_closed(pauses[i]):
                    raise ConnectionResetError("peer closed")
                self.write_chunk(encoder.push(ev.encode()) if encoder is not None else ev)
                sent += 1
            if cut:
                self.hard_close()
                self.note_stream(seq, "cut", sent)
                return
            if encoder is not None:
                self.write_chunk(encoder.finish())
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            self.note_stream(seq, "client_closed", sent)
            return
        self.note_stream(seq, "complete", sent)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the chosen port here")
    ap.add_argument("--quiet", action="store_true", help="no per-request log on stderr")
    args = ap.parse_args()
    srv = Server((args.host, args.port), Handler)
    srv.quiet = args.quiet
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("mock_openai listening on http://%s:%d/v1" % (args.host, port), flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
