//! `switchboard bench`: compile time, load-from-cache time, fresh-store
//! instantiate+call latency (p50/p99) with the on-demand and the pooling
//! allocator, and linear memory per instance. Prints a Markdown table.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;

use crate::caps::egress::{EgressLimits, EgressPolicy};
use crate::channel::IncomingRequest;
use crate::config::HostConfig;
use crate::plugins::{bundled, settings};
use crate::runtime::{PluginInstance, Runtime, RuntimeConfig};

/// What to measure.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Plugin compile time, call latency and memory.
    Plugins(BenchArgs),
    /// Dashboard API latency on a large seeded database.
    Api(super::bench_api::BenchApiArgs),
    /// Durable webhook ingest: acknowledged webhooks/s and latency under load.
    Webhooks(super::bench_webhooks::BenchWebhooksArgs),
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
}

pub async fn run(config: &HostConfig, command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Plugins(args) => run_plugins(config, args).await,
        BenchCommand::Api(args) => super::bench_api::run(config, args).await,
        BenchCommand::Webhooks(args) => super::bench_webhooks::run(config, args).await,
    }
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
    for (name, bytes) in components {
        bench_component(config, &name, bytes, args.iterations).await?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn bench_component(
    config: &HostConfig,
    name: &str,
    bytes: Vec<u8>,
    iterations: u32,
) -> anyhow::Result<()> {
    let cache = tempfile_dir()?;
    let bytes = Arc::new(bytes);
    for pooling in [false, true] {
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
    }
    let _ = std::fs::remove_dir_all(&cache);
    Ok(())
}

async fn measure<F, Fut, T>(iterations: u32, mut call: F) -> anyhow::Result<Histogram<u64>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::runtime::PluginError>>,
{
    for _ in 0..iterations.min(100) {
        call().await?;
    }
    let mut histogram = Histogram::<u64>::new(3)?;
    for _ in 0..iterations {
        let started = Instant::now();
        call().await?;
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

fn us(nanos: u64) -> String {
    format!("{:.0} µs", nanos as f64 / 1000.0)
}
