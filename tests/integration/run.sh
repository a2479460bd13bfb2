#!/usr/bin/env bash
# run.sh - the integration suite: the real `verdict serve` over HTTP on
# loopback, every endpoint and error of the API (docs/api.md; the cases
# and their format: the header of test_api.py).
#
# Usage: tests/integration/run.sh VERDICT_BINARY [--backend embedded|scale]
#                                 [test options...]
#        (e.g. --only sse to run some tests, -v for tracebacks)
#
# It makes a temp dir, runs test_api.py and then test_auth.py (keys, users,
# limits, webhooks, sessions; Python 3, standard library only, the same
# options), which start their servers there (database and compile cache of
# each under DIR/srv-NAME/, with their stderr in DIR/srv-NAME/stderr.log),
# and prints one line per test: "ok NAME", "FAIL NAME: why" or
# "skip NAME: why", then "N passed, N failed" (", N skipped" when something
# was skipped), summed over the suites, as the last line. It exits 1 when a
# test failed.
#
# Backends (--backend, or $VD_INTEGRATION_BACKEND; the option wins):
#   embedded  (the default) each server has a SQLite file of its own and
#             the queue in it.
#   scale     the scale-out mode: `scripts/services.sh start` (installs
#             redis-server and PostgreSQL as root when missing, starts the
#             private instances, ports 6390 and 5439) and its `env` lines
#             give VD_TEST_REDIS_URL and VD_TEST_DATABASE_URL; then every
#             server has a Redis database of its own (REDIS_URL=.../N,
#             flushed when the server is made) and a PostgreSQL database of
#             its own (vt_RUN_N_NAME, dropped at the end when everything
#             passed), kept across its restarts. The same two suites run,
#             then test_scale.py (several API nodes and `verdict worker`
#             processes on one Redis and one database: exactly-once
#             results, takeover after kill -9, SSE and cancel across nodes,
#             Redis and PostgreSQL restarts). When the services cannot be
#             started, every test is skipped, saying why.
#             VD_INTEGRATION_SCALE_DB=sqlite keeps SQLite files under Redis
#             (for a binary without the PostgreSQL store).
#
# Must run as root (the server runs programs in the sandbox); otherwise
# every test is skipped, saying so. The temp dir is removed afterwards when
# everything passed; kept (and named) when something failed, or always with
# VD_INTEGRATION_KEEP=1. The embedded suites take a minute or two; the
# scale backend about twice that plus test_scale.py's few minutes.
set -u
export LC_ALL=C.UTF-8

if [ $# -lt 1 ]; then
    echo "usage: $0 VERDICT_BINARY [--backend embedded|scale] [test_api.py options...]" >&2
    exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
VERDICT=$1
shift
BACKEND=${VD_INTEGRATION_BACKEND:-embedded}
OPTS=()
while [ $# -gt 0 ]; do
    case $1 in
    --backend) BACKEND=${2:-}; shift 2 || shift ;;
    --backend=*) BACKEND=${1#--backend=}; shift ;;
    *) OPTS+=("$1"); shift ;;
    esac
done
set -- "${OPTS[@]+"${OPTS[@]}"}"
case $BACKEND in
embedded | scale) ;;
*)
    echo "$0: --backend $BACKEND: want embedded or scale" >&2
    exit 2
    ;;
esac
SUITES=("$HERE/test_api.py" "$HERE/test_auth.py")
[ "$BACKEND" = scale ] && SUITES+=("$HERE/test_scale.py")

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
    else
        echo "FAIL ${1##*/}: no summary line (exit status $rc)"
        F=$((F + 1)) SUMMED=1
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
    for t in "${SUITES[@]}"; do part "$t" --skip-all "$why" "$@"; done
    summary
    exit 0
fi

# The scale backend's services: private redis-server and PostgreSQL.
unset VD_TEST_REDIS_URL VD_TEST_DATABASE_URL
if [ "$BACKEND" = scale ]; then
    log=$(mktemp)
    if ! bash "$REPO/scripts/services.sh" start >"$log" 2>&1; then
        why="scale backend: scripts/services.sh start failed: $(tail -n 3 "$log" | tr '\n' ' ')"
        rm -f "$log"
        echo "# $why"
        for t in "${SUITES[@]}"; do part "$t" --skip-all "$why" "$@"; done
        summary
        exit 0
    fi
    rm -f "$log"
    REDIS_URL= DATABASE_URL=
    eval "$(bash "$REPO/scripts/services.sh" env)"
    export VD_TEST_REDIS_URL=$REDIS_URL
    if [ "${VD_INTEGRATION_SCALE_DB:-postgres}" != sqlite ]; then
        export VD_TEST_DATABASE_URL=$DATABASE_URL
    fi
    unset REDIS_URL DATABASE_URL
    echo "# backend scale: REDIS $VD_TEST_REDIS_URL, database ${VD_TEST_DATABASE_URL:-sqlite files}"
fi

VERDICT=$(realpath "$VERDICT" 2>/dev/null || echo "$VERDICT")
if [ ! -x "$VERDICT" ]; then
    echo "$0: $VERDICT is not an executable" >&2
    exit 2
fi

if [ "$BACKEND" = scale ]; then
    W=$(mktemp -d /tmp/verdict-integration-scale.XXXXXX)
else
    W=$(mktemp -d /tmp/verdict-integration.XXXXXX)
fi
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

# Each suite's servers get Redis databases from a range of its own (a
# failed run's data stays apart for a look afterwards).
rc=0
first=1
for t in "${SUITES[@]}"; do
    VD_TEST_REDIS_DB_FIRST=$first part "$t" --verdict "$VERDICT" --tmp "$W" "$@" || rc=1
    first=$((first + 1000))
done
summary
status=$rc
exit "$status"
