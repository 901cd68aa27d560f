//! The administrators' labels page, at Chatwoot's
//! `/app/accounts/{id}/settings/labels/list`: the account's labels, adding
//! one, deleting one. Every change is an `app::labels` use case; anyone but
//! an administrator gets 404.

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
use crate::app::labels::{self, NewLabel};
use crate::app::{AppError, AppState};

pub fn router() -> Router<AppState> {
    let base = "/app/accounts/{account_id}/settings/labels";
    Router::new()
        .route(&format!("{base}/list"), get(list_page))
        .route(base, post(add))
        .route(&format!("{base}/{{label_id}}/delete"), post(remove))
}

fn list_url(account: i64) -> String {
    format!("/app/accounts/{account}/settings/labels/list")
}

#[derive(Deserialize, Default)]
struct LabelForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    color: String,
    show_on_sidebar: Option<String>,
}

async fn list_page(web: WebMember, State(state): State<AppState>) -> Result<Response, WebError> {
    render(&state, &web, &LabelForm::default(), None, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    web: &WebMember,
    form: &LabelForm,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, WebError> {
    web.member.require_admin()?;
    let all = labels::list(state, &web.member).await?;
    let account = web.member.account_id;
    let color = if form.color.is_empty() {
        labels::DEFAULT_COLOR
    } else {
        &form.color
    };
    let body = html! {
        section.admin {
            h1 { "Labels" }
            @if all.is_empty() { p.empty { "No label yet." } }
            @else {
                table #labels {
                    caption.muted { "Labels agents put on conversations" }
                    thead { tr { th scope="col" { "Title" } th scope="col" { "Description" } th scope="col" { "Colour" } th scope="col" { "Delete" } } }
                    tbody {
                        @for l in &all {
                            tr data-label=(l.title) {
                                td { span.label { (l.title) } }
                                td { (l.description.as_deref().unwrap_or_default()) }
                                td { code { (l.color) } }
                                td {
                                    form.inline method="post" action={ "/app/accounts/" (account) "/settings/labels/" (l.id) "/delete" } {
                                        input type="hidden" name="_csrf" value=(web.csrf);
                                        button.danger type="submit" { "Delete " span.visually-hidden { (l.title) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Add a label" }
            @if let Some(error) = error { p.error role="alert" #form-error { (error) } }
            form.stacked #add-label method="post" action={ "/app/accounts/" (account) "/settings/labels" } {
                input type="hidden" name="_csrf" value=(web.csrf);
                label for="label_title" { "Title" }
                input #label_title type="text" name="title" required value=(form.title) aria-describedby="title-hint";
                p.hint #title-hint { "Letters, digits, - and _; no spaces." }
                label for="label_description" { "Description" }
                input #label_description type="text" name="description" value=(form.description);
                label for="label_color" { "Colour" }
                input #label_color type="color" name="color" value=(color);
                div.check {
                    input #show_on_sidebar type="checkbox" name="show_on_sidebar" value="1" checked[form.show_on_sidebar.is_some()];
                    label for="show_on_sidebar" { "Show in the sidebar" }
                }
                button type="submit" #add-label-button { "Add label" }
            }
        }
    };
    let page = layout::page("Labels", Some(&Chrome::of(web)), body);
    Ok((status, page).into_response())
}

async fn add(
    web: WebMember,
    State(state): State<AppState>,
    CsrfForm(form): CsrfForm<LabelForm>,
) -> Result<Response, WebError> {
    let new = NewLabel {
        title: form.title.clone(),
        description: Some(form.description.clone()),
        color: Some(form.color.clone()),
        show_on_sidebar: form.show_on_sidebar.is_some(),
    };
    match labels::create(&state, &web.member, new).await {
        Ok(_) => Ok(Redirect::to(&list_url(web.member.account_id)).into_response()),
        Err(AppError::Refused(error)) => {
            render(
                &state,
                &web,
                &form,
                Some(&error),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn remove(
    web: WebMember,
    State(state): State<AppState>,
    Path((account, id)): Path<(i64, i64)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Result<Response, WebError> {
    labels::delete(&state, &web.member, id).await?;
    Ok(Redirect::to(&list_url(account)).into_response())
}
