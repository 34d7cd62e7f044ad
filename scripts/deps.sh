# Sourced by run-ccproxy.sh and run-tests.sh: install the Debian packages that
# are missing (Debian 12). `ccp_install_deps run` installs what running needs,
# `ccp_install_deps test` adds what the test suites need.

ccp_deps_build="autoconf automake libtool pkg-config make gcc libfcgi-dev libcurl4-openssl-dev
libnghttp2-dev libjson-c-dev libssl-dev libmemcached-dev libpcre2-dev"
ccp_deps_run="lighttpd memcached spawn-fcgi python3 curl"
ccp_deps_test="libcmocka-dev python3-pytest python3-prometheus-client python3-brotli python3-zstandard chromium nodejs npm apache2 libapache2-mod-fcgid multiwatch nghttp2-proxy openssl valgrind clang clang-format libclang-rt-14-dev"

ccp_install_deps() {
    local want="$ccp_deps_build $ccp_deps_run" missing="" p
    [ "${1:-run}" = test ] && want="$want $ccp_deps_test"
    for p in $want; do
        # npm may come with a Node.js that was not installed from Debian
        if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
        if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages:$missing" >&2
        echo "install them with: sudo apt-get install -y$missing" >&2
        return 1
    fi
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $missing >/dev/null || {
        echo "apt-get install failed for:$missing" >&2
        return 1
    }
}
