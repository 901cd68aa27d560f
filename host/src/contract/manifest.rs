//! A plugin's self-description and the rules it must satisfy before the host
//! stores it.

use serde::{Deserialize, Serialize};

use crate::caps::egress::OriginPattern;

/// Kinds of attachment.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// Picture.
    Image,
    /// Sound.
    Audio,
    /// Video.
    Video,
    /// Other file.
    File,
    /// Link card.
    Embed,
    /// Map location.
    Location,
}

/// A setting the plugin reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SettingSpec {
    /// Lower-case key.
    pub key: String,
    /// What it is for.
    pub description: String,
    /// Whether it must be set.
    pub required: bool,
    /// Whether it is secret.
    pub secret: bool,
    /// Default value.
    pub default_value: Option<String>,
}

/// What one outbound message may contain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContentLimits {
    /// Longest text in Unicode scalar values.
    pub max_text_chars: Option<u32>,
    /// Most attachments.
    pub max_attachments: u32,
    /// Whether text and attachments may be combined.
    pub text_with_attachments: bool,
    /// Accepted attachment kinds.
    pub attachment_kinds: Vec<AttachmentKind>,
    /// Accepted MIME types (empty: any).
    pub attachment_mime_types: Vec<String>,
    /// Largest attachment in bytes.
    pub max_attachment_bytes: Option<u64>,
}

/// When agents may reply.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", content = "secs", rename_all = "snake_case")]
pub enum ReplyWindow {
    /// Any time.
    Unlimited,
    /// Within this many seconds of the contact's last inbound message.
    AfterInboundSecs(u64),
}

/// A plugin's self-description.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Stable id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Plugin version (semver).
    pub version: String,
    /// Contract version (semver).
    pub contract_version: String,
    /// One sentence for admins.
    pub description: String,
    /// Settings it reads.
    pub settings: Vec<SettingSpec>,
    /// Origins it may call.
    pub outbound_hosts: Vec<String>,
    /// Content limits.
    pub limits: ContentLimits,
    /// Reply window.
    pub reply_window: ReplyWindow,
    /// Whether it implements the authorization verbs.
    pub supports_authorization: bool,
}

/// A rule the manifest breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub String);

/// Ids that would shadow the host's own routes.
const RESERVED_IDS: &[&str] = &["api", "admin", "health", "webhooks", "static", "plugins"];

impl Manifest {
    /// Checks every rule; the first broken one is the error.
    pub fn validate(&self) -> Result<(), ManifestError> {
        let fail = |msg: String| Err(ManifestError(msg));
        let id_ok = self.id.len() <= 32
            && self.id.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return fail(format!(
                "id {:?} must be 1-32 characters of a-z, 0-9 and '-', starting with a letter",
                self.id
            ));
        }
        if RESERVED_IDS.contains(&self.id.as_str()) {
            return fail(format!("id {:?} is reserved by the host", self.id));
        }
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return fail("name must be 1-100 characters".into());
        }
        if semver::Version::parse(&self.version).is_err() {
            return fail(format!(
                "version {:?} is not a semantic version (e.g. 1.2.3)",
                self.version
            ));
        }
        if semver::Version::parse(&self.contract_version).is_err() {
            return fail(format!(
                "contract version {:?} is not a semantic version",
                self.contract_version
            ));
        }
        let mut keys = std::collections::HashSet::new();
        for setting in &self.settings {
            let key_ok = setting.key.starts_with(|c: char| c.is_ascii_lowercase())
                && setting
                    .key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !key_ok {
                return fail(format!(
                    "setting key {:?} must be lower case a-z, 0-9 and '_'",
                    setting.key
                ));
            }
            if !keys.insert(setting.key.as_str()) {
                return fail(format!("setting key {:?} is declared twice", setting.key));
            }
            let env = super::settings::env_name(&self.id, &setting.key);
            if let Some(prefix) = super::settings::reserved_env_name(&env) {
                return fail(format!(
                    "setting {:?} would be read from ${env}, in the host's reserved {prefix}* namespace",
                    setting.key
                ));
            }
        }
        for host in &self.outbound_hosts {
            if let Err(e) = OriginPattern::parse(host) {
                return fail(format!("outbound host {host:?}: {e}"));
            }
        }
        if self.limits.max_attachments > 0 && self.limits.attachment_kinds.is_empty() {
            return fail("limits allow attachments but name no attachment kind".into());
        }
        Ok(())
    }

    /// The parsed outbound host patterns (valid after [`Manifest::validate`]).
    pub fn outbound_patterns(&self) -> Vec<OriginPattern> {
        self.outbound_hosts
            .iter()
            .filter_map(|h| OriginPattern::parse(h).ok())
            .collect()
    }
}
