//! Rules of accounts and their users that need no storage: roles (Chatwoot's
//! integers and names), API tokens (random, stored only as a digest) and
//! passwords (argon2id hashes).

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

/// Passwords: what is accepted, and their argon2id hashes (PHC strings with
/// the parameters inside, so stronger parameters later still verify old ones).
pub mod password {
    use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};

    /// Shortest password accepted (NIST SP 800-63B's minimum).
    pub const MIN_CHARS: usize = 8;
    /// Longest accepted: hashing cost must not be the caller's to choose.
    pub const MAX_CHARS: usize = 256;

    /// Why a new password is refused, in words; `None` when it is accepted.
    pub fn refusal(password: &str) -> Option<String> {
        let chars = password.chars().count();
        if chars < MIN_CHARS {
            Some(format!("a password needs at least {MIN_CHARS} characters"))
        } else if chars > MAX_CHARS {
            Some(format!("a password has at most {MAX_CHARS} characters"))
        } else {
            None
        }
    }

    /// The argon2id hash of `password` with a fresh random salt (OWASP's
    /// default parameters: 19 MiB, 2 passes).
    pub fn hash(password: &str) -> String {
        use rand::Rng as _;
        let bytes: [u8; 16] = rand::rng().random();
        let salt = SaltString::encode_b64(&bytes).expect("16 bytes is a valid salt");
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .expect("default argon2 parameters hash any password")
            .to_string()
    }

    /// Whether `password` matches `hash` (false for a malformed hash).
    pub fn verify(password: &str, hash: &str) -> bool {
        PasswordHash::new(hash).is_ok_and(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    }

    /// A hash nobody's password matches, verified when the email is unknown
    /// so that an unknown address takes as long to refuse as a wrong password.
    pub fn decoy() -> &'static str {
        static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        DECOY.get_or_init(|| hash(&super::new_token()))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn a_hash_verifies_its_password_only() {
            let h = super::hash("correct horse");
            assert!(h.starts_with("$argon2id$"));
            assert!(super::verify("correct horse", &h));
            assert!(!super::verify("correct horsf", &h));
            assert!(!super::verify("correct horse", "not a hash"));
            assert_ne!(h, super::hash("correct horse"), "salted");
        }

        #[test]
        fn short_and_huge_passwords_are_refused() {
            assert!(super::refusal("1234567").is_some());
            assert!(super::refusal("12345678").is_none());
            assert!(super::refusal(&"x".repeat(257)).is_some());
        }
    }
}
