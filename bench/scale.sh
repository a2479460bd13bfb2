#!/bin/bash
# bench/scale.sh - what the scale-out mode (Redis queue, PostgreSQL store,
# separate worker processes) costs against the embedded default, on one machine.
#
# One run, as root, with W = the number of CPUs (--workers to change it):
#   1. starts scripts/services.sh's private redis-server (6390) and PostgreSQL
#      (5439), makes two fresh PostgreSQL databases and takes two Redis
#      databases (4000-4019, flushed; a lock file each, so two benchmarks never
#      share one);
#   2. starts three setups side by side, everything in a fresh
#      /tmp/vd-bench-scale-XXXXXX:
#        sqlite       verdict serve --workers W  (SQLite store, embedded queue)
#        redis_pg w1  verdict serve --role api + 1 x verdict worker --workers W
#        redis_pg w2  verdict serve --role api + 2 x verdict worker --workers W
#      (w1 and w2 each on their own PostgreSQL database and Redis database;
#      w2 has 2W slots: a second worker process as a second worker host would
#      add it), waits until GET /api/v1/workers lists the expected processes
#      and slots, and POSTs a C hello world with ?wait=true once to each (it
#      compiles; later runs hit the compile cache);
#   3. throughput: rounds of wrk -t2 -cC (C = 4W) POSTing the hello world with
#      ?wait=true for D seconds after a warm-up, against each setup in turn (the
#      order rotates from round to round, so background noise is shared);
#      bench/api_post.lua checks that every answer is 200 with verdict OK. It
#      also counts the CPU time each part used during the measured seconds;
#   4. latency: N POSTs with ?wait=true made one at a time (curl, a new
#      connection each), interleaved over the setups; median time_total, and
#      the median queue wait (created_at -> started_at) and judging time
#      (started_at -> finished_at) the answers report.
# The last line of the output is
#   scale: redis_pg/sqlite=R w2/w1=S
# R = redis_pg w1 req/s / sqlite req/s (the same W slots: the cost of the
# distributed path), S = redis_pg w2 req/s / redis_pg w1 req/s (what a second
# worker process adds; on a machine whose CPUs are already busy, about 1).
#
# Usage: bench/scale.sh [--quick] [--no-build] [--workers W] [-c C] [-d D] [--rounds R]
#   --quick       shorter runs (1 round of 3 s after a 1 s warm-up, 10 sequential POSTs)
#   --no-build    use build/verdict as it is (default: make build/verdict first)
#   --workers W   sandbox slots per process (default: nproc)
#   -c C          wrk connections (default 4W)
#   -d D          measured seconds per setup and round (default 5; --quick 3)
#   --rounds R    rounds (default 3; --quick 1)
# Needs wrk, curl, /usr/bin/python3, redis-cli and psql (scripts/deps.sh bench
# services; services.sh installs the latter two).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

dur=5 warm=1 rounds=3 seq_n=30 build=1 W=$(nproc) conns=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) dur=3 warm=1 rounds=1 seq_n=10 ;;
    --no-build) build=0 ;;
    --workers) W=${2:?--workers needs a number}; shift ;;
    -c) conns=${2:?-c needs a number}; shift ;;
    -d) dur=${2:?-d needs seconds}; shift ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0 ;;
    *)
        echo "bench/scale.sh: unknown argument $1 (try --help)" >&2
        exit 2 ;;
    esac
    shift
done
for v in "$W" "$dur" "$rounds" ${conns:+"$conns"}; do
    case $v in '' | *[!0-9]* | 0) echo "bench/scale.sh: not a positive number: '$v'" >&2; exit 2 ;; esac
done
conns=${conns:-$((4 * W))}

if [ "$(id -u)" != 0 ]; then
    echo "bench/scale.sh: must run as root (verdict's sandbox needs it)" >&2
    exit 1
fi
for t in wrk curl /usr/bin/python3; do
    if ! command -v "$t" >/dev/null 2>&1; then
        echo "bench/scale.sh: $t not found (scripts/deps.sh bench: wrk curl python3)" >&2
        exit 1
    fi
done

say() { echo "bench/scale.sh: $*" >&2; }
die() {
    say "ABORT: $*"
    # the usual cause of a failed run: someone restarted the shared services
    if [ -n "${redis_pid:-}" ] && [ "$(redis_pid_now)" != "$redis_pid" ]; then
        say "note: redis-server on port $redis_port was restarted during the run (another user of scripts/services.sh?)"
    fi
    if [ -n "${pg_started:-}" ] && [ "$(pg 'SELECT pg_postmaster_start_time()' 2>/dev/null)" != "$pg_started" ]; then
        say "note: PostgreSQL on port $pg_port was restarted during the run (another user of scripts/services.sh?)"
    fi
    exit 1
}

# ---- build ----
if [ "$build" = 1 ]; then
    make -C "$repo" build/verdict >&2
fi
build/verdict serve --help >/dev/null 2>&1 || die "build/verdict has no working 'serve' command"
build/verdict worker --help >/dev/null 2>&1 || die "build/verdict has no working 'worker' command"

# ---- services ----
redis_port=${VERDICT_REDIS_PORT:-6390}
pg_port=${VERDICT_PG_PORT:-5439}
"$repo/scripts/services.sh" start >&2 || die "scripts/services.sh start failed"
for t in redis-cli psql; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found after scripts/services.sh start"
done
rcli() { redis-cli -h 127.0.0.1 -p "$redis_port" "$@"; }
pg() { psql -X -q -h 127.0.0.1 -p "$pg_port" -U verdict -d postgres -v ON_ERROR_STOP=1 -Atc "$1"; }
redis_pid_now() { rcli info server 2>/dev/null | sed -n 's/^process_id:\([0-9]*\).*/\1/p'; }
redis_pid=$(redis_pid_now)
pg_started=$(pg 'SELECT pg_postmaster_start_time()')

# ---- processes and clean-up ----
tmp=$(mktemp -d /tmp/vd-bench-scale-XXXXXX)
ok=0 wrk_pid=''
# one entry per process we started: "PID NAME"; pids[NAME]=PID
procs=()
declare -A pids=()
pg_dbs=() redis_dbs=()

# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"

cleanup() {
    local rc=$? e pid name i n
    trap - EXIT INT TERM
    [ -n "$wrk_pid" ] && stop "$wrk_pid" TERM 2
    if [ "$ok" != 1 ]; then
        for f in "$tmp"/*.log; do
            if [ -s "$f" ]; then
                say "last lines of ${f##*/}:"
                tail -n 15 "$f" >&2
            fi
        done
    fi
    # workers first, then the API nodes and the embedded server (started
    # before them): the reverse order of starting
    n=${#procs[@]}
    for ((i = n - 1; i >= 0; i--)); do
        read -r pid name <<<"${procs[i]}"
        stop "$pid" TERM 15
    done
    # (retried for up to 20 s: the services may be in the middle of a restart)
    for e in "${pg_dbs[@]}"; do
        for ((i = 0; i < 40; i++)); do
            pg "DROP DATABASE IF EXISTS \"$e\" WITH (FORCE)" 2>/dev/null && break
            sleep 0.5
        done
        [ "$i" -lt 40 ] || say "could not drop PostgreSQL database $e"
    done
    for e in "${redis_dbs[@]}"; do
        for ((i = 0; i < 40; i++)); do
            [ "$(rcli -n "$e" flushdb 2>/dev/null)" = OK ] && break
            sleep 0.5
        done
        [ "$i" -lt 40 ] || say "could not flush Redis database $e"
    done
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# redis_db_take: a Redis database number of 4000-4019 that no other run of this
# benchmark holds (an flock held until we exit), flushed.
redis_db_take() {
    local n fd
    for ((n = 4000; n < 4020; n++)); do
        exec {fd}>"/tmp/vd-bench-scale-redis-$n.lock"
        if flock -n "$fd"; then
            rcli -n "$n" flushdb >/dev/null || die "redis FLUSHDB $n failed"
            redis_dbs+=("$n")
            return 0
        fi
        exec {fd}>&-
    done
    die "all Redis databases 4000-4019 are held by other runs of bench/scale.sh"
}

# json FILE EXPR: a Python expression over the parsed document `d`.
json() {
    /usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# start NAME ARGS...: build/verdict ARGS in the background, logs in $tmp/NAME.*
start() {
    local name=$1
    shift
    VERDICT_LOG_LEVEL=${VERDICT_LOG_LEVEL:-warn} VERDICT_ANONYMOUS_TIER=unlimited \
        VERDICT_SECRET_FILE="$tmp/secret" \
        build/verdict "$@" --langs "$repo/langs" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.log" &
    procs+=("$! $name")
    pids[$name]=$!
}
pid_of() { echo "${pids[$1]}"; }

# port_of NAME: waits for "verdict: listening on http://127.0.0.1:PORT"
port_of() {
    local name=$1 i port=''
    for ((i = 0; i < 300; i++)); do
        port=$(sed -n 's|^verdict: listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$tmp/$name.out" | head -n 1)
        [ -n "$port" ] && { echo "$port"; return 0; }
        alive "$(pid_of "$name")" || die "$name exited before listening"
        sleep 0.1
    done
    die "$name printed no 'listening on' line within 30 s"
}

# wait_worker NAME: waits for "verdict: worker running with N slots"
wait_worker() {
    local name=$1 i
    for ((i = 0; i < 300; i++)); do
        grep -q '^verdict: worker running with' "$tmp/$name.out" && return 0
        alive "$(pid_of "$name")" || die "$name exited before running"
        sleep 0.1
    done
    die "$name printed no 'worker running' line within 30 s"
}

# wait_listed URL PROCS SLOTS: GET /api/v1/workers until it lists PROCS
# worker processes with SLOTS slots in all
wait_listed() {
    local url=$1 want=$2 slots=$3 i got=''
    for ((i = 0; i < 300; i++)); do
        if curl -sf -o "$tmp/workers.json" "$url/api/v1/workers"; then
            got=$(json "$tmp/workers.json" '"%s %s" % (d["total"], d["slots"])')
            [ "$got" = "$want $slots" ] && return 0
        fi
        sleep 0.1
    done
    die "$url/api/v1/workers: want $want processes with $slots slots, have: ${got:-no answer}"
}

# ---- the three setups ----
setups=(sqlite w1 w2)
declare -A label=([sqlite]="sqlite" [w1]="redis_pg w1" [w2]="redis_pg w2")
declare -A url=() procs_of=() nworkers=([sqlite]=1 [w1]=1 [w2]=2) pgdb_of=()
mkdir -p "$tmp/seq"
stamp=$(date +%s)
redis_db_take
redis_db_take
for s in w1 w2; do
    d="vd_bench_scale_${stamp}_$$_$s"
    pg "CREATE DATABASE \"$d\"" >&2 || die "CREATE DATABASE $d failed"
    pg_dbs+=("$d")
    pgdb_of[$s]=$d
done
rurl_w1="redis://127.0.0.1:$redis_port/${redis_dbs[0]}"
rurl_w2="redis://127.0.0.1:$redis_port/${redis_dbs[1]}"
durl_w1="postgres://verdict@127.0.0.1:$pg_port/${pgdb_of[w1]}"
durl_w2="postgres://verdict@127.0.0.1:$pg_port/${pgdb_of[w2]}"

say "starting the setups in $tmp (W=$W; redis dbs ${redis_dbs[*]}; postgres dbs ${pg_dbs[*]})"
mkdir -p "$tmp/cache-sqlite" "$tmp/cache-api1" "$tmp/cache-api2"
start sqlite serve --listen 127.0.0.1:0 --database "sqlite:$tmp/sqlite.db" --cache "$tmp/cache-sqlite" --workers "$W"
start api1 serve --role api --listen 127.0.0.1:0 --database "$durl_w1" --redis "$rurl_w1" --cache "$tmp/cache-api1"
start api2 serve --role api --listen 127.0.0.1:0 --database "$durl_w2" --redis "$rurl_w2" --cache "$tmp/cache-api2"
url[sqlite]="http://127.0.0.1:$(port_of sqlite)"
url[w1]="http://127.0.0.1:$(port_of api1)"
url[w2]="http://127.0.0.1:$(port_of api2)"
# the API nodes have made their schema and the secret file: now the workers,
# each with a compile cache of its own (as on a host of its own)
for w in w1a w2a w2b; do
    s=${w%?}
    mkdir -p "$tmp/cache-$w"
    if [ "$s" = w1 ]; then r=$rurl_w1 d=$durl_w1; else r=$rurl_w2 d=$durl_w2; fi
    start "$w" worker --database "$d" --redis "$r" --cache "$tmp/cache-$w" --workers "$W"
done
for w in w1a w2a w2b; do wait_worker "$w"; done
procs_of[sqlite]=${pids[sqlite]}
procs_of[w1]="${pids[api1]} ${pids[w1a]}"
procs_of[w2]="${pids[api2]} ${pids[w2a]} ${pids[w2b]}"
for s in "${setups[@]}"; do
    wait_listed "${url[$s]}" "${nworkers[$s]}" $((nworkers[$s] * W))
done

printf '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n' >"$tmp/hello.c"
/usr/bin/python3 -c 'import json, sys; print(json.dumps({"language": "c", "source_code": open(sys.argv[1]).read()}))' \
    "$tmp/hello.c" >"$tmp/body.json"

declare -A first_compile=()
for s in "${setups[@]}"; do
    code=$(curl -s -o "$tmp/first-$s.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary @"$tmp/body.json" "${url[$s]}/api/v1/submissions?wait=true")
    [ "$code" = 200 ] || die "${label[$s]}: first POST ?wait=true: status $code: $(cat "$tmp/first-$s.json")"
    check=$(json "$tmp/first-$s.json" 'd["status"] == "finished" and d["verdict"] == "OK" and d["stdout"] == "hi\n"')
    [ "$check" = True ] || die "${label[$s]}: first POST: not a finished OK run printing hi: $(cat "$tmp/first-$s.json")"
    first_compile[$s]=$(json "$tmp/first-$s.json" '"cached=%s wall_ms=%s" % (str((d.get("compile") or {}).get("cached")).lower(), (d.get("compile") or {}).get("wall_ms"))')
done

# ---- CPU accounting ----
hz=$(getconf CLK_TCK)
# tree_pids PID...: them and their live descendants
tree_pids() {
    local -a queue=("$@") found=()
    local p
    while [ ${#queue[@]} -gt 0 ]; do
        p=${queue[0]}
        queue=("${queue[@]:1}")
        [ -r "/proc/$p/stat" ] || continue
        found+=("$p")
        # shellcheck disable=SC2207  # a list of pids
        queue+=($(cat /proc/"$p"/task/*/children 2>/dev/null || true))
    done
    echo "${found[*]}"
}
# jiffies PID...: utime+stime+cutime+cstime summed (reaped children count in
# their parent's cutime/cstime, so a tree's figure only grows)
jiffies() {
    local p t=0 v
    for p in "$@"; do
        v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13 + $14 + $15}') || v=0
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
# the machine: busy (user nice system irq softirq) and steal jiffies
machine_jiffies() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8, $9}' /proc/stat; }
pg_pids() { # postgres backends of the setup's database
    [ -n "${pgdb_of[$1]:-}" ] || return 0
    pg "SELECT pid FROM pg_stat_activity WHERE datname = '${pgdb_of[$1]}'" | tr '\n' ' '
}

# snapshot SETUP before|after: "machine_busy steal verdict_api verdict_workers
# redis postgres" (verdict_api is the whole process for sqlite); the machine is
# read last before a run and first after it, so that our own reading of /proc
# and psql stay out of it
declare -A pgp_start=()
snapshot() {
    local s=$1 api workers=0 m st r=0 p=0 first=1 pid
    [ "$2" = after ] && read -r m st < <(machine_jiffies)
    for pid in ${procs_of[$s]}; do
        if [ $first = 1 ]; then
            # shellcheck disable=SC2046
            api=$(jiffies $(tree_pids "$pid"))
            first=0
        else
            # shellcheck disable=SC2046
            workers=$((workers + $(jiffies $(tree_pids "$pid"))))
        fi
    done
    if [ "$s" != sqlite ]; then
        r=$(jiffies "$redis_pid")
        # shellcheck disable=SC2046,SC2086
        p=$(jiffies $(echo ${pgp_start[$s]} $(pg_pids "$s") | tr ' ' '\n' | sort -un))
    fi
    [ "$2" = before ] && read -r m st < <(machine_jiffies)
    echo "$m $st $api $workers $r $p"
}

# others_now: "R P", the clients of the services that are not ours (Redis
# connections on other databases, PostgreSQL backends of other databases):
# tests sharing the services make the redis_pg figures noisy
others_now() {
    local r p
    r=$(rcli client list 2>/dev/null | awk -v a="${redis_dbs[0]}" -v b="${redis_dbs[1]}" '
        {db = ""; cmd = ""; for (i = 1; i <= NF; i++) { if ($i ~ /^db=/) db = substr($i, 4); if ($i ~ /^cmd=/) cmd = substr($i, 5) }
         if (db != a && db != b && cmd != "client|list") n++} END {print n + 0}')
    p=$(pg "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
            AND datname NOT IN ('${pgdb_of[w1]}', '${pgdb_of[w2]}')" 2>/dev/null || echo '?')
    echo "${r:-?} $p"
}
others_max="0 0"

# ---- 3. throughput ----
wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
wrk_pct() { # FILE PCT: that line of --latency, in ms
    awk -v p="$2%" '$1 == p {v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
         if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
         printf "%.1f", v}' "$1"
}
# run_wrk SECONDS OUT: wrk in the background (so that a signal to us stops it)
run_wrk() {
    wrk -t2 -c"$conns" -d"$1s" --timeout 30s --latency -s bench/api_post.lua \
        "$post_url" -- "$tmp/body.json" >"$2" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || { cat "$2" >&2; die "wrk failed"; }
    wrk_pid=
}
post_check() { # FILE WHAT: every answer 200 with verdict OK; prints ok=N
    local line
    grep -q 'Socket errors' "$1" && say "$2: $(grep 'Socket errors' "$1" | sed 's/^ *//')"
    line=$(sed -n 's/^api_post: //p' "$1")
    case $line in
    ok=0\ *) cat "$1" >&2; die "$2: no finished OK answer" ;;
    *\ bad=0\ *) ;;
    *) cat "$1" >&2; die "$2: answers that were not 200 with verdict OK: $line" ;;
    esac
    [ -n "$(wrk_rps "$1")" ] || { cat "$1" >&2; die "$2: no Requests/sec in wrk's output"; }
    line=${line#ok=}
    echo "${line%% *}"
}

declare -A rps_list=() p50_list=() p99_list=() cpu_sum=() req_sum=() ours_ms=()
# children_ms FILE: user + system ms of our reaped children, from `times`
children_ms() {
    sed -n 2p "$1" | awk '{t = 0; for (i = 1; i <= 2; i++) {split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2]}
        printf "%d", t * 1000}'
}
for s in "${setups[@]}"; do cpu_sum[$s]="0 0 0 0 0 0"; req_sum[$s]=0; done
say "throughput: $rounds round(s); each: wrk -t2 -c$conns POST ?wait=true, ${warm}s warm-up + ${dur}s, per setup"
for ((r = 0; r < rounds; r++)); do
    line="scale round $((r + 1)):"
    for ((k = 0; k < 3; k++)); do
        s=${setups[(r + k) % 3]}
        post_url="${url[$s]}/api/v1/submissions?wait=true"
        run_wrk "$warm" "$tmp/warm-$s-$r.txt"
        post_check "$tmp/warm-$s-$r.txt" "${label[$s]} warm-up" >/dev/null
        [ "$s" != sqlite ] && pgp_start[$s]=$(pg_pids "$s")
        others_max=$(awk -v a="$others_max" -v b="$(others_now)" 'BEGIN {split(a, x); split(b, y);
            printf "%s %s", (y[1] > x[1] ? y[1] : x[1]), (y[2] > x[2] ? y[2] : x[2])}')
        before=$(snapshot "$s" before)
        times >"$tmp/times0" # our children's CPU (wrk's once it is reaped); no fork
        run_wrk "$dur" "$tmp/wrk-$s-$r.txt"
        times >"$tmp/times1"
        after=$(snapshot "$s" after)
        ours=$(($(children_ms "$tmp/times1") - $(children_ms "$tmp/times0")))
        ours_ms[$s]=$((${ours_ms[$s]:-0} + ours))
        n=$(post_check "$tmp/wrk-$s-$r.txt" "${label[$s]} round $((r + 1))")
        cpu_sum[$s]=$(awk -v a="$before" -v b="$after" -v c="${cpu_sum[$s]}" 'BEGIN {
            split(a, x); split(b, y); split(c, z);
            for (i = 1; i <= 6; i++) printf "%d ", z[i] + y[i] - x[i] }')
        req_sum[$s]=$((req_sum[$s] + n))
        rps_list[$s]="${rps_list[$s]:-} $(wrk_rps "$tmp/wrk-$s-$r.txt")"
        p50_list[$s]="${p50_list[$s]:-} $(wrk_pct "$tmp/wrk-$s-$r.txt" 50)"
        p99_list[$s]="${p99_list[$s]:-} $(wrk_pct "$tmp/wrk-$s-$r.txt" 99)"
    done
    for s in "${setups[@]}"; do
        line="$line ${label[$s]} $(awk '{print $NF}' <<<"${rps_list[$s]}")"
    done
    echo "$line req/s" >>"$tmp/rounds.txt"
done

# ---- 4. latency, one request at a time ----
say "sequential: $seq_n POST ?wait=true per setup, one at a time, interleaved"
for ((i = 0; i < seq_n; i++)); do
    for s in "${setups[@]}"; do
        out=$(curl -s -o "$tmp/seq/$s.$i.json" -w '%{http_code} %{time_total}' -H 'Content-Type: application/json' \
            --data-binary @"$tmp/body.json" "${url[$s]}/api/v1/submissions?wait=true")
        [ "${out%% *}" = 200 ] || die "${label[$s]}: sequential POST $i: status ${out%% *}: $(cat "$tmp/seq/$s.$i.json")"
        echo "${out#* }" >"$tmp/seq/$s.$i.time"
    done
done
# median total ms, median queue ms (created->started), median judge ms
# (started->finished), median rest (total - (finished - created))
declare -A seq_line=()
for s in "${setups[@]}"; do
    seq_line[$s]=$(/usr/bin/python3 - "$tmp/seq" "$s" "$seq_n" <<'EOF'
import datetime, json, statistics, sys
d, s, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def t(x):
    return datetime.datetime.strptime(x, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000
tot, queue, judge, rest = [], [], [], []
for i in range(n):
    j = json.load(open("%s/%s.%d.json" % (d, s, i)))
    if j.get("status") != "finished" or j.get("verdict") != "OK":
        sys.exit("not a finished OK run: %r" % j)
    ms = float(open("%s/%s.%d.time" % (d, s, i)).read()) * 1000
    c, st, f = t(j["created_at"]), t(j["started_at"]), t(j["finished_at"])
    tot.append(ms); queue.append(st - c); judge.append(f - st); rest.append(ms - (f - c))
m = statistics.median
print("%.2f %.1f %.1f %.1f" % (m(tot), m(queue), m(judge), m(rest)))
EOF
    ) || die "${label[$s]}: the sequential answers"
done

# jobs each worker process finished (GET /api/v1/workers), for w2's balance
for s in "${setups[@]}"; do
    curl -sf -o "$tmp/workers-$s.json" "${url[$s]}/api/v1/workers" || die "${label[$s]}: GET /api/v1/workers"
done
balance=$(json "$tmp/workers-w2.json" '" ".join(str(w.get("finished")) for w in d["workers"])')
reconnects=$(for s in w1 w2; do json "$tmp/workers-$s.json" 'sum(w.get("queue_reconnects") or 0 for w in d["workers"])'; done | awk '{s += $1} END {print s + 0}')

# PostgreSQL transactions per submission, over the whole run (the statistics
# of a busy backend reach pg_stat_database within a second or so, so this is
# an estimate); the Redis side is in the README (the server is shared, so
# its command counts are not ours alone)
declare -A pg_tx=()
for s in w1 w2; do
    subs=$(psql -X -q -h 127.0.0.1 -p "$pg_port" -U verdict -d "${pgdb_of[$s]}" -Atc 'SELECT count(*) FROM submissions') ||
        die "${label[$s]}: count of submissions"
    tx=$(pg "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '${pgdb_of[$s]}'")
    pg_tx[$s]=$(awk -v t="$tx" -v n="$subs" 'BEGIN {printf "%.1f", t / n}')
done
redis_pid2=$(redis_pid_now)

# ---- report ----
mean() { tr ' ' '\n' <<<"$1" | awk 'NF {s += $1; n++} END {printf "%.1f", s / n}'; }
max() { tr ' ' '\n' <<<"$1" | awk 'NF && (n++ == 0 || $1 > m) {m = $1} END {printf "%.1f", m}'; }
declare -A rps=()
for s in "${setups[@]}"; do rps[$s]=$(mean "${rps_list[$s]}"); done
R=$(awk -v a="${rps[w1]}" -v b="${rps[sqlite]}" 'BEGIN {printf "%.2f", a / b}')
S=$(awk -v a="${rps[w2]}" -v b="${rps[w1]}" 'BEGIN {printf "%.2f", a / b}')
ok=1

echo "scale machine: nproc=$(nproc) load average: $(cut -d' ' -f1-3 /proc/loadavg); $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2); redis $(rcli info server | sed -n 's/^redis_version:\([^[:space:]]*\).*/\1/p'); postgres $(pg 'SHOW server_version' | cut -d' ' -f1)"
echo "scale setup: W=$W sandbox slots per verdict process; log level ${VERDICT_LOG_LEVEL:-warn}; POST C hello ?wait=true, wrk -t2 -c$conns, $rounds round(s) of ${warm}s warm-up + ${dur}s per setup, order rotating"
echo "scale setup: sqlite      = verdict serve --workers $W (SQLite store, embedded queue): 1 process, $W slots"
echo "scale setup: redis_pg w1 = verdict serve --role api + 1 verdict worker --workers $W (PostgreSQL store, Redis Streams queue): $W slots"
echo "scale setup: redis_pg w2 = verdict serve --role api + 2 verdict worker --workers $W (the same): $((2 * W)) slots"
echo "scale durability: sqlite WAL synchronous=NORMAL (no fsync per commit); postgres fsync=$(pg 'SHOW fsync') synchronous_commit=$(pg 'SHOW synchronous_commit'); redis appendonly=$(rcli config get appendonly | sed -n 2p) appendfsync=$(rcli config get appendfsync | sed -n 2p)"
cat "$tmp/rounds.txt"
noisy=
for s in "${setups[@]}"; do
    read -r m st a w rd p <<<"${cpu_sum[$s]}"
    n=${req_sum[$s]}
    cpu=$(awk -v n="$n" -v hz="$hz" -v m="$m" -v st="$st" -v a="$a" -v w="$w" -v r="$rd" -v p="$p" -v s="$s" \
        -v o="${ours_ms[$s]}" 'BEGIN {
        f = 1000 / hz / n; o /= n; other = m * f - (a + w + r + p) * f - o;
        if (s == "sqlite") printf "machine %.2f (steal %.2f): verdict serve %.2f", m * f, st * f, a * f;
        else printf "machine %.2f (steal %.2f): api %.2f, workers %.2f, redis %.2f, postgres %.2f", m * f, st * f, a * f, w * f, r * f, p * f;
        printf ", wrk %.2f, the rest %.2f", o, other }')
    busy=$(awk -v m="$m" -v a="$a" -v w="$w" -v r="$rd" -v p="$p" -v hz="$hz" -v o="${ours_ms[$s]}" \
        'BEGIN {v = 0; if (m > 0) v = 100 * (m - a - w - r - p - o * hz / 1000) / m; printf "%d", v}')
    if [ "$busy" -gt 25 ]; then
        noisy="$noisy ${label[$s]} (${busy}%)"
    fi
    printf 'scale %-12s %6s req/s (rounds:%s), wrk p50 %s ms p99 %s ms; CPU ms/request: %s\n' \
        "${label[$s]}:" "${rps[$s]}" "${rps_list[$s]}" "$(mean "${p50_list[$s]}")" "$(max "${p99_list[$s]}")" "$cpu"
done
for s in "${setups[@]}"; do
    read -r t q j rest <<<"${seq_line[$s]}"
    printf 'scale seq %-12s median %s ms (queue %s ms, judge %s ms, the rest %s ms); first compile %s\n' \
        "${label[$s]}:" "$t" "$q" "$j" "$rest" "${first_compile[$s]}"
done
echo "scale detail: redis_pg w2 jobs finished per worker process: $balance; PostgreSQL transactions per submission: w1 ${pg_tx[w1]}, w2 ${pg_tx[w2]}; Redis reconnects: $reconnects; other clients of the services (most seen): redis ${others_max% *}, postgres ${others_max#* }"
if [ "$others_max" != "0 0" ]; then
    say "note: the services had other clients during the run (redis ${others_max% *}, postgres ${others_max#* }): the redis_pg figures share their CPU, disk and PostgreSQL's WAL with them"
fi
if [ "$redis_pid" != "$redis_pid2" ] || [ "$reconnects" != 0 ]; then
    say "WARNING: redis-server restarted during the run (pid $redis_pid -> ${redis_pid2:-none}; reconnects $reconnects): another user of scripts/services.sh? The redis_pg figures are suspect."
fi
if [ -n "$noisy" ]; then
    say "note: other processes used much of the machine's CPU while these were measured:$noisy; run again on a quieter machine"
fi
echo "scale: redis_pg/sqlite=$R w2/w1=$S"
