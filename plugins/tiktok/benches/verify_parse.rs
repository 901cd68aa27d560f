//! verify-webhook + parse-event of one signed `im_receive_msg` webhook, with
//! the crate built natively: the baseline for the same work in the sandbox
//! (`switchboard bench tiktok`). Prints p50 / p99 in microseconds.
//! Run: `cargo bench -p switchboard-plugin-tiktok`.

use std::time::Instant;

use switchboard_plugin_tiktok::TikTok;
use switchboard_sdk::Channel;
use switchboard_sdk::testing::{FakeHost, incoming, settings};

const ITERATIONS: usize = 20_000;

fn main() {
    let host = FakeHost::install();
    let now_secs = 1_800_000_000_u64;
    host.set_now_ms(now_secs * 1000);
    let body = switchboard_plugin_tiktok::bench_webhook(now_secs * 1000);
    let signature = format!(
        "t={now_secs},s={}",
        switchboard_sdk::signature::hmac_sha256_hex(
            b"bench-secret",
            &[format!("{now_secs}.").as_bytes(), &body]
        )
    );
    let request = incoming(
        "POST",
        "/webhooks/tiktok",
        &[("Tiktok-Signature", &signature)],
        body,
    );
    let settings = settings(&[("app_id", "bench-app")], &[("app_secret", "bench-secret")]);
    let mut samples = Vec::with_capacity(ITERATIONS);
    for n in 0..ITERATIONS + 1000 {
        let started = Instant::now();
        let verified = TikTok::verify_webhook(settings.clone(), request.clone());
        let events = TikTok::parse_event(settings.clone(), request.clone()).expect("parses");
        let elapsed = started.elapsed();
        assert!(matches!(verified, switchboard_sdk::types::Verification::Accepted));
        assert_eq!(events.len(), 1);
        if n >= 1000 {
            samples.push(elapsed.as_nanos() as u64);
        }
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)] as f64 / 1000.0;
    println!(
        "native verify+parse of one TikTok webhook: p50 {:.2} µs, p99 {:.2} µs",
        at(0.5),
        at(0.99)
    );
}
