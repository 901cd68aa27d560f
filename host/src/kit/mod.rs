//! The plugin author's kit, behind `switchboard plugin new | build | test | wit`:
//!
//! - [`scaffold`]: a new plugin crate from the templates in `sdk/template/`,
//!   which builds and passes the conformance run as it is;
//! - [`cargo`]: builds a plugin crate into a component for `wasm32-wasip2`;
//!   [`polyglot`] a Python or JavaScript project, with the language's
//!   component toolchain installed into the project on first use, and
//!   [`build_cache`] keeps its output by a hash of what made it;
//! - [`conformance`]: loads a component exactly as the server does
//!   (`plugin_host::admin::inspect`) and runs its self-description, recorded
//!   webhooks ([`fixtures`]) and sends against it under the host's call
//!   limits, with outbound HTTP answered by a local [`mock`] provider;
//! - [`json_diff`]: the structural comparison of expected and actual JSON;
//! - [`wit`]: the contract's WIT carried in the binary (`plugin wit`).
//!
//! Nothing here knows the terminal: the CLI (`cli/plugin_kit.rs`) prints
//! what these report. Nothing here touches a database.

pub mod build_cache;
pub mod cargo;
pub mod conformance;
pub mod fixtures;
pub mod json_diff;
pub mod mock;
pub mod polyglot;
pub mod scaffold;
pub mod wit;
