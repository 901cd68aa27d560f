//! The plugin's settings, read once per call: the TikTok app's credentials
//! and the two base URLs (overridable so tests and staging can point the
//! plugin at another server).

use switchboard_sdk::types::{ChannelError, Settings};

/// Default base of TikTok's Business API; endpoint paths such as
/// `/business/message/send/` are appended to it.
pub const DEFAULT_API_BASE_URL: &str = "https://business-api.tiktok.com/open_api/v1.3";
/// Default base of TikTok's OAuth pages.
pub const DEFAULT_AUTH_BASE_URL: &str = "https://www.tiktok.com";

/// The settings every verb needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The TikTok app id (TikTok's `client_key` / `client_id`).
    pub app_id: String,
    /// The TikTok app secret (`client_secret`; also signs webhooks).
    pub app_secret: String,
    api_base_url: String,
    auth_base_url: String,
}

impl Config {
    /// Reads the settings; `app_id` and `app_secret` are required, the base
    /// URLs default to TikTok's and lose any trailing slash.
    pub fn from_settings(settings: &Settings) -> Result<Self, ChannelError> {
        let base_url =
            |key: &str, default: &str| settings.config_or(key, default).trim_end_matches('/').to_owned();
        Ok(Self {
            app_id: settings.required_config("app_id")?.to_owned(),
            app_secret: settings.required_secret("app_secret")?.to_owned(),
            api_base_url: base_url("api_base_url", DEFAULT_API_BASE_URL),
            auth_base_url: base_url("auth_base_url", DEFAULT_AUTH_BASE_URL),
        })
    }

    /// The Business API URL of `path` (which starts with `/`).
    pub fn api_url(&self, path: &str) -> String {
        format!("{}{path}", self.api_base_url)
    }

    /// The OAuth URL of `path` (which starts with `/`).
    pub fn auth_url(&self, path: &str) -> String {
        format!("{}{path}", self.auth_base_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_sdk::types::{ErrorCode, KeyValue};

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn defaults_apply_and_trailing_slashes_go() {
        let settings = Settings {
            config: vec![kv("app_id", " app "), kv("auth_base_url", "https://auth.test//")],
            secrets: vec![kv("app_secret", "secret")],
        };
        let config = Config::from_settings(&settings).unwrap();
        assert_eq!(config.app_id, "app");
        assert_eq!(
            config.api_url("/business/get/"),
            "https://business-api.tiktok.com/open_api/v1.3/business/get/"
        );
        assert_eq!(
            config.auth_url("/v2/auth/authorize"),
            "https://auth.test/v2/auth/authorize"
        );
    }

    #[test]
    fn the_app_credentials_are_required() {
        let no_secret = Settings {
            config: vec![kv("app_id", "app")],
            secrets: vec![kv("app_secret", "  ")],
        };
        let error = Config::from_settings(&no_secret).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidRequest);
        assert!(error.message.contains("`app_secret`"), "{}", error.message);
        let no_id = Settings {
            config: vec![],
            secrets: vec![kv("app_secret", "secret")],
        };
        assert!(
            Config::from_settings(&no_id)
                .unwrap_err()
                .message
                .contains("`app_id`")
        );
    }
}
