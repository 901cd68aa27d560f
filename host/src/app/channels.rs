//! Use cases of connecting channels: an account administrator starts a
//! provider authorization, the provider's redirect completes it, and super
//! admins point the provider's webhook registration at this server. The
//! flows themselves are the domain's (`channel_accounts`).

use super::{AppError, AppState, Member};
use crate::channel_accounts::authorization::{self, AuthorizationError};
use crate::channel_accounts::webhooks::{self, RegistrationError};
use crate::contract::WebhookRegistration;

impl From<AuthorizationError> for AppError {
    fn from(e: AuthorizationError) -> Self {
        match e {
            AuthorizationError::UnknownChannel(_) => Self::NotFound(e.to_string()),
            AuthorizationError::NotSupported(_) | AuthorizationError::InvalidState(_) => {
                Self::Refused(e.to_string())
            }
            AuthorizationError::FeatureDisabled { .. } => Self::FeatureDisabled(e.to_string()),
            AuthorizationError::Plugin(p) => Self::Plugin(p),
            AuthorizationError::Store(s) => Self::Store(s),
            AuthorizationError::Secrets(s) => Self::Internal(s),
        }
    }
}

impl From<RegistrationError> for AppError {
    fn from(e: RegistrationError) -> Self {
        match e {
            RegistrationError::UnknownChannel(_) => Self::NotFound(e.to_string()),
            RegistrationError::Plugin(p) => Self::Plugin(p),
        }
    }
}

/// Starts connecting a provider account to the member's account
/// (administrators); answers the provider URL to send the browser to.
pub async fn start_authorization(
    state: &AppState,
    member: &Member,
    channel: &str,
    return_to: Option<String>,
) -> Result<String, AppError> {
    member.require_admin()?;
    Ok(authorization::start(
        &state.store,
        &state.plugins,
        member.account_id,
        channel,
        return_to,
    )
    .await?)
}

/// Completes an authorization from the provider's redirect (its query
/// pairs): connects the inbox; answers the dashboard URL that shows the
/// outcome. A state that names no account is invalid input, since there is
/// no dashboard page to send it to.
pub async fn complete_authorization(
    state: &AppState,
    channel: &str,
    query: Vec<(String, String)>,
) -> Result<String, AppError> {
    let outcome = authorization::complete(&state.store, &state.plugins, channel, query)
        .await
        .map_err(|e| match e {
            AuthorizationError::InvalidState(_) => AppError::Invalid(e.to_string()),
            other => other.into(),
        })?;
    let base = authorization::public_base_url(&state.plugins);
    Ok(authorization::dashboard_location(&base, channel, &outcome))
}

/// The provider's current webhook registration for the channel's app.
pub async fn current_webhook(state: &AppState, channel: &str) -> Result<WebhookRegistration, AppError> {
    Ok(webhooks::current(&state.plugins, channel).await?)
}

/// Points the provider's webhook callback at this server, or at
/// `callback_url` when given.
pub async fn register_webhook(
    state: &AppState,
    channel: &str,
    callback_url: Option<&str>,
) -> Result<WebhookRegistration, AppError> {
    Ok(webhooks::register(&state.plugins, channel, callback_url).await?)
}
