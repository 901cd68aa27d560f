//! Queries for inboxes (each bound to one channel plugin) and their members.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, get_bool, now_ms};

/// An inbox.
#[derive(Debug, Clone)]
pub struct InboxRow {
    /// Id.
    pub id: i64,
    /// Account.
    pub account_id: i64,
    /// Name.
    pub name: String,
    /// Channel plugin id.
    pub channel: String,
    /// Provider account id.
    pub external_id: Option<String>,
    /// The provider refused the credentials; a person must reconnect.
    pub reauthorization_required: bool,
    /// New messages reopen the last conversation instead of starting one.
    pub lock_to_single_conversation: bool,
    /// Auto-assign new conversations.
    pub enable_auto_assignment: bool,
    /// Greet new contacts.
    pub greeting_enabled: bool,
    /// The greeting.
    pub greeting_message: Option<String>,
    /// Picture URL.
    pub avatar_url: Option<String>,
    /// Where its events are POSTed (an API inbox's `webhook_url`).
    pub webhook_url: Option<String>,
    /// Creation (unix ms).
    pub created_at: i64,
}

/// Inbox fields to change (`None` keeps the value).
#[derive(Debug, Default)]
pub struct InboxChanges {
    /// Name.
    pub name: Option<String>,
    /// Lock to one conversation.
    pub lock_to_single_conversation: Option<bool>,
    /// Auto-assignment.
    pub enable_auto_assignment: Option<bool>,
    /// Greeting on.
    pub greeting_enabled: Option<bool>,
    /// Greeting text.
    pub greeting_message: Option<String>,
}

pub(super) const COLUMNS: &str = "id, account_id, name, channel, external_id, reauthorization_required, \
     lock_to_single_conversation, enable_auto_assignment, greeting_enabled, greeting_message, avatar_url, created_at, \
     (SELECT w.url FROM webhooks w WHERE w.inbox_id = inboxes.id) AS webhook_url";

pub(super) fn inbox_from(row: &AnyRow) -> Result<InboxRow, sqlx::Error> {
    Ok(InboxRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        channel: row.try_get("channel")?,
        external_id: row.try_get("external_id")?,
        reauthorization_required: get_bool(row, "reauthorization_required")?,
        lock_to_single_conversation: get_bool(row, "lock_to_single_conversation")?,
        enable_auto_assignment: get_bool(row, "enable_auto_assignment")?,
        greeting_enabled: get_bool(row, "greeting_enabled")?,
        greeting_message: row.try_get("greeting_message")?,
        avatar_url: row.try_get("avatar_url")?,
        webhook_url: row.try_get("webhook_url")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Creates an inbox on a channel plugin.
    pub async fn insert_inbox(
        &self,
        account_id: i64,
        name: &str,
        channel: &str,
        external_id: Option<&str>,
    ) -> Result<InboxRow, StoreError> {
        let mut tx = self.begin_write().await?;
        let inbox = tx
            .insert_inbox(&super::InboxInsert {
                account_id,
                name,
                channel,
                external_id,
                ..Default::default()
            })
            .await?;
        tx.commit().await?;
        Ok(inbox)
    }

    /// The inboxes of an account; for an agent (`member_id`), only those they belong to.
    pub async fn list_inboxes(
        &self,
        account_id: i64,
        member_id: Option<i64>,
    ) -> Result<Vec<InboxRow>, StoreError> {
        let rows = match member_id {
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM inboxes WHERE account_id = $1 ORDER BY id"
                ))
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?
            }
            Some(user_id) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM inboxes WHERE account_id = $1 \
                     AND id IN (SELECT inbox_id FROM inbox_members WHERE user_id = $2) ORDER BY id"
                ))
                .bind(account_id)
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(inbox_from)
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)
    }

    /// One inbox of an account.
    pub async fn get_inbox(&self, account_id: i64, id: i64) -> Result<InboxRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM inboxes WHERE account_id = $1 AND id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("inbox {id}")))?;
        Ok(inbox_from(&row)?)
    }

    /// Whether a user belongs to an inbox.
    pub async fn is_inbox_member(&self, inbox_id: i64, user_id: i64) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT inbox_id FROM inbox_members WHERE inbox_id = $1 AND user_id = $2")
                .bind(inbox_id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// Changes an inbox.
    pub async fn update_inbox(
        &self,
        account_id: i64,
        id: i64,
        c: &InboxChanges,
    ) -> Result<InboxRow, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE inboxes SET name = COALESCE($1, name), \
             lock_to_single_conversation = COALESCE($2, lock_to_single_conversation), \
             enable_auto_assignment = COALESCE($3, enable_auto_assignment), \
             greeting_enabled = COALESCE($4, greeting_enabled), greeting_message = COALESCE($5, greeting_message), \
             updated_at = $6 WHERE account_id = $7 AND id = $8 RETURNING {COLUMNS}"
        ))
        .bind(c.name.as_deref())
        .bind(c.lock_to_single_conversation)
        .bind(c.enable_auto_assignment)
        .bind(c.greeting_enabled)
        .bind(c.greeting_message.as_deref())
        .bind(now_ms())
        .bind(account_id)
        .bind(id)
        .fetch_optional(self.writer())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("inbox {id}")))?;
        Ok(inbox_from(&row)?)
    }

    /// Deletes an inbox with its conversations and messages.
    pub async fn delete_inbox(&self, account_id: i64, id: i64) -> Result<(), StoreError> {
        let deleted = sqlx::query("DELETE FROM inboxes WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .execute(self.writer())
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("inbox {id}")));
        }
        Ok(())
    }

    /// The members of an inbox.
    pub async fn inbox_member_ids(&self, inbox_id: i64) -> Result<Vec<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT user_id FROM inbox_members WHERE inbox_id = $1 ORDER BY user_id")
                .bind(inbox_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Adds members to an inbox, or (with `replace`) makes them its only members.
    /// Every user must be a member of the inbox's account.
    pub async fn set_inbox_members(
        &self,
        account_id: i64,
        inbox_id: i64,
        user_ids: &[i64],
        replace: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        if replace {
            sqlx::query("DELETE FROM inbox_members WHERE inbox_id = $1")
                .bind(inbox_id)
                .execute(&mut *tx)
                .await?;
        }
        for user_id in user_ids {
            let inserted = sqlx::query(
                "INSERT INTO inbox_members (inbox_id, user_id, created_at) SELECT $1, $2, $3 \
                 WHERE EXISTS (SELECT 1 FROM account_users WHERE account_id = $4 AND user_id = $2) \
                 ON CONFLICT (inbox_id, user_id) DO NOTHING",
            )
            .bind(inbox_id)
            .bind(user_id)
            .bind(now_ms())
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 && !self.is_member_in_tx(&mut tx, account_id, *user_id).await? {
                return Err(StoreError::NotFound(format!("agent {user_id}")));
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn is_member_in_tx(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        account_id: i64,
        user_id: i64,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT user_id FROM account_users WHERE account_id = $1 AND user_id = $2")
                .bind(account_id)
                .bind(user_id)
                .fetch_optional(&mut **tx)
                .await?;
        Ok(found.is_some())
    }

    /// Removes members from an inbox.
    pub async fn remove_inbox_members(&self, inbox_id: i64, user_ids: &[i64]) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        for user_id in user_ids {
            sqlx::query("DELETE FROM inbox_members WHERE inbox_id = $1 AND user_id = $2")
                .bind(inbox_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
