//! The web dashboard: server-rendered HTML pages for people, beside the JSON
//! API for programs. An entry point like `api/`: handlers extract, call the
//! same `app` use cases as the API, and render the result with maud
//! templates (checked by the compiler, escaping by default). One small ES
//! module (`assets/app.js`) adds live updates and in-place replies.
//!
//! Areas are routers merged here, each in its own file: `login` (sign in and
//! out), `workspace` (the agents' conversations), `inboxes`, `agents`, `labels`
//! (the account administrators' pages, and where a channel's authorization
//! lands), `plugins`, `pipeline` and `server_settings` (the super admins'
//! plugin console, event log, installation config and feature flags). Each has a
//! `router()` and uses `session::WebMember` (or `session::WebSuperAdmin`)
//! and `layout::page`.
//!
//! Every response here carries the security headers of [`security_headers`];
//! every state change is a POST whose form carries the session's CSRF token
//! (`session::CsrfForm`), and cross-site POSTs are refused before that.

mod agents;
mod assets;
mod error;
mod inboxes;
mod labels;
mod layout;
mod login;
mod pipeline;
mod plugins;
mod server_settings;
mod session;
mod workspace;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};

pub use error::WebError;
pub use session::session_cookie;

use crate::app::AppState;

/// The dashboard's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(login::router())
        .merge(workspace::router())
        .merge(inboxes::router())
        .merge(agents::router())
        .merge(labels::router())
        .merge(plugins::router())
        .merge(pipeline::router())
        .merge(server_settings::router())
        .merge(assets::router())
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(refuse_cross_site))
}

/// Content-Security-Policy: nothing from other origins, no inline script or
/// style, no framing (clickjacking), forms post only here.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A state-changing request another site's page started: refused whatever
/// it carries (the CSRF token is the main defence; this one needs no state).
fn cross_site(method: &Method, headers: &HeaderMap) -> bool {
    if method == Method::GET || method == Method::HEAD {
        return false;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, h)| h) != Some(host),
        _ => false,
    }
}

async fn refuse_cross_site(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if cross_site(request.method(), request.headers()) {
        return WebError::Forbidden.into_response();
    }
    next.run(request).await
}
