//! The foundation's promises, through the real binary: an admin installs,
//! calls, upgrades and removes plugins on a running server; bad files change
//! nothing; no plugin can harm the host. Every test runs on SQLite and on
//! PostgreSQL.

use serde_json::{Value, json};
use switchboard_e2e::{
    Backend, Env, MockServer, PROBE_BAD_MANIFEST, PROBE_FUTURE_CONTRACT, PROBE_V1, PROBE_V2, database,
};

switchboard_e2e::on_both_databases!(
    bundled_plugin_installs_on_first_start,
    install_call_upgrade_call_remove_on_a_running_server,
    bad_files_are_refused_and_change_nothing,
    admin_api_requires_a_super_admin,
    infinite_loop_stops_at_deadline_while_host_serves,
    memory_bomb_is_capped_and_host_recovers,
    panic_is_contained,
    egress_is_denied_until_an_admin_grants_the_origin,
    restart_loads_compiled_plugins_from_cache,
    remove_is_refused_while_inboxes_use_the_plugin,
    calls_in_flight_finish_on_the_version_they_started_on,
    admin_commands_work_without_a_server_and_removal_of_a_bundled_plugin_sticks,
    wasi_grants_nothing,
    per_call_request_cap,
);

/// Several server processes on one PostgreSQL database: a change made through
/// one node reaches the others without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_share_plugins() {
    let env = Env::new(Backend::Postgres).await.unwrap();
    let token = env.super_admin_token();
    let (a, b) = (env.serve().await.unwrap(), env.serve().await.unwrap());
    let installed = a
        .post_bytes(
            "/api/v1/admin/plugins",
            Some(&token),
            std::fs::read(PROBE_V1).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(installed.status, 201, "{:?}", installed.json);
    b.eventually("node b loading probe", 100, || async {
        Ok(text_of(&b.dry_run("probe", &token, "text:b").await?.json) == Some("b"))
    })
    .await
    .unwrap();
    let upgraded = b
        .post_bytes(
            "/api/v1/admin/plugins/probe/upgrade",
            Some(&token),
            std::fs::read(PROBE_V2).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(upgraded.status, 200, "{:?}", upgraded.json);
    a.eventually("node a running v2", 100, || async {
        Ok(text_of(&a.dry_run("probe", &token, "text:a").await?.json) == Some("v2:a"))
    })
    .await
    .unwrap();
}

fn text_of(answer: &Value) -> Option<&str> {
    answer["events"][0]["event"]["text"].as_str()
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a list")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect()
}

async fn bundled_plugin_installs_on_first_start(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let server = env.serve().await?;
    let health = server.get("/health", None).await?;
    assert_eq!(health.status, 200);
    assert_eq!(health.json["plugins"], json!(["api-channel", "tiktok"]));
    let listed = env.cli_json(&["plugin", "list", "--json"]);
    assert_eq!(ids(&listed), ["api-channel", "tiktok"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["bundled"] == json!(true))
    );
    assert_eq!(listed[1]["manifest"]["limits"]["max_text_chars"], json!(6000));
    Ok(())
}

async fn install_call_upgrade_call_remove_on_a_running_server(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let token = env.super_admin_token();
    let server = env.serve().await?;

    // Install with the CLI while the server runs; the server picks it up.
    let installed = env.cli_json(&["plugin", "install", PROBE_V1, "--json"]);
    assert_eq!(installed["version"], "1.0.0");
    server
        .eventually("the server loading probe", 100, || async {
            Ok(server.get("/health", None).await?.json["plugins"]
                == json!(["api-channel", "probe", "tiktok"]))
        })
        .await?;
    let call = server.dry_run("probe", &token, "text:hello").await?;
    assert_eq!(call.status, 200, "{:?}", call.json);
    assert_eq!(call.json["verification"]["outcome"], "accepted");
    assert_eq!(text_of(&call.json), Some("hello"));

    // Upgrade through the API: the answer comes after the new version is live.
    let upgraded = server
        .post_bytes(
            "/api/v1/admin/plugins/probe/upgrade",
            Some(&token),
            std::fs::read(PROBE_V2)?,
        )
        .await?;
    assert_eq!(upgraded.status, 200, "{:?}", upgraded.json);
    assert_eq!(upgraded.json["version"], "2.0.0");
    assert_eq!(upgraded.json["loaded"], true);
    assert_eq!(
        text_of(&server.dry_run("probe", &token, "text:hello").await?.json),
        Some("v2:hello")
    );

    // A downgrade needs saying so.
    let down = env.cli(&["plugin", "upgrade", PROBE_V1]);
    assert_eq!(down.code, 1);
    assert!(
        down.stderr.contains("older than the installed 2.0.0"),
        "{}",
        down.stderr
    );
    assert_eq!(
        env.cli(&["plugin", "upgrade", PROBE_V1, "--allow-downgrade"])
            .code,
        0
    );
    server
        .eventually("the server running 1.0.0 again", 100, || async {
            Ok(text_of(&server.dry_run("probe", &token, "text:x").await?.json) == Some("x"))
        })
        .await?;

    // Disable and enable from the CLI.
    assert_eq!(env.cli(&["plugin", "disable", "probe"]).code, 0);
    server
        .eventually("probe being unloaded", 100, || async {
            Ok(server.dry_run("probe", &token, "text:x").await?.status == 409)
        })
        .await?;
    let show = env.cli_json(&["plugin", "show", "probe", "--json"]);
    assert_eq!(show["enabled"], false);
    assert_eq!(env.cli(&["plugin", "enable", "probe"]).code, 0);
    server
        .eventually("probe being loaded again", 100, || async {
            Ok(server.dry_run("probe", &token, "text:x").await?.status == 200)
        })
        .await?;

    // Remove through the API; its bytes go too.
    let removed = server
        .delete("/api/v1/admin/plugins/probe", Some(&token), None)
        .await?;
    assert_eq!(removed.status, 204);
    assert_eq!(
        server.get("/health", None).await?.json["plugins"],
        json!(["api-channel", "tiktok"])
    );
    assert_eq!(server.dry_run("probe", &token, "text:x").await?.status, 409);
    let db = database(&env).await?;
    let blobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM plugin_blobs")
        .fetch_one(&db)
        .await?;
    assert_eq!(blobs, 2, "only the bundled plugins' bytes remain");
    let again = env.cli(&["plugin", "remove", "probe"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("not installed"), "{}", again.stderr);
    Ok(())
}

async fn bad_files_are_refused_and_change_nothing(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let token = env.super_admin_token();
    let server = env.serve().await?;
    let db = database(&env).await?;
    let count = |table: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&db)
                .await
        }
    };
    let (plugins_before, blobs_before) = (count("plugins").await?, count("plugin_blobs").await?);

    let cases: [(&str, Vec<u8>, &str); 6] = [
        (
            "random bytes",
            b"this is not wasm at all".to_vec(),
            "not a WebAssembly file",
        ),
        (
            "core module",
            b"\0asm\x01\0\0\0".to_vec(),
            "core WebAssembly module, not a component",
        ),
        (
            "empty component",
            b"\0asm\x0d\0\x01\0".to_vec(),
            "does not export the interface switchboard:channel/channel",
        ),
        (
            "truncated component",
            std::fs::read(PROBE_V1)?[..4000].to_vec(),
            "does not compile",
        ),
        (
            "invalid manifest",
            std::fs::read(PROBE_BAD_MANIFEST)?,
            "manifest: id \"Probe!\" must be",
        ),
        (
            "unsupported contract",
            std::fs::read(PROBE_FUTURE_CONTRACT)?,
            "built for contract 0.9.0; this host supports 0.1.x",
        ),
    ];
    for (what, bytes, expected) in cases {
        let answer = server
            .post_bytes("/api/v1/admin/plugins", Some(&token), bytes.clone())
            .await?;
        assert_eq!(answer.status, 422, "{what}: {:?}", answer.json);
        let error = answer.json["error"].as_str().unwrap_or_default();
        assert!(error.contains(expected), "{what}: {error}");

        let file = env.data.path().join("bad.wasm");
        std::fs::write(&file, &bytes)?;
        let cli = env.cli(&["plugin", "install", file.to_str().unwrap()]);
        assert_eq!(cli.code, 1, "{what}: {}", cli.stderr);
        assert!(cli.stderr.contains(expected), "{what}: {}", cli.stderr);
    }
    let empty = server
        .post_bytes("/api/v1/admin/plugins", Some(&token), vec![])
        .await?;
    assert_eq!(empty.status, 400);
    let missing = env.cli(&["plugin", "install", "/nonexistent.wasm"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("cannot read /nonexistent.wasm"),
        "{}",
        missing.stderr
    );

    // Installing the same plugin twice is refused too.
    assert_eq!(env.cli(&["plugin", "install", PROBE_V1]).code, 0);
    let twice = server
        .post_bytes("/api/v1/admin/plugins", Some(&token), std::fs::read(PROBE_V1)?)
        .await?;
    assert_eq!(twice.status, 409);
    assert!(
        twice.json["error"]
            .as_str()
            .unwrap()
            .contains("already installed"),
        "{:?}",
        twice.json
    );
    assert_eq!(count("plugins").await?, plugins_before + 1);
    assert_eq!(count("plugin_blobs").await?, blobs_before + 1);
    Ok(())
}

async fn admin_api_requires_a_super_admin(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let agent = env.cli_json(&["user", "create", "--email", "agent@example.com", "--json"]);
    let agent_token = agent["access_token"].as_str().unwrap().to_owned();
    let server = env.serve().await?;
    let anonymous = server.get("/api/v1/admin/plugins", None).await?;
    assert_eq!(
        (anonymous.status, anonymous.json["error"].as_str()),
        (401, Some("Invalid Access Token"))
    );
    assert_eq!(
        server.get("/api/v1/admin/plugins", Some("wrong")).await?.status,
        401
    );
    let forbidden = server
        .post_bytes(
            "/api/v1/admin/plugins",
            Some(&agent_token),
            std::fs::read(PROBE_V1)?,
        )
        .await?;
    assert_eq!(forbidden.status, 403);
    let plugins = env.cli_json(&["plugin", "list", "--json"]);
    assert_eq!(
        ids(&plugins),
        ["api-channel", "tiktok"],
        "a refused install stores nothing"
    );
    let token = env.super_admin_token();
    assert_eq!(
        server.get("/api/v1/admin/plugins", Some(&token)).await?.status,
        200
    );
    assert_eq!(
        server
            .get("/api/v1/admin/plugins/nope", Some(&token))
            .await?
            .status,
        404
    );
    let malformed = server
        .post_json(
            "/api/v1/admin/plugins/tiktok/hosts",
            Some(&token),
            &json!({"x": 1}),
        )
        .await?;
    assert_eq!(malformed.status, 400);
    let bad_origin = server
        .post_json(
            "/api/v1/admin/plugins/tiktok/hosts",
            Some(&token),
            &json!({"origin": "ftp://x"}),
        )
        .await?;
    assert_eq!(bad_origin.status, 400);
    Ok(())
}

/// Installs the probe through the CLI and waits until the server runs it.
async fn with_probe(env: &Env, server: &switchboard_e2e::Server, token: &str) -> anyhow::Result<()> {
    assert_eq!(env.cli(&["plugin", "install", PROBE_V1]).code, 0);
    server
        .eventually("probe loaded", 100, || async {
            Ok(server.dry_run("probe", token, "text:x").await?.status == 200)
        })
        .await
}

async fn infinite_loop_stops_at_deadline_while_host_serves(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let token = env.super_admin_token();
    let server = env.serve().await?;
    with_probe(&env, &server, &token).await?;
    let limits = server
        .send_patch(
            "/api/v1/admin/plugins/probe/limits",
            &token,
            &json!({ "timeout_ms": 10000 }),
        )
        .await?;
    assert_eq!(limits.json["timeout_ms"], 10000);

    let server = std::sync::Arc::new(server);
    let looping = tokio::spawn({
        let (server, token) = (server.clone(), token.clone());
        async move { server.dry_run("probe", &token, "loop").await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // While the loop spins, the host and the same plugin keep answering.
    for _ in 0..5 {
        assert_eq!(server.get("/health", None).await?.status, 200);
        assert_eq!(
            text_of(&server.dry_run("probe", &token, "text:still here").await?.json),
            Some("still here")
        );
    }
    assert!(
        !looping.is_finished(),
        "the loop must still be running when the other calls were answered"
    );
    let answer = looping.await??;
    assert_eq!(answer.status, 504, "{:?}", answer.json);
    assert!(
        answer.json["error"]
            .as_str()
            .unwrap()
            .contains("timed out after 10000ms"),
        "{:?}",
        answer.json
    );
    assert_eq!(
        text_of(&server.dry_run("probe", &token, "text:after").await?.json),
        Some("after")
    );
    Ok(())
}

async fn memory_bomb_is_capped_and_host_recovers(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let token = env.super_admin_token();
    let server = env.serve().await?;
    with_probe(&env, &server, &token).await?;
    let limits = env.cli_json(&["plugin", "limits", "probe", "--memory-mib", "16", "--json"]);
    assert_eq!(limits["memory_limit_bytes"], 16 << 20);
    server
        .eventually("the new limit applied", 100, || async {
            let answer = server.dry_run("probe", &token, "alloc").await?;
            Ok(answer.status == 502
                && answer.json["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("memory limit of 16777216 bytes"))
        })
        .await?;
    assert_eq!(
        text_of(&server.dry_run("probe", &token, "text:ok").await?.json),
        Some("ok")
    );
    assert_eq!(server.get("/health", None).await?.status, 200);
    Ok(())
}

async fn panic_is_contained(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let token = env.super_admin_token();
    let server = env.serve().await?;
    with_probe(&env, &server, &token).await?;
    let answer = server.dry_run("probe", &token, "panic").await?;
    assert_eq!(answer.status, 502, "{:?}", answer.json);
    assert!(
        answer.json["error"]
            .as_str()
            .unwrap()
            .contains("plugin probe crashed"),
        "{:?}",
        answer.json
    );
    assert_eq!(
        text_of(&server.dry_run("probe", &token, "text:ok").await?.json),
        Some("ok")
    );
    Ok(())
}

async fn egress_is_denied_until_an_admin_grants_the_origin(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let token = env.super_admin_token();
    let server = env.serve().await?;
    with_probe(&env, &server, &token).await?;
    let mock = MockServer::start().await?;
    let fetch = format!("fetch:{}/anything", mock.origin);
    let error_of =
        |answer: &switchboard_e2e::Answer| answer.json["error"].as_str().unwrap_or_default().to_owned();

    let denied = server.dry_run("probe", &token, &fetch).await?;
    assert_eq!(denied.status, 422, "{:?}", denied.json);
    assert!(error_of(&denied).contains("Denied"), "{:?}", denied.json);
    assert!(
        error_of(&denied).contains("not an origin this plugin declared or was granted"),
        "{:?}",
        denied.json
    );
    assert_eq!(mock.hits(), 0, "a denied request never leaves the host");

    // The probe declares http://127.0.0.1 and http://localhost: a manifest
    // alone never opens loopback addresses, by literal or by name.
    let literal = server.dry_run("probe", &token, "fetch:http://127.0.0.1/").await?;
    assert!(
        error_of(&literal).contains("127.0.0.1 is a private or loopback address"),
        "{:?}",
        literal.json
    );
    let named = server.dry_run("probe", &token, "fetch:http://localhost/").await?;
    assert!(
        error_of(&named).contains("localhost resolves only to private or loopback"),
        "{:?}",
        named.json
    );

    let granted = env.cli_json(&["plugin", "grant-host", "probe", &mock.origin, "--json"]);
    assert_eq!(granted["granted_hosts"], json!([mock.origin]));
    server
        .eventually("the grant applied", 100, || async {
            Ok(text_of(&server.dry_run("probe", &token, &fetch).await?.json) == Some("status 200"))
        })
        .await?;
    assert_eq!(mock.hits(), 1);

    // The grant names one origin: another port on the same address stays closed.
    let port: u16 = mock.origin.rsplit(':').next().unwrap().parse()?;
    let other = format!("fetch:http://127.0.0.1:{}/", port.wrapping_add(1).max(1));
    let other = server.dry_run("probe", &token, &other).await?;
    assert!(
        error_of(&other).contains("not an origin this plugin declared or was granted"),
        "{:?}",
        other.json
    );

    let revoked = server
        .delete(
            "/api/v1/admin/plugins/probe/hosts",
            Some(&token),
            Some(&json!({ "origin": mock.origin })),
        )
        .await?;
    assert_eq!(revoked.status, 200, "{:?}", revoked.json);
    assert_eq!(revoked.json["granted_hosts"], json!([]));
    let again = server.dry_run("probe", &token, &fetch).await?;
    assert!(error_of(&again).contains("Denied"), "{:?}", again.json);
    assert_eq!(mock.hits(), 1);
    let unknown = env.cli(&["plugin", "revoke-host", "probe", &mock.origin]);
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("has no grant for"), "{}", unknown.stderr);
    Ok(())
}

async fn per_call_request_cap(backend: Backend) -> anyhow::Result<()> {
    let mut env = Env::new(backend).await?;
    env.vars
        .push(("SWITCHBOARD_PLUGIN_MAX_REQUESTS".into(), "3".into()));
    let token = env.super_admin_token();
    let server = env.serve().await?;
    with_probe(&env, &server, &token).await?;
    let mock = MockServer::start().await?;
    assert_eq!(env.cli(&["plugin", "grant-host", "probe", &mock.origin]).code, 0);
    let three = format!("fetchn:3:{}/", mock.origin);
    server
        .eventually("the grant applied", 100, || async {
            Ok(text_of(&server.dry_run("probe", &token, &three).await?.json) == Some("3 requests"))
        })
        .await?;
    let before = mock.hits();
    let four = server
        .dry_run("probe", &token, &format!("fetchn:4:{}/", mock.origin))
        .await?;
    assert_eq!(four.status, 422, "{:?}", four.json);
    assert!(
        four.json["error"]
            .as_str()
            .unwrap()
            .contains("request 4: ErrorCode::LimitExceeded: at most 3 requests per call"),
        "{:?}",
        four.json
    );
    assert_eq!(mock.hits() - before, 3, "the fourth request never left the host");
    Ok(())
}

async fn wasi_grants_nothing(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let token = env.super_admin_token();
    let server = env.serve().await?;
    with_probe(&env, &server, &token).await?;
    let answer = server.dry_run("probe", &token, "wasi").await?;
    let text = text_of(&answer.json).unwrap_or_default();
    assert!(
        text.starts_with("env=0 fs=Err("),
        "no environment, no filesystem: {text}"
    );
    assert!(text.contains("socket=Err("), "no sockets: {text}");
    Ok(())
}

async fn admin_commands_work_without_a_server_and_removal_of_a_bundled_plugin_sticks(
    backend: Backend,
) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let token = env.super_admin_token();
    // No server yet: the CLI migrates and writes the database itself.
    assert_eq!(env.cli(&["plugin", "install", PROBE_V1]).code, 0);
    let listed = env.cli_json(&["plugin", "list", "--json"]);
    assert_eq!(ids(&listed), ["probe"]);
    assert_eq!(
        listed[0]["loaded"],
        Value::Null,
        "outside a server, `loaded` is unknown"
    );

    let server = env.serve().await?;
    assert_eq!(
        server.get("/health", None).await?.json["plugins"],
        json!(["api-channel", "probe", "tiktok"])
    );
    let removed = env.cli(&["plugin", "remove", "tiktok"]);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert!(server.stop().success());

    let server = env.serve().await?;
    assert_eq!(
        server.get("/health", None).await?.json["plugins"],
        json!(["api-channel", "probe"]),
        "a bundled plugin an admin removed is not reinstalled"
    );
    assert_eq!(server.dry_run("probe", &token, "text:x").await?.status, 200);
    Ok(())
}

async fn restart_loads_compiled_plugins_from_cache(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let token = env.super_admin_token();
    let server = env.serve().await?;
    with_probe(&env, &server, &token).await?;
    assert!(server.stop().success(), "SIGTERM stops the server cleanly");
    let cached = std::fs::read_dir(env.data.path().join("cache"))?
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        })
        .count();
    assert!(
        cached >= 2,
        "compiled tiktok and probe are cached, found {cached}"
    );
    let server = env.serve().await?;
    assert_eq!(
        text_of(&server.dry_run("probe", &token, "text:back").await?.json),
        Some("back")
    );
    let log = server.log();
    assert!(
        log.contains("plugin=probe") && log.contains("from_cache=true"),
        "{log}"
    );
    assert!(!log.contains("from_cache=false"), "{log}");
    Ok(())
}

async fn remove_is_refused_while_inboxes_use_the_plugin(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let token = env.super_admin_token();
    let server = env.serve().await?;
    with_probe(&env, &server, &token).await?;
    let db = database(&env).await?;
    sqlx::query("INSERT INTO accounts (name, created_at) VALUES ('Acme', 0)")
        .execute(&db)
        .await?;
    sqlx::query(
        "INSERT INTO inboxes (account_id, name, channel, created_at) VALUES (1, 'Probe inbox', 'probe', 0)",
    )
    .execute(&db)
    .await?;
    let refused = env.cli(&["plugin", "remove", "probe"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("used by 1 inbox(es)"),
        "{}",
        refused.stderr
    );
    let refused = server
        .delete("/api/v1/admin/plugins/probe", Some(&token), None)
        .await?;
    assert_eq!(refused.status, 409);
    assert_eq!(server.dry_run("probe", &token, "text:still").await?.status, 200);
    let forced = server
        .delete("/api/v1/admin/plugins/probe?force=true", Some(&token), None)
        .await?;
    assert_eq!(forced.status, 204);
    Ok(())
}

async fn calls_in_flight_finish_on_the_version_they_started_on(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let token = env.super_admin_token();
    let server = std::sync::Arc::new(env.serve().await?);
    with_probe(&env, &server, &token).await?;
    let mock = MockServer::start().await?;
    let granted = server
        .post_json(
            "/api/v1/admin/plugins/probe/hosts",
            Some(&token),
            &json!({ "origin": mock.origin }),
        )
        .await?;
    assert_eq!(granted.status, 200, "{:?}", granted.json);
    // The held call must not hit its deadline while the test upgrades.
    let limits = server
        .send_patch(
            "/api/v1/admin/plugins/probe/limits",
            &token,
            &json!({ "timeout_ms": 60000 }),
        )
        .await?;
    assert_eq!(limits.status, 200, "{:?}", limits.json);

    let slow = format!("fetch:{}/slow", mock.origin);
    let in_flight = tokio::spawn({
        let (server, token) = (server.clone(), token.clone());
        async move { server.dry_run("probe", &token, &slow).await }
    });
    server
        .eventually("the slow request reaching the mock", 100, || async {
            Ok(mock.hits() == 1)
        })
        .await?;
    let upgraded = server
        .post_bytes(
            "/api/v1/admin/plugins/probe/upgrade",
            Some(&token),
            std::fs::read(PROBE_V2)?,
        )
        .await?;
    assert_eq!(upgraded.status, 200, "{:?}", upgraded.json);
    assert!(
        !in_flight.is_finished(),
        "the upgrade must land while the old call is still running"
    );
    assert_eq!(
        text_of(&server.dry_run("probe", &token, "text:new").await?.json),
        Some("v2:new")
    );
    mock.release_slow();
    let old = in_flight.await??;
    assert_eq!(
        text_of(&old.json),
        Some("status 200"),
        "the call that started on 1.0.0 ends on 1.0.0"
    );
    Ok(())
}
