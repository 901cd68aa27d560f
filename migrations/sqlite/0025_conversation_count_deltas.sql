-- The list's counters: PostgreSQL turns them into delta rows (see its 0025)
-- so that concurrent writers do not queue on one row. SQLite has one writer,
-- so updating a counter in place takes no lock worth avoiding: nothing
-- changes here, and a bucket's SUM(n) is its one row.
SELECT 1;
