-- A delivery is written in the transaction of the change it reports, so a
-- process that dies right after the commit loses no webhook. Its Chatwoot
-- payload needs reads of the committed state, so it is rendered after the
-- commit from `subject` (the event's data or the ids it names, and what
-- changed); `payload` stays empty until then. Whoever comes first renders
-- it: the writer just after its commit, or the worker that claims it.
ALTER TABLE webhook_deliveries ADD COLUMN subject TEXT;
