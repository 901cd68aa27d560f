//! `switchboard blobs migrate`: moves attachment bytes written before the
//! blob store from their database rows into it (`SWITCHBOARD_BLOBS`), a
//! batch at a time, with progress. Safe to run while servers serve (they
//! read a row's bytes from wherever they are) and to kill: running it again
//! goes on where it stopped. `switchboard blobs sweep`: one pass of what
//! `serve`'s retention loop does to objects no row names.

use std::process::ExitCode;

use anyhow::Context;

use crate::config::HostConfig;
use crate::store::Store;

/// `blobs` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BlobsCommand {
    /// Move attachment bytes still held in the database to the blob store.
    Migrate(MigrateArgs),
    /// Remove the objects no attachment names any more (deleted messages,
    /// conversations, inboxes, accounts); `serve` does it every retention
    /// pass.
    Sweep(SweepArgs),
}

/// Flags of `blobs sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// Keep objects written less than this many minutes ago, named or not
    /// (an upload writes its object before its row commits).
    #[arg(long, env = "SWITCHBOARD_BLOBS_GRACE_MINUTES", default_value_t = 60)]
    pub grace_minutes: u64,
}

/// Flags of `blobs migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Attachments per batch: each batch's objects are written, then its
    /// rows changed in one transaction.
    #[arg(long, default_value_t = 100)]
    pub batch: i64,
}

pub async fn run(config: &HostConfig, command: BlobsCommand) -> anyhow::Result<ExitCode> {
    let url = config.database_url();
    let store = Store::open(&url)
        .await
        .with_context(|| format!("opening {}", super::redact(&url)))?;
    let blobs = config.blobs().context("opening the blob store")?;
    let args = match command {
        BlobsCommand::Migrate(args) => args,
        BlobsCommand::Sweep(args) => {
            let grace = std::time::Duration::from_secs(args.grace_minutes * 60);
            let removed = crate::app::ops::sweep_blobs(&store, &blobs, grace, crate::store::now_ms()).await?;
            store.close().await;
            println!(
                "removed {removed} object(s) no attachment names from {}",
                blobs.location()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    let left = store.inline_attachments().await?;
    println!(
        "{} attachment(s) ({}) to move to {}",
        left.rows,
        mib(left.bytes.max(0) as u64),
        blobs.location()
    );
    let (mut rows, mut bytes, mut after) = (0u64, 0u64, 0i64);
    while let Some(moved) =
        crate::app::ops::move_attachments_to_blobs(&store, &blobs, after, args.batch.max(1)).await?
    {
        rows += moved.rows;
        bytes += moved.bytes;
        after = moved.last_id;
        println!(
            "  moved {rows} of {} ({} of {}), up to attachment {after}",
            left.rows,
            mib(bytes),
            mib(left.bytes.max(0) as u64)
        );
    }
    store.close().await;
    println!("done: {rows} attachment(s) moved; none is left in the database");
    Ok(ExitCode::SUCCESS)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}
