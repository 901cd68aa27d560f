//! `/api/v1/accounts/{account_id}/conversations/{display_id}/messages`: list
//! (newest 20, `before`/`after` cursors), create, soft delete and retry.
//!
//! An outgoing message is stored first, then handed to the channel plugin's
//! `send-message` on a background task that records the outcome (status,
//! provider id, readable `external_error`). That hand-off is not yet durable:
//! the delivery queue with retries arrives with the durable-pipeline issue.

use axum::extract::{Path, Query, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Member;
use super::conversations::visible_conversation;
use super::extract::AppJson;
use super::views;
use super::{ApiError, AppState};
use crate::channel::{ChannelContext, DeliveryStatus, OutboundMessage};
use crate::conversations::{message_status, message_type};
use crate::runtime::PluginError;
use crate::store::{ConversationRow, MessageRow, NewMessage};

/// Messages per page, as in Chatwoot; `after` pages are larger.
const PER_PAGE: i64 = 20;
const AFTER_PAGE: i64 = 100;
/// Longest message content accepted, as in Chatwoot.
const MAX_CONTENT_CHARS: usize = 150_000;

pub fn router() -> Router<AppState> {
    let base = "/api/v1/accounts/{account_id}/conversations/{display_id}/messages";
    Router::new()
        .route(base, get(list).post(create))
        .route(&format!("{base}/{{id}}"), delete(remove))
        .route(&format!("{base}/{{id}}/retry"), post(retry))
}

#[derive(Deserialize)]
struct Cursor {
    before: Option<i64>,
    after: Option<i64>,
}

async fn list(
    member: Member,
    State(state): State<AppState>,
    Path((_, display_id)): Path<(i64, i64)>,
    Query(cursor): Query<Cursor>,
) -> Result<Json<Value>, ApiError> {
    let conversation = visible_conversation(&state, &member, display_id).await?;
    let limit = if cursor.after.is_some() {
        AFTER_PAGE
    } else {
        PER_PAGE
    };
    let messages = state
        .store
        .list_messages(conversation.id, cursor.before, cursor.after, limit)
        .await?;
    let contact = state
        .store
        .get_contact(member.account_id, conversation.contact_id)
        .await?;
    let assignee = match conversation.assignee_id {
        Some(id) => Some(views::agent(
            &state.store.get_agent(member.account_id, id).await?,
            member.account_id,
        )),
        None => None,
    };
    let labels: Vec<String> = state
        .store
        .labels_of(&[conversation.id])
        .await?
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    Ok(Json(json!({
        "meta": {
            "labels": labels,
            "additional_attributes": {},
            "contact": views::contact(&contact),
            "assignee": assignee,
            "agent_last_seen_at": conversation.agent_last_seen_at.map(views::secs).unwrap_or(0),
            "assignee_last_seen_at": 0,
        },
        "payload": messages.iter().map(|m| views::message(m, display_id)).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct NewMessageBody {
    content: Option<String>,
    message_type: Option<String>,
    #[serde(default)]
    private: bool,
    content_type: Option<String>,
    content_attributes: Option<serde_json::Map<String, Value>>,
    echo_id: Option<String>,
}

async fn create(
    member: Member,
    State(state): State<AppState>,
    Path((_, display_id)): Path<(i64, i64)>,
    AppJson(body): AppJson<NewMessageBody>,
) -> Result<Json<Value>, ApiError> {
    let conversation = visible_conversation(&state, &member, display_id).await?;
    let kind = match body.message_type.as_deref() {
        None => message_type::OUTGOING,
        Some(name) => message_type::parse(name)
            .filter(|t| *t == message_type::OUTGOING)
            .ok_or_else(|| {
                ApiError::Unprocessable(format!("message_type {name:?} cannot be created here"))
            })?,
    };
    let content = body.content.unwrap_or_default();
    if content.trim().is_empty() {
        return Err(ApiError::Unprocessable("Content can't be blank".into()));
    }
    if content.chars().count() > MAX_CONTENT_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "Content is too long (maximum is {MAX_CONTENT_CHARS} characters)"
        )));
    }
    let content_type = body.content_type.unwrap_or_else(|| "text".into());
    if content_type != "text" {
        return Err(ApiError::Unprocessable(format!(
            "content_type {content_type:?} is not supported"
        )));
    }
    if !body.private {
        check_sendable(&state, &conversation, &content).await?;
    }
    let stored = state
        .store
        .insert_message(
            &conversation,
            &NewMessage {
                message_type: kind,
                content_type,
                content: Some(content),
                content_attributes: Value::Object(body.content_attributes.unwrap_or_default()).to_string(),
                private: body.private,
                status: message_status::SENT,
                source_id: None,
                sender_type: Some("User".into()),
                sender_id: Some(member.user.user_id),
                echo_id: body.echo_id,
            },
        )
        .await?;
    let json = views::message(&stored, display_id);
    state
        .live
        .publish(
            member.account_id,
            Some(conversation.inbox_id),
            "message.created",
            json.clone(),
        )
        .await;
    if !stored.private {
        tokio::spawn(deliver(state.clone(), conversation, stored.clone()));
    }
    Ok(Json(json))
}

/// The host enforces the channel's declared rules before any send: the
/// channel must be enabled and connected, the text within its limit, and the
/// conversation within its reply window.
async fn check_sendable(
    state: &AppState,
    conversation: &ConversationRow,
    content: &str,
) -> Result<(), ApiError> {
    let inbox = state
        .store
        .get_inbox(conversation.account_id, conversation.inbox_id)
        .await?;
    let plugin = state
        .plugins
        .get(&inbox.channel)
        .ok_or_else(|| ApiError::Unprocessable(format!("the {} channel is not enabled", inbox.channel)))?;
    if inbox.reauthorization_required {
        return Err(ApiError::Unprocessable(format!(
            "this {} inbox must be reconnected before it can send",
            plugin.manifest.name
        )));
    }
    crate::conversations::check_text(&plugin.manifest.limits, content, &plugin.manifest.name)
        .map_err(ApiError::Unprocessable)?;
    let now = crate::store::now_ms();
    if !crate::conversations::can_reply(
        plugin.manifest.reply_window,
        conversation.contact_last_inbound_at,
        now,
    ) {
        return Err(ApiError::Unprocessable(format!(
            "the {} reply window for this conversation has closed; wait for the contact to write again",
            plugin.manifest.name
        )));
    }
    Ok(())
}

/// Sends a stored outgoing message through its channel plugin and records the outcome.
pub async fn deliver(state: AppState, conversation: ConversationRow, message: MessageRow) {
    let outcome = send(&state, &conversation, &message).await;
    let (status, source_id, error) = match outcome {
        Ok((status, id)) => (status, Some(id), None),
        Err(reason) => (message_status::FAILED, None, Some(reason)),
    };
    if let Err(e) = state
        .store
        .set_message_status(message.id, status, source_id.as_deref(), error.as_deref())
        .await
    {
        tracing::error!(message = message.id, "cannot record the delivery outcome: {e}");
        return;
    }
    publish_update(&state, &conversation, message.id).await;
}

/// Pushes the message's current JSON as `message.updated`.
async fn publish_update(state: &AppState, conversation: &ConversationRow, id: i64) {
    match state.store.get_message(conversation.id, id).await {
        Ok(current) => {
            let json = views::message(&current, conversation.display_id);
            state
                .live
                .publish(
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

async fn send(
    state: &AppState,
    conversation: &ConversationRow,
    message: &MessageRow,
) -> Result<(i64, String), String> {
    let inbox = state
        .store
        .get_inbox(conversation.account_id, conversation.inbox_id)
        .await
        .map_err(|e| e.to_string())?;
    let plugin = state
        .plugins
        .get(&inbox.channel)
        .ok_or_else(|| format!("the {} channel is not enabled", inbox.channel))?;
    let recipient = conversation.source_id.clone().unwrap_or_default();
    let context = ChannelContext {
        settings: state.plugins.settings_for(&plugin.manifest),
        external_id: inbox.external_id.clone().unwrap_or_default(),
        credentials: Default::default(),
    };
    let outbound = OutboundMessage {
        conversation_id: recipient.clone(),
        recipient_id: recipient,
        text: message.content.clone(),
        attachments: Vec::new(),
        reply_to: serde_json::from_str::<Value>(&message.content_attributes)
            .ok()
            .and_then(|a| a["in_reply_to_external_id"].as_str().map(str::to_owned)),
        idempotency_key: format!("message-{}", message.id),
    };
    match plugin.instance.send_message(&context, &outbound).await {
        Ok(sent) => {
            let status = match sent.status {
                DeliveryStatus::Delivered => message_status::DELIVERED,
                DeliveryStatus::Read => message_status::READ,
                DeliveryStatus::Failed => message_status::FAILED,
                DeliveryStatus::Sent => message_status::SENT,
            };
            Ok((status, sent.message_id))
        }
        Err(PluginError::Channel { error, .. }) => Err(error.message),
        Err(other) => Err(other.to_string()),
    }
}

async fn remove(
    member: Member,
    State(state): State<AppState>,
    Path((_, display_id, id)): Path<(i64, i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let conversation = visible_conversation(&state, &member, display_id).await?;
    state.store.get_message(conversation.id, id).await?;
    state.store.soft_delete_message(id).await?;
    publish_update(&state, &conversation, id).await;
    Ok(Json(views::message(
        &state.store.get_message(conversation.id, id).await?,
        display_id,
    )))
}

async fn retry(
    member: Member,
    State(state): State<AppState>,
    Path((_, display_id, id)): Path<(i64, i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let conversation = visible_conversation(&state, &member, display_id).await?;
    let message = state.store.get_message(conversation.id, id).await?;
    if message.status != message_status::FAILED || message.message_type != message_type::OUTGOING {
        return Err(ApiError::Unprocessable(
            "only failed outgoing messages can be retried".into(),
        ));
    }
    state
        .store
        .set_message_status(id, message_status::SENT, None, None)
        .await?;
    publish_update(&state, &conversation, id).await;
    let message = state.store.get_message(conversation.id, id).await?;
    tokio::spawn(deliver(state.clone(), conversation, message.clone()));
    Ok(Json(views::message(&message, display_id)))
}
