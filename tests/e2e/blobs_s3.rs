//! The blob store on a real S3-compatible server: moto's server mode
//! (`moto[server]` 5.2.5 from PyPI, which `tests/run` installs under
//! `target/moto/venv`; without it these tests fail and say how to install
//! it). On PostgreSQL two server processes share one database and one
//! bucket; on SQLite one node is restarted. An attachment uploaded through
//! one node downloads byte for byte through the other, only for members of
//! its account (another account's administrator gets a 404 by their own
//! account's path), and is an object in the bucket (under the setting's prefix),
//! not a file in the data folder; once its message is deleted, `blobs
//! sweep` removes the object. `blobs migrate` moves attachments written
//! before the blob store from their rows into the bucket, and a run killed
//! after its first batch leaves every row whole or moved, and the next run
//! moves exactly the rest.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};
use switchboard_e2e::{Backend, Env, PROBE_V1, Server};

switchboard_e2e::on_both_databases!(
    attachments_round_trip_through_s3,
    blobs_migrate_moves_old_rows_into_s3,
);

const BUCKET: &str = "switchboard-test";
/// The setting's prefix inside the bucket: keys in the bucket start with it.
const PREFIX: &str = "node-blobs";

/// moto's S3-compatible server on a free loopback port (killed on drop).
struct Moto {
    child: Child,
    endpoint: String,
}

fn moto_server() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/moto/venv/bin/moto_server")
}

impl Moto {
    /// Starts moto and makes the test bucket.
    async fn start() -> anyhow::Result<Self> {
        let bin = moto_server();
        anyhow::ensure!(
            bin.exists(),
            "{} is missing: run tests/run, which installs moto[server] 5.2.5 \
             (or: python3 -m venv target/moto/venv && target/moto/venv/bin/pip install 'moto[server]==5.2.5')",
            bin.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        // A cap against hanging on a moto that never answers, not a timing
        // claim.
        let mut answered = false;
        for _ in 0..600 {
            if reqwest::get(&moto.endpoint).await.is_ok() {
                answered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::ensure!(answered, "moto_server did not answer on {}", moto.endpoint);
        let made = reqwest::Client::new()
            .put(format!("{}/{BUCKET}", moto.endpoint))
            .send()
            .await?;
        anyhow::ensure!(made.status().is_success(), "making the bucket: {made:?}");
        Ok(moto)
    }

    /// The environment a switchboard process needs to use the bucket.
    fn vars(&self) -> Vec<(String, String)> {
        [
            ("SWITCHBOARD_BLOBS", format!("s3://{BUCKET}/{PREFIX}")),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Every key in the bucket, as S3's listing names them.
    async fn keys(&self) -> anyhow::Result<Vec<String>> {
        let xml = reqwest::get(format!("{}/{BUCKET}?list-type=2&max-keys=1000", self.endpoint))
            .await?
            .text()
            .await?;
        anyhow::ensure!(!xml.contains("<IsTruncated>true"), "the test lists one page only");
        Ok(xml
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
            .collect())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The key an attachment's bytes have in the bucket.
fn bucket_key(bytes: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(bytes));
    format!("{PREFIX}/attachments/{}/{digest}", &digest[..2])
}

/// Bytes no other test file has: `n` distinct, `len` long.
fn file_bytes(n: u8, len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_u32 ^ u32::from(n) << 24;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

/// Account `name` with an administrator; answers (id, admin token).
fn account(env: &Env, name: &str) -> (i64, String) {
    env.account_with_admin(name, &format!("admin@{}.example", name.to_lowercase()))
}

/// A probe inbox, a contact and a conversation in `account`; answers the
/// conversation's messages path.
async fn conversation(server: &Server, account: i64, admin: &str) -> anyhow::Result<String> {
    let path = |rest: &str| format!("/api/v1/accounts/{account}{rest}");
    let inbox = server
        .post_json(
            &path("/inboxes"),
            Some(admin),
            &json!({ "name": "Probe", "channel": { "type": "probe" } }),
        )
        .await?;
    assert_eq!(inbox.status, 200, "{:?}", inbox.json);
    let contact = server
        .post_json(
            &path("/contacts"),
            Some(admin),
            &json!({ "name": "Ann", "email": "ann@example.com" }),
        )
        .await?;
    assert_eq!(contact.status, 200, "{:?}", contact.json);
    let opened = server
        .post_json(
            &path("/conversations"),
            Some(admin),
            &json!({
                "inbox_id": inbox.json["id"],
                "contact_id": contact.json["payload"]["contact"]["id"],
            }),
        )
        .await?;
    assert_eq!(opened.status, 200, "{:?}", opened.json);
    Ok(path(&format!(
        "/conversations/{}/messages",
        opened.json["id"].as_i64().unwrap()
    )))
}

/// Posts a private note carrying one file (notes are not sent, so no
/// channel rule or delivery is involved); answers (message id, attachment
/// id, download path).
async fn note_with_file(
    server: &Server,
    messages: &str,
    admin: &str,
    name: &str,
    bytes: &[u8],
) -> anyhow::Result<(i64, i64, String)> {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name(name.to_owned())
        .mime_str("application/octet-stream")?;
    let form = reqwest::multipart::Form::new()
        .text("private", "true")
        .text("content", format!("file {name}"))
        .part("attachments[]", part);
    let sent = server.post_multipart(messages, Some(admin), form).await?;
    assert_eq!(sent.status, 200, "{:?}", sent.json);
    let attachment = &sent.json["attachments"][0];
    Ok((
        sent.json["id"].as_i64().unwrap(),
        attachment["id"].as_i64().unwrap(),
        attachment["data_url"].as_str().unwrap().to_owned(),
    ))
}

/// Checks that `bytes` download through `server` for `admin`, and that the
/// administrator of another account gets none: 401 by the attachment's
/// account's path (not a member, as Chatwoot answers), 404 by their own.
async fn downloads_only_for_its_account(
    server: &Server,
    url: &str,
    admin: &str,
    attachment: i64,
    outsider: (i64, &str),
    bytes: &[u8],
) -> anyhow::Result<()> {
    let (status, _, body) = server.get_bytes(url, admin).await?;
    assert_eq!(status, 200);
    assert!(body == bytes, "the download differs from the upload");
    let (other_account, other_admin) = outsider;
    assert_eq!(server.get_bytes(url, other_admin).await?.0, 401);
    let theirs = format!("/api/v1/accounts/{other_account}/attachments/{attachment}");
    assert_eq!(server.get_bytes(&theirs, other_admin).await?.0, 404);
    Ok(())
}

async fn attachments_round_trip_through_s3(backend: Backend) -> anyhow::Result<()> {
    let moto = Moto::start().await?;
    let mut env = Env::new(backend).await?;
    env.vars.extend(moto.vars());
    assert_eq!(env.cli(&["plugin", "install", PROBE_V1]).code, 0);
    let (acme, admin) = account(&env, "Acme");
    let outsider = account(&env, "Globex");

    let node_a = env.serve().await?;
    let messages = conversation(&node_a, acme, &admin).await?;
    let bytes = file_bytes(1, 256 * 1024);
    let (message, attachment, url) = note_with_file(&node_a, &messages, &admin, "report.bin", &bytes).await?;
    let key = bucket_key(&bytes);
    assert!(moto.keys().await?.contains(&key), "{key} is not in the bucket");
    assert!(
        !env.data.path().join("blobs").join("attachments").exists(),
        "with SWITCHBOARD_BLOBS set, nothing goes to the local folder"
    );

    // The other node: a second process on the same PostgreSQL database; on
    // SQLite, the one node started again (nothing of the upload in memory).
    let (node_a, node_b) = match backend {
        Backend::Postgres => {
            let node_b = env.serve().await?;
            (Some(node_a), node_b)
        }
        Backend::Sqlite => {
            assert!(node_a.stop().success());
            (None, env.serve().await?)
        }
    };
    downloads_only_for_its_account(
        &node_b,
        &url,
        &admin,
        attachment,
        (outsider.0, &outsider.1),
        &bytes,
    )
    .await?;

    // The message deleted (through the other node): its row goes at once,
    // its object with the next sweep.
    let deleted = node_b
        .call("DELETE", &format!("{messages}/{message}"), Some(&admin), None)
        .await?;
    assert_eq!(deleted.status, 200, "{:?}", deleted.json);
    assert!(moto.keys().await?.contains(&key));
    let swept = env.cli(&["blobs", "sweep", "--grace-minutes", "0"]);
    assert_eq!(swept.code, 0, "{swept:?}");
    assert!(swept.stdout.contains("removed 1 object"), "{swept:?}");
    assert!(!moto.keys().await?.contains(&key), "the object outlived its row");
    drop(node_a);
    Ok(())
}

async fn blobs_migrate_moves_old_rows_into_s3(backend: Backend) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let mut env = Env::new(backend).await?;
    assert_eq!(env.cli(&["plugin", "install", PROBE_V1]).code, 0);
    let (acme, admin) = account(&env, "Acme");
    let outsider = account(&env, "Globex");

    // Attachments as a server before the blob store kept them: bytes in the
    // row, no key (written here through the API, then put back in the rows).
    let files: Vec<Vec<u8>> = (0..6)
        .map(|n| file_bytes(10 + n, 20_000 + 997 * usize::from(n)))
        .collect();
    let mut uploaded = Vec::new();
    {
        let server = env.serve().await?;
        let messages = conversation(&server, acme, &admin).await?;
        for (n, bytes) in files.iter().enumerate() {
            let (_, attachment, url) =
                note_with_file(&server, &messages, &admin, &format!("old-{n}.bin"), bytes).await?;
            uploaded.push((attachment, url, bytes.clone()));
        }
        assert!(server.stop().success());
    }
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&env.database_url)
        .await?;
    for (attachment, _, bytes) in &uploaded {
        sqlx::query("UPDATE attachments SET data = $1, blob_key = NULL WHERE id = $2")
            .bind(bytes.clone())
            .bind(*attachment)
            .execute(&pool)
            .await?;
    }
    std::fs::remove_dir_all(env.data.path().join("blobs"))?;

    let moto = Moto::start().await?;
    env.vars.extend(moto.vars());

    // A run killed once its first batch (of one) is reported.
    let mut run = env.spawn_cli(&["blobs", "migrate", "--batch", "1"])?;
    let stdout = run.stdout.take().expect("stdout");
    let first = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|line| line.trim_start().starts_with("moved "))
    })
    .await?;
    run.kill()?;
    run.wait()?;
    assert!(first.is_some(), "blobs migrate reported no batch");

    // Every row is whole in the database or moved to an object in the
    // bucket holding its bytes; at least the reported batch moved.
    let in_bucket = moto.keys().await?;
    let mut moved = 0;
    for (attachment, _, bytes) in &uploaded {
        let row = sqlx::query("SELECT data, blob_key FROM attachments WHERE id = $1")
            .bind(*attachment)
            .fetch_one(&pool)
            .await?;
        let data: Option<Vec<u8>> = sqlx::Row::try_get(&row, "data")?;
        let key: Option<String> = sqlx::Row::try_get(&row, "blob_key")?;
        match (data, key) {
            (Some(data), None) => assert!(data == *bytes, "attachment {attachment} changed in place"),
            (None, Some(key)) => {
                assert!(in_bucket.contains(&format!("{PREFIX}/{key}")), "{key} missing");
                assert_eq!(format!("{PREFIX}/{key}"), bucket_key(bytes));
                moved += 1;
            }
            other => panic!("attachment {attachment} is half moved: {other:?}"),
        }
    }
    assert!(moved >= 1);

    // The next run moves exactly the rest, and a third finds nothing.
    let rest = env.cli(&["blobs", "migrate", "--batch", "2"]);
    assert_eq!(rest.code, 0, "{rest:?}");
    assert!(
        rest.stdout
            .starts_with(&format!("{} attachment(s)", uploaded.len() - moved)),
        "{rest:?}"
    );
    let again = env.cli(&["blobs", "migrate"]);
    assert!(again.stdout.starts_with("0 attachment(s)"), "{again:?}");
    let inline: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachments WHERE data IS NOT NULL")
        .fetch_one(&pool)
        .await?;
    assert_eq!(inline, 0);
    pool.close().await;
    let in_bucket = moto.keys().await?;
    for (_, _, bytes) in &uploaded {
        assert!(in_bucket.contains(&bucket_key(bytes)));
    }

    // Served from the bucket by every node, to their account only.
    let mut nodes = vec![env.serve().await?];
    if backend == Backend::Postgres {
        nodes.push(env.serve().await?);
    }
    for (n, (attachment, url, bytes)) in uploaded.iter().enumerate() {
        let node = &nodes[n % nodes.len()];
        downloads_only_for_its_account(node, url, &admin, *attachment, (outsider.0, &outsider.1), bytes)
            .await?;
    }
    Ok(())
}
