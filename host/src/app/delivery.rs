//! Sending outgoing messages from their durable jobs.
//!
//! The claim records the attempt (attempts + 1, `attempt_open`) before the
//! plugin sends; the outcome is recorded with the message in one
//! transaction. What remains is an at-least-once window: if the process dies
//! after the provider accepted a message and before the outcome is recorded,
//! the lease runs out and the message is sent again. The next claim sees the
//! open attempt and counts it in `attempts_in_doubt`, so every possible
//! duplicate is visible. Providers that accept idempotency keys get the
//! message's stable key and close the window themselves.

use serde_json::Value;

use super::announce::{InTransaction, committed};
use super::{AppError, AppState};
use crate::blobs::BlobError;
use crate::channel_accounts::credentials::{self, CredentialError};
use crate::contract::{
    ChannelContext, Credentials, DeliveryStatus, ErrorCode, OutboundAttachment, OutboundMessage,
};
use crate::conversations::{MessageStatus, MessageType, attachment_kind};
use crate::plugin_host::{LoadedPlugin, health};
use crate::runtime::PluginError;
use crate::store::{ConversationRow, DeliveryJobRow, InboxRow, MessageRow, StoreError};

/// Why an attempt did not deliver.
struct Failure {
    message: String,
    retryable: bool,
    retry_after_ms: Option<i64>,
}

impl Failure {
    fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
            retry_after_ms: None,
        }
    }

    fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
            retry_after_ms: None,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::transient(e.to_string())
    }
}

impl From<CredentialError> for Failure {
    fn from(e: CredentialError) -> Self {
        Failure {
            retryable: e.retryable(),
            message: e.to_string(),
            retry_after_ms: None,
        }
    }
}

/// Makes one attempt at a claimed job and records its outcome.
#[tracing::instrument(level = "debug", name = "delivery.attempt", skip_all, fields(job_id = job.id, message_id = job.message_id, attempt = job.attempts))]
pub async fn deliver(state: &AppState, job: DeliveryJobRow) {
    let config = &state.pipeline.config;
    let outcome = attempt(state, &job).await;
    // The outcome, the message's new state and its account webhooks'
    // `message_updated` commit together.
    let mut pending = InTransaction::default();
    let recorded = async {
        let mut tx = state.store.begin_write().await?;
        let message_changed = match outcome {
            Ok(Sent {
                status,
                source_id,
                inbox_id,
            }) => {
                let echo_copy = tx
                    .record_delivery(&job, inbox_id, status, source_id.as_deref())
                    .await?;
                if let Some(echo_copy) = echo_copy {
                    tracing::info!(
                        message = job.message_id,
                        echo_copy,
                        "removed the echo's copy of a sent message"
                    );
                }
                true
            }
            Err(failure) => match config.retry_delay(job.attempts, failure.retryable, failure.retry_after_ms)
            {
                Some(delay) => {
                    tracing::info!(message = job.message_id, attempt = job.attempts, delay_ms = delay,
                        reason = %failure.message, "send failed; retrying later");
                    tx.retry_delivery_later(job.id, delay, &failure.message).await?;
                    false
                }
                None => {
                    tracing::warn!(message = job.message_id, attempts = job.attempts, reason = %failure.message,
                        "send failed; the message is failed and its job dead-lettered");
                    tx.fail_delivery(&job, &failure.message).await?;
                    true
                }
            },
        };
        if message_changed {
            let message = (job.account_id, job.conversation_id, job.message_id);
            pending
                .message_updated(state, &mut tx, message, MessageType::Outgoing)
                .await?;
        }
        tx.commit().await
    };
    match recorded.await {
        Ok(()) => {
            committed(state, pending).await;
            announce(state, &job).await;
        }
        // The lease runs out and the job is attempted again, counted in doubt.
        Err(e) => tracing::error!(message = job.message_id, "cannot record the send's outcome: {e}"),
    }
}

async fn announce(state: &AppState, job: &DeliveryJobRow) {
    if let Ok(conversation) = state.store.conversation_by_id(job.conversation_id).await {
        crate::app::announce::message_by_id(state, conversation.account_id, conversation.id, job.message_id)
            .await;
    }
}

/// What a successful attempt recorded.
struct Sent {
    status: MessageStatus,
    source_id: Option<String>,
    inbox_id: i64,
}

async fn attempt(state: &AppState, job: &DeliveryJobRow) -> Result<Sent, Failure> {
    if job.attempts_in_doubt > 0 && job.attempts > 1 {
        tracing::warn!(
            message = job.message_id,
            in_doubt = job.attempts_in_doubt,
            "an earlier attempt ended without an outcome; the provider may receive this message twice"
        );
    }
    let store = &state.store;
    let message = store.message_by_id(job.account_id, job.message_id).await?;
    let conversation = store.conversation_by_id(job.conversation_id).await?;
    let inbox = store
        .get_inbox(conversation.account_id, conversation.inbox_id)
        .await?;
    if message.deleted {
        return Err(Failure::permanent(
            "the message was deleted before it could be sent",
        ));
    }
    let plugin = state
        .plugins
        .get(&inbox.channel)
        .ok_or_else(|| Failure::transient(format!("the {} channel is not enabled", inbox.channel)))?;
    let outbound = outbound_message(state, &conversation, &message).await?;
    let credentials = if plugin.manifest.supports_authorization {
        credentials::for_call(store, &state.plugins, &plugin, &inbox).await?
    } else {
        Credentials::default()
    };
    match send(state, &plugin, &inbox, credentials, &outbound).await {
        Err(PluginError::Channel { error, .. })
            if error.code == ErrorCode::Unauthorized && plugin.manifest.supports_authorization =>
        {
            // The provider refused a token we thought valid: refresh once
            // (single-flight) and try again within this attempt.
            let stale = credentials::sealed_now(store, inbox.id)
                .await?
                .unwrap_or_default();
            let fresh = credentials::refresh(store, &state.plugins, &plugin, &inbox, &stale).await?;
            finish(send(state, &plugin, &inbox, fresh, &outbound).await, inbox.id)
        }
        Err(PluginError::Channel { error, .. })
            if !error.retryable && state.plugins.refresh_if_stale().await =>
        {
            // An admin changed the plugin meanwhile (a grant, an upgrade):
            // retry with the change rather than fail under the old one.
            Err(Failure::transient(format!(
                "the plugin changed; sending again ({})",
                error.message
            )))
        }
        other => finish(other, inbox.id),
    }
}

async fn send(
    state: &AppState,
    plugin: &LoadedPlugin,
    inbox: &InboxRow,
    credentials: Credentials,
    outbound: &OutboundMessage,
) -> Result<crate::contract::SentMessage, PluginError> {
    let context = ChannelContext {
        settings: state.plugins.settings_for(&plugin.manifest),
        external_id: inbox.external_id.clone().unwrap_or_default(),
        credentials,
    };
    let sent = plugin.instance.send_message(&context, outbound).await;
    state.plugins.record_outcome(plugin, &sent).await;
    sent
}

fn finish(result: Result<crate::contract::SentMessage, PluginError>, inbox_id: i64) -> Result<Sent, Failure> {
    match result {
        Ok(sent) => Ok(Sent {
            status: match sent.status {
                DeliveryStatus::Delivered => MessageStatus::Delivered,
                DeliveryStatus::Read => MessageStatus::Read,
                DeliveryStatus::Failed => MessageStatus::Failed,
                DeliveryStatus::Sent => MessageStatus::Sent,
            },
            source_id: Some(sent.message_id).filter(|id| !id.trim().is_empty()),
            inbox_id,
        }),
        Err(PluginError::Channel { error, .. }) => Err(Failure {
            retryable: error.retryable && error.code != ErrorCode::ReauthorizationRequired,
            retry_after_ms: error
                .retry_after_ms
                .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
            message: error.message,
        }),
        // A trap, memory breach, answer over budget or timeout fails the same
        // way again: dead-lettered (retry it after an upgrade), not retried.
        Err(other) if !health::retryable(&other) => Err(Failure::permanent(other.to_string())),
        Err(other) => Err(Failure::transient(other.to_string())),
    }
}

async fn outbound_message(
    state: &AppState,
    conversation: &ConversationRow,
    message: &MessageRow,
) -> Result<OutboundMessage, Failure> {
    let mut attachments = Vec::new();
    for (a, content) in state.store.message_attachment_data(message.id).await? {
        // A blob store that does not answer is retried; an object it lost
        // will not come back.
        let data = super::messages::attachment_bytes(state, content)
            .await
            .map_err(|e| match e {
                AppError::Blob(BlobError::Missing(_)) => Failure::permanent(e.to_string()),
                other => Failure::transient(other.to_string()),
            })?;
        attachments.push(OutboundAttachment {
            kind: attachment_kind(a.file_type),
            file_name: a.file_name.unwrap_or_default(),
            mime_type: a.content_type.unwrap_or_default(),
            data,
        });
    }
    let recipient = conversation.source_id.clone().unwrap_or_default();
    Ok(OutboundMessage {
        conversation_id: recipient.clone(),
        recipient_id: recipient,
        text: message.content.clone().filter(|t| !t.is_empty()),
        attachments,
        reply_to: serde_json::from_str::<Value>(&message.content_attributes)
            .ok()
            .and_then(|a| a["in_reply_to_external_id"].as_str().map(str::to_owned)),
        idempotency_key: format!("message-{}", message.id),
    })
}
