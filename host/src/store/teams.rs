//! Queries for teams (Chatwoot's groups of agents within an account), their
//! members, and a conversation's team.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::accounts::{USER_COLUMNS, user_from};
use super::conversations::placeholders;
use super::{Store, StoreError, UserRow, get_bool, now_ms};

/// A team.
#[derive(Debug, Clone)]
pub struct TeamRow {
    /// Id.
    pub id: i64,
    /// Account.
    pub account_id: i64,
    /// Name (lower-cased, unique in the account).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Whether conversations of the team may be auto-assigned to its members.
    pub allow_auto_assign: bool,
    /// Creation (unix ms).
    pub created_at: i64,
}

/// Fields of a team to change (`None` keeps the current value).
#[derive(Debug, Default, Clone)]
pub struct TeamChanges {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Auto-assignment.
    pub allow_auto_assign: Option<bool>,
}

const TEAM_COLUMNS: &str = "id, account_id, name, description, allow_auto_assign, created_at";

fn team_from(row: &AnyRow) -> Result<TeamRow, sqlx::Error> {
    Ok(TeamRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        allow_auto_assign: get_bool(row, "allow_auto_assign")?,
        created_at: row.try_get("created_at")?,
    })
}

fn name_taken(name: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(format!("team {name:?}"))
        }
        _ => StoreError::Query(e),
    }
}

impl Store {
    /// Creates a team; `Conflict` when the account has one of that name.
    pub async fn insert_team(
        &self,
        account_id: i64,
        name: &str,
        description: Option<&str>,
        allow_auto_assign: bool,
    ) -> Result<TeamRow, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO teams (account_id, name, description, allow_auto_assign, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {TEAM_COLUMNS}"
        ))
        .bind(account_id)
        .bind(name)
        .bind(description)
        .bind(allow_auto_assign)
        .bind(now_ms())
        .fetch_one(self.writer())
        .await
        .map_err(name_taken(name))?;
        Ok(team_from(&row)?)
    }

    /// The account's teams, by name.
    pub async fn list_teams(&self, account_id: i64) -> Result<Vec<TeamRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TEAM_COLUMNS} FROM teams WHERE account_id = $1 ORDER BY name, id"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(team_from).collect::<Result<_, _>>()?)
    }

    /// One team of the account.
    pub async fn get_team(&self, account_id: i64, id: i64) -> Result<TeamRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TEAM_COLUMNS} FROM teams WHERE account_id = $1 AND id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("team {id}")))?;
        Ok(team_from(&row)?)
    }

    /// Changes a team; answers it as it is now.
    pub async fn update_team(
        &self,
        account_id: i64,
        id: i64,
        changes: &TeamChanges,
    ) -> Result<TeamRow, StoreError> {
        let current = self.get_team(account_id, id).await?;
        let name = changes.name.clone().unwrap_or(current.name);
        let row = sqlx::query(&format!(
            "UPDATE teams SET name = $1, description = $2, allow_auto_assign = $3 \
             WHERE account_id = $4 AND id = $5 RETURNING {TEAM_COLUMNS}"
        ))
        .bind(&name)
        .bind(changes.description.clone().or(current.description))
        .bind(changes.allow_auto_assign.unwrap_or(current.allow_auto_assign))
        .bind(account_id)
        .bind(id)
        .fetch_optional(self.writer())
        .await
        .map_err(name_taken(&name))?
        .ok_or_else(|| StoreError::NotFound(format!("team {id}")))?;
        Ok(team_from(&row)?)
    }

    /// Deletes a team; its conversations keep their assignee and lose the team.
    pub async fn delete_team(&self, account_id: i64, id: i64) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM teams WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .execute(self.writer())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("team {id}")));
        }
        Ok(())
    }

    /// A team's members, as agents of its account (with their role).
    pub async fn team_members(&self, team_id: i64) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, m.role FROM team_members tm JOIN teams t ON t.id = tm.team_id \
             JOIN users u ON u.id = tm.user_id \
             JOIN account_users m ON m.user_id = u.id AND m.account_id = t.account_id \
             WHERE tm.team_id = $1 ORDER BY u.id"
        ))
        .bind(team_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| user_from(r, true))
            .collect::<Result<_, _>>()?)
    }

    /// Adds members to a team (those already in it stay once).
    pub async fn add_team_members(&self, team_id: i64, user_ids: &[i64]) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        let now = now_ms();
        for user_id in user_ids {
            sqlx::query(
                "INSERT INTO team_members (team_id, user_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (team_id, user_id) DO NOTHING",
            )
            .bind(team_id)
            .bind(*user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes members from a team.
    pub async fn remove_team_members(&self, team_id: i64, user_ids: &[i64]) -> Result<(), StoreError> {
        if user_ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "DELETE FROM team_members WHERE team_id = $1 AND user_id IN ({})",
            placeholders(2, user_ids.len())
        );
        let mut query = sqlx::query(&sql).bind(team_id);
        for id in user_ids {
            query = query.bind(*id);
        }
        query.execute(self.writer()).await?;
        Ok(())
    }

    /// Makes the team's members exactly these users.
    pub async fn replace_team_members(&self, team_id: i64, user_ids: &[i64]) -> Result<(), StoreError> {
        let mut tx = self.writer().begin().await?;
        sqlx::query("DELETE FROM team_members WHERE team_id = $1")
            .bind(team_id)
            .execute(&mut *tx)
            .await?;
        let now = now_ms();
        for user_id in user_ids {
            sqlx::query(
                "INSERT INTO team_members (team_id, user_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (team_id, user_id) DO NOTHING",
            )
            .bind(team_id)
            .bind(*user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The ids of the account's teams the user belongs to.
    pub async fn user_team_ids(&self, account_id: i64, user_id: i64) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.id FROM teams t JOIN team_members tm ON tm.team_id = t.id \
             WHERE t.account_id = $1 AND tm.user_id = $2",
        )
        .bind(account_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?)
    }
}
