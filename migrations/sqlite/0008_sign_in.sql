-- Signing in with a password (issue 11): argon2id hashes, browser and
-- devise-token-auth sessions, and failed attempts for rate limiting.
-- Same tables as PostgreSQL's.

-- A user without a row here cannot sign in with a password (API tokens only).
CREATE TABLE user_passwords (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A session is stored as the sha256 of its token, like API tokens; `client`
-- is devise-token-auth's client id, `csrf` the token forms must carry.
CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client       TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- One row per refused sign-in, keyed `address:…` or `account:…`; rows
-- older than the window are removed as new ones come in.
CREATE TABLE sign_in_failures (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    subject   TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_key ON sign_in_failures (subject, failed_at);
