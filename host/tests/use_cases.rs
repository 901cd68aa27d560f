//! The application layer without HTTP: use cases called directly on a
//! node's state built in-process, on SQLite and on PostgreSQL, with what
//! they stored checked through the store. A rule of `switchboard::app` is
//! tested here without a router or a binary.

#[macro_use]
mod common;

use serde_json::Value;
use switchboard::app::conversations::{self, ListQuery, NewConversation, StatusChange};
use switchboard::app::messages::{self, Draft};
use switchboard::app::{AppError, Member};
use switchboard::store::StoreError;

use common::{Acme, Backend, Fixture};

on_both_databases!(
    change_status_toggles_and_snoozes,
    set_labels_normalises_and_refuses_whitespace,
    send_refuses_blank_content_and_stores_nothing,
    private_note_is_stored_without_a_delivery_job,
    visible_conversation_hides_other_inboxes_from_agents,
    administration_refuses_bad_input,
);

/// An account with an administrator and an agent, an inbox the agent belongs
/// to, and a contact.
struct Setup {
    f: Fixture,
    account: i64,
    admin: Member,
    agent: Member,
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
            admin: f.member(account, &admin).await?,
            agent: f.member(account, &agent).await?,
            f,
            account,
            inbox,
            contact,
        })
    }

    /// Opens a conversation with the contact in an inbox; answers its
    /// display id.
    async fn open(&self, inbox: i64) -> anyhow::Result<i64> {
        let opened = conversations::open(
            &self.f.state,
            &self.admin,
            NewConversation {
                inbox_id: inbox,
                contact_id: Some(self.contact),
                source_id: None,
                assignee_id: None,
                status: None,
                ..Default::default()
            },
        )
        .await?;
        Ok(opened["id"].as_i64().expect("a display id"))
    }

    /// The conversation as the API renders it now.
    async fn rendered(&self, display_id: i64) -> anyhow::Result<Value> {
        let row = conversations::visible_conversation(&self.f.state, &self.admin, display_id).await?;
        Ok(conversations::render_one(&self.f.state, row).await?)
    }

    /// Changes the status as the agent; answers the status then stored.
    async fn change(
        &self,
        display_id: i64,
        status: Option<&str>,
        snoozed_until: Option<i64>,
    ) -> anyhow::Result<String> {
        let change = StatusChange {
            status: status.map(str::to_owned),
            snoozed_until,
        };
        conversations::change_status(&self.f.state, &self.agent, display_id, change).await?;
        Ok(self.rendered(display_id).await?["status"]
            .as_str()
            .expect("a status")
            .to_owned())
    }

    /// The conversation's messages, oldest first, straight from the store.
    async fn stored_messages(&self, display_id: i64) -> anyhow::Result<Vec<switchboard::store::MessageRow>> {
        let conversation = self.f.store().get_conversation(self.account, display_id).await?;
        Ok(self
            .f
            .store()
            .list_messages(conversation.id, None, None, 100)
            .await?)
    }
}

fn is_not_found(e: &AppError) -> bool {
    matches!(
        e,
        AppError::NotFound(_) | AppError::Store(StoreError::NotFound(_))
    )
}

fn draft(content: &str, private: bool) -> Draft {
    Draft {
        content: Some(content.into()),
        private,
        ..Default::default()
    }
}

async fn change_status_toggles_and_snoozes(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let id = s.open(s.inbox).await?;
    assert_eq!(s.rendered(id).await?["status"], "open");
    assert_eq!(
        s.change(id, None, None).await?,
        "resolved",
        "open toggles to resolved"
    );
    assert_eq!(
        s.change(id, None, None).await?,
        "open",
        "resolved toggles to open"
    );
    assert_eq!(s.change(id, Some("pending"), None).await?, "pending");
    assert_eq!(
        s.change(id, None, None).await?,
        "open",
        "anything but open toggles to open"
    );

    assert_eq!(
        s.change(id, Some("snoozed"), Some(1_900_000_000)).await?,
        "snoozed"
    );
    assert_eq!(s.rendered(id).await?["snoozed_until"], 1_900_000_000);
    assert_eq!(s.change(id, None, None).await?, "open");
    assert_eq!(
        s.rendered(id).await?["snoozed_until"],
        Value::Null,
        "leaving snoozed clears the snooze time"
    );
    assert_eq!(
        s.change(id, Some("resolved"), Some(1_900_000_000)).await?,
        "resolved"
    );
    assert_eq!(
        s.rendered(id).await?["snoozed_until"],
        Value::Null,
        "a snooze time is kept only when snoozed"
    );

    let unknown = s.change(id, Some("closed"), None).await.unwrap_err();
    assert!(
        matches!(unknown.downcast_ref(), Some(AppError::Refused(_))),
        "{unknown:?}"
    );
    for bad in [-1, i64::MAX] {
        let err = s.change(id, Some("snoozed"), Some(bad)).await.unwrap_err();
        assert!(
            matches!(err.downcast_ref(), Some(AppError::Refused(_))),
            "snoozed_until {bad}: {err:?}"
        );
    }
    assert_eq!(
        s.rendered(id).await?["status"],
        "resolved",
        "refusals change nothing"
    );
    let missing = conversations::change_status(&s.f.state, &s.agent, 99, StatusChange::default())
        .await
        .unwrap_err();
    assert!(is_not_found(&missing), "{missing:?}");
    Ok(())
}

async fn set_labels_normalises_and_refuses_whitespace(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let id = s.open(s.inbox).await?;
    let labels = |list: &[&str]| list.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();

    let set = conversations::set_labels(
        &s.f.state,
        &s.agent,
        id,
        &labels(&[" VIP", "billing ", "vip", "", "  ", "Billing", "a-b_c"]),
    )
    .await?;
    assert_eq!(
        set,
        ["a-b_c", "billing", "vip"],
        "trimmed, lower-cased, sorted, unique, no blanks"
    );
    assert_eq!(
        conversations::labels(&s.f.state, &s.agent, id).await?,
        ["a-b_c", "billing", "vip"]
    );

    for bad in [
        labels(&["two words"]),
        labels(&["ok", "tab\there"]),
        vec!["x".repeat(256)],
    ] {
        let err = conversations::set_labels(&s.f.state, &s.agent, id, &bad)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Refused(_)), "{bad:?}: {err:?}");
    }
    assert_eq!(
        conversations::labels(&s.f.state, &s.agent, id).await?,
        ["a-b_c", "billing", "vip"],
        "refusals left the labels as they were"
    );
    let longest = vec!["x".repeat(255)];
    assert_eq!(
        conversations::set_labels(&s.f.state, &s.agent, id, &longest).await?,
        longest
    );
    assert_eq!(conversations::labels(&s.f.state, &s.agent, id).await?, longest);
    assert!(
        conversations::set_labels(&s.f.state, &s.agent, id, &[])
            .await?
            .is_empty()
    );
    assert_eq!(s.rendered(id).await?["labels"], serde_json::json!([]));
    Ok(())
}

async fn send_refuses_blank_content_and_stores_nothing(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let id = s.open(s.inbox).await?;
    for (content, private) in [("", false), ("   \n\t", false), ("", true), (" ", true)] {
        let err = messages::send(&s.f.state, &s.agent, id, draft(content, private))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AppError::Refused(m) if m == "Content can't be blank"),
            "{content:?}: {err:?}"
        );
    }
    let none = messages::send(&s.f.state, &s.agent, id, Draft::default())
        .await
        .unwrap_err();
    assert!(matches!(none, AppError::Refused(_)), "{none:?}");
    let too_long = "x".repeat(messages::MAX_CONTENT_CHARS + 1);
    let err = messages::send(&s.f.state, &s.agent, id, draft(&too_long, true))
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Refused(_)), "{err:?}");
    let incoming = Draft {
        message_type: Some("incoming".into()),
        ..draft("hi", true)
    };
    let err = messages::send(&s.f.state, &s.agent, id, incoming)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Refused(_)), "{err:?}");
    // No plugin serves the inbox's channel, so a real send is refused too.
    let err = messages::send(&s.f.state, &s.agent, id, draft("hello", false))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::Refused(m) if m.contains("not enabled")),
        "{err:?}"
    );
    assert!(s.stored_messages(id).await?.is_empty(), "refusals store nothing");
    assert!(s.f.store().list_delivery_jobs(None, 10).await?.is_empty());
    Ok(())
}

async fn private_note_is_stored_without_a_delivery_job(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let id = s.open(s.inbox).await?;
    let mut live = s.f.state.live.subscribe();

    let note = messages::send(&s.f.state, &s.agent, id, draft("only for agents", true)).await?;
    assert_eq!(note["private"], true);
    assert_eq!(note["content"], "only for agents");

    let stored = s.stored_messages(id).await?;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].private);
    assert_eq!(stored[0].content.as_deref(), Some("only for agents"));
    assert_eq!(stored[0].sender_id, Some(s.agent.user.user_id));
    assert_eq!(Some(stored[0].id), note["id"].as_i64());
    assert!(
        s.f.store().list_delivery_jobs(None, 10).await?.is_empty(),
        "a private note is never delivered"
    );
    if backend == Backend::Sqlite {
        // On PostgreSQL events go through the database to every node's
        // follower, which this fixture does not run.
        let event = live.try_recv().expect("the note is announced to live clients");
        assert_eq!(event.name, "message.created");
    }

    let page = messages::page(&s.f.state, &s.agent, id, None, None).await?;
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].id, stored[0].id);
    Ok(())
}

async fn visible_conversation_hides_other_inboxes_from_agents(backend: Backend) -> anyhow::Result<()> {
    let s = Setup::new(backend).await?;
    let other_inbox = s.f.inbox(s.account, "Sales", &[]).await?.id;
    let own = s.open(s.inbox).await?;
    let foreign = s.open(other_inbox).await?;
    let state = &s.f.state;

    assert_eq!(
        conversations::visible_conversation(state, &s.agent, own)
            .await?
            .display_id,
        own
    );
    let hidden = conversations::visible_conversation(state, &s.agent, foreign)
        .await
        .unwrap_err();
    assert!(matches!(hidden, AppError::NotFound(_)), "{hidden:?}");
    let hidden = conversations::visible_inbox(state, &s.agent, other_inbox)
        .await
        .unwrap_err();
    assert!(matches!(hidden, AppError::NotFound(_)), "{hidden:?}");
    // Every use case on the conversation goes through the same rule.
    let labels = conversations::set_labels(state, &s.agent, foreign, &["vip".into()])
        .await
        .unwrap_err();
    assert!(is_not_found(&labels), "{labels:?}");
    let note = messages::send(state, &s.agent, foreign, draft("psst", true))
        .await
        .unwrap_err();
    assert!(is_not_found(&note), "{note:?}");
    assert!(s.stored_messages(foreign).await?.is_empty());

    let (listed, counts) = conversations::list(state, &s.agent, &ListQuery::default()).await?;
    assert_eq!(counts.all, 1);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], own);

    // Administrators see the whole account; nobody sees another account's.
    assert_eq!(
        conversations::visible_conversation(state, &s.admin, foreign)
            .await?
            .display_id,
        foreign
    );
    let (_, counts) = conversations::list(state, &s.admin, &ListQuery::default()).await?;
    assert_eq!(counts.all, 2);
    let elsewhere = s.f.account("Elsewhere").await?;
    let stranger = s.f.user(elsewhere, "boss@else.example", "administrator").await?;
    let stranger = s.f.member(elsewhere, &stranger).await?;
    let missing = conversations::visible_conversation(state, &stranger, own)
        .await
        .unwrap_err();
    assert!(is_not_found(&missing), "{missing:?}");
    Ok(())
}

async fn administration_refuses_bad_input(backend: Backend) -> anyhow::Result<()> {
    use switchboard::app::administration::{self, NewUser};
    let f = Fixture::new(backend).await?;
    let store = f.store();
    let blank = administration::create_account(store, "  ", None)
        .await
        .unwrap_err();
    assert!(matches!(blank, AppError::Refused(_)), "{blank:?}");
    let account = administration::create_account(store, " Acme ", Some("fr")).await?;
    assert_eq!((account.name.as_str(), account.locale.as_str()), ("Acme", "fr"));

    let user = |email: &str, role: Option<&str>, account_id: Option<i64>| NewUser {
        email: email.into(),
        name: None,
        super_admin: false,
        account_id,
        role: role.map(str::to_owned),
    };
    for (bad, role, account_id) in [
        ("no-at-sign", None, Some(account.id)),
        ("a b@example.com", None, Some(account.id)),
        ("ok@example.com", Some("owner"), Some(account.id)),
    ] {
        let err = administration::create_user(store, user(bad, role, account_id))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Refused(_)), "{bad} {role:?}: {err:?}");
    }
    let no_account = administration::create_user(store, user("ok@example.com", None, Some(999)))
        .await
        .unwrap_err();
    assert!(is_not_found(&no_account), "{no_account:?}");

    let created = administration::create_user(store, user("ok@example.com", None, Some(account.id))).await?;
    assert_eq!(
        (created.name.as_str(), created.role.as_deref()),
        ("ok", Some("agent"))
    );
    let member = f.member(account.id, &created).await?;
    assert!(!member.is_admin());
    assert!(matches!(member.require_admin(), Err(AppError::NotAllowed)));
    let again = administration::create_user(store, user("ok@example.com", None, None))
        .await
        .unwrap_err();
    assert!(
        matches!(again, AppError::Store(StoreError::Conflict(_))),
        "emails are unique: {again:?}"
    );
    Ok(())
}
