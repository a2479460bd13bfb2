#!/usr/bin/env python3
"""test_scale.py - the scale-out mode over real processes: two API nodes
(`verdict serve --role api`) and three `verdict worker --workers 2`
processes on one Redis database and one PostgreSQL database (a shared
SQLite file when VD_TEST_DATABASE_URL is not set), as docs/api.md's
scale-out section describes.

Usage: test_scale.py --verdict BUILD/verdict [--tmp DIR] [--only SUBSTR]...
                     [--list] [--skip-all REASON] [-v]

run.sh runs it with --backend scale only, after test_api.py and
test_auth.py: it needs VD_TEST_REDIS_URL (redis://HOST:PORT) and, for the
PostgreSQL store, VD_TEST_DATABASE_URL (postgres://...; a database of its
own is made from it), which `scripts/services.sh env` gives. Without
VD_TEST_REDIS_URL, or when Redis (or PostgreSQL) does not answer, every
test is skipped, saying why.

It reuses test_api.py's harness (imported as a module: its Server, req,
SSE, wait_for, run_main) and prints the same lines: `ok NAME`,
`FAIL NAME: why` or `skip NAME: why`, then `N passed, N failed`
(`, N skipped`) last. Every test is named scale-*; the processes are under
DIR/srv-scale-*/ (each with its stderr.log).

The tests share one cluster, started by the first test, in this order:
  scale-cluster       the five processes start; GET /api/v1/workers on
                      either API node lists the three workers
  scale-500-once      500 submissions (plaintext and python, each with an
                      output of its own) round-robin over both API nodes
                      from 8 threads: each finishes OK with its own stdout,
                      attempt 1, and exactly one stored-result line in all
                      the worker logs together
  scale-wait-other-node  20 ?wait=true at once on both nodes: each 200 with
                      its own result
  scale-sse-other-node  the event stream on the node that did not accept
                      the submission streams it to its result
  scale-cancel-other-node  DELETE on the other node kills a running 30 s
                      sleeper within ~2 s; the worker that ran it logs it
  scale-kill9-takeover  kill -9 of the worker running a 4 s job: another
                      takes it over after the lease (VERDICT_QUEUE_LEASE_MS
                      2000 on every process) and finishes it as attempt 2,
                      once; its registry entry counts reclaimed 1
  scale-sigstop-takeover  SIGSTOP (not death) of the worker running a 5 s
                      job: another runs it as attempt 2; after SIGCONT the
                      stopped one's older result is not stored (one line)
  scale-service-restarts  redis-server and PostgreSQL restarted (once each,
                      scripts/services.sh) while 150 submissions are sent
                      over ~10 s: each accepted one finishes, once; each
                      refused one got a 503 JSON error; /health/ready is 200
                      again and verdict_reconnects_total counts reconnects
  scale-outages       the same with longer outages: Redis down for 3 s
                      (SHUTDOWN, then services.sh start), then both down
                      for 3 s (services.sh stop, start), then kill -9 of
                      redis-server (kill-redis); GET /health/ready
                      and /api/v1/workers during them answer (503), not hang
  scale-processes-alive, scale-no-5xx
On failure it names the ids at fault and prints the tail of each process's
stderr log. The whole suite takes two or three minutes on a 2-core VM.
"""
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

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ left in the tree

import test_api as T  # noqa: E402  (the harness; importing it runs nothing)
from test_api import Fail, Skip, check, short, expect_status, expect_match, \
    wait_for  # noqa: E402

SERVICES = os.path.join(T.REPO, "scripts", "services.sh")
WORKER_RE = re.compile(r"^verdict: worker running with \d+ slots\s*$")
RESULT_RE = re.compile(r"module=worker id=([0-9a-f-]{36}) attempt=(\d+) lang=(\S+) "
                       r"verdict=(\S+) ms=")
CANCEL_RE = re.compile(r"module=worker id=([0-9a-f-]{36}) attempt=(\d+) cancelled")
TAKEOVER_RE = re.compile(r"id=([0-9a-f-]{36}) taken over from a silent worker "
                         r"\(attempt (\d+)\)")
LEASE_MS = 2000
N_SUBS = 500
TAG = secrets.token_hex(3)
API_SECRET = "it-scale-" + secrets.token_hex(16)

TESTS, test = T.registry()


# ------------------------------------------------------------------ the cluster

class Cluster:
    def __init__(self):
        self.redis_url, db_url = T.backend_new("scale")
        self.db_url = db_url or "sqlite:" + os.path.join(T.TMP, "scale.db")
        self.apis = []
        self.workers = []
        self.killed = []      # workers killed on purpose (kill9 test)

    def proc(self, name, command, workers, ready_re=None, args=()):
        # One master secret for the whole cluster, as docs/api.md asks.
        env = {"VERDICT_QUEUE_LEASE_MS": LEASE_MS, "VERDICT_NODE_NAME": name,
               "VERDICT_API_SECRET": API_SECRET}
        return T.Server(name, workers=workers, env=env, args=args, command=command,
                        ready_re=ready_re, db_url=self.db_url, redis_url=self.redis_url)

    def start(self):
        # The first API node alone first: it makes the database's tables.
        a1 = self.proc("scale-api1", "serve", 2, args=["--role", "api"])
        self.apis.append(a1)
        a1.start()
        a2 = self.proc("scale-api2", "serve", 2, args=["--role", "api"])
        self.apis.append(a2)
        for i in (1, 2, 3):
            self.workers.append(self.proc("scale-w%d" % i, "worker", 2, ready_re=WORKER_RE))
        errs = []

        def go(s):
            try:
                s.start()
            except Fail as e:
                errs.append(str(e))

        ts = [threading.Thread(target=go, args=(s,)) for s in [a2] + self.workers]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        check(not errs, "; ".join(errs))
        return self

    def all(self):
        return self.apis + self.workers

    def diag(self, n=8):
        """The tail of each process's stderr log."""
        out = []
        for s in self.all():
            out.append("[%s %s] %s" % (s.name, "alive" if s.alive() else "DEAD",
                                        s.log_tail(n)))
        return " || ".join(out)


def services_reason():
    """Why the scale tests cannot run here, or None."""
    if not T.REDIS_BASE:
        return "VD_TEST_REDIS_URL is not set (run.sh --backend scale sets it)"
    try:
        pong = T.redis_cmd(T.REDIS_BASE, 0, ("PING",), timeout=5)[0]
    except (OSError, Fail) as e:
        return "redis at %s does not answer: %s" % (T.REDIS_BASE, e)
    if pong != "PONG":
        return "redis at %s answered PING with %r" % (T.REDIS_BASE, pong)
    if T.PG_BASE:
        try:
            T.psql(T.PG_BASE, "SELECT 1", timeout=20)
        except Fail as e:
            return "PostgreSQL at %s: %s" % (T.PG_BASE, e)
    return None


_C = {}


def cluster():
    if "skip" in _C:
        raise Skip(_C["skip"])
    if "err" in _C:
        raise Fail("the cluster did not start: " + _C["err"])
    if "c" not in _C:
        why = services_reason()
        if why:
            _C["skip"] = why
            raise Skip(why)
        c = Cluster()
        _C["c"] = c
        try:
            c.start()
        except Fail as e:
            _C["err"] = "%s; logs: %s" % (e, c.diag())
            raise Fail(_C["err"])
    c = _C["c"]
    dead = [s.name for s in c.all() if not s.alive()]
    check(not dead, "processes dead: %s; logs: %s" % (dead, c.diag()))
    return c


# ------------------------------------------------------------------ helpers

def logs_of(srv):
    try:
        with open(srv.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def result_lines(servers):
    """id -> [(server name, attempt, verdict)] of every stored-result line."""
    out = {}
    for s in servers:
        for m in RESULT_RE.finditer(logs_of(s)):
            out.setdefault(m.group(1), []).append((s.name, int(m.group(2)), m.group(4)))
    return out


def registry(srv):
    r = T.req(srv, "GET", "/api/v1/workers")
    expect_status(r, 200)
    j = r.json
    check(isinstance(j.get("workers"), list), "no workers list: " + r.what())
    return j


def try_req(srv, method, path, body=None, timeout=30, headers=None):
    """One request that never raises: (status or None, JSON or None, what
    happened in words). headers, when a dict, gets the response's."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    hdrs = {"Content-Type": "application/json"} if data is not None else {}
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        b = r.read()
        if headers is not None:
            headers.update({k.lower(): v for k, v in r.getheaders()})
    except socket.timeout:
        return None, None, "no answer within %d s" % timeout
    except (OSError, http.client.HTTPException) as e:
        return None, None, "%s: %s after %.1f s" % (type(e).__name__, e, time.monotonic() - t0)
    finally:
        conn.close()
    try:
        j = json.loads(b.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        j = None
    if r.status >= 500 and r.status != 503:
        T.SEEN_5XX.append("%s %s -> %d %s" % (method, path, r.status, short(b, 200)))
    return r.status, j, "%d %s (%.1f s)" % (r.status, short(b, 160), time.monotonic() - t0)


def expected_out(i):
    return "scale-%s-%d\n" % (TAG, i)


def body_for(i):
    """Submission i: plaintext (cat) or python, alternately, printing a line
    of its own."""
    if i % 2:
        return {"language": "python", "source_code": "print(%r)\n" % expected_out(i)[:-1]}
    return {"language": "plaintext", "source_code": expected_out(i)}


def wait_all_finished(c, ids, deadline_s, threads=4):
    """Polls every id (alternating the API nodes) until it is finished or
    cancelled; {id: object} and the ids still not done at the deadline."""
    done = {}
    pending = list(ids)
    end = time.monotonic() + deadline_s
    lock = threading.Lock()
    while pending and time.monotonic() < end:
        batch = list(pending)
        got = {}

        def poll(part):
            for k, sid in enumerate(part):
                srv = c.apis[k % len(c.apis)]
                st, j, _ = try_req(srv, "GET", "/api/v1/submissions/" + sid, timeout=20)
                if st == 200 and j and j.get("status") in ("finished", "cancelled"):
                    with lock:
                        got[sid] = j

        parts = [batch[i::threads] for i in range(threads)]
        ts = [threading.Thread(target=poll, args=(p,)) for p in parts if p]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        done.update(got)
        pending = [s for s in pending if s not in done]
        if pending:
            time.sleep(0.5)
    return done, pending


def marker_program(secs, tag, then_print=None):
    """Python that sleeps `secs` (then prints then_print) in a process whose
    command line holds a marker of this run (found in /proc)."""
    marker = "%s-%s" % (T.RUN, tag)
    code = "import time; time.sleep(%s)" % secs
    if then_print is not None:
        code += "; print(%r)" % then_print
    src = ("import os\n"
           "os.execv('/usr/bin/python3', ['/usr/bin/python3', '-c', %r, %r])\n" % (code, marker))
    return src, marker


def ppid(pid):
    return T.proc_status(pid, "PPid")


def owner_of(pids, servers):
    """The server among servers whose process is an ancestor of one of pids."""
    by_pid = {s.proc.pid: s for s in servers if s.alive()}
    for p in pids:
        q, n = p, 0
        while q and q > 1 and n < 64:
            if q in by_pid:
                return by_pid[q]
            q = ppid(q)
            n += 1
    return None


def metric_sum(srv, name):
    _, m = T.metrics(srv)
    return {k[1]: v for k, v in m.items() if k[0] == name}


# ------------------------------------------------------------------ tests

@test("scale-cluster", timeout=120)
def t_cluster():
    c = cluster()
    names = sorted(w.name for w in c.workers)
    for api in c.apis:
        def listed(api=api):
            j = registry(api)
            got = sorted(w.get("name") for w in j["workers"])
            return j if got == names else None
        try:
            j = wait_for("GET /api/v1/workers on %s to list %s" % (api.name, names), listed, 20,
                         step=0.3)
        except Fail as e:
            raise Fail("%s; last: %s" % (e, short(registry(api), 600)))
        check(j.get("total") == 3 and j.get("slots") == 6,
              "total %r, slots %r: want 3 and 6: %s" % (j.get("total"), j.get("slots"),
                                                        short(j, 400)))
        for w in j["workers"]:
            for k in ("name", "host", "pid", "slots", "running", "load", "finished", "reclaimed",
                      "languages"):
                check(k in w, "worker entry without %r: %s" % (k, short(w, 300)))
            check(w["slots"] == 2, "slots %r of %s" % (w["slots"], w["name"]))
            check("python" in w["languages"] and "plaintext" in w["languages"],
                  "languages of %s: %s" % (w["name"], w["languages"]))
        pids = sorted(w["pid"] for w in j["workers"])
        check(pids == sorted(s.proc.pid for s in c.workers),
              "pids %s, want those of the worker processes %s"
              % (pids, sorted(s.proc.pid for s in c.workers)))
    for api in c.apis:
        r = T.req(api, "GET", "/health/ready")
        expect_status(r, 200)
        check(r.json.get("backend") == "redis" and
              r.json.get("checks", {}).get("redis", {}).get("ok") is True,
              "/health/ready of %s: %s" % (api.name, r.what()))


_SUBS = {}   # i -> id, of scale-500-once


@test("scale-500-once", timeout=300)
def t_500():
    c = cluster()
    ids = {}
    errors = []
    lock = threading.Lock()
    nthreads = 8
    t0 = time.monotonic()

    def sender(k):
        for i in range(k, N_SUBS, nthreads):
            srv = c.apis[i % 2]
            st, j, what = try_req(srv, "POST", "/api/v1/submissions", body_for(i))
            with lock:
                if st in (201, 202) and j and isinstance(j.get("id"), str):
                    ids[i] = (j["id"], srv.name)
                else:
                    errors.append("submission %d to %s: %s" % (i, srv.name, what))

    ts = [threading.Thread(target=sender, args=(k,)) for k in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    t_sent = time.monotonic() - t0
    check(not errors, "%d of %d refused: %s" % (len(errors), N_SUBS, "; ".join(errors[:5])))
    check(len({v[0] for v in ids.values()}) == N_SUBS, "ids repeat")
    _SUBS.update({i: v[0] for i, v in ids.items()})
    done, pending = wait_all_finished(c, [v[0] for v in ids.values()], 150)
    t_done = time.monotonic() - t0
    if pending:
        o = [short(T.get_sub(c.apis[0], s), 200) for s in pending[:3]]
        raise Fail("%d of %d not finished %d s after the last was sent: %s; e.g. %s; logs: %s"
                   % (len(pending), N_SUBS, t_done - t_sent, " ".join(pending[:10]),
                      " | ".join(o), c.diag()))
    bad = []
    for i, (sid, _) in sorted(ids.items()):
        o = done[sid]
        m = T.match({"id": sid, "status": "finished", "verdict": "OK", "stdout": expected_out(i),
                     "attempt": 1}, o)
        if m:
            bad.append("%d %s: %s" % (i, sid, m))
    check(not bad, "%d wrong: %s" % (len(bad), "; ".join(bad[:5])))
    lines = result_lines(c.workers)
    missing = [sid for sid, _ in ids.values() if sid not in lines]
    twice = ["%s: %s" % (sid, lines[sid]) for sid, _ in ids.values()
             if len(lines.get(sid, ())) > 1]
    check(not missing and not twice,
          "stored-result lines: %d ids without one (%s), %d with more than one (%s)"
          % (len(missing), " ".join(missing[:5]), len(twice), "; ".join(twice[:5])))
    not1 = ["%s: %s" % (sid, lines[sid]) for sid, _ in ids.values() if lines[sid][0][1] != 1]
    check(not not1, "result lines of another attempt than 1: %s" % "; ".join(not1[:5]))
    per = {}
    for sid, _ in ids.values():
        per[lines[sid][0][0]] = per.get(lines[sid][0][0], 0) + 1
    sys.stdout.write("# scale-500-once: sent in %.1f s, all finished in %.1f s; per worker %s\n"
                     % (t_sent, t_done, per))
    # The registry's counts follow (within a heartbeat or two).

    def counted():
        j = registry(c.apis[1])
        n = sum(w.get("finished", 0) for w in j["workers"])
        return j if n >= N_SUBS else None
    try:
        j = wait_for("the registry's finished counts to add up to %d" % N_SUBS, counted, 15,
                     step=0.5)
    except Fail as e:
        raise Fail("%s: %s" % (e, short(registry(c.apis[1]), 500)))
    fin = {w["name"]: w.get("finished") for w in j["workers"]}
    check(fin == per, "the registry's finished counts %s, the logs' %s" % (fin, per))


@test("scale-wait-other-node", timeout=120)
def t_wait():
    """?wait=true on an API node with no workers of its own: 20 at once,
    over both nodes, each answered 200 with its own result."""
    c = cluster()
    out, errs = {}, []
    lock = threading.Lock()

    def one(i):
        srv = c.apis[i % 2]
        st, j, what = try_req(srv, "POST", "/api/v1/submissions?wait=true", body_for(30000 + i),
                              timeout=90)
        with lock:
            if st == 200 and j:
                out[i] = j
            else:
                errs.append("%d on %s: %s" % (i, srv.name, what))

    ts = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errs, "%d ?wait=true not answered 200: %s" % (len(errs), "; ".join(errs[:4])))
    for i, j in out.items():
        expect_match({"status": "finished", "verdict": "OK", "stdout": expected_out(30000 + i),
                      "attempt": 1}, j, "?wait=true %d" % i)


@test("scale-sse-other-node", timeout=120)
def t_sse():
    c = cluster()
    a, b = c.apis
    src = "import time\ntime.sleep(1.5)\nprint('over there')\n"
    sid, _ = T.submit(a, {"language": "python", "source_code": src})
    ev = T.SSE(b, sid, timeout=40)
    try:
        evs = ev.all(90)
    finally:
        ev.close()
    names = [e[0] for e in evs]
    check(evs and names[-1] == "result", "events on the other node: %s" % names)
    check(names.count("result") == 1, "result events: %s" % names)
    check(evs[0][0] == "status" and evs[0][1].get("status") in ("queued", "running"),
          "first event %s %s: want the live state (queued or running)"
          % (names[0], short(evs[0][1], 200)))
    check("running" in [e[1].get("status") for e in evs if e[0] == "status"],
          "no status running event on the other node: %s"
          % [(e[0], e[1].get("status")) for e in evs])
    expect_match({"id": sid, "status": "finished", "verdict": "OK", "stdout": "over there\n",
                  "attempt": 1}, evs[-1][1], "the result event on the other node")
    # And the late stream of a finished one there too.
    ev = T.SSE(a, sid, timeout=20)
    try:
        late = ev.all(20)
    finally:
        ev.close()
    check([e[0] for e in late] == ["result"], "late stream: %s" % [e[0] for e in late])


@test("scale-cancel-other-node", timeout=120)
def t_cancel():
    c = cluster()
    a, b = c.apis
    src, marker = marker_program(30, "cancel")
    sid, _ = T.submit(a, {"language": "python", "source_code": src, "limits": {"wall_ms": 60000}})
    try:
        T.wait_status(b, sid, ("running",), deadline=60, bad=("finished", "cancelled"))
        pids = wait_for("the sleeper's process", lambda: T.marker_pids(marker), 20)
        runner = owner_of(pids, c.workers)
        check(runner is not None, "no worker process is an ancestor of the sleeper %s" % pids)
        t0 = time.monotonic()
        r = T.req(b, "DELETE", "/api/v1/submissions/" + sid)
        expect_status(r, 200)
        expect_match({"id": sid, "status": "cancelled"}, r.json, "DELETE on the other node")
        try:
            wait_for("the sleeper's processes to be gone", lambda: not T.marker_pids(marker), 5,
                     step=0.05)
        except Fail as e:
            raise Fail("%s (still %s); logs: %s" % (e, T.marker_pids(marker), c.diag()))
        gone = time.monotonic() - t0
        check(gone <= 2.5, "the sleeper was killed %.1f s after the DELETE, want ~2 s" % gone)
        o = T.wait_status(a, sid, ("cancelled",), deadline=10)
        check(o.get("verdict") is None, "a cancelled one with verdict %r" % o.get("verdict"))

        def logged():
            return [s.name for s in c.workers
                    if any(m.group(1) == sid for m in CANCEL_RE.finditer(logs_of(s)))]
        who = wait_for("a worker's log line 'id=%s attempt=1 cancelled'" % sid, logged, 10)
        check(who == [runner.name], "cancel logged by %s, the sleeper ran on %s"
              % (who, runner.name))
        check(sid not in result_lines(c.workers), "a result stored for the cancelled one")
        sys.stdout.write("# scale-cancel-other-node: killed %.2f s after the DELETE (on %s)\n"
                         % (gone, runner.name))
    finally:
        try_req(a, "DELETE", "/api/v1/submissions/" + sid)


@test("scale-kill9-takeover", timeout=150)
def t_kill9():
    c = cluster()
    a, b = c.apis
    src, marker = marker_program(4, "kill9", then_print="slept")
    sid, _ = T.submit(a, {"language": "python", "source_code": src,
                          "limits": {"wall_ms": 30000}})
    T.wait_status(a, sid, ("running",), deadline=60, bad=("finished", "cancelled"))
    pids = wait_for("the sleeper's process", lambda: T.marker_pids(marker), 20, step=0.05)
    victim = owner_of(pids, c.workers)
    check(victim is not None, "no worker process is an ancestor of the sleeper %s" % pids)
    survivors = [w for w in c.workers if w is not victim]
    before = {w["name"]: w.get("reclaimed", 0) for w in registry(a)["workers"]}
    t0 = time.monotonic()
    victim.kill9()
    c.killed.append(victim.name)
    # The killed worker's program: does it outlive its worker? (noted)
    time.sleep(0.5)
    orphans = T.marker_pids(marker)
    deadline = LEASE_MS / 1000 + 4 + 25
    o = T.wait_status(b, sid, ("finished",), deadline=deadline, bad=("cancelled",))
    took = time.monotonic() - t0
    expect_match({"id": sid, "status": "finished", "verdict": "OK", "stdout": "slept\n",
                  "attempt": 2}, o, "the job of the killed worker")
    lines = result_lines(survivors)
    mine = lines.get(sid, [])
    check(len(mine) == 1 and mine[0][1] == 2,
          "stored-result lines for %s in the survivors' logs: %s, want one of attempt 2"
          % (sid, mine))
    taker = [w for w in survivors if w.name == mine[0][0]][0]
    takeovers = [(s.name, m.group(2)) for s in survivors
                 for m in TAKEOVER_RE.finditer(logs_of(s)) if m.group(1) == sid]
    check(takeovers == [(taker.name, "2")], "takeover lines %s, want one by %s (attempt 2)"
          % (takeovers, taker.name))
    time.sleep(1)
    o2 = T.get_sub(a, sid)
    check(o2.get("attempt") == 2 and o2.get("status") == "finished",
          "changed after the end: %s" % short(o2, 200))

    # The taker's reclaimed count: 1 more, in the registry and in
    # verdict_worker_reclaimed (the worker process has no HTTP of its own).
    def reclaimed():
        j = registry(b)
        w = [x for x in j["workers"] if x.get("name") == taker.name]
        return w and w[0].get("reclaimed", 0) - before.get(taker.name, 0) >= 1 and w[0]
    try:
        w = wait_for("the registry to count the takeover", reclaimed, 10, step=0.5)
    except Fail as e:
        raise Fail("%s: %s" % (e, short(registry(b), 500)))
    check(w["reclaimed"] - before.get(taker.name, 0) == 1, "reclaimed of %s went %s -> %s"
          % (taker.name, before.get(taker.name), w["reclaimed"]))
    others = [x for x in registry(b)["workers"]
              if x.get("name") != taker.name and x.get("name") != victim.name]
    check(all(x.get("reclaimed", 0) == before.get(x["name"], 0) for x in others),
          "another survivor counts a takeover: %s" % short(others, 300))
    m = metric_sum(b, "verdict_worker_reclaimed")
    key = '{worker="%s"}' % taker.name
    check(m.get(key) == w["reclaimed"], "verdict_worker_reclaimed%s = %r, want %r (all: %s)"
          % (key, m.get(key), w["reclaimed"], m))
    sys.stdout.write("# scale-kill9-takeover: %s killed; %s finished it as attempt 2 %.1f s "
                     "later (lease %d ms)%s\n"
                     % (victim.name, taker.name, took, LEASE_MS,
                        "; the killed worker's program outlived it (pids %s)" % orphans
                        if orphans else ""))
    # The killed one drops out of the registry (its record expires).

    def dropped():
        j = registry(a)
        return victim.name not in [x.get("name") for x in j["workers"]] and j
    j = wait_for("%s to drop out of GET /api/v1/workers" % victim.name, dropped, 20, step=0.5)
    check(j.get("total") == 2, "total %r after the kill" % j.get("total"))
    # Back to three workers for what follows.
    victim.start()


@test("scale-sigstop-takeover", timeout=150)
def t_sigstop():
    """A worker that stops answering without dying (SIGSTOP, as a network
    partition longer than the lease looks): another takes its job over as
    attempt 2; when the first comes back (SIGCONT) and finishes its old
    attempt, that result is not stored: still attempt 2's, and one
    stored-result line in all the logs."""
    c = cluster()
    a, b = c.apis
    src, marker = marker_program(5, "stop", then_print="resumed")
    sid, _ = T.submit(a, {"language": "python", "source_code": src,
                          "limits": {"wall_ms": 30000}})
    T.wait_status(a, sid, ("running",), deadline=60, bad=("finished", "cancelled"))
    pids = wait_for("the sleeper's process", lambda: T.marker_pids(marker), 20, step=0.05)
    frozen = owner_of(pids, c.workers)
    check(frozen is not None, "no worker process is an ancestor of the sleeper %s" % pids)
    t0 = time.monotonic()
    os.kill(frozen.proc.pid, signal.SIGSTOP)
    try:
        o = T.wait_status(b, sid, ("finished",), deadline=LEASE_MS / 1000 + 5 + 30,
                          bad=("cancelled",))
        took = time.monotonic() - t0
    finally:
        os.kill(frozen.proc.pid, signal.SIGCONT)
    expect_match({"id": sid, "status": "finished", "verdict": "OK", "stdout": "resumed\n",
                  "attempt": 2}, o, "the job of the stopped worker")
    # The stopped one finishes its attempt 1 once it runs again (its
    # program has ended meanwhile): give it time to try to store it.
    time.sleep(4)
    o2 = T.get_sub(a, sid)
    expect_match({"status": "finished", "attempt": 2, "stdout": "resumed\n",
                  "finished_at": o["finished_at"]}, o2, "after the stopped worker came back")
    lines = result_lines(c.workers).get(sid, [])
    said = [ln.split(" module=", 1)[-1] for ln in logs_of(frozen).splitlines() if sid in ln]
    check(len(lines) == 1 and lines[0][1] == 2 and lines[0][0] != frozen.name,
          "stored-result lines for %s: %s, want one, of attempt 2, not by the stopped %s "
          "(it logged: %s)" % (sid, lines, frozen.name, " | ".join(said)))
    sys.stdout.write("# scale-sigstop-takeover: %s stopped; %s finished it as attempt 2 %.1f s "
                     "later; the stopped one logged for it: %s\n"
                     % (frozen.name, lines[0][0], took, " | ".join(said) or "-"))
    check(frozen.alive(), "the stopped worker died: " + frozen.log_tail())

    # And it is back in the registry, taking jobs.
    def back():
        j = registry(a)
        return frozen.name in [x.get("name") for x in j["workers"]] and j
    wait_for("%s back in GET /api/v1/workers" % frozen.name, back, 15, step=0.5)


def services(*args):
    """scripts/services.sh ARGS; (exit status, seconds, stderr)."""
    t = time.monotonic()
    p = subprocess.run(["bash", SERVICES] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=180)
    return p.returncode, time.monotonic() - t, short(p.stderr.decode("utf-8", "replace"), 300)


def own_services():
    """Skip unless the Redis (and PostgreSQL) under test are the private
    instances of scripts/services.sh, which the restart tests restart."""
    p = subprocess.run(["bash", SERVICES, "env"], capture_output=True, timeout=30)
    env = dict(ln.split("=", 1) for ln in p.stdout.decode().splitlines() if "=" in ln)

    def addr(url):
        u = T.urllib.parse.urlsplit(url or "")
        return (u.hostname, u.port)
    if addr(T.REDIS_BASE) != addr(env.get("REDIS_URL")) or \
            (T.PG_BASE and addr(T.PG_BASE) != addr(env.get("DATABASE_URL"))):
        raise Skip("restarts only the instances of scripts/services.sh (%s), not %s"
                   % (", ".join(sorted(env.values())), T.REDIS_BASE))


def redis_shutdown():
    """SHUTDOWN of the Redis server (as services.sh stop does it, with
    redis-cli shutdown); the connection closes without a reply."""
    try:
        T.redis_cmd(T.REDIS_BASE, 0, ("SHUTDOWN",), timeout=10)
    except OSError:
        pass
    wait_for("redis to stop", lambda: services_reason() is not None, 10)
    return 0, 0.0, ""


def stream_through(c, tag, n, span, events, base):
    """Sends n submissions over span seconds, alternating the API nodes,
    from one client thread, while events [(at_s, label, fn)] run in
    another; then checks that every accepted one finishes, exactly once,
    and that every refused one got a 503 JSON error. A list of problems
    (empty: all well) and the accepted ids."""
    results = []        # (i, node, status, json, what, at)
    done_events = []    # (label, rc, secs, err, at)
    probes = []         # what the API answered during the events
    lock = threading.Lock()
    probe_id, _ = T.submit(c.apis[0], body_for(base - 1))

    def sender():
        t0 = time.monotonic()
        for i in range(n):
            due = t0 + span * i / n
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            srv = c.apis[i % 2]
            hs = {}
            st, j, what = try_req(srv, "POST", "/api/v1/submissions", body_for(base + i),
                                  timeout=30, headers=hs)
            if st == 503 and not (hs.get("retry-after") or "").strip().isdigit():
                what += " without a Retry-After of whole seconds (%r)" % hs.get("retry-after")
                st = "503 without Retry-After"
            with lock:
                results.append((i, srv.name, st, j, what, time.monotonic() - t0))

    def runner():
        t0 = time.monotonic()
        for at, label, fn in events:
            if at > time.monotonic() - t0:
                time.sleep(at - (time.monotonic() - t0))
            if fn is None:    # a probe of the API nodes
                for api in c.apis:
                    for path in ("/health/ready", "/api/v1/workers",
                                 "/api/v1/submissions/" + probe_id):
                        st, j, what = try_req(api, "GET", path, timeout=20)
                        probes.append((label, api.name, path, st, j, what))
                continue
            rc, secs, err = fn()
            done_events.append((label, rc, secs, err, time.monotonic() - t0))

    ts = [threading.Thread(target=sender), threading.Thread(target=runner)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    problems = []
    for label, rc, secs, err, at in done_events:
        if rc != 0:
            problems.append("%s: exit %d: %s" % (label, rc, err))
    accepted = {}
    refused, broken = [], []
    for i, node, st, j, what, at in results:
        if st in (200, 201, 202) and j and isinstance(j.get("id"), str):
            accepted[j["id"]] = i
        elif st == 503 and j and isinstance(j.get("error"), dict) and \
                isinstance(j["error"].get("code"), str) and j["error"].get("message"):
            refused.append("%d@%.1fs %s %s" % (i, at, node, j["error"]["code"]))
        else:
            broken.append("%d@%.1fs to %s: %s" % (i, at, node, what))
    evs = ", ".join("%s at %.1f s took %.1f s" % (e[0], e[4] - e[2], e[2]) for e in done_events)
    sys.stdout.write("# %s: %d accepted, %d refused with a 503 JSON error (%s), %d otherwise; "
                     "%s\n" % (tag, len(accepted), len(refused), ", ".join(refused[:6]) or "-",
                               len(broken), evs))
    if broken:
        problems.append("%d answers neither 2xx nor a 503 JSON error: %s"
                        % (len(broken), "; ".join(broken[:6])))
    for label, node, path, st, j, what in probes:
        ok = st in (200, 503) and isinstance(j, dict)
        if st == 503:
            ok = ok and (isinstance(j.get("error"), dict) or j.get("status") == "not_ready")
        sys.stdout.write("# %s: %s: %s GET %s -> %s\n" % (tag, label, node, path,
                                                            short(what, 110)))
        if not ok:
            problems.append("%s: GET %s on %s: %s" % (label, path, node, what))
    done, pending = wait_all_finished(c, list(accepted), 60)
    if pending:
        problems.append("%d accepted ones not finished within 60 s: %s"
                        % (len(pending), " ".join(pending[:8])))
    wrong = []
    for sid, o in done.items():
        m = T.match({"status": "finished", "verdict": "OK",
                     "stdout": expected_out(base + accepted[sid])}, o)
        if m:
            wrong.append("%s: %s" % (sid, m))
    if wrong:
        problems.append("%d wrong results: %s" % (len(wrong), "; ".join(wrong[:4])))
    time.sleep(1)
    lines = result_lines(c.workers)
    not_once = ["%s: %s" % (sid, lines.get(sid)) for sid in done
                if len(lines.get(sid, ())) != 1]
    if not_once:
        problems.append("%d without exactly one stored-result line: %s"
                        % (len(not_once), "; ".join(not_once[:4])))
    again = ["%s attempt %s" % (sid, o.get("attempt")) for sid, o in done.items()
             if o.get("attempt") != 1]
    if again:
        sys.stdout.write("# %s: ran again: %s\n" % (tag, ", ".join(again[:10])))
    # Ready again on both nodes.
    for api in c.apis:
        def ready(api=api):
            st, j, what = try_req(api, "GET", "/health/ready", timeout=10)
            return st == 200 and j and j.get("status") == "ready"
        try:
            wait_for("/health/ready of %s to be 200" % api.name, ready, 30, step=0.5)
        except Fail as e:
            problems.append("%s (last: %s)" % (e, try_req(api, "GET", "/health/ready")[2]))
    return problems, accepted


def check_reconnects(c, tag, before, kinds, problems):
    after = [metric_sum(api, "verdict_reconnects_total") for api in c.apis]
    for api, b0, a0 in zip(c.apis, before, after):
        for k in kinds:
            if not a0.get(k, 0) > b0.get(k, 0):
                problems.append("%s: verdict_reconnects_total%s %s -> %s, want more"
                                % (api.name, k, b0.get(k), a0.get(k)))
    sys.stdout.write("# %s: reconnects %s; workers' queue_reconnects %s\n"
                     % (tag, {api.name: a for api, a in zip(c.apis, after)},
                        {w.get("name"): w.get("queue_reconnects")
                         for w in registry(c.apis[0])["workers"]}))


@test("scale-service-restarts", timeout=240)
def t_restarts():
    c = cluster()
    own_services()
    pg = bool(T.PG_BASE)
    before = [metric_sum(api, "verdict_reconnects_total") for api in c.apis]
    events = [(3.0, "restart-redis", lambda: services("restart-redis"))]
    if pg:
        events.append((6.5, "restart-pg", lambda: services("restart-pg")))
    problems, _ = stream_through(c, "scale-service-restarts", 150, 10.0, events, 10000)
    check_reconnects(c, "scale-service-restarts", before,
                     ['{to="redis"}'] + (['{to="store"}'] if pg else []), problems)
    if problems:
        raise Fail("; ".join(problems) + "; logs: " + c.diag())


@test("scale-outages", timeout=240)
def t_outages():
    """Longer than a restart: Redis down for 3 s, then both services down
    for 3 s (scripts/services.sh stop and start), then kill -9 of
    redis-server (services.sh kill-redis), while submissions come."""
    c = cluster()
    own_services()
    pg = bool(T.PG_BASE)
    before = [metric_sum(api, "verdict_reconnects_total") for api in c.apis]
    events = [(2.0, "redis down", redis_shutdown),
              (3.5, "redis down", None),
              (5.0, "redis up", lambda: services("start")),
              (7.5, "all down", lambda: services("stop")),
              (9.0, "all down", None),
              (10.5, "all up", lambda: services("start")),
              (13.0, "kill-redis", lambda: services("kill-redis"))]
    try:
        problems, _ = stream_through(c, "scale-outages", 150, 16.0, events, 20000)
    finally:
        if services("status")[0] != 0:
            services("start")
    check_reconnects(c, "scale-outages", before,
                     ['{to="redis"}'] + (['{to="store"}'] if pg else []), problems)
    if problems:
        raise Fail("; ".join(problems) + "; logs: " + c.diag())


@test("scale-processes-alive")
def t_alive():
    c = cluster()
    check(all(s.alive() for s in c.all()), "dead: %s" % c.diag())


@test("scale-no-5xx")
def t_no_5xx():
    if "skip" in _C:
        raise Skip(_C["skip"])
    check(not T.SEEN_5XX, "%d answers of 500 and the like: %s"
          % (len(T.SEEN_5XX), "; ".join(T.SEEN_5XX[:5])))


# ================================================================== runner

def main():
    return T.run_main(__doc__, TESTS, "verdict-scale.", "srv-scale-*")


if __name__ == "__main__":
    sys.exit(main())
