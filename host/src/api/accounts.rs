//! Profile, account and agents: `/api/v1/profile`,
//! `/api/v1/accounts/{account_id}` and `/api/v1/accounts/{account_id}/agents`.

use axum::extract::{Path, State};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::extract::AppJson;
use super::{ApiError, AppState};
use crate::accounts::role;
use crate::app::Member;
use crate::app::views;
use crate::store::AccountChanges;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/profile", get(profile))
        .route(
            "/api/v1/accounts/{account_id}",
            get(show_account).patch(update_account),
        )
        .route(
            "/api/v1/accounts/{account_id}/agents",
            get(list_agents).post(create_agent),
        )
        .route(
            "/api/v1/accounts/{account_id}/agents/{id}",
            patch(update_agent).delete(delete_agent),
        )
}

#[utoipa::path(
    get,
    path = "/api/v1/profile",
    tag = "Accounts",
    summary = "The token's user and their accounts",
    responses((status = 200, body = views::Profile), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn profile(Caller(owner): Caller, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let user = state.store.get_user(owner.user_id).await?;
    let accounts = state.store.user_accounts(owner.user_id).await?;
    Ok(Json(views::profile(&user, &accounts)))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}",
    tag = "Accounts",
    summary = "Show the account",
    params(("account_id" = i64, Path, description = "Account id")),
    responses((status = 200, body = views::Account), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn show_account(member: Member, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let account = state.store.get_account(member.account_id).await?;
    let features = state.store.account_features(member.account_id).await?;
    Ok(Json(views::account(&account, &features)))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct AccountBody {
    name: Option<String>,
    locale: Option<String>,
    domain: Option<String>,
    support_email: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{account_id}",
    tag = "Accounts",
    summary = "Update the account (administrators)",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = AccountBody,
    responses((status = 200, body = views::Account), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn update_account(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<AccountBody>,
) -> Result<Json<Value>, ApiError> {
    member.require_admin()?;
    if body.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::Unprocessable("Name can't be blank".into()));
    }
    let changes = AccountChanges {
        name: body.name,
        locale: body.locale,
        domain: body.domain,
        support_email: body.support_email,
    };
    let account = state.store.update_account(member.account_id, &changes).await?;
    let features = state.store.account_features(member.account_id).await?;
    Ok(Json(views::account(&account, &features)))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/agents",
    tag = "Agents",
    summary = "List agents",
    params(("account_id" = i64, Path, description = "Account id")),
    responses((status = 200, body = Vec<views::Agent>), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn list_agents(member: Member, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let agents = state.store.list_agents(member.account_id).await?;
    Ok(Json(Value::Array(
        agents
            .iter()
            .map(|a| views::agent(a, member.account_id))
            .collect(),
    )))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewAgent {
    name: String,
    email: String,
    #[serde(default = "default_role")]
    role: String,
}

fn default_role() -> String {
    "agent".into()
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/agents",
    tag = "Agents",
    summary = "Add an agent (administrators)",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = NewAgent,
    responses((status = 200, body = views::Agent), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn create_agent(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<NewAgent>,
) -> Result<Json<Value>, ApiError> {
    member.require_admin()?;
    let role = role::parse(&body.role)
        .ok_or_else(|| ApiError::Unprocessable(format!("unknown role {:?}", body.role)))?;
    if !body.email.contains('@') || body.name.trim().is_empty() {
        return Err(ApiError::Unprocessable(
            "an agent needs a name and a valid email".into(),
        ));
    }
    let user_id = match state.store.user_by_email(&body.email).await? {
        Some(user) => user.id,
        None => state.store.insert_user(&body.name, &body.email).await?,
    };
    if state
        .store
        .membership(member.account_id, user_id)
        .await?
        .is_some()
    {
        return Err(ApiError::Unprocessable(format!(
            "{} is already an agent of this account",
            body.email
        )));
    }
    state
        .store
        .set_membership(member.account_id, user_id, role)
        .await?;
    let agent = state.store.get_agent(member.account_id, user_id).await?;
    Ok(Json(views::agent(&agent, member.account_id)))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct AgentChanges {
    name: Option<String>,
    role: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{account_id}/agents/{id}",
    tag = "Agents",
    summary = "Change an agent's name or role (administrators)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    request_body = AgentChanges,
    responses((status = 200, body = views::Agent), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn update_agent(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
    AppJson(body): AppJson<AgentChanges>,
) -> Result<Json<Value>, ApiError> {
    member.require_admin()?;
    let current = state.store.get_agent(member.account_id, id).await?;
    // Validate everything before writing anything.
    let role = match &body.role {
        Some(name) => {
            Some(role::parse(name).ok_or_else(|| ApiError::Unprocessable(format!("unknown role {name:?}")))?)
        }
        None => None,
    };
    let name = body.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if name.is_some() && (current.super_admin || state.store.user_accounts(id).await?.len() > 1) {
        // A user's name is shared by every account they belong to; one
        // account's administrator may not change what the others see.
        return Err(ApiError::Unprocessable(
            "this user belongs to other accounts too; only they can change their name".into(),
        ));
    }
    if let Some(name) = name {
        state.store.rename_user(id, name).await?;
    }
    if let Some(role) = role {
        state
            .store
            .set_membership(member.account_id, current.id, role)
            .await?;
    }
    let agent = state.store.get_agent(member.account_id, id).await?;
    Ok(Json(views::agent(&agent, member.account_id)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}/agents/{id}",
    tag = "Agents",
    summary = "Remove an agent from the account (administrators)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = Object), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn delete_agent(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    member.require_admin()?;
    if id == member.user.user_id {
        return Err(ApiError::Unprocessable(
            "you cannot remove yourself from the account".into(),
        ));
    }
    state.store.remove_membership(member.account_id, id).await?;
    Ok(Json(json!({})))
}
