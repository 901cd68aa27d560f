//! Use cases of signing in with a password: sign in (rate limited by address
//! and by account), resolve a session, sign out, set a password.
//!
//! One session serves both kinds of client: the dashboard keeps its token in
//! a cookie, API clients send it as devise-token-auth's `access-token`
//! header with its `client` and `uid`. Sessions, like API tokens, are stored
//! only as a digest.

use std::net::IpAddr;

use super::{AppError, AppState};
use crate::accounts::{new_token, password, token_digest};
use crate::store::{SessionRow, Store, TokenOwner, now_ms};

/// How long a session lasts.
pub const SESSION_TTL_MS: i64 = 14 * 24 * 3600 * 1000;
/// The window refused attempts are counted in.
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Refused attempts from one address within the window before it must wait.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// Refused attempts on one account within the window before it must wait
/// (whoever tries: this stops a spread-out guess at one password).
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 10;

/// A new session; the token is shown only now.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Who signed in.
    pub owner: TokenOwner,
    /// The session token (the cookie's value, devise's `access-token`).
    pub token: String,
    /// devise-token-auth's client id.
    pub client: String,
    /// The token forms of this session carry.
    pub csrf: String,
    /// When it ends (unix ms).
    pub expires_at: i64,
}

fn address_key(address: Option<IpAddr>) -> Option<String> {
    address.map(|a| format!("address:{a}"))
}

fn account_key(email: &str) -> String {
    format!("account:{}", email.trim().to_lowercase())
}

fn too_many() -> AppError {
    AppError::TooManyAttempts("Too many sign-in attempts; try again in 15 minutes".into())
}

/// Signs a user in with their email and password. Refuses before checking
/// the password when the address or the account has had too many refused
/// attempts lately; a refusal never says whether the email exists.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    given_password: &str,
    address: Option<IpAddr>,
) -> Result<SignedIn, AppError> {
    let now = now_ms();
    let since = now - FAILURE_WINDOW_MS;
    let by_account = account_key(email);
    let by_address = address_key(address);
    if state.store.sign_in_failures(&by_account, since).await? >= MAX_FAILURES_PER_ACCOUNT {
        return Err(too_many());
    }
    if let Some(key) = &by_address
        && state.store.sign_in_failures(key, since).await? >= MAX_FAILURES_PER_ADDRESS
    {
        return Err(too_many());
    }
    let found = state.store.user_with_password(email.trim()).await?;
    let hash = found
        .as_ref()
        .and_then(|(_, hash)| hash.clone())
        .unwrap_or_else(|| password::decoy().to_owned());
    let given = given_password.to_owned();
    // argon2 takes tens of milliseconds of CPU: off the async workers.
    let matches = tokio::task::spawn_blocking(move || password::verify(&given, &hash))
        .await
        .map_err(|e| AppError::Internal(format!("password check: {e}")))?;
    let owner = match found {
        Some((owner, Some(_))) if matches => owner,
        _ => {
            let mut keys = vec![by_account.as_str()];
            keys.extend(by_address.as_deref());
            state.store.record_sign_in_failure(&keys, now, since).await?;
            return Err(AppError::BadCredentials);
        }
    };
    state.store.clear_sign_in_failures(&by_account).await?;
    let signed_in = SignedIn {
        owner,
        token: new_token(),
        client: new_token(),
        csrf: new_token(),
        expires_at: now + SESSION_TTL_MS,
    };
    state
        .store
        .insert_session(
            &token_digest(&signed_in.token),
            signed_in.owner.user_id,
            &signed_in.client,
            &signed_in.csrf,
            signed_in.expires_at,
        )
        .await?;
    Ok(signed_in)
}

/// The live session behind a token, if any.
pub async fn session(state: &AppState, token: &str) -> Result<Option<SessionRow>, AppError> {
    if token.is_empty() {
        return Ok(None);
    }
    Ok(state.store.session(&token_digest(token), now_ms()).await?)
}

/// The user behind devise-token-auth's three headers: the session's token,
/// its client id and the user's email must all match.
pub async fn token_auth(
    state: &AppState,
    access_token: &str,
    client: &str,
    uid: &str,
) -> Result<Option<TokenOwner>, AppError> {
    Ok(session(state, access_token)
        .await?
        .filter(|s| s.client == client && s.owner.email.eq_ignore_ascii_case(uid))
        .map(|s| s.owner))
}

/// Ends a session (nothing happens for an unknown token).
pub async fn sign_out(state: &AppState, token: &str) -> Result<(), AppError> {
    Ok(state.store.delete_session(&token_digest(token)).await?)
}

/// Sets a user's password and ends their sessions.
pub async fn set_password(store: &Store, email: &str, new_password: &str) -> Result<(), AppError> {
    if let Some(reason) = password::refusal(new_password) {
        return Err(AppError::Refused(reason));
    }
    let Some((owner, _)) = store.user_with_password(email.trim()).await? else {
        return Err(AppError::NotFound(format!("no user has the email {email:?}")));
    };
    let given = new_password.to_owned();
    let hash = tokio::task::spawn_blocking(move || password::hash(&given))
        .await
        .map_err(|e| AppError::Internal(format!("password hash: {e}")))?;
    store.set_password_hash(owner.user_id, &hash).await?;
    store.delete_user_sessions(owner.user_id).await?;
    Ok(())
}

/// Removes expired sessions and refused sign-ins past their window, which
/// are otherwise removed only when the same user or address comes back
/// (the retention loop runs it on every node; the deletes are idempotent).
/// Answers how many sessions and refused attempts went.
pub async fn sweep(store: &Store, now: i64) -> Result<(u64, u64), AppError> {
    Ok(store.sweep_sign_ins(now, now - FAILURE_WINDOW_MS).await?)
}

/// The host setting (installation config or environment, like
/// `FRONTEND_URL`) naming the reverse proxies whose `X-Forwarded-For` is
/// believed: a comma-separated list of addresses and CIDR ranges, e.g.
/// `127.0.0.1, 10.0.0.0/8`. Unset, the TCP peer is the client.
pub const TRUSTED_PROXIES: &str = "SWITCHBOARD_TRUSTED_PROXIES";

/// The address a sign-in's limit by address counts: the TCP peer, unless
/// the peer is a trusted proxy ([`TRUSTED_PROXIES`]); then the nearest
/// address in `X-Forwarded-For` (read from the right, as each proxy appends
/// the address it heard from) that is not a trusted proxy itself. Entries a
/// client wrote before reaching the first proxy are never believed.
pub fn client_address(state: &AppState, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
    let setting = state.plugins.host_setting(TRUSTED_PROXIES).unwrap_or_default();
    let trusted: Vec<Cidr> = setting
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let parsed = Cidr::parse(s);
            if parsed.is_none() {
                tracing::warn!("{TRUSTED_PROXIES}: {s:?} is not an address or CIDR range; ignored");
            }
            parsed
        })
        .collect();
    behind_proxies(peer, forwarded_for, &trusted)
}

fn behind_proxies(peer: Option<IpAddr>, forwarded_for: Option<&str>, trusted: &[Cidr]) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let peer = peer?;
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or_default().rsplit(',').map(str::trim) {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // Garbage in the chain: what is left of it cannot be believed.
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Some(client)
}

/// An address range: an address and how many leading bits count.
#[derive(Debug, Clone, Copy)]
struct Cidr {
    net: IpAddr,
    bits: u32,
}

impl Cidr {
    fn parse(text: &str) -> Option<Self> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a.parse::<IpAddr>().ok()?, Some(b.parse::<u32>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        (bits <= max).then_some(Self { net: addr, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - self.bits).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.bits).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod proxy_tests {
    use super::{Cidr, behind_proxies};

    fn ip(s: &str) -> Option<std::net::IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap(), Cidr::parse("::1").unwrap()];
        // No proxy trusted, or a peer that is not one: the peer.
        assert_eq!(
            behind_proxies(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            behind_proxies(ip("10.1.2.3"), Some("1.2.3.4"), &[]),
            ip("10.1.2.3")
        );
        // Through one trusted proxy: the address it heard from.
        assert_eq!(
            behind_proxies(ip("10.1.2.3"), Some("198.51.100.7"), &trusted),
            ip("198.51.100.7")
        );
        // A client's own forged entries left of the real one are ignored.
        assert_eq!(
            behind_proxies(ip("10.1.2.3"), Some("6.6.6.6, 198.51.100.7, 10.9.9.9"), &trusted),
            ip("198.51.100.7")
        );
        // IPv6 loopback proxy, IPv4-mapped peer of a trusted range.
        assert_eq!(
            behind_proxies(ip("::1"), Some("198.51.100.7"), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            behind_proxies(ip("::ffff:10.0.0.1"), Some("198.51.100.8"), &trusted),
            ip("198.51.100.8")
        );
        // Nothing forwarded, or garbage: the proxy itself.
        assert_eq!(behind_proxies(ip("10.1.2.3"), None, &trusted), ip("10.1.2.3"));
        assert_eq!(
            behind_proxies(ip("10.1.2.3"), Some("unknown"), &trusted),
            ip("10.1.2.3")
        );
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("not an address").is_none());
    }
}
