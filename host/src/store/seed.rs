//! Bulk data for benchmarks: contacts, conversations and messages inserted
//! in multi-row batches, many times faster than the API's one-row writes.

use super::{Store, StoreError, now_ms};

/// Rows per INSERT statement.
const BATCH: usize = 500;

impl Store {
    /// Inserts `conversations` conversations (each with its own contact and
    /// contact inbox) and `messages` messages spread evenly over them, into
    /// one account and inbox. Calls `progress(done_rows)` as it goes.
    pub async fn seed_conversations(
        &self,
        account_id: i64,
        inbox_id: i64,
        conversations: usize,
        messages: usize,
        mut progress: impl FnMut(usize),
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let first_contact: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM contacts")
            .fetch_one(&self.pool)
            .await?;
        let first_conversation: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM conversations")
            .fetch_one(&self.pool)
            .await?;
        // The account's last display id: its counter on SQLite, its
        // sequence on PostgreSQL (`WriteTx::insert_conversation`).
        let first_display: i64 = match self.dialect() {
            super::Dialect::Sqlite => {
                sqlx::query_scalar("SELECT conversation_seq FROM accounts WHERE id = $1")
                    .bind(account_id)
                    .fetch_one(&self.pool)
                    .await?
            }
            super::Dialect::Postgres => {
                sqlx::query_scalar(&format!(
                    "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM conv_dpid_seq_{account_id}"
                ))
                .fetch_one(&self.pool)
                .await?
            }
        };
        let mut done = 0;
        for start in (0..conversations).step_by(BATCH) {
            let n = BATCH.min(conversations - start);
            let mut tx = self.pool.begin().await?;
            let ids: Vec<i64> = (0..n as i64).map(|i| start as i64 + i + 1).collect();
            let contacts = ids
                .iter()
                .map(|i| {
                    format!(
                        "({}, {account_id}, 'Contact {i}', 'contact{}@bench.example', {now}, {now})",
                        first_contact + i,
                        first_contact + i
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            sqlx::query(&format!(
                "INSERT INTO contacts (id, account_id, name, email, created_at, updated_at) VALUES {contacts}"
            ))
            .execute(&mut *tx)
            .await?;
            let identities = ids
                .iter()
                .map(|i| {
                    format!(
                        "({}, {}, {inbox_id}, 'src-{}', {now})",
                        first_contact + i,
                        first_contact + i,
                        first_contact + i
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            sqlx::query(&format!(
                "INSERT INTO contact_inboxes (id, contact_id, inbox_id, source_id, created_at) VALUES {identities}"
            ))
            .execute(&mut *tx)
            .await?;
            let rows = ids
                .iter()
                .map(|i| {
                    // Spread activity over time and statuses over open/resolved/pending.
                    format!(
                        "({}, {account_id}, {}, {inbox_id}, {}, {}, {}, {}, {now}, {now})",
                        first_conversation + i,
                        first_display + i,
                        first_contact + i,
                        first_contact + i,
                        i % 3,
                        now - (conversations as i64 - i) * 1000
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            sqlx::query(&format!(
                "INSERT INTO conversations (id, account_id, display_id, inbox_id, contact_id, contact_inbox_id, status, \
                 last_activity_at, created_at, updated_at) VALUES {rows}"
            ))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            done += n * 3;
            progress(done);
        }
        let set_display = match self.dialect() {
            super::Dialect::Sqlite => "UPDATE accounts SET conversation_seq = $1 WHERE id = $2",
            super::Dialect::Postgres => "SELECT setval(format('conv_dpid_seq_%s', $2::bigint)::regclass, $1)",
        };
        sqlx::query(set_display)
            .bind(first_display + conversations as i64)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        let per_conversation = messages.div_ceil(conversations.max(1));
        let mut written = 0;
        while written < messages {
            let n = (BATCH * 4).min(messages - written);
            let rows = (written..written + n)
                .map(|m| {
                    let conversation = first_conversation + (m / per_conversation) as i64 + 1;
                    format!(
                        "({account_id}, {inbox_id}, {conversation}, {}, 'text', 'Message {m} with some ordinary text', {}, {}, {now})",
                        m % 2,
                        m % 3,
                        now - (messages - m) as i64
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            sqlx::query(&format!(
                "INSERT INTO messages (account_id, inbox_id, conversation_id, message_type, content_type, content, \
                 status, created_at, updated_at) VALUES {rows}"
            ))
            .execute(&self.pool)
            .await?;
            written += n;
            done += n;
            progress(done);
        }
        if self.dialect() == super::Dialect::Postgres {
            // Explicit ids above bypassed the sequences; move them past the data.
            for table in ["contacts", "contact_inboxes", "conversations"] {
                sqlx::query(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                ))
                .execute(&self.pool)
                .await?;
            }
            // The counters' triggers appended one delta per conversation; a
            // serving node folds them within seconds, and so does the seeder,
            // so that the list is measured as it runs in production.
            self.compact_conversation_counts().await?;
            sqlx::query("ANALYZE").execute(&self.pool).await?;
        } else {
            sqlx::query("ANALYZE").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// A scratch table for the raw-INSERT comparison of `bench webhooks`.
    pub async fn create_raw_insert_table(&self) -> Result<(), StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS bench_raw_insert (id BIGSERIAL PRIMARY KEY, channel TEXT NOT NULL, \
             body TEXT NOT NULL, received_at BIGINT NOT NULL)",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Drops the scratch table of the raw-INSERT comparison.
    pub async fn drop_raw_insert_table(&self) -> Result<(), StoreError> {
        sqlx::query("DROP TABLE IF EXISTS bench_raw_insert")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
