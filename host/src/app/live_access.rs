//! Who receives which live events: administrators every event of their
//! account, agents those of the inboxes they belong to. A connection re-reads
//! this every few seconds, so a removed agent stops receiving. The same rules
//! serve `/live` (an API token) and `/cable` (a pubsub token), which also
//! reports who is present (Chatwoot's `presence.update`).

use serde_json::{Map, Value, json};

use super::{AppError, AppState, views};
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

/// The access of an ActionCable `RoomChannel` subscription: the user whose
/// pubsub token it names (and, when the client names one, whose id it is),
/// in the account it names. `None` — reject — when the token is nobody's,
/// the id is another user's, or the user is not a member of the account.
pub async fn by_pubsub_token(
    state: &AppState,
    pubsub_token: &str,
    account_id: i64,
    user_id: Option<i64>,
) -> Result<Option<(i64, LiveAccess)>, AppError> {
    if pubsub_token.is_empty() {
        return Ok(None);
    }
    let Some(user) = state.store.user_by_pubsub_token(pubsub_token).await? else {
        return Ok(None);
    };
    if user_id.is_some_and(|id| id != user.id) {
        return Ok(None);
    }
    Ok(access(state, account_id, user.id).await?.map(|a| (user.id, a)))
}

/// Records that a user is present in the account (a `RoomChannel`
/// subscription or its `update_presence`), and answers Chatwoot's
/// `presence.update` data: the account's users seen in the last minute on
/// any node, each with their availability (`online`, `busy`, `offline`), and
/// its contacts (none: contacts do not connect here).
pub async fn presence(state: &AppState, account_id: i64, user_id: i64) -> Result<Value, AppError> {
    state.live.seen(account_id, user_id).await;
    let present = state.live.present(account_id);
    let users: Map<String, Value> = state
        .store
        .list_agents(account_id)
        .await?
        .iter()
        .filter(|agent| present.binary_search(&agent.id).is_ok())
        .map(|agent| {
            (
                agent.id.to_string(),
                json!(views::availability(agent.availability)),
            )
        })
        .collect();
    Ok(json!({ "account_id": account_id, "users": users, "contacts": {} }))
}
