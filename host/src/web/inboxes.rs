//! The administrators' inbox pages, at Chatwoot's dashboard URLs: the list,
//! a new inbox (choose a channel: "Connect" runs the provider's
//! authorization, a channel without one takes the provider's account id),
//! an inbox's settings, agents and deletion, and the pages a channel's
//! authorization lands on (`channel_accounts::authorization` redirects
//! there: the new inbox with its agents, an inbox reconnected, the
//! onboarding step, the channel's new-inbox page with the provider's error
//! in words). Administrators only: anyone else gets 404.
//!
//! Every read and change is an `app::inboxes` or `app::channels` use case,
//! the same the JSON API calls.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::layout::{self, Chrome};
use super::session::{CsrfForm, WebMember};
use crate::app::conversations::visible_inbox;
use crate::app::inboxes::{ChannelChoice, MembersChange, NewInbox};
use crate::app::{AppError, AppState, agents, channels, inboxes};
use crate::store::{InboxChanges, InboxRow};

pub fn router() -> Router<AppState> {
    let base = "/app/accounts/{account_id}/settings/inboxes";
    Router::new()
        .route(&format!("{base}/list"), get(list_page))
        .route(&format!("{base}/new"), get(choose_channel))
        .route(&format!("{base}/new/{{channel}}"), get(new_inbox).post(create))
        .route(&format!("{base}/new/{{channel}}/authorization"), get(connect))
        .route(&format!("{base}/new/{{channel}}/agents"), get(inbox_agents))
        .route(
            &format!("{base}/{{inbox_id}}/agents"),
            get(inbox_agents).post(set_agents),
        )
        .route(&format!("{base}/{{inbox_id}}"), get(inbox_page).post(update))
        .route(
            &format!("{base}/{{inbox_id}}/delete"),
            axum::routing::post(delete),
        )
        .route(
            "/app/accounts/{account_id}/onboarding/inbox-setup",
            get(onboarding),
        )
}

fn settings_url(account_id: i64, rest: &str) -> String {
    format!("/app/accounts/{account_id}/settings/inboxes{rest}")
}

fn inbox_summary(inbox: &InboxRow) -> Markup {
    html! {
        dl.inbox #inbox data-inbox=(inbox.id) {
            dt { "Name" } dd #inbox-name { (inbox.name) }
            dt { "Channel" } dd { (inbox.channel) }
            @if let Some(id) = &inbox.external_id { dt { "Account at the provider" } dd { code { (id) } } }
            dt { "State" }
            dd {
                @if inbox.reauthorization_required { "Must be reconnected: the provider refused its credentials." }
                @else { "Connected" }
            }
        }
    }
}

fn error_alert(error: Option<&str>) -> Markup {
    html! {
        @if let Some(error) = error {
            p.error role="alert" #form-error { (error) }
        }
    }
}

/// A refusal a form can show beside itself (with 422); anything else is
/// the error page.
fn refusal(e: AppError) -> Result<String, WebError> {
    match e {
        AppError::Refused(m) | AppError::Invalid(m) | AppError::FeatureDisabled(m) => Ok(m),
        other => Err(other.into()),
    }
}

/// The account's inboxes.
async fn list_page(web: WebMember, State(state): State<AppState>) -> Result<Response, WebError> {
    web.member.require_admin()?;
    let all = inboxes::list(&state, &web.member).await?;
    let account = web.member.account_id;
    let body = html! {
        section.admin {
            h1 { "Inboxes" }
            p { a.button #add-inbox href=(settings_url(account, "/new")) { "Add inbox" } }
            @if all.is_empty() {
                p.empty { "No inbox yet: add one to receive conversations." }
            } @else {
                table #inboxes {
                    caption.muted { "Every inbox of this account" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Channel" } th scope="col" { "State" } th scope="col" { "Conversations" } } }
                    tbody {
                        @for inbox in &all {
                            tr data-inbox=(inbox.id) {
                                td { a href=(settings_url(account, &format!("/{}", inbox.id))) { (inbox.name) } }
                                td { (inbox.channel) }
                                td { @if inbox.reauthorization_required { "Must be reconnected" } @else { "Connected" } }
                                td { a href={ "/app/accounts/" (account) "/conversations?inbox_id=" (inbox.id) "&status=all" } { "Open " span.visually-hidden { (inbox.name) " " } "conversations" } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page("Inboxes", Some(&Chrome::of(&web)), body).into_response())
}

fn channel_action(account: i64, channel: &ChannelChoice) -> Markup {
    html! {
        @if channel.authorization {
            // A link, not a form: the answer redirects to the provider, which
            // the CSP's form-action would refuse after a POST. Starting an
            // authorization changes nothing here; the callback does.
            a.button href=(settings_url(account, &format!("/new/{}/authorization", channel.id))) data-connect=(channel.id) {
                "Connect " (channel.name)
            }
        } @else {
            a.button href=(settings_url(account, &format!("/new/{}", channel.id))) data-create=(channel.id) {
                "New " (channel.name) " inbox"
            }
        }
    }
}

/// Choose the channel of a new inbox.
async fn choose_channel(web: WebMember, State(state): State<AppState>) -> Result<Response, WebError> {
    let choices = inboxes::channels(&state, &web.member).await?;
    let account = web.member.account_id;
    let body = html! {
        section.admin {
            h1 { "Add an inbox" }
            @if choices.is_empty() { p.empty { "No channel plugin is enabled: a super admin installs and enables them in the plugin console." } }
            ul.choices {
                @for c in &choices {
                    li {
                        h2 { (c.name) }
                        @if !c.description.is_empty() { p.muted { (c.description) } }
                        (channel_action(account, c))
                    }
                }
            }
            p { a href=(settings_url(account, "/list")) { "Back to the inboxes" } }
        }
    };
    Ok(layout::page("Add an inbox", Some(&Chrome::of(&web)), body).into_response())
}

#[derive(Deserialize, Default)]
struct Outcome {
    error_type: Option<String>,
    code: Option<String>,
    error_message: Option<String>,
}

/// The form of a new inbox on a channel without authorization.
#[derive(Deserialize, Default)]
struct NewInboxForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    external_id: String,
}

fn new_inbox_body(
    account: i64,
    channel: &str,
    choice: Option<&ChannelChoice>,
    outcome: &Outcome,
    form: &NewInboxForm,
    error: Option<&str>,
    csrf: &str,
) -> Markup {
    let failed = outcome.error_type.is_some() || outcome.error_message.is_some();
    let name = choice.map_or(channel, |c| c.name.as_str());
    html! {
        section.admin {
            h1 { "Connect " (name) }
            @if failed {
                div.error role="alert" #connect-error {
                    p { "The connection did not succeed: "
                        strong { (outcome.error_message.as_deref().unwrap_or("the provider gave no reason")) } }
                    p.muted { "Provider's code: " (outcome.error_type.as_deref().unwrap_or("unknown"))
                        @if let Some(code) = &outcome.code { " (" (code) ")" } }
                }
            }
            @match choice {
                Some(c) if c.authorization => {
                    p { "Connecting a " (c.name) " account starts at the provider's consent page; you come back here when it is done." }
                    p { (channel_action(account, c)) }
                }
                Some(c) => {
                    (error_alert(error))
                    form.stacked method="post" action=(settings_url(account, &format!("/new/{}", c.id))) {
                        input type="hidden" name="_csrf" value=(csrf);
                        label for="name" { "Inbox name" }
                        input #name type="text" name="name" required value=(form.name);
                        label for="external_id" { "The provider's id of the account (its webhooks name it)" }
                        input #external_id type="text" name="external_id" value=(form.external_id);
                        button type="submit" #create-inbox { "Create inbox" }
                    }
                }
                None => {
                    p.error { "No enabled channel plugin is called " code { (channel) } "." }
                }
            }
            p { a href=(settings_url(account, "/list")) { "Back to the inboxes" } }
        }
    }
}

/// The channel's new-inbox page: where a failed authorization lands, and
/// where a channel without one takes its account id.
async fn new_inbox(
    web: WebMember,
    State(state): State<AppState>,
    Path((account, channel)): Path<(i64, String)>,
    Query(outcome): Query<Outcome>,
) -> Result<Response, WebError> {
    let choices = inboxes::channels(&state, &web.member).await?;
    let choice = choices.iter().find(|c| c.id == channel);
    let body = new_inbox_body(
        account,
        &channel,
        choice,
        &outcome,
        &NewInboxForm::default(),
        None,
        &web.csrf,
    );
    Ok(layout::page(&format!("Connect {channel}"), Some(&Chrome::of(&web)), body).into_response())
}

/// Creates an inbox on a channel without authorization.
async fn create(
    web: WebMember,
    State(state): State<AppState>,
    Path((account, channel)): Path<(i64, String)>,
    CsrfForm(form): CsrfForm<NewInboxForm>,
) -> Result<Response, WebError> {
    let new = NewInbox {
        name: form.name.clone(),
        channel: channel.clone(),
        external_id: Some(form.external_id.clone()).filter(|v| !v.trim().is_empty()),
        webhook_url: None,
    };
    match inboxes::create(&state, &web.member, new).await {
        Ok(inbox) => Ok(Redirect::to(&settings_url(account, &format!("/{}", inbox.id))).into_response()),
        Err(e) => {
            let error = refusal(e)?;
            let choices = inboxes::channels(&state, &web.member).await?;
            let choice = choices.iter().find(|c| c.id == channel);
            let body = new_inbox_body(
                account,
                &channel,
                choice,
                &Outcome::default(),
                &form,
                Some(&error),
                &web.csrf,
            );
            let page = layout::page(&format!("Connect {channel}"), Some(&Chrome::of(&web)), body);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// "Connect": sends the browser to the provider's consent page.
async fn connect(
    web: WebMember,
    State(state): State<AppState>,
    Path((account, channel)): Path<(i64, String)>,
) -> Result<Response, WebError> {
    match channels::start_authorization(&state, &web.member, &channel, None).await {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(e) => {
            let error = refusal(e)?;
            let choices = inboxes::channels(&state, &web.member).await?;
            let choice = choices.iter().find(|c| c.id == channel);
            let body = new_inbox_body(
                account,
                &channel,
                choice,
                &Outcome {
                    error_message: Some(error),
                    ..Default::default()
                },
                &NewInboxForm::default(),
                None,
                &web.csrf,
            );
            let page = layout::page(&format!("Connect {channel}"), Some(&Chrome::of(&web)), body);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

fn agents_form(
    account: i64,
    inbox: &InboxRow,
    all: &[crate::store::UserRow],
    members: &[i64],
    csrf: &str,
) -> Markup {
    html! {
        form.stacked #inbox-agents method="post" action=(settings_url(account, &format!("/{}/agents", inbox.id))) {
            input type="hidden" name="_csrf" value=(csrf);
            fieldset {
                legend { "Agents of this inbox" }
                p.hint { "Administrators see every inbox; agents see only the inboxes they belong to." }
                @for a in all {
                    @let id = format!("agent_{}", a.id);
                    div.check {
                        input type="checkbox" id=(id) name=(id) value="1" checked[members.contains(&a.id)];
                        label for=(id) { (a.name) " " span.muted { "<" (a.email) ">" } }
                    }
                }
            }
            button type="submit" { "Save agents" }
        }
    }
}

/// A new inbox's agents: where a successful authorization lands.
async fn inbox_agents(
    web: WebMember,
    State(state): State<AppState>,
    Path((account, inbox_id)): Path<(i64, i64)>,
) -> Result<Response, WebError> {
    web.member.require_admin()?;
    let inbox = visible_inbox(&state, &web.member, inbox_id).await?;
    let members = inboxes::members(&state, &web.member, inbox_id).await?;
    let all = agents::list(&state, &web.member).await?;
    let ids: Vec<i64> = members.iter().map(|a| a.id).collect();
    let body = html! {
        section.admin {
            h1 { "Inbox " (inbox.name) " is connected" }
            (inbox_summary(&inbox))
            @if members.is_empty() {
                p { "No agent yet: administrators see its conversations; add agents so they do too." }
            }
            (agents_form(account, &inbox, &all, &ids, &web.csrf))
            p {
                a href=(settings_url(account, &format!("/{}", inbox.id))) { "Inbox settings" } " · "
                a href={ "/app/accounts/" (account) "/conversations?inbox_id=" (inbox.id) "&status=all" } { "Its conversations" }
            }
        }
    };
    Ok(layout::page(&format!("Inbox {}", inbox.name), Some(&Chrome::of(&web)), body).into_response())
}

/// Makes the checked agents the inbox's only ones.
async fn set_agents(
    web: WebMember,
    State(state): State<AppState>,
    Path((account, inbox_id)): Path<(i64, i64)>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let ids: Vec<i64> = form
        .keys()
        .filter_map(|k| k.strip_prefix("agent_")?.parse().ok())
        .collect();
    inboxes::change_members(&state, &web.member, inbox_id, &ids, MembersChange::Replace).await?;
    Ok(Redirect::to(&settings_url(account, &format!("/{inbox_id}"))).into_response())
}

/// An inbox's settings, agents and deletion; where a reconnected
/// authorization lands.
async fn inbox_page(
    web: WebMember,
    State(state): State<AppState>,
    Path((account, inbox_id)): Path<(i64, i64)>,
) -> Result<Response, WebError> {
    web.member.require_admin()?;
    let inbox = visible_inbox(&state, &web.member, inbox_id).await?;
    render_inbox(&state, &web, account, inbox, None, StatusCode::OK).await
}

async fn render_inbox(
    state: &AppState,
    web: &WebMember,
    account: i64,
    inbox: InboxRow,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let members = inboxes::members(state, &web.member, inbox.id).await?;
    let all = agents::list(state, &web.member).await?;
    let ids: Vec<i64> = members.iter().map(|a| a.id).collect();
    let here = settings_url(account, &format!("/{}", inbox.id));
    let reconnect = if inbox.reauthorization_required {
        inboxes::channels(state, &web.member).await?
    } else {
        Vec::new()
    };
    let body = html! {
        section.admin {
            h1 { "Inbox " (inbox.name) }
            (inbox_summary(&inbox))
            @if let Some(c) = reconnect.iter().find(|c| c.id == inbox.channel && c.authorization) {
                p { (channel_action(account, c)) }
            }
            h2 { "Settings" }
            (error_alert(error))
            form.stacked #inbox-settings method="post" action=(here) {
                input type="hidden" name="_csrf" value=(web.csrf);
                label for="name" { "Name" }
                input #name type="text" name="name" required value=(inbox.name);
                div.check {
                    input #lock_to_single_conversation type="checkbox" name="lock_to_single_conversation" value="1" checked[inbox.lock_to_single_conversation];
                    label for="lock_to_single_conversation" { "Keep one conversation per contact (reopen it instead of starting another)" }
                }
                div.check {
                    input #greeting_enabled type="checkbox" name="greeting_enabled" value="1" checked[inbox.greeting_enabled];
                    label for="greeting_enabled" { "Greet new contacts" }
                }
                label for="greeting_message" { "Greeting" }
                textarea #greeting_message name="greeting_message" rows="2" { (inbox.greeting_message.as_deref().unwrap_or_default()) }
                button type="submit" #save-inbox { "Save settings" }
            }
            h2 { "Agents" }
            (agents_form(account, &inbox, &all, &ids, &web.csrf))
            h2 { "Delete" }
            form.stacked #delete-inbox method="post" action={ (here) "/delete" } {
                input type="hidden" name="_csrf" value=(web.csrf);
                p.hint { "Deleting the inbox deletes its conversations and messages too." }
                div.check {
                    input #confirm_delete type="checkbox" name="confirm" value="1" required;
                    label for="confirm_delete" { "Yes, delete " (inbox.name) " and its conversations" }
                }
                button.danger type="submit" { "Delete inbox" }
            }
            p {
                a href={ "/app/accounts/" (account) "/conversations?inbox_id=" (inbox.id) "&status=all" } { "Its conversations" } " · "
                a href=(settings_url(account, "/list")) { "All inboxes" }
            }
        }
    };
    let page = layout::page(&format!("Inbox {}", inbox.name), Some(&Chrome::of(web)), body);
    Ok((status, page).into_response())
}

#[derive(Deserialize)]
struct SettingsForm {
    name: String,
    lock_to_single_conversation: Option<String>,
    greeting_enabled: Option<String>,
    #[serde(default)]
    greeting_message: String,
}

/// Saves an inbox's settings (an unchecked box is not sent: it is off).
async fn update(
    web: WebMember,
    State(state): State<AppState>,
    Path((account, inbox_id)): Path<(i64, i64)>,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Result<Response, WebError> {
    let changes = InboxChanges {
        name: Some(form.name),
        lock_to_single_conversation: Some(form.lock_to_single_conversation.is_some()),
        greeting_enabled: Some(form.greeting_enabled.is_some()),
        greeting_message: Some(form.greeting_message),
        ..Default::default()
    };
    match inboxes::update(&state, &web.member, inbox_id, changes, None).await {
        Ok(_) => Ok(Redirect::to(&settings_url(account, &format!("/{inbox_id}"))).into_response()),
        Err(e) => {
            let error = refusal(e)?;
            let inbox = visible_inbox(&state, &web.member, inbox_id).await?;
            render_inbox(
                &state,
                &web,
                account,
                inbox,
                Some(&error),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct DeleteForm {
    confirm: Option<String>,
}

/// Deletes an inbox and its conversations, once confirmed.
async fn delete(
    web: WebMember,
    State(state): State<AppState>,
    Path((account, inbox_id)): Path<(i64, i64)>,
    CsrfForm(form): CsrfForm<DeleteForm>,
) -> Result<Response, WebError> {
    if form.confirm.is_none() {
        let inbox = visible_inbox(&state, &web.member, inbox_id).await?;
        return render_inbox(
            &state,
            &web,
            account,
            inbox,
            Some("Tick the box to confirm the deletion."),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    inboxes::delete(&state, &web.member, inbox_id).await?;
    Ok(Redirect::to(&settings_url(account, "/list")).into_response())
}

/// The onboarding step after connecting a channel: the account's inboxes.
async fn onboarding(web: WebMember, State(state): State<AppState>) -> Result<Response, WebError> {
    web.member.require_admin()?;
    let all = inboxes::list(&state, &web.member).await?;
    let body = html! {
        section.admin {
            h1 { "Your inboxes" }
            @if all.is_empty() { p { "No inbox is connected yet." } }
            @for inbox in all.iter().rev() { (inbox_summary(inbox)) }
            p { a href={ "/app/accounts/" (web.member.account_id) "/conversations" } { "Go to conversations" } }
        }
    };
    Ok(layout::page("Inbox setup", Some(&Chrome::of(&web)), body).into_response())
}
