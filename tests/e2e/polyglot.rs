//! Channel plugins written in other languages than Rust, built from source by
//! this suite against `wit/since_v0.2.0` and run by the real binary:
//! `examples/python-echo` (componentize-py) and `examples/js-echo`
//! (componentize-js). Each one is installed, described, called through the
//! CLI, the admin dry-run endpoint and the real webhook route into an inbox,
//! and answers an agent's reply through the delivery queue.
//!
//! The toolchains are installed by `tests/run` (a venv under
//! `target/polyglot/venv`, `npm ci` in `examples/js-echo`). A build is cached
//! in `target/polyglot/build`, keyed by a hash of its sources, the WIT and the
//! toolchain's version, so only the first run after a change pays for it
//! (6-7 s each on a quiet machine), and so is the host's compiled code of it
//! (`target/polyglot/compiled`, 7-13 s of Cranelift each): a warm run takes
//! a few seconds.
//!
//! The guide for Python and JavaScript authors in `sdk/README.md` is run
//! from its own shell block, line by line, from `plugin new --lang …` to a
//! reply delivered to a provider on loopback; a second `plugin build` must
//! come from the build cache. The helpers of `sdk/python` and `sdk/js` run
//! their own unit tests. An example's uncaught exception shows up with its
//! traceback (Python) or stack (JavaScript) in the CLI, the event log, the
//! dry-run endpoint's answer and the plugin's health (`last_fault`).
//!
//! SQLite only: what is under test is the toolchains' output in the host's
//! sandbox; the pipeline's behaviour on PostgreSQL is covered by the other
//! suites with the Rust probe.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchboard_e2e::{Backend, Env, Server};

const SECRET: &str = "polyglot-signing-secret";
/// The provider account id the inbox is bound to (`account_id` in events).
const ACCOUNT: &str = "echo-acct-1";

/// A guest language and how to build its example.
#[derive(Clone, Copy)]
enum Toolchain {
    /// componentize-py from the venv `tests/run` makes.
    Python,
    /// componentize-js from `examples/js-echo/node_modules`.
    JavaScript,
}

/// One example plugin.
struct Example {
    /// The manifest id, also the file name of the build.
    id: &'static str,
    /// Its folder under `examples/`.
    dir: &'static str,
    toolchain: Toolchain,
    /// Manifest name.
    name: &'static str,
}

const PYTHON: Example = Example {
    id: "py-echo",
    dir: "python-echo",
    toolchain: Toolchain::Python,
    name: "Python echo",
};

const JAVASCRIPT: Example = Example {
    id: "js-echo",
    dir: "js-echo",
    toolchain: Toolchain::JavaScript,
    name: "JavaScript echo",
};

/// The world both examples are built against.
const WORLD: &str = "switchboard:channel/channel-plugin@0.2.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_channel_runs_in_the_host() {
    channel_runs_in_the_host(&PYTHON).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_channel_runs_in_the_host() {
    channel_runs_in_the_host(&JAVASCRIPT).await.unwrap()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

fn polyglot_dir() -> PathBuf {
    workspace().join("target").join("polyglot")
}

/// Progress on the terminal even while the test harness captures output
/// (it captures only the `print!` family).
fn progress(line: &str) {
    let _ = writeln!(std::io::stderr(), "polyglot: {line}");
}

/// Runs a command; its output is shown only when it fails.
fn run(command: &mut Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("cannot start {what} ({command:?})"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(stdout)
}

/// Every file under `dir` (sorted, recursively), skipping `skip` names and
/// symbolic links (the WIT's `deps/channel-0.1.0` points at a folder that is
/// hashed on its own).
fn files_under(dir: &Path, skip: &[&str], out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let kind = entry.file_type()?;
        let name = entry.file_name();
        if kind.is_symlink() || skip.iter().any(|s| name == *s) {
            continue;
        }
        if kind.is_dir() {
            files_under(&entry.path(), skip, out)?;
        } else {
            out.push(entry.path());
        }
    }
    Ok(())
}

fn componentize_py() -> PathBuf {
    polyglot_dir().join("venv").join("bin").join("componentize-py")
}

/// The toolchain's version, part of the cache key; an error says how to
/// install a missing toolchain.
fn toolchain_version(example: &Example) -> anyhow::Result<String> {
    let install = "tests/run installs it";
    match example.toolchain {
        Toolchain::Python => {
            let bin = componentize_py();
            ensure!(
                bin.exists(),
                "{} is missing; {install} (python3 -m venv target/polyglot/venv && \
                 target/polyglot/venv/bin/pip install componentize-py==0.25.1)",
                bin.display()
            );
            Ok(run(
                Command::new(&bin).arg("--version"),
                "componentize-py --version",
            )?)
        }
        Toolchain::JavaScript => {
            let package = workspace()
                .join("examples/js-echo/node_modules/@bytecodealliance/componentize-js/package.json");
            ensure!(
                package.exists(),
                "{} is missing; {install} (cd examples/js-echo && npm ci)",
                package.display()
            );
            let version: Value = serde_json::from_slice(&std::fs::read(&package)?)?;
            let node = run(Command::new("node").arg("--version"), "node --version")?;
            Ok(format!(
                "componentize-js {} node {}",
                version["version"].as_str().unwrap_or("?"),
                node.trim()
            ))
        }
    }
}

/// Builds `example` from source, or answers the cached build of the same
/// sources, WIT and toolchain.
fn build(example: &Example) -> anyhow::Result<PathBuf> {
    let root = workspace();
    let source_dir = root.join("examples").join(example.dir);
    let version = toolchain_version(example)?;
    let mut inputs = Vec::new();
    files_under(
        &source_dir,
        &["node_modules", "__pycache__", "test", ".gitignore", "README.md"],
        &mut inputs,
    )?;
    files_under(&root.join("wit"), &["README.md"], &mut inputs)?;
    if let Toolchain::JavaScript = example.toolchain {
        // echo.js imports the SDK's HMAC from sdk/js.
        files_under(&root.join("sdk").join("js"), &["test"], &mut inputs)?;
    }
    let mut hash = Sha256::new();
    hash.update(version.as_bytes());
    hash.update(WORLD.as_bytes());
    for path in &inputs {
        hash.update(path.strip_prefix(&root)?.to_string_lossy().as_bytes());
        hash.update([0]);
        hash.update(std::fs::read(path)?);
        hash.update([0]);
    }
    let key = &hex::encode(hash.finalize())[..16];
    let out_dir = polyglot_dir().join("build");
    std::fs::create_dir_all(&out_dir)?;
    let out = out_dir.join(format!("{}-{key}.wasm", example.id));
    if out.exists() {
        progress(&format!(
            "{} is built from these sources already: {} ({} KiB)",
            example.id,
            out.display(),
            std::fs::metadata(&out)?.len() / 1024
        ));
        return Ok(out);
    }
    progress(&format!("building {} with {}…", example.id, version.trim()));
    let started = Instant::now();
    let partial = out_dir.join(format!(
        "{}-{key}.wasm.partial-{}",
        example.id,
        std::process::id()
    ));
    let wit = root.join("wit").join("since_v0.2.0");
    match example.toolchain {
        Toolchain::Python => {
            // Built from a copy: componentize-py writes __pycache__ next to
            // the module it compiles.
            let stage = polyglot_dir().join("stage").join(format!("{}-{key}", example.id));
            let _ = std::fs::remove_dir_all(&stage);
            std::fs::create_dir_all(&stage)?;
            for path in &inputs {
                if path.starts_with(&source_dir) && path.extension().is_some_and(|x| x == "py") {
                    std::fs::copy(path, stage.join(path.file_name().unwrap()))?;
                }
            }
            run(
                Command::new(componentize_py())
                    .arg("-d")
                    .arg(&wit)
                    .args(["-w", WORLD, "componentize", "-p"])
                    .arg(&stage)
                    .arg("app")
                    .arg("-o")
                    .arg(&partial),
                "componentize-py",
            )?;
            let _ = std::fs::remove_dir_all(&stage);
        }
        Toolchain::JavaScript => {
            run(
                Command::new("node")
                    .current_dir(&source_dir)
                    .arg("build.mjs")
                    .arg(&partial)
                    .arg(&wit),
                "componentize-js (node build.mjs)",
            )?;
        }
    }
    std::fs::rename(&partial, &out)?;
    // Older builds of this example are of no further use.
    for entry in std::fs::read_dir(&out_dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{}-", example.id)) && entry.path() != out && !name.contains(".partial-")
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    progress(&format!(
        "built {} in {:.1} s: {} ({} KiB)",
        example.id,
        started.elapsed().as_secs_f64(),
        out.display(),
        std::fs::metadata(&out)?.len() / 1024
    ));
    Ok(out)
}

/// Where compiled builds of an example are kept between runs.
fn compile_cache(example: &Example) -> PathBuf {
    polyglot_dir().join("compiled").join(example.id)
}

/// Gives the test's data folder the compiled code of this build from an
/// earlier run, if there is one: Cranelift takes 5-25 s on these
/// components. The host names its cache files
/// `<component sha256>-<engine compatibility hash>.cwasm` and loads only
/// those its own engine wrote, so a file from another host build is ignored.
fn seed_compile_cache(env: &Env, example: &Example, sha256: &str) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(compile_cache(example)) else {
        return Ok(());
    };
    let cache = env.data.path().join("cache");
    std::fs::create_dir_all(&cache)?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(sha256) {
            std::fs::copy(entry.path(), cache.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// Keeps the compiled code the install wrote for the next run.
fn keep_compile_cache(env: &Env, example: &Example, sha256: &str) -> anyhow::Result<()> {
    let kept = compile_cache(example);
    let fresh: Vec<_> = std::fs::read_dir(env.data.path().join("cache"))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(sha256))
        .collect();
    if fresh.iter().all(|e| kept.join(e.file_name()).exists()) {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(&kept);
    std::fs::create_dir_all(&kept)?;
    for entry in fresh {
        let partial = kept.join(format!(".partial-{}", std::process::id()));
        std::fs::copy(entry.path(), &partial)?;
        std::fs::rename(&partial, kept.join(entry.file_name()))?;
    }
    Ok(())
}

/// The hex HMAC-SHA256 of `body` under `secret`, as the examples expect in
/// `x-echo-signature`.
fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn event_body(message_id: &str, text: &str) -> String {
    json!({
        "account_id": ACCOUNT,
        "conversation_id": "conv-1",
        "contact": { "id": "user-1", "name": "Ann Example" },
        "message": { "id": message_id, "text": text, "sent_at_ms": 1_700_000_000_000u64 },
    })
    .to_string()
}

/// A webhook through the admin dry-run endpoint.
async fn dry_run(
    server: &Server,
    token: &str,
    id: &str,
    headers: Value,
    body: &str,
) -> anyhow::Result<Value> {
    let answer = server
        .post_json(
            &format!("/api/v1/admin/plugins/{id}/dry-run/webhook"),
            Some(token),
            &json!({
                "method": "POST",
                "path": format!("/webhooks/{id}"),
                "query": "",
                "headers": headers,
                "body": base64::engine::general_purpose::STANDARD.encode(body),
            }),
        )
        .await?;
    ensure!(
        answer.status == 200,
        "dry run answered {}: {:?}",
        answer.status,
        answer.json
    );
    Ok(answer.json)
}

async fn channel_runs_in_the_host(example: &'static Example) -> anyhow::Result<()> {
    let id = example.id;
    // Building takes seconds: off the runtime's workers.
    let wasm = tokio::task::spawn_blocking(move || build(example)).await??;
    let env = Env::new(Backend::Sqlite).await?;
    let sha256 = hex::encode(Sha256::digest(std::fs::read(&wasm)?));
    seed_compile_cache(&env, example, &sha256)?;
    let wasm = wasm.to_str().context("a UTF-8 path")?;

    // Install: compiled, linked against the host (WASI denied), described,
    // validated; contract 0.2.0.
    let installed = env.cli(&["plugin", "install", wasm, "--json"]);
    assert_eq!(installed.code, 0, "install {id}: {}", installed.stderr);
    keep_compile_cache(&env, example, &sha256)?;
    let shown = env.cli_json(&["plugin", "show", id, "--json"]);
    assert_eq!(shown["id"], id);
    assert_eq!(shown["contract_version"], "0.2.0");
    assert_eq!(shown["load_error"], Value::Null);
    let manifest = &shown["manifest"];
    assert_eq!(manifest["name"], example.name);
    assert_eq!(manifest["version"], "1.0.0");
    assert_eq!(manifest["contract_version"], "0.2.0");
    assert_eq!(
        manifest["settings"],
        json!([{
            "key": "signing_secret",
            "description": "Key of the HMAC-SHA256 in the x-echo-signature header of every webhook",
            "required": true,
            "secret": true,
            "default_value": null,
        }])
    );
    assert_eq!(manifest["outbound_hosts"], json!(["https://example.com"]));
    assert_eq!(shown["declared_hosts"], json!(["https://example.com"]));
    assert_eq!(
        manifest["limits"],
        json!({
            "max_text_chars": 1000,
            "max_attachments": 0,
            "text_with_attachments": false,
            "attachment_kinds": [],
            "attachment_mime_types": [],
            "max_attachment_bytes": null,
        })
    );
    assert_eq!(manifest["reply_window"], json!({ "kind": "unlimited" }));
    assert_eq!(manifest["supports_authorization"], false);

    // The secret is stored sealed and reaches the plugin as a secret setting.
    let env_name = format!("{}_SIGNING_SECRET", id.to_ascii_uppercase().replace('-', "_"));
    let set = env.cli(&["config", "set", &env_name, SECRET]);
    assert_eq!(set.code, 0, "{}", set.stderr);

    // The CLI's dry run: verify-webhook, then parse-event.
    let body = event_body("msg-1", "hello from the provider");
    let signature = sign(SECRET, body.as_bytes());
    let header = format!("x-echo-signature: {signature}");
    let call = env.cli_json(&["plugin", "call", id, "--body", &body, "-H", &header, "--json"]);
    assert_eq!(call["verification"]["outcome"], "accepted", "{call}");
    assert_eq!(
        call["events"],
        json!([{
            "type": "message",
            "event": {
                "channel_external_id": ACCOUNT,
                "conversation_id": "conv-1",
                "contact": { "external_id": "user-1", "name": "Ann Example", "username": null, "avatar_url": null },
                "message_id": "msg-1",
                "sent_at_ms": 1_700_000_000_000u64,
                "text": "hello from the provider",
                "attachments": [],
                "reply_to": null,
                "unsupported": null,
            },
        }])
    );
    let forged = format!("x-echo-signature: {}", sign("another-secret", body.as_bytes()));
    let call = env.cli_json(&["plugin", "call", id, "--body", &body, "-H", &forged, "--json"]);
    assert_eq!(
        call["verification"],
        json!({ "outcome": "rejected", "detail": "signature does not match" })
    );
    assert_eq!(call["events"], Value::Null, "nothing is parsed when rejected");
    // A genuine request that is not an event: the plugin's own error.
    let junk = "not json";
    let junk_header = format!("x-echo-signature: {}", sign(SECRET, junk.as_bytes()));
    let refused = env.cli(&["plugin", "call", id, "--body", junk, "-H", &junk_header]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("not an echo event") && refused.stderr.contains("InvalidRequest"),
        "{}",
        refused.stderr
    );
    // An exception the plugin does not catch: the crash says why (the
    // exception and where it was raised), not only that it trapped.
    let crash = r#"{"crash": "deliberate crash in parse-event"}"#;
    let crash_header = format!("x-echo-signature: {}", sign(SECRET, crash.as_bytes()));
    let crashed = env.cli(&["plugin", "call", id, "--body", crash, "-H", &crash_header]);
    assert_ne!(crashed.code, 0, "{}", crashed.stderr);
    let (exception, frame) = match example.toolchain {
        Toolchain::Python => ("RuntimeError: deliberate crash in parse-event", "in _crash"),
        Toolchain::JavaScript => ("Error: deliberate crash in parse-event", "crash"),
    };
    for said in ["crashed", exception, frame] {
        assert!(
            crashed.stderr.contains(said),
            "no {said:?} in:\n{}",
            crashed.stderr
        );
    }

    // The 0.2.0 `webhooks` interface answers `unsupported`.
    let webhook = env.cli(&["channel", "webhook", id]);
    assert_eq!(webhook.code, 1, "{}", webhook.stderr);
    assert!(
        webhook
            .stderr
            .contains("does not support webhook registration (Unsupported)"),
        "{}",
        webhook.stderr
    );

    // A running server: the admin dry-run endpoint.
    let root = env.super_admin_token();
    let (account, admin) = env.account_with_admin("Acme", "admin@acme.example");
    let server = env.serve().await?;
    server
        .eventually(&format!("the server loading {id}"), 200, || async {
            Ok(server.get("/health", None).await?.json["plugins"]
                .as_array()
                .is_some_and(|p| p.contains(&json!(id))))
        })
        .await?;
    let answer = dry_run(
        &server,
        &root,
        id,
        json!([["X-Echo-Signature", signature]]),
        &body,
    )
    .await?;
    assert_eq!(answer["verification"]["outcome"], "accepted", "{answer}");
    assert_eq!(answer["events"][0]["event"]["text"], "hello from the provider");
    let answer = dry_run(&server, &root, id, json!([]), &body).await?;
    assert_eq!(
        answer["verification"],
        json!({ "outcome": "rejected", "detail": "x-echo-signature header missing" })
    );

    // The real webhook route into an inbox bound to the provider account.
    let path = |rest: &str| format!("/api/v1/accounts/{account}{rest}");
    let inbox = server
        .post_json(
            &path("/inboxes"),
            Some(&admin),
            &json!({ "name": "Echo", "channel": { "type": id, "external_id": ACCOUNT } }),
        )
        .await?;
    assert_eq!(inbox.status, 200, "{:?}", inbox.json);
    assert_eq!(inbox.json["external_id"], ACCOUNT);
    let webhook = format!("/webhooks/{id}");
    let stored = server
        .post_webhook(
            &webhook,
            &[("x-echo-signature", &signature)],
            body.clone().into_bytes(),
        )
        .await?;
    assert_eq!(stored.status, 200, "{:?}", stored.json);
    let conversation = server
        .wait_for("the inbound conversation", 200, || async {
            let list = server
                .get(&path("/conversations?status=all"), Some(&admin))
                .await?;
            Ok(list.json["data"]["payload"]
                .as_array()
                .and_then(|c| c.first())
                .cloned())
        })
        .await?;
    assert_eq!(conversation["meta"]["sender"]["name"], "Ann Example");
    let display = conversation["id"].as_i64().context("conversation id")?;
    let messages_path = path(&format!("/conversations/{display}/messages"));
    let messages = server.get(&messages_path, Some(&admin)).await?.json["payload"].clone();
    assert_eq!(messages.as_array().map(Vec::len), Some(1), "{messages}");
    assert_eq!(messages[0]["content"], "hello from the provider");
    assert_eq!(messages[0]["source_id"], "msg-1");

    // Not genuine: 401, nothing stored.
    for (case, headers) in [
        (
            "a forged signature",
            vec![("x-echo-signature", sign("nope", body.as_bytes()))],
        ),
        ("no signature", vec![]),
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = server
            .post_webhook(&webhook, &headers, event_body("msg-2", "forged").into_bytes())
            .await?;
        assert_eq!(answer.status, 401, "{case}: {:?}", answer.json);
    }
    let events = server.get("/api/v1/admin/events", Some(&root)).await?;
    assert_eq!(
        events.json.as_array().map(Vec::len),
        Some(1),
        "only the genuine webhook is in the event log: {:?}",
        events.json
    );

    // A genuine webhook whose parse crashes is kept, and the event log says
    // why it is not applied.
    let crashing = server
        .post_webhook(
            &webhook,
            &[("x-echo-signature", &sign(SECRET, crash.as_bytes()))],
            crash.as_bytes().to_vec(),
        )
        .await?;
    assert_eq!(crashing.status, 200, "{:?}", crashing.json);
    server
        .eventually("the event log's reason quotes the exception", 200, || async {
            let events = server.get("/api/v1/admin/events", Some(&root)).await?;
            Ok(events
                .json
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["reason"].as_str().is_some_and(|r| r.contains(exception))))
        })
        .await?;
    // The admin API says why too: the plugin's health names the crash as
    // its last fault, and a dry run of the webhook answers with it.
    let says_why = |text: &str| text.contains(exception) && text.contains(frame);
    server
        .eventually("the plugin's last fault quotes the exception", 200, || async {
            let plugin = server
                .get(&format!("/api/v1/admin/plugins/{id}"), Some(&root))
                .await?;
            Ok(plugin.json["last_fault"].as_str().is_some_and(says_why))
        })
        .await?;
    let dry_crash = server
        .post_json(
            &format!("/api/v1/admin/plugins/{id}/dry-run/webhook"),
            Some(&root),
            &json!({
                "method": "POST",
                "path": &webhook,
                "query": "",
                "headers": [["x-echo-signature", sign(SECRET, crash.as_bytes())]],
                "body": base64::engine::general_purpose::STANDARD.encode(crash),
            }),
        )
        .await?;
    assert_eq!(dry_crash.status, 502, "{:?}", dry_crash.json);
    assert!(
        dry_crash.json["error"].as_str().is_some_and(says_why),
        "{:?}",
        dry_crash.json
    );

    // An agent's reply goes through the delivery queue to send-message,
    // which answers `<id>-<idempotency key>`.
    let reply = server
        .post_json(&messages_path, Some(&admin), &json!({ "content": "hello back" }))
        .await?;
    assert_eq!(reply.status, 200, "{:?}", reply.json);
    let reply_id = reply.json["id"].as_i64().context("message id")?;
    let expected = format!("{id}-message-{reply_id}");
    let sent = server
        .wait_for("the reply's provider id", 200, || async {
            let list = server.get(&messages_path, Some(&admin)).await?.json["payload"].clone();
            Ok(list
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| m["id"] == reply_id && m["source_id"] == expected.as_str())
                .cloned())
        })
        .await?;
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(sent["content"], "hello back");
    Ok(())
}

/// The guide "Write a channel in Python or JavaScript" in `sdk/README.md`,
/// followed as an author would: its shell block runs line by line, as
/// written (Python), from `plugin new` to the settings. The scaffold builds
/// with componentize-py (the venv `tests/run` installs stands in for the
/// project's `.venv`), builds again without running componentize (the build
/// cache), passes its own fixtures in `plugin test`, installs without
/// compiling again, and then, as steps 5 to 7 of the Rust guide, answers a
/// signed webhook into an inbox and delivers an agent's reply to a provider
/// on loopback with the API token and the user's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_guide_from_new_to_a_delivered_reply() {
    follow_the_guide(Toolchain::Python).await.unwrap()
}

/// The same with the guide's replacements for JavaScript; `node_modules`
/// comes from `examples/js-echo` (`tests/run` installs it), standing in for
/// the `npm install` of a first build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_guide_from_new_to_a_delivered_reply() {
    follow_the_guide(Toolchain::JavaScript).await.unwrap()
}

/// The guide, as the test was built.
const GUIDE: &str = include_str!("../../sdk/README.md");
const GUIDE_SECTION: &str = "## Write a channel in Python or JavaScript";
/// How the guide says to turn its Python commands into JavaScript ones.
const TO_JAVASCRIPT: &str = "In JavaScript: the same commands with `js-chat` for `py-chat`, `JS_CHAT` for\n`PY_CHAT` and `--lang js` for `--lang python`";

/// The commands of the guide's shell block for `toolchain`, without their
/// comments.
fn guide_commands(toolchain: Toolchain) -> anyhow::Result<Vec<String>> {
    let section = GUIDE
        .split_once(GUIDE_SECTION)
        .with_context(|| format!("sdk/README.md has no {GUIDE_SECTION:?}"))?
        .1;
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .context("the guide's section has no sh block")?
        .0;
    ensure!(
        section.contains(TO_JAVASCRIPT),
        "the guide no longer says how the commands read in JavaScript: change tests/e2e/polyglot.rs with it"
    );
    Ok(block
        .lines()
        .map(|line| line.split_once(" #").map_or(line, |(command, _)| command).trim())
        .filter(|line| !line.is_empty())
        .map(|line| match toolchain {
            Toolchain::Python => line.to_owned(),
            Toolchain::JavaScript => line
                .replace("py-chat", "js-chat")
                .replace("PY_CHAT", "JS_CHAT")
                .replace("--lang python", "--lang js"),
        })
        .collect())
}

/// Runs one line of the guide with `sh` in `dir`, with the test binary as
/// `switchboard` and the environment's database and data folder.
fn guide_line(env: &Env, dir: &Path, line: &str) -> anyhow::Result<switchboard_e2e::CliOutput> {
    let binary = switchboard_e2e::binary();
    let bin_dir = binary.parent().context("the binary's folder")?;
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_path_buf()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )?;
    let output = Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .env("PATH", path)
        .env("DATABASE_URL", &env.database_url)
        .env("SWITCHBOARD_DATA_DIR", env.data.path())
        .env("SWITCHBOARD_COMPONENTIZE_PY", componentize_py())
        // The compiled-code and build caches of the author's commands, kept
        // between runs in target/ rather than the user's home.
        .env("XDG_CACHE_HOME", polyglot_dir().join("author-cache"))
        .output()
        .with_context(|| format!("cannot run {line:?}"))?;
    let output = switchboard_e2e::CliOutput::from(output);
    ensure!(output.code == 0, "the guide's `{line}` failed: {output:?}");
    Ok(output)
}

async fn follow_the_guide(toolchain: Toolchain) -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let (id, prefix) = match toolchain {
        Toolchain::Python => ("py-chat", "PY_CHAT"),
        Toolchain::JavaScript => ("js-chat", "JS_CHAT"),
    };
    let env = Env::new(Backend::Sqlite).await?;
    let mut dir = root.path().to_path_buf();
    let mut ran = Vec::new();
    for line in guide_commands(toolchain)? {
        if let Some(folder) = line.strip_prefix("cd ") {
            dir = dir.join(folder);
            ran.push(line);
            continue;
        }
        let started = Instant::now();
        let out = {
            let (env, dir, line) = (&env, dir.clone(), line.clone());
            // Building and testing take seconds: off the runtime's workers.
            tokio::task::block_in_place(|| guide_line(env, &dir, &line))?
        };
        let seconds = started.elapsed().as_secs_f64();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.get(1..3) {
            Some(["plugin", "new"]) => {
                let files: &[&str] = match toolchain {
                    Toolchain::Python => &["app.py", "switchboard_sdk.py"],
                    Toolchain::JavaScript => &[
                        "src/channel.js",
                        "src/switchboard.js",
                        "src/hmac-sha256.js",
                        "package.json",
                        "build.mjs",
                    ],
                };
                let project = root.path().join(id);
                for file in files.iter().chain(&["fixtures/send/text-reply.json"]) {
                    ensure!(project.join(file).is_file(), "{file} was not written");
                }
                if let Toolchain::JavaScript = toolchain {
                    std::os::unix::fs::symlink(
                        workspace().join("examples/js-echo/node_modules"),
                        project.join("node_modules"),
                    )?;
                }
            }
            Some(["plugin", "build"]) => {
                let wasm = out.stdout.trim();
                ensure!(wasm.ends_with(&format!("target/{id}.wasm")), "{wasm}");
                ensure!(
                    dir.join("wit/world.wit").is_file(),
                    "the build writes the WIT it carries"
                );
                let reused = out.stderr.contains("up to date");
                progress(&format!(
                    "{id} built in {seconds:.1} s{}",
                    if reused { " (from the build cache)" } else { "" }
                ));
                // Nothing changed: the same command again copies the last
                // component instead of running componentize.
                let again = tokio::task::block_in_place(|| guide_line(&env, &dir, &line))?;
                ensure!(
                    again.stderr.contains("up to date") && again.stderr.contains("componentize did not run"),
                    "the second build ran componentize again:\n{}",
                    again.stderr
                );
                ensure!(again.stdout == out.stdout, "{again:?}");
            }
            Some(["plugin", "test"]) => {
                ensure!(out.stdout.contains("9 passed, 0 failed"), "{}", out.stdout);
                progress(&format!("{id} tested in {seconds:.1} s"));
            }
            Some(["plugin", "install"]) => ensure!(
                out.stderr
                    .contains("reusing the compiled code `switchboard plugin test` cached"),
                "install compiled the component again:\n{}",
                out.stderr
            ),
            _ => {}
        }
        ran.push(line);
    }
    let expected = [
        format!("plugin new {id}"),
        format!("cd {id}"),
        "plugin build".to_owned(),
        format!("plugin test target/{id}.wasm"),
        format!("plugin install target/{id}.wasm"),
        format!("config set {prefix}_WEBHOOK_SECRET s3cret"),
        format!("config set {prefix}_API_TOKEN provider-token"),
    ];
    ensure!(
        ran.len() == expected.len()
            && ran
                .iter()
                .zip(&expected)
                .all(|(line, what)| line.contains(what.as_str())),
        "the guide's block is not the one this test follows: {ran:#?}"
    );

    // Steps 5 to 7 of the guide, with the plugin's id for `acme-chat`.
    let provider = switchboard_e2e::RecordingProvider::start().await?;
    ensure!(
        env.cli(&["config", "set", &format!("{prefix}_API_BASE"), &provider.origin])
            .code
            == 0
    );
    ensure!(env.cli(&["plugin", "grant-host", id, &provider.origin]).code == 0);
    let (account, admin) = env.account_with_admin("Acme", "admin@acme.example");
    let server = env.serve().await?;
    let inbox = server
        .post_json(
            &format!("/api/v1/accounts/{account}/inboxes"),
            Some(&admin),
            &json!({ "name": "Chat", "channel": { "type": id, "external_id": "acct-1" } }),
        )
        .await?;
    ensure!(inbox.status == 200, "{:?}", inbox.json);
    let body = r#"{"type":"message","account_id":"acct-1","message":{"id":"m-1","conversation_id":"c-1","from":{"id":"u-1","name":"Ada Lovelace"},"text":"Hello!","sent_at_ms":1767225600000}}"#;
    ensure!(
        GUIDE.contains(&format!("BODY='{body}'")),
        "step 5's webhook changed"
    );
    let signature = format!("sha256={}", sign("s3cret", body.as_bytes()));
    server
        .eventually("the signed webhook is accepted", 200, || async {
            let answer = server
                .post_webhook(
                    &format!("/webhooks/{id}"),
                    &[("x-signature", &signature)],
                    body.as_bytes().to_vec(),
                )
                .await?;
            Ok(answer.status == 200)
        })
        .await?;
    let conversation = server
        .wait_for("Ada's conversation", 200, || async {
            let list = server
                .get(
                    &format!("/api/v1/accounts/{account}/conversations?status=all"),
                    Some(&admin),
                )
                .await?;
            Ok(list.json["data"]["payload"]
                .as_array()
                .and_then(|c| c.first())
                .cloned())
        })
        .await?;
    let display = conversation["id"].as_i64().context("conversation id")?;
    let messages_path = format!("/api/v1/accounts/{account}/conversations/{display}/messages");
    let reply = server
        .post_json(&messages_path, Some(&admin), &json!({ "content": "Hi Ada!" }))
        .await?;
    ensure!(reply.status == 200, "{:?}", reply.json);
    let reply_id = reply.json["id"].clone();
    let sent = server
        .wait_for("the reply delivered", 300, || async {
            let list = server.get(&messages_path, Some(&admin)).await?.json["payload"].clone();
            Ok(list
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| {
                    m["id"] == reply_id
                        && (m["status"] == "failed" || (m["status"] == "sent" && m["source_id"].is_string()))
                })
                .cloned())
        })
        .await?;
    ensure!(sent["status"] == "sent" && sent["source_id"] == "out-1", "{sent}");
    let received = provider.received();
    ensure!(received.len() == 1, "{received:?}");
    ensure!(
        received[0].header("authorization") == Some("Bearer provider-token"),
        "{:?}",
        received[0]
    );
    let sent_body = received[0].json();
    ensure!(
        sent_body["to"] == "u-1" && sent_body["text"] == "Hi Ada!",
        "{sent_body}"
    );
    Ok(())
}

/// The Python helpers' own unit tests, run natively against the bindings
/// componentize-py generates from the WIT the binary carries.
#[test]
fn python_helpers_pass_their_tests() {
    let root = tempfile::tempdir().unwrap();
    let wit = root.path().join("wit");
    let bindings = root.path().join("bindings");
    let out = Command::new(switchboard_e2e::binary())
        .args(["plugin", "wit", "--out"])
        .arg(&wit)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    run(
        Command::new(componentize_py())
            .arg("-d")
            .arg(&wit)
            .args(["-w", WORLD, "bindings"])
            .arg(&bindings),
        "componentize-py bindings",
    )
    .unwrap();
    let tests = Command::new("python3")
        .args(["-m", "unittest", "discover", "-s"])
        .arg(workspace().join("sdk").join("python"))
        .env("PYTHONPATH", &bindings)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(
        tests.status.success(),
        "{}",
        String::from_utf8_lossy(&tests.stderr)
    );
}

/// The JavaScript helpers' own unit tests (`node --test`).
#[test]
fn javascript_helpers_pass_their_tests() {
    let tests = Command::new("node")
        .arg("--test")
        .arg(workspace().join("sdk").join("js").join("test"))
        .output()
        .unwrap();
    assert!(
        tests.status.success(),
        "{}",
        String::from_utf8_lossy(&tests.stdout)
    );
}
