//! Queries for contacts: the people on the provider side of conversations.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, WriteTx, conflict_as, get_bool};

/// A contact.
#[derive(Debug, Clone)]
pub struct ContactRow {
    /// Id.
    pub id: i64,
    /// Account.
    pub account_id: i64,
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
    /// External identifier.
    pub identifier: Option<String>,
    /// Picture URL.
    pub avatar_url: Option<String>,
    /// The blob key of an uploaded picture.
    pub avatar_blob: Option<String>,
    /// Its MIME type.
    pub avatar_content_type: Option<String>,
    /// Blocked.
    pub blocked: bool,
    /// JSON object.
    pub additional_attributes: String,
    /// JSON object.
    pub custom_attributes: String,
    /// Last activity (unix ms).
    pub last_activity_at: Option<i64>,
    /// Creation (unix ms).
    pub created_at: i64,
}

/// A contact to create.
#[derive(Debug, Default)]
pub struct NewContact {
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
    /// External identifier.
    pub identifier: Option<String>,
    /// Picture URL.
    pub avatar_url: Option<String>,
    /// The blob key of an uploaded picture.
    pub avatar_blob: Option<String>,
    /// Its MIME type.
    pub avatar_content_type: Option<String>,
    /// JSON object.
    pub additional_attributes: String,
    /// JSON object.
    pub custom_attributes: String,
}

/// Fields to change (`None` keeps the value).
#[derive(Debug, Default)]
pub struct ContactChanges {
    /// Name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
    /// External identifier.
    pub identifier: Option<String>,
    /// Picture URL.
    pub avatar_url: Option<String>,
    /// The blob key of an uploaded picture, with its MIME type.
    pub avatar_blob: Option<(String, String)>,
    /// Blocked.
    pub blocked: Option<bool>,
    /// JSON object (replaces).
    pub additional_attributes: Option<String>,
    /// JSON object (replaces).
    pub custom_attributes: Option<String>,
}

pub(super) const COLUMNS: &str = "id, account_id, name, email, phone_number, identifier, avatar_url, \
     avatar_blob, avatar_content_type, blocked, additional_attributes, custom_attributes, last_activity_at, created_at";

pub(super) fn contact_from(row: &AnyRow) -> Result<ContactRow, sqlx::Error> {
    Ok(ContactRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        phone_number: row.try_get("phone_number")?,
        identifier: row.try_get("identifier")?,
        avatar_url: row.try_get("avatar_url")?,
        avatar_blob: row.try_get("avatar_blob")?,
        avatar_content_type: row.try_get("avatar_content_type")?,
        blocked: get_bool(row, "blocked")?,
        additional_attributes: row.try_get("additional_attributes")?,
        custom_attributes: row.try_get("custom_attributes")?,
        last_activity_at: row.try_get("last_activity_at")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The `WHERE` clause of a contact search (`$2` is the pattern).
const SEARCH: &str = "(LOWER(name) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(email, '')) LIKE $2 ESCAPE '\\' \
     OR LOWER(COALESCE(phone_number, '')) LIKE $2 ESCAPE '\\' \
     OR LOWER(COALESCE(identifier, '')) LIKE $2 ESCAPE '\\')";

/// `%q%`, lower-cased, with LIKE's wildcards in `q` escaped so they match
/// themselves.
pub(super) fn like_pattern(q: &str) -> String {
    let mut pattern = String::from("%");
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store {
    /// A page of an account's contacts (newest first), optionally matching
    /// `q`, with the total count.
    pub async fn list_contacts(
        &self,
        account_id: i64,
        q: Option<&str>,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<ContactRow>, i64), StoreError> {
        let pattern = like_pattern(q.unwrap_or_default());
        let count: i64 = match q {
            Some(_) => {
                sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM contacts WHERE account_id = $1 AND {SEARCH}"
                ))
                .bind(account_id)
                .bind(&pattern)
                .fetch_one(&self.pool)
                .await?
            }
            None => {
                sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE account_id = $1")
                    .bind(account_id)
                    .fetch_one(&self.pool)
                    .await?
            }
        };
        let sql = if q.is_some() {
            format!(
                "SELECT {COLUMNS} FROM contacts WHERE account_id = $1 AND {SEARCH} ORDER BY id DESC LIMIT $3 OFFSET $4"
            )
        } else {
            format!(
                "SELECT {COLUMNS} FROM contacts WHERE account_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
            )
        };
        let mut query = sqlx::query(&sql).bind(account_id);
        if q.is_some() {
            query = query.bind(&pattern);
        }
        let rows = query
            .bind(per_page)
            .bind((page - 1).max(0) * per_page)
            .fetch_all(&self.pool)
            .await?;
        let contacts = rows.iter().map(contact_from).collect::<Result<_, _>>()?;
        Ok((contacts, count))
    }

    /// One contact of an account.
    pub async fn get_contact(&self, account_id: i64, id: i64) -> Result<ContactRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM contacts WHERE account_id = $1 AND id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("contact {id}")))?;
        Ok(contact_from(&row)?)
    }

    /// Creates a contact, and its identity in an inbox when `inbox` names one
    /// (`(inbox_id, source_id)`), in one transaction.
    pub async fn insert_contact(
        &self,
        account_id: i64,
        contact: &NewContact,
        inbox: Option<(i64, &str)>,
    ) -> Result<ContactRow, StoreError> {
        let mut tx = self.begin_write().await?;
        let created = tx.insert_contact(account_id, contact, false).await?;
        if let Some((inbox_id, source_id)) = inbox {
            tx.insert_contact_inbox(created.id, inbox_id, source_id).await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    /// Deletes a contact with its conversations and messages.
    pub async fn delete_contact(&self, account_id: i64, id: i64) -> Result<(), StoreError> {
        let deleted = sqlx::query("DELETE FROM contacts WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .execute(self.writer())
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("contact {id}")));
        }
        Ok(())
    }
}

impl WriteTx {
    /// Changes a contact.
    pub async fn update_contact(
        &mut self,
        account_id: i64,
        id: i64,
        changes: &ContactChanges,
    ) -> Result<ContactRow, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE contacts SET name = COALESCE($1, name), email = COALESCE($2, email), \
             phone_number = COALESCE($3, phone_number), identifier = COALESCE($4, identifier), \
             avatar_url = COALESCE($5, avatar_url), blocked = COALESCE($6, blocked), \
             additional_attributes = COALESCE($7, additional_attributes), \
             custom_attributes = COALESCE($8, custom_attributes), updated_at = $9, \
             avatar_blob = COALESCE($12, avatar_blob), avatar_content_type = COALESCE($13, avatar_content_type) \
             WHERE account_id = $10 AND id = $11 RETURNING {COLUMNS}"
        ))
        .bind(changes.name.as_deref())
        .bind(changes.email.as_deref())
        .bind(changes.phone_number.as_deref())
        .bind(changes.identifier.as_deref())
        .bind(changes.avatar_url.as_deref())
        .bind(changes.blocked)
        .bind(changes.additional_attributes.as_deref())
        .bind(changes.custom_attributes.as_deref())
        .bind(self.now())
        .bind(account_id)
        .bind(id)
        .bind(changes.avatar_blob.as_ref().map(|(key, _)| key.as_str()))
        .bind(changes.avatar_blob.as_ref().map(|(_, kind)| kind.as_str()))
        .fetch_optional(&mut **self.inner())
        .await
        .map_err(conflict_as("a contact with this email or identifier"))?
        .ok_or_else(|| StoreError::NotFound(format!("contact {id}")))?;
        Ok(contact_from(&row)?)
    }
}
