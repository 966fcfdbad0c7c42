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

use crate::error::PortError;
use crate::link::LinkId;
use crate::ports::{
    AccountTokens, Clock, CreateShareStoreError, Mail, ShareLinkStore, ShareTokenGenerator,
    VerifiableLink, VerificationLog,
};
use crate::profile::ProfileId;
use crate::profile::notices::stop_token_for;
use crate::verification::{NewVerificationEvent, VerifiedDiploma};

pub mod model;
pub use crate::ports::OpenedShare;
pub use model::*;

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
