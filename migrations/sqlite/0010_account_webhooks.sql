-- Outgoing account webhooks (Chatwoot's `webhooks`, account type): an
-- administrator subscribes a URL to events; each event becomes one delivery
-- row per subscribed webhook, sent by the pipeline's webhook workers with
-- the delivery jobs' retry policy. Times are unix milliseconds.
CREATE TABLE webhooks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name          TEXT,
    url           TEXT NOT NULL,
    -- JSON array of event names (`message_created`, …).
    subscriptions TEXT NOT NULL,
    -- The signing key, sealed like every secret at rest.
    secret        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX webhooks_account_url ON webhooks (account_id, url);

-- One row per (event, webhook): the payload is rendered once, when the event
-- happens, so a retry sends the same bytes (with a fresh signature time).
-- Claimed like delivery_jobs: available_at moves past a lease, attempts + 1.
CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id   BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    account_id   BIGINT NOT NULL,
    event        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    -- queued | done | dead
    state        TEXT NOT NULL DEFAULT 'queued',
    attempts     INTEGER NOT NULL DEFAULT 0,
    available_at BIGINT NOT NULL,
    -- The receiver's last HTTP status, when it answered.
    last_status  INTEGER,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_queued ON webhook_deliveries (id) WHERE state = 'queued';
CREATE INDEX webhook_deliveries_of_webhook ON webhook_deliveries (webhook_id, id);
