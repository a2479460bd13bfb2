#!/usr/bin/env bash
# run.sh - the integration suite: the real `verdict serve` over HTTP on
# loopback, every endpoint and error of the API (docs/api.md; the cases
# and their format: the header of test_api.py).
#
# Usage: tests/integration/run.sh VERDICT_BINARY [test options...]
#        (e.g. --only sse to run some tests, -v for tracebacks)
#
# It makes a temp dir, runs test_api.py and then test_auth.py (keys, users,
# limits, webhooks, sessions; Python 3, standard library only, the same
# options), which start their servers there (SQLite database and compile
# cache of each under DIR/srv-NAME/, with their stderr in
# DIR/srv-NAME/stderr.log), and prints one line per test: "ok NAME",
# "FAIL NAME: why" or "skip NAME: why", then "N passed, N failed"
# (", N skipped" when something was skipped), summed over both, as the last
# line. It exits 1 when a test failed.
#
# Must run as root (the server runs programs in the sandbox); otherwise
# every test is skipped, saying so. The temp dir is removed afterwards when
# everything passed; kept (and named) when something failed, or always with
# VD_INTEGRATION_KEEP=1. The whole suite takes a few minutes.
set -u
export LC_ALL=C.UTF-8

if [ $# -lt 1 ]; then
    echo "usage: $0 VERDICT_BINARY [test_api.py options...]" >&2
    exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
VERDICT=$1
shift

# Runs one suite, printing its lines but its summary, which it adds to the
# totals; returns the suite's exit status.
P=0 F=0 S=0 SUMMED=0
part() {
    local sum rc
    sum=$(mktemp)
    "$PY" "$@" | awk -v sum="$sum" '
        /^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$/ { print > sum; next }
        { print; fflush() }'
    rc=${PIPESTATUS[0]}
    if [ -s "$sum" ]; then
        read -r p _ f _ s _ <"$sum"
        P=$((P + p)) F=$((F + ${f%,})) S=$((S + ${s:-0})) SUMMED=1
    fi
    rm -f "$sum"
    return "$rc"
}
summary() {
    [ "$SUMMED" = 1 ] || return 0
    if [ "$S" -gt 0 ]; then
        echo "$P passed, $F failed, $S skipped"
    else
        echo "$P passed, $F failed"
    fi
}

if [ "$(id -u)" -ne 0 ]; then
    why="needs root (the server runs programs in the sandbox)"
    part "$HERE/test_api.py" --skip-all "$why" "$@"
    part "$HERE/test_auth.py" --skip-all "$why" "$@"
    summary
    exit 0
fi

VERDICT=$(realpath "$VERDICT" 2>/dev/null || echo "$VERDICT")
if [ ! -x "$VERDICT" ]; then
    echo "$0: $VERDICT is not an executable" >&2
    exit 2
fi

W=$(mktemp -d /tmp/verdict-integration.XXXXXX)
chmod 755 "$W"
status=1
cleanup() {
    # Silent: the summary line stays the last line.
    if [ -z "${VD_INTEGRATION_KEEP:-}" ] && [ "$status" -eq 0 ]; then
        rm -rf "$W"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rc=0
part "$HERE/test_api.py" --verdict "$VERDICT" --tmp "$W" "$@" || rc=1
part "$HERE/test_auth.py" --verdict "$VERDICT" --tmp "$W" "$@" || rc=1
summary
status=$rc
exit "$status"
