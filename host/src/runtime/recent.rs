//! The last minutes of one plugin's calls on this node: how many, how many
//! failed and how (traps, deadlines), and how long they took (p50, p99).
//! The plugin console shows it as the plugin's live health. `/metrics` has
//! the same and more for a Prometheus; this is what a page can show without
//! one. Bounded: at most [`MAX_SAMPLES`] calls are kept, so a busy plugin's
//! figures cover less than [`WINDOW`] rather than growing memory.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// How far back the figures look.
pub const WINDOW: Duration = Duration::from_secs(5 * 60);
/// Calls kept at most (16 bytes each).
const MAX_SAMPLES: usize = 8192;

/// One plugin's recent calls.
#[derive(Debug, Default)]
pub(crate) struct RecentCalls {
    samples: Mutex<VecDeque<Sample>>,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    micros: u32,
    /// `PluginError::kind` of a failed call.
    failure: Option<&'static str>,
}

/// What the last minutes of calls were, on this node.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallStats {
    /// Seconds the figures cover: [`WINDOW`], or less when more calls than
    /// are kept came in it.
    pub window_secs: u64,
    /// Calls that ended in the window.
    pub calls: u64,
    /// Of them, those that failed, for any reason (the provider's refusal
    /// included).
    pub errors: u64,
    /// Of them, traps (a panic, an exception, a crash).
    pub traps: u64,
    /// Of them, calls stopped at their deadline.
    pub timeouts: u64,
    /// Median duration in milliseconds, waits for a place included.
    pub p50_ms: Option<f64>,
    /// 99th percentile duration in milliseconds.
    pub p99_ms: Option<f64>,
}

impl RecentCalls {
    /// Counts one call that ended now.
    pub(crate) fn record(&self, took: Duration, failure: Option<&'static str>) {
        let now = Instant::now();
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        let mut samples = self.samples.lock().expect("recent calls lock");
        while samples.len() >= MAX_SAMPLES
            || samples.front().is_some_and(|s| now.duration_since(s.at) > WINDOW)
        {
            samples.pop_front();
        }
        samples.push_back(Sample {
            at: now,
            micros,
            failure,
        });
    }

    /// The figures of the calls in the window.
    pub(crate) fn stats(&self) -> CallStats {
        let now = Instant::now();
        let samples: Vec<Sample> = {
            let samples = self.samples.lock().expect("recent calls lock");
            samples
                .iter()
                .filter(|s| now.duration_since(s.at) <= WINDOW)
                .copied()
                .collect()
        };
        let window = if samples.len() >= MAX_SAMPLES {
            samples.first().map_or(WINDOW, |s| now.duration_since(s.at))
        } else {
            WINDOW
        };
        let mut micros: Vec<u32> = samples.iter().map(|s| s.micros).collect();
        micros.sort_unstable();
        let quantile = |q: f64| -> Option<f64> {
            let last = micros.len().checked_sub(1)?;
            let at = ((last as f64) * q).round() as usize;
            Some(f64::from(micros[at]) / 1000.0)
        };
        let failed = |kind: &str| samples.iter().filter(|s| s.failure == Some(kind)).count() as u64;
        CallStats {
            window_secs: window.as_secs(),
            calls: samples.len() as u64,
            errors: samples.iter().filter(|s| s.failure.is_some()).count() as u64,
            traps: failed("trap"),
            timeouts: failed("deadline"),
            p50_ms: quantile(0.5),
            p99_ms: quantile(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_failures_by_kind_and_ranks_durations() {
        let recent = RecentCalls::default();
        assert_eq!(recent.stats().calls, 0);
        assert_eq!(recent.stats().p99_ms, None);
        for ms in 1..=100u64 {
            recent.record(Duration::from_millis(ms), None);
        }
        recent.record(Duration::from_millis(3), Some("trap"));
        recent.record(Duration::from_millis(5000), Some("deadline"));
        recent.record(Duration::from_millis(2), Some("channel"));
        let stats = recent.stats();
        assert_eq!(
            (stats.calls, stats.errors, stats.traps, stats.timeouts),
            (103, 3, 1, 1)
        );
        assert_eq!(stats.p50_ms, Some(50.0));
        assert_eq!(stats.p99_ms, Some(100.0));
        assert_eq!(stats.window_secs, WINDOW.as_secs());
    }

    #[test]
    fn keeps_a_bounded_number_of_calls() {
        let recent = RecentCalls::default();
        for _ in 0..MAX_SAMPLES + 10 {
            recent.record(Duration::from_micros(10), None);
        }
        assert_eq!(recent.stats().calls, MAX_SAMPLES as u64);
    }
}
