-- 002_meta.sql - what a view of a submission needs from its request, apart.
--
-- A submission's request holds its source code and every test, megabytes at
-- times, yet showing the submission needs only its metadata and callback
-- URL. meta holds those two as a small JSON object ({"metadata": ...,
-- "callback_url": ...}), NULL when the request had neither, so a read of a
-- submission never has to load or parse its request. Rows stored before
-- this migration have NULL and are shown from their request.
ALTER TABLE submissions ADD COLUMN meta TEXT;
