//! The host's configuration: command-line flags with environment-variable
//! fallbacks, shared by `serve` and every admin command, so that an admin
//! command run from the same folder and environment as the server talks to
//! the same database and cache.

use std::path::PathBuf;
use std::time::Duration;

use crate::caps::egress::EgressLimits;
use crate::runtime::{CallLimits, RuntimeConfig};

/// Settings common to every command.
#[derive(Debug, Clone, clap::Args)]
pub struct HostConfig {
    /// Database URL: `sqlite://PATH` (default: under the data folder) or
    /// `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Folder for the SQLite database and the compiled-plugin cache.
    #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Default per-call plugin deadline, in milliseconds.
    #[arg(
        long,
        env = "SWITCHBOARD_PLUGIN_TIMEOUT_MS",
        default_value_t = 5000,
        global = true
    )]
    pub plugin_timeout_ms: u64,

    /// Default per-call plugin memory cap, in MiB.
    #[arg(
        long,
        env = "SWITCHBOARD_PLUGIN_MEMORY_MIB",
        default_value_t = 64,
        global = true
    )]
    pub plugin_memory_mib: u64,

    /// Most outbound HTTP requests a plugin may make in one call.
    #[arg(
        long,
        env = "SWITCHBOARD_PLUGIN_MAX_REQUESTS",
        default_value_t = 16,
        global = true
    )]
    pub plugin_max_requests: u32,

    /// Largest memory cap a plugin may be given (`plugin limits
    /// --memory-mib`), in MiB; at least the default cap. With pooling, every
    /// pooled memory slot is this size, so it bounds the address space the
    /// pool reserves.
    #[arg(long, env = "SWITCHBOARD_PLUGIN_MAX_MEMORY_MIB", global = true)]
    pub plugin_max_memory_mib: Option<u64>,

    /// Use wasmtime's pooling allocator for plugin instances (pre-reserved,
    /// reused instance slots: faster calls). `--pooling false` or
    /// `SWITCHBOARD_POOLING=false` turns it off.
    #[arg(
        long,
        env = "SWITCHBOARD_POOLING",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub pooling: bool,

    /// With pooling: how many plugin calls may run at once (each holds one
    /// slot); further calls wait for a free slot, up to their deadline.
    #[arg(
        long,
        env = "SWITCHBOARD_PLUGIN_POOL_SLOTS",
        default_value_t = 64,
        global = true
    )]
    pub plugin_pool_slots: u32,

    /// Linear memory all plugin calls together may hold, in MiB (default:
    /// four times the largest per-call cap). A call that would grow past it
    /// fails as retryable (503, or retried by the pipeline).
    #[arg(long, env = "SWITCHBOARD_PLUGIN_MEMORY_BUDGET_MIB", global = true)]
    pub plugin_memory_budget_mib: Option<u64>,

    /// Calls of one plugin at once per node; more wait within their deadline.
    #[arg(
        long,
        env = "SWITCHBOARD_PLUGIN_MAX_CONCURRENCY",
        default_value_t = 16,
        global = true
    )]
    pub plugin_max_concurrency: usize,

    /// Threads running plugin calls, apart from the server's (default: one
    /// fewer than the cores, at least one, so spinning guests never hold
    /// every core; they run at a lower priority).
    #[arg(long, env = "SWITCHBOARD_PLUGIN_THREADS", default_value_t = 0, global = true)]
    pub plugin_threads: usize,

    /// Deterministic faults in a row (traps, memory cap, output budget,
    /// timeouts) after which the host disables a plugin.
    #[arg(
        long,
        env = "SWITCHBOARD_PLUGIN_FAULT_LIMIT",
        default_value_t = crate::plugin_host::health::DEFAULT_FAULT_LIMIT,
        global = true
    )]
    pub plugin_fault_limit: i64,

    /// Where attachments' bytes are kept: `file:///PATH` (a folder), or
    /// `s3://BUCKET[/PREFIX]` for an S3-compatible store shared by several
    /// nodes (credentials, region and endpoint from the usual `AWS_*`
    /// variables). Default: the folder `blobs` in the data folder.
    #[arg(long, env = "SWITCHBOARD_BLOBS", global = true)]
    pub blobs: Option<String>,

    /// Emit logs as JSON lines.
    #[arg(long, env = "SWITCHBOARD_LOG_JSON", default_value_t = false, global = true)]
    pub log_json: bool,
}

impl HostConfig {
    /// The database URL, defaulting to SQLite in the data folder.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("switchboard.db").display()
            ),
        }
    }

    /// The blob store `--blobs` names.
    pub fn blobs(&self) -> Result<crate::blobs::Blobs, crate::blobs::BlobError> {
        crate::blobs::Blobs::from_setting(self.blobs.as_deref(), &self.data_dir)
    }

    /// The runtime's settings.
    pub fn runtime(&self) -> RuntimeConfig {
        RuntimeConfig {
            cache_dir: Some(self.data_dir.join("cache")),
            pooling: self.pooling,
            pool_slots: self.plugin_pool_slots,
            max_memory_bytes: (self.plugin_max_memory_mib.unwrap_or(0) as usize) << 20,
            default_limits: CallLimits {
                timeout: Duration::from_millis(self.plugin_timeout_ms),
                memory_bytes: (self.plugin_memory_mib as usize) << 20,
            },
            memory_budget_bytes: (self.plugin_memory_budget_mib.unwrap_or(0) as usize) << 20,
            max_concurrent_calls: self.plugin_max_concurrency,
            call_threads: self.plugin_threads,
        }
    }

    /// Per-call egress caps.
    pub fn egress(&self) -> EgressLimits {
        EgressLimits {
            max_requests: self.plugin_max_requests,
            ..EgressLimits::default()
        }
    }
}
