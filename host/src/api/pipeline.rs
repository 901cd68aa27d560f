//! `/api/v1/admin/…` for the durable pipeline and channel registrations
//! (super admins): the inbound event log and its replay, the delivery jobs
//! and the dead-letter list, and the provider's webhook registration.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::SuperAdmin;
use super::extract::{AppJson, OptionalJson};
use super::{ApiError, AppState};
use crate::app::channels;
use crate::app::pipeline_admin as use_case;
use crate::contract::WebhookRegistration;
use crate::store::{DeliveryJobRow, InboundEventRow};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(counts))
        .routes(routes!(list_events))
        .routes(routes!(replay_events))
        .routes(routes!(list_deliveries))
        .routes(routes!(retry_delivery))
        .routes(routes!(current_webhook, register_webhook))
}

/// Longest body excerpt shown for an event.
const BODY_EXCERPT: usize = 2048;

/// An inbound event as admins see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    id: i64,
    channel: String,
    status: String,
    reason: Option<String>,
    attempts: i64,
    received_at: i64,
    applied_at: Option<i64>,
    /// The start of the body, as text.
    body: String,
}

impl From<InboundEventRow> for EventView {
    fn from(e: InboundEventRow) -> Self {
        let end = e.body.len().min(BODY_EXCERPT);
        Self {
            id: e.id,
            channel: e.channel,
            status: e.status,
            reason: e.reason,
            attempts: e.attempts,
            received_at: e.received_at,
            applied_at: e.applied_at,
            body: String::from_utf8_lossy(&e.body[..end]).into_owned(),
        }
    }
}

/// A delivery job as admins see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    id: i64,
    message_id: i64,
    account_id: i64,
    state: String,
    attempts: i64,
    /// Attempts that began after an earlier one died mid-send: the provider
    /// may have received the message more than once.
    attempts_in_doubt: i64,
    available_at: i64,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<DeliveryJobRow> for DeliveryView {
    fn from(j: DeliveryJobRow) -> Self {
        Self {
            id: j.id,
            message_id: j.message_id,
            account_id: j.account_id,
            state: j.state,
            attempts: j.attempts,
            attempts_in_doubt: j.attempts_in_doubt,
            available_at: j.available_at,
            last_error: j.last_error,
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct EventFilter {
    /// `pending`, `applied`, `ignored` or `failed`.
    status: Option<String>,
    /// Channel plugin id.
    channel: Option<String>,
    /// At most this many, newest first (default 100, at most 500).
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/pipeline",
    tag = "Administration",
    summary = "Inbound events and delivery jobs, counted by state",
    responses((status = 200, description = "`{\"events\": [[status, n]…], \"deliveries\": [[state, n]…]}`"), super::openapi::AdminErrors),
    security(("api_access_token" = [])),
)]
async fn counts(_: SuperAdmin, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(use_case::counts(&state).await?)))
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/events",
    tag = "Administration",
    summary = "The inbound event log, newest first (ignored and failed events keep their reason)",
    params(EventFilter),
    responses((status = 200, body = Vec<EventView>), super::openapi::AdminInputErrors),
    security(("api_access_token" = [])),
)]
async fn list_events(
    _: SuperAdmin,
    State(state): State<AppState>,
    Query(filter): Query<EventFilter>,
) -> Result<Json<Vec<EventView>>, ApiError> {
    let events = use_case::events(
        &state,
        filter.status.as_deref(),
        filter.channel.as_deref(),
        filter.limit,
    )
    .await?;
    Ok(Json(events.into_iter().map(EventView::from).collect()))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct ReplayRequest {
    /// These events only.
    ids: Option<Vec<i64>>,
    /// Events in this state only (`applied`, `ignored` or `failed`).
    status: Option<String>,
    /// Events of this channel only.
    channel: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/events/replay",
    tag = "Administration",
    summary = "Queue stored events to be applied again (idempotent: nothing is duplicated)",
    request_body = ReplayRequest,
    responses((status = 200, description = "`{\"replayed\": n}`"), super::openapi::AdminInputErrors),
    security(("api_access_token" = [])),
)]
async fn replay_events(
    _: SuperAdmin,
    State(state): State<AppState>,
    AppJson(request): AppJson<ReplayRequest>,
) -> Result<Json<Value>, ApiError> {
    let replayed = use_case::replay(
        &state,
        request.ids.as_deref(),
        request.status.as_deref(),
        request.channel.as_deref(),
    )
    .await?;
    Ok(Json(json!({ "replayed": replayed })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveryFilter {
    /// `queued`, `done` or `dead` (the dead-letter list).
    state: Option<String>,
    /// At most this many, newest first (default 100, at most 500).
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/deliveries",
    tag = "Administration",
    summary = "Outbound delivery jobs, newest first; `state=dead` is the dead-letter list",
    params(DeliveryFilter),
    responses((status = 200, body = Vec<DeliveryView>), super::openapi::AdminInputErrors),
    security(("api_access_token" = [])),
)]
async fn list_deliveries(
    _: SuperAdmin,
    State(state): State<AppState>,
    Query(filter): Query<DeliveryFilter>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let jobs = use_case::deliveries(&state, filter.state.as_deref(), filter.limit).await?;
    Ok(Json(jobs.into_iter().map(DeliveryView::from).collect()))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/deliveries/{id}/retry",
    tag = "Administration",
    summary = "Send a dead-lettered message again (its message goes back to `sent`)",
    params(("id" = i64, Path, description = "Delivery job id")),
    responses((status = 200, body = DeliveryView), super::openapi::AdminOneErrors),
    security(("api_access_token" = [])),
)]
async fn retry_delivery(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<DeliveryView>, ApiError> {
    Ok(Json(use_case::retry_delivery(&state, id).await?.into()))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct RegisterWebhook {
    /// Register this URL instead of `<FRONTEND_URL>/webhooks/<channel>`.
    callback_url: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/channels/{channel}/webhook",
    tag = "Administration",
    summary = "The provider's current webhook registration for the channel's app",
    params(("channel" = String, Path, description = "Channel plugin id")),
    responses((status = 200, description = "`{\"callback_url\": …, \"details\": [[key, value]…]}`"), super::openapi::AdminOneErrors),
    security(("api_access_token" = [])),
)]
async fn current_webhook(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(channel): Path<String>,
) -> Result<Json<WebhookRegistration>, ApiError> {
    Ok(Json(channels::current_webhook(&state, &channel).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/channels/{channel}/webhook",
    tag = "Administration",
    summary = "Point the provider's webhook callback at this server",
    params(("channel" = String, Path, description = "Channel plugin id")),
    request_body = RegisterWebhook,
    responses((status = 200, description = "`{\"callback_url\": …, \"details\": [[key, value]…]}`"), super::openapi::AdminOneErrors),
    security(("api_access_token" = [])),
)]
async fn register_webhook(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(channel): Path<String>,
    OptionalJson(body): OptionalJson<RegisterWebhook>,
) -> Result<Json<WebhookRegistration>, ApiError> {
    let callback = body.and_then(|b| b.callback_url);
    Ok(Json(
        channels::register_webhook(&state, &channel, callback.as_deref()).await?,
    ))
}
