//! Turning TikTok's webhook deliveries into the host's events.
//!
//! A delivery is `{"event", "user_openid", "content"}` where `user_openid` is
//! the business account and `content` is a JSON document encoded as a string.
//! Three events matter:
//!
//! - `im_receive_msg` and `im_send_msg`: a message in a conversation. It is
//!   inbound when its recipient is the business, otherwise an echo of what
//!   the business sent (from TikTok's app, or the echo of our own send; the
//!   host deduplicates on the message id).
//! - `im_mark_read_msg`: the person read the conversation up to a time.
//!
//! Every other event is ignored with its name as the reason. A delivery that
//! is not TikTok's shape is an error: it is stored, and retrying cannot fix it.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use switchboard_sdk::types::{
    AttachmentKind, ChannelError, ChannelEvent, ContactProfile, DeliveryStatus, ErrorCode, InboundAttachment,
    MessageEvent, StatusEvent,
};

use crate::media::MediaRef;

/// The text stored for message types TikTok's API cannot show us (stickers,
/// voice notes, …), in the words TikTok's own integrations use.
pub const UNSUPPORTED_MESSAGE: &str =
    "This message is unsupported. You can view this message on the TikTok app.";

#[derive(Deserialize)]
struct Delivery {
    event: String,
    user_openid: Option<String>,
    content: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct User {
    id: String,
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "type")]
    kind: String,
    message_id: String,
    /// Unix milliseconds.
    timestamp: u64,
    conversation_id: String,
    from: Option<String>,
    from_user: User,
    to: Option<String>,
    to_user: User,
    referenced_message_info: Option<Referenced>,
    text: Option<Text>,
    image: Option<Image>,
    share_post: Option<SharePost>,
}

#[derive(Deserialize)]
struct Referenced {
    referenced_message_id: Option<String>,
}

#[derive(Deserialize)]
struct Text {
    body: String,
}

#[derive(Deserialize)]
struct Image {
    media_id: String,
}

#[derive(Deserialize)]
struct SharePost {
    embed_url: String,
}

#[derive(Deserialize)]
struct MarkRead {
    conversation_id: String,
    read: Read,
    from_user: User,
}

#[derive(Deserialize)]
struct Read {
    /// Unix milliseconds.
    last_read_timestamp: u64,
}

fn invalid(message: String) -> ChannelError {
    ChannelError::permanent(ErrorCode::InvalidRequest, message)
}

/// Parses one webhook body.
pub fn parse_event(body: &[u8]) -> Result<Vec<ChannelEvent>, ChannelError> {
    let delivery: Delivery =
        serde_json::from_slice(body).map_err(|e| invalid(format!("not a TikTok webhook delivery: {e}")))?;
    let event = delivery.event.as_str();
    if !matches!(event, "im_receive_msg" | "im_send_msg" | "im_mark_read_msg") {
        return Ok(vec![ChannelEvent::Ignored(format!(
            "unsupported TikTok event `{event}`"
        ))]);
    }
    let business_id = delivery
        .user_openid
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid(format!("TikTok `{event}` delivery without `user_openid`")))?;
    let content = delivery
        .content
        .ok_or_else(|| invalid(format!("TikTok `{event}` delivery without `content`")))?;
    if event == "im_mark_read_msg" {
        let read: MarkRead = decode_content(event, content)?;
        return Ok(vec![mark_read(business_id, read)]);
    }
    let message: Message = decode_content(event, content)?;
    Ok(vec![message_event(business_id, message)?])
}

/// `content` is a JSON document encoded as a string; an object is accepted
/// too, so a delivery that was decoded once on its way here still parses.
fn decode_content<T: DeserializeOwned>(event: &str, content: serde_json::Value) -> Result<T, ChannelError> {
    let decoded = match content {
        serde_json::Value::String(text) => serde_json::from_str(&text),
        other => serde_json::from_value(other),
    };
    decoded.map_err(|e| {
        invalid(format!(
            "TikTok `{event}` content is not what TikTok documents: {e}"
        ))
    })
}

fn mark_read(business_id: String, read: MarkRead) -> ChannelEvent {
    if read.from_user.id == business_id {
        return ChannelEvent::Ignored("the business itself read the conversation".into());
    }
    ChannelEvent::Status(StatusEvent {
        channel_external_id: business_id,
        conversation_id: Some(read.conversation_id),
        message_id: None,
        status: DeliveryStatus::Read,
        up_to_ms: Some(read.read.last_read_timestamp),
        error: None,
    })
}

fn message_event(business_id: String, message: Message) -> Result<ChannelEvent, ChannelError> {
    let inbound = message.to_user.id == business_id;
    let (person, handle) = if inbound {
        (message.from_user, message.from)
    } else {
        (message.to_user, message.to)
    };
    let handle = handle.filter(|h| !h.is_empty());
    let contact = ContactProfile {
        external_id: person.id,
        name: handle.clone(),
        username: handle,
        avatar_url: None,
    };
    let missing = |field: &str| {
        invalid(format!(
            "TikTok `{}` message {} has no `{field}`",
            message.kind, message.message_id
        ))
    };
    let (mut text, mut attachments, mut unsupported) = (None, vec![], None);
    match message.kind.as_str() {
        "text" => {
            text = Some(
                message
                    .text
                    .as_ref()
                    .ok_or_else(|| missing("text.body"))?
                    .body
                    .clone(),
            )
        }
        "image" => {
            let image = message.image.as_ref().ok_or_else(|| missing("image.media_id"))?;
            let media_ref = MediaRef {
                conversation_id: message.conversation_id.clone(),
                message_id: message.message_id.clone(),
                media_id: image.media_id.clone(),
            };
            attachments.push(InboundAttachment {
                kind: AttachmentKind::Image,
                url: None,
                media_ref: Some(media_ref.encode()),
                mime_type: None,
                file_name: None,
                metadata: vec![],
            });
        }
        "share_post" => {
            let post = message
                .share_post
                .as_ref()
                .ok_or_else(|| missing("share_post.embed_url"))?;
            attachments.push(InboundAttachment {
                kind: AttachmentKind::Embed,
                url: Some(post.embed_url.clone()),
                media_ref: None,
                mime_type: None,
                file_name: None,
                metadata: vec![],
            });
        }
        _ => unsupported = Some(UNSUPPORTED_MESSAGE.to_owned()),
    }
    let event = MessageEvent {
        channel_external_id: business_id,
        conversation_id: message.conversation_id,
        contact,
        message_id: message.message_id,
        sent_at_ms: message.timestamp,
        text,
        attachments,
        reply_to: message
            .referenced_message_info
            .and_then(|r| r.referenced_message_id)
            .filter(|id| !id.is_empty()),
        unsupported,
    };
    Ok(if inbound {
        ChannelEvent::Message(event)
    } else {
        ChannelEvent::Echo(event)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A delivery as TikTok sends it: `content` encoded as a string.
    fn delivery(event: &str, content: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "event": event,
            "user_openid": "biz-123",
            "client_key": "app-1",
            "create_time": 1_700_000_000,
            "content": content.to_string(),
        }))
        .unwrap()
    }

    fn message(kind: &str, extra: Value) -> Value {
        let mut content = json!({
            "type": kind,
            "message_id": "tt-msg-1",
            "timestamp": 1_700_000_000_000u64,
            "conversation_id": "tt-conv-1",
            "from": "Alice",
            "from_user": {"id": "user-1"},
            "to": "Biz",
            "to_user": {"id": "biz-123"},
        });
        content
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        content
    }

    fn one(body: &[u8]) -> ChannelEvent {
        let mut events = parse_event(body).unwrap();
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    fn inbound(body: &[u8]) -> MessageEvent {
        match one(body) {
            ChannelEvent::Message(m) => m,
            other => panic!("expected an inbound message, got {other:?}"),
        }
    }

    #[test]
    fn an_inbound_text_names_the_sender() {
        let event = inbound(&delivery(
            "im_receive_msg",
            message("text", json!({"text": {"body": "Hello from TikTok"}})),
        ));
        assert_eq!(event.channel_external_id, "biz-123");
        assert_eq!(event.conversation_id, "tt-conv-1");
        assert_eq!(event.message_id, "tt-msg-1");
        assert_eq!(event.sent_at_ms, 1_700_000_000_000);
        assert_eq!(event.text.as_deref(), Some("Hello from TikTok"));
        assert_eq!(event.contact.external_id, "user-1");
        assert_eq!(event.contact.name.as_deref(), Some("Alice"));
        assert_eq!(event.contact.username.as_deref(), Some("Alice"));
        assert!(event.attachments.is_empty());
        assert_eq!(event.reply_to, None);
        assert_eq!(event.unsupported, None);
    }

    #[test]
    fn a_message_from_the_business_is_an_echo_about_the_recipient() {
        let content = message(
            "text",
            json!({
                "from": "Biz", "from_user": {"id": "biz-123"},
                "to": "Alice", "to_user": {"id": "user-1"},
                "text": {"body": "Hi Alice"},
                "referenced_message_info": {"referenced_message_id": "tt-msg-0"},
            }),
        );
        let ChannelEvent::Echo(event) = one(&delivery("im_send_msg", content)) else {
            panic!("expected an echo");
        };
        assert_eq!(event.contact.external_id, "user-1");
        assert_eq!(event.contact.name.as_deref(), Some("Alice"));
        assert_eq!(event.text.as_deref(), Some("Hi Alice"));
        assert_eq!(event.reply_to.as_deref(), Some("tt-msg-0"));
    }

    #[test]
    fn an_image_carries_a_media_ref_fetch_media_can_read() {
        let event = inbound(&delivery(
            "im_receive_msg",
            message("image", json!({"image": {"media_id": "media-9"}})),
        ));
        assert_eq!(event.text, None);
        let [attachment] = event.attachments.as_slice() else {
            panic!("one attachment");
        };
        assert_eq!(attachment.kind, AttachmentKind::Image);
        assert_eq!(attachment.url, None);
        let media_ref = MediaRef::decode(attachment.media_ref.as_deref().unwrap()).unwrap();
        assert_eq!(
            media_ref,
            MediaRef {
                conversation_id: "tt-conv-1".into(),
                message_id: "tt-msg-1".into(),
                media_id: "media-9".into(),
            }
        );
    }

    #[test]
    fn a_shared_post_is_an_embed() {
        let url = "https://www.tiktok.com/embed/7300000000000000000";
        let event = inbound(&delivery(
            "im_receive_msg",
            message("share_post", json!({"share_post": {"embed_url": url}})),
        ));
        let [attachment] = event.attachments.as_slice() else {
            panic!("one attachment");
        };
        assert_eq!(attachment.kind, AttachmentKind::Embed);
        assert_eq!(attachment.url.as_deref(), Some(url));
        assert_eq!(attachment.media_ref, None);
    }

    #[test]
    fn other_types_are_kept_as_unsupported() {
        let event = inbound(&delivery("im_receive_msg", message("sticker", json!({}))));
        assert_eq!(event.text, None);
        assert!(event.attachments.is_empty());
        assert_eq!(event.unsupported.as_deref(), Some(UNSUPPORTED_MESSAGE));
    }

    #[test]
    fn a_read_by_the_person_marks_the_conversation_read() {
        let content = json!({
            "conversation_id": "tt-conv-1",
            "read": {"last_read_timestamp": 1_700_000_000_000u64},
            "from_user": {"id": "user-1"},
        });
        let ChannelEvent::Status(status) = one(&delivery("im_mark_read_msg", content)) else {
            panic!("expected a status");
        };
        assert_eq!(status.channel_external_id, "biz-123");
        assert_eq!(status.conversation_id.as_deref(), Some("tt-conv-1"));
        assert_eq!(status.message_id, None);
        assert_eq!(status.status, DeliveryStatus::Read);
        assert_eq!(status.up_to_ms, Some(1_700_000_000_000));
        assert_eq!(status.error, None);
    }

    #[test]
    fn a_read_by_the_business_is_ignored() {
        let content = json!({
            "conversation_id": "tt-conv-1",
            "read": {"last_read_timestamp": 1},
            "from_user": {"id": "biz-123"},
        });
        let ChannelEvent::Ignored(reason) = one(&delivery("im_mark_read_msg", content)) else {
            panic!("expected ignored");
        };
        assert_eq!(reason, "the business itself read the conversation");
    }

    #[test]
    fn unknown_events_are_ignored_by_name() {
        let ChannelEvent::Ignored(reason) = one(br#"{"event":"unknown_event","user_openid":"biz-123"}"#)
        else {
            panic!("expected ignored");
        };
        assert_eq!(reason, "unsupported TikTok event `unknown_event`");
    }

    #[test]
    fn content_may_arrive_already_decoded() {
        let body = serde_json::to_vec(&json!({
            "event": "im_receive_msg",
            "user_openid": "biz-123",
            "content": message("text", json!({"text": {"body": "hi"}})),
        }))
        .unwrap();
        assert_eq!(inbound(&body).text.as_deref(), Some("hi"));
    }

    #[test]
    fn malformed_deliveries_are_permanent_invalid_requests() {
        let bodies: Vec<Vec<u8>> = vec![
            b"not json".to_vec(),
            br#"{"user_openid":"biz-123"}"#.to_vec(),
            br#"{"event":"im_receive_msg","content":"{}"}"#.to_vec(),
            br#"{"event":"im_receive_msg","user_openid":"biz-123"}"#.to_vec(),
            br#"{"event":"im_receive_msg","user_openid":"biz-123","content":"{not json"}"#.to_vec(),
            // The reference's own webhook test payload: no message fields.
            delivery("im_receive_msg", json!({"conversation_id": "tt-conv-1"})),
            delivery("im_receive_msg", message("text", json!({}))),
            delivery("im_receive_msg", message("image", json!({"image": {}}))),
            delivery("im_mark_read_msg", json!({"conversation_id": "tt-conv-1"})),
        ];
        for body in bodies {
            let error = parse_event(&body).unwrap_err();
            assert_eq!(
                (error.code, error.retryable),
                (ErrorCode::InvalidRequest, false),
                "{}",
                String::from_utf8_lossy(&body)
            );
            assert!(error.message.contains("TikTok"), "{}", error.message);
        }
    }
}
