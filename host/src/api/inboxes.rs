//! `/api/v1/accounts/{account_id}/inboxes` and `/inbox_members`. Agents see
//! only the inboxes they belong to; administrators see and manage all.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AppJson, lenient};
use super::{ApiError, AppState};
use crate::app::Member;
use crate::app::conversations::visible_inbox;
use crate::app::inboxes::{self as use_case, MembersChange};
use crate::app::views;
use crate::store::{InboxChanges, UserRow};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(members))
        .routes(routes!(add_members, replace_members, remove_members))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/inboxes",
    tag = "Inboxes",
    summary = "List inboxes (agents: those they belong to)",
    params(("account_id" = i64, Path, description = "Account id")),
    responses((status = 200, body = super::openapi::InboxList), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn list(member: Member, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let inboxes = use_case::list(&state, &member).await?;
    Ok(Json(
        json!({ "payload": inboxes.iter().map(views::inbox).collect::<Vec<_>>() }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/inboxes/{id}",
    tag = "Inboxes",
    summary = "Show an inbox",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = views::Inbox), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn show(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(views::inbox(&visible_inbox(&state, &member, id).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ChannelSpec {
    /// A channel plugin's id, or Chatwoot's `api` (the API channel).
    #[serde(rename = "type")]
    kind: String,
    /// The provider's id of the account whose webhooks this inbox receives
    /// (events are routed to the inbox by it); one inbox per id and channel.
    external_id: Option<String>,
    /// An API inbox's: where its conversations' and messages' events are
    /// POSTed, as Chatwoot's account webhooks are.
    webhook_url: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewInbox {
    #[schema(pattern = r"\S")]
    name: String,
    channel: ChannelSpec,
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/inboxes",
    tag = "Inboxes",
    summary = "Create an inbox on a channel without an authorization flow (administrators)",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = NewInbox,
    responses((status = 200, body = views::Inbox), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn create(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<NewInbox>,
) -> Result<Json<Value>, ApiError> {
    let new = use_case::NewInbox {
        name: body.name,
        channel: body.channel.kind,
        external_id: body.channel.external_id,
        webhook_url: body.channel.webhook_url,
    };
    Ok(Json(views::inbox(&use_case::create(&state, &member, new).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ChannelChanges {
    /// An API inbox's `webhook_url`; blank removes it.
    webhook_url: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct InboxBody {
    name: Option<String>,
    channel: Option<ChannelChanges>,
    lock_to_single_conversation: Option<bool>,
    enable_auto_assignment: Option<bool>,
    greeting_enabled: Option<bool>,
    greeting_message: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{account_id}/inboxes/{id}",
    tag = "Inboxes",
    summary = "Update an inbox (administrators)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    request_body = InboxBody,
    responses((status = 200, body = views::Inbox), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn update(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
    AppJson(body): AppJson<InboxBody>,
) -> Result<Json<Value>, ApiError> {
    let changes = InboxChanges {
        name: body.name,
        lock_to_single_conversation: body.lock_to_single_conversation,
        enable_auto_assignment: body.enable_auto_assignment,
        greeting_enabled: body.greeting_enabled,
        greeting_message: body.greeting_message,
    };
    let webhook_url = body.channel.and_then(|c| c.webhook_url);
    Ok(Json(views::inbox(
        &use_case::update(&state, &member, id, changes, webhook_url).await?,
    )))
}

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}/inboxes/{id}",
    tag = "Inboxes",
    summary = "Delete an inbox and its conversations (administrators)",
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

fn agents_json(agents: &[UserRow], account_id: i64) -> Json<Value> {
    let payload: Vec<Value> = agents.iter().map(|a| views::agent(a, account_id)).collect();
    Json(json!({ "payload": payload }))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/inbox_members/{inbox_id}",
    tag = "Inboxes",
    summary = "List an inbox's members",
    params(("account_id" = i64, Path, description = "Account id"), ("inbox_id" = i64, Path, description = "Inbox id")),
    responses((status = 200, body = super::openapi::AgentPayload), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn members(
    member: Member,
    State(state): State<AppState>,
    Path((_account, inbox_id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let agents = use_case::members(&state, &member, inbox_id).await?;
    Ok(agents_json(&agents, member.account_id))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct MembersBody {
    #[serde(deserialize_with = "lenient::id")]
    #[schema(minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    inbox_id: i64,
    #[serde(deserialize_with = "lenient::ids")]
    user_ids: Vec<i64>,
}

async fn change_members(
    state: &AppState,
    member: &Member,
    body: &MembersBody,
    change: MembersChange,
) -> Result<Json<Value>, ApiError> {
    let agents = use_case::change_members(state, member, body.inbox_id, &body.user_ids, change).await?;
    Ok(agents_json(&agents, member.account_id))
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/inbox_members",
    tag = "Inboxes",
    summary = "Add members to an inbox (administrators)",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = MembersBody,
    responses((status = 200, body = super::openapi::AgentPayload), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn add_members(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<MembersBody>,
) -> Result<Json<Value>, ApiError> {
    change_members(&state, &member, &body, MembersChange::Add).await
}

#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{account_id}/inbox_members",
    tag = "Inboxes",
    summary = "Replace an inbox's members (administrators)",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = MembersBody,
    responses((status = 200, body = super::openapi::AgentPayload), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn replace_members(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<MembersBody>,
) -> Result<Json<Value>, ApiError> {
    change_members(&state, &member, &body, MembersChange::Replace).await
}

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}/inbox_members",
    tag = "Inboxes",
    summary = "Remove members from an inbox (administrators)",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = MembersBody,
    responses((status = 200, body = super::openapi::AgentPayload), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn remove_members(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<MembersBody>,
) -> Result<Json<Value>, ApiError> {
    change_members(&state, &member, &body, MembersChange::Remove).await
}
