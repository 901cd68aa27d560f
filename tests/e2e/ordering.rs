//! A conversation's messages are applied in the order they were received:
//! 20 conversations over two API-channel inboxes each get 20 numbered
//! messages, sent one after the other per conversation (the next only once
//! the previous was acknowledged) while all conversations send at once, to
//! servers running several inbound workers; the API then lists every
//! conversation's messages as 1..20, none lost, none doubled. Also while the
//! server is killed with SIGKILL mid-traffic: on SQLite the one node, on
//! PostgreSQL each of two nodes sharing the database in turn. On SQLite and
//! PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::Row;
use switchboard_e2e::{Backend, Env, Server};

switchboard_e2e::on_both_databases!(
    messages_of_a_conversation_are_applied_in_the_order_received,
    order_holds_across_a_sigkill,
);

const PLUGIN: &str = "api-channel";
const SIGNING_SECRET: &str = "in-secret-0123456789";
/// The two inboxes' account ids; conversation `c` goes to `ACCOUNTS[c % 2]`.
const ACCOUNTS: [&str; 2] = ["acme-a", "acme-b"];
/// Conversations fed at once.
const CONVERSATIONS: usize = 20;
/// Numbered messages per conversation.
const MESSAGES: usize = 20;
/// Inbound workers per node.
const WORKERS: &str = "4";

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// `X-Switchboard-Signature` for `body`, made now.
fn sign(body: &[u8]) -> String {
    let t = now_secs();
    let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Message `n` (1-based) of conversation `c`, as the system posts it: its
/// provider id is `c<c>-m<n>`, so a resend of it is the same message.
fn numbered(c: usize, n: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "message",
        "account_id": ACCOUNTS[c % ACCOUNTS.len()],
        "conversation_id": format!("conv-{c}"),
        "contact": { "id": format!("user-{c}"), "name": format!("Contact {c}") },
        "message": { "id": format!("c{c}-m{n}"), "text": format!("{n}") },
    }))
    .unwrap()
}

/// An installation with the API channel, an account with an administrator,
/// and one API inbox per entry of `ACCOUNTS`.
struct Fixture {
    env: Env,
    account: i64,
    admin: String,
}

async fn fixture(backend: Backend, vars: &[(&str, &str)]) -> anyhow::Result<Fixture> {
    let mut env = Env::new(backend).await?;
    for (key, value) in [
        ("SWITCHBOARD_INBOUND_WORKERS", WORKERS),
        ("SWITCHBOARD_WEBHOOK_RATE", "100000"),
        ("SWITCHBOARD_WEBHOOK_BURST", "100000"),
    ]
    .iter()
    .chain(vars)
    {
        env.vars.push((key.to_string(), value.to_string()));
    }
    // The first start installs the bundled plugin; then it is configured.
    drop(env.serve().await?);
    for (key, value) in [
        ("API_CHANNEL_SIGNING_SECRET", SIGNING_SECRET),
        // Never called: these tests only receive.
        ("API_CHANNEL_OUTBOUND_URL", "http://127.0.0.1:9/replies"),
    ] {
        let out = env.cli(&["config", "set", key, value]);
        assert_eq!(out.code, 0, "config set {key}: {}", out.stderr);
    }
    let (account, admin) = env.account_with_admin("Acme", "admin@acme.example");
    let server = env.serve().await?;
    for external_id in ACCOUNTS {
        let created = server
            .post_json(
                &format!("/api/v1/accounts/{account}/inboxes"),
                Some(&admin),
                &json!({ "name": external_id, "channel": { "type": PLUGIN, "external_id": external_id } }),
            )
            .await?;
        assert_eq!(created.status, 200, "{:?}", created.json);
    }
    drop(server);
    Ok(Fixture { env, account, admin })
}

/// The nodes' base URLs that senders may post to (empty while none is up).
type Bases = Arc<RwLock<Vec<String>>>;

/// What the senders saw: provider message ids acknowledged with a 200, and
/// requests that failed (and were sent again).
#[derive(Default)]
struct Sent {
    acknowledged: Vec<String>,
    failed_attempts: usize,
}

/// Feeds every conversation its numbered messages at once, each
/// conversation's one after the other: message `n + 1` is sent only once
/// message `n` got its 200. A request that fails (its node was killed) is
/// sent again, to any node up, until acknowledged.
fn feed(bases: &Bases, sent: &Arc<Mutex<Sent>>) -> Vec<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    (0..CONVERSATIONS)
        .map(|c| {
            let (http, bases, sent) = (http.clone(), bases.clone(), sent.clone());
            tokio::spawn(async move {
                for n in 1..=MESSAGES {
                    let body = numbered(c, n);
                    let deadline = Instant::now() + Duration::from_secs(30);
                    for attempt in 0.. {
                        anyhow::ensure!(
                            Instant::now() < deadline,
                            "message {n} of conversation {c} was never acknowledged"
                        );
                        let base = {
                            let bases = bases.read().unwrap();
                            (!bases.is_empty()).then(|| bases[(c + n + attempt) % bases.len()].clone())
                        };
                        let Some(base) = base else {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        };
                        let answer = http
                            .post(format!("{base}/webhooks/{PLUGIN}"))
                            .header("content-type", "application/json")
                            .header("X-Switchboard-Signature", sign(&body))
                            .body(body.clone())
                            .send()
                            .await;
                        match answer {
                            Ok(response) if response.status() == 200 => {
                                sent.lock().unwrap().acknowledged.push(format!("c{c}-m{n}"));
                                break;
                            }
                            Ok(response) if response.status().is_client_error() => {
                                anyhow::bail!(
                                    "message {n} of conversation {c} refused: {}",
                                    response.status()
                                )
                            }
                            _ => {
                                sent.lock().unwrap().failed_attempts += 1;
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                    }
                }
                Ok(())
            })
        })
        .collect()
}

async fn count(db: &sqlx::AnyPool, sql: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query(sql).fetch_one(db).await?.try_get(0)?)
}

/// Waits until nothing is pending in the inbound log (every acknowledged
/// webhook was applied, or ended otherwise).
async fn drained(f: &Fixture, server: &Server) -> anyhow::Result<()> {
    let db = switchboard_e2e::database(&f.env).await?;
    server
        .eventually("the inbound log to drain", 1200, || async {
            Ok(count(
                &db,
                "SELECT COUNT(*) FROM inbound_events WHERE status = 'pending'",
            )
            .await?
                == 0)
        })
        .await?;
    let not_applied = count(
        &db,
        "SELECT COUNT(*) FROM inbound_events WHERE status <> 'applied'",
    )
    .await?;
    assert_eq!(not_applied, 0, "every stored webhook was applied");
    Ok(())
}

/// Every message of a conversation through the API, oldest first: the
/// newest page, then older pages with `before` until none is left.
async fn all_messages(f: &Fixture, server: &Server, display_id: i64) -> anyhow::Result<Vec<Value>> {
    let path = format!(
        "/api/v1/accounts/{}/conversations/{display_id}/messages",
        f.account
    );
    let mut messages: Vec<Value> = Vec::new();
    let mut query = String::new();
    loop {
        let page = server.get(&format!("{path}{query}"), Some(&f.admin)).await?;
        anyhow::ensure!(page.status == 200, "messages of {display_id}: {:?}", page.json);
        let page = page.json["payload"].as_array().cloned().unwrap_or_default();
        let Some(oldest) = page.first().and_then(|m| m["id"].as_i64()) else {
            break;
        };
        anyhow::ensure!(messages.len() < 10 * MESSAGES, "paging does not end");
        messages.splice(0..0, page);
        query = format!("?before={oldest}");
    }
    let ids: Vec<i64> = messages.iter().filter_map(|m| m["id"].as_i64()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "pages are oldest first: {ids:?}"
    );
    Ok(messages)
}

/// Lists every conversation and its messages through the API, prints how
/// many are out of order, and checks that each conversation holds exactly
/// its messages 1..20, in order, and that every acknowledged one is there.
async fn check_order(
    f: &Fixture,
    server: &Server,
    label: &str,
    acknowledged: &[String],
) -> anyhow::Result<()> {
    let conversations = server.conversations(f.account, &f.admin).await?;
    let inboxes: std::collections::HashSet<i64> = conversations
        .iter()
        .filter_map(|c| c["inbox_id"].as_i64())
        .collect();
    let mut inversions = 0;
    let mut total = 0;
    let mut problems: Vec<String> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for conversation in &conversations {
        let display_id = conversation["id"].as_i64().unwrap();
        let messages = all_messages(f, server, display_id).await?;
        total += messages.len();
        let mut numbers = Vec::new();
        let mut owners = std::collections::BTreeSet::new();
        for m in &messages {
            let source = m["source_id"].as_str().unwrap_or_default().to_owned();
            let (c, n) = source
                .strip_prefix('c')
                .and_then(|rest| rest.split_once("-m"))
                .and_then(|(c, n)| Some((c.parse::<usize>().ok()?, n.parse::<usize>().ok()?)))
                .unwrap_or_else(|| panic!("an unexpected message: {m}"));
            assert_eq!(m["content"].as_str(), Some(n.to_string().as_str()), "{m}");
            owners.insert(c);
            numbers.push(n);
            *seen.entry(source).or_default() += 1;
        }
        let here: usize = (0..numbers.len())
            .map(|i| {
                numbers[i + 1..]
                    .iter()
                    .filter(|later| **later < numbers[i])
                    .count()
            })
            .sum();
        inversions += here;
        if here > 0 || numbers != (1..=MESSAGES).collect::<Vec<_>>() || owners.len() != 1 {
            problems.push(format!("conversation {display_id} (of {owners:?}): {numbers:?}"));
        }
    }
    let doubled = seen.values().filter(|n| **n > 1).count();
    let lost = acknowledged.iter().filter(|id| !seen.contains_key(*id)).count();
    eprintln!(
        "{label}: {inversions} inversions; {} conversations over {} inboxes, {total} messages \
         ({} acknowledged, {lost} of them missing, {doubled} doubled); {} conversations out of shape",
        conversations.len(),
        inboxes.len(),
        acknowledged.len(),
        problems.len()
    );
    for problem in problems.iter().take(5) {
        eprintln!("  {problem}");
    }
    assert_eq!(inversions, 0, "{label}: messages applied out of order");
    assert!(
        problems.is_empty(),
        "{label}: conversations out of shape: {problems:#?}"
    );
    assert_eq!(
        conversations.len(),
        CONVERSATIONS,
        "{label}: one conversation each"
    );
    assert_eq!(inboxes.len(), ACCOUNTS.len(), "{label}: spread over every inbox");
    assert_eq!(total, CONVERSATIONS * MESSAGES, "{label}: every message once");
    assert_eq!((lost, doubled), (0, 0), "{label}: none lost, none doubled");
    Ok(())
}

async fn messages_of_a_conversation_are_applied_in_the_order_received(
    backend: Backend,
) -> anyhow::Result<()> {
    // A backlog bound far below the burst, so admission control holds
    // acknowledgements back throughout: still nothing refused, lost or
    // reordered.
    let f = fixture(backend, &[("SWITCHBOARD_INBOUND_BACKLOG", "8")]).await?;
    let server = f.env.serve().await?;
    let bases: Bases = Arc::new(RwLock::new(vec![server.base.clone()]));
    let sent = Arc::new(Mutex::new(Sent::default()));
    let started = Instant::now();
    for sender in feed(&bases, &sent) {
        sender.await??;
    }
    let fed = started.elapsed();
    drained(&f, &server).await?;
    let sent = std::mem::take(&mut *sent.lock().unwrap());
    assert_eq!(sent.failed_attempts, 0, "no request failed");
    eprintln!(
        "{backend:?}: {} webhooks acknowledged in {:.1} s, all applied after {:.1} s",
        sent.acknowledged.len(),
        fed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    check_order(&f, &server, &format!("{backend:?}"), &sent.acknowledged).await
}

async fn order_holds_across_a_sigkill(backend: Backend) -> anyhow::Result<()> {
    // Events a killed node held are taken up again after this long.
    let f = fixture(backend, &[("SWITCHBOARD_QUEUE_LEASE_MS", "1500")]).await?;
    let node_count = if backend == Backend::Postgres { 2 } else { 1 };
    let mut nodes: Vec<Server> = Vec::new();
    for _ in 0..node_count {
        nodes.push(f.env.serve().await?);
    }
    let bases: Bases = Arc::new(RwLock::new(nodes.iter().map(|n| n.base.clone()).collect()));
    let sent = Arc::new(Mutex::new(Sent::default()));
    let started = Instant::now();
    let senders = feed(&bases, &sent);

    // Two kills while the conversations are fed: on SQLite of the one node,
    // on PostgreSQL of each node in turn (the other keeps taking traffic).
    let total = CONVERSATIONS * MESSAGES;
    for (round, share) in [(0, 3), (1, 6)] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while sent.lock().unwrap().acknowledged.len() < total * share / 10 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let victim = round % node_count;
        let base = nodes[victim].base.clone();
        bases.write().unwrap().retain(|b| *b != base);
        drop(nodes.remove(victim)); // SIGKILL
        let restarted = f.env.serve().await?;
        bases.write().unwrap().push(restarted.base.clone());
        nodes.insert(victim, restarted);
    }
    for sender in senders {
        sender.await??;
    }
    let fed = started.elapsed();
    drained(&f, &nodes[0]).await?;
    let sent = std::mem::take(&mut *sent.lock().unwrap());
    eprintln!(
        "{backend:?}, {node_count} node(s), 2 SIGKILLs: {} webhooks acknowledged ({} requests failed \
         and were sent again) in {:.1} s, all applied after {:.1} s",
        sent.acknowledged.len(),
        sent.failed_attempts,
        fed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    check_order(
        &f,
        &nodes[0],
        &format!("{backend:?} across SIGKILLs"),
        &sent.acknowledged,
    )
    .await
}
