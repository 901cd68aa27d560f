//! Use cases of a user's profile and of the account they act in: the
//! profile with the accounts they belong to, the account with its feature
//! flags, and (administrators) its settings.

use serde_json::Value;

use super::{AppError, AppState, Member, views};
use crate::store::{AccountChanges, TokenOwner};

/// The user with the accounts they belong to, rendered.
pub async fn profile(state: &AppState, owner: &TokenOwner) -> Result<Value, AppError> {
    profile_with_token(state, owner, None).await
}

/// The caller's profile, showing the API access token the request carried
/// (`None` for a sign-in session).
pub async fn profile_with_token(
    state: &AppState,
    owner: &TokenOwner,
    access_token: Option<&str>,
) -> Result<Value, AppError> {
    let user = state.store.get_user(owner.user_id).await?;
    let accounts = state.store.user_accounts(owner.user_id).await?;
    Ok(views::profile_with_token(&user, &accounts, access_token))
}

/// The member's account with its feature flags, rendered.
pub async fn show(state: &AppState, member: &Member) -> Result<Value, AppError> {
    let account = state.store.get_account(member.account_id).await?;
    let features = state.store.account_features(member.account_id).await?;
    Ok(views::account(&account, &features))
}

/// Changes the account's settings (administrators); answers it rendered.
pub async fn update(state: &AppState, member: &Member, changes: AccountChanges) -> Result<Value, AppError> {
    member.require_admin()?;
    if changes.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(AppError::Refused("Name can't be blank".into()));
    }
    let account = state.store.update_account(member.account_id, &changes).await?;
    let features = state.store.account_features(member.account_id).await?;
    Ok(views::account(&account, &features))
}
