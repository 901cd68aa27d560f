//! The `switchboard` command line: one file per command group. Commands
//! return an exit code: 0 done, 1 nothing matched or refused, 2 error.

mod account;
mod backup;
#[cfg(feature = "bench")]
mod bench;
#[cfg(feature = "bench")]
mod bench_api;
#[cfg(feature = "bench")]
mod bench_isolation;
#[cfg(feature = "bench")]
mod bench_latency;
#[cfg(feature = "bench")]
mod bench_summary;
#[cfg(feature = "bench")]
mod bench_webhooks;
mod blobs;
mod config;
mod pipeline;
mod plugin;
mod serve;
pub mod telemetry;
mod user;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::HostConfig;
use crate::plugin_host::PluginHost;
use crate::runtime::Runtime;
use crate::store::Store;

/// Switchboard: a customer-conversation server with sandboxed channel plugins.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub config: HostConfig,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Check the whole configuration (flags, environment, database, secret
    /// key, plugins) as `serve` would, without serving; exits non-zero on
    /// the first problem.
    Check(serve::ServeArgs),
    /// Install and manage channel plugins (works with or without a running server).
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Create users and their API tokens.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Create accounts.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Turn per-account feature flags on or off.
    #[command(subcommand)]
    Feature(account::FeatureCommand),
    /// Installation settings (e.g. a channel's app id and secret).
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Encryption keys of secrets at rest.
    #[command(subcommand)]
    Secrets(config::SecretsCommand),
    /// A channel's registration at its provider (e.g. TikTok's webhook callback).
    #[command(subcommand)]
    Channel(pipeline::ChannelCommand),
    /// The inbound event log: list, replay.
    #[command(subcommand)]
    Events(pipeline::EventsCommand),
    /// Outbound delivery jobs and the dead-letter list: list, retry.
    #[command(subcommand)]
    Deliveries(pipeline::DeliveriesCommand),
    /// Copy a SQLite database consistently while the server serves it.
    Backup(backup::BackupArgs),
    /// The blob store of attachments (`SWITCHBOARD_BLOBS`).
    #[command(subcommand)]
    Blobs(blobs::BlobsCommand),
    /// Measure plugins (compile, call latency, memory) or the API at scale.
    #[cfg(feature = "bench")]
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Sets up logging and, when an OTLP endpoint is configured, trace export
/// (see [`telemetry`]); keep the answer until the process exits.
pub fn init_tracing(cli: &Cli) -> telemetry::Telemetry {
    telemetry::init(cli.config.log_json)
}

/// Runs a parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(&cli.config, args).await,
        Command::Check(args) => serve::check(&cli.config, args).await,
        Command::Plugin(command) => plugin::run(&cli.config, command).await,
        Command::User(command) => user::run(&cli.config, command).await,
        Command::Account(command) => account::run(&cli.config, command).await,
        Command::Feature(command) => account::run_feature(&cli.config, command).await,
        Command::Config(command) => config::run(&cli.config, command).await,
        Command::Secrets(command) => config::run_secrets(&cli.config, command).await,
        Command::Channel(command) => pipeline::run_channel(&cli.config, command).await,
        Command::Events(command) => pipeline::run_events(&cli.config, command).await,
        Command::Deliveries(command) => pipeline::run_deliveries(&cli.config, command).await,
        Command::Backup(args) => backup::run(&cli.config, args).await,
        Command::Blobs(command) => blobs::run(&cli.config, command).await,
        #[cfg(feature = "bench")]
        Command::Bench(command) => bench::run(&cli.config, command).await,
    }
}

/// Opens the store and an (unsynced) plugin host, as every command needs.
async fn open(config: &HostConfig) -> anyhow::Result<(Store, Arc<PluginHost>)> {
    let url = config.database_url();
    let store = Store::open(&url)
        .await
        .with_context(|| format!("opening {}", redact(&url)))?;
    let runtime = Runtime::new(config.runtime()).context("starting the WebAssembly runtime")?;
    // One node on SQLite may keep its key in the data folder; several nodes
    // on PostgreSQL must share SWITCHBOARD_SECRET_KEY.
    let key_dir = (store.dialect() == crate::store::Dialect::Sqlite).then_some(config.data_dir.as_path());
    let secrets = crate::secrets::SecretBox::from_env(key_dir).context("loading the secrets key")?;
    let host = PluginHost::new(runtime, store.clone(), config.egress(), Arc::new(secrets));
    host.set_fault_limit(config.plugin_fault_limit);
    Ok((store, host))
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Prints `value` as pretty JSON.
fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
