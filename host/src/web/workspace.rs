//! The agents' conversation workspace, at Chatwoot's dashboard URLs: the
//! list (Mine / Unassigned / All with counts, status and inbox filters,
//! search) beside one conversation (messages with their delivery state,
//! older pages, the reply box within the channel's limits and reply window,
//! status, assignee, labels, the contact).
//!
//! Every read and change is an `app` use case, the same the JSON API calls;
//! a page an agent may not see answers 404 like the API. State changes are
//! form posts that redirect back (they work without script); `app.js` sends
//! them in place and refreshes the regions from the page it gets back.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::WebError;
use super::layout::{self, Chrome};
use super::session::{CsrfForm, CsrfMultipart, WebMember};
use crate::app::conversations::{self, ListQuery, StatusChange};
use crate::app::{AppError, AppState, Member, agents, contacts, inboxes, messages};
use crate::conversations::{ChatwootCode, ConversationStatus, MessageStatus, MessageType};
use crate::store::{ConversationCounts, InboxRow, MessageRow, NewAttachment, UserRow};

pub fn router() -> Router<AppState> {
    let base = "/app/accounts/{account_id}";
    Router::new()
        .route(&format!("{base}/conversations"), get(list_page))
        .route(
            &format!("{base}/conversations/{{display_id}}"),
            get(conversation_page),
        )
        .route(
            &format!("{base}/conversations/{{display_id}}/messages"),
            post(send).layer(axum::extract::DefaultBodyLimit::max(MAX_REPLY_BYTES)),
        )
        .route(
            &format!("{base}/conversations/{{display_id}}/messages/{{message_id}}/retry"),
            post(retry),
        )
        .route(
            &format!("{base}/conversations/{{display_id}}/status"),
            post(status),
        )
        .route(
            &format!("{base}/conversations/{{display_id}}/assignee"),
            post(assign),
        )
        .route(
            &format!("{base}/conversations/{{display_id}}/labels"),
            post(labels),
        )
        .route(&format!("{base}/attachments/{{id}}"), get(attachment))
}

/// The list's filters, as query parameters (kept across links).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filters {
    /// `mine`, `unassigned` or `all`.
    tab: Option<String>,
    /// A status name or `all`.
    status: Option<String>,
    /// One inbox; an empty value means all.
    inbox_id: Option<String>,
    /// Search text (message text; contact name, email, phone, identifier).
    q: Option<String>,
    /// 1-based page.
    page: Option<i64>,
    /// Older messages than this id (the conversation view).
    before: Option<i64>,
}

impl Filters {
    fn tab(&self) -> &str {
        match self.tab.as_deref() {
            Some("mine") => "mine",
            Some("unassigned") => "unassigned",
            _ => "all",
        }
    }

    fn status(&self) -> &str {
        self.status.as_deref().unwrap_or("open")
    }

    fn inbox(&self) -> Option<i64> {
        self.inbox_id.as_deref().and_then(|v| v.parse().ok())
    }

    fn search(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }

    /// The query string that keeps these filters, with `tab` replaced.
    fn query(&self, tab: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("tab", tab).append_pair("status", self.status());
        if let Some(inbox) = self.inbox() {
            q.append_pair("inbox_id", &inbox.to_string());
        }
        if let Some(search) = self.search() {
            q.append_pair("q", search);
        }
        q.finish()
    }
}

/// What the list shows of a conversation, read from the JSON the API
/// answers (one rendering for both).
#[derive(Deserialize)]
struct Item {
    id: i64,
    inbox_id: i64,
    status: String,
    #[serde(default)]
    labels: Vec<String>,
    meta: ItemMeta,
    #[serde(default)]
    messages: Vec<ItemMessage>,
    last_activity_at: i64,
}

#[derive(Deserialize)]
struct ItemMeta {
    sender: Named,
    assignee: Option<Named>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct ItemMessage {
    content: Option<String>,
    private: bool,
}

/// The list column's data.
struct ListData {
    items: Vec<Item>,
    counts: ConversationCounts,
    inboxes: Vec<InboxRow>,
}

async fn list_data(state: &AppState, member: &Member, filters: &Filters) -> Result<ListData, AppError> {
    let inboxes = inboxes::list(state, member).await?;
    let assignee_type = match filters.tab() {
        "mine" => "me",
        other => other,
    };
    let query = ListQuery {
        status: Some(filters.status().to_owned()),
        assignee_type: Some(assignee_type.to_owned()),
        inbox_id: filters.inbox(),
        page: filters.page,
        q: filters.search().map(str::to_owned),
        ..Default::default()
    };
    // A search lists the conversations whose messages hold the text (under
    // the tab, status and inbox chosen, with their counts), then those of
    // the contacts it finds by name, email, phone or id.
    let (mut values, counts) = conversations::list(state, member, &query).await?;
    if let Some(q) = filters.search() {
        let found = contacts::search(state, member, None, Some(q)).await?;
        for contact in found.contacts {
            for conversation in conversations::of_contact(state, member, contact.id).await? {
                if !values.iter().any(|v| v["id"] == conversation["id"]) {
                    values.push(conversation);
                }
            }
        }
    }
    let items = values
        .into_iter()
        .map(serde_json::from_value::<Item>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppError::Internal(format!("conversation JSON: {e}")))?;
    Ok(ListData {
        items,
        counts,
        inboxes,
    })
}

fn chrome(web: &WebMember) -> Chrome<'_> {
    Chrome::of(web)
}

fn list_column(account_id: i64, filters: &Filters, data: &ListData, current: Option<i64>) -> Markup {
    let base = format!("/app/accounts/{account_id}/conversations");
    let tabs = [
        ("mine", "Mine", data.counts.mine),
        ("unassigned", "Unassigned", data.counts.unassigned),
        ("all", "All", data.counts.all),
    ];
    let statuses = ["open", "pending", "snoozed", "resolved", "all"];
    html! {
        section #conversation-list .list aria-label="Conversations" data-live-region="list" {
            form.filters method="get" action=(base) role="search" {
                input type="hidden" name="tab" value=(filters.tab());
                label for="q" { "Search" }
                input #q type="search" name="q" value=(filters.search().unwrap_or_default()) placeholder="Message text, contact name, email";
                label for="status" { "Status" }
                select #status name="status" {
                    @for s in statuses {
                        option value=(s) selected[filters.status() == s] { (s) }
                    }
                }
                label for="inbox_id" { "Inbox" }
                select #inbox_id name="inbox_id" {
                    option value="" { "All inboxes" }
                    @for inbox in &data.inboxes {
                        option value=(inbox.id) selected[filters.inbox() == Some(inbox.id)] { (inbox.name) }
                    }
                }
                button type="submit" { "Filter" }
            }
            nav.tabs aria-label="Assignment" {
                @for (tab, label, count) in tabs {
                    a href={ (base) "?" (filters.query(tab)) } aria-current=[(filters.tab() == tab).then_some("page")] {
                        (label) " " span.count data-count=(tab) { (count) }
                    }
                }
            }
            @if data.items.is_empty() {
                p.empty { "No conversations here." }
            }
            ul.items {
                @for item in &data.items {
                    @let inbox = data.inboxes.iter().find(|i| i.id == item.inbox_id).map_or("", |i| i.name.as_str());
                    li aria-current=[(current == Some(item.id)).then_some("true")] {
                        a href={ (base) "/" (item.id) "?" (filters.query(filters.tab())) } data-conversation=(item.id) {
                            span.name { (item.meta.sender.name) }
                            span.meta { "#" (item.id) " · " (inbox) " · " (item.status) }
                            @if let Some(m) = item.messages.first() {
                                span.preview { @if m.private { "Note: " } (m.content.as_deref().unwrap_or("(attachment)")) }
                            }
                            @if let Some(a) = &item.meta.assignee { span.assignee { "Assigned to " (a.name) } }
                            @if !item.labels.is_empty() { span.labels { @for l in &item.labels { span.label { (l) } } } }
                            span.when { (layout::time(item.last_activity_at * 1000)) }
                        }
                    }
                }
            }
        }
    }
}

async fn list_page(
    web: WebMember,
    State(state): State<AppState>,
    Query(filters): Query<Filters>,
) -> Result<Response, WebError> {
    let data = list_data(&state, &web.member, &filters).await?;
    let body = html! {
        div.workspace data-account=(web.member.account_id) {
            (list_column(web.member.account_id, &filters, &data, None))
            section.conversation #conversation aria-label="Conversation" {
                p.empty { "Choose a conversation." }
            }
        }
    };
    Ok(layout::page("Conversations", Some(&chrome(&web)), body).into_response())
}

/// A flash message and the draft kept after a refused send.
#[derive(Default)]
struct Flash {
    error: Option<String>,
    draft: String,
}

async fn conversation_page(
    web: WebMember,
    State(state): State<AppState>,
    Path((_, display_id)): Path<(i64, i64)>,
    Query(filters): Query<Filters>,
) -> Result<Response, WebError> {
    render_conversation(
        &state,
        &web,
        display_id,
        &filters,
        Flash::default(),
        StatusCode::OK,
    )
    .await
}

async fn render_conversation(
    state: &AppState,
    web: &WebMember,
    display_id: i64,
    filters: &Filters,
    flash: Flash,
    status: StatusCode,
) -> Result<Response, WebError> {
    let member = &web.member;
    let page = messages::page(state, member, display_id, filters.before, None).await?;
    let conversation = &page.conversation;
    let data = list_data(state, member, filters).await?;
    let inbox = conversations::visible_inbox(state, member, conversation.inbox_id).await?;
    let blocked = messages::reply_blocked(state, conversation).await?;
    let limits = messages::channel_limits(state, &inbox.channel);
    let agents = agents::list(state, member).await?;
    let contact: ContactView = serde_json::from_value(page.contact.clone())
        .map_err(|e| AppError::Internal(format!("contact JSON: {e}")))?;
    let base = format!("/app/accounts/{}/conversations/{display_id}", member.account_id);
    let title = format!("{} · #{display_id}", contact.name);
    let body = html! {
        div.workspace data-account=(member.account_id) data-conversation=(display_id) {
            (list_column(member.account_id, filters, &data, Some(display_id)))
            section.conversation #conversation aria-label="Conversation" {
                header.conversation-head #conversation-head data-live-region="head" {
                    h1 { (contact.name) " " span.muted { "#" (display_id) " · " (inbox.name) } }
                    p.state { "Status: " strong #conversation-status { (conversation.status.name()) } }
                    (actions(&base, &web.csrf, conversation.status, conversation.assignee_id, &agents, &page.labels))
                }
                div #messages .messages tabindex="0" data-live-region="messages" role="log" aria-label="Messages" {
                    @if page.messages.len() as i64 >= 20 {
                        @if let Some(first) = page.messages.first() {
                            a.older href={ (base) "?before=" (first.id) } { "Older messages" }
                        }
                    }
                    @if filters.before.is_some() {
                        a.older href=(base) { "Newest messages" }
                    }
                    ol {
                        @for m in &page.messages {
                            (message(member.account_id, &base, &web.csrf, m))
                        }
                    }
                }
                (reply_box(&base, &web.csrf, blocked.as_deref(), limits.as_ref(), &flash))
            }
            aside.contact aria-label="Contact" {
                (contact_panel(&contact, conversation.source_id.as_deref(), &inbox))
            }
        }
    };
    let mut response = (status, layout::page(&title, Some(&chrome(web)), body)).into_response();
    response
        .headers_mut()
        .insert("x-conversation", HeaderValue::from(display_id));
    Ok(response)
}

#[derive(Deserialize)]
struct ContactView {
    name: String,
    email: Option<String>,
    phone_number: Option<String>,
    identifier: Option<String>,
}

fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect::<String>()
        .to_uppercase()
}

fn contact_panel(contact: &ContactView, source_id: Option<&str>, inbox: &InboxRow) -> Markup {
    html! {
        div.avatar aria-hidden="true" { (initials(&contact.name)) }
        h2 { (contact.name) }
        dl {
            dt { "Channel" } dd { (inbox.channel) " · " (inbox.name) }
            @if let Some(id) = source_id { dt { "Identity in the channel" } dd { code { (id) } } }
            @if let Some(v) = &contact.email { dt { "Email" } dd { (v) } }
            @if let Some(v) = &contact.phone_number { dt { "Phone" } dd { (v) } }
            @if let Some(v) = &contact.identifier { dt { "Identifier" } dd { (v) } }
        }
    }
}

fn actions(
    base: &str,
    csrf: &str,
    status: ConversationStatus,
    assignee: Option<i64>,
    agents: &[UserRow],
    labels: &[String],
) -> Markup {
    let (next, verb) = if status == ConversationStatus::Resolved {
        ("open", "Reopen")
    } else {
        ("resolved", "Resolve")
    };
    html! {
        div.actions {
            form method="post" action={ (base) "/status" } data-inplace {
                input type="hidden" name="_csrf" value=(csrf);
                input type="hidden" name="status" value=(next);
                button type="submit" #toggle-status { (verb) }
            }
            @if status != ConversationStatus::Pending && status != ConversationStatus::Resolved {
                form method="post" action={ (base) "/status" } data-inplace {
                    input type="hidden" name="_csrf" value=(csrf);
                    input type="hidden" name="status" value="snoozed";
                    label for="snooze_hours" { "Snooze for" }
                    select #snooze_hours name="snooze_hours" {
                        option value="1" { "1 hour" }
                        option value="24" { "1 day" }
                        option value="168" { "1 week" }
                    }
                    button type="submit" { "Snooze" }
                }
            }
            form method="post" action={ (base) "/assignee" } data-inplace {
                input type="hidden" name="_csrf" value=(csrf);
                label for="assignee_id" { "Assignee" }
                select #assignee_id name="assignee_id" {
                    option value="" { "Nobody" }
                    @for a in agents {
                        option value=(a.id) selected[assignee == Some(a.id)] { (a.name) }
                    }
                }
                button type="submit" { "Assign" }
            }
            form method="post" action={ (base) "/labels" } data-inplace {
                input type="hidden" name="_csrf" value=(csrf);
                label for="labels" { "Labels" }
                input #labels type="text" name="labels" value=(labels.join(" ")) placeholder="billing urgent";
                button type="submit" { "Save labels" }
            }
        }
    }
}

fn message(account_id: i64, base: &str, csrf: &str, m: &MessageRow) -> Markup {
    let kind = if m.private {
        "note"
    } else {
        match m.message_type {
            MessageType::Incoming => "incoming",
            MessageType::Outgoing => "outgoing",
            _ => "activity",
        }
    };
    let external = m.external_error.clone().or_else(|| {
        serde_json::from_str::<Value>(&m.content_attributes)
            .ok()
            .and_then(|v| v.get("external_error").and_then(Value::as_str).map(str::to_owned))
    });
    html! {
        li.message.(kind) #{ "message-" (m.id) } data-message=(m.id) data-status=(m.status.name()) {
            @if m.private { span.badge { "Private note" } }
            @if m.deleted {
                p.content.muted { "This message was deleted." }
            } @else if let Some(text) = &m.content {
                p.content { (text) }
            }
            @for a in &m.attachments {
                @let href = format!("/app/accounts/{account_id}/attachments/{}", a.id);
                @let name = a.file_name.clone().unwrap_or_else(|| "file".into());
                @if a.external_url.is_none() && a.file_type == 0 {
                    a.attachment href=(href) { img src=(href) alt={ "Image " (name) } loading="lazy"; }
                } @else if let Some(url) = &a.external_url {
                    @if a.file_type == 12 {
                        a.attachment.embed href=(url) rel="noopener noreferrer" target="_blank" { "Shared post: " (url) }
                    } @else {
                        a.attachment href=(url) rel="noopener noreferrer" target="_blank" { "Open " (name) " (at the provider)" }
                    }
                } @else {
                    a.attachment href=(href) download=(name) { "Download " (name) }
                }
            }
            footer {
                (layout::time(m.created_at))
                @if m.message_type == MessageType::Outgoing && !m.private {
                    " · " span.delivery data-delivery=(m.status.name()) { (m.status.name()) }
                    @if m.status == MessageStatus::Failed {
                        @if let Some(reason) = &external { " · " span.reason role="status" { (reason) } }
                        form.retry method="post" action={ (base) "/messages/" (m.id) "/retry" } data-inplace {
                            input type="hidden" name="_csrf" value=(csrf);
                            button type="submit" { "Retry" }
                        }
                    }
                }
            }
        }
    }
}

fn reply_box(
    base: &str,
    csrf: &str,
    blocked: Option<&str>,
    limits: Option<&crate::contract::ContentLimits>,
    flash: &Flash,
) -> Markup {
    let max = limits.and_then(|l| l.max_text_chars);
    let files = limits.map_or(0, |l| l.max_attachments);
    let accept = limits.map(accepted_files).unwrap_or_default();
    html! {
        form.reply #reply method="post" action={ (base) "/messages" } data-inplace="reply" enctype="multipart/form-data" {
            input type="hidden" name="_csrf" value=(csrf);
            label for="content" { "Reply" }
            @if let Some(reason) = blocked {
                p.blocked #reply-blocked role="status" { (reason) }
            }
            @if let Some(error) = &flash.error {
                p.error #reply-error role="alert" { (error) }
            } @else {
                p.error #reply-error role="alert" hidden {}
            }
            textarea #content name="content" rows="3" data-max=[max]
                aria-describedby={ "reply-count" @if blocked.is_some() { " reply-blocked" } } { (flash.draft) }
            @if files > 0 && blocked.is_none() {
                @let l = limits.expect("files > 0 has limits");
                div.attach {
                    label for="attachments" { "Attach" }
                    input #attachments type="file" name="attachments[]" accept=[(!accept.is_empty()).then_some(&accept)]
                        multiple[files > 1] data-max-files=(files) data-no-mix[!l.text_with_attachments]
                        data-max-bytes=[l.max_attachment_bytes] aria-describedby="attach-hint";
                    span.hint #attach-hint {
                        "Up to " (files) @if files == 1 { " file" } @else { " files" }
                        @if let Some(b) = l.max_attachment_bytes { ", " (b / 1024) " KiB each" }
                        @if !l.attachment_mime_types.is_empty() { " (" (l.attachment_mime_types.join(", ")) ")" }
                        "."
                    }
                }
            }
            div.reply-bar {
                span #reply-count .count aria-live="polite" {
                    @if let Some(max) = max { "0 / " (max) " characters" } @else { "" }
                }
                @if let Some(l) = limits {
                    @if !l.text_with_attachments && l.max_attachments > 0 { span.hint { "Text and images go in separate messages." } }
                }
                button type="submit" name="mode" value="note" { "Add private note" }
                button type="submit" name="mode" value="reply" #send disabled[blocked.is_some()] { "Send" }
            }
        }
    }
}

/// The file picker's `accept`: the channel's MIME types, else its kinds.
fn accepted_files(limits: &crate::contract::ContentLimits) -> String {
    use crate::contract::AttachmentKind as K;
    if !limits.attachment_mime_types.is_empty() {
        return limits.attachment_mime_types.join(",");
    }
    limits
        .attachment_kinds
        .iter()
        .filter_map(|k| match k {
            K::Image => Some("image/*"),
            K::Audio => Some("audio/*"),
            K::Video => Some("video/*"),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Back to the conversation after a change (the script follows it and
/// refreshes the page's regions from the answer).
fn back(account_id: i64, display_id: i64) -> Response {
    Redirect::to(&format!("/app/accounts/{account_id}/conversations/{display_id}")).into_response()
}

/// A reply with files: the API's limit for a message's upload.
const MAX_REPLY_BYTES: usize = 40 << 20;

/// The reply form (multipart, for its files): `content`, `mode` (`reply`
/// or `note`) and `attachments[]`; the channel's limits are the use case's.
async fn send(
    web: WebMember,
    State(state): State<AppState>,
    Path((account_id, display_id)): Path<(i64, i64)>,
    form: CsrfMultipart,
) -> Result<Response, WebError> {
    let text = |name: &str| {
        form.part(name)
            .map(|p| String::from_utf8_lossy(&p.bytes).into_owned())
            .unwrap_or_default()
    };
    let content = text("content");
    let files: Vec<NewAttachment> = form
        .0
        .iter()
        .filter(|p| p.name == "attachments[]" && p.file_name.as_deref().is_some_and(|n| !n.is_empty()))
        .map(|p| {
            let content_type = p
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            NewAttachment {
                file_type: crate::conversations::file_type_of_mime(&content_type),
                file_name: p.file_name.clone().unwrap_or_default(),
                content_type,
                data: p.bytes.to_vec(),
            }
        })
        .collect();
    let draft = messages::Draft {
        content: Some(content.clone()).filter(|c| !c.is_empty() || files.is_empty()),
        private: text("mode") == "note",
        files,
        ..Default::default()
    };
    match messages::send(&state, &web.member, display_id, draft).await {
        Ok(_) => Ok(back(account_id, display_id)),
        Err(AppError::Refused(reason) | AppError::Invalid(reason)) => {
            let flash = Flash {
                error: Some(reason),
                draft: content,
            };
            render_conversation(
                &state,
                &web,
                display_id,
                &Filters::default(),
                flash,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn retry(
    web: WebMember,
    State(state): State<AppState>,
    Path((account_id, display_id, message_id)): Path<(i64, i64, i64)>,
    CsrfForm(_): CsrfForm<serde_json::Map<String, Value>>,
) -> Result<Response, WebError> {
    messages::retry(&state, &web.member, display_id, message_id).await?;
    Ok(back(account_id, display_id))
}

#[derive(Deserialize)]
struct StatusForm {
    status: String,
    snooze_hours: Option<i64>,
}

async fn status(
    web: WebMember,
    State(state): State<AppState>,
    Path((account_id, display_id)): Path<(i64, i64)>,
    CsrfForm(form): CsrfForm<StatusForm>,
) -> Result<Response, WebError> {
    let snoozed_until = form
        .snooze_hours
        .filter(|_| form.status == "snoozed")
        .map(|h| crate::store::now_ms() / 1000 + h.clamp(1, 24 * 365) * 3600);
    let change = StatusChange {
        status: Some(form.status),
        snoozed_until,
    };
    conversations::change_status(&state, &web.member, display_id, change).await?;
    Ok(back(account_id, display_id))
}

#[derive(Deserialize)]
struct AssignForm {
    assignee_id: String,
}

async fn assign(
    web: WebMember,
    State(state): State<AppState>,
    Path((account_id, display_id)): Path<(i64, i64)>,
    CsrfForm(form): CsrfForm<AssignForm>,
) -> Result<Response, WebError> {
    let assignee = match form.assignee_id.trim() {
        "" => None,
        id => Some(
            id.parse()
                .map_err(|_| AppError::Invalid("assignee_id must be a number".into()))?,
        ),
    };
    conversations::assign(&state, &web.member, display_id, assignee).await?;
    Ok(back(account_id, display_id))
}

#[derive(Deserialize)]
struct LabelsForm {
    labels: String,
}

async fn labels(
    web: WebMember,
    State(state): State<AppState>,
    Path((account_id, display_id)): Path<(i64, i64)>,
    CsrfForm(form): CsrfForm<LabelsForm>,
) -> Result<Response, WebError> {
    let labels: Vec<String> = form.labels.split([' ', ',']).map(str::to_owned).collect();
    conversations::set_labels(&state, &web.member, display_id, &labels).await?;
    Ok(back(account_id, display_id))
}

async fn attachment(
    web: WebMember,
    State(state): State<AppState>,
    Path((_, id)): Path<(i64, i64)>,
) -> Result<Response, WebError> {
    let (row, data) = messages::attachment(&state, &web.member, id).await?;
    let content_type = row
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let mut response = data.into_response();
    let h = response.headers_mut();
    // Only images are shown inline; anything else downloads, so a provider's
    // HTML or SVG never runs as a page of this site.
    let inline = row.file_type == 0 && !content_type.contains("svg");
    let ct = if inline {
        content_type
    } else {
        "application/octet-stream".into()
    };
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&ct).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let name: String = row
        .file_name
        .unwrap_or_else(|| "file".into())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._- ".contains(*c))
        .collect();
    let disposition = if inline { "inline" } else { "attachment" };
    if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(response)
}
