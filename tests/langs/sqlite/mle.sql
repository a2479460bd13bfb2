-- Builds one string of about 1 GiB from 1 MiB pieces.
PRAGMA temp_store = MEMORY;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1024)
SELECT length(group_concat(zeroblob(1048576) || i, '')) FROM c;
