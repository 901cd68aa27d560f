//! Cross-node transport of live-update events on PostgreSQL: event rows plus
//! `NOTIFY switchboard_events, '<id>[,<id>…]'` in one transaction; every node
//! LISTENs and reads the rows (payloads can exceed NOTIFY's 8000-byte limit).

use sqlx::Row;
use sqlx::postgres::PgListener;

use super::{Store, StoreError, now_ms};

/// The channel every node listens on.
pub const CHANNEL: &str = "switchboard_events";

/// The queues' wake-up channels: a node that stored work says so here, and
/// every node's idle workers wake at once instead of at their next poll.
pub const QUEUE_CHANNELS: [&str; 2] = ["switchboard_inbound", "switchboard_delivery"];

/// The channel every plugin change is announced on (PostgreSQL only), in the
/// transaction that bumps `plugins_revision`: nodes sync at once instead of
/// at their next poll.
pub const PLUGINS_CHANNEL: &str = "switchboard_plugins";

/// A stored event.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Account.
    pub account_id: i64,
    /// Inbox, for events about one inbox's conversations.
    pub inbox_id: Option<i64>,
    /// Event name, e.g. `message.created`.
    pub name: String,
    /// JSON payload.
    pub data: String,
}

/// Event rows and one NOTIFY naming their ids, in one statement (the NOTIFY
/// is delivered at the commit that holds it): `$1` the time, then four
/// binds per event, then the channel. Bind them with [`bind_notify`].
fn notify_sql(count: usize) -> String {
    let rows: Vec<String> = (0..count)
        .map(|n| {
            let at = 2 + n * 4;
            format!("(${}, ${}, ${}, ${}, $1)", at, at + 1, at + 2, at + 3)
        })
        .collect();
    let channel = 2 + count * 4;
    format!(
        "WITH event AS (INSERT INTO live_events (account_id, inbox_id, name, data, created_at) VALUES {} \
         RETURNING id) SELECT pg_notify(${channel}, string_agg(CAST(id AS TEXT), ',' ORDER BY id)) FROM event",
        rows.join(", ")
    )
}

fn bind_notify<'q>(
    sql: &'q str,
    now: i64,
    events: &'q [StoredEvent],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut query = sqlx::query(sql).bind(now);
    for event in events {
        query = query
            .bind(event.account_id)
            .bind(event.inbox_id)
            .bind(&event.name)
            .bind(&event.data);
    }
    query.bind(CHANNEL)
}

impl Store {
    /// Writes an event and announces it to every node (PostgreSQL only).
    pub async fn notify_event(&self, event: &StoredEvent) -> Result<(), StoreError> {
        // One statement, one round trip and one commit: the row and its
        // NOTIFY (delivered at that commit).
        let sql = notify_sql(1);
        bind_notify(&sql, now_ms(), std::slice::from_ref(event))
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Reads announced events, in id order (a NOTIFY names one id, or
    /// several separated by commas).
    pub async fn live_events(&self, ids: &[i64]) -> Result<Vec<StoredEvent>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT account_id, inbox_id, name, data FROM live_events WHERE id IN ({}) ORDER BY id",
            super::conversations::placeholders(1, ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(StoredEvent {
                    account_id: r.try_get("account_id")?,
                    inbox_id: r.try_get("inbox_id")?,
                    name: r.try_get("name")?,
                    data: r.try_get("data")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Query)
    }

    /// Deletes events older than `max_age_ms`.
    pub async fn prune_live_events(&self, max_age_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM live_events WHERE created_at < $1")
            .bind(now_ms() - max_age_ms)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected())
    }
}

impl super::WriteTx {
    /// Writes events and one NOTIFY naming all of them inside this
    /// transaction (PostgreSQL only): other nodes hear them at commit, in
    /// order, and never if it rolls back — one statement however many.
    pub async fn notify_events(&mut self, events: &[StoredEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let sql = notify_sql(events.len());
        let now = self.now();
        bind_notify(&sql, now, events)
            .execute(&mut **self.inner())
            .await?;
        Ok(())
    }
}

/// A LISTEN connection on [`CHANNEL`] (PostgreSQL only).
pub async fn listen(url: &str) -> Result<PgListener, StoreError> {
    let mut listener = PgListener::connect(url)
        .await
        .map_err(|e| StoreError::Open(e.to_string()))?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

impl Store {
    /// Wakes the workers of every node listening on `channel` (PostgreSQL
    /// only; a notification carries nothing, the queue is the truth).
    pub async fn notify_queue(&self, channel: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(channel)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// A LISTEN connection on the queues' wake-up channels (PostgreSQL only).
pub struct QueueListener(PgListener);

impl QueueListener {
    /// Connects and listens.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut listener = PgListener::connect(url)
            .await
            .map_err(|e| StoreError::Open(e.to_string()))?;
        listener.listen_all(QUEUE_CHANNELS).await?;
        Ok(Self(listener))
    }

    /// Connects and listens for plugin changes ([`PLUGINS_CHANNEL`]).
    pub async fn plugins(url: &str) -> Result<Self, StoreError> {
        let mut listener = PgListener::connect(url)
            .await
            .map_err(|e| StoreError::Open(e.to_string()))?;
        listener.listen(PLUGINS_CHANNEL).await?;
        Ok(Self(listener))
    }

    /// The channel of the next wake-up.
    pub async fn next(&mut self) -> Result<String, StoreError> {
        Ok(self.0.recv().await?.channel().to_owned())
    }
}
