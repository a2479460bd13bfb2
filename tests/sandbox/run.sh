#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2015 # t_* are called by name; A && B || err is meant
# run.sh - the sandbox suite: hostile programs run through the real
# `verdict box`, one or more per attack class of the research note
# (shared/research/sandboxes.md, section 6), each with its expected verdict.
#
# Usage: tests/sandbox/run.sh VERDICT_BINARY
#
# It builds cases/*.c (gcc -O2 -static) into a mktemp directory, runs each
# case, and prints one line per case: "ok NAME", "FAIL NAME: why" or
# "skip NAME: why" (only where this machine lacks a feature, named), then
# "N passed, N failed, N skipped". It exits 1 when a case failed.
#
# Besides its own assertions, every case checks that the host is untouched
# afterwards:
#   - no process of this run left behind (a box uid 60000-60255 or a
#     program under /box/, tagged by the VD_SUITE_RUN=... that every run
#     here passes with --env, so that other verdict users on the machine,
#     including another copy of this suite, are neither blamed nor killed);
#   - no file created outside the box: each program (common.h) creates
#     /tmp/verdict-escape-NAME, /box/..., /dev/shm/..., /verdict-escape-NAME,
#     which must all have landed in the box, never on the host;
#   - the supervisor's environment stays secret: VD_SECRET_CANARY is
#     exported here, and neither its name nor its value may show up in what
#     a program printed (the programs look in environ and /proc/*/environ).
# At the end, host files the cases aimed at (/etc/shadow, /etc/passwd,
# /usr/bin/true, ...) must be byte-for-byte the same.
#
# cgroup modes: the cases run in the mode `verdict box` picks (auto). A few
# run again with --mode none (the rlimit fallback) and with --mode cgroup2;
# the cgroup2 ones run only where the v2 hierarchy has the memory and pids
# controllers (on a v1/hybrid machine it has none, and they are skipped
# saying so).
#
# Must run as root (namespaces, cgroups, uid switches); otherwise every case
# is skipped. The whole suite takes well under a minute. VD_SANDBOX_KEEP=1
# keeps the temp dir (programs, records and outputs under run/CASE/).

set -u
export LC_ALL=C

if [ $# -ne 1 ]; then
    echo "usage: $0 VERDICT_BINARY" >&2
    exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
CASES_DIR=$HERE/cases
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

PASS=0
FAILN=0
SKIPN=0

ok() { echo "ok $1"; PASS=$((PASS + 1)); }
bad() { echo "FAIL $1: $2"; FAILN=$((FAILN + 1)); }
skip() { echo "skip $1: $2"; SKIPN=$((SKIPN + 1)); }
summary() {
    if [ "$SKIPN" -gt 0 ]; then
        echo "$PASS passed, $FAILN failed, $SKIPN skipped"
    else
        echo "$PASS passed, $FAILN failed"
    fi
    [ "$FAILN" -eq 0 ]
    exit $?
}

# Every group of cases, in order; a group is a function t_NAME.
GROUPS_ALL=(basic 01-forkbomb 02-threads 03-membomb 04-cpuburn 05-sleeper 06-outflood
    07-diskfill 08-network 09-readhost 10-writeout 11-symlinks 11-stdin 12-procleak 13-ptrace
    14-signals 15-stack 16-setuid 17-tiocsti 18-crossbox 19-abi 20-orphans 21-fdleak
    22-kobjects 23-compile 24-env accuracy concurrent mode-none mode-cgroup2
    require-cgroup host-files)

if [ "$(id -u)" -ne 0 ]; then
    for g in "${GROUPS_ALL[@]}"; do
        skip "$g" "needs root (namespaces, cgroups and uid switches)"
    done
    summary
fi

VERDICT=$(realpath "$1" 2>/dev/null || echo "$1")
if [ ! -x "$VERDICT" ]; then
    echo "$0: $1 is not an executable" >&2
    exit 2
fi

W=$(mktemp -d /tmp/verdict-sandbox-suite.XXXXXX)
chmod 755 "$W"
HELPERS=() # host pids this script started (listeners, victims)
cleanup() {
    for p in "${HELPERS[@]}"; do
        kill "$p" 2>/dev/null
    done
    if [ -n "${VD_SANDBOX_KEEP:-}" ]; then
        echo "# kept $W" >&2
    else
        rm -rf "$W"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

VD_SECRET_CANARY="vd-canary-$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')"
export VD_SECRET_CANARY
# Marks the processes of this run (see host_clean).
RUN_TAG="VD_SUITE_RUN=sbx-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"

# ---------------------------------------------------------------- build

mkdir -p "$W/bin" "$W/dirs" "$W/run" "$W/logs"
for src in "$CASES_DIR"/[0-9]*.c; do
    name=$(basename "$src" .c)
    (gcc -O2 -static -Wall -o "$W/bin/$name" "$src" -lpthread >"$W/logs/$name.build" 2>&1 ||
        touch "$W/logs/$name.failed") &
done
wait
for src in "$CASES_DIR"/[0-9]*.c; do
    name=$(basename "$src" .c)
    if [ -e "$W/logs/$name.failed" ]; then
        bad "build-$name" "$(grep -m1 error "$W/logs/$name.build")"
        continue
    fi
    # Each program gets a --dir of its own with only itself in it.
    mkdir -p "$W/dirs/$name"
    cp "$W/bin/$name" "$W/dirs/$name/$name"
done
chmod -R a+rX "$W"

# --------------------------------------------------------- host snapshot

SNAP_FILES=(/etc/passwd /etc/shadow /etc/group /etc/hosts /etc/ld.so.cache /usr/bin/true)
sha256sum "${SNAP_FILES[@]}" >"$W/host.sha256" 2>/dev/null
# The names the programs create in /tmp, /dev/shm, / and /box of their box;
# none may ever show up on the host (see host_clean).
# (Patterns, quoted here and expanded in host_clean.)
MARKERS=('/tmp/verdict-escape-*' /tmp/verdict-xrun '/verdict-escape-*' '/box/verdict-*'
    '/usr/verdict-escape*' '/usr/bin/verdict-escape*' '/lib/verdict-escape*'
    '/lib64/verdict-escape*' '/etc/verdict-escape*' '/etc/alternatives/verdict-escape*'
    '/dev/verdict-escape*' '/dev/shm/verdict-escape-*' /dev/shm/verdict-fill
    /dev/shm/verdict-shm-bomb /dev/shm/verdict-xrun '/proc/sys/verdict-escape*')

# ---------------------------------------------------------------- meta

# meta_load FILE: sets M_valid, M_why and M_<field> for each record field.
# Booleans become true/false, numbers integers.
meta_load() {
    eval "$("$PY" - "$1" <<'EOF'
import json, shlex, sys
fields = ["status", "exit_code", "signal", "cpu_ms", "wall_ms", "memory_kb", "mode",
          "message", "oom_killed", "output_truncated", "memory_source"]
def out(k, v):
    print("M_%s=%s" % (k, shlex.quote(str(v))))
for k in fields:
    out(k, "")
try:
    text = open(sys.argv[1]).read()
except OSError as e:
    out("valid", 0); out("why", "no record (%s)" % e.strerror); sys.exit()
lines = [l for l in text.splitlines() if l.strip()]
if len(lines) != 1:
    out("valid", 0); out("why", "record has %d lines, want 1: %r" % (len(lines), text[:200])); sys.exit()
try:
    d = json.loads(lines[0])
    assert isinstance(d, dict)
except Exception:
    out("valid", 0); out("why", "record is not a JSON object: %r" % lines[0][:200]); sys.exit()
missing = [k for k in fields if k not in d]
for k in fields:
    v = d.get(k, "")
    if isinstance(v, bool):
        v = "true" if v else "false"
    elif isinstance(v, float):
        v = int(round(v))
    out(k, v)
if missing:
    out("valid", 0); out("why", "record lacks " + ",".join(missing))
else:
    out("valid", 1); out("why", "")
EOF
)"
}

# ---------------------------------------------------------------- running

TMO=60 # seconds any single `verdict box` may take before the case fails
ERRS=()
M_valid='' M_why='' M_status='' M_exit_code='' M_signal='' M_mode='' M_message=''
err() { ERRS+=("$*"); }

# vbox CASE ARGS...: one `verdict box --meta F ARGS...`; its stdout and
# stderr go to $T/out and $T/err. Sets T, RC, ELAPSED_MS and M_*. Asserts
# that verdict exited 0 and wrote a valid one-line record, unless NOCHECK=1.
# EXTRA_FDS=1 runs it with fds 7 and 8 open, which the program must not get.
vbox() {
    CASE=$1
    shift
    T=$W/run/$CASE
    mkdir -p "$T"
    local t0
    t0=$(date +%s%N)
    if [ -n "${EXTRA_FDS:-}" ]; then
        timeout -k 5 "$TMO" "$VERDICT" box --meta "$T/meta" --env "$RUN_TAG" "$@" \
            >"$T/out" 2>"$T/err" </dev/null 7>"$T/fd7" 8<"$HERE/run.sh"
    else
        timeout -k 5 "$TMO" "$VERDICT" box --meta "$T/meta" --env "$RUN_TAG" "$@" \
            >"$T/out" 2>"$T/err" </dev/null
    fi
    RC=$?
    ELAPSED_MS=$((($(date +%s%N) - t0) / 1000000))
    meta_load "$T/meta"
    if [ "${NOCHECK:-0}" != 1 ]; then
        if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
            err "verdict box did not finish within ${TMO}s"
        elif [ "$RC" -ne 0 ]; then
            err "verdict box exited $RC: $(tail -c 300 "$T/err" | tr '\n' ' ')"
        fi
        [ "$M_valid" = 1 ] || err "$M_why"
    fi
}

# pbox CASE PROG [VERDICT-OPTIONS...] [-- ARGS...]: runs cases/PROG.c as
# /box/PROG, with a --dir holding only it.
pbox() {
    local case=$1 prog=$2
    shift 2
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift
    vbox "$case" --dir "$W/dirs/$prog" "${opts[@]}" -- "/box/$prog" "$@"
}

# Assertions on the last run.
want_status() {
    local s
    for s in "$@"; do
        [ "$M_status" = "$s" ] && return 0
    done
    err "status ${M_status:-none}, want $(echo "$@" | tr ' ' '/') (message: $M_message; exit_code $M_exit_code, signal $M_signal)"
    return 1
}
# want_num FIELD-VALUE-NAME OP BOUND: e.g. want_num cpu_ms -ge 500
want_num() {
    local name=$1 op=$2 bound=$3 v
    v=$(eval echo "\${M_$name:-}")
    if ! [[ "$v" =~ ^-?[0-9]+$ ]]; then
        err "$name is '$v', not a number"
    elif ! test "$v" "$op" "$bound"; then
        err "$name $v, want $op $bound"
    fi
}
want_eq() { # want_eq FIELD VALUE
    local v
    v=$(eval echo "\${M_$1:-}")
    [ "$v" = "$2" ] || err "$1 is '$v', want '$2'"
}
want_out() { # want_out STRING [FILE]: the program printed STRING
    grep -qF -- "$1" "${2:-$T/out}" 2>/dev/null ||
        err "output lacks '$1' ($(head -c 200 "${2:-$T/out}" 2>/dev/null | tr '\n' '|'))"
}
want_no_out() { # want_no_out STRING [FILE]
    local hit
    hit=$(grep -m3 -F -- "$1" "${2:-$T/out}" 2>/dev/null | tr '\n' '|')
    [ -z "$hit" ] || err "output has '$1': $hit"
}
want_no_out_re() { # want_no_out_re REGEX [FILE]
    local hit
    hit=$(grep -m3 -E -- "$1" "${2:-$T/out}" 2>/dev/null | tr '\n' '|')
    [ -z "$hit" ] || err "output has: $hit"
}
# out_int KEY: the integer after "KEY=" in the program's output (or empty).
out_int() { grep -oE "$1=-?[0-9]+" "${2:-$T/out}" | head -1 | cut -d= -f2; }

# ours_left: this run's box processes still alive, one "PID uid=U STAT ARGS"
# a line. Candidates are box uids and programs under /box/; only those
# whose environment holds RUN_TAG are ours. A zombie has no environment
# left and is skipped: it holds nothing but a pid.
ours_left() {
    local pid uid stat args
    ps -eo pid=,uid=,stat=,args= |
        awk '($2 >= 60000 && $2 <= 60255) || $4 ~ /^\/box\// { print }' |
        while read -r pid uid stat args; do
            tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "$RUN_TAG" &&
                echo "$pid uid=$uid $stat $args"
        done
}

# Host checks, after every case. Leftover box processes get a second to go
# (SIGKILL is asynchronous), then count as a failure and are killed here
# (they are this run's own) so that later cases are not blamed.
host_clean() {
    local left=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        left=$(ours_left)
        [ -z "$left" ] && break
        sleep 0.1
    done
    if [ -n "$left" ]; then
        err "processes left behind: $(echo "$left" | head -5 | tr '\n' ';')"
        echo "$left" | awk '{ print $1 }' | while read -r p; do kill -9 "$p" 2>/dev/null; done
    fi
    local f g esc=()
    for g in "${MARKERS[@]}"; do
        for f in $g; do
            [ -e "$f" ] || [ -L "$f" ] || continue
            esc+=("$f")
        done
    done
    if [ ${#esc[@]} -gt 0 ]; then
        err "files escaped to the host: ${esc[*]}"
        rm -f "${esc[@]}" 2>/dev/null
    fi
    # The canary: its name or value in anything a program printed. The
    # record and verdict's own log lines are in the same files; none of
    # them has any business printing the supervisor's environment either.
    local d
    for d in "$W"/run/*/; do
        [ -e "$d/.seen" ] && continue
        if grep -rqsF -e "$VD_SECRET_CANARY" -e "CANARY-LEAK" -e "VD_SECRET_CANARY" "$d"; then
            err "the supervisor's environment leaked into the box ($(grep -rhsF -e CANARY-LEAK -e "$VD_SECRET_CANARY" -e VD_SECRET_CANARY "$d" | head -2 | tr '\n' '|'))"
        fi
        touch "$d/.seen"
    done
}

begin() { ERRS=(); }
# finish NAME: host checks, then the case's line.
finish() {
    host_clean
    if [ ${#ERRS[@]} -eq 0 ]; then
        ok "$1"
    else
        local msg
        msg=$(printf '%s; ' "${ERRS[@]}")
        bad "$1" "${msg%; }"
    fi
}

have() { [ -x "$W/bin/$1" ]; }

# ---------------------------------------------------------------- cases

t_basic() {
    begin
    vbox basic-true -- true
    want_status OK
    want_eq exit_code 0
    case "$M_mode" in cgroup1 | cgroup2 | none) ;; *) err "mode '$M_mode'" ;; esac
    # Auto mode must use cgroups when the machine has them.
    if [ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/pids ] && [ "$M_mode" = none ]; then
        err "auto mode picked 'none' on a machine with v1 memory and pids controllers"
    fi
    finish basic-true

    begin
    pbox basic-exit 00-basic -- exit 3
    want_status RE
    want_eq exit_code 3
    want_eq signal 0
    finish basic-exit

    begin
    pbox basic-signal 00-basic -- signal 6
    want_status RE
    want_eq signal 6
    finish basic-signal

    begin
    printf 'line one\nline two\n' >"$W/basic-stdin.txt"
    pbox basic-stdin 00-basic --stdin "$W/basic-stdin.txt" -- cat
    want_status OK
    cmp -s "$T/out" "$W/basic-stdin.txt" || err "stdout is not stdin ($(head -c 100 "$T/out" | tr '\n' '|'))"
    finish basic-stdin

    begin
    mkdir -p "$W/run/basic-files"
    pbox basic-files 00-basic --stdout "$W/run/basic-files/o.txt" --stderr "$W/run/basic-files/e.txt" \
        -- echo hello world
    want_status OK
    [ "$(cat "$T/o.txt" 2>/dev/null)" = "$(printf 'hello\nworld')" ] || err "--stdout file holds '$(head -c 100 "$T/o.txt" 2>/dev/null)'"
    [ -s "$T/out" ] && err "stdout went to verdict's stdout too"
    finish basic-files

    # Without --meta the record is the last line of verdict's stderr.
    begin
    T=$W/run/basic-meta-stderr
    mkdir -p "$T"
    timeout -k 5 "$TMO" "$VERDICT" box --env "$RUN_TAG" -- true >"$T/out" 2>"$T/err" </dev/null
    RC=$?
    [ "$RC" -eq 0 ] || err "verdict box exited $RC"
    tail -n 1 "$T/err" >"$T/meta"
    meta_load "$T/meta"
    [ "$M_valid" = 1 ] || err "last stderr line: $M_why"
    want_status OK
    finish basic-meta-stderr

    begin
    T=$W/run/basic-usage
    mkdir -p "$T"
    timeout -k 5 "$TMO" "$VERDICT" box --no-such-option -- true >"$T/out" 2>"$T/err" </dev/null
    RC=$?
    [ "$RC" -eq 2 ] || err "exit status $RC for a bad option, want 2"
    finish basic-usage
}

t_01-forkbomb() {
    have 01-forkbomb || return
    begin
    pbox 01-forkbomb 01-forkbomb --procs 16 --time 5 --wall 10
    want_status OK RE
    local n
    n=$(out_int forks)
    if [ -z "$n" ]; then
        err "no forks= line ($(head -c 200 "$T/out"))"
    elif [ "$n" -gt 16 ]; then
        err "forked $n processes with --procs 16"
    fi
    [ "$ELAPSED_MS" -lt 15000 ] || err "took ${ELAPSED_MS} ms"
    finish 01-forkbomb

    begin
    pbox 01-forkbomb-recursive 01-forkbomb --procs 16 --time 5 --wall 2 -- recursive
    want_status TLE
    [ "$ELAPSED_MS" -lt 10000 ] || err "took ${ELAPSED_MS} ms"
    finish 01-forkbomb-recursive
}

t_02-threads() {
    have 02-threadbomb || return
    begin
    pbox 02-threadbomb 02-threadbomb --procs 16 --time 5 --wall 10
    want_status OK
    local n
    n=$(out_int threads)
    if [ -z "$n" ]; then
        err "no threads= line ($(head -c 200 "$T/out"))"
    elif [ "$n" -ge 16 ]; then
        err "created $n threads besides main with --procs 16"
    fi
    finish 02-threadbomb

    # CPU of every thread counts: two burning threads and main.
    begin
    pbox 02-thread-cpu 02-threadbomb --procs 8 --time 0.5 --wall 5 -- burn
    want_status TLE
    want_num cpu_ms -ge 500
    want_num wall_ms -lt 2000
    finish 02-thread-cpu
}

t_03-membomb() {
    have 03-membomb || return
    begin
    pbox 03-membomb 03-membomb --mem 64 --time 10 --wall 20
    want_status MLE
    want_eq oom_killed true
    want_num memory_kb -le $((64 * 1024 * 110 / 100))
    want_no_out NO-LIMIT
    finish 03-membomb

    # tmpfs pages are memory too: /dev/shm must not be a way around --mem,
    # and must not be the host's /dev/shm.
    begin
    pbox 03-membomb-shm 03-membomb --mem 64 --time 10 --wall 20 -- shm
    want_status MLE OK RE OLE
    want_no_out NO-LIMIT
    finish 03-membomb-shm
}

t_04-cpuburn() {
    have 04-cpuburn || return
    begin
    pbox 04-cpuburn 04-cpuburn --time 0.5 --wall 5
    want_status TLE
    want_num cpu_ms -ge 500
    want_num wall_ms -lt 2500
    finish 04-cpuburn
}

t_05-sleeper() {
    have 05-sleeper || return
    begin
    pbox 05-sleeper 05-sleeper --wall 0.5 --time 5
    want_status TLE
    want_num wall_ms -lt 3000
    want_num wall_ms -ge 500
    [ "$ELAPSED_MS" -lt 5000 ] || err "verdict took ${ELAPSED_MS} ms"
    finish 05-sleeper

    begin
    pbox 05-sleeper-tree 05-sleeper --wall 0.5 --time 5 -- tree
    want_status TLE
    want_num wall_ms -lt 3000
    [ "$ELAPSED_MS" -lt 5000 ] || err "verdict took ${ELAPSED_MS} ms"
    finish 05-sleeper-tree
}

t_06-outflood() {
    have 06-outflood || return
    local size
    begin
    pbox 06-outflood 06-outflood --output 64 --time 5 --wall 10
    want_status OLE
    want_eq output_truncated true
    size=$(stat -c %s "$T/out")
    [ "$size" -le 65536 ] || err "verdict's stdout got $size bytes with --output 64"
    finish 06-outflood

    begin
    mkdir -p "$W/run/06-outflood-file"
    pbox 06-outflood-file 06-outflood --output 64 --time 5 --wall 10 \
        --stdout "$W/run/06-outflood-file/o.txt"
    want_status OLE
    want_eq output_truncated true
    size=$(stat -c %s "$T/o.txt" 2>/dev/null || echo missing)
    [ "$size" != missing ] && [ "$size" -le 65536 ] || err "--stdout file has $size bytes with --output 64"
    finish 06-outflood-file

    begin
    mkdir -p "$W/run/06-outflood-stderr"
    pbox 06-outflood-stderr 06-outflood --output 64 --time 5 --wall 10 \
        --stderr "$W/run/06-outflood-stderr/e.txt" -- stderr
    want_status OLE
    want_eq output_truncated true
    size=$(stat -c %s "$T/e.txt" 2>/dev/null || echo missing)
    [ "$size" != missing ] && [ "$size" -le 65536 ] || err "--stderr file has $size bytes with --output 64"
    finish 06-outflood-stderr
}

t_07-diskfill() {
    have 07-diskfill || return
    local where
    for where in box tmp shm; do
        begin
        # Memory and file-size limits above the tmpfs sizes, so that the
        # tmpfs cap is what stops the program.
        pbox "07-diskfill-$where" 07-diskfill --mem 1024 --fsize 1048576 --time 10 --wall 30 \
            -- "$where"
        want_status OK RE
        want_out "ENOSPC"
        want_no_out NO-LIMIT
        finish "07-diskfill-$where"
    done

    begin
    pbox 07-diskfill-inodes 07-diskfill --time 10 --wall 30 -- inodes
    want_status OK RE
    want_out "ENOSPC"
    want_no_out NO-LIMIT
    finish 07-diskfill-inodes

    begin
    pbox 07-fsize 07-diskfill --fsize 100 --time 5 --wall 10 -- fsize
    want_status OLE
    want_no_out NO-LIMIT
    finish 07-fsize
}

t_08-network() {
    have 08-network || return
    begin
    # A host service on an abstract unix socket (per network namespace).
    local name pid
    name="verdict-host-$$-$RANDOM"
    "$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0" + sys.argv[1]); s.listen(8); time.sleep(120)' "$name" &
    pid=$!
    HELPERS+=("$pid")
    sleep 0.2
    pbox 08-network 08-network --time 5 --wall 10 -- "$name"
    kill "$pid" 2>/dev/null
    want_status OK
    want_no_out_re '^(OPEN|WRONG-ERRNO|FAIL-INSIDE)'
    want_out "failures=0"
    finish 08-network
}

t_09-readhost() {
    have 09-readhost || return
    begin
    pbox 09-readhost 09-readhost --time 5 --wall 10 -- "$HERE" "$W" "$(dirname "$VERDICT")" /work/shared
    want_status OK
    want_no_out_re '^(OPEN|WRONG-ERRNO)'
    want_out "failures=0"
    local h
    h=$(hostname)
    grep -qxE "(nodename|etc-hostname): $h" "$T/out" && err "the box has the host's name '$h'"
    # The box's /etc/passwd is generated: no host account but root, nobody
    # and box users may show up.
    local u
    while IFS=: read -r u _; do
        case $u in root | nobody) continue ;; esac
        grep -qF "passwd: $u:" "$T/out" && err "host account '$u' in the box's /etc/passwd"
    done </etc/passwd
    finish 09-readhost
}

t_10-writeout() {
    have 10-writeout || return
    begin
    pbox 10-writeout 10-writeout --time 5 --wall 10
    want_status OK
    want_no_out_re '^(OPEN|WRONG-ERRNO)'
    want_out "failures=0"
    finish 10-writeout
}

t_11-symlinks() {
    have 11-symlinks || return
    begin
    local d=$W/dirs/11-symlinks-trap
    mkdir -p "$d" "$W/victim"
    cp "$W/bin/11-symlinks" "$d/"
    ln -sfn /etc/shadow "$d/shadow"
    ln -sfn / "$d/up"
    ln -sfn ../../../../../etc/shadow "$d/rel"
    echo "host data" >"$W/victim/keep"
    chmod -R a+rX "$d" "$W/victim"
    mkdir -p "$W/run/11-symlinks"
    vbox 11-symlinks --dir "$d" --time 5 --wall 10 --stdout "$W/run/11-symlinks/o.txt" \
        -- /box/11-symlinks "$W/victim"
    want_status OK
    want_out "traps planted" "$T/o.txt"
    want_no_out_re '^(OPEN|NOT-A-SYMLINK|missing)' "$T/o.txt"
    [ "$(cat "$W/victim/keep" 2>/dev/null)" = "host data" ] || err "the host victim file changed or vanished"
    [ -L "$d/shadow" ] || err "the --dir source changed"
    sha256sum -c --quiet "$W/host.sha256" >/dev/null 2>&1 || err "host files changed: $(sha256sum -c --quiet "$W/host.sha256" 2>&1 | head -2 | tr '\n' ' ')"
    finish 11-symlinks
}

# The host side hands --stdin over: a world-writable input file must not be
# writable (nor its host path visible) through /proc/self/fd/0.
t_11-stdin() {
    begin
    local f=$W/victim/stdin.txt
    mkdir -p "$W/victim"
    echo "3 4" >"$f"
    chmod 666 "$f"
    vbox 11-stdin --stdin "$f" --time 5 --wall 10 -- sh -c \
        'read a b; echo "sum=$((a + b))"; readlink /proc/self/fd/0; echo PWNED >>/proc/self/fd/0; exit 0'
    want_status OK
    want_out "sum=7"
    want_no_out "$W"
    [ "$(cat "$f")" = "3 4" ] || err "the host stdin file changed: $(head -c 100 "$f")"
    finish 11-stdin
}

t_12-procleak() {
    have 12-procleak || return
    begin
    pbox 12-procleak 12-procleak --time 5 --wall 10 -- "$HERE" "$W" /work/
    want_status OK
    want_out "foreign=0"
    want_no_out_re '^(OPEN|LEAK)'
    want_out "failures=0"
    finish 12-procleak
}

t_13-ptrace() {
    have 13-ptrace || return
    begin
    pbox 13-ptrace 13-ptrace --time 5 --wall 10
    want_status OK
    want_no_out_re '^(OPEN|WRONG-ERRNO)'
    want_out "failures=0"
    finish 13-ptrace
}

t_14-signals() {
    have 14-signals || return
    begin
    local victim
    sleep 300 &
    victim=$!
    HELPERS+=("$victim")
    pbox 14-signals 14-signals --time 5 --wall 10 -- "$victim" "$$"
    want_status OK
    want_out "still alive"
    kill -0 "$victim" 2>/dev/null || err "host process $victim was killed"
    kill "$victim" 2>/dev/null
    finish 14-signals

    begin
    pbox 14-signals-group 14-signals --time 5 --wall 10 -- group
    want_status RE
    want_eq signal 9
    finish 14-signals-group
}

t_15-stack() {
    have 15-stack || return
    begin
    pbox 15-stack 15-stack --stack 8192 --mem 256 --time 5 --wall 10
    want_status RE
    want_eq signal 11
    finish 15-stack

    # The limit is really applied: 40 MiB of stack work with --stack 65536.
    begin
    pbox 15-stack-deep 15-stack --stack 65536 --mem 256 --time 5 --wall 10 -- deep 40
    want_status OK
    want_out "depth="
    finish 15-stack-deep
}

t_16-setuid() {
    have 16-setuid || return
    begin
    local d=$W/dirs/16-setuid-suid
    mkdir -p "$d"
    cp "$W/bin/16-setuid" "$d/"
    cp "$W/bin/16-setuid" "$d/suid"
    cp "$W/bin/16-setuid" "$d/sgid"
    chown root:root "$d/suid" "$d/sgid"
    chmod 4755 "$d/suid"
    chmod 2755 "$d/sgid"
    vbox 16-setuid --dir "$d" --time 5 --wall 10 -- /box/16-setuid
    want_status OK
    want_no_out_re 'PRIVILEGED|GAINED|not a box uid'
    want_out "/box/suid: unprivileged"
    want_out "/box/sgid: unprivileged"
    if [ -u /usr/bin/su ]; then
        want_out "su: Uid:"
    fi
    want_out "failures=0"
    finish 16-setuid
}

t_17-tiocsti() {
    have 17-tiocsti || return
    begin
    pbox 17-tiocsti 17-tiocsti --time 5 --wall 10
    want_status OK
    want_no_out_re '^(OPEN|WRONG-ERRNO)|IS A TTY'
    want_out "failures=0"
    finish 17-tiocsti
}

t_18-crossbox() {
    have 18-crossbox || return
    begin
    pbox 18-locks 18-crossbox --time 5 --wall 10 -- locks
    want_status OK
    want_no_out_re '^(OPEN|WRONG-ERRNO)'
    want_out "failures=0"
    finish 18-locks

    begin
    pbox 18-locks-allowed 18-crossbox --allow-locks --time 5 --wall 10 -- locks-allowed
    want_status OK
    want_out "flock: locked"
    want_out "F_SETLK: locked"
    finish 18-locks-allowed

    # Two runs in turn on one slot: nothing of the first may reach the next.
    # A named slot that another verdict holds is refused at once ("in use"),
    # so pick a high one at random and try another if it is taken.
    begin
    local slot
    for _ in 1 2 3 4 5 6 7 8; do
        slot=$((40 + RANDOM % 200))
        pbox 18-ipc-create 18-crossbox --slot "$slot" --time 5 --wall 10 -- ipc-create
        [ "$M_status" = IE ] && [[ "$M_message" == *"in use"* ]] || break
    done
    want_status OK
    want_out "created=yes"
    ipcs 2>/dev/null | grep -qi 0x56440001 && err "the box's SysV objects are in the host's IPC namespace"
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        pbox 18-ipc-check 18-crossbox --slot "$slot" --time 5 --wall 10 -- ipc-check
        [ "$M_status" = IE ] && [[ "$M_message" == *"in use"* ]] || break
        sleep 0.5
    done
    want_status OK
    want_no_out_re '^(OPEN|WRONG-ERRNO)'
    want_out "failures=0"
    finish 18-ipc-next-run
}

t_19-abi() {
    have 19-abi || return
    begin
    # int 0x80 needs IA32 emulation in the kernel; without it the attack is
    # moot (the CPU raises #GP and the process gets SIGSEGV).
    # (The probe runs on the host; common.h leaves no markers for probe-*.)
    if "$W/bin/19-abi" probe-int80 >/dev/null 2>&1; then
        pbox 19-abi-int80 19-abi --time 5 --wall 10 -- int80
        want_status RE
        want_eq signal 31
        want_no_out "returned"
        finish 19-abi-int80
    else
        skip 19-abi-int80 "kernel runs no i386 syscalls (IA32 emulation off)"
    fi

    # x32 numbers must be killed whether or not the kernel has x32.
    begin
    pbox 19-abi-x32 19-abi --time 5 --wall 10 -- x32
    want_status RE
    want_eq signal 31
    want_no_out "returned"
    finish 19-abi-x32
}

t_20-orphans() {
    have 20-orphans || return
    begin
    pbox 20-orphans 20-orphans --time 5 --wall 5
    want_status OK
    want_out "main exits"
    want_num cpu_ms -ge 250
    want_num wall_ms -lt 2000
    finish 20-orphans

    # A daemon that keeps the output pipes open must not hold the run.
    begin
    pbox 20-orphans-holdpipe 20-orphans --time 5 --wall 10 -- holdpipe
    want_status OK
    want_num wall_ms -lt 3000
    [ "$ELAPSED_MS" -lt 5000 ] || err "verdict took ${ELAPSED_MS} ms"
    finish 20-orphans-holdpipe
}

t_21-fdleak() {
    have 21-fdleak || return
    begin
    EXTRA_FDS=1 pbox 21-fdleak 21-fdleak --time 5 --wall 10
    want_status OK
    want_no_out LEAKED
    want_out "failures=0"
    finish 21-fdleak

    # With a host file as stdin: readable, never writable through
    # /proc/self/fd/0.
    begin
    printf 'input line\n' >"$W/fdleak-stdin.txt"
    chmod 644 "$W/fdleak-stdin.txt"
    EXTRA_FDS=1 pbox 21-fdleak-stdin 21-fdleak --stdin "$W/fdleak-stdin.txt" --time 5 --wall 10
    want_status OK
    want_no_out LEAKED
    want_out "stdin: input line"
    want_out "failures=0"
    [ "$(cat "$W/fdleak-stdin.txt")" = "input line" ] || err "the host stdin file was written"
    finish 21-fdleak-stdin
}

t_22-kobjects() {
    have 22-kobjects || return
    begin
    pbox 22-kobjects 22-kobjects --nofile 64 --time 10 --wall 20 -- 64
    want_status OK
    want_no_out_re '^(OPEN|WRONG-ERRNO|UNBOUNDED)'
    want_out "failures=0"
    finish 22-kobjects

    begin
    pbox 22-personality 22-kobjects --time 5 --wall 10 -- personality
    want_status OK
    want_no_out_re '^(OPEN|WRONG-ERRNO)'
    want_out "failures=0"
    finish 22-personality
}

t_23-compile() {
    if [ ! -x /usr/bin/gcc ]; then
        skip 23-compile "no /usr/bin/gcc on this machine"
        return
    fi
    local opts=(--procs 32 --mem 512 --wall 30)
    begin
    vbox 23-compile-include --stdin "$CASES_DIR/23-include-shadow.src" --time 10 "${opts[@]}" \
        -- gcc -x c - -o /box/a.out
    want_status RE
    want_out "No such file" "$T/err"
    local line
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        grep -qF -- "$line" "$T/out" "$T/err" && err "host /etc/shadow content in gcc's output"
    done </etc/shadow
    finish 23-compile-include

    begin
    vbox 23-compile-bomb --stdin "$CASES_DIR/23-macro-bomb.src" --time 2 "${opts[@]}" \
        -- gcc -x c -E - -o /dev/null
    want_status TLE
    finish 23-compile-bomb

    begin
    local d=$W/dirs/23-compile-flood
    mkdir -p "$d" "$W/run/23-compile-flood"
    yes '@' | head -n 200000 >"$d/flood.c"
    chmod -R a+rX "$d"
    vbox 23-compile-flood --dir "$d" --output 64 --time 20 "${opts[@]}" \
        --stderr "$W/run/23-compile-flood/e.txt" -- gcc -fsyntax-only /box/flood.c
    want_status OLE
    want_eq output_truncated true
    local size
    size=$(stat -c %s "$T/e.txt" 2>/dev/null || echo missing)
    [ "$size" != missing ] && [ "$size" -le 65536 ] || err "--stderr file has $size bytes with --output 64"
    finish 23-compile-flood
}

t_24-env() {
    have 24-env || return
    begin
    pbox 24-env 24-env --env VD_EXTRA=hello --time 5 --wall 10 -- VD_EXTRA=hello "$RUN_TAG"
    want_status OK
    want_no_out_re '^(UNEXPECTED|FAIL-INSIDE)'
    want_out "failures=0"
    finish 24-env
}

t_accuracy() {
    if have 04-cpuburn; then
        begin
        pbox accuracy-cpu 04-cpuburn --time 5 --wall 10 -- exact 700
        want_status OK
        want_num cpu_ms -ge 665
        want_num cpu_ms -le 735
        finish accuracy-cpu
    fi
    if have 03-membomb; then
        begin
        pbox accuracy-memory 03-membomb --mem 256 --time 5 --wall 10 -- exact 100
        want_status OK
        want_num memory_kb -ge 97280
        want_num memory_kb -le 107520
        finish accuracy-memory
    fi
    # Orphans' CPU: see 20-orphans (cpu_ms >= 250 from the daemon alone).
}

# Two boxes at once (different slots, taken automatically): each binds an
# abstract socket, lists /proc and kills what it sees, and keeps trying to
# reach the other's socket and to see its processes.
t_concurrent() {
    have 18-crossbox || return
    begin
    local a=$W/run/concurrent-a b=$W/run/concurrent-b
    mkdir -p "$a" "$b"
    timeout -k 5 "$TMO" "$VERDICT" box --meta "$a/meta" --env "$RUN_TAG" --dir "$W/dirs/18-crossbox" --time 5 \
        --wall 10 -- /box/18-crossbox pair a b 2 >"$a/out" 2>"$a/err" </dev/null &
    local pa=$!
    timeout -k 5 "$TMO" "$VERDICT" box --meta "$b/meta" --env "$RUN_TAG" --dir "$W/dirs/18-crossbox" --time 5 \
        --wall 10 -- /box/18-crossbox pair b a 2 >"$b/out" 2>"$b/err" </dev/null &
    local pb=$!
    wait "$pa"
    local ra=$?
    wait "$pb"
    local rb=$?
    local x
    for x in a b; do
        T=$W/run/concurrent-$x
        meta_load "$T/meta"
        [ "$M_valid" = 1 ] || err "box $x: $M_why"
        want_status OK
        want_out "foreign=0 connected=0 accepted=0"
    done
    [ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] || err "verdict exited $ra and $rb"
    local ua ub
    ua=$(grep -oE 'uid=[0-9]+' "$a/out" | head -1)
    ub=$(grep -oE 'uid=[0-9]+' "$b/out" | head -1)
    [ -n "$ua" ] && [ "$ua" = "$ub" ] && err "both boxes ran as $ua"
    finish concurrent
}

t_mode-none() {
    if have 04-cpuburn; then
        begin
        pbox none-cpuburn 04-cpuburn --mode none --time 0.5 --wall 5
        want_eq mode none
        want_status TLE
        want_num cpu_ms -ge 500
        finish none-cpuburn
    fi
    if have 01-forkbomb; then
        begin
        pbox none-forkbomb 01-forkbomb --mode none --procs 16 --time 5 --wall 10
        want_eq mode none
        want_status OK RE
        local n
        n=$(out_int forks)
        if [ -z "$n" ]; then
            err "no forks= line"
        elif [ "$n" -gt 16 ]; then
            err "forked $n processes with --procs 16"
        fi
        finish none-forkbomb
    fi
    if have 03-membomb; then
        begin
        pbox none-membomb 03-membomb --mode none --mem 64 --time 10 --wall 20
        want_eq mode none
        want_status MLE RE
        want_no_out NO-LIMIT
        # RLIMIT_AS is twice --mem in mode none (runtimes reserve address
        # space); the peak must stay within that.
        want_num memory_kb -le $((64 * 1024 * 2 * 105 / 100))
        finish none-membomb
    fi
    if have 05-sleeper; then
        begin
        pbox none-sleeper 05-sleeper --mode none --wall 0.5 --time 5
        want_eq mode none
        want_status TLE
        want_num wall_ms -lt 3000
        finish none-sleeper
    fi
}

cgroup2_usable() {
    local f
    for f in /sys/fs/cgroup/cgroup.controllers /sys/fs/cgroup/unified/cgroup.controllers; do
        [ -r "$f" ] || continue
        grep -qw memory "$f" && grep -qw pids "$f" && return 0
    done
    return 1
}

t_mode-cgroup2() {
    local names=(cgroup2-cpuburn cgroup2-membomb cgroup2-forkbomb cgroup2-accuracy-memory)
    if ! cgroup2_usable; then
        local n
        for n in "${names[@]}"; do
            skip "$n" "the cgroup v2 hierarchy has no memory and pids controllers here (v1 or hybrid)"
        done
        return
    fi
    begin
    pbox cgroup2-cpuburn 04-cpuburn --mode cgroup2 --time 0.5 --wall 5
    want_eq mode cgroup2
    want_status TLE
    want_num cpu_ms -ge 500
    finish cgroup2-cpuburn

    begin
    pbox cgroup2-membomb 03-membomb --mode cgroup2 --mem 64 --time 10 --wall 20
    want_eq mode cgroup2
    want_status MLE
    finish cgroup2-membomb

    begin
    pbox cgroup2-forkbomb 01-forkbomb --mode cgroup2 --procs 16 --time 5 --wall 10
    want_eq mode cgroup2
    want_status OK RE
    local f
    f=$(out_int forks)
    [ -n "$f" ] && [ "$f" -le 16 ] || err "forks=$f with --procs 16"
    finish cgroup2-forkbomb

    begin
    pbox cgroup2-accuracy-memory 03-membomb --mode cgroup2 --mem 256 --time 5 --wall 10 -- exact 100
    want_eq mode cgroup2
    want_status OK
    want_num memory_kb -ge 97280
    want_num memory_kb -le 107520
    finish cgroup2-accuracy-memory
}

# --require-cgroup refuses mode none: a usage or internal error, and the
# program must not have run.
t_require-cgroup() {
    have 00-basic || return
    begin
    NOCHECK=1 pbox require-cgroup 00-basic --mode none --require-cgroup -- ran
    if [ "$RC" -eq 0 ] && [ "$M_status" != IE ]; then
        err "accepted: exit status 0 and status '$M_status'"
    fi
    [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ] && err "verdict box hung"
    if [ "$M_status" = IE ] && [ -z "$M_message" ]; then
        err "status IE without a message"
    fi
    want_no_out RAN
    finish require-cgroup
}

t_host-files() {
    begin
    if ! sha256sum -c --quiet "$W/host.sha256" >/dev/null 2>&1; then
        err "changed: $(sha256sum -c --quiet "$W/host.sha256" 2>&1 | head -3 | tr '\n' ' ')"
    fi
    ipcs 2>/dev/null | grep -qi 0x56440001 && err "a box's SysV object is in the host's IPC namespace"
    finish host-files
}

START=$(date +%s)
for g in "${GROUPS_ALL[@]}"; do
    "t_$g"
done
echo "# $(($(date +%s) - START)) s" >&2
summary
