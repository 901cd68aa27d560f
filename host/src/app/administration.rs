//! Server administration shared by the CLI and the super-admin API: create
//! accounts and users (with a first API token), turn feature flags on, read
//! and change the installation settings.

use super::AppError;
use crate::plugin_host::PluginHost;
use crate::plugin_host::settings::{self, ConfigEntry, ConfigError};
use crate::store::{AccountRow, Store};

impl From<ConfigError> for AppError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::BadKey(_) => Self::Refused(e.to_string()),
            ConfigError::Secret(_) => Self::Internal(e.to_string()),
            ConfigError::Store(store) => Self::Store(store),
        }
    }
}

/// A user to create.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Email (unique).
    pub email: String,
    /// Name (defaults to the email's local part).
    pub name: Option<String>,
    /// Server-wide super admin.
    #[serde(default)]
    pub super_admin: bool,
    /// Account to join.
    pub account_id: Option<i64>,
    /// Role there: `agent` (default) or `administrator`.
    pub role: Option<String>,
}

/// A created user with the token shown once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreatedUser {
    /// Id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Super admin.
    pub super_admin: bool,
    /// Account joined.
    pub account_id: Option<i64>,
    /// Role there.
    pub role: Option<String>,
    /// The API access token (not stored in clear; shown only now).
    pub access_token: String,
}

/// Creates an account.
pub async fn create_account(store: &Store, name: &str, locale: Option<&str>) -> Result<AccountRow, AppError> {
    if name.trim().is_empty() {
        return Err(AppError::Refused("an account needs a name".into()));
    }
    Ok(store.insert_account(name.trim(), locale.unwrap_or("en")).await?)
}

/// Creates a user and their first token, and adds them to an account.
pub async fn create_user(store: &Store, user: NewUser) -> Result<CreatedUser, AppError> {
    if !user.email.contains('@') || user.email.contains(char::is_whitespace) {
        return Err(AppError::Refused(format!(
            "{:?} is not an email address",
            user.email
        )));
    }
    let role_name = user.role.clone().unwrap_or_else(|| "agent".into());
    let role = crate::accounts::role::parse(&role_name)
        .ok_or_else(|| AppError::Refused(format!("role {role_name:?} is not agent or administrator")))?;
    if let Some(account_id) = user.account_id {
        store.get_account(account_id).await?;
    }
    let name = user
        .name
        .clone()
        .unwrap_or_else(|| user.email.split('@').next().unwrap_or_default().to_owned());
    let token = crate::accounts::new_token();
    let digest = crate::runtime::Runtime::sha256(token.as_bytes());
    let id = store
        .insert_user_with_token(&name, &user.email, user.super_admin, &digest)
        .await?;
    if let Some(account_id) = user.account_id {
        store.set_membership(account_id, id, role).await?;
    }
    Ok(CreatedUser {
        id,
        email: user.email,
        name,
        super_admin: user.super_admin,
        account_id: user.account_id,
        role: user.account_id.map(|_| role_name),
        access_token: token,
    })
}

/// A flag's name: lower case a-z, 0-9 and '_' (Chatwoot's, e.g.
/// `channel_tiktok`).
fn check_flag(flag: &str) -> Result<(), AppError> {
    if flag.is_empty()
        || !flag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(AppError::Refused(format!(
            "flag {flag:?} must be lower case a-z, 0-9 and '_'"
        )));
    }
    Ok(())
}

/// Turns a feature flag on; answers the account's flags.
pub async fn enable_feature(store: &Store, account_id: i64, flag: &str) -> Result<Vec<String>, AppError> {
    check_flag(flag)?;
    store.enable_feature(account_id, flag).await?;
    Ok(store.account_features(account_id).await?)
}

/// Turns a feature flag off; answers the account's flags.
pub async fn disable_feature(store: &Store, account_id: i64, flag: &str) -> Result<Vec<String>, AppError> {
    check_flag(flag)?;
    store.disable_feature(account_id, flag).await?;
    Ok(store.account_features(account_id).await?)
}

/// Accounts shown at most on one page of the console.
pub const MAX_ACCOUNTS_LISTED: i64 = 500;

/// The first accounts (by id) with the feature flags each has on: two
/// queries, not one per account.
pub async fn accounts_with_features(store: &Store) -> Result<Vec<(AccountRow, Vec<String>)>, AppError> {
    let accounts = store.list_accounts(MAX_ACCOUNTS_LISTED).await?;
    let (Some(first), Some(last)) = (accounts.first(), accounts.last()) else {
        return Ok(Vec::new());
    };
    let mut flags = std::collections::HashMap::<i64, Vec<String>>::new();
    for (account_id, flag) in store.features_of_accounts(first.id, last.id).await? {
        flags.entry(account_id).or_default().push(flag);
    }
    Ok(accounts
        .into_iter()
        .map(|account| {
            let on = flags.remove(&account.id).unwrap_or_default();
            (account, on)
        })
        .collect())
}

/// Issues another API token for an existing user (shown once).
pub async fn issue_token(store: &Store, user_id: i64) -> Result<String, AppError> {
    store.get_user(user_id).await?;
    let token = crate::accounts::new_token();
    store
        .insert_token(user_id, &crate::runtime::Runtime::sha256(token.as_bytes()))
        .await?;
    Ok(token)
}

/// The installation settings (secret values hidden).
pub async fn list_config(plugins: &PluginHost) -> Result<Vec<ConfigEntry>, AppError> {
    Ok(settings::list_config(plugins).await?)
}

/// Sets an installation setting (sealed when secret) and applies it in this
/// process at once; other nodes apply it at their next sync.
pub async fn set_config(
    plugins: &PluginHost,
    key: &str,
    value: &str,
    secret: bool,
) -> Result<ConfigEntry, AppError> {
    let entry = settings::set_config(plugins, key, value, secret).await?;
    plugins.sync().await?;
    Ok(entry)
}

/// Sets several installation settings `(key, value, secret)` in turn (a
/// plugin's settings form), then applies them in this process with one sync.
/// A refused one stops there: those before it are kept, and applied.
pub async fn set_configs(plugins: &PluginHost, entries: &[(String, &str, bool)]) -> Result<(), AppError> {
    let mut refused = None;
    for (key, value, secret) in entries {
        if let Err(e) = settings::set_config(plugins, key, value, *secret).await {
            refused = Some(e);
            break;
        }
    }
    plugins.sync().await?;
    match refused {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
