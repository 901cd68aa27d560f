//! Inherent helpers on the contract's generated types: settings lookups,
//! error constructors, webhook request accessors, small constructors.
//!
//! They live here, not in the plugins, because every channel needs them and
//! none of them knows a provider.

use serde::de::DeserializeOwned;

use crate::types::{
    AttachmentKind, ChannelError, ErrorCode, Header, IncomingRequest, KeyValue, OutgoingResponse, Settings,
};

/// Settings lookups.
impl Settings {
    /// A config value by key, exactly as configured.
    /// ```
    /// use switchboard_sdk::types::{KeyValue, Settings};
    ///
    /// let settings = Settings {
    ///     config: vec![KeyValue::new("api_base", " https://api.example.com "), KeyValue::new("region", " ")],
    ///     secrets: vec![KeyValue::new("api_token", "token-1")],
    /// };
    /// assert_eq!(settings.config("api_base"), Some(" https://api.example.com "));
    /// assert_eq!(settings.config("missing"), None);
    /// ```
    pub fn config(&self, key: &str) -> Option<&str> {
        self.config
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.as_str())
    }

    /// A secret by key, exactly as configured.
    /// ```
    /// use switchboard_sdk::types::{KeyValue, Settings};
    ///
    /// let settings = Settings {
    ///     config: vec![KeyValue::new("api_base", " https://api.example.com "), KeyValue::new("region", " ")],
    ///     secrets: vec![KeyValue::new("api_token", "token-1")],
    /// };
    /// assert_eq!(settings.secret("api_token"), Some("token-1"));
    /// // Config values are not secrets.
    /// assert_eq!(settings.secret("api_base"), None);
    /// ```
    pub fn secret(&self, key: &str) -> Option<&str> {
        self.secrets
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.as_str())
    }

    /// A config value by key, trimmed; blank counts as not set.
    /// ```
    /// use switchboard_sdk::types::{KeyValue, Settings};
    ///
    /// let settings = Settings {
    ///     config: vec![KeyValue::new("api_base", " https://api.example.com "), KeyValue::new("region", " ")],
    ///     secrets: vec![KeyValue::new("api_token", "token-1")],
    /// };
    /// assert_eq!(settings.config_value("api_base"), Some("https://api.example.com"));
    /// assert_eq!(settings.config_value("region"), None);
    /// ```
    pub fn config_value(&self, key: &str) -> Option<&str> {
        non_blank(self.config(key))
    }

    /// A secret by key, trimmed; blank counts as not set.
    /// ```
    /// use switchboard_sdk::types::{KeyValue, Settings};
    ///
    /// let settings = Settings {
    ///     config: vec![KeyValue::new("api_base", " https://api.example.com "), KeyValue::new("region", " ")],
    ///     secrets: vec![KeyValue::new("api_token", "token-1")],
    /// };
    /// assert_eq!(settings.secret_value("api_token"), Some("token-1"));
    /// ```
    pub fn secret_value(&self, key: &str) -> Option<&str> {
        non_blank(self.secret(key))
    }

    /// A config value by key, trimmed, or `default` when it is not set or blank.
    /// ```
    /// use switchboard_sdk::types::{KeyValue, Settings};
    ///
    /// let settings = Settings {
    ///     config: vec![KeyValue::new("api_base", " https://api.example.com "), KeyValue::new("region", " ")],
    ///     secrets: vec![KeyValue::new("api_token", "token-1")],
    /// };
    /// assert_eq!(settings.config_or("region", "eu"), "eu");
    /// assert_eq!(settings.config_or("api_base", "https://fallback.example"), "https://api.example.com");
    /// ```
    pub fn config_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.config_value(key).unwrap_or(default)
    }

    /// A config value the plugin cannot work without: trimmed, and an
    /// `invalid-request` error naming the key when it is not set or blank.
    /// ```
    /// use switchboard_sdk::types::{KeyValue, Settings};
    ///
    /// let settings = Settings {
    ///     config: vec![KeyValue::new("api_base", " https://api.example.com "), KeyValue::new("region", " ")],
    ///     secrets: vec![KeyValue::new("api_token", "token-1")],
    /// };
    /// assert_eq!(settings.required_config("api_base")?, "https://api.example.com");
    /// let error = settings.required_config("region").unwrap_err();
    /// assert_eq!(error.message, "the setting `region` is not configured");
    /// assert!(!error.retryable);
    /// # Ok::<(), switchboard_sdk::types::ChannelError>(())
    /// ```
    pub fn required_config(&self, key: &str) -> Result<&str, ChannelError> {
        self.config_value(key).ok_or_else(|| not_configured(key))
    }

    /// A secret the plugin cannot work without: trimmed, and an
    /// `invalid-request` error naming the key when it is not set or blank.
    /// ```
    /// use switchboard_sdk::types::{KeyValue, Settings};
    ///
    /// let settings = Settings {
    ///     config: vec![KeyValue::new("api_base", " https://api.example.com "), KeyValue::new("region", " ")],
    ///     secrets: vec![KeyValue::new("api_token", "token-1")],
    /// };
    /// let token = settings.required_secret("api_token")?;
    /// assert_eq!(token, "token-1");
    /// assert!(settings.required_secret("webhook_secret").is_err());
    /// # Ok::<(), switchboard_sdk::types::ChannelError>(())
    /// ```
    pub fn required_secret(&self, key: &str) -> Result<&str, ChannelError> {
        self.secret_value(key).ok_or_else(|| not_configured(key))
    }
}

fn non_blank(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn not_configured(key: &str) -> ChannelError {
    ChannelError::invalid_request(format!("the setting `{key}` is not configured"))
}

/// Constructors for the errors a plugin returns.
impl ChannelError {
    /// An error that retrying will not fix.
    /// ```
    /// use switchboard_sdk::types::{ChannelError, ErrorCode};
    ///
    /// let error = ChannelError::permanent(ErrorCode::Unauthorized, "the API token was revoked");
    /// assert!(!error.retryable);
    /// ```
    pub fn permanent(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retryable: false,
            retry_after_ms: None,
        }
    }

    /// An error that retrying later may fix.
    /// ```
    /// use switchboard_sdk::types::{ChannelError, ErrorCode};
    ///
    /// let error = ChannelError::transient(ErrorCode::ProviderUnavailable, "the provider answered 503");
    /// assert!(error.retryable);
    /// ```
    pub fn transient(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retryable: true,
            retry_after_ms: None,
        }
    }

    /// `invalid-request`, not retryable: the input is wrong (a malformed
    /// webhook body, a missing setting, content the channel cannot carry).
    /// ```
    /// use switchboard_sdk::types::{ChannelError, ErrorCode};
    ///
    /// let error = ChannelError::invalid_request("the body is not an event");
    /// assert_eq!((error.code, error.retryable), (ErrorCode::InvalidRequest, false));
    /// ```
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::permanent(ErrorCode::InvalidRequest, message)
    }

    /// `unsupported`, not retryable: the channel does not do this (e.g. the
    /// authorization verbs of a channel configured by settings alone).
    /// ```
    /// use switchboard_sdk::types::{ChannelError, ErrorCode};
    ///
    /// let error = ChannelError::unsupported("this channel has no authorization step");
    /// assert_eq!(error.code, ErrorCode::Unsupported);
    /// ```
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::permanent(ErrorCode::Unsupported, message)
    }

    /// `internal`, not retryable: a bug or an unexpected state in the plugin.
    /// ```
    /// use switchboard_sdk::types::{ChannelError, ErrorCode};
    ///
    /// let error = ChannelError::internal("the provider's answer had no message id");
    /// assert_eq!(error.code, ErrorCode::Internal);
    /// ```
    pub fn internal(message: impl Into<String>) -> Self {
        Self::permanent(ErrorCode::Internal, message)
    }

    /// The same error with a retry delay (kept only if it is retryable).
    /// ```
    /// use switchboard_sdk::types::{ChannelError, ErrorCode};
    ///
    /// let limited = ChannelError::transient(ErrorCode::RateLimited, "slow down").with_retry_after_ms(Some(30_000));
    /// assert_eq!(limited.retry_after_ms, Some(30_000));
    /// // A permanent error is not retried, so it keeps no delay.
    /// let refused = ChannelError::invalid_request("no").with_retry_after_ms(Some(30_000));
    /// assert_eq!(refused.retry_after_ms, None);
    /// ```
    pub fn with_retry_after_ms(self, retry_after_ms: Option<u64>) -> Self {
        Self {
            retry_after_ms: retry_after_ms.filter(|_| self.retryable),
            ..self
        }
    }
}

impl KeyValue {
    /// A key and its value.
    /// ```
    /// use switchboard_sdk::types::KeyValue;
    ///
    /// let pair = KeyValue::new("api_token", "token-1");
    /// assert_eq!((pair.key.as_str(), pair.value.as_str()), ("api_token", "token-1"));
    /// ```
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

impl Header {
    /// A header.
    /// ```
    /// use switchboard_sdk::types::Header;
    ///
    /// let header = Header::new("Content-Type", "application/json");
    /// assert_eq!(header.name, "Content-Type");
    /// ```
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The value of `key` in a list of pairs (e.g. an OAuth callback's query).
/// ```
/// use switchboard_sdk::find_value;
/// use switchboard_sdk::types::KeyValue;
///
/// let query = [KeyValue::new("code", "abc"), KeyValue::new("state", "xyz")];
/// assert_eq!(find_value(&query, "state"), Some("xyz"));
/// assert_eq!(find_value(&query, "error"), None);
/// ```
pub fn find_value<'a>(pairs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    pairs.iter().find(|kv| kv.key == key).map(|kv| kv.value.as_str())
}

/// Accessors for a webhook request as the host received it.
impl IncomingRequest {
    /// The first value of header `name` (case-insensitive).
    /// ```
    /// use switchboard_sdk::types::{Header, IncomingRequest};
    ///
    /// let request = IncomingRequest {
    ///     method: "POST".into(),
    ///     path: "/webhooks/acme-chat".into(),
    ///     query: "challenge=a%20b&mode=subscribe".into(),
    ///     headers: vec![Header::new("X-Signature", "sha256=00")],
    ///     body: br#"{"type":"message"}"#.to_vec(),
    /// };
    /// assert_eq!(request.header("x-signature"), Some("sha256=00"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http::header(&self.headers, name)
    }

    /// The query's pairs, percent- and `+`-decoded, in order.
    /// ```
    /// use switchboard_sdk::types::{Header, IncomingRequest};
    ///
    /// let request = IncomingRequest {
    ///     method: "POST".into(),
    ///     path: "/webhooks/acme-chat".into(),
    ///     query: "challenge=a%20b&mode=subscribe".into(),
    ///     headers: vec![Header::new("X-Signature", "sha256=00")],
    ///     body: br#"{"type":"message"}"#.to_vec(),
    /// };
    /// assert_eq!(
    ///     request.query_pairs(),
    ///     [("challenge".to_owned(), "a b".to_owned()), ("mode".to_owned(), "subscribe".to_owned())]
    /// );
    /// ```
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        crate::http::decode_query(&self.query)
    }

    /// The first value of query parameter `name`, decoded.
    /// ```
    /// use switchboard_sdk::types::{Header, IncomingRequest};
    ///
    /// let request = IncomingRequest {
    ///     method: "POST".into(),
    ///     path: "/webhooks/acme-chat".into(),
    ///     query: "challenge=a%20b&mode=subscribe".into(),
    ///     headers: vec![Header::new("X-Signature", "sha256=00")],
    ///     body: br#"{"type":"message"}"#.to_vec(),
    /// };
    /// assert_eq!(request.query_param("challenge").as_deref(), Some("a b"));
    /// assert_eq!(request.query_param("missing"), None);
    /// ```
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// The body as JSON of type `T`; an `invalid-request` error saying why
    /// when it is not.
    /// ```
    /// use switchboard_sdk::types::{Header, IncomingRequest};
    ///
    /// let request = IncomingRequest {
    ///     method: "POST".into(),
    ///     path: "/webhooks/acme-chat".into(),
    ///     query: "challenge=a%20b&mode=subscribe".into(),
    ///     headers: vec![Header::new("X-Signature", "sha256=00")],
    ///     body: br#"{"type":"message"}"#.to_vec(),
    /// };
    /// #[derive(serde::Deserialize)]
    /// struct Event {
    ///     r#type: String,
    /// }
    /// let event: Event = request.json()?;
    /// assert_eq!(event.r#type, "message");
    /// assert!(request.json::<Vec<u8>>().is_err());
    /// # Ok::<(), switchboard_sdk::types::ChannelError>(())
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ChannelError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ChannelError::invalid_request(format!("the request body is not the expected JSON: {e}"))
        })
    }
}

impl OutgoingResponse {
    /// A `text/plain` response, e.g. the echo of a verification challenge.
    /// ```
    /// use switchboard_sdk::types::OutgoingResponse;
    ///
    /// let answer = OutgoingResponse::text(200, "challenge-123");
    /// assert_eq!(answer.body, b"challenge-123");
    /// assert_eq!(answer.headers[0].value, "text/plain; charset=utf-8");
    /// ```
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![Header::new("Content-Type", "text/plain; charset=utf-8")],
            body: body.into().into_bytes(),
        }
    }
}

impl AttachmentKind {
    /// Every kind, for a channel that accepts any attachment.
    /// ```
    /// use switchboard_sdk::types::AttachmentKind;
    ///
    /// assert!(AttachmentKind::ALL.contains(&AttachmentKind::Location));
    /// ```
    pub const ALL: [AttachmentKind; 6] = [
        AttachmentKind::Image,
        AttachmentKind::Audio,
        AttachmentKind::Video,
        AttachmentKind::File,
        AttachmentKind::Embed,
        AttachmentKind::Location,
    ];

    /// The kind's name in the contract (`image`, `audio`, …).
    /// ```
    /// use switchboard_sdk::types::AttachmentKind;
    ///
    /// assert_eq!(AttachmentKind::Image.as_str(), "image");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Image => "image",
            AttachmentKind::Audio => "audio",
            AttachmentKind::Video => "video",
            AttachmentKind::File => "file",
            AttachmentKind::Embed => "embed",
            AttachmentKind::Location => "location",
        }
    }

    /// The kind named `name` (case-insensitive), as [`as_str`](Self::as_str) spells it.
    /// ```
    /// use switchboard_sdk::types::AttachmentKind;
    ///
    /// assert_eq!(AttachmentKind::from_name(" Video"), Some(AttachmentKind::Video));
    /// assert_eq!(AttachmentKind::from_name("sticker"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The kind a MIME type suggests: `image/*`, `audio/*`, `video/*`, else `file`.
    /// ```
    /// use switchboard_sdk::types::AttachmentKind;
    ///
    /// assert_eq!(AttachmentKind::from_mime_type("image/png"), AttachmentKind::Image);
    /// assert_eq!(AttachmentKind::from_mime_type("application/pdf"), AttachmentKind::File);
    /// ```
    pub fn from_mime_type(mime_type: &str) -> Self {
        let essence = mime_type.split(';').next().unwrap_or_default().trim();
        match essence
            .split('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "image" => AttachmentKind::Image,
            "audio" => AttachmentKind::Audio,
            "video" => AttachmentKind::Video,
            _ => AttachmentKind::File,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            config: vec![
                KeyValue::new("url", " https://x.test "),
                KeyValue::new("blank", "  "),
            ],
            secrets: vec![KeyValue::new("token", "s3cret")],
        }
    }

    #[test]
    fn settings_are_trimmed_and_blank_is_unset() {
        let s = settings();
        assert_eq!(s.config("url"), Some(" https://x.test "));
        assert_eq!(s.config_value("url"), Some("https://x.test"));
        assert_eq!(s.config_value("blank"), None);
        assert_eq!(s.config_or("blank", "fallback"), "fallback");
        assert_eq!(s.config_or("missing", "fallback"), "fallback");
        assert_eq!(s.required_secret("token").unwrap(), "s3cret");
        let error = s.required_config("blank").unwrap_err();
        assert_eq!((error.code, error.retryable), (ErrorCode::InvalidRequest, false));
        assert_eq!(error.message, "the setting `blank` is not configured");
        assert!(s.required_secret("url").is_err(), "config is not a secret");
    }

    #[test]
    fn errors_keep_a_retry_delay_only_when_retryable() {
        let transient =
            ChannelError::transient(ErrorCode::RateLimited, "slow down").with_retry_after_ms(Some(5));
        assert_eq!(transient.retry_after_ms, Some(5));
        let permanent = ChannelError::unsupported("no").with_retry_after_ms(Some(5));
        assert_eq!(
            (permanent.code, permanent.retry_after_ms),
            (ErrorCode::Unsupported, None)
        );
        assert_eq!(ChannelError::internal("bug").code, ErrorCode::Internal);
    }

    #[test]
    fn incoming_requests_answer_headers_query_and_json() {
        let request = IncomingRequest {
            method: "GET".into(),
            path: "/webhooks/x".into(),
            query: "challenge=a%20b+c&x=1&challenge=second".into(),
            headers: vec![Header::new("X-Thing", "v")],
            body: br#"{"a":1}"#.to_vec(),
        };
        assert_eq!(request.header("x-thing"), Some("v"));
        assert_eq!(request.query_param("challenge").as_deref(), Some("a b c"));
        assert_eq!(request.query_param("none"), None);
        let value: serde_json::Value = request.json().unwrap();
        assert_eq!(value["a"], 1);
        let error = request.json::<Vec<u8>>().unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn attachment_kinds_by_name_and_mime_type() {
        for kind in AttachmentKind::ALL {
            assert_eq!(AttachmentKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(AttachmentKind::from_name("IMAGE"), Some(AttachmentKind::Image));
        assert_eq!(AttachmentKind::from_name("sticker"), None);
        assert_eq!(
            AttachmentKind::from_mime_type("Video/MP4; codecs=x"),
            AttachmentKind::Video
        );
        assert_eq!(
            AttachmentKind::from_mime_type("application/pdf"),
            AttachmentKind::File
        );
    }

    #[test]
    fn text_responses_are_plain_text() {
        let response = OutgoingResponse::text(200, "x");
        assert_eq!(response.body, b"x");
        assert_eq!(response.headers[0].value, "text/plain; charset=utf-8");
    }
}
