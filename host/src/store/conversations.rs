//! Queries for conversations (with per-account display ids), their labels,
//! and messages.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::chatwoot::{ChatwootCode, ConversationStatus, MessageStatus, MessageType, SenderType};

use super::{AttachmentInsert, ConversationInsert, Dialect, Store, StoreError, WriteTx, get_bool, get_code};

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
    /// Its status.
    pub status: ConversationStatus,
    /// Assigned agent.
    pub assignee_id: Option<i64>,
    /// Assigned team, with its name.
    pub team: Option<(i64, String)>,
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
    /// Who it is from.
    pub message_type: MessageType,
    /// `text`, …
    pub content_type: String,
    /// Text.
    pub content: Option<String>,
    /// JSON object.
    pub content_attributes: String,
    /// Private note.
    pub private: bool,
    /// How far it got.
    pub status: MessageStatus,
    /// Provider's failure reason.
    pub external_error: Option<String>,
    /// Provider message id.
    pub source_id: Option<String>,
    /// Who wrote it.
    pub sender_type: Option<SenderType>,
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
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Who it is from.
    pub message_type: MessageType,
    /// Content type name.
    pub content_type: String,
    /// Text.
    pub content: Option<String>,
    /// JSON object.
    pub content_attributes: String,
    /// Private note.
    pub private: bool,
    /// Initial status.
    pub status: MessageStatus,
    /// Provider id.
    pub source_id: Option<String>,
    /// Who wrote it.
    pub sender_type: Option<SenderType>,
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
    pub status: Option<ConversationStatus>,
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
    /// One team.
    pub team_id: Option<i64>,
    /// Conversations with any of these labels.
    pub labels: Vec<String>,
    /// Conversations with a message containing this text (any case).
    pub q: Option<String>,
}

/// A value bound to a list query.
enum Bind {
    Int(i64),
    Text(String),
}

fn bind_values<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &[Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for value in binds {
        query = match value {
            Bind::Int(v) => query.bind(*v),
            Bind::Text(v) => query.bind(v.clone()),
        };
    }
    query
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
     c.assignee_id, c.team_id, tm.name AS team_name, c.snoozed_until, c.last_activity_at, c.contact_last_inbound_at, c.agent_last_seen_at, \
     c.additional_attributes, c.custom_attributes, c.created_at";
pub(super) const CONVERSATION_FROM: &str = "conversations c LEFT JOIN contact_inboxes ci ON ci.id = c.contact_inbox_id LEFT JOIN teams tm ON tm.id = c.team_id";
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
        status: get_code(row, "status")?,
        assignee_id: row.try_get("assignee_id")?,
        team: match row.try_get::<Option<i64>, _>("team_id")? {
            Some(id) => Some((
                id,
                row.try_get::<Option<String>, _>("team_name")?.unwrap_or_default(),
            )),
            None => None,
        },
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
        message_type: get_code(row, "message_type")?,
        content_type: row.try_get("content_type")?,
        content: row.try_get("content")?,
        content_attributes: row.try_get("content_attributes")?,
        private: get_bool(row, "private")?,
        status: get_code(row, "status")?,
        external_error: row.try_get("external_error")?,
        source_id: row.try_get("source_id")?,
        sender_type: row
            .try_get::<Option<String>, _>("sender_type")?
            .and_then(|name| SenderType::parse(&name)),
        sender_id: row.try_get("sender_id")?,
        echo_id: row.try_get("echo_id")?,
        deleted: get_bool(row, "deleted")?,
        created_at: row.try_get("created_at")?,
        attachments: Vec::new(),
    })
}

/// The columns [`attachment_from`] reads.
pub(super) const ATTACHMENT_COLUMNS: &str =
    "id, message_id, account_id, file_type, external_url, file_name, content_type, file_size";

pub(super) fn attachment_from(row: &AnyRow) -> Result<AttachmentRow, sqlx::Error> {
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

/// Where an attachment's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentContent {
    /// In the row (written before the blob store; `blobs migrate` moves it).
    Inline(Vec<u8>),
    /// In the blob store, under this key.
    Blob(String),
    /// Nowhere: a link, or media the provider would not give.
    Absent,
}

/// Bytes in the row win: a row being moved by `blobs migrate` has its key
/// set and its bytes cleared in one UPDATE, so either is the whole truth.
fn content_from(row: &AnyRow) -> Result<AttachmentContent, sqlx::Error> {
    let data: Option<Vec<u8>> = row.try_get("data")?;
    let key: Option<String> = row.try_get("blob_key")?;
    Ok(match (data, key) {
        (Some(data), _) => AttachmentContent::Inline(data),
        (None, Some(key)) => AttachmentContent::Blob(key),
        (None, None) => AttachmentContent::Absent,
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
    pub async fn with_attachments(
        &self,
        mut messages: Vec<MessageRow>,
    ) -> Result<Vec<MessageRow>, StoreError> {
        if messages.is_empty() {
            return Ok(messages);
        }
        let sql = format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE message_id IN ({}) ORDER BY id",
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

    /// An attachment's MIME type, file name and where its bytes are, within
    /// an account.
    pub async fn attachment_data(
        &self,
        account_id: i64,
        id: i64,
    ) -> Result<(AttachmentRow, AttachmentContent), StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ATTACHMENT_COLUMNS}, data, blob_key FROM attachments WHERE account_id = $1 AND id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("attachment {id}")))?;
        Ok((attachment_from(&row)?, content_from(&row)?))
    }

    /// Where the bytes of a message's attachments are, in order (for sending).
    pub async fn message_attachment_data(
        &self,
        message_id: i64,
    ) -> Result<Vec<(AttachmentRow, AttachmentContent)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTACHMENT_COLUMNS}, data, blob_key FROM attachments WHERE message_id = $1 ORDER BY id"
        ))
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((attachment_from(row)?, content_from(row)?)))
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
        status: ConversationStatus,
        assignee_id: Option<i64>,
    ) -> Result<ConversationRow, StoreError> {
        let mut tx = self.begin_write().await?;
        let now = tx.now();
        let conversation = tx
            .insert_conversation(&ConversationInsert {
                account_id,
                inbox_id,
                contact_id,
                contact_inbox_id,
                status,
                assignee_id,
                additional_attributes: String::new(),
                now,
            })
            .await?;
        tx.commit().await?;
        Ok(conversation)
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

    /// Folds each bucket's counter rows into one (PostgreSQL; SQLite keeps
    /// one row per bucket and has nothing to fold). On PostgreSQL the
    /// triggers of migration 0025 only append `+1`/`-1` rows, so that no
    /// writer waits on another's bucket row; the list sums them either way,
    /// and this keeps the sums short. One statement: readers see the old
    /// rows or the folded one, never both nor neither; rows appended
    /// meanwhile are not in its snapshot and stay; two nodes folding at
    /// once fold disjoint rows (the second skips rows the first deleted).
    pub async fn compact_conversation_counts(&self) -> Result<u64, StoreError> {
        if self.dialect == Dialect::Sqlite {
            return Ok(0);
        }
        let folded = sqlx::query(
            "WITH busy AS ( \
                 SELECT account_id, status, inbox_id, assignee_id FROM conversation_counts \
                 GROUP BY account_id, status, inbox_id, assignee_id HAVING COUNT(*) > 1), \
             gone AS ( \
                 DELETE FROM conversation_counts c USING busy b \
                 WHERE c.account_id = b.account_id AND c.status = b.status \
                   AND c.inbox_id = b.inbox_id AND c.assignee_id = b.assignee_id \
                 RETURNING c.account_id, c.status, c.inbox_id, c.assignee_id, c.n) \
             INSERT INTO conversation_counts (account_id, status, inbox_id, assignee_id, n) \
             SELECT account_id, status, inbox_id, assignee_id, SUM(n) FROM gone \
             GROUP BY account_id, status, inbox_id, assignee_id HAVING SUM(n) <> 0",
        )
        .execute(&self.pool)
        .await?;
        Ok(folded.rows_affected())
    }

    /// A page of conversations (latest activity first) and the tab counts.
    ///
    /// The counts are sums over `conversation_counts`, the counters that
    /// triggers on `conversations` keep per (account, status, inbox,
    /// assignee) in every writing transaction (migration 0006; on PostgreSQL
    /// as appended deltas, migration 0025, folded by
    /// [`Store::compact_conversation_counts`]): a handful of rows whatever
    /// the number of conversations. The page walks the
    /// `(account_id, status, last_activity_at, id)` index (or
    /// `(account_id, last_activity_at, id)` for all statuses) for its ids
    /// alone, then reads those rows: an `OFFSET` skips index entries, not
    /// joined rows.
    pub async fn list_conversations(
        &self,
        account_id: i64,
        filter: &ConversationFilter,
    ) -> Result<(Vec<ConversationRow>, ConversationCounts), StoreError> {
        // Only the filters in use appear in the SQL, so that the planner can
        // walk the index in order instead of scanning and sorting every
        // conversation of the account. `{t}` is the table's alias.
        let mut conditions = vec!["{t}.account_id = $1".to_owned()];
        let mut binds: Vec<Bind> = vec![Bind::Int(account_id)];
        let mut add = |condition: &str, values: Vec<Bind>| {
            let mut condition = condition.to_owned();
            for value in values {
                binds.push(value);
                condition = condition.replacen('?', &format!("${}", binds.len()), 1);
            }
            conditions.push(condition);
        };
        if let Some(status) = filter.status {
            add("{t}.status = ?", vec![Bind::Int(status.code())]);
        }
        if let Some(inbox_id) = filter.inbox_id {
            add("{t}.inbox_id = ?", vec![Bind::Int(inbox_id)]);
        }
        if let Some(member_id) = filter.member_id {
            add(
                "{t}.inbox_id IN (SELECT inbox_id FROM inbox_members WHERE user_id = ?)",
                vec![Bind::Int(member_id)],
            );
        }
        // The counter table knows none of these; with any of them the counts
        // are a COUNT over the matching conversations instead (Chatwoot's
        // counts follow the filters).
        let counted = filter.team_id.is_none() && filter.labels.is_empty() && filter.q.is_none();
        if let Some(team_id) = filter.team_id {
            add("{t}.team_id = ?", vec![Bind::Int(team_id)]);
        }
        if !filter.labels.is_empty() {
            add(
                &format!(
                    "{{t}}.id IN (SELECT conversation_id FROM conversation_labels WHERE label IN ({}))",
                    vec!["?"; filter.labels.len()].join(", ")
                ),
                filter.labels.iter().map(|l| Bind::Text(l.clone())).collect(),
            );
        }
        if let Some(pattern) = filter.q.as_deref().map(super::contacts::like_pattern) {
            // Chatwoot searches the text of incoming and outgoing messages.
            add(
                "{t}.id IN (SELECT conversation_id FROM messages WHERE account_id = {t}.account_id \
                 AND message_type IN (0, 1) AND LOWER(content) LIKE ? ESCAPE '\\')",
                vec![Bind::Text(pattern.clone())],
            );
        }
        let base = conditions.join(" AND ");
        let me = binds.len() + 1;
        // Unassigned conversations count under assignee 0 (user ids start at
        // 1; the `<> 0` keeps a caller 0 from counting them as theirs).
        // SUM of a BIGINT is NUMERIC on PostgreSQL, hence the casts.
        let counts_sql = if counted {
            format!(
                "SELECT COALESCE(CAST(SUM(k.n) AS BIGINT), 0) AS all_count, \
                 COALESCE(CAST(SUM(CASE WHEN k.assignee_id = 0 THEN k.n ELSE 0 END) AS BIGINT), 0) AS unassigned_count, \
                 COALESCE(CAST(SUM(CASE WHEN k.assignee_id = ${me} AND k.assignee_id <> 0 THEN k.n ELSE 0 END) AS BIGINT), 0) \
                 AS mine_count FROM conversation_counts k WHERE {}",
                base.replace("{t}", "k")
            )
        } else {
            format!(
                "SELECT CAST(COUNT(*) AS BIGINT) AS all_count, \
                 COALESCE(CAST(SUM(CASE WHEN k.assignee_id IS NULL THEN 1 ELSE 0 END) AS BIGINT), 0) AS unassigned_count, \
                 COALESCE(CAST(SUM(CASE WHEN k.assignee_id = ${me} THEN 1 ELSE 0 END) AS BIGINT), 0) \
                 AS mine_count FROM conversations k WHERE {}",
                base.replace("{t}", "k")
            )
        };
        let counts = bind_values(sqlx::query(&counts_sql), &binds)
            .bind(filter.user_id)
            .fetch_one(&self.pool)
            .await?;
        let counts = ConversationCounts {
            all: counts.try_get("all_count")?,
            unassigned: counts.try_get("unassigned_count")?,
            mine: counts.try_get("mine_count")?,
        };
        if filter.per_page <= 0 {
            return Ok((Vec::new(), counts));
        }
        let (assignee, bind_me) = match filter.assignee_type.as_str() {
            "me" => (format!(" AND p.assignee_id = ${me}"), true),
            "unassigned" => (" AND p.assignee_id IS NULL".to_owned(), false),
            "assigned" => (" AND p.assignee_id IS NOT NULL".to_owned(), false),
            _ => (String::new(), false),
        };
        let limit = if bind_me { me + 1 } else { me };
        let list_sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM} WHERE c.id IN \
             (SELECT p.id FROM conversations p WHERE {}{assignee} \
             ORDER BY p.last_activity_at DESC, p.id DESC LIMIT ${limit} OFFSET ${}) \
             ORDER BY c.last_activity_at DESC, c.id DESC",
            base.replace("{t}", "p"),
            limit + 1
        );
        let mut query = bind_values(sqlx::query(&list_sql), &binds);
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
        attachments: &[AttachmentInsert<'_>],
    ) -> Result<MessageRow, StoreError> {
        let mut tx = self.begin_write().await?;
        let message = tx.insert_new_message(conversation, m, attachments).await?;
        tx.commit().await?;
        Ok(message)
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

    /// The identity `(contact_inbox_id, contact_id)` with this source id in
    /// an inbox, if any.
    pub async fn contact_inbox_by_source(
        &self,
        inbox_id: i64,
        source_id: &str,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let row =
            sqlx::query("SELECT id, contact_id FROM contact_inboxes WHERE inbox_id = $1 AND source_id = $2")
                .bind(inbox_id)
                .bind(source_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| Ok((r.try_get("id")?, r.try_get("contact_id")?)))
            .transpose()
            .map_err(|e: sqlx::Error| StoreError::Query(e))
    }

    /// A contact's identities: `(inbox_id, source_id)`, oldest first.
    pub async fn contact_inboxes_of(&self, contact_id: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT inbox_id, source_id FROM contact_inboxes WHERE contact_id = $1 ORDER BY id")
                .bind(contact_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("inbox_id")?, r.try_get("source_id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Creates a contact's identity in an inbox.
    pub async fn insert_contact_inbox(
        &self,
        contact_id: i64,
        inbox_id: i64,
        source_id: &str,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let id = tx.insert_contact_inbox(contact_id, inbox_id, source_id).await?;
        tx.commit().await?;
        Ok(id)
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

impl WriteTx {
    /// Sets a conversation's status (and snooze time, cleared unless snoozed).
    pub async fn set_conversation_status(
        &mut self,
        id: i64,
        status: ConversationStatus,
        snoozed_until: Option<i64>,
    ) -> Result<(), StoreError> {
        let now = self.now();
        sqlx::query(
            "UPDATE conversations SET status = $1, snoozed_until = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(status.code())
        .bind(if status == ConversationStatus::Snoozed {
            snoozed_until
        } else {
            None
        })
        .bind(now)
        .bind(id)
        .execute(&mut **self.inner())
        .await?;
        Ok(())
    }

    /// Assigns a conversation (or unassigns it with `None`).
    pub async fn assign_conversation(&mut self, id: i64, assignee_id: Option<i64>) -> Result<(), StoreError> {
        let now = self.now();
        sqlx::query("UPDATE conversations SET assignee_id = $1, updated_at = $2 WHERE id = $3")
            .bind(assignee_id)
            .bind(now)
            .bind(id)
            .execute(&mut **self.inner())
            .await?;
        Ok(())
    }

    /// Replaces a conversation's labels; answers the ones it had, sorted.
    pub async fn set_labels(&mut self, id: i64, labels: &[String]) -> Result<Vec<String>, StoreError> {
        let previous: Vec<String> = sqlx::query_scalar(
            "SELECT label FROM conversation_labels WHERE conversation_id = $1 ORDER BY label",
        )
        .bind(id)
        .fetch_all(&mut **self.inner())
        .await?;
        sqlx::query("DELETE FROM conversation_labels WHERE conversation_id = $1")
            .bind(id)
            .execute(&mut **self.inner())
            .await?;
        for label in labels {
            sqlx::query(
                "INSERT INTO conversation_labels (conversation_id, label) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(label)
            .execute(&mut **self.inner())
            .await?;
        }
        Ok(previous)
    }
}

impl super::WriteTx {
    /// Soft-deletes a message: the row stays, its content goes.
    pub async fn soft_delete_message(&mut self, id: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE messages SET content = 'This message was deleted', content_type = 'text', \
             content_attributes = '{\"deleted\":true}', deleted = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(true)
        .bind(self.now())
        .bind(id)
        .execute(&mut **self.inner())
        .await?;
        sqlx::query("DELETE FROM attachments WHERE message_id = $1")
            .bind(id)
            .execute(&mut **self.inner())
            .await?;
        Ok(())
    }
}
