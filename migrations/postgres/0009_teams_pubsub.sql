-- Chatwoot's clients, as they are: a per-user pubsub token (what the
-- dashboard subscribes to ActionCable's RoomChannel with, read from
-- GET /api/v1/profile), teams with their members, and a conversation's team.
-- Same tables as SQLite's.

ALTER TABLE users ADD COLUMN pubsub_token TEXT;
UPDATE users SET pubsub_token = replace(gen_random_uuid()::text, '-', '') WHERE pubsub_token IS NULL;
CREATE UNIQUE INDEX users_pubsub_token ON users (pubsub_token);

CREATE TABLE teams (
    id                BIGSERIAL PRIMARY KEY,
    account_id        BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    description       TEXT,
    allow_auto_assign BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        BIGINT NOT NULL
);
-- Chatwoot keeps team names unique per account (case-insensitively; names are stored lower-cased).
CREATE UNIQUE INDEX teams_account_name ON teams (account_id, name);

CREATE TABLE team_members (
    team_id    BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

ALTER TABLE conversations ADD COLUMN team_id BIGINT REFERENCES teams (id) ON DELETE SET NULL;
CREATE INDEX conversations_team ON conversations (account_id, team_id, last_activity_at);
