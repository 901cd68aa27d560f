//! Nothing accepted is lost, nothing applied twice: thousands of signed
//! TikTok webhooks and a stream of agent replies while servers are killed
//! with SIGKILL, on SQLite (one node) and PostgreSQL (two nodes sharing the
//! database, one killed at a time, both at the end).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use sqlx::Row;
use switchboard_e2e::connected::{BUSINESS, Connected};
use switchboard_e2e::tiktok::received_text;
use switchboard_e2e::{Backend, Server};

switchboard_e2e::on_both_databases!(acknowledged_work_survives_sigkill);

/// Conversations the traffic spreads over.
const CONVERSATIONS: usize = 20;
/// Kill rounds.
const ROUNDS: usize = 4;
/// Webhooks acknowledged per round before the kill.
const WEBHOOKS_PER_ROUND: usize = 800;
/// Concurrent webhook senders.
const SENDERS: usize = 6;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// What the clients saw acknowledged.
#[derive(Default)]
struct Acknowledged {
    webhooks: Vec<String>,
    /// Outgoing message id → its text.
    replies: HashMap<i64, String>,
}

async fn acknowledged_work_survives_sigkill(backend: Backend) -> anyhow::Result<()> {
    let c = Connected::prepare(
        backend,
        &[
            // Work held by a killed node is taken up after this long.
            ("SWITCHBOARD_QUEUE_LEASE_MS", "1500"),
            ("SWITCHBOARD_WEBHOOK_RATE", "100000"),
            ("SWITCHBOARD_WEBHOOK_BURST", "100000"),
        ],
    )
    .await?;
    let node_count = if backend == Backend::Postgres { 2 } else { 1 };
    let mut nodes: Vec<Server> = Vec::new();
    for _ in 0..node_count {
        nodes.push(c.env.serve().await?);
    }
    c.connected_inbox(&nodes[0]).await?;
    let db = switchboard_e2e::database(&c.env).await?;

    // Contacts write first, so agents can reply.
    for n in 0..CONVERSATIONS {
        let hello = received_text(
            BUSINESS,
            &format!("conv-{n}"),
            &format!("user-{n}"),
            &format!("hello-{n}"),
            "hi",
            now_ms(),
        );
        assert_eq!(
            c.mock
                .deliver(&format!("{}/webhooks/tiktok", nodes[0].base), &hello)
                .await?,
            200
        );
    }
    let mut displays: Vec<i64> = Vec::new();
    nodes[0]
        .eventually("the first conversations", 400, || async {
            let rows = sqlx::query("SELECT display_id FROM conversations ORDER BY display_id")
                .fetch_all(&db)
                .await?;
            Ok(rows.len() == CONVERSATIONS)
        })
        .await?;
    for row in sqlx::query("SELECT display_id FROM conversations ORDER BY display_id")
        .fetch_all(&db)
        .await?
    {
        displays.push(row.try_get::<i64, _>(0)?);
    }

    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let started = Instant::now();
    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
        let mut tasks = Vec::new();
        for sender in 0..SENDERS {
            let (acked, stop, base) = (acked.clone(), stop.clone(), bases[sender % bases.len()].clone());
            let secret = c.mock.app_secret();
            tasks.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("w-{round}-{sender}-{n}");
                    let conversation = n % CONVERSATIONS;
                    let event = received_text(
                        BUSINESS,
                        &format!("conv-{conversation}"),
                        &format!("user-{conversation}"),
                        &id,
                        &id,
                        now_ms(),
                    );
                    let body = serde_json::to_vec(&event).unwrap();
                    let signature = switchboard_e2e::tiktok::sign(&secret, now_ms() / 1000, &body);
                    let answer = http
                        .post(format!("{base}/webhooks/tiktok"))
                        .header("content-type", "application/json")
                        .header("Tiktok-Signature", signature)
                        .body(body)
                        .send()
                        .await;
                    if matches!(&answer, Ok(r) if r.status() == 200) {
                        acked.lock().unwrap().webhooks.push(id);
                    }
                    n += 1;
                }
            }));
        }
        // Agents reply at the same time, on every node.
        for replier in 0..2 {
            let (acked, stop, base) = (acked.clone(), stop.clone(), bases[replier % bases.len()].clone());
            let (path, token, displays) = (c.path(""), c.admin.clone(), displays.clone());
            tasks.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let text = format!("reply-{round}-{replier}-{n}");
                    let display = displays[n % displays.len()];
                    let answer = http
                        .post(format!("{base}{path}/conversations/{display}/messages"))
                        .header("api_access_token", &token)
                        .json(&json!({ "content": text }))
                        .send()
                        .await;
                    if let Ok(response) = answer
                        && response.status() == 200
                        && let Ok(message) = response.json::<serde_json::Value>().await
                    {
                        acked
                            .lock()
                            .unwrap()
                            .replies
                            .insert(message["id"].as_i64().unwrap(), text);
                    }
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        }
        // Kill while traffic flows, once the round has enough acknowledged.
        let target = (round + 1) * WEBHOOKS_PER_ROUND;
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.lock().unwrap().webhooks.len() < target && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let last = round == ROUNDS - 1;
        let victims: Vec<usize> = if last || node_count == 1 {
            (0..node_count).collect()
        } else {
            vec![round % node_count]
        };
        for &v in victims.iter().rev() {
            drop(nodes.remove(v)); // SIGKILL
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await?;
        }
        for _ in 0..victims.len() {
            nodes.push(c.env.serve().await?);
        }
    }
    let chaos = started.elapsed();

    // Let the pipeline drain on the surviving nodes.
    nodes[0]
        .eventually("the pipeline to drain", 1200, || async {
            let pending: i64 = sqlx::query("SELECT COUNT(*) FROM inbound_events WHERE status = 'pending'")
                .fetch_one(&db)
                .await?
                .try_get(0)?;
            let queued: i64 = sqlx::query("SELECT COUNT(*) FROM delivery_jobs WHERE state = 'queued'")
                .fetch_one(&db)
                .await?
                .try_get(0)?;
            Ok(pending == 0 && queued == 0)
        })
        .await?;

    let acked = std::mem::take(&mut *acked.lock().unwrap());
    // Inbound: every acknowledged webhook became exactly one message.
    let mut counts: HashMap<String, i64> = HashMap::new();
    for row in
        sqlx::query("SELECT source_id, COUNT(*) FROM messages WHERE message_type = 0 GROUP BY source_id")
            .fetch_all(&db)
            .await?
    {
        counts.insert(row.try_get(0)?, row.try_get(1)?);
    }
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "messages applied twice: {duplicated:?}");
    let lost: Vec<&String> = acked
        .webhooks
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged webhooks lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    let failed: i64 = sqlx::query("SELECT COUNT(*) FROM inbound_events WHERE status <> 'applied'")
        .fetch_one(&db)
        .await?
        .try_get(0)?;
    assert_eq!(failed, 0, "every stored event applied");

    // Outbound: every acknowledged reply reached TikTok at least once and is
    // marked delivered; any duplicate is one the host counted as in doubt.
    let sent = c.mock.sent();
    let mut sends: HashMap<&str, usize> = HashMap::new();
    for s in &sent {
        *sends.entry(s.text.as_deref().unwrap_or_default()).or_default() += 1;
    }
    let mut in_doubt: HashMap<i64, i64> = HashMap::new();
    for row in sqlx::query("SELECT message_id, attempts_in_doubt FROM delivery_jobs")
        .fetch_all(&db)
        .await?
    {
        in_doubt.insert(
            row.try_get(0)?,
            row.try_get::<i64, _>(1)
                .or_else(|_| row.try_get::<i32, _>(1).map(i64::from))?,
        );
    }
    let statuses: HashMap<i64, i64> = sqlx::query("SELECT id, status FROM messages WHERE message_type = 1")
        .fetch_all(&db)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                r.try_get::<i64, _>(1)
                    .or_else(|_| r.try_get::<i32, _>(1).map(i64::from))?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    let mut duplicates = 0;
    for (id, text) in &acked.replies {
        let times = sends.get(text.as_str()).copied().unwrap_or(0);
        assert!(
            times >= 1,
            "acknowledged reply {id} ({text}) never reached TikTok"
        );
        assert_eq!(statuses.get(id), Some(&1), "reply {id} is marked delivered");
        if times > 1 {
            duplicates += times - 1;
            assert!(
                in_doubt.get(id).copied().unwrap_or(0) >= 1,
                "reply {id} was sent {times} times without an attempt in doubt to explain it"
            );
        }
    }
    let distinct: HashSet<&str> = sends.keys().copied().collect();
    eprintln!(
        "{backend:?}: {} webhooks and {} replies acknowledged over {ROUNDS} SIGKILLs in {:.1} s; \
         0 lost, 0 applied twice; {} provider-side duplicate sends, each after an attempt cut off by a kill; \
         {} distinct texts reached TikTok",
        acked.webhooks.len(),
        acked.replies.len(),
        chaos.as_secs_f64(),
        duplicates,
        distinct.len(),
    );
    assert!(
        acked.webhooks.len() >= ROUNDS * WEBHOOKS_PER_ROUND,
        "thousands of webhooks were acknowledged"
    );

    // A graceful stop (SIGTERM) finishes and exits cleanly.
    let node = nodes.remove(0);
    assert!(node.stop().success(), "SIGTERM exits 0");
    Ok(())
}
