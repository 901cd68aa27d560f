//! The super admins' server settings at `/super_admin/settings`: the
//! installation config (a channel's app id and secret, …; secret values are
//! never shown back) with a form to set a key, and the accounts with the
//! feature flags each has on, turned on and off here. The same
//! `app::administration` use cases as `switchboard config` and
//! `switchboard feature`; anyone but a super admin gets 404.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;

use super::WebError;
use super::layout::{self, Chrome};
use super::session::{CsrfForm, WebSuperAdmin};
use crate::app::{AppError, AppState, administration};

const BASE: &str = "/super_admin/settings";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, get(settings))
        .route(&format!("{BASE}/config"), post(set_config))
        .route(&format!("{BASE}/accounts/{{id}}/features"), post(enable_feature))
        .route(
            &format!("{BASE}/accounts/{{id}}/features/disable"),
            post(disable_feature),
        )
}

async fn settings(admin: WebSuperAdmin, State(state): State<AppState>) -> Result<Response, WebError> {
    render(&state, &admin, None, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    admin: &WebSuperAdmin,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let config = administration::list_config(&state.plugins).await?;
    let accounts = administration::accounts_with_features(&state.store).await?;
    let body = html! {
        section.admin.wide #server-settings {
            h1 { "Server settings" }
            @if let Some(error) = error { p.error role="alert" #settings-error { (error) } }
            h2 { "Installation config" }
            @if config.is_empty() {
                p.muted #no-config { "Nothing set: plugins read their settings from the environment or their defaults." }
            } @else {
                table #config {
                    caption.muted { "Values set here win over the environment variable of the same name" }
                    thead { tr { th scope="col" { "Key" } th scope="col" { "Value" } } }
                    tbody {
                        @for entry in &config {
                            tr data-key=(entry.key) {
                                td { code { (entry.key) } }
                                td { @match &entry.value {
                                    Some(value) => { code { (value) } }
                                    None => { span.muted { "secret: set, never shown" } }
                                } }
                            }
                        }
                    }
                }
            }
            form.stacked #set-config method="post" action={ (BASE) "/config" } {
                input type="hidden" name="_csrf" value=(admin.csrf);
                label for="config-key" { "Key" }
                input #config-key type="text" name="key" required placeholder="TIKTOK_APP_ID" aria-describedby="config-key-hint";
                p.hint #config-key-hint { "Upper case A-Z, 0-9 and _; a plugin's setting is its id and key, e.g. " code { "TIKTOK_APP_SECRET" } "." }
                label for="config-value" { "Value" }
                input #config-value type="password" name="value" required autocomplete="off";
                div.check {
                    input #config-secret type="checkbox" name="secret" value="1";
                    label for="config-secret" { "Secret (stored sealed, never shown; a plugin's declared secrets are sealed either way)" }
                }
                button type="submit" #set-config-button { "Set" }
            }
            h2 { "Accounts and their feature flags" }
            table #accounts {
                thead { tr { th scope="col" { "Account" } th scope="col" { "Flags on" } th scope="col" { "Turn a flag on" } } }
                tbody {
                    @for (account, flags) in &accounts {
                        tr data-account=(account.id) {
                            td { (account.name) br; span.muted { "id " (account.id) } }
                            td.flags {
                                @if flags.is_empty() { span.muted { "none" } }
                                ul.plain {
                                    @for flag in flags {
                                        li data-flag=(flag) {
                                            code { (flag) } " "
                                            form.inline method="post" action={ (BASE) "/accounts/" (account.id) "/features/disable" } {
                                                input type="hidden" name="_csrf" value=(admin.csrf);
                                                input type="hidden" name="flag" value=(flag);
                                                button.secondary type="submit" { "Turn off " span.visually-hidden { (flag) " for " (account.name) } }
                                            }
                                        }
                                    }
                                }
                            }
                            td {
                                form.inline method="post" action={ (BASE) "/accounts/" (account.id) "/features" } {
                                    input type="hidden" name="_csrf" value=(admin.csrf);
                                    @let field = format!("flag-{}", account.id);
                                    label.visually-hidden for=(field) { "Flag to turn on for " (account.name) }
                                    input id=(field) type="text" name="flag" required placeholder="channel_tiktok";
                                    " "
                                    button type="submit" { "Turn on" }
                                }
                            }
                        }
                    }
                }
            }
            @if accounts.len() as i64 == administration::MAX_ACCOUNTS_LISTED {
                p.muted { "The first " (administration::MAX_ACCOUNTS_LISTED) " accounts; " code { "switchboard feature" } " reaches any." }
            }
        }
    };
    let page = layout::page("Server settings", Some(&Chrome::of_super_admin(admin)), body);
    Ok((status, page).into_response())
}

/// A refusal shown on the page (422); anything else is the error page.
async fn after(
    state: &AppState,
    admin: &WebSuperAdmin,
    result: Result<(), AppError>,
) -> Result<Response, WebError> {
    match result {
        Ok(()) => Ok(Redirect::to(BASE).into_response()),
        Err(AppError::Refused(m) | AppError::Invalid(m) | AppError::NotFound(m)) => {
            render(state, admin, Some(&m), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ConfigForm {
    key: String,
    value: String,
    secret: Option<String>,
}

async fn set_config(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    CsrfForm(form): CsrfForm<ConfigForm>,
) -> Result<Response, WebError> {
    let result = administration::set_config(
        &state.plugins,
        form.key.trim(),
        &form.value,
        form.secret.is_some(),
    )
    .await
    .map(drop);
    after(&state, &admin, result).await
}

#[derive(Deserialize)]
struct FlagForm {
    flag: String,
}

async fn enable_feature(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<FlagForm>,
) -> Result<Response, WebError> {
    let result = administration::enable_feature(&state.store, id, form.flag.trim())
        .await
        .map(drop);
    after(&state, &admin, result).await
}

async fn disable_feature(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<FlagForm>,
) -> Result<Response, WebError> {
    let result = administration::disable_feature(&state.store, id, form.flag.trim())
        .await
        .map(drop);
    after(&state, &admin, result).await
}
