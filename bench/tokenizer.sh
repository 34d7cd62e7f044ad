#!/bin/sh
# Speed and exactness of ccproxy-tokens against the reference tokenizers
# (tiktoken, js-tiktoken, gpt-tokenizer, ai-tokenizer) on the shared corpora.
# Usage: bench/tokenizer.sh [BUILD_DIR] [MIN_RATIO]
# Copies $CCP_SHARED_DIR/tokenizer/speed (read-only) to a temp dir, runs
# `npm ci` there (npm registry), then speed/compare.py. Exit status is compare.py's.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-.}
ratio=${2:-2}
shared=${CCP_SHARED_DIR:-$here/../shared}
[ -d "$shared/tokenizer/speed" ] || shared=$here/../../shared
bin=$(cd "$build" && pwd)/ccproxy-tokens
[ -x "$bin" ] || { echo "tokenizer.sh: no $bin (build first)" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ccp-tokbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
cp -R "$shared/tokenizer/speed/." "$tmp/"
chmod -R u+w "$tmp"
(cd "$tmp" && npm ci --no-audit --no-fund >/dev/null)
CCPROXY_DATA_DIR=$here/data python3 "$tmp/compare.py" "$bin" "$ratio"
