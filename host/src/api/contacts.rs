//! `/api/v1/accounts/{account_id}/contacts`: list (15 a page, with
//! `meta.count`), search, show, create, update and (administrators) delete.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::AppJson;
use super::{ApiError, AppState};
use crate::app::Member;
use crate::app::views;
use crate::store::{ContactChanges, NewContact};

/// Contacts per page, as in Chatwoot.
const PER_PAGE: i64 = 15;
/// Highest page number accepted (keeps OFFSET arithmetic far from overflow).
const MAX_PAGE: i64 = 1_000_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts/{account_id}/contacts", get(list).post(create))
        .route("/api/v1/accounts/{account_id}/contacts/search", get(search))
        .route(
            "/api/v1/accounts/{account_id}/contacts/{id}",
            get(show).patch(update).put(update).delete(remove),
        )
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    page: Option<i64>,
    q: Option<String>,
}

async fn page_of(state: &AppState, member: &Member, params: ListParams) -> Result<Json<Value>, ApiError> {
    let page = params.page.unwrap_or(1);
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(ApiError::BadRequest(format!(
            "page must be between 1 and {MAX_PAGE}"
        )));
    }
    let q = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let (contacts, count) = state
        .store
        .list_contacts(member.account_id, q, page, PER_PAGE)
        .await?;
    Ok(Json(json!({
        "meta": { "count": count, "current_page": page },
        "payload": contacts.iter().map(views::contact).collect::<Vec<_>>(),
    })))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/contacts",
    tag = "Contacts",
    summary = "List contacts, 15 a page, newest first",
    params(("account_id" = i64, Path, description = "Account id"), ListParams),
    responses((status = 200, body = super::openapi::ContactList), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn list(
    member: Member,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    page_of(&state, &member, params).await
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/contacts/search",
    tag = "Contacts",
    summary = "Search contacts by name, email, phone or identifier",
    params(("account_id" = i64, Path, description = "Account id"), ListParams),
    responses((status = 200, body = super::openapi::ContactList), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn search(
    member: Member,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    if params.q.as_deref().is_none_or(|q| q.trim().is_empty()) {
        return Err(ApiError::BadRequest("search needs a q parameter".into()));
    }
    page_of(&state, &member, params).await
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/contacts/{id}",
    tag = "Contacts",
    summary = "Show a contact",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, body = super::openapi::ContactPayload), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn show(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let contact = state.store.get_contact(member.account_id, id).await?;
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

impl ContactBody {
    fn validate(&self) -> Result<(), ApiError> {
        if let Some(email) = self.email.as_deref().filter(|e| !e.is_empty())
            && (!email.contains('@') || email.contains(char::is_whitespace))
        {
            return Err(ApiError::Unprocessable(format!("Email {email:?} is invalid")));
        }
        if let Some(phone) = self.phone_number.as_deref().filter(|p| !p.is_empty()) {
            let digits = phone.strip_prefix('+').unwrap_or("");
            if digits.len() < 2 || digits.len() > 15 || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(ApiError::Unprocessable(format!(
                    "Phone number {phone:?} should be in e164 format (+ and digits)"
                )));
            }
        }
        Ok(())
    }
}

fn blank_to_none(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/contacts",
    tag = "Contacts",
    summary = "Create a contact, optionally with its identity in an inbox",
    params(("account_id" = i64, Path, description = "Account id")),
    request_body = ContactBody,
    responses((status = 200, body = super::openapi::ContactCreated), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn create(
    member: Member,
    State(state): State<AppState>,
    AppJson(body): AppJson<ContactBody>,
) -> Result<Json<Value>, ApiError> {
    body.validate()?;
    let inbox = match body.inbox_id {
        Some(inbox_id) => {
            crate::app::conversations::visible_inbox(&state, &member, inbox_id).await?;
            let source_id = body.source_id.clone().unwrap_or_else(crate::accounts::new_token);
            Some((inbox_id, source_id))
        }
        None => None,
    };
    let contact = NewContact {
        name: body.name.unwrap_or_default(),
        email: blank_to_none(body.email),
        phone_number: blank_to_none(body.phone_number),
        identifier: blank_to_none(body.identifier),
        avatar_url: blank_to_none(body.avatar_url),
        additional_attributes: Value::Object(body.additional_attributes.unwrap_or_default()).to_string(),
        custom_attributes: Value::Object(body.custom_attributes.unwrap_or_default()).to_string(),
    };
    let created = state
        .store
        .insert_contact(
            member.account_id,
            &contact,
            inbox.as_ref().map(|(id, source)| (*id, source.as_str())),
        )
        .await?;
    let contact_inbox =
        inbox.map(|(inbox_id, source_id)| json!({ "inbox_id": inbox_id, "source_id": source_id }));
    Ok(Json(
        json!({ "payload": { "contact": views::contact(&created), "contact_inbox": contact_inbox } }),
    ))
}

#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{account_id}/contacts/{id}",
    tag = "Contacts",
    summary = "Update a contact (PUT works too)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    request_body = ContactBody,
    responses((status = 200, body = super::openapi::ContactPayload), (status = 401, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)),
    security(("api_access_token" = [])),
)]
async fn update(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
    AppJson(body): AppJson<ContactBody>,
) -> Result<Json<Value>, ApiError> {
    body.validate()?;
    let changes = ContactChanges {
        name: body.name,
        email: blank_to_none(body.email),
        phone_number: blank_to_none(body.phone_number),
        identifier: blank_to_none(body.identifier),
        avatar_url: body.avatar_url,
        blocked: body.blocked,
        additional_attributes: body.additional_attributes.map(|m| Value::Object(m).to_string()),
        custom_attributes: body.custom_attributes.map(|m| Value::Object(m).to_string()),
    };
    let contact = state
        .store
        .update_contact(member.account_id, id, &changes)
        .await?;
    Ok(Json(json!({ "payload": views::contact(&contact) })))
}

#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}/contacts/{id}",
    tag = "Contacts",
    summary = "Delete a contact and its conversations (administrators)",
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
    state.store.delete_contact(member.account_id, id).await?;
    Ok(Json(json!({})))
}
