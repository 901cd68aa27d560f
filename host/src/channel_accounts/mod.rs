//! Connected channel accounts: what the host does around a plugin so that a
//! provider account becomes an inbox and stays usable.
//!
//! - [`authorization`]: the OAuth flow (host-issued state, plugin-built URL
//!   and code exchange, the inbox created or reconnected);
//! - [`credentials`]: sealed credentials, refreshed before expiry once across
//!   every worker and node;
//! - [`webhooks`]: registering the app's webhook callback at the provider.

pub mod authorization;
pub mod credentials;
pub mod webhooks;
