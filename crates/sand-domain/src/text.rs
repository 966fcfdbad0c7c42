//! Free text that people read: what it may not contain.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Whether `c` is invisible control or formatting (Unicode categories Cc and Cf: line
/// breaks, bidirectional overrides such as U+202E, zero-width characters, the soft
/// hyphen). Such characters let a text read differently from what it is — an organisation
/// name shown to a holder could reorder itself or hide a word — and French needs none of
/// them (its non-breaking spaces are separators, category Zs, and stay allowed).
#[must_use]
pub fn is_invisible_control(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control | GeneralCategory::Format
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_formatting_are_invisible_french_typography_is_not() {
        for c in [
            '\u{7}', '\n', '\u{202E}', '\u{2066}', '\u{200B}', '\u{200D}', '\u{AD}', '\u{FEFF}',
        ] {
            assert!(is_invisible_control(c), "{:?}", c);
        }
        for c in [
            'a', 'É', '\u{A0}', '\u{202F}', '’', '«', '»', '–', '\u{301}',
        ] {
            assert!(!is_invisible_control(c), "{:?}", c);
        }
    }
}
