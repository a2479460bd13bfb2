-- pg/002_meta.sql - what a view of a submission needs from its request, apart.
--
-- The PostgreSQL copy of ../002_meta.sql. A submission's request holds its
-- source code and every test, megabytes at times, yet showing the
-- submission needs only its metadata and callback URL. meta holds those two
-- as a small JSON object ({"metadata": ..., "callback_url": ...}), NULL when
-- the request had neither, so a read of a submission never has to load or
-- parse its request. Plain TEXT, not jsonb: the store keeps the text it was
-- given, byte for byte, as SQLite does.
ALTER TABLE submissions ADD COLUMN meta TEXT;
