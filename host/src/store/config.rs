//! Queries for installation config (server-wide settings such as a channel's
//! app id and secret). Secret values arrive here already sealed
//! (`secrets::SecretBox`); a change bumps `plugins_revision` so that every node
//! reloads plugin settings.

use sqlx::Row;

use super::{Store, StoreError, get_bool, now_ms};

/// One setting.
#[derive(Debug, Clone)]
pub struct ConfigRow {
    /// Key, e.g. `TIKTOK_APP_ID`.
    pub key: String,
    /// Value (sealed when `secret`).
    pub value: String,
    /// Whether the value is sealed.
    pub secret: bool,
}

impl Store {
    /// Sets a setting.
    pub async fn set_config(&self, key: &str, value: &str, secret: bool) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "INSERT INTO installation_config (key, value, secret, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET value = $2, secret = $3, updated_at = $4",
        )
        .bind(key)
        .bind(value)
        .bind(secret)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        super::plugins::bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every setting, by key.
    pub async fn list_config(&self) -> Result<Vec<ConfigRow>, StoreError> {
        let rows = sqlx::query("SELECT key, value, secret FROM installation_config ORDER BY key")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ConfigRow {
                    key: r.try_get("key")?,
                    value: r.try_get("value")?,
                    secret: get_bool(r, "secret")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Every sealed inbox credential, by inbox id.
    pub async fn sealed_credentials(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, credentials FROM inboxes WHERE credentials IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("credentials")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Replaces sealed values in one transaction (key rotation): settings by
    /// key, inbox credentials by inbox id. Each write is guarded by the old
    /// value, so a concurrent change is not overwritten.
    pub async fn reseal(
        &self,
        settings: &[(String, String, String)],
        credentials: &[(i64, String, String)],
    ) -> Result<u64, StoreError> {
        let mut tx = self.writer().begin().await?;
        let mut changed = 0;
        for (key, old, new) in settings {
            changed += sqlx::query("UPDATE installation_config SET value = $1 WHERE key = $2 AND value = $3")
                .bind(new)
                .bind(key)
                .bind(old)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        for (id, old, new) in credentials {
            changed += sqlx::query("UPDATE inboxes SET credentials = $1 WHERE id = $2 AND credentials = $3")
                .bind(new)
                .bind(id)
                .bind(old)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        super::plugins::bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(changed)
    }
}
