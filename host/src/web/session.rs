//! Who is looking at a page: the session cookie set at sign-in, resolved to
//! a user (`Signed`) or to a member of the path's account (`WebMember`);
//! and `CsrfForm`, the only way a handler reads a form, which refuses one
//! without the session's CSRF token.

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use serde::de::DeserializeOwned;

use super::WebError;
use crate::app::{AppState, Member, sessions};
use crate::store::SessionRow;

/// The session cookie's name.
pub const COOKIE: &str = "sb_session";
/// The sign-in form's own CSRF cookie (there is no session yet).
pub const LOGIN_COOKIE: &str = "sb_login";

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// The session token in the dashboard's cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
}

/// Whether the server is reached over https (directly or through a proxy
/// that says so), so cookies must be `Secure`.
fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, `Secure` over https;
/// `max_age` 0 deletes it.
pub fn set_cookie(headers: &HeaderMap, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if over_https(headers) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .expect("tokens are URL-safe base64")
}

/// Where to come back to after signing in: this request's path and query.
fn here(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
}

/// A signed-in user and their session.
pub struct Signed {
    /// The session (user, CSRF token).
    pub session: SessionRow,
    /// Its token (for signing out).
    pub token: String,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = session_cookie(&parts.headers).ok_or_else(|| WebError::SignIn(here(parts)))?;
        let session = sessions::session(state, &token)
            .await?
            .ok_or_else(|| WebError::SignIn(here(parts)))?;
        Ok(Self { session, token })
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Signed {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <Self as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(signed) => Ok(Some(signed)),
            Err(WebError::SignIn(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A signed-in member of the path's `{account_id}`; anyone else gets 404.
pub struct WebMember {
    /// The member, as every use case takes it.
    pub member: Member,
    /// The session's CSRF token, for the page's forms.
    pub csrf: String,
}

impl FromRequestParts<AppState> for WebMember {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Signed { session, .. } = Signed::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| WebError::NotFound)?;
        let account_id = params
            .iter()
            .find(|(name, _)| *name == "account_id")
            .and_then(|(_, v)| v.parse::<i64>().ok())
            .ok_or(WebError::NotFound)?;
        let role = state
            .store
            .membership(account_id, session.owner.user_id)
            .await
            .map_err(crate::app::AppError::from)?
            .ok_or(WebError::NotFound)?;
        Ok(Self {
            member: Member {
                user: session.owner,
                account_id,
                role,
            },
            csrf: session.csrf,
        })
    }
}

/// A form body (`application/x-www-form-urlencoded`) whose `_csrf` field
/// (or `x-csrf-token` header, for the page's script) is the session's token.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Signed { session, .. } = Signed::from_request_parts(&mut parts, state).await?;
        let header_token = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(body, 1 << 20)
            .await
            .map_err(|_| WebError::App(crate::app::AppError::Invalid("the form is too large".into())))?;
        let form_token = url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "_csrf")
            .map(|(_, v)| v.into_owned());
        let given = header_token.or(form_token).unwrap_or_default();
        if !same(given.as_bytes(), session.csrf.as_bytes()) {
            return Err(WebError::Forbidden);
        }
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        let axum::Form(value) = axum::Form::<T>::from_request(request, state)
            .await
            .map_err(|e| WebError::App(crate::app::AppError::Invalid(e.body_text())))?;
        Ok(Self(value))
    }
}

/// The body of a form that carries nothing but its CSRF token (a button:
/// enable, remove, retry, sign out).
#[derive(serde::Deserialize)]
pub struct Nothing {}

/// Constant-time comparison of two tokens.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A signed-in super admin (the plugin console); anyone else gets 404, as
/// if the page did not exist.
pub struct WebSuperAdmin {
    /// The user.
    pub owner: crate::store::TokenOwner,
    /// The session's CSRF token, for the page's forms.
    pub csrf: String,
}

impl FromRequestParts<AppState> for WebSuperAdmin {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Signed { session, .. } = Signed::from_request_parts(parts, state).await?;
        if !session.owner.super_admin {
            return Err(WebError::NotFound);
        }
        Ok(Self {
            owner: session.owner,
            csrf: session.csrf,
        })
    }
}

/// One part of a multipart form.
pub struct FormPart {
    /// The field's name.
    pub name: String,
    /// The file's name, for a file field.
    pub file_name: Option<String>,
    /// The file's MIME type, as the browser gave it.
    pub content_type: Option<String>,
    /// Its content.
    pub bytes: axum::body::Bytes,
}

/// A `multipart/form-data` body (a file upload) whose `_csrf` field (or
/// `x-csrf-token` header) is the session's token, as [`CsrfForm`] for
/// plain forms. The route's `DefaultBodyLimit` bounds it.
pub struct CsrfMultipart(pub Vec<FormPart>);

impl CsrfMultipart {
    /// The first part with this name.
    pub fn part(&self, name: &str) -> Option<&FormPart> {
        self.0.iter().find(|p| p.name == name)
    }
}

impl FromRequest<AppState> for CsrfMultipart {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Signed { session, .. } = Signed::from_request_parts(&mut parts, state).await?;
        let header_token = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let invalid = |e: String| WebError::App(crate::app::AppError::Invalid(e));
        let mut multipart = axum::extract::Multipart::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| invalid(e.body_text()))?;
        let mut fields = Vec::new();
        while let Some(field) = multipart.next_field().await.map_err(|e| invalid(e.body_text()))? {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|e| invalid(e.body_text()))?;
            fields.push(FormPart {
                name,
                file_name,
                content_type,
                bytes,
            });
        }
        let form = Self(fields);
        let form_token = form
            .part("_csrf")
            .map(|p| String::from_utf8_lossy(&p.bytes).into_owned());
        let given = header_token.or(form_token).unwrap_or_default();
        if !same(given.as_bytes(), session.csrf.as_bytes()) {
            return Err(WebError::Forbidden);
        }
        Ok(form)
    }
}
