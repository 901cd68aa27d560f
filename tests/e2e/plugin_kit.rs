//! The plugin author's kit through the real binary, following the guide in
//! `sdk/README.md` ("Write a channel in 15 minutes") step by step:
//! `plugin new` scaffolds a crate, `plugin build` builds it, `plugin test`
//! passes out of the box and fails with a readable diff (exit 1) on a broken
//! fixture, and the built plugin, installed on a running server, answers a
//! signed webhook, routes it to an inbox and delivers an agent's reply to a
//! provider on loopback with the API token and the user's id, exactly as the
//! kit's fixtures said it would. Each command the test runs is checked to be
//! written in the guide, so the two change together. A scaffold made to
//! panic shows its panic message and location in the kit, the event log
//! and the admin API (the event's reason, the plugin's last fault, a dry
//! run's answer).
//!
//! Building the scaffold compiles a wasm crate. It is built once per run,
//! offline (the crates come from the local cargo registry, as for the
//! workspace; set CARGO_NET_OFFLINE=false to allow downloads), into
//! `target/kit`, which is kept between runs: only the first run compiles the
//! dependencies. The guide uses the default SQLite database, and so does this
//! suite.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use switchboard_e2e::{Backend, CliOutput, Env, RecordingProvider, Server};

/// The guide, as the test was built.
const GUIDE: &str = include_str!("../../sdk/README.md");

/// The guide's webhook, the same as the scaffold's `text-message` fixture.
const BODY: &str = r#"{"type":"message","account_id":"acct-1","message":{"id":"m-1","conversation_id":"c-1","from":{"id":"u-1","name":"Ada Lovelace"},"text":"Hello!","sent_at_ms":1767225600000}}"#;
/// The guide's inbox.
const INBOX: &str = r#"{"name": "Acme Chat", "channel": {"type": "acme-chat", "external_id": "acct-1"}}"#;
/// The component's path in the guide (the test builds into `target/kit`).
const GUIDE_WASM: &str = "target/wasm32-wasip2/release/switchboard_plugin_acme_chat.wasm";

/// Fails unless the guide shows `text` as written.
fn in_guide(text: &str) {
    assert!(
        GUIDE.contains(text),
        "the guide in sdk/README.md no longer shows `{text}`: change the guide and tests/e2e/plugin_kit.rs together"
    );
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// Runs `switchboard ARGS` in `dir` as a plugin author would, with builds
/// going to the shared `target/kit`. `data` is a data folder the author's
/// commands must never create (they touch no database).
fn author(dir: &Path, data: &Path, args: &[&str], vars: &[(&str, &str)]) -> CliOutput {
    let mut command = Command::new(switchboard_e2e::binary());
    command
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .env("SWITCHBOARD_DATA_DIR", data)
        .env("CARGO_TARGET_DIR", workspace().join("target").join("kit"))
        .env_remove("CLICOLOR_FORCE")
        .env_remove("NO_COLOR")
        // The outer cargo's settings are not the plugin crate's.
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    if std::env::var_os("CARGO_NET_OFFLINE").is_none() {
        command.env("CARGO_NET_OFFLINE", "true");
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    let out = CliOutput::from(command.output().expect("run switchboard"));
    assert!(!data.exists(), "switchboard {args:?} created a data folder");
    out
}

#[test]
fn new_refuses_bad_names_and_taken_folders() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let new = |args: &[&str]| {
        let mut all = vec!["plugin", "new"];
        all.extend_from_slice(args);
        author(root.path(), &data, &all, &[])
    };
    for (name, reason) in [
        (
            "Acme",
            "must be 1-32 characters of a-z, 0-9 and '-', starting with a letter",
        ),
        ("9chat", "starting with a letter"),
        ("webhooks", "reserved by the host"),
        (
            "pgchat",
            "$PGCHAT_WEBHOOK_SECRET, in the host's reserved PG* namespace",
        ),
    ] {
        let out = new(&[name]);
        assert_eq!(out.code, 1, "{name}: {out:?}");
        assert!(out.stderr.contains(reason), "{name}: {}", out.stderr);
        assert!(!root.path().join(name).exists(), "nothing is written for {name}");
    }

    std::fs::create_dir(root.path().join("taken")).unwrap();
    std::fs::write(root.path().join("taken/notes.txt"), "mine").unwrap();
    let out = new(&["acme", "--dir", "taken"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("taken already exists"), "{}", out.stderr);
    assert_eq!(std::fs::read_dir(root.path().join("taken")).unwrap().count(), 1);

    let out = new(&["acme", "--sdk", "taken"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("is not the Switchboard SDK"),
        "{}",
        out.stderr
    );

    // A third party points the SDK at the repository instead of a checkout.
    let out = new(&[
        "acme",
        "--dir",
        "from-git",
        "--sdk-git",
        "https://example.com/switchboard.git",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let manifest = std::fs::read_to_string(root.path().join("from-git/Cargo.toml")).unwrap();
    assert!(
        manifest.contains(r#"switchboard-sdk = { git = "https://example.com/switchboard.git" }"#),
        "{manifest}"
    );
    assert!(
        manifest.contains("\n[workspace]\n"),
        "a workspace of its own: {manifest}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_from_scaffold_to_an_answered_webhook() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("author-data");

    // 1. Scaffold.
    in_guide("switchboard plugin new acme-chat");
    in_guide("cd acme-chat");
    let out = author(root.path(), &data, &["plugin", "new", "acme-chat"], &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("created plugin acme-chat"), "{}", out.stdout);
    let crate_dir = root.path().join("acme-chat");
    for file in [
        "Cargo.toml",
        "rust-toolchain.toml",
        "src/lib.rs",
        "fixtures/webhooks/text-message.json",
    ] {
        assert!(crate_dir.join(file).is_file(), "{file} was not written");
    }
    let toolchain = std::fs::read_to_string(crate_dir.join("rust-toolchain.toml")).unwrap();
    assert!(
        toolchain.contains(r#"targets = ["wasm32-wasip2"]"#),
        "{toolchain}"
    );

    // 2. Build and test: green out of the box.
    in_guide("switchboard plugin build");
    let built = author(&crate_dir, &data, &["plugin", "build"], &[]);
    assert_eq!(built.code, 0, "the scaffold does not build:\n{}", built.stderr);
    let wasm = PathBuf::from(built.stdout.trim());
    assert!(wasm.is_file(), "plugin build printed {:?}", built.stdout);
    assert!(wasm.ends_with(Path::new(GUIDE_WASM).file_name().unwrap()));
    let wasm_arg = wasm.to_str().unwrap();

    in_guide(&format!(
        "switchboard plugin test {GUIDE_WASM} --fixtures fixtures"
    ));
    let test = author(
        &crate_dir,
        &data,
        &["plugin", "test", wasm_arg, "--fixtures", "fixtures"],
        &[],
    );
    assert_eq!(
        test.code, 0,
        "the scaffold fails its own kit:\n{}{}",
        test.stdout, test.stderr
    );
    for case in [
        "load",
        "describe/pure",
        "webhook/handshake",
        "webhook/text-message",
        "webhook/unsigned-request",
        "send/rate-limited",
        "send/text-reply",
        "limits/largest-json-body",
        "limits/largest-binary-body",
    ] {
        assert!(
            test.stdout.contains(&format!("✔ {case} ")),
            "no ✔ {case}:\n{}",
            test.stdout
        );
    }
    assert!(test.stdout.contains("9 passed, 0 failed"), "{}", test.stdout);
    assert!(
        !test.stdout.contains('\x1b'),
        "no colours when stdout is not a terminal"
    );

    let report = author(
        &crate_dir,
        &data,
        &["plugin", "test", wasm_arg, "--fixtures", "fixtures", "--json"],
        &[],
    );
    assert_eq!(report.code, 0, "{report:?}");
    let report: Value = serde_json::from_str(&report.stdout).expect("--json prints JSON");
    assert_eq!(
        (report["passed"].as_u64(), report["failed"].as_u64()),
        (Some(9), Some(0))
    );
    assert_eq!(report["plugin"]["id"], "acme-chat");
    assert_eq!(report["plugin"]["contract_version"], "0.2.0");

    // A fixture that no longer matches the plugin fails the run, saying what
    // differs, path by path.
    let broken = root.path().join("broken");
    copy_dir(&crate_dir.join("fixtures"), &broken);
    let fixture = broken.join("webhooks/text-message.json");
    let text = std::fs::read_to_string(&fixture).unwrap();
    assert!(text.contains(r#""text": "Hello!""#));
    std::fs::write(
        &fixture,
        text.replace(r#""text": "Hello!""#, r#""text": "Goodbye!""#),
    )
    .unwrap();
    let failed = author(
        &crate_dir,
        &data,
        &["plugin", "test", wasm_arg, "--fixtures", broken.to_str().unwrap()],
        &[],
    );
    assert_eq!(failed.code, 1, "{failed:?}");
    assert!(
        failed.stdout.contains("✘ webhook/text-message"),
        "{}",
        failed.stdout
    );
    assert!(
        failed
            .stdout
            .contains(r#"events[0].event.text: expected "Goodbye!", got "Hello!""#),
        "{}",
        failed.stdout
    );
    assert!(
        failed.stdout.contains("✔ webhook/unsigned-request"),
        "{}",
        failed.stdout
    );
    assert!(failed.stdout.contains("8 passed, 1 failed"), "{}", failed.stdout);
    let args = ["plugin", "test", wasm_arg, "--fixtures", broken.to_str().unwrap()];
    let coloured = author(&crate_dir, &data, &args, &[("CLICOLOR_FORCE", "1")]);
    assert!(
        coloured.stdout.contains("\x1b[31m"),
        "CLICOLOR_FORCE paints failures red"
    );
    let plain = author(
        &crate_dir,
        &data,
        &args,
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
    );
    assert!(!plain.stdout.contains('\x1b'), "NO_COLOR wins");

    // 4. Install it on a server.
    let env = Env::new(Backend::Sqlite).await.unwrap();
    let server = env.serve().await.unwrap();
    in_guide(&format!("switchboard plugin install {GUIDE_WASM}"));
    let installed = env.cli(&["plugin", "install", wasm_arg]);
    assert_eq!(installed.code, 0, "{installed:?}");
    // What `plugin test` compiled is not compiled again.
    assert!(
        installed
            .stderr
            .contains("reusing the compiled code `switchboard plugin test` cached"),
        "{}",
        installed.stderr
    );
    // `plugin show` names the required settings that have no value yet.
    let shown = env.cli(&["plugin", "show", "acme-chat"]);
    assert!(
        shown
            .stdout
            .contains("missing:        ACME_CHAT_WEBHOOK_SECRET, ACME_CHAT_API_TOKEN (required"),
        "{}",
        shown.stdout
    );
    in_guide("switchboard config set ACME_CHAT_WEBHOOK_SECRET s3cret");
    let set = env.cli(&["config", "set", "ACME_CHAT_WEBHOOK_SECRET", "s3cret"]);
    assert_eq!(set.code, 0, "{set:?}");
    in_guide("switchboard config set ACME_CHAT_API_TOKEN provider-token");
    let set = env.cli(&["config", "set", "ACME_CHAT_API_TOKEN", "provider-token"]);
    assert_eq!(set.code, 0, "{set:?}");
    let shown = env.cli_json(&["plugin", "show", "acme-chat", "--json"]);
    assert_eq!(shown["missing_settings"], serde_json::json!([]), "{shown}");

    // The server's data folder (with secret.key) keeps itself out of git,
    // wherever the server was started.
    let ignore = std::fs::read_to_string(env.data.path().join(".gitignore")).unwrap_or_default();
    assert!(ignore.lines().any(|l| l == "*"), "data/.gitignore: {ignore:?}");
    // A second server on a busy port says how to pick another.
    let addr = server.base.trim_start_matches("http://");
    let busy = env.cli(&["serve", "--addr", addr]);
    assert_ne!(busy.code, 0, "{busy:?}");
    assert!(
        busy.stderr.contains("already in use") && busy.stderr.contains("--addr"),
        "{}",
        busy.stderr
    );

    // 5. Point a webhook at it: signed, it is accepted once the server has
    // loaded the plugin and the secret; unsigned, it is refused.
    in_guide(&format!("BODY='{BODY}'"));
    in_guide(r#"openssl dgst -sha256 -hmac s3cret"#);
    in_guide(r#"-H "x-signature: sha256=$SIG""#);
    in_guide("/webhooks/acme-chat");
    let signature = format!("sha256={}", hmac_hex(b"s3cret", BODY.as_bytes()));
    server
        .eventually("the signed webhook is accepted", 200, || async {
            let answer = server
                .post_webhook(
                    "/webhooks/acme-chat",
                    &[("x-signature", &signature)],
                    BODY.as_bytes().to_vec(),
                )
                .await?;
            Ok(answer.status == 200)
        })
        .await
        .unwrap();
    let unsigned = server
        .post_webhook("/webhooks/acme-chat", &[], BODY.as_bytes().to_vec())
        .await
        .unwrap();
    assert_eq!(unsigned.status, 401, "{:?}", unsigned.json);

    in_guide("switchboard events list --channel acme-chat");
    in_guide("no inbox is connected for acme-chat account acct-1");
    server
        .eventually(
            "the event is in the log, ignored without an inbox",
            200,
            || async {
                let events = env.cli_json(&["events", "list", "--channel", "acme-chat", "--json"]);
                let events = events.as_array().cloned().unwrap_or_default();
                assert!(events.len() <= 1, "one event stored: {events:?}");
                Ok(events.first().is_some_and(|e| {
                    e["status"] == "ignored"
                        && e["reason"]
                            .as_str()
                            .is_some_and(|r| r.contains("no inbox is connected for acme-chat account acct-1"))
                }))
            },
        )
        .await
        .unwrap();

    // 6. Route it to an inbox.
    in_guide("switchboard account create Acme");
    let account = env.cli_json(&["account", "create", "Acme", "--json"])["id"]
        .as_i64()
        .unwrap();
    assert_eq!(account, 1, "the guide's commands name account 1");
    in_guide("switchboard user create --email admin@acme.example --account 1 --role administrator");
    let user = env.cli_json(&[
        "user",
        "create",
        "--email",
        "admin@acme.example",
        "--account",
        "1",
        "--role",
        "administrator",
        "--json",
    ]);
    let token = user["access_token"].as_str().unwrap().to_owned();
    in_guide(INBOX);
    in_guide("http://127.0.0.1:3000/api/v1/accounts/1/inboxes");
    let inbox: Value = serde_json::from_str(INBOX).unwrap();
    let created = server
        .post_json("/api/v1/accounts/1/inboxes", Some(&token), &inbox)
        .await
        .unwrap();
    assert_eq!(created.status, 200, "{:?}", created.json);
    assert_eq!(created.json["external_id"], "acct-1");
    in_guide("switchboard events replay --channel acme-chat");
    let replayed = env.cli(&["events", "replay", "--channel", "acme-chat"]);
    assert_eq!(replayed.code, 0, "{replayed:?}");
    in_guide("/api/v1/accounts/1/conversations?status=all");
    let conversation = server
        .wait_for("Ada's message in a conversation", 200, || async {
            let list = server
                .get("/api/v1/accounts/1/conversations?status=all", Some(&token))
                .await?;
            let conversations = list.json["data"]["payload"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            Ok(conversations.into_iter().next())
        })
        .await
        .unwrap();
    let shown = conversation.to_string();
    assert!(
        shown.contains("Ada Lovelace") && shown.contains("Hello!"),
        "{shown}"
    );
    assert_eq!(conversation["inbox_id"], created.json["id"], "{shown}");

    // 7. Reply, through a provider on loopback.
    let display_id = conversation["id"].as_i64().unwrap();
    in_guide("/api/v1/accounts/1/conversations/1/messages");
    assert_eq!(display_id, 1, "the guide's reply names conversation 1");
    let provider = RecordingProvider::start().await.unwrap();
    let origin = provider.origin.as_str();
    in_guide("switchboard config set ACME_CHAT_API_BASE http://127.0.0.1:9000");
    let set = env.cli(&["config", "set", "ACME_CHAT_API_BASE", origin]);
    assert_eq!(set.code, 0, "{set:?}");
    // Not granted yet: the send fails at once, naming the command that
    // grants the origin (once the server has loaded the new API base).
    let hint = format!("switchboard plugin grant-host acme-chat {origin}");
    server
        .eventually(
            "an ungranted send fails with the grant-host hint",
            200,
            || async {
                let message = reply(&server, &token, display_id, "Too early").await?;
                Ok(message["status"] == "failed"
                    && message["content_attributes"]["external_error"]
                        .as_str()
                        .is_some_and(|e| e.contains(&hint)))
            },
        )
        .await
        .unwrap();
    assert!(
        provider.received().is_empty(),
        "a denied request never leaves the host"
    );
    in_guide("switchboard plugin grant-host acme-chat http://127.0.0.1:9000");
    let granted = env.cli(&["plugin", "grant-host", "acme-chat", origin]);
    assert_eq!(granted.code, 0, "{granted:?}");
    let sent = server
        .wait_for("a reply the provider accepted", 200, || async {
            let message = reply(&server, &token, display_id, "Hi Ada!").await?;
            Ok((message["status"] == "sent").then_some(message))
        })
        .await
        .unwrap();
    let received = provider.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let request = &received[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/messages")
    );
    in_guide("Authorization: Bearer provider-token");
    assert_eq!(request.header("authorization"), Some("Bearer provider-token"));
    in_guide(r#"{"to": "u-1", "text": "Hi Ada!", …}"#);
    let body = request.json();
    assert_eq!(
        (body["to"].as_str(), body["text"].as_str()),
        (Some("u-1"), Some("Hi Ada!")),
        "{body}"
    );
    assert_eq!(
        sent["source_id"], "out-1",
        "the provider's message id is kept: {sent}"
    );
}

/// Posts an agent's reply in conversation `display_id` and waits until its
/// delivery is decided: `sent` with the provider's id, or `failed`.
async fn reply(server: &Server, token: &str, display_id: i64, text: &str) -> anyhow::Result<Value> {
    let path = format!("/api/v1/accounts/1/conversations/{display_id}/messages");
    let posted = server
        .post_json(&path, Some(token), &serde_json::json!({ "content": text }))
        .await?;
    anyhow::ensure!(posted.status == 200, "{:?}", posted.json);
    let id = posted.json["id"].clone();
    server
        .wait_for(&format!("message {id} sent or failed"), 300, || async {
            let messages = server.messages(1, display_id, token).await?;
            Ok(messages.into_iter().find(|m| {
                m["id"] == id
                    && (m["status"] == "failed" || (m["status"] == "sent" && m["source_id"].is_string()))
            }))
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_plugin_says_why_in_the_kit_and_the_event_log() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("author-data");
    let out = author(root.path(), &data, &["plugin", "new", "crashy-chat"], &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let crate_dir = root.path().join("crashy-chat");
    let lib = crate_dir.join("src/lib.rs");
    let code = std::fs::read_to_string(&lib).unwrap();
    let parse = "    fn parse_event(_: Settings, request: IncomingRequest) -> Result<Vec<ChannelEvent>, ChannelError> {\n";
    assert!(
        code.contains(parse),
        "the scaffold's parse_event changed: change this test"
    );
    std::fs::write(
        &lib,
        code.replace(
            parse,
            &format!("{parse}        panic!(\"no parser for {{}} bytes yet\", request.body.len());\n"),
        ),
    )
    .unwrap();
    let built = author(&crate_dir, &data, &["plugin", "build"], &[]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    let wasm = built.stdout.trim().to_owned();
    let panic_line = code[..code.find(parse).unwrap()].lines().count() + 2;
    let location = format!("panicked at src/lib.rs:{panic_line}:9");
    let message = format!("no parser for {} bytes yet", BODY.len());

    let test = author(
        &crate_dir,
        &data,
        &["plugin", "test", &wasm, "--fixtures", "fixtures"],
        &[],
    );
    assert_eq!(test.code, 1, "{}", test.stdout);
    assert!(test.stdout.contains("✘ webhook/text-message"), "{}", test.stdout);
    for said in ["parse-event crashed", &location, &message] {
        assert!(
            test.stdout.contains(said),
            "the kit does not say {said:?}:\n{}",
            test.stdout
        );
    }

    let env = Env::new(Backend::Sqlite).await.unwrap();
    let server = env.serve().await.unwrap();
    assert_eq!(env.cli(&["plugin", "install", &wasm]).code, 0);
    assert_eq!(
        env.cli(&["config", "set", "CRASHY_CHAT_WEBHOOK_SECRET", "s3cret"])
            .code,
        0
    );
    let signature = format!("sha256={}", hmac_hex(b"s3cret", BODY.as_bytes()));
    server
        .eventually("the signed webhook is accepted", 200, || async {
            let answer = server
                .post_webhook(
                    "/webhooks/crashy-chat",
                    &[("x-signature", &signature)],
                    BODY.as_bytes().to_vec(),
                )
                .await?;
            Ok(answer.status == 200)
        })
        .await
        .unwrap();
    server
        .eventually("the event log says why the parse crashed", 200, || async {
            let events = env.cli_json(&["events", "list", "--channel", "crashy-chat", "--json"]);
            Ok(events.as_array().into_iter().flatten().any(|e| {
                e["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains(&message) && r.contains(&location))
            }))
        })
        .await
        .unwrap();
    assert!(server.log().contains(&message), "the server's log says why too");

    // And so does the admin API: the event's reason, the plugin's health
    // (its last fault), and a dry run of the same webhook.
    let root = env.super_admin_token();
    let says_why = |text: &str| text.contains(&message) && text.contains(&location);
    let events = server.get("/api/v1/admin/events", Some(&root)).await.unwrap();
    assert_eq!(events.status, 200, "{:?}", events.json);
    assert!(
        events
            .json
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["reason"].as_str().is_some_and(says_why)),
        "{:?}",
        events.json
    );
    server
        .eventually("the plugin's last fault is the panic", 200, || async {
            let plugin = server
                .get("/api/v1/admin/plugins/crashy-chat", Some(&root))
                .await?;
            Ok(plugin.json["health"] == "unhealthy"
                && plugin.json["last_fault"].as_str().is_some_and(says_why))
        })
        .await
        .unwrap();
    let dry_run = server
        .post_json(
            "/api/v1/admin/plugins/crashy-chat/dry-run/webhook",
            Some(&root),
            &serde_json::json!({
                "method": "POST",
                "path": "/webhooks/crashy-chat",
                "query": "",
                "headers": [["x-signature", signature]],
                "body": base64::engine::general_purpose::STANDARD.encode(BODY),
            }),
        )
        .await
        .unwrap();
    assert_eq!(dry_run.status, 502, "{:?}", dry_run.json);
    assert!(
        dry_run.json["error"].as_str().is_some_and(says_why),
        "{:?}",
        dry_run.json
    );
}

fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
