#!/bin/sh
# count_tokens timings (figures for docs/tokens.md; not a test):
#  1. tr_count_tokens in-process on a ~600 KB Claude Code-shaped request
#     (bench/gen-cc-request.py): p50 uncached, cached, and grown by one turn;
#  2. plain CGI, process start to answer: N sequential ccproxy-fcgi runs of a
#     small count_tokens request, against N runs of `true` and of GET /health
#     (a CGI process that never maps the rank tables).
# Usage: bench/count_tokens.sh [BUILD_DIR] [N]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-.}" && pwd)
n=${2:-200}
shared=${CCP_SHARED_DIR:-$here/../shared}
[ -d "$shared/claude-code" ] || shared=$here/../../shared
(cd "$build" && make -s bench/count_tokens >/dev/null)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ccp-countbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

python3 "$here/bench/gen-cc-request.py" "$shared" 614400 >"$tmp/big.json"
python3 "$here/bench/gen-cc-request.py" "$shared" 614400 1 >"$tmp/less.json"
echo "== in-process tr_count_tokens ($(nproc) cpus, one thread)"
"$build/bench/count_tokens" "$here/data" "$tmp/big.json" "$tmp/less.json" 30

printf '{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Hello there"}]}' \
    >"$tmp/small.json"
len=$(wc -c <"$tmp/small.json")
# run_n CMD...: wall seconds of N sequential runs, per run in ms
run_n() {
    start=$(date +%s%N)
    i=0
    while [ $i -lt "$n" ]; do
        "$@" <"$tmp/small.json" >/dev/null 2>&1
        i=$((i + 1))
    done
    end=$(date +%s%N)
    echo "scale=2; ($end - $start) / 1000000 / $n" | bc
}
cgi() {
    env -i PATH=/usr/bin:/bin CCPROXY_ENV_FILE=/dev/null MEMCACHED_SERVERS= LOG_LEVEL=ERROR \
        TOKENIZER_DATA_DIR="$here/data" REQUEST_METHOD="$1" REQUEST_URI="$2" \
        CONTENT_LENGTH="$3" "$build/ccproxy-fcgi"
}
count() { cgi POST /v1/messages/count_tokens "$len"; }
health() { cgi GET /health 0; }
estimate() {
    env -i PATH=/usr/bin:/bin CCPROXY_ENV_FILE=/dev/null MEMCACHED_SERVERS= LOG_LEVEL=ERROR \
        TOKENIZER_DATA_DIR=/nonexistent REQUEST_METHOD=POST \
        REQUEST_URI=/v1/messages/count_tokens CONTENT_LENGTH="$len" "$build/ccproxy-fcgi"
}
count <"$tmp/small.json" | grep -q 'x-ccproxy-token-count: exact' || { echo "count_tokens.sh: CGI count is not exact" >&2; exit 1; }
echo "== plain CGI, $n sequential processes, ms per process"
echo "/bin/true                    $(run_n /bin/true)"
echo "ccproxy-fcgi GET /health     $(run_n health)"
echo "count_tokens, estimate       $(run_n estimate)"
echo "count_tokens, exact (mmap)   $(run_n count)"
