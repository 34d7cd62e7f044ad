#!/usr/bin/env bash
# bench/run.sh: CCProxy benchmarks in one run. Builds ccproxy-fcgi and the
# bench tools, starts the C mock upstream (bench/mock_upstream.c), memcached
# and ccproxy-coordd (as run-ccproxy.sh does) and lighttpd with the top-level
# lighttpd.conf, and runs the workloads against
#   direct   the mock itself with the translated (OpenAI) bodies: zero overhead
#   ccproxy  lighttpd + ccproxy-fcgi, response cache (memcached + in-process
#            LRU) and fan-out (COORD_ADDRESSES) on, as deployed. Every request
#            of W1/W2/W3/W5 has its own body (a nonce), so none is answered
#            from the cache or coalesced; W4 runs with and without fan-out,
#            W6 repeats one request to measure cache hits.
#   ccproxy-nocache  the same without the response cache and fan-out (W1
#            small, W2): what the memcached and coordinator round trips cost
#   floor    lighttpd + bench/floor_fcgi.c (canned answers of the same size)
#   ccr      claude-code-router (Node.js, from npm) with the mock as its OpenAI
#            provider: W1-W6, when it is installed (bench/ccr/ after
#            --ccr, or `ccr` on PATH; else skipped)
# Prints a markdown table and saves it as bench/results/<date>-<host>.md
# (<date>-<host>-2.md and so on when that file exists).
#
# Usage: bench/run.sh [--quick] [--ccr | --no-ccr] [--out=FILE] [--keep]
#   --ccr     install the pinned claude-code-router (bench/ccr/package.json,
#             npm ci; needs node and npm) if it is not there, and measure it
#   --no-ccr  leave claude-code-router out even when it is installed
# Environment: CCP_BUILD_DIR (default build/), BENCH_PROCS (2),
# BENCH_THREADS (WORKER_THREADS, 256: W3 holds 500 streams at once),
# BENCH_DURATION (seconds per wrk run; 5, --quick 2), BENCH_AB_ROUNDS
# (rounds of the c=1 comparison taken in turns with the floor; 5, --quick 3;
# 0 skips it), LOG_LEVEL (INFO).
# Needs: wrk, lighttpd, memcached, python3, curl (Debian packages); nghttp2-proxy and
# openssl for the HTTP/2 W3 rows (skipped without them). All on 127.0.0.1;
# every process started here is stopped by PID.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
quick=0
keep=0
ccr=auto
out=""
for a in "$@"; do
    case "$a" in
    --quick) quick=1 ;;
    --keep) keep=1 ;;
    --ccr) ccr=install ;;
    --no-ccr) ccr=no ;;
    --out=*) out=${a#--out=} ;;
    -h | --help)
        sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "run.sh: unknown option $a" >&2
        exit 2
        ;;
    esac
done

build=${CCP_BUILD_DIR:-$top/build}
procs=${BENCH_PROCS:-2}
threads=${BENCH_THREADS:-256}
if [ $quick -eq 1 ]; then
    dur=${BENCH_DURATION:-2}
    abr=${BENCH_AB_ROUNDS:-3}
    nttfb=50
    w3n=500
    w6n=20
else
    dur=${BENCH_DURATION:-5}
    abr=${BENCH_AB_ROUNDS:-5}
    nttfb=200
    w3n=500
    w6n=50
fi
py=/usr/bin/python3
[ -x "$py" ] || py=python3

for t in wrk lighttpd memcached curl; do
    command -v "$t" >/dev/null || {
        echo "run.sh: $t is missing (apt-get install -y wrk lighttpd memcached curl)" >&2
        exit 2
    }
done
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

log() { printf '[bench] %s\n' "$*" >&2; }

# ---- build --------------------------------------------------------------
load0=$(cut -d' ' -f1-3 /proc/loadavg)
log "building in $build"
if ! { [ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null 2>&1); } ||
    ! mkdir -p "$build" ||
    ! (cd "$build" && { [ -f Makefile ] || "$top/configure" -q; } &&
        make -s -j"$(nproc)" ccproxy-fcgi ccproxy-coordd bench-progs >/dev/null); then
    echo "run.sh: build failed" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ccp-bench.XXXXXX")
PIDS=()
LPID=""
cleanup() {
    local p
    stop_lighttpd
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    case "${mcdir:-}" in "$tmp"/* | "") ;; *) rm -rf "$mcdir" ;; esac
    if [ $keep -eq 1 ]; then
        log "kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rows=$tmp/rows.jsonl
: >"$rows"

# ---- bodies ---------------------------------------------------------------
b=$tmp/bodies
"$py" "$top/bench/bodies/gen.py" "$b" || exit 1
for f in "$b"/*.json; do
    case "$f" in *count_tokens*) continue ;; esac
    "$build/translate_bench" --dump "$f" >"${f%.json}.openai" || exit 1
done
translate_line=$("$build/translate_bench" "$b/large.json" "$([ $quick -eq 1 ] && echo 30 || echo 200)")
log "translation: $translate_line"
# the small and medium bodies and the mock's answer too: with the large
# one, what translation puts on a c=1 request's path (report: "c=1 bound")
tr_small=$("$build/translate_bench" "$b/small.json" "$([ $quick -eq 1 ] && echo 2000 || echo 20000)")
tr_medium=$("$build/translate_bench" "$b/medium.json" "$([ $quick -eq 1 ] && echo 200 || echo 2000)")
tr_answer=$("$build/translate_bench" --response "$([ $quick -eq 1 ] && echo 2000 || echo 20000)")
log "translation: small $tr_small; medium $tr_medium; answer $tr_answer"
# Real Claude Code requests, when ../shared is beside the checkout (or
# BENCH_CC_REQUESTS names the capture folder): the three largest
# /v1/messages bodies, translated the same way.
ccdir=${BENCH_CC_REQUESTS:-$top/../shared/claude-code/requests}
cc_translate=$tmp/cc-translate.txt
: >"$cc_translate"
if [ -d "$ccdir" ]; then
    for name in $("$py" "$top/bench/bodies/cc_requests.py" "$ccdir" "$b/cc" 3); do
        line=$("$build/translate_bench" "$b/cc/$name" "$([ $quick -eq 1 ] && echo 200 || echo 1000)") || exit 1
        echo "$name $line" >>"$cc_translate"
        log "translation of $name: $line"
    done
fi

# Every wrk request gets its own body: "n<run>-<thread>-<count> " goes at the
# start of the body's first "text" (else "content") string, and BENCH_RUN is
# new for every measurement. So W1/W2 (and W3, W5 through load_client --unique)
# never get an answer from the response cache and never share a stream: they
# measure the real path with the cache and the coordinator on, as deployed
# (per request: a cache miss, a store, a fan-out join as the leader).
cat >"$tmp/post.lua" <<'EOF'
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
local body = f:read("*a")
f:close()
local run = os.getenv("BENCH_RUN") or "0"
local pre, post = body, ""
for _, m in ipairs({'"text":"', '"content":"'}) do
    local i = body:find(m, 1, true)
    if i then
        pre, post = body:sub(1, i + #m - 1), body:sub(i + #m)
        break
    end
end
local headers = {["Content-Type"] = "application/json", ["x-api-key"] = "bench",
                 ["anthropic-version"] = "2023-06-01"}
local nthreads = 0
tid = 0
count = 0
function setup(thread)
    thread:set("tid", nthreads)
    nthreads = nthreads + 1
end
function request()
    count = count + 1
    return wrk.format("POST", nil, headers,
                      pre .. "n" .. run .. "-" .. tid .. "-" .. count .. " " .. post)
end
function done(summary, latency, requests)
    io.write(string.format("BENCH %d %d %.1f %.1f %d\n", summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(99),
        summary.errors.status + summary.errors.connect + summary.errors.read +
        summary.errors.write + summary.errors.timeout))
end
EOF

# ---- mock upstream --------------------------------------------------------
"$build/mock_upstream" --port-file "$tmp/mock.port" >"$tmp/mock.log" 2>&1 &
PIDS+=($!)
MOCKPID=$!
for _ in $(seq 1 50); do
    [ -s "$tmp/mock.port" ] && break
    sleep 0.1
done
[ -s "$tmp/mock.port" ] || { echo "run.sh: mock did not start" >&2; exit 1; }
MOCK=http://127.0.0.1:$(cat "$tmp/mock.port")

free_port() {
    "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- memcached and ccproxy-coordd (as run-ccproxy.sh starts them) -----------
# memcached on a unix socket; as root it runs as nobody, so its socket lives
# in a directory of its own that nobody can reach.
mcdir=$tmp/memcached
if [ "$(id -u)" -eq 0 ]; then
    mcdir=$(mktemp -d "${TMPDIR:-/tmp}/ccp-bench-mc.XXXXXX") && chown nobody "$mcdir" || exit 1
else
    mkdir -p "$mcdir"
fi
margs=(-s "$mcdir/memcached.sock" -a 0600 -m 256 -I 4m)
[ "$(id -u)" -eq 0 ] && margs+=(-u nobody)
memcached "${margs[@]}" >"$tmp/memcached.log" 2>&1 &
PIDS+=($!)
MCPID=$!
for _ in $(seq 1 50); do
    [ -S "$mcdir/memcached.sock" ] && break
    sleep 0.1
done
[ -S "$mcdir/memcached.sock" ] || {
    echo "run.sh: memcached did not start" >&2
    exit 1
}
"$build/ccproxy-coordd" --socket "$tmp/coordd.sock" --queue-max 1000 >"$tmp/coordd.log" 2>&1 &
PIDS+=($!)
COORDPID=$!
for _ in $(seq 1 50); do
    [ -S "$tmp/coordd.sock" ] && break
    sleep 0.1
done
[ -S "$tmp/coordd.sock" ] || { echo "run.sh: ccproxy-coordd did not start" >&2; exit 1; }
log "memcached $MCPID on $mcdir/memcached.sock, ccproxy-coordd $COORDPID on $tmp/coordd.sock"
: >"$tmp/bench.env" # CCPROXY_ENV_FILE: no stray .env; everything below is in the environment

# ---- process figures --------------------------------------------------------
watch_pids=""   # processes whose CPU and peak RSS are measured
worker_pids() { [ -n "$LPID" ] && ps -o pid= --ppid "$LPID" | tr -d ' ' | tr '\n' ' '; }
cpu_ticks() {   # utime+stime of pids $@, in clock ticks
    local p s=0 st
    for p in "$@"; do
        st=$(cut -d')' -f2 "/proc/$p/stat" 2>/dev/null) || continue
        # fields after "pid (comm)": state=1 ... utime=12 stime=13
        s=$((s + $(echo "$st" | awk '{print $12 + $13}')))
    done
    echo $s
}
# the machine's busy and total time so far (every CPU), in clock ticks: the
# part of a row's CPU that no process above is charged with (the load
# generator, interrupts) is the busy time less theirs
machine_ticks() {
    awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit}' /proc/stat
}
reset_hwm() { local p; for p in "$@"; do echo 5 >"/proc/$p/clear_refs" 2>/dev/null; done; }
hwm_kb() {
    local p s=0 v
    for p in "$@"; do
        v=$(awk '/^VmHWM/{print $2}' "/proc/$p/status" 2>/dev/null)
        s=$((s + ${v:-0}))
    done
    echo $s
}
mock_stats() { curl -s "$MOCK/stats" | "$py" -c 'import json,sys; d=json.load(sys.stdin); print(d["requests"], d["connections"])'; }

start_lighttpd() { # NAME BIN [nofanout]
    export CCPROXY_BIN=$2 CCPROXY_RUN_DIR=$tmp/run-$1 CCPROXY_BIND=127.0.0.1
    export CCPROXY_PROCS=$procs WORKER_THREADS=$threads PORT
    export OPENAI_BASE_URL=${BENCH_UPSTREAM:-$MOCK/v1} OPENAI_API_KEY=sk-bench LOG_LEVEL=${LOG_LEVEL:-INFO}
    export CCPROXY_ENV_FILE=$tmp/bench.env RESPONSE_CACHE_ENABLED=true
    export MEMCACHED_SERVERS=$mcdir/memcached.sock STREAM_DEDUPE_ENABLED=true
    COORD_ADDRESSES=$tmp/coordd.sock
    [ "${3:-}" = nofanout ] && COORD_ADDRESSES=
    if [ "${3:-}" = nocache ]; then
        COORD_ADDRESSES=
        RESPONSE_CACHE_ENABLED=false
    fi
    export COORD_ADDRESSES
    PORT=$(free_port)
    mkdir -p "$CCPROXY_RUN_DIR"
    lighttpd -D -f "$top/lighttpd.conf" >"$CCPROXY_RUN_DIR/stdout" 2>&1 &
    LPID=$!
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break
        sleep 0.1
    done
    for _ in $(seq 1 50); do
        [ "$(worker_pids | wc -w)" -ge "$procs" ] && break
        sleep 0.1
    done
    BASE=http://127.0.0.1:$PORT
    watch_pids=$(worker_pids)
    log "$1: lighttpd $LPID on $BASE, workers: $watch_pids"
}
stop_lighttpd() {
    local p
    [ -n "$LPID" ] && kill "$LPID" 2>/dev/null && wait "$LPID" 2>/dev/null
    LPID=""
    sleep 0.2
    for p in $watch_pids; do # workers lighttpd did not stop
        kill "$p" 2>/dev/null
    done
    watch_pids=""
}

# measure TARGET WORKLOAD CONC KIND ARGS...: run one workload, append a row.
# load_client's bodies: nonce ("unique": its own per request, the default;
# "same": one per measurement for all its requests; "none": the body as is).
#   KIND wrk URL BODY            wrk for $dur s (rate, p50, p99)
#   KIND client URL BODY N MARKER  bench/load_client (adds time to first byte)
#   KIND both URL BODY MARKER    wrk, then load_client at the same concurrency for TTFB
# patch_last_row JSON: merge JSON's keys into the last row; a null drops the key.
patch_last_row() {
    "$py" - "$rows" "$1" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
row = json.loads(lines[-1])
for k, v in json.loads(sys.argv[2]).items():
    if v is None:
        row.pop(k, None)
    else:
        row[k] = v
lines[-1] = json.dumps(row)
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
EOF
}

nonce=unique
run_no=0
ccr_dead="" # the workload during which claude-code-router exited
CCRPID=""
measure() {
    local target=$1 wl=$2 c=$3 kind=$4 url=$5 body=$6
    local s0 s1 c0 c1 t0 t1 l0 l1 k0 k1 m0 m1 x0 x1 b0 b1 q0 q1 wres="" cres="" th na=() wlog lg0
    if [ "$target" = ccr ] && [ -n "$ccr_dead" ]; then
        return # claude-code-router has exited: no more rows of it
    fi
    run_no=$((run_no + 1))
    case $nonce in
    unique) na=(--nonce "r$run_no" --unique) ;;
    same) na=(--nonce "r$run_no") ;;
    esac
    # shellcheck disable=SC2086
    reset_hwm $watch_pids $COORDPID
    k0=$(cpu_ticks "$COORDPID")
    m0=$(cpu_ticks "$MCPID")
    x0=$(cpu_ticks "$MOCKPID")
    read -r s0 c0 < <(mock_stats)
    # shellcheck disable=SC2086
    t0=$(cpu_ticks $watch_pids)
    l0=$(cpu_ticks ${LPID:-})
    read -r b0 q0 < <(machine_ticks)
    wlog=/dev/null lg0=0 # the workers' request lines of this measurement (ccproxy only)
    if [ "$target" = ccproxy ] && [ -f "${CCPROXY_RUN_DIR:-}/stdout" ]; then
        wlog=$CCPROXY_RUN_DIR/stdout
        lg0=$(wc -l <"$wlog")
    fi
    if [ "$kind" = wrk ] || [ "$kind" = both ]; then
        th=$((c < 2 ? c : 2))
        wres=$(BENCH_BODY=$body BENCH_RUN=$run_no wrk -t"$th" -c"$c" -d"${dur}s" --latency -s "$tmp/post.lua" "$url" |
            sed -n 's/^BENCH //p')
    fi
    if [ "$kind" = client ]; then
        cres=$("$build/load_client" --url "$url" --body "$body" --n "$7" \
            --concurrency "$c" --marker "$8" --timeout 120 "${na[@]}")
    elif [ "$kind" = both ]; then
        cres=$("$build/load_client" --url "$url" --body "$body" --n "$nttfb" \
            --concurrency "$c" --marker "$7" --timeout 60 "${na[@]}")
    fi
    # shellcheck disable=SC2086
    t1=$(cpu_ticks $watch_pids)
    l1=$(cpu_ticks ${LPID:-})
    k1=$(cpu_ticks "$COORDPID")
    m1=$(cpu_ticks "$MCPID")
    x1=$(cpu_ticks "$MOCKPID")
    read -r b1 q1 < <(machine_ticks)
    read -r s1 c1 < <(mock_stats)
    [ -n "$cres" ] || cres='{}'
    # shellcheck disable=SC2086
    "$py" - "$target" "$wl" "$c" "$kind" "$wres" "$cres" $((t1 - t0)) $((l1 - l0)) \
        "$(getconf CLK_TCK)" "$(hwm_kb $watch_pids)" $((s1 - s0)) $((c1 - c0)) \
        $((k1 - k0)) "$(hwm_kb "$COORDPID")" "$nonce" "$wlog" "$lg0" \
        $((m1 - m0)) $((x1 - x0)) $((b1 - b0)) $((q1 - q0)) >>"$rows" <<'EOF'
import datetime, json, sys
(target, wl, c, kind, wres, cres, ticks, lticks, hz, hwm, calls, conns, kticks, khwm,
 nonce, wlog, lg0, mticks, xticks, bticks, qticks) = sys.argv[1:22]
row = {"target": target, "workload": wl, "conc": int(c), "kind": kind}
cres = json.loads(cres)
if wres:
    n, us, p50, p99, errs = wres.split()
    row.update(requests=int(n), rps=int(n) / (int(us) / 1e6), p50_ms=float(p50) / 1000,
               p99_ms=float(p99) / 1000, errors=int(errs))
    if cres:
        row.update(ttfb_p50_ms=cres["ttfb_p50_ms"], ttfb_p99_ms=cres["ttfb_p99_ms"])
        row["requests"] += cres["n"]
        row["errors"] += cres["errors"]
elif cres:
    row.update(requests=cres["n"], rps=cres["rps"], p50_ms=cres["p50_ms"], p99_ms=cres["p99_ms"],
               ttfb_p50_ms=cres["ttfb_p50_ms"], ttfb_p99_ms=cres["ttfb_p99_ms"],
               errors=cres["errors"], complete=cres["complete"])
n = row.get("requests") or 0
if n:  # memcached's, the mock's and the whole machine's CPU (every target)
    row["mc_cpu_ms_per_req"] = int(mticks) * 1000.0 / int(hz) / n
    row["mock_cpu_ms_per_req"] = int(xticks) * 1000.0 / int(hz) / n
    row["all_cpu_ms_per_req"] = int(bticks) * 1000.0 / int(hz) / n
    row["machine_busy"] = int(bticks) / max(1, int(qticks))
if target != "direct" and n:
    row["cpu_ms_per_req"] = int(ticks) * 1000.0 / int(hz) / n
    row["web_cpu_ms_per_req"] = int(lticks) * 1000.0 / int(hz) / n
    row["peak_rss_mb"] = int(hwm) / 1024.0
    row["coordd_cpu_ms_per_req"] = int(kticks) * 1000.0 / int(hz) / n
    row["coordd_rss_mb"] = int(khwm) / 1024.0
    if target == "ccr":  # one Node.js process: no lighttpd, no coordinator
        for k in ("web_cpu_ms_per_req", "coordd_cpu_ms_per_req", "coordd_rss_mb"):
            del row[k]
if cres.get("cache"):
    row["cache"] = cres["cache"]
    row.update(hit_p50_ms=cres.get("hit_p50_ms"), hit_p99_ms=cres.get("hit_p99_ms"))
row["bodies"] = "own per request" if nonce == "unique" else "identical"
row["upstream_calls"] = int(calls)
row["upstream_conns"] = int(conns)
# the workers' own view, from their request lines: time to first byte from
# taking the request, and the span over which they took this measurement's
# requests (start = the line's time less total_ms; millisecond resolution)
ttfbs, starts = [], []
with open(wlog, errors="replace") as f:
    for i, line in enumerate(f):
        if i < int(lg0) or not line.startswith("{") or '"msg":"request"' not in line:
            continue
        try:
            j = json.loads(line)
            end = datetime.datetime.strptime(j["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
        except (ValueError, KeyError):
            continue
        if j.get("path") != "/v1/messages":
            continue
        starts.append(end.timestamp() * 1000 - j.get("total_ms", 0))
        if j.get("ttfb_ms") is not None:
            ttfbs.append(j["ttfb_ms"])
if ttfbs:
    ttfbs.sort()
    row["worker_ttfb_p50_ms"] = ttfbs[len(ttfbs) // 2]
    row["worker_ttfb_p99_ms"] = ttfbs[min(len(ttfbs) - 1, int(len(ttfbs) * 0.99))]
    row["worker_taken_over_ms"] = max(starts) - min(starts)
print(json.dumps(row))
EOF
    log "$(tail -n 1 "$rows")"
    if [ "$target" = ccr ] && ! kill -0 "$CCRPID" 2>/dev/null; then
        ccr_dead=$wl # its CPU and RSS of this row are gone with it: drop them
        patch_last_row '{"cpu_ms_per_req": null, "peak_rss_mb": null, "exited": true}'
        log "claude-code-router exited during $wl: $(tail -n 20 "$tmp/ccr.log")"
    fi
}

# W1/W2 set: TARGET BASE_URL PATH SUFFIX(.json|.openai) STREAM_MARKER
run_w1w2() {
    local t=$1 url=$2$3 sfx=$4 mk=$5 size
    for size in small medium large; do
        if [ $quick -eq 1 ] && [ $size = large ]; then continue; fi
        measure "$t" "W1 non-stream $size" 1 both "$url" "$b/$size$sfx" '"'
        measure "$t" "W1 non-stream $size" 32 wrk "$url" "$b/$size$sfx"
    done
    measure "$t" "W2 stream 100 chunks" 1 both "$url" "$b/small.stream$sfx" "$mk"
    measure "$t" "W2 stream 100 chunks" 32 wrk "$url" "$b/small.stream$sfx"
}

# W4-W6 set: TARGET BASE_URL. W4: 20 identical concurrent 1-second streams (40
# chunks 25 ms apart, as in bench/fanout.sh), so all 20 are in flight together
# and none can be a cache hit (CCProxy: again below on workers without
# COORD_ADDRESSES). W5: count_tokens on the large body. W6: one body repeated,
# one after the other: the first is a miss, the rest hits (from the LRU of the
# process that stored it, or from memcached).
run_w4w6() {
    local t=$1 url=$2
    nonce=same
    measure "$t" "W4 20 identical streams, fan-out" 20 client "$url/v1/messages" \
        "$b/w4.stream.json" 20 message_stop
    nonce=unique
    measure "$t" "W5 count_tokens large" 1 both "$url/v1/messages/count_tokens" \
        "$b/count_tokens.json" input_tokens
    nonce=same
    measure "$t" "W6 repeated request" 1 client "$url/v1/messages" "$b/medium.json" "$w6n" '"'
    measure "$t" "W6 repeated stream request" 1 client "$url/v1/messages" \
        "$b/medium.stream.json" "$w6n" message_stop
    nonce=unique
}

# ---- direct: the mock itself -----------------------------------------------
log "target direct: $MOCK"
watch_pids=""
run_w1w2 direct "$MOCK" /v1/chat/completions .openai '[DONE]'
measure direct "W3 500 slow streams" "$w3n" client "$MOCK/v1/chat/completions" \
    "$b/slow.stream.openai" "$w3n" '[DONE]'
measure direct "W3 500 slow streams, again" "$w3n" client "$MOCK/v1/chat/completions" \
    "$b/slow.stream.openai" "$w3n" '[DONE]'

# ---- ccproxy ------------------------------------------------------------------
start_lighttpd ccproxy "$build/ccproxy-fcgi"
# canned answers for the floor: exactly what CCProxy answers
mkdir -p "$tmp/floor"
# (the worker answers 415 without Content-Type: application/json, so check)
hdr=(-H 'Content-Type: application/json' -H 'x-api-key: bench' -H 'anthropic-version: 2023-06-01')
curl -s "${hdr[@]}" --data-binary @"$b/small.json" "$BASE/v1/messages" >"$tmp/floor/nonstream"
curl -s "${hdr[@]}" --data-binary @"$b/small.stream.json" "$BASE/v1/messages" >"$tmp/floor/stream"
grep -q '"type":"message"' "$tmp/floor/nonstream" && grep -q message_stop "$tmp/floor/stream" || {
    echo "run.sh: could not capture CCProxy's answers for the floor" >&2
    exit 1
}
run_w1w2 ccproxy "$BASE" /v1/messages .json message_stop
run_w4w6 ccproxy "$BASE"
# shellcheck disable=SC2086
total_hwm=$(hwm_kb $watch_pids)
stop_lighttpd
start_lighttpd ccproxy-nofanout "$build/ccproxy-fcgi" nofanout
nonce=same
measure ccproxy "W4 20 identical streams, no fan-out" 20 client "$BASE/v1/messages" \
    "$b/w4.stream.json" 20 message_stop
nonce=unique
stop_lighttpd
# The proxy alone, response cache and fan-out off: the difference to the
# ccproxy rows is what a miss costs in memcached and coordinator round trips.
start_lighttpd ccproxy-nocache "$build/ccproxy-fcgi" nocache
measure ccproxy-nocache "W1 non-stream small" 1 both "$BASE/v1/messages" "$b/small.json" '"'
measure ccproxy-nocache "W1 non-stream small" 32 wrk "$BASE/v1/messages" "$b/small.json"
measure ccproxy-nocache "W2 stream 100 chunks" 1 both "$BASE/v1/messages" \
    "$b/small.stream.json" message_stop
measure ccproxy-nocache "W2 stream 100 chunks" 32 wrk "$BASE/v1/messages" "$b/small.stream.json"
stop_lighttpd
# W3 on fresh workers: their peak RSS is W3's alone (glibc keeps the memory
# the 600 KB bodies above needed), then once more with warm connections.
start_lighttpd ccproxy-w3 "$build/ccproxy-fcgi"
measure ccproxy "W3 500 slow streams" "$w3n" client "$BASE/v1/messages" "$b/slow.stream.json" \
    "$w3n" message_stop
measure ccproxy "W3 500 slow streams, again" "$w3n" client "$BASE/v1/messages" \
    "$b/slow.stream.json" "$w3n" message_stop
stop_lighttpd

# ---- W3 over HTTP/2: nghttpx (TLS) in front of the mock -------------------------
# Upstream connections here are the workers' TCP connections to nghttpx (distinct
# client ports in its access log), per transport: UPSTREAM_MULTI=true, then false.
if command -v nghttpx >/dev/null && command -v openssl >/dev/null; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/h2.key" -out "$tmp/h2.crt" \
        >/dev/null 2>&1
    h2port=$(free_port)
    for multi in true false; do
        nghttpx --frontend=127.0.0.1,"$h2port" --backend=127.0.0.1,"${MOCK##*:}" --workers=2 \
            --no-ocsp --frontend-http2-max-concurrent-streams=256 \
            --accesslog-file="$tmp/h2-access-$multi.log" \
            --accesslog-format='$remote_port $alpn $request' \
            --errorlog-file="$tmp/h2-error.log" "$tmp/h2.key" "$tmp/h2.crt" >/dev/null 2>&1 &
        H2PID=$!
        PIDS+=($H2PID)
        for _ in $(seq 1 50); do
            curl -s -o /dev/null --cacert "$tmp/h2.crt" "https://127.0.0.1:$h2port/" && break
            sleep 0.1
        done
        export UPSTREAM_MULTI=$multi OPENAI_CA_BUNDLE=$tmp/h2.crt
        BENCH_UPSTREAM=https://127.0.0.1:$h2port/v1
        start_lighttpd "ccproxy-h2-$multi" "$build/ccproxy-fcgi"
        measure ccproxy "W3 500 slow streams, HTTP/2 upstream, UPSTREAM_MULTI=$multi" "$w3n" \
            client "$BASE/v1/messages" "$b/slow.stream.json" "$w3n" message_stop
        stop_lighttpd
        kill "$H2PID" 2>/dev/null
        wait "$H2PID" 2>/dev/null
        BENCH_UPSTREAM=""
        h2conns=$(awk '/chat\/completions/ {print $1}' "$tmp/h2-access-$multi.log" | sort -u |
            wc -l)
        log "HTTP/2 UPSTREAM_MULTI=$multi: $h2conns upstream TCP connections (nghttpx)"
        patch_last_row "{\"upstream_conns\": $h2conns}"
    done
    unset UPSTREAM_MULTI OPENAI_CA_BUNDLE
else
    log "nghttpx or openssl missing: no HTTP/2 W3 (apt-get install -y nghttp2-proxy openssl)"
fi

# ---- floor ----------------------------------------------------------------------
start_lighttpd floor "$build/floor_fcgi $tmp/floor"
run_w1w2 floor "$BASE" /v1/messages .json message_stop
stop_lighttpd
# W3 through lighttpd and FastCGI alone: the same 500 slow streams (events
# 50 ms apart) from the floor, on fresh processes, then once more
start_lighttpd floor-w3 "$build/floor_fcgi $tmp/floor"
measure floor "W3 500 slow streams" "$w3n" client "$BASE/v1/messages" "$b/slow.stream.json" \
    "$w3n" message_stop
measure floor "W3 500 slow streams, again" "$w3n" client "$BASE/v1/messages" \
    "$b/slow.stream.json" "$w3n" message_stop
stop_lighttpd

# ---- c=1 in turns with the floor --------------------------------------------------
# The rows above measure CCProxy, then the floor some minutes later, and a
# shared VM's speed drifts in between. Here the two take turns, round after
# round, at c=1 (W1 small and W2), so that each pair sees the same minute;
# the report gives every round and the median difference. The order swaps
# every round (CCProxy first in odd rounds, the floor in even ones): on this
# VM the second of two back-to-back runs can be the faster one (A/B rounds
# of W3 in a fixed order once showed a gain that reversed with the order).
for r in $(seq 1 "$abr"); do
    order="ccproxy floor"
    [ $((r % 2)) -eq 0 ] && order="floor ccproxy"
    for t in $order; do
        if [ $t = ccproxy ]; then
            start_lighttpd ccproxy-turns "$build/ccproxy-fcgi"
        else
            start_lighttpd floor-turns "$build/floor_fcgi $tmp/floor"
        fi
        measure "$t-turns" "W1 non-stream small, round $r" 1 wrk "$BASE/v1/messages" "$b/small.json"
        measure "$t-turns" "W2 stream 100 chunks, round $r" 1 wrk "$BASE/v1/messages" \
            "$b/small.stream.json"
        stop_lighttpd
    done
done

# ---- claude-code-router -----------------------------------------------------------
# The Node.js proxy the issue measures us against, from npm: one process
# (`ccr start` serves in the foreground), configured through a config.json in
# a HOME of its own with the mock as its only provider. Its rows measure that
# process as the ccproxy rows measure the workers (CPU, peak RSS).
ccr_note="not installed (bench/run.sh --ccr installs the pinned version from npm into bench/ccr)"
ccr_cli=""
if [ "$ccr" = install ] && [ ! -x "$top/bench/ccr/node_modules/.bin/ccr" ]; then
    if command -v npm >/dev/null && command -v node >/dev/null; then
        log "installing claude-code-router into bench/ccr (npm ci)"
        (cd "$top/bench/ccr" && timeout 600 npm ci --no-audit --no-fund >"$tmp/ccr-npm.log" 2>&1) ||
            log "npm ci in bench/ccr failed; see its log: $(tail -n 3 "$tmp/ccr-npm.log")"
    else
        log "--ccr needs node and npm (apt-get install -y nodejs npm)"
    fi
fi
if [ "$ccr" != no ]; then
    if [ -x "$top/bench/ccr/node_modules/.bin/ccr" ]; then
        ccr_cli=$top/bench/ccr/node_modules/.bin/ccr
    elif command -v ccr >/dev/null; then
        ccr_cli=$(command -v ccr)
    fi
else
    ccr_note="left out (--no-ccr)"
fi
if [ -n "$ccr_cli" ]; then
    ccr_ver=$(cd "$(dirname "$(readlink -f "$ccr_cli")")/.." && node -p 'require("./package.json").version' 2>/dev/null)
    ccr_home=$tmp/ccr-home
    ccr_port=$(free_port)
    ccr_url=http://127.0.0.1:$ccr_port
    mkdir -p "$ccr_home/.claude-code-router"
    cat >"$ccr_home/.claude-code-router/config.json" <<EOF
{"LOG": false, "PORT": $ccr_port, "API_TIMEOUT_MS": 600000,
 "NON_INTERACTIVE_MODE": true,
 "Providers": [{"name": "mock", "api_base_url": "$MOCK/v1/chat/completions",
                "api_key": "sk-bench", "models": ["bench-model"]}],
 "Router": {"default": "mock,bench-model"}}
EOF
    HOME=$ccr_home "$ccr_cli" start >"$tmp/ccr.log" 2>&1 &
    CCRPID=$!
    PIDS+=($CCRPID)
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$ccr_url/" && break
        sleep 0.1
    done
    if curl -s "${hdr[@]}" --data-binary @"$b/small.json" "$ccr_url/v1/messages" |
        grep -q '"type":"message"'; then
        ccr_note="claude-code-router $ccr_ver (\`ccr start\`, Node.js $(node --version)), one process, rows \"ccr\""
        log "target ccr: claude-code-router $ccr_ver, pid $CCRPID on port $ccr_port"
        watch_pids=$CCRPID
        run_w1w2 ccr "$ccr_url" /v1/messages .json message_stop
        measure ccr "W3 500 slow streams" "$w3n" client "$ccr_url/v1/messages" \
            "$b/slow.stream.json" "$w3n" message_stop
        measure ccr "W3 500 slow streams, again" "$w3n" client "$ccr_url/v1/messages" \
            "$b/slow.stream.json" "$w3n" message_stop
        run_w4w6 ccr "$ccr_url" # the same row names as CCProxy's: the report pairs them
        watch_pids=""
        if [ -n "$ccr_dead" ]; then
            ccr_note="$ccr_note; it exited during \"$ccr_dead\" (no rows of it after that one), its last output: \`$(tail -n 3 "$tmp/ccr.log" | tr '\n|' '  ' | cut -c1-300)\`"
        fi
    else
        ccr_note="installed ($ccr_cli), but it did not answer a request; see its log"
        log "claude-code-router did not answer: $(tail -n 5 "$tmp/ccr.log")"
    fi
    kill "$CCRPID" 2>/dev/null
    wait "$CCRPID" 2>/dev/null
fi

# ---- report ------------------------------------------------------------------------
host=$(hostname -s 2>/dev/null || echo host)
mkdir -p "$top/bench/results"
if [ -z "$out" ]; then # a run of the same day gets -2, -3, ...: never overwrite a result
    stem=$top/bench/results/$(date +%Y-%m-%d)-$host$([ $quick -eq 1 ] && echo -quick)
    out=$stem.md
    i=2
    while [ -e "$out" ]; do
        out=$stem-$i.md
        i=$((i + 1))
    done
fi
"$py" "$top/bench/report.py" "$rows" --translate "$translate_line" --cc-translate "$cc_translate" --ccr "$ccr_note" \
    --translate-small "$tr_small" --translate-medium "$tr_medium" --translate-answer "$tr_answer" \
    --cmd "bench/run.sh $*" --procs "$procs" --threads "$threads" --duration "$dur" \
    --total-rss-kb "$total_hwm" --load "$load0" --load-end "$(cut -d' ' -f1-3 /proc/loadavg)" \
    >"$out" || exit 1
cat "$out"
log "saved $out"
