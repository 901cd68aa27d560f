//! Guest SDK for Switchboard channel plugins.
//!
//! A channel plugin is a WebAssembly component that implements the channel
//! contract `switchboard:channel` (the `.wit` files under `wit/`). This crate
//! owns the generated bindings so that every plugin shares one copy,
//! re-exports the contract's types under [`types`], wraps the host's
//! imports ([`http`], [`log`], [`now_ms`]), and carries the helpers every
//! channel needs. It knows nothing about any particular provider.
//!
//! A plugin implements two traits and exports itself with one macro:
//!
//! - [`Channel`]: the eight verbs every channel has (describe, authorize,
//!   refresh, verify and parse webhooks, send, fetch media);
//! - [`Webhooks`]: registering the provider's webhook callback through its
//!   API. Most providers set it in their developer portal instead; those
//!   plugins keep the defaults, which answer `unsupported`.
//!
//! ```ignore
//! use switchboard_sdk::types::*;
//! use switchboard_sdk::{Channel, Webhooks};
//!
//! struct MyChannel;
//! impl Channel for MyChannel { /* the eight verbs */ }
//! // The provider's webhook callback is set in its portal.
//! impl Webhooks for MyChannel {}
//!
//! // Exported only in the component, so the crate also builds natively for
//! // unit tests.
//! #[cfg(target_arch = "wasm32")]
//! switchboard_sdk::export_channel!(MyChannel);
//! ```
//!
//! # Helpers
//!
//! - [`manifest`]: the plugin's self-description in one expression
//!   ([`Manifest::builder`](types::Manifest::builder), [`manifest::Setting`],
//!   [`manifest::Limits`]);
//! - [`http`]: outbound requests through the host ([`http::Request`]), JSON
//!   answers, query/form/multipart encoding, and the one mapping of HTTP
//!   failures onto [`ChannelError`](types::ChannelError)s;
//! - [`signature`]: HMAC-SHA256 signing and constant-time verification, and
//!   timestamped signature headers (`t=…,v1=…`) with a freshness window;
//! - [`oauth`]: OAuth 2 authorization-code flows against standard token
//!   endpoints, producing [`Credentials`](types::Credentials);
//! - inherent helpers on the contract's types: settings lookups
//!   ([`Settings::required_config`](types::Settings::required_config)), error
//!   constructors ([`ChannelError::invalid_request`](types::ChannelError::invalid_request)),
//!   webhook request accessors ([`IncomingRequest::header`](types::IncomingRequest::header));
//! - `testing` (cargo feature `testing`): a scripted fake transport and a
//!   fake host behind the SDK's imports, so a plugin unit-tests its verbs
//!   natively (`cargo test`), without a host.
//!
//! # Contract versions
//!
//! By default a plugin is built against contract 0.2.0 (`wit/since_v0.2.0`):
//! the frozen 0.1.0 interface `channel` plus the interface `webhooks`. With
//! the cargo feature `contract-v0-1` the SDK generates the 0.1.0 world
//! instead (`wit/since_v0.1.0`): the same plugin code builds, [`Webhooks`] is
//! simply not exported, and [`CONTRACT_VERSION`] says `0.1.0`. That feature
//! exists so the host's tests can build a real 0.1.0 plugin; new plugins
//! should not need it.

#![warn(missing_docs)]

pub mod http;
pub mod manifest;
#[cfg(not(target_arch = "wasm32"))]
mod native;
pub mod oauth;
pub mod signature;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod values;

pub use values::find_value;

#[doc(hidden)]
#[allow(missing_docs)]
#[cfg(not(feature = "contract-v0-1"))]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/since_v0.2.0",
        world: "switchboard:channel/channel-plugin@0.2.0",
        // The world uses the 0.1.0 interfaces from its `deps/` folder; they
        // are generated here as well rather than mapped onto another crate.
        generate_all,
        pub_export_macro: true,
        export_macro_name: "export_channel",
        default_bindings_module: "switchboard_sdk::bindings",
    });
}

#[doc(hidden)]
#[allow(missing_docs)]
#[cfg(feature = "contract-v0-1")]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/since_v0.1.0",
        world: "channel-plugin",
        pub_export_macro: true,
        export_macro_name: "export_channel",
        default_bindings_module: "switchboard_sdk::bindings",
    });
}

// The 0.1.0 interfaces, wherever the generated world put them. With two
// versions of the package in one world (0.2.0 reuses 0.1.0's interfaces),
// wit-bindgen suffixes the package's module names with the version.
#[cfg(feature = "contract-v0-1")]
use bindings::{exports::switchboard::channel as exported, switchboard::channel as imported};
#[cfg(not(feature = "contract-v0-1"))]
use bindings::{exports::switchboard::channel0_1_0 as exported, switchboard::channel0_1_0 as imported};

/// Exports a type implementing [`Channel`] and [`Webhooks`] as the component's
/// interfaces (`channel`, and `webhooks` under contract 0.2.0).
pub use bindings::export_channel;

/// The interface every plugin implements: one function per contract verb.
pub use exported::channel::Guest as Channel;

/// The contract version this SDK builds plugins against; a plugin puts it in
/// its manifest's `contract_version`.
#[cfg(not(feature = "contract-v0-1"))]
pub const CONTRACT_VERSION: &str = "0.2.0";
/// The contract version this SDK builds plugins against; a plugin puts it in
/// its manifest's `contract_version`.
#[cfg(feature = "contract-v0-1")]
pub const CONTRACT_VERSION: &str = "0.1.0";

/// Registration of the provider's webhook callback through its API (contract
/// 0.2.0's `webhooks` interface).
///
/// Providers that set an app's webhook callback in a developer portal need
/// nothing here: `impl Webhooks for MyChannel {}` keeps the defaults, which
/// answer [`ErrorCode::Unsupported`](types::ErrorCode::Unsupported).
///
/// Under contract 0.2.0, [`export_channel!`] exports this for the plugin
/// type. Built with the feature `contract-v0-1` the trait still exists, so
/// plugin code compiles either way, but nothing exports it: contract 0.1.0
/// has no such interface.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `switchboard_sdk::Webhooks`",
    note = "a channel whose webhook callback is set in the provider's portal writes `impl Webhooks for {Self} {{}}`"
)]
pub trait Webhooks {
    /// Points the provider's webhook callback for this app at `callback_url`
    /// (the host's `/webhooks/{plugin-id}` under its public URL) and answers
    /// the registration now in effect.
    fn register_webhook(
        settings: types::Settings,
        callback_url: String,
    ) -> Result<types::WebhookRegistration, types::ChannelError> {
        let _ = (settings, callback_url);
        Err(registered_in_portal())
    }

    /// Reads the provider's current registration without changing it.
    fn current_webhook(settings: types::Settings) -> Result<types::WebhookRegistration, types::ChannelError> {
        let _ = settings;
        Err(registered_in_portal())
    }
}

fn registered_in_portal() -> types::ChannelError {
    types::ChannelError::permanent(
        types::ErrorCode::Unsupported,
        "this channel's webhooks are registered in the provider's portal, not through its API",
    )
}

// What `export_channel!` needs for the `webhooks` export. Both traits live in
// this crate, so a blanket impl is allowed, and a plugin never sees the
// generated trait.
#[cfg(not(feature = "contract-v0-1"))]
impl<T: Channel + Webhooks> bindings::exports::switchboard::channel0_2_0::webhooks::Guest for T {
    fn register_webhook(
        settings: types::Settings,
        callback_url: String,
    ) -> Result<types::WebhookRegistration, types::ChannelError> {
        <T as Webhooks>::register_webhook(settings, callback_url)
    }

    fn current_webhook(settings: types::Settings) -> Result<types::WebhookRegistration, types::ChannelError> {
        <T as Webhooks>::current_webhook(settings)
    }
}

/// Every type of the contract.
pub mod types {
    pub use crate::imported::http_client::{
        Error as HttpError, ErrorCode as HttpErrorCode, Request as HttpRequest, Response as HttpResponse,
    };
    pub use crate::imported::types::*;

    pub use crate::webhook_types::WebhookRegistration;
}

#[cfg(not(feature = "contract-v0-1"))]
mod webhook_types {
    pub use crate::bindings::exports::switchboard::channel0_2_0::webhooks::WebhookRegistration;
}

#[cfg(feature = "contract-v0-1")]
mod webhook_types {
    use crate::types::KeyValue;

    /// What the provider reports about the app's webhook callback.
    ///
    /// Contract 0.1.0 has no such record; this mirrors 0.2.0's field for
    /// field so that [`Webhooks`](crate::Webhooks) has the same signature
    /// under both contracts. Nothing sends it to the host.
    #[derive(Clone, Debug)]
    pub struct WebhookRegistration {
        /// The URL the provider calls with events; none when nothing is
        /// registered.
        pub callback_url: Option<String>,
        /// Other facts the provider reports (event types, state), for admins.
        pub details: Vec<KeyValue>,
    }
}

/// Structured logs into the host's log, tagged with the plugin id.
///
/// In a native build (unit tests) records go to the fake host of
/// `testing::FakeHost` when one is installed, else to standard error.
pub mod log {
    /// Severity of a log record.
    pub use crate::imported::log::Level;
    use crate::types::KeyValue;

    fn fields(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
        pairs
            .iter()
            .map(|(key, value)| KeyValue {
                key: (*key).to_owned(),
                value: (*value).to_owned(),
            })
            .collect()
    }

    /// Writes one record at `level` with structured fields.
    pub fn write(level: Level, message: &str, pairs: &[(&str, &str)]) {
        #[cfg(target_arch = "wasm32")]
        crate::imported::log::write(level, message, &fields(pairs));
        #[cfg(not(target_arch = "wasm32"))]
        crate::native::log(level, message, &fields(pairs));
    }

    /// Logs at debug level.
    pub fn debug(message: &str, pairs: &[(&str, &str)]) {
        write(Level::Debug, message, pairs);
    }

    /// Logs at info level.
    pub fn info(message: &str, pairs: &[(&str, &str)]) {
        write(Level::Info, message, pairs);
    }

    /// Logs at warn level.
    pub fn warn(message: &str, pairs: &[(&str, &str)]) {
        write(Level::Warn, message, pairs);
    }

    /// Logs at error level.
    pub fn error(message: &str, pairs: &[(&str, &str)]) {
        write(Level::Error, message, pairs);
    }
}

/// The host's clock, in unix milliseconds.
///
/// In a native build (unit tests) this is the fake host's clock when one is
/// installed (`testing::FakeHost::set_now_ms`), else the system clock.
pub fn now_ms() -> u64 {
    #[cfg(target_arch = "wasm32")]
    return imported::clock::now_ms();
    #[cfg(not(target_arch = "wasm32"))]
    return native::now_ms();
}

/// The host's clock, in unix seconds (what signature timestamps use).
pub fn now_secs() -> u64 {
    now_ms() / 1000
}
