//! The application layer's one error type. Each variant says what kind of
//! refusal it is, not which status it becomes: `api::error` maps them.

use crate::blobs::BlobError;
use crate::plugin_host::admin::AdminError;
use crate::runtime::PluginError;
use crate::store::StoreError;

/// Why a use case was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Nothing there (or nothing the caller may see).
    #[error("{0}")]
    NotFound(String),
    /// Malformed input.
    #[error("{0}")]
    Invalid(String),
    /// Well-formed, but a rule refuses it; the message is the reason in words.
    #[error("{0}")]
    Refused(String),
    /// A sign-in's email and password do not match (never says which).
    #[error("Invalid login credentials. Please try again.")]
    BadCredentials,
    /// Too many refused sign-ins lately; the message says when to retry.
    #[error("{0}")]
    TooManyAttempts(String),
    /// The caller's role does not allow the action.
    #[error("You are not authorized to do this action")]
    NotAllowed,
    /// The account has not turned on the feature the action needs.
    #[error("{0}")]
    FeatureDisabled(String),
    /// Storage refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blob store failed, or lost what a row names.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A plugin failed or refused.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A plugin administration step refused or failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// A bug: a state the rules say cannot happen.
    #[error("internal error: {0}")]
    Internal(String),
}
