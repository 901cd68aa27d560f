//! How a plugin's setting keys map to environment names, and which names
//! belong to the host. Part of the contract because a manifest is refused at
//! validation when a key would map into the host's namespaces.

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
    "FRONTEND_URL",
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
