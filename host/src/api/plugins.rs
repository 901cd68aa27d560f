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
use crate::contract::IncomingRequest;
use crate::plugin_host::admin::{self, PluginInfo, WebhookDryRun};

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

async fn synced<T>(state: &AppState, value: T) -> Result<T, ApiError> {
    state.plugins.sync().await?;
    Ok(value)
}

async fn list(_: SuperAdmin, State(state): State<AppState>) -> Answer<Vec<PluginInfo>> {
    Ok(Json(admin::list(&state.plugins, true).await?))
}

async fn show(_: SuperAdmin, State(state): State<AppState>, Path(id): Path<String>) -> Answer<PluginInfo> {
    Ok(Json(admin::show(&state.plugins, &id, true).await?))
}

async fn install(
    _: SuperAdmin,
    State(state): State<AppState>,
    RawBody(bytes): RawBody,
) -> Result<(StatusCode, Json<PluginInfo>), ApiError> {
    let info = admin::install(&state.plugins, bytes.to_vec(), false).await?;
    synced(&state, ()).await?;
    Ok((
        StatusCode::CREATED,
        Json(admin::show(&state.plugins, &info.id, true).await?),
    ))
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
    admin::upgrade(&state.plugins, Some(&id), bytes.to_vec(), params.allow_downgrade).await?;
    synced(&state, ()).await?;
    Ok(Json(admin::show(&state.plugins, &id, true).await?))
}

async fn enable(_: SuperAdmin, State(state): State<AppState>, Path(id): Path<String>) -> Answer<PluginInfo> {
    admin::set_enabled(&state.plugins, &id, true).await?;
    synced(&state, ()).await?;
    Ok(Json(admin::show(&state.plugins, &id, true).await?))
}

async fn disable(_: SuperAdmin, State(state): State<AppState>, Path(id): Path<String>) -> Answer<PluginInfo> {
    admin::set_enabled(&state.plugins, &id, false).await?;
    synced(&state, ()).await?;
    Ok(Json(admin::show(&state.plugins, &id, true).await?))
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
    admin::remove(&state.plugins, &id, params.force).await?;
    synced(&state, StatusCode::NO_CONTENT).await
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
    admin::grant_host(&state.plugins, &id, &body.origin).await?;
    synced(&state, ()).await?;
    Ok(Json(admin::show(&state.plugins, &id, true).await?))
}

async fn revoke_host(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    AppJson(body): AppJson<OriginBody>,
) -> Answer<PluginInfo> {
    admin::revoke_host(&state.plugins, &id, &body.origin).await?;
    synced(&state, ()).await?;
    Ok(Json(admin::show(&state.plugins, &id, true).await?))
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
    admin::set_limits(&state.plugins, &id, body.timeout_ms, body.memory_mib).await?;
    synced(&state, ()).await?;
    Ok(Json(admin::show(&state.plugins, &id, true).await?))
}

async fn dry_run_webhook(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    AppJson(request): AppJson<IncomingRequest>,
) -> Answer<WebhookDryRun> {
    Ok(Json(admin::dry_run_webhook(&state.plugins, &id, request).await?))
}
