#!/usr/bin/env bash
# checksrc.sh - the style job: banned calls, then clang-format (curl's checksrc).
#
# Usage: scripts/checksrc.sh [FILE...]   (default: include/ src/ tests/unit/)
#
# 1. Banned calls, found after comments and string literals are blanked out
#    (so "do not sprintf" in a comment or a log message is fine):
#      sprintf vsprintf strcpy strcat gets  no bound on the destination
#      atoi atol atoll                      no error detection
#      malloc calloc realloc free strdup strndup asprintf vasprintf
#      reallocarray                         outside src/common/alloc.c: all
#                                           memory goes through vd_* (STYLE 3.4)
#    A line that truly needs one says so at its end: `// checksrc: allow`.
#    Hostile test programs (tests/sandbox/) and bench/ are not verdict code
#    and are not checked.
# 2. clang-format --dry-run --Werror with the repository's .clang-format.
#
# Exits 1 when either finds something.
set -euo pipefail

if [ $# -gt 0 ]; then
    files=("$@")
else
    cd "$(dirname "$0")/.."
    mapfile -t files < <(find include src tests/unit -type f \( -name '*.c' -o -name '*.h' \) \
        2>/dev/null | sort)
fi
[ ${#files[@]} -eq 0 ] && { echo "checksrc: no files"; exit 0; }

status=0

# Perl (perl-base is part of every Debian) blanks comments and literals but
# keeps every newline, so the reported line numbers are the real ones.
if ! perl -e '
    my %why = (
        sprintf => "unbounded; use snprintf or vd_buf_printf",
        vsprintf => "unbounded; use vsnprintf",
        strcpy => "unbounded; use snprintf or memcpy with a checked length",
        strcat => "unbounded; use vd_buf",
        gets => "unbounded; use fgets",
        atoi => "no error detection; use strtol and check",
        atol => "no error detection; use strtol and check",
        atoll => "no error detection; use strtoll and check",
    );
    my @alloc = qw(malloc calloc realloc free strdup strndup asprintf vasprintf reallocarray);
    my $bad = 0;
    for my $file (@ARGV) {
        open(my $fh, "<", $file) or die "$file: $!\n";
        local $/;
        my $src = <$fh>;
        close($fh);
        my @orig = split /\n/, $src, -1;
        $src =~ s{ (/\*.*?\*/) | (//[^\n]*) | ("(?:\\.|[^"\\\n])*") | (\x27(?:\\.|[^\x27\\\n])*\x27) }
                 { defined $1 ? " " . ($1 =~ s/[^\n]//gr)
                   : defined $2 ? "" : defined $3 ? "\"\"" : "0" }gsex;
        my @lines = split /\n/, $src, -1;
        my $alloc_ok = $file =~ m{(^|/)src/common/alloc\.c$};
        for my $i (0 .. $#lines) {
            next if ($orig[$i] // "") =~ m{checksrc:\s*allow};
            my $l = $lines[$i];
            while ($l =~ /(?<![\w.>])(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|atoll)\s*\(/g) {
                print "$file:", $i + 1, ": banned call $1(): $why{$1}\n";
                $bad = 1;
            }
            next if $alloc_ok;
            for my $f (@alloc) {
                if ($l =~ /(?<![\w.>])\Q$f\E\s*\(/) {
                    print "$file:", $i + 1, ": raw $f() outside src/common/alloc.c; use the vd_* calls of vd/alloc.h\n";
                    $bad = 1;
                }
            }
        }
    }
    exit $bad;
' "${files[@]}"; then
    status=1
fi

cf=""
for c in "${CLANG_FORMAT:-}" clang-format clang-format-14 clang-format-15 clang-format-16; do
    if [ -n "$c" ] && command -v "$c" >/dev/null 2>&1; then
        cf=$c
        break
    fi
done
if [ -z "$cf" ]; then
    echo "checksrc: clang-format not found (make deps, or apt-get install clang-format)"
    exit 1
fi
if ! "$cf" --dry-run --Werror "${files[@]}"; then
    echo "checksrc: formatting differs; fix with: $cf -i FILE"
    status=1
fi

if [ $status -eq 0 ]; then
    echo "checksrc: ${#files[@]} files clean"
fi
exit $status
