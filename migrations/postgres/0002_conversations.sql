-- The conversation domain: memberships and roles, inboxes bound to channel
-- plugins, contacts, conversations, messages, attachments, labels, installation
-- config and per-account feature flags. Enum columns hold Chatwoot's integers
-- (see host/src/conversations/enums.rs). Times are unix milliseconds.
-- Booleans are BOOLEAN here, INTEGER 0/1 on SQLite.

ALTER TABLE accounts ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
ALTER TABLE accounts ADD COLUMN domain TEXT;
ALTER TABLE accounts ADD COLUMN support_email TEXT;
ALTER TABLE accounts ADD COLUMN status INTEGER NOT NULL DEFAULT 0;
-- Last conversation display_id handed out in this account.
ALTER TABLE accounts ADD COLUMN conversation_seq BIGINT NOT NULL DEFAULT 0;

ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD COLUMN availability INTEGER NOT NULL DEFAULT 0;

CREATE TABLE account_users (
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX account_users_user ON account_users (user_id);

ALTER TABLE inboxes ADD COLUMN external_id TEXT;
ALTER TABLE inboxes ADD COLUMN credentials TEXT;
ALTER TABLE inboxes ADD COLUMN reauthorization_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE inboxes ADD COLUMN lock_to_single_conversation BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE inboxes ADD COLUMN enable_auto_assignment BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE inboxes ADD COLUMN greeting_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE inboxes ADD COLUMN greeting_message TEXT;
ALTER TABLE inboxes ADD COLUMN avatar_url TEXT;
ALTER TABLE inboxes ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
-- One provider account belongs to one inbox, server-wide.
CREATE UNIQUE INDEX inboxes_channel_external ON inboxes (channel, external_id);

CREATE TABLE inbox_members (
    inbox_id   BIGINT NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (inbox_id, user_id)
);

CREATE TABLE contacts (
    id                    BIGSERIAL PRIMARY KEY,
    account_id            BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL DEFAULT '',
    email                 TEXT,
    phone_number          TEXT,
    identifier            TEXT,
    avatar_url            TEXT,
    blocked               BOOLEAN NOT NULL DEFAULT FALSE,
    additional_attributes TEXT NOT NULL DEFAULT '{}',
    custom_attributes     TEXT NOT NULL DEFAULT '{}',
    last_activity_at      BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE UNIQUE INDEX contacts_account_email ON contacts (account_id, email);
CREATE UNIQUE INDEX contacts_account_identifier ON contacts (account_id, identifier);
CREATE INDEX contacts_account_id ON contacts (account_id, id);

CREATE TABLE contact_inboxes (
    id         BIGSERIAL PRIMARY KEY,
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    inbox_id   BIGINT NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    source_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX contact_inboxes_source ON contact_inboxes (inbox_id, source_id);
CREATE INDEX contact_inboxes_contact ON contact_inboxes (contact_id);

CREATE TABLE conversations (
    id                      BIGSERIAL PRIMARY KEY,
    account_id              BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    display_id              BIGINT NOT NULL,
    inbox_id                BIGINT NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    contact_id              BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    contact_inbox_id        BIGINT REFERENCES contact_inboxes (id) ON DELETE SET NULL,
    status                  INTEGER NOT NULL DEFAULT 0,
    assignee_id             BIGINT REFERENCES users (id) ON DELETE SET NULL,
    snoozed_until           BIGINT,
    last_activity_at        BIGINT NOT NULL,
    contact_last_inbound_at BIGINT,
    agent_last_seen_at      BIGINT,
    additional_attributes   TEXT NOT NULL DEFAULT '{}',
    custom_attributes       TEXT NOT NULL DEFAULT '{}',
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);
CREATE UNIQUE INDEX conversations_display ON conversations (account_id, display_id);
CREATE INDEX conversations_list ON conversations (account_id, status, last_activity_at);
CREATE INDEX conversations_inbox ON conversations (inbox_id, status, last_activity_at);
CREATE INDEX conversations_activity ON conversations (account_id, last_activity_at);
-- Covers the Mine / Unassigned / All counts of the conversation list.
CREATE INDEX conversations_counts ON conversations (account_id, status, assignee_id);
CREATE INDEX conversations_contact ON conversations (contact_id);

CREATE TABLE conversation_labels (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    label           TEXT NOT NULL,
    PRIMARY KEY (conversation_id, label)
);

CREATE TABLE messages (
    id                 BIGSERIAL PRIMARY KEY,
    account_id         BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    inbox_id           BIGINT NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    conversation_id    BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_type       INTEGER NOT NULL,
    content_type       TEXT NOT NULL DEFAULT 'text',
    content            TEXT,
    content_attributes TEXT NOT NULL DEFAULT '{}',
    private            BOOLEAN NOT NULL DEFAULT FALSE,
    status             INTEGER NOT NULL DEFAULT 0,
    external_error     TEXT,
    source_id          TEXT,
    sender_type        TEXT,
    sender_id          BIGINT,
    echo_id            TEXT,
    deleted            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
-- Deduplication of provider messages per inbox.
CREATE UNIQUE INDEX messages_inbox_source ON messages (inbox_id, source_id);

CREATE TABLE attachments (
    id           BIGSERIAL PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    message_id   BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    file_type    INTEGER NOT NULL,
    external_url TEXT,
    file_name    TEXT,
    content_type TEXT,
    file_size    BIGINT,
    data         BYTEA,
    meta         TEXT NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id);

-- Installation-wide settings (e.g. a channel's app id and secret); secret
-- values are stored encrypted (value starts with the key id).
CREATE TABLE installation_config (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    secret     BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE account_features (
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    flag       TEXT NOT NULL,
    PRIMARY KEY (account_id, flag)
);
