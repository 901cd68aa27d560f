//! Encryption at rest for provider credentials and secret settings.
//!
//! Values are sealed with XChaCha20-Poly1305 under a 32-byte key from the
//! environment (`SWITCHBOARD_SECRET_KEY`, base64) and stored as
//! `enc:v1:<key id>:<base64(nonce ‖ ciphertext)>`, so no plaintext token
//! appears in a database dump. The key id (first 8 hex digits of the key's
//! sha256) lets keys rotate: put the old key in `SWITCHBOARD_SECRET_KEYS_RETIRED`
//! (comma-separated), the new one in `SWITCHBOARD_SECRET_KEY`, and run
//! `switchboard secrets rotate`, which re-seals every stored value.
//!
//! A single-node SQLite install needs no setup: without the variable the key
//! is generated once into `<data dir>/secret.key` (mode 0600). Several nodes
//! must share one key, so on PostgreSQL the variable is required.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

const PREFIX: &str = "enc:v1:";

/// Why a value could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No key is configured.
    #[error(
        "no encryption key: set SWITCHBOARD_SECRET_KEY (32 bytes, base64; e.g. `openssl rand -base64 32`)"
    )]
    NoKey,
    /// A key is malformed.
    #[error("{0}")]
    BadKey(String),
    /// The value was sealed with a key we do not have.
    #[error("value sealed with key {0}, which is neither SWITCHBOARD_SECRET_KEY nor a retired key")]
    UnknownKey(String),
    /// The value is damaged or was tampered with.
    #[error("sealed value is damaged")]
    Damaged,
}

struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
    /// sha256 of the key bytes: the root of keys derived for other purposes,
    /// so the key itself only ever encrypts.
    derivation_root: [u8; 32],
}

fn key_from_base64(text: &str, name: &str) -> Result<Key, SecretError> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| SecretError::BadKey(format!("{name} is not base64: {e}")))?;
    if bytes.len() != 32 {
        return Err(SecretError::BadKey(format!(
            "{name} must be 32 bytes, it is {}",
            bytes.len()
        )));
    }
    let id = hex::encode(&Sha256::digest(&bytes)[..4]);
    let cipher = XChaCha20Poly1305::new_from_slice(&bytes).expect("32-byte key");
    let derivation_root = Sha256::new()
        .chain_update(b"switchboard derivation root\0")
        .chain_update(&bytes)
        .finalize()
        .into();
    Ok(Key {
        id,
        cipher,
        derivation_root,
    })
}

/// The current key and the retired ones still accepted for opening.
pub struct SecretBox {
    current: Option<Key>,
    retired: Vec<Key>,
}

impl SecretBox {
    /// Keys from the environment, else (when `generate_in` is given) from a key
    /// file there, created on first use.
    pub fn from_env(generate_in: Option<&Path>) -> Result<Self, SecretError> {
        let retired = std::env::var("SWITCHBOARD_SECRET_KEYS_RETIRED")
            .unwrap_or_default()
            .split(',')
            .filter(|k| !k.trim().is_empty())
            .map(|k| key_from_base64(k, "a key in SWITCHBOARD_SECRET_KEYS_RETIRED"))
            .collect::<Result<Vec<_>, _>>()?;
        let current = match std::env::var("SWITCHBOARD_SECRET_KEY") {
            Ok(text) if !text.trim().is_empty() => Some(key_from_base64(&text, "SWITCHBOARD_SECRET_KEY")?),
            _ => match generate_in {
                Some(dir) => Some(key_file(dir)?),
                None => None,
            },
        };
        Ok(Self { current, retired })
    }

    /// Whether a current key is set (sealing needs one; without it only
    /// what is sealed cannot be read or written).
    pub fn has_key(&self) -> bool {
        self.current.is_some()
    }

    /// A box with one explicit key (tests, benchmarks).
    pub fn with_key(base64_key: &str) -> Result<Self, SecretError> {
        Ok(Self {
            current: Some(key_from_base64(base64_key, "key")?),
            retired: Vec::new(),
        })
    }

    /// A key for `purpose` (e.g. signing OAuth states), derived from the
    /// current key: every node that shares the key derives the same one.
    pub fn derived_key(&self, purpose: &str) -> Result<[u8; 32], SecretError> {
        let key = self.current.as_ref().ok_or(SecretError::NoKey)?;
        Ok(Sha256::new()
            .chain_update(key.derivation_root)
            .chain_update(purpose.as_bytes())
            .finalize()
            .into())
    }

    /// Seals a value.
    pub fn seal(&self, plaintext: &str) -> Result<String, SecretError> {
        let key = self.current.as_ref().ok_or(SecretError::NoKey)?;
        let nonce_bytes: [u8; 24] = rand::random();
        let sealed = key
            .cipher
            .encrypt(XNonce::from_slice(&nonce_bytes), plaintext.as_bytes())
            .map_err(|_| SecretError::Damaged)?;
        let mut blob = nonce_bytes.to_vec();
        blob.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}:{}", key.id, STANDARD.encode(blob)))
    }

    /// Opens a sealed value.
    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let rest = sealed.strip_prefix(PREFIX).ok_or(SecretError::Damaged)?;
        let (id, blob) = rest.split_once(':').ok_or(SecretError::Damaged)?;
        let key = self
            .current
            .iter()
            .chain(self.retired.iter())
            .find(|k| k.id == id)
            .ok_or_else(|| SecretError::UnknownKey(id.to_owned()))?;
        let blob = STANDARD.decode(blob).map_err(|_| SecretError::Damaged)?;
        if blob.len() < 24 {
            return Err(SecretError::Damaged);
        }
        let (nonce, ciphertext) = blob.split_at(24);
        let plain = key
            .cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| SecretError::Damaged)?;
        String::from_utf8(plain).map_err(|_| SecretError::Damaged)
    }

    /// Whether `sealed` was sealed with a key other than the current one.
    pub fn needs_rotation(&self, sealed: &str) -> bool {
        let id = sealed
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .map(|(id, _)| id);
        match (&self.current, id) {
            (Some(current), Some(id)) => current.id != id,
            _ => false,
        }
    }
}

/// Keeps the data folder out of git: a server started inside a project
/// (a plugin crate, say) puts `data/` with the key in it, and nothing in it
/// belongs in a repository. An existing `.gitignore` is left as it is.
fn ignore_in_git(dir: &Path) {
    let path = dir.join(".gitignore");
    if !path.exists() {
        let text = "# Switchboard's data folder: the database and secret.key. Never commit it.\n*\n";
        if let Err(e) = std::fs::write(&path, text) {
            tracing::warn!(path = %path.display(), "cannot write: {e}");
        }
    }
}

fn key_file(dir: &Path) -> Result<Key, SecretError> {
    let path = dir.join("secret.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return key_from_base64(&text, &path.display().to_string());
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| SecretError::BadKey(format!("cannot create {}: {e}", dir.display())))?;
    let key: [u8; 32] = rand::random();
    let text = STANDARD.encode(key);
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path)?.write_all(text.as_bytes())
    };
    match write() {
        Ok(()) => {
            ignore_in_git(dir);
            tracing::info!(path = %path.display(), "generated the encryption key for secrets at rest; back it up");
            key_from_base64(&text, "generated key")
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path).map_err(|e| SecretError::BadKey(e.to_string()))?;
            key_from_base64(&text, &path.display().to_string())
        }
        Err(e) => Err(SecretError::BadKey(format!(
            "cannot write {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "HxwdHhkaGxwVFhcYERITFA0ODxAJCgsMBQYHCAECAwQ=";

    #[test]
    fn seals_and_opens_without_leaking_plaintext() {
        let keys = SecretBox::with_key(K1).unwrap();
        let sealed = keys.seal("tt-access-token-123").unwrap();
        assert!(sealed.starts_with("enc:v1:"));
        assert!(!sealed.contains("tt-access-token"));
        assert_ne!(
            sealed,
            keys.seal("tt-access-token-123").unwrap(),
            "a fresh nonce every time"
        );
        assert_eq!(keys.open(&sealed).unwrap(), "tt-access-token-123");
    }

    #[test]
    fn tampering_and_unknown_keys_are_refused() {
        let keys = SecretBox::with_key(K1).unwrap();
        let sealed = keys.seal("secret").unwrap();
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(matches!(
            keys.open(&String::from_utf8(tampered).unwrap()),
            Err(SecretError::Damaged)
        ));
        let other = SecretBox::with_key(K2).unwrap();
        assert!(matches!(other.open(&sealed), Err(SecretError::UnknownKey(_))));
        assert!(matches!(
            SecretBox::with_key("short"),
            Err(SecretError::BadKey(_))
        ));
    }

    #[test]
    fn retired_keys_open_and_flag_rotation() {
        let old = SecretBox::with_key(K1).unwrap();
        let sealed = old.seal("secret").unwrap();
        let new = SecretBox {
            current: Some(key_from_base64(K2, "k").unwrap()),
            retired: vec![key_from_base64(K1, "k").unwrap()],
        };
        assert_eq!(new.open(&sealed).unwrap(), "secret");
        assert!(new.needs_rotation(&sealed));
        assert!(!new.needs_rotation(&new.seal("secret").unwrap()));
    }
}
