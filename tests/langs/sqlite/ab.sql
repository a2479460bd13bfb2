-- stdin holds "A B": import it as one row of a two-column table.
CREATE TABLE t(a INTEGER, b INTEGER);
.separator " "
.import /dev/stdin t
SELECT a + b FROM t;
