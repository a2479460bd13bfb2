# bench/lib.sh - what the benchmark scripts share; sourced, never run.
# The caller defines say() (its own prefix on stderr).

# alive PID: the process exists and is not a zombie (our children stay as
# zombies until waited for, and kill -0 succeeds on those).
alive() {
    local st
    [ -n "$1" ] || return 1
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# stop PID SIGNAL SECONDS: signal it, wait that long, then SIGKILL it and its
# direct children (nginx workers, verdict's sandbox helpers).
stop() {
    local pid=$1 sig=$2 secs=$3 i kids
    [ -n "$pid" ] || return 0
    if alive "$pid"; then
        kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)
        kill -"$sig" "$pid" 2>/dev/null || true
        for ((i = 0; i < secs * 10; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            say "pid $pid did not stop on SIG$sig within ${secs}s: SIGKILL"
            # shellcheck disable=SC2086  # a list of pids
            kill -KILL "$pid" $kids 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
}
