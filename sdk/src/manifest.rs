//! The plugin's self-description, declared in one expression.
//!
//! ```
//! use switchboard_sdk::manifest::{Limits, Setting};
//! use switchboard_sdk::types::{Manifest, ReplyWindow};
//!
//! fn manifest() -> Manifest {
//!     Manifest::builder("example", "Example")
//!         .version(env!("CARGO_PKG_VERSION"))
//!         .description("Example messages")
//!         .setting(Setting::config("app_id", "App id").required())
//!         .setting(Setting::secret("app_secret", "App secret").required())
//!         .setting(Setting::config("base_url", "API base URL").with_default("https://api.example"))
//!         .outbound_host("https://api.example")
//!         .limits(Limits::text_only(4096))
//!         .reply_window(ReplyWindow::Unlimited)
//!         .build()
//! }
//! assert_eq!(manifest().check(), Ok(()));
//! ```
//!
//! [`ManifestBuilder::build`] fills `contract_version` with the SDK's
//! [`CONTRACT_VERSION`]. [`Manifest::check`] repeats the host's install-time
//! rules so a plugin's unit tests catch a manifest the host would refuse;
//! the host's own validation stays the authority.

use crate::CONTRACT_VERSION;
use crate::types::{AttachmentKind, ContentLimits, Manifest, ReplyWindow, SettingSpec};

/// A setting the plugin reads (the contract's `setting-spec`), built with
/// [`Setting::config`] or [`Setting::secret`].
/// ```
/// use switchboard_sdk::manifest::Setting;
///
/// let token = Setting::secret("api_token", "The provider's API token").required();
/// assert!(token.secret && token.required);
/// ```
pub type Setting = SettingSpec;

/// What one outbound message may contain (the contract's `content-limits`),
/// built with [`Limits::text_only`] and friends.
/// ```
/// use switchboard_sdk::manifest::Limits;
/// use switchboard_sdk::types::AttachmentKind;
///
/// let limits = Limits::text_only(2000).attachments(4, [AttachmentKind::Image]).text_with_attachments(true);
/// assert_eq!((limits.max_text_chars, limits.max_attachments), (Some(2000), 4));
/// ```
pub type Limits = ContentLimits;

/// Ids the host keeps for its own routes (`/api/…`, `/webhooks/…`, …): a
/// plugin with one of them is refused at install.
/// ```
/// use switchboard_sdk::manifest::RESERVED_IDS;
/// use switchboard_sdk::types::Manifest;
///
/// assert!(RESERVED_IDS.contains(&"webhooks"));
/// let refused = Manifest::builder("webhooks", "Webhooks").version("1.0.0").build();
/// assert_eq!(refused.check(), Err("id \"webhooks\" is reserved by the host".into()));
/// ```
pub const RESERVED_IDS: &[&str] = &["api", "admin", "health", "webhooks", "static", "plugins"];

/// Building a setting.
impl SettingSpec {
    /// A non-secret config value (e.g. an app id or a URL), optional and
    /// without a default until said otherwise.
    /// ```
    /// use switchboard_sdk::manifest::Setting;
    ///
    /// let app_id = Setting::config("app_id", "The app's id in the provider's portal");
    /// assert!(!app_id.secret && !app_id.required && app_id.default_value.is_none());
    /// ```
    pub fn config(key: &str, description: &str) -> Self {
        Self {
            key: key.to_owned(),
            description: description.to_owned(),
            required: false,
            secret: false,
            default_value: None,
        }
    }

    /// A secret (stored encrypted, never shown back), optional until said
    /// otherwise.
    /// ```
    /// use switchboard_sdk::manifest::Setting;
    ///
    /// let secret = Setting::secret("webhook_secret", "Key of the HMAC in X-Signature");
    /// assert!(secret.secret && !secret.required);
    /// ```
    pub fn secret(key: &str, description: &str) -> Self {
        Self {
            secret: true,
            ..Self::config(key, description)
        }
    }

    /// The plugin cannot work without it.
    /// ```
    /// use switchboard_sdk::manifest::Setting;
    ///
    /// assert!(Setting::secret("api_token", "API token").required().required);
    /// ```
    pub fn required(self) -> Self {
        Self {
            required: true,
            ..self
        }
    }

    /// The value used when the admin sets none.
    /// ```
    /// use switchboard_sdk::manifest::Setting;
    ///
    /// let base = Setting::config("api_base", "API base URL").with_default("https://api.example.com");
    /// assert_eq!(base.default_value.as_deref(), Some("https://api.example.com"));
    /// ```
    pub fn with_default(self, value: &str) -> Self {
        Self {
            default_value: Some(value.to_owned()),
            ..self
        }
    }
}

/// Building content limits.
impl ContentLimits {
    /// Text of at most `max_chars` Unicode scalar values, no attachments.
    /// ```
    /// use switchboard_sdk::manifest::Limits;
    ///
    /// let sms = Limits::text_only(160);
    /// assert_eq!((sms.max_text_chars, sms.max_attachments), (Some(160), 0));
    /// ```
    pub fn text_only(max_chars: u32) -> Self {
        Self {
            max_text_chars: Some(max_chars),
            ..Self::any_text()
        }
    }

    /// Text of any length, no attachments.
    /// ```
    /// use switchboard_sdk::manifest::Limits;
    ///
    /// assert_eq!(Limits::any_text().max_text_chars, None);
    /// ```
    pub fn any_text() -> Self {
        Self {
            max_text_chars: None,
            max_attachments: 0,
            text_with_attachments: false,
            attachment_kinds: Vec::new(),
            attachment_mime_types: Vec::new(),
            max_attachment_bytes: None,
        }
    }

    /// Up to `max` attachments of the given kinds (any MIME type, any size
    /// until said otherwise), not combined with text until said otherwise.
    /// ```
    /// use switchboard_sdk::manifest::Limits;
    /// use switchboard_sdk::types::AttachmentKind;
    ///
    /// let any = Limits::any_text().attachments(10, AttachmentKind::ALL);
    /// assert_eq!(any.attachment_kinds.len(), 6);
    /// ```
    pub fn attachments(self, max: u32, kinds: impl IntoIterator<Item = AttachmentKind>) -> Self {
        Self {
            max_attachments: max,
            attachment_kinds: kinds.into_iter().collect(),
            ..self
        }
    }

    /// Only these MIME types (empty: any).
    /// ```
    /// use switchboard_sdk::manifest::Limits;
    /// use switchboard_sdk::types::AttachmentKind;
    ///
    /// let photos = Limits::any_text().attachments(1, [AttachmentKind::Image]).mime_types(["image/jpeg", "image/png"]);
    /// assert_eq!(photos.attachment_mime_types, ["image/jpeg", "image/png"]);
    /// ```
    pub fn mime_types<S: Into<String>>(self, mime_types: impl IntoIterator<Item = S>) -> Self {
        Self {
            attachment_mime_types: mime_types.into_iter().map(Into::into).collect(),
            ..self
        }
    }

    /// Attachments of at most `bytes` each.
    /// ```
    /// use switchboard_sdk::manifest::Limits;
    /// use switchboard_sdk::types::AttachmentKind;
    ///
    /// let limits = Limits::any_text().attachments(1, [AttachmentKind::File]).max_attachment_bytes(25 << 20);
    /// assert_eq!(limits.max_attachment_bytes, Some(25 * 1024 * 1024));
    /// ```
    pub fn max_attachment_bytes(self, bytes: u64) -> Self {
        Self {
            max_attachment_bytes: Some(bytes),
            ..self
        }
    }

    /// Whether text and attachments may travel in one message.
    /// ```
    /// use switchboard_sdk::manifest::Limits;
    /// use switchboard_sdk::types::AttachmentKind;
    ///
    /// // A caption under a photo.
    /// let limits = Limits::text_only(1000).attachments(1, [AttachmentKind::Image]).text_with_attachments(true);
    /// assert!(limits.text_with_attachments);
    /// ```
    pub fn text_with_attachments(self, allowed: bool) -> Self {
        Self {
            text_with_attachments: allowed,
            ..self
        }
    }
}

impl Manifest {
    /// A manifest for plugin `id` (lower case `[a-z0-9-]`, e.g. `tiktok`)
    /// named `name` for people.
    /// ```
    /// use switchboard_sdk::types::{Manifest, ReplyWindow};
    ///
    /// let manifest = Manifest::builder("acme-chat", "Acme Chat").version("0.1.0").build();
    /// assert_eq!(manifest.contract_version, switchboard_sdk::CONTRACT_VERSION);
    /// // Until said otherwise: no settings, any text, replies any time, no authorization step.
    /// assert!(manifest.settings.is_empty() && !manifest.supports_authorization);
    /// assert!(matches!(manifest.reply_window, ReplyWindow::Unlimited));
    /// ```
    pub fn builder(id: &str, name: &str) -> ManifestBuilder {
        ManifestBuilder {
            manifest: Manifest {
                id: id.to_owned(),
                name: name.to_owned(),
                version: String::new(),
                contract_version: CONTRACT_VERSION.to_owned(),
                description: String::new(),
                settings: Vec::new(),
                outbound_hosts: Vec::new(),
                limits: ContentLimits::any_text(),
                reply_window: ReplyWindow::Unlimited,
                supports_authorization: false,
            },
        }
    }

    /// The host's install-time rules, repeated so a unit test can catch a
    /// manifest the host would refuse: the id (syntax, not reserved), the
    /// name, semantic versions, setting keys (syntax, unique), origin syntax
    /// of the outbound hosts, and attachment kinds when attachments are
    /// allowed. Answers the first broken rule. (The host also refuses
    /// setting names in its reserved environment namespaces and names that
    /// collide with another installed plugin's; those depend on the host.)
    /// ```
    /// use switchboard_sdk::manifest::Setting;
    /// use switchboard_sdk::types::Manifest;
    ///
    /// let good = Manifest::builder("acme-chat", "Acme Chat").version("0.1.0").outbound_host("https://api.example.com");
    /// assert_eq!(good.clone().build().check(), Ok(()));
    /// let bad = good.setting(Setting::secret("API-Token", "token")).build();
    /// assert_eq!(bad.check(), Err("setting key \"API-Token\" must be lower case a-z, 0-9 and '_'".into()));
    /// ```
    pub fn check(&self) -> Result<(), String> {
        let id_ok = (1..=32).contains(&self.id.len())
            && self.id.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return Err(format!(
                "id {:?} must be 1-32 characters of a-z, 0-9 and '-', starting with a letter",
                self.id
            ));
        }
        if RESERVED_IDS.contains(&self.id.as_str()) {
            return Err(format!("id {:?} is reserved by the host", self.id));
        }
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return Err("name must be 1-100 characters".into());
        }
        for (what, version) in [
            ("version", &self.version),
            ("contract version", &self.contract_version),
        ] {
            if !is_semver(version) {
                return Err(format!(
                    "{what} {version:?} is not a semantic version (e.g. 1.2.3)"
                ));
            }
        }
        let mut keys = std::collections::HashSet::new();
        for setting in &self.settings {
            let key_ok = setting.key.starts_with(|c: char| c.is_ascii_lowercase())
                && setting
                    .key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !key_ok {
                return Err(format!(
                    "setting key {:?} must be lower case a-z, 0-9 and '_'",
                    setting.key
                ));
            }
            if !keys.insert(setting.key.as_str()) {
                return Err(format!("setting key {:?} is declared twice", setting.key));
            }
        }
        for host in &self.outbound_hosts {
            check_origin(host).map_err(|e| format!("outbound host {host:?}: {e}"))?;
        }
        if self.limits.max_attachments > 0 && self.limits.attachment_kinds.is_empty() {
            return Err("limits allow attachments but name no attachment kind".into());
        }
        Ok(())
    }
}

/// `MAJOR.MINOR.PATCH` with optional `-pre` / `+build` suffixes.
fn is_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let numbers: Vec<&str> = core.split('.').collect();
    numbers.len() == 3
        && numbers.iter().all(|n| {
            !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && (n.len() == 1 || !n.starts_with('0'))
        })
}

/// `http(s)://host[:port]`, the host optionally starting with `*.`; no
/// path, query or credentials.
fn check_origin(text: &str) -> Result<(), String> {
    let (scheme, rest) = text.split_once("://").ok_or("expected scheme://host[:port]")?;
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Err(format!("scheme {scheme:?} is not http or https"));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#', '@']) {
        return Err("an origin has no path, query or credentials".into());
    }
    let rest = rest.strip_prefix("*.").unwrap_or(rest);
    let host = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => {
            port.parse::<u16>()
                .map_err(|_| format!("port {port:?} is not a number"))?;
            host
        }
        _ => rest,
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '[' | ']' | ':'));
    if !host_ok {
        return Err(format!("host {host:?} is not a domain name or an IP address"));
    }
    Ok(())
}

/// A manifest under construction; see [`Manifest::builder`].
#[derive(Debug, Clone)]
#[must_use]
/// ```
/// use switchboard_sdk::manifest::ManifestBuilder;
/// use switchboard_sdk::types::Manifest;
///
/// let builder: ManifestBuilder = Manifest::builder("acme-chat", "Acme Chat").version("0.1.0");
/// assert_eq!(builder.build().id, "acme-chat");
/// ```
pub struct ManifestBuilder {
    manifest: Manifest,
}

impl ManifestBuilder {
    /// The plugin's own version (semver), usually `env!("CARGO_PKG_VERSION")`.
    /// The host upgrades a bundled plugin only to a higher version.
    /// ```
    /// use switchboard_sdk::types::Manifest;
    ///
    /// let manifest = Manifest::builder("acme-chat", "Acme Chat").version(env!("CARGO_PKG_VERSION")).build();
    /// assert_eq!(manifest.version, env!("CARGO_PKG_VERSION"));
    /// ```
    pub fn version(mut self, version: &str) -> Self {
        self.manifest.version = version.to_owned();
        self
    }

    /// One sentence for admins.
    /// ```
    /// use switchboard_sdk::types::Manifest;
    ///
    /// let manifest = Manifest::builder("acme-chat", "Acme Chat").description("Messages from Acme's chat app").build();
    /// assert_eq!(manifest.description, "Messages from Acme's chat app");
    /// ```
    pub fn description(mut self, description: &str) -> Self {
        self.manifest.description = description.to_owned();
        self
    }

    /// A setting the plugin reads ([`Setting::config`], [`Setting::secret`]).
    /// ```
    /// use switchboard_sdk::manifest::Setting;
    /// use switchboard_sdk::types::Manifest;
    ///
    /// let manifest = Manifest::builder("acme-chat", "Acme Chat")
    ///     .setting(Setting::secret("webhook_secret", "Key of the webhooks' HMAC").required())
    ///     .setting(Setting::config("api_base", "API base URL").with_default("https://api.example.com"))
    ///     .build();
    /// assert_eq!(manifest.settings.len(), 2);
    /// ```
    pub fn setting(mut self, setting: Setting) -> Self {
        self.manifest.settings.push(setting);
        self
    }

    /// An origin the plugin may call through the host (`https://api.example`,
    /// `https://*.cdn.example`). Admins can grant more with
    /// `switchboard plugin grant-host`.
    /// ```
    /// use switchboard_sdk::types::Manifest;
    ///
    /// let manifest = Manifest::builder("acme-chat", "Acme Chat")
    ///     .outbound_host("https://api.example.com")
    ///     .outbound_host("https://*.cdn.example.com")
    ///     .build();
    /// assert_eq!(manifest.outbound_hosts.len(), 2);
    /// ```
    pub fn outbound_host(mut self, origin: &str) -> Self {
        self.manifest.outbound_hosts.push(origin.to_owned());
        self
    }

    /// What one outbound message may contain (default: any text, no attachments).
    /// ```
    /// use switchboard_sdk::manifest::Limits;
    /// use switchboard_sdk::types::Manifest;
    ///
    /// let manifest = Manifest::builder("acme-chat", "Acme Chat").limits(Limits::text_only(4096)).build();
    /// assert_eq!(manifest.limits.max_text_chars, Some(4096));
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.manifest.limits = limits;
        self
    }

    /// When agents may reply (default: any time).
    /// ```
    /// use switchboard_sdk::types::{Manifest, ReplyWindow};
    ///
    /// // Replies only within 24 hours of the contact's last message.
    /// let manifest = Manifest::builder("acme-chat", "Acme Chat")
    ///     .reply_window(ReplyWindow::AfterInboundSecs(24 * 3600))
    ///     .build();
    /// assert!(matches!(manifest.reply_window, ReplyWindow::AfterInboundSecs(86_400)));
    /// ```
    pub fn reply_window(mut self, window: ReplyWindow) -> Self {
        self.manifest.reply_window = window;
        self
    }

    /// Whether the plugin implements the authorization verbs (default: no;
    /// inboxes are then created by an administrator with the provider
    /// account's id, and settings alone configure the channel).
    /// ```
    /// use switchboard_sdk::types::Manifest;
    ///
    /// let manifest = Manifest::builder("acme-chat", "Acme Chat").supports_authorization(true).build();
    /// assert!(manifest.supports_authorization);
    /// ```
    pub fn supports_authorization(mut self, supported: bool) -> Self {
        self.manifest.supports_authorization = supported;
        self
    }

    /// The manifest, with `contract_version` set to the SDK's
    /// [`CONTRACT_VERSION`].
    /// ```
    /// use switchboard_sdk::types::Manifest;
    ///
    /// let manifest = Manifest::builder("acme-chat", "Acme Chat").version("0.1.0").build();
    /// assert_eq!(manifest.contract_version, switchboard_sdk::CONTRACT_VERSION);
    /// ```
    pub fn build(self) -> Manifest {
        self.manifest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> ManifestBuilder {
        Manifest::builder("example", "Example")
            .version("1.2.3")
            .description("Example messages")
            .setting(Setting::config("app_id", "App id").required())
            .setting(Setting::secret("app_secret", "App secret"))
            .setting(Setting::config("base_url", "Base URL").with_default("https://api.example"))
            .outbound_host("https://api.example")
            .outbound_host("https://*.cdn.example")
    }

    #[test]
    fn the_builder_fills_every_field() {
        let manifest = example()
            .limits(
                Limits::text_only(6000)
                    .attachments(1, [AttachmentKind::Image])
                    .mime_types(["image/jpeg", "image/png"])
                    .max_attachment_bytes(3 << 20),
            )
            .reply_window(ReplyWindow::AfterInboundSecs(48 * 3600))
            .supports_authorization(true)
            .build();
        assert_eq!(
            (manifest.id.as_str(), manifest.name.as_str()),
            ("example", "Example")
        );
        assert_eq!(manifest.version, "1.2.3");
        assert_eq!(manifest.contract_version, CONTRACT_VERSION);
        assert_eq!(manifest.description, "Example messages");
        let settings: Vec<_> = manifest
            .settings
            .iter()
            .map(|s| (s.key.as_str(), s.required, s.secret, s.default_value.as_deref()))
            .collect();
        assert_eq!(
            settings,
            [
                ("app_id", true, false, None),
                ("app_secret", false, true, None),
                ("base_url", false, false, Some("https://api.example")),
            ]
        );
        assert_eq!(
            manifest.outbound_hosts,
            ["https://api.example", "https://*.cdn.example"]
        );
        assert_eq!(manifest.limits.max_text_chars, Some(6000));
        assert_eq!(manifest.limits.max_attachments, 1);
        assert!(!manifest.limits.text_with_attachments);
        assert_eq!(manifest.limits.attachment_kinds, [AttachmentKind::Image]);
        assert_eq!(manifest.limits.attachment_mime_types, ["image/jpeg", "image/png"]);
        assert_eq!(manifest.limits.max_attachment_bytes, Some(3 << 20));
        assert!(matches!(
            manifest.reply_window,
            ReplyWindow::AfterInboundSecs(172_800)
        ));
        assert!(manifest.supports_authorization);
        assert_eq!(manifest.check(), Ok(()));
    }

    #[test]
    fn defaults_are_text_any_time_without_authorization() {
        let manifest = Manifest::builder("x", "X").version("0.1.0").build();
        assert_eq!(manifest.limits.max_text_chars, None);
        assert_eq!(manifest.limits.max_attachments, 0);
        assert!(matches!(manifest.reply_window, ReplyWindow::Unlimited));
        assert!(!manifest.supports_authorization);
        assert!(manifest.outbound_hosts.is_empty());
        assert_eq!(manifest.check(), Ok(()));
        let any = Limits::any_text()
            .attachments(10, AttachmentKind::ALL)
            .text_with_attachments(true);
        assert_eq!((any.max_attachments, any.attachment_kinds.len()), (10, 6));
        assert!(any.text_with_attachments);
    }

    #[test]
    fn check_catches_what_the_host_refuses() {
        let refused = |manifest: Manifest| manifest.check().unwrap_err();
        assert!(refused(Manifest::builder("api", "API").version("1.0.0").build()).contains("reserved"));
        assert!(refused(Manifest::builder("Bad!", "X").version("1.0.0").build()).contains("id"));
        assert!(refused(Manifest::builder("x", " ").version("1.0.0").build()).contains("name"));
        assert!(refused(Manifest::builder("x", "X").build()).contains("version \"\""));
        assert!(refused(example().version("1.2").build()).contains("semantic"));
        assert!(refused(example().setting(Setting::config("app_id", "again")).build()).contains("twice"));
        assert!(refused(example().setting(Setting::config("App", "x")).build()).contains("lower case"));
        for origin in [
            "api.example",
            "ftp://api.example",
            "https://api.example/v1",
            "https://u@x",
            "https://",
        ] {
            assert!(
                refused(example().outbound_host(origin).build()).contains("outbound host"),
                "{origin}"
            );
        }
        assert_eq!(
            example().outbound_host("http://127.0.0.1:8080/").build().check(),
            Ok(())
        );
        let no_kinds = example().limits(Limits::any_text().attachments(2, [])).build();
        assert!(refused(no_kinds).contains("attachment kind"));
        assert_eq!(example().version("1.0.0-rc.1+b5").build().check(), Ok(()));
        assert!(refused(example().version("01.0.0").build()).contains("semantic"));
    }
}
