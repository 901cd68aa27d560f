//! Fuzzing TikTok's `verify` and `parse` natively, on the stable toolchain:
//! a real webhook (`bench_webhook`) mutated at random (bytes flipped, cut,
//! repeated, JSON values swapped for hostile ones), signed correctly half of
//! the time, through the same functions the component exports. Property:
//! neither panics. `SWITCHBOARD_FUZZ_ITERATIONS` sets the count (default
//! 20,000, a fraction of a second; BENCHMARKS.md reports a long run) and
//! `SWITCHBOARD_FUZZ_SEED` replays a run.

use switchboard_plugin_tiktok::{bench_webhook, events, signature};

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
    let (secret, now) = (b"fuzz-secret", 1_700_000_000u64);
    let started = std::time::Instant::now();
    let (mut verified, mut parsed) = (0usize, 0usize);
    for _ in 0..iterations {
        let body = mutate(&mut rng, bench_webhook(now * 1000));
        let header = match rng.below(3) {
            0 => signature::sign(secret, &body, now),
            1 => signature::sign(secret, &body, rng.next()),
            _ => String::from_utf8_lossy(&mutate(&mut rng, b"t=1,s=00".to_vec())).into_owned(),
        };
        verified += usize::from(signature::verify(secret, Some(&header), &body, now).is_ok());
        parsed += usize::from(events::parse_event(&body).is_ok());
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{iterations} inputs in {secs:.1} s ({:.0}/s): {verified} verified, {parsed} parsed",
        iterations as f64 / secs
    );
    assert!(
        verified > 0 && parsed > 0,
        "the fuzzing never reached a genuine input"
    );
}
