//! Diploma records and the import batches that bring them in, one way, from the exam
//! offices' systems. Nothing on the web side can create, change or delete a record: the
//! web side only ever holds a [`crate::ports::RecordReader`].

pub mod batch;
pub mod import;

use std::fmt;

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::diploma::{DiplomaScope, Mention, Session, Speciality};
use crate::identity::{Civility, Identity, UsageName};
use crate::issuer::IssuerCode;

/// Identifier of a stored record, assigned by the record store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub Uuid);

impl RecordId {
    /// An id no record has: looked up when a verification finds no link, so that an
    /// unknown key costs the same work as a live one.
    pub const DECOY: Self = Self(Uuid::nil());
}

/// Identifier of a stored import batch, assigned by the record store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId(pub Uuid);

/// Longest candidate number accepted.
pub const MAX_CANDIDATE_NUMBER_CHARS: usize = 32;

/// Why a candidate number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CandidateNumberError {
    #[error("the candidate number is empty")]
    Empty,
    #[error("the candidate number is longer than {MAX_CANDIDATE_NUMBER_CHARS} characters")]
    TooLong,
    #[error("the candidate number has characters other than letters, digits and hyphens")]
    InvalidCharacter,
}

/// Numéro de candidat: the exam office's identifier of a candidate in a session.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CandidateNumber(String);

impl CandidateNumber {
    /// # Errors
    /// [`CandidateNumberError`].
    pub fn parse(raw: &str) -> Result<Self, CandidateNumberError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(CandidateNumberError::Empty);
        }
        if s.len() > MAX_CANDIDATE_NUMBER_CHARS {
            return Err(CandidateNumberError::TooLong);
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(CandidateNumberError::InvalidCharacter);
        }
        Ok(Self(s.to_ascii_uppercase()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why an INE was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an INE has 11 characters: letters and digits")]
pub struct IneError;

/// Identifiant national élève (INE): 11 letters and digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ine(String);

impl Ine {
    /// # Errors
    /// [`IneError`].
    pub fn parse(raw: &str) -> Result<Self, IneError> {
        let s = raw.trim();
        if s.len() != 11 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IneError);
        }
        Ok(Self(s.to_ascii_uppercase()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Ine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ine(<redacted>)")
    }
}

/// Where a record comes from: the exam office's own identification of the result.
/// Two records with the same source reference are the same result (re-imports keep the
/// links of records whose source reference is unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceReference {
    pub exam_office: IssuerCode,
    pub session: Session,
    pub candidate_number: CandidateNumber,
}

/// The person a record is about, as the exam office recorded them at exam time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHolder {
    pub civility: Option<Civility>,
    pub identity: Identity,
    pub usage_name: Option<UsageName>,
    pub ine: Option<Ine>,
}

impl RecordHolder {
    /// The verification's name rule: the name a verifier typed is the holder's birth
    /// name or usage name, compared without accents, case, spaces or punctuation
    /// (`Lefèvre` is `LEFEVRE`, `Saint-Just` is `saint just`).
    #[must_use]
    pub fn answers_to(&self, typed: &crate::identity::BirthName) -> bool {
        let typed = crate::identity::compact_key(typed.as_str());
        self.identity.birth_name.match_key() == typed
            || self
                .usage_name
                .as_ref()
                .is_some_and(|usage| crate::identity::compact_key(usage.as_str()) == typed)
    }
}

/// What was awarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Award {
    pub speciality: Option<Speciality>,
    pub mention: Option<Mention>,
    /// Date of the jury's deliberation.
    pub deliberation_date: Date,
}

/// A record about to be imported (not stored yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    /// Line of the exchange file the record came from, for error reports.
    pub line: u64,
    pub candidate_number: CandidateNumber,
    /// The diploma scope the line itself declares; must equal its batch's.
    pub scope: DiplomaScope,
    pub holder: RecordHolder,
    pub award: Award,
}

/// A stored diploma record. Immutable on the web side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiplomaRecord {
    pub id: RecordId,
    pub batch: BatchId,
    pub scope: DiplomaScope,
    pub source: SourceReference,
    pub holder: RecordHolder,
    pub award: Award,
    /// When its exam office withdrew it (absent from a later import of its scope): a
    /// withdrawn record certifies nothing any more.
    pub withdrawn_at: Option<time::OffsetDateTime>,
}

impl DiplomaRecord {
    /// Whether the record still certifies a diploma (not withdrawn by its exam office).
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.withdrawn_at.is_none()
    }
}

/// The exam offices' system a batch was exported from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceSystem {
    /// OCEAN: baccalauréat, CAP, BEP, BTS results.
    Ocean,
    /// Cyclades: the newer exam management system.
    Cyclades,
}

impl SourceSystem {
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Ocean => "OCEAN",
            Self::Cyclades => "CYCLADES",
        }
    }
}

/// The code given is not a known source system.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown source system")]
pub struct UnknownSourceSystem;

impl std::str::FromStr for SourceSystem {
    type Err = UnknownSourceSystem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "OCEAN" => Ok(Self::Ocean),
            "CYCLADES" => Ok(Self::Cyclades),
            _ => Err(UnknownSourceSystem),
        }
    }
}

/// SHA-256 of a batch's data file: what makes a re-import recognisable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchFingerprint(pub [u8; 32]);

impl BatchFingerprint {
    /// Lower-case hex, as in manifests.
    #[must_use]
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 64 hex digits.
    ///
    /// # Errors
    /// [`FingerprintError`] unless exactly 64 hex digits.
    pub fn from_hex(hex: &str) -> Result<Self, FingerprintError> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(FingerprintError);
        }
        let mut out = [0u8; 32];
        for (i, slot) in out.iter_mut().enumerate() {
            let pair = hex.get(2 * i..2 * i + 2).ok_or(FingerprintError)?;
            *slot = u8::from_str_radix(pair, 16).map_err(|_| FingerprintError)?;
        }
        Ok(Self(out))
    }
}

/// A fingerprint that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a SHA-256 fingerprint is 64 hexadecimal digits")]
pub struct FingerprintError;

/// A stored import batch: one (kind, session, académie) scope from one exam office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportBatch {
    pub id: BatchId,
    pub exam_office: IssuerCode,
    pub scope: DiplomaScope,
    pub source_system: SourceSystem,
    pub exported_at: OffsetDateTime,
    pub imported_at: OffsetDateTime,
    /// Declared by the exam office: the results of every group of tests are known.
    /// Only complete batches are published (catalogue, attaching).
    pub complete: bool,
    pub record_count: u64,
    pub fingerprint: BatchFingerprint,
    /// The signature it was imported with (none for a batch imported unsigned).
    pub signature: Option<batch::BatchSignature>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_numbers_are_validated() {
        assert_eq!(
            CandidateNumber::parse(" ab-0012 ").map(|c| c.as_str().to_owned()),
            Ok("AB-0012".to_owned())
        );
        assert_eq!(CandidateNumber::parse(""), Err(CandidateNumberError::Empty));
        assert_eq!(
            CandidateNumber::parse("=cmd|' /C calc'!A0"),
            Err(CandidateNumberError::InvalidCharacter)
        );
        assert_eq!(
            CandidateNumber::parse(&"1".repeat(33)),
            Err(CandidateNumberError::TooLong)
        );
    }

    #[test]
    fn ine_has_eleven_alphanumerics() {
        assert!(Ine::parse("1234567890a").is_ok());
        assert_eq!(Ine::parse("123"), Err(IneError));
        assert_eq!(Ine::parse("12345678 0A"), Err(IneError));
    }

    #[test]
    fn fingerprints_round_trip_through_hex() {
        let fp = BatchFingerprint([0xab; 32]);
        assert_eq!(BatchFingerprint::from_hex(&fp.to_hex()), Ok(fp));
        assert_eq!(BatchFingerprint::from_hex("ab"), Err(FingerprintError));
        assert_eq!(
            BatchFingerprint::from_hex(&"zz".repeat(32)),
            Err(FingerprintError)
        );
        assert_eq!(
            BatchFingerprint::from_hex(&"é".repeat(32)),
            Err(FingerprintError)
        );
    }

    #[test]
    fn source_systems_parse() {
        assert_eq!("ocean".parse(), Ok(SourceSystem::Ocean));
        assert_eq!("Cyclades".parse(), Ok(SourceSystem::Cyclades));
        assert_eq!("excel".parse::<SourceSystem>(), Err(UnknownSourceSystem));
    }
}
