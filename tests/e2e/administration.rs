//! Server administration (super admins, by API and CLI) and secrets at rest,
//! on SQLite and PostgreSQL.

use serde_json::json;
use switchboard_e2e::{Backend, Env, PROBE_V1, database};

switchboard_e2e::on_both_databases!(
    super_admins_bootstrap_accounts_and_users,
    secrets_are_sealed_reach_the_plugin_and_rotate
);

const NEW_KEY: &str = "HxwdHhkaGxwVFhcYERITFA0ODxAJCgsMBQYHCAECAwQ=";

async fn super_admins_bootstrap_accounts_and_users(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let root = env.super_admin_token();
    let server = env.serve().await?;
    let account = server
        .post_json(
            "/api/v1/admin/accounts",
            Some(&root),
            &json!({ "name": "Initech" }),
        )
        .await?;
    assert_eq!(account.status, 200, "{:?}", account.json);
    let account_id = account.json["id"].as_i64().unwrap();
    let user = server
        .post_json(
            "/api/v1/admin/users",
            Some(&root),
            &json!({ "email": "peter@initech.example", "account_id": account_id, "role": "administrator" }),
        )
        .await?;
    assert_eq!(user.status, 200, "{:?}", user.json);
    let token = user.json["access_token"].as_str().unwrap().to_owned();
    let profile = server.get("/api/v1/profile", Some(&token)).await?;
    assert_eq!(profile.json["accounts"][0]["role"], "administrator");

    let flags = server
        .post_json(
            &format!("/api/v1/admin/accounts/{account_id}/features"),
            Some(&root),
            &json!({ "flag": "channel_tiktok" }),
        )
        .await?;
    assert_eq!(flags.json["features"], json!(["channel_tiktok"]));
    let shown = server
        .get(&format!("/api/v1/accounts/{account_id}"), Some(&token))
        .await?;
    assert_eq!(shown.json["features"], json!({ "channel_tiktok": true }));

    // Another token for the same user, by API and by CLI.
    let user_id = user.json["id"].as_i64().unwrap();
    let second = server
        .post_json(
            &format!("/api/v1/admin/users/{user_id}/tokens"),
            Some(&root),
            &json!({}),
        )
        .await?;
    let second = second.json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        server.get("/api/v1/profile", Some(&second)).await?.json["id"],
        user_id
    );
    let third = env.cli_json(&["user", "token", "--email", "peter@initech.example", "--json"]);
    let third = third["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        server.get("/api/v1/profile", Some(&third)).await?.json["id"],
        user_id
    );
    assert_eq!(
        server
            .post_json("/api/v1/admin/users/999/tokens", Some(&root), &json!({}))
            .await?
            .status,
        404
    );
    assert_eq!(env.cli(&["user", "token", "--email", "nobody@x.y"]).code, 1);

    // Only super admins; bad input is refused with nothing written.
    assert_eq!(
        server
            .post_json("/api/v1/admin/accounts", Some(&token), &json!({ "name": "x" }))
            .await?
            .status,
        403
    );
    assert_eq!(
        server
            .post_json("/api/v1/admin/accounts", Some(&root), &json!({ "name": " " }))
            .await?
            .status,
        422
    );
    let duplicate = server
        .post_json(
            "/api/v1/admin/users",
            Some(&root),
            &json!({ "email": "peter@initech.example" }),
        )
        .await?;
    assert_eq!(duplicate.status, 422);
    let bad_role = server
        .post_json(
            "/api/v1/admin/users",
            Some(&root),
            &json!({ "email": "x@y.z", "account_id": account_id, "role": "boss" }),
        )
        .await?;
    assert_eq!(bad_role.status, 422);
    let no_account = server
        .post_json(
            "/api/v1/admin/users",
            Some(&root),
            &json!({ "email": "x@y.z", "account_id": 999 }),
        )
        .await?;
    assert_eq!(no_account.status, 404);
    let db = database(&env).await?;
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&db)
        .await?;
    assert_eq!(users, 2, "refused requests created no user");

    // The CLI does the same without a server.
    let cli = env.cli(&[
        "feature",
        "enable",
        "--account",
        &account_id.to_string(),
        "Bad Flag",
    ]);
    assert_eq!(cli.code, 2);
    assert!(cli.stderr.contains("must be lower case"), "{}", cli.stderr);
    Ok(())
}

async fn secrets_are_sealed_reach_the_plugin_and_rotate(backend: Backend) -> anyhow::Result<()> {
    let mut env = Env::new(backend).await?;
    let root = env.super_admin_token();
    assert_eq!(env.cli(&["plugin", "install", PROBE_V1]).code, 0);
    let server = env.serve().await?;
    let dry_run = |signature: &'static str| {
        let request = json!({
            "method": "POST", "path": "/webhooks/probe", "query": "",
            "headers": [["x-probe-signature", signature]], "body": "dGV4dDpoaQ==",
        });
        let (server, root) = (&server, root.clone());
        async move {
            server
                .post_json(
                    "/api/v1/admin/plugins/probe/dry-run/webhook",
                    Some(&root),
                    &request,
                )
                .await
        }
    };
    assert_eq!(
        dry_run("ok").await?.json["verification"]["outcome"],
        "accepted",
        "the manifest default"
    );

    // PROBE_SIGNATURE is declared secret by the probe's manifest.
    let set = server
        .call(
            "PUT",
            "/api/v1/admin/config/PROBE_SIGNATURE",
            Some(&root),
            Some(&json!({ "value": "s3cret-value" })),
        )
        .await?;
    assert_eq!(set.status, 200, "{:?}", set.json);
    assert_eq!(
        set.json,
        json!({ "key": "PROBE_SIGNATURE", "value": null, "secret": true })
    );
    assert_eq!(dry_run("ok").await?.json["verification"]["outcome"], "rejected");
    assert_eq!(
        dry_run("s3cret-value").await?.json["verification"]["outcome"],
        "accepted"
    );
    let plain = server
        .call(
            "PUT",
            "/api/v1/admin/config/FRONTEND_URL",
            Some(&root),
            Some(&json!({ "value": "https://desk.example" })),
        )
        .await?;
    assert_eq!(plain.json["value"], "https://desk.example");
    let listed = server.get("/api/v1/admin/config", Some(&root)).await?;
    assert_eq!(
        listed.json[1],
        json!({ "key": "PROBE_SIGNATURE", "value": null, "secret": true })
    );
    let bad = server
        .call(
            "PUT",
            "/api/v1/admin/config/lower",
            Some(&root),
            Some(&json!({ "value": "x" })),
        )
        .await?;
    assert_eq!(bad.status, 422);

    // No plaintext in the database.
    let db = database(&env).await?;
    let stored: String =
        sqlx::query_scalar("SELECT value FROM installation_config WHERE key = 'PROBE_SIGNATURE'")
            .fetch_one(&db)
            .await?;
    assert!(
        stored.starts_with("enc:v1:") && !stored.contains("s3cret"),
        "{stored}"
    );
    assert!(server.stop().success());

    // Rotate to a new key: the old one is retired, the value re-sealed, and a
    // server that knows only the new key still uses the secret.
    let old_key = match backend {
        Backend::Postgres => switchboard_e2e::TEST_SECRET_KEY.to_owned(),
        Backend::Sqlite => std::fs::read_to_string(env.data.path().join("secret.key"))?,
    };
    env.vars.retain(|(k, _)| k != "SWITCHBOARD_SECRET_KEY");
    env.vars.push(("SWITCHBOARD_SECRET_KEY".into(), NEW_KEY.into()));
    env.vars.push(("SWITCHBOARD_SECRET_KEYS_RETIRED".into(), old_key));
    let rotated = env.cli_json(&["secrets", "rotate", "--json"]);
    assert_eq!(rotated["resealed"], 1);
    let resealed: String =
        sqlx::query_scalar("SELECT value FROM installation_config WHERE key = 'PROBE_SIGNATURE'")
            .fetch_one(&db)
            .await?;
    assert_ne!(resealed, stored);
    assert_eq!(
        env.cli_json(&["secrets", "rotate", "--json"])["resealed"],
        0,
        "nothing left to rotate"
    );
    env.vars.retain(|(k, _)| k != "SWITCHBOARD_SECRET_KEYS_RETIRED");
    let server = env.serve().await?;
    let request = json!({
        "method": "POST", "path": "/webhooks/probe", "query": "",
        "headers": [["x-probe-signature", "s3cret-value"]], "body": "dGV4dDpoaQ==",
    });
    let answer = server
        .post_json(
            "/api/v1/admin/plugins/probe/dry-run/webhook",
            Some(&root),
            &request,
        )
        .await?;
    assert_eq!(
        answer.json["verification"]["outcome"], "accepted",
        "{:?}",
        answer.json
    );
    Ok(())
}
