//! `switchboard user`: create users and issue their API tokens, so that a new
//! server can be administered without writing SQL.

use std::process::ExitCode;

use rand::Rng;
use serde_json::json;

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
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A new random API token: 32 bytes, URL-safe base64.
pub fn new_token() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub async fn run(config: &HostConfig, command: UserCommand) -> anyhow::Result<ExitCode> {
    let UserCommand::Create {
        email,
        name,
        super_admin,
        json,
    } = command;
    if !email.contains('@') {
        anyhow::bail!("{email:?} is not an email address");
    }
    let (store, _) = super::open(config).await?;
    let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    let token = new_token();
    let digest = crate::runtime::Runtime::sha256(token.as_bytes());
    let user_id = store
        .insert_user_with_token(&name, &email, super_admin, &digest)
        .await?;
    if json {
        super::print_json(
            &json!({ "id": user_id, "email": email, "super_admin": super_admin, "access_token": token }),
        )?;
    } else {
        println!(
            "created user {user_id} <{email}>{}",
            if super_admin { " (super admin)" } else { "" }
        );
        println!("api_access_token: {token}");
    }
    Ok(ExitCode::SUCCESS)
}
