//! A sample attestation of an invented person (the demonstration's Camille Durand), for
//! `sand attestation sample`, the tests and the benchmark.

use sand_domain::academie::Academie;
use sand_domain::control_key::ControlKey;
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Mention, Session, Speciality};
use sand_domain::identity::{
    BirthDate, BirthName, BirthPlace, Civility, FirstNames, Identity, UsageName,
};
use sand_domain::issuer::IssuerCode;
use sand_domain::ports::Attestation;
use sand_domain::record::{
    Award, BatchId, CandidateNumber, DiplomaRecord, RecordHolder, RecordId, SourceReference,
};
use time::OffsetDateTime;
use time::macros::date;
use uuid::Uuid;

/// Why the sample could not be built (only if the domain's rules changed).
#[derive(Debug, thiserror::Error)]
#[error("sample attestation: {0}")]
pub struct SampleError(String);

fn bad(e: impl std::fmt::Display) -> SampleError {
    SampleError(e.to_string())
}

/// Camille Marie Durand (usage name Martin), baccalauréat général 2021, académie de Lyon,
/// with the control key `SPEC1MEN`, produced at `now`.
///
/// # Errors
/// [`SampleError`] (never, unless the domain's validation rules change).
pub fn sample_attestation(now: OffsetDateTime) -> Result<Attestation, SampleError> {
    let scope = DiplomaScope {
        kind: DiplomaKind::BacGeneral,
        session: Session::new(2021).map_err(bad)?,
        academie: Academie::Lyon,
    };
    let record = DiplomaRecord {
        id: RecordId(Uuid::from_u128(1)),
        batch: BatchId(Uuid::from_u128(2)),
        scope,
        source: SourceReference {
            exam_office: IssuerCode::of_academie(Academie::Lyon),
            session: scope.session,
            candidate_number: CandidateNumber::parse("LY2021000042").map_err(bad)?,
        },
        holder: RecordHolder {
            civility: Some(Civility::Madame),
            identity: Identity {
                birth_name: BirthName::parse("Durand").map_err(bad)?,
                first_names: FirstNames::parse(["Camille", "Marie"]).map_err(bad)?,
                birth_date: BirthDate::new(date!(2003 - 04 - 12), now.date()).map_err(bad)?,
                birth_place: Some(BirthPlace::parse("Lyon 3e Arrondissement").map_err(bad)?),
                birth_place_code: None,
            },
            usage_name: Some(UsageName::parse("Martin").map_err(bad)?),
            ine: None,
        },
        award: Award {
            speciality: Some(Speciality::parse("Mathématiques, physique-chimie").map_err(bad)?),
            mention: Some(Mention::Bien),
            deliberation_date: date!(2021 - 07 - 05),
        },
        withdrawn_at: None,
    };
    Ok(Attestation {
        record,
        key: ControlKey::parse("SPEC1MEN").map_err(bad)?,
        issued_at: now,
    })
}
