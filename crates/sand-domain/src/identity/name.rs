//! Person names and the one normalisation used to compare them.
//!
//! Everything in SAND that compares names — attaching a diploma, verifying a key, the
//! import's duplicate checks, the database's lookup columns — goes through [`normalize`]
//! (and [`compact_key`], which is defined from it). Nothing else may fold case or accents.

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The separator that [`normalize`] leaves between words.
pub const SEPARATOR: char = ' ';

/// Longest name (birth name, usage name, one first name) accepted, in characters.
pub const MAX_NAME_CHARS: usize = 80;

/// Most first names accepted in one list (civil status rarely goes past six).
pub const MAX_FIRST_NAMES: usize = 12;

/// Folds a name to the form SAND compares: spelling noise removed, identity kept.
///
/// In order:
/// 1. Unicode compatibility decomposition (NFKD): a composed `É` and an `E` followed by a
///    combining acute become the same sequence; typographic ligatures such as `ﬁ` split.
/// 2. Upper case (full mapping: `ß` becomes `SS`, dotless `ı` becomes `I`), then
///    decomposition again, because a few upper-case mappings produce combining marks.
/// 3. Combining marks (accents, cedillas, diaereses) are dropped.
/// 4. Letters that have no decomposition are spelled out: `Œ`→`OE`, `Æ`→`AE`, `ẞ`→`SS`,
///    `Ø`→`O`, `Đ`→`D`, `Ł`→`L`, `Þ`→`TH`.
/// 5. Every run of characters that are neither letters nor digits (spaces, hyphens,
///    apostrophes `'` `’` `ʼ`, dots, commas, anything else) becomes one [`SEPARATOR`];
///    separators at either end are trimmed.
///
/// The function is total (any input gives an output, possibly empty) and idempotent.
///
/// ```
/// use sand_domain::identity::normalize;
/// assert_eq!(normalize("  Jean-Baptiste  d'Œuvre "), "JEAN BAPTISTE D OEUVRE");
/// assert_eq!(normalize("E\u{301}lodie"), normalize("Élodie"));
/// ```
#[must_use]
pub fn normalize(input: &str) -> String {
    if input.is_ascii() {
        normalize_ascii(input)
    } else {
        normalize_unicode(input)
    }
}

/// [`normalize`] through the Unicode tables (any text).
fn normalize_unicode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut pending_separator = false;
    let upper = input.nfkd().flat_map(char::to_uppercase).nfkd();
    for c in upper {
        if is_combining_mark(c) {
            continue;
        }
        let spelled = spell_out(c);
        let letters: &mut dyn Iterator<Item = char> = match spelled {
            Some(s) => &mut s.chars(),
            None => &mut std::iter::once(c),
        };
        for l in letters {
            if l.is_alphanumeric() {
                if pending_separator && !out.is_empty() {
                    out.push(SEPARATOR);
                }
                pending_separator = false;
                out.push(l);
            } else {
                pending_separator = true;
            }
        }
    }
    out
}

/// [`normalize`] of an ASCII text, without the Unicode tables: an ASCII character
/// decomposes to itself, upper-cases to its ASCII capital, is no combining mark and
/// needs no spelling out (the test `the_ascii_path_folds_as_the_unicode_path` holds the
/// two paths to the same answer).
fn normalize_ascii(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut pending_separator = false;
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() {
            if pending_separator && !out.is_empty() {
                out.push(SEPARATOR);
            }
            pending_separator = false;
            out.push(char::from(b.to_ascii_uppercase()));
        } else {
            pending_separator = true;
        }
    }
    out
}

/// Capital letters without a Unicode decomposition, spelled out in Latin capitals (the
/// input is already upper-cased: lower-case forms never reach it).
fn spell_out(c: char) -> Option<&'static str> {
    Some(match c {
        'Œ' => "OE",
        'Æ' => "AE",
        'ẞ' => "SS",
        'Ø' => "O",
        'Đ' => "D",
        'Ł' => "L",
        'Þ' => "TH",
        _ => return None,
    })
}

/// The comparison key of a family name: [`normalize`] without its separators.
///
/// Family names are written with and without their inner separators by different
/// systems and people (`N'Diaye` / `NDIAYE`, `Le Goff` / `LEGOFF`,
/// `De La Fontaine` / `DELAFONTAINE`); where the separators fall is not identity.
///
/// ```
/// use sand_domain::identity::compact_key;
/// assert_eq!(compact_key("N'Diaye"), compact_key("NDIAYE"));
/// assert_eq!(compact_key("Cœur"), "COEUR");
/// ```
#[must_use]
pub fn compact_key(input: &str) -> String {
    normalize(input)
        .chars()
        .filter(|c| *c != SEPARATOR)
        .collect()
}

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the name contains a character that is not allowed in a name: {0:?}")]
    ForbiddenCharacter(char),
    #[error("the name contains no letter")]
    NoLetter,
}

/// Why a list of first names was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirstNamesError {
    #[error("at least one first name is required")]
    Missing,
    #[error("more than {max} first names")]
    TooMany { max: usize },
    #[error("first name number {position}: {source}")]
    Invalid {
        position: usize,
        #[source]
        source: NameError,
    },
}

/// Characters a name may contain besides letters and combining marks.
fn is_allowed_punctuation(c: char) -> bool {
    matches!(
        c,
        ' ' | '-' | '\'' | '’' | 'ʼ' | '‘' | '.' | '\u{2010}' | '\u{2011}'
    )
}

/// A validated name as the person writes it: NFC, trimmed, inner white space collapsed.
#[derive(Clone, PartialEq, Eq, Hash)]
struct PersonName(String);

impl PersonName {
    fn parse(raw: &str) -> Result<Self, NameError> {
        // Most names arrive composed and with single inner spaces: taken as they are.
        let collapsed = if is_nfc_and_collapsed(raw) {
            raw.to_owned()
        } else {
            compose_and_collapse(raw)
        };
        if collapsed.is_empty() {
            return Err(NameError::Empty);
        }
        if collapsed.chars().count() > MAX_NAME_CHARS {
            return Err(NameError::TooLong {
                max: MAX_NAME_CHARS,
            });
        }
        if let Some(bad) = collapsed
            .chars()
            .find(|c| !(c.is_alphabetic() || is_combining_mark(*c) || is_allowed_punctuation(*c)))
        {
            return Err(NameError::ForbiddenCharacter(bad));
        }
        if !collapsed.chars().any(char::is_alphabetic) {
            return Err(NameError::NoLetter);
        }
        Ok(Self(collapsed))
    }
}

/// `raw` in NFC, trimmed, each inner run of white space one space.
fn compose_and_collapse(raw: &str) -> String {
    crate::text::collapse_whitespace(&raw.nfc().collect::<String>())
}

/// Whether `raw` is already NFC, with no white space at either end and single spaces
/// inside: what `nfc`, `split_whitespace` and `join(" ")` would leave unchanged.
fn is_nfc_and_collapsed(raw: &str) -> bool {
    // an empty text or one with a trailing space: the slow path says what is wrong
    crate::text::is_collapsed(raw)
        && (raw.is_ascii()
            || unicode_normalization::is_nfc_quick(raw.chars())
                == unicode_normalization::IsNormalized::Yes)
}

/// Names are personal data: their `Debug` never prints them, so a stray `{:?}` in a log
/// line leaks nothing.
impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted name>")
    }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Debug)]
        pub struct $name(PersonName);

        impl $name {
            /// Validates a name as typed by a person or exported by an exam office.
            ///
            /// # Errors
            /// [`NameError`] when it is empty, too long, has no letter, or contains a
            /// character other than letters, spaces, hyphens, apostrophes and dots.
            pub fn parse(raw: &str) -> Result<Self, NameError> {
                PersonName::parse(raw).map(Self)
            }

            /// The name as written (NFC, trimmed), for display.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0.0
            }

            /// The name folded by [`normalize`].
            #[must_use]
            pub fn normalized(&self) -> String {
                normalize(self.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

name_type!(
    /// Nom de naissance: the family name at birth, the one the exam office recorded,
    /// even when the person has married since.
    BirthName
);

name_type!(
    /// Nom d'usage: a name used in daily life (a spouse's name, for instance). Never used
    /// for matching; shown on the attestation when the record carries one.
    UsageName
);

name_type!(
    /// One first name (prénom). Compound first names (`Jean-Baptiste`) are one name.
    FirstName
);

impl BirthName {
    /// The key this name is matched on: [`compact_key`].
    #[must_use]
    pub fn match_key(&self) -> String {
        compact_key(self.as_str())
    }
}

/// All first names, in civil-status order. At least one.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct FirstNames(Vec<FirstName>);

impl FirstNames {
    /// Validates each first name of an ordered list.
    ///
    /// # Errors
    /// [`FirstNamesError`] when the list is empty, too long, or one name is invalid
    /// (its 1-based position is given).
    pub fn parse<I, S>(names: I) -> Result<Self, FirstNamesError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut parsed = Vec::new();
        for (index, raw) in names.into_iter().enumerate() {
            if index >= MAX_FIRST_NAMES {
                return Err(FirstNamesError::TooMany {
                    max: MAX_FIRST_NAMES,
                });
            }
            let name =
                FirstName::parse(raw.as_ref()).map_err(|source| FirstNamesError::Invalid {
                    position: index + 1,
                    source,
                })?;
            parsed.push(name);
        }
        if parsed.is_empty() {
            return Err(FirstNamesError::Missing);
        }
        Ok(Self(parsed))
    }

    /// Parses first names typed in one field, separated by commas or spaces
    /// (`"Jean-Baptiste, Paul"` or `"Jean-Baptiste Paul"`).
    ///
    /// # Errors
    /// As [`FirstNames::parse`].
    pub fn parse_text(text: &str) -> Result<Self, FirstNamesError> {
        Self::parse(
            text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .filter(|part| !part.trim().is_empty()),
        )
    }

    /// The names, in order.
    #[must_use]
    pub fn names(&self) -> &[FirstName] {
        &self.0
    }

    /// The key the list is matched on: the whole ordered list, folded by [`normalize`].
    ///
    /// Word boundaries are kept (a hyphen and a space are the same boundary), so the list
    /// compares as a sequence of words: `["Jean-Baptiste", "Paul"]` and
    /// `["JEAN", "BAPTISTE", "PAUL"]` have the same key; `["Paul", "Jean-Baptiste"]` does not.
    #[must_use]
    pub fn match_key(&self) -> String {
        normalize(&self.to_string())
    }
}

impl fmt::Display for FirstNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(name.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_name_of_exactly_the_longest_length_is_accepted_and_one_more_is_not() {
        let longest = "A".repeat(MAX_NAME_CHARS);
        assert!(BirthName::parse(&longest).is_ok());
        assert_eq!(
            BirthName::parse(&format!("{longest}A")),
            Err(NameError::TooLong {
                max: MAX_NAME_CHARS
            })
        );
    }

    #[test]
    fn names_never_print_in_debug_and_first_names_come_back_in_order() {
        let name = BirthName::parse("Durand").unwrap();
        assert_eq!(format!("{name:?}"), "BirthName(<redacted name>)");
        let first = FirstNames::parse_text("Camille Marie").unwrap();
        let names: Vec<&str> = first.names().iter().map(FirstName::as_str).collect();
        assert_eq!(names, ["Camille", "Marie"]);
        assert!(!format!("{first:?}").contains("Camille"));
    }

    proptest! {
        #[test]
        fn the_ascii_path_folds_as_the_unicode_path(text in "[ -~\t]{0,40}") {
            prop_assert_eq!(normalize_ascii(&text), normalize_unicode(&text));
        }

        #[test]
        fn a_name_taken_as_it_is_is_the_name_composed_and_collapsed(
            text in "[ a\t\u{a0}\u{2003}e\u{301}\u{e9}\u{327}c\u{e7}\u{1e9b}\u{323}\u{212b}\u{fb01}\u{3000}]{0,12}"
        ) {
            if is_nfc_and_collapsed(&text) {
                prop_assert_eq!(text.clone(), compose_and_collapse(&text));
            }
            prop_assert_eq!(
                PersonName::parse(&text).map(|n| n.0),
                PersonName::parse(&compose_and_collapse(&text)).map(|n| n.0)
            );
        }
    }

    #[test]
    fn normalize_folds_case_accents_and_separators() {
        assert_eq!(
            normalize("  Jean-Baptiste  d'Œuvre "),
            "JEAN BAPTISTE D OEUVRE"
        );
        assert_eq!(normalize("Éloïse"), "ELOISE");
        assert_eq!(normalize("Straße"), "STRASSE");
        // the letters spelled out, each in both cases
        assert_eq!(normalize("STRAẞE"), "STRASSE");
        assert_eq!(normalize("Đorđević"), "DORDEVIC");
        assert_eq!(normalize("Þórsdóttir"), "THORSDOTTIR");
        assert_eq!(normalize("þóra"), "THORA");
        assert_eq!(normalize("Yıldız"), "YILDIZ");
        assert_eq!(normalize("œuf ŒUF æ Æ ø Ø ł Ł"), "OEUF OEUF AE AE O O L L");
        assert_eq!(normalize("Lætitia"), "LAETITIA");
        assert_eq!(normalize("Çağla"), "CAGLA");
        assert_eq!(normalize("Ø.Łukasz"), "O LUKASZ");
        assert_eq!(normalize("ﬁfi"), "FIFI");
        assert_eq!(normalize("N’Diaye"), "N DIAYE");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize(" -'. "), "");
    }

    #[test]
    fn composed_and_decomposed_accents_normalize_alike() {
        let composed = "\u{00C9}lodie";
        let decomposed = "E\u{0301}lodie";
        assert_ne!(composed, decomposed);
        assert_eq!(normalize(composed), normalize(decomposed));
    }

    #[test]
    fn compact_key_ignores_where_separators_fall() {
        assert_eq!(compact_key("N'Diaye"), compact_key("NDIAYE"));
        assert_eq!(compact_key("Le Goff"), compact_key("LEGOFF"));
        assert_ne!(compact_key("Martin"), compact_key("Martins"));
    }

    #[test]
    fn names_are_validated() {
        assert_eq!(BirthName::parse("  "), Err(NameError::Empty));
        assert_eq!(BirthName::parse("--"), Err(NameError::NoLetter));
        assert_eq!(
            BirthName::parse("Dupont3"),
            Err(NameError::ForbiddenCharacter('3'))
        );
        assert_eq!(
            BirthName::parse("Du<script>"),
            Err(NameError::ForbiddenCharacter('<'))
        );
        assert_eq!(
            BirthName::parse("Du\u{0000}pont"),
            Err(NameError::ForbiddenCharacter('\u{0000}'))
        );
        assert_eq!(
            BirthName::parse(&"A".repeat(MAX_NAME_CHARS + 1)),
            Err(NameError::TooLong {
                max: MAX_NAME_CHARS
            })
        );
        assert_eq!(
            BirthName::parse("  de   La Fontaine ").map(|n| n.as_str().to_owned()),
            Ok("de La Fontaine".to_owned())
        );
    }

    #[test]
    fn first_names_keep_order_and_report_the_bad_position() {
        let names = FirstNames::parse(["Jean-Baptiste", "Paul"]).unwrap();
        assert_eq!(names.to_string(), "Jean-Baptiste Paul");
        assert_eq!(
            FirstNames::parse(Vec::<&str>::new()),
            Err(FirstNamesError::Missing)
        );
        assert!(matches!(
            FirstNames::parse(["Paul", "4"]),
            Err(FirstNamesError::Invalid { position: 2, .. })
        ));
        assert_eq!(
            FirstNames::parse(vec!["A"; MAX_FIRST_NAMES + 1]),
            Err(FirstNamesError::TooMany {
                max: MAX_FIRST_NAMES
            })
        );
        assert_eq!(
            FirstNames::parse_text(" Jean-Baptiste,  Paul ;Marie").unwrap(),
            FirstNames::parse(["Jean-Baptiste", "Paul", "Marie"]).unwrap()
        );
    }

    #[test]
    fn debug_output_never_shows_a_name() {
        let name = BirthName::parse("Dupont").unwrap();
        assert!(!format!("{name:?}").contains("Dupont"));
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent(s in "\\PC{0,40}") {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once.clone());
            prop_assert_eq!(compact_key(&once), compact_key(&s));
        }

        #[test]
        fn normalize_output_is_upper_case_words_with_single_separators(s in "\\PC{0,40}") {
            let out = normalize(&s);
            prop_assert!(!out.starts_with(SEPARATOR) && !out.ends_with(SEPARATOR));
            prop_assert!(!out.contains("  "));
            prop_assert!(out.chars().all(|c| c == SEPARATOR || c.is_alphanumeric()));
            // upper case wherever the letter has an upper case
            prop_assert!(out.chars().all(|c| c.to_uppercase().eq(std::iter::once(c))));
        }

        #[test]
        fn normalize_ignores_case_of_latin_names(s in "[a-zA-Zàâäéèêëïîôöùûüÿçœæ' -]{0,30}") {
            prop_assert_eq!(normalize(&s.to_lowercase()), normalize(&s.to_uppercase()));
        }
    }
}
