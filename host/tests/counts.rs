//! The conversation list's Mine / Unassigned / All counts come from counters
//! that triggers on `conversations` keep (migration 0006). After each kind of
//! change (opening, status changes, assignments, inbox membership, a move to
//! another inbox, an agent's removal, an inbox's deletion) they must equal a
//! COUNT(*) over the conversations, for administrators and agents, every
//! status and inbox filter, on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use sqlx::AnyPool;
use sqlx::Row;
use switchboard::app::Member;
use switchboard::app::conversations::{self, ListQuery, NewConversation, StatusChange};
use switchboard::app::inboxes::{self, MembersChange};
use switchboard::conversations::{ChatwootCode, ConversationStatus};

use common::{Backend, Fixture};

on_both_databases!(counts_follow_every_change);

/// What the list's `status` parameter may say (absent: open).
const STATUSES: [Option<&str>; 6] = [
    None,
    Some("all"),
    Some("open"),
    Some("resolved"),
    Some("pending"),
    Some("snoozed"),
];

struct World {
    f: Fixture,
    /// Raw queries for the recount, beside the store.
    pool: AnyPool,
    account: i64,
    admin: Member,
    agents: Vec<Member>,
    inboxes: Vec<i64>,
    /// Display ids of the open conversations (removed when their inbox goes).
    conversations: Vec<(i64, i64)>,
}

impl World {
    async fn new(backend: Backend) -> anyhow::Result<Self> {
        let f = Fixture::new(backend).await?;
        let account = f.account("Acme").await?;
        let admin = f.user(account, "admin@acme.example", "administrator").await?;
        let mut agents = Vec::new();
        for n in 1..=3 {
            let user = f
                .user(account, &format!("agent{n}@acme.example"), "agent")
                .await?;
            agents.push(f.member(account, &user).await?);
        }
        let (a1, a2) = (agents[0].user.user_id, agents[1].user.user_id);
        let inboxes = vec![
            f.inbox(account, "Support", &[a1, a2]).await?.id,
            f.inbox(account, "Sales", &[a1]).await?.id,
            f.inbox(account, "Billing", &[]).await?.id,
        ];
        let pool = AnyPool::connect(f.database_url()).await?;
        Ok(Self {
            admin: f.member(account, &admin).await?,
            f,
            pool,
            account,
            agents,
            inboxes,
            conversations: Vec::new(),
        })
    }

    fn members(&self) -> Vec<&Member> {
        std::iter::once(&self.admin).chain(&self.agents).collect()
    }

    /// The counts as COUNT(*) over the conversations the member may see.
    async fn recount(
        &self,
        member: &Member,
        status: Option<&str>,
        inbox: Option<i64>,
    ) -> anyhow::Result<(i64, i64, i64)> {
        let status = match status.unwrap_or("open") {
            "all" => -1,
            name => ConversationStatus::parse(name).expect("a status").code(),
        };
        let row = sqlx::query(
            "SELECT COUNT(*) AS all_count, \
             COUNT(CASE WHEN assignee_id IS NULL THEN 1 END) AS unassigned_count, \
             COUNT(CASE WHEN assignee_id = $5 THEN 1 END) AS mine_count \
             FROM conversations WHERE account_id = $1 AND ($2 = -1 OR status = $2) \
             AND ($3 = -1 OR inbox_id = $3) \
             AND ($4 = -1 OR inbox_id IN (SELECT inbox_id FROM inbox_members WHERE user_id = $4))",
        )
        .bind(self.account)
        .bind(status)
        .bind(inbox.unwrap_or(-1))
        .bind(if member.is_admin() {
            -1
        } else {
            member.user.user_id
        })
        .bind(member.user.user_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((
            row.try_get("mine_count")?,
            row.try_get("unassigned_count")?,
            row.try_get("all_count")?,
        ))
    }

    /// Every member, status and inbox filter: the counts the list answers
    /// equal the recount; and the counter rows equal a GROUP BY.
    async fn check(&self, step: &str) -> anyhow::Result<()> {
        for member in self.members() {
            for status in STATUSES {
                let inboxes = std::iter::once(None).chain(self.inboxes.iter().copied().map(Some));
                for inbox in inboxes {
                    let query = ListQuery {
                        status: status.map(str::to_owned),
                        inbox_id: inbox,
                        ..Default::default()
                    };
                    let counts = conversations::counts(&self.f.state, member, &query).await?;
                    let (_, listed) = conversations::list(&self.f.state, member, &query).await?;
                    let expected = self.recount(member, status, inbox).await?;
                    let what = format!(
                        "{step}: user {} (admin {}), status {status:?}, inbox {inbox:?}",
                        member.user.user_id,
                        member.is_admin()
                    );
                    assert_eq!(
                        (counts.mine, counts.unassigned, counts.all),
                        expected,
                        "{what}: (mine, unassigned, all)"
                    );
                    assert_eq!(
                        (listed.mine, listed.unassigned, listed.all),
                        expected,
                        "{what}: the list's counts"
                    );
                }
            }
        }
        // On PostgreSQL a bucket is the sum of appended deltas (migration
        // 0025) until they are folded: compare before and after a fold, and
        // after it every bucket is one row.
        self.compare_counters(step).await?;
        self.f.state.store.compact_conversation_counts().await?;
        self.compare_counters(&format!("{step}, counters folded")).await?;
        let split: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM conversation_counts \
             GROUP BY account_id, status, inbox_id, assignee_id HAVING COUNT(*) > 1) AS b",
        )
        .fetch_one(&self.pool)
        .await?;
        assert_eq!(split, 0, "{step}: after a fold, one row per bucket");
        Ok(())
    }

    /// The counter rows, summed per bucket, equal a GROUP BY of the
    /// conversations, and no bucket is below zero.
    async fn compare_counters(&self, step: &str) -> anyhow::Result<()> {
        let grouped = "SELECT account_id, status, inbox_id, COALESCE(assignee_id, 0) AS assignee, COUNT(*) AS n \
             FROM conversations GROUP BY account_id, status, inbox_id, COALESCE(assignee_id, 0) \
             ORDER BY account_id, status, inbox_id, assignee";
        let counters = "SELECT account_id, status, inbox_id, assignee_id AS assignee, CAST(SUM(n) AS BIGINT) AS n \
             FROM conversation_counts GROUP BY account_id, status, inbox_id, assignee_id \
             HAVING SUM(n) <> 0 ORDER BY account_id, status, inbox_id, assignee";
        let mut tables = Vec::new();
        for sql in [grouped, counters] {
            let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
            let rows = rows
                .iter()
                .map(|r| {
                    Ok([
                        r.try_get::<i64, _>("account_id")?,
                        r.try_get::<i64, _>("status")?,
                        r.try_get::<i64, _>("inbox_id")?,
                        r.try_get::<i64, _>("assignee")?,
                        r.try_get::<i64, _>("n")?,
                    ])
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            tables.push(rows);
        }
        assert_eq!(tables[0], tables[1], "{step}: counter rows against GROUP BY");
        let negative: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM conversation_counts \
             GROUP BY account_id, status, inbox_id, assignee_id HAVING SUM(n) < 0) AS b",
        )
        .fetch_one(&self.pool)
        .await?;
        assert_eq!(negative, 0, "{step}: no counter below zero");
        Ok(())
    }
}

/// A small deterministic generator (no seed to pass around, same run each time).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

async fn counts_follow_every_change(backend: Backend) -> anyhow::Result<()> {
    let mut w = World::new(backend).await?;
    let state = w.f.state.clone();
    let mut contacts = Vec::new();
    for n in 0..4 {
        contacts.push(w.f.contact(w.account, &format!("Contact {n}")).await?);
    }
    let mut assignees: Vec<Option<i64>> = vec![None, Some(w.admin.user.user_id)];
    assignees.extend(w.agents.iter().map(|a| Some(a.user.user_id)));
    let statuses = [
        None,
        Some("open"),
        Some("pending"),
        Some("resolved"),
        Some("snoozed"),
    ];
    w.check("empty").await?;

    // Opened with every status and assignee, in every inbox.
    for i in 0..24 {
        let inbox = w.inboxes[i % 3];
        let opened = conversations::open(
            &state,
            &w.admin,
            NewConversation {
                inbox_id: inbox,
                contact_id: Some(contacts[i % contacts.len()]),
                source_id: None,
                assignee_id: assignees[i % assignees.len()],
                status: statuses[i % statuses.len()].map(str::to_owned),
                ..Default::default()
            },
        )
        .await?;
        w.conversations
            .push((opened["id"].as_i64().expect("a display id"), inbox));
    }
    w.check("opened").await?;

    // Status changes (named and toggled) and (un)assignments, in any order.
    let mut rng = Lcg(7);
    for round in 0..4 {
        for _ in 0..12 {
            let (id, _) = w.conversations[rng.below(w.conversations.len())];
            if rng.below(2) == 0 {
                let change = StatusChange {
                    status: statuses[rng.below(statuses.len())].map(str::to_owned),
                    snoozed_until: None,
                };
                conversations::change_status(&state, &w.admin, id, change).await?;
            } else {
                let assignee = assignees[rng.below(assignees.len())];
                conversations::assign(&state, &w.admin, id, assignee).await?;
            }
        }
        w.check(&format!("changes, round {round}")).await?;
    }

    // An agent leaves one inbox and joins another: what they see changes,
    // not the counters.
    let a2 = w.agents[1].user.user_id;
    inboxes::change_members(&state, &w.admin, w.inboxes[0], &[a2], MembersChange::Remove).await?;
    inboxes::change_members(&state, &w.admin, w.inboxes[2], &[a2], MembersChange::Add).await?;
    w.check("membership").await?;

    // No use case moves a conversation to another inbox; the trigger counts
    // any write, so move some with plain SQL.
    let moved =
        sqlx::query("UPDATE conversations SET inbox_id = $1 WHERE inbox_id = $2 AND display_id % 2 = 0")
            .bind(w.inboxes[2])
            .bind(w.inboxes[1])
            .execute(&w.pool)
            .await?;
    assert!(moved.rows_affected() > 0);
    w.check("moved to another inbox").await?;

    // Removing an agent unassigns their conversations in one UPDATE.
    let a3 = w.agents[2].user.user_id;
    switchboard::app::agents::remove(&state, &w.admin, a3).await?;
    w.agents.pop();
    w.check("agent removed").await?;

    // Deleting an inbox deletes its conversations (a cascade).
    let gone = w.inboxes[1];
    inboxes::delete(&state, &w.admin, gone).await?;
    w.conversations.retain(|&(_, inbox)| inbox != gone);
    w.check("inbox deleted").await?;

    // And the survivors still move.
    for &(id, _) in &w.conversations.clone() {
        conversations::change_status(&state, &w.admin, id, StatusChange::default()).await?;
    }
    w.check("toggled after the deletion").await?;
    w.pool.close().await;
    Ok(())
}
