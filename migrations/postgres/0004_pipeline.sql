-- The durable message pipeline (see ARCHITECTURE.md, "Nothing accepted is lost").
-- Times are unix milliseconds.

-- Every verified webhook, stored before it is acknowledged. Workers claim rows
-- whose available_at has passed (the claim pushes available_at forward: a
-- lease that a crashed worker's row outlives) and apply them idempotently.
CREATE TABLE inbound_events (
    id           BIGSERIAL PRIMARY KEY,
    channel      TEXT NOT NULL,
    -- A provider's retry of the same delivery is stored once.
    body_sha256  TEXT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    query        TEXT NOT NULL,
    -- JSON array of [name, value] pairs.
    headers      TEXT NOT NULL,
    body         BYTEA NOT NULL,
    -- pending | applied | ignored | failed
    status       TEXT NOT NULL DEFAULT 'pending',
    reason       TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    available_at BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    applied_at   BIGINT
);
CREATE UNIQUE INDEX inbound_events_dedupe ON inbound_events (channel, body_sha256);
CREATE INDEX inbound_events_pending ON inbound_events (available_at, id) WHERE status = 'pending';
CREATE INDEX inbound_events_status ON inbound_events (status, id);

-- One delivery job per outgoing message, written in the message's own
-- transaction. A claim records the attempt (attempts + 1, attempt_open) before
-- the plugin sends; the outcome closes it. A claim that finds attempt_open
-- still set knows the previous attempt died mid-send.
CREATE TABLE delivery_jobs (
    id              BIGSERIAL PRIMARY KEY,
    message_id      BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    account_id      BIGINT NOT NULL,
    conversation_id BIGINT NOT NULL,
    -- queued | done | dead
    state           TEXT NOT NULL DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    attempt_open    BOOLEAN NOT NULL DEFAULT FALSE,
    -- Attempts that began after an earlier one ended without an outcome.
    attempts_in_doubt INTEGER NOT NULL DEFAULT 0,
    available_at    BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX delivery_jobs_message ON delivery_jobs (message_id);
CREATE INDEX delivery_jobs_queued ON delivery_jobs (available_at, id) WHERE state = 'queued';
CREATE INDEX delivery_jobs_conversation ON delivery_jobs (conversation_id) WHERE state = 'queued';
CREATE INDEX delivery_jobs_dead ON delivery_jobs (id) WHERE state = 'dead';

-- Credential refresh runs once across every worker and node: the refresher
-- holds this lease; the others wait for the new credentials.
ALTER TABLE inboxes ADD COLUMN credentials_refreshing_until BIGINT;

-- OAuth states are accepted once.
CREATE TABLE oauth_states (
    nonce      TEXT PRIMARY KEY,
    used_at    BIGINT NOT NULL
);
