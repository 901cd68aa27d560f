//! The fixture files of the conformance kit, in a plugin crate's `fixtures/`:
//!
//! - `webhooks/<case>.json`: a recorded webhook request, the settings it
//!   is checked with, and the verification and events expected
//!   ([`WebhookFixture`]);
//! - `send/<case>.json`: a message to send, the provider's scripted answers
//!   ([`MockRoute`]), and the result and outbound requests expected
//!   ([`SendFixture`]).
//!
//! Before a file is read, `{{mock_url}}` is replaced with the mock provider's
//! origin. Unknown fields are errors, so a typo never silently skips a check.
//! Expected JSON is compared with [`super::json_diff`] rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

pub use super::mock::MockRoute;
use crate::contract::{
    AttachmentKind, ChannelContext, Credentials, IncomingRequest, Manifest, OutboundAttachment,
    OutboundMessage, Settings,
};

/// The placeholder fixtures use for the mock provider's origin.
pub const MOCK_URL: &str = "{{mock_url}}";

/// One fixture file, read but not yet parsed (a file that does not parse is
/// a failed case, not a failed run).
#[derive(Debug, Clone)]
pub struct FixtureFile {
    /// Its name without `.json`: the case's name.
    pub name: String,
    /// Where it is.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

impl FixtureFile {
    /// Parses it as `T` after replacing `{{mock_url}}` with `mock_origin`.
    pub fn parse<T: serde::de::DeserializeOwned>(&self, mock_origin: &str) -> Result<T, String> {
        serde_json::from_str(&self.text.replace(MOCK_URL, mock_origin))
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

/// Every fixture in a folder.
#[derive(Debug, Clone, Default)]
pub struct Fixtures {
    /// `webhooks/*.json`, by name.
    pub webhooks: Vec<FixtureFile>,
    /// `send/*.json`, by name.
    pub sends: Vec<FixtureFile>,
}

/// Why a fixture folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// Reading failed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The folder holds no fixtures.
    #[error("{} has no webhooks/*.json or send/*.json fixtures", .0.display())]
    Empty(PathBuf),
}

impl Fixtures {
    /// Reads `dir/webhooks/*.json` and `dir/send/*.json`.
    pub fn load(dir: &Path) -> Result<Self, FixtureError> {
        if !dir.is_dir() {
            return Err(FixtureError::Io {
                path: dir.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
            });
        }
        let fixtures = Self {
            webhooks: read_folder(&dir.join("webhooks"))?,
            sends: read_folder(&dir.join("send"))?,
        };
        if fixtures.webhooks.is_empty() && fixtures.sends.is_empty() {
            return Err(FixtureError::Empty(dir.to_owned()));
        }
        Ok(fixtures)
    }
}

fn read_folder(dir: &Path) -> Result<Vec<FixtureFile>, FixtureError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| FixtureError::Io { path, source }
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push(FixtureFile { name, path, text });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// `webhooks/<case>.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookFixture {
    /// What the case shows, printed when it fails.
    #[serde(default)]
    pub description: Option<String>,
    /// Setting values by key; keys left out take the manifest's default.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// The request as the provider sent it.
    pub request: RequestFixture,
    /// What the plugin must answer.
    pub expect: WebhookExpect,
}

/// A recorded webhook request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFixture {
    /// Method (`POST` when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Path (`/webhooks/<plugin id>` when absent).
    #[serde(default)]
    pub path: Option<String>,
    /// Raw query without `?`.
    #[serde(default)]
    pub query: String,
    /// Headers as `[name, value]` pairs, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body as text, byte for byte (signatures cover these bytes).
    #[serde(default)]
    pub body: Option<String>,
    /// The body as base64, for bytes that are not text.
    #[serde(default)]
    pub body_base64: Option<String>,
}

impl RequestFixture {
    /// The request the server would hand the plugin.
    pub fn to_incoming(&self, plugin_id: &str) -> Result<IncomingRequest, String> {
        let body = match (&self.body, &self.body_base64) {
            (Some(_), Some(_)) => return Err("request: give body or body_base64, not both".into()),
            (Some(text), None) => text.clone().into_bytes(),
            (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| format!("request.body_base64: {e}"))?,
            (None, None) => Vec::new(),
        };
        Ok(IncomingRequest {
            method: self.method.as_deref().unwrap_or("POST").to_ascii_uppercase(),
            path: self
                .path
                .clone()
                .unwrap_or_else(|| format!("/webhooks/{plugin_id}")),
            query: self.query.clone(),
            headers: self.headers.clone(),
            body,
        })
    }
}

/// The verification a webhook must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedVerification {
    /// Genuine: parse-event runs next.
    Accepted,
    /// Not genuine.
    Rejected,
    /// A handshake answered by the plugin.
    Challenge,
}

impl std::fmt::Display for ExpectedVerification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Challenge => "challenge",
        })
    }
}

/// What a webhook fixture expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookExpect {
    /// verify-webhook's answer.
    pub verification: ExpectedVerification,
    /// With `rejected`: a text the reason must contain.
    #[serde(default)]
    pub reason: Option<String>,
    /// With `challenge`: the response (`status`, `body` as text, `headers`
    /// that must be among the response's).
    #[serde(default)]
    pub challenge: Option<ChallengeExpect>,
    /// With `accepted`: the events parse-event must return, as the host
    /// serialises them (`{"type": "message", "event": {…}}`).
    #[serde(default)]
    pub events: Option<Value>,
    /// With `accepted`: the error parse-event must return instead
    /// (`{"code": "invalid_request"}`; only the fields given are compared).
    #[serde(default)]
    pub error: Option<Value>,
}

/// The handshake response a webhook fixture expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeExpect {
    /// Status code.
    #[serde(default)]
    pub status: Option<u16>,
    /// Body, as text.
    #[serde(default)]
    pub body: Option<String>,
    /// Headers the response must carry.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// `send/<case>.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendFixture {
    /// What the case shows, printed when it fails.
    #[serde(default)]
    pub description: Option<String>,
    /// Setting values by key (point the provider's API at `{{mock_url}}`).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// The connected account.
    #[serde(default)]
    pub context: ContextFixture,
    /// The message an agent sends.
    pub message: MessageFixture,
    /// The provider's scripted answers.
    #[serde(default)]
    pub mock: Vec<MockRoute>,
    /// What the plugin must answer and send.
    pub expect: SendExpect,
}

/// The connected account of a send.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextFixture {
    /// The account's provider id.
    #[serde(default = "default_external_id")]
    pub external_id: String,
    /// Its credentials.
    #[serde(default)]
    pub credentials: CredentialsFixture,
}

impl Default for ContextFixture {
    fn default() -> Self {
        Self {
            external_id: default_external_id(),
            credentials: CredentialsFixture::default(),
        }
    }
}

fn default_external_id() -> String {
    "account-1".into()
}

/// Credentials of the connected account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsFixture {
    /// Bearer token.
    #[serde(default)]
    pub access_token: String,
    /// Refresh token.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Access-token expiry (unix ms).
    #[serde(default)]
    pub expires_at_ms: Option<u64>,
    /// Refresh-token expiry (unix ms).
    #[serde(default)]
    pub refresh_expires_at_ms: Option<u64>,
    /// Provider-specific extras.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

/// An outbound message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageFixture {
    /// Conversation id: the `conversation_id` the plugin's parse-event
    /// reported for the conversation. A live server passes it as both
    /// `conversation_id` and `recipient_id`.
    pub conversation_id: String,
    /// Recipient id: when given, it must equal `conversation_id` (a live
    /// server never passes anything else).
    #[serde(default)]
    pub recipient_id: Option<String>,
    /// Text.
    #[serde(default)]
    pub text: Option<String>,
    /// Attachments.
    #[serde(default)]
    pub attachments: Vec<AttachmentFixture>,
    /// Replied-to message id.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Idempotency key (`kit-<case>` when absent).
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

impl CredentialsFixture {
    /// Whether the fixture gives no credentials at all.
    fn is_empty(&self) -> bool {
        self.access_token.is_empty()
            && self.refresh_token.is_none()
            && self.expires_at_ms.is_none()
            && self.refresh_expires_at_ms.is_none()
            && self.extra.is_empty()
    }
}

/// An outbound attachment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentFixture {
    /// Kind (`image`, `audio`, `video`, `file`, …).
    pub kind: AttachmentKind,
    /// File name.
    pub file_name: String,
    /// MIME type.
    pub mime_type: String,
    /// Content as text.
    #[serde(default)]
    pub data: Option<String>,
    /// Content as base64.
    #[serde(default)]
    pub data_base64: Option<String>,
}

/// What a send fixture expects: exactly one of `ok` and `error`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendExpect {
    /// The sent message (`{"message_id": …, "status": "sent"}`).
    #[serde(default)]
    pub ok: Option<Value>,
    /// The error (`{"code": "rate_limited", "retryable": true}`; only the
    /// fields given are compared).
    #[serde(default)]
    pub error: Option<Value>,
    /// The requests the mock must receive, in order.
    #[serde(default)]
    pub requests: Option<Vec<ExpectedRequest>>,
}

/// An outbound request the plugin must make.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedRequest {
    /// Method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query, when it matters.
    #[serde(default)]
    pub query: Option<String>,
    /// Headers the request must carry (names compared case-insensitively).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body as JSON (compared structurally).
    #[serde(default)]
    pub json: Option<Value>,
    /// The body as text (compared exactly).
    #[serde(default)]
    pub body: Option<String>,
}

impl SendFixture {
    /// The context and message the server would hand the plugin, and only
    /// those: a fixture that gives inputs a live server never gives (a
    /// recipient other than the conversation, credentials for a channel
    /// without an authorization step) is refused, saying what a server
    /// passes, so that a plugin green in the kit is right on a server.
    pub fn to_call(
        &self,
        case: &str,
        manifest: &Manifest,
    ) -> Result<(ChannelContext, OutboundMessage), String> {
        let attachments = self
            .message
            .attachments
            .iter()
            .enumerate()
            .map(|(n, a)| {
                let data = match (&a.data, &a.data_base64) {
                    (Some(text), None) => Ok(text.clone().into_bytes()),
                    (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
                        .decode(encoded.trim())
                        .map_err(|e| format!("message.attachments[{n}].data_base64: {e}")),
                    _ => Err(format!(
                        "message.attachments[{n}]: give exactly one of data and data_base64"
                    )),
                }?;
                Ok(OutboundAttachment {
                    kind: a.kind,
                    file_name: a.file_name.clone(),
                    mime_type: a.mime_type.clone(),
                    data,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        if let Some(recipient) = self
            .message
            .recipient_id
            .as_ref()
            .filter(|r| **r != self.message.conversation_id)
        {
            return Err(format!(
                "message.recipient_id {recipient:?} differs from message.conversation_id {:?}: a live server \
                 passes the conversation's id (the conversation_id parse-event reported) as both; drop \
                 recipient_id, and report in parse-event the id the provider addresses replies to",
                self.message.conversation_id
            ));
        }
        let credentials = &self.context.credentials;
        if !manifest.supports_authorization && !credentials.is_empty() {
            return Err(
                "context.credentials: this channel has no authorization step (supports_authorization is \
                 false), so a live server passes empty credentials; take the provider's token from a \
                 secret setting (in \"settings\") instead"
                    .into(),
            );
        }
        let context = ChannelContext {
            settings: settings_for(manifest, &self.settings)?,
            external_id: self.context.external_id.clone(),
            credentials: Credentials {
                access_token: credentials.access_token.clone(),
                refresh_token: credentials.refresh_token.clone(),
                expires_at_ms: credentials.expires_at_ms,
                refresh_expires_at_ms: credentials.refresh_expires_at_ms,
                extra: credentials
                    .extra
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            },
        };
        let message = OutboundMessage {
            conversation_id: self.message.conversation_id.clone(),
            recipient_id: self.message.conversation_id.clone(),
            text: self.message.text.clone(),
            attachments,
            reply_to: self.message.reply_to.clone(),
            idempotency_key: self
                .message
                .idempotency_key
                .clone()
                .unwrap_or_else(|| format!("kit-{case}")),
        };
        Ok((context, message))
    }
}

/// The settings the server would pass: each key the manifest declares, from
/// the fixture or else the manifest's default, among the secrets when the
/// manifest says so. A key the manifest does not declare is an error: the
/// server would never pass it.
pub fn settings_for(manifest: &Manifest, values: &BTreeMap<String, String>) -> Result<Settings, String> {
    if let Some(unknown) = values
        .keys()
        .find(|key| !manifest.settings.iter().any(|s| &s.key == *key))
    {
        let declared: Vec<&str> = manifest.settings.iter().map(|s| s.key.as_str()).collect();
        return Err(format!(
            "settings.{unknown}: the manifest declares no such setting (it declares: {}), so the server would never pass it",
            if declared.is_empty() {
                "none".to_owned()
            } else {
                declared.join(", ")
            }
        ));
    }
    let mut settings = Settings::default();
    for spec in &manifest.settings {
        let Some(value) = values.get(&spec.key).or(spec.default_value.as_ref()) else {
            continue;
        };
        let target = if spec.secret {
            &mut settings.secrets
        } else {
            &mut settings.config
        };
        target.push((spec.key.clone(), value.clone()));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{ContentLimits, ReplyWindow, SettingSpec};

    fn manifest() -> Manifest {
        let setting = |key: &str, secret: bool, default: Option<&str>| SettingSpec {
            key: key.into(),
            description: String::new(),
            required: false,
            secret,
            default_value: default.map(Into::into),
        };
        Manifest {
            id: "acme".into(),
            name: "Acme".into(),
            version: "0.1.0".into(),
            contract_version: "0.2.0".into(),
            description: String::new(),
            settings: vec![
                setting("webhook_secret", true, None),
                setting("api_base", false, Some("https://api.example.com")),
            ],
            outbound_hosts: vec![],
            limits: ContentLimits {
                max_text_chars: None,
                max_attachments: 0,
                text_with_attachments: false,
                attachment_kinds: vec![],
                attachment_mime_types: vec![],
                max_attachment_bytes: None,
            },
            reply_window: ReplyWindow::Unlimited,
            supports_authorization: false,
        }
    }

    #[test]
    fn settings_are_placed_as_the_server_places_them() {
        let values = BTreeMap::from([("webhook_secret".to_owned(), "s".to_owned())]);
        let settings = settings_for(&manifest(), &values).unwrap();
        assert_eq!(settings.secrets, [("webhook_secret".to_owned(), "s".to_owned())]);
        assert_eq!(
            settings.config,
            [("api_base".to_owned(), "https://api.example.com".to_owned())]
        );
        let typo = BTreeMap::from([("webhook_secert".to_owned(), "s".to_owned())]);
        let refused = settings_for(&manifest(), &typo).unwrap_err();
        assert!(refused.contains("webhook_secert"), "{refused}");
    }

    #[test]
    fn fixtures_parse_with_the_mock_url_and_refuse_unknown_fields() {
        let file = |text: &str| FixtureFile {
            name: "case".into(),
            path: "send/case.json".into(),
            text: text.into(),
        };
        let good = file(
            r#"{"settings": {"api_base": "{{mock_url}}"},
                "message": {"conversation_id": "c", "text": "hi"},
                "expect": {"ok": {"message_id": "{{any}}", "status": "sent"}}}"#,
        );
        let fixture: SendFixture = good.parse("http://127.0.0.1:9").unwrap();
        let (context, message) = fixture.to_call("case", &manifest()).unwrap();
        assert_eq!(
            context.settings.config,
            [("api_base".to_owned(), "http://127.0.0.1:9".to_owned())]
        );
        assert_eq!(message.idempotency_key, "kit-case");
        assert_eq!(
            message.recipient_id, "c",
            "a server passes the conversation id as the recipient"
        );
        assert!(context.credentials.access_token.is_empty());
        // Inputs a live server never gives are refused, saying what it gives.
        let other_recipient =
            file(r#"{"message": {"conversation_id": "c", "recipient_id": "u", "text": "hi"}, "expect": {}}"#);
        let fixture: SendFixture = other_recipient.parse("x").unwrap();
        let refused = fixture.to_call("case", &manifest()).unwrap_err();
        assert!(refused.contains("passes the conversation's id"), "{refused}");
        let credentials = file(
            r#"{"context": {"credentials": {"access_token": "t"}},
                "message": {"conversation_id": "c", "text": "hi"}, "expect": {}}"#,
        );
        let fixture: SendFixture = credentials.parse("x").unwrap();
        let refused = fixture.to_call("case", &manifest()).unwrap_err();
        assert!(refused.contains("secret setting"), "{refused}");
        let oauth = Manifest {
            supports_authorization: true,
            ..manifest()
        };
        let (context, _) = fixture.to_call("case", &oauth).unwrap();
        assert_eq!(context.credentials.access_token, "t");

        let typo = file(r#"{"message": {"conversation_id": "c"}, "expect": {}, "mocks": []}"#);
        let refused = typo.parse::<SendFixture>("x").unwrap_err();
        assert!(refused.contains("unknown field `mocks`"), "{refused}");
    }

    #[test]
    fn requests_default_to_a_post_on_the_webhook_path() {
        let request: RequestFixture = serde_json::from_str(r#"{"body_base64": "AAE="}"#).unwrap();
        let incoming = request.to_incoming("acme").unwrap();
        assert_eq!(
            (incoming.method.as_str(), incoming.path.as_str()),
            ("POST", "/webhooks/acme")
        );
        assert_eq!(incoming.body, [0, 1]);
    }
}
