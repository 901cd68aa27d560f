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
//!   environment, no sockets, no stdio): components built by other toolchains
//!   import WASI and would not instantiate without it;
//! - compilation runs on a blocking thread, never on an async worker;
//! - every supported contract version is bound side by side in `wit/`,
//!   newest first: the rest of the runtime is written against the newest
//!   version's types, and each older version adapts onto them.

mod call;
mod convert;
mod error;
mod host_imports;
mod wit;

pub use call::{CallLimits, PluginInstance};
pub use error::PluginError;
pub use wit::{SUPPORTED_CONTRACTS, SupportedContracts, supports_contract};

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::caps::CallState;
use call::StoreData;

/// How often the epoch ticks; deadlines are checked at this granularity.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Runtime settings, from the host's config.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Folder for compiled components; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Use wasmtime's pooling allocator (pre-reserved instance slots).
    pub pooling: bool,
    /// Limits for plugins that set none of their own.
    pub default_limits: CallLimits,
}

/// The process-wide engine and linker.
pub struct Runtime {
    engine: Engine,
    linker: Linker<StoreData>,
    config: RuntimeConfig,
    engine_hash: String,
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
        let mut wasm = Config::new();
        wasm.wasm_component_model(true).epoch_interruption(true);
        if config.pooling {
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(1000)
                .total_core_instances(2000)
                .total_memories(1000)
                .total_tables(2000)
                .max_memory_size(config.default_limits.memory_bytes.max(64 << 20));
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
        Ok(Arc::new(Self {
            engine,
            linker,
            config,
            engine_hash,
        }))
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
    pub fn instance(
        self: &Arc<Self>,
        plugin_id: &str,
        compiled: Arc<CompiledPlugin>,
        limits: CallLimits,
        egress: Arc<crate::caps::egress::EgressPolicy>,
    ) -> PluginInstance {
        PluginInstance::new(self.clone(), plugin_id.into(), compiled, limits, egress)
    }

    fn new_store(
        &self,
        plugin_id: Arc<str>,
        limits: &CallLimits,
        egress: Arc<crate::caps::egress::EgressPolicy>,
    ) -> wasmtime::Store<StoreData> {
        let deadline = Instant::now() + limits.timeout;
        let call = CallState {
            plugin_id,
            egress,
            http_requests: 0,
            log_records: 0,
            deadline,
        };
        call::new_store(&self.engine, call, limits)
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
