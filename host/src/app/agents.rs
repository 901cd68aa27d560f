//! Use cases of an account's agents: list, add (creating the user when the
//! email is new), change a name or role, remove. Changes are for
//! administrators.

use super::{AppError, AppState, Member};
use crate::accounts::role;
use crate::store::UserRow;

/// The account's agents.
pub async fn list(state: &AppState, member: &Member) -> Result<Vec<UserRow>, AppError> {
    Ok(state.store.list_agents(member.account_id).await?)
}

/// Adds a user to the account with a role (`agent` or `administrator`),
/// creating the user when no one has the email yet.
pub async fn add(
    state: &AppState,
    member: &Member,
    name: &str,
    email: &str,
    role_name: &str,
) -> Result<UserRow, AppError> {
    member.require_admin()?;
    let role =
        role::parse(role_name).ok_or_else(|| AppError::Refused(format!("unknown role {role_name:?}")))?;
    if !email.contains('@') || name.trim().is_empty() {
        return Err(AppError::Refused(
            "an agent needs a name and a valid email".into(),
        ));
    }
    let user_id = match state.store.user_by_email(email).await? {
        Some(user) => user.id,
        None => state.store.insert_user(name, email).await?,
    };
    if state
        .store
        .membership(member.account_id, user_id)
        .await?
        .is_some()
    {
        return Err(AppError::Refused(format!(
            "{email} is already an agent of this account"
        )));
    }
    state
        .store
        .set_membership(member.account_id, user_id, role)
        .await?;
    Ok(state.store.get_agent(member.account_id, user_id).await?)
}

/// Adds a new user to the account with an initial password, so they can
/// sign in to the dashboard at once (the dashboard's "add agent"). An email
/// that already has a user is refused: that person keeps their own
/// password, and [`add`] (no password) adds them.
pub async fn create_with_password(
    state: &AppState,
    member: &Member,
    name: &str,
    email: &str,
    role_name: &str,
    password: &str,
) -> Result<UserRow, AppError> {
    member.require_admin()?;
    if let Some(reason) = crate::accounts::password::refusal(password) {
        return Err(AppError::Refused(reason));
    }
    if state.store.user_by_email(email.trim()).await?.is_some() {
        return Err(AppError::Refused(format!(
            "{} already has an account here; add them without a password and they sign in with their own",
            email.trim()
        )));
    }
    let agent = add(state, member, name, email.trim(), role_name).await?;
    super::sessions::set_password(&state.store, &agent.email, password).await?;
    Ok(agent)
}

/// Changes an agent's name or role. A name is shared by every account the
/// user belongs to, so it changes here only for users of this account alone.
pub async fn update(
    state: &AppState,
    member: &Member,
    id: i64,
    name: Option<&str>,
    role_name: Option<&str>,
) -> Result<UserRow, AppError> {
    update_with_availability(state, member, id, name, role_name, None).await
}

/// Chatwoot's availability names and their codes.
pub fn availability_code(name: &str) -> Option<i64> {
    match name {
        "online" => Some(0),
        "offline" => Some(1),
        "busy" => Some(2),
        _ => None,
    }
}

/// Changes an agent's name, role or availability (`online`, `offline`,
/// `busy`); see [`update`].
pub async fn update_with_availability(
    state: &AppState,
    member: &Member,
    id: i64,
    name: Option<&str>,
    role_name: Option<&str>,
    availability: Option<&str>,
) -> Result<UserRow, AppError> {
    member.require_admin()?;
    let current = state.store.get_agent(member.account_id, id).await?;
    let availability = match availability {
        Some(name) => Some(
            availability_code(name)
                .ok_or_else(|| AppError::Refused(format!("unknown availability {name:?}")))?,
        ),
        None => None,
    };
    // Validate everything before writing anything.
    let role = match role_name {
        Some(name) => {
            Some(role::parse(name).ok_or_else(|| AppError::Refused(format!("unknown role {name:?}")))?)
        }
        None => None,
    };
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    if name.is_some() && (current.super_admin || state.store.user_accounts(id).await?.len() > 1) {
        // A user's name is shared by every account they belong to; one
        // account's administrator may not change what the others see.
        return Err(AppError::Refused(
            "this user belongs to other accounts too; only they can change their name".into(),
        ));
    }
    if let Some(name) = name {
        state.store.rename_user(id, name).await?;
    }
    if let Some(role) = role {
        state
            .store
            .set_membership(member.account_id, current.id, role)
            .await?;
    }
    if let Some(code) = availability {
        state.store.set_availability(current.id, code).await?;
    }
    Ok(state.store.get_agent(member.account_id, id).await?)
}

/// Removes an agent from the account (not the member themself).
pub async fn remove(state: &AppState, member: &Member, id: i64) -> Result<(), AppError> {
    member.require_admin()?;
    if id == member.user.user_id {
        return Err(AppError::Refused(
            "you cannot remove yourself from the account".into(),
        ));
    }
    state.store.remove_membership(member.account_id, id).await?;
    Ok(())
}
