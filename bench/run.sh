#!/bin/sh
# bench/run.sh - build and run the box benchmark (bench/box.c -> build/bench-box).
# Usage: bench/run.sh [--quick] [-n N] [--python-n M] [-w W]
# Run as root. Prints the machine first, then the box benchmark, whose last
# line is
#   box: pooled/bare=R1 fresh/bare=R2 bwrap/bare=R3 python_pooled/bare=R4
# then the judge benchmark, whose last line is
#   judge: c100/bare=R1 py100/bare=R2 cached_compile_ms=M
# then the API benchmark (bench/api.sh), whose last line is
#   api: get/nginx=R1 e2e/bare=R2 p50_ms=P
# and then the scale-out benchmark (bench/scale.sh: SQLite against Redis +
# PostgreSQL with one and two worker processes), whose last line is the last of
# all:
#   scale: redis_pg/sqlite=R w2/w1=S
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

CC=${CC:-cc}

# ---- the machine ----
cgroup_mode() {
    t=$(stat -fc %T /sys/fs/cgroup 2>/dev/null || echo none)
    case $t in
    cgroup2fs) echo "v2 (unified)" ;;
    tmpfs)
        if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
            echo "v1 (hybrid: v1 controllers + cgroup2 at /sys/fs/cgroup/unified)"
        else
            echo "v1 (legacy)"
        fi ;;
    *) echo "none ($t)" ;;
    esac
}
echo "machine: nproc=$(nproc) kernel=$(uname -r) arch=$(uname -m) cgroup=$(cgroup_mode)"
model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "cpu: ${model:-unknown}; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tools: $(bwrap --version 2>/dev/null || echo 'bwrap missing'); $(/usr/bin/python3 -V 2>&1); $($CC --version | head -n 1)"

if [ "$(id -u)" != 0 ]; then
    echo "bench/run.sh: must run as root (the sandbox needs it)" >&2
    exit 1
fi

# ---- build ----
make -C "$repo" build/libverdict.a >&2
if ! nm build/libverdict.a 2>/dev/null | grep -q ' T vd_box_run$'; then
    echo "bench/run.sh: build/libverdict.a has no vd_box_run (sandbox library not built yet)" >&2
    exit 1
fi
# Linked like build/verdict (the Makefile's -z relro,-z now): the box init
# leaves the server-side libraries out of each run's clone (MADV_DONTFORK),
# so the clone must not resolve a lazy PLT entry through them before exec.
# shellcheck disable=SC2046  # pkg-config output is a word list on purpose
$CC -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Iinclude -Wl,-z,relro,-z,now -o build/bench-box bench/box.c \
    build/libverdict.a $(pkg-config --libs libseccomp jansson libcrypto) -lpthread

# shellcheck disable=SC2046
$CC -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Iinclude -Wl,-z,relro,-z,now -o build/bench-judge bench/judge.c \
    build/libverdict.a $(pkg-config --libs libseccomp jansson libcrypto) -lpthread

# ---- run: the box benchmark, the judge one, the API one, then the scale one (its line comes last) ----
build/bench-box "$@"
echo
judge_args=
for a in "$@"; do [ "$a" = --quick ] && judge_args=--quick; done
# shellcheck disable=SC2086  # empty or one word
build/bench-judge $judge_args --langs "$repo/langs"
echo
# shellcheck disable=SC2086  # empty or one word
bash "$repo/bench/api.sh" $judge_args
echo
# shellcheck disable=SC2086  # empty or one word; build/verdict was just made by api.sh
bash "$repo/bench/scale.sh" --no-build $judge_args
