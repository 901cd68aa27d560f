//! `/api/v1/accounts/{account_id}/contacts`: list (15 a page, with
//! `meta.count`), search, show, create, update and (administrators) delete.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::extract::AppJson;
use super::{ApiError, AppState};
use crate::app::Member;
use crate::app::contacts::{self as use_case, ContactInput, ContactPage};
use crate::app::views;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(search))
        // PUT is Chatwoot's other spelling of PATCH, documented with it.
        .routes(routes!(show, update, remove).map(|route| route.put(update)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    page: Option<i64>,
    q: Option<String>,
}

fn page_json(page: &ContactPage) -> Json<Value> {
    Json(json!({
        "meta": { "count": page.count, "current_page": page.page },
        "payload": page.contacts.iter().map(views::contact).collect::<Vec<_>>(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/contacts",
    tag = "Contacts",
    summary = "List contacts, 15 a page, newest first",
    params(("account_id" = i64, Path, description = "Account id"), ListParams),
    responses((status = 200, body = super::openapi::ContactList), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn list(
    member: Member,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let page = use_case::list(&state, &member, params.page, params.q.as_deref()).await?;
    Ok(page_json(&page))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/contacts/search",
    tag = "Contacts",
    summary = "Search contacts by name, email, phone or identifier",
    params(("account_id" = i64, Path, description = "Account id"), ListParams),
    responses((status = 200, body = super::openapi::ContactList), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn search(
    member: Member,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let page = use_case::search(&state, &member, params.page, params.q.as_deref()).await?;
    Ok(page_json(&page))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/contacts/{id}",
    tag = "Contacts",
    summary = "Show a contact",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = super::openapi::ContactPayload), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn show(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let contact = use_case::show(&state, &member, id).await?;
    Ok(Json(json!({ "payload": views::contact(&contact) })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ContactBody {
    name: Option<String>,
    email: Option<String>,
    phone_number: Option<String>,
    identifier: Option<String>,
    avatar_url: Option<String>,
    blocked: Option<bool>,
    additional_attributes: Option<serde_json::Map<String, Value>>,
    custom_attributes: Option<serde_json::Map<String, Value>>,
    inbox_id: Option<i64>,
    source_id: Option<String>,
}

impl From<ContactBody> for ContactInput {
    fn from(b: ContactBody) -> Self {
        Self {
            name: b.name,
            email: b.email,
            phone_number: b.phone_number,
            identifier: b.identifier,
            avatar_url: b.avatar_url,
            blocked: b.blocked,
            additional_attributes: b.additional_attributes,
            custom_attributes: b.custom_attributes,
            inbox_id: b.inbox_id,
            source_id: b.source_id,
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/contacts",
    tag = "Contacts",
    summary = "Create a contact, optionally with its identity in an inbox",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = ContactBody,
    responses((status = 200, body = super::openapi::ContactCreated), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn create(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<ContactBody>,
) -> Result<Json<Value>, ApiError> {
    let created = use_case::create(&state, &member, body.into()).await?;
    let contact_inbox = created
        .contact_inbox
        .map(|(inbox_id, source_id)| json!({ "inbox_id": inbox_id, "source_id": source_id }));
    Ok(Json(
        json!({ "payload": { "contact": views::contact(&created.contact), "contact_inbox": contact_inbox } }),
    ))
}

#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{account_id}/contacts/{id}",
    tag = "Contacts",
    summary = "Update a contact (PUT works too)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    request_body = ContactBody,
    responses((status = 200, body = super::openapi::ContactPayload), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn update(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
    AppJson(body): AppJson<ContactBody>,
) -> Result<Json<Value>, ApiError> {
    let contact = use_case::update(&state, &member, id, body.into()).await?;
    Ok(Json(json!({ "payload": views::contact(&contact) })))
}

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}/contacts/{id}",
    tag = "Contacts",
    summary = "Delete a contact and its conversations (administrators)",
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
