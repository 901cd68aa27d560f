//! Chatwoot's own clients against the real binary, on SQLite and PostgreSQL:
//! `chatwoot-python-client` 1.0.0.18 (PyPI) and `@figuro/chatwoot-sdk`
//! 1.1.17 (npm) run `tests/clients/*` through every call they share with
//! the API, and schemathesis 4 checks `/api/openapi.json` against the
//! server with all its checks. `tests/run` installs all three under
//! `target/chatwoot-clients` (see `clients_dir`); without them these tests
//! fail and say how to install them.

use std::path::{Path, PathBuf};
use std::process::Command;

use switchboard_e2e::{Backend, Env, Server};

switchboard_e2e::on_both_databases!(python_client_works_unchanged, javascript_client_works_unchanged);

/// Where `tests/run` installs the clients and schemathesis.
fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/chatwoot-clients")
        .canonicalize()
        .expect("target/chatwoot-clients is missing: run tests/run, which installs the Chatwoot clients")
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients").join(name)
}

/// An account with an administrator (whose token the clients use) and an
/// agent; answers (account, admin token, agent id).
fn account(env: &Env) -> (i64, String, i64) {
    let (account, token) = env.account_with_admin("Acme", "admin@acme.example");
    let agent = env.cli_json(&[
        "user",
        "create",
        "--email",
        "agent@acme.example",
        "--account",
        &account.to_string(),
        "--role",
        "agent",
        "--json",
    ]);
    (account, token, agent["id"].as_i64().expect("an agent id"))
}

/// Runs a client script to its end; fails with its output unless it passed.
fn run(mut command: Command, server: &Server) -> anyhow::Result<()> {
    let out = command.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(
        out.status.success(),
        "the client failed ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        out.status,
        server.log()
    );
    Ok(())
}

async fn python_client_works_unchanged(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let (account, token, agent) = account(&env);
    let server = env.serve().await?;
    let mut command = Command::new(clients_dir().join("venv/bin/python"));
    command.arg(script("chatwoot_python.py")).args([
        &server.base,
        &token,
        &account.to_string(),
        &agent.to_string(),
    ]);
    run(command, &server)
}

async fn javascript_client_works_unchanged(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let (account, token, agent) = account(&env);
    let server = env.serve().await?;
    let mut command = Command::new("node");
    command
        .env("NODE_PATH", clients_dir().join("js/node_modules"))
        .arg(script("chatwoot_js.js"))
        .args([&server.base, &token, &account.to_string(), &agent.to_string()]);
    run(command, &server)
}

/// Schemathesis with every check against the served document, on SQLite
/// (the document and the handlers are the same on both databases), bounded
/// by a number of examples per operation rather than by time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing() -> anyhow::Result<()> {
    let env = Env::new(Backend::Sqlite).await?;
    let (_account, token, _agent) = account(&env);
    let server = env.serve().await?;
    let mut command = Command::new(clients_dir().join("venv/bin/st"));
    command
        .current_dir(env.data.path())
        .arg("--config-file")
        .arg(script("schemathesis.toml"))
        .args(["run", &format!("{}/api/openapi.json", server.base)])
        .args(["--checks", "all", "--max-examples", "15", "--workers", "1"])
        .args(["--header", &format!("api_access_token: {token}")])
        // The OAuth redirect's only valid input is a state this server
        // signed moments before, which no generator can produce; the
        // TikTok suite drives it with real ones.
        .args(["--exclude-path", "/{channel}/callback"])
        .args(["--suppress-health-check", "all", "--no-color"]);
    run(command, &server)
}
