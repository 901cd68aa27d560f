//! Signing in and out of the dashboard, and `/`, which sends a browser to
//! the sign-in page or to its workspace.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;

use super::session::{self, CsrfForm, LOGIN_COOKIE, Nothing, Signed};
use super::{WebError, layout};
use crate::app::{AppError, AppState, sessions};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(start))
        .route("/app", get(start))
        .route("/app/login", get(form).post(sign_in))
        .route("/app/logout", post(sign_out))
}

/// Only a path on this site: never `//other.example` or a full URL.
fn local(path: Option<&str>) -> &str {
    match path {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p,
        _ => "/",
    }
}

async fn start(signed: Option<Signed>, State(state): State<AppState>) -> Result<Response, WebError> {
    let Some(signed) = signed else {
        return Ok(Redirect::to("/app/login").into_response());
    };
    let accounts = state
        .store
        .user_accounts(signed.session.owner.user_id)
        .await
        .map_err(AppError::from)?;
    if let Some((account, _)) = accounts.first() {
        return Ok(Redirect::to(&format!("/app/accounts/{}/conversations", account.id)).into_response());
    }
    Ok(layout::page(
        "No account",
        None,
        html! {
            section.notice {
                h1 { "You belong to no account yet" }
                p { "Signed in as " (signed.session.owner.email) ". An administrator can add you to an account." }
                form method="post" action="/app/logout" {
                    input type="hidden" name="_csrf" value=(signed.session.csrf);
                    button type="submit" { "Sign out" }
                }
            }
        },
    )
    .into_response())
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    return_to: Option<String>,
}

fn login_page(status: StatusCode, csrf: &str, return_to: &str, email: &str, error: Option<&str>) -> Response {
    let page = layout::page(
        "Sign in",
        None,
        html! {
            section.login {
                h1 { "Sign in to Switchboard" }
                @if let Some(error) = error {
                    p.error role="alert" #login-error { (error) }
                }
                form method="post" action="/app/login" {
                    input type="hidden" name="_csrf" value=(csrf);
                    input type="hidden" name="return_to" value=(return_to);
                    label for="email" { "Email" }
                    input #email type="email" name="email" autocomplete="username" required value=(email);
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    button type="submit" { "Sign in" }
                }
            }
        },
    );
    (status, page).into_response()
}

async fn form(headers: HeaderMap, Query(query): Query<LoginQuery>) -> Response {
    let token = crate::accounts::new_token();
    let mut response = login_page(
        StatusCode::OK,
        &token,
        local(query.return_to.as_deref()),
        "",
        None,
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(&headers, LOGIN_COOKIE, &token, 3600),
    );
    response
}

#[derive(Deserialize)]
struct Credentials {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    email: String,
    password: String,
    return_to: Option<String>,
}

async fn sign_in(
    State(state): State<AppState>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Credentials>,
) -> Response {
    let return_to = local(form.return_to.as_deref()).to_owned();
    let expected = session::cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !session::same(expected.as_bytes(), form.csrf.as_bytes()) {
        return WebError::Forbidden.into_response();
    }
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let address = sessions::client_address(
        &state,
        connect.map(|axum::Extension(ConnectInfo(a))| a.ip()),
        forwarded,
    );
    match sessions::sign_in(&state, &form.email, &form.password, address).await {
        Ok(signed) => {
            let mut response = Redirect::to(&return_to).into_response();
            let max_age = sessions::SESSION_TTL_MS / 1000;
            let h = response.headers_mut();
            h.append(
                header::SET_COOKIE,
                session::set_cookie(&headers, session::COOKIE, &signed.token, max_age),
            );
            h.append(
                header::SET_COOKIE,
                session::set_cookie(&headers, LOGIN_COOKIE, "", 0),
            );
            response
        }
        Err(e @ (AppError::BadCredentials | AppError::TooManyAttempts(_))) => {
            let status = if matches!(e, AppError::BadCredentials) {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::TOO_MANY_REQUESTS
            };
            login_page(status, &expected, &return_to, &form.email, Some(&e.to_string()))
        }
        Err(e) => WebError::from(e).into_response(),
    }
}

async fn sign_out(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Result<Response, WebError> {
    sessions::sign_out(&state, &signed.token).await?;
    let mut response = Redirect::to("/app/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(&headers, session::COOKIE, "", 0),
    );
    Ok(response)
}
