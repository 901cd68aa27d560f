//! Who is calling: the `api_access_token` header, devise-token-auth's
//! `access-token` + `client` + `uid` headers (from `POST /auth/sign_in`), or,
//! for the dashboard's WebSocket only, its session cookie; resolved to a user.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::accounts::token_digest;
use crate::app::Member;
use crate::store::TokenOwner;

/// A caller that is a server-wide super admin.
pub struct SuperAdmin(#[allow(dead_code)] pub TokenOwner);

/// The `api_access_token` query parameter of a `/live` WebSocket request,
/// for browsers, which cannot set headers on a WebSocket.
fn query_token(parts: &Parts) -> Option<String> {
    // Only the WebSocket takes it: a token in other URLs would end up in
    // logs and Referer headers.
    if !parts.uri.path().ends_with("/live") {
        return None;
    }
    let query = parts.uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "api_access_token")
        .map(|(_, v)| v.into_owned())
}

/// The user behind the `api_access_token` header.
pub struct Caller(pub TokenOwner);

/// The dashboard's session cookie on a same-origin `/live` WebSocket: a
/// browser sends cookies with cross-site WebSocket requests too, so the
/// Origin must be this server's (the page's CSRF defence does not apply).
fn cookie_session(parts: &Parts) -> Option<String> {
    if !parts.uri.path().ends_with("/live") {
        return None;
    }
    let origin = parts.headers.get("origin")?.to_str().ok()?;
    let host = parts.headers.get("host")?.to_str().ok()?;
    let origin_host = origin.split_once("://").map(|(_, rest)| rest)?;
    if origin_host != host {
        return None;
    }
    crate::web::session_cookie(&parts.headers)
}

/// devise-token-auth's headers, when all three are there.
fn devise_headers(parts: &Parts) -> Option<(String, String, String)> {
    let get = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Some((get("access-token")?, get("client")?, get("uid")?))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some((token, client, uid)) = devise_headers(parts) {
            return crate::app::sessions::token_auth(state, &token, &client, &uid)
                .await?
                .map(Caller)
                .ok_or(ApiError::Unauthorized);
        }
        if parts.headers.get("api_access_token").is_none()
            && let Some(token) = cookie_session(parts)
        {
            return crate::app::sessions::session(state, &token)
                .await?
                .map(|s| Caller(s.owner))
                .ok_or(ApiError::Unauthorized);
        }
        let token = parts
            .headers
            .get("api_access_token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| query_token(parts))
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::SignInRequired)?;
        let owner = state
            .store
            .token_owner(&token_digest(&token))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Caller(owner))
    }
}

impl FromRequestParts<AppState> for SuperAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Caller(owner) = Caller::from_request_parts(parts, state)
            .await
            .map_err(|e| match e {
                ApiError::SignInRequired => ApiError::Unauthorized,
                other => other,
            })?;
        if !owner.super_admin {
            return Err(ApiError::Forbidden);
        }
        Ok(SuperAdmin(owner))
    }
}

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Caller(user) = Caller::from_request_parts(parts, state).await?;
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("Resource could not be found".into()))?;
        let account_id = params
            .iter()
            .find(|(name, _)| *name == "account_id")
            .and_then(|(_, value)| value.parse::<i64>().ok())
            .ok_or_else(|| ApiError::NotFound("Resource could not be found".into()))?;
        let role = state
            .store
            .membership(account_id, user.user_id)
            .await?
            .ok_or(ApiError::NotAccountMember)?;
        Ok(Member {
            user,
            account_id,
            role,
        })
    }
}
