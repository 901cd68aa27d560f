//! The durable message pipeline's shared state: its settings, the wake-ups
//! of this node's workers (and, on PostgreSQL, of every node's), the
//! per-channel rate limits, and the retry backoff.
//!
//! - `app::ingest`: a webhook is verified by its plugin, then written to the
//!   inbound event log, and only then acknowledged.
//! - `app::inbound`: logged events are parsed and applied to conversations
//!   idempotently, one conversation's events in the order they were stored.
//! - `app::delivery`: an outgoing message's job is attempted and its outcome
//!   recorded; retryable failures back off with jitter, the rest land in the
//!   dead-letter list.
//! - `app::webhooks`: an account webhook's delivery is attempted the same
//!   way, under the same retry policy (`PipelineConfig::retry_delay`).
//!
//! Workers (`crate::pipeline`) are woken at once for work this node wrote,
//! and on PostgreSQL by LISTEN/NOTIFY for work other nodes wrote; polling the
//! database stays as the fallback for a lost notification.

use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use tokio::sync::Notify;

use super::rate;
use crate::store::live::{QUEUE_CHANNELS, QueueListener};
use crate::store::{Dialect, Store};

/// Tunables of the pipeline, from flags and the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct PipelineConfig {
    /// Largest webhook body accepted, in bytes (larger ones get 413).
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_MAX_BYTES", default_value_t = 1 << 20)]
    pub webhook_max_bytes: usize,

    /// Webhooks accepted per second per channel, sustained (more get 429).
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_RATE", default_value_t = 2000)]
    pub webhook_rate: u32,

    /// Burst of webhooks accepted per channel above the sustained rate.
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_BURST", default_value_t = 4000)]
    pub webhook_burst: u32,

    /// Workers applying inbound events, per node.
    #[arg(long, env = "SWITCHBOARD_INBOUND_WORKERS", default_value_t = 4)]
    pub inbound_workers: usize,

    /// Workers sending outbound messages, per node.
    #[arg(long, env = "SWITCHBOARD_DELIVERY_WORKERS", default_value_t = 4)]
    pub delivery_workers: usize,

    /// Attempts of a send before it goes to the dead-letter list.
    #[arg(long, env = "SWITCHBOARD_DELIVERY_MAX_ATTEMPTS", default_value_t = 8)]
    pub delivery_max_attempts: i64,

    /// First retry delay of a failed send, in ms (doubles per attempt).
    #[arg(long, env = "SWITCHBOARD_DELIVERY_BACKOFF_MS", default_value_t = 2000)]
    pub delivery_backoff_ms: i64,

    /// How often idle workers look for work written by other nodes, in ms.
    #[arg(long, env = "SWITCHBOARD_QUEUE_POLL_MS", default_value_t = 200)]
    pub queue_poll_ms: u64,

    /// How long a claimed event or job stays with its worker, in ms: work of
    /// a worker that died is taken up again after this.
    #[arg(long, env = "SWITCHBOARD_QUEUE_LEASE_MS", default_value_t = 60_000)]
    pub lease_ms: i64,

    /// Inbound events waiting to be applied (across all nodes) above which
    /// new webhooks wait before they are acknowledged, so a burst slows the
    /// provider down instead of piling up messages that reach agents later
    /// and later. The default is about half a second of applies on a small
    /// PostgreSQL node, so a backlog drains within a second after a burst.
    /// 0 turns the wait off.
    #[arg(long, env = "SWITCHBOARD_INBOUND_BACKLOG", default_value_t = 250)]
    pub inbound_backlog: i64,

    /// Longest wait of one webhook for the backlog to drain, in ms; past it
    /// the webhook is accepted anyway (a webhook is never refused for load).
    #[arg(long, env = "SWITCHBOARD_INBOUND_BACKLOG_WAIT_MS", default_value_t = 2000)]
    pub inbound_backlog_wait_ms: u64,

    /// Outgoing account webhooks (their retries follow the delivery
    /// settings above).
    #[command(flatten)]
    pub webhooks: super::webhooks::WebhookSettings,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            webhook_max_bytes: 1 << 20,
            webhook_rate: 2000,
            webhook_burst: 4000,
            inbound_workers: 4,
            delivery_workers: 4,
            delivery_max_attempts: 8,
            delivery_backoff_ms: 2000,
            queue_poll_ms: 200,
            lease_ms: 60_000,
            inbound_backlog: 250,
            inbound_backlog_wait_ms: 2000,
            webhooks: Default::default(),
        }
    }
}

/// Longest wait between two attempts of a send or a webhook.
const MAX_BACKOFF_MS: i64 = 10 * 60 * 1000;

impl PipelineConfig {
    /// The one retry policy of outgoing work (message sends and account
    /// webhooks): after a failed attempt number `attempts`, how long to wait
    /// before the next one — the provider's `retry_after_ms` if it gave one,
    /// else exponential backoff with jitter — or `None` to give up (not
    /// retryable, or out of attempts: the dead-letter list).
    pub fn retry_delay(&self, attempts: i64, retryable: bool, retry_after_ms: Option<i64>) -> Option<i64> {
        (retryable && attempts < self.delivery_max_attempts).then(|| {
            retry_after_ms.unwrap_or_else(|| backoff_ms(self.delivery_backoff_ms, attempts, MAX_BACKOFF_MS))
        })
    }
}

/// The pipeline's shared state: its settings, the wake-ups of this node's
/// workers, and the per-channel rate limits.
pub struct Pipeline {
    /// Settings.
    pub config: PipelineConfig,
    pub(crate) inbound_ready: Notify,
    pub(crate) delivery_ready: Notify,
    /// Work was stored here that other nodes should hear of.
    announce: Notify,
    announce_inbound: AtomicBool,
    announce_delivery: AtomicBool,
    pub(super) rates: rate::ChannelRates,
    /// The inbound log's group commit.
    pub(super) log: super::ingest::InboundLog,
    /// Events logged and not yet applied, as this node sees them.
    pub(super) backlog: Backlog,
    /// Outgoing account webhooks: client, wake-up, subscriptions.
    pub(crate) webhooks: super::webhooks::Outgoing,
}

impl Pipeline {
    /// A pipeline with these settings.
    pub fn new(config: PipelineConfig) -> Arc<Self> {
        let rates = rate::ChannelRates::new(config.webhook_rate, config.webhook_burst);
        let webhooks = super::webhooks::Outgoing::new(&config.webhooks);
        Arc::new(Self {
            config,
            inbound_ready: Notify::new(),
            delivery_ready: Notify::new(),
            announce: Notify::new(),
            announce_inbound: AtomicBool::new(false),
            announce_delivery: AtomicBool::new(false),
            rates,
            log: Default::default(),
            backlog: Backlog::default(),
            webhooks,
        })
    }

    /// Wakes an inbound worker of this node (an event was just stored).
    pub fn inbound_stored(&self) {
        self.backlog.pending.fetch_add(1, Ordering::AcqRel);
        self.inbound_ready.notify_one();
        self.announce_inbound.store(true, Ordering::Release);
        self.announce.notify_one();
    }

    /// Wakes a delivery worker of this node (a job was just queued).
    pub fn delivery_queued(&self) {
        self.delivery_ready.notify_one();
        self.announce_delivery.store(true, Ordering::Release);
        self.announce.notify_one();
    }

    /// Connects this node's queues to the other nodes' (PostgreSQL only):
    /// announces work stored here with one NOTIFY per burst (stores made
    /// while a NOTIFY is on its way share the next one), and wakes a local
    /// worker for every announcement heard, until `shutdown`.
    pub async fn connect_nodes(
        self: Arc<Self>,
        store: Store,
        url: String,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        if store.dialect() != Dialect::Postgres {
            return;
        }
        let [inbound_channel, delivery_channel] = QUEUE_CHANNELS;
        let mut listener = None;
        loop {
            if listener.is_none() {
                match QueueListener::connect(&url).await {
                    Ok(connected) => listener = Some(connected),
                    Err(e) => tracing::warn!("cannot LISTEN for queue wake-ups (polling meanwhile): {e}"),
                }
            }
            let heard = async {
                match listener.as_mut() {
                    Some(l) => l.next().await,
                    None => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        Err(crate::store::StoreError::Open("not listening".into()))
                    }
                }
            };
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = self.announce.notified() => {
                    for (flag, channel) in [
                        (&self.announce_inbound, inbound_channel),
                        (&self.announce_delivery, delivery_channel),
                    ] {
                        if flag.swap(false, Ordering::AcqRel)
                            && let Err(e) = store.notify_queue(channel).await
                        {
                            tracing::warn!("cannot announce queued work to other nodes: {e}");
                        }
                    }
                }
                heard = heard => match heard {
                    Ok(channel) if channel == inbound_channel => self.inbound_ready.notify_one(),
                    Ok(channel) if channel == delivery_channel => self.delivery_ready.notify_one(),
                    Ok(_) => {}
                    Err(_) if listener.is_none() => {}
                    Err(e) => {
                        tracing::warn!("queue wake-up listener failed (reconnecting): {e}");
                        listener = None;
                    }
                },
            }
        }
    }

    /// Records that a worker finished `count` events (applied, ignored,
    /// failed or postponed), waking webhooks that wait for the backlog.
    pub fn inbound_finished(&self, count: usize) {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let _ = self
            .backlog
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some((n - count).max(0)));
        self.backlog.drained.notify_waiters();
    }

    /// How long idle workers wait before looking for work again.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.config.queue_poll_ms.max(10))
    }
}

/// Exponential backoff with full jitter: a random delay up to
/// `base * 2^(attempt-1)`, at most `cap`, at least a quarter of the step so
/// retries do not stampede.
pub fn backoff_ms(base_ms: i64, attempt: i64, cap_ms: i64) -> i64 {
    let step = base_ms
        .saturating_mul(1_i64 << (attempt - 1).clamp(0, 30))
        .min(cap_ms);
    let floor = step / 4;
    floor + (rand::random::<u64>() % (step - floor).max(1) as u64) as i64
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_grows_per_attempt_stays_under_the_cap_and_varies() {
        for attempt in 1..12 {
            let step = (1000_i64 << (attempt - 1)).min(60_000);
            for _ in 0..50 {
                let delay = backoff_ms(1000, attempt, 60_000);
                assert!(delay >= step / 4 && delay <= step, "attempt {attempt}: {delay}");
            }
        }
        let samples: std::collections::HashSet<i64> = (0..20).map(|_| backoff_ms(1000, 5, 60_000)).collect();
        assert!(samples.len() > 1, "jitter varies the delay");
    }
}

/// How often a waiting webhook re-counts the backlog in the database (which
/// sees every node's ingest and applies).
const BACKLOG_RECOUNT_MS: i64 = 100;

/// The inbound backlog: events ready to apply and not applied yet. Counted
/// locally as this node logs and applies them, and re-counted from the
/// database while webhooks wait, so other nodes' work is seen too.
#[derive(Default)]
pub(super) struct Backlog {
    pending: AtomicI64,
    counted_at_ms: AtomicI64,
    drained: Notify,
}

impl Backlog {
    /// Waits, up to `max_wait`, while more than `limit` events wait to be
    /// applied (`limit` 0: never waits).
    pub(super) async fn admit(&self, store: &Store, limit: i64, max_wait: Duration) {
        if limit <= 0 || self.pending.load(Ordering::Acquire) < limit {
            return;
        }
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            self.recount(store).await;
            if self.pending.load(Ordering::Acquire) < limit {
                return;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                tracing::debug!(
                    limit,
                    "a webhook waited {max_wait:?} for the inbound backlog; accepting it"
                );
                return;
            }
            let slice = (deadline - now).min(Duration::from_millis(BACKLOG_RECOUNT_MS as u64));
            let _ = tokio::time::timeout(slice, self.drained.notified()).await;
        }
    }

    /// Counts the backlog in the database, at most every
    /// [`BACKLOG_RECOUNT_MS`] whoever asks.
    async fn recount(&self, store: &Store) {
        let now = crate::store::now_ms();
        let last = self.counted_at_ms.load(Ordering::Acquire);
        if now - last < BACKLOG_RECOUNT_MS
            || self
                .counted_at_ms
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return;
        }
        match store.ready_inbound_count().await {
            Ok(count) => self.pending.store(count, Ordering::Release),
            Err(e) => tracing::warn!("cannot count the inbound backlog: {e}"),
        }
    }
}
