//! A plugin's settings for a call. A key `k` of plugin `p` comes from the
//! environment variable `P_K` (upper case, `-` as `_`), else from the
//! manifest's default. Only keys the manifest declares are passed, so a
//! plugin never sees another's settings.

use crate::channel::{Manifest, Settings};

/// The environment variable that sets `key` of plugin `plugin_id`.
pub fn env_name(plugin_id: &str, key: &str) -> String {
    format!("{plugin_id}_{key}")
        .to_ascii_uppercase()
        .replace('-', "_")
}

/// Resolves the settings of a plugin from its manifest.
pub fn resolve(manifest: &Manifest) -> Settings {
    let mut settings = Settings::default();
    for spec in &manifest.settings {
        let value = std::env::var(env_name(&manifest.id, &spec.key))
            .ok()
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
