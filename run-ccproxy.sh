#!/usr/bin/env bash
# Start CCProxy on this machine: install what is missing (Debian 12), build
# ccproxy-fcgi if needed, and run lighttpd with the top-level lighttpd.conf in
# the foreground until Ctrl-C. Then point Claude Code at it:
#   ANTHROPIC_BASE_URL=http://127.0.0.1:8082 ANTHROPIC_API_KEY=any claude
#
# Usage: ./run-ccproxy.sh [--mock] [--help]
#   --mock   no real upstream: start tests/mock/mock_openai.py and use it
#            (answers every request with a short canned text).
# Configuration: .env in this directory (see .env.example), overridden by the
# environment. PORT (default 8082), CCPROXY_BIND (default 127.0.0.1),
# CCPROXY_PROCS (worker processes, default 2), CCPROXY_RUN_DIR (default ./run),
# CCP_BUILD_DIR (where ccproxy-fcgi is built; default: this directory).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
USE_MOCK=0

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

for arg in "$@"; do
    case "$arg" in
        --mock) USE_MOCK=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run-ccproxy.sh: unknown option: $arg" >&2; usage >&2; exit 2 ;;
    esac
done

log() { printf 'run-ccproxy: %s\n' "$*" >&2; }

# ---- 1. packages ----------------------------------------------------------
# scripts/deps.sh (shared with run-tests.sh) knows the package list; this
# fallback list is used only when it is absent.
PACKAGES="autoconf automake libtool pkg-config make gcc libfcgi-dev libcurl4-openssl-dev
libnghttp2-dev libjson-c-dev libssl-dev libmemcached-dev libpcre2-dev lighttpd python3"

install_missing() {
    local missing=() p
    for p in $PACKAGES; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        log "missing packages: ${missing[*]}"
        log "install them as root: apt-get install -y ${missing[*]}"
        exit 1
    fi
    log "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

if ! command -v dpkg >/dev/null 2>&1; then
    log "not a Debian system: make sure the build tools, libraries and lighttpd are installed"
elif [ -f "$ROOT/scripts/deps.sh" ]; then
    # shellcheck source=scripts/deps.sh
    . "$ROOT/scripts/deps.sh"
    ccp_install_deps run || exit 1
else
    install_missing
fi

# ---- 2. build -------------------------------------------------------------
BUILD_DIR=${CCP_BUILD_DIR:-$ROOT}
WORKER="$BUILD_DIR/ccproxy-fcgi"
build() {
    mkdir -p "$BUILD_DIR"
    if [ ! -f "$BUILD_DIR/Makefile" ]; then
        if [ ! -x "$ROOT/configure" ]; then
            log "autoreconf -fi"
            (cd "$ROOT" && autoreconf -fi)
        fi
        log "configure (in $BUILD_DIR)"
        (cd "$BUILD_DIR" && "$ROOT/configure" -q)
    fi
    log "make (in $BUILD_DIR)"
    make -C "$BUILD_DIR" -s -j"$(nproc 2>/dev/null || echo 2)"
}
build
[ -x "$WORKER" ] || { log "build did not produce $WORKER"; exit 1; }

# ---- 3. configuration -----------------------------------------------------
# Read .env as plain NAME=value lines (never executed); the environment wins.
ENV_FILE=${CCPROXY_ENV_FILE:-$ROOT/.env}
if [ -f "$ENV_FILE" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%$'\r'}
        case "$line" in ''|'#'*) continue ;; esac
        line=${line#export }
        name=${line%%=*}
        value=${line#*=}
        [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
        [ "$name" = "$line" ] && continue
        case "$value" in
            \"*\") value=${value:1:${#value}-2} ;;
            \'*\') value=${value:1:${#value}-2} ;;
        esac
        if [ -z "${!name+x}" ]; then
            export "$name=$value"
        fi
    done < "$ENV_FILE"
    export CCPROXY_ENV_FILE="$ENV_FILE"
    log "read $ENV_FILE"
fi

export PORT=${PORT:-8082}
export CCPROXY_BIND=${CCPROXY_BIND:-127.0.0.1}
export CCPROXY_PROCS=${CCPROXY_PROCS:-2}
export CCPROXY_RUN_DIR=${CCPROXY_RUN_DIR:-$ROOT/run}
export CCPROXY_BIN="$WORKER"
mkdir -p "$CCPROXY_RUN_DIR"
CCPROXY_RUN_DIR=$(cd "$CCPROXY_RUN_DIR" && pwd)

if [ "$USE_MOCK" -eq 0 ] && [ -z "${OPENAI_API_KEY:-}" ] && [ -z "${OPENAI_API_KEY_FILE:-}" ]; then
    log "OPENAI_API_KEY is not set."
    log "Put OPENAI_API_KEY=sk-... in $ROOT/.env (see .env.example), or run"
    log "  OPENAI_API_KEY=sk-... ./run-ccproxy.sh"
    log "or try it without an upstream: ./run-ccproxy.sh --mock"
    exit 1
fi

# ---- 4. processes ---------------------------------------------------------
PIDS=()
MC_TMPDIR="" # root's memcached socket directory (see start_coordinator)
# shellcheck disable=SC2317 # called from the traps below
stop_all() {
    local pid
    trap - INT TERM EXIT
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$MC_TMPDIR" ]; then
        rm -rf "$MC_TMPDIR"
    fi
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

# Wait (bounded) until something accepts connections on host:port.
wait_port() {
    local host=$1 port=$2 pid=$3 _
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

if [ "$USE_MOCK" -eq 1 ]; then
    rm -f "$CCPROXY_RUN_DIR/mock.port"
    /usr/bin/python3 "$ROOT/tests/mock/mock_openai.py" --port 0 \
        --port-file "$CCPROXY_RUN_DIR/mock.port" --quiet \
        >"$CCPROXY_RUN_DIR/mock.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        [ -s "$CCPROXY_RUN_DIR/mock.port" ] && break
        sleep 0.1
    done
    [ -s "$CCPROXY_RUN_DIR/mock.port" ] || { log "mock upstream did not start"; exit 1; }
    MOCK_PORT=$(cat "$CCPROXY_RUN_DIR/mock.port")
    export OPENAI_BASE_URL="http://127.0.0.1:$MOCK_PORT/v1"
    export OPENAI_API_KEY=sk-mock-not-a-real-key
    log "mock upstream at $OPENAI_BASE_URL (log: $CCPROXY_RUN_DIR/mock.log)"
fi

# memcached and ccproxy-coordd, unless MEMCACHED_SERVERS / COORD_ADDRESSES
# already name servers (set either to "none" to run without it). Both run
# from here, by PID, and stop with the rest. COORD_QUEUE_MAX (default 1000)
# is the coordinator's per-follower queue in events.
wait_unix() {
    local path=$1 pid=$2 _
    for _ in $(seq 1 100); do
        [ -S "$path" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

start_coordinator() {
    local coordd="$BUILD_DIR/ccproxy-coordd" sock
    if [ "${MEMCACHED_SERVERS:-}" = "none" ]; then
        export MEMCACHED_SERVERS=
    elif [ -z "${MEMCACHED_SERVERS:-}" ]; then
        if command -v memcached >/dev/null 2>&1; then
            local margs=(-m "${MEMCACHED_MB:-256}" -I 4m) mdir="$CCPROXY_RUN_DIR/memcached"
            local addr up=1
            [ "$(id -u)" -eq 0 ] && margs+=(-u nobody)
            if [ -n "${MEMCACHED_PORT:-}" ]; then
                addr="127.0.0.1:$MEMCACHED_PORT"
                margs+=(-l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0)
            else
                # A unix socket: a third cheaper per cache lookup than
                # loopback TCP (docs/benchmarks.md), and only its owner can
                # read the cache. memcached (as nobody, when started by
                # root) creates it, so root's socket lives in a directory of
                # its own under /tmp that nobody can reach; removed on exit.
                if [ "$(id -u)" -eq 0 ]; then
                    mdir=$(mktemp -d "${TMPDIR:-/tmp}/ccproxy-memcached.XXXXXX") &&
                        chown nobody "$mdir" && MC_TMPDIR=$mdir || up=0
                else
                    mkdir -p "$mdir" && chmod 700 "$mdir" || up=0
                fi
                addr="$mdir/memcached.sock"
                rm -f "$addr"
                margs+=(-s "$addr" -a 0600)
            fi
            if [ $up -eq 1 ]; then
                memcached "${margs[@]}" >"$CCPROXY_RUN_DIR/memcached.log" 2>&1 &
                PIDS+=($!)
                if [ -n "${MEMCACHED_PORT:-}" ]; then
                    wait_port 127.0.0.1 "$MEMCACHED_PORT" "$!" || up=0
                else
                    wait_unix "$addr" "$!" || up=0
                fi
            fi
            if [ $up -eq 1 ]; then
                export MEMCACHED_SERVERS="$addr"
                log "memcached at $MEMCACHED_SERVERS"
            else
                log "memcached did not start (see $CCPROXY_RUN_DIR/memcached.log); no shared cache"
                export MEMCACHED_SERVERS=
            fi
        else
            log "memcached is not installed: no shared response cache (apt-get install memcached)"
            export MEMCACHED_SERVERS=
        fi
    fi
    if [ "${COORD_ADDRESSES:-}" = "none" ]; then
        export COORD_ADDRESSES=
    elif [ -z "${COORD_ADDRESSES:-}" ] && [ -x "$coordd" ]; then
        sock="$CCPROXY_RUN_DIR/coordd.sock"
        "$coordd" --socket "$sock" --queue-max "${COORD_QUEUE_MAX:-1000}" \
            >"$CCPROXY_RUN_DIR/coordd.log" 2>&1 &
        PIDS+=($!)
        if wait_unix "$sock" "$!"; then
            export COORD_ADDRESSES="$sock"
            log "ccproxy-coordd at $sock"
        else
            log "ccproxy-coordd did not start (see $CCPROXY_RUN_DIR/coordd.log); no fan-out"
            export COORD_ADDRESSES=
        fi
    fi
}
start_coordinator

lighttpd -tt -f "$ROOT/lighttpd.conf" >/dev/null
lighttpd -D -f "$ROOT/lighttpd.conf" &
LIGHTTPD_PID=$!
PIDS+=("$LIGHTTPD_PID")

HOST=$CCPROXY_BIND
case "$HOST" in 0.0.0.0|::|'[::]') HOST=127.0.0.1 ;; esac
if ! wait_port "$HOST" "$PORT" "$LIGHTTPD_PID"; then
    log "lighttpd did not start; its log:"
    tail -n 20 "$CCPROXY_RUN_DIR/lighttpd-error.log" >&2 || true
    exit 1
fi

log "CCProxy is listening on $CCPROXY_BIND:$PORT (logs: $CCPROXY_RUN_DIR)"
echo "export ANTHROPIC_BASE_URL=http://$HOST:$PORT"
log "press Ctrl-C to stop"
set +e
wait "$LIGHTTPD_PID"
rc=$?
set -e
log "lighttpd exited with status $rc"
exit "$rc"
