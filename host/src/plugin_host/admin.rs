//! The admin's operations on plugins, shared by the CLI and the admin API:
//! install, upgrade, enable, disable, remove, grant and revoke hosts, set
//! limits, and dry-run calls. Each validates first and writes in one
//! transaction, so a refused operation changes nothing.

use std::sync::Arc;

use serde::Serialize;

use super::{PluginHost, settings};
use crate::caps::egress::{EgressLimits, EgressPolicy, OriginPattern};
use crate::contract::{ChannelEvent, IncomingRequest, Manifest, Verification};
use crate::runtime::{CallStats, PluginError, Runtime};
use crate::store::{PluginRow, StoreError, StoredPlugin};

/// Why an admin operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The file is not an acceptable plugin.
    #[error("invalid plugin: {0}")]
    InvalidPlugin(String),
    /// The request is malformed.
    #[error("{0}")]
    InvalidInput(String),
    /// No such plugin, or no such grant.
    #[error("{0}")]
    NotFound(String),
    /// The plugin exists, or the change conflicts with its state.
    #[error("{0}")]
    Conflict(String),
    /// The plugin is disabled or failed to load.
    #[error("plugin {0:?} is not loaded (disabled, or it failed to load: see `switchboard plugin show`)")]
    NotLoaded(String),
    /// Inboxes still use the plugin.
    #[error("{0}; remove them first or pass --force")]
    InUse(String),
    /// A call into the plugin failed.
    #[error(transparent)]
    Plugin(PluginError),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AdminError::NotFound(format!("{what} is not installed")),
            StoreError::Conflict(_) | StoreError::Changed(_) => AdminError::Conflict(e.to_string()),
            StoreError::InUse { .. } => AdminError::InUse(e.to_string()),
            other => AdminError::Store(other),
        }
    }
}

/// An installed plugin as admins see it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Contract version.
    pub contract_version: String,
    /// sha256 of the component.
    pub sha256: String,
    /// Enabled?
    pub enabled: bool,
    /// Shipped in the binary?
    pub bundled: bool,
    /// Per-call deadline in ms (override or default).
    pub timeout_ms: u64,
    /// Per-call memory cap in bytes (override or default).
    pub memory_limit_bytes: u64,
    /// Origins from the manifest.
    pub declared_hosts: Vec<String>,
    /// Origins granted by an admin.
    pub granted_hosts: Vec<String>,
    /// Install time (unix ms).
    pub installed_at: i64,
    /// Last change (unix ms).
    pub updated_at: i64,
    /// Whether this process has it loaded; `null` when asked outside a server.
    pub loaded: Option<bool>,
    /// Why it failed to load, if it did.
    pub load_error: Option<String>,
    /// `healthy`, `unhealthy` (its last calls faulted) or `quarantined`
    /// (disabled by the host after too many faults in a row).
    pub health: String,
    /// Deterministic faults in a row (traps, memory, output budget, timeouts).
    pub faults_in_row: i64,
    /// The last such fault.
    pub last_fault: Option<String>,
    /// Why the host disabled it, when it did (an admin's enable clears it).
    pub disabled_reason: Option<String>,
    /// The environment names of required settings that have no value (not
    /// in the installation config, nor in the environment of the process
    /// asking, nor a default): the plugin's calls fail until they are set.
    /// Filled by [`show`]; empty in lists.
    pub missing_settings: Vec<String>,
    /// Its calls of the last minutes on the node that answers (counts,
    /// errors, traps, timeouts, p50 and p99); `null` when it is not loaded
    /// there or when asked outside a server.
    pub recent_calls: Option<CallStats>,
    /// The full manifest.
    pub manifest: Manifest,
}

/// The result of a dry-run webhook call.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookDryRun {
    /// What verify-webhook said.
    pub verification: Verification,
    /// What parse-event returned (only when accepted).
    pub events: Option<Vec<ChannelEvent>>,
}

/// A component that passed every check, ready to store.
pub struct Inspected {
    /// Its manifest.
    pub manifest: Manifest,
    /// Its bytes.
    pub bytes: Arc<Vec<u8>>,
    /// Their sha256.
    pub sha256: String,
    /// Milliseconds spent compiling or loading it.
    pub load_ms: u128,
}

/// Validates a component without storing it: it compiles, links against the
/// host, exports a supported contract, and describes itself validly.
pub async fn inspect(runtime: &Arc<Runtime>, bytes: Vec<u8>) -> Result<Inspected, AdminError> {
    let bytes = Arc::new(bytes);
    let compiled = runtime.compile(bytes.clone()).await.map_err(|e| match e {
        PluginError::InvalidComponent(msg) => AdminError::InvalidPlugin(msg),
        other => AdminError::Plugin(other),
    })?;
    let sha256 = compiled.sha256.clone();
    let load_ms = compiled.load_time.as_millis();
    // describe() must be pure: run it with no network at all.
    let egress = Arc::new(EgressPolicy::new("inspect", vec![], &[], EgressLimits::default()));
    let instance = runtime.instance("(new plugin)", compiled, runtime.config().default_limits, egress);
    let manifest = instance
        .describe()
        .await
        .map_err(|e| AdminError::InvalidPlugin(format!("describe() failed: {e}")))?;
    manifest
        .validate()
        .map_err(|e| AdminError::InvalidPlugin(format!("manifest: {e}")))?;
    let contract = semver::Version::parse(&manifest.contract_version).expect("validated");
    if !crate::runtime::supports_contract(&contract) {
        return Err(AdminError::InvalidPlugin(format!(
            "it was built for contract {contract}; this host supports {}",
            crate::runtime::SUPPORTED_CONTRACTS
        )));
    }
    let exported = instance.compiled().contract();
    if (contract.major, contract.minor) != (exported.major, exported.minor) {
        return Err(AdminError::InvalidPlugin(format!(
            "its manifest says contract {contract} but the component implements {}.{}",
            exported.major, exported.minor
        )));
    }
    Ok(Inspected {
        manifest,
        bytes,
        sha256,
        load_ms,
    })
}

fn stored<'a>(inspected: &'a Inspected, manifest_json: &'a str, bundled: bool) -> StoredPlugin<'a> {
    StoredPlugin {
        id: &inspected.manifest.id,
        name: &inspected.manifest.name,
        version: &inspected.manifest.version,
        contract_version: &inspected.manifest.contract_version,
        manifest: manifest_json,
        bytes: &inspected.bytes,
        sha256: &inspected.sha256,
        bundled,
    }
}

/// Installs a new plugin. Refuses an id that is already installed.
pub async fn install(host: &PluginHost, bytes: Vec<u8>, bundled: bool) -> Result<PluginInfo, AdminError> {
    let inspected = inspect(host.runtime(), bytes).await?;
    let id = inspected.manifest.id.clone();
    refuse_env_collisions(host, &inspected.manifest).await?;
    let manifest_json = serde_json::to_string(&inspected.manifest).expect("manifest serialises");
    host.store()
        .insert_plugin(&stored(&inspected, &manifest_json, bundled))
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => AdminError::Conflict(format!(
                "plugin {id:?} is already installed; use `switchboard plugin upgrade` to replace it"
            )),
            other => other.into(),
        })?;
    tracing::info!(plugin = %id, version = %inspected.manifest.version, "plugin installed");
    seal_declared_secrets(host, &inspected.manifest).await;
    show(host, &id, false).await
}

/// Refuses a manifest whose settings would read another installed plugin's
/// environment variables (e.g. plugin `tiktok-app` key `secret` and plugin
/// `tiktok` key `app_secret` both map to `TIKTOK_APP_SECRET`).
async fn refuse_env_collisions(host: &PluginHost, manifest: &Manifest) -> Result<(), AdminError> {
    let mine = settings::env_names(manifest);
    for row in host.store().list_plugins().await? {
        if row.id == manifest.id {
            continue;
        }
        let Ok(other) = serde_json::from_str::<Manifest>(&row.manifest) else {
            continue;
        };
        if let Some(shared) = settings::env_names(&other)
            .into_iter()
            .find(|name| mine.contains(name))
        {
            return Err(AdminError::InvalidPlugin(format!(
                "its settings would read ${shared}, which belongs to plugin {:?}",
                row.id
            )));
        }
    }
    Ok(())
}

/// Seals settings the manifest declares secret that were stored in clear.
/// The plugin is installed either way; a failure here is logged loudly.
async fn seal_declared_secrets(host: &PluginHost, manifest: &Manifest) {
    if let Err(e) = settings::seal_declared(host, manifest).await {
        tracing::error!(plugin = %manifest.id, "secret settings stored in clear could not be sealed: {e}");
    }
}

/// Replaces an installed plugin with a new build of the same id. Refuses a
/// lower version unless `allow_downgrade`.
pub async fn upgrade(
    host: &PluginHost,
    id: Option<&str>,
    bytes: Vec<u8>,
    allow_downgrade: bool,
) -> Result<PluginInfo, AdminError> {
    let inspected = inspect(host.runtime(), bytes).await?;
    let new_id = inspected.manifest.id.clone();
    if let Some(id) = id.filter(|id| *id != new_id) {
        return Err(AdminError::InvalidInput(format!(
            "the file is plugin {new_id:?}, not {id:?}"
        )));
    }
    let current = host.store().get_plugin(&new_id).await?;
    let old = semver::Version::parse(&current.version).ok();
    let new = semver::Version::parse(&inspected.manifest.version).expect("validated");
    if current.sha256 == inspected.sha256 {
        return Err(AdminError::Conflict(format!(
            "plugin {new_id:?} {new} is already this exact build"
        )));
    }
    if old.as_ref().is_some_and(|old| &new < old) && !allow_downgrade {
        return Err(AdminError::Conflict(format!(
            "{new} is older than the installed {}; pass --allow-downgrade to go back",
            current.version
        )));
    }
    refuse_env_collisions(host, &inspected.manifest).await?;
    let manifest_json = serde_json::to_string(&inspected.manifest).expect("manifest serialises");
    host.store()
        .replace_plugin(
            &stored(&inspected, &manifest_json, current.bundled),
            &current.sha256,
        )
        .await?;
    tracing::info!(plugin = %new_id, from = %current.version, to = %new, "plugin upgraded");
    seal_declared_secrets(host, &inspected.manifest).await;
    show(host, &new_id, false).await
}

/// Enables or disables a plugin.
pub async fn set_enabled(host: &PluginHost, id: &str, enabled: bool) -> Result<PluginInfo, AdminError> {
    host.store().set_plugin_enabled(id, enabled).await?;
    show(host, id, false).await
}

/// Removes a plugin; refuses while inboxes use it unless `force`.
pub async fn remove(host: &PluginHost, id: &str, force: bool) -> Result<(), AdminError> {
    let row = host.store().get_plugin(id).await?;
    // Remember the admin's choice so that the next start does not reinstall it.
    let tombstone = row.bundled.then(|| super::bundled::removed_key(id));
    host.store()
        .delete_plugin(id, force, tombstone.as_deref())
        .await?;
    Ok(())
}

/// Normalises an origin an admin typed, or explains what is wrong with it.
fn parse_origin(origin: &str) -> Result<String, AdminError> {
    OriginPattern::parse(origin)
        .map(|o| o.to_string())
        .map_err(|e| AdminError::InvalidInput(format!("origin {origin:?}: {e}")))
}

/// Grants an extra origin to a plugin.
pub async fn grant_host(host: &PluginHost, id: &str, origin: &str) -> Result<PluginInfo, AdminError> {
    let origin = parse_origin(origin)?;
    host.store().grant_origin(id, &origin).await?;
    show(host, id, false).await
}

/// Revokes a granted origin.
pub async fn revoke_host(host: &PluginHost, id: &str, origin: &str) -> Result<PluginInfo, AdminError> {
    let origin = parse_origin(origin)?;
    host.store().get_plugin(id).await?;
    if !host.store().revoke_origin(id, &origin).await? {
        return Err(AdminError::NotFound(format!(
            "plugin {id:?} has no grant for {origin}"
        )));
    }
    show(host, id, false).await
}

/// Sets per-call limits (`None` keeps the current value; 0 resets to the default).
pub async fn set_limits(
    host: &PluginHost,
    id: &str,
    timeout_ms: Option<u64>,
    memory_mib: Option<u64>,
) -> Result<PluginInfo, AdminError> {
    let row = host.store().get_plugin(id).await?;
    if timeout_ms.is_some_and(|t| t > 600_000) {
        return Err(AdminError::InvalidInput(
            "timeout must be at most 600000 ms".into(),
        ));
    }
    // Every linear memory reserves (and each pooled slot is) the host's
    // largest cap: a plugin cannot be given more.
    let max_mib = (host.runtime().config().memory_ceiling() >> 20) as u64;
    if memory_mib.is_some_and(|m| m > max_mib) {
        return Err(AdminError::InvalidInput(format!(
            "memory limit must be at most {max_mib} MiB (the host's --plugin-max-memory-mib)"
        )));
    }
    let timeout = match timeout_ms {
        Some(0) => None,
        Some(ms) => Some(ms as i64),
        None => row.timeout_ms,
    };
    let memory = match memory_mib {
        Some(0) => None,
        Some(mib) => Some((mib << 20) as i64),
        None => row.memory_limit_bytes,
    };
    host.store().set_plugin_limits(id, timeout, memory).await?;
    show(host, id, false).await
}

/// Every installed plugin.
pub async fn list(host: &PluginHost, in_server: bool) -> Result<Vec<PluginInfo>, AdminError> {
    let rows = host.store().list_plugins().await?;
    rows.into_iter().map(|row| info(host, row, in_server)).collect()
}

/// One installed plugin; `in_server` says whether `host` is a serving
/// process (else `loaded` is `null`).
pub async fn show(host: &PluginHost, id: &str, in_server: bool) -> Result<PluginInfo, AdminError> {
    let row = host.store().get_plugin(id).await?;
    let mut info = info(host, row, in_server)?;
    let configured: std::collections::HashSet<String> = host
        .store()
        .list_config()
        .await?
        .into_iter()
        .filter(|row| !row.value.trim().is_empty())
        .map(|row| row.key)
        .collect();
    info.missing_settings = info
        .manifest
        .settings
        .iter()
        .filter(|spec| spec.required && spec.default_value.is_none())
        .map(|spec| settings::env_name(&info.id, &spec.key))
        .filter(|name| {
            let in_env = std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
            !configured.contains(name) && !in_env
        })
        .collect();
    Ok(info)
}

fn info(host: &PluginHost, row: PluginRow, in_server: bool) -> Result<PluginInfo, AdminError> {
    let manifest: Manifest = serde_json::from_str(&row.manifest)
        .map_err(|e| AdminError::Conflict(format!("stored manifest of {:?} unreadable: {e}", row.id)))?;
    let limits = super::limits_for(&host.runtime().config().default_limits, &row);
    let failure = host
        .failures()
        .into_iter()
        .find(|f| f.plugin == row.id)
        .map(|f| f.error);
    let health = if row.disabled_reason.is_some() && !row.enabled {
        "quarantined"
    } else if row.faults_in_row > 0 {
        "unhealthy"
    } else {
        "healthy"
    };
    let running = in_server.then(|| host.get(&row.id));
    Ok(PluginInfo {
        loaded: running
            .as_ref()
            .map(|p| p.as_ref().is_some_and(|p| p.row.sha256 == row.sha256)),
        recent_calls: running.flatten().map(|p| p.instance.recent_calls()),
        load_error: failure,
        health: health.into(),
        faults_in_row: row.faults_in_row,
        last_fault: row.last_fault.clone(),
        disabled_reason: row.disabled_reason.clone(),
        id: row.id,
        name: row.name,
        version: row.version,
        contract_version: row.contract_version,
        sha256: row.sha256,
        enabled: row.enabled,
        bundled: row.bundled,
        timeout_ms: limits.timeout.as_millis() as u64,
        memory_limit_bytes: limits.memory_bytes as u64,
        declared_hosts: manifest.outbound_hosts.clone(),
        granted_hosts: row.granted_origins,
        installed_at: row.installed_at,
        updated_at: row.updated_at,
        missing_settings: Vec::new(),
        manifest,
    })
}

/// Runs verify-webhook and, when accepted, parse-event on a request, storing
/// nothing: for admins and plugin authors checking a plugin on a live server.
pub async fn dry_run_webhook(
    host: &PluginHost,
    id: &str,
    request: IncomingRequest,
) -> Result<WebhookDryRun, AdminError> {
    // An admin's grant or limit made just before is visible to this call.
    host.refresh_if_stale().await;
    let plugin = host.get(id).ok_or_else(|| AdminError::NotLoaded(id.to_owned()))?;
    let settings = host.settings_for(&plugin.manifest);
    let verification = plugin
        .instance
        .verify_webhook(&settings, &request)
        .await
        .map_err(AdminError::Plugin)?;
    let events = match verification {
        Verification::Accepted => Some(
            plugin
                .instance
                .parse_event(&settings, &request)
                .await
                .map_err(AdminError::Plugin)?,
        ),
        _ => None,
    };
    Ok(WebhookDryRun { verification, events })
}
