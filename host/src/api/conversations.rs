//! `/api/v1/accounts/{account_id}/conversations`: list (25 a page, with the
//! Mine / Unassigned / All counts), meta, show, create, toggle_status,
//! assignments, labels, and a contact's conversations. Agents see only the
//! conversations of inboxes they belong to.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Member;
use super::extract::AppJson;
use super::inboxes::visible_inbox;
use super::views::{self, ConversationParts};
use super::{ApiError, AppState};
use crate::conversations::status;
use crate::store::{ConversationFilter, ConversationRow};

/// Conversations per page, as in Chatwoot.
const PER_PAGE: i64 = 25;
/// Highest page number accepted (keeps OFFSET arithmetic far from overflow).
const MAX_PAGE: i64 = 1_000_000;

pub fn router() -> Router<AppState> {
    let base = "/api/v1/accounts/{account_id}/conversations";
    Router::new()
        .route(base, get(list).post(create))
        .route(&format!("{base}/meta"), get(meta))
        .route(&format!("{base}/{{display_id}}"), get(show))
        .route(
            &format!("{base}/{{display_id}}/toggle_status"),
            post(toggle_status),
        )
        .route(&format!("{base}/{{display_id}}/assignments"), post(assign))
        .route(
            &format!("{base}/{{display_id}}/labels"),
            get(labels).post(set_labels),
        )
        .route(
            "/api/v1/accounts/{account_id}/contacts/{id}/conversations",
            get(of_contact),
        )
}

/// A conversation the member may see.
pub async fn visible_conversation(
    state: &AppState,
    member: &Member,
    display_id: i64,
) -> Result<ConversationRow, ApiError> {
    let conversation = state
        .store
        .get_conversation(member.account_id, display_id)
        .await?;
    visible_inbox(state, member, conversation.inbox_id).await?;
    Ok(conversation)
}

/// Renders conversations with their contacts, assignees, last messages and labels.
pub async fn render(state: &AppState, conversations: &[ConversationRow]) -> Result<Vec<Value>, ApiError> {
    let Some(first) = conversations.first() else {
        return Ok(Vec::new());
    };
    let account_id = first.account_id;
    let ids: Vec<i64> = conversations.iter().map(|c| c.id).collect();
    let mut contact_ids: Vec<i64> = conversations.iter().map(|c| c.contact_id).collect();
    contact_ids.sort_unstable();
    contact_ids.dedup();
    let contacts: HashMap<i64, _> = state
        .store
        .contacts_by_id(account_id, &contact_ids)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let agents: HashMap<i64, _> = state
        .store
        .list_agents(account_id)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let last: HashMap<i64, _> = state
        .store
        .last_messages(&ids)
        .await?
        .into_iter()
        .map(|m| (m.conversation_id, m))
        .collect();
    let mut labels: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, label) in state.store.labels_of(&ids).await? {
        labels.entry(id).or_default().push(label);
    }
    let mut inboxes = HashMap::new();
    let now = crate::store::now_ms();
    let mut out = Vec::with_capacity(conversations.len());
    for c in conversations {
        if let std::collections::hash_map::Entry::Vacant(slot) = inboxes.entry(c.inbox_id) {
            slot.insert(state.store.get_inbox(account_id, c.inbox_id).await?);
        }
        let inbox = &inboxes[&c.inbox_id];
        let can_reply = state.plugins.get(&inbox.channel).is_some_and(|p| {
            crate::conversations::can_reply(p.manifest.reply_window, c.contact_last_inbound_at, now)
        });
        let contact = contacts
            .get(&c.contact_id)
            .ok_or_else(|| ApiError::Internal("contact vanished".into()))?;
        let parts = ConversationParts {
            contact,
            assignee: c.assignee_id.and_then(|id| agents.get(&id)),
            last_message: last.get(&c.id),
            labels: labels.remove(&c.id).unwrap_or_default(),
            channel: &inbox.channel,
            can_reply,
        };
        out.push(views::conversation(c, &parts));
    }
    Ok(out)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    status: Option<String>,
    assignee_type: Option<String>,
    inbox_id: Option<i64>,
    page: Option<i64>,
}

fn filter_for(member: &Member, params: &ListParams) -> Result<ConversationFilter, ApiError> {
    let status = match params.status.as_deref().unwrap_or("open") {
        "all" => None,
        name => Some(
            status::parse(name).ok_or_else(|| ApiError::BadRequest(format!("unknown status {name:?}")))?,
        ),
    };
    let assignee_type = params.assignee_type.clone().unwrap_or_else(|| "all".into());
    if !["me", "unassigned", "assigned", "all"].contains(&assignee_type.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "unknown assignee_type {assignee_type:?}"
        )));
    }
    let page = params.page.unwrap_or(1);
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(ApiError::BadRequest(format!(
            "page must be between 1 and {MAX_PAGE}"
        )));
    }
    Ok(ConversationFilter {
        status,
        inbox_id: params.inbox_id,
        member_id: (!member.is_admin()).then_some(member.user.user_id),
        assignee_type,
        user_id: member.user.user_id,
        page,
        per_page: PER_PAGE,
    })
}

fn counts_json(counts: crate::store::ConversationCounts) -> Value {
    json!({
        "mine_count": counts.mine,
        "unassigned_count": counts.unassigned,
        "assigned_count": counts.all - counts.unassigned,
        "all_count": counts.all,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/conversations",
    tag = "Conversations",
    summary = "List conversations, 25 a page, with the Mine / Unassigned / All counts",
    params(("account_id" = i64, Path, description = "Account id"), ListParams),
    responses((status = 200, body = super::openapi::ConversationList), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn list(
    member: Member,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let filter = filter_for(&member, &params)?;
    let (conversations, counts) = state.store.list_conversations(member.account_id, &filter).await?;
    let payload = render(&state, &conversations).await?;
    Ok(Json(
        json!({ "data": { "meta": counts_json(counts), "payload": payload } }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/conversations/meta",
    tag = "Conversations",
    summary = "The counts only",
    params(("account_id" = i64, Path, description = "Account id"), ListParams),
    responses((status = 200, body = super::openapi::ConversationCountsOnly), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn meta(
    member: Member,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let filter = ConversationFilter {
        per_page: 0,
        ..filter_for(&member, &params)?
    };
    let (_, counts) = state.store.list_conversations(member.account_id, &filter).await?;
    Ok(Json(json!({ "meta": counts_json(counts) })))
}

async fn one(state: &AppState, conversation: ConversationRow) -> Result<Json<Value>, ApiError> {
    let mut rendered = render(state, std::slice::from_ref(&conversation)).await?;
    Ok(Json(rendered.pop().unwrap_or(Value::Null)))
}

/// Renders a conversation as it is now and pushes it to live clients as `name`.
pub(super) async fn push(
    state: &AppState,
    conversation: &ConversationRow,
    name: &str,
) -> Result<Value, ApiError> {
    let current = state
        .store
        .get_conversation(conversation.account_id, conversation.display_id)
        .await?;
    let Json(json) = one(state, current).await?;
    state
        .live
        .publish(
            conversation.account_id,
            Some(conversation.inbox_id),
            name,
            json.clone(),
        )
        .await;
    Ok(json)
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/conversations/{display_id}",
    tag = "Conversations",
    summary = "Show a conversation",
    params(("account_id" = i64, Path, description = "Account id"), ("display_id" = i64, Path, description = "Conversation display id")),
    responses((status = 200, body = views::Conversation), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn show(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let conversation = visible_conversation(&state, &member, display_id).await?;
    one(&state, conversation).await
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
    responses((status = 200, body = views::Conversation), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn create(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<NewConversation>,
) -> Result<Json<Value>, ApiError> {
    let inbox = visible_inbox(&state, &member, body.inbox_id).await?;
    let status = match body.status.as_deref() {
        None => status::OPEN,
        Some(name) => {
            status::parse(name).ok_or_else(|| ApiError::Unprocessable(format!("unknown status {name:?}")))?
        }
    };
    if let Some(assignee) = body.assignee_id {
        state.store.get_agent(member.account_id, assignee).await?;
    }
    let (contact_id, contact_inbox_id) = match (body.contact_id, body.source_id.as_deref()) {
        (Some(contact_id), source) => {
            state.store.get_contact(member.account_id, contact_id).await?;
            let identity = match state.store.contact_inbox(contact_id, inbox.id).await? {
                Some((id, _)) => id,
                None => {
                    let source = source.map(str::to_owned).unwrap_or_else(super::new_token);
                    state
                        .store
                        .insert_contact_inbox(contact_id, inbox.id, &source)
                        .await?
                }
            };
            (contact_id, identity)
        }
        (None, _) => {
            return Err(ApiError::Unprocessable(
                "a conversation needs a contact_id".into(),
            ));
        }
    };
    let conversation = state
        .store
        .insert_conversation(
            member.account_id,
            inbox.id,
            contact_id,
            Some(contact_inbox_id),
            status,
            body.assignee_id,
        )
        .await?;
    Ok(Json(push(&state, &conversation, "conversation.created").await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
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
    responses((status = 200, body = super::openapi::ToggleResult), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn toggle_status(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let conversation = visible_conversation(&state, &member, display_id).await?;
    // The body is optional: without one, the status toggles.
    let body: ToggleBody = if body.iter().all(u8::is_ascii_whitespace) {
        ToggleBody {
            status: None,
            snoozed_until: None,
        }
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    let snoozed_ms = match body.snoozed_until {
        Some(secs) => Some(
            secs.checked_mul(1000)
                .filter(|ms| *ms >= 0)
                .ok_or_else(|| ApiError::Unprocessable("snoozed_until is not a valid unix time".into()))?,
        ),
        None => None,
    };
    let next = match body.status.as_deref() {
        None => status::toggled(conversation.status),
        Some(name) => {
            status::parse(name).ok_or_else(|| ApiError::Unprocessable(format!("unknown status {name:?}")))?
        }
    };
    state
        .store
        .set_conversation_status(conversation.id, next, snoozed_ms)
        .await?;
    push(&state, &conversation, "conversation.status_changed").await?;
    Ok(Json(json!({
        "meta": {},
        "payload": { "success": true, "current_status": status::name(next), "conversation_id": display_id },
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
    responses((status = 200, body = Option<views::Agent>), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn assign(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
    AppJson(body): AppJson<AssignBody>,
) -> Result<Json<Value>, ApiError> {
    let conversation = visible_conversation(&state, &member, display_id).await?;
    let assignee = match body.assignee_id {
        Some(id) => Some(state.store.get_agent(member.account_id, id).await?),
        None => None,
    };
    state
        .store
        .assign_conversation(conversation.id, assignee.as_ref().map(|a| a.id))
        .await?;
    push(&state, &conversation, "conversation.updated").await?;
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
    responses((status = 200, body = super::openapi::Labels), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn labels(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let conversation = visible_conversation(&state, &member, display_id).await?;
    let labels: Vec<String> = state
        .store
        .labels_of(&[conversation.id])
        .await?
        .into_iter()
        .map(|(_, l)| l)
        .collect();
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
    responses((status = 200, body = super::openapi::Labels), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn set_labels(
    member: Member,
    State(state): State<AppState>,
    Path((_account, display_id)): Path<(i64, i64)>,
    AppJson(body): AppJson<LabelsBody>,
) -> Result<Json<Value>, ApiError> {
    let conversation = visible_conversation(&state, &member, display_id).await?;
    let mut labels: Vec<String> = body
        .labels
        .iter()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty())
        .collect();
    if labels
        .iter()
        .any(|l| l.len() > 255 || l.contains(char::is_whitespace))
    {
        return Err(ApiError::Unprocessable(
            "labels are single words of at most 255 characters".into(),
        ));
    }
    labels.sort();
    labels.dedup();
    state.store.set_labels(conversation.id, &labels).await?;
    push(&state, &conversation, "conversation.updated").await?;
    Ok(Json(json!({ "payload": labels })))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/contacts/{id}/conversations",
    tag = "Contacts",
    summary = "A contact's conversations",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = super::openapi::ConversationPayloadList), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn of_contact(
    member: Member,
    State(state): State<AppState>,
    Path((_account, contact_id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    state.store.get_contact(member.account_id, contact_id).await?;
    let only = (!member.is_admin()).then_some(member.user.user_id);
    let conversations = state
        .store
        .contact_conversations(member.account_id, contact_id, only)
        .await?;
    Ok(Json(json!({ "payload": render(&state, &conversations).await? })))
}
