#!/usr/bin/env bash
# run-all.sh - run every test suite and add up their results.
#
# Usage: tests/run-all.sh [BUILD_DIR]     (default: build)
#
# Suites, in order:
#   unit      BUILD_DIR/test-unit
#   sandbox   tests/sandbox/run.sh BUILD_DIR/verdict   (when the script exists)
#   integration tests/integration/run.sh BUILD_DIR/verdict  (the HTTP API)
#   scale     tests/integration/run.sh BUILD_DIR/verdict --backend scale
#             (the same on Redis and PostgreSQL, and the multi-node suite)
#   langs     tests/langs/run.sh BUILD_DIR/verdict     (every installed language)
#
# Each suite prints its own lines and ends with a line
# `N passed, N failed` (optionally `, N skipped`). This script streams each
# suite's output as it comes, takes the last such line of each, prints a
# per-suite summary, and ends with one total line in the same format, which
# CI reads. A suite that exits non-zero, or prints no summary line, counts
# one extra failure, so the total line never reads clean for a broken run.
# Exits 1 when anything failed.
set -uo pipefail

cd "$(dirname "$0")/.."
build=${1:-build}

summary_re='^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$'
total_pass=0
total_fail=0
total_skip=0
bad=0
report=()

# run_suite NAME COMMAND...
run_suite() {
    local name=$1 out status line pass=0 fail=0 skip=0 note=""
    shift
    out=$(mktemp)
    echo "=== suite $name: $*"
    "$@" 2>&1 | tee "$out"
    status=${PIPESTATUS[0]}
    line=$(grep -E "$summary_re" "$out" | tail -n 1 || true)
    rm -f "$out"
    if [[ $line =~ $summary_re ]]; then
        pass=${BASH_REMATCH[1]}
        fail=${BASH_REMATCH[2]}
        skip=${BASH_REMATCH[4]:-0}
    else
        note=" (no summary line: counted as 1 failure)"
        fail=$((fail + 1))
    fi
    if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then
        note=" (exit status $status with no failure reported: counted as 1 failure)"
        fail=1
    fi
    if [ "$status" -ne 0 ] || [ "$fail" -ne 0 ]; then
        bad=1
    fi
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
    total_skip=$((total_skip + skip))
    report+=("$(printf '%-8s %d passed, %d failed, %d skipped, exit %d%s' \
        "$name" "$pass" "$fail" "$skip" "$status" "$note")")
}

if [ -x "$build/test-unit" ]; then
    # The Redis and PostgreSQL unit tests need the private services.
    eval "$(bash scripts/services.sh test-env 2>/dev/null)"
    run_suite unit "$build/test-unit"
else
    report+=("unit     missing: $build/test-unit was not built (counted as 1 failure)")
    total_fail=$((total_fail + 1))
    bad=1
fi

if [ -f tests/sandbox/run.sh ]; then
    if [ -x tests/sandbox/run.sh ]; then
        run_suite sandbox tests/sandbox/run.sh "$build/verdict"
    else
        run_suite sandbox bash tests/sandbox/run.sh "$build/verdict"
    fi
else
    report+=("sandbox  not present yet (tests/sandbox/run.sh)")
fi

# The HTTP API over real loopback sockets: the real verdict serve, twice:
# embedded (SQLite, the queue in it), then the scale backend (Redis and
# PostgreSQL from scripts/services.sh, plus test_scale.py's cluster).
if [ -f tests/integration/run.sh ]; then
    run_suite integration bash tests/integration/run.sh "$build/verdict"
    run_suite scale bash tests/integration/run.sh "$build/verdict" --backend scale
fi

# Every language whose toolchain is installed (CI installs the core ones
# first; the others are tested wherever their packages are present).
if [ -f tests/langs/run.sh ]; then
    run_suite langs bash tests/langs/run.sh "$build/verdict" -j 2
fi

echo "=== summary"
for r in "${report[@]}"; do
    echo "$r"
done
if [ "$total_skip" -gt 0 ]; then
    echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
    echo "$total_pass passed, $total_fail failed"
fi
exit "$bad"
