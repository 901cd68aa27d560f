//! The application layer: one function per use case (send a message, retry
//! it, apply an inbound webhook, open a conversation, change its status,
//! assign it, label it, create an account …). Each owns its rules and
//! composes one transaction through the store.
//!
//! Every entry point calls these functions and nothing below them: the JSON
//! API (`api/`), the pipeline's workers (`pipeline/`), the CLI (`cli/`) and,
//! later, the web dashboard; none of them is imported here. This module knows neither
//! axum nor SQL nor wasmtime; it composes the domain modules
//! (`conversations`, `accounts`, `plugin_host`, `channel_accounts`) with the
//! store and the runtime. Its errors are [`AppError`], which the API turns
//! into statuses in one place (`api::error`).

pub mod accounts;
pub mod administration;
pub mod agents;
pub mod announce;
pub mod channels;
pub mod contacts;
pub mod conversations;
pub mod delivery;
mod error;
pub mod inbound;
pub mod inboxes;
pub mod ingest;
pub mod labels;
pub mod live_access;
pub mod messages;
pub mod ops;
pub mod pipeline_admin;
pub mod plugins;
pub mod queues;
mod rate;
pub mod sessions;
pub mod teams;
pub mod views;
pub mod webhooks;

use std::sync::Arc;

pub use error::AppError;
pub use queues::{Pipeline, PipelineConfig, backoff_ms};

use crate::accounts::role;
use crate::plugin_host::PluginHost;
use crate::store::{Store, TokenOwner};

/// What every use case can reach: the one shared state of a node.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Loaded plugins and their admin operations.
    pub plugins: Arc<PluginHost>,
    /// Live-update events for WebSocket clients.
    pub live: Arc<crate::live::LiveEvents>,
    /// The durable pipeline's settings, wake-ups and rate limits.
    pub pipeline: Arc<Pipeline>,
    /// Where attachments' bytes are kept (`SWITCHBOARD_BLOBS`).
    pub blobs: crate::blobs::Blobs,
}

/// A user acting in one account, with their role there: who every
/// account-scoped use case acts for.
#[derive(Debug, Clone)]
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
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AppError::NotAllowed)
        }
    }

    /// The user id to restrict reads to: agents see only their inboxes'
    /// conversations, administrators see all.
    pub fn only_member(&self) -> Option<i64> {
        (!self.is_admin()).then_some(self.user.user_id)
    }
}
