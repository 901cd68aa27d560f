//! Use cases of signing in with a password: sign in (rate limited by address
//! and by account), resolve a session, sign out, set a password.
//!
//! One session serves both kinds of client: the dashboard keeps its token in
//! a cookie, API clients send it as devise-token-auth's `access-token`
//! header with its `client` and `uid`. Sessions, like API tokens, are stored
//! only as a digest.

use std::net::IpAddr;

use super::{AppError, AppState};
use crate::accounts::{new_token, password, token_digest};
use crate::store::{SessionRow, Store, TokenOwner, now_ms};

/// How long a session lasts.
pub const SESSION_TTL_MS: i64 = 14 * 24 * 3600 * 1000;
/// The window refused attempts are counted in.
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Refused attempts from one address within the window before it must wait.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// Refused attempts on one account within the window before it must wait
/// (whoever tries: this stops a spread-out guess at one password).
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 10;

/// A new session; the token is shown only now.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Who signed in.
    pub owner: TokenOwner,
    /// The session token (the cookie's value, devise's `access-token`).
    pub token: String,
    /// devise-token-auth's client id.
    pub client: String,
    /// The token forms of this session carry.
    pub csrf: String,
    /// When it ends (unix ms).
    pub expires_at: i64,
}

fn address_key(address: Option<IpAddr>) -> Option<String> {
    address.map(|a| format!("address:{a}"))
}

fn account_key(email: &str) -> String {
    format!("account:{}", email.trim().to_lowercase())
}

fn too_many() -> AppError {
    AppError::TooManyAttempts("Too many sign-in attempts; try again in 15 minutes".into())
}

/// Signs a user in with their email and password. Refuses before checking
/// the password when the address or the account has had too many refused
/// attempts lately; a refusal never says whether the email exists.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    given_password: &str,
    address: Option<IpAddr>,
) -> Result<SignedIn, AppError> {
    let now = now_ms();
    let since = now - FAILURE_WINDOW_MS;
    let by_account = account_key(email);
    let by_address = address_key(address);
    if state.store.sign_in_failures(&by_account, since).await? >= MAX_FAILURES_PER_ACCOUNT {
        return Err(too_many());
    }
    if let Some(key) = &by_address
        && state.store.sign_in_failures(key, since).await? >= MAX_FAILURES_PER_ADDRESS
    {
        return Err(too_many());
    }
    let found = state.store.user_with_password(email.trim()).await?;
    let hash = found
        .as_ref()
        .and_then(|(_, hash)| hash.clone())
        .unwrap_or_else(|| password::decoy().to_owned());
    let given = given_password.to_owned();
    // argon2 takes tens of milliseconds of CPU: off the async workers.
    let matches = tokio::task::spawn_blocking(move || password::verify(&given, &hash))
        .await
        .map_err(|e| AppError::Internal(format!("password check: {e}")))?;
    let owner = match found {
        Some((owner, Some(_))) if matches => owner,
        _ => {
            let mut keys = vec![by_account.as_str()];
            keys.extend(by_address.as_deref());
            state.store.record_sign_in_failure(&keys, now, since).await?;
            return Err(AppError::BadCredentials);
        }
    };
    state.store.clear_sign_in_failures(&by_account).await?;
    let signed_in = SignedIn {
        owner,
        token: new_token(),
        client: new_token(),
        csrf: new_token(),
        expires_at: now + SESSION_TTL_MS,
    };
    state
        .store
        .insert_session(
            &token_digest(&signed_in.token),
            signed_in.owner.user_id,
            &signed_in.client,
            &signed_in.csrf,
            signed_in.expires_at,
        )
        .await?;
    Ok(signed_in)
}

/// The live session behind a token, if any.
pub async fn session(state: &AppState, token: &str) -> Result<Option<SessionRow>, AppError> {
    if token.is_empty() {
        return Ok(None);
    }
    Ok(state.store.session(&token_digest(token), now_ms()).await?)
}

/// The user behind devise-token-auth's three headers: the session's token,
/// its client id and the user's email must all match.
pub async fn token_auth(
    state: &AppState,
    access_token: &str,
    client: &str,
    uid: &str,
) -> Result<Option<TokenOwner>, AppError> {
    Ok(session(state, access_token)
        .await?
        .filter(|s| s.client == client && s.owner.email.eq_ignore_ascii_case(uid))
        .map(|s| s.owner))
}

/// Ends a session (nothing happens for an unknown token).
pub async fn sign_out(state: &AppState, token: &str) -> Result<(), AppError> {
    Ok(state.store.delete_session(&token_digest(token)).await?)
}

/// Sets a user's password and ends their sessions.
pub async fn set_password(store: &Store, email: &str, new_password: &str) -> Result<(), AppError> {
    if let Some(reason) = password::refusal(new_password) {
        return Err(AppError::Refused(reason));
    }
    let Some((owner, _)) = store.user_with_password(email.trim()).await? else {
        return Err(AppError::NotFound(format!("no user has the email {email:?}")));
    };
    let given = new_password.to_owned();
    let hash = tokio::task::spawn_blocking(move || password::hash(&given))
        .await
        .map_err(|e| AppError::Internal(format!("password hash: {e}")))?;
    store.set_password_hash(owner.user_id, &hash).await?;
    store.delete_user_sessions(owner.user_id).await?;
    Ok(())
}
