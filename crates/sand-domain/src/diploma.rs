//! What a diploma is: its kind, session, mention and speciality, and the
//! (kind, session, académie) scope that batches, the catalogue and attaching work on.

use std::fmt;
use std::str::FromStr;

use crate::academie::Academie;

/// A kind of diploma SAND holds records for: a handle into the process's diploma-kind
/// registry ([`install`]), cheap to copy and compare. The seven kinds the service has
/// always held come first, in this order, in every registry, and are named here; the
/// operator's file adds more without a rebuild (docs/operations.md, "Diploma kinds").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DiplomaKind(u16);

#[allow(non_upper_case_globals)]
impl DiplomaKind {
    pub const Dnb: DiplomaKind = DiplomaKind(0);
    pub const Cap: DiplomaKind = DiplomaKind(1);
    pub const Bep: DiplomaKind = DiplomaKind(2);
    pub const BacGeneral: DiplomaKind = DiplomaKind(3);
    pub const BacTechnologique: DiplomaKind = DiplomaKind(4);
    pub const BacProfessionnel: DiplomaKind = DiplomaKind(5);
    pub const Bts: DiplomaKind = DiplomaKind(6);

    /// The seven kinds every registry holds, in their order.
    pub const BUILT_IN: &'static [DiplomaKind] = &[
        Self::Dnb,
        Self::Cap,
        Self::Bep,
        Self::BacGeneral,
        Self::BacTechnologique,
        Self::BacProfessionnel,
        Self::Bts,
    ];
}

/// What a diploma kind is, as the registry file gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindDefinition {
    /// Stable code used in exchange files, URLs and storage (`BACG`).
    pub code: String,
    /// Short French name (`Baccalauréat général`).
    pub short_name: String,
    /// Full French title as printed on an attestation.
    pub title: String,
    /// Its level in the national framework of certifications (3 for a CAP, 4 for a
    /// baccalauréat, 5 for a BTS, 6 for a licence…), when known.
    pub level: Option<u8>,
    /// The kinds of issuer that may export it.
    pub issuer_kinds: Vec<crate::issuer_kind::IssuerKind>,
    /// The first session the service covers for it (at least [`FIRST_SESSION`]).
    pub first_session: u16,
}

/// The seven kinds every registry starts with, in this order (codes kept since the
/// first release: stored records and attestations name them).
pub const BUILT_IN_DEFINITIONS: [(&str, &str, &str, Option<u8>); 7] = [
    ("DNB", "Brevet (DNB)", "Diplôme national du brevet", None),
    (
        "CAP",
        "CAP",
        "Certificat d'aptitude professionnelle",
        Some(3),
    ),
    ("BEP", "BEP", "Brevet d'études professionnelles", Some(3)),
    (
        "BACG",
        "Baccalauréat général",
        "Baccalauréat général",
        Some(4),
    ),
    (
        "BACT",
        "Baccalauréat technologique",
        "Baccalauréat technologique",
        Some(4),
    ),
    (
        "BACP",
        "Baccalauréat professionnel",
        "Baccalauréat professionnel",
        Some(4),
    ),
    ("BTS", "BTS", "Brevet de technicien supérieur", Some(5)),
];

/// Why a diploma-kind registry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KindRegistryError {
    #[error("the registry must start with the built-in kind `{expected}` at position {position}")]
    BuiltInMissing {
        position: usize,
        expected: &'static str,
    },
    #[error("kind code `{0}` is not 1 to 12 capital letters or digits")]
    BadCode(String),
    #[error("kind `{0}` is listed twice")]
    Duplicate(String),
    #[error("kind `{0}` has no name or title, or one too long")]
    BadText(String),
    #[error("kind `{0}` may be exported by no kind of issuer")]
    NoIssuerKind(String),
    #[error("kind `{code}` starts before the service's first session ({first})")]
    TooEarly { code: String, first: u16 },
    #[error("the running registry's kinds must stay, in order: `{0}` is missing or moved")]
    Shrinks(String),
    #[error("a registry holds at most {0} kinds")]
    TooMany(usize),
}

/// The kinds of a process, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindRegistry {
    kinds: Vec<KindDefinition>,
    handles: Vec<DiplomaKind>,
}

const MAX_KINDS: usize = 1000;

impl KindRegistry {
    /// The seven built-in kinds alone, exported by the académies' exam offices.
    #[must_use]
    pub fn built_in() -> Self {
        use crate::issuer_kind::IssuerKind;
        let kinds = BUILT_IN_DEFINITIONS
            .iter()
            .map(|(code, short, title, level)| KindDefinition {
                code: (*code).to_owned(),
                short_name: (*short).to_owned(),
                title: (*title).to_owned(),
                level: *level,
                issuer_kinds: vec![
                    IssuerKind::Rectorat,
                    IssuerKind::ViceRectorat,
                    IssuerKind::EducationService,
                    IssuerKind::ExamHouse,
                ],
                first_session: FIRST_SESSION,
            })
            .collect();
        Self::with_handles(kinds)
    }

    fn with_handles(kinds: Vec<KindDefinition>) -> Self {
        let handles = (0..kinds.len())
            .map(|i| DiplomaKind(u16::try_from(i).unwrap_or(u16::MAX)))
            .collect();
        Self { kinds, handles }
    }

    /// Checks a registry: the built-in kinds first, in order, with their codes; codes
    /// unique and well formed; names present; at least one issuer kind; a first session
    /// within the service's coverage.
    ///
    /// # Errors
    /// The first [`KindRegistryError`] found.
    pub fn new(kinds: Vec<KindDefinition>) -> Result<Self, KindRegistryError> {
        if kinds.len() > MAX_KINDS {
            return Err(KindRegistryError::TooMany(MAX_KINDS));
        }
        for (position, (code, ..)) in BUILT_IN_DEFINITIONS.iter().enumerate() {
            if kinds.get(position).is_none_or(|k| k.code != *code) {
                return Err(KindRegistryError::BuiltInMissing {
                    position: position + 1,
                    expected: code,
                });
            }
        }
        for (i, kind) in kinds.iter().enumerate() {
            let code_ok = (1..=12).contains(&kind.code.len())
                && kind
                    .code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !code_ok {
                return Err(KindRegistryError::BadCode(kind.code.clone()));
            }
            if kinds[..i].iter().any(|k| k.code == kind.code) {
                return Err(KindRegistryError::Duplicate(kind.code.clone()));
            }
            let text_ok = |t: &str| {
                !t.trim().is_empty() && t.chars().count() <= 200 && !t.chars().any(char::is_control)
            };
            if !text_ok(&kind.short_name) || !text_ok(&kind.title) {
                return Err(KindRegistryError::BadText(kind.code.clone()));
            }
            if kind.issuer_kinds.is_empty() {
                return Err(KindRegistryError::NoIssuerKind(kind.code.clone()));
            }
            if kind.first_session < FIRST_SESSION {
                return Err(KindRegistryError::TooEarly {
                    code: kind.code.clone(),
                    first: FIRST_SESSION,
                });
            }
        }
        Ok(Self::with_handles(kinds))
    }

    /// Every kind, in the registry's order.
    #[must_use]
    pub fn definitions(&self) -> &[KindDefinition] {
        &self.kinds
    }
}

static KINDS: std::sync::RwLock<Option<&'static KindRegistry>> = std::sync::RwLock::new(None);

fn registry() -> &'static KindRegistry {
    let installed = *KINDS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(registry) = installed {
        return registry;
    }
    let mut slot = KINDS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    slot.get_or_insert_with(|| Box::leak(Box::new(KindRegistry::built_in())))
}

/// Installs the process's diploma kinds (at start, from the shipped file and the
/// operator's). The kinds in use must stay, in their order: a registry can only grow,
/// so that every [`DiplomaKind`] already handed out keeps its meaning.
///
/// # Errors
/// [`KindRegistryError::Shrinks`] when a kind of the running registry is missing or
/// moved in the new one.
pub fn install(kinds: KindRegistry) -> Result<(), KindRegistryError> {
    let mut slot = KINDS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let current = slot.map_or_else(KindRegistry::built_in, Clone::clone);
    for (i, kind) in current.kinds.iter().enumerate() {
        if kinds.kinds.get(i).is_none_or(|k| k.code != kind.code) {
            return Err(KindRegistryError::Shrinks(kind.code.clone()));
        }
    }
    // a registry lives as long as the process: handed-out names are `&'static str`
    *slot = Some(Box::leak(Box::new(kinds)));
    Ok(())
}

impl DiplomaKind {
    fn definition(self) -> &'static KindDefinition {
        // handles come only from a registry that holds them (the built-in seven are in
        // every one), and registries only grow
        &registry().kinds[usize::from(self.0)]
    }

    /// Every kind of the process's registry, in its order.
    #[must_use]
    pub fn all() -> &'static [DiplomaKind] {
        &registry().handles
    }

    /// Stable code used in exchange files, URLs and storage.
    #[must_use]
    pub fn code(self) -> &'static str {
        &self.definition().code
    }

    /// Short French name (`"Baccalauréat général"`).
    #[must_use]
    pub fn short_name(self) -> &'static str {
        &self.definition().short_name
    }

    /// Full French title as printed on an attestation.
    #[must_use]
    pub fn title(self) -> &'static str {
        &self.definition().title
    }

    /// Its level in the national framework of certifications, when known.
    #[must_use]
    pub fn level(self) -> Option<u8> {
        self.definition().level
    }

    /// Whether an issuer of `kind` may export it.
    #[must_use]
    pub fn exported_by(self, kind: crate::issuer_kind::IssuerKind) -> bool {
        self.definition().issuer_kinds.contains(&kind)
    }

    /// Whether an exam office (a rectorat, vice-rectorat, education service or exam
    /// house) holds its results; otherwise the awarding establishment does.
    #[must_use]
    pub fn held_by_exam_offices(self) -> bool {
        self.definition()
            .issuer_kinds
            .iter()
            .any(|k| k.may_be_exam_office())
    }

    /// The first session the service covers for it.
    #[must_use]
    pub fn first_session(self) -> u16 {
        self.definition().first_session
    }
}

impl fmt::Debug for DiplomaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DiplomaKind({})", self.code())
    }
}

/// The code given is not a diploma kind SAND knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown diploma kind")]
pub struct UnknownDiplomaKind;

impl FromStr for DiplomaKind {
    type Err = UnknownDiplomaKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::all()
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
        let collapsed = crate::text::collapse_whitespace(raw);
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
        let mut codes: Vec<_> = DiplomaKind::all().iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), DiplomaKind::all().len());
        assert_eq!(DiplomaKind::Bts.code(), "BTS");
        assert_eq!(DiplomaKind::BacGeneral.title(), "Baccalauréat général");
        assert_eq!("bacg".parse(), Ok(DiplomaKind::BacGeneral));
        assert_eq!("BAC".parse::<DiplomaKind>(), Err(UnknownDiplomaKind));
    }

    fn kind(code: &str) -> KindDefinition {
        KindDefinition {
            code: code.to_owned(),
            short_name: format!("Diplôme {code}"),
            title: format!("Diplôme {code}"),
            level: None,
            issuer_kinds: vec![crate::issuer_kind::IssuerKind::Rectorat],
            first_session: 2015,
        }
    }

    #[test]
    fn a_registry_starts_with_the_built_in_kinds_and_only_grows() {
        let mut kinds = KindRegistry::built_in().definitions().to_vec();
        kinds.push(kind("BP"));
        let grown = KindRegistry::new(kinds.clone()).unwrap();
        install(grown).unwrap();
        let bp: DiplomaKind = "bp".parse().unwrap();
        assert_eq!(bp.title(), "Diplôme BP");
        assert_eq!(bp.first_session(), 2015);
        assert!(bp.exported_by(crate::issuer_kind::IssuerKind::Rectorat));
        assert!(!bp.exported_by(crate::issuer_kind::IssuerKind::HigherEducation));
        assert_eq!(DiplomaKind::all().len(), 8);
        assert_eq!(
            DiplomaKind::Bts.code(),
            "BTS",
            "the built-in handles keep their meaning"
        );
        // a registry without a kind in use is refused: handles would change meaning
        let smaller = KindRegistry::new(KindRegistry::built_in().definitions().to_vec()).unwrap();
        assert_eq!(
            install(smaller),
            Err(KindRegistryError::Shrinks("BP".to_owned()))
        );
        assert_eq!(bp.code(), "BP");

        let mut moved = kinds.clone();
        moved.swap(0, 1);
        assert!(matches!(
            KindRegistry::new(moved),
            Err(KindRegistryError::BuiltInMissing {
                position: 1,
                expected: "DNB"
            })
        ));
        let mut twice = kinds.clone();
        twice.push(kind("BP"));
        assert_eq!(
            KindRegistry::new(twice),
            Err(KindRegistryError::Duplicate("BP".to_owned()))
        );
        for bad in ["", "bp", "B P", "ABCDEFGHIJKLM"] {
            let mut list = kinds.clone();
            list.push(kind(bad));
            assert_eq!(
                KindRegistry::new(list),
                Err(KindRegistryError::BadCode(bad.to_owned()))
            );
        }
        let mut early = kinds.clone();
        early.push(KindDefinition {
            first_session: 2000,
            ..kind("MC")
        });
        assert!(matches!(
            KindRegistry::new(early),
            Err(KindRegistryError::TooEarly { .. })
        ));
        let mut nobody = kinds;
        nobody.push(KindDefinition {
            issuer_kinds: vec![],
            ..kind("MC")
        });
        assert_eq!(
            KindRegistry::new(nobody),
            Err(KindRegistryError::NoIssuerKind("MC".to_owned()))
        );
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
