//! Why a plugin call or a plugin load failed.

use std::time::Duration;

use crate::contract::ChannelError;

/// A failure of one plugin call or load. The host and other plugins are never
/// affected; the caller decides what to answer.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The bytes are not a usable component.
    #[error("invalid component: {0}")]
    InvalidComponent(String),
    /// The component's self-description breaks a rule.
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),
    /// The call ran past its deadline and was stopped.
    #[error("plugin {plugin} timed out after {}ms", .after.as_millis())]
    Timeout {
        /// Plugin id.
        plugin: String,
        /// The deadline it missed.
        after: Duration,
    },
    /// The call tried to grow memory past the plugin's cap.
    #[error("plugin {plugin} exceeded its memory limit of {limit_bytes} bytes")]
    MemoryLimit {
        /// Plugin id.
        plugin: String,
        /// The cap.
        limit_bytes: usize,
    },
    /// Every sandbox slot of the pooling allocator stayed busy until the
    /// call's deadline; nothing ran. Retryable.
    #[error(
        "plugin {plugin}: all {slots} plugin sandbox slots stayed busy for {}ms; retry later",
        .waited.as_millis()
    )]
    Busy {
        /// Plugin id.
        plugin: String,
        /// Slots in the pool (`--plugin-pool-slots`).
        slots: u32,
        /// How long the call waited.
        waited: Duration,
    },
    /// The plugin answered more than the host takes (a field, a list or a
    /// body over its budget, see `runtime::budget`); nothing of the answer
    /// was used.
    #[error("plugin {plugin} answered over the host's budget: {message}")]
    OutputBudget {
        /// Plugin id.
        plugin: String,
        /// Which field, and by how much.
        message: String,
    },
    /// Plugin calls together already hold the host's memory budget for
    /// plugins (`--plugin-memory-budget-mib`); this call could not grow.
    /// Retryable: it is the load, not this call.
    #[error(
        "plugin {plugin}: plugin calls together hold the host's plugin memory budget of {} MiB; retry later",
        .budget_bytes >> 20
    )]
    MemoryBudget {
        /// Plugin id.
        plugin: String,
        /// The budget.
        budget_bytes: usize,
    },
    /// The plugin crashed (a panic, an unreachable, an out-of-bounds access…).
    #[error("plugin {plugin} crashed: {message}")]
    Trap {
        /// Plugin id.
        plugin: String,
        /// What wasmtime reported.
        message: String,
    },
    /// The plugin answered with an error of its own.
    #[error("plugin {plugin}: {error}")]
    Channel {
        /// Plugin id.
        plugin: String,
        /// The plugin's error.
        error: ChannelError,
    },
    /// The host could not run the call (e.g. the compile cache is unusable).
    #[error("host error running plugin {plugin}: {message}")]
    Host {
        /// Plugin id.
        plugin: String,
        /// What went wrong.
        message: String,
    },
}

impl PluginError {
    /// The failure's kind as a metric label (`switchboard_plugin_errors_total`):
    /// one name per variant, so the traps, deadlines and memory refusals of a
    /// plugin can be told apart on a dashboard.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidComponent(_) => "invalid_component",
            Self::InvalidManifest(_) => "invalid_manifest",
            Self::Timeout { .. } => "deadline",
            Self::MemoryLimit { .. } => "memory_limit",
            Self::Busy { .. } => "busy",
            Self::OutputBudget { .. } => "output_budget",
            Self::MemoryBudget { .. } => "memory_budget",
            Self::Trap { .. } => "trap",
            Self::Channel { .. } => "channel",
            Self::Host { .. } => "host",
        }
    }
}
