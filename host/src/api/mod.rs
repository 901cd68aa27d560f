//! The HTTP surface: routes, extractors and the one error type. Handlers are
//! thin: extract, call one domain function, convert the result.
//!
//! Only this module knows axum.

mod accounts;
mod admin;
mod auth;
mod channels;
mod contacts;
mod conversations;
mod error;
mod extract;
mod health;
mod inboxes;
mod live;
mod messages;
mod openapi;
mod pipeline;
mod plugins;

pub use error::ApiError;

use axum::Router;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;

/// Largest plugin upload (Python and JavaScript components are 10-20 MiB).
pub const MAX_PLUGIN_BYTES: usize = 64 << 20;

/// Rewrites the plain-text rejections axum's own extractors produce (a
/// malformed path segment or query string) into the API's one error shape.
async fn json_errors(response: axum::response::Response) -> axum::response::Response {
    let is_text = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !response.status().is_client_error() || !is_text {
        return response;
    }
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&body).trim().to_owned();
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("bad request").to_owned()
    } else {
        message
    };
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// The whole application. Layers, outermost first: request tracing, then the
/// rewriting of framework rejections into `{"error": …}`.
pub fn router(state: AppState) -> Router {
    let webhook_limit = state.pipeline.config.webhook_max_bytes;
    let routes = OpenApiRouter::new()
        .merge(health::router().into())
        .merge(accounts::router())
        .merge(admin::router().into())
        .merge(inboxes::router())
        .merge(contacts::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(live::router().into())
        .merge(channels::router(webhook_limit))
        .merge(pipeline::router())
        .nest("/api/v1/admin/plugins", plugins::router().into());
    openapi::router(routes)
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(axum::middleware::map_response(json_errors))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the application on `listener` until `shutdown` resolves, then lets
/// requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
