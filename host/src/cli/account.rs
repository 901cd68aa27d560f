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
    /// Turn a feature flag off for an account.
    Disable {
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
    let (store, _) = super::open(config).await?;
    let (account, flags, json) = match command {
        FeatureCommand::Enable { account, flag, json } => {
            let flags = crate::app::administration::enable_feature(&store, account, &flag)
                .await
                .with_context(|| format!("account {account}"))?;
            (account, flags, json)
        }
        FeatureCommand::Disable { account, flag, json } => {
            let flags = crate::app::administration::disable_feature(&store, account, &flag)
                .await
                .with_context(|| format!("account {account}"))?;
            (account, flags, json)
        }
    };
    if json {
        super::print_json(&json!({ "account_id": account, "features": flags }))?;
    } else {
        println!("account {account} features: {}", flags.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
