//! The page shell every dashboard page shares: document head (the hashed
//! stylesheet and script), the top bar with the account's sections and the
//! sign-out button, and error pages.

use axum::http::StatusCode;
use axum::response::Html;
use maud::{DOCTYPE, Markup, html};

use super::assets;
use super::session::{WebMember, WebSuperAdmin};

/// Who is signed in, for the top bar.
pub struct Chrome<'a> {
    /// The account the page belongs to (none on the super admins' pages).
    pub account_id: Option<i64>,
    /// The user's email.
    pub email: &'a str,
    /// The session's CSRF token (the sign-out form).
    pub csrf: &'a str,
    /// Whether the user administers the account (admin links).
    pub admin: bool,
    /// Whether the user administers the server (the plugin console).
    pub super_admin: bool,
}

impl<'a> Chrome<'a> {
    /// The top bar of a page in the member's account.
    pub fn of(web: &'a WebMember) -> Self {
        Self {
            account_id: Some(web.member.account_id),
            email: &web.member.user.email,
            csrf: &web.csrf,
            admin: web.member.is_admin(),
            super_admin: web.member.user.super_admin,
        }
    }

    /// The top bar of a super admin's page (no account).
    pub fn of_super_admin(admin: &'a WebSuperAdmin) -> Self {
        Self {
            account_id: None,
            email: &admin.owner.email,
            csrf: &admin.csrf,
            admin: false,
            super_admin: true,
        }
    }
}

/// A whole page.
pub fn page(title: &str, chrome: Option<&Chrome<'_>>, main: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · Switchboard" }
                    link rel="stylesheet" href=(assets::url("app.css"));
                    script type="module" src=(assets::url("app.js")) {}
                }
                body {
                    a.skip href="#main" { "Skip to content" }
                    header.top {
                        span.brand { "Switchboard" }
                        @if let Some(c) = chrome {
                            nav aria-label="Sections" {
                                @if let Some(account) = c.account_id {
                                    a href={ "/app/accounts/" (account) "/conversations" } { "Conversations" }
                                    @if c.admin {
                                        " " a href={ "/app/accounts/" (account) "/settings/inboxes/list" } { "Inboxes" }
                                        " " a href={ "/app/accounts/" (account) "/settings/agents/list" } { "Agents" }
                                        " " a href={ "/app/accounts/" (account) "/settings/labels/list" } { "Labels" }
                                    }
                                } @else {
                                    a href="/" { "Conversations" }
                                }
                                @if c.super_admin {
                                    " " a href="/super_admin/plugins" { "Plugins" }
                                    " " a href="/super_admin/pipeline" { "Pipeline" }
                                    " " a href="/super_admin/settings" { "Server settings" }
                                }
                            }
                            span.who { (c.email) }
                            form method="post" action="/app/logout" {
                                input type="hidden" name="_csrf" value=(c.csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                    main #main { (main) }
                }
            }
        }
        .into_string(),
    )
}

/// A page saying why the request failed.
pub fn error_page(status: StatusCode, message: &str) -> Html<String> {
    page(
        status.canonical_reason().unwrap_or("Error"),
        None,
        html! {
            section.notice role="alert" {
                h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("Error")) }
                p { (message) }
                p { a href="/" { "Back to the start" } }
            }
        },
    )
}

/// Unix seconds or milliseconds as `YYYY-MM-DD HH:MM` UTC (no time zone
/// database in the binary; the script shows local times when it runs).
pub fn time(ms: i64) -> Markup {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let text = format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", rem / 3600, rem % 3600 / 60);
    let iso = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    html! { time datetime=(iso) { (text) " UTC" } }
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_civil() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(super::civil_from_days(11_016), (2000, 2, 29));
    }
}
