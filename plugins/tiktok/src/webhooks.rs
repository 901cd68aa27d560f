//! Registering the webhook callback with TikTok (contract 0.2.0's
//! `webhooks`).
//!
//! TikTok keeps one callback URL per app and event type, set through the
//! Business API with the app's id and secret rather than in the developer
//! portal. The host calls `register-webhook` with its `/webhooks/tiktok` URL;
//! deliveries then reach every connected account's inbox, routed by
//! `user_openid`.

use serde::Serialize;
use serde_json::Value;
use switchboard_sdk::http::Request;
use switchboard_sdk::types::{ChannelError, KeyValue, WebhookRegistration};

use crate::api::{self, Transport};
use crate::config::Config;

/// The only event type the channel subscribes to.
const EVENT_TYPE: &str = "DIRECT_MESSAGE";

#[derive(Serialize)]
struct Update<'a> {
    app_id: &'a str,
    secret: &'a str,
    event_type: &'static str,
    callback_url: &'a str,
}

/// Points the app's `DIRECT_MESSAGE` callback at `callback_url` and answers
/// the registration now in effect.
pub fn register_webhook(
    config: &Config,
    callback_url: &str,
    transport: &impl Transport,
) -> Result<WebhookRegistration, ChannelError> {
    let request = api::post_json(
        &config.api_url("/business/webhook/update/"),
        None,
        &Update {
            app_id: &config.app_id,
            secret: &config.app_secret,
            event_type: EVENT_TYPE,
            callback_url,
        },
    );
    let answer: Value = api::call(transport, request)?;
    // TikTok's answer to an update is not documented in what we have; when
    // it echoes the registration that wins, otherwise what TikTok accepted
    // is what was sent (one request instead of a second read).
    Ok(registration(config, &answer, Some(callback_url)))
}

/// Reads the app's current `DIRECT_MESSAGE` callback.
pub fn current_webhook(
    config: &Config,
    transport: &impl Transport,
) -> Result<WebhookRegistration, ChannelError> {
    // The secret travels in the query: that is how TikTok's endpoint takes
    // it. `api` keeps queries out of error messages for that reason.
    let request = Request::get(config.api_url("/business/webhook/list/"))
        .query(&[
            ("app_id", &config.app_id),
            ("secret", &config.app_secret),
            ("event_type", EVENT_TYPE),
        ])
        .header("Accept", "application/json");
    // Assumed answer (the reference integration passes TikTok's JSON through
    // without reading it): `data` = {"app_id": "…", "event_type":
    // "DIRECT_MESSAGE", "callback_url": "…"}; an empty or absent
    // `callback_url` means nothing is registered.
    let answer: Value = api::call(transport, request)?;
    Ok(registration(config, &answer, None))
}

/// A registration from TikTok's `data`, falling back to what was sent.
fn registration(config: &Config, data: &Value, sent_callback_url: Option<&str>) -> WebhookRegistration {
    let field = |key: &str| data.get(key).and_then(Value::as_str).filter(|v| !v.is_empty());
    let detail = KeyValue::new;
    WebhookRegistration {
        callback_url: field("callback_url").or(sent_callback_url).map(str::to_owned),
        details: vec![
            detail("event_type", field("event_type").unwrap_or(EVENT_TYPE)),
            detail("app_id", field("app_id").unwrap_or(&config.app_id)),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeTransport, config, envelope, header, json_body, ok};
    use serde_json::json;
    use switchboard_sdk::types::ErrorCode;

    fn details(registration: &WebhookRegistration) -> Vec<(&str, &str)> {
        registration
            .details
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str()))
            .collect()
    }

    #[test]
    fn registering_posts_the_app_credentials_and_the_callback() {
        let transport = FakeTransport::new([ok(json!(null))]);
        let registration =
            register_webhook(&config(), "https://sb.example/webhooks/tiktok", &transport).unwrap();
        let request = transport.request(0);
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.url,
            "https://business-api.tiktok.com/open_api/v1.3/business/webhook/update/"
        );
        assert_eq!(header(&request, "content-type"), Some("application/json"));
        assert_eq!(
            json_body(&request),
            json!({
                "app_id": "app-1",
                "secret": "secret-1",
                "event_type": "DIRECT_MESSAGE",
                "callback_url": "https://sb.example/webhooks/tiktok",
            })
        );
        assert_eq!(
            registration.callback_url.as_deref(),
            Some("https://sb.example/webhooks/tiktok")
        );
        assert_eq!(
            details(&registration),
            [("event_type", "DIRECT_MESSAGE"), ("app_id", "app-1")]
        );
    }

    #[test]
    fn reading_asks_for_the_direct_message_callback() {
        let transport = FakeTransport::new([ok(json!({
            "app_id": "app-1",
            "event_type": "DIRECT_MESSAGE",
            "callback_url": "https://old.example/webhooks/tiktok",
        }))]);
        let registration = current_webhook(&config(), &transport).unwrap();
        let request = transport.request(0);
        assert_eq!(request.method, "GET");
        assert_eq!(
            request.url,
            "https://business-api.tiktok.com/open_api/v1.3/business/webhook/list/\
             ?app_id=app-1&secret=secret-1&event_type=DIRECT_MESSAGE"
        );
        assert_eq!(
            registration.callback_url.as_deref(),
            Some("https://old.example/webhooks/tiktok")
        );
        assert_eq!(
            details(&registration),
            [("event_type", "DIRECT_MESSAGE"), ("app_id", "app-1")]
        );
    }

    #[test]
    fn nothing_registered_reads_as_no_callback() {
        let transport = FakeTransport::new([ok(json!({"callback_url": ""})), ok(json!(null))]);
        assert_eq!(current_webhook(&config(), &transport).unwrap().callback_url, None);
        assert_eq!(current_webhook(&config(), &transport).unwrap().callback_url, None);
    }

    #[test]
    fn a_refused_registration_reports_tiktoks_error() {
        let transport = FakeTransport::new([Ok(envelope(40001, "invalid secret", json!(null)))]);
        let error =
            register_webhook(&config(), "https://sb.example/webhooks/tiktok", &transport).unwrap_err();
        assert_eq!(
            (error.code, error.retryable),
            (ErrorCode::ProviderRejected, false)
        );
        assert_eq!(error.message, "40001: invalid secret");
    }
}
