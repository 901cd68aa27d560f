//! `switchboard account` and `switchboard feature`: create accounts and turn
//! per-account feature flags on, without SQL.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use crate::config::HostConfig;

/// Account commands.
#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// Create an account.
    Create {
        /// The account's name.
        name: String,
        /// Locale code.
        #[arg(long, default_value = "en")]
        locale: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Feature-flag commands.
#[derive(Debug, clap::Subcommand)]
pub enum FeatureCommand {
    /// Turn a feature flag on for an account (e.g. `channel_tiktok`).
    Enable {
        /// The account.
        #[arg(long)]
        account: i64,
        /// The flag.
        flag: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: &HostConfig, command: AccountCommand) -> anyhow::Result<ExitCode> {
    let AccountCommand::Create { name, locale, json } = command;
    let (store, _) = super::open(config).await?;
    let account = crate::app::administration::create_account(&store, &name, Some(&locale)).await?;
    if json {
        super::print_json(&json!({ "id": account.id, "name": account.name, "locale": account.locale }))?;
    } else {
        println!("created account {} ({})", account.id, account.name);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_feature(config: &HostConfig, command: FeatureCommand) -> anyhow::Result<ExitCode> {
    let FeatureCommand::Enable { account, flag, json } = command;
    if flag.is_empty()
        || !flag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        anyhow::bail!("flag {flag:?} must be lower case a-z, 0-9 and '_'");
    }
    let (store, _) = super::open(config).await?;
    store
        .enable_feature(account, &flag)
        .await
        .with_context(|| format!("account {account}"))?;
    let flags = store.account_features(account).await?;
    if json {
        super::print_json(&json!({ "account_id": account, "features": flags }))?;
    } else {
        println!("account {account} features: {}", flags.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
