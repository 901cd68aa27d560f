//! Host capabilities a plugin may import, one module each: outbound HTTP
//! behind an allowlist ([`egress`]), structured logging ([`log`]) and the
//! clock ([`clock`]).
//!
//! Capabilities work on plain host types and know nothing of wasmtime; the
//! runtime adapts each contract version's imports onto them
//! (`runtime::host_imports`). A capability's per-call state lives in
//! [`CallState`], created fresh for every call, so nothing one call did (a
//! request count, a log budget) leaks into the next.

pub mod clock;
pub mod egress;
pub mod log;

use std::sync::Arc;
use std::time::Instant;

/// Per-call state of every capability.
pub struct CallState {
    /// Id of the plugin being called (tags logs and errors).
    pub plugin_id: Arc<str>,
    /// The plugin's egress policy.
    pub egress: Arc<egress::EgressPolicy>,
    /// Requests made so far in this call.
    pub http_requests: u32,
    /// Log records written so far in this call.
    pub log_records: u32,
    /// When the call must end.
    pub deadline: Instant,
}
