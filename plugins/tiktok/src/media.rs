//! Inbound media: the handle an image attachment carries from `parse-event`
//! to `fetch-media`, and fetching its bytes.
//!
//! TikTok's webhook names an image only by `media_id`; its bytes come from
//! `/business/message/media/download/`, which also wants the conversation
//! and the message. So the handle ([`MediaRef`]) is those three ids as a
//! small JSON object, e.g.
//! `{"conversation_id":"tt-conv-1","message_id":"tt-msg-1","media_id":"m-1"}`.
//! The download endpoint answers a short-lived URL that is fetched with the
//! access token in the `x-user` header.

use serde::{Deserialize, Serialize};
use switchboard_sdk::http::{Request, percent_decode};
use switchboard_sdk::types::{ChannelContext, ChannelError, ErrorCode, Media};

use crate::api::{self, Transport};
use crate::config::Config;

/// Used when the download answers no usable `Content-Type`: TikTok's images
/// are JPEGs unless their bytes say otherwise.
const DEFAULT_MIME_TYPE: &str = "image/jpeg";

/// The handle of an inbound image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    /// TikTok's conversation id.
    pub conversation_id: String,
    /// TikTok's id of the message that carried the image.
    pub message_id: String,
    /// TikTok's id of the image.
    pub media_id: String,
}

impl MediaRef {
    /// The handle as the `media-ref` string the host stores.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("three strings always serialise")
    }

    /// Reads a handle made by [`MediaRef::encode`].
    pub fn decode(media_ref: &str) -> Result<Self, ChannelError> {
        serde_json::from_str(media_ref).map_err(|e| {
            ChannelError::permanent(
                ErrorCode::InvalidRequest,
                format!("not a TikTok media reference ({e}): {media_ref}"),
            )
        })
    }
}

#[derive(Serialize)]
struct DownloadRequest<'a> {
    business_id: &'a str,
    conversation_id: &'a str,
    message_id: &'a str,
    media_id: &'a str,
    media_type: &'static str,
}

#[derive(Deserialize)]
struct Download {
    download_url: String,
}

/// Resolves a [`MediaRef`] to the image's bytes.
pub fn fetch_media(
    config: &Config,
    context: &ChannelContext,
    media_ref: &str,
    transport: &impl Transport,
) -> Result<Media, ChannelError> {
    let media = MediaRef::decode(media_ref)?;
    let token = context.credentials.access_token.as_str();
    let lookup = api::post_json(
        &config.api_url("/business/message/media/download/"),
        Some(token),
        &DownloadRequest {
            business_id: &context.external_id,
            conversation_id: &media.conversation_id,
            message_id: &media.message_id,
            media_id: &media.media_id,
            media_type: "IMAGE",
        },
    );
    let Download { download_url } = api::call(transport, lookup)?;
    let response = api::fetch(transport, Request::get(&download_url).header("x-user", token))?;
    let mime_type = response
        .content_type()
        .filter(|mime| !is_generic(mime))
        .or_else(|| sniff_image(&response.body).map(str::to_owned))
        .unwrap_or_else(|| DEFAULT_MIME_TYPE.to_owned());
    Ok(Media {
        mime_type,
        file_name: file_name(&download_url),
        data: response.body,
    })
}

/// A `Content-Type` that says nothing about the file.
fn is_generic(mime: &str) -> bool {
    matches!(mime, "application/octet-stream" | "binary/octet-stream")
}

/// The image type its first bytes announce.
fn sniff_image(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(b"GIF8") {
        Some("image/gif")
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The last segment of the URL's path, when it looks like a file name
/// (`name.ext`): CDN paths often end in an opaque id instead.
fn file_name(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let (_, path) = path.split_once('/')?;
    let name = percent_decode(path.rsplit('/').next()?);
    let (stem, extension) = name.rsplit_once('.')?;
    let looks_like_a_file = !stem.is_empty()
        && (1..=5).contains(&extension.len())
        && extension.chars().all(|c| c.is_ascii_alphanumeric())
        && name.len() <= 255
        && !name.chars().any(|c| c.is_control() || c == '\\' || c == '/');
    looks_like_a_file.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeTransport, config, context, header, http_header, json_body, ok, response};
    use serde_json::json;
    use switchboard_sdk::types::{HttpError, HttpErrorCode};

    fn media_ref() -> String {
        MediaRef {
            conversation_id: "tt-conv-1".into(),
            message_id: "tt-msg-1".into(),
            media_id: "media-9".into(),
        }
        .encode()
    }

    #[test]
    fn the_media_ref_is_small_json() {
        assert_eq!(
            media_ref(),
            r#"{"conversation_id":"tt-conv-1","message_id":"tt-msg-1","media_id":"media-9"}"#
        );
        let error = MediaRef::decode("media-9").unwrap_err();
        assert_eq!((error.code, error.retryable), (ErrorCode::InvalidRequest, false));
    }

    #[test]
    fn fetching_asks_for_a_download_url_then_downloads_with_x_user() {
        let url = "https://p16-im.tiktokcdn.com/obj/im-media/photo%201.png?x-expires=1&x-signature=abc";
        let mut image = response(200, b"\x89PNG\r\n\x1a\nrest".to_vec());
        image
            .headers
            .push(http_header("Content-Type", "image/png; charset=binary"));
        let transport = FakeTransport::new([ok(json!({"download_url": url})), Ok(image)]);
        let media = fetch_media(&config(), &context(), &media_ref(), &transport).unwrap();

        let lookup = transport.request(0);
        assert_eq!(lookup.method, "POST");
        assert_eq!(
            lookup.url,
            "https://business-api.tiktok.com/open_api/v1.3/business/message/media/download/"
        );
        assert_eq!(header(&lookup, "access-token"), Some("token-123"));
        assert_eq!(
            json_body(&lookup),
            json!({
                "business_id": "biz-123",
                "conversation_id": "tt-conv-1",
                "message_id": "tt-msg-1",
                "media_id": "media-9",
                "media_type": "IMAGE",
            })
        );
        let download = transport.request(1);
        assert_eq!((download.method.as_str(), download.url.as_str()), ("GET", url));
        assert_eq!(header(&download, "x-user"), Some("token-123"));
        assert_eq!(header(&download, "access-token"), None);

        assert_eq!(media.mime_type, "image/png");
        assert_eq!(media.file_name.as_deref(), Some("photo 1.png"));
        assert_eq!(media.data, b"\x89PNG\r\n\x1a\nrest");
    }

    #[test]
    fn without_a_content_type_the_bytes_or_jpeg_decide() {
        let url = "https://p16-im.tiktokcdn.com/obj/7300000000";
        let transport = FakeTransport::new([
            ok(json!({"download_url": url})),
            Ok(response(200, b"\x89PNG\r\n\x1a\n".to_vec())),
            ok(json!({"download_url": url})),
            Ok(response(200, b"????".to_vec())),
        ]);
        let png = fetch_media(&config(), &context(), &media_ref(), &transport).unwrap();
        assert_eq!((png.mime_type.as_str(), png.file_name), ("image/png", None));
        let unknown = fetch_media(&config(), &context(), &media_ref(), &transport).unwrap();
        assert_eq!(unknown.mime_type, "image/jpeg");
    }

    #[test]
    fn a_failed_download_is_mapped_like_any_api_error() {
        let url = "https://p16-im.tiktokcdn.com/obj/a.jpeg?x-signature=secret-sig";
        let transport = FakeTransport::new([
            ok(json!({"download_url": url})),
            Ok(response(403, b"expired".to_vec())),
            ok(json!({"download_url": url})),
            Err(HttpError {
                code: HttpErrorCode::Denied,
                message: "https://p16-im.tiktokcdn.com is not an origin this plugin declared or was granted"
                    .into(),
            }),
        ]);
        let expired = fetch_media(&config(), &context(), &media_ref(), &transport).unwrap_err();
        assert_eq!(
            (expired.code, expired.message.as_str()),
            (ErrorCode::ProviderRejected, "403: expired")
        );
        let denied = fetch_media(&config(), &context(), &media_ref(), &transport).unwrap_err();
        assert_eq!(denied.code, ErrorCode::Network);
        assert!(
            denied
                .message
                .contains("switchboard plugin grant-host tiktok https://p16-im.tiktokcdn.com"),
            "{}",
            denied.message
        );
        assert!(!denied.message.contains("secret-sig"));
    }

    #[test]
    fn file_names_come_only_from_file_like_segments() {
        assert_eq!(
            file_name("https://x.test/a/b.jpeg?s=1").as_deref(),
            Some("b.jpeg")
        );
        assert_eq!(
            file_name("https://x.test/a/abc~c5_100x100.jpeg").as_deref(),
            Some("abc~c5_100x100.jpeg")
        );
        assert_eq!(file_name("https://x.test/a/7300000000"), None);
        assert_eq!(file_name("https://x.test/a/.hidden"), None);
        assert_eq!(file_name("https://x.test/"), None);
        assert_eq!(file_name("https://x.test"), None);
        assert_eq!(file_name("https://x.test/a%2Fb.png"), None);
    }
}
