-- pg/004_signatures.sql - signed requests seen, for as long as they could be
-- replayed.
--
-- The PostgreSQL copy of ../004_signatures.sql. A signed request is refused
-- when its signature was seen before within the time window. Kept here, not
-- in memory, so that a restart (or another process on the same database)
-- does not forget them: a request captured before a restart cannot be
-- replayed after it. A row goes once its timestamp has left the window
-- (expires_ms), when no request with that signature could pass the time
-- check anyway.
CREATE TABLE signatures_seen (
    signature  TEXT PRIMARY KEY NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX signatures_seen_expiry ON signatures_seen (expires_ms);
