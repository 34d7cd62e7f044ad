#!/usr/bin/env bash
# Print the README's configuration table from `ccproxy-fcgi --print-env-example`.
# Usage: scripts/config-table.sh BUILD_DIR            (print the table)
#        scripts/config-table.sh BUILD_DIR --update   (rewrite README.md in place)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:?usage: config-table.sh BUILD_DIR [--update]}/ccproxy-fcgi
table() {
    echo '| variable | default | meaning |'
    echo '|---|---|---|'
    "$bin" --print-env-example | awk '
        /^# / { h = substr($0, 3); next }
        /^[A-Z0-9_]+=/ {
            i = index($0, "="); n = substr($0, 1, i - 1); v = substr($0, i + 1)
            if (v == "") v = "(empty)"
            gsub(/\|/, "\\|", h)
            printf "| `%s` | `%s` | %s |\n", n, v, h
        }'
}
if [ "${2:-}" = --update ]; then
    t=$(mktemp)
    table >"$t"
    awk -v tf="$t" '
        /<!-- config-table:begin -->/ { print; while ((getline l < tf) > 0) print l; skip = 1; next }
        /<!-- config-table:end -->/ { skip = 0 }
        !skip { print }' "$top/README.md" >"$t.readme"
    mv "$t.readme" "$top/README.md"
    rm -f "$t"
else
    table
fi
