//! Queries for accounts, users, memberships (with roles) and account features.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, now_ms};

/// An account.
#[derive(Debug, Clone)]
pub struct AccountRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Locale code.
    pub locale: String,
    /// Custom domain.
    pub domain: Option<String>,
    /// Support email.
    pub support_email: Option<String>,
    /// 0 active, 1 suspended.
    pub status: i64,
    /// Creation time (unix ms).
    pub created_at: i64,
}

/// A user, with their role when read through an account.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Email.
    pub email: String,
    /// 0 online, 1 offline, 2 busy.
    pub availability: i64,
    /// Server-wide super admin.
    pub super_admin: bool,
    /// What Chatwoot's clients subscribe to live updates with (ActionCable).
    pub pubsub_token: Option<String>,
    /// 0 agent, 1 administrator (when read through an account).
    pub role: Option<i64>,
}

/// Fields of an account to change (`None` keeps the current value).
#[derive(Debug, Default)]
pub struct AccountChanges {
    /// Name.
    pub name: Option<String>,
    /// Locale.
    pub locale: Option<String>,
    /// Domain.
    pub domain: Option<String>,
    /// Support email.
    pub support_email: Option<String>,
}

fn account_from(row: &AnyRow) -> Result<AccountRow, sqlx::Error> {
    Ok(AccountRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        locale: row.try_get("locale")?,
        domain: row.try_get("domain")?,
        support_email: row.try_get("support_email")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn user_from(row: &AnyRow, with_role: bool) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        availability: row.try_get("availability")?,
        super_admin: super::get_bool(row, "super_admin")?,
        pubsub_token: row.try_get("pubsub_token")?,
        role: if with_role {
            Some(row.try_get("role")?)
        } else {
            None
        },
    })
}

const ACCOUNT_COLUMNS: &str = "id, name, locale, domain, support_email, status, created_at";
pub(super) const USER_COLUMNS: &str =
    "u.id, u.name, u.display_name, u.email, u.availability, u.super_admin, u.pubsub_token";

impl Store {
    /// Creates an account.
    pub async fn insert_account(&self, name: &str, locale: &str) -> Result<AccountRow, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO accounts (name, locale, created_at) VALUES ($1, $2, $3) RETURNING {ACCOUNT_COLUMNS}"
        ))
        .bind(name)
        .bind(locale)
        .bind(now_ms())
        .fetch_one(self.writer())
        .await?;
        Ok(account_from(&row)?)
    }

    /// The first `limit` accounts, by id.
    pub async fn list_accounts(&self, limit: i64) -> Result<Vec<AccountRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(account_from).collect::<Result<_, _>>()?)
    }

    /// One account.
    pub async fn get_account(&self, id: i64) -> Result<AccountRow, StoreError> {
        let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account {id}")))?;
        Ok(account_from(&row)?)
    }

    /// Changes an account's fields.
    pub async fn update_account(&self, id: i64, changes: &AccountChanges) -> Result<AccountRow, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE accounts SET name = COALESCE($1, name), locale = COALESCE($2, locale), \
             domain = COALESCE($3, domain), support_email = COALESCE($4, support_email) \
             WHERE id = $5 RETURNING {ACCOUNT_COLUMNS}"
        ))
        .bind(changes.name.as_deref())
        .bind(changes.locale.as_deref())
        .bind(changes.domain.as_deref())
        .bind(changes.support_email.as_deref())
        .bind(id)
        .fetch_optional(self.writer())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("account {id}")))?;
        Ok(account_from(&row)?)
    }

    /// One user (no role).
    pub async fn get_user(&self, id: i64) -> Result<UserRow, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        Ok(user_from(&row, false)?)
    }

    /// A user by email.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = $1"))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| user_from(&r, false)).transpose()?)
    }

    /// The user whose pubsub token this is (ActionCable's RoomChannel subscription).
    pub async fn user_by_pubsub_token(&self, pubsub_token: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.pubsub_token = $1"
        ))
        .bind(pubsub_token)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| user_from(&r, false)).transpose()?)
    }

    /// Creates a user without a token.
    pub async fn insert_user(&self, name: &str, email: &str) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let id = tx.insert_user(name, email, false).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The accounts a user belongs to, with the user's role in each.
    pub async fn user_accounts(&self, user_id: i64) -> Result<Vec<(AccountRow, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.name, a.locale, a.domain, a.support_email, a.status, a.created_at, m.role \
             FROM accounts a JOIN account_users m ON m.account_id = a.id WHERE m.user_id = $1 ORDER BY a.id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((account_from(r)?, r.try_get("role")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The role of a user in an account, if they are a member.
    pub async fn membership(&self, account_id: i64, user_id: i64) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT role FROM account_users WHERE account_id = $1 AND user_id = $2")
                .bind(account_id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Adds a user to an account with a role (or changes the role).
    pub async fn set_membership(&self, account_id: i64, user_id: i64, role: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO account_users (account_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, user_id) DO UPDATE SET role = $3",
        )
        .bind(account_id)
        .bind(user_id)
        .bind(role)
        .bind(now_ms())
        .execute(self.writer())
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound(format!("account {account_id} or user {user_id}"))
            }
            _ => StoreError::Query(e),
        })?;
        Ok(())
    }

    /// Removes a user from an account (and from its inboxes).
    pub async fn remove_membership(&self, account_id: i64, user_id: i64) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        let removed = sqlx::query("DELETE FROM account_users WHERE account_id = $1 AND user_id = $2")
            .bind(account_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("agent {user_id}")));
        }
        sqlx::query(
            "DELETE FROM inbox_members WHERE user_id = $1 AND inbox_id IN (SELECT id FROM inboxes WHERE account_id = $2)",
        )
        .bind(user_id)
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE conversations SET assignee_id = NULL WHERE account_id = $1 AND assignee_id = $2")
            .bind(account_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The members of an account with their roles.
    pub async fn list_agents(&self, account_id: i64) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, m.role FROM users u JOIN account_users m ON m.user_id = u.id \
             WHERE m.account_id = $1 ORDER BY u.id"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| user_from(r, true))
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)
    }

    /// One member of an account with their role.
    pub async fn get_agent(&self, account_id: i64, user_id: i64) -> Result<UserRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, m.role FROM users u JOIN account_users m ON m.user_id = u.id \
             WHERE m.account_id = $1 AND u.id = $2"
        ))
        .bind(account_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("agent {user_id}")))?;
        Ok(user_from(&row, true)?)
    }

    /// Changes a user's name.
    pub async fn rename_user(&self, user_id: i64, name: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(user_id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Sets a user's availability (0 online, 1 offline, 2 busy).
    pub async fn set_availability(&self, user_id: i64, availability: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET availability = $1 WHERE id = $2")
            .bind(availability)
            .bind(user_id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Turns a feature flag on for an account.
    pub async fn enable_feature(&self, account_id: i64, flag: &str) -> Result<(), StoreError> {
        self.get_account(account_id).await?;
        sqlx::query("INSERT INTO account_features (account_id, flag) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(account_id)
            .bind(flag)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Turns a feature flag off for an account (nothing when it was off).
    pub async fn disable_feature(&self, account_id: i64, flag: &str) -> Result<(), StoreError> {
        self.get_account(account_id).await?;
        sqlx::query("DELETE FROM account_features WHERE account_id = $1 AND flag = $2")
            .bind(account_id)
            .bind(flag)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// The feature flags on, of the accounts whose ids run from `first_id`
    /// to `last_id`, as `(account_id, flag)` in that order.
    pub async fn features_of_accounts(
        &self,
        first_id: i64,
        last_id: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT account_id, flag FROM account_features WHERE account_id BETWEEN $1 AND $2 \
             ORDER BY account_id, flag",
        )
        .bind(first_id)
        .bind(last_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The feature flags an account has on.
    pub async fn account_features(&self, account_id: i64) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT flag FROM account_features WHERE account_id = $1 ORDER BY flag")
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
