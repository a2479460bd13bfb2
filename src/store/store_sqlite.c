/*
 * store_sqlite.c - the SQLite backend of the store, the default.
 *
 * Theory of operation.
 *
 * Connections. A sqlite3 connection and its prepared statements may be used
 * by one thread at a time. Rather than serialise the whole process on one
 * connection, the store keeps a small pool (at most POOL_MAX, opened on
 * demand and kept): an operation borrows a connection, runs its statements
 * and hands it back. Connections are opened SQLITE_OPEN_NOMUTEX because the
 * pool already guarantees one user at a time. Each keeps its prepared
 * statements (SQLITE_PREPARE_PERSISTENT), so a statement is compiled once
 * per connection, not once per call. Every piece of data goes in through
 * sqlite3_bind_*; no SQL text is ever built from data.
 *
 * Concurrency and durability. The database is in WAL mode: readers never
 * block the writer nor each other, and SQLite lets one writer at a time in,
 * across threads and processes (the API server and the workers share the
 * file); a writer that finds the lock taken waits up to busy_timeout (5 s).
 * Every write is one autocommit statement, so it is atomic on its own and
 * needs no BEGIN IMMEDIATE dance; the two-statement read (list: total and
 * page) runs in one read transaction so both see the same snapshot.
 * synchronous=NORMAL in WAL mode writes each commit to the WAL before COMMIT
 * returns but fsyncs only at checkpoints: a crash of the process (kill -9 of
 * the server) loses nothing, since the data is in the kernel's page cache;
 * only a power loss or kernel crash may roll back the last commits, and the
 * file stays consistent even then. FULL would add an fsync per submission.
 *
 * Schema. Migrations are numbered and applied at open, inside one
 * BEGIN IMMEDIATE transaction, so two processes opening a fresh file at once
 * apply each migration exactly once: the second waits, then finds it done.
 * schema_migrations records the versions applied. A file from a newer
 * verdict (a version we do not know) is refused rather than misread.
 * migrations/NNN_name.sql is the readable copy of each; the text below is
 * what runs, and test_store.c keeps the two identical.
 *
 * Lifecycle. Status values are stored as integers (enum vd_sub_status, which
 * therefore never changes its numbers). Each transition is one conditional
 * UPDATE whose WHERE names the states it may leave, so two racing callers
 * cannot both succeed; when it changes no row, a second look tells an
 * unknown id (VD_ENOTFOUND) from a refused transition (VD_EINVAL). Allowed:
 *   create        -> created | queued
 *   created       -> queued, cancelled            (set_status)
 *   queued        -> running                      (claim, set_running)
 *   queued        -> cancelled                    (set_status)
 *   running       -> running with a higher attempt (set_running: a re-run
 *                    after a lost worker, as a Redis redelivery is)
 *   running       -> finished                     (finish, current attempt)
 *   running       -> queued, cancelled            (set_status, recover)
 * finished and cancelled are final. finished_ms is set by both, so the sweep
 * removes old cancelled submissions too. A job put back in the queue keeps
 * its queued_ms and so runs before newer ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store-int.h"
#include "vd/alloc.h"

#define POOL_MAX 16
#define BUSY_TIMEOUT_MS 5000
#define SWEEP_BATCH 500 /* rows per delete, so a big sweep never holds the lock long */

/* The SQL below spells statuses as numbers. */
_Static_assert(VD_SUB_CREATED == 0 && VD_SUB_QUEUED == 1 && VD_SUB_RUNNING == 2 &&
                   VD_SUB_FINISHED == 3 && VD_SUB_CANCELLED == 4,
               "statuses are stored as these numbers; never renumber them");

/* ---- migrations ------------------------------------------------------------ */

/* Keep in step with src/store/migrations/001_init.sql, byte for byte. */
static const char m001_init[] =
    "-- 001_init.sql - the first schema: submissions, which are also the embedded queue.\n"
    "--\n"
    "-- Conventions every later migration keeps (users, api_keys, sessions,\n"
    "-- webhooks, problems, contests arrive as new tables in new files): ids are\n"
    "-- TEXT (UUIDv7, 36 characters), times are INTEGER Unix milliseconds and NULL\n"
    "-- for \"not yet\", enumerations are small INTEGERs whose values never change.\n"
    "-- A migration is never edited once released; a change is a new file.\n"
    "-- store_sqlite.c embeds this text, and a unit test keeps the two identical.\n"
    "\n"
    "-- status: 0 created, 1 queued, 2 running, 3 finished, 4 cancelled\n"
    "-- (enum vd_sub_status). finished_ms is when it ended, finished or cancelled.\n"
    "-- A table with a rowid, not WITHOUT ROWID: rows carry source code and\n"
    "-- results, and big rows belong in a rowid table (SQLite's own advice).\n"
    "CREATE TABLE submissions (\n"
    "    id          TEXT PRIMARY KEY NOT NULL,\n"
    "    owner       TEXT NOT NULL DEFAULT '',\n"
    "    lang        TEXT NOT NULL,\n"
    "    request     TEXT NOT NULL,\n"
    "    status      INTEGER NOT NULL CHECK (status BETWEEN 0 AND 4),\n"
    "    verdict     TEXT NOT NULL DEFAULT '',\n"
    "    result      TEXT,\n"
    "    attempt     INTEGER NOT NULL DEFAULT 0,\n"
    "    created_ms  INTEGER NOT NULL,\n"
    "    queued_ms   INTEGER,\n"
    "    started_ms  INTEGER,\n"
    "    finished_ms INTEGER\n"
    ");\n"
    "\n"
    "-- The queue: a claim takes the first row of (status = queued) in this order,\n"
    "-- and id breaks ties within a millisecond without a sort.\n"
    "CREATE INDEX submissions_queue ON submissions (status, queued_ms, id);\n"
    "-- One owner's submissions, newest first.\n"
    "CREATE INDEX submissions_owner ON submissions (owner, id);\n"
    "-- The sweep of old results.\n"
    "CREATE INDEX submissions_finished ON submissions (finished_ms);\n";

/* Keep in step with src/store/migrations/002_meta.sql, byte for byte. */
static const char m002_meta[] =
    "-- 002_meta.sql - what a view of a submission needs from its request, apart.\n"
    "--\n"
    "-- A submission's request holds its source code and every test, megabytes at\n"
    "-- times, yet showing the submission needs only its metadata and callback\n"
    "-- URL. meta holds those two as a small JSON object ({\"metadata\": ...,\n"
    "-- \"callback_url\": ...}), NULL when the request had neither, so a read of a\n"
    "-- submission never has to load or parse its request. Rows stored before\n"
    "-- this migration have NULL and are shown from their request.\n"
    "ALTER TABLE submissions ADD COLUMN meta TEXT;\n";

/* Keep in step with src/store/migrations/003_auth.sql, byte for byte. */
static const char m003_auth[] =
    "-- 003_auth.sql - who is calling (API keys, users), code sessions, webhooks.\n"
    "--\n"
    "-- API keys: the secret is never stored. It is derived from the server's\n"
    "-- master secret and the key's id, and only its SHA-256 is kept here, to\n"
    "-- notice a master secret that changed. role: 'admin' or 'client'.\n"
    "CREATE TABLE api_keys (\n"
    "    id           TEXT PRIMARY KEY NOT NULL,\n"
    "    name         TEXT NOT NULL,\n"
    "    role         TEXT NOT NULL CHECK (role IN ('admin', 'client')),\n"
    "    tier         TEXT NOT NULL,\n"
    "    allowed_ips  TEXT NOT NULL DEFAULT '',\n"
    "    secret_hash  TEXT NOT NULL,\n"
    "    created_ms   INTEGER NOT NULL,\n"
    "    revoked_ms   INTEGER\n"
    ");\n"
    "\n"
    "-- End users. password_hash is libsodium's argon2id string (it carries its\n"
    "-- own salt and parameters). role: 'user' or 'admin'.\n"
    "CREATE TABLE users (\n"
    "    id            TEXT PRIMARY KEY NOT NULL,\n"
    "    username      TEXT NOT NULL UNIQUE,\n"
    "    email         TEXT NOT NULL UNIQUE,\n"
    "    password_hash TEXT NOT NULL,\n"
    "    role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),\n"
    "    tier          TEXT NOT NULL,\n"
    "    created_ms    INTEGER NOT NULL\n"
    ");\n"
    "\n"
    "-- Code sessions: code being written, saved as it is typed. version grows by\n"
    "-- one with each save; a save names the version it was based on, so a stale\n"
    "-- editor cannot overwrite newer code.\n"
    "CREATE TABLE code_sessions (\n"
    "    id          TEXT PRIMARY KEY NOT NULL,\n"
    "    owner       TEXT NOT NULL DEFAULT '',\n"
    "    lang        TEXT NOT NULL,\n"
    "    source      TEXT NOT NULL,\n"
    "    version     INTEGER NOT NULL,\n"
    "    created_ms  INTEGER NOT NULL,\n"
    "    updated_ms  INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX code_sessions_owner ON code_sessions (owner, id);\n"
    "\n"
    "-- A submission made by a session's run; and its webhook. webhook_state:\n"
    "-- 0 none, 1 pending (delivered when it finishes), 2 delivered, 3 failed.\n"
    "ALTER TABLE submissions ADD COLUMN session_id TEXT;\n"
    "ALTER TABLE submissions ADD COLUMN webhook_url TEXT;\n"
    "ALTER TABLE submissions ADD COLUMN webhook_state INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE submissions ADD COLUMN webhook_attempts INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE submissions ADD COLUMN webhook_status INTEGER;\n"
    "ALTER TABLE submissions ADD COLUMN webhook_error TEXT;\n"
    "ALTER TABLE submissions ADD COLUMN webhook_next_ms INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE submissions ADD COLUMN webhook_done_ms INTEGER;\n"
    "ALTER TABLE submissions ADD COLUMN webhook_delivery TEXT;\n"
    "CREATE INDEX submissions_session ON submissions (session_id, id);\n"
    "-- Deliveries due: pending ones, by when they are due.\n"
    "CREATE INDEX submissions_webhooks ON submissions (webhook_state, webhook_next_ms);\n"
    "-- One caller's live submissions, for the cap on queued and running ones.\n"
    "CREATE INDEX submissions_owner_status ON submissions (owner, status);\n";

/* Keep in step with src/store/migrations/004_signatures.sql, byte for byte. */
static const char m004_signatures[] =
    "-- 004_signatures.sql - signed requests seen, for as long as they could be\n"
    "-- replayed.\n"
    "--\n"
    "-- A signed request is refused when its signature was seen before within\n"
    "-- the time window. Kept here, not in memory, so that a restart (or another\n"
    "-- process on the same database) does not forget them: a request captured\n"
    "-- before a restart cannot be replayed after it. A row goes once its\n"
    "-- timestamp has left the window (expires_ms), when no request with that\n"
    "-- signature could pass the time check anyway.\n"
    "CREATE TABLE signatures_seen (\n"
    "    signature  TEXT PRIMARY KEY NOT NULL,\n"
    "    expires_ms INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX signatures_seen_expiry ON signatures_seen (expires_ms);\n";

/* In version order; a new migration is a new line here and a new file. */
const struct vd__store_migration vd__store_sqlite_migrations[] = {
    {1, "001_init.sql", m001_init},
    {2, "002_meta.sql", m002_meta},
    {3, "003_auth.sql", m003_auth},
    {4, "004_signatures.sql", m004_signatures},
    {0, NULL, NULL},
};

/* ---- statements ------------------------------------------------------------ */

enum stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_CREATE,
    ST_GET,
    ST_PEEK,
    ST_STATE,
    ST_LIST_ALL,
    ST_LIST_OWNER,
    ST_TOTAL_ALL,
    ST_TOTAL_OWNER,
    ST_SET_RUNNING,
    ST_FINISH,
    ST_SET_STATUS,
    ST_RERUN,
    ST_DELETE,
    ST_SWEEP,
    ST_COUNTS,
    ST_PING,
    ST_CLAIM,
    ST_DEPTH,
    ST_RECOVER,
    ST_LIST_SESSION,
    ST_TOTAL_SESSION,
    ST_ACTIVE,
    ST_WEBHOOKS_DUE,
    ST_WEBHOOK_RECORD,
    ST_KEY_CREATE,
    ST_KEY_GET,
    ST_KEY_LIST,
    ST_KEY_REVOKE,
    ST_USER_CREATE,
    ST_USER_GET,
    ST_USER_FIND,
    ST_SES_CREATE,
    ST_SES_GET,
    ST_SES_SAVE,
    ST_SES_VERSION,
    ST_SES_DELETE,
    ST_SES_LIST,
    ST_SES_TOTAL,
    ST_SIG_SEEN,
    ST_SIG_PURGE,
    ST_UNFINISHED_IDS,
    ST_COUNT_ /* number of statements */
};

/* The columns read_row() expects, in its order (meta came with 002_meta). */
#define COLS                                                                               \
    "id, owner, lang, request, status, verdict, result, attempt, created_ms, started_ms, " \
    "finished_ms, meta, session_id, webhook_url, webhook_state, webhook_attempts, "        \
    "webhook_status, webhook_error, webhook_next_ms, webhook_done_ms, webhook_delivery"
/* The same without the request, which may be megabytes (NULL in its place). */
#define PEEK_COLS                                                                       \
    "id, owner, lang, NULL, status, verdict, result, attempt, created_ms, started_ms, " \
    "finished_ms, meta, session_id, webhook_url, webhook_state, webhook_attempts, "     \
    "webhook_status, webhook_error, webhook_next_ms, webhook_done_ms, webhook_delivery"

#define KEY_COLS "id, name, role, tier, allowed_ips, secret_hash, created_ms, revoked_ms"
#define USER_COLS "id, username, email, password_hash, role, tier, created_ms"
#define SES_COLS "id, owner, lang, source, version, created_ms, updated_ms"

static const char *const sql_text[ST_COUNT_] = {
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_CREATE] = "INSERT INTO submissions (id, owner, lang, request, status, created_ms, "
                  "queued_ms, meta, session_id, webhook_url) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                  "CASE WHEN ?5 = 1 THEN ?6 END, ?7, ?8, ?9)",
    [ST_GET] = "SELECT " COLS " FROM submissions WHERE id = ?1",
    [ST_PEEK] = "SELECT " PEEK_COLS " FROM submissions WHERE id = ?1",
    [ST_STATE] = "SELECT status, attempt FROM submissions WHERE id = ?1",
    /* ids are UUIDv7: by id is by creation time, and an index scan. */
    [ST_LIST_ALL] = "SELECT " PEEK_COLS " FROM submissions ORDER BY id DESC LIMIT ?1 OFFSET ?2",
    [ST_LIST_OWNER] = "SELECT " PEEK_COLS " FROM submissions WHERE owner = ?3 "
                      "ORDER BY id DESC LIMIT ?1 OFFSET ?2",
    [ST_TOTAL_ALL] = "SELECT COUNT(*) FROM submissions",
    [ST_TOTAL_OWNER] = "SELECT COUNT(*) FROM submissions WHERE owner = ?1",
    [ST_SET_RUNNING] = "UPDATE submissions SET status = 2, attempt = ?2, started_ms = ?3 "
                       "WHERE id = ?1 AND status IN (1, 2) AND attempt < ?2",
    /* A submission with a webhook URL has its delivery due from now on. */
    [ST_FINISH] = "UPDATE submissions SET status = 3, verdict = ?3, result = ?4, finished_ms = ?5, "
                  "webhook_state = CASE WHEN webhook_url IS NULL THEN 0 ELSE 1 END, "
                  "webhook_next_ms = ?5 "
                  "WHERE id = ?1 AND status = 2 AND attempt = ?2",
    /* ?4 is the set of states the target may be reached from, one bit each. */
    [ST_SET_STATUS] = "UPDATE submissions SET status = ?2, "
                      "queued_ms = CASE WHEN ?2 = 1 THEN COALESCE(queued_ms, ?3) "
                      "ELSE queued_ms END, "
                      "finished_ms = CASE WHEN ?2 = 4 THEN ?3 ELSE finished_ms END "
                      "WHERE id = ?1 AND ((1 << status) & ?4) != 0",
    /* A run again from scratch: the old result goes, the attempt count
     * stays (the claim raises it), so a late result of the old run is
     * recognised as stale. Never from queued or running: that job is live. */
    [ST_RERUN] = "UPDATE submissions SET status = 1, verdict = '', result = NULL, "
                 "queued_ms = ?2, started_ms = NULL, finished_ms = NULL, webhook_state = 0, "
                 "webhook_attempts = 0, webhook_status = NULL, webhook_error = NULL, "
                 "webhook_next_ms = 0, webhook_done_ms = NULL, webhook_delivery = NULL "
                 "WHERE id = ?1 AND status IN (0, 3, 4)",
    [ST_DELETE] = "DELETE FROM submissions WHERE id = ?1",
    /* Only finished and cancelled rows have a finished_ms; the unary + keeps
     * the planner on the finished_ms index (without ANALYZE statistics it
     * would pick the status index and walk every finished row). */
    [ST_SWEEP] = "DELETE FROM submissions WHERE rowid IN (SELECT rowid FROM submissions "
                 "WHERE finished_ms < ?1 AND +status IN (3, 4) LIMIT ?2)",
    [ST_COUNTS] = "SELECT status, COUNT(*) FROM submissions GROUP BY status",
    /* Reads a page of the file, unlike SELECT 1: a health check must. */
    [ST_PING] = "SELECT MAX(version) FROM schema_migrations",
    /* One statement: the row goes from queued to running under the single
     * writer lock, so two claimers (threads or processes) never get the same
     * one, and a job is always either queued or running. */
    [ST_CLAIM] = "UPDATE submissions SET status = 2, attempt = attempt + 1, started_ms = ?1 "
                 "WHERE id = (SELECT id FROM submissions WHERE status = 1 "
                 "ORDER BY queued_ms, id LIMIT 1) AND status = 1 RETURNING id, attempt",
    [ST_DEPTH] = "SELECT COUNT(*) FROM submissions WHERE status = 1",
    [ST_RECOVER] = "UPDATE submissions SET status = 1, queued_ms = COALESCE(queued_ms, ?1) "
                   "WHERE status = 2",
    [ST_LIST_SESSION] = "SELECT " PEEK_COLS " FROM submissions WHERE session_id = ?3 "
                        "ORDER BY id DESC LIMIT ?1 OFFSET ?2",
    [ST_TOTAL_SESSION] = "SELECT COUNT(*) FROM submissions WHERE session_id = ?1",
    [ST_ACTIVE] = "SELECT COUNT(*) FROM submissions WHERE owner = ?1 AND status IN (1, 2)",
    [ST_WEBHOOKS_DUE] = "SELECT " PEEK_COLS " FROM submissions WHERE webhook_state = 1 "
                        "AND webhook_next_ms <= ?1 ORDER BY webhook_next_ms LIMIT ?2",
    /* The attempt before this one must be the last recorded: two
     * dispatchers recording the same attempt cannot both succeed. */
    [ST_WEBHOOK_RECORD] = "UPDATE submissions SET webhook_attempts = ?2, webhook_status = ?3, "
                          "webhook_error = ?4, webhook_state = ?5, webhook_next_ms = ?6, "
                          "webhook_delivery = ?7, "
                          "webhook_done_ms = CASE WHEN ?5 IN (2, 3) THEN ?8 END "
                          "WHERE id = ?1 AND webhook_state = 1 AND webhook_attempts = ?2 - 1",
    [ST_KEY_CREATE] = "INSERT INTO api_keys (id, name, role, tier, allowed_ips, secret_hash, "
                      "created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_KEY_GET] = "SELECT " KEY_COLS " FROM api_keys WHERE id = ?1",
    [ST_KEY_LIST] = "SELECT " KEY_COLS " FROM api_keys ORDER BY created_ms, id",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
    [ST_USER_CREATE] = "INSERT INTO users (id, username, email, password_hash, role, tier, "
                       "created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
    [ST_USER_FIND] = "SELECT " USER_COLS " FROM users WHERE username = ?1 OR email = ?1",
    [ST_SES_CREATE] = "INSERT INTO code_sessions (id, owner, lang, source, version, created_ms, "
                      "updated_ms) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)",
    [ST_SES_GET] = "SELECT " SES_COLS " FROM code_sessions WHERE id = ?1",
    [ST_SES_SAVE] = "UPDATE code_sessions SET source = ?2, version = version + 1, updated_ms = ?4 "
                    "WHERE id = ?1 AND version = ?3",
    [ST_SES_VERSION] = "SELECT version FROM code_sessions WHERE id = ?1",
    [ST_SES_DELETE] = "DELETE FROM code_sessions WHERE id = ?1",
    [ST_SES_LIST] = "SELECT " SES_COLS " FROM code_sessions WHERE owner = ?3 "
                    "ORDER BY id DESC LIMIT ?1 OFFSET ?2",
    [ST_SES_TOTAL] = "SELECT COUNT(*) FROM code_sessions WHERE owner = ?1",
    /* A primary key taken means seen before: the INSERT is the check. */
    [ST_SIG_SEEN] = "INSERT INTO signatures_seen (signature, expires_ms) VALUES (?1, ?2)",
    [ST_SIG_PURGE] = "DELETE FROM signatures_seen WHERE rowid IN (SELECT rowid FROM "
                     "signatures_seen WHERE expires_ms < ?1 LIMIT 256)",
    [ST_UNFINISHED_IDS] = "SELECT id FROM submissions WHERE (status = 1 AND queued_ms < ?1) OR "
                          "(status = 2 AND started_ms < ?1) ORDER BY queued_ms, id LIMIT ?2",
};

/* ---- connections ----------------------------------------------------------- */

struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT_]; /* prepared on first use */
    struct conn *next;           /* in the idle list */
};

struct sq {
    char *path;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a connection came back, or a slot freed */
    struct conn *idle;
    int nopen; /* connections that exist, idle or borrowed */
};

/* SQLite's primary result codes as ours. */
static int sq_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_CONSTRAINT: /* only a duplicate id can break one */
        return -EEXIST;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_TOOBIG:
        return VD_ETOOBIG;
    default: /* IOERR, CORRUPT, NOTADB, ... */
        return -EIO;
    }
}

static void conn_close(struct conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < ST_COUNT_; i++)
        sqlite3_finalize(c->st[i]);
    /* Every statement is finalised, so close cannot be refused as busy. */
    sqlite3_close(c->db);
    vd_free(c);
}

/* Opens one connection with the settings every connection needs (they are
 * per connection, except journal_mode, which the file remembers). */
static int conn_open(const char *path, struct conn **out, struct vd_errbuf *eb)
{
    struct conn *c = vd_xcalloc(1, sizeof(*c));
    int rc, src;

    *out = NULL;
    src = sqlite3_open_v2(path, &c->db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        int sys = c->db ? sqlite3_system_errno(c->db) : 0;
        rc = sys > 0 ? -sys : sq_code(src);
        vd_errf(eb, rc, "database %s: %s", path,
                c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(src));
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    /* Waits for another writer (thread or process) instead of failing. */
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    /* Defensive: no writable_schema or other ways to corrupt the file from
     * SQL, and no functions run from the schema, should a hostile file be
     * opened; none of it is anything we use. */
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    src = sqlite3_exec(c->db,
                       "PRAGMA foreign_keys = ON;"
                       "PRAGMA synchronous = NORMAL;",
                       NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        rc = vd_errf(eb, sq_code(src), "database %s: %s", path, sqlite3_errmsg(c->db));
        goto out;
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    conn_close(c);
    return rc;
}

/* Borrows a connection, opening one when none is idle and the pool has
 * room, else waiting for one to come back. */
static int conn_get(struct sq *q, struct conn **out)
{
    struct conn *c = NULL;
    int rc = 0;

    *out = NULL;
    pthread_mutex_lock(&q->mu);
    while (!q->idle && q->nopen >= POOL_MAX)
        pthread_cond_wait(&q->cv, &q->mu);
    if (q->idle) {
        c = q->idle;
        q->idle = c->next;
        c->next = NULL;
        pthread_mutex_unlock(&q->mu);
        *out = c;
        return 0;
    }
    q->nopen++;
    pthread_mutex_unlock(&q->mu);

    /* Opened outside the lock: opening touches the file and may wait. */
    rc = conn_open(q->path, &c, NULL);
    if (rc < 0) {
        pthread_mutex_lock(&q->mu);
        q->nopen--;
        pthread_cond_signal(&q->cv);
        pthread_mutex_unlock(&q->mu);
        return rc;
    }
    *out = c;
    return 0;
}

/* Returns a borrowed connection (NULL is a no-op). A transaction left open
 * by a failed operation is rolled back, so the next borrower starts clean. */
static void conn_put(struct sq *q, struct conn *c)
{
    if (!c)
        return;
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_lock(&q->mu);
    c->next = q->idle;
    q->idle = c;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* The connection's prepared statement `which`, compiled on first use. */
static int prep(struct conn *c, enum stmt which, sqlite3_stmt **out)
{
    *out = NULL;
    if (!c->st[which]) {
        int src = sqlite3_prepare_v3(c->db, sql_text[which], -1, SQLITE_PREPARE_PERSISTENT,
                                     &c->st[which], NULL);
        if (src != SQLITE_OK)
            return sq_code(src);
    }
    *out = c->st[which];
    return 0;
}

/* Makes a used statement ready for the next caller and drops its bindings,
 * which point into the caller's strings (SQLITE_STATIC). NULL is a no-op. */
static void unprep(sqlite3_stmt *st)
{
    if (!st)
        return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/*
 * Binds parameters ?1, ?2, ... in order: 't' a C string (not copied: it
 * must live until unprep), 'i' an int64_t. Returns 0 or a negative code.
 */
static int vbinds(sqlite3_stmt *st, const char *types, va_list ap)
{
    int src = SQLITE_OK;
    for (int i = 0; types[i] && src == SQLITE_OK; i++) {
        if (types[i] == 't')
            src = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_STATIC);
        else
            src = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
    }
    return sq_code(src);
}

static int binds(sqlite3_stmt *st, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = vbinds(st, types, ap);
    va_end(ap);
    return rc;
}

/* Steps a statement that returns no rows to its end. */
static int run(sqlite3_stmt *st)
{
    int src = sqlite3_step(st);
    return src == SQLITE_DONE ? 0 : sq_code(src == SQLITE_ROW ? SQLITE_MISUSE : src);
}

/* Steps a statement expected to give one row with one integer. */
static int run_int(sqlite3_stmt *st, int64_t *v)
{
    int src = sqlite3_step(st);
    if (src != SQLITE_ROW)
        return src == SQLITE_DONE ? VD_ENOTFOUND : sq_code(src);
    *v = sqlite3_column_int64(st, 0);
    return 0;
}

/* ---- rows ------------------------------------------------------------------ */

/* Copies a text column into a fixed field; NULL reads as "". */
static int copy_fixed(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (!t) {
        if (sqlite3_column_type(st, col) != SQLITE_NULL)
            return -ENOMEM;
        n = 0;
    }
    if (n >= cap) /* written by something other than this store */
        return VD_ETOOBIG;
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
    return 0;
}

/* Copies a text column into fresh memory; NULL stays NULL. */
static int copy_dup(char **dst, sqlite3_stmt *st, int col)
{
    *dst = NULL;
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return 0;
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (!t)
        return -ENOMEM;
    char *p = vd_try_malloc(n + 1); /* input-sized: source code, results */
    if (!p)
        return -ENOMEM;
    memcpy(p, t, n);
    p[n] = '\0';
    *dst = p;
    return 0;
}

/* Fills out from the current row of a statement selecting COLS (or
 * PEEK_COLS: with_request 0). On failure out owns nothing. */
static int read_row(sqlite3_stmt *st, struct vd_submission *out, int with_request)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = copy_fixed(out->id, sizeof(out->id), st, 0)) < 0 ||
        (rc = copy_fixed(out->owner, sizeof(out->owner), st, 1)) < 0 ||
        (rc = copy_fixed(out->lang, sizeof(out->lang), st, 2)) < 0 ||
        (rc = copy_dup(&out->request, st, 3)) < 0 ||
        (rc = copy_fixed(out->verdict, sizeof(out->verdict), st, 5)) < 0 ||
        (rc = copy_dup(&out->result, st, 6)) < 0 || (rc = copy_dup(&out->meta, st, 11)) < 0)
        goto out;
    out->status = (enum vd_sub_status)sqlite3_column_int(st, 4);
    out->attempt = sqlite3_column_int(st, 7);
    out->created_ms = sqlite3_column_int64(st, 8);
    out->started_ms = sqlite3_column_int64(st, 9); /* NULL reads as 0 */
    out->finished_ms = sqlite3_column_int64(st, 10);
    if ((rc = copy_fixed(out->session_id, sizeof(out->session_id), st, 12)) < 0 ||
        (rc = copy_dup(&out->webhook_url, st, 13)) < 0 ||
        (rc = copy_fixed(out->webhook_error, sizeof(out->webhook_error), st, 17)) < 0 ||
        (rc = copy_fixed(out->webhook_delivery, sizeof(out->webhook_delivery), st, 20)) < 0)
        goto out;
    out->webhook_state = (enum vd_webhook_state)sqlite3_column_int(st, 14);
    out->webhook_attempts = sqlite3_column_int(st, 15);
    out->webhook_status = sqlite3_column_int(st, 16);
    out->webhook_next_ms = sqlite3_column_int64(st, 18);
    out->webhook_done_ms = sqlite3_column_int64(st, 19);
    if (with_request && !out->request) /* NOT NULL in the schema */
        rc = -EIO;
out:
    if (rc < 0)
        vd_submission_free(out);
    return rc;
}

/* After a conditional UPDATE changed nothing: VD_ENOTFOUND for an unknown
 * id, else 0 with the row's status and attempt. */
static int state_of(struct conn *c, const char *id, int *status, int *attempt)
{
    sqlite3_stmt *st = NULL;
    int rc, src;

    if ((rc = prep(c, ST_STATE, &st)) < 0 || (rc = binds(st, "t", id)) < 0)
        goto out;
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = src == SQLITE_DONE ? VD_ENOTFOUND : sq_code(src);
        goto out;
    }
    *status = sqlite3_column_int(st, 0);
    *attempt = sqlite3_column_int(st, 1);
out:
    unprep(st);
    return rc;
}

/* ---- migrations, open, close ----------------------------------------------- */

static int migrate(struct conn *c, const char *path, struct vd_errbuf *eb)
{
    sqlite3_stmt *st = NULL;
    int64_t have = 0;
    int latest = 0, rc, src;

    for (int i = 0; vd__store_sqlite_migrations[i].sql; i++)
        latest = vd__store_sqlite_migrations[i].version;

    /* IMMEDIATE takes the write lock now: a second process opening the
     * same fresh file waits here and then sees the migrations done. */
    src = sqlite3_exec(c->db,
                       "BEGIN IMMEDIATE;"
                       "CREATE TABLE IF NOT EXISTS schema_migrations ("
                       "version INTEGER PRIMARY KEY NOT NULL, applied_ms INTEGER NOT NULL);",
                       NULL, NULL, NULL);
    if (src != SQLITE_OK)
        goto sqlerr;
    src = sqlite3_prepare_v2(c->db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
                             &st, NULL);
    if (src != SQLITE_OK)
        goto sqlerr;
    if ((rc = run_int(st, &have)) < 0) {
        vd_errf(eb, rc, "database %s: reading schema_migrations: %s", path, sqlite3_errmsg(c->db));
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (have > latest) {
        rc = vd_errf(eb, VD_EINVAL,
                     "database %s has schema version %lld, newer than this verdict knows (%d)",
                     path, (long long)have, latest);
        goto out;
    }
    for (int i = 0; vd__store_sqlite_migrations[i].sql; i++) {
        const struct vd__store_migration *m = &vd__store_sqlite_migrations[i];
        if (m->version <= have)
            continue;
        /* Trusted, constant text from this file: sqlite3_exec runs its
         * several statements. The version goes in bound. */
        src = sqlite3_exec(c->db, m->sql, NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            rc = vd_errf(eb, sq_code(src), "database %s: migration %s: %s", path, m->file,
                         sqlite3_errmsg(c->db));
            goto out;
        }
        src = sqlite3_prepare_v2(c->db, "INSERT INTO schema_migrations VALUES (?1, ?2)", -1, &st,
                                 NULL);
        if (src != SQLITE_OK)
            goto sqlerr;
        if ((rc = binds(st, "ii", (int64_t)m->version, vd_now_ms())) < 0 || (rc = run(st)) < 0)
            goto sqlerr_rc;
        sqlite3_finalize(st);
        st = NULL;
    }
    src = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    if (src != SQLITE_OK)
        goto sqlerr;
    rc = 0;
    goto out;

sqlerr:
    rc = sq_code(src);
sqlerr_rc:
    vd_errf(eb, rc, "database %s: setting up the schema: %s", path, sqlite3_errmsg(c->db));
out:
    sqlite3_finalize(st);
    if (rc < 0 && !sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Switches the file to WAL (remembered by the file, so once is enough). */
static int set_wal(struct conn *c, const char *path, struct vd_errbuf *eb)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, src;

    src = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = vd_errf(eb, sq_code(src), "database %s: %s", path, sqlite3_errmsg(c->db));
        goto out;
    }
    /* SQLite answers with the mode in force, which is not WAL on a file
     * system without shared memory for the WAL index; refuse rather than
     * run with readers blocking writers. */
    const unsigned char *mode = sqlite3_column_text(st, 0);
    if (!mode || strcmp((const char *)mode, "wal") != 0)
        rc = vd_errf(eb, VD_EINVAL, "database %s: WAL mode refused (journal mode is %s)", path,
                     mode ? (const char *)mode : "unknown");
out:
    sqlite3_finalize(st);
    return rc;
}

static void sq_close(void *impl)
{
    struct sq *q = impl;
    if (!q)
        return;
    /* Borrowed connections would be a caller still inside a store call. */
    while (q->idle) {
        struct conn *c = q->idle;
        q->idle = c->next;
        conn_close(c);
        q->nopen--;
    }
    VD_ASSERT(q->nopen == 0);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    vd_free(q->path);
    vd_free(q);
}

static int sq_open(const char *path, void **impl, struct vd_errbuf *eb)
{
    struct sq *q = NULL;
    struct conn *c = NULL;
    int rc, fd;

    *impl = NULL;
    /* RETURNING (3.35) makes a claim one statement; a library without
     * threads support could not share the pool between threads. */
    if (sqlite3_libversion_number() < 3035000)
        return vd_errf(eb, VD_EINVAL, "SQLite %s is too old: 3.35 or newer is needed",
                       sqlite3_libversion());
    if (!sqlite3_threadsafe())
        return vd_errf(eb, VD_EINVAL, "this SQLite library was built without thread support");
    /* Each pooled connection would get a database of its own. */
    if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
        return vd_errf(eb, VD_EINVAL, "database %s: a file path is needed", path);

    /* Made here, not by SQLite, to give it mode 0600 (SQLite uses 0644 and
     * copies the mode to the -wal and -shm files): submissions hold users'
     * code, and later tables hold API keys and sessions. */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return vd_errf(eb, -errno, "database %s: %s", path, strerror(errno));
    close(fd);

    q = vd_xcalloc(1, sizeof(*q));
    q->path = vd_xstrdup(path);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);

    if ((rc = conn_open(path, &c, eb)) < 0)
        goto out;
    q->nopen = 1;
    if ((rc = set_wal(c, path, eb)) < 0 || (rc = migrate(c, path, eb)) < 0)
        goto out;
    q->idle = c; /* the first pooled connection */
    c = NULL;
    *impl = q;
    q = NULL;
out:
    if (c) {
        conn_close(c);
        q->nopen--;
    }
    sq_close(q);
    return rc;
}

/* ---- operations ------------------------------------------------------------ */

/* Each operation: borrow a connection, run prepared statements, reset them
 * and give the connection back on every path (out:). */

static int sq_create(void *impl, struct vd_submission *sub)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int64_t now = vd_now_ms();
    int rc;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_CREATE, &st)) < 0)
        goto out;
    if ((rc = binds(st, "ttttiittt", sub->id, sub->owner, sub->lang, sub->request,
                    (int64_t)sub->status, now, sub->meta,
                    sub->session_id[0] ? sub->session_id : NULL,
                    sub->webhook_url && *sub->webhook_url ? sub->webhook_url : NULL)) < 0 ||
        (rc = run(st)) < 0)
        goto out;
    /* What the row now says, so the caller can answer without a get. */
    sub->created_ms = now;
    sub->started_ms = sub->finished_ms = 0;
    sub->attempt = 0;
    sub->verdict[0] = '\0';
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

/* One row by id, with the request (ST_GET) or without it (ST_PEEK). */
static int get_one(struct sq *q, const char *id, enum stmt which, struct vd_submission *out)
{
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int rc, src;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, which, &st)) < 0 ||
        (rc = binds(st, "t", id)) < 0)
        goto out;
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = src == SQLITE_DONE ? VD_ENOTFOUND : sq_code(src);
        goto out;
    }
    rc = read_row(st, out, which == ST_GET);
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

static int sq_get(void *impl, const char *id, struct vd_submission *out)
{
    return get_one(impl, id, ST_GET, out);
}

static int sq_peek(void *impl, const char *id, struct vd_submission *out)
{
    return get_one(impl, id, ST_PEEK, out);
}

static int64_t clamp64(size_t v)
{
    return v > (size_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

static int sq_list(void *impl, const char *owner, size_t offset, size_t limit,
                   struct vd_submission **out, size_t *n, uint64_t *total)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL, *begin = NULL;
    struct vd_submission *arr = NULL;
    size_t cnt = 0, cap = 0;
    int64_t tot = 0;
    int rc, src;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_BEGIN, &begin)) < 0 || (rc = run(begin)) < 0)
        goto out;
    /* The count and the page come from one snapshot (one read transaction). */
    if ((rc = prep(c, owner ? ST_TOTAL_OWNER : ST_TOTAL_ALL, &st)) < 0 ||
        (owner && (rc = binds(st, "t", owner)) < 0) || (rc = run_int(st, &tot)) < 0)
        goto out;
    unprep(st);
    st = NULL;
    if (limit == 0 || offset >= (uint64_t)tot)
        goto done;

    if ((rc = prep(c, owner ? ST_LIST_OWNER : ST_LIST_ALL, &st)) < 0 ||
        (rc = binds(st, owner ? "iit" : "ii", clamp64(limit), clamp64(offset), owner)) < 0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct vd_submission *p = vd_try_realloc(arr, ncap * sizeof(*arr));
            if (!p) {
                rc = -ENOMEM;
                goto out;
            }
            arr = p;
            cap = ncap;
        }
        if ((rc = read_row(st, &arr[cnt], 0)) < 0)
            goto out;
        cnt++;
    }
    if (src != SQLITE_DONE) {
        rc = sq_code(src);
        goto out;
    }
done:
    unprep(st);
    st = NULL;
    unprep(begin);
    if ((rc = prep(c, ST_COMMIT, &begin)) < 0 || (rc = run(begin)) < 0)
        goto out;
    *out = arr;
    *n = cnt;
    *total = (uint64_t)tot;
    arr = NULL;
    cnt = 0;
out:
    for (size_t i = 0; i < cnt; i++)
        vd_submission_free(&arr[i]);
    vd_free(arr);
    unprep(st);
    unprep(begin);
    conn_put(q, c); /* rolls back the read transaction on failure */
    return rc;
}

static int sq_set_running(void *impl, const char *id, int attempt)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int rc, status, cur;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_SET_RUNNING, &st)) < 0 ||
        (rc = binds(st, "tii", id, (int64_t)attempt, vd_now_ms())) < 0 || (rc = run(st)) < 0)
        goto out;
    if (sqlite3_changes(c->db) == 0 && (rc = state_of(c, id, &status, &cur)) == 0)
        rc = VD_EINVAL; /* not queued or running, or not a newer attempt */
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

static int sq_finish(void *impl, const char *id, int attempt, const char *verdict,
                     const char *result)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int rc, status, cur;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_FINISH, &st)) < 0 ||
        (rc = binds(st, "titti", id, (int64_t)attempt, verdict, result, vd_now_ms())) < 0 ||
        (rc = run(st)) < 0)
        goto out;
    if (sqlite3_changes(c->db) == 0 && (rc = state_of(c, id, &status, &cur)) == 0) {
        /* An older attempt's result comes from a worker that lost the job
         * (it was re-run meanwhile): ignored, so the result is stored once.
         * The current attempt on a job no longer running (cancelled, already
         * finished, put back) is refused. */
        rc = attempt < cur ? 0 : VD_EINVAL;
    }
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

static int sq_set_status(void *impl, const char *id, enum vd_sub_status to)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int64_t from;
    int rc, status, cur;

    /* The states each target may be reached from (store.c lets only these
     * two targets through). */
    if (to == VD_SUB_QUEUED)
        from = 1 << VD_SUB_CREATED | 1 << VD_SUB_RUNNING;
    else
        from = 1 << VD_SUB_CREATED | 1 << VD_SUB_QUEUED | 1 << VD_SUB_RUNNING;
    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_SET_STATUS, &st)) < 0 ||
        (rc = binds(st, "tiii", id, (int64_t)to, vd_now_ms(), from)) < 0 || (rc = run(st)) < 0)
        goto out;
    if (sqlite3_changes(c->db) == 0 && (rc = state_of(c, id, &status, &cur)) == 0)
        rc = VD_EINVAL;
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

static int sq_rerun(void *impl, const char *id)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int rc, status, cur;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_RERUN, &st)) < 0 ||
        (rc = binds(st, "ti", id, vd_now_ms())) < 0 || (rc = run(st)) < 0)
        goto out;
    if (sqlite3_changes(c->db) == 0 && (rc = state_of(c, id, &status, &cur)) == 0)
        rc = VD_EINVAL; /* queued or running: already on its way */
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

static int sq_delete(void *impl, const char *id)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_DELETE, &st)) < 0 ||
        (rc = binds(st, "t", id)) < 0 || (rc = run(st)) < 0)
        goto out;
    if (sqlite3_changes(c->db) == 0)
        rc = VD_ENOTFOUND;
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

static int sq_sweep(void *impl, int64_t finished_before_ms, uint64_t *deleted)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int rc, k;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_SWEEP, &st)) < 0 ||
        (rc = binds(st, "ii", finished_before_ms, (int64_t)SWEEP_BATCH)) < 0)
        goto out;
    /* In batches, each its own transaction: the writer lock is let go
     * between them, so submissions keep flowing during a large sweep. */
    do {
        if ((rc = run(st)) < 0)
            goto out;
        k = sqlite3_changes(c->db);
        *deleted += (uint64_t)k;
        sqlite3_reset(st); /* keeps the bindings */
    } while (k == SWEEP_BATCH);
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

static int sq_counts(void *impl, struct vd_store_counts *out)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int rc, src;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_COUNTS, &st)) < 0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t k = (uint64_t)sqlite3_column_int64(st, 1);
        switch (sqlite3_column_int(st, 0)) {
        case VD_SUB_CREATED:
            out->created = k;
            break;
        case VD_SUB_QUEUED:
            out->queued = k;
            break;
        case VD_SUB_RUNNING:
            out->running = k;
            break;
        case VD_SUB_FINISHED:
            out->finished = k;
            break;
        case VD_SUB_CANCELLED:
            out->cancelled = k;
            break;
        default: /* the CHECK constraint allows no other */
            break;
        }
    }
    if (src != SQLITE_DONE)
        rc = sq_code(src);
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

static int sq_ping(void *impl)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v;
    int rc;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_PING, &st)) < 0)
        goto out;
    rc = run_int(st, &v);
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

static int sq_claim(void *impl, char id[VD_ID_LEN + 1], int *attempt)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int rc, src;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_CLAIM, &st)) < 0 ||
        (rc = binds(st, "i", vd_now_ms())) < 0)
        goto out;
    src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = VD_ENOTFOUND; /* nothing queued */
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = sq_code(src);
        goto out;
    }
    if ((rc = copy_fixed(id, VD_ID_LEN + 1, st, 0)) < 0)
        goto out;
    *attempt = sqlite3_column_int(st, 1);
    /* The autocommit happens at the end of the statement: step to it, so
     * a failed commit is reported rather than a claim that did not stick. */
    src = sqlite3_step(st);
    if (src != SQLITE_DONE) {
        rc = sq_code(src == SQLITE_ROW ? SQLITE_MISUSE : src);
        id[0] = '\0';
        *attempt = 0;
    }
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

static int sq_depth(void *impl, uint64_t *queued)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = 0;
    int rc;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_DEPTH, &st)) < 0 ||
        (rc = run_int(st, &v)) < 0)
        goto out;
    *queued = (uint64_t)v;
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

static int sq_recover(void *impl, uint64_t *requeued)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_RECOVER, &st)) < 0 ||
        (rc = binds(st, "i", vd_now_ms())) < 0 || (rc = run(st)) < 0)
        goto out;
    *requeued = (uint64_t)sqlite3_changes(c->db);
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

static int sq_unfinished_ids(void *impl, int64_t before_ms, size_t max, char (*ids)[VD_ID_LEN + 1],
                         size_t *n)
{
    struct sq *q = impl;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int rc, src = SQLITE_DONE;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, ST_UNFINISHED_IDS, &st)) < 0 ||
        (rc = binds(st, "ii", before_ms, clamp64(max))) < 0)
        goto out;
    while (*n < max && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = copy_fixed(ids[*n], VD_ID_LEN + 1, st, 0)) < 0)
            goto out;
        (*n)++;
    }
    if (*n < max && src != SQLITE_DONE)
        rc = sq_code(src);
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

/* ---- the tables of 003_auth ------------------------------------------------ */

/* One write statement with its arguments; *changes says how many rows it
 * changed (may be NULL). -EEXIST for a unique key already taken. */
static int write1(struct sq *q, enum stmt which, int *changes, const char *types, ...)
{
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    va_list ap;
    int rc;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, which, &st)) < 0)
        goto out;
    va_start(ap, types);
    rc = vbinds(st, types, ap);
    va_end(ap);
    if (rc < 0 || (rc = run(st)) < 0)
        goto out;
    if (changes)
        *changes = sqlite3_changes(c->db);
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

/* One integer from a one-row query (a count, a version). */
static int int1(struct sq *q, enum stmt which, int64_t *v, const char *types, ...)
{
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    va_list ap;
    int rc;

    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, which, &st)) < 0)
        goto out;
    va_start(ap, types);
    rc = vbinds(st, types, ap);
    va_end(ap);
    if (rc == 0)
        rc = run_int(st, v);
out:
    unprep(st);
    conn_put(q, c);
    return rc;
}

/* Rows of any kind: read is called for each, into slot i of an array of
 * elem-sized items that grows as needed (at most max rows; 0: no cap). */
typedef int (*row_reader)(sqlite3_stmt *st, void *item);

static int rows(struct sq *q, enum stmt which, row_reader read, size_t elem,
                void (*free_item)(void *), size_t max, void **out, size_t *n, const char *types,
                ...)
{
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    char *arr = NULL;
    size_t cnt = 0, cap = 0;
    va_list ap;
    int rc, src;

    *out = NULL;
    *n = 0;
    if ((rc = conn_get(q, &c)) < 0 || (rc = prep(c, which, &st)) < 0)
        goto out;
    va_start(ap, types);
    rc = vbinds(st, types, ap);
    va_end(ap);
    if (rc < 0)
        goto out;
    while ((max == 0 || cnt < max) && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char *p = vd_try_realloc(arr, ncap * elem);
            if (!p) {
                rc = -ENOMEM;
                goto out;
            }
            arr = p;
            cap = ncap;
        }
        memset(arr + cnt * elem, 0, elem);
        if ((rc = read(st, arr + cnt * elem)) < 0)
            goto out;
        cnt++;
    }
    if (max == 0 || cnt < max) {
        if (src != SQLITE_DONE) {
            rc = sq_code(src);
            goto out;
        }
    }
    *out = arr;
    *n = cnt;
    arr = NULL;
    cnt = 0;
    rc = 0;
out:
    for (size_t k = 0; free_item && k < cnt; k++)
        free_item(arr + k * elem);
    vd_free(arr);
    unprep(st);
    conn_put(q, c);
    return rc;
}

static int read_peek_row(sqlite3_stmt *st, void *item)
{
    return read_row(st, item, 0);
}

static void free_submission(void *item)
{
    vd_submission_free(item);
}

static int sq_list_session(void *impl, const char *session_id, size_t offset, size_t limit,
                           struct vd_submission **out, size_t *n, uint64_t *total)
{
    int64_t tot = 0;
    int rc = int1(impl, ST_TOTAL_SESSION, &tot, "t", session_id);
    if (rc < 0)
        return rc;
    *total = (uint64_t)tot;
    if (limit == 0 || offset >= (uint64_t)tot)
        return 0;
    return rows(impl, ST_LIST_SESSION, read_peek_row, sizeof(**out), free_submission, 0,
                (void **)out, n, "iit", clamp64(limit), clamp64(offset), session_id);
}

static int sq_active(void *impl, const char *owner, uint64_t *n)
{
    int64_t v = 0;
    int rc = int1(impl, ST_ACTIVE, &v, "t", owner);
    *n = (uint64_t)v;
    return rc;
}

static int sq_webhooks_due(void *impl, int64_t now_ms, size_t max, struct vd_submission **out,
                           size_t *n)
{
    return rows(impl, ST_WEBHOOKS_DUE, read_peek_row, sizeof(**out), free_submission, max,
                (void **)out, n, "ii", now_ms, clamp64(max));
}

static int sq_webhook_record(void *impl, const char *id, int attempt, int http_status,
                             const char *error, enum vd_webhook_state state, int64_t next_ms,
                             const char *delivery)
{
    int changed = 0;
    int rc = write1(impl, ST_WEBHOOK_RECORD, &changed, "tiitiiti", id, (int64_t)attempt,
                    (int64_t)http_status, error, (int64_t)state, next_ms, delivery, vd_now_ms());
    if (rc == 0 && changed == 0)
        rc = VD_EINVAL;
    return rc;
}

static int read_key(sqlite3_stmt *st, void *item)
{
    struct vd_key *k = item;
    int rc;
    if ((rc = copy_fixed(k->id, sizeof(k->id), st, 0)) < 0 ||
        (rc = copy_fixed(k->name, sizeof(k->name), st, 1)) < 0 ||
        (rc = copy_fixed(k->role, sizeof(k->role), st, 2)) < 0 ||
        (rc = copy_fixed(k->tier, sizeof(k->tier), st, 3)) < 0 ||
        (rc = copy_fixed(k->allowed_ips, sizeof(k->allowed_ips), st, 4)) < 0 ||
        (rc = copy_fixed(k->secret_hash, sizeof(k->secret_hash), st, 5)) < 0)
        return rc;
    k->created_ms = sqlite3_column_int64(st, 6);
    k->revoked_ms = sqlite3_column_int64(st, 7);
    return 0;
}

static int sq_key_create(void *impl, const struct vd_key *k)
{
    return write1(impl, ST_KEY_CREATE, NULL, "tttttti", k->id, k->name, k->role, k->tier,
                  k->allowed_ips, k->secret_hash, vd_now_ms());
}

/* The first row of a query as one item, VD_ENOTFOUND when none; the item
 * then owns what read gave it (free_item frees it on failure). */
static int one(struct sq *q, enum stmt which, row_reader read, size_t elem,
               void (*free_item)(void *), void *item, const char *arg)
{
    void *arr = NULL;
    size_t n = 0;
    int rc = rows(q, which, read, elem, free_item, 1, &arr, &n, "t", arg);
    if (rc == 0 && n == 0)
        rc = VD_ENOTFOUND;
    if (rc == 0)
        memcpy(item, arr, elem);
    vd_free(arr);
    return rc;
}

static int sq_key_get(void *impl, const char *id, struct vd_key *out)
{
    return one(impl, ST_KEY_GET, read_key, sizeof(*out), NULL, out, id);
}

static int sq_key_list(void *impl, struct vd_key **out, size_t *n)
{
    return rows(impl, ST_KEY_LIST, read_key, sizeof(**out), NULL, 0, (void **)out, n, "");
}

static int sq_key_revoke(void *impl, const char *id)
{
    struct vd_key k;
    int changed = 0;
    int rc = write1(impl, ST_KEY_REVOKE, &changed, "ti", id, vd_now_ms());
    if (rc == 0 && changed == 0)
        rc = sq_key_get(impl, id, &k) == VD_ENOTFOUND ? VD_ENOTFOUND : VD_EINVAL;
    return rc;
}

static int read_user(sqlite3_stmt *st, void *item)
{
    struct vd_user *u = item;
    int rc;
    if ((rc = copy_fixed(u->id, sizeof(u->id), st, 0)) < 0 ||
        (rc = copy_fixed(u->username, sizeof(u->username), st, 1)) < 0 ||
        (rc = copy_fixed(u->email, sizeof(u->email), st, 2)) < 0 ||
        (rc = copy_fixed(u->password_hash, sizeof(u->password_hash), st, 3)) < 0 ||
        (rc = copy_fixed(u->role, sizeof(u->role), st, 4)) < 0 ||
        (rc = copy_fixed(u->tier, sizeof(u->tier), st, 5)) < 0)
        return rc;
    u->created_ms = sqlite3_column_int64(st, 6);
    return 0;
}

static int sq_user_create(void *impl, struct vd_user *u)
{
    u->created_ms = vd_now_ms();
    return write1(impl, ST_USER_CREATE, NULL, "tttttti", u->id, u->username, u->email,
                  u->password_hash, u->role, u->tier, u->created_ms);
}

static int sq_user_get(void *impl, const char *id, struct vd_user *out)
{
    return one(impl, ST_USER_GET, read_user, sizeof(*out), NULL, out, id);
}

static int sq_user_find(void *impl, const char *login, struct vd_user *out)
{
    return one(impl, ST_USER_FIND, read_user, sizeof(*out), NULL, out, login);
}

static int read_session(sqlite3_stmt *st, void *item)
{
    struct vd_session *x = item;
    int rc;
    if ((rc = copy_fixed(x->id, sizeof(x->id), st, 0)) < 0 ||
        (rc = copy_fixed(x->owner, sizeof(x->owner), st, 1)) < 0 ||
        (rc = copy_fixed(x->lang, sizeof(x->lang), st, 2)) < 0 ||
        (rc = copy_dup(&x->source, st, 3)) < 0)
        return rc;
    if (!x->source)
        return -EIO; /* NOT NULL in the schema */
    x->version = sqlite3_column_int64(st, 4);
    x->created_ms = sqlite3_column_int64(st, 5);
    x->updated_ms = sqlite3_column_int64(st, 6);
    return 0;
}

static void free_session(void *item)
{
    vd_session_free(item);
}

static int sq_session_create(void *impl, struct vd_session *x)
{
    x->created_ms = x->updated_ms = vd_now_ms();
    x->version = 1;
    return write1(impl, ST_SES_CREATE, NULL, "tttti", x->id, x->owner, x->lang, x->source,
                  x->created_ms);
}

static int sq_session_get(void *impl, const char *id, struct vd_session *out)
{
    return one(impl, ST_SES_GET, read_session, sizeof(*out), free_session, out, id);
}

static int sq_session_save(void *impl, const char *id, const char *source, int64_t based_on,
                           int64_t *current)
{
    int changed = 0;
    int rc = write1(impl, ST_SES_SAVE, &changed, "ttii", id, source, based_on, vd_now_ms());
    if (rc == 0 && changed == 0) {
        rc = int1(impl, ST_SES_VERSION, current, "t", id);
        if (rc == 0)
            rc = VD_EINVAL;
    } else if (rc == 0) {
        *current = based_on + 1;
    }
    return rc;
}

static int sq_session_delete(void *impl, const char *id)
{
    int changed = 0;
    int rc = write1(impl, ST_SES_DELETE, &changed, "t", id);
    return rc == 0 && changed == 0 ? VD_ENOTFOUND : rc;
}

static int sq_session_list(void *impl, const char *owner, size_t offset, size_t limit,
                           struct vd_session **out, size_t *n, uint64_t *total)
{
    int64_t tot = 0;
    int rc = int1(impl, ST_SES_TOTAL, &tot, "t", owner);
    if (rc < 0)
        return rc;
    *total = (uint64_t)tot;
    if (limit == 0 || offset >= (uint64_t)tot)
        return 0;
    return rows(impl, ST_SES_LIST, read_session, sizeof(**out), free_session, 0, (void **)out, n,
                "iit", clamp64(limit), clamp64(offset), owner);
}

static int sq_signature_seen(void *impl, const char *sig, int64_t expires_ms, int64_t now_ms)
{
    static atomic_uint calls;
    int rc = write1(impl, ST_SIG_SEEN, NULL, "ti", sig, expires_ms);
    if (rc == -EEXIST)
        return VD_EAUTH;
    /* Now and then, the rows past their window go (a few at a time, so no
     * request pays for a long DELETE). */
    if (rc == 0 && atomic_fetch_add(&calls, 1) % 64 == 0)
        (void)!write1(impl, ST_SIG_PURGE, NULL, "i", now_ms);
    return rc;
}

/* A file has no connection to lose: nothing is ever made again. */
static uint64_t sq_reconnects(void *impl)
{
    (void)impl;
    return 0;
}

const struct vd__store_ops vd__store_sqlite_ops = {
    .open = sq_open,
    .close = sq_close,
    .create = sq_create,
    .get = sq_get,
    .peek = sq_peek,
    .list = sq_list,
    .set_running = sq_set_running,
    .finish = sq_finish,
    .set_status = sq_set_status,
    .rerun = sq_rerun,
    .remove = sq_delete,
    .sweep = sq_sweep,
    .counts = sq_counts,
    .ping = sq_ping,
    .claim = sq_claim,
    .depth = sq_depth,
    .recover = sq_recover,
    .list_session = sq_list_session,
    .active = sq_active,
    .webhooks_due = sq_webhooks_due,
    .webhook_record = sq_webhook_record,
    .key_create = sq_key_create,
    .key_get = sq_key_get,
    .key_list = sq_key_list,
    .key_revoke = sq_key_revoke,
    .user_create = sq_user_create,
    .user_get = sq_user_get,
    .user_find = sq_user_find,
    .session_create = sq_session_create,
    .session_get = sq_session_get,
    .session_save = sq_session_save,
    .session_delete = sq_session_delete,
    .session_list = sq_session_list,
    .signature_seen = sq_signature_seen,
    .unfinished_ids = sq_unfinished_ids,
    .reconnects = sq_reconnects,
};
