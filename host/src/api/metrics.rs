//! `GET /metrics` in Prometheus' text format, and the HTTP request metrics.
//!
//! The exposition is rendered by the exporter `serve` installs, handed in as
//! a closure, so this module needs no exporter of its own. It is served on an
//! address of its own (`SWITCHBOARD_METRICS_ADDR`) or on the main one behind
//! a bearer token (`SWITCHBOARD_METRICS_TOKEN`), never openly on the main
//! address: queue depths and plugin names are nobody else's business.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::ApiError;

/// What `/metrics` serves, and who may read it.
#[derive(Clone)]
pub struct MetricsEndpoint {
    /// Renders the exposition text.
    pub render: Arc<dyn Fn() -> String + Send + Sync>,
    /// The bearer token a scrape must present, if any.
    pub token: Option<String>,
}

/// `/metrics` alone.
pub fn router(endpoint: MetricsEndpoint) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(endpoint)
}

async fn metrics(State(endpoint): State<MetricsEndpoint>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = &endpoint.token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compared as digests: equal length, so the time says nothing of
        // how much of the token matched.
        if Sha256::digest(presented.as_bytes()) != Sha256::digest(token.as_bytes()) {
            return Err(ApiError::Unauthorized);
        }
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        (endpoint.render)(),
    )
        .into_response())
}

/// Counts every request by method, route (the route's pattern, so ids do
/// not multiply the series) and status, and times it.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!("switchboard_http_request_duration_seconds", "method" => method.clone(), "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "switchboard_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    response
}
