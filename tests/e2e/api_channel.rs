//! The API channel end to end: the real binary running the bundled
//! `api-channel` plugin. A signed webhook brings a system's messages in; an
//! agent's reply reaches a mock receiver (an axum server in this file) as
//! signed JSON with an `Idempotency-Key`; status webhooks move the reply on.
//! On SQLite and PostgreSQL.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard_e2e::{Answer, Backend, Env, Server};

switchboard_e2e::on_both_databases!(
    messages_flow_both_ways,
    webhooks_that_are_not_genuine_are_refused,
    receiver_failures_fail_or_retry,
    the_receivers_origin_needs_a_grant,
    attachments_travel_inline_up_to_the_hosts_request_cap,
);

/// The plugin id (`api` is reserved by the host for its own routes).
const PLUGIN: &str = "api-channel";
const SIGNING_SECRET: &str = "in-secret-0123456789";
const OUTBOUND_SECRET: &str = "out-secret-9876543210";
/// The account id the inbox binds to (the plugin's `account_id` setting).
const ACCOUNT: &str = "acme-crm";

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn hmac_hex(secret: &str, t: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// `X-Switchboard-Signature` for `body` at `t`.
fn sign(secret: &str, t: u64, body: &[u8]) -> String {
    format!("t={t},v1={}", hmac_hex(secret, t, body))
}

/// What the mock receiver got in one request.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON reply")
    }
}

/// The system on the other side: records every reply POSTed to `/replies`
/// and answers from a script, then `200 {"message_id": "crm-<n>"}`.
struct Receiver {
    origin: String,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<(u16, Value)>>>,
}

impl Receiver {
    async fn start() -> anyhow::Result<Self> {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script: Arc<Mutex<VecDeque<(u16, Value)>>> = Arc::default();
        let (log, answers) = (received.clone(), script.clone());
        let app = axum::Router::new()
            .route(
                "/replies",
                axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let (log, answers) = (log.clone(), answers.clone());
                    async move {
                        let n = {
                            let mut log = log.lock().unwrap();
                            log.push(Received {
                                headers: headers
                                    .iter()
                                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                                    .collect(),
                                body: body.to_vec(),
                            });
                            log.len()
                        };
                        let (status, answer) = answers
                            .lock()
                            .unwrap()
                            .pop_front()
                            .unwrap_or_else(|| (200, json!({ "message_id": format!("crm-{n}") })));
                        (
                            axum::http::StatusCode::from_u16(status).unwrap(),
                            axum::Json(answer),
                        )
                    }
                }),
            )
            .layer(axum::extract::DefaultBodyLimit::max(64 << 20));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            origin,
            received,
            script,
        })
    }

    fn url(&self) -> String {
        format!("{}/replies", self.origin)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The next answers, before the default.
    fn answer_next(&self, status: u16, body: Value) {
        self.script.lock().unwrap().push_back((status, body));
    }
}

/// A server with the API channel configured and pointed at the receiver, an
/// account with an administrator, and an API inbox bound to `ACCOUNT`.
struct Fixture {
    env: Env,
    receiver: Receiver,
    server: Server,
    account: i64,
    admin: String,
    super_admin: String,
    inbox: i64,
}

async fn fixture(backend: Backend, grant: bool) -> anyhow::Result<Fixture> {
    fixture_with(backend, grant, &[]).await
}

/// [`fixture`] with more of the server's environment.
async fn fixture_with(backend: Backend, grant: bool, vars: &[(&str, &str)]) -> anyhow::Result<Fixture> {
    let mut env = Env::new(backend).await?;
    env.vars
        .push(("SWITCHBOARD_DELIVERY_BACKOFF_MS".into(), "50".into()));
    env.vars
        .extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let receiver = Receiver::start().await?;
    // The bundled plugin is installed by the first start; settings and
    // grants made before a server starts are in effect from its first request.
    drop(env.serve().await?);
    let settings = [
        ("API_CHANNEL_SIGNING_SECRET", SIGNING_SECRET.to_owned()),
        ("API_CHANNEL_OUTBOUND_URL", receiver.url()),
        ("API_CHANNEL_OUTBOUND_SECRET", OUTBOUND_SECRET.to_owned()),
        ("API_CHANNEL_ACCOUNT_ID", ACCOUNT.to_owned()),
    ];
    for (key, value) in &settings {
        let out = env.cli(&["config", "set", key, value]);
        assert_eq!(out.code, 0, "config set {key}: {}", out.stderr);
    }
    if grant {
        let out = env.cli(&["plugin", "grant-host", PLUGIN, &receiver.origin]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let listed = env.cli_json(&["config", "list", "--json"]);
    let secret_shown = listed
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e.to_string().contains(SIGNING_SECRET));
    assert!(!secret_shown, "secrets are never shown back: {listed}");

    let server = env.serve().await?;
    let (account, admin) = env.account_with_admin("Acme", "admin@acme.example");
    let super_admin = env.super_admin_token();
    let created = server
        .post_json(
            &format!("/api/v1/accounts/{account}/inboxes"),
            Some(&admin),
            &json!({ "name": "CRM", "channel": { "type": PLUGIN, "external_id": ACCOUNT } }),
        )
        .await?;
    assert_eq!(created.status, 200, "{:?}", created.json);
    assert_eq!(created.json["channel_type"], "Channel::Api");
    assert_eq!(created.json["external_id"], ACCOUNT);
    let inbox = created.json["id"].as_i64().unwrap();
    Ok(Fixture {
        env,
        receiver,
        server,
        account,
        admin,
        super_admin,
        inbox,
    })
}

/// A contact's message as the system posts it.
fn message(conversation: &str, contact: &str, id: &str, text: &str) -> Value {
    json!({
        "type": "message",
        "conversation_id": conversation,
        "contact": { "id": contact, "name": format!("Contact {contact}") },
        "message": { "id": id, "text": text },
    })
}

impl Fixture {
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/accounts/{}{rest}", self.account)
    }

    /// Posts `body` to the webhook, signed now with the signing secret.
    async fn deliver(&self, body: &Value) -> anyhow::Result<Answer> {
        let body = serde_json::to_vec(body)?;
        let signature = sign(SIGNING_SECRET, now_secs(), &body);
        self.server
            .post_webhook(
                &format!("/webhooks/{PLUGIN}"),
                &[("X-Switchboard-Signature", &signature)],
                body,
            )
            .await
    }

    async fn conversations(&self) -> anyhow::Result<Vec<Value>> {
        self.server.conversations(self.account, &self.admin).await
    }

    async fn messages(&self, display_id: i64) -> anyhow::Result<Vec<Value>> {
        self.server.messages(self.account, display_id, &self.admin).await
    }

    async fn events(&self, status: &str) -> anyhow::Result<Vec<Value>> {
        self.server.inbound_events(status, &self.super_admin).await
    }

    /// A conversation opened by a contact's first message; its display id.
    async fn inbound_conversation(&self, conversation: &str, contact: &str) -> anyhow::Result<i64> {
        let hello = message(conversation, contact, &format!("in-{conversation}"), "hello");
        assert_eq!(self.deliver(&hello).await?.status, 200);
        let name = format!("Contact {contact}");
        self.server
            .wait_for("the inbound conversation", 200, || async {
                Ok(self
                    .conversations()
                    .await?
                    .iter()
                    .find(|c| c["meta"]["sender"]["name"] == name.as_str())
                    .and_then(|c| c["id"].as_i64()))
            })
            .await
    }

    async fn reply(&self, display_id: i64, text: &str) -> anyhow::Result<i64> {
        let sent = self
            .server
            .post_json(
                &self.path(&format!("/conversations/{display_id}/messages")),
                Some(&self.admin),
                &json!({ "content": text }),
            )
            .await?;
        assert_eq!(sent.status, 200, "{:?}", sent.json);
        Ok(sent.json["id"].as_i64().unwrap())
    }

    /// Waits until message `id` reaches `status` and answers it.
    async fn wait_status(&self, display_id: i64, id: i64, status: &str) -> anyhow::Result<Value> {
        self.server
            .wait_for(&format!("message {id} {status}"), 300, || async {
                Ok(self
                    .messages(display_id)
                    .await?
                    .into_iter()
                    .find(|m| m["id"] == id && m["status"] == status))
            })
            .await
    }

    /// Waits until the receiver accepted message `id` (status `sent` with the
    /// receiver's id: a reply waiting for delivery is `sent` too, without one).
    async fn wait_sent(&self, display_id: i64, id: i64) -> anyhow::Result<Value> {
        self.server
            .wait_for(&format!("message {id} accepted"), 300, || async {
                Ok(self
                    .messages(display_id)
                    .await?
                    .into_iter()
                    .find(|m| m["id"] == id && m["status"] == "sent" && m["source_id"].is_string()))
            })
            .await
    }

    /// Waits until the receiver has `n` requests and answers them.
    async fn wait_received(&self, n: usize) -> anyhow::Result<Vec<Received>> {
        self.server
            .eventually(&format!("{n} replies at the receiver"), 300, || async {
                Ok(self.receiver.received().len() >= n)
            })
            .await?;
        Ok(self.receiver.received())
    }

    /// Sends a multipart reply with these (name, MIME type, bytes) files.
    async fn reply_with_files(
        &self,
        display_id: i64,
        text: &str,
        files: &[(&str, &str, Vec<u8>)],
    ) -> anyhow::Result<Answer> {
        let mut form = reqwest::multipart::Form::new().text("content", text.to_owned());
        for (name, mime, bytes) in files {
            form = form.part(
                "attachments[]",
                reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name(name.to_string())
                    .mime_str(mime)?,
            );
        }
        self.server
            .post_multipart(
                &self.path(&format!("/conversations/{display_id}/messages")),
                Some(&self.admin),
                form,
            )
            .await
    }
}

/// Checks the receiver's copy of a reply: signed with the outbound secret
/// over the exact body, fresh.
fn assert_signed(received: &Received) {
    let header = received
        .header("x-switchboard-signature")
        .expect("a signed reply");
    let (t, v1) = header.split_once(",v1=").expect("t=…,v1=…");
    let t: u64 = t.strip_prefix("t=").unwrap().parse().unwrap();
    assert_eq!(
        v1,
        hmac_hex(OUTBOUND_SECRET, t, &received.body),
        "the signature covers the body"
    );
    assert!(now_secs().abs_diff(t) < 120, "a fresh timestamp");
}

async fn messages_flow_both_ways(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend, true).await?;

    // The handshake: a signed GET with a challenge is answered with it, as
    // text, and stores nothing.
    let challenge = reqwest::Client::new()
        .get(format!("{}/webhooks/{PLUGIN}?challenge=hello-123", f.server.base))
        .header("X-Switchboard-Signature", sign(SIGNING_SECRET, now_secs(), b""))
        .send()
        .await?;
    assert_eq!(challenge.status(), 200);
    assert!(
        challenge.headers()["content-type"]
            .to_str()?
            .starts_with("text/plain")
    );
    assert_eq!(challenge.text().await?, "hello-123");

    // A contact's message opens a conversation in the inbox bound to the
    // account id; a redelivery (other bytes, same message id) adds nothing.
    let mut hello = message("conv-1", "user-1", "msg-1", "Hello from the CRM");
    hello["contact"]["email"] = json!("ada@example.com");
    hello["message"]["attachments"] = json!([
        { "url": "https://cdn.example/photo.png", "kind": "image", "mime_type": "image/png", "file_name": "photo.png" },
        { "url": "https://cdn.example/terms.pdf", "mime_type": "application/pdf" },
    ]);
    assert_eq!(f.deliver(&hello).await?.status, 200);
    hello["redelivered"] = json!(true);
    assert_eq!(f.deliver(&hello).await?.status, 200);
    let conversation = f
        .server
        .wait_for("the conversation", 200, || async {
            Ok(f.conversations().await?.into_iter().next())
        })
        .await?;
    let display = conversation["id"].as_i64().unwrap();
    assert_eq!(conversation["inbox_id"], f.inbox);
    assert_eq!(conversation["can_reply"], true);
    assert_eq!(conversation["meta"]["sender"]["name"], "Contact user-1");
    f.server
        .eventually("both deliveries applied", 200, || async {
            Ok(f.events("pending").await?.is_empty())
        })
        .await?;
    let messages = f.messages(display).await?;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let inbound = &messages[0];
    assert_eq!(
        (
            inbound["content"].as_str(),
            inbound["message_type"].as_i64(),
            inbound["source_id"].as_str()
        ),
        (Some("Hello from the CRM"), Some(0), Some("msg-1"))
    );
    let attachments = inbound["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 2);
    assert_eq!(
        (
            attachments[0]["file_type"].as_str(),
            attachments[0]["data_url"].as_str()
        ),
        (Some("image"), Some("https://cdn.example/photo.png"))
    );
    assert_eq!(
        (
            attachments[1]["file_type"].as_str(),
            attachments[1]["data_url"].as_str()
        ),
        (Some("file"), Some("https://cdn.example/terms.pdf"))
    );

    // An agent's reply reaches the receiver as signed JSON, with the
    // idempotency key in a header and in the body; the receiver's id is
    // recorded and the reply is `sent`.
    let reply = f.reply(display, "Hi Ada, how can I help?").await?;
    let sent = f.wait_sent(display, reply).await?;
    let received = f.wait_received(1).await?;
    let post = &received[0];
    assert_signed(post);
    assert_eq!(post.header("content-type"), Some("application/json"));
    let key = post.header("idempotency-key").expect("an Idempotency-Key");
    let body = post.json();
    assert_eq!(body["idempotency_key"], key);
    assert_eq!(body["account_id"], ACCOUNT);
    assert_eq!(body["conversation_id"], "conv-1");
    assert_eq!(body["recipient_id"], "conv-1");
    assert_eq!(body["text"], "Hi Ada, how can I help?");
    assert_eq!(body["attachments"], json!([]));
    assert_eq!(sent["source_id"], "crm-1");

    // Status webhooks name the receiver's id: delivered, then read.
    for status in ["delivered", "read"] {
        let update = json!({ "type": "status", "message_id": "crm-1", "status": status });
        assert_eq!(f.deliver(&update).await?.status, 200);
        f.wait_status(display, reply, status).await?;
    }

    // A reply with a file: its bytes travel base64-encoded in the JSON.
    let pdf = b"%PDF-1.4 not really".to_vec();
    let with_file = f
        .reply_with_files(
            display,
            "The invoice",
            &[("invoice.pdf", "application/pdf", pdf.clone())],
        )
        .await?;
    assert_eq!(with_file.status, 200, "{:?}", with_file.json);
    f.wait_sent(display, with_file.json["id"].as_i64().unwrap())
        .await?;
    let post = f.wait_received(2).await?.remove(1);
    assert_signed(&post);
    let body = post.json();
    assert_eq!(body["text"], "The invoice");
    let file = &body["attachments"][0];
    assert_eq!(
        (
            file["kind"].as_str(),
            file["file_name"].as_str(),
            file["mime_type"].as_str()
        ),
        (Some("file"), Some("invoice.pdf"), Some("application/pdf"))
    );
    let bytes = base64::engine::general_purpose::STANDARD.decode(file["data_base64"].as_str().unwrap())?;
    assert_eq!(bytes, pdf);
    assert_ne!(post.header("idempotency-key"), Some(key), "one key per reply");

    // The system's own message (an echo) is shown as outgoing; other event
    // types are kept as ignored with their reason.
    let mut echo = message("conv-1", "user-1", "crm-own-1", "Sent from the CRM itself");
    echo["type"] = json!("echo");
    assert_eq!(f.deliver(&echo).await?.status, 200);
    let typing = json!({ "type": "typing", "conversation_id": "conv-1" });
    assert_eq!(f.deliver(&typing).await?.status, 200);
    let messages = f
        .server
        .wait_for("the echo", 200, || async {
            let messages = f.messages(display).await?;
            Ok((messages.len() == 4).then_some(messages))
        })
        .await?;
    let echoed = messages.iter().find(|m| m["source_id"] == "crm-own-1").unwrap();
    assert_eq!(echoed["message_type"], 1);
    assert_eq!(echoed["content_attributes"]["external_echo"], true);
    f.server
        .eventually("the ignored event", 200, || async {
            Ok(f.events("ignored")
                .await?
                .iter()
                .any(|e| e["reason"].as_str().is_some_and(|r| r.contains("`typing`"))))
        })
        .await?;

    // An event for an account no inbox is bound to is ignored, naming it.
    let mut stranger = message("conv-9", "user-9", "msg-9", "hi");
    stranger["account_id"] = json!("someone-else");
    assert_eq!(f.deliver(&stranger).await?.status, 200);
    f.server
        .eventually("the unrouted event", 200, || async {
            Ok(f.events("ignored")
                .await?
                .iter()
                .any(|e| e["reason"].as_str().is_some_and(|r| r.contains("someone-else"))))
        })
        .await?;
    assert_eq!(f.conversations().await?.len(), 1, "nothing else was created");

    // Signed but malformed: acknowledged, kept as failed with the reason.
    let malformed = json!({ "type": "message", "conversation_id": "conv-1" });
    assert_eq!(f.deliver(&malformed).await?.status, 200);
    f.server
        .eventually("the failed event", 200, || async {
            Ok(!f.events("failed").await?.is_empty())
        })
        .await?;
    Ok(())
}

async fn webhooks_that_are_not_genuine_are_refused(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend, true).await?;
    let body = serde_json::to_vec(&message("conv-1", "user-1", "msg-1", "hi"))?;
    let now = now_secs();
    let cases: Vec<(&str, String)> = vec![
        ("a forged signature", format!("t={now},v1={}", "0".repeat(64))),
        ("another secret", sign("not-the-secret", now, &body)),
        ("the outbound secret", sign(OUTBOUND_SECRET, now, &body)),
        ("a stale timestamp", sign(SIGNING_SECRET, now - 301, &body)),
        (
            "a timestamp from the future",
            sign(SIGNING_SECRET, now + 60, &body),
        ),
        ("a malformed header", "nonsense".into()),
        (
            "another scheme's key",
            format!("t={now},s={}", hmac_hex(SIGNING_SECRET, now, &body)),
        ),
    ];
    let path = format!("/webhooks/{PLUGIN}");
    for (case, header) in &cases {
        let answer = f
            .server
            .post_webhook(&path, &[("X-Switchboard-Signature", header)], body.clone())
            .await?;
        assert_eq!(answer.status, 401, "{case}: {:?}", answer.json);
    }
    let unsigned = f.server.post_webhook(&path, &[], body.clone()).await?;
    assert_eq!(unsigned.status, 401);
    // A handshake needs a valid signature too, and a challenge.
    let http = reqwest::Client::new();
    let forged = http
        .get(format!("{}{path}?challenge=x", f.server.base))
        .header("X-Switchboard-Signature", sign("not-the-secret", now, b""))
        .send()
        .await?;
    assert_eq!(forged.status(), 401);
    let no_challenge = http
        .get(format!("{}{path}", f.server.base))
        .header("X-Switchboard-Signature", sign(SIGNING_SECRET, now, b""))
        .send()
        .await?;
    assert_eq!(no_challenge.status(), 401);

    let all = f.server.get("/api/v1/admin/events", Some(&f.super_admin)).await?;
    assert_eq!(
        all.json.as_array().unwrap().len(),
        0,
        "nothing stored: {:?}",
        all.json
    );
    assert!(f.conversations().await?.is_empty());
    // The genuine one still passes.
    let signature = sign(SIGNING_SECRET, now, &body);
    let genuine = f
        .server
        .post_webhook(&path, &[("X-Switchboard-Signature", &signature)], body)
        .await?;
    assert_eq!(genuine.status, 200);
    Ok(())
}

async fn receiver_failures_fail_or_retry(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend, true).await?;
    let display = f.inbound_conversation("conv-1", "user-1").await?;

    // A refusal that retrying cannot fix fails at once, with the receiver's
    // reason, after one request.
    f.receiver
        .answer_next(422, json!({ "error": "unknown conversation" }));
    let refused = f.reply(display, "one").await?;
    let failed = f.wait_status(display, refused, "failed").await?;
    assert_eq!(
        failed["content_attributes"]["external_error"],
        "422: unknown conversation"
    );
    assert_eq!(f.receiver.received().len(), 1);

    // The receiver failing for a while (503, then 429) is retried until it
    // passes, with the same Idempotency-Key on every attempt.
    f.receiver.answer_next(503, json!({ "error": "maintenance" }));
    f.receiver.answer_next(429, json!({}));
    let flaky = f.reply(display, "two").await?;
    let sent = f.wait_sent(display, flaky).await?;
    let attempts: Vec<Received> = f
        .receiver
        .received()
        .into_iter()
        .filter(|r| r.json()["text"] == "two")
        .collect();
    assert_eq!(attempts.len(), 3, "two failures, one success");
    let keys: Vec<_> = attempts.iter().map(|r| r.header("idempotency-key")).collect();
    assert!(
        keys[0].is_some() && keys.iter().all(|k| *k == keys[0]),
        "{keys:?}"
    );
    assert_eq!(sent["source_id"], "crm-4");

    // An agent's retry of the failed reply sends it again, once.
    let retry = f
        .server
        .post_json(
            &f.path(&format!("/conversations/{display}/messages/{refused}/retry")),
            Some(&f.admin),
            &json!({}),
        )
        .await?;
    assert_eq!(retry.status, 200, "{:?}", retry.json);
    f.wait_sent(display, refused).await?;
    assert_eq!(
        f.receiver
            .received()
            .iter()
            .filter(|r| r.json()["text"] == "one")
            .count(),
        2
    );

    // A failed status webhook fails the reply with the receiver's reason.
    let update =
        json!({ "type": "status", "message_id": "crm-4", "status": "failed", "error": "mailbox full" });
    assert_eq!(f.deliver(&update).await?.status, 200);
    let failed = f.wait_status(display, flaky, "failed").await?;
    assert_eq!(failed["content_attributes"]["external_error"], "mailbox full");
    Ok(())
}

async fn the_receivers_origin_needs_a_grant(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend, false).await?;
    let display = f.inbound_conversation("conv-1", "user-1").await?;
    let reply = f.reply(display, "hello?").await?;
    let failed = f.wait_status(display, reply, "failed").await?;
    let error = failed["content_attributes"]["external_error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.contains(&format!(
            "switchboard plugin grant-host {PLUGIN} {}",
            f.receiver.origin
        )),
        "the failure names the command that allows the receiver: {error}"
    );
    assert!(f.receiver.received().is_empty(), "the host sent nothing");

    // The admin grants the origin; retrying the reply now reaches it.
    let out = f.env.cli(&["plugin", "grant-host", PLUGIN, &f.receiver.origin]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    f.server
        .eventually("the grant to reach the server", 200, || async {
            let retry = f
                .server
                .post_json(
                    &f.path(&format!("/conversations/{display}/messages/{reply}/retry")),
                    Some(&f.admin),
                    &json!({}),
                )
                .await?;
            assert_eq!(retry.status, 200, "{:?}", retry.json);
            for _ in 0..40 {
                let messages = f.messages(display).await?;
                let message = messages
                    .iter()
                    .find(|m| m["id"] == reply)
                    .cloned()
                    .unwrap_or_default();
                match message["status"].as_str() {
                    Some("sent") if message["source_id"].is_string() => return Ok(true),
                    Some("failed") => return Ok(false),
                    _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                }
            }
            Ok(false)
        })
        .await?;
    assert_eq!(f.receiver.received().len(), 1);
    Ok(())
}

async fn attachments_travel_inline_up_to_the_hosts_request_cap(backend: Backend) -> anyhow::Result<()> {
    // What is tested is the request cap, not the deadline: a debug build
    // base64-encodes 10 MiB inside the sandbox in about 5 s on a loaded
    // 2-core machine, the default deadline, so this test gives it 30.
    let f = fixture_with(backend, true, &[("SWITCHBOARD_PLUGIN_TIMEOUT_MS", "30000")]).await?;
    let display = f.inbound_conversation("conv-1", "user-1").await?;

    // The channel's largest attachment (10 MiB) fits one call: within the
    // default 64 MiB memory cap and the host's 16 MiB request cap once
    // base64-encoded.
    let big: Vec<u8> = (0..10u32 << 20).map(|i| (i % 251) as u8).collect();
    let answer = f
        .reply_with_files(
            display,
            "",
            &[("big.bin", "application/octet-stream", big.clone())],
        )
        .await?;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    f.wait_sent(display, answer.json["id"].as_i64().unwrap()).await?;
    let post = f.wait_received(1).await?.remove(0);
    assert_signed(&post);
    let body = post.json();
    let data = base64::engine::general_purpose::STANDARD
        .decode(body["attachments"][0]["data_base64"].as_str().unwrap())?;
    assert_eq!(data.len(), big.len());
    assert!(data == big);

    // The host checks each attachment, not a message's total: two 7 MiB
    // files pass its checks but make a request over its 16 MiB cap, so the
    // reply fails, saying so, without retrying.
    let seven = vec![b'x'; 7 << 20];
    let answer = f
        .reply_with_files(
            display,
            "two files",
            &[
                ("a.bin", "application/octet-stream", seven.clone()),
                ("b.bin", "application/octet-stream", seven),
            ],
        )
        .await?;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    let failed = f
        .wait_status(display, answer.json["id"].as_i64().unwrap(), "failed")
        .await?;
    let error = failed["content_attributes"]["external_error"].as_str().unwrap();
    assert!(error.contains("size cap"), "{error}");
    assert_eq!(
        f.receiver.received().len(),
        1,
        "nothing more reached the receiver"
    );

    // Over the channel's 10 MiB per attachment: refused before anything is stored.
    let too_big = f
        .reply_with_files(
            display,
            "",
            &[("huge.bin", "application/octet-stream", vec![0; (10 << 20) + 1])],
        )
        .await?;
    assert_eq!(too_big.status, 422, "{:?}", too_big.json);
    Ok(())
}
