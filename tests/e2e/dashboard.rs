//! The dashboard API (Chatwoot's Application API conventions) through the
//! real binary, on SQLite and PostgreSQL: accounts, agents, inboxes,
//! contacts, conversations and messages, and who may do what.

use serde_json::{Value, json};
use switchboard_e2e::{Answer, Backend, Env, PROBE_V1, Server};

switchboard_e2e::on_both_databases!(
    profile_account_and_agents,
    tokens_never_cross_accounts_and_agents_cannot_administer,
    contacts_list_search_and_edit,
    conversations_list_assign_label_and_toggle,
    first_message_is_written_with_its_conversation,
    messages_are_stored_sent_and_paged,
    bad_input_gets_4xx,
    live_updates_reach_the_accounts_clients,
    attachments_follow_the_channels_rules,
    inboxes_and_their_members,
    openapi_document_matches_the_answers,
    contact_avatars_are_uploaded_and_served,
);

/// A WebSocket client of `/api/v1/accounts/{id}/live`.
struct LiveClient(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl LiveClient {
    async fn connect(server: &Server, account: i64, token: &str) -> anyhow::Result<Self> {
        let url = format!(
            "{}/api/v1/accounts/{account}/live?api_access_token={token}",
            server.base.replacen("http", "ws", 1)
        );
        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Self(socket))
    }

    /// The next event (bounded wait, so a missing event fails the test).
    async fn next(&mut self) -> anyhow::Result<Value> {
        use futures::StreamExt;
        loop {
            let frame = tokio::time::timeout(std::time::Duration::from_secs(20), self.0.next())
                .await
                .map_err(|_| anyhow::anyhow!("no live event arrived"))?
                .ok_or_else(|| anyhow::anyhow!("socket closed"))??;
            if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
                return Ok(serde_json::from_str(&text)?);
            }
        }
    }
    /// The next event about conversations and messages, past the
    /// account-wide contact events (every agent of the account hears those,
    /// as in Chatwoot).
    async fn next_past_contacts(&mut self) -> anyhow::Result<Value> {
        loop {
            let event = self.next().await?;
            let name = event["event"].as_str().unwrap_or_default();
            if !name.starts_with("contact.") {
                return Ok(event);
            }
        }
    }
}

/// Several nodes on one PostgreSQL database: an event published on one node
/// reaches a client connected to another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_live_updates_cross_nodes() {
    let f = fixture(Backend::Postgres).await.unwrap();
    let other_node = f.env.serve().await.unwrap();
    let mut client = LiveClient::connect(&other_node, f.account, &f.agent)
        .await
        .unwrap();
    let ann = f.contact("Ann", "ann@example.com").await.unwrap();
    assert_eq!(client.next().await.unwrap()["event"], "contact.created");
    f.conversation(ann).await.unwrap();
    let created = client.next().await.unwrap();
    assert_eq!(created["event"], "conversation.created");
    assert_eq!(created["data"]["id"], 1);
    assert_eq!(created["data"]["account_id"], f.account);
}

/// One account with an administrator, an agent, the probe plugin installed
/// and a probe inbox the agent belongs to.
struct Fixture {
    env: Env,
    server: Server,
    account: i64,
    admin: String,
    agent: String,
    agent_id: i64,
    inbox: i64,
}

fn token(user: &Value) -> String {
    user["access_token"].as_str().expect("token").to_owned()
}

async fn account_with_users(env: &Env, name: &str) -> anyhow::Result<(i64, Value, Value)> {
    let account = env.cli_json(&["account", "create", name, "--json"]);
    let id = account["id"].as_i64().unwrap();
    let id_text = id.to_string();
    let admin_email = format!("admin@{}.example", name.to_lowercase());
    let agent_email = format!("agent@{}.example", name.to_lowercase());
    let admin = env.cli_json(&[
        "user",
        "create",
        "--email",
        &admin_email,
        "--account",
        &id_text,
        "--role",
        "administrator",
        "--json",
    ]);
    let agent = env.cli_json(&[
        "user",
        "create",
        "--email",
        &agent_email,
        "--account",
        &id_text,
        "--json",
    ]);
    Ok((id, admin, agent))
}

async fn fixture(backend: Backend) -> anyhow::Result<Fixture> {
    let env = Env::new(backend).await?;
    assert_eq!(env.cli(&["plugin", "install", PROBE_V1]).code, 0);
    let (account, admin, agent) = account_with_users(&env, "Acme").await?;
    let server = env.serve().await?;
    let (admin, agent_id, agent) = (token(&admin), agent["id"].as_i64().unwrap(), token(&agent));
    let inbox = server
        .post_json(
            &format!("/api/v1/accounts/{account}/inboxes"),
            Some(&admin),
            &json!({ "name": "Probe", "channel": { "type": "probe" } }),
        )
        .await?;
    assert_eq!(inbox.status, 200, "{:?}", inbox.json);
    assert_eq!(inbox.json["channel_type"], "Channel::Probe");
    let inbox = inbox.json["id"].as_i64().unwrap();
    let members = server
        .post_json(
            &format!("/api/v1/accounts/{account}/inbox_members"),
            Some(&admin),
            &json!({ "inbox_id": inbox, "user_ids": [agent_id] }),
        )
        .await?;
    assert_eq!(members.status, 200, "{:?}", members.json);
    Ok(Fixture {
        env,
        server,
        account,
        admin,
        agent,
        agent_id,
        inbox,
    })
}

impl Fixture {
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/accounts/{}{rest}", self.account)
    }

    async fn contact(&self, name: &str, email: &str) -> anyhow::Result<i64> {
        let created = self
            .server
            .post_json(
                &self.path("/contacts"),
                Some(&self.admin),
                &json!({ "name": name, "email": email }),
            )
            .await?;
        assert_eq!(created.status, 200, "{:?}", created.json);
        Ok(created.json["payload"]["contact"]["id"].as_i64().unwrap())
    }

    async fn conversation(&self, contact: i64) -> anyhow::Result<Value> {
        let created = self
            .server
            .post_json(
                &self.path("/conversations"),
                Some(&self.admin),
                &json!({ "inbox_id": self.inbox, "contact_id": contact }),
            )
            .await?;
        assert_eq!(created.status, 200, "{:?}", created.json);
        Ok(created.json)
    }
}

fn error(answer: &Answer) -> &str {
    answer.json["error"].as_str().unwrap_or_default()
}

async fn profile_account_and_agents(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend).await?;
    let s = &f.server;
    let profile = s.get("/api/v1/profile", Some(&f.admin)).await?;
    assert_eq!(profile.status, 200);
    assert_eq!(profile.json["email"], "admin@acme.example");
    assert_eq!(
        profile.json["accounts"],
        json!([{ "id": f.account, "name": "Acme", "role": "administrator", "status": "active", "locale": "en" }])
    );

    let account = s.get(&f.path(""), Some(&f.agent)).await?;
    assert_eq!(
        (account.status, account.json["name"].as_str()),
        (200, Some("Acme"))
    );
    let renamed = s
        .call(
            "PATCH",
            &f.path(""),
            Some(&f.admin),
            Some(&json!({ "name": "Acme Inc" })),
        )
        .await?;
    assert_eq!(renamed.json["name"], "Acme Inc");
    let refused = s
        .call(
            "PATCH",
            &f.path(""),
            Some(&f.agent),
            Some(&json!({ "name": "Mine" })),
        )
        .await?;
    assert_eq!(
        (refused.status, error(&refused)),
        (401, "You are not authorized to do this action")
    );
    assert_eq!(s.get(&f.path(""), Some(&f.agent)).await?.json["name"], "Acme Inc");

    let agents = s.get(&f.path("/agents"), Some(&f.agent)).await?;
    let roles: Vec<(&str, &str)> = agents
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["email"].as_str().unwrap(), a["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            ("admin@acme.example", "administrator"),
            ("agent@acme.example", "agent")
        ]
    );

    let new = json!({ "name": "Bea", "email": "bea@acme.example", "role": "agent" });
    assert_eq!(
        s.post_json(&f.path("/agents"), Some(&f.agent), &new)
            .await?
            .status,
        401
    );
    let created = s.post_json(&f.path("/agents"), Some(&f.admin), &new).await?;
    assert_eq!(
        (created.status, created.json["role"].as_str()),
        (200, Some("agent"))
    );
    let bea = created.json["id"].as_i64().unwrap();
    let again = s.post_json(&f.path("/agents"), Some(&f.admin), &new).await?;
    assert_eq!(again.status, 422);
    let promoted = s
        .call(
            "PATCH",
            &f.path(&format!("/agents/{bea}")),
            Some(&f.admin),
            Some(&json!({ "role": "administrator" })),
        )
        .await?;
    assert_eq!(promoted.json["role"], "administrator");
    assert_eq!(
        s.call("DELETE", &f.path(&format!("/agents/{bea}")), Some(&f.agent), None)
            .await?
            .status,
        401
    );
    assert_eq!(
        s.call("DELETE", &f.path(&format!("/agents/{bea}")), Some(&f.admin), None)
            .await?
            .status,
        200
    );
    assert_eq!(
        s.get(&f.path("/agents"), Some(&f.admin))
            .await?
            .json
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        s.call("DELETE", &f.path(&format!("/agents/{bea}")), Some(&f.admin), None)
            .await?
            .status,
        404
    );
    Ok(())
}

async fn tokens_never_cross_accounts_and_agents_cannot_administer(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend).await?;
    let s = &f.server;
    let (other, other_admin, other_agent) = account_with_users(&f.env, "Globex").await?;
    let (other_admin, other_agent) = (token(&other_admin), token(&other_agent));
    let contact = f.contact("Ann", "ann@example.com").await?;
    let conversation = f.conversation(contact).await?["id"].as_i64().unwrap();

    // Every token of the other account, on every resource of this one: 401, nothing read.
    let reads = [
        String::new(),
        "/agents".into(),
        "/inboxes".into(),
        format!("/inboxes/{}", f.inbox),
        "/contacts".into(),
        format!("/contacts/{contact}"),
        "/conversations".into(),
        format!("/conversations/{conversation}"),
        format!("/conversations/{conversation}/messages"),
    ];
    for token in [&other_admin, &other_agent] {
        for path in &reads {
            let answer = s.get(&f.path(path), Some(token)).await?;
            assert_eq!(
                (answer.status, error(&answer)),
                (401, "You are not authorized to access this account"),
                "{path}"
            );
        }
        let write = s
            .post_json(&f.path("/contacts"), Some(token), &json!({ "name": "Intruder" }))
            .await?;
        assert_eq!(write.status, 401);
        let send = s
            .post_json(
                &f.path(&format!("/conversations/{conversation}/messages")),
                Some(token),
                &json!({ "content": "hi" }),
            )
            .await?;
        assert_eq!(send.status, 401);
    }
    // And this account's tokens on the other account.
    for token in [&f.admin, &f.agent] {
        assert_eq!(
            s.get(&format!("/api/v1/accounts/{other}/contacts"), Some(token))
                .await?
                .status,
            401
        );
    }
    // Nothing was written by the refused calls.
    let contacts = s.get(&f.path("/contacts"), Some(&f.admin)).await?;
    assert_eq!(contacts.json["meta"]["count"], 1);

    // Agents cannot do admin actions.
    let admin_only: [(&str, String, Option<Value>); 6] = [
        ("PATCH", String::new(), Some(json!({ "name": "x" }))),
        (
            "POST",
            "/agents".into(),
            Some(json!({ "name": "x", "email": "x@x.x" })),
        ),
        (
            "POST",
            "/inboxes".into(),
            Some(json!({ "name": "x", "channel": { "type": "probe" } })),
        ),
        (
            "PATCH",
            format!("/inboxes/{}", f.inbox),
            Some(json!({ "name": "x" })),
        ),
        ("DELETE", format!("/inboxes/{}", f.inbox), None),
        ("DELETE", format!("/contacts/{contact}"), None),
    ];
    for (method, path, body) in &admin_only {
        let answer = s
            .call(method, &f.path(path), Some(&f.agent), body.as_ref())
            .await?;
        assert_eq!(
            (answer.status, error(&answer)),
            (401, "You are not authorized to do this action"),
            "{method} {path}"
        );
    }
    assert_eq!(
        s.get(&f.path(&format!("/contacts/{contact}")), Some(&f.agent))
            .await?
            .status,
        200
    );

    // Agents see only the inboxes they belong to, and those inboxes' conversations.
    let outsider = f.env.cli_json(&[
        "user",
        "create",
        "--email",
        "out@acme.example",
        "--account",
        &f.account.to_string(),
        "--json",
    ]);
    let outsider = token(&outsider);
    assert_eq!(
        s.get(&f.path("/inboxes"), Some(&outsider)).await?.json["payload"],
        json!([])
    );
    assert_eq!(
        s.get(
            &f.path(&format!("/conversations/{conversation}")),
            Some(&outsider)
        )
        .await?
        .status,
        404
    );
    let listed = s.get(&f.path("/conversations"), Some(&outsider)).await?;
    assert_eq!(listed.json["data"]["meta"]["all_count"], 0);
    assert_eq!(
        s.get(&f.path("/conversations"), Some(&f.agent)).await?.json["data"]["meta"]["all_count"],
        1
    );
    let _ = other_admin;
    Ok(())
}

async fn contacts_list_search_and_edit(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend).await?;
    let s = &f.server;
    for n in 1..=17 {
        f.contact(&format!("Person {n}"), &format!("person{n}@example.com"))
            .await?;
    }
    let page1 = s.get(&f.path("/contacts"), Some(&f.agent)).await?;
    assert_eq!(page1.json["meta"], json!({ "count": 17, "current_page": 1 }));
    assert_eq!(page1.json["payload"].as_array().unwrap().len(), 15);
    let page2 = s.get(&f.path("/contacts?page=2"), Some(&f.agent)).await?;
    assert_eq!(page2.json["payload"].as_array().unwrap().len(), 2);

    let found = s
        .get(&f.path("/contacts/search?q=PERSON1"), Some(&f.agent))
        .await?;
    let names: Vec<&str> = found.json["payload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 9, "Person 1 and 10-17 by email: {names:?}");
    assert_eq!(found.json["meta"]["count"], 9);
    let none = s.get(&f.path("/contacts/search?q=%25"), Some(&f.agent)).await?;
    assert_eq!(
        none.json["meta"]["count"], 0,
        "LIKE wildcards in q match nothing special"
    );

    let created = s
        .post_json(
            &f.path("/contacts"),
            Some(&f.agent),
            &json!({
                "name": "Zed", "phone_number": "+4915112345678", "identifier": "crm-1",
                "custom_attributes": { "plan": "gold" }, "inbox_id": f.inbox, "source_id": "zed-src",
            }),
        )
        .await?;
    assert_eq!(created.status, 200, "{:?}", created.json);
    assert_eq!(created.json["payload"]["contact_inbox"]["source_id"], "zed-src");
    let zed = created.json["payload"]["contact"]["id"].as_i64().unwrap();
    let shown = s
        .get(&f.path(&format!("/contacts/{zed}")), Some(&f.agent))
        .await?;
    assert_eq!(
        shown.json["payload"]["custom_attributes"],
        json!({ "plan": "gold" })
    );
    let updated = s
        .call(
            "PATCH",
            &f.path(&format!("/contacts/{zed}")),
            Some(&f.agent),
            Some(&json!({ "email": "zed@example.com" })),
        )
        .await?;
    assert_eq!(updated.json["payload"]["email"], "zed@example.com");
    assert_eq!(updated.json["payload"]["phone_number"], "+4915112345678");

    let bad_email = s
        .post_json(&f.path("/contacts"), Some(&f.agent), &json!({ "email": "nope" }))
        .await?;
    assert_eq!(bad_email.status, 422);
    let bad_phone = s
        .post_json(
            &f.path("/contacts"),
            Some(&f.agent),
            &json!({ "phone_number": "12ab" }),
        )
        .await?;
    assert_eq!(bad_phone.status, 422);
    let duplicate = s
        .post_json(
            &f.path("/contacts"),
            Some(&f.agent),
            &json!({ "email": "zed@example.com" }),
        )
        .await?;
    assert_eq!(duplicate.status, 422);
    // A field it does not know is ignored, as Chatwoot (Rails) does; a
    // field of the wrong type is still refused.
    let wrong_type = s
        .post_json(&f.path("/contacts"), Some(&f.agent), &json!({ "name": ["typo"] }))
        .await?;
    assert_eq!(wrong_type.status, 400);
    assert_eq!(
        s.get(&f.path("/contacts"), Some(&f.agent)).await?.json["meta"]["count"],
        18,
        "refused creates stored nothing"
    );
    let unknown_field = s
        .post_json(
            &f.path("/contacts"),
            Some(&f.agent),
            &json!({ "name": "Typo", "nmae": "typo" }),
        )
        .await?;
    assert_eq!(unknown_field.status, 200, "{unknown_field:?}");
    assert_eq!(unknown_field.json["payload"]["contact"]["name"], "Typo");

    assert_eq!(
        s.call(
            "DELETE",
            &f.path(&format!("/contacts/{zed}")),
            Some(&f.admin),
            None
        )
        .await?
        .status,
        200
    );
    assert_eq!(
        s.get(&f.path(&format!("/contacts/{zed}")), Some(&f.agent))
            .await?
            .status,
        404
    );
    Ok(())
}

async fn conversations_list_assign_label_and_toggle(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend).await?;
    let s = &f.server;
    let ann = f.contact("Ann", "ann@example.com").await?;
    let bob = f.contact("Bob", "bob@example.com").await?;
    let first = f.conversation(ann).await?;
    let second = f.conversation(bob).await?;
    assert_eq!(
        (first["id"].as_i64(), second["id"].as_i64()),
        (Some(1), Some(2)),
        "display ids count per account"
    );
    assert_eq!(first["status"], "open");
    assert_eq!(first["meta"]["sender"]["name"], "Ann");
    assert_eq!(first["meta"]["channel"], "Channel::Probe");
    assert_eq!(first["can_reply"], true);

    let assigned = s
        .post_json(
            &f.path("/conversations/1/assignments"),
            Some(&f.admin),
            &json!({ "assignee_id": f.agent_id }),
        )
        .await?;
    assert_eq!(assigned.json["id"], f.agent_id);
    let mine = s
        .get(&f.path("/conversations?assignee_type=me"), Some(&f.agent))
        .await?;
    assert_eq!(
        mine.json["data"]["meta"],
        json!({ "mine_count": 1, "unassigned_count": 1, "assigned_count": 1, "all_count": 2 })
    );
    let ids: Vec<i64> = mine.json["data"]["payload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [1]);
    assert_eq!(
        mine.json["data"]["payload"][0]["meta"]["assignee"]["id"],
        f.agent_id
    );
    let unassigned = s
        .get(&f.path("/conversations?assignee_type=unassigned"), Some(&f.agent))
        .await?;
    assert_eq!(unassigned.json["data"]["payload"][0]["id"], 2);
    let meta = s.get(&f.path("/conversations/meta"), Some(&f.agent)).await?;
    assert_eq!(meta.json["meta"]["all_count"], 2);

    let labels = s
        .post_json(
            &f.path("/conversations/1/labels"),
            Some(&f.agent),
            &json!({ "labels": ["Billing", "vip", "vip"] }),
        )
        .await?;
    assert_eq!(labels.json["payload"], json!(["billing", "vip"]));
    assert_eq!(
        s.get(&f.path("/conversations/1"), Some(&f.agent)).await?.json["labels"],
        json!(["billing", "vip"])
    );

    let toggled = s
        .post_json(
            &f.path("/conversations/1/toggle_status"),
            Some(&f.agent),
            &json!({}),
        )
        .await?;
    assert_eq!(toggled.json["payload"]["current_status"], "resolved");
    let open = s.get(&f.path("/conversations"), Some(&f.agent)).await?;
    assert_eq!(
        open.json["data"]["meta"]["all_count"], 1,
        "the default list shows open conversations"
    );
    let resolved = s
        .get(&f.path("/conversations?status=resolved"), Some(&f.agent))
        .await?;
    assert_eq!(resolved.json["data"]["payload"][0]["id"], 1);
    let all = s
        .get(&f.path("/conversations?status=all"), Some(&f.agent))
        .await?;
    assert_eq!(all.json["data"]["meta"]["all_count"], 2);
    let snoozed = s
        .post_json(
            &f.path("/conversations/2/toggle_status"),
            Some(&f.agent),
            &json!({ "status": "snoozed", "snoozed_until": 1_900_000_000 }),
        )
        .await?;
    assert_eq!(snoozed.json["payload"]["current_status"], "snoozed");
    assert_eq!(
        s.get(&f.path("/conversations/2"), Some(&f.agent)).await?.json["snoozed_until"],
        1_900_000_000
    );
    let reopened = s
        .call(
            "POST",
            &f.path("/conversations/1/toggle_status"),
            Some(&f.agent),
            None,
        )
        .await?;
    assert_eq!(reopened.json["payload"]["current_status"], "open");

    let of_ann = s
        .get(&f.path(&format!("/contacts/{ann}/conversations")), Some(&f.agent))
        .await?;
    assert_eq!(of_ann.json["payload"].as_array().unwrap().len(), 1);
    let unassign = s
        .post_json(
            &f.path("/conversations/1/assignments"),
            Some(&f.admin),
            &json!({ "assignee_id": null }),
        )
        .await?;
    assert_eq!(unassign.json, Value::Null);
    assert_eq!(
        s.get(&f.path("/conversations/meta?status=all"), Some(&f.agent))
            .await?
            .json["meta"]["unassigned_count"],
        2
    );
    Ok(())
}

/// A conversation created with its first message (Chatwoot's `message:
/// {content}` in the create body): both are written, or, when the channel
/// refuses the message, nothing is — no conversation, no identity of the
/// contact in the inbox.
async fn first_message_is_written_with_its_conversation(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend).await?;
    let s = &f.server;
    let ann = f.contact("Ann", "ann@example.com").await?;
    let create = |content: String| {
        json!({
            "inbox_id": f.inbox, "contact_id": ann, "source_id": "ann-src",
            "message": { "content": content },
        })
    };
    // The probe channel takes at most 100 characters.
    let refused = s
        .post_json(
            &f.path("/conversations"),
            Some(&f.agent),
            &create("x".repeat(101)),
        )
        .await?;
    assert_eq!(refused.status, 422, "{:?}", refused.json);
    let listed = s.get(&f.path("/conversations"), Some(&f.admin)).await?;
    assert_eq!(listed.json["data"]["meta"]["all_count"], 0, "{:?}", listed.json);
    let shown = s
        .get(&f.path(&format!("/contacts/{ann}")), Some(&f.admin))
        .await?;
    assert_eq!(shown.status, 200, "{:?}", shown.json);
    assert_eq!(
        shown.json["payload"]["contact_inboxes"],
        json!([]),
        "{:?}",
        shown.json
    );

    let created = s
        .post_json(
            &f.path("/conversations"),
            Some(&f.agent),
            &create("Hello Ann".into()),
        )
        .await?;
    assert_eq!(created.status, 200, "{:?}", created.json);
    // A rolled-back create may leave a gap in display ids on PostgreSQL (its
    // sequence, as in Chatwoot), so the id is read, not assumed.
    let display_id = created.json["id"].as_i64().unwrap();
    let listed = s.get(&f.path("/conversations"), Some(&f.admin)).await?;
    assert_eq!(listed.json["data"]["meta"]["all_count"], 1, "{:?}", listed.json);
    let path = f.path(&format!("/conversations/{display_id}/messages"));
    let messages = s.get(&path, Some(&f.agent)).await?;
    let payload = messages.json["payload"].as_array().cloned().unwrap_or_default();
    assert_eq!(payload.len(), 1, "{:?}", messages.json);
    assert_eq!(
        (
            payload[0]["content"].as_str(),
            payload[0]["message_type"].as_i64(),
            payload[0]["sender"]["id"].as_i64()
        ),
        (Some("Hello Ann"), Some(1), Some(f.agent_id))
    );
    let shown = s
        .get(&f.path(&format!("/contacts/{ann}")), Some(&f.admin))
        .await?;
    assert_eq!(
        shown.json["payload"]["contact_inboxes"][0]["source_id"],
        "ann-src"
    );
    // The first message is sent like any reply: the probe accepts it.
    let id = payload[0]["id"].as_i64().unwrap();
    s.eventually("the probe plugin accepting the first message", 100, || async {
        let list = s.get(&path, Some(&f.agent)).await?;
        Ok(list.json["payload"][0]["source_id"] == format!("probe-message-{id}"))
    })
    .await?;
    Ok(())
}

async fn messages_are_stored_sent_and_paged(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend).await?;
    let s = &f.server;
    let ann = f.contact("Ann", "ann@example.com").await?;
    f.conversation(ann).await?;
    let messages = f.path("/conversations/1/messages");

    let sent = s
        .post_json(
            &messages,
            Some(&f.agent),
            &json!({ "content": "Hello Ann", "echo_id": "e-1" }),
        )
        .await?;
    assert_eq!(sent.status, 200, "{:?}", sent.json);
    assert_eq!(
        (sent.json["message_type"].as_i64(), sent.json["echo_id"].as_str()),
        (Some(1), Some("e-1"))
    );
    let id = sent.json["id"].as_i64().unwrap();
    // The probe plugin answers every send with `probe-<idempotency key>`.
    s.eventually("the probe plugin accepting the message", 100, || async {
        let list = s.get(&messages, Some(&f.agent)).await?;
        Ok(list.json["payload"][0]["source_id"] == format!("probe-message-{id}"))
    })
    .await?;

    let note = s
        .post_json(
            &messages,
            Some(&f.agent),
            &json!({ "content": "internal", "private": true }),
        )
        .await?;
    assert_eq!(note.json["private"], true);
    let too_long = s
        .post_json(&messages, Some(&f.agent), &json!({ "content": "x".repeat(101) }))
        .await?;
    assert_eq!(too_long.status, 422);
    assert!(
        error(&too_long).contains("Probe messages can be at most 100 characters"),
        "{:?}",
        too_long.json
    );
    let blank = s
        .post_json(&messages, Some(&f.agent), &json!({ "content": "  " }))
        .await?;
    assert_eq!(blank.status, 422);
    let incoming = s
        .post_json(
            &messages,
            Some(&f.agent),
            &json!({ "content": "x", "message_type": "incoming" }),
        )
        .await?;
    assert_eq!(incoming.status, 422);

    for n in 0..23 {
        s.post_json(
            &messages,
            Some(&f.agent),
            &json!({ "content": format!("m{n}"), "private": true }),
        )
        .await?;
    }
    let latest = s.get(&messages, Some(&f.agent)).await?;
    let page: Vec<i64> = latest.json["payload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(page.len(), 20);
    assert!(
        page.windows(2).all(|w| w[0] < w[1]),
        "oldest first within the page"
    );
    assert_eq!(latest.json["meta"]["contact"]["name"], "Ann");
    let older = s
        .get(&format!("{messages}?before={}", page[0]), Some(&f.agent))
        .await?;
    let older: Vec<i64> = older.json["payload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(older.len(), 5, "25 messages in all");
    assert!(older.iter().all(|m| *m < page[0]));
    let newer = s
        .get(&format!("{messages}?after={}", older[4]), Some(&f.agent))
        .await?;
    assert_eq!(newer.json["payload"].as_array().unwrap().len(), 20);

    let deleted = s
        .call("DELETE", &format!("{messages}/{id}"), Some(&f.agent), None)
        .await?;
    assert_eq!(deleted.json["content"], "This message was deleted");
    assert_eq!(deleted.json["content_attributes"]["deleted"], true);
    // A provider refusal becomes `failed` with a readable reason; retry sends again.
    let refused = s
        .post_json(
            &messages,
            Some(&f.agent),
            &json!({ "content": "fail: recipient blocked you" }),
        )
        .await?;
    let refused_id = refused.json["id"].as_i64().unwrap();
    let failed = || async {
        let answer = s
            .get(&format!("{messages}?after={}", refused_id - 1), Some(&f.agent))
            .await?;
        let m = answer.json["payload"][0].clone();
        Ok::<_, anyhow::Error>(
            m["status"] == "failed" && m["content_attributes"]["external_error"] == "recipient blocked you",
        )
    };
    s.eventually("the refusal being recorded", 100, failed).await?;
    let retried = s
        .post_json(
            &format!("{messages}/{refused_id}/retry"),
            Some(&f.agent),
            &json!({}),
        )
        .await?;
    assert_eq!(
        (retried.status, retried.json["status"].as_str()),
        (200, Some("sent")),
        "{:?}",
        retried.json
    );
    s.eventually("the retry being refused again", 100, failed).await?;
    let retry = s
        .post_json(&format!("{messages}/{id}/retry"), Some(&f.agent), &json!({}))
        .await?;
    assert_eq!(retry.status, 422, "only failed messages are retried");
    let conversation = s.get(&f.path("/conversations/1"), Some(&f.agent)).await?;
    assert_eq!(
        conversation.json["messages"][0]["content"], "fail: recipient blocked you",
        "the last message rides along"
    );
    Ok(())
}

async fn bad_input_gets_4xx(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend).await?;
    let s = &f.server;
    let anonymous = s.get(&f.path("/contacts"), None).await?;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.json["errors"],
        json!(["You need to sign in or sign up before continuing."])
    );
    let wrong = s.get(&f.path("/contacts"), Some("nope")).await?;
    assert_eq!((wrong.status, error(&wrong)), (401, "Invalid Access Token"));
    assert_eq!(
        s.get("/api/v1/accounts/abc/contacts", Some(&f.admin))
            .await?
            .status,
        404
    );
    let bad_id = s.get(&f.path("/contacts/abc"), Some(&f.admin)).await?;
    assert_eq!(bad_id.status, 400);
    assert!(
        !error(&bad_id).is_empty(),
        "framework rejections use the one error shape: {bad_id:?}"
    );
    let huge_page = s
        .get(&f.path("/conversations?page=4611686018427387904"), Some(&f.admin))
        .await?;
    assert_eq!(huge_page.status, 400, "{huge_page:?}");
    let in_query = s
        .get(
            &format!("{}?api_access_token={}", f.path("/contacts"), f.admin),
            None,
        )
        .await?;
    assert_eq!(
        in_query.status, 401,
        "tokens in URLs are accepted by the WebSocket only"
    );
    let nul = s
        .post_json(
            &f.path("/contacts"),
            Some(&f.admin),
            &json!({ "name": "a\u{0}b" }),
        )
        .await?;
    assert!(
        nul.status == 200 || nul.status == 400,
        "a NUL character is stored or refused, never a 500: {nul:?}"
    );
    let bad_page = s.get(&f.path("/contacts?page=abc"), Some(&f.admin)).await?;
    assert_eq!(bad_page.status, 400);
    assert!(!error(&bad_page).is_empty(), "{bad_page:?}");
    assert_eq!(
        s.get(&f.path("/conversations/999"), Some(&f.admin)).await?.status,
        404
    );
    assert_eq!(
        s.get(&f.path("/conversations?status=closed"), Some(&f.admin))
            .await?
            .status,
        400
    );
    assert_eq!(
        s.get(&f.path("/contacts?page=1000001"), Some(&f.admin))
            .await?
            .status,
        400
    );
    let malformed = s.call("POST", &f.path("/contacts"), Some(&f.admin), None).await?;
    assert!(
        malformed.status == 400 || malformed.status == 415,
        "{malformed:?}"
    );
    let unknown_status = s
        .post_json(
            &f.path("/conversations/1/toggle_status"),
            Some(&f.admin),
            &json!({ "status": "x" }),
        )
        .await?;
    assert_eq!(unknown_status.status, 404, "no conversation 1 yet");
    let no_plugin = s
        .post_json(
            &f.path("/inboxes"),
            Some(&f.admin),
            &json!({ "name": "x", "channel": { "type": "nope" } }),
        )
        .await?;
    assert_eq!(no_plugin.status, 422);
    let oauth = s
        .post_json(
            &f.path("/inboxes"),
            Some(&f.admin),
            &json!({ "name": "x", "channel": { "type": "tiktok" } }),
        )
        .await?;
    assert_eq!(oauth.status, 422);
    assert!(error(&oauth).contains("authorization flow"), "{:?}", oauth.json);
    assert_eq!(s.get("/api/v1/nothing", Some(&f.admin)).await?.status, 404);
    Ok(())
}

async fn live_updates_reach_the_accounts_clients(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend).await?;
    let s = &f.server;
    let mut agent = LiveClient::connect(s, f.account, &f.agent).await?;
    let mut admin = LiveClient::connect(s, f.account, &f.admin).await?;
    // An agent of another inbox only: it must not see the first inbox's events.
    let other_inbox = s
        .post_json(
            &f.path("/inboxes"),
            Some(&f.admin),
            &json!({ "name": "Other", "channel": { "type": "probe" } }),
        )
        .await?
        .json["id"]
        .as_i64()
        .unwrap();
    let outsider = f.env.cli_json(&[
        "user",
        "create",
        "--email",
        "out@acme.example",
        "--account",
        &f.account.to_string(),
        "--json",
    ]);
    let outsider_id = outsider["id"].as_i64().unwrap();
    let members = json!({ "inbox_id": other_inbox, "user_ids": [outsider_id] });
    assert_eq!(
        s.post_json(&f.path("/inbox_members"), Some(&f.admin), &members)
            .await?
            .status,
        200
    );
    let mut outsider = LiveClient::connect(s, f.account, &token(&outsider)).await?;
    let anonymous = s.get(&f.path("/live"), None).await?;
    assert_eq!(anonymous.status, 401);

    let ann = f.contact("Ann", "ann@example.com").await?;
    assert_eq!(agent.next().await?["event"], "contact.created");
    assert_eq!(admin.next().await?["event"], "contact.created");
    f.conversation(ann).await?;
    let created = agent.next().await?;
    assert_eq!(
        (created["event"].as_str(), created["data"]["id"].as_i64()),
        (Some("conversation.created"), Some(1))
    );
    assert_eq!(admin.next().await?["event"], "conversation.created");

    let sent = s
        .post_json(
            &f.path("/conversations/1/messages"),
            Some(&f.admin),
            &json!({ "content": "Hi Ann" }),
        )
        .await?;
    let id = sent.json["id"].clone();
    let message = agent.next().await?;
    assert_eq!(message["event"], "message.created");
    assert_eq!(
        (message["data"]["id"].clone(), message["data"]["content"].as_str()),
        (id.clone(), Some("Hi Ann"))
    );
    let delivered = agent.next().await?;
    assert_eq!(delivered["event"], "message.updated");
    assert_eq!(delivered["data"]["source_id"], format!("probe-message-{id}"));

    let toggled = s
        .post_json(
            &f.path("/conversations/1/toggle_status"),
            Some(&f.agent),
            &json!({}),
        )
        .await?;
    assert_eq!(toggled.status, 200);
    let status = agent.next().await?;
    assert_eq!(
        (status["event"].as_str(), status["data"]["status"].as_str()),
        (Some("conversation.status_changed"), Some("resolved"))
    );

    // The outsider's first conversation event is from its own inbox: nothing
    // of the first inbox leaked.
    let bob = f.contact("Bob", "bob@example.com").await?;
    let theirs = s
        .post_json(
            &f.path("/conversations"),
            Some(&f.admin),
            &json!({ "inbox_id": other_inbox, "contact_id": bob }),
        )
        .await?;
    assert_eq!(theirs.status, 200);
    let first = outsider.next_past_contacts().await?;
    assert_eq!(
        (first["event"].as_str(), first["data"]["inbox_id"].as_i64()),
        (Some("conversation.created"), Some(other_inbox))
    );

    // Leaving the account closes the socket.
    let removed = s
        .call(
            "DELETE",
            &f.path(&format!("/agents/{outsider_id}")),
            Some(&f.admin),
            None,
        )
        .await?;
    assert_eq!(removed.status, 200);
    assert!(
        outsider.next().await.is_err(),
        "the removed agent's socket must close"
    );
    Ok(())
}

fn file(name: &str, mime: &str, bytes: &[u8]) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name(name.to_owned())
        .mime_str(mime)
        .unwrap()
}

async fn attachments_follow_the_channels_rules(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend).await?;
    let s = &f.server;
    let ann = f.contact("Ann", "ann@example.com").await?;
    f.conversation(ann).await?;
    let messages = f.path("/conversations/1/messages");
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n fake image bytes".to_vec();

    let image = reqwest::multipart::Form::new().part("attachments[]", file("cat.png", "image/png", &png));
    let sent = s.post_multipart(&messages, Some(&f.agent), image).await?;
    assert_eq!(sent.status, 200, "{:?}", sent.json);
    let attachment = &sent.json["attachments"][0];
    assert_eq!(
        (attachment["file_type"].as_str(), attachment["extension"].as_str()),
        (Some("image"), Some("png"))
    );
    let url = attachment["data_url"].as_str().unwrap().to_owned();
    assert_eq!(
        s.get_bytes(&url, &f.agent).await?,
        (200, "image/png".to_owned(), png.clone())
    );
    let id = sent.json["id"].as_i64().unwrap();
    s.eventually("the image reaching the probe plugin", 100, || async {
        let list = s.get(&messages, Some(&f.agent)).await?;
        Ok(list.json["payload"][0]["source_id"] == format!("probe-message-{id}"))
    })
    .await?;

    // The probe declares: one image, never together with text.
    let refused = [
        (
            reqwest::multipart::Form::new()
                .text("content", "look")
                .part("attachments[]", file("cat.png", "image/png", &png)),
            "Sending attachments with text is not supported on Probe.",
        ),
        (
            reqwest::multipart::Form::new()
                .part("attachments[]", file("a.png", "image/png", &png))
                .part("attachments[]", file("b.png", "image/png", &png)),
            "Sending multiple attachments in a single Probe message is not supported.",
        ),
        (
            reqwest::multipart::Form::new()
                .part("attachments[]", file("doc.pdf", "application/pdf", b"%PDF")),
            "Only image attachments are supported on Probe.",
        ),
    ];
    for (form, reason) in refused {
        let answer = s.post_multipart(&messages, Some(&f.agent), form).await?;
        assert_eq!(answer.status, 422, "{:?}", answer.json);
        assert!(error(&answer).contains(reason), "{:?}", answer.json);
    }
    let count = s.get(&messages, Some(&f.agent)).await?.json["payload"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(count, 1, "refused messages stored nothing");

    // A private note is not sent, so the channel's rules do not apply.
    let note = reqwest::multipart::Form::new()
        .text("private", "true")
        .text("content", "the contract")
        .part("attachments[]", file("doc.pdf", "application/pdf", b"%PDF-1.7"));
    let note = s.post_multipart(&messages, Some(&f.agent), note).await?;
    assert_eq!(note.status, 200, "{:?}", note.json);
    assert_eq!(note.json["attachments"][0]["file_type"], "file");

    // Someone who cannot see the conversation cannot download its files.
    let outsider = f.env.cli_json(&[
        "user",
        "create",
        "--email",
        "out@acme.example",
        "--account",
        &f.account.to_string(),
        "--json",
    ]);
    assert_eq!(s.get_bytes(&url, &token(&outsider)).await?.0, 404);
    // An unknown form field is ignored (as Rails does): with nothing else,
    // the message is blank.
    let unknown = reqwest::multipart::Form::new().text("colour", "red");
    assert_eq!(
        s.post_multipart(&messages, Some(&f.agent), unknown).await?.status,
        422
    );
    Ok(())
}

async fn inboxes_and_their_members(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend).await?;
    let s = &f.server;
    let inbox = f.path(&format!("/inboxes/{}", f.inbox));
    let shown = s.get(&inbox, Some(&f.agent)).await?;
    assert_eq!(
        (shown.json["name"].as_str(), shown.json["provider"].as_str()),
        (Some("Probe"), Some("probe"))
    );
    let listed = s.get(&f.path("/inboxes"), Some(&f.agent)).await?;
    assert_eq!(listed.json["payload"].as_array().unwrap().len(), 1);

    let changed = s
        .call(
            "PATCH",
            &inbox,
            Some(&f.admin),
            Some(&json!({ "name": "Support", "lock_to_single_conversation": true })),
        )
        .await?;
    assert_eq!(
        (
            changed.json["name"].as_str(),
            changed.json["lock_to_single_conversation"].as_bool()
        ),
        (Some("Support"), Some(true))
    );
    let blank = s
        .call("PATCH", &inbox, Some(&f.admin), Some(&json!({ "name": "" })))
        .await?;
    assert_eq!(blank.status, 422);

    let members = s
        .get(&f.path(&format!("/inbox_members/{}", f.inbox)), Some(&f.agent))
        .await?;
    let ids: Vec<i64> = members.json["payload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [f.agent_id]);
    let stranger = json!({ "inbox_id": f.inbox, "user_ids": [9999] });
    assert_eq!(
        s.post_json(&f.path("/inbox_members"), Some(&f.admin), &stranger)
            .await?
            .status,
        404
    );
    let replaced = s
        .call(
            "PATCH",
            &f.path("/inbox_members"),
            Some(&f.admin),
            Some(&json!({ "inbox_id": f.inbox, "user_ids": [] })),
        )
        .await?;
    assert_eq!(replaced.json["payload"], json!([]));
    assert_eq!(
        s.get(&inbox, Some(&f.agent)).await?.status,
        404,
        "no longer a member"
    );
    let added = s
        .post_json(
            &f.path("/inbox_members"),
            Some(&f.admin),
            &json!({ "inbox_id": f.inbox, "user_ids": [f.agent_id] }),
        )
        .await?;
    assert_eq!(added.json["payload"].as_array().unwrap().len(), 1);
    let removed = s
        .call(
            "DELETE",
            &f.path("/inbox_members"),
            Some(&f.admin),
            Some(&json!({ "inbox_id": f.inbox, "user_ids": [f.agent_id] })),
        )
        .await?;
    assert_eq!(removed.json["payload"], json!([]));

    // Removing the plugin is refused while this inbox uses it; deleting the inbox frees it.
    assert_eq!(f.env.cli(&["plugin", "remove", "probe"]).code, 1);
    assert_eq!(s.call("DELETE", &inbox, Some(&f.admin), None).await?.status, 200);
    assert_eq!(s.get(&inbox, Some(&f.admin)).await?.status, 404);
    assert_eq!(f.env.cli(&["plugin", "remove", "probe"]).code, 0);
    Ok(())
}

async fn openapi_document_matches_the_answers(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend).await?;
    let s = &f.server;
    let doc = s.get("/api/openapi.json", None).await?;
    assert_eq!(doc.status, 200);
    let doc = doc.json;
    assert!(
        doc["openapi"].as_str().unwrap_or_default().starts_with("3."),
        "{}",
        doc["openapi"]
    );

    // Some data, so that lists and nested objects are not empty.
    let ann = f.contact("Ann", "ann@example.com").await?;
    f.conversation(ann).await?;
    s.post_json(
        &f.path("/conversations/1/assignments"),
        Some(&f.admin),
        &json!({ "assignee_id": f.agent_id }),
    )
    .await?;
    s.post_json(
        &f.path("/conversations/1/labels"),
        Some(&f.admin),
        &json!({ "labels": ["vip"] }),
    )
    .await?;
    let sent = s
        .post_json(
            &f.path("/conversations/1/messages"),
            Some(&f.admin),
            &json!({ "content": "hello", "echo_id": "x" }),
        )
        .await?;
    let message = sent.json["id"].as_i64().unwrap();

    let account = f.account;
    let inbox = f.inbox;
    let checks: Vec<(&str, &str, String, Option<Value>)> = vec![
        ("get", "/api/v1/profile", "/api/v1/profile".into(), None),
        ("get", "/api/v1/accounts/{account_id}", f.path(""), None),
        (
            "get",
            "/api/v1/accounts/{account_id}/agents",
            f.path("/agents"),
            None,
        ),
        (
            "get",
            "/api/v1/accounts/{account_id}/inboxes",
            f.path("/inboxes"),
            None,
        ),
        (
            "get",
            "/api/v1/accounts/{account_id}/inboxes/{id}",
            f.path(&format!("/inboxes/{inbox}")),
            None,
        ),
        (
            "get",
            "/api/v1/accounts/{account_id}/inbox_members/{inbox_id}",
            f.path(&format!("/inbox_members/{inbox}")),
            None,
        ),
        (
            "get",
            "/api/v1/accounts/{account_id}/contacts",
            f.path("/contacts"),
            None,
        ),
        (
            "get",
            "/api/v1/accounts/{account_id}/contacts/search",
            f.path("/contacts/search?q=ann"),
            None,
        ),
        (
            "get",
            "/api/v1/accounts/{account_id}/contacts/{id}",
            f.path(&format!("/contacts/{ann}")),
            None,
        ),
        (
            "get",
            "/api/v1/accounts/{account_id}/contacts/{id}/conversations",
            f.path(&format!("/contacts/{ann}/conversations")),
            None,
        ),
        (
            "post",
            "/api/v1/accounts/{account_id}/contacts",
            f.path("/contacts"),
            Some(json!({ "name": "Bob", "inbox_id": inbox })),
        ),
        (
            "get",
            "/api/v1/accounts/{account_id}/conversations",
            f.path("/conversations"),
            None,
        ),
        (
            "get",
            "/api/v1/accounts/{account_id}/conversations/meta",
            f.path("/conversations/meta"),
            None,
        ),
        (
            "get",
            "/api/v1/accounts/{account_id}/conversations/{display_id}",
            f.path("/conversations/1"),
            None,
        ),
        (
            "get",
            "/api/v1/accounts/{account_id}/conversations/{display_id}/labels",
            f.path("/conversations/1/labels"),
            None,
        ),
        (
            "get",
            "/api/v1/accounts/{account_id}/conversations/{display_id}/messages",
            f.path("/conversations/1/messages"),
            None,
        ),
        (
            "post",
            "/api/v1/accounts/{account_id}/conversations/{display_id}/toggle_status",
            f.path("/conversations/1/toggle_status"),
            Some(json!({ "status": "pending" })),
        ),
        (
            "delete",
            "/api/v1/accounts/{account_id}/conversations/{display_id}/messages/{id}",
            f.path(&format!("/conversations/1/messages/{message}")),
            None,
        ),
    ];
    for (method, template, url, body) in &checks {
        let operation = &doc["paths"][*template][*method];
        assert!(operation.is_object(), "{method} {template} is not documented");
        let answer = s
            .call(&method.to_uppercase(), url, Some(&f.admin), body.as_ref())
            .await?;
        assert_eq!(answer.status, 200, "{method} {url}: {:?}", answer.json);
        let schema = &operation["responses"]["200"]["content"]["application/json"]["schema"];
        switchboard_e2e::conforms(&answer.json, schema, &doc, &format!("{method} {template}"))
            .unwrap_or_else(|e| panic!("answer differs from the document: {e}"));
    }
    let _ = account;
    // The checker itself rejects what the document does not describe.
    let contact_schema = json!({ "$ref": "#/components/schemas/Contact" });
    assert!(
        switchboard_e2e::conforms(&json!({ "id": 1, "bogus": true }), &contact_schema, &doc, "x").is_err()
    );
    assert!(switchboard_e2e::conforms(&json!({ "id": "1" }), &contact_schema, &doc, "x").is_err());
    // Every documented operation exists on the server (no 404/405 from routing).
    for (template, operations) in doc["paths"].as_object().unwrap() {
        let url = template
            .replace("{account_id}", &f.account.to_string())
            .replace("{inbox_id}", &inbox.to_string())
            .replace("{display_id}", "1")
            .replace("{channel}", "probe")
            .replace("{id}", "999999");
        for method in operations.as_object().unwrap().keys() {
            let answer = s
                .call(&method.to_uppercase(), &url, Some(&f.admin), Some(&json!({})))
                .await?;
            assert_ne!(
                answer.status, 405,
                "{method} {template} is documented but not routed"
            );
            if answer.status == 404 {
                assert_eq!(
                    error(&answer),
                    "Resource could not be found",
                    "{method} {template} is documented but not routed"
                );
            }
        }
    }
    Ok(())
}

/// A form with a contact's name and its picture as Chatwoot's clients send it.
fn avatar_form(name: &str, bytes: &[u8], mime: &str) -> anyhow::Result<reqwest::multipart::Form> {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name("avatar.png")
        .mime_str(mime)?;
    Ok(reqwest::multipart::Form::new()
        .text("name", name.to_owned())
        .part("avatar", part))
}

async fn contact_avatars_are_uploaded_and_served(backend: Backend) -> anyhow::Result<()> {
    let f = fixture(backend).await?;
    let s = &f.server;
    let first = b"\x89PNG\r\n\x1a\nthe first picture".to_vec();
    let created = s
        .post_multipart(
            &f.path("/contacts"),
            Some(&f.agent),
            avatar_form("Ann", &first, "image/png")?,
        )
        .await?;
    assert_eq!(created.status, 200, "{:?}", created.json);
    let contact = created.json["payload"]["contact"]["id"].as_i64().unwrap();
    let thumbnail = created.json["payload"]["contact"]["thumbnail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(thumbnail, f.path(&format!("/contacts/{contact}/avatar")));
    let (status, kind, bytes) = s.get_bytes(&thumbnail, &f.agent).await?;
    assert_eq!((status, kind.as_str(), &bytes), (200, "image/png", &first));
    let shown = s
        .get(&f.path(&format!("/contacts/{contact}")), Some(&f.admin))
        .await?;
    assert_eq!(shown.json["payload"]["thumbnail"], thumbnail);

    // Replaced with PUT multipart; a JSON update keeps it.
    let second = b"\xff\xd8\xffthe second picture".to_vec();
    let replaced = s
        .send_multipart(
            "PUT",
            &f.path(&format!("/contacts/{contact}")),
            Some(&f.agent),
            avatar_form("Ann B.", &second, "image/jpeg")?,
        )
        .await?;
    assert_eq!(replaced.status, 200, "{:?}", replaced.json);
    assert_eq!(replaced.json["payload"]["name"], "Ann B.");
    let renamed = s
        .send_patch(
            &f.path(&format!("/contacts/{contact}")),
            &f.agent,
            &json!({ "name": "Ann C." }),
        )
        .await?;
    assert_eq!(renamed.json["payload"]["thumbnail"], thumbnail);
    let (status, kind, bytes) = s.get_bytes(&thumbnail, &f.agent).await?;
    assert_eq!((status, kind.as_str(), &bytes), (200, "image/jpeg", &second));

    // Only raster images; the picture stays the account's.
    let svg = s
        .post_multipart(
            &f.path("/contacts"),
            Some(&f.agent),
            avatar_form("Scripted", b"<svg onload='x'/>", "image/svg+xml")?,
        )
        .await?;
    assert_eq!(svg.status, 422, "{:?}", svg.json);
    let (_, other_admin, _) = account_with_users(&f.env, "Globex").await?;
    let (status, _, bytes) = s.get_bytes(&thumbnail, &token(&other_admin)).await?;
    assert_eq!(status, 401);
    assert_ne!(bytes, second);
    let plain = f.contact("Bob", "bob@example.com").await?;
    let (status, _, _) = s
        .get_bytes(&f.path(&format!("/contacts/{plain}/avatar")), &f.agent)
        .await?;
    assert_eq!(status, 404, "a contact without an uploaded picture");
    Ok(())
}
