//! Outgoing account webhooks and their delivery queue.
//!
//! `webhook_deliveries` is a sibling of `delivery_jobs`: claimed by the same
//! statement (`Store::claim`), so a worker that dies holding a delivery only
//! delays it until its lease ends.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::pipeline::Claim;
use super::{Store, StoreError, WriteTx, conflict_as, now_ms};

/// A subscribed URL of an account.
#[derive(Debug, Clone)]
pub struct WebhookRow {
    /// Id.
    pub id: i64,
    /// Account.
    pub account_id: i64,
    /// The administrator's label.
    pub name: Option<String>,
    /// Where events are POSTed.
    pub url: String,
    /// Event names as a JSON array.
    pub subscriptions: String,
    /// The signing key, sealed.
    pub sealed_secret: String,
    /// The inbox whose `webhook_url` it is (an API inbox's), or `None` for
    /// an account webhook.
    pub inbox_id: Option<i64>,
    /// Creation (unix ms).
    pub created_at: i64,
}

/// One event to send to one webhook.
#[derive(Debug, Clone)]
pub struct WebhookDeliveryRow {
    /// Id (also the `X-Chatwoot-Delivery` header).
    pub id: i64,
    /// The webhook.
    pub webhook_id: i64,
    /// Account.
    pub account_id: i64,
    /// Event name (`message_created`, …).
    pub event: String,
    /// The JSON body, rendered just after the change committed; empty
    /// until it is.
    pub payload: String,
    /// What the payload is rendered from (JSON written by `app::webhooks`
    /// in the change's own transaction; absent on rows queued before it
    /// existed, which were rendered when queued).
    pub subject: Option<String>,
    /// `queued`, `done` or `dead`.
    pub state: String,
    /// Attempts so far (this one included, for a claimed delivery).
    pub attempts: i64,
    /// The receiver's last status, when it answered.
    pub last_status: Option<i64>,
    /// The last failure.
    pub last_error: Option<String>,
    /// Creation (unix ms).
    pub created_at: i64,
    /// Last change (unix ms).
    pub updated_at: i64,
}

const WEBHOOK_COLUMNS: &str = "id, account_id, name, url, subscriptions, secret, inbox_id, created_at";
const DELIVERY_COLUMNS: &str = "id, webhook_id, account_id, event, payload, subject, state, attempts, last_status, last_error, created_at, updated_at";

fn webhook_from(row: &AnyRow) -> Result<WebhookRow, sqlx::Error> {
    Ok(WebhookRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        subscriptions: row.try_get("subscriptions")?,
        sealed_secret: row.try_get("secret")?,
        inbox_id: row.try_get("inbox_id")?,
        created_at: row.try_get("created_at")?,
    })
}

fn delivery_from(row: &AnyRow) -> Result<WebhookDeliveryRow, sqlx::Error> {
    Ok(WebhookDeliveryRow {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        account_id: row.try_get("account_id")?,
        event: row.try_get("event")?,
        payload: row.try_get("payload")?,
        subject: row.try_get("subject")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// The account's webhooks, oldest first.
    pub async fn list_webhooks(&self, account_id: i64) -> Result<Vec<WebhookRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE account_id = $1 ORDER BY id"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(webhook_from).collect::<Result<_, _>>()?)
    }

    /// One webhook of the account.
    pub async fn get_webhook(&self, account_id: i64, id: i64) -> Result<WebhookRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE account_id = $1 AND id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("webhook {id}")))?;
        Ok(webhook_from(&row)?)
    }

    /// Adds a webhook; `Conflict` when the account already has its URL.
    pub async fn insert_webhook(
        &self,
        account_id: i64,
        name: Option<&str>,
        url: &str,
        subscriptions: &str,
        sealed_secret: &str,
    ) -> Result<WebhookRow, StoreError> {
        let now = now_ms();
        let row = sqlx::query(&format!(
            "INSERT INTO webhooks (account_id, name, url, subscriptions, secret, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {WEBHOOK_COLUMNS}"
        ))
        .bind(account_id)
        .bind(name)
        .bind(url)
        .bind(subscriptions)
        .bind(sealed_secret)
        .bind(now)
        .fetch_one(self.writer())
        .await
        .map_err(conflict_as("a webhook with this URL"))?;
        Ok(webhook_from(&row)?)
    }

    /// Changes a webhook's name, URL and subscriptions (already merged by
    /// the caller); `Conflict` when another webhook has the URL.
    pub async fn update_webhook(
        &self,
        account_id: i64,
        id: i64,
        name: Option<&str>,
        url: &str,
        subscriptions: &str,
    ) -> Result<WebhookRow, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE webhooks SET name = $1, url = $2, subscriptions = $3, updated_at = $4 \
             WHERE account_id = $5 AND id = $6 RETURNING {WEBHOOK_COLUMNS}"
        ))
        .bind(name)
        .bind(url)
        .bind(subscriptions)
        .bind(now_ms())
        .bind(account_id)
        .bind(id)
        .fetch_optional(self.writer())
        .await
        .map_err(conflict_as("a webhook with this URL"))?
        .ok_or_else(|| StoreError::NotFound(format!("webhook {id}")))?;
        Ok(webhook_from(&row)?)
    }

    /// Removes a webhook and its deliveries, sent or not.
    pub async fn delete_webhook(&self, account_id: i64, id: i64) -> Result<(), StoreError> {
        let deleted = sqlx::query("DELETE FROM webhooks WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .execute(self.writer())
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound(format!("webhook {id}")));
        }
        Ok(())
    }

    /// Stores deliveries' rendered payload, on those still without one (the
    /// writer and a worker may both render one; the first stays).
    pub async fn render_webhook_deliveries(&self, ids: &[i64], payload: &str) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE webhook_deliveries SET payload = $1 WHERE payload = '' AND id IN ({})",
            super::conversations::placeholders(2, ids.len())
        );
        let mut query = sqlx::query(&sql).bind(payload);
        for id in ids {
            query = query.bind(*id);
        }
        query.execute(self.writer()).await?;
        Ok(())
    }

    /// A delivery's stored payload.
    pub async fn webhook_delivery_payload(&self, id: i64) -> Result<String, StoreError> {
        sqlx::query_scalar("SELECT payload FROM webhook_deliveries WHERE id = $1")
            .bind(id)
            .fetch_optional(self.writer())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("webhook delivery {id}")))
    }

    /// Claims up to `limit` queued deliveries whose time has come, leasing
    /// them for `lease_ms` (the one claim of every queue).
    pub async fn claim_webhook_deliveries(
        &self,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<WebhookDeliveryRow>, StoreError> {
        let claim = Claim {
            table: "webhook_deliveries",
            ready: "state = 'queued'",
            also_set: ", updated_at = $2",
            columns: DELIVERY_COLUMNS,
        };
        let rows = self.claim(&claim, limit, lease_ms).await?;
        let mut deliveries = rows.iter().map(delivery_from).collect::<Result<Vec<_>, _>>()?;
        deliveries.sort_by_key(|d| d.id);
        Ok(deliveries)
    }

    /// Records a delivery's outcome: `done`, `dead`, or `queued` again after
    /// `retry_in_ms`.
    pub async fn record_webhook_delivery(
        &self,
        id: i64,
        outcome: WebhookOutcome<'_>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let (state, available_at, status, error) = match outcome {
            WebhookOutcome::Done { status } => ("done", now, Some(status), None),
            WebhookOutcome::Retry {
                status,
                error,
                retry_in_ms,
            } => ("queued", now + retry_in_ms, status, Some(error)),
            WebhookOutcome::Dead { status, error } => ("dead", now, status, Some(error)),
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, available_at = $2, last_status = $3, last_error = $4, \
             updated_at = $5 WHERE id = $6",
        )
        .bind(state)
        .bind(available_at)
        .bind(status)
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// A webhook's deliveries, newest first.
    pub async fn list_webhook_deliveries(
        &self,
        account_id: i64,
        webhook_id: i64,
        limit: i64,
    ) -> Result<Vec<WebhookDeliveryRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE account_id = $1 AND webhook_id = $2 \
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(account_id)
        .bind(webhook_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(delivery_from).collect::<Result<_, _>>()?)
    }
}

impl WriteTx {
    /// Sets an inbox's webhook (its `webhook_url`), made with
    /// `subscriptions` and `sealed_secret` when it has none yet, or removes
    /// it with `None`.
    pub async fn set_inbox_webhook(
        &mut self,
        account_id: i64,
        inbox_id: i64,
        url: Option<&str>,
        subscriptions: &str,
        sealed_secret: &str,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let Some(url) = url else {
            sqlx::query("DELETE FROM webhooks WHERE account_id = $1 AND inbox_id = $2")
                .bind(account_id)
                .bind(inbox_id)
                .execute(&mut **self.inner())
                .await?;
            return Ok(());
        };
        let updated = sqlx::query(
            "UPDATE webhooks SET url = $1, updated_at = $2 WHERE account_id = $3 AND inbox_id = $4",
        )
        .bind(url)
        .bind(now)
        .bind(account_id)
        .bind(inbox_id)
        .execute(&mut **self.inner())
        .await?
        .rows_affected();
        if updated == 0 {
            sqlx::query(
                "INSERT INTO webhooks (account_id, inbox_id, url, subscriptions, secret, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(account_id)
            .bind(inbox_id)
            .bind(url)
            .bind(subscriptions)
            .bind(sealed_secret)
            .bind(now)
            .execute(&mut **self.inner())
            .await?;
        }
        Ok(())
    }

    /// Queues one delivery of `event` per webhook of `webhook_ids`, as part
    /// of the change it reports, with the payload still to be rendered from
    /// `subject`; answers their ids. A webhook deleted meanwhile is skipped.
    pub async fn queue_webhook_deliveries(
        &mut self,
        webhook_ids: &[i64],
        account_id: i64,
        event: &str,
        subject: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let now = self.now();
        let mut ids = Vec::with_capacity(webhook_ids.len());
        for id in webhook_ids {
            let queued: Option<i64> = sqlx::query_scalar(
                "INSERT INTO webhook_deliveries (webhook_id, account_id, event, payload, subject, available_at, \
                 created_at, updated_at) SELECT id, account_id, $1, '', $2, $3, $3, $3 FROM webhooks \
                 WHERE id = $4 AND account_id = $5 RETURNING id",
            )
            .bind(event)
            .bind(subject)
            .bind(now)
            .bind(id)
            .bind(account_id)
            .fetch_optional(&mut **self.inner())
            .await?;
            ids.extend(queued);
        }
        Ok(ids)
    }
}

/// How an attempt at a webhook delivery ended.
#[derive(Debug, Clone, Copy)]
pub enum WebhookOutcome<'a> {
    /// The receiver answered 2xx.
    Done {
        /// Its status.
        status: i64,
    },
    /// Try again later.
    Retry {
        /// The receiver's status, if it answered.
        status: Option<i64>,
        /// Why.
        error: &'a str,
        /// Wait.
        retry_in_ms: i64,
    },
    /// Given up: the dead-letter list.
    Dead {
        /// The receiver's status, if it answered.
        status: Option<i64>,
        /// Why.
        error: &'a str,
    },
}
