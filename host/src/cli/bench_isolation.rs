//! `switchboard bench isolation`: what spinning plugin calls cost the API
//! (issue 13: "the API's p99 under four looping plugins stays within 2× its
//! quiet value"). A node serves on loopback (a scratch SQLite database unless
//! `--bench-database-url`); a plugin whose call spins (the test probe's
//! `loop`) is installed; then rounds alternate a quiet phase and one with
//! `--spinners` calls spinning until their deadline, re-issued as each ends,
//! and in each phase the API answers `--requests` sequential requests to
//! `/health` and to `/api/v1/profile` (an authenticated, database-backed
//! answer). Prints p50 / p99 / max per phase and the p99 ratio.
//!
//! The spinning calls go to the plugin directly, as the pipeline's workers
//! call it (no HTTP, no fault accounting, so the plugin is never
//! quarantined); the requests come from this process over loopback, one at
//! a time, so the client shares the API's executor as a co-located client
//! would share its cores.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;

use super::bench_webhooks::{BenchNode, Scratch};
use crate::config::HostConfig;
use crate::contract::IncomingRequest;

/// Flags of `bench isolation`.
#[derive(Debug, clap::Args)]
pub struct BenchIsolationArgs {
    /// A plugin component with a call that spins: the test probe
    /// (`cargo build --profile plugin --target wasm32-wasip2 -p
    /// switchboard-fixture-probe`, then
    /// `target/wasm32-wasip2/plugin/switchboard_fixture_probe.wasm`).
    #[arg(long)]
    pub component: std::path::PathBuf,
    /// The webhook body that makes its parse spin.
    #[arg(long, default_value = "loop")]
    pub spin_body: String,
    /// Plugin calls spinning at once.
    #[arg(long, default_value_t = 4)]
    pub spinners: usize,
    /// Each spinning call's deadline, in ms.
    #[arg(long, default_value_t = 3000)]
    pub spin_ms: u64,
    /// Sequential requests per endpoint per phase.
    #[arg(long, default_value_t = 1000)]
    pub requests: usize,
    /// Quiet / spinning rounds.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// An empty database to use (default: a temporary SQLite file).
    #[arg(long = "bench-database-url")]
    pub database_url: Option<String>,
}

/// What one phase measured, per endpoint, in µs.
struct Phase {
    health: Histogram<u64>,
    profile: Histogram<u64>,
    spins_ended: u64,
}

pub async fn run(config: &HostConfig, args: BenchIsolationArgs) -> anyhow::Result<ExitCode> {
    if args.spinners == 0 || args.requests == 0 || args.rounds == 0 {
        bail!("--spinners, --requests and --rounds must be at least 1");
    }
    let bytes =
        std::fs::read(&args.component).with_context(|| format!("reading {}", args.component.display()))?;
    let scratch = Scratch::open(
        "isolation",
        args.database_url.clone(),
        "the bench database must be empty",
    )
    .await?;
    let store = scratch.store.clone();
    let backlog = crate::app::PipelineConfig::default().inbound_backlog;
    let node = BenchNode::start(
        config,
        &scratch.url,
        store.clone(),
        &scratch.dir.join("cache"),
        backlog,
    )
    .await?;
    let plugins = &node.state.plugins;
    let installed = crate::plugin_host::admin::install(plugins, bytes, false).await?;
    crate::plugin_host::admin::set_limits(plugins, &installed.id, Some(args.spin_ms), None).await?;
    plugins.sync().await?;
    let plugin = plugins
        .get(&installed.id)
        .with_context(|| format!("plugin {} did not load", installed.id))?;
    let account = crate::app::administration::create_account(&store, "Isolation", None).await?;
    let agent = crate::app::administration::create_user(
        &store,
        crate::app::administration::NewUser {
            email: "agent@bench.invalid".into(),
            name: None,
            super_admin: false,
            account_id: Some(account.id),
            role: Some("agent".into()),
        },
    )
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(crate::api::serve(
        listener,
        node.state.clone(),
        std::future::pending(),
    ));
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");

    println!(
        "{} × `{}` of {} ({} ms deadline), {} requests per endpoint per phase, {} rounds, {} plugin threads, {} cores…",
        args.spinners,
        args.spin_body,
        installed.id,
        args.spin_ms,
        args.requests,
        args.rounds,
        match config.plugin_threads {
            0 => "one fewer than the cores".to_owned(),
            n => n.to_string(),
        },
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    // Warm the connection pool and the caches.
    measure(&http, &base, &agent.access_token, 200).await?;

    let request = IncomingRequest {
        method: "POST".into(),
        path: format!("/webhooks/{}", installed.id),
        query: String::new(),
        headers: vec![],
        body: args.spin_body.clone().into_bytes(),
    };
    let settings = plugins.settings_for(&plugin.manifest);
    let mut quiet = Vec::new();
    let mut spinning = Vec::new();
    for _ in 0..args.rounds {
        quiet.push(measure(&http, &base, &agent.access_token, args.requests).await?);

        let stop = Arc::new(AtomicBool::new(false));
        let ended = Arc::new(AtomicU64::new(0));
        let mut spinners = Vec::new();
        for _ in 0..args.spinners {
            let (plugin, settings, request) = (plugin.clone(), settings.clone(), request.clone());
            let (stop, ended) = (stop.clone(), ended.clone());
            spinners.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let _ = plugin.instance.parse_event(&settings, &request).await;
                    ended.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        // Let every spinner reach its plugin thread before measuring.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut phase = measure(&http, &base, &agent.access_token, args.requests).await?;
        stop.store(true, Ordering::Relaxed);
        phase.spins_ended = ended.load(Ordering::Relaxed);
        spinning.push(phase);
        for spinner in spinners {
            spinner.await?;
        }
    }

    println!();
    println!(
        "| round | phase | /health p50 | /health p99 | /health max | /api/v1/profile p50 | p99 | max | spinning calls ended meanwhile |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (round, (q, s)) in quiet.iter().zip(&spinning).enumerate() {
        for (name, phase) in [("quiet", q), ("spinning", s)] {
            println!(
                "| {} | {name} | {} | {} | {} | {} | {} | {} | {} |",
                round + 1,
                ms(phase.health.value_at_quantile(0.5)),
                ms(phase.health.value_at_quantile(0.99)),
                ms(phase.health.max()),
                ms(phase.profile.value_at_quantile(0.5)),
                ms(phase.profile.value_at_quantile(0.99)),
                ms(phase.profile.max()),
                if name == "quiet" {
                    "—".to_owned()
                } else {
                    phase.spins_ended.to_string()
                },
            );
        }
    }
    println!();
    let endpoints: [(&str, Pick); 2] = [("/health", health), ("/api/v1/profile", profile)];
    for (endpoint, pick) in endpoints {
        let q = merged(&quiet, pick).value_at_quantile(0.99);
        let s = merged(&spinning, pick).value_at_quantile(0.99);
        let ratio = s as f64 / q.max(1) as f64;
        println!(
            "{endpoint}: p99 quiet {}, with {} spinning calls {} ({ratio:.2}×; target ≤ 2×)",
            ms(q),
            args.spinners,
            ms(s)
        );
        super::bench_summary::record(
            format!(
                "API p99 under {} spinning plugin calls, {endpoint}",
                args.spinners
            ),
            format!("{} ({ratio:.2}× quiet {})", ms(s), ms(q)),
            "≤ 2× quiet",
            "0.5–0.9 s (issue 13's review)",
        );
    }
    node.stop().await;
    scratch.finish().await;
    Ok(ExitCode::SUCCESS)
}

/// `requests` sequential requests to each endpoint, interleaved.
async fn measure(http: &reqwest::Client, base: &str, token: &str, requests: usize) -> anyhow::Result<Phase> {
    let mut phase = Phase {
        health: Histogram::new(3)?,
        profile: Histogram::new(3)?,
        spins_ended: 0,
    };
    for _ in 0..requests {
        let started = Instant::now();
        let health = http.get(format!("{base}/health")).send().await?;
        health.bytes().await?;
        phase.health.record(started.elapsed().as_micros() as u64)?;
        let started = Instant::now();
        let profile = http
            .get(format!("{base}/api/v1/profile"))
            .header("api_access_token", token)
            .send()
            .await?;
        let status = profile.status();
        profile.bytes().await?;
        phase.profile.record(started.elapsed().as_micros() as u64)?;
        if !status.is_success() {
            bail!("/api/v1/profile answered {status}");
        }
    }
    Ok(phase)
}

/// Which endpoint's figures of a phase.
type Pick = fn(&Phase) -> &Histogram<u64>;

fn health(phase: &Phase) -> &Histogram<u64> {
    &phase.health
}

fn profile(phase: &Phase) -> &Histogram<u64> {
    &phase.profile
}

/// One endpoint's figures of all rounds of one kind of phase together.
fn merged(phases: &[Phase], pick: Pick) -> Histogram<u64> {
    let mut all = Histogram::<u64>::new(3).expect("valid precision");
    for phase in phases {
        all.add(pick(phase)).expect("same bounds");
    }
    all
}

fn ms(micros: u64) -> String {
    format!("{:.2} ms", micros as f64 / 1000.0)
}
