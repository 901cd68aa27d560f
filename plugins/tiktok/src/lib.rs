//! TikTok Business Messaging channel.
//!
//! Direct messages between TikTok users and TikTok business accounts: text,
//! images and shared posts in, text and single JPEG/PNG images out, read
//! receipts, echoes of what the business sent from TikTok's app, a 48-hour
//! reply window after the person's last message. Everything TikTok-specific
//! lives in this crate; the host stays generic.
//!
//! One module per concern, each speaking TikTok's wire format as
//! `shared/docs/tiktok.md` describes it:
//!
//! - [`config`]: the plugin's settings (app id and secret, base URLs);
//! - [`api`]: requests, TikTok's `{code, message, data}` envelope, and the
//!   one mapping of failures onto the host's error codes;
//! - [`oauth`]: authorization URL, code exchange, token refresh;
//! - [`signature`]: the `Tiktok-Signature` webhook check;
//! - [`events`]: webhook deliveries → messages, echoes, read receipts;
//! - [`send`]: text and image replies;
//! - [`media`]: inbound images (the `media-ref` handle and the download);
//! - [`webhooks`]: registering the app's webhook callback with TikTok.
//!
//! The verbs below only read the settings and hand the host's transport and
//! clock to those modules, so every module is unit-tested natively with a
//! scripted transport (`cargo test -p switchboard-plugin-tiktok`).

pub mod api;
pub mod config;
pub mod events;
pub mod media;
pub mod oauth;
pub mod send;
pub mod signature;
pub mod webhooks;

#[cfg(test)]
mod testing;

use switchboard_sdk::types::*;
use switchboard_sdk::{CONTRACT_VERSION, Channel, Webhooks};

use crate::api::HostTransport;
use crate::config::Config;
pub use crate::config::{DEFAULT_API_BASE_URL, DEFAULT_AUTH_BASE_URL};

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

/// The plugin's manifest.
pub fn manifest() -> Manifest {
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
            // Every Business API call: OAuth tokens, profile, messages, media,
            // webhook registration.
            "https://business-api.tiktok.com".into(),
            "https://www.tiktok.com".into(),
            // The media download endpoint answers a URL on TikTok's CDN.
            // Assumption: TikTok serves those images from its image CDNs
            // (`p16-….tiktokcdn.com`, `….tiktokcdn-us.com` for US data), as it
            // does for profile pictures. A URL elsewhere fails with a host
            // denial whose message names the `grant-host` command to allow it.
            "https://*.tiktokcdn.com".into(),
            "https://*.tiktokcdn-us.com".into(),
        ],
        limits: ContentLimits {
            max_text_chars: Some(6000),
            max_attachments: 1,
            text_with_attachments: false,
            attachment_kinds: vec![AttachmentKind::Image],
            attachment_mime_types: vec!["image/jpeg".into(), "image/png".into()],
            max_attachment_bytes: Some(send::MAX_IMAGE_BYTES as u64),
        },
        reply_window: ReplyWindow::AfterInboundSecs(48 * 3600),
        supports_authorization: true,
    }
}

impl Channel for TikTok {
    fn describe() -> Manifest {
        manifest()
    }

    fn authorization_url(
        settings: Settings,
        state: String,
        redirect_uri: String,
    ) -> Result<String, ChannelError> {
        let config = Config::from_settings(&settings)?;
        Ok(oauth::authorization_url(&config, &state, &redirect_uri))
    }

    fn complete_authorization(
        settings: Settings,
        query: Vec<KeyValue>,
        redirect_uri: String,
    ) -> Result<Authorization, ChannelError> {
        let config = Config::from_settings(&settings)?;
        oauth::complete_authorization(
            &config,
            &query,
            &redirect_uri,
            &HostTransport,
            switchboard_sdk::now_ms(),
        )
    }

    fn refresh_credentials(settings: Settings, current: Credentials) -> Result<Credentials, ChannelError> {
        let config = Config::from_settings(&settings)?;
        oauth::refresh_credentials(&config, current, &HostTransport, switchboard_sdk::now_ms())
    }

    fn verify_webhook(settings: Settings, request: IncomingRequest) -> Verification {
        let Some(secret) = settings.secret("app_secret") else {
            return Verification::Rejected("app_secret is not configured".into());
        };
        let header = api::header(&request.headers, "tiktok-signature");
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

    fn parse_event(_: Settings, request: IncomingRequest) -> Result<Vec<ChannelEvent>, ChannelError> {
        events::parse_event(&request.body)
    }

    fn send_message(context: ChannelContext, message: OutboundMessage) -> Result<SentMessage, ChannelError> {
        let config = Config::from_settings(&context.settings)?;
        send::send_message(
            &config,
            &context,
            &message,
            &HostTransport,
            switchboard_sdk::now_ms(),
        )
    }

    fn fetch_media(context: ChannelContext, media_ref: String) -> Result<Media, ChannelError> {
        let config = Config::from_settings(&context.settings)?;
        media::fetch_media(&config, &context, &media_ref, &HostTransport)
    }
}

impl Webhooks for TikTok {
    fn register_webhook(
        settings: Settings,
        callback_url: String,
    ) -> Result<WebhookRegistration, ChannelError> {
        let config = Config::from_settings(&settings)?;
        webhooks::register_webhook(&config, &callback_url, &HostTransport)
    }

    fn current_webhook(settings: Settings) -> Result<WebhookRegistration, ChannelError> {
        let config = Config::from_settings(&settings)?;
        webhooks::current_webhook(&config, &HostTransport)
    }
}

// Exported only in the component: a native build of this crate (unit tests,
// the native side of benchmarks) links as an ordinary library.
#[cfg(target_arch = "wasm32")]
switchboard_sdk::export_channel!(TikTok);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_declares_contract_0_2_and_tiktoks_origins() {
        let manifest = manifest();
        assert_eq!(manifest.id, "tiktok");
        assert_eq!(manifest.contract_version, CONTRACT_VERSION);
        assert!(manifest.supports_authorization);
        for origin in &manifest.outbound_hosts {
            assert_eq!(api::origin(origin), origin, "an origin, no path: {origin}");
            assert!(origin.starts_with("https://"), "{origin}");
        }
        assert!(
            manifest
                .outbound_hosts
                .iter()
                .any(|o| DEFAULT_API_BASE_URL.starts_with(o.as_str()))
        );
        assert_eq!(manifest.limits.max_attachment_bytes, Some(3 * 1024 * 1024));
    }
}
