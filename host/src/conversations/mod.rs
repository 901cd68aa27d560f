//! Rules of the conversation domain that do not depend on storage or HTTP:
//! Chatwoot's enum codes and names, status transitions, the reply window and
//! the content limits a channel declares.

use crate::channel::{AttachmentKind, ContentLimits, ReplyWindow};

/// Conversation status codes (Chatwoot's integers) and names.
pub mod status {
    /// Open.
    pub const OPEN: i64 = 0;
    /// Resolved.
    pub const RESOLVED: i64 = 1;
    /// Pending.
    pub const PENDING: i64 = 2;
    /// Snoozed.
    pub const SNOOZED: i64 = 3;

    /// The JSON name of a status.
    pub fn name(code: i64) -> &'static str {
        match code {
            RESOLVED => "resolved",
            PENDING => "pending",
            SNOOZED => "snoozed",
            _ => "open",
        }
    }

    /// A status from its JSON name.
    pub fn parse(name: &str) -> Option<i64> {
        match name {
            "open" => Some(OPEN),
            "resolved" => Some(RESOLVED),
            "pending" => Some(PENDING),
            "snoozed" => Some(SNOOZED),
            _ => None,
        }
    }

    /// `toggle_status` without a target: open → resolved, anything else → open.
    pub fn toggled(current: i64) -> i64 {
        if current == OPEN { RESOLVED } else { OPEN }
    }
}

/// Message type codes (`message_type` is an integer in API JSON).
pub mod message_type {
    /// From the contact.
    pub const INCOMING: i64 = 0;
    /// From an agent (or the business's own app).
    pub const OUTGOING: i64 = 1;
    /// A system note in the timeline.
    pub const ACTIVITY: i64 = 2;
    /// A provider template.
    pub const TEMPLATE: i64 = 3;

    /// A type from its JSON name.
    pub fn parse(name: &str) -> Option<i64> {
        match name {
            "incoming" => Some(INCOMING),
            "outgoing" => Some(OUTGOING),
            "activity" => Some(ACTIVITY),
            "template" => Some(TEMPLATE),
            _ => None,
        }
    }
}

/// Message delivery status codes and names.
pub mod message_status {
    /// Sent.
    pub const SENT: i64 = 0;
    /// Delivered.
    pub const DELIVERED: i64 = 1;
    /// Read.
    pub const READ: i64 = 2;
    /// Failed.
    pub const FAILED: i64 = 3;

    /// The JSON name of a status.
    pub fn name(code: i64) -> &'static str {
        match code {
            DELIVERED => "delivered",
            READ => "read",
            FAILED => "failed",
            _ => "sent",
        }
    }
}

/// Chatwoot's attachment `file_type` code of an attachment kind.
pub fn file_type_of(kind: crate::channel::AttachmentKind) -> i64 {
    use crate::channel::AttachmentKind as K;
    match kind {
        K::Image => 0,
        K::Audio => 1,
        K::Video => 2,
        K::File => 3,
        K::Location => 4,
        K::Embed => 12,
    }
}

/// The attachment kind of a Chatwoot `file_type` code.
pub fn attachment_kind(file_type: i64) -> crate::channel::AttachmentKind {
    use crate::channel::AttachmentKind as K;
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
    if files.len() > limits.max_attachments as usize {
        return Err(match limits.max_attachments {
            0 => format!("{channel} messages cannot carry attachments"),
            1 => format!("{channel} messages can carry only one attachment; send them one at a time"),
            n => format!("{channel} messages can carry at most {n} attachments"),
        });
    }
    if has_text && !limits.text_with_attachments {
        return Err(format!(
            "{channel} cannot send text and an attachment together; send them as separate messages"
        ));
    }
    for file in files {
        if !limits.attachment_kinds.contains(&file.kind) {
            return Err(format!("{channel} cannot send {:?} attachments", file.kind).to_lowercase());
        }
        if !limits.attachment_mime_types.is_empty()
            && !limits.attachment_mime_types.iter().any(|m| m == file.mime_type)
        {
            return Err(format!(
                "{channel} accepts only {} attachments, not {}",
                limits.attachment_mime_types.join(", "),
                file.mime_type
            ));
        }
        if let Some(max) = limits.max_attachment_bytes
            && file.bytes > max
        {
            return Err(format!(
                "{channel} attachments can be at most {} KiB; this one is {} KiB",
                max / 1024,
                file.bytes / 1024
            ));
        }
    }
    Ok(())
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
        assert_eq!(status::toggled(status::OPEN), status::RESOLVED);
        assert_eq!(status::toggled(status::PENDING), status::OPEN);
        for code in 0..4 {
            assert_eq!(status::parse(status::name(code)), Some(code));
        }
        assert_eq!(status::parse("closed"), None);
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
