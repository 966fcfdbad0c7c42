//! What a verifier learns of a valid attestation (model only).

use time::{Date, OffsetDateTime};

use crate::diploma::DiplomaScope;
use crate::identity::{BirthDate, BirthName, FirstNames, UsageName};
use crate::issuer::IssuerCode;
use crate::record::Award;

/// What a verifier learns about a valid attestation: the diploma and the identity it was
/// awarded to, nothing else (no e-mail, no other diplomas).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDiploma {
    pub birth_name: BirthName,
    pub usage_name: Option<UsageName>,
    pub first_names: FirstNames,
    pub birth_date: BirthDate,
    pub scope: DiplomaScope,
    pub exam_office: IssuerCode,
    pub award: Award,
    pub key_issued_at: OffsetDateTime,
}

impl VerifiedDiploma {
    /// What a verifier learns of `record`, certified by `link`.
    #[must_use]
    pub fn of(link: &crate::link::Link, record: &crate::record::DiplomaRecord) -> Self {
        let holder = &record.holder;
        Self {
            birth_name: holder.identity.birth_name.clone(),
            usage_name: holder.usage_name.clone(),
            first_names: holder.identity.first_names.clone(),
            birth_date: holder.identity.birth_date,
            scope: record.scope,
            exam_office: record.source.exam_office,
            award: record.award.clone(),
            key_issued_at: link.key_issued_at,
        }
    }

    #[must_use]
    pub fn deliberation_date(&self) -> Date {
        self.award.deliberation_date
    }
}
