//! Rules of accounts and their users that need no storage: roles (Chatwoot's
//! integers and names) and API tokens (random, stored only as a digest).

/// Roles in an account (Chatwoot's integers).
pub mod role {
    /// May read and answer conversations in the inboxes they belong to.
    pub const AGENT: i64 = 0;
    /// May do everything in the account.
    pub const ADMINISTRATOR: i64 = 1;

    /// The role's name in JSON.
    pub fn name(role: i64) -> &'static str {
        if role == ADMINISTRATOR {
            "administrator"
        } else {
            "agent"
        }
    }

    /// A role from its JSON name.
    pub fn parse(name: &str) -> Option<i64> {
        match name {
            "agent" => Some(AGENT),
            "administrator" => Some(ADMINISTRATOR),
            _ => None,
        }
    }
}

/// A new random API token (or other unguessable id): 32 bytes, URL-safe base64.
pub fn new_token() -> String {
    use base64::Engine as _;
    use rand::Rng as _;
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// sha256 of a token, the form tokens are stored in.
pub fn token_digest(token: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}
