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
//! ```
//! use switchboard_sdk::manifest::Setting;
//! use switchboard_sdk::signature::verify_hmac_sha256_hex;
//! use switchboard_sdk::types::*;
//! use switchboard_sdk::{Channel, Webhooks};
//!
//! struct MyChannel;
//!
//! impl Channel for MyChannel {
//!     fn describe() -> Manifest {
//!         Manifest::builder("my-channel", "My channel")
//!             .version("0.1.0")
//!             .setting(Setting::secret("webhook_secret", "Key of the webhooks' HMAC").required())
//!             .build()
//!     }
//!     // Accounts are connected by an admin: no authorization step.
//!     fn authorization_url(_: Settings, _: String, _: String) -> Result<String, ChannelError> {
//!         Err(ChannelError::unsupported("authorization"))
//!     }
//!     fn complete_authorization(_: Settings, _: Vec<KeyValue>, _: String) -> Result<Authorization, ChannelError> {
//!         Err(ChannelError::unsupported("authorization"))
//!     }
//!     fn refresh_credentials(_: Settings, _: Credentials) -> Result<Credentials, ChannelError> {
//!         Err(ChannelError::unsupported("authorization"))
//!     }
//!     fn verify_webhook(settings: Settings, request: IncomingRequest) -> Verification {
//!         let secret = settings.secret_value("webhook_secret").unwrap_or_default();
//!         let signature = request.header("x-signature").unwrap_or_default();
//!         match verify_hmac_sha256_hex(secret.as_bytes(), &[&request.body], signature) {
//!             true => Verification::Accepted,
//!             false => Verification::Rejected("x-signature does not match".into()),
//!         }
//!     }
//!     fn parse_event(_: Settings, request: IncomingRequest) -> Result<Vec<ChannelEvent>, ChannelError> {
//!         let body: serde_json::Value = request.json()?;
//!         Ok(vec![ChannelEvent::Ignored(format!("not handled yet: {body}"))])
//!     }
//!     fn send_message(_: ChannelContext, _: OutboundMessage) -> Result<SentMessage, ChannelError> {
//!         Err(ChannelError::unsupported("sending"))
//!     }
//!     fn fetch_media(_: ChannelContext, _: String) -> Result<Media, ChannelError> {
//!         Err(ChannelError::unsupported("media"))
//!     }
//! }
//!
//! // The provider's webhook callback is set in its portal.
//! impl Webhooks for MyChannel {}
//!
//! // Exported only in the component, so the crate also builds natively for
//! // unit tests.
//! #[cfg(target_arch = "wasm32")]
//! switchboard_sdk::export_channel!(MyChannel);
//!
//! // A unit test calls the verbs natively, as the host would.
//! assert_eq!(MyChannel::describe().check(), Ok(()));
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
/// ```
/// // At the crate's root, once, after `impl Channel` and `impl Webhooks`; only
/// // for the component, so that `cargo test` builds the crate natively.
/// #[cfg(target_arch = "wasm32")]
/// switchboard_sdk::export_channel!(MyChannel);
/// ```
pub use bindings::export_channel;

/// The interface every plugin implements: one function per contract verb.
/// ```
/// use switchboard_sdk::Channel;
/// use switchboard_sdk::types::*;
///
/// // Generic code over any channel, e.g. a test helper of a plugin crate.
/// fn plugin_id<C: Channel>() -> String {
///     C::describe().id
/// }
/// # struct Nothing;
/// # impl Channel for Nothing {
/// #     fn describe() -> Manifest { Manifest::builder("nothing", "Nothing").version("0.1.0").build() }
/// #     fn authorization_url(_: Settings, _: String, _: String) -> Result<String, ChannelError> { unimplemented!() }
/// #     fn complete_authorization(_: Settings, _: Vec<KeyValue>, _: String) -> Result<Authorization, ChannelError> { unimplemented!() }
/// #     fn refresh_credentials(_: Settings, _: Credentials) -> Result<Credentials, ChannelError> { unimplemented!() }
/// #     fn verify_webhook(_: Settings, _: IncomingRequest) -> Verification { unimplemented!() }
/// #     fn parse_event(_: Settings, _: IncomingRequest) -> Result<Vec<ChannelEvent>, ChannelError> { unimplemented!() }
/// #     fn send_message(_: ChannelContext, _: OutboundMessage) -> Result<SentMessage, ChannelError> { unimplemented!() }
/// #     fn fetch_media(_: ChannelContext, _: String) -> Result<Media, ChannelError> { unimplemented!() }
/// # }
/// assert_eq!(plugin_id::<Nothing>(), "nothing");
/// ```
pub use exported::channel::Guest as Channel;

/// The contract version this SDK builds plugins against; a plugin puts it in
/// its manifest's `contract_version`.
#[cfg(not(feature = "contract-v0-1"))]
/// ```
/// use switchboard_sdk::types::Manifest;
///
/// // `Manifest::builder` fills it in.
/// let manifest = Manifest::builder("acme-chat", "Acme Chat").build();
/// assert_eq!(manifest.contract_version, switchboard_sdk::CONTRACT_VERSION);
/// ```
pub const CONTRACT_VERSION: &str = "0.2.0";
/// The contract version this SDK builds plugins against; a plugin puts it in
/// its manifest's `contract_version`.
#[cfg(feature = "contract-v0-1")]
/// ```
/// assert_eq!(switchboard_sdk::CONTRACT_VERSION, "0.1.0");
/// ```
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
/// ```
/// use switchboard_sdk::Webhooks;
/// use switchboard_sdk::http::Request;
/// use switchboard_sdk::types::{ChannelError, ErrorCode, Settings, WebhookRegistration};
///
/// // A provider whose portal sets the callback: the defaults.
/// struct PortalChannel;
/// impl Webhooks for PortalChannel {}
///
/// // A provider with an API for it.
/// struct ApiChannel;
/// impl Webhooks for ApiChannel {
///     fn register_webhook(settings: Settings, callback_url: String) -> Result<WebhookRegistration, ChannelError> {
///         let token = settings.required_secret("api_token")?;
///         Request::put("https://api.example.com/v1/webhook")
///             .bearer_auth(token)
///             .json(&serde_json::json!({ "url": callback_url }))?
///             .send()?
///             .error_for_status()?;
///         Ok(WebhookRegistration { callback_url: Some(callback_url), details: vec![] })
///     }
/// }
///
/// let settings = Settings { config: vec![], secrets: vec![] };
/// let error = PortalChannel::current_webhook(settings).unwrap_err();
/// assert_eq!(error.code, ErrorCode::Unsupported);
/// ```
pub trait Webhooks {
    /// Points the provider's webhook callback for this app at `callback_url`
    /// (the host's `/webhooks/{plugin-id}` under its public URL) and answers
    /// the registration now in effect.
    /// ```
    /// use switchboard_sdk::Webhooks;
    /// use switchboard_sdk::types::{ErrorCode, Settings};
    ///
    /// struct PortalChannel;
    /// impl Webhooks for PortalChannel {}
    ///
    /// let settings = Settings { config: vec![], secrets: vec![] };
    /// let error = PortalChannel::register_webhook(settings, "https://chat.example.com/webhooks/acme-chat".into()).unwrap_err();
    /// assert_eq!((error.code, error.retryable), (ErrorCode::Unsupported, false));
    /// ```
    fn register_webhook(
        settings: types::Settings,
        callback_url: String,
    ) -> Result<types::WebhookRegistration, types::ChannelError> {
        let _ = (settings, callback_url);
        Err(registered_in_portal())
    }

    /// Reads the provider's current registration without changing it.
    /// ```
    /// use switchboard_sdk::Webhooks;
    /// use switchboard_sdk::types::{ChannelError, KeyValue, Settings, WebhookRegistration};
    ///
    /// struct ApiChannel;
    /// impl Webhooks for ApiChannel {
    ///     fn current_webhook(_: Settings) -> Result<WebhookRegistration, ChannelError> {
    ///         // What the provider's API reports (asked with `http::Request`).
    ///         Ok(WebhookRegistration {
    ///             callback_url: Some("https://chat.example.com/webhooks/acme-chat".into()),
    ///             details: vec![KeyValue::new("events", "message,status")],
    ///         })
    ///     }
    /// }
    ///
    /// let registration = ApiChannel::current_webhook(Settings { config: vec![], secrets: vec![] })?;
    /// assert_eq!(registration.details[0].value, "message,status");
    /// # Ok::<(), ChannelError>(())
    /// ```
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
/// ```
/// use switchboard_sdk::types::{ChannelEvent, ContactProfile, MessageEvent};
///
/// let event = ChannelEvent::Message(MessageEvent {
///     channel_external_id: "acct-1".into(),
///     // Also what the host passes back as a reply's `recipient_id`.
///     conversation_id: "u-1".into(),
///     contact: ContactProfile { external_id: "u-1".into(), name: Some("Ada".into()), username: None, avatar_url: None },
///     message_id: "m-1".into(),
///     sent_at_ms: 1_767_225_600_000,
///     text: Some("Hello!".into()),
///     attachments: vec![],
///     reply_to: None,
///     unsupported: None,
/// });
/// assert!(matches!(event, ChannelEvent::Message(_)));
/// ```
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
    /// ```
    /// use switchboard_sdk::types::WebhookRegistration;
    ///
    /// let none = WebhookRegistration { callback_url: None, details: vec![] };
    /// assert!(none.callback_url.is_none());
    /// ```
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
/// ```
/// use switchboard_sdk::log;
///
/// log::info("message sent", &[("message_id", "m-1"), ("status", "sent")]);
/// ```
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
    /// ```
    /// use switchboard_sdk::log::{self, Level};
    ///
    /// log::write(Level::Warn, "the provider is slow", &[("elapsed_ms", "2100")]);
    /// ```
    pub fn write(level: Level, message: &str, pairs: &[(&str, &str)]) {
        #[cfg(target_arch = "wasm32")]
        crate::imported::log::write(level, message, &fields(pairs));
        #[cfg(not(target_arch = "wasm32"))]
        crate::native::log(level, message, &fields(pairs));
    }

    /// Logs at debug level.
    /// ```
    /// use switchboard_sdk::log;
    ///
    /// log::debug("webhook parsed", &[("events", "1")]);
    /// ```
    pub fn debug(message: &str, pairs: &[(&str, &str)]) {
        write(Level::Debug, message, pairs);
    }

    /// Logs at info level.
    /// ```
    /// use switchboard_sdk::log;
    ///
    /// log::info("webhook parsed", &[("events", "1")]);
    /// ```
    pub fn info(message: &str, pairs: &[(&str, &str)]) {
        write(Level::Info, message, pairs);
    }

    /// Logs at warn level.
    /// ```
    /// use switchboard_sdk::log;
    ///
    /// log::warn("webhook parsed", &[("events", "1")]);
    /// ```
    pub fn warn(message: &str, pairs: &[(&str, &str)]) {
        write(Level::Warn, message, pairs);
    }

    /// Logs at error level.
    /// ```
    /// use switchboard_sdk::log;
    ///
    /// log::error("webhook parsed", &[("events", "1")]);
    /// ```
    pub fn error(message: &str, pairs: &[(&str, &str)]) {
        write(Level::Error, message, pairs);
    }
}

/// The host's clock, in unix milliseconds.
///
/// In a native build (unit tests) this is the fake host's clock when one is
/// installed (`testing::FakeHost::set_now_ms`), else the system clock.
/// ```
/// // E.g. when a message arrived, for a provider that does not say.
/// let sent_at_ms = switchboard_sdk::now_ms();
/// assert!(sent_at_ms > 1_700_000_000_000);
/// ```
pub fn now_ms() -> u64 {
    #[cfg(target_arch = "wasm32")]
    return imported::clock::now_ms();
    #[cfg(not(target_arch = "wasm32"))]
    return native::now_ms();
}

/// The host's clock, in unix seconds (what signature timestamps use).
/// ```
/// use switchboard_sdk::signature::TimestampWindow;
///
/// let now = switchboard_sdk::now_secs();
/// assert_eq!(TimestampWindow::new(300, 30).check(now - 60, now), Ok(()));
/// ```
pub fn now_secs() -> u64 {
    now_ms() / 1000
}
