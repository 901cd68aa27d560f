//! Use cases of messages: read a page, send (or add a private note), retry a
//! failed send, delete, and download an attachment.
//!
//! The host enforces a channel's declared rules before anything is stored:
//! the channel enabled and connected, the content within its limits, the
//! conversation within its reply window. An accepted outgoing message is
//! stored with its delivery job in one transaction; the pipeline's workers
//! send it (`app::delivery`).

use serde_json::Value;

use super::announce::{InTransaction, committed};
use super::conversations::{labels_of, visible_conversation, visible_inbox};
use super::webhooks::Subject;
use super::{AppError, AppState, Member, views};
use crate::blobs;
use crate::conversations::{self as rules, ChatwootCode, MessageStatus, MessageType, SenderType};
use crate::store::{
    AttachmentContent, AttachmentInsert, AttachmentRow, ConversationRow, MessageRow, NewAttachment,
    NewMessage, now_ms,
};

/// Messages per page, as in Chatwoot; `after` pages are larger.
const PER_PAGE: i64 = 20;
const AFTER_PAGE: i64 = 100;
/// Longest message content accepted, as in Chatwoot.
pub const MAX_CONTENT_CHARS: usize = crate::contract::MAX_MESSAGE_CHARS;
/// Most attachments per message, as in Chatwoot.
pub const MAX_ATTACHMENTS: usize = 15;

/// A page of a conversation's messages with what a client shows beside them.
pub struct MessagePage {
    /// The conversation.
    pub conversation: ConversationRow,
    /// Oldest first.
    pub messages: Vec<MessageRow>,
    /// Its contact, rendered.
    pub contact: Value,
    /// Its assignee, rendered.
    pub assignee: Option<Value>,
    /// Its labels.
    pub labels: Vec<String>,
    /// The messages rendered with their senders, in the same order.
    pub rendered: Vec<Value>,
}

/// The newest messages, or those before / after a message id, oldest first.
pub async fn page(
    state: &AppState,
    member: &Member,
    display_id: i64,
    before: Option<i64>,
    after: Option<i64>,
) -> Result<MessagePage, AppError> {
    let conversation = visible_conversation(state, member, display_id).await?;
    let limit = if after.is_some() { AFTER_PAGE } else { PER_PAGE };
    let messages = state
        .store
        .list_messages(conversation.id, before, after, limit)
        .await?;
    let contact = state
        .store
        .get_contact(member.account_id, conversation.contact_id)
        .await?;
    // One read of the account's agents serves the assignee and every
    // agent who wrote a message of the page.
    let agents = state.store.list_agents(member.account_id).await?;
    let assignee = conversation
        .assignee_id
        .and_then(|id| agents.iter().find(|a| a.id == id))
        .map(|a| views::agent(a, member.account_id));
    let labels = labels_of(state, &conversation).await?;
    let agent_refs: Vec<&crate::store::UserRow> = agents.iter().collect();
    let rendered = messages
        .iter()
        .map(|m| {
            let sender = views::MessageSender::of(m, Some(&contact), &agent_refs);
            views::message_from(m, display_id, sender)
        })
        .collect();
    Ok(MessagePage {
        contact: views::contact(&contact),
        conversation,
        messages,
        assignee,
        labels,
        rendered,
    })
}

/// A message an agent writes.
#[derive(Debug, Default)]
pub struct Draft {
    /// The text.
    pub content: Option<String>,
    /// `outgoing` (the default); `incoming` on API inboxes, where
    /// integrations post the contact's side.
    pub message_type: Option<String>,
    /// A private note: stored, shown to agents, never sent.
    pub private: bool,
    /// One of Chatwoot's content types (`text` by default).
    pub content_type: Option<String>,
    /// Chatwoot's free-form attributes.
    pub content_attributes: Option<serde_json::Map<String, Value>>,
    /// The client's id for matching the live echo of its own message.
    pub echo_id: Option<String>,
    /// Files to send.
    pub files: Vec<NewAttachment>,
}

/// Sends a message (or adds a private note) to a conversation the member
/// may see; answers the stored message after announcing it.
pub async fn send(
    state: &AppState,
    member: &Member,
    display_id: i64,
    draft: Draft,
) -> Result<Value, AppError> {
    let conversation = visible_conversation(state, member, display_id).await?;
    let (message, files) = prepare(state, member, &conversation, draft).await?;
    // The bytes go to the blob store first, so the committed row never
    // names an object that is not there (a failure after this leaves an
    // unreferenced object, which costs space, not correctness).
    let mut keys = Vec::with_capacity(files.len());
    for f in &files {
        keys.push(state.blobs.save(blobs::ATTACHMENTS, &f.data).await?);
    }
    let attachments: Vec<AttachmentInsert<'_>> = files
        .iter()
        .zip(&keys)
        .map(|(f, key)| AttachmentInsert {
            file_type: f.file_type,
            file_name: Some(&f.file_name),
            content_type: Some(&f.content_type),
            blob_key: Some(key),
            file_size: Some(f.data.len() as i64),
            ..Default::default()
        })
        .collect();
    let mut tx = state.store.begin_write().await?;
    let stored = tx
        .insert_new_message(&conversation, &message, &attachments)
        .await?;
    let json = rendered(state, &conversation, &stored).await;
    let mut pending = InTransaction::default();
    pending
        .webhook(
            state,
            &mut tx,
            conversation.account_id,
            "message_created",
            Subject::Message(json.clone()),
        )
        .await?;
    tx.commit().await?;
    committed(state, pending).await;
    Ok(announce_created(state, &conversation, &stored, json).await)
}

/// Checks a draft against the conversation's channel as a reply or note in
/// it, and answers the message to write with its files; writes nothing.
pub(super) async fn prepare(
    state: &AppState,
    member: &Member,
    conversation: &ConversationRow,
    draft: Draft,
) -> Result<(NewMessage, Vec<NewAttachment>), AppError> {
    let kind = match draft.message_type.as_deref() {
        None => MessageType::Outgoing,
        Some(name) => MessageType::parse(name)
            .filter(|t| matches!(t, MessageType::Outgoing | MessageType::Incoming))
            .ok_or_else(|| AppError::Refused(format!("message_type {name:?} cannot be created here")))?,
    };
    if kind == MessageType::Incoming {
        let inbox = state
            .store
            .get_inbox(conversation.account_id, conversation.inbox_id)
            .await?;
        if !rules::accepts_posted_incoming(&inbox.channel) {
            return Err(AppError::Refused(
                "Incoming messages are only allowed in Api inboxes".into(),
            ));
        }
    }
    let content = draft.content.unwrap_or_default();
    let files = draft.files;
    if content.trim().is_empty() && files.is_empty() {
        return Err(AppError::Refused("Content can't be blank".into()));
    }
    if content.chars().count() > MAX_CONTENT_CHARS {
        return Err(AppError::Refused(format!(
            "Content is too long (maximum is {MAX_CONTENT_CHARS} characters)"
        )));
    }
    if files.len() > MAX_ATTACHMENTS {
        return Err(AppError::Refused(format!(
            "at most {MAX_ATTACHMENTS} attachments per message"
        )));
    }
    let content_type = draft.content_type.unwrap_or_else(|| "text".into());
    if !rules::CONTENT_TYPES.contains(&content_type.as_str()) {
        return Err(AppError::Refused(format!(
            "content_type {content_type:?} is not one of {}",
            rules::CONTENT_TYPES.join(", ")
        )));
    }
    // The contact's side is recorded, not sent.
    let deliver = !draft.private && kind == MessageType::Outgoing;
    if deliver {
        check_sendable(state, conversation, &content, &files).await?;
    }
    let (sender_type, sender_id) = if kind == MessageType::Incoming {
        (SenderType::Contact, conversation.contact_id)
    } else {
        (SenderType::User, member.user.user_id)
    };
    let message = NewMessage {
        message_type: kind,
        content_type,
        content: (!content.is_empty()).then_some(content),
        content_attributes: Value::Object(draft.content_attributes.unwrap_or_default()).to_string(),
        private: draft.private,
        status: MessageStatus::Sent,
        source_id: None,
        sender_type: Some(sender_type),
        sender_id: Some(sender_id),
        echo_id: draft.echo_id,
        deliver,
    };
    Ok((message, files))
}

/// A new message rendered with its sender, as `message.created` shows it.
pub(super) async fn rendered(state: &AppState, conversation: &ConversationRow, stored: &MessageRow) -> Value {
    let sender_id = stored.sender_id.unwrap_or_default();
    let sender = match stored.sender_type {
        Some(SenderType::Contact) => state
            .store
            .get_contact(conversation.account_id, sender_id)
            .await
            .ok()
            .map(|c| views::MessageSender::contact(&c)),
        _ => state
            .store
            .get_agent(conversation.account_id, sender_id)
            .await
            .ok()
            .map(|u| views::MessageSender::user(&u)),
    };
    views::message_from(stored, conversation.display_id, sender)
}

/// Announces a message just committed as `message.created` (`json`, from
/// [`rendered`]) to live clients, wakes the delivery workers when it is to
/// be sent, and answers it.
pub(super) async fn announce_created(
    state: &AppState,
    conversation: &ConversationRow,
    stored: &MessageRow,
    json: Value,
) -> Value {
    super::announce::publish(
        state,
        conversation.account_id,
        Some(conversation.inbox_id),
        "message.created",
        json.clone(),
    )
    .await;
    // Only an outgoing message that is not a note gets a delivery job.
    if stored.message_type == MessageType::Outgoing && !stored.private {
        state.pipeline.delivery_queued();
    }
    json
}

/// The host enforces the channel's declared rules before any send: the
/// channel must be enabled and connected, the content within its limits, and
/// the conversation within its reply window. Nothing is stored when refused.
async fn check_sendable(
    state: &AppState,
    conversation: &ConversationRow,
    content: &str,
    files: &[NewAttachment],
) -> Result<(), AppError> {
    let inbox = state
        .store
        .get_inbox(conversation.account_id, conversation.inbox_id)
        .await?;
    let plugin = state
        .plugins
        .get(&inbox.channel)
        .ok_or_else(|| AppError::Refused(format!("the {} channel is not enabled", inbox.channel)))?;
    let channel = &plugin.manifest.name;
    if inbox.reauthorization_required {
        return Err(AppError::Refused(format!(
            "this {channel} inbox must be reconnected before it can send"
        )));
    }
    rules::check_text(&plugin.manifest.limits, content, channel).map_err(AppError::Refused)?;
    let outgoing: Vec<rules::OutgoingFile<'_>> = files
        .iter()
        .map(|f| rules::OutgoingFile {
            kind: rules::attachment_kind(f.file_type),
            mime_type: &f.content_type,
            bytes: f.data.len() as u64,
        })
        .collect();
    rules::check_attachments(
        &plugin.manifest.limits,
        !content.trim().is_empty(),
        &outgoing,
        channel,
    )
    .map_err(AppError::Refused)?;
    if !rules::can_reply(
        plugin.manifest.reply_window,
        conversation.contact_last_inbound_at,
        now_ms(),
    ) {
        return Err(AppError::Refused(format!(
            "the {channel} reply window for this conversation has closed; wait for the contact to write again"
        )));
    }
    Ok(())
}

/// Why an agent cannot reply in this conversation now, in words (the same
/// check a send makes, with nothing to send); `None` when they can.
pub async fn reply_blocked(
    state: &AppState,
    conversation: &ConversationRow,
) -> Result<Option<String>, AppError> {
    match check_sendable(state, conversation, "", &[]).await {
        Ok(()) => Ok(None),
        Err(AppError::Refused(reason)) => Ok(Some(reason)),
        Err(e) => Err(e),
    }
}

/// The content limits of a channel, for a reply box to show and enforce
/// before sending (the send checks them again).
pub fn channel_limits(state: &AppState, channel: &str) -> Option<crate::contract::ContentLimits> {
    state.plugins.get(channel).map(|p| p.manifest.limits.clone())
}

/// Announces a message's current state as `message.updated`.
pub async fn announce_update(state: &AppState, conversation: &ConversationRow, id: i64) {
    match state.store.get_message(conversation.id, id).await {
        Ok(current) => {
            let json = views::message(&current, conversation.display_id);
            super::announce::publish(
                state,
                conversation.account_id,
                Some(conversation.inbox_id),
                "message.updated",
                json,
            )
            .await;
        }
        Err(e) => tracing::warn!(message = id, "cannot publish message.updated: {e}"),
    }
}

/// Deletes a message's content (its row stays, as in Chatwoot); answers it.
pub async fn delete(state: &AppState, member: &Member, display_id: i64, id: i64) -> Result<Value, AppError> {
    let conversation = visible_conversation(state, member, display_id).await?;
    let message = state.store.get_message(conversation.id, id).await?;
    let mut tx = state.store.begin_write().await?;
    tx.soft_delete_message(id).await?;
    let mut pending = InTransaction::default();
    let changed = (conversation.account_id, conversation.id, id);
    pending
        .message_updated(state, &mut tx, changed, message.message_type)
        .await?;
    tx.commit().await?;
    committed(state, pending).await;
    announce_update(state, &conversation, id).await;
    Ok(views::message(
        &state.store.get_message(conversation.id, id).await?,
        display_id,
    ))
}

/// Sends a failed outgoing message again; answers it.
pub async fn retry(state: &AppState, member: &Member, display_id: i64, id: i64) -> Result<Value, AppError> {
    let conversation = visible_conversation(state, member, display_id).await?;
    let message = state.store.get_message(conversation.id, id).await?;
    let not_retryable = || AppError::Refused("only failed outgoing messages can be retried".into());
    if message.message_type != MessageType::Outgoing || message.private {
        return Err(not_retryable());
    }
    check_sendable(
        state,
        &conversation,
        message.content.as_deref().unwrap_or_default(),
        &[],
    )
    .await?;
    // Only one retry wins the failed → sent transition (and requeues the
    // job), so two concurrent retries never send twice.
    let mut tx = state.store.begin_write().await?;
    if !tx.requeue_delivery(id).await? {
        return Err(not_retryable());
    }
    let mut pending = InTransaction::default();
    let changed = (conversation.account_id, conversation.id, id);
    pending
        .message_updated(state, &mut tx, changed, MessageType::Outgoing)
        .await?;
    tx.commit().await?;
    committed(state, pending).await;
    state.pipeline.delivery_queued();
    announce_update(state, &conversation, id).await;
    // Answer the message as this retry left it: by now a worker may be
    // sending it again, and may even have failed it again, so a fresh read
    // could answer `failed` to a retry that worked.
    let message = MessageRow {
        status: MessageStatus::Sent,
        external_error: None,
        ..message
    };
    Ok(views::message(&message, display_id))
}

/// An attachment's row and bytes, for a member who may see its conversation.
pub async fn attachment(
    state: &AppState,
    member: &Member,
    id: i64,
) -> Result<(AttachmentRow, Vec<u8>), AppError> {
    let (attachment, content) = state.store.attachment_data(member.account_id, id).await?;
    let message = state
        .store
        .message_by_id(member.account_id, attachment.message_id)
        .await?;
    visible_inbox(state, member, message.inbox_id).await?;
    Ok((attachment, attachment_bytes(state, content).await?))
}

/// An attachment's bytes, wherever they are: in its row (written before the
/// blob store, not yet moved by `blobs migrate`) or in the blob store.
pub(super) async fn attachment_bytes(
    state: &AppState,
    content: AttachmentContent,
) -> Result<Vec<u8>, AppError> {
    Ok(match content {
        AttachmentContent::Inline(data) => data,
        AttachmentContent::Blob(key) => state.blobs.load(&key).await?,
        AttachmentContent::Absent => Vec::new(),
    })
}
