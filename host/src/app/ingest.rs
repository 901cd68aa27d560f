//! Receiving a webhook: rate limit, size limit, the plugin's verification,
//! then one durable write. The caller acknowledges only after [`receive`]
//! answers, so an acknowledged webhook is always in the log.

use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::contract::{ChannelEvent, IncomingRequest, OutgoingResponse, Verification};
use crate::runtime::PluginError;
use crate::store::{NewInboundEvent, StoreError};

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
    /// No enabled plugin by that id.
    #[error("no enabled channel named {0:?} receives webhooks here")]
    UnknownChannel(String),
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
    /// The plugin failed while verifying.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The log could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifies and stores one webhook request for `channel`.
pub async fn receive(
    state: &AppState,
    channel: &str,
    request: IncomingRequest,
) -> Result<Received, IngestError> {
    let plugin = state
        .plugins
        .get(channel)
        .ok_or_else(|| IngestError::UnknownChannel(channel.to_owned()))?;
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
    let (verification, parsed) = plugin.instance.verify_and_parse(&settings, &request).await?;
    match verification {
        Verification::Accepted => {}
        Verification::Rejected(reason) => {
            tracing::warn!(channel, path = %request.path, %reason, "webhook rejected; nothing stored");
            return Err(IngestError::Rejected(reason));
        }
        Verification::Challenge(response) => return Ok(Received::Challenge(response)),
    }
    // A parse that fails here is stored all the same: the apply parses again
    // and records why, and a replay after a plugin upgrade can still apply it.
    let order_key = parsed
        .and_then(Result::ok)
        .and_then(|events| order_key(channel, &events));
    let headers: Vec<&(String, String)> = request
        .headers
        .iter()
        .filter(|(name, _)| !DROPPED_HEADERS.iter().any(|d| name.eq_ignore_ascii_case(d)))
        .collect();
    let headers_json = serde_json::to_string(&headers).expect("pairs serialize");
    let body_sha256 = hex::encode(Sha256::digest(&request.body));
    let stored = state
        .store
        .insert_inbound_event(&NewInboundEvent {
            channel,
            body_sha256: &body_sha256,
            method: &request.method,
            path: &request.path,
            query: &request.query,
            headers_json: &headers_json,
            body: &request.body,
            order_key: order_key.as_deref(),
        })
        .await?;
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
