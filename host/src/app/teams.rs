//! Use cases of teams, as in Chatwoot: every member of the account sees the
//! teams and their members; administrators create, change and delete them
//! and choose their members. A team's members must be agents of its account.

use super::{AppError, AppState, Member};
use crate::store::{TeamChanges, TeamRow, UserRow};

/// A team to create or the changes to one.
#[derive(Debug, Default, Clone)]
pub struct TeamInput {
    /// Name (stored lower-cased, as Chatwoot does).
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Auto-assignment within the team.
    pub allow_auto_assign: Option<bool>,
}

fn clean_name(name: &str) -> Result<String, AppError> {
    let name = name.trim().to_lowercase();
    if name.is_empty() {
        return Err(AppError::Refused("Name can't be blank".into()));
    }
    if name.chars().count() > 255 {
        return Err(AppError::Refused(
            "Name is too long (maximum is 255 characters)".into(),
        ));
    }
    Ok(name)
}

/// The account's teams, each with whether the member belongs to it.
pub async fn list(state: &AppState, member: &Member) -> Result<Vec<(TeamRow, bool)>, AppError> {
    let mine = state
        .store
        .user_team_ids(member.account_id, member.user.user_id)
        .await?;
    let teams = state.store.list_teams(member.account_id).await?;
    Ok(teams
        .into_iter()
        .map(|t| {
            let is_member = mine.contains(&t.id);
            (t, is_member)
        })
        .collect())
}

/// One team, with whether the member belongs to it.
pub async fn show(state: &AppState, member: &Member, id: i64) -> Result<(TeamRow, bool), AppError> {
    let team = state.store.get_team(member.account_id, id).await?;
    let mine = state
        .store
        .user_team_ids(member.account_id, member.user.user_id)
        .await?;
    let is_member = mine.contains(&team.id);
    Ok((team, is_member))
}

/// Creates a team (administrators).
pub async fn create(state: &AppState, member: &Member, input: TeamInput) -> Result<TeamRow, AppError> {
    member.require_admin()?;
    let name = clean_name(input.name.as_deref().unwrap_or_default())?;
    Ok(state
        .store
        .insert_team(
            member.account_id,
            &name,
            input.description.as_deref(),
            input.allow_auto_assign.unwrap_or(true),
        )
        .await?)
}

/// Changes a team (administrators).
pub async fn update(
    state: &AppState,
    member: &Member,
    id: i64,
    input: TeamInput,
) -> Result<TeamRow, AppError> {
    member.require_admin()?;
    let changes = TeamChanges {
        name: input.name.as_deref().map(clean_name).transpose()?,
        description: input.description,
        allow_auto_assign: input.allow_auto_assign,
    };
    Ok(state.store.update_team(member.account_id, id, &changes).await?)
}

/// Deletes a team (administrators); its conversations lose the team.
pub async fn delete(state: &AppState, member: &Member, id: i64) -> Result<(), AppError> {
    member.require_admin()?;
    Ok(state.store.delete_team(member.account_id, id).await?)
}

/// A team's members.
pub async fn members(state: &AppState, member: &Member, id: i64) -> Result<Vec<UserRow>, AppError> {
    let team = state.store.get_team(member.account_id, id).await?;
    Ok(state.store.team_members(team.id).await?)
}

/// How a change of members applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembersChange {
    /// Add these users.
    Add,
    /// Make the members exactly these users.
    Replace,
    /// Remove these users.
    Remove,
}

/// Changes a team's members (administrators); answers them as they are now.
pub async fn change_members(
    state: &AppState,
    member: &Member,
    id: i64,
    user_ids: &[i64],
    change: MembersChange,
) -> Result<Vec<UserRow>, AppError> {
    member.require_admin()?;
    let team = state.store.get_team(member.account_id, id).await?;
    if change != MembersChange::Remove {
        for user_id in user_ids {
            if state
                .store
                .membership(member.account_id, *user_id)
                .await?
                .is_none()
            {
                return Err(AppError::Refused(format!(
                    "user {user_id} is not an agent of this account"
                )));
            }
        }
    }
    match change {
        MembersChange::Add => state.store.add_team_members(team.id, user_ids).await?,
        MembersChange::Replace => state.store.replace_team_members(team.id, user_ids).await?,
        MembersChange::Remove => state.store.remove_team_members(team.id, user_ids).await?,
    }
    Ok(state.store.team_members(team.id).await?)
}
