//! ActionCable at `/cable`, spoken frame by frame as Chatwoot's dashboard
//! does: welcome, pings, `RoomChannel` subscriptions with the user's pubsub
//! token (confirmed, or rejected for a wrong token, user or account), the
//! account's events in Chatwoot's envelope (among them the status, update
//! and assignee events of a conversation), `presence.update` on subscribing
//! and on each `update_presence` (with the user's availability), and a
//! disconnect when the user leaves the account. On SQLite and PostgreSQL;
//! on PostgreSQL also that a user present on one node is listed by another.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_e2e::{Backend, Env, PROBE_V1, Server};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

switchboard_e2e::on_both_databases!(room_channel_speaks_actioncable);

/// Presence crosses nodes: a user present on one is listed by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_presence_is_seen_across_nodes() {
    presence_across_nodes().await.unwrap()
}

/// A client speaking ActionCable's JSON protocol.
struct Cable(tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>);

impl Cable {
    /// Connects with the subprotocol Rails' client offers, and checks the
    /// server chose it.
    async fn connect(server: &Server) -> anyhow::Result<Self> {
        let mut request = format!("{}/cable", server.base.replacen("http", "ws", 1)).into_client_request()?;
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "actioncable-v1-json, actioncable-unsupported".parse()?,
        );
        let (socket, response) = tokio_tungstenite::connect_async(request).await?;
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap()),
            Some("actioncable-v1-json")
        );
        Ok(Self(socket))
    }

    /// The next frame, pings included (a bounded wait, so a missing frame
    /// fails the test instead of hanging it).
    async fn frame(&mut self) -> anyhow::Result<Value> {
        loop {
            let frame = tokio::time::timeout(std::time::Duration::from_secs(20), self.0.next())
                .await
                .map_err(|_| anyhow::anyhow!("no frame arrived"))?
                .ok_or_else(|| anyhow::anyhow!("socket closed"))??;
            match frame {
                Message::Text(text) => return Ok(serde_json::from_str(&text)?),
                Message::Close(_) => anyhow::bail!("socket closed"),
                _ => {}
            }
        }
    }

    /// The next frame that is not a ping.
    async fn next(&mut self) -> anyhow::Result<Value> {
        loop {
            let frame = self.frame().await?;
            if frame["type"] != "ping" {
                return Ok(frame);
            }
        }
    }

    async fn command(&mut self, command: &str, identifier: &str) -> anyhow::Result<()> {
        let text = json!({ "command": command, "identifier": identifier }).to_string();
        self.0.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// Performs a channel action, as Rails' client does: `data` is a JSON text.
    async fn perform(&mut self, identifier: &str, action: &str) -> anyhow::Result<()> {
        let data = json!({ "action": action }).to_string();
        let text = json!({ "command": "message", "identifier": identifier, "data": data }).to_string();
        self.0.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// The events named in `names`, in the order they arrive, skipping any
    /// other event (a sent message's `message.updated`, …).
    async fn events(&mut self, names: &[&str]) -> anyhow::Result<Vec<Value>> {
        let mut got: Vec<Value> = Vec::new();
        while got.len() < names.len() {
            let frame = self.next().await?;
            let name = frame["message"]["event"].as_str().unwrap_or_default();
            if names.contains(&name) && !got.iter().any(|g| g["message"]["event"] == name) {
                got.push(frame);
            }
        }
        Ok(got)
    }
}

/// RoomChannel's identifier, as the dashboard builds it.
fn room(pubsub_token: &str, account_id: i64, user_id: i64) -> String {
    json!({ "channel": "RoomChannel", "pubsub_token": pubsub_token, "account_id": account_id, "user_id": user_id })
        .to_string()
}

async fn room_channel_speaks_actioncable(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    assert_eq!(env.cli(&["plugin", "install", PROBE_V1]).code, 0);
    let (account, admin) = env.account_with_admin("Acme", "admin@acme.example");
    let (other_account, other_admin) = env.account_with_admin("Other", "admin@other.example");
    let agent = env.cli_json(&[
        "user",
        "create",
        "--email",
        "agent@acme.example",
        "--account",
        &account.to_string(),
        "--json",
    ]);
    let agent_token = agent["access_token"].as_str().unwrap().to_owned();
    let s = env.serve().await?;
    let path = |rest: &str| format!("/api/v1/accounts/{account}{rest}");
    let inbox = s
        .post_json(
            &path("/inboxes"),
            Some(&admin),
            &json!({ "name": "Probe", "channel": { "type": "probe" } }),
        )
        .await?
        .json["id"]
        .as_i64()
        .unwrap();
    let profile = s.get("/api/v1/profile", Some(&agent_token)).await?;
    let (agent_id, pubsub) = (
        profile.json["id"].as_i64().unwrap(),
        profile.json["pubsub_token"]
            .as_str()
            .expect("the profile's pubsub_token")
            .to_owned(),
    );
    let members = json!({ "inbox_id": inbox, "user_ids": [agent_id] });
    assert_eq!(
        s.post_json(&path("/inbox_members"), Some(&admin), &members)
            .await?
            .status,
        200
    );

    let mut cable = Cable::connect(&s).await?;
    assert_eq!(cable.frame().await?, json!({ "type": "welcome" }));
    // The server pings on its own, with the time.
    let ping = loop {
        let frame = cable.frame().await?;
        if frame["type"] == "ping" {
            break frame;
        }
    };
    assert!(ping["message"].as_i64().is_some(), "{ping}");

    // Refused: a wrong token, another user's id, an account the user is not in.
    for identifier in [
        room("not-a-token", account, agent_id),
        room(&pubsub, account, agent_id + 1000),
        room(&pubsub, other_account, agent_id),
    ] {
        cable.command("subscribe", &identifier).await?;
        assert_eq!(
            cable.next().await?,
            json!({ "identifier": identifier, "type": "reject_subscription" })
        );
    }
    let identifier = room(&pubsub, account, agent_id);
    cable.command("subscribe", &identifier).await?;
    assert_eq!(
        cable.next().await?,
        json!({ "identifier": identifier, "type": "confirm_subscription" })
    );
    // Subscribing makes the user present; the server says who is.
    let presence = |users: Value| {
        json!({
            "identifier": identifier,
            "message": {
                "event": "presence.update",
                "data": { "account_id": account, "users": users, "contacts": {} },
            },
        })
    };
    assert_eq!(
        cable.next().await?,
        presence(json!({ agent_id.to_string(): "online" }))
    );

    // Another account's change never reaches this subscription: the next
    // frame is this account's contact.
    let other_contact = json!({ "name": "Zed", "email": "zed@example.com" });
    let created = s
        .post_json(
            &format!("/api/v1/accounts/{other_account}/contacts"),
            Some(&other_admin),
            &other_contact,
        )
        .await?;
    assert_eq!(created.status, 200);
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
    let frame = cable.next().await?;
    assert_eq!(frame["identifier"], identifier);
    assert_eq!(frame["message"]["event"], "contact.created");
    assert_eq!(frame["message"]["data"]["id"], contact);

    let conversation = s
        .post_json(
            &path("/conversations"),
            Some(&admin),
            &json!({ "inbox_id": inbox, "contact_id": contact }),
        )
        .await?;
    assert_eq!(conversation.status, 200, "{:?}", conversation.json);
    let display_id = conversation.json["id"].as_i64().unwrap();
    let frame = cable.next().await?;
    assert_eq!(frame["message"]["event"], "conversation.created");
    assert_eq!(frame["message"]["data"]["id"], display_id);
    assert_eq!(frame["message"]["data"]["account_id"], account);

    let sent = s
        .post_json(
            &path(&format!("/conversations/{display_id}/messages")),
            Some(&admin),
            &json!({ "content": "Hello over the cable" }),
        )
        .await?;
    assert_eq!(sent.status, 200, "{:?}", sent.json);
    let frame = cable.next().await?;
    assert_eq!(frame["identifier"], identifier);
    assert_eq!(frame["message"]["event"], "message.created");
    let data = &frame["message"]["data"];
    assert_eq!(
        (
            data["id"].clone(),
            data["content"].as_str(),
            data["conversation_id"].as_i64()
        ),
        (
            sent.json["id"].clone(),
            Some("Hello over the cable"),
            Some(display_id)
        )
    );
    assert_eq!(data["account_id"], account);

    // A status change is two events, as in Chatwoot; an assignment too.
    let conversation = path(&format!("/conversations/{display_id}"));
    let resolved = s
        .post_json(
            &format!("{conversation}/toggle_status"),
            Some(&admin),
            &json!({ "status": "resolved" }),
        )
        .await?;
    assert_eq!(resolved.status, 200, "{:?}", resolved.json);
    for frame in cable
        .events(&["conversation.status_changed", "conversation.updated"])
        .await?
    {
        assert_eq!(frame["message"]["data"]["id"], display_id);
        assert_eq!(frame["message"]["data"]["status"], "resolved");
    }
    let assigned = s
        .post_json(
            &format!("{conversation}/assignments"),
            Some(&admin),
            &json!({ "assignee_id": agent_id }),
        )
        .await?;
    assert_eq!(assigned.status, 200, "{:?}", assigned.json);
    for frame in cable
        .events(&["assignee.changed", "conversation.updated"])
        .await?
    {
        assert_eq!(frame["message"]["data"]["id"], display_id);
        assert_eq!(frame["message"]["data"]["meta"]["assignee"]["id"], agent_id);
    }

    // The dashboard renews its presence; the answer carries the availability
    // the administrator set.
    let busy = s
        .send_patch(
            &path(&format!("/agents/{agent_id}")),
            &admin,
            &json!({ "availability": "busy" }),
        )
        .await?;
    assert_eq!(busy.status, 200, "{:?}", busy.json);
    cable.perform(&identifier, "update_presence").await?;
    let renewed = loop {
        let frame = cable.next().await?;
        if frame["message"]["event"] == "presence.update" {
            break frame;
        }
    };
    assert_eq!(renewed, presence(json!({ agent_id.to_string(): "busy" })));

    // The agent leaves the account: the server says so and closes.
    let removed = s
        .delete(&path(&format!("/agents/{agent_id}")), Some(&admin), None)
        .await?;
    assert_eq!(removed.status, 200, "{:?}", removed.json);
    let bye = loop {
        let frame = cable.next().await?;
        if frame["type"] == "disconnect" {
            break frame;
        }
    };
    assert_eq!(
        bye,
        json!({ "type": "disconnect", "reason": "unauthorized", "reconnect": false })
    );
    Ok(())
}

/// The next `presence.update` of a subscription (other events skipped).
async fn next_presence(cable: &mut Cable) -> anyhow::Result<Value> {
    loop {
        let frame = cable.next().await?;
        if frame["message"]["event"] == "presence.update" {
            return Ok(frame["message"]["data"].clone());
        }
    }
}

/// Connects, subscribes the user of `token` to `account`'s room, and
/// answers the socket with the first `presence.update`.
async fn present(server: &Server, token: &str, account: i64) -> anyhow::Result<(Cable, String, i64, Value)> {
    let profile = server.get("/api/v1/profile", Some(token)).await?;
    let user_id = profile.json["id"].as_i64().unwrap();
    let pubsub = profile.json["pubsub_token"].as_str().unwrap().to_owned();
    let mut cable = Cable::connect(server).await?;
    assert_eq!(cable.frame().await?, json!({ "type": "welcome" }));
    let identifier = room(&pubsub, account, user_id);
    cable.command("subscribe", &identifier).await?;
    assert_eq!(
        cable.next().await?,
        json!({ "identifier": identifier, "type": "confirm_subscription" })
    );
    let first = next_presence(&mut cable).await?;
    Ok((cable, identifier, user_id, first))
}

async fn presence_across_nodes() -> anyhow::Result<()> {
    let env = Env::new(Backend::Postgres).await?;
    let (account, admin) = env.account_with_admin("Acme", "admin@acme.example");
    let agent = env.cli_json(&[
        "user",
        "create",
        "--email",
        "agent@acme.example",
        "--account",
        &account.to_string(),
        "--json",
    ]);
    let agent_token = agent["access_token"].as_str().unwrap().to_owned();
    let node_a = env.serve().await?;
    let node_b = env.serve().await?;
    let (_on_a, _, agent_id, _) = present(&node_a, &agent_token, account).await?;
    let (mut on_b, identifier, admin_id, mut seen) = present(&node_b, &admin, account).await?;
    // The agent's presence reaches node B through the database: renew until
    // node B lists it (bounded, so a lost presence fails the test).
    for _ in 0..100 {
        if seen["users"].get(agent_id.to_string()).is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        on_b.perform(&identifier, "update_presence").await?;
        seen = next_presence(&mut on_b).await?;
    }
    assert_eq!(
        seen,
        json!({
            "account_id": account,
            "users": { admin_id.to_string(): "online", agent_id.to_string(): "online" },
            "contacts": {},
        })
    );
    Ok(())
}
