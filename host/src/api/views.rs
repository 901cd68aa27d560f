//! JSON shapes of the dashboard API, following Chatwoot's views: field names,
//! enum names and unix-second timestamps. Built from store rows; the store
//! types themselves are not serialisable.

use serde_json::{Value, json};

use super::auth::role;
use crate::store::{AccountRow, ContactRow, UserRow};

/// Unix milliseconds → unix seconds (Chatwoot's JSON time).
pub fn secs(ms: i64) -> i64 {
    ms / 1000
}

fn availability(code: i64) -> &'static str {
    match code {
        1 => "offline",
        2 => "busy",
        _ => "online",
    }
}

fn object(json_text: &str) -> Value {
    serde_json::from_str(json_text).unwrap_or_else(|_| json!({}))
}

/// `GET /api/v1/profile`.
pub fn profile(user: &UserRow, accounts: &[(AccountRow, i64)]) -> Value {
    json!({
        "id": user.id,
        "name": user.name,
        "display_name": user.display_name.clone().unwrap_or_else(|| user.name.clone()),
        "available_name": user.display_name.clone().unwrap_or_else(|| user.name.clone()),
        "email": user.email,
        "type": if user.super_admin { "SuperAdmin" } else { "User" },
        "availability_status": availability(user.availability),
        "role": accounts.first().map(|(_, r)| role::name(*r)),
        "account_id": accounts.first().map(|(a, _)| a.id),
        "accounts": accounts.iter().map(|(a, r)| json!({
            "id": a.id, "name": a.name, "role": role::name(*r), "status": "active", "locale": a.locale,
        })).collect::<Vec<_>>(),
    })
}

/// An account.
pub fn account(a: &AccountRow, features: &[String]) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "locale": a.locale,
        "domain": a.domain,
        "support_email": a.support_email,
        "status": if a.status == 1 { "suspended" } else { "active" },
        "features": features.iter().map(|f| (f.clone(), Value::Bool(true))).collect::<serde_json::Map<_, _>>(),
        "created_at": secs(a.created_at),
    })
}

/// An agent (a user seen through one account).
pub fn agent(u: &UserRow, account_id: i64) -> Value {
    json!({
        "id": u.id,
        "account_id": account_id,
        "name": u.name,
        "available_name": u.display_name.clone().unwrap_or_else(|| u.name.clone()),
        "display_name": u.display_name,
        "email": u.email,
        "role": role::name(u.role.unwrap_or(role::AGENT)),
        "availability_status": availability(u.availability),
        "confirmed": true,
        "thumbnail": "",
    })
}

/// A contact.
pub fn contact(c: &ContactRow) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "email": c.email,
        "phone_number": c.phone_number,
        "identifier": c.identifier,
        "thumbnail": c.avatar_url.clone().unwrap_or_default(),
        "blocked": c.blocked,
        "availability_status": "offline",
        "additional_attributes": object(&c.additional_attributes),
        "custom_attributes": object(&c.custom_attributes),
        "last_activity_at": c.last_activity_at.map(secs),
        "created_at": secs(c.created_at),
        "type": "contact",
    })
}

/// `Channel::Tiktok` for plugin `tiktok`: Chatwoot's polymorphic class name.
pub fn channel_type(plugin: &str) -> String {
    let camel: String = plugin
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("Channel::{camel}")
}

/// An inbox.
pub fn inbox(i: &crate::store::InboxRow) -> Value {
    json!({
        "id": i.id,
        "account_id": i.account_id,
        "channel_id": i.id,
        "name": i.name,
        "channel_type": channel_type(&i.channel),
        "provider": i.channel,
        "avatar_url": i.avatar_url.clone().unwrap_or_default(),
        "greeting_enabled": i.greeting_enabled,
        "greeting_message": i.greeting_message,
        "enable_auto_assignment": i.enable_auto_assignment,
        "lock_to_single_conversation": i.lock_to_single_conversation,
        "reauthorization_required": i.reauthorization_required,
        "allow_messages_after_resolved": true,
        "working_hours_enabled": false,
        "working_hours": [],
        "timezone": "UTC",
        "sender_name_type": "friendly",
        "external_id": i.external_id,
        "created_at": secs(i.created_at),
    })
}

/// A message (Chatwoot's API / push shape; `message_type` is an integer).
pub fn message(m: &crate::store::MessageRow, conversation_display_id: i64) -> Value {
    let mut value = json!({
        "id": m.id,
        "content": m.content,
        "account_id": m.account_id,
        "inbox_id": m.inbox_id,
        "conversation_id": conversation_display_id,
        "message_type": m.message_type,
        "content_type": m.content_type,
        "status": crate::conversations::message_status::name(m.status),
        "content_attributes": object(&m.content_attributes),
        "created_at": secs(m.created_at),
        "private": m.private,
        "source_id": m.source_id,
        "sender_type": m.sender_type,
        "sender_id": m.sender_id,
    });
    if let Some(error) = &m.external_error {
        value["content_attributes"]["external_error"] = json!(error);
    }
    if let Some(echo) = &m.echo_id {
        value["echo_id"] = json!(echo);
    }
    if !m.attachments.is_empty() {
        value["attachments"] = m.attachments.iter().map(attachment).collect();
    }
    value
}

/// Everything a conversation's JSON needs besides its row.
pub struct ConversationParts<'a> {
    /// The contact.
    pub contact: &'a ContactRow,
    /// The assignee, if any.
    pub assignee: Option<&'a UserRow>,
    /// The latest message, if any.
    pub last_message: Option<&'a crate::store::MessageRow>,
    /// Label titles.
    pub labels: Vec<String>,
    /// The inbox's channel plugin id.
    pub channel: &'a str,
    /// Whether an agent may reply now.
    pub can_reply: bool,
}

/// A conversation (`id` is the per-account display id).
pub fn conversation(c: &crate::store::ConversationRow, parts: &ConversationParts<'_>) -> Value {
    json!({
        "meta": {
            "sender": contact(parts.contact),
            "channel": channel_type(parts.channel),
            "assignee": parts.assignee.map(|a| agent(a, c.account_id)),
            "hmac_verified": false,
        },
        "id": c.display_id,
        "account_id": c.account_id,
        "inbox_id": c.inbox_id,
        "messages": parts.last_message.map(|m| vec![message(m, c.display_id)]).unwrap_or_default(),
        "status": crate::conversations::status::name(c.status),
        "priority": null,
        "snoozed_until": c.snoozed_until.map(secs),
        "labels": parts.labels,
        "muted": false,
        "can_reply": parts.can_reply,
        "additional_attributes": object(&c.additional_attributes),
        "custom_attributes": object(&c.custom_attributes),
        "contact_inbox": { "source_id": c.source_id },
        "agent_last_seen_at": c.agent_last_seen_at.map(secs).unwrap_or(0),
        "contact_last_seen_at": 0,
        "assignee_last_seen_at": 0,
        "first_reply_created_at": 0,
        "waiting_since": 0,
        "unread_count": 0,
        "created_at": secs(c.created_at),
        "timestamp": secs(c.last_activity_at),
        "last_activity_at": secs(c.last_activity_at),
    })
}

/// An attachment; `data_url` downloads it through the API.
pub fn attachment(a: &crate::store::AttachmentRow) -> Value {
    let file_type = match a.file_type {
        0 => "image",
        1 => "audio",
        2 => "video",
        12 => "embed",
        _ => "file",
    };
    let extension = a
        .file_name
        .as_deref()
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, ext)| ext.to_owned());
    let data_url = a
        .external_url
        .clone()
        .unwrap_or_else(|| format!("/api/v1/accounts/{}/attachments/{}", a.account_id, a.id));
    json!({
        "id": a.id,
        "message_id": a.message_id,
        "account_id": a.account_id,
        "file_type": file_type,
        "extension": extension,
        "file_name": a.file_name,
        "content_type": a.content_type,
        "data_url": data_url,
        "thumb_url": data_url,
        "file_size": a.file_size,
    })
}
