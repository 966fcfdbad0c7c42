//! What a diploma is: its kind, session, mention and speciality, and the
//! (kind, session, académie) scope that batches, the catalogue and attaching work on.

use std::fmt;
use std::str::FromStr;

use crate::academie::Academie;

macro_rules! diploma_kinds {
    ($($variant:ident => $code:literal, $short:literal, $title:literal;)+) => {
        /// A kind of diploma SAND holds records for. Adding one is adding a line here.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DiplomaKind {
            $($variant,)+
        }

        impl DiplomaKind {
            pub const ALL: &'static [DiplomaKind] = &[$(DiplomaKind::$variant,)+];

            /// Stable code used in exchange files, URLs and storage.
            #[must_use]
            pub fn code(self) -> &'static str {
                match self { $(Self::$variant => $code,)+ }
            }

            /// Short French name (`"Baccalauréat général"`).
            #[must_use]
            pub fn short_name(self) -> &'static str {
                match self { $(Self::$variant => $short,)+ }
            }

            /// Full French title as printed on an attestation.
            #[must_use]
            pub fn title(self) -> &'static str {
                match self { $(Self::$variant => $title,)+ }
            }
        }
    };
}

diploma_kinds! {
    Dnb => "DNB", "Brevet (DNB)", "Diplôme national du brevet";
    Cap => "CAP", "CAP", "Certificat d'aptitude professionnelle";
    Bep => "BEP", "BEP", "Brevet d'études professionnelles";
    BacGeneral => "BACG", "Baccalauréat général", "Baccalauréat général";
    BacTechnologique => "BACT", "Baccalauréat technologique", "Baccalauréat technologique";
    BacProfessionnel => "BACP", "Baccalauréat professionnel", "Baccalauréat professionnel";
    Bts => "BTS", "BTS", "Brevet de technicien supérieur";
}

/// The code given is not a diploma kind SAND knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown diploma kind")]
pub struct UnknownDiplomaKind;

impl FromStr for DiplomaKind {
    type Err = UnknownDiplomaKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.code().eq_ignore_ascii_case(s))
            .ok_or(UnknownDiplomaKind)
    }
}

impl fmt::Display for DiplomaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

/// First session year SAND holds records for; earlier diplomas follow the standard
/// procedure with the exam office.
pub const FIRST_SESSION: u16 = 2009;
/// Last session year a record may carry (a sanity bound, not a business rule).
pub const LAST_SESSION: u16 = 2100;

/// Why a session was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the session is not a year")]
    NotAYear,
    #[error("sessions before {FIRST_SESSION} are not held by the service")]
    TooEarly,
    #[error("the session year is beyond {LAST_SESSION}")]
    TooLate,
}

/// The year of an exam session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Session(u16);

impl Session {
    /// # Errors
    /// [`SessionError::TooEarly`] before [`FIRST_SESSION`], [`SessionError::TooLate`] after
    /// [`LAST_SESSION`].
    pub fn new(year: u16) -> Result<Self, SessionError> {
        if year < FIRST_SESSION {
            return Err(SessionError::TooEarly);
        }
        if year > LAST_SESSION {
            return Err(SessionError::TooLate);
        }
        Ok(Self(year))
    }

    #[must_use]
    pub fn year(self) -> u16 {
        self.0
    }
}

impl FromStr for Session {
    type Err = SessionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SessionError::NotAYear);
        }
        Self::new(s.parse().map_err(|_| SessionError::NotAYear)?)
    }
}

impl fmt::Display for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The mention (honours) a diploma was awarded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mention {
    /// Admis sans mention.
    Passable,
    AssezBien,
    Bien,
    TresBien,
    /// Très bien avec les félicitations du jury (baccalauréat since 2021).
    TresBienFelicitations,
}

/// The code given is not a mention.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mention")]
pub struct UnknownMention;

impl Mention {
    pub const ALL: &'static [Mention] = &[
        Self::Passable,
        Self::AssezBien,
        Self::Bien,
        Self::TresBien,
        Self::TresBienFelicitations,
    ];

    /// Code in exchange files: `P`, `AB`, `B`, `TB`, `TBF`.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Passable => "P",
            Self::AssezBien => "AB",
            Self::Bien => "B",
            Self::TresBien => "TB",
            Self::TresBienFelicitations => "TBF",
        }
    }

    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Passable => "Sans mention",
            Self::AssezBien => "Mention assez bien",
            Self::Bien => "Mention bien",
            Self::TresBien => "Mention très bien",
            Self::TresBienFelicitations => "Mention très bien avec les félicitations du jury",
        }
    }
}

impl FromStr for Mention {
    type Err = UnknownMention;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|m| m.code().eq_ignore_ascii_case(s))
            .ok_or(UnknownMention)
    }
}

/// Longest speciality or series accepted, in characters.
pub const MAX_SPECIALITY_CHARS: usize = 200;

/// Why a speciality was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecialityError {
    #[error("the speciality is empty")]
    Empty,
    #[error("the speciality is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the speciality contains a control character")]
    ControlCharacter,
}

/// Speciality, option or series of a diploma (`"Sciences et technologies du
/// management et de la gestion"`, `"Cuisine"`), as the exam office wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Speciality(String);

impl Speciality {
    /// # Errors
    /// [`SpecialityError`] when empty, too long or with control characters.
    pub fn parse(raw: &str) -> Result<Self, SpecialityError> {
        let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            return Err(SpecialityError::Empty);
        }
        if collapsed.chars().count() > MAX_SPECIALITY_CHARS {
            return Err(SpecialityError::TooLong {
                max: MAX_SPECIALITY_CHARS,
            });
        }
        if collapsed.chars().any(crate::text::is_invisible_control) {
            return Err(SpecialityError::ControlCharacter);
        }
        Ok(Self(collapsed))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Speciality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A (diploma kind, session, académie) triple: what an import batch covers, what the
/// catalogue lists, and what a graduate names to attach a diploma.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DiplomaScope {
    pub kind: DiplomaKind,
    pub session: Session,
    pub academie: Academie,
}

impl fmt::Display for DiplomaScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, session {}, académie {}",
            self.kind.short_name(),
            self.session,
            self.academie.with_de()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diploma_kind_codes_are_unique_and_parse() {
        let mut codes: Vec<_> = DiplomaKind::ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), DiplomaKind::ALL.len());
        assert_eq!("bacg".parse(), Ok(DiplomaKind::BacGeneral));
        assert_eq!("BAC".parse::<DiplomaKind>(), Err(UnknownDiplomaKind));
    }

    #[test]
    fn sessions_are_bounded_years() {
        assert_eq!("2019".parse::<Session>().map(Session::year), Ok(2019));
        assert_eq!("2008".parse::<Session>(), Err(SessionError::TooEarly));
        assert_eq!("2101".parse::<Session>(), Err(SessionError::TooLate));
        for garbage in ["", "20l9", "-2019", "99999", "2019.0", "²⁰¹⁹"] {
            assert_eq!(
                garbage.parse::<Session>(),
                Err(SessionError::NotAYear),
                "{garbage}"
            );
        }
    }

    #[test]
    fn mentions_parse_from_their_codes() {
        for m in Mention::ALL {
            assert_eq!(m.code().parse(), Ok(*m));
        }
        assert_eq!(" tb ".parse(), Ok(Mention::TresBien));
        assert_eq!("excellent".parse::<Mention>(), Err(UnknownMention));
    }

    #[test]
    fn specialities_are_validated() {
        assert_eq!(Speciality::parse(" "), Err(SpecialityError::Empty));
        assert_eq!(
            Speciality::parse("a\u{0}b"),
            Err(SpecialityError::ControlCharacter)
        );
        assert!(Speciality::parse(&"x".repeat(MAX_SPECIALITY_CHARS + 1)).is_err());
        assert_eq!(
            Speciality::parse("  Série   STMG ").unwrap().as_str(),
            "Série STMG"
        );
    }
}
