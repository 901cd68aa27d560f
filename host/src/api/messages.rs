//! `/api/v1/accounts/{account_id}/conversations/{display_id}/messages`: list
//! (newest 20, `before`/`after` cursors), create, soft delete and retry.
//!
//! An outgoing message is stored with its delivery job in one transaction;
//! the pipeline's delivery workers send it (see `crate::pipeline::delivery`)
//! and push `message.updated` when the outcome is recorded.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::extract::{AppJson, lenient};
use super::{ApiError, AppState};
use crate::app::Member;
use crate::app::messages::{self as use_case, Draft};
use crate::app::views;
use crate::store::NewAttachment;
/// Largest create-message request (attachments included).
const MAX_UPLOAD_BYTES: usize = 40 << 20;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create).layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES)))
        .routes(routes!(remove))
        .routes(routes!(retry))
        .routes(routes!(download))
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
    responses((status = 200, body = super::openapi::MessageList), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn list(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
    Query(cursor): Query<Cursor>,
) -> Result<Json<Value>, ApiError> {
    let page = use_case::page(&state, &member, display_id, cursor.before, cursor.after).await?;
    Ok(Json(json!({
        "meta": {
            "labels": page.labels,
            "additional_attributes": {},
            "contact": page.contact,
            "assignee": page.assignee,
            "agent_last_seen_at": page.conversation.agent_last_seen_at.map(views::secs).unwrap_or(0),
            "assignee_last_seen_at": 0,
        },
        "payload": page.rendered,
    })))
}

/// A message to create; fields Chatwoot's clients send that do not apply
/// here (`cc_emails`, `template_params`, …) are accepted and ignored.
#[derive(Deserialize, Default, utoipa::ToSchema)]
struct NewMessageBody {
    /// Required in JSON (a multipart body may carry attachments instead).
    #[schema(required = true, pattern = r"\S", max_length = 150000)]
    content: Option<String>,
    /// `outgoing` (the default), or `incoming` on API inboxes.
    #[schema(value_type = Option<MessageKind>)]
    message_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::flag")]
    #[schema(value_type = bool)]
    private: bool,
    /// One of Chatwoot's content types; `text` by default.
    #[schema(value_type = Option<ContentTypeName>)]
    content_type: Option<String>,
    /// An object, or the same as a JSON string (as multipart sends it).
    #[serde(default, deserialize_with = "attributes")]
    #[schema(value_type = Option<Object>)]
    content_attributes: Option<serde_json::Map<String, Value>>,
    echo_id: Option<String>,
}

/// Who a created message is from.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum MessageKind {
    Outgoing,
    Incoming,
}

/// Chatwoot's content types (`crate::conversations::CONTENT_TYPES`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum ContentTypeName {
    Text,
    InputText,
    InputTextarea,
    InputEmail,
    InputSelect,
    Cards,
    Form,
    Article,
    IncomingEmail,
    InputCsat,
    Integrations,
    Sticker,
    VoiceCall,
}

/// `content_attributes` as an object or as the text of one.
fn attributes<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Map<String, Value>>, D::Error> {
    use serde::de::Error;
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        Value::String(text) => parse_attributes(&text).map_err(D::Error::custom),
        other => Err(D::Error::custom(format!(
            "content_attributes must be an object, found {other}"
        ))),
    }
}

fn parse_attributes(text: &str) -> Result<Option<serde_json::Map<String, Value>>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(Value::Null) => Ok(None),
        _ => Err("content_attributes must be a JSON object".into()),
    }
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
                    file_type: crate::conversations::file_type_of_mime(&content_type),
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
                "content_attributes" => {
                    input.body.content_attributes = parse_attributes(&text).map_err(ApiError::BadRequest)?
                }
                "echo_id" => input.body.echo_id = Some(text),
                // Rails ignores parameters it does not permit; so do we.
                _ => {}
            }
        }
        Ok(input)
    }
}

/// Chatwoot's attachment file type for a MIME type.

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}/messages",
    tag = "Messages",
    summary = "Send a message or add a private note (JSON, or multipart with attachments[])",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id")),
    request_body = NewMessageBody,
    responses((status = 200, body = views::Message), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn create(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
    MessageInput { body, files }: MessageInput,
) -> Result<Json<Value>, ApiError> {
    let draft = Draft {
        content: body.content,
        message_type: body.message_type,
        private: body.private,
        content_type: body.content_type,
        content_attributes: body.content_attributes,
        echo_id: body.echo_id,
        files,
    };
    Ok(Json(use_case::send(&state, &member, display_id, draft).await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}/messages/{id}",
    tag = "Messages",
    summary = "Delete a message (its row stays, its content goes)",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = views::Message), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn remove(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id, id)): Path<(i64, i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(use_case::delete(&state, &member, display_id, id).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}/messages/{id}/retry",
    tag = "Messages",
    summary = "Send a failed message again",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = views::Message), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn retry(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id, id)): Path<(i64, i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(use_case::retry(&state, &member, display_id, id).await?))
}

/// The bytes of an attachment, for members who may see its conversation.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/attachments/{id}",
    tag = "Messages",
    summary = "Download an attachment",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), super::openapi::DownloadErrors),
    security(("api_access_token" = [])),
)]
async fn download(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (attachment, data) = use_case::attachment(&state, &member, id).await?;
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
