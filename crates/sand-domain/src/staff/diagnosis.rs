//! Attach diagnosis: why an identity a graduate gave does not match a record, field by
//! field and after the service's normalisation, for an exam-office agent.
//!
//! Matching itself ([`crate::identity::Identity::matches`]) is all or nothing; the agent
//! needs to know which field differs and how: a usage (married) name typed as the birth
//! name, a first name missing or the names reordered, day and month swapped.

use crate::identity::{Identity, compact_key};
use crate::record::RecordHolder;

/// How the typed birth name compares with the record's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameVerdict {
    Same,
    /// The graduate typed the record's usage name (often a married name) as birth name.
    UsageNameTyped,
    Differs,
}

/// How the typed first names compare with the record's (whole ordered list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstNamesVerdict {
    Same,
    /// The typed names are some of the record's, in its order: the others are missing.
    SomeMissing {
        typed: usize,
        recorded: usize,
    },
    /// The same names in another order.
    Reordered,
    /// More names than the record holds, the record's among them in order.
    TooMany {
        typed: usize,
        recorded: usize,
    },
    Differs,
}

/// How the typed birth date compares with the record's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateVerdict {
    Same,
    /// Day and month exchanged (12/04 for 04/12).
    DayMonthSwapped,
    /// Same day and month, another year.
    OtherYear,
    Differs,
}

/// The comparison of a typed identity with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Diagnosis {
    pub birth_name: NameVerdict,
    pub first_names: FirstNamesVerdict,
    pub birth_date: DateVerdict,
}

impl Diagnosis {
    /// Compares `typed` with `record` as matching does, then says how each field differs.
    #[must_use]
    pub fn of(typed: &Identity, record: &RecordHolder) -> Self {
        Self {
            birth_name: birth_name(typed, record),
            first_names: first_names(typed, &record.identity),
            birth_date: birth_date(typed, &record.identity),
        }
    }

    /// Whether the identity would attach (every field the same).
    #[must_use]
    pub fn matches(&self) -> bool {
        self.differing() == 0
    }

    /// How many of the three fields differ.
    #[must_use]
    pub fn differing(&self) -> usize {
        usize::from(self.birth_name != NameVerdict::Same)
            + usize::from(self.first_names != FirstNamesVerdict::Same)
            + usize::from(self.birth_date != DateVerdict::Same)
    }

    /// Whether the record is worth showing: at most one field differs, or the only
    /// differences are explained ones (a usage name, missing or reordered first names,
    /// swapped day and month).
    #[must_use]
    pub fn is_near(&self) -> bool {
        let explained = usize::from(matches!(
            self.birth_name,
            NameVerdict::Same | NameVerdict::UsageNameTyped
        )) + usize::from(!matches!(self.first_names, FirstNamesVerdict::Differs))
            + usize::from(matches!(
                self.birth_date,
                DateVerdict::Same | DateVerdict::DayMonthSwapped | DateVerdict::OtherYear
            ));
        self.differing() <= 1 || explained == 3
    }
}

fn birth_name(typed: &Identity, record: &RecordHolder) -> NameVerdict {
    let key = typed.birth_name.match_key();
    if key == record.identity.birth_name.match_key() {
        NameVerdict::Same
    } else if record
        .usage_name
        .as_ref()
        .is_some_and(|usage| compact_key(usage.as_str()) == key)
    {
        NameVerdict::UsageNameTyped
    } else {
        NameVerdict::Differs
    }
}

/// The words of a list of first names as matching folds them (a hyphen is a boundary).
fn words(identity: &Identity) -> Vec<String> {
    identity
        .first_names
        .match_key()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Whether `short` is `long` with some elements left out, keeping the order.
fn is_subsequence(short: &[String], long: &[String]) -> bool {
    let mut rest = long.iter();
    short.iter().all(|word| rest.any(|w| w == word))
}

fn first_names(typed: &Identity, record: &Identity) -> FirstNamesVerdict {
    let (t, r) = (words(typed), words(record));
    if t == r {
        return FirstNamesVerdict::Same;
    }
    let (typed_count, recorded_count) = (
        typed.first_names.names().len(),
        record.first_names.names().len(),
    );
    if t.len() < r.len() && is_subsequence(&t, &r) {
        return FirstNamesVerdict::SomeMissing {
            typed: typed_count,
            recorded: recorded_count,
        };
    }
    if r.len() < t.len() && is_subsequence(&r, &t) {
        return FirstNamesVerdict::TooMany {
            typed: typed_count,
            recorded: recorded_count,
        };
    }
    let (mut ts, mut rs) = (t, r);
    ts.sort_unstable();
    rs.sort_unstable();
    if ts == rs {
        FirstNamesVerdict::Reordered
    } else {
        FirstNamesVerdict::Differs
    }
}

fn birth_date(typed: &Identity, record: &Identity) -> DateVerdict {
    let (t, r) = (typed.birth_date.date(), record.birth_date.date());
    if t == r {
        DateVerdict::Same
    } else if t.year() == r.year()
        && u8::from(t.month()) == r.day()
        && t.day() == u8::from(r.month())
    {
        DateVerdict::DayMonthSwapped
    } else if t.month() == r.month() && t.day() == r.day() {
        DateVerdict::OtherYear
    } else {
        DateVerdict::Differs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{BirthDate, BirthName, FirstNames, UsageName};
    use time::macros::date;

    fn identity(name: &str, first: &[&str], born: time::Date) -> Identity {
        Identity {
            birth_name: BirthName::parse(name).unwrap(),
            first_names: FirstNames::parse(first).unwrap(),
            birth_date: BirthDate::new(born, date!(2026 - 01 - 01)).unwrap(),
            birth_place: None,
            birth_place_code: None,
        }
    }

    fn record() -> RecordHolder {
        RecordHolder {
            civility: None,
            identity: identity("Durand", &["Camille", "Marie"], date!(2004 - 04 - 12)),
            usage_name: Some(UsageName::parse("Martin").unwrap()),
            ine: None,
        }
    }

    #[test]
    fn the_same_identity_after_normalisation_matches() {
        let d = Diagnosis::of(
            &identity("DURAND", &["camille", "MARIE"], date!(2004 - 04 - 12)),
            &record(),
        );
        assert!(d.matches());
        assert_eq!(d.differing(), 0);
    }

    #[test]
    fn a_married_name_typed_as_birth_name_is_named() {
        let d = Diagnosis::of(
            &identity("Martin", &["Camille", "Marie"], date!(2004 - 04 - 12)),
            &record(),
        );
        assert_eq!(d.birth_name, NameVerdict::UsageNameTyped);
        assert_eq!(d.first_names, FirstNamesVerdict::Same);
        assert_eq!(d.birth_date, DateVerdict::Same);
        assert!(!d.matches() && d.is_near());
    }

    #[test]
    fn first_names_missing_reordered_or_too_many() {
        let born = date!(2004 - 04 - 12);
        let verdict =
            |first: &[&str]| Diagnosis::of(&identity("Durand", first, born), &record()).first_names;
        assert_eq!(
            verdict(&["Camille"]),
            FirstNamesVerdict::SomeMissing {
                typed: 1,
                recorded: 2
            }
        );
        assert_eq!(
            verdict(&["Marie"]),
            FirstNamesVerdict::SomeMissing {
                typed: 1,
                recorded: 2
            }
        );
        assert_eq!(verdict(&["Marie", "Camille"]), FirstNamesVerdict::Reordered);
        assert_eq!(
            verdict(&["Camille", "Marie", "Louise"]),
            FirstNamesVerdict::TooMany {
                typed: 3,
                recorded: 2
            }
        );
        assert_eq!(verdict(&["Claude"]), FirstNamesVerdict::Differs);
        // a compound name typed as two names is the same list
        let compound = RecordHolder {
            identity: identity("Durand", &["Jean-Baptiste"], born),
            ..record()
        };
        assert_eq!(
            Diagnosis::of(&identity("Durand", &["Jean", "Baptiste"], born), &compound).first_names,
            FirstNamesVerdict::Same
        );
    }

    #[test]
    fn swapped_day_and_month_and_another_year_are_named() {
        let verdict =
            |born| Diagnosis::of(&identity("Durand", &["Camille", "Marie"], born), &record());
        assert_eq!(
            verdict(date!(2004 - 12 - 04)).birth_date,
            DateVerdict::DayMonthSwapped
        );
        assert_eq!(
            verdict(date!(2005 - 04 - 12)).birth_date,
            DateVerdict::OtherYear
        );
        assert_eq!(
            verdict(date!(2004 - 04 - 13)).birth_date,
            DateVerdict::Differs
        );
        assert!(
            verdict(date!(2004 - 04 - 13)).is_near(),
            "one field differs"
        );
    }

    #[test]
    fn a_stranger_is_not_near() {
        let d = Diagnosis::of(
            &identity("Lefèvre", &["Paul"], date!(2003 - 02 - 28)),
            &record(),
        );
        assert_eq!(d.differing(), 3);
        assert!(!d.is_near());
        // two unexplained differences are not near either
        let two = Diagnosis::of(
            &identity("Durand", &["Paul"], date!(2003 - 02 - 28)),
            &record(),
        );
        assert!(!two.is_near());
    }
}
