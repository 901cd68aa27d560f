//! The HTTP surface: routes, extractors and the one error type. Handlers are
//! thin: extract, call one domain function, convert the result.
//!
//! Only this module knows axum.

mod accounts;
mod admin;
mod auth;
mod cable;
mod channels;
mod contacts;
mod conversations;
mod error;
mod extract;
mod health;
mod inboxes;
mod live;
mod messages;
mod metrics;
mod openapi;
mod pipeline;
mod plugins;
mod sessions;
mod teams;
mod webhooks;

pub use error::ApiError;
pub use metrics::MetricsEndpoint;

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
/// rewriting of framework rejections into `{"error": …}`, then the request
/// metrics.
pub fn router(state: AppState) -> Router {
    router_with(state, None)
}

/// The whole application, with `/metrics` when `metrics` is given (behind
/// its token: see `metrics`).
pub fn router_with(state: AppState, metrics: Option<MetricsEndpoint>) -> Router {
    let webhook_limit = state.pipeline.config.webhook_max_bytes;
    let routes = OpenApiRouter::new()
        .merge(health::router().into())
        .merge(sessions::router().into())
        .merge(accounts::router())
        .merge(admin::router().into())
        .merge(inboxes::router())
        .merge(contacts::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(teams::router())
        .merge(live::router().into())
        .merge(cable::router().into())
        .merge(webhooks::router())
        .merge(channels::router(webhook_limit))
        .merge(pipeline::router())
        .nest("/api/v1/admin/plugins", plugins::router().into());
    let app = openapi::router(routes)
        .merge(crate::web::router())
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::middleware::map_response(json_errors))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state);
    // Routing happens inside `app`, so a layer on this outer router rewrites
    // the path before any route is matched.
    metrics
        .map_or_else(Router::new, metrics::router)
        .fallback_service(app)
        .layer(axum::middleware::map_request(trim_trailing_slash))
}

/// `/api/…/inboxes/` is `/api/…/inboxes`, and `/api/…/inboxes/2.0` is
/// `/api/…/inboxes/2`: Rails ignores a trailing slash and reads an id the
/// way it reads a number, and generated clients send both. Only the API's
/// paths: the dashboard's pages keep theirs.
async fn trim_trailing_slash(mut request: axum::extract::Request) -> axum::extract::Request {
    let path = request.uri().path();
    let whole_float = |segment: &str| {
        segment.split_once('.').is_some_and(|(int, fraction)| {
            !int.is_empty()
                && int.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit())
                && !fraction.is_empty()
                && fraction.bytes().all(|b| b == b'0')
        })
    };
    if path.starts_with("/api/")
        && ((path.len() > 1 && path.ends_with('/')) || path.split('/').any(whole_float))
    {
        let trimmed = path
            .trim_end_matches('/')
            .split('/')
            .map(|segment| match segment.split_once('.') {
                Some((int, _)) if whole_float(segment) => int,
                _ => segment,
            })
            .collect::<Vec<_>>()
            .join("/");
        let rewritten = match request.uri().query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_owned(),
        };
        if let Ok(path_and_query) = rewritten.parse::<axum::http::uri::PathAndQuery>() {
            let mut parts = request.uri().clone().into_parts();
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}

/// A known path with another method: 405 with the one error shape. The body
/// is read first, so the connection stays usable for the client's next
/// request (an unread body would make the server drop it).
async fn method_not_allowed(body: axum::body::Body) -> ApiError {
    let _ = axum::body::to_bytes(body, MAX_PLUGIN_BYTES).await;
    ApiError::MethodNotAllowed
}

/// Serves the application on `listener` until `shutdown` resolves, then lets
/// requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, None, shutdown).await
}

/// [`serve`], with `/metrics` on the same address when `metrics` is given.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    metrics: Option<MetricsEndpoint>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address feeds the sign-in rate limit by address.
    let app = router_with(state, metrics).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Serves `/metrics` alone on `listener` (the metrics address of its own).
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: MetricsEndpoint,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, metrics::router(metrics))
        .with_graceful_shutdown(shutdown)
        .await
}
