//! What Chatwoot's own clients send, through `switchboard::api::router` on
//! SQLite and PostgreSQL: trailing slashes, ids as strings or floats, fields
//! the server does not know, multipart bodies, teams and assignments, the
//! list's filters with their counts, senders on messages, the profile's
//! tokens, and Chatwoot's statuses where ours used to differ. The real
//! client libraries run against the binary in `tests/e2e/chatwoot_clients.rs`.

#[macro_use]
mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use common::{Acme, Backend, Fixture};

on_both_databases!(
    trailing_slashes_and_string_ids_are_accepted,
    conversations_open_by_source_id_and_refuse_strangers,
    api_inboxes_take_incoming_messages_with_their_sender,
    multipart_messages_carry_content_attributes_and_ignore_unknown_fields,
    contacts_accept_unknown_fields_multipart_and_show_their_inboxes,
    teams_are_managed_and_assignments_follow_chatwoot,
    list_filters_apply_to_the_page_and_the_counts,
    smaller_chatwoot_habits,
);

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    json: Value,
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a readable body")
        .to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Answer { status, json }
}

async fn call(app: &Router, method: &str, path: &str, token: &str, body: Option<Value>) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("api_access_token", token);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body
        .map(|b| Body::from(b.to_string()))
        .unwrap_or_else(Body::empty);
    send(app, request.body(body).expect("a valid request")).await
}

/// A `multipart/form-data` request with text fields and optionally one file.
async fn multipart(
    app: &Router,
    method: &str,
    path: &str,
    token: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &str, &[u8])>,
) -> Answer {
    let boundary = "----switchboard-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, file_name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                 Content-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("api_access_token", token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .expect("a valid request");
    send(app, request).await
}

struct Setup {
    f: Fixture,
    app: Router,
    acme: Acme,
    admin: String,
}

impl Setup {
    async fn new(backend: Backend) -> anyhow::Result<Self> {
        let f = Fixture::new(backend).await?;
        let acme = f.acme().await?;
        Ok(Self {
            app: f.router(),
            admin: acme.admin.access_token.clone(),
            f,
            acme,
        })
    }

    fn path(&self, rest: &str) -> String {
        format!("/api/v1/accounts/{}{rest}", self.acme.account)
    }

    async fn get(&self, rest: &str) -> Answer {
        call(&self.app, "GET", &self.path(rest), &self.admin, None).await
    }

    async fn post(&self, rest: &str, body: Value) -> Answer {
        call(&self.app, "POST", &self.path(rest), &self.admin, Some(body)).await
    }

    /// An inbox of Chatwoot's API channel (no plugin loaded: enough for
    /// anything but sending).
    async fn api_inbox(&self) -> anyhow::Result<i64> {
        Ok(self
            .f
            .store()
            .insert_inbox(self.acme.account, "API", "api-channel", None)
            .await?
            .id)
    }

    async fn conversation(&self, inbox: i64) -> i64 {
        let opened = self
            .post(
                "/conversations",
                json!({ "inbox_id": inbox, "contact_id": self.acme.contact }),
            )
            .await;
        assert_eq!(opened.status, StatusCode::OK, "{opened:?}");
        opened.json["id"].as_i64().expect("a display id")
    }
}

async fn trailing_slashes_and_string_ids_are_accepted(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let inbox = s.get(&format!("/inboxes/{}/", s.acme.inbox)).await;
    assert_eq!(inbox.status, StatusCode::OK, "{inbox:?}");
    assert_eq!(inbox.json["id"], s.acme.inbox);
    let listed = s.get("/inboxes/?page=1").await;
    assert_eq!(listed.status, StatusCode::OK, "{listed:?}");

    // Ids as strings and as whole floats, as the Python client sends them.
    let opened = s
        .post(
            "/conversations/",
            json!({ "inbox_id": s.acme.inbox.to_string(), "contact_id": format!("{}.0", s.acme.contact) }),
        )
        .await;
    assert_eq!(opened.status, StatusCode::OK, "{opened:?}");
    let opened = s
        .post(
            "/conversations",
            json!({ "inbox_id": s.acme.inbox as f64, "contact_id": s.acme.contact }),
        )
        .await;
    assert_eq!(opened.status, StatusCode::OK, "{opened:?}");
    let members = s
        .post(
            "/inbox_members",
            json!({ "inbox_id": s.acme.inbox.to_string(), "user_ids": [s.acme.agent.id.to_string()] }),
        )
        .await;
    assert_eq!(members.status, StatusCode::OK, "{members:?}");

    // What cannot be an id is still refused.
    for bad in [json!("two"), json!(2.5), json!([2]), json!({})] {
        let refused = s
            .post(
                "/conversations",
                json!({ "inbox_id": bad, "contact_id": s.acme.contact }),
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}: {refused:?}");
    }
    Ok(())
}

async fn conversations_open_by_source_id_and_refuse_strangers(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let created = s
        .post(
            "/contacts",
            json!({ "name": "Bo", "inbox_id": s.acme.inbox, "source_id": "bo-in-support" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{created:?}");
    let bo = created.json["payload"]["contact"]["id"].as_i64().unwrap();

    // Chatwoot's flow for API channels: the contact is found by its source id.
    let opened = s
        .post(
            "/conversations",
            json!({ "inbox_id": s.acme.inbox, "source_id": "bo-in-support" }),
        )
        .await;
    assert_eq!(opened.status, StatusCode::OK, "{opened:?}");
    assert_eq!(opened.json["meta"]["sender"]["id"], bo);
    assert_eq!(opened.json["contact_inbox"]["source_id"], "bo-in-support");

    let unknown = s
        .post(
            "/conversations",
            json!({ "inbox_id": s.acme.inbox, "source_id": "nobody" }),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{unknown:?}");
    // Another contact's source id is not this contact's.
    let clash = s
        .post(
            "/conversations",
            json!({ "inbox_id": s.acme.inbox, "contact_id": s.acme.contact, "source_id": "bo-in-support" }),
        )
        .await;
    assert_eq!(clash.status, StatusCode::UNPROCESSABLE_ENTITY, "{clash:?}");
    let neither = s
        .post("/conversations", json!({ "inbox_id": s.acme.inbox }))
        .await;
    assert_eq!(neither.status, StatusCode::UNPROCESSABLE_ENTITY, "{neither:?}");
    Ok(())
}

async fn api_inboxes_take_incoming_messages_with_their_sender(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let api = s.api_inbox().await?;
    let shown = s.get(&format!("/inboxes/{api}")).await;
    assert_eq!(shown.json["channel_type"], "Channel::Api", "{shown:?}");

    let display = s.conversation(api).await;
    let incoming = s
        .post(
            &format!("/conversations/{display}/messages"),
            json!({ "content": "Hello from the customer", "message_type": "incoming" }),
        )
        .await;
    assert_eq!(incoming.status, StatusCode::OK, "{incoming:?}");
    assert_eq!(incoming.json["message_type"], 0);
    assert_eq!(incoming.json["sender"]["type"], "contact");
    assert_eq!(incoming.json["sender"]["id"], s.acme.contact);

    let note = s
        .post(
            &format!("/conversations/{display}/messages"),
            json!({ "content": "internal", "private": "true" }),
        )
        .await;
    assert_eq!(note.status, StatusCode::OK, "{note:?}");
    assert_eq!(note.json["private"], true);
    assert_eq!(note.json["sender"]["type"], "user");
    assert_eq!(note.json["sender"]["id"], s.acme.admin.id);

    let page = s.get(&format!("/conversations/{display}/messages")).await;
    let senders: Vec<&str> = page.json["payload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sender"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(senders, ["contact", "user"], "{page:?}");
    let listed = s.get("/conversations?status=open").await;
    let mine = listed.json["data"]["payload"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == display)
        .cloned()
        .unwrap();
    assert_eq!(mine["messages"][0]["sender"]["type"], "user", "{mine}");

    // Not on inboxes of other channels.
    let other = s.conversation(s.acme.inbox).await;
    let refused = s
        .post(
            &format!("/conversations/{other}/messages"),
            json!({ "content": "hi", "message_type": "incoming" }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{refused:?}");
    let bad_type = s
        .post(
            &format!("/conversations/{display}/messages"),
            json!({ "content": "hi", "private": true, "content_type": "hologram" }),
        )
        .await;
    assert_eq!(bad_type.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad_type:?}");
    let card = s
        .post(
            &format!("/conversations/{display}/messages"),
            json!({ "content": "pick one", "private": true, "content_type": "input_select" }),
        )
        .await;
    assert_eq!(card.json["content_type"], "input_select", "{card:?}");
    Ok(())
}

async fn multipart_messages_carry_content_attributes_and_ignore_unknown_fields(
    backend: Backend,
) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let api = s.api_inbox().await?;
    let display = s.conversation(api).await;
    let path = s.path(&format!("/conversations/{display}/messages"));
    let first = s
        .post(
            &format!("/conversations/{display}/messages"),
            json!({ "content": "first", "message_type": "incoming" }),
        )
        .await;
    let first_id = first.json["id"].as_i64().unwrap();
    let reply = multipart(
        &s.app,
        "POST",
        &path,
        &s.admin,
        &[
            ("content", "a reply"),
            ("message_type", "incoming"),
            ("content_attributes", &format!("{{\"in_reply_to\": {first_id}}}")),
            ("cc_emails", ""),
            ("echo_id", "e-1"),
        ],
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.json["content_attributes"]["in_reply_to"], first_id);
    let broken = multipart(
        &s.app,
        "POST",
        &path,
        &s.admin,
        &[
            ("content", "x"),
            ("private", "true"),
            ("content_attributes", "{not json"),
        ],
        None,
    )
    .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST, "{broken:?}");
    // JSON bodies take the attributes as a string too.
    let json_string = s
        .post(
            &format!("/conversations/{display}/messages"),
            json!({ "content": "y", "private": true, "content_attributes": "{\"a\": 1}", "template_params": {} }),
        )
        .await;
    assert_eq!(json_string.json["content_attributes"]["a"], 1, "{json_string:?}");
    Ok(())
}

async fn contacts_accept_unknown_fields_multipart_and_show_their_inboxes(
    backend: Backend,
) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let created = s
        .post(
            "/contacts",
            json!({
                "name": "Cy", "email": "cy@example.com", "inbox_id": s.acme.inbox.to_string(),
                "avatar_url": "https://example.com/cy.png", "additional_attributes": { "city": "Lyon" },
                "contact_type": "lead", "some_future_field": [1, 2],
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{created:?}");
    let id = created.json["payload"]["contact"]["id"].as_i64().unwrap();
    let source = created.json["payload"]["contact_inbox"]["source_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let shown = s.get(&format!("/contacts/{id}")).await;
    assert_eq!(shown.status, StatusCode::OK, "{shown:?}");
    let identities = shown.json["payload"]["contact_inboxes"].as_array().unwrap();
    assert_eq!(identities.len(), 1, "{shown:?}");
    assert_eq!(identities[0]["source_id"], source);
    assert_eq!(identities[0]["inbox"]["id"], s.acme.inbox);

    let updated = multipart(
        &s.app,
        "PATCH",
        &s.path(&format!("/contacts/{id}")),
        &s.admin,
        &[
            ("name", "Cy Two"),
            ("additional_attributes[company_name]", "Acme"),
            ("unknown", "x"),
        ],
        Some(("avatar", "cy.png", b"\x89PNG not really")),
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK, "{updated:?}");
    assert_eq!(updated.json["payload"]["name"], "Cy Two");
    assert_eq!(
        updated.json["payload"]["additional_attributes"]["company_name"],
        "Acme"
    );

    // Still refused: what is malformed.
    let wrong_type = s.post("/contacts", json!({ "name": ["not", "a", "name"] })).await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST, "{wrong_type:?}");
    Ok(())
}

async fn teams_are_managed_and_assignments_follow_chatwoot(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let agent = s.acme.agent.access_token.clone();
    let refused = call(
        &s.app,
        "POST",
        &s.path("/teams"),
        &agent,
        Some(json!({ "name": "x" })),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "an agent cannot create teams: {refused:?}"
    );

    let team = s
        .post("/teams", json!({ "name": "Billing", "description": "Money" }))
        .await;
    assert_eq!(team.status, StatusCode::OK, "{team:?}");
    assert_eq!(team.json["name"], "billing");
    let team_id = team.json["id"].as_i64().unwrap();
    let again = s.post("/teams", json!({ "name": "billing" })).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "{again:?}");

    let added = s
        .post(
            &format!("/teams/{team_id}/team_members"),
            json!({ "user_ids": [s.acme.agent.id] }),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{added:?}");
    assert_eq!(added.json[0]["id"], s.acme.agent.id);
    let listed = call(&s.app, "GET", &s.path("/teams"), &agent, None).await;
    assert_eq!(listed.json[0]["is_member"], true, "{listed:?}");
    let changed = call(
        &s.app,
        "PATCH",
        &s.path(&format!("/teams/{team_id}")),
        &s.admin,
        Some(json!({ "description": "Invoices" })),
    )
    .await;
    assert_eq!(changed.json["description"], "Invoices", "{changed:?}");

    let display = s.conversation(s.acme.inbox).await;
    let assignments = format!("/conversations/{display}/assignments");
    let assigned = s
        .post(&assignments, json!({ "assignee_id": s.acme.agent.id }))
        .await;
    assert_eq!(assigned.json["id"], s.acme.agent.id, "{assigned:?}");
    // A team alone sets the team and keeps the agent.
    let teamed = s
        .post(&assignments, json!({ "team_id": team_id.to_string() }))
        .await;
    assert_eq!(teamed.status, StatusCode::OK, "{teamed:?}");
    assert_eq!(teamed.json["id"], team_id);
    // An empty body changes nothing.
    let nothing = s.post(&assignments, json!({})).await;
    assert_eq!(nothing.status, StatusCode::OK, "{nothing:?}");
    let shown = s.get(&format!("/conversations/{display}")).await;
    assert_eq!(shown.json["meta"]["assignee"]["id"], s.acme.agent.id, "{shown:?}");
    assert_eq!(shown.json["meta"]["team"]["id"], team_id, "{shown:?}");
    assert_eq!(shown.json["team_id"], team_id);
    let unassigned = s.post(&assignments, json!({ "assignee_id": null })).await;
    assert_eq!(unassigned.json, Value::Null);
    let shown = s.get(&format!("/conversations/{display}")).await;
    assert_eq!(shown.json["meta"]["assignee"], Value::Null);
    assert_eq!(shown.json["meta"]["team"]["name"], "billing");

    let removed = call(
        &s.app,
        "DELETE",
        &s.path(&format!("/teams/{team_id}/team_members")),
        &s.admin,
        Some(json!({ "user_ids": [s.acme.agent.id] })),
    )
    .await;
    assert_eq!(removed.status, StatusCode::OK, "{removed:?}");
    let members = s.get(&format!("/teams/{team_id}/team_members")).await;
    assert_eq!(members.json, json!([]));
    let deleted = call(
        &s.app,
        "DELETE",
        &s.path(&format!("/teams/{team_id}")),
        &s.admin,
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK, "{deleted:?}");
    let shown = s.get(&format!("/conversations/{display}")).await;
    assert_eq!(
        shown.json["meta"]["team"],
        Value::Null,
        "the team's deletion clears it: {shown:?}"
    );
    let gone = s.get(&format!("/teams/{team_id}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    Ok(())
}

async fn list_filters_apply_to_the_page_and_the_counts(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let team = s.post("/teams", json!({ "name": "vip" })).await.json["id"]
        .as_i64()
        .unwrap();
    let api = s.api_inbox().await?;
    let a = s.conversation(api).await;
    let b = s.conversation(api).await;
    let c = s.conversation(s.acme.inbox).await;
    s.post(
        &format!("/conversations/{a}/labels"),
        json!({ "labels": ["billing"] }),
    )
    .await;
    s.post(
        &format!("/conversations/{b}/labels"),
        json!({ "labels": ["sales", "billing"] }),
    )
    .await;
    s.post(
        &format!("/conversations/{c}/labels"),
        json!({ "labels": ["sales"] }),
    )
    .await;
    s.post(
        &format!("/conversations/{b}/assignments"),
        json!({ "team_id": team }),
    )
    .await;
    s.post(
        &format!("/conversations/{b}/assignments"),
        json!({ "assignee_id": s.acme.admin.id }),
    )
    .await;
    s.post(
        &format!("/conversations/{a}/messages"),
        json!({ "content": "My INVOICE is wrong", "message_type": "incoming" }),
    )
    .await;

    let ids = |answer: &Answer| -> Vec<i64> {
        let mut ids: Vec<i64> = answer.json["data"]["payload"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    let billing = s.get("/conversations?labels[]=billing").await;
    assert_eq!(ids(&billing), [a, b], "{billing:?}");
    assert_eq!(billing.json["data"]["meta"]["all_count"], 2);
    assert_eq!(billing.json["data"]["meta"]["mine_count"], 1);
    assert_eq!(billing.json["data"]["meta"]["unassigned_count"], 1);
    let either = s
        .get("/conversations?labels%5B%5D=billing&labels%5B%5D=sales")
        .await;
    assert_eq!(ids(&either), [a, b, c], "{either:?}");
    let teamed = s.get(&format!("/conversations?team_id={team}")).await;
    assert_eq!(ids(&teamed), [b], "{teamed:?}");
    // An id in the query string may be written as a whole float, as JSON
    // Schema's integers (and Rails) allow.
    let floated = s.get(&format!("/conversations?team_id={team}.0")).await;
    assert_eq!(ids(&floated), [b], "{floated:?}");
    assert_eq!(teamed.json["data"]["meta"]["all_count"], 1);
    let searched = s.get("/conversations?q=invoice").await;
    assert_eq!(ids(&searched), [a], "{searched:?}");
    assert_eq!(searched.json["data"]["meta"]["all_count"], 1);
    let meta = s.get("/conversations/meta?q=invoice").await;
    assert_eq!(meta.json["meta"]["all_count"], 1, "{meta:?}");
    // Without filters the counter table answers as before.
    let all = s.get("/conversations").await;
    assert_eq!(all.json["data"]["meta"]["all_count"], 3, "{all:?}");
    // A wildcard in q matches itself only.
    let wildcard = s.get("/conversations?q=%25").await;
    assert_eq!(ids(&wildcard), Vec::<i64>::new(), "{wildcard:?}");
    Ok(())
}

async fn smaller_chatwoot_habits(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let first = s.get("/conversations?page=0").await;
    assert_eq!(first.status, StatusCode::OK, "page 0 is page 1: {first:?}");
    let contacts = s.get("/contacts?page=0").await;
    assert_eq!(contacts.json["meta"]["current_page"], 1, "{contacts:?}");
    let search = s.get("/contacts/search").await;
    assert_eq!(search.status, StatusCode::UNPROCESSABLE_ENTITY, "{search:?}");

    let profile = call(&s.app, "GET", "/api/v1/profile", &s.admin, None).await;
    assert_eq!(profile.json["access_token"], s.admin.as_str(), "{profile:?}");
    let pubsub = profile.json["pubsub_token"].as_str().expect("a pubsub token");
    assert!(pubsub.len() >= 32, "{pubsub}");
    let agent_profile = call(&s.app, "GET", "/api/v1/profile", &s.acme.agent.access_token, None).await;
    assert_ne!(agent_profile.json["pubsub_token"], profile.json["pubsub_token"]);

    // 405 answers with the error shape and the allowed methods.
    let request = Request::builder()
        .method("PUT")
        .uri(s.path("/conversations"))
        .header("api_access_token", &s.admin)
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let response = s.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(allow.is_some_and(|a| a.contains("GET") && a.contains("POST")));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body)?;
    assert!(body["error"].is_string(), "{body}");
    Ok(())
}
