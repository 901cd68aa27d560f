//! Rules of the conversation domain that do not depend on storage or HTTP:
//! Chatwoot's enums (defined in `crate::chatwoot`), status transitions, the reply window and
//! the content limits a channel declares.

use crate::contract::{AttachmentKind, ContentLimits, ReplyWindow};

pub use crate::chatwoot::{ChatwootCode, ConversationStatus, MessageStatus, MessageType, SenderType};

/// The bundled plugin that is Chatwoot's API channel (`Channel::Api`).
pub const API_CHANNEL: &str = "api-channel";

/// The plugin behind a channel type a client names when creating an inbox:
/// Chatwoot's `api` is [`API_CHANNEL`]; any other name is a plugin id.
pub fn plugin_of_channel_type(kind: &str) -> &str {
    match kind {
        "api" => API_CHANNEL,
        other => other,
    }
}

/// Whether agents' clients may post the contact's side (`incoming`
/// messages) in an inbox of this channel: Chatwoot allows it on API inboxes
/// only, where integrations relay what their users write.
pub fn accepts_posted_incoming(channel: &str) -> bool {
    channel == API_CHANNEL
}

/// Chatwoot's message content types; each is stored and shown, and the
/// channel sends a message's text whatever its content type.
pub const CONTENT_TYPES: &[&str] = &[
    "text",
    "input_text",
    "input_textarea",
    "input_email",
    "input_select",
    "cards",
    "form",
    "article",
    "incoming_email",
    "input_csat",
    "integrations",
    "sticker",
    "voice_call",
];

/// Chatwoot's attachment `file_type` code of an attachment kind.
pub fn file_type_of(kind: crate::contract::AttachmentKind) -> i64 {
    use crate::contract::AttachmentKind as K;
    match kind {
        K::Image => 0,
        K::Audio => 1,
        K::Video => 2,
        K::File => 3,
        K::Location => 4,
        K::Embed => 12,
    }
}

/// Chatwoot's attachment `file_type` code of an uploaded file, by its MIME
/// type (images, audio, video; anything else is a file).
pub fn file_type_of_mime(mime: &str) -> i64 {
    match mime.split('/').next().unwrap_or_default() {
        "image" => 0,
        "audio" => 1,
        "video" => 2,
        _ => 3,
    }
}

/// The attachment kind of a Chatwoot `file_type` code.
pub fn attachment_kind(file_type: i64) -> crate::contract::AttachmentKind {
    use crate::contract::AttachmentKind as K;
    match file_type {
        0 => K::Image,
        1 => K::Audio,
        2 => K::Video,
        4 => K::Location,
        12 => K::Embed,
        _ => K::File,
    }
}

/// Whether an agent may reply now, given the channel's window and the time of
/// the contact's last inbound message (unix ms).
pub fn can_reply(window: ReplyWindow, last_inbound_ms: Option<i64>, now_ms: i64) -> bool {
    match window {
        ReplyWindow::Unlimited => true,
        ReplyWindow::AfterInboundSecs(secs) => {
            last_inbound_ms.is_some_and(|at| now_ms.saturating_sub(at) <= (secs as i64).saturating_mul(1000))
        }
    }
}

/// Checks an outbound text against the channel's limits; the error is the
/// readable reason an agent sees.
pub fn check_text(limits: &ContentLimits, text: &str, channel: &str) -> Result<(), String> {
    if let Some(max) = limits.max_text_chars {
        let chars = text.chars().count();
        if chars > max as usize {
            return Err(format!(
                "{channel} messages can be at most {max} characters; this one has {chars}"
            ));
        }
    }
    Ok(())
}

/// An attachment an agent wants to send, as the limits see it.
#[derive(Debug, Clone)]
pub struct OutgoingFile<'a> {
    /// What it is.
    pub kind: AttachmentKind,
    /// Its MIME type.
    pub mime_type: &'a str,
    /// Its size.
    pub bytes: u64,
}

/// Checks outbound attachments against the channel's limits; the error is the
/// readable reason an agent sees.
pub fn check_attachments(
    limits: &ContentLimits,
    has_text: bool,
    files: &[OutgoingFile<'_>],
    channel: &str,
) -> Result<(), String> {
    if files.is_empty() {
        return Ok(());
    }
    // The wording follows the reference TikTok integration, so agents moving
    // over read the reasons they know.
    if has_text && !limits.text_with_attachments {
        return Err(format!(
            "Sending attachments with text is not supported on {channel}."
        ));
    }
    if files.len() > limits.max_attachments as usize {
        return Err(match limits.max_attachments {
            0 => format!("Sending attachments is not supported on {channel}."),
            1 => format!("Sending multiple attachments in a single {channel} message is not supported."),
            n => format!("{channel} messages can carry at most {n} attachments."),
        });
    }
    for file in files {
        if !limits.attachment_kinds.contains(&file.kind) {
            let kinds: Vec<String> = limits
                .attachment_kinds
                .iter()
                .map(|k| format!("{k:?}").to_lowercase())
                .collect();
            return Err(format!(
                "Only {} attachments are supported on {channel}.",
                kinds.join(" and ")
            ));
        }
        if !limits.attachment_mime_types.is_empty()
            && !limits.attachment_mime_types.iter().any(|m| m == file.mime_type)
        {
            let names: Vec<String> = limits
                .attachment_mime_types
                .iter()
                .map(|m| mime_label(m))
                .collect();
            let noun = if limits
                .attachment_mime_types
                .iter()
                .all(|m| m.starts_with("image/"))
            {
                "images"
            } else {
                "files"
            };
            return Err(format!("{channel} supports only {} {noun}.", names.join(" and ")));
        }
        if let Some(max) = limits.max_attachment_bytes
            && file.bytes > max
        {
            let kind = format!("{:?}", file.kind).to_lowercase();
            return Err(format!(
                "{channel} {kind} attachments must be smaller than {}.",
                size_label(max)
            ));
        }
    }
    Ok(())
}

/// A MIME type as people name the format: `image/jpeg` → `JPG`.
fn mime_label(mime: &str) -> String {
    match mime.rsplit('/').next().unwrap_or(mime) {
        "jpeg" => "JPG".into(),
        subtype => subtype.to_uppercase(),
    }
}

/// A byte count in the largest whole unit: `3145728` → `3 MB`.
fn size_label(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_window_opens_with_the_last_inbound_message() {
        let window = ReplyWindow::AfterInboundSecs(48 * 3600);
        let now = 1_000_000_000_000;
        assert!(can_reply(ReplyWindow::Unlimited, None, now));
        assert!(!can_reply(window, None, now));
        assert!(can_reply(window, Some(now - 47 * 3_600_000), now));
        assert!(can_reply(window, Some(now - 48 * 3_600_000), now));
        assert!(!can_reply(window, Some(now - 48 * 3_600_000 - 1), now));
    }

    #[test]
    fn toggle_and_names_round_trip() {
        use ConversationStatus as S;
        assert_eq!(S::Open.toggled(), S::Resolved);
        assert_eq!(S::Pending.toggled(), S::Open);
        for status in S::ALL {
            assert_eq!(S::parse(status.name()), Some(*status));
            assert_eq!(S::from_code(status.code()), Some(*status));
        }
        assert_eq!(S::parse("closed"), None);
        assert_eq!(S::from_code(9), None);
        assert_eq!(MessageType::Outgoing.code(), 1);
        assert_eq!(MessageStatus::parse("read"), Some(MessageStatus::Read));
        assert_eq!(SenderType::Contact.name(), "Contact");
    }

    #[test]
    fn text_limit_counts_characters_not_bytes() {
        let limits = ContentLimits {
            max_text_chars: Some(3),
            max_attachments: 0,
            text_with_attachments: false,
            attachment_kinds: vec![],
            attachment_mime_types: vec![],
            max_attachment_bytes: None,
        };
        assert!(check_text(&limits, "héé", "X").is_ok());
        assert!(
            check_text(&limits, "abcd", "X")
                .unwrap_err()
                .contains("at most 3 characters")
        );
    }
}
