//! The host's side of the channel contract: plain types that mirror the WIT
//! records, independent of any contract version's generated bindings.
//!
//! The runtime converts between these and the bindings of whichever contract
//! version a plugin implements (`runtime::convert`), so the rest of the host
//! never sees generated code. These types are serialisable because they cross
//! process boundaries (admin API answers, the event log).

mod manifest;
pub mod settings;

pub use manifest::{AttachmentKind, ContentLimits, Manifest, ManifestError, ReplyWindow, SettingSpec};

use serde::{Deserialize, Serialize};

/// Longest message text, in characters, the host keeps from anyone: agents
/// sending and plugins answering alike.
pub const MAX_MESSAGE_CHARS: usize = 150_000;

/// A key and its value, in order.
pub type Pairs = Vec<(String, String)>;

/// The plugin's settings for one call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Settings {
    /// Non-secret config values.
    pub config: Pairs,
    /// Secrets, decrypted for this call.
    pub secrets: Pairs,
}

/// A raw HTTP request from a provider.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IncomingRequest {
    /// Upper-case method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Raw query without `?`.
    pub query: String,
    /// Headers in order.
    pub headers: Pairs,
    /// Body bytes.
    #[serde(with = "base64_bytes")]
    pub body: Vec<u8>,
}

/// A response the host sends verbatim.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutgoingResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Pairs,
    /// Body.
    #[serde(with = "base64_bytes")]
    pub body: Vec<u8>,
}

/// The outcome of `verify-webhook`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum Verification {
    /// Genuine.
    Accepted,
    /// Not genuine, with the reason.
    Rejected(String),
    /// A handshake to answer.
    Challenge(OutgoingResponse),
}

/// Credentials of a connected account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Credentials {
    /// Bearer token.
    pub access_token: String,
    /// Refresh token.
    pub refresh_token: Option<String>,
    /// Access-token expiry (unix ms).
    pub expires_at_ms: Option<u64>,
    /// Refresh-token expiry (unix ms).
    pub refresh_expires_at_ms: Option<u64>,
    /// Provider-specific extras.
    pub extra: Pairs,
}

/// Who a connected account is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChannelIdentity {
    /// Provider id of the account.
    pub external_id: String,
    /// Name to show.
    pub display_name: String,
    /// Handle.
    pub username: Option<String>,
    /// Picture URL.
    pub avatar_url: Option<String>,
}

/// The result of a completed authorization.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Authorization {
    /// Credentials to store.
    pub credentials: Credentials,
    /// The account.
    pub identity: ChannelIdentity,
}

/// What a call about one connected account needs.
#[derive(Debug, Clone, Default)]
pub struct ChannelContext {
    /// Settings.
    pub settings: Settings,
    /// Provider id of the account.
    pub external_id: String,
    /// Its credentials.
    pub credentials: Credentials,
}

/// An inbound attachment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InboundAttachment {
    /// Kind.
    pub kind: AttachmentKind,
    /// Direct URL.
    pub url: Option<String>,
    /// Handle for `fetch-media`.
    pub media_ref: Option<String>,
    /// MIME type.
    pub mime_type: Option<String>,
    /// File name.
    pub file_name: Option<String>,
    /// Metadata.
    pub metadata: Pairs,
}

/// The person on the provider's side.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContactProfile {
    /// Provider id.
    pub external_id: String,
    /// Name.
    pub name: Option<String>,
    /// Handle.
    pub username: Option<String>,
    /// Picture URL.
    pub avatar_url: Option<String>,
}

/// A message seen at the provider.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageEvent {
    /// Account that received or sent it.
    pub channel_external_id: String,
    /// Conversation id.
    pub conversation_id: String,
    /// The contact.
    pub contact: ContactProfile,
    /// Provider message id.
    pub message_id: String,
    /// Sent at (unix ms).
    pub sent_at_ms: u64,
    /// Text.
    pub text: Option<String>,
    /// Attachments.
    pub attachments: Vec<InboundAttachment>,
    /// Replied-to message id.
    pub reply_to: Option<String>,
    /// Placeholder for unsupported content.
    pub unsupported: Option<String>,
}

/// Delivery states.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Accepted by the provider.
    Sent,
    /// Delivered.
    Delivered,
    /// Read.
    Read,
    /// Failed.
    Failed,
}

/// A status change of outbound messages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusEvent {
    /// Account.
    pub channel_external_id: String,
    /// Conversation.
    pub conversation_id: Option<String>,
    /// The one message, or none for "all up to `up_to_ms`".
    pub message_id: Option<String>,
    /// New status.
    pub status: DeliveryStatus,
    /// Time bound.
    pub up_to_ms: Option<u64>,
    /// Provider reason.
    pub error: Option<String>,
}

/// One normalized event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", content = "event", rename_all = "snake_case")]
pub enum ChannelEvent {
    /// Inbound message.
    Message(MessageEvent),
    /// Echo of a business-sent message.
    Echo(MessageEvent),
    /// Status update.
    Status(StatusEvent),
    /// Ignored, with reason.
    Ignored(String),
}

/// Error kinds a plugin reports.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Bad input.
    InvalidRequest,
    /// Credentials rejected.
    Unauthorized,
    /// A person must reconnect.
    ReauthorizationRequired,
    /// The user refused.
    AccessDenied,
    /// Slow down.
    RateLimited,
    /// Provider failure.
    ProviderUnavailable,
    /// Provider refusal.
    ProviderRejected,
    /// Network failure.
    Network,
    /// Not supported.
    Unsupported,
    /// Plugin bug.
    Internal,
}

/// An error a plugin reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, thiserror::Error)]
#[error("{message} ({code:?}{})", if *.retryable { ", retryable" } else { "" })]
pub struct ChannelError {
    /// Kind.
    pub code: ErrorCode,
    /// Readable reason.
    pub message: String,
    /// Whether retrying may help.
    pub retryable: bool,
    /// Suggested wait.
    pub retry_after_ms: Option<u64>,
}

/// An outbound attachment with its bytes.
#[derive(Debug, Clone)]
pub struct OutboundAttachment {
    /// Kind.
    pub kind: AttachmentKind,
    /// File name.
    pub file_name: String,
    /// MIME type.
    pub mime_type: String,
    /// Content.
    pub data: Vec<u8>,
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct OutboundMessage {
    /// The conversation's provider id: the `conversation_id` the plugin's
    /// `parse-event` reported when the conversation began (the contact's
    /// identity in the inbox). The same for every kind of inbox.
    pub conversation_id: String,
    /// Who the message goes to: the host has no other id of the contact to
    /// give, so this is always `conversation_id` again. A plugin whose
    /// provider addresses replies to a user reports that user's id as the
    /// conversation id (what `plugin new` does); the kit passes the same.
    pub recipient_id: String,
    /// Text.
    pub text: Option<String>,
    /// Attachments.
    pub attachments: Vec<OutboundAttachment>,
    /// Replied-to message id.
    pub reply_to: Option<String>,
    /// Stable key for every attempt.
    pub idempotency_key: String,
}

/// The provider's answer to a send.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SentMessage {
    /// Provider message id.
    pub message_id: String,
    /// Status now.
    pub status: DeliveryStatus,
}

/// What a provider reports about an app's webhook callback (contract 0.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WebhookRegistration {
    /// The URL the provider calls; none when nothing is registered.
    pub callback_url: Option<String>,
    /// Other facts the provider reports, for admins.
    pub details: Pairs,
}

/// Fetched media.
#[derive(Debug, Clone)]
pub struct Media {
    /// MIME type.
    pub mime_type: String,
    /// File name.
    pub file_name: Option<String>,
    /// Content.
    pub data: Vec<u8>,
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}
