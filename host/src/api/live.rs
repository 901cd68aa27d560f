//! `GET /api/v1/accounts/{account_id}/live`: a WebSocket that pushes the
//! account's live events as `{"event": "<name>", "data": {…}}`, with the same
//! JSON as the REST API. Authenticated like every account route (the
//! `api_access_token` header, or the query parameter of the same name for
//! browsers, which cannot set WebSocket headers). Agents receive only events
//! of the inboxes they belong to; access is re-read every few seconds, and the
//! socket closes when the user leaves the account.

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::{ApiError, AppState};
use crate::app::Member;
use crate::app::live_access::{self, LiveAccess};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/accounts/{account_id}/live", get(connect))
}

async fn connect(
    member: Member,
    State(state): State<AppState>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let access = live_access::access(&state, member.account_id, member.user.user_id)
        .await?
        .ok_or(ApiError::NotAccountMember)?;
    let events = state.live.subscribe();
    let (account_id, user_id) = (member.account_id, member.user.user_id);
    Ok(upgrade.on_upgrade(move |socket| pump(socket, state, account_id, user_id, access, events)))
}

/// How often an open socket re-reads the user's membership and inboxes, so
/// that a removed agent stops receiving within this time.
const ACCESS_REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

async fn pump(
    mut socket: WebSocket,
    state: AppState,
    account_id: i64,
    user_id: i64,
    mut access: LiveAccess,
    mut events: tokio::sync::broadcast::Receiver<std::sync::Arc<crate::live::LiveEvent>>,
) {
    let mut refresh = tokio::time::interval(ACCESS_REFRESH);
    refresh.tick().await;
    loop {
        tokio::select! {
            _ = refresh.tick() => match live_access::access(&state, account_id, user_id).await {
                Ok(Some(current)) => access = current,
                Ok(None) => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
                Err(_) => {}
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            event = events.recv() => match event {
                Ok(event) => {
                    if !access.allows(&event) {
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
