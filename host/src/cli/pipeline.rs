//! `switchboard channel …`, `switchboard events …` and `switchboard
//! deliveries …`: provider webhook registration, the inbound event log, and
//! the outbound delivery jobs. Changes are written to the database, where a
//! running server's workers (on any node) pick them up.

use std::process::ExitCode;

use anyhow::Context;

use super::{open, print_json};
use crate::channel_accounts::webhooks;
use crate::config::HostConfig;
use crate::store::pipeline::{event_status, job_state};

/// `switchboard channel …`
#[derive(Debug, clap::Subcommand)]
pub enum ChannelCommand {
    /// Point the provider's webhook callback for this channel's app at this
    /// server (`<FRONTEND_URL>/webhooks/<channel>`), and show the result.
    RegisterWebhook {
        /// Channel plugin id, e.g. `tiktok`.
        channel: String,
        /// Register this URL instead.
        #[arg(long)]
        url: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the provider's current webhook registration.
    Webhook {
        /// Channel plugin id.
        channel: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `switchboard events …`
#[derive(Debug, clap::Subcommand)]
pub enum EventsCommand {
    /// List the inbound event log, newest first.
    List {
        /// Only events in this state: pending, applied, ignored, failed.
        #[arg(long)]
        status: Option<String>,
        /// Only events of this channel.
        #[arg(long)]
        channel: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Apply stored events again (e.g. after a plugin upgrade fixed a
    /// parser). Idempotent: nothing already applied is duplicated.
    ///
    /// The replay window: finished events (applied, ignored, failed) are
    /// kept for SWITCHBOARD_RETAIN_EVENTS_DAYS days after they were received
    /// (default 30; 0 keeps them forever) and pruned after that, so only
    /// events younger than that can be replayed. Pending events are never
    /// pruned.
    Replay {
        /// These event ids.
        ids: Vec<i64>,
        /// Every event in this state: applied, ignored, failed.
        #[arg(long)]
        status: Option<String>,
        /// Every event of this channel.
        #[arg(long)]
        channel: Option<String>,
    },
}

/// `switchboard deliveries …`
#[derive(Debug, clap::Subcommand)]
pub enum DeliveriesCommand {
    /// List delivery jobs, newest first (`--state dead` is the dead-letter list).
    List {
        /// Only jobs in this state: queued, done, dead.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send dead-lettered messages again.
    Retry {
        /// Delivery job ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
}

pub async fn run_channel(config: &HostConfig, command: ChannelCommand) -> anyhow::Result<ExitCode> {
    let (store, plugins) = open(config).await?;
    plugins.sync().await.context("loading plugins")?;
    let (channel, json, result) = match command {
        ChannelCommand::RegisterWebhook { channel, url, json } => {
            let target = url
                .clone()
                .unwrap_or_else(|| webhooks::callback_url(&plugins, &channel));
            if !json {
                println!("registering {target} as the {channel} webhook callback…");
            }
            let result = webhooks::register(&plugins, &channel, url.as_deref()).await;
            (channel, json, result)
        }
        ChannelCommand::Webhook { channel, json } => {
            let result = webhooks::current(&plugins, &channel).await;
            (channel, json, result)
        }
    };
    store.close().await;
    match result {
        Ok(registration) if json => {
            print_json(&registration)?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(registration) => {
            match &registration.callback_url {
                Some(url) => println!("{channel} webhook callback: {url}"),
                None => println!("{channel} has no webhook callback registered"),
            }
            for (key, value) in &registration.details {
                println!("  {key}: {value}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn check(value: Option<&str>, allowed: &[&str], what: &str) -> anyhow::Result<()> {
    match value {
        Some(v) if !allowed.contains(&v) => anyhow::bail!("unknown {what} {v:?}: use {}", allowed.join(", ")),
        _ => Ok(()),
    }
}

pub async fn run_events(config: &HostConfig, command: EventsCommand) -> anyhow::Result<ExitCode> {
    let statuses = [
        event_status::PENDING,
        event_status::APPLIED,
        event_status::IGNORED,
        event_status::FAILED,
    ];
    let (store, _) = open(config).await?;
    let code = match command {
        EventsCommand::List {
            status,
            channel,
            limit,
            json,
        } => {
            check(status.as_deref(), &statuses, "event status")?;
            let events = store
                .list_inbound_events(status.as_deref(), channel.as_deref(), limit.clamp(1, 10_000))
                .await?;
            if json {
                let rows: Vec<_> = events
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "id": e.id, "channel": e.channel, "status": e.status, "reason": e.reason,
                            "attempts": e.attempts, "received_at": e.received_at, "applied_at": e.applied_at,
                        })
                    })
                    .collect();
                print_json(&rows)?;
            } else {
                for e in &events {
                    println!(
                        "{:>8}  {:<10} {:<8} attempts {:<2} {}",
                        e.id,
                        e.channel,
                        e.status,
                        e.attempts,
                        e.reason.as_deref().unwrap_or("")
                    );
                }
                println!("{} event(s)", events.len());
            }
            ExitCode::SUCCESS
        }
        EventsCommand::Replay { ids, status, channel } => {
            check(status.as_deref(), &statuses[1..], "event status")?;
            if ids.is_empty() && status.is_none() && channel.is_none() {
                anyhow::bail!("name the events to replay: ids, --status or --channel");
            }
            let ids = (!ids.is_empty()).then_some(ids);
            let n = store
                .replay_inbound_events(ids.as_deref(), status.as_deref(), channel.as_deref())
                .await?;
            println!("{n} event(s) queued to be applied again; a running server applies them");
            if n == 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
    };
    store.close().await;
    Ok(code)
}

pub async fn run_deliveries(config: &HostConfig, command: DeliveriesCommand) -> anyhow::Result<ExitCode> {
    let (store, _) = open(config).await?;
    let code = match command {
        DeliveriesCommand::List { state, limit, json } => {
            check(
                state.as_deref(),
                &[job_state::QUEUED, job_state::DONE, job_state::DEAD],
                "delivery state",
            )?;
            let jobs = store
                .list_delivery_jobs(state.as_deref(), limit.clamp(1, 10_000))
                .await?;
            if json {
                let rows: Vec<_> = jobs
                    .iter()
                    .map(|j| {
                        serde_json::json!({
                            "id": j.id, "message_id": j.message_id, "state": j.state, "attempts": j.attempts,
                            "attempts_in_doubt": j.attempts_in_doubt, "last_error": j.last_error,
                        })
                    })
                    .collect();
                print_json(&rows)?;
            } else {
                for j in &jobs {
                    println!(
                        "{:>8}  message {:<8} {:<7} attempts {:<2} {}",
                        j.id,
                        j.message_id,
                        j.state,
                        j.attempts,
                        j.last_error.as_deref().unwrap_or("")
                    );
                }
                println!("{} job(s)", jobs.len());
            }
            ExitCode::SUCCESS
        }
        DeliveriesCommand::Retry { ids } => {
            let mut refused = false;
            for id in ids {
                let job = store.get_delivery_job(id).await?;
                if job.state == job_state::DEAD && store.requeue_delivery(job.message_id).await? {
                    println!("delivery job {id} (message {}) queued again", job.message_id);
                } else {
                    eprintln!(
                        "delivery job {id} is {}; only dead-lettered jobs can be retried",
                        job.state
                    );
                    refused = true;
                }
            }
            if refused {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
    };
    store.close().await;
    Ok(code)
}
