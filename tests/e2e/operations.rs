//! Operations (issue 15) against the real binary and its bundled API
//! channel: `/livez` and `/readyz` of a serving node, and of a starting one
//! whose plugins cannot load yet or whose database goes away (PostgreSQL,
//! which lets the test hold them); `/metrics` behind its
//! token, whose webhook and plugin-call counters move as a signed and an
//! unsigned webhook predict (the exposition is parsed, series by series);
//! `switchboard backup` taken while the server serves and takes webhooks,
//! which opens as a sound database holding every conversation acknowledged
//! before it began; PostgreSQL refused with its own tools named; `/metrics`
//! on an address of its own without a token (and not on the main one); a
//! backup that copies a database as it is, never migrating it; objects of
//! the blob store removed by `blobs sweep` once the last row naming them is
//! gone (a deleted message, a deleted inbox), never while one still does,
//! nor while young; a webhook's spans (ingest and apply with its event id,
//! the plugin calls inside them with plugin, version and verb) exported over
//! OTLP to a loopback receiver.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard_e2e::{Answer, Backend, Env, Server};

switchboard_e2e::on_both_databases!(
    readiness_and_metrics_of_a_serving_node,
    backup_while_serving,
    metrics_on_their_own_address,
    backup_never_migrates,
    objects_go_with_the_last_row_naming_them,
    webhook_traces_reach_an_otlp_receiver,
);

// PostgreSQL only: it lets the test hold a table lock the node's plugin
// loading waits on and refuse the node's connections. A SQLite file gives
// no such hold from outside (WAL readers are never blocked); the same rule
// is checked on SQLite through the router by `host/tests/ops.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_not_ready_until_plugins_load_nor_without_its_database() {
    not_ready_until_plugins_load_nor_without_its_database()
        .await
        .unwrap()
}

const PLUGIN: &str = "api-channel";
const SIGNING_SECRET: &str = "in-secret-0123456789";
const ACCOUNT: &str = "acme-crm";
const METRICS_TOKEN: &str = "scrape-0123456789";

fn sign(body: &[u8]) -> String {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A node serving the API channel with an inbox bound to `ACCOUNT`;
/// answers it, the account and its administrator's token.
async fn node(env: &mut Env) -> anyhow::Result<(Server, i64, String)> {
    env.vars
        .push(("SWITCHBOARD_METRICS_TOKEN".into(), METRICS_TOKEN.into()));
    // The first start installs the bundled plugin.
    drop(env.serve().await?);
    for (key, value) in [
        ("API_CHANNEL_SIGNING_SECRET", SIGNING_SECRET),
        ("API_CHANNEL_ACCOUNT_ID", ACCOUNT),
    ] {
        let out = env.cli(&["config", "set", key, value]);
        assert_eq!(out.code, 0, "config set {key}: {}", out.stderr);
    }
    let server = env.serve().await?;
    let (account, admin) = env.account_with_admin("Acme", "admin@acme.example");
    let created = server
        .post_json(
            &format!("/api/v1/accounts/{account}/inboxes"),
            Some(&admin),
            &json!({ "name": "CRM", "channel": { "type": PLUGIN, "external_id": ACCOUNT } }),
        )
        .await?;
    assert_eq!(created.status, 200, "{:?}", created.json);
    Ok((server, account, admin))
}

/// Posts a contact's first message in `conversation`, signed or not.
async fn deliver(server: &Server, conversation: &str, signed: bool) -> anyhow::Result<Answer> {
    let body = serde_json::to_vec(&json!({
        "type": "message",
        "conversation_id": conversation,
        "contact": { "id": format!("c-{conversation}"), "name": format!("Contact {conversation}") },
        "message": { "id": format!("m-{conversation}"), "text": "hello" },
    }))?;
    let signature = if signed { sign(&body) } else { "t=1,v1=00".into() };
    server
        .post_webhook(
            &format!("/webhooks/{PLUGIN}"),
            &[("X-Switchboard-Signature", &signature)],
            body,
        )
        .await
}

/// One exposition's samples: series (name and sorted labels) to value.
type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Parses Prometheus' text format (the subset the exporter writes: no
/// escaped quotes in label values, no timestamps).
fn parse(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest.strip_suffix('}').expect("labels close");
                let labels = inner
                    .split("\",")
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                        (k.to_owned(), v.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (name.to_owned(), labels)
            }
            None => (series.to_owned(), BTreeMap::new()),
        };
        samples.insert((name, labels), value.parse().expect("a number"));
    }
    samples
}

/// The sum of every series of `name` carrying all of `labels`.
fn sum(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|((n, l), _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| v)
        .sum()
}

async fn scrape(server: &Server, token: Option<&str>) -> anyhow::Result<(u16, String)> {
    let mut request = reqwest::Client::new().get(format!("{}/metrics", server.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    Ok((response.status().as_u16(), response.text().await?))
}

async fn readiness_and_metrics_of_a_serving_node(backend: Backend) -> anyhow::Result<()> {
    let mut env = Env::new(backend).await?;
    let (server, _account, _admin) = node(&mut env).await?;

    assert_eq!(server.get("/livez", None).await?.status, 200);
    let ready = server.get("/readyz", None).await?;
    assert_eq!(ready.status, 200, "{:?}", ready.json);
    assert!(
        ready.json["plugins"]
            .as_array()
            .unwrap()
            .contains(&Value::from(PLUGIN)),
        "{:?}",
        ready.json
    );

    assert_eq!(scrape(&server, None).await?.0, 401);
    assert_eq!(scrape(&server, Some("not-the-token")).await?.0, 401);
    let (status, before) = scrape(&server, Some(METRICS_TOKEN)).await?;
    assert_eq!(status, 200);
    let before = parse(&before);

    assert_eq!(deliver(&server, "conv-1", true).await?.status, 200);
    let refused = deliver(&server, "conv-2", false).await?;
    assert!(
        refused.status >= 400,
        "an unsigned webhook is refused: {refused:?}"
    );

    let (_, after) = scrape(&server, Some(METRICS_TOKEN)).await?;
    let after = parse(&after);
    let moved = |name: &str, labels: &[(&str, &str)]| sum(&after, name, labels) - sum(&before, name, labels);
    let webhooks = "switchboard_webhooks_total";
    assert_eq!(
        moved(webhooks, &[("channel", PLUGIN), ("outcome", "stored")]),
        1.0
    );
    assert_eq!(
        moved(webhooks, &[("channel", PLUGIN), ("outcome", "rejected")]),
        1.0
    );
    // Each webhook is verified in the plugin before it is answered.
    assert!(moved("switchboard_plugin_calls_total", &[("plugin", PLUGIN)]) >= 2.0);
    assert!(
        moved(
            "switchboard_plugin_call_duration_seconds_count",
            &[("plugin", PLUGIN)]
        ) >= 2.0
    );
    let route = [("route", "/webhooks/{channel}")];
    assert!(
        moved("switchboard_http_requests_total", &route) >= 2.0,
        "HTTP requests by route: {:?}",
        after
            .keys()
            .filter(|(n, _)| n.starts_with("switchboard_http"))
            .collect::<Vec<_>>()
    );
    // The gauges the node reads from the database every few seconds exist
    // from the start.
    assert!(after.keys().any(|(n, _)| n == "switchboard_inbound_pending"));
    assert!(after.keys().any(|(n, _)| n == "switchboard_db_pool_connections"));
    Ok(())
}

async fn conversation_ids(url: &str) -> anyhow::Result<Vec<i64>> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    let ids = sqlx::query_scalar("SELECT id FROM conversations ORDER BY id")
        .fetch_all(&pool)
        .await?;
    pool.close().await;
    Ok(ids)
}

async fn backup_while_serving(backend: Backend) -> anyhow::Result<()> {
    let mut env = Env::new(backend).await?;
    let (server, account, admin) = node(&mut env).await?;
    let file = env.data.path().join("backup.db");
    let file_arg = file.to_str().unwrap().to_owned();

    if backend == Backend::Postgres {
        let out = env.cli(&["backup", &file_arg]);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(
            out.stderr.contains("pg_dump") && out.stderr.contains("pg_basebackup"),
            "{out:?}"
        );
        assert!(out.stderr.contains("SWITCHBOARD_SECRET_KEY"), "{out:?}");
        assert!(!file.exists());
        return Ok(());
    }

    for n in 0..5 {
        assert_eq!(deliver(&server, &format!("before-{n}"), true).await?.status, 200);
    }
    server
        .eventually("five conversations", 400, || async {
            Ok(server.conversations(account, &admin).await?.len() == 5)
        })
        .await?;
    let before = conversation_ids(&env.database_url).await?;

    // Webhooks keep coming while the backup runs.
    let writes = async {
        let mut acknowledged = 0;
        for n in 0..40 {
            if deliver(&server, &format!("during-{n}"), true).await?.status == 200 {
                acknowledged += 1;
            }
        }
        anyhow::Ok(acknowledged)
    };
    // The CLI runs on a thread of its own while this task posts.
    let (acknowledged, out) = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let backup = scope.spawn(|| env.cli(&["backup", &file_arg]));
            let acknowledged = tokio::runtime::Handle::current().block_on(writes);
            (acknowledged, backup.join().expect("the backup thread"))
        })
    });
    assert_eq!(acknowledged?, 40);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("integrity ok"), "{out:?}");
    assert!(out.stdout.contains("secret"), "the key's place is named: {out:?}");
    assert!(!env.data.path().join("backup.db.partial").exists());

    // The copy opens as a database: every conversation acknowledged before
    // the backup began, and nothing the live database does not hold.
    let copy_url = format!("sqlite://{}?mode=ro", file.display());
    let copied = conversation_ids(&copy_url).await?;
    for id in &before {
        assert!(copied.contains(id), "conversation {id} missing from the backup");
    }
    let live = conversation_ids(&env.database_url).await?;
    assert!(copied.iter().all(|id| live.contains(id)));

    // A second backup to the same file is refused: a backup never overwrites.
    let again = env.cli(&["backup", &file_arg]);
    assert_ne!(again.code, 0);
    Ok(())
}

async fn metrics_on_their_own_address(backend: Backend) -> anyhow::Result<()> {
    let mut env = Env::new(backend).await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    env.vars
        .push(("SWITCHBOARD_METRICS_ADDR".into(), format!("127.0.0.1:{port}")));
    let server = env.serve().await?;
    // No token: the metrics address serves anyone who reaches it (it is the
    // operator's to keep private), and the main address does not serve them.
    let own = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await?;
    assert_eq!(own.status(), 200);
    let samples = parse(&own.text().await?);
    assert!(
        samples.keys().any(|(n, _)| n == "switchboard_inbound_pending"),
        "{:?}",
        samples.keys().collect::<Vec<_>>()
    );
    assert_eq!(scrape(&server, None).await?.0, 404);
    // What the main address serves is counted on the metrics address.
    assert_eq!(server.get("/livez", None).await?.status, 200);
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await?
        .text()
        .await?;
    assert!(
        sum(
            &parse(&text),
            "switchboard_http_requests_total",
            &[("route", "/livez")]
        ) >= 1.0
    );
    Ok(())
}

/// `backup` copies the database as it is: it never migrates it (a server of
/// another version may be using it) and never creates one where none is.
async fn backup_never_migrates(backend: Backend) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let env = Env::new(backend).await?;
    let file = env.data.path().join("backup.db");
    let file_arg = file.to_str().unwrap().to_owned();
    let migrations_table = |url: String| async move {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await?;
        let found = sqlx::query("SELECT version FROM _sqlx_migrations")
            .fetch_all(&pool)
            .await
            .is_ok();
        pool.close().await;
        anyhow::Ok(found)
    };
    if backend == Backend::Postgres {
        // Refused with PostgreSQL's own tools named, the database untouched.
        assert_eq!(env.cli(&["backup", &file_arg]).code, 1);
        assert!(!migrations_table(env.database_url.clone()).await?);
        return Ok(());
    }
    // No database yet: nothing to copy, and no empty one left behind.
    let missing = env.cli(&["backup", &file_arg]);
    assert_ne!(missing.code, 0, "{missing:?}");
    assert!(!env.data.path().join("switchboard.db").exists());
    // A database this binary did not migrate is copied as it is.
    {
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&env.database_url)
            .await?;
        sqlx::query("CREATE TABLE notes (body TEXT)")
            .execute(&pool)
            .await?;
        sqlx::query("INSERT INTO notes (body) VALUES ('kept')")
            .execute(&pool)
            .await?;
        pool.close().await;
    }
    let out = env.cli(&["backup", &file_arg]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        !migrations_table(env.database_url.clone()).await?,
        "the source was migrated"
    );
    let copy = format!("sqlite://{}?mode=ro", file.display());
    assert!(!migrations_table(copy.clone()).await?, "the copy was migrated");
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&copy)
        .await?;
    let body: String = sqlx::query_scalar("SELECT body FROM notes")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    assert_eq!(body, "kept");
    Ok(())
}

/// A node answers `/readyz` with 503 and the reason while its plugins have
/// not loaded (the loading waits on a lock the test holds on `plugins`) and
/// while its database refuses connections; `/livez` answers 200 throughout,
/// and the node gets ready by itself once each is released.
async fn not_ready_until_plugins_load_nor_without_its_database() -> anyhow::Result<()> {
    use sqlx::{Connection, Executor};
    let env = Env::new(Backend::Postgres).await?;
    // Migrated, bundled plugins installed.
    drop(env.serve().await?);

    let mut holder = sqlx::PgConnection::connect(&env.database_url).await?;
    holder.execute("BEGIN").await?;
    holder
        .execute("LOCK TABLE plugins IN ACCESS EXCLUSIVE MODE")
        .await?;
    let server = env.start().await?;
    let waiting = server.get("/readyz", None).await?;
    assert_eq!(waiting.status, 503, "{:?}", waiting.json);
    assert_eq!(waiting.json["ready"], false);
    let reasons = waiting.json["reasons"].to_string();
    assert!(reasons.contains("plugins"), "{reasons}");
    assert!(!reasons.contains("database"), "{reasons}");
    assert!(!reasons.contains("migrations"), "{reasons}");
    assert_eq!(server.get("/livez", None).await?.status, 200);
    // Still waiting: nothing but the lock holds it.
    assert_eq!(server.get("/readyz", None).await?.status, 503);
    holder.execute("ROLLBACK").await?;
    holder.close().await?;
    let ready = until_ready(&server, 200).await?;
    assert!(
        ready["plugins"]
            .as_array()
            .unwrap()
            .contains(&Value::from(PLUGIN)),
        "{ready:?}"
    );

    // The database refuses the node: not ready, and says why; alive.
    let name = env
        .database_url
        .rsplit_once('/')
        .and_then(|(_, tail)| tail.split('?').next())
        .unwrap()
        .to_owned();
    let mut admin = sqlx::PgConnection::connect(&switchboard_e2e::postgres_admin_url()).await?;
    admin
        .execute(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false").as_str())
        .await?;
    admin
        .execute(
            format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
                .as_str(),
        )
        .await?;
    let gone = until_ready(&server, 503).await?;
    assert!(gone["reasons"].to_string().contains("database"), "{gone:?}");
    assert_eq!(server.get("/livez", None).await?.status, 200);
    admin
        .execute(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true").as_str())
        .await?;
    admin.close().await?;
    until_ready(&server, 200).await?;
    Ok(())
}

/// Polls `/readyz` until it answers `status`; answers its body. Fails with
/// the node's log if it never does (a cap against hanging, not a timing
/// claim).
async fn until_ready(server: &Server, status: u16) -> anyhow::Result<Value> {
    for _ in 0..3000 {
        let answer = server.get("/readyz", None).await?;
        if answer.status == status {
            return Ok(answer.json);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    anyhow::bail!("/readyz never answered {status}; log:\n{}", server.log())
}

/// Posts a private note with one file to `messages`; answers the message id
/// and the attachment's download path.
async fn note_with_file(
    server: &Server,
    messages: &str,
    token: &str,
    bytes: &[u8],
) -> anyhow::Result<(i64, String)> {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name("file.bin")
        .mime_str("application/octet-stream")?;
    let form = reqwest::multipart::Form::new()
        .text("private", "true")
        .text("content", "a file")
        .part("attachments[]", part);
    let sent = server.post_multipart(messages, Some(token), form).await?;
    assert_eq!(sent.status, 200, "{:?}", sent.json);
    Ok((
        sent.json["id"].as_i64().unwrap(),
        sent.json["attachments"][0]["data_url"]
            .as_str()
            .unwrap()
            .to_owned(),
    ))
}

/// The file an attachment's bytes are kept in by the default blob store.
fn object_file(env: &Env, bytes: &[u8]) -> std::path::PathBuf {
    use sha2::Digest as _;
    let digest = hex::encode(Sha256::digest(bytes));
    env.data
        .path()
        .join("blobs/attachments")
        .join(&digest[..2])
        .join(digest)
}

/// Two messages share one object (same bytes): deleting one leaves it,
/// deleting both removes it; an inbox's deletion takes its objects; an
/// object no row names survives a sweep while younger than the grace.
async fn objects_go_with_the_last_row_naming_them(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    assert_eq!(env.cli(&["plugin", "install", switchboard_e2e::PROBE_V1]).code, 0);
    let (account, admin) = env.account_with_admin("Acme", "admin@acme.example");
    let server = env.serve().await?;
    let path = |rest: &str| format!("/api/v1/accounts/{account}{rest}");
    let contact = server
        .post_json(
            &path("/contacts"),
            Some(&admin),
            &json!({ "name": "Ann", "email": "ann@example.com" }),
        )
        .await?;
    assert_eq!(contact.status, 200, "{:?}", contact.json);
    let contact = contact.json["payload"]["contact"]["id"].clone();
    let mut conversations = Vec::new();
    for name in ["Kept", "Removed"] {
        let inbox = server
            .post_json(
                &path("/inboxes"),
                Some(&admin),
                &json!({ "name": name, "channel": { "type": "probe" } }),
            )
            .await?;
        assert_eq!(inbox.status, 200, "{:?}", inbox.json);
        let opened = server
            .post_json(
                &path("/conversations"),
                Some(&admin),
                &json!({ "inbox_id": inbox.json["id"], "contact_id": contact }),
            )
            .await?;
        assert_eq!(opened.status, 200, "{:?}", opened.json);
        conversations.push((
            inbox.json["id"].as_i64().unwrap(),
            path(&format!(
                "/conversations/{}/messages",
                opened.json["id"].as_i64().unwrap()
            )),
        ));
    }
    let (_, kept) = &conversations[0];
    let (removed_inbox, removed) = &conversations[1];
    let sweep = |grace: &str| {
        let out = env.cli(&["blobs", "sweep", "--grace-minutes", grace]);
        assert_eq!(out.code, 0, "{out:?}");
        out.stdout
    };

    let shared = b"the same bytes in two messages".to_vec();
    let own = b"bytes of one message only".to_vec();
    let inboxed = b"bytes in the inbox that goes".to_vec();
    let (first, _) = note_with_file(&server, kept, &admin, &shared).await?;
    let (second, second_url) = note_with_file(&server, kept, &admin, &shared).await?;
    let (_, own_url) = note_with_file(&server, kept, &admin, &own).await?;
    note_with_file(&server, removed, &admin, &inboxed).await?;
    for bytes in [&shared, &own, &inboxed] {
        assert!(object_file(&env, bytes).is_file());
    }
    assert!(sweep("0").contains("removed 0 object"));

    let delete = |message: i64| {
        let url = format!("{kept}/{message}");
        let server = &server;
        let admin = &admin;
        async move { server.call("DELETE", &url, Some(admin), None).await }
    };
    assert_eq!(delete(first).await?.status, 200);
    assert!(sweep("0").contains("removed 0 object"));
    assert!(
        object_file(&env, &shared).is_file(),
        "still named by the second message"
    );
    assert_eq!(server.get_bytes(&second_url, &admin).await?.0, 200);

    assert_eq!(delete(second).await?.status, 200);
    assert!(sweep("0").contains("removed 1 object"));
    assert!(!object_file(&env, &shared).exists());
    assert!(object_file(&env, &own).is_file());
    assert!(object_file(&env, &inboxed).is_file());

    let gone = server
        .call(
            "DELETE",
            &path(&format!("/inboxes/{removed_inbox}")),
            Some(&admin),
            None,
        )
        .await?;
    assert!(gone.status < 300, "{gone:?}");
    assert!(sweep("0").contains("removed 1 object"));
    assert!(!object_file(&env, &inboxed).exists());

    // Unnamed but young (an upload whose row has not committed yet looks
    // like this): kept under the default grace, removed without one.
    let (last, _) = note_with_file(&server, kept, &admin, b"written just now").await?;
    assert_eq!(delete(last).await?.status, 200);
    assert!(sweep("60").contains("removed 0 object"));
    assert!(object_file(&env, b"written just now").is_file());
    assert!(sweep("0").contains("removed 1 object"));
    assert!(!object_file(&env, b"written just now").exists());
    assert_eq!(server.get_bytes(&own_url, &admin).await?.0, 200);
    Ok(())
}

/// A loopback OTLP/HTTP receiver: answers its base URL and the bodies
/// posted to `/v1/traces`.
async fn otlp_receiver() -> anyhow::Result<(String, Arc<Mutex<Vec<Vec<u8>>>>)> {
    let bodies: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let kept = bodies.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body.to_vec());
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((base, bodies))
}

/// One exported span: its name, ids and attributes (as text).
#[derive(Debug)]
struct Span {
    name: String,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    trace_id: Vec<u8>,
    attributes: BTreeMap<String, String>,
}

fn spans(bodies: &[Vec<u8>]) -> anyhow::Result<Vec<Span>> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use prost::Message as _;
    let mut out = Vec::new();
    for body in bodies {
        let request = ExportTraceServiceRequest::decode(body.as_slice())?;
        for scope in request.resource_spans.iter().flat_map(|r| &r.scope_spans) {
            for span in &scope.spans {
                let attributes = span
                    .attributes
                    .iter()
                    .filter_map(|kv| {
                        let value = match kv.value.as_ref()?.value.as_ref()? {
                            Any::StringValue(s) => s.clone(),
                            Any::IntValue(i) => i.to_string(),
                            Any::BoolValue(b) => b.to_string(),
                            Any::DoubleValue(d) => d.to_string(),
                            other => format!("{other:?}"),
                        };
                        Some((kv.key.clone(), value))
                    })
                    .collect();
                out.push(Span {
                    name: span.name.clone(),
                    span_id: span.span_id.clone(),
                    parent_span_id: span.parent_span_id.clone(),
                    trace_id: span.trace_id.clone(),
                    attributes,
                });
            }
        }
    }
    Ok(out)
}

/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, one webhook's spans reach the
/// receiver: its ingest (with the stored event's id) around the plugin's
/// verify-and-parse call (plugin, version, verb), and its apply (with the
/// same event id) around the parse-event call.
async fn webhook_traces_reach_an_otlp_receiver(backend: Backend) -> anyhow::Result<()> {
    let (receiver, bodies) = otlp_receiver().await?;
    let mut env = Env::new(backend).await?;
    env.vars.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), receiver));
    let (server, _account, _admin) = node(&mut env).await?;
    assert_eq!(deliver(&server, "traced", true).await?.status, 200);
    server
        .eventually("the webhook's conversation", 400, || async {
            Ok(conversation_ids(&env.database_url).await?.len() == 1)
        })
        .await?;
    // A clean stop sends the spans still batched.
    assert!(server.stop().success());

    let bodies = bodies.lock().unwrap().clone();
    let spans = spans(&bodies)?;
    let named = |name: String| spans.iter().filter(move |s| s.name == name);
    let ingest = named("webhook.ingest".into())
        .find(|s| s.attributes.get("outcome").map(String::as_str) == Some("stored"))
        .unwrap_or_else(|| panic!("no stored webhook.ingest span in {spans:#?}"));
    assert_eq!(ingest.attributes.get("channel").map(String::as_str), Some(PLUGIN));
    let event_id = ingest.attributes.get("event_id").expect("the event id").clone();
    let apply = named("webhook.apply".into())
        .find(|s| s.attributes.get("event_id") == Some(&event_id))
        .unwrap_or_else(|| panic!("no webhook.apply span for event {event_id} in {spans:#?}"));
    let call_in = |parent: &Span, verb: &str| {
        named(format!("plugin.{}", verb.replace('-', "_")))
            .find(|s| s.parent_span_id == parent.span_id && s.trace_id == parent.trace_id)
            .unwrap_or_else(|| panic!("no {verb} call inside {}: {spans:#?}", parent.name))
    };
    for (parent, verb) in [(ingest, "verify-and-parse"), (apply, "parse-event")] {
        let call = call_in(parent, verb);
        assert_eq!(call.attributes.get("plugin").map(String::as_str), Some(PLUGIN));
        assert_eq!(call.attributes.get("verb").map(String::as_str), Some(verb));
        let version = call.attributes.get("version").cloned().unwrap_or_default();
        assert!(
            version.split('.').count() == 3,
            "a plugin version, not {version:?}"
        );
    }
    Ok(())
}
