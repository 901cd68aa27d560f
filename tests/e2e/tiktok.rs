//! The TikTok channel end to end: the real binary running the real TikTok
//! plugin against a mock TikTok that speaks TikTok's wire format on
//! loopback, on SQLite and PostgreSQL.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use switchboard_e2e::connected::{BUSINESS, Connected, PUBLIC_URL};
use switchboard_e2e::tiktok::{
    self, AuthGrant, Endpoint, Failure, Profile, codes, mark_read, received_image, received_share_post,
    received_sticker, received_text, sent_echo_text,
};
use switchboard_e2e::{Answer, Backend, Server};

switchboard_e2e::on_both_databases!(
    connecting_an_account,
    inbound_events_become_conversations,
    webhooks_that_are_not_genuine_store_nothing,
    sending_follows_tiktoks_rules,
    provider_errors_fail_or_retry,
    tokens_refresh_once_and_expired_refresh_asks_for_reauthorization,
    registering_the_webhook,
);

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A running server on a [`Connected`] environment.
struct Fixture {
    base: Connected,
    server: Server,
}

impl std::ops::Deref for Fixture {
    type Target = Connected;

    fn deref(&self) -> &Connected {
        &self.base
    }
}

async fn fixture(backend: Backend, extra_env: &[(&str, &str)]) -> anyhow::Result<Fixture> {
    let base = Connected::prepare(backend, extra_env).await?;
    let server = base.env.serve().await?;
    Ok(Fixture { base, server })
}

impl Fixture {
    async fn authorization_state(&self) -> anyhow::Result<String> {
        self.base.authorization_state(&self.server).await
    }

    async fn connect(&self, grant: AuthGrant) -> anyhow::Result<(u16, String)> {
        self.base.connect(&self.server, grant).await
    }

    async fn connected(&self) -> anyhow::Result<i64> {
        self.base.connected_inbox(&self.server).await
    }

    /// Delivers a webhook as TikTok does (signed now) and answers the status.
    async fn deliver(&self, event: &Value) -> anyhow::Result<u16> {
        self.mock
            .deliver(&format!("{}/webhooks/tiktok", self.server.base), event)
            .await
    }

    async fn conversations(&self) -> anyhow::Result<Vec<Value>> {
        self.server.conversations(self.account, &self.admin).await
    }

    async fn messages(&self, display_id: i64) -> anyhow::Result<Vec<Value>> {
        self.server.messages(self.account, display_id, &self.admin).await
    }

    /// Waits until the conversation has `n` messages and answers them.
    async fn wait_messages(&self, display_id: i64, n: usize) -> anyhow::Result<Vec<Value>> {
        self.server
            .eventually(
                &format!("{n} messages in conversation {display_id}"),
                200,
                || async { Ok(self.messages(display_id).await?.len() >= n) },
            )
            .await?;
        self.messages(display_id).await
    }

    async fn events(&self, status: &str) -> anyhow::Result<Vec<Value>> {
        self.server.inbound_events(status, &self.super_admin).await
    }

    async fn send_text(&self, display_id: i64, text: &str, attributes: Value) -> anyhow::Result<Answer> {
        self.server
            .post_json(
                &self.path(&format!("/conversations/{display_id}/messages")),
                Some(&self.admin),
                &json!({ "content": text, "content_attributes": attributes }),
            )
            .await
    }

    /// Waits until a message reaches `status` and answers it.
    async fn wait_status(&self, display_id: i64, id: i64, status: &str) -> anyhow::Result<Value> {
        self.server
            .wait_for(&format!("message {id} {status}"), 300, || async {
                let messages = self.messages(display_id).await?;
                Ok(messages
                    .into_iter()
                    .find(|m| m["id"] == id && m["status"] == status))
            })
            .await
    }

    /// A conversation opened by a contact's first message.
    async fn inbound_conversation(&self, conversation: &str, user: &str) -> anyhow::Result<i64> {
        let hello = received_text(
            BUSINESS,
            conversation,
            user,
            &format!("in-{conversation}"),
            "hello",
            now_ms(),
        );
        assert_eq!(self.deliver(&hello).await?, 200);
        self.server
            .wait_for("the inbound conversation", 200, || async {
                Ok(self
                    .conversations()
                    .await?
                    .iter()
                    .find(|c| c["meta"]["sender"]["name"] == user)
                    .and_then(|c| c["id"].as_i64()))
            })
            .await
    }
}

async fn connecting_an_account(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend, &[]).await?;
    let start = f.path("/tiktok/authorization");
    // Off until a super admin turns the feature on; administrators only.
    let off = f.server.post_json(&start, Some(&f.admin), &json!({})).await?;
    assert_eq!(off.status, 403, "{:?}", off.json);
    assert!(off.json["error"].as_str().unwrap().contains("channel_tiktok"));
    f.enable_feature();
    let agent = f.server.post_json(&start, Some(&f.agent), &json!({})).await?;
    assert_eq!(agent.status, 401);
    let anonymous = f.server.post_json(&start, None, &json!({})).await?;
    assert_eq!(anonymous.status, 401);

    // The authorization URL, on both the generic and Chatwoot's path.
    let generic = f
        .server
        .post_json(
            &f.path("/channels/tiktok/authorization"),
            Some(&f.admin),
            &json!({}),
        )
        .await?;
    assert_eq!(generic.status, 200, "{:?}", generic.json);
    let url = reqwest::Url::parse(generic.json["url"].as_str().unwrap())?;
    assert_eq!(
        url.as_str().split('?').next(),
        Some(format!("{}/v2/auth/authorize", f.mock.url()).as_str())
    );
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_key"], f.mock.app_id());
    assert_eq!(query["redirect_uri"], format!("{PUBLIC_URL}/tiktok/callback"));
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["scope"], tiktok::REQUIRED_SCOPES);

    // Connect: the inbox is named and pictured from the business profile.
    f.mock.add_business(
        BUSINESS,
        Profile::new("acme_shop", "Acme Shop").with_image("https://cdn.example/acme.png"),
    );
    let state = f.authorization_state().await?;
    f.mock.add_auth_code("code-1", AuthGrant::new(BUSINESS));
    let (status, location, _) = f
        .server
        .get_redirect(&format!("/tiktok/callback?code=code-1&state={state}"))
        .await?;
    assert_eq!(status, 302);
    let inboxes = f.server.get(&f.path("/inboxes"), Some(&f.admin)).await?;
    let inbox = &inboxes.json["payload"][0];
    let inbox_id = inbox["id"].as_i64().unwrap();
    assert_eq!(
        location.as_deref(),
        Some(
            format!(
                "{PUBLIC_URL}/app/accounts/{}/settings/inboxes/new/{inbox_id}/agents",
                f.account
            )
            .as_str()
        )
    );
    assert_eq!(inbox["name"], "Acme Shop");
    assert_eq!(inbox["channel_type"], "Channel::Tiktok");
    assert_eq!(inbox["external_id"], BUSINESS);
    assert_eq!(inbox["avatar_url"], "https://cdn.example/acme.png");
    assert_eq!(inbox["reauthorization_required"], false);

    // A state is accepted once.
    let (status, location, _) = f
        .server
        .get_redirect(&format!("/tiktok/callback?code=code-1&state={state}"))
        .await?;
    assert_eq!(status, 302);
    assert!(location.unwrap().contains("error_type=reused_state"));

    // Reconnecting the same business updates the inbox, never duplicates it.
    f.mock
        .add_business(BUSINESS, Profile::new("acme_shop", "Acme Renamed"));
    let (status, location) = f.connect(AuthGrant::new(BUSINESS)).await?;
    assert_eq!(status, 302);
    assert_eq!(
        location,
        format!(
            "{PUBLIC_URL}/app/accounts/{}/settings/inboxes/{inbox_id}",
            f.account
        )
    );
    let inboxes = f.server.get(&f.path("/inboxes"), Some(&f.admin)).await?;
    assert_eq!(inboxes.json["payload"].as_array().unwrap().len(), 1);
    assert_eq!(inboxes.json["payload"][0]["name"], "Acme Renamed");

    // The user refused, or granted too little: readable errors on the dashboard.
    let state = f.authorization_state().await?;
    let (_, location, _) = f
        .server
        .get_redirect(&format!(
            "/tiktok/callback?error=access_denied&error_description=User%20cancelled&error_code=400&state={state}"
        ))
        .await?;
    let location = location.unwrap();
    assert!(location.starts_with(&format!(
        "{PUBLIC_URL}/app/accounts/{}/settings/inboxes/new/tiktok?",
        f.account
    )));
    assert!(
        location.contains("error_type=access_denied") && location.contains("error_message=User+cancelled")
    );
    let (_, location) = f
        .connect(AuthGrant::new(BUSINESS).with_scope("user.info.basic"))
        .await?;
    assert!(location.contains("error_type=access_denied"), "{location}");
    assert!(location.contains("required+scopes"), "{location}");

    // A provider error is shown, not swallowed.
    f.mock.fail_next(
        Endpoint::Token,
        1,
        Failure::code(codes::INTERNAL_ERROR, "system busy"),
    );
    let (_, location) = f.connect(AuthGrant::new(BUSINESS)).await?;
    assert!(
        location.contains("error_type=provider_error") && location.contains("system+busy"),
        "{location}"
    );

    // A forged state has no account to return to: 400 here.
    let (status, _, body) = f
        .server
        .get_redirect("/tiktok/callback?code=x&state=eyJhbGciOiJIUzI1NiJ9.e30.forged")
        .await?;
    assert_eq!(status, 400, "{body}");

    // One TikTok account cannot be attached to two Switchboard accounts.
    let (other, other_admin) = f.env.account_with_admin("Other", "admin@other.example");
    let other_id = other.to_string();
    assert_eq!(
        f.env
            .cli(&["feature", "enable", "channel_tiktok", "--account", &other_id])
            .code,
        0
    );
    let answer = f
        .server
        .post_json(
            &format!("/api/v1/accounts/{other}/tiktok/authorization"),
            Some(&other_admin),
            &json!({}),
        )
        .await?;
    let url = reqwest::Url::parse(answer.json["url"].as_str().unwrap())?;
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    f.mock.add_auth_code("code-other", AuthGrant::new(BUSINESS));
    let (_, location, _) = f
        .server
        .get_redirect(&format!("/tiktok/callback?code=code-other&state={state}"))
        .await?;
    assert!(location.unwrap().contains("error_type=already_connected"));
    let theirs = f
        .server
        .get(&format!("/api/v1/accounts/{other}/inboxes"), Some(&other_admin))
        .await?;
    assert_eq!(theirs.json["payload"].as_array().unwrap().len(), 0);
    Ok(())
}

async fn inbound_events_become_conversations(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend, &[]).await?;
    let inbox = f.connected().await?;
    let t0 = now_ms();

    // A text opens a conversation with a new contact; a retry adds nothing.
    let hello = received_text(BUSINESS, "conv-1", "user-1", "msg-1", "Hello from TikTok", t0);
    assert_eq!(f.deliver(&hello).await?, 200);
    assert_eq!(f.deliver(&hello).await?, 200);
    let conversation = f
        .server
        .wait_for("the conversation", 200, || async {
            Ok(f.conversations().await?.into_iter().next())
        })
        .await?;
    let display = conversation["id"].as_i64().unwrap();
    assert_eq!(conversation["inbox_id"], inbox);
    assert_eq!(conversation["can_reply"], true);
    assert_eq!(conversation["meta"]["sender"]["name"], "user-1");

    // The same message in a different delivery (re-signed, different body
    // bytes) is still one message.
    let mut again = hello.clone();
    again["extra"] = json!("redelivered");
    assert_eq!(f.deliver(&again).await?, 200);

    // Image (fetched through TikTok's media API), shared post (embed),
    // sticker (unsupported placeholder), and an echo from the TikTok app.
    let png = b"\x89PNG\r\n\x1a\nfake-image".to_vec();
    f.mock
        .add_inbound_media("media-1", png.clone(), "image/png", "photo.png");
    assert_eq!(
        f.deliver(&received_image(
            BUSINESS,
            "conv-1",
            "user-1",
            "msg-2",
            "media-1",
            t0 + 1
        ))
        .await?,
        200
    );
    let post = "https://www.tiktok.com/embed/v2/123";
    assert_eq!(
        f.deliver(&received_share_post(
            BUSINESS,
            "conv-1",
            "user-1",
            "msg-3",
            post,
            t0 + 2
        ))
        .await?,
        200
    );
    assert_eq!(
        f.deliver(&received_sticker(BUSINESS, "conv-1", "user-1", "msg-4", t0 + 3))
            .await?,
        200
    );
    assert_eq!(
        f.deliver(&sent_echo_text(
            BUSINESS,
            "conv-1",
            "user-1",
            "msg-5",
            "from the app",
            t0 + 4
        ))
        .await?,
        200
    );
    let messages = f.wait_messages(display, 5).await?;
    assert_eq!(messages.len(), 5, "{messages:#?}");
    let by_source = |id: &str| messages.iter().find(|m| m["source_id"] == id).cloned().unwrap();
    let text = by_source("msg-1");
    assert_eq!(text["content"], "Hello from TikTok");
    assert_eq!(text["message_type"], 0);
    let image = by_source("msg-2");
    assert_eq!(
        image["attachments"][0]["file_type"],
        "image",
        "{image:#}\n{}",
        f.server.log()
    );
    let data_url = image["attachments"][0]["data_url"].as_str().unwrap();
    let path = data_url.strip_prefix(&f.server.base).unwrap_or(data_url);
    let (status, content_type, bytes) = f.server.get_bytes(path, &f.admin).await?;
    assert_eq!((status, content_type.as_str(), bytes), (200, "image/png", png));
    let media_calls = f.mock.requests_to(Endpoint::MediaDownload);
    assert_eq!(media_calls.len(), 1);
    let embed = by_source("msg-3");
    assert_eq!(embed["attachments"][0]["file_type"], "embed");
    assert_eq!(embed["attachments"][0]["data_url"], post);
    let sticker = by_source("msg-4");
    assert_eq!(sticker["content_attributes"]["is_unsupported"], true);
    assert!(sticker["content"].as_str().unwrap().contains("unsupported"));
    let echo = by_source("msg-5");
    assert_eq!(echo["message_type"], 1);
    assert_eq!(echo["content_attributes"]["external_echo"], true);
    assert_eq!(echo["status"], "delivered");

    // Read receipts mark our outgoing messages up to that time as read.
    assert_eq!(
        f.deliver(&mark_read(BUSINESS, "conv-1", "user-1", now_ms() + 1000))
            .await?,
        200
    );
    f.wait_status(display, echo["id"].as_i64().unwrap(), "read")
        .await?;
    // The business reading its own conversation is not a receipt.
    assert_eq!(
        f.deliver(&mark_read(BUSINESS, "conv-1", BUSINESS, now_ms()))
            .await?,
        200
    );

    // Unknown events, and events for a business nobody connected, are kept
    // as ignored with their reason.
    let unknown = tiktok::event(
        "im_something_new",
        BUSINESS,
        json!({ "conversation_id": "conv-1" }),
    );
    assert_eq!(f.deliver(&unknown).await?, 200);
    let stranger = received_text("biz-unknown", "conv-9", "user-9", "msg-9", "hi", now_ms());
    assert_eq!(f.deliver(&stranger).await?, 200);
    f.server
        .eventually("ignored events", 200, || async {
            Ok(f.events("ignored").await?.len() >= 3)
        })
        .await?;
    let ignored = f.events("ignored").await?;
    let reasons: Vec<&str> = ignored.iter().filter_map(|e| e["reason"].as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("im_something_new")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("biz-unknown")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("business itself read")),
        "{reasons:?}"
    );
    assert_eq!(f.conversations().await?.len(), 1, "nothing else was created");

    // Signed but not JSON: acknowledged (TikTok would retry forever), kept as
    // failed with the parser's reason, nothing applied.
    let body = b"{not json".to_vec();
    let signature = tiktok::sign(&f.mock.app_secret(), now_ms() / 1000, &body);
    let answer = f
        .server
        .post_webhook("/webhooks/tiktok", &[("Tiktok-Signature", &signature)], body)
        .await?;
    assert_eq!(answer.status, 200);
    f.server
        .eventually("the failed event", 200, || async {
            Ok(!f.events("failed").await?.is_empty())
        })
        .await?;
    let failed = f.events("failed").await?;
    assert!(
        failed[0]["reason"].as_str().unwrap().contains("cannot parse"),
        "{failed:?}"
    );

    // Admins see the same from the command line, and can replay from it.
    let listed = f
        .env
        .cli_json(&["events", "list", "--status", "failed", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let replayed = f.env.cli(&["events", "replay", "--status", "failed"]);
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    assert!(
        replayed.stdout.contains("1 event(s) queued"),
        "{}",
        replayed.stdout
    );
    f.server
        .eventually("the replayed event to fail again", 200, || async {
            Ok(f.events("failed").await?.len() == 1 && f.events("pending").await?.is_empty())
        })
        .await?;
    let bad_status = f.env.cli(&["events", "list", "--status", "bogus"]);
    assert_eq!(bad_status.code, 2, "{}", bad_status.stderr);

    // Replaying every event is idempotent: nothing is duplicated.
    let replay = f
        .server
        .post_json(
            "/api/v1/admin/events/replay",
            Some(&f.super_admin),
            &json!({ "channel": "tiktok" }),
        )
        .await?;
    assert_eq!(replay.status, 200, "{:?}", replay.json);
    assert!(replay.json["replayed"].as_i64().unwrap() >= 8);
    f.server
        .eventually("the replay to finish", 200, || async {
            Ok(f.events("pending").await?.is_empty())
        })
        .await?;
    assert_eq!(f.messages(display).await?.len(), 5);
    assert_eq!(f.conversations().await?.len(), 1);

    // A resolved conversation stays closed: the contact's next message opens
    // a new one.
    let toggled = f
        .server
        .post_json(
            &f.path(&format!("/conversations/{display}/toggle_status")),
            Some(&f.admin),
            &json!({ "status": "resolved" }),
        )
        .await?;
    assert_eq!(toggled.status, 200, "{:?}", toggled.json);
    assert_eq!(
        f.deliver(&received_text(
            BUSINESS,
            "conv-1",
            "user-1",
            "msg-6",
            "me again",
            now_ms()
        ))
        .await?,
        200
    );
    f.server
        .eventually("a second conversation", 200, || async {
            Ok(f.conversations().await?.len() == 2)
        })
        .await?;
    Ok(())
}

async fn webhooks_that_are_not_genuine_store_nothing(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(
        backend,
        &[
            ("SWITCHBOARD_WEBHOOK_MAX_BYTES", "4096"),
            ("SWITCHBOARD_WEBHOOK_RATE", "1"),
            ("SWITCHBOARD_WEBHOOK_BURST", "40"),
        ],
    )
    .await?;
    f.connected().await?;
    let body = serde_json::to_vec(&received_text(
        BUSINESS,
        "conv-1",
        "user-1",
        "msg-1",
        "hi",
        now_ms(),
    ))?;
    let secret = f.mock.app_secret();
    let now = now_ms() / 1000;
    let cases: Vec<(&str, String)> = vec![
        ("a forged signature", format!("t={now},s={}", "0".repeat(64))),
        ("another app's secret", tiktok::sign("not-the-secret", now, &body)),
        ("a stale timestamp", tiktok::sign(&secret, now - 600, &body)),
        (
            "a timestamp from the future",
            tiktok::sign(&secret, now + 600, &body),
        ),
        ("a malformed header", "nonsense".into()),
    ];
    for (case, header) in &cases {
        let answer = f
            .server
            .post_webhook("/webhooks/tiktok", &[("Tiktok-Signature", header)], body.clone())
            .await?;
        assert_eq!(answer.status, 401, "{case}: {:?}", answer.json);
    }
    let unsigned = f
        .server
        .post_webhook("/webhooks/tiktok", &[], body.clone())
        .await?;
    assert_eq!(unsigned.status, 401);
    let all = f.server.get("/api/v1/admin/events", Some(&f.super_admin)).await?;
    assert_eq!(
        all.json.as_array().unwrap().len(),
        0,
        "nothing stored: {:?}",
        all.json
    );
    assert!(
        f.server.log().contains("webhook rejected"),
        "rejections are logged with a reason"
    );

    // Unknown channel, body over the limit, flood.
    let unknown = f
        .server
        .post_webhook("/webhooks/nope", &[], b"{}".to_vec())
        .await?;
    assert_eq!(unknown.status, 404, "{:?}", unknown.json);
    let big = vec![b' '; 5000];
    let signature = tiktok::sign(&secret, now, &big);
    let too_big = f
        .server
        .post_webhook("/webhooks/tiktok", &[("Tiktok-Signature", &signature)], big)
        .await?;
    assert_eq!(too_big.status, 413);
    let mut limited = 0;
    for n in 0..60 {
        let event = received_text(BUSINESS, "conv-2", "user-2", &format!("flood-{n}"), "x", now_ms());
        if f.deliver(&event).await? == 429 {
            limited += 1;
        }
    }
    assert!(limited > 0, "the per-channel rate limit answers 429");
    Ok(())
}

async fn sending_follows_tiktoks_rules(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend, &[]).await?;
    f.connected().await?;
    let display = f.inbound_conversation("conv-1", "user-1").await?;

    // Text, replying to the contact's message: sent to the conversation with
    // the reference, delivered, recorded with TikTok's id.
    let sent = f
        .send_text(
            display,
            "Hi there",
            json!({ "in_reply_to_external_id": "in-conv-1" }),
        )
        .await?;
    assert_eq!(sent.status, 200, "{:?}", sent.json);
    let id = sent.json["id"].as_i64().unwrap();
    let delivered = f.wait_status(display, id, "delivered").await?;
    let record = f.mock.sent().into_iter().last().unwrap();
    assert_eq!(record.recipient, "conv-1");
    assert_eq!(record.business_id, BUSINESS);
    assert_eq!(record.message_type, "TEXT");
    assert_eq!(record.text.as_deref(), Some("Hi there"));
    assert_eq!(record.referenced_message_id.as_deref(), Some("in-conv-1"));
    assert_eq!(delivered["source_id"], record.message_id);

    // TikTok echoes our own send: it must not become a second message.
    let echo = sent_echo_text(
        BUSINESS,
        "conv-1",
        "user-1",
        &record.message_id,
        "Hi there",
        now_ms(),
    );
    assert_eq!(f.deliver(&echo).await?, 200);
    f.server
        .eventually("the echo to be applied", 200, || async {
            Ok(f.events("pending").await?.is_empty() && f.events("applied").await?.len() >= 2)
        })
        .await?;
    assert_eq!(f.messages(display).await?.len(), 2, "the echo added nothing");

    // One image alone: uploaded as multipart, then sent by media id.
    let png = b"\x89PNG\r\n\x1a\nimage-bytes".to_vec();
    let form = reqwest::multipart::Form::new().part(
        "attachments[]",
        reqwest::multipart::Part::bytes(png.clone())
            .file_name("photo.png")
            .mime_str("image/png")?,
    );
    let image = f
        .server
        .post_multipart(
            &f.path(&format!("/conversations/{display}/messages")),
            Some(&f.admin),
            form,
        )
        .await?;
    assert_eq!(image.status, 200, "{:?}", image.json);
    f.wait_status(display, image.json["id"].as_i64().unwrap(), "delivered")
        .await?;
    let upload = f.mock.uploads().into_iter().last().unwrap();
    assert_eq!(
        (upload.filename.as_str(), upload.content_type.as_str()),
        ("photo.png", "image/png")
    );
    assert_eq!(upload.bytes, png);
    let record = f.mock.sent().into_iter().last().unwrap();
    assert_eq!(record.message_type, "IMAGE");
    assert_eq!(record.media_id.as_deref(), Some(upload.media_id.as_str()));

    // Every rule the channel declares is enforced before any call.
    let calls_before = f.mock.requests().len();
    let part = |bytes: Vec<u8>, name: &str, mime: &str| {
        reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str(mime)
            .unwrap()
    };
    let refused = [
        (
            reqwest::multipart::Form::new()
                .text("content", "caption")
                .part("attachments[]", part(png.clone(), "a.png", "image/png")),
            "Sending attachments with text is not supported on TikTok.",
        ),
        (
            reqwest::multipart::Form::new()
                .part("attachments[]", part(png.clone(), "a.png", "image/png"))
                .part("attachments[]", part(png.clone(), "b.png", "image/png")),
            "Sending multiple attachments in a single TikTok message is not supported.",
        ),
        (
            reqwest::multipart::Form::new()
                .part("attachments[]", part(b"GIF89a".to_vec(), "a.gif", "image/gif")),
            "TikTok supports only JPG and PNG images.",
        ),
        (
            reqwest::multipart::Form::new().part(
                "attachments[]",
                part(vec![0; (3 << 20) + 1], "big.png", "image/png"),
            ),
            "TikTok image attachments must be smaller than 3 MB.",
        ),
    ];
    for (form, expected) in refused {
        let answer = f
            .server
            .post_multipart(
                &f.path(&format!("/conversations/{display}/messages")),
                Some(&f.admin),
                form,
            )
            .await?;
        assert_eq!(answer.status, 422, "{expected}: {:?}", answer.json);
        let error = answer.json["error"].as_str().unwrap();
        assert!(error.contains(expected), "{expected}: {error}");
    }
    let long = f.send_text(display, &"x".repeat(6001), json!({})).await?;
    assert_eq!(long.status, 422);
    assert!(long.json["error"].as_str().unwrap().contains("6000"));
    assert_eq!(
        f.mock.requests().len(),
        calls_before,
        "no API call for a refused message"
    );

    // The 48-hour window, from the contact's last inbound message.
    let old = now_ms() - 49 * 3600 * 1000;
    assert_eq!(
        f.deliver(&received_text(
            BUSINESS, "conv-old", "user-old", "old-1", "hi", old
        ))
        .await?,
        200
    );
    let stale = f
        .server
        .wait_for("the old conversation", 200, || async {
            Ok(f.conversations()
                .await?
                .into_iter()
                .find(|c| c["meta"]["sender"]["name"] == "user-old"))
        })
        .await?;
    assert_eq!(stale["can_reply"], false);
    let closed = f
        .send_text(stale["id"].as_i64().unwrap(), "too late", json!({}))
        .await?;
    assert_eq!(closed.status, 422);
    assert!(closed.json["error"].as_str().unwrap().contains("reply window"));
    Ok(())
}

async fn provider_errors_fail_or_retry(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend, &[]).await?;
    f.connected().await?;
    let display = f.inbound_conversation("conv-1", "user-1").await?;

    // A refusal that retrying cannot fix fails at once, readably, after one call.
    f.mock.fail_next(
        Endpoint::MessageSend,
        1,
        Failure::code(codes::NO_PERMISSION, "no permission to message this user"),
    );
    let sends_before = f.mock.requests_to(Endpoint::MessageSend).len();
    let refused = f.send_text(display, "one", json!({})).await?;
    let id = refused.json["id"].as_i64().unwrap();
    let failed = f.wait_status(display, id, "failed").await?;
    assert_eq!(
        failed["content_attributes"]["external_error"],
        "40001: no permission to message this user"
    );
    assert_eq!(f.mock.requests_to(Endpoint::MessageSend).len(), sends_before + 1);
    let dead = f
        .server
        .get("/api/v1/admin/deliveries?state=dead", Some(&f.super_admin))
        .await?;
    let job = dead
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["message_id"] == id)
        .cloned()
        .unwrap();
    assert_eq!(job["attempts"], 1);
    // An admin retries it from the dead-letter list: now it goes through.
    let retried = f
        .server
        .post_json(
            &format!("/api/v1/admin/deliveries/{}/retry", job["id"]),
            Some(&f.super_admin),
            &json!({}),
        )
        .await?;
    assert_eq!(retried.status, 200, "{:?}", retried.json);
    f.wait_status(display, id, "delivered").await?;

    // TikTok failing for a while (HTTP 500, then rate limiting) is retried
    // with backoff until it passes.
    f.mock
        .fail_next(Endpoint::MessageSend, 1, Failure::http(500, "upstream exploded"));
    f.mock.fail_next(
        Endpoint::MessageSend,
        1,
        Failure::code(codes::TOO_MANY_REQUESTS, "slow down"),
    );
    let sends_before = f.mock.requests_to(Endpoint::MessageSend).len();
    let flaky = f.send_text(display, "two", json!({})).await?;
    f.wait_status(display, flaky.json["id"].as_i64().unwrap(), "delivered")
        .await?;
    assert_eq!(f.mock.requests_to(Endpoint::MessageSend).len(), sends_before + 3);
    assert_eq!(
        f.mock
            .sent()
            .iter()
            .filter(|s| s.text.as_deref() == Some("two"))
            .count(),
        1
    );

    // An agent's retry of a failed message sends it again, once.
    f.mock.fail_next(
        Endpoint::MessageSend,
        1,
        Failure::code(codes::PARAM_ERROR, "recipient is invalid"),
    );
    let bad = f.send_text(display, "three", json!({})).await?;
    let bad_id = bad.json["id"].as_i64().unwrap();
    let failed = f.wait_status(display, bad_id, "failed").await?;
    assert_eq!(
        failed["content_attributes"]["external_error"],
        "40002: recipient is invalid"
    );
    let retry = f
        .server
        .post_json(
            &f.path(&format!("/conversations/{display}/messages/{bad_id}/retry")),
            Some(&f.admin),
            &json!({}),
        )
        .await?;
    assert_eq!(retry.status, 200, "{:?}", retry.json);
    f.wait_status(display, bad_id, "delivered").await?;
    Ok(())
}

async fn tokens_refresh_once_and_expired_refresh_asks_for_reauthorization(
    backend: Backend,
) -> anyhow::Result<()> {
    let f = fixture(backend, &[]).await?;
    f.enable_feature();
    f.mock
        .add_business(BUSINESS, Profile::new("acme_shop", "Acme Shop"));
    // A token that expires within the refresh margin is refreshed before use.
    let mut grant = AuthGrant::new(BUSINESS);
    grant.expires_in = 60;
    let (status, _) = f.connect(grant).await?;
    assert_eq!(status, 302);
    let display = f.inbound_conversation("conv-1", "user-1").await?;
    f.mock.set_refresh_delay(Duration::from_millis(400));
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(
            f.send_text(display, &format!("burst {n}"), json!({})).await?.json["id"]
                .as_i64()
                .unwrap(),
        );
    }
    for id in &ids {
        f.wait_status(display, *id, "delivered").await?;
    }
    assert_eq!(f.mock.refresh_calls(), 1, "one refresh across every worker");
    let fresh = f.mock.tokens().into_iter().last().unwrap();
    for send in f.mock.requests_to(Endpoint::MessageSend).iter().rev().take(6) {
        assert_eq!(send.header("Access-Token"), Some(fresh.access_token.as_str()));
    }

    // TikTok rejecting the access token early: refreshed and resent.
    f.mock.expire_access_tokens();
    let after = f.send_text(display, "after expiry", json!({})).await?;
    f.wait_status(display, after.json["id"].as_i64().unwrap(), "delivered")
        .await?;
    assert_eq!(f.mock.refresh_calls(), 2);

    // The refresh token is gone too: the inbox asks for reauthorization.
    f.mock.expire_access_tokens();
    f.mock.expire_refresh_tokens();
    let stuck = f.send_text(display, "stuck", json!({})).await?;
    let failed = f
        .wait_status(display, stuck.json["id"].as_i64().unwrap(), "failed")
        .await?;
    assert!(
        failed["content_attributes"]["external_error"]
            .as_str()
            .unwrap()
            .contains("reconnected")
    );
    let inboxes = f.server.get(&f.path("/inboxes"), Some(&f.admin)).await?;
    assert_eq!(inboxes.json["payload"][0]["reauthorization_required"], true);
    let refused = f.send_text(display, "refused", json!({})).await?;
    assert_eq!(refused.status, 422, "the host refuses before queueing");
    // Reconnecting clears the flag.
    let (status, location) = f.connect(AuthGrant::new(BUSINESS)).await?;
    assert_eq!(status, 302, "{location}");
    let inboxes = f.server.get(&f.path("/inboxes"), Some(&f.admin)).await?;
    assert_eq!(inboxes.json["payload"][0]["reauthorization_required"], false);
    Ok(())
}

async fn registering_the_webhook(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend, &[]).await?;
    let registered = f.env.cli(&["channel", "register-webhook", "tiktok"]);
    assert_eq!(registered.code, 0, "{}", registered.stderr);
    assert!(
        registered
            .stdout
            .contains(&format!("{PUBLIC_URL}/webhooks/tiktok")),
        "{}",
        registered.stdout
    );
    assert_eq!(
        f.mock.webhook_callback().as_deref(),
        Some(format!("{PUBLIC_URL}/webhooks/tiktok").as_str())
    );
    let update = f
        .mock
        .requests_to(Endpoint::WebhookUpdate)
        .pop()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(update["event_type"], "DIRECT_MESSAGE");
    assert_eq!(update["app_id"], f.mock.app_id());
    let shown = f.env.cli_json(&["channel", "webhook", "tiktok", "--json"]);
    assert_eq!(shown["callback_url"], format!("{PUBLIC_URL}/webhooks/tiktok"));
    // Through the admin API too.
    let api = f
        .server
        .get("/api/v1/admin/channels/tiktok/webhook", Some(&f.super_admin))
        .await?;
    assert_eq!(api.status, 200, "{:?}", api.json);
    assert_eq!(api.json["callback_url"], format!("{PUBLIC_URL}/webhooks/tiktok"));

    // TikTok refusing (a wrong secret) is a clear error and a non-zero exit.
    assert_eq!(
        f.env.cli(&["config", "set", "TIKTOK_APP_SECRET", "wrong"]).code,
        0
    );
    let refused = f.env.cli(&["channel", "register-webhook", "tiktok"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("40001"), "{}", refused.stderr);
    let unknown = f.env.cli(&["channel", "register-webhook", "nope"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("no enabled channel"),
        "{}",
        unknown.stderr
    );
    Ok(())
}
