#!/usr/bin/env bash
# check-symbols.sh - the naming rule of STYLE 3.2, checked on the objects.
#
# Usage: scripts/check-symbols.sh LIBRARY.a OBJECT...
#   OBJECT: the objects of src/ (library and commands), in their build folders.
#
# 1. Every global symbol defined in the library starts with vd_ (public,
#    vd_<module>_<verb>) or vd__ (module-internal). Anything else would
#    collide with the programs and libraries we link, and means a helper
#    lost its `static`.
# 2. A module-internal symbol (vd__...) is used only by objects in the folder
#    that defines it: src/sandbox/ may share vd__ names among its files, but
#    src/api/ may not call them (libuv's uv__, curl's -int.h).
#
# Exits 1 on any violation, listing each.
set -euo pipefail

lib=$1
shift
status=0

if [ ! -f "$lib" ]; then
    echo "check-symbols: $lib not found" >&2
    exit 2
fi

# nm prints "ADDRESS TYPE NAME" for defined symbols; --defined-only and -g
# leave exactly the global definitions (T, D, B, R, W, V, ...).
bad=$(nm -g --defined-only "$lib" 2>/dev/null | awk 'NF == 3 && $3 !~ /^vd_/ { print $3 }' | sort -u)
if [ -n "$bad" ]; then
    echo "check-symbols: global symbols without the vd_ prefix in $lib (make them static or rename):"
    sed 's/^/    /' <<<"$bad"
    status=1
fi

# Where each vd__ symbol is defined, then who refers to it.
declare -A home
for o in "$@"; do
    for s in $(nm -g --defined-only "$o" | awk 'NF == 3 && $3 ~ /^vd__/ { print $3 }'); do
        home[$s]=$(dirname "$o")
    done
done
for o in "$@"; do
    dir=$(dirname "$o")
    for s in $(nm -u "$o" | awk '$2 ~ /^vd__/ { print $2 }'); do
        if [ -n "${home[$s]:-}" ] && [ "${home[$s]}" != "$dir" ]; then
            echo "check-symbols: $o uses $s, internal to src/${home[$s]##*/src/}/"
            status=1
        fi
    done
done

if [ $status -eq 0 ]; then
    echo "check-symbols: $(nm -g --defined-only "$lib" | awk 'NF == 3' | wc -l) global symbols, all vd_"
fi
exit $status
