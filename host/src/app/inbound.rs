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

use std::collections::HashMap;

use serde_json::{Value, json};

use super::webhooks::Subject;
use super::{AppState, announce, backoff_ms, views};
use crate::blobs;
use crate::channel_accounts::credentials;
use crate::contract::{
    ChannelContext, ChannelEvent, DeliveryStatus, IncomingRequest, MessageEvent, StatusEvent,
};
use crate::conversations::{ConversationStatus, MessageStatus, MessageType, SenderType, file_type_of};
use crate::plugin_host::{LoadedPlugin, health};
use crate::runtime::PluginError;
use crate::store::pipeline::event_status;
use crate::store::{
    Activity, AttachmentInsert, ContactRow, ConversationInsert, ConversationRow, InboundEventRow, InboxRow,
    MessageInsert, MessageRow, NewContact, StoreError, WriteTx, now_ms,
};

/// Events claimed at once by a worker; their messages are written in one
/// transaction.
pub const BATCH: i64 = 16;
/// Attempts before an event that keeps failing is marked failed.
const MAX_ATTEMPTS: i64 = 8;
/// How long an echo waits for a send in progress in its conversation.
const ECHO_WAIT_MS: i64 = 30_000;
/// Largest media file stored from a provider.
const MAX_MEDIA_BYTES: usize = 40 << 20;

/// What applying one webhook came to, when it did not end in messages to
/// record.
enum Applied {
    /// Nothing to do, for this reason.
    Ignored(String),
    /// Try the whole webhook again after this delay (applying is idempotent).
    Later(String, i64),
    /// Retrying will not help; kept in the log as failed, for replay.
    Failed(String),
}

/// What one normalized event of a webhook comes to once prepared.
enum Part {
    /// A message to record in the batch's transaction.
    Record(Box<Recording>),
    /// Nothing left to write (a status applied, a message already stored).
    Done,
    /// Nothing to do, for this reason.
    Ignored(String),
    /// The whole webhook ends here: later, or failed.
    Stop(Applied),
}

/// A provider message with the inbox it goes to.
struct Recording {
    inbox: InboxRow,
    message: InboundMessage,
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

/// Parses and applies a claimed batch of logged webhooks. Each is prepared
/// in id order (parsed, its media fetched) while `stopping` answers false;
/// then the messages of all of them are written in one transaction that
/// also marks them applied and carries their live announcements, so a batch
/// costs one commit instead of two per event, and an event is marked applied
/// exactly when its messages are stored. An event that opens a conversation
/// is written in a short transaction of its own after the batch (opening
/// one locks the account's display-id counter until commit). Answers the ids of the events not
/// started, for the caller to hand back to the queue.
///
/// Order holds because a claim never holds two pending events of one
/// conversation (`Store::claim_inbound_events`), and a batch is written in
/// id order.
#[tracing::instrument(level = "debug", name = "inbound.apply_batch", skip_all, fields(events = events.len()))]
pub async fn apply_batch(
    state: &AppState,
    events: Vec<InboundEventRow>,
    stopping: impl Fn() -> bool,
) -> Vec<i64> {
    let mut inboxes = InboxLookup::default();
    let mut ready: Vec<(InboundEventRow, Vec<Recording>)> = Vec::with_capacity(events.len());
    let mut unstarted = Vec::new();
    for event in events {
        if stopping() {
            unstarted.push(event.id);
            continue;
        }
        match prepare(state, &mut inboxes, &event).await {
            Ok(recordings) => ready.push((event, recordings)),
            Err(outcome) => record_outcome(state, &event, outcome).await,
        }
    }
    let batch: Vec<_> = ready.iter().collect();
    match write_events(state, &batch, Opening::Defer).await {
        // Events that open a conversation take the account's display-id
        // lock until their transaction commits: they are written together in
        // a short transaction of their own after the batch, so batches on
        // several workers do not queue on that lock, and a burst of new
        // conversations costs one commit per batch, not one each.
        Ok(deferred) if deferred.len() > 1 => {
            let openings: Vec<_> = deferred.iter().map(|&index| &ready[index]).collect();
            if let Err(e) = write_events(state, &openings, Opening::Allow).await {
                tracing::debug!(
                    events = openings.len(),
                    "opening the batch's conversations failed ({e}); writing them one by one"
                );
                for item in openings {
                    write_alone(state, item).await;
                }
            }
        }
        Ok(deferred) => {
            for index in deferred {
                write_alone(state, &ready[index]).await;
            }
        }
        Err(e) if ready.len() == 1 => {
            let (event, _) = &ready[0];
            record_outcome(state, event, later(event, e.to_string())).await;
        }
        Err(e) => {
            // One event's write may be what failed (or, on PostgreSQL, two
            // batches deadlocked): each alone, so the others still go through.
            tracing::debug!(
                events = ready.len(),
                "applying the batch failed ({e}); applying its events one by one"
            );
            for item in &ready {
                write_alone(state, item).await;
            }
        }
    }
    unstarted
}

/// Try the event again after a backoff that grows with its attempts.
fn later(event: &InboundEventRow, reason: String) -> Applied {
    Applied::Later(reason, backoff_ms(1000, event.attempts, 60_000))
}

/// Records how an event ended when it wrote no messages.
async fn record_outcome(state: &AppState, event: &InboundEventRow, outcome: Applied) {
    let store = &state.store;
    let recorded = match outcome {
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
}

/// Inboxes looked up by (channel, provider account) within one batch.
#[derive(Default)]
struct InboxLookup(HashMap<(String, String), Option<InboxRow>>);

impl InboxLookup {
    async fn get(
        &mut self,
        state: &AppState,
        channel: &str,
        external_id: &str,
    ) -> Result<Option<InboxRow>, String> {
        let key = (channel.to_owned(), external_id.to_owned());
        if let Some(found) = self.0.get(&key) {
            return Ok(found.clone());
        }
        let found = state
            .store
            .inbox_for_external(channel, external_id)
            .await
            .map_err(|e| e.to_string())?;
        self.0.insert(key, found.clone());
        Ok(found)
    }
}

/// Parses one webhook and prepares what it asks for: the messages to record,
/// or the outcome when there are none (ignored, later, failed). Status
/// updates are applied here (each is one idempotent statement). Its span
/// carries the event id that `webhook.ingest`'s span carried when it was
/// stored.
#[tracing::instrument(level = "debug", name = "webhook.apply", skip_all, fields(event_id = event.id, channel = %event.channel))]
async fn prepare(
    state: &AppState,
    inboxes: &mut InboxLookup,
    event: &InboundEventRow,
) -> Result<Vec<Recording>, Applied> {
    let Some(plugin) = state.plugins.get_current(&event.channel).await else {
        // Kept, not dropped: it applies once the channel is enabled again.
        return Err(Applied::Later(
            format!("the {} channel is not enabled", event.channel),
            30_000,
        ));
    };
    let settings = state.plugins.settings_for(&plugin.manifest);
    let parsed = plugin.instance.parse_event(&settings, &request_of(event)).await;
    state.plugins.record_outcome(&plugin, &parsed).await;
    let events = match parsed {
        Ok(events) => events,
        Err(PluginError::Channel { .. }) if state.plugins.refresh_if_stale().await => {
            // An admin changed the plugin meanwhile (a grant, an upgrade):
            // try again with the change rather than refuse under the old one.
            return Err(Applied::Later("the plugin changed; parsing again".into(), 0));
        }
        Err(PluginError::Channel { error, .. }) if !error.retryable => {
            // Kept as failed: a replay after a plugin upgrade can still apply it.
            return Err(Applied::Failed(format!(
                "the plugin cannot parse it: {}",
                error.message
            )));
        }
        // A trap, memory breach, answer over budget or timeout fails the same
        // way again: kept as failed for a replay after an upgrade, not retried.
        Err(e) if !health::retryable(&e) => {
            return Err(Applied::Failed(format!("the plugin failed parsing it: {e}")));
        }
        Err(e) => {
            return Err(later(event, e.to_string()));
        }
    };
    let mut recordings = Vec::new();
    let mut ignored = Vec::new();
    let mut done_any = false;
    for parsed in events {
        let part = match parsed {
            ChannelEvent::Ignored(reason) => Ok(Part::Ignored(reason)),
            ChannelEvent::Message(m) => prepare_message(state, inboxes, &plugin, event, m, false).await,
            ChannelEvent::Echo(m) => prepare_message(state, inboxes, &plugin, event, m, true).await,
            ChannelEvent::Status(status) => apply_status(state, inboxes, event, status).await,
        };
        match part.unwrap_or_else(|e| Part::Stop(later(event, e))) {
            Part::Record(recording) => recordings.push(*recording),
            Part::Done => done_any = true,
            Part::Ignored(reason) => ignored.push(reason),
            Part::Stop(outcome) => return Err(outcome),
        }
    }
    if recordings.is_empty() && !done_any && !ignored.is_empty() {
        return Err(Applied::Ignored(ignored.join("; ")));
    }
    Ok(recordings)
}

async fn prepare_message(
    state: &AppState,
    inboxes: &mut InboxLookup,
    plugin: &LoadedPlugin,
    event: &InboundEventRow,
    m: MessageEvent,
    echo: bool,
) -> Result<Part, String> {
    let Some(inbox) = inboxes.get(state, &event.channel, &m.channel_external_id).await? else {
        return Ok(Part::Ignored(format!(
            "no inbox is connected for {} account {}",
            event.channel, m.channel_external_id
        )));
    };
    let store = &state.store;
    // The write checks for a stored copy again under its lock; this early
    // look only spares fetching media for a message already stored.
    if m.attachments.iter().any(|a| a.media_ref.is_some())
        && store
            .has_message_source(inbox.id, &m.message_id)
            .await
            .map_err(|e| e.to_string())?
    {
        return Ok(Part::Done);
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
            return Ok(Part::Stop(Applied::Later(
                "an echo waits for the send in progress in its conversation".into(),
                500,
            )));
        }
    }
    let attachments = match fetch_attachments(state, plugin, &inbox, &m, event.attempts).await {
        Ok(attachments) => attachments,
        Err(later) => return Ok(Part::Stop(later)),
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
    Ok(Part::Record(Box::new(Recording { inbox, message })))
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
    /// Where the fetched bytes were stored in the blob store, and their size.
    blob: Option<(String, i64)>,
    /// Provider metadata (JSON object).
    meta: String,
}

/// What recording a message wrote.
struct Recorded {
    /// The stored message.
    message: MessageRow,
    /// Its conversation's display id.
    display_id: i64,
    /// The conversation, when it was opened for this message.
    opened: Option<ConversationRow>,
    /// The contact who wrote it (none for an echo of the business's own).
    sender: Option<ContactRow>,
}

/// Whether a batch's transaction may open conversations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Opening {
    /// Open them here (an event written alone).
    Allow,
    /// Leave an event that would open one out of this transaction, for a
    /// transaction of its own.
    Defer,
}

/// Writes one event alone, opening its conversation if it needs one, and
/// records a failure as a retry for later.
async fn write_alone(state: &AppState, item: &(InboundEventRow, Vec<Recording>)) {
    if let Err(e) = write_events(state, &[item], Opening::Allow).await {
        let (event, _) = item;
        record_outcome(state, event, later(event, e.to_string())).await;
    }
}

/// Writes prepared events: every message, the events' applied marks, the
/// account webhooks' deliveries and the live announcements, in one
/// transaction. A conversation opened here is announced to live clients
/// after the commit (its view is read from the database), before the
/// messages that went into it. With [`Opening::Defer`], an event that
/// would open a conversation (or carries several messages) is left out;
/// answers the indexes of those left out.
async fn write_events(
    state: &AppState,
    ready: &[&(InboundEventRow, Vec<Recording>)],
    opening: Opening,
) -> Result<Vec<usize>, StoreError> {
    if ready.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = state.store.begin_write().await?;
    let mut announcements = announce::InTransaction::default();
    let mut opened: Vec<ConversationRow> = Vec::new();
    let mut after_commit: Vec<(i64, MessageRow, Option<ContactRow>)> = Vec::new();
    let mut deferred = Vec::new();
    let mut applied = Vec::with_capacity(ready.len());
    for (index, &(event, recordings)) in ready.iter().enumerate() {
        // An event of several messages could be half written before one of
        // them needs a conversation opened: it goes alone from the start.
        if opening == Opening::Defer && recordings.len() > 1 {
            deferred.push(index);
            continue;
        }
        let mut left_out = false;
        for Recording { inbox, message } in recordings {
            let recorded = match record_message(&mut tx, inbox, message, opening).await? {
                Written::Duplicate => continue,
                Written::WouldOpen => {
                    left_out = true;
                    break;
                }
                Written::Recorded(recorded) => recorded,
            };
            if let Some(conversation) = recorded.opened {
                announcements
                    .webhook(
                        state,
                        &mut tx,
                        conversation.account_id,
                        "conversation_created",
                        Subject::conversation(&conversation, Vec::new()),
                    )
                    .await?;
                opened.push(conversation);
            }
            if opened.iter().any(|c| c.id == recorded.message.conversation_id) {
                let json = views::message_from(
                    &recorded.message,
                    recorded.display_id,
                    recorded.sender.as_ref().map(views::MessageSender::contact),
                );
                announcements
                    .webhook(
                        state,
                        &mut tx,
                        recorded.message.account_id,
                        "message_created",
                        Subject::Message(json),
                    )
                    .await?;
                after_commit.push((recorded.display_id, recorded.message, recorded.sender));
            } else {
                announce::message_in(
                    &mut announcements,
                    state,
                    &mut tx,
                    recorded.display_id,
                    &recorded.message,
                    recorded.sender.as_ref(),
                )
                .await?;
            }
        }
        if left_out {
            deferred.push(index);
        } else {
            applied.push(event.id);
        }
    }
    announce::flush_in(state, &mut tx, &mut announcements).await?;
    tx.finish_applied_events(&applied).await?;
    tx.commit().await?;
    announce::committed(state, announcements).await;
    for conversation in &opened {
        announce::conversation(state, conversation, "conversation.created").await;
    }
    for (display_id, message, sender) in &after_commit {
        announce::message_at(state, *display_id, message, sender.as_ref(), "message.created").await;
    }
    Ok(deferred)
}

/// What [`record_message`] did.
enum Written {
    /// The inbox already had the message.
    Duplicate,
    /// It needs a new conversation, which [`Opening::Defer`] leaves to a
    /// transaction of its own; nothing was written.
    WouldOpen,
    /// Stored.
    Recorded(Box<Recorded>),
}

/// Records a provider message in `tx`, beginning with the lock of its
/// contact identity (inbox, provider conversation), so concurrent workers
/// (on any node) apply one identity's messages one at a time — a new contact
/// gets one contact identity and one conversation, never two — and other
/// conversations of the inbox in parallel. Answers [`Written::Duplicate`]
/// when the inbox already has the message (the unique index on `(inbox_id, source_id)`
/// backs that check).
async fn record_message(
    tx: &mut WriteTx,
    inbox: &InboxRow,
    m: &InboundMessage,
    opening: Opening,
) -> Result<Written, StoreError> {
    let now = tx.now();
    tx.lock_contact_identity(inbox.id, &m.conversation_source).await?;
    let known = tx
        .source_state(inbox.id, &m.conversation_source, &m.source_id)
        .await?;
    if known.has_message {
        return Ok(Written::Duplicate);
    }
    if known.conversation.is_none() && opening == Opening::Defer {
        return Ok(Written::WouldOpen);
    }
    let (contact_inbox_id, contact_id) = match known.identity {
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
    let (conversation_id, display_id, opened) = match known.conversation {
        Some((id, display_id)) => (id, display_id, None),
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
            (opened.id, opened.display_id, Some(opened))
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
            conversation_id,
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
                blob_key: a.blob.as_ref().map(|(key, _)| key.as_str()),
                file_size: a.blob.as_ref().map(|(_, size)| *size),
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
    tx.record_activity(conversation_id, activity).await?;
    let sender = if m.outgoing {
        None
    } else {
        Some(tx.touch_contact(contact_id).await?)
    };
    Ok(Written::Recorded(Box::new(Recorded {
        message,
        display_id,
        opened,
        sender,
    })))
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
            blob: None,
            meta: Value::Object(meta).to_string(),
        };
        if let Some(media_ref) = &a.media_ref {
            match fetch_media(state, plugin, inbox, media_ref).await {
                Ok(media) => {
                    // Stored before the message's transaction, so the row
                    // commits with its bytes already in place; a blob store
                    // that does not answer is retried like a failed fetch.
                    let key = match state.blobs.save(blobs::ATTACHMENTS, &media.data).await {
                        Ok(key) => key,
                        Err(e) => {
                            return Err(Applied::Later(
                                format!("cannot store media: {e}"),
                                backoff_ms(1000, attempts, 60_000),
                            ));
                        }
                    };
                    stored.content_type = Some(media.mime_type);
                    stored.file_name = media.file_name.or(stored.file_name);
                    stored.blob = Some((key, media.data.len() as i64));
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

/// Messages whose delivery state one status event announces at most.
const ANNOUNCED_STATUS_CHANGES: usize = 100;

async fn apply_status(
    state: &AppState,
    inboxes: &mut InboxLookup,
    event: &InboundEventRow,
    s: StatusEvent,
) -> Result<Part, String> {
    let Some(inbox) = inboxes.get(state, &event.channel, &s.channel_external_id).await? else {
        return Ok(Part::Ignored(format!(
            "no inbox is connected for {} account {}",
            event.channel, s.channel_external_id
        )));
    };
    // The statuses and their account webhooks' `message_updated` commit
    // together.
    let mut tx = state.store.begin_write().await.map_err(|e| e.to_string())?;
    let changed: Vec<(i64, i64)> = match s.status {
        DeliveryStatus::Sent => return Ok(Part::Ignored("a `sent` status changes nothing".into())),
        DeliveryStatus::Failed => {
            let Some(source_id) = &s.message_id else {
                return Ok(Part::Ignored("a failure without a message id".into()));
            };
            let reason = s
                .error
                .clone()
                .unwrap_or_else(|| "the provider could not deliver it".into());
            tx.fail_outgoing_by_source(inbox.id, source_id, &reason)
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
            tx.advance_outgoing_status(
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
    let mut pending = announce::InTransaction::default();
    for (message_id, conversation_id) in &changed {
        let message = (inbox.account_id, *conversation_id, *message_id);
        pending
            .message_updated(state, &mut tx, message, MessageType::Outgoing)
            .await
            .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    announce::committed(state, pending).await;
    // A read receipt "up to" a time may advance thousands of older messages
    // at once, returned in no order. An open page shows the newest, so the
    // newest are announced, at most ANNOUNCED_STATUS_CHANGES of them; a page
    // reads the others' state when it loads them.
    let mut changed: Vec<(i64, i64)> = changed;
    changed.sort_unstable_by_key(|&(message_id, _)| std::cmp::Reverse(message_id));
    for (message_id, conversation_id) in changed.iter().take(ANNOUNCED_STATUS_CHANGES) {
        crate::app::announce::message_by_id(state, inbox.account_id, *conversation_id, *message_id).await;
    }
    Ok(Part::Done)
}
