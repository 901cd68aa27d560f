//! The dashboard's one error type: an HTML page with the status the JSON API
//! would answer (chosen once, in `api::error`), except that a page an agent
//! may not open is a 404, as if it did not exist, and a missing session
//! sends the browser to the sign-in page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::layout;
use crate::api::ApiError;
use crate::app::AppError;

/// Why a page cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No session: go and sign in, then come back to `0`.
    #[error("sign in first")]
    SignIn(String),
    /// Not there, or not for this user.
    #[error("This page does not exist, or you may not see it.")]
    NotFound,
    /// A cross-site request, or a form without this session's CSRF token.
    #[error("This form has expired or did not come from this site; reload the page and try again.")]
    Forbidden,
    /// A use case refused or failed.
    #[error(transparent)]
    App(#[from] AppError),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::SignIn(back) => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("return_to", &back)
                    .finish();
                return Redirect::to(&format!("/app/login?{query}")).into_response();
            }
            Self::NotFound | Self::App(AppError::NotAllowed) => {
                (StatusCode::NOT_FOUND, Self::NotFound.to_string())
            }
            Self::Forbidden => (StatusCode::FORBIDDEN, self.to_string()),
            Self::App(e) => {
                let api = ApiError::from(e);
                let status = api.status();
                let message = if status.is_server_error() {
                    tracing::error!("dashboard: {api:?}");
                    "Something went wrong on our side; try again.".to_owned()
                } else {
                    api.to_string()
                };
                (status, message)
            }
        };
        (status, layout::error_page(status, &message)).into_response()
    }
}
