//! Chatwoot's devise-token-auth sign-in for API clients:
//! `POST /auth/sign_in` with `{"email", "password"}` answers the profile in
//! `data` and the session in the `access-token`, `client`, `uid`,
//! `token-type` and `expiry` headers, which later requests send back
//! (`auth::Caller` reads them). `DELETE /auth/sign_out` ends the session.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::extract::AppJson;
use super::{ApiError, AppState};
use crate::app::{accounts, sessions};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/sign_in", post(sign_in))
        .route("/auth/sign_out", delete(sign_out))
}

#[derive(Deserialize)]
struct SignIn {
    email: String,
    password: String,
}

/// The client's address, when the server was started with it.
pub(super) fn peer(connect: Option<&ConnectInfo<SocketAddr>>) -> Option<std::net::IpAddr> {
    connect.map(|ConnectInfo(addr)| addr.ip())
}

async fn sign_in(
    State(state): State<AppState>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    request_headers: HeaderMap,
    AppJson(body): AppJson<SignIn>,
) -> Result<Response, ApiError> {
    let forwarded = request_headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let address = sessions::client_address(&state, peer(connect.as_ref().map(|e| &e.0)), forwarded);
    let signed_in = sessions::sign_in(&state, &body.email, &body.password, address).await?;
    let profile = accounts::profile(&state, &signed_in.owner).await?;
    let mut headers = HeaderMap::new();
    let header = |v: &str| HeaderValue::from_str(v).map_err(|e| ApiError::Internal(e.to_string()));
    headers.insert("access-token", header(&signed_in.token)?);
    headers.insert("client", header(&signed_in.client)?);
    headers.insert("uid", header(&signed_in.owner.email)?);
    headers.insert("token-type", HeaderValue::from_static("Bearer"));
    headers.insert("expiry", header(&(signed_in.expires_at / 1000).to_string())?);
    Ok((StatusCode::OK, headers, Json(json!({ "data": profile }))).into_response())
}

async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let (token, client, uid) = (value("access-token"), value("client"), value("uid"));
    if sessions::token_auth(&state, token, client, uid).await?.is_none() {
        return Err(ApiError::NotFound(
            "User was not found or was not logged in.".into(),
        ));
    }
    sessions::sign_out(&state, token).await?;
    Ok(Json(json!({ "success": true })))
}
