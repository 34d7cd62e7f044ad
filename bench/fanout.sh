#!/usr/bin/env bash
# bench/fanout.sh: 20 identical concurrent streaming requests through real
# lighttpd + ccproxy-fcgi against the mock upstream (a 40-chunk stream, 25 ms
# apart), once without and once with fan-out (ccproxy-coordd). Prints the
# upstream calls and client latency (first byte, whole stream) per mode.
# The response cache is off, so only fan-out can save calls.
# Usage: CCP_BUILD_DIR=/path/to/build bench/fanout.sh [N]   (default N=20)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CCP_BUILD_DIR=${CCP_BUILD_DIR:-$ROOT}
N=${1:-20}
RUN=$(mktemp -d /tmp/ccp-bench-fanout.XXXXXX)
trap 'rm -rf "$RUN"' EXIT
cd "$ROOT/tests/integration"
exec timeout 300 /usr/bin/python3 - "$RUN" "$N" <<'PY'
import json, statistics, sys, threading, time
from pathlib import Path
from harness import CLIENT_HEADERS, Mock, Proxy
from test_fanout import Coordd, slow_reply, stream_turn, upstream_calls

run, n = Path(sys.argv[1]), int(sys.argv[2])

def one(proxy, body, out, i):
    t0 = time.monotonic()
    conn = proxy.conn(60)
    hdrs = dict(CLIENT_HEADERS, **{"Content-Type": "application/json"})
    conn.request("POST", "/v1/messages", body=json.dumps(body).encode(), headers=hdrs)
    resp = conn.getresponse()
    resp.read1(1)
    first = time.monotonic() - t0
    resp.read()
    out[i] = (resp.status, first, time.monotonic() - t0)
    conn.close()

def mode(name, fanout):
    d = run / name
    d.mkdir()
    mock = Mock(d)
    coordd = Coordd(d) if fanout else None
    conf = {"RESPONSE_CACHE_ENABLED": "false", "MEMCACHED_SERVERS": "",
            "COORD_ADDRESSES": coordd.address if coordd else "", "PROVIDER_MAX_RETRIES": "0"}
    (d / "bench.env").write_text("".join("%s=%s\n" % kv for kv in conf.items()))
    proxy = Proxy(d, mock.base_url, {"CCPROXY_ENV_FILE": str(d / "bench.env"),
                                     "WORKER_THREADS": str(n), "LOG_LEVEL": "WARNING"})
    try:
        mock.script(*[slow_reply(count=40, delay=0.025) for _ in range(n)])
        out = [None] * n
        body = stream_turn("bench fan-out")
        ts = [threading.Thread(target=one, args=(proxy, body, out, i)) for i in range(n)]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        wall = time.monotonic() - t0
        ok = sum(1 for o in out if o and o[0] == 200)
        firsts = [o[1] * 1000 for o in out if o]
        totals = [o[2] * 1000 for o in out if o]
        print("%-12s clients=%d ok=%d upstream_calls=%d first_byte_ms p50=%.0f max=%.0f "
              "stream_ms p50=%.0f max=%.0f wall_ms=%.0f" % (
                  name, n, ok, len(upstream_calls(mock)), statistics.median(firsts),
                  max(firsts), statistics.median(totals), max(totals), wall * 1000))
    finally:
        proxy.stop()
        if coordd:
            coordd.stop()
        mock.proc.stop()

mode("direct", False)
mode("fan-out", True)
PY
