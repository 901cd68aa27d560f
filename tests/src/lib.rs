//! Harness for the end-to-end suites: runs the real `switchboard` binary
//! (server and CLI) against a fresh SQLite file or a fresh PostgreSQL
//! database, and provides loopback mock servers that record what they get.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

pub mod connected;
pub mod tiktok;

/// Declares each listed `async fn NAME(backend: Backend) -> anyhow::Result<()>`
/// as two tests, `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Backend::Sqlite).await.unwrap() })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Backend::Postgres).await.unwrap() })*
        }
    };
}

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's data folder.
    Sqlite,
    /// A fresh database on the local PostgreSQL server.
    Postgres,
}

/// PostgreSQL server the suites create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The secrets key the suites give PostgreSQL servers (32 bytes, base64).
pub const TEST_SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The compiled fixture plugins.
pub const PROBE_V1: &str = env!("PROBE_V1_WASM");
/// Version 2.0.0 of the probe plugin.
pub const PROBE_V2: &str = env!("PROBE_V2_WASM");
/// The probe with an invalid manifest (id `Probe!`).
pub const PROBE_BAD_MANIFEST: &str = env!("PROBE_BAD_MANIFEST_WASM");
/// The probe claiming contract 0.9.0.
pub const PROBE_FUTURE_CONTRACT: &str = env!("PROBE_FUTURE_CONTRACT_WASM");

/// The `switchboard` binary built alongside the tests.
pub fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("SWITCHBOARD_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let bin = dir.join("switchboard");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p switchboard` first (tests/run does)",
        bin.display()
    );
    bin
}

pub(crate) static NEXT: AtomicU32 = AtomicU32::new(0);

/// One test's environment: a data folder and a database, shared by every
/// server process and CLI command the test runs (as an admin would).
pub struct Env {
    /// Database kind.
    pub backend: Backend,
    /// Data folder (SQLite file, compile cache).
    pub data: tempfile::TempDir,
    /// `DATABASE_URL` for every process.
    pub database_url: String,
    pg_database: Option<String>,
    /// Extra environment for every process.
    pub vars: Vec<(String, String)>,
}

impl Env {
    /// A fresh environment.
    pub async fn new(backend: Backend) -> anyhow::Result<Self> {
        let data = tempfile::tempdir()?;
        let (database_url, pg_database) = match backend {
            Backend::Sqlite => (
                format!(
                    "sqlite://{}?mode=rwc",
                    data.path().join("switchboard.db").display()
                ),
                None,
            ),
            Backend::Postgres => {
                let name = format!(
                    "sb_test_{}_{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::SeqCst)
                );
                let admin = postgres_admin_url();
                let mut conn = connect_pg(&admin).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                    .execute(&mut conn)
                    .await?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await?;
                let mut url = url_with_db(&admin, &name);
                if !url.contains("sslmode") {
                    url.push_str(if url.contains('?') {
                        "&sslmode=disable"
                    } else {
                        "?sslmode=disable"
                    });
                }
                (url, Some(name))
            }
        };
        // Several PostgreSQL nodes must share a key; on SQLite the server
        // generates its own key file, which the suites exercise too.
        let vars = match backend {
            Backend::Postgres => vec![("SWITCHBOARD_SECRET_KEY".to_owned(), TEST_SECRET_KEY.to_owned())],
            Backend::Sqlite => Vec::new(),
        };
        Ok(Self {
            backend,
            data,
            database_url,
            pg_database,
            vars,
        })
    }

    fn command(&self) -> Command {
        let mut command = Command::new(binary());
        command
            .env("DATABASE_URL", &self.database_url)
            .env("SWITCHBOARD_DATA_DIR", self.data.path())
            .env("RUST_LOG", "info,sqlx=warn")
            .env_remove("SWITCHBOARD_ADDR")
            .current_dir(self.data.path());
        for (k, v) in &self.vars {
            command.env(k, v);
        }
        command
    }

    /// Runs a CLI command to completion.
    pub fn cli(&self, args: &[&str]) -> CliOutput {
        let output = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run switchboard");
        CliOutput::from(output)
    }

    /// Starts a CLI command with its standard output piped, for a test
    /// that reads its progress as it runs (and may kill it).
    pub fn spawn_cli(&self, args: &[&str]) -> std::io::Result<Child> {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
    }

    /// Runs a CLI command with `input` on its standard input (a password).
    pub fn cli_with_stdin(&self, args: &[&str], input: &str) -> CliOutput {
        use std::io::Write as _;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run switchboard");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        CliOutput::from(child.wait_with_output().expect("wait for switchboard"))
    }

    /// Runs a CLI command that must succeed and print JSON.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert_eq!(out.code, 0, "switchboard {args:?} failed:\n{}", out.stderr);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}):\n{}", out.stdout))
    }

    /// Creates a super admin and returns their token.
    pub fn super_admin_token(&self) -> String {
        let email = format!("admin{}@example.com", NEXT.fetch_add(1, Ordering::SeqCst));
        let user = self.cli_json(&["user", "create", "--email", &email, "--super-admin", "--json"]);
        user["access_token"].as_str().expect("token").to_owned()
    }

    /// Creates an account and an administrator of it, through the CLI;
    /// answers the account's id and the administrator's API token.
    pub fn account_with_admin(&self, name: &str, email: &str) -> (i64, String) {
        let account = self.cli_json(&["account", "create", name, "--json"])["id"]
            .as_i64()
            .expect("an account id");
        let token = self.cli_json(&[
            "user",
            "create",
            "--email",
            email,
            "--account",
            &account.to_string(),
            "--role",
            "administrator",
            "--json",
        ])["access_token"]
            .as_str()
            .expect("a token")
            .to_owned();
        (account, token)
    }

    /// Starts a server and waits until it is ready (`/readyz`: migrated,
    /// plugins loaded, database answering).
    pub async fn serve(&self) -> anyhow::Result<Server> {
        let server = self.start().await?;
        // A cap so a node that never gets ready fails the test with its
        // log, not a hang; no test asserts how long loading takes.
        let give_up = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let ready = server.get("/readyz", None).await.context("readyz")?;
            if ready.status == 200 {
                return Ok(server);
            }
            if tokio::time::Instant::now() > give_up {
                bail!(
                    "server never got ready ({:?}); log:\n{}",
                    ready.json,
                    server.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts a server and returns once it listens (it answers `/livez`
    /// and `/readyz` from then on; it may not be ready yet).
    pub async fn start(&self) -> anyhow::Result<Server> {
        // A free port unless the test fixed one in `vars` (a browser suite
        // whose provider redirects to FRONTEND_URL needs it known up front).
        let addr = self
            .vars
            .iter()
            .rev()
            .find(|(k, _)| k == "SWITCHBOARD_ADDR")
            .map_or("127.0.0.1:0", |(_, v)| v.as_str());
        let child = self
            .command()
            .args(["serve"])
            .env("SWITCHBOARD_ADDR", addr)
            .env("SWITCHBOARD_SYNC_INTERVAL_MS", "100")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // From here on, dropping `server` kills and reaps the process.
        let mut server = Server {
            child,
            base: String::new(),
            log: Arc::new(Mutex::new(String::new())),
            http: reqwest::Client::new(),
        };
        let stdout = server.child.stdout.take().expect("stdout");
        let stderr = server.child.stderr.take().expect("stderr");
        let log_writer = server.log.clone();
        let stderr = tokio::process::ChildStderr::from_std(stderr)?;
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log_writer.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let stdout = tokio::process::ChildStdout::from_std(stdout)?;
        let mut lines = BufReader::new(stdout).lines();
        match tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await {
            Ok(Ok(Some(line))) if line.starts_with("switchboard listening on ") => {
                server.base = line.trim_start_matches("switchboard listening on ").to_owned();
            }
            other => bail!("server did not start ({other:?}); log:\n{}", server.log()),
        }
        Ok(server)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(name) = self.pg_database.take() {
            let admin = postgres_admin_url();
            // Best effort in a fresh thread: Drop may run inside or outside a runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut conn = connect_pg(&admin).await.ok()?;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

async fn connect_pg(url: &str) -> anyhow::Result<sqlx::PgConnection> {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {url}"))
}

fn url_with_db(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map(|(b, q)| (b, Some(q)))
        .unwrap_or((url, None));
    let base = base.rsplit_once('/').map(|(head, _)| head).unwrap_or(base);
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// Output of a CLI command.
#[derive(Debug)]
pub struct CliOutput {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for CliOutput {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A running server process (killed on drop).
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: Arc<Mutex<String>>,
    http: reqwest::Client,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body as JSON (Null when empty or not JSON).
    pub json: Value,
}

impl Server {
    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    async fn send(&self, request: reqwest::RequestBuilder, token: Option<&str>) -> anyhow::Result<Answer> {
        let request = match token {
            Some(t) => request.header("api_access_token", t),
            None => request,
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok(Answer {
            status,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
        })
    }

    /// GET.
    pub async fn get(&self, path: &str, token: Option<&str>) -> anyhow::Result<Answer> {
        self.send(self.http.get(format!("{}{path}", self.base)), token)
            .await
    }

    /// POST with a JSON body.
    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> anyhow::Result<Answer> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body), token)
            .await
    }

    /// Any method, with an optional JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let request = self.http.request(method, format!("{}{path}", self.base));
        let request = match body {
            Some(b) => request.json(b),
            None => request,
        };
        self.send(request, token).await
    }

    /// POST a multipart form.
    pub async fn post_multipart(
        &self,
        path: &str,
        token: Option<&str>,
        form: reqwest::multipart::Form,
    ) -> anyhow::Result<Answer> {
        self.send(
            self.http.post(format!("{}{path}", self.base)).multipart(form),
            token,
        )
        .await
    }

    /// Any method with a multipart form (Chatwoot's clients update contacts
    /// with PUT or PATCH multipart).
    pub async fn send_multipart(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        form: reqwest::multipart::Form,
    ) -> anyhow::Result<Answer> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let request = self.http.request(method, format!("{}{path}", self.base));
        self.send(request.multipart(form), token).await
    }

    /// GET raw bytes (status, content type, body).
    pub async fn get_bytes(&self, path: &str, token: &str) -> anyhow::Result<(u16, String, Vec<u8>)> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("api_access_token", token)
            .send()
            .await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok((status, content_type, response.bytes().await?.to_vec()))
    }

    /// PATCH with a JSON body.
    pub async fn send_patch(&self, path: &str, token: &str, body: &Value) -> anyhow::Result<Answer> {
        self.send(
            self.http.patch(format!("{}{path}", self.base)).json(body),
            Some(token),
        )
        .await
    }

    /// POST with a raw body.
    pub async fn post_bytes(&self, path: &str, token: Option<&str>, body: Vec<u8>) -> anyhow::Result<Answer> {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/wasm");
        self.send(request.body(body), token).await
    }

    /// DELETE with an optional JSON body.
    pub async fn delete(
        &self,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let request = self.http.delete(format!("{}{path}", self.base));
        let request = match body {
            Some(b) => request.json(b),
            None => request,
        };
        self.send(request, token).await
    }

    /// Runs verify+parse on `body` through the admin dry-run endpoint.
    pub async fn dry_run(&self, plugin: &str, token: &str, body: &str) -> anyhow::Result<Answer> {
        use base64::Engine as _;
        let request = serde_json::json!({
            "method": "POST",
            "path": format!("/webhooks/{plugin}"),
            "query": "",
            "headers": [["x-probe-signature", "ok"]],
            "body": base64::engine::general_purpose::STANDARD.encode(body),
        });
        self.post_json(
            &format!("/api/v1/admin/plugins/{plugin}/dry-run/webhook"),
            Some(token),
            &request,
        )
        .await
    }

    /// GET without following redirects: the status and the `Location` header.
    pub async fn get_redirect(&self, path: &str) -> anyhow::Result<(u16, Option<String>, String)> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let response = client.get(format!("{}{path}", self.base)).send().await?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((status, location, response.text().await?))
    }

    /// POST raw bytes with the given headers and no token (a provider's webhook).
    pub async fn post_webhook(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<Answer> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(body), None).await
    }

    /// Every conversation of `account` (all statuses, first page) as `token` sees them.
    pub async fn conversations(&self, account: i64, token: &str) -> anyhow::Result<Vec<Value>> {
        let list = self
            .get(
                &format!("/api/v1/accounts/{account}/conversations?status=all"),
                Some(token),
            )
            .await?;
        Ok(list.json["data"]["payload"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// The newest messages of a conversation as `token` sees them.
    pub async fn messages(&self, account: i64, display_id: i64, token: &str) -> anyhow::Result<Vec<Value>> {
        let list = self
            .get(
                &format!("/api/v1/accounts/{account}/conversations/{display_id}/messages"),
                Some(token),
            )
            .await?;
        Ok(list.json["payload"].as_array().cloned().unwrap_or_default())
    }

    /// The inbound event log in one status, through the super-admin API.
    pub async fn inbound_events(&self, status: &str, super_admin: &str) -> anyhow::Result<Vec<Value>> {
        let list = self
            .get(
                &format!("/api/v1/admin/events?status={status}"),
                Some(super_admin),
            )
            .await?;
        anyhow::ensure!(list.status == 200, "event list: {:?}", list.json);
        Ok(list.json.as_array().cloned().unwrap_or_default())
    }

    /// Polls `find` every 50 ms until it finds something, failing after `limit` tries.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, limit: u32, mut find: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
    {
        for _ in 0..limit {
            if let Some(found) = find().await? {
                return Ok(found);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("{what} did not happen; server log:\n{}", self.log())
    }

    /// Polls `check` every 50 ms until it holds, failing after `limit` tries.
    pub async fn eventually<F, Fut>(&self, what: &str, limit: u32, mut check: F) -> anyhow::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<bool>>,
    {
        for _ in 0..limit {
            if check().await? {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("{what} did not happen; server log:\n{}", self.log())
    }

    /// The server process's id (to read its memory in `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("wait for server")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback HTTP server that answers 200 `{"ok":true}` and counts requests;
/// a request to `/slow` is held until the test calls [`MockServer::release_slow`]
/// (or a minute passes), so "a call is in flight" never depends on timing.
pub struct MockServer {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    hits: Arc<AtomicU32>,
    gate: Arc<tokio::sync::Semaphore>,
}

impl MockServer {
    /// Starts one.
    pub async fn start() -> anyhow::Result<Self> {
        let hits = Arc::new(AtomicU32::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let (counter, held) = (hits.clone(), gate.clone());
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let (counter, held) = (counter.clone(), held.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                if uri.path() == "/slow" {
                    let _ = tokio::time::timeout(Duration::from_secs(60), held.acquire()).await;
                }
                axum::Json(serde_json::json!({ "ok": true }))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { origin, hits, gate })
    }

    /// Lets one held `/slow` request answer.
    pub fn release_slow(&self) {
        self.gate.add_permits(1);
    }

    /// Requests received so far.
    pub fn hits(&self) -> u32 {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A provider's send API on loopback for the scaffolded channels
/// (`switchboard plugin new`): records every request (method, path, headers,
/// body) and answers `200 {"id": "out-<n>"}`.
pub struct RecordingProvider {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    received: Arc<std::sync::Mutex<Vec<ProviderRequest>>>,
}

/// One request a [`RecordingProvider`] received.
#[derive(Debug, Clone)]
pub struct ProviderRequest {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl ProviderRequest {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl RecordingProvider {
    /// Starts one.
    pub async fn start() -> anyhow::Result<Self> {
        let received: Arc<std::sync::Mutex<Vec<ProviderRequest>>> = Arc::default();
        let log = received.clone();
        let app = axum::Router::new().fallback(
            move |method: axum::http::Method,
                  uri: axum::http::Uri,
                  headers: axum::http::HeaderMap,
                  body: axum::body::Bytes| {
                let log = log.clone();
                async move {
                    let n = {
                        let mut log = log.lock().unwrap();
                        log.push(ProviderRequest {
                            method: method.to_string(),
                            path: uri.path().to_owned(),
                            headers: headers
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                                .collect(),
                            body: body.to_vec(),
                        });
                        log.len()
                    };
                    axum::Json(serde_json::json!({ "id": format!("out-{n}") }))
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { origin, received })
    }

    /// Requests received so far, in order.
    pub fn received(&self) -> Vec<ProviderRequest> {
        self.received.lock().unwrap().clone()
    }
}

/// Opens the test's database directly (to check what was stored).
pub async fn database(env: &Env) -> anyhow::Result<sqlx::AnyPool> {
    sqlx::any::install_default_drivers();
    Ok(sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&env.database_url)
        .await?)
}

/// Checks that `value` matches the OpenAPI `schema` (resolving `$ref`s in
/// `doc`): no property the schema lacks, every required one present, types
/// as declared, recursively. Answers the first mismatch with its JSON path.
pub fn conforms(value: &Value, schema: &Value, doc: &Value, at: &str) -> Result<(), String> {
    let schema = match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    };
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            return if options.iter().any(|o| conforms(value, o, doc, at).is_ok()) {
                Ok(())
            } else {
                Err(format!("{at}: {value} matches none of {key}"))
            };
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let fits = |t: &str| match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    };
    if !types.is_empty() && !types.iter().any(|t| fits(t)) {
        return Err(format!("{at}: {value} is not {types:?}"));
    }
    if let (Some(object), Some(properties)) = (value.as_object(), schema["properties"].as_object()) {
        for (key, field) in object {
            let property = properties
                .get(key)
                .ok_or_else(|| format!("{at}.{key}: not in the schema"))?;
            conforms(field, property, doc, &format!("{at}.{key}"))?;
        }
        for required in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(required) {
                return Err(format!("{at}.{required}: required but missing"));
            }
        }
    }
    if let (Some(items), Some(item_schema)) = (value.as_array(), schema.get("items")) {
        for (n, item) in items.iter().enumerate() {
            conforms(item, item_schema, doc, &format!("{at}[{n}]"))?;
        }
    }
    Ok(())
}
