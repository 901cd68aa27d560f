//! Use cases of plugin administration for super admins, over
//! `plugin_host::admin`. Every change is synced into this process before it
//! is answered, so the caller sees it take effect; other nodes follow within
//! the sync interval.

use super::{AppError, AppState};
use crate::contract::IncomingRequest;
use crate::plugin_host::admin::{self, PluginInfo, WebhookDryRun};

/// Loads the latest plugin changes, then answers the plugin as it is now.
async fn synced(state: &AppState, id: &str) -> Result<PluginInfo, AppError> {
    state.plugins.sync().await?;
    Ok(admin::show(&state.plugins, id, true).await?)
}

/// Every installed plugin.
pub async fn list(state: &AppState) -> Result<Vec<PluginInfo>, AppError> {
    Ok(admin::list(&state.plugins, true).await?)
}

/// One installed plugin.
pub async fn show(state: &AppState, id: &str) -> Result<PluginInfo, AppError> {
    Ok(admin::show(&state.plugins, id, true).await?)
}

/// Installs a plugin component.
pub async fn install(state: &AppState, bytes: Vec<u8>) -> Result<PluginInfo, AppError> {
    let info = admin::install(&state.plugins, bytes, false).await?;
    synced(state, &info.id).await
}

/// Replaces a plugin with a newer version (or an older one when allowed).
pub async fn upgrade(
    state: &AppState,
    id: &str,
    bytes: Vec<u8>,
    allow_downgrade: bool,
) -> Result<PluginInfo, AppError> {
    admin::upgrade(&state.plugins, Some(id), bytes, allow_downgrade).await?;
    synced(state, id).await
}

/// Enables or disables a plugin.
pub async fn set_enabled(state: &AppState, id: &str, enabled: bool) -> Result<PluginInfo, AppError> {
    admin::set_enabled(&state.plugins, id, enabled).await?;
    synced(state, id).await
}

/// Removes a plugin (`force`: even when inboxes use it).
pub async fn remove(state: &AppState, id: &str, force: bool) -> Result<(), AppError> {
    admin::remove(&state.plugins, id, force).await?;
    state.plugins.sync().await?;
    Ok(())
}

/// Lets a plugin reach an origin.
pub async fn grant_host(state: &AppState, id: &str, origin: &str) -> Result<PluginInfo, AppError> {
    admin::grant_host(&state.plugins, id, origin).await?;
    synced(state, id).await
}

/// Takes back a plugin's access to an origin.
pub async fn revoke_host(state: &AppState, id: &str, origin: &str) -> Result<PluginInfo, AppError> {
    admin::revoke_host(&state.plugins, id, origin).await?;
    synced(state, id).await
}

/// Changes a plugin's time and memory limits.
pub async fn set_limits(
    state: &AppState,
    id: &str,
    timeout_ms: Option<u64>,
    memory_mib: Option<u64>,
) -> Result<PluginInfo, AppError> {
    admin::set_limits(&state.plugins, id, timeout_ms, memory_mib).await?;
    synced(state, id).await
}

/// Runs a webhook request through a plugin's verification and parsing
/// without storing anything.
pub async fn dry_run_webhook(
    state: &AppState,
    id: &str,
    request: IncomingRequest,
) -> Result<WebhookDryRun, AppError> {
    Ok(admin::dry_run_webhook(&state.plugins, id, request).await?)
}
