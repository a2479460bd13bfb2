#!/usr/bin/env bash
# langs-install.sh - install the Debian packages of the languages in langs/.
#
# Usage: scripts/langs-install.sh [--core] [--list] [ID...]
#
#   (no argument)  every language of langs/*.json
#   --core         only the languages of tier "core"
#   ID...          only these languages (ids, not aliases)
#   --list         print what would be installed (one line per language:
#                  "id tier: packages [missing: ...]") and install nothing
#
# Reads the "packages" of each langs/<id>.json with python3. When everything
# is installed it costs one dpkg-query and prints nothing. Otherwise, as root,
# it runs `apt-get update` once, then installs what is missing with
# --no-install-recommends (what the language files were tested with).
# Packages that this Debian release does not have are reported and skipped:
# they do not fail the script. As any other user it prints the apt-get line
# to run and exits 0.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
langs_dir=$(cd "$here/.." && pwd)/langs

core=0
list=0
ids=()
for a in "$@"; do
    case $a in
    --core) core=1 ;;
    --list) list=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "langs-install.sh: unknown option $a" >&2
        exit 2
        ;;
    *) ids+=("$a") ;;
    esac
done

command -v python3 >/dev/null || {
    echo "langs-install.sh: python3 is needed to read langs/*.json (apt-get install python3)" >&2
    exit 1
}

# "id tier pkg pkg ..." per selected language.
rows=$(python3 - "$langs_dir" "$core" "${ids[@]}" <<'EOF'
import glob, json, sys
d, core, want = sys.argv[1], sys.argv[2] == "1", set(sys.argv[3:])
seen = set()
for f in sorted(glob.glob(d + "/*.json")):
    with open(f) as fh:
        l = json.load(fh)
    seen.add(l["id"])
    if core and l.get("tier") != "core":
        continue
    if want and l["id"] not in want:
        continue
    print(l["id"], l.get("tier", "extra"), *l.get("packages", []))
unknown = want - seen
if unknown:
    sys.exit("langs-install.sh: unknown language(s): " + " ".join(sorted(unknown)))
EOF
)

mapfile -t wanted < <(awk '{for (i = 3; i <= NF; i++) print $i}' <<<"$rows" | sort -u)

# One dpkg-query for all of them; packages dpkg has never heard of are not
# listed, so "missing" is "not reported as installed".
installed=""
if [ ${#wanted[@]} -gt 0 ]; then
    installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${wanted[@]}" 2>/dev/null || true)
fi
missing=()
for p in "${wanted[@]}"; do
    grep -qx "$p installed" <<<"$installed" || missing+=("$p")
done

if [ $list = 1 ]; then
    while read -r id tier pkgs; do
        [ -n "$id" ] || continue
        m=()
        for p in $pkgs; do
            grep -qx "$p installed" <<<"$installed" || m+=("$p")
        done
        if [ ${#m[@]} -gt 0 ]; then
            echo "$id ($tier): $pkgs [missing: ${m[*]}]"
        else
            echo "$id ($tier): $pkgs"
        fi
    done <<<"$rows"
    exit 0
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "langs-install.sh: missing packages; as root run:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "langs-install.sh: installing ${missing[*]}" >&2
apt-get update -qq

# Keep only the packages this release can install; report the others.
installable=()
for p in "${missing[@]}"; do
    cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
        echo "langs-install.sh: skip $p: not available in this Debian release" >&2
    else
        installable+=("$p")
    fi
done
[ ${#installable[@]} -eq 0 ] && exit 0

if ! apt-get install -y -qq --no-install-recommends "${installable[@]}"; then
    # One bad package (a dependency conflict, say) must not keep the others
    # out: retry them one by one and report the ones that still fail.
    echo "langs-install.sh: retrying one package at a time" >&2
    for p in "${installable[@]}"; do
        apt-get install -y -qq --no-install-recommends "$p" ||
            echo "langs-install.sh: skip $p: apt-get install failed" >&2
    done
fi
