//! TikTok Business Messaging channel.
//!
//! Everything TikTok-specific lives here; the host stays generic. This first
//! version describes the channel (settings, egress hosts, content limits,
//! 48-hour reply window) and verifies webhook signatures exactly as TikTok
//! signs them. Authorization, parsing and sending come with the TikTok issue.

pub mod signature;

use switchboard_sdk::types::*;
use switchboard_sdk::{CONTRACT_VERSION, Channel};

/// Default base of TikTok's Business API.
pub const DEFAULT_API_BASE_URL: &str = "https://business-api.tiktok.com/open_api/v1.3";
/// Default base of TikTok's OAuth pages.
pub const DEFAULT_AUTH_BASE_URL: &str = "https://www.tiktok.com";

/// The TikTok channel.
pub struct TikTok;

fn setting(key: &str, description: &str, required: bool, secret: bool, default: Option<&str>) -> SettingSpec {
    SettingSpec {
        key: key.into(),
        description: description.into(),
        required,
        secret,
        default_value: default.map(Into::into),
    }
}

fn not_yet<T>() -> Result<T, ChannelError> {
    Err(ChannelError::permanent(
        ErrorCode::Unsupported,
        "this TikTok plugin version does not do this yet",
    ))
}

impl Channel for TikTok {
    fn describe() -> Manifest {
        Manifest {
            id: "tiktok".into(),
            name: "TikTok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            contract_version: CONTRACT_VERSION.into(),
            description: "TikTok Business Messaging: direct messages with TikTok business accounts".into(),
            settings: vec![
                setting("app_id", "TikTok app id (client key)", true, false, None),
                setting(
                    "app_secret",
                    "TikTok app secret; also signs webhooks",
                    true,
                    true,
                    None,
                ),
                setting(
                    "api_base_url",
                    "Business API base URL",
                    false,
                    false,
                    Some(DEFAULT_API_BASE_URL),
                ),
                setting(
                    "auth_base_url",
                    "OAuth base URL",
                    false,
                    false,
                    Some(DEFAULT_AUTH_BASE_URL),
                ),
            ],
            outbound_hosts: vec![
                "https://business-api.tiktok.com".into(),
                "https://www.tiktok.com".into(),
                "https://open.tiktokapis.com".into(),
            ],
            limits: ContentLimits {
                max_text_chars: Some(6000),
                max_attachments: 1,
                text_with_attachments: false,
                attachment_kinds: vec![AttachmentKind::Image],
                attachment_mime_types: vec!["image/jpeg".into(), "image/png".into()],
                max_attachment_bytes: Some(3 << 20),
            },
            reply_window: ReplyWindow::AfterInboundSecs(48 * 3600),
            supports_authorization: true,
        }
    }

    fn authorization_url(_: Settings, _: String, _: String) -> Result<String, ChannelError> {
        not_yet()
    }

    fn complete_authorization(
        _: Settings,
        _: Vec<KeyValue>,
        _: String,
    ) -> Result<Authorization, ChannelError> {
        not_yet()
    }

    fn refresh_credentials(_: Settings, _: Credentials) -> Result<Credentials, ChannelError> {
        not_yet()
    }

    fn verify_webhook(settings: Settings, request: IncomingRequest) -> Verification {
        let Some(secret) = settings.secret("app_secret") else {
            return Verification::Rejected("app_secret is not configured".into());
        };
        let header = request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("tiktok-signature"))
            .map(|h| h.value.as_str());
        match signature::verify(
            secret.as_bytes(),
            header,
            &request.body,
            switchboard_sdk::now_ms() / 1000,
        ) {
            Ok(()) => Verification::Accepted,
            Err(reason) => Verification::Rejected(reason.to_string()),
        }
    }

    fn parse_event(_: Settings, _: IncomingRequest) -> Result<Vec<ChannelEvent>, ChannelError> {
        not_yet()
    }

    fn send_message(_: ChannelContext, _: OutboundMessage) -> Result<SentMessage, ChannelError> {
        not_yet()
    }

    fn fetch_media(_: ChannelContext, _: String) -> Result<Media, ChannelError> {
        not_yet()
    }
}

// Exported only in the component: a native build of this crate (unit tests,
// the native side of benchmarks) links as an ordinary library.
#[cfg(target_arch = "wasm32")]
switchboard_sdk::export_channel!(TikTok);
