//! `switchboard user`: create users, set their passwords (never echoed, never
//! on the command line, where `ps` and shell history would keep them) and
//! issue their API tokens, so that a new server can be administered without
//! writing SQL.

use std::process::ExitCode;

use std::io::IsTerminal as _;

use crate::app::administration::{self, NewUser};
use crate::app::sessions;
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
        /// Read a password for the dashboard's sign-in from the first line of
        /// standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password for the dashboard's sign-in: asked twice on the
    /// terminal without echo, or read from the first line of standard input
    /// when it is not a terminal. Ends the user's sessions.
    Password {
        /// The user's email.
        email: String,
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
    let (email, name, super_admin, account, role, password_stdin, json) = match command {
        UserCommand::Create {
            email,
            name,
            super_admin,
            account,
            role,
            password_stdin,
            json,
        } => (email, name, super_admin, account, role, password_stdin, json),
        UserCommand::Token { email, json } => return issue(config, &email, json).await,
        UserCommand::Password { email } => return password(config, &email).await,
    };
    // Read before opening the database, so a missing password fails first.
    let password = if password_stdin { Some(stdin_line()?) } else { None };
    if let Some(reason) = password.as_deref().and_then(crate::accounts::password::refusal) {
        anyhow::bail!("{reason}");
    }
    let (store, _) = super::open(config).await?;
    let user = NewUser {
        email,
        name,
        super_admin,
        account_id: account,
        role: Some(role),
    };
    let created = administration::create_user(&store, user).await?;
    if let Some(password) = &password {
        sessions::set_password(&store, &created.email, password).await?;
    }
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

/// The first line of standard input, without its line ending.
fn stdin_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn password(config: &HostConfig, email: &str) -> anyhow::Result<ExitCode> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {email}: "))?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            eprintln!("error: the two passwords differ; nothing changed");
            return Ok(ExitCode::from(1));
        }
        first
    } else {
        stdin_line()?
    };
    let (store, _) = super::open(config).await?;
    match sessions::set_password(&store, email, &password).await {
        Ok(()) => {
            println!("password set for {email}");
            Ok(ExitCode::SUCCESS)
        }
        Err(crate::app::AppError::NotFound(message)) => {
            eprintln!("error: {message}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}
