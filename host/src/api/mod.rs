//! The HTTP surface: routes, extractors and the one error type. Handlers are
//! thin: extract, call one domain function, convert the result.
//!
//! Only this module knows axum.

mod accounts;
mod admin;
mod auth;
mod contacts;
mod conversations;
mod error;
mod extract;
mod health;
mod inboxes;
mod live;
mod messages;
mod openapi;
mod plugins;
mod views;

pub use auth::{new_token, role};
pub use error::ApiError;

use std::sync::Arc;

use axum::Router;

use crate::plugins::PluginHost;
use crate::store::Store;

/// Largest plugin upload (Python and JavaScript components are 10-20 MiB).
pub const MAX_PLUGIN_BYTES: usize = 64 << 20;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Loaded plugins and their admin operations.
    pub plugins: Arc<PluginHost>,
    /// Live-update events for WebSocket clients.
    pub live: Arc<crate::live::LiveEvents>,
}

/// The whole application. Layers, outermost first: request tracing.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(accounts::router())
        .merge(admin::router())
        .merge(inboxes::router())
        .merge(contacts::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(live::router())
        .merge(openapi::router())
        .nest("/api/v1/admin/plugins", plugins::router())
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
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
