//! Queries for an account's labels (Chatwoot's `labels`). Conversations keep
//! theirs as titles in `conversation_labels` (see `conversations.rs`).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, conflict_as, get_bool, now_ms};

/// A label of an account.
#[derive(Debug, Clone)]
pub struct LabelRow {
    /// Id.
    pub id: i64,
    /// Account.
    pub account_id: i64,
    /// Title (lower-case, unique in the account).
    pub title: String,
    /// What it means.
    pub description: Option<String>,
    /// `#rrggbb`.
    pub color: String,
    /// Listed in the conversation sidebar.
    pub show_on_sidebar: bool,
    /// Creation (unix ms).
    pub created_at: i64,
}

const COLUMNS: &str = "id, account_id, title, description, color, show_on_sidebar, created_at";

fn label_from(row: &AnyRow) -> Result<LabelRow, sqlx::Error> {
    Ok(LabelRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        color: row.try_get("color")?,
        show_on_sidebar: get_bool(row, "show_on_sidebar")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// The account's labels, by title.
    pub async fn list_labels(&self, account_id: i64) -> Result<Vec<LabelRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM account_labels WHERE account_id = $1 ORDER BY title"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(label_from).collect::<Result<_, _>>()?)
    }

    /// Adds a label; `Conflict` when the account has one with the title.
    pub async fn insert_label(
        &self,
        account_id: i64,
        title: &str,
        description: Option<&str>,
        color: &str,
        show_on_sidebar: bool,
    ) -> Result<LabelRow, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO account_labels (account_id, title, description, color, show_on_sidebar, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
        ))
        .bind(account_id)
        .bind(title)
        .bind(description)
        .bind(color)
        .bind(show_on_sidebar)
        .bind(now_ms())
        .fetch_one(self.writer())
        .await
        .map_err(conflict_as(&format!("label {title:?}")))?;
        Ok(label_from(&row)?)
    }

    /// Deletes a label of the account (conversations keep the title);
    /// `NotFound` when there is none with this id.
    pub async fn delete_label(&self, account_id: i64, id: i64) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM account_labels WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .execute(self.writer())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("label {id}")));
        }
        Ok(())
    }
}
