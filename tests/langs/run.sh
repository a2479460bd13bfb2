#!/usr/bin/env bash
# run.sh - run every language's sample programs through `verdict run` and
# check the verdicts (tests/langs/README.md describes the cases).
#
# Usage: tests/langs/run.sh VERDICT_BINARY [--core|--all] [-j N] [ID...]
#
#   (default)  every language whose toolchain is installed; the others are
#              reported as `skip <id>: not installed`
#   --core     only the languages of tier "core", installed or not (CI
#              installs them with scripts/langs-install.sh --core)
#   --all      every language, installed or not (a missing toolchain fails)
#   -j N       run N languages at once (default 1; output stays in order)
#   ID...      only these languages
#
# Prints `ok <id>/<case>`, `FAIL <id>/<case>: why` or `skip ...` per line and
# ends with `N passed, N failed` (`, N skipped` when something was skipped).
# Exits 1 when anything failed, 2 on a usage error. Run it as root (the
# sandbox needs it).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() {
    echo "usage: $0 VERDICT_BINARY [--core|--all] [-j N] [ID...]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
verdict=$1
shift
case $verdict in
/*) ;;
*) verdict=$PWD/$verdict ;;
esac
[ -x "$verdict" ] || { echo "$0: $verdict is not executable" >&2; exit 2; }

mode=installed
jobs=1
only=()
while [ $# -gt 0 ]; do
    case $1 in
    --core) mode=core ;;
    --all) mode=all ;;
    -j) [ $# -ge 2 ] || usage; jobs=$2; shift ;;
    -j*) jobs=${1#-j} ;;
    -*) usage ;;
    *) only+=("$1") ;;
    esac
    shift
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || usage

# The limits every case runs with.
TIME=2
MLE_TIME=10
MEM=256

# One line per language: "id tier installed(0|1)". Installed means: every
# Debian package of the file is installed and the first word of its version
# command is on the box's PATH.
langs=$(python3 - "$root/langs" <<'EOF'
import glob, json, os, shutil, subprocess, sys
ids, pkgs = [], set()
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    l = json.load(open(f))
    ids.append(l)
    pkgs.update(l.get("packages", []))
out = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n"] + sorted(pkgs),
                     capture_output=True, text=True).stdout if pkgs else ""
have = {line.split()[0] for line in out.splitlines() if line.endswith(" installed")}
path = "/usr/local/bin:/usr/bin:/bin"
for l in sorted(ids, key=lambda l: l["id"]):
    ok = all(p in have for p in l.get("packages", [])) and \
        shutil.which(l["version"]["command"][0], path=path) is not None
    print(l["id"], l.get("tier", "extra"), int(ok))
EOF
) || { echo "$0: cannot read $root/langs" >&2; exit 2; }

# check CASE JSON_FILE: prints nothing when the verdict is right, else why.
check() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
case, path = sys.argv[1], sys.argv[2]
try:
    r = json.load(open(path))
except Exception as e:
    print("no JSON from verdict run (%s)" % e)
    sys.exit()
v = r.get("verdict")
comp = r.get("compile") or {}
def why(want):
    msg = "verdict %s, want %s" % (v, want)
    if v == "CE":
        msg += "; compile output: %r" % (comp.get("output") or "")[:300]
    elif r.get("stderr"):
        msg += "; stderr: %r" % r["stderr"][:300]
    return msg
if case == "hello":
    if v != "OK":
        print(why("OK"))
    elif r.get("stdout") != "Hello, World!\n":
        print("stdout %r, want 'Hello, World!\\n'" % r.get("stdout"))
elif case == "ab":
    if v != "OK":
        print(why("OK"))
    elif r.get("stdout") != "7\n":
        print("stdout %r, want '7\\n'" % r.get("stdout"))
elif case == "ce":
    if v != "CE":
        print(why("CE"))
    elif not (comp.get("output") or "").strip():
        print("CE with an empty compile.output")
elif case == "re":
    if v != "RE":
        print(why("RE"))
elif case == "tle":
    if v != "TLE":
        print(why("TLE"))
elif case == "mle":
    # MLE is what we want. Some runtimes (the JVM's OutOfMemoryError, PHP's
    # memory_limit, a heap cap of their own) turn the allocation failure into
    # their own error before the sandbox kills them: accept that RE only when
    # the run really used most of the 256 MB limit (memory_kb >= 200000).
    mem = r.get("memory_kb") or 0
    if v == "MLE" or (v == "RE" and mem >= 200000):
        pass
    else:
        print(why("MLE") + "; memory_kb %s" % mem)
EOF
}

# run_lang ID: runs the cases of one language, prints the result lines.
run_lang() {
    local id=$1 dir=$here/$1 f case why out in args
    [ -d "$dir" ] || { echo "FAIL $id: no directory tests/langs/$id"; return; }
    out=$(mktemp)
    in=$(mktemp)
    printf '3 4\n' >"$in"
    for case in hello ab ce re tle mle; do
        f=$(find "$dir" -maxdepth 1 -name "$case.*" | head -n 1)
        [ -n "$f" ] || continue
        # Only the time-limit case gets a short limit; the others run with
        # the language's own defaults, as users run them, except the memory
        # case, which gets time to spare: it must end on its memory limit,
        # and slow runtimes (Clojure: 1.4 s of CPU to print hello) would
        # otherwise run out of time first.
        args=("$f" --lang "$id" --json --mem "$MEM")
        [ "$case" = tle ] && args+=(--time "$TIME")
        [ "$case" = mle ] && args+=(--time "$MLE_TIME")
        [ "$case" = ab ] && args+=(--stdin "$in")
        (cd "$root" && timeout 600 "$verdict" run "${args[@]}") >"$out" 2>/dev/null
        why=$(check "$case" "$out")
        if [ -z "$why" ]; then
            echo "ok $id/$case"
        else
            echo "FAIL $id/$case: $why"
        fi
    done
    rm -f "$out" "$in"
}

todo=()
skips=()
while read -r id tier installed; do
    if [ ${#only[@]} -gt 0 ]; then
        keep=0
        for o in "${only[@]}"; do [ "$o" = "$id" ] && keep=1; done
        [ $keep = 1 ] || continue
    fi
    case $mode in
    core) [ "$tier" = core ] || continue ;;
    installed) [ "$installed" = 1 ] || { skips+=("$id"); continue; } ;;
    esac
    todo+=("$id")
done <<<"$langs"

if [ ${#only[@]} -gt 0 ]; then
    for o in "${only[@]}"; do
        grep -q "^$o " <<<"$langs" || { echo "$0: unknown language $o" >&2; exit 2; }
    done
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Languages run in up to $jobs background jobs, each writing to its own file;
# the files are printed in order as they complete.
n=0
for id in "${todo[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n
    done
    (run_lang "$id" >"$tmp/$(printf '%03d' $n).out"; touch "$tmp/$(printf '%03d' $n).done") &
    n=$((n + 1))
done

results=$tmp/results
: >"$results"
for id in "${skips[@]}"; do
    echo "skip $id: not installed" | tee -a "$results"
done
for ((i = 0; i < n; i++)); do
    f=$tmp/$(printf '%03d' $i)
    while [ ! -e "$f.done" ]; do
        wait -n 2>/dev/null || sleep 0.2
    done
    tee -a "$results" <"$f.out"
done
wait

passed=$(grep -c '^ok ' "$results")
failed=$(grep -c '^FAIL ' "$results")
skipped=$(grep -c '^skip ' "$results")
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
