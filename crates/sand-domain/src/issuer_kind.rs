//! The kinds of issuer (a leaf: diploma kinds name the kinds of issuer that may export
//! them, and issuers are of a kind).

use std::fmt;

/// What kind of body an issuer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IssuerKind {
    /// The exam office of an académie's rectorat.
    Rectorat,
    /// The exam office of an overseas vice-rectorat.
    ViceRectorat,
    /// The education service of a territory without an académie (Saint-Pierre-et-Miquelon).
    EducationService,
    /// An exam house shared by several académies (the SIEC).
    ExamHouse,
    /// A regional authority of agricultural education.
    Agriculture,
    /// A higher-education establishment (identified by its UAI code).
    HigherEducation,
    /// Any other awarding body.
    Other,
}

impl IssuerKind {
    pub const ALL: &'static [IssuerKind] = &[
        Self::Rectorat,
        Self::ViceRectorat,
        Self::EducationService,
        Self::ExamHouse,
        Self::Agriculture,
        Self::HigherEducation,
        Self::Other,
    ];

    /// The stable code used in registry files and the API.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Rectorat => "rectorat",
            Self::ViceRectorat => "vice-rectorat",
            Self::EducationService => "service-education",
            Self::ExamHouse => "maison-des-examens",
            Self::Agriculture => "agriculture",
            Self::HigherEducation => "enseignement-superieur",
            Self::Other => "autre",
        }
    }

    /// Finds a kind by its code.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.code() == code.trim())
    }

    /// Whether an issuer of this kind may be the exam office answering an académie's
    /// graduates.
    #[must_use]
    pub fn may_be_exam_office(self) -> bool {
        matches!(
            self,
            Self::Rectorat | Self::ViceRectorat | Self::EducationService | Self::ExamHouse
        )
    }
}

impl fmt::Display for IssuerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
