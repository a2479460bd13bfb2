/*
 * store_pg.c - the PostgreSQL backend of the store, for several nodes.
 *
 * Theory of operation. Every operation has exactly the contract of the
 * SQLite backend (store_sqlite.c, whose top comment lists the lifecycle and
 * its transitions) and of the public call in vd/store.h; the statements are
 * the same ones, spelt for PostgreSQL. Any thread of any process on any node
 * may call any of them at once.
 *
 * URL. vd_store_open() hands over the whole "postgres://..." or
 * "postgresql://..." URL. One query parameter is ours, pool=N (the most
 * connections this process keeps, 1 to POOL_LIMIT, POOL_DEFAULT when not
 * given); it is cut out of the URL before libpq sees it, since libpq refuses
 * parameters it does not know. Every other parameter is libpq's. Unless the
 * URL says otherwise, a connection attempt gives up after connect_timeout=5
 * seconds, TCP keepalives notice a peer that vanished within about a minute,
 * and tcp_user_timeout (libpq 12 and newer) does the same for data the peer
 * stopped acknowledging, so a dead server costs a bounded wait and a
 * negative code (-EIO, which the API answers with 503), never a hang. Error
 * messages show the URL without its password and without its query, which
 * may carry one too.
 *
 * Connections. A PGconn may be used by one thread at a time, so the store
 * keeps a pool: an operation borrows a connection, runs its statements and
 * gives it back. Connections are opened on demand up to pool=N and kept; a
 * thread that finds all N borrowed waits on a condition variable. Each
 * connection prepares a statement the first time it runs it (PQprepare,
 * named "s<number>"), with its parameter types from the statement table, and
 * then only executes it (PQexecPrepared). Every piece of data travels as a
 * text parameter; no SQL text is ever built from data.
 *
 * Lost connections. A server restart, a failover, an idle timeout or
 * pg_terminate_backend() kills connections while they sit idle in the pool.
 * So a borrowed connection is checked first, without a round trip: a server
 * that ended a session has sent a FATAL message and closed the socket, so the
 * socket is readable, and reading and parsing what came (PQconsumeInput,
 * PQisBusy) hands the FATAL to the notice receiver, which dooms the
 * connection, or meets the end of the stream. A dead connection is closed and
 * a fresh one opened in its slot before anything was sent, which is safe for
 * every operation. A connection that dies during an operation (PQstatus() no
 * longer CONNECTION_OK, or SQLSTATE class 08 or 57P) is closed when it comes
 * back, and its prepared statements go with it. Whether the server applied a
 * statement whose answer was lost cannot be known, so only an operation whose
 * repeat changes neither its answer nor the data runs again, once, on a fresh
 * connection (RETRY): every read, the sweep (its WHERE deletes only what the
 * first run would have; the count misses a lost batch) and the purge of old
 * signatures. A repeated create, claim, transition, delete, recovery, webhook
 * record, revoke or save could answer -EEXIST, VD_EINVAL or VD_ENOTFOUND for
 * work that was done, or take a second job: those answer -EIO (NO_RETRY),
 * which the API answers with 503, and the caller may ask again. Each
 * connection found broken is counted (vd_store_reconnects()). Named prepared
 * statements need a session of their own: point the URL at PostgreSQL or at a
 * session-pooling PgBouncer, not a transaction-pooling one.
 *
 * Concurrency. Every write is one autocommit statement, atomic on its own.
 * Transitions are the same conditional UPDATEs as SQLite's; PostgreSQL's row
 * locks let exactly one of two racing callers change a row, and the other's
 * WHERE is re-checked against the new row, so it changes nothing. A claim
 * picks the oldest queued row with FOR UPDATE SKIP LOCKED: claimers on every
 * node skip the rows others are taking instead of queueing behind them, and
 * never get the same one. The sweep and the purge lock what they delete the
 * same way, so a sweep never deletes a row that a rerun is queueing again.
 * A listing's count and page come from one REPEATABLE READ, READ ONLY
 * transaction, so both see the same snapshot.
 *
 * Schema. The migrations (migrations/pg/NNN_name.sql, the same versions,
 * tables, columns and indexes as SQLite's, in PostgreSQL's types) are
 * applied at open, each in a transaction of its own that first takes a
 * transaction-level advisory lock (MIGRATE_LOCK): two processes starting at
 * once against one fresh database apply each migration exactly once, the
 * second waiting, then finding it done. schema_migrations records the
 * versions applied. A database from a newer verdict (a version we do not
 * know) is refused rather than misread. Tables go in the first schema of the
 * search_path, so options=-csearch_path=NAME in the URL gives a store a
 * schema of its own.
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"
#include "vd/alloc.h"

#define POOL_DEFAULT 8
#define POOL_LIMIT 1024
#define SWEEP_BATCH 500 /* rows per delete, so a big sweep never holds many row locks */
#define SIG_PURGE_BATCH "256"
#define SIG_PURGE_EVERY 64 /* signature_seen calls between two purges */
#define MAX_PARAMS 10
/* Reads of an idle connection's socket before it is taken as alive: one
 * shows a FATAL message, the next the end of the stream behind it. */
#define ALIVE_READS 4
/* The advisory lock of migrations: "verdict" in ASCII, as a bigint. */
#define MIGRATE_LOCK "33325589237162868"
/* Parameter types, by their fixed OIDs in pg_type (never renumbered). */
#define OID_INT8 20
#define OID_TEXT 25

/* The SQL below spells statuses as numbers. */
_Static_assert(VD_SUB_CREATED == 0 && VD_SUB_QUEUED == 1 && VD_SUB_RUNNING == 2 &&
                   VD_SUB_FINISHED == 3 && VD_SUB_CANCELLED == 4,
               "statuses are stored as these numbers; never renumber them");

/* ---- migrations ------------------------------------------------------------ */

/* Keep in step with src/store/migrations/pg/001_init.sql, byte for byte. */
static const char m001_init[] =
    "-- pg/001_init.sql - the first schema: submissions, which are also the embedded queue.\n"
    "--\n"
    "-- The PostgreSQL copy of ../001_init.sql: the same version, tables, columns\n"
    "-- and indexes, in PostgreSQL's types. Conventions every later migration\n"
    "-- keeps: ids are TEXT (UUIDv7, 36 characters), times are BIGINT Unix\n"
    "-- milliseconds and NULL for \"not yet\", enumerations are small INTEGERs whose\n"
    "-- values never change. A migration is never edited once released; a change\n"
    "-- is a new file, for both databases, under one new version number.\n"
    "-- store_pg.c embeds this text, and a unit test keeps the two identical.\n"
    "--\n"
    "-- Ids that are listed in order are COLLATE \"C\": SQLite compares text byte by\n"
    "-- byte, and so must this, whatever the database's locale (a locale's rules\n"
    "-- may skip the hyphens or be slower); it also lets the indexes serve\n"
    "-- ORDER BY id.\n"
    "\n"
    "-- status: 0 created, 1 queued, 2 running, 3 finished, 4 cancelled\n"
    "-- (enum vd_sub_status). finished_ms is when it ended, finished or cancelled.\n"
    "CREATE TABLE submissions (\n"
    "    id          TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,\n"
    "    owner       TEXT NOT NULL DEFAULT '',\n"
    "    lang        TEXT NOT NULL,\n"
    "    request     TEXT NOT NULL,\n"
    "    status      INTEGER NOT NULL CHECK (status BETWEEN 0 AND 4),\n"
    "    verdict     TEXT NOT NULL DEFAULT '',\n"
    "    result      TEXT,\n"
    "    attempt     INTEGER NOT NULL DEFAULT 0,\n"
    "    created_ms  BIGINT NOT NULL,\n"
    "    queued_ms   BIGINT,\n"
    "    started_ms  BIGINT,\n"
    "    finished_ms BIGINT\n"
    ");\n"
    "\n"
    "-- The queue: a claim takes the first row of (status = queued) in this order,\n"
    "-- and id breaks ties within a millisecond without a sort.\n"
    "CREATE INDEX submissions_queue ON submissions (status, queued_ms, id);\n"
    "-- One owner's submissions, newest first.\n"
    "CREATE INDEX submissions_owner ON submissions (owner, id);\n"
    "-- The sweep of old results.\n"
    "CREATE INDEX submissions_finished ON submissions (finished_ms);\n";

/* Keep in step with src/store/migrations/pg/002_meta.sql, byte for byte. */
static const char m002_meta[] =
    "-- pg/002_meta.sql - what a view of a submission needs from its request, apart.\n"
    "--\n"
    "-- The PostgreSQL copy of ../002_meta.sql. A submission's request holds its\n"
    "-- source code and every test, megabytes at times, yet showing the\n"
    "-- submission needs only its metadata and callback URL. meta holds those two\n"
    "-- as a small JSON object ({\"metadata\": ..., \"callback_url\": ...}), NULL when\n"
    "-- the request had neither, so a read of a submission never has to load or\n"
    "-- parse its request. Plain TEXT, not jsonb: the store keeps the text it was\n"
    "-- given, byte for byte, as SQLite does.\n"
    "ALTER TABLE submissions ADD COLUMN meta TEXT;\n";

/* Keep in step with src/store/migrations/pg/003_auth.sql, byte for byte. */
static const char m003_auth[] =
    "-- pg/003_auth.sql - who is calling (API keys, users), code sessions, webhooks.\n"
    "--\n"
    "-- The PostgreSQL copy of ../003_auth.sql.\n"
    "--\n"
    "-- API keys: the secret is never stored. It is derived from the server's\n"
    "-- master secret and the key's id, and only its SHA-256 is kept here, to\n"
    "-- notice a master secret that changed. role: 'admin' or 'client'.\n"
    "CREATE TABLE api_keys (\n"
    "    id           TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,\n"
    "    name         TEXT NOT NULL,\n"
    "    role         TEXT NOT NULL CHECK (role IN ('admin', 'client')),\n"
    "    tier         TEXT NOT NULL,\n"
    "    allowed_ips  TEXT NOT NULL DEFAULT '',\n"
    "    secret_hash  TEXT NOT NULL,\n"
    "    created_ms   BIGINT NOT NULL,\n"
    "    revoked_ms   BIGINT\n"
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
    "    created_ms    BIGINT NOT NULL\n"
    ");\n"
    "\n"
    "-- Code sessions: code being written, saved as it is typed. version grows by\n"
    "-- one with each save; a save names the version it was based on, so a stale\n"
    "-- editor cannot overwrite newer code. BIGINT: SQLite's INTEGER is 64 bits,\n"
    "-- and so is the version the store hands out.\n"
    "CREATE TABLE code_sessions (\n"
    "    id          TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,\n"
    "    owner       TEXT NOT NULL DEFAULT '',\n"
    "    lang        TEXT NOT NULL,\n"
    "    source      TEXT NOT NULL,\n"
    "    version     BIGINT NOT NULL,\n"
    "    created_ms  BIGINT NOT NULL,\n"
    "    updated_ms  BIGINT NOT NULL\n"
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
    "ALTER TABLE submissions ADD COLUMN webhook_next_ms BIGINT NOT NULL DEFAULT 0;\n"
    "ALTER TABLE submissions ADD COLUMN webhook_done_ms BIGINT;\n"
    "ALTER TABLE submissions ADD COLUMN webhook_delivery TEXT;\n"
    "CREATE INDEX submissions_session ON submissions (session_id, id);\n"
    "-- Deliveries due: pending ones, by when they are due.\n"
    "CREATE INDEX submissions_webhooks ON submissions (webhook_state, webhook_next_ms);\n"
    "-- One caller's live submissions, for the cap on queued and running ones.\n"
    "CREATE INDEX submissions_owner_status ON submissions (owner, status);\n";

/* Keep in step with src/store/migrations/pg/004_signatures.sql, byte for byte. */
static const char m004_signatures[] =
    "-- pg/004_signatures.sql - signed requests seen, for as long as they could be\n"
    "-- replayed.\n"
    "--\n"
    "-- The PostgreSQL copy of ../004_signatures.sql. A signed request is refused\n"
    "-- when its signature was seen before within the time window. Kept here, not\n"
    "-- in memory, so that a restart (or another process on the same database)\n"
    "-- does not forget them: a request captured before a restart cannot be\n"
    "-- replayed after it. A row goes once its timestamp has left the window\n"
    "-- (expires_ms), when no request with that signature could pass the time\n"
    "-- check anyway.\n"
    "CREATE TABLE signatures_seen (\n"
    "    signature  TEXT PRIMARY KEY NOT NULL,\n"
    "    expires_ms BIGINT NOT NULL\n"
    ");\n"
    "CREATE INDEX signatures_seen_expiry ON signatures_seen (expires_ms);\n";

/* In version order, the same versions as SQLite's; a new migration is a new
 * line here and a new file, for both databases. */
const struct vd__store_migration vd__store_pg_migrations[] = {
    {1, "pg/001_init.sql", m001_init},
    {2, "pg/002_meta.sql", m002_meta},
    {3, "pg/003_auth.sql", m003_auth},
    {4, "pg/004_signatures.sql", m004_signatures},
    {0, NULL, NULL},
};

/* ---- statements ------------------------------------------------------------ */

enum stmt {
    ST_BEGIN_READ,
    ST_COMMIT,
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

/* The columns read_row() expects, in its order: those of store_sqlite.c. */
#define COLS                                                                               \
    "id, owner, lang, request, status, verdict, result, attempt, created_ms, started_ms, " \
    "finished_ms, meta, session_id, webhook_url, webhook_state, webhook_attempts, "        \
    "webhook_status, webhook_error, webhook_next_ms, webhook_done_ms, webhook_delivery"
/* The same without the request, which may be megabytes (NULL in its place). */
#define PEEK_COLS                                                                             \
    "id, owner, lang, NULL::text, status, verdict, result, attempt, created_ms, started_ms, " \
    "finished_ms, meta, session_id, webhook_url, webhook_state, webhook_attempts, "           \
    "webhook_status, webhook_error, webhook_next_ms, webhook_done_ms, webhook_delivery"

#define KEY_COLS "id, name, role, tier, allowed_ips, secret_hash, created_ms, revoked_ms"
#define USER_COLS "id, username, email, password_hash, role, tier, created_ms"
#define SES_COLS "id, owner, lang, source, version, created_ms, updated_ms"

/*
 * Each statement with the types of $1, $2, ...: 't' text (a C string, NULL
 * for SQL NULL), 'i' bigint (an int64_t). The types are declared when the
 * statement is prepared, so no parameter's type is left to inference, and
 * the callers pass their arguments in this order and of these types.
 */
static const struct {
    const char *sql;
    const char *types;
} stmts[ST_COUNT_] = {
    /* The count and the page of a listing see one snapshot. */
    [ST_BEGIN_READ] = {"BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", ""},
    [ST_COMMIT] = {"COMMIT", ""},
    [ST_CREATE] = {"INSERT INTO submissions (id, owner, lang, request, status, created_ms, "
                   "queued_ms, meta, session_id, webhook_url) VALUES ($1, $2, $3, $4, $5, $6, "
                   "CASE WHEN $5 = 1 THEN $6 END, $7, $8, $9)",
                   "ttttiittt"},
    [ST_GET] = {"SELECT " COLS " FROM submissions WHERE id = $1", "t"},
    [ST_PEEK] = {"SELECT " PEEK_COLS " FROM submissions WHERE id = $1", "t"},
    [ST_STATE] = {"SELECT status, attempt FROM submissions WHERE id = $1", "t"},
    /* ids are UUIDv7 (COLLATE "C"): by id is by creation time, and an index
     * scan. */
    [ST_LIST_ALL] = {"SELECT " PEEK_COLS " FROM submissions ORDER BY id DESC LIMIT $1 OFFSET $2",
                     "ii"},
    [ST_LIST_OWNER] = {"SELECT " PEEK_COLS " FROM submissions WHERE owner = $3 "
                       "ORDER BY id DESC LIMIT $1 OFFSET $2",
                       "iit"},
    [ST_TOTAL_ALL] = {"SELECT COUNT(*) FROM submissions", ""},
    [ST_TOTAL_OWNER] = {"SELECT COUNT(*) FROM submissions WHERE owner = $1", "t"},
    [ST_SET_RUNNING] = {"UPDATE submissions SET status = 2, attempt = $2, started_ms = $3 "
                        "WHERE id = $1 AND status IN (1, 2) AND attempt < $2",
                        "tii"},
    /* A submission with a webhook URL has its delivery due from now on. */
    [ST_FINISH] = {"UPDATE submissions SET status = 3, verdict = $3, result = $4, "
                   "finished_ms = $5, "
                   "webhook_state = CASE WHEN webhook_url IS NULL THEN 0 ELSE 1 END, "
                   "webhook_next_ms = $5 "
                   "WHERE id = $1 AND status = 2 AND attempt = $2",
                   "titti"},
    /* $4 is the set of states the target may be reached from, one bit each. */
    [ST_SET_STATUS] = {"UPDATE submissions SET status = $2, "
                       "queued_ms = CASE WHEN $2 = 1 THEN COALESCE(queued_ms, $3) "
                       "ELSE queued_ms END, "
                       "finished_ms = CASE WHEN $2 = 4 THEN $3 ELSE finished_ms END "
                       "WHERE id = $1 AND ((1 << status) & $4) <> 0",
                       "tiii"},
    /* As SQLite's: the old result goes, the attempt count stays (the claim
     * raises it), never from queued or running. */
    [ST_RERUN] = {"UPDATE submissions SET status = 1, verdict = '', result = NULL, "
                  "queued_ms = $2, started_ms = NULL, finished_ms = NULL, webhook_state = 0, "
                  "webhook_attempts = 0, webhook_status = NULL, webhook_error = NULL, "
                  "webhook_next_ms = 0, webhook_done_ms = NULL, webhook_delivery = NULL "
                  "WHERE id = $1 AND status IN (0, 3, 4)",
                  "ti"},
    [ST_DELETE] = {"DELETE FROM submissions WHERE id = $1", "t"},
    /* Locked rows are skipped: one a rerun is queueing again (its new state
     * fails the re-checked WHERE anyway), or one another sweeper has. */
    [ST_SWEEP] = {"DELETE FROM submissions WHERE id IN (SELECT id FROM submissions "
                  "WHERE finished_ms < $1 AND status IN (3, 4) LIMIT $2 FOR UPDATE SKIP LOCKED) "
                  "AND finished_ms < $1 AND status IN (3, 4)",
                  "ii"},
    [ST_COUNTS] = {"SELECT status, COUNT(*) FROM submissions GROUP BY status", ""},
    /* Reads a table, unlike SELECT 1: the schema must be there. */
    [ST_PING] = {"SELECT MAX(version) FROM schema_migrations", ""},
    /* One statement: the oldest queued row nobody else is taking is locked,
     * turned running and committed, so two claimers on any nodes never get
     * the same one, and a job is always either queued or running. */
    [ST_CLAIM] = {"UPDATE submissions SET status = 2, attempt = attempt + 1, started_ms = $1 "
                  "WHERE id = (SELECT id FROM submissions WHERE status = 1 "
                  "ORDER BY queued_ms, id LIMIT 1 FOR UPDATE SKIP LOCKED) AND status = 1 "
                  "RETURNING id, attempt",
                  "i"},
    [ST_DEPTH] = {"SELECT COUNT(*) FROM submissions WHERE status = 1", ""},
    [ST_RECOVER] = {"UPDATE submissions SET status = 1, queued_ms = COALESCE(queued_ms, $1) "
                    "WHERE status = 2",
                    "i"},
    [ST_LIST_SESSION] = {"SELECT " PEEK_COLS " FROM submissions WHERE session_id = $3 "
                         "ORDER BY id DESC LIMIT $1 OFFSET $2",
                         "iit"},
    [ST_TOTAL_SESSION] = {"SELECT COUNT(*) FROM submissions WHERE session_id = $1", "t"},
    [ST_ACTIVE] = {"SELECT COUNT(*) FROM submissions WHERE owner = $1 AND status IN (1, 2)", "t"},
    [ST_WEBHOOKS_DUE] = {"SELECT " PEEK_COLS " FROM submissions WHERE webhook_state = 1 "
                         "AND webhook_next_ms <= $1 ORDER BY webhook_next_ms LIMIT $2",
                         "ii"},
    /* The attempt before this one must be the last recorded: two
     * dispatchers recording the same attempt cannot both succeed. */
    [ST_WEBHOOK_RECORD] = {"UPDATE submissions SET webhook_attempts = $2, webhook_status = $3, "
                           "webhook_error = $4, webhook_state = $5, webhook_next_ms = $6, "
                           "webhook_delivery = $7, "
                           "webhook_done_ms = CASE WHEN $5 IN (2, 3) THEN $8 END "
                           "WHERE id = $1 AND webhook_state = 1 AND webhook_attempts = $2 - 1",
                           "tiitiiti"},
    [ST_KEY_CREATE] = {"INSERT INTO api_keys (id, name, role, tier, allowed_ips, secret_hash, "
                       "created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                       "tttttti"},
    [ST_KEY_GET] = {"SELECT " KEY_COLS " FROM api_keys WHERE id = $1", "t"},
    [ST_KEY_LIST] = {"SELECT " KEY_COLS " FROM api_keys ORDER BY created_ms, id", ""},
    [ST_KEY_REVOKE] = {"UPDATE api_keys SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL",
                       "ti"},
    [ST_USER_CREATE] = {"INSERT INTO users (id, username, email, password_hash, role, tier, "
                        "created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        "tttttti"},
    [ST_USER_GET] = {"SELECT " USER_COLS " FROM users WHERE id = $1", "t"},
    [ST_USER_FIND] = {"SELECT " USER_COLS " FROM users WHERE username = $1 OR email = $1", "t"},
    [ST_SES_CREATE] = {"INSERT INTO code_sessions (id, owner, lang, source, version, created_ms, "
                       "updated_ms) VALUES ($1, $2, $3, $4, 1, $5, $5)",
                       "tttti"},
    [ST_SES_GET] = {"SELECT " SES_COLS " FROM code_sessions WHERE id = $1", "t"},
    [ST_SES_SAVE] = {"UPDATE code_sessions SET source = $2, version = version + 1, "
                     "updated_ms = $4 WHERE id = $1 AND version = $3",
                     "ttii"},
    [ST_SES_VERSION] = {"SELECT version FROM code_sessions WHERE id = $1", "t"},
    [ST_SES_DELETE] = {"DELETE FROM code_sessions WHERE id = $1", "t"},
    [ST_SES_LIST] = {"SELECT " SES_COLS " FROM code_sessions WHERE owner = $3 "
                     "ORDER BY id DESC LIMIT $1 OFFSET $2",
                     "iit"},
    [ST_SES_TOTAL] = {"SELECT COUNT(*) FROM code_sessions WHERE owner = $1", "t"},
    /* A primary key taken means seen before: the INSERT is the check, and
     * DO NOTHING answers it with no row instead of an error (which the
     * server would log at every replay). A second racing INSERT waits for
     * the first to commit, then sees it. */
    [ST_SIG_SEEN] = {"INSERT INTO signatures_seen (signature, expires_ms) VALUES ($1, $2) "
                     "ON CONFLICT (signature) DO NOTHING",
                     "ti"},
    [ST_SIG_PURGE] = {"DELETE FROM signatures_seen WHERE signature IN (SELECT signature FROM "
                      "signatures_seen WHERE expires_ms < $1 LIMIT " SIG_PURGE_BATCH
                      " FOR UPDATE SKIP LOCKED)",
                      "i"},
    [ST_UNFINISHED_IDS] = {"SELECT id FROM submissions WHERE (status = 1 AND queued_ms < $1) OR "
                           "(status = 2 AND started_ms < $1) ORDER BY queued_ms, id LIMIT $2",
                       "ii"},
};

/* ---- connections ----------------------------------------------------------- */

struct conn {
    PGconn *pg;
    unsigned char prepared[ST_COUNT_]; /* on this connection, by PQprepare */
    int doomed;                        /* the server ended it, or a call saw it go */
    struct conn *next;                 /* in the idle list */
};

struct pgs {
    char *conninfo; /* the URL without pool=, for libpq */
    char *shown;    /* the URL without password and query, for messages */
    int pool_max;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a connection came back, or a slot freed */
    struct conn *idle;
    int nopen; /* connections that exist, idle or borrowed */
    atomic_uint_fast64_t reconnects;
    atomic_uint sig_calls;
};

/* Whether a failed operation may run again on a fresh connection (see the
 * top: only when a repeat cannot change the answer or the data). */
enum retry {
    NO_RETRY,
    RETRY
};

/* A result's SQLSTATE as ours. A lost connection also dooms c. */
static int pg_code(struct conn *c, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    /* Class 08 is a connection exception; 57P01..57P05 end the session
     * (shutdown, crash, database dropped, idle timeout). */
    if (PQstatus(c->pg) != CONNECTION_OK ||
        (st && (strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0))) {
        c->doomed = 1;
        return -EIO;
    }
    if (!r)
        return -ENOMEM; /* libpq could not make a result */
    if (!st)
        return -EIO; /* failed inside libpq, with no word from the server */
    /* As SQLite's CONSTRAINT: store.c's checks leave only a unique key to
     * break (an id, a username or email, a signature). */
    if (strncmp(st, "23", 2) == 0)
        return -EEXIST;
    if (strcmp(st, "53100") == 0) /* disk_full */
        return -ENOSPC;
    if (strcmp(st, "53200") == 0) /* out_of_memory */
        return -ENOMEM;
    /* Busy, as SQLite's BUSY: too many connections, a serialization
     * failure, a deadlock, a lock or statement timeout. */
    if (strncmp(st, "53", 2) == 0 || strncmp(st, "40", 2) == 0 || strcmp(st, "55P03") == 0 ||
        strcmp(st, "57014") == 0)
        return -EBUSY;
    if (strcmp(st, "25006") == 0) /* read_only_sql_transaction: a standby */
        return -EROFS;
    if (strcmp(st, "42501") == 0 || strncmp(st, "28", 2) == 0)
        return -EACCES;
    if (strcmp(st, "54000") == 0) /* program_limit_exceeded: a value too large */
        return VD_ETOOBIG;
    if (strncmp(st, "22", 2) == 0) /* data exception: text the database cannot hold */
        return VD_EINVAL;
    return -EIO; /* a missing table, an internal error, ... */
}

/* Messages the server sends outside an answer (NOTICEs of CREATE ... IF NOT
 * EXISTS, or the FATAL before it closes an idle connection) would go to
 * stderr; a store driver does not log. A FATAL or PANIC dooms the
 * connection. Called by libpq on the thread that holds c. */
static void on_notice(void *arg, const PGresult *r)
{
    struct conn *c = arg;
    const char *sev = NULL;
#ifdef PG_DIAG_SEVERITY_NONLOCALIZED
    sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
#endif
    if (!sev)
        sev = PQresultErrorField(r, PG_DIAG_SEVERITY);
    if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
        c->doomed = 1;
}

static void conn_close(struct conn *c)
{
    if (!c)
        return;
    PQfinish(c->pg); /* NULL-safe */
    vd_free(c);
}

/* libpq's message on one line, without the trailing newline. */
static void one_line(char *dst, size_t cap, const char *msg)
{
    size_t k = 0;
    int space = 0;
    for (const char *p = msg ? msg : ""; *p && k + 1 < cap; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r') {
            space = 1;
            continue;
        }
        if (space && k > 0 && k + 2 < cap)
            dst[k++] = ' ';
        space = 0;
        dst[k++] = *p;
    }
    dst[k] = '\0';
}

/* Opens one connection with the defaults of the top comment; what the URL
 * says wins, since its expansion (dbname, last) overrides what came before. */
static int conn_open(struct pgs *q, struct conn **out, struct vd_errbuf *eb)
{
    const char *kw[] = {"connect_timeout",
                        "fallback_application_name",
                        "client_encoding",
                        "keepalives_idle",
                        "keepalives_interval",
                        "keepalives_count",
                        "tcp_user_timeout",
                        "dbname",
                        NULL};
    const char *val[] = {"5", "verdict", "UTF8", "30", "10", "3", "30000", q->conninfo, NULL};
    struct conn *c = vd_xcalloc(1, sizeof(*c));
    PGresult *r = NULL;
    char msg[VD_ERRBUF_SIZE];
    int rc;

    *out = NULL;
    /* libpq before 12 does not know tcp_user_timeout and would refuse it:
     * leave it out there (dbname moves up, the list ends after it). */
    if (PQlibVersion() < 120000) {
        kw[6] = kw[7];
        val[6] = val[7];
        kw[7] = val[7] = NULL;
    }
    c->pg = PQconnectdbParams(kw, val, 1);
    if (!c->pg) {
        rc = vd_errf(eb, -ENOMEM, "database %s: out of memory", q->shown);
        goto out;
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        one_line(msg, sizeof(msg), PQerrorMessage(c->pg));
        rc = vd_errf(eb, -EIO, "database %s: %s", q->shown, msg);
        goto out;
    }
    /* SKIP LOCKED and ON CONFLICT came with 9.5. */
    if (PQserverVersion(c->pg) < 90500) {
        rc = vd_errf(eb, VD_EINVAL, "database %s: PostgreSQL 9.5 or newer is needed (server %d)",
                     q->shown, PQserverVersion(c->pg));
        goto out;
    }
    PQsetNoticeReceiver(c->pg, on_notice, c);
    /* The transitions and the claim count on READ COMMITTED re-checking a
     * row another caller changed meanwhile (see the top), whatever the
     * database's default: under REPEATABLE READ the loser of a race would
     * fail with a serialization error instead of being refused. */
    r = PQexec(c->pg, "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        one_line(msg, sizeof(msg), r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg));
        rc = vd_errf(eb, r ? -EIO : -ENOMEM, "database %s: %s", q->shown, msg);
        goto out;
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    PQclear(r);
    conn_close(c);
    return rc;
}

/* Whether an idle connection still has its server, without a round trip (see
 * the top). An idle connection expects nothing from the server: whatever is
 * there to read is a notice, a FATAL, or the end of the stream. */
static int conn_alive(struct conn *c)
{
    for (int i = 0; i < ALIVE_READS; i++) {
        if (c->doomed || PQstatus(c->pg) != CONNECTION_OK)
            return 0;
        struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
        int k = poll(&p, 1, 0);
        if (k == 0)
            return PQtransactionStatus(c->pg) == PQTRANS_IDLE;
        if (k < 0) /* cannot tell: the statement will */
            return 1;
        /* Reads what came (PQconsumeInput), then parses it (PQisBusy),
         * which hands a FATAL to on_notice. */
        if (!PQconsumeInput(c->pg))
            return 0;
        (void)PQisBusy(c->pg);
    }
    return !c->doomed && PQstatus(c->pg) == CONNECTION_OK;
}

/* Borrows a connection: an idle one that is alive, else a fresh one in the
 * slot of a dead one or in a free slot; waits when all are borrowed. */
static int conn_get(struct pgs *q, struct conn **out)
{
    struct conn *c = NULL;
    int rc;

    *out = NULL;
    pthread_mutex_lock(&q->mu);
    while (!q->idle && q->nopen >= q->pool_max)
        pthread_cond_wait(&q->cv, &q->mu);
    if (q->idle) {
        c = q->idle;
        q->idle = c->next;
        c->next = NULL;
    } else {
        q->nopen++;
    }
    pthread_mutex_unlock(&q->mu);

    if (c) {
        if (conn_alive(c)) {
            *out = c;
            return 0;
        }
        /* Nothing was sent on it: any operation may go on, on a new one. */
        conn_close(c);
        c = NULL;
        atomic_fetch_add(&q->reconnects, 1);
    }
    /* Opened outside the lock: connecting takes round trips, or seconds
     * when the server is unreachable. */
    rc = conn_open(q, &c, NULL);
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
 * by a failed operation is rolled back, so the next borrower starts clean;
 * a connection that is broken, or cannot be made clean, is closed and its
 * slot freed. */
static void conn_put(struct pgs *q, struct conn *c)
{
    int broken;

    if (!c)
        return;
    if (!c->doomed && PQstatus(c->pg) == CONNECTION_OK &&
        PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        /* The simple protocol: valid in an aborted transaction too. */
        PGresult *r = PQexec(c->pg, "ROLLBACK");
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            c->doomed = 1;
        PQclear(r);
    }
    broken =
        c->doomed || PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE;
    pthread_mutex_lock(&q->mu);
    if (broken) {
        q->nopen--;
    } else {
        c->next = q->idle;
        q->idle = c;
    }
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    if (broken) {
        conn_close(c);
        atomic_fetch_add(&q->reconnects, 1);
    }
}

/* ---- running statements ---------------------------------------------------- */

/* The text parameters of one execution. Filled once, so a retry sends the
 * same; v[] may point into num[], so a struct params is never copied. */
struct params {
    int n;
    const char *v[MAX_PARAMS];
    char num[MAX_PARAMS][24];
};

/* Converts the arguments of statement `which`, typed as in stmts[]. */
static void vparams(struct params *p, enum stmt which, va_list ap)
{
    const char *types = stmts[which].types;

    p->n = (int)strlen(types);
    VD_ASSERT(p->n <= MAX_PARAMS);
    for (int i = 0; i < p->n; i++) {
        if (types[i] == 't') {
            p->v[i] = va_arg(ap, const char *);
        } else {
            snprintf(p->num[i], sizeof(p->num[i]), "%" PRId64, va_arg(ap, int64_t));
            p->v[i] = p->num[i];
        }
    }
}

static void params(struct params *p, enum stmt which, ...)
{
    va_list ap;
    va_start(ap, which);
    vparams(p, which, ap);
    va_end(ap);
}

/* Runs statement `which` on c, preparing it on first use. On success *out
 * is its result (the caller PQclear()s it); on failure a negative code, and
 * c is doomed when the connection went. */
static int run1(struct conn *c, enum stmt which, const struct params *p, PGresult **out)
{
    char name[16];
    PGresult *r;
    int rc;

    *out = NULL;
    VD_ASSERT(p->n == (int)strlen(stmts[which].types));
    snprintf(name, sizeof(name), "s%d", (int)which);
    if (!c->prepared[which]) {
        Oid types[MAX_PARAMS];
        for (int i = 0; i < p->n; i++)
            types[i] = stmts[which].types[i] == 't' ? OID_TEXT : OID_INT8;
        r = PQprepare(c->pg, name, stmts[which].sql, p->n, types);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            rc = pg_code(c, r);
            PQclear(r);
            return rc;
        }
        PQclear(r);
        c->prepared[which] = 1;
    }
    r = PQexecPrepared(c->pg, name, p->n, p->v, NULL, NULL, 0);
    switch (PQresultStatus(r)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
        *out = r;
        return 0;
    default:
        rc = pg_code(c, r);
        PQclear(r);
        return rc;
    }
}

/* The work of one operation on one borrowed connection. It may run twice
 * (RETRY), so it sets its outputs from scratch each time. */
typedef int (*op_body)(struct conn *c, void *arg);

/* Borrows a connection, runs body and gives the connection back; when the
 * connection was lost under it and retry allows, once more on another. */
static int run_op(struct pgs *q, enum retry retry, op_body body, void *arg)
{
    struct conn *c = NULL;
    int rc;

    for (int tries = 0;; tries++) {
        if ((rc = conn_get(q, &c)) < 0)
            return rc;
        rc = body(c, arg);
        int lost = rc < 0 && (c->doomed || PQstatus(c->pg) != CONNECTION_OK);
        conn_put(q, c); /* closes a lost one */
        c = NULL;
        if (!lost || retry == NO_RETRY || tries > 0)
            return rc;
    }
}

/* Rows a statement changed (0 for one that reports none). */
static int64_t changes_of(const PGresult *r)
{
    const char *t = PQcmdTuples((PGresult *)r);
    return *t ? strtoll(t, NULL, 10) : 0;
}

/* A bigint or integer column; NULL reads as 0, as in SQLite. */
static int64_t col_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* ---- rows ------------------------------------------------------------------ */

/* Copies a text column into a fixed field; NULL reads as "". */
static int copy_fixed(char *dst, size_t cap, const PGresult *r, int row, int col)
{
    size_t n = PQgetisnull(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col);
    if (n >= cap) /* written by something other than this store */
        return VD_ETOOBIG;
    if (n)
        memcpy(dst, PQgetvalue(r, row, col), n);
    dst[n] = '\0';
    return 0;
}

/* Copies a text column into fresh memory; NULL stays NULL. */
static int copy_dup(char **dst, const PGresult *r, int row, int col)
{
    *dst = NULL;
    if (PQgetisnull(r, row, col))
        return 0;
    size_t n = (size_t)PQgetlength(r, row, col);
    char *p = vd_try_malloc(n + 1); /* input-sized: source code, results */
    if (!p)
        return -ENOMEM;
    memcpy(p, PQgetvalue(r, row, col), n);
    p[n] = '\0';
    *dst = p;
    return 0;
}

/* Fills out from one row of a statement selecting COLS (or PEEK_COLS:
 * with_request 0). On failure out owns nothing. */
static int read_row(const PGresult *r, int row, struct vd_submission *out, int with_request)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = copy_fixed(out->id, sizeof(out->id), r, row, 0)) < 0 ||
        (rc = copy_fixed(out->owner, sizeof(out->owner), r, row, 1)) < 0 ||
        (rc = copy_fixed(out->lang, sizeof(out->lang), r, row, 2)) < 0 ||
        (rc = copy_dup(&out->request, r, row, 3)) < 0 ||
        (rc = copy_fixed(out->verdict, sizeof(out->verdict), r, row, 5)) < 0 ||
        (rc = copy_dup(&out->result, r, row, 6)) < 0 || (rc = copy_dup(&out->meta, r, row, 11)) < 0)
        goto out;
    out->status = (enum vd_sub_status)col_i64(r, row, 4);
    out->attempt = (int)col_i64(r, row, 7);
    out->created_ms = col_i64(r, row, 8);
    out->started_ms = col_i64(r, row, 9); /* NULL reads as 0 */
    out->finished_ms = col_i64(r, row, 10);
    if ((rc = copy_fixed(out->session_id, sizeof(out->session_id), r, row, 12)) < 0 ||
        (rc = copy_dup(&out->webhook_url, r, row, 13)) < 0 ||
        (rc = copy_fixed(out->webhook_error, sizeof(out->webhook_error), r, row, 17)) < 0 ||
        (rc = copy_fixed(out->webhook_delivery, sizeof(out->webhook_delivery), r, row, 20)) < 0)
        goto out;
    out->webhook_state = (enum vd_webhook_state)col_i64(r, row, 14);
    out->webhook_attempts = (int)col_i64(r, row, 15);
    out->webhook_status = (int)col_i64(r, row, 16);
    out->webhook_next_ms = col_i64(r, row, 18);
    out->webhook_done_ms = col_i64(r, row, 19);
    if (with_request && !out->request) /* NOT NULL in the schema */
        rc = -EIO;
out:
    if (rc < 0)
        vd_submission_free(out);
    return rc;
}

/* Reads one row into an item of an array; on failure the item owns nothing. */
typedef int (*row_reader)(const PGresult *r, int row, void *item);

/* The rows of r (at most max; 0: all) as a fresh array of elem-sized items
 * in *out, NULL when there are none. */
static int take_rows(const PGresult *r, row_reader read, size_t elem, void (*free_item)(void *),
                     size_t max, void **out, size_t *n)
{
    size_t cnt = (size_t)PQntuples(r), k = 0;
    char *arr = NULL;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (max && cnt > max)
        cnt = max;
    if (cnt == 0)
        return 0;
    arr = vd_try_calloc(cnt, elem);
    if (!arr)
        return -ENOMEM;
    for (; k < cnt; k++) {
        if ((rc = read(r, (int)k, arr + k * elem)) < 0)
            goto out;
    }
    *out = arr;
    *n = cnt;
    arr = NULL;
    k = 0;
out:
    for (size_t i = 0; free_item && i < k; i++)
        free_item(arr + i * elem);
    vd_free(arr);
    return rc;
}

static void free_rows(void *arr, size_t n, size_t elem, void (*free_item)(void *))
{
    for (size_t i = 0; free_item && i < n; i++)
        free_item((char *)arr + i * elem);
    vd_free(arr);
}

static int read_full_row(const PGresult *r, int row, void *item)
{
    return read_row(r, row, item, 1);
}

static int read_peek_row(const PGresult *r, int row, void *item)
{
    return read_row(r, row, item, 0);
}

static void free_submission(void *item)
{
    vd_submission_free(item);
}

/* ---- generic operations ---------------------------------------------------- */

/* One statement and its parameters, with what it gave. */
struct call {
    enum stmt which;
    struct params p;
    int64_t changes; /* rows a write changed */
    int64_t value;   /* a read's first column of its first row */
};

static int body_write(struct conn *c, void *arg)
{
    struct call *a = arg;
    PGresult *r = NULL;
    int rc = run1(c, a->which, &a->p, &r);
    a->changes = rc == 0 ? changes_of(r) : 0;
    PQclear(r);
    return rc;
}

/* One write statement with its arguments; *changes says how many rows it
 * changed (may be NULL). -EEXIST for a unique key already taken. */
static int write1(struct pgs *q, enum retry retry, int64_t *changes, enum stmt which, ...)
{
    struct call a = {.which = which};
    va_list ap;
    va_start(ap, which);
    vparams(&a.p, which, ap);
    va_end(ap);
    int rc = run_op(q, retry, body_write, &a);
    if (changes)
        *changes = a.changes;
    return rc;
}

static int body_int(struct conn *c, void *arg)
{
    struct call *a = arg;
    PGresult *r = NULL;
    int rc = run1(c, a->which, &a->p, &r);
    if (rc == 0) {
        if (PQntuples(r) < 1 || PQnfields(r) < 1)
            rc = VD_ENOTFOUND;
        else
            a->value = col_i64(r, 0, 0);
    }
    PQclear(r);
    return rc;
}

/* One integer from a one-row query (a count, a version); VD_ENOTFOUND when
 * there is no row. A read: retried. */
static int int1(struct pgs *q, int64_t *v, enum stmt which, ...)
{
    struct call a = {.which = which};
    va_list ap;
    va_start(ap, which);
    vparams(&a.p, which, ap);
    va_end(ap);
    int rc = run_op(q, RETRY, body_int, &a);
    if (rc == 0)
        *v = a.value;
    return rc;
}

/* A query's rows as an array. */
struct rows_call {
    enum stmt which;
    struct params p;
    row_reader read;
    size_t elem;
    void (*free_item)(void *);
    size_t max;
    void *out;
    size_t n;
};

static int body_rows(struct conn *c, void *arg)
{
    struct rows_call *a = arg;
    PGresult *r = NULL;
    a->out = NULL;
    a->n = 0;
    int rc = run1(c, a->which, &a->p, &r);
    if (rc == 0)
        rc = take_rows(r, a->read, a->elem, a->free_item, a->max, &a->out, &a->n);
    PQclear(r);
    return rc;
}

/* Rows of any kind into an array of elem-sized items (at most max; 0: no
 * cap); *out is NULL when there are none. A read: retried. */
static int rows(struct pgs *q, row_reader read, size_t elem, void (*free_item)(void *), size_t max,
                void **out, size_t *n, enum stmt which, ...)
{
    struct rows_call a = {
        .which = which, .read = read, .elem = elem, .free_item = free_item, .max = max};
    va_list ap;
    va_start(ap, which);
    vparams(&a.p, which, ap);
    va_end(ap);
    int rc = run_op(q, RETRY, body_rows, &a);
    *out = a.out;
    *n = a.n;
    return rc;
}

/* The first row of a one-text-argument query as one item, VD_ENOTFOUND when
 * none; the item then owns what read gave it. */
static int one(struct pgs *q, enum stmt which, row_reader read, size_t elem,
               void (*free_item)(void *), void *item, const char *arg)
{
    void *arr = NULL;
    size_t n = 0;
    int rc = rows(q, read, elem, free_item, 1, &arr, &n, which, arg);
    if (rc == 0 && n == 0)
        rc = VD_ENOTFOUND;
    if (rc == 0)
        memcpy(item, arr, elem);
    vd_free(arr);
    return rc;
}

/* A listing: its total and one page, from one snapshot. */
struct listing {
    enum stmt total_st, page_st;
    struct params total_p, page_p;
    row_reader read;
    size_t elem;
    void (*free_item)(void *);
    size_t limit, offset;
    void *out;
    size_t n;
    uint64_t total;
};

static int body_listing(struct conn *c, void *arg)
{
    struct listing *a = arg;
    struct params none = {0};
    PGresult *r = NULL;
    int64_t tot = 0;
    int rc;

    a->out = NULL;
    a->n = 0;
    a->total = 0;
    if ((rc = run1(c, ST_BEGIN_READ, &none, &r)) < 0)
        goto out;
    PQclear(r);
    r = NULL;
    if ((rc = run1(c, a->total_st, &a->total_p, &r)) < 0)
        goto out;
    tot = PQntuples(r) > 0 ? col_i64(r, 0, 0) : 0;
    PQclear(r);
    r = NULL;
    if (a->limit > 0 && (uint64_t)tot > a->offset) {
        if ((rc = run1(c, a->page_st, &a->page_p, &r)) < 0 ||
            (rc = take_rows(r, a->read, a->elem, a->free_item, 0, &a->out, &a->n)) < 0)
            goto out;
        PQclear(r);
        r = NULL;
    }
    if ((rc = run1(c, ST_COMMIT, &none, &r)) < 0)
        goto out;
    a->total = (uint64_t)tot;
out:
    PQclear(r);
    if (rc < 0) {
        free_rows(a->out, a->n, a->elem, a->free_item);
        a->out = NULL;
        a->n = 0;
    }
    return rc; /* conn_put rolls back what a failure left open */
}

static int listing(struct pgs *q, struct listing *a, void **out, size_t *n, uint64_t *total)
{
    int rc = run_op(q, RETRY, body_listing, a);
    if (rc == 0) {
        *out = a->out;
        *n = a->n;
        *total = a->total;
    }
    return rc;
}

static int64_t clamp64(size_t v)
{
    return v > (size_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* ---- migrations, open, close ----------------------------------------------- */

/* Runs trusted constant SQL (several statements allowed) on c; on failure
 * the message says what was being done. */
static int simple(struct conn *c, const char *sql, PGresult **out, const char *shown,
                  const char *what, struct vd_errbuf *eb)
{
    char msg[VD_ERRBUF_SIZE];
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType st = PQresultStatus(r);

    if (out)
        *out = NULL;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out)
            *out = r;
        else
            PQclear(r);
        return 0;
    }
    int rc = pg_code(c, r);
    one_line(msg, sizeof(msg), r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg));
    PQclear(r);
    return vd_errf(eb, rc, "database %s: %s: %s", shown, what, msg);
}

/* Applies the migrations not yet applied, each in its own transaction under
 * the advisory lock (see the top). */
static int migrate(struct pgs *q, struct conn *c, struct vd_errbuf *eb)
{
    const struct vd__store_migration *m;
    PGresult *r = NULL;
    int latest = 0, rc = 0;

    for (int i = 0; vd__store_pg_migrations[i].sql; i++)
        latest = vd__store_pg_migrations[i].version;

    for (;;) {
        int64_t have;
        /* READ COMMITTED whatever the database's default: each statement
         * after the lock must see what the lock's previous holder
         * committed, which a snapshot taken before the wait would not. */
        if ((rc = simple(c, "BEGIN ISOLATION LEVEL READ COMMITTED", NULL, q->shown,
                         "setting up the schema", eb)) < 0 ||
            (rc = simple(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", NULL, q->shown,
                         "waiting for the schema lock", eb)) < 0 ||
            (rc = simple(c,
                         "CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "version INTEGER PRIMARY KEY NOT NULL, applied_ms BIGINT NOT NULL)",
                         NULL, q->shown, "setting up the schema", eb)) < 0 ||
            (rc = simple(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &r, q->shown,
                         "reading schema_migrations", eb)) < 0)
            goto out;
        have = PQntuples(r) > 0 ? col_i64(r, 0, 0) : 0;
        PQclear(r);
        r = NULL;
        if (have > latest) {
            rc = vd_errf(eb, VD_EINVAL,
                         "database %s has schema version %lld, newer than this verdict knows (%d)",
                         q->shown, (long long)have, latest);
            goto out;
        }
        for (m = vd__store_pg_migrations; m->sql && m->version <= have; m++)
            ;
        if (!m->sql) /* all applied */
            break;
        char what[96], version[16], now[24];
        const char *vals[2] = {version, now};
        snprintf(what, sizeof(what), "migration %s", m->file);
        snprintf(version, sizeof(version), "%d", m->version);
        snprintf(now, sizeof(now), "%" PRId64, vd_now_ms());
        /* Trusted, constant text from this file: PQexec runs its several
         * statements inside the transaction. The version goes in bound. */
        if ((rc = simple(c, m->sql, NULL, q->shown, what, eb)) < 0)
            goto out;
        r = PQexecParams(c->pg,
                         "INSERT INTO schema_migrations (version, applied_ms) "
                         "VALUES ($1::integer, $2::bigint)",
                         2, NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            char msg[VD_ERRBUF_SIZE];
            rc = pg_code(c, r);
            one_line(msg, sizeof(msg), r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg));
            rc = vd_errf(eb, rc, "database %s: recording %s: %s", q->shown, what, msg);
            goto out;
        }
        PQclear(r);
        r = NULL;
        if ((rc = simple(c, "COMMIT", NULL, q->shown, what, eb)) < 0)
            goto out;
    }
    rc = simple(c, "COMMIT", NULL, q->shown, "setting up the schema", eb);
out:
    PQclear(r);
    if (rc < 0 && PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        PQclear(PQexec(c->pg, "ROLLBACK"));
    return rc;
}

/* The URL for messages: scheme, user, host, port and database, without the
 * password and without the query (which may hold one too). */
static char *url_shown(const char *url)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t scheme_len = (size_t)(auth - url);
    size_t auth_len = strcspn(auth, "/?");
    size_t path_len = strcspn(auth + auth_len, "?");
    const char *at = memrchr(auth, '@', auth_len);
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    size_t cap = strlen(url) + 8;
    char *s = vd_xmalloc(cap);

    if (colon)
        snprintf(s, cap, "%.*s%.*s:***%.*s", (int)scheme_len, url, (int)(colon - auth), auth,
                 (int)(auth_len - (size_t)(at - auth)) + (int)path_len, at);
    else
        snprintf(s, cap, "%.*s", (int)(scheme_len + auth_len + path_len), url);
    return s;
}

/* Cuts pool=N out of the URL's query into *pool (POOL_DEFAULT without it);
 * *conninfo is the rest, which libpq then checks. */
static int parse_url(const char *url, const char *shown, char **conninfo, int *pool,
                     struct vd_errbuf *eb)
{
    const char *query = strchr(url, '?');
    size_t cap = strlen(url) + 1;
    char *out = vd_xmalloc(cap), *err = NULL;
    size_t len;
    int rc = 0;
    PQconninfoOption *opts = NULL;

    *conninfo = NULL;
    *pool = POOL_DEFAULT;
    len = query ? (size_t)(query - url) : strlen(url);
    memcpy(out, url, len);
    out[len] = '\0';
    for (const char *p = query ? query + 1 : NULL; p && *p;) {
        size_t n = strcspn(p, "&");
        if (n >= 4 && strncmp(p, "pool", 4) == 0 && (n == 4 || p[4] == '=')) {
            char num[16], *end = NULL;
            long v = -1;
            if (n > 5 && n - 5 < sizeof(num)) {
                memcpy(num, p + 5, n - 5);
                num[n - 5] = '\0';
                errno = 0;
                v = strtol(num, &end, 10);
                if (errno || *end || num[0] < '0' || num[0] > '9')
                    v = -1;
            }
            if (v < 1 || v > POOL_LIMIT) {
                rc = vd_errf(eb, VD_EINVAL, "database URL %s: pool must be a number from 1 to %d",
                             shown, POOL_LIMIT);
                goto out;
            }
            *pool = (int)v;
        } else if (n > 0) {
            out[len++] = strchr(out, '?') ? '&' : '?';
            memcpy(out + len, p, n);
            len += n;
            out[len] = '\0';
        }
        p += n;
        if (*p == '&')
            p++;
    }
    /* libpq's own check now, for a message at open rather than at every
     * connection attempt. */
    opts = PQconninfoParse(out, &err);
    if (!opts) {
        char msg[VD_ERRBUF_SIZE];
        one_line(msg, sizeof(msg), err ? err : "out of memory");
        rc = vd_errf(eb, err ? VD_EINVAL : -ENOMEM, "database URL %s: %s", shown, msg);
        goto out;
    }
    *conninfo = out;
    out = NULL;
out:
    PQconninfoFree(opts);
    PQfreemem(err);
    vd_free(out);
    return rc;
}

static void pg_close(void *impl)
{
    struct pgs *q = impl;
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
    vd_free(q->conninfo);
    vd_free(q->shown);
    vd_free(q);
}

static int pg_open(const char *url, void **impl, struct vd_errbuf *eb)
{
    struct pgs *q = NULL;
    struct conn *c = NULL;
    int rc;

    *impl = NULL;
    /* The pool shares libpq between threads. */
    if (!PQisthreadsafe())
        return vd_errf(eb, VD_EINVAL, "this libpq was built without thread support");

    q = vd_xcalloc(1, sizeof(*q));
    q->shown = url_shown(url);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    atomic_init(&q->reconnects, 0);
    atomic_init(&q->sig_calls, 0);
    if ((rc = parse_url(url, q->shown, &q->conninfo, &q->pool_max, eb)) < 0 ||
        (rc = conn_open(q, &c, eb)) < 0)
        goto out;
    q->nopen = 1;
    if ((rc = migrate(q, c, eb)) < 0)
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
    pg_close(q);
    return rc;
}

/* ---- operations ------------------------------------------------------------ */

static int pg_create(void *impl, struct vd_submission *sub)
{
    int64_t now = vd_now_ms();
    /* A repeat of an INSERT whose answer was lost would say -EEXIST. */
    int rc =
        write1(impl, NO_RETRY, NULL, ST_CREATE, sub->id, sub->owner, sub->lang, sub->request,
               (int64_t)sub->status, now, sub->meta, sub->session_id[0] ? sub->session_id : NULL,
               sub->webhook_url && *sub->webhook_url ? sub->webhook_url : NULL);
    if (rc < 0)
        return rc;
    /* What the row now says, so the caller can answer without a get. */
    sub->created_ms = now;
    sub->started_ms = sub->finished_ms = 0;
    sub->attempt = 0;
    sub->verdict[0] = '\0';
    return 0;
}

static int pg_get(void *impl, const char *id, struct vd_submission *out)
{
    return one(impl, ST_GET, read_full_row, sizeof(*out), free_submission, out, id);
}

static int pg_peek(void *impl, const char *id, struct vd_submission *out)
{
    return one(impl, ST_PEEK, read_peek_row, sizeof(*out), free_submission, out, id);
}

static int pg_list(void *impl, const char *owner, size_t offset, size_t limit,
                   struct vd_submission **out, size_t *n, uint64_t *total)
{
    struct listing a = {.read = read_peek_row,
                        .elem = sizeof(**out),
                        .free_item = free_submission,
                        .limit = limit,
                        .offset = offset};
    if (owner) {
        a.total_st = ST_TOTAL_OWNER;
        params(&a.total_p, ST_TOTAL_OWNER, owner);
        a.page_st = ST_LIST_OWNER;
        params(&a.page_p, ST_LIST_OWNER, clamp64(limit), clamp64(offset), owner);
    } else {
        a.total_st = ST_TOTAL_ALL;
        params(&a.total_p, ST_TOTAL_ALL);
        a.page_st = ST_LIST_ALL;
        params(&a.page_p, ST_LIST_ALL, clamp64(limit), clamp64(offset));
    }
    return listing(impl, &a, (void **)out, n, total);
}

/* A conditional UPDATE of one submission, and when it changed nothing, that
 * row's status and attempt on the same connection (VD_ENOTFOUND when there
 * is no row). */
struct transition {
    struct call up;
    int changed;
    int status, attempt;
};

static int body_transition(struct conn *c, void *arg)
{
    struct transition *a = arg;
    struct params p;
    PGresult *r = NULL;
    int rc;

    a->changed = 0;
    if ((rc = run1(c, a->up.which, &a->up.p, &r)) < 0)
        goto out;
    a->changed = changes_of(r) > 0;
    PQclear(r);
    r = NULL;
    if (a->changed)
        goto out;
    /* The id is the first parameter of every transition. */
    params(&p, ST_STATE, a->up.p.v[0]);
    if ((rc = run1(c, ST_STATE, &p, &r)) < 0)
        goto out;
    if (PQntuples(r) < 1) {
        rc = VD_ENOTFOUND;
        goto out;
    }
    a->status = (int)col_i64(r, 0, 0);
    a->attempt = (int)col_i64(r, 0, 1);
out:
    PQclear(r);
    return rc;
}

/* Runs a transition; none is retried, since a repeat of one that was
 * applied would be refused (VD_EINVAL) for work that was done. */
static int transition(struct pgs *q, struct transition *a, enum stmt which, ...)
{
    va_list ap;
    memset(a, 0, sizeof(*a));
    a->up.which = which;
    va_start(ap, which);
    vparams(&a->up.p, which, ap);
    va_end(ap);
    return run_op(q, NO_RETRY, body_transition, a);
}

static int pg_set_running(void *impl, const char *id, int attempt)
{
    struct transition t;
    int rc = transition(impl, &t, ST_SET_RUNNING, id, (int64_t)attempt, vd_now_ms());
    if (rc == 0 && !t.changed)
        rc = VD_EINVAL; /* not queued or running, or not a newer attempt */
    return rc;
}

static int pg_finish(void *impl, const char *id, int attempt, const char *verdict,
                     const char *result)
{
    struct transition t;
    int rc = transition(impl, &t, ST_FINISH, id, (int64_t)attempt, verdict, result, vd_now_ms());
    /* As SQLite: an older attempt's result (the job was re-run meanwhile) is
     * ignored and answers 0; the current attempt on a job no longer running
     * is refused. */
    if (rc == 0 && !t.changed)
        rc = attempt < t.attempt ? 0 : VD_EINVAL;
    return rc;
}

static int pg_set_status(void *impl, const char *id, enum vd_sub_status to)
{
    struct transition t;
    int64_t from;

    /* The states each target may be reached from (store.c lets only these
     * two targets through). */
    if (to == VD_SUB_QUEUED)
        from = 1 << VD_SUB_CREATED | 1 << VD_SUB_RUNNING;
    else
        from = 1 << VD_SUB_CREATED | 1 << VD_SUB_QUEUED | 1 << VD_SUB_RUNNING;
    int rc = transition(impl, &t, ST_SET_STATUS, id, (int64_t)to, vd_now_ms(), from);
    if (rc == 0 && !t.changed)
        rc = VD_EINVAL;
    return rc;
}

static int pg_rerun(void *impl, const char *id)
{
    struct transition t;
    int rc = transition(impl, &t, ST_RERUN, id, vd_now_ms());
    if (rc == 0 && !t.changed)
        rc = VD_EINVAL; /* queued or running: already on its way */
    return rc;
}

static int pg_delete(void *impl, const char *id)
{
    int64_t changed = 0;
    /* Not retried: a repeat of a delete that was applied says VD_ENOTFOUND. */
    int rc = write1(impl, NO_RETRY, &changed, ST_DELETE, id);
    return rc == 0 && changed == 0 ? VD_ENOTFOUND : rc;
}

struct sweep {
    struct call del;
    uint64_t deleted;
};

static int body_sweep(struct conn *c, void *arg)
{
    struct sweep *a = arg;
    PGresult *r = NULL;
    int64_t k;
    int rc;

    /* In batches, each its own transaction, so a large sweep holds few row
     * locks at a time. A retry goes on counting: the batches before the
     * lost one are gone and counted, the lost one's rows are deleted again
     * or were already (then uncounted: nobody can say). */
    do {
        if ((rc = run1(c, ST_SWEEP, &a->del.p, &r)) < 0)
            return rc;
        k = changes_of(r);
        PQclear(r);
        r = NULL;
        a->deleted += (uint64_t)k;
    } while (k == SWEEP_BATCH);
    return 0;
}

static int pg_sweep(void *impl, int64_t finished_before_ms, uint64_t *deleted)
{
    struct sweep a = {.del.which = ST_SWEEP};
    params(&a.del.p, ST_SWEEP, finished_before_ms, (int64_t)SWEEP_BATCH);
    /* Retried: its WHERE makes a repeat harmless. */
    int rc = run_op(impl, RETRY, body_sweep, &a);
    *deleted = a.deleted;
    return rc;
}

static int body_counts(struct conn *c, void *arg)
{
    struct vd_store_counts *out = arg;
    struct params none = {0};
    PGresult *r = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = run1(c, ST_COUNTS, &none, &r)) < 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        uint64_t k = (uint64_t)col_i64(r, i, 1);
        switch (col_i64(r, i, 0)) {
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
    PQclear(r);
    return 0;
}

static int pg_counts(void *impl, struct vd_store_counts *out)
{
    return run_op(impl, RETRY, body_counts, out);
}

static int pg_ping(void *impl)
{
    int64_t v;
    return int1(impl, &v, ST_PING);
}

struct claim {
    char *id;
    int *attempt;
};

static int body_claim(struct conn *c, void *arg)
{
    struct claim *a = arg;
    struct params p;
    PGresult *r = NULL;
    int rc;

    params(&p, ST_CLAIM, vd_now_ms());
    /* The answer comes after the commit (autocommit ends at the protocol's
     * Sync): a claim that did not stick is reported, not handed out. */
    if ((rc = run1(c, ST_CLAIM, &p, &r)) < 0)
        goto out;
    if (PQntuples(r) < 1) {
        rc = VD_ENOTFOUND; /* nothing queued, or every queued row being taken */
        goto out;
    }
    if ((rc = copy_fixed(a->id, VD_ID_LEN + 1, r, 0, 0)) < 0)
        goto out;
    *a->attempt = (int)col_i64(r, 0, 1);
out:
    PQclear(r);
    return rc;
}

static int pg_claim(void *impl, char id[VD_ID_LEN + 1], int *attempt)
{
    struct claim a = {id, attempt};
    /* Never retried: a repeat after a lost answer would claim a second job
     * and leave the first running with nobody on it. */
    int rc = run_op(impl, NO_RETRY, body_claim, &a);
    if (rc < 0) {
        id[0] = '\0';
        *attempt = 0;
    }
    return rc;
}

static int pg_depth(void *impl, uint64_t *queued)
{
    int64_t v = 0;
    int rc = int1(impl, &v, ST_DEPTH);
    if (rc == 0)
        *queued = (uint64_t)v;
    return rc;
}

static int pg_recover(void *impl, uint64_t *requeued)
{
    int64_t k = 0;
    /* Not retried: a repeat would put back a job claimed in between, and
     * miscount. */
    int rc = write1(impl, NO_RETRY, &k, ST_RECOVER, vd_now_ms());
    if (rc == 0)
        *requeued = (uint64_t)k;
    return rc;
}

struct unfinished_ids {
    struct call sel;
    size_t max;
    char (*ids)[VD_ID_LEN + 1];
    size_t n;
};

static int body_unfinished_ids(struct conn *c, void *arg)
{
    struct unfinished_ids *a = arg;
    PGresult *r = NULL;
    int rc;

    a->n = 0;
    if ((rc = run1(c, ST_UNFINISHED_IDS, &a->sel.p, &r)) < 0)
        return rc;
    for (int i = 0; i < PQntuples(r) && a->n < a->max; i++) {
        if ((rc = copy_fixed(a->ids[a->n], VD_ID_LEN + 1, r, i, 0)) < 0)
            break;
        a->n++;
    }
    PQclear(r);
    return rc;
}

static int pg_unfinished_ids(void *impl, int64_t before_ms, size_t max, char (*ids)[VD_ID_LEN + 1],
                         size_t *n)
{
    struct unfinished_ids a = {.max = max, .ids = ids};
    params(&a.sel.p, ST_UNFINISHED_IDS, before_ms, clamp64(max));
    int rc = run_op(impl, RETRY, body_unfinished_ids, &a);
    *n = a.n; /* as SQLite: the ids read before a failure stay counted */
    return rc;
}

/* ---- the tables of 003_auth ------------------------------------------------ */

static int pg_list_session(void *impl, const char *session_id, size_t offset, size_t limit,
                           struct vd_submission **out, size_t *n, uint64_t *total)
{
    struct listing a = {.total_st = ST_TOTAL_SESSION,
                        .page_st = ST_LIST_SESSION,
                        .read = read_peek_row,
                        .elem = sizeof(**out),
                        .free_item = free_submission,
                        .limit = limit,
                        .offset = offset};
    params(&a.total_p, ST_TOTAL_SESSION, session_id);
    params(&a.page_p, ST_LIST_SESSION, clamp64(limit), clamp64(offset), session_id);
    return listing(impl, &a, (void **)out, n, total);
}

static int pg_active(void *impl, const char *owner, uint64_t *n)
{
    int64_t v = 0;
    int rc = int1(impl, &v, ST_ACTIVE, owner);
    *n = (uint64_t)v;
    return rc;
}

static int pg_webhooks_due(void *impl, int64_t now_ms, size_t max, struct vd_submission **out,
                           size_t *n)
{
    return rows(impl, read_peek_row, sizeof(**out), free_submission, max, (void **)out, n,
                ST_WEBHOOKS_DUE, now_ms, clamp64(max));
}

static int pg_webhook_record(void *impl, const char *id, int attempt, int http_status,
                             const char *error, enum vd_webhook_state state, int64_t next_ms,
                             const char *delivery)
{
    int64_t changed = 0;
    /* Not retried: a repeat of a record that was applied is refused. */
    int rc = write1(impl, NO_RETRY, &changed, ST_WEBHOOK_RECORD, id, (int64_t)attempt,
                    (int64_t)http_status, error, (int64_t)state, next_ms, delivery, vd_now_ms());
    if (rc == 0 && changed == 0)
        rc = VD_EINVAL;
    return rc;
}

static int read_key(const PGresult *r, int row, void *item)
{
    struct vd_key *k = item;
    int rc;
    if ((rc = copy_fixed(k->id, sizeof(k->id), r, row, 0)) < 0 ||
        (rc = copy_fixed(k->name, sizeof(k->name), r, row, 1)) < 0 ||
        (rc = copy_fixed(k->role, sizeof(k->role), r, row, 2)) < 0 ||
        (rc = copy_fixed(k->tier, sizeof(k->tier), r, row, 3)) < 0 ||
        (rc = copy_fixed(k->allowed_ips, sizeof(k->allowed_ips), r, row, 4)) < 0 ||
        (rc = copy_fixed(k->secret_hash, sizeof(k->secret_hash), r, row, 5)) < 0)
        return rc;
    k->created_ms = col_i64(r, row, 6);
    k->revoked_ms = col_i64(r, row, 7);
    return 0;
}

static int pg_key_create(void *impl, const struct vd_key *k)
{
    return write1(impl, NO_RETRY, NULL, ST_KEY_CREATE, k->id, k->name, k->role, k->tier,
                  k->allowed_ips, k->secret_hash, vd_now_ms());
}

static int pg_key_get(void *impl, const char *id, struct vd_key *out)
{
    return one(impl, ST_KEY_GET, read_key, sizeof(*out), NULL, out, id);
}

static int pg_key_list(void *impl, struct vd_key **out, size_t *n)
{
    return rows(impl, read_key, sizeof(**out), NULL, 0, (void **)out, n, ST_KEY_LIST);
}

static int pg_key_revoke(void *impl, const char *id)
{
    struct vd_key k;
    int64_t changed = 0;
    int rc = write1(impl, NO_RETRY, &changed, ST_KEY_REVOKE, id, vd_now_ms());
    if (rc == 0 && changed == 0) {
        /* Revoked already, or no such key (or the look failed). */
        rc = pg_key_get(impl, id, &k);
        if (rc == 0)
            rc = VD_EINVAL;
    }
    return rc;
}

static int read_user(const PGresult *r, int row, void *item)
{
    struct vd_user *u = item;
    int rc;
    if ((rc = copy_fixed(u->id, sizeof(u->id), r, row, 0)) < 0 ||
        (rc = copy_fixed(u->username, sizeof(u->username), r, row, 1)) < 0 ||
        (rc = copy_fixed(u->email, sizeof(u->email), r, row, 2)) < 0 ||
        (rc = copy_fixed(u->password_hash, sizeof(u->password_hash), r, row, 3)) < 0 ||
        (rc = copy_fixed(u->role, sizeof(u->role), r, row, 4)) < 0 ||
        (rc = copy_fixed(u->tier, sizeof(u->tier), r, row, 5)) < 0)
        return rc;
    u->created_ms = col_i64(r, row, 6);
    return 0;
}

static int pg_user_create(void *impl, struct vd_user *u)
{
    u->created_ms = vd_now_ms();
    return write1(impl, NO_RETRY, NULL, ST_USER_CREATE, u->id, u->username, u->email,
                  u->password_hash, u->role, u->tier, u->created_ms);
}

static int pg_user_get(void *impl, const char *id, struct vd_user *out)
{
    return one(impl, ST_USER_GET, read_user, sizeof(*out), NULL, out, id);
}

static int pg_user_find(void *impl, const char *login, struct vd_user *out)
{
    return one(impl, ST_USER_FIND, read_user, sizeof(*out), NULL, out, login);
}

static int read_session(const PGresult *r, int row, void *item)
{
    struct vd_session *x = item;
    int rc;
    if ((rc = copy_fixed(x->id, sizeof(x->id), r, row, 0)) < 0 ||
        (rc = copy_fixed(x->owner, sizeof(x->owner), r, row, 1)) < 0 ||
        (rc = copy_fixed(x->lang, sizeof(x->lang), r, row, 2)) < 0 ||
        (rc = copy_dup(&x->source, r, row, 3)) < 0)
        return rc;
    if (!x->source)
        return -EIO; /* NOT NULL in the schema */
    x->version = col_i64(r, row, 4);
    x->created_ms = col_i64(r, row, 5);
    x->updated_ms = col_i64(r, row, 6);
    return 0;
}

static void free_session(void *item)
{
    vd_session_free(item);
}

static int pg_session_create(void *impl, struct vd_session *x)
{
    x->created_ms = x->updated_ms = vd_now_ms();
    x->version = 1;
    return write1(impl, NO_RETRY, NULL, ST_SES_CREATE, x->id, x->owner, x->lang, x->source,
                  x->created_ms);
}

static int pg_session_get(void *impl, const char *id, struct vd_session *out)
{
    return one(impl, ST_SES_GET, read_session, sizeof(*out), free_session, out, id);
}

static int pg_session_save(void *impl, const char *id, const char *source, int64_t based_on,
                           int64_t *current)
{
    int64_t changed = 0;
    /* Not retried: a repeat of a save that was applied would be stale. */
    int rc = write1(impl, NO_RETRY, &changed, ST_SES_SAVE, id, source, based_on, vd_now_ms());
    if (rc == 0 && changed == 0) {
        rc = int1(impl, current, ST_SES_VERSION, id);
        if (rc == 0)
            rc = VD_EINVAL;
    } else if (rc == 0) {
        *current = based_on + 1;
    }
    return rc;
}

static int pg_session_delete(void *impl, const char *id)
{
    int64_t changed = 0;
    int rc = write1(impl, NO_RETRY, &changed, ST_SES_DELETE, id);
    return rc == 0 && changed == 0 ? VD_ENOTFOUND : rc;
}

static int pg_session_list(void *impl, const char *owner, size_t offset, size_t limit,
                           struct vd_session **out, size_t *n, uint64_t *total)
{
    struct listing a = {.total_st = ST_SES_TOTAL,
                        .page_st = ST_SES_LIST,
                        .read = read_session,
                        .elem = sizeof(**out),
                        .free_item = free_session,
                        .limit = limit,
                        .offset = offset};
    params(&a.total_p, ST_SES_TOTAL, owner);
    params(&a.page_p, ST_SES_LIST, clamp64(limit), clamp64(offset), owner);
    return listing(impl, &a, (void **)out, n, total);
}

static int pg_signature_seen(void *impl, const char *sig, int64_t expires_ms, int64_t now_ms)
{
    struct pgs *q = impl;
    int64_t added = 0;
    /* Not retried: a repeat of an INSERT that was applied would call the
     * first sight of a signature a replay. */
    int rc = write1(q, NO_RETRY, &added, ST_SIG_SEEN, sig, expires_ms);
    if (rc == 0 && added == 0)
        return VD_EAUTH;
    /* Now and then, the rows past their window go (a few at a time, so no
     * request pays for a long DELETE). */
    if (rc == 0 && atomic_fetch_add(&q->sig_calls, 1) % SIG_PURGE_EVERY == 0)
        (void)!write1(q, RETRY, NULL, ST_SIG_PURGE, now_ms);
    return rc;
}

/* Connections found broken and closed since open; each is replaced by a
 * new one when next needed. */
static uint64_t pg_reconnects(void *impl)
{
    struct pgs *q = impl;
    return (uint64_t)atomic_load(&q->reconnects);
}

const struct vd__store_ops vd__store_pg_ops = {
    .open = pg_open,
    .close = pg_close,
    .create = pg_create,
    .get = pg_get,
    .peek = pg_peek,
    .list = pg_list,
    .set_running = pg_set_running,
    .finish = pg_finish,
    .set_status = pg_set_status,
    .rerun = pg_rerun,
    .remove = pg_delete,
    .sweep = pg_sweep,
    .counts = pg_counts,
    .ping = pg_ping,
    .claim = pg_claim,
    .depth = pg_depth,
    .recover = pg_recover,
    .list_session = pg_list_session,
    .active = pg_active,
    .webhooks_due = pg_webhooks_due,
    .webhook_record = pg_webhook_record,
    .key_create = pg_key_create,
    .key_get = pg_key_get,
    .key_list = pg_key_list,
    .key_revoke = pg_key_revoke,
    .user_create = pg_user_create,
    .user_get = pg_user_get,
    .user_find = pg_user_find,
    .session_create = pg_session_create,
    .session_get = pg_session_get,
    .session_save = pg_session_save,
    .session_delete = pg_session_delete,
    .session_list = pg_session_list,
    .signature_seen = pg_signature_seen,
    .unfinished_ids = pg_unfinished_ids,
    .reconnects = pg_reconnects,
};
