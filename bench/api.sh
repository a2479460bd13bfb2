#!/bin/bash
# bench/api.sh - what the HTTP API costs, against nginx and against bare exec.
#
# One run, as root:
#   1. starts `build/verdict serve` on a free loopback port (SQLite store, compile
#      cache and everything else in a fresh /tmp/vd-bench-api-XXXXXX), POSTs a C
#      hello world with ?wait=true once (it compiles and is cached), GETs the
#      finished submission and saves the exact body;
#   2. starts nginx on another loopback port, serving that body at the same path
#      as application/json (keep-alive on, access log off, worker_processes auto);
#   3. GET:  wrk -t2 -c32 against verdict's GET /api/v1/submissions/ID, then
#      against nginx:  R1 = verdict req/s / nginx req/s;
#   4. end-to-end: wrk -c4 POSTing the hello world with ?wait=true (compile
#      cached; bench/api_post.lua checks every answer is 200 with verdict OK),
#      against the same binary compiled on the host with langs/c.json's command
#      and started N times in a row by fork+execve+waitpid (bench/api_bare.c,
#      once before and once after the wrk run; the mean is the baseline):
#      R2 = e2e req/s / bare runs/s;  and the median wall time of one POST
#      ?wait=true made sequentially (curl, new connection each), in ms.
# The last line of the output is
#   api: get/nginx=R1 e2e/bare=R2 p50_ms=P
#
# Usage: bench/api.sh [--quick] [--no-build]
#   --quick     shorter runs (GET 2 s each, e2e 3 s, 20 sequential POSTs, N=200)
#   --no-build  use build/verdict as it is (default: make build/verdict first)
# Needs wrk, nginx (nginx-light), curl, gcc, /usr/bin/python3.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
CC=${CC:-cc}

get_s=5 e2e_s=8 warm_s=1 seq_n=50 bare_n=1000 build=1
for a in "$@"; do
    case $a in
    --quick) get_s=2 e2e_s=3 warm_s=1 seq_n=20 bare_n=200 ;;
    --no-build) build=0 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0 ;;
    *)
        echo "bench/api.sh: unknown argument $a (try --help)" >&2
        exit 2 ;;
    esac
done

if [ "$(id -u)" != 0 ]; then
    echo "bench/api.sh: must run as root (verdict's sandbox needs it)" >&2
    exit 1
fi
for t in wrk nginx curl "$CC" /usr/bin/python3; do
    if ! command -v "$t" >/dev/null 2>&1; then
        echo "bench/api.sh: $t not found (make deps: wrk nginx-light curl gcc python3)" >&2
        exit 1
    fi
done

say() { echo "bench/api.sh: $*" >&2; }
die() {
    say "ABORT: $*"
    exit 1
}

# ---- build ----
if [ "$build" = 1 ]; then
    make -C "$repo" build/verdict >&2
fi
if ! build/verdict serve --help >/dev/null 2>&1; then
    die "build/verdict has no working 'serve' command (the HTTP server is not built yet)"
fi
$CC -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -o build/bench-api-bare bench/api_bare.c

# ---- processes and clean-up ----
tmp=$(mktemp -d /tmp/vd-bench-api-XXXXXX)
serve_pid='' nginx_pid='' ok=0

# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$ok" != 1 ]; then
        for f in serve.log nginx/error.log nginx/stderr.log; do
            if [ -s "$tmp/$f" ]; then
                say "last lines of $f:"
                tail -n 20 "$tmp/$f" >&2
            fi
        done
    fi
    stop "$nginx_pid" TERM 5
    stop "$serve_pid" TERM 15
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# json FILE EXPR: a Python expression over the parsed document `d`.
json() {
    /usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# wrk_field OUTPUT_FILE: requests/s of a wrk run.
wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
# the 50% line of --latency, in ms
wrk_p50() {
    awk '$1 == "50%" {v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
         if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
         printf "%.2f", v}' "$1"
}
wrk_check() { # FILE WHAT: refuse runs with failed answers, report socket errors
    if grep -q 'Non-2xx or 3xx responses' "$1"; then
        cat "$1" >&2
        die "$2: wrk saw non-2xx answers"
    fi
    if grep -q 'Socket errors' "$1"; then
        say "$2: $(grep 'Socket errors' "$1" | sed 's/^ *//')"
    fi
    [ -n "$(wrk_rps "$1")" ] || { cat "$1" >&2; die "$2: no Requests/sec in wrk's output"; }
}

# ---- 1. verdict serve ----
mkdir -p "$tmp/cache" "$tmp/www" "$tmp/bare" "$tmp/nginx"
chmod 711 "$tmp" # nginx's workers (www-data) read $tmp/www/sub.json
chmod 755 "$tmp/www"
hello_src='#include <stdio.h>
int main(void)
{
    puts("hello");
    return 0;
}
'
printf '%s' "$hello_src" >"$tmp/bare/hello.c"
/usr/bin/python3 -c 'import json, sys; print(json.dumps({"language": "c", "source_code": open(sys.argv[1]).read()}))' \
    "$tmp/bare/hello.c" >"$tmp/body.json"

say "starting verdict serve (workers 2) in $tmp"
VERDICT_LOG_LEVEL=${VERDICT_LOG_LEVEL:-warn} VERDICT_LANGS_DIR="$repo/langs" \
    build/verdict serve --listen 127.0.0.1:0 --database "sqlite:$tmp/v.db" --cache "$tmp/cache" \
    --workers 2 </dev/null >"$tmp/serve.out" 2>"$tmp/serve.log" &
serve_pid=$!
port=
for ((i = 0; i < 300; i++)); do
    port=$(sed -n 's|^verdict: listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$tmp/serve.out" | head -n 1)
    [ -n "$port" ] && break
    alive "$serve_pid" || die "verdict serve exited before listening"
    sleep 0.1
done
[ -n "$port" ] || die "verdict serve printed no 'listening on' line within 30 s"
vbase="http://127.0.0.1:$port"

code=$(curl -s -o "$tmp/health.json" -w '%{http_code}' "$vbase/health/ready" || true)
[ "$code" = 200 ] || die "GET /health/ready: $code $(cat "$tmp/health.json" 2>/dev/null)"

code=$(curl -s -o "$tmp/first.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$tmp/body.json" "$vbase/api/v1/submissions?wait=true")
[ "$code" = 200 ] || die "first POST ?wait=true: status $code: $(cat "$tmp/first.json")"
check=$(json "$tmp/first.json" 'd["status"] == "finished" and d["verdict"] == "OK" and d["stdout"] == "hello\n"')
[ "$check" = True ] || die "first POST: not a finished OK run printing hello: $(cat "$tmp/first.json")"
id=$(json "$tmp/first.json" 'd["id"]')
first_compile=$(json "$tmp/first.json" '"cached=%s cpu_ms=%s wall_ms=%s" % (str((d.get("compile") or {}).get("cached")).lower(), (d.get("compile") or {}).get("cpu_ms"), (d.get("compile") or {}).get("wall_ms"))')

path="/api/v1/submissions/$id"
code=$(curl -s -o "$tmp/www/sub.json" -w '%{http_code} %{content_type}' "$vbase$path")
case $code in
"200 application/json"*) ;;
*) die "GET $path: $code" ;;
esac

# ---- 2. nginx serving the same bytes at the same path ----
nport=
for ((try = 0; try < 5; try++)); do
    nport=$(free_port)
    cat >"$tmp/nginx.conf" <<EOF
daemon off;
master_process on;
user www-data www-data;
worker_processes auto;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    types { }
    default_type application/json;
    server {
        listen 127.0.0.1:$nport;
        location = $path { alias $tmp/www/sub.json; }
    }
}
EOF
    nginx -p "$tmp/nginx/" -e "$tmp/nginx/error.log" -c "$tmp/nginx.conf" </dev/null >/dev/null 2>>"$tmp/nginx/stderr.log" &
    nginx_pid=$!
    for ((i = 0; i < 50; i++)); do
        alive "$nginx_pid" || break
        curl -s -o /dev/null "http://127.0.0.1:$nport$path" && break
        sleep 0.1
    done
    alive "$nginx_pid" && break
    wait "$nginx_pid" 2>/dev/null || true
    nginx_pid=
    say "nginx did not start on port $nport; another port"
done
[ -n "$nginx_pid" ] || die "nginx did not start"
nbase="http://127.0.0.1:$nport"
code=$(curl -s -o "$tmp/nginx-get.json" -w '%{http_code} %{content_type}' "$nbase$path")
case $code in
"200 application/json"*) ;;
*) die "nginx GET $path: $code" ;;
esac
cmp -s "$tmp/nginx-get.json" "$tmp/www/sub.json" || die "nginx does not serve the saved body"

# ---- 3. GET: verdict, then nginx ----
say "GET: wrk -t2 -c32 ${get_s}s against verdict, then nginx (${warm_s}s warm-up each)"
wrk -t2 -c32 -d"${warm_s}s" "$vbase$path" >/dev/null
wrk -t2 -c32 -d"${get_s}s" --latency "$vbase$path" >"$tmp/wrk-get-verdict.txt"
wrk_check "$tmp/wrk-get-verdict.txt" "GET verdict"
wrk -t2 -c32 -d"${warm_s}s" "$nbase$path" >/dev/null
wrk -t2 -c32 -d"${get_s}s" --latency "$nbase$path" >"$tmp/wrk-get-nginx.txt"
wrk_check "$tmp/wrk-get-nginx.txt" "GET nginx"
get_v=$(wrk_rps "$tmp/wrk-get-verdict.txt")
get_n=$(wrk_rps "$tmp/wrk-get-nginx.txt")

# ---- 4. end-to-end against bare exec ----
mapfile -d '' compile_cmd < <(/usr/bin/python3 -c \
    'import json, sys; print("\0".join(json.load(open(sys.argv[1]))["compile"]), end="")' "$repo/langs/c.json")
c_source=$(json "$repo/langs/c.json" 'd["source"]')
c_run=$(json "$repo/langs/c.json" 'd["run"][0]')
cp "$tmp/bare/hello.c" "$tmp/bare/$c_source"
(cd "$tmp/bare" && "${compile_cmd[@]}") >&2 || die "compiling hello with langs/c.json's command failed"

bare() { build/bench-api-bare -w 20 --expect 'hello\n' --dir "$tmp/bare" "$bare_n" "$c_run"; }
say "bare: $bare_n runs of $c_run (${compile_cmd[*]})"
bare1=$(bare) || die "the bare loop failed"

say "e2e: wrk -t2 -c4 ${e2e_s}s POST ?wait=true (${warm_s}s warm-up)"
post_url="$vbase/api/v1/submissions?wait=true"
wrk -t2 -c4 -d"${warm_s}s" --timeout 30s -s bench/api_post.lua "$post_url" -- "$tmp/body.json" >"$tmp/wrk-e2e-warm.txt"
wrk -t2 -c4 -d"${e2e_s}s" --timeout 30s --latency -s bench/api_post.lua "$post_url" -- "$tmp/body.json" \
    >"$tmp/wrk-e2e.txt"
wrk_check "$tmp/wrk-e2e.txt" "POST e2e"
post_check=$(sed -n 's/^api_post: //p' "$tmp/wrk-e2e.txt")
case $post_check in
ok=0\ *) cat "$tmp/wrk-e2e.txt" >&2; die "POST e2e: no finished OK answer" ;;
*\ bad=0\ *) ;;
*) cat "$tmp/wrk-e2e.txt" >&2; die "POST e2e: answers that were not 200 with verdict OK: $post_check" ;;
esac
e2e=$(wrk_rps "$tmp/wrk-e2e.txt")

bare2=$(bare) || die "the bare loop failed"
bare_rps() { sed -n 's/.*runs_per_s=\([0-9.]*\).*/\1/p' <<<"$1"; }
bare_ms() { sed -n 's/.*ms_per_run=\([0-9.]*\).*/\1/p' <<<"$1"; }
b1=$(bare_rps "$bare1") b2=$(bare_rps "$bare2")
bare_mean=$(awk -v a="$b1" -v b="$b2" 'BEGIN {printf "%.2f", (a + b) / 2}')

say "sequential: $seq_n POST ?wait=true one after the other"
: >"$tmp/seq.txt"
last_compile=
for ((i = 0; i < seq_n; i++)); do
    out=$(curl -s -o "$tmp/seq.json" -w '%{http_code} %{time_total}' -H 'Content-Type: application/json' \
        --data-binary @"$tmp/body.json" "$post_url")
    [ "${out%% *}" = 200 ] || die "sequential POST $i: status ${out%% *}: $(cat "$tmp/seq.json")"
    grep -Eq '"verdict"[[:space:]]*:[[:space:]]*"OK"' "$tmp/seq.json" ||
        die "sequential POST $i: not verdict OK: $(cat "$tmp/seq.json")"
    echo "${out#* }" >>"$tmp/seq.txt"
done
last_compile=$(json "$tmp/seq.json" '"cached=%s wall_ms=%s" % (str((d.get("compile") or {}).get("cached")).lower(), (d.get("compile") or {}).get("wall_ms"))')
last_run=$(json "$tmp/seq.json" '"cpu_ms=%s wall_ms=%s memory_kb=%s" % (d.get("cpu_ms"), d.get("wall_ms"), d.get("memory_kb"))')
# seconds -> ms; median (mean of the middle two for even n), p90 nearest rank, min
read -r p50 p90 pmin < <(sort -g "$tmp/seq.txt" | awk '{v[NR] = $1 * 1000}
    END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
         k = int((NR * 90 + 99) / 100); if (k < 1) k = 1;
         printf "%.2f %.2f %.2f\n", m, v[k], v[1]}')

# ---- report ----
r1=$(awk -v a="$get_v" -v b="$get_n" 'BEGIN {printf "%.2f", a / b}')
r2=$(awk -v a="$e2e" -v b="$bare_mean" 'BEGIN {printf "%.2f", a / b}')
ok=1

echo "api machine: nproc=$(nproc) load average: $(cut -d' ' -f1-3 /proc/loadavg); $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2); $(nginx -v 2>&1 | sed 's/^nginx version: //')"
echo "api server: verdict serve --workers 2, sqlite store, log level ${VERDICT_LOG_LEVEL:-warn}; nginx worker_processes auto, access_log off"
echo "api get: body $(wc -c <"$tmp/www/sub.json") bytes at $path; wrk -t2 -c32 -d${get_s}s"
printf 'api get: verdict %10.1f req/s  p50 %s ms\n' "$get_v" "$(wrk_p50 "$tmp/wrk-get-verdict.txt")"
printf 'api get: nginx   %10.1f req/s  p50 %s ms\n' "$get_n" "$(wrk_p50 "$tmp/wrk-get-nginx.txt")"
echo "api e2e: POST C hello ?wait=true, wrk -t2 -c4 -d${e2e_s}s: $e2e req/s, p50 $(wrk_p50 "$tmp/wrk-e2e.txt") ms ($post_check)"
echo "api e2e: compile first POST $first_compile; last POST $last_compile; run $last_run"
echo "api bare: ${compile_cmd[*]}; $c_run x $bare_n, sequential: before $b1 runs/s ($(bare_ms "$bare1") ms), after $b2 runs/s ($(bare_ms "$bare2") ms), mean $bare_mean"
echo "api seq: $seq_n POST ?wait=true one after the other (curl, new connection each): median $p50 ms, p90 $p90 ms, min $pmin ms"
echo "api: get/nginx=$r1 e2e/bare=$r2 p50_ms=$p50"
