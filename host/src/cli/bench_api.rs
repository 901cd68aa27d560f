//! `switchboard bench api`: seeds a database with many conversations and
//! messages, serves the real API on loopback, and measures the dashboard's
//! hottest calls (list conversations, list messages, create a message) with
//! p50/p99. Needs an empty database: a temporary SQLite file by default, or
//! `--database-url postgres://…` for a fresh PostgreSQL database.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;
use hdrhistogram::Histogram;
use rand::Rng;

use super::bench_webhooks::Scratch;
use crate::app::administration::{self, NewUser};
use crate::config::HostConfig;

/// Flags of `bench api`.
#[derive(Debug, clap::Args)]
pub struct BenchApiArgs {
    /// Conversations to seed.
    #[arg(long, default_value_t = 100_000)]
    pub conversations: usize,
    /// Messages to seed (spread over the conversations).
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: usize,
    /// Requests per measurement.
    #[arg(long, default_value_t = 500)]
    pub requests: u32,
    /// An empty database to use (default: a temporary SQLite file).
    #[arg(long = "bench-database-url")]
    pub database_url: Option<String>,
}

pub async fn run(config: &HostConfig, args: BenchApiArgs) -> anyhow::Result<ExitCode> {
    let scratch = Scratch::open(
        "api",
        args.database_url.clone(),
        &format!(
            "the bench database must be empty (it would add {} conversations)",
            args.conversations
        ),
    )
    .await?;
    let store = scratch.store.clone();
    let account = administration::create_account(&store, "Bench", None).await?;
    let admin = administration::create_user(
        &store,
        NewUser {
            email: "bench@bench.example".into(),
            name: None,
            super_admin: false,
            account_id: Some(account.id),
            role: Some("administrator".into()),
        },
    )
    .await?;
    let inbox = store.insert_inbox(account.id, "Bench", "bench", None).await?;

    eprintln!(
        "seeding {} conversations and {} messages…",
        args.conversations, args.messages
    );
    let total = args.conversations * 3 + args.messages;
    let started = Instant::now();
    let mut reported = 0;
    store
        .seed_conversations(account.id, inbox.id, args.conversations, args.messages, |done| {
            let percent = done * 100 / total.max(1);
            if percent >= reported + 10 {
                reported = percent - percent % 10;
                eprintln!(
                    "  {reported}% ({done} rows, {:.0} s)",
                    started.elapsed().as_secs_f64()
                );
            }
        })
        .await?;
    let seed_secs = started.elapsed().as_secs_f64();

    let runtime = crate::runtime::Runtime::new(crate::runtime::RuntimeConfig {
        cache_dir: None,
        ..config.runtime()
    })?;
    let secrets = crate::secrets::SecretBox::with_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
    let plugins =
        crate::plugin_host::PluginHost::new(runtime, store.clone(), config.egress(), Arc::new(secrets));
    let live = crate::live::LiveEvents::new(store.clone());
    let state = crate::app::AppState {
        store: store.clone(),
        plugins,
        live,
        pipeline: crate::app::Pipeline::new(Default::default()),
        blobs: config.blobs()?,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/api/v1/accounts/{}", listener.local_addr()?, account.id);
    let state_for_pages = state.clone();
    let server = tokio::spawn(crate::api::serve(listener, state, std::future::pending()));
    let http = reqwest::Client::new();
    let token = admin.access_token.clone();
    let pages = (args.conversations / 25).max(1);

    let list = measure(args.requests, || {
        let page = rand::rng().random_range(1..=pages.min(400));
        http.get(format!("{base}/conversations?status=all&page={page}"))
            .header("api_access_token", &token)
            .send()
    })
    .await?;
    let open_first = measure(args.requests, || {
        http.get(format!("{base}/conversations"))
            .header("api_access_token", &token)
            .send()
    })
    .await?;
    let messages = measure(args.requests, || {
        let id = rand::rng().random_range(1..=args.conversations as i64);
        http.get(format!("{base}/conversations/{id}/messages"))
            .header("api_access_token", &token)
            .send()
    })
    .await?;
    let create = measure(args.requests, || {
        let id = rand::rng().random_range(1..=args.conversations as i64);
        http.post(format!("{base}/conversations/{id}/messages"))
            .header("api_access_token", &token)
            .json(&serde_json::json!({ "content": "benchmark note", "private": true }))
            .send()
    })
    .await?;
    // The dashboard's conversation list page (issue 11): the same use case
    // rendered as HTML, signed in with a session cookie.
    crate::app::sessions::set_password(&store, "bench@bench.example", "bench password").await?;
    let session =
        crate::app::sessions::sign_in(&state_for_pages, "bench@bench.example", "bench password", None)
            .await?;
    let pages_base = base.replacen("/api/v1/accounts/", "/app/accounts/", 1);
    let cookie = format!("sb_session={}", session.token);
    let page_open = measure(args.requests, || {
        http.get(format!("{pages_base}/conversations"))
            .header("cookie", &cookie)
            .send()
    })
    .await?;
    let page_all = measure(args.requests, || {
        let page = rand::rng().random_range(1..=pages.min(400));
        http.get(format!("{pages_base}/conversations?status=all&page={page}"))
            .header("cookie", &cookie)
            .send()
    })
    .await?;
    server.abort();
    scratch.finish().await;

    println!(
        "| database | conversations | messages | seed | list conversations (page of 25, all) p50 / p99 | list open (first page) p50 / p99 | list messages p50 / p99 | create message p50 / p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {:?} | {} | {} | {:.0} s | {} | {} | {} | {} |",
        store.dialect(),
        args.conversations,
        args.messages,
        seed_secs,
        quantiles(&list),
        quantiles(&open_first),
        quantiles(&messages),
        quantiles(&create)
    );
    println!();
    println!(
        "| database | conversations | dashboard list page, open (first page) p50 / p99 | dashboard list page, all (page of 25) p50 / p99 |"
    );
    println!("|---|---|---|---|");
    println!(
        "| {:?} | {} | {} | {} |",
        store.dialect(),
        args.conversations,
        quantiles(&page_open),
        quantiles(&page_all)
    );
    super::bench_summary::record(
        format!(
            "dashboard conversation list page (HTML), {:?}, {} conversations",
            store.dialect(),
            args.conversations
        ),
        quantiles(&page_open),
        "≤ 50 ms p50 at 100k",
        "new in issue 11",
    );
    super::bench_summary::record(
        format!(
            "first page of open conversations with counts, {:?}, {} conversations",
            store.dialect(),
            args.conversations
        ),
        quantiles(&open_first),
        "≤ 5 ms p50 at 100k",
        "10.5 ms SQLite, 14.3 ms PostgreSQL p50",
    );
    Ok(ExitCode::SUCCESS)
}

async fn measure<F, Fut>(requests: u32, mut request: F) -> anyhow::Result<Histogram<u64>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    let mut histogram = Histogram::<u64>::new(3)?;
    for n in 0..requests + 20 {
        let started = Instant::now();
        let response = request().await?;
        let status = response.status();
        let _ = response.bytes().await?;
        if !status.is_success() {
            bail!("benchmark request failed with {status}");
        }
        if n >= 20 {
            histogram.record(started.elapsed().as_micros() as u64)?;
        }
    }
    Ok(histogram)
}

fn quantiles(h: &Histogram<u64>) -> String {
    format!(
        "{:.1} / {:.1} ms",
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0
    )
}
