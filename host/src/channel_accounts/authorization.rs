//! Connecting a provider account to an inbox by OAuth (the `authorize` verb).
//!
//! The host owns everything that must be trusted: it issues the `state` as an
//! HS256 JWT bound to the account, the channel, a nonce and a ten-minute
//! expiry, signed with a key derived from the host's secret key (so every
//! node that shares the key accepts it), and accepts each nonce once. The
//! plugin only builds the provider's URL and turns the callback's query into
//! credentials and an identity.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::contract::ErrorCode;
use crate::plugin_host::{LoadedPlugin, PluginHost};
use crate::runtime::PluginError;
use crate::store::{Store, StoreError, now_ms};

/// How long an authorization may take, from the URL to the callback.
const STATE_TTL_SECS: i64 = 600;
/// What the state-signing key is derived for.
const STATE_KEY_PURPOSE: &str = "oauth-state/v1";

/// Why an authorization cannot start or finish.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizationError {
    /// No enabled plugin by that id.
    #[error("no enabled channel named {0:?}")]
    UnknownChannel(String),
    /// The plugin has no authorization verbs.
    #[error("the {0} channel is not connected by authorization")]
    NotSupported(String),
    /// The account's feature flag for the channel is off.
    #[error(
        "the {channel} channel is not enabled for this account; a super admin can turn on the feature {flag}"
    )]
    FeatureDisabled {
        /// Channel id.
        channel: String,
        /// The flag to turn on.
        flag: String,
    },
    /// The callback's state is missing, forged or for another channel.
    #[error("invalid authorization state: {0}")]
    InvalidState(String),
    /// The plugin failed.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The host's secret key is missing or unusable.
    #[error("{0}")]
    Secrets(String),
}

/// The claims of a state token.
#[derive(Debug, Serialize, Deserialize)]
struct StateClaims {
    /// The account connecting.
    sub: i64,
    /// The channel plugin id.
    channel: String,
    /// Accepted once.
    nonce: String,
    iat: i64,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    return_to: Option<String>,
}

/// How a callback ended, for the redirect to the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub enum CallbackOutcome {
    /// The inbox is connected.
    Connected {
        /// Account.
        account_id: i64,
        /// The inbox.
        inbox_id: i64,
        /// Whether the inbox is new.
        created: bool,
        /// Where the dashboard asked to return (e.g. `onboarding`).
        return_to: Option<String>,
    },
    /// It failed; the dashboard shows the reason.
    Failed {
        /// Account.
        account_id: i64,
        /// A machine-readable kind, e.g. `access_denied`, `expired_state`.
        error_type: String,
        /// An HTTP-like code.
        code: String,
        /// A readable reason.
        message: String,
    },
}

/// The server's public base URL: installation config `FRONTEND_URL`, else the
/// environment variable, else `http://localhost:3000`.
pub fn public_base_url(plugins: &PluginHost) -> String {
    plugins
        .host_setting("FRONTEND_URL")
        .unwrap_or_else(|| "http://localhost:3000".into())
        .trim_end_matches('/')
        .to_owned()
}

/// The OAuth redirect URL of a channel: `<base>/<channel>/callback`.
pub fn redirect_uri(plugins: &PluginHost, channel: &str) -> String {
    format!("{}/{channel}/callback", public_base_url(plugins))
}

/// The feature flag that lets an account connect a channel (Chatwoot's name).
pub fn feature_flag(channel: &str) -> String {
    format!("channel_{}", channel.replace('-', "_"))
}

fn authorizing_plugin(
    plugins: &PluginHost,
    channel: &str,
) -> Result<std::sync::Arc<LoadedPlugin>, AuthorizationError> {
    let plugin = plugins
        .get(channel)
        .ok_or_else(|| AuthorizationError::UnknownChannel(channel.to_owned()))?;
    if !plugin.manifest.supports_authorization {
        return Err(AuthorizationError::NotSupported(plugin.manifest.name.clone()));
    }
    Ok(plugin)
}

fn state_key(plugins: &PluginHost) -> Result<[u8; 32], AuthorizationError> {
    plugins
        .secrets()
        .derived_key(STATE_KEY_PURPOSE)
        .map_err(|e| AuthorizationError::Secrets(e.to_string()))
}

/// Step 1: the provider URL an account admin sends the browser to.
pub async fn start(
    store: &Store,
    plugins: &PluginHost,
    account_id: i64,
    channel: &str,
    return_to: Option<String>,
) -> Result<String, AuthorizationError> {
    let plugin = authorizing_plugin(plugins, channel)?;
    let flag = feature_flag(channel);
    if !store.has_feature(account_id, &flag).await? {
        return Err(AuthorizationError::FeatureDisabled {
            channel: plugin.manifest.name.clone(),
            flag,
        });
    }
    let now = now_ms() / 1000;
    let claims = StateClaims {
        sub: account_id,
        channel: channel.to_owned(),
        nonce: hex::encode(rand::random::<[u8; 16]>()),
        iat: now,
        exp: now + STATE_TTL_SECS,
        return_to,
    };
    let state = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&state_key(plugins)?),
    )
    .map_err(|e| AuthorizationError::Secrets(format!("cannot sign the state: {e}")))?;
    let settings = plugins.settings_for(&plugin.manifest);
    Ok(plugin
        .instance
        .authorization_url(&settings, &state, &redirect_uri(plugins, channel))
        .await?)
}

/// Reads a state token: its claims, or why it is refused. An expired or
/// reused state still names its account, so the dashboard can say so.
fn read_state(
    plugins: &PluginHost,
    channel: &str,
    token: &str,
) -> Result<(StateClaims, Option<&'static str>), AuthorizationError> {
    let key = DecodingKey::from_secret(&state_key(plugins)?);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    // `sub` is the account id, a number (as Chatwoot issues it); the
    // library's spec-claim check wants a string there, so only `exp` is
    // required by it and `sub` by the claims type.
    validation.set_required_spec_claims(&["exp"]);
    let (claims, problem) = match jsonwebtoken::decode::<StateClaims>(token, &key, &validation) {
        Ok(data) => (data.claims, None),
        Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => {
            validation.validate_exp = false;
            let data = jsonwebtoken::decode::<StateClaims>(token, &key, &validation)
                .map_err(|e| AuthorizationError::InvalidState(e.to_string()))?;
            (data.claims, Some("expired_state"))
        }
        Err(e) => return Err(AuthorizationError::InvalidState(e.to_string())),
    };
    if claims.channel != channel {
        return Err(AuthorizationError::InvalidState(format!(
            "it was issued for the {} channel",
            claims.channel
        )));
    }
    Ok((claims, problem))
}

/// Step 2: the provider redirected back with `query`. Checks the state,
/// lets the plugin exchange the code, and connects the inbox. `Err` only
/// when the state cannot name an account (nowhere to redirect).
pub async fn complete(
    store: &Store,
    plugins: &PluginHost,
    channel: &str,
    query: Vec<(String, String)>,
) -> Result<CallbackOutcome, AuthorizationError> {
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let token =
        param("state").ok_or_else(|| AuthorizationError::InvalidState("the callback has no state".into()))?;
    let (claims, problem) = read_state(plugins, channel, &token)?;
    let account_id = claims.sub;
    let failed = |error_type: &str, code: &str, message: String| CallbackOutcome::Failed {
        account_id,
        error_type: error_type.to_owned(),
        code: code.to_owned(),
        message,
    };
    if problem.is_some() {
        return Ok(failed(
            "expired_state",
            "400",
            "The authorization took too long; start again".into(),
        ));
    }
    if !store.use_oauth_nonce(&claims.nonce).await? {
        return Ok(failed(
            "reused_state",
            "400",
            "This authorization link was already used; start again".into(),
        ));
    }
    if let Some(error) = param("error") {
        return Ok(failed(
            &error,
            &param("error_code").unwrap_or_else(|| "400".into()),
            param("error_description").unwrap_or_else(|| "User cancelled the Authorization".into()),
        ));
    }
    let plugin = match authorizing_plugin(plugins, channel) {
        Ok(plugin) => plugin,
        Err(e) => return Ok(failed("channel_unavailable", "422", e.to_string())),
    };
    let settings = plugins.settings_for(&plugin.manifest);
    let redirect = redirect_uri(plugins, channel);
    let authorization = match plugin
        .instance
        .complete_authorization(&settings, &query, &redirect)
        .await
    {
        Ok(authorization) => authorization,
        Err(PluginError::Channel { error, .. }) => {
            let (kind, code) = match error.code {
                ErrorCode::AccessDenied => ("access_denied", "400"),
                ErrorCode::InvalidRequest => ("invalid_request", "400"),
                ErrorCode::Unauthorized | ErrorCode::ReauthorizationRequired => ("unauthorized", "401"),
                ErrorCode::RateLimited => ("rate_limited", "429"),
                _ => ("provider_error", "502"),
            };
            return Ok(failed(kind, code, error.message));
        }
        Err(other) => return Ok(failed("plugin_error", "500", other.to_string())),
    };
    let identity = &authorization.identity;
    let sealed = super::credentials::seal(plugins, &authorization.credentials)
        .map_err(|e| AuthorizationError::Secrets(e.to_string()))?;
    let name = if identity.display_name.trim().is_empty() {
        identity
            .username
            .clone()
            .unwrap_or_else(|| identity.external_id.clone())
    } else {
        identity.display_name.clone()
    };
    match store
        .connect_inbox(
            account_id,
            channel,
            &identity.external_id,
            &name,
            identity.avatar_url.as_deref(),
            &sealed,
        )
        .await
    {
        Ok((inbox, created)) => {
            tracing::info!(
                account = account_id,
                inbox = inbox.id,
                channel,
                created,
                "channel connected"
            );
            Ok(CallbackOutcome::Connected {
                account_id,
                inbox_id: inbox.id,
                created,
                return_to: claims.return_to,
            })
        }
        Err(StoreError::Refused(reason)) => Ok(failed("already_connected", "409", reason)),
        Err(e) => Err(e.into()),
    }
}

/// Where the callback sends the browser: the dashboard's page for the
/// outcome (Chatwoot's frontend routes).
pub fn dashboard_location(base: &str, channel: &str, outcome: &CallbackOutcome) -> String {
    match outcome {
        CallbackOutcome::Connected {
            account_id,
            return_to: Some(to),
            ..
        } if to == "onboarding" => format!("{base}/app/accounts/{account_id}/onboarding/inbox-setup"),
        CallbackOutcome::Connected {
            account_id,
            inbox_id,
            created: true,
            ..
        } => format!("{base}/app/accounts/{account_id}/settings/inboxes/new/{inbox_id}/agents"),
        CallbackOutcome::Connected {
            account_id, inbox_id, ..
        } => format!("{base}/app/accounts/{account_id}/settings/inboxes/{inbox_id}"),
        CallbackOutcome::Failed {
            account_id,
            error_type,
            code,
            message,
        } => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("error_type", error_type)
                .append_pair("code", code)
                .append_pair("error_message", message)
                .finish();
            format!("{base}/app/accounts/{account_id}/settings/inboxes/new/{channel}?{query}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_land_on_the_new_inbox_page_with_a_readable_reason() {
        let outcome = CallbackOutcome::Failed {
            account_id: 7,
            error_type: "access_denied".into(),
            code: "400".into(),
            message: "User cancelled".into(),
        };
        assert_eq!(
            dashboard_location("https://sb.example", "tiktok", &outcome),
            "https://sb.example/app/accounts/7/settings/inboxes/new/tiktok?error_type=access_denied&code=400&error_message=User+cancelled"
        );
    }

    #[test]
    fn a_new_inbox_goes_to_its_agents_step_and_a_reconnected_one_to_its_settings() {
        let connected = |created| CallbackOutcome::Connected {
            account_id: 1,
            inbox_id: 9,
            created,
            return_to: None,
        };
        assert_eq!(
            dashboard_location("http://b", "tiktok", &connected(true)),
            "http://b/app/accounts/1/settings/inboxes/new/9/agents"
        );
        assert_eq!(
            dashboard_location("http://b", "tiktok", &connected(false)),
            "http://b/app/accounts/1/settings/inboxes/9"
        );
    }
}
