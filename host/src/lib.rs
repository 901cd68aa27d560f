//! Switchboard: a customer-conversation server whose messaging channels are
//! sandboxed WebAssembly plugins. See `ARCHITECTURE.md` for the map.

pub mod accounts;
pub mod api;
pub mod app;
pub mod blobs;
pub mod caps;
pub mod channel_accounts;
pub mod chatwoot;
pub mod cli;
pub mod config;
pub mod contract;
pub mod conversations;
#[cfg(feature = "kit")]
pub mod kit;
pub mod live;
pub mod pipeline;
pub mod plugin_host;
pub mod runtime;
pub mod secrets;
pub mod store;
pub mod web;
