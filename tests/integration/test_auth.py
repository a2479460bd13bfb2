#!/usr/bin/env python3
"""test_auth.py - the integration suite of who is calling: API keys (signed
and bearer), users and JWTs, ownership, rate limits, IP allow-lists, signed
webhooks and code sessions, over real HTTP (the spec: docs/api.md and its
authentication sections).

Usage: test_auth.py --verdict BUILD/verdict [--tmp DIR] [--only SUBSTR]...
                    [--list] [--skip-all REASON] [-v]

It reuses test_api.py's harness (imported as a module: its Server, req,
expect_error, wait_for, run_one, cleanup), and prints the same lines:
`ok NAME`, `FAIL NAME: why` or `skip NAME: why`, then `N passed, N failed`
(`, N skipped` when something was skipped) last. Exit status 1 when
anything failed. Every test is named auth-*; its servers are under
DIR/srv-auth-*/ (each with its stderr.log).

Servers (each `verdict serve` on 127.0.0.1:0, settings by VERDICT_*):
  auth-main    auth on, a known api_secret, rate tiers basic=1/3/2 and
               steady=1/3/0 (the same bucket, no cap on live submissions)
               for the keys of the rate tests; users and other keys get
               default_tier pro. Webhooks: backoff 200 ms, timeout 1000 ms,
               4 attempts, private targets allowed (the receivers are on
               loopback), a known webhook_secret.
  auth-ttl     auth on, jwt_ttl_s 1, registration closed, bearer keys off
               (API_SECRET by its second name).
  auth-ips     auth on, ALLOWED_IPS=10.0.0.0/8: 127.0.0.1 is refused.
  auth-ssrf    auth off, webhook_allow_private no (the default).
  auth-hang    auth off, a 30 s webhook timeout: a receiver that never
               answers holds deliveries while other submissions must finish.
  auth-anon    auth off, anonymous_tier steady: one bucket per peer address.
  auth-hookurl auth off, WEBHOOK_URL and WEBHOOK_SECRET (second names).
  auth-restart auth on, kill -9 while a delivery is pending, restarted.
Webhook receivers are http.server (or a socket that never answers) on
127.0.0.1 in threads of this process.
Admin keys come from `verdict admin keys create ... --database URL` (the
server's db_url: its SQLite file, or its PostgreSQL database).

Timing: the machine may be a loaded 2-core VM. Nothing asserts a speed;
waits poll with generous deadlines.
"""
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ left in the tree

import test_api as T  # noqa: E402  (the harness; importing it runs nothing)
from test_api import Fail, check, short, expect_status, expect_error, expect_match, \
    wait_for  # noqa: E402

TAG = secrets.token_hex(3)                     # makes names unique per run
API_SECRET = "it-master-" + secrets.token_hex(16)
WEBHOOK_SECRET = "it-webhook-" + secrets.token_hex(12)
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NOBODY = object()

WEBHOOK_ENV = {
    "VERDICT_WEBHOOK_BACKOFF_MS": "200",
    "VERDICT_WEBHOOK_TIMEOUT_MS": "1000",
    "VERDICT_WEBHOOK_MAX_ATTEMPTS": "4",
    "VERDICT_WEBHOOK_ALLOW_PRIVATE": "yes",
}
MAIN_ENV = dict(WEBHOOK_ENV, **{
    "VERDICT_AUTH": "on",
    "VERDICT_API_SECRET": API_SECRET,
    "VERDICT_RATE_TIERS": "basic=1/3/2,steady=1/3/0,pro=50/200/64,unlimited=0/0/0",
    "VERDICT_DEFAULT_TIER": "pro",
    "VERDICT_WEBHOOK_SECRET": WEBHOOK_SECRET,
})

SSRF_ENV = {"VERDICT_AUTH": "off", "VERDICT_API_SECRET": API_SECRET,
            "VERDICT_ANONYMOUS_TIER": "unlimited", "VERDICT_WEBHOOK_BACKOFF_MS": "200",
            "VERDICT_WEBHOOK_TIMEOUT_MS": "1000", "VERDICT_WEBHOOK_MAX_ATTEMPTS": "2",
            "VERDICT_WEBHOOK_ALLOW_PRIVATE": "no"}

TESTS, test = T.registry()


# ------------------------------------------------------------------ credentials

class Bearer:
    def __init__(self, token):
        self.token = token

    def headers(self, method, target, body):
        return {"Authorization": "Bearer " + self.token}


def canonical(ts, method, target, body):
    return ("%s\n%s\n%s\n" % (ts, method, target)).encode("utf-8") + (body or b"")


def signature(secret, ts, method, target, body):
    return hmac.new(secret.encode("utf-8"), canonical(ts, method, target, body),
                    hashlib.sha256).hexdigest()


class Signed:
    """X-Api-Key / X-Api-Timestamp / X-Api-Signature. The same request in the
    same second would sign the same and be refused as a replay, so a repeat
    waits for the next second."""
    _seen = set()
    _lock = threading.Lock()

    def __init__(self, key_id, secret):
        self.key_id = key_id
        self.secret = secret

    def headers(self, method, target, body):
        while True:
            ts = int(time.time())
            k = (self.key_id, ts, method, target, hashlib.sha256(body or b"").hexdigest())
            with Signed._lock:
                if k not in Signed._seen:
                    Signed._seen.add(k)
                    break
            time.sleep(0.2)
        return {"X-Api-Key": self.key_id, "X-Api-Timestamp": str(ts),
                "X-Api-Signature": signature(self.secret, ts, method, target, body)}


def call(srv, method, path, body=NOBODY, auth=None, headers=None, raw=None, timeout=60):
    """One request; auth computes its credential headers over the exact
    bytes sent."""
    if raw is not None:
        data = raw.encode("utf-8") if isinstance(raw, str) else raw
    elif body is not NOBODY:
        data = json.dumps(body).encode("utf-8")
    else:
        data = None
    hdrs = {}
    if auth is not None:
        hdrs.update(auth.headers(method, path, data or b""))
    hdrs.update(headers or {})
    return T.req(srv, method, path, raw=data, headers=hdrs, timeout=timeout)


class Who:
    """A caller of one server: requests with its credentials."""

    def __init__(self, srv, auth, name="", info=None):
        self.srv = srv
        self.auth = auth
        self.name = name
        self.info = dict(info or {})

    def req(self, method, path, body=NOBODY, **kw):
        return call(self.srv, method, path, body, auth=self.auth, **kw)

    def submit(self, body, query="", want=(201, 202)):
        r = self.req("POST", "/api/v1/submissions" + query, body)
        expect_status(r, want)
        j = r.json
        check(isinstance(j.get("id"), str) and T.UUID7_RE.match(j["id"]),
              "id is not a UUIDv7: " + r.what())
        return j["id"], r

    def get(self, sid):
        r = self.req("GET", "/api/v1/submissions/" + sid)
        expect_status(r, 200)
        return r.json

    def wait(self, sid, statuses=("finished",), deadline=120, bad=("cancelled",)):
        end = time.monotonic() + deadline
        while True:
            o = self.get(sid)
            if o.get("status") in statuses:
                return o
            if o.get("status") in bad:
                raise Fail("%s became %s: %s" % (sid, o.get("status"), short(o, 300)))
            if time.monotonic() > end:
                raise Fail("%s still %s after %d s" % (sid, o.get("status"), deadline))
            time.sleep(0.25)

    def wait_webhook(self, sid, states=("delivered", "failed"), deadline=90):
        """The submission once its webhook is in one of states."""
        end = time.monotonic() + deadline
        o = None
        while True:
            o = self.get(sid)
            w = o.get("webhook")
            if isinstance(w, dict) and w.get("state") in states:
                return o
            if time.monotonic() > end:
                raise Fail("webhook of %s not %s within %d s: %s"
                           % (sid, "/".join(states), deadline, short(w, 300)))
            time.sleep(0.25)

    def me(self):
        r = self.req("GET", "/api/v1/auth/me")
        expect_status(r, 200)
        return r.json


# ------------------------------------------------------------------ servers

def server_env(srv):
    return srv.env()


def parse_json_out(text):
    i = text.find("{")
    check(i >= 0, "no JSON object in %r" % short(text))
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[i:])
    except ValueError as e:
        raise Fail("not JSON (%s): %s" % (e, short(text)))
    return obj


def cli(srv, *args, timeout=60):
    """`verdict admin ARGS --database URL` on the server's database (its
    SQLite file, or its PostgreSQL database in the scale backend) with the
    server's settings; (returncode, stdout, stderr)."""
    argv = [T.VERDICT, "admin"] + list(args) + ["--database", srv.db_url]
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           env=server_env(srv), cwd=srv.dir, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("%s: no exit within %d s" % (" ".join(argv[1:]), timeout))
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def cli_key(srv, name, role="admin", tier=None, allow=()):
    args = ["keys", "create", "--name", name, "--role", role]
    if tier:
        args += ["--tier", tier]
    for a in allow:
        args += ["--allow", a]
    rc, out, err = cli(srv, *args)
    check(rc == 0, "verdict admin %s: exit %s; stdout %s; stderr %s"
          % (" ".join(args), rc, short(out), short(err)))
    k = parse_json_out(out)
    check(isinstance(k.get("id"), str) and k["id"].startswith("vk"),
          "key id %r: %s" % (k.get("id"), short(out)))
    check(isinstance(k.get("secret"), str) and k["secret"].startswith("vk_"),
          "key secret %r: %s" % (k.get("secret"), short(out)))
    return k


class Box:
    """A server with its admin key (made by the CLI)."""

    def __init__(self, srv, admin_key, signed_admin=False):
        self.srv = srv
        self.admin_key = admin_key
        auth = (Signed(admin_key["id"], admin_key["secret"]) if signed_admin
                else Bearer(admin_key["secret"]))
        self.admin = Who(srv, auth, "admin", info=admin_key)


_BOXES = {}
_BOX_LOCK = threading.Lock()


def box(name, env, workers=2, key_before_start=False, signed_admin=False):
    """The server `name`, started on first use, with an admin key."""
    with _BOX_LOCK:
        b = _BOXES.get(name)
        if isinstance(b, str):
            raise Fail("server %s did not start: %s" % (name, b))
        if b is not None:
            if not b.srv.alive():
                raise Fail("server %s is dead (exit %s); stderr: %s"
                           % (name, b.srv.proc.returncode, short(b.srv.log_tail(), 500)))
            return b
        try:
            srv = T.Server(name, workers=workers, env=env)
            k = None
            if key_before_start:
                k = cli_key(srv, "it-admin", "admin", tier="unlimited")
            srv.start()
            if k is None:
                k = cli_key(srv, "it-admin", "admin", tier="unlimited")
        except Fail as e:
            _BOXES[name] = str(e)
            raise
        b = Box(srv, k, signed_admin)
        _BOXES[name] = b
        return b


def main_box():
    return box("auth-main", MAIN_ENV)


def new_key(b, role="client", tier=None, allowed_ips=None, name=None):
    """A key made by POST /api/v1/admin/keys; its JSON (secret included)."""
    body = {"name": name or "it-%s-%s" % (role, secrets.token_hex(3))}
    if role:
        body["role"] = role
    if tier:
        body["tier"] = tier
    if allowed_ips is not None:
        body["allowed_ips"] = allowed_ips
    r = b.admin.req("POST", "/api/v1/admin/keys", body)
    expect_status(r, 201)
    k = r.json
    check(isinstance(k.get("id"), str) and isinstance(k.get("secret"), str)
          and k["secret"].startswith("vk_"), "key without id/secret: " + r.what())
    return k


def key_who(b, k, signed=False):
    auth = Signed(k["id"], k["secret"]) if signed else Bearer(k["secret"])
    return Who(b.srv, auth, k.get("name", ""), info=k)


def new_user(srv, prefix="u"):
    """Registers a user and logs in: a Who with its access token."""
    name = "%s_%s_%s" % (prefix, TAG, secrets.token_hex(3))
    pw = "pw-" + secrets.token_hex(8)
    r = call(srv, "POST", "/api/v1/auth/register",
             {"username": name, "email": name + "@example.com", "password": pw})
    expect_status(r, 201)
    u = r.json
    r = call(srv, "POST", "/api/v1/auth/login", {"username": name, "password": pw})
    expect_status(r, 200)
    tok = r.json
    check(isinstance(tok.get("access_token"), str), "no access_token: " + r.what())
    return Who(srv, Bearer(tok["access_token"]), name,
               info={"user": u, "tokens": tok, "password": pw, "email": name + "@example.com"})


# ------------------------------------------------------------------ webhook receivers

def read_chunked(rfile):
    out = b""
    while True:
        line = rfile.readline()
        if not line:
            break
        n = int(line.split(b";")[0].strip() or b"0", 16)
        if n == 0:
            while True:  # trailers
                t = rfile.readline()
                if not t or t in (b"\r\n", b"\n"):
                    break
            break
        out += rfile.read(n)
        rfile.readline()
    return out


class Receiver:
    """An HTTP receiver on loopback, in a thread: answers each POST with the
    next status of `script`, then `default` (a 3xx with `location` as its
    Location); records every request."""

    def __init__(self, script=(), default=200, location=None):
        self.lock = threading.Lock()
        self.hits = []
        self.script = list(script)
        self.default = default
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    body = read_chunked(self.rfile)
                else:
                    n = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(n) if n else b""
                with outer.lock:
                    st = outer.script.pop(0) if outer.script else outer.default
                    outer.hits.append({"t": time.time(), "path": self.path,
                                       "method": "POST",
                                       "headers": {k.lower(): v for k, v in self.headers.items()},
                                       "body": body, "answered": st})
                payload = b'{"ok": true}' if st < 300 else b'{"error": "try again"}'
                self.send_response(st)
                if 300 <= st < 400 and location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                with outer.lock:
                    outer.hits.append({"t": time.time(), "path": self.path, "method": "GET",
                                       "headers": {}, "body": b"", "answered": 405})
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def count(self):
        with self.lock:
            return len(self.hits)

    def all(self):
        with self.lock:
            return list(self.hits)

    def close(self):
        try:
            self.httpd.shutdown()
            self.httpd.server_close()
        except Exception:  # noqa: BLE001
            pass


class BlackHole:
    """Accepts TCP connections, reads what comes, never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []      # every accepted socket
        self.requests = 0    # connections that sent a request line
        self.open = 0        # connections the client has not closed yet
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.conns.append(c)
                self.open += 1
            threading.Thread(target=self._hold, args=(c,), daemon=True).start()

    def _hold(self, c):
        got = b""
        counted = False
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                got += d
                if not counted and b"\r\n" in got:
                    counted = True
                    with self.lock:
                        self.requests += 1
        except OSError:
            pass
        with self.lock:
            self.open -= 1

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stats(self):
        with self.lock:
            return self.requests, self.open

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            cs = list(self.conns)
        for c in cs:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass


def check_delivery(hit, secret, sid):
    """One webhook request as the spec has it; returns its delivery id."""
    h = hit["headers"]
    check(hit["method"] == "POST", "webhook with method %s" % hit["method"])
    check((h.get("content-type") or "").startswith("application/json"),
          "webhook Content-Type %r" % h.get("content-type"))
    check((h.get("user-agent") or "").startswith("verdict/"),
          "webhook User-Agent %r" % h.get("user-agent"))
    check(h.get("x-verdict-event") == "submission.finished",
          "X-Verdict-Event %r" % h.get("x-verdict-event"))
    d = h.get("x-verdict-delivery") or ""
    check(UUID_RE.match(d), "X-Verdict-Delivery %r is not a UUID" % d)
    ts = h.get("x-verdict-timestamp") or ""
    check(ts.isdigit() and abs(int(ts) - hit["t"]) < 600,
          "X-Verdict-Timestamp %r (now %d)" % (ts, hit["t"]))
    sig = h.get("x-verdict-signature") or ""
    want = "sha256=" + hmac.new(secret.encode("utf-8"), hit["body"], hashlib.sha256).hexdigest()
    check(hmac.compare_digest(sig, want),
          "X-Verdict-Signature %r does not verify: HMAC-SHA256 of the %d-byte body gives %r"
          % (sig, len(hit["body"]), want))
    try:
        o = json.loads(hit["body"].decode("utf-8"))
    except ValueError as e:
        raise Fail("webhook body is not JSON (%s): %s" % (e, short(hit["body"])))
    check(isinstance(o, dict) and o.get("id") == sid and o.get("status") == "finished",
          "webhook body is not the finished submission %s: %s" % (sid, short(o, 300)))
    return d


# ------------------------------------------------------------------ JWT bits

def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def jwt_parts(tok):
    parts = tok.split(".")
    check(len(parts) == 3, "token %r has not three parts" % short(tok, 80))
    try:
        return json.loads(b64d(parts[0])), json.loads(b64d(parts[1])), parts
    except ValueError as e:
        raise Fail("token %r does not decode: %s" % (short(tok, 80), e))


def expect_401(r, code):
    e = expect_error(r, 401, code)
    return e


class Soft:
    """Collects the failures of independent checks, to report all of them."""

    def __init__(self):
        self.errs = []

    def __call__(self, fn, *a, **kw):
        try:
            return fn(*a, **kw)
        except Fail as e:
            self.errs.append(str(e))
            return None

    def check(self, cond, msg):
        if not cond:
            self.errs.append(msg)

    def labelled(self, label, fn, *a, **kw):
        try:
            return fn(*a, **kw)
        except Fail as e:
            self.errs.append("%s: %s" % (label, e))
            return None

    def done(self):
        if self.errs:
            raise Fail("%d problems: %s" % (len(self.errs), " || ".join(self.errs)))


def global_total(b):
    """Submissions stored, all owners (the admin's list; nothing else runs
    meanwhile): how to tell that a refused request stored nothing without
    trusting the per-caller filter of the list."""
    r = b.admin.req("GET", "/api/v1/submissions?limit=1")
    expect_status(r, 200)
    return r.json.get("total")


# ================================================================== public, unauthenticated

@test("auth-server-starts")
def t_start():
    b = main_box()
    check(b.srv.port > 0, "port %r" % b.srv.port)


@test("auth-public-endpoints")
def t_public():
    srv = main_box().srv
    r = call(srv, "GET", "/health")
    expect_status(r, 200)
    r = call(srv, "GET", "/health/ready")
    expect_status(r, (200, 503))  # 503 only when the sandbox is broken, never 401
    r = call(srv, "GET", "/openapi.json")
    expect_status(r, 200)
    check(isinstance(r.json, dict), "openapi.json not an object")


@test("auth-unauthenticated")
def t_unauth():
    srv = main_box().srv
    for method, path, body in (("GET", "/api/v1/submissions", NOBODY),
                               ("POST", "/api/v1/submissions",
                                {"language": "python", "source_code": "print(1)\n"}),
                               ("GET", "/api/v1/submissions/" + T.NO_ID, NOBODY),
                               ("GET", "/api/v1/languages", NOBODY),
                               ("GET", "/metrics", NOBODY),
                               ("GET", "/api/v1/auth/me", NOBODY),
                               ("GET", "/api/v1/sessions", NOBODY),
                               ("GET", "/api/v1/admin/keys", NOBODY)):
        r = call(srv, method, path, body)
        expect_401(r, "unauthenticated")
        wa = r.header("WWW-Authenticate") or ""
        check(wa.startswith("Bearer"), "%s %s: WWW-Authenticate %r" % (method, path, wa))
    # Nothing was stored by the refused POST.
    r = main_box().admin.req("GET", "/api/v1/submissions?limit=100")
    expect_status(r, 200)


# ================================================================== keys

@test("auth-cli-admin-key")
def t_cli_admin():
    b = main_box()
    me = b.admin.me()
    expect_match({"kind": "key", "id": b.admin_key["id"], "role": "admin",
                  "tier": "unlimited", "name": "it-admin"}, me, "/auth/me of the CLI key")


@test("auth-admin-keys-crud")
def t_keys_crud():
    b = main_box()
    k = new_key(b, role="client", tier="basic", allowed_ips=[], name="it-crud-" + TAG)
    expect_match({"name": "it-crud-" + TAG, "role": "client", "tier": "basic",
                  "revoked_at": None}, k, "POST /admin/keys")
    check(re.match(r"^vk[0-9a-f]{16}$", k["id"]), "key id %r" % k["id"])
    check(k["secret"].startswith("vk_") and len(k["secret"]) > 20, "secret %r" % k["secret"])
    check(isinstance(k.get("created_at"), str) and T.TIME_RE.match(k["created_at"]),
          "created_at %r" % k.get("created_at"))
    check(k.get("allowed_ips") == [], "allowed_ips %r" % k.get("allowed_ips"))
    r = b.admin.req("GET", "/api/v1/admin/keys")
    expect_status(r, 200)
    keys = r.json.get("keys")
    check(isinstance(keys, list), "no keys list: " + r.what())
    mine = [x for x in keys if x.get("id") == k["id"]]
    check(len(mine) == 1, "the new key is listed %d times" % len(mine))
    check(all("secret" not in x for x in keys), "a listed key shows its secret")
    check(k["secret"] not in r.body.decode("utf-8", "replace"), "the list holds a secret")
    r = b.admin.req("GET", "/api/v1/admin/keys/" + k["id"])
    expect_status(r, 200)
    expect_match({"id": k["id"], "name": k["name"], "role": "client"}, r.json)
    check("secret" not in r.json, "GET of a key shows its secret: " + r.what())
    expect_error(b.admin.req("GET", "/api/v1/admin/keys/vk0000000000000000"), 404, "not_found")
    # The defaults: role client, the default tier (pro here).
    r = b.admin.req("POST", "/api/v1/admin/keys", {"name": "it-defaults-" + TAG})
    expect_status(r, 201)
    expect_match({"role": "client", "tier": "pro", "revoked_at": None}, r.json, "defaults")
    # A key without a name, and a bad role, are refused.
    r = b.admin.req("POST", "/api/v1/admin/keys", {"role": "client"})
    expect_status(r, (400, 422))
    r = b.admin.req("POST", "/api/v1/admin/keys", {"name": "x", "role": "root"})
    expect_status(r, (400, 422))


@test("auth-signed-ok")
def t_signed_ok():
    b = main_box()
    k = new_key(b)
    w = key_who(b, k, signed=True)
    me = w.me()
    expect_match({"kind": "key", "id": k["id"], "role": "client"}, me, "signed /auth/me")
    # A signed POST with a query and a body: the target and body as sent.
    r = w.req("POST", "/api/v1/submissions?wait=true",
              {"language": "python", "source_code": 'print("signed")\n'}, timeout=150)
    expect_status(r, (200, 202))
    sid = r.json["id"]
    o = key_who(b, k).wait(sid)
    expect_match({"verdict": "OK", "stdout": "signed\n"}, o)
    # A signed GET of it.
    r = w.req("GET", "/api/v1/submissions/" + sid)
    expect_status(r, 200)
    # A target with a query string is covered as sent, undecoded.
    r = w.req("GET", "/api/v1/submissions?page=1&limit=5")
    expect_status(r, 200)
    r = w.req("GET", "/api/v1/submissions?limit=%35")
    expect_status(r, 200)
    check(r.json.get("limit") == 5, "?limit=%%35 gave limit %r" % r.json.get("limit"))
    r = w.req("GET", "/api/v1/auth/me/")
    expect_status(r, 200)


@test("auth-signed-forged")
def t_signed_forged():
    b = main_box()
    k = new_key(b)
    srv = b.srv
    before = global_total(b)
    ts = int(time.time())
    body = json.dumps({"language": "python", "source_code": "print(1)\n"}).encode()

    def send(hdr_ts, sig, method="POST", path="/api/v1/submissions", data=body):
        return T.req(srv, method, path, raw=data,
                     headers={"X-Api-Key": k["id"], "X-Api-Timestamp": str(hdr_ts),
                              "X-Api-Signature": sig})

    # Signed with another secret.
    expect_401(send(ts, signature(k["secret"] + "x", ts, "POST", "/api/v1/submissions", body)),
               "bad_signature")
    # The body changed after signing.
    sig = signature(k["secret"], ts, "POST", "/api/v1/submissions", body)
    expect_401(send(ts, sig, data=body.replace(b"print(1)", b"print(2)")), "bad_signature")
    # Another target than the one signed.
    sig = signature(k["secret"], ts, "POST", "/api/v1/submissions", body)
    expect_401(send(ts, sig, path="/api/v1/submissions?wait=true"), "bad_signature")
    # Another method (signed as GET, sent as POST).
    sig = signature(k["secret"], ts, "GET", "/api/v1/submissions", body)
    expect_401(send(ts, sig), "bad_signature")
    # The timestamp changed after signing (within the window).
    sig = signature(k["secret"], ts, "GET", "/api/v1/auth/me", b"")
    expect_401(send(ts - 1, sig, method="GET", path="/api/v1/auth/me", data=None),
               "bad_signature")
    # Garbage.
    expect_401(send(ts, "zz", method="GET", path="/api/v1/auth/me", data=None), "bad_signature")
    # Nothing was stored by the refused POSTs.
    after = global_total(b)
    check(after == before, "refused signed POSTs stored something: %s -> %s" % (before, after))


@test("auth-signed-stale")
def t_signed_stale():
    b = main_box()
    k = new_key(b)
    srv = b.srv
    now = int(time.time())
    soft = Soft()
    for ts in (now - 3600, now + 3600, now - 100000):
        sig = signature(k["secret"], ts, "GET", "/api/v1/auth/me", b"")
        r = T.req(srv, "GET", "/api/v1/auth/me",
                  headers={"X-Api-Key": k["id"], "X-Api-Timestamp": str(ts),
                           "X-Api-Signature": sig})
        soft(expect_401, r, "stale_request")
    sig = signature(k["secret"], now, "GET", "/api/v1/auth/me", b"")
    r = T.req(srv, "GET", "/api/v1/auth/me", headers={"X-Api-Key": k["id"],
                                                      "X-Api-Signature": sig})
    soft.labelled("no X-Api-Timestamp", expect_401, r, "stale_request")
    # Inside the window (300 s) both ways: accepted.
    for ts in (now - 200, now + 200):
        sig = signature(k["secret"], ts, "GET", "/api/v1/auth/me", b"")
        r = T.req(srv, "GET", "/api/v1/auth/me",
                  headers={"X-Api-Key": k["id"], "X-Api-Timestamp": str(ts),
                           "X-Api-Signature": sig})
        soft.labelled("timestamp %+d s" % (ts - now), expect_status, r, 200)
    for bad in ("abc", "", "12.5e3x"):
        sig = signature(k["secret"], bad, "GET", "/api/v1/auth/me", b"")
        r = T.req(srv, "GET", "/api/v1/auth/me",
                  headers={"X-Api-Key": k["id"], "X-Api-Timestamp": bad,
                           "X-Api-Signature": sig})
        soft.labelled("X-Api-Timestamp %r" % bad, expect_401, r, "stale_request")
    soft.done()


@test("auth-signed-replayed")
def t_signed_replay():
    b = main_box()
    k = new_key(b)
    srv = b.srv
    ts = int(time.time())
    hdr = {"X-Api-Key": k["id"], "X-Api-Timestamp": str(ts),
           "X-Api-Signature": signature(k["secret"], ts, "GET", "/api/v1/auth/me", b"")}
    r = T.req(srv, "GET", "/api/v1/auth/me", headers=hdr)
    expect_status(r, 200)
    r = T.req(srv, "GET", "/api/v1/auth/me", headers=hdr)
    expect_401(r, "replayed")
    # The same signed request 8 times at once: exactly one gets through.
    time.sleep(1.1)
    ts = int(time.time())
    hdr = {"X-Api-Key": k["id"], "X-Api-Timestamp": str(ts),
           "X-Api-Signature": signature(k["secret"], ts, "GET", "/api/v1/auth/me", b"")}
    sts = [r.status for r in at_once(8, lambda i: T.req(srv, "GET", "/api/v1/auth/me",
                                                          headers=hdr))]
    check(sorted(sts) == [200] + [401] * 7, "8 copies of one signed request at once: %s" % sts)
    # A replayed POST stores nothing the second time.
    before = global_total(b)
    body = json.dumps({"language": "python", "source_code": "print(3)\n",
                       "execute": False}).encode()
    ts = int(time.time())
    hdr = {"X-Api-Key": k["id"], "X-Api-Timestamp": str(ts),
           "X-Api-Signature": signature(k["secret"], ts, "POST", "/api/v1/submissions", body)}
    r = T.req(srv, "POST", "/api/v1/submissions", raw=body, headers=hdr)
    expect_status(r, 201)
    r = T.req(srv, "POST", "/api/v1/submissions", raw=body, headers=hdr)
    expect_401(r, "replayed")
    after = global_total(b)
    check(after == before + 1, "a POST and its replay stored %s submissions, want 1"
          % (after - before))


@test("auth-replayed-across-restart", timeout=180)
def t_replay_restart():
    """A signature seen before a restart is still a replay after it, within
    the window (a captured POST must not run twice)."""
    srv = T.Server("auth-replay", workers=1, env={"VERDICT_AUTH": "on",
                                                   "VERDICT_API_SECRET": API_SECRET})
    try:
        k = cli_key(srv, "it-replay", "client")
        srv.start()
        ts = int(time.time())
        body = json.dumps({"language": "python", "source_code": "print(1)\n",
                           "execute": False}).encode()
        hdr = {"X-Api-Key": k["id"], "X-Api-Timestamp": str(ts),
               "X-Api-Signature": signature(k["secret"], ts, "POST", "/api/v1/submissions",
                                            body)}
        expect_status(T.req(srv, "POST", "/api/v1/submissions", raw=body, headers=hdr), 201)
        res = srv.stop(60)
        check(res is not None and res[0] == 0, "SIGTERM: %r" % (res,))
        srv.start()
        r = T.req(srv, "POST", "/api/v1/submissions", raw=body, headers=hdr)
        expect_401(r, "replayed")
    finally:
        srv.stop()


@test("auth-unknown-key")
def t_unknown_key():
    b = main_box()
    srv = b.srv
    k = new_key(b)
    ts = int(time.time())
    fake = "vk" + "0" * 16
    r = T.req(srv, "GET", "/api/v1/auth/me", headers={
        "X-Api-Key": fake, "X-Api-Timestamp": str(ts),
        "X-Api-Signature": signature("vk_whatever", ts, "GET", "/api/v1/auth/me", b"")})
    expect_401(r, "unknown_key")
    # A bearer secret shaped like a key's, of a key that does not exist.
    tail = k["secret"].split("_", 2)[2] if k["secret"].count("_") >= 2 else "A" * 43
    r = T.req(srv, "GET", "/api/v1/auth/me",
              headers={"Authorization": "Bearer vk_%s_%s" % ("0" * 16, tail)})
    expect_401(r, "unknown_key")
    # The right key id with a wrong secret.
    parts = k["secret"].split("_", 2)
    if len(parts) == 3:
        t = parts[2]
        wrong = t[:-1] + ("A" if t[-1] != "A" else "B")
        r = T.req(srv, "GET", "/api/v1/auth/me",
                  headers={"Authorization": "Bearer vk_%s_%s" % (parts[1], wrong)})
        expect_401(r, ("bad_key", "unknown_key"))
        check(r.json["error"]["code"] == "bad_key",
              "a wrong secret of an existing key: %s, want bad_key" % r.json["error"]["code"])


@test("auth-revoked-key")
def t_revoked():
    b = main_box()
    k = new_key(b)
    ws, wb = key_who(b, k, signed=True), key_who(b, k)
    expect_status(ws.req("GET", "/api/v1/auth/me"), 200)
    expect_status(wb.req("GET", "/api/v1/auth/me"), 200)
    sid, _ = wb.submit({"language": "python", "source_code": "print(1)\n", "execute": False})
    r = b.admin.req("DELETE", "/api/v1/admin/keys/" + k["id"])
    expect_status(r, 200)
    check(r.json.get("id") == k["id"] and isinstance(r.json.get("revoked_at"), str),
          "DELETE of a key: " + r.what())
    check("secret" not in r.json, "revoked key shows its secret")
    expect_401(ws.req("GET", "/api/v1/auth/me"), "revoked_key")
    expect_401(wb.req("GET", "/api/v1/auth/me"), "revoked_key")
    expect_401(wb.req("GET", "/api/v1/submissions/" + sid), "revoked_key")
    r = b.admin.req("GET", "/api/v1/admin/keys/" + k["id"])
    expect_status(r, 200)
    check(isinstance(r.json.get("revoked_at"), str), "GET of a revoked key: " + r.what())


@test("auth-bearer-key")
def t_bearer():
    b = main_box()
    k = new_key(b)
    w = key_who(b, k)
    expect_match({"kind": "key", "id": k["id"], "role": "client", "name": k["name"]}, w.me())
    sid, _ = w.submit({"language": "python", "source_code": 'print("bearer")\n'})
    o = w.wait(sid)
    expect_match({"verdict": "OK", "stdout": "bearer\n", "session_id": None}, o)
    check("owner" not in o, "a client key sees \"owner\": %s" % short(o.get("owner")))
    check(o.get("webhook") is None, "webhook %r for a submission without callback"
          % (o.get("webhook"),))
    expect_status(w.req("GET", "/api/v1/languages"), 200)
    expect_status(w.req("GET", "/metrics"), 200)


@test("auth-not-admin-403")
def t_not_admin():
    b = main_box()
    w = key_who(b, new_key(b))
    for method, path, body in (("GET", "/api/v1/admin/keys", NOBODY),
                               ("POST", "/api/v1/admin/keys", {"name": "sneaky"}),
                               ("GET", "/api/v1/admin/keys/" + b.admin_key["id"], NOBODY),
                               ("DELETE", "/api/v1/admin/keys/" + b.admin_key["id"], NOBODY)):
        expect_error(w.req(method, path, body), 403, "forbidden")
    u = new_user(b.srv)
    expect_error(u.req("GET", "/api/v1/admin/keys"), 403, "forbidden")
    expect_error(u.req("POST", "/api/v1/admin/keys", {"name": "sneaky"}), 403, "forbidden")
    # The admin key still works (the DELETE above was refused).
    expect_status(b.admin.req("GET", "/api/v1/auth/me"), 200)


@test("auth-key-allowed-ips")
def t_key_ips():
    b = main_box()
    k = new_key(b, allowed_ips=["10.0.0.0/8"])
    check(k.get("allowed_ips") == ["10.0.0.0/8"], "allowed_ips %r" % k.get("allowed_ips"))
    expect_error(key_who(b, k).req("GET", "/api/v1/auth/me"), 403, "ip_not_allowed")
    expect_error(key_who(b, k, signed=True).req("GET", "/api/v1/auth/me"), 403,
                 "ip_not_allowed")
    expect_error(key_who(b, k).req("GET", "/api/v1/auth/me",
                                   headers={"X-Forwarded-For": "10.1.2.3",
                                            "X-Real-IP": "10.1.2.3"}), 403, "ip_not_allowed")
    k2 = new_key(b, allowed_ips=["10.0.0.0/8", "127.0.0.0/8"])
    expect_status(key_who(b, k2).req("GET", "/api/v1/auth/me"), 200)
    r = b.admin.req("POST", "/api/v1/admin/keys", {"name": "badcidr", "allowed_ips": ["10.0.0.0/33"]})
    expect_status(r, (400, 422))


@test("auth-cli-list-revoke-users")
def t_cli_more():
    b = main_box()
    k = cli_key(b.srv, "it-cli-client-" + TAG, "client")
    w = key_who(b, k)
    expect_match({"kind": "key", "id": k["id"], "role": "client"}, w.me())
    rc, out, err = cli(b.srv, "keys", "list")
    check(rc == 0, "admin keys list: exit %s: %s" % (rc, short(err)))
    check(k["id"] in out, "admin keys list does not show %s: %s" % (k["id"], short(out)))
    check(k["secret"] not in out, "admin keys list shows a secret")
    rc, out, err = cli(b.srv, "keys", "revoke", k["id"])
    check(rc == 0, "admin keys revoke: exit %s: %s %s" % (rc, short(out), short(err)))
    expect_401(w.req("GET", "/api/v1/auth/me"), "revoked_key")
    # An admin user made by the CLI logs in and may use the admin endpoints.
    name = "adm_" + TAG
    rc, out, err = cli(b.srv, "users", "create", "--username", name, "--email",
                       name + "@example.com", "--password", "secret-pass-1", "--role", "admin")
    check(rc == 0, "admin users create: exit %s: %s %s" % (rc, short(out), short(err)))
    r = call(b.srv, "POST", "/api/v1/auth/login", {"username": name, "password": "secret-pass-1"})
    expect_status(r, 200)
    u = Who(b.srv, Bearer(r.json["access_token"]), name)
    expect_match({"kind": "user", "name": name, "role": "admin"}, u.me())
    expect_status(u.req("GET", "/api/v1/admin/keys"), 200)
    # An admin user sees another's submission, with its owner.
    other = new_user(b.srv, "seen")
    sid, _ = other.submit({"language": "python", "source_code": "print(1)\n", "execute": False})
    o = u.get(sid)
    check(isinstance(o.get("owner"), str) and other.info["user"]["user_id"] in o["owner"],
          "an admin user's view of another's submission: owner %r" % o.get("owner"))


# ================================================================== users and JWTs

@test("auth-register-login-me")
def t_users():
    srv = main_box().srv
    name = "alice_" + TAG
    pw = "correct horse battery"
    r = call(srv, "POST", "/api/v1/auth/register",
             {"username": name, "email": name + "@example.com", "password": pw})
    expect_status(r, 201)
    u = r.json
    expect_match({"username": name, "email": name + "@example.com", "role": "user",
                  "tier": "pro"}, u, "register")
    check(isinstance(u.get("user_id"), str) and u["user_id"], "user_id %r" % u.get("user_id"))
    check("password" not in u and pw not in r.body.decode("utf-8", "replace"),
          "register echoes the password")
    for login in ({"username": name, "password": pw}, {"email": name + "@example.com",
                                                        "password": pw}):
        r = call(srv, "POST", "/api/v1/auth/login", login)
        expect_status(r, 200)
        t = r.json
        expect_match({"token_type": "Bearer"}, t, "login")
        for f in ("access_token", "refresh_token"):
            check(isinstance(t.get(f), str) and t[f].count(".") == 2, "%s %r" % (f, t.get(f)))
        check(t["access_token"] != t["refresh_token"], "access and refresh tokens are the same")
        check(isinstance(t.get("expires_in"), int) and 0 < t["expires_in"] <= 3600,
              "expires_in %r" % t.get("expires_in"))
        check(isinstance(t.get("refresh_expires_in"), int)
              and t["refresh_expires_in"] > t["expires_in"],
              "refresh_expires_in %r" % t.get("refresh_expires_in"))
        expect_match({"username": name, "user_id": u["user_id"]}, t.get("user"), "login user")
        check(not any("pass" in f or "hash" in f for f in t["user"]),
              "login's user shows %s" % sorted(t["user"]))
        hdr, claims, _ = jwt_parts(t["access_token"])
        check(hdr.get("alg") == "HS256", "JWT alg %r" % hdr.get("alg"))
        me = Who(srv, Bearer(t["access_token"])).me()
        expect_match({"kind": "user", "id": u["user_id"], "name": name, "role": "user",
                      "tier": "pro"}, me, "/auth/me of a user")


@test("auth-register-conflicts")
def t_register_dup():
    srv = main_box().srv
    name = "bob_" + TAG
    body = {"username": name, "email": name + "@example.com", "password": "pass-word-1"}
    expect_status(call(srv, "POST", "/api/v1/auth/register", body), 201)
    e = expect_error(call(srv, "POST", "/api/v1/auth/register",
                          dict(body, email="other_" + name + "@example.com")), 409, "conflict")
    check(e.get("field") == "username", "duplicate username: field %r" % e.get("field"))
    e = expect_error(call(srv, "POST", "/api/v1/auth/register",
                          dict(body, username=name + "_2")), 409, "conflict")
    check(e.get("field") == "email", "duplicate email: field %r" % e.get("field"))


@test("auth-register-bad-fields")
def t_register_bad():
    srv = main_box().srv
    ok = {"username": "carol_" + TAG, "email": "carol_%s@example.com" % TAG,
          "password": "pass-word-1"}
    for bad in (dict(ok, username="ab"), dict(ok, username="has space"),
                dict(ok, username="x" * 51), dict(ok, password="short"),
                dict(ok, password="p" * 1025),
                dict(ok, email="no-at-sign"),
                {"username": ok["username"], "password": ok["password"]}):
        r = call(srv, "POST", "/api/v1/auth/register", bad)
        check(r.status in (400, 422), "register %s: want 400/422: %s" % (short(bad), r.what()))
        expect_error(r, r.status)
    # None of those made the account: it can still be made.
    expect_status(call(srv, "POST", "/api/v1/auth/register", ok), 201)
    # The bounds themselves are allowed: 50 characters of [A-Za-z0-9_.-], 8 and 1024 bytes.
    long_name = ("Z.%s-" % TAG + "y_" * 30)[:50]
    r = call(srv, "POST", "/api/v1/auth/register",
             {"username": long_name, "email": "long_%s@example.com" % TAG, "password": "8bytes!!"})
    expect_status(r, 201)
    r = call(srv, "POST", "/api/v1/auth/register",
             {"username": "big_" + TAG, "email": "big_%s@example.com" % TAG,
              "password": "p" * 1024})
    expect_status(r, 201)
    r = call(srv, "POST", "/api/v1/auth/login", {"username": "big_" + TAG,
                                                 "password": "p" * 1024})
    expect_status(r, 200)


@test("auth-login-wrong")
def t_login_wrong():
    srv = main_box().srv
    u = new_user(srv, "dave")
    expect_401(call(srv, "POST", "/api/v1/auth/login",
                    {"username": u.name, "password": u.info["password"] + "x"}),
               "invalid_credentials")
    expect_401(call(srv, "POST", "/api/v1/auth/login",
                    {"username": "nobody_" + TAG, "password": "whatever-123"}),
               "invalid_credentials")
    expect_401(call(srv, "POST", "/api/v1/auth/login",
                    {"email": u.info["email"], "password": "wrong-password"}),
               "invalid_credentials")


@test("auth-jwt-tampered")
def t_jwt_tampered():
    srv = main_box().srv
    u = new_user(srv, "eve")
    tok = u.info["tokens"]["access_token"]
    hdr, claims, parts = jwt_parts(tok)
    # A claim changed, the signature kept.
    c2 = dict(claims)
    c2["role"] = "admin"
    if c2 == claims:
        c2["sub"] = str(claims.get("sub", "")) + "x"
    forged = "%s.%s.%s" % (parts[0], b64e(json.dumps(c2, separators=(",", ":")).encode()),
                           parts[2])
    expect_401(Who(srv, Bearer(forged)).req("GET", "/api/v1/auth/me"), "bad_token")
    # One character of the payload flipped.
    p = parts[1]
    i = len(p) // 2
    flipped = p[:i] + ("A" if p[i] != "A" else "B") + p[i + 1:]
    expect_401(Who(srv, Bearer("%s.%s.%s" % (parts[0], flipped, parts[2]))).req(
        "GET", "/api/v1/auth/me"), "bad_token")
    # One character of the signature flipped.
    s = parts[2]
    s2 = s[:3] + ("A" if s[3] != "A" else "B") + s[4:]
    expect_401(Who(srv, Bearer("%s.%s.%s" % (parts[0], parts[1], s2))).req(
        "GET", "/api/v1/auth/me"), "bad_token")
    # Malformed.
    for junk in ("garbage", "a.b", "a.b.c", "..", parts[0] + "." + parts[1]):
        expect_401(Who(srv, Bearer(junk)).req("GET", "/api/v1/auth/me"), "bad_token")
    # The real one still works.
    expect_status(u.req("GET", "/api/v1/auth/me"), 200)


@test("auth-jwt-alg-none")
def t_jwt_none():
    srv = main_box().srv
    u = new_user(srv, "mallory")
    tok = u.info["tokens"]["access_token"]
    hdr, claims, parts = jwt_parts(tok)
    for alg in ("none", "None", "HS512", "RS256"):
        h2 = b64e(json.dumps({"alg": alg, "typ": "JWT"}).encode())
        for sig in ("", parts[2]):
            t = "%s.%s.%s" % (h2, parts[1], sig)
            expect_401(Who(srv, Bearer(t)).req("GET", "/api/v1/auth/me"), "bad_token")
    # alg none with the claims raised to admin, unsigned.
    c2 = dict(claims, role="admin")
    t = "%s.%s." % (b64e(b'{"alg":"none","typ":"JWT"}'), b64e(json.dumps(c2).encode()))
    expect_401(Who(srv, Bearer(t)).req("GET", "/api/v1/admin/keys"), "bad_token")


@test("auth-jwt-refresh")
def t_jwt_refresh():
    srv = main_box().srv
    u = new_user(srv, "frank")
    t = u.info["tokens"]
    r = call(srv, "POST", "/api/v1/auth/refresh", {"refresh_token": t["refresh_token"]})
    expect_status(r, 200)
    n = r.json
    for f in ("access_token", "refresh_token"):
        check(isinstance(n.get(f), str) and n[f].count(".") == 2, "refresh: %s %r"
              % (f, n.get(f)))
    expect_match({"token_type": "Bearer"}, n, "refresh")
    me = Who(srv, Bearer(n["access_token"])).me()
    expect_match({"kind": "user", "id": u.info["user"]["user_id"], "name": u.name}, me)
    # The refresh token is no access token, and the access token no refresh token.
    expect_401(Who(srv, Bearer(t["refresh_token"])).req("GET", "/api/v1/auth/me"), "bad_token")
    expect_401(Who(srv, Bearer(n["refresh_token"])).req("GET", "/api/v1/submissions"),
               "bad_token")
    expect_401(call(srv, "POST", "/api/v1/auth/refresh", {"refresh_token": t["access_token"]}),
               "bad_token")
    expect_401(call(srv, "POST", "/api/v1/auth/refresh", {"refresh_token": "x.y.z"}),
               "bad_token")
    # A refresh token whose payload changed.
    _, _, parts = jwt_parts(n["refresh_token"])
    p = parts[1]
    i = len(p) // 2
    bad = "%s.%s.%s" % (parts[0], p[:i] + ("A" if p[i] != "A" else "B") + p[i + 1:], parts[2])
    expect_401(call(srv, "POST", "/api/v1/auth/refresh", {"refresh_token": bad}), "bad_token")


TTL_ENV = {"VERDICT_AUTH": "on", "API_SECRET": API_SECRET, "VERDICT_JWT_TTL_S": "1",
           "VERDICT_REGISTRATION": "closed", "VERDICT_ALLOW_BEARER_KEYS": "no"}


def ttl_box():
    return box("auth-ttl", TTL_ENV, workers=1, key_before_start=True, signed_admin=True)


@test("auth-jwt-expired", timeout=120)
def t_jwt_expired():
    b = ttl_box()
    srv = b.srv
    expect_status(b.admin.req("GET", "/api/v1/auth/me"), 200)
    name = "ttl_" + TAG
    rc, out, err = cli(srv, "users", "create", "--username", name, "--email",
                       name + "@example.com", "--password", "pass-word-1")
    check(rc == 0, "admin users create: exit %s: %s %s" % (rc, short(out), short(err)))
    r = call(srv, "POST", "/api/v1/auth/login", {"username": name, "password": "pass-word-1"})
    expect_status(r, 200)
    t = r.json
    check(t.get("expires_in") == 1, "expires_in %r with jwt_ttl_s 1" % t.get("expires_in"))
    time.sleep(3)
    expect_401(Who(srv, Bearer(t["access_token"])).req("GET", "/api/v1/auth/me"),
               "token_expired")
    # The refresh token (30 days) still gives a new pair.
    r = call(srv, "POST", "/api/v1/auth/refresh", {"refresh_token": t["refresh_token"]})
    expect_status(r, 200)
    check(isinstance(r.json.get("access_token"), str), "refresh: " + r.what())


@test("auth-registration-closed")
def t_reg_closed():
    b = ttl_box()
    name = "closed_" + TAG
    r = call(b.srv, "POST", "/api/v1/auth/register",
             {"username": name, "email": name + "@example.com", "password": "pass-word-1"})
    expect_error(r, 403, "registration_closed")
    r = call(b.srv, "POST", "/api/v1/auth/login", {"username": name, "password": "pass-word-1"})
    expect_401(r, "invalid_credentials")


@test("auth-bearer-keys-off")
def t_bearer_off():
    b = ttl_box()
    r = call(b.srv, "GET", "/api/v1/auth/me", auth=Bearer(b.admin_key["secret"]))
    expect_status(r, 401)
    expect_error(r, 401)
    # Signed requests with the same key still work.
    expect_match({"kind": "key", "id": b.admin_key["id"]}, b.admin.me())


@test("auth-webhook-default-url", timeout=150)
def t_webhook_default():
    rcv = Receiver()
    srv = None
    try:
        srv = T.Server("auth-hookurl", workers=1, env={
            "VERDICT_AUTH": "off", "VERDICT_API_SECRET": API_SECRET,
            "VERDICT_ANONYMOUS_TIER": "unlimited", "VERDICT_WEBHOOK_ALLOW_PRIVATE": "yes",
            "WEBHOOK_URL": rcv.url("/default"), "WEBHOOK_SECRET": WEBHOOK_SECRET})
        srv.start()
        anon = Who(srv, None)
        sid, _ = anon.submit({"language": "python", "source_code": 'print("dflt")\n'})
        wait_for("a delivery to webhook_url", lambda: rcv.count() >= 1, 120, step=0.2)
        hits = rcv.all()
        check(hits[0]["path"] == "/default", "delivered to %s" % hits[0]["path"])
        check_delivery(hits[0], WEBHOOK_SECRET, sid)
        # A callback_url of its own wins over webhook_url.
        sid2, _ = anon.submit({"language": "python", "source_code": "print(2)\n",
                               "callback_url": rcv.url("/own")})
        wait_for("a delivery to callback_url", lambda: rcv.count() >= 2, 120, step=0.2)
        time.sleep(1)
        paths = [h["path"] for h in rcv.all()]
        check(paths == ["/default", "/own"], "deliveries to %s" % paths)
        check_delivery(rcv.all()[1], WEBHOOK_SECRET, sid2)
    finally:
        rcv.close()
        if srv is not None:
            srv.stop()


# ================================================================== ownership

@test("auth-owner-404")
def t_owner():
    b = main_box()
    a, bb = new_user(b.srv, "ua"), new_user(b.srv, "ub")
    sid, _ = a.submit({"language": "python", "source_code": 'print("mine")\n'})
    o = a.wait(sid)
    expect_match({"verdict": "OK", "stdout": "mine\n"}, o)
    check("owner" not in o, "a user sees \"owner\" of its own: %s" % short(o.get("owner")))
    e = expect_error(bb.req("GET", "/api/v1/submissions/" + sid), 404, "not_found")
    e2 = expect_error(bb.req("GET", "/api/v1/submissions/" + T.NO_ID), 404, "not_found")
    check(e.get("field") == e2.get("field"), "another's and an absent id differ: %s vs %s"
          % (short(e), short(e2)))
    expect_error(bb.req("DELETE", "/api/v1/submissions/" + sid), 404, "not_found")
    expect_error(bb.req("POST", "/api/v1/submissions/%s/execute" % sid), 404, "not_found")
    expect_error(bb.req("GET", "/api/v1/submissions/%s/events" % sid), 404, "not_found")
    # Another key (not admin) does not see it either.
    expect_error(key_who(b, new_key(b)).req("GET", "/api/v1/submissions/" + sid), 404,
                 "not_found")
    # Its owner follows its events with the same credentials.
    conn = http.client.HTTPConnection("127.0.0.1", b.srv.port, timeout=30)
    try:
        conn.request("GET", "/api/v1/submissions/%s/events" % sid,
                     headers=dict(a.auth.headers("GET", "", b""), Accept="text/event-stream"))
        resp = conn.getresponse()
        ct = resp.getheader("Content-Type") or ""
        check(resp.status == 200 and ct.startswith("text/event-stream"),
              "owner's events: %d %s" % (resp.status, ct))
        data = resp.read()
        check(b"result" in data, "owner's events of a finished one: %s" % short(data))
    finally:
        conn.close()
    # The admin key does, with its owner.
    oa = b.admin.get(sid)
    check(oa.get("status") == "finished", "admin's view: %s" % short(oa, 200))
    check(isinstance(oa.get("owner"), str) and oa["owner"], "admin sees owner %r"
          % oa.get("owner"))
    check(a.info["user"]["user_id"] in oa["owner"], "owner %r does not name user %s"
          % (oa["owner"], a.info["user"]["user_id"]))
    # It was not touched by B's attempts.
    o = a.get(sid)
    check(o.get("status") == "finished" and o.get("attempt") == 1, "after B's tries: %s"
          % short(o, 200))


@test("auth-owner-list")
def t_owner_list():
    b = main_box()
    a, bb = new_user(b.srv, "la"), new_user(b.srv, "lb")
    ka = [a.submit({"language": "python", "source_code": "print(%d)\n" % i,
                    "execute": False})[0] for i in range(3)]
    kb = [bb.submit({"language": "python", "source_code": "print(%d)\n" % i,
                     "execute": False})[0] for i in range(2)]
    soft = Soft()

    def own_list(who, want, label):
        r = who.req("GET", "/api/v1/submissions?limit=100")
        expect_status(r, 200)
        ids = [x.get("id") for x in r.json.get("submissions", [])]
        soft.check(sorted(ids) == sorted(want), "%s lists %d submissions (total %r), want "
                   "exactly its own %d" % (label, len(ids), r.json.get("total"), len(want)))
        soft.check(r.json.get("total") == len(want), "%s: total %r, want %d"
                   % (label, r.json.get("total"), len(want)))
        mine = [i for i in ids if i in want]
        soft.check(mine == sorted(want, reverse=True), "%s: own ones not newest first: %s"
                   % (label, mine))

    own_list(a, ka, "user A")
    own_list(bb, kb, "user B")
    own_list(key_who(b, new_key(b)), [], "a fresh client key")
    # The admin sees all of them, and ?owner= narrows it to one owner.
    r = b.admin.req("GET", "/api/v1/submissions?limit=100")
    expect_status(r, 200)
    ids = {x.get("id") for x in r.json.get("submissions", [])}
    soft.check(set(ka) | set(kb) <= ids, "the admin's list lacks some of A's or B's")
    owner = b.admin.get(ka[0]).get("owner")
    check(isinstance(owner, str) and owner, "owner %r" % owner)
    r = b.admin.req("GET", "/api/v1/submissions?limit=100&owner=" + owner)
    expect_status(r, 200)
    ids = [x.get("id") for x in r.json.get("submissions", [])]
    soft.check(sorted(ids) == sorted(ka), "admin ?owner=%s lists %d (total %r), want A's 3"
               % (owner, len(ids), r.json.get("total")))
    # A non-admin's ?owner= of another does not show the other's.
    r = bb.req("GET", "/api/v1/submissions?limit=100&owner=" + owner)
    if r.status == 200:
        ids = [x.get("id") for x in r.json.get("submissions", [])]
        soft.check(not set(ids) & set(ka), "B's ?owner=<A> shows A's submissions")
    else:
        soft.check(r.status in (400, 403), "B's ?owner=: " + r.what())
    soft.done()


# ================================================================== rate limits

def at_once(n, fn):
    """fn(i) in n threads released together; the results (or Fail) in order."""
    out = [None] * n
    go = threading.Barrier(n)

    def run(i):
        try:
            go.wait(30)
            out[i] = fn(i)
        except Exception as e:  # noqa: BLE001
            out[i] = e
    ts = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    for v in out:
        if isinstance(v, Exception):
            raise Fail("a concurrent request failed: %s: %s" % (type(v).__name__, v))
    return out


def rl_headers(r):
    out = {}
    for h in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
        v = r.header(h)
        check(v is not None, "no %s header: %s" % (h, r.what()))
        check(re.match(r"^\d+$", v.strip()), "%s %r is not a whole number" % (h, v))
        out[h] = int(v)
    return out


def quick_posts(w, body, n=10):
    """POSTs until a 429 (at most n): the answers."""
    got = []
    for i in range(n):
        r = w.req("POST", "/api/v1/submissions", body)
        got.append(r)
        if r.status == 429:
            break
        expect_status(r, (201, 202))
    return got


@test("auth-rate-limited", timeout=150)
def t_rate():
    b = main_box()
    # Tier steady=1/3/0: the bucket of basic without its cap on live ones.
    k = new_key(b, tier="steady")
    w = key_who(b, k)
    body = {"language": "python", "source_code": "print(1)\n"}
    before = global_total(b)
    got = quick_posts(w, body)
    check(all(r.status == 202 for r in got[:3]), "the first 3 of a bucket of 3: %s"
          % [r.status for r in got])
    check(got[-1].status == 429, "no 429 in %d quick POSTs with a tier of 1/3/0: %s"
          % (len(got), [r.status for r in got]))
    soft = Soft()
    first = soft(rl_headers, got[0]) or {}
    soft.check(first.get("RateLimit-Limit") == 3, "RateLimit-Limit %r, want the burst 3"
               % first.get("RateLimit-Limit"))
    soft.check(first.get("RateLimit-Remaining", 99) <= 2, "RateLimit-Remaining %r after one of 3"
               % first.get("RateLimit-Remaining"))
    rems = [(soft(rl_headers, r) or {}).get("RateLimit-Remaining") for r in got[:3]]
    soft.check(None in rems or rems == sorted(rems, reverse=True),
               "RateLimit-Remaining does not go down: %s" % rems)
    last = got[-1]
    soft(expect_error, last, 429, "rate_limited")
    ra = last.header("Retry-After") or ""
    soft.check(ra.strip().isdigit() and int(ra) >= 1, "429 with Retry-After %r" % ra)
    soft(rl_headers, last)
    # Nothing stored by the refused one.
    after = global_total(b)
    soft.check(after - before == len(got) - 1, "%s stored after %d accepted"
               % (after - before, len(got) - 1))
    # After Retry-After, a token is back.
    time.sleep((int(ra) if ra.strip().isdigit() else 1) + 0.5)
    soft(wait_for, "a POST accepted after Retry-After",
         lambda: w.req("POST", "/api/v1/submissions", body).status == 202, 20, step=1)
    # Another principal's bucket is its own.
    w2 = key_who(b, new_key(b, tier="steady"))
    soft(expect_status, w2.req("POST", "/api/v1/submissions", body), 202)
    # Reads are not charged.
    for _ in range(5):
        soft(expect_status, w.req("GET", "/api/v1/auth/me"), 200)
    soft.done()


@test("auth-rate-concurrent", timeout=150)
def t_rate_concurrent():
    """The bucket holds under concurrency: 10 POSTs at once with a bucket of 3."""
    b = main_box()
    w = key_who(b, new_key(b, tier="steady"))
    t0 = time.monotonic()
    rs = at_once(10, lambda i: w.req("POST", "/api/v1/submissions",
                                     {"language": "python", "source_code": "print(%d)\n" % i}))
    took = time.monotonic() - t0
    sts = [r.status for r in rs]
    ok = sts.count(202)
    check(set(sts) <= {202, 429}, "statuses %s" % sts)
    check(3 <= ok <= 3 + int(took) + 1, "%d of 10 concurrent POSTs accepted in %.1f s with a "
          "bucket of 3 at 1/s: %s" % (ok, took, sts))


@test("auth-active-concurrent", timeout=180)
def t_active_concurrent():
    """The cap on live submissions holds under concurrency (tier basic: 2)."""
    b = main_box()
    w = key_who(b, new_key(b, tier="basic"))
    bodies = [T.sleeper_req(90, "cc%d" % i)[0] for i in range(3)]
    rs = []
    try:
        rs = at_once(3, lambda i: w.req("POST", "/api/v1/submissions", bodies[i]))
        sts = [r.status for r in rs]
        check(sts.count(202) == 2 and sts.count(429) == 1,
              "3 concurrent sleepers with a cap of 2 live: %s" % sts)
        for r in rs:
            if r.status == 429:
                expect_error(r, 429, "too_many_active")
    finally:
        for r in rs:
            if r.status == 202:
                try:
                    w.req("DELETE", "/api/v1/submissions/" + r.json["id"], timeout=20)
                except Fail:
                    pass


@test("auth-rate-execute-charged", timeout=150)
def t_rate_execute():
    """POST /api/v1/submissions/{id}/execute takes a token too."""
    b = main_box()
    w = key_who(b, new_key(b, tier="steady"))
    ids = []
    for i in range(5):
        r = w.req("POST", "/api/v1/submissions", {"language": "python",
                                                  "source_code": "print(%d)\n" % i,
                                                  "execute": False})
        if r.status == 429:
            time.sleep(1.5)
            r = w.req("POST", "/api/v1/submissions", {"language": "python",
                                                      "source_code": "print(%d)\n" % i,
                                                      "execute": False})
        expect_status(r, 201)
        ids.append(r.json["id"])
    time.sleep(4)  # the bucket is full again (3 at 1 a second)
    got = []
    for sid in ids:
        r = w.req("POST", "/api/v1/submissions/%s/execute" % sid)
        got.append(r.status)
        if r.status == 429:
            expect_error(r, 429, "rate_limited")
            check(r.header("Retry-After") is not None, "429 without Retry-After")
            break
        expect_status(r, 202)
        rl_headers(r)
    check(got[-1] == 429, "5 quick executes with a bucket of 3 were all accepted: %s" % got)


@test("auth-rate-execute-false-charged", timeout=120)
def t_rate_created():
    """POST /api/v1/submissions is charged 1 whether or not it queues."""
    b = main_box()
    w = key_who(b, new_key(b, tier="basic"))
    got = quick_posts(w, {"language": "python", "source_code": "print(1)\n", "execute": False})
    soft = Soft()
    soft(rl_headers, got[0])
    soft.check(got[-1].status == 429, "no 429 in %d quick POSTs of execute:false with tier "
               "basic=1/3/2: %s" % (len(got), [r.status for r in got]))
    soft.done()


@test("auth-rate-batch-per-item", timeout=120)
def t_rate_batch():
    """A batch is charged 1 per item: with a bucket of 3, a batch of 5 is
    either refused whole (429) or gets 3 items and a 429 rate_limited for
    each of the rest (items are independent, as with queue_full)."""
    b = main_box()
    w = key_who(b, new_key(b, tier="basic"))
    item = {"language": "python", "source_code": "print(1)\n", "execute": False}
    soft = Soft()
    before = global_total(b)
    r = w.req("POST", "/api/v1/submissions/batch", {"submissions": [item] * 5})
    expect_status(r, (202, 429))
    if r.status == 429:
        expect_error(r, 429, "rate_limited")
        check(r.header("Retry-After") is not None, "429 without Retry-After: " + r.what())
        accepted = 0
    else:
        items = r.json.get("submissions", [])
        check(len(items) == 5, "batch of 5 answered %d items" % len(items))
        accepted = sum(1 for x in items if x.get("status") == "created")
        refused = [x for x in items if "error" in x]
        check(accepted + len(refused) == 5, "items neither accepted nor refused: %s"
              % short(items))
        check(1 <= accepted <= 4, "%d of 5 items accepted with a bucket of 3" % accepted)
        check(all(x["error"].get("code") == "rate_limited" and x.get("status_code") == 429
                  for x in refused), "refused items: %s" % short(refused))
        check([("error" in x) for x in items] == sorted("error" in x for x in items),
              "the refused items are not the last ones: %s" % short(items))
        soft.labelled("a batch that was charged", rl_headers, r)
    after = global_total(b)
    check(after - before == accepted, "the batch stored %d, %d accepted"
          % (after - before, accepted))
    time.sleep(4)  # full again
    r = w.req("POST", "/api/v1/submissions/batch", {"submissions": [item] * 2})
    expect_status(r, 202)
    items = r.json.get("submissions", [])
    check(len(items) == 2 and all(x.get("status") == "created" for x in items),
          "batch of 2 with a full bucket: " + r.what())
    soft.labelled("a batch that was charged", rl_headers, r)
    soft.done()


@test("auth-too-many-active", timeout=180)
def t_active():
    b = main_box()
    w = key_who(b, new_key(b, tier="basic"))
    ids = []
    try:
        for i in range(2):
            body, _ = T.sleeper_req(90, "act%d" % i)
            sid, _ = w.submit(body, want=202)
            ids.append(sid)
        body, _ = T.sleeper_req(90, "act2")
        r = w.req("POST", "/api/v1/submissions", body)
        expect_error(r, 429, "too_many_active")
        ra = r.header("Retry-After")
        check(ra is not None and ra.strip().isdigit(), "too_many_active Retry-After %r" % ra)
        # execute:false is not active: accepted (a token came back meanwhile).
        time.sleep(1.5)
        r = w.req("POST", "/api/v1/submissions", {"language": "python",
                                                  "source_code": "print(1)\n",
                                                  "execute": False})
        expect_status(r, (201, 429))
        if r.status == 429:
            expect_error(r, 429, "rate_limited")
        # Another caller is not held back by this one's sleepers.
        other = key_who(b, new_key(b, tier="basic"))
        sid, _ = other.submit({"language": "python", "source_code": "print(7)\n"}, want=202)
        ids.append(sid)
        # Once they are cancelled, there is room again.
        for sid in ids[:2]:
            expect_status(w.req("DELETE", "/api/v1/submissions/" + sid), 200)
        time.sleep(2.5)
        r = w.req("POST", "/api/v1/submissions", {"language": "python",
                                                  "source_code": 'print("again")\n'})
        expect_status(r, 202)
        o = w.wait(r.json["id"])
        expect_match({"verdict": "OK", "stdout": "again\n"}, o)
        expect_match({"verdict": "OK", "stdout": "7\n"}, other.wait(ids[2]))
    finally:
        for sid in ids[:2]:
            try:
                w.req("DELETE", "/api/v1/submissions/" + sid, timeout=20)
            except Fail:
                pass


@test("auth-unknown-tier-refused")
def t_unknown_tier():
    """A key of a tier that rate_tiers does not name is refused, not made
    with some other tier's limits (the last tier here is unlimited)."""
    b = main_box()
    soft = Soft()
    r = b.admin.req("POST", "/api/v1/admin/keys", {"name": "gold-" + TAG, "tier": "gold"})
    soft.check(r.status in (400, 422), "POST /admin/keys with tier \"gold\" (not in rate_tiers): "
               + r.what())
    if r.status == 201:
        w = key_who(b, r.json)
        sts = [w.req("POST", "/api/v1/submissions", {"language": "python",
                                                     "source_code": "print(1)\n"}).status
               for _ in range(5)]
        soft.check(False, "... and its 5 quick POSTs got %s (limits of tier %r)"
                   % (sts, w.me().get("tier")))
    rc, out, err = cli(b.srv, "keys", "create", "--name", "gold2-" + TAG, "--tier", "gold")
    soft.check(rc != 0, "verdict admin keys create --tier gold: exit 0: %s" % short(out, 120))
    soft.done()


@test("auth-anon-rate-per-ip", timeout=150)
def t_anon_rate():
    srv = box("auth-anon", {"VERDICT_AUTH": "off", "VERDICT_API_SECRET": API_SECRET,
                            "VERDICT_RATE_TIERS": MAIN_ENV["VERDICT_RATE_TIERS"],
                            "VERDICT_ANONYMOUS_TIER": "steady"}, workers=2).srv
    got = []
    for i in range(10):
        # A forwarding header must not make each request a new client.
        r = call(srv, "POST", "/api/v1/submissions",
                 {"language": "python", "source_code": "print(1)\n"},
                 headers={"X-Forwarded-For": "203.0.113.%d" % (i + 1),
                          "X-Real-IP": "203.0.113.%d" % (i + 1)})
        got.append(r)
        if r.status == 429:
            break
        expect_status(r, 202)
    check(got[-1].status == 429, "anonymous tier 1/3/0 never refused 10 quick POSTs: %s"
          % [r.status for r in got])
    expect_error(got[-1], 429, "rate_limited")
    rl_headers(got[0])
    check(rl_headers(got[0])["RateLimit-Limit"] == 3, "anonymous RateLimit-Limit")


@test("auth-unlimited-tier")
def t_unlimited():
    b = main_box()
    body = {"language": "python", "source_code": "print(1)\n", "execute": False}
    for i in range(12):
        r = b.admin.req("POST", "/api/v1/submissions", body)
        expect_status(r, 201)


# ================================================================== IP allow-list

@test("auth-global-allowlist")
def t_allowlist():
    b = box("auth-ips", {"VERDICT_AUTH": "on", "VERDICT_API_SECRET": API_SECRET,
                         "ALLOWED_IPS": "10.0.0.0/8"}, workers=1)
    srv = b.srv
    for method, path, body, auth in (
            ("GET", "/api/v1/auth/me", NOBODY, b.admin.auth),
            ("GET", "/api/v1/submissions", NOBODY, b.admin.auth),
            ("POST", "/api/v1/submissions", {"language": "python", "source_code": "print(1)\n"},
             b.admin.auth),
            ("GET", "/api/v1/auth/me", NOBODY, None),
            ("POST", "/api/v1/auth/login", {"username": "x", "password": "y"}, None),
            ("GET", "/health", NOBODY, None),
            ("GET", "/openapi.json", NOBODY, None)):
        r = call(srv, method, path, body, auth=auth)
        expect_error(r, 403, "ip_not_allowed")
    # Forwarding headers are not trusted: the peer address counts.
    r = call(srv, "GET", "/api/v1/auth/me", auth=b.admin.auth,
             headers={"X-Forwarded-For": "10.1.2.3", "X-Real-IP": "10.1.2.3",
                      "Forwarded": "for=10.1.2.3"})
    expect_error(r, 403, "ip_not_allowed")


# ================================================================== webhooks

@test("auth-webhook-retry-signed", timeout=240)
def t_webhook_retry():
    b = main_box()
    k = new_key(b)
    w = key_who(b, k)
    rcv = Receiver(script=[500, 500], default=200)
    try:
        sid, _ = w.submit({"language": "python", "source_code": 'print("hooked")\n',
                           "callback_url": rcv.url("/hook/retry")})
        o = w.wait(sid)
        expect_match({"verdict": "OK", "stdout": "hooked\n",
                      "callback_url": rcv.url("/hook/retry")}, o)
        # What the receiver sees first, then what GET says of it.
        wait_for("an attempt answered 200",
                 lambda: any(h["answered"] == 200 for h in rcv.all()), 120, step=0.2)
        time.sleep(3)  # no further attempt may come
        soft = Soft()
        hits = rcv.all()
        soft.check(len(hits) == 3, "%d attempts arrived (answered %s), want 3"
                   % (len(hits), [h["answered"] for h in hits]))
        soft.check(all(h["path"] == "/hook/retry" for h in hits), "paths %s"
                   % [h["path"] for h in hits])
        ds = {soft.labelled("attempt %d" % i, check_delivery, h, k["secret"], sid)
              for i, h in enumerate(hits, 1)}
        if hits:
            body = json.loads(hits[0]["body"])
            soft.check("owner" not in body, "a client key's webhook body shows \"owner\"")
            soft.check(body.get("stdout") == "hooked\n", "webhook body stdout %r"
                       % body.get("stdout"))
        soft.check(len(ds) == 1, "X-Verdict-Delivery differs between retries: %s" % ds)
        o = soft(w.wait_webhook, sid, deadline=30)
        if o is not None:
            wh = o.get("webhook")
            soft(expect_match, {"url": rcv.url("/hook/retry"), "state": "delivered",
                                "attempts": 3, "last_status": 200}, wh,
                 "GET's webhook after 500, 500, 200")
            soft.check(isinstance(wh.get("delivered_at"), str)
                       and T.TIME_RE.match(wh["delivered_at"]),
                       "delivered_at %r" % wh.get("delivered_at"))
        else:
            soft.errs[-1] = ("GET shows a stale webhook state although the receiver answered "
                             "200: " + soft.errs[-1])
        soft.done()
    finally:
        rcv.close()


@test("auth-webhook-user-secret", timeout=150)
def t_webhook_user():
    b = main_box()
    u = new_user(b.srv, "hook")
    rcv = Receiver()
    try:
        sid, _ = u.submit({"language": "python", "source_code": 'print("u")\n',
                           "callback_url": rcv.url()})
        wait_for("the delivery", lambda: rcv.count() >= 1, 120, step=0.2)
        time.sleep(1)
        soft = Soft()
        hits = rcv.all()
        soft.check(len(hits) == 1, "%d deliveries, want 1" % len(hits))
        soft(check_delivery, hits[0], WEBHOOK_SECRET, sid)
        # The body is the submission as GET shows it to its owner.
        body = json.loads(hits[0]["body"])
        soft(expect_match, {"id": sid, "verdict": "OK", "stdout": "u\n"}, body, "webhook body")
        soft.check("owner" not in body, "a user's webhook body shows \"owner\"")
        o = soft(u.wait_webhook, sid, deadline=30)
        if o is not None:
            soft(expect_match, {"state": "delivered", "attempts": 1, "last_status": 200},
                 o.get("webhook"), "GET's webhook")
        # A cancelled submission sends nothing.
        sb, _ = T.sleeper_req(60, "hookcancel")
        sb["callback_url"] = rcv.url("/cancelled")
        sid2, _ = u.submit(sb, want=202)
        time.sleep(1)
        expect_status(u.req("DELETE", "/api/v1/submissions/" + sid2), 200)
        time.sleep(3)
        soft.check(not [h for h in rcv.all() if h["path"] == "/cancelled"],
                   "a cancelled submission was delivered")
        soft.done()
    finally:
        rcv.close()


@test("auth-webhook-blackhole", timeout=240)
def t_webhook_blackhole():
    b = main_box()
    k = new_key(b)
    w = key_who(b, k)
    hole = BlackHole()
    try:
        sid, _ = w.submit({"language": "python", "source_code": 'print("void")\n',
                           "callback_url": hole.url()})
        w.wait(sid)
        # While deliveries hang, other submissions still finish.
        wait_for("a delivery attempt to reach the black hole", lambda: hole.stats()[0] >= 1, 60)
        others = [w.submit({"language": "python", "source_code": "print(%d)\n" % i})[0]
                  for i in range(3)]
        for i, s in enumerate(others):
            expect_match({"verdict": "OK", "stdout": "%d\n" % i}, w.wait(s, deadline=120))
        # 4 attempts of 1 s with 0.2, 0.4, 0.8 s (+-50%) between: ~6 s.
        wait_for("4 attempts to reach the black hole, and their connections closed",
                 lambda: hole.stats()[0] >= 4 and hole.stats()[1] == 0, 120, step=0.2)
        time.sleep(4)
        soft = Soft()
        n, _ = hole.stats()
        soft.check(n == 4, "%d attempts reached the black hole, want webhook_max_attempts 4" % n)
        o = soft(w.wait_webhook, sid, deadline=30)
        if o is not None:
            wh = o["webhook"]
            soft(expect_match, {"state": "failed", "attempts": 4}, wh,
                 "webhook to a receiver that never answers")
            soft.check(isinstance(wh.get("last_error"), str) and wh["last_error"].strip(),
                       "failed without last_error: %s" % short(wh))
            soft.check(wh.get("delivered_at") is None, "delivered_at %r" % wh.get("delivered_at"))
        else:
            soft.errs[-1] = ("GET shows a stale webhook state after all 4 attempts ended: "
                             + soft.errs[-1])
        soft.done()
    finally:
        hole.close()


@test("auth-webhook-redirect-not-followed", timeout=180)
def t_webhook_redirect():
    """A 3xx is not 2xx: retried, never followed (a redirect could point
    anywhere, a private address included)."""
    b = main_box()
    w = key_who(b, new_key(b))
    target = Receiver()
    rcv = Receiver(default=302, location=target.url("/elsewhere"))
    try:
        sid, _ = w.submit({"language": "python", "source_code": "print(1)\n",
                           "callback_url": rcv.url("/moved")})
        wait_for("4 attempts", lambda: rcv.count() >= 4, 120, step=0.2)
        time.sleep(3)
        soft = Soft()
        soft.check(target.count() == 0, "the redirect was followed: %d requests at its Location"
                   % target.count())
        soft.check(rcv.count() == 4, "%d attempts, want 4" % rcv.count())
        o = soft(w.wait_webhook, sid, deadline=30)
        if o is not None:
            soft(expect_match, {"state": "failed", "attempts": 4, "last_status": 302},
                 o["webhook"], "webhook answered 302 every time")
        soft.done()
    finally:
        rcv.close()
        target.close()


@test("auth-webhook-queue-not-blocked", timeout=240)
def t_webhook_not_blocked():
    srv = box("auth-hang", {"VERDICT_AUTH": "off", "VERDICT_API_SECRET": API_SECRET,
                            "VERDICT_ANONYMOUS_TIER": "unlimited",
                            "VERDICT_WEBHOOK_ALLOW_PRIVATE": "yes",
                            "VERDICT_WEBHOOK_TIMEOUT_MS": "30000",
                            "VERDICT_WEBHOOK_MAX_ATTEMPTS": "1"}, workers=2).srv
    anon = Who(srv, None, "anon")
    hole = BlackHole()
    try:
        # More hanging deliveries than delivery threads (4 by default).
        hung = [anon.submit({"language": "python", "source_code": "print(%d)\n" % i,
                             "callback_url": hole.url("/%d" % i)})[0] for i in range(6)]
        wait_for("deliveries to reach the black hole", lambda: hole.stats()[0] >= 1, 60)
        t0 = time.monotonic()
        others = [anon.submit({"language": "python", "source_code": 'print("free%d")\n' % i})[0]
                  for i in range(3)]
        for i, s in enumerate(others):
            expect_match({"verdict": "OK", "stdout": "free%d\n" % i}, anon.wait(s, deadline=150))
        took = time.monotonic() - t0
        # The hanging ones held their delivery for 30 s each; these finished
        # while at least one was still pending, unless the machine was so
        # slow that it took longer than that.
        reached, still_open = hole.stats()
        check(still_open >= 1 or took > 30,
              "the other submissions took %.0f s, and no hanging delivery is still held "
              "(%d reached the black hole)" % (took, reached))
        for s in hung:
            o = anon.get(s)
            check(o.get("status") == "finished", "a submission with a hanging webhook is %s"
                  % o.get("status"))
    finally:
        hole.close()


@test("auth-webhook-ssrf", timeout=180)
def t_webhook_ssrf():
    srv = box("auth-ssrf", SSRF_ENV, workers=2).srv
    anon = Who(srv, None, "anon")
    rcv = Receiver()
    try:
        urls = [rcv.url("/direct"), "http://localhost:%d/byname" % rcv.port,
                "http://169.254.169.254/latest/meta-data/", "http://10.255.255.1:9/x",
                "http://[::1]:%d/v6" % rcv.port]
        ids = []
        for u in urls:
            sid, r = anon.submit({"language": "python", "source_code": "print(1)\n",
                                  "callback_url": u})
            check(r.status == 202, "a private callback_url is refused at POST: " + r.what())
            ids.append(sid)
        soft = Soft()
        end = time.monotonic() + 90
        for u, sid in zip(urls, ids):
            o = soft.labelled(u, anon.wait_webhook, sid,
                              deadline=max(5, end - time.monotonic()))
            if o is None:
                continue
            wh = o["webhook"]
            soft.check(wh.get("state") == "failed", "%s: webhook %s, want failed" % (u, short(wh)))
            err = (wh.get("last_error") or "").lower()
            soft.check(any(x in err for x in ("private", "loopback", "link-local", "ssrf",
                                              "not allowed", "forbidden", "internal", "public",
                                              "local")),
                       "%s: last_error %r does not say why" % (u, wh.get("last_error")))
            soft.check(wh.get("last_status") is None, "%s: last_status %r"
                       % (u, wh.get("last_status")))
        time.sleep(2)
        soft.check(rcv.count() == 0, "%d requests reached the loopback receiver: %s"
                   % (rcv.count(), [h["path"] for h in rcv.all()]))
        soft.done()
    finally:
        rcv.close()


@test("auth-off-anonymous")
def t_auth_off():
    srv = box("auth-ssrf", SSRF_ENV, workers=2).srv  # started by auth-webhook-ssrf, or now
    anon = Who(srv, None)
    expect_match({"kind": "anonymous"}, anon.me(), "/auth/me without credentials, auth off")
    sid, _ = anon.submit({"language": "python", "source_code": 'print("anon")\n'})
    expect_match({"verdict": "OK", "stdout": "anon\n"}, anon.wait(sid))
    expect_status(anon.req("GET", "/api/v1/languages"), 200)
    # Credentials sent are still checked.
    expect_401(Who(srv, Bearer("a.b.c")).req("GET", "/api/v1/auth/me"), "bad_token")
    ts = int(time.time())
    r = T.req(srv, "GET", "/api/v1/auth/me", headers={
        "X-Api-Key": "vk" + "1" * 16, "X-Api-Timestamp": str(ts), "X-Api-Signature": "00"})
    expect_401(r, "unknown_key")
    # And used: a user's submission is not the anonymous owner's.
    u = new_user(srv, "offu")
    usid, _ = u.submit({"language": "python", "source_code": "print(1)\n", "execute": False})
    expect_error(anon.req("GET", "/api/v1/submissions/" + usid), 404, "not_found")
    expect_error(u.req("GET", "/api/v1/submissions/" + sid), 404, "not_found")


@test("auth-webhook-restart", timeout=420)
def t_webhook_restart():
    env = {"VERDICT_AUTH": "on", "VERDICT_API_SECRET": API_SECRET,
           "VERDICT_WEBHOOK_BACKOFF_MS": "1500", "VERDICT_WEBHOOK_TIMEOUT_MS": "1000",
           "VERDICT_WEBHOOK_MAX_ATTEMPTS": "20", "VERDICT_WEBHOOK_ALLOW_PRIVATE": "yes"}
    srv = T.Server("auth-restart", workers=1, env=env)
    rcv = Receiver(default=503)
    try:
        k = cli_key(srv, "it-restart", "admin", tier="unlimited")
        srv.start()
        w = Who(srv, Bearer(k["secret"]))
        sid, _ = w.submit({"language": "python", "source_code": 'print("survive")\n',
                           "callback_url": rcv.url("/restart")})
        w.wait(sid)
        wait_for("a first (failing) delivery attempt", lambda: rcv.count() >= 1, 90)
        wait_for("the first attempt recorded",
                 lambda: ((w.get(sid).get("webhook") or {}).get("attempts") or 0) >= 1, 30)
        o = w.get(sid)
        check((o.get("webhook") or {}).get("state") == "pending",
              "webhook before the kill: %s" % short(o.get("webhook")))
        srv.kill9()
        before = rcv.count()
        with rcv.lock:
            rcv.default = 200
        time.sleep(1)
        srv.start()
        o = w.wait_webhook(sid, deadline=180)
        wh = o["webhook"]
        expect_match({"state": "delivered", "last_status": 200}, wh, "webhook after restart")
        hits = rcv.all()
        check(len(hits) > before, "nothing arrived after the restart")
        # An attempt under way at the kill may have arrived unrecorded.
        check(wh.get("attempts") in (len(hits), len(hits) - 1),
              "webhook.attempts %r but %d requests arrived" % (wh.get("attempts"), len(hits)))
        ds = {check_delivery(h, k["secret"], sid) for h in hits}
        check(len(ds) == 1, "X-Verdict-Delivery changed across the restart: %s" % ds)
        check(hits[-1]["answered"] == 200, "the last attempt was answered %r"
              % hits[-1]["answered"])
        time.sleep(3)
        check(rcv.count() == len(hits), "more deliveries after it was delivered")
    finally:
        rcv.close()
        srv.stop()


# ================================================================== code sessions

def new_session(w, code='print("v1")\n', language="python"):
    body = {"language": language}
    if code is not None:
        body["template_code"] = code
    r = w.req("POST", "/api/v1/sessions", body)
    expect_status(r, 201)
    s = r.json
    check(isinstance(s.get("id"), str) and s["id"], "session id: " + r.what())
    return s


@test("auth-session-autosave")
def t_session_save():
    b = main_box()
    u = new_user(b.srv, "sess")
    s = new_session(u)
    expect_match({"language": "python", "source_code": 'print("v1")\n', "version": 1}, s,
                 "new session")
    for f in ("created_at", "updated_at"):
        check(isinstance(s.get(f), str) and T.TIME_RE.match(s[f]), "%s %r" % (f, s.get(f)))
    sp = "/api/v1/sessions/" + s["id"]
    r = u.req("PATCH", sp, {"source_code": 'print("v2")\n', "version": 1})
    expect_status(r, 200)
    expect_match({"id": s["id"], "source_code": 'print("v2")\n', "version": 2}, r.json,
                 "after one save")
    check(r.json["updated_at"] >= s["updated_at"], "updated_at went back")
    r = u.req("PATCH", sp, {"source_code": 'print("v3")\n', "version": 2})
    expect_status(r, 200)
    check(r.json.get("version") == 3, "version %r after two saves" % r.json.get("version"))
    # A stale tab (it last saw version 1 or 2) is refused; nothing changes.
    for stale in (1, 2):
        r = u.req("PATCH", sp, {"source_code": 'print("old tab")\n', "version": stale})
        e = expect_error(r, 409, "stale_version")
        check(e.get("current_version") == 3, "stale_version: current_version %r, want 3"
              % e.get("current_version"))
    r = u.req("PATCH", sp, {"source_code": 'print("future")\n', "version": 99})
    expect_error(r, 409, "stale_version")
    r = u.req("PATCH", sp, {"source_code": 'print("no version")\n'})
    check(r.status in (400, 422), "PATCH without version: " + r.what())
    expect_error(r, r.status)
    r = u.req("GET", sp)
    expect_status(r, 200)
    expect_match({"source_code": 'print("v3")\n', "version": 3}, r.json, "GET after refusals")
    # The list: own sessions, newest first.
    s2 = new_session(u, code=None)
    check(s2.get("version") == 1 and isinstance(s2.get("source_code"), str),
          "a session without template_code: %s" % short(s2))
    r = u.req("GET", "/api/v1/sessions")
    expect_status(r, 200)
    ids = [x.get("id") for x in r.json.get("sessions", [])]
    check(ids == [s2["id"], s["id"]], "GET /sessions lists %s, want [%s, %s]"
          % (ids, s2["id"], s["id"]))
    check(r.json.get("total") == 2, "sessions total %r" % r.json.get("total"))
    r = u.req("GET", "/api/v1/sessions?limit=1&page=2")
    expect_status(r, 200)
    ids = [x.get("id") for x in r.json.get("sessions", [])]
    check(ids == [s["id"]] and r.json.get("total") == 2, "page 2 of 1: %s" % r.what())
    r = u.req("PATCH", sp, {"source_code": 'print("x")\n', "version": "3"})
    check(r.status in (400, 422), "PATCH with a string version: " + r.what())
    # Unknown language.
    r = u.req("POST", "/api/v1/sessions", {"language": "cobal"})
    check(r.status in (400, 422), "session of an unknown language: " + r.what())


@test("auth-session-run", timeout=240)
def t_session_run():
    b = main_box()
    u = new_user(b.srv, "runner")
    s = new_session(u)
    sp = "/api/v1/sessions/" + s["id"]
    expect_status(u.req("PATCH", sp, {"source_code": 'print("v2")\n', "version": 1}), 200)
    r = u.req("POST", sp + "/run")
    expect_status(r, 202)
    expect_match({"status": "queued", "session_id": s["id"], "session_version": 2}, r.json,
                 "run")
    r1 = r.json["id"]
    o = u.wait(r1)
    expect_match({"verdict": "OK", "stdout": "v2\n", "session_id": s["id"]}, o,
                 "the run of version 2")
    # Saved again, run with a body and ?wait=true.
    expect_status(u.req("PATCH", sp, {"source_code": "print(input()[::-1])\n", "version": 2}),
                  200)
    r = u.req("POST", sp + "/run?wait=true", {"stdin": "abc\n"}, timeout=150)
    expect_status(r, (200, 202))
    r2 = r.json["id"]
    o = r.json if r.status == 200 else u.wait(r2)
    expect_match({"status": "finished", "verdict": "OK", "stdout": "cba\n",
                  "session_id": s["id"]}, o, "the run of version 3 with stdin")
    # With tests.
    r = u.req("POST", sp + "/run", {"tests": [{"input": "xy\n", "expected_output": "yx\n"},
                                              {"input": "ab\n", "expected_output": "ab\n"}]})
    expect_status(r, 202)
    r3 = r.json["id"]
    o = u.wait(r3)
    expect_match({"verdict": "WA", "passed": 1, "total": 2}, o, "a run with tests")
    # The runs, newest first; the session's code is not changed by running it.
    r = u.req("GET", sp + "/runs")
    expect_status(r, 200)
    ids = [x.get("id") for x in r.json.get("runs", [])]
    check(ids == [r3, r2, r1], "runs %s, want [%s, %s, %s]" % (ids, r3, r2, r1))
    check(r.json.get("total") == 3, "runs total %r" % r.json.get("total"))
    r = u.req("GET", sp)
    expect_match({"version": 3, "source_code": "print(input()[::-1])\n"}, r.json)
    # Runs are the user's submissions too.
    r = u.req("GET", "/api/v1/submissions?limit=100")
    ids = {x.get("id") for x in r.json.get("submissions", [])}
    check({r1, r2, r3} <= ids, "session runs missing from the user's submissions")
    # A bad run body is refused like a submission's.
    r = u.req("POST", sp + "/run", {"limits": {"cpu_ms": "lots"}})
    expect_status(r, (400, 422))
    r = u.req("POST", sp + "/run", {"source_code": "print(1)\n"})
    expect_status(r, (400, 422))


@test("auth-session-concurrent-save")
def t_session_race():
    """Two tabs saving on top of the same version: exactly one wins."""
    b = main_box()
    u = new_user(b.srv, "race")
    s = new_session(u)
    sp = "/api/v1/sessions/" + s["id"]
    rs = at_once(8, lambda i: u.req("PATCH", sp, {"source_code": "print(%d)\n" % i,
                                                  "version": 1}))
    sts = [r.status for r in rs]
    check(sorted(sts) == [200] + [409] * 7, "8 saves on top of version 1 at once: %s" % sts)
    win = [i for i, r in enumerate(rs) if r.status == 200][0]
    r = u.req("GET", sp)
    expect_match({"version": 2, "source_code": "print(%d)\n" % win}, r.json,
                 "the session after the race")
    for r in rs:
        if r.status == 409:
            e = expect_error(r, 409, "stale_version")
            check(e.get("current_version") == 2, "current_version %r" % e.get("current_version"))


@test("auth-session-other-user-404")
def t_session_other():
    b = main_box()
    a, bb = new_user(b.srv, "sa"), new_user(b.srv, "sb")
    s = new_session(a)
    sp = "/api/v1/sessions/" + s["id"]
    expect_error(bb.req("GET", sp), 404, "not_found")
    expect_error(bb.req("PATCH", sp, {"source_code": "print(666)\n", "version": 1}), 404,
                 "not_found")
    expect_error(bb.req("POST", sp + "/run"), 404, "not_found")
    expect_error(bb.req("GET", sp + "/runs"), 404, "not_found")
    expect_error(bb.req("DELETE", sp), 404, "not_found")
    r = bb.req("GET", "/api/v1/sessions")
    expect_status(r, 200)
    check(s["id"] not in [x.get("id") for x in r.json.get("sessions", [])],
          "B lists A's session")
    expect_error(key_who(b, new_key(b)).req("GET", sp), 404, "not_found")
    # Untouched, and the admin sees it.
    r = a.req("GET", sp)
    expect_match({"version": 1, "source_code": 'print("v1")\n'}, r.json, "after B's tries")
    expect_status(b.admin.req("GET", sp), 200)
    expect_error(a.req("GET", "/api/v1/sessions/nonexistent-session"), 404, "not_found")


@test("auth-session-delete")
def t_session_delete():
    b = main_box()
    u = new_user(b.srv, "sdel")
    s = new_session(u)
    sp = "/api/v1/sessions/" + s["id"]
    r = u.req("DELETE", sp)
    expect_status(r, 204)
    expect_error(u.req("GET", sp), 404, "not_found")
    expect_error(u.req("POST", sp + "/run"), 404, "not_found")
    expect_error(u.req("DELETE", sp), 404, "not_found")


@test("auth-session-rate-charged", timeout=120)
def t_session_rate():
    b = main_box()
    k = new_key(b, tier="basic")
    w = key_who(b, k)
    s = new_session(w, code="print(1)\n")
    sp = "/api/v1/sessions/" + s["id"]
    got = []
    for i in range(8):
        r = w.req("POST", sp + "/run")
        got.append(r.status)
        if r.status == 429:
            expect_error(r, 429, ("rate_limited", "too_many_active"))
            break
        expect_status(r, 202)
        rl_headers(r)
    check(got[-1] == 429, "session runs of a basic key never refused: %s" % got)


# ================================================================== at the end

@test("auth-no-5xx-anywhere")
def t_no_5xx():
    check(not T.SEEN_5XX, "%d answers of 500 and the like: %s"
          % (len(T.SEEN_5XX), "; ".join(T.SEEN_5XX[:5])))


@test("auth-x-request-id-everywhere")
def t_rid():
    check(not T.NO_REQUEST_ID, "%d responses without X-Request-Id, e.g. %s"
          % (len(T.NO_REQUEST_ID), "; ".join(T.NO_REQUEST_ID[:5])))


@test("auth-servers-survived")
def t_alive():
    dead = ["%s (exit %s: %s)" % (b.srv.name, b.srv.proc.returncode, short(b.srv.log_tail(), 200))
            for b in _BOXES.values() if isinstance(b, Box) and not b.srv.alive()]
    check(not dead, "servers died: " + "; ".join(dead))


# ================================================================== runner

def main():
    return T.run_main(__doc__, TESTS, "verdict-auth.", "srv-auth-*")


if __name__ == "__main__":
    sys.exit(main())
