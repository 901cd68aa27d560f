//! Queries for users and API access tokens.

use sqlx::Row;

use super::{Store, StoreError, conflict_as, now_ms};

/// The user behind an access token.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    /// User id.
    pub user_id: i64,
    /// Email address.
    pub email: String,
    /// Whether the user administers the whole server.
    pub super_admin: bool,
}

impl Store {
    /// Creates a user with one API token (stored as its sha256), in one
    /// transaction; fails with `Conflict` when the email is taken.
    pub async fn insert_user_with_token(
        &self,
        name: &str,
        email: &str,
        super_admin: bool,
        token_sha256: &str,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (name, email, super_admin, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(email)
        .bind(super_admin)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_as(&format!("user {email:?}")))?;
        sqlx::query("INSERT INTO access_tokens (token_sha256, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(token_sha256)
            .bind(id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records another token (by its sha256) for an existing user.
    pub async fn insert_token(&self, user_id: i64, token_sha256: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO access_tokens (token_sha256, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(token_sha256)
            .bind(user_id)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound(format!("user {user_id}"))
                }
                _ => StoreError::Query(e),
            })?;
        Ok(())
    }

    /// The user owning the token with this sha256, if any.
    pub async fn token_owner(&self, token_sha256: &str) -> Result<Option<TokenOwner>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.super_admin FROM access_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_sha256 = $1",
        )
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(TokenOwner {
                user_id: row.try_get("id")?,
                email: row.try_get("email")?,
                super_admin: super::get_bool(&row, "super_admin")?,
            })
        })
        .transpose()
        .map_err(StoreError::Query)
    }
}
