//! Use cases of the durable pipeline for super admins: counts by state, the
//! inbound event log and its replay, the delivery jobs, and sending a
//! dead-lettered message again.

use super::{AppError, AppState};
use crate::store::pipeline::{event_status, job_state};
use crate::store::{DeliveryJobRow, InboundEventRow, PipelineCounts};

/// Most rows one list answers.
pub const MAX_LIST: i64 = 500;
/// Rows a list answers when no limit is asked for.
const DEFAULT_LIST: i64 = 100;

fn check_status(status: Option<&str>) -> Result<(), AppError> {
    match status {
        None => Ok(()),
        Some(s)
            if [
                event_status::PENDING,
                event_status::APPLIED,
                event_status::IGNORED,
                event_status::FAILED,
            ]
            .contains(&s) =>
        {
            Ok(())
        }
        Some(s) => Err(AppError::Invalid(format!(
            "unknown event status {s:?}: use pending, applied, ignored or failed"
        ))),
    }
}

/// Inbound events and delivery jobs, counted by state.
pub async fn counts(state: &AppState) -> Result<PipelineCounts, AppError> {
    Ok(state.store.pipeline_counts().await?)
}

/// Inbound events, newest first, optionally of one status and channel.
pub async fn events(
    state: &AppState,
    status: Option<&str>,
    channel: Option<&str>,
    limit: Option<i64>,
) -> Result<Vec<InboundEventRow>, AppError> {
    check_status(status)?;
    let limit = limit.unwrap_or(DEFAULT_LIST).clamp(1, MAX_LIST);
    Ok(state.store.list_inbound_events(status, channel, limit).await?)
}

/// Queues stored events to be applied again (idempotent); answers how many.
/// At least one of the filters must be given.
pub async fn replay(
    state: &AppState,
    ids: Option<&[i64]>,
    status: Option<&str>,
    channel: Option<&str>,
) -> Result<u64, AppError> {
    check_status(status)?;
    if ids.is_none() && status.is_none() && channel.is_none() {
        return Err(AppError::Invalid(
            "name the events to replay: ids, status or channel".into(),
        ));
    }
    let replayed = state.store.replay_inbound_events(ids, status, channel).await?;
    state.pipeline.inbound_stored();
    Ok(replayed)
}

/// Delivery jobs, newest first, optionally in one state (`dead` is the
/// dead-letter list).
pub async fn deliveries(
    state: &AppState,
    job: Option<&str>,
    limit: Option<i64>,
) -> Result<Vec<DeliveryJobRow>, AppError> {
    if let Some(s) = job
        && ![job_state::QUEUED, job_state::DONE, job_state::DEAD].contains(&s)
    {
        return Err(AppError::Invalid(format!(
            "unknown delivery state {s:?}: use queued, done or dead"
        )));
    }
    let limit = limit.unwrap_or(DEFAULT_LIST).clamp(1, MAX_LIST);
    Ok(state.store.list_delivery_jobs(job, limit).await?)
}

/// Sends a dead-lettered message again (its message goes back to `sent`);
/// answers the job.
pub async fn retry_delivery(state: &AppState, id: i64) -> Result<DeliveryJobRow, AppError> {
    let job = state.store.get_delivery_job(id).await?;
    let mut tx = state.store.begin_write().await?;
    if job.state != job_state::DEAD || !tx.requeue_delivery(job.message_id).await? {
        return Err(AppError::Refused(format!(
            "delivery job {id} is {}; only dead-lettered jobs can be retried",
            job.state
        )));
    }
    let mut pending = super::announce::InTransaction::default();
    let changed = (job.account_id, job.conversation_id, job.message_id);
    pending
        .message_updated(state, &mut tx, changed, crate::chatwoot::MessageType::Outgoing)
        .await?;
    tx.commit().await?;
    super::announce::committed(state, pending).await;
    state.pipeline.delivery_queued();
    super::announce::message_by_id(state, job.account_id, job.conversation_id, job.message_id).await;
    Ok(state.store.get_delivery_job(id).await?)
}
