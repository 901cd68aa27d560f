//! `switchboard bench webhooks`: durable ingest under load. Serves the real
//! API on loopback with the bundled TikTok plugin verifying every request
//! (HMAC over the body), and `--clients` concurrent senders post signed
//! webhooks for `--seconds`; every 200 means the event was committed to the
//! inbound log. Reports acknowledged webhooks per second, acknowledge latency
//! p50/p99, and how fast the workers applied them to conversations (with
//! `--apply-after-load`, the workers start only when the load ends: durable
//! ingest alone, then the drain of its backlog). On
//! PostgreSQL it also runs `pgbench` with the same number of clients doing
//! single-row INSERTs of a similar row: the physical limit of durable ingest
//! on this machine, for comparison.

use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use hmac::Mac;

use crate::config::HostConfig;
use crate::plugin_host::{PluginHost, bundled, settings};
use crate::store::Store;

/// Flags of `bench webhooks`.
#[derive(Debug, clap::Args)]
pub struct BenchWebhooksArgs {
    /// Concurrent senders (and pgbench clients).
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Inboxes (provider accounts) the traffic is spread over; each has its
    /// share of the conversations.
    #[arg(long, default_value_t = 10)]
    pub inboxes: usize,
    /// Conversations the traffic is spread over.
    #[arg(long, default_value_t = 1000)]
    pub conversations: u64,
    /// An empty database to use (default: a temporary SQLite file).
    #[arg(long = "bench-database-url")]
    pub database_url: Option<String>,
    /// The inbound backlog above which webhooks wait for applies to catch up
    /// (`SWITCHBOARD_INBOUND_BACKLOG`); 0 measures ingest alone, unthrottled.
    #[arg(long, default_value_t = crate::app::PipelineConfig::default().inbound_backlog)]
    pub inbound_backlog: i64,
    /// Record metrics as `serve` does when `/metrics` is on (the exporter
    /// installed), to measure what they cost the webhook path.
    #[arg(long)]
    pub metrics: bool,
    /// Start the pipeline workers only once the load has ended: measures
    /// durable ingest alone, as pgbench measures bare INSERTs (without
    /// admission control, whatever `--inbound-backlog` says), then how fast
    /// the workers drain what it left.
    #[arg(long)]
    pub apply_after_load: bool,
    /// Send the load from tasks of this process instead of a separate
    /// load-generator process (`bench load`, this binary run again): the
    /// senders then share the server's executor and allocator.
    #[arg(long)]
    pub in_process: bool,
}

/// Flags of the hidden `bench load`: the load generator `bench webhooks`
/// runs as a separate process, so the senders' HTTP client does not share
/// the server's executor. Prints one JSON line with what it measured.
#[derive(Debug, clap::Args)]
pub struct BenchLoadArgs {
    /// The webhook URL to post to.
    #[arg(long)]
    pub target: String,
    /// Concurrent senders.
    #[arg(long)]
    pub clients: usize,
    /// Seconds of load.
    #[arg(long)]
    pub seconds: u64,
    /// Inboxes the traffic is spread over.
    #[arg(long)]
    pub inboxes: u64,
    /// Conversations the traffic is spread over.
    #[arg(long)]
    pub conversations: u64,
}

/// What a load run measured; the load process's one line of output.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct LoadOutcome {
    acknowledged: u64,
    seconds: f64,
    p50_us: u64,
    p99_us: u64,
}

pub(super) const SECRET: &str = "bench-secret";
const BUSINESS: &str = "biz-bench";

pub async fn run(config: &HostConfig, args: BenchWebhooksArgs) -> anyhow::Result<ExitCode> {
    let inboxes = args.inboxes.max(1);
    if args.metrics {
        super::serve::install_recorder()?;
        println!("metrics recorded (as with SWITCHBOARD_METRICS_TOKEN or _ADDR set)");
    }
    let scratch = Scratch::open(
        "webhooks",
        args.database_url.clone(),
        "the bench database must be empty",
    )
    .await?;
    let (url, store) = (scratch.url.clone(), scratch.store.clone());
    let cache = scratch.dir.join("cache");
    let mut node = if args.apply_after_load {
        // Admission control would hold webhooks back for workers that are
        // not running yet: ingest alone is measured without it.
        BenchNode::start_idle(config, store.clone(), &cache, 0).await?
    } else {
        BenchNode::start(config, &url, store.clone(), &cache, args.inbound_backlog).await?
    };
    let account = crate::app::administration::create_account(&store, "Bench", None).await?;
    let credentials = crate::channel_accounts::credentials::seal(&node.state.plugins, &Default::default())?;
    for i in 0..inboxes {
        store
            .connect_inbox(
                account.id,
                "tiktok",
                &business(i),
                &format!("Bench {i}"),
                None,
                &credentials,
            )
            .await?;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let target = format!("http://{}/webhooks/tiktok", listener.local_addr()?);
    let server = tokio::spawn(crate::api::serve(
        listener,
        node.state.clone(),
        std::future::pending(),
    ));

    println!(
        "sending signed webhooks from {} clients for {} s to {:?}, {}…",
        args.clients,
        args.seconds,
        store.dialect(),
        if args.in_process {
            "from this process"
        } else {
            "from a separate load-generator process"
        }
    );
    let started = Instant::now();
    let spread = Spread {
        inboxes: inboxes as u64,
        conversations: args.conversations.max(1),
    };
    let outcome = if args.in_process {
        send_load(&target, args.clients, args.seconds, spread).await?
    } else {
        load_from_process(&target, args.clients, args.seconds, spread).await?
    };
    let load_secs = outcome.seconds;
    let acknowledged = outcome.acknowledged;
    let load_ended = Instant::now();
    let applied_under_load = count(&store, "applied").await?;
    if args.apply_after_load {
        node.start_workers(&url);
    }

    // How long the workers take to apply what was acknowledged.
    let apply_deadline = Instant::now() + Duration::from_secs(300);
    let pending_after_drain = loop {
        // Not `pipeline_counts`: its GROUP BY over the whole log took 40 ms
        // a poll on PostgreSQL at 50,000 events, 39% of the database's time
        // while the workers drained.
        let pending = store.pending_inbound_count().await?;
        if pending == 0 || Instant::now() > apply_deadline {
            break pending;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let applied_secs = started.elapsed().as_secs_f64().max(load_secs);
    let drain_secs = load_ended.elapsed().as_secs_f64();
    node.stop().await;
    server.abort();

    println!(
        "| database | clients | inboxes / conversations | acknowledged | webhooks/s | acknowledge p50 / p99 | \
         applied/s during load | applied/s overall | backlog drained after load |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {:?} | {} | {} / {} | {} | {:.0} | {:.2} / {:.2} ms | {:.0} | {:.0} | {:.2} s |",
        store.dialect(),
        args.clients,
        inboxes,
        spread.conversations,
        acknowledged,
        acknowledged as f64 / load_secs,
        outcome.p50_us as f64 / 1000.0,
        outcome.p99_us as f64 / 1000.0,
        applied_under_load as f64 / load_secs,
        acknowledged as f64 / applied_secs,
        drain_secs,
    );
    let acknowledged_per_s = acknowledged as f64 / load_secs;
    let applied_per_s = applied_under_load as f64 / load_secs;
    let drained = pending_after_drain == 0;
    let admission = match (args.apply_after_load, args.inbound_backlog) {
        (true, _) => "ingest alone (workers started after the load)".to_owned(),
        (false, 0) => "no admission control".to_owned(),
        (false, backlog) => format!("admission at a backlog of {backlog}"),
    };
    if args.apply_after_load {
        super::bench_summary::record(
            format!("backlog of an ingest-only load drained, {:?}", store.dialect()),
            if drained {
                format!(
                    "{acknowledged} events in {drain_secs:.1} s = {:.0} applied/s",
                    acknowledged as f64 / drain_secs.max(0.001)
                )
            } else {
                format!(
                    "{pending_after_drain} of {acknowledged} events still pending after {drain_secs:.0} s"
                )
            },
            "(how fast applies run with nothing else on the machine)",
            "—",
        );
    } else {
        super::bench_summary::record(
            format!(
                "applies keep up, {:?}, {} clients, {} inboxes / {} conversations, {admission}",
                store.dialect(),
                args.clients,
                inboxes,
                spread.conversations
            ),
            format!(
                "{applied_per_s:.0} applied/s during load ÷ {acknowledged_per_s:.0} acknowledged/s = {:.2}; \
                 drained {drain_secs:.2} s after",
                applied_per_s / acknowledged_per_s.max(1.0)
            ),
            "≥ 1; drained ≤ 1 s",
            "400–730 applied/s against 2,200–3,900 acknowledged/s",
        );
    }
    if store.dialect() == crate::store::Dialect::Postgres {
        let raw = pgbench(&store, &url, args.clients, args.seconds).await?;
        super::bench_summary::record(
            format!(
                "durable ingest ÷ pgbench single-row INSERT, PostgreSQL, {} clients, {admission}",
                args.clients
            ),
            match raw {
                Some(tps) => format!(
                    "{acknowledged_per_s:.0}/s ÷ {tps:.0}/s = {:.2}",
                    acknowledged_per_s / tps.max(1.0)
                ),
                None => format!("{acknowledged_per_s:.0}/s (no pgbench)"),
            },
            "≥ 0.5",
            "0.22",
        );
    } else {
        super::bench_summary::record(
            format!(
                "durable ingest, SQLite synchronous=FULL, {} clients, {admission}",
                args.clients
            ),
            format!("{acknowledged_per_s:.0}/s"),
            "≥ 4,484/s (2 × 2,242)",
            "2,242/s",
        );
    }
    scratch.finish().await;
    Ok(ExitCode::SUCCESS)
}

/// `bench load`: sends the load and prints its [`LoadOutcome`] as one JSON
/// line.
pub async fn run_load(args: BenchLoadArgs) -> anyhow::Result<ExitCode> {
    let spread = Spread {
        inboxes: args.inboxes.max(1),
        conversations: args.conversations.max(1),
    };
    let outcome = send_load(&args.target, args.clients, args.seconds, spread).await?;
    println!("{}", serde_json::to_string(&outcome)?);
    Ok(ExitCode::SUCCESS)
}

/// Runs `bench load` as a child process and reads its outcome.
async fn load_from_process(
    target: &str,
    clients: usize,
    seconds: u64,
    spread: Spread,
) -> anyhow::Result<LoadOutcome> {
    let exe = std::env::current_exe().context("finding this binary to run the load generator")?;
    let output = tokio::process::Command::new(exe)
        .args(["bench", "load", "--target", target])
        .args([
            "--clients",
            &clients.to_string(),
            "--seconds",
            &seconds.to_string(),
        ])
        .args(["--inboxes", &spread.inboxes.to_string()])
        .args(["--conversations", &spread.conversations.to_string()])
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await
        .context("running the load generator (`switchboard bench load`)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("the load generator failed ({}): {stdout}", output.status);
    }
    let line = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .context("the load generator printed no outcome")?;
    serde_json::from_str(line).context("reading the load generator's outcome")
}

/// `clients` senders post signed webhooks to `target` for `seconds`, each
/// waiting for its answer before the next; any answer but 200 stops the
/// run with an error.
async fn send_load(
    target: &str,
    clients: usize,
    seconds: u64,
    spread: Spread,
) -> anyhow::Result<LoadOutcome> {
    let running = Arc::new(AtomicBool::new(true));
    let sequence = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..clients {
        let (running, sequence, target) = (running.clone(), sequence.clone(), target.to_owned());
        senders.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut latencies = Histogram::<u64>::new(3).expect("histogram");
            while running.load(Ordering::Relaxed) {
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                let body = webhook(n, spread);
                let signature = sign(&body);
                let sent = Instant::now();
                let answer = http
                    .post(&target)
                    .header("content-type", "application/json")
                    .header("Tiktok-Signature", signature)
                    .body(body)
                    .send()
                    .await;
                match answer {
                    Ok(r) if r.status() == 200 => {
                        latencies
                            .record(sent.elapsed().as_micros() as u64)
                            .expect("record");
                    }
                    Ok(r) => return Err(anyhow::anyhow!("webhook answered {}", r.status())),
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(latencies)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    running.store(false, Ordering::Relaxed);
    let mut latencies = Histogram::<u64>::new(3)?;
    for sender in senders {
        latencies.add(sender.await??)?;
    }
    Ok(LoadOutcome {
        acknowledged: latencies.len(),
        seconds: started.elapsed().as_secs_f64(),
        p50_us: latencies.value_at_quantile(0.5),
        p99_us: latencies.value_at_quantile(0.99),
    })
}

/// One serving node of a benchmark: the real application state with the
/// bundled TikTok plugin set up to verify the benchmarks' signatures, the
/// per-channel rate limit lifted (it would cap what is measured), and its
/// pipeline workers running (or, from [`BenchNode::start_idle`], not yet).
pub(super) struct BenchNode {
    pub state: crate::app::AppState,
    pub workers: Vec<tokio::task::JoinHandle<()>>,
    pub stop_workers: tokio::sync::watch::Sender<bool>,
}

impl BenchNode {
    pub async fn start(
        config: &HostConfig,
        url: &str,
        store: Store,
        cache: &std::path::Path,
        inbound_backlog: i64,
    ) -> anyhow::Result<Self> {
        let mut node = Self::start_idle(config, store, cache, inbound_backlog).await?;
        node.start_workers(url);
        Ok(node)
    }

    /// The node without its workers: webhooks are logged, nothing applies
    /// them until [`Self::start_workers`].
    pub async fn start_idle(
        config: &HostConfig,
        store: Store,
        cache: &std::path::Path,
        inbound_backlog: i64,
    ) -> anyhow::Result<Self> {
        let runtime = crate::runtime::Runtime::new(crate::runtime::RuntimeConfig {
            cache_dir: Some(cache.to_path_buf()),
            ..config.runtime()
        })?;
        let secrets = crate::secrets::SecretBox::with_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
        let plugins = PluginHost::new(runtime, store.clone(), config.egress(), Arc::new(secrets));
        bundled::install_all(&plugins).await;
        settings::set_config(&plugins, "TIKTOK_APP_ID", "bench-app", false).await?;
        settings::set_config(&plugins, "TIKTOK_APP_SECRET", SECRET, true).await?;
        plugins.sync().await?;
        let state = crate::app::AppState {
            store: store.clone(),
            plugins,
            live: crate::live::LiveEvents::new(store.clone()),
            pipeline: crate::app::Pipeline::new(crate::app::PipelineConfig {
                webhook_rate: 1_000_000,
                webhook_burst: 1_000_000,
                inbound_backlog,
                ..Default::default()
            }),
            blobs: config.blobs()?,
        };
        let (stop_workers, _) = tokio::sync::watch::channel(false);
        Ok(Self {
            state,
            workers: Vec::new(),
            stop_workers,
        })
    }

    /// Starts the pipeline workers, and what brings other nodes' work and
    /// live events to this one, as `serve` does (both no-ops on SQLite).
    pub fn start_workers(&mut self, url: &str) {
        let stopped = self.stop_workers.subscribe();
        let state = &self.state;
        self.workers = crate::pipeline::spawn_workers(state, stopped.clone());
        self.workers
            .push(tokio::spawn(state.pipeline.clone().connect_nodes(
                state.store.clone(),
                url.to_owned(),
                stopped.clone(),
            )));
        self.workers
            .push(tokio::spawn(state.live.clone().follow(url.to_owned(), stopped)));
    }

    /// Stops the workers and waits for them.
    pub async fn stop(self) {
        let _ = self.stop_workers.send(true);
        for worker in self.workers {
            let _ = worker.await;
        }
    }
}

/// How the traffic is spread: webhook `n` goes to conversation
/// `n % conversations`, which belongs to inbox `conversation % inboxes`.
#[derive(Debug, Clone, Copy)]
struct Spread {
    inboxes: u64,
    conversations: u64,
}

/// The provider account id of bench inbox `i`.
fn business(i: usize) -> String {
    format!("{BUSINESS}-{i}")
}

/// Inbound events in `status` now.
async fn count(store: &Store, status: &str) -> anyhow::Result<i64> {
    let counts = store.pipeline_counts().await?;
    Ok(counts
        .events
        .iter()
        .find(|(s, _)| s == status)
        .map_or(0, |(_, n)| *n))
}

/// Webhook `n`, spread over the inboxes and conversations.
fn webhook(n: u64, spread: Spread) -> Vec<u8> {
    let conversation = n % spread.conversations;
    tiktok_webhook(
        &business((conversation % spread.inboxes) as usize),
        &format!("bench-{n}"),
        &format!("conv-{conversation}"),
        &format!("benchmark message {n}"),
    )
}

/// A TikTok `im_receive_msg` webhook from the contact `user-<conversation>`
/// to the business `business`, sent now.
pub(super) fn tiktok_webhook(business: &str, message_id: &str, conversation: &str, text: &str) -> Vec<u8> {
    let content = serde_json::json!({
        "type": "text",
        "message_id": message_id,
        "timestamp": crate::store::now_ms(),
        "conversation_id": conversation,
        "text": { "body": text },
        "from": "user", "from_user": { "id": format!("user-{conversation}") },
        "to": "bench", "to_user": { "id": business },
    });
    serde_json::to_vec(&serde_json::json!({
        "event": "im_receive_msg",
        "user_openid": business,
        "content": content.to_string(),
    }))
    .expect("json")
}

/// A benchmark's scratch folder and its empty database: the one named, or
/// a temporary SQLite file in the folder. [`Scratch::finish`] closes the
/// database and removes the folder.
pub(super) struct Scratch {
    pub dir: std::path::PathBuf,
    pub url: String,
    pub store: Store,
}

impl Scratch {
    /// Opens it; fails with `refusal` unless the database is empty.
    pub async fn open(bench: &str, database_url: Option<String>, refusal: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("switchboard-bench-{bench}-{}", std::process::id()));
        let url =
            database_url.unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()));
        let store = Store::open(&url).await.context("opening the bench database")?;
        if store.get_account(1).await.is_ok() {
            bail!("{refusal}");
        }
        Ok(Self { dir, url, store })
    }

    /// Closes the database and removes the folder.
    pub async fn finish(self) {
        self.store.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// TikTok's signature header over `body` with the benchmarks' app secret
/// (`bench-secret`), made now.
pub(super) fn sign(body: &[u8]) -> String {
    let t = crate::store::now_ms() / 1000;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},s={}", hex::encode(mac.finalize().into_bytes()))
}

/// Runs pgbench with single-row INSERTs of a row like an inbound event;
/// answers its transactions per second.
async fn pgbench(store: &Store, url: &str, clients: usize, seconds: u64) -> anyhow::Result<Option<f64>> {
    if Command::new("pgbench").arg("--version").output().is_err() {
        println!("(pgbench not found: no raw INSERT comparison)");
        return Ok(None);
    }
    store.create_raw_insert_table().await?;
    let script = std::env::temp_dir().join(format!("switchboard-pgbench-{}.sql", std::process::id()));
    std::fs::write(
        &script,
        "INSERT INTO bench_raw_insert (channel, body, received_at) VALUES ('tiktok', repeat('x', 400), 0);\n",
    )?;
    println!("running pgbench: {clients} clients, {seconds} s of single-row INSERTs…");
    let output = Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-f",
        ])
        .arg(&script)
        .arg(url.split('?').next().unwrap_or(url))
        .output()
        .context("running pgbench")?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&output.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps"))
        .unwrap_or("pgbench printed no tps line");
    println!("pgbench single-row INSERT, {clients} clients: {tps}");
    if !output.status.success() {
        println!("{}", String::from_utf8_lossy(&output.stderr));
    }
    store.drop_raw_insert_table().await?;
    // "tps = 13575.123456 (without initial connection time)"
    Ok(tps
        .strip_prefix("tps = ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok()))
}
