//! TikTok's Business API on the wire: building requests, reading the
//! `{"code", "message", "data"}` envelope every endpoint answers with, and
//! mapping every failure onto a [`ChannelError`] the host can act on
//! ([`channel_error`], the one place that decides codes and retryability).
//!
//! The generic parts come from the SDK: the request builder, the transport
//! seam ([`Transport`]: [`HostTransport`] in the component, a scripted fake in
//! unit tests, so each verb runs natively in tests, end to end, without the
//! host), and the mapping of HTTP failures ([`RequestError`]). What is
//! TikTok's own is the envelope and its error codes.

use serde::Deserialize;
use serde::de::DeserializeOwned;
pub use switchboard_sdk::http::{HostTransport, Transport};
use switchboard_sdk::http::{Request, RequestError, excerpt};
use switchboard_sdk::types::{ChannelError, ErrorCode, HttpResponse};

/// The plugin id, named in the `grant-host` hint of host denials.
pub const PLUGIN_ID: &str = "tiktok";

/// Why a call to TikTok failed, before it is put in the host's terms by
/// [`channel_error`]. Callers match on it where one endpoint needs a
/// different reading (a refresh that fails with an invalid token).
#[derive(Debug, Clone)]
pub enum ApiError {
    /// No usable HTTP answer: no response, a status outside 2xx, or an
    /// answer that is not TikTok's envelope.
    Http(RequestError),
    /// The envelope's `code` is not 0.
    Provider {
        /// TikTok's error code, e.g. `40105`.
        code: i64,
        /// TikTok's message.
        message: String,
    },
}

impl ApiError {
    /// An answer that is not what TikTok documents.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::Http(RequestError::Malformed(detail.into()))
    }
}

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> Self {
        Self::Http(error)
    }
}

impl From<ApiError> for ChannelError {
    fn from(error: ApiError) -> Self {
        channel_error(error)
    }
}

/// The error mapping: what the host should do about each failure.
///
/// - no response, an HTTP status outside 2xx, an answer that is not TikTok's
///   envelope: the SDK's mapping ([`RequestError::into_channel_error`]):
///   network failures retryable, a host denial naming the `grant-host`
///   command, 429 `rate-limited`, 5xx `provider-unavailable`, any other
///   status `provider-rejected` as `"<status>: <body>"`;
/// - TikTok code 40100: `rate-limited`, retryable.
/// - TikTok code ≥ 50000: `provider-unavailable`, retryable.
/// - TikTok 40104 / 40105 (access token invalid / expired): `unauthorized`,
///   retryable (the host refreshes the credentials, then retries).
/// - TikTok 40107 (refresh token expired): `reauthorization-required`.
/// - TikTok 40002 (parameter error): `invalid-request`.
/// - any other TikTok code: `provider-rejected`, not retryable.
///
/// Messages follow the reference integration: `"<code>: <message>"` for
/// TikTok's errors, `"<status>: <body>"` for HTTP ones.
pub fn channel_error(error: ApiError) -> ChannelError {
    use ErrorCode::*;
    match error {
        ApiError::Http(error) => error.into_channel_error(PLUGIN_ID, "TikTok"),
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
    }
}

/// Sends `request` and reads TikTok's envelope, answering its `data`.
pub fn call<T: DeserializeOwned>(transport: &impl Transport, request: Request) -> Result<T, ApiError> {
    read_envelope(&request.send_with(transport)?)
}

/// Sends `request` and answers the response if its status is 2xx (for
/// downloads, which have no envelope).
pub fn fetch(transport: &impl Transport, request: Request) -> Result<HttpResponse, ApiError> {
    Ok(request.send_with(transport)?.error_for_status()?)
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
    response.check_status()?;
    let envelope: Envelope = serde_json::from_slice(&response.body).map_err(|e| {
        ApiError::malformed(format!(
            "not TikTok's JSON envelope ({e}): {}",
            excerpt(&response.body)
        ))
    })?;
    let Some(code) = envelope.code else {
        return Err(ApiError::malformed(format!(
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
    serde_json::from_value(envelope.data).map_err(|e| ApiError::malformed(format!("unexpected `data`: {e}")))
}

/// A JSON `POST` to the Business API, with the account's token when the
/// endpoint needs one.
pub fn post_json(url: &str, access_token: Option<&str>, body: &impl serde::Serialize) -> Request {
    let request = Request::post(url)
        .json(body)
        .expect("request bodies are plain structs that always serialise");
    match access_token {
        Some(token) => request.header("Access-Token", token),
        None => request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{envelope, header, json_body, response};
    use switchboard_sdk::types::{Header, HttpError, HttpErrorCode};

    fn transport_error(code: HttpErrorCode) -> ChannelError {
        channel_error(ApiError::from(RequestError::transport(
            "https://business-api.tiktok.com/open_api/v1.3/business/webhook/list/?app_id=a&secret=s3cret",
            HttpError {
                code,
                message: "error sending request for url (https://business-api.tiktok.com/open_api/v1.3/business/webhook/list/?app_id=a&secret=s3cret)".into(),
            },
        )))
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
        let error = channel_error(read_envelope::<serde_json::Value>(&limited).unwrap_err());
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
        assert!(matches!(no_code, Err(ApiError::Http(RequestError::Malformed(_)))));
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
        channel_error(read_envelope::<serde_json::Value>(&response(code, body.into_bytes())).unwrap_err())
    }

    #[test]
    fn posts_carry_json_and_the_token_when_given() {
        let request = post_json("https://x.test/p", Some("tok"), &serde_json::json!({"a": 1})).build();
        assert_eq!(
            (request.method.as_str(), request.url.as_str()),
            ("POST", "https://x.test/p")
        );
        assert_eq!(header(&request, "content-type"), Some("application/json"));
        assert_eq!(header(&request, "accept"), Some("application/json"));
        assert_eq!(header(&request, "access-token"), Some("tok"));
        assert_eq!(json_body(&request), serde_json::json!({"a": 1}));
        let anonymous = post_json("https://x.test/p", None, &()).build();
        assert_eq!(header(&anonymous, "access-token"), None);
    }
}
