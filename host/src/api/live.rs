//! `GET /api/v1/accounts/{account_id}/live`: a WebSocket that pushes the
//! account's live events as `{"event": "<name>", "data": {…}}`, with the same
//! JSON as the REST API. Authenticated like every account route (the
//! `api_access_token` header, or the query parameter of the same name for
//! browsers, which cannot set WebSocket headers). Agents receive only events
//! of the inboxes they belonged to when they connected.

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::auth::Member;
use super::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/accounts/{account_id}/live", get(connect))
}

async fn connect(
    member: Member,
    State(state): State<AppState>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let inboxes = if member.is_admin() {
        None
    } else {
        let visible = state
            .store
            .list_inboxes(member.account_id, Some(member.user.user_id))
            .await?;
        Some(visible.into_iter().map(|i| i.id).collect::<Vec<_>>())
    };
    let events = state.live.subscribe();
    Ok(upgrade.on_upgrade(move |socket| pump(socket, member.account_id, inboxes, events)))
}

async fn pump(
    mut socket: WebSocket,
    account_id: i64,
    inboxes: Option<Vec<i64>>,
    mut events: tokio::sync::broadcast::Receiver<std::sync::Arc<crate::live::LiveEvent>>,
) {
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            event = events.recv() => match event {
                Ok(event) => {
                    let visible = event.account_id == account_id
                        && match (&inboxes, event.inbox_id) {
                            (Some(mine), Some(inbox)) => mine.contains(&inbox),
                            _ => true,
                        };
                    if !visible {
                        continue;
                    }
                    let mut data = event.data.clone();
                    data["account_id"] = json!(account_id);
                    let text = json!({ "event": event.name, "data": data }).to_string();
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    // The client fell behind: say so, so it can refetch.
                    let text = json!({ "event": "resync", "data": { "missed": missed } }).to_string();
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
        }
    }
}
