//! Académies.
//!
//! The set is closed: every académie that has awarded diplomas since 2009, with the
//! ministry's académie code. Caen and Rouen merged into Normandie on 1 January 2020; their
//! earlier sessions stay under their own names. The vice-rectorats and the education
//! service of Saint-Pierre-et-Miquelon award diplomas too and are listed.

use std::fmt;
use std::str::FromStr;

macro_rules! academies {
    ($($variant:ident => $code:literal, $name:literal, $overseas:literal, $merged:expr;)+) => {
        /// A French académie (or overseas education authority) that awards diplomas.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Academie {
            $($variant,)+
        }

        impl Academie {
            /// Every académie, in code order.
            pub const ALL: &'static [Academie] = &[$(Academie::$variant,)+];

            /// The ministry's two-digit académie code (`"01"` for Paris).
            #[must_use]
            pub fn code(self) -> &'static str {
                match self { $(Self::$variant => $code,)+ }
            }

            /// The name as written in French (`"Aix-Marseille"`, `"La Réunion"`).
            #[must_use]
            pub fn name(self) -> &'static str {
                match self { $(Self::$variant => $name,)+ }
            }

            /// Whether the académie is outside metropolitan France.
            #[must_use]
            pub fn is_overseas(self) -> bool {
                match self { $(Self::$variant => $overseas,)+ }
            }

            /// The académie this one was merged into, with the first session year under the
            /// new académie, if it no longer exists on its own.
            #[must_use]
            pub fn merged_into(self) -> Option<(Academie, u16)> {
                match self { $(Self::$variant => $merged,)+ }
            }
        }
    };
}

academies! {
    Paris => "01", "Paris", false, None;
    AixMarseille => "02", "Aix-Marseille", false, None;
    Besancon => "03", "Besançon", false, None;
    Bordeaux => "04", "Bordeaux", false, None;
    Caen => "05", "Caen", false, Some((Academie::Normandie, 2020));
    ClermontFerrand => "06", "Clermont-Ferrand", false, None;
    Dijon => "07", "Dijon", false, None;
    Grenoble => "08", "Grenoble", false, None;
    Lille => "09", "Lille", false, None;
    Lyon => "10", "Lyon", false, None;
    Montpellier => "11", "Montpellier", false, None;
    NancyMetz => "12", "Nancy-Metz", false, None;
    Poitiers => "13", "Poitiers", false, None;
    Rennes => "14", "Rennes", false, None;
    Strasbourg => "15", "Strasbourg", false, None;
    Toulouse => "16", "Toulouse", false, None;
    Nantes => "17", "Nantes", false, None;
    OrleansTours => "18", "Orléans-Tours", false, None;
    Reims => "19", "Reims", false, None;
    Amiens => "20", "Amiens", false, None;
    Rouen => "21", "Rouen", false, Some((Academie::Normandie, 2020));
    Limoges => "22", "Limoges", false, None;
    Nice => "23", "Nice", false, None;
    Creteil => "24", "Créteil", false, None;
    Versailles => "25", "Versailles", false, None;
    Corse => "27", "Corse", false, None;
    LaReunion => "28", "La Réunion", true, None;
    Martinique => "31", "Martinique", true, None;
    Guadeloupe => "32", "Guadeloupe", true, None;
    Guyane => "33", "Guyane", true, None;
    NouvelleCaledonie => "40", "Nouvelle-Calédonie", true, None;
    PolynesieFrancaise => "41", "Polynésie française", true, None;
    WallisEtFutuna => "42", "Wallis-et-Futuna", true, None;
    Mayotte => "43", "Mayotte", true, None;
    SaintPierreEtMiquelon => "44", "Saint-Pierre-et-Miquelon", true, None;
    Normandie => "70", "Normandie", false, None;
}

/// The value given is not an académie code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown académie code")]
pub struct UnknownAcademie;

impl Academie {
    /// Finds an académie by its code (`"01"`, also `"1"`).
    ///
    /// # Errors
    /// [`UnknownAcademie`] when no académie has that code.
    pub fn from_code(code: &str) -> Result<Self, UnknownAcademie> {
        let code = code.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|a| {
                a.code() == code || (code.len() == 1 && a.code() == format!("0{code}").as_str())
            })
            .ok_or(UnknownAcademie)
    }
}

impl Academie {
    /// Whether a vice-rectorat, not a rectorat, runs its exams (Nouvelle-Calédonie,
    /// Polynésie française, Wallis-et-Futuna; Mayotte has had a rectorat since 2020).
    #[must_use]
    pub fn is_vice_rectorat(self) -> bool {
        matches!(
            self,
            Self::NouvelleCaledonie | Self::PolynesieFrancaise | Self::WallisEtFutuna
        )
    }

    /// The authority whose exam office issues its diplomas, as French writes it:
    /// "rectorat de l'académie de Lyon", "vice-rectorat de Polynésie française".
    #[must_use]
    pub fn authority(self) -> String {
        if self.is_vice_rectorat() {
            format!("vice-rectorat {}", self.with_de())
        } else {
            format!("rectorat de l'académie {}", self.with_de())
        }
    }

    /// "de Lyon", "d'Amiens", "de La Réunion": the name after "académie", with elision.
    #[must_use]
    pub fn with_de(self) -> String {
        let name = self.name();
        let elided = name.chars().next().is_some_and(|c| "AEIOUÉÈ".contains(c));
        if elided {
            format!("d'{name}")
        } else {
            format!("de {name}")
        }
    }
}

impl FromStr for Academie {
    type Err = UnknownAcademie;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_code(s)
    }
}

impl fmt::Display for Academie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Code of the SIEC in exchange files (see [`crate::issuer::IssuerCode::SIEC`]).
pub const SIEC_CODE: &str = "SIEC";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut codes: Vec<_> = Academie::ALL.iter().map(|a| a.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Academie::ALL.len());
        for a in Academie::ALL {
            assert_eq!(Academie::from_code(a.code()), Ok(*a));
        }
        assert_eq!(Academie::from_code("1"), Ok(Academie::Paris));
        assert_eq!(Academie::from_code("99"), Err(UnknownAcademie));
        assert_eq!(Academie::from_code("SIEC"), Err(UnknownAcademie));
    }

    #[test]
    fn names_elide_after_de() {
        assert_eq!(Academie::AixMarseille.with_de(), "d'Aix-Marseille");
        assert_eq!(Academie::OrleansTours.with_de(), "d'Orléans-Tours");
        assert_eq!(Academie::Lyon.with_de(), "de Lyon");
        assert_eq!(Academie::LaReunion.with_de(), "de La Réunion");
    }

    #[test]
    fn overseas_academies_are_in_the_set() {
        for a in [
            Academie::LaReunion,
            Academie::Mayotte,
            Academie::Guyane,
            Academie::Guadeloupe,
            Academie::Martinique,
        ] {
            assert!(a.is_overseas());
        }
        assert!(!Academie::Lyon.is_overseas());
    }

    #[test]
    fn overseas_vice_rectorats_are_not_called_rectorats() {
        assert_eq!(
            Academie::PolynesieFrancaise.authority(),
            "vice-rectorat de Polynésie française"
        );
        assert_eq!(
            Academie::NouvelleCaledonie.authority(),
            "vice-rectorat de Nouvelle-Calédonie"
        );
        assert_eq!(Academie::Lyon.authority(), "rectorat de l'académie de Lyon");
        assert_eq!(
            Academie::Mayotte.authority(),
            "rectorat de l'académie de Mayotte"
        );
        assert_eq!(
            Academie::Caen.merged_into(),
            Some((Academie::Normandie, 2020))
        );
    }
}
