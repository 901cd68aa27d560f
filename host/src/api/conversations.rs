//! `/api/v1/accounts/{account_id}/conversations`: list (25 a page, with the
//! Mine / Unassigned / All counts), meta, show, create, toggle_status,
//! assignments, labels, and a contact's conversations. Agents see only the
//! conversations of inboxes they belong to.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AppJson, OptionalJson};
use super::{ApiError, AppState};
use crate::app::Member;
use crate::app::conversations::{self as use_case, ListQuery, counts_json};
use crate::app::views;
use crate::conversations::ChatwootCode;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(meta))
        .routes(routes!(show))
        .routes(routes!(toggle_status))
        .routes(routes!(assign))
        .routes(routes!(labels, set_labels))
        .routes(routes!(of_contact))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    status: Option<String>,
    assignee_type: Option<String>,
    inbox_id: Option<i64>,
    page: Option<i64>,
}

impl From<ListParams> for ListQuery {
    fn from(p: ListParams) -> Self {
        Self {
            status: p.status,
            assignee_type: p.assignee_type,
            inbox_id: p.inbox_id,
            page: p.page,
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/conversations",
    tag = "Conversations",
    summary = "List conversations, 25 a page, with the Mine / Unassigned / All counts",
    params(("account_id" = i64, Path, description = "Account id"), ListParams),
    responses((status = 200, body = super::openapi::ConversationList), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn list(
    member: Member,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let (payload, counts) = use_case::list(&state, &member, &params.into()).await?;
    Ok(Json(
        json!({ "data": { "meta": counts_json(&counts), "payload": payload } }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/conversations/meta",
    tag = "Conversations",
    summary = "The counts only",
    params(("account_id" = i64, Path, description = "Account id"), ListParams),
    responses((status = 200, body = super::openapi::ConversationCountsOnly), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn meta(
    member: Member,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let counts = use_case::counts(&state, &member, &params.into()).await?;
    Ok(Json(json!({ "meta": counts_json(&counts) })))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}",
    tag = "Conversations",
    summary = "Show a conversation",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id")),
    responses((status = 200, body = views::Conversation), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn show(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let conversation = use_case::visible_conversation(&state, &member, display_id).await?;
    Ok(Json(use_case::render_one(&state, conversation).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewConversation {
    inbox_id: i64,
    contact_id: Option<i64>,
    source_id: Option<String>,
    assignee_id: Option<i64>,
    status: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/conversations",
    tag = "Conversations",
    summary = "Open a conversation with a contact",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = NewConversation,
    responses((status = 200, body = views::Conversation), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn create(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<NewConversation>,
) -> Result<Json<Value>, ApiError> {
    let new = use_case::NewConversation {
        inbox_id: body.inbox_id,
        contact_id: body.contact_id,
        source_id: body.source_id,
        assignee_id: body.assignee_id,
        status: body.status,
    };
    Ok(Json(use_case::open(&state, &member, new).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
struct ToggleBody {
    status: Option<String>,
    snoozed_until: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}/toggle_status",
    tag = "Conversations",
    summary = "Change the status (without a body: open ↔ resolved)",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id")),
    request_body = ToggleBody,
    responses((status = 200, body = super::openapi::ToggleResult), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn toggle_status(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
    body: OptionalJson<ToggleBody>,
) -> Result<Json<Value>, ApiError> {
    let OptionalJson(body) = body;
    let body = body.unwrap_or_default();
    let change = use_case::StatusChange {
        status: body.status,
        snoozed_until: body.snoozed_until,
    };
    let next = use_case::change_status(&state, &member, display_id, change).await?;
    Ok(Json(json!({
        "meta": {},
        "payload": { "success": true, "current_status": next.name(), "conversation_id": display_id },
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct AssignBody {
    assignee_id: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}/assignments",
    tag = "Conversations",
    summary = "Assign to an agent, or unassign with null",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id")),
    request_body = AssignBody,
    responses((status = 200, body = Option<views::Agent>), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn assign(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
    AppJson(body): AppJson<AssignBody>,
) -> Result<Json<Value>, ApiError> {
    let assignee = use_case::assign(&state, &member, display_id, body.assignee_id).await?;
    Ok(Json(
        assignee
            .map(|a| views::agent(&a, member.account_id))
            .unwrap_or(Value::Null),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}/labels",
    tag = "Conversations",
    summary = "A conversation's labels",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id")),
    responses((status = 200, body = super::openapi::Labels), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn labels(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let labels = use_case::labels(&state, &member, display_id).await?;
    Ok(Json(json!({ "payload": labels })))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct LabelsBody {
    labels: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}/labels",
    tag = "Conversations",
    summary = "Replace a conversation's labels",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id")),
    request_body = LabelsBody,
    responses((status = 200, body = super::openapi::Labels), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn set_labels(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
    AppJson(body): AppJson<LabelsBody>,
) -> Result<Json<Value>, ApiError> {
    let labels = use_case::set_labels(&state, &member, display_id, &body.labels).await?;
    Ok(Json(json!({ "payload": labels })))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/contacts/{id}/conversations",
    tag = "Contacts",
    summary = "A contact's conversations",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = super::openapi::ConversationPayloadList), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn of_contact(
    member: Member,
    State(state): State<AppState>,
    Path((_account, contact_id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let payload = use_case::of_contact(&state, &member, contact_id).await?;
    Ok(Json(json!({ "payload": payload })))
}
