#!/usr/bin/python3
"""Small HTTP/1.1 load client for bench/run.sh: time to first byte, total
latency and completeness of each request, up to hundreds at once (asyncio,
one connection per request, Connection: close).

Usage: client.py --url http://127.0.0.1:PORT/v1/messages --body FILE
                 [--n 100] [--concurrency 1] [--marker message_stop]
                 [--timeout 60] [--nonce TEXT [--unique]]
--nonce puts TEXT (with --unique: TEXT-<i>, a different one per request) at
the start of the body's first "text" (else "content") string, so requests
are told apart by the response cache and the fan-out.
Prints one JSON object: n, ok (2xx), complete (marker seen), errors,
elapsed_s, rps, p50_ms, p99_ms, ttfb_p50_ms, ttfb_p99_ms, cache (count of
each x-ccproxy-cache value) and hit_p50_ms, hit_p99_ms (answers with "hit").
"""

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def nonce_split(body):
    """body as (before, after): the nonce goes between them."""
    for m in (b'"text":"', b'"content":"'):
        i = body.find(m)
        if i >= 0:
            return body[:i + len(m)], body[i + len(m):]
    raise SystemExit("client.py: no text string in the body for --nonce")


def cache_state(data, hdr_end):
    head = bytes(data[:hdr_end]).lower()
    i = head.find(b"\nx-ccproxy-cache:")
    if i < 0:
        return None
    return head[i + 18:].split(b"\r\n", 1)[0].strip().decode()


def done(data, hdr_end):
    """The whole response is in: Content-Length reached or the last chunk."""
    head = bytes(data[:hdr_end]).lower()
    i = head.find(b"\ncontent-length:")
    if i >= 0:
        n = int(head[i + 16:].split(b"\r\n", 1)[0])
        return len(data) >= hdr_end + 4 + n
    if b"transfer-encoding: chunked" in head:
        return data.endswith(b"\r\n0\r\n\r\n") or data.endswith(b"\n0\r\n\r\n")
    return False


async def one(host, port, path, body, marker, timeout, out):
    t0 = time.perf_counter()
    ttfb = None
    status = 0
    data = bytearray()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        head = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                "x-api-key: bench\r\nanthropic-version: 2023-06-01\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n" % (path, host, port, len(body)))
        w.write(head.encode() + body)
        await w.drain()
        deadline = t0 + timeout
        hdr_end = -1
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise asyncio.TimeoutError()
            chunk = await asyncio.wait_for(r.read(65536), left)
            if not chunk:
                break
            data += chunk
            if hdr_end < 0:
                hdr_end = data.find(b"\r\n\r\n")
                if hdr_end >= 0:
                    status = int(data[9:12])
            if ttfb is None and hdr_end >= 0 and len(data) > hdr_end + 4:
                ttfb = time.perf_counter() - t0
            if hdr_end >= 0 and done(data, hdr_end):
                break
        w.close()
    except (OSError, asyncio.TimeoutError, ValueError):
        out.append({"status": status, "ok": False, "complete": False, "ms": None, "ttfb": None})
        return
    t = time.perf_counter() - t0
    out.append({"status": status, "ok": 200 <= status < 300, "cache": cache_state(data, hdr_end),
                "complete": 200 <= status < 300 and (marker is None or marker.encode() in data),
                "ms": t * 1000.0, "ttfb": ttfb * 1000.0 if ttfb is not None else None})


async def run(a):
    u = urlsplit(a.url)
    body = open(a.body, "rb").read()
    out = []
    sem = asyncio.Semaphore(a.concurrency)
    if a.nonce is not None:
        pre, post = nonce_split(body)

    def body_for(i):
        if a.nonce is None:
            return body
        tag = a.nonce + ("-%d" % i if a.unique else "")
        return pre + tag.encode() + b" " + post

    async def task(i):
        async with sem:
            await one(u.hostname, u.port, u.path + ("?" + u.query if u.query else ""),
                      body_for(i), a.marker, a.timeout, out)

    t0 = time.perf_counter()
    await asyncio.gather(*(task(i) for i in range(a.n)))
    el = time.perf_counter() - t0
    ms = [x["ms"] for x in out if x["ok"]]
    tt = [x["ttfb"] for x in out if x["ok"] and x["ttfb"] is not None]
    hits = [x["ms"] for x in out if x["ok"] and x["cache"] == "hit"]
    cache = {}
    for x in out:
        if x.get("cache"):
            cache[x["cache"]] = cache.get(x["cache"], 0) + 1
    return {"n": a.n, "ok": sum(x["ok"] for x in out), "complete": sum(x["complete"] for x in out),
            "errors": sum(not x["ok"] for x in out), "elapsed_s": el, "rps": a.n / el,
            "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99),
            "ttfb_p50_ms": pct(tt, 50), "ttfb_p99_ms": pct(tt, 99), "cache": cache,
            "hit_p50_ms": pct(hits, 50), "hit_p99_ms": pct(hits, 99)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--body", required=True)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--marker", default=None)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--nonce", default=None)
    p.add_argument("--unique", action="store_true")
    a = p.parse_args()
    print(json.dumps(asyncio.run(run(a))))


if __name__ == "__main__":
    main()
