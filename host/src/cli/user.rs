//! `switchboard user`: create users and issue their API tokens, so that a new
//! server can be administered without writing SQL.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use crate::api::role;
use crate::config::HostConfig;

/// User commands.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user and print their API access token (shown only once).
    Create {
        /// Email address (unique).
        #[arg(long)]
        email: String,
        /// Display name (defaults to the email's local part).
        #[arg(long)]
        name: Option<String>,
        /// Make the user a server-wide super admin.
        #[arg(long)]
        super_admin: bool,
        /// Add the user to this account.
        #[arg(long)]
        account: Option<i64>,
        /// Their role in `--account`: agent or administrator.
        #[arg(long, default_value = "agent", requires = "account")]
        role: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: &HostConfig, command: UserCommand) -> anyhow::Result<ExitCode> {
    let UserCommand::Create {
        email,
        name,
        super_admin,
        account,
        role,
        json,
    } = command;
    if !email.contains('@') {
        anyhow::bail!("{email:?} is not an email address");
    }
    let role_code =
        role::parse(&role).with_context(|| format!("role {role:?} is not agent or administrator"))?;
    let (store, _) = super::open(config).await?;
    if let Some(account_id) = account {
        store
            .get_account(account_id)
            .await
            .with_context(|| format!("account {account_id}"))?;
    }
    let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    let token = crate::api::new_token();
    let digest = crate::runtime::Runtime::sha256(token.as_bytes());
    let user_id = store
        .insert_user_with_token(&name, &email, super_admin, &digest)
        .await?;
    if let Some(account_id) = account {
        store.set_membership(account_id, user_id, role_code).await?;
    }
    if json {
        super::print_json(&json!({
            "id": user_id, "email": email, "name": name, "super_admin": super_admin,
            "account_id": account, "role": account.map(|_| role.as_str()), "access_token": token,
        }))?;
    } else {
        println!(
            "created user {user_id} <{email}>{}",
            if super_admin { " (super admin)" } else { "" }
        );
        if let Some(account_id) = account {
            println!("member of account {account_id} as {role}");
        }
        println!("api_access_token: {token}");
    }
    Ok(ExitCode::SUCCESS)
}
