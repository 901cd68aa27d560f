//! `/api/v1/accounts/{account_id}/teams` and their `team_members`, in
//! Chatwoot's shapes (bare arrays, no `payload` wrapper). Everyone in the
//! account reads them; administrators change them.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AppJson, lenient};
use super::{ApiError, AppState};
use crate::app::Member;
use crate::app::teams::{self as use_case, MembersChange, TeamInput};
use crate::app::views;
use crate::store::UserRow;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(members, add_members, replace_members, remove_members))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/teams",
    tag = "Teams",
    summary = "The account's teams",
    params(("account_id" = i64, Path, description = "Account id")),
    responses((status = 200, body = Vec<views::Team>), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn list(member: Member, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let teams = use_case::list(&state, &member).await?;
    Ok(Json(Value::Array(
        teams.iter().map(|(t, mine)| views::team(t, *mine)).collect(),
    )))
}

/// A new team (the same fields may come nested under `team`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct NewTeam {
    #[schema(pattern = r"\S", max_length = 255)]
    name: String,
    description: Option<String>,
    allow_auto_assign: Option<bool>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
struct TeamBody {
    #[schema(pattern = r"\S", max_length = 255)]
    name: Option<String>,
    description: Option<String>,
    allow_auto_assign: Option<bool>,
}

impl From<TeamBody> for TeamInput {
    fn from(b: TeamBody) -> Self {
        Self {
            name: b.name,
            description: b.description,
            allow_auto_assign: b.allow_auto_assign,
        }
    }
}

/// Chatwoot nests the fields under `team` or sends them flat; both work.
#[derive(Deserialize, utoipa::ToSchema)]
struct TeamRequest {
    team: Option<TeamBody>,
    #[serde(flatten)]
    flat: TeamBody,
}

impl TeamRequest {
    fn input(self) -> TeamInput {
        self.team.unwrap_or(self.flat).into()
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/teams",
    tag = "Teams",
    summary = "Create a team (administrators)",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = NewTeam,
    responses((status = 200, body = views::Team), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn create(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<TeamRequest>,
) -> Result<Json<Value>, ApiError> {
    let team = use_case::create(&state, &member, body.input()).await?;
    Ok(Json(views::team(&team, false)))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/teams/{id}",
    tag = "Teams",
    summary = "Show a team",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Team id")),
    responses((status = 200, body = views::Team), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn show(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let (team, mine) = use_case::show(&state, &member, id).await?;
    Ok(Json(views::team(&team, mine)))
}

#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{account_id}/teams/{id}",
    tag = "Teams",
    summary = "Change a team (administrators)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Team id")),
    request_body = TeamBody,
    responses((status = 200, body = views::Team), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn update(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
    AppJson(body): AppJson<TeamRequest>,
) -> Result<Json<Value>, ApiError> {
    let team = use_case::update(&state, &member, id, body.input()).await?;
    Ok(Json(views::team(&team, false)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}/teams/{id}",
    tag = "Teams",
    summary = "Delete a team (administrators); its conversations lose the team",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Team id")),
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
    Json(Value::Array(
        agents.iter().map(|a| views::agent(a, account_id)).collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/teams/{team_id}/team_members",
    tag = "Teams",
    summary = "A team's members",
    params(("account_id" = i64, Path, description = "Account id"), ("team_id" = i64, Path, description = "Team id")),
    responses((status = 200, body = Vec<views::Agent>), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn members(
    member: Member,
    State(state): State<AppState>,
    Path((_account, team_id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let agents = use_case::members(&state, &member, team_id).await?;
    Ok(agents_json(&agents, member.account_id))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct TeamMembersBody {
    #[serde(deserialize_with = "lenient::ids")]
    user_ids: Vec<i64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/teams/{team_id}/team_members",
    tag = "Teams",
    summary = "Add members to a team (administrators); answers the members added",
    params(("account_id" = i64, Path, description = "Account id"), ("team_id" = i64, Path, description = "Team id")),
    request_body = TeamMembersBody,
    responses((status = 200, body = Vec<views::Agent>), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn add_members(
    member: Member,
    State(state): State<AppState>,
    Path((_account, team_id)): Path<(i64, i64)>,
    AppJson(body): AppJson<TeamMembersBody>,
) -> Result<Json<Value>, ApiError> {
    let agents =
        use_case::change_members(&state, &member, team_id, &body.user_ids, MembersChange::Add).await?;
    let added: Vec<UserRow> = agents
        .into_iter()
        .filter(|a| body.user_ids.contains(&a.id))
        .collect();
    Ok(agents_json(&added, member.account_id))
}

#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{account_id}/teams/{team_id}/team_members",
    tag = "Teams",
    summary = "Make a team's members exactly these users (administrators)",
    params(("account_id" = i64, Path, description = "Account id"), ("team_id" = i64, Path, description = "Team id")),
    request_body = TeamMembersBody,
    responses((status = 200, body = Vec<views::Agent>), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn replace_members(
    member: Member,
    State(state): State<AppState>,
    Path((_account, team_id)): Path<(i64, i64)>,
    AppJson(body): AppJson<TeamMembersBody>,
) -> Result<Json<Value>, ApiError> {
    let agents =
        use_case::change_members(&state, &member, team_id, &body.user_ids, MembersChange::Replace).await?;
    Ok(agents_json(&agents, member.account_id))
}

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}/teams/{team_id}/team_members",
    tag = "Teams",
    summary = "Remove members from a team (administrators)",
    params(("account_id" = i64, Path, description = "Account id"), ("team_id" = i64, Path, description = "Team id")),
    request_body = TeamMembersBody,
    responses((status = 200, body = Object), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn remove_members(
    member: Member,
    State(state): State<AppState>,
    Path((_account, team_id)): Path<(i64, i64)>,
    AppJson(body): AppJson<TeamMembersBody>,
) -> Result<Json<Value>, ApiError> {
    use_case::change_members(&state, &member, team_id, &body.user_ids, MembersChange::Remove).await?;
    Ok(Json(json!({})))
}
