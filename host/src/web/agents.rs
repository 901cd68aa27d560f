//! The administrators' agents page, at Chatwoot's
//! `/app/accounts/{id}/settings/agents/list`: the account's agents with
//! their roles, adding one (a new person with an initial password, or
//! someone who already has a user here, who keeps their own), changing a
//! role, removing. Every change is an `app::agents` use case, the same the
//! JSON API calls; anyone but an administrator gets 404.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;

use super::WebError;
use super::layout::{self, Chrome};
use super::session::{CsrfForm, Nothing, WebMember};
use crate::accounts::role;
use crate::app::{AppError, AppState, agents};

pub fn router() -> Router<AppState> {
    let base = "/app/accounts/{account_id}/settings/agents";
    Router::new()
        .route(&format!("{base}/list"), get(list_page))
        .route(base, post(add))
        .route(&format!("{base}/{{user_id}}"), post(change_role))
        .route(&format!("{base}/{{user_id}}/delete"), post(remove))
}

fn list_url(account: i64) -> String {
    format!("/app/accounts/{account}/settings/agents/list")
}

/// What the add form had, kept when it is refused.
#[derive(Deserialize, Default)]
struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

async fn list_page(web: WebMember, State(state): State<AppState>) -> Result<Response, WebError> {
    render(&state, &web, &AddForm::default(), None, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    web: &WebMember,
    form: &AddForm,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, WebError> {
    web.member.require_admin()?;
    let all = agents::list(state, &web.member).await?;
    let account = web.member.account_id;
    let roles = [(role::AGENT, "Agent"), (role::ADMINISTRATOR, "Administrator")];
    let body = html! {
        section.admin {
            h1 { "Agents" }
            table #agents {
                caption.muted { "People who answer this account's conversations" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Remove" } } }
                tbody {
                    @for a in &all {
                        @let select_id = format!("role_{}", a.id);
                        tr data-agent=(a.id) {
                            td { (a.name) }
                            td { (a.email) }
                            td {
                                form.inline method="post" action={ "/app/accounts/" (account) "/settings/agents/" (a.id) } {
                                    input type="hidden" name="_csrf" value=(web.csrf);
                                    label.visually-hidden for=(select_id) { "Role of " (a.name) }
                                    select id=(select_id) name="role" {
                                        @for (code, label) in roles {
                                            option value=(role::name(code)) selected[a.role == Some(code)] { (label) }
                                        }
                                    }
                                    button type="submit" { "Change " span.visually-hidden { (a.name) "'s " } "role" }
                                }
                            }
                            td {
                                @if a.id == web.member.user.user_id {
                                    span.muted { "You" }
                                } @else {
                                    form.inline method="post" action={ "/app/accounts/" (account) "/settings/agents/" (a.id) "/delete" } {
                                        input type="hidden" name="_csrf" value=(web.csrf);
                                        button.danger type="submit" { "Remove " span.visually-hidden { (a.name) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Add an agent" }
            @if let Some(error) = error { p.error role="alert" #form-error { (error) } }
            form.stacked #add-agent method="post" action={ "/app/accounts/" (account) "/settings/agents" } {
                input type="hidden" name="_csrf" value=(web.csrf);
                label for="agent_name" { "Name" }
                input #agent_name type="text" name="name" required value=(form.name);
                label for="agent_email" { "Email" }
                input #agent_email type="email" name="email" required value=(form.email);
                label for="agent_role" { "Role" }
                select #agent_role name="role" {
                    @for (code, label) in roles {
                        option value=(role::name(code)) selected[form.role == role::name(code)] { (label) }
                    }
                }
                label for="agent_password" { "Initial password" }
                input #agent_password type="password" name="password" autocomplete="new-password" aria-describedby="password-hint";
                p.hint #password-hint { "For someone new: they sign in with it (at least "
                    (crate::accounts::password::MIN_CHARS) " characters). Leave it empty for someone who already has a user on this server." }
                button type="submit" #add-agent-button { "Add agent" }
            }
        }
    };
    let page = layout::page("Agents", Some(&Chrome::of(web)), body);
    Ok((status, page).into_response())
}

/// A refusal the form shows beside itself; anything else is the error page.
fn refusal(e: AppError) -> Result<String, WebError> {
    match e {
        AppError::Refused(m) | AppError::Invalid(m) => Ok(m),
        other => Err(other.into()),
    }
}

async fn add(
    web: WebMember,
    State(state): State<AppState>,
    CsrfForm(form): CsrfForm<AddForm>,
) -> Result<Response, WebError> {
    let role = if form.role.is_empty() { "agent" } else { &form.role };
    let added = if form.password.is_empty() {
        agents::add(&state, &web.member, &form.name, form.email.trim(), role).await
    } else {
        agents::create_with_password(&state, &web.member, &form.name, &form.email, role, &form.password).await
    };
    match added {
        Ok(_) => Ok(Redirect::to(&list_url(web.member.account_id)).into_response()),
        Err(e) => {
            let error = refusal(e)?;
            let kept = AddForm {
                password: String::new(),
                ..form
            };
            render(
                &state,
                &web,
                &kept,
                Some(&error),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct RoleForm {
    role: String,
}

async fn change_role(
    web: WebMember,
    State(state): State<AppState>,
    Path((account, user_id)): Path<(i64, i64)>,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Result<Response, WebError> {
    match agents::update(&state, &web.member, user_id, None, Some(&form.role)).await {
        Ok(_) => Ok(Redirect::to(&list_url(account)).into_response()),
        Err(e) => {
            let error = refusal(e)?;
            render(
                &state,
                &web,
                &AddForm::default(),
                Some(&error),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn remove(
    web: WebMember,
    State(state): State<AppState>,
    Path((account, user_id)): Path<(i64, i64)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Result<Response, WebError> {
    match agents::remove(&state, &web.member, user_id).await {
        Ok(()) => Ok(Redirect::to(&list_url(account)).into_response()),
        Err(e) => {
            let error = refusal(e)?;
            render(
                &state,
                &web,
                &AddForm::default(),
                Some(&error),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
