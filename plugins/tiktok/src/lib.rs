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

use switchboard_sdk::manifest::{Limits, Setting};
use switchboard_sdk::types::*;
use switchboard_sdk::{Channel, Webhooks};

use crate::api::HostTransport;
use crate::config::Config;
pub use crate::config::{DEFAULT_API_BASE_URL, DEFAULT_AUTH_BASE_URL};

/// The TikTok channel.
pub struct TikTok;

/// The plugin's manifest.
pub fn manifest() -> Manifest {
    Manifest::builder("tiktok", "TikTok")
        .version(env!("CARGO_PKG_VERSION"))
        .description("TikTok Business Messaging: direct messages with TikTok business accounts")
        .setting(Setting::config("app_id", "TikTok app id (client key)").required())
        .setting(Setting::secret("app_secret", "TikTok app secret; also signs webhooks").required())
        .setting(Setting::config("api_base_url", "Business API base URL").with_default(DEFAULT_API_BASE_URL))
        .setting(Setting::config("auth_base_url", "OAuth base URL").with_default(DEFAULT_AUTH_BASE_URL))
        // Every Business API call: OAuth tokens, profile, messages, media,
        // webhook registration.
        .outbound_host("https://business-api.tiktok.com")
        .outbound_host("https://www.tiktok.com")
        // The media download endpoint answers a URL on TikTok's CDN.
        // Assumption: TikTok serves those images from its image CDNs
        // (`p16-….tiktokcdn.com`, `….tiktokcdn-us.com` for US data), as it
        // does for profile pictures. A URL elsewhere fails with a host
        // denial whose message names the `grant-host` command to allow it.
        .outbound_host("https://*.tiktokcdn.com")
        .outbound_host("https://*.tiktokcdn-us.com")
        .limits(
            Limits::text_only(6000)
                .attachments(1, [AttachmentKind::Image])
                .mime_types(["image/jpeg", "image/png"])
                .max_attachment_bytes(send::MAX_IMAGE_BYTES as u64),
        )
        .reply_window(ReplyWindow::AfterInboundSecs(48 * 3600))
        .supports_authorization(true)
        .build()
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
        signature::SIGNATURE.verify_request(secret.as_bytes(), &request, switchboard_sdk::now_secs())
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
    use switchboard_sdk::CONTRACT_VERSION;

    #[test]
    fn the_manifest_declares_contract_0_2_and_tiktoks_origins() {
        let manifest = manifest();
        assert_eq!(manifest.check(), Ok(()));
        assert_eq!(manifest.id, "tiktok");
        assert_eq!(manifest.contract_version, CONTRACT_VERSION);
        assert!(manifest.supports_authorization);
        for origin in &manifest.outbound_hosts {
            assert_eq!(
                switchboard_sdk::http::origin(origin),
                origin,
                "an origin, no path: {origin}"
            );
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

/// The signed-webhook body both sides of the verify+parse benchmark use (the
/// native `benches/verify_parse.rs` and the host's `switchboard bench tiktok`):
/// one `im_receive_msg` text for business `biz-bench`, sent at `sent_at_ms`.
pub fn bench_webhook(sent_at_ms: u64) -> Vec<u8> {
    let content = serde_json::json!({
        "type": "text",
        "message_id": "bench-1",
        "timestamp": sent_at_ms,
        "conversation_id": "conv-1",
        "text": { "body": "Hello from a TikTok user, with a sentence of realistic length." },
        "from": "user", "from_user": { "id": "user-1" },
        "to": "bench", "to_user": { "id": "biz-bench" },
    });
    serde_json::to_vec(&serde_json::json!({
        "event": "im_receive_msg",
        "user_openid": "biz-bench",
        "content": content.to_string(),
    }))
    .expect("json")
}
