-- A plugin's health (issue 13, quarantine): deterministic faults in a row
-- (traps, memory-cap breaches, answers over the output budget, timeouts),
-- the last one's reason, and why the host disabled it on its own. Same
-- columns as PostgreSQL's.

ALTER TABLE plugins ADD COLUMN faults_in_row BIGINT NOT NULL DEFAULT 0;
ALTER TABLE plugins ADD COLUMN last_fault TEXT;
ALTER TABLE plugins ADD COLUMN disabled_reason TEXT;
