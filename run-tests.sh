#!/usr/bin/env bash
# Run every CCProxy test suite on this machine and end with one line:
#   N passed, N failed
# Installs what is missing (Debian 12, as root), builds with --enable-werror in
# build/, then runs: unit + golden tests (cmocka, `make check`), build checks
# (purity, .env.example), integration tests (real lighttpd + worker + mock
# upstream), the SDK check (golden streams through the pinned Anthropic SDK)
# and end-to-end tests (the real Claude Code CLI from npm).
#
# Then the variants: an ASan+UBSan build (build-asan/) running the unit tests
# and the integration suite against the ASan worker, valgrind over the unit
# tests, a --enable-fault-injection build (build-torture/) and, when clang is
# installed, libFuzzer for FUZZ_SECONDS (default 20) per fuzz target.
#
# Options: --unit (only unit tests and build checks), --no-e2e, --no-variants,
# --keep (keep per-test temp dirs), --long (also the worker under valgrind for
# tests/integration/test_proxy.py: TESTING.md B2, a few minutes; not in CI).
# Environment: CCP_BUILD_DIR (default build/), JOBS, FUZZ_SECONDS.
set -u
top=$(cd "$(dirname "$0")" && pwd)
cd "$top" || exit 2

only_unit=0
no_e2e=0
no_variants=0
long=0
for a in "$@"; do
    case "$a" in
    --unit) only_unit=1 ;;
    --no-e2e) no_e2e=1 ;;
    --no-variants) no_variants=1 ;;
    --long) long=1 ;;
    --keep) export CCP_KEEP_TMP=1 ;;
    -h | --help)
        sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "run-tests.sh: unknown option $a" >&2
        exit 2
        ;;
    esac
done

# shellcheck source=scripts/deps.sh
. "$top/scripts/deps.sh"
ccp_install_deps test || exit 2

build=${CCP_BUILD_DIR:-$top/build}
export CCP_BUILD_DIR="$build"
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
results=$(mktemp -d "${TMPDIR:-/tmp}/ccp-results.XXXXXX")
trap 'rm -rf "$results"' EXIT
passed=0
failed=0

# record NAME PASSED FAILED
record() {
    passed=$((passed + $2))
    failed=$((failed + $3))
    printf '%-28s %5d passed, %5d failed\n' "$1" "$2" "$3" >>"$results/summary"
}

step() { printf '\n==== %s\n' "$*"; }

# ---- build ------------------------------------------------------------------
step "build (gcc, --enable-werror) in $build"
if ! { [ -x "$top/configure" ] || autoreconf -fi; } ||
    ! mkdir -p "$build" ||
    ! (cd "$build" && { [ -f Makefile ] || "$top/configure" --enable-werror -q; } && make -j"$jobs"); then
    record build 0 1
    echo
    cat "$results/summary"
    echo "$passed passed, $failed failed"
    exit 1
fi
record build 1 0

# ---- unit and golden tests (cmocka) -----------------------------------------
step "unit and golden tests (make check)"
(cd "$build" && make -j"$jobs" check >"$results/check.out" 2>&1)
tail -n 15 "$results/check.out"
# count_checks NAME BUILD_DIR: record the cmocka/fuzz-replay results of `make check`
count_checks() {
    local name=$1 dir=$2 u_pass=0 u_fail=0 trs log res p f
    for trs in $(find "$dir/tests" -name '*.trs' | sort); do
        log=${trs%.trs}.log
        res=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
        case "$res" in
        PASS) u_pass=$((u_pass + (p > 0 ? p : 1))) ;;
        SKIP) ;;
        *)
            # a crash or a failed group: count its failures, at least one
            u_pass=$((u_pass + p))
            u_fail=$((u_fail + (f > 0 ? f : 1)))
            echo "---- $log"
            tail -n 40 "$log"
            ;;
        esac
    done
    record "$name" "$u_pass" "$u_fail"
}
count_checks "unit+golden (cmocka)" "$build"

# ---- build checks -----------------------------------------------------------
step "build checks"
if (cd "$build" && make -s check-purity); then record check-purity 1 0; else record check-purity 0 1; fi
if command -v clang-format >/dev/null 2>&1; then
    if (cd "$build" && make -s check-format); then record check-format 1 0; else record check-format 0 1; fi
fi
if "$build/ccproxy-fcgi" --print-env-example | diff -u "$top/.env.example" - >"$results/envdiff"; then
    echo ".env.example matches the configuration table"
    record env-example 1 0
else
    echo ".env.example differs from 'ccproxy-fcgi --print-env-example':"
    cat "$results/envdiff"
    record env-example 0 1
fi

if "$top/scripts/config-table.sh" "$build" >"$results/table" &&
    awk '/<!-- config-table:begin -->/{f=1;next} /<!-- config-table:end -->/{f=0} f' "$top/README.md" |
    diff -u - "$results/table" >"$results/tablediff"; then
    echo "README configuration table matches"
    record readme-config-table 1 0
else
    echo "README configuration table is stale; run scripts/config-table.sh $build --update:"
    cat "$results/tablediff"
    record readme-config-table 0 1
fi

# make distcheck: the tarball builds, passes `make check` out of tree,
# installs and uninstalls cleanly (about 20 s on 2 cores). The BPE test needs
# the shared tokenizer vectors, found beside this tree like the test does.
step "make distcheck"
shared=${CCP_SHARED_DIR:-}
for d in "$top/../shared" "$top/../../shared"; do
    [ -z "$shared" ] && [ -d "$d/tokenizer" ] && shared=$(cd "$d" && pwd)
done
# a distdir left by an earlier failed run is read-only and would be reused
chmod -R u+w "$build"/ccproxy-*/ 2>/dev/null
rm -rf "$build"/ccproxy-*/
if (cd "$build" && make -j"$jobs" distcheck CCP_SHARED_DIR="$shared" >"$results/distcheck.out" 2>&1); then
    tail -n 4 "$results/distcheck.out"
    record distcheck 1 0
else
    tail -n 40 "$results/distcheck.out"
    record distcheck 0 1
fi

# ---- pytest suites ----------------------------------------------------------
# run_pytest NAME DIR...: counts come from the junit XML report
run_pytest() {
    local name=$1 xml="$results/$1.xml"
    shift
    step "$name"
    /usr/bin/python3 -m pytest -q -rs -p no:cacheprovider --junitxml="$xml" "$@"
    local rc=$?
    if [ -f "$xml" ]; then
        read -r t f e s < <(/usr/bin/python3 - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
suites = [r] if r.tag == "testsuite" else list(r)
t = f = e = s = 0
for x in suites:
    t += int(x.get("tests", 0)); f += int(x.get("failures", 0))
    e += int(x.get("errors", 0)); s += int(x.get("skipped", 0))
print(t, f, e, s)
PY
        )
        record "$name" $((t - f - e - s)) $((f + e))
    elif [ $rc -ne 0 ] && [ $rc -ne 5 ]; then
        record "$name" 0 1
    fi
}

if [ $only_unit -eq 0 ]; then
    [ -d "$top/tests/integration" ] && run_pytest integration "$top/tests/integration"
    # the golden streams through the pinned official Anthropic SDK (node)
    [ -d "$top/tests/sdk" ] && run_pytest sdk "$top/tests/sdk"
    if [ $no_e2e -eq 0 ] && [ -d "$top/tests/e2e" ]; then
        run_pytest e2e "$top/tests/e2e"
    fi
fi

# ---- LONG: the worker under valgrind (TESTING.md B2) --------------------------
# lighttpd starts a wrapper that execs the worker under memcheck, one log per
# process; test_proxy.py runs against it, then every log must end with a
# zero ERROR SUMMARY (definite leaks count as errors). Left out: the test that
# finds workers by their executable (under valgrind that is valgrind's) and
# the four that assert latencies valgrind's slowdown cannot meet. A worker
# still running 60 s after its test is stopped by its PID and counts as failed.
if [ $long -eq 1 ] && [ $only_unit -eq 0 ]; then
    vg=$results/valgrind-worker
    step "LONG: the worker under valgrind, tests/integration/test_proxy.py"
    if command -v valgrind >/dev/null 2>&1; then
        mkdir -p "$vg/logs" "$vg/tmp"
        cat >"$vg/ccproxy-fcgi-valgrind" <<EOF
#!/bin/sh
# lighttpd's bin-path for run-tests.sh --long: ccproxy-fcgi under memcheck
exec valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \\
    --show-leak-kinds=definite --num-callers=30 --log-file=$vg/logs/valgrind-%p.log \\
    $build/ccproxy-fcgi "\$@"
EOF
        chmod 755 "$vg/ccproxy-fcgi-valgrind"
        CCP_WORKER_WRAPPER=$vg/ccproxy-fcgi-valgrind run_pytest integration-valgrind \
            "$top/tests/integration/test_proxy.py" --basetemp="$vg/tmp" \
            $(for t in test_killed_worker_is_respawned test_stream_first_event_not_buffered \
                test_upstream_connection_refused test_upstream_silent_past_read_timeout \
                test_stalled_clients_do_not_block_others; do
                echo "--deselect=tests/integration/test_proxy.py::$t"
            done)
        # each worker writes its summary as it exits: wait for all (bounded)
        for _ in $(seq 1 120); do
            [ -z "$(grep -L 'ERROR SUMMARY' "$vg"/logs/*.log 2>/dev/null)" ] && break
            sleep 0.5
        done
        for f in $(grep -L 'ERROR SUMMARY' "$vg"/logs/*.log 2>/dev/null); do
            pid=${f##*/valgrind-}
            pid=${pid%.log}
            echo "worker $pid still running: stopped"
            kill "$pid" 2>/dev/null
        done
        nlogs=$(find "$vg/logs" -name '*.log' | wc -l)
        bad=$(grep -L 'ERROR SUMMARY: 0 errors' "$vg"/logs/*.log 2>/dev/null | wc -l)
        if [ "$nlogs" -gt 0 ] && [ "$bad" -eq 0 ]; then
            echo "valgrind: $nlogs worker processes, no errors, no definite leaks"
            record valgrind-worker 1 0
        else
            echo "valgrind: $nlogs worker logs, $bad with errors or no summary:"
            for f in $(grep -L 'ERROR SUMMARY: 0 errors' "$vg"/logs/*.log 2>/dev/null | head -n 3); do
                echo "---- $f"
                head -n 60 "$f"
            done
            record valgrind-worker 0 $((bad > 0 ? bad : 1))
        fi
    else
        echo "valgrind is not installed"
        record valgrind-worker 0 1
    fi
fi

# ---- variants -----------------------------------------------------------------
# sanitizer reports in the logs under DIR (lighttpd-error.log holds the workers' stderr)
count_sanitizer_reports() {
    grep -rlE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$1" 2>/dev/null | wc -l
}

# configure_variant DIR FLAGS...: configure (once) and build an out-of-tree variant
configure_variant() {
    local dir=$1
    shift
    mkdir -p "$dir" && (cd "$dir" && { [ -f Makefile ] || "$top/configure" -q "$@"; } &&
        make -j"$jobs" >"$dir/build.out" 2>&1)
}

if [ $only_unit -eq 0 ] && [ $no_variants -eq 0 ]; then
    asan=$top/build-asan
    step "ASan + UBSan build (gcc) in $asan"
    export ASAN_OPTIONS=abort_on_error=1:halt_on_error=1:detect_leaks=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    if configure_variant "$asan" --enable-asan --enable-werror; then
        record asan-build 1 0
        (cd "$asan" && make -j"$jobs" check >"$results/asan-check.out" 2>&1)
        count_checks "unit+fuzz-replay (asan)" "$asan"
        # The scan below must find a report when there is one: `make check`
        # built tests/tools/asan_canary (this build only), which overflows a
        # heap block, leaks or overflows an int; each run with the workers'
        # options, into a log named like theirs, must be caught by the scan.
        canary=$asan/tests/tools/asan_canary
        missed=0
        for mode in overflow leak ub; do
            mkdir -p "$results/asan-canary/$mode"
            { "$canary" "$mode"; } >"$results/asan-canary/$mode/lighttpd-error.log" 2>&1
            if [ "$(count_sanitizer_reports "$results/asan-canary/$mode")" -eq 0 ]; then
                echo "the sanitizer log scan missed the canary's $mode report:"
                head -n 20 "$results/asan-canary/$mode/lighttpd-error.log"
                missed=$((missed + 1))
            fi
        done
        [ $missed -eq 0 ] && echo "the sanitizer log scan caught all 3 canary reports"
        record asan-scan-canary $((3 - missed)) $missed
        mkdir -p "$results/asan-tmp"
        # this pass runs every upstream call through the shared transport
        # (UPSTREAM_MULTI=true, a multi handle per process and its thread),
        # the plain pass above through each thread's own handle (what auto
        # gives for the http:// mock)
        UPSTREAM_MULTI=true CCP_BUILD_DIR=$asan run_pytest integration-asan-multi \
            "$top/tests/integration" --basetemp="$results/asan-tmp"
        n=$(count_sanitizer_reports "$results/asan-tmp")
        if [ "$n" -eq 0 ]; then
            echo "no sanitizer reports in the ASan worker logs"
            record asan-worker-reports 1 0
        else
            echo "sanitizer reports in $n log files:"
            grep -rlE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$results/asan-tmp"
            grep -rhE -A20 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' \
                "$results/asan-tmp" | head -n 60
            record asan-worker-reports 0 "$n"
        fi
    else
        tail -n 30 "$asan/build.out"
        record asan-build 0 1
    fi
    unset ASAN_OPTIONS UBSAN_OPTIONS

    step "valgrind over the unit tests and fuzz replays ($build)"
    if command -v valgrind >/dev/null 2>&1; then
        (cd "$build" && make -j"$jobs" check \
            LOG_COMPILER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite -q" \
            >"$results/valgrind.out" 2>&1)
        grep -E '^(PASS|FAIL|ERROR):' "$results/valgrind.out" | sed 's/^/  /' | tail -n 30
        count_checks "unit+fuzz-replay (valgrind)" "$build"
    else
        echo "valgrind is not installed"
        record valgrind 0 1
    fi

    torture=$top/build-torture
    step "allocation torture (--enable-fault-injection) in $torture"
    if configure_variant "$torture" --enable-fault-injection --enable-werror; then
        (cd "$torture" && make -j"$jobs" check >"$results/torture.out" 2>&1)
        count_checks "unit+torture (fault-inj)" "$torture"
    else
        tail -n 30 "$torture/build.out"
        record torture-build 0 1
    fi

    step "libFuzzer, ${FUZZ_SECONDS:-20} s per target"
    if command -v clang >/dev/null 2>&1; then
        SECONDS_PER_TARGET=${FUZZ_SECONDS:-20} "$top/tests/fuzz/run-libfuzzer.sh" \
            "$top/build-fuzz" >"$results/fuzz.out" 2>&1
        cat "$results/fuzz.out"
        record libfuzzer "$(grep -c '^fuzz .* PASS' "$results/fuzz.out")" \
            "$(grep -c '^fuzz .* FAIL' "$results/fuzz.out")"
    else
        echo "clang is not installed: libFuzzer runs skipped"
    fi
fi

echo
echo "==== summary"
cat "$results/summary"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
