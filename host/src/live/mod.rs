//! Live updates for the dashboard: events such as `message.created` are
//! published here and fanned out to every WebSocket client of the account.
//!
//! On SQLite (one node) delivery is an in-process broadcast. On PostgreSQL
//! every event goes through the database (`store::live`: a row plus NOTIFY)
//! and each node forwards what it hears, its own events included, so a
//! client connected to any node sees events published on every node.
//!
//! Presence (who has a dashboard open, Chatwoot's `OnlineStatusTracker`)
//! travels the same way: a user's presence is an internal event
//! ([`PRESENCE_SEEN`]) that every node records instead of forwarding, so each
//! node knows who was seen on any node in the last minute.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::store::live::StoredEvent;
use crate::store::{Dialect, Store, StoreError, WriteTx};

/// How many events a slow client may lag behind before it is told to resync.
const BUFFER: usize = 1024;
/// How long event rows stay in the database (PostgreSQL).
const KEEP_MS: i64 = 10 * 60 * 1000;
/// The internal event of a user's presence (`data`: `{"user_id": …}`):
/// recorded by every node, never sent to clients.
pub const PRESENCE_SEEN: &str = "presence.seen";
/// How long a user counts as present after they were last seen (Chatwoot's
/// `PRESENCE_DURATION`; its clients renew presence every 20 seconds).
pub const PRESENCE_DURATION: Duration = Duration::from_secs(60);

/// One event for an account's clients.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// Account.
    pub account_id: i64,
    /// The inbox the event concerns; agents get it only if they belong to it.
    pub inbox_id: Option<i64>,
    /// Event name (Chatwoot's): `message.created`, `conversation.status_changed`, …
    pub name: String,
    /// The same JSON the REST API answers for the object.
    pub data: Value,
}

/// Events announced in a write transaction that wait for its commit (SQLite;
/// on PostgreSQL the transaction itself carries them).
#[derive(Debug, Default)]
pub struct Staged(Vec<LiveEvent>);

/// The process's event hub.
pub struct LiveEvents {
    store: Store,
    sender: broadcast::Sender<Arc<LiveEvent>>,
    /// When each (account, user) was last seen, on any node.
    presence: Mutex<HashMap<(i64, i64), Instant>>,
}

impl LiveEvents {
    /// A hub over `store`.
    pub fn new(store: Store) -> Arc<Self> {
        let (sender, _) = broadcast::channel(BUFFER);
        Arc::new(Self {
            store,
            sender,
            presence: Mutex::new(HashMap::new()),
        })
    }

    /// Records that a user of an account is present now, here and (through
    /// a [`PRESENCE_SEEN`] event) on every other node.
    pub async fn seen(&self, account_id: i64, user_id: i64) {
        self.record_presence(account_id, user_id);
        if self.store.dialect() == Dialect::Postgres {
            let data = serde_json::json!({ "user_id": user_id });
            self.publish(account_id, None, PRESENCE_SEEN, data).await;
        }
    }

    /// The users of an account seen within [`PRESENCE_DURATION`].
    pub fn present(&self, account_id: i64) -> Vec<i64> {
        let mut presence = self.presence.lock().expect("not poisoned");
        presence.retain(|_, seen| seen.elapsed() < PRESENCE_DURATION);
        let mut users: Vec<i64> = presence
            .keys()
            .filter(|(account, _)| *account == account_id)
            .map(|(_, user)| *user)
            .collect();
        users.sort_unstable();
        users
    }

    fn record_presence(&self, account_id: i64, user_id: i64) {
        self.presence
            .lock()
            .expect("not poisoned")
            .insert((account_id, user_id), Instant::now());
    }

    /// Hands an event to this node's clients, or records it when it is a
    /// presence.
    fn deliver(&self, event: LiveEvent) {
        if event.name == PRESENCE_SEEN {
            if let Some(user_id) = event.data["user_id"].as_i64() {
                self.record_presence(event.account_id, user_id);
            }
            return;
        }
        let _ = self.sender.send(Arc::new(event));
    }

    /// Receives every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.sender.subscribe()
    }

    /// Publishes an event to every node's clients. Never fails the caller:
    /// a live update is a courtesy, the data is already stored.
    pub async fn publish(&self, account_id: i64, inbox_id: Option<i64>, name: &str, data: Value) {
        let event = LiveEvent {
            account_id,
            inbox_id,
            name: name.to_owned(),
            data,
        };
        if self.store.dialect() == Dialect::Postgres {
            let stored = StoredEvent {
                account_id,
                inbox_id,
                name: event.name.clone(),
                data: event.data.to_string(),
            };
            match self.store.notify_event(&stored).await {
                Ok(()) => return,
                Err(e) => tracing::warn!(
                    event = name,
                    "cannot announce event to other nodes, delivering locally: {e}"
                ),
            }
        }
        self.deliver(event);
    }

    /// Announces an event as part of a write transaction: it waits in
    /// `staged`, and [`LiveEvents::flush_in`] writes everything staged into
    /// the transaction before its commit (PostgreSQL: one statement, heard by
    /// every node at the commit and never if it rolls back); on SQLite
    /// [`LiveEvents::release`] delivers it after the commit.
    pub fn publish_in(
        &self,
        staged: &mut Staged,
        account_id: i64,
        inbox_id: Option<i64>,
        name: &str,
        data: Value,
    ) {
        staged.0.push(LiveEvent {
            account_id,
            inbox_id,
            name: name.to_owned(),
            data,
        });
    }

    /// Writes the staged events into `tx` (PostgreSQL; nothing to do on
    /// SQLite, where they wait for [`LiveEvents::release`]).
    pub async fn flush_in(&self, tx: &mut WriteTx, staged: &mut Staged) -> Result<(), StoreError> {
        if self.store.dialect() != Dialect::Postgres {
            return Ok(());
        }
        let stored: Vec<StoredEvent> = staged
            .0
            .drain(..)
            .map(|event| StoredEvent {
                account_id: event.account_id,
                inbox_id: event.inbox_id,
                name: event.name,
                data: event.data.to_string(),
            })
            .collect();
        tx.notify_events(&stored).await
    }

    /// Delivers to this node's clients the events staged for a transaction
    /// that committed.
    pub fn release(&self, staged: Staged) {
        for event in staged.0 {
            self.deliver(event);
        }
    }

    /// Forwards events announced on PostgreSQL to this node's clients, and
    /// prunes old event rows, until `shutdown` fires. No-op on SQLite.
    pub async fn follow(self: Arc<Self>, url: String, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        if self.store.dialect() != Dialect::Postgres {
            return;
        }
        let mut listener = loop {
            match crate::store::live::listen(&url).await {
                Ok(listener) => break listener,
                Err(e) => {
                    tracing::warn!("cannot LISTEN for live events (retrying): {e}");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        };
        let mut prune = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = prune.tick() => {
                    if let Err(e) = self.store.prune_live_events(KEEP_MS).await {
                        tracing::warn!("cannot prune live events: {e}");
                    }
                }
                notification = listener.recv() => match notification {
                    Ok(n) => self.forward(n.payload()).await,
                    Err(e) => {
                        tracing::warn!("live event listener failed (reconnecting): {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
            }
        }
    }

    async fn forward(&self, payload: &str) {
        let ids: Vec<i64> = payload.split(',').filter_map(|id| id.parse().ok()).collect();
        match self.store.live_events(&ids).await {
            Ok(events) => {
                for stored in events {
                    let data = serde_json::from_str(&stored.data).unwrap_or(Value::Null);
                    let event = LiveEvent {
                        account_id: stored.account_id,
                        inbox_id: stored.inbox_id,
                        name: stored.name,
                        data,
                    };
                    self.deliver(event);
                }
            }
            Err(e) => tracing::warn!(events = payload, "cannot read announced events: {e}"),
        }
    }
}
