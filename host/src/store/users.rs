//! Queries for users and API access tokens.

use sqlx::Row;

use super::{Store, StoreError};

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
        let mut tx = self.begin_write().await?;
        let id = tx.insert_user(name, email, super_admin).await?;
        tx.insert_token(id, token_sha256).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records another token (by its sha256) for an existing user.
    pub async fn insert_token(&self, user_id: i64, token_sha256: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        tx.insert_token(user_id, token_sha256).await?;
        tx.commit().await
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
