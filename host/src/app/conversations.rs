//! Use cases of conversations: who may see which, listing with counts,
//! opening one, changing its status, assigning it, labelling it, and the
//! rendering that the API, live updates and the dashboard share.
//!
//! Agents see only the conversations of inboxes they belong to;
//! administrators see the whole account. Every read here goes through
//! [`visible_inbox`] or [`visible_conversation`], so that rule lives once.

use std::collections::HashMap;

use serde_json::Value;

use super::announce::{InTransaction, committed};
use super::views::{self, ConversationParts};
use super::webhooks::{self, Subject};
use super::{AppError, AppState, Member};
use crate::conversations::{ChatwootCode, ConversationStatus};
use crate::store::{
    ConversationCounts, ConversationFilter, ConversationInsert, ConversationRow, InboxRow, TeamRow, UserRow,
    now_ms,
};

/// Conversations per page, as in Chatwoot.
pub const PER_PAGE: i64 = 25;
/// Highest page number accepted (keeps OFFSET arithmetic far from overflow).
const MAX_PAGE: i64 = 1_000_000;

fn not_found() -> AppError {
    AppError::NotFound("Resource could not be found".into())
}

/// An inbox the member may see: any of the account's for administrators,
/// those they belong to for agents.
pub async fn visible_inbox(state: &AppState, member: &Member, id: i64) -> Result<InboxRow, AppError> {
    let inbox = state.store.get_inbox(member.account_id, id).await?;
    if !member.is_admin() && !state.store.is_inbox_member(id, member.user.user_id).await? {
        return Err(not_found());
    }
    Ok(inbox)
}

/// A conversation the member may see.
pub async fn visible_conversation(
    state: &AppState,
    member: &Member,
    display_id: i64,
) -> Result<ConversationRow, AppError> {
    let conversation = state
        .store
        .get_conversation(member.account_id, display_id)
        .await?;
    visible_inbox(state, member, conversation.inbox_id).await?;
    Ok(conversation)
}

/// Renders conversations with their contacts, assignees, last messages and labels.
pub async fn render(state: &AppState, conversations: &[ConversationRow]) -> Result<Vec<Value>, AppError> {
    let Some(first) = conversations.first() else {
        return Ok(Vec::new());
    };
    let account_id = first.account_id;
    let ids: Vec<i64> = conversations.iter().map(|c| c.id).collect();
    let mut contact_ids: Vec<i64> = conversations.iter().map(|c| c.contact_id).collect();
    contact_ids.sort_unstable();
    contact_ids.dedup();
    let contacts: HashMap<i64, _> = state
        .store
        .contacts_by_id(account_id, &contact_ids)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let agents: HashMap<i64, _> = state
        .store
        .list_agents(account_id)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let last: HashMap<i64, _> = state
        .store
        .last_messages(&ids)
        .await?
        .into_iter()
        .map(|m| (m.conversation_id, m))
        .collect();
    let mut labels: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, label) in state.store.labels_of(&ids).await? {
        labels.entry(id).or_default().push(label);
    }
    let mut inboxes = HashMap::new();
    let now = now_ms();
    let mut out = Vec::with_capacity(conversations.len());
    for c in conversations {
        if let std::collections::hash_map::Entry::Vacant(slot) = inboxes.entry(c.inbox_id) {
            slot.insert(state.store.get_inbox(account_id, c.inbox_id).await?);
        }
        let inbox = &inboxes[&c.inbox_id];
        let can_reply = state.plugins.get(&inbox.channel).is_some_and(|p| {
            crate::conversations::can_reply(p.manifest.reply_window, c.contact_last_inbound_at, now)
        });
        let contact = contacts
            .get(&c.contact_id)
            .ok_or_else(|| AppError::Internal("contact vanished".into()))?;
        let parts = ConversationParts {
            contact,
            assignee: c.assignee_id.and_then(|id| agents.get(&id)),
            last_message: last.get(&c.id),
            sender_agent: last
                .get(&c.id)
                .filter(|m| m.sender_type == Some(crate::chatwoot::SenderType::User))
                .and_then(|m| m.sender_id)
                .and_then(|id| agents.get(&id)),
            labels: labels.remove(&c.id).unwrap_or_default(),
            channel: &inbox.channel,
            can_reply,
        };
        out.push(views::conversation(c, &parts));
    }
    Ok(out)
}

/// Renders one conversation as it is now.
pub async fn render_one(state: &AppState, conversation: ConversationRow) -> Result<Value, AppError> {
    let mut rendered = render(state, std::slice::from_ref(&conversation)).await?;
    rendered
        .pop()
        .ok_or_else(|| AppError::Internal("a rendered conversation vanished".into()))
}

/// Re-reads a conversation, renders it, and announces it to live clients as
/// `name` (`conversation.created`, `conversation.updated`, …); answers what
/// was announced.
pub async fn announce(
    state: &AppState,
    conversation: &ConversationRow,
    name: &str,
) -> Result<Value, AppError> {
    announce_as(state, conversation, &[name]).await
}

/// Re-reads a conversation, renders it once, and announces it to live
/// clients under each of `names` (one change is several events in Chatwoot:
/// a status change is `conversation.status_changed` and
/// `conversation.updated`); answers what was announced.
async fn announce_as(
    state: &AppState,
    conversation: &ConversationRow,
    names: &[&str],
) -> Result<Value, AppError> {
    let current = state
        .store
        .get_conversation(conversation.account_id, conversation.display_id)
        .await?;
    let json = render_one(state, current).await?;
    for name in names {
        super::announce::publish(
            state,
            conversation.account_id,
            Some(conversation.inbox_id),
            name,
            json.clone(),
        )
        .await;
    }
    Ok(json)
}

/// What a conversation list asks for (Chatwoot's query parameters).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// A status name, or `all`; open when absent.
    pub status: Option<String>,
    /// `me`, `unassigned`, `assigned` or `all` (the default).
    pub assignee_type: Option<String>,
    /// Only this inbox.
    pub inbox_id: Option<i64>,
    /// Only this team.
    pub team_id: Option<i64>,
    /// Only conversations with any of these labels.
    pub labels: Vec<String>,
    /// Only conversations with a message containing this text.
    pub q: Option<String>,
    /// 1-based page (0 is the first page too, as in Chatwoot).
    pub page: Option<i64>,
}

fn filter_for(member: &Member, query: &ListQuery, per_page: i64) -> Result<ConversationFilter, AppError> {
    let status = match query.status.as_deref().unwrap_or("open") {
        "all" => None,
        name => Some(
            ConversationStatus::parse(name)
                .ok_or_else(|| AppError::Invalid(format!("unknown status {name:?}")))?,
        ),
    };
    let assignee_type = query.assignee_type.clone().unwrap_or_else(|| "all".into());
    if !["me", "unassigned", "assigned", "all"].contains(&assignee_type.as_str()) {
        return Err(AppError::Invalid(format!(
            "unknown assignee_type {assignee_type:?}"
        )));
    }
    let page = query.page.unwrap_or(1).max(1);
    if page > MAX_PAGE {
        return Err(AppError::Invalid(format!(
            "page must be between 1 and {MAX_PAGE}"
        )));
    }
    Ok(ConversationFilter {
        status,
        inbox_id: query.inbox_id,
        member_id: member.only_member(),
        assignee_type,
        user_id: member.user.user_id,
        page,
        per_page,
        team_id: query.team_id,
        labels: query.labels.iter().map(|l| l.trim().to_lowercase()).collect(),
        q: query.q.clone(),
    })
}

/// A page of rendered conversations with the Mine / Unassigned / All counts.
pub async fn list(
    state: &AppState,
    member: &Member,
    query: &ListQuery,
) -> Result<(Vec<Value>, ConversationCounts), AppError> {
    let filter = filter_for(member, query, PER_PAGE)?;
    let (conversations, counts) = state.store.list_conversations(member.account_id, &filter).await?;
    Ok((render(state, &conversations).await?, counts))
}

/// The counts alone.
pub async fn counts(
    state: &AppState,
    member: &Member,
    query: &ListQuery,
) -> Result<ConversationCounts, AppError> {
    let filter = filter_for(member, query, 0)?;
    let (_, counts) = state.store.list_conversations(member.account_id, &filter).await?;
    Ok(counts)
}

/// A contact's conversations the member may see, rendered.
pub async fn of_contact(state: &AppState, member: &Member, contact_id: i64) -> Result<Vec<Value>, AppError> {
    state.store.get_contact(member.account_id, contact_id).await?;
    let conversations = state
        .store
        .contact_conversations(member.account_id, contact_id, member.only_member())
        .await?;
    render(state, &conversations).await
}

/// A conversation to open.
#[derive(Debug, Clone, Default)]
pub struct NewConversation {
    /// Its inbox (one the member may see).
    pub inbox_id: i64,
    /// Its contact; without it, the contact whose identity in the inbox is
    /// `source_id` (Chatwoot's flow for API channels).
    pub contact_id: Option<i64>,
    /// The contact's identity in the inbox.
    pub source_id: Option<String>,
    /// An agent of the account.
    pub assignee_id: Option<i64>,
    /// A team of the account.
    pub team_id: Option<i64>,
    /// A status name; open when absent.
    pub status: Option<String>,
    /// The text of a first message, sent by the member as they would reply.
    pub message: Option<String>,
}

/// Opens a conversation with a contact, found by `contact_id` or by its
/// `source_id` in the inbox; with a first message when one is given, sent
/// as the member's reply. The contact's identity in the inbox, the
/// conversation, its team and the first message are written in one
/// transaction, so a refused first message leaves nothing behind. Answers
/// the conversation rendered.
pub async fn open(state: &AppState, member: &Member, new: NewConversation) -> Result<Value, AppError> {
    let inbox = visible_inbox(state, member, new.inbox_id).await?;
    let status = match new.status.as_deref() {
        None => ConversationStatus::Open,
        Some(name) => ConversationStatus::parse(name)
            .ok_or_else(|| AppError::Refused(format!("unknown status {name:?}")))?,
    };
    if let Some(assignee) = new.assignee_id {
        state.store.get_agent(member.account_id, assignee).await?;
    }
    if let Some(team) = new.team_id {
        state.store.get_team(member.account_id, team).await?;
    }
    let source = new.source_id.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let known = match source {
        Some(source) => state.store.contact_inbox_by_source(inbox.id, source).await?,
        None => None,
    };
    // The contact, and its identity in the inbox when it has one to use.
    let (contact_id, identity) = match (new.contact_id, known) {
        (Some(contact_id), Some((_, owner))) if owner != contact_id => {
            return Err(AppError::Refused("source_id should be unique".into()));
        }
        (_, Some((identity, owner))) => (owner, Some(identity)),
        (Some(contact_id), None) => {
            state.store.get_contact(member.account_id, contact_id).await?;
            let identity = match (source, state.store.contact_inbox(contact_id, inbox.id).await?) {
                (None, Some((id, _))) => Some(id),
                _ => None,
            };
            (contact_id, identity)
        }
        (None, None) if source.is_some() => return Err(not_found()),
        (None, None) => {
            return Err(AppError::Refused(
                "a conversation needs a contact_id or the source_id of a contact in the inbox".into(),
            ));
        }
    };
    let mut tx = state.store.begin_write().await?;
    let mut pending = InTransaction::default();
    let contact_inbox_id = match identity {
        Some(id) => id,
        None => {
            let source = source.map_or_else(crate::accounts::new_token, str::to_owned);
            tx.insert_contact_inbox(contact_id, inbox.id, &source).await?
        }
    };
    let now = tx.now();
    let inserted = tx
        .insert_conversation(&ConversationInsert {
            account_id: member.account_id,
            inbox_id: inbox.id,
            contact_id,
            contact_inbox_id: Some(contact_inbox_id),
            status,
            assignee_id: new.assignee_id,
            additional_attributes: String::new(),
            now,
        })
        .await?;
    if new.team_id.is_some() {
        tx.set_conversation_team(inserted.id, new.team_id).await?;
    }
    let conversation = tx.conversation(inserted.id).await?;
    pending
        .webhook(
            state,
            &mut tx,
            member.account_id,
            "conversation_created",
            Subject::conversation(&conversation, Vec::new()),
        )
        .await?;
    // The first message is checked against the channel's rules as a reply
    // in the new conversation would be; a refusal drops the transaction, so
    // it leaves no conversation, no identity and no webhook delivery behind.
    let first = match new.message.filter(|m| !m.trim().is_empty()) {
        None => None,
        Some(content) => {
            let draft = super::messages::Draft {
                content: Some(content),
                ..Default::default()
            };
            let (message, _) = super::messages::prepare(state, member, &conversation, draft).await?;
            Some(tx.insert_new_message(&conversation, &message, &[]).await?)
        }
    };
    let first = match first {
        None => None,
        Some(stored) => {
            let json = super::messages::rendered(state, &conversation, &stored).await;
            pending
                .webhook(
                    state,
                    &mut tx,
                    member.account_id,
                    "message_created",
                    Subject::Message(json.clone()),
                )
                .await?;
            Some((stored, json))
        }
    };
    tx.commit().await?;
    committed(state, pending).await;
    let rendered = announce(state, &conversation, "conversation.created").await?;
    match first {
        None => Ok(rendered),
        Some((stored, json)) => {
            super::messages::announce_created(state, &conversation, &stored, json).await;
            let current = state
                .store
                .get_conversation(member.account_id, conversation.display_id)
                .await?;
            render_one(state, current).await
        }
    }
}

/// A status change: to a named status, or toggled (open ↔ resolved) when
/// none is named; `snoozed_until` in unix seconds.
#[derive(Debug, Clone, Default)]
pub struct StatusChange {
    /// The status name.
    pub status: Option<String>,
    /// Until when a snooze lasts, unix seconds.
    pub snoozed_until: Option<i64>,
}

/// Changes a conversation's status; answers the new status.
pub async fn change_status(
    state: &AppState,
    member: &Member,
    display_id: i64,
    change: StatusChange,
) -> Result<ConversationStatus, AppError> {
    let conversation = visible_conversation(state, member, display_id).await?;
    let snoozed_ms = match change.snoozed_until {
        Some(secs) => Some(
            secs.checked_mul(1000)
                .filter(|ms| *ms >= 0)
                .ok_or_else(|| AppError::Refused("snoozed_until is not a valid unix time".into()))?,
        ),
        None => None,
    };
    let next = match change.status.as_deref() {
        None => conversation.status.toggled(),
        Some(name) => ConversationStatus::parse(name)
            .ok_or_else(|| AppError::Refused(format!("unknown status {name:?}")))?,
    };
    let mut tx = state.store.begin_write().await?;
    let before = tx.conversation(conversation.id).await?;
    tx.set_conversation_status(conversation.id, next, snoozed_ms)
        .await?;
    let after = tx.conversation(conversation.id).await?;
    let changed = changed_attributes(&before, &after);
    // Chatwoot sends a status change twice: as `conversation_status_changed`
    // with the status alone, and as `conversation_updated` with all of it.
    let status_only: Vec<Value> = changed
        .iter()
        .filter(|c| c.get("status").is_some())
        .cloned()
        .collect();
    let mut pending = InTransaction::default();
    let subject = Subject::conversation(&conversation, status_only);
    pending
        .webhook(
            state,
            &mut tx,
            member.account_id,
            "conversation_status_changed",
            subject,
        )
        .await?;
    let subject = Subject::conversation(&conversation, changed);
    pending
        .webhook(state, &mut tx, member.account_id, "conversation_updated", subject)
        .await?;
    tx.commit().await?;
    committed(state, pending).await;
    announce_as(
        state,
        &conversation,
        &["conversation.status_changed", "conversation.updated"],
    )
    .await?;
    Ok(next)
}

/// What an assignment changes (Chatwoot's: the agent if `assignee_id` is
/// there, else the team if `team_id` is, else nothing).
#[derive(Debug, Clone, Copy)]
pub enum Assignment {
    /// This agent, or nobody.
    Agent(Option<i64>),
    /// This team, or none.
    Team(Option<i64>),
    /// Nothing.
    Nothing,
}

/// What an assignment answers.
#[derive(Debug)]
pub enum Assigned {
    /// The conversation's agent now.
    Agent(Option<UserRow>),
    /// The conversation's team now.
    Team(Option<TeamRow>),
    /// Nothing changed.
    Nothing,
}

/// Assigns a conversation to an agent of the account, or unassigns it with
/// `None`; answers the assignee.
pub async fn assign(
    state: &AppState,
    member: &Member,
    display_id: i64,
    assignee_id: Option<i64>,
) -> Result<Option<UserRow>, AppError> {
    match change_assignment(state, member, display_id, Assignment::Agent(assignee_id)).await? {
        Assigned::Agent(agent) => Ok(agent),
        _ => Ok(None),
    }
}

/// Assigns a conversation to an agent of the account or to a team (or
/// clears either); answers the new assignee or team.
pub async fn change_assignment(
    state: &AppState,
    member: &Member,
    display_id: i64,
    assignment: Assignment,
) -> Result<Assigned, AppError> {
    let conversation = visible_conversation(state, member, display_id).await?;
    let outcome = match assignment {
        Assignment::Nothing => return Ok(Assigned::Nothing),
        Assignment::Agent(Some(id)) => {
            Assigned::Agent(Some(state.store.get_agent(member.account_id, id).await?))
        }
        Assignment::Agent(None) => Assigned::Agent(None),
        Assignment::Team(Some(id)) => {
            Assigned::Team(Some(state.store.get_team(member.account_id, id).await?))
        }
        Assignment::Team(None) => Assigned::Team(None),
    };
    let mut tx = state.store.begin_write().await?;
    let before = tx.conversation(conversation.id).await?;
    match &outcome {
        Assigned::Agent(agent) => {
            tx.assign_conversation(conversation.id, agent.as_ref().map(|a| a.id))
                .await?;
        }
        Assigned::Team(team) => {
            tx.set_conversation_team(conversation.id, team.as_ref().map(|t| t.id))
                .await?;
        }
        Assigned::Nothing => {}
    }
    let after = tx.conversation(conversation.id).await?;
    let mut pending = InTransaction::default();
    let subject = Subject::conversation(&conversation, changed_attributes(&before, &after));
    pending
        .webhook(state, &mut tx, member.account_id, "conversation_updated", subject)
        .await?;
    tx.commit().await?;
    committed(state, pending).await;
    // Chatwoot's clients also hear which of the two changed.
    let mut names = vec!["conversation.updated"];
    if before.assignee_id != after.assignee_id {
        names.push("assignee.changed");
    }
    if before.team != after.team {
        names.push("team.changed");
    }
    announce_as(state, &conversation, &names).await?;
    Ok(outcome)
}

/// The labels of a conversation the member may see.
pub async fn labels(state: &AppState, member: &Member, display_id: i64) -> Result<Vec<String>, AppError> {
    let conversation = visible_conversation(state, member, display_id).await?;
    labels_of(state, &conversation).await
}

/// The labels of a conversation.
pub async fn labels_of(state: &AppState, conversation: &ConversationRow) -> Result<Vec<String>, AppError> {
    Ok(state
        .store
        .labels_of(&[conversation.id])
        .await?
        .into_iter()
        .map(|(_, l)| l)
        .collect())
}

/// Replaces a conversation's labels (trimmed, lower-cased, sorted, unique;
/// single words of at most 255 characters); answers them.
pub async fn set_labels(
    state: &AppState,
    member: &Member,
    display_id: i64,
    labels: &[String],
) -> Result<Vec<String>, AppError> {
    let conversation = visible_conversation(state, member, display_id).await?;
    let mut labels: Vec<String> = labels
        .iter()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty())
        .collect();
    if labels
        .iter()
        .any(|l| l.len() > 255 || l.contains(char::is_whitespace))
    {
        return Err(AppError::Refused(
            "labels are single words of at most 255 characters".into(),
        ));
    }
    labels.sort();
    labels.dedup();
    let mut tx = state.store.begin_write().await?;
    let previous = tx.set_labels(conversation.id, &labels).await?;
    let changed = if previous == labels {
        Vec::new()
    } else {
        vec![webhooks::change("label_list", &previous, &labels)]
    };
    let mut pending = InTransaction::default();
    let subject = Subject::conversation(&conversation, changed);
    pending
        .webhook(state, &mut tx, member.account_id, "conversation_updated", subject)
        .await?;
    tx.commit().await?;
    committed(state, pending).await;
    announce(state, &conversation, "conversation.updated").await?;
    Ok(labels)
}

/// Chatwoot's `changed_attributes` between two states of a conversation,
/// for the attributes whose change it reports (its `list_of_keys`; labels
/// are compared by [`set_labels`]): status by name, times in unix seconds.
fn changed_attributes(before: &ConversationRow, after: &ConversationRow) -> Vec<Value> {
    let mut changed = Vec::new();
    if before.status != after.status {
        changed.push(webhooks::change(
            "status",
            before.status.name(),
            after.status.name(),
        ));
    }
    if before.assignee_id != after.assignee_id {
        changed.push(webhooks::change(
            "assignee_id",
            before.assignee_id,
            after.assignee_id,
        ));
    }
    let team = |c: &ConversationRow| c.team.as_ref().map(|(id, _)| *id);
    if team(before) != team(after) {
        changed.push(webhooks::change("team_id", team(before), team(after)));
    }
    if before.snoozed_until != after.snoozed_until {
        let secs = |t: Option<i64>| t.map(|ms| ms / 1000);
        changed.push(webhooks::change(
            "snoozed_until",
            secs(before.snoozed_until),
            secs(after.snoozed_until),
        ));
    }
    changed
}

/// Counts as Chatwoot's JSON names them.
pub fn counts_json(counts: &ConversationCounts) -> Value {
    serde_json::json!({
        "mine_count": counts.mine,
        "unassigned_count": counts.unassigned,
        "assigned_count": counts.all - counts.unassigned,
        "all_count": counts.all,
    })
}
