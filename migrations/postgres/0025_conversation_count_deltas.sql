-- The list's counters become deltas. With one row per (account, status,
-- inbox, assignee) updated in place, every transaction that opened a
-- conversation (or moved one between buckets) held its bucket's row lock
-- until it committed: inbound workers on every node queued on the inbox's
-- "open, unassigned" row, and two batches that opened conversations in two
-- inboxes in opposite orders deadlocked (PostgreSQL's detector breaks that
-- after deadlock_timeout, 1 s, by aborting one of them). A trigger that only
-- INSERTs takes no lock another writer waits for.
--
-- A bucket's count is now SUM(n) over its rows (the list already summed).
-- `Store::compact_conversation_counts` folds each bucket's rows back into
-- one, in one statement, on a schedule. SQLite has one writer and keeps
-- its counters in place (its 0025 changes nothing).

ALTER TABLE conversation_counts DROP CONSTRAINT conversation_counts_pkey;
CREATE INDEX conversation_counts_bucket
    ON conversation_counts (account_id, status, inbox_id, assignee_id);

CREATE OR REPLACE FUNCTION conversation_counts_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- A conversation deleted by the cascade of its inbox's (or account's)
    -- deletion leaves nothing to count: that bucket's rows go with the
    -- inbox, and a row naming the deleted inbox would break its foreign key.
    IF TG_OP = 'UPDATE' OR (TG_OP = 'DELETE'
        AND EXISTS (SELECT 1 FROM inboxes WHERE id = OLD.inbox_id AND account_id = OLD.account_id)) THEN
        INSERT INTO conversation_counts (account_id, status, inbox_id, assignee_id, n)
        VALUES (OLD.account_id, OLD.status, OLD.inbox_id, COALESCE(OLD.assignee_id, 0), -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO conversation_counts (account_id, status, inbox_id, assignee_id, n)
        VALUES (NEW.account_id, NEW.status, NEW.inbox_id, COALESCE(NEW.assignee_id, 0), 1);
    END IF;
    RETURN NULL;
END;
$$;
