//! Queries of the durable pipeline: the inbound event log and the outbound
//! delivery jobs.
//!
//! Both tables are work queues claimed the same way: a claim moves
//! `available_at` past the lease and counts the attempt in one statement, so
//! a worker that dies holding rows only delays them until the lease ends. On
//! PostgreSQL the claim's `FOR UPDATE SKIP LOCKED` lets many workers on many
//! nodes take disjoint batches without waiting on each other; SQLite has one
//! writer, so its claim is atomic as it stands.

use crate::chatwoot::{ChatwootCode, MessageStatus, MessageType};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Dialect, Store, StoreError, now_ms};

/// Event states in the inbound log.
pub mod event_status {
    /// Stored, not yet applied.
    pub const PENDING: &str = "pending";
    /// Applied to conversations.
    pub const APPLIED: &str = "applied";
    /// The plugin or the host chose to skip it; the reason says why.
    pub const IGNORED: &str = "ignored";
    /// Could not be parsed or applied; the reason says why.
    pub const FAILED: &str = "failed";
}

/// Delivery job states.
pub mod job_state {
    /// Waiting for (another) attempt.
    pub const QUEUED: &str = "queued";
    /// The provider accepted the message.
    pub const DONE: &str = "done";
    /// Given up: the dead-letter list.
    pub const DEAD: &str = "dead";
}

/// A verified webhook request to log.
#[derive(Debug, Clone)]
pub struct NewInboundEvent {
    /// Channel plugin id.
    pub channel: String,
    /// sha256 of the body, lower-case hex.
    pub body_sha256: String,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string.
    pub query: String,
    /// Headers as a JSON array of pairs.
    pub headers_json: String,
    /// The raw body.
    pub body: Vec<u8>,
    /// The conversation it belongs to, when known: events of one key are
    /// applied in the order they were stored.
    pub order_key: Option<String>,
}

/// A stored webhook request.
#[derive(Debug, Clone)]
pub struct InboundEventRow {
    /// Id.
    pub id: i64,
    /// Channel plugin id.
    pub channel: String,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string.
    pub query: String,
    /// Headers as a JSON array of pairs.
    pub headers_json: String,
    /// The raw body.
    pub body: Vec<u8>,
    /// `pending`, `applied`, `ignored` or `failed`.
    pub status: String,
    /// Why it was ignored or failed.
    pub reason: Option<String>,
    /// Claims so far (this one included, for a claimed row).
    pub attempts: i64,
    /// When it was stored (unix ms).
    pub received_at: i64,
    /// When it reached its final state (unix ms).
    pub applied_at: Option<i64>,
}

/// An outbound delivery job.
#[derive(Debug, Clone)]
pub struct DeliveryJobRow {
    /// Id.
    pub id: i64,
    /// The outgoing message.
    pub message_id: i64,
    /// Account.
    pub account_id: i64,
    /// Internal conversation id.
    pub conversation_id: i64,
    /// `queued`, `done` or `dead`.
    pub state: String,
    /// Attempts so far (this one included, for a claimed job).
    pub attempts: i64,
    /// Attempts that began after an earlier one ended without an outcome
    /// (the process died mid-send): the provider may have the message twice.
    pub attempts_in_doubt: i64,
    /// Earliest time of the next attempt (unix ms).
    pub available_at: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// Creation (unix ms).
    pub created_at: i64,
    /// Last change (unix ms).
    pub updated_at: i64,
}

/// Counts of the inbound log and the delivery jobs by state.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PipelineCounts {
    /// Inbound events by status.
    pub events: Vec<(String, i64)>,
    /// Delivery jobs by state.
    pub deliveries: Vec<(String, i64)>,
}

const EVENT_COLUMNS: &str =
    "id, channel, method, path, query, headers, body, status, reason, attempts, received_at, applied_at";

fn event_from(row: &AnyRow) -> Result<InboundEventRow, sqlx::Error> {
    Ok(InboundEventRow {
        id: row.try_get("id")?,
        channel: row.try_get("channel")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        query: row.try_get("query")?,
        headers_json: row.try_get("headers")?,
        body: row.try_get("body")?,
        status: row.try_get("status")?,
        reason: row.try_get("reason")?,
        attempts: row.try_get("attempts")?,
        received_at: row.try_get("received_at")?,
        applied_at: row.try_get("applied_at")?,
    })
}

const JOB_COLUMNS: &str = "id, message_id, account_id, conversation_id, state, attempts, attempts_in_doubt, \
     available_at, last_error, created_at, updated_at";

fn job_from(row: &AnyRow) -> Result<DeliveryJobRow, sqlx::Error> {
    Ok(DeliveryJobRow {
        id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        account_id: row.try_get("account_id")?,
        conversation_id: row.try_get("conversation_id")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        attempts_in_doubt: row.try_get("attempts_in_doubt")?,
        available_at: row.try_get("available_at")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// The claim's row-locking clause: PostgreSQL skips rows another worker
    /// is claiming; SQLite's single writer needs none.
    fn skip_locked(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        }
    }

    /// Stores verified webhooks in one statement (one commit, one sync to
    /// disk, for all of them); answers each one's id, or `None` when the
    /// same body was already stored for its channel (a provider's retry).
    pub async fn insert_inbound_events(
        &self,
        events: &[NewInboundEvent],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // One statement for the whole group: atomic on its own, and one round
        // trip to the writer however large the group. On SQLite the writer
        // connection is every write's bottleneck, and each statement on it is
        // a hand-off to its thread and back; a statement per event held it
        // for the group's size plus two.
        let mut sql = String::from(
            "INSERT INTO inbound_events (channel, body_sha256, method, path, query, headers, body, available_at, \
             received_at, order_key) VALUES ",
        );
        for n in 0..events.len() {
            let p = n * 9;
            if n > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7,
                p + 8,
                p + 8,
                p + 9
            ));
        }
        sql.push_str(" ON CONFLICT (channel, body_sha256) DO NOTHING RETURNING id, channel, body_sha256");
        let now = now_ms();
        let mut insert = sqlx::query(&sql);
        for event in events {
            insert = insert
                .bind(&event.channel)
                .bind(&event.body_sha256)
                .bind(&event.method)
                .bind(&event.path)
                .bind(&event.query)
                .bind(&event.headers_json)
                .bind(&event.body)
                .bind(now)
                .bind(event.order_key.as_deref());
        }
        let rows = insert.fetch_all(self.writer()).await?;
        // RETURNING names the rows inserted, in no promised order; a body
        // already logged (or twice in this group) has no row, and so no id.
        let mut inserted = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let key: (String, String) = (row.try_get(1)?, row.try_get(2)?);
            inserted.insert(key, row.try_get::<i64, _>(0)?);
        }
        Ok(events
            .iter()
            .map(|event| inserted.remove(&(event.channel.clone(), event.body_sha256.clone())))
            .collect())
    }

    /// Claims up to `limit` pending events whose time has come, leasing them
    /// for `lease_ms`: the oldest first, and of each conversation (order key)
    /// only the oldest still pending, so one conversation's events are
    /// applied one at a time and in the order they were stored, however many
    /// workers claim at once. An event leased, or postponed, holds back the
    /// later events of its conversation until it ends.
    pub async fn claim_inbound_events(
        &self,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<InboundEventRow>, StoreError> {
        let claim = Claim {
            table: "inbound_events",
            ready: "status = 'pending' AND (order_key IS NULL OR NOT EXISTS (SELECT 1 FROM inbound_events \
                    earlier WHERE earlier.order_key = inbound_events.order_key AND earlier.status = 'pending' \
                    AND earlier.id < inbound_events.id))",
            also_set: "",
            columns: EVENT_COLUMNS,
        };
        let rows = self.claim(&claim, limit, lease_ms).await?;
        let mut events = rows.iter().map(event_from).collect::<Result<Vec<_>, _>>()?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// Inbound events ready to apply now: pending, not postponed, not held
    /// by a worker.
    pub async fn ready_inbound_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM inbound_events WHERE status = 'pending' AND available_at <= $1",
        )
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?)
    }

    /// Inbound events not applied yet, leased ones included (an index-only
    /// count: the benchmarks poll it while the workers drain a backlog).
    pub async fn pending_inbound_count(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM inbound_events WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Records an event's final state.
    pub async fn finish_inbound_event(
        &self,
        id: i64,
        status: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE inbound_events SET status = $1, reason = $2, applied_at = $3 WHERE id = $4")
            .bind(status)
            .bind(reason)
            .bind(now_ms())
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Leaves an event pending for another try after `delay_ms`, noting why.
    pub async fn postpone_inbound_event(
        &self,
        id: i64,
        delay_ms: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE inbound_events SET available_at = $1, reason = $2 WHERE id = $3 AND status = 'pending'",
        )
        .bind(now_ms() + delay_ms)
        .bind(reason)
        .bind(id)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Hands claimed events that were not started back to the queue at once
    /// (a stopping worker's), uncounting their attempt.
    pub async fn release_inbound_events(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE inbound_events SET available_at = $1, attempts = attempts - 1 \
             WHERE status = 'pending' AND id IN ({})",
            super::conversations::placeholders(2, ids.len())
        );
        let mut query = sqlx::query(&sql).bind(now_ms());
        for id in ids {
            query = query.bind(*id);
        }
        query.execute(self.writer()).await?;
        Ok(())
    }

    /// Inbound events, newest first, optionally of one status and channel.
    pub async fn list_inbound_events(
        &self,
        status: Option<&str>,
        channel: Option<&str>,
        limit: i64,
    ) -> Result<Vec<InboundEventRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM inbound_events WHERE ($1 IS NULL OR status = $1) \
             AND ($2 IS NULL OR channel = $2) ORDER BY id DESC LIMIT $3"
        ))
        .bind(status)
        .bind(channel)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(event_from).collect::<Result<_, _>>()?)
    }

    /// Puts finished events back in the queue to be applied again; answers
    /// how many. Applying is idempotent, so replaying an applied event adds
    /// only what is missing.
    pub async fn replay_inbound_events(
        &self,
        ids: Option<&[i64]>,
        status: Option<&str>,
        channel: Option<&str>,
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        let mut sql = String::from(
            "UPDATE inbound_events SET status = 'pending', reason = NULL, attempts = 0, applied_at = NULL, \
             available_at = $1 WHERE status <> 'pending' AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR channel = $3)",
        );
        if let Some(ids) = ids {
            if ids.is_empty() {
                return Ok(0);
            }
            sql.push_str(&format!(
                " AND id IN ({})",
                super::conversations::placeholders(4, ids.len())
            ));
        }
        let mut query = sqlx::query(&sql).bind(now).bind(status).bind(channel);
        for id in ids.unwrap_or_default() {
            query = query.bind(*id);
        }
        Ok(query.execute(self.writer()).await?.rows_affected())
    }

    /// Claims up to `limit` queued delivery jobs whose time has come, leasing
    /// them for `lease_ms`. The claim records the attempt before any send: an
    /// attempt still open when a job is claimed again ended without an
    /// outcome, and is counted in `attempts_in_doubt`.
    pub async fn claim_delivery_jobs(
        &self,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<DeliveryJobRow>, StoreError> {
        let claim = Claim {
            table: "delivery_jobs",
            ready: "state = 'queued'",
            also_set: ", attempts_in_doubt = attempts_in_doubt + CASE WHEN attempt_open = $4 THEN 1 ELSE 0 END, \
                       attempt_open = $4, updated_at = $2",
            columns: JOB_COLUMNS,
        };
        let rows = self.claim(&claim, limit, lease_ms).await?;
        let mut jobs = rows.iter().map(job_from).collect::<Result<Vec<_>, _>>()?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    /// The one claim of both queues: moves the rows' `available_at` past a
    /// lease and counts the attempt, skipping rows another worker holds
    /// (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer).
    /// `$1` is the lease's end, `$2` now, `$3` the limit, `$4` true (bound
    /// only when `also_set` uses it).
    pub(super) async fn claim(
        &self,
        claim: &Claim,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let now = now_ms();
        let Claim {
            table,
            ready,
            also_set,
            columns,
        } = claim;
        let sql = format!(
            "UPDATE {table} SET available_at = $1, attempts = attempts + 1{also_set} WHERE id IN \
             (SELECT id FROM {table} WHERE {ready} AND available_at <= $2 ORDER BY id LIMIT $3 {}) \
             RETURNING {columns}",
            self.skip_locked()
        );
        let mut query = sqlx::query(&sql).bind(now + lease_ms).bind(now).bind(limit);
        if also_set.contains("$4") {
            // PostgreSQL refuses a bound value that the statement does not use.
            query = query.bind(true);
        }
        Ok(query.fetch_all(self.writer()).await?)
    }

    /// [`WriteTx::requeue_delivery`](super::WriteTx::requeue_delivery) in
    /// a transaction of its own (the command line's retry).
    pub async fn requeue_delivery(&self, message_id: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let moved = tx.requeue_delivery(message_id).await?;
        tx.commit().await?;
        Ok(moved)
    }

    /// Delivery jobs, newest first, optionally of one state.
    pub async fn list_delivery_jobs(
        &self,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryJobRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM delivery_jobs WHERE ($1 IS NULL OR state = $1) ORDER BY id DESC LIMIT $2"
        ))
        .bind(state)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(job_from).collect::<Result<_, _>>()?)
    }

    /// One delivery job.
    pub async fn get_delivery_job(&self, id: i64) -> Result<DeliveryJobRow, StoreError> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM delivery_jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("delivery job {id}")))?;
        Ok(job_from(&row)?)
    }

    /// Whether the conversation has a send in progress: a queued job that has
    /// been attempted (its outcome, and so its provider id, is not recorded yet).
    pub async fn send_in_progress(&self, conversation_id: i64) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM delivery_jobs WHERE conversation_id = $1 AND state = 'queued' \
             AND attempt_open = $2 LIMIT 1",
        )
        .bind(conversation_id)
        .bind(true)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Counts of the inbound log and the delivery jobs by state.
    pub async fn pipeline_counts(&self) -> Result<PipelineCounts, StoreError> {
        let count = |sql: &'static str| async move {
            let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
        };
        Ok(PipelineCounts {
            events: count("SELECT status, COUNT(*) FROM inbound_events GROUP BY status ORDER BY status")
                .await?,
            deliveries: count("SELECT state, COUNT(*) FROM delivery_jobs GROUP BY state ORDER BY state")
                .await?,
        })
    }
}

fn finish_applied_sql(count: usize) -> String {
    format!(
        "UPDATE inbound_events SET status = $1, reason = NULL, applied_at = $2 WHERE id IN ({})",
        super::conversations::placeholders(3, count)
    )
}

impl super::WriteTx {
    /// Records, in this transaction, that events were applied: they are
    /// marked together with what applying them wrote, or not at all.
    pub async fn finish_applied_events(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = finish_applied_sql(ids.len());
        let mut query = sqlx::query(&sql).bind(event_status::APPLIED).bind(self.now());
        for id in ids {
            query = query.bind(*id);
        }
        query.execute(&mut **self.inner()).await?;
        Ok(())
    }
}

/// Writes a delivery job for a message inside the caller's transaction.
pub(super) async fn insert_job(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    message_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO delivery_jobs (message_id, account_id, conversation_id, available_at, created_at, updated_at) \
         SELECT id, account_id, conversation_id, $1, $1, $1 FROM messages WHERE id = $2",
    )
    .bind(now)
    .bind(message_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What differs between the queues' claims.
pub(super) struct Claim {
    pub(super) table: &'static str,
    /// The condition of a row waiting for a worker.
    pub(super) ready: &'static str,
    /// More assignments, starting with a comma.
    pub(super) also_set: &'static str,
    pub(super) columns: &'static str,
}

impl super::WriteTx {
    /// Records a successful send: the message gets the provider's id and
    /// status, the job is done, in one transaction. A message an echo
    /// created with the same provider id (the echo won the race against this
    /// record) is the same message: it is removed, and its id answered so the
    /// caller can tell live clients.
    pub async fn record_delivery(
        &mut self,
        job: &DeliveryJobRow,
        inbox_id: i64,
        status: MessageStatus,
        source_id: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        let now = self.now();
        let mut echo_copy = None;
        if let Some(source_id) = source_id {
            echo_copy = sqlx::query_scalar(&format!(
                "DELETE FROM messages WHERE inbox_id = $1 AND source_id = $2 AND id <> $3 \
                 AND message_type = {} RETURNING id",
                MessageType::Outgoing.code()
            ))
            .bind(inbox_id)
            .bind(source_id)
            .bind(job.message_id)
            .fetch_optional(&mut **self.inner())
            .await?;
        }
        sqlx::query(
            "UPDATE messages SET status = $1, source_id = COALESCE($2, source_id), external_error = NULL, \
             updated_at = $3 WHERE id = $4",
        )
        .bind(status.code())
        .bind(source_id)
        .bind(now)
        .bind(job.message_id)
        .execute(&mut **self.inner())
        .await?;
        sqlx::query(
            "UPDATE delivery_jobs SET state = 'done', attempt_open = $1, last_error = NULL, updated_at = $2 \
             WHERE id = $3",
        )
        .bind(false)
        .bind(now)
        .bind(job.id)
        .execute(&mut **self.inner())
        .await?;
        Ok(echo_copy)
    }

    /// Schedules another attempt after `delay_ms`, keeping the reason.
    pub async fn retry_delivery_later(
        &mut self,
        job_id: i64,
        delay_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        let now = self.now();
        sqlx::query(
            "UPDATE delivery_jobs SET available_at = $1, last_error = $2, attempt_open = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(now + delay_ms)
        .bind(error)
        .bind(false)
        .bind(now)
        .bind(job_id)
        .execute(&mut **self.inner())
        .await?;
        Ok(())
    }

    /// Gives up on a job: the message becomes failed with a readable reason
    /// and the job moves to the dead-letter list, in one transaction.
    pub async fn fail_delivery(&mut self, job: &DeliveryJobRow, error: &str) -> Result<(), StoreError> {
        let now = self.now();
        sqlx::query(&format!(
            "UPDATE messages SET status = {}, external_error = $1, updated_at = $2 WHERE id = $3",
            MessageStatus::Failed.code()
        ))
        .bind(error)
        .bind(now)
        .bind(job.message_id)
        .execute(&mut **self.inner())
        .await?;
        sqlx::query(
            "UPDATE delivery_jobs SET state = 'dead', last_error = $1, attempt_open = $2, updated_at = $3 \
             WHERE id = $4",
        )
        .bind(error)
        .bind(false)
        .bind(now)
        .bind(job.id)
        .execute(&mut **self.inner())
        .await?;
        Ok(())
    }

    /// Queues a failed message's job again (agent retry or admin retry from
    /// the dead-letter list): the message goes back to `sent`, the job to
    /// `queued` with a fresh attempt budget. Answers whether this call made
    /// the move, so two concurrent retries send once.
    pub async fn requeue_delivery(&mut self, message_id: i64) -> Result<bool, StoreError> {
        let now = self.now();
        let moved = sqlx::query(&format!(
            "UPDATE messages SET status = {sent}, external_error = NULL, updated_at = $1 \
             WHERE id = $2 AND status = {failed} AND message_type = {outgoing}",
            sent = MessageStatus::Sent.code(),
            failed = MessageStatus::Failed.code(),
            outgoing = MessageType::Outgoing.code(),
        ))
        .bind(now)
        .bind(message_id)
        .execute(&mut **self.inner())
        .await?
        .rows_affected()
            == 1;
        if moved {
            let updated = sqlx::query(
                "UPDATE delivery_jobs SET state = 'queued', attempts = 0, available_at = $1, last_error = NULL, \
                 updated_at = $1 WHERE message_id = $2",
            )
            .bind(now)
            .bind(message_id)
            .execute(&mut **self.inner())
            .await?
            .rows_affected();
            if updated == 0 {
                insert_job(self.inner(), message_id, now).await?;
            }
        }
        Ok(moved)
    }
}
