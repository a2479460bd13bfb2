#!/usr/bin/env bash
# services.sh - private redis-server and PostgreSQL instances for tests and
# benchmarks, on loopback, so that nothing depends on the machine's own.
#
# Usage: scripts/services.sh start|stop|restart-redis|restart-pg|kill-redis|env|test-env|status
#
#   start          installs the Debian packages (scripts/deps.sh services),
#                  starts both if they are not running, waits until they
#                  answer, and prints the env lines below
#   stop           stops both
#   restart-redis  stops redis-server and starts it again (its append-only
#                  file keeps the streams)
#   restart-pg     the same for PostgreSQL (a fast shutdown)
#   kill-redis     kill -9 of redis-server, then a new start
#   env            prints REDIS_URL=... and DATABASE_URL=... for eval
#   test-env       starts them (as root) and prints export lines of
#                  VERDICT_TEST_REDIS_URL and VERDICT_TEST_DATABASE_URL for
#                  the unit tests (nothing for a service that is not up)
#   status         exit 0 when both answer
#
# State lives under $VERDICT_SERVICES_DIR (default /var/tmp/verdict-services):
# redis/ (append-only file, fsync every write; 4096 databases, so that each
# test server can have one of its own) and pg/ (a cluster made by
# initdb, owned by the postgres user, since PostgreSQL refuses to run as
# root). Ports: $VERDICT_REDIS_PORT (6390) and $VERDICT_PG_PORT (5439),
# chosen apart from the defaults so that a system instance is left alone.
# Trust authentication on loopback: these instances hold test data only.
set -euo pipefail

DIR=${VERDICT_SERVICES_DIR:-/var/tmp/verdict-services}
REDIS_PORT=${VERDICT_REDIS_PORT:-6390}
PG_PORT=${VERDICT_PG_PORT:-5439}
HERE=$(cd "$(dirname "$0")" && pwd)

pg_bin() {
    local b
    b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$b" ] || { echo "services.sh: no PostgreSQL server installed" >&2; exit 1; }
    echo "$b"
}

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

redis_up() { redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
pg_up() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

wait_for() {
    local what=$1 i
    for i in $(seq 1 100); do
        if "$what"; then return 0; fi
        sleep 0.1
    done
    echo "services.sh: $what: not answering after 10 s" >&2
    return 1
}

start_redis() {
    redis_up && return 0
    mkdir -p "$DIR/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR/redis" \
        --appendonly yes --appendfsync always --save '' --databases 4096 --daemonize yes \
        --pidfile "$DIR/redis/redis.pid" --logfile "$DIR/redis/redis.log" >/dev/null
    wait_for redis_up
}

stop_redis() {
    redis_up || return 0
    redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
    local i
    for i in $(seq 1 50); do redis_up || return 0; sleep 0.1; done
}

start_pg() {
    pg_up && return 0
    local bin
    bin=$(pg_bin)
    mkdir -p "$DIR"
    if [ ! -s "$DIR/pg/PG_VERSION" ]; then
        rm -rf "$DIR/pg"
        install -d -o postgres -g postgres -m 0700 "$DIR/pg"
        (cd / && as_pg "$bin/initdb" -D "$DIR/pg" -U verdict --auth=trust -E UTF8) >"$DIR/initdb.log"
    fi
    install -d -o postgres -g postgres "$DIR/pgsock" "$DIR/pglog"
    as_pg "$bin/pg_ctl" -D "$DIR/pg" -l "$DIR/pglog/pg.log" -w -t 30 \
        -o "-p $PG_PORT -k $DIR/pgsock -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null
    wait_for pg_up
    if ! "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U verdict -d postgres -Atc \
        "SELECT 1 FROM pg_database WHERE datname = 'verdict'" | grep -q 1; then
        "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U verdict verdict
    fi
}

stop_pg() {
    pg_up || return 0
    as_pg "$(pg_bin)/pg_ctl" -D "$DIR/pg" -m fast -w stop >/dev/null
}

print_env() {
    echo "REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
    echo "DATABASE_URL=postgres://verdict@127.0.0.1:$PG_PORT/verdict"
}

case "${1:-}" in
start)
    "$HERE/deps.sh" services
    start_redis
    start_pg
    print_env
    ;;
stop)
    stop_redis
    stop_pg
    ;;
restart-redis)
    stop_redis
    start_redis
    ;;
kill-redis)
    if [ -s "$DIR/redis/redis.pid" ]; then kill -9 "$(cat "$DIR/redis/redis.pid")" 2>/dev/null || true; fi
    sleep 0.2
    start_redis
    ;;
restart-pg)
    stop_pg
    start_pg
    ;;
env) print_env ;;
test-env)
    # For the unit tests: export lines naming the services, after starting
    # them when root; nothing when they cannot be had (the tests that need
    # them then skip, saying so).
    if [ "$(id -u)" -eq 0 ]; then
        "$0" start >&2 || exit 0
    fi
    if redis_up; then echo "export VERDICT_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT"; fi
    if pg_up; then
        echo "export VERDICT_TEST_DATABASE_URL=postgres://verdict@127.0.0.1:$PG_PORT/verdict"
    fi
    ;;
status) redis_up && pg_up ;;
*)
    sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
