//! Profile, account and agents: `/api/v1/profile`,
//! `/api/v1/accounts/{account_id}` and `/api/v1/accounts/{account_id}/agents`.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::extract::AppJson;
use super::{ApiError, AppState};
use crate::app::Member;
use crate::app::views;
use crate::app::{accounts, agents};
use crate::store::AccountChanges;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(profile))
        .routes(routes!(show_account, update_account))
        .routes(routes!(list_agents, create_agent))
        .routes(routes!(update_agent, delete_agent))
}

#[utoipa::path(
    get,
    path = "/api/v1/profile",
    tag = "Accounts",
    summary = "The token's user and their accounts",
    responses((status = 200, body = views::Profile), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn profile(
    Caller(owner): Caller,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token = headers.get("api_access_token").and_then(|v| v.to_str().ok());
    Ok(Json(accounts::profile_with_token(&state, &owner, token).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}",
    tag = "Accounts",
    summary = "Show the account",
    params(("account_id" = i64, Path, description = "Account id")),
    responses((status = 200, body = views::Account), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn show_account(member: Member, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(accounts::show(&state, &member).await?))
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
    responses((status = 200, body = views::Account), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn update_account(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<AccountBody>,
) -> Result<Json<Value>, ApiError> {
    let changes = AccountChanges {
        name: body.name,
        locale: body.locale,
        domain: body.domain,
        support_email: body.support_email,
    };
    Ok(Json(accounts::update(&state, &member, changes).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/agents",
    tag = "Agents",
    summary = "List agents",
    params(("account_id" = i64, Path, description = "Account id")),
    responses((status = 200, body = Vec<views::Agent>), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn list_agents(member: Member, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let list = agents::list(&state, &member).await?;
    Ok(Json(Value::Array(
        list.iter().map(|a| views::agent(a, member.account_id)).collect(),
    )))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewAgent {
    #[schema(pattern = r"\S")]
    name: String,
    #[schema(pattern = "@")]
    email: String,
    /// `agent` when absent.
    #[schema(value_type = Option<RoleName>)]
    role: Option<String>,
}

/// A role in the account.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum RoleName {
    Agent,
    Administrator,
}

/// An agent's availability.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum Availability {
    Online,
    Offline,
    Busy,
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/agents",
    tag = "Agents",
    summary = "Add an agent (administrators)",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = NewAgent,
    responses((status = 200, body = views::Agent), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn create_agent(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<NewAgent>,
) -> Result<Json<Value>, ApiError> {
    let role = body.role.as_deref().unwrap_or("agent");
    let agent = agents::add(&state, &member, &body.name, &body.email, role).await?;
    Ok(Json(views::agent(&agent, member.account_id)))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct AgentChanges {
    name: Option<String>,
    #[schema(value_type = Option<RoleName>)]
    role: Option<String>,
    #[schema(value_type = Option<Availability>)]
    availability: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{account_id}/agents/{id}",
    tag = "Agents",
    summary = "Change an agent's name, role or availability (administrators)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    request_body = AgentChanges,
    responses((status = 200, body = views::Agent), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn update_agent(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
    AppJson(body): AppJson<AgentChanges>,
) -> Result<Json<Value>, ApiError> {
    let agent = agents::update_with_availability(
        &state,
        &member,
        id,
        body.name.as_deref(),
        body.role.as_deref(),
        body.availability.as_deref(),
    )
    .await?;
    Ok(Json(views::agent(&agent, member.account_id)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}/agents/{id}",
    tag = "Agents",
    summary = "Remove an agent from the account (administrators)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = Object), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn delete_agent(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    agents::remove(&state, &member, id).await?;
    Ok(Json(json!({})))
}
