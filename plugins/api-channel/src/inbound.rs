//! Inbound webhooks: the signature check, the `?challenge=` handshake, and
//! the JSON events (`message`, `echo`, `status`) turned into the host's.
//!
//! The parser is strict about what it needs (ids, a known status, http(s)
//! attachment URLs: the dashboard shows them as links) and lenient about
//! what it does not (unknown fields are ignored; an unknown attachment kind
//! is stored as a file, its name kept in the attachment's metadata).

use serde::Deserialize;
use serde_json::Value;
use switchboard_sdk::types::{
    AttachmentKind, ChannelError, ChannelEvent, ContactProfile, DeliveryStatus, InboundAttachment,
    IncomingRequest, KeyValue, MessageEvent, OutgoingResponse, Settings, StatusEvent, Verification,
};

use crate::{DEFAULT_ACCOUNT_ID, MAX_ATTACHMENTS, SIGNATURE};

/// Longest id (conversation, contact, message, account), in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Longest handshake challenge, in bytes.
pub const MAX_CHALLENGE_BYTES: usize = 1024;

/// `verify-webhook`: a POST must be signed over its body; a GET is a
/// handshake, signed over the empty body, whose `challenge` is echoed.
pub fn verify(settings: &Settings, request: &IncomingRequest, now_secs: u64) -> Verification {
    let Some(secret) = settings.secret_value("signing_secret") else {
        return Verification::Rejected("the API channel's signing_secret is not configured".into());
    };
    match request.method.to_ascii_uppercase().as_str() {
        "POST" => SIGNATURE.verify_request(secret.as_bytes(), request, now_secs),
        "GET" => {
            let Some(challenge) = request.query_param("challenge") else {
                return Verification::Rejected("a GET is a handshake and needs ?challenge=".into());
            };
            if challenge.is_empty() || challenge.len() > MAX_CHALLENGE_BYTES {
                return Verification::Rejected(format!(
                    "the challenge must be 1 to {MAX_CHALLENGE_BYTES} bytes"
                ));
            }
            if !request.body.is_empty() {
                return Verification::Rejected("a handshake has no body".into());
            }
            match SIGNATURE.verify_request(secret.as_bytes(), request, now_secs) {
                Verification::Accepted => Verification::Challenge(OutgoingResponse::text(200, challenge)),
                refused => refused,
            }
        }
        other => Verification::Rejected(format!(
            "method {other} is neither POST (events) nor GET (handshakes)"
        )),
    }
}

#[derive(Deserialize)]
struct MessageBody {
    conversation_id: String,
    contact: Contact,
    message: Message,
    account_id: Option<String>,
}

#[derive(Deserialize)]
struct Contact {
    id: String,
    name: Option<String>,
    email: Option<String>,
    username: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    id: String,
    text: Option<String>,
    #[serde(default)]
    attachments: Vec<Attachment>,
    sent_at_ms: Option<u64>,
    reply_to: Option<String>,
}

#[derive(Deserialize)]
struct Attachment {
    url: String,
    kind: Option<String>,
    mime_type: Option<String>,
    file_name: Option<String>,
}

#[derive(Deserialize)]
struct StatusBody {
    message_id: String,
    status: String,
    error: Option<String>,
    conversation_id: Option<String>,
    account_id: Option<String>,
}

fn invalid(message: impl Into<String>) -> ChannelError {
    ChannelError::invalid_request(message)
}

/// `parse-event`: one event per body.
pub fn parse_event(settings: &Settings, body: &[u8], now_ms: u64) -> Result<Vec<ChannelEvent>, ChannelError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("the webhook body is not JSON: {e}")))?;
    let kind = match value.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(_) => return Err(invalid("`type` must be a string")),
        None if value.is_object() => return Err(invalid("the webhook body has no `type`")),
        None => return Err(invalid("the webhook body must be a JSON object")),
    };
    let default_account = settings.config_or("account_id", DEFAULT_ACCOUNT_ID);
    let event = match kind.as_str() {
        "message" | "echo" => {
            let body: MessageBody = decode(&kind, value)?;
            let event = message_event(body, default_account, now_ms)?;
            if kind == "echo" {
                ChannelEvent::Echo(event)
            } else {
                ChannelEvent::Message(event)
            }
        }
        "status" => status_event(decode(&kind, value)?, default_account)?,
        other => ChannelEvent::Ignored(format!("unsupported API channel event type `{other}`")),
    };
    Ok(vec![event])
}

fn decode<T: serde::de::DeserializeOwned>(kind: &str, value: Value) -> Result<T, ChannelError> {
    serde_json::from_value(value).map_err(|e| invalid(format!("not a valid `{kind}` event: {e}")))
}

/// A required id: trimmed, not blank, at most [`MAX_ID_BYTES`].
fn id(field: &str, value: &str) -> Result<String, ChannelError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(format!("`{field}` must not be blank")));
    }
    if value.len() > MAX_ID_BYTES {
        return Err(invalid(format!("`{field}` is longer than {MAX_ID_BYTES} bytes")));
    }
    Ok(value.to_owned())
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The account the event belongs to: the body's, else the setting's.
fn account(body_account: Option<String>, default_account: &str) -> Result<String, ChannelError> {
    match non_blank(body_account) {
        Some(account) => id("account_id", &account),
        None => Ok(default_account.to_owned()),
    }
}

fn message_event(
    body: MessageBody,
    default_account: &str,
    now_ms: u64,
) -> Result<MessageEvent, ChannelError> {
    let message = body.message;
    let text = message.text.filter(|t| !t.trim().is_empty());
    if text.is_none() && message.attachments.is_empty() {
        return Err(invalid("a message needs `text` or `attachments`"));
    }
    if message.attachments.len() > MAX_ATTACHMENTS as usize {
        return Err(invalid(format!(
            "a message carries at most {MAX_ATTACHMENTS} attachments"
        )));
    }
    let attachments = message
        .attachments
        .into_iter()
        .map(attachment)
        .collect::<Result<Vec<_>, _>>()?;
    let contact = body.contact;
    // The contract has no e-mail field: an e-mail names a contact without a name.
    let name = non_blank(contact.name).or_else(|| non_blank(contact.email));
    Ok(MessageEvent {
        channel_external_id: account(body.account_id, default_account)?,
        conversation_id: id("conversation_id", &body.conversation_id)?,
        contact: ContactProfile {
            external_id: id("contact.id", &contact.id)?,
            name,
            username: non_blank(contact.username),
            avatar_url: non_blank(contact.avatar_url)
                .map(|url| http_url("contact.avatar_url", url))
                .transpose()?,
        },
        message_id: id("message.id", &message.id)?,
        sent_at_ms: message.sent_at_ms.unwrap_or(now_ms),
        text,
        attachments,
        reply_to: non_blank(message.reply_to),
        unsupported: None,
    })
}

/// An absolute `http(s)` URL (the dashboard shows it as a link or image).
fn http_url(field: &str, url: String) -> Result<String, ChannelError> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !url.contains(char::is_whitespace) => {
            Ok(url)
        }
        _ => Err(invalid(format!("`{field}` must be an absolute http(s) URL"))),
    }
}

fn attachment(a: Attachment) -> Result<InboundAttachment, ChannelError> {
    let url = http_url("attachments[].url", a.url.trim().to_owned())?;
    let mime_type = non_blank(a.mime_type);
    let mut metadata = Vec::new();
    let kind = match non_blank(a.kind) {
        Some(name) => AttachmentKind::from_name(&name).unwrap_or_else(|| {
            metadata.push(KeyValue::new("kind", name));
            AttachmentKind::File
        }),
        None => mime_type
            .as_deref()
            .map_or(AttachmentKind::File, AttachmentKind::from_mime_type),
    };
    Ok(InboundAttachment {
        kind,
        url: Some(url),
        media_ref: None,
        mime_type,
        file_name: non_blank(a.file_name),
        metadata,
    })
}

fn status_event(body: StatusBody, default_account: &str) -> Result<ChannelEvent, ChannelError> {
    let status = match body.status.trim().to_ascii_lowercase().as_str() {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        other => {
            return Err(invalid(format!(
                "unknown status `{other}` (expected delivered, read or failed)"
            )));
        }
    };
    Ok(ChannelEvent::Status(StatusEvent {
        channel_external_id: account(body.account_id, default_account)?,
        conversation_id: non_blank(body.conversation_id),
        message_id: Some(id("message_id", &body.message_id)?),
        status,
        up_to_ms: None,
        error: non_blank(body.error).filter(|_| status == DeliveryStatus::Failed),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use switchboard_sdk::testing::{incoming, settings};
    use switchboard_sdk::types::ErrorCode;

    const NOW: u64 = 1_700_000_000;
    const NOW_MS: u64 = NOW * 1000;

    fn configured() -> Settings {
        settings(
            &[("account_id", " acct-1 ")],
            &[("signing_secret", " in-secret\n")],
        )
    }

    fn signed(method: &str, path: &str, body: &[u8], t: u64) -> IncomingRequest {
        let signature = SIGNATURE.sign(b"in-secret", t, body);
        incoming(
            method,
            path,
            &[("X-Switchboard-Signature", &signature)],
            body.to_vec(),
        )
    }

    fn rejected(verification: Verification) -> String {
        match verification {
            Verification::Rejected(reason) => reason,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn a_signed_post_is_accepted_and_a_bad_one_rejected() {
        let body = br#"{"type":"message"}"#;
        let good = signed("POST", "/webhooks/api-channel", body, NOW - 299);
        assert!(matches!(
            verify(&configured(), &good, NOW),
            Verification::Accepted
        ));
        let reason = rejected(verify(&configured(), &good, NOW + 2));
        assert!(reason.contains("too old"), "{reason}");
        let future = signed("POST", "/webhooks/api-channel", body, NOW + 31);
        assert!(rejected(verify(&configured(), &future, NOW)).contains("future"));
        let mut tampered = good.clone();
        tampered.body = br#"{"type":"status"}"#.to_vec();
        assert!(rejected(verify(&configured(), &tampered, NOW)).contains("does not match"));
        let unsigned = incoming("POST", "/webhooks/api-channel", &[], body.to_vec());
        assert_eq!(
            rejected(verify(&configured(), &unsigned, NOW)),
            "X-Switchboard-Signature: signature header missing"
        );
        let unconfigured = settings(&[], &[("signing_secret", " ")]);
        assert!(rejected(verify(&unconfigured, &good, NOW)).contains("signing_secret"));
    }

    #[test]
    fn a_signed_get_with_a_challenge_is_answered() {
        let handshake = signed("GET", "/webhooks/api-channel?challenge=abc%20123", b"", NOW);
        match verify(&configured(), &handshake, NOW) {
            Verification::Challenge(response) => {
                assert_eq!(response.status, 200);
                assert_eq!(response.body, b"abc 123");
                assert_eq!(response.headers[0].value, "text/plain; charset=utf-8");
            }
            other => panic!("{other:?}"),
        }
        let forged = incoming(
            "GET",
            "/webhooks/api-channel?challenge=abc",
            &[(
                "X-Switchboard-Signature",
                &format!("t={NOW},v1={}", "0".repeat(64)),
            )],
            Vec::new(),
        );
        assert!(rejected(verify(&configured(), &forged, NOW)).contains("does not match"));
        let no_challenge = signed("GET", "/webhooks/api-channel", b"", NOW);
        assert!(rejected(verify(&configured(), &no_challenge, NOW)).contains("challenge"));
        let long = format!(
            "/webhooks/api-channel?challenge={}",
            "x".repeat(MAX_CHALLENGE_BYTES + 1)
        );
        assert!(rejected(verify(&configured(), &signed("GET", &long, b"", NOW), NOW)).contains("1 to 1024"));
        let with_body = signed("GET", "/webhooks/api-channel?challenge=a", b"{}", NOW);
        assert!(rejected(verify(&configured(), &with_body, NOW)).contains("no body"));
        let put = signed("PUT", "/webhooks/api-channel", b"{}", NOW);
        assert!(rejected(verify(&configured(), &put, NOW)).contains("PUT"));
    }

    fn parse(body: Value) -> Result<Vec<ChannelEvent>, ChannelError> {
        parse_event(&configured(), body.to_string().as_bytes(), NOW_MS)
    }

    fn one_message(body: Value) -> MessageEvent {
        match parse(body).unwrap().pop() {
            Some(ChannelEvent::Message(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_message_becomes_the_hosts_message_event() {
        let m = one_message(json!({
            "type": "message",
            "conversation_id": " conv-1 ",
            "contact": {"id": "user-1", "name": "Ada Lovelace", "email": "ada@example.com",
                        "avatar_url": "https://cdn.example/ada.png"},
            "message": {
                "id": "msg-1",
                "text": "Hello",
                "sent_at_ms": 1_699_999_999_000u64,
                "reply_to": "out-7",
                "attachments": [
                    {"url": "https://cdn.example/a.png", "kind": "image", "mime_type": "image/png", "file_name": "a.png"},
                    {"url": "https://cdn.example/b.bin", "kind": "sticker"},
                    {"url": "HTTP://cdn.example/c.mp4", "mime_type": "video/mp4"},
                    {"url": "https://cdn.example/d"},
                ],
            },
            "unknown_field": true,
        }));
        assert_eq!(m.channel_external_id, "acct-1", "the setting, trimmed");
        assert_eq!(m.conversation_id, "conv-1");
        assert_eq!(m.contact.external_id, "user-1");
        assert_eq!(m.contact.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(
            m.contact.avatar_url.as_deref(),
            Some("https://cdn.example/ada.png")
        );
        assert_eq!(
            (m.message_id.as_str(), m.sent_at_ms),
            ("msg-1", 1_699_999_999_000)
        );
        assert_eq!(m.text.as_deref(), Some("Hello"));
        assert_eq!(m.reply_to.as_deref(), Some("out-7"));
        let kinds: Vec<_> = m.attachments.iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            [
                AttachmentKind::Image,
                AttachmentKind::File,
                AttachmentKind::Video,
                AttachmentKind::File
            ]
        );
        let first = &m.attachments[0];
        assert_eq!(first.url.as_deref(), Some("https://cdn.example/a.png"));
        assert_eq!(
            (
                first.mime_type.as_deref(),
                first.file_name.as_deref(),
                first.media_ref.as_deref()
            ),
            (Some("image/png"), Some("a.png"), None)
        );
        assert_eq!(m.attachments[1].metadata[0].key, "kind");
        assert_eq!(m.attachments[1].metadata[0].value, "sticker");
    }

    #[test]
    fn defaults_and_the_bodys_account() {
        let m = one_message(json!({
            "type": "message",
            "account_id": "acct-2",
            "conversation_id": "c",
            "contact": {"id": "u", "email": "bob@example.com"},
            "message": {"id": "m", "text": "hi"},
        }));
        assert_eq!(m.channel_external_id, "acct-2");
        assert_eq!(
            m.sent_at_ms, NOW_MS,
            "the host's clock when the sender gives no time"
        );
        assert_eq!(m.contact.name.as_deref(), Some("bob@example.com"));
        let plain = parse_event(
            &settings(&[], &[]),
            json!({"type": "message", "conversation_id": "c", "contact": {"id": "u"},
                   "message": {"id": "m", "attachments": [{"url": "https://x.test/f"}]}})
            .to_string()
            .as_bytes(),
            NOW_MS,
        )
        .unwrap();
        match &plain[..] {
            [ChannelEvent::Message(m)] => {
                assert_eq!(m.channel_external_id, DEFAULT_ACCOUNT_ID);
                assert_eq!((m.text.as_deref(), m.contact.name.as_deref()), (None, None));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_echo_is_the_systems_own_message() {
        let events = parse(json!({
            "type": "echo",
            "conversation_id": "c",
            "contact": {"id": "u"},
            "message": {"id": "m", "text": "sent from the CRM"},
        }))
        .unwrap();
        assert!(matches!(&events[..], [ChannelEvent::Echo(m)] if m.message_id == "m"));
    }

    #[test]
    fn statuses_name_one_reply() {
        let events = parse(json!({"type": "status", "message_id": "crm-9", "status": "READ",
                                  "error": "ignored unless failed"}))
        .unwrap();
        match &events[..] {
            [ChannelEvent::Status(s)] => {
                assert_eq!(s.channel_external_id, "acct-1");
                assert_eq!(s.message_id.as_deref(), Some("crm-9"));
                assert_eq!(
                    (s.status, s.up_to_ms, s.error.as_deref()),
                    (DeliveryStatus::Read, None, None)
                );
            }
            other => panic!("{other:?}"),
        }
        let failed = parse(
            json!({"type": "status", "message_id": "crm-9", "status": "failed",
                                  "error": "mailbox full", "conversation_id": "c", "account_id": "acct-3"}),
        )
        .unwrap();
        match &failed[..] {
            [ChannelEvent::Status(s)] => {
                assert_eq!(
                    (s.status, s.error.as_deref()),
                    (DeliveryStatus::Failed, Some("mailbox full"))
                );
                assert_eq!(
                    (s.channel_external_id.as_str(), s.conversation_id.as_deref()),
                    ("acct-3", Some("c"))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_types_are_ignored_with_their_name() {
        let events = parse(json!({"type": "typing", "conversation_id": "c"})).unwrap();
        assert!(matches!(&events[..], [ChannelEvent::Ignored(reason)] if reason.contains("`typing`")));
    }

    #[test]
    fn malformed_bodies_are_invalid_requests() {
        let message = |patch: Value| {
            let mut body = json!({
                "type": "message", "conversation_id": "c", "contact": {"id": "u"},
                "message": {"id": "m", "text": "t"},
            });
            for (key, value) in patch.as_object().unwrap() {
                body[key] = value.clone();
            }
            body
        };
        let cases = [
            (json!([1, 2]), "JSON object"),
            (json!({"conversation_id": "c"}), "no `type`"),
            (json!({"type": 7}), "must be a string"),
            (
                message(json!({"contact": {"name": "no id"}})),
                "not a valid `message` event",
            ),
            (
                message(json!({"conversation_id": "  "})),
                "`conversation_id` must not be blank",
            ),
            (
                message(json!({"message": {"id": "m"}})),
                "`text` or `attachments`",
            ),
            (
                message(json!({"message": {"id": "m", "text": " "}})),
                "`text` or `attachments`",
            ),
            (
                message(json!({"message": {"id": "x".repeat(257), "text": "t"}})),
                "longer than 256",
            ),
            (
                message(json!({"message": {"id": "m", "attachments": [{"url": "javascript:alert(1)"}]}})),
                "http(s) URL",
            ),
            (
                message(json!({"message": {"id": "m", "attachments": [{"url": "https:///x"}]}})),
                "http(s) URL",
            ),
            (
                message(json!({"contact": {"id": "u", "avatar_url": "data:image/png;base64,x"}})),
                "avatar_url",
            ),
            (
                message(
                    json!({"message": {"id": "m", "attachments": vec![json!({"url": "https://x.test/a"}); 11]}}),
                ),
                "at most 10",
            ),
            (
                json!({"type": "status", "message_id": "m", "status": "seen"}),
                "unknown status `seen`",
            ),
            (
                json!({"type": "status", "status": "read"}),
                "not a valid `status` event",
            ),
        ];
        for (body, expected) in cases {
            let error = parse(body.clone()).unwrap_err();
            assert_eq!(
                (error.code, error.retryable),
                (ErrorCode::InvalidRequest, false),
                "{body}"
            );
            assert!(error.message.contains(expected), "{body}: {}", error.message);
        }
        let not_json = parse_event(&configured(), b"{nope", NOW_MS).unwrap_err();
        assert!(not_json.message.contains("not JSON"));
    }
}
