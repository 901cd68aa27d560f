//! Announcements of changes, the one place they are made from: account
//! webhooks queued inside the change's transaction ([`InTransaction`]), and
//! live updates once it committed ([`publish`] and the helpers for changes
//! made outside a request), rendered by the same views as the REST answers so
//! a WebSocket client sees the shapes it reads from the API.

use super::webhooks::{self, Subject};
use super::{AppState, views};
use crate::chatwoot::{ChatwootCode, MessageType};
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

/// The announcements of one change, made inside its write transaction:
/// account-webhook deliveries written in it ([`InTransaction::webhook`]),
/// and live events written in it on PostgreSQL ([`message_in`],
/// [`flush_in`]); [`committed`] completes both once it commits, and they are
/// dropped with it if it does not.
#[derive(Default)]
pub struct InTransaction {
    live: Staged,
    webhooks: Vec<webhooks::Staged>,
}

impl InTransaction {
    /// Queues the webhook event `event` (one of `app::webhooks::EVENTS`)
    /// about `subject` for the account's webhooks subscribed to it, in the
    /// change's transaction.
    pub async fn webhook(
        &mut self,
        state: &AppState,
        tx: &mut WriteTx,
        account_id: i64,
        event: &'static str,
        subject: Subject,
    ) -> Result<(), StoreError> {
        if let Some(staged) = webhooks::stage(state, tx, account_id, event, subject).await? {
            self.webhooks.push(staged);
        }
        Ok(())
    }

    /// Queues `message_updated` for a message `(account_id,
    /// conversation_id, message_id)` changed in `tx`; its payload shows the
    /// message as the change left it.
    pub async fn message_updated(
        &mut self,
        state: &AppState,
        tx: &mut WriteTx,
        (account_id, conversation_id, message_id): (i64, i64, i64),
        message_type: MessageType,
    ) -> Result<(), StoreError> {
        let subject = Subject::MessageById {
            conversation_id,
            message_id,
            message_type: message_type.code(),
        };
        self.webhook(state, tx, account_id, "message_updated", subject)
            .await
    }
}

/// Announces a message as `message.created` as part of the transaction that
/// wrote it: its account webhooks and, through the transaction itself,
/// live clients ([`flush_in`], see [`crate::live::LiveEvents::publish_in`]).
/// `display_id` is its conversation's, and `contact` its sender when a
/// contact wrote it.
pub async fn message_in(
    pending: &mut InTransaction,
    state: &AppState,
    tx: &mut WriteTx,
    display_id: i64,
    message: &MessageRow,
    contact: Option<&ContactRow>,
) -> Result<(), StoreError> {
    let json = views::message_from(message, display_id, contact.map(views::MessageSender::contact));
    pending
        .webhook(
            state,
            tx,
            message.account_id,
            "message_created",
            Subject::Message(json.clone()),
        )
        .await?;
    state.live.publish_in(
        &mut pending.live,
        message.account_id,
        Some(message.inbox_id),
        "message.created",
        json,
    );
    Ok(())
}

/// Writes the transaction's live events into it, just before its commit.
pub async fn flush_in(
    state: &AppState,
    tx: &mut WriteTx,
    pending: &mut InTransaction,
) -> Result<(), StoreError> {
    state.live.flush_in(tx, &mut pending.live).await
}

/// Completes the announcements of a transaction that committed: its live
/// events go out, and its webhook deliveries get their payloads.
pub async fn committed(state: &AppState, pending: InTransaction) {
    state.live.release(pending.live);
    for staged in pending.webhooks {
        webhooks::rendered(state, staged).await;
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

/// Tells the account's live clients (`/live`, `/cable`) about a change
/// that committed. Account webhooks are not told here: they are queued in
/// the change's own transaction ([`InTransaction::webhook`]), so a process
/// that dies after the commit loses none.
pub async fn publish(
    state: &AppState,
    account_id: i64,
    inbox_id: Option<i64>,
    name: &str,
    data: serde_json::Value,
) {
    state.live.publish(account_id, inbox_id, name, data).await;
}
