//! `switchboard config` (installation settings, e.g. a channel's app id and
//! secret) and `switchboard secrets rotate` (re-seal stored secrets after a
//! key change).

use std::process::ExitCode;

use crate::config::HostConfig;
use crate::plugin_host::settings;

/// Config commands.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Set a setting. Plugin setting `k` of plugin `p` is `P_K` (e.g.
    /// `TIKTOK_APP_SECRET`); secrets are stored encrypted and never shown back.
    Set {
        /// Key (upper case).
        key: String,
        /// Value.
        value: String,
        /// Store it encrypted even if nothing marks it as secret.
        #[arg(long)]
        secret: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the settings (secret values masked).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Secrets commands.
#[derive(Debug, clap::Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every stored secret with SWITCHBOARD_SECRET_KEY (old keys in
    /// SWITCHBOARD_SECRET_KEYS_RETIRED).
    Rotate {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: &HostConfig, command: ConfigCommand) -> anyhow::Result<ExitCode> {
    let (_, host) = super::open(config).await?;
    match command {
        ConfigCommand::Set {
            key,
            value,
            secret,
            json,
        } => {
            let entry = settings::set_config(&host, &key, &value, secret).await?;
            if json {
                super::print_json(&entry)?;
            } else {
                println!(
                    "set {}{}",
                    entry.key,
                    if entry.secret {
                        " (secret, stored encrypted)"
                    } else {
                        ""
                    }
                );
            }
        }
        ConfigCommand::List { json } => {
            let entries = settings::list_config(&host).await?;
            if json {
                super::print_json(&entries)?;
            } else {
                for e in entries {
                    println!("{} = {}", e.key, e.value.as_deref().unwrap_or("(secret)"));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_secrets(config: &HostConfig, command: SecretsCommand) -> anyhow::Result<ExitCode> {
    let SecretsCommand::Rotate { json } = command;
    let (_, host) = super::open(config).await?;
    let changed = settings::rotate(&host).await?;
    if json {
        super::print_json(&serde_json::json!({ "resealed": changed }))?;
    } else {
        println!("re-encrypted {changed} stored secret(s) with the current key");
    }
    Ok(ExitCode::SUCCESS)
}
