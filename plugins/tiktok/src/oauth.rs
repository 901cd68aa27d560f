//! Connecting a TikTok business account: the authorization URL, the code
//! exchange (with the granted-scopes check and the account's profile), and
//! refreshing the access token.
//!
//! TikTok's access tokens live about a day and refresh tokens about a month.
//! The host decides when to refresh (on `unauthorized`, or ahead of
//! `expires_at_ms`); this module only answers whether it still can.

use serde::{Deserialize, Serialize};
use switchboard_sdk::http::{Request, with_query};
use switchboard_sdk::oauth::{CallbackError, TokenResponse, callback_code};
use switchboard_sdk::types::{
    Authorization, ChannelError, ChannelIdentity, Credentials, ErrorCode, KeyValue,
};

use crate::api::{self, ApiError, Transport};
use crate::config::Config;

/// The scopes the channel asks for, in the order TikTok's authorization page
/// lists them. All of them must be granted: without `message.list.*` the
/// channel can neither read nor send, and TikTok lets the user untick some.
pub const REQUIRED_SCOPES: [&str; 9] = [
    "user.info.basic",
    "user.info.username",
    "user.info.stats",
    "user.info.profile",
    "user.account.type",
    "user.insights",
    "message.list.read",
    "message.list.send",
    "message.list.manage",
];

/// What TikTok answers when it does not say why the user came back without a
/// code (the reference integration's wording).
const CANCELLED: &str = "User cancelled the Authorization";

/// The page to send the user to. Parameters are in alphabetical order, as in
/// the URLs TikTok's own client libraries produce.
pub fn authorization_url(config: &Config, state: &str, redirect_uri: &str) -> String {
    with_query(
        &config.auth_url("/v2/auth/authorize"),
        &[
            ("client_key", &config.app_id),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", &REQUIRED_SCOPES.join(",")),
            ("state", state),
        ],
    )
}

#[derive(Serialize)]
struct CodeExchange<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    grant_type: &'static str,
    auth_code: &'a str,
    redirect_uri: &'a str,
}

#[derive(Serialize)]
struct Refresh<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    grant_type: &'static str,
    refresh_token: &'a str,
}

/// `data` of the token and refresh endpoints: the standard token fields
/// (lifetimes in seconds, `scope` comma-separated) plus the account's id.
#[derive(Deserialize)]
struct Token {
    /// The business account's id (the code exchange only).
    open_id: Option<String>,
    #[serde(flatten)]
    token: TokenResponse,
}

/// `data` of `/business/get/`.
#[derive(Deserialize)]
struct Profile {
    username: Option<String>,
    display_name: Option<String>,
    profile_image: Option<String>,
}

/// Completes the authorization from the callback's query: exchanges the
/// code, checks that every required scope was granted, and reads the
/// account's profile.
pub fn complete_authorization(
    config: &Config,
    query: &[KeyValue],
    redirect_uri: &str,
    transport: &impl Transport,
    now_ms: u64,
) -> Result<Authorization, ChannelError> {
    let code = callback_code(query).map_err(|error| match error {
        CallbackError::Denied { error, description } => {
            let message = match description {
                Some(description) => description,
                None if error == "access_denied" => CANCELLED.to_owned(),
                // e.g. `invalid_scope` when the TikTok app lacks the messaging
                // scopes: "cancelled" would send the admin looking in the wrong place.
                None => format!("TikTok refused the authorization: {error}"),
            };
            ChannelError::permanent(ErrorCode::AccessDenied, message)
        }
        missing @ CallbackError::MissingCode => missing.into(),
    })?;

    let exchange = api::post_json(
        &config.api_url("/tt_user/oauth2/token/"),
        None,
        &CodeExchange {
            client_id: &config.app_id,
            client_secret: &config.app_secret,
            grant_type: "authorization_code",
            auth_code: code,
            redirect_uri,
        },
    );
    let Token { open_id, token } = api::call(transport, exchange)?;
    let open_id = open_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::malformed("the token answer has no `open_id`"))?;
    let scope = token.scope.clone().unwrap_or_default();
    let missing = missing_scopes(&scope);
    if !missing.is_empty() {
        return Err(ChannelError::permanent(
            ErrorCode::AccessDenied,
            format!(
                "User did not grant all the required scopes (missing: {})",
                missing.join(", ")
            ),
        ));
    }

    let profile = Request::get(config.api_url("/business/get/"))
        .query(&[
            ("business_id", &open_id),
            ("fields", r#"["username","display_name","profile_image"]"#),
        ])
        .header("Accept", "application/json")
        .header("Access-Token", &token.access_token);
    let profile: Profile = api::call(transport, profile)?;
    let non_empty = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let username = non_empty(profile.username);
    let display_name = non_empty(profile.display_name)
        .or_else(|| username.clone())
        .unwrap_or_else(|| open_id.clone());
    let identity = ChannelIdentity {
        external_id: open_id,
        display_name,
        username,
        avatar_url: non_empty(profile.profile_image),
    };
    Ok(Authorization {
        credentials: token.into_credentials(now_ms, vec![]),
        identity,
    })
}

/// Obtains a fresh access token. Errors with `reauthorization-required`
/// when the refresh token is missing, expired, or refused as invalid.
pub fn refresh_credentials(
    config: &Config,
    current: Credentials,
    transport: &impl Transport,
    now_ms: u64,
) -> Result<Credentials, ChannelError> {
    let reauthorize = |why: &str| {
        ChannelError::permanent(
            ErrorCode::ReauthorizationRequired,
            format!("{why}; reconnect the TikTok account"),
        )
    };
    let Some(refresh_token) = current.refresh_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(reauthorize("there is no TikTok refresh token"));
    };
    if current.refresh_expires_at_ms.is_some_and(|at| at <= now_ms) {
        return Err(reauthorize("the TikTok refresh token has expired"));
    }
    let request = api::post_json(
        &config.api_url("/tt_user/oauth2/refresh_token/"),
        None,
        &Refresh {
            client_id: &config.app_id,
            client_secret: &config.app_secret,
            grant_type: "refresh_token",
            refresh_token,
        },
    );
    let Token { token, .. } = api::call(transport, request).map_err(|error| match error {
        // On this endpoint an invalid or expired token is the refresh token:
        // refreshing again cannot help, a person must reconnect.
        ApiError::Provider {
            code: code @ (40105 | 40107),
            message,
        } => reauthorize(&format!("{code}: {message}")),
        other => other.into(),
    })?;
    // TikTok may answer without a new refresh token; the old one still holds.
    Ok(token.into_refreshed(current, now_ms))
}

/// The required scopes missing from TikTok's comma-separated `scope`.
fn missing_scopes(granted: &str) -> Vec<&'static str> {
    let granted: Vec<&str> = granted.split(',').map(str::trim).collect();
    REQUIRED_SCOPES
        .into_iter()
        .filter(|scope| !granted.contains(scope))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeTransport, config, envelope, header, json_body, kv, ok};
    use serde_json::json;

    const NOW: u64 = 1_700_000_000_000;

    fn token_data(scope: &str) -> serde_json::Value {
        json!({
            "open_id": "biz-123",
            "scope": scope,
            "access_token": "act-1",
            "refresh_token": "rft-1",
            "expires_in": 86400,
            "refresh_token_expires_in": 2592000,
            "token_type": "Bearer",
        })
    }

    fn profile() -> serde_json::Value {
        json!({
            "username": "tiktok_user",
            "display_name": "TikTok Display Name",
            "profile_image": "https://p16.tiktokcdn.com/avatar.jpeg",
        })
    }

    fn callback(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
        pairs.iter().map(|(k, v)| kv(k, v)).collect()
    }

    #[test]
    fn the_authorization_url_matches_tiktoks() {
        let url = authorization_url(&config(), "st/ate=1", "https://my.url/tiktok/callback");
        assert_eq!(
            url,
            "https://www.tiktok.com/v2/auth/authorize?client_key=app-1\
             &redirect_uri=https%3A%2F%2Fmy.url%2Ftiktok%2Fcallback&response_type=code\
             &scope=user.info.basic%2Cuser.info.username%2Cuser.info.stats%2Cuser.info.profile\
             %2Cuser.account.type%2Cuser.insights%2Cmessage.list.read%2Cmessage.list.send\
             %2Cmessage.list.manage&state=st%2Fate%3D1"
        );
    }

    #[test]
    fn a_granted_authorization_exchanges_the_code_and_reads_the_profile() {
        let transport = FakeTransport::new([ok(token_data(&REQUIRED_SCOPES.join(","))), ok(profile())]);
        let query = callback(&[("code", "valid_code"), ("state", "s"), ("scopes", "ignored")]);
        let auth = complete_authorization(&config(), &query, "https://h/cb", &transport, NOW).unwrap();

        let exchange = transport.request(0);
        assert_eq!(exchange.method, "POST");
        assert_eq!(
            exchange.url,
            "https://business-api.tiktok.com/open_api/v1.3/tt_user/oauth2/token/"
        );
        assert_eq!(header(&exchange, "content-type"), Some("application/json"));
        assert_eq!(
            json_body(&exchange),
            json!({
                "client_id": "app-1",
                "client_secret": "secret-1",
                "grant_type": "authorization_code",
                "auth_code": "valid_code",
                "redirect_uri": "https://h/cb",
            })
        );
        let get = transport.request(1);
        assert_eq!(get.method, "GET");
        assert_eq!(
            get.url,
            "https://business-api.tiktok.com/open_api/v1.3/business/get/?business_id=biz-123\
             &fields=%5B%22username%22%2C%22display_name%22%2C%22profile_image%22%5D"
        );
        assert_eq!(header(&get, "access-token"), Some("act-1"));

        assert_eq!(auth.identity.external_id, "biz-123");
        assert_eq!(auth.identity.display_name, "TikTok Display Name");
        assert_eq!(auth.identity.username.as_deref(), Some("tiktok_user"));
        assert_eq!(
            auth.identity.avatar_url.as_deref(),
            Some("https://p16.tiktokcdn.com/avatar.jpeg")
        );
        let credentials = auth.credentials;
        assert_eq!(credentials.access_token, "act-1");
        assert_eq!(credentials.refresh_token.as_deref(), Some("rft-1"));
        assert_eq!(credentials.expires_at_ms, Some(NOW + 86_400_000));
        assert_eq!(credentials.refresh_expires_at_ms, Some(NOW + 2_592_000_000));
        assert_eq!(credentials.extra.len(), 1);
        assert_eq!(
            (
                credentials.extra[0].key.as_str(),
                credentials.extra[0].value.as_str()
            ),
            ("scope", REQUIRED_SCOPES.join(",").as_str())
        );
    }

    #[test]
    fn the_username_names_an_account_without_a_display_name() {
        let transport = FakeTransport::new([
            ok(token_data(&REQUIRED_SCOPES.join(","))),
            ok(json!({"username": "tiktok_user", "display_name": "", "profile_image": ""})),
        ]);
        let auth = complete_authorization(
            &config(),
            &callback(&[("code", "c")]),
            "https://h/cb",
            &transport,
            NOW,
        )
        .unwrap();
        assert_eq!(auth.identity.display_name, "tiktok_user");
        assert_eq!(auth.identity.avatar_url, None);
    }

    #[test]
    fn a_refusal_is_access_denied_without_any_request() {
        let transport = FakeTransport::new([]);
        let denied = complete_authorization(
            &config(),
            &callback(&[
                ("error", "access_denied"),
                ("error_description", "User cancelled"),
                ("error_code", "400"),
            ]),
            "https://h/cb",
            &transport,
            NOW,
        )
        .unwrap_err();
        assert_eq!((denied.code, denied.retryable), (ErrorCode::AccessDenied, false));
        assert_eq!(denied.message, "User cancelled");
        let bare = complete_authorization(
            &config(),
            &callback(&[("error", "access_denied")]),
            "https://h/cb",
            &transport,
            NOW,
        )
        .unwrap_err();
        assert_eq!(bare.message, "User cancelled the Authorization");
        let scope = complete_authorization(
            &config(),
            &callback(&[("error", "invalid_scope"), ("error_type", "scope")]),
            "https://h/cb",
            &transport,
            NOW,
        )
        .unwrap_err();
        assert_eq!(scope.code, ErrorCode::AccessDenied);
        assert!(scope.message.contains("invalid_scope"), "{}", scope.message);
        assert!(transport.sent().is_empty());
    }

    #[test]
    fn a_callback_without_a_code_is_an_invalid_request() {
        let transport = FakeTransport::new([]);
        let error = complete_authorization(
            &config(),
            &callback(&[("state", "s")]),
            "https://h/cb",
            &transport,
            NOW,
        )
        .unwrap_err();
        assert_eq!((error.code, error.retryable), (ErrorCode::InvalidRequest, false));
    }

    #[test]
    fn partial_scopes_are_refused_naming_the_missing_ones() {
        let granted = "user.info.basic,user.info.username,user.info.stats,user.info.profile,\
                       user.account.type,user.insights,message.list.read";
        let transport = FakeTransport::new([ok(token_data(granted))]);
        let error = complete_authorization(
            &config(),
            &callback(&[("code", "c")]),
            "https://h/cb",
            &transport,
            NOW,
        )
        .unwrap_err();
        assert_eq!((error.code, error.retryable), (ErrorCode::AccessDenied, false));
        assert!(
            error
                .message
                .starts_with("User did not grant all the required scopes"),
            "{}",
            error.message
        );
        assert!(
            error.message.contains("message.list.send, message.list.manage"),
            "{}",
            error.message
        );
        assert_eq!(transport.sent().len(), 1, "no profile lookup after a refusal");
    }

    #[test]
    fn a_failed_exchange_reports_tiktoks_error() {
        let transport = FakeTransport::new([Ok(envelope(40001, "invalid auth_code", json!(null)))]);
        let error = complete_authorization(
            &config(),
            &callback(&[("code", "c")]),
            "https://h/cb",
            &transport,
            NOW,
        )
        .unwrap_err();
        assert_eq!(error.code, ErrorCode::ProviderRejected);
        assert_eq!(error.message, "40001: invalid auth_code");
    }

    fn current(refresh_expires_at_ms: Option<u64>) -> Credentials {
        Credentials {
            access_token: "old".into(),
            refresh_token: Some("rft-old".into()),
            expires_at_ms: Some(NOW - 1),
            refresh_expires_at_ms,
            extra: vec![kv("scope", "old-scopes"), kv("other", "kept")],
        }
    }

    #[test]
    fn a_refresh_posts_the_refresh_token_and_keeps_the_extras() {
        let transport = FakeTransport::new([ok(json!({
            "access_token": "act-2",
            "refresh_token": "rft-2",
            "expires_in": 86400,
            "refresh_token_expires_in": 2592000,
            "scope": "new-scopes",
        }))]);
        let fresh = refresh_credentials(&config(), current(Some(NOW + 1000)), &transport, NOW).unwrap();
        let request = transport.request(0);
        assert_eq!(
            request.url,
            "https://business-api.tiktok.com/open_api/v1.3/tt_user/oauth2/refresh_token/"
        );
        assert_eq!(
            json_body(&request),
            json!({
                "client_id": "app-1",
                "client_secret": "secret-1",
                "grant_type": "refresh_token",
                "refresh_token": "rft-old",
            })
        );
        assert_eq!(fresh.access_token, "act-2");
        assert_eq!(fresh.refresh_token.as_deref(), Some("rft-2"));
        assert_eq!(fresh.expires_at_ms, Some(NOW + 86_400_000));
        assert_eq!(fresh.refresh_expires_at_ms, Some(NOW + 2_592_000_000));
        let extra: Vec<_> = fresh
            .extra
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str()))
            .collect();
        assert_eq!(extra, [("other", "kept"), ("scope", "new-scopes")]);
    }

    #[test]
    fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
        let transport = FakeTransport::new([ok(json!({"access_token": "act-2", "expires_in": 60}))]);
        let fresh = refresh_credentials(&config(), current(Some(NOW + 1000)), &transport, NOW).unwrap();
        assert_eq!(fresh.refresh_token.as_deref(), Some("rft-old"));
        assert_eq!(fresh.refresh_expires_at_ms, Some(NOW + 1000));
    }

    #[test]
    fn an_expired_or_missing_refresh_token_needs_reauthorization() {
        let transport = FakeTransport::new([]);
        let expired = refresh_credentials(&config(), current(Some(NOW)), &transport, NOW).unwrap_err();
        assert_eq!(
            (expired.code, expired.retryable),
            (ErrorCode::ReauthorizationRequired, false)
        );
        let mut none = current(None);
        none.refresh_token = None;
        let missing = refresh_credentials(&config(), none, &transport, NOW).unwrap_err();
        assert_eq!(missing.code, ErrorCode::ReauthorizationRequired);
        assert!(transport.sent().is_empty());
    }

    #[test]
    fn a_refused_refresh_token_needs_reauthorization() {
        for code in [40105, 40107] {
            let transport = FakeTransport::new([Ok(envelope(code, "refresh token is invalid", json!(null)))]);
            let error = refresh_credentials(&config(), current(None), &transport, NOW).unwrap_err();
            assert_eq!(
                (error.code, error.retryable),
                (ErrorCode::ReauthorizationRequired, false)
            );
            assert!(
                error
                    .message
                    .contains(&format!("{code}: refresh token is invalid"))
            );
        }
        let transport = FakeTransport::new([Ok(envelope(51000, "busy", json!(null)))]);
        let busy = refresh_credentials(&config(), current(None), &transport, NOW).unwrap_err();
        assert_eq!(
            (busy.code, busy.retryable),
            (ErrorCode::ProviderUnavailable, true)
        );
    }
}
