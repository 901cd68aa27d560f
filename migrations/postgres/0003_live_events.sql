-- Live-update events. On PostgreSQL each event is written here and announced
-- with NOTIFY, so that every node can forward it to its WebSocket clients;
-- rows are pruned after a few minutes. SQLite (one node) delivers in memory
-- and keeps the table empty.
CREATE TABLE live_events (
    id         BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL,
    inbox_id   BIGINT,
    name       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
