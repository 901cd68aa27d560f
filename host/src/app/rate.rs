//! Per-channel token buckets: a flood of webhooks on one channel is refused
//! with 429 before it costs a plugin call or a database write, and cannot
//! starve the other channels.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// One token bucket per channel.
pub(super) struct ChannelRates {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl ChannelRates {
    pub(super) fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(per_second).max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Takes one token for `channel`; answers how long to wait (in whole
    /// seconds, at least 1) when there is none.
    pub(super) fn take(&self, channel: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate lock");
        let bucket = buckets.entry(channel.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            refilled: now,
        });
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ChannelRates;

    #[test]
    fn a_burst_passes_then_the_channel_waits_while_others_do_not() {
        let rates = ChannelRates::new(1, 3);
        for _ in 0..3 {
            assert_eq!(rates.take("a"), Ok(()));
        }
        assert_eq!(rates.take("a"), Err(1));
        assert_eq!(rates.take("b"), Ok(()));
    }
}
