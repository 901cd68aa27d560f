//! What an operator's tools ask of the database (issue 15): whether every
//! migration this binary carries ran, how busy the pool is, how deep and how
//! old the queues are, pruning the finished part of the pipeline, and the
//! online copy of a SQLite database.

use sqlx::Row;

use super::{Dialect, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS, Store, StoreError};

/// Connections of the pool, for the pool gauges.
#[derive(Debug, Clone, Copy)]
pub struct PoolUsage {
    /// Connections open now.
    pub open: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// Depth of both queues and the age of their oldest item.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueDepths {
    /// Inbound events still to apply.
    pub inbound_pending: i64,
    /// When the oldest of them was received (unix ms).
    pub inbound_oldest_ms: Option<i64>,
    /// Delivery jobs still to send.
    pub deliveries_queued: i64,
    /// When the oldest of them was created (unix ms).
    pub delivery_oldest_ms: Option<i64>,
}

/// What one retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Finished inbound events (applied, ignored, failed).
    pub events: u64,
    /// Delivered jobs.
    pub deliveries: u64,
}

/// Rows one DELETE of a retention pass takes: small enough that the one
/// SQLite writer is never held long, so webhooks keep being acknowledged.
const PRUNE_BATCH: i64 = 500;

impl Store {
    /// Versions of the migrations this binary carries that the database has
    /// not applied (empty when it is current). `open` migrates, so this is
    /// non-empty only when something undid that, or the table is gone.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = $1")
            .bind(true)
            .fetch_all(&self.pool)
            .await?;
        let migrator = match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        Ok(migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
            .map(|m| m.version)
            .collect())
    }

    /// The read pool's connections (on SQLite the one writer connection
    /// besides it is always open).
    pub fn pool_usage(&self) -> PoolUsage {
        PoolUsage {
            open: self.pool.size(),
            idle: self.pool.num_idle() as u32,
            max: self.pool.options().get_max_connections(),
        }
    }

    /// Pending inbound events and queued delivery jobs, with the oldest of each.
    pub async fn queue_depths(&self) -> Result<QueueDepths, StoreError> {
        let inbound =
            sqlx::query("SELECT COUNT(*), MIN(received_at) FROM inbound_events WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        let deliveries =
            sqlx::query("SELECT COUNT(*), MIN(created_at) FROM delivery_jobs WHERE state = 'queued'")
                .fetch_one(&self.pool)
                .await?;
        Ok(QueueDepths {
            inbound_pending: inbound.try_get(0)?,
            inbound_oldest_ms: inbound.try_get(1)?,
            deliveries_queued: deliveries.try_get(0)?,
            delivery_oldest_ms: deliveries.try_get(1)?,
        })
    }

    /// Deletes finished inbound events received before `events_before_ms`
    /// and delivered jobs last touched before `deliveries_before_ms`, in
    /// small batches. Pending events and queued or dead jobs are never
    /// touched: they are work, or an operator's to retry.
    pub async fn prune_finished(
        &self,
        events_before_ms: i64,
        deliveries_before_ms: i64,
    ) -> Result<Pruned, StoreError> {
        let events = self
            .delete_in_batches(
                "DELETE FROM inbound_events WHERE id IN (SELECT id FROM inbound_events \
                 WHERE status <> 'pending' AND received_at < $1 ORDER BY id LIMIT $2)",
                events_before_ms,
            )
            .await?;
        let deliveries = self
            .delete_in_batches(
                "DELETE FROM delivery_jobs WHERE id IN (SELECT id FROM delivery_jobs \
                 WHERE state = 'done' AND updated_at < $1 ORDER BY id LIMIT $2)",
                deliveries_before_ms,
            )
            .await?;
        Ok(Pruned { events, deliveries })
    }

    async fn delete_in_batches(&self, sql: &'static str, before_ms: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let done = sqlx::query(sql)
                .bind(before_ms)
                .bind(PRUNE_BATCH)
                .execute(self.writer())
                .await?
                .rows_affected();
            total += done;
            if done < PRUNE_BATCH as u64 {
                return Ok(total);
            }
        }
    }

    /// SQLite only: the database's size in bytes (pages in use and free).
    pub async fn sqlite_size(&self) -> Result<u64, StoreError> {
        self.sqlite_only()?;
        let pages: i64 = sqlx::query_scalar("SELECT page_count FROM pragma_page_count()")
            .fetch_one(&self.pool)
            .await?;
        let size: i64 = sqlx::query_scalar("SELECT page_size FROM pragma_page_size()")
            .fetch_one(&self.pool)
            .await?;
        Ok((pages * size) as u64)
    }

    /// SQLite only: writes a consistent copy of the whole database to `path`
    /// (`VACUUM INTO`). It reads one snapshot on a reader connection, so a
    /// serving node keeps writing (WAL) while it runs; the copy is compact
    /// and holds every transaction committed before it began.
    pub async fn backup_sqlite_into(&self, path: &str) -> Result<(), StoreError> {
        self.sqlite_only()?;
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// SQLite only: `PRAGMA integrity_check` of this database ("ok" when sound).
    pub async fn sqlite_integrity(&self) -> Result<String, StoreError> {
        self.sqlite_only()?;
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.join("\n"))
    }

    /// `PRAGMA integrity_check` of a SQLite file opened read-only (a
    /// backup, before it is put in place): "ok" when sound.
    pub async fn check_sqlite_file(path: &std::path::Path) -> Result<String, StoreError> {
        use sqlx::Connection;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .read_only(true);
        let mut conn = sqlx::sqlite::SqliteConnection::connect_with(&options).await?;
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await?;
        conn.close().await?;
        Ok(rows.join("\n"))
    }

    fn sqlite_only(&self) -> Result<(), StoreError> {
        match self.dialect {
            Dialect::Sqlite => Ok(()),
            Dialect::Postgres => Err(StoreError::Open(
                "this is a PostgreSQL database: back it up with pg_dump (a logical copy) or \
                 pg_basebackup (a physical one, with WAL archiving for point-in-time recovery)"
                    .into(),
            )),
        }
    }
}
