//! A test kit for native unit tests of plugins (cargo feature `testing`).
//!
//! A plugin crate builds natively as well as for `wasm32-wasip2`; its unit
//! tests run natively, where there is no host. Two ways to stand in for it:
//!
//! - [`FakeTransport`]: a scripted [`Transport`] that answers requests in
//!   order and records them. Plugin code that takes a `&impl Transport`
//!   gets one in tests and [`HostTransport`](crate::http::HostTransport) in
//!   the component.
//! - [`FakeHost`]: installs a fake behind the SDK's imports on the current
//!   thread, so code that calls [`http::send`](crate::http::send),
//!   [`Request::send`](crate::http::Request::send), [`now_ms`](crate::now_ms)
//!   or [`log`](crate::log) directly (e.g. a [`Channel`](crate::Channel)
//!   verb) runs unchanged: requests answer from the script, the clock reads
//!   what the test set, logs are recorded.
//!
//! Plus small builders for the values tests need (responses, settings,
//! contexts, webhook requests) and readers for what was sent.
//!
//! ```
//! // In the plugin's Cargo.toml:
//! // [dev-dependencies]
//! // switchboard-sdk = { path = "../../sdk", features = ["testing"] }
//! use switchboard_sdk::http::Request;
//! use switchboard_sdk::testing::{FakeHost, context, credentials, json_body, ok_json, settings, text_message};
//! use switchboard_sdk::types::{ChannelContext, ChannelError, OutboundMessage};
//!
//! // The plugin's send, as its `Channel::send_message` calls it.
//! fn send_message(context: ChannelContext, message: OutboundMessage) -> Result<String, ChannelError> {
//!     let token = context.settings.required_secret("api_token")?;
//!     let sent: serde_json::Value = Request::post("https://api.example.com/v1/messages")
//!         .bearer_auth(token)
//!         .json(&serde_json::json!({ "to": message.recipient_id, "text": message.text }))?
//!         .send()?
//!         .error_for_status()?
//!         .json()?;
//!     Ok(sent["message_id"].as_str().unwrap_or_default().to_owned())
//! }
//!
//! // #[test]
//! fn sends_the_text() {
//!     let host = FakeHost::install();
//!     host.answer(ok_json(serde_json::json!({"message_id": "m-1"})));
//!     let context = context(settings(&[], &[("api_token", "token-1")]), "acct-1", credentials(""));
//!     let sent = send_message(context, text_message("u-1", "hello")).unwrap();
//!     assert_eq!(sent, "m-1");
//!     assert_eq!(json_body(&host.request(0))["text"], "hello");
//! }
//! # sends_the_text();
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;

use serde_json::Value;

use crate::http::Transport;
use crate::types::{
    ChannelContext, Credentials, Header, HttpError, HttpErrorCode, HttpRequest, HttpResponse,
    IncomingRequest, KeyValue, OutboundMessage, Settings,
};

/// Answers requests in order from a script and records them. Running out of
/// answers panics, naming the unexpected request.
#[derive(Default)]
/// ```
/// use switchboard_sdk::http::Request;
/// use switchboard_sdk::testing::{FakeTransport, ok_json};
///
/// let transport = FakeTransport::new([ok_json(serde_json::json!({"id": "u-1"}))]);
/// let me: serde_json::Value = Request::get("https://api.example.com/v1/me").send_with(&transport)?.json()?;
/// assert_eq!(me["id"], "u-1");
/// assert_eq!(transport.request(0).url, "https://api.example.com/v1/me");
/// # Ok::<(), switchboard_sdk::http::RequestError>(())
/// ```
pub struct FakeTransport {
    answers: RefCell<VecDeque<Result<HttpResponse, HttpError>>>,
    sent: RefCell<Vec<HttpRequest>>,
}

impl FakeTransport {
    /// A transport that answers with `answers`, in order.
    /// ```
    /// use switchboard_sdk::testing::{FakeTransport, failure, ok_json};
    /// use switchboard_sdk::types::HttpErrorCode;
    ///
    /// let transport = FakeTransport::new([failure(HttpErrorCode::Timeout, "timed out"), ok_json(serde_json::json!({}))]);
    /// assert_eq!(transport.remaining(), 2);
    /// ```
    pub fn new(answers: impl IntoIterator<Item = Result<HttpResponse, HttpError>>) -> Self {
        Self {
            answers: RefCell::new(answers.into_iter().collect()),
            sent: RefCell::default(),
        }
    }

    /// Adds an answer at the end of the script.
    /// ```
    /// use switchboard_sdk::testing::{FakeTransport, response};
    ///
    /// let transport = FakeTransport::default();
    /// transport.push(Ok(response(204, "")));
    /// assert_eq!(transport.remaining(), 1);
    /// ```
    pub fn push(&self, answer: Result<HttpResponse, HttpError>) {
        self.answers.borrow_mut().push_back(answer);
    }

    /// Every request sent so far.
    pub fn sent(&self) -> Vec<HttpRequest> {
        /// ```
        /// use switchboard_sdk::http::Request;
        /// use switchboard_sdk::testing::{FakeTransport, response};
        ///
        /// let transport = FakeTransport::new([Ok(response(200, "")), Ok(response(200, ""))]);
        /// for page in ["1", "2"] {
        ///     Request::get("https://api.example.com/v1/list").query(&[("page", page)]).send_with(&transport)?;
        /// }
        /// let urls: Vec<String> = transport.sent().into_iter().map(|r| r.url).collect();
        /// assert_eq!(urls, ["https://api.example.com/v1/list?page=1", "https://api.example.com/v1/list?page=2"]);
        /// # Ok::<(), switchboard_sdk::http::RequestError>(())
        /// ```
        self.sent.borrow().clone()
    }

    /// The one request sent at `index` (panics if there is none).
    /// ```
    /// use switchboard_sdk::http::Request;
    /// use switchboard_sdk::testing::{FakeTransport, header, response};
    ///
    /// let transport = FakeTransport::new([Ok(response(200, ""))]);
    /// Request::get("https://api.example.com/v1/me").bearer_auth("t-1").send_with(&transport)?;
    /// assert_eq!(header(&transport.request(0), "authorization"), Some("Bearer t-1"));
    /// # Ok::<(), switchboard_sdk::http::RequestError>(())
    /// ```
    pub fn request(&self, index: usize) -> HttpRequest {
        let sent = self.sent.borrow();
        sent.get(index)
            .cloned()
            .unwrap_or_else(|| panic!("no request #{index}; {} were sent", sent.len()))
    }

    /// Answers not used yet.
    /// ```
    /// use switchboard_sdk::http::Request;
    /// use switchboard_sdk::testing::{FakeTransport, response};
    ///
    /// let transport = FakeTransport::new([Ok(response(200, "")), Ok(response(200, ""))]);
    /// Request::get("https://api.example.com/v1/me").send_with(&transport)?;
    /// // The plugin made one request where the test scripted two.
    /// assert_eq!(transport.remaining(), 1);
    /// # Ok::<(), switchboard_sdk::http::RequestError>(())
    /// ```
    pub fn remaining(&self) -> usize {
        self.answers.borrow().len()
    }
}

impl Transport for FakeTransport {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        self.sent.borrow_mut().push(request.clone());
        self.answers
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected request {} {}", request.method, request.url))
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use fake_host::{FakeHost, LogRecord};

#[cfg(not(target_arch = "wasm32"))]
mod fake_host {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use super::FakeTransport;
    use crate::http::Transport;
    use crate::log::Level;
    use crate::native::{self, NativeHost};
    use crate::types::{HttpError, HttpRequest, HttpResponse, KeyValue};

    /// One record a plugin logged.
    #[derive(Debug, Clone)]
    /// ```
    /// use switchboard_sdk::log::{self, Level};
    /// use switchboard_sdk::testing::FakeHost;
    ///
    /// let host = FakeHost::install();
    /// log::warn("retrying", &[("attempt", "2")]);
    /// let record = &host.logs()[0];
    /// assert!(matches!(record.level, Level::Warn));
    /// assert_eq!(record.fields, [("attempt".to_owned(), "2".to_owned())]);
    /// ```
    pub struct LogRecord {
        /// Severity.
        pub level: Level,
        /// The message.
        pub message: String,
        /// Structured fields, in order.
        pub fields: Vec<(String, String)>,
    }

    #[derive(Default)]
    struct State {
        transport: FakeTransport,
        now_ms: Cell<Option<u64>>,
        logs: RefCell<Vec<LogRecord>>,
    }

    impl NativeHost for State {
        fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
            self.transport.send(request)
        }

        fn now_ms(&self) -> Option<u64> {
            self.now_ms.get()
        }

        fn log(&self, level: Level, message: &str, fields: &[KeyValue]) {
            self.logs.borrow_mut().push(LogRecord {
                level,
                message: message.to_owned(),
                fields: fields
                    .iter()
                    .map(|kv| (kv.key.clone(), kv.value.clone()))
                    .collect(),
            });
        }
    }

    /// The host's imports faked on the current thread, until dropped: HTTP
    /// answers from a script ([`FakeHost::answer`]), the clock reads what
    /// the test set (the system clock until then), logs are recorded.
    /// Tests run on separate threads, so each test installs its own.
    /// ```
    /// use switchboard_sdk::http::{Request, request, send};
    /// use switchboard_sdk::testing::{FakeHost, ok_json};
    ///
    /// let host = FakeHost::with_answers([ok_json(serde_json::json!({"ok": true}))]);
    /// host.set_now_ms(1_700_000_000_000);
    /// // Code that calls the host's imports directly runs unchanged.
    /// let answer = send(&request("GET", "https://api.example.com/v1/ping", &[], vec![])).unwrap();
    /// assert_eq!(answer.status, 200);
    /// assert_eq!(switchboard_sdk::now_ms(), 1_700_000_000_000);
    /// drop(host);
    /// // Without a fake host, `send` panics and says how to install one.
    /// assert!(std::panic::catch_unwind(|| Request::get("https://api.example.com").send()).is_err());
    /// ```
    pub struct FakeHost {
        state: Rc<State>,
    }

    impl FakeHost {
        /// Installs a fake host on this thread (panics if one is installed).
        /// ```
        /// use switchboard_sdk::testing::FakeHost;
        ///
        /// let host = FakeHost::install();
        /// assert!(host.sent().is_empty());
        /// ```
        pub fn install() -> Self {
            let state = Rc::new(State::default());
            assert!(
                native::install(state.clone()),
                "a FakeHost is already installed on this thread"
            );
            Self { state }
        }

        /// Installs one whose HTTP answers are `answers`, in order.
        /// ```
        /// use switchboard_sdk::testing::{FakeHost, ok_json};
        ///
        /// let host = FakeHost::with_answers([ok_json(serde_json::json!({"id": 1})), ok_json(serde_json::json!({"id": 2}))]);
        /// assert_eq!(host.transport().remaining(), 2);
        /// ```
        pub fn with_answers(answers: impl IntoIterator<Item = Result<HttpResponse, HttpError>>) -> Self {
            let host = Self::install();
            for answer in answers {
                host.answer(answer);
            }
            host
        }

        /// Adds an answer at the end of the HTTP script.
        /// ```
        /// use switchboard_sdk::testing::{FakeHost, failure};
        /// use switchboard_sdk::types::HttpErrorCode;
        ///
        /// let host = FakeHost::install();
        /// host.answer(failure(HttpErrorCode::Denied, "origin not allowed"));
        /// let error = switchboard_sdk::http::Request::get("http://127.0.0.1:9000/v1").send().unwrap_err();
        /// assert!(!error.is_retryable());
        /// ```
        pub fn answer(&self, answer: Result<HttpResponse, HttpError>) {
            self.state.transport.push(answer);
        }

        /// The scripted transport behind `http::send`.
        /// ```
        /// use switchboard_sdk::testing::{FakeHost, response};
        ///
        /// let host = FakeHost::install();
        /// host.transport().push(Ok(response(200, "")));
        /// assert_eq!(host.transport().remaining(), 1);
        /// ```
        pub fn transport(&self) -> &FakeTransport {
            &self.state.transport
        }

        /// Every request sent so far.
        /// ```
        /// use switchboard_sdk::http::Request;
        /// use switchboard_sdk::testing::{FakeHost, response};
        ///
        /// let host = FakeHost::with_answers([Ok(response(200, ""))]);
        /// Request::delete("https://api.example.com/v1/hooks/1").send()?;
        /// assert_eq!(host.sent()[0].method, "DELETE");
        /// # Ok::<(), switchboard_sdk::http::RequestError>(())
        /// ```
        pub fn sent(&self) -> Vec<HttpRequest> {
            self.state.transport.sent()
        }

        /// The one request sent at `index`.
        /// ```
        /// use switchboard_sdk::http::Request;
        /// use switchboard_sdk::testing::{FakeHost, form_body, response};
        ///
        /// let host = FakeHost::with_answers([Ok(response(200, ""))]);
        /// Request::post("https://api.example.com/oauth/token").form(&[("grant_type", "client_credentials")]).send()?;
        /// assert_eq!(form_body(&host.request(0)), [("grant_type".to_owned(), "client_credentials".to_owned())]);
        /// # Ok::<(), switchboard_sdk::http::RequestError>(())
        /// ```
        pub fn request(&self, index: usize) -> HttpRequest {
            self.state.transport.request(index)
        }

        /// Sets the clock (unix milliseconds).
        /// ```
        /// use switchboard_sdk::testing::FakeHost;
        ///
        /// let host = FakeHost::install();
        /// host.set_now_ms(1_767_225_600_000);
        /// assert_eq!(switchboard_sdk::now_secs(), 1_767_225_600);
        /// ```
        pub fn set_now_ms(&self, now_ms: u64) {
            self.state.now_ms.set(Some(now_ms));
        }

        /// Everything logged so far.
        /// ```
        /// use switchboard_sdk::testing::FakeHost;
        ///
        /// let host = FakeHost::install();
        /// switchboard_sdk::log::info("sent", &[("message_id", "m-1")]);
        /// assert_eq!(host.logs()[0].message, "sent");
        /// ```
        pub fn logs(&self) -> Vec<LogRecord> {
            self.state.logs.borrow().clone()
        }
    }

    impl Drop for FakeHost {
        fn drop(&mut self) {
            native::uninstall();
        }
    }
}

/// An HTTP response with a body and no headers.
/// ```
/// use switchboard_sdk::testing::response;
///
/// let answer = response(503, "try later");
/// assert_eq!((answer.status, answer.text()), (503, "try later".to_owned()));
/// ```
pub fn response(status: u16, body: impl Into<Vec<u8>>) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![],
        body: body.into(),
    }
}

/// A response with a JSON body and `Content-Type: application/json`.
/// ```
/// use switchboard_sdk::testing::json_response;
///
/// let answer = json_response(400, &serde_json::json!({"error": "no such user"}));
/// assert_eq!(answer.content_type().as_deref(), Some("application/json"));
/// ```
pub fn json_response(status: u16, body: &Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![Header::new("Content-Type", "application/json")],
        body: serde_json::to_vec(body).expect("a JSON value serialises"),
    }
}

/// A 200 answer with a JSON body, as a transport answers it.
/// ```
/// use switchboard_sdk::testing::ok_json;
///
/// let answer = ok_json(serde_json::json!({"id": "out-1"})).unwrap();
/// assert_eq!(answer.status, 200);
/// ```
pub fn ok_json(body: Value) -> Result<HttpResponse, HttpError> {
    Ok(json_response(200, &body))
}

/// A request the host could not deliver, as a transport answers it.
/// ```
/// use switchboard_sdk::testing::failure;
/// use switchboard_sdk::types::HttpErrorCode;
///
/// let answer = failure(HttpErrorCode::ConnectionFailed, "connection refused");
/// assert!(answer.is_err());
/// ```
pub fn failure(code: HttpErrorCode, message: &str) -> Result<HttpResponse, HttpError> {
    Err(HttpError {
        code,
        message: message.into(),
    })
}

/// A header value of a request (case-insensitive).
/// ```
/// use switchboard_sdk::http::Request;
/// use switchboard_sdk::testing::header;
///
/// let request = Request::get("https://api.example.com").header("Idempotency-Key", "key-1").build();
/// assert_eq!(header(&request, "idempotency-key"), Some("key-1"));
/// ```
pub fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    crate::http::header(&request.headers, name)
}

/// A request's body as JSON (panics if it is not JSON).
/// ```
/// use switchboard_sdk::http::Request;
/// use switchboard_sdk::testing::json_body;
///
/// let request = Request::post("https://api.example.com").json(&serde_json::json!({"to": "u-1"}))?.build();
/// assert_eq!(json_body(&request)["to"], "u-1");
/// # Ok::<(), switchboard_sdk::http::RequestError>(())
/// ```
pub fn json_body(request: &HttpRequest) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

/// A request's form (or query) body as pairs.
/// ```
/// use switchboard_sdk::http::Request;
/// use switchboard_sdk::testing::form_body;
///
/// let request = Request::post("https://api.example.com").form(&[("a", "1 2")]).build();
/// assert_eq!(form_body(&request), [("a".to_owned(), "1 2".to_owned())]);
/// ```
pub fn form_body(request: &HttpRequest) -> Vec<(String, String)> {
    crate::http::decode_query(&String::from_utf8_lossy(&request.body))
}

/// A key-value pair.
/// ```
/// use switchboard_sdk::testing::kv;
///
/// assert_eq!(kv("code", "abc").value, "abc");
/// ```
pub fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue::new(key, value)
}

/// A header.
/// ```
/// use switchboard_sdk::testing::http_header;
///
/// assert_eq!(http_header("X-Signature", "sha256=00").name, "X-Signature");
/// ```
pub fn http_header(name: &str, value: &str) -> Header {
    Header::new(name, value)
}

/// Settings with these config values and secrets.
/// ```
/// use switchboard_sdk::testing::settings;
///
/// let settings = settings(&[("api_base", "http://127.0.0.1:9000")], &[("api_token", "token-1")]);
/// assert_eq!(settings.required_secret("api_token").unwrap(), "token-1");
/// ```
pub fn settings(config: &[(&str, &str)], secrets: &[(&str, &str)]) -> Settings {
    Settings {
        config: config.iter().map(|(k, v)| kv(k, v)).collect(),
        secrets: secrets.iter().map(|(k, v)| kv(k, v)).collect(),
    }
}

/// Credentials with an access token and nothing else.
/// ```
/// use switchboard_sdk::testing::credentials;
///
/// // A channel without an authorization step gets no credentials on a live
/// // server: test it with empty ones.
/// let none = credentials("");
/// assert!(none.access_token.is_empty() && none.refresh_token.is_none());
/// ```
pub fn credentials(access_token: &str) -> Credentials {
    Credentials {
        access_token: access_token.into(),
        refresh_token: None,
        expires_at_ms: None,
        refresh_expires_at_ms: None,
        extra: vec![],
    }
}

/// The context of a call about account `external_id`.
/// ```
/// use switchboard_sdk::testing::{context, credentials, settings};
///
/// let context = context(settings(&[], &[("api_token", "t")]), "acct-1", credentials(""));
/// assert_eq!(context.external_id, "acct-1");
/// ```
pub fn context(settings: Settings, external_id: &str, credentials: Credentials) -> ChannelContext {
    ChannelContext {
        settings,
        external_id: external_id.into(),
        credentials,
    }
}

/// A text message to `conversation_id` (also the recipient), with
/// idempotency key `key-1`.
/// ```
/// use switchboard_sdk::testing::text_message;
///
/// let message = text_message("u-1", "Hi!");
/// // As on a live server: the recipient is the conversation's id.
/// assert_eq!((message.conversation_id.as_str(), message.recipient_id.as_str()), ("u-1", "u-1"));
/// ```
pub fn text_message(conversation_id: &str, text: &str) -> OutboundMessage {
    OutboundMessage {
        conversation_id: conversation_id.into(),
        recipient_id: conversation_id.into(),
        text: Some(text.into()),
        attachments: vec![],
        reply_to: None,
        idempotency_key: "key-1".into(),
    }
}

/// A webhook request as the host passes it: `method` on `path` (which may
/// carry `?query`), with these headers and body.
/// ```
/// use switchboard_sdk::testing::incoming;
///
/// let request = incoming("get", "/webhooks/acme-chat?challenge=c-1", &[("x-signature", "sha256=00")], "");
/// assert_eq!((request.method.as_str(), request.path.as_str()), ("GET", "/webhooks/acme-chat"));
/// assert_eq!(request.query_param("challenge").as_deref(), Some("c-1"));
/// ```
pub fn incoming(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Vec<u8>>,
) -> IncomingRequest {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    IncomingRequest {
        method: method.to_ascii_uppercase(),
        path: path.into(),
        query: query.into(),
        headers: headers.iter().map(|(n, v)| http_header(n, v)).collect(),
        body: body.into(),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::http::Request;
    use crate::types::ErrorCode;

    #[test]
    fn a_fake_transport_answers_in_order_and_records() {
        let transport = FakeTransport::new([ok_json(serde_json::json!({"n": 1}))]);
        transport.push(failure(HttpErrorCode::Timeout, "slow"));
        assert_eq!(transport.remaining(), 2);
        let first = Request::get("https://x.test/1").send_with(&transport).unwrap();
        assert_eq!(first.json::<Value>().unwrap()["n"], 1);
        let second = Request::get("https://x.test/2")
            .send_with(&transport)
            .unwrap_err();
        assert_eq!(crate::types::ChannelError::from(second).code, ErrorCode::Network);
        assert_eq!(transport.sent().len(), 2);
        assert_eq!(transport.request(1).url, "https://x.test/2");
    }

    #[test]
    #[should_panic(expected = "unexpected request GET https://x.test/")]
    fn a_request_beyond_the_script_panics() {
        let transport = FakeTransport::new([]);
        let _ = Request::get("https://x.test/").send_with(&transport);
    }

    #[test]
    fn a_fake_host_stands_behind_the_imports() {
        let host = FakeHost::with_answers([ok_json(serde_json::json!({"id": "m-1"}))]);
        host.set_now_ms(1234);
        assert_eq!(crate::now_ms(), 1234);
        assert_eq!(crate::now_secs(), 1);
        let answer = Request::post("https://x.test").json(&1).unwrap().send().unwrap();
        assert_eq!(answer.json::<Value>().unwrap()["id"], "m-1");
        assert_eq!(json_body(&host.request(0)), serde_json::json!(1));
        crate::log::warn("careful", &[("k", "v")]);
        let logs = host.logs();
        assert_eq!(logs.len(), 1);
        assert_eq!(
            (logs[0].message.as_str(), logs[0].fields[0].1.as_str()),
            ("careful", "v")
        );
        drop(host);
        // Uninstalled with the guard: another can be installed.
        let again = FakeHost::install();
        assert!(again.sent().is_empty());
    }

    #[test]
    fn builders_make_what_tests_need() {
        let request = incoming("get", "/webhooks/x?challenge=abc", &[("X-A", "1")], Vec::new());
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("GET", "/webhooks/x")
        );
        assert_eq!(request.query_param("challenge").as_deref(), Some("abc"));
        assert_eq!(request.header("x-a"), Some("1"));
        let settings = settings(&[("url", "https://x.test")], &[("token", "t")]);
        assert_eq!(settings.secret("token"), Some("t"));
        let context = context(settings, "acct", credentials("at"));
        assert_eq!(
            (
                context.external_id.as_str(),
                context.credentials.access_token.as_str()
            ),
            ("acct", "at")
        );
        let message = text_message("conv", "hi");
        assert_eq!(
            (message.recipient_id.as_str(), message.text.as_deref()),
            ("conv", Some("hi"))
        );
        let form = Request::post("https://x.test").form(&[("a", "1 2")]).build();
        assert_eq!(form_body(&form), [("a".to_owned(), "1 2".to_owned())]);
        assert_eq!(response(204, Vec::new()).status, 204);
    }
}
