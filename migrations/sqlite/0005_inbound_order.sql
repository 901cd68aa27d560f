-- Strict order within a conversation: each logged webhook carries the key of
-- the conversation it belongs to (channel, provider account, provider
-- conversation), read from the plugin's parse at ingest. A worker claims an
-- event only when no earlier event of the same key is still pending, so a
-- conversation's messages are applied in the order they were received, by
-- any number of workers on any number of nodes. NULL: no conversation known
-- (unparseable, or only ignored events); such events are not ordered.
ALTER TABLE inbound_events ADD COLUMN order_key TEXT;
CREATE INDEX inbound_events_order ON inbound_events (order_key, id) WHERE status = 'pending';
