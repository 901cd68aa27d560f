//! `GET /health`: answers while the process serves and the database answers.
//! `GET /livez`: 200 while the process serves (a restart is the cure for
//! anything else). `GET /readyz`: 200 when the node should get traffic
//! (database answering, migrations applied, plugins loaded), else 503 with
//! the reasons; the rule is `app::ops::readiness`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::app::ops;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
}

async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store.ping().await?;
    Ok(Json(
        json!({ "status": "ok", "plugins": state.plugins.loaded_ids() }),
    ))
}

async fn livez() -> Json<Value> {
    Json(json!({ "status": "alive" }))
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<ops::Readiness>) {
    let readiness = ops::readiness(&state).await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}
