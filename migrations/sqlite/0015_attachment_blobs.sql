-- Attachment bytes move to the blob store (issue 15): a new attachment's row
-- names its object by key and keeps `data` NULL; an older row keeps its bytes
-- in `data` until `switchboard blobs migrate` moves them (and sets the key).
ALTER TABLE attachments ADD COLUMN blob_key TEXT;
-- `blobs migrate` walks the rows still holding bytes, in id order.
CREATE INDEX attachments_inline ON attachments (id) WHERE data IS NOT NULL;
