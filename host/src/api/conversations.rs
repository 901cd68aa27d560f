//! `/api/v1/accounts/{account_id}/conversations`: list (25 a page, with the
//! Mine / Unassigned / All counts), meta, show, create, toggle_status,
//! assignments, labels, and a contact's conversations. Agents see only the
//! conversations of inboxes they belong to.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AppJson, OptionalJson, lenient};
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

/// The list's query parameters, for the document (read by [`ListQueryString`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ListParams {
    /// Open when absent.
    #[param(inline)]
    status: Option<StatusParam>,
    #[param(inline)]
    assignee_type: Option<AssigneeParam>,
    inbox_id: Option<i64>,
    team_id: Option<i64>,
    /// Text in the conversation's messages (any case).
    q: Option<String>,
    /// Conversations with any of these labels (`labels[]=a&labels[]=b`).
    #[param(rename = "labels[]")]
    labels: Option<Vec<String>>,
    /// 1-based; a page below 1 is the first.
    #[param(maximum = 1000000)]
    page: Option<i64>,
}

/// A status to list by.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum StatusParam {
    Open,
    Resolved,
    Pending,
    Snoozed,
    All,
}

/// Whose conversations to list.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum AssigneeParam {
    Me,
    Unassigned,
    Assigned,
    All,
}

/// The list's query string: repeated keys (`labels[]`) need more than
/// axum's `Query`.
struct ListQueryString(ListQuery);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ListQueryString {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let mut query = ListQuery::default();
        let int = |key: &str, value: &str| {
            super::extract::lenient::id_text(value)
                .ok_or_else(|| ApiError::BadRequest(format!("{key} must be an integer")))
        };
        let text = parts.uri.query().unwrap_or_default();
        for (key, value) in url::form_urlencoded::parse(text.as_bytes()) {
            match key.as_ref() {
                "status" => query.status = Some(value.into_owned()),
                "assignee_type" => query.assignee_type = Some(value.into_owned()),
                "inbox_id" if !value.is_empty() => query.inbox_id = Some(int(&key, &value)?),
                "team_id" if !value.is_empty() => query.team_id = Some(int(&key, &value)?),
                "page" if !value.is_empty() => query.page = Some(int(&key, &value)?),
                // NUL cannot be in stored text, so it cannot match either.
                "q" if !value.trim().is_empty() => query.q = Some(value.replace('\0', "")),
                "labels[]" | "labels" if !value.is_empty() => query.labels.push(value.replace('\0', "")),
                _ => {}
            }
        }
        Ok(Self(query))
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
    ListQueryString(query): ListQueryString,
) -> Result<Json<Value>, ApiError> {
    let (payload, counts) = use_case::list(&state, &member, &query).await?;
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
    ListQueryString(query): ListQueryString,
) -> Result<Json<Value>, ApiError> {
    let counts = use_case::counts(&state, &member, &query).await?;
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
    /// An id; also as a string (`"2"`) or a whole float (`2.0`), as Rails reads them.
    #[serde(deserialize_with = "lenient::id")]
    #[schema(minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    inbox_id: i64,
    #[serde(default, deserialize_with = "lenient::opt_id")]
    #[schema(minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    contact_id: Option<i64>,
    source_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_id")]
    #[schema(minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    assignee_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_id")]
    #[schema(minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    team_id: Option<i64>,
    #[schema(value_type = Option<ToggleStatus>)]
    status: Option<String>,
    /// The first message, posted with the conversation.
    message: Option<FirstMessage>,
}

/// Chatwoot's `message` of a conversation create.
#[derive(Deserialize, utoipa::ToSchema)]
struct FirstMessage {
    content: Option<String>,
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
        team_id: body.team_id,
        status: body.status,
        message: body.message.and_then(|m| m.content),
    };
    Ok(Json(use_case::open(&state, &member, new).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
struct ToggleBody {
    #[schema(value_type = Option<ToggleStatus>)]
    status: Option<String>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "lenient::opt_id")]
    #[schema(minimum = 0, maximum = 9_000_000_000_000_i64)]
    snoozed_until: Option<i64>,
}

/// A status to change to.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum ToggleStatus {
    Open,
    Resolved,
    Pending,
    Snoozed,
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

/// Chatwoot's assignment: `assignee_id` (null unassigns) or else `team_id`
/// (null clears the team); neither changes nothing.
#[derive(Deserialize, Default, utoipa::ToSchema)]
struct AssignBody {
    #[serde(default, deserialize_with = "lenient::present_id")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    assignee_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "lenient::present_id")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    team_id: Option<Option<i64>>,
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}/assignments",
    tag = "Conversations",
    summary = "Assign to an agent (null unassigns), or else to a team (null clears it); answers the agent or team",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id")),
    request_body = AssignBody,
    responses((status = 200, body = Option<views::Agent>), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn assign(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
    body: OptionalJson<AssignBody>,
) -> Result<Json<Value>, ApiError> {
    let OptionalJson(body) = body;
    let body = body.unwrap_or_default();
    let assignment = match (body.assignee_id, body.team_id) {
        (Some(agent), _) => use_case::Assignment::Agent(agent),
        (None, Some(team)) => use_case::Assignment::Team(team),
        (None, None) => use_case::Assignment::Nothing,
    };
    let outcome = use_case::change_assignment(&state, &member, display_id, assignment).await?;
    Ok(Json(match outcome {
        use_case::Assigned::Agent(Some(agent)) => views::agent(&agent, member.account_id),
        use_case::Assigned::Team(Some(team)) => views::team(&team, false),
        _ => Value::Null,
    }))
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
