//! The budget of what a plugin may hand back to the host, enforced on every
//! answer as it leaves the sandbox (after conversion to the `contract`
//! types, before anything else sees it).
//!
//! Two kinds of fields, two treatments:
//! - diagnostics (rejection reasons, error messages, ignore reasons, a
//!   status's error) only feed logs, the event log and admin answers: they
//!   are cut to a few KiB with a marker that keeps their original length, so
//!   a hostile plugin cannot fill the disk or the log through them;
//! - data (message text, ids, names, challenge bodies, credentials, event
//!   lists) is what the host stores or answers: truncating it would change
//!   its meaning, so a plugin over budget fails the call with
//!   [`PluginError::OutputBudget`], which says which field and by how much.
//!
//! Media bytes are bounded by the plugin's memory cap and the host's media
//! limit (`app::inbound`), not here.

use crate::contract::{
    Authorization, ChannelError, ChannelEvent, Credentials, Media, MessageEvent, SentMessage, Verification,
    WebhookRegistration,
};

/// Longest message text a plugin may hand the host: the same ceiling agents
/// are held to.
pub const MAX_TEXT_CHARS: usize = crate::contract::MAX_MESSAGE_CHARS;
/// Longest diagnostic kept (reasons, error messages), in bytes.
pub const MAX_REASON_BYTES: usize = 2048;
/// Longest id, name, URL, MIME type or other short field, in bytes.
pub const MAX_FIELD_BYTES: usize = 4096;
/// Most events one webhook may parse into.
pub const MAX_EVENTS: usize = 256;
/// Most attachments one event may carry.
pub const MAX_ATTACHMENTS: usize = 32;
/// Most key-value pairs (headers, metadata, extras) in one answer.
pub const MAX_PAIRS: usize = 64;
/// Largest verification challenge body answered to a provider.
pub const MAX_CHALLENGE_BYTES: usize = 64 << 10;
/// Largest credential field (tokens), in bytes.
pub const MAX_SECRET_BYTES: usize = 16 << 10;

/// A field over its budget: which, and by how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverBudget(pub String);

type Checked<T> = Result<T, OverBudget>;

/// Cuts a diagnostic to [`MAX_REASON_BYTES`] (on a character boundary),
/// noting its original length.
pub fn clip_reason(text: String) -> String {
    clip(text, MAX_REASON_BYTES)
}

/// Cuts `text` to at most `max` bytes (plus the marker), on a character
/// boundary, noting its original length.
pub fn clip(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let original = text.len();
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("… [truncated by the host: {original} bytes]"));
    text
}

fn field(name: &str, value: &str, max: usize) -> Checked<()> {
    if value.len() > max {
        return Err(OverBudget(format!(
            "{name} is {} bytes; the host takes at most {max}",
            value.len()
        )));
    }
    Ok(())
}

fn short(name: &str, value: &str) -> Checked<()> {
    field(name, value, MAX_FIELD_BYTES)
}

fn short_opt(name: &str, value: &Option<String>) -> Checked<()> {
    value.as_deref().map_or(Ok(()), |v| short(name, v))
}

fn count(name: &str, n: usize, max: usize) -> Checked<()> {
    if n > max {
        return Err(OverBudget(format!("{n} {name}; the host takes at most {max}")));
    }
    Ok(())
}

fn pairs(name: &str, pairs: &[(String, String)], max_value: usize) -> Checked<()> {
    count(name, pairs.len(), MAX_PAIRS)?;
    for (key, value) in pairs {
        short(name, key)?;
        field(name, value, max_value)?;
    }
    Ok(())
}

/// A channel error: its message is a diagnostic.
pub fn channel_error(mut e: ChannelError) -> ChannelError {
    e.message = clip_reason(e.message);
    e
}

/// `verify-webhook`'s answer.
pub fn verification(v: Verification) -> Checked<Verification> {
    Ok(match v {
        Verification::Accepted => Verification::Accepted,
        Verification::Rejected(reason) => Verification::Rejected(clip_reason(reason)),
        Verification::Challenge(response) => {
            if response.body.len() > MAX_CHALLENGE_BYTES {
                return Err(OverBudget(format!(
                    "the challenge body is {} bytes; the host answers at most {MAX_CHALLENGE_BYTES}",
                    response.body.len()
                )));
            }
            pairs("challenge headers", &response.headers, MAX_FIELD_BYTES)?;
            Verification::Challenge(response)
        }
    })
}

fn message(m: MessageEvent) -> Checked<MessageEvent> {
    short("channel-external-id", &m.channel_external_id)?;
    short("conversation-id", &m.conversation_id)?;
    short("message-id", &m.message_id)?;
    short("contact external-id", &m.contact.external_id)?;
    short_opt("contact name", &m.contact.name)?;
    short_opt("contact username", &m.contact.username)?;
    short_opt("contact avatar-url", &m.contact.avatar_url)?;
    short_opt("reply-to", &m.reply_to)?;
    if let Some(text) = &m.text {
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(OverBudget(format!(
                "a message text is {chars} characters; the host takes at most {MAX_TEXT_CHARS}"
            )));
        }
    }
    count("attachments", m.attachments.len(), MAX_ATTACHMENTS)?;
    for a in &m.attachments {
        short_opt("attachment url", &a.url)?;
        short_opt("attachment media-ref", &a.media_ref)?;
        short_opt("attachment mime-type", &a.mime_type)?;
        short_opt("attachment file-name", &a.file_name)?;
        pairs("attachment metadata", &a.metadata, MAX_FIELD_BYTES)?;
    }
    Ok(MessageEvent {
        unsupported: m.unsupported.map(clip_reason),
        ..m
    })
}

/// `parse-event`'s events.
pub fn events(events: Vec<ChannelEvent>) -> Checked<Vec<ChannelEvent>> {
    count("events", events.len(), MAX_EVENTS)?;
    events
        .into_iter()
        .map(|event| {
            Ok(match event {
                ChannelEvent::Message(m) => ChannelEvent::Message(message(m)?),
                ChannelEvent::Echo(m) => ChannelEvent::Echo(message(m)?),
                ChannelEvent::Status(mut s) => {
                    short("channel-external-id", &s.channel_external_id)?;
                    short_opt("conversation-id", &s.conversation_id)?;
                    short_opt("message-id", &s.message_id)?;
                    s.error = s.error.map(clip_reason);
                    ChannelEvent::Status(s)
                }
                ChannelEvent::Ignored(reason) => ChannelEvent::Ignored(clip_reason(reason)),
            })
        })
        .collect()
}

/// Credentials from an authorization or a refresh.
pub fn credentials(c: Credentials) -> Checked<Credentials> {
    field("access-token", &c.access_token, MAX_SECRET_BYTES)?;
    if let Some(refresh) = &c.refresh_token {
        field("refresh-token", refresh, MAX_SECRET_BYTES)?;
    }
    pairs("credential extras", &c.extra, MAX_SECRET_BYTES)?;
    Ok(c)
}

/// `complete-authorization`'s answer.
pub fn authorization(a: Authorization) -> Checked<Authorization> {
    short("external-id", &a.identity.external_id)?;
    short("display-name", &a.identity.display_name)?;
    short_opt("username", &a.identity.username)?;
    short_opt("avatar-url", &a.identity.avatar_url)?;
    Ok(Authorization {
        credentials: credentials(a.credentials)?,
        identity: a.identity,
    })
}

/// `authorization-url`'s answer.
pub fn url(u: String) -> Checked<String> {
    short("the URL", &u)?;
    Ok(u)
}

/// `send-message`'s answer.
pub fn sent_message(m: SentMessage) -> Checked<SentMessage> {
    short("message-id", &m.message_id)?;
    Ok(m)
}

/// `fetch-media`'s answer (its bytes are bounded by the caller).
pub fn media(m: Media) -> Checked<Media> {
    short("mime-type", &m.mime_type)?;
    short_opt("file-name", &m.file_name)?;
    Ok(m)
}

/// A webhook registration.
pub fn webhook_registration(r: WebhookRegistration) -> Checked<WebhookRegistration> {
    short_opt("callback-url", &r.callback_url)?;
    pairs("registration details", &r.details, MAX_FIELD_BYTES)?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{ContactProfile, ErrorCode, OutgoingResponse};

    fn text_message(text: String) -> ChannelEvent {
        ChannelEvent::Message(MessageEvent {
            channel_external_id: "a".into(),
            conversation_id: "c".into(),
            contact: ContactProfile {
                external_id: "x".into(),
                name: None,
                username: None,
                avatar_url: None,
            },
            message_id: "m".into(),
            sent_at_ms: 0,
            text: Some(text),
            attachments: vec![],
            reply_to: None,
            unsupported: None,
        })
    }

    #[test]
    fn diagnostics_are_cut_with_their_original_length() {
        let reason = "é".repeat(1 << 20);
        let Verification::Rejected(kept) = verification(Verification::Rejected(reason)).unwrap() else {
            panic!("still a rejection");
        };
        assert!(kept.len() < MAX_REASON_BYTES + 64, "{}", kept.len());
        assert!(kept.ends_with("[truncated by the host: 2097152 bytes]"), "{kept}");
        let error = channel_error(ChannelError {
            code: ErrorCode::Internal,
            message: "x".repeat(20 << 20),
            retryable: false,
            retry_after_ms: None,
        });
        assert!(error.message.len() < MAX_REASON_BYTES + 64);
        assert_eq!(clip_reason("short".into()), "short");
    }

    /// Random strings of every length and alphabet: clipping never panics
    /// (on a character boundary), keeps short text as is, and bounds the rest.
    #[test]
    fn clipping_random_text_never_panics_and_stays_bounded() {
        use rand::Rng;
        let mut rng = rand::rng();
        let alphabets = ["a", "é", "€", "𝄞", "a\u{0}é"];
        for _ in 0..2000 {
            let piece = alphabets[rng.random_range(0..alphabets.len())];
            let text = piece.repeat(rng.random_range(0..2 * MAX_REASON_BYTES));
            let max = rng.random_range(0..3 * MAX_REASON_BYTES);
            let clipped = clip(text.clone(), max);
            if text.len() <= max {
                assert_eq!(clipped, text);
            } else {
                assert!(clipped.len() <= max + 64, "{} > {max}", clipped.len());
                assert!(text.starts_with(clipped.split('…').next().unwrap()));
            }
        }
    }

    #[test]
    fn data_over_budget_fails_the_call_and_says_why() {
        assert!(events(vec![text_message("y".repeat(MAX_TEXT_CHARS))]).is_ok());
        let err = events(vec![text_message("y".repeat(MAX_TEXT_CHARS + 1))]).unwrap_err();
        assert!(err.0.contains("150001 characters"), "{}", err.0);
        let many = (0..=MAX_EVENTS)
            .map(|_| ChannelEvent::Ignored("x".into()))
            .collect();
        assert!(events(many).unwrap_err().0.contains("257 events"));
        let challenge = Verification::Challenge(OutgoingResponse {
            status: 200,
            headers: vec![],
            body: vec![b'z'; MAX_CHALLENGE_BYTES + 1],
        });
        assert!(verification(challenge).unwrap_err().0.contains("challenge body"));
    }
}
