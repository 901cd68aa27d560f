-- The blob sweep (issue 15) asks which of a page of object keys attachment
-- rows still name; without this it would scan every attachment per page.
CREATE INDEX attachments_blob_key ON attachments (blob_key) WHERE blob_key IS NOT NULL;
