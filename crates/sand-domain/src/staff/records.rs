//! What the exam office's desk reads and does, as the store answers it.

use std::fmt;
use std::str::FromStr;

use time::{Date, OffsetDateTime};

use crate::link::LinkId;
use crate::record::{CandidateNumber, DiplomaRecord, ImportBatch, Ine};

/// What an agent searches records by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordQuery {
    CandidateNumber(CandidateNumber),
    Ine(Ine),
    /// Birth name (compared as matching does) and birth date.
    NameAndBirthDate {
        birth_name_key: String,
        birth_date: Date,
    },
}

/// A found record's link, as the exam office may see it: never who holds it beyond what
/// the office already knows (the record itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    pub id: LinkId,
    /// When the record was attached.
    pub created_at: OffsetDateTime,
    /// When its current control key was issued.
    pub key_issued_at: OffsetDateTime,
    /// Kept after the record was withdrawn by a later import.
    pub withdrawn: bool,
    /// How many verifications were logged for this record.
    pub verifications: u64,
}

/// A batch of the import history, with how many of its records a later import withdrew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchHistory {
    pub batch: ImportBatch,
    pub withdrawn: u64,
}

/// A record with its batch and link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDetail {
    pub record: DiplomaRecord,
    pub batch: ImportBatch,
    pub link: Option<LinkView>,
}

/// Why an exam office releases a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReleaseReason {
    /// The graduate lost access to the profile that holds it (an old address, say).
    LostAccess,
    /// Someone else attached it, as the office established.
    ProvenSquat,
    /// The holder asked for it.
    HolderRequest,
}

impl ReleaseReason {
    pub const ALL: &'static [ReleaseReason] = &[
        ReleaseReason::LostAccess,
        ReleaseReason::ProvenSquat,
        ReleaseReason::HolderRequest,
    ];

    /// The stable code (audit, forms, the holder's mail).
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            ReleaseReason::LostAccess => "acces_perdu",
            ReleaseReason::ProvenSquat => "usurpation",
            ReleaseReason::HolderRequest => "demande_titulaire",
        }
    }

    /// As the agent's page and the holder's mail say it.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            ReleaseReason::LostAccess => {
                "le ou la diplômé(e) n'a plus accès au profil qui détenait ce diplôme"
            }
            ReleaseReason::ProvenSquat => {
                "le service des examens a établi que ce diplôme avait été rattaché par une autre personne"
            }
            ReleaseReason::HolderRequest => "à la demande du ou de la titulaire",
        }
    }
}

impl fmt::Display for ReleaseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The text is not a release reason's code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown release reason")]
pub struct BadReleaseReason;

impl FromStr for ReleaseReason {
    type Err = BadReleaseReason;

    fn from_str(code: &str) -> Result<Self, BadReleaseReason> {
        ReleaseReason::ALL
            .iter()
            .copied()
            .find(|r| r.code() == code)
            .ok_or(BadReleaseReason)
    }
}
