#!/usr/bin/env python3
"""test_api.py - the integration suite: the real `verdict serve` over HTTP.

Usage: test_api.py --verdict BUILD/verdict [--tmp DIR] [--only SUBSTR]...
                   [--list] [--skip-all REASON] [-v]

Every test is a function registered with @test(NAME, timeout=S); the
data-driven cases of cases/NNN-name.json are tests too (named case/NNN-name),
run in file order between the tests of the shared server and those of the
dedicated servers. Each prints one line, `ok NAME`, `FAIL NAME: why` or
`skip NAME: why`; the last line is `N passed, N failed` (`, N skipped` when
something was skipped). The exit status is 1 when anything failed.

Servers: each is a real `verdict serve --listen 127.0.0.1:0 --database
sqlite:DIR/verdict.db --cache DIR/cache --workers N` in a directory of its own
under --tmp, with every other setting by VERDICT_* environment variables (the
caller's VERDICT_* and DATABASE_URL-style variables are dropped first). The
port comes from the `verdict: listening on http://127.0.0.1:PORT` line on its
stdout; its stderr goes to DIR/stderr.log. One server (`shared`, 2 workers)
serves most tests and is started once; tests that need another configuration
(a tiny queue_max, a small wait_max_ms or size caps, retention, a kill -9)
start their own.

Backends: with VD_TEST_REDIS_URL (redis://HOST:PORT) each Server gets a
Redis database of its own (REDIS_URL=.../N, N counting from
VD_TEST_REDIS_DB_FIRST, default 1; flushed when the Server is made), and
with VD_TEST_DATABASE_URL (postgres://...) a PostgreSQL database of its own
(vt_RUN_N_NAME, made with psql, dropped at the end when everything passed)
instead of the SQLite file, with its master secret in DIR/secret. Both stay
the same across a restart of the Server; Server.db_url is the --database
URL (test_auth.py's `verdict admin` calls use it too). run.sh --backend
scale sets both from scripts/services.sh.

Timing: the machine may be a loaded 2-core VM. Nothing here asserts a speed:
it polls with generous deadlines. Programs that must still be running when
the test looks (sleepers) sleep for far longer than the test needs.

Case files (cases/NNN-name.json), one request each:
  "method", "path"           the request ("path" may carry a query)
  "body" | "raw"             a JSON value sent as JSON, or a raw string
  "raw_base64"               raw bytes (for bodies that are not UTF-8)
  "headers"                  extra request headers (optional)
  "wait": true               adds wait=true to the query; a 202 (not finished
                             at the server's bound) is then polled to the end
  "requires": ["javascript"] skipped when a language is not available
  "expect_status"            a status or a list of acceptable ones
  "expect_error_code"        a code or a list; also checks the error body:
                             {"error": {"code", "message", "field"?}}
  "expect_field"             the error's field; null: no field at all
  "expect"                   a subset of the response JSON (objects: the keys
                             given; arrays: same length, item by item)
  "expect_equal"             keys whose value must be exactly equal
  "expect_nonempty"          keys whose value must be a non-empty string
  "expect_headers"           {name: value or null (just present)}
"""
import argparse
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CASES_DIR = os.path.join(HERE, "cases")

ARGS = None
VERDICT = None
TMP = None
RUN = "vdit-" + secrets.token_hex(4)  # marks the sleepers of this run
UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SNAKE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
LISTEN_RE = re.compile(r"^verdict: listening on http://127\.0\.0\.1:(\d+)\s*$")
VERDICTS = ("OK", "AC", "WA", "TLE", "MLE", "OLE", "RE", "CE", "IE")
STATUSES = ("created", "queued", "running", "finished", "cancelled")
NO_ID = "01900000-0000-7000-8000-000000000000"  # well-formed, never issued


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def short(x, n=300):
    s = x if isinstance(x, str) else (x.decode("utf-8", "replace") if isinstance(x, bytes)
                                       else json.dumps(x, sort_keys=True))
    s = s.replace("\n", "\\n")
    return s if len(s) <= n else s[:n] + "..."


# ------------------------------------------------------------------ programs

C_HELLO = '#include <stdio.h>\nint main(void)\n{\n    printf("Hello, World!\\n");\n    return 0;\n}\n'
C_CE = '#include <stdio.h>\nint main(void)\n{\n    printf("missing semicolon\\n")\n    return 0;\n}\n'
PY_HELLO = 'print("Hello, World!")\n'
PY_AB = "a, b = map(int, input().split())\nprint(a + b)\n"
PY_RE = "print(1 // 0)\n"
AB_TESTS = [{"name": "1", "input": "1 2\n", "expected_output": "3\n"},
            {"name": "2", "input": "3 4\n", "expected_output": "7\n"},
            {"name": "3", "input": "10 20\n", "expected_output": "30\n"}]


def sleeper(secs, tag):
    """A Python program that sleeps `secs` under a command line holding a
    marker of this run, so that its process can be found (and its end seen)
    in /proc without blaming anyone else's."""
    marker = "%s-%s" % (RUN, tag)
    src = ("import os\n"
           "os.execv('/usr/bin/python3', ['/usr/bin/python3', '-c', "
           "'import time; time.sleep(%d)', %r])\n" % (secs, marker))
    return src, marker


def sleeper_req(secs, tag, **kw):
    src, marker = sleeper(secs, tag)
    body = {"language": "python", "source_code": src,
            "limits": {"wall_ms": min(60000, secs * 1000 + 20000)}}
    body.update(kw)
    return body, marker


def marker_pids(marker):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if marker.encode() in f.read():
                    pids.append(int(d))
        except OSError:
            pass
    return [p for p in pids if p != os.getpid()]


def proc_status(pid, field):
    """The first number of a field of /proc/PID/status ("Uid", "PPid"), or
    None when the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def pid_uid(pid):
    return proc_status(pid, "Uid")


def wait_for(what, fn, deadline_s, step=0.1):
    end = time.monotonic() + deadline_s
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise Fail("%s: not within %g s" % (what, deadline_s))
        time.sleep(step)


# ------------------------------------------------------------------ backends

# The scale backend (run.sh --backend scale): VD_TEST_REDIS_URL gives every
# Server a Redis database of its own (numbers from VD_TEST_REDIS_DB_FIRST,
# default 1, flushed when the Server is made); VD_TEST_DATABASE_URL gives it
# a PostgreSQL database of its own (vt_RUN_N_NAME, made with psql on the
# base URL, dropped at the end when everything passed) instead of SQLite.
REDIS_BASE = os.environ.get("VD_TEST_REDIS_URL") or None
PG_BASE = os.environ.get("VD_TEST_DATABASE_URL") or None
REDIS_DBS = []       # numbers used by this run's servers
PG_DBS = []          # databases made by this run
_BACKEND_LOCK = threading.Lock()
_BACKEND_NEXT = [int(os.environ.get("VD_TEST_REDIS_DB_FIRST") or 1)]


def backend_name():
    return "%s+%s" % ("redis" if REDIS_BASE else "db-queue",
                      "postgres" if PG_BASE else "sqlite")


def _redis_addr(url):
    """(host, port, password) of redis://[:PASSWORD@]HOST[:PORT][/DB]."""
    u = urllib.parse.urlsplit(url)
    check(u.scheme == "redis", "not a redis:// URL: %r" % url)
    return u.hostname or "127.0.0.1", u.port or 6379, u.password


def redis_url(base, db):
    u = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/%d" % db, u.query, ""))


def _resp_read(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise OSError("redis: connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode("utf-8", "replace")
    if kind == b"-":
        raise Fail("redis error: %s" % rest.decode("utf-8", "replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise OSError("redis: bad reply %r" % line[:40])


def redis_cmd(url, db, *cmds, timeout=10):
    """Runs commands (each a tuple of words) on database db of the Redis at
    url over one connection; the list of replies. Raises OSError when Redis
    does not answer."""
    host, port, password = _redis_addr(url)
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        f = s.makefile("rb")
        pre = ([("AUTH", password)] if password else []) + [("SELECT", str(db))]
        out = []
        for c in pre + list(cmds):
            words = [w if isinstance(w, bytes) else str(w).encode("utf-8") for w in c]
            s.sendall(b"*%d\r\n" % len(words) + b"".join(
                b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
            out.append(_resp_read(f))
        return out[len(pre):]
    finally:
        s.close()


def _pg_url(base, dbname):
    u = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + dbname, u.query, ""))


def psql(url, sql, timeout=60):
    """Runs sql with psql on url; its stdout. Raises Fail on an error."""
    try:
        p = subprocess.run(["psql", url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Fail("psql %s: %s" % (sql, e))
    if p.returncode != 0:
        raise Fail("psql %r: exit %d: %s" % (sql, p.returncode,
                                             short(p.stderr.decode("utf-8", "replace"))))
    return p.stdout.decode("utf-8", "replace")


def backend_new(name):
    """(redis URL or None, database URL) for a new Server: a flushed Redis
    database and a new PostgreSQL database of its own, or (None, None) for
    the embedded backend (the SQLite file of its directory)."""
    rurl = durl = None
    with _BACKEND_LOCK:
        n = _BACKEND_NEXT[0]
        _BACKEND_NEXT[0] += 1
    if REDIS_BASE:
        rurl = redis_url(REDIS_BASE, n)
        try:
            redis_cmd(REDIS_BASE, n, ("FLUSHDB",))
        except OSError as e:
            raise Fail("server %s: redis at %s: %s" % (name, REDIS_BASE, e))
        with _BACKEND_LOCK:
            REDIS_DBS.append(n)
    if PG_BASE:
        dbname = ("vt_%s_%d_%s" % (RUN[5:], n, re.sub(r"[^a-z0-9]+", "_", name.lower())))[:63]
        psql(PG_BASE, 'DROP DATABASE IF EXISTS "%s"' % dbname)
        psql(PG_BASE, 'CREATE DATABASE "%s"' % dbname)
        with _BACKEND_LOCK:
            PG_DBS.append(dbname)
        durl = _pg_url(PG_BASE, dbname)
    return rurl, durl


def backend_cleanup(all_passed):
    """When everything passed: the run's PostgreSQL databases dropped and
    its Redis databases flushed. Kept otherwise, for a look afterwards."""
    if not all_passed:
        if PG_DBS or REDIS_DBS:
            print("# kept: PostgreSQL databases %s; Redis databases %s"
                  % (" ".join(PG_DBS) or "-", " ".join(map(str, REDIS_DBS)) or "-"), flush=True)
        return
    for d in PG_DBS:
        try:
            psql(PG_BASE, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % d)
        except Fail as e:
            print("# %s" % e, flush=True)
    for n in REDIS_DBS:
        try:
            redis_cmd(REDIS_BASE, n, ("FLUSHDB",))
        except (OSError, Fail) as e:
            print("# redis FLUSHDB of %d: %s" % (n, e), flush=True)


# ------------------------------------------------------------------ servers

SERVERS = []
SERVERS_LOCK = threading.Lock()


def clean_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("VERDICT_") and k not in (
               "DATABASE_URL", "REDIS_URL", "API_SECRET", "WEBHOOK_URL", "ALLOWED_IPS")}
    env["VERDICT_LANGS_DIR"] = os.path.join(REPO, "langs")
    env["VERDICT_LOG_LEVEL"] = "info"
    return env


class Server:
    """One `verdict serve` (or, with argv0, another subcommand that takes
    serve's options, such as `worker`). db_url is its database (sqlite:FILE
    of its directory, or a PostgreSQL database of its own), redis_url its
    Redis database or None; both stay the same across restarts."""

    def __init__(self, name, workers=2, env=None, args=(), command="serve",
                 ready_re=None, db_url=None, redis_url=None):
        self.name = name
        self.workers = workers
        self.extra_env = dict(env or {})
        self.args = list(args)
        self.command = command
        self.ready_re = ready_re or LISTEN_RE
        self.dir = os.path.join(TMP, "srv-" + name)
        os.makedirs(os.path.join(self.dir, "cache"), exist_ok=True)
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.join(self.dir, "cache"), 0o755)
        self.db = os.path.join(self.dir, "verdict.db")
        if db_url is None and redis_url is None:
            redis_url, db_url = backend_new(name)
        self.redis_url = redis_url
        self.db_url = db_url or "sqlite:" + self.db
        self.proc = None
        self.port = None
        self.starts = 0
        self.stdout_lines = []
        self.stuck = 0  # waits that ran out: past 2, later waits are short
        with SERVERS_LOCK:
            SERVERS.append(self)

    @property
    def log_path(self):
        return os.path.join(self.dir, "stderr.log")

    def log_tail(self, n=6):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-n:])

    def env(self):
        """The environment it runs with (also that of `verdict admin` on its
        database): clean_env(), its backend, then its own settings."""
        env = clean_env()
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        if not self.db_url.startswith("sqlite:"):
            # Not beside a SQLite file: the master secret in its directory.
            env["VERDICT_SECRET_FILE"] = os.path.join(self.dir, "secret")
        env.update({k: str(v) for k, v in self.extra_env.items()})
        return env

    def start(self, timeout=60):
        check(self.proc is None or self.proc.poll() is not None, "server already running")
        self.starts += 1
        env = self.env()
        argv = [VERDICT, self.command]
        if self.command == "serve":
            argv += ["--listen", "127.0.0.1:0"]
        argv += ["--database", self.db_url, "--cache", os.path.join(self.dir, "cache"),
                 "--workers", str(self.workers)] + self.args
        log = open(self.log_path, "ab")
        log.write(("=== start %d: %s\n" % (self.starts, " ".join(argv))).encode())
        log.flush()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=log, env=env, cwd=self.dir)
        log.close()
        found = threading.Event()
        port = []
        proc = self.proc

        def reader():
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace")
                self.stdout_lines.append(line)
                m = self.ready_re.match(line)
                if m and not found.is_set():
                    port.append(int(m.group(1)) if m.groups() else 0)
                    found.set()
            found.set()

        threading.Thread(target=reader, daemon=True).start()
        end = time.monotonic() + timeout
        while not found.wait(0.2):
            if time.monotonic() > end:
                self.kill9()
                raise Fail("server %s: no ready line (%s) within %d s; stderr: %s"
                           % (self.name, self.ready_re.pattern, timeout,
                              short(self.log_tail(), 600)))
        if not port:
            rc = proc.wait(10)
            raise Fail("server %s exited %s before listening; stdout %s; stderr: %s"
                       % (self.name, rc, short("".join(self.stdout_lines)),
                          short(self.log_tail(), 600)))
        self.port = port[0]
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL past timeout. Returns (exit status, seconds)
        or None when it was not running."""
        if not self.proc or self.proc.poll() is not None:
            return None
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
            return ("killed: no exit within %d s of SIGTERM" % timeout, timeout)
        return (rc, time.monotonic() - t0)


_SHARED = {}


def shared():
    if "err" in _SHARED:
        raise Fail("the shared server did not start: " + _SHARED["err"])
    if "srv" not in _SHARED:
        try:
            _SHARED["srv"] = Server("shared", workers=2).start()
        except Fail as e:
            _SHARED["err"] = str(e)
            raise
    srv = _SHARED["srv"]
    if not srv.alive():
        raise Fail("the shared server is dead (exit %s); stderr: %s"
                   % (srv.proc.returncode, short(srv.log_tail(), 500)))
    return srv


_DEDICATED = {}


def dedicated(name, workers, env):
    """A server of its own, started on first use and kept for the tests that
    share its configuration."""
    if name in _DEDICATED:
        s = _DEDICATED[name]
        if isinstance(s, str):
            raise Fail("server %s did not start: %s" % (name, s))
        if not s.alive():
            raise Fail("server %s is dead (exit %s); stderr: %s"
                       % (name, s.proc.returncode, short(s.log_tail(), 500)))
        return s
    try:
        s = Server(name, workers=workers, env=env).start()
    except Fail as e:
        _DEDICATED[name] = str(e)
        raise
    _DEDICATED[name] = s
    return s


# ------------------------------------------------------------------ HTTP

SEEN_5XX = []        # (method, path, status, body): never allowed except 503
NO_REQUEST_ID = []   # responses without X-Request-Id


class Resp:
    def __init__(self, method, path, status, headers, body):
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers          # list of (name, value)
        self.body = body
        self._json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise Fail("%s %s: HTTP %d body is not JSON (%s): %s"
                           % (self.method, self.path, self.status, e, short(self.body)))
        return self._json

    def what(self):
        return "%s %s -> %d %s" % (self.method, self.path, self.status, short(self.body, 400))


def note_response(method, path, status, headers, body):
    if status >= 500 and status != 503:
        SEEN_5XX.append("%s %s -> %d %s" % (method, path, status, short(body, 200)))
        raise Fail("%s %s answered %d: %s" % (method, path, status, short(body)))
    if not any(k.lower() == "x-request-id" and v for k, v in headers):
        NO_REQUEST_ID.append("%s %s -> %d" % (method, path, status))


_NOBODY = object()


def req(srv, method, path, body=_NOBODY, raw=None, headers=None, timeout=60):
    hdrs = {}
    data = None
    if raw is not None:
        data = raw.encode("utf-8") if isinstance(raw, str) else raw
        hdrs["Content-Type"] = "application/json"
    elif body is not _NOBODY:
        data = json.dumps(body).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            b = r.read()
        except (OSError, http.client.HTTPException) as e:
            raise Fail("%s %s: %s: %s (server %s %s)" % (
                method, path, type(e).__name__, e, srv.name,
                "alive" if srv.alive() else "DEAD: " + short(srv.log_tail(), 400)))
    finally:
        conn.close()
    hs = r.getheaders()
    note_response(method, path, r.status, hs, b)
    return Resp(method, path, r.status, hs, b)


def raw_http(srv, data, send_chunks=(), timeout=60):
    """Sends bytes over a fresh socket (the rest in chunks, ignoring a
    server that stops reading), reads until EOF; returns (status, headers,
    body) or raises Fail when nothing came back."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    got = b""
    try:
        try:
            s.sendall(data)
            for c in send_chunks:
                s.sendall(c)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got += d
                if b"\r\n\r\n" in got and _complete(got):
                    break
        except (ConnectionResetError, socket.timeout):
            pass
    finally:
        s.close()
    if b"\r\n\r\n" not in got:
        raise Fail("no HTTP response (got %d bytes: %s)" % (len(got), short(got, 120)))
    head, _, body = got.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    check(m, "bad status line %r" % lines[0])
    hs = []
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hs.append((k.strip(), v.strip()))
    if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in hs):
        body = _dechunk(body)
    return int(m.group(1)), hs, body


def _complete(got):
    head, _, body = got.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if m:
        return len(body) >= int(m.group(1))
    if re.search(rb"(?im)^transfer-encoding:.*chunked", head):
        return body.endswith(b"0\r\n\r\n")
    return False


def _dechunk(b):
    out = b""
    while b:
        line, _, rest = b.partition(b"\r\n")
        try:
            n = int(line.split(b";")[0], 16)
        except ValueError:
            break
        if n == 0:
            break
        out += rest[:n]
        b = rest[n + 2:]
    return out


def expect_status(r, want):
    want = want if isinstance(want, (list, tuple)) else [want]
    check(r.status in want, "want HTTP %s: %s" % ("/".join(map(str, want)), r.what()))


def expect_error(r, status, code=None, field=Ellipsis):
    """The API's error body. code: str or list; field: str, None (no
    field at all) or Ellipsis (not checked)."""
    expect_status(r, status)
    ct = r.header("Content-Type") or ""
    check(ct.startswith("application/json"), "error with Content-Type %r: %s" % (ct, r.what()))
    j = r.json
    check(isinstance(j, dict) and isinstance(j.get("error"), dict),
          "no {\"error\": {...}} object: " + r.what())
    e = j["error"]
    check(isinstance(e.get("code"), str) and SNAKE_RE.match(e["code"]),
          "error.code not a snake_case string: " + r.what())
    check(isinstance(e.get("message"), str) and e["message"].strip(),
          "error.message empty: " + r.what())
    if code is not None:
        codes = code if isinstance(code, (list, tuple)) else [code]
        check(e["code"] in codes, "error.code %r, want %s: %s"
              % (e["code"], "/".join(codes), r.what()))
    if field is None:
        check("field" not in e, "error.field %r given where no field is at fault: %s"
              % (e.get("field"), r.what()))
    elif field is not Ellipsis:
        check(e.get("field") == field, "error.field %r, want %r: %s"
              % (e.get("field"), field, r.what()))
    return e


def match(want, got, path="$"):
    """Subset match; returns None or a description of the first mismatch."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return "%s: want an object, got %s" % (path, short(got, 80))
        for k, v in want.items():
            if k not in got:
                return "%s.%s: missing" % (path, k)
            m = match(v, got[k], "%s.%s" % (path, k))
            if m:
                return m
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return "%s: want %d items, got %s" % (path, len(want), short(got, 120))
        for i, (w, g) in enumerate(zip(want, got)):
            m = match(w, g, "%s[%d]" % (path, i))
            if m:
                return m
        return None
    if isinstance(want, bool) or isinstance(got, bool) or want is None or got is None:
        ok = want is got or (type(want) is type(got) and want == got)
    else:
        ok = want == got
    return None if ok else "%s: want %s, got %s" % (path, short(want, 80), short(got, 120))


def expect_match(want, got, what=""):
    m = match(want, got)
    check(m is None, "%s%s (object: %s)" % (what + ": " if what else "", m, short(got, 500)))


# ------------------------------------------------------------------ submissions

def submit(srv, body, query="", want=202):
    r = req(srv, "POST", "/api/v1/submissions" + query, body)
    expect_status(r, want)
    j = r.json
    check(isinstance(j.get("id"), str) and UUID7_RE.match(j["id"]),
          "id is not a UUIDv7: " + r.what())
    return j["id"], r


def get_sub(srv, sid, query=""):
    r = req(srv, "GET", "/api/v1/submissions/%s%s" % (sid, query))
    expect_status(r, 200)
    return r.json


def wait_status(srv, sid, statuses=("finished",), deadline=120, bad=()):
    if srv.stuck >= 2:
        deadline = min(deadline, 20)  # the server does not finish jobs: fail fast
    end = time.monotonic() + deadline
    o = None
    while True:
        o = get_sub(srv, sid)
        if o.get("status") in statuses:
            return o
        if o.get("status") in bad:
            raise Fail("%s became %s while waiting for %s: %s"
                       % (sid, o.get("status"), "/".join(statuses), short(o, 400)))
        if time.monotonic() > end:
            srv.stuck += 1
            raise Fail("%s still %s after %d s (want %s)"
                       % (sid, o.get("status"), deadline, "/".join(statuses)))
        time.sleep(0.2)


def wait_finished(srv, sid, deadline=120):
    return wait_status(srv, sid, ("finished",), deadline, bad=("cancelled",))


def run_wait(srv, body, query=""):
    """POST ?wait=true; 200 must be finished; a 202 (the server's bound
    came first on a slow machine) is polled to the end."""
    q = "?wait=true" + ("&" + query if query else "")
    r = req(srv, "POST", "/api/v1/submissions" + q, body, timeout=150)
    expect_status(r, (200, 202))
    o = r.json
    check(isinstance(o.get("id"), str), "no id: " + r.what())
    if r.status == 200:
        check(o.get("status") == "finished", "200 for ?wait=true but not finished: " + r.what())
        return o
    check(o.get("status") != "finished", "202 for ?wait=true with a finished object: " + r.what())
    return wait_finished(srv, o["id"])


def available_languages(srv):
    r = req(srv, "GET", "/api/v1/languages")
    expect_status(r, 200)
    return {l.get("id") for l in r.json.get("languages", []) if l.get("available")}


def metrics(srv):
    r = req(srv, "GET", "/metrics")
    expect_status(r, 200)
    out = {}
    for line in r.body.decode("utf-8", "replace").splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if m:
            try:
                out[(m.group(1), m.group(2) or "")] = float(m.group(3))
            except ValueError:
                pass
    return r, out


# ------------------------------------------------------------------ SSE

class SSE:
    def __init__(self, srv, sid, timeout=40):
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
        path = "/api/v1/submissions/%s/events" % sid
        self.conn.request("GET", path, headers={"Accept": "text/event-stream"})
        self.resp = self.conn.getresponse()
        hs = self.resp.getheaders()
        if self.resp.status != 200:
            b = self.resp.read()
            note_response("GET", path, self.resp.status, hs, b)
            raise Fail("GET %s -> %d %s" % (path, self.resp.status, short(b)))
        note_response("GET", path, 200, hs, b"")
        ct = self.resp.getheader("Content-Type") or ""
        check(ct.startswith("text/event-stream"), "events with Content-Type %r" % ct)
        self.ended = False

    def next(self, deadline):
        """The next event as (event, data, id), or None at the end."""
        ev, data, eid = None, [], None
        while True:
            if time.monotonic() > deadline:
                raise Fail("SSE: no complete event before the deadline (so far: event=%s)" % ev)
            try:
                line = self.resp.readline()
            except (socket.timeout, TimeoutError):
                raise Fail("SSE: nothing for %d s" % self.conn.timeout)
            except (OSError, http.client.HTTPException) as e:
                raise Fail("SSE read: %s: %s" % (type(e).__name__, e))
            if not line:
                self.ended = True
                if ev is not None or data:
                    raise Fail("SSE: stream ended inside a frame (event %s)" % ev)
                return None
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            if line == "":
                if ev is None and not data:
                    continue
                text = "\n".join(data)
                try:
                    parsed = json.loads(text)
                except ValueError:
                    raise Fail("SSE %s event data is not JSON: %s" % (ev, short(text)))
                return (ev or "message", parsed, eid)
            if line.startswith(":"):
                continue
            k, _, v = line.partition(":")
            if v.startswith(" "):
                v = v[1:]
            if k == "event":
                ev = v
            elif k == "data":
                data.append(v)
            elif k == "id":
                eid = v

    def all(self, deadline_s=120):
        end = time.monotonic() + deadline_s
        evs = []
        while True:
            e = self.next(end)
            if e is None:
                return evs
            evs.append(e)
            if len(evs) > 1000:
                raise Fail("SSE: over 1000 events")

    def close(self):
        self.conn.close()


# ------------------------------------------------------------------ registry

def registry():
    """A suite's list of (name, fn, timeout) and the decorator that fills
    it: `TESTS, test = registry()`, then `@test("name")` on each test."""
    tests = []

    def test(name, timeout=180):
        def deco(fn):
            tests.append((name, fn, timeout))
            return fn
        return deco
    return tests, test


TESTS, test = registry()


def check_full_object(o, plain=True):
    """The fields of a finished submission object, as docs/api.md lists them."""
    for k in ("id", "status", "verdict", "message", "language", "attempt", "created_at",
              "started_at", "finished_at", "metadata", "callback_url", "output_truncated",
              "compile_output", "compile_output_truncated", "exit_code", "signal", "cpu_ms",
              "wall_ms", "memory_kb", "passed", "total", "compile", "tests"):
        check(k in o, "finished object has no %r: %s" % (k, short(o, 400)))
    check(UUID7_RE.match(o["id"]), "id %r is not a UUIDv7" % o["id"])
    check(o["status"] == "finished", "status %r" % o["status"])
    check(o["verdict"] in VERDICTS, "verdict %r" % o["verdict"])
    check(isinstance(o["message"], str), "message %r" % o["message"])
    for k in ("created_at", "started_at", "finished_at"):
        check(isinstance(o[k], str) and TIME_RE.match(o[k]),
              "%s %r is not RFC 3339 UTC with milliseconds" % (k, o[k]))
    check(o["created_at"] <= o["started_at"] <= o["finished_at"],
          "times out of order: %s %s %s" % (o["created_at"], o["started_at"], o["finished_at"]))
    ce = o["verdict"] == "CE"  # nothing ran: the run's numbers may be null
    for k in ("attempt", "exit_code", "signal", "cpu_ms", "wall_ms", "memory_kb", "passed",
              "total"):
        if ce and o[k] is None and k not in ("attempt", "passed", "total"):
            continue
        check(isinstance(o[k], int) and not isinstance(o[k], bool), "%s %r not an integer"
              % (k, o[k]))
    check(o["attempt"] >= 1, "attempt %r for a finished submission" % o["attempt"])
    for k in ("output_truncated", "compile_output_truncated"):
        check(isinstance(o[k], bool), "%s %r not a boolean" % (k, o[k]))
    check(isinstance(o["compile_output"], str), "compile_output %r" % o["compile_output"])
    c = o["compile"]
    check(isinstance(c, dict) and isinstance(c.get("ok"), bool) and isinstance(
        c.get("cached"), bool) and isinstance(c.get("cpu_ms"), int) and isinstance(
        c.get("wall_ms"), int), "compile %r" % (c,))
    check(isinstance(o["tests"], list), "tests %r" % (o["tests"],))
    if plain:
        if not ce:
            check(isinstance(o["stdout"], str) and isinstance(o["stderr"], str),
                  "plain run: stdout/stderr %r %r" % (o.get("stdout"), o.get("stderr")))
        check(o["passed"] == 0 and o["total"] == 0, "plain run: passed/total %r/%r"
              % (o["passed"], o["total"]))
    else:
        check(o.get("stdout") is None and o.get("stderr") is None,
              "test run: stdout/stderr must be null, got %r %r"
              % (o.get("stdout"), o.get("stderr")))
        check(o["total"] == len(o["tests"]), "total %d but %d tests" % (o["total"],
                                                                         len(o["tests"])))
        for t in o["tests"]:
            for k in ("name", "verdict", "cpu_ms", "wall_ms", "memory_kb", "exit_code", "signal",
                      "message"):
                check(k in t, "test entry without %r: %s" % (k, short(t)))


# ================================================================== shared server

@test("server-starts")
def t_server_starts():
    srv = shared()
    check(srv.port > 0, "port %r" % srv.port)


@test("health")
def t_health():
    srv = shared()
    r = req(srv, "GET", "/health")
    expect_status(r, 200)
    check((r.header("Content-Type") or "").startswith("application/json"),
          "Content-Type %r" % r.header("Content-Type"))
    j = r.json
    check(j.get("status") == "ok", "status: " + r.what())
    check(isinstance(j.get("version"), str) and j["version"], "version: " + r.what())
    check(isinstance(j.get("uptime_s"), (int, float)) and j["uptime_s"] >= 0,
          "uptime_s: " + r.what())


@test("health-ready")
def t_ready():
    srv = shared()
    r = req(srv, "GET", "/health/ready")
    expect_status(r, 200)
    j = r.json
    check(j.get("status") == "ready", "status: " + r.what())
    ch = j.get("checks")
    check(isinstance(ch, dict), "checks: " + r.what())
    for k in ("store", "queue", "sandbox", "languages"):
        check(isinstance(ch.get(k), dict) and ch[k].get("ok") is True,
              "checks.%s not ok: %s" % (k, r.what()))
    check(isinstance(ch["queue"].get("depth"), int), "checks.queue.depth: " + r.what())
    check(isinstance(ch["sandbox"].get("mode"), str) and ch["sandbox"]["mode"],
          "checks.sandbox.mode: " + r.what())
    check(ch["sandbox"].get("slots") == 2, "checks.sandbox.slots %r with --workers 2"
          % ch["sandbox"].get("slots"))
    check(isinstance(ch["languages"].get("available"), int) and ch["languages"]["available"] >= 2,
          "checks.languages.available: " + r.what())


@test("languages")
def t_languages():
    srv = shared()
    r = req(srv, "GET", "/api/v1/languages")
    expect_status(r, 200)
    langs = r.json.get("languages")
    check(isinstance(langs, list) and langs, "languages: " + r.what())
    by = {}
    for l in langs:
        for k in ("id", "name", "version", "aliases", "extensions", "compiled", "available",
                  "limits"):
            check(k in l, "language without %r: %s" % (k, short(l)))
        check(isinstance(l["aliases"], list) and isinstance(l["extensions"], list),
              "aliases/extensions: " + short(l))
        check(isinstance(l["compiled"], bool), "compiled: " + short(l))
        check(l["available"] is True, "unavailable language listed without ?all: " + short(l))
        for kind in ("default", "max"):
            lim = l["limits"].get(kind) if isinstance(l["limits"], dict) else None
            check(isinstance(lim, dict), "limits.%s: %s" % (kind, short(l)))
            for k in ("cpu_ms", "wall_ms", "memory_mb", "processes", "output_kb"):
                check(isinstance(lim.get(k), int) and lim[k] > 0,
                      "%s limits.%s.%s: %r" % (l["id"], kind, k, lim.get(k)))
        by[l["id"]] = l
    for want in ("python", "c"):
        check(want in by, "%s not among %s" % (want, sorted(by)))
    check(by["c"]["compiled"] is True, "c not compiled: " + short(by["c"]))
    check("py" in by["python"]["aliases"] or "python3" in by["python"]["aliases"],
          "python aliases %r" % by["python"]["aliases"])
    with open(os.path.join(REPO, "langs", "python.json")) as f:
        pj = json.load(f)["limits"]
    pl = by["python"]["limits"]
    for kind, src in (("default", "run"), ("max", "max")):
        for k, sk in (("cpu_ms", "cpu_ms"), ("wall_ms", "wall_ms"), ("memory_mb", "memory_mb"),
                      ("processes", "procs"), ("output_kb", "output_kb")):
            check(pl[kind][k] == pj[src][sk], "python limits.%s.%s %r, langs/python.json says %r"
                  % (kind, k, pl[kind][k], pj[src][sk]))


@test("languages-all-and-one")
def t_languages_all():
    srv = shared()
    r = req(srv, "GET", "/api/v1/languages")
    n = len(r.json["languages"])
    ra = req(srv, "GET", "/api/v1/languages?all=true")
    expect_status(ra, 200)
    la = ra.json.get("languages")
    check(isinstance(la, list) and len(la) >= n, "?all=true lists fewer: " + ra.what())
    nfiles = len([f for f in os.listdir(os.path.join(REPO, "langs")) if f.endswith(".json")])
    check(len(la) == nfiles, "?all=true lists %d languages, langs/ has %d" % (len(la), nfiles))
    missing = [l for l in la if l.get("available") is False]
    check(len(la) - len(missing) == n, "?all=true: %d available, the plain list has %d"
          % (len(la) - len(missing), n))
    r1 = req(srv, "GET", "/api/v1/languages/python")
    expect_status(r1, 200)
    check(r1.json.get("id") == "python" and "limits" in r1.json, "one language: " + r1.what())
    r2 = req(srv, "GET", "/api/v1/languages/klingon")
    expect_error(r2, 404, "not_found")


@test("openapi")
def t_openapi():
    srv = shared()
    r = req(srv, "GET", "/openapi.json")
    expect_status(r, 200)
    j = r.json
    check(isinstance(j, dict) and isinstance(j.get("openapi"), str) and j["openapi"].startswith(
        "3."), "openapi key: " + short(r.body, 200))
    paths = j.get("paths")
    check(isinstance(paths, dict), "no paths object")
    check("/api/v1/submissions" in paths, "no /api/v1/submissions among %s"
          % short(sorted(paths), 400))
    check(any(p.startswith("/api/v1/submissions/{") for p in paths),
          "no /api/v1/submissions/{id} path among %s" % short(sorted(paths), 400))


@test("create-202-location")
def t_create():
    srv = shared()
    sid, r = submit(srv, {"language": "python", "source_code": PY_HELLO})
    j = r.json
    check(j.get("status") == "queued", "status: " + r.what())
    loc = r.header("Location")
    check(loc == "/api/v1/submissions/" + sid or (loc or "").endswith("/api/v1/submissions/" + sid),
          "Location %r for %s" % (loc, sid))
    check((r.header("Content-Type") or "").startswith("application/json"),
          "Content-Type %r" % r.header("Content-Type"))
    o = get_sub(srv, sid)
    check(o.get("id") == sid and o.get("status") in STATUSES, "GET: " + short(o))
    o = wait_finished(srv, sid)
    check_full_object(o, plain=True)
    expect_match({"verdict": "OK", "stdout": "Hello, World!\n", "exit_code": 0, "signal": 0,
                  "language": "python", "attempt": 1, "metadata": None, "callback_url": None,
                  "output_truncated": False}, o)


@test("ids-unique")
def t_ids_unique():
    srv = shared()
    ids = set()
    for _ in range(5):
        sid, _ = submit(srv, {"language": "python", "source_code": "pass\n", "execute": False},
                        want=201)
        ids.add(sid)
    check(len(ids) == 5, "ids repeat: %s" % sorted(ids))


@test("execute-false-then-execute")
def t_execute_false():
    srv = shared()
    sid, r = submit(srv, {"language": "python", "source_code": 'print("later")\n',
                          "execute": False}, want=201)
    check(r.json.get("status") == "created", "status: " + r.what())
    time.sleep(0.5)
    o = get_sub(srv, sid)
    expect_match({"status": "created", "verdict": None, "attempt": 0, "started_at": None,
                  "finished_at": None}, o, "a created submission")
    r = req(srv, "POST", "/api/v1/submissions/%s/execute" % sid)
    expect_status(r, 202)
    expect_match({"id": sid, "status": "queued"}, r.json)
    o = wait_finished(srv, sid)
    expect_match({"verdict": "OK", "stdout": "later\n", "attempt": 1}, o)


@test("plain-run-stdin")
def t_stdin():
    srv = shared()
    o = run_wait(srv, {"language": "python", "source_code": PY_AB, "stdin": "3 4\n"})
    check_full_object(o, plain=True)
    expect_match({"verdict": "OK", "stdout": "7\n", "passed": 0, "total": 0, "tests": []}, o)


@test("full-object-tests-run")
def t_full_tests():
    srv = shared()
    o = run_wait(srv, {"language": "python", "source_code": PY_AB, "tests": AB_TESTS})
    check_full_object(o, plain=False)
    expect_match({"verdict": "AC", "passed": 3, "total": 3,
                  "tests": [{"name": "1", "verdict": "AC"}, {"name": "2", "verdict": "AC"},
                            {"name": "3", "verdict": "AC"}]}, o)
    check(o["message"], "message empty for a finished submission")


@test("include-request")
def t_include_request():
    srv = shared()
    body = {"language": "py", "source_code": 'print("r")\n', "stdin": "x\n",
            "limits": {"cpu_ms": 1500}, "metadata": {"k": "v"}, "checker": "exact"}
    o = run_wait(srv, body)
    check("request" not in o or o["request"] is None, "request shown without ?include=request")
    o2 = get_sub(srv, o["id"], "?include=request")
    rq = o2.get("request")
    check(isinstance(rq, dict), "?include=request has no request object: " + short(o2, 300))
    expect_match({"language": "python", "source_code": body["source_code"], "stdin": "x\n",
                  "checker": "exact", "metadata": {"k": "v"}}, rq, "request")
    check(rq.get("limits", {}).get("cpu_ms") == 1500, "request.limits %r" % rq.get("limits"))


@test("metadata-as-given")
def t_metadata():
    srv = shared()
    meta = {"problem": 17, "user": "ana", "tags": ["a", "b"], "nested": {"x": 1.5, "y": None,
                                                                       "z": True}, "é": "ü"}
    sid, _ = submit(srv, {"language": "python", "source_code": "pass\n", "metadata": meta,
                          "callback_url": "https://example.invalid/hook"})
    o = wait_finished(srv, sid)
    check(o.get("metadata") == meta, "metadata %s, sent %s" % (short(o.get("metadata")),
                                                             short(meta)))
    check(o.get("callback_url") == "https://example.invalid/hook",
          "callback_url %r" % o.get("callback_url"))


@test("seed-aliases")
def t_aliases():
    srv = shared()
    o = run_wait(srv, {"language_id": "py", "code": "print(input())\n", "stdin_data": "hi\n",
                       "time_limit_sec": 2.5, "metadata": {"a": 1}})
    expect_match({"verdict": "OK", "stdout": "hi\n", "language": "python",
                  "metadata": {"a": 1}}, o)
    rq = get_sub(srv, o["id"], "?include=request").get("request") or {}
    check(rq.get("limits", {}).get("cpu_ms") == 2500,
          "time_limit_sec 2.5 -> request.limits %r" % rq.get("limits"))
    o = run_wait(srv, {"language_id": "python3", "code": PY_AB,
                       "testcases": [{"stdin": "1 1", "expected": "2"},
                                     {"stdin": "2 2", "expected": "4"}]})
    expect_match({"verdict": "AC", "passed": 2, "total": 2}, o, "testcases/stdin/expected")
    o = run_wait(srv, {"language": "python", "source_code": PY_AB,
                       "test_cases": [{"input": "1 1", "output": "2"},
                                      {"input": "2 2", "output": "5"}]})
    expect_match({"verdict": "WA", "passed": 1, "total": 2}, o, "test_cases/input/output")
    o = run_wait(srv, {"language": "gcc", "source_code": C_HELLO, "input": ""})
    expect_match({"verdict": "OK", "language": "c", "stdout": "Hello, World!\n"}, o, "alias gcc")


@test("wa-one-of-three")
def t_wa():
    srv = shared()
    tests = [dict(t) for t in AB_TESTS]
    tests[1]["expected_output"] = "8\n"
    o = run_wait(srv, {"language": "python", "source_code": PY_AB, "tests": tests})
    check_full_object(o, plain=False)
    expect_match({"verdict": "WA", "passed": 2, "total": 3,
                  "tests": [{"name": "1", "verdict": "AC"}, {"name": "2", "verdict": "WA"},
                            {"name": "3", "verdict": "AC"}]}, o)
    check(o["tests"][1]["message"], "the WA test has no message")


@test("ce-compile-output")
def t_ce():
    srv = shared()
    o = run_wait(srv, {"language": "c", "source_code": C_CE,
                       "tests": [{"input": "", "expected_output": "x"}]})
    expect_match({"verdict": "CE", "compile": {"ok": False}}, o)
    check(isinstance(o.get("compile_output"), str) and o["compile_output"].strip(),
          "CE with an empty compile_output")
    check("error" in o["compile_output"] or "expected" in o["compile_output"],
          "compile_output has no error: " + short(o["compile_output"]))


@test("compile-cache")
def t_cache():
    srv = shared()
    src = C_HELLO.replace("Hello, World!", "cache %s" % secrets.token_hex(4))
    o1 = run_wait(srv, {"language": "c", "source_code": src})
    o2 = run_wait(srv, {"language": "c", "source_code": src})
    check(o1["compile"]["cached"] is False, "first compile of a fresh source cached")
    check(o2["compile"]["cached"] is True, "second compile of the same source not cached")
    check(o1["stdout"] == o2["stdout"], "outputs differ")


@test("utf8-output")
def t_utf8():
    srv = shared()
    o = run_wait(srv, {"language": "python", "source_code": 'print("héllo ✓ 日本")\n'})
    expect_match({"verdict": "OK", "stdout": "héllo ✓ 日本\n"}, o)


@test("wait-timeout-ms")
def t_wait_timeout():
    srv = shared()
    body, marker = sleeper_req(30, "waitms")
    r = req(srv, "POST", "/api/v1/submissions?wait=true&timeout_ms=300", body, timeout=60)
    expect_status(r, 202)
    o = r.json
    check(o.get("status") in ("queued", "running") and o.get("verdict") is None,
          "?timeout_ms=300 with a 30 s sleeper: " + r.what())
    d = req(srv, "DELETE", "/api/v1/submissions/" + o["id"])
    expect_status(d, 200)


@test("list-newest-first")
def t_list():
    srv = shared()
    tag = secrets.token_hex(3)
    ids = []
    for i in range(3):
        sid, _ = submit(srv, {"language": "python", "source_code": "pass\n", "execute": False,
                              "metadata": {"list": tag, "i": i}}, want=201)
        ids.append(sid)
        time.sleep(0.01)
    r = req(srv, "GET", "/api/v1/submissions?page=1&limit=2")
    expect_status(r, 200)
    j = r.json
    expect_match({"page": 1, "limit": 2}, j)
    check(isinstance(j.get("total"), int) and j["total"] >= 3, "total: " + r.what())
    got = [s.get("id") for s in j.get("submissions", [])]
    check(got == [ids[2], ids[1]], "page 1 limit 2: %s, want the newest %s" % (got, ids[:0:-1]))
    for s in j["submissions"]:
        for k in ("id", "status", "verdict", "message", "language", "attempt", "created_at",
                  "started_at", "finished_at", "passed", "total", "cpu_ms", "memory_kb",
                  "metadata"):
            check(k in s, "summary without %r: %s" % (k, short(s)))
    check(j["submissions"][0]["metadata"] == {"list": tag, "i": 2}, "summary metadata %r"
          % j["submissions"][0]["metadata"])
    r2 = req(srv, "GET", "/api/v1/submissions?page=2&limit=2")
    expect_status(r2, 200)
    got2 = [s.get("id") for s in r2.json.get("submissions", [])]
    check(got2 and got2[0] == ids[0], "page 2 limit 2 starts with %s, want %s"
          % (got2[:1], ids[0]))
    d = req(srv, "GET", "/api/v1/submissions")
    expect_status(d, 200)
    expect_match({"page": 1, "limit": 20}, d.json, "defaults")
    check(len(d.json["submissions"]) == min(20, d.json["total"]), "default page size: %d of %d"
          % (len(d.json["submissions"]), d.json["total"]))
    # Every page, end to end: no repeats, nothing missing, newest first.
    total = j["total"]
    seen, stamps, page = [], [], 1
    while True:
        p = req(srv, "GET", "/api/v1/submissions?page=%d&limit=7" % page)
        expect_status(p, 200)
        items = p.json["submissions"]
        if not items:
            break
        seen += [s["id"] for s in items]
        stamps += [s["created_at"] for s in items]
        page += 1
        check(page < 1000, "endless pages")
    check(len(seen) == len(set(seen)), "a submission on two pages")
    check(len(seen) >= total, "pages hold %d submissions, total said %d" % (len(seen), total))
    check(stamps == sorted(stamps, reverse=True), "not newest first across pages")
    far = req(srv, "GET", "/api/v1/submissions?page=9999&limit=100")
    expect_status(far, 200)
    check(far.json.get("submissions") == [], "a page past the end: " + far.what())


@test("batch-mixed")
def t_batch():
    srv = shared()
    items = [{"language": "python", "source_code": 'print("a")\n'},
             {"language": "klingon", "source_code": "x"},
             {"language": "c", "source_code": C_HELLO},
             {"language": "python"},
             {"language": "python", "source_code": "print(1)", "bogus": 1},
             {"language": "python", "source_code": 'print("f")\n', "execute": False}]
    r = req(srv, "POST", "/api/v1/submissions/batch", {"submissions": items})
    expect_status(r, 202)
    res = r.json.get("submissions")
    check(isinstance(res, list) and len(res) == len(items),
          "want %d results: %s" % (len(items), r.what()))
    for i in (0, 2):
        check(isinstance(res[i].get("id"), str) and UUID7_RE.match(res[i]["id"])
              and res[i].get("status") == "queued", "item %d: %s" % (i, short(res[i])))
    for i, st, code, field in ((1, 422, "unknown_language", "language"),
                               (3, 400, "missing_field", "source_code"),
                               (4, 400, "unknown_field", "bogus")):
        e = res[i].get("error")
        # The field relative to the item, or its path in the batch body.
        check(isinstance(e, dict) and res[i].get("status_code") == st and e.get("code") == code
              and e.get("field") in (field, "submissions[%d].%s" % (i, field))
              and e.get("message"),
              "item %d: want error %d %s field %s: %s" % (i, st, code, field, short(res[i])))
        check("id" not in res[i], "refused item %d has an id" % i)
    check(res[5].get("status") == "created" and res[5].get("id"),
          "item 5 (execute false): %s" % short(res[5]))
    o0 = wait_finished(srv, res[0]["id"])
    o2 = wait_finished(srv, res[2]["id"])
    expect_match({"verdict": "OK", "stdout": "a\n", "language": "python"}, o0, "item 0")
    expect_match({"verdict": "OK", "stdout": "Hello, World!\n", "language": "c"}, o2, "item 2")
    check(get_sub(srv, res[5]["id"]).get("status") == "created", "item 5 is not created")


@test("batch-too-many")
def t_batch_101():
    srv = shared()
    items = [{"language": "python", "source_code": "pass\n", "execute": False}] * 101
    r = req(srv, "POST", "/api/v1/submissions/batch", {"submissions": items})
    expect_error(r, (400, 413))


@test("delete-running-kills")
def t_delete_running():
    srv = shared()
    body, marker = sleeper_req(40, "delrun")
    sid, _ = submit(srv, body)
    pids = wait_for("the sleeper's process to appear", lambda: marker_pids(marker), 90)
    uids = {pid_uid(p) for p in pids} - {None}
    check(uids and all(60000 <= u <= 60300 for u in uids),
          "the program runs as uid %s, not a box uid (60000-60300)" % sorted(uids))
    o = get_sub(srv, sid)
    check(o["status"] == "running", "status %r while its program runs" % o["status"])
    r = req(srv, "DELETE", "/api/v1/submissions/" + sid)
    expect_status(r, 200)
    expect_match({"id": sid, "status": "cancelled"}, r.json)
    wait_for("the cancelled program's processes to be gone", lambda: not marker_pids(marker), 5)
    o = wait_status(srv, sid, ("cancelled",), deadline=5)
    time.sleep(1)
    o = get_sub(srv, sid)
    check(o["status"] == "cancelled", "status %r a second after the cancel" % o["status"])


@test("delete-created")
def t_delete_created():
    srv = shared()
    sid, _ = submit(srv, {"language": "python", "source_code": "pass\n", "execute": False},
                    want=201)
    r = req(srv, "DELETE", "/api/v1/submissions/" + sid)
    expect_status(r, 200)
    expect_match({"id": sid, "status": "cancelled"}, r.json)
    check(get_sub(srv, sid)["status"] == "cancelled", "not cancelled")
    r = req(srv, "DELETE", "/api/v1/submissions/" + sid)
    expect_status(r, 204)
    check(r.body == b"", "204 with a body: %s" % short(r.body))
    expect_error(req(srv, "GET", "/api/v1/submissions/" + sid), 404, "not_found", "id")


@test("delete-finished")
def t_delete_finished():
    srv = shared()
    o = run_wait(srv, {"language": "python", "source_code": PY_HELLO})
    sid = o["id"]
    r = req(srv, "DELETE", "/api/v1/submissions/" + sid)
    expect_status(r, 204)
    check(r.body == b"", "204 with a body: %s" % short(r.body))
    expect_error(req(srv, "GET", "/api/v1/submissions/" + sid), 404, "not_found", "id")
    expect_error(req(srv, "DELETE", "/api/v1/submissions/" + sid), 404, "not_found", "id")
    expect_error(req(srv, "POST", "/api/v1/submissions/%s/execute" % sid), 404, "not_found", "id")


@test("reexecute-finished")
def t_reexecute():
    srv = shared()
    o = run_wait(srv, {"language": "python", "source_code": PY_AB, "tests": AB_TESTS})
    check(o["attempt"] == 1, "attempt %r" % o["attempt"])
    first_finish = o["finished_at"]
    r = req(srv, "POST", "/api/v1/submissions/%s/execute" % o["id"])
    expect_status(r, 202)
    expect_match({"id": o["id"], "status": "queued"}, r.json)
    o2 = get_sub(srv, o["id"])
    if o2["status"] != "finished":
        check(o2["verdict"] is None, "verdict %r kept while re-running" % o2["verdict"])
    o2 = wait_finished(srv, o["id"])
    expect_match({"verdict": "AC", "passed": 3, "total": 3, "attempt": 2}, o2)
    check(o2["finished_at"] >= first_finish, "finished_at went back")
    req(srv, "POST", "/api/v1/submissions/%s/execute" % o["id"])
    o3 = wait_finished(srv, o["id"])
    expect_match({"verdict": "AC", "attempt": 3}, o3)


@test("reexecute-cancelled")
def t_reexecute_cancelled():
    srv = shared()
    sid, _ = submit(srv, {"language": "python", "source_code": 'print("back")\n',
                          "execute": False}, want=201)
    expect_status(req(srv, "DELETE", "/api/v1/submissions/" + sid), 200)
    r = req(srv, "POST", "/api/v1/submissions/%s/execute" % sid)
    expect_status(r, 202)
    o = wait_finished(srv, sid)
    expect_match({"verdict": "OK", "stdout": "back\n", "attempt": 1}, o)


@test("execute-conflict-running")
def t_conflict_running():
    srv = shared()
    body, marker = sleeper_req(40, "conflict")
    sid, _ = submit(srv, body)
    wait_status(srv, sid, ("running",), deadline=90, bad=("finished", "cancelled"))
    r = req(srv, "POST", "/api/v1/submissions/%s/execute" % sid)
    expect_error(r, 409, "conflict")
    expect_status(req(srv, "DELETE", "/api/v1/submissions/" + sid), 200)
    wait_for("the sleeper's processes to be gone", lambda: not marker_pids(marker), 10)


@test("id-routes-404")
def t_404_ids():
    srv = shared()
    for m, p in (("GET", "/api/v1/submissions/" + NO_ID),
                 ("DELETE", "/api/v1/submissions/" + NO_ID),
                 ("POST", "/api/v1/submissions/%s/execute" % NO_ID),
                 ("GET", "/api/v1/submissions/%s/events" % NO_ID),
                 ("GET", "/api/v1/submissions/not-a-uuid")):
        expect_error(req(srv, m, p), 404, "not_found", "id")
    # A segment far longer than any id may count as an unknown route.
    expect_error(req(srv, "GET", "/api/v1/submissions/" + "f" * 300), 404, "not_found")


@test("method-not-allowed")
def t_405():
    srv = shared()
    sid, _ = submit(srv, {"language": "python", "source_code": "pass\n", "execute": False},
                    want=201)
    for m, p, allow in (("PUT", "/api/v1/submissions", "POST"),
                        ("DELETE", "/api/v1/submissions", "GET"),
                        ("PATCH", "/api/v1/submissions/" + sid, "GET"),
                        ("PUT", "/api/v1/submissions/" + sid, "DELETE"),
                        ("GET", "/api/v1/submissions/%s/execute" % sid, "POST"),
                        ("GET", "/api/v1/submissions/batch", "POST"),
                        ("POST", "/api/v1/languages", "GET"),
                        ("DELETE", "/health", "GET"),
                        ("POST", "/metrics", "GET"),
                        ("POST", "/openapi.json", "GET")):
        r = req(srv, m, p, raw="{}" if m in ("POST", "PUT", "PATCH") else None)
        if p.endswith("/batch") and r.status == 404:
            continue  # "batch" read as an id is fair
        expect_error(r, 405, "method_not_allowed")
        a = r.header("Allow") or ""
        check(allow in [x.strip() for x in a.split(",")], "%s %s: Allow %r lacks %s"
              % (m, p, a, allow))


@test("too-large-source")
def t_too_large_source():
    srv = shared()
    r = req(srv, "POST", "/api/v1/submissions",
            {"language": "python", "source_code": "#" * (1024 * 1024 + 1)})
    expect_error(r, 413, "too_large", "source_code")
    r = req(srv, "POST", "/api/v1/submissions",
            {"language": "python", "source_code": "#" * (1024 * 1024 - 1), "execute": False})
    expect_status(r, 201)


@test("too-many-tests")
def t_too_many_tests():
    srv = shared()
    tests = [{"input": "", "expected_output": ""}] * 1001
    r = req(srv, "POST", "/api/v1/submissions",
            {"language": "python", "source_code": "pass", "tests": tests})
    expect_error(r, 413, "too_large", "tests")
    r = req(srv, "POST", "/api/v1/submissions",
            {"language": "python", "source_code": "pass", "tests": tests[:1000],
             "execute": False})
    expect_status(r, 201)


@test("body-over-cap-default")
def t_body_cap_default():
    srv = shared()
    n = 16 * 1024 * 1024 + 4096
    head = b'{"language": "python", "source_code": "'
    tail = b'"}'
    fill = n - len(head) - len(tail)
    hdr = ("POST /api/v1/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
           % n).encode()
    chunk = b"#" * (1 << 20)
    chunks = [head] + [chunk] * (fill // len(chunk)) + [b"#" * (fill % len(chunk)), tail]
    st, hs, body = raw_http(srv, hdr, chunks, timeout=120)
    note_response("POST", "/api/v1/submissions (16 MiB+)", st, hs, body)
    r = Resp("POST", "/api/v1/submissions (16 MiB+)", st, hs, body)
    expect_error(r, 413, "body_too_large")


@test("language-unavailable")
def t_unavailable():
    srv = shared()
    r = req(srv, "GET", "/api/v1/languages?all=true")
    missing = [l["id"] for l in r.json.get("languages", []) if l.get("available") is False]
    if not missing:
        raise Skip("every language of langs/ is installed here")
    r = req(srv, "POST", "/api/v1/submissions", {"language": missing[0], "source_code": "x"})
    expect_error(r, 422, "language_unavailable", "language")


@test("garbage-connections")
def t_garbage():
    srv = shared()
    for data in (b"\x00\xff\x13garbage\r\n\r\n", b"GET\r\n\r\n", b"HELLO / HTTP/9.9\r\n\r\n",
                 b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                 b"POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"):
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
            s.close()
        except OSError:
            pass
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.close()  # connect and go
    time.sleep(0.3)
    check(srv.alive(), "the server died of a malformed request")
    expect_status(req(srv, "GET", "/health"), 200)


@test("concurrent-waits")
def t_concurrent():
    srv = shared()
    n = 8
    out = [None] * n

    def one(i):
        try:
            out[i] = run_wait(srv, {"language": "python",
                                    "source_code": "print(%d * %d)\n" % (i, i)})
        except Exception as e:  # noqa: BLE001 - reported below
            out[i] = e
    th = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in th:
        t.start()
    for t in th:
        t.join(200)
    for i, o in enumerate(out):
        check(not isinstance(o, Exception), "request %d: %s" % (i, o))
        check(o is not None, "request %d did not return" % i)
        expect_match({"verdict": "OK", "stdout": "%d\n" % (i * i)}, o, "request %d" % i)
    check(len({o["id"] for o in out}) == n, "ids repeat")


# ------------------------------------------------------------------ SSE

@test("sse-live", timeout=150)
def t_sse_live():
    srv = shared()
    src = ("import time\ntime.sleep(2)\na, b = map(int, input().split())\nprint(a + b)\n")
    sid, _ = submit(srv, {"language": "python", "source_code": src, "tests": AB_TESTS})
    ev = SSE(srv, sid)
    try:
        evs = ev.all(120)
    finally:
        ev.close()
    names = [e[0] for e in evs]
    check(evs, "no events")
    check(names[0] == "status", "first event %r, want status (events %s)" % (names[0], names))
    first = evs[0][1]
    check(first.get("id") == sid, "first status event for id %r" % first.get("id"))
    check(first.get("status") in ("queued", "running"),
          "first status %r: connected too late to see a live stream?" % first.get("status"))
    check(first.get("verdict") is None, "verdict %r before the end" % first.get("verdict"))
    check(names[-1] == "result", "last event %r, want result (events %s)" % (names[-1], names))
    check(names.count("result") == 1, "result events: %s" % names)
    tests = [e[1] for e in evs if e[0] == "test"]
    check(len(tests) == 3, "%d test events, want 3 (events %s)" % (len(tests), names))
    check(sorted(t.get("index") for t in tests) == [0, 1, 2],
          "test indexes %s" % [t.get("index") for t in tests])
    for t in tests:
        for k in ("index", "name", "verdict", "cpu_ms", "wall_ms", "memory_kb", "exit_code",
                  "signal", "message"):
            check(k in t, "test event without %r: %s" % (k, short(t)))
        check(t["verdict"] == "AC", "test event verdict %r" % t["verdict"])
    check({t["name"] for t in tests} == {"1", "2", "3"}, "test names %s"
          % [t["name"] for t in tests])
    check(set(names) <= {"status", "test", "result"}, "unexpected events %s" % names)
    i_first_test = names.index("test")
    check(all(n == "status" for n in names[:i_first_test]), "events %s" % names)
    res = evs[-1][1]
    expect_match({"id": sid, "status": "finished", "verdict": "AC", "passed": 3, "total": 3}, res,
                 "result event")
    check(isinstance(res.get("tests"), list) and len(res["tests"]) == 3,
          "result event is not the full object")
    check(ev.ended, "stream did not end")


@test("sse-frame-ids")
def t_sse_ids():
    """Every frame, the first (current state) included, has `id: N`, N
    increasing (the frame layout of docs/api.md)."""
    srv = shared()
    src = "import time\ntime.sleep(1)\nprint(input())\n"
    sid, _ = submit(srv, {"language": "python", "source_code": src,
                          "tests": [{"input": "1", "expected_output": "1"}]})
    ev = SSE(srv, sid)
    try:
        evs = ev.all(120)
    finally:
        ev.close()
    ids = [e[2] for e in evs]
    desc = ["%s:%s" % (e[0], e[2]) for e in evs]
    check(all(i is not None for i in ids), "frames without an id line: %s" % desc)
    try:
        nums = [int(i) for i in ids]
    except ValueError:
        raise Fail("event ids not numbers: %s" % desc)
    check(nums == sorted(nums) and len(set(nums)) == len(nums), "event ids %s" % desc)


@test("sse-late")
def t_sse_late():
    srv = shared()
    o = run_wait(srv, {"language": "python", "source_code": PY_AB, "tests": AB_TESTS[:2]})
    ev = SSE(srv, o["id"])
    try:
        evs = ev.all(30)
    finally:
        ev.close()
    check([e[0] for e in evs] == ["result"], "late client got %s, want one result"
          % [e[0] for e in evs])
    expect_match({"id": o["id"], "status": "finished", "verdict": "AC", "passed": 2}, evs[0][1])


@test("sse-cancel")
def t_sse_cancel():
    srv = shared()
    body, marker = sleeper_req(40, "ssecancel")
    sid, _ = submit(srv, body)
    wait_status(srv, sid, ("running",), deadline=90, bad=("finished", "cancelled"))
    ev = SSE(srv, sid)
    try:
        e0 = ev.next(time.monotonic() + 30)
        check(e0 and e0[0] == "status" and e0[1].get("status") == "running",
              "first event %s" % (short(e0) if e0 else None))
        expect_status(req(srv, "DELETE", "/api/v1/submissions/" + sid), 200)
        rest = ev.all(30)
    finally:
        ev.close()
    check(rest, "no event after the cancel")
    last = rest[-1]
    check(last[1].get("status") == "cancelled" and last[0] in ("status", "result"),
          "last event %s %s, want status cancelled" % (last[0], short(last[1], 200)))
    wait_for("the sleeper's processes to be gone", lambda: not marker_pids(marker), 10)


def register_cases():
    if not os.path.isdir(CASES_DIR):
        return
    for fn in sorted(os.listdir(CASES_DIR)):
        if not fn.endswith(".json"):
            continue
        path = os.path.join(CASES_DIR, fn)
        name = "case/" + fn[:-5]

        def run(path=path):
            with open(path, encoding="utf-8") as f:
                c = json.load(f)
            run_case(c)
        TESTS.append((name, run, 150))


def run_case(c):
    srv = shared()
    for lang in c.get("requires", []):
        if lang not in available_languages(srv):
            raise Skip("%s is not installed here" % lang)
    path = c["path"]
    wait = c.get("wait", False)
    if wait:
        path += ("&" if "?" in path else "?") + "wait=true"
    kw = {}
    if "raw_base64" in c:
        import base64
        kw["raw"] = base64.b64decode(c["raw_base64"])
    elif "raw" in c:
        kw["raw"] = c["raw"]
    elif "body" in c:
        kw["body"] = c["body"]
    r = req(srv, c.get("method", "GET"), path, headers=c.get("headers"), timeout=150, **kw)
    obj = None
    if wait and r.status in (200, 202) and "expect_error_code" not in c:
        o = r.json
        if r.status == 202 and o.get("status") != "finished":
            o = wait_finished(srv, o["id"])
            obj = o
        else:
            check(r.status == 200 and o.get("status") == "finished",
                  "?wait=true: 202 with a finished object, or 200 unfinished: " + r.what())
            obj = o
    else:
        if "expect_status" in c:
            expect_status(r, c["expect_status"])
        if "expect_error_code" in c or "expect_field" in c or (r.status >= 400 and r.body):
            field = c["expect_field"] if "expect_field" in c else Ellipsis
            expect_error(r, r.status, c.get("expect_error_code"), field)
        obj = r.json if r.body else None
    for k, v in (c.get("expect_headers") or {}).items():
        h = r.header(k)
        check(h is not None, "no %s header: %s" % (k, r.what()))
        if v is not None:
            check(h == v, "%s: %r, want %r" % (k, h, v))
    if "expect" in c:
        expect_match(c["expect"], obj)
    for k, v in (c.get("expect_equal") or {}).items():
        check(isinstance(obj, dict) and obj.get(k) == v,
              "%s: %s, want exactly %s" % (k, short(obj.get(k) if isinstance(obj, dict) else obj),
                                         short(v)))
    for k in c.get("expect_nonempty", []):
        v = obj.get(k) if isinstance(obj, dict) else None
        check(isinstance(v, str) and v.strip(), "%s empty: %s" % (k, short(v)))
    if isinstance(obj, dict) and obj.get("status") == "finished":
        check_full_object(obj, plain=not obj.get("tests") and obj.get("total") == 0)


register_cases()


@test("metrics-after-runs")
def t_metrics():
    srv = shared()
    r, m = metrics(srv)
    ct = r.header("Content-Type") or ""
    check(ct.startswith("text/plain"), "Content-Type %r" % ct)
    check("version=0.0.4" in ct.replace(" ", ""), "Content-Type %r lacks version=0.0.4" % ct)
    names = {k[0] for k in m}
    want = ["verdict_queue_depth", "verdict_running", "verdict_workers",
            "verdict_submissions_total", "verdict_submissions_created_total",
            "verdict_judge_duration_seconds_bucket", "verdict_judge_duration_seconds_sum",
            "verdict_judge_duration_seconds_count", "verdict_sandbox_mode",
            "verdict_http_requests_total", "verdict_uptime_seconds"]
    missing = [w for w in want if w not in names]
    check(not missing, "metrics missing: %s" % missing)
    check(m.get(("verdict_workers", "")) == 2, "verdict_workers %r" % m.get(("verdict_workers",
                                                                            "")))
    by_v = {k[1]: v for k, v in m.items() if k[0] == "verdict_submissions_total"}
    for v in ("OK", "AC", "WA", "CE"):
        check(by_v.get('{verdict="%s"}' % v, 0) >= 1,
              "verdict_submissions_total{verdict=\"%s\"} after such runs: %s" % (v, by_v))
    check(m.get(("verdict_submissions_created_total", ""), 0) >= 20,
          "verdict_submissions_created_total %r" % m.get(("verdict_submissions_created_total", "")))
    check(m.get(("verdict_judge_duration_seconds_count", ""), 0) >= 10, "judge count %r"
          % m.get(("verdict_judge_duration_seconds_count", "")))
    inf = [v for k, v in m.items() if k[0] == "verdict_judge_duration_seconds_bucket"
           and 'le="+Inf"' in k[1]]
    check(inf and inf[0] == m.get(("verdict_judge_duration_seconds_count", "")),
          "+Inf bucket %s vs count" % inf)
    check(m.get(("verdict_http_requests_total", '{code="200"}'), 0) >= 1,
          "verdict_http_requests_total{code=\"200\"} missing or 0")
    check(any(k[0] == "verdict_http_requests_total" and '"404"' in k[1] for k in m),
          "no verdict_http_requests_total{code=\"404\"} after 404s")
    check(any(k[0] == "verdict_sandbox_mode" and v == 1 for k, v in m.items()),
          "no verdict_sandbox_mode{mode=...} 1")
    depth = m.get(("verdict_queue_depth", ""))
    check(depth is not None and depth >= 0, "verdict_queue_depth %r" % depth)


@test("request-ids")
def t_request_ids():
    srv = shared()
    ids = []
    for m, p in (("GET", "/health"), ("GET", "/health"), ("GET", "/nope"),
                 ("POST", "/api/v1/submissions"), ("PUT", "/health/ready"),
                 ("GET", "/metrics"), ("GET", "/openapi.json")):
        r = req(srv, m, p, raw="" if m == "POST" else None)
        ids.append(r.header("X-Request-Id"))
    check(all(ids), "responses without X-Request-Id: %s" % ids)
    check(len(set(ids)) == len(ids), "X-Request-Id repeats: %s" % ids)


# ================================================================== dedicated servers

def sleeper_cleanup(srv, ids):
    for sid in ids:
        try:
            req(srv, "DELETE", "/api/v1/submissions/" + sid, timeout=20)
        except Fail:
            pass


@test("w1-queued-conflict-cancel", timeout=180)
def t_w1():
    srv = dedicated("w1", 1, {})
    a_body, a_marker = sleeper_req(40, "w1a")
    a, _ = submit(srv, a_body)
    try:
        wait_status(srv, a, ("running",), deadline=90, bad=("finished", "cancelled"))
        b, _ = submit(srv, {"language": "python", "source_code": 'print("b")\n'})
        time.sleep(0.5)
        ob = get_sub(srv, b)
        check(ob["status"] == "queued", "second submission %r with one busy worker"
              % ob["status"])
        expect_error(req(srv, "POST", "/api/v1/submissions/%s/execute" % b), 409, "conflict")
        expect_error(req(srv, "POST", "/api/v1/submissions/%s/execute" % a), 409, "conflict")
        r = req(srv, "GET", "/health/ready")
        expect_status(r, 200)
        check(r.json.get("checks", {}).get("queue", {}).get("depth") == 1,
              "queue depth with one queued: " + r.what())
        r = req(srv, "DELETE", "/api/v1/submissions/" + b)
        expect_status(r, 200)
        expect_match({"id": b, "status": "cancelled"}, r.json)
        ob = get_sub(srv, b)
        expect_match({"status": "cancelled", "attempt": 0, "started_at": None}, ob,
                     "a cancelled queued one")
        r = req(srv, "DELETE", "/api/v1/submissions/" + a)
        expect_status(r, 200)
        wait_for("the running sleeper's processes to be gone",
                 lambda: not marker_pids(a_marker), 5)
        wait_status(srv, a, ("cancelled",), deadline=5)
        time.sleep(1)
        ob = get_sub(srv, b)
        check(ob["status"] == "cancelled" and ob["attempt"] == 0,
              "the cancelled queued one ran anyway: %s" % short(ob, 200))
        # A cancelled one runs again on request.
        expect_status(req(srv, "POST", "/api/v1/submissions/%s/execute" % b), 202)
        ob = wait_finished(srv, b)
        expect_match({"verdict": "OK", "stdout": "b\n", "attempt": 1}, ob)
    finally:
        sleeper_cleanup(srv, [a])


@test("queue-full-503", timeout=240)
def t_queue_full():
    srv = dedicated("qfull", 1, {"VERDICT_QUEUE_MAX": 2})
    accepted, statuses, refusals = [], [], []
    try:
        for i in range(6):
            body, _ = sleeper_req(40, "qf%d" % i)
            r = req(srv, "POST", "/api/v1/submissions", body)
            statuses.append(r.status)
            if r.status == 202:
                accepted.append(r.json["id"])
            elif r.status == 503:
                refusals.append(r)
            else:
                raise Fail("submission %d: want 202 or 503: %s" % (i, r.what()))
            if i == 0:
                wait_status(srv, r.json["id"], ("running",), deadline=90,
                            bad=("finished", "cancelled"))
        # queue_max 2 with one worker: the running one plus two queued
        # (or two in all, if the server counts the running one); never more.
        k = statuses.index(503) if 503 in statuses else len(statuses)
        check(2 <= k <= 3 and all(x == 503 for x in statuses[k:]),
              "statuses %s: want 202 for two or three, then 503 (queue_max 2)" % statuses)
        for r in refusals:
            expect_error(r, 503, "queue_full")
            ra = r.header("Retry-After")
            check(ra is not None and ra.strip().isdigit() and int(ra) >= 1,
                  "Retry-After %r" % ra)
        # Batch and ?wait=true are refused the same way.
        r = req(srv, "POST", "/api/v1/submissions?wait=true", sleeper_req(40, "qfw")[0])
        expect_error(r, 503, "queue_full")
        r = req(srv, "GET", "/health")
        expect_status(r, 200)
        # Room again once the queued ones are cancelled.
        sleeper_cleanup(srv, accepted)
        for sid in accepted:
            wait_status(srv, sid, ("cancelled",), deadline=10)
        o = run_wait(srv, {"language": "python", "source_code": 'print("room")\n'})
        expect_match({"verdict": "OK", "stdout": "room\n"}, o)
    finally:
        sleeper_cleanup(srv, accepted)


@test("queue-full-batch", timeout=240)
def t_queue_full_batch():
    srv = dedicated("qfull", 1, {"VERDICT_QUEUE_MAX": 2})
    items = [sleeper_req(40, "qfb%d" % i)[0] for i in range(5)]
    r = req(srv, "POST", "/api/v1/submissions/batch", {"submissions": items})
    ids = []
    try:
        if r.status == 503:
            expect_error(r, 503, "queue_full")
            return
        expect_status(r, 202)
        res = r.json.get("submissions", [])
        check(len(res) == 5, "results: " + r.what())
        ids = [x["id"] for x in res if "id" in x]
        full = [x for x in res if "error" in x]
        check(len(ids) <= 3, "%d accepted past queue_max 2 with one worker" % len(ids))
        for x in full:
            check(x.get("status_code") == 503 and x["error"].get("code") == "queue_full",
                  "refused item: %s" % short(x))
        check(len(ids) + len(full) == 5, "results: " + r.what())
    finally:
        sleeper_cleanup(srv, ids)


@test("small-wait-max", timeout=120)
def t_wait_max():
    srv = dedicated("small", 2, {"VERDICT_WAIT_MAX_MS": 1000, "VERDICT_BODY_MAX_KB": 64,
                                 "VERDICT_SOURCE_MAX_KB": 8, "VERDICT_TESTS_MAX": 5})
    ids = []
    try:
        for q in ("?wait=true", "?wait=true&timeout_ms=600000"):
            body, _ = sleeper_req(30, "wm")
            r = req(srv, "POST", "/api/v1/submissions" + q, body, timeout=60)
            expect_status(r, 202)
            o = r.json
            ids.append(o.get("id"))
            check(o.get("status") in ("queued", "running") and o.get("verdict") is None,
                  "%s with wait_max_ms 1000 and a 30 s sleeper: %s" % (q, r.what()))
            check("created_at" in o and "attempt" in o, "202 of ?wait=true is not the object "
                  "as it stands: " + r.what())
    finally:
        sleeper_cleanup(srv, [i for i in ids if i])


@test("small-caps", timeout=120)
def t_caps():
    srv = dedicated("small", 2, {"VERDICT_WAIT_MAX_MS": 1000, "VERDICT_BODY_MAX_KB": 64,
                                 "VERDICT_SOURCE_MAX_KB": 8, "VERDICT_TESTS_MAX": 5})
    r = req(srv, "POST", "/api/v1/submissions", {"language": "python",
                                                   "source_code": "#" * (8 * 1024 + 1)})
    expect_error(r, 413, "too_large", "source_code")
    r = req(srv, "POST", "/api/v1/submissions", {"language": "python", "execute": False,
                                                   "source_code": "#" * (8 * 1024 - 10)})
    expect_status(r, 201)
    tests = [{"input": "", "expected_output": ""}] * 6
    r = req(srv, "POST", "/api/v1/submissions", {"language": "python", "source_code": "pass",
                                                   "tests": tests})
    expect_error(r, 413, "too_large", "tests")
    r = req(srv, "POST", "/api/v1/submissions", {"language": "python", "source_code": "pass",
                                                   "tests": tests[:5], "execute": False})
    expect_status(r, 201)
    r = req(srv, "POST", "/api/v1/submissions",
            {"language": "python", "source_code": "pass", "stdin": "x" * (100 * 1024)})
    expect_error(r, 413, "body_too_large")
    r = req(srv, "POST", "/api/v1/submissions/batch",
            {"submissions": [{"language": "python", "source_code": "#" * 9000}] * 10})
    expect_error(r, 413, "body_too_large")
    # A body far over the cap, sent while the server may stop reading.
    n = 4 * 1024 * 1024
    hdr = ("POST /api/v1/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
           "application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % n).encode()
    st, hs, body = raw_http(srv, hdr, [b" " * (1 << 20)] * 4)
    note_response("POST", "/api/v1/submissions (4 MiB)", st, hs, body)
    expect_error(Resp("POST", "/api/v1/submissions (4 MiB)", st, hs, body), 413,
                 "body_too_large")
    check(srv.alive(), "server died")
    expect_status(req(srv, "GET", "/health"), 200)


@test("retention-sweep", timeout=120)
def t_retention():
    srv = dedicated("retention", 2, {"VERDICT_RETENTION_S": 1})
    keep, _ = submit(srv, {"language": "python", "source_code": "pass\n", "execute": False},
                     want=201)
    o = run_wait(srv, {"language": "python", "source_code": PY_HELLO})
    sid = o["id"]
    end = time.monotonic() + 60
    while True:
        r = req(srv, "GET", "/api/v1/submissions/" + sid)
        if r.status == 404:
            expect_error(r, 404, "not_found", "id")
            break
        expect_status(r, 200)
        if time.monotonic() > end:
            raise Fail("a finished submission still there 60 s after it finished with "
                       "retention_s 1")
        time.sleep(0.5)
    r = req(srv, "GET", "/api/v1/submissions/" + keep)
    expect_status(r, 200)
    check(r.json.get("status") == "created", "the created one: " + r.what())


@test("kill9-nothing-lost", timeout=420)
def t_crash():
    srv = Server("crash", workers=1)
    try:
        srv.start()
        body, marker = sleeper_req(4, "crash")
        body["source_code"] = ("import time\ntime.sleep(4)\nprint('slept')\n")
        s0, _ = submit(srv, body)
        wait_status(srv, s0, ("running",), deadline=90, bad=("finished", "cancelled"))
        wa_tests = [dict(t) for t in AB_TESTS]
        wa_tests[2]["expected_output"] = "31\n"
        jobs = [({"language": "python", "source_code": 'print("one")\n'},
                 {"verdict": "OK", "stdout": "one\n"}),
                ({"language": "c", "source_code": C_HELLO},
                 {"verdict": "OK", "stdout": "Hello, World!\n"}),
                ({"language": "python", "source_code": PY_AB, "tests": wa_tests},
                 {"verdict": "WA", "passed": 2, "total": 3}),
                ({"language": "python", "source_code": PY_RE}, {"verdict": "RE"}),
                ({"language": "python", "source_code": PY_AB, "stdin": "20 22\n"},
                 {"verdict": "OK", "stdout": "42\n"})]
        ids = []
        for b, _ in jobs:
            sid, _ = submit(srv, b)
            ids.append(sid)
        o0 = get_sub(srv, s0)
        check(o0["status"] == "running", "the sleeper is %s before the kill" % o0["status"])
        srv.kill9()
        srv.start()
        o0 = wait_finished(srv, s0, deadline=180)
        expect_match({"verdict": "OK", "stdout": "slept\n", "attempt": 2}, o0,
                     "the one running at the kill")
        for sid, (_, want) in zip(ids, jobs):
            o = wait_finished(srv, sid, deadline=180)
            want = dict(want, attempt=1)
            expect_match(want, o, "queued at the kill")
        time.sleep(2)
        for sid in [s0] + ids:
            o = get_sub(srv, sid)
            check(o["status"] == "finished" and o["attempt"] == (2 if sid == s0 else 1),
                  "%s changed after the end: %s" % (sid, short(o, 200)))
        _, m = metrics(srv)
        runs = sum(v for k, v in m.items() if k[0] == "verdict_submissions_total")
        check(runs == 6, "the restarted server counts %s judged submissions, want 6 (each "
              "exactly once)" % runs)
        r = req(srv, "GET", "/api/v1/submissions?limit=100")
        check(r.json.get("total") == 6, "total %r, want 6" % r.json.get("total"))
    finally:
        srv.stop()


@test("sigterm-graceful", timeout=120)
def t_sigterm():
    srv = shared()
    res = srv.stop(60)
    check(res is not None, "not running")
    rc, secs = res
    check(rc == 0, "exit status %r after SIGTERM (stderr: %s)" % (rc, short(srv.log_tail(), 300)))


@test("no-5xx-anywhere")
def t_no_5xx():
    check(not SEEN_5XX, "%d answers of 500 and the like: %s" % (len(SEEN_5XX),
                                                              "; ".join(SEEN_5XX[:5])))


@test("x-request-id-everywhere")
def t_rid_everywhere():
    check(not NO_REQUEST_ID, "%d responses without X-Request-Id, e.g. %s"
          % (len(NO_REQUEST_ID), "; ".join(NO_REQUEST_ID[:5])))


# ================================================================== runner

def run_one(name, fn, timeout):
    box = {}

    def target():
        try:
            fn()
            box["r"] = ("ok", "")
        except Skip as e:
            box["r"] = ("skip", str(e))
        except Fail as e:
            box["r"] = ("FAIL", str(e))
        except Exception as e:  # noqa: BLE001 - a bug of the test is a failure too
            box["r"] = ("FAIL", "%s: %s" % (type(e).__name__, e))
            box["tb"] = traceback.format_exc()

    t = threading.Thread(target=target, daemon=True, name=name)
    t.start()
    t.join(timeout)
    if t.is_alive():
        return ("FAIL", "timed out after %d s" % timeout), None
    return box.get("r", ("FAIL", "no result")), box.get("tb")


def cleanup():
    for s in list(SERVERS):
        try:
            s.stop(15)
        except Exception:  # noqa: BLE001
            pass
    # Sleepers of this run a killed server left behind (by pid, marked).
    for p in marker_pids(RUN):
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def run_main(doc, all_tests, tmp_prefix, log_glob):
    """A suite's whole main: options, then every test chosen, one line each,
    and the summary line last. test_auth.py runs its tests through it too
    (with this module's servers, VERDICT and TMP)."""
    global ARGS, VERDICT, TMP
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--verdict", help="the verdict binary")
    ap.add_argument("--tmp", help="a scratch directory (default: a new one under /tmp)")
    ap.add_argument("--only", action="append", default=[], help="run tests whose name has this")
    ap.add_argument("--list", action="store_true", help="list the tests and exit")
    ap.add_argument("--skip-all", metavar="REASON", help="report every test skipped")
    ap.add_argument("-v", "--verbose", action="store_true", help="tracebacks of failures")
    ARGS = ap.parse_args()
    tests = [t for t in all_tests if not ARGS.only or any(o in t[0] for o in ARGS.only)]
    if ARGS.list:
        for t in tests:
            print(t[0])
        return 0
    passed = failed = skipped = 0
    if ARGS.skip_all:
        for t in tests:
            print("skip %s: %s" % (t[0], ARGS.skip_all))
        print("0 passed, 0 failed, %d skipped" % len(tests))
        return 0
    if not ARGS.verdict:
        ap.error("--verdict is required")
    VERDICT = os.path.realpath(ARGS.verdict)
    if not os.access(VERDICT, os.X_OK):
        print("%s: %s is not an executable" % (sys.argv[0], ARGS.verdict), file=sys.stderr)
        return 2
    if ARGS.tmp:
        TMP = os.path.realpath(ARGS.tmp)
        os.makedirs(TMP, exist_ok=True)
    else:
        import tempfile
        TMP = tempfile.mkdtemp(prefix=tmp_prefix)
    os.chmod(TMP, 0o755)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    t0 = time.monotonic()
    try:
        for name, fn, timeout in tests:
            (kind, why), tb = run_one(name, fn, timeout)
            if kind == "ok":
                passed += 1
                print("ok " + name, flush=True)
            elif kind == "skip":
                skipped += 1
                print("skip %s: %s" % (name, why), flush=True)
            else:
                failed += 1
                print("FAIL %s: %s" % (name, why.replace("\n", " ")), flush=True)
                if ARGS.verbose and tb:
                    sys.stderr.write("".join("# " + ln + "\n" for ln in tb.splitlines()))
                    sys.stderr.flush()
    except KeyboardInterrupt:
        print("# interrupted", flush=True)
        failed += 1
    finally:
        cleanup()
        backend_cleanup(failed == 0)
    print("# %d s; backend %s; servers' databases and stderr logs under %s/%s/%s"
          % (time.monotonic() - t0, backend_name(), TMP, log_glob,
             " (kept: something failed)" if failed else ""), flush=True)
    if skipped:
        print("%d passed, %d failed, %d skipped" % (passed, failed, skipped), flush=True)
    else:
        print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


def main():
    return run_main(__doc__, TESTS, "verdict-integration.", "srv-*")


if __name__ == "__main__":
    sys.exit(main())
