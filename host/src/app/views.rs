//! JSON shapes of the dashboard API, following Chatwoot's views: field names,
//! enum names and unix-second timestamps. Each shape is a typed struct that
//! both serialises the answer and describes it in the OpenAPI document
//! (`api::openapi`), so the two cannot drift apart. Built from store rows;
//! the store types themselves are not serialisable.

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::accounts::role;
use crate::chatwoot::ChatwootCode;
use crate::store::{
    AccountRow, AttachmentRow, ContactRow, ConversationRow, InboxRow, MessageRow, TeamRow, UserRow,
};

/// Unix milliseconds → unix seconds (Chatwoot's JSON time).
pub fn secs(ms: i64) -> i64 {
    ms / 1000
}

/// Chatwoot's name of an availability code.
pub fn availability(code: i64) -> &'static str {
    match code {
        1 => "offline",
        2 => "busy",
        _ => "online",
    }
}

fn object(json_text: &str) -> Value {
    serde_json::from_str(json_text).unwrap_or_else(|_| json!({}))
}

fn to_value<T: Serialize>(shape: T) -> Value {
    serde_json::to_value(shape).expect("API shapes serialise")
}

/// One account the user belongs to.
#[derive(Serialize, ToSchema)]
pub struct ProfileAccount {
    id: i64,
    name: String,
    /// `agent` or `administrator`.
    role: &'static str,
    status: &'static str,
    locale: String,
}

/// `GET /api/v1/profile`.
#[derive(Serialize, ToSchema)]
pub struct Profile {
    id: i64,
    name: String,
    display_name: String,
    available_name: String,
    email: String,
    /// `User` or `SuperAdmin`.
    #[serde(rename = "type")]
    kind: &'static str,
    availability_status: &'static str,
    role: Option<&'static str>,
    account_id: Option<i64>,
    accounts: Vec<ProfileAccount>,
    /// The API access token this request was made with (tokens are stored
    /// only as digests, so no other can be shown).
    access_token: Option<String>,
    /// What Chatwoot's clients subscribe to live updates with.
    pubsub_token: Option<String>,
}

/// The profile of the token's user.
pub fn profile(user: &UserRow, accounts: &[(AccountRow, i64)]) -> Value {
    profile_with_token(user, accounts, None)
}

/// The profile of the token's user, showing the access token the request
/// carried.
pub fn profile_with_token(
    user: &UserRow,
    accounts: &[(AccountRow, i64)],
    access_token: Option<&str>,
) -> Value {
    let display = user.display_name.clone().unwrap_or_else(|| user.name.clone());
    to_value(Profile {
        access_token: access_token.map(str::to_owned),
        pubsub_token: user.pubsub_token.clone(),
        id: user.id,
        name: user.name.clone(),
        display_name: display.clone(),
        available_name: display,
        email: user.email.clone(),
        kind: if user.super_admin { "SuperAdmin" } else { "User" },
        availability_status: availability(user.availability),
        role: accounts.first().map(|(_, r)| role::name(*r)),
        account_id: accounts.first().map(|(a, _)| a.id),
        accounts: accounts
            .iter()
            .map(|(a, r)| ProfileAccount {
                id: a.id,
                name: a.name.clone(),
                role: role::name(*r),
                status: "active",
                locale: a.locale.clone(),
            })
            .collect(),
    })
}

/// An account.
#[derive(Serialize, ToSchema)]
pub struct Account {
    id: i64,
    name: String,
    locale: String,
    domain: Option<String>,
    support_email: Option<String>,
    /// `active` or `suspended`.
    status: &'static str,
    /// Feature flags that are on, each `true`.
    #[schema(value_type = Object)]
    features: serde_json::Map<String, Value>,
    created_at: i64,
}

/// An account with its feature flags.
pub fn account(a: &AccountRow, features: &[String]) -> Value {
    to_value(Account {
        id: a.id,
        name: a.name.clone(),
        locale: a.locale.clone(),
        domain: a.domain.clone(),
        support_email: a.support_email.clone(),
        status: if a.status == 1 { "suspended" } else { "active" },
        features: features.iter().map(|f| (f.clone(), Value::Bool(true))).collect(),
        created_at: secs(a.created_at),
    })
}

/// An agent: a user seen through one account.
#[derive(Serialize, ToSchema)]
pub struct Agent {
    id: i64,
    account_id: i64,
    name: String,
    available_name: String,
    display_name: Option<String>,
    email: String,
    /// `agent` or `administrator`.
    role: &'static str,
    availability_status: &'static str,
    confirmed: bool,
    thumbnail: &'static str,
}

/// An agent of an account.
pub fn agent(u: &UserRow, account_id: i64) -> Value {
    to_value(agent_shape(u, account_id))
}

fn agent_shape(u: &UserRow, account_id: i64) -> Agent {
    Agent {
        id: u.id,
        account_id,
        name: u.name.clone(),
        available_name: u.display_name.clone().unwrap_or_else(|| u.name.clone()),
        display_name: u.display_name.clone(),
        email: u.email.clone(),
        role: role::name(u.role.unwrap_or(role::AGENT)),
        availability_status: availability(u.availability),
        confirmed: true,
        thumbnail: "",
    }
}

/// A team of agents.
#[derive(Serialize, ToSchema)]
pub struct Team {
    id: i64,
    account_id: i64,
    name: String,
    description: Option<String>,
    allow_auto_assign: bool,
    /// Whether the caller is a member of the team.
    is_member: bool,
}

/// A team; `is_member` tells whether the caller belongs to it.
pub fn team(t: &TeamRow, is_member: bool) -> Value {
    to_value(Team {
        id: t.id,
        account_id: t.account_id,
        name: t.name.clone(),
        description: t.description.clone(),
        allow_auto_assign: t.allow_auto_assign,
        is_member,
    })
}

/// A conversation's team, as Chatwoot nests it in `meta.team`.
#[derive(Serialize, ToSchema)]
pub struct TeamRef {
    id: i64,
    name: String,
}

/// A contact.
#[derive(Serialize, ToSchema)]
pub struct Contact {
    id: i64,
    name: String,
    email: Option<String>,
    phone_number: Option<String>,
    identifier: Option<String>,
    thumbnail: String,
    blocked: bool,
    availability_status: &'static str,
    #[schema(value_type = Object)]
    additional_attributes: Value,
    #[schema(value_type = Object)]
    custom_attributes: Value,
    last_activity_at: Option<i64>,
    created_at: i64,
    /// Always `contact`.
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A contact.
pub fn contact(c: &ContactRow) -> Value {
    to_value(contact_shape(c))
}

/// A contact's picture: the uploaded one, served by the API to the
/// account's members, else the URL it was given.
fn thumbnail(c: &ContactRow) -> String {
    match &c.avatar_blob {
        Some(_) => format!("/api/v1/accounts/{}/contacts/{}/avatar", c.account_id, c.id),
        None => c.avatar_url.clone().unwrap_or_default(),
    }
}

fn contact_shape(c: &ContactRow) -> Contact {
    Contact {
        id: c.id,
        name: c.name.clone(),
        email: c.email.clone(),
        phone_number: c.phone_number.clone(),
        identifier: c.identifier.clone(),
        thumbnail: thumbnail(c),
        blocked: c.blocked,
        availability_status: "offline",
        additional_attributes: object(&c.additional_attributes),
        custom_attributes: object(&c.custom_attributes),
        last_activity_at: c.last_activity_at.map(secs),
        created_at: secs(c.created_at),
        kind: "contact",
    }
}

/// A contact's identity in an inbox.
#[derive(Serialize, ToSchema)]
pub struct ContactInbox {
    source_id: String,
    inbox: Inbox,
}

/// A contact with its identities (Chatwoot's contact show).
#[derive(Serialize, ToSchema)]
pub struct ContactWithInboxes {
    #[serde(flatten)]
    contact: Contact,
    contact_inboxes: Vec<ContactInbox>,
}

/// A contact with its identities: `(inbox, source_id)`.
pub fn contact_with_inboxes(c: &ContactRow, identities: &[(InboxRow, String)]) -> Value {
    to_value(ContactWithInboxes {
        contact: contact_shape(c),
        contact_inboxes: identities
            .iter()
            .map(|(inbox, source_id)| ContactInbox {
                source_id: source_id.clone(),
                inbox: inbox_shape(inbox),
            })
            .collect(),
    })
}

/// `Channel::Tiktok` for plugin `tiktok`: Chatwoot's polymorphic class name
/// (`Channel::Api` for the API channel).
pub fn channel_type(plugin: &str) -> String {
    if plugin == crate::conversations::API_CHANNEL {
        return "Channel::Api".into();
    }
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

/// An inbox: one connected channel account.
#[derive(Serialize, ToSchema)]
pub struct Inbox {
    id: i64,
    account_id: i64,
    channel_id: i64,
    name: String,
    /// `Channel::<Plugin>`, e.g. `Channel::Tiktok`.
    channel_type: String,
    /// The channel plugin's id.
    provider: String,
    avatar_url: String,
    greeting_enabled: bool,
    greeting_message: Option<String>,
    enable_auto_assignment: bool,
    lock_to_single_conversation: bool,
    /// The provider refused the credentials; someone must reconnect.
    reauthorization_required: bool,
    allow_messages_after_resolved: bool,
    working_hours_enabled: bool,
    #[schema(value_type = Vec<Object>)]
    working_hours: Vec<Value>,
    timezone: &'static str,
    sender_name_type: &'static str,
    /// The provider's id of the connected account.
    external_id: Option<String>,
    /// An API inbox's: where its events are POSTed.
    webhook_url: Option<String>,
    created_at: i64,
}

/// An inbox.
pub fn inbox(i: &InboxRow) -> Value {
    to_value(inbox_shape(i))
}

fn inbox_shape(i: &InboxRow) -> Inbox {
    Inbox {
        id: i.id,
        account_id: i.account_id,
        channel_id: i.id,
        name: i.name.clone(),
        channel_type: channel_type(&i.channel),
        provider: i.channel.clone(),
        avatar_url: i.avatar_url.clone().unwrap_or_default(),
        greeting_enabled: i.greeting_enabled,
        greeting_message: i.greeting_message.clone(),
        enable_auto_assignment: i.enable_auto_assignment,
        lock_to_single_conversation: i.lock_to_single_conversation,
        reauthorization_required: i.reauthorization_required,
        allow_messages_after_resolved: true,
        working_hours_enabled: false,
        working_hours: Vec::new(),
        timezone: "UTC",
        sender_name_type: "friendly",
        external_id: i.external_id.clone(),
        webhook_url: i.webhook_url.clone(),
        created_at: secs(i.created_at),
    }
}

/// An attachment of a message.
#[derive(Serialize, ToSchema)]
pub struct Attachment {
    id: i64,
    message_id: i64,
    account_id: i64,
    /// `image`, `audio`, `video`, `file` or `embed`.
    file_type: &'static str,
    extension: Option<String>,
    file_name: Option<String>,
    content_type: Option<String>,
    /// Where to fetch it (through this API unless the provider hosts it).
    data_url: String,
    thumb_url: String,
    file_size: Option<i64>,
}

fn attachment(a: &AttachmentRow) -> Attachment {
    let file_type = match a.file_type {
        0 => "image",
        1 => "audio",
        2 => "video",
        12 => "embed",
        _ => "file",
    };
    let data_url = a
        .external_url
        .clone()
        .unwrap_or_else(|| format!("/api/v1/accounts/{}/attachments/{}", a.account_id, a.id));
    Attachment {
        id: a.id,
        message_id: a.message_id,
        account_id: a.account_id,
        file_type,
        extension: a
            .file_name
            .as_deref()
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, ext)| ext.to_owned()),
        file_name: a.file_name.clone(),
        content_type: a.content_type.clone(),
        thumb_url: data_url.clone(),
        data_url,
        file_size: a.file_size,
    }
}

/// Who wrote a message, as Chatwoot's push data shows them: an agent
/// (`type: "user"`) or a contact (`type: "contact"`).
#[derive(Serialize, ToSchema, Clone)]
pub struct MessageSender {
    id: i64,
    name: String,
    /// `user` or `contact`.
    #[serde(rename = "type")]
    kind: &'static str,
    thumbnail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    available_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avatar_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    availability_status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identifier: Option<String>,
}

impl MessageSender {
    /// An agent.
    pub fn user(u: &UserRow) -> Self {
        Self {
            id: u.id,
            name: u.name.clone(),
            kind: "user",
            thumbnail: String::new(),
            available_name: Some(u.display_name.clone().unwrap_or_else(|| u.name.clone())),
            avatar_url: Some(String::new()),
            availability_status: Some(availability(u.availability)),
            email: None,
            phone_number: None,
            identifier: None,
        }
    }

    /// A contact.
    pub fn contact(c: &ContactRow) -> Self {
        Self {
            id: c.id,
            name: c.name.clone(),
            kind: "contact",
            thumbnail: thumbnail(c),
            available_name: None,
            avatar_url: None,
            availability_status: None,
            email: c.email.clone(),
            phone_number: c.phone_number.clone(),
            identifier: c.identifier.clone(),
        }
    }

    /// The sender of `m` among the conversation's contact and the account's
    /// agents, when it is one of them.
    pub fn of(m: &MessageRow, contact: Option<&ContactRow>, agents: &[&UserRow]) -> Option<Self> {
        use crate::chatwoot::SenderType;
        match (m.sender_type, m.sender_id) {
            (Some(SenderType::User), Some(id)) => agents.iter().find(|a| a.id == id).map(|a| Self::user(a)),
            (Some(SenderType::Contact), Some(id)) => contact.filter(|c| c.id == id).map(Self::contact),
            _ => None,
        }
    }
}

/// A message (`message_type` is an integer, as in Chatwoot's API).
#[derive(Serialize, ToSchema)]
pub struct Message {
    id: i64,
    content: Option<String>,
    account_id: i64,
    inbox_id: i64,
    /// The conversation's display id.
    conversation_id: i64,
    /// 0 incoming, 1 outgoing, 2 activity, 3 template.
    message_type: i64,
    content_type: String,
    /// `sent`, `delivered`, `read` or `failed`.
    status: &'static str,
    /// Includes `external_error` when the provider refused the message.
    #[schema(value_type = Object)]
    content_attributes: Value,
    created_at: i64,
    private: bool,
    /// The provider's message id.
    source_id: Option<String>,
    sender_type: Option<String>,
    sender_id: Option<i64>,
    /// Who wrote it, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    sender: Option<MessageSender>,
    #[serde(skip_serializing_if = "Option::is_none")]
    echo_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment>,
}

fn message_shape(m: &MessageRow, conversation_display_id: i64, sender: Option<MessageSender>) -> Message {
    let mut content_attributes = object(&m.content_attributes);
    if let Some(error) = &m.external_error {
        content_attributes["external_error"] = json!(error);
    }
    Message {
        id: m.id,
        content: m.content.clone(),
        account_id: m.account_id,
        inbox_id: m.inbox_id,
        conversation_id: conversation_display_id,
        message_type: m.message_type.code(),
        content_type: m.content_type.clone(),
        status: m.status.name(),
        content_attributes,
        created_at: secs(m.created_at),
        private: m.private,
        source_id: m.source_id.clone(),
        sender_type: m.sender_type.map(|s| s.name().to_owned()),
        sender_id: m.sender_id,
        sender,
        echo_id: m.echo_id.clone(),
        attachments: m.attachments.iter().map(attachment).collect(),
    }
}

/// A message.
pub fn message(m: &MessageRow, conversation_display_id: i64) -> Value {
    to_value(message_shape(m, conversation_display_id, None))
}

/// A message with its sender.
pub fn message_from(m: &MessageRow, conversation_display_id: i64, sender: Option<MessageSender>) -> Value {
    to_value(message_shape(m, conversation_display_id, sender))
}

/// Everything a conversation's JSON needs besides its row.
pub struct ConversationParts<'a> {
    /// The contact.
    pub contact: &'a ContactRow,
    /// The assignee, if any.
    pub assignee: Option<&'a UserRow>,
    /// The latest message, if any.
    pub last_message: Option<&'a MessageRow>,
    /// The agent who wrote the latest message, if one did.
    pub sender_agent: Option<&'a UserRow>,
    /// Label titles.
    pub labels: Vec<String>,
    /// The inbox's channel plugin id.
    pub channel: &'a str,
    /// Whether an agent may reply now.
    pub can_reply: bool,
}

/// Who and where a conversation is.
#[derive(Serialize, ToSchema)]
pub struct ConversationMeta {
    sender: Contact,
    channel: String,
    assignee: Option<Agent>,
    team: Option<TeamRef>,
    hmac_verified: bool,
}

/// The contact's identity in the inbox.
#[derive(Serialize, ToSchema)]
pub struct ContactInboxRef {
    source_id: Option<String>,
}

/// A conversation (`id` is the per-account display id).
#[derive(Serialize, ToSchema)]
pub struct Conversation {
    meta: ConversationMeta,
    id: i64,
    account_id: i64,
    inbox_id: i64,
    team_id: Option<i64>,
    /// The latest message, if any.
    messages: Vec<Message>,
    /// `open`, `resolved`, `pending` or `snoozed`.
    status: &'static str,
    priority: Option<String>,
    snoozed_until: Option<i64>,
    labels: Vec<String>,
    muted: bool,
    /// Whether the channel's reply window is open now.
    can_reply: bool,
    #[schema(value_type = Object)]
    additional_attributes: Value,
    #[schema(value_type = Object)]
    custom_attributes: Value,
    contact_inbox: ContactInboxRef,
    agent_last_seen_at: i64,
    contact_last_seen_at: i64,
    assignee_last_seen_at: i64,
    first_reply_created_at: i64,
    waiting_since: i64,
    unread_count: i64,
    created_at: i64,
    timestamp: i64,
    last_activity_at: i64,
}

/// A conversation.
pub fn conversation(c: &ConversationRow, parts: &ConversationParts<'_>) -> Value {
    to_value(Conversation {
        meta: ConversationMeta {
            sender: contact_shape(parts.contact),
            channel: channel_type(parts.channel),
            assignee: parts.assignee.map(|a| agent_shape(a, c.account_id)),
            team: c.team.as_ref().map(|(id, name)| TeamRef {
                id: *id,
                name: name.clone(),
            }),
            hmac_verified: false,
        },
        id: c.display_id,
        account_id: c.account_id,
        inbox_id: c.inbox_id,
        team_id: c.team.as_ref().map(|(id, _)| *id),
        messages: parts
            .last_message
            .map(|m| {
                let agents: Vec<&UserRow> = parts.assignee.into_iter().chain(parts.sender_agent).collect();
                let sender = MessageSender::of(m, Some(parts.contact), &agents);
                vec![message_shape(m, c.display_id, sender)]
            })
            .unwrap_or_default(),
        status: c.status.name(),
        priority: None,
        snoozed_until: c.snoozed_until.map(secs),
        labels: parts.labels.clone(),
        muted: false,
        can_reply: parts.can_reply,
        additional_attributes: object(&c.additional_attributes),
        custom_attributes: object(&c.custom_attributes),
        contact_inbox: ContactInboxRef {
            source_id: c.source_id.clone(),
        },
        agent_last_seen_at: c.agent_last_seen_at.map(secs).unwrap_or(0),
        contact_last_seen_at: 0,
        assignee_last_seen_at: 0,
        first_reply_created_at: 0,
        waiting_since: 0,
        unread_count: 0,
        created_at: secs(c.created_at),
        timestamp: secs(c.last_activity_at),
        last_activity_at: secs(c.last_activity_at),
    })
}
