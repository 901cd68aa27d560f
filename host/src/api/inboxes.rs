//! `/api/v1/accounts/{account_id}/inboxes` and `/inbox_members`. Agents see
//! only the inboxes they belong to; administrators see and manage all.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::AppJson;
use super::{ApiError, AppState};
use crate::app::Member;
use crate::app::conversations::visible_inbox;
use crate::app::views;
use crate::store::InboxChanges;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts/{account_id}/inboxes", get(list).post(create))
        .route(
            "/api/v1/accounts/{account_id}/inboxes/{id}",
            get(show).patch(update).delete(remove),
        )
        .route(
            "/api/v1/accounts/{account_id}/inbox_members/{inbox_id}",
            get(members),
        )
        .route(
            "/api/v1/accounts/{account_id}/inbox_members",
            post(add_members).patch(replace_members).delete(remove_members),
        )
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/inboxes",
    tag = "Inboxes",
    summary = "List inboxes (agents: those they belong to)",
    params(("account_id" = i64, Path, description = "Account id")),
    responses((status = 200, body = super::openapi::InboxList), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn list(member: Member, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let only = (!member.is_admin()).then_some(member.user.user_id);
    let inboxes = state.store.list_inboxes(member.account_id, only).await?;
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
    responses((status = 200, body = views::Inbox), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
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
    #[serde(rename = "type")]
    kind: String,
    /// The provider's id of the account whose webhooks this inbox receives
    /// (events are routed to the inbox by it); one inbox per id and channel.
    external_id: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewInbox {
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
    responses((status = 200, body = views::Inbox), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn create(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<NewInbox>,
) -> Result<Json<Value>, ApiError> {
    member.require_admin()?;
    if body.name.trim().is_empty() {
        return Err(ApiError::Unprocessable("Name can't be blank".into()));
    }
    let plugin = state.plugins.get(&body.channel.kind).ok_or_else(|| {
        ApiError::Unprocessable(format!("no enabled channel plugin {:?}", body.channel.kind))
    })?;
    if plugin.manifest.supports_authorization {
        return Err(ApiError::Unprocessable(format!(
            "{} inboxes are created by connecting an account (the channel's authorization flow)",
            plugin.manifest.name
        )));
    }
    let external_id = body.channel.external_id.as_deref().map(str::trim);
    if external_id.is_some_and(str::is_empty) {
        return Err(ApiError::Unprocessable("external_id can't be blank".into()));
    }
    let inbox = state
        .store
        .insert_inbox(
            member.account_id,
            body.name.trim(),
            &plugin.manifest.id,
            external_id,
        )
        .await?;
    Ok(Json(views::inbox(&inbox)))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct InboxBody {
    name: Option<String>,
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
    responses((status = 200, body = views::Inbox), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn update(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
    AppJson(body): AppJson<InboxBody>,
) -> Result<Json<Value>, ApiError> {
    member.require_admin()?;
    if body.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::Unprocessable("Name can't be blank".into()));
    }
    let changes = InboxChanges {
        name: body.name,
        lock_to_single_conversation: body.lock_to_single_conversation,
        enable_auto_assignment: body.enable_auto_assignment,
        greeting_enabled: body.greeting_enabled,
        greeting_message: body.greeting_message,
    };
    Ok(Json(views::inbox(
        &state.store.update_inbox(member.account_id, id, &changes).await?,
    )))
}

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}/inboxes/{id}",
    tag = "Inboxes",
    summary = "Delete an inbox and its conversations (administrators)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = Object), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn remove(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    member.require_admin()?;
    state.store.delete_inbox(member.account_id, id).await?;
    Ok(Json(json!({})))
}

async fn member_list(state: &AppState, account_id: i64, inbox_id: i64) -> Result<Json<Value>, ApiError> {
    let ids = state.store.inbox_member_ids(inbox_id).await?;
    let agents = state.store.list_agents(account_id).await?;
    let payload: Vec<Value> = agents
        .iter()
        .filter(|a| ids.contains(&a.id))
        .map(|a| views::agent(a, account_id))
        .collect();
    Ok(Json(json!({ "payload": payload })))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/inbox_members/{inbox_id}",
    tag = "Inboxes",
    summary = "List an inbox's members",
    params(("account_id" = i64, Path, description = "Account id"), ("inbox_id" = i64, Path, description = "Inbox id")),
    responses((status = 200, body = super::openapi::AgentPayload), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn members(
    member: Member,
    State(state): State<AppState>,
    Path((_account, inbox_id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    visible_inbox(&state, &member, inbox_id).await?;
    member_list(&state, member.account_id, inbox_id).await
}

#[derive(Deserialize, utoipa::ToSchema)]
struct MembersBody {
    inbox_id: i64,
    user_ids: Vec<i64>,
}

async fn change_members(
    state: &AppState,
    member: &Member,
    body: &MembersBody,
    replace: bool,
) -> Result<(), ApiError> {
    member.require_admin()?;
    state.store.get_inbox(member.account_id, body.inbox_id).await?;
    state
        .store
        .set_inbox_members(member.account_id, body.inbox_id, &body.user_ids, replace)
        .await?;
    Ok(())
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/inbox_members",
    tag = "Inboxes",
    summary = "Add members to an inbox (administrators)",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = MembersBody,
    responses((status = 200, body = super::openapi::AgentPayload), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn add_members(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<MembersBody>,
) -> Result<Json<Value>, ApiError> {
    change_members(&state, &member, &body, false).await?;
    member_list(&state, member.account_id, body.inbox_id).await
}

#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{account_id}/inbox_members",
    tag = "Inboxes",
    summary = "Replace an inbox's members (administrators)",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = MembersBody,
    responses((status = 200, body = super::openapi::AgentPayload), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn replace_members(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<MembersBody>,
) -> Result<Json<Value>, ApiError> {
    change_members(&state, &member, &body, true).await?;
    member_list(&state, member.account_id, body.inbox_id).await
}

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}/inbox_members",
    tag = "Inboxes",
    summary = "Remove members from an inbox (administrators)",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = MembersBody,
    responses((status = 200, body = super::openapi::AgentPayload), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn remove_members(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<MembersBody>,
) -> Result<Json<Value>, ApiError> {
    member.require_admin()?;
    state.store.get_inbox(member.account_id, body.inbox_id).await?;
    state
        .store
        .remove_inbox_members(body.inbox_id, &body.user_ids)
        .await?;
    member_list(&state, member.account_id, body.inbox_id).await
}
