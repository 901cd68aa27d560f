//! Replies: one JSON `POST` to `outbound_url` per message, with the
//! idempotency key as a header, signed when `outbound_secret` is set; and
//! the receiver's answer read into the host's terms.

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use switchboard_sdk::http::{Request, Transport, status_error, status_text};
use switchboard_sdk::types::{
    ChannelContext, ChannelError, DeliveryStatus, ErrorCode, HttpResponse, OutboundMessage, SentMessage,
    Settings,
};

use crate::{PLUGIN_ID, SIGNATURE};

/// What the receiver is called in error messages.
const RECEIVER: &str = "the API channel's receiver";

#[derive(Serialize)]
struct Reply<'a> {
    account_id: &'a str,
    conversation_id: &'a str,
    recipient_id: &'a str,
    text: Option<&'a str>,
    attachments: Vec<Attachment<'a>>,
    reply_to: Option<&'a str>,
    idempotency_key: &'a str,
}

#[derive(Serialize)]
struct Attachment<'a> {
    kind: &'static str,
    file_name: &'a str,
    mime_type: &'a str,
    data_base64: Base64<'a>,
}

/// Bytes serialised as a base64 string straight into the body: a 10 MiB
/// attachment is not also held as a 13 MiB `String` (the call's memory is
/// capped).
struct Base64<'a>(&'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&Base64Display::new(self.0, &STANDARD))
    }
}

/// The `POST` of `message` from account `account_id`, signed at `now_secs`
/// when `outbound_secret` is set.
pub fn request(
    settings: &Settings,
    account_id: &str,
    message: &OutboundMessage,
    now_secs: u64,
) -> Result<Request, ChannelError> {
    let url = settings.required_config("outbound_url")?;
    let scheme_ok = ["https://", "http://"].iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    });
    if !scheme_ok {
        return Err(ChannelError::invalid_request(format!(
            "the setting `outbound_url` must be an http(s) URL, not {url:?}"
        )));
    }
    let reply = Reply {
        account_id,
        conversation_id: &message.conversation_id,
        recipient_id: &message.recipient_id,
        text: message.text.as_deref().filter(|t| !t.is_empty()),
        attachments: message
            .attachments
            .iter()
            .map(|a| Attachment {
                kind: a.kind.as_str(),
                file_name: &a.file_name,
                mime_type: &a.mime_type,
                data_base64: Base64(&a.data),
            })
            .collect(),
        reply_to: message.reply_to.as_deref().filter(|id| !id.is_empty()),
        idempotency_key: &message.idempotency_key,
    };
    // Sized up front so the body is allocated once.
    let estimate = 512
        + message.text.as_ref().map_or(0, |t| t.len() * 2)
        + message
            .attachments
            .iter()
            .map(|a| a.data.len().div_ceil(3) * 4 + (a.file_name.len() + a.mime_type.len()) * 2 + 96)
            .sum::<usize>();
    let mut body = Vec::with_capacity(estimate);
    serde_json::to_writer(&mut body, &reply)
        .map_err(|e| ChannelError::internal(format!("cannot encode the reply: {e}")))?;
    let mut request = Request::post(url)
        .header("Accept", "application/json")
        .header("Idempotency-Key", &message.idempotency_key);
    if let Some(secret) = settings.secret_value("outbound_secret") {
        request = request.header(
            SIGNATURE.header,
            SIGNATURE.sign(secret.as_bytes(), now_secs, &body),
        );
    }
    Ok(request.body("application/json", body))
}

/// `send-message`: posts the reply and reads the answer.
pub fn send_message(
    context: &ChannelContext,
    message: &OutboundMessage,
    transport: &impl Transport,
    now_secs: u64,
) -> Result<SentMessage, ChannelError> {
    let request = request(&context.settings, &context.external_id, message, now_secs)?;
    let response = request
        .send_with(transport)
        .map_err(|e| e.into_channel_error(PLUGIN_ID, RECEIVER))?;
    read_answer(&response)
}

#[derive(Deserialize)]
struct Accepted {
    message_id: Option<Value>,
    status: Option<String>,
}

/// A 2xx answer is `{"message_id", "status"?}`; anything else is an error:
/// 429 and 5xx retryable (with `Retry-After`), other statuses permanent,
/// worded `"<status>: <error>"` with the body's `error` (or `message`), else
/// the status text.
pub fn read_answer(response: &HttpResponse) -> Result<SentMessage, ChannelError> {
    if !response.is_success() {
        let reason = serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|body| {
                ["error", "message"]
                    .iter()
                    .find_map(|key| body.get(key).and_then(Value::as_str).map(str::to_owned))
            })
            .map(|reason| reason.trim().chars().take(300).collect::<String>())
            .filter(|reason| !reason.is_empty())
            .unwrap_or_else(|| status_text(response.status).to_owned());
        let message = format!("{}: {reason}", response.status)
            .trim_end_matches(": ")
            .to_owned();
        return Err(status_error(response.status, message).with_retry_after_ms(response.retry_after_ms()));
    }
    let rejected = |why: String| ChannelError::permanent(ErrorCode::ProviderRejected, why);
    let accepted: Accepted = serde_json::from_slice(&response.body).map_err(|e| {
        rejected(format!(
            "{RECEIVER} answered {} without the JSON `{{\"message_id\": …}}` ({e})",
            response.status
        ))
    })?;
    let message_id = match accepted.message_id {
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(rejected(format!(
                "{RECEIVER} answered {} without a `message_id`",
                response.status
            )));
        }
    };
    let status = match accepted.status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("delivered") => DeliveryStatus::Delivered,
        Some("read") => DeliveryStatus::Read,
        _ => DeliveryStatus::Sent,
    };
    Ok(SentMessage { message_id, status })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use switchboard_sdk::testing::{
        FakeTransport, context, credentials, failure, header, json_body, json_response, ok_json, response,
        settings, text_message,
    };
    use switchboard_sdk::types::{AttachmentKind, HttpErrorCode, OutboundAttachment};

    const NOW: u64 = 1_700_000_000;

    fn configured(outbound_secret: Option<&str>) -> ChannelContext {
        let mut secrets = vec![("signing_secret", "in")];
        secrets.extend(outbound_secret.map(|s| ("outbound_secret", s)));
        context(
            settings(&[("outbound_url", "https://crm.example/replies")], &secrets),
            "acct-1",
            credentials(""),
        )
    }

    fn with_files() -> OutboundMessage {
        OutboundMessage {
            reply_to: Some("in-1".into()),
            idempotency_key: "message-42".into(),
            attachments: vec![
                OutboundAttachment {
                    kind: AttachmentKind::Image,
                    file_name: "a\"b.png".into(),
                    mime_type: "image/png".into(),
                    data: b"\x89PNG-bytes".to_vec(),
                },
                OutboundAttachment {
                    kind: AttachmentKind::File,
                    file_name: "notes.txt".into(),
                    mime_type: "text/plain".into(),
                    data: Vec::new(),
                },
            ],
            ..text_message("conv-1", "Here you go")
        }
    }

    #[test]
    fn a_reply_is_posted_as_json_with_its_idempotency_key() {
        let transport = FakeTransport::new([ok_json(json!({"message_id": "crm-1"}))]);
        let sent = send_message(&configured(None), &with_files(), &transport, NOW).unwrap();
        assert_eq!(
            (sent.message_id.as_str(), sent.status),
            ("crm-1", DeliveryStatus::Sent)
        );
        let request = transport.request(0);
        assert_eq!(
            (request.method.as_str(), request.url.as_str()),
            ("POST", "https://crm.example/replies")
        );
        assert_eq!(header(&request, "content-type"), Some("application/json"));
        assert_eq!(header(&request, "accept"), Some("application/json"));
        assert_eq!(header(&request, "idempotency-key"), Some("message-42"));
        assert_eq!(
            header(&request, "x-switchboard-signature"),
            None,
            "no outbound_secret, no signature"
        );
        assert_eq!(
            json_body(&request),
            json!({
                "account_id": "acct-1",
                "conversation_id": "conv-1",
                "recipient_id": "conv-1",
                "text": "Here you go",
                "attachments": [
                    {"kind": "image", "file_name": "a\"b.png", "mime_type": "image/png",
                     "data_base64": "iVBORy1ieXRlcw=="},
                    {"kind": "file", "file_name": "notes.txt", "mime_type": "text/plain", "data_base64": ""},
                ],
                "reply_to": "in-1",
                "idempotency_key": "message-42",
            })
        );
    }

    #[test]
    fn with_an_outbound_secret_the_reply_is_signed() {
        let transport = FakeTransport::new([ok_json(json!({"message_id": 77, "status": "Delivered"}))]);
        let sent = send_message(
            &configured(Some(" out ")),
            &text_message("c", "hi"),
            &transport,
            NOW,
        )
        .unwrap();
        assert_eq!(
            (sent.message_id.as_str(), sent.status),
            ("77", DeliveryStatus::Delivered)
        );
        let request = transport.request(0);
        let signature = header(&request, "x-switchboard-signature").unwrap();
        assert!(signature.starts_with(&format!("t={NOW},v1=")), "{signature}");
        assert_eq!(
            SIGNATURE.verify(b"out", Some(signature), &request.body, NOW + 1),
            Ok(NOW)
        );
        let body = json_body(&request);
        assert_eq!(
            (body["text"].clone(), body["reply_to"].clone()),
            (json!("hi"), Value::Null)
        );
        assert_eq!(body["attachments"], json!([]));
    }

    #[test]
    fn failures_are_retryable_or_not_by_status() {
        let mut busy = json_response(503, &json!({"error": "maintenance"}));
        busy.headers
            .push(switchboard_sdk::testing::http_header("Retry-After", "30"));
        let transport = FakeTransport::new([
            Ok(busy),
            Ok(response(429, Vec::new())),
            Ok(json_response(422, &json!({"error": "unknown conversation"}))),
            Ok(json_response(400, &json!({"message": "bad"}))),
            Ok(response(404, b"<html>Not here</html>".to_vec())),
            Ok(response(301, Vec::new())),
            Ok(response(200, b"OK".to_vec())),
            Ok(json_response(201, &json!({"id": "wrong-field"}))),
            failure(
                HttpErrorCode::Denied,
                "http://127.0.0.1:9 is not an origin this plugin declared",
            ),
            failure(HttpErrorCode::ConnectionFailed, "connection refused"),
        ]);
        let next = || send_message(&configured(None), &text_message("c", "hi"), &transport, NOW).unwrap_err();
        let error = next();
        assert_eq!(
            (error.code, error.retryable),
            (ErrorCode::ProviderUnavailable, true)
        );
        assert_eq!(
            (error.message.as_str(), error.retry_after_ms),
            ("503: maintenance", Some(30_000))
        );
        let error = next();
        assert_eq!((error.code, error.retryable), (ErrorCode::RateLimited, true));
        assert_eq!(error.message, "429: Too Many Requests");
        let error = next();
        assert_eq!(
            (error.code, error.retryable),
            (ErrorCode::ProviderRejected, false)
        );
        assert_eq!(error.message, "422: unknown conversation");
        assert_eq!(next().message, "400: bad");
        assert_eq!(next().message, "404: Not Found");
        let redirect = next();
        assert_eq!(
            (redirect.code, redirect.message.as_str()),
            (ErrorCode::ProviderRejected, "301: Moved Permanently")
        );
        let not_json = next();
        assert_eq!(
            (not_json.code, not_json.retryable),
            (ErrorCode::ProviderRejected, false)
        );
        assert!(
            not_json.message.contains("without the JSON"),
            "{}",
            not_json.message
        );
        assert!(next().message.contains("without a `message_id`"));
        let denied = next();
        assert_eq!((denied.code, denied.retryable), (ErrorCode::Network, false));
        assert!(
            denied
                .message
                .contains("`switchboard plugin grant-host api-channel https://crm.example`"),
            "{}",
            denied.message
        );
        let refused = next();
        assert_eq!((refused.code, refused.retryable), (ErrorCode::Network, true));
    }

    #[test]
    fn the_outbound_url_must_be_configured_and_http() {
        let transport = FakeTransport::new([]);
        let mut context = configured(None);
        context.settings.config.clear();
        let missing = send_message(&context, &text_message("c", "hi"), &transport, NOW).unwrap_err();
        assert_eq!(
            (missing.code, missing.retryable),
            (ErrorCode::InvalidRequest, false)
        );
        assert!(missing.message.contains("`outbound_url`"));
        context.settings.config = vec![switchboard_sdk::testing::kv("outbound_url", "ftp://crm.example")];
        let wrong = send_message(&context, &text_message("c", "hi"), &transport, NOW).unwrap_err();
        assert!(wrong.message.contains("http(s)"), "{}", wrong.message);
        assert!(transport.sent().is_empty());
    }

    #[test]
    fn the_body_is_allocated_once_even_for_large_attachments() {
        let data = vec![7u8; 3 << 20];
        let message = OutboundMessage {
            attachments: vec![OutboundAttachment {
                kind: AttachmentKind::Video,
                file_name: "clip.mp4".into(),
                mime_type: "video/mp4".into(),
                data,
            }],
            ..text_message("c", "")
        };
        let request = request(&configured(None).settings, "a", &message, NOW)
            .unwrap()
            .build();
        assert!(
            request.body.capacity() - request.body.len() < 1024,
            "one allocation, no doubling"
        );
        let body = json_body(&request);
        assert_eq!(body["text"], Value::Null);
        let encoded = body["attachments"][0]["data_base64"].as_str().unwrap();
        assert_eq!(encoded.len(), (3 << 20) / 3 * 4);
    }
}
