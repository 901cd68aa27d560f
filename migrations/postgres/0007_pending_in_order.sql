-- The claim walks pending events in id order and stops at its batch: with
-- only (available_at, id) to go by, it had to read and sort the whole
-- backlog (and check each row's order key) on every claim, so applying got
-- slower the more there was to apply.
CREATE INDEX inbound_events_pending_in_order ON inbound_events (id) WHERE status = 'pending';
-- The old index served only that claim; without it the planner has no
-- plan that reads the whole backlog to find a batch.
DROP INDEX inbound_events_pending;
