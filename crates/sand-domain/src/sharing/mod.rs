//! Sharing on the holder's terms: a **share link** shows one verified diploma to one
//! recipient the holder names ("Entreprise X, recrutement mars"), without asking the
//! recipient for the holder's name.
//!
//! A share link is an unguessable address (256 random bits) with an expiry the holder
//! chooses (at most [`MAX_SHARE_DAYS`] days), revocable at any time. Each opening is
//! logged in the holder's verifications with the label. It dies with its link, in every
//! way a link ends (see MISSION.md, "How a link ends"): the store deletes it with its
//! link, and an opening also requires the link active, still held by the profile that
//! shared it, and its record live. Renewing the control key does not touch it.

use std::fmt;
use std::sync::Arc;

use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use crate::error::PortError;
use crate::link::LinkId;
use crate::ports::{
    AccountTokens, Clock, CreateShareStoreError, Mail, ShareLinkStore, ShareTokenGenerator,
    VerifiableLink, VerificationLog,
};
use crate::profile::ProfileId;
use crate::profile::notices::stop_token_for;
use crate::verification::{NewVerificationEvent, VerifiedDiploma};

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
        let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
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

/// A live share link opened: the share and the diploma it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedShare {
    pub share: ShareLink,
    pub verifiable: VerifiableLink,
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

/// What the holder asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateShareRequest {
    pub profile: ProfileId,
    pub link: LinkId,
    pub label: String,
    /// The last day the link opens (Paris time), inclusive.
    pub last_day: Date,
}

/// Why a share link was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateShareError {
    #[error("malformed label: {0}")]
    MalformedLabel(#[from] ShareLabelError),
    #[error("the last day is in the past")]
    LastDayPast,
    #[error("the last day is more than {MAX_SHARE_DAYS} days away")]
    LastDayTooFar,
    /// No active link with this id in this profile (whether it exists elsewhere is not
    /// said).
    #[error("attestation not found")]
    NotFound,
    #[error("at most {MAX_LIVE_SHARES} live share links at once")]
    TooManyLive,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// Use case: share one of one's diplomas with one recipient.
#[derive(Clone)]
pub struct CreateShareLink {
    pub shares: Arc<dyn ShareLinkStore>,
    pub tokens: Arc<dyn ShareTokenGenerator>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for CreateShareLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CreateShareLink")
    }
}

impl CreateShareLink {
    /// # Errors
    /// [`CreateShareError`].
    pub async fn execute(
        &self,
        request: CreateShareRequest,
    ) -> Result<ShareLink, CreateShareError> {
        let label = ShareLabel::parse(&request.label)?;
        let now = self.clock.now();
        let today = crate::text::paris_time(now).date();
        if request.last_day < today {
            return Err(CreateShareError::LastDayPast);
        }
        if request.last_day > today + Duration::days(MAX_SHARE_DAYS) {
            return Err(CreateShareError::LastDayTooFar);
        }
        let new = NewShareLink {
            profile: request.profile,
            link: request.link,
            label,
            token: self.tokens.share_token(),
            created_at: now,
            expires_at: end_of_paris_day(request.last_day),
        };
        match self.shares.create(new, MAX_LIVE_SHARES).await {
            Ok(share) => Ok(share),
            Err(CreateShareStoreError::LinkNotFound) => Err(CreateShareError::NotFound),
            Err(CreateShareStoreError::TooManyLive) => Err(CreateShareError::TooManyLive),
            Err(CreateShareStoreError::Port(e)) => Err(e.into()),
        }
    }
}

/// Use case: open a share link, as its recipient.
#[derive(Clone)]
pub struct OpenShareLink {
    pub shares: Arc<dyn ShareLinkStore>,
    pub log: Arc<dyn VerificationLog>,
    /// Makes the token of the stop link each notice carries.
    pub tokens: Arc<dyn AccountTokens>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for OpenShareLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpenShareLink")
    }
}

/// What a recipient sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedDiploma {
    pub diploma: VerifiedDiploma,
    pub label: ShareLabel,
    pub expires_at: OffsetDateTime,
}

impl OpenShareLink {
    /// The diploma a live share link shows, its opening logged for the holder (and told
    /// by mail when they opted in) before it is answered. `None` — one answer — for a
    /// malformed, unknown, expired or revoked token, or a link that ended.
    ///
    /// # Errors
    /// [`PortError`] when the store fails.
    pub async fn execute(&self, token: &str) -> Result<Option<SharedDiploma>, PortError> {
        let Some(token) = ShareToken::parse(token) else {
            return Ok(None);
        };
        let now = self.clock.now();
        let Some(OpenedShare { share, verifiable }) = self.shares.find_open(&token, now).await?
        else {
            return Ok(None);
        };
        let VerifiableLink {
            link,
            record,
            holder,
        } = verifiable;
        // the store checked it; a record its exam office withdrew certifies nothing
        if share.state(now) != ShareState::Live || !link.is_active() || !record.is_live() {
            return Ok(None);
        }
        let notice = holder
            .notify_on_verification
            .then(|| Mail::AttestationVerified {
                stop: stop_token_for(self.tokens.as_ref(), holder.id, &holder.email, now),
                to: holder.email.clone(),
                scope: record.scope,
                at: now,
                organisation: Some(share.label.as_str().to_owned()),
            });
        self.log
            .record(
                NewVerificationEvent {
                    link: link.id,
                    at: now,
                    organisation: None,
                    share: Some(share.label.clone()),
                },
                notice,
            )
            .await?;
        Ok(Some(SharedDiploma {
            diploma: VerifiedDiploma::of(&link, &record),
            label: share.label,
            expires_at: share.expires_at,
        }))
    }
}

#[cfg(test)]
mod tests;
