#!/usr/bin/env bash
# run.sh - what `make run` does after the build: start `verdict serve` on the
# embedded default (SQLite and its queue under /var/lib/verdict, the compile
# cache under /var/cache/verdict), in the foreground, after printing where it
# listens and a curl session to try. Ctrl-C stops it; what was accepted is
# kept and finished at the next start.
#
# Usage: scripts/run.sh [BUILD_DIR] [-- SERVE OPTIONS...]
# Settings come from /etc/verdict/verdict.conf, VERDICT_* variables and the
# options, as for `verdict serve` (see etc/verdict.conf.example).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ $# -gt 0 ] && shift
[ "${1:-}" = -- ] && shift

if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: verdict serve must run as root (the sandbox needs it): sudo make run" >&2
    exit 1
fi
listen=$("$build/verdict" serve "$@" --dump-config | awk '$1 == "listen" {print $2}')
host=${listen%:*}
port=${listen##*:}
case $host in "" | 0.0.0.0 | "*") host=127.0.0.1 ;; esac
url="http://$host:$port"

# A ready admin key, so the API can be tried at once: the same key (and
# the same secret, derived from the master secret) at every start. Only on
# loopback, where nobody else can reach the server.
key=""
case $host in
127.* | localhost | ::1 | "[::1]")
    key=$("$build/verdict" admin keys ensure --name make-run --role admin "$@" 2>/dev/null |
        sed -n 's/.*"secret": "\(vk_[^"]*\)".*/\1/p') || key=""
    ;;
esac

cat <<MSG
verdict serve: starting on $url (Ctrl-C stops it)

Try it from another terminal:

  curl -s $url/api/v1/languages
  curl -s -X POST '$url/api/v1/submissions?wait=true' \\
       -H 'Content-Type: application/json' \\
       -d '{"language": "python", "source_code": "print(int(input()) * 2)", "stdin": "21"}'
  curl -s -X POST $url/api/v1/submissions \\
       -d '{"language": "c", "source_code": "#include <stdio.h>\\nint main(void){int a,b;scanf(\\"%d %d\\",&a,&b);printf(\\"%d\\\\n\\",a+b);}",
            "tests": [{"input": "1 2", "expected_output": "3"}, {"input": "5 5", "expected_output": "10"}]}'
  curl -s $url/api/v1/submissions/ID            # the result (ID from the answer above)
  curl -sN $url/api/v1/submissions/ID/events    # live progress (Server-Sent Events)

The API: docs/api.md, or $url/openapi.json.
MSG
if [ -n "$key" ]; then
    cat <<MSG

An admin API key for this server (kept in its database; verdict admin keys list):

  export VERDICT_KEY=$key
  curl -s -H "Authorization: Bearer \$VERDICT_KEY" $url/api/v1/auth/me
  curl -s -H "Authorization: Bearer \$VERDICT_KEY" -X POST $url/api/v1/admin/keys -d '{"name": "my-app"}'

MSG
fi
exec "$build/verdict" serve "$@"
