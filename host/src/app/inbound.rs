//! Applying logged webhooks: the plugin parses, the host applies.
//!
//! Every step is idempotent, so an event may be applied any number of times
//! (a worker crashed after applying but before marking it, a lease ran out,
//! an admin replayed it) and still yields one message per provider message:
//! the store's apply checks `(inbox, provider message id)` inside the
//! transaction that writes the message, under a lock on its contact identity (inbox, provider conversation).
//!
//! An echo of a message this host is sending can arrive before the send's
//! answer is recorded; its apply waits while the conversation has a send in
//! progress, so the echo finds the recorded id and adds nothing. (Should it
//! still win the race, recording the send removes the echo's copy.)

use serde_json::{Value, json};

use super::{AppState, backoff_ms};
use crate::channel_accounts::credentials;
use crate::contract::{
    ChannelContext, ChannelEvent, DeliveryStatus, IncomingRequest, MessageEvent, StatusEvent,
};
use crate::conversations::{ConversationStatus, MessageStatus, MessageType, SenderType, file_type_of};
use crate::plugin_host::{LoadedPlugin, health};
use crate::runtime::PluginError;
use crate::store::pipeline::event_status;
use crate::store::{
    Activity, AttachmentInsert, ConversationInsert, ConversationRow, InboundEventRow, InboxRow,
    MessageInsert, MessageRow, NewContact, StoreError, now_ms,
};

/// Events claimed at once by a worker.
pub const BATCH: i64 = 8;
/// Attempts before an event that keeps failing is marked failed.
const MAX_ATTEMPTS: i64 = 8;
/// How long an echo waits for a send in progress in its conversation.
const ECHO_WAIT_MS: i64 = 30_000;
/// Largest media file stored from a provider.
const MAX_MEDIA_BYTES: usize = 40 << 20;

/// What applying one normalized event came to.
enum Applied {
    /// Done (or already done before).
    Done,
    /// Nothing to do, for this reason.
    Ignored(String),
    /// Try the whole webhook again after this delay (applying is idempotent).
    Later(String, i64),
    /// Retrying will not help; kept in the log as failed, for replay.
    Failed(String),
}

fn request_of(event: &InboundEventRow) -> IncomingRequest {
    IncomingRequest {
        method: event.method.clone(),
        path: event.path.clone(),
        query: event.query.clone(),
        headers: serde_json::from_str(&event.headers_json).unwrap_or_default(),
        body: event.body.clone(),
    }
}

/// Parses and applies one logged webhook, and records how it ended — except
/// a success, whose id it answers for [`finish_applied`]: a worker records
/// the successes of a claimed batch in one statement (until then the events
/// stay leased, and applying one again would add nothing).
pub async fn apply_event_row(state: &AppState, event: InboundEventRow) -> Option<i64> {
    let outcome = apply_webhook(state, &event).await;
    let store = &state.store;
    let recorded = match outcome {
        Applied::Done => return Some(event.id),
        Applied::Ignored(reason) => {
            store
                .finish_inbound_event(event.id, event_status::IGNORED, Some(&reason))
                .await
        }
        Applied::Failed(reason) => {
            tracing::warn!(event = event.id, channel = %event.channel, %reason, "inbound event failed");
            store
                .finish_inbound_event(event.id, event_status::FAILED, Some(&reason))
                .await
        }
        Applied::Later(reason, _) if event.attempts >= MAX_ATTEMPTS => {
            tracing::warn!(event = event.id, %reason, "inbound event failed after {MAX_ATTEMPTS} attempts");
            store
                .finish_inbound_event(event.id, event_status::FAILED, Some(&reason))
                .await
        }
        Applied::Later(reason, delay) => store.postpone_inbound_event(event.id, delay, &reason).await,
    };
    if let Err(e) = recorded {
        // The lease runs out and the event is applied again: harmless.
        tracing::error!(event = event.id, "cannot record the inbound event's outcome: {e}");
    }
    None
}

/// Records that these events were applied.
pub async fn finish_applied(state: &AppState, ids: &[i64]) {
    if let Err(e) = state.store.finish_applied_events(ids).await {
        // Their leases run out and they are applied again: harmless.
        tracing::error!(events = ?ids, "cannot record applied events: {e}");
    }
}

async fn apply_webhook(state: &AppState, event: &InboundEventRow) -> Applied {
    let Some(plugin) = state.plugins.get_current(&event.channel).await else {
        // Kept, not dropped: it applies once the channel is enabled again.
        return Applied::Later(format!("the {} channel is not enabled", event.channel), 30_000);
    };
    let settings = state.plugins.settings_for(&plugin.manifest);
    let parsed = plugin.instance.parse_event(&settings, &request_of(event)).await;
    state.plugins.record_outcome(&plugin, &parsed).await;
    let events = match parsed {
        Ok(events) => events,
        Err(PluginError::Channel { .. }) if state.plugins.refresh_if_stale().await => {
            // An admin changed the plugin meanwhile (a grant, an upgrade):
            // try again with the change rather than refuse under the old one.
            return Applied::Later("the plugin changed; parsing again".into(), 0);
        }
        Err(PluginError::Channel { error, .. }) if !error.retryable => {
            // Kept as failed: a replay after a plugin upgrade can still apply it.
            return Applied::Failed(format!("the plugin cannot parse it: {}", error.message));
        }
        // A trap, memory breach, answer over budget or timeout fails the same
        // way again: kept as failed for a replay after an upgrade, not retried.
        Err(e) if !health::retryable(&e) => {
            return Applied::Failed(format!("the plugin failed parsing it: {e}"));
        }
        Err(e) => return Applied::Later(e.to_string(), backoff_ms(1000, event.attempts, 60_000)),
    };
    let mut ignored = Vec::new();
    let mut applied_any = false;
    for parsed in events {
        match apply_one(state, &plugin, event, parsed).await {
            Applied::Done => applied_any = true,
            Applied::Ignored(reason) => ignored.push(reason),
            stop @ (Applied::Later(..) | Applied::Failed(_)) => return stop,
        }
    }
    if applied_any || ignored.is_empty() {
        Applied::Done
    } else {
        Applied::Ignored(ignored.join("; "))
    }
}

async fn apply_one(
    state: &AppState,
    plugin: &LoadedPlugin,
    event: &InboundEventRow,
    parsed: ChannelEvent,
) -> Applied {
    let result = match parsed {
        ChannelEvent::Ignored(reason) => return Applied::Ignored(reason),
        ChannelEvent::Message(message) => apply_message(state, plugin, event, message, false).await,
        ChannelEvent::Echo(message) => apply_message(state, plugin, event, message, true).await,
        ChannelEvent::Status(status) => apply_status(state, event, status).await,
    };
    result.unwrap_or_else(|e| Applied::Later(e, backoff_ms(1000, event.attempts, 60_000)))
}

async fn inbox_for(state: &AppState, channel: &str, external_id: &str) -> Result<Option<InboxRow>, String> {
    state
        .store
        .inbox_for_external(channel, external_id)
        .await
        .map_err(|e| e.to_string())
}

async fn apply_message(
    state: &AppState,
    plugin: &LoadedPlugin,
    event: &InboundEventRow,
    m: MessageEvent,
    echo: bool,
) -> Result<Applied, String> {
    let Some(inbox) = inbox_for(state, &event.channel, &m.channel_external_id).await? else {
        return Ok(Applied::Ignored(format!(
            "no inbox is connected for {} account {}",
            event.channel, m.channel_external_id
        )));
    };
    let store = &state.store;
    if store
        .has_message_source(inbox.id, &m.message_id)
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok(Applied::Done);
    }
    if echo && now_ms() - event.received_at < ECHO_WAIT_MS {
        let conversation = store
            .latest_conversation_for_source(inbox.id, &m.conversation_id)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(conversation) = conversation
            && store
                .send_in_progress(conversation.id)
                .await
                .map_err(|e| e.to_string())?
        {
            return Ok(Applied::Later(
                "an echo waits for the send in progress in its conversation".into(),
                500,
            ));
        }
    }
    let attachments = match fetch_attachments(state, plugin, &inbox, &m, event.attempts).await {
        Ok(attachments) => attachments,
        Err(later) => return Ok(later),
    };
    let mut attributes = serde_json::Map::new();
    if let Some(reply_to) = &m.reply_to {
        attributes.insert("in_reply_to_external_id".into(), json!(reply_to));
    }
    if m.unsupported.is_some() {
        attributes.insert("is_unsupported".into(), json!(true));
    }
    if echo {
        attributes.insert("external_echo".into(), json!(true));
    }
    let contact_name = m
        .contact
        .name
        .clone()
        .or_else(|| m.contact.username.clone())
        .unwrap_or_else(|| m.contact.external_id.clone());
    let mut contact_attributes = json!({
        format!("social_{}_user_id", event.channel): m.contact.external_id,
    });
    if let Some(username) = &m.contact.username {
        contact_attributes["username"] = json!(username);
        contact_attributes[format!("social_{}_user_name", event.channel)] = json!(username);
        contact_attributes["social_profiles"] = json!({ event.channel.clone(): username });
    }
    let message = InboundMessage {
        conversation_source: m.conversation_id.clone(),
        contact_name,
        contact_attributes: contact_attributes.to_string(),
        contact_avatar_url: m.contact.avatar_url.clone(),
        source_id: m.message_id.clone(),
        outgoing: echo,
        sent_at: i64::try_from(m.sent_at_ms).unwrap_or(i64::MAX),
        content: m.text.clone().or_else(|| m.unsupported.clone()),
        content_attributes: Value::Object(attributes).to_string(),
        attachments,
    };
    let Some(applied) = record_message(state, &inbox, &message)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(Applied::Done);
    };
    if applied.conversation_created {
        crate::app::announce::conversation(state, &applied.conversation, "conversation.created").await;
    }
    crate::app::announce::message(state, &applied.conversation, &applied.message, "message.created").await;
    Ok(Applied::Done)
}

/// A message seen at the provider, ready to store.
struct InboundMessage {
    /// The provider's conversation id: the contact's identity in the inbox.
    conversation_source: String,
    contact_name: String,
    /// Contact `additional_attributes` for a new contact (JSON object).
    contact_attributes: String,
    contact_avatar_url: Option<String>,
    /// Provider message id.
    source_id: String,
    /// Sent by the business (an echo) rather than by the contact.
    outgoing: bool,
    /// When the provider says it was sent (unix ms).
    sent_at: i64,
    content: Option<String>,
    /// JSON object.
    content_attributes: String,
    attachments: Vec<NewInboundAttachment>,
}

/// An inbound attachment: bytes fetched from the provider, or a link.
struct NewInboundAttachment {
    /// Chatwoot's file type code.
    file_type: i64,
    /// A link shown as is (embeds).
    external_url: Option<String>,
    file_name: Option<String>,
    content_type: Option<String>,
    /// The bytes, when fetched.
    data: Option<Vec<u8>>,
    /// Provider metadata (JSON object).
    meta: String,
}

/// What recording a message did.
struct AppliedMessage {
    /// The conversation it went to.
    conversation: ConversationRow,
    /// Whether that conversation was opened for it.
    conversation_created: bool,
    /// The stored message.
    message: MessageRow,
}

/// Records a provider message in one transaction that begins by locking its
/// contact identity (inbox, provider conversation), so concurrent workers (on
/// any node) apply one identity's messages one at a time — a new contact gets
/// one contact identity and one conversation, never two — and other
/// conversations of the inbox in parallel. Answers `None` when the inbox already has the
/// message (the unique index on `(inbox_id, source_id)` backs that check).
async fn record_message(
    state: &AppState,
    inbox: &InboxRow,
    m: &InboundMessage,
) -> Result<Option<AppliedMessage>, StoreError> {
    let mut tx = state.store.begin_write().await?;
    let now = tx.now();
    let lock_to_single = tx.lock_contact_source(inbox.id, &m.conversation_source).await?;
    if tx.has_message_source(inbox.id, &m.source_id).await? {
        return Ok(None);
    }
    let (contact_inbox_id, contact_id) = match tx.contact_identity(inbox.id, &m.conversation_source).await? {
        Some(identity) => identity,
        None => {
            let contact = NewContact {
                name: m.contact_name.clone(),
                avatar_url: m.contact_avatar_url.clone(),
                additional_attributes: m.contact_attributes.clone(),
                custom_attributes: "{}".into(),
                ..Default::default()
            };
            let contact = tx.insert_contact(inbox.account_id, &contact, true).await?;
            let identity = tx
                .insert_contact_inbox(contact.id, inbox.id, &m.conversation_source)
                .await?;
            (identity, contact.id)
        }
    };
    // Chatwoot's rule: a locked inbox keeps one conversation per contact;
    // otherwise a resolved conversation stays closed and a new one opens.
    let (conversation, conversation_created) = match tx
        .latest_conversation_of(contact_inbox_id, lock_to_single)
        .await?
    {
        Some(conversation) => (conversation, false),
        None => {
            let opened = tx
                .insert_conversation(&ConversationInsert {
                    account_id: inbox.account_id,
                    inbox_id: inbox.id,
                    contact_id,
                    contact_inbox_id: Some(contact_inbox_id),
                    status: ConversationStatus::Open,
                    assignee_id: None,
                    additional_attributes: json!({ "conversation_id": m.conversation_source }).to_string(),
                    now,
                })
                .await?;
            (opened, true)
        }
    };
    // The provider's clock orders the conversation; a time from the future
    // is clamped so a skewed clock cannot pin a message on top.
    let sent_at = m.sent_at.clamp(0, now);
    let (kind, status, sender_type, sender_id) = if m.outgoing {
        (MessageType::Outgoing, MessageStatus::Delivered, None, None)
    } else {
        (
            MessageType::Incoming,
            MessageStatus::Sent,
            Some(SenderType::Contact),
            Some(contact_id),
        )
    };
    let mut message = tx
        .insert_message(&MessageInsert {
            account_id: inbox.account_id,
            inbox_id: inbox.id,
            conversation_id: conversation.id,
            message_type: kind,
            content_type: "text",
            content: m.content.as_deref(),
            content_attributes: &m.content_attributes,
            private: false,
            status,
            source_id: Some(&m.source_id),
            sender_type,
            sender_id,
            echo_id: None,
            created_at: sent_at,
            now,
        })
        .await?;
    for a in &m.attachments {
        tx.insert_attachment(
            &mut message,
            &AttachmentInsert {
                file_type: a.file_type,
                external_url: a.external_url.as_deref(),
                file_name: a.file_name.as_deref(),
                content_type: a.content_type.as_deref(),
                data: a.data.as_deref(),
                meta: Some(&a.meta),
            },
        )
        .await?;
    }
    // A contact writing again reopens a resolved or snoozed conversation and
    // opens the reply window from their message.
    let activity = if m.outgoing {
        Activity::default()
    } else {
        Activity {
            contact_inbound_at: Some(sent_at),
            reopen: true,
        }
    };
    tx.record_activity(conversation.id, activity).await?;
    if !m.outgoing {
        tx.touch_contact(contact_id).await?;
    }
    let conversation = tx.conversation(conversation.id).await?;
    tx.commit().await?;
    Ok(Some(AppliedMessage {
        conversation,
        conversation_created,
        message,
    }))
}

/// Resolves media handles through the plugin. A failure that may pass
/// retries the webhook; one that will not stores the message without the
/// bytes, noting why, rather than losing the message.
async fn fetch_attachments(
    state: &AppState,
    plugin: &LoadedPlugin,
    inbox: &InboxRow,
    m: &MessageEvent,
    attempts: i64,
) -> Result<Vec<NewInboundAttachment>, Applied> {
    let mut out = Vec::with_capacity(m.attachments.len());
    for a in &m.attachments {
        let meta: serde_json::Map<String, Value> =
            a.metadata.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let mut stored = NewInboundAttachment {
            file_type: file_type_of(a.kind),
            external_url: a.url.clone(),
            file_name: a.file_name.clone(),
            content_type: a.mime_type.clone(),
            data: None,
            meta: Value::Object(meta).to_string(),
        };
        if let Some(media_ref) = &a.media_ref {
            match fetch_media(state, plugin, inbox, media_ref).await {
                Ok(media) => {
                    stored.content_type = Some(media.mime_type);
                    stored.file_name = media.file_name.or(stored.file_name);
                    stored.data = Some(media.data);
                }
                Err((reason, retryable)) if retryable && attempts < MAX_ATTEMPTS => {
                    return Err(Applied::Later(
                        format!("cannot fetch media: {reason}"),
                        backoff_ms(1000, attempts, 60_000),
                    ));
                }
                Err((reason, _)) => {
                    tracing::warn!(inbox = inbox.id, %reason, "storing a message without its media");
                    let mut meta: serde_json::Map<String, Value> =
                        serde_json::from_str(&stored.meta).unwrap_or_default();
                    meta.insert("fetch_error".into(), json!(reason));
                    stored.meta = Value::Object(meta).to_string();
                }
            }
        }
        out.push(stored);
    }
    Ok(out)
}

async fn fetch_media(
    state: &AppState,
    plugin: &LoadedPlugin,
    inbox: &InboxRow,
    media_ref: &str,
) -> Result<crate::contract::Media, (String, bool)> {
    let credentials = credentials::for_call(&state.store, &state.plugins, plugin, inbox)
        .await
        .map_err(|e| (e.to_string(), e.retryable()))?;
    let context = ChannelContext {
        settings: state.plugins.settings_for(&plugin.manifest),
        external_id: inbox.external_id.clone().unwrap_or_default(),
        credentials,
    };
    let media = plugin
        .instance
        .fetch_media(&context, media_ref)
        .await
        .map_err(|e| match e {
            PluginError::Channel { error, .. } => (error.message, error.retryable),
            other => {
                let retryable = health::retryable(&other);
                (other.to_string(), retryable)
            }
        })?;
    if media.data.len() > MAX_MEDIA_BYTES {
        return Err((format!("the media is over {MAX_MEDIA_BYTES} bytes"), false));
    }
    Ok(media)
}

async fn apply_status(state: &AppState, event: &InboundEventRow, s: StatusEvent) -> Result<Applied, String> {
    let Some(inbox) = inbox_for(state, &event.channel, &s.channel_external_id).await? else {
        return Ok(Applied::Ignored(format!(
            "no inbox is connected for {} account {}",
            event.channel, s.channel_external_id
        )));
    };
    let store = &state.store;
    let changed = match s.status {
        DeliveryStatus::Sent => return Ok(Applied::Ignored("a `sent` status changes nothing".into())),
        DeliveryStatus::Failed => {
            let Some(source_id) = &s.message_id else {
                return Ok(Applied::Ignored("a failure without a message id".into()));
            };
            let reason = s
                .error
                .clone()
                .unwrap_or_else(|| "the provider could not deliver it".into());
            store
                .fail_outgoing_by_source(inbox.id, source_id, &reason)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .collect()
        }
        DeliveryStatus::Delivered | DeliveryStatus::Read => {
            let code = if s.status == DeliveryStatus::Read {
                MessageStatus::Read
            } else {
                MessageStatus::Delivered
            };
            store
                .advance_outgoing_status(
                    inbox.id,
                    s.conversation_id.as_deref(),
                    s.message_id.as_deref(),
                    s.up_to_ms.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
                    code,
                )
                .await
                .map_err(|e| e.to_string())?
        }
    };
    for (message_id, conversation_id) in changed.iter().take(100) {
        crate::app::announce::message_by_id(state, inbox.account_id, *conversation_id, *message_id).await;
    }
    Ok(Applied::Done)
}
