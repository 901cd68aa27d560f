//! `switchboard backup FILE`: a consistent copy of a SQLite database taken
//! while a server serves it. `VACUUM INTO` reads one snapshot (WAL lets the
//! server keep writing meanwhile) into `FILE.partial`; the copy's size is
//! reported as it grows, the copy is checked, and only then renamed to
//! FILE, so a FILE that exists is a whole backup. The database is opened
//! as it is, never migrated. PostgreSQL is refused with the standard tools
//! named.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::config::HostConfig;
use crate::store::{Dialect, Store};

/// Flags of `backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the copy (must not exist). Restore by stopping the
    /// server and putting it in place of the database file, or by pointing
    /// DATABASE_URL at it; keep the secrets key (data/secret.key or
    /// SWITCHBOARD_SECRET_KEY) with it, or its sealed credentials are lost.
    pub file: PathBuf,
}

pub async fn run(config: &HostConfig, args: BackupArgs) -> anyhow::Result<ExitCode> {
    // The database as it is: no migration runs (a backup copies, it does
    // not upgrade a database a server of another version may be using),
    // and no empty file is created where none is.
    let url = config.database_url().replace("mode=rwc", "mode=rw");
    let store = Store::open_unmigrated(&url)
        .await
        .with_context(|| format!("opening {}", super::redact(&url)))?;
    if store.dialect() == Dialect::Postgres {
        eprintln!(
            "switchboard backup copies SQLite databases; this one is PostgreSQL. Use its own tools: \
             pg_dump (a logical copy: pg_dump -Fc -f switchboard.dump DATABASE) or pg_basebackup (a \
             physical copy of the cluster, with WAL archiving for point-in-time recovery). Keep \
             SWITCHBOARD_SECRET_KEY with the copy: the sealed provider credentials need it."
        );
        return Ok(ExitCode::from(1));
    }
    anyhow::ensure!(
        !args.file.exists(),
        "{} exists; choose a new file (a backup never overwrites)",
        args.file.display()
    );
    let partial = partial_path(&args.file);
    // A partial file is a copy that was interrupted: never a backup.
    let _ = std::fs::remove_file(&partial);
    let total = store.sqlite_size().await?;
    eprintln!(
        "backing up {} ({}) to {}",
        super::redact(&url),
        mib(total),
        args.file.display()
    );
    let started = Instant::now();
    let progress = tokio::spawn(report_progress(partial.clone(), total));
    let copied = store.backup_sqlite_into(&partial.to_string_lossy()).await;
    progress.abort();
    store.close().await;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e).context("copying the database");
    }
    let integrity = Store::check_sqlite_file(&partial)
        .await
        .context("checking the copy")?;
    if integrity != "ok" {
        anyhow::bail!(
            "the copy in {} fails its integrity check: {integrity}",
            partial.display()
        );
    }
    std::fs::rename(&partial, &args.file)
        .with_context(|| format!("renaming {} to {}", partial.display(), args.file.display()))?;
    let size = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    println!(
        "backup written: {} ({}, integrity ok) in {:.1} s",
        args.file.display(),
        mib(size),
        started.elapsed().as_secs_f64()
    );
    println!(
        "keep the secrets key with it ({} or SWITCHBOARD_SECRET_KEY): without it the sealed credentials cannot be opened",
        config.data_dir.join("secret.key").display()
    );
    Ok(ExitCode::SUCCESS)
}

fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Prints how much of the copy is written, every half second, until aborted.
/// The copy is compact (free pages are not copied), so it may end short of
/// the total.
async fn report_progress(partial: PathBuf, total: u64) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let written = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        let percent = (written as f64 / total.max(1) as f64 * 100.0).min(100.0);
        eprintln!("  {} of {} ({percent:.0}%)", mib(written), mib(total));
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}
