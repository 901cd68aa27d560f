//! The HTTP boundary without a server: requests go through
//! `tower::ServiceExt::oneshot` into `switchboard::api::router` on a node's
//! state built in-process, on SQLite and on PostgreSQL. Each route here has
//! at least one success and one error case; the end-to-end suites
//! (`tests/e2e`) cover the same surface through the real binary.

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
    profile_needs_a_valid_token,
    conversations_are_opened_and_listed_with_counts,
    toggle_status_toggles_without_a_body_and_refuses_bad_json,
    labels_are_normalised_and_whitespace_refused,
    agents_see_only_their_inboxes,
    messages_notes_are_stored_and_blank_content_refused,
    unknown_routes_and_malformed_paths_answer_json,
);

/// An answer: status and JSON body (`Null` when empty, a string when not JSON).
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    json: Value,
}

/// Sends one request through the router.
async fn call(app: &Router, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("api_access_token", token);
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(body.map(|b| Body::from(b.to_owned())).unwrap_or_else(Body::empty))
        .expect("a valid request");
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

async fn get(app: &Router, path: &str, token: &str) -> Answer {
    call(app, "GET", path, Some(token), None).await
}

async fn post(app: &Router, path: &str, token: &str, body: &Value) -> Answer {
    call(app, "POST", path, Some(token), Some(&body.to_string())).await
}

/// Fails unless the answer has this status and the API's one error shape,
/// `{"error": "<non-empty message>"}`; answers the message.
fn error_of(answer: &Answer, status: u16) -> String {
    assert_eq!(answer.status.as_u16(), status, "{answer:?}");
    let object = answer
        .json
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {answer:?}"));
    assert_eq!(object.len(), 1, "only an error: {answer:?}");
    let message = object["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {answer:?}"));
    assert!(!message.is_empty(), "{answer:?}");
    message.to_owned()
}

/// An account with an administrator and an agent, an inbox the agent belongs
/// to, a contact, and the router.
struct Setup {
    f: Fixture,
    app: Router,
    account: i64,
    admin: String,
    agent: String,
    agent_id: i64,
    inbox: i64,
    contact: i64,
}

impl Setup {
    async fn new(backend: Backend) -> anyhow::Result<Self> {
        let f = Fixture::new(backend).await?;
        let Acme {
            account,
            admin,
            agent,
            inbox,
            contact,
        } = f.acme().await?;
        Ok(Self {
            app: f.router(),
            f,
            account,
            admin: admin.access_token,
            agent: agent.access_token,
            agent_id: agent.id,
            inbox,
            contact,
        })
    }

    /// A path under the account.
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/accounts/{}{rest}", self.account)
    }

    /// Opens a conversation with the contact in an inbox as the
    /// administrator; answers its display id.
    async fn conversation(&self, inbox: i64) -> i64 {
        let opened = post(
            &self.app,
            &self.path("/conversations"),
            &self.admin,
            &json!({ "inbox_id": inbox, "contact_id": self.contact }),
        )
        .await;
        assert_eq!(opened.status, StatusCode::OK, "{opened:?}");
        opened.json["id"].as_i64().expect("a display id")
    }
}

async fn profile_needs_a_valid_token(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let none = call(&s.app, "GET", "/api/v1/profile", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.json,
        json!({ "errors": ["You need to sign in or sign up before continuing."] }),
        "no credential at all: Chatwoot's `errors` array"
    );
    let bad = get(&s.app, "/api/v1/profile", "not-a-token").await;
    assert_eq!(error_of(&bad, 401), "Invalid Access Token");
    let empty = call(&s.app, "GET", "/api/v1/profile", Some(""), None).await;
    assert_eq!(empty.status, StatusCode::UNAUTHORIZED, "{empty:?}");
    assert!(
        empty.json["errors"].is_array(),
        "an empty token is no token: {empty:?}"
    );

    let profile = get(&s.app, "/api/v1/profile", &s.agent).await;
    assert_eq!(profile.status, StatusCode::OK, "{profile:?}");
    assert_eq!(profile.json["email"], "agent@acme.example");
    assert_eq!(profile.json["name"], "agent", "the email's local part");
    assert_eq!(profile.json["type"], "User");
    assert_eq!(profile.json["account_id"], s.account);
    assert_eq!(
        profile.json["accounts"],
        json!([{ "id": s.account, "name": "Acme", "role": "agent", "status": "active", "locale": "en" }])
    );
    Ok(())
}

async fn conversations_are_opened_and_listed_with_counts(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let empty = get(&s.app, &s.path("/conversations"), &s.agent).await;
    assert_eq!(empty.status, StatusCode::OK, "{empty:?}");
    assert_eq!(
        empty.json,
        json!({ "data": {
            "meta": { "mine_count": 0, "unassigned_count": 0, "assigned_count": 0, "all_count": 0 },
            "payload": [],
        } })
    );

    let first = s.conversation(s.inbox).await;
    assert_eq!(first, 1, "display ids count per account from 1");
    let assigned = post(
        &s.app,
        &s.path("/conversations"),
        &s.admin,
        &json!({ "inbox_id": s.inbox, "contact_id": s.contact, "assignee_id": s.agent_id }),
    )
    .await;
    assert_eq!(assigned.status, StatusCode::OK, "{assigned:?}");
    assert_eq!(assigned.json["id"], 2);
    assert_eq!(assigned.json["status"], "open");
    assert_eq!(assigned.json["inbox_id"], s.inbox);
    assert_eq!(assigned.json["meta"]["sender"]["id"], s.contact);
    assert_eq!(assigned.json["meta"]["assignee"]["id"], s.agent_id);

    let list = get(&s.app, &s.path("/conversations"), &s.agent).await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    assert_eq!(
        list.json["data"]["meta"],
        json!({ "mine_count": 1, "unassigned_count": 1, "assigned_count": 1, "all_count": 2 })
    );
    let mut ids: Vec<i64> = list.json["data"]["payload"]
        .as_array()
        .expect("a payload")
        .iter()
        .map(|c| c["id"].as_i64().expect("an id"))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2]);
    let mine = get(&s.app, &s.path("/conversations?assignee_type=me"), &s.agent).await;
    assert_eq!(mine.json["data"]["payload"][0]["id"], 2, "{mine:?}");
    let meta = get(&s.app, &s.path("/conversations/meta"), &s.agent).await;
    assert_eq!(meta.json["meta"]["all_count"], 2, "{meta:?}");
    let shown = get(&s.app, &s.path("/conversations/1"), &s.agent).await;
    assert_eq!((shown.status, &shown.json["id"]), (StatusCode::OK, &json!(1)));

    // Errors.
    let no_contact = post(
        &s.app,
        &s.path("/conversations"),
        &s.admin,
        &json!({ "inbox_id": s.inbox }),
    )
    .await;
    assert!(
        error_of(&no_contact, 422).contains("contact_id"),
        "{no_contact:?}"
    );
    let bad_status = post(
        &s.app,
        &s.path("/conversations"),
        &s.admin,
        &json!({ "inbox_id": s.inbox, "contact_id": s.contact, "status": "closed" }),
    )
    .await;
    error_of(&bad_status, 422);
    let no_inbox = post(
        &s.app,
        &s.path("/conversations"),
        &s.admin,
        &json!({ "inbox_id": 9999, "contact_id": s.contact }),
    )
    .await;
    error_of(&no_inbox, 404);
    let missing_field = post(&s.app, &s.path("/conversations"), &s.admin, &json!({})).await;
    error_of(&missing_field, 400);
    let unknown_filter = get(&s.app, &s.path("/conversations?status=closed"), &s.agent).await;
    assert!(
        error_of(&unknown_filter, 400).contains("closed"),
        "{unknown_filter:?}"
    );
    let bad_page = get(&s.app, &s.path("/conversations?page=1000001"), &s.agent).await;
    error_of(&bad_page, 400);
    let missing = get(&s.app, &s.path("/conversations/99"), &s.agent).await;
    error_of(&missing, 404);
    let count_unchanged = get(&s.app, &s.path("/conversations/meta?status=all"), &s.admin).await;
    assert_eq!(
        count_unchanged.json["meta"]["all_count"], 2,
        "refused requests store nothing"
    );
    Ok(())
}

async fn toggle_status_toggles_without_a_body_and_refuses_bad_json(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let id = s.conversation(s.inbox).await;
    let toggle = s.path(&format!("/conversations/{id}/toggle_status"));

    let resolved = call(&s.app, "POST", &toggle, Some(&s.agent), None).await;
    assert_eq!(resolved.status, StatusCode::OK, "{resolved:?}");
    assert_eq!(
        resolved.json,
        json!({ "meta": {}, "payload": { "success": true, "current_status": "resolved", "conversation_id": id } })
    );
    let reopened = call(&s.app, "POST", &toggle, Some(&s.agent), None).await;
    assert_eq!(reopened.json["payload"]["current_status"], "open", "{reopened:?}");
    let empty_object = post(&s.app, &toggle, &s.agent, &json!({})).await;
    assert_eq!(
        empty_object.json["payload"]["current_status"], "resolved",
        "{empty_object:?}"
    );

    let snoozed = post(
        &s.app,
        &toggle,
        &s.agent,
        &json!({ "status": "snoozed", "snoozed_until": 1_900_000_000 }),
    )
    .await;
    assert_eq!(
        snoozed.json["payload"]["current_status"], "snoozed",
        "{snoozed:?}"
    );
    let shown = get(&s.app, &s.path(&format!("/conversations/{id}")), &s.agent).await;
    assert_eq!(
        (&shown.json["status"], &shown.json["snoozed_until"]),
        (&json!("snoozed"), &json!(1_900_000_000))
    );

    let bad_json = call(&s.app, "POST", &toggle, Some(&s.agent), Some("{not json")).await;
    assert!(error_of(&bad_json, 400).contains("JSON"), "{bad_json:?}");
    let unknown = post(&s.app, &toggle, &s.agent, &json!({ "status": "closed" })).await;
    error_of(&unknown, 422);
    let bad_time = post(
        &s.app,
        &toggle,
        &s.agent,
        &json!({ "status": "snoozed", "snoozed_until": -5 }),
    )
    .await;
    error_of(&bad_time, 422);
    let still = get(&s.app, &s.path(&format!("/conversations/{id}")), &s.agent).await;
    assert_eq!(still.json["status"], "snoozed", "refused changes change nothing");
    let missing = call(
        &s.app,
        "POST",
        &s.path("/conversations/42/toggle_status"),
        Some(&s.agent),
        None,
    )
    .await;
    error_of(&missing, 404);
    Ok(())
}

async fn labels_are_normalised_and_whitespace_refused(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let id = s.conversation(s.inbox).await;
    let labels = s.path(&format!("/conversations/{id}/labels"));

    let none = get(&s.app, &labels, &s.agent).await;
    assert_eq!(
        (none.status, &none.json),
        (StatusCode::OK, &json!({ "payload": [] }))
    );
    let set = post(
        &s.app,
        &labels,
        &s.agent,
        &json!({ "labels": [" VIP ", "billing", "vip", "", "Billing"] }),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{set:?}");
    assert_eq!(set.json, json!({ "payload": ["billing", "vip"] }));
    assert_eq!(
        get(&s.app, &labels, &s.agent).await.json["payload"],
        json!(["billing", "vip"])
    );
    let shown = get(&s.app, &s.path(&format!("/conversations/{id}")), &s.agent).await;
    assert_eq!(shown.json["labels"], json!(["billing", "vip"]));

    let spaced = post(&s.app, &labels, &s.agent, &json!({ "labels": ["two words"] })).await;
    assert!(error_of(&spaced, 422).contains("single words"), "{spaced:?}");
    let tabbed = post(&s.app, &labels, &s.agent, &json!({ "labels": ["a\tb"] })).await;
    error_of(&tabbed, 422);
    let long = post(&s.app, &labels, &s.agent, &json!({ "labels": ["x".repeat(256)] })).await;
    error_of(&long, 422);
    let not_a_list = post(&s.app, &labels, &s.agent, &json!({ "labels": "vip" })).await;
    error_of(&not_a_list, 400);
    assert_eq!(
        get(&s.app, &labels, &s.agent).await.json["payload"],
        json!(["billing", "vip"]),
        "refused labels leave the old ones"
    );
    let cleared = post(&s.app, &labels, &s.agent, &json!({ "labels": [] })).await;
    assert_eq!(cleared.json, json!({ "payload": [] }));
    Ok(())
}

async fn agents_see_only_their_inboxes(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let other_inbox = s.f.inbox(s.account, "Sales", &[]).await?.id;
    let own = s.conversation(s.inbox).await;
    let foreign = s.conversation(other_inbox).await;

    let seen = get(&s.app, &s.path(&format!("/conversations/{own}")), &s.agent).await;
    assert_eq!(seen.status, StatusCode::OK, "{seen:?}");
    let hidden = get(&s.app, &s.path(&format!("/conversations/{foreign}")), &s.agent).await;
    assert_eq!(error_of(&hidden, 404), "Resource could not be found");
    for rest in ["/labels", "/messages"] {
        let hidden = get(
            &s.app,
            &s.path(&format!("/conversations/{foreign}{rest}")),
            &s.agent,
        )
        .await;
        error_of(&hidden, 404);
    }
    let toggle = call(
        &s.app,
        "POST",
        &s.path(&format!("/conversations/{foreign}/toggle_status")),
        Some(&s.agent),
        None,
    )
    .await;
    error_of(&toggle, 404);
    let open_there = post(
        &s.app,
        &s.path("/conversations"),
        &s.agent,
        &json!({ "inbox_id": other_inbox, "contact_id": s.contact }),
    )
    .await;
    error_of(&open_there, 404);

    let listed = get(&s.app, &s.path("/conversations"), &s.agent).await;
    assert_eq!(listed.json["data"]["meta"]["all_count"], 1, "{listed:?}");
    assert_eq!(listed.json["data"]["payload"][0]["id"], own);
    let admin_sees = get(&s.app, &s.path(&format!("/conversations/{foreign}")), &s.admin).await;
    assert_eq!(admin_sees.status, StatusCode::OK, "{admin_sees:?}");
    assert_eq!(
        get(&s.app, &s.path("/conversations"), &s.admin).await.json["data"]["meta"]["all_count"],
        2
    );

    // Another account's member is not a member here at all.
    let elsewhere = s.f.account("Elsewhere").await?;
    let stranger =
        s.f.user(elsewhere, "stranger@else.example", "administrator")
            .await?;
    let refused = get(
        &s.app,
        &s.path(&format!("/conversations/{own}")),
        &stranger.access_token,
    )
    .await;
    assert_eq!(
        error_of(&refused, 401),
        "You are not authorized to access this account"
    );
    Ok(())
}

async fn messages_notes_are_stored_and_blank_content_refused(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let id = s.conversation(s.inbox).await;
    let messages = s.path(&format!("/conversations/{id}/messages"));

    let note = post(
        &s.app,
        &messages,
        &s.agent,
        &json!({ "content": "internal", "private": true }),
    )
    .await;
    assert_eq!(note.status, StatusCode::OK, "{note:?}");
    assert_eq!(
        (
            &note.json["private"],
            &note.json["content"],
            &note.json["message_type"]
        ),
        (&json!(true), &json!("internal"), &json!(1))
    );
    let listed = get(&s.app, &messages, &s.agent).await;
    assert_eq!(listed.status, StatusCode::OK, "{listed:?}");
    assert_eq!(listed.json["payload"][0]["content"], "internal");

    let blank = post(
        &s.app,
        &messages,
        &s.agent,
        &json!({ "content": "  ", "private": true }),
    )
    .await;
    assert_eq!(error_of(&blank, 422), "Content can't be blank");
    // No plugin serves the inbox's channel: the host refuses before storing.
    let unsendable = post(&s.app, &messages, &s.agent, &json!({ "content": "hello" })).await;
    assert!(
        error_of(&unsendable, 422).contains("not enabled"),
        "{unsendable:?}"
    );
    let incoming = post(
        &s.app,
        &messages,
        &s.agent,
        &json!({ "content": "x", "message_type": "incoming", "private": true }),
    )
    .await;
    error_of(&incoming, 422);
    assert_eq!(
        get(&s.app, &messages, &s.agent).await.json["payload"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "only the note was stored"
    );
    Ok(())
}

async fn unknown_routes_and_malformed_paths_answer_json(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let unknown = get(&s.app, "/api/v1/nothing", &s.admin).await;
    assert_eq!(error_of(&unknown, 404), "no such route");
    let anonymous = call(&s.app, "GET", "/nowhere", None, None).await;
    assert_eq!(error_of(&anonymous, 404), "no such route");
    // A trailing slash is the same route (as in Rails), without a redirect.
    let trailing = get(&s.app, "/api/v1/profile/", &s.admin).await;
    assert_eq!(trailing.status, StatusCode::OK, "{trailing:?}");
    let trailing = get(&s.app, &s.path("/conversations/"), &s.admin).await;
    assert_eq!(trailing.status, StatusCode::OK, "{trailing:?}");
    let unknown = get(&s.app, "/api/v1/nothing/", &s.admin).await;
    assert_eq!(error_of(&unknown, 404), "no such route");
    // axum's own plain-text rejections are rewritten into the error shape.
    let bad_segment = get(&s.app, &s.path("/conversations/abc"), &s.admin).await;
    error_of(&bad_segment, 400);
    let bad_query = get(&s.app, &s.path("/conversations?page=abc"), &s.admin).await;
    error_of(&bad_query, 400);
    let bad_account = get(&s.app, "/api/v1/accounts/abc/conversations", &s.admin).await;
    error_of(&bad_account, 404);
    let wrong_method = call(&s.app, "DELETE", "/api/v1/profile", Some(&s.admin), None).await;
    assert_eq!(
        wrong_method.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "{wrong_method:?}"
    );
    Ok(())
}
