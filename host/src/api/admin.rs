//! Server administration for super admins, beside the plugin routes:
//! `/api/v1/admin/accounts`, `/users`, `/config` and account feature flags.
//! The same operations as `switchboard account|user|config|feature`.

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::SuperAdmin;
use super::extract::AppJson;
use super::{ApiError, AppState};
use crate::app::administration::{self, NewUser};
use crate::app::views;
use crate::plugin_host::settings::ConfigEntry;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/accounts", post(create_account))
        .route("/api/v1/admin/accounts/{id}/features", post(enable_feature))
        .route("/api/v1/admin/users", post(create_user))
        .route("/api/v1/admin/users/{id}/tokens", post(issue_token))
        .route("/api/v1/admin/config", get(list_config))
        .route("/api/v1/admin/config/{key}", put(set_config))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    name: String,
    locale: Option<String>,
}

async fn create_account(
    _: SuperAdmin,
    State(state): State<AppState>,
    AppJson(body): AppJson<NewAccount>,
) -> Result<Json<Value>, ApiError> {
    let account = administration::create_account(&state.store, &body.name, body.locale.as_deref()).await?;
    Ok(Json(views::account(&account, &[])))
}

async fn create_user(
    _: SuperAdmin,
    State(state): State<AppState>,
    AppJson(body): AppJson<NewUser>,
) -> Result<Json<administration::CreatedUser>, ApiError> {
    Ok(Json(administration::create_user(&state.store, body).await?))
}

async fn issue_token(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let token = administration::issue_token(&state.store, id).await?;
    Ok(Json(json!({ "id": id, "access_token": token })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureBody {
    flag: String,
}

async fn enable_feature(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AppJson(body): AppJson<FeatureBody>,
) -> Result<Json<Value>, ApiError> {
    let flags = administration::enable_feature(&state.store, id, &body.flag).await?;
    Ok(Json(json!({ "account_id": id, "features": flags })))
}

async fn list_config(
    _: SuperAdmin,
    State(state): State<AppState>,
) -> Result<Json<Vec<ConfigEntry>>, ApiError> {
    Ok(Json(administration::list_config(&state.plugins).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigBody {
    value: String,
    #[serde(default)]
    secret: bool,
}

async fn set_config(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(key): Path<String>,
    AppJson(body): AppJson<ConfigBody>,
) -> Result<Json<ConfigEntry>, ApiError> {
    let entry = administration::set_config(&state.plugins, &key, &body.value, body.secret).await?;
    Ok(Json(entry))
}
