//! Who is calling: the `api_access_token` header, resolved to a user.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::store::TokenOwner;

/// A caller that is a server-wide super admin.
pub struct SuperAdmin(#[allow(dead_code)] pub TokenOwner);

/// sha256 of a token, the form tokens are stored in.
pub fn token_digest(token: &str) -> String {
    crate::runtime::Runtime::sha256(token.as_bytes())
}

impl FromRequestParts<AppState> for SuperAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get("api_access_token")
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let owner = state
            .store
            .token_owner(&token_digest(token))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if !owner.super_admin {
            return Err(ApiError::Forbidden);
        }
        Ok(SuperAdmin(owner))
    }
}
