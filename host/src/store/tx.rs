//! [`WriteTx`]: one write transaction and the typed primitives that run in
//! it. Every path that writes a contact, a contact's identity in an inbox, a
//! conversation, a message, an attachment or a delivery job goes through the
//! one INSERT here, so the columns a row gets are decided once. Use cases in
//! `app/` compose these steps into their transaction; the `Store` methods
//! that write one thing are thin wrappers over them.

use sqlx::Row;

use crate::chatwoot::{ChatwootCode, ConversationStatus, MessageStatus, MessageType, SenderType};

use super::contacts::{COLUMNS as CONTACT_COLUMNS, contact_from};
use super::conversations::{
    ATTACHMENT_COLUMNS, CONVERSATION_COLUMNS, CONVERSATION_FROM, MESSAGE_COLUMNS, attachment_from,
    conversation_from, message_from,
};
use super::inboxes::{COLUMNS as INBOX_COLUMNS, inbox_from};
use super::{
    ContactRow, ConversationRow, Dialect, InboxRow, MessageRow, NewContact, NewMessage, Store, StoreError,
    conflict_as, get_bool,
};

/// A conversation row to insert; its display id is the account's next.
#[derive(Debug, Clone)]
pub struct ConversationInsert {
    /// Account.
    pub account_id: i64,
    /// Inbox.
    pub inbox_id: i64,
    /// Contact.
    pub contact_id: i64,
    /// The contact's identity in the inbox.
    pub contact_inbox_id: Option<i64>,
    /// Its status.
    pub status: ConversationStatus,
    /// Assigned agent.
    pub assignee_id: Option<i64>,
    /// JSON object.
    pub additional_attributes: String,
    /// Unix ms.
    pub now: i64,
}

/// A message row to insert.
#[derive(Debug, Clone)]
pub struct MessageInsert<'a> {
    /// Account.
    pub account_id: i64,
    /// Inbox.
    pub inbox_id: i64,
    /// Conversation.
    pub conversation_id: i64,
    /// Who it is from.
    pub message_type: MessageType,
    /// Content type name.
    pub content_type: &'a str,
    /// Text.
    pub content: Option<&'a str>,
    /// JSON object.
    pub content_attributes: &'a str,
    /// Private note.
    pub private: bool,
    /// How far it got.
    pub status: MessageStatus,
    /// Provider message id.
    pub source_id: Option<&'a str>,
    /// Who wrote it.
    pub sender_type: Option<SenderType>,
    /// Sender id.
    pub sender_id: Option<i64>,
    /// Client id.
    pub echo_id: Option<&'a str>,
    /// When it was written (unix ms): now for an agent's message, the
    /// provider's time for an inbound one.
    pub created_at: i64,
    /// Unix ms.
    pub now: i64,
}

/// An attachment row to insert: uploaded or fetched bytes, or a link.
#[derive(Debug, Clone, Default)]
pub struct AttachmentInsert<'a> {
    /// Chatwoot's file type code.
    pub file_type: i64,
    /// A link shown as is (embeds).
    pub external_url: Option<&'a str>,
    /// File name.
    pub file_name: Option<&'a str>,
    /// MIME type.
    pub content_type: Option<&'a str>,
    /// The key of the bytes in the blob store, written there before this
    /// row (new rows never hold bytes: `data` is for rows older than the
    /// blob store, until `blobs migrate` moves them).
    pub blob_key: Option<&'a str>,
    /// Size of the bytes.
    pub file_size: Option<i64>,
    /// Provider metadata (JSON object).
    pub meta: Option<&'a str>,
}

/// An inbox row to insert.
#[derive(Debug, Clone, Default)]
pub struct InboxInsert<'a> {
    /// Account.
    pub account_id: i64,
    /// Name.
    pub name: &'a str,
    /// Channel plugin id.
    pub channel: &'a str,
    /// The provider account it receives webhooks for.
    pub external_id: Option<&'a str>,
    /// Picture.
    pub avatar_url: Option<&'a str>,
    /// Sealed provider credentials, when connected by an authorization.
    pub sealed_credentials: Option<&'a str>,
}

/// What a new message changes on its conversation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Activity {
    /// When the contact last wrote (unix ms), which opens the reply window;
    /// kept when later than the stored one.
    pub contact_inbound_at: Option<i64>,
    /// Reopen the conversation (a contact writing again).
    pub reopen: bool,
}

/// What [`WriteTx::source_state`] read about one contact identity.
#[derive(Debug, Clone, Copy)]
pub struct SourceState {
    /// The inbox already has the provider message.
    pub has_message: bool,
    /// `(contact_inbox_id, contact_id)`, when the identity exists.
    pub identity: Option<(i64, i64)>,
    /// `(id, display_id)` of the conversation a new message joins, if any.
    pub conversation: Option<(i64, i64)>,
}

/// One write transaction. Dropped without [`WriteTx::commit`], it rolls back.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    dialect: Dialect,
    now: i64,
}

impl Store {
    /// Begins a write transaction. SQLite's takes the write lock at once: a
    /// deferred one that reads first can lose its upgrade to a concurrent
    /// writer and fail instead of waiting.
    pub async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let tx = match self.dialect {
            Dialect::Sqlite => self.writer().begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.writer().begin().await?,
        };
        Ok(WriteTx {
            tx,
            dialect: self.dialect,
            now: super::now_ms(),
        })
    }
}

impl WriteTx {
    /// The transaction's clock (unix ms): every row it writes carries it.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    pub(super) fn inner(&mut self) -> &mut sqlx::Transaction<'static, sqlx::Any> {
        &mut self.tx
    }

    /// Takes, until commit, the lock of one contact identity in an inbox (the
    /// provider's conversation), so that writers of the same identity take
    /// turns and a new contact gets one identity and one conversation, never
    /// two, while other conversations of the inbox apply in parallel. On
    /// PostgreSQL it is a transaction-scoped advisory lock on a hash of
    /// (inbox, source) — a collision only makes two identities take turns;
    /// on SQLite the transaction already holds the database's write lock.
    pub async fn lock_contact_identity(&mut self, inbox_id: i64, source_id: &str) -> Result<(), StoreError> {
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("{inbox_id}\u{1f}{source_id}"))
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Everything recording a provider message must know about its contact
    /// identity, read in one statement (call it after
    /// [`WriteTx::lock_contact_identity`], so it sees the identity's latest
    /// writes): whether the inbox already has the message, the identity, and the conversation a new
    /// message of that identity joins (Chatwoot's rule: a locked inbox
    /// reuses the latest conversation whatever its status, otherwise the
    /// latest one not resolved).
    pub async fn source_state(
        &mut self,
        inbox_id: i64,
        conversation_source: &str,
        message_source: &str,
    ) -> Result<SourceState, StoreError> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM messages m WHERE m.inbox_id = i.id AND m.source_id = $2) AS has_message, \
             ci.id AS contact_inbox_id, ci.contact_id AS contact_id, c.id AS conversation_id, \
             c.display_id AS display_id \
             FROM inboxes i \
             LEFT JOIN contact_inboxes ci ON ci.inbox_id = i.id AND ci.source_id = $3 \
             LEFT JOIN conversations c ON c.id = (SELECT latest.id FROM conversations latest \
               WHERE latest.contact_inbox_id = ci.id \
               AND (i.lock_to_single_conversation OR latest.status <> $4) ORDER BY latest.id DESC LIMIT 1) \
             WHERE i.id = $1",
        )
        .bind(inbox_id)
        .bind(message_source)
        .bind(conversation_source)
        .bind(ConversationStatus::Resolved.code())
        .fetch_optional(&mut *self.tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("inbox {inbox_id}")))?;
        let identity = match (
            row.try_get::<Option<i64>, _>("contact_inbox_id")?,
            row.try_get::<Option<i64>, _>("contact_id")?,
        ) {
            (Some(contact_inbox_id), Some(contact_id)) => Some((contact_inbox_id, contact_id)),
            _ => None,
        };
        let conversation = match (
            row.try_get::<Option<i64>, _>("conversation_id")?,
            row.try_get::<Option<i64>, _>("display_id")?,
        ) {
            (Some(id), Some(display_id)) => Some((id, display_id)),
            _ => None,
        };
        Ok(SourceState {
            has_message: get_bool(&row, "has_message")?,
            identity,
            conversation,
        })
    }

    /// Inserts a contact; `active` when it is created by its own activity
    /// (an inbound message), which sets `last_activity_at`.
    pub async fn insert_contact(
        &mut self,
        account_id: i64,
        contact: &NewContact,
        active: bool,
    ) -> Result<ContactRow, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO contacts (account_id, name, email, phone_number, identifier, avatar_url, blocked, \
             additional_attributes, custom_attributes, last_activity_at, created_at, updated_at, avatar_blob, \
             avatar_content_type) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13) \
             RETURNING {CONTACT_COLUMNS}"
        ))
        .bind(account_id)
        .bind(&contact.name)
        .bind(contact.email.as_deref())
        .bind(contact.phone_number.as_deref())
        .bind(contact.identifier.as_deref())
        .bind(contact.avatar_url.as_deref())
        .bind(false)
        .bind(&contact.additional_attributes)
        .bind(&contact.custom_attributes)
        .bind(active.then_some(self.now))
        .bind(self.now)
        .bind(contact.avatar_blob.as_deref())
        .bind(contact.avatar_content_type.as_deref())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(conflict_as("a contact with this email or identifier"))?;
        Ok(contact_from(&row)?)
    }

    /// Inserts a contact's identity in an inbox; answers its id.
    pub async fn insert_contact_inbox(
        &mut self,
        contact_id: i64,
        inbox_id: i64,
        source_id: &str,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO contact_inboxes (contact_id, inbox_id, source_id, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(contact_id)
        .bind(inbox_id)
        .bind(source_id)
        .bind(self.now)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(conflict_as("a contact with this source_id in the inbox"))
    }

    /// Inserts a conversation with the account's next display id; answers
    /// it. Display ids never repeat. On SQLite the account's counter is
    /// bumped in this transaction (one writer: the row lock costs nothing).
    /// On PostgreSQL the account's sequence gives it, as in Chatwoot: the
    /// counter's row lock would last until this transaction commits, and
    /// workers on several nodes opening conversations of one account queued
    /// on it for seconds under load. A creation rolled back there leaves a
    /// gap, as in Chatwoot.
    pub async fn insert_conversation(
        &mut self,
        c: &ConversationInsert,
    ) -> Result<ConversationRow, StoreError> {
        let next_display_id = match self.dialect {
            Dialect::Sqlite => {
                "UPDATE accounts SET conversation_seq = conversation_seq + 1 WHERE id = $1 RETURNING conversation_seq"
            }
            // The sequence is made with the account (migration 0024's trigger).
            Dialect::Postgres => "SELECT nextval(format('conv_dpid_seq_%s', $1::bigint)::regclass)",
        };
        let display_id: i64 = sqlx::query_scalar(next_display_id)
            .bind(c.account_id)
            .fetch_one(&mut *self.tx)
            .await?;
        let attributes = if c.additional_attributes.is_empty() {
            "{}"
        } else {
            c.additional_attributes.as_str()
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO conversations (account_id, display_id, inbox_id, contact_id, contact_inbox_id, status, \
             assignee_id, last_activity_at, additional_attributes, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $8) RETURNING id",
        )
        .bind(c.account_id)
        .bind(display_id)
        .bind(c.inbox_id)
        .bind(c.contact_id)
        .bind(c.contact_inbox_id)
        .bind(c.status.code())
        .bind(c.assignee_id)
        .bind(self.now)
        .bind(attributes)
        .fetch_one(&mut *self.tx)
        .await?;
        self.conversation(id).await
    }

    /// A conversation as this transaction sees it.
    pub async fn conversation(&mut self, id: i64) -> Result<ConversationRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM} WHERE c.id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("conversation {id}")))?;
        Ok(conversation_from(&row)?)
    }

    /// Inserts a message (without its attachments); answers it.
    pub async fn insert_message(&mut self, m: &MessageInsert<'_>) -> Result<MessageRow, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO messages (account_id, inbox_id, conversation_id, message_type, content_type, content, \
             content_attributes, private, status, source_id, sender_type, sender_id, echo_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(m.account_id)
        .bind(m.inbox_id)
        .bind(m.conversation_id)
        .bind(m.message_type.code())
        .bind(m.content_type)
        .bind(m.content)
        .bind(m.content_attributes)
        .bind(m.private)
        .bind(m.status.code())
        .bind(m.source_id)
        .bind(m.sender_type.map(ChatwootCode::name))
        .bind(m.sender_id)
        .bind(m.echo_id)
        .bind(m.created_at)
        .bind(m.now)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(message_from(&row)?)
    }

    /// Inserts an agent's or an integration's message with its attachments
    /// (and, when it is to be sent, its delivery job) and moves the
    /// conversation's activity times: an accepted outgoing message is never
    /// without its job.
    pub async fn insert_new_message(
        &mut self,
        conversation: &ConversationRow,
        m: &NewMessage,
        attachments: &[AttachmentInsert<'_>],
    ) -> Result<MessageRow, StoreError> {
        let now = self.now;
        let mut message = self
            .insert_message(&MessageInsert {
                account_id: conversation.account_id,
                inbox_id: conversation.inbox_id,
                conversation_id: conversation.id,
                message_type: m.message_type,
                content_type: &m.content_type,
                content: m.content.as_deref(),
                content_attributes: &m.content_attributes,
                private: m.private,
                status: m.status,
                source_id: m.source_id.as_deref(),
                sender_type: m.sender_type,
                sender_id: m.sender_id,
                echo_id: m.echo_id.as_deref(),
                created_at: now,
                now,
            })
            .await?;
        for a in attachments {
            self.insert_attachment(&mut message, a).await?;
        }
        if m.deliver {
            self.insert_delivery_job(message.id).await?;
        }
        let incoming = m.message_type == MessageType::Incoming;
        self.record_activity(
            conversation.id,
            Activity {
                contact_inbound_at: incoming.then_some(now),
                reopen: false,
            },
        )
        .await?;
        Ok(message)
    }

    /// Inserts an attachment of a message just inserted, and adds it to the
    /// message's list, so the message needs no reading back.
    pub async fn insert_attachment(
        &mut self,
        message: &mut MessageRow,
        a: &AttachmentInsert<'_>,
    ) -> Result<(), StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO attachments (account_id, message_id, file_type, external_url, file_name, content_type, \
             file_size, blob_key, meta, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             RETURNING {ATTACHMENT_COLUMNS}"
        ))
        .bind(message.account_id)
        .bind(message.id)
        .bind(a.file_type)
        .bind(a.external_url)
        .bind(a.file_name)
        .bind(a.content_type)
        .bind(a.file_size)
        .bind(a.blob_key)
        .bind(a.meta.unwrap_or("{}"))
        .bind(self.now)
        .fetch_one(&mut *self.tx)
        .await?;
        message.attachments.push(attachment_from(&row)?);
        Ok(())
    }

    /// Inserts a user; fails with `Conflict` when the email is taken.
    pub async fn insert_user(
        &mut self,
        name: &str,
        email: &str,
        super_admin: bool,
    ) -> Result<i64, StoreError> {
        // The pubsub token names the user's live-update stream to Chatwoot's
        // clients (ActionCable); unguessable, and never rotated with API tokens.
        let pubsub_token = hex::encode(rand::random::<[u8; 16]>());
        sqlx::query_scalar(
            "INSERT INTO users (name, email, super_admin, created_at, pubsub_token) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(email)
        .bind(super_admin)
        .bind(self.now)
        .bind(pubsub_token)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(conflict_as(&format!("user {email:?}")))
    }

    /// Records an API token of a user, by its sha256.
    pub async fn insert_token(&mut self, user_id: i64, token_sha256: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO access_tokens (token_sha256, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(token_sha256)
            .bind(user_id)
            .bind(self.now)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound(format!("user {user_id}"))
                }
                _ => StoreError::Query(e),
            })?;
        Ok(())
    }

    /// Inserts an inbox on a channel plugin, connected (with sealed
    /// credentials) or not; answers it.
    pub async fn insert_inbox(&mut self, inbox: &InboxInsert<'_>) -> Result<InboxRow, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO inboxes (account_id, name, channel, external_id, avatar_url, credentials, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {INBOX_COLUMNS}"
        ))
        .bind(inbox.account_id)
        .bind(inbox.name)
        .bind(inbox.channel)
        .bind(inbox.external_id)
        .bind(inbox.avatar_url)
        .bind(inbox.sealed_credentials)
        .bind(self.now)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(conflict_as("an inbox for this provider account"))?;
        Ok(inbox_from(&row)?)
    }

    /// Puts a conversation in a team, or in none.
    pub async fn set_conversation_team(&mut self, id: i64, team_id: Option<i64>) -> Result<(), StoreError> {
        sqlx::query("UPDATE conversations SET team_id = $1, updated_at = $2 WHERE id = $3")
            .bind(team_id)
            .bind(self.now)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Queues a message for delivery.
    pub async fn insert_delivery_job(&mut self, message_id: i64) -> Result<(), StoreError> {
        let now = self.now;
        super::pipeline::insert_job(&mut self.tx, message_id, now).await
    }

    /// Records a new message's activity on its conversation.
    pub async fn record_activity(
        &mut self,
        conversation_id: i64,
        activity: Activity,
    ) -> Result<(), StoreError> {
        let reopen = if activity.reopen {
            format!(
                ", status = {}, snoozed_until = NULL",
                ConversationStatus::Open.code()
            )
        } else {
            String::new()
        };
        sqlx::query(&format!(
            "UPDATE conversations SET last_activity_at = $1, updated_at = $1{reopen}, \
             contact_last_inbound_at = CASE WHEN contact_last_inbound_at IS NULL OR contact_last_inbound_at < $2 \
             THEN COALESCE($2, contact_last_inbound_at) ELSE contact_last_inbound_at END WHERE id = $3"
        ))
        .bind(self.now)
        .bind(activity.contact_inbound_at)
        .bind(conversation_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records that a contact was active now.
    /// Answers the contact as it now is (a message's sender is shown from it).
    pub async fn touch_contact(&mut self, contact_id: i64) -> Result<ContactRow, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE contacts SET last_activity_at = $1 WHERE id = $2 RETURNING {CONTACT_COLUMNS}"
        ))
        .bind(self.now)
        .bind(contact_id)
        .fetch_optional(&mut *self.tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("contact {contact_id}")))?;
        Ok(contact_from(&row)?)
    }
}
