//! Who is calling: the `api_access_token` header, resolved to a user.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::store::TokenOwner;

/// A caller that is a server-wide super admin.
pub struct SuperAdmin(#[allow(dead_code)] pub TokenOwner);

/// A new random API token (or other unguessable id): 32 bytes, URL-safe base64.
pub fn new_token() -> String {
    use base64::Engine as _;
    use rand::Rng as _;
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// sha256 of a token, the form tokens are stored in.
pub fn token_digest(token: &str) -> String {
    crate::runtime::Runtime::sha256(token.as_bytes())
}

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

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
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

/// Roles in an account (Chatwoot's integers).
pub mod role {
    /// May read and answer conversations in the inboxes they belong to.
    pub const AGENT: i64 = 0;
    /// May do everything in the account.
    pub const ADMINISTRATOR: i64 = 1;

    /// The role's name in JSON.
    pub fn name(role: i64) -> &'static str {
        if role == ADMINISTRATOR {
            "administrator"
        } else {
            "agent"
        }
    }

    /// A role from its JSON name.
    pub fn parse(name: &str) -> Option<i64> {
        match name {
            "agent" => Some(AGENT),
            "administrator" => Some(ADMINISTRATOR),
            _ => None,
        }
    }
}

/// A member of the account named by the path's `{account_id}`.
pub struct Member {
    /// The user.
    pub user: TokenOwner,
    /// The account.
    pub account_id: i64,
    /// Their role in it.
    pub role: i64,
}

impl Member {
    /// Whether the member administers the account.
    pub fn is_admin(&self) -> bool {
        self.role == role::ADMINISTRATOR
    }

    /// Fails unless the member administers the account.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::NotAllowed)
        }
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
