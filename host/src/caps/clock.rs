//! The clock a plugin reads. A host import rather than WASI's clock so that
//! the host decides what "now" is: `SWITCHBOARD_CLOCK_OFFSET_MS` shifts it,
//! which lets end-to-end tests check timestamp windows without waiting.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

fn offset_ms() -> i64 {
    static OFFSET: OnceLock<i64> = OnceLock::new();
    *OFFSET.get_or_init(|| {
        std::env::var("SWITCHBOARD_CLOCK_OFFSET_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    })
}

/// Now, in unix milliseconds, as plugins see it.
pub fn now_ms() -> u64 {
    let real = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    (real + offset_ms()).max(0) as u64
}
