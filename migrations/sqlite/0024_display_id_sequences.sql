-- Display ids: PostgreSQL moves to one sequence per account (see its 0024).
-- SQLite has one writer, so the account's counter column takes no lock
-- worth avoiding: nothing changes here.
SELECT 1;
