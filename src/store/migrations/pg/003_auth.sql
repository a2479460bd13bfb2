-- pg/003_auth.sql - who is calling (API keys, users), code sessions, webhooks.
--
-- The PostgreSQL copy of ../003_auth.sql.
--
-- API keys: the secret is never stored. It is derived from the server's
-- master secret and the key's id, and only its SHA-256 is kept here, to
-- notice a master secret that changed. role: 'admin' or 'client'.
CREATE TABLE api_keys (
    id           TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'client')),
    tier         TEXT NOT NULL,
    allowed_ips  TEXT NOT NULL DEFAULT '',
    secret_hash  TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    revoked_ms   BIGINT
);

-- End users. password_hash is libsodium's argon2id string (it carries its
-- own salt and parameters). role: 'user' or 'admin'.
CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    tier          TEXT NOT NULL,
    created_ms    BIGINT NOT NULL
);

-- Code sessions: code being written, saved as it is typed. version grows by
-- one with each save; a save names the version it was based on, so a stale
-- editor cannot overwrite newer code. BIGINT: SQLite's INTEGER is 64 bits,
-- and so is the version the store hands out.
CREATE TABLE code_sessions (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    owner       TEXT NOT NULL DEFAULT '',
    lang        TEXT NOT NULL,
    source      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
CREATE INDEX code_sessions_owner ON code_sessions (owner, id);

-- A submission made by a session's run; and its webhook. webhook_state:
-- 0 none, 1 pending (delivered when it finishes), 2 delivered, 3 failed.
ALTER TABLE submissions ADD COLUMN session_id TEXT;
ALTER TABLE submissions ADD COLUMN webhook_url TEXT;
ALTER TABLE submissions ADD COLUMN webhook_state INTEGER NOT NULL DEFAULT 0;
ALTER TABLE submissions ADD COLUMN webhook_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE submissions ADD COLUMN webhook_status INTEGER;
ALTER TABLE submissions ADD COLUMN webhook_error TEXT;
ALTER TABLE submissions ADD COLUMN webhook_next_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE submissions ADD COLUMN webhook_done_ms BIGINT;
ALTER TABLE submissions ADD COLUMN webhook_delivery TEXT;
CREATE INDEX submissions_session ON submissions (session_id, id);
-- Deliveries due: pending ones, by when they are due.
CREATE INDEX submissions_webhooks ON submissions (webhook_state, webhook_next_ms);
-- One caller's live submissions, for the cap on queued and running ones.
CREATE INDEX submissions_owner_status ON submissions (owner, status);
