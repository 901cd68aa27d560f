//! The web dashboard in a real browser: headless Chromium (Debian's
//! `chromium`, driven over WebDriver by `chromedriver`) against the real
//! binary and the mock TikTok, on SQLite and PostgreSQL. `tests/run`
//! installs both and axe-core.
//!
//! One scenario per database keeps the wall time short: signing in (a wrong
//! password refused, repeated failures rate limited), a signed webhook's
//! conversation appearing live and found by its text, a reply reaching the provider and turning
//! delivered then read, a failed send retried, an image sent from the reply
//! box within the channel's limits, a closed reply window, the
//! administrators' pages (connecting TikTok through the mock's consent page,
//! an inbox created, changed and deleted, agents added, promoted, removed,
//! labels added and deleted),
//! an agent's 404s, the super admins' plugin console (a bad file refused, a
//! component reviewed, installed, disabled, granted a host; recent calls; a
//! secret set through the settings form), the pipeline page (an event
//! replayed, a dead letter retried), the server settings (config, feature
//! flags), a restart of the server that the open page reconnects after and
//! catches up from, and axe-core on every page. Screenshots go to `target/screenshots/`, and to
//! `docs/screenshots/` with `SWITCHBOARD_UPDATE_SCREENSHOTS=1`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use switchboard_e2e::connected::{BUSINESS, Connected};
use switchboard_e2e::tiktok::{
    AuthGrant, Endpoint, Failure, MockTikTok, Profile, codes, mark_read, received_text,
};
use switchboard_e2e::{Backend, PROBE_V2, Server};

switchboard_e2e::on_both_databases!(the_dashboard_in_a_browser);

const PASSWORD: &str = "correct horse battery";
/// A 1×1 PNG for the reply box's upload.
const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53, 0xde, 0x00,
    0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00, 0x00, 0x03, 0x01,
    0x01, 0x00, 0xc9, 0xfe, 0x92, 0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60,
    0x82,
];
/// The super admin of the plugin console.
const ROOT: &str = "root@example.com";

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

/// Delivers `event` to the server as TikTok does, signed; it must be
/// acknowledged.
async fn delivered(mock: &MockTikTok, server: &Server, event: &Value) -> anyhow::Result<()> {
    let status = mock
        .deliver(&format!("{}/webhooks/tiktok", server.base), event)
        .await?;
    assert_eq!(status, 200, "the webhook was not acknowledged");
    Ok(())
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
    // The provider's consent page sends the browser back to FRONTEND_URL,
    // so the server listens where that says.
    let addr = format!("127.0.0.1:{}", free_port()?);
    let frontend = format!("http://{addr}");
    let connected = Connected::prepare(
        backend,
        &[
            ("FRONTEND_URL", frontend.as_str()),
            ("SWITCHBOARD_ADDR", addr.as_str()),
        ],
    )
    .await?;
    let server = connected.env.serve().await?;
    let inbox = connected.connected_inbox(&server).await?;
    let root = connected
        .env
        .cli(&["user", "create", "--email", ROOT, "--super-admin", "--json"]);
    assert_eq!(root.code, 0, "{}", root.stderr);
    for email in ["admin@acme.example", "agent@acme.example", ROOT] {
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
    let result = match result {
        Err(e) => Err(e.context(server.log())),
        Ok(()) => reconnects_after_a_restart(&connected, server, &client, account).await,
    };
    client.close().await.ok();
    result
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
    delivered(&f.mock, server, &hello).await?;
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

    // The search finds it by its message's text (any case), and finds
    // nothing for words no message or contact holds.
    client.find(Locator::Id("q")).await?.send_keys("ORDER").await?;
    click_to_navigate(client, Locator::Css("form.filters button"), "the search").await?;
    let names = client
        .execute(
            "return [...document.querySelectorAll('.items .name')].map(e => e.textContent)",
            vec![],
        )
        .await?;
    assert_eq!(names, json!(["Dana Customer"]));
    client.find(Locator::Id("q")).await?.clear().await?;
    client
        .find(Locator::Id("q"))
        .await?
        .send_keys("no such words")
        .await?;
    click_to_navigate(client, Locator::Css("form.filters button"), "the empty search").await?;
    assert_eq!(
        client
            .execute("return document.querySelectorAll('.items li').length", vec![])
            .await?,
        json!(0)
    );
    client
        .goto(&format!("{}/app/accounts/{account}/conversations", server.base))
        .await?;
    until(
        client,
        "the live socket again",
        "return document.body.dataset.live === 'connected'",
    )
    .await?;

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
    let read = mark_read(BUSINESS, "conv-1", "Dana Customer", now_ms() + 1000);
    delivered(&f.mock, server, &read).await?;
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
    // A send the provider refuses shows its reason and a Retry button, which
    // sends it again.
    f.mock.fail_next(
        Endpoint::MessageSend,
        1,
        Failure::code(codes::PARAM_ERROR, "recipient is invalid"),
    );
    client
        .find(Locator::Id("content"))
        .await?
        .send_keys("Tracking number follows")
        .await?;
    client.find(Locator::Id("send")).await?.click().await?;
    const LAST_OUTGOING: &str = "const m = [...document.querySelectorAll('.message.outgoing')].pop();";
    let reason = until(
        client,
        "the failed send",
        &format!("{LAST_OUTGOING} return m?.querySelector('[data-delivery=failed]') && m.querySelector('.reason')?.textContent"),
    )
    .await?;
    assert!(
        reason.as_str().unwrap().contains("recipient is invalid"),
        "{reason}"
    );
    screenshot(client, backend, "failed-send").await?;
    client
        .find(Locator::Css(".message.outgoing form.retry button"))
        .await?
        .click()
        .await?;
    until(
        client,
        "the retried send delivered",
        &format!("{LAST_OUTGOING} return m?.querySelector('[data-delivery=delivered]') !== null && m.querySelector('form.retry') === null"),
    )
    .await?;
    let tracking = f
        .mock
        .sent()
        .iter()
        .filter(|s| s.text.as_deref() == Some("Tracking number follows"))
        .count();
    assert_eq!(
        tracking, 1,
        "the refused attempt sent nothing; the retry sent it once"
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
    // An image from the reply box, within TikTok's limits: one image, never
    // with text (the box refuses the mix before anything is sent).
    let png = tempfile::Builder::new().suffix(".png").tempfile()?;
    std::fs::write(png.path(), PNG_1X1)?;
    let png_path = png.path().display().to_string();
    client
        .find(Locator::Id("content"))
        .await?
        .send_keys("See the picture")
        .await?;
    client
        .find(Locator::Id("attachments"))
        .await?
        .send_keys(&png_path)
        .await?;
    let mix = client
        .execute(
            "return document.getElementById('attachments').validationMessage",
            vec![],
        )
        .await?;
    assert!(mix.as_str().is_some_and(|m| m.contains("separate")), "{mix}");
    client.find(Locator::Id("content")).await?.clear().await?;
    client
        .execute(
            "document.getElementById('content').dispatchEvent(new Event('input'))",
            vec![],
        )
        .await?;
    client.find(Locator::Id("send")).await?.click().await?;
    until(
        client,
        "the image delivered",
        &format!("{LAST_OUTGOING} return m?.querySelector('img') !== null && m.querySelector('[data-delivery=delivered]') !== null"),
    )
    .await?;
    assert_eq!(f.mock.uploads().len(), 1, "the image reached TikTok");

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
    delivered(&f.mock, server, &old).await?;
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

    administration(f, server, client, backend, account).await?;

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
        format!("/app/accounts/{account}/settings/inboxes/list"),
        format!("/app/accounts/{account}/settings/inboxes/new"),
        format!("/app/accounts/{account}/settings/agents/list"),
        format!("/app/accounts/{account}/settings/labels/list"),
        "/super_admin/plugins".to_owned(),
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

    // The super admin's plugin console.
    client.goto(&server.base).await?;
    client
        .find(Locator::Css("header.top form button"))
        .await?
        .click()
        .await?;
    until(client, "signed out", "return location.pathname === '/app/login'").await?;
    sign_in(client, server, ROOT, PASSWORD).await?;
    plugin_console(f, server, client, backend).await
}

/// Waits for a page after a click that navigates: the marker set before
/// the click is gone and the new document is complete.
async fn navigated(client: &Client, what: &str) -> anyhow::Result<()> {
    until(
        client,
        what,
        "return window.__before === undefined && document.readyState === 'complete'",
    )
    .await?;
    Ok(())
}

async fn click_to_navigate(client: &Client, locator: Locator<'_>, what: &str) -> anyhow::Result<()> {
    client.execute("window.__before = true", vec![]).await?;
    client.find(locator).await?.click().await?;
    navigated(client, what).await
}

/// The account administrator's pages: inboxes (TikTok connected through the
/// mock's consent page, an API inbox created, changed, given an agent and
/// deleted) and agents (added with a password, promoted, removed).
async fn administration(
    f: &Connected,
    server: &Server,
    client: &Client,
    backend: Backend,
    account: i64,
) -> anyhow::Result<()> {
    let settings = format!("{}/app/accounts/{account}/settings", server.base);
    client.goto(&format!("{settings}/inboxes/list")).await?;
    let listed = until(
        client,
        "the inbox list",
        "return document.querySelectorAll('#inboxes tbody tr').length",
    )
    .await?;
    assert_eq!(listed, json!(1));
    accessible(client, "inboxes").await?;
    screenshot(client, backend, "inboxes").await?;

    // Connect TikTok: the mock's consent page, then back on the new inbox.
    click_to_navigate(client, Locator::Id("add-inbox"), "the channel choice").await?;
    accessible(client, "add inbox").await?;
    screenshot(client, backend, "add-inbox").await?;
    f.mock
        .add_business("biz-2", Profile::new("acme_outlet", "Acme Outlet"));
    f.mock.set_consent(AuthGrant::new("biz-2"));
    click_to_navigate(client, Locator::Css("a[data-connect=tiktok]"), "the consent page").await?;
    assert_eq!(client.current_url().await?.path(), "/v2/auth/authorize");
    click_to_navigate(client, Locator::Id("authorize"), "the new inbox").await?;
    let landed = client.current_url().await?;
    assert!(
        landed
            .path()
            .starts_with(&format!("/app/accounts/{account}/settings/inboxes/new/"))
            && landed.path().ends_with("/agents"),
        "{landed}"
    );
    let heading = client.find(Locator::Css("h1")).await?.text().await?;
    assert!(heading.contains("is connected"), "{heading}");
    let inboxes = server.get(&f.path("/inboxes"), Some(&f.admin)).await?;
    let outlet = inboxes.json["payload"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["external_id"] == "biz-2"))
        .cloned();
    assert!(outlet.is_some(), "the connected inbox exists: {:?}", inboxes.json);
    accessible(client, "connected inbox").await?;

    // A declined consent lands on the channel's page with the reason.
    client.goto(&format!("{settings}/inboxes/new")).await?;
    click_to_navigate(client, Locator::Css("a[data-connect=tiktok]"), "the consent page").await?;
    click_to_navigate(client, Locator::Id("cancel"), "the refusal").await?;
    let failure = until(
        client,
        "the provider's refusal",
        "return document.getElementById('connect-error')?.textContent",
    )
    .await?;
    assert!(
        failure.as_str().unwrap().contains("access_denied") || failure.as_str().unwrap().contains("cancel"),
        "{failure}"
    );

    // An inbox on a channel without authorization takes the provider's id.
    client.goto(&format!("{settings}/inboxes/new")).await?;
    click_to_navigate(
        client,
        Locator::Css("a[data-create=api-channel]"),
        "the new inbox form",
    )
    .await?;
    accessible(client, "new API inbox").await?;
    client
        .find(Locator::Id("name"))
        .await?
        .send_keys("Website")
        .await?;
    client
        .find(Locator::Id("external_id"))
        .await?
        .send_keys("site-1")
        .await?;
    click_to_navigate(client, Locator::Id("create-inbox"), "the created inbox").await?;
    let name = client.find(Locator::Id("inbox-name")).await?.text().await?;
    assert_eq!(name, "Website");
    accessible(client, "inbox settings").await?;
    screenshot(client, backend, "inbox-settings").await?;

    // Renamed, given the agent, then deleted.
    let field = client.find(Locator::Id("name")).await?;
    field.clear().await?;
    field.send_keys("Website chat").await?;
    click_to_navigate(client, Locator::Id("save-inbox"), "the saved settings").await?;
    assert_eq!(
        client.find(Locator::Id("inbox-name")).await?.text().await?,
        "Website chat"
    );
    let agent_id = server
        .get(&f.path("/agents"), Some(&f.admin))
        .await?
        .json
        .as_array()
        .and_then(|a| a.iter().find(|u| u["email"] == "agent@acme.example"))
        .and_then(|u| u["id"].as_i64())
        .context("the agent")?;
    client
        .find(Locator::Id(&format!("agent_{agent_id}")))
        .await?
        .click()
        .await?;
    click_to_navigate(
        client,
        Locator::Css("#inbox-agents button[type=submit]"),
        "the saved agents",
    )
    .await?;
    let inbox_id: i64 = client
        .find(Locator::Id("inbox"))
        .await?
        .attr("data-inbox")
        .await?
        .context("inbox id")?
        .parse()?;
    let members = server
        .get(&f.path(&format!("/inbox_members/{inbox_id}")), Some(&f.admin))
        .await?;
    assert!(
        members.json["payload"]
            .as_array()
            .is_some_and(|m| m.iter().any(|u| u["id"] == agent_id)),
        "{:?}",
        members.json
    );
    client.find(Locator::Id("confirm_delete")).await?.click().await?;
    click_to_navigate(client, Locator::Css("#delete-inbox button"), "the inbox list").await?;
    assert_eq!(
        client.current_url().await?.path(),
        format!("/app/accounts/{account}/settings/inboxes/list")
    );
    let left = client
        .execute(
            "return [...document.querySelectorAll('#inboxes td a')].map(a => a.textContent)",
            vec![],
        )
        .await?;
    assert!(!left.to_string().contains("Website chat"), "{left}");

    // Agents: one added with a password, promoted, removed.
    client.goto(&format!("{settings}/agents/list")).await?;
    client
        .find(Locator::Id("agent_name"))
        .await?
        .send_keys("Sam New")
        .await?;
    client
        .find(Locator::Id("agent_email"))
        .await?
        .send_keys("sam@acme.example")
        .await?;
    client
        .find(Locator::Id("agent_password"))
        .await?
        .send_keys("short")
        .await?;
    click_to_navigate(client, Locator::Id("add-agent-button"), "the refusal").await?;
    let refused = client.find(Locator::Id("form-error")).await?.text().await?;
    assert!(refused.contains("at least"), "{refused}");
    client
        .find(Locator::Id("agent_password"))
        .await?
        .send_keys(PASSWORD)
        .await?;
    click_to_navigate(client, Locator::Id("add-agent-button"), "the agents").await?;
    let sam = until(
        client,
        "the new agent",
        "return [...document.querySelectorAll('#agents tr[data-agent]')].find(r => r.textContent.includes('sam@acme.example'))?.dataset.agent",
    )
    .await?;
    let sam = sam.as_str().context("agent id")?.to_owned();
    accessible(client, "agents").await?;
    screenshot(client, backend, "agents").await?;
    client
        .find(Locator::Css(&format!("#role_{sam} option[value=administrator]")))
        .await?
        .click()
        .await?;
    click_to_navigate(
        client,
        Locator::Css(&format!("tr[data-agent='{sam}'] td:nth-child(3) button")),
        "the promotion",
    )
    .await?;
    let role = client
        .execute(
            &format!("return document.getElementById('role_{sam}').value"),
            vec![],
        )
        .await?;
    assert_eq!(role, json!("administrator"));
    click_to_navigate(
        client,
        Locator::Css(&format!("tr[data-agent='{sam}'] td:nth-child(4) button")),
        "the removal",
    )
    .await?;
    assert_eq!(
        client
            .execute(
                &format!("return document.querySelector(\"tr[data-agent='{sam}']\") === null"),
                vec![]
            )
            .await?,
        json!(true)
    );

    // Labels: one added, one with a space refused, then deleted.
    client.goto(&format!("{settings}/labels/list")).await?;
    client
        .find(Locator::Id("label_title"))
        .await?
        .send_keys("Billing")
        .await?;
    client
        .find(Locator::Id("label_description"))
        .await?
        .send_keys("Invoices and refunds")
        .await?;
    click_to_navigate(client, Locator::Id("add-label-button"), "the label").await?;
    assert_eq!(
        client
            .execute(
                "return document.querySelector('#labels tr[data-label=billing]') !== null",
                vec![]
            )
            .await?,
        json!(true),
        "titles are lower-cased"
    );
    accessible(client, "labels").await?;
    screenshot(client, backend, "labels").await?;
    client
        .find(Locator::Id("label_title"))
        .await?
        .send_keys("two words")
        .await?;
    click_to_navigate(client, Locator::Id("add-label-button"), "the refusal").await?;
    let refused = client.find(Locator::Id("form-error")).await?.text().await?;
    assert!(refused.contains("no spaces"), "{refused}");
    click_to_navigate(
        client,
        Locator::Css("#labels tr[data-label=billing] button"),
        "the deletion",
    )
    .await?;
    assert_eq!(
        client
            .execute(
                "return document.querySelector('#labels tr[data-label=billing]') === null",
                vec![]
            )
            .await?,
        json!(true)
    );
    Ok(())
}

/// The super admin's plugin console: a bad file refused in words, a
/// component reviewed (what it asks for) then installed, disabled, and
/// granted a host.
async fn plugin_console(
    f: &Connected,
    server: &Server,
    client: &Client,
    backend: Backend,
) -> anyhow::Result<()> {
    client
        .goto(&format!("{}/super_admin/plugins", server.base))
        .await?;
    until(
        client,
        "the plugin list",
        "return document.querySelector('#plugins tr[data-plugin=tiktok]') !== null",
    )
    .await?;
    accessible(client, "plugin console").await?;
    screenshot(client, backend, "plugins").await?;

    let junk = tempfile::Builder::new().suffix(".wasm").tempfile()?;
    std::fs::write(junk.path(), b"this is not a component")?;
    client
        .find(Locator::Id("component"))
        .await?
        .send_keys(&junk.path().display().to_string())
        .await?;
    click_to_navigate(client, Locator::Id("upload-button"), "the refusal").await?;
    let refused = client.find(Locator::Id("upload-error")).await?.text().await?;
    assert!(
        refused.contains("was refused") && refused.contains("invalid plugin"),
        "{refused}"
    );

    client
        .find(Locator::Id("component"))
        .await?
        .send_keys(PROBE_V2)
        .await?;
    click_to_navigate(client, Locator::Id("upload-button"), "the review").await?;
    assert_eq!(
        client.find(Locator::Id("review-id")).await?.text().await?,
        "probe"
    );
    let asks = client.find(Locator::Id("review-hosts")).await?.text().await?;
    assert!(!asks.is_empty());
    // Not installed before the confirmation.
    let before = server
        .get("/api/v1/admin/plugins/probe", Some(&f.super_admin))
        .await?;
    assert_eq!(before.status, 404, "{:?}", before.json);
    accessible(client, "plugin review").await?;
    screenshot(client, backend, "plugin-review").await?;
    click_to_navigate(client, Locator::Id("confirm-button"), "the installed plugin").await?;
    assert_eq!(client.current_url().await?.path(), "/super_admin/plugins/probe");
    assert_eq!(
        client.find(Locator::Id("plugin-state")).await?.text().await?,
        "enabled"
    );
    accessible(client, "plugin").await?;

    click_to_navigate(client, Locator::Css("button[data-action=disable]"), "disabled").await?;
    assert_eq!(
        client.find(Locator::Id("plugin-state")).await?.text().await?,
        "disabled"
    );
    client
        .find(Locator::Id("origin"))
        .await?
        .send_keys("https://api.example.com")
        .await?;
    click_to_navigate(client, Locator::Id("grant-button"), "the grant").await?;
    let granted = client.find(Locator::Id("granted")).await?.text().await?;
    assert!(granted.contains("https://api.example.com"), "{granted}");

    client
        .goto(&format!("{}/super_admin/plugins", server.base))
        .await?;
    let state = client
        .find(Locator::Css("#plugins tr[data-plugin=probe] td.state"))
        .await?
        .text()
        .await?;
    assert_eq!(state, "disabled");

    // Live health: the scenario's webhooks were calls of the TikTok plugin.
    client
        .goto(&format!("{}/super_admin/plugins/tiktok", server.base))
        .await?;
    let calls: u64 = client
        .find(Locator::Css("#recent-calls .recent"))
        .await?
        .attr("data-calls")
        .await?
        .unwrap_or_default()
        .parse()?;
    assert!(calls > 0, "the TikTok plugin's recent calls: {calls}");

    // The settings form: a secret is written, never shown back, and the
    // plugin's next call reads it.
    client
        .goto(&format!("{}/super_admin/plugins/probe", server.base))
        .await?;
    click_to_navigate(client, Locator::Css("button[data-action=enable]"), "enabled").await?;
    let before = server.dry_run("probe", &f.super_admin, "text:hi").await?;
    assert_eq!(before.status, 200, "{:?}", before.json);
    assert_eq!(
        before.json["verification"]["outcome"], "accepted",
        "{:?}",
        before.json
    );
    client
        .find(Locator::Id("PROBE_SIGNATURE"))
        .await?
        .send_keys("s3cret-signature")
        .await?;
    click_to_navigate(client, Locator::Id("settings-button"), "the saved settings").await?;
    let placeholder = client
        .find(Locator::Id("PROBE_SIGNATURE"))
        .await?
        .attr("placeholder")
        .await?;
    assert_eq!(placeholder.as_deref(), Some("set: type to replace"));
    assert!(!client.source().await?.contains("s3cret-signature"));
    accessible(client, "plugin settings").await?;
    let config = server.get("/api/v1/admin/config", Some(&f.super_admin)).await?;
    let entry = config
        .json
        .as_array()
        .and_then(|all| all.iter().find(|e| e["key"] == "PROBE_SIGNATURE"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(entry["secret"], true, "{:?}", config.json);
    assert!(entry["value"].is_null(), "{:?}", config.json);
    let after = server.dry_run("probe", &f.super_admin, "text:hi").await?;
    assert_eq!(
        after.json["verification"]["outcome"], "rejected",
        "the probe still accepts the old signature: {:?}",
        after.json
    );

    // The pipeline: the event log with replay, the dead letters with retry.
    client
        .goto(&format!("{}/super_admin/pipeline?status=applied", server.base))
        .await?;
    until(
        client,
        "the applied events",
        "return document.querySelector('#events tr[data-event]') !== null",
    )
    .await?;
    accessible(client, "pipeline").await?;
    screenshot(client, backend, "pipeline").await?;
    click_to_navigate(
        client,
        Locator::Css("#events tr[data-event] button"),
        "the replayed event",
    )
    .await?;
    let notice = client.find(Locator::Id("pipeline-notice")).await?.text().await?;
    assert!(notice.contains("queued to be applied again"), "{notice}");
    // A send the provider refuses for good is a dead letter.
    f.mock.fail_next(
        Endpoint::MessageSend,
        1,
        Failure::code(codes::PARAM_ERROR, "recipient is invalid"),
    );
    let sent = server
        .post_json(
            &format!("/api/v1/accounts/{}/conversations/1/messages", f.account),
            Some(&f.admin),
            &json!({ "content": "This one is refused" }),
        )
        .await?;
    assert_eq!(sent.status, 200, "{:?}", sent.json);
    server
        .eventually("the refused send dead-lettered", 200, || async {
            let dead = server
                .get("/api/v1/admin/deliveries?state=dead", Some(&f.super_admin))
                .await?;
            Ok(dead.json.as_array().is_some_and(|d| !d.is_empty()))
        })
        .await?;
    client
        .goto(&format!("{}/super_admin/pipeline", server.base))
        .await?;
    let job = client
        .find(Locator::Css("#dead tr[data-job]"))
        .await?
        .attr("data-job")
        .await?
        .unwrap_or_default();
    click_to_navigate(
        client,
        Locator::Css("#dead tr[data-job] button"),
        "the retried send",
    )
    .await?;
    let notice = client.find(Locator::Id("pipeline-notice")).await?.text().await?;
    assert!(notice.contains(&format!("Job {job} queued")), "{notice}");
    server_settings(f, server, client, backend).await
}

/// The super admin's server settings: the installation config (a bad key
/// refused in words, a value set and listed) and an account's feature flags
/// turned on and off.
async fn server_settings(
    f: &Connected,
    server: &Server,
    client: &Client,
    backend: Backend,
) -> anyhow::Result<()> {
    client
        .goto(&format!("{}/super_admin/settings", server.base))
        .await?;
    let row = format!("#accounts tr[data-account=\"{}\"]", f.account);
    until(
        client,
        "the server settings",
        &format!("return document.querySelector('{row}') !== null"),
    )
    .await?;
    accessible(client, "server settings").await?;
    client
        .find(Locator::Id("config-key"))
        .await?
        .send_keys("not a key")
        .await?;
    client
        .find(Locator::Id("config-value"))
        .await?
        .send_keys("x")
        .await?;
    click_to_navigate(client, Locator::Id("set-config-button"), "the refused key").await?;
    let refused = client.find(Locator::Id("settings-error")).await?.text().await?;
    assert!(refused.contains("upper case"), "{refused}");
    client
        .find(Locator::Id("config-key"))
        .await?
        .send_keys("PROBE_NOTE")
        .await?;
    client
        .find(Locator::Id("config-value"))
        .await?
        .send_keys("hello from the console")
        .await?;
    click_to_navigate(client, Locator::Id("set-config-button"), "the config set").await?;
    let listed = client
        .find(Locator::Css("#config tr[data-key=PROBE_NOTE]"))
        .await?
        .text()
        .await?;
    assert!(listed.contains("hello from the console"), "{listed}");
    client
        .find(Locator::Css(&format!("{row} td:last-child input[name=flag]")))
        .await?
        .send_keys("beta_console")
        .await?;
    click_to_navigate(
        client,
        Locator::Css(&format!("{row} td:last-child button")),
        "the flag on",
    )
    .await?;
    client
        .find(Locator::Css(&format!("{row} li[data-flag=beta_console]")))
        .await?;
    screenshot(client, backend, "server-settings").await?;
    click_to_navigate(
        client,
        Locator::Css(&format!("{row} li[data-flag=beta_console] button")),
        "the flag off",
    )
    .await?;
    let flags = client
        .find(Locator::Css(&format!("{row} td.flags")))
        .await?
        .text()
        .await?;
    assert!(!flags.contains("beta_console"), "{flags}");
    Ok(())
}

/// After a restart of the server the open page reconnects by itself and
/// catches up: a message that arrived while it was away appears without a
/// reload.
async fn reconnects_after_a_restart(
    f: &Connected,
    server: Server,
    client: &Client,
    account: i64,
) -> anyhow::Result<()> {
    // The scenario ends signed in as the super admin: back to the agent's
    // conversations as the account's administrator.
    client
        .goto(&format!("{}/super_admin/plugins", server.base))
        .await?;
    client
        .find(Locator::Css("header.top form button"))
        .await?
        .click()
        .await?;
    until(client, "signed out", "return location.pathname === '/app/login'").await?;
    sign_in(client, &server, "admin@acme.example", PASSWORD).await?;
    client
        .goto(&format!("{}/app/accounts/{account}/conversations", server.base))
        .await?;
    until(
        client,
        "the live socket",
        "return document.body.dataset.live === 'connected'",
    )
    .await?;
    client.execute("window.__notReloaded = true", vec![]).await?;
    drop(server);
    until(
        client,
        "the page noticing the server is away",
        "return document.body.dataset.live === 'reconnecting'",
    )
    .await?;
    let server = f.env.serve().await?;
    let later = received_text(
        BUSINESS,
        "conv-restart",
        "Riley Restart",
        "in-restart",
        "Sent while the page was away",
        now_ms(),
    );
    delivered(&f.mock, &server, &later).await?;
    until(
        client,
        "the message sent during the restart, without a reload",
        "return document.body.dataset.live === 'connected' \
         && [...document.querySelectorAll('.items .name')].some(e => e.textContent === 'Riley Restart') \
         && window.__notReloaded === true",
    )
    .await?;
    Ok(())
}
