//! Outbound HTTP through the host: the plugin's only network access.
//!
//! The host checks every request against the origins the manifest declares
//! plus those an admin granted, follows no redirects and caps sizes and the
//! number of requests per call. This module adds what every channel builds
//! on top of that:
//!
//! - [`Request`]: a small builder (`Request::post(url).header(..).json(&body)?.send()`);
//! - [`Transport`]: the seam between a plugin and the network. [`HostTransport`]
//!   (what [`Request::send`] uses) is the host's `http-client`; unit tests
//!   pass `testing::FakeTransport` to [`Request::send_with`], or install a
//!   `testing::FakeHost` so that even [`send`] answers from a script;
//! - answers: [`HttpResponse::json`], [`HttpResponse::error_for_status`],
//!   [`HttpResponse::header`];
//! - [`RequestError`]: why a request got no usable answer, and the one
//!   mapping of those failures onto a [`ChannelError`] the host can act on
//!   ([`RequestError::into_channel_error`]);
//! - encodings: [`encode_query`], [`with_query`], [`decode_query`],
//!   [`percent_encode`], [`percent_decode`], form bodies ([`Request::form`])
//!   and multipart bodies ([`Multipart`]).
//!
//! ```
//! use switchboard_sdk::http::{Request, Transport};
//! use switchboard_sdk::types::{ChannelError, ErrorCode, HttpError, HttpRequest, HttpResponse};
//!
//! fn send_text(transport: &impl Transport, token: &str, to: &str, text: &str) -> Result<String, ChannelError> {
//!     let sent: serde_json::Value = Request::post("https://api.example.com/v1/messages")
//!         .bearer_auth(token)
//!         .json(&serde_json::json!({ "to": to, "text": text }))
//!         .and_then(|request| request.send_with(transport))
//!         .and_then(|response| response.error_for_status())
//!         .and_then(|response| response.json())
//!         // The one mapping: named for the plugin and its provider.
//!         .map_err(|e| e.into_channel_error("acme-chat", "Acme"))?;
//!     Ok(sent["id"].as_str().unwrap_or_default().to_owned())
//! }
//!
//! // A provider that is down for now (`testing::FakeTransport` scripts this
//! // in unit tests).
//! struct Down;
//! impl Transport for Down {
//!     fn send(&self, _: &HttpRequest) -> Result<HttpResponse, HttpError> {
//!         Ok(HttpResponse { status: 503, headers: vec![], body: b"maintenance".to_vec() })
//!     }
//! }
//! let error = send_text(&Down, "token-1", "u-1", "Hi!").unwrap_err();
//! assert_eq!((error.code, error.retryable), (ErrorCode::ProviderUnavailable, true));
//! assert_eq!(error.message, "503: maintenance");
//! ```

use std::borrow::Cow;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::types::{ChannelError, ErrorCode, Header, HttpError, HttpErrorCode, HttpRequest, HttpResponse};

/// Sends a request through the host's egress checks.
///
/// In a native build (unit tests) the request goes to the installed
/// `testing::FakeHost`; without one this panics, saying how to install it.
/// ```no_run
/// use switchboard_sdk::http::{request, send};
///
/// // In the component: the host sends it, if the origin is allowed.
/// let answer = send(&request("GET", "https://api.example.com/v1/me", &[], Vec::new()));
/// match answer {
///     Ok(response) => assert!(response.status > 0),
///     Err(error) => eprintln!("no response: {:?} {}", error.code, error.message),
/// }
/// ```
pub fn send(request: &HttpRequest) -> Result<HttpResponse, HttpError> {
    #[cfg(target_arch = "wasm32")]
    return crate::imported::http_client::send(request);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::native::send(request);
}

/// Builds a request with the given method, URL, headers and body.
/// ```
/// use switchboard_sdk::http::request;
///
/// let built = request("POST", "https://api.example.com/v1/messages", &[("Content-Type", "application/json")], b"{}".to_vec());
/// assert_eq!((built.method.as_str(), built.headers.len()), ("POST", 1));
/// ```
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> HttpRequest {
    HttpRequest {
        method: method.to_owned(),
        url: url.to_owned(),
        headers: headers
            .iter()
            .map(|(name, value)| Header {
                name: (*name).to_owned(),
                value: (*value).to_owned(),
            })
            .collect(),
        body,
    }
}

/// Sends one HTTP request and waits for the whole answer.
///
/// Plugin code that takes a `&impl Transport` runs unchanged in the component
/// ([`HostTransport`]) and in native unit tests (a scripted fake).
/// ```
/// use switchboard_sdk::http::{HostTransport, Request, RequestError, Transport};
/// use switchboard_sdk::types::{Header, HttpError, HttpRequest, HttpResponse};
///
/// /// The plugin's API call, written once for the component and its tests.
/// fn me(transport: &impl Transport) -> Result<String, RequestError> {
///     let answer: serde_json::Value = Request::get("https://api.example.com/v1/me")
///         .send_with(transport)?
///         .error_for_status()?
///         .json()?;
///     Ok(answer["id"].as_str().unwrap_or_default().to_owned())
/// }
///
/// // In a test, a stand-in provider (or `testing::FakeTransport`).
/// struct Provider;
/// impl Transport for Provider {
///     fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
///         assert_eq!(request.url, "https://api.example.com/v1/me");
///         Ok(HttpResponse { status: 200, headers: vec![], body: br#"{"id":"u-1"}"#.to_vec() })
///     }
/// }
/// assert_eq!(me(&Provider)?, "u-1");
/// // In the component: `me(&HostTransport)`.
/// # let _ = HostTransport;
/// # Ok::<(), RequestError>(())
/// ```
pub trait Transport {
    /// Sends `request`; an error means no response was delivered.
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError>;
}

impl<T: Transport + ?Sized> Transport for &T {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        (**self).send(request)
    }
}

/// The host's `http-client` ([`send`]).
#[derive(Debug, Clone, Copy, Default)]
/// ```no_run
/// use switchboard_sdk::http::{HostTransport, Request};
///
/// // What `Request::send` does.
/// let answer = Request::get("https://api.example.com/v1/me").send_with(&HostTransport);
/// ```
pub struct HostTransport;

impl Transport for HostTransport {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        send(request)
    }
}

/// A request under construction.
///
/// ```no_run
/// use switchboard_sdk::http::Request;
/// use switchboard_sdk::types::ChannelError;
///
/// #[derive(serde::Deserialize)]
/// struct Sent {
///     id: String,
/// }
///
/// fn send_text(token: &str, to: &str, text: &str, idempotency_key: &str) -> Result<String, ChannelError> {
///     let sent: Sent = Request::post("https://api.example.com/v1/messages")
///         .bearer_auth(token)
///         .header("Idempotency-Key", idempotency_key)
///         .json(&serde_json::json!({ "to": to, "text": text }))?
///         .send()?
///         .error_for_status()?
///         .json()?;
///     Ok(sent.id)
/// }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Request {
    inner: HttpRequest,
}

impl Request {
    /// A request with `method` (upper-cased) to the absolute `url`, no
    /// headers and no body.
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// let request = Request::new("options", "https://api.example.com/v1").build();
    /// assert_eq!(request.method, "OPTIONS");
    /// ```
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Self {
            inner: HttpRequest {
                method: method.to_ascii_uppercase(),
                url: url.into(),
                headers: Vec::new(),
                body: Vec::new(),
            },
        }
    }

    /// A `GET`.
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// assert_eq!(Request::get("https://api.example.com/v1/x").build().method, "GET");
    /// ```
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `POST`.
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// assert_eq!(Request::post("https://api.example.com/v1/x").build().method, "POST");
    /// ```
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// A `PUT`.
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// assert_eq!(Request::put("https://api.example.com/v1/x").build().method, "PUT");
    /// ```
    pub fn put(url: impl Into<String>) -> Self {
        Self::new("PUT", url)
    }

    /// A `PATCH`.
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// assert_eq!(Request::patch("https://api.example.com/v1/x").build().method, "PATCH");
    /// ```
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new("PATCH", url)
    }

    /// A `DELETE`.
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// assert_eq!(Request::delete("https://api.example.com/v1/x").build().method, "DELETE");
    /// ```
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new("DELETE", url)
    }

    /// Adds a header (after any of the same name).
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// let request = Request::get("https://api.example.com").header("Accept", "a").header("accept", "b").build();
    /// assert_eq!(request.headers.len(), 2);
    /// ```
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.inner.headers.push(Header::new(name, value));
        self
    }

    /// Sets a header, replacing any of the same name (case-insensitive).
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// let request = Request::get("https://api.example.com").header("Accept", "a").set_header("accept", "b");
    /// assert_eq!(request.header_value("Accept"), Some("b"));
    /// ```
    pub fn set_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.inner.headers.retain(|h| !h.name.eq_ignore_ascii_case(name));
        self.header(name, value)
    }

    /// `Authorization: Bearer <token>`.
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// let request = Request::get("https://api.example.com").bearer_auth("token-1");
    /// assert_eq!(request.header_value("authorization"), Some("Bearer token-1"));
    /// ```
    pub fn bearer_auth(self, token: &str) -> Self {
        self.set_header("Authorization", format!("Bearer {token}"))
    }

    /// `Authorization: Basic <base64(user:password)>`.
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// let request = Request::post("https://api.example.com/oauth/token").basic_auth("Aladdin", "open sesame");
    /// assert_eq!(request.header_value("Authorization"), Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
    /// ```
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        use base64::Engine as _;
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.set_header("Authorization", format!("Basic {credentials}"))
    }

    /// Appends `params` to the URL's query, percent-encoded.
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// let request = Request::get("https://api.example.com/v1/users?fields=id").query(&[("name", "Ada L")]);
    /// assert_eq!(request.url(), "https://api.example.com/v1/users?fields=id&name=Ada%20L");
    /// ```
    pub fn query(mut self, params: &[(&str, &str)]) -> Self {
        if !params.is_empty() {
            self.inner.url = with_query(&self.inner.url, params);
        }
        self
    }

    /// Sets the body and its `Content-Type`.
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// let request = Request::put("https://upload.example.com/f/1").body("image/png", vec![0x89, b'P', b'N', b'G']).build();
    /// assert_eq!(request.body.len(), 4);
    /// assert_eq!(request.headers[0].value, "image/png");
    /// ```
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.inner.body = body.into();
        self.set_header("Content-Type", content_type)
    }

    /// Sets a JSON body (`Content-Type: application/json`) and, unless one
    /// is set, `Accept: application/json`.
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// let request = Request::post("https://api.example.com/v1/messages").json(&serde_json::json!({ "text": "Hi" }))?;
    /// assert_eq!(request.header_value("content-type"), Some("application/json"));
    /// assert_eq!(request.header_value("accept"), Some("application/json"));
    /// assert_eq!(request.build().body, br#"{"text":"Hi"}"#);
    /// # Ok::<(), switchboard_sdk::http::RequestError>(())
    /// ```
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, RequestError> {
        let body = serde_json::to_vec(value).map_err(|e| RequestError::Encode(e.to_string()))?;
        let request = self.body("application/json", body);
        Ok(if request.header_value("accept").is_some() {
            request
        } else {
            request.header("Accept", "application/json")
        })
    }

    /// Sets an `application/x-www-form-urlencoded` body.
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// let request = Request::post("https://api.example.com/oauth/token").form(&[("grant_type", "refresh_token"), ("refresh_token", "r/1")]).build();
    /// assert_eq!(request.body, b"grant_type=refresh_token&refresh_token=r%2F1");
    /// ```
    pub fn form(self, params: &[(&str, &str)]) -> Self {
        self.body("application/x-www-form-urlencoded", encode_query(params))
    }

    /// Sets a `multipart/form-data` body.
    /// ```
    /// use switchboard_sdk::http::{Multipart, Request};
    ///
    /// let form = Multipart::new("seed").text("caption", "a photo").file("file", "a.png", "image/png", &b"..."[..]);
    /// let request = Request::post("https://upload.example.com/v1/media").multipart(form);
    /// assert!(request.header_value("content-type").unwrap().starts_with("multipart/form-data; boundary=switchboard-"));
    /// ```
    pub fn multipart(self, form: Multipart<'_>) -> Self {
        let (content_type, body) = form.finish();
        self.body(&content_type, body)
    }

    /// The URL so far.
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// assert_eq!(Request::get("https://api.example.com/v1").query(&[("a", "1")]).url(), "https://api.example.com/v1?a=1");
    /// ```
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The first value of header `name` set so far (case-insensitive).
    /// ```
    /// use switchboard_sdk::http::Request;
    ///
    /// let request = Request::get("https://api.example.com").header("X-Api-Version", "2");
    /// assert_eq!(request.header_value("x-api-version"), Some("2"));
    /// assert_eq!(request.header_value("accept"), None);
    /// ```
    pub fn header_value(&self, name: &str) -> Option<&str> {
        header(&self.inner.headers, name)
    }

    /// The request as the host takes it.
    /// ```
    /// use switchboard_sdk::http::Request;
    /// use switchboard_sdk::types::HttpRequest;
    ///
    /// let request: HttpRequest = Request::delete("https://api.example.com/v1/webhooks/7").build();
    /// assert_eq!((request.method.as_str(), request.url.as_str()), ("DELETE", "https://api.example.com/v1/webhooks/7"));
    /// ```
    pub fn build(self) -> HttpRequest {
        self.inner
    }

    /// Sends it through the host ([`HostTransport`]). Any status is an
    /// answer; see [`HttpResponse::error_for_status`].
    /// ```no_run
    /// use switchboard_sdk::http::Request;
    ///
    /// let response = Request::get("https://api.example.com/v1/me").bearer_auth("token-1").send()?;
    /// if !response.is_success() {
    ///     eprintln!("{}: {}", response.status, response.text());
    /// }
    /// # Ok::<(), switchboard_sdk::http::RequestError>(())
    /// ```
    pub fn send(self) -> Result<HttpResponse, RequestError> {
        self.send_with(&HostTransport)
    }

    /// Sends it through `transport`. Any status is an answer.
    /// ```
    /// # use switchboard_sdk::http::Transport;
    /// # use switchboard_sdk::types::{Header, HttpError, HttpRequest, HttpResponse};
    /// # /// Answers every request with `status` and a JSON `body` (unit tests use
    /// # /// `testing::FakeTransport`, which also records what was sent).
    /// # struct Provider(u16, &'static str);
    /// # impl Transport for Provider {
    /// #     fn send(&self, _: &HttpRequest) -> Result<HttpResponse, HttpError> {
    /// #         Ok(HttpResponse { status: self.0, headers: vec![Header::new("Retry-After", "30")], body: self.1.as_bytes().to_vec() })
    /// #     }
    /// # }
    /// use switchboard_sdk::http::Request;
    ///
    /// // A 404 is an answer, not an error, until `error_for_status`.
    /// let response = Request::get("https://api.example.com/v1/users/9").send_with(&Provider(404, "{}"))?;
    /// assert_eq!(response.status, 404);
    /// assert!(response.error_for_status().is_err());
    /// # Ok::<(), switchboard_sdk::http::RequestError>(())
    /// ```
    pub fn send_with(self, transport: &impl Transport) -> Result<HttpResponse, RequestError> {
        transport
            .send(&self.inner)
            .map_err(|error| RequestError::transport(&self.inner.url, error))
    }
}

impl From<Request> for HttpRequest {
    fn from(request: Request) -> Self {
        request.build()
    }
}

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
/// ```
/// # use switchboard_sdk::http::Transport;
/// # use switchboard_sdk::types::{Header, HttpError, HttpRequest, HttpResponse};
/// # /// Answers every request with `status` and a JSON `body` (unit tests use
/// # /// `testing::FakeTransport`, which also records what was sent).
/// # struct Provider(u16, &'static str);
/// # impl Transport for Provider {
/// #     fn send(&self, _: &HttpRequest) -> Result<HttpResponse, HttpError> {
/// #         Ok(HttpResponse { status: self.0, headers: vec![Header::new("Retry-After", "30")], body: self.1.as_bytes().to_vec() })
/// #     }
/// # }
/// use switchboard_sdk::http::{Request, RequestError};
/// use switchboard_sdk::types::ErrorCode;
///
/// let error = Request::post("https://api.example.com/v1/messages")
///     .send_with(&Provider(429, "slow down"))?
///     .error_for_status()
///     .unwrap_err();
/// assert_eq!(error, RequestError::Status { status: 429, body: "slow down".into(), retry_after_ms: Some(30_000) });
/// // What the plugin answers the host: retry in 30 s.
/// let answer = error.into_channel_error("acme-chat", "Acme");
/// assert_eq!((answer.code, answer.retryable, answer.retry_after_ms), (ErrorCode::RateLimited, true, Some(30_000)));
/// # Ok::<(), RequestError>(())
/// ```
pub enum RequestError {
    /// The request could not be built (a body that does not serialise).
    Encode(String),
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
        /// The start of the body, for people ([`excerpt`]).
        body: String,
        /// The `Retry-After` header, when it gives seconds.
        retry_after_ms: Option<u64>,
    },
    /// The answer is not what the provider documents (e.g. not the expected JSON).
    Malformed(String),
}

impl RequestError {
    /// A failure to deliver `url`'s request. The host's message may quote
    /// the URL, and some providers' URLs carry a secret in the query: the
    /// query is cut out of the message.
    /// ```
    /// use switchboard_sdk::http::RequestError;
    /// use switchboard_sdk::types::{HttpError, HttpErrorCode};
    ///
    /// let error = RequestError::transport(
    ///     "https://api.example.com/v1/me?key=s3cret",
    ///     HttpError { code: HttpErrorCode::Timeout, message: "timed out: https://api.example.com/v1/me?key=s3cret".into() },
    /// );
    /// assert_eq!(error.to_string(), "https://api.example.com: timed out: https://api.example.com/v1/me?…");
    /// ```
    pub fn transport(url: &str, error: HttpError) -> Self {
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

    /// The error for a response whose status is outside 2xx.
    /// ```
    /// use switchboard_sdk::http::RequestError;
    /// use switchboard_sdk::types::HttpResponse;
    ///
    /// let response = HttpResponse { status: 503, headers: vec![], body: b"down for maintenance".to_vec() };
    /// assert_eq!(RequestError::status(&response).to_string(), "503: down for maintenance");
    /// ```
    pub fn status(response: &HttpResponse) -> Self {
        Self::Status {
            status: response.status,
            body: excerpt(&response.body),
            retry_after_ms: response.retry_after_ms(),
        }
    }

    /// Whether sending the same request again later may succeed.
    /// ```
    /// use switchboard_sdk::http::RequestError;
    ///
    /// let unavailable = RequestError::Status { status: 502, body: String::new(), retry_after_ms: None };
    /// let refused = RequestError::Status { status: 400, body: String::new(), retry_after_ms: None };
    /// assert!(unavailable.is_retryable());
    /// assert!(!refused.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        self.clone().into_channel_error("", "").retryable
    }

    /// What the host should do about it, worded for `plugin_id` (named in
    /// the `grant-host` hint) and `provider` (e.g. `TikTok`):
    ///
    /// - no response: connection failures and timeouts are `network` and
    ///   retryable; a host denial is `network`, not retryable, and names the
    ///   command that allows the origin; a request or answer over the host's
    ///   size cap is `network`, not retryable; exhausting the per-call request
    ///   cap is `internal` (the plugin made too many requests); a URL the host
    ///   could not use is `invalid-request`;
    /// - HTTP 429: `rate-limited`, retryable, with `Retry-After`;
    /// - HTTP 5xx: `provider-unavailable`, retryable, with `Retry-After`;
    /// - any other status: `provider-rejected`, not retryable, worded
    ///   `"<status>: <body>"`;
    /// - an answer that is not what was expected: `provider-rejected`;
    /// - a body that does not serialise: `internal`.
    /// ```
    /// use switchboard_sdk::http::RequestError;
    /// use switchboard_sdk::types::{ErrorCode, HttpError, HttpErrorCode};
    ///
    /// // An origin the admin has not granted: not retried, and the fix is named.
    /// let denied = RequestError::transport(
    ///     "http://127.0.0.1:9000/v1/messages",
    ///     HttpError { code: HttpErrorCode::Denied, message: "origin not allowed".into() },
    /// );
    /// let error = denied.into_channel_error("acme-chat", "Acme");
    /// assert_eq!((error.code, error.retryable), (ErrorCode::Network, false));
    /// assert!(error.message.contains("switchboard plugin grant-host acme-chat http://127.0.0.1:9000"));
    ///
    /// let rejected = RequestError::Status { status: 400, body: "no such user".into(), retry_after_ms: None };
    /// let error = rejected.into_channel_error("acme-chat", "Acme");
    /// assert_eq!((error.code, error.message.as_str()), (ErrorCode::ProviderRejected, "400: no such user"));
    /// ```
    pub fn into_channel_error(self, plugin_id: &str, provider: &str) -> ChannelError {
        use ErrorCode::*;
        match self {
            RequestError::Encode(detail) => {
                ChannelError::permanent(Internal, format!("cannot encode the request: {detail}"))
            }
            RequestError::Transport {
                origin,
                code,
                message,
            } => match code {
                HttpErrorCode::Denied => ChannelError::permanent(
                    Network,
                    format!(
                        "the host denied the request to {origin} ({message}); if this is {provider}'s, \
                         an admin can allow it with `switchboard plugin grant-host {plugin_id} {origin}`"
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
            RequestError::Status {
                status,
                body,
                retry_after_ms,
            } => status_error(status, format!("{status}: {body}")).with_retry_after_ms(retry_after_ms),
            RequestError::Malformed(detail) => ChannelError::permanent(
                ProviderRejected,
                format!("unexpected answer from {provider}: {detail}"),
            ),
        }
    }
}

/// The error for an HTTP `status` outside 2xx, with `message`: 429 is
/// `rate-limited` and 5xx `provider-unavailable` (both retryable), anything
/// else `provider-rejected` (not retryable).
/// ```
/// use switchboard_sdk::http::status_error;
/// use switchboard_sdk::types::ErrorCode;
///
/// // A provider that reports failures inside a 200 answer, with an HTTP-like code.
/// let error = status_error(503, "the provider is busy");
/// assert_eq!((error.code, error.retryable), (ErrorCode::ProviderUnavailable, true));
/// assert_eq!(status_error(404, "no such user").code, ErrorCode::ProviderRejected);
/// ```
pub fn status_error(status: u16, message: impl Into<String>) -> ChannelError {
    match status {
        429 => ChannelError::transient(ErrorCode::RateLimited, message),
        500..=599 => ChannelError::transient(ErrorCode::ProviderUnavailable, message),
        _ => ChannelError::permanent(ErrorCode::ProviderRejected, message),
    }
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Encode(detail) => write!(f, "cannot encode the request: {detail}"),
            RequestError::Transport { origin, message, .. } => write!(f, "{origin}: {message}"),
            RequestError::Status { status, body, .. } => write!(f, "{status}: {body}"),
            RequestError::Malformed(detail) => write!(f, "unexpected answer: {detail}"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Generic wording ("the provider", `<plugin-id>`); plugins that want their
/// own names call [`RequestError::into_channel_error`].
impl From<RequestError> for ChannelError {
    fn from(error: RequestError) -> Self {
        error.into_channel_error("<plugin-id>", "the provider")
    }
}

/// Reading an answer.
impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    /// ```
    /// use switchboard_sdk::types::{Header, HttpResponse};
    ///
    /// let response = HttpResponse { status: 200, headers: vec![Header::new("X-Request-Id", "r-1")], body: vec![] };
    /// assert_eq!(response.header("x-request-id"), Some("r-1"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Whether the status is 2xx.
    /// ```
    /// use switchboard_sdk::types::HttpResponse;
    ///
    /// let created = HttpResponse { status: 201, headers: vec![], body: vec![] };
    /// assert!(created.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The `Content-Type`'s essence in lower case (`image/png` for
    /// `image/PNG; charset=binary`), when there is one.
    /// ```
    /// use switchboard_sdk::types::{Header, HttpResponse};
    ///
    /// let response = HttpResponse { status: 200, headers: vec![Header::new("Content-Type", "image/PNG; charset=binary")], body: vec![] };
    /// assert_eq!(response.content_type().as_deref(), Some("image/png"));
    /// ```
    pub fn content_type(&self) -> Option<String> {
        self.header("content-type")
            .and_then(|value| value.split(';').next())
            .map(|essence| essence.trim().to_ascii_lowercase())
            .filter(|essence| !essence.is_empty())
    }

    /// `Retry-After` in milliseconds, when it gives seconds.
    /// ```
    /// use switchboard_sdk::types::{Header, HttpResponse};
    ///
    /// let response = HttpResponse { status: 429, headers: vec![Header::new("Retry-After", "120")], body: vec![] };
    /// assert_eq!(response.retry_after_ms(), Some(120_000));
    /// ```
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.header("retry-after")
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(|secs| secs.saturating_mul(1000))
    }

    /// The body as (lossy) UTF-8 text.
    /// ```
    /// use switchboard_sdk::types::HttpResponse;
    ///
    /// let response = HttpResponse { status: 200, headers: vec![], body: b"ok".to_vec() };
    /// assert_eq!(response.text(), "ok");
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON of type `T`, whatever the status.
    /// ```
    /// use switchboard_sdk::types::HttpResponse;
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Sent {
    ///     id: String,
    /// }
    /// let response = HttpResponse { status: 200, headers: vec![], body: br#"{"id":"out-1"}"#.to_vec() };
    /// assert_eq!(response.json::<Sent>()?.id, "out-1");
    /// let html = HttpResponse { status: 200, headers: vec![], body: b"<html>".to_vec() };
    /// assert!(html.json::<Sent>().unwrap_err().to_string().starts_with("unexpected answer: not the expected JSON"));
    /// # Ok::<(), switchboard_sdk::http::RequestError>(())
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, RequestError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            RequestError::Malformed(format!("not the expected JSON ({e}): {}", excerpt(&self.body)))
        })
    }

    /// An error for any status outside 2xx.
    /// ```
    /// use switchboard_sdk::types::HttpResponse;
    ///
    /// let response = HttpResponse { status: 401, headers: vec![], body: b"bad token".to_vec() };
    /// assert_eq!(response.check_status().unwrap_err().to_string(), "401: bad token");
    /// ```
    pub fn check_status(&self) -> Result<(), RequestError> {
        if self.is_success() {
            Ok(())
        } else {
            Err(RequestError::status(self))
        }
    }

    /// The response if its status is 2xx, else the error.
    /// ```
    /// use switchboard_sdk::types::HttpResponse;
    ///
    /// let response = HttpResponse { status: 200, headers: vec![], body: br#"{"ok":true}"#.to_vec() };
    /// let value: serde_json::Value = response.error_for_status()?.json()?;
    /// assert_eq!(value["ok"], true);
    /// # Ok::<(), switchboard_sdk::http::RequestError>(())
    /// ```
    pub fn error_for_status(self) -> Result<Self, RequestError> {
        self.check_status()?;
        Ok(self)
    }
}

/// The first value of header `name` (case-insensitive).
/// ```
/// use switchboard_sdk::http::header;
/// use switchboard_sdk::types::Header;
///
/// let headers = [Header::new("Set-Cookie", "a=1"), Header::new("set-cookie", "b=2")];
/// assert_eq!(header(&headers, "SET-COOKIE"), Some("a=1"));
/// ```
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// The start of a body as text, for error messages: trimmed, at most 300
/// characters (then `…`), `(empty body)` when there is nothing.
/// ```
/// use switchboard_sdk::http::excerpt;
///
/// assert_eq!(excerpt(b"  {\"error\":\"nope\"}\n"), r#"{"error":"nope"}"#);
/// assert_eq!(excerpt(b""), "(empty body)");
/// assert_eq!(excerpt("x".repeat(400).as_bytes()).chars().count(), 301);
/// ```
pub fn excerpt(body: &[u8]) -> String {
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

/// The reason phrase of a status code (`Bad Request` for 400), or `""` for
/// one this table lacks.
/// ```
/// use switchboard_sdk::http::status_text;
///
/// assert_eq!(status_text(429), "Too Many Requests");
/// assert_eq!(status_text(299), "");
/// ```
pub fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// `base?k1=v1&k2=v2` (or `base&…` when `base` has a query already), each
/// key and value percent-encoded.
/// ```
/// use switchboard_sdk::http::with_query;
///
/// assert_eq!(with_query("https://api.example.com/v1", &[("q", "a&b")]), "https://api.example.com/v1?q=a%26b");
/// assert_eq!(with_query("https://api.example.com/v1?x=1", &[("y", "2")]), "https://api.example.com/v1?x=1&y=2");
/// ```
pub fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let separator = match base.split_once('?') {
        Some((_, "")) => "",
        Some(_) => "&",
        None => "?",
    };
    format!("{base}{separator}{}", encode_query(params))
}

/// `k1=v1&k2=v2`, each key and value percent-encoded: a query string, and
/// equally an `application/x-www-form-urlencoded` body.
/// ```
/// use switchboard_sdk::http::encode_query;
///
/// assert_eq!(encode_query(&[("scope", "user.info,video.list"), ("state", "a b")]), "scope=user.info%2Cvideo.list&state=a%20b");
/// ```
pub fn encode_query(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(key, value)| format!("{}={}", percent_encode(key), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The pairs of a query string or form body, in order: split on `&`, `+`
/// read as a space, `%XX` decoded; a part without `=` has an empty value.
/// ```
/// use switchboard_sdk::http::decode_query;
///
/// let pairs = decode_query("?code=a%2Fb&state=x+y&flag");
/// assert_eq!(pairs, [("code".into(), "a/b".into()), ("state".into(), "x y".into()), ("flag".into(), String::new())]);
/// ```
pub fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let decode = |text: &str| percent_decode(&text.replace('+', " "));
            (decode(key), decode(value))
        })
        .collect()
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so the
/// result is safe in any part of a query (`,` becomes `%2C`, `/` `%2F`,
/// space `%20`).
/// ```
/// use switchboard_sdk::http::percent_encode;
///
/// assert_eq!(percent_encode("a b/c,d~é"), "a%20b%2Fc%2Cd~%C3%A9");
/// ```
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

/// Decodes `%XX` sequences (invalid ones stay as they are; invalid UTF-8
/// becomes U+FFFD).
/// ```
/// use switchboard_sdk::http::percent_decode;
///
/// assert_eq!(percent_decode("a%20b%2Fc%C3%A9"), "a b/cé");
/// assert_eq!(percent_decode("100%"), "100%");
/// ```
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
/// ```
/// use switchboard_sdk::http::origin;
///
/// assert_eq!(origin("https://api.example.com:8443/v1/me?key=s3cret"), "https://api.example.com:8443");
/// assert_eq!(origin("not a url"), "not a url");
/// ```
pub fn origin(url: &str) -> &str {
    let Some(scheme_end) = url.find("://") else {
        return url;
    };
    let rest = &url[scheme_end + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &url[..scheme_end + 3 + end]
}

/// A `multipart/form-data` body (RFC 7578), built part by part.
///
/// The SDK has no randomness, so the boundary derives from a seed the plugin
/// gives (e.g. the time and the message's idempotency key) and is checked
/// against every part: it never occurs in the content. File contents may be
/// borrowed (`&[u8]`) so that a large attachment is copied only once, into
/// the body.
#[derive(Debug, Clone)]
#[must_use]
/// ```
/// use switchboard_sdk::http::Multipart;
///
/// let photo = vec![0u8; 1024];
/// let (content_type, body) = Multipart::new("1700000000:key-1")
///     .text("to", "u-1")
///     .file("media", "photo.jpg", "image/jpeg", photo.as_slice())
///     .finish();
/// let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
/// assert!(body.starts_with(format!("--{boundary}\r\n").as_bytes()));
/// assert!(body.ends_with(format!("--{boundary}--\r\n").as_bytes()));
/// ```
pub struct Multipart<'a> {
    seed: String,
    parts: Vec<Part<'a>>,
}

#[derive(Debug, Clone)]
struct Part<'a> {
    name: String,
    file: Option<(String, String)>,
    data: Cow<'a, [u8]>,
}

impl<'a> Multipart<'a> {
    /// An empty form whose boundary derives from `boundary_seed`.
    /// ```
    /// use switchboard_sdk::http::Multipart;
    ///
    /// // The same seed, the same boundary: a retried send builds the same body.
    /// assert_eq!(Multipart::new("key-1").boundary(), Multipart::new("key-1").boundary());
    /// assert_ne!(Multipart::new("key-1").boundary(), Multipart::new("key-2").boundary());
    /// ```
    pub fn new(boundary_seed: impl Into<String>) -> Self {
        Self {
            seed: boundary_seed.into(),
            parts: Vec::new(),
        }
    }

    /// Adds a text field.
    /// ```
    /// use switchboard_sdk::http::Multipart;
    ///
    /// let (_, body) = Multipart::new("seed").text("caption", "Hello").finish();
    /// let body = String::from_utf8(body).unwrap();
    /// assert!(body.contains("Content-Disposition: form-data; name=\"caption\"\r\n\r\nHello\r\n"));
    /// ```
    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.parts.push(Part {
            name: name.to_owned(),
            file: None,
            data: Cow::Owned(value.as_bytes().to_vec()),
        });
        self
    }

    /// Adds a file field with its file name and content type.
    /// ```
    /// use switchboard_sdk::http::Multipart;
    ///
    /// let (_, body) = Multipart::new("seed").file("media", "a.txt", "text/plain", b"hi".to_vec()).finish();
    /// let body = String::from_utf8(body).unwrap();
    /// assert!(body.contains("name=\"media\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhi\r\n"));
    /// ```
    pub fn file(
        mut self,
        name: &str,
        file_name: &str,
        content_type: &str,
        data: impl Into<Cow<'a, [u8]>>,
    ) -> Self {
        self.parts.push(Part {
            name: name.to_owned(),
            file: Some((file_name.to_owned(), content_type.trim().to_owned())),
            data: data.into(),
        });
        self
    }

    /// The boundary: `switchboard-` and 32 hex digits, the first candidate
    /// derived from the seed that occurs in no part.
    /// ```
    /// use switchboard_sdk::http::Multipart;
    ///
    /// let first = Multipart::new("seed").boundary();
    /// // Content that happens to hold that boundary gets another one.
    /// let tricky = Multipart::new("seed").text("x", &first);
    /// assert_ne!(tricky.boundary(), first);
    /// assert!(first.starts_with("switchboard-") && first.len() == "switchboard-".len() + 32);
    /// ```
    pub fn boundary(&self) -> String {
        (0u32..)
            .map(|attempt| {
                let digest = Sha256::digest(format!("{}:{attempt}", self.seed));
                format!("switchboard-{}", hex::encode(&digest[..16]))
            })
            .find(|boundary| {
                !self.parts.iter().any(|part| {
                    contains(&part.data, boundary.as_bytes())
                        || part.name.contains(boundary.as_str())
                        || part
                            .file
                            .as_ref()
                            .is_some_and(|(file_name, _)| file_name.contains(boundary.as_str()))
                })
            })
            .expect("some boundary is absent from any finite data")
    }

    /// The `Content-Type` header value and the body.
    /// ```
    /// use switchboard_sdk::http::Multipart;
    ///
    /// let form = Multipart::new("seed").text("a", "1");
    /// let boundary = form.boundary();
    /// let (content_type, body) = form.finish();
    /// assert_eq!(content_type, format!("multipart/form-data; boundary={boundary}"));
    /// assert_eq!(body, format!("--{boundary}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--{boundary}--\r\n").into_bytes());
    /// ```
    pub fn finish(self) -> (String, Vec<u8>) {
        let boundary = self.boundary();
        let size = self.parts.iter().map(|p| p.data.len() + 160).sum::<usize>() + 64;
        let mut body = Vec::with_capacity(size);
        for part in &self.parts {
            let name = quote(&part.name);
            let head = match &part.file {
                None => format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
                Some((file_name, content_type)) => format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{}\"\r\n\
                     Content-Type: {content_type}\r\n\r\n",
                    quote(file_name)
                ),
            };
            body.extend_from_slice(head.as_bytes());
            body.extend_from_slice(&part.data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// A name inside a quoted header parameter, escaped the way browsers escape
/// form uploads (WHATWG HTML: `"` → `%22`, CR → `%0D`, LF → `%0A`).
/// ```
/// use switchboard_sdk::http::quote;
///
/// assert_eq!(quote("my \"best\"\nphoto.jpg"), "my %22best%22%0Aphoto.jpg");
/// ```
pub fn quote(name: &str) -> String {
    name.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &[u8]) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![],
            body: body.to_vec(),
        }
    }

    fn transport_error(code: HttpErrorCode) -> ChannelError {
        RequestError::transport(
            "https://api.example/v1/list?app_id=a&secret=s3cret",
            HttpError {
                code,
                message: "error sending request for url (https://api.example/v1/list?app_id=a&secret=s3cret)"
                    .into(),
            },
        )
        .into_channel_error("example", "Example")
    }

    #[test]
    fn the_builder_sets_method_headers_query_and_json() {
        let request = Request::post("https://api.example/v1/send")
            .query(&[("a", "1 2")])
            .query(&[("b", "x/y")])
            .header("X-One", "1")
            .bearer_auth("tok")
            .json(&serde_json::json!({"hello": "world"}))
            .unwrap()
            .build();
        assert_eq!(request.method, "POST");
        assert_eq!(request.url, "https://api.example/v1/send?a=1%202&b=x%2Fy");
        assert_eq!(header(&request.headers, "x-one"), Some("1"));
        assert_eq!(header(&request.headers, "authorization"), Some("Bearer tok"));
        assert_eq!(header(&request.headers, "content-type"), Some("application/json"));
        assert_eq!(header(&request.headers, "accept"), Some("application/json"));
        assert_eq!(request.body, br#"{"hello":"world"}"#);

        let kept = Request::get("https://x.test")
            .header("Accept", "text/html")
            .json(&1)
            .unwrap();
        assert_eq!(kept.header_value("accept"), Some("text/html"));
        let basic = Request::get("https://x.test").basic_auth("user", "pass").build();
        assert_eq!(
            header(&basic.headers, "authorization"),
            Some("Basic dXNlcjpwYXNz")
        );
    }

    #[test]
    fn set_header_replaces_and_form_encodes() {
        let request = Request::new("put", "https://x.test")
            .header("content-type", "a")
            .form(&[("grant_type", "refresh_token"), ("x", "a b&c")])
            .build();
        assert_eq!(request.method, "PUT");
        assert_eq!(request.headers.len(), 1);
        assert_eq!(request.headers[0].value, "application/x-www-form-urlencoded");
        assert_eq!(request.body, b"grant_type=refresh_token&x=a%20b%26c");
    }

    #[test]
    fn a_body_that_cannot_serialise_is_an_encode_error() {
        let mut map = std::collections::HashMap::new();
        map.insert((1, 2), "tuple keys are not JSON");
        let error = Request::post("https://x.test").json(&map).unwrap_err();
        assert!(matches!(error, RequestError::Encode(_)), "{error:?}");
        let channel = ChannelError::from(error);
        assert_eq!(channel.code, ErrorCode::Internal);
    }

    #[test]
    fn transport_errors_map_to_network_and_hide_the_query() {
        let denied = transport_error(HttpErrorCode::Denied);
        assert_eq!((denied.code, denied.retryable), (ErrorCode::Network, false));
        assert!(
            denied
                .message
                .contains("`switchboard plugin grant-host example https://api.example`"),
            "{}",
            denied.message
        );
        assert!(
            denied.message.contains("if this is Example's"),
            "{}",
            denied.message
        );
        for code in [HttpErrorCode::ConnectionFailed, HttpErrorCode::Timeout] {
            let error = transport_error(code);
            assert_eq!((error.code, error.retryable), (ErrorCode::Network, true));
            assert!(!error.message.contains("s3cret"), "{}", error.message);
        }
        let too_large = transport_error(HttpErrorCode::TooLarge);
        assert_eq!((too_large.code, too_large.retryable), (ErrorCode::Network, false));
        let cap = transport_error(HttpErrorCode::LimitExceeded);
        assert_eq!((cap.code, cap.retryable), (ErrorCode::Internal, false));
        let bad = transport_error(HttpErrorCode::InvalidRequest);
        assert_eq!((bad.code, bad.retryable), (ErrorCode::InvalidRequest, false));
        assert!(!denied.message.contains("s3cret"));
    }

    #[test]
    fn statuses_map_by_class_with_retry_after() {
        let status =
            |code: u16| ChannelError::from(response(code, b"<html>oops</html>").check_status().unwrap_err());
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
        let mut busy = response(503, b"");
        busy.headers.push(Header::new("Retry-After", " 7 "));
        let error = ChannelError::from(busy.error_for_status().unwrap_err());
        assert_eq!(
            (error.retry_after_ms, error.message.as_str()),
            (Some(7000), "503: (empty body)")
        );
        let mut refused = response(400, b"");
        refused.headers.push(Header::new("Retry-After", "7"));
        assert_eq!(
            ChannelError::from(refused.error_for_status().unwrap_err()).retry_after_ms,
            None
        );
        assert!(response(204, b"").error_for_status().is_ok());
        assert!(RequestError::status(&response(502, b"")).is_retryable());
    }

    #[test]
    fn json_answers_parse_or_are_malformed() {
        let ok: serde_json::Value = response(200, br#"{"id":"m-1"}"#).json().unwrap();
        assert_eq!(ok["id"], "m-1");
        let error = response(200, b"hello").json::<serde_json::Value>().unwrap_err();
        let channel = error.into_channel_error("example", "Example");
        assert_eq!(channel.code, ErrorCode::ProviderRejected);
        assert!(
            channel
                .message
                .starts_with("unexpected answer from Example: not the expected JSON")
        );
        assert!(channel.message.ends_with(": hello"), "{}", channel.message);
    }

    #[test]
    fn responses_answer_headers_and_content_types() {
        let mut answer = response(200, "é".as_bytes());
        answer
            .headers
            .push(Header::new("Content-Type", "Image/PNG; charset=binary"));
        assert_eq!(answer.content_type().as_deref(), Some("image/png"));
        assert_eq!(answer.header("CONTENT-TYPE"), Some("Image/PNG; charset=binary"));
        assert_eq!(answer.text(), "é");
        assert!(answer.is_success());
        assert_eq!(response(200, b"").content_type(), None);
    }

    #[test]
    fn long_bodies_are_cut() {
        let error = ChannelError::from(
            response(500, "é".repeat(1000).as_bytes())
                .check_status()
                .unwrap_err(),
        );
        assert_eq!(error.message.chars().count(), "500: ".len() + 300 + 1);
        assert_eq!(excerpt(b"  \n"), "(empty body)");
    }

    #[test]
    fn urls_are_built_and_taken_apart() {
        assert_eq!(percent_encode("a b,c/d:é~"), "a%20b%2Cc%2Fd%3A%C3%A9~");
        assert_eq!(percent_decode("a%20b%2Cc%2fd%zz%"), "a b,c/d%zz%");
        assert_eq!(
            with_query("https://x.test/p", &[("a", "1 2"), ("b", "[\"x\"]")]),
            "https://x.test/p?a=1%202&b=%5B%22x%22%5D"
        );
        assert_eq!(
            with_query("https://x.test/p?z=0", &[("a", "1")]),
            "https://x.test/p?z=0&a=1"
        );
        assert_eq!(
            with_query("https://x.test/p?", &[("a", "1")]),
            "https://x.test/p?a=1"
        );
        assert_eq!(encode_query(&[]), "");
        assert_eq!(origin("https://x.test:8443/a/b?c=d"), "https://x.test:8443");
        assert_eq!(origin("https://x.test?c=d"), "https://x.test");
        assert_eq!(origin("https://x.test"), "https://x.test");
        assert_eq!(origin("not a url"), "not a url");
    }

    #[test]
    fn queries_and_forms_decode() {
        let pairs = decode_query("?a=1+2&b=%C3%A9&flag&&c=x%3Dy");
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("a", "1 2"), ("b", "é"), ("flag", ""), ("c", "x=y")]);
        let round_trip = encode_query(&[("k y", "v&=+é")]);
        assert_eq!(
            decode_query(&round_trip),
            [("k y".to_owned(), "v&=+é".to_owned())]
        );
    }

    #[test]
    fn multipart_bodies_follow_rfc_7578() {
        let form = Multipart::new("seed").text("business_id", "biz-1").file(
            "file",
            "a\"b\r\n.png",
            " image/png ",
            b"\x89PNG".to_vec(),
        );
        let boundary = form.boundary();
        assert!(boundary.starts_with("switchboard-") && boundary.len() == 12 + 32);
        let (content_type, body) = form.finish();
        assert_eq!(content_type, format!("multipart/form-data; boundary={boundary}"));
        let mut expected = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"business_id\"\r\n\r\nbiz-1\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a%22b%0D%0A.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .into_bytes();
        expected.extend_from_slice(b"\x89PNG");
        expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        assert_eq!(body, expected);
        let request = Request::post("https://x.test")
            .multipart(Multipart::new("s"))
            .build();
        assert!(
            header(&request.headers, "content-type")
                .unwrap()
                .starts_with("multipart/form-data; boundary=switchboard-")
        );
    }

    #[test]
    fn boundaries_differ_per_seed_and_avoid_the_content() {
        let a = Multipart::new("1:key-1").boundary();
        assert_ne!(a, Multipart::new("2:key-1").boundary());
        assert_ne!(a, Multipart::new("1:key-2").boundary());
        let tricky = format!("xx{a}yy").into_bytes();
        let b = Multipart::new("1:key-1")
            .file("f", "n", "t", tricky.clone())
            .boundary();
        assert_ne!(a, b);
        assert!(!String::from_utf8_lossy(&tricky).contains(&b));
        let in_text = Multipart::new("1:key-1").text("f", &a).boundary();
        assert_ne!(a, in_text);
    }

    #[test]
    fn status_texts_name_common_codes() {
        assert_eq!(status_text(400), "Bad Request");
        assert_eq!(status_text(503), "Service Unavailable");
        assert_eq!(status_text(299), "");
    }
}
