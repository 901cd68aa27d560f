//! Guest SDK for Switchboard channel plugins.
//!
//! A channel plugin is a WebAssembly component that implements the
//! `switchboard:channel/channel@0.1.0` interface (see `wit/since_v0.1.0`).
//! This crate owns the generated bindings so that every plugin shares one copy,
//! re-exports the types under short names, and provides small helpers for the
//! host's imports. It knows nothing about any particular provider.
//!
//! ```ignore
//! use switchboard_sdk::{Channel, types::*};
//! struct MyChannel;
//! impl Channel for MyChannel { /* the eight functions */ }
//! switchboard_sdk::export_channel!(MyChannel);
//! ```

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/since_v0.1.0",
        world: "channel-plugin",
        pub_export_macro: true,
        export_macro_name: "export_channel",
        default_bindings_module: "switchboard_sdk::bindings",
    });
}

/// Exports a type implementing [`Channel`] as the component's `channel` interface.
pub use bindings::export_channel;

/// The interface a plugin implements: one function per contract verb.
pub use bindings::exports::switchboard::channel::channel::Guest as Channel;

/// The contract version this SDK builds plugins against.
pub const CONTRACT_VERSION: &str = "0.1.0";

/// Every type of the contract.
pub mod types {
    pub use crate::bindings::switchboard::channel::http_client::{
        Error as HttpError, ErrorCode as HttpErrorCode, Request as HttpRequest, Response as HttpResponse,
    };
    pub use crate::bindings::switchboard::channel::types::*;
}

/// Outbound HTTP through the host (the plugin's only network access).
pub mod http {
    use crate::types::{Header, HttpError, HttpRequest, HttpResponse};

    /// Sends a request through the host's egress checks.
    pub fn send(request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        crate::bindings::switchboard::channel::http_client::send(request)
    }

    /// Builds a request with the given method, URL, headers and body.
    pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> HttpRequest {
        HttpRequest {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: headers
                .iter()
                .map(|(name, value)| Header {
                    name: (*name).to_owned(),
                    value: (*value).to_owned(),
                })
                .collect(),
            body,
        }
    }
}

/// Structured logs into the host's log, tagged with the plugin id.
pub mod log {
    use crate::bindings::switchboard::channel::log::{Level, write};
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

    /// Logs at info level.
    pub fn info(message: &str, pairs: &[(&str, &str)]) {
        write(Level::Info, message, &fields(pairs));
    }

    /// Logs at warn level.
    pub fn warn(message: &str, pairs: &[(&str, &str)]) {
        write(Level::Warn, message, &fields(pairs));
    }

    /// Logs at error level.
    pub fn error(message: &str, pairs: &[(&str, &str)]) {
        write(Level::Error, message, &fields(pairs));
    }
}

/// The host's clock.
pub fn now_ms() -> u64 {
    bindings::switchboard::channel::clock::now_ms()
}

/// Settings lookups.
impl types::Settings {
    /// A config value by key.
    pub fn config(&self, key: &str) -> Option<&str> {
        self.config
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.as_str())
    }

    /// A secret by key.
    pub fn secret(&self, key: &str) -> Option<&str> {
        self.secrets
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.as_str())
    }
}

impl types::ChannelError {
    /// An error that retrying will not fix.
    pub fn permanent(code: types::ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retryable: false,
            retry_after_ms: None,
        }
    }

    /// An error that retrying later may fix.
    pub fn transient(code: types::ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retryable: true,
            retry_after_ms: None,
        }
    }
}
