//! Queries for installed plugins, their component bytes and host grants.
//!
//! Every change bumps `host_state.plugins_revision` in the same transaction,
//! so that each running node notices it and reloads (see `plugins::sync`).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, conflict_as, get_bool, now_ms};

/// An installed plugin as stored.
#[derive(Debug, Clone)]
pub struct PluginRow {
    /// Plugin id from its manifest.
    pub id: String,
    /// Human name.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// Contract version it implements.
    pub contract_version: String,
    /// sha256 of the component bytes (hex).
    pub sha256: String,
    /// The manifest, as JSON.
    pub manifest: String,
    /// Whether the host routes calls to it.
    pub enabled: bool,
    /// Whether it ships inside the binary.
    pub bundled: bool,
    /// Per-call deadline override.
    pub timeout_ms: Option<i64>,
    /// Per-call memory cap override.
    pub memory_limit_bytes: Option<i64>,
    /// Unix ms of first install.
    pub installed_at: i64,
    /// Unix ms of last change.
    pub updated_at: i64,
    /// Origins an admin granted beyond the manifest's.
    pub granted_origins: Vec<String>,
    /// Deterministic faults in a row (traps, memory, output budget, timeouts).
    pub faults_in_row: i64,
    /// The last such fault.
    pub last_fault: Option<String>,
    /// Why the host disabled it on its own (quarantine), if it did.
    pub disabled_reason: Option<String>,
}

/// What to write when installing or upgrading.
#[derive(Debug, Clone)]
pub struct StoredPlugin<'a> {
    /// Plugin id.
    pub id: &'a str,
    /// Human name.
    pub name: &'a str,
    /// Plugin version.
    pub version: &'a str,
    /// Contract version.
    pub contract_version: &'a str,
    /// Manifest JSON.
    pub manifest: &'a str,
    /// Component bytes.
    pub bytes: &'a [u8],
    /// sha256 of `bytes` (hex).
    pub sha256: &'a str,
    /// Whether it ships inside the binary.
    pub bundled: bool,
}

const SELECT_PLUGIN: &str = "SELECT id, name, version, contract_version, sha256, manifest, enabled, bundled, \
     timeout_ms, memory_limit_bytes, installed_at, updated_at, faults_in_row, last_fault, disabled_reason \
     FROM plugins";

fn plugin_from_row(row: &AnyRow) -> Result<PluginRow, sqlx::Error> {
    Ok(PluginRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        contract_version: row.try_get("contract_version")?,
        sha256: row.try_get("sha256")?,
        manifest: row.try_get("manifest")?,
        enabled: get_bool(row, "enabled")?,
        bundled: get_bool(row, "bundled")?,
        timeout_ms: row.try_get("timeout_ms")?,
        memory_limit_bytes: row.try_get("memory_limit_bytes")?,
        installed_at: row.try_get("installed_at")?,
        updated_at: row.try_get("updated_at")?,
        granted_origins: Vec::new(),
        faults_in_row: row.try_get("faults_in_row")?,
        last_fault: row.try_get("last_fault")?,
        disabled_reason: row.try_get("disabled_reason")?,
    })
}

/// Takes the lock of the revision row by bumping it, as the first statement
/// of a transaction that writes or deletes component bytes. On PostgreSQL an
/// install that shares bytes with a concurrent removal otherwise finds the
/// blob (ON CONFLICT DO NOTHING), then loses it to the removal's cleanup and
/// fails its foreign key; serialised, the later one sees the other's commit.
/// (SQLite has one writer anyway.)
async fn serialise_plugin_changes(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<(), StoreError> {
    bump_revision(tx).await
}

pub(super) async fn bump_revision(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<(), StoreError> {
    // The value is TEXT so that host_state can hold any setting; the cast keeps
    // the increment inside the database, where concurrent writers serialise.
    sqlx::query(
        "UPDATE host_state SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE key = 'plugins_revision'",
    )
    .execute(&mut **tx)
    .await?;
    // Delivered at commit, to every node listening (PostgreSQL only).
    if tx.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(super::live::PLUGINS_CHANNEL)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// The counter every plugin change bumps.
    pub async fn plugins_revision(&self) -> Result<i64, StoreError> {
        let value: String = sqlx::query_scalar("SELECT value FROM host_state WHERE key = 'plugins_revision'")
            .fetch_one(&self.pool)
            .await?;
        Ok(value.parse().unwrap_or_default())
    }

    /// Every installed plugin with its grants, ordered by id.
    pub async fn list_plugins(&self) -> Result<Vec<PluginRow>, StoreError> {
        let rows = sqlx::query(&format!("{SELECT_PLUGIN} ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        let mut plugins = rows.iter().map(plugin_from_row).collect::<Result<Vec<_>, _>>()?;
        let grants = sqlx::query("SELECT plugin_id, origin FROM plugin_host_grants ORDER BY origin")
            .fetch_all(&self.pool)
            .await?;
        for grant in grants {
            let plugin_id: String = grant.try_get("plugin_id")?;
            if let Some(plugin) = plugins.iter_mut().find(|p| p.id == plugin_id) {
                plugin.granted_origins.push(grant.try_get("origin")?);
            }
        }
        Ok(plugins)
    }

    /// One installed plugin with its grants.
    pub async fn get_plugin(&self, id: &str) -> Result<PluginRow, StoreError> {
        let row = sqlx::query(&format!("{SELECT_PLUGIN} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("plugin {id:?}")))?;
        let mut plugin = plugin_from_row(&row)?;
        plugin.granted_origins =
            sqlx::query_scalar("SELECT origin FROM plugin_host_grants WHERE plugin_id = $1 ORDER BY origin")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        Ok(plugin)
    }

    /// The component bytes with this sha256.
    pub async fn plugin_bytes(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        sqlx::query_scalar("SELECT bytes FROM plugin_blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("component {sha256}")))
    }

    /// Stores a new plugin. Fails with `Conflict` when the id is taken.
    pub async fn insert_plugin(&self, plugin: &StoredPlugin<'_>) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        // First: the revision row's lock serialises plugin changes (see
        // `serialise_plugin_changes`).
        serialise_plugin_changes(&mut tx).await?;
        put_blob(&mut tx, plugin).await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO plugins (id, name, version, contract_version, sha256, manifest, enabled, bundled, \
             installed_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(plugin.id)
        .bind(plugin.name)
        .bind(plugin.version)
        .bind(plugin.contract_version)
        .bind(plugin.sha256)
        .bind(plugin.manifest)
        .bind(true)
        .bind(plugin.bundled)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(conflict_as(&format!("plugin {:?}", plugin.id)))?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces an installed plugin's component, keeping its grants, limits and
    /// enabled state. `expected_sha256` guards against a concurrent upgrade.
    pub async fn replace_plugin(
        &self,
        plugin: &StoredPlugin<'_>,
        expected_sha256: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        serialise_plugin_changes(&mut tx).await?;
        put_blob(&mut tx, plugin).await?;
        let updated = sqlx::query(
            "UPDATE plugins SET name = $1, version = $2, contract_version = $3, sha256 = $4, manifest = $5, \
             bundled = $6, updated_at = $7 WHERE id = $8 AND sha256 = $9",
        )
        .bind(plugin.name)
        .bind(plugin.version)
        .bind(plugin.contract_version)
        .bind(plugin.sha256)
        .bind(plugin.manifest)
        .bind(plugin.bundled)
        .bind(now_ms())
        .bind(plugin.id)
        .bind(expected_sha256)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "a concurrent change to plugin {:?}",
                plugin.id
            )));
        }
        delete_unused_blobs(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turns a plugin on or off (an admin's decision: it clears the fault
    /// count and a quarantine's reason).
    pub async fn set_plugin_enabled(&self, id: &str, enabled: bool) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        let updated = sqlx::query(
            "UPDATE plugins SET enabled = $1, faults_in_row = 0, disabled_reason = NULL, updated_at = $2 \
             WHERE id = $3",
        )
        .bind(enabled)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        finish_plugin_update(tx, id, updated.rows_affected()).await
    }

    /// Sets (or clears, with `None`) the per-call limits of a plugin.
    pub async fn set_plugin_limits(
        &self,
        id: &str,
        timeout_ms: Option<i64>,
        memory_limit_bytes: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        let updated = sqlx::query(
            "UPDATE plugins SET timeout_ms = $1, memory_limit_bytes = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(timeout_ms)
        .bind(memory_limit_bytes)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        finish_plugin_update(tx, id, updated.rows_affected()).await
    }

    /// Removes a plugin, its grants and (when no other plugin shares them) its
    /// bytes, refusing while inboxes use it unless `force`. `tombstone` names a
    /// host setting to set in the same transaction (a removed bundled plugin
    /// must stay removed even if the process dies right after).
    pub async fn delete_plugin(
        &self,
        id: &str,
        force: bool,
        tombstone: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        // Write first, read after: a SQLite transaction that reads before it
        // writes can fail to upgrade its lock under concurrent writers.
        serialise_plugin_changes(&mut tx).await?;
        let guard = if force {
            ""
        } else {
            " AND NOT EXISTS (SELECT 1 FROM inboxes WHERE channel = $1)"
        };
        let deleted = sqlx::query(&format!("DELETE FROM plugins WHERE id = $1{guard}"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            tx.rollback().await?;
            self.get_plugin(id).await?;
            let count = self.inboxes_using(id).await?;
            return Err(StoreError::InUse {
                what: format!("plugin {id:?}"),
                count,
                by: "inbox(es)",
            });
        }
        delete_unused_blobs(&mut tx).await?;
        if let Some(key) = tombstone {
            sqlx::query(
                "INSERT INTO host_state (key, value) VALUES ($1, '1') ON CONFLICT (key) DO UPDATE SET value = '1'",
            )
            .bind(key)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Counts a deterministic fault of the plugin whose component is
    /// `sha256` (a fault of a version since replaced counts for nothing),
    /// and disables it with `reason` once `limit` faults came in a row.
    /// Answers whether this fault disabled it.
    pub async fn record_plugin_fault(
        &self,
        id: &str,
        sha256: &str,
        fault: &str,
        limit: i64,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "UPDATE plugins SET faults_in_row = faults_in_row + 1, last_fault = $1 WHERE id = $2 AND sha256 = $3",
        )
        .bind(fault)
        .bind(id)
        .bind(sha256)
        .execute(&mut *tx)
        .await?;
        let disabled = sqlx::query(
            "UPDATE plugins SET enabled = $1, disabled_reason = $2, updated_at = $3 \
             WHERE id = $4 AND sha256 = $5 AND enabled = $6 AND faults_in_row >= $7",
        )
        .bind(false)
        .bind(reason)
        .bind(now_ms())
        .bind(id)
        .bind(sha256)
        .bind(true)
        .bind(limit)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if disabled {
            bump_revision(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(disabled)
    }

    /// A call of the plugin succeeded: its faults are no longer in a row.
    pub async fn clear_plugin_faults(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE plugins SET faults_in_row = 0 WHERE id = $1 AND faults_in_row > 0")
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Adds an origin to a plugin's grants; answers whether it was new.
    pub async fn grant_origin(&self, id: &str, origin: &str) -> Result<bool, StoreError> {
        let mut tx = self.writer().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO plugin_host_grants (plugin_id, origin, granted_at) VALUES ($1, $2, $3) \
             ON CONFLICT (plugin_id, origin) DO NOTHING",
        )
        .bind(id)
        .bind(origin)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound(format!("plugin {id:?}"))
            }
            _ => StoreError::Query(e),
        })?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(inserted.rows_affected() > 0)
    }

    /// Removes an origin from a plugin's grants; answers whether it was there.
    pub async fn revoke_origin(&self, id: &str, origin: &str) -> Result<bool, StoreError> {
        let mut tx = self.writer().begin().await?;
        let deleted = sqlx::query("DELETE FROM plugin_host_grants WHERE plugin_id = $1 AND origin = $2")
            .bind(id)
            .bind(origin)
            .execute(&mut *tx)
            .await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// How many inboxes use the channel plugin `id`.
    pub async fn inboxes_using(&self, id: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM inboxes WHERE channel = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// A host setting by key.
    pub async fn host_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM host_state WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }
}

async fn finish_plugin_update(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    rows_affected: u64,
) -> Result<(), StoreError> {
    if rows_affected == 0 {
        return Err(StoreError::NotFound(format!("plugin {id:?}")));
    }
    bump_revision(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

async fn put_blob(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    plugin: &StoredPlugin<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO plugin_blobs (sha256, bytes, size, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(plugin.sha256)
    .bind(plugin.bytes)
    .bind(plugin.bytes.len() as i64)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn delete_unused_blobs(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM plugin_blobs WHERE sha256 NOT IN (SELECT sha256 FROM plugins)")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// How long an uploaded component waits for its review to be confirmed.
const UPLOAD_TTL_MS: i64 = 3600 * 1000;

impl Store {
    /// Keeps an uploaded component until its review is confirmed (the
    /// dashboard's plugin console), and drops uploads older than an hour.
    pub async fn stage_plugin_upload(
        &self,
        sha256: &str,
        bytes: &[u8],
        user_id: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        sqlx::query("DELETE FROM plugin_uploads WHERE created_at < $1 OR sha256 = $2")
            .bind(now_ms() - UPLOAD_TTL_MS)
            .bind(sha256)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO plugin_uploads (sha256, bytes, uploaded_by, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(sha256)
        .bind(bytes)
        .bind(user_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A staged upload's bytes, unless it is older than an hour.
    pub async fn plugin_upload(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        sqlx::query_scalar("SELECT bytes FROM plugin_uploads WHERE sha256 = $1 AND created_at >= $2")
            .bind(sha256)
            .bind(now_ms() - UPLOAD_TTL_MS)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("upload {sha256}")))
    }

    /// Forgets a staged upload (confirmed or cancelled).
    pub async fn drop_plugin_upload(&self, sha256: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM plugin_uploads WHERE sha256 = $1")
            .bind(sha256)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
