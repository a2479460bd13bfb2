#!/usr/bin/env bash
# deps.sh - make sure the Debian packages verdict needs are installed.
#
# Usage: scripts/deps.sh [PURPOSE...]     (no purpose: every purpose)
#
# As root it installs what is missing with apt-get (running `apt-get update`
# once, and only when something is missing). As anyone else it prints what
# is missing and the command to install it, and exits 0, so that a machine
# set up by other means is not blocked. When everything is there it costs one
# dpkg-query call and prints nothing.
#
# To add a dependency, add it to the row of the purpose that needs it (a new
# purpose is a new row); make targets ask for the purposes they need.
set -euo pipefail

# purpose   packages (one row per purpose; the reasons follow below)
PACKAGES=$(cat <<'EOF'
build       build-essential pkg-config libseccomp-dev libjansson-dev libssl-dev libmicrohttpd-dev libsqlite3-dev libsodium-dev libcurl4-openssl-dev libpq-dev libhiredis-dev
run         python3
tests       python3 curl sqlite3
services    redis-server redis-tools postgresql
bench       bubblewrap hyperfine python3 wrk nginx-light curl
style       clang-format
fuzz        clang libclang-rt-14-dev
valgrind    valgrind
EOF
)
# build:    compiler, make, libc headers, and the libraries we link
#           (libseccomp for the sandbox's syscall filter, jansson for JSON,
#           OpenSSL's libcrypto for SHA-256: compile-cache keys, later HMAC;
#           libmicrohttpd for the HTTP API: no HTTP parsing of our own;
#           libsqlite3 for the store and the embedded queue, the default
#           database: 3.35+ for RETURNING, Debian 12 has 3.40; libsodium for
#           argon2id password hashes, constant-time comparison and random
#           bytes; libcurl to deliver webhooks; libpq for the PostgreSQL
#           store and hiredis for the Redis Streams queue, the scale-out
#           mode).
# tests:    what the test suites need beyond a build: python3 for the
#           sandbox suite's helpers (its cases are built with gcc -static,
#           whose static libc comes with build-essential), and the
#           integration suite's client (python3's http.client), curl for
#           the data-driven cases, sqlite3 to look into the store.
# services: redis-server (with redis-cli from redis-tools) and the
#           PostgreSQL server, which scripts/services.sh starts on loopback
#           for the scale-out tests and benchmarks.
# run:      python3, the language table's probe helpers and the language
#           the README's curl example uses.
# bench:    bubblewrap as the baseline sandbox to compare against, hyperfine
#           to time runs, python3 for the interpreter workload; wrk to load
#           the API, nginx-light as the static-file baseline beside it,
#           curl for one request at a time.
# style:    clang-format for `make style`.
# valgrind: `make valgrind`.
# fuzz:     clang and its libFuzzer runtime for `make fuzz`.

purposes=("$@")
if [ ${#purposes[@]} -eq 0 ]; then
    mapfile -t purposes < <(awk '{print $1}' <<<"$PACKAGES")
fi

wanted=()
for p in "${purposes[@]}"; do
    row=$(awk -v p="$p" '$1 == p' <<<"$PACKAGES")
    if [ -z "$row" ]; then
        echo "deps.sh: unknown purpose '$p' (known: $(awk '{printf "%s ", $1}' <<<"$PACKAGES"))" >&2
        exit 2
    fi
    read -r -a pkgs <<<"$(cut -s -d' ' -f2- <<<"$(tr -s ' ' <<<"$row")")"
    wanted+=("${pkgs[@]}")
done
[ ${#wanted[@]} -eq 0 ] && exit 0

# One dpkg-query for all of them. Packages dpkg has never heard of are not
# listed at all, so "missing" is "not reported as installed".
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${wanted[@]}" 2>/dev/null || true)
missing=()
for pkg in $(printf '%s\n' "${wanted[@]}" | sort -u); do
    if ! grep -qx "$pkg installed" <<<"$installed"; then
        missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing Debian packages: ${missing[*]}"
    echo "deps.sh: install them with: sudo apt-get install ${missing[*]}"
    exit 0
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
