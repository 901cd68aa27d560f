//! Use cases of plugin administration for super admins, over
//! `plugin_host::admin`. Every change is synced into this process before it
//! is answered, so the caller sees it take effect; other nodes follow within
//! the sync interval.

use super::{AppError, AppState};
use crate::contract::{IncomingRequest, Manifest};
use crate::plugin_host::admin::{self, AdminError, PluginInfo, WebhookDryRun};
use crate::store::{StoreError, TokenOwner};

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

/// An uploaded component that passed every check, waiting for a super
/// admin to confirm what it asks for before it is installed.
#[derive(Debug, Clone)]
pub struct Review {
    /// sha256 of the component: names the staged upload.
    pub sha256: String,
    /// What it says it is and asks for.
    pub manifest: Manifest,
    /// The installed plugin with the same id, when this would upgrade it.
    pub installed: Option<PluginInfo>,
}

/// Checks an uploaded component as an install would (compiles, links,
/// describes itself validly, a supported contract) and keeps it until
/// [`confirm`]; nothing is installed yet. The exact build already installed
/// is refused here, before the review.
pub async fn review(state: &AppState, uploader: &TokenOwner, bytes: Vec<u8>) -> Result<Review, AppError> {
    let review = inspect(state, bytes.clone()).await?;
    if review
        .installed
        .as_ref()
        .is_some_and(|i| i.sha256 == review.sha256)
    {
        return Err(AppError::Refused(format!(
            "plugin {:?} {} is already installed from this exact file",
            review.manifest.id, review.manifest.version
        )));
    }
    state
        .store
        .stage_plugin_upload(&review.sha256, &bytes, uploader.user_id)
        .await?;
    Ok(review)
}

async fn inspect(state: &AppState, bytes: Vec<u8>) -> Result<Review, AppError> {
    let inspected = admin::inspect(state.plugins.runtime(), bytes).await?;
    let installed = match admin::show(&state.plugins, &inspected.manifest.id, true).await {
        Ok(info) => Some(info),
        Err(AdminError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(Review {
        sha256: inspected.sha256,
        manifest: inspected.manifest,
        installed,
    })
}

async fn staged_bytes(state: &AppState, sha256: &str) -> Result<Vec<u8>, AppError> {
    state.store.plugin_upload(sha256).await.map_err(|e| match e {
        StoreError::NotFound(_) => AppError::NotFound(
            "this upload is no longer waiting for review (confirmed, cancelled or older than an hour); upload the file again"
                .into(),
        ),
        other => other.into(),
    })
}

/// A staged upload's review, as [`review`] answered it.
pub async fn staged(state: &AppState, sha256: &str) -> Result<Review, AppError> {
    let bytes = staged_bytes(state, sha256).await?;
    inspect(state, bytes).await
}

/// Installs a reviewed upload, or upgrades the plugin it replaces (a lower
/// version only with `allow_downgrade`), then forgets the upload.
pub async fn confirm(state: &AppState, sha256: &str, allow_downgrade: bool) -> Result<PluginInfo, AppError> {
    let bytes = staged_bytes(state, sha256).await?;
    let review = inspect(state, bytes.clone()).await?;
    let info = match &review.installed {
        Some(current) => upgrade(state, &current.id, bytes, allow_downgrade).await?,
        None => install(state, bytes).await?,
    };
    state.store.drop_plugin_upload(sha256).await?;
    Ok(info)
}

/// Forgets a staged upload without installing it.
pub async fn cancel(state: &AppState, sha256: &str) -> Result<(), AppError> {
    Ok(state.store.drop_plugin_upload(sha256).await?)
}
