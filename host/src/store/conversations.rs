//! Queries for conversations (with per-account display ids), their labels,
//! and messages.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, get_bool, now_ms};

/// A conversation.
#[derive(Debug, Clone)]
pub struct ConversationRow {
    /// Internal id.
    pub id: i64,
    /// Account.
    pub account_id: i64,
    /// Per-account number used in URLs and JSON `id`.
    pub display_id: i64,
    /// Inbox.
    pub inbox_id: i64,
    /// Contact.
    pub contact_id: i64,
    /// The contact's `source_id` in the inbox, when known.
    pub source_id: Option<String>,
    /// 0 open, 1 resolved, 2 pending, 3 snoozed.
    pub status: i64,
    /// Assigned agent.
    pub assignee_id: Option<i64>,
    /// Snoozed until (unix ms).
    pub snoozed_until: Option<i64>,
    /// Last activity (unix ms).
    pub last_activity_at: i64,
    /// The contact's last inbound message (unix ms); opens the reply window.
    pub contact_last_inbound_at: Option<i64>,
    /// Agent last seen (unix ms).
    pub agent_last_seen_at: Option<i64>,
    /// JSON object.
    pub additional_attributes: String,
    /// JSON object.
    pub custom_attributes: String,
    /// Creation (unix ms).
    pub created_at: i64,
}

/// A message.
#[derive(Debug, Clone)]
pub struct MessageRow {
    /// Id.
    pub id: i64,
    /// Account.
    pub account_id: i64,
    /// Inbox.
    pub inbox_id: i64,
    /// Internal conversation id.
    pub conversation_id: i64,
    /// 0 incoming, 1 outgoing, 2 activity, 3 template.
    pub message_type: i64,
    /// `text`, …
    pub content_type: String,
    /// Text.
    pub content: Option<String>,
    /// JSON object.
    pub content_attributes: String,
    /// Private note.
    pub private: bool,
    /// 0 sent, 1 delivered, 2 read, 3 failed.
    pub status: i64,
    /// Provider's failure reason.
    pub external_error: Option<String>,
    /// Provider message id.
    pub source_id: Option<String>,
    /// `User` or `Contact`.
    pub sender_type: Option<String>,
    /// Sender id.
    pub sender_id: Option<i64>,
    /// Client-chosen id echoed back.
    pub echo_id: Option<String>,
    /// Soft-deleted.
    pub deleted: bool,
    /// Creation (unix ms).
    pub created_at: i64,
    /// Its attachments (without their bytes).
    pub attachments: Vec<AttachmentRow>,
}

/// An attachment's description (its bytes are read separately).
#[derive(Debug, Clone)]
pub struct AttachmentRow {
    /// Id.
    pub id: i64,
    /// Message.
    pub message_id: i64,
    /// Account.
    pub account_id: i64,
    /// Chatwoot's file type code (0 image, 1 audio, 2 video, 3 file, 12 embed).
    pub file_type: i64,
    /// Provider URL, for attachments not stored here.
    pub external_url: Option<String>,
    /// File name.
    pub file_name: Option<String>,
    /// MIME type.
    pub content_type: Option<String>,
    /// Size in bytes.
    pub file_size: Option<i64>,
}

/// An attachment to store with a message.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    /// Chatwoot's file type code.
    pub file_type: i64,
    /// File name.
    pub file_name: String,
    /// MIME type.
    pub content_type: String,
    /// The bytes.
    pub data: Vec<u8>,
}

/// A message to store.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    /// 0 incoming, 1 outgoing, 2 activity, 3 template.
    pub message_type: i64,
    /// Content type name.
    pub content_type: String,
    /// Text.
    pub content: Option<String>,
    /// JSON object.
    pub content_attributes: String,
    /// Private note.
    pub private: bool,
    /// Initial status.
    pub status: i64,
    /// Provider id.
    pub source_id: Option<String>,
    /// `User` or `Contact`.
    pub sender_type: Option<String>,
    /// Sender id.
    pub sender_id: Option<i64>,
    /// Client id.
    pub echo_id: Option<String>,
    /// Queue a delivery job for it in the same transaction (an agent's
    /// outgoing message that the channel must send).
    pub deliver: bool,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    /// Status, or `None` for all.
    pub status: Option<i64>,
    /// One inbox.
    pub inbox_id: Option<i64>,
    /// Restrict to inboxes this agent belongs to.
    pub member_id: Option<i64>,
    /// `me`, `unassigned`, `assigned` or `all`.
    pub assignee_type: String,
    /// The caller (for `me`).
    pub user_id: i64,
    /// Page (1-based).
    pub page: i64,
    /// Page size.
    pub per_page: i64,
}

/// Counts for the Mine / Unassigned / All tabs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConversationCounts {
    /// Assigned to the caller.
    pub mine: i64,
    /// Unassigned.
    pub unassigned: i64,
    /// All.
    pub all: i64,
}

pub(super) const CONVERSATION_COLUMNS: &str = "c.id, c.account_id, c.display_id, c.inbox_id, c.contact_id, ci.source_id, c.status, \
     c.assignee_id, c.snoozed_until, c.last_activity_at, c.contact_last_inbound_at, c.agent_last_seen_at, \
     c.additional_attributes, c.custom_attributes, c.created_at";
pub(super) const CONVERSATION_FROM: &str =
    "conversations c LEFT JOIN contact_inboxes ci ON ci.id = c.contact_inbox_id";
pub(super) const MESSAGE_COLUMNS: &str = "id, account_id, inbox_id, conversation_id, message_type, content_type, content, \
     content_attributes, private, status, external_error, source_id, sender_type, sender_id, echo_id, deleted, created_at";

pub(super) fn conversation_from(row: &AnyRow) -> Result<ConversationRow, sqlx::Error> {
    Ok(ConversationRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        display_id: row.try_get("display_id")?,
        inbox_id: row.try_get("inbox_id")?,
        contact_id: row.try_get("contact_id")?,
        source_id: row.try_get("source_id")?,
        status: row.try_get("status")?,
        assignee_id: row.try_get("assignee_id")?,
        snoozed_until: row.try_get("snoozed_until")?,
        last_activity_at: row.try_get("last_activity_at")?,
        contact_last_inbound_at: row.try_get("contact_last_inbound_at")?,
        agent_last_seen_at: row.try_get("agent_last_seen_at")?,
        additional_attributes: row.try_get("additional_attributes")?,
        custom_attributes: row.try_get("custom_attributes")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn message_from(row: &AnyRow) -> Result<MessageRow, sqlx::Error> {
    Ok(MessageRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        inbox_id: row.try_get("inbox_id")?,
        conversation_id: row.try_get("conversation_id")?,
        message_type: row.try_get("message_type")?,
        content_type: row.try_get("content_type")?,
        content: row.try_get("content")?,
        content_attributes: row.try_get("content_attributes")?,
        private: get_bool(row, "private")?,
        status: row.try_get("status")?,
        external_error: row.try_get("external_error")?,
        source_id: row.try_get("source_id")?,
        sender_type: row.try_get("sender_type")?,
        sender_id: row.try_get("sender_id")?,
        echo_id: row.try_get("echo_id")?,
        deleted: get_bool(row, "deleted")?,
        created_at: row.try_get("created_at")?,
        attachments: Vec::new(),
    })
}

fn attachment_from(row: &AnyRow) -> Result<AttachmentRow, sqlx::Error> {
    Ok(AttachmentRow {
        id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        account_id: row.try_get("account_id")?,
        file_type: row.try_get("file_type")?,
        external_url: row.try_get("external_url")?,
        file_name: row.try_get("file_name")?,
        content_type: row.try_get("content_type")?,
        file_size: row.try_get("file_size")?,
    })
}

/// `$from, $from+1, …` for `n` values.
pub(super) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Loads the attachments of `messages` in one query.
    pub(super) async fn with_attachments(
        &self,
        mut messages: Vec<MessageRow>,
    ) -> Result<Vec<MessageRow>, StoreError> {
        if messages.is_empty() {
            return Ok(messages);
        }
        let sql = format!(
            "SELECT id, message_id, account_id, file_type, external_url, file_name, content_type, file_size \
             FROM attachments WHERE message_id IN ({}) ORDER BY id",
            placeholders(1, messages.len())
        );
        let mut query = sqlx::query(&sql);
        for m in &messages {
            query = query.bind(m.id);
        }
        for row in query.fetch_all(&self.pool).await? {
            let attachment = attachment_from(&row)?;
            if let Some(m) = messages.iter_mut().find(|m| m.id == attachment.message_id) {
                m.attachments.push(attachment);
            }
        }
        Ok(messages)
    }

    /// An attachment's MIME type, file name and bytes, within an account.
    pub async fn attachment_data(
        &self,
        account_id: i64,
        id: i64,
    ) -> Result<(AttachmentRow, Vec<u8>), StoreError> {
        let row = sqlx::query(
            "SELECT id, message_id, account_id, file_type, external_url, file_name, content_type, file_size, data \
             FROM attachments WHERE account_id = $1 AND id = $2",
        )
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("attachment {id}")))?;
        let attachment = attachment_from(&row)?;
        let data: Option<Vec<u8>> = row.try_get("data")?;
        Ok((attachment, data.unwrap_or_default()))
    }

    /// The bytes of a message's attachments, in order (for sending).
    pub async fn message_attachment_data(
        &self,
        message_id: i64,
    ) -> Result<Vec<(AttachmentRow, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, message_id, account_id, file_type, external_url, file_name, content_type, file_size, data \
             FROM attachments WHERE message_id = $1 ORDER BY id",
        )
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let data: Option<Vec<u8>> = row.try_get("data")?;
                Ok((attachment_from(row)?, data.unwrap_or_default()))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Opens a conversation with the account's next display id.
    pub async fn insert_conversation(
        &self,
        account_id: i64,
        inbox_id: i64,
        contact_id: i64,
        contact_inbox_id: Option<i64>,
        status: i64,
        assignee_id: Option<i64>,
    ) -> Result<ConversationRow, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // The update locks the account row, so display ids never repeat or skip
        // under concurrent creates (on both databases).
        let display_id: i64 = sqlx::query_scalar(
            "UPDATE accounts SET conversation_seq = conversation_seq + 1 WHERE id = $1 RETURNING conversation_seq",
        )
        .bind(account_id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO conversations (account_id, display_id, inbox_id, contact_id, contact_inbox_id, status, \
             assignee_id, last_activity_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8)",
        )
        .bind(account_id)
        .bind(display_id)
        .bind(inbox_id)
        .bind(contact_id)
        .bind(contact_inbox_id)
        .bind(status)
        .bind(assignee_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get_conversation(account_id, display_id).await
    }

    /// One conversation by its internal id.
    pub async fn conversation_by_id(&self, id: i64) -> Result<ConversationRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM} WHERE c.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("conversation {id}")))?;
        Ok(conversation_from(&row)?)
    }

    /// One conversation by its display id.
    pub async fn get_conversation(
        &self,
        account_id: i64,
        display_id: i64,
    ) -> Result<ConversationRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM} WHERE c.account_id = $1 AND c.display_id = $2"
        ))
        .bind(account_id)
        .bind(display_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("conversation {display_id}")))?;
        Ok(conversation_from(&row)?)
    }

    /// A page of conversations (latest activity first) and the tab counts.
    pub async fn list_conversations(
        &self,
        account_id: i64,
        filter: &ConversationFilter,
    ) -> Result<(Vec<ConversationRow>, ConversationCounts), StoreError> {
        // Only the filters in use appear in the SQL, so that the planner can
        // walk an (account, status, last_activity_at) index in order instead
        // of scanning and sorting every conversation of the account.
        let mut conditions = vec!["c.account_id = $1".to_owned()];
        let mut binds: Vec<i64> = vec![account_id];
        let mut add = |condition: &str, value: i64| {
            binds.push(value);
            conditions.push(condition.replace('?', &format!("${}", binds.len())));
        };
        if let Some(status) = filter.status {
            add("c.status = ?", status);
        }
        if let Some(inbox_id) = filter.inbox_id {
            add("c.inbox_id = ?", inbox_id);
        }
        if let Some(member_id) = filter.member_id {
            add(
                "c.inbox_id IN (SELECT inbox_id FROM inbox_members WHERE user_id = ?)",
                member_id,
            );
        }
        let base = conditions.join(" AND ");
        let me = binds.len() + 1;
        let counts_sql = format!(
            "SELECT COUNT(*) AS all_count, \
             COALESCE(SUM(CASE WHEN c.assignee_id IS NULL THEN 1 ELSE 0 END), 0) AS unassigned_count, \
             COALESCE(SUM(CASE WHEN c.assignee_id = ${me} THEN 1 ELSE 0 END), 0) AS mine_count \
             FROM conversations c WHERE {base}"
        );
        let mut query = sqlx::query(&counts_sql);
        for value in &binds {
            query = query.bind(*value);
        }
        let counts = query.bind(filter.user_id).fetch_one(&self.pool).await?;
        let counts = ConversationCounts {
            all: counts.try_get("all_count")?,
            unassigned: counts.try_get("unassigned_count")?,
            mine: counts.try_get("mine_count")?,
        };
        let (assignee, bind_me) = match filter.assignee_type.as_str() {
            "me" => (format!(" AND c.assignee_id = ${me}"), true),
            "unassigned" => (" AND c.assignee_id IS NULL".to_owned(), false),
            "assigned" => (" AND c.assignee_id IS NOT NULL".to_owned(), false),
            _ => (String::new(), false),
        };
        let limit = if bind_me { me + 1 } else { me };
        let list_sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM} WHERE {base}{assignee} \
             ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ${limit} OFFSET ${}",
            limit + 1
        );
        let mut query = sqlx::query(&list_sql);
        for value in &binds {
            query = query.bind(*value);
        }
        if bind_me {
            query = query.bind(filter.user_id);
        }
        let rows = query
            .bind(filter.per_page)
            .bind((filter.page - 1).max(0) * filter.per_page)
            .fetch_all(&self.pool)
            .await?;
        let list = rows.iter().map(conversation_from).collect::<Result<_, _>>()?;
        Ok((list, counts))
    }

    /// The conversations of a contact, latest first.
    pub async fn contact_conversations(
        &self,
        account_id: i64,
        contact_id: i64,
        member_id: Option<i64>,
    ) -> Result<Vec<ConversationRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM} WHERE c.account_id = $1 AND c.contact_id = $2 \
             AND ($3 = -1 OR c.inbox_id IN (SELECT inbox_id FROM inbox_members WHERE user_id = $3)) \
             ORDER BY c.last_activity_at DESC"
        ))
        .bind(account_id)
        .bind(contact_id)
        .bind(member_id.unwrap_or(-1))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(conversation_from)
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)
    }

    /// Sets a conversation's status (and snooze time, cleared unless snoozed).
    pub async fn set_conversation_status(
        &self,
        id: i64,
        status: i64,
        snoozed_until: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE conversations SET status = $1, snoozed_until = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(status)
        .bind(if status == 3 { snoozed_until } else { None })
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Assigns a conversation (or unassigns it with `None`).
    pub async fn assign_conversation(&self, id: i64, assignee_id: Option<i64>) -> Result<(), StoreError> {
        sqlx::query("UPDATE conversations SET assignee_id = $1, updated_at = $2 WHERE id = $3")
            .bind(assignee_id)
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Labels of many conversations, by conversation id.
    pub async fn labels_of(&self, ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT conversation_id, label FROM conversation_labels WHERE conversation_id IN ({}) ORDER BY label",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("conversation_id")?, r.try_get("label")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Replaces a conversation's labels.
    pub async fn set_labels(&self, id: i64, labels: &[String]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM conversation_labels WHERE conversation_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for label in labels {
            sqlx::query(
                "INSERT INTO conversation_labels (conversation_id, label) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(label)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The latest message of each conversation.
    pub async fn last_messages(&self, ids: &[i64]) -> Result<Vec<MessageRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN \
             (SELECT MAX(id) FROM messages WHERE conversation_id IN ({}) GROUP BY conversation_id)",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(message_from)
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)
    }

    /// Up to `limit` messages of a conversation before or after a message id
    /// (the newest ones when neither), oldest first.
    pub async fn list_messages(
        &self,
        conversation_id: i64,
        before: Option<i64>,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let rows = match after {
            Some(after) => {
                sqlx::query(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND id > $2 ORDER BY id ASC LIMIT $3"
                ))
                .bind(conversation_id)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                let mut rows = sqlx::query(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
                ))
                .bind(conversation_id)
                .bind(before.unwrap_or(i64::MAX))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.reverse();
                rows
            }
        };
        let messages = rows.iter().map(message_from).collect::<Result<Vec<_>, _>>()?;
        self.with_attachments(messages).await
    }

    /// Stores a message with its attachments (and, when it is to be sent, its
    /// delivery job) and moves the conversation's activity times, in one
    /// transaction: an accepted outgoing message is never without its job.
    pub async fn insert_message(
        &self,
        conversation: &ConversationRow,
        m: &NewMessage,
        attachments: &[NewAttachment],
    ) -> Result<MessageRow, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO messages (account_id, inbox_id, conversation_id, message_type, content_type, content, \
             content_attributes, private, status, source_id, sender_type, sender_id, echo_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(conversation.account_id)
        .bind(conversation.inbox_id)
        .bind(conversation.id)
        .bind(m.message_type)
        .bind(&m.content_type)
        .bind(m.content.as_deref())
        .bind(&m.content_attributes)
        .bind(m.private)
        .bind(m.status)
        .bind(m.source_id.as_deref())
        .bind(m.sender_type.as_deref())
        .bind(m.sender_id)
        .bind(m.echo_id.as_deref())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let message_id: i64 = row.try_get("id")?;
        for a in attachments {
            sqlx::query(
                "INSERT INTO attachments (account_id, message_id, file_type, file_name, content_type, file_size, data, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(conversation.account_id)
            .bind(message_id)
            .bind(a.file_type)
            .bind(&a.file_name)
            .bind(&a.content_type)
            .bind(a.data.len() as i64)
            .bind(&a.data)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if m.deliver {
            super::pipeline::insert_job(&mut tx, message_id, now).await?;
        }
        let inbound = if m.message_type == 0 { Some(now) } else { None };
        sqlx::query(
            "UPDATE conversations SET last_activity_at = $1, updated_at = $1, \
             contact_last_inbound_at = COALESCE($2, contact_last_inbound_at) WHERE id = $3",
        )
        .bind(now)
        .bind(inbound)
        .bind(conversation.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let message = message_from(&row)?;
        Ok(self.with_attachments(vec![message]).await?.remove(0))
    }

    /// One message of an account, by id.
    pub async fn message_by_id(&self, account_id: i64, id: i64) -> Result<MessageRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE account_id = $1 AND id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("message {id}")))?;
        Ok(message_from(&row)?)
    }

    /// One message of a conversation.
    pub async fn get_message(&self, conversation_id: i64, id: i64) -> Result<MessageRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND id = $2"
        ))
        .bind(conversation_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("message {id}")))?;
        Ok(self.with_attachments(vec![message_from(&row)?]).await?.remove(0))
    }

    /// Records a delivery outcome of an outbound message.
    pub async fn set_message_status(
        &self,
        id: i64,
        status: i64,
        source_id: Option<&str>,
        external_error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE messages SET status = $1, source_id = COALESCE($2, source_id), external_error = $3, \
             updated_at = $4 WHERE id = $5",
        )
        .bind(status)
        .bind(source_id)
        .bind(external_error)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Moves a failed outgoing message back to `sent` for another attempt;
    /// answers whether this call made the move.
    pub async fn reopen_failed_message(&self, id: i64) -> Result<bool, StoreError> {
        let moved = sqlx::query(
            "UPDATE messages SET status = 0, external_error = NULL, updated_at = $1 \
             WHERE id = $2 AND status = 3 AND message_type = 1",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(moved.rows_affected() == 1)
    }

    /// Soft-deletes a message: the row stays, its content goes.
    pub async fn soft_delete_message(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE messages SET content = 'This message was deleted', content_type = 'text', \
             content_attributes = '{\"deleted\":true}', deleted = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(true)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM attachments WHERE message_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The contact inbox (identity) of a contact in an inbox, if any.
    pub async fn contact_inbox(
        &self,
        contact_id: i64,
        inbox_id: i64,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let row =
            sqlx::query("SELECT id, source_id FROM contact_inboxes WHERE contact_id = $1 AND inbox_id = $2")
                .bind(contact_id)
                .bind(inbox_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| Ok((r.try_get("id")?, r.try_get("source_id")?)))
            .transpose()
            .map_err(|e: sqlx::Error| StoreError::Query(e))
    }

    /// Creates a contact's identity in an inbox.
    pub async fn insert_contact_inbox(
        &self,
        contact_id: i64,
        inbox_id: i64,
        source_id: &str,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO contact_inboxes (contact_id, inbox_id, source_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(contact_id)
        .bind(inbox_id)
        .bind(source_id)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(super::conflict_as("a contact with this source_id in the inbox"))
    }

    /// Contacts by id (for views), in one query.
    pub async fn contacts_by_id(
        &self,
        account_id: i64,
        ids: &[i64],
    ) -> Result<Vec<super::ContactRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {} FROM contacts WHERE account_id = $1 AND id IN ({})",
            super::contacts::COLUMNS,
            placeholders(2, ids.len())
        );
        let mut query = sqlx::query(&sql).bind(account_id);
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(super::contacts::contact_from)
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)
    }
}
