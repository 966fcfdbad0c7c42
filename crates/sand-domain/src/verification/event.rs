//! What a verification leaves behind: the event logged for the holder, and the
//! organisation a verifier says they act for. Model only: the verification use case
//! ([`super`]) and the log's port build on it.

use std::fmt;

use time::OffsetDateTime;

use crate::link::LinkId;
use crate::sharing::model::ShareLabel;

/// Longest organisation name a verifier may give.
pub const MAX_ORGANISATION_CHARS: usize = 120;

/// The organisation a verifier says they act for (optional, shown to the holder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation(String);

/// Why an organisation name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrganisationError {
    #[error("the organisation name is longer than {MAX_ORGANISATION_CHARS} characters")]
    TooLong,
    #[error("the organisation name contains an invisible control or formatting character")]
    ControlCharacter,
}

impl Organisation {
    /// An empty name is no organisation (`Ok(None)`).
    ///
    /// # Errors
    /// [`OrganisationError`].
    pub fn parse(raw: &str) -> Result<Option<Self>, OrganisationError> {
        let collapsed = crate::text::collapse_whitespace(raw);
        if collapsed.is_empty() {
            return Ok(None);
        }
        if collapsed.chars().count() > MAX_ORGANISATION_CHARS {
            return Err(OrganisationError::TooLong);
        }
        // what the holder reads must be what was typed: no bidirectional override, no
        // zero-width character
        if collapsed.chars().any(crate::text::is_invisible_control) {
            return Err(OrganisationError::ControlCharacter);
        }
        Ok(Some(Self(collapsed)))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Organisation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A verification about to be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVerificationEvent {
    pub link: LinkId,
    pub at: OffsetDateTime,
    pub organisation: Option<Organisation>,
    /// Opened through the holder's share link of this label (no organisation then).
    pub share: Option<ShareLabel>,
}

/// A logged verification, as its holder sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationEvent {
    pub link: LinkId,
    pub at: OffsetDateTime,
    pub organisation: Option<Organisation>,
    /// Opened through the holder's share link of this label.
    pub share: Option<ShareLabel>,
}
