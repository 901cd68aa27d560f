//! The super admins' view of the durable pipeline at `/super_admin/pipeline`:
//! inbound events and delivery jobs counted by state, the inbound event log
//! (filtered by status and channel) with replay, one event or all those
//! shown, and the dead-letter list with retry. The same `app::pipeline_admin`
//! use cases as `switchboard events …`, `switchboard deliveries …` and the
//! admin API; anyone but a super admin gets 404.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::layout::{self, Chrome};
use super::session::{CsrfForm, Nothing, WebSuperAdmin};
use crate::app::{AppError, AppState, pipeline_admin};
use crate::store::pipeline::event_status;

const BASE: &str = "/super_admin/pipeline";
/// Rows each list shows.
const SHOWN: i64 = 100;
/// Characters of a failure reason shown in a table cell (the whole reason is
/// in the cell's title and in `switchboard events list`).
const REASON_CHARS: usize = 300;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, get(pipeline))
        .route(&format!("{BASE}/events/replay"), post(replay))
        .route(&format!("{BASE}/deliveries/{{id}}/retry"), post(retry))
}

#[derive(Debug, Default, Deserialize)]
struct Filter {
    /// Event status; absent: failed (what needs an operator). `all`: any.
    status: Option<String>,
    /// Channel (plugin id); absent or empty: every channel.
    channel: Option<String>,
}

impl Filter {
    fn status(&self) -> Option<&str> {
        match self.status.as_deref() {
            None | Some("") => Some(event_status::FAILED),
            Some("all") => None,
            Some(s) => Some(s),
        }
    }

    fn channel(&self) -> Option<&str> {
        self.channel.as_deref().map(str::trim).filter(|c| !c.is_empty())
    }
}

fn clipped(reason: &str) -> String {
    match reason.char_indices().nth(REASON_CHARS) {
        Some((at, _)) => format!("{}…", &reason[..at]),
        None => reason.to_owned(),
    }
}

async fn pipeline(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Response, WebError> {
    render(&state, &admin, &filter, None, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    admin: &WebSuperAdmin,
    filter: &Filter,
    notice: Option<&str>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let counts = pipeline_admin::counts(state).await?;
    let events = pipeline_admin::events(state, filter.status(), filter.channel(), Some(SHOWN)).await?;
    let dead = pipeline_admin::deliveries(state, Some("dead"), Some(SHOWN)).await?;
    let shown_status = filter.status().unwrap_or("all");
    let body = html! {
        section.admin.wide #pipeline {
            h1 { "Pipeline" }
            @if let Some(notice) = notice { p.notice role="status" #pipeline-notice { (notice) } }
            (count_table("Inbound events", &counts.events, "events-count"))
            (count_table("Delivery jobs", &counts.deliveries, "deliveries-count"))
            h2 { "Inbound event log" }
            form.filters method="get" action=(BASE) {
                label for="status" { "Status" }
                select #status name="status" {
                    @for s in ["failed", "pending", "applied", "ignored", "all"] {
                        option value=(s) selected[s == shown_status] { (s) }
                    }
                }
                label for="channel" { "Channel" }
                input #channel type="text" name="channel" value=[filter.channel()] placeholder="every channel";
                button type="submit" { "Show" }
            }
            @if events.is_empty() {
                p.muted #no-events { "No " (shown_status) " events" @if let Some(c) = filter.channel() { " of " code { (c) } } "." }
            } @else {
                table #events {
                    caption.muted { "Newest first; at most " (SHOWN) " shown" }
                    thead { tr {
                        th scope="col" { "Event" } th scope="col" { "Channel" } th scope="col" { "Status" }
                        th scope="col" { "Attempts" } th scope="col" { "Received" } th scope="col" { "Why" } th scope="col" { "Replay" }
                    } }
                    tbody {
                        @for e in &events {
                            tr data-event=(e.id) {
                                td { (e.id) }
                                td { code { (e.channel) } }
                                td.state { (e.status) }
                                td { (e.attempts) }
                                td { (layout::time(e.received_at)) }
                                td.reason title=[e.reason.as_deref()] { @if let Some(r) = &e.reason { (clipped(r)) } }
                                td {
                                    form.inline method="post" action={ (BASE) "/events/replay" } {
                                        input type="hidden" name="_csrf" value=(admin.csrf);
                                        input type="hidden" name="id" value=(e.id);
                                        button.secondary type="submit" { "Replay " span.visually-hidden { "event " (e.id) } }
                                    }
                                }
                            }
                        }
                    }
                }
                @if filter.status().is_some() {
                    form.stacked #replay-all method="post" action={ (BASE) "/events/replay" } {
                        input type="hidden" name="_csrf" value=(admin.csrf);
                        input type="hidden" name="status" value=(shown_status);
                        @if let Some(c) = filter.channel() { input type="hidden" name="channel" value=(c); }
                        p.hint { "Applying an event again is idempotent: messages already stored are not stored twice." }
                        button type="submit" { "Replay every " (shown_status) " event" @if let Some(c) = filter.channel() { " of " (c) } }
                    }
                }
            }
            h2 { "Dead letters" }
            @if dead.is_empty() {
                p.muted #no-dead { "No dead-lettered sends." }
            } @else {
                table #dead {
                    caption.muted { "Sends that ran out of attempts or failed for good; newest first" }
                    thead { tr {
                        th scope="col" { "Job" } th scope="col" { "Account" } th scope="col" { "Message" }
                        th scope="col" { "Attempts" } th scope="col" { "Last error" } th scope="col" { "Retry" }
                    } }
                    tbody {
                        @for j in &dead {
                            tr data-job=(j.id) {
                                td { (j.id) }
                                td { (j.account_id) }
                                td { (j.message_id) }
                                td { (j.attempts) }
                                td.reason title=[j.last_error.as_deref()] { @if let Some(r) = &j.last_error { (clipped(r)) } }
                                td {
                                    form.inline method="post" action={ (BASE) "/deliveries/" (j.id) "/retry" } {
                                        input type="hidden" name="_csrf" value=(admin.csrf);
                                        button.secondary type="submit" { "Retry " span.visually-hidden { "job " (j.id) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let page = layout::page("Pipeline", Some(&Chrome::of_super_admin(admin)), body);
    Ok((status, page).into_response())
}

fn count_table(caption: &str, counts: &[(String, i64)], id: &str) -> Markup {
    html! {
        table.counts id=(id) {
            caption { (caption) }
            @if counts.is_empty() { tbody { tr { td.muted { "none" } } } }
            @else {
                thead { tr { @for (state, _) in counts { th scope="col" { (state) } } } }
                tbody { tr { @for (state, n) in counts { td data-state=(state) { (n) } } } }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct ReplayForm {
    id: Option<i64>,
    status: Option<String>,
    channel: Option<String>,
}

async fn replay(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    CsrfForm(form): CsrfForm<ReplayForm>,
) -> Result<Response, WebError> {
    let ids = form.id.map(|id| vec![id]);
    let filter = Filter {
        status: form.status.clone(),
        channel: form.channel.clone(),
    };
    let status = form.status.as_deref().filter(|s| !s.is_empty() && *s != "all");
    let channel = filter.channel();
    match pipeline_admin::replay(&state, ids.as_deref(), status, channel).await {
        Ok(n) => {
            let notice = match (form.id, n) {
                (Some(id), 1) => format!("Event {id} queued to be applied again."),
                (Some(id), _) => format!("Event {id} was not found."),
                (None, n) => format!("{n} events queued to be applied again."),
            };
            render(&state, &admin, &filter, Some(&notice), StatusCode::OK).await
        }
        Err(AppError::Invalid(m) | AppError::Refused(m)) => {
            render(
                &state,
                &admin,
                &filter,
                Some(&m),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn retry(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Result<Response, WebError> {
    match pipeline_admin::retry_delivery(&state, id).await {
        Ok(job) => {
            let notice = format!(
                "Job {} queued: message {} will be sent again.",
                job.id, job.message_id
            );
            render(&state, &admin, &Filter::default(), Some(&notice), StatusCode::OK).await
        }
        Err(AppError::Refused(m) | AppError::NotFound(m)) => {
            render(
                &state,
                &admin,
                &Filter::default(),
                Some(&m),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
