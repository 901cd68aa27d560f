//! Fuzzing on the stable toolchain: random and mutated webhooks through the
//! whole webhook route (`POST|GET /webhooks/{channel}` → the real TikTok and
//! api-channel components' `verify` and `parse` in the sandbox → the host's
//! conversion and output budget → the inbound log), on a real database.
//!
//! Inputs are drawn by a seeded generator (`rand`): well-formed events of each
//! channel, then mutated (bytes flipped, cut, repeated, spliced, JSON values
//! swapped for hostile ones), half of them signed correctly so that `parse`
//! runs too. The property: never a panic, never a 5xx.
//!
//! `SWITCHBOARD_FUZZ_ITERATIONS` (default 300 per channel, a few seconds, in
//! `tests/run`) and `SWITCHBOARD_FUZZ_SEED` (default random; printed, so a
//! failure replays). A long run, outside CI (progress every 10,000 inputs;
//! figures in BENCHMARKS.md):
//! `SWITCHBOARD_FUZZ_ITERATIONS=1000000 cargo test -p switchboard --test fuzz -- sqlite --nocapture`.

#[macro_use]
mod common;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Backend, Fixture};
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::Sha256;
use tower::ServiceExt;

const TIKTOK_SECRET: &str = "fuzz-tiktok-secret";
const API_SECRET: &str = "fuzz-api-secret";

fn iterations() -> usize {
    std::env::var("SWITCHBOARD_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn sign(header_keys: (&str, &str), secret: &str, t: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let signature = hex::encode(mac.finalize().into_bytes());
    format!("{}={t},{}={signature}", header_keys.0, header_keys.1)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Values that have broken parsers before: huge, empty, wrong types, deep.
fn hostile_value(rng: &mut StdRng) -> String {
    match rng.random_range(0..10) {
        0 => "null".into(),
        1 => format!("\"{}\"", "x".repeat(rng.random_range(0..200_000))),
        2 => "-1".into(),
        3 => "1e999".into(),
        4 => "[]".into(),
        5 => "{}".into(),
        6 => format!("{}1{}", "[".repeat(200), "]".repeat(200)),
        7 => "\"\\u0000\\ud800\"".into(),
        8 => "18446744073709551616".into(),
        _ => "true".into(),
    }
}

fn tiktok_event(rng: &mut StdRng) -> String {
    let n = rng.random_range(0..1000);
    let kind = ["im_receive_msg", "im_send_msg", "im_read_msg", "unknown", ""][rng.random_range(0..5)];
    let content = serde_json::json!({
        "type": "text",
        "message_id": format!("m-{n}"),
        "timestamp": now() * 1000,
        "conversation_id": format!("c-{n}"),
        "text": { "body": "é".repeat(rng.random_range(0..50)) },
        "from": "user", "from_user": { "id": format!("u-{n}") },
        "to": "biz", "to_user": { "id": "biz-1" },
    });
    serde_json::json!({ "event": kind, "user_openid": "biz-1", "content": content.to_string() }).to_string()
}

fn api_event(rng: &mut StdRng) -> String {
    let n = rng.random_range(0..1000);
    serde_json::json!({
        "type": (["message", "status", "other"][rng.random_range(0..3)]),
        "conversation_id": format!("c-{n}"),
        "contact": { "id": format!("u-{n}"), "name": "Ann" },
        "message": {
            "id": format!("m-{n}"),
            "text": "ü".repeat(rng.random_range(0..50)),
            "sent_at_ms": now() * 1000,
            "attachments": [{ "url": "https://cdn.example/a.png", "kind": "image" }],
        },
    })
    .to_string()
}

fn mutate(rng: &mut StdRng, mut body: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.random_range(0..4) {
        match rng.random_range(0..6) {
            0 if !body.is_empty() => {
                let i = rng.random_range(0..body.len());
                body[i] = rng.random();
            }
            1 if !body.is_empty() => body.truncate(rng.random_range(0..body.len())),
            2 if !body.is_empty() => {
                let i = rng.random_range(0..body.len());
                let piece = body[i..].to_vec();
                body.extend_from_slice(&piece);
            }
            3 => {
                // Swap a JSON value (after some colon) for a hostile one.
                let text = String::from_utf8_lossy(&body).into_owned();
                let colons: Vec<usize> = text.match_indices(':').map(|(i, _)| i).collect();
                if let Some(&at) = colons.get(rng.random_range(0..colons.len().max(1))) {
                    let end = text[at + 1..].find([',', '}']).map_or(text.len(), |e| at + 1 + e);
                    body = format!("{}{}{}", &text[..=at], hostile_value(rng), &text[end..]).into_bytes();
                }
            }
            4 => body = (0..rng.random_range(0..512)).map(|_| rng.random()).collect(),
            _ => {}
        }
    }
    body
}

async fn fuzz_channel(fixture: &Fixture, rng: &mut StdRng, channel: &str) -> anyhow::Result<(usize, usize)> {
    // No workers apply what is stored here: admission control would make
    // every webhook past the backlog bound wait, so it is off.
    let state = switchboard::app::AppState {
        pipeline: switchboard::app::Pipeline::new(switchboard::app::PipelineConfig {
            inbound_backlog: 0,
            ..Default::default()
        }),
        ..fixture.state.clone()
    };
    let router = switchboard::api::router(state);
    let mut accepted = 0;
    let n = iterations();
    for i in 0..n {
        let body = match channel {
            "tiktok" => tiktok_event(rng),
            _ => api_event(rng),
        };
        let body = mutate(rng, body.into_bytes());
        let get = channel == "api-channel" && rng.random_bool(0.1);
        let (method, query, body) = if get {
            let challenge = "c".repeat(rng.random_range(0..2000));
            ("GET", format!("?challenge={challenge}"), Vec::new())
        } else {
            ("POST", String::new(), body)
        };
        let t = if rng.random_bool(0.9) { now() } else { rng.random() };
        let signature = match channel {
            "tiktok" => ("Tiktok-Signature", sign(("t", "s"), TIKTOK_SECRET, t, &body)),
            _ => ("X-Switchboard-Signature", sign(("t", "v1"), API_SECRET, t, &body)),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/webhooks/{channel}{query}"))
            .header("content-type", "application/json");
        if rng.random_bool(0.6) {
            request = request.header(signature.0, signature.1);
        } else if rng.random_bool(0.5) {
            let junk: String = (0..rng.random_range(0..300))
                .map(|_| rng.random_range(b' '..b'~') as char)
                .collect();
            request = request.header(signature.0, junk);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::from(body.clone()))?)
            .await?;
        let status = response.status();
        anyhow::ensure!(
            !status.is_server_error(),
            "{channel} input {i} answered {status}: {:?}",
            String::from_utf8_lossy(&body)
        );
        if status == StatusCode::OK {
            accepted += 1;
        }
        // A long run stopped early still tells how far it got.
        if (i + 1) % 10_000 == 0 {
            eprintln!("{channel}: {} inputs, {accepted} accepted, no 5xx so far", i + 1);
        }
    }
    Ok((n, accepted))
}

async fn webhook_route_never_panics_or_answers_5xx(backend: Backend) -> anyhow::Result<()> {
    let fixture = Fixture::new(backend).await?;
    let plugins = &fixture.state.plugins;
    switchboard::plugin_host::bundled::install_all(plugins).await;
    for (key, value) in [
        ("TIKTOK_APP_ID", "app-1"),
        ("TIKTOK_APP_SECRET", TIKTOK_SECRET),
        ("API_CHANNEL_SIGNING_SECRET", API_SECRET),
    ] {
        switchboard::app::administration::set_config(plugins, key, value, key.ends_with("SECRET")).await?;
    }
    let seed = std::env::var("SWITCHBOARD_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("fuzz seed {seed} (SWITCHBOARD_FUZZ_SEED replays it)");
    let mut rng = StdRng::seed_from_u64(seed);
    for channel in ["tiktok", "api-channel"] {
        let started = Instant::now();
        let (inputs, accepted) = fuzz_channel(&fixture, &mut rng, channel).await?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{backend:?} {channel}: {inputs} inputs, {accepted} accepted, {secs:.1} s ({:.0} inputs/s)",
            inputs as f64 / secs
        );
        // The generator's signed, unmutated share must get through, or the
        // fuzzing never reached `parse`.
        anyhow::ensure!(
            accepted > 0,
            "no {channel} input was accepted: the fuzzing never reached parse"
        );
    }
    Ok(())
}

on_both_databases!(webhook_route_never_panics_or_answers_5xx);
