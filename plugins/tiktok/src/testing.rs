//! Test helpers: the SDK's test kit (a scripted transport that records what
//! the plugin sent, response and request helpers) plus TikTok's envelope and
//! the settings and context the tests share.

use serde_json::Value;
pub use switchboard_sdk::testing::{FakeTransport, header, http_header, json_body, kv, response};
use switchboard_sdk::types::{ChannelContext, Credentials, HttpError, HttpResponse, Settings};

use crate::config::Config;

/// A 200 answer carrying TikTok's envelope.
pub fn envelope(code: i64, message: &str, data: Value) -> HttpResponse {
    let body = serde_json::json!({"code": code, "message": message, "request_id": "req-1", "data": data});
    response(200, serde_json::to_vec(&body).unwrap())
}

/// A successful envelope around `data`.
pub fn ok(data: Value) -> Result<HttpResponse, HttpError> {
    Ok(envelope(0, "OK", data))
}

/// Settings pointing at TikTok's real URLs.
pub fn settings() -> Settings {
    switchboard_sdk::testing::settings(&[("app_id", "app-1")], &[("app_secret", "secret-1")])
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
