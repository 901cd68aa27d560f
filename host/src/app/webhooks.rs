//! Outgoing account webhooks (Chatwoot's account-type webhooks): an
//! administrator subscribes a URL to events, and every such event is POSTed
//! to it in Chatwoot's payload shapes, signed with the webhook's own secret.
//!
//! The path of an event: a use case that changes something calls [`stage`]
//! (through `announce::InTransaction`) inside its transaction, which finds
//! the account's webhooks subscribed to the event and writes one durable
//! delivery per webhook (`webhook_deliveries`) with what the payload is
//! about, so the change and its deliveries commit together; once committed,
//! [`rendered`] renders Chatwoot's payload once and stores it (a worker
//! renders one its writer left, after a crash); a webhook worker
//! (`pipeline/`) claims it and calls [`deliver`], which makes
//! one signed attempt and records the outcome with the delivery jobs' retry
//! policy (`PipelineConfig::retry_delay`): retried with backoff, then
//! dead-lettered.
//!
//! Webhook URLs are the host's own egress, not a plugin's: private, loopback
//! and link-local addresses are refused (literals when the webhook is saved
//! and when it is sent; names by the resolver at connect time, as for
//! plugins) unless `SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE` is set.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::Notify;
use url::Url;

use super::{AppError, AppState, Member};
use crate::caps::egress;
use crate::store::{ConversationRow, StoreError, WebhookDeliveryRow, WebhookOutcome, WebhookRow, WriteTx};

/// The events an account webhook may subscribe to: Chatwoot's list, so its
/// clients' subscriptions are accepted as they are.
pub const EVENTS: &[&str] = &[
    "conversation_created",
    "conversation_status_changed",
    "conversation_updated",
    "contact_created",
    "contact_updated",
    "message_created",
    "message_updated",
    "webwidget_triggered",
    "inbox_created",
    "inbox_updated",
    "conversation_typing_on",
    "conversation_typing_off",
];

/// The events an inbox's webhook (an API inbox's `webhook_url`) hears:
/// those of its conversations and messages, as Chatwoot sends them to
/// `Channel::Api#webhook_url`.
pub const INBOX_EVENTS: &[&str] = &[
    "conversation_created",
    "conversation_status_changed",
    "conversation_updated",
    "message_created",
    "message_updated",
    "webwidget_triggered",
];

/// Settings of outgoing webhooks, from flags and the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct WebhookSettings {
    /// Let account webhooks reach private, loopback and link-local
    /// addresses (off: such URLs are refused when saved and when sent).
    #[arg(
        long,
        env = "SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub webhooks_allow_private: bool,

    /// Workers sending account webhooks, per node.
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_WORKERS", default_value_t = 2)]
    pub webhook_workers: usize,

    /// How long one attempt may take, in ms.
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_TIMEOUT_MS", default_value_t = 5000)]
    pub webhook_timeout_ms: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            webhooks_allow_private: false,
            webhook_workers: 2,
            webhook_timeout_ms: 5000,
        }
    }
}

/// How long a node trusts its copy of an account's subscriptions. Events
/// are frequent and webhooks rare: without the copy every announcement would
/// cost a query. A change made on this node clears the copy at once; one made
/// on another node is seen within this time.
const SUBSCRIPTIONS_TTL: Duration = Duration::from_secs(1);

/// An account's webhooks, its inboxes' included.
type Subscriptions = Arc<Vec<Subscription>>;

/// One webhook as staging needs it.
struct Subscription {
    id: i64,
    events: Vec<String>,
    /// The inbox whose events alone it hears (an inbox webhook).
    inbox_id: Option<i64>,
}

/// A node's webhook sender: its HTTP client, its workers' wake-up, and its
/// copy of each account's subscriptions.
pub struct Outgoing {
    allow_private: bool,
    client: reqwest::Client,
    /// A delivery was queued on this node.
    pub(crate) ready: Notify,
    subscriptions: Mutex<HashMap<i64, (Instant, Subscriptions)>>,
}

impl Outgoing {
    /// A sender with these settings.
    pub fn new(settings: &WebhookSettings) -> Self {
        Self {
            allow_private: settings.webhooks_allow_private,
            client: egress::host_client(
                settings.webhooks_allow_private,
                Duration::from_millis(settings.webhook_timeout_ms.max(1)),
            ),
            ready: Notify::new(),
            subscriptions: Mutex::new(HashMap::new()),
        }
    }

    fn forget(&self, account_id: i64) {
        self.subscriptions
            .lock()
            .expect("not poisoned")
            .remove(&account_id);
    }
}

/// The account's webhooks and their subscriptions, from this node's copy
/// when it is fresh.
async fn subscriptions(state: &AppState, account_id: i64) -> Result<Subscriptions, StoreError> {
    let outgoing = &state.pipeline.webhooks;
    if let Some((read_at, known)) = outgoing
        .subscriptions
        .lock()
        .expect("not poisoned")
        .get(&account_id)
        && read_at.elapsed() < SUBSCRIPTIONS_TTL
    {
        return Ok(known.clone());
    }
    let read_at = Instant::now();
    let rows = state.store.list_webhooks(account_id).await?;
    let known: Subscriptions = Arc::new(
        rows.into_iter()
            .map(|w| Subscription {
                id: w.id,
                events: serde_json::from_str(&w.subscriptions).unwrap_or_default(),
                inbox_id: w.inbox_id,
            })
            .collect(),
    );
    outgoing
        .subscriptions
        .lock()
        .expect("not poisoned")
        .insert(account_id, (read_at, known.clone()));
    Ok(known)
}

/// What an administrator sends to create or change a webhook.
#[derive(Debug, Clone, Default)]
pub struct WebhookInput {
    /// Where to POST events.
    pub url: Option<String>,
    /// A label.
    pub name: Option<String>,
    /// Event names from [`EVENTS`].
    pub subscriptions: Option<Vec<String>>,
}

/// A webhook as its administrators see it, with its signing secret.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The stored row.
    pub row: WebhookRow,
    /// Subscribed events.
    pub subscriptions: Vec<String>,
    /// The HMAC-SHA256 key of its signatures.
    pub secret: String,
}

fn view(state: &AppState, row: WebhookRow) -> Result<Webhook, AppError> {
    let secret = state
        .plugins
        .secrets()
        .open(&row.sealed_secret)
        .map_err(|e| AppError::Internal(format!("cannot open webhook {}'s secret: {e}", row.id)))?;
    let subscriptions = serde_json::from_str(&row.subscriptions).unwrap_or_default();
    Ok(Webhook {
        row,
        subscriptions,
        secret,
    })
}

/// The account's webhooks (administrators).
pub async fn list(state: &AppState, member: &Member) -> Result<Vec<Webhook>, AppError> {
    member.require_admin()?;
    let rows = state.store.list_webhooks(member.account_id).await?;
    rows.into_iter()
        .filter(|row| row.inbox_id.is_none())
        .map(|row| view(state, row))
        .collect()
}

/// Adds a webhook with a fresh secret (administrators).
pub async fn create(state: &AppState, member: &Member, input: WebhookInput) -> Result<Webhook, AppError> {
    member.require_admin()?;
    let url = checked_url(state, input.url.as_deref()).await?;
    let subscriptions = checked_subscriptions(input.subscriptions)?;
    let sealed = state
        .plugins
        .secrets()
        .seal(&crate::accounts::new_token())
        .map_err(|e| AppError::Internal(format!("cannot seal a webhook secret: {e}")))?;
    let row = state
        .store
        .insert_webhook(
            member.account_id,
            blank_to_none(input.name).as_deref(),
            &url,
            &serde_json::to_string(&subscriptions).expect("strings serialise"),
            &sealed,
        )
        .await?;
    state.pipeline.webhooks.forget(member.account_id);
    view(state, row)
}

/// Changes the fields given (administrators); the secret stays.
pub async fn update(
    state: &AppState,
    member: &Member,
    id: i64,
    input: WebhookInput,
) -> Result<Webhook, AppError> {
    member.require_admin()?;
    let current = account_webhook(state, member, id).await?;
    let url = match input.url.as_deref() {
        Some(url) => checked_url(state, Some(url)).await?,
        None => current.url.clone(),
    };
    let subscriptions = match input.subscriptions {
        Some(list) => serde_json::to_string(&checked_subscriptions(Some(list))?).expect("strings serialise"),
        None => current.subscriptions.clone(),
    };
    let name = match input.name {
        Some(name) => blank_to_none(Some(name)),
        None => current.name.clone(),
    };
    let row = state
        .store
        .update_webhook(member.account_id, id, name.as_deref(), &url, &subscriptions)
        .await?;
    state.pipeline.webhooks.forget(member.account_id);
    view(state, row)
}

/// Removes a webhook and its pending deliveries (administrators).
pub async fn delete(state: &AppState, member: &Member, id: i64) -> Result<(), AppError> {
    member.require_admin()?;
    account_webhook(state, member, id).await?;
    state.store.delete_webhook(member.account_id, id).await?;
    state.pipeline.webhooks.forget(member.account_id);
    Ok(())
}

/// A webhook's latest deliveries, newest first (administrators): what was
/// sent, what is waiting for a retry, and the dead letters.
pub async fn deliveries(
    state: &AppState,
    member: &Member,
    id: i64,
) -> Result<Vec<WebhookDeliveryRow>, AppError> {
    member.require_admin()?;
    account_webhook(state, member, id).await?;
    Ok(state
        .store
        .list_webhook_deliveries(member.account_id, id, 100)
        .await?)
}

/// One of the account's own webhooks (an inbox's is managed through its
/// inbox).
async fn account_webhook(state: &AppState, member: &Member, id: i64) -> Result<WebhookRow, AppError> {
    let row = state.store.get_webhook(member.account_id, id).await?;
    if row.inbox_id.is_some() {
        return Err(AppError::NotFound(format!("webhook {id}")));
    }
    Ok(row)
}

/// Sets or removes an inbox's webhook (its `webhook_url`) in `tx`: the URL
/// is checked as an account webhook's is; a blank one removes it.
pub(super) async fn set_for_inbox(
    state: &AppState,
    tx: &mut WriteTx,
    account_id: i64,
    inbox_id: i64,
    url: &str,
) -> Result<(), AppError> {
    let url = match url.trim() {
        "" => None,
        url => Some(checked_url(state, Some(url)).await?),
    };
    let sealed = state
        .plugins
        .secrets()
        .seal(&crate::accounts::new_token())
        .map_err(|e| AppError::Internal(format!("cannot seal a webhook secret: {e}")))?;
    let subscriptions = serde_json::to_string(INBOX_EVENTS).expect("strings serialise");
    tx.set_inbox_webhook(account_id, inbox_id, url.as_deref(), &subscriptions, &sealed)
        .await?;
    Ok(())
}

/// Drops this node's copy of an account's subscriptions (a webhook changed).
pub(super) fn forget(state: &AppState, account_id: i64) {
    state.pipeline.webhooks.forget(account_id);
}

fn blank_to_none(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

fn checked_subscriptions(list: Option<Vec<String>>) -> Result<Vec<String>, AppError> {
    let mut list = list.unwrap_or_default();
    list.sort();
    list.dedup();
    if list.is_empty() {
        return Err(AppError::Refused(
            "subscriptions must name at least one event".into(),
        ));
    }
    if let Some(unknown) = list.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(AppError::Refused(format!(
            "unknown event {unknown:?}; subscribe to any of {}",
            EVENTS.join(", ")
        )));
    }
    Ok(list)
}

/// An absolute http(s) URL without credentials; unless private addresses
/// are allowed, one whose host is (or resolves only to) a non-public address
/// is refused now rather than dead-lettered later.
async fn checked_url(state: &AppState, url: Option<&str>) -> Result<String, AppError> {
    let text = url.map(str::trim).filter(|u| !u.is_empty());
    let text = text.ok_or_else(|| AppError::Refused("url is required".into()))?;
    let url = Url::parse(text).map_err(|e| AppError::Refused(format!("url is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(AppError::Refused("url must be an http or https URL".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AppError::Refused("url must not carry credentials".into()));
    }
    if !state.pipeline.webhooks.allow_private {
        refuse_private(&url).await?;
    }
    Ok(url.to_string())
}

/// How long saving a webhook waits for its host name to resolve; past it the
/// name is accepted and the resolver judges it at each send.
const SAVE_LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

async fn refuse_private(url: &Url) -> Result<(), AppError> {
    let refused = || {
        AppError::Refused(format!(
            "{} is a private or loopback address; webhooks reach only public addresses \
             unless the server allows private ones (SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE)",
            url.host_str().unwrap_or_default()
        ))
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) if !egress::is_public(IpAddr::V4(ip)) => Err(refused()),
        Some(url::Host::Ipv6(ip)) if !egress::is_public(IpAddr::V6(ip)) => Err(refused()),
        Some(url::Host::Domain(name)) => {
            let port = url.port_or_known_default().unwrap_or(443);
            // A name that does not resolve now may later: only a name that
            // resolves, and only to private addresses, is refused here. The
            // resolver checks again at every send.
            let lookup = tokio::time::timeout(SAVE_LOOKUP_TIMEOUT, tokio::net::lookup_host((name, port)));
            if let Ok(Ok(found)) = lookup.await {
                let found: Vec<_> = found.collect();
                if !found.is_empty() && found.iter().all(|a| !egress::is_public(a.ip())) {
                    return Err(refused());
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// What a delivery's payload is rendered from, written with the change it
/// reports: the payload itself is rendered from the committed state (the
/// conversation as the API shows it, the account's name), which the
/// change's transaction cannot read through the store's pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A message as its live event shows it (the REST shape).
    Message(Value),
    /// A message by id, shown as it is once its change committed.
    MessageById {
        /// Its conversation (the internal id).
        conversation_id: i64,
        /// The message.
        message_id: i64,
        /// Its type's code.
        message_type: i64,
    },
    /// A conversation by display id, with Chatwoot's `changed_attributes`
    /// (one `{attribute: {previous_value, current_value}}` per change).
    Conversation {
        /// Its display id.
        display_id: i64,
        /// Its inbox.
        inbox_id: i64,
        /// What the change changed.
        changed_attributes: Vec<Value>,
    },
    /// A contact as its live event shows it, with what changed.
    Contact {
        /// The REST shape.
        contact: Value,
        /// What the change changed (empty for a new contact).
        changed_attributes: Vec<Value>,
    },
}

impl Subject {
    /// A conversation after a change of `changed_attributes`.
    pub fn conversation(conversation: &ConversationRow, changed_attributes: Vec<Value>) -> Self {
        Self::Conversation {
            display_id: conversation.display_id,
            inbox_id: conversation.inbox_id,
            changed_attributes,
        }
    }

    /// The inbox it concerns, when that is known without a read.
    fn inbox_id(&self) -> Option<i64> {
        match self {
            Self::Message(data) => data["inbox_id"].as_i64(),
            Self::Conversation { inbox_id, .. } => Some(*inbox_id),
            Self::MessageById { .. } | Self::Contact { .. } => None,
        }
    }
}

/// One `changed_attributes` entry, Chatwoot's shape:
/// `{"status": {"previous_value": "open", "current_value": "resolved"}}`.
pub fn change(attribute: &str, previous: impl Serialize, current: impl Serialize) -> Value {
    json!({ attribute: { "previous_value": previous, "current_value": current } })
}

/// Deliveries queued in a change's transaction, whose payload [`rendered`]
/// completes once it commits.
#[derive(Debug)]
pub struct Staged {
    account_id: i64,
    event: &'static str,
    ids: Vec<i64>,
    subject: Subject,
}

/// The webhooks subscribed to `event` (one of [`EVENTS`]) about `subject`:
/// the account's, and its inbox's, from this node's copy of the account's
/// subscriptions.
async fn subscribed(
    state: &AppState,
    account_id: i64,
    event: &str,
    subject: &Subject,
) -> Result<Vec<i64>, StoreError> {
    let known = subscriptions(state, account_id).await?;
    let wanted = known.iter().filter(|w| w.events.iter().any(|e| e == event));
    // The inbox of a message changed by id is read only when an inbox
    // webhook of the account could want it (the message is committed).
    let inbox_id = match subject {
        Subject::MessageById { conversation_id, .. } if wanted.clone().any(|w| w.inbox_id.is_some()) => {
            Some(state.store.conversation_by_id(*conversation_id).await?.inbox_id)
        }
        _ => subject.inbox_id(),
    };
    Ok(wanted
        .filter(|w| w.inbox_id.is_none() || w.inbox_id == inbox_id)
        .map(|w| w.id)
        .collect())
}

/// Queues `event` for each of the account's webhooks subscribed to it, in
/// the transaction of the change it reports, so the change and its
/// deliveries commit together or not at all; `None` (the common case,
/// answered from this node's copy of the subscriptions) when none is. What
/// Chatwoot does not send (activity messages, a change that changed
/// nothing) is not queued.
pub async fn stage(
    state: &AppState,
    tx: &mut WriteTx,
    account_id: i64,
    event: &'static str,
    subject: Subject,
) -> Result<Option<Staged>, StoreError> {
    debug_assert!(EVENTS.contains(&event), "{event}");
    let sendable = match &subject {
        // Chatwoot's `webhook_sendable?`: no activity messages.
        Subject::Message(data) => sendable_type(data["message_type"].as_i64()),
        Subject::MessageById { message_type, .. } => sendable_type(Some(*message_type)),
        // Chatwoot's `contact_updated` returns on a blank change.
        Subject::Contact {
            changed_attributes, ..
        } => event == "contact_created" || !changed_attributes.is_empty(),
        Subject::Conversation {
            changed_attributes, ..
        } => event == "conversation_created" || !changed_attributes.is_empty(),
    };
    if !sendable {
        return Ok(None);
    }
    let webhooks = subscribed(state, account_id, event, &subject).await?;
    if webhooks.is_empty() {
        return Ok(None);
    }
    let written = serde_json::to_string(&subject).expect("a subject serialises");
    let ids = tx
        .queue_webhook_deliveries(&webhooks, account_id, event, &written)
        .await?;
    Ok(Some(Staged {
        account_id,
        event,
        ids,
        subject,
    }))
}

/// Chatwoot's `webhook_sendable?`: incoming, outgoing and template
/// messages, not activity.
fn sendable_type(code: Option<i64>) -> bool {
    matches!(code, Some(0 | 1 | 3))
}

/// Renders the payload of deliveries whose change committed, and wakes this
/// node's webhook workers. Never fails the caller: a delivery left
/// unrendered is rendered by the worker that claims it.
pub async fn rendered(state: &AppState, staged: Staged) {
    let Staged {
        account_id,
        event,
        ids,
        subject,
    } = staged;
    if ids.is_empty() {
        return;
    }
    let stored = async {
        let payload = payload(state, account_id, event, subject).await?;
        state
            .store
            .render_webhook_deliveries(&ids, &payload.to_string())
            .await?;
        Ok::<_, AppError>(())
    };
    if let Err(e) = stored.await {
        tracing::warn!(
            account = account_id,
            event,
            "cannot render webhook deliveries now; their worker will: {e}"
        );
    }
    state.pipeline.webhooks.ready.notify_one();
}

/// Chatwoot's payload for `event` about `subject`, from the committed state.
async fn payload(
    state: &AppState,
    account_id: i64,
    event: &str,
    subject: Subject,
) -> Result<Value, AppError> {
    let account = state.store.get_account(account_id).await?;
    let account_ref = json!({ "id": account.id, "name": account.name });
    let mut payload = match subject {
        Subject::Message(data) => message_payload(state, account_id, data).await?,
        Subject::MessageById {
            conversation_id,
            message_id,
            ..
        } => {
            let conversation = state.store.conversation_by_id(conversation_id).await?;
            let message = state.store.get_message(conversation_id, message_id).await?;
            let data = super::views::message(&message, conversation.display_id);
            message_payload(state, account_id, data).await?
        }
        Subject::Conversation {
            display_id,
            changed_attributes,
            ..
        } => {
            let conversation = state.store.get_conversation(account_id, display_id).await?;
            let mut conversation = super::conversations::render_one(state, conversation).await?;
            // `conversation_created` has none in Chatwoot.
            if event != "conversation_created" {
                conversation["changed_attributes"] = Value::Array(changed_attributes);
            }
            conversation
        }
        Subject::Contact {
            mut contact,
            changed_attributes,
        } => {
            if event != "contact_created" {
                contact["changed_attributes"] = Value::Array(changed_attributes);
            }
            contact
        }
    };
    payload["account"] = account_ref;
    payload["event"] = json!(event);
    Ok(payload)
}

/// Chatwoot's `Message#webhook_data`: the message with its type by name, its
/// inbox, and its conversation as the API renders it.
async fn message_payload(state: &AppState, account_id: i64, data: Value) -> Result<Value, AppError> {
    let message_type = match data["message_type"].as_i64() {
        Some(0) => "incoming",
        Some(1) => "outgoing",
        Some(3) => "template",
        _ => "activity",
    };
    let display_id = data["conversation_id"].as_i64().unwrap_or_default();
    let conversation = state.store.get_conversation(account_id, display_id).await?;
    let inbox = state.store.get_inbox(account_id, conversation.inbox_id).await?;
    let conversation = super::conversations::render_one(state, conversation).await?;
    let mut payload = data;
    payload["message_type"] = json!(message_type);
    payload["inbox"] = json!({ "id": inbox.id, "name": inbox.name });
    payload["conversation"] = conversation;
    if payload.get("sender").is_none() {
        payload["sender"] = Value::Null;
    }
    Ok(payload)
}

/// The body of a claimed delivery: its stored payload, or — when its writer
/// did not render it (it died right after the commit, or this worker came
/// first) — one rendered now and stored, so a retry sends the same bytes.
async fn body_of(state: &AppState, delivery: &WebhookDeliveryRow) -> Result<String, AppError> {
    let subject = match &delivery.subject {
        Some(subject) if delivery.payload.is_empty() => subject,
        _ => return Ok(delivery.payload.clone()),
    };
    let subject: Subject = serde_json::from_str(subject).map_err(|e| {
        AppError::Internal(format!("delivery {} has an unreadable subject: {e}", delivery.id))
    })?;
    let event = EVENTS
        .iter()
        .find(|e| **e == delivery.event)
        .ok_or_else(|| AppError::Internal(format!("delivery {} has an unknown event", delivery.id)))?;
    let payload = payload(state, delivery.account_id, event, subject).await?;
    state
        .store
        .render_webhook_deliveries(&[delivery.id], &payload.to_string())
        .await?;
    // Its writer may have rendered it meanwhile: the first rendering stays.
    Ok(state.store.webhook_delivery_payload(delivery.id).await?)
}

/// `sha256=` and the hex HMAC-SHA256 of `"{timestamp}.{body}"` under
/// `secret`: Chatwoot's `X-Chatwoot-Signature`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why an attempt did not deliver.
struct Failure {
    status: Option<i64>,
    message: String,
    retryable: bool,
}

impl Failure {
    fn permanent(status: Option<i64>, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retryable: false,
        }
    }
}

/// Makes one attempt at a claimed delivery and records its outcome.
#[tracing::instrument(level = "debug", name = "account_webhook.attempt", skip_all, fields(delivery_id = delivery.id))]
pub async fn deliver(state: &AppState, delivery: WebhookDeliveryRow) {
    let outcome = match attempt(state, &delivery).await {
        Ok(status) => {
            tracing::debug!(delivery = delivery.id, status, "webhook delivered");
            state
                .store
                .record_webhook_delivery(delivery.id, WebhookOutcome::Done { status })
                .await
        }
        Err(failure) => {
            let config = &state.pipeline.config;
            match config.retry_delay(delivery.attempts, failure.retryable, None) {
                Some(retry_in_ms) => {
                    tracing::info!(delivery = delivery.id, attempt = delivery.attempts, delay_ms = retry_in_ms,
                        reason = %failure.message, "webhook failed; retrying later");
                    let retry = WebhookOutcome::Retry {
                        status: failure.status,
                        error: &failure.message,
                        retry_in_ms,
                    };
                    state.store.record_webhook_delivery(delivery.id, retry).await
                }
                None => {
                    tracing::warn!(delivery = delivery.id, attempts = delivery.attempts, reason = %failure.message,
                        "webhook failed; dead-lettered");
                    let dead = WebhookOutcome::Dead {
                        status: failure.status,
                        error: &failure.message,
                    };
                    state.store.record_webhook_delivery(delivery.id, dead).await
                }
            }
        }
    };
    if let Err(e) = outcome {
        // The lease runs out and the delivery is attempted again.
        tracing::error!(delivery = delivery.id, "cannot record a webhook's outcome: {e}");
    }
}

async fn attempt(state: &AppState, delivery: &WebhookDeliveryRow) -> Result<i64, Failure> {
    let transient = |message: String| Failure {
        status: None,
        message,
        retryable: true,
    };
    let body = match body_of(state, delivery).await {
        Ok(body) => body,
        // What it reports is gone (a deleted conversation): nothing to send.
        Err(AppError::NotFound(what) | AppError::Store(StoreError::NotFound(what))) => {
            return Err(Failure::permanent(
                None,
                format!("cannot render the payload: {what}"),
            ));
        }
        Err(e) => return Err(transient(format!("cannot render the payload: {e}"))),
    };
    let webhook = match state
        .store
        .get_webhook(delivery.account_id, delivery.webhook_id)
        .await
    {
        Ok(w) => w,
        Err(StoreError::NotFound(_)) => {
            return Err(Failure::permanent(None, "the webhook was deleted"));
        }
        Err(e) => return Err(transient(e.to_string())),
    };
    let url = Url::parse(&webhook.url).map_err(|e| Failure::permanent(None, format!("bad URL: {e}")))?;
    let outgoing = &state.pipeline.webhooks;
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    if let Some(ip) = literal
        && !outgoing.allow_private
        && !egress::is_public(ip)
    {
        return Err(Failure::permanent(
            None,
            format!("{ip} is a private or loopback address and private webhooks are not allowed"),
        ));
    }
    let secret = state
        .plugins
        .secrets()
        .open(&webhook.sealed_secret)
        .map_err(|e| Failure::permanent(None, format!("cannot open the webhook's secret: {e}")))?;
    let timestamp = crate::store::now_ms() / 1000;
    let body = body.into_bytes();
    let response = outgoing
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("x-chatwoot-signature", signature(&secret, timestamp, &body))
        .header("x-chatwoot-timestamp", timestamp.to_string())
        .header("x-chatwoot-delivery", delivery.id.to_string())
        .body(body)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            if let Some(refusal) = egress::private_refusal(&e) {
                return Err(Failure::permanent(None, refusal));
            }
            return Err(transient(format!("cannot reach the webhook: {}", chain(&e))));
        }
    };
    let status = i64::from(response.status().as_u16());
    match status {
        200..=299 => Ok(status),
        // Timeouts, throttling and server errors may pass; other answers
        // (including redirects, never followed) will not.
        408 | 429 | 500..=599 => Err(Failure {
            status: Some(status),
            message: format!("the webhook answered {status}"),
            retryable: true,
        }),
        _ => Err(Failure::permanent(
            Some(status),
            format!("the webhook answered {status}"),
        )),
    }
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        // Python: hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest()
        let expected = "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae";
        assert_eq!(signature("key", 1_700_000_000, b"{}"), expected);
        assert_ne!(signature("other", 1_700_000_000, b"{}"), expected);
    }

    #[test]
    fn subscriptions_are_chatwoots_events() {
        assert!(checked_subscriptions(Some(vec![])).is_err());
        assert!(checked_subscriptions(Some(vec!["message_sent".into()])).is_err());
        assert_eq!(
            checked_subscriptions(Some(vec!["message_created".into(), "message_created".into()])).unwrap(),
            vec!["message_created".to_owned()]
        );
    }

    #[test]
    fn changes_have_chatwoots_shape() {
        assert_eq!(
            change("status", "open", "resolved"),
            json!({ "status": { "previous_value": "open", "current_value": "resolved" } })
        );
        assert_eq!(
            change("assignee_id", None::<i64>, Some(3)),
            json!({ "assignee_id": { "previous_value": null, "current_value": 3 } })
        );
    }
}
