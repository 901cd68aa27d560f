-- The Mine / Unassigned / All counts of the conversation list, kept as
-- counters instead of a COUNT over every matching conversation: one row per
-- (account, status, inbox, assignee) with how many conversations are in it.
-- Triggers on `conversations` keep it right in the writing transaction, for
-- every write path (the use cases, an agent's removal from the account,
-- cascading deletes, bulk seeding). assignee_id 0 stands for unassigned, so
-- that the primary key covers it (user ids start at 1).
-- Same table and triggers as PostgreSQL's (a plpgsql function there).

CREATE TABLE conversation_counts (
    account_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status      INTEGER NOT NULL,
    inbox_id    BIGINT NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    assignee_id BIGINT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (account_id, status, inbox_id, assignee_id)
) WITHOUT ROWID;

INSERT INTO conversation_counts (account_id, status, inbox_id, assignee_id, n)
SELECT account_id, status, inbox_id, COALESCE(assignee_id, 0), COUNT(*)
FROM conversations
GROUP BY account_id, status, inbox_id, COALESCE(assignee_id, 0);

CREATE TRIGGER conversation_counts_insert AFTER INSERT ON conversations
BEGIN
    INSERT INTO conversation_counts (account_id, status, inbox_id, assignee_id, n)
    VALUES (NEW.account_id, NEW.status, NEW.inbox_id, COALESCE(NEW.assignee_id, 0), 1)
    ON CONFLICT (account_id, status, inbox_id, assignee_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER conversation_counts_delete AFTER DELETE ON conversations
BEGIN
    UPDATE conversation_counts SET n = n - 1
    WHERE account_id = OLD.account_id AND status = OLD.status AND inbox_id = OLD.inbox_id
      AND assignee_id = COALESCE(OLD.assignee_id, 0);
END;

-- Fires only when a counted column changes (not on the activity times every
-- message moves).
CREATE TRIGGER conversation_counts_update
AFTER UPDATE OF account_id, status, inbox_id, assignee_id ON conversations
WHEN OLD.account_id IS NOT NEW.account_id OR OLD.status IS NOT NEW.status
  OR OLD.inbox_id IS NOT NEW.inbox_id OR OLD.assignee_id IS NOT NEW.assignee_id
BEGIN
    UPDATE conversation_counts SET n = n - 1
    WHERE account_id = OLD.account_id AND status = OLD.status AND inbox_id = OLD.inbox_id
      AND assignee_id = COALESCE(OLD.assignee_id, 0);
    INSERT INTO conversation_counts (account_id, status, inbox_id, assignee_id, n)
    VALUES (NEW.account_id, NEW.status, NEW.inbox_id, COALESCE(NEW.assignee_id, 0), 1)
    ON CONFLICT (account_id, status, inbox_id, assignee_id) DO UPDATE SET n = n + 1;
END;

-- Only the counts used this index.
DROP INDEX conversations_counts;
