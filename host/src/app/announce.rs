//! Live-update announcements for changes made outside a request (the
//! pipeline's workers), rendered by the same views as the REST answers so a
//! WebSocket client sees the shapes it reads from the API.

use super::AppState;
use super::views;
use crate::live::Staged;
use crate::store::{ContactRow, ConversationRow, MessageRow, StoreError, WriteTx};

/// Announces a conversation (`conversation.created`, `conversation.updated`, …).
pub async fn conversation(state: &AppState, conversation: &ConversationRow, name: &str) {
    if let Err(e) = super::conversations::announce(state, conversation, name).await {
        tracing::warn!(conversation = conversation.id, "cannot announce {name}: {e}");
    }
}

/// Announces a message as `name` (e.g. `message.created`).
pub async fn message(state: &AppState, conversation: &ConversationRow, message: &MessageRow, name: &str) {
    message_at(state, conversation.display_id, message, None, name).await;
}

/// Announces a message as `name`; `display_id` is its conversation's, and
/// `contact` its sender when a contact wrote it.
pub async fn message_at(
    state: &AppState,
    display_id: i64,
    message: &MessageRow,
    contact: Option<&ContactRow>,
    name: &str,
) {
    let json = views::message_from(message, display_id, contact.map(views::MessageSender::contact));
    publish(state, message.account_id, Some(message.inbox_id), name, json).await;
}

/// Announcements made inside a write transaction, completed by
/// [`committed`] once it commits (and dropped with it if it does not).
#[derive(Default)]
pub struct InTransaction {
    live: Staged,
    webhooks: Vec<(i64, String, serde_json::Value)>,
}

/// Announces a message as `name` as part of the transaction that wrote it:
/// live clients through the transaction itself ([`flush_in`], see
/// [`crate::live::LiveEvents::publish_in`]), account webhooks after the
/// commit. `display_id` is its conversation's, and `contact` its sender
/// when a contact wrote it.
pub fn message_in(
    pending: &mut InTransaction,
    state: &AppState,
    display_id: i64,
    message: &MessageRow,
    contact: Option<&ContactRow>,
    name: &str,
) {
    let json = views::message_from(message, display_id, contact.map(views::MessageSender::contact));
    pending
        .webhooks
        .push((message.account_id, name.to_owned(), json.clone()));
    state.live.publish_in(
        &mut pending.live,
        message.account_id,
        Some(message.inbox_id),
        name,
        json,
    );
}

/// Writes the transaction's live events into it, just before its commit.
pub async fn flush_in(
    state: &AppState,
    tx: &mut WriteTx,
    pending: &mut InTransaction,
) -> Result<(), StoreError> {
    state.live.flush_in(tx, &mut pending.live).await
}

/// Completes the announcements of a transaction that committed.
pub async fn committed(state: &AppState, pending: InTransaction) {
    state.live.release(pending.live);
    for (account_id, name, data) in pending.webhooks {
        super::webhooks::emit(state, account_id, &name, &data).await;
    }
}

/// Announces a message's current state as `message.updated`.
pub async fn message_by_id(state: &AppState, account_id: i64, conversation_id: i64, message_id: i64) {
    let conversation = match state.store.conversation_by_id(conversation_id).await {
        Ok(c) if c.account_id == account_id => c,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(
                conversation = conversation_id,
                "cannot announce message.updated: {e}"
            );
            return;
        }
    };
    super::messages::announce_update(state, &conversation, message_id).await;
}

/// The one place changes are announced from: tells the account's live
/// clients (`/live`, `/cable`) and queues the event for the account's
/// webhooks subscribed to it (`app::webhooks::emit`).
pub async fn publish(
    state: &AppState,
    account_id: i64,
    inbox_id: Option<i64>,
    name: &str,
    data: serde_json::Value,
) {
    // Live clients first: rendering and queueing a webhook payload must not
    // delay them. The data is copied only when a webhook wants it.
    match super::webhooks::subscribers(state, account_id, name).await {
        Some(subscribed) => {
            state.live.publish(account_id, inbox_id, name, data.clone()).await;
            super::webhooks::queue(state, subscribed, &data).await;
        }
        None => state.live.publish(account_id, inbox_id, name, data).await,
    }
}
