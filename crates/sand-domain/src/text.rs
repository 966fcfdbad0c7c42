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

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// A date as French prose writes it: `5 juillet 2021`, `1er mars 2020` (the one French
/// date formatter: pages, attestations and mails use it).
#[must_use]
pub fn french_date(date: time::Date) -> String {
    let month = MONTHS[usize::from(u8::from(date.month())) - 1];
    let day = if date.day() == 1 {
        "1er".to_owned()
    } else {
        date.day().to_string()
    };
    format!("{day} {month} {}", date.year())
}

/// A lifetime as French prose writes it: `1 heure`, `48 heures`, `30 minutes`, `1 minute`
/// (the links' lifetimes, told by pages and mails alike).
#[must_use]
pub fn french_duration(duration: time::Duration) -> String {
    let minutes = duration.whole_minutes();
    let (n, unit) = if minutes % 60 == 0 {
        (minutes / 60, "heure")
    } else {
        (minutes, "minute")
    };
    let plural = if n > 1 { "s" } else { "" };
    format!("{n} {unit}{plural}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_as_french_prose_writes_them() {
        use time::Duration;
        assert_eq!(french_duration(Duration::hours(1)), "1 heure");
        assert_eq!(french_duration(Duration::hours(48)), "48 heures");
        assert_eq!(french_duration(Duration::minutes(30)), "30 minutes");
        assert_eq!(french_duration(Duration::minutes(1)), "1 minute");
        assert_eq!(french_duration(Duration::minutes(90)), "90 minutes");
    }

    #[test]
    fn dates_read_as_french_prose_writes_them() {
        use time::macros::date;
        assert_eq!(french_date(date!(2020 - 03 - 01)), "1er mars 2020");
        assert_eq!(french_date(date!(2021 - 07 - 05)), "5 juillet 2021");
        assert_eq!(french_date(date!(2026 - 08 - 31)), "31 août 2026");
        assert_eq!(french_date(date!(2026 - 12 - 02)), "2 décembre 2026");
        assert_eq!(french_date(date!(2026 - 02 - 11)), "11 février 2026");
    }

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
