//! Free text that people read: what it may not contain.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Whether `text` has no white space at either end and single spaces inside: what
/// [`collapse_whitespace`] would leave as it is. An empty text is not.
#[must_use]
pub fn is_collapsed(text: &str) -> bool {
    let mut after_space = true;
    for c in text.chars() {
        if c.is_whitespace() {
            if c != ' ' || after_space {
                return false;
            }
            after_space = true;
        } else {
            after_space = false;
        }
    }
    !after_space
}

/// `text` trimmed, each inner run of white space one space (taken as it is when it is
/// so already).
#[must_use]
pub fn collapse_whitespace(text: &str) -> String {
    if is_collapsed(text) {
        text.to_owned()
    } else {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Whether `c` is invisible control or formatting (Unicode categories Cc and Cf: line
/// breaks, bidirectional overrides such as U+202E, zero-width characters, the soft
/// hyphen). Such characters let a text read differently from what it is — an organisation
/// name shown to a holder could reorder itself or hide a word — and French needs none of
/// them (its non-breaking spaces are separators, category Zs, and stay allowed).
#[must_use]
pub fn is_invisible_control(c: char) -> bool {
    // Latin-1 without the table lookup (it is called on every character of every name an
    // import reads): Cc is U+0000–U+001F and U+007F–U+009F, Cf only the soft hyphen
    if u32::from(c) <= 0xFF {
        return matches!(u32::from(c), 0x00..=0x1F | 0x7F..=0x9F | 0xAD);
    }
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

/// The time zone people read times in: mainland France's (`Europe/Paris`, summer time
/// included). Pages, mails and attestations show times and days there; the API keeps UTC.
pub const FRENCH_TIME_ZONE: &str = "Europe/Paris";

/// `at` as a clock in Paris shows it (the same instant, with Paris's offset of that day:
/// +01:00 in winter, +02:00 in summer). The rules come from the IANA time zone database
/// bundled with the service, so they do not depend on the host's files.
#[must_use]
pub fn paris_time(at: time::OffsetDateTime) -> time::OffsetDateTime {
    static PARIS: std::sync::OnceLock<Option<jiff::tz::TimeZone>> = std::sync::OnceLock::new();
    let offset = PARIS
        .get_or_init(|| jiff::tz::TimeZone::get(FRENCH_TIME_ZONE).ok())
        .as_ref()
        .and_then(|zone| {
            let instant = jiff::Timestamp::from_second(at.unix_timestamp()).ok()?;
            time::UtcOffset::from_whole_seconds(zone.to_offset(instant).seconds()).ok()
        })
        // The bundled database always holds Europe/Paris; should it not, UTC is shown
        // rather than a wrong local time.
        .unwrap_or(time::UtcOffset::UTC);
    at.to_offset(offset)
}

/// The day `at` falls on in Paris, as French prose writes it (`24 novembre 2026`): what a
/// page says for "when" when the hour does not matter.
#[must_use]
pub fn french_day(at: time::OffsetDateTime) -> String {
    french_date(paris_time(at).date())
}

/// A moment as French prose writes it, in Paris time: `24 novembre 2026 à 11h05`. Pages
/// and mails say once, near it, that times are Paris times.
#[must_use]
pub fn french_moment(at: time::OffsetDateTime) -> String {
    let at = paris_time(at);
    format!(
        "{} à {}h{:02}",
        french_date(at.date()),
        at.hour(),
        at.minute()
    )
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

/// How strictly a written date is read (see [`read_date`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateWriting {
    /// As a person types it in a form: `jj/mm/aaaa`, the day and month of one or two
    /// digits, separated by `/`, `.` or spaces; or `aaaa-mm-jj` (what date pickers send).
    Typed,
    /// As an import file holds it: exactly `JJ/MM/AAAA` or `AAAA-MM-JJ`.
    Exact,
    /// ISO 8601 only, `AAAA-MM-JJ` (the API, identity providers' claims).
    Iso,
}

/// Reads a date as French people, files and machines write it: (year, month, day), not
/// yet checked against the calendar (`BirthDate::from_ymd` and `time::Date` do that).
/// The one date reader: the pages, the API, the import and identity claims use it.
/// `None` when the text is not a date written as `writing` says.
#[must_use]
pub fn read_date(text: &str, writing: DateWriting) -> Option<(i32, u8, u8)> {
    let text = text.trim();
    let digits = |s: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let (year, month, day, short) = if let Some((y, rest)) = text.split_once('-') {
        let (m, d) = rest.split_once('-')?;
        (y, m, d, false)
    } else {
        let separators: &[char] = match writing {
            DateWriting::Iso => return None,
            DateWriting::Exact => &['/'],
            DateWriting::Typed => &['/', '.', ' '],
        };
        let parts: Vec<&str> = match writing {
            DateWriting::Typed => text.split(separators).filter(|p| !p.is_empty()).collect(),
            _ => text.split(separators).collect(),
        };
        let [d, m, y] = parts.as_slice() else {
            return None;
        };
        (*y, *m, *d, writing == DateWriting::Typed)
    };
    let day_month = if short { 1..=2 } else { 2..=2 };
    if !(digits(year, 4..=4) && digits(month, day_month.clone()) && digits(day, day_month)) {
        return None;
    }
    Some((year.parse().ok()?, month.parse().ok()?, day.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_text_taken_as_it_is_is_the_text_collapsed(
            text in "[ a\t\n\u{a0}\u{2003}\u{3000}\u{85}é]{0,12}"
        ) {
            let by_splitting = text.split_whitespace().collect::<Vec<_>>().join(" ");
            prop_assert_eq!(super::collapse_whitespace(&text), by_splitting.clone());
            prop_assert_eq!(super::is_collapsed(&text), text == by_splitting && !text.is_empty());
        }
    }

    #[test]
    fn the_latin1_shortcut_agrees_with_the_unicode_tables() {
        use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
        for c in (0u32..=0x2FF).filter_map(char::from_u32) {
            let by_table = matches!(
                c.general_category(),
                GeneralCategory::Control | GeneralCategory::Format
            );
            assert_eq!(super::is_invisible_control(c), by_table, "{c:?}");
        }
        assert!(super::is_invisible_control('\u{202E}'));
        assert!(super::is_invisible_control('\u{200B}'));
        assert!(!super::is_invisible_control('\u{00A0}'));
    }

    #[test]
    fn dates_are_read_as_written_by_people_files_and_machines() {
        use super::{DateWriting as W, read_date};
        for (text, writing, expected) in [
            ("14/07/2003", W::Typed, Some((2003, 7, 14))),
            ("1/3/2003", W::Typed, Some((2003, 3, 1))),
            (" 14.07.2003 ", W::Typed, Some((2003, 7, 14))),
            ("14 07 2003", W::Typed, Some((2003, 7, 14))),
            ("2003-07-14", W::Typed, Some((2003, 7, 14))),
            ("14/07/2003", W::Exact, Some((2003, 7, 14))),
            ("2003-07-14", W::Exact, Some((2003, 7, 14))),
            ("1/3/2003", W::Exact, None),
            ("14.07.2003", W::Exact, None),
            ("2003-07-14", W::Iso, Some((2003, 7, 14))),
            ("14/07/2003", W::Iso, None),
            ("2003-7-14", W::Iso, None),
            ("14/07/03", W::Typed, None),
            ("2003-07-14-01", W::Iso, None),
            ("+003-07-14", W::Iso, None),
            ("", W::Typed, None),
            ("14/07", W::Typed, None),
            ("١٤/٠٧/٢٠٠٣", W::Typed, None),
        ] {
            assert_eq!(read_date(text, writing), expected, "{text:?} {writing:?}");
        }
    }

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
    fn moments_are_told_in_paris_time_summer_time_included() {
        use time::macros::datetime;
        // Winter: UTC+1.
        assert_eq!(
            french_moment(datetime!(2026-11-24 10:05 UTC)),
            "24 novembre 2026 à 11h05"
        );
        // Summer: UTC+2, and the day changes before UTC's.
        assert_eq!(
            french_moment(datetime!(2026-06-30 22:30 UTC)),
            "1er juillet 2026 à 0h30"
        );
        assert_eq!(
            french_day(datetime!(2026-06-30 22:30 UTC)),
            "1er juillet 2026"
        );
        // The switch to summer time: last Sunday of March at 01:00 UTC.
        assert_eq!(
            paris_time(datetime!(2026-03-29 00:59 UTC)).offset(),
            time::macros::offset!(+1)
        );
        assert_eq!(
            paris_time(datetime!(2026-03-29 01:00 UTC)).offset(),
            time::macros::offset!(+2)
        );
        // And back: last Sunday of October at 01:00 UTC.
        assert_eq!(
            paris_time(datetime!(2026-10-25 01:00 UTC)).offset(),
            time::macros::offset!(+1)
        );
        // An instant given with another offset is the same instant.
        assert_eq!(
            french_moment(datetime!(2026-11-24 12:05 +03:00)),
            "24 novembre 2026 à 10h05"
        );
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
