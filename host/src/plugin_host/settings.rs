//! A plugin's settings for a call. A key `k` of plugin `p` is named `P_K`
//! (upper case, `-` as `_`, e.g. `TIKTOK_APP_SECRET`); its value comes from the
//! installation config (`switchboard config set P_K …`), else the environment
//! variable `P_K`, else the manifest's default. Only keys the manifest
//! declares are passed.
//!
//! Because a plugin chooses its own id and keys, the names are policed so that
//! it can never read the host's variables or another plugin's: names in the
//! host's reserved namespaces are refused at validation
//! ([`reserved_env_name`]), and an install whose names collide with an
//! installed plugin's is refused (`admin::install`).

use crate::contract::{Manifest, Settings};

pub use crate::contract::settings::{env_name, reserved_env_name};

/// Every environment name a manifest's settings map to.
pub fn env_names(manifest: &Manifest) -> Vec<String> {
    manifest
        .settings
        .iter()
        .map(|s| env_name(&manifest.id, &s.key))
        .collect()
}

/// Resolves the settings of a plugin from the installation config, the
/// environment and its manifest.
pub fn resolve(manifest: &Manifest, config: &std::collections::HashMap<String, String>) -> Settings {
    let mut settings = Settings::default();
    for spec in &manifest.settings {
        let name = env_name(&manifest.id, &spec.key);
        let value = config
            .get(&name)
            .cloned()
            .or_else(|| std::env::var(&name).ok())
            .or_else(|| spec.default_value.clone());
        if let Some(value) = value {
            let target = if spec.secret {
                &mut settings.secrets
            } else {
                &mut settings.config
            };
            target.push((spec.key.clone(), value));
        }
    }
    settings
}

/// A setting as admins see it: secret values are never shown back.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConfigEntry {
    /// Key.
    pub key: String,
    /// Value, or `null` for a secret.
    pub value: Option<String>,
    /// Whether it is stored sealed.
    pub secret: bool,
}

/// Why a setting was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Bad key.
    #[error("config key {0:?} must be upper case A-Z, 0-9 and '_' (e.g. TIKTOK_APP_ID)")]
    BadKey(String),
    /// Sealing failed.
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Whether `key` names a secret: asked for, declared secret by an installed
/// plugin's manifest, or named like one.
async fn is_secret(host: &super::PluginHost, key: &str) -> Result<bool, ConfigError> {
    if ["SECRET", "TOKEN", "PASSWORD", "KEY", "CREDENTIAL"]
        .iter()
        .any(|word| key.contains(word))
    {
        return Ok(true);
    }
    for row in host.store().list_plugins().await? {
        if let Ok(manifest) = serde_json::from_str::<Manifest>(&row.manifest)
            && manifest
                .settings
                .iter()
                .any(|s| s.secret && env_name(&manifest.id, &s.key) == key)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Sets an installation setting (sealed when secret); every node applies it
/// at its next sync.
pub async fn set_config(
    host: &super::PluginHost,
    key: &str,
    value: &str,
    force_secret: bool,
) -> Result<ConfigEntry, ConfigError> {
    let valid = !key.is_empty()
        && key.starts_with(|c: char| c.is_ascii_uppercase())
        && key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(ConfigError::BadKey(key.to_owned()));
    }
    let secret = force_secret || is_secret(host, key).await?;
    let stored = if secret {
        host.secrets().seal(value)?
    } else {
        value.to_owned()
    };
    host.store().set_config(key, &stored, secret).await?;
    Ok(ConfigEntry {
        key: key.to_owned(),
        value: (!secret).then(|| value.to_owned()),
        secret,
    })
}

/// Seals settings a newly installed manifest declares secret but that were
/// stored in clear before (e.g. set ahead of the plugin's install).
pub async fn seal_declared(host: &super::PluginHost, manifest: &Manifest) -> Result<(), ConfigError> {
    let secret_names: Vec<String> = manifest
        .settings
        .iter()
        .filter(|s| s.secret)
        .map(|s| env_name(&manifest.id, &s.key))
        .collect();
    for row in host.store().list_config().await? {
        if !row.secret && secret_names.contains(&row.key) {
            let sealed = host.secrets().seal(&row.value)?;
            host.store().set_config(&row.key, &sealed, true).await?;
        }
    }
    Ok(())
}

/// Every installation setting (secrets masked).
pub async fn list_config(host: &super::PluginHost) -> Result<Vec<ConfigEntry>, ConfigError> {
    Ok(host
        .store()
        .list_config()
        .await?
        .into_iter()
        .map(|row| ConfigEntry {
            value: (!row.secret).then_some(row.value),
            key: row.key,
            secret: row.secret,
        })
        .collect())
}

/// Re-seals every stored secret (settings and inbox credentials) with the
/// current key; answers how many values changed.
pub async fn rotate(host: &super::PluginHost) -> Result<u64, ConfigError> {
    let keys = host.secrets();
    let mut settings = Vec::new();
    for row in host
        .store()
        .list_config()
        .await?
        .into_iter()
        .filter(|r| r.secret && keys.needs_rotation(&r.value))
    {
        let resealed = keys.seal(&keys.open(&row.value)?)?;
        settings.push((row.key, row.value, resealed));
    }
    let mut credentials = Vec::new();
    for (id, sealed) in host
        .store()
        .sealed_credentials()
        .await?
        .into_iter()
        .filter(|(_, v)| keys.needs_rotation(v))
    {
        let resealed = keys.seal(&keys.open(&sealed)?)?;
        credentials.push((id, sealed, resealed));
    }
    Ok(host.store().reseal(&settings, &credentials).await?)
}
