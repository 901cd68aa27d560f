//! `switchboard serve`: migrate, serve HTTP (not ready until the plugins
//! load), install bundled plugins, load plugins, run the pipeline's workers,
//! follow plugin changes made by other processes, and on SIGTERM stop
//! accepting, finish in-flight work, exit.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::app::AppState;
use crate::config::HostConfig;
use crate::plugin_host::bundled;

/// How long a stopping node lets requests and workers finish before it exits.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

/// Flags of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, env = "SWITCHBOARD_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// How often to check the database for plugin changes made elsewhere, in ms.
    #[arg(long, env = "SWITCHBOARD_SYNC_INTERVAL_MS", default_value_t = 250)]
    pub sync_interval_ms: u64,

    /// Do not install the plugins bundled in this binary.
    #[arg(long, env = "SWITCHBOARD_NO_BUNDLED", default_value_t = false)]
    pub no_bundled: bool,

    /// The durable pipeline's settings.
    #[command(flatten)]
    pub pipeline: crate::app::PipelineConfig,

    /// Serve `/metrics` (Prometheus text) on this address of its own, e.g.
    /// 127.0.0.1:9090 (port 0 picks one; it is printed). Off by default.
    #[arg(long, env = "SWITCHBOARD_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Serve `/metrics` on the main address to scrapes that present this
    /// bearer token (and require it on the metrics address too). Without it
    /// or a metrics address, `/metrics` is not served.
    #[arg(long, env = "SWITCHBOARD_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// How long the finished part of the pipeline is kept.
    #[command(flatten)]
    pub retention: crate::app::ops::RetentionConfig,
}

/// How often the queue and pool gauges are read from the database.
const GAUGE_INTERVAL: Duration = Duration::from_secs(5);
/// How often the conversation list's counter deltas are folded (PostgreSQL):
/// often enough that a count sums a few dozen rows, rarely enough to cost
/// nothing.
const COUNT_COMPACTION_INTERVAL: Duration = Duration::from_secs(15);

/// Latency buckets of every `*_duration_seconds` histogram: from a fast
/// plugin call (about a millisecond) to a call at its deadline.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the Prometheus exporter as the process's metrics recorder, when
/// `/metrics` is served anywhere; without it every metric is a no-op.
fn install_metrics(
    args: &ServeArgs,
) -> anyhow::Result<Option<metrics_exporter_prometheus::PrometheusHandle>> {
    if args.metrics_addr.is_none() && args.metrics_token.is_none() {
        return Ok(None);
    }
    install_recorder().map(Some)
}

/// Installs the Prometheus exporter as the process's metrics recorder (once
/// per process); `bench webhooks --metrics` uses it to measure the cost.
pub(super) fn install_recorder() -> anyhow::Result<metrics_exporter_prometheus::PrometheusHandle> {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("duration_seconds".into()),
            BUCKETS,
        )?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).context("installing the metrics recorder")?;
    Ok(handle)
}

/// What `serve` needs before it may accept anything: a database it can
/// open and migrate, a secret key (sealing credentials and signing OAuth
/// states need it; without one the first connection would fail with a 500),
/// a runtime the plugin settings allow. Shared by `serve` and `check`.
async fn open_checked(
    config: &HostConfig,
) -> anyhow::Result<(
    crate::store::Store,
    std::sync::Arc<crate::plugin_host::PluginHost>,
)> {
    let (store, plugins) = super::open(config).await?;
    anyhow::ensure!(
        plugins.secrets().has_key(),
        "{}",
        crate::secrets::SecretError::NoKey
    );
    Ok((store, plugins))
}

/// `switchboard check`: everything `serve` checks at start, plus loading
/// every enabled plugin, then exits.
pub async fn check(config: &HostConfig, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (store, plugins) = open_checked(config).await?;
    plugins.sync().await.context("reading the installed plugins")?;
    let failures = plugins.failures();
    for failure in &failures {
        eprintln!("plugin {} does not load: {}", failure.plugin, failure.error);
    }
    anyhow::ensure!(failures.is_empty(), "{} plugin(s) do not load", failures.len());
    let blobs = config.blobs().context("opening the blob store")?;
    blobs
        .probe()
        .await
        .with_context(|| format!("writing to the blob store {}", blobs.location()))?;
    let runtime = plugins.runtime().config();
    println!(
        "database:       {} ({:?})",
        super::redact(&config.database_url()),
        store.dialect()
    );
    println!("secret key:     set");
    println!("blob store:     {}", blobs.location());
    println!("listen address: {}", args.addr);
    println!("plugins:        {}", plugins.loaded_ids().join(", "));
    println!(
        "plugin memory:  {} MiB per call at most, {} MiB for all calls together, {} calls per plugin at once",
        runtime.memory_ceiling() >> 20,
        runtime.memory_budget() >> 20,
        runtime.max_concurrent_calls
    );
    println!("configuration OK");
    Ok(ExitCode::SUCCESS)
}

pub async fn run(config: &HostConfig, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (store, plugins) = open_checked(config).await?;
    let blobs = config.blobs().context("opening the blob store")?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let live = crate::live::LiveEvents::new(store.clone());
    let live_follower = tokio::spawn(live.clone().follow(config.database_url(), shutdown_rx.clone()));

    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(listener) => listener,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => anyhow::bail!(
            "cannot listen on {}: the address is already in use (another `switchboard serve`?); \
             choose another with --addr 127.0.0.1:PORT (or SWITCHBOARD_ADDR)",
            args.addr
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot listen on {}", args.addr)),
    };
    let local = listener.local_addr()?;
    tracing::info!("switchboard listening on http://{local}");
    println!("switchboard listening on http://{local}");

    let metrics = install_metrics(&args)?;
    let endpoint = metrics.clone().map(|handle| crate::api::MetricsEndpoint {
        render: std::sync::Arc::new(move || handle.render()),
        token: args.metrics_token.clone(),
    });
    let mut metrics_server = None;
    if let (Some(addr), Some(endpoint)) = (args.metrics_addr, endpoint.clone()) {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for metrics (--metrics-addr)"))?;
        // After the listening line, which scripts read first; a reader that
        // stopped reading must not stop the server, so a failed write is ignored.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stdout(),
            "switchboard metrics on http://{}/metrics",
            listener.local_addr()?
        );
        tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
        let mut stopping = shutdown_rx.clone();
        let stop = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        metrics_server = Some(tokio::spawn(crate::api::serve_metrics(listener, endpoint, stop)));
    }
    // On the main address only behind the token: with a metrics address
    // and no token, the main address does not serve it.
    let main_endpoint = endpoint.filter(|e| e.token.is_some());
    let gauges = metrics.map(|handle| {
        tokio::spawn(crate::app::ops::follow_gauges(
            store.clone(),
            GAUGE_INTERVAL,
            move || handle.run_upkeep(),
            shutdown_rx.clone(),
        ))
    });
    let retention = tokio::spawn(crate::app::ops::follow_retention(
        store.clone(),
        blobs.clone(),
        args.retention.clone(),
        shutdown_rx.clone(),
    ));
    let count_compaction = tokio::spawn(crate::app::ops::follow_count_compaction(
        store.clone(),
        COUNT_COMPACTION_INTERVAL,
        shutdown_rx.clone(),
    ));

    let state = AppState {
        store: store.clone(),
        plugins,
        live,
        pipeline: crate::app::Pipeline::new(args.pipeline),
        blobs,
    };
    let nodes = tokio::spawn(state.pipeline.clone().connect_nodes(
        store.clone(),
        config.database_url(),
        shutdown_rx.clone(),
    ));
    // One signal stops everything at once: HTTP stops accepting and drains,
    // and workers finish the item in hand while handing back the rest, in
    // parallel. Whatever is still running at the deadline is dropped: the
    // work is in the database, leased, and taken up by the next worker.
    let mut stopping = shutdown_rx.clone();
    let http_stop = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let mut server = tokio::spawn(crate::api::serve_with(
        listener,
        state.clone(),
        main_endpoint,
        http_stop,
    ));
    // The plugins load while the node already answers: `/livez` says it
    // lives and `/readyz` says why it is not ready, where refused
    // connections would say nothing. The workers start once they loaded.
    let background = tokio::spawn(start_plugins(
        state,
        config.database_url(),
        args.no_bundled,
        Duration::from_millis(args.sync_interval_ms.max(10)),
        shutdown_rx.clone(),
    ));
    let ended = tokio::select! {
        _ = shutdown_signal() => None,
        ended = &mut server => Some(ended),
    };
    let _ = shutdown_tx.send(true);
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    let drain = async {
        let ended = match ended {
            Some(ended) => ended,
            None => server.await,
        };
        match ended {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("serving HTTP: {e}"),
            Err(e) => tracing::error!("the HTTP server task failed: {e}"),
        }
        for task in background.await.unwrap_or_default() {
            let _ = task.await;
        }
        let _ = live_follower.await;
        let _ = nodes.await;
        let _ = retention.await;
        let _ = count_compaction.await;
        if let Some(gauges) = gauges {
            let _ = gauges.await;
        }
        if let Some(metrics_server) = metrics_server {
            let _ = metrics_server.await;
        }
    };
    if tokio::time::timeout_at(deadline, drain).await.is_err() {
        tracing::warn!(
            "stopping with work in progress after {} s; it is leased in the database and resumes on the next worker",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    store.close().await;
    tracing::info!("switchboard stopped");
    Ok(ExitCode::SUCCESS)
}

/// Installs the bundled plugins, loads the installed ones (retrying while
/// the database fails), then starts what needs them: the pipeline's workers
/// (so no claimed event meets a channel that is not loaded yet) and the
/// follower of other processes' plugin changes. Answers their tasks; none
/// when shutdown came first.
async fn start_plugins(
    state: AppState,
    database_url: String,
    no_bundled: bool,
    sync_interval: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let load = async {
        if !no_bundled {
            bundled::install_all(&state.plugins).await;
        }
        while let Err(e) = state.plugins.sync().await {
            tracing::warn!("cannot load the installed plugins (retrying): {e}");
            tokio::time::sleep(sync_interval.max(Duration::from_secs(1))).await;
        }
    };
    tokio::select! {
        _ = load => {}
        _ = shutdown.wait_for(|stop| *stop) => return Vec::new(),
    }
    tracing::info!(plugins = ?state.plugins.loaded_ids(), "plugins loaded; ready");
    let listen = (state.store.dialect() == crate::store::Dialect::Postgres).then_some(database_url);
    let mut tasks = crate::pipeline::spawn_workers(&state, shutdown.clone());
    tasks.push(tokio::spawn(state.plugins.clone().follow(
        sync_interval,
        listen,
        shutdown,
    )));
    tasks
}

/// Resolves on SIGTERM or Ctrl-C: stop accepting, let requests in flight finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing requests in flight");
}
