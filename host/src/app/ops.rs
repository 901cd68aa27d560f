//! Operating a node (issue 15): readiness (what `/readyz` answers), the
//! periodic gauges of the queues and the database pool (what `/metrics`
//! shows besides the counters recorded where things happen), retention
//! of the finished part of the pipeline, moving attachments' bytes from
//! the database to the blob store, and sweeping objects no row names.
//!
//! Metrics go through the `metrics` facade: without a recorder (a CLI
//! command, a test) every macro is a no-op. `serve` installs the exporter.

use std::time::Duration;

use serde::Serialize;

use crate::app::{AppError, AppState};
use crate::blobs::Blobs;
use crate::plugin_host::LoadFailure;
use crate::store::{Pruned, Store, StoreError};

/// Whether the node should get traffic, and if not, why.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// The database answers, every migration ran, the plugins were loaded.
    pub ready: bool,
    /// Why not, one line per failed check; empty when ready.
    pub reasons: Vec<String>,
    /// Plugins loaded.
    pub plugins: Vec<String>,
    /// Enabled plugins that failed to load. They do not make the node
    /// unready: one bad upload must not take every node out of a load
    /// balancer; `plugin list` and the admin API show them too.
    pub plugin_failures: Vec<LoadFailure>,
}

/// Checks the three conditions of readiness: the database answers, it has
/// every migration this binary carries, the installed plugins were loaded.
pub async fn readiness(state: &AppState) -> Readiness {
    let mut reasons = Vec::new();
    match state.store.ping().await {
        Err(e) => reasons.push(format!("database: {e}")),
        Ok(()) => match state.store.pending_migrations().await {
            Ok(pending) if pending.is_empty() => {}
            Ok(pending) => reasons.push(format!("migrations not applied: {pending:?}")),
            Err(e) => reasons.push(format!("migrations: {e}")),
        },
    }
    if !state.plugins.has_synced() {
        reasons.push("plugins: not loaded yet".into());
    }
    Readiness {
        ready: reasons.is_empty(),
        reasons,
        plugins: state.plugins.loaded_ids(),
        plugin_failures: state.plugins.failures(),
    }
}

/// Sets the gauges read from the database: queue depths, the age of each
/// queue's oldest item (the apply lag of the inbound side), pool use.
pub async fn record_gauges(store: &Store) -> Result<(), StoreError> {
    let depths = store.queue_depths().await?;
    let now = crate::store::now_ms();
    let age = |oldest: Option<i64>| oldest.map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0);
    metrics::gauge!("switchboard_inbound_pending").set(depths.inbound_pending as f64);
    metrics::gauge!("switchboard_inbound_oldest_age_seconds").set(age(depths.inbound_oldest_ms));
    metrics::gauge!("switchboard_deliveries_queued").set(depths.deliveries_queued as f64);
    metrics::gauge!("switchboard_delivery_oldest_age_seconds").set(age(depths.delivery_oldest_ms));
    let pool = store.pool_usage();
    metrics::gauge!("switchboard_db_pool_connections", "state" => "open").set(pool.open as f64);
    metrics::gauge!("switchboard_db_pool_connections", "state" => "idle").set(pool.idle as f64);
    metrics::gauge!("switchboard_db_pool_max_connections").set(pool.max as f64);
    Ok(())
}

/// Updates the gauges every `every` until `shutdown`; `upkeep` runs after
/// each update (the exporter's housekeeping of its histograms).
pub async fn follow_gauges(
    store: Store,
    every: Duration,
    upkeep: impl Fn() + Send + 'static,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = record_gauges(&store).await {
            tracing::debug!("cannot read the queue gauges: {e}");
        }
        upkeep();
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

/// Folds the conversation list's counter deltas every `every` until
/// `shutdown` (PostgreSQL; see `Store::compact_conversation_counts`). Every
/// node may run it: concurrent folds fold disjoint rows.
pub async fn follow_count_compaction(
    store: Store,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    if store.dialect() == crate::store::Dialect::Sqlite {
        return;
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if let Err(e) = store.compact_conversation_counts().await {
            tracing::warn!(
                "folding the conversation counters failed (next try in {} s): {e}",
                every.as_secs()
            );
        }
    }
}

/// How long the finished part of the pipeline is kept, from flags and the
/// environment.
#[derive(Debug, Clone, clap::Args)]
pub struct RetentionConfig {
    /// Days an applied, ignored or failed inbound event is kept (and so can
    /// be replayed with `events replay`); 0 keeps them forever. Pending
    /// events are never pruned.
    #[arg(long, env = "SWITCHBOARD_RETAIN_EVENTS_DAYS", default_value_t = 30)]
    pub retain_events_days: u32,

    /// Days a delivered job is kept; 0 keeps them forever. Queued jobs and
    /// the dead-letter list are never pruned.
    #[arg(long, env = "SWITCHBOARD_RETAIN_DELIVERIES_DAYS", default_value_t = 30)]
    pub retain_deliveries_days: u32,

    /// Minutes between two retention passes.
    #[arg(long, env = "SWITCHBOARD_RETENTION_INTERVAL_MINUTES", default_value_t = 60)]
    pub retention_interval_minutes: u64,

    /// Minutes an object of the blob store that no row names is kept
    /// before a retention pass removes it (an upload writes its object
    /// before the row that names it commits, so a young object may be
    /// about to be named).
    #[arg(long, env = "SWITCHBOARD_BLOBS_GRACE_MINUTES", default_value_t = 60)]
    pub blobs_grace_minutes: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            retain_events_days: 30,
            retain_deliveries_days: 30,
            retention_interval_minutes: 60,
            blobs_grace_minutes: 60,
        }
    }
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// One retention pass at `now_ms`: removes finished events received, and
/// delivered jobs last touched, more than their retention ago. A retention
/// of 0 days keeps everything of that kind.
pub async fn prune(store: &Store, config: &RetentionConfig, now_ms: i64) -> Result<Pruned, StoreError> {
    // i64::MIN: nothing is older, so nothing is removed.
    let cutoff = |days: u32| match days {
        0 => i64::MIN,
        days => now_ms - i64::from(days) * DAY_MS,
    };
    let pruned = store
        .prune_finished(
            cutoff(config.retain_events_days),
            cutoff(config.retain_deliveries_days),
        )
        .await?;
    metrics::counter!("switchboard_retention_pruned_total", "kind" => "inbound_events")
        .increment(pruned.events);
    metrics::counter!("switchboard_retention_pruned_total", "kind" => "delivery_jobs")
        .increment(pruned.deliveries);
    Ok(pruned)
}

/// Runs a retention pass at start and then every interval until `shutdown`.
/// Every node may run it: the deletes are idempotent.
pub async fn follow_retention(
    store: Store,
    blobs: Blobs,
    config: RetentionConfig,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let every = Duration::from_secs(config.retention_interval_minutes.max(1) * 60);
    loop {
        match prune(&store, &config, crate::store::now_ms()).await {
            Ok(pruned) if pruned != Pruned::default() => tracing::info!(
                events = pruned.events,
                deliveries = pruned.deliveries,
                "retention: pruned finished pipeline rows"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(
                "retention pass failed (next try in {} min): {e}",
                every.as_secs() / 60
            ),
        }
        let grace = Duration::from_secs(config.blobs_grace_minutes * 60);
        match sweep_blobs(&store, &blobs, grace, crate::store::now_ms()).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "retention: removed objects no row names"),
            Err(e) => tracing::warn!("blob sweep failed: {e}"),
        }
        match super::sessions::sweep(&store, crate::store::now_ms()).await {
            Ok((0, 0)) => {}
            Ok((sessions, attempts)) => {
                tracing::info!(
                    sessions,
                    attempts,
                    "retention: removed expired sessions and old refused sign-ins"
                )
            }
            Err(e) => tracing::warn!("session sweep failed: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

/// What one batch of `blobs migrate` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlobsMoved {
    /// Attachments whose bytes left the database.
    pub rows: u64,
    /// Their bytes.
    pub bytes: u64,
    /// The last id looked at: the next batch starts after it.
    pub last_id: i64,
}

/// Moves the bytes of up to `batch` attachments after `after_id` from
/// their rows to the blob store; `None` when none are left. Each object is
/// written before its row is changed, and the rows of a batch change in one
/// transaction, so a run killed at any point leaves every row either whole
/// in the database or pointing at a written object; running again goes on
/// where it stopped (moved rows hold no bytes, so they are not read again).
pub async fn move_attachments_to_blobs(
    store: &Store,
    blobs: &Blobs,
    after_id: i64,
    batch: i64,
) -> Result<Option<BlobsMoved>, AppError> {
    let rows = store.inline_attachment_batch(after_id, batch).await?;
    let Some(&(last_id, _)) = rows.last() else {
        return Ok(None);
    };
    let mut keys = Vec::with_capacity(rows.len());
    let mut bytes = 0;
    for (id, data) in &rows {
        keys.push((*id, blobs.save(crate::blobs::ATTACHMENTS, data).await?));
        bytes += data.len() as u64;
    }
    let changed = store.move_attachments_to_blobs(&keys).await?;
    Ok(Some(BlobsMoved {
        rows: changed,
        bytes,
        last_id,
    }))
}

/// Keys the sweep checks against the database at once.
const SWEEP_PAGE: usize = 500;

/// Removes the attachments' objects that no row names and that were last
/// written more than `grace` before `now_ms`; answers how many. Rows go
/// with their message, conversation, inbox or account (deletes and
/// cascades); their objects go here, since content addressing lets rows
/// share one object and only the database knows when the last is gone.
///
/// An upload writes its object, then commits the row that names it. So an
/// object is removed only when no row names it and it was not rewritten
/// within the grace (an upload of the same bytes rewrites it), read again
/// just before the delete; and should a row naming it commit between that
/// check and the delete, the sweep writes the bytes back.
pub async fn sweep_blobs(
    store: &Store,
    blobs: &Blobs,
    grace: Duration,
    now_ms: i64,
) -> Result<u64, AppError> {
    use futures::StreamExt as _;
    let cutoff = now_ms - i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let mut listing = blobs.list(crate::blobs::ATTACHMENTS).chunks(SWEEP_PAGE);
    let mut removed = 0;
    while let Some(page) = listing.next().await {
        let mut old = Vec::with_capacity(page.len());
        for entry in page {
            let (key, written) = entry?;
            if written < cutoff {
                old.push(key);
            }
        }
        let named = store.named_blob_keys(&old).await?;
        for key in old.into_iter().filter(|k| !named.contains(k)) {
            let (bytes, written) = match blobs.load_with_time(&key).await {
                Ok(found) => found,
                Err(crate::blobs::BlobError::Missing(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            if written >= cutoff {
                continue;
            }
            blobs.delete(&key).await?;
            if store
                .named_blob_keys(std::slice::from_ref(&key))
                .await?
                .is_empty()
            {
                removed += 1;
            } else {
                blobs.restore(&key, &bytes).await?;
            }
        }
    }
    metrics::counter!("switchboard_blobs_swept_total").increment(removed);
    Ok(removed)
}
