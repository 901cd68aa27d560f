//! A plugin's health: which faults are the plugin's own and would fail the
//! same way again ([`classify`], the one place that decides what is retried),
//! and quarantine: a plugin whose calls keep faulting is counted unhealthy,
//! and past a limit the host disables it on its own, with the reason shown in
//! `plugin list` and the admin API. Its logged events stay in the log (they
//! wait while the channel is disabled, and failed ones can be replayed after
//! an upgrade); nothing is dropped.

use std::sync::atomic::Ordering;

use super::{LoadedPlugin, PluginHost};
use crate::runtime::PluginError;

/// Faults in a row that disable a plugin, unless configured
/// (`SWITCHBOARD_PLUGIN_FAULT_LIMIT`).
pub const DEFAULT_FAULT_LIMIT: i64 = 10;

/// What kind of failure a plugin call ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The plugin's code failed in a way the same input reproduces: a trap,
    /// its memory cap, an answer over the output budget, its deadline.
    /// Retrying costs as much again and fails again: not retried blindly.
    Deterministic,
    /// The host was short of something (pool slots, the memory budget) or
    /// failed itself: retrying later may succeed, and it says nothing of the
    /// plugin's health.
    Transient,
    /// The plugin answered with an error of its own, which says whether it
    /// is retryable.
    Answered,
}

/// The one classification of plugin failures.
pub fn classify(error: &PluginError) -> Fault {
    match error {
        PluginError::Trap { .. }
        | PluginError::MemoryLimit { .. }
        | PluginError::OutputBudget { .. }
        | PluginError::Timeout { .. } => Fault::Deterministic,
        PluginError::Busy { .. } | PluginError::MemoryBudget { .. } | PluginError::Host { .. } => {
            Fault::Transient
        }
        PluginError::Channel { .. } | PluginError::InvalidComponent(_) | PluginError::InvalidManifest(_) => {
            Fault::Answered
        }
    }
}

/// Whether retrying the call that failed so could succeed.
pub fn retryable(error: &PluginError) -> bool {
    match error {
        PluginError::Channel { error, .. } => error.retryable,
        other => classify(other) == Fault::Transient,
    }
}

impl PluginHost {
    /// Faults in a row that disable a plugin.
    pub fn set_fault_limit(&self, limit: i64) {
        self.fault_limit.store(limit.max(1), Ordering::Relaxed);
    }

    /// Notes how a call of `plugin` ended: a deterministic fault counts
    /// towards quarantine (and past the limit disables the plugin here and,
    /// through the database, on every node); a success after faults clears
    /// the count. Other outcomes change nothing. A store failure is logged:
    /// health never fails the call it observes.
    ///
    /// The outcome is read before the returned future starts, so the future
    /// holds no borrow of it (an async fn would hold one across its awaits,
    /// which the compiler cannot prove `Send` in every caller).
    pub fn record_outcome<'a, T>(
        &'a self,
        plugin: &'a LoadedPlugin,
        outcome: &Result<T, PluginError>,
    ) -> impl Future<Output = ()> + use<'a, T> {
        self.record(plugin, Seen::of(outcome.as_ref().err()))
    }

    /// [`Self::record_outcome`] for a call whose failure is not its result
    /// (e.g. a parse that faulted after verification accepted): `None` is a
    /// success.
    pub fn record_failure<'a>(
        &'a self,
        plugin: &'a LoadedPlugin,
        failure: Option<&PluginError>,
    ) -> impl Future<Output = ()> + use<'a> {
        self.record(plugin, Seen::of(failure))
    }

    async fn record(&self, plugin: &LoadedPlugin, seen: Seen) {
        let id = &plugin.row.id;
        match seen {
            Seen::Success => {
                if plugin.faults_seen.swap(0, Ordering::Relaxed) > 0
                    && let Err(e) = self.store.clear_plugin_faults(id).await
                {
                    tracing::warn!(plugin = %id, "cannot clear the plugin's fault count: {e}");
                }
            }
            Seen::Fault(fault) => {
                plugin.faults_seen.fetch_add(1, Ordering::Relaxed);
                let limit = self.fault_limit.load(Ordering::Relaxed);
                let reason = format!("disabled by the host after {limit} faults in a row; the last: {fault}");
                match self
                    .store
                    .record_plugin_fault(id, &plugin.row.sha256, &fault, limit, &reason)
                    .await
                {
                    Ok(true) => {
                        tracing::error!(plugin = %id, %reason, "plugin quarantined");
                        metrics::counter!("switchboard_plugin_quarantines_total", "plugin" => id.clone())
                            .increment(1);
                        if let Err(e) = self.sync().await {
                            tracing::warn!("plugin sync after a quarantine failed (will retry): {e}");
                        }
                    }
                    Ok(false) => tracing::warn!(plugin = %id, %fault, "plugin fault"),
                    Err(e) => tracing::warn!(plugin = %id, "cannot record the plugin's fault: {e}"),
                }
            }
            Seen::Other => {}
        }
    }
}

/// What a call's outcome means for its plugin's health, owned.
enum Seen {
    Success,
    /// A deterministic fault, as its message.
    Fault(String),
    /// Anything else: says nothing of the plugin's health.
    Other,
}

impl Seen {
    fn of(failure: Option<&PluginError>) -> Self {
        match failure {
            None => Self::Success,
            Some(error) if classify(error) == Fault::Deterministic => Self::Fault(error.to_string()),
            Some(_) => Self::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::contract::{ChannelError, ErrorCode};

    #[test]
    fn faults_of_the_plugins_own_code_are_not_retried() {
        let plugin = || "p".to_string();
        for deterministic in [
            PluginError::Trap {
                plugin: plugin(),
                message: "unreachable".into(),
            },
            PluginError::MemoryLimit {
                plugin: plugin(),
                limit_bytes: 1,
            },
            PluginError::OutputBudget {
                plugin: plugin(),
                message: "too long".into(),
            },
            PluginError::Timeout {
                plugin: plugin(),
                after: Duration::from_secs(1),
            },
        ] {
            assert_eq!(classify(&deterministic), Fault::Deterministic, "{deterministic}");
            assert!(!retryable(&deterministic), "{deterministic}");
        }
        for transient in [
            PluginError::Busy {
                plugin: plugin(),
                slots: 1,
                waited: Duration::ZERO,
            },
            PluginError::MemoryBudget {
                plugin: plugin(),
                budget_bytes: 1,
            },
        ] {
            assert!(retryable(&transient), "{transient}");
        }
        let answered = |retryable| PluginError::Channel {
            plugin: plugin(),
            error: ChannelError {
                code: ErrorCode::ProviderUnavailable,
                message: "down".into(),
                retryable,
                retry_after_ms: None,
            },
        };
        assert!(retryable(&answered(true)));
        assert!(!retryable(&answered(false)));
    }
}
