-- pg/001_init.sql - the first schema: submissions, which are also the embedded queue.
--
-- The PostgreSQL copy of ../001_init.sql: the same version, tables, columns
-- and indexes, in PostgreSQL's types. Conventions every later migration
-- keeps: ids are TEXT (UUIDv7, 36 characters), times are BIGINT Unix
-- milliseconds and NULL for "not yet", enumerations are small INTEGERs whose
-- values never change. A migration is never edited once released; a change
-- is a new file, for both databases, under one new version number.
-- store_pg.c embeds this text, and a unit test keeps the two identical.
--
-- Ids that are listed in order are COLLATE "C": SQLite compares text byte by
-- byte, and so must this, whatever the database's locale (a locale's rules
-- may skip the hyphens or be slower); it also lets the indexes serve
-- ORDER BY id.

-- status: 0 created, 1 queued, 2 running, 3 finished, 4 cancelled
-- (enum vd_sub_status). finished_ms is when it ended, finished or cancelled.
CREATE TABLE submissions (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    owner       TEXT NOT NULL DEFAULT '',
    lang        TEXT NOT NULL,
    request     TEXT NOT NULL,
    status      INTEGER NOT NULL CHECK (status BETWEEN 0 AND 4),
    verdict     TEXT NOT NULL DEFAULT '',
    result      TEXT,
    attempt     INTEGER NOT NULL DEFAULT 0,
    created_ms  BIGINT NOT NULL,
    queued_ms   BIGINT,
    started_ms  BIGINT,
    finished_ms BIGINT
);

-- The queue: a claim takes the first row of (status = queued) in this order,
-- and id breaks ties within a millisecond without a sort.
CREATE INDEX submissions_queue ON submissions (status, queued_ms, id);
-- One owner's submissions, newest first.
CREATE INDEX submissions_owner ON submissions (owner, id);
-- The sweep of old results.
CREATE INDEX submissions_finished ON submissions (finished_ms);
