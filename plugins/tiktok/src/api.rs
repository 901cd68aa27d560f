//! TikTok's Business API on the wire: building requests, reading the
//! `{"code", "message", "data"}` envelope every endpoint answers with, and
//! mapping every failure onto a [`ChannelError`] the host can act on
//! ([`channel_error`], the one place that decides codes and retryability).
//!
//! Every request goes through a [`Transport`]: [`HostTransport`] in the
//! component (the host's `http-client`, the plugin's only network access), a
//! scripted fake in unit tests. So each verb runs natively in tests, end to
//! end, without the host.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use switchboard_sdk::types::{
    ChannelError, ErrorCode, Header, HttpError, HttpErrorCode, HttpRequest, HttpResponse,
};

/// Sends one HTTP request and waits for the whole answer.
pub trait Transport {
    /// Sends `request`; an error means no response was delivered.
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError>;
}

/// The host's `http-client`: egress checks, no redirects, per-call caps.
pub struct HostTransport;

impl Transport for HostTransport {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        switchboard_sdk::http::send(request)
    }
}

/// Why a call to TikTok failed, before it is put in the host's terms by
/// [`channel_error`]. Callers match on it where one endpoint needs a
/// different reading (a refresh that fails with an invalid token).
#[derive(Debug, Clone)]
pub enum ApiError {
    /// The host delivered no response.
    Transport {
        /// `scheme://host[:port]` of the request; never the full URL, whose
        /// query may carry a secret.
        origin: String,
        /// The host's reason.
        code: HttpErrorCode,
        /// The host's details, with the request's query removed.
        message: String,
    },
    /// An HTTP status outside 2xx.
    Status {
        /// The status code.
        status: u16,
        /// The start of the body, for people.
        body: String,
        /// The `Retry-After` header, when it gives seconds.
        retry_after_ms: Option<u64>,
    },
    /// The envelope's `code` is not 0.
    Provider {
        /// TikTok's error code, e.g. `40105`.
        code: i64,
        /// TikTok's message.
        message: String,
    },
    /// The answer is not what TikTok documents.
    Malformed(String),
}

impl ApiError {
    /// A failure to deliver `url`'s request.
    pub fn transport(url: &str, error: HttpError) -> Self {
        // The host's message may quote the URL (the HTTP client's errors do),
        // and some of TikTok's URLs carry the app secret or a signed media
        // token in the query.
        let message = match url.split_once('?') {
            Some((_, query)) if !query.is_empty() => error.message.replace(query, "…"),
            _ => error.message,
        };
        Self::Transport {
            origin: origin(url).to_owned(),
            code: error.code,
            message,
        }
    }
}

impl From<ApiError> for ChannelError {
    fn from(error: ApiError) -> Self {
        channel_error(error)
    }
}

/// The error mapping: what the host should do about each failure.
///
/// - no response: connection failures and timeouts are `network` and
///   retryable; a host denial is `network`, not retryable, and names the
///   command that allows the origin; a request or answer over the host's size
///   cap is `network`, not retryable; exhausting the per-call request cap is
///   `internal` (this plugin made too many requests); a URL the host could not
///   use is `invalid-request`.
/// - HTTP 429 or TikTok code 40100: `rate-limited`, retryable.
/// - HTTP 5xx or TikTok code ≥ 50000: `provider-unavailable`, retryable.
/// - TikTok 40104 / 40105 (access token invalid / expired): `unauthorized`,
///   retryable (the host refreshes the credentials, then retries).
/// - TikTok 40107 (refresh token expired): `reauthorization-required`.
/// - TikTok 40002 (parameter error): `invalid-request`.
/// - any other TikTok code, any other HTTP status, an answer that is not
///   TikTok's envelope: `provider-rejected`, not retryable.
///
/// Messages follow the reference integration: `"<code>: <message>"` for
/// TikTok's errors, `"<status>: <body>"` for HTTP ones.
pub fn channel_error(error: ApiError) -> ChannelError {
    use ErrorCode::*;
    match error {
        ApiError::Transport {
            origin,
            code,
            message,
        } => match code {
            HttpErrorCode::Denied => ChannelError::permanent(
                Network,
                format!(
                    "the host denied the request to {origin} ({message}); if this is TikTok's, \
                     an admin can allow it with `switchboard plugin grant-host tiktok {origin}`"
                ),
            ),
            HttpErrorCode::ConnectionFailed | HttpErrorCode::Timeout => {
                ChannelError::transient(Network, format!("could not reach {origin}: {message}"))
            }
            HttpErrorCode::TooLarge => ChannelError::permanent(
                Network,
                format!("a request to {origin} or its answer is over the host's size cap: {message}"),
            ),
            HttpErrorCode::LimitExceeded => ChannelError::permanent(
                Internal,
                format!("too many requests in one call (last to {origin}): {message}"),
            ),
            HttpErrorCode::InvalidRequest => {
                ChannelError::permanent(InvalidRequest, format!("bad request to {origin}: {message}"))
            }
        },
        ApiError::Status {
            status,
            body,
            retry_after_ms,
        } => {
            let message = format!("{status}: {body}");
            let error = match status {
                429 => ChannelError::transient(RateLimited, message),
                500..=599 => ChannelError::transient(ProviderUnavailable, message),
                _ => ChannelError::permanent(ProviderRejected, message),
            };
            ChannelError {
                retry_after_ms: retry_after_ms.filter(|_| error.retryable),
                ..error
            }
        }
        ApiError::Provider { code, message } => {
            let message = format!("{code}: {message}");
            match code {
                40100 => ChannelError::transient(RateLimited, message),
                40104 | 40105 => ChannelError::transient(Unauthorized, message),
                40107 => ChannelError::permanent(ReauthorizationRequired, message),
                40002 => ChannelError::permanent(InvalidRequest, message),
                50000.. => ChannelError::transient(ProviderUnavailable, message),
                _ => ChannelError::permanent(ProviderRejected, message),
            }
        }
        ApiError::Malformed(detail) => ChannelError::permanent(
            ProviderRejected,
            format!("unexpected answer from TikTok: {detail}"),
        ),
    }
}

/// Sends `request` and reads TikTok's envelope, answering its `data`.
pub fn call<T: DeserializeOwned>(transport: &impl Transport, request: &HttpRequest) -> Result<T, ApiError> {
    let response = transport
        .send(request)
        .map_err(|error| ApiError::transport(&request.url, error))?;
    read_envelope(&response)
}

/// Sends `request` and answers the response if its status is 2xx (for
/// downloads, which have no envelope).
pub fn fetch(transport: &impl Transport, request: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let response = transport
        .send(request)
        .map_err(|error| ApiError::transport(&request.url, error))?;
    check_status(&response)?;
    Ok(response)
}

#[derive(Deserialize)]
struct Envelope {
    code: Option<i64>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: serde_json::Value,
}

/// Reads `{"code", "message", "data"}`: a 2xx status and code 0 answer
/// `data`; anything else is an error.
pub fn read_envelope<T: DeserializeOwned>(response: &HttpResponse) -> Result<T, ApiError> {
    check_status(response)?;
    let envelope: Envelope = serde_json::from_slice(&response.body).map_err(|e| {
        ApiError::Malformed(format!(
            "not TikTok's JSON envelope ({e}): {}",
            excerpt(&response.body)
        ))
    })?;
    let Some(code) = envelope.code else {
        return Err(ApiError::Malformed(format!(
            "no `code` in the envelope: {}",
            excerpt(&response.body)
        )));
    };
    if code != 0 {
        return Err(ApiError::Provider {
            code,
            message: envelope.message,
        });
    }
    serde_json::from_value(envelope.data).map_err(|e| ApiError::Malformed(format!("unexpected `data`: {e}")))
}

/// An error for any status outside 2xx.
pub fn check_status(response: &HttpResponse) -> Result<(), ApiError> {
    if (200..300).contains(&response.status) {
        return Ok(());
    }
    Err(ApiError::Status {
        status: response.status,
        body: excerpt(&response.body),
        retry_after_ms: header(&response.headers, "retry-after")
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(|secs| secs.saturating_mul(1000)),
    })
}

/// The first value of header `name` (case-insensitive).
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// The start of a body as text, for error messages.
fn excerpt(body: &[u8]) -> String {
    const MAX_CHARS: usize = 300;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A JSON `POST` to the Business API, with the account's token when the
/// endpoint needs one.
pub fn post_json(url: &str, access_token: Option<&str>, body: &impl serde::Serialize) -> HttpRequest {
    let mut headers = vec![
        ("Accept", "application/json"),
        ("Content-Type", "application/json"),
    ];
    if let Some(token) = access_token {
        headers.push(("Access-Token", token));
    }
    let body = serde_json::to_vec(body).expect("request bodies are plain structs that always serialise");
    switchboard_sdk::http::request("POST", url, &headers, body)
}

/// A `GET` with the given headers.
pub fn get(url: &str, headers: &[(&str, &str)]) -> HttpRequest {
    switchboard_sdk::http::request("GET", url, headers, Vec::new())
}

/// `base?k1=v1&k2=v2`, each key and value percent-encoded.
pub fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let query: Vec<String> = params
        .iter()
        .map(|(key, value)| format!("{}={}", percent_encode(key), percent_encode(value)))
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so the
/// result is safe in any part of a query (`,` becomes `%2C`, `/` `%2F`).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` sequences (invalid ones stay as they are).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `scheme://host[:port]` of a URL (the whole string if it has no scheme).
pub fn origin(url: &str) -> &str {
    let Some(scheme_end) = url.find("://") else {
        return url;
    };
    let rest = &url[scheme_end + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &url[..scheme_end + 3 + end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{envelope, response};

    fn transport_error(code: HttpErrorCode) -> ChannelError {
        channel_error(ApiError::transport(
            "https://business-api.tiktok.com/open_api/v1.3/business/webhook/list/?app_id=a&secret=s3cret",
            HttpError {
                code,
                message: "error sending request for url (https://business-api.tiktok.com/open_api/v1.3/business/webhook/list/?app_id=a&secret=s3cret)".into(),
            },
        ))
    }

    fn provider(code: i64) -> ChannelError {
        channel_error(ApiError::Provider {
            code,
            message: "some reason".into(),
        })
    }

    fn status(status: u16) -> ChannelError {
        channel_error(
            read_envelope::<serde_json::Value>(&response(status, b"<html>oops</html>".to_vec())).unwrap_err(),
        )
    }

    #[test]
    fn transport_errors_map_to_network() {
        let denied = transport_error(HttpErrorCode::Denied);
        assert_eq!(denied.code, ErrorCode::Network);
        assert!(!denied.retryable);
        assert!(
            denied
                .message
                .contains("`switchboard plugin grant-host tiktok https://business-api.tiktok.com`"),
            "{}",
            denied.message
        );
        for code in [HttpErrorCode::ConnectionFailed, HttpErrorCode::Timeout] {
            let error = transport_error(code);
            assert_eq!((error.code, error.retryable), (ErrorCode::Network, true));
        }
        let too_large = transport_error(HttpErrorCode::TooLarge);
        assert_eq!((too_large.code, too_large.retryable), (ErrorCode::Network, false));
        let cap = transport_error(HttpErrorCode::LimitExceeded);
        assert_eq!((cap.code, cap.retryable), (ErrorCode::Internal, false));
        let bad = transport_error(HttpErrorCode::InvalidRequest);
        assert_eq!((bad.code, bad.retryable), (ErrorCode::InvalidRequest, false));
    }

    #[test]
    fn transport_errors_never_repeat_the_query() {
        for code in [HttpErrorCode::Denied, HttpErrorCode::ConnectionFailed] {
            let error = transport_error(code);
            assert!(!error.message.contains("s3cret"), "{}", error.message);
        }
    }

    #[test]
    fn http_statuses_map_by_class() {
        let limited = status(429);
        assert_eq!((limited.code, limited.retryable), (ErrorCode::RateLimited, true));
        assert_eq!(limited.message, "429: <html>oops</html>");
        for code in [500, 502, 503] {
            let error = status(code);
            assert_eq!(
                (error.code, error.retryable),
                (ErrorCode::ProviderUnavailable, true)
            );
        }
        for code in [400, 401, 403, 404, 302] {
            let error = status(code);
            assert_eq!(
                (error.code, error.retryable),
                (ErrorCode::ProviderRejected, false)
            );
        }
    }

    #[test]
    fn retry_after_is_kept_for_retryable_statuses() {
        let mut limited = response(429, vec![]);
        limited.headers.push(Header {
            name: "Retry-After".into(),
            value: "7".into(),
        });
        let error = channel_error(check_status(&limited).unwrap_err());
        assert_eq!(error.retry_after_ms, Some(7000));
        assert_eq!(error.message, "429: (empty body)");
    }

    #[test]
    fn tiktok_codes_map_to_what_the_host_can_do() {
        let cases = [
            (40100, ErrorCode::RateLimited, true),
            (40104, ErrorCode::Unauthorized, true),
            (40105, ErrorCode::Unauthorized, true),
            (40107, ErrorCode::ReauthorizationRequired, false),
            (40002, ErrorCode::InvalidRequest, false),
            (50000, ErrorCode::ProviderUnavailable, true),
            (51234, ErrorCode::ProviderUnavailable, true),
            (40001, ErrorCode::ProviderRejected, false),
            (40006, ErrorCode::ProviderRejected, false),
            (1, ErrorCode::ProviderRejected, false),
        ];
        for (code, expected, retryable) in cases {
            let error = provider(code);
            assert_eq!(
                (error.code, error.retryable),
                (expected, retryable),
                "code {code}"
            );
            assert_eq!(error.message, format!("{code}: some reason"));
        }
    }

    #[test]
    fn the_envelope_answers_data_or_an_error() {
        let ok: serde_json::Value = read_envelope(&envelope(0, "OK", serde_json::json!({"a": 1}))).unwrap();
        assert_eq!(ok, serde_json::json!({"a": 1}));
        let failed = read_envelope::<serde_json::Value>(&envelope(
            40105,
            "Access token is expired",
            serde_json::Value::Null,
        ));
        assert!(matches!(failed, Err(ApiError::Provider { code: 40105, .. })));
        let no_code = read_envelope::<serde_json::Value>(&response(200, br#"{"data":{}}"#.to_vec()));
        assert!(matches!(no_code, Err(ApiError::Malformed(_))));
        let not_json =
            channel_error(read_envelope::<serde_json::Value>(&response(200, b"hello".to_vec())).unwrap_err());
        assert_eq!(not_json.code, ErrorCode::ProviderRejected);
        assert!(
            not_json.message.starts_with("unexpected answer from TikTok"),
            "{}",
            not_json.message
        );
    }

    #[test]
    fn long_bodies_are_cut() {
        let error = status_with_body(500, "é".repeat(1000));
        assert_eq!(error.message.chars().count(), "500: ".len() + 300 + 1);
    }

    fn status_with_body(code: u16, body: String) -> ChannelError {
        channel_error(check_status(&response(code, body.into_bytes())).unwrap_err())
    }

    #[test]
    fn urls_are_built_and_taken_apart() {
        assert_eq!(percent_encode("a b,c/d:é~"), "a%20b%2Cc%2Fd%3A%C3%A9~");
        assert_eq!(percent_decode("a%20b%2Cc%2fd%zz%"), "a b,c/d%zz%");
        assert_eq!(
            with_query("https://x.test/p", &[("a", "1 2"), ("b", "[\"x\"]")]),
            "https://x.test/p?a=1%202&b=%5B%22x%22%5D"
        );
        assert_eq!(origin("https://x.test:8443/a/b?c=d"), "https://x.test:8443");
        assert_eq!(origin("https://x.test?c=d"), "https://x.test");
        assert_eq!(origin("https://x.test"), "https://x.test");
    }
}
