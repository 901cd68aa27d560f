//! `switchboard bench`: compile time, load-from-cache time, fresh-store
//! instantiate+call latency (p50/p99) with the on-demand and the pooling
//! allocator, and linear memory per instance. Prints a Markdown table, then
//! where the time of one `describe` call goes (p50 of each step) and the
//! process's virtual and resident size with each allocator.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;

use crate::caps::egress::{EgressLimits, EgressPolicy};
use crate::config::HostConfig;
use crate::contract::IncomingRequest;
use crate::plugin_host::{bundled, settings};
use crate::runtime::{CallSteps, PluginInstance, Runtime, RuntimeConfig};

/// What to measure.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Plugin compile time, call latency and memory.
    Plugins(BenchArgs),
    /// Dashboard API latency on a large seeded database.
    Api(super::bench_api::BenchApiArgs),
    /// verify-webhook + parse-event of one signed TikTok webhook in the
    /// sandbox (compare with `cargo bench -p switchboard-plugin-tiktok`).
    Tiktok(BenchArgs),
    /// Durable webhook ingest: acknowledged webhooks/s and latency under load.
    Webhooks(super::bench_webhooks::BenchWebhooksArgs),
    /// From a webhook's 200 to the message on an agent's WebSocket.
    Latency(super::bench_latency::BenchLatencyArgs),
    /// What plugin calls spinning until their deadline cost the API's
    /// latency (quiet and spinning phases, alternated).
    Isolation(super::bench_isolation::BenchIsolationArgs),
    /// Every benchmark above in turn, on temporary SQLite databases, and
    /// with `--postgres` on PostgreSQL too.
    All(BenchAllArgs),
    /// The load generator `bench webhooks` runs as a process of its own.
    #[command(hide = true)]
    Load(super::bench_webhooks::BenchLoadArgs),
}

/// Flags of `bench all`.
#[derive(Debug, clap::Args)]
pub struct BenchAllArgs {
    /// A run of seconds that proves every benchmark still builds and runs
    /// (its figures mean nothing); what `tests/run` does.
    #[arg(long)]
    pub smoke: bool,
    /// Also run the PostgreSQL benchmarks on this server (a URL of any
    /// database on it, only connected to): ingest against pgbench, webhook
    /// to agent across two nodes quiet and under 500 other webhooks/s, and
    /// the conversation list. Each gets an empty scratch database of its
    /// own, dropped afterwards.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
}

/// Flags of `bench plugins`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Component to measure (default: every bundled plugin).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Calls per measurement.
    #[arg(long, default_value_t = 2000)]
    pub iterations: u32,
    /// `bench plugins`: measure with the pooling allocator only, e.g. to
    /// profile the production call path alone (default: on-demand, then
    /// pooling).
    #[arg(long)]
    pub pooling_only: bool,
}

/// The native build's verify+parse of the same TikTok webhook, p50 in µs:
/// `cargo bench -p switchboard-plugin-tiktok` on this machine (BENCHMARKS.md).
/// The host links the guest only as a component, so it cannot time the
/// native build itself; re-measure when the plugin's parsing changes.
const NATIVE_TIKTOK_VERIFY_PARSE_US: f64 = 2.5;

pub async fn run(config: &HostConfig, command: BenchCommand) -> anyhow::Result<ExitCode> {
    let code = match command {
        // A helper process: its one line of output is read by its parent,
        // so no summary follows it.
        BenchCommand::Load(args) => return super::bench_webhooks::run_load(args).await,
        BenchCommand::Plugins(args) => run_plugins(config, args).await,
        BenchCommand::Api(args) => super::bench_api::run(config, args).await,
        BenchCommand::Webhooks(args) => super::bench_webhooks::run(config, args).await,
        BenchCommand::Latency(args) => super::bench_latency::run(config, args).await,
        BenchCommand::Isolation(args) => super::bench_isolation::run(config, args).await,
        BenchCommand::All(args) => run_all(config, args).await,
        BenchCommand::Tiktok(args) => run_tiktok(config, args).await,
    }?;
    println!(
        "
## against the targets
"
    );
    super::bench_summary::print();
    Ok(code)
}

/// Runs every benchmark, each printing its own table.
async fn run_all(config: &HostConfig, args: BenchAllArgs) -> anyhow::Result<ExitCode> {
    let smoke = args.smoke;
    let iterations = if smoke { 200 } else { 3000 };
    println!("\n## bench plugins\n");
    run_plugins(
        config,
        BenchArgs {
            file: None,
            iterations,
            pooling_only: false,
        },
    )
    .await?;
    println!("\n## bench tiktok\n");
    run_tiktok(
        config,
        BenchArgs {
            file: None,
            iterations,
            pooling_only: false,
        },
    )
    .await?;
    for database in std::iter::once(None).chain(args.postgres.iter().map(Some)) {
        run_database_benches(config, smoke, database).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The benchmarks that run against a database: on a temporary SQLite file
/// (`server` none), or each in a scratch database of the PostgreSQL server.
async fn run_database_benches(
    config: &HostConfig,
    smoke: bool,
    server: Option<&String>,
) -> anyhow::Result<()> {
    let label = if server.is_some() { "PostgreSQL" } else { "SQLite" };
    // Twice: as `serve` runs (admission control holds ingest to the apply
    // rate, so applies keep up), then ingest alone, the workers started when
    // the load ends: what the durable-ingest targets compare with pgbench.
    let admitted = crate::app::PipelineConfig::default().inbound_backlog;
    for (inbound_backlog, apply_after_load) in [(admitted, false), (0, true)] {
        let mode = if apply_after_load {
            "ingest alone"
        } else {
            "as served"
        };
        println!("\n## bench webhooks, {label}, {mode}\n");
        let made = scratch_database(server).await?;
        super::bench_webhooks::run(
            config,
            super::bench_webhooks::BenchWebhooksArgs {
                clients: if smoke { 4 } else { 16 },
                seconds: if smoke { 1 } else { 8 },
                inboxes: 10,
                conversations: 1000,
                database_url: made.as_ref().map(|(_, url)| url.clone()),
                inbound_backlog,
                apply_after_load,
                metrics: false,
                in_process: false,
            },
        )
        .await?;
        drop_scratch_database(server, made).await?;
    }
    // Across two nodes where the database can be shared; the second
    // PostgreSQL run adds the flood of other webhooks.
    let latency_runs: &[(usize, u32)] = if server.is_some() {
        &[(2, 0), (2, 500)]
    } else {
        &[(1, 0)]
    };
    for &(nodes, background_rate) in latency_runs {
        println!("\n## bench latency, {label}, {nodes} node(s), {background_rate} other webhooks/s\n");
        let made = scratch_database(server).await?;
        super::bench_latency::run(
            config,
            super::bench_latency::BenchLatencyArgs {
                rate: 20,
                seconds: if smoke { 1 } else { 10 },
                background_rate: if smoke {
                    background_rate / 10
                } else {
                    background_rate
                },
                nodes,
                database_url: made.as_ref().map(|(_, url)| url.clone()),
            },
        )
        .await?;
        drop_scratch_database(server, made).await?;
    }
    println!("\n## bench api, {label}\n");
    let made = scratch_database(server).await?;
    super::bench_api::run(
        config,
        super::bench_api::BenchApiArgs {
            conversations: if smoke { 2_000 } else { 100_000 },
            messages: if smoke { 10_000 } else { 1_000_000 },
            requests: if smoke { 50 } else { 500 },
            database_url: made.as_ref().map(|(_, url)| url.clone()),
        },
    )
    .await?;
    drop_scratch_database(server, made).await?;
    Ok(())
}

/// A fresh, empty scratch database on the PostgreSQL server, if one is
/// named: its name and URL.
async fn scratch_database(server: Option<&String>) -> anyhow::Result<Option<(String, String)>> {
    static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let Some(server) = server else { return Ok(None) };
    let name = format!(
        "sb_bench_{}_{}",
        std::process::id(),
        MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let url = crate::store::scratch::create_postgres_database(server, &name).await?;
    Ok(Some((name, url)))
}

/// Drops what [`scratch_database`] made.
async fn drop_scratch_database(
    server: Option<&String>,
    made: Option<(String, String)>,
) -> anyhow::Result<()> {
    if let (Some(server), Some((name, _))) = (server, made) {
        crate::store::scratch::drop_postgres_database(server, &name).await?;
    }
    Ok(())
}

async fn run_plugins(config: &HostConfig, args: BenchArgs) -> anyhow::Result<ExitCode> {
    let components: Vec<(String, Vec<u8>)> = match &args.file {
        Some(path) => vec![(
            path.display().to_string(),
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        )],
        None => bundled::BUNDLED
            .iter()
            .map(|(name, bytes)| (name.to_string(), bytes.to_vec()))
            .collect(),
    };
    println!(
        "| component | size | compile | load cached | allocator | describe p50 / p99 | verify-webhook p50 / p99 | memory / instance |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut steps = Vec::new();
    for (name, bytes) in components {
        steps.extend(bench_component(config, &name, bytes, args.iterations, args.pooling_only).await?);
    }
    println!();
    println!(
        "One `describe` call, step by step (p50 of each step over {} calls; share of the steps' sum). \
         store: slot + new Store + WASI ctx + limits + epoch callback; call: the export, lifting included; \
         convert: WIT types to the host's; teardown: dropping instance and store. \
         VmSize / VmRSS: this process, read from /proc/self/status while the runtime is live.",
        args.iterations
    );
    println!();
    println!(
        "| component | allocator | store | instantiate | call | convert | teardown | total p50 / p99 | VmSize | VmRSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in steps {
        println!("{row}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the component's rows of the main table; answers its rows of the
/// step table.
async fn bench_component(
    config: &HostConfig,
    name: &str,
    bytes: Vec<u8>,
    iterations: u32,
    pooling_only: bool,
) -> anyhow::Result<Vec<String>> {
    let cache = tempfile_dir()?;
    let bytes = Arc::new(bytes);
    let mut step_rows = Vec::new();
    let allocators: &[bool] = if pooling_only { &[true] } else { &[false, true] };
    for &pooling in allocators {
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(cache.clone()),
            pooling,
            ..config.runtime()
        })?;
        let _ = std::fs::remove_dir_all(&cache);
        let compile = runtime.compile(bytes.clone()).await?;
        let compile_time = compile.load_time;
        let cached = runtime.compile(bytes.clone()).await?;
        anyhow::ensure!(cached.from_cache, "the second load did not come from the cache");
        let egress = Arc::new(EgressPolicy::new(name, vec![], &[], EgressLimits::default()));
        let instance = runtime.instance(name, cached.clone(), runtime.config().default_limits, egress);
        let manifest = instance.describe().await?;
        let settings = settings::resolve(&manifest, &Default::default());
        let request = IncomingRequest {
            method: "POST".into(),
            path: format!("/webhooks/{}", manifest.id),
            query: String::new(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"event":"im_receive_msg","content":"{}"}"#.to_vec(),
        };
        let describe = measure(iterations, || instance.describe()).await?;
        let verify = measure(iterations, || instance.verify_webhook(&settings, &request)).await?;
        let memory = peak_memory(&instance).await;
        println!(
            "| {} {} | {} KiB | {} | {} | {} | {} / {} | {} / {} | {} KiB |",
            manifest.id,
            manifest.version,
            bytes.len() / 1024,
            ms(compile_time),
            ms(cached.load_time),
            if pooling { "pooling" } else { "on-demand" },
            us(describe.value_at_quantile(0.5)),
            us(describe.value_at_quantile(0.99)),
            us(verify.value_at_quantile(0.5)),
            us(verify.value_at_quantile(0.99)),
            memory / 1024,
        );
        let steps = measure_steps(&instance, iterations).await?;
        let (vm_size, vm_rss) = Runtime::process_memory().unwrap_or_default();
        if pooling && manifest.id == "tiktok" {
            super::bench_summary::record(
                "Rust plugin call (fresh sandbox, instantiate, `describe`, conversion), tiktok, pooling",
                format!(
                    "{} p50 / {} p99",
                    us(describe.value_at_quantile(0.5)),
                    us(describe.value_at_quantile(0.99))
                ),
                "≤ 10 µs p50",
                "36 µs p50 pooling (opt-in), 81 µs on demand",
            );
            super::bench_summary::record(
                "process size with the pooling allocator (VmSize / VmRSS)",
                format!("{} / {}", mib(vm_size), mib(vm_rss)),
                "bounded and reported",
                "~4 TiB reserved",
            );
        }
        step_rows.push(format!(
            "| {} {} | {} | {} | {} / {} | {} | {} |",
            manifest.id,
            manifest.version,
            if pooling { "pooling" } else { "on-demand" },
            steps,
            us(describe.value_at_quantile(0.5)),
            us(describe.value_at_quantile(0.99)),
            mib(vm_size),
            mib(vm_rss),
        ));
    }
    let _ = std::fs::remove_dir_all(&cache);
    Ok(step_rows)
}

/// p50 of each step of `describe`, with its share of their sum, as table
/// cells: store | instantiate | call | convert | teardown.
async fn measure_steps(instance: &PluginInstance, iterations: u32) -> anyhow::Result<String> {
    for _ in 0..iterations.min(100) {
        instance.describe_steps().await?;
    }
    let mut histograms = Vec::new();
    for _ in 0..5 {
        histograms.push(Histogram::<u64>::new(3)?);
    }
    for _ in 0..iterations {
        let CallSteps {
            store,
            instantiate,
            call,
            convert,
            teardown,
        } = instance.describe_steps().await?;
        for (histogram, step) in histograms
            .iter_mut()
            .zip([store, instantiate, call, convert, teardown])
        {
            histogram.record(step.as_nanos() as u64)?;
        }
    }
    let p50s: Vec<u64> = histograms.iter().map(|h| h.value_at_quantile(0.5)).collect();
    let sum = p50s.iter().sum::<u64>().max(1);
    Ok(p50s
        .iter()
        .map(|&p50| {
            format!(
                "{:.1} µs ({:.0}%)",
                p50 as f64 / 1000.0,
                p50 as f64 * 100.0 / sum as f64
            )
        })
        .collect::<Vec<_>>()
        .join(" | "))
}

/// The same webhook as the TikTok crate's `bench_webhook` (native side of
/// the comparison), signed now with `bench-secret`.
async fn run_tiktok(config: &HostConfig, args: BenchArgs) -> anyhow::Result<ExitCode> {
    let bytes = match &args.file {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        None => bundled::BUNDLED
            .iter()
            .find(|(name, _)| name.contains("tiktok"))
            .map(|(_, bytes)| bytes.to_vec())
            .context("no bundled TikTok plugin")?,
    };
    let cache = tempfile_dir()?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.clone()),
        ..config.runtime()
    })?;
    let compiled = runtime.compile(Arc::new(bytes)).await?;
    let egress = Arc::new(EgressPolicy::new("tiktok", vec![], &[], EgressLimits::default()));
    let instance = runtime.instance("tiktok", compiled, runtime.config().default_limits, egress);
    let settings = crate::contract::Settings {
        config: vec![("app_id".into(), "bench-app".into())],
        secrets: vec![("app_secret".into(), super::bench_webhooks::SECRET.into())],
    };
    let body = super::bench_webhooks::tiktok_webhook(
        "biz-bench",
        "bench-1",
        "conv-1",
        "Hello from a TikTok user, with a sentence of realistic length.",
    );
    let signature = super::bench_webhooks::sign(&body);
    let request = IncomingRequest {
        method: "POST".into(),
        path: "/webhooks/tiktok".into(),
        query: String::new(),
        headers: vec![("Tiktok-Signature".into(), signature)],
        body,
    };
    let separate = measure(args.iterations, || async {
        let verified = instance.verify_webhook(&settings, &request).await?;
        anyhow::ensure!(
            matches!(verified, crate::contract::Verification::Accepted),
            "not accepted: {verified:?}"
        );
        let events = instance.parse_event(&settings, &request).await?;
        anyhow::ensure!(events.len() == 1, "expected one event");
        Ok::<_, anyhow::Error>(())
    })
    .await?;
    println!(
        "wasm verify+parse of one TikTok webhook (two sandboxed calls, fresh store each): p50 {}, p99 {}",
        us(separate.value_at_quantile(0.5)),
        us(separate.value_at_quantile(0.99))
    );
    let shared = measure(args.iterations, || async {
        let (verified, parsed) = instance.verify_and_parse(&settings, &request).await?;
        anyhow::ensure!(
            matches!(verified, crate::contract::Verification::Accepted),
            "not accepted: {verified:?}"
        );
        let events = parsed.ok_or_else(|| anyhow::anyhow!("not parsed"))??;
        anyhow::ensure!(events.len() == 1, "expected one event");
        Ok::<_, anyhow::Error>(())
    })
    .await?;
    println!(
        "wasm verify+parse of one TikTok webhook (one sandbox for both, as ingest does): p50 {}, p99 {}",
        us(shared.value_at_quantile(0.5)),
        us(shared.value_at_quantile(0.99))
    );
    let p50_us = shared.value_at_quantile(0.5) as f64 / 1000.0;
    super::bench_summary::record(
        "TikTok verify+parse of one webhook, one sandbox",
        format!(
            "{p50_us:.0} µs p50 = {:.1}× native",
            p50_us / NATIVE_TIKTOK_VERIFY_PARSE_US
        ),
        "≤ 5× native",
        format!("native {NATIVE_TIKTOK_VERIFY_PARSE_US} µs; 179 µs (70×) in two sandboxes"),
    );
    let _ = std::fs::remove_dir_all(&cache);
    Ok(ExitCode::SUCCESS)
}

async fn measure<F, Fut, T, E>(iterations: u32, mut call: F) -> anyhow::Result<Histogram<u64>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: Into<anyhow::Error>,
{
    for _ in 0..iterations.min(100) {
        call().await.map_err(Into::into)?;
    }
    let mut histogram = Histogram::<u64>::new(3)?;
    for _ in 0..iterations {
        let started = Instant::now();
        call().await.map_err(Into::into)?;
        histogram.record(started.elapsed().as_nanos() as u64)?;
    }
    Ok(histogram)
}

async fn peak_memory(instance: &PluginInstance) -> usize {
    let _ = instance.describe().await;
    instance.last_peak_memory()
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("switchboard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / f64::from(1 << 20))
}

fn us(nanos: u64) -> String {
    format!("{:.0} µs", nanos as f64 / 1000.0)
}
