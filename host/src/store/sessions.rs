//! Queries for signing in: password hashes, sessions (browser cookies and
//! devise-token-auth headers alike), and refused attempts for rate limits.

use sqlx::Row;

use super::{Store, StoreError, TokenOwner};

/// A stored session and its user.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The signed-in user.
    pub owner: TokenOwner,
    /// devise-token-auth's client id.
    pub client: String,
    /// The token forms of this session must carry.
    pub csrf: String,
    /// When it stops working (unix ms).
    pub expires_at: i64,
}

impl Store {
    /// Sets (or replaces) a user's password hash.
    pub async fn set_password_hash(&self, user_id: i64, hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO user_passwords (user_id, hash, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(hash)
        .bind(super::now_ms())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The user with this email and their password hash, if they have one.
    pub async fn user_with_password(
        &self,
        email: &str,
    ) -> Result<Option<(TokenOwner, Option<String>)>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.super_admin, p.hash FROM users u \
             LEFT JOIN user_passwords p ON p.user_id = u.id WHERE lower(u.email) = lower($1)",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok((
                TokenOwner {
                    user_id: row.try_get("id")?,
                    email: row.try_get("email")?,
                    super_admin: super::get_bool(&row, "super_admin")?,
                },
                row.try_get("hash")?,
            ))
        })
        .transpose()
        .map_err(StoreError::Query)
    }

    /// Records a session by its token's sha256.
    pub async fn insert_session(
        &self,
        token_sha256: &str,
        user_id: i64,
        client: &str,
        csrf: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_sha256, user_id, client, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_sha256)
        .bind(user_id)
        .bind(client)
        .bind(csrf)
        .bind(super::now_ms())
        .bind(expires_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The unexpired session whose token has this sha256.
    pub async fn session(&self, token_sha256: &str, now: i64) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.super_admin, s.client, s.csrf, s.expires_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_sha256 = $1 AND s.expires_at > $2",
        )
        .bind(token_sha256)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(SessionRow {
                owner: TokenOwner {
                    user_id: row.try_get("id")?,
                    email: row.try_get("email")?,
                    super_admin: super::get_bool(&row, "super_admin")?,
                },
                client: row.try_get("client")?,
                csrf: row.try_get("csrf")?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
        .map_err(StoreError::Query)
    }

    /// Ends a session.
    pub async fn delete_session(&self, token_sha256: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
            .bind(token_sha256)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Ends every session of a user (after a password change).
    pub async fn delete_user_sessions(&self, user_id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 OR expires_at < $2")
            .bind(user_id)
            .bind(super::now_ms())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// How many refused sign-ins `key` has had since `since` (unix ms).
    pub async fn sign_in_failures(&self, key: &str, since: i64) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM sign_in_failures WHERE subject = $1 AND failed_at >= $2")
                .bind(key)
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get("n")?)
    }

    /// Records a refused sign-in for each key, and forgets those of the keys
    /// older than `forget_before`, in one transaction.
    pub async fn record_sign_in_failure(
        &self,
        keys: &[&str],
        now: i64,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        for key in keys {
            sqlx::query("DELETE FROM sign_in_failures WHERE subject = $1 AND failed_at < $2")
                .bind(*key)
                .bind(forget_before)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO sign_in_failures (subject, failed_at) VALUES ($1, $2)")
                .bind(*key)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes sessions that ended before `now` and refused sign-ins older
    /// than `forget_before`, whoever they belonged to; answers how many of
    /// each.
    pub async fn sweep_sign_ins(&self, now: i64, forget_before: i64) -> Result<(u64, u64), StoreError> {
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(self.writer())
            .await?
            .rows_affected();
        let failures = sqlx::query("DELETE FROM sign_in_failures WHERE failed_at < $1")
            .bind(forget_before)
            .execute(self.writer())
            .await?
            .rows_affected();
        Ok((sessions, failures))
    }

    /// Forgets the refused sign-ins of `key` (after a successful one).
    pub async fn clear_sign_in_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sign_in_failures WHERE subject = $1")
            .bind(key)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
