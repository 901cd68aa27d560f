//! `switchboard plugin new`: writes a plugin project from the templates in
//! `sdk/template/` (embedded in the binary): a Rust crate, a Python project
//! (`--lang python`: `app.py` with the SDK's Python helpers) or a JavaScript
//! one (`--lang js`: `src/channel.js` with the JavaScript helpers). Each is
//! the same working signed-webhook channel with the same fixtures, which
//! `switchboard plugin test` passes, so an author starts from green and
//! changes code and fixtures together.

use std::path::{Path, PathBuf};

use crate::contract::{ContentLimits, Manifest, ReplyWindow, SettingSpec};

pub use super::polyglot::Language;

/// Each file of a new plugin crate: its path in the crate and its template.
const RUST: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../sdk/template/Cargo.toml.tmpl"),
    ),
    (
        "rust-toolchain.toml",
        include_str!("../../../sdk/template/rust-toolchain.toml.tmpl"),
    ),
    (".gitignore", include_str!("../../../sdk/template/gitignore.tmpl")),
    ("README.md", include_str!("../../../sdk/template/README.md.tmpl")),
    (
        "src/lib.rs",
        include_str!("../../../sdk/template/src/lib.rs.tmpl"),
    ),
];

/// Each file of a new Python plugin.
const PYTHON: &[(&str, &str)] = &[
    ("app.py", include_str!("../../../sdk/template/python/app.py.tmpl")),
    (
        "switchboard_sdk.py",
        include_str!("../../../sdk/python/switchboard_sdk.py"),
    ),
    (
        ".gitignore",
        include_str!("../../../sdk/template/python/gitignore.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../../sdk/template/python/README.md.tmpl"),
    ),
];

/// Each file of a new JavaScript plugin.
const JAVASCRIPT: &[(&str, &str)] = &[
    (
        "src/channel.js",
        include_str!("../../../sdk/template/js/src/channel.js.tmpl"),
    ),
    (
        "src/switchboard.js",
        include_str!("../../../sdk/js/switchboard.js"),
    ),
    (
        "src/hmac-sha256.js",
        include_str!("../../../sdk/js/hmac-sha256.js"),
    ),
    (
        "package.json",
        include_str!("../../../sdk/template/js/package.json.tmpl"),
    ),
    (
        "build.mjs",
        include_str!("../../../sdk/template/js/build.mjs.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../../sdk/template/js/gitignore.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../../sdk/template/js/README.md.tmpl"),
    ),
];

/// The fixtures, the same in every language: the channels behave alike.
const FIXTURES: &[(&str, &str)] = &[
    (
        "fixtures/webhooks/text-message.json",
        include_str!("../../../sdk/template/fixtures/webhooks/text-message.json.tmpl"),
    ),
    (
        "fixtures/webhooks/unsigned-request.json",
        include_str!("../../../sdk/template/fixtures/webhooks/unsigned-request.json.tmpl"),
    ),
    (
        "fixtures/webhooks/handshake.json",
        include_str!("../../../sdk/template/fixtures/webhooks/handshake.json.tmpl"),
    ),
    (
        "fixtures/send/text-reply.json",
        include_str!("../../../sdk/template/fixtures/send/text-reply.json.tmpl"),
    ),
    (
        "fixtures/send/rate-limited.json",
        include_str!("../../../sdk/template/fixtures/send/rate-limited.json.tmpl"),
    ),
];

/// This workspace's toolchain file: a new plugin builds with the toolchain
/// this binary was built with.
const WORKSPACE_TOOLCHAIN: &str = include_str!("../../../rust-toolchain.toml");

/// The settings, origin and limits the template's `describe()` declares,
/// mirrored here so that a name is checked against the server's manifest
/// rules before any file is written.
const TEMPLATE_SETTINGS: &[(&str, bool)] =
    &[("webhook_secret", true), ("api_token", true), ("api_base", false)];
const TEMPLATE_ORIGIN: &str = "https://api.example.com";

/// Where the new plugin's `switchboard-sdk` dependency comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// A folder holding the SDK (`sdk/` of a Switchboard checkout).
    Path(PathBuf),
    /// The Switchboard git repository (cargo finds the `switchboard-sdk`
    /// package in it).
    Git(String),
}

impl SdkSource {
    /// The SDK of the checkout this binary was built from, if it is still
    /// there.
    pub fn from_build_checkout() -> Option<Self> {
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.join("sdk");
        sdk.join("Cargo.toml").is_file().then_some(Self::Path(sdk))
    }

    /// The line of `[dependencies]` that names the SDK.
    fn dependency(&self) -> String {
        match self {
            Self::Path(path) => format!(
                "switchboard-sdk = {{ path = {} }}",
                toml_string(&path.display().to_string())
            ),
            Self::Git(url) => format!("switchboard-sdk = {{ git = {} }}", toml_string(url)),
        }
    }
}

impl std::fmt::Display for SdkSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Path(path) => write!(f, "path {}", path.display()),
            Self::Git(url) => write!(f, "git {url}"),
        }
    }
}

/// Why no crate was written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name breaks the server's rules for plugin ids.
    #[error("cannot use {name:?} as a plugin name: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// The rule it breaks.
        reason: String,
    },
    /// The target folder exists and is not empty.
    #[error("{} already exists; choose another name or pass --dir", .0.display())]
    Exists(PathBuf),
    /// The SDK folder given is not the SDK.
    #[error("{} is not the Switchboard SDK (no Cargo.toml of package switchboard-sdk there)", .0.display())]
    NotTheSdk(PathBuf),
    /// Writing failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A plugin crate to create.
#[derive(Debug, Clone)]
pub struct NewPlugin {
    /// The plugin id (`[a-z][a-z0-9-]*`), also its `/webhooks/{id}` path.
    pub id: String,
    /// The folder to create.
    pub dir: PathBuf,
    /// Where the SDK comes from (Rust only; Python gets its helpers copied in).
    pub sdk: SdkSource,
    /// The language.
    pub lang: Language,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Created {
    /// The crate's folder.
    pub dir: PathBuf,
    /// The cargo package name.
    pub package: String,
    /// File name of the component the crate builds (`<package>.wasm` with
    /// `_` for `-`; a Python project: `<folder name>.wasm`).
    pub wasm_file: String,
    /// Where `plugin build` puts it, relative to `dir`.
    pub component: String,
    /// The environment prefix of its settings (`ACME_CHAT` for `acme-chat`).
    pub env_prefix: String,
    /// Files written, relative to `dir`.
    pub files: Vec<&'static str>,
}

/// Checks `id` against the manifest rules the server applies at install
/// (the template's `describe()` uses it as is).
pub fn check_name(id: &str) -> Result<(), ScaffoldError> {
    let manifest = Manifest {
        id: id.to_owned(),
        name: display_name(id),
        version: "0.1.0".into(),
        contract_version: "0.2.0".into(),
        description: String::new(),
        settings: TEMPLATE_SETTINGS
            .iter()
            .map(|(key, secret)| SettingSpec {
                key: (*key).into(),
                description: String::new(),
                required: *secret,
                secret: *secret,
                default_value: None,
            })
            .collect(),
        outbound_hosts: vec![TEMPLATE_ORIGIN.into()],
        limits: ContentLimits {
            max_text_chars: Some(4096),
            max_attachments: 0,
            text_with_attachments: false,
            attachment_kinds: vec![],
            attachment_mime_types: vec![],
            max_attachment_bytes: None,
        },
        reply_window: ReplyWindow::Unlimited,
        supports_authorization: false,
    };
    manifest.validate().map_err(|e| ScaffoldError::InvalidName {
        name: id.to_owned(),
        reason: e.0,
    })
}

/// Writes the crate. Refuses a bad name, an SDK folder that is not the SDK
/// and a target folder that exists with anything in it.
pub fn create(plugin: &NewPlugin) -> Result<Created, ScaffoldError> {
    check_name(&plugin.id)?;
    if let (Language::Rust, SdkSource::Path(sdk)) = (plugin.lang, &plugin.sdk) {
        let manifest = std::fs::read_to_string(sdk.join("Cargo.toml")).unwrap_or_default();
        if !manifest.contains("name = \"switchboard-sdk\"") {
            return Err(ScaffoldError::NotTheSdk(sdk.clone()));
        }
    }
    let dir = &plugin.dir;
    let occupied = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        // A file, or a folder we cannot read: either way not ours to fill.
        Err(_) => true,
    };
    if occupied {
        return Err(ScaffoldError::Exists(dir.clone()));
    }
    let package = format!("switchboard-plugin-{}", plugin.id);
    let templates: Vec<(&'static str, &'static str)> = match plugin.lang {
        Language::Rust => RUST.iter().chain(FIXTURES).copied().collect(),
        Language::Python => PYTHON.iter().chain(FIXTURES).copied().collect(),
        Language::JavaScript => JAVASCRIPT.iter().chain(FIXTURES).copied().collect(),
    };
    let wasm_file = match plugin.lang {
        Language::Rust => format!("{}.wasm", package.replace('-', "_")),
        _ => format!(
            "{}.wasm",
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ),
    };
    let created = Created {
        dir: dir.clone(),
        component: match plugin.lang {
            Language::Rust => format!("target/{}/release/{wasm_file}", super::cargo::TARGET),
            _ => format!("target/{wasm_file}"),
        },
        wasm_file,
        env_prefix: crate::plugin_host::settings::env_name(&plugin.id, "")
            .trim_end_matches('_')
            .to_owned(),
        package,
        files: templates.iter().map(|(path, _)| *path).collect(),
    };
    let values = [
        ("id", plugin.id.clone()),
        ("crate", created.package.clone()),
        ("type", type_name(&plugin.id)),
        ("display", display_name(&plugin.id)),
        ("env_prefix", created.env_prefix.clone()),
        ("wasm", created.wasm_file.clone()),
        ("toolchain", toolchain_channel().to_owned()),
        ("sdk_dependency", plugin.sdk.dependency()),
    ];
    for (path, template) in &templates {
        let target = dir.join(path);
        let io = |source| ScaffoldError::Io {
            path: target.clone(),
            source,
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&target, render(template, &values)).map_err(io)?;
    }
    Ok(created)
}

/// Replaces each `{{key}}` of `values`; other `{{…}}` (e.g. the kit's
/// `{{mock_url}}` in fixtures) stay as they are.
fn render(template: &str, values: &[(&str, String)]) -> String {
    values.iter().fold(template.to_owned(), |text, (key, value)| {
        text.replace(&format!("{{{{{key}}}}}"), value)
    })
}

/// `acme-chat` → `AcmeChatChannel`. The suffix keeps the type clear of the
/// contract's type names (`Media`, `Settings`, …) that plugins glob-import.
fn type_name(id: &str) -> String {
    let mut name: String = id
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    name.push_str("Channel");
    name
}

/// `acme-chat` → `Acme Chat`.
fn display_name(id: &str) -> String {
    id.split('-')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `channel` of this workspace's `rust-toolchain.toml`.
fn toolchain_channel() -> &'static str {
    WORKSPACE_TOOLCHAIN
        .lines()
        .find_map(|line| {
            let value = line.trim().strip_prefix("channel")?.trim().strip_prefix('=')?;
            Some(value.trim().trim_matches('"'))
        })
        .unwrap_or("stable")
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_server_rules() {
        assert!(check_name("acme-chat").is_ok());
        for bad in ["Acme", "9chat", "a_b", "", "webhooks", &"x".repeat(33)] {
            assert!(check_name(bad).is_err(), "{bad:?} should be refused");
        }
        // `PGCHAT_WEBHOOK_SECRET` would be in the host's PG* namespace.
        let refused = check_name("pgchat").unwrap_err().to_string();
        assert!(refused.contains("PG"), "{refused}");
    }

    #[test]
    fn names_become_types_and_titles() {
        assert_eq!(type_name("acme-chat"), "AcmeChatChannel");
        assert_eq!(type_name("media"), "MediaChannel");
        assert_eq!(display_name("acme-chat-2"), "Acme Chat 2");
    }

    #[test]
    fn rendering_keeps_the_kit_placeholders() {
        let text = render("{{id}} {{mock_url}} {{id}}", &[("id", "acme".to_owned())]);
        assert_eq!(text, "acme {{mock_url}} acme");
        assert!(!toolchain_channel().is_empty());
    }

    #[test]
    fn creates_a_crate_and_refuses_to_overwrite_it() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("acme-chat");
        let sdk = SdkSource::from_build_checkout().expect("tests run in a checkout");
        let plugin = NewPlugin {
            id: "acme-chat".into(),
            dir: dir.clone(),
            sdk,
            lang: Language::Rust,
        };
        let created = create(&plugin).unwrap();
        assert_eq!(created.wasm_file, "switchboard_plugin_acme_chat.wasm");
        assert_eq!(created.env_prefix, "ACME_CHAT");
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("export_channel!(AcmeChatChannel)"));
        assert!(!lib.contains("{{"), "every placeholder of lib.rs is filled");
        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(cargo.contains("switchboard-sdk = { path = "));
        let send = std::fs::read_to_string(dir.join("fixtures/send/text-reply.json")).unwrap();
        assert!(send.contains("{{mock_url}}"));
        assert!(matches!(create(&plugin), Err(ScaffoldError::Exists(_))));
        let not_sdk = NewPlugin {
            dir: root.path().join("other"),
            sdk: SdkSource::Path(root.path().into()),
            ..plugin
        };
        assert!(matches!(create(&not_sdk), Err(ScaffoldError::NotTheSdk(_))));

        let python = NewPlugin {
            dir: root.path().join("py-chat"),
            lang: Language::Python,
            ..not_sdk
        };
        let created = create(&python).unwrap();
        assert_eq!(created.component, "target/py-chat.wasm");
        let app = std::fs::read_to_string(root.path().join("py-chat/app.py")).unwrap();
        assert!(app.contains(r#"PLUGIN_ID = "acme-chat""#) && !app.contains("{{"));
        assert!(root.path().join("py-chat/switchboard_sdk.py").is_file());
        assert!(
            root.path()
                .join("py-chat/fixtures/send/text-reply.json")
                .is_file()
        );
        let js = NewPlugin {
            dir: root.path().join("js-chat"),
            lang: Language::JavaScript,
            ..python
        };
        assert_eq!(create(&js).unwrap().component, "target/js-chat.wasm");
        let channel = std::fs::read_to_string(root.path().join("js-chat/src/channel.js")).unwrap();
        assert!(channel.contains("const PLUGIN_ID = 'acme-chat';") && !channel.contains("{{"));
        let package = std::fs::read_to_string(root.path().join("js-chat/package.json")).unwrap();
        assert!(package.contains("target/js-chat.wasm"), "{package}");
    }
}
