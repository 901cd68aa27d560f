//! Installed channel plugins: the admin's operations on them ([`admin`]),
//! the set loaded in this process ([`PluginHost`]) and how it follows the
//! database ([`PluginHost::sync`]).
//!
//! Invariants:
//! - the database is the source of truth: the CLI and the API write there,
//!   and every running node reloads when `plugins_revision` moves, so a change
//!   made anywhere reaches every node without a restart;
//! - a plugin is validated completely (compiles, links against the host,
//!   exports a supported contract, describes itself validly) before anything
//!   is stored;
//! - callers hold an `Arc<LoadedPlugin>` for the length of a call, so a call in
//!   flight finishes on the version it started on while new calls get the new one.

pub mod admin;
pub mod bundled;
pub mod health;
pub mod settings;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;

use crate::caps::egress::{EgressLimits, EgressPolicy};
use crate::contract::Manifest;
use crate::runtime::{CallLimits, PluginInstance, Runtime};
use crate::secrets::SecretBox;
use crate::store::{PluginRow, Store, StoreError};

/// A plugin loaded and ready to call.
pub struct LoadedPlugin {
    /// Its stored row (including grants and limits).
    pub row: PluginRow,
    /// Its manifest.
    pub manifest: Manifest,
    /// Calls into it.
    pub instance: PluginInstance,
    /// Deterministic faults this node saw since its last success (so that a
    /// success writes to the database only after faults).
    faults_seen: AtomicU32,
}

/// What `sync` could not load, by plugin id.
#[derive(Debug, Clone, Serialize)]
pub struct LoadFailure {
    /// Plugin id.
    pub plugin: String,
    /// Why.
    pub error: String,
}

/// The plugins loaded in this process.
pub struct PluginHost {
    runtime: Arc<Runtime>,
    store: Store,
    egress_limits: EgressLimits,
    loaded: RwLock<HashMap<String, Arc<LoadedPlugin>>>,
    failures: RwLock<Vec<LoadFailure>>,
    synced_revision: tokio::sync::Mutex<Option<i64>>,
    secrets: Arc<SecretBox>,
    /// Installation config, opened (secrets decrypted), reloaded on every sync.
    config: RwLock<HashMap<String, String>>,
    /// Deterministic faults in a row that disable a plugin (`health`).
    fault_limit: AtomicI64,
    /// Whether a sync has completed: until then the node is not ready
    /// (`/readyz`), whatever the database holds.
    synced_once: AtomicBool,
}

impl PluginHost {
    /// Creates an empty host; call [`PluginHost::sync`] to load.
    pub fn new(
        runtime: Arc<Runtime>,
        store: Store,
        egress_limits: EgressLimits,
        secrets: Arc<SecretBox>,
    ) -> Arc<Self> {
        Arc::new(Self {
            runtime,
            store,
            egress_limits,
            loaded: RwLock::default(),
            failures: RwLock::default(),
            synced_revision: tokio::sync::Mutex::new(None),
            secrets,
            config: RwLock::default(),
            fault_limit: AtomicI64::new(health::DEFAULT_FAULT_LIMIT),
            synced_once: Default::default(),
        })
    }

    /// The keys that seal secrets at rest.
    pub fn secrets(&self) -> &SecretBox {
        &self.secrets
    }

    /// A plugin's settings for a call: installation config, then the
    /// environment, then the manifest's defaults.
    pub fn settings_for(&self, manifest: &Manifest) -> crate::contract::Settings {
        settings::resolve(manifest, &self.config.read().expect("config lock"))
    }

    /// A host-wide setting by name (e.g. `FRONTEND_URL`): installation
    /// config first, then the environment.
    pub fn host_setting(&self, name: &str) -> Option<String> {
        let configured = self.config.read().expect("config lock").get(name).cloned();
        configured
            .or_else(|| std::env::var(name).ok())
            .filter(|v| !v.trim().is_empty())
    }

    async fn load_config(&self) -> Result<HashMap<String, String>, StoreError> {
        let mut opened = HashMap::new();
        for row in self.store.list_config().await? {
            if !row.secret {
                opened.insert(row.key, row.value);
                continue;
            }
            match self.secrets.open(&row.value) {
                Ok(value) => {
                    opened.insert(row.key, value);
                }
                Err(e) => tracing::error!(key = %row.key, "cannot open secret setting: {e}"),
            }
        }
        Ok(opened)
    }

    /// The runtime plugins run in.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The store plugins are kept in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The enabled, loaded plugin with this id.
    pub fn get(&self, id: &str) -> Option<Arc<LoadedPlugin>> {
        self.loaded.read().expect("plugin map lock").get(id).cloned()
    }

    /// Whether the installed plugins were loaded at least once (those that
    /// failed are in [`PluginHost::failures`]).
    pub fn has_synced(&self) -> bool {
        self.synced_once.load(Ordering::Acquire)
    }

    /// Ids of the loaded plugins.
    pub fn loaded_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .loaded
            .read()
            .expect("plugin map lock")
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    /// Plugins that are enabled but failed to load, with the reason.
    pub fn failures(&self) -> Vec<LoadFailure> {
        self.failures.read().expect("failure list lock").clone()
    }

    /// The enabled plugin with this id, re-reading the database before
    /// answering that there is none: an admin's change (an install, an
    /// enable) is visible to the next request after the command returned,
    /// on every node, without waiting for the next sync tick.
    pub async fn get_current(&self, id: &str) -> Option<Arc<LoadedPlugin>> {
        if let Some(plugin) = self.get(id) {
            return Some(plugin);
        }
        self.refresh_if_stale().await;
        self.get(id)
    }

    /// Syncs now if the database moved past what this node loaded; answers
    /// whether it did. Called before refusing something an admin's change
    /// may have allowed meanwhile (a grant, a limit, an enable): one indexed
    /// read, on refusal paths only.
    pub async fn refresh_if_stale(&self) -> bool {
        let current = match self.store.plugins_revision().await {
            Ok(revision) => revision,
            Err(e) => {
                tracing::warn!("cannot read the plugins revision: {e}");
                return false;
            }
        };
        if *self.synced_revision.lock().await == Some(current) {
            return false;
        }
        match self.sync().await {
            Ok(changed) => changed,
            Err(e) => {
                tracing::warn!("plugin sync failed (will retry): {e}");
                false
            }
        }
    }

    /// Brings the loaded set in line with the database, if it changed since
    /// the last sync. Unchanged plugins keep their compiled code; a plugin that
    /// fails to load is reported in [`PluginHost::failures`] and the others
    /// still load.
    pub async fn sync(&self) -> Result<bool, StoreError> {
        let mut synced = self.synced_revision.lock().await;
        let revision = self.store.plugins_revision().await?;
        if *synced == Some(revision) {
            return Ok(false);
        }
        let config = self.load_config().await?;
        *self.config.write().expect("config lock") = config;
        let rows = self.store.list_plugins().await?;
        let current = self.loaded.read().expect("plugin map lock").clone();
        let mut next = HashMap::new();
        let mut failures = Vec::new();
        for row in rows.into_iter().filter(|r| r.enabled) {
            if let Some(existing) = current.get(&row.id).filter(|p| same_load(&p.row, &row)) {
                next.insert(row.id.clone(), existing.clone());
                continue;
            }
            // A store failure is transient: fail the whole sync so that it is
            // retried on the next tick instead of being recorded as synced.
            let bytes = self.store.plugin_bytes(&row.sha256).await?;
            match self.load(row.clone(), bytes).await {
                Ok(plugin) => {
                    let from_cache = plugin.instance.compiled().from_cache;
                    let load_ms = plugin.instance.compiled().load_time.as_millis() as u64;
                    tracing::info!(plugin = %row.id, version = %row.version, sha256 = %row.sha256, from_cache, load_ms, "plugin loaded");
                    next.insert(row.id.clone(), Arc::new(plugin));
                }
                Err(error) => {
                    // A build that cannot load must not take down the one that
                    // serves: keep the previous version, if any, and report.
                    tracing::error!(plugin = %row.id, "plugin failed to load: {error}");
                    if let Some(previous) = current.get(&row.id) {
                        tracing::warn!(plugin = %row.id, version = %previous.row.version, "still serving the previous version");
                        next.insert(row.id.clone(), previous.clone());
                    }
                    failures.push(LoadFailure {
                        plugin: row.id.clone(),
                        error,
                    });
                }
            }
        }
        for gone in current.keys().filter(|id| !next.contains_key(*id)) {
            tracing::info!(plugin = %gone, "plugin unloaded");
        }
        *self.loaded.write().expect("plugin map lock") = next;
        *self.failures.write().expect("failure list lock") = failures;
        *synced = Some(revision);
        self.synced_once.store(true, Ordering::Release);
        Ok(true)
    }

    async fn load(&self, row: PluginRow, bytes: Vec<u8>) -> Result<LoadedPlugin, String> {
        let manifest: Manifest =
            serde_json::from_str(&row.manifest).map_err(|e| format!("stored manifest unreadable: {e}"))?;
        let compiled = self
            .runtime
            .compile(Arc::new(bytes))
            .await
            .map_err(|e| e.to_string())?;
        if compiled.sha256 != row.sha256 {
            return Err(format!(
                "stored bytes hash to {}, not {}",
                compiled.sha256, row.sha256
            ));
        }
        let limits = limits_for(&self.runtime.config().default_limits, &row);
        let egress = Arc::new(EgressPolicy::new(
            &row.id,
            manifest.outbound_patterns(),
            &row.granted_origins,
            self.egress_limits,
        ));
        let instance = self
            .runtime
            .instance(&row.id, compiled, limits, egress)
            .with_version(&row.version);
        Ok(LoadedPlugin {
            row,
            manifest,
            instance,
            faults_seen: AtomicU32::new(0),
        })
    }

    /// Syncs now and then whenever the database changes, until `shutdown`
    /// fires. On PostgreSQL (`listen_url`) a change's NOTIFY wakes it at
    /// once; polling stays as the fallback for a lost notification.
    pub async fn follow(
        self: Arc<Self>,
        interval: Duration,
        listen_url: Option<String>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut listener = None;
        loop {
            if listener.is_none()
                && let Some(url) = &listen_url
            {
                match crate::store::live::QueueListener::plugins(url).await {
                    Ok(connected) => listener = Some(connected),
                    Err(e) => tracing::warn!("cannot LISTEN for plugin changes (polling meanwhile): {e}"),
                }
            }
            let heard = async {
                match listener.as_mut() {
                    Some(l) => l.next().await.map(drop),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                heard = heard => {
                    if let Err(e) = heard {
                        tracing::warn!("plugin change listener failed (reconnecting): {e}");
                        listener = None;
                    }
                }
                _ = shutdown.changed() => return,
            }
            if let Err(e) = self.sync().await {
                tracing::warn!("plugin sync failed (will retry): {e}");
            }
        }
    }
}

fn same_load(a: &PluginRow, b: &PluginRow) -> bool {
    a.sha256 == b.sha256
        && a.granted_origins == b.granted_origins
        && a.timeout_ms == b.timeout_ms
        && a.memory_limit_bytes == b.memory_limit_bytes
}

/// The call limits of a stored plugin: its overrides, else the defaults.
pub fn limits_for(defaults: &CallLimits, row: &PluginRow) -> CallLimits {
    CallLimits {
        timeout: row
            .timeout_ms
            .map(|ms| Duration::from_millis(ms as u64))
            .unwrap_or(defaults.timeout),
        memory_bytes: row
            .memory_limit_bytes
            .map(|b| b as usize)
            .unwrap_or(defaults.memory_bytes),
    }
}
