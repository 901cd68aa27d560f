//! Webhook signatures: HMAC-SHA256 signing and constant-time verification,
//! and the timestamped header most providers use.
//!
//! Two layers:
//!
//! - primitives: [`hmac_sha256`], [`hmac_sha256_hex`],
//!   [`verify_hmac_sha256_hex`] (constant-time), [`constant_time_eq`], and
//!   a freshness check on a signature's timestamp ([`TimestampWindow`]);
//! - [`TimestampedSignature`]: a header of comma-separated `key=value`
//!   pairs carrying a unix-seconds timestamp and one or more hex HMACs of
//!   `"<timestamp>.<raw body>"` (Stripe's `t=…,v1=…`, TikTok's `t=…,s=…`).
//!   It signs (for outbound requests and tests), verifies (HMAC first, then
//!   the window) and turns the outcome into a
//!   [`Verification`].
//!
//! ```
//! use switchboard_sdk::signature::{TimestampWindow, TimestampedSignature};
//! use switchboard_sdk::types::{Header, IncomingRequest, Settings, Verification};
//!
//! const SIGNATURE: TimestampedSignature =
//!     TimestampedSignature::new("X-Example-Signature", "t", "v1", TimestampWindow::new(300, 30));
//!
//! fn verify_webhook(settings: &Settings, request: &IncomingRequest) -> Verification {
//!     match settings.secret_value("webhook_secret") {
//!         Some(secret) => SIGNATURE.verify_request(secret.as_bytes(), request, switchboard_sdk::now_secs()),
//!         None => Verification::Rejected("no webhook secret is configured".into()),
//!     }
//! }
//! # let now = switchboard_sdk::now_secs();
//! # let body = br#"{"type":"message"}"#.to_vec();
//! # let header = SIGNATURE.sign(b"s3cret", now, &body);
//! # let request = IncomingRequest {
//! #     method: "POST".into(), path: "/webhooks/x".into(), query: String::new(),
//! #     headers: vec![Header::new("X-Example-Signature", header)], body,
//! # };
//! # let settings = Settings { config: vec![], secrets: vec![switchboard_sdk::types::KeyValue::new("webhook_secret", "s3cret")] };
//! # assert!(matches!(verify_webhook(&settings, &request), Verification::Accepted));
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::types::{IncomingRequest, Verification};

fn mac(secret: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// HMAC-SHA256 of the concatenation of `parts`, keyed with `secret`.
/// ```
/// use switchboard_sdk::signature::hmac_sha256;
///
/// // The parts are hashed as one message: no copy of a large body is needed.
/// let mac = hmac_sha256(b"secret", &[b"1700000000", b".", b"{}"]);
/// assert_eq!(mac, hmac_sha256(b"secret", &[b"1700000000.{}"]));
/// ```
pub fn hmac_sha256(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    mac(secret, parts).finalize().into_bytes().into()
}

/// [`hmac_sha256`] as lower-case hex.
/// ```
/// use switchboard_sdk::signature::hmac_sha256_hex;
///
/// // RFC 4231, test case 2.
/// assert_eq!(
///     hmac_sha256_hex(b"Jefe", &[b"what do ya want for nothing?"]),
///     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
/// );
/// ```
pub fn hmac_sha256_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    hex::encode(hmac_sha256(secret, parts))
}

/// Whether `signature_hex` (either case) is the HMAC-SHA256 of `parts`
/// keyed with `secret`. The comparison is constant-time; a value that is not
/// hex is simply not a match.
/// ```
/// use switchboard_sdk::signature::verify_hmac_sha256_hex;
///
/// let body = br#"{"type":"message"}"#;
/// // What a provider sends in, say, `X-Signature: sha256=<hex>`.
/// let header = format!("sha256={}", switchboard_sdk::signature::hmac_sha256_hex(b"s3cret", &[body]));
/// let hex = header.strip_prefix("sha256=").unwrap_or_default();
/// assert!(verify_hmac_sha256_hex(b"s3cret", &[body], hex));
/// assert!(verify_hmac_sha256_hex(b"s3cret", &[body], &hex.to_uppercase()));
/// assert!(!verify_hmac_sha256_hex(b"another secret", &[body], hex));
/// assert!(!verify_hmac_sha256_hex(b"s3cret", &[body], "not hex"));
/// ```
pub fn verify_hmac_sha256_hex(secret: &[u8], parts: &[&[u8]], signature_hex: &str) -> bool {
    match hex::decode(signature_hex.trim()) {
        Ok(expected) => mac(secret, parts).verify_slice(&expected).is_ok(),
        Err(_) => false,
    }
}

/// Whether `a` and `b` are equal, in time that depends only on their
/// lengths (for comparing tokens, e.g. a handshake's verify token).
/// ```
/// use switchboard_sdk::signature::constant_time_eq;
///
/// assert!(constant_time_eq(b"verify-token", b"verify-token"));
/// assert!(!constant_time_eq(b"verify-token", b"guess"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// ```
/// use switchboard_sdk::signature::{SignatureError, TimestampWindow, TimestampedSignature};
///
/// let scheme = TimestampedSignature::new("X-Sig", "t", "v1", TimestampWindow::new(300, 30));
/// assert_eq!(scheme.verify(b"s3cret", None, b"{}", 1_700_000_000), Err(SignatureError::Missing));
/// assert_eq!(SignatureError::Stale.to_string(), "signature timestamp too old");
/// ```
pub enum SignatureError {
    /// No signature header, or an empty one.
    Missing,
    /// The timestamp or the signature is absent or not well formed.
    Malformed,
    /// No signature matches the body.
    Mismatch,
    /// The timestamp is older than the window allows.
    Stale,
    /// The timestamp is further in the future than the window allows.
    Future,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Missing => "signature header missing",
            Self::Malformed => "signature header malformed",
            Self::Mismatch => "signature does not match",
            Self::Stale => "signature timestamp too old",
            Self::Future => "signature timestamp in the future",
        })
    }
}

impl std::error::Error for SignatureError {}

/// How old, and how far in the future, a signature's timestamp may be.
///
/// A short past window limits replays of a captured request; a small future
/// allowance absorbs clock skew between the sender and the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// ```
/// use switchboard_sdk::signature::TimestampWindow;
///
/// // Five minutes back, thirty seconds ahead.
/// let window = TimestampWindow { max_age_secs: 300, max_future_secs: 30 };
/// assert_eq!(window, TimestampWindow::new(300, 30));
/// ```
pub struct TimestampWindow {
    /// Oldest acceptable timestamp, in seconds before now.
    pub max_age_secs: u64,
    /// Furthest acceptable timestamp, in seconds after now.
    pub max_future_secs: u64,
}

impl TimestampWindow {
    /// A window of `max_age_secs` into the past and `max_future_secs` into
    /// the future.
    /// ```
    /// use switchboard_sdk::signature::TimestampWindow;
    ///
    /// const WINDOW: TimestampWindow = TimestampWindow::new(300, 30);
    /// assert_eq!(WINDOW.max_age_secs, 300);
    /// ```
    pub const fn new(max_age_secs: u64, max_future_secs: u64) -> Self {
        Self {
            max_age_secs,
            max_future_secs,
        }
    }

    /// Whether `timestamp_secs` is acceptable at `now_secs`.
    /// ```
    /// use switchboard_sdk::signature::{SignatureError, TimestampWindow};
    ///
    /// let window = TimestampWindow::new(300, 30);
    /// let now = 1_700_000_000;
    /// assert_eq!(window.check(now - 300, now), Ok(()));
    /// assert_eq!(window.check(now - 301, now), Err(SignatureError::Stale));
    /// assert_eq!(window.check(now + 31, now), Err(SignatureError::Future));
    /// ```
    pub fn check(&self, timestamp_secs: u64, now_secs: u64) -> Result<(), SignatureError> {
        if timestamp_secs > now_secs.saturating_add(self.max_future_secs) {
            return Err(SignatureError::Future);
        }
        if now_secs.saturating_sub(timestamp_secs) > self.max_age_secs {
            return Err(SignatureError::Stale);
        }
        Ok(())
    }
}

/// A timestamped HMAC-SHA256 signature header:
/// `<header>: <timestamp_key>=<unix secs>,<signature_key>=<hex>` where the
/// hex is the HMAC-SHA256 of `"<timestamp>.<raw body>"` keyed with a shared
/// secret. Several `<signature_key>` pairs may appear (a sender rotating its
/// secret signs with both); one match is enough. Unknown pairs are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// ```
/// use switchboard_sdk::signature::{TimestampWindow, TimestampedSignature};
///
/// // Stripe's scheme: `Stripe-Signature: t=1700000000,v1=<hex>`.
/// const STRIPE: TimestampedSignature =
///     TimestampedSignature::new("Stripe-Signature", "t", "v1", TimestampWindow::new(300, 30));
/// let header = STRIPE.sign(b"whsec", 1_700_000_000, b"{}");
/// assert_eq!(STRIPE.verify(b"whsec", Some(&header), b"{}", 1_700_000_010), Ok(1_700_000_000));
/// ```
pub struct TimestampedSignature {
    /// The header's name, e.g. `X-Switchboard-Signature` (matched
    /// case-insensitively).
    pub header: &'static str,
    /// The key of the timestamp pair, e.g. `t`.
    pub timestamp_key: &'static str,
    /// The key of the signature pairs, e.g. `v1`.
    pub signature_key: &'static str,
    /// How old or early a timestamp may be.
    pub window: TimestampWindow,
}

impl TimestampedSignature {
    /// A scheme; see the type's documentation.
    /// ```
    /// use switchboard_sdk::signature::{TimestampWindow, TimestampedSignature};
    ///
    /// const TIKTOK: TimestampedSignature =
    ///     TimestampedSignature::new("TikTok-Signature", "t", "s", TimestampWindow::new(300, 30));
    /// assert_eq!(TIKTOK.signature_key, "s");
    /// ```
    pub const fn new(
        header: &'static str,
        timestamp_key: &'static str,
        signature_key: &'static str,
        window: TimestampWindow,
    ) -> Self {
        Self {
            header,
            timestamp_key,
            signature_key,
            window,
        }
    }

    /// The header value signing `body` at `timestamp_secs`, e.g.
    /// `t=1700000000,v1=5f…`.
    /// ```
    /// use switchboard_sdk::signature::{TimestampWindow, TimestampedSignature, hmac_sha256_hex};
    ///
    /// let scheme = TimestampedSignature::new("X-Sig", "t", "v1", TimestampWindow::new(300, 30));
    /// let header = scheme.sign(b"s3cret", 1_700_000_000, b"{}");
    /// let expected = hmac_sha256_hex(b"s3cret", &[b"1700000000.{}"]);
    /// assert_eq!(header, format!("t=1700000000,v1={expected}"));
    /// ```
    pub fn sign(&self, secret: &[u8], timestamp_secs: u64, body: &[u8]) -> String {
        let timestamp = timestamp_secs.to_string();
        let signature = hmac_sha256_hex(secret, &[timestamp.as_bytes(), b".", body]);
        format!(
            "{}={timestamp},{}={signature}",
            self.timestamp_key, self.signature_key
        )
    }

    /// Checks a header value against `body` at `now_secs`: the signature
    /// first (constant-time), then the timestamp's window, so nothing about
    /// the time leaks to a sender without the secret. Answers the timestamp.
    /// ```
    /// use switchboard_sdk::signature::{SignatureError, TimestampWindow, TimestampedSignature};
    ///
    /// let scheme = TimestampedSignature::new("X-Sig", "t", "v1", TimestampWindow::new(300, 30));
    /// let now = 1_700_000_000;
    /// let header = scheme.sign(b"s3cret", now - 10, b"{}");
    /// assert_eq!(scheme.verify(b"s3cret", Some(&header), b"{}", now), Ok(now - 10));
    /// assert_eq!(scheme.verify(b"other", Some(&header), b"{}", now), Err(SignatureError::Mismatch));
    /// assert_eq!(scheme.verify(b"s3cret", Some(&header), b"{}", now + 3600), Err(SignatureError::Stale));
    /// // A sender rotating its secret signs with both; one match is enough.
    /// let rotating = format!("{header},v1={}", "00".repeat(32));
    /// assert!(scheme.verify(b"s3cret", Some(&rotating), b"{}", now).is_ok());
    /// assert_eq!(scheme.verify(b"s3cret", Some("t=now,v1=zz"), b"{}", now), Err(SignatureError::Malformed));
    /// ```
    pub fn verify(
        &self,
        secret: &[u8],
        header_value: Option<&str>,
        body: &[u8],
        now_secs: u64,
    ) -> Result<u64, SignatureError> {
        let value = header_value
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or(SignatureError::Missing)?;
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in value.split(',') {
            match part.trim().split_once('=') {
                Some((key, value)) if key.trim() == self.timestamp_key => timestamp = Some(value.trim()),
                Some((key, value)) if key.trim() == self.signature_key => signatures.push(value.trim()),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
        let t: u64 = timestamp.parse().map_err(|_| SignatureError::Malformed)?;
        if signatures.is_empty() {
            return Err(SignatureError::Malformed);
        }
        let mut decoded = Vec::with_capacity(signatures.len());
        for signature in signatures {
            decoded.push(hex::decode(signature).map_err(|_| SignatureError::Malformed)?);
        }
        // The raw timestamp text is what the sender signed.
        let expected = mac(secret, &[timestamp.as_bytes(), b".", body])
            .finalize()
            .into_bytes();
        let matched = decoded.iter().fold(false, |found, candidate| {
            found | bool::from(expected.as_slice().ct_eq(candidate))
        });
        if !matched {
            return Err(SignatureError::Mismatch);
        }
        self.window.check(t, now_secs)?;
        Ok(t)
    }

    /// [`verify`](Self::verify) on a webhook request's header and body, as
    /// the answer to `verify-webhook`: `accepted`, or `rejected` with the
    /// header's name and the reason.
    /// ```
    /// use switchboard_sdk::signature::{TimestampWindow, TimestampedSignature};
    /// use switchboard_sdk::types::{Header, IncomingRequest, Verification};
    ///
    /// let scheme = TimestampedSignature::new("X-Sig", "t", "v1", TimestampWindow::new(300, 30));
    /// let now = 1_700_000_000;
    /// let body = b"{}".to_vec();
    /// let request = IncomingRequest {
    ///     method: "POST".into(),
    ///     path: "/webhooks/acme-chat".into(),
    ///     query: String::new(),
    ///     headers: vec![Header::new("x-sig", scheme.sign(b"s3cret", now, &body))],
    ///     body,
    /// };
    /// assert!(matches!(scheme.verify_request(b"s3cret", &request, now), Verification::Accepted));
    /// match scheme.verify_request(b"wrong", &request, now) {
    ///     Verification::Rejected(reason) => assert_eq!(reason, "X-Sig: signature does not match"),
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn verify_request(&self, secret: &[u8], request: &IncomingRequest, now_secs: u64) -> Verification {
        match self.verify(secret, request.header(self.header), &request.body, now_secs) {
            Ok(_) => Verification::Accepted,
            Err(reason) => Verification::Rejected(format!("{}: {reason}", self.header)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Header;

    const NOW: u64 = 1_700_000_000;
    const SCHEME: TimestampedSignature =
        TimestampedSignature::new("X-Sig", "t", "v1", TimestampWindow::new(300, 30));

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        assert_eq!(
            hmac_sha256_hex(b"Jefe", &[b"what do ya want ", b"for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let upper = "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843";
        assert!(verify_hmac_sha256_hex(
            b"Jefe",
            &[b"what do ya want for nothing?"],
            upper
        ));
        assert!(!verify_hmac_sha256_hex(
            b"Jefe",
            &[b"what do ya want for nothing!"],
            upper
        ));
        assert!(!verify_hmac_sha256_hex(b"Jefe", &[b"x"], "not hex"));
        assert!(!verify_hmac_sha256_hex(b"Jefe", &[b"x"], "00"));
    }

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"token", b"token"));
        assert!(!constant_time_eq(b"token", b"tokem"));
        assert!(!constant_time_eq(b"token", b"token2"));
    }

    #[test]
    fn the_window_bounds_past_and_future() {
        let window = TimestampWindow::new(300, 30);
        assert_eq!(window.check(NOW, NOW), Ok(()));
        assert_eq!(window.check(NOW - 300, NOW), Ok(()));
        assert_eq!(window.check(NOW - 301, NOW), Err(SignatureError::Stale));
        assert_eq!(window.check(NOW + 30, NOW), Ok(()));
        assert_eq!(window.check(NOW + 31, NOW), Err(SignatureError::Future));
        assert_eq!(window.check(u64::MAX, u64::MAX - 1), Ok(()));
    }

    #[test]
    fn a_fresh_genuine_signature_is_accepted() {
        let header = SCHEME.sign(b"secret", NOW, b"{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="), "{header}");
        assert_eq!(
            SCHEME.verify(b"secret", Some(&header), b"{\"a\":1}", NOW + 2),
            Ok(NOW)
        );
        // Spaces, unknown pairs and a second (rotated) signature are fine.
        let rotated = format!(
            " v0=zz , {} , v1={} ",
            header,
            hmac_sha256_hex(b"old", &[b"1700000000.{\"a\":1}"])
        );
        assert_eq!(SCHEME.verify(b"old", Some(&rotated), b"{\"a\":1}", NOW), Ok(NOW));
    }

    #[test]
    fn every_kind_of_bad_header_is_refused() {
        let body = b"{}";
        let good = SCHEME.sign(b"secret", NOW, body);
        let verify = |header: Option<&str>, secret: &[u8], body: &[u8], now: u64| {
            SCHEME.verify(secret, header, body, now)
        };
        assert_eq!(verify(None, b"secret", body, NOW), Err(SignatureError::Missing));
        assert_eq!(
            verify(Some(" "), b"secret", body, NOW),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some("t=1"), b"secret", body, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("v1=00"), b"secret", body, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("t=x,v1=00"), b"secret", body, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("t=1,v1=zz"), b"secret", body, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some(&good), b"other", body, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&good), b"secret", b"{ }", NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&good), b"secret", body, NOW + 301),
            Err(SignatureError::Stale)
        );
        let future = SCHEME.sign(b"secret", NOW + 31, body);
        assert_eq!(
            verify(Some(&future), b"secret", body, NOW),
            Err(SignatureError::Future)
        );
        // A mismatch wins over a stale time: the time is checked only for
        // genuine signatures.
        let stale_forged = format!("t={},v1={}", NOW - 1000, "0".repeat(64));
        assert_eq!(
            verify(Some(&stale_forged), b"secret", body, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn requests_verify_into_the_contracts_answer() {
        let body = b"hello".to_vec();
        let mut request = IncomingRequest {
            method: "POST".into(),
            path: "/webhooks/x".into(),
            query: String::new(),
            headers: vec![Header::new("x-sig", SCHEME.sign(b"k", NOW, &body))],
            body,
        };
        assert!(matches!(
            SCHEME.verify_request(b"k", &request, NOW),
            Verification::Accepted
        ));
        request.headers.clear();
        match SCHEME.verify_request(b"k", &request, NOW) {
            Verification::Rejected(reason) => assert_eq!(reason, "X-Sig: signature header missing"),
            other => panic!("{other:?}"),
        }
    }
}
