-- The Mine / Unassigned / All counts of the conversation list, kept as
-- counters instead of a COUNT over every matching conversation: one row per
-- (account, status, inbox, assignee) with how many conversations are in it.
-- Triggers on `conversations` keep it right in the writing transaction, for
-- every write path (the use cases, an agent's removal from the account,
-- cascading deletes, bulk seeding). assignee_id 0 stands for unassigned, so
-- that the primary key covers it (user ids start at 1).
-- Same table and triggers as SQLite's (plain trigger bodies there).

CREATE TABLE conversation_counts (
    account_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status      INTEGER NOT NULL,
    inbox_id    BIGINT NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    assignee_id BIGINT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (account_id, status, inbox_id, assignee_id)
);

INSERT INTO conversation_counts (account_id, status, inbox_id, assignee_id, n)
SELECT account_id, status, inbox_id, COALESCE(assignee_id, 0), COUNT(*)
FROM conversations
GROUP BY account_id, status, inbox_id, COALESCE(assignee_id, 0);

-- A conversation enters its bucket (INSERT, UPDATE), leaves its old one
-- (DELETE, UPDATE). A move locks the two counter rows in key order, so that
-- two opposite moves in concurrent transactions cannot deadlock.
CREATE FUNCTION conversation_counts_track() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    leave_first BOOLEAN := TG_OP = 'DELETE';
BEGIN
    IF TG_OP = 'UPDATE' THEN
        leave_first := (OLD.account_id, OLD.status, OLD.inbox_id, COALESCE(OLD.assignee_id, 0))
                     < (NEW.account_id, NEW.status, NEW.inbox_id, COALESCE(NEW.assignee_id, 0));
    END IF;
    IF leave_first THEN
        UPDATE conversation_counts SET n = n - 1
        WHERE account_id = OLD.account_id AND status = OLD.status AND inbox_id = OLD.inbox_id
          AND assignee_id = COALESCE(OLD.assignee_id, 0);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO conversation_counts (account_id, status, inbox_id, assignee_id, n)
        VALUES (NEW.account_id, NEW.status, NEW.inbox_id, COALESCE(NEW.assignee_id, 0), 1)
        ON CONFLICT (account_id, status, inbox_id, assignee_id) DO UPDATE
        SET n = conversation_counts.n + 1;
    END IF;
    IF TG_OP = 'UPDATE' AND NOT leave_first THEN
        UPDATE conversation_counts SET n = n - 1
        WHERE account_id = OLD.account_id AND status = OLD.status AND inbox_id = OLD.inbox_id
          AND assignee_id = COALESCE(OLD.assignee_id, 0);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER conversation_counts_insert_delete AFTER INSERT OR DELETE ON conversations
FOR EACH ROW EXECUTE FUNCTION conversation_counts_track();

-- Fires only when a counted column changes (not on the activity times every
-- message moves).
CREATE TRIGGER conversation_counts_update
AFTER UPDATE OF account_id, status, inbox_id, assignee_id ON conversations
FOR EACH ROW
WHEN (OLD.account_id IS DISTINCT FROM NEW.account_id OR OLD.status IS DISTINCT FROM NEW.status
   OR OLD.inbox_id IS DISTINCT FROM NEW.inbox_id OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id)
EXECUTE FUNCTION conversation_counts_track();

-- Only the counts used this index.
DROP INDEX conversations_counts;

-- The list's order is (last_activity_at DESC, id DESC): with id in the index
-- a page is a plain backward index (only) scan, without an incremental sort.
-- SQLite's indexes end with the rowid (the id) already.
DROP INDEX conversations_list;
CREATE INDEX conversations_list ON conversations (account_id, status, last_activity_at, id);
DROP INDEX conversations_activity;
CREATE INDEX conversations_activity ON conversations (account_id, last_activity_at, id);
