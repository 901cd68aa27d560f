//! Registering the host's webhook URL at a provider (contract 0.2's
//! `webhooks` interface), for providers that set an app's callback through
//! their API rather than in a developer portal.

use crate::contract::WebhookRegistration;
use crate::plugin_host::PluginHost;
use crate::runtime::PluginError;

/// Why a registration failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// No enabled plugin by that id.
    #[error("no enabled channel named {0:?}")]
    UnknownChannel(String),
    /// The plugin or the provider refused.
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

/// The URL providers post events of `channel` to: `<base>/webhooks/<channel>`.
pub fn callback_url(plugins: &PluginHost, channel: &str) -> String {
    format!(
        "{}/webhooks/{channel}",
        super::authorization::public_base_url(plugins)
    )
}

/// Points the provider's webhook callback at this server (or at
/// `callback_override`) and answers the registration now in effect.
pub async fn register(
    plugins: &PluginHost,
    channel: &str,
    callback_override: Option<&str>,
) -> Result<WebhookRegistration, RegistrationError> {
    let plugin = plugins
        .get(channel)
        .ok_or_else(|| RegistrationError::UnknownChannel(channel.to_owned()))?;
    let callback = callback_override
        .map(str::to_owned)
        .unwrap_or_else(|| callback_url(plugins, channel));
    let settings = plugins.settings_for(&plugin.manifest);
    Ok(plugin.instance.register_webhook(&settings, &callback).await?)
}

/// The provider's current registration.
pub async fn current(plugins: &PluginHost, channel: &str) -> Result<WebhookRegistration, RegistrationError> {
    let plugin = plugins
        .get(channel)
        .ok_or_else(|| RegistrationError::UnknownChannel(channel.to_owned()))?;
    let settings = plugins.settings_for(&plugin.manifest);
    Ok(plugin.instance.current_webhook(&settings).await?)
}
