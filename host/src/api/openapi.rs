//! The OpenAPI 3 document of the dashboard API, generated from the handlers'
//! `#[utoipa::path]` attributes and the typed shapes in `views`, served at
//! `GET /api/openapi.json`. Each route is declared once, in its attribute:
//! the modules' routers add handlers with `routes!`, which routes them and
//! collects their paths into the document. The envelope types below describe
//! the wrappers Chatwoot puts around lists, and the error sets the error
//! answers that operations share; the end-to-end suite checks real answers
//! against this document.

use std::collections::BTreeMap;

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use super::AppState;
use crate::app::views::{Agent, Contact, ContactWithInboxes, Conversation, Inbox, Message};

/// An error answer: `{"error": …}`, or Chatwoot's (devise's) `{"errors":
/// […]}` when no credential came at all or a sign-in failed.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Describes the answers `ApiError` builds.
pub enum ErrorBody {
    /// Most errors.
    Error {
        /// What went wrong, for people.
        error: String,
    },
    /// No credential, or a failed sign-in.
    Errors {
        /// What went wrong, for people.
        errors: Vec<String>,
    },
}

/// Error answers with an [`ErrorBody`], one a status.
fn error_answers(statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    let schema = Ref::from_schema_name(ErrorBody::name());
    let answer = ResponseBuilder::new()
        .content("application/json", Content::new(Some(schema)))
        .build();
    statuses
        .iter()
        .map(|status| (status.to_string(), answer.clone().into()))
        .collect()
}

/// Declares the sets of error answers that operations share, each a type to
/// name after the success answer: `responses((status = 200, body = …),
/// CommonErrors)`.
macro_rules! error_sets {
    ($($(#[$doc:meta])* $name:ident = [$($status:literal),+];)+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                error_answers(&[$($status),+])
            }
        }
    )+};
}

error_sets! {
    /// A signed-in route on the account's resources: malformed path, query
    /// or body, bad token (or not a member, or a role that may not), nothing
    /// there, a request that breaks a rule of the current state.
    CommonErrors = [400, 401, 404, 422];
    /// A super admin's route on one resource: also 403 for anyone else.
    AdminOneErrors = [400, 401, 403, 404, 422];
    /// A super admin's list or request with input to check.
    AdminInputErrors = [400, 401, 403];
    /// A super admin's route with no input.
    AdminErrors = [401, 403];
    /// Starting a provider authorization, and the account's webhooks: also
    /// 403 for a member who is not an administrator or an account without
    /// the feature.
    AuthorizeErrors = [400, 401, 403, 404, 422];
    /// A provider's webhook: unverified, no such channel, over the size
    /// limit, the channel plugin faulted verifying it (the same request
    /// would again), over the rate limit, the host short of plugin capacity
    /// or unable to log it (retry later).
    WebhookErrors = [401, 404, 413, 422, 429, 503];
    /// The OAuth redirect with a bad or stale query.
    CallbackErrors = [400];
    /// A download of what is not there (or not the caller's).
    DownloadErrors = [400, 401, 404];
}

/// Paging of a contact list.
#[derive(Serialize, ToSchema)]
pub struct ContactListMeta {
    /// Contacts matching, over all pages.
    count: i64,
    /// This page (1-based).
    current_page: i64,
}

/// A page of contacts.
#[derive(Serialize, ToSchema)]
pub struct ContactList {
    meta: ContactListMeta,
    payload: Vec<Contact>,
}

/// One contact, with its identities in inboxes.
#[derive(Serialize, ToSchema)]
pub struct ContactPayload {
    payload: ContactWithInboxes,
}

/// One contact as changed.
#[derive(Serialize, ToSchema)]
pub struct ContactUpdated {
    payload: Contact,
}

/// The identity created with a contact.
#[derive(Serialize, ToSchema)]
pub struct ContactInboxCreated {
    inbox_id: i64,
    source_id: String,
}

/// A created contact.
#[derive(Serialize, ToSchema)]
pub struct ContactCreatedPayload {
    contact: Contact,
    contact_inbox: Option<ContactInboxCreated>,
}

/// The answer to creating a contact.
#[derive(Serialize, ToSchema)]
pub struct ContactCreated {
    payload: ContactCreatedPayload,
}

/// Inboxes.
#[derive(Serialize, ToSchema)]
pub struct InboxList {
    payload: Vec<Inbox>,
}

/// Agents.
#[derive(Serialize, ToSchema)]
pub struct AgentPayload {
    payload: Vec<Agent>,
}

/// The Mine / Unassigned / Assigned / All counts.
#[derive(Serialize, ToSchema)]
pub struct ConversationCounts {
    mine_count: i64,
    unassigned_count: i64,
    assigned_count: i64,
    all_count: i64,
}

/// A page of conversations with the counts.
#[derive(Serialize, ToSchema)]
pub struct ConversationListData {
    meta: ConversationCounts,
    payload: Vec<Conversation>,
}

/// The answer of the conversation list.
#[derive(Serialize, ToSchema)]
pub struct ConversationList {
    data: ConversationListData,
}

/// The counts only.
#[derive(Serialize, ToSchema)]
pub struct ConversationCountsOnly {
    meta: ConversationCounts,
}

/// Conversations.
#[derive(Serialize, ToSchema)]
pub struct ConversationPayloadList {
    payload: Vec<Conversation>,
}

/// The outcome of a status change.
#[derive(Serialize, ToSchema)]
pub struct ToggleOutcome {
    success: bool,
    current_status: String,
    conversation_id: i64,
}

/// The answer to a status change.
#[derive(Serialize, ToSchema)]
pub struct ToggleResult {
    #[schema(value_type = Object)]
    meta: serde_json::Value,
    payload: ToggleOutcome,
}

/// Labels.
#[derive(Serialize, ToSchema)]
pub struct Labels {
    payload: Vec<String>,
}

/// Context of a message page.
#[derive(Serialize, ToSchema)]
pub struct MessageListMeta {
    labels: Vec<String>,
    #[schema(value_type = Object)]
    additional_attributes: serde_json::Value,
    contact: Contact,
    assignee: Option<Agent>,
    agent_last_seen_at: i64,
    assignee_last_seen_at: i64,
}

/// A page of messages.
#[derive(Serialize, ToSchema)]
pub struct MessageList {
    meta: MessageListMeta,
    payload: Vec<Message>,
}

/// Declares the `api_access_token` header.
struct TokenHeader;

impl Modify for TokenHeader {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_access_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("api_access_token"))),
        );
    }
}

/// The document's frame; the paths are those of the routers given to
/// [`router`].
#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard dashboard API", description = "Chatwoot-compatible Application API"),
    modifiers(&TokenHeader),
    components(schemas(ErrorBody)),
)]
pub struct ApiDoc;

/// The documented routes as axum routes, with their document served at
/// `GET /api/openapi.json`.
pub fn router(documented: OpenApiRouter<AppState>) -> Router<AppState> {
    let (routes, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(documented)
        .split_for_parts();
    routes.route(
        "/api/openapi.json",
        get(move || std::future::ready(Json(document.clone()))),
    )
}
