//! `/api/v1/accounts/{account_id}/contacts`: list (15 a page, with
//! `meta.count`), search, show, create and update (JSON, or multipart with the
//! picture as an `avatar` file), the uploaded picture, and (administrators)
//! delete.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::extract::{AppJson, lenient};
use super::{ApiError, AppState};
use crate::app::Member;
use crate::app::contacts::{self as use_case, ContactInput, ContactPage};
use crate::app::views;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create).layer(DefaultBodyLimit::max(FORM_BYTES)))
        .routes(routes!(search))
        // PUT is Chatwoot's other spelling of PATCH.
        .routes(routes!(show, update, replace, remove).layer(DefaultBodyLimit::max(FORM_BYTES)))
        .routes(routes!(avatar))
}

/// A contact form with its picture.
const FORM_BYTES: usize = use_case::MAX_AVATAR_BYTES + (64 << 10);

/// A contact's uploaded picture (its `thumbnail`), for the account's members.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/contacts/{id}/avatar",
    tag = "Contacts",
    summary = "A contact's uploaded picture",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    responses((status = 200, description = "The image", content_type = "image/png"), super::openapi::DownloadErrors),
    security(("api_access_token" = [])),
)]
async fn avatar(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (content_type, data) = use_case::avatar(&state, &member, id).await?;
    // Only raster images are stored; still, nothing served here may script.
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'".to_owned(),
            ),
        ],
        data,
    )
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// 1-based; a page below 1 is the first.
    #[param(maximum = 1000000)]
    page: Option<i64>,
    q: Option<String>,
}

/// A search's query (what [`ListParams`] reads, with `q` required).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct SearchParams {
    #[param(maximum = 1000000)]
    page: Option<i64>,
    /// Part of a name, email, phone number or identifier.
    #[param(pattern = r"\S")]
    q: String,
}

impl ListParams {
    /// The search text; NUL cannot be in stored text, so it cannot match.
    fn q(&self) -> Option<String> {
        self.q.as_ref().map(|q| q.replace('\0', ""))
    }
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
    let page = use_case::list(&state, &member, params.page, params.q().as_deref()).await?;
    Ok(page_json(&page))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/contacts/search",
    tag = "Contacts",
    summary = "Search contacts by name, email, phone or identifier",
    params(("account_id" = i64, Path, description = "Account id"), SearchParams),
    responses((status = 200, body = super::openapi::ContactList), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn search(
    member: Member,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let page = use_case::search(&state, &member, params.page, params.q().as_deref()).await?;
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
    let (contact, identities) = use_case::show_with_inboxes(&state, &member, id).await?;
    Ok(Json(
        json!({ "payload": views::contact_with_inboxes(&contact, &identities) }),
    ))
}

/// A contact's fields. As in Chatwoot, fields it does not know are accepted
/// and ignored, and the same fields may come as `multipart/form-data` (its
/// avatar upload), with attributes as `additional_attributes[key]`.
#[derive(Deserialize, Default, utoipa::ToSchema)]
struct ContactBody {
    name: Option<String>,
    /// Empty for none.
    #[schema(pattern = r"^(|\S*@\S*)$")]
    email: Option<String>,
    /// E.164 (`+` and 2 to 15 digits); empty for none.
    #[schema(pattern = r"^(|\+[0-9]{2,15})$")]
    phone_number: Option<String>,
    identifier: Option<String>,
    avatar_url: Option<String>,
    #[serde(default, deserialize_with = "opt_flag")]
    #[schema(value_type = Option<bool>)]
    blocked: Option<bool>,
    additional_attributes: Option<serde_json::Map<String, Value>>,
    custom_attributes: Option<serde_json::Map<String, Value>>,
    /// Creation only (an update ignores it, as Chatwoot does).
    #[serde(default, deserialize_with = "lenient::opt_id")]
    inbox_id: Option<i64>,
    source_id: Option<String>,
}

fn opt_flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    lenient::flag(d).map(Some)
}

/// A contact body, JSON or multipart (with the picture as an `avatar` file).
struct ContactForm(ContactBody, Option<use_case::Avatar>);

impl axum::extract::FromRequest<AppState> for ContactForm {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let multipart = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let AppJson(body) = AppJson::<ContactBody>::from_request(req, state).await?;
            return Ok(Self(body, None));
        }
        let mut form = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let bad = |e: axum::extract::multipart::MultipartError| match e.status() {
            axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::BadRequest(e.body_text()),
        };
        let mut body = ContactBody::default();
        let mut avatar = None;
        while let Some(field) = form.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or_default().to_owned();
            if field.file_name().is_some() {
                // Chatwoot's clients send the picture as `avatar`; other
                // files are read and dropped, as it ignores them.
                let content_type = field.content_type().unwrap_or_default().to_owned();
                let data = field.bytes().await.map_err(bad)?;
                if name == "avatar" {
                    avatar = Some(use_case::Avatar {
                        content_type,
                        data: data.to_vec(),
                    });
                }
                continue;
            }
            let text = field.text().await.map_err(bad)?;
            let nested = |prefix: &str| {
                name.strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix('['))
                    .and_then(|rest| rest.strip_suffix(']'))
                    .map(str::to_owned)
            };
            if let Some(key) = nested("additional_attributes") {
                body.additional_attributes
                    .get_or_insert_with(Default::default)
                    .insert(key, Value::String(text));
                continue;
            }
            if let Some(key) = nested("custom_attributes") {
                body.custom_attributes
                    .get_or_insert_with(Default::default)
                    .insert(key, Value::String(text));
                continue;
            }
            let object = |text: &str| match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Ok(Some(map)),
                _ => Err(ApiError::BadRequest(format!("{name} must be a JSON object"))),
            };
            match name.as_str() {
                "name" => body.name = Some(text),
                "email" => body.email = Some(text),
                "phone_number" => body.phone_number = Some(text),
                "identifier" => body.identifier = Some(text),
                "avatar_url" => body.avatar_url = Some(text),
                "blocked" => body.blocked = Some(text == "true" || text == "1"),
                "additional_attributes" => body.additional_attributes = object(&text)?,
                "custom_attributes" => body.custom_attributes = object(&text)?,
                "inbox_id" if !text.trim().is_empty() => {
                    body.inbox_id = Some(
                        super::extract::lenient::id_text(&text)
                            .ok_or_else(|| ApiError::BadRequest("inbox_id must be an integer".into()))?,
                    )
                }
                "source_id" => body.source_id = Some(text),
                _ => {}
            }
        }
        Ok(Self(body, avatar))
    }
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
            avatar: None,
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
    ContactForm(body, avatar): ContactForm,
) -> Result<Json<Value>, ApiError> {
    let input = use_case::ContactInput {
        avatar,
        ..body.into()
    };
    let created = use_case::create(&state, &member, input).await?;
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
    responses((status = 200, body = super::openapi::ContactUpdated), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn update(
    member: Member,
    State(state): State<AppState>,
    Path((_account, id)): Path<(i64, i64)>,
    ContactForm(body, avatar): ContactForm,
) -> Result<Json<Value>, ApiError> {
    let input = use_case::ContactInput {
        avatar,
        ..body.into()
    };
    let contact = use_case::update(&state, &member, id, input).await?;
    Ok(Json(json!({ "payload": views::contact(&contact) })))
}

#[utoipa::path(
    put,
    path = "/api/v1/accounts/{account_id}/contacts/{id}",
    tag = "Contacts",
    summary = "Update a contact (the same as PATCH)",
    params(("account_id" = i64, Path, description = "Account id"), ("id" = i64, Path, description = "Resource id")),
    request_body = ContactBody,
    responses((status = 200, body = super::openapi::ContactUpdated), super::openapi::CommonErrors),
    security(("api_access_token" = [])),
)]
async fn replace(
    member: Member,
    state: State<AppState>,
    path: Path<(i64, i64)>,
    body: ContactForm,
) -> Result<Json<Value>, ApiError> {
    update(member, state, path, body).await
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
