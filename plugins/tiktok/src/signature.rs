//! TikTok's webhook signature: header `Tiktok-Signature: t=<unix secs>,s=<hex>`
//! where `s` = lowercase hex HMAC-SHA256 over `"<t>.<raw body>"` keyed with
//! the app secret: the SDK's [`TimestampedSignature`] with TikTok's names.
//!
//! Stricter than the reference integration where it was weak: the compare is
//! constant-time, a timestamp may be at most [`MAX_AGE_SECS`] old (the
//! reference allowed 5 s, which drops genuine deliveries under load) and at
//! most [`MAX_SKEW_SECS`] in the future (the reference accepted any future time).

pub use switchboard_sdk::signature::SignatureError;
use switchboard_sdk::signature::{TimestampWindow, TimestampedSignature};

/// Oldest acceptable signature timestamp, in seconds.
pub const MAX_AGE_SECS: u64 = 300;
/// Furthest acceptable signature timestamp in the future, in seconds.
pub const MAX_SKEW_SECS: u64 = 30;

/// The `Tiktok-Signature` scheme.
pub const SIGNATURE: TimestampedSignature = TimestampedSignature::new(
    "Tiktok-Signature",
    "t",
    "s",
    TimestampWindow::new(MAX_AGE_SECS, MAX_SKEW_SECS),
);

/// Checks a `Tiktok-Signature` header against the body at time `now_secs`.
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8], now_secs: u64) -> Result<(), SignatureError> {
    SIGNATURE.verify(secret, header, body, now_secs).map(|_| ())
}

/// Signs a body the way TikTok does (for tests and mock servers).
pub fn sign(secret: &[u8], body: &[u8], t: u64) -> String {
    SIGNATURE.sign(secret, t, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn accepts_a_fresh_genuine_signature() {
        let header = sign(b"secret", b"{\"a\":1}", NOW);
        assert_eq!(verify(b"secret", Some(&header), b"{\"a\":1}", NOW + 2), Ok(()));
    }

    #[test]
    fn refuses_every_kind_of_bad_header() {
        let body = b"{}";
        let good = sign(b"secret", body, NOW);
        assert_eq!(verify(b"secret", None, body, NOW), Err(SignatureError::Missing));
        assert_eq!(
            verify(b"secret", Some(" "), body, NOW),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(b"secret", Some("t=1"), body, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(b"secret", Some("t=x,s=00"), body, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(b"secret", Some("t=1,s=zz"), body, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(b"other", Some(&good), body, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"secret", Some(&good), b"{ }", NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"secret", Some(&good), body, NOW + MAX_AGE_SECS + 1),
            Err(SignatureError::Stale)
        );
        let future = sign(b"secret", body, NOW + MAX_SKEW_SECS + 1);
        assert_eq!(
            verify(b"secret", Some(&future), body, NOW),
            Err(SignatureError::Future)
        );
    }
}
