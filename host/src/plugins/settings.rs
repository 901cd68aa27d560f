//! A plugin's settings for a call. A key `k` of plugin `p` comes from the
//! environment variable `P_K` (upper case, `-` as `_`), else from the
//! manifest's default. Only keys the manifest declares are passed.
//!
//! Because a plugin chooses its own id and keys, the names are policed so that
//! it can never read the host's variables or another plugin's: names in the
//! host's reserved namespaces are refused at validation
//! ([`reserved_env_name`]), and an install whose names collide with an
//! installed plugin's is refused (`admin::install`).

use crate::channel::{Manifest, Settings};

/// The environment variable that sets `key` of plugin `plugin_id`.
pub fn env_name(plugin_id: &str, key: &str) -> String {
    format!("{plugin_id}_{key}")
        .to_ascii_uppercase()
        .replace('-', "_")
}

/// Prefixes of environment variables that belong to the host, its libraries
/// or the system, which no plugin setting may map to.
const RESERVED_PREFIXES: &[&str] = &[
    "SWITCHBOARD_",
    "DATABASE_",
    "RUST_",
    "CARGO_",
    "PG",
    "HTTP_",
    "HTTPS_",
    "ALL_",
    "NO_",
    "AWS_",
    "GOOGLE_",
    "AZURE_",
    "SSL_",
    "LD_",
    "DYLD_",
    "XDG_",
    "PATH",
    "HOME",
    "USER",
    "SHELL",
    "TMP",
    "TEMP",
    "LANG",
    "LC_",
];

/// The reserved namespace an environment name falls in, if any.
pub fn reserved_env_name(name: &str) -> Option<&'static str> {
    RESERVED_PREFIXES
        .iter()
        .copied()
        .find(|prefix| name.starts_with(prefix))
}

/// Every environment name a manifest's settings map to.
pub fn env_names(manifest: &Manifest) -> Vec<String> {
    manifest
        .settings
        .iter()
        .map(|s| env_name(&manifest.id, &s.key))
        .collect()
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
