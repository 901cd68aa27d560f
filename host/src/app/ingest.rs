//! Receiving a webhook: rate limit, size limit, the plugin's verification,
//! a wait while the inbound backlog is over its bound (admission control),
//! then one durable write. The caller acknowledges only after [`receive`]
//! answers, so an acknowledged webhook is always in the log.

use std::sync::OnceLock;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::app::AppState;
use crate::contract::{ChannelEvent, IncomingRequest, OutgoingResponse, Verification};
use crate::plugin_host::health::{Fault, classify};
use crate::runtime::PluginError;
use crate::store::{NewInboundEvent, Store, StoreError};

/// Headers never kept in the log: credentials of the sender, not of the event.
const DROPPED_HEADERS: &[&str] = &["cookie", "authorization", "proxy-authorization"];

/// What became of a webhook.
#[derive(Debug)]
pub enum Received {
    /// Stored under this event id.
    Stored(i64),
    /// The same body was already stored for this channel (a provider retry).
    Duplicate,
    /// A verification handshake, answered with this response; nothing stored.
    Challenge(OutgoingResponse),
}

/// Why a webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// No plugin by that id is installed.
    #[error("no channel named {0:?} receives webhooks here")]
    UnknownChannel(String),
    /// The plugin is installed but does not run now: disabled by an admin,
    /// quarantined after repeated faults, or failed to load. Nothing can
    /// verify the request, so nothing is stored; the provider is told to
    /// retry (a 503), so its webhooks arrive once the channel is back
    /// instead of being dropped as addressed to nobody.
    #[error(
        "the {0} channel is installed but not running (disabled, quarantined or failed to load); retry later"
    )]
    ChannelOff(String),
    /// The body is over the configured limit.
    #[error("webhook body over {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The channel's rate limit is spent.
    #[error("too many webhooks for this channel; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a token is free.
        retry_after_secs: u64,
    },
    /// The plugin found the request not genuine.
    #[error("webhook rejected: {0}")]
    Rejected(String),
    /// The plugin faulted while verifying, in a way the same request
    /// reproduces (see `plugin_host::health::classify`): nothing stored.
    #[error("the channel plugin cannot verify this request: {0}")]
    Unverifiable(PluginError),
    /// The plugin could not run (a shortage of the host's): retry later.
    #[error(transparent)]
    Plugin(PluginError),
    /// The log could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IngestError {
    /// Why, as a metric label (`switchboard_webhooks_total`'s `outcome`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownChannel(_) => "unknown_channel",
            Self::ChannelOff(_) => "channel_off",
            Self::TooLarge { .. } => "too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::Rejected(_) => "rejected",
            Self::Unverifiable(_) => "unverifiable",
            Self::Plugin(_) => "plugin_error",
            Self::Store(_) => "store_error",
        }
    }

    /// Seconds the sender should wait before sending again, when it is worth
    /// saying (`Retry-After`).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            Self::ChannelOff(_) => Some(CHANNEL_OFF_RETRY_AFTER_SECS),
            _ => None,
        }
    }
}

/// What a provider is told to wait before resending a webhook to a channel
/// that is installed but not running: long enough not to hammer a disabled
/// channel, short enough that a re-enable or an upgrade loses little time.
const CHANNEL_OFF_RETRY_AFTER_SECS: u64 = 60;

/// Verifies and stores one webhook request for `channel`, and counts what
/// became of it. Its span carries the stored event's id, which the apply's
/// span (`webhook.apply`) carries too.
#[tracing::instrument(level = "debug", name = "webhook.ingest", skip_all, fields(channel = %channel, event_id = tracing::field::Empty, outcome = tracing::field::Empty))]
pub async fn receive(
    state: &AppState,
    channel: &str,
    request: IncomingRequest,
) -> Result<Received, IngestError> {
    let received = verify_and_store(state, channel, request).await;
    if let Ok(Received::Stored(id)) = &received {
        tracing::Span::current().record("event_id", *id);
    }
    let outcome = match &received {
        Ok(Received::Stored(_)) => "stored",
        Ok(Received::Duplicate) => "duplicate",
        Ok(Received::Challenge(_)) => "challenge",
        Err(e) => e.reason(),
    };
    // The channel comes from the URL: an unknown one is not a label of its
    // own, or anyone could grow the exposition without bound.
    let channel = match &received {
        Err(IngestError::UnknownChannel(_)) => "unknown".to_owned(),
        _ => channel.to_owned(),
    };
    tracing::Span::current().record("outcome", outcome);
    metrics::counter!("switchboard_webhooks_total", "channel" => channel, "outcome" => outcome).increment(1);
    received
}

async fn verify_and_store(
    state: &AppState,
    channel: &str,
    request: IncomingRequest,
) -> Result<Received, IngestError> {
    let Some(plugin) = state.plugins.get_current(channel).await else {
        return Err(match state.store.get_plugin(channel).await {
            Ok(_) => IngestError::ChannelOff(channel.to_owned()),
            Err(StoreError::NotFound(_)) => IngestError::UnknownChannel(channel.to_owned()),
            Err(e) => IngestError::Store(e),
        });
    };
    let limit = state.pipeline.config.webhook_max_bytes;
    if request.body.len() > limit {
        return Err(IngestError::TooLarge { limit });
    }
    state
        .pipeline
        .rates
        .take(channel)
        .map_err(|retry_after_secs| IngestError::RateLimited { retry_after_secs })?;
    let settings = state.plugins.settings_for(&plugin.manifest);
    let verified = plugin.instance.verify_and_parse(&settings, &request).await;
    // A parse that faulted after verification accepted is the plugin's fault
    // all the same: it counts towards quarantine.
    let failure = match &verified {
        Err(failure) | Ok((_, Some(Err(failure)))) if !matches!(failure, PluginError::Channel { .. }) => {
            Some(failure)
        }
        _ => None,
    };
    state.plugins.record_failure(&plugin, failure).await;
    let (verification, parsed) = match verified {
        Ok(both) => both,
        // Verification itself did not answer. A fault the same request
        // reproduces (a trap, the deadline, a cap, an answer over budget) is
        // answered as the request's, not as the server's: a 4xx, so the
        // provider does not retry it for as long as it retries 5xx, each retry
        // costing a sandboxed call that fails again. Nothing is stored: an
        // unverified request is not an event. A shortage of the host's (the
        // memory budget, sandbox slots) is a 503, retried later.
        Err(fault) => {
            tracing::warn!(channel, path = %request.path, "webhook not verified: {fault}");
            return Err(if classify(&fault) == Fault::Deterministic {
                IngestError::Unverifiable(fault)
            } else {
                IngestError::Plugin(fault)
            });
        }
    };
    match verification {
        Verification::Accepted => {}
        Verification::Rejected(reason) => {
            tracing::warn!(channel, path = %request.path, %reason, "webhook rejected; nothing stored");
            return Err(IngestError::Rejected(reason));
        }
        Verification::Challenge(response) => return Ok(Received::Challenge(response)),
    }
    // A parse that fails here (its error or its fault) is stored all the
    // same, unordered: the apply parses again and records why, and a replay
    // after a plugin upgrade can still apply it.
    if let Some(Err(fault)) = &parsed
        && !matches!(fault, PluginError::Channel { .. })
    {
        tracing::warn!(
            channel,
            "verified webhook stored although its parse faulted: {fault}"
        );
    }
    let order_key = parsed
        .and_then(Result::ok)
        .and_then(|events| order_key(channel, &events));
    let headers: Vec<&(String, String)> = request
        .headers
        .iter()
        .filter(|(name, _)| !DROPPED_HEADERS.iter().any(|d| name.eq_ignore_ascii_case(d)))
        .collect();
    let headers_json = serde_json::to_string(&headers).expect("pairs serialize");
    let event = NewInboundEvent {
        channel: channel.to_owned(),
        body_sha256: hex::encode(Sha256::digest(&request.body)),
        method: request.method,
        path: request.path,
        query: request.query,
        headers_json,
        body: request.body,
        order_key,
    };
    let pipeline = &state.pipeline;
    pipeline
        .backlog
        .admit(
            &state.store,
            pipeline.config.inbound_backlog,
            Duration::from_millis(pipeline.config.inbound_backlog_wait_ms),
        )
        .await;
    let stored = pipeline.log.write(&state.store, event).await?;
    Ok(match stored {
        Some(id) => {
            state.pipeline.inbound_stored();
            Received::Stored(id)
        }
        None => Received::Duplicate,
    })
}

/// The conversation a webhook belongs to, as the order key of the inbound
/// log: channel, provider account and provider conversation of its first
/// event that names one. A webhook that carries events of several
/// conversations is ordered by its first; one that names none is not ordered.
fn order_key(channel: &str, events: &[ChannelEvent]) -> Option<String> {
    events.iter().find_map(|event| {
        let (account, conversation) = match event {
            ChannelEvent::Message(m) | ChannelEvent::Echo(m) => {
                (&m.channel_external_id, Some(&m.conversation_id))
            }
            ChannelEvent::Status(s) => (&s.channel_external_id, s.conversation_id.as_ref()),
            ChannelEvent::Ignored(_) => return None,
        };
        // The unit separator cannot appear in the parts' usual alphabets, so
        // distinct triples never collide.
        conversation.map(|c| format!("{channel}\u{1f}{account}\u{1f}{c}"))
    })
}

/// Most webhooks one commit of the inbound log takes.
const MAX_GROUP: usize = 64;

/// One reply slot per webhook waiting for its commit.
type Waiting = (NewInboundEvent, oneshot::Sender<Result<Option<i64>, StoreError>>);

/// The inbound log's group commit. Concurrent webhooks queue here; one task
/// writes everything queued in one transaction, then answers each. A webhook
/// is still acknowledged only after the commit that holds it, but a burst
/// shares one commit (and, on SQLite with `synchronous=FULL`, one sync to
/// disk) instead of paying one each. Nothing waits for company: a webhook
/// that finds the writer idle is written at once.
#[derive(Default)]
pub struct InboundLog {
    queue: OnceLock<mpsc::UnboundedSender<Waiting>>,
}

impl InboundLog {
    /// Logs one event; answers its id, or `None` for a provider's retry of a
    /// logged body.
    pub async fn write(&self, store: &Store, event: NewInboundEvent) -> Result<Option<i64>, StoreError> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(commit_groups(store.clone(), receiver));
            sender
        });
        let (reply, answer) = oneshot::channel();
        queue
            .send((event, reply))
            .map_err(|_| StoreError::Open("the inbound log writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Open("the inbound log writer has stopped".into()))?
    }
}

/// Writes queued events, as many as are waiting (up to [`MAX_GROUP`]) per
/// transaction, until every sender is gone.
async fn commit_groups(store: Store, mut queue: mpsc::UnboundedReceiver<Waiting>) {
    let mut group: Vec<Waiting> = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (events, replies): (Vec<_>, Vec<_>) = group.drain(..).unzip();
        match store.insert_inbound_events(&events).await {
            Ok(ids) => {
                for (reply, id) in replies.into_iter().zip(ids) {
                    let _ = reply.send(Ok(id));
                }
            }
            Err(e) => {
                // None of the group was stored: each webhook gets the error
                // (a 5xx), and the provider retries it.
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Open(format!(
                        "cannot log the webhook: {message}"
                    ))));
                }
            }
        }
    }
}
