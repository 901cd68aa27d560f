-- Applying a provider message looks up the latest conversation of its
-- contact identity (inbox, provider conversation); without this index that
-- is a scan of every conversation, once per inbound message.
CREATE INDEX conversations_contact_inbox ON conversations (contact_inbox_id, id);
