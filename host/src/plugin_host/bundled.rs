//! Plugins that ship inside the binary (`plugins/*`, built for wasm32-wasip2
//! by `host/build.rs`). On start, each is installed if it is missing (unless
//! an admin removed it) and upgraded if the binary carries a newer version.

use super::{PluginHost, admin};

/// (crate name, component bytes) of each bundled plugin.
pub static BUNDLED: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The host setting that records an admin's removal of a bundled plugin.
pub fn removed_key(id: &str) -> String {
    format!("bundled_removed:{id}")
}

/// Installs or upgrades the bundled plugins. Failures are logged, not fatal:
/// the server still serves the plugins that did load.
pub async fn install_all(host: &PluginHost) {
    for (name, bytes) in BUNDLED {
        if let Err(e) = install_one(host, bytes).await {
            tracing::error!(bundled = name, "bundled plugin not installed: {e}");
        }
    }
}

async fn install_one(host: &PluginHost, bytes: &[u8]) -> Result<(), admin::AdminError> {
    let inspected = admin::inspect(host.runtime(), bytes.to_vec()).await?;
    let id = inspected.manifest.id.clone();
    match host.store().get_plugin(&id).await {
        Ok(row) => {
            let installed = semver::Version::parse(&row.version).ok();
            let shipped = semver::Version::parse(&inspected.manifest.version).ok();
            if row.bundled && row.sha256 != inspected.sha256 && shipped > installed {
                admin::upgrade(host, Some(&id), bytes.to_vec(), false).await?;
            }
        }
        Err(crate::store::StoreError::NotFound(_)) => {
            if host.store().host_setting(&removed_key(&id)).await?.is_none() {
                admin::install(host, bytes.to_vec(), true).await?;
                tracing::info!(plugin = %id, "bundled plugin installed");
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
