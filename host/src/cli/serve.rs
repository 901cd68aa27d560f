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

pub async fn run(config: &HostConfig, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (store, plugins) = super::open(config).await?;
    if !args.no_bundled {
        bundled::install_all(&plugins).await;
    }
    plugins.sync().await.context("loading plugins")?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let follower = tokio::spawn(plugins.clone().follow(
        Duration::from_millis(args.sync_interval_ms.max(10)),
        shutdown_rx.clone(),
    ));
    let live = crate::live::LiveEvents::new(store.clone());
    let live_follower = tokio::spawn(live.clone().follow(config.database_url(), shutdown_rx.clone()));

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
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
