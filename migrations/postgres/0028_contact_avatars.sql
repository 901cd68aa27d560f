-- A contact's uploaded picture (Chatwoot's multipart `avatar`): the key of
-- its bytes in the blob store and their type. Served to the account's
-- members at /api/v1/accounts/{id}/contacts/{id}/avatar, which the contact's
-- `thumbnail` names; `avatar_url` stays for a picture hosted elsewhere.
ALTER TABLE contacts ADD COLUMN avatar_blob TEXT;
ALTER TABLE contacts ADD COLUMN avatar_content_type TEXT;
