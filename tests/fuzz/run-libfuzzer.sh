#!/usr/bin/env bash
# Build the fuzz targets with clang + libFuzzer + ASan + UBSan and run each for
# SECONDS_PER_TARGET (default 20) seconds from a copy of its committed corpus.
# Usage: tests/fuzz/run-libfuzzer.sh OUTDIR [TARGET...]
# Prints one line per target: "fuzz <name> PASS|FAIL"; exit status 1 if any failed.
# New inputs stay in OUTDIR/<name>.corpus; crashes in OUTDIR/<name>-crash-*.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: run-libfuzzer.sh OUTDIR [TARGET...]}
shift
secs=${SECONDS_PER_TARGET:-20}
targets=${*:-anthropic_request openai_response sse_stream json chunk cache_key coord_proto}
cc=${CLANG:-clang}
mkdir -p "$out"
# config.h from a configured build dir, or a minimal one
if [ -n "${CCP_BUILD_DIR:-}" ] && [ -f "$CCP_BUILD_DIR/config.h" ]; then
    cp "$CCP_BUILD_DIR/config.h" "$out/config.h"
else
    printf '#define PACKAGE_NAME "ccproxy"\n#define PACKAGE_VERSION "fuzz"\n' >"$out/config.h"
fi
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -std=c11
-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I$top -I$out $(pkg-config --cflags json-c libpcre2-8)"
libs="$(pkg-config --libs json-c libpcre2-8)"
common="$top/common/alloc.c $top/common/buf.c $top/common/err.c $top/common/log.c $top/common/str.c
$top/common/vocab.c"
translate=$(ls "$top"/translate/*.c)
status=0
for t in $targets; do
    srcs="$top/tests/fuzz/fuzz_$t.c $common"
    extra=""
    case "$t" in
    cache_key)
        srcs="$srcs $top/cache/key.c"
        extra="$(pkg-config --libs libcrypto)"
        ;;
    coord_proto) srcs="$srcs $top/coord/proto.c" ;;
    *) srcs="$srcs $translate" ;;
    esac
    # shellcheck disable=SC2086
    if ! $cc $cflags $srcs $libs $extra -lm -o "$out/fuzz_$t" 2>"$out/fuzz_$t.build.log"; then
        echo "fuzz $t FAIL (build; see $out/fuzz_$t.build.log)"
        status=1
        continue
    fi
    rm -rf "$out/$t.corpus"
    cp -r "$top/tests/fuzz/corpus/$t" "$out/$t.corpus"
    if (cd "$out" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        timeout $((secs + 60)) "./fuzz_$t" -max_total_time="$secs" -max_len=65536 \
        -timeout=10 -rss_limit_mb=2048 -dict="$top/tests/fuzz/ccproxy.dict" \
        -artifact_prefix="$out/$t-" "$t.corpus" >"$out/fuzz_$t.log" 2>&1); then
        echo "fuzz $t PASS ($(grep -c . "$out/fuzz_$t.log") log lines, $(find "$out/$t.corpus" -type f | wc -l) corpus files)"
    else
        echo "fuzz $t FAIL (see $out/fuzz_$t.log)"
        tail -n 30 "$out/fuzz_$t.log"
        status=1
    fi
done
exit $status
