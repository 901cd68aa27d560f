//! The pipeline's workers: an entry point, like the API. Each loop claims
//! work from the durable queues and hands every item to its use case
//! (`app::inbound::apply_batch`, `app::delivery::deliver`,
//! `app::webhooks::deliver`); the rules of
//! applying and sending live there, not here.
//!
//! Workers find work by polling the database (so work written by another
//! node is found too) and are woken at once for work this node wrote.

use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::app::{AppState, delivery, inbound, webhooks};

/// Starts this node's workers; they stop taking work when `shutdown` turns
/// true and return after finishing what they hold.
pub fn spawn_workers(state: &AppState, shutdown: tokio::sync::watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut workers = Vec::new();
    for n in 0..state.pipeline.config.inbound_workers.max(1) {
        workers.push(tokio::spawn(run_inbound_worker(
            state.clone(),
            n,
            shutdown.clone(),
        )));
    }
    for n in 0..state.pipeline.config.delivery_workers.max(1) {
        workers.push(tokio::spawn(run_delivery_worker(
            state.clone(),
            n,
            shutdown.clone(),
        )));
    }
    for n in 0..state.pipeline.config.webhooks.webhook_workers.max(1) {
        workers.push(tokio::spawn(run_webhook_worker(
            state.clone(),
            n,
            shutdown.clone(),
        )));
    }
    workers
}

/// Waits for a wake-up, the poll interval, or shutdown; answers false on
/// shutdown.
async fn idle(ready: &Notify, interval: Duration, shutdown: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return false;
    }
    tokio::select! {
        _ = ready.notified() => true,
        _ = tokio::time::sleep(interval) => true,
        _ = shutdown.changed() => !*shutdown.borrow(),
    }
}

/// One inbound worker: claims batches of events and applies them until
/// shutdown. On shutdown it writes the events it has prepared and hands the
/// rest of its batch back to the queue, so a node stops in moments whatever the
/// backlog (the backlog stays in the log for the next worker).
async fn run_inbound_worker(
    state: AppState,
    worker: usize,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let lease = state.pipeline.config.lease_ms;
    while !*shutdown.borrow() {
        match state.store.claim_inbound_events(inbound::BATCH, lease).await {
            Ok(events) if !events.is_empty() => {
                let stopping = || *shutdown.borrow();
                let claimed = events.len();
                let unstarted = inbound::apply_batch(&state, events, stopping).await;
                state.pipeline.inbound_finished(claimed - unstarted.len());
                if let Err(e) = state.store.release_inbound_events(&unstarted).await {
                    // Their lease runs out and another worker takes them.
                    tracing::warn!(worker, "cannot hand back unstarted events: {e}");
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(worker, "cannot claim inbound events: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        if !idle(
            &state.pipeline.inbound_ready,
            state.pipeline.poll_interval(),
            &mut shutdown,
        )
        .await
        {
            break;
        }
    }
}

/// One delivery worker: claims one job at a time (each is a provider call)
/// until shutdown, finishing the one it holds.
async fn run_delivery_worker(
    state: AppState,
    worker: usize,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let lease = state.pipeline.config.lease_ms;
    while !*shutdown.borrow() {
        match state.store.claim_delivery_jobs(1, lease).await {
            Ok(jobs) if !jobs.is_empty() => {
                for job in jobs {
                    delivery::deliver(&state, job).await;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(worker, "cannot claim delivery jobs: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        if !idle(
            &state.pipeline.delivery_ready,
            state.pipeline.poll_interval(),
            &mut shutdown,
        )
        .await
        {
            break;
        }
    }
}

/// One webhook worker: claims one account-webhook delivery at a time (each
/// is an HTTP call to the account's URL) until shutdown, finishing the one
/// it holds.
async fn run_webhook_worker(
    state: AppState,
    worker: usize,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let lease = state.pipeline.config.lease_ms;
    while !*shutdown.borrow() {
        match state.store.claim_webhook_deliveries(1, lease).await {
            Ok(deliveries) if !deliveries.is_empty() => {
                for delivery in deliveries {
                    webhooks::deliver(&state, delivery).await;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(worker, "cannot claim webhook deliveries: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        if !idle(
            &state.pipeline.webhooks.ready,
            state.pipeline.poll_interval(),
            &mut shutdown,
        )
        .await
        {
            break;
        }
    }
}
