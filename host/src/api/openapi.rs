//! The OpenAPI 3 document of the dashboard API, generated from the handlers'
//! `#[utoipa::path]` attributes and the typed shapes in `views`, served at
//! `GET /api/openapi.json`. The envelope types below describe the wrappers
//! Chatwoot puts around lists; the end-to-end suite checks real answers
//! against this document.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::AppState;
use crate::app::views::{Agent, Contact, Conversation, Inbox, Message};

/// An error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people.
    error: String,
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

/// One contact.
#[derive(Serialize, ToSchema)]
pub struct ContactPayload {
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

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard dashboard API", description = "Chatwoot-compatible Application API"),
    modifiers(&TokenHeader),
    paths(
        super::accounts::profile,
        super::accounts::show_account,
        super::accounts::update_account,
        super::accounts::list_agents,
        super::accounts::create_agent,
        super::accounts::update_agent,
        super::accounts::delete_agent,
        super::contacts::list,
        super::contacts::search,
        super::contacts::show,
        super::contacts::create,
        super::contacts::update,
        super::contacts::remove,
        super::inboxes::list,
        super::inboxes::show,
        super::inboxes::create,
        super::inboxes::update,
        super::inboxes::remove,
        super::inboxes::members,
        super::inboxes::add_members,
        super::inboxes::replace_members,
        super::inboxes::remove_members,
        super::conversations::list,
        super::conversations::meta,
        super::conversations::show,
        super::conversations::create,
        super::conversations::toggle_status,
        super::conversations::assign,
        super::conversations::labels,
        super::conversations::set_labels,
        super::conversations::of_contact,
        super::messages::list,
        super::messages::create,
        super::messages::remove,
        super::messages::retry,
        super::messages::download,
        super::channels::authorize,
        super::channels::webhook,
        super::channels::callback,
        super::pipeline::counts,
        super::pipeline::list_events,
        super::pipeline::replay_events,
        super::pipeline::list_deliveries,
        super::pipeline::retry_delivery,
        super::pipeline::current_webhook,
        super::pipeline::register_webhook,
    )
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    let document = ApiDoc::openapi();
    Router::new().route(
        "/api/openapi.json",
        get(move || std::future::ready(Json(document.clone()))),
    )
}
