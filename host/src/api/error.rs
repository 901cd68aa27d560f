//! The one HTTP error type: every 4xx/5xx the API answers is built here, as
//! `{"error": "<message>"}` (Chatwoot's shape). 5xx bodies say only what is
//! safe; the cause is logged once.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::plugin_host::admin::AdminError;
use crate::runtime::PluginError;

/// An error answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or bad token.
    #[error("Invalid Access Token")]
    Unauthorized,
    /// A sign-in's email and password do not match (an `errors` array, as
    /// devise-token-auth answers).
    #[error("Invalid login credentials. Please try again.")]
    BadCredentials,
    /// No credential at all (Chatwoot answers this with an `errors` array).
    #[error("You need to sign in or sign up before continuing.")]
    SignInRequired,
    /// The token's user is not a member of the account in the path.
    #[error("You are not authorized to access this account")]
    NotAccountMember,
    /// The member's role does not allow the action.
    #[error("You are not authorized to do this action")]
    NotAllowed,
    /// Token fine, permission missing.
    #[error("You are not authorized to do this action")]
    Forbidden,
    /// Nothing there.
    #[error("{0}")]
    NotFound(String),
    /// Malformed input.
    #[error("{0}")]
    BadRequest(String),
    /// The path exists, not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// Well-formed but unacceptable (e.g. an invalid plugin).
    #[error("{0}")]
    Unprocessable(String),
    /// The body is over the limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// A plugin crashed or hit a limit.
    #[error("{0}")]
    PluginFailed(String),
    /// A plugin ran out of time.
    #[error("{0}")]
    PluginTimeout(String),
    /// The account has not turned on the feature the action needs.
    #[error("{0}")]
    FeatureDisabled(String),
    /// A rate limit is spent.
    #[error("{0}")]
    TooManyRequests(String),
    /// A webhook failed its channel's verification (the reason is logged).
    #[error("the webhook could not be verified")]
    WebhookRejected,
    /// Something the request needs is down for now; retrying later helps.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an outage on our side.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized
            | Self::SignInRequired
            | Self::NotAccountMember
            | Self::NotAllowed
            | Self::BadCredentials
            | Self::WebhookRejected => StatusCode::UNAUTHORIZED,
            Self::FeatureDisabled(_) => StatusCode::FORBIDDEN,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::PluginFailed(_) => StatusCode::BAD_GATEWAY,
            Self::PluginTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(cause) => tracing::error!("internal error: {cause}"),
            Self::Unavailable(cause) => tracing::warn!("unavailable: {cause}"),
            _ => {}
        }
        let body = match &self {
            Self::SignInRequired => serde_json::json!({ "errors": [self.to_string()] }),
            Self::BadCredentials => serde_json::json!({ "success": false, "errors": [self.to_string()] }),
            _ => serde_json::json!({ "error": self.to_string() }),
        };
        (self.status(), Json(body)).into_response()
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::InvalidPlugin(_) => Self::Unprocessable(e.to_string()),
            AdminError::InvalidInput(_) => Self::BadRequest(e.to_string()),
            AdminError::NotFound(_) => Self::NotFound(e.to_string()),
            AdminError::Conflict(_) | AdminError::NotLoaded(_) | AdminError::InUse(_) => {
                Self::Conflict(e.to_string())
            }
            AdminError::Plugin(p) => p.into(),
            AdminError::Store(s) => Self::Internal(s.to_string()),
        }
    }
}

impl From<PluginError> for ApiError {
    fn from(e: PluginError) -> Self {
        match e {
            PluginError::Timeout { .. } => Self::PluginTimeout(e.to_string()),
            PluginError::Busy { .. } | PluginError::MemoryBudget { .. } => Self::Unavailable(e.to_string()),
            PluginError::MemoryLimit { .. } | PluginError::Trap { .. } | PluginError::OutputBudget { .. } => {
                Self::PluginFailed(e.to_string())
            }
            PluginError::Channel { .. }
            | PluginError::InvalidComponent(_)
            | PluginError::InvalidManifest(_) => Self::Unprocessable(e.to_string()),
            PluginError::Host { .. } => Self::Internal(e.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError as S;
        if e.is_invalid_text() {
            // PostgreSQL refuses NUL characters in text; SQLite stores them.
            return Self::BadRequest("text may not contain NUL characters".into());
        }
        match e {
            S::NotFound(_) => Self::NotFound("Resource could not be found".into()),
            S::Conflict(_) | S::Changed(_) | S::Refused(_) | S::InUse { .. } => {
                Self::Unprocessable(e.to_string())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::app::AppError> for ApiError {
    fn from(e: crate::app::AppError) -> Self {
        use crate::app::AppError as A;
        match e {
            A::NotFound(message) => Self::NotFound(message),
            A::Invalid(message) => Self::BadRequest(message),
            A::Refused(message) => Self::Unprocessable(message),
            A::NotAllowed => Self::NotAllowed,
            A::BadCredentials => Self::BadCredentials,
            A::TooManyAttempts(message) => Self::TooManyRequests(message),
            A::FeatureDisabled(message) => Self::FeatureDisabled(message),
            A::Store(e) => e.into(),
            A::Plugin(e) => e.into(),
            A::Admin(e) => e.into(),
            // A missing object is lost data, not a passing outage.
            A::Blob(e @ crate::blobs::BlobError::Missing(_)) => Self::Internal(e.to_string()),
            A::Blob(e) => Self::Unavailable(e.to_string()),
            A::Internal(cause) => Self::Internal(cause),
        }
    }
}
