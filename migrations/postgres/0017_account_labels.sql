-- An account's labels (Chatwoot's `labels`: a title, what it means, a
-- colour), which administrators manage on the dashboard's labels page and
-- agents pick from when labelling a conversation. Conversations keep their
-- labels as titles in `conversation_labels`. Same columns as SQLite's.

CREATE TABLE account_labels (
    id              BIGSERIAL PRIMARY KEY,
    account_id      BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title           TEXT NOT NULL,
    description     TEXT,
    color           TEXT NOT NULL,
    show_on_sidebar BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (account_id, title)
);
