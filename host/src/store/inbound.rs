//! What applying provider events reads and moves (messages by provider id,
//! delivery statuses), and the connected accounts (inboxes with
//! credentials) they arrive for. The apply itself is a use case
//! (`app::inbound`) composed of `WriteTx` steps.
//!
//! Applying a message is one transaction that begins by locking its inbox
//! row, so concurrent workers (on any node) apply one inbox's messages one at
//! a time: a new contact gets one contact identity and one conversation, never
//! two. The unique index on `(inbox_id, source_id)` makes a second apply of
//! the same provider message a no-op.

use sqlx::Row;

use crate::chatwoot::{ChatwootCode, MessageStatus, MessageType};

use super::conversations::{CONVERSATION_COLUMNS, CONVERSATION_FROM, conversation_from};
use super::inboxes::{COLUMNS as INBOX_COLUMNS, inbox_from};
use super::{ConversationRow, Dialect, InboxRow, Store, StoreError, get_bool, now_ms};

/// Sealed credentials and the refresh lease of an inbox.
#[derive(Debug, Clone)]
pub struct InboxCredentials {
    /// The sealed JSON credentials, if the inbox is connected.
    pub sealed: Option<String>,
    /// Until when another worker holds the refresh lease (unix ms).
    pub refreshing_until: Option<i64>,
    /// Whether a person must reconnect.
    pub reauthorization_required: bool,
}

impl Store {
    /// The inbox connected to a provider account, if any.
    pub async fn inbox_for_external(
        &self,
        channel: &str,
        external_id: &str,
    ) -> Result<Option<InboxRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {INBOX_COLUMNS} FROM inboxes WHERE channel = $1 AND external_id = $2"
        ))
        .bind(channel)
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(inbox_from).transpose()?)
    }

    /// Whether the inbox already has this provider message.
    pub async fn has_message_source(&self, inbox_id: i64, source_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT id FROM messages WHERE inbox_id = $1 AND source_id = $2")
            .bind(inbox_id)
            .bind(source_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// The latest conversation of the contact whose identity in the inbox is
    /// `conversation_source`.
    pub async fn latest_conversation_for_source(
        &self,
        inbox_id: i64,
        conversation_source: &str,
    ) -> Result<Option<ConversationRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM} WHERE ci.inbox_id = $1 AND ci.source_id = $2 \
             ORDER BY c.id DESC LIMIT 1"
        ))
        .bind(inbox_id)
        .bind(conversation_source)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(conversation_from).transpose()?)
    }

    /// Connects a provider account to an account's inbox after an
    /// authorization: updates the inbox already bound to it (clearing any
    /// reauthorization flag) or creates one. A provider account belongs to
    /// one Switchboard account. Answers the inbox and whether it is new.
    pub async fn connect_inbox(
        &self,
        account_id: i64,
        channel: &str,
        external_id: &str,
        name: &str,
        avatar_url: Option<&str>,
        sealed_credentials: &str,
    ) -> Result<(InboxRow, bool), StoreError> {
        let now = now_ms();
        let mut write = self.begin_write().await?;
        let lock = match self.dialect {
            Dialect::Postgres => "FOR UPDATE",
            Dialect::Sqlite => "",
        };
        let existing = sqlx::query(&format!(
            "SELECT {INBOX_COLUMNS} FROM inboxes WHERE channel = $1 AND external_id = $2 {lock}"
        ))
        .bind(channel)
        .bind(external_id)
        .fetch_optional(&mut **write.inner())
        .await?;
        let (inbox, created) = match existing.as_ref().map(inbox_from).transpose()? {
            Some(inbox) if inbox.account_id != account_id => {
                return Err(StoreError::Refused(format!(
                    "this {channel} account is already connected to another Switchboard account"
                )));
            }
            Some(inbox) => {
                let row = sqlx::query(&format!(
                    "UPDATE inboxes SET name = $1, avatar_url = COALESCE($2, avatar_url), credentials = $3, \
                     reauthorization_required = $4, credentials_refreshing_until = NULL, updated_at = $5 \
                     WHERE id = $6 RETURNING {INBOX_COLUMNS}"
                ))
                .bind(name)
                .bind(avatar_url)
                .bind(sealed_credentials)
                .bind(false)
                .bind(now)
                .bind(inbox.id)
                .fetch_one(&mut **write.inner())
                .await?;
                (inbox_from(&row)?, false)
            }
            None => {
                let inbox = write
                    .insert_inbox(&super::InboxInsert {
                        account_id,
                        name,
                        channel,
                        external_id: Some(external_id),
                        avatar_url,
                        sealed_credentials: Some(sealed_credentials),
                    })
                    .await?;
                (inbox, true)
            }
        };
        write.commit().await?;
        Ok((inbox, created))
    }

    /// An inbox's sealed credentials and refresh state.
    pub async fn inbox_credentials(&self, inbox_id: i64) -> Result<InboxCredentials, StoreError> {
        let row = sqlx::query(
            "SELECT credentials, credentials_refreshing_until, reauthorization_required FROM inboxes WHERE id = $1",
        )
        .bind(inbox_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("inbox {inbox_id}")))?;
        Ok(InboxCredentials {
            sealed: row.try_get("credentials")?,
            refreshing_until: row.try_get("credentials_refreshing_until")?,
            reauthorization_required: get_bool(&row, "reauthorization_required")?,
        })
    }

    /// Takes the credential-refresh lease of an inbox for `lease_ms` unless
    /// another worker holds it or the credentials are no longer `stale_sealed`
    /// (someone refreshed them meanwhile); answers whether this call took it.
    pub async fn take_refresh_lease(
        &self,
        inbox_id: i64,
        stale_sealed: &str,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let taken = sqlx::query(
            "UPDATE inboxes SET credentials_refreshing_until = $1 WHERE id = $2 AND credentials = $4 \
             AND (credentials_refreshing_until IS NULL OR credentials_refreshing_until < $3)",
        )
        .bind(now + lease_ms)
        .bind(inbox_id)
        .bind(now)
        .bind(stale_sealed)
        .execute(self.writer())
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Ends a refresh: stores the new sealed credentials (or flags the inbox
    /// for reauthorization) and releases the lease.
    pub async fn finish_refresh(
        &self,
        inbox_id: i64,
        sealed_credentials: Option<&str>,
        reauthorization_required: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE inboxes SET credentials = COALESCE($1, credentials), reauthorization_required = $2, \
             credentials_refreshing_until = NULL, updated_at = $3 WHERE id = $4",
        )
        .bind(sealed_credentials)
        .bind(reauthorization_required)
        .bind(now_ms())
        .bind(inbox_id)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Accepts an OAuth state's nonce once; answers false when it was used.
    pub async fn use_oauth_nonce(&self, nonce: &str) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO oauth_states (nonce, used_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING",
        )
        .bind(nonce)
        .bind(now_ms())
        .execute(self.writer())
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Whether an account has a feature flag on.
    pub async fn has_feature(&self, account_id: i64, flag: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT flag FROM account_features WHERE account_id = $1 AND flag = $2")
            .bind(account_id)
            .bind(flag)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}

impl super::WriteTx {
    /// Moves outgoing messages of a conversation forward to `status`
    /// (delivered or read; never backwards): one message by provider id, or
    /// every one sent up to `up_to` (unix ms). Answers the changed messages'
    /// ids with their conversation.
    pub async fn advance_outgoing_status(
        &mut self,
        inbox_id: i64,
        conversation_source: Option<&str>,
        source_id: Option<&str>,
        up_to: Option<i64>,
        status: MessageStatus,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let now = self.now();
        let status = status.code();
        let outgoing = MessageType::Outgoing.code();
        let rows = match source_id {
            Some(source_id) => {
                sqlx::query(&format!(
                    "UPDATE messages SET status = $1, updated_at = $2 WHERE inbox_id = $3 AND source_id = $4 \
                     AND message_type = {outgoing} AND status < $1 RETURNING id, conversation_id",
                ))
                .bind(status)
                .bind(now)
                .bind(inbox_id)
                .bind(source_id)
                .fetch_all(&mut **self.inner())
                .await?
            }
            None => {
                let Some(source) = conversation_source else {
                    return Ok(Vec::new());
                };
                sqlx::query(&format!(
                    "UPDATE messages SET status = $1, updated_at = $2 WHERE message_type = {outgoing} AND status < $1 \
                     AND private = $3 AND created_at <= $4 AND conversation_id IN (SELECT c.id FROM conversations c \
                     JOIN contact_inboxes ci ON ci.id = c.contact_inbox_id WHERE ci.inbox_id = $5 AND ci.source_id = $6) \
                     RETURNING id, conversation_id",
                ))
                .bind(status)
                .bind(now)
                .bind(false)
                .bind(up_to.unwrap_or(now))
                .bind(inbox_id)
                .bind(source)
                .fetch_all(&mut **self.inner())
                .await?
            }
        };
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("conversation_id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Marks an outgoing message failed by provider id (a provider's late
    /// refusal); answers its id and conversation.
    pub async fn fail_outgoing_by_source(
        &mut self,
        inbox_id: i64,
        source_id: &str,
        error: &str,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE messages SET status = {failed}, external_error = $1, updated_at = $2 WHERE inbox_id = $3 \
             AND source_id = $4 AND message_type = {outgoing} RETURNING id, conversation_id",
            failed = MessageStatus::Failed.code(),
            outgoing = MessageType::Outgoing.code(),
        ))
        .bind(error)
        .bind(self.now())
        .bind(inbox_id)
        .bind(source_id)
        .fetch_optional(&mut **self.inner())
        .await?;
        row.map(|r| Ok((r.try_get("id")?, r.try_get("conversation_id")?)))
            .transpose()
            .map_err(|e: sqlx::Error| StoreError::from(e))
    }
}
