//! Use cases of contacts: a page of them (optionally searched), one, create
//! (optionally with its identity in an inbox), update and, for
//! administrators, delete.

use serde_json::Value;

use super::announce::{InTransaction, committed};
use super::conversations::visible_inbox;
use super::webhooks::Subject;
use super::{AppError, AppState, Member};
use crate::blobs;
use crate::store::{ContactChanges, ContactRow, InboxRow, NewContact};

/// Contacts per page, as in Chatwoot.
pub const PER_PAGE: i64 = 15;
/// Highest page number accepted (keeps OFFSET arithmetic far from overflow).
const MAX_PAGE: i64 = 1_000_000;

/// A page of contacts.
#[derive(Debug)]
pub struct ContactPage {
    /// The contacts, newest first.
    pub contacts: Vec<ContactRow>,
    /// How many match in all.
    pub count: i64,
    /// The 1-based page number.
    pub page: i64,
}

/// A page of the account's contacts, those matching `q` when it is not blank.
pub async fn list(
    state: &AppState,
    member: &Member,
    page: Option<i64>,
    q: Option<&str>,
) -> Result<ContactPage, AppError> {
    // Chatwoot (Kaminari) treats a page below 1 as the first.
    let page = page.unwrap_or(1).max(1);
    if page > MAX_PAGE {
        return Err(AppError::Invalid(format!(
            "page must be between 1 and {MAX_PAGE}"
        )));
    }
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    let (contacts, count) = state
        .store
        .list_contacts(member.account_id, q, page, PER_PAGE)
        .await?;
    Ok(ContactPage {
        contacts,
        count,
        page,
    })
}

/// A page of the contacts matching `q`, which must not be blank.
pub async fn search(
    state: &AppState,
    member: &Member,
    page: Option<i64>,
    q: Option<&str>,
) -> Result<ContactPage, AppError> {
    if q.is_none_or(|q| q.trim().is_empty()) {
        return Err(AppError::Refused("Specify search string with parameter q".into()));
    }
    list(state, member, page, q).await
}

/// One contact of the account.
pub async fn show(state: &AppState, member: &Member, id: i64) -> Result<ContactRow, AppError> {
    Ok(state.store.get_contact(member.account_id, id).await?)
}

/// One contact of the account with its identities in inboxes: each
/// `(inbox, source_id)`.
pub async fn show_with_inboxes(
    state: &AppState,
    member: &Member,
    id: i64,
) -> Result<(ContactRow, Vec<(InboxRow, String)>), AppError> {
    let contact = state.store.get_contact(member.account_id, id).await?;
    let mut identities = Vec::new();
    for (inbox_id, source_id) in state.store.contact_inboxes_of(contact.id).await? {
        identities.push((
            state.store.get_inbox(member.account_id, inbox_id).await?,
            source_id,
        ));
    }
    Ok((contact, identities))
}

/// A contact's fields as a client sends them, to create or update one.
#[derive(Debug, Clone, Default)]
pub struct ContactInput {
    /// Name.
    pub name: Option<String>,
    /// Email (blank means none).
    pub email: Option<String>,
    /// Phone number in E.164 (blank means none).
    pub phone_number: Option<String>,
    /// The client's own id for the contact (blank means none).
    pub identifier: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Blocked (updates only).
    pub blocked: Option<bool>,
    /// Chatwoot's additional attributes.
    pub additional_attributes: Option<serde_json::Map<String, Value>>,
    /// Chatwoot's custom attributes.
    pub custom_attributes: Option<serde_json::Map<String, Value>>,
    /// An inbox (one the member may see) to give the contact an identity in
    /// (creation only).
    pub inbox_id: Option<i64>,
    /// That identity; generated when absent.
    pub source_id: Option<String>,
    /// An uploaded picture (Chatwoot's multipart `avatar`).
    pub avatar: Option<Avatar>,
}

/// A contact's uploaded picture.
#[derive(Debug, Clone)]
pub struct Avatar {
    /// Its MIME type, as the client sent it.
    pub content_type: String,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Largest picture accepted (the contact routes take a little more, for
/// the other fields of the form).
pub const MAX_AVATAR_BYTES: usize = 2 << 20;

/// Stores an uploaded picture in the blob store, before the row that names
/// it; answers its key and type. Only raster images are accepted: the
/// picture is served from the API's origin.
async fn save_avatar(state: &AppState, avatar: Option<Avatar>) -> Result<Option<(String, String)>, AppError> {
    let Some(avatar) = avatar else {
        return Ok(None);
    };
    let kind = avatar.content_type.trim().to_ascii_lowercase();
    if !matches!(
        kind.as_str(),
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    ) {
        return Err(AppError::Refused(format!(
            "avatar must be a PNG, JPEG, GIF or WebP image, not {kind:?}"
        )));
    }
    if avatar.data.is_empty() || avatar.data.len() > MAX_AVATAR_BYTES {
        return Err(AppError::Refused(format!(
            "avatar must be between 1 byte and {MAX_AVATAR_BYTES} bytes"
        )));
    }
    let key = state.blobs.save(blobs::AVATARS, &avatar.data).await?;
    Ok(Some((key, kind)))
}

/// A contact's uploaded picture (its type and bytes), for any member of its
/// account (contacts are the account's, as in Chatwoot).
pub async fn avatar(state: &AppState, member: &Member, id: i64) -> Result<(String, Vec<u8>), AppError> {
    let contact = state.store.get_contact(member.account_id, id).await?;
    let (Some(key), Some(kind)) = (contact.avatar_blob, contact.avatar_content_type) else {
        return Err(AppError::NotFound(format!("contact {id} has no uploaded avatar")));
    };
    Ok((kind, state.blobs.load(&key).await?))
}

impl ContactInput {
    fn validate(&self) -> Result<(), AppError> {
        if let Some(email) = self.email.as_deref().filter(|e| !e.is_empty())
            && (!email.contains('@') || email.contains(char::is_whitespace))
        {
            return Err(AppError::Refused(format!("Email {email:?} is invalid")));
        }
        if let Some(phone) = self.phone_number.as_deref().filter(|p| !p.is_empty()) {
            let digits = phone.strip_prefix('+').unwrap_or("");
            if digits.len() < 2 || digits.len() > 15 || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(AppError::Refused(format!(
                    "Phone number {phone:?} should be in e164 format (+ and digits)"
                )));
            }
        }
        Ok(())
    }
}

fn blank_to_none(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// A created contact and, when asked for, its identity in an inbox.
#[derive(Debug)]
pub struct CreatedContact {
    /// The contact.
    pub contact: ContactRow,
    /// The inbox id and the contact's source id there.
    pub contact_inbox: Option<(i64, String)>,
}

/// Creates a contact, with its identity in an inbox when one is named.
pub async fn create(
    state: &AppState,
    member: &Member,
    input: ContactInput,
) -> Result<CreatedContact, AppError> {
    input.validate()?;
    let inbox = match input.inbox_id {
        Some(inbox_id) => {
            visible_inbox(state, member, inbox_id).await?;
            let source_id = input.source_id.clone().unwrap_or_else(crate::accounts::new_token);
            Some((inbox_id, source_id))
        }
        None => None,
    };
    let avatar = save_avatar(state, input.avatar).await?;
    let (avatar_blob, avatar_content_type) = avatar.unzip();
    let contact = NewContact {
        avatar_blob,
        avatar_content_type,
        name: input.name.unwrap_or_default(),
        email: blank_to_none(input.email),
        phone_number: blank_to_none(input.phone_number),
        identifier: blank_to_none(input.identifier),
        avatar_url: blank_to_none(input.avatar_url),
        additional_attributes: Value::Object(input.additional_attributes.unwrap_or_default()).to_string(),
        custom_attributes: Value::Object(input.custom_attributes.unwrap_or_default()).to_string(),
    };
    let mut tx = state.store.begin_write().await?;
    let created = tx.insert_contact(member.account_id, &contact, false).await?;
    if let Some((inbox_id, source_id)) = &inbox {
        tx.insert_contact_inbox(created.id, *inbox_id, source_id).await?;
    }
    let json = super::views::contact(&created);
    let mut pending = InTransaction::default();
    let subject = Subject::Contact {
        contact: json.clone(),
        changed_attributes: Vec::new(),
    };
    pending
        .webhook(state, &mut tx, member.account_id, "contact_created", subject)
        .await?;
    tx.commit().await?;
    committed(state, pending).await;
    super::announce::publish(state, member.account_id, None, "contact.created", json).await;
    Ok(CreatedContact {
        contact: created,
        contact_inbox: inbox,
    })
}

/// Changes the fields given (the inbox ones are ignored); answers the contact.
pub async fn update(
    state: &AppState,
    member: &Member,
    id: i64,
    input: ContactInput,
) -> Result<ContactRow, AppError> {
    input.validate()?;
    let changes = ContactChanges {
        avatar_blob: save_avatar(state, input.avatar).await?,
        name: input.name,
        email: blank_to_none(input.email),
        phone_number: blank_to_none(input.phone_number),
        identifier: blank_to_none(input.identifier),
        avatar_url: input.avatar_url,
        blocked: input.blocked,
        additional_attributes: input.additional_attributes.map(|m| Value::Object(m).to_string()),
        custom_attributes: input.custom_attributes.map(|m| Value::Object(m).to_string()),
    };
    let before = state.store.get_contact(member.account_id, id).await?;
    let mut tx = state.store.begin_write().await?;
    let contact = tx.update_contact(member.account_id, id, &changes).await?;
    let json = super::views::contact(&contact);
    let mut pending = InTransaction::default();
    let subject = Subject::Contact {
        changed_attributes: changed_attributes(&super::views::contact(&before), &json),
        contact: json.clone(),
    };
    pending
        .webhook(state, &mut tx, member.account_id, "contact_updated", subject)
        .await?;
    tx.commit().await?;
    committed(state, pending).await;
    super::announce::publish(state, member.account_id, None, "contact.updated", json).await;
    Ok(contact)
}

/// Deletes a contact and its conversations (administrators).
pub async fn delete(state: &AppState, member: &Member, id: i64) -> Result<(), AppError> {
    member.require_admin()?;
    state.store.delete_contact(member.account_id, id).await?;
    Ok(())
}

/// Chatwoot's `changed_attributes` between two renderings of a contact: the
/// fields a client may change (times are not compared).
fn changed_attributes(before: &Value, after: &Value) -> Vec<Value> {
    const FIELDS: &[&str] = &[
        "name",
        "email",
        "phone_number",
        "identifier",
        "blocked",
        "additional_attributes",
        "custom_attributes",
    ];
    FIELDS
        .iter()
        .filter(|f| before.get(**f) != after.get(**f))
        .map(|f| super::webhooks::change(f, &before[*f], &after[*f]))
        .collect()
}
