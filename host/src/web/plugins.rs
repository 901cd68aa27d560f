//! The super admins' plugin console at `/super_admin/plugins`: the
//! installed plugins with version, contract, state, health, hosts and
//! limits; uploading a component, which is checked and then shown on a
//! review page (what it asks for: outbound hosts, settings and secrets,
//! content limits, contract version; and what changes against the
//! installed version) before it is installed or upgraded on confirmation;
//! enable, disable, remove; grant and revoke hosts; each plugin's calls of
//! the last minutes on this node (counts, failures, traps, p99); a settings
//! form generated from the manifest's declared settings, secrets
//! write-only. Every change is an `app` use case (`app::plugins`,
//! `app::administration::set_config`), the same the JSON admin API and the
//! CLI call; anyone but a super admin gets 404.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::layout::{self, Chrome};
use super::session::{CsrfForm, CsrfMultipart, Nothing, WebSuperAdmin};
use crate::app::plugins::{self, Review};
use crate::app::{AppError, AppState, administration};
use crate::contract::settings::env_name;
use crate::contract::{Manifest, ReplyWindow};
use crate::plugin_host::admin::{AdminError, PluginInfo};
use crate::plugin_host::settings::ConfigEntry;

const BASE: &str = "/super_admin/plugins";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, get(console))
        .route(
            &format!("{BASE}/uploads"),
            post(upload).layer(DefaultBodyLimit::max(crate::api::MAX_PLUGIN_BYTES + 64 * 1024)),
        )
        .route(&format!("{BASE}/uploads/{{sha256}}"), get(review_page))
        .route(&format!("{BASE}/uploads/{{sha256}}/confirm"), post(confirm))
        .route(&format!("{BASE}/uploads/{{sha256}}/cancel"), post(cancel))
        .route(&format!("{BASE}/{{id}}"), get(plugin_page))
        .route(&format!("{BASE}/{{id}}/enable"), post(enable))
        .route(&format!("{BASE}/{{id}}/disable"), post(disable))
        .route(&format!("{BASE}/{{id}}/delete"), post(remove))
        .route(&format!("{BASE}/{{id}}/hosts"), post(grant_host))
        .route(&format!("{BASE}/{{id}}/hosts/revoke"), post(revoke_host))
        .route(&format!("{BASE}/{{id}}/settings"), post(save_settings))
}

/// A refusal shown beside the form that caused it (422); anything else is
/// the error page.
fn refusal(e: AppError) -> Result<String, WebError> {
    match e {
        AppError::Refused(m) | AppError::Invalid(m) | AppError::NotFound(m) => Ok(m),
        AppError::Admin(
            e @ (AdminError::InvalidPlugin(_)
            | AdminError::InvalidInput(_)
            | AdminError::Conflict(_)
            | AdminError::InUse(_)
            | AdminError::NotFound(_)),
        ) => Ok(e.to_string()),
        other => Err(other.into()),
    }
}

fn health(info: &PluginInfo) -> Markup {
    html! {
        span.health data-health=(info.health) { (info.health) }
        @if info.faults_in_row > 0 { " · " (info.faults_in_row) " faults in a row" }
        @if let Some(reason) = &info.disabled_reason { br; span.reason { "Disabled by the host: " (reason) } }
        @if let Some(fault) = &info.last_fault { br; span.muted { "Last fault: " (fault) } }
        @if let Some(error) = &info.load_error { br; span.reason { "Failed to load: " (error) } }
    }
}

/// The plugin's calls of the last minutes on this node, in one line.
fn recent_calls(info: &PluginInfo) -> Markup {
    html! {
        @match &info.recent_calls {
            None => { span.muted { "not running on this node" } }
            Some(r) if r.calls == 0 => { span.muted { "no calls in the last " (r.window_secs / 60) " min" } }
            Some(r) => {
                span.recent data-calls=(r.calls) data-errors=(r.errors) data-traps=(r.traps) {
                    (r.calls) " calls · "
                    @if r.errors > 0 { span.reason { (r.errors) " failed" } } @else { "0 failed" }
                    @if r.traps > 0 { " · " span.reason { (r.traps) " traps" } }
                    @if r.timeouts > 0 { " · " span.reason { (r.timeouts) " timeouts" } }
                    @if let Some(p99) = r.p99_ms { " · p99 " (format!("{p99:.1}")) " ms" }
                }
                br; span.muted { "last " (r.window_secs / 60) " min, this node" }
            }
        }
    }
}

fn hosts(list: &[String]) -> Markup {
    html! {
        @if list.is_empty() { span.muted { "none" } }
        @else { ul.plain { @for h in list { li { code { (h) } } } } }
    }
}

fn state_form(info: &PluginInfo, csrf: &str) -> Markup {
    let (verb, path) = if info.enabled {
        ("Disable", "disable")
    } else {
        ("Enable", "enable")
    };
    html! {
        form.inline method="post" action={ (BASE) "/" (info.id) "/" (path) } {
            input type="hidden" name="_csrf" value=(csrf);
            button type="submit" data-action=(path) { (verb) " " span.visually-hidden { (info.name) } }
        }
    }
}

async fn console(admin: WebSuperAdmin, State(state): State<AppState>) -> Result<Response, WebError> {
    render_console(&state, &admin, None, StatusCode::OK).await
}

async fn render_console(
    state: &AppState,
    admin: &WebSuperAdmin,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let all = plugins::list(state).await?;
    let body = html! {
        section.admin.wide {
            h1 { "Plugins" }
            table #plugins {
                caption.muted { "Channel plugins installed on this server" }
                thead { tr {
                    th scope="col" { "Plugin" } th scope="col" { "Version" } th scope="col" { "Contract" }
                    th scope="col" { "State" } th scope="col" { "Health" } th scope="col" { "Recent calls" } th scope="col" { "Hosts it may reach" }
                    th scope="col" { "Limits" } th scope="col" { "Actions" }
                } }
                tbody {
                    @for p in &all {
                        tr data-plugin=(p.id) {
                            td { a href={ (BASE) "/" (p.id) } { (p.name) } br; code.muted { (p.id) } @if p.bundled { " " span.label { "bundled" } } }
                            td { (p.version) }
                            td { (p.contract_version) }
                            td.state { @if p.enabled { "enabled" } @else { "disabled" } }
                            td { (health(p)) }
                            td { (recent_calls(p)) }
                            td { (hosts(&p.declared_hosts)) @if !p.granted_hosts.is_empty() { span.muted { "granted:" } (hosts(&p.granted_hosts)) } }
                            td { (p.timeout_ms) " ms · " (p.memory_limit_bytes >> 20) " MiB" }
                            td { (state_form(p, &admin.csrf)) }
                        }
                    }
                }
            }
            h2 { "Install or upgrade" }
            @if let Some(error) = error { p.error role="alert" #upload-error { (error) } }
            form.stacked #upload method="post" action={ (BASE) "/uploads" } enctype="multipart/form-data" {
                input type="hidden" name="_csrf" value=(admin.csrf);
                label for="component" { "Plugin component (.wasm)" }
                input #component type="file" name="component" accept=".wasm,application/wasm" required aria-describedby="upload-hint";
                p.hint #upload-hint { "It is checked and its permissions are shown for review; nothing is installed before you confirm." }
                button type="submit" #upload-button { "Review" }
            }
        }
    };
    let page = layout::page("Plugins", Some(&Chrome::of_super_admin(admin)), body);
    Ok((status, page).into_response())
}

async fn upload(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    form: CsrfMultipart,
) -> Result<Response, WebError> {
    let Some(file) = form.part("component").filter(|p| !p.bytes.is_empty()) else {
        return render_console(
            &state,
            &admin,
            Some("Choose a .wasm file first."),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match plugins::review(&state, &admin.owner, file.bytes.to_vec()).await {
        Ok(review) => Ok(Redirect::to(&format!("{BASE}/uploads/{}", review.sha256)).into_response()),
        Err(e) => {
            let name = file.file_name.as_deref().unwrap_or("the file");
            let error = format!("{name} was refused: {}", refusal(e)?);
            render_console(&state, &admin, Some(&error), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

fn settings_table(manifest: &Manifest) -> Markup {
    html! {
        @if manifest.settings.is_empty() { p.muted { "It reads no settings." } }
        @else {
            table.settings {
                thead { tr { th scope="col" { "Setting" } th scope="col" { "Environment name" } th scope="col" { "What it is for" } th scope="col" { "Kind" } } }
                tbody {
                    @for s in &manifest.settings {
                        tr {
                            td { code { (s.key) } }
                            td { code { (env_name(&manifest.id, &s.key)) } }
                            td { (s.description) }
                            td {
                                @if s.secret { strong { "secret" } } @else { "plain" }
                                @if s.required { ", required" }
                                @if let Some(d) = &s.default_value { @if !s.secret { ", default " code { (d) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The plugin's declared settings as a form: plain values shown and
/// editable, secrets write-only (whether one is set, never its value). An
/// empty field leaves the setting as it is.
fn settings_form(manifest: &Manifest, config: &[ConfigEntry], here: &str, csrf: &str) -> Markup {
    html! {
        @if manifest.settings.is_empty() { p.muted { "It reads no settings." } }
        @else {
            form.stacked #settings method="post" action={ (here) "/settings" } {
                input type="hidden" name="_csrf" value=(csrf);
                @for s in &manifest.settings {
                    @let name = env_name(&manifest.id, &s.key);
                    @let stored = config.iter().find(|c| c.key == name);
                    @let hint = format!("hint-{name}");
                    label for=(name) {
                        code { (s.key) }
                        @if s.required { " (required)" }
                    }
                    @if s.secret {
                        input id=(name) type="password" name=(name) autocomplete="new-password"
                            placeholder=(if stored.is_some() { "set: type to replace" } else { "not set" })
                            aria-describedby=(hint);
                    } @else {
                        input id=(name) type="text" name=(name)
                            value=[stored.and_then(|c| c.value.as_deref())]
                            placeholder=[s.default_value.as_deref()]
                            aria-describedby=(hint);
                    }
                    p.hint id=(hint) {
                        (s.description) " · " code { (name) }
                        @if s.secret { " · secret: stored sealed, never shown" }
                        @if !s.secret { @if let Some(d) = &s.default_value { " · default " code { (d) } } }
                    }
                }
                p.hint { "An empty field keeps its setting. A value set here wins over the process's environment variable of the same name." }
                button type="submit" #settings-button { "Save settings" }
            }
        }
    }
}

fn limits(manifest: &Manifest) -> Markup {
    let l = &manifest.limits;
    html! {
        ul.plain {
            li { "Text: " @if let Some(max) = l.max_text_chars { "up to " (max) " characters" } @else { "no limit" } }
            li { "Attachments: up to " (l.max_attachments)
                @if !l.attachment_kinds.is_empty() { " (" (l.attachment_kinds.iter().map(|k| format!("{k:?}").to_lowercase()).collect::<Vec<_>>().join(", ")) ")" }
                @if let Some(b) = l.max_attachment_bytes { ", " (b / 1024) " KiB each" }
                @if !l.text_with_attachments { "; never with text in the same message" } }
            li { "Reply window: "
                @match manifest.reply_window {
                    ReplyWindow::Unlimited => { "any time" }
                    ReplyWindow::AfterInboundSecs(s) => { (s / 3600) " hours after the contact's last message" }
                } }
            li { "Provider authorization (OAuth): " @if manifest.supports_authorization { "yes" } @else { "no" } }
        }
    }
}

/// What the upload changes against the installed version, in words.
fn changes(new: &Manifest, old: &PluginInfo) -> Vec<String> {
    let mut out = Vec::new();
    if new.version != old.version {
        out.push(format!("version {} → {}", old.version, new.version));
    }
    if new.contract_version != old.contract_version {
        out.push(format!(
            "contract {} → {}",
            old.contract_version, new.contract_version
        ));
    }
    let before = &old.manifest;
    for h in new
        .outbound_hosts
        .iter()
        .filter(|h| !before.outbound_hosts.contains(h))
    {
        out.push(format!("asks to reach {h} (new)"));
    }
    for h in before
        .outbound_hosts
        .iter()
        .filter(|h| !new.outbound_hosts.contains(h))
    {
        out.push(format!("no longer reaches {h}"));
    }
    let keys = |m: &Manifest| m.settings.iter().map(|s| s.key.clone()).collect::<Vec<_>>();
    let (was, now) = (keys(before), keys(new));
    for k in now.iter().filter(|k| !was.contains(k)) {
        out.push(format!("reads a new setting {k}"));
    }
    for k in was.iter().filter(|k| !now.contains(k)) {
        out.push(format!("no longer reads the setting {k}"));
    }
    if new.limits != before.limits || new.reply_window != before.reply_window {
        out.push("its content limits or reply window change (see below)".into());
    }
    out
}

fn review_body(review: &Review, csrf: &str) -> Markup {
    let m = &review.manifest;
    let downgrade = review.installed.as_ref().is_some_and(|old| {
        match (
            semver::Version::parse(&old.version),
            semver::Version::parse(&m.version),
        ) {
            (Ok(old), Ok(new)) => new < old,
            _ => false,
        }
    });
    let upload = format!("{BASE}/uploads/{}", review.sha256);
    html! {
        section.admin.review #review {
            h1 { "Review " (m.name) " " (m.version) }
            p {
                @if let Some(old) = &review.installed { "This upgrades the installed " (old.name) " " (old.version) "." }
                @else { "This installs a new plugin." }
            }
            dl.inbox {
                dt { "Id" } dd { code #review-id { (m.id) } }
                dt { "Version" } dd { (m.version) }
                dt { "Contract version" } dd { (m.contract_version) }
                @if !m.description.is_empty() { dt { "Description" } dd { (m.description) } }
                dt { "sha256" } dd { code.hash { (review.sha256) } }
            }
            @if let Some(old) = &review.installed {
                h2 { "What changes" }
                @let list = changes(m, old);
                @if list.is_empty() { p.muted { "Nothing it asks for changes." } }
                ul #review-changes { @for c in &list { li { (c) } } }
            }
            h2 { "It asks to reach" }
            div #review-hosts { (hosts(&m.outbound_hosts)) }
            p.hint { "Confirming grants these origins; any other needs a grant here later." }
            h2 { "Settings and secrets it reads" }
            (settings_table(m))
            h2 { "Limits" }
            (limits(m))
            form.stacked #confirm method="post" action={ (upload) "/confirm" } {
                input type="hidden" name="_csrf" value=(csrf);
                @if downgrade {
                    div.check {
                        input #allow_downgrade type="checkbox" name="allow_downgrade" value="1" required;
                        label for="allow_downgrade" { "Yes, go back to this older version" }
                    }
                }
                button type="submit" #confirm-button {
                    @if review.installed.is_some() { "Grant and upgrade" } @else { "Grant and install" }
                }
            }
            form.inline method="post" action={ (upload) "/cancel" } {
                input type="hidden" name="_csrf" value=(csrf);
                button.secondary type="submit" { "Cancel" }
            }
        }
    }
}

async fn review_page(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    Path(sha256): Path<String>,
) -> Result<Response, WebError> {
    let review = plugins::staged(&state, &sha256).await?;
    let title = format!("Review {}", review.manifest.name);
    Ok(layout::page(
        &title,
        Some(&Chrome::of_super_admin(&admin)),
        review_body(&review, &admin.csrf),
    )
    .into_response())
}

#[derive(Deserialize)]
struct ConfirmForm {
    allow_downgrade: Option<String>,
}

async fn confirm(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Result<Response, WebError> {
    match plugins::confirm(&state, &sha256, form.allow_downgrade.is_some()).await {
        Ok(info) => Ok(Redirect::to(&format!("{BASE}/{}", info.id)).into_response()),
        Err(e) => {
            let error = refusal(e)?;
            render_console(&state, &admin, Some(&error), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn cancel(
    _: WebSuperAdmin,
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Result<Response, WebError> {
    plugins::cancel(&state, &sha256).await?;
    Ok(Redirect::to(BASE).into_response())
}

async fn plugin_page(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    render_plugin(&state, &admin, &id, None, StatusCode::OK).await
}

async fn render_plugin(
    state: &AppState,
    admin: &WebSuperAdmin,
    id: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let p = plugins::show(state, id).await?;
    let config = administration::list_config(&state.plugins).await?;
    let here = format!("{BASE}/{}", p.id);
    let body = html! {
        section.admin #plugin data-plugin=(p.id) {
            h1 { (p.name) " " span.muted { (p.version) } }
            @if let Some(error) = error { p.error role="alert" #plugin-error { (error) } }
            dl.inbox {
                dt { "Id" } dd { code { (p.id) } }
                dt { "Contract version" } dd { (p.contract_version) }
                dt { "State" } dd #plugin-state { @if p.enabled { "enabled" } @else { "disabled" } }
                dt { "Health" } dd { (health(&p)) }
                dt { "Recent calls" } dd #recent-calls { (recent_calls(&p)) }
                dt { "Limits per call" } dd { (p.timeout_ms) " ms, " (p.memory_limit_bytes >> 20) " MiB" }
                @if !p.missing_settings.is_empty() {
                    dt { "Settings without a value" } dd.reason { (p.missing_settings.join(", ")) " (its calls fail until they are set below, or with " code { "switchboard config set NAME VALUE" } ")" }
                }
            }
            p { (state_form(&p, &admin.csrf)) }
            h2 { "Hosts" }
            h3 { "Declared by the plugin" }
            (hosts(&p.declared_hosts))
            h3 { "Granted here" }
            @if p.granted_hosts.is_empty() { p.muted { "none" } }
            ul.plain #granted {
                @for h in &p.granted_hosts {
                    li {
                        code { (h) } " "
                        form.inline method="post" action={ (here) "/hosts/revoke" } {
                            input type="hidden" name="_csrf" value=(admin.csrf);
                            input type="hidden" name="origin" value=(h);
                            button.secondary type="submit" { "Revoke " span.visually-hidden { (h) } }
                        }
                    }
                }
            }
            form.stacked #grant method="post" action={ (here) "/hosts" } {
                input type="hidden" name="_csrf" value=(admin.csrf);
                label for="origin" { "Grant an origin" }
                input #origin type="text" name="origin" required placeholder="https://api.example.com" aria-describedby="origin-hint";
                p.hint #origin-hint { "A scheme, host and optional port; " code { "*." } " for subdomains. Private addresses need a grant of their own." }
                button type="submit" #grant-button { "Grant" }
            }
            h2 { "Settings and secrets it reads" }
            (settings_form(&p.manifest, &config, &here, &admin.csrf))
            h2 { "Limits" }
            (limits(&p.manifest))
            h2 { "Remove" }
            form.stacked #remove method="post" action={ (here) "/delete" } {
                input type="hidden" name="_csrf" value=(admin.csrf);
                div.check {
                    input #force type="checkbox" name="force" value="1";
                    label for="force" { "Even if inboxes use it (their messages stop flowing)" }
                }
                button.danger type="submit" { "Remove " (p.name) }
            }
            p { a href=(BASE) { "All plugins" } }
        }
    };
    let page = layout::page(&p.name, Some(&Chrome::of_super_admin(admin)), body);
    Ok((status, page).into_response())
}

/// After a change on a plugin's page: back to it, or the refusal beside
/// the form.
async fn after(
    state: &AppState,
    admin: &WebSuperAdmin,
    id: &str,
    result: Result<PluginInfo, AppError>,
) -> Result<Response, WebError> {
    match result {
        Ok(info) => Ok(Redirect::to(&format!("{BASE}/{}", info.id)).into_response()),
        Err(e) => {
            let error = refusal(e)?;
            render_plugin(state, admin, id, Some(&error), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn enable(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Result<Response, WebError> {
    let result = plugins::set_enabled(&state, &id, true).await;
    after(&state, &admin, &id, result).await
}

async fn disable(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Result<Response, WebError> {
    let result = plugins::set_enabled(&state, &id, false).await;
    after(&state, &admin, &id, result).await
}

#[derive(Deserialize)]
struct RemoveForm {
    force: Option<String>,
}

async fn remove(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<RemoveForm>,
) -> Result<Response, WebError> {
    match plugins::remove(&state, &id, form.force.is_some()).await {
        Ok(()) => Ok(Redirect::to(BASE).into_response()),
        Err(e) => {
            let error = refusal(e)?;
            render_plugin(
                &state,
                &admin,
                &id,
                Some(&error),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// Saves the settings form: each declared setting with a non-empty value,
/// sealed when the manifest says it is secret.
async fn save_settings(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<std::collections::HashMap<String, String>>,
) -> Result<Response, WebError> {
    let p = plugins::show(&state, &id).await?;
    let entries: Vec<(String, &str, bool)> = p
        .manifest
        .settings
        .iter()
        .filter_map(|spec| {
            let name = env_name(&p.manifest.id, &spec.key);
            let value = form.get(&name).map(|v| v.trim()).filter(|v| !v.is_empty())?;
            Some((name, value, spec.secret))
        })
        .collect();
    if let Err(e) = administration::set_configs(&state.plugins, &entries).await {
        let error = refusal(e)?;
        return render_plugin(
            &state,
            &admin,
            &id,
            Some(&error),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    Ok(Redirect::to(&format!("{BASE}/{}", p.id)).into_response())
}

#[derive(Deserialize)]
struct OriginForm {
    origin: String,
}

async fn grant_host(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<OriginForm>,
) -> Result<Response, WebError> {
    let result = plugins::grant_host(&state, &id, form.origin.trim()).await;
    after(&state, &admin, &id, result).await
}

async fn revoke_host(
    admin: WebSuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<OriginForm>,
) -> Result<Response, WebError> {
    let result = plugins::revoke_host(&state, &id, form.origin.trim()).await;
    after(&state, &admin, &id, result).await
}
