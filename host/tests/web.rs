//! The web dashboard and password sign-in at the HTTP boundary, without a
//! browser: requests through `tower::ServiceExt::oneshot` into the whole
//! router, on SQLite and on PostgreSQL. Sessions, CSRF, security headers,
//! assets, who gets 404, rate limits, and devise-token-auth for API
//! clients. `tests/e2e/browser.rs` runs the pages in a real browser.

#[macro_use]
mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use common::{Backend, Fixture};
use switchboard::app::conversations;
use switchboard::app::{messages, sessions};

on_both_databases!(
    api_clients_sign_in_with_devise_token_auth,
    pages_need_a_session_and_carry_security_headers,
    forms_need_the_sessions_csrf_token,
    agents_get_404_outside_their_inboxes,
    assets_are_hashed_compressed_and_cached,
    sign_in_is_rate_limited_by_address,
    expired_sessions_and_old_refusals_are_swept,
);

const PASSWORD: &str = "correct horse battery";

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::get(path);
    if let Some(c) = cookie {
        r = r.header("cookie", format!("sb_session={c}"));
    }
    r.body(Body::empty()).unwrap()
}

/// A form post with a session cookie (the body and headers follow).
fn form(path: &str, cookie: &str) -> axum::http::request::Builder {
    Request::post(path)
        .header("cookie", format!("sb_session={cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
}

fn json_post(path: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Opens a conversation through the JSON API (as an API client would);
/// answers its display id.
async fn open_conversation(app: &Router, account: i64, token: &str, inbox: i64, contact: i64) -> i64 {
    let request = Request::post(format!("/api/v1/accounts/{account}/conversations"))
        .header("content-type", "application/json")
        .header("api_access_token", token)
        .body(Body::from(
            json!({ "inbox_id": inbox, "contact_id": contact }).to_string(),
        ))
        .unwrap();
    let answer = send(app, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.json()["id"].as_i64().expect("a display id")
}

async fn api_clients_sign_in_with_devise_token_auth(backend: Backend) -> anyhow::Result<()> {
    let f = Fixture::new(backend).await?;
    let acme = f.acme().await?;
    sessions::set_password(f.store(), "admin@acme.example", PASSWORD).await?;
    let app = f.router();

    let wrong = send(
        &app,
        json_post(
            "/auth/sign_in",
            &json!({ "email": "admin@acme.example", "password": "nope nope" }),
        ),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.json()["errors"][0],
        "Invalid login credentials. Please try again."
    );

    let ok = send(
        &app,
        json_post(
            "/auth/sign_in",
            &json!({ "email": "ADMIN@acme.example", "password": PASSWORD }),
        ),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.json()["data"]["email"], "admin@acme.example");
    assert_eq!(ok.header("token-type"), "Bearer");
    assert_eq!(ok.header("uid"), "admin@acme.example");
    let (token, client) = (
        ok.header("access-token").to_owned(),
        ok.header("client").to_owned(),
    );
    assert!(!token.is_empty() && !client.is_empty());

    let with = |token: &str, client: &str| {
        Request::get(format!("/api/v1/accounts/{}/conversations", acme.account))
            .header("access-token", token)
            .header("client", client)
            .header("uid", "admin@acme.example")
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&app, with(&token, &client)).await.status, StatusCode::OK);
    assert_eq!(
        send(&app, with(&token, "another-client")).await.status,
        StatusCode::UNAUTHORIZED
    );
    // API tokens keep working beside sessions.
    let by_token = Request::get(format!("/api/v1/accounts/{}/conversations", acme.account))
        .header("api_access_token", &acme.admin.access_token)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, by_token).await.status, StatusCode::OK);

    let out = Request::delete("/auth/sign_out")
        .header("access-token", &token)
        .header("client", &client)
        .header("uid", "admin@acme.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, out).await.status, StatusCode::OK);
    assert_eq!(
        send(&app, with(&token, &client)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // A new password ends the user's sessions.
    let again = send(
        &app,
        json_post(
            "/auth/sign_in",
            &json!({ "email": "admin@acme.example", "password": PASSWORD }),
        ),
    )
    .await;
    let (token, client) = (
        again.header("access-token").to_owned(),
        again.header("client").to_owned(),
    );
    sessions::set_password(f.store(), "admin@acme.example", "another long one").await?;
    assert_eq!(
        send(&app, with(&token, &client)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A user without a password cannot sign in with one.
    let agent = send(
        &app,
        json_post(
            "/auth/sign_in",
            &json!({ "email": "agent@acme.example", "password": "" }),
        ),
    )
    .await;
    assert_eq!(agent.status, StatusCode::UNAUTHORIZED);
    Ok(())
}

async fn pages_need_a_session_and_carry_security_headers(backend: Backend) -> anyhow::Result<()> {
    let f = Fixture::new(backend).await?;
    let acme = f.acme().await?;
    let app = f.router();

    let root = send(&app, get("/", None)).await;
    assert!(root.status.is_redirection());
    assert_eq!(root.header("location"), "/app/login");

    let page = format!("/app/accounts/{}/conversations", acme.account);
    let away = send(&app, get(&page, None)).await;
    assert!(away.status.is_redirection());
    assert_eq!(
        away.header("location"),
        format!(
            "/app/login?return_to=%2Fapp%2Faccounts%2F{}%2Fconversations",
            acme.account
        )
    );

    let login = send(&app, get("/app/login", None)).await;
    assert_eq!(login.status, StatusCode::OK);
    let csp = login.header("content-security-policy");
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(login.header("referrer-policy"), "same-origin");
    assert_eq!(login.header("x-content-type-options"), "nosniff");
    let cookie = login.header("set-cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    assert!(!login.body.contains("<script>"), "no inline script");
    let https = Request::get("/app/login")
        .header("x-forwarded-proto", "https")
        .body(Body::empty())
        .unwrap();
    assert!(send(&app, https).await.header("set-cookie").contains("; Secure"));

    // Signing in through the form: its own CSRF cookie must match.
    let login_token = cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap();
    sessions::set_password(f.store(), "agent@acme.example", PASSWORD).await?;
    let post = |csrf: &str| {
        Request::post("/app/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("sb_login={login_token}"))
            .body(Body::from(format!(
                "_csrf={csrf}&email=agent%40acme.example&password=correct+horse+battery&return_to=%2F%2Fevil.example"
            )))
            .unwrap()
    };
    assert_eq!(send(&app, post("forged")).await.status, StatusCode::FORBIDDEN);
    let signed = send(&app, post(&login_token)).await;
    assert!(signed.status.is_redirection());
    assert_eq!(signed.header("location"), "/", "never an open redirect");
    let session = signed
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sb_session="))
        .unwrap()
        .to_owned();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    let token = session["sb_session=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let home = send(&app, get("/", Some(&token))).await;
    assert_eq!(home.header("location"), page);
    let list = send(&app, get(&page, Some(&token))).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.header("content-security-policy")
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(list.header("cache-control"), "no-store");
    Ok(())
}

async fn forms_need_the_sessions_csrf_token(backend: Backend) -> anyhow::Result<()> {
    let f = Fixture::new(backend).await?;
    let acme = f.acme().await?;
    let admin = f.member(acme.account, &acme.admin).await?;
    let app = f.router();
    let display = open_conversation(
        &app,
        acme.account,
        &acme.admin.access_token,
        acme.inbox,
        acme.contact,
    )
    .await;
    sessions::set_password(f.store(), "admin@acme.example", PASSWORD).await?;
    let signed = sessions::sign_in(&f.state, "admin@acme.example", PASSWORD, None).await?;
    let path = format!("/app/accounts/{}/conversations/{display}/status", acme.account);

    let without = form(&path, &signed.token)
        .body(Body::from("status=resolved"))
        .unwrap();
    assert_eq!(send(&app, without).await.status, StatusCode::FORBIDDEN);
    let wrong = form(&path, &signed.token)
        .body(Body::from("status=resolved&_csrf=wrong"))
        .unwrap();
    assert_eq!(send(&app, wrong).await.status, StatusCode::FORBIDDEN);
    let cross = form(&path, &signed.token)
        .header("origin", "https://evil.example")
        .header("host", "sb.example")
        .body(Body::from(format!("status=resolved&_csrf={}", signed.csrf)))
        .unwrap();
    assert_eq!(send(&app, cross).await.status, StatusCode::FORBIDDEN);
    let cross_fetch = form(&path, &signed.token)
        .header("sec-fetch-site", "cross-site")
        .body(Body::from(format!("status=resolved&_csrf={}", signed.csrf)))
        .unwrap();
    assert_eq!(send(&app, cross_fetch).await.status, StatusCode::FORBIDDEN);
    let current = conversations::list(&f.state, &admin, &Default::default()).await?;
    assert_eq!(current.0[0]["status"], "open", "nothing changed so far");

    let ok = form(&path, &signed.token)
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(format!("status=resolved&_csrf={}", signed.csrf)))
        .unwrap();
    let answer = send(&app, ok).await;
    assert!(answer.status.is_redirection(), "{}", answer.body);
    let all = conversations::ListQuery {
        status: Some("resolved".into()),
        ..Default::default()
    };
    assert_eq!(conversations::list(&f.state, &admin, &all).await?.0.len(), 1);

    // The script's header carries the token as well as the form field. The
    // reply box posts multipart (it may carry files), as the page's form does.
    let boundary = "sb-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\n<script>alert(1)</script>\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\nnote\r\n--{boundary}--\r\n"
    );
    let note = Request::post(format!(
        "/app/accounts/{}/conversations/{display}/messages",
        acme.account
    ))
    .header("cookie", format!("sb_session={}", signed.token))
    .header(
        "content-type",
        format!("multipart/form-data; boundary={boundary}"),
    )
    .header("sec-fetch-site", "same-origin")
    .header("x-csrf-token", &signed.csrf)
    .body(Body::from(body))
    .unwrap();
    let answer = send(&app, note).await;
    assert!(
        answer.status.is_redirection(),
        "{} {}",
        answer.status,
        answer.body
    );
    let page = send(
        &app,
        get(
            &format!("/app/accounts/{}/conversations/{display}", acme.account),
            Some(&signed.token),
        ),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "escaped"
    );
    assert!(!page.body.contains("<script>alert"), "never markup");

    // Signing out needs the token too.
    let out = form("/app/logout", &signed.token).body(Body::from("")).unwrap();
    assert_eq!(send(&app, out).await.status, StatusCode::FORBIDDEN);
    assert!(sessions::session(&f.state, &signed.token).await?.is_some());
    let out = form("/app/logout", &signed.token)
        .body(Body::from(format!("_csrf={}", signed.csrf)))
        .unwrap();
    assert!(send(&app, out).await.status.is_redirection());
    assert!(sessions::session(&f.state, &signed.token).await?.is_none());
    Ok(())
}

async fn agents_get_404_outside_their_inboxes(backend: Backend) -> anyhow::Result<()> {
    let f = Fixture::new(backend).await?;
    let acme = f.acme().await?;
    let admin = f.member(acme.account, &acme.admin).await?;
    // An inbox the agent is not a member of, with a conversation.
    let other = f.inbox(acme.account, "Sales", &[]).await?.id;
    let app = f.router();
    let token = &acme.admin.access_token;
    let theirs = open_conversation(&app, acme.account, token, acme.inbox, acme.contact).await;
    let hidden = open_conversation(&app, acme.account, token, other, acme.contact).await;
    for n in 0..30 {
        let draft = messages::Draft {
            content: Some(format!("note {n} with some words to weigh the page")),
            private: true,
            ..Default::default()
        };
        messages::send(&f.state, &admin, theirs, draft).await?;
    }
    sessions::set_password(f.store(), "agent@acme.example", PASSWORD).await?;
    sessions::set_password(f.store(), "admin@acme.example", PASSWORD).await?;
    let agent = sessions::sign_in(&f.state, "agent@acme.example", PASSWORD, None).await?;
    let boss = sessions::sign_in(&f.state, "admin@acme.example", PASSWORD, None).await?;
    let a = acme.account;

    let mine = send(
        &app,
        get(
            &format!("/app/accounts/{a}/conversations/{theirs}"),
            Some(&agent.token),
        ),
    )
    .await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(mine.body.contains("note 29"));
    // The newest 20 first; older ones through the `before` cursor.
    let shown = |body: &str, n: u32| body.contains(&format!("<p class=\"content\">note {n} "));
    assert!(
        shown(&mine.body, 29) && !shown(&mine.body, 9),
        "note 9 is on the older page"
    );
    let older = mine
        .body
        .split('"')
        .find(|s| s.contains("?before="))
        .expect("an Older messages link")
        .to_owned();
    let page = send(&app, get(&older, Some(&agent.token))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(shown(&page.body, 0) && shown(&page.body, 9) && !shown(&page.body, 29));
    for path in [
        format!("/app/accounts/{a}/conversations/{hidden}"),
        format!("/app/accounts/{a}/settings/inboxes/{}", acme.inbox),
        format!("/app/accounts/{a}/settings/inboxes/new/{}/agents", acme.inbox),
        format!("/app/accounts/{a}/onboarding/inbox-setup"),
        format!("/app/accounts/{a}/settings/inboxes/new/tiktok?error_message=x"),
        format!("/app/accounts/{}/conversations", a + 1000),
    ] {
        let answer = send(&app, get(&path, Some(&agent.token))).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(answer.header("content-type").starts_with("text/html"));
    }
    let list = send(
        &app,
        get(
            &format!("/app/accounts/{a}/conversations?status=all"),
            Some(&agent.token),
        ),
    )
    .await;
    assert!(list.body.contains(&format!("data-conversation=\"{theirs}\"")));
    assert!(!list.body.contains(&format!("data-conversation=\"{hidden}\"")));
    // Administrators see them.
    for path in [
        format!("/app/accounts/{a}/conversations/{hidden}"),
        format!("/app/accounts/{a}/settings/inboxes/{other}"),
        format!("/app/accounts/{a}/onboarding/inbox-setup"),
    ] {
        assert_eq!(
            send(&app, get(&path, Some(&boss.token))).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    let failed = send(
        &app,
        get(
            &format!("/app/accounts/{a}/settings/inboxes/new/tiktok?error_type=access_denied&code=400&error_message=User+%3Cb%3Ecancelled%3C%2Fb%3E"),
            Some(&boss.token),
        ),
    )
    .await;
    assert!(
        failed.body.contains("User &lt;b&gt;cancelled&lt;/b&gt;"),
        "{}",
        failed.body
    );

    // The conversation page with its assets stays under 200 KB before compression.
    let css = asset_url(&mine.body, "app.", ".css");
    let js = asset_url(&mine.body, "app.", ".js");
    let mut total = mine.body.len();
    for url in [css, js] {
        total += send(&app, get(&url, None)).await.body.len();
    }
    assert!(total < 200 * 1024, "conversation page weighs {total} bytes");
    Ok(())
}

/// The hashed URL of an asset in a page's HTML.
fn asset_url(html: &str, stem: &str, ext: &str) -> String {
    html.split('"')
        .find(|s| s.starts_with(&format!("/assets/{stem}")) && s.ends_with(ext))
        .unwrap_or_else(|| panic!("no {stem}*{ext} in the page"))
        .to_owned()
}

async fn assets_are_hashed_compressed_and_cached(backend: Backend) -> anyhow::Result<()> {
    let f = Fixture::new(backend).await?;
    let app = f.router();
    let login = send(&app, get("/app/login", None)).await;
    let css = asset_url(&login.body, "app.", ".css");
    assert!(
        css.len() > "/assets/app..css".len() + 8,
        "a hash in the name: {css}"
    );
    let plain = send(&app, get(&css, None)).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(plain.header("content-type").starts_with("text/css"));
    assert_eq!(
        plain.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let gz = Request::get(&css)
        .header("accept-encoding", "gzip, br")
        .body(Body::empty())
        .unwrap();
    let gz = send(&app, gz).await;
    assert_eq!(gz.header("content-encoding"), "gzip");
    assert!(gz.body.len() < plain.body.len());
    let js = asset_url(&login.body, "app.", ".js");
    assert!(
        send(&app, get(&js, None))
            .await
            .header("content-type")
            .starts_with("text/javascript")
    );
    assert_eq!(
        send(&app, get("/assets/app.0000.css", None)).await.status,
        StatusCode::NOT_FOUND
    );
    Ok(())
}

async fn sign_in_is_rate_limited_by_address(backend: Backend) -> anyhow::Result<()> {
    let f = Fixture::new(backend).await?;
    f.acme().await?;
    sessions::set_password(f.store(), "admin@acme.example", PASSWORD).await?;
    let app = f.router();
    let from = |addr: &str, email: &str, password: &str| {
        let mut r = json_post("/auth/sign_in", &json!({ "email": email, "password": password }));
        r.extensions_mut()
            .insert(ConnectInfo(addr.parse::<SocketAddr>().unwrap()));
        r
    };
    // Twenty wrong guesses spread over accounts from one address…
    for n in 0..sessions::MAX_FAILURES_PER_ADDRESS {
        let answer = send(
            &app,
            from("10.0.0.1:1000", &format!("u{n}@x.example"), "guess guess"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    // …and that address is refused even with the right password; another is not.
    let blocked = send(&app, from("10.0.0.1:1001", "admin@acme.example", PASSWORD)).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS, "{}", blocked.body);
    let other = send(&app, from("10.0.0.2:1000", "admin@acme.example", PASSWORD)).await;
    assert_eq!(other.status, StatusCode::OK);
    Ok(())
}

async fn expired_sessions_and_old_refusals_are_swept(backend: Backend) -> anyhow::Result<()> {
    let f = Fixture::new(backend).await?;
    f.acme().await?;
    sessions::set_password(f.store(), "admin@acme.example", PASSWORD).await?;
    let signed = sessions::sign_in(&f.state, "admin@acme.example", PASSWORD, None).await?;
    for _ in 0..3 {
        let refused = sessions::sign_in(&f.state, "nobody@acme.example", "guess guess", None).await;
        assert!(refused.is_err());
    }
    let now = switchboard::store::now_ms();
    // Nothing has ended yet: nothing goes.
    assert_eq!(sessions::sweep(f.store(), now).await?, (0, 0));
    assert!(sessions::session(&f.state, &signed.token).await?.is_some());
    // Past the refusals' window they go; past the session's end it goes too,
    // though nobody came back with it.
    let later = now + sessions::FAILURE_WINDOW_MS + 1000;
    assert_eq!(sessions::sweep(f.store(), later).await?, (0, 3));
    let ended = signed.expires_at + 1;
    assert_eq!(sessions::sweep(f.store(), ended).await?, (1, 0));
    assert!(sessions::session(&f.state, &signed.token).await?.is_none());
    Ok(())
}
