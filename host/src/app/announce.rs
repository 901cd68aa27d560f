//! Live-update announcements for changes made outside a request (the
//! pipeline's workers), rendered by the same views as the REST answers so a
//! WebSocket client sees the shapes it reads from the API.

use super::AppState;
use super::views;
use crate::store::{ConversationRow, MessageRow};

/// Announces a conversation (`conversation.created`, `conversation.updated`, …).
pub async fn conversation(state: &AppState, conversation: &ConversationRow, name: &str) {
    if let Err(e) = super::conversations::announce(state, conversation, name).await {
        tracing::warn!(conversation = conversation.id, "cannot announce {name}: {e}");
    }
}

/// Announces a message as `name` (e.g. `message.created`).
pub async fn message(state: &AppState, conversation: &ConversationRow, message: &MessageRow, name: &str) {
    let json = views::message(message, conversation.display_id);
    state
        .live
        .publish(conversation.account_id, Some(conversation.inbox_id), name, json)
        .await;
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
