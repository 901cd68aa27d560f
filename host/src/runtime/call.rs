//! One sandboxed call: a fresh store with limits, an instance, the export,
//! and the mapping of every way it can fail into a [`PluginError`].
//!
//! Version-agnostic: a plugin is a [`Plugin`] whichever contract version it
//! implements (`wit/` adapts each version onto the newest), and arguments and
//! answers are latest's generated types, converted in `convert.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::ResourceTable;
use wasmtime::{
    PoolConcurrencyLimitError, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap, UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::guest_output::GuestOutput;
use super::wit::{Call, Plugin, latest};
use super::{CompiledPlugin, PluginError, Runtime, budget, convert};
use crate::caps::CallState;
use crate::caps::egress::EgressPolicy;
use crate::contract::{
    Authorization, ChannelContext, ChannelError, ChannelEvent, Credentials, IncomingRequest, Manifest, Media,
    OutboundMessage, SentMessage, Settings, Verification, WebhookRegistration,
};

/// Time past the deadline given to a call stuck in a host import before the
/// call is abandoned.
const GRACE: Duration = Duration::from_millis(250);

/// Resources one call may hold open at once, counted twice: the guest's
/// handles (`Store::set_max_component_handles`) and the host's entries behind
/// them (WASI streams, pollables, … in the call's `ResourceTable`). Each costs
/// host memory outside the plugin's memory cap and the memory budget, so a
/// guest that opens them in a loop must be stopped by a count (the call then
/// fails as a trap that says so). wasmtime's defaults (100,000 handles,
/// 1,000,000 entries) let one such call hold tens of MiB of the host's heap
/// (BENCHMARKS.md); a channel needs a handful (stdio, a pollable per wait).
/// The host's table gets the lower cap, so that spamming a host resource is
/// refused there, where the error can be recognised by type.
pub(crate) const HANDLES_PER_CALL: usize = 4096;
const HOST_RESOURCES_PER_CALL: usize = HANDLES_PER_CALL / 2;

/// Where the time of one call goes (see [`PluginInstance::describe_steps`]).
#[derive(Debug, Clone, Copy)]
pub struct CallSteps {
    /// Waiting for a pool slot, a new `Store` with its WASI context, limits
    /// and epoch callback.
    pub store: Duration,
    /// Instantiating the component in it (memories, tables, fiber stack,
    /// start functions).
    pub instantiate: Duration,
    /// Calling the export, lifting its result out of the guest included.
    pub call: Duration,
    /// Converting the result from the WIT types to the host's.
    pub convert: Duration,
    /// Dropping the instance and store (returning the slot to the pool,
    /// resetting its memory).
    pub teardown: Duration,
}

/// Limits of one call.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// Wall-clock deadline.
    pub timeout: Duration,
    /// Linear memory cap, in bytes.
    pub memory_bytes: usize,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            memory_bytes: 64 << 20,
        }
    }
}

/// Store data: WASI's (empty) context, the limiter and the capabilities' call state.
pub(super) struct StoreData {
    wasi: WasiCtx,
    stderr: GuestOutput,
    table: ResourceTable,
    limiter: MemoryLimiter,
    pub(super) call: CallState,
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// `StoreLimits` for tables and counts, plus a memory cap on the *sum* of all
/// linear memories of the call (StoreLimits caps each memory on its own), and
/// a record of whether a growth was refused, so that the resulting trap can be
/// reported as a memory-limit breach.
struct MemoryLimiter {
    inner: StoreLimits,
    cap_bytes: usize,
    total_bytes: usize,
    memory_refused: bool,
    peak_bytes: usize,
    /// The host-wide budget of all plugin calls' memory (permits of 1 MiB),
    /// and what this call holds of it; returned when the store drops.
    budget: Option<Arc<Semaphore>>,
    reserved: Option<OwnedSemaphorePermit>,
    budget_refused: bool,
}

impl MemoryLimiter {
    /// Takes from the host-wide budget what growing to `total` bytes needs
    /// beyond what this call holds. Never waits (growth is synchronous): an
    /// exhausted budget refuses the growth, and the call fails as retryable.
    fn reserve(&mut self, total: usize) -> bool {
        let Some(budget) = &self.budget else { return true };
        let held = self.reserved.as_ref().map_or(0, |r| r.num_permits());
        let needed = total.div_ceil(1 << 20);
        if needed <= held {
            return true;
        }
        let Ok(more) = budget.clone().try_acquire_many_owned((needed - held) as u32) else {
            return false;
        };
        match &mut self.reserved {
            Some(reserved) => reserved.merge(more),
            None => self.reserved = Some(more),
        }
        true
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.total_bytes - current + desired;
        let allowed = total <= self.cap_bytes && maximum.is_none_or(|max| desired <= max);
        self.memory_refused |= !allowed;
        if allowed && !self.reserve(total) {
            self.budget_refused = true;
            return Ok(false);
        }
        if allowed {
            self.total_bytes = total;
            self.peak_bytes = self.peak_bytes.max(total);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// The deny-all WASI context: no preopened folders, no environment, no
/// arguments, stdin closed, stdout discarded, stderr kept in a bounded
/// buffer of the call ([`GuestOutput`]: what a crash printed), TCP, UDP and
/// name lookup refused (and every socket address denied), fresh RNG state.
///
/// `WasiCtx` is not `Clone`, so each store builds its own; a custom stderr
/// is set only through the builder, which also constructs a throwaway
/// default context.
fn deny_all_wasi(stderr: GuestOutput) -> WasiCtx {
    WasiCtx::builder()
        .stderr(stderr)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

pub(super) fn new_store(
    engine: &wasmtime::Engine,
    call: CallState,
    limits: &CallLimits,
    budget: Option<Arc<Semaphore>>,
) -> Store<StoreData> {
    let inner = StoreLimitsBuilder::new()
        .instances(64)
        .tables(64)
        .memories(16)
        .table_elements(super::TABLE_ELEMENTS)
        .build();
    let deadline = call.deadline;
    let stderr = GuestOutput::default();
    let mut table = ResourceTable::new();
    table.set_max_capacity(HOST_RESOURCES_PER_CALL);
    let data = StoreData {
        wasi: deny_all_wasi(stderr.clone()),
        stderr,
        table,
        limiter: MemoryLimiter {
            inner,
            cap_bytes: limits.memory_bytes,
            total_bytes: 0,
            memory_refused: false,
            peak_bytes: 0,
            budget,
            reserved: None,
            budget_refused: false,
        },
        call,
    };
    let mut store = Store::new(engine, data);
    store.limiter(|data| &mut data.limiter);
    // What a guest may hand the host in one import call: its memory cap, not
    // wasmtime's default of 128 MiB (twice the default cap).
    store.set_hostcall_fuel(limits.memory_bytes);
    store.set_max_component_handles(HANDLES_PER_CALL);
    // Every tick, a running guest yields to the executor (so a busy plugin never
    // holds an async worker) and is stopped once its deadline has passed.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store
}

/// Calls into one loaded plugin. Cheap to clone the `Arc` it lives in; each
/// call runs in its own store.
pub struct PluginInstance {
    inner: Arc<Inner>,
}

/// What a call needs, shared with the task that runs it on the plugin
/// threads.
struct Inner {
    runtime: Arc<Runtime>,
    plugin_id: Arc<str>,
    /// The plugin's version, for the calls' spans (empty for a component
    /// not installed yet).
    version: Arc<str>,
    compiled: Arc<CompiledPlugin>,
    limits: CallLimits,
    egress: Arc<EgressPolicy>,
    last_peak_memory: AtomicUsize,
    /// Its last minutes of calls, for the console's live health.
    recent: super::recent::RecentCalls,
    /// The plugin's calls in flight on this node, at most
    /// `RuntimeConfig::max_concurrent_calls`.
    concurrency: Arc<Semaphore>,
}

impl PluginInstance {
    pub(super) fn new(
        runtime: Arc<Runtime>,
        plugin_id: Arc<str>,
        compiled: Arc<CompiledPlugin>,
        limits: CallLimits,
        egress: Arc<EgressPolicy>,
    ) -> Self {
        let concurrency = Arc::new(Semaphore::new(runtime.config().max_concurrent_calls.max(1)));
        Self {
            inner: Arc::new(Inner {
                runtime,
                plugin_id,
                version: "".into(),
                compiled,
                limits,
                egress,
                last_peak_memory: AtomicUsize::new(0),
                recent: Default::default(),
                concurrency,
            }),
        }
    }

    /// The same instance, its calls' spans naming `version`.
    pub fn with_version(mut self, version: &str) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.version = version.into();
        }
        self
    }

    /// The compiled component behind this instance.
    pub fn compiled(&self) -> &CompiledPlugin {
        &self.inner.compiled
    }

    /// Linear memory the last finished call grew to, in bytes.
    pub fn last_peak_memory(&self) -> usize {
        self.inner.last_peak_memory.load(Ordering::Relaxed)
    }

    /// Its calls of the last minutes on this node: counts, failures, p50
    /// and p99.
    pub fn recent_calls(&self) -> super::CallStats {
        self.inner.recent.stats()
    }

    /// The limits each call runs under.
    pub fn limits(&self) -> CallLimits {
        self.inner.limits
    }

    /// Runs one call on the runtime's plugin threads (never on the caller's
    /// executor, so spinning guests cannot slow the API), and checks its
    /// answer against the host's output budget there too. The answer comes
    /// back as soon as it is known and counted: the store's teardown follows
    /// on the plugin thread, off the caller's path.
    async fn run<R: Send + 'static, T: Send + 'static>(
        &self,
        f: impl for<'a> FnOnce(&'a dyn Plugin, &'a mut Store<StoreData>) -> Call<'a, R> + Send + 'static,
        check: impl FnOnce(R) -> Result<T, budget::OverBudget> + Send + 'static,
    ) -> Result<T, PluginError> {
        use tracing::Instrument as _;
        let inner = self.inner.clone();
        let (answer, answered) = tokio::sync::oneshot::channel();
        // On the plugin threads, still inside the verb's span: the plugin's
        // logs and egress belong to its call.
        let call = async move { inner.run(f, check, answer).await };
        let answer = self
            .inner
            .runtime
            .on_call_threads(call.in_current_span(), answered)
            .await;
        answer.unwrap_or_else(|failed| {
            Err(PluginError::Host {
                plugin: self.inner.plugin_id.to_string(),
                message: format!("the call's task failed: {failed}"),
            })
        })
    }
}

/// What a call holds besides its store: a pool slot and a place among the
/// plugin's concurrent calls, released after the store.
type Permits = (Option<OwnedSemaphorePermit>, OwnedSemaphorePermit);

impl Inner {
    /// Waits for a place among the plugin's concurrent calls and a pool slot
    /// (the waits count against the call's deadline) and creates the call's
    /// fresh store.
    async fn begin(&self) -> Result<(Store<StoreData>, Instant, Permits), PluginError> {
        let started = Instant::now();
        let place = match self.concurrency.clone().try_acquire_owned() {
            Ok(place) => place,
            Err(_) => {
                let waiting = self.concurrency.clone().acquire_owned();
                match tokio::time::timeout(self.limits.timeout, waiting).await {
                    Ok(Ok(place)) => place,
                    _ => {
                        return Err(PluginError::Busy {
                            plugin: self.plugin_id.to_string(),
                            slots: self.runtime.config().max_concurrent_calls as u32,
                            waited: started.elapsed(),
                        });
                    }
                }
            }
        };
        let wait = self.limits.timeout.saturating_sub(started.elapsed());
        let slot = self.runtime.acquire_slot(&self.plugin_id, started, wait).await?;
        let store = self.runtime.new_store(
            self.plugin_id.clone(),
            started + self.limits.timeout,
            &self.limits,
            self.egress.clone(),
        );
        Ok((store, started, (slot, place)))
    }

    /// Runs one call in a fresh store, counts it, and sends its answer,
    /// held to the output budget, on `answer`; then tears the store down.
    async fn run<R: Send, T>(
        &self,
        f: impl for<'a> FnOnce(&'a dyn Plugin, &'a mut Store<StoreData>) -> Call<'a, R> + Send,
        check: impl FnOnce(R) -> Result<T, budget::OverBudget>,
        answer: tokio::sync::oneshot::Sender<Result<T, PluginError>>,
    ) {
        // The permits are released after the store (declared first, dropped last).
        let (mut store, started, _permits) = match self.begin().await {
            Ok(begun) => begun,
            Err(refused) => {
                let _ = answer.send(Err(refused));
                return;
            }
        };
        let work = async {
            let instance = self.compiled.bindings.instantiate(&mut store).await?;
            f(&*instance, &mut store).await
        };
        // The epoch callback stops guest code at the deadline; this timeout also
        // covers time spent inside host imports (e.g. a slow HTTP response).
        let budget = (self.limits.timeout + GRACE).saturating_sub(started.elapsed());
        let outcome = tokio::time::timeout(budget, work).await;
        let peak = store.data().limiter.peak_bytes;
        self.last_peak_memory.store(peak, Ordering::Relaxed);
        let result = match outcome {
            Err(_) => Err(PluginError::Timeout {
                plugin: self.plugin_id.to_string(),
                after: self.limits.timeout,
            }),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.classify(error, &store)),
        };
        let failure = result.as_ref().err().map(PluginError::kind);
        let took = started.elapsed();
        let checked = result.and_then(|value| {
            check(value).map_err(|over| PluginError::OutputBudget {
                plugin: self.plugin_id.to_string(),
                message: over.0,
            })
        });
        // Counted before it is answered, so that whoever sees the answer
        // sees the call in the metrics too.
        self.record(took, failure);
        // The memory budget never waits: a caller starting its next call at
        // once must not be refused for this store's memory, which the
        // teardown below frees within microseconds (its pool slot and place
        // are waited for, and released with the store).
        drop(store.data_mut().limiter.reserved.take());
        let _ = answer.send(checked);
        drop(store);
        self.runtime.after_call(peak);
    }

    /// Every sandboxed call counts here, with its time (the waits for a
    /// place included) and, if it failed, its kind of failure.
    fn record(&self, took: Duration, failure: Option<&'static str>) {
        self.recent.record(took, failure);
        let plugin = self.plugin_id.to_string();
        metrics::histogram!("switchboard_plugin_call_duration_seconds", "plugin" => plugin.clone())
            .record(took.as_secs_f64());
        let outcome = if failure.is_some() { "error" } else { "ok" };
        metrics::counter!("switchboard_plugin_calls_total", "plugin" => plugin.clone(), "outcome" => outcome)
            .increment(1);
        if let Some(kind) = failure {
            metrics::counter!("switchboard_plugin_errors_total", "plugin" => plugin, "kind" => kind)
                .increment(1);
        }
    }

    fn classify(&self, error: wasmtime::Error, store: &Store<StoreData>) -> PluginError {
        let plugin = self.plugin_id.to_string();
        if error.downcast_ref::<PoolConcurrencyLimitError>().is_some() {
            // Not expected (calls hold a slot each, and a component that needs
            // more of the pool than a slot's share is refused at load), but
            // if it happens, it is a full pool, not the plugin's fault.
            return PluginError::Busy {
                plugin,
                slots: self.runtime.config().pool_slots,
                waited: Duration::ZERO,
            };
        }
        if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return PluginError::Timeout {
                plugin,
                after: self.limits.timeout,
            };
        }
        if store.data().limiter.budget_refused {
            return PluginError::MemoryBudget {
                plugin,
                budget_bytes: self.runtime.config().memory_budget(),
            };
        }
        if store.data().limiter.memory_refused {
            return PluginError::MemoryLimit {
                plugin,
                limit_bytes: self.limits.memory_bytes,
            };
        }
        if let Some(cap) = handle_cap_reached(&error) {
            // A trap like any other (deterministic, counted towards
            // quarantine), named for what the guest did and for the cap it hit.
            let message = match cap {
                HandleCap::HostResources => format!(
                    "it held more than {HOST_RESOURCES_PER_CALL} host resources (WASI streams, pollables, …) \
                     at once, the most one call may"
                ),
                HandleCap::GuestHandles => format!(
                    "it held more than {HANDLES_PER_CALL} component handles at once, the most one call may"
                ),
            };
            return PluginError::Trap { plugin, message };
        }
        let trap = format!("{error:#}");
        // What the guest printed says why (a panic's message and location, a
        // traceback); wasmtime's own frames of a stripped component do not.
        let message = match store.data().stderr.text() {
            Some(output) => {
                // Rust's advice to set RUST_BACKTRACE cannot be followed: a
                // guest sees no environment.
                let output: Vec<&str> = output
                    .lines()
                    .filter(|l| !l.starts_with("note: run with `RUST_BACKTRACE"))
                    .collect();
                let cause = match trap.rfind("wasm trap: ") {
                    Some(at) => trap[at..].lines().next().unwrap_or_default(),
                    None => trap.lines().next().unwrap_or_default(),
                };
                format!("{}\n({cause})", output.join("\n"))
            }
            None => trap.lines().take(12).collect::<Vec<_>>().join("\n"),
        };
        PluginError::Trap {
            plugin,
            message: budget::clip_reason(message),
        }
    }
}

/// Which of a call's two resource caps stopped it.
enum HandleCap {
    /// The host's table refused an entry (`HOST_RESOURCES_PER_CALL`): a WASI
    /// pollable or stream costs one here, so this is the cap spam hits first.
    HostResources,
    /// wasmtime refused the guest another handle (`HANDLES_PER_CALL`).
    GuestHandles,
}

/// Whether the call failed because it held as many resources as it may: the
/// host's table refused an entry (a typed error), or wasmtime refused the
/// guest another handle (only a message: "store handle limit exceeded").
fn handle_cap_reached(error: &wasmtime::Error) -> Option<HandleCap> {
    if matches!(
        error.downcast_ref::<wasmtime::component::ResourceTableError>(),
        Some(wasmtime::component::ResourceTableError::Full)
    ) {
        Some(HandleCap::HostResources)
    } else if error
        .chain()
        .any(|cause| cause.to_string().contains("handle limit exceeded"))
    {
        Some(HandleCap::GuestHandles)
    } else {
        None
    }
}

impl PluginInstance {
    fn channel_error(&self, error: ChannelError) -> PluginError {
        PluginError::Channel {
            plugin: self.inner.plugin_id.to_string(),
            error: budget::channel_error(error),
        }
    }

    /// The plugin's self-description (checked by the manifest's own
    /// validation, not the output budget).
    #[tracing::instrument(level = "debug", name = "plugin.describe", skip_all, fields(plugin = %self.inner.plugin_id, version = %self.inner.version, verb = "describe"))]
    pub async fn describe(&self) -> Result<Manifest, PluginError> {
        self.run(|p, s| p.describe(s), |m| Ok(convert::manifest(m))).await
    }

    /// `describe`, step by step as [`Self::describe`] runs it, timing each
    /// step (for `switchboard bench plugins`). On the caller's executor and
    /// without the outer timeout (a timer registration) of a real call.
    pub async fn describe_steps(&self) -> Result<CallSteps, PluginError> {
        let inner = &self.inner;
        let t0 = Instant::now();
        let (mut store, _, permits) = inner.begin().await?;
        let t1 = Instant::now();
        let instance = match inner.compiled.bindings.instantiate(&mut store).await {
            Ok(instance) => instance,
            Err(e) => return Err(inner.classify(e, &store)),
        };
        let t2 = Instant::now();
        let manifest = match instance.describe(&mut store).await {
            Ok(manifest) => manifest,
            Err(e) => return Err(inner.classify(e, &store)),
        };
        let t3 = Instant::now();
        let manifest = convert::manifest(manifest);
        let t4 = Instant::now();
        drop(instance);
        drop(store);
        drop(permits);
        let t5 = Instant::now();
        std::hint::black_box(manifest);
        Ok(CallSteps {
            store: t1 - t0,
            instantiate: t2 - t1,
            call: t3 - t2,
            convert: t4 - t3,
            teardown: t5 - t4,
        })
    }

    /// A verb's answer: the plugin's own error becomes
    /// [`PluginError::Channel`] (its message clipped).
    fn answer<T>(&self, out: Result<T, ChannelError>) -> Result<T, PluginError> {
        out.map_err(|e| {
            let error = self.channel_error(e);
            metrics::counter!(
                "switchboard_plugin_errors_total",
                "plugin" => self.inner.plugin_id.to_string(),
                "kind" => error.kind()
            )
            .increment(1);
            error
        })
    }

    /// authorize, step 1.
    #[tracing::instrument(level = "debug", name = "plugin.authorization_url", skip_all, fields(plugin = %self.inner.plugin_id, version = %self.inner.version, verb = "authorization-url"))]
    pub async fn authorization_url(
        &self,
        settings: &Settings,
        state: &str,
        redirect_uri: &str,
    ) -> Result<String, PluginError> {
        let (settings, state, redirect_uri) = (
            convert::settings(settings),
            state.to_owned(),
            redirect_uri.to_owned(),
        );
        let out = self
            .run(
                move |p, s| {
                    Box::pin(async move { p.authorization_url(s, &settings, &state, &redirect_uri).await })
                },
                |out| out.map_err(convert::channel_error).map(budget::url).flip(),
            )
            .await?;
        self.answer(out)
    }

    /// authorize, step 2.
    #[tracing::instrument(level = "debug", name = "plugin.complete_authorization", skip_all, fields(plugin = %self.inner.plugin_id, version = %self.inner.version, verb = "complete-authorization"))]
    pub async fn complete_authorization(
        &self,
        settings: &Settings,
        query: &[(String, String)],
        redirect_uri: &str,
    ) -> Result<Authorization, PluginError> {
        let (settings, query, redirect_uri) = (
            convert::settings(settings),
            convert::pairs_to_wit(query),
            redirect_uri.to_owned(),
        );
        let out = self
            .run(
                move |p, s| {
                    Box::pin(async move {
                        p.complete_authorization(s, &settings, &query, &redirect_uri)
                            .await
                    })
                },
                |out| {
                    out.map_err(convert::channel_error)
                        .map(|a| budget::authorization(convert::authorization(a)))
                        .flip()
                },
            )
            .await?;
        self.answer(out)
    }

    /// Credential refresh.
    #[tracing::instrument(level = "debug", name = "plugin.refresh_credentials", skip_all, fields(plugin = %self.inner.plugin_id, version = %self.inner.version, verb = "refresh-credentials"))]
    pub async fn refresh_credentials(
        &self,
        settings: &Settings,
        current: &Credentials,
    ) -> Result<Credentials, PluginError> {
        let (settings, current) = (convert::settings(settings), convert::credentials_to_wit(current));
        let out = self
            .run(
                move |p, s| Box::pin(async move { p.refresh_credentials(s, &settings, &current).await }),
                |out| {
                    out.map_err(convert::channel_error)
                        .map(|c| budget::credentials(convert::credentials(c)))
                        .flip()
                },
            )
            .await?;
        self.answer(out)
    }

    /// verify-webhook.
    #[tracing::instrument(level = "debug", name = "plugin.verify_webhook", skip_all, fields(plugin = %self.inner.plugin_id, version = %self.inner.version, verb = "verify-webhook"))]
    pub async fn verify_webhook(
        &self,
        settings: &Settings,
        request: &IncomingRequest,
    ) -> Result<Verification, PluginError> {
        let (settings, request) = (convert::settings(settings), convert::incoming_request(request));
        self.run(
            move |p, s| Box::pin(async move { p.verify_webhook(s, &settings, &request).await }),
            |out| budget::verification(convert::verification(out)),
        )
        .await
    }

    /// verify-webhook and, when the request is accepted, parse-event, in one
    /// instance: one webhook is one request from one provider, so its two
    /// calls may share a sandbox (nothing of it survives this call).
    ///
    /// Once verification has accepted the request, whatever happens to the
    /// parse (the plugin's own error, a trap, its deadline or memory cap, an
    /// answer over the host's budget, a transient shortage) is answered
    /// beside `Accepted`, for the caller to store the verified webhook
    /// anyway: a parse fault must never turn a genuine webhook away, and
    /// verifying again to find out would cost a second call. Only a failure
    /// before verification answered is an `Err`.
    // `#[instrument]` restates the return type inside its expansion, where
    // clippy counts it as a type of its own.
    #[allow(clippy::type_complexity)]
    #[tracing::instrument(level = "debug", name = "plugin.verify_and_parse", skip_all, fields(plugin = %self.inner.plugin_id, version = %self.inner.version, verb = "verify-and-parse"))]
    pub async fn verify_and_parse(
        &self,
        settings: &Settings,
        request: &IncomingRequest,
    ) -> Result<(Verification, Option<Result<Vec<ChannelEvent>, PluginError>>), PluginError> {
        let (settings, request) = (convert::settings(settings), convert::incoming_request(request));
        // Set inside the sandbox the moment verification accepts, so that it
        // is known even when the parse then takes the whole call down.
        let accepted = Arc::new(AtomicBool::new(false));
        let seen = accepted.clone();
        let outcome = self
            .run(
                move |p, s| {
                    Box::pin(async move {
                        let verification = p.verify_webhook(s, &settings, &request).await?;
                        let parsed = if matches!(verification, latest::types::Verification::Accepted) {
                            seen.store(true, Ordering::Release);
                            Some(p.parse_event(s, &settings, &request).await?)
                        } else {
                            None
                        };
                        Ok((verification, parsed))
                    })
                },
                |(verification, parsed)| {
                    let verification = budget::verification(convert::verification(verification))?;
                    let parsed = parsed
                        .map(|out| {
                            out.map_err(convert::channel_error)
                                .map(|events| {
                                    budget::events(events.into_iter().map(convert::event).collect())
                                })
                                .flip()
                        })
                        .transpose()?;
                    Ok((verification, parsed))
                },
            )
            .await;
        match outcome {
            Ok((verification, parsed)) => Ok((verification, parsed.map(|out| self.answer(out)))),
            Err(fault) if accepted.load(Ordering::Acquire) => Ok((Verification::Accepted, Some(Err(fault)))),
            Err(fault) => Err(fault),
        }
    }

    /// parse-event.
    #[tracing::instrument(level = "debug", name = "plugin.parse_event", skip_all, fields(plugin = %self.inner.plugin_id, version = %self.inner.version, verb = "parse-event"))]
    pub async fn parse_event(
        &self,
        settings: &Settings,
        request: &IncomingRequest,
    ) -> Result<Vec<ChannelEvent>, PluginError> {
        let (settings, request) = (convert::settings(settings), convert::incoming_request(request));
        let out = self
            .run(
                move |p, s| Box::pin(async move { p.parse_event(s, &settings, &request).await }),
                |out| {
                    out.map_err(convert::channel_error)
                        .map(|events| budget::events(events.into_iter().map(convert::event).collect()))
                        .flip()
                },
            )
            .await?;
        self.answer(out)
    }

    /// send-message.
    #[tracing::instrument(level = "debug", name = "plugin.send_message", skip_all, fields(plugin = %self.inner.plugin_id, version = %self.inner.version, verb = "send-message"))]
    pub async fn send_message(
        &self,
        context: &ChannelContext,
        message: &OutboundMessage,
    ) -> Result<SentMessage, PluginError> {
        let (context, message) = (convert::context(context), convert::outbound_message(message));
        let out = self
            .run(
                move |p, s| Box::pin(async move { p.send_message(s, &context, &message).await }),
                |out| {
                    out.map_err(convert::channel_error)
                        .map(|m| budget::sent_message(convert::sent_message(m)))
                        .flip()
                },
            )
            .await?;
        self.answer(out)
    }

    /// webhooks.register-webhook (contract 0.2 and later): points the provider's webhook
    /// callback at `callback_url`.
    #[tracing::instrument(level = "debug", name = "plugin.register_webhook", skip_all, fields(plugin = %self.inner.plugin_id, version = %self.inner.version, verb = "register-webhook"))]
    pub async fn register_webhook(
        &self,
        settings: &Settings,
        callback_url: &str,
    ) -> Result<WebhookRegistration, PluginError> {
        let (settings, callback_url) = (convert::settings(settings), callback_url.to_owned());
        let out = self
            .run(
                move |p, s| {
                    Box::pin(async move {
                        match p.register_webhook(s, &settings, &callback_url) {
                            Some(call) => call.await.map(Some),
                            None => Ok(None),
                        }
                    })
                },
                webhook_answer,
            )
            .await?;
        self.webhook_answer(out)
    }

    /// webhooks.current-webhook (contract 0.2 and later): the provider's registration now.
    #[tracing::instrument(level = "debug", name = "plugin.current_webhook", skip_all, fields(plugin = %self.inner.plugin_id, version = %self.inner.version, verb = "current-webhook"))]
    pub async fn current_webhook(&self, settings: &Settings) -> Result<WebhookRegistration, PluginError> {
        let settings = convert::settings(settings);
        let out = self
            .run(
                move |p, s| {
                    Box::pin(async move {
                        match p.current_webhook(s, &settings) {
                            Some(call) => call.await.map(Some),
                            None => Ok(None),
                        }
                    })
                },
                webhook_answer,
            )
            .await?;
        self.webhook_answer(out)
    }

    fn webhook_answer(
        &self,
        out: Option<Result<WebhookRegistration, ChannelError>>,
    ) -> Result<WebhookRegistration, PluginError> {
        match out {
            None => Err(self.channel_error(ChannelError {
                code: crate::contract::ErrorCode::Unsupported,
                message: format!(
                    "this plugin implements contract {}; registering webhooks needs 0.2 or later",
                    self.inner.compiled.bindings.contract()
                ),
                retryable: false,
                retry_after_ms: None,
            })),
            Some(out) => self.answer(out),
        }
    }

    /// fetch-media.
    #[tracing::instrument(level = "debug", name = "plugin.fetch_media", skip_all, fields(plugin = %self.inner.plugin_id, version = %self.inner.version, verb = "fetch-media"))]
    pub async fn fetch_media(&self, context: &ChannelContext, media_ref: &str) -> Result<Media, PluginError> {
        let (context, media_ref) = (convert::context(context), media_ref.to_owned());
        let out = self
            .run(
                move |p, s| Box::pin(async move { p.fetch_media(s, &context, &media_ref).await }),
                |out| {
                    out.map_err(convert::channel_error)
                        .map(|m| budget::media(convert::media(m)))
                        .flip()
                },
            )
            .await?;
        self.answer(out)
    }
}

/// `Result<Result<T, OverBudget>, E>` → `Result<Result<T, E>, OverBudget>`:
/// an answer over budget fails the call whatever the plugin answered.
trait Flip<T, E> {
    fn flip(self) -> Result<Result<T, E>, budget::OverBudget>;
}

impl<T, E> Flip<T, E> for Result<Result<T, budget::OverBudget>, E> {
    fn flip(self) -> Result<Result<T, E>, budget::OverBudget> {
        match self {
            Ok(Ok(value)) => Ok(Ok(value)),
            Ok(Err(over)) => Err(over),
            Err(error) => Ok(Err(error)),
        }
    }
}

/// A webhook verb's answer, converted and within budget.
#[allow(clippy::type_complexity)]
fn webhook_answer(
    out: Option<Result<latest::webhooks::WebhookRegistration, latest::types::ChannelError>>,
) -> Result<Option<Result<WebhookRegistration, ChannelError>>, budget::OverBudget> {
    out.map(|out| {
        out.map_err(convert::channel_error)
            .map(|r| budget::webhook_registration(convert::webhook_registration(r)))
            .flip()
    })
    .transpose()
}
