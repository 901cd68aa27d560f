-- Chatwoot's inbox webhooks: an API inbox's `webhook_url` hears its
-- conversations' and messages' events, through the same deliveries as the
-- account's webhooks. `inbox_id` is NULL for an account webhook; an inbox has
-- at most one, and goes with it.
ALTER TABLE webhooks ADD COLUMN inbox_id BIGINT REFERENCES inboxes (id) ON DELETE CASCADE;
DROP INDEX webhooks_account_url;
CREATE UNIQUE INDEX webhooks_account_url ON webhooks (account_id, url) WHERE inbox_id IS NULL;
CREATE UNIQUE INDEX webhooks_of_inbox ON webhooks (inbox_id) WHERE inbox_id IS NOT NULL;
