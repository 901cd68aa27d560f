//! `/api/v1/accounts/{account_id}/webhooks`: an account's outgoing webhooks
//! (administrators): list, create, update, delete, as in Chatwoot, plus the
//! latest deliveries of one (sent, waiting for a retry, dead-lettered).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::AppJson;
use super::{ApiError, AppState};
use crate::app::Member;
use crate::app::views::secs;
use crate::app::webhooks::{self as use_case, Webhook, WebhookInput};
use crate::store::WebhookDeliveryRow;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        // PUT is Chatwoot's other spelling of PATCH, documented with it.
        .routes(routes!(update, replace, remove))
        .routes(routes!(deliveries))
}

/// A webhook, as Chatwoot shows it to administrators, with its signing secret.
#[derive(Serialize, ToSchema)]
struct WebhookView {
    id: i64,
    account_id: i64,
    name: Option<String>,
    url: String,
    /// Event names.
    subscriptions: Vec<String>,
    /// Always null: account webhooks cover every inbox.
    #[schema(value_type = Option<Object>)]
    inbox: Option<Value>,
    /// The key of `X-Chatwoot-Signature` (HMAC-SHA256).
    secret: String,
    created_at: i64,
}

fn view(w: Webhook) -> WebhookView {
    WebhookView {
        id: w.row.id,
        account_id: w.row.account_id,
        name: w.row.name,
        url: w.row.url,
        subscriptions: w.subscriptions,
        inbox: None,
        secret: w.secret,
        created_at: secs(w.row.created_at),
    }
}

#[derive(Serialize, ToSchema)]
struct WebhookList {
    webhooks: Vec<WebhookView>,
}

#[derive(Serialize, ToSchema)]
struct WebhookListPayload {
    payload: WebhookList,
}

#[derive(Serialize, ToSchema)]
struct OneWebhook {
    webhook: WebhookView,
}

#[derive(Serialize, ToSchema)]
struct WebhookPayload {
    payload: OneWebhook,
}

/// An event a webhook may subscribe to (Chatwoot's names; the last five are
/// accepted and never sent). Documents `subscriptions`; the use case checks.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only: the body keeps the names as text
enum WebhookEvent {
    ConversationCreated,
    ConversationStatusChanged,
    ConversationUpdated,
    ContactCreated,
    ContactUpdated,
    MessageCreated,
    MessageUpdated,
    WebwidgetTriggered,
    InboxCreated,
    InboxUpdated,
    ConversationTypingOn,
    ConversationTypingOff,
}

/// The fields of a webhook; unknown fields are ignored, as Rails does.
#[derive(Deserialize, ToSchema, Default)]
struct WebhookFields {
    /// An absolute http(s) URL; a private or loopback address is refused
    /// (422) unless the server allows them.
    url: Option<String>,
    name: Option<String>,
    /// Events to receive (required on create, at least one).
    #[schema(value_type = Option<Vec<WebhookEvent>>, min_items = 1)]
    subscriptions: Option<Vec<String>>,
}

/// Chatwoot's `{"webhook": {…}}`, or the same fields at the top level.
#[derive(Deserialize, ToSchema)]
struct WebhookBody {
    webhook: Option<WebhookFields>,
    #[serde(flatten)]
    fields: WebhookFields,
}

impl From<WebhookBody> for WebhookInput {
    fn from(body: WebhookBody) -> Self {
        let fields = body.webhook.unwrap_or(body.fields);
        Self {
            url: fields.url,
            name: fields.name,
            subscriptions: fields.subscriptions,
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/webhooks",
    tag = "Webhooks",
    summary = "List the account's webhooks (administrators)",
    params(("account_id" = i64, Path, description = "Account id")),
    responses((status = 200, body = WebhookListPayload), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn list(member: Member, State(state): State<AppState>) -> Result<Json<WebhookListPayload>, ApiError> {
    let webhooks = use_case::list(&state, &member).await?;
    Ok(Json(WebhookListPayload {
        payload: WebhookList {
            webhooks: webhooks.into_iter().map(view).collect(),
        },
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/webhooks",
    tag = "Webhooks",
    summary = "Subscribe a URL to events (administrators); answers it with its signing secret",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = WebhookBody,
    responses((status = 200, body = WebhookPayload), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn create(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<WebhookBody>,
) -> Result<Json<WebhookPayload>, ApiError> {
    let webhook = use_case::create(&state, &member, body.into()).await?;
    Ok(Json(WebhookPayload {
        payload: OneWebhook {
            webhook: view(webhook),
        },
    }))
}

/// PUT is Chatwoot's other spelling of PATCH; documented on its own so the
/// document lists every method served.
#[utoipa::path(
    put,
    path = "/api/v1/accounts/{account_id}/webhooks/{id}",
    tag = "Webhooks",
    summary = "Change a webhook (the same as PATCH)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    request_body = WebhookBody,
    responses((status = 200, body = WebhookPayload), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn replace(
    member: Member,
    state: State<AppState>,
    path: Path<(i64, i64)>,
    body: AppJson<WebhookBody>,
) -> Result<Json<WebhookPayload>, ApiError> {
    update(member, state, path, body).await
}

#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{account_id}/webhooks/{id}",
    tag = "Webhooks",
    summary = "Change a webhook's URL, name or subscriptions (administrators; PUT works too)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    request_body = WebhookBody,
    responses((status = 200, body = WebhookPayload), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn update(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
    AppJson(body): AppJson<WebhookBody>,
) -> Result<Json<WebhookPayload>, ApiError> {
    let webhook = use_case::update(&state, &member, id, body.into()).await?;
    Ok(Json(WebhookPayload {
        payload: OneWebhook {
            webhook: view(webhook),
        },
    }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}/webhooks/{id}",
    tag = "Webhooks",
    summary = "Delete a webhook and its pending deliveries (administrators)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = Object), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn remove(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    use_case::delete(&state, &member, id).await?;
    Ok(Json(json!({})))
}

/// One attempt record of a webhook.
#[derive(Serialize, ToSchema)]
struct DeliveryView {
    id: i64,
    /// Event name.
    event: String,
    /// `queued` (waiting for an attempt or a retry), `done` or `dead`.
    state: String,
    attempts: i64,
    /// The receiver's last HTTP status, if it answered.
    last_status: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

fn delivery_view(d: WebhookDeliveryRow) -> DeliveryView {
    DeliveryView {
        id: d.id,
        event: d.event,
        state: d.state,
        attempts: d.attempts,
        last_status: d.last_status,
        last_error: d.last_error,
        created_at: secs(d.created_at),
        updated_at: secs(d.updated_at),
    }
}

#[derive(Serialize, ToSchema)]
struct DeliveryList {
    payload: Vec<DeliveryView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/webhooks/{id}/deliveries",
    tag = "Webhooks",
    summary = "A webhook's latest 100 deliveries, newest first (administrators)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = DeliveryList), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn deliveries(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
) -> Result<Json<DeliveryList>, ApiError> {
    let list = use_case::deliveries(&state, &member, id).await?;
    Ok(Json(DeliveryList {
        payload: list.into_iter().map(delivery_view).collect(),
    }))
}
