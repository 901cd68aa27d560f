//! Use cases of inboxes and their members. Agents see only the inboxes they
//! belong to; administrators see and manage all. Inboxes of channels with an
//! authorization flow are created by connecting an account
//! (`app::channels`), not here.

use super::conversations::visible_inbox;
use super::{AppError, AppState, Member};
use crate::conversations::API_CHANNEL;
use crate::store::{InboxChanges, InboxInsert, InboxRow, UserRow};

/// The inboxes the member may see.
pub async fn list(state: &AppState, member: &Member) -> Result<Vec<InboxRow>, AppError> {
    Ok(state
        .store
        .list_inboxes(member.account_id, member.only_member())
        .await?)
}

/// An inbox to create.
#[derive(Debug, Clone)]
pub struct NewInbox {
    /// Its name.
    pub name: String,
    /// The channel plugin id.
    pub channel: String,
    /// The provider's id of the account whose webhooks the inbox receives.
    pub external_id: Option<String>,
    /// Where an API inbox's events are POSTed (Chatwoot's `webhook_url`).
    pub webhook_url: Option<String>,
}

/// Creates an inbox on a channel without an authorization flow
/// (administrators).
pub async fn create(state: &AppState, member: &Member, new: NewInbox) -> Result<InboxRow, AppError> {
    member.require_admin()?;
    if new.name.trim().is_empty() {
        return Err(AppError::Refused("Name can't be blank".into()));
    }
    let plugin = state
        .plugins
        .get(crate::conversations::plugin_of_channel_type(&new.channel))
        .ok_or_else(|| AppError::Refused(format!("no enabled channel plugin {:?}", new.channel)))?;
    if plugin.manifest.supports_authorization {
        return Err(AppError::Refused(format!(
            "{} inboxes are created by connecting an account (the channel's authorization flow)",
            plugin.manifest.name
        )));
    }
    let external_id = new.external_id.as_deref().map(str::trim);
    if external_id.is_some_and(str::is_empty) {
        return Err(AppError::Refused("external_id can't be blank".into()));
    }
    let mut tx = state.store.begin_write().await?;
    let inbox = tx
        .insert_inbox(&InboxInsert {
            account_id: member.account_id,
            name: new.name.trim(),
            channel: &plugin.manifest.id,
            external_id,
            ..Default::default()
        })
        .await?;
    let webhook_url = new.webhook_url.filter(|_| plugin.manifest.id == API_CHANNEL);
    if let Some(url) = &webhook_url {
        super::webhooks::set_for_inbox(state, &mut tx, member.account_id, inbox.id, url).await?;
    }
    tx.commit().await?;
    if webhook_url.is_some() {
        super::webhooks::forget(state, member.account_id);
    }
    Ok(state.store.get_inbox(member.account_id, inbox.id).await?)
}

/// Changes an inbox's settings (administrators), and an API inbox's
/// `webhook_url` when one is given (blank removes it).
pub async fn update(
    state: &AppState,
    member: &Member,
    id: i64,
    changes: InboxChanges,
    webhook_url: Option<String>,
) -> Result<InboxRow, AppError> {
    member.require_admin()?;
    if changes.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(AppError::Refused("Name can't be blank".into()));
    }
    let inbox = state.store.update_inbox(member.account_id, id, &changes).await?;
    let Some(url) = webhook_url.filter(|_| inbox.channel == API_CHANNEL) else {
        return Ok(inbox);
    };
    let mut tx = state.store.begin_write().await?;
    super::webhooks::set_for_inbox(state, &mut tx, member.account_id, id, &url).await?;
    tx.commit().await?;
    super::webhooks::forget(state, member.account_id);
    Ok(state.store.get_inbox(member.account_id, id).await?)
}

/// Deletes an inbox and its conversations (administrators).
pub async fn delete(state: &AppState, member: &Member, id: i64) -> Result<(), AppError> {
    member.require_admin()?;
    state.store.delete_inbox(member.account_id, id).await?;
    Ok(())
}

async fn member_list(state: &AppState, account_id: i64, inbox_id: i64) -> Result<Vec<UserRow>, AppError> {
    let ids = state.store.inbox_member_ids(inbox_id).await?;
    let agents = state.store.list_agents(account_id).await?;
    Ok(agents.into_iter().filter(|a| ids.contains(&a.id)).collect())
}

/// The agents of an inbox the member may see.
pub async fn members(state: &AppState, member: &Member, inbox_id: i64) -> Result<Vec<UserRow>, AppError> {
    visible_inbox(state, member, inbox_id).await?;
    member_list(state, member.account_id, inbox_id).await
}

/// How a membership change treats the inbox's current agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembersChange {
    /// Add the agents named.
    Add,
    /// Make the agents named the only ones.
    Replace,
    /// Remove the agents named.
    Remove,
}

/// Adds, replaces or removes an inbox's agents (administrators); answers
/// the agents it has afterwards.
pub async fn change_members(
    state: &AppState,
    member: &Member,
    inbox_id: i64,
    user_ids: &[i64],
    change: MembersChange,
) -> Result<Vec<UserRow>, AppError> {
    member.require_admin()?;
    state.store.get_inbox(member.account_id, inbox_id).await?;
    match change {
        MembersChange::Add | MembersChange::Replace => {
            state
                .store
                .set_inbox_members(
                    member.account_id,
                    inbox_id,
                    user_ids,
                    change == MembersChange::Replace,
                )
                .await?
        }
        MembersChange::Remove => state.store.remove_inbox_members(inbox_id, user_ids).await?,
    }
    member_list(state, member.account_id, inbox_id).await
}

/// A channel an administrator may open an inbox on.
#[derive(Debug, Clone)]
pub struct ChannelChoice {
    /// The channel plugin id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Inboxes are created by connecting an account at the provider (OAuth);
    /// otherwise by [`create`] with the provider's account id.
    pub authorization: bool,
}

/// The enabled channel plugins, to create an inbox on (administrators).
pub async fn channels(state: &AppState, member: &Member) -> Result<Vec<ChannelChoice>, AppError> {
    member.require_admin()?;
    Ok(state
        .plugins
        .loaded_ids()
        .into_iter()
        .filter_map(|id| state.plugins.get(&id))
        .map(|p| ChannelChoice {
            id: p.manifest.id.clone(),
            name: p.manifest.name.clone(),
            description: p.manifest.description.clone(),
            authorization: p.manifest.supports_authorization,
        })
        .collect())
}
