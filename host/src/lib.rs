//! Switchboard: a customer-conversation server whose messaging channels are
//! sandboxed WebAssembly plugins. See `ARCHITECTURE.md` for the map.

pub mod accounts;
pub mod api;
pub mod caps;
pub mod channel;
pub mod channels;
pub mod cli;
pub mod config;
pub mod conversations;
pub mod kit;
pub mod live;
pub mod pipeline;
pub mod plugins;
pub mod runtime;
pub mod secrets;
pub mod store;
