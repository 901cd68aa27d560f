-- Foundation: plugin store, host state, and the minimal identity tables the
-- Booleans: INTEGER 0/1 here, BOOLEAN on PostgreSQL; the store reads both (store::get_bool).
-- admin API authenticates against. Times are unix milliseconds.

CREATE TABLE host_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO host_state (key, value) VALUES ('plugins_revision', '0');

-- Component bytes, content-addressed: every node loads the same bytes.
CREATE TABLE plugin_blobs (
    sha256     TEXT PRIMARY KEY,
    bytes      BLOB NOT NULL,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE plugins (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    version            TEXT NOT NULL,
    contract_version   TEXT NOT NULL,
    sha256             TEXT NOT NULL REFERENCES plugin_blobs (sha256),
    manifest           TEXT NOT NULL,
    enabled            INTEGER NOT NULL,
    bundled            INTEGER NOT NULL,
    timeout_ms         BIGINT,
    memory_limit_bytes BIGINT,
    installed_at       BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE plugin_host_grants (
    plugin_id  TEXT NOT NULL REFERENCES plugins (id) ON DELETE CASCADE,
    origin     TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (plugin_id, origin)
);

CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    super_admin INTEGER NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Tokens are stored as their sha256; the token itself is shown once.
CREATE TABLE access_tokens (
    token_sha256 TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL
);

CREATE TABLE inboxes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    channel    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX inboxes_channel ON inboxes (channel);
