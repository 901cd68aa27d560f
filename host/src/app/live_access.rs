//! Who receives which live events: administrators every event of their
//! account, agents those of the inboxes they belong to. A connection re-reads
//! this every few seconds, so a removed agent stops receiving.

use super::{AppError, AppState};
use crate::accounts::role;
use crate::live::LiveEvent;

/// What a connected user may receive.
#[derive(Debug, Clone)]
pub struct LiveAccess {
    account_id: i64,
    /// `None`: every inbox (administrators).
    inboxes: Option<Vec<i64>>,
}

impl LiveAccess {
    /// Whether the user receives `event`.
    pub fn allows(&self, event: &LiveEvent) -> bool {
        if event.account_id != self.account_id {
            return false;
        }
        match (&self.inboxes, event.inbox_id) {
            (Some(mine), Some(inbox)) => mine.contains(&inbox),
            _ => true,
        }
    }
}

/// The user's access to the account's live events now, or `None` when they
/// are no longer a member.
pub async fn access(state: &AppState, account_id: i64, user_id: i64) -> Result<Option<LiveAccess>, AppError> {
    let Some(member_role) = state.store.membership(account_id, user_id).await? else {
        return Ok(None);
    };
    if member_role == role::ADMINISTRATOR {
        return Ok(Some(LiveAccess {
            account_id,
            inboxes: None,
        }));
    }
    let visible = state.store.list_inboxes(account_id, Some(user_id)).await?;
    Ok(Some(LiveAccess {
        account_id,
        inboxes: Some(visible.into_iter().map(|i| i.id).collect()),
    }))
}
