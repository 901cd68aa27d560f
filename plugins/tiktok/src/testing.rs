//! Test helpers: a scripted [`Transport`] that records what the plugin sent,
//! and the settings and context the tests share.

use std::cell::RefCell;
use std::collections::VecDeque;

use serde_json::Value;
use switchboard_sdk::types::{
    ChannelContext, Credentials, Header, HttpError, HttpRequest, HttpResponse, KeyValue, Settings,
};

use crate::api::Transport;
use crate::config::Config;

/// Answers requests in order from a script and records them.
#[derive(Default)]
pub struct FakeTransport {
    answers: RefCell<VecDeque<Result<HttpResponse, HttpError>>>,
    sent: RefCell<Vec<HttpRequest>>,
}

impl FakeTransport {
    /// A transport that answers with `answers`, in order.
    pub fn new(answers: impl IntoIterator<Item = Result<HttpResponse, HttpError>>) -> Self {
        Self {
            answers: RefCell::new(answers.into_iter().collect()),
            sent: RefCell::default(),
        }
    }

    /// Every request sent so far.
    pub fn sent(&self) -> Vec<HttpRequest> {
        self.sent.borrow().clone()
    }

    /// The one request sent at `index`.
    pub fn request(&self, index: usize) -> HttpRequest {
        self.sent.borrow()[index].clone()
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

/// An HTTP response with a body and no headers.
pub fn response(status: u16, body: Vec<u8>) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![],
        body,
    }
}

/// A 200 answer carrying TikTok's envelope.
pub fn envelope(code: i64, message: &str, data: Value) -> HttpResponse {
    let body = serde_json::json!({"code": code, "message": message, "request_id": "req-1", "data": data});
    response(200, serde_json::to_vec(&body).unwrap())
}

/// A successful envelope around `data`.
pub fn ok(data: Value) -> Result<HttpResponse, HttpError> {
    Ok(envelope(0, "OK", data))
}

/// A header value of a request (case-insensitive).
pub fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    crate::api::header(&request.headers, name)
}

/// A request's body as JSON.
pub fn json_body(request: &HttpRequest) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

/// A key-value pair.
pub fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

/// A header.
pub fn http_header(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: value.into(),
    }
}

/// Settings pointing at TikTok's real URLs.
pub fn settings() -> Settings {
    Settings {
        config: vec![kv("app_id", "app-1")],
        secrets: vec![kv("app_secret", "secret-1")],
    }
}

/// The configuration of [`settings`].
pub fn config() -> Config {
    Config::from_settings(&settings()).unwrap()
}

/// A connected business account `biz-123` with token `token-123`.
pub fn context() -> ChannelContext {
    ChannelContext {
        settings: settings(),
        external_id: "biz-123".into(),
        credentials: Credentials {
            access_token: "token-123".into(),
            refresh_token: Some("refresh-123".into()),
            expires_at_ms: None,
            refresh_expires_at_ms: None,
            extra: vec![],
        },
    }
}
