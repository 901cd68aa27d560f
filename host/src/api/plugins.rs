//! `/api/v1/admin/plugins`: the admin API over `plugins::admin` (super admins
//! only). Every change is synced into this process before the answer, so the
//! caller sees it take effect; other nodes follow within the sync interval.

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::SuperAdmin;
use super::extract::{AppJson, RawBody};
use super::{ApiError, AppState, MAX_PLUGIN_BYTES};
use crate::app::plugins as use_case;
use crate::contract::IncomingRequest;
use crate::plugin_host::admin::{PluginInfo, WebhookDryRun};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(install))
        .route("/{id}", get(show).delete(remove))
        .route("/{id}/upgrade", post(upgrade))
        .route("/{id}/enable", post(enable))
        .route("/{id}/disable", post(disable))
        .route("/{id}/hosts", post(grant_host).delete(revoke_host))
        .route("/{id}/limits", axum::routing::patch(set_limits))
        .route("/{id}/dry-run/webhook", post(dry_run_webhook))
        .layer(DefaultBodyLimit::max(MAX_PLUGIN_BYTES))
}

type Answer<T> = Result<Json<T>, ApiError>;

async fn list(_: SuperAdmin, State(state): State<AppState>) -> Answer<Vec<PluginInfo>> {
    Ok(Json(use_case::list(&state).await?))
}

async fn show(_: SuperAdmin, State(state): State<AppState>, Path(id): Path<String>) -> Answer<PluginInfo> {
    Ok(Json(use_case::show(&state, &id).await?))
}

async fn install(
    _: SuperAdmin,
    State(state): State<AppState>,
    RawBody(bytes): RawBody,
) -> Result<(StatusCode, Json<PluginInfo>), ApiError> {
    let info = use_case::install(&state, bytes.to_vec()).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

#[derive(Deserialize)]
struct UpgradeParams {
    #[serde(default)]
    allow_downgrade: bool,
}

async fn upgrade(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<UpgradeParams>,
    RawBody(bytes): RawBody,
) -> Answer<PluginInfo> {
    let info = use_case::upgrade(&state, &id, bytes.to_vec(), params.allow_downgrade).await?;
    Ok(Json(info))
}

async fn enable(_: SuperAdmin, State(state): State<AppState>, Path(id): Path<String>) -> Answer<PluginInfo> {
    Ok(Json(use_case::set_enabled(&state, &id, true).await?))
}

async fn disable(_: SuperAdmin, State(state): State<AppState>, Path(id): Path<String>) -> Answer<PluginInfo> {
    Ok(Json(use_case::set_enabled(&state, &id, false).await?))
}

#[derive(Deserialize)]
struct RemoveParams {
    #[serde(default)]
    force: bool,
}

async fn remove(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<RemoveParams>,
) -> Result<StatusCode, ApiError> {
    use_case::remove(&state, &id, params.force).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct OriginBody {
    origin: String,
}

async fn grant_host(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    AppJson(body): AppJson<OriginBody>,
) -> Answer<PluginInfo> {
    Ok(Json(use_case::grant_host(&state, &id, &body.origin).await?))
}

async fn revoke_host(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    AppJson(body): AppJson<OriginBody>,
) -> Answer<PluginInfo> {
    Ok(Json(use_case::revoke_host(&state, &id, &body.origin).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsBody {
    timeout_ms: Option<u64>,
    memory_mib: Option<u64>,
}

async fn set_limits(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    AppJson(body): AppJson<LimitsBody>,
) -> Answer<PluginInfo> {
    let info = use_case::set_limits(&state, &id, body.timeout_ms, body.memory_mib).await?;
    Ok(Json(info))
}

async fn dry_run_webhook(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    AppJson(request): AppJson<IncomingRequest>,
) -> Answer<WebhookDryRun> {
    Ok(Json(use_case::dry_run_webhook(&state, &id, request).await?))
}
