//! Attachments and the blob store: moving bytes out of the database
//! (`switchboard blobs migrate`: rows that still hold their bytes, read in id
//! order a batch at a time, and the UPDATE that swaps the bytes for the blob
//! store's key), and which keys rows still name (the blob sweep).

use std::collections::HashSet;

use sqlx::Row;

use super::{Store, StoreError};

/// How many attachments still hold their bytes in the database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InlineAttachments {
    /// Rows.
    pub rows: i64,
    /// Their bytes.
    pub bytes: i64,
}

impl Store {
    /// Rows still holding bytes, and how many bytes.
    pub async fn inline_attachments(&self) -> Result<InlineAttachments, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(data)), 0) AS bytes FROM attachments WHERE data IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(InlineAttachments {
            rows: row.try_get("n")?,
            bytes: row.try_get("bytes")?,
        })
    }

    /// Up to `limit` attachments after `after_id` that still hold their
    /// bytes, in id order: `(id, bytes)`.
    pub async fn inline_attachment_batch(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, data FROM attachments WHERE data IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("data")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Records that each `(id, key)`'s bytes are in the blob store and
    /// drops them from the row, in one transaction. A row another run moved
    /// meanwhile is left as it is. Answers the rows changed.
    pub async fn move_attachments_to_blobs(&self, moved: &[(i64, String)]) -> Result<u64, StoreError> {
        let mut tx = self.writer().begin().await?;
        let mut changed = 0;
        for (id, key) in moved {
            changed += sqlx::query(
                "UPDATE attachments SET blob_key = $1, data = NULL WHERE id = $2 AND data IS NOT NULL",
            )
            .bind(key)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Of `keys`, those some attachment row names (rows of every account:
    /// content addressing lets two rows share one object).
    pub async fn named_blob_keys(&self, keys: &[String]) -> Result<HashSet<String>, StoreError> {
        if keys.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = format!(
            "SELECT DISTINCT blob_key FROM attachments WHERE blob_key IN ({})",
            super::conversations::placeholders(1, keys.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for key in keys {
            query = query.bind(key);
        }
        Ok(query.fetch_all(&self.pool).await?.into_iter().collect())
    }
}
