-- A plugin component uploaded in the dashboard's plugin console and waiting
-- for a super admin to confirm its permission review (issue 11). Kept in the
-- database, not on one node's disk, so the confirmation may reach any node;
-- rows older than an hour are removed when the next upload is staged.
-- Same columns as SQLite's.

CREATE TABLE plugin_uploads (
    sha256      TEXT PRIMARY KEY,
    bytes       BYTEA NOT NULL,
    uploaded_by BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL
);
