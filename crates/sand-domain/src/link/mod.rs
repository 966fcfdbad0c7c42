//! Links between a profile and a record: what "attaching a diploma" creates. A link
//! carries the control key; deleting it keeps the record with the exam office.

pub mod attach;
pub mod attestation;
pub mod detach;
pub mod list;
pub mod renew_key;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::control_key::ControlKey;
use crate::profile::ProfileId;
use crate::record::RecordId;

/// Identifier of a link, assigned by the link store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub Uuid);

/// Whether a link still certifies its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Active,
    /// The exam office's corrected batch no longer contains the record: the key stops
    /// verifying and the holder is told why. The link is kept so the holder sees it.
    Withdrawn {
        at: OffsetDateTime,
    },
}

/// A profile ↔ record link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: LinkId,
    pub profile: ProfileId,
    pub record: RecordId,
    pub key: ControlKey,
    pub created_at: OffsetDateTime,
    /// When the current key was issued (differs from `created_at` after a renewal).
    pub key_issued_at: OffsetDateTime,
    pub state: LinkState,
}

impl Link {
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.state == LinkState::Active
    }
}

/// Who ended a link the holder did not end themselves (their space says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEndedBy {
    /// A claimant whose identity FranceConnect certifies, born where the exam office
    /// recorded, attached the record.
    CertifiedClaimant,
    /// The exam office released the link from the back office.
    ExamOffice,
}

/// A link about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLink {
    pub profile: ProfileId,
    pub record: RecordId,
    pub key: ControlKey,
    pub created_at: OffsetDateTime,
}

/// How many times a use case draws a new key after a collision before giving up. With
/// 2^40 keys, even 10^8 live links make one collision a 1-in-10^4 event: five in a row
/// means the random source is broken.
pub const KEY_ATTEMPTS: usize = 5;
