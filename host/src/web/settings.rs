//! The settings pages a channel's authorization lands on (Chatwoot's
//! frontend routes, where `channel_accounts::authorization` redirects): the
//! new inbox with its agents, an inbox reconnected, the onboarding step, and
//! the channel's "new inbox" page, which shows the provider's error in
//! words. Administrators only: anyone else gets 404.
//!
//! The full inbox administration (create, members, settings) is meant to
//! grow here.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::layout::{self, Chrome};
use super::session::WebMember;
use crate::app::conversations::visible_inbox;
use crate::app::{AppState, inboxes};
use crate::store::InboxRow;

pub fn router() -> Router<AppState> {
    let base = "/app/accounts/{account_id}";
    Router::new()
        .route(
            &format!("{base}/settings/inboxes/new/{{channel}}"),
            get(new_inbox),
        )
        .route(
            &format!("{base}/settings/inboxes/new/{{channel}}/agents"),
            get(inbox_agents),
        )
        .route(
            &format!("{base}/settings/inboxes/{{inbox_id}}/agents"),
            get(inbox_agents),
        )
        .route(&format!("{base}/settings/inboxes/{{inbox_id}}"), get(inbox_page))
        .route(&format!("{base}/onboarding/inbox-setup"), get(onboarding))
}

fn chrome(web: &WebMember) -> Chrome<'_> {
    Chrome {
        account_id: web.member.account_id,
        email: &web.member.user.email,
        csrf: &web.csrf,
        admin: web.member.is_admin(),
    }
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

#[derive(Deserialize, Default)]
struct Outcome {
    error_type: Option<String>,
    code: Option<String>,
    error_message: Option<String>,
}

/// The channel's new-inbox page: where a failed authorization lands.
async fn new_inbox(
    web: WebMember,
    Path((account_id, channel)): Path<(i64, String)>,
    Query(outcome): Query<Outcome>,
) -> Result<Response, WebError> {
    web.member.require_admin()?;
    let failed = outcome.error_type.is_some() || outcome.error_message.is_some();
    let body = html! {
        section.notice {
            h1 { "Connect " (channel) }
            @if failed {
                div.error role="alert" #connect-error {
                    p { "The connection did not succeed: "
                        strong { (outcome.error_message.as_deref().unwrap_or("the provider gave no reason")) } }
                    p.muted { "Provider's code: " (outcome.error_type.as_deref().unwrap_or("unknown"))
                        @if let Some(code) = &outcome.code { " (" (code) ")" } }
                }
            } @else {
                p { "Connecting a " (channel) " account starts at the provider's consent page; you come back here when it is done." }
            }
            p { a href={ "/app/accounts/" (account_id) "/conversations" } { "Back to conversations" } }
        }
    };
    Ok(layout::page(&format!("Connect {channel}"), Some(&chrome(&web)), body).into_response())
}

/// A new inbox's agents: where a successful authorization lands.
async fn inbox_agents(
    web: WebMember,
    State(state): State<AppState>,
    Path((account_id, inbox_id)): Path<(i64, i64)>,
) -> Result<Response, WebError> {
    web.member.require_admin()?;
    let inbox = visible_inbox(&state, &web.member, inbox_id).await?;
    let agents = inboxes::members(&state, &web.member, inbox_id).await?;
    let body = html! {
        section.notice {
            h1 { "Inbox " (inbox.name) " is connected" }
            (inbox_summary(&inbox))
            h2 { "Agents of this inbox" }
            @if agents.is_empty() {
                p { "No agent yet: administrators see its conversations; add agents so they do too." }
            }
            ul { @for a in &agents { li { (a.name) " <" (a.email) ">" } } }
            p { a href={ "/app/accounts/" (account_id) "/conversations?inbox_id=" (inbox.id) "&status=all" } { "Its conversations" } }
        }
    };
    Ok(layout::page(&format!("Inbox {}", inbox.name), Some(&chrome(&web)), body).into_response())
}

/// An inbox: where a reconnected authorization lands.
async fn inbox_page(
    web: WebMember,
    State(state): State<AppState>,
    Path((account_id, inbox_id)): Path<(i64, i64)>,
) -> Result<Response, WebError> {
    web.member.require_admin()?;
    let inbox = visible_inbox(&state, &web.member, inbox_id).await?;
    let body = html! {
        section.notice {
            h1 { "Inbox " (inbox.name) }
            (inbox_summary(&inbox))
            p { a href={ "/app/accounts/" (account_id) "/conversations?inbox_id=" (inbox.id) "&status=all" } { "Its conversations" } }
        }
    };
    Ok(layout::page(&format!("Inbox {}", inbox.name), Some(&chrome(&web)), body).into_response())
}

/// The onboarding step after connecting a channel: the account's inboxes.
async fn onboarding(web: WebMember, State(state): State<AppState>) -> Result<Response, WebError> {
    web.member.require_admin()?;
    let all = inboxes::list(&state, &web.member).await?;
    let body = html! {
        section.notice {
            h1 { "Your inboxes" }
            @if all.is_empty() { p { "No inbox is connected yet." } }
            @for inbox in all.iter().rev() { (inbox_summary(inbox)) }
            p { a href={ "/app/accounts/" (web.member.account_id) "/conversations" } { "Go to conversations" } }
        }
    };
    Ok(layout::page("Inbox setup", Some(&chrome(&web)), body).into_response())
}
