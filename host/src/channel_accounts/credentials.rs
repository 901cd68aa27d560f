//! A connected inbox's credentials: opened from their sealed column for a
//! call, refreshed shortly before they expire.
//!
//! A refresh runs once across every worker and node: the refresher takes a
//! lease on the inbox row (`credentials_refreshing_until`) with one
//! conditional UPDATE, and everyone else waits for the sealed value to change
//! or the lease to end. Providers often invalidate the old refresh token on
//! use, so two refreshes racing would leave one of them holding a dead token.

use std::time::Duration;

use crate::contract::{Credentials, ErrorCode};
use crate::plugin_host::{LoadedPlugin, PluginHost};
use crate::runtime::PluginError;
use crate::store::{InboxRow, Store, StoreError, now_ms};

/// How long before expiry an access token is refreshed.
pub const REFRESH_AHEAD_MS: i64 = 5 * 60 * 1000;
/// How long the refresher holds the lease (longer than a plugin call).
const LEASE_MS: i64 = 30_000;
/// How often a waiting worker looks for the refresher's result.
const POLL: Duration = Duration::from_millis(100);

/// Why an inbox has no usable credentials.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The inbox was never connected through an authorization.
    #[error("this inbox is not connected; connect it through the channel's authorization")]
    NotConnected,
    /// The provider no longer accepts the refresh token.
    #[error("this inbox must be reconnected: the provider no longer accepts its credentials")]
    ReauthorizationRequired,
    /// The refresh failed in a way that may pass.
    #[error("cannot refresh the inbox's credentials: {0}")]
    RefreshFailed(String),
    /// The sealed value cannot be opened.
    #[error("cannot open the inbox's credentials: {0}")]
    Sealed(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CredentialError {
    /// Whether trying again later may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::RefreshFailed(_) | Self::Store(_))
    }
}

/// Seals credentials for the `credentials` column.
pub fn seal(plugins: &PluginHost, credentials: &Credentials) -> Result<String, CredentialError> {
    let json = serde_json::to_string(credentials).map_err(|e| CredentialError::Sealed(e.to_string()))?;
    plugins
        .secrets()
        .seal(&json)
        .map_err(|e| CredentialError::Sealed(e.to_string()))
}

fn open(plugins: &PluginHost, sealed: &str) -> Result<Credentials, CredentialError> {
    let json = plugins
        .secrets()
        .open(sealed)
        .map_err(|e| CredentialError::Sealed(e.to_string()))?;
    serde_json::from_str(&json).map_err(|e| CredentialError::Sealed(e.to_string()))
}

fn expires_soon(credentials: &Credentials, now: i64) -> bool {
    credentials
        .expires_at_ms
        .is_some_and(|at| (at as i64) <= now + REFRESH_AHEAD_MS)
}

/// Credentials for a call on `inbox`, refreshed first when they expire
/// within [`REFRESH_AHEAD_MS`].
pub async fn for_call(
    store: &Store,
    plugins: &PluginHost,
    plugin: &LoadedPlugin,
    inbox: &InboxRow,
) -> Result<Credentials, CredentialError> {
    let current = store.inbox_credentials(inbox.id).await?;
    if current.reauthorization_required {
        return Err(CredentialError::ReauthorizationRequired);
    }
    let sealed = current.sealed.ok_or(CredentialError::NotConnected)?;
    let credentials = open(plugins, &sealed)?;
    let now = now_ms();
    if !expires_soon(&credentials, now) {
        return Ok(credentials);
    }
    match refresh(store, plugins, plugin, inbox, &sealed).await {
        // A failed early refresh is no reason to fail a call that the
        // current token can still make.
        Err(CredentialError::RefreshFailed(reason))
            if credentials.expires_at_ms.is_some_and(|at| at as i64 > now) =>
        {
            tracing::warn!(
                inbox = inbox.id,
                "refresh failed; using the current token until it expires: {reason}"
            );
            Ok(credentials)
        }
        other => other,
    }
}

/// Refreshes the credentials that were `stale_sealed` (e.g. after the
/// provider refused them), unless another worker already did: then its
/// result is answered.
pub async fn refresh(
    store: &Store,
    plugins: &PluginHost,
    plugin: &LoadedPlugin,
    inbox: &InboxRow,
    stale_sealed: &str,
) -> Result<Credentials, CredentialError> {
    let give_up = now_ms() + 2 * LEASE_MS;
    loop {
        let current = store.inbox_credentials(inbox.id).await?;
        if current.reauthorization_required {
            return Err(CredentialError::ReauthorizationRequired);
        }
        let sealed = current.sealed.ok_or(CredentialError::NotConnected)?;
        if sealed != stale_sealed {
            return open(plugins, &sealed);
        }
        // The lease is taken only while the credentials are still the stale
        // ones: a worker that read them just before another finished its
        // refresh must not refresh again with a used refresh token.
        if store.take_refresh_lease(inbox.id, stale_sealed, LEASE_MS).await? {
            return refresh_holding_lease(store, plugins, plugin, inbox, &sealed).await;
        }
        if now_ms() > give_up {
            return Err(CredentialError::RefreshFailed(
                "another worker holds the refresh and has not finished".into(),
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn refresh_holding_lease(
    store: &Store,
    plugins: &PluginHost,
    plugin: &LoadedPlugin,
    inbox: &InboxRow,
    sealed: &str,
) -> Result<Credentials, CredentialError> {
    let current = open(plugins, sealed)?;
    let settings = plugins.settings_for(&plugin.manifest);
    let outcome = plugin.instance.refresh_credentials(&settings, &current).await;
    match outcome {
        Ok(fresh) => {
            let sealed = seal(plugins, &fresh)?;
            store.finish_refresh(inbox.id, Some(&sealed), false).await?;
            tracing::info!(inbox = inbox.id, channel = %inbox.channel, "credentials refreshed");
            Ok(fresh)
        }
        Err(PluginError::Channel { error, .. })
            if matches!(
                error.code,
                ErrorCode::ReauthorizationRequired | ErrorCode::AccessDenied
            ) =>
        {
            store.finish_refresh(inbox.id, None, true).await?;
            tracing::warn!(inbox = inbox.id, channel = %inbox.channel, reason = %error.message,
                "credentials cannot be refreshed; the inbox needs reauthorization");
            Err(CredentialError::ReauthorizationRequired)
        }
        Err(other) => {
            store.finish_refresh(inbox.id, None, false).await?;
            Err(CredentialError::RefreshFailed(other.to_string()))
        }
    }
}

/// The sealed credentials an inbox has now (to pass to [`refresh`] after the
/// provider refused them).
pub async fn sealed_now(store: &Store, inbox_id: i64) -> Result<Option<String>, CredentialError> {
    Ok(store.inbox_credentials(inbox_id).await?.sealed)
}
