//! Applying provider events to conversations, and the connected accounts
//! (inboxes with credentials) they arrive for.
//!
//! Applying a message is one transaction that begins by locking its inbox
//! row, so concurrent workers (on any node) apply one inbox's messages one at
//! a time: a new contact gets one contact identity and one conversation, never
//! two. The unique index on `(inbox_id, source_id)` makes a second apply of
//! the same provider message a no-op.

use sqlx::Row;

use super::conversations::{
    CONVERSATION_COLUMNS, CONVERSATION_FROM, MESSAGE_COLUMNS, conversation_from, message_from,
};
use super::inboxes::{COLUMNS as INBOX_COLUMNS, inbox_from};
use super::{
    ConversationRow, Dialect, InboxRow, MessageRow, Store, StoreError, conflict_as, get_bool, now_ms,
};

/// A message seen at the provider, ready to store.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    /// The provider's conversation id: the contact's identity in the inbox.
    pub conversation_source: String,
    /// The provider's id of the person.
    pub contact_external_id: String,
    /// Their name.
    pub contact_name: String,
    /// Contact `additional_attributes` for a new contact (JSON object).
    pub contact_attributes: String,
    /// Their picture.
    pub contact_avatar_url: Option<String>,
    /// Provider message id.
    pub source_id: String,
    /// Sent by the business (an echo) rather than by the contact.
    pub outgoing: bool,
    /// When the provider says it was sent (unix ms).
    pub sent_at: i64,
    /// Text.
    pub content: Option<String>,
    /// JSON object.
    pub content_attributes: String,
    /// Attachments.
    pub attachments: Vec<NewInboundAttachment>,
}

/// An inbound attachment: bytes fetched from the provider, or a link.
#[derive(Debug, Clone)]
pub struct NewInboundAttachment {
    /// Chatwoot's file type code.
    pub file_type: i64,
    /// A link shown as is (embeds).
    pub external_url: Option<String>,
    /// File name.
    pub file_name: Option<String>,
    /// MIME type.
    pub content_type: Option<String>,
    /// The bytes, when fetched.
    pub data: Option<Vec<u8>>,
    /// Provider metadata (JSON object).
    pub meta: String,
}

/// What applying a message did.
#[derive(Debug, Clone)]
pub struct AppliedMessage {
    /// The conversation it went to.
    pub conversation: ConversationRow,
    /// Whether that conversation was opened for it.
    pub conversation_created: bool,
    /// The stored message.
    pub message: MessageRow,
}

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
    fn lock_clause(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => "FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }

    /// A write transaction. SQLite's must take the write lock at once: a
    /// deferred one that reads first can lose its upgrade to a concurrent
    /// writer and fail instead of waiting.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        })
    }

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

    /// Stores a provider message in its conversation (creating the contact,
    /// its identity and the conversation as needed), in one transaction.
    /// Answers `None` when the inbox already has the message.
    pub async fn apply_inbound_message(
        &self,
        inbox: &InboxRow,
        m: &InboundMessage,
    ) -> Result<Option<AppliedMessage>, StoreError> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let locked = sqlx::query(&format!(
            "SELECT lock_to_single_conversation FROM inboxes WHERE id = $1 {}",
            self.lock_clause()
        ))
        .bind(inbox.id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("inbox {}", inbox.id)))?;
        let lock_to_single = get_bool(&locked, "lock_to_single_conversation")?;
        let exists = sqlx::query("SELECT id FROM messages WHERE inbox_id = $1 AND source_id = $2")
            .bind(inbox.id)
            .bind(&m.source_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Ok(None);
        }

        let identity =
            sqlx::query("SELECT id, contact_id FROM contact_inboxes WHERE inbox_id = $1 AND source_id = $2")
                .bind(inbox.id)
                .bind(&m.conversation_source)
                .fetch_optional(&mut *tx)
                .await?;
        let (contact_inbox_id, contact_id) = match identity {
            Some(row) => (row.try_get::<i64, _>("id")?, row.try_get::<i64, _>("contact_id")?),
            None => {
                let contact_id: i64 = sqlx::query_scalar(
                    "INSERT INTO contacts (account_id, name, avatar_url, additional_attributes, last_activity_at, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5, $5) RETURNING id",
                )
                .bind(inbox.account_id)
                .bind(&m.contact_name)
                .bind(m.contact_avatar_url.as_deref())
                .bind(&m.contact_attributes)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO contact_inboxes (contact_id, inbox_id, source_id, created_at) \
                     VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(contact_id)
                .bind(inbox.id)
                .bind(&m.conversation_source)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(conflict_as("a contact with this source_id in the inbox"))?;
                (id, contact_id)
            }
        };

        // Chatwoot's rule: a locked inbox keeps one conversation per contact;
        // otherwise a resolved conversation stays closed and a new one opens.
        let open_filter = if lock_to_single { "" } else { "AND c.status <> 1" };
        let current = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM} WHERE c.contact_inbox_id = $1 {open_filter} \
             ORDER BY c.id DESC LIMIT 1"
        ))
        .bind(contact_inbox_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (conversation_id, conversation_created) = match current {
            Some(row) => (conversation_from(&row)?.id, false),
            None => {
                let display_id: i64 = sqlx::query_scalar(
                    "UPDATE accounts SET conversation_seq = conversation_seq + 1 WHERE id = $1 \
                     RETURNING conversation_seq",
                )
                .bind(inbox.account_id)
                .fetch_one(&mut *tx)
                .await?;
                let attributes = serde_json::json!({ "conversation_id": m.conversation_source }).to_string();
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO conversations (account_id, display_id, inbox_id, contact_id, contact_inbox_id, \
                     status, last_activity_at, additional_attributes, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $6, $6) RETURNING id",
                )
                .bind(inbox.account_id)
                .bind(display_id)
                .bind(inbox.id)
                .bind(contact_id)
                .bind(contact_inbox_id)
                .bind(now)
                .bind(&attributes)
                .fetch_one(&mut *tx)
                .await?;
                (id, true)
            }
        };

        // The provider's clock orders the conversation; a time from the
        // future is clamped so a skewed clock cannot pin a message on top.
        let sent_at = m.sent_at.clamp(0, now);
        let (message_type, status, sender_type, sender_id) = if m.outgoing {
            (1_i64, 1_i64, None, None)
        } else {
            (0, 0, Some("Contact"), Some(contact_id))
        };
        let row = sqlx::query(&format!(
            "INSERT INTO messages (account_id, inbox_id, conversation_id, message_type, content_type, content, \
             content_attributes, private, status, source_id, sender_type, sender_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'text', $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(inbox.account_id)
        .bind(inbox.id)
        .bind(conversation_id)
        .bind(message_type)
        .bind(m.content.as_deref())
        .bind(&m.content_attributes)
        .bind(false)
        .bind(status)
        .bind(&m.source_id)
        .bind(sender_type)
        .bind(sender_id)
        .bind(sent_at)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let message_id: i64 = row.try_get("id")?;
        for a in &m.attachments {
            sqlx::query(
                "INSERT INTO attachments (account_id, message_id, file_type, external_url, file_name, content_type, \
                 file_size, data, meta, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(inbox.account_id)
            .bind(message_id)
            .bind(a.file_type)
            .bind(a.external_url.as_deref())
            .bind(a.file_name.as_deref())
            .bind(a.content_type.as_deref())
            .bind(a.data.as_ref().map(|d| d.len() as i64))
            .bind(a.data.as_deref())
            .bind(&a.meta)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if m.outgoing {
            sqlx::query("UPDATE conversations SET last_activity_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(conversation_id)
                .execute(&mut *tx)
                .await?;
        } else {
            // A contact writing again reopens a resolved or snoozed
            // conversation and opens the reply window from their message.
            sqlx::query(
                "UPDATE conversations SET last_activity_at = $1, updated_at = $1, status = 0, snoozed_until = NULL, \
                 contact_last_inbound_at = CASE WHEN contact_last_inbound_at IS NULL OR contact_last_inbound_at < $2 \
                 THEN $2 ELSE contact_last_inbound_at END WHERE id = $3",
            )
            .bind(now)
            .bind(sent_at)
            .bind(conversation_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE contacts SET last_activity_at = $1 WHERE id = $2")
                .bind(now)
                .bind(contact_id)
                .execute(&mut *tx)
                .await?;
        }
        let conversation = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM} WHERE c.id = $1"
        ))
        .bind(conversation_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let message = self.with_attachments(vec![message_from(&row)?]).await?.remove(0);
        Ok(Some(AppliedMessage {
            conversation: conversation_from(&conversation)?,
            conversation_created,
            message,
        }))
    }

    /// Moves outgoing messages of a conversation forward to `status`
    /// (delivered or read; never backwards): one message by provider id, or
    /// every one sent up to `up_to` (unix ms). Answers the changed messages'
    /// ids with their conversation.
    pub async fn advance_outgoing_status(
        &self,
        inbox_id: i64,
        conversation_source: Option<&str>,
        source_id: Option<&str>,
        up_to: Option<i64>,
        status: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let now = now_ms();
        let rows = match source_id {
            Some(source_id) => {
                sqlx::query(
                    "UPDATE messages SET status = $1, updated_at = $2 WHERE inbox_id = $3 AND source_id = $4 \
                     AND message_type = 1 AND status < $1 RETURNING id, conversation_id",
                )
                .bind(status)
                .bind(now)
                .bind(inbox_id)
                .bind(source_id)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                let Some(source) = conversation_source else {
                    return Ok(Vec::new());
                };
                sqlx::query(
                    "UPDATE messages SET status = $1, updated_at = $2 WHERE message_type = 1 AND status < $1 \
                     AND private = $3 AND created_at <= $4 AND conversation_id IN (SELECT c.id FROM conversations c \
                     JOIN contact_inboxes ci ON ci.id = c.contact_inbox_id WHERE ci.inbox_id = $5 AND ci.source_id = $6) \
                     RETURNING id, conversation_id",
                )
                .bind(status)
                .bind(now)
                .bind(false)
                .bind(up_to.unwrap_or(now))
                .bind(inbox_id)
                .bind(source)
                .fetch_all(&self.pool)
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
        &self,
        inbox_id: i64,
        source_id: &str,
        error: &str,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let row = sqlx::query(
            "UPDATE messages SET status = 3, external_error = $1, updated_at = $2 WHERE inbox_id = $3 \
             AND source_id = $4 AND message_type = 1 RETURNING id, conversation_id",
        )
        .bind(error)
        .bind(now_ms())
        .bind(inbox_id)
        .bind(source_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("id")?, r.try_get("conversation_id")?)))
            .transpose()
            .map_err(|e: sqlx::Error| StoreError::from(e))
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
        let mut tx = self.write_tx().await?;
        let existing = sqlx::query(&format!(
            "SELECT {INBOX_COLUMNS} FROM inboxes WHERE channel = $1 AND external_id = $2 {}",
            self.lock_clause()
        ))
        .bind(channel)
        .bind(external_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (row, created) = match existing.as_ref().map(inbox_from).transpose()? {
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
                .fetch_one(&mut *tx)
                .await?;
                (row, false)
            }
            None => {
                let row = sqlx::query(&format!(
                    "INSERT INTO inboxes (account_id, name, channel, external_id, avatar_url, credentials, created_at, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {INBOX_COLUMNS}"
                ))
                .bind(account_id)
                .bind(name)
                .bind(channel)
                .bind(external_id)
                .bind(avatar_url)
                .bind(sealed_credentials)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(conflict_as("an inbox for this provider account"))?;
                (row, true)
            }
        };
        tx.commit().await?;
        Ok((inbox_from(&row)?, created))
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
        .execute(&self.pool)
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
        .execute(&self.pool)
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
        .execute(&self.pool)
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
