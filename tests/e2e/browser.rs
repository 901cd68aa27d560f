//! The web dashboard in a real browser: headless Chromium (Debian's
//! `chromium`, driven over WebDriver by `chromedriver`) against the real
//! binary and the mock TikTok, on SQLite and PostgreSQL. `tests/run`
//! installs both and axe-core.
//!
//! One scenario per database keeps the wall time short: signing in (a wrong
//! password refused, repeated failures rate limited), a signed webhook's
//! conversation appearing live, a reply reaching the provider and turning
//! delivered then read, a closed reply window, an agent's 404s, and axe-core
//! on every page. Screenshots go to `target/screenshots/`, and to
//! `docs/screenshots/` with `SWITCHBOARD_UPDATE_SCREENSHOTS=1`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use switchboard_e2e::connected::{BUSINESS, Connected};
use switchboard_e2e::tiktok::{mark_read, received_text};
use switchboard_e2e::{Backend, Server};

switchboard_e2e::on_both_databases!(the_dashboard_in_a_browser);

const PASSWORD: &str = "correct horse battery";

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn browser() -> anyhow::Result<(Driver, Client)> {
    let chromedriver = which("chromedriver")
        .context("chromedriver is not installed (tests/run installs Debian's chromium-driver)")?;
    let port = free_port()?;
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": which("chromium").context("chromium is not installed")?,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,800", "--no-first-run", "--disable-extensions"],
        }),
    );
    let mut last = None;
    // chromedriver takes a moment to listen: retry the session, not a timer.
    for _ in 0..100 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&driver.url)
            .await
        {
            Ok(client) => return Ok((driver, client)),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no WebDriver session: {last:?}")
}

fn which(name: &str) -> Option<String> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| format!("{dir}/{name}"))
        .find(|p| std::path::Path::new(p).is_file())
}

/// Waits (polling, bounded) until `script` returns something truthy in the
/// page; answers it.
async fn until(client: &Client, what: &str, script: &str) -> anyhow::Result<Value> {
    for _ in 0..600 {
        let value = client.execute(script, vec![]).await?;
        if !(value.is_null() || value == json!(false) || value == json!("")) {
            return Ok(value);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = client
        .execute("return document.body.innerText", vec![])
        .await
        .unwrap_or_default();
    bail!("timed out waiting for {what}; page: {text}")
}

/// Runs axe-core on the page; fails on any serious or critical violation.
async fn accessible(client: &Client, page: &str) -> anyhow::Result<()> {
    let axe = axe_source()?;
    client.execute(&axe, vec![]).await?;
    let result = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
                .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                    .map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.html).slice(0, 3) }))))
                .catch(e => done([{ id: 'axe-error', help: String(e) }]));",
            vec![],
        )
        .await?;
    let violations = result.as_array().cloned().unwrap_or_default();
    if !violations.is_empty() {
        bail!("{page}: axe-core reports {violations:#?}");
    }
    Ok(())
}

fn axe_source() -> anyhow::Result<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = std::env::var("SWITCHBOARD_AXE_JS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target/browser/node_modules/axe-core/axe.min.js"));
    std::fs::read_to_string(&path)
        .with_context(|| format!("axe-core not found at {} (tests/run installs it)", path.display()))
}

async fn screenshot(client: &Client, backend: Backend, name: &str) -> anyhow::Result<()> {
    let png = client.screenshot().await?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join(format!("target/screenshots/{backend:?}").to_lowercase());
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("{name}.png")), &png)?;
    if backend == Backend::Sqlite && std::env::var("SWITCHBOARD_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(root.join(format!("docs/screenshots/{name}.png")), &png)?;
    }
    Ok(())
}

async fn sign_in(client: &Client, server: &Server, email: &str, password: &str) -> anyhow::Result<()> {
    client.goto(&format!("{}/app/login", server.base)).await?;
    client.find(Locator::Id("email")).await?.send_keys(email).await?;
    client
        .find(Locator::Id("password"))
        .await?
        .send_keys(password)
        .await?;
    client.execute("window.__form = true", vec![]).await?;
    client
        .find(Locator::Css("form button[type=submit]"))
        .await?
        .click()
        .await?;
    // The answer is a new document: wait for it, so the next navigation
    // does not cancel this post.
    until(
        client,
        "the sign-in answer",
        "return window.__form === undefined && document.readyState === 'complete'",
    )
    .await?;
    Ok(())
}

async fn status_of(server: &Server, path: &str, cookie: &str) -> anyhow::Result<u16> {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .get(format!("{}{path}", server.base))
        .header("cookie", format!("sb_session={cookie}"))
        .send()
        .await?;
    Ok(response.status().as_u16())
}

async fn the_dashboard_in_a_browser(backend: Backend) -> anyhow::Result<()> {
    let connected = Connected::prepare(backend, &[]).await?;
    let server = connected.env.serve().await?;
    let inbox = connected.connected_inbox(&server).await?;
    for email in ["admin@acme.example", "agent@acme.example"] {
        let out = connected
            .env
            .cli_with_stdin(&["user", "password", email], &format!("{PASSWORD}\n"));
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let refused = connected
        .env
        .cli_with_stdin(&["user", "password", "agent@acme.example"], "short\n");
    assert_ne!(refused.code, 0, "a short password is refused");
    let account = connected.account;
    let (_driver, client) = browser().await?;
    let result = scenario(&connected, &server, &client, backend, account, inbox).await;
    client.close().await.ok();
    result.map_err(|e| e.context(server.log()))
}

async fn scenario(
    f: &Connected,
    server: &Server,
    client: &Client,
    backend: Backend,
    account: i64,
    inbox: i64,
) -> anyhow::Result<()> {
    // `/` is no JSON 404: it sends a stranger to the sign-in page.
    client.goto(&server.base).await?;
    let url = client.current_url().await?;
    assert_eq!(url.path(), "/app/login");
    accessible(client, "sign-in").await?;
    screenshot(client, backend, "sign-in").await?;

    // A wrong password is refused, in words.
    sign_in(client, server, "admin@acme.example", "not the password").await?;
    let error = until(
        client,
        "the refusal",
        "return document.getElementById('login-error')?.textContent",
    )
    .await?;
    assert!(
        error.as_str().unwrap().contains("Invalid login credentials"),
        "{error}"
    );

    // Repeated failures on one account are rate limited: ten are refused
    // as wrong, the eleventh without checking.
    for _ in 0..11 {
        sign_in(client, server, "nobody@acme.example", "guess guess").await?;
    }
    until(
        client,
        "the limit",
        "return document.getElementById('login-error')?.textContent.includes('Too many')",
    )
    .await?;

    // The administrator signs in and lands on the conversations.
    sign_in(client, server, "admin@acme.example", PASSWORD).await?;
    until(
        client,
        "the workspace",
        "return document.querySelector('.workspace') !== null",
    )
    .await?;
    assert_eq!(
        client.current_url().await?.path(),
        format!("/app/accounts/{account}/conversations")
    );
    let cookies = client.get_all_cookies().await?;
    let session = cookies
        .iter()
        .find(|c| c.name() == "sb_session")
        .context("session cookie")?;
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(format!("{:?}", session.same_site()), "Some(Lax)");
    let admin_cookie = session.value().to_owned();
    until(
        client,
        "the live socket",
        "return document.body.dataset.live === 'connected'",
    )
    .await?;

    // A signed webhook's conversation appears without a reload.
    client.execute("window.__notReloaded = true", vec![]).await?;
    let hello = received_text(
        BUSINESS,
        "conv-1",
        "Dana Customer",
        "in-1",
        "Where is my <b>order</b>?",
        now_ms(),
    );
    assert_eq!(
        f.mock
            .deliver(&format!("{}/webhooks/tiktok", server.base), &hello)
            .await?,
        200
    );
    until(
        client,
        "the new conversation in the list",
        "return [...document.querySelectorAll('.items .name')].some(e => e.textContent === 'Dana Customer')",
    )
    .await?;
    assert_eq!(
        client
            .execute("return window.__notReloaded === true", vec![])
            .await?,
        json!(true)
    );
    accessible(client, "conversation list").await?;
    screenshot(client, backend, "conversations").await?;

    // The agent opens it: the contact's text is shown escaped, as typed.
    client
        .find(Locator::Css(".items a[data-conversation]"))
        .await?
        .click()
        .await?;
    let display = until(
        client,
        "the conversation",
        "return document.querySelector('.workspace')?.dataset.conversation",
    )
    .await?;
    let display: i64 = display.as_str().unwrap().parse()?;
    let content = until(
        client,
        "the message",
        "return document.querySelector('.message.incoming .content')?.textContent",
    )
    .await?;
    assert_eq!(content, json!("Where is my <b>order</b>?"));
    assert_eq!(
        client
            .execute("return document.querySelector('.message.incoming b')", vec![])
            .await?,
        Value::Null,
        "provider text is never markup"
    );

    // A reply, sent in place, reaches TikTok and turns delivered, then read.
    client.execute("window.__notReloaded = true", vec![]).await?;
    client
        .find(Locator::Id("content"))
        .await?
        .send_keys("It ships today")
        .await?;
    let counter = client.find(Locator::Id("reply-count")).await?.text().await?;
    assert_eq!(counter, "14 / 6000 characters");
    client.find(Locator::Id("send")).await?.click().await?;
    until(
        client,
        "the reply delivered",
        "return document.querySelector('.message.outgoing [data-delivery=delivered]') !== null",
    )
    .await?;
    let sent = f.mock.sent();
    assert!(
        sent.iter().any(|s| s.text.as_deref() == Some("It ships today")),
        "{sent:?}"
    );
    assert_eq!(
        f.mock
            .deliver(
                &format!("{}/webhooks/tiktok", server.base),
                &mark_read(BUSINESS, "conv-1", "Dana Customer", now_ms() + 1000)
            )
            .await?,
        200
    );
    until(
        client,
        "the reply read",
        "return document.querySelector('.message.outgoing [data-delivery=read]') !== null",
    )
    .await?;
    assert_eq!(
        client
            .execute("return window.__notReloaded === true", vec![])
            .await?,
        json!(true)
    );
    // A private note is set apart.
    client
        .find(Locator::Id("content"))
        .await?
        .send_keys("VIP customer")
        .await?;
    client
        .find(Locator::Css("button[value=note]"))
        .await?
        .click()
        .await?;
    until(
        client,
        "the note",
        "return document.querySelector('.message.note .badge')?.textContent",
    )
    .await?;
    accessible(client, "conversation").await?;
    screenshot(client, backend, "conversation").await?;

    // Resolving it moves it out of the open list.
    client.find(Locator::Id("toggle-status")).await?.click().await?;
    until(
        client,
        "resolved",
        "return document.getElementById('conversation-status')?.textContent === 'resolved'",
    )
    .await?;

    // A conversation whose 48-hour window has closed: the reply box says why.
    let old = received_text(
        BUSINESS,
        "conv-old",
        "Old Contact",
        "old-1",
        "hi",
        now_ms() - 49 * 3600 * 1000,
    );
    assert_eq!(
        f.mock
            .deliver(&format!("{}/webhooks/tiktok", server.base), &old)
            .await?,
        200
    );
    let old_display = server
        .wait_for("the old conversation", 200, || async {
            Ok(server
                .conversations(account, &f.admin)
                .await?
                .iter()
                .find(|c| c["meta"]["sender"]["name"] == "Old Contact")
                .and_then(|c| c["id"].as_i64()))
        })
        .await?;
    client
        .goto(&format!(
            "{}/app/accounts/{account}/conversations/{old_display}",
            server.base
        ))
        .await?;
    let reason = until(
        client,
        "the closed window",
        "return document.getElementById('reply-blocked')?.textContent",
    )
    .await?;
    assert!(reason.as_str().unwrap().contains("reply window"), "{reason}");
    assert!(!client.find(Locator::Id("send")).await?.is_enabled().await?);
    accessible(client, "closed conversation").await?;
    screenshot(client, backend, "reply-window-closed").await?;

    // The page the TikTok connection lands on shows the new inbox; a failed
    // one shows the provider's reason.
    client
        .goto(&format!(
            "{}/app/accounts/{account}/settings/inboxes/new/{inbox}/agents",
            server.base
        ))
        .await?;
    until(
        client,
        "the inbox page",
        "return document.getElementById('inbox-name')?.textContent",
    )
    .await?;
    accessible(client, "new inbox").await?;
    screenshot(client, backend, "inbox-connected").await?;
    client
        .goto(&format!(
            "{}/app/accounts/{account}/settings/inboxes/new/tiktok?error_type=access_denied&code=400&error_message=User+cancelled",
            server.base
        ))
        .await?;
    let failure = until(
        client,
        "the failure",
        "return document.getElementById('connect-error')?.textContent",
    )
    .await?;
    assert!(failure.as_str().unwrap().contains("User cancelled"), "{failure}");

    // Sign out; the agent (no inbox of theirs) gets 404 for the conversation
    // and for the administrators' page.
    client
        .find(Locator::Css("header.top form button"))
        .await?
        .click()
        .await?;
    until(client, "signed out", "return location.pathname === '/app/login'").await?;
    assert_eq!(
        status_of(
            server,
            &format!("/app/accounts/{account}/conversations/{display}"),
            &admin_cookie
        )
        .await?,
        303,
        "the old session no longer works"
    );
    sign_in(client, server, "agent@acme.example", PASSWORD).await?;
    until(
        client,
        "the agent's workspace",
        "return document.querySelector('.workspace') !== null",
    )
    .await?;
    let agent_cookie = client
        .get_all_cookies()
        .await?
        .into_iter()
        .find(|c| c.name() == "sb_session")
        .context("agent session")?
        .value()
        .to_owned();
    for path in [
        format!("/app/accounts/{account}/conversations/{display}"),
        format!("/app/accounts/{account}/settings/inboxes/{inbox}"),
        format!("/app/accounts/{account}/onboarding/inbox-setup"),
    ] {
        assert_eq!(status_of(server, &path, &agent_cookie).await?, 404, "{path}");
    }
    client
        .goto(&format!(
            "{}/app/accounts/{account}/conversations/{display}",
            server.base
        ))
        .await?;
    let text = client.find(Locator::Css("main")).await?.text().await?;
    assert!(text.contains("404"), "{text}");
    Ok(())
}
