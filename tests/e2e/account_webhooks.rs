//! Outgoing account webhooks through the real binary, on SQLite and
//! PostgreSQL: administrators (only) manage them, events arrive signed in
//! Chatwoot's shapes at a receiver on loopback (allowed by the server's
//! setting), a 500 is retried, an endless 500 is dead-lettered after the
//! attempt limit, and without the setting private addresses are refused
//! when saved and when sent. A delivery is written in the transaction of
//! the change it reports (a delivery that cannot be written fails the
//! change; a refused change leaves none), its payload says what changed
//! (`changed_attributes`), and one left unrendered by its writer is rendered
//! by the worker that sends it. An API inbox's `webhook_url` (Chatwoot's
//! `{"channel": {"type": "api", "webhook_url": …}}`) is shown on the inbox,
//! changed and removed with it, and hears its messages.

use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard_e2e::{Backend, Env, PROBE_V1, Server};

switchboard_e2e::on_both_databases!(
    events_reach_subscribed_webhooks_signed_retried_and_dead_lettered,
    deliveries_commit_with_their_change_and_say_what_changed,
    an_api_inbox_webhook_url_hears_its_messages,
);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    signature: String,
    timestamp: String,
    delivery: String,
    body: String,
}

/// A webhook receiver on loopback: `/ok` answers 200, `/flaky` 500 the first
/// time it sees a delivery and 200 after, `/down` always 500.
struct Receiver {
    origin: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> anyhow::Result<Self> {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = got.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
                let log = log.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let received = Received {
                        path: uri.path().to_owned(),
                        signature: header("x-chatwoot-signature"),
                        timestamp: header("x-chatwoot-timestamp"),
                        delivery: header("x-chatwoot-delivery"),
                        body,
                    };
                    let mut log = log.lock().unwrap();
                    let seen_before = log
                        .iter()
                        .any(|r| r.path == received.path && r.delivery == received.delivery);
                    let status = match received.path.as_str() {
                        "/ok" => 200,
                        "/flaky" if seen_before => 200,
                        _ => 500,
                    };
                    log.push(received);
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { origin, got })
    }

    fn at(&self, path: &str) -> Vec<Received> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

/// Chatwoot's signature check, as a receiver writes it.
fn signed_by(secret: &str, r: &Received) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{}.{}", r.timestamp, r.body).as_bytes());
    r.signature == format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn payload(r: &Received) -> Value {
    serde_json::from_str(&r.body).expect("a JSON payload")
}

struct Webhooks<'a> {
    server: &'a Server,
    account: i64,
    admin: &'a str,
}

impl Webhooks<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/accounts/{}{rest}", self.account)
    }

    /// Creates a webhook; answers it as the API shows it.
    async fn create(&self, url: &str, subscriptions: &[&str]) -> anyhow::Result<Value> {
        let body = json!({ "webhook": { "url": url, "subscriptions": subscriptions } });
        let created = self
            .server
            .post_json(&self.path("/webhooks"), Some(self.admin), &body)
            .await?;
        assert_eq!(created.status, 200, "{:?}", created.json);
        Ok(created.json["payload"]["webhook"].clone())
    }

    async fn deliveries(&self, id: &Value) -> anyhow::Result<Vec<Value>> {
        let list = self
            .server
            .get(
                &self.path(&format!("/webhooks/{id}/deliveries")),
                Some(self.admin),
            )
            .await?;
        assert_eq!(list.status, 200, "{:?}", list.json);
        Ok(list.json["payload"].as_array().cloned().unwrap_or_default())
    }
}

async fn events_reach_subscribed_webhooks_signed_retried_and_dead_lettered(
    backend: Backend,
) -> anyhow::Result<()> {
    let mut env = Env::new(backend).await?;
    assert_eq!(env.cli(&["plugin", "install", PROBE_V1]).code, 0);
    let (account, admin) = env.account_with_admin("Acme", "admin@acme.example");
    let agent = env.cli_json(&[
        "user",
        "create",
        "--email",
        "agent@acme.example",
        "--account",
        &account.to_string(),
        "--json",
    ])["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let receiver = Receiver::start().await?;

    // Without the setting: loopback is refused when saved, by address and by name.
    let s = env.serve().await?;
    let hooks = Webhooks {
        server: &s,
        account,
        admin: &admin,
    };
    for url in [
        format!("{}/ok", receiver.origin),
        "http://localhost:9/ok".to_owned(),
    ] {
        let body = json!({ "webhook": { "url": url, "subscriptions": ["message_created"] } });
        let refused = s.post_json(&hooks.path("/webhooks"), Some(&admin), &body).await?;
        assert_eq!(refused.status, 422, "{url}: {:?}", refused.json);
        assert!(
            refused.json.to_string().contains("private or loopback"),
            "{:?}",
            refused.json
        );
    }
    drop(s);

    env.vars.extend([
        ("SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE".to_owned(), "true".to_owned()),
        ("SWITCHBOARD_DELIVERY_MAX_ATTEMPTS".to_owned(), "3".to_owned()),
        ("SWITCHBOARD_DELIVERY_BACKOFF_MS".to_owned(), "20".to_owned()),
    ]);
    let s = env.serve().await?;
    let hooks = Webhooks {
        server: &s,
        account,
        admin: &admin,
    };
    let path = |rest: &str| hooks.path(rest);

    // Administrators only; Chatwoot's subscriptions only.
    let body = json!({ "webhook": { "url": format!("{}/ok", receiver.origin), "subscriptions": ["message_created"] } });
    let refused = s.post_json(&path("/webhooks"), Some(&agent), &body).await?;
    // Chatwoot answers a refused role 401 with this message.
    assert_eq!(refused.status, 401, "{:?}", refused.json);
    assert_eq!(refused.json["error"], "You are not authorized to do this action");
    assert_eq!(s.get(&path("/webhooks"), Some(&agent)).await?.status, 401);
    let unknown =
        json!({ "webhook": { "url": format!("{}/ok", receiver.origin), "subscriptions": ["message_sent"] } });
    assert_eq!(
        s.post_json(&path("/webhooks"), Some(&admin), &unknown)
            .await?
            .status,
        422
    );
    let not_http =
        json!({ "webhook": { "url": "ftp://example.com/x", "subscriptions": ["message_created"] } });
    assert_eq!(
        s.post_json(&path("/webhooks"), Some(&admin), &not_http)
            .await?
            .status,
        422
    );

    let ok = hooks
        .create(
            &format!("{}/ok", receiver.origin),
            &["conversation_created", "message_created", "contact_created"],
        )
        .await?;
    let flaky = hooks
        .create(&format!("{}/flaky", receiver.origin), &["message_created"])
        .await?;
    let down = hooks
        .create(&format!("{}/down", receiver.origin), &["conversation_created"])
        .await?;
    assert_eq!(
        ok["subscriptions"],
        json!(["contact_created", "conversation_created", "message_created"])
    );
    let secret = ok["secret"].as_str().expect("a signing secret").to_owned();
    assert!(secret.len() >= 20, "{secret}");
    assert_ne!(flaky["secret"], ok["secret"], "each webhook has its own secret");
    let again = s.post_json(&path("/webhooks"), Some(&admin), &json!({ "webhook": { "url": format!("{}/ok", receiver.origin), "subscriptions": ["message_created"] } })).await?;
    assert_eq!(again.status, 422, "one webhook per URL: {:?}", again.json);
    let listed = s.get(&path("/webhooks"), Some(&admin)).await?;
    assert_eq!(
        listed.json["payload"]["webhooks"].as_array().map(Vec::len),
        Some(3)
    );

    // A contact, its conversation and a message, through the REST API.
    let inbox = s
        .post_json(
            &path("/inboxes"),
            Some(&admin),
            &json!({ "name": "Probe", "channel": { "type": "probe", "external_id": "probe-account" } }),
        )
        .await?
        .json["id"]
        .as_i64()
        .unwrap();
    let contact = s
        .post_json(
            &path("/contacts"),
            Some(&admin),
            &json!({ "name": "Ann", "email": "ann@example.com" }),
        )
        .await?
        .json["payload"]["contact"]["id"]
        .as_i64()
        .unwrap();
    let conversation = s
        .post_json(
            &path("/conversations"),
            Some(&admin),
            &json!({ "inbox_id": inbox, "contact_id": contact }),
        )
        .await?;
    let display_id = conversation.json["id"].as_i64().unwrap();
    let sent = s
        .post_json(
            &path(&format!("/conversations/{display_id}/messages")),
            Some(&admin),
            &json!({ "content": "Hello, hook" }),
        )
        .await?;
    assert_eq!(sent.status, 200, "{:?}", sent.json);

    s.eventually("the /ok webhook gets three events", 400, || async {
        Ok(receiver.at("/ok").len() >= 3)
    })
    .await?;
    // Two workers send in parallel: order by delivery, as queued.
    let mut got = receiver.at("/ok");
    got.sort_by_key(|r| r.delivery.parse::<i64>().unwrap_or_default());
    for r in &got {
        assert!(signed_by(&secret, r), "a bad signature: {r:?}");
        assert!(!signed_by(flaky["secret"].as_str().unwrap(), r));
    }
    let events: Vec<Value> = got.iter().map(payload).collect();
    let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["contact_created", "conversation_created", "message_created"]
    );
    let contact_event = &events[0];
    assert_eq!(
        (contact_event["id"].as_i64(), contact_event["name"].as_str()),
        (Some(contact), Some("Ann"))
    );
    assert_eq!(contact_event["account"], json!({ "id": account, "name": "Acme" }));
    let conversation_event = &events[1];
    assert_eq!(conversation_event["id"], display_id);
    assert_eq!(conversation_event["inbox_id"], inbox);
    assert_eq!(conversation_event["meta"]["sender"]["id"], contact);
    let message_event = &events[2];
    assert_eq!(message_event["id"], sent.json["id"]);
    assert_eq!(message_event["content"], "Hello, hook");
    assert_eq!(message_event["message_type"], "outgoing");
    assert_eq!(message_event["conversation"]["id"], display_id);
    assert_eq!(message_event["inbox"], json!({ "id": inbox, "name": "Probe" }));
    assert_eq!(message_event["account"], json!({ "id": account, "name": "Acme" }));

    // The flaky receiver answered 500 once, then took the same delivery.
    s.eventually("the flaky webhook's delivery is done", 400, || async {
        Ok(hooks
            .deliveries(&flaky["id"])
            .await?
            .first()
            .is_some_and(|d| d["state"] == "done"))
    })
    .await?;
    let flaky_got = receiver.at("/flaky");
    assert_eq!(flaky_got.len(), 2, "{flaky_got:?}");
    assert_eq!(flaky_got[0].delivery, flaky_got[1].delivery);
    assert_eq!(flaky_got[0].body, flaky_got[1].body);
    assert!(signed_by(flaky["secret"].as_str().unwrap(), &flaky_got[1]));
    let done = &hooks.deliveries(&flaky["id"]).await?[0];
    assert_eq!(
        (done["attempts"].as_i64(), done["last_status"].as_i64()),
        (Some(2), Some(200))
    );

    // The receiver that always fails: three attempts, then the dead letters.
    s.eventually("the failing webhook's delivery is dead", 400, || async {
        Ok(hooks
            .deliveries(&down["id"])
            .await?
            .first()
            .is_some_and(|d| d["state"] == "dead"))
    })
    .await?;
    let dead = &hooks.deliveries(&down["id"]).await?[0];
    assert_eq!(
        (
            dead["event"].as_str(),
            dead["attempts"].as_i64(),
            dead["last_status"].as_i64()
        ),
        (Some("conversation_created"), Some(3), Some(500))
    );
    assert_eq!(receiver.at("/down").len(), 3);

    // The contact writes twice through the channel (the pipeline's batched
    // apply): a new conversation, then a message into it.
    for text in ["text:From Ann's phone", "text:Still there?"] {
        let accepted = s
            .post_webhook(
                "/webhooks/probe",
                &[("x-probe-signature", "ok")],
                text.as_bytes().to_vec(),
            )
            .await?;
        assert_eq!(accepted.status, 200, "{:?}", accepted.json);
        let n = if text.starts_with("text:From") { 5 } else { 6 };
        s.eventually("the inbound events reach /ok", 400, || async {
            Ok(receiver.at("/ok").len() >= n)
        })
        .await?;
    }
    let mut inbound = receiver.at("/ok");
    inbound.sort_by_key(|r| r.delivery.parse::<i64>().unwrap_or_default());
    let inbound: Vec<Value> = inbound[3..].iter().map(payload).collect();
    assert_eq!(inbound[0]["event"], "conversation_created");
    let contact_conversation = inbound[0]["id"].as_i64().unwrap();
    assert_ne!(contact_conversation, display_id);
    for (event, text) in inbound[1..].iter().zip(["From Ann's phone", "Still there?"]) {
        assert_eq!(event["event"], "message_created");
        assert_eq!(event["message_type"], "incoming");
        assert_eq!(event["content"], text);
        // The contact who wrote it, rendered from the row the apply wrote.
        assert_eq!(
            (event["sender"]["type"].as_str(), event["sender"]["id"].is_i64()),
            (Some("contact"), true)
        );
        assert_eq!(event["conversation"]["id"], contact_conversation);
    }
    // /down took the new conversation too, and gave up on it as well.
    s.eventually("the second dead letter", 400, || async {
        let list = hooks.deliveries(&down["id"]).await?;
        Ok(list.len() == 2 && list.iter().all(|d| d["state"] == "dead"))
    })
    .await?;
    assert_eq!(receiver.at("/down").len(), 6);
    s.eventually("the flaky webhook took both inbound messages", 400, || async {
        let list = hooks.deliveries(&flaky["id"]).await?;
        Ok(list.len() == 3 && list.iter().all(|d| d["state"] == "done"))
    })
    .await?;
    assert_eq!(receiver.at("/flaky").len(), 6);

    // Changing subscriptions takes effect; a deleted webhook gets nothing more.
    let changed = s
        .send_patch(
            &path(&format!("/webhooks/{}", ok["id"])),
            &admin,
            &json!({ "webhook": { "subscriptions": ["message_updated"] } }),
        )
        .await?;
    assert_eq!(changed.status, 200, "{:?}", changed.json);
    assert_eq!(
        changed.json["payload"]["webhook"]["subscriptions"],
        json!(["message_updated"])
    );
    assert_eq!(changed.json["payload"]["webhook"]["secret"], ok["secret"]);
    let removed = s
        .delete(&path(&format!("/webhooks/{}", flaky["id"])), Some(&admin), None)
        .await?;
    assert_eq!(removed.status, 200);
    assert_eq!(
        s.delete(&path(&format!("/webhooks/{}", flaky["id"])), Some(&admin), None)
            .await?
            .status,
        404
    );
    let second = s
        .post_json(
            &path(&format!("/conversations/{display_id}/messages")),
            Some(&admin),
            &json!({ "content": "Second" }),
        )
        .await?;
    assert_eq!(second.status, 200);
    // The probe channel reports the send delivered: message_updated reaches /ok.
    s.eventually("message_updated reaches the changed webhook", 400, || async {
        Ok(receiver
            .at("/ok")
            .iter()
            .any(|r| payload(r)["event"] == "message_updated"))
    })
    .await?;
    assert!(
        receiver
            .at("/ok")
            .iter()
            .all(|r| payload(r)["content"] != "Second" || payload(r)["event"] != "message_created"),
        "the webhook no longer subscribes to message_created"
    );
    assert_eq!(receiver.at("/flaky").len(), 6, "a deleted webhook gets nothing");
    drop(s);

    // Without the setting again, a saved loopback webhook is refused at send
    // time: dead-lettered at once, never reached.
    env.vars
        .retain(|(k, _)| k != "SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE");
    let s = env.serve().await?;
    let hooks = Webhooks {
        server: &s,
        account,
        admin: &admin,
    };
    let before = receiver.at("/down").len();
    let contact = s
        .post_json(
            &hooks.path("/contacts"),
            Some(&admin),
            &json!({ "name": "Bob", "email": "bob@example.com" }),
        )
        .await?
        .json["payload"]["contact"]["id"]
        .as_i64()
        .unwrap();
    let opened = s
        .post_json(
            &hooks.path("/conversations"),
            Some(&admin),
            &json!({ "inbox_id": inbox, "contact_id": contact }),
        )
        .await?;
    assert_eq!(opened.status, 200);
    s.eventually("the private webhook's new delivery is dead", 400, || async {
        let list = hooks.deliveries(&down["id"]).await?;
        Ok(list.len() == 3 && list[0]["state"] == "dead")
    })
    .await?;
    let refused = &hooks.deliveries(&down["id"]).await?[0];
    assert_eq!(refused["attempts"], 1);
    assert!(
        refused["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("private"),
        "{refused}"
    );
    assert_eq!(
        receiver.at("/down").len(),
        before,
        "a refused address is never reached"
    );
    Ok(())
}

/// The count of `sql` (a `SELECT COUNT(*)`).
async fn count(db: &sqlx::AnyPool, sql: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(db).await?)
}

async fn deliveries_commit_with_their_change_and_say_what_changed(backend: Backend) -> anyhow::Result<()> {
    let mut env = Env::new(backend).await?;
    assert_eq!(env.cli(&["plugin", "install", PROBE_V1]).code, 0);
    let (account, admin) = env.account_with_admin("Acme", "admin@acme.example");
    env.vars
        .push(("SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE".to_owned(), "true".to_owned()));
    let receiver = Receiver::start().await?;
    let s = env.serve().await?;
    let hooks = Webhooks {
        server: &s,
        account,
        admin: &admin,
    };
    let path = |rest: &str| hooks.path(rest);
    let db = switchboard_e2e::database(&env).await?;
    let hook = hooks
        .create(
            &format!("{}/ok", receiver.origin),
            &[
                "conversation_created",
                "message_created",
                "conversation_status_changed",
                "conversation_updated",
            ],
        )
        .await?;
    let admin_id = s.get("/api/v1/profile", Some(&admin)).await?.json["id"]
        .as_i64()
        .unwrap();
    let inbox = s
        .post_json(
            &path("/inboxes"),
            Some(&admin),
            &json!({ "name": "Probe", "channel": { "type": "probe", "external_id": "probe-account" } }),
        )
        .await?
        .json["id"]
        .as_i64()
        .unwrap();
    let contact = s
        .post_json(&path("/contacts"), Some(&admin), &json!({ "name": "Ann" }))
        .await?
        .json["payload"]["contact"]["id"]
        .as_i64()
        .unwrap();

    // A refused change leaves no delivery: a conversation whose first
    // message is too long is not opened, and its `conversation_created`,
    // written before the message was refused, goes with it.
    let too_long = "x".repeat(150_001);
    let refused = s
        .post_json(
            &path("/conversations"),
            Some(&admin),
            &json!({ "inbox_id": inbox, "contact_id": contact, "message": { "content": too_long } }),
        )
        .await?;
    assert_eq!(refused.status, 422, "{:?}", refused.json);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM conversations").await?, 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM webhook_deliveries").await?, 0);

    let opened = s
        .post_json(
            &path("/conversations"),
            Some(&admin),
            &json!({ "inbox_id": inbox, "contact_id": contact }),
        )
        .await?;
    assert_eq!(opened.status, 200, "{:?}", opened.json);
    let display_id = opened.json["id"].as_i64().unwrap();
    let messages = path(&format!("/conversations/{display_id}/messages"));

    // A delivery that cannot be written fails its change: the message is
    // not stored either. Were deliveries queued after the commit, the
    // message would be stored and its webhook lost.
    let (refuse, allow) = match backend {
        Backend::Sqlite => (
            vec![
                "CREATE TRIGGER refuse_deliveries BEFORE INSERT ON webhook_deliveries \
                  BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            ],
            "DROP TRIGGER refuse_deliveries",
        ),
        Backend::Postgres => (
            vec![
                "CREATE FUNCTION refuse_deliveries() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
                "CREATE TRIGGER refuse_deliveries BEFORE INSERT ON webhook_deliveries \
                 FOR EACH ROW EXECUTE FUNCTION refuse_deliveries()",
            ],
            "DROP TRIGGER refuse_deliveries ON webhook_deliveries",
        ),
    };
    for sql in refuse {
        sqlx::query(sql).execute(&db).await?;
    }
    let failed = s
        .post_json(&messages, Some(&admin), &json!({ "content": "Never stored" }))
        .await?;
    assert_eq!(failed.status, 500, "{:?}", failed.json);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM messages WHERE content = 'Never stored'"
        )
        .await?,
        0,
        "the message went with its delivery"
    );
    sqlx::query(allow).execute(&db).await?;

    // Accepted: the message and its delivery are both there when the answer is.
    let sent = s
        .post_json(&messages, Some(&admin), &json!({ "content": "Hello, hook" }))
        .await?;
    assert_eq!(sent.status, 200, "{:?}", sent.json);
    let queued: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_deliveries d JOIN messages m ON m.content = 'Hello, hook' \
         WHERE d.event = 'message_created' AND d.subject IS NOT NULL",
    )
    .fetch_one(&db)
    .await?;
    assert_eq!(queued, 1);

    // What changed, in Chatwoot's shape: a status change is reported twice
    // (`conversation_status_changed` with the status alone, and
    // `conversation_updated`), an assignment and labels once each; a change
    // that changes nothing is not reported.
    let conversation = path(&format!("/conversations/{display_id}"));
    let resolve = json!({ "status": "resolved" });
    for _ in 0..2 {
        let toggled = s
            .post_json(&format!("{conversation}/toggle_status"), Some(&admin), &resolve)
            .await?;
        assert_eq!(toggled.status, 200, "{:?}", toggled.json);
    }
    let assigned = s
        .post_json(
            &format!("{conversation}/assignments"),
            Some(&admin),
            &json!({ "assignee_id": admin_id }),
        )
        .await?;
    assert_eq!(assigned.status, 200, "{:?}", assigned.json);
    for _ in 0..2 {
        let labelled = s
            .post_json(
                &format!("{conversation}/labels"),
                Some(&admin),
                &json!({ "labels": ["vip"] }),
            )
            .await?;
        assert_eq!(labelled.status, 200, "{:?}", labelled.json);
    }
    s.eventually("six events reach /ok", 400, || async {
        Ok(receiver.at("/ok").len() >= 6)
    })
    .await?;
    let mut got = receiver.at("/ok");
    got.sort_by_key(|r| r.delivery.parse::<i64>().unwrap_or_default());
    assert_eq!(got.len(), 6, "{got:?}");
    let events: Vec<Value> = got.iter().map(payload).collect();
    let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "conversation_created",
            "message_created",
            "conversation_status_changed",
            "conversation_updated",
            "conversation_updated",
            "conversation_updated",
        ]
    );
    let change = |attribute: &str, previous: Value, current: Value| json!([{ attribute: { "previous_value": previous, "current_value": current } }]);
    assert_eq!(events[1]["content"], "Hello, hook");
    assert_eq!(
        events[2]["changed_attributes"],
        change("status", json!("open"), json!("resolved"))
    );
    assert_eq!(events[2]["status"], "resolved");
    assert_eq!(
        events[3]["changed_attributes"],
        change("status", json!("open"), json!("resolved"))
    );
    assert_eq!(
        events[4]["changed_attributes"],
        change("assignee_id", Value::Null, json!(admin_id))
    );
    assert_eq!(
        events[5]["changed_attributes"],
        change("label_list", json!([]), json!(["vip"]))
    );
    for event in &events[2..] {
        assert_eq!(event["id"], display_id);
        assert_eq!(event["account"], json!({ "id": account, "name": "Acme" }));
    }

    // A delivery its writer committed but did not render (the process died
    // between the two) is rendered by the worker that claims it, from what
    // the transaction wrote: here the status change's, put back in that state.
    let status_changed = got[2].delivery.clone();
    sqlx::query(
        "UPDATE webhook_deliveries SET payload = '', state = 'queued', attempts = 0, available_at = 0 \
         WHERE event = 'conversation_status_changed'",
    )
    .execute(&db)
    .await?;
    s.eventually("the unrendered delivery is sent", 400, || async {
        Ok(receiver.at("/ok").len() >= 7)
    })
    .await?;
    let resent = receiver.at("/ok").pop().unwrap();
    assert_eq!(resent.delivery, status_changed);
    assert!(signed_by(hook["secret"].as_str().unwrap(), &resent));
    let resent = payload(&resent);
    assert_eq!(resent["event"], "conversation_status_changed");
    assert_eq!(resent["id"], display_id);
    assert_eq!(
        resent["changed_attributes"],
        change("status", json!("open"), json!("resolved"))
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE event = 'conversation_status_changed' AND payload <> ''"
        )
        .await?,
        1,
        "the rendering is stored for retries"
    );
    Ok(())
}

async fn an_api_inbox_webhook_url_hears_its_messages(backend: Backend) -> anyhow::Result<()> {
    let mut env = Env::new(backend).await?;
    env.vars
        .push(("SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE".to_owned(), "true".to_owned()));
    // The bundled API channel is installed by the first start.
    drop(env.serve().await?);
    let (account, admin) = env.account_with_admin("Acme", "admin@acme.example");
    let receiver = Receiver::start().await?;
    let s = env.serve().await?;
    let path = |rest: &str| format!("/api/v1/accounts/{account}{rest}");
    let url = |at: &str| format!("{}{at}", receiver.origin);

    // Chatwoot's shape: created with the URL, shown with it.
    let created = s
        .post_json(
            &path("/inboxes"),
            Some(&admin),
            &json!({ "name": "CRM", "channel": { "type": "api", "webhook_url": url("/ok") } }),
        )
        .await?;
    assert_eq!(created.status, 200, "{:?}", created.json);
    assert_eq!(created.json["channel_type"], "Channel::Api");
    assert_eq!(created.json["webhook_url"], url("/ok"));
    let inbox = created.json["id"].as_i64().unwrap();
    let shown = s.get(&path(&format!("/inboxes/{inbox}")), Some(&admin)).await?;
    assert_eq!(shown.json["webhook_url"], url("/ok"));
    let listed = s.get(&path("/inboxes"), Some(&admin)).await?;
    assert_eq!(listed.json["payload"][0]["webhook_url"], url("/ok"));
    // It is the inbox's, not one of the account's webhooks.
    let webhooks = s.get(&path("/webhooks"), Some(&admin)).await?;
    assert_eq!(webhooks.json["payload"]["webhooks"], json!([]));

    // A conversation and an agent's reply: both reach the inbox's URL in
    // Chatwoot's shapes, as the integration behind the API inbox reads them.
    let contact = s
        .post_json(&path("/contacts"), Some(&admin), &json!({ "name": "Ann" }))
        .await?
        .json["payload"]["contact"]["id"]
        .as_i64()
        .unwrap();
    let opened = s
        .post_json(
            &path("/conversations"),
            Some(&admin),
            &json!({ "inbox_id": inbox, "contact_id": contact }),
        )
        .await?;
    assert_eq!(opened.status, 200, "{:?}", opened.json);
    let display_id = opened.json["id"].as_i64().unwrap();
    let messages = path(&format!("/conversations/{display_id}/messages"));
    let reply = s
        .post_json(&messages, Some(&admin), &json!({ "content": "To the CRM" }))
        .await?;
    assert_eq!(reply.status, 200, "{:?}", reply.json);
    s.eventually("the inbox's URL hears the reply", 400, || async {
        Ok(receiver
            .at("/ok")
            .iter()
            .any(|r| payload(r)["event"] == "message_created"))
    })
    .await?;
    let got: Vec<Value> = receiver.at("/ok").iter().map(payload).collect();
    assert!(
        got.iter()
            .any(|e| e["event"] == "conversation_created" && e["id"] == display_id)
    );
    let message = got.iter().find(|e| e["event"] == "message_created").unwrap();
    assert_eq!(
        (
            message["content"].as_str(),
            message["message_type"].as_str(),
            message["inbox"]["id"].as_i64(),
            message["conversation"]["id"].as_i64(),
        ),
        (
            Some("To the CRM"),
            Some("outgoing"),
            Some(inbox),
            Some(display_id)
        )
    );

    // Changed with the inbox (Chatwoot's update body), and removed by a blank URL.
    let moved = s
        .send_patch(
            &path(&format!("/inboxes/{inbox}")),
            &admin,
            &json!({ "channel": { "webhook_url": url("/flaky") } }),
        )
        .await?;
    assert_eq!(moved.status, 200, "{:?}", moved.json);
    assert_eq!(moved.json["webhook_url"], url("/flaky"));
    let sent = s
        .post_json(&messages, Some(&admin), &json!({ "content": "Moved" }))
        .await?;
    assert_eq!(sent.status, 200, "{:?}", sent.json);
    s.eventually("the new URL hears the next reply", 400, || async {
        Ok(receiver
            .at("/flaky")
            .iter()
            .any(|r| payload(r)["content"] == "Moved"))
    })
    .await?;
    assert!(
        receiver
            .at("/ok")
            .iter()
            .all(|r| payload(r)["content"] != "Moved"),
        "the old URL hears no more"
    );
    let removed = s
        .send_patch(
            &path(&format!("/inboxes/{inbox}")),
            &admin,
            &json!({ "channel": { "webhook_url": "" } }),
        )
        .await?;
    assert_eq!(removed.status, 200, "{:?}", removed.json);
    assert_eq!(removed.json["webhook_url"], Value::Null);
    let db = switchboard_e2e::database(&env).await?;
    let before = count(&db, "SELECT COUNT(*) FROM webhook_deliveries").await?;
    let quiet = s
        .post_json(&messages, Some(&admin), &json!({ "content": "Quiet" }))
        .await?;
    assert_eq!(quiet.status, 200, "{:?}", quiet.json);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM webhook_deliveries").await?,
        before,
        "an inbox without a URL queues nothing"
    );
    Ok(())
}
