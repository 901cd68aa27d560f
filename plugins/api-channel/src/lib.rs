//! The API channel: any system talks to Switchboard over plain HTTP, like
//! Chatwoot's API inbox. It posts its contacts' messages in through a signed
//! webhook and receives the agents' replies at a URL it configures. Nothing
//! here knows a particular provider.
//!
//! # Settings
//!
//! Read as `API_CHANNEL_<KEY>` (installation config or environment):
//!
//! | key | kind | |
//! |---|---|---|
//! | `signing_secret` | secret, required | signs inbound webhooks |
//! | `outbound_url` | config, required | where replies are POSTed |
//! | `outbound_secret` | secret, optional | when set, replies are signed with it |
//! | `account_id` | config, default `default` | the account an inbox binds to |
//!
//! # Signatures
//!
//! Header `X-Switchboard-Signature: t=<unix secs>,v1=<hex>` where the hex is
//! HMAC-SHA256 of `"<t>.<raw body>"` keyed with the secret (several `v1`
//! values may be sent while rotating a secret; one must match). Inbound
//! webhooks need it with `signing_secret`, at most 300 s old and 30 s in the
//! future; replies carry it with `outbound_secret` when that is set.
//! Surrounding whitespace of either secret is ignored.
//!
//! # Inbound: `POST /webhooks/api-channel`
//!
//! - `{"type": "message", "conversation_id", "contact": {"id", "name"?,
//!   "email"?, "username"?, "avatar_url"?}, "message": {"id", "text"?,
//!   "attachments"?: [{"url", "kind"?, "mime_type"?, "file_name"?}],
//!   "sent_at_ms"?, "reply_to"?}, "account_id"?}`: a contact's message;
//! - `{"type": "echo", …}`, same shape: a message the system itself sent to
//!   the contact (shown as outgoing);
//! - `{"type": "status", "message_id", "status": "delivered" | "read" |
//!   "failed", "error"?, "conversation_id"?, "account_id"?}`: the state of a
//!   reply (`message_id` is what the system answered when it got the reply);
//! - any other `type` is acknowledged and ignored (the reason is logged);
//!   a body that is not one of these is an `invalid-request` error.
//!
//! `account_id` routes the event to the inbox whose external id it is; it
//! defaults to the `account_id` setting. Whoever holds `signing_secret` can
//! post into every API inbox of this installation.
//!
//! A `GET /webhooks/api-channel?challenge=X` signed over the empty body is a
//! handshake: it is answered `200 text/plain` with `X`, and nothing is stored.
//!
//! # Outbound: `POST <outbound_url>`
//!
//! `{"account_id", "conversation_id", "recipient_id", "text", "attachments":
//! [{"kind", "file_name", "mime_type", "data_base64"}], "reply_to",
//! "idempotency_key"}` with `Idempotency-Key: <key>` (the same on every
//! attempt of one reply: receivers should deduplicate on it). A 2xx answer
//! carries `{"message_id", "status"?}` (`sent` unless it says `delivered`
//! or `read`); 429 and 5xx are retried (honouring `Retry-After`); any
//! other status fails the reply with the body's `error` or the status text.
//!
//! The host refuses every origin a plugin has not declared or been granted,
//! and this plugin declares none: `outbound_url` is the admin's choice, so
//! the admin grants its origin, e.g.
//! `switchboard plugin grant-host api-channel https://crm.example`. A grant
//! is also what lets the host reach a private or loopback address.
//!
//! # Limits
//!
//! Text up to 65 536 characters, up to 10 attachments of any kind with or
//! without text, each at most 10 MiB. Attachments travel base64-encoded
//! inside the JSON, and the host caps one outbound request at 16 MiB: a
//! reply whose attachments total more than about 12 MiB fails with the
//! host's size-cap error. Replies are possible at any time. There is no
//! authorization flow (an administrator creates the inbox with the account
//! id) and no media fetching (inbound attachments are URLs).

pub mod inbound;
pub mod outbound;

use switchboard_sdk::http::HostTransport;
use switchboard_sdk::manifest::{Limits, Setting};
use switchboard_sdk::signature::{TimestampWindow, TimestampedSignature};
use switchboard_sdk::types::*;
use switchboard_sdk::{Channel, Webhooks};

/// The plugin id: `/webhooks/api-channel`, settings `API_CHANNEL_*`.
///
/// Not `api`: the host reserves that id for its own routes.
pub const PLUGIN_ID: &str = "api-channel";

/// The signature of inbound webhooks and (with `outbound_secret`) of replies.
pub const SIGNATURE: TimestampedSignature = TimestampedSignature::new(
    "X-Switchboard-Signature",
    "t",
    "v1",
    TimestampWindow::new(300, 30),
);

/// Longest text, in Unicode scalar values.
pub const MAX_TEXT_CHARS: u32 = 65_536;
/// Most attachments in one message, either way.
pub const MAX_ATTACHMENTS: u32 = 10;
/// Largest outbound attachment, in bytes.
pub const MAX_ATTACHMENT_BYTES: u64 = 10 << 20;
/// The account an inbox binds to when the `account_id` setting is not set.
pub const DEFAULT_ACCOUNT_ID: &str = "default";

/// The API channel.
pub struct Api;

/// The plugin's manifest.
pub fn manifest() -> Manifest {
    Manifest::builder(PLUGIN_ID, "API")
        .version(env!("CARGO_PKG_VERSION"))
        .description("Any system posts messages in through a signed webhook and receives replies at a URL")
        .setting(
            Setting::secret(
                "signing_secret",
                "Signs inbound webhooks (X-Switchboard-Signature)",
            )
            .required(),
        )
        .setting(Setting::config("outbound_url", "Where replies are POSTed as JSON").required())
        .setting(Setting::secret(
            "outbound_secret",
            "When set, replies carry X-Switchboard-Signature made with it",
        ))
        .setting(
            Setting::config(
                "account_id",
                "The account id inboxes bind to (the webhook's default)",
            )
            .with_default(DEFAULT_ACCOUNT_ID),
        )
        // No outbound host: `outbound_url` is the admin's, who grants its
        // origin with `switchboard plugin grant-host api-channel <origin>`.
        .limits(
            Limits::text_only(MAX_TEXT_CHARS)
                .attachments(MAX_ATTACHMENTS, AttachmentKind::ALL)
                .text_with_attachments(true)
                .max_attachment_bytes(MAX_ATTACHMENT_BYTES),
        )
        .reply_window(ReplyWindow::Unlimited)
        .supports_authorization(false)
        .build()
}

fn no_authorization() -> ChannelError {
    ChannelError::unsupported(
        "the API channel has no authorization flow: an administrator creates its inbox with the account id",
    )
}

impl Channel for Api {
    fn describe() -> Manifest {
        manifest()
    }

    fn authorization_url(_: Settings, _: String, _: String) -> Result<String, ChannelError> {
        Err(no_authorization())
    }

    fn complete_authorization(
        _: Settings,
        _: Vec<KeyValue>,
        _: String,
    ) -> Result<Authorization, ChannelError> {
        Err(no_authorization())
    }

    fn refresh_credentials(_: Settings, _: Credentials) -> Result<Credentials, ChannelError> {
        Err(no_authorization())
    }

    fn verify_webhook(settings: Settings, request: IncomingRequest) -> Verification {
        inbound::verify(&settings, &request, switchboard_sdk::now_secs())
    }

    fn parse_event(settings: Settings, request: IncomingRequest) -> Result<Vec<ChannelEvent>, ChannelError> {
        inbound::parse_event(&settings, &request.body, switchboard_sdk::now_ms())
    }

    fn send_message(context: ChannelContext, message: OutboundMessage) -> Result<SentMessage, ChannelError> {
        outbound::send_message(&context, &message, &HostTransport, switchboard_sdk::now_secs())
    }

    fn fetch_media(_: ChannelContext, _: String) -> Result<Media, ChannelError> {
        Err(ChannelError::unsupported(
            "the API channel's attachments are URLs; there is no media to fetch",
        ))
    }
}

// There is no provider to register a callback with: the sending system is
// configured with the host's `/webhooks/api-channel` URL.
impl Webhooks for Api {}

// Exported only in the component: a native build of this crate (unit tests)
// links as an ordinary library.
#[cfg(target_arch = "wasm32")]
switchboard_sdk::export_channel!(Api);

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_sdk::CONTRACT_VERSION;
    use switchboard_sdk::testing::{context, credentials, settings};

    fn configured() -> Settings {
        settings(
            &[
                ("outbound_url", "https://crm.example/replies"),
                ("account_id", "acct-1"),
            ],
            &[("signing_secret", "in-secret"), ("outbound_secret", "out-secret")],
        )
    }

    #[test]
    fn the_manifest_is_valid_and_declares_no_origin() {
        let manifest = manifest();
        assert_eq!(manifest.check(), Ok(()));
        assert_eq!(manifest.id, PLUGIN_ID);
        assert_eq!(manifest.contract_version, CONTRACT_VERSION);
        assert!(manifest.outbound_hosts.is_empty());
        assert!(!manifest.supports_authorization);
        assert!(matches!(manifest.reply_window, ReplyWindow::Unlimited));
        let limits = &manifest.limits;
        assert_eq!(limits.max_text_chars, Some(65_536));
        assert_eq!((limits.max_attachments, limits.attachment_kinds.len()), (10, 6));
        assert!(limits.text_with_attachments && limits.attachment_mime_types.is_empty());
        assert_eq!(limits.max_attachment_bytes, Some(10 * 1024 * 1024));
        let keys: Vec<_> = manifest
            .settings
            .iter()
            .map(|s| (s.key.as_str(), s.required, s.secret))
            .collect();
        assert_eq!(
            keys,
            [
                ("signing_secret", true, true),
                ("outbound_url", true, false),
                ("outbound_secret", false, true),
                ("account_id", false, false),
            ]
        );
    }

    #[test]
    fn authorization_and_media_are_unsupported() {
        let unsupported = |result: Result<(), ChannelError>| {
            let error = result.unwrap_err();
            assert_eq!((error.code, error.retryable), (ErrorCode::Unsupported, false));
        };
        unsupported(Api::authorization_url(configured(), "s".into(), "r".into()).map(drop));
        unsupported(Api::complete_authorization(configured(), vec![], "r".into()).map(drop));
        unsupported(Api::refresh_credentials(configured(), credentials("x")).map(drop));
        unsupported(Api::fetch_media(context(configured(), "acct-1", credentials("")), "m".into()).map(drop));
        let registration =
            <Api as Webhooks>::register_webhook(configured(), "https://h/webhooks/api-channel".into());
        assert_eq!(registration.unwrap_err().code, ErrorCode::Unsupported);
    }

    // The fake host stands behind the SDK's imports in native builds only.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_verbs_run_against_a_fake_host() {
        use serde_json::json;
        use switchboard_sdk::testing::{FakeHost, header, incoming, json_body, ok_json};

        const NOW_SECS: u64 = 1_700_000_000;

        let host = FakeHost::install();
        host.set_now_ms(NOW_SECS * 1000);

        // verify-webhook and parse-event, with the host's clock.
        let body = json!({
            "type": "message",
            "conversation_id": "c-1",
            "contact": {"id": "u-1", "name": "Ada"},
            "message": {"id": "m-1", "text": "Hello"},
        })
        .to_string();
        let signature = SIGNATURE.sign(b"in-secret", NOW_SECS - 10, body.as_bytes());
        let request = incoming(
            "POST",
            "/webhooks/api-channel",
            &[("X-Switchboard-Signature", &signature)],
            body,
        );
        assert!(matches!(
            Api::verify_webhook(configured(), request.clone()),
            Verification::Accepted
        ));
        let events = Api::parse_event(configured(), request).unwrap();
        match &events[..] {
            [ChannelEvent::Message(m)] => {
                assert_eq!(
                    (m.channel_external_id.as_str(), m.sent_at_ms),
                    ("acct-1", NOW_SECS * 1000)
                );
            }
            other => panic!("{other:?}"),
        }

        // send-message through the host's `http-client`.
        host.answer(ok_json(json!({"message_id": "crm-9", "status": "delivered"})));
        let message = switchboard_sdk::testing::text_message("c-1", "Hi Ada");
        let sent = Api::send_message(context(configured(), "acct-1", credentials("")), message).unwrap();
        assert_eq!(sent.message_id, "crm-9");
        assert_eq!(sent.status, DeliveryStatus::Delivered);
        let posted = host.request(0);
        assert_eq!(posted.url, "https://crm.example/replies");
        assert_eq!(header(&posted, "idempotency-key"), Some("key-1"));
        assert_eq!(json_body(&posted)["text"], "Hi Ada");
        let signature = header(&posted, "x-switchboard-signature").unwrap();
        assert_eq!(
            SIGNATURE.verify(b"out-secret", Some(signature), &posted.body, NOW_SECS),
            Ok(NOW_SECS)
        );
    }
}
