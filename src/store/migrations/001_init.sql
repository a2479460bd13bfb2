-- 001_init.sql - the first schema: submissions, which are also the embedded queue.
--
-- Conventions every later migration keeps (users, api_keys, sessions,
-- webhooks, problems, contests arrive as new tables in new files): ids are
-- TEXT (UUIDv7, 36 characters), times are INTEGER Unix milliseconds and NULL
-- for "not yet", enumerations are small INTEGERs whose values never change.
-- A migration is never edited once released; a change is a new file.
-- store_sqlite.c embeds this text, and a unit test keeps the two identical.

-- status: 0 created, 1 queued, 2 running, 3 finished, 4 cancelled
-- (enum vd_sub_status). finished_ms is when it ended, finished or cancelled.
-- A table with a rowid, not WITHOUT ROWID: rows carry source code and
-- results, and big rows belong in a rowid table (SQLite's own advice).
CREATE TABLE submissions (
    id          TEXT PRIMARY KEY NOT NULL,
    owner       TEXT NOT NULL DEFAULT '',
    lang        TEXT NOT NULL,
    request     TEXT NOT NULL,
    status      INTEGER NOT NULL CHECK (status BETWEEN 0 AND 4),
    verdict     TEXT NOT NULL DEFAULT '',
    result      TEXT,
    attempt     INTEGER NOT NULL DEFAULT 0,
    created_ms  INTEGER NOT NULL,
    queued_ms   INTEGER,
    started_ms  INTEGER,
    finished_ms INTEGER
);

-- The queue: a claim takes the first row of (status = queued) in this order,
-- and id breaks ties within a millisecond without a sort.
CREATE INDEX submissions_queue ON submissions (status, queued_ms, id);
-- One owner's submissions, newest first.
CREATE INDEX submissions_owner ON submissions (owner, id);
-- The sweep of old results.
CREATE INDEX submissions_finished ON submissions (finished_ms);
