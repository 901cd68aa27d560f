//! `/api/v1/accounts/{account_id}/conversations/{display_id}/messages`: list
//! (newest 20, `before`/`after` cursors), create, soft delete and retry.
//!
//! An outgoing message is stored with its delivery job in one transaction;
//! the pipeline's delivery workers send it (see `crate::pipeline::delivery`)
//! and push `message.updated` when the outcome is recorded.

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
use crate::conversations::{message_status, message_type};
use crate::store::{ConversationRow, NewAttachment, NewMessage};

/// Messages per page, as in Chatwoot; `after` pages are larger.
const PER_PAGE: i64 = 20;
const AFTER_PAGE: i64 = 100;
/// Longest message content accepted, as in Chatwoot.
const MAX_CONTENT_CHARS: usize = 150_000;
/// Most attachments per message, as in Chatwoot.
const MAX_ATTACHMENTS: usize = 15;
/// Largest create-message request (attachments included).
const MAX_UPLOAD_BYTES: usize = 40 << 20;

pub fn router() -> Router<AppState> {
    let base = "/api/v1/accounts/{account_id}/conversations/{display_id}/messages";
    Router::new()
        .route(
            base,
            get(list)
                .post(create)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route(&format!("{base}/{{id}}"), delete(remove))
        .route(&format!("{base}/{{id}}/retry"), post(retry))
        .route("/api/v1/accounts/{account_id}/attachments/{id}", get(download))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Cursor {
    before: Option<i64>,
    after: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}/messages",
    tag = "Messages",
    summary = "The newest 20 messages, or 20 before / up to 100 after a message id, oldest first",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id"), Cursor),
    responses((status = 200, body = super::openapi::MessageList), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn list(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
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

#[derive(Deserialize, Default, utoipa::ToSchema)]
struct NewMessageBody {
    content: Option<String>,
    message_type: Option<String>,
    #[serde(default)]
    private: bool,
    content_type: Option<String>,
    content_attributes: Option<serde_json::Map<String, Value>>,
    echo_id: Option<String>,
}

/// A message to create: a JSON body, or `multipart/form-data` with the same
/// fields plus files under `attachments[]`.
struct MessageInput {
    body: NewMessageBody,
    files: Vec<NewAttachment>,
}

impl axum::extract::FromRequest<AppState> for MessageInput {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let multipart = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let AppJson(body) = AppJson::<NewMessageBody>::from_request(req, state).await?;
            return Ok(Self {
                body,
                files: Vec::new(),
            });
        }
        let mut form = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let mut input = Self {
            body: NewMessageBody::default(),
            files: Vec::new(),
        };
        let bad = |e: axum::extract::multipart::MultipartError| match e.status() {
            axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::BadRequest(e.body_text()),
        };
        while let Some(field) = form.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "attachments[]" || name == "attachments" {
                let file_name = field.file_name().unwrap_or("attachment").to_owned();
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let data = field.bytes().await.map_err(bad)?.to_vec();
                input.files.push(NewAttachment {
                    file_type: file_type(&content_type),
                    file_name,
                    content_type,
                    data,
                });
                continue;
            }
            let text = field.text().await.map_err(bad)?;
            match name.as_str() {
                "content" => input.body.content = Some(text),
                "message_type" => input.body.message_type = Some(text),
                "private" => input.body.private = text == "true" || text == "1",
                "content_type" => input.body.content_type = Some(text),
                "echo_id" => input.body.echo_id = Some(text),
                other => return Err(ApiError::BadRequest(format!("unknown form field {other:?}"))),
            }
        }
        Ok(input)
    }
}

/// Chatwoot's attachment file type for a MIME type.
fn file_type(mime: &str) -> i64 {
    match mime.split('/').next().unwrap_or_default() {
        "image" => 0,
        "audio" => 1,
        "video" => 2,
        _ => 3,
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}/messages",
    tag = "Messages",
    summary = "Send a message or add a private note (JSON, or multipart with attachments[])",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id")),
    request_body = NewMessageBody,
    responses((status = 200, body = views::Message), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn create(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
    MessageInput { body, files }: MessageInput,
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
    if content.trim().is_empty() && files.is_empty() {
        return Err(ApiError::Unprocessable("Content can't be blank".into()));
    }
    if content.chars().count() > MAX_CONTENT_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "Content is too long (maximum is {MAX_CONTENT_CHARS} characters)"
        )));
    }
    if files.len() > MAX_ATTACHMENTS {
        return Err(ApiError::Unprocessable(format!(
            "at most {MAX_ATTACHMENTS} attachments per message"
        )));
    }
    let content_type = body.content_type.unwrap_or_else(|| "text".into());
    if content_type != "text" {
        return Err(ApiError::Unprocessable(format!(
            "content_type {content_type:?} is not supported"
        )));
    }
    if !body.private {
        check_sendable(&state, &conversation, &content, &files).await?;
    }
    let message = NewMessage {
        message_type: kind,
        content_type,
        content: (!content.is_empty()).then_some(content),
        content_attributes: Value::Object(body.content_attributes.unwrap_or_default()).to_string(),
        private: body.private,
        status: message_status::SENT,
        source_id: None,
        sender_type: Some("User".into()),
        sender_id: Some(member.user.user_id),
        echo_id: body.echo_id,
        deliver: !body.private,
    };
    let stored = state
        .store
        .insert_message(&conversation, &message, &files)
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
        state.pipeline.delivery_queued();
    }
    Ok(Json(json))
}

/// The host enforces the channel's declared rules before any send: the
/// channel must be enabled and connected, the content within its limits, and
/// the conversation within its reply window. Nothing is stored when refused.
async fn check_sendable(
    state: &AppState,
    conversation: &ConversationRow,
    content: &str,
    files: &[NewAttachment],
) -> Result<(), ApiError> {
    let inbox = state
        .store
        .get_inbox(conversation.account_id, conversation.inbox_id)
        .await?;
    let plugin = state
        .plugins
        .get(&inbox.channel)
        .ok_or_else(|| ApiError::Unprocessable(format!("the {} channel is not enabled", inbox.channel)))?;
    let channel = &plugin.manifest.name;
    if inbox.reauthorization_required {
        return Err(ApiError::Unprocessable(format!(
            "this {channel} inbox must be reconnected before it can send"
        )));
    }
    crate::conversations::check_text(&plugin.manifest.limits, content, channel)
        .map_err(ApiError::Unprocessable)?;
    let outgoing: Vec<crate::conversations::OutgoingFile<'_>> = files
        .iter()
        .map(|f| crate::conversations::OutgoingFile {
            kind: crate::conversations::attachment_kind(f.file_type),
            mime_type: &f.content_type,
            bytes: f.data.len() as u64,
        })
        .collect();
    crate::conversations::check_attachments(
        &plugin.manifest.limits,
        !content.trim().is_empty(),
        &outgoing,
        channel,
    )
    .map_err(ApiError::Unprocessable)?;
    let now = crate::store::now_ms();
    if !crate::conversations::can_reply(
        plugin.manifest.reply_window,
        conversation.contact_last_inbound_at,
        now,
    ) {
        return Err(ApiError::Unprocessable(format!(
            "the {channel} reply window for this conversation has closed; wait for the contact to write again"
        )));
    }
    Ok(())
}

/// Pushes the message's current JSON as `message.updated`.
pub(super) async fn publish_update(state: &AppState, conversation: &ConversationRow, id: i64) {
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

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}/messages/{id}",
    tag = "Messages",
    summary = "Delete a message (its row stays, its content goes)",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = views::Message), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn remove(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id, id)): Path<(i64, i64, i64)>,
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

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}/messages/{id}/retry",
    tag = "Messages",
    summary = "Send a failed message again",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = views::Message), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn retry(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id, id)): Path<(i64, i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let conversation = visible_conversation(&state, &member, display_id).await?;
    let message = state.store.get_message(conversation.id, id).await?;
    if message.message_type != message_type::OUTGOING || message.private {
        return Err(ApiError::Unprocessable(
            "only failed outgoing messages can be retried".into(),
        ));
    }
    check_sendable(
        &state,
        &conversation,
        message.content.as_deref().unwrap_or_default(),
        &[],
    )
    .await?;
    // Only one retry wins the failed → sent transition (and requeues the
    // job), so two concurrent retries never send twice.
    if !state.store.requeue_delivery(id).await? {
        return Err(ApiError::Unprocessable(
            "only failed outgoing messages can be retried".into(),
        ));
    }
    state.pipeline.delivery_queued();
    publish_update(&state, &conversation, id).await;
    let message = state.store.get_message(conversation.id, id).await?;
    Ok(Json(views::message(&message, display_id)))
}

/// The bytes of an attachment, for members who may see its conversation.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/attachments/{id}",
    tag = "Messages",
    summary = "Download an attachment",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 404, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn download(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (attachment, data) = state.store.attachment_data(member.account_id, id).await?;
    let message = state
        .store
        .message_by_id(member.account_id, attachment.message_id)
        .await?;
    super::inboxes::visible_inbox(&state, &member, message.inbox_id).await?;
    let content_type = attachment
        .content_type
        .unwrap_or_else(|| "application/octet-stream".into());
    // Uploaded HTML or SVG must never run on the API's origin: only plain
    // media is shown inline, everything else downloads, and nothing may script.
    let media = ["image/", "audio/", "video/"]
        .iter()
        .any(|p| content_type.starts_with(p))
        && !content_type.contains("svg");
    let disposition = if media { "inline" } else { "attachment" };
    let file_name = attachment
        .file_name
        .unwrap_or_else(|| "attachment".into())
        .replace(['"', '\\', '\r', '\n'], "_");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("{disposition}; filename=\"{file_name}\""),
            ),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'".to_owned(),
            ),
        ],
        data,
    )
        .into_response())
}
