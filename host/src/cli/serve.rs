//! `switchboard serve`: migrate, install bundled plugins, load plugins, serve
//! HTTP, run the pipeline's workers, follow plugin changes made by other
//! processes, and on SIGTERM stop accepting, finish in-flight work, exit.

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
    let runtime = plugins.runtime().config();
    println!(
        "database:       {} ({:?})",
        super::redact(&config.database_url()),
        store.dialect()
    );
    println!("secret key:     set");
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
    if !args.no_bundled {
        bundled::install_all(&plugins).await;
    }
    plugins.sync().await.context("loading plugins")?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let listen = (store.dialect() == crate::store::Dialect::Postgres).then(|| config.database_url());
    let follower = tokio::spawn(plugins.clone().follow(
        Duration::from_millis(args.sync_interval_ms.max(10)),
        listen,
        shutdown_rx.clone(),
    ));
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
    tracing::info!(plugins = ?plugins.loaded_ids(), "switchboard listening on http://{local}");
    println!("switchboard listening on http://{local}");

    let state = AppState {
        store: store.clone(),
        plugins,
        live,
        pipeline: crate::app::Pipeline::new(args.pipeline),
    };
    let workers = crate::pipeline::spawn_workers(&state, shutdown_rx.clone());
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
    let mut server = tokio::spawn(crate::api::serve(listener, state, http_stop));
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
        for worker in workers {
            let _ = worker.await;
        }
        let _ = follower.await;
        let _ = live_follower.await;
        let _ = nodes.await;
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
