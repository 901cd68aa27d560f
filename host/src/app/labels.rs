//! Use cases of an account's labels: every member lists them (to pick one
//! for a conversation); administrators add and delete them. A title is
//! Chatwoot's: lower-case letters, digits, `-` and `_`, so it reads the same
//! in a conversation's label list and in a filter.

use super::{AppError, AppState, Member};
use crate::store::{LabelRow, StoreError};

/// The colour of a label added without one (Chatwoot's default).
pub const DEFAULT_COLOR: &str = "#1f93ff";

/// The account's labels, by title.
pub async fn list(state: &AppState, member: &Member) -> Result<Vec<LabelRow>, AppError> {
    Ok(state.store.list_labels(member.account_id).await?)
}

/// A label to add.
#[derive(Debug, Clone, Default)]
pub struct NewLabel {
    /// Its title (lower-cased here).
    pub title: String,
    /// What it means.
    pub description: Option<String>,
    /// `#rrggbb`; the default when absent.
    pub color: Option<String>,
    /// Listed in the conversation sidebar.
    pub show_on_sidebar: bool,
}

/// Why a title is refused, in words.
fn title_refusal(title: &str) -> Option<String> {
    if title.is_empty() {
        Some("Title can't be blank".into())
    } else if title.chars().count() > 64 {
        Some("Title is at most 64 characters".into())
    } else if !title.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
        Some("Title may hold only letters, digits, - and _ (no spaces)".into())
    } else {
        None
    }
}

fn is_color(value: &str) -> bool {
    value.len() == 7 && value.starts_with('#') && value[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// Adds a label (administrators).
pub async fn create(state: &AppState, member: &Member, new: NewLabel) -> Result<LabelRow, AppError> {
    member.require_admin()?;
    let title = new.title.trim().to_lowercase();
    if let Some(reason) = title_refusal(&title) {
        return Err(AppError::Refused(reason));
    }
    let color = new
        .color
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .unwrap_or(DEFAULT_COLOR)
        .to_lowercase();
    if !is_color(&color) {
        return Err(AppError::Refused("Color must be #rrggbb".into()));
    }
    let description = new
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    state
        .store
        .insert_label(
            member.account_id,
            &title,
            description,
            &color,
            new.show_on_sidebar,
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                AppError::Refused(format!("The account has a label {title:?} already"))
            }
            other => other.into(),
        })
}

/// Deletes a label (administrators); conversations keep it as a title.
pub async fn delete(state: &AppState, member: &Member, id: i64) -> Result<(), AppError> {
    member.require_admin()?;
    state
        .store
        .delete_label(member.account_id, id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => AppError::NotFound("no such label".into()),
            other => other.into(),
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn titles_and_colours() {
        assert_eq!(super::title_refusal("billing"), None);
        assert_eq!(super::title_refusal("vip_2-eu"), None);
        assert!(super::title_refusal("two words").is_some());
        assert!(super::title_refusal("").is_some());
        assert!(super::is_color("#a1b2c3"));
        assert!(!super::is_color("red"));
        assert!(!super::is_color("#12345"));
    }
}
