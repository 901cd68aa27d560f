//! Fuzzing the API channel's `verify` and `parse` natively, on the stable
//! toolchain: real webhooks mutated at random (bytes flipped, cut, repeated,
//! JSON values swapped for hostile ones), signed correctly half of the time,
//! and handshakes with random challenges, through the functions the component
//! exports. Property: neither panics. `SWITCHBOARD_FUZZ_ITERATIONS` sets the
//! count (default 20,000; BENCHMARKS.md reports a long run),
//! `SWITCHBOARD_FUZZ_SEED` replays a run.

use switchboard_plugin_api::SIGNATURE;
use switchboard_plugin_api::inbound::{parse_event, verify};
use switchboard_sdk::testing::{incoming, settings};
use switchboard_sdk::types::Verification;

/// xorshift64*: enough randomness for mutation, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const HOSTILE: &[&str] = &[
    "null",
    "-1",
    "1e999",
    "[]",
    "{}",
    "\"\"",
    "true",
    "18446744073709551616",
    "\"\\ud800\"",
];

const BODIES: &[&str] = &[
    r#"{"type":"message","conversation_id":"c-1","contact":{"id":"u-1","name":"Ada","email":"ada@example.com"},"message":{"id":"m-1","text":"Hello","sent_at_ms":1699999999000,"reply_to":"o-1","attachments":[{"url":"https://cdn.example/a.png","kind":"image","mime_type":"image/png","file_name":"a.png"}]}}"#,
    r#"{"type":"status","conversation_id":"c-1","message_id":"out-1","status":"read","up_to_ms":1699999999000}"#,
    r#"{"type":"status","message_id":"out-2","status":"failed","error":"blocked"}"#,
];

fn mutate(rng: &mut Rng, mut body: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.below(4) {
        match rng.below(5) {
            0 if !body.is_empty() => {
                let i = rng.below(body.len());
                body[i] = rng.next() as u8;
            }
            1 if !body.is_empty() => body.truncate(rng.below(body.len())),
            2 if !body.is_empty() => {
                let i = rng.below(body.len());
                let piece = body[i..].to_vec();
                body.extend_from_slice(&piece);
            }
            3 => {
                let text = String::from_utf8_lossy(&body).into_owned();
                let colons: Vec<usize> = text.match_indices(':').map(|(i, _)| i).collect();
                if !colons.is_empty() {
                    let at = colons[rng.below(colons.len())];
                    let end = text[at + 1..].find([',', '}']).map_or(text.len(), |e| at + 1 + e);
                    let value = HOSTILE[rng.below(HOSTILE.len())];
                    body = format!("{}{value}{}", &text[..=at], &text[end..]).into_bytes();
                }
            }
            _ => {}
        }
    }
    body
}

#[test]
fn verify_and_parse_never_panic() {
    let iterations: usize = std::env::var("SWITCHBOARD_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let seed = std::env::var("SWITCHBOARD_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("fuzz seed {seed}");
    let mut rng = Rng(seed | 1);
    let configured = settings(&[("account_id", "acct-1")], &[("signing_secret", "in-secret")]);
    let now = 1_700_000_000u64;
    let started = std::time::Instant::now();
    let (mut accepted, mut parsed) = (0usize, 0usize);
    for _ in 0..iterations {
        let seed_body = BODIES[rng.below(BODIES.len())].as_bytes().to_vec();
        let body = mutate(&mut rng, seed_body);
        let handshake = rng.below(10) == 0;
        let (method, path, body) = if handshake {
            let challenge: String = (0..rng.below(1500))
                .map(|_| (b'a' + rng.below(26) as u8) as char)
                .collect();
            (
                "GET",
                format!("/webhooks/api-channel?challenge={challenge}"),
                Vec::new(),
            )
        } else {
            ("POST", "/webhooks/api-channel".to_owned(), body)
        };
        let t = if rng.below(4) == 0 { rng.next() } else { now };
        let header = if rng.below(2) == 0 {
            SIGNATURE.sign(b"in-secret", t, &body)
        } else {
            String::from_utf8_lossy(&mutate(&mut rng, b"t=1,v1=00".to_vec())).into_owned()
        };
        let request = incoming(method, &path, &[("X-Switchboard-Signature", &header)], body);
        if matches!(verify(&configured, &request, now), Verification::Accepted) {
            accepted += 1;
        }
        parsed += usize::from(parse_event(&configured, &request.body, now * 1000).is_ok());
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{iterations} inputs in {secs:.1} s ({:.0}/s): {accepted} accepted, {parsed} parsed",
        iterations as f64 / secs
    );
    assert!(
        accepted > 0 && parsed > 0,
        "the fuzzing never reached a genuine input"
    );
}
