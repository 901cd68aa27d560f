//! `GET /cable`: ActionCable, as Chatwoot's dashboard and mobile app speak
//! it (subprotocol `actioncable-v1-json`). The server says `welcome`, pings
//! every 3 seconds, and answers each `subscribe` to `RoomChannel` — its
//! identifier names the user's `pubsub_token`, the `account_id` and
//! optionally the `user_id` — with `confirm_subscription` or
//! `reject_subscription`. A confirmed subscription receives the account's
//! live events as `{"identifier": …, "message": {"event": …, "data": …}}`,
//! under the same access rules as `/live` (`app::live_access`), re-read every
//! few seconds; a user who leaves the account gets `disconnect` and the
//! socket closes. A subscription, and each `update_presence` the client
//! sends on it, records the user as present and answers `presence.update`
//! with who is present in the account.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use crate::app::live_access::{self, LiveAccess};
use crate::live::LiveEvent;

pub fn router() -> Router<AppState> {
    Router::new().route("/cable", get(connect))
}

/// How often the server pings (ActionCable's clients count a connection
/// stale after two missed pings of 3 seconds).
const PING: Duration = Duration::from_secs(3);
/// How often a subscription re-reads its user's access.
const ACCESS_REFRESH: Duration = Duration::from_secs(5);
/// The one channel served.
const ROOM_CHANNEL: &str = "RoomChannel";

async fn connect(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .protocols(["actioncable-v1-json"])
        .on_upgrade(move |socket| session(socket, state))
}

/// A confirmed subscription.
struct Subscription {
    /// The identifier exactly as the client sent it: messages carry it back.
    identifier: String,
    account_id: i64,
    user_id: i64,
    access: LiveAccess,
}

/// What a subscribe command names, read from its identifier (a JSON text).
struct RoomParams {
    pubsub_token: String,
    account_id: i64,
    user_id: Option<i64>,
}

/// An id sent as a number or as a numeric string (Rails params are strings).
fn id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn room_params(identifier: &str) -> Option<RoomParams> {
    let params: Value = serde_json::from_str(identifier).ok()?;
    if params["channel"] != ROOM_CHANNEL {
        return None;
    }
    Some(RoomParams {
        pubsub_token: params["pubsub_token"].as_str()?.to_owned(),
        account_id: id(&params["account_id"])?,
        user_id: match &params["user_id"] {
            Value::Null => None,
            other => Some(id(other)?),
        },
    })
}

async fn send(socket: &mut WebSocket, frame: Value) -> bool {
    socket.send(Message::Text(frame.to_string().into())).await.is_ok()
}

fn now_secs() -> i64 {
    crate::store::now_ms() / 1000
}

async fn session(mut socket: WebSocket, state: AppState) {
    let mut events = state.live.subscribe();
    if !send(&mut socket, json!({ "type": "welcome" })).await {
        return;
    }
    let mut subscriptions: Vec<Subscription> = Vec::new();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING, PING);
    let mut refresh = tokio::time::interval_at(tokio::time::Instant::now() + ACCESS_REFRESH, ACCESS_REFRESH);
    loop {
        tokio::select! {
            _ = ping.tick() => {
                if !send(&mut socket, json!({ "type": "ping", "message": now_secs() })).await {
                    return;
                }
            }
            _ = refresh.tick() => {
                for s in &mut subscriptions {
                    match live_access::access(&state, s.account_id, s.user_id).await {
                        Ok(Some(current)) => s.access = current,
                        Ok(None) => {
                            let bye = json!({ "type": "disconnect", "reason": "unauthorized", "reconnect": false });
                            let _ = send(&mut socket, bye).await;
                            let _ = socket.send(Message::Close(None)).await;
                            return;
                        }
                        // A failed read keeps the last known access.
                        Err(_) => {}
                    }
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if !command(&mut socket, &state, &mut subscriptions, text.as_str()).await {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            event = events.recv() => match event {
                Ok(event) => {
                    if !forward(&mut socket, &subscriptions, &event).await {
                        return;
                    }
                }
                // A client that fell behind misses events, as on ActionCable;
                // the dashboard refetches when it reconnects.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
        }
    }
}

/// Handles one client command; answers false when the socket is gone.
async fn command(
    socket: &mut WebSocket,
    state: &AppState,
    subscriptions: &mut Vec<Subscription>,
    text: &str,
) -> bool {
    // ActionCable ignores what it cannot read; so does this server.
    let Ok(command) = serde_json::from_str::<Value>(text) else {
        return true;
    };
    let Some(identifier) = command["identifier"].as_str() else {
        return true;
    };
    match command["command"].as_str() {
        Some("subscribe") => {
            if subscriptions.iter().any(|s| s.identifier == identifier) {
                return true;
            }
            let granted = match room_params(identifier) {
                Some(p) => live_access::by_pubsub_token(state, &p.pubsub_token, p.account_id, p.user_id)
                    .await
                    .ok()
                    .flatten()
                    .map(|(user_id, access)| (p.account_id, user_id, access)),
                None => None,
            };
            let Some((account_id, user_id, access)) = granted else {
                return send(
                    socket,
                    json!({ "identifier": identifier, "type": "reject_subscription" }),
                )
                .await;
            };
            subscriptions.push(Subscription {
                identifier: identifier.to_owned(),
                account_id,
                user_id,
                access,
            });
            let confirmed = json!({ "identifier": identifier, "type": "confirm_subscription" });
            send(socket, confirmed).await && presence(socket, state, identifier, account_id, user_id).await
        }
        Some("unsubscribe") => {
            subscriptions.retain(|s| s.identifier != identifier);
            true
        }
        // RoomChannel's one action: the client is still there (its
        // dashboard sends it every 20 seconds).
        Some("message") if asks_presence(&command) => {
            match subscriptions.iter().find(|s| s.identifier == identifier) {
                Some(s) => {
                    let (account_id, user_id) = (s.account_id, s.user_id);
                    presence(socket, state, identifier, account_id, user_id).await
                }
                None => true,
            }
        }
        _ => true,
    }
}

/// Whether a `message` command asks for RoomChannel's `update_presence`
/// (its `data` is a JSON text: `{"action":"update_presence"}`).
fn asks_presence(command: &Value) -> bool {
    command["data"]
        .as_str()
        .and_then(|data| serde_json::from_str::<Value>(data).ok())
        .is_some_and(|data| data["action"] == "update_presence")
}

/// Records the user's presence and tells their subscription who is present
/// (Chatwoot's `presence.update`, which it sends to the user's own stream);
/// answers false when the socket is gone. A failed read skips the update.
async fn presence(
    socket: &mut WebSocket,
    state: &AppState,
    identifier: &str,
    account_id: i64,
    user_id: i64,
) -> bool {
    match live_access::presence(state, account_id, user_id).await {
        Ok(data) => {
            let frame = json!({
                "identifier": identifier,
                "message": { "event": "presence.update", "data": data },
            });
            send(socket, frame).await
        }
        Err(e) => {
            tracing::warn!(account = account_id, user = user_id, "cannot read presence: {e}");
            true
        }
    }
}

/// Sends `event` to each subscription allowed to receive it.
async fn forward(socket: &mut WebSocket, subscriptions: &[Subscription], event: &Arc<LiveEvent>) -> bool {
    for s in subscriptions.iter().filter(|s| s.access.allows(event)) {
        let mut data = event.data.clone();
        data["account_id"] = json!(s.account_id);
        let frame = json!({
            "identifier": s.identifier,
            "message": { "event": event.name, "data": data },
        });
        if !send(socket, frame).await {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_params_read_chatwoots_identifier() {
        let p = room_params(r#"{"channel":"RoomChannel","pubsub_token":"abc","account_id":"3","user_id":7}"#)
            .expect("a RoomChannel identifier");
        assert_eq!(
            (p.pubsub_token.as_str(), p.account_id, p.user_id),
            ("abc", 3, Some(7))
        );
        let p = room_params(r#"{"channel":"RoomChannel","pubsub_token":"abc","account_id":3}"#).unwrap();
        assert_eq!(p.user_id, None);
        assert!(room_params(r#"{"channel":"OtherChannel","pubsub_token":"abc","account_id":3}"#).is_none());
        assert!(room_params(r#"{"channel":"RoomChannel","account_id":3}"#).is_none());
        assert!(room_params(r#"{"channel":"RoomChannel","pubsub_token":"abc","account_id":"x"}"#).is_none());
        assert!(room_params("not json").is_none());
    }
}
