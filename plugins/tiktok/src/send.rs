//! Sending an agent's reply: a text, or one JPEG or PNG image (uploaded
//! first, then sent by its media id), optionally as a reply to a message.
//!
//! The host already enforces the manifest's content limits; the checks here
//! repeat them with TikTok's wording so that a host bug or an older host
//! cannot make TikTok fail with a vaguer error.

use serde::{Deserialize, Serialize};
use switchboard_sdk::http::{Multipart, Request};
use switchboard_sdk::types::{
    AttachmentKind, ChannelContext, ChannelError, DeliveryStatus, ErrorCode, OutboundAttachment,
    OutboundMessage, SentMessage,
};

use crate::api::{self, Transport};
use crate::config::Config;

/// TikTok's size limit for image messages, in bytes.
pub const MAX_IMAGE_BYTES: usize = 3 << 20;

/// What one TikTok message carries.
#[derive(Debug)]
enum Content<'a> {
    Text(&'a str),
    Image(&'a OutboundAttachment),
}

fn refuse(message: &str) -> ChannelError {
    ChannelError::permanent(ErrorCode::InvalidRequest, message)
}

/// Checks that TikTok can carry the message, in the reference's order and
/// words.
fn content(message: &OutboundMessage) -> Result<Content<'_>, ChannelError> {
    let text = message.text.as_deref().filter(|t| !t.is_empty());
    let attachment = match (text, message.attachments.as_slice()) {
        (Some(text), []) => return Ok(Content::Text(text)),
        (None, []) => return Err(refuse("The message has neither text nor an attachment.")),
        (Some(_), _) => {
            return Err(refuse(
                "Sending attachments with text is not supported on TikTok.",
            ));
        }
        (None, [_, _, ..]) => {
            return Err(refuse(
                "Sending multiple attachments in a single TikTok message is not supported.",
            ));
        }
        (None, [attachment]) => attachment,
    };
    if attachment.kind != AttachmentKind::Image {
        return Err(refuse("Only image attachments are supported on TikTok."));
    }
    if image_extension(&attachment.mime_type).is_none() {
        return Err(refuse("TikTok supports only JPG and PNG images."));
    }
    if attachment.data.len() > MAX_IMAGE_BYTES {
        return Err(refuse("TikTok image attachments must be smaller than 3 MB."));
    }
    Ok(Content::Image(attachment))
}

/// The file extension of a MIME type TikTok accepts for images.
fn image_extension(mime_type: &str) -> Option<&'static str> {
    let essence = mime_type.split(';').next().unwrap_or_default().trim();
    match essence.to_ascii_lowercase().as_str() {
        "image/jpeg" | "image/jpg" => Some("jpg"),
        "image/png" => Some("png"),
        _ => None,
    }
}

#[derive(Serialize)]
struct SendRequest<'a> {
    business_id: &'a str,
    recipient_type: &'static str,
    recipient: &'a str,
    message_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<TextBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<ImageBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    referenced_message_info: Option<ReferencedMessage<'a>>,
}

#[derive(Serialize)]
struct TextBody<'a> {
    body: &'a str,
}

#[derive(Serialize)]
struct ImageBody {
    media_id: String,
}

#[derive(Serialize)]
struct ReferencedMessage<'a> {
    referenced_message_id: &'a str,
}

#[derive(Deserialize)]
struct Sent {
    message: SentId,
}

#[derive(Deserialize)]
struct SentId {
    message_id: String,
}

#[derive(Deserialize)]
struct Uploaded {
    media_id: String,
}

/// Sends one message into its conversation.
pub fn send_message(
    config: &Config,
    context: &ChannelContext,
    message: &OutboundMessage,
    transport: &impl Transport,
    now_ms: u64,
) -> Result<SentMessage, ChannelError> {
    let content = content(message)?;
    let token = context.credentials.access_token.as_str();
    let business_id = context.external_id.as_str();
    let mut request = SendRequest {
        business_id,
        recipient_type: "CONVERSATION",
        recipient: &message.conversation_id,
        message_type: "TEXT",
        text: None,
        image: None,
        referenced_message_info: message.reply_to.as_deref().filter(|id| !id.is_empty()).map(
            |referenced_message_id| ReferencedMessage {
                referenced_message_id,
            },
        ),
    };
    match content {
        Content::Text(body) => request.text = Some(TextBody { body }),
        Content::Image(attachment) => {
            // The SDK has no randomness; the time and the message's
            // idempotency key are unique enough per upload, and the SDK
            // checks the boundary against the data.
            let seed = format!("{now_ms}:{}", message.idempotency_key);
            let upload = upload_request(config, token, business_id, attachment, &seed);
            let Uploaded { media_id } = api::call(transport, upload)?;
            request.message_type = "IMAGE";
            request.image = Some(ImageBody { media_id });
        }
    }
    let sent: Sent = api::call(
        transport,
        api::post_json(&config.api_url("/business/message/send/"), Some(token), &request),
    )?;
    Ok(SentMessage {
        message_id: sent.message.message_id,
        // TikTok answers once the message is in the conversation; the
        // reference integration records it as delivered straight away.
        status: DeliveryStatus::Delivered,
    })
}

/// The multipart upload of an image: fields `business_id`, `media_type` and
/// `file` (with the attachment's own file name and type, which TikTok uses).
fn upload_request(
    config: &Config,
    token: &str,
    business_id: &str,
    attachment: &OutboundAttachment,
    boundary_seed: &str,
) -> Request {
    let file_name = match attachment.file_name.trim() {
        "" => format!(
            "image.{}",
            image_extension(&attachment.mime_type).unwrap_or("jpg")
        ),
        name => name.to_owned(),
    };
    let form = Multipart::new(boundary_seed)
        .text("business_id", business_id)
        .text("media_type", "IMAGE")
        .file(
            "file",
            &file_name,
            &attachment.mime_type,
            attachment.data.as_slice(),
        );
    Request::post(config.api_url("/business/message/media/upload/"))
        .header("Accept", "application/json")
        .header("Access-Token", token)
        .multipart(form)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeTransport, config, context, envelope, header, json_body, ok};
    use serde_json::json;

    fn text(body: &str) -> OutboundMessage {
        OutboundMessage {
            conversation_id: "tt-conv-1".into(),
            recipient_id: "user-1".into(),
            text: Some(body.into()),
            attachments: vec![],
            reply_to: None,
            idempotency_key: "key-1".into(),
        }
    }

    fn image(mime_type: &str, data: Vec<u8>) -> OutboundAttachment {
        OutboundAttachment {
            kind: AttachmentKind::Image,
            file_name: "avatar.png".into(),
            mime_type: mime_type.into(),
            data,
        }
    }

    fn with_attachments(attachments: Vec<OutboundAttachment>) -> OutboundMessage {
        OutboundMessage {
            text: None,
            attachments,
            ..text("")
        }
    }

    fn sent(id: &str) -> Result<switchboard_sdk::types::HttpResponse, switchboard_sdk::types::HttpError> {
        ok(json!({"message": {"message_id": id}}))
    }

    #[test]
    fn a_text_is_sent_to_the_conversation() {
        let transport = FakeTransport::new([sent("tt-msg-123")]);
        let result = send_message(&config(), &context(), &text("Hello"), &transport, 1).unwrap();
        assert_eq!(result.message_id, "tt-msg-123");
        assert_eq!(result.status, DeliveryStatus::Delivered);
        let request = transport.request(0);
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.url,
            "https://business-api.tiktok.com/open_api/v1.3/business/message/send/"
        );
        assert_eq!(header(&request, "access-token"), Some("token-123"));
        assert_eq!(header(&request, "content-type"), Some("application/json"));
        assert_eq!(
            json_body(&request),
            json!({
                "business_id": "biz-123",
                "recipient_type": "CONVERSATION",
                "recipient": "tt-conv-1",
                "message_type": "TEXT",
                "text": {"body": "Hello"},
            })
        );
    }

    #[test]
    fn a_reply_names_the_message_it_answers() {
        let transport = FakeTransport::new([sent("tt-msg-124")]);
        let message = OutboundMessage {
            reply_to: Some("tt-msg-1".into()),
            ..text("Sure")
        };
        send_message(&config(), &context(), &message, &transport, 1).unwrap();
        assert_eq!(
            json_body(&transport.request(0))["referenced_message_info"],
            json!({"referenced_message_id": "tt-msg-1"})
        );
    }

    #[test]
    fn an_image_is_uploaded_then_sent_by_media_id() {
        let png = b"\x89PNG\r\n\x1a\n-pixels-".to_vec();
        let transport = FakeTransport::new([ok(json!({"media_id": "media-123"})), sent("tt-msg-125")]);
        let message = OutboundMessage {
            reply_to: Some("tt-msg-1".into()),
            ..with_attachments(vec![image("image/png", png.clone())])
        };
        let result = send_message(&config(), &context(), &message, &transport, 1_700_000_000_000).unwrap();
        assert_eq!(result.message_id, "tt-msg-125");

        let upload = transport.request(0);
        assert_eq!(
            upload.url,
            "https://business-api.tiktok.com/open_api/v1.3/business/message/media/upload/"
        );
        assert_eq!(header(&upload, "access-token"), Some("token-123"));
        let content_type = header(&upload, "content-type").unwrap();
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .expect("a multipart content type");
        let mut expected = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"business_id\"\r\n\r\nbiz-123\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"media_type\"\r\n\r\nIMAGE\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"avatar.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .into_bytes();
        expected.extend_from_slice(&png);
        expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        assert_eq!(
            String::from_utf8_lossy(&upload.body),
            String::from_utf8_lossy(&expected)
        );

        assert_eq!(
            json_body(&transport.request(1)),
            json!({
                "business_id": "biz-123",
                "recipient_type": "CONVERSATION",
                "recipient": "tt-conv-1",
                "message_type": "IMAGE",
                "image": {"media_id": "media-123"},
                "referenced_message_info": {"referenced_message_id": "tt-msg-1"},
            })
        );
    }

    #[test]
    fn what_tiktok_cannot_carry_is_refused_before_any_request() {
        let transport = FakeTransport::new([]);
        let jpeg = || image("image/jpeg", vec![0xFF, 0xD8, 0xFF]);
        let cases = [
            (
                OutboundMessage {
                    attachments: vec![jpeg()],
                    ..text("caption")
                },
                "Sending attachments with text is not supported on TikTok.",
            ),
            (
                with_attachments(vec![jpeg(), jpeg()]),
                "Sending multiple attachments in a single TikTok message is not supported.",
            ),
            (
                with_attachments(vec![OutboundAttachment {
                    kind: AttachmentKind::Video,
                    ..jpeg()
                }]),
                "Only image attachments are supported on TikTok.",
            ),
            (
                with_attachments(vec![image("image/webp", vec![1])]),
                "TikTok supports only JPG and PNG images.",
            ),
            (
                with_attachments(vec![image("image/png", vec![0; MAX_IMAGE_BYTES + 1])]),
                "TikTok image attachments must be smaller than 3 MB.",
            ),
            (
                with_attachments(vec![]),
                "The message has neither text nor an attachment.",
            ),
        ];
        for (message, expected) in cases {
            let error = send_message(&config(), &context(), &message, &transport, 1).unwrap_err();
            assert_eq!((error.code, error.retryable), (ErrorCode::InvalidRequest, false));
            assert_eq!(error.message, expected);
        }
        assert!(transport.sent().is_empty());
        let largest = with_attachments(vec![image("IMAGE/JPEG", vec![0; MAX_IMAGE_BYTES])]);
        assert!(content(&largest).is_ok());
    }

    #[test]
    fn a_refused_send_reports_tiktoks_error() {
        let transport = FakeTransport::new([Ok(envelope(40105, "Access token is expired", json!(null)))]);
        let error = send_message(&config(), &context(), &text("Hello"), &transport, 1).unwrap_err();
        assert_eq!((error.code, error.retryable), (ErrorCode::Unauthorized, true));
        assert_eq!(error.message, "40105: Access token is expired");
    }

    #[test]
    fn a_failed_upload_sends_nothing() {
        let transport = FakeTransport::new([Ok(envelope(40002, "parsing error", json!(null)))]);
        let message = with_attachments(vec![image("image/png", vec![1, 2, 3])]);
        let error = send_message(&config(), &context(), &message, &transport, 1).unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            (ErrorCode::InvalidRequest, "40002: parsing error")
        );
        assert_eq!(transport.sent().len(), 1);
    }

    #[test]
    fn uploads_differ_per_message_and_time() {
        let png = image("image/png", vec![1]);
        let boundary = |now_ms: u64, key: &str| {
            let seed = format!("{now_ms}:{key}");
            let request = upload_request(&config(), "t", "b", &png, &seed).build();
            header(&request, "content-type").unwrap().to_owned()
        };
        assert_ne!(boundary(1, "key-1"), boundary(2, "key-1"));
        assert_ne!(boundary(1, "key-1"), boundary(1, "key-2"));
        assert_eq!(boundary(1, "key-1"), boundary(1, "key-1"));
    }

    #[test]
    fn file_names_are_quoted_or_made_up() {
        let quoted = OutboundAttachment {
            file_name: "a\"b\r\n.png".into(),
            ..image("image/png", vec![1])
        };
        let request = upload_request(&config(), "t", "b", &quoted, "B").build();
        assert!(String::from_utf8_lossy(&request.body).contains("filename=\"a%22b%0D%0A.png\""));
        let unnamed = OutboundAttachment {
            file_name: " ".into(),
            ..image("image/png", vec![1])
        };
        let request = upload_request(&config(), "t", "b", &unnamed, "B").build();
        assert!(String::from_utf8_lossy(&request.body).contains("filename=\"image.png\""));
    }
}
