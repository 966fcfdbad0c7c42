//! Share links as the holder and the store see them (model only: the use cases in
//! [`super`] and the store's port build on it).

use std::fmt;

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::link::LinkId;
use crate::profile::ProfileId;

/// Longest label a holder may give a share link.
pub const MAX_LABEL_CHARS: usize = 80;
/// Live (unexpired, unrevoked) share links one profile may hold at once.
pub const MAX_LIVE_SHARES: usize = 20;
/// The furthest expiry a holder may choose, in days from today.
pub const MAX_SHARE_DAYS: i64 = 365;
/// Length of a share token: 32 random bytes as lowercase hex.
pub const TOKEN_CHARS: usize = 64;

/// Identifier of a share link, assigned by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShareId(pub Uuid);

/// Why a label was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareLabelError {
    #[error("the label is empty")]
    Empty,
    #[error("the label is longer than {MAX_LABEL_CHARS} characters")]
    TooLong,
    #[error("the label contains an invisible control or formatting character")]
    ControlCharacter,
}

/// Whom the holder shares with, in their words (shown to the recipient and in the
/// holder's verifications).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLabel(String);

impl ShareLabel {
    /// Spaces collapsed; required; what is shown is what was typed (no invisible
    /// characters).
    ///
    /// # Errors
    /// [`ShareLabelError`].
    pub fn parse(raw: &str) -> Result<Self, ShareLabelError> {
        let collapsed = crate::text::collapse_whitespace(raw);
        if collapsed.is_empty() {
            return Err(ShareLabelError::Empty);
        }
        if collapsed.chars().count() > MAX_LABEL_CHARS {
            return Err(ShareLabelError::TooLong);
        }
        if collapsed.chars().any(crate::text::is_invisible_control) {
            return Err(ShareLabelError::ControlCharacter);
        }
        Ok(Self(collapsed))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShareLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The secret part of a share link's address. Never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareToken(String);

impl ShareToken {
    /// A token as a recipient's address carries it; `None` unless it has the shape of a
    /// token (64 hex digits; upper case is read as lower case).
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        let token = raw.trim().to_ascii_lowercase();
        (token.len() == TOKEN_CHARS && token.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(Self(token))
    }

    /// A token from `bytes` of a cryptographically secure random source.
    #[must_use]
    pub fn from_random_bytes(bytes: [u8; TOKEN_CHARS / 2]) -> Self {
        use fmt::Write;
        let mut token = String::with_capacity(TOKEN_CHARS);
        for b in bytes {
            let _ = write!(token, "{b:02x}");
        }
        Self(token)
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ShareToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShareToken(<redacted>)")
    }
}

/// A share link, as its holder sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLink {
    pub id: ShareId,
    pub link: LinkId,
    pub label: ShareLabel,
    /// Kept (sealed) so that the holder can copy the address again.
    pub token: ShareToken,
    pub created_at: OffsetDateTime,
    /// The first instant it no longer opens.
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// Where a share link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareState {
    Live,
    Expired,
    Revoked,
}

impl ShareLink {
    #[must_use]
    pub fn state(&self, now: OffsetDateTime) -> ShareState {
        if self.revoked_at.is_some() {
            ShareState::Revoked
        } else if now >= self.expires_at {
            ShareState::Expired
        } else {
            ShareState::Live
        }
    }
}

/// A share link about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShareLink {
    pub profile: ProfileId,
    pub link: LinkId,
    pub label: ShareLabel,
    pub token: ShareToken,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// The first instant after `day` in Paris: a share link "valid until 31 March" opens
/// all of 31 March, French time.
#[must_use]
pub fn end_of_paris_day(day: Date) -> OffsetDateTime {
    let next = day.next_day().unwrap_or(day);
    let midnight = time::PrimitiveDateTime::new(next, time::Time::MIDNIGHT);
    // the offset at that midnight (changes of summer time happen at night, not at 0h)
    let offset = crate::text::paris_time(midnight.assume_utc()).offset();
    midnight.assume_offset(offset)
}
