//! Identity at the time of the exam: the birth name, all first names and the birth date
//! that a profile is matched on against an exam office's records.

mod name;

use std::fmt;

use time::{Date, Month};

use crate::text::{DateWriting, read_date};

pub use name::{
    BirthName, FirstName, FirstNames, FirstNamesError, MAX_FIRST_NAMES, MAX_NAME_CHARS, NameError,
    SEPARATOR, UsageName, compact_key, normalize,
};

/// Earliest birth date SAND accepts.
pub const EARLIEST_BIRTH_DATE: Date = time::macros::date!(1900 - 01 - 01);

/// Why a birth date was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BirthDateError {
    #[error("this date does not exist in the calendar")]
    NotACalendarDate,
    #[error("the date is not written as YYYY-MM-DD")]
    Unreadable,
    #[error("the birth date is before 1900")]
    TooEarly,
    #[error("the birth date is in the future")]
    InTheFuture,
}

/// A real calendar date between 1900-01-01 and today.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BirthDate(Date);

impl BirthDate {
    /// Accepts a date that is not before 1900 and not after `today`.
    ///
    /// # Errors
    /// [`BirthDateError::TooEarly`] or [`BirthDateError::InTheFuture`].
    pub fn new(date: Date, today: Date) -> Result<Self, BirthDateError> {
        if date < EARLIEST_BIRTH_DATE {
            return Err(BirthDateError::TooEarly);
        }
        if date > today {
            return Err(BirthDateError::InTheFuture);
        }
        Ok(Self(date))
    }

    /// Builds the date from its parts, refusing dates that do not exist (31 April,
    /// 29 February of a common year).
    ///
    /// # Errors
    /// [`BirthDateError::NotACalendarDate`] or the errors of [`BirthDate::new`].
    pub fn from_ymd(year: i32, month: u8, day: u8, today: Date) -> Result<Self, BirthDateError> {
        let month = Month::try_from(month).map_err(|_| BirthDateError::NotACalendarDate)?;
        let date = Date::from_calendar_date(year, month, day)
            .map_err(|_| BirthDateError::NotACalendarDate)?;
        Self::new(date, today)
    }

    /// Reads a birth date written as `writing` says ([`crate::text::read_date`]).
    ///
    /// # Errors
    /// [`BirthDateError::Unreadable`] or the errors of [`BirthDate::from_ymd`].
    pub fn parse(text: &str, writing: DateWriting, today: Date) -> Result<Self, BirthDateError> {
        let (year, month, day) = read_date(text, writing).ok_or(BirthDateError::Unreadable)?;
        Self::from_ymd(year, month, day, today)
    }

    /// Parses an ISO 8601 calendar date, `YYYY-MM-DD`.
    ///
    /// # Errors
    /// As [`BirthDate::parse`].
    pub fn parse_iso(text: &str, today: Date) -> Result<Self, BirthDateError> {
        Self::parse(text, DateWriting::Iso, today)
    }

    #[must_use]
    pub fn date(self) -> Date {
        self.0
    }
}

impl fmt::Debug for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BirthDate(<redacted>)")
    }
}

/// `DD/MM/YYYY`, as French documents write it.
impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}/{:02}/{:04}",
            self.0.day(),
            u8::from(self.0.month()),
            self.0.year()
        )
    }
}

/// Longest birth place accepted, in characters.
pub const MAX_PLACE_CHARS: usize = 120;

/// Why a birth place was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BirthPlaceError {
    #[error("the birth place is empty")]
    Empty,
    #[error("the birth place is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the birth place contains a control character")]
    ControlCharacter,
}

/// Commune (and country when abroad) of birth, as written. Shown on the attestation;
/// never used for matching (exam offices write places too inconsistently).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BirthPlace(String);

impl BirthPlace {
    /// # Errors
    /// [`BirthPlaceError`] when empty, too long, or containing control characters.
    pub fn parse(raw: &str) -> Result<Self, BirthPlaceError> {
        let collapsed = crate::text::collapse_whitespace(raw);
        if collapsed.is_empty() {
            return Err(BirthPlaceError::Empty);
        }
        if collapsed.chars().count() > MAX_PLACE_CHARS {
            return Err(BirthPlaceError::TooLong {
                max: MAX_PLACE_CHARS,
            });
        }
        if collapsed.chars().any(crate::text::is_invisible_control) {
            return Err(BirthPlaceError::ControlCharacter);
        }
        Ok(Self(collapsed))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BirthPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BirthPlace(<redacted>)")
    }
}

impl fmt::Display for BirthPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an INSEE birth-place code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "an INSEE code has five characters: digits, or 2A/2B and three digits (99 and three digits for a country)"
)]
pub struct BirthPlaceCodeError;

/// The INSEE code of the place of birth: a commune's code (`69383`, `2A004` in Corsica)
/// for people born in France, the country's code (`99xxx`, e.g. `99350` for Morocco)
/// for people born abroad. FranceConnect certifies it; an exam office may export it.
///
/// Unlike the place's name, a code is unambiguous: it is what tells two true homonyms
/// (same names, same birth date) apart.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BirthPlaceCode([u8; 5]);

impl BirthPlaceCode {
    /// Reads a code (surrounding spaces ignored, `2a` read as `2A`).
    ///
    /// # Errors
    /// [`BirthPlaceCodeError`].
    pub fn parse(raw: &str) -> Result<Self, BirthPlaceCodeError> {
        let upper = raw.trim().to_ascii_uppercase();
        let bytes: [u8; 5] = upper
            .as_bytes()
            .try_into()
            .map_err(|_| BirthPlaceCodeError)?;
        let corsica = bytes[0] == b'2' && matches!(bytes[1], b'A' | b'B');
        let head_ok = corsica || bytes[..2].iter().all(u8::is_ascii_digit);
        if !head_ok || !bytes[2..].iter().all(u8::is_ascii_digit) {
            return Err(BirthPlaceCodeError);
        }
        Ok(Self(bytes))
    }

    /// A country's code (`99xxx`): born abroad.
    #[must_use]
    pub fn is_country(&self) -> bool {
        self.0.starts_with(b"99")
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        // only ASCII digits and letters were accepted
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for BirthPlaceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BirthPlaceCode(<redacted>)")
    }
}

/// Civilité, when the exam office recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Civility {
    Madame,
    Monsieur,
}

impl Civility {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Madame => "Madame",
            Self::Monsieur => "Monsieur",
        }
    }
}

/// Identity at the time of the exam: what a profile declares and a record carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub birth_name: BirthName,
    pub first_names: FirstNames,
    pub birth_date: BirthDate,
    pub birth_place: Option<BirthPlace>,
    /// The INSEE code of the place of birth, when known (never used for matching: it
    /// only decides between a certified claimant and an uncertified holder).
    pub birth_place_code: Option<BirthPlaceCode>,
}

impl Identity {
    /// The key two identities are compared on.
    #[must_use]
    pub fn key(&self) -> IdentityKey {
        IdentityKey {
            birth_name: self.birth_name.match_key(),
            first_names: self.first_names.match_key(),
            birth_date: self.birth_date.date(),
        }
    }

    /// Whether this identity and `other` are the same person's identity at exam time.
    ///
    /// Same birth name up to spelling noise ([`compact_key`]), the same complete ordered
    /// list of first names up to spelling noise ([`normalize`]), exactly the same birth
    /// date. The birth place is not compared. The relation is symmetric.
    #[must_use]
    pub fn matches(&self, other: &Identity) -> bool {
        self.key() == other.key()
    }
}

/// The normalised form of an [`Identity`] that matching compares and storage indexes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdentityKey {
    /// [`BirthName::match_key`].
    pub birth_name: String,
    /// [`FirstNames::match_key`].
    pub first_names: String,
    pub birth_date: Date,
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests;
