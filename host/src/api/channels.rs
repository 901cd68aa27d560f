//! Routes that providers and browsers reach for a channel, named by its
//! plugin id (`tiktok`, …), so the host stays generic:
//!
//! - `POST|GET /webhooks/{channel}`: a provider's webhook (stored before it
//!   is acknowledged; see `crate::app::ingest`);
//! - `POST /api/v1/accounts/{account_id}/channels/{channel}/authorization`
//!   (and Chatwoot's `/api/v1/accounts/{account_id}/{channel}/authorization`):
//!   the provider URL that starts an authorization;
//! - `GET /{channel}/callback`: the provider's OAuth redirect, which ends on
//!   the dashboard with the outcome.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::extract::OptionalJson;
use super::{ApiError, AppState};
use crate::app::ingest::{self, IngestError, Received};
use crate::app::{Member, channels};
use crate::contract::IncomingRequest;
use crate::runtime::PluginError;

pub fn router(max_webhook_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(
            routes!(webhook, handshake)
                // One byte over the limit reaches the handler, which answers 413
                // in the API's shape.
                .layer(DefaultBodyLimit::max(max_webhook_bytes.saturating_add(1))),
        )
        .routes(routes!(callback))
        .routes(routes!(authorize))
        // Chatwoot's path for the same, not documented a second time.
        .route(
            "/api/v1/accounts/{account_id}/{channel}/authorization",
            post(authorize),
        )
}

/// A provider's verification handshake (a GET to the webhook URL): the
/// plugin's own answer, else a 4xx that says why. The same handler as the
/// POST, documented on its own so the document lists every method served.
#[utoipa::path(
    get,
    path = "/webhooks/{channel}",
    tag = "Channels",
    summary = "Answer a provider's webhook handshake (through the channel plugin)",
    params(("channel" = String, Path, description = "Channel plugin id, e.g. tiktok")),
    responses((status = 200, description = "The plugin's answer"), super::openapi::WebhookErrors),
)]
async fn handshake(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    axum::handler::Handler::call(webhook, request, state).await
}

/// A provider's webhook: 200 once stored (or already stored), the plugin's
/// own answer to a handshake, else a 4xx that says why.
#[utoipa::path(
    post,
    path = "/webhooks/{channel}",
    tag = "Channels",
    summary = "Receive a provider's webhook (verified by the channel plugin, stored, then acknowledged)",
    params(("channel" = String, Path, description = "Channel plugin id, e.g. tiktok")),
    request_body(content = String, content_type = "application/json", description = "The provider's payload, byte for byte"),
    responses((status = 200, description = "Stored"), super::openapi::WebhookErrors),
)]
async fn webhook(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    method: Method,
    uri: axum::http::Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::PayloadTooLarge.into_response();
        }
        Err(e) => return ApiError::BadRequest(e.body_text()).into_response(),
    };
    let request = incoming_request(&method, &uri, query, &headers, &body);
    received_response(&channel, ingest::receive(&state, &channel, request).await)
}

/// The webhook as the channel plugin sees it.
fn incoming_request(
    method: &Method,
    uri: &axum::http::Uri,
    query: Option<String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> IncomingRequest {
    IncomingRequest {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: query.unwrap_or_default(),
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    }
}

/// The answer to the provider: 200, the plugin's handshake answer, or the
/// error (429 with `Retry-After` when rate limited, 503 with `Retry-After` when
/// the channel is installed but not running).
fn received_response(channel: &str, received: Result<Received, IngestError>) -> Response {
    match received {
        Ok(Received::Stored(_) | Received::Duplicate) => StatusCode::OK.into_response(),
        Ok(Received::Challenge(answer)) => {
            let mut response = (
                StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK),
                answer.body,
            )
                .into_response();
            for (name, value) in answer.headers {
                if let (Ok(name), Ok(value)) = (
                    header::HeaderName::try_from(name.as_str()),
                    HeaderValue::try_from(value.as_str()),
                ) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Err(e) => {
            let retry_after = e.retry_after_secs();
            let mut response = match e {
                IngestError::RateLimited { retry_after_secs } => ApiError::TooManyRequests(format!(
                    "too many webhooks for the {channel} channel; retry in {retry_after_secs} s"
                ))
                .into_response(),
                e => ApiError::from(e).into_response(),
            };
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::UnknownChannel(_) => ApiError::NotFound(e.to_string()),
            IngestError::ChannelOff(_) => ApiError::Unavailable(e.to_string()),
            IngestError::TooLarge { .. } => ApiError::PayloadTooLarge,
            IngestError::RateLimited { .. } => ApiError::TooManyRequests(e.to_string()),
            // The reason is logged; the sender learns only that it failed.
            IngestError::Rejected(_) => ApiError::WebhookRejected,
            // The same request fails the same way: 422, so that providers do
            // not keep retrying it. What the plugin printed is logged, not
            // told to an unauthenticated sender; the fault's kind is.
            IngestError::Unverifiable(p) => ApiError::Unprocessable(match &p {
                PluginError::OutputBudget { message, .. } => {
                    format!(
                        "the channel plugin cannot verify this request: its answer is over budget: {message}"
                    )
                }
                other => format!(
                    "the channel plugin cannot verify this request ({}); retrying it will not help",
                    other.kind()
                ),
            }),
            // Not stored, and the host's shortage passes: 503, retried later.
            IngestError::Plugin(p) => ApiError::Unavailable(format!("the channel plugin failed: {p}")),
            IngestError::Store(s) => ApiError::Unavailable(format!("the event log cannot be written: {s}")),
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct AuthorizeBody {
    /// Where the dashboard returns afterwards (e.g. `onboarding`).
    return_to: Option<String>,
}

/// Starts an authorization: answers the provider URL to send the browser to.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/channels/{channel}/authorization",
    tag = "Channels",
    summary = "Start connecting a provider account (account administrators)",
    params(("account_id" = i64, Path, description = "Account id"), ("channel" = String, Path, description = "Channel plugin id, e.g. tiktok")),
    request_body(content = AuthorizeBody, description = "Optional"),
    responses((status = 200, description = "`{\"success\": true, \"url\": …}`"), super::openapi::AuthorizeErrors),
    security(("api_access_token" = [])),
)]
async fn authorize(
    member: Member,
    State(state): State<AppState>,
    Path(path): Path<(i64, String)>,
    OptionalJson(body): OptionalJson<AuthorizeBody>,
) -> Result<Json<Value>, ApiError> {
    let return_to = body.and_then(|b| b.return_to);
    let url = channels::start_authorization(&state, &member, &path.1, return_to).await?;
    Ok(Json(json!({ "success": true, "url": url })))
}

/// The provider's OAuth redirect: connects the inbox and sends the browser
/// to the dashboard with the outcome. A state that names no account gets a
/// 400 here, since there is no dashboard page to send it to.
#[utoipa::path(
    get,
    path = "/{channel}/callback",
    tag = "Channels",
    summary = "OAuth redirect target (registered at the provider as <FRONTEND_URL>/<channel>/callback)",
    params(
        ("channel" = String, Path, description = "Channel plugin id, e.g. tiktok"),
        ("state" = String, Query, description = "The state the authorization started with"),
        ("code" = Option<String>, Query, description = "The provider's authorization code (absent when the user declined)"),
    ),
    responses((status = 302, description = "To the dashboard, with the outcome"), super::openapi::CallbackErrors),
)]
async fn callback(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let location = channels::complete_authorization(&state, &channel, pairs).await?;
    // 302, as the reference integration answers.
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fault of verification that the same request reproduces is the
    /// request's (422, the guest's output not told); a shortage of the host's
    /// is the server's (503, retried later).
    #[test]
    fn a_plugin_fault_at_ingest_is_answered_by_its_kind() {
        let trap = ApiError::from(IngestError::Unverifiable(PluginError::Trap {
            plugin: "p".into(),
            message: "panicked at 'secret detail'".into(),
        }));
        assert_eq!(trap.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!trap.to_string().contains("secret detail"), "{trap}");
        let over = ApiError::from(IngestError::Unverifiable(PluginError::OutputBudget {
            plugin: "p".into(),
            message: "challenge body is 9 bytes".into(),
        }));
        assert!(over.to_string().contains("challenge body is 9 bytes"), "{over}");
        let short = ApiError::from(IngestError::Plugin(PluginError::MemoryBudget {
            plugin: "p".into(),
            budget_bytes: 1 << 20,
        }));
        assert_eq!(short.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
