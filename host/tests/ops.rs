//! Operations (issue 15) through a real HTTP server on both databases:
//! `/livez` and `/readyz` before the plugins load, after, and with the
//! database gone; `/metrics` refused without its token; retention pruning
//! what is old and finished and nothing younger or pending.

#[macro_use]
mod common;

use std::sync::Arc;

use common::{Backend, Fixture};
use serde_json::Value;
use switchboard::api::MetricsEndpoint;
use switchboard::app::ops::{self, RetentionConfig};
use switchboard::store::{NewInboundEvent, Store, now_ms};

on_both_databases!(
    ready_only_after_the_plugins_load_and_while_the_database_answers,
    metrics_need_the_token,
    retention_prunes_old_finished_events_only,
    a_group_of_webhooks_is_logged_in_one_statement_with_each_duplicate_unlogged,
);

/// Serves `router` on a free loopback port; answers its base URL.
async fn serve(router: axum::Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(base)
}

async fn get(url: &str) -> anyhow::Result<(u16, Value)> {
    let response = reqwest::get(url).await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

async fn ready_only_after_the_plugins_load_and_while_the_database_answers(
    backend: Backend,
) -> anyhow::Result<()> {
    let fixture = Fixture::new(backend).await?;
    let base = serve(fixture.router()).await?;

    // Fresh node: the plugins are not loaded yet.
    let (status, body) = get(&format!("{base}/readyz")).await?;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    let reasons = body["reasons"].to_string();
    assert!(reasons.contains("plugins"), "{body}");
    assert!(!reasons.contains("database"), "{body}");
    assert_eq!(get(&format!("{base}/livez")).await?.0, 200);

    fixture.state.plugins.sync().await?;
    let (status, body) = get(&format!("{base}/readyz")).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(body["reasons"], serde_json::json!([]));

    // The database gone: not ready, and the reason says so; still alive.
    fixture.store().close().await;
    let (status, body) = get(&format!("{base}/readyz")).await?;
    assert_eq!(status, 503, "{body}");
    assert!(body["reasons"].to_string().contains("database"), "{body}");
    assert_eq!(get(&format!("{base}/livez")).await?.0, 200);
    Ok(())
}

async fn metrics_need_the_token(backend: Backend) -> anyhow::Result<()> {
    let fixture = Fixture::new(backend).await?;
    let endpoint = MetricsEndpoint {
        render: Arc::new(|| "switchboard_test_total 1\n".to_owned()),
        token: Some("scrape-token".into()),
    };
    let base = serve(switchboard::api::router_with(
        fixture.state.clone(),
        Some(endpoint),
    ))
    .await?;
    let http = reqwest::Client::new();
    let url = format!("{base}/metrics");
    assert_eq!(http.get(&url).send().await?.status(), 401);
    let wrong = http.get(&url).bearer_auth("scrape-tokex").send().await?;
    assert_eq!(wrong.status(), 401);
    let right = http.get(&url).bearer_auth("scrape-token").send().await?;
    assert_eq!(right.status(), 200);
    assert!(
        right.headers()["content-type"]
            .to_str()?
            .starts_with("text/plain; version=0.0.4"),
        "the Prometheus text format"
    );
    assert_eq!(right.text().await?, "switchboard_test_total 1\n");

    // Without an endpoint, the main address has no /metrics at all.
    let plain = serve(fixture.router()).await?;
    assert_eq!(http.get(format!("{plain}/metrics")).send().await?.status(), 404);
    Ok(())
}

fn event(n: u32) -> NewInboundEvent {
    NewInboundEvent {
        channel: "api-channel".into(),
        body_sha256: format!("{n:064}"),
        method: "POST".into(),
        path: "/webhooks/api-channel".into(),
        query: String::new(),
        headers_json: "[]".into(),
        body: format!("{{\"n\":{n}}}").into_bytes(),
        order_key: None,
    }
}

/// The inbound log's group commit writes a group as one statement: each new
/// body gets its id, whatever order the database returns the rows in; a body
/// already logged, or repeated within the group, gets none; the same body on
/// another channel is another event.
async fn a_group_of_webhooks_is_logged_in_one_statement_with_each_duplicate_unlogged(
    backend: Backend,
) -> anyhow::Result<()> {
    let fixture = Fixture::new(backend).await?;
    let store = fixture.store();
    let first = store.insert_inbound_events(&[event(1)]).await?;
    let logged = first[0].expect("stored");
    let mut elsewhere = event(2);
    elsewhere.channel = "tiktok".into();
    let group = [event(3), event(1), event(2), event(3), elsewhere, event(4)];
    let ids = store.insert_inbound_events(&group).await?;
    assert_eq!(ids.len(), group.len());
    assert_eq!(ids[1], None, "already logged");
    assert_eq!(ids[3], None, "repeated within the group");
    let new: Vec<i64> = [ids[0], ids[2], ids[4], ids[5]]
        .into_iter()
        .map(|id| id.expect("a new body is stored"))
        .collect();
    let mut distinct = new.clone();
    distinct.push(logged);
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "every stored event has its own id: {ids:?}");
    let rows = store.list_inbound_events(None, None, 100).await?;
    for (id, stored) in new.iter().zip([&group[0], &group[2], &group[4], &group[5]]) {
        let row = rows.iter().find(|row| row.id == *id).expect("listed");
        assert_eq!(
            (row.channel.as_str(), row.body.as_slice()),
            (stored.channel.as_str(), stored.body.as_slice()),
            "the id names its own event"
        );
    }
    assert!(store.insert_inbound_events(&[]).await?.is_empty());
    Ok(())
}

async fn statuses(store: &Store) -> anyhow::Result<Vec<(i64, String)>> {
    let mut events: Vec<(i64, String)> = store
        .list_inbound_events(None, None, 100)
        .await?
        .into_iter()
        .map(|e| (e.id, e.status))
        .collect();
    events.sort();
    Ok(events)
}

async fn retention_prunes_old_finished_events_only(backend: Backend) -> anyhow::Result<()> {
    let fixture = Fixture::new(backend).await?;
    let store = fixture.store();
    let ids: Vec<i64> = store
        .insert_inbound_events(&[event(1), event(2), event(3)])
        .await?
        .into_iter()
        .map(|id| id.expect("stored"))
        .collect();
    store.finish_inbound_event(ids[0], "applied", None).await?;
    store
        .finish_inbound_event(ids[1], "failed", Some("cannot parse"))
        .await?;
    let all = statuses(store).await?;
    assert_eq!(all.len(), 3);

    let config = RetentionConfig::default();
    let day = 24 * 3600 * 1000;
    // 29 days on, everything is younger than the 30 days kept.
    let pruned = ops::prune(store, &config, now_ms() + 29 * day).await?;
    assert_eq!(pruned.events, 0);
    assert_eq!(statuses(store).await?, all);

    // Retention 0 keeps everything, however old.
    let forever = RetentionConfig {
        retain_events_days: 0,
        ..RetentionConfig::default()
    };
    assert_eq!(ops::prune(store, &forever, now_ms() + 400 * day).await?.events, 0);

    // 31 days on, the finished ones go; the pending one stays.
    let pruned = ops::prune(store, &config, now_ms() + 31 * day).await?;
    assert_eq!(pruned.events, 2);
    assert_eq!(statuses(store).await?, vec![(ids[2], "pending".to_owned())]);
    Ok(())
}
