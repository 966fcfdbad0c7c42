//! Rows ↔ domain values. Stored rows were validated on the way in; a row that no longer
//! parses is corrupt data and reported as an unexpected port error.

use std::str::FromStr;

use sand_domain::PortError;
use sand_domain::academie::Academie;
use sand_domain::credentials::Email;
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Mention, Session, Speciality};
use sand_domain::identity::{
    BirthDate, BirthName, BirthPlace, BirthPlaceCode, Civility, FirstNames, Identity, UsageName,
};
use sand_domain::issuer::IssuerCode;
use sand_domain::link::{Link, LinkId, LinkState};
use sand_domain::profile::{FranceConnectSubject, LoginMethod, Profile, ProfileId};
use sand_domain::record::{
    Award, BatchFingerprint, BatchId, CandidateNumber, DiplomaRecord, ImportBatch, Ine, NewRecord,
    RecordHolder, RecordId, SourceReference, SourceSystem,
};
use sha2::{Digest, Sha256};
use time::Date;

use crate::entity::{diploma_record, import_batch, link, profile};
use crate::error::corrupt;
use crate::keys::KeyProtector;

/// Separator of first names in storage (never allowed inside a name).
pub(crate) const FIRST_NAMES_SEPARATOR: &str = "|";

pub(crate) fn first_names_to_row(names: &FirstNames) -> String {
    names
        .names()
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(FIRST_NAMES_SEPARATOR)
}

pub(crate) fn civility_code(c: Civility) -> &'static str {
    match c {
        Civility::Madame => "MME",
        Civility::Monsieur => "M",
    }
}

fn civility_from(code: &str) -> Result<Civility, PortError> {
    match code {
        "MME" => Ok(Civility::Madame),
        "M" => Ok(Civility::Monsieur),
        _ => Err(corrupt("civility")),
    }
}

pub(crate) fn scope_from(
    kind: &str,
    session: i32,
    academie: &str,
) -> Result<DiplomaScope, PortError> {
    Ok(DiplomaScope {
        kind: DiplomaKind::from_str(kind).map_err(|_| corrupt("diploma kind"))?,
        session: u16::try_from(session)
            .ok()
            .and_then(|y| Session::new(y).ok())
            .ok_or_else(|| corrupt("session"))?,
        academie: Academie::from_code(academie).map_err(|_| corrupt("académie"))?,
    })
}

fn identity_from(
    birth_name: &str,
    first_names: &str,
    birth_date: Date,
    birth_place: Option<&str>,
    birth_place_code: Option<&str>,
) -> Result<Identity, PortError> {
    Ok(Identity {
        birth_name: BirthName::parse(birth_name).map_err(|_| corrupt("birth name"))?,
        first_names: FirstNames::parse(first_names.split(FIRST_NAMES_SEPARATOR))
            .map_err(|_| corrupt("first names"))?,
        // validated when stored; Date::MAX as "today" only rebuilds the value
        birth_date: BirthDate::new(birth_date, Date::MAX).map_err(|_| corrupt("birth date"))?,
        birth_place: birth_place
            .map(BirthPlace::parse)
            .transpose()
            .map_err(|_| corrupt("birth place"))?,
        birth_place_code: birth_place_code
            .map(BirthPlaceCode::parse)
            .transpose()
            .map_err(|_| corrupt("birth place code"))?,
    })
}

pub(crate) fn record_from(row: diploma_record::Model) -> Result<DiplomaRecord, PortError> {
    let scope = scope_from(&row.diploma_kind, row.session, &row.academie)?;
    Ok(DiplomaRecord {
        id: RecordId(row.id),
        batch: BatchId(row.batch_id),
        scope,
        source: SourceReference {
            exam_office: IssuerCode::parse(&row.exam_office).map_err(|_| corrupt("exam office"))?,
            session: scope.session,
            candidate_number: CandidateNumber::parse(&row.candidate_number)
                .map_err(|_| corrupt("candidate number"))?,
        },
        holder: RecordHolder {
            civility: row.civility.as_deref().map(civility_from).transpose()?,
            identity: identity_from(
                &row.birth_name,
                &row.first_names,
                row.birth_date,
                row.birth_place.as_deref(),
                row.birth_place_code.as_deref(),
            )?,
            usage_name: row
                .usage_name
                .as_deref()
                .map(UsageName::parse)
                .transpose()
                .map_err(|_| corrupt("usage name"))?,
            ine: row
                .ine
                .as_deref()
                .map(Ine::parse)
                .transpose()
                .map_err(|_| corrupt("INE"))?,
        },
        award: Award {
            speciality: row
                .speciality
                .as_deref()
                .map(Speciality::parse)
                .transpose()
                .map_err(|_| corrupt("speciality"))?,
            mention: row
                .mention
                .as_deref()
                .map(Mention::from_str)
                .transpose()
                .map_err(|_| corrupt("mention"))?,
            deliberation_date: row.deliberation_date,
        },
        withdrawn_at: row.withdrawn_at,
    })
}

/// A digest of everything a record says (not its line number): equal digests, equal
/// records, so a re-import knows what changed without comparing field by field.
pub(crate) fn content_hash(record: &NewRecord) -> String {
    let hex = content_hash_hex(
        record,
        &first_names_to_row(&record.holder.identity.first_names),
    );
    String::from_utf8_lossy(&hex).into_owned()
}

/// [`content_hash`] in lower-case hex, given the record's first names as stored
/// (`first_names_row`: the import writes them once for both).
pub(crate) fn content_hash_hex(record: &NewRecord, first_names_row: &str) -> [u8; 64] {
    let h = &record.holder;
    let a = &record.award;
    let birth_date = IsoDate::of(h.identity.birth_date.date());
    let deliberation_date = IsoDate::of(a.deliberation_date);
    let fields: [&str; 11] = [
        h.civility.map(civility_code).unwrap_or(""),
        h.identity.birth_name.as_str(),
        first_names_row,
        birth_date.as_str(),
        h.identity
            .birth_place
            .as_ref()
            .map(BirthPlace::as_str)
            .unwrap_or(""),
        h.usage_name.as_ref().map(UsageName::as_str).unwrap_or(""),
        h.ine.as_ref().map(Ine::as_str).unwrap_or(""),
        a.speciality.as_ref().map(Speciality::as_str).unwrap_or(""),
        a.mention.map(Mention::code).unwrap_or(""),
        deliberation_date.as_str(),
        record.candidate_number.as_str(),
    ];
    let mut digest = Sha256::new();
    for f in fields {
        digest.update((f.len() as u64).to_le_bytes());
        digest.update(f.as_bytes());
    }
    // added to the format later: only a record that has one hashes it, so records
    // imported before keep their hash (a re-import leaves them untouched)
    if let Some(code) = &h.identity.birth_place_code {
        digest.update(b"code_lieu_naissance");
        digest.update(code.as_str().as_bytes());
    }
    let mut hex = [0u8; 64];
    // 32 bytes always fit 64 hex digits
    let _ = hex::encode_to_slice(digest.finalize(), &mut hex);
    hex
}

/// A date written `YYYY-MM-DD` as `Date`'s `Display` writes it, without formatting
/// machinery for the years 0–9999 (every date a record holds).
pub(crate) enum IsoDate {
    Short([u8; 10]),
    Long(String),
}

impl IsoDate {
    pub(crate) fn of(date: Date) -> Self {
        let year = date.year();
        if !(0..=9999).contains(&year) {
            return Self::Long(date.to_string());
        }
        let (year, month, day) = (year.unsigned_abs(), u8::from(date.month()), date.day());
        let digit = |n: u32| b'0' + (n % 10) as u8;
        Self::Short([
            digit(year / 1000),
            digit(year / 100),
            digit(year / 10),
            digit(year),
            b'-',
            digit(u32::from(month / 10)),
            digit(u32::from(month)),
            b'-',
            digit(u32::from(day / 10)),
            digit(u32::from(day)),
        ])
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // ASCII digits and hyphens
            Self::Short(bytes) => std::str::from_utf8(bytes).unwrap_or_default(),
            Self::Long(text) => text,
        }
    }
}

pub(crate) fn batch_from(row: import_batch::Model) -> Result<ImportBatch, PortError> {
    Ok(ImportBatch {
        id: BatchId(row.id),
        exam_office: IssuerCode::parse(&row.exam_office).map_err(|_| corrupt("exam office"))?,
        scope: scope_from(&row.diploma_kind, row.session, &row.academie)?,
        source_system: SourceSystem::from_str(&row.source_system)
            .map_err(|_| corrupt("source system"))?,
        exported_at: row.exported_at,
        imported_at: row.imported_at,
        complete: row.complete,
        record_count: u64::try_from(row.record_count).map_err(|_| corrupt("record count"))?,
        fingerprint: BatchFingerprint::from_hex(&row.fingerprint)
            .map_err(|_| corrupt("fingerprint"))?,
        signature: match (row.signature_key_id, row.signature) {
            (Some(key_id), Some(signature)) => {
                Some(sand_domain::record::batch::BatchSignature { key_id, signature })
            }
            _ => None,
        },
    })
}

pub(crate) fn profile_from(row: profile::Model) -> Result<Profile, PortError> {
    let login = match (row.fc_issuer, row.fc_subject) {
        (Some(issuer), Some(subject)) => {
            LoginMethod::FranceConnect(FranceConnectSubject { issuer, subject })
        }
        (None, None) => LoginMethod::Password,
        _ => return Err(corrupt("login method")),
    };
    Ok(Profile {
        id: ProfileId(row.id),
        identity: identity_from(
            &row.birth_name,
            &row.first_names,
            row.birth_date,
            row.birth_place.as_deref(),
            row.birth_place_code.as_deref(),
        )?,
        email: Email::parse(&row.email).map_err(|_| corrupt("e-mail"))?,
        email_verified: row.email_verified,
        login,
        identity_certified: row.identity_certified,
        birth_date_presumed: row.birth_date_presumed,
        notify_on_verification: row.notify_on_verification,
        created_at: row.created_at,
    })
}

pub(crate) fn link_from(row: link::Model, keys: &KeyProtector) -> Result<Link, PortError> {
    Ok(Link {
        id: LinkId(row.id),
        profile: ProfileId(row.profile_id),
        record: RecordId(row.record_id),
        key: keys
            .open(&row.key_sealed, row.id)
            .map_err(PortError::unexpected)?,
        created_at: row.created_at,
        key_issued_at: row.key_issued_at,
        state: match row.withdrawn_at {
            None => LinkState::Active,
            Some(at) => LinkState::Withdrawn { at },
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::Month;

    use super::*;

    #[test]
    fn dates_are_written_as_their_display_writes_them() {
        for (year, month, day) in [
            (2022, Month::July, 5),
            (1900, Month::January, 1),
            (5, Month::December, 31),
            (999, Month::February, 28),
            (9999, Month::December, 31),
            (-9999, Month::January, 1),
            (-1, Month::March, 9),
        ] {
            let date = Date::from_calendar_date(year, month, day).unwrap();
            assert_eq!(IsoDate::of(date).as_str(), date.to_string(), "{year}");
        }
    }
}
