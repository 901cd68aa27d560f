//! The WebAssembly runtime: one wasmtime [`Engine`] for the process, plugin
//! compilation with an on-disk cache, and sandboxed calls.
//!
//! Invariants enforced here:
//! - every call gets a fresh `Store` (no state crosses calls, accounts or
//!   plugins), a wall-clock deadline (epoch interruption plus a tokio
//!   timeout covering time spent in host imports), a memory cap and limits on
//!   instances, tables and memories;
//! - a trap, timeout or limit breach becomes a [`PluginError`] for that call
//!   only;
//! - WASI is linked with a context that grants nothing (no files, no
//!   environment, no sockets, no stdin or stdout): components built by other
//!   toolchains import WASI and would not instantiate without it; stderr goes
//!   to a bounded per-call buffer that a crash's error quotes
//!   (`guest_output.rs`);
//! - compilation runs on a blocking thread, never on an async worker;
//! - address space stays bounded: a linear memory reserves its cap (the
//!   host's largest allowed plugin cap) plus a small guard, not wasmtime's
//!   4 GiB + 32 MiB, and the pooling allocator (the default) pre-reserves a
//!   fixed number of such slots; a call waits for a free slot up to its
//!   deadline, then fails with the retryable [`PluginError::Busy`];
//! - what a plugin answers is held to the host's output budget
//!   (`budget.rs`) before anything else sees it;
//! - plugin calls run on their own threads, at a lower scheduling priority
//!   than the server's, so spinning guests cannot slow the API (a call and
//!   its answer cross to them and back without a wake-up, `handoff.rs`); all calls
//!   together hold at most the plugin memory budget, and one plugin at most
//!   `max_concurrent_calls` at once;
//! - every supported contract version is bound side by side in `wit/`,
//!   newest first: the rest of the runtime is written against the newest
//!   version's types, and each older version adapts onto them.

mod budget;
mod call;
mod convert;
mod error;
mod guest_output;
mod handoff;
mod host_imports;
mod recent;
mod wit;

pub use budget::{MAX_TEXT_CHARS, OverBudget};
pub use call::{CallLimits, CallSteps, PluginInstance};
pub use error::PluginError;
pub use recent::CallStats;
pub use wit::{SUPPORTED_CONTRACTS, SupportedContracts, supports_contract};

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::caps::CallState;
use call::StoreData;

/// How often the epoch ticks; deadlines are checked at this granularity.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// WebAssembly page size: memory caps are rounded up to whole pages.
const WASM_PAGE: usize = 64 << 10;

/// Guard region after each linear memory. With a reservation below 4 GiB,
/// compiled code bounds-checks every access anyway; the guard only lets it
/// fold checks of nearby offsets into one. Small, so that the address space
/// stays bounded.
const MEMORY_GUARD: u64 = 2 << 20;

/// Per call (one component instance), what a component may use of the pool.
/// Rust components use 1 memory, 2 tables and 3 core instances; Python and
/// JavaScript ones a few more core instances. A component needing more is
/// refused when it loads, with wasmtime's message.
const CORE_INSTANCES_PER_CALL: u32 = 32;
const MEMORIES_PER_CALL: u32 = 2;
const TABLES_PER_CALL: u32 = 4;

/// Largest table (elements), as the store limits allow.
pub(crate) const TABLE_ELEMENTS: usize = 100_000;

/// How much of each pooled memory (and table) is reset in place with
/// `memset` on reuse, instead of `madvise`: with `PAGEMAP_SCAN` (Linux 6.7+)
/// only the pages the call dirtied are reset, so the next call in the slot
/// takes no page faults for them. Beyond this, pages are returned to the OS.
/// Measured (`bench plugins`, TikTok `describe`, pooling): 15 µs p50 with
/// this, 30 µs with `madvise` only (the call then page-faults its stack and
/// heap back in), 20 µs with tables `madvise`d.
const KEEP_RESIDENT: usize = 2 << 20;

/// Runtime settings, from the host's config.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Folder for compiled components; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Use wasmtime's pooling allocator (pre-reserved, reused instance slots).
    pub pooling: bool,
    /// With pooling: how many calls may hold an instance at once.
    pub pool_slots: u32,
    /// The largest memory cap a plugin may be given (a plugin's own limits
    /// may raise its cap up to this); below the default cap (e.g. 0), the
    /// default cap. Each linear memory reserves this much address space.
    pub max_memory_bytes: usize,
    /// Limits for plugins that set none of their own.
    pub default_limits: CallLimits,
    /// Linear memory all plugin calls together may hold, in bytes; 0: four
    /// times [`Self::memory_ceiling`]. A call that would grow past it fails
    /// with the retryable [`PluginError::MemoryBudget`].
    pub memory_budget_bytes: usize,
    /// Calls of one plugin at once on this node; more wait (within their
    /// deadline), then fail as `Busy`.
    pub max_concurrent_calls: usize,
    /// Threads running plugin calls; 0: one fewer than the cores (at least
    /// one), so that spinning guests never hold every core.
    pub call_threads: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            pooling: true,
            pool_slots: 64,
            max_memory_bytes: 0,
            default_limits: CallLimits::default(),
            memory_budget_bytes: 0,
            max_concurrent_calls: 16,
            call_threads: 0,
        }
    }
}

impl RuntimeConfig {
    /// The largest memory cap a plugin may have, in whole wasm pages: the
    /// size of every linear memory's reservation (and pooled slot).
    pub fn memory_ceiling(&self) -> usize {
        self.max_memory_bytes
            .max(self.default_limits.memory_bytes)
            .max(WASM_PAGE)
            .next_multiple_of(WASM_PAGE)
    }

    /// The memory all plugin calls together may hold, in bytes (at least one
    /// call at the ceiling).
    pub fn memory_budget(&self) -> usize {
        match self.memory_budget_bytes {
            0 => 4 * self.memory_ceiling(),
            bytes => bytes.max(self.memory_ceiling()),
        }
    }
}

/// The process-wide engine and linker.
pub struct Runtime {
    engine: Engine,
    linker: Linker<StoreData>,
    config: RuntimeConfig,
    engine_hash: String,
    /// With pooling, one permit per pool slot: a call holds one while its
    /// instance lives, so the pool is never asked for more than it has.
    slots: Option<Arc<Semaphore>>,
    /// The plugin calls' memory budget, one permit per MiB.
    memory_budget: Arc<Semaphore>,
    /// The threads plugin calls run on (taken out on drop, to be shut down
    /// without blocking the dropping thread).
    calls: Option<tokio::runtime::Runtime>,
    /// Calls handed to those threads, watched by a thread about to park.
    submissions: Arc<handoff::Submissions>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(calls) = self.calls.take() {
            calls.shutdown_background();
        }
    }
}

/// A compiled component, ready to instantiate.
pub struct CompiledPlugin {
    bindings: wit::Bindings,
    /// sha256 of the component bytes.
    pub sha256: String,
    /// Whether the compiled code came from the disk cache.
    pub from_cache: bool,
    /// Time spent compiling or loading.
    pub load_time: Duration,
}

impl CompiledPlugin {
    /// The contract version (major.minor) the component implements, read from
    /// what it exports.
    pub fn contract(&self) -> &'static semver::Version {
        self.bindings.contract()
    }
}

impl Runtime {
    /// Creates the engine, links the host imports and starts the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Arc<Self>, PluginError> {
        let host_err = |e: wasmtime::Error| PluginError::Host {
            plugin: "-".into(),
            message: format!("{e:#}"),
        };
        let ceiling = config.memory_ceiling();
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            // A memory reserves the largest cap, not 4 GiB + 32 MiB: the
            // limiter refuses growth past a plugin's cap (at most this), so
            // a memory never needs to move and nothing is reserved for it.
            .memory_reservation(ceiling as u64)
            .memory_guard_size(MEMORY_GUARD)
            .memory_reservation_for_growth(0)
            // Data segments become a copy-on-write image mapped per
            // instance instead of copied (the default; stated, as calls rely
            // on it).
            .memory_init_cow(true)
            // Pooled fiber stacks are reused as they are (the default): wasm
            // never reads a stack slot it did not write.
            .async_stack_zeroing(false);
        let slots = config.pooling.then(|| config.pool_slots.max(1));
        if let Some(slots) = slots {
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(slots)
                .total_stacks(slots)
                .max_core_instances_per_component(CORE_INSTANCES_PER_CALL)
                .total_core_instances(slots * CORE_INSTANCES_PER_CALL)
                .max_memories_per_component(MEMORIES_PER_CALL)
                .total_memories(slots * MEMORIES_PER_CALL)
                .max_tables_per_component(TABLES_PER_CALL)
                .total_tables(slots * TABLES_PER_CALL)
                .table_elements(TABLE_ELEMENTS)
                .max_memory_size(ceiling)
                .linear_memory_keep_resident(KEEP_RESIDENT)
                .table_keep_resident(KEEP_RESIDENT)
                .pagemap_scan(Enabled::Auto);
            wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&wasm).map_err(host_err)?;
        let mut linker = Linker::<StoreData>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(host_err)?;
        wit::add_to_linker(&mut linker).map_err(host_err)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = format!("{:016x}", hasher.finish());
        start_epoch_ticker(&engine);
        // By default one core is left to the server: guests that spin to
        // their deadline then hold every plugin thread but never every core,
        // so the API's p99 under four spinning calls stays within 2× of quiet
        // (bench isolation on 2 cores: 5× for /api/v1/profile with a thread
        // per core, 0.66× with one). One thread still runs thousands of
        // short calls a second.
        let threads = match config.call_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1)),
            n => n,
        };
        let submissions = Arc::new(handoff::Submissions::default());
        let watched = submissions.clone();
        let calls = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("plugin-call")
            .on_thread_start(lower_priority)
            .on_thread_park(move || watched.spin_until_submitted(handoff::PLUGIN_THREAD_SPIN))
            .enable_all()
            .build()
            .map_err(|e| PluginError::Host {
                plugin: "-".into(),
                message: format!("cannot start the plugin call threads: {e}"),
            })?;
        let budget_mib = config.memory_budget().div_ceil(1 << 20);
        Ok(Arc::new(Self {
            engine,
            linker,
            engine_hash,
            slots: slots.map(|n| Arc::new(Semaphore::new(n as usize))),
            memory_budget: Arc::new(Semaphore::new(budget_mib)),
            calls: Some(calls),
            submissions,
            config,
        }))
    }

    /// Runs a call on the plugin threads and waits for the answer it sends
    /// on `answered`, with the hand-off of `handoff.rs` on both sides. The
    /// call's task goes on after answering (the store's teardown); a task
    /// that ends without answering (it panicked) gives its failure.
    async fn on_call_threads<T>(
        &self,
        call: impl std::future::Future<Output = ()> + Send + 'static,
        answered: tokio::sync::oneshot::Receiver<T>,
    ) -> Result<T, String> {
        let task = self
            .calls
            .as_ref()
            .expect("the call threads live as long as the runtime")
            .spawn(call);
        let (_waiting, spin) = self.submissions.submitted();
        match handoff::await_spinning(answered, spin).await {
            Ok(answer) => Ok(answer),
            Err(_) => Err(match task.await {
                Err(failed) => failed.to_string(),
                Ok(()) => "it ended without an answer".to_owned(),
            }),
        }
    }

    /// After a call that grew its memory past what the pool keeps resident,
    /// hands the host allocator's free memory back to the system: lifting a
    /// large answer out of the guest allocates on the host's heap, and glibc
    /// keeps freed memory otherwise, so RSS would stay at the attack's peak.
    fn after_call(&self, peak_bytes: usize) {
        if peak_bytes > TRIM_AFTER {
            trim_heap();
        }
    }

    /// MiB of the plugin memory budget free now.
    pub fn memory_budget_free_mib(&self) -> usize {
        self.memory_budget.available_permits()
    }

    /// Waits up to `wait` for a free pool slot (with pooling; without, there
    /// is no pool to run out of); past it, the call fails with the retryable
    /// [`PluginError::Busy`].
    async fn acquire_slot(
        &self,
        plugin: &str,
        started: Instant,
        wait: Duration,
    ) -> Result<Option<OwnedSemaphorePermit>, PluginError> {
        let Some(slots) = &self.slots else {
            return Ok(None);
        };
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            return Ok(Some(permit));
        }
        match tokio::time::timeout(wait, slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            _ => Err(PluginError::Busy {
                plugin: plugin.into(),
                slots: self.config.pool_slots.max(1),
                waited: started.elapsed(),
            }),
        }
    }

    /// The process's virtual and resident size (`VmSize`, `VmRSS` of
    /// `/proc/self/status`), in bytes, where the system reports them.
    pub fn process_memory() -> Option<(u64, u64)> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let field = |name: &str| {
            status.lines().find_map(|line| {
                let kib = line.strip_prefix(name)?.trim().strip_suffix("kB")?.trim();
                kib.parse::<u64>().ok().map(|k| k << 10)
            })
        };
        Some((field("VmSize:")?, field("VmRSS:")?))
    }

    /// The runtime's settings.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// sha256 of component bytes, lower-case hex: the key of stored plugins.
    pub fn sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    /// Compiles a component (or loads it from the disk cache), checks that it
    /// imports only what the host provides and exports a supported contract.
    pub async fn compile(self: &Arc<Self>, bytes: Arc<Vec<u8>>) -> Result<Arc<CompiledPlugin>, PluginError> {
        let runtime = self.clone();
        tokio::task::spawn_blocking(move || runtime.compile_blocking(&bytes))
            .await
            .map_err(|e| PluginError::Host {
                plugin: "-".into(),
                message: format!("compile task failed: {e}"),
            })?
    }

    fn compile_blocking(&self, bytes: &[u8]) -> Result<Arc<CompiledPlugin>, PluginError> {
        let started = Instant::now();
        check_component_header(bytes)?;
        let sha256 = Self::sha256(bytes);
        let (component, from_cache) = self.load_or_compile(bytes, &sha256)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            PluginError::InvalidComponent(format!("it needs something the host does not provide: {e:#}"))
        })?;
        let exports = |prefix: &str| exports_interface(&component, &self.engine, prefix);
        let bindings = wit::Bindings::new(pre, exports).map_err(|e| {
            match exported_contract(&component, &self.engine) {
                Some(version) => PluginError::InvalidComponent(format!(
                    "it was built for contract switchboard:channel@{version}; this host supports {}",
                    wit::SUPPORTED_CONTRACTS
                )),
                None => e,
            }
        })?;
        Ok(Arc::new(CompiledPlugin {
            bindings,
            sha256,
            from_cache,
            load_time: started.elapsed(),
        }))
    }

    /// Copies the compiled code of `bytes` from another cache folder (the
    /// plugin author's, which `switchboard plugin test` fills) into this
    /// runtime's cache, so that installing a component just tested does not
    /// compile it again. Only a file for this engine (same name: the sha256
    /// and the engine's compatibility hash) is taken. Answers whether it
    /// copied one (not when this cache had it already).
    pub fn adopt_cached(&self, from_dir: &std::path::Path, bytes: &[u8]) -> bool {
        let Some(dir) = &self.config.cache_dir else {
            return false;
        };
        let name = format!("{}-{}.cwasm", Self::sha256(bytes), self.engine_hash);
        let target = dir.join(&name);
        if target.exists() {
            return false;
        }
        let source = from_dir.join(&name);
        if !source.is_file() {
            return false;
        }
        // Through a temporary name and a rename, as `write_cache`: a reader
        // never sees half a file.
        let tmp = target.with_extension(format!("tmp{}", std::process::id()));
        let copied = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::copy(&source, &tmp))
            .and_then(|_| std::fs::rename(&tmp, &target));
        if let Err(e) = &copied {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(from = %source.display(), "cannot reuse compiled component: {e}");
        }
        copied.is_ok()
    }

    fn load_or_compile(&self, bytes: &[u8], sha256: &str) -> Result<(Component, bool), PluginError> {
        let cached = self
            .config
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("{sha256}-{}.cwasm", self.engine_hash)));
        if let Some(path) = cached.as_ref().filter(|p| p.exists()) {
            // SAFETY: the cache folder is the host's own; files in it are written
            // only by `Component::serialize` below (via a rename, so never
            // partially), and the file name binds the engine's compatibility hash.
            match unsafe { Component::deserialize_file(&self.engine, path) } {
                Ok(component) => return Ok((component, true)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "recompiling: cached component unusable: {e:#}")
                }
            }
        }
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| PluginError::InvalidComponent(format!("it does not compile: {e:#}")))?;
        if let Some(path) = cached
            && let Err(e) = write_cache(&component, &path)
        {
            tracing::warn!(path = %path.display(), "cannot cache compiled component: {e}");
        }
        Ok((component, false))
    }

    /// Prepares calls into a compiled plugin with the given identity, limits
    /// and egress policy.
    /// A memory cap above [`RuntimeConfig::memory_ceiling`] (every linear
    /// memory's reservation and pool slot) cannot be honoured: it is lowered
    /// to the ceiling, with a warning. (`plugin limits` refuses such caps;
    /// this covers caps stored before the ceiling was lowered.)
    pub fn instance(
        self: &Arc<Self>,
        plugin_id: &str,
        compiled: Arc<CompiledPlugin>,
        mut limits: CallLimits,
        egress: Arc<crate::caps::egress::EgressPolicy>,
    ) -> PluginInstance {
        let ceiling = self.config.memory_ceiling();
        if limits.memory_bytes > ceiling {
            tracing::warn!(
                plugin = plugin_id,
                "the plugin's memory cap of {} MiB is above the host's maximum of {} MiB \
                 (--plugin-max-memory-mib / SWITCHBOARD_PLUGIN_MAX_MEMORY_MIB); it runs with {} MiB",
                limits.memory_bytes >> 20,
                ceiling >> 20,
                ceiling >> 20
            );
            limits.memory_bytes = ceiling;
        }
        PluginInstance::new(self.clone(), plugin_id.into(), compiled, limits, egress)
    }

    fn new_store(
        &self,
        plugin_id: Arc<str>,
        deadline: Instant,
        limits: &CallLimits,
        egress: Arc<crate::caps::egress::EgressPolicy>,
    ) -> wasmtime::Store<StoreData> {
        let call = CallState {
            plugin_id,
            egress,
            http_requests: 0,
            log_records: 0,
            deadline,
        };
        call::new_store(&self.engine, call, limits, Some(self.memory_budget.clone()))
    }
}

/// Whether the component exports an interface whose name starts with `prefix`.
fn exports_interface(component: &Component, engine: &Engine, prefix: &str) -> bool {
    component
        .component_type()
        .exports(engine)
        .any(|(name, _)| name.starts_with(prefix))
}

/// The version of `switchboard:channel/channel` a component exports, if any.
fn exported_contract(component: &Component, engine: &Engine) -> Option<String> {
    component.component_type().exports(engine).find_map(|(name, _)| {
        name.strip_prefix("switchboard:channel/channel@")
            .map(str::to_owned)
    })
}

fn write_cache(component: &Component, path: &std::path::Path) -> Result<(), String> {
    let bytes = component.serialize().map_err(|e| format!("{e:#}"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

/// Gives a clear reason for the common wrong files before wasmtime sees them.
fn check_component_header(bytes: &[u8]) -> Result<(), PluginError> {
    let bad = |msg: &str| Err(PluginError::InvalidComponent(msg.into()));
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return bad("not a WebAssembly file (no \\0asm header)");
    }
    match bytes[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => bad(
            "a core WebAssembly module, not a component: build the plugin for the wasm32-wasip2 target \
             (or wrap it with `wasm-tools component new`)",
        ),
        _ => bad("an unknown WebAssembly binary version or layer"),
    }
}

/// Peak memory of a call above which the host heap is trimmed afterwards.
const TRIM_AFTER: usize = 16 << 20;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    // SAFETY: malloc_trim only releases free heap pages; it touches no live
    // allocation and is thread-safe in glibc.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

/// Plugin call threads run at a lower priority (nice 10) than the server's,
/// so guests spinning until their deadline yield the cores to the API and
/// the queue workers. Linux applies a nice value per thread.
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: setpriority on the calling thread's id; no memory is involved.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::egress::{EgressLimits, EgressPolicy};

    fn tiktok() -> Arc<Vec<u8>> {
        let bundled: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
        let (_, bytes) = bundled
            .iter()
            .find(|(name, _)| name.contains("tiktok"))
            .expect("the TikTok plugin is bundled");
        Arc::new(bytes.to_vec())
    }

    fn egress() -> Arc<EgressPolicy> {
        Arc::new(EgressPolicy::new("test", vec![], &[], EgressLimits::default()))
    }

    #[test]
    fn the_memory_ceiling_is_the_larger_cap_in_whole_pages() {
        let mut config = RuntimeConfig::default();
        assert!(config.pooling, "pooling is the default");
        assert_eq!(config.memory_ceiling(), 64 << 20);
        config.max_memory_bytes = 100 << 20;
        assert_eq!(config.memory_ceiling(), 100 << 20);
        config.max_memory_bytes = (100 << 20) + 1;
        assert_eq!(config.memory_ceiling(), (100 << 20) + WASM_PAGE);
        config.max_memory_bytes = 1 << 20;
        assert_eq!(config.memory_ceiling(), 64 << 20, "never below the default cap");
    }

    #[tokio::test]
    async fn caps_above_the_ceiling_are_lowered_to_it() {
        let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
        let compiled = runtime.compile(tiktok()).await.unwrap();
        let limits = CallLimits {
            memory_bytes: 1 << 30,
            ..CallLimits::default()
        };
        let instance = runtime.instance("tiktok", compiled, limits, egress());
        assert_eq!(instance.limits().memory_bytes, 64 << 20);
        instance.describe().await.unwrap();
    }

    /// More concurrent calls than pool slots wait for a slot up to their
    /// deadline, then fail with the retryable `Busy`; the pool itself is
    /// never asked for more than it has.
    #[tokio::test]
    async fn a_full_pool_makes_calls_wait_then_fail_as_busy() {
        let runtime = Runtime::new(RuntimeConfig {
            pool_slots: 2,
            ..RuntimeConfig::default()
        })
        .unwrap();
        let compiled = runtime.compile(tiktok()).await.unwrap();
        let limits = CallLimits {
            timeout: Duration::from_millis(100),
            ..CallLimits::default()
        };
        let instance = Arc::new(runtime.instance("tiktok", compiled, limits, egress()));
        let slots = runtime.slots.clone().unwrap();
        let held = slots.clone().acquire_many_owned(2).await.unwrap();
        let started = Instant::now();
        match instance.describe().await {
            Err(PluginError::Busy { slots, waited, .. }) => {
                assert_eq!(slots, 2);
                assert!(waited >= Duration::from_millis(100), "{waited:?}");
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(2));
        // A waiting call gets the slot as soon as one frees up.
        let waiting = tokio::spawn({
            let instance = instance.clone();
            async move { instance.describe().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        waiting.await.unwrap().unwrap();
        // Calls beyond the slots at once all complete (by waiting).
        let calls = (0..8).map(|_| {
            let instance = instance.clone();
            tokio::spawn(async move { instance.describe().await })
        });
        for call in calls.collect::<Vec<_>>() {
            call.await.unwrap().unwrap();
        }
        // A call answers before its store's teardown frees the slot.
        let freed = Instant::now() + Duration::from_secs(5);
        while slots.available_permits() < 2 && Instant::now() < freed {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(slots.available_permits(), 2);
    }

    /// The pool reserves address space for its slots only: a few GiB (64
    /// slots of 64 MiB + guard, stacks, tables), not wasmtime's terabytes.
    #[test]
    fn the_pool_reserves_bounded_address_space() {
        let Some((before, _)) = Runtime::process_memory() else {
            return;
        };
        let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
        let (after, _) = Runtime::process_memory().unwrap();
        // Other tests create runtimes meanwhile: the bound leaves room for them.
        assert!(
            after.saturating_sub(before) < 48 << 30,
            "VmSize grew by {} GiB",
            (after - before) >> 30
        );
        drop(runtime);
    }
}
