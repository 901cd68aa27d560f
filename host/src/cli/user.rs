//! `switchboard user`: create users and issue their API tokens, so that a new
//! server can be administered without writing SQL.

use std::process::ExitCode;

use crate::app::administration::{self, NewUser};
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
    /// Issue another API access token for an existing user (shown only once).
    Token {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: &HostConfig, command: UserCommand) -> anyhow::Result<ExitCode> {
    let (email, name, super_admin, account, role, json) = match command {
        UserCommand::Create {
            email,
            name,
            super_admin,
            account,
            role,
            json,
        } => (email, name, super_admin, account, role, json),
        UserCommand::Token { email, json } => return issue(config, &email, json).await,
    };
    let (store, _) = super::open(config).await?;
    let user = NewUser {
        email,
        name,
        super_admin,
        account_id: account,
        role: Some(role),
    };
    let created = administration::create_user(&store, user).await?;
    if json {
        super::print_json(&created)?;
    } else {
        println!(
            "created user {} <{}>{}",
            created.id,
            created.email,
            if created.super_admin { " (super admin)" } else { "" }
        );
        if let (Some(account_id), Some(role)) = (created.account_id, &created.role) {
            println!("member of account {account_id} as {role}");
        }
        println!("api_access_token: {}", created.access_token);
    }
    Ok(ExitCode::SUCCESS)
}

async fn issue(config: &HostConfig, email: &str, json: bool) -> anyhow::Result<ExitCode> {
    let (store, _) = super::open(config).await?;
    let Some(user) = store.user_by_email(email).await? else {
        eprintln!("error: no user has the email {email:?}");
        return Ok(ExitCode::from(1));
    };
    let token = administration::issue_token(&store, user.id).await?;
    if json {
        super::print_json(&serde_json::json!({ "id": user.id, "email": user.email, "access_token": token }))?;
    } else {
        println!("api_access_token: {token}");
    }
    Ok(ExitCode::SUCCESS)
}
