//! Plugin logs, routed into the host's `tracing` output tagged with the
//! plugin id. Each call may write a bounded number of bounded records, so a
//! chatty or hostile plugin cannot flood the host's logs.

use super::CallState;

/// Most records one call may write; the rest are dropped (one warning says so).
pub const MAX_RECORDS_PER_CALL: u32 = 200;
/// Longest message (and longest rendering of the fields) kept, in bytes; longer ones are cut.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// Severity of a plugin's log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warn.
    Warn,
    /// Error.
    Error,
}

/// Writes one record, within the call's budget.
pub fn write(call: &mut CallState, level: Level, message: &str, fields: &[(String, String)]) {
    call.log_records += 1;
    if call.log_records > MAX_RECORDS_PER_CALL {
        if call.log_records == MAX_RECORDS_PER_CALL + 1 {
            tracing::warn!(plugin = %call.plugin_id, "plugin log budget for this call used up; dropping the rest");
        }
        return;
    }
    let message = cut(message, MAX_MESSAGE_BYTES);
    let fields = fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let fields = cut(&fields, MAX_MESSAGE_BYTES);
    let plugin = &*call.plugin_id;
    match level {
        Level::Trace => tracing::trace!(target: "plugin", plugin, fields, "{message}"),
        Level::Debug => tracing::debug!(target: "plugin", plugin, fields, "{message}"),
        Level::Info => tracing::info!(target: "plugin", plugin, fields, "{message}"),
        Level::Warn => tracing::warn!(target: "plugin", plugin, fields, "{message}"),
        Level::Error => tracing::error!(target: "plugin", plugin, fields, "{message}"),
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
