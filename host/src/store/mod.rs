//! Durable storage: one [`Store`] over SQLite (the embedded default) or
//! PostgreSQL, chosen by `DATABASE_URL`.
//!
//! Owns every line of SQL in the host. Both databases run the same queries
//! through sqlx's `Any` driver; only migrations (and, where it must, a query's
//! text picked by [`Dialect`]) differ. Callers get plain Rust types; nothing
//! outside this module sees sqlx.

mod accounts;
mod attachment_blobs;
mod config;
mod contacts;
mod conversations;
mod inbound;
mod inboxes;
mod labels;
pub mod live;
mod ops;
pub mod pipeline;
mod plugins;
pub mod scratch;
#[cfg(feature = "bench")]
mod seed;
mod sessions;
mod teams;
mod tx;
mod users;
mod webhooks;

pub use accounts::{AccountChanges, AccountRow, UserRow};
pub use attachment_blobs::InlineAttachments;
pub use config::ConfigRow;
pub use contacts::{ContactChanges, ContactRow, NewContact};
pub use conversations::{
    AttachmentContent, AttachmentRow, ConversationCounts, ConversationFilter, ConversationRow, MessageRow,
    NewAttachment, NewMessage,
};
pub use inbound::InboxCredentials;
pub use inboxes::{InboxChanges, InboxRow};
pub use labels::LabelRow;
pub use ops::{PoolUsage, Pruned, QueueDepths};
pub use pipeline::{DeliveryJobRow, InboundEventRow, NewInboundEvent, PipelineCounts};
pub use plugins::{PluginRow, StoredPlugin};
pub use sessions::SessionRow;
pub use teams::{TeamChanges, TeamRow};
pub use tx::{
    Activity, AttachmentInsert, ConversationInsert, InboxInsert, MessageInsert, SourceState, WriteTx,
};
pub use users::TokenOwner;
pub use webhooks::{WebhookDeliveryRow, WebhookOutcome, WebhookRow};

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported DATABASE_URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// The database could not be opened or migrated.
    #[error("cannot open database: {0}")]
    Open(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// The row asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The write would break a uniqueness rule.
    #[error("{0} already exists")]
    Conflict(String),
    /// The write breaks a rule of the domain; the message says which.
    #[error("{0}")]
    Refused(String),
    /// The row changed since it was read (optimistic concurrency).
    #[error("{0} changed concurrently; try again")]
    Changed(String),
    /// The row is still referenced.
    #[error("{what} is used by {count} {by}")]
    InUse {
        /// What was to be deleted.
        what: String,
        /// How many rows reference it.
        count: i64,
        /// What references it.
        by: &'static str,
    },
}

impl StoreError {
    /// Whether the database refused text it cannot hold: PostgreSQL refuses
    /// NUL characters (SQLite stores them).
    pub fn is_invalid_text(&self) -> bool {
        matches!(self, Self::Query(sqlx::Error::Database(db))
            if matches!(db.code().as_deref(), Some("22021" | "22P05")))
    }
}

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (single node).
    Sqlite,
    /// PostgreSQL (any number of nodes).
    Postgres,
}

/// A pool of connections plus the dialect they speak.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// SQLite only: the one connection every write of this process goes
    /// through. SQLite has one writer at a time; writers that contend for it
    /// inside one process would wait in SQLite's busy handler, which sleeps
    /// up to 100 ms a turn and starves the inbound workers under ingest load.
    /// Queueing them on one pooled connection instead hands the write lock
    /// over in FIFO order with no sleeping. (Another process — a CLI command
    /// — still meets the busy timeout.)
    writer: Option<AnyPool>,
    dialect: Dialect,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Store {
    /// Opens the database at `url` (creating a SQLite file and its folder if
    /// needed) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, true).await
    }

    /// Opens the database at `url` as it is, applying no migration: for
    /// commands that only read it whole (a backup must copy what is there,
    /// not upgrade a database a running server of another version uses).
    pub async fn open_unmigrated(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, false).await
    }

    async fn open_with(url: &str, migrate: bool) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        if dialect == Dialect::Sqlite {
            create_sqlite_parent(url)?;
        }
        let options = AnyConnectOptions::from_str(url).map_err(|e| StoreError::Open(e.to_string()))?;
        let pool_options = match dialect {
            Dialect::Sqlite => sqlite_pool(4),
            Dialect::Postgres => AnyPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(30)),
        };
        let writer = match dialect {
            Dialect::Sqlite => Some(
                sqlite_pool(1)
                    .connect_with(options.clone())
                    .await
                    .map_err(|e| StoreError::Open(e.to_string()))?,
            ),
            Dialect::Postgres => None,
        };
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open(e.to_string()))?;
        let migrator = match dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        if migrate {
            migrator
                .run(&pool)
                .await
                .map_err(|e| StoreError::Open(format!("migration failed: {e}")))?;
        }
        Ok(Self {
            pool,
            writer,
            dialect,
        })
    }

    /// Where writes go: the one writer connection on SQLite, the pool on
    /// PostgreSQL.
    fn writer(&self) -> &AnyPool {
        self.writer.as_ref().unwrap_or(&self.pool)
    }

    /// The dialect of the underlying database.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Answers whether the database is reachable.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        self.pool.close().await;
    }
}

/// A pool of SQLite connections. WAL lets readers run beside the one
/// writer; the busy timeout makes a CLI command wait for a running server's
/// write instead of failing. synchronous=FULL syncs the WAL at every commit,
/// so an acknowledged webhook survives a power cut, not only a killed
/// process; SWITCHBOARD_SQLITE_SYNCHRONOUS=NORMAL trades that for speed.
fn sqlite_pool(connections: u32) -> AnyPoolOptions {
    let synchronous = sqlite_synchronous();
    AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(
                    format!(
                        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                         PRAGMA synchronous = {synchronous};"
                    )
                    .as_str(),
                )
                .await?;
                Ok(())
            })
        })
}

/// SQLite's `synchronous` level: `FULL` unless SWITCHBOARD_SQLITE_SYNCHRONOUS
/// names another valid level.
fn sqlite_synchronous() -> &'static str {
    match std::env::var("SWITCHBOARD_SQLITE_SYNCHRONOUS")
        .unwrap_or_default()
        .to_ascii_uppercase()
        .as_str()
    {
        "NORMAL" => "NORMAL",
        "EXTRA" => "EXTRA",
        _ => "FULL",
    }
}

fn create_sqlite_parent(url: &str) -> Result<(), StoreError> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError::Open(format!("cannot create {}: {e}", parent.display())))?;
    }
    Ok(())
}

/// Now, in unix milliseconds: the one time format the store writes.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Reads a boolean column: BOOLEAN on PostgreSQL, INTEGER 0/1 on SQLite
/// (sqlx's Any driver decodes neither as the other).
fn get_bool(row: &sqlx::any::AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    use sqlx::Row;
    row.try_get::<bool, _>(column)
        .or_else(|_| row.try_get::<i64, _>(column).map(|v| v != 0))
}

/// Reads a Chatwoot code column as its enum; an unknown code is a decode
/// error, never a silent default.
fn get_code<T: crate::chatwoot::ChatwootCode>(
    row: &sqlx::any::AnyRow,
    column: &str,
) -> Result<T, sqlx::Error> {
    use sqlx::Row;
    let code: i64 = row.try_get(column)?;
    T::from_code(code).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unknown code {code}").into(),
    })
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
fn conflict_as(what: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.to_owned()),
        _ => StoreError::Query(e),
    }
}
