use super::*;
use proptest::prelude::*;

use crate::testing::{TODAY, identity};

/// The identity cases of the mission and the support memo: (case, declared by the
/// graduate, recorded by the exam office, must match).
#[test]
fn identity_table() {
    type Side<'a> = (&'a str, &'a [&'a str], &'a str);
    let cases: &[(&str, Side, Side, bool)] = &[
        (
            "same identity written the same way",
            ("Durand", &["Marie"], "2001-05-17"),
            ("DURAND", &["MARIE"], "2001-05-17"),
            true,
        ),
        (
            "married since the exam: married name declared instead of the birth name",
            ("Martin", &["Marie", "Claire"], "1995-02-03"),
            ("DURAND", &["MARIE", "CLAIRE"], "1995-02-03"),
            false,
        ),
        (
            "hyphenated first names against spaces and capitals",
            ("Lefèvre", &["Jean-Baptiste", "Paul"], "2000-01-31"),
            ("LEFEVRE", &["JEAN BAPTISTE PAUL"], "2000-01-31"),
            true,
        ),
        (
            "compound first name split into two list entries",
            ("Lefèvre", &["Jean-Baptiste", "Paul"], "2000-01-31"),
            ("LEFEVRE", &["JEAN", "BAPTISTE", "PAUL"], "2000-01-31"),
            true,
        ),
        (
            "reordered first names",
            ("Lefèvre", &["Paul", "Jean-Baptiste"], "2000-01-31"),
            ("LEFEVRE", &["JEAN-BAPTISTE", "PAUL"], "2000-01-31"),
            false,
        ),
        (
            "apostrophe in the birth name",
            ("N'Diaye", &["Aminata"], "1999-12-01"),
            ("NDIAYE", &["AMINATA"], "1999-12-01"),
            true,
        ),
        (
            "typographic apostrophe and space in the birth name",
            ("N’ Diaye", &["Aminata"], "1999-12-01"),
            ("N'DIAYE", &["AMINATA"], "1999-12-01"),
            true,
        ),
        (
            "particle written with and without spaces",
            ("de La Fontaine", &["Jean"], "1990-07-08"),
            ("DELAFONTAINE", &["JEAN"], "1990-07-08"),
            true,
        ),
        (
            "ligature œ",
            ("Cœur", &["Anaïs"], "2003-03-03"),
            ("COEUR", &["ANAIS"], "2003-03-03"),
            true,
        ),
        (
            "ligature æ and sharp s",
            ("Strauß", &["Lætitia"], "2003-03-03"),
            ("STRAUSS", &["LAETITIA"], "2003-03-03"),
            true,
        ),
        (
            "decomposed against composed É",
            ("E\u{0301}tienne", &["Zoe\u{0308}"], "2002-10-10"),
            ("\u{00C9}TIENNE", &["ZO\u{00CB}"], "2002-10-10"),
            true,
        ),
        (
            "extra spaces everywhere",
            ("  Le   Goff ", &["  Anne  ", " Sophie"], "2004-04-04"),
            ("LE GOFF", &["ANNE", "SOPHIE"], "2004-04-04"),
            true,
        ),
        (
            "a first name left out (does not use all first names every day)",
            ("Moreau", &["Julie"], "2001-08-09"),
            ("MOREAU", &["JULIE", "ANNE", "MARIE"], "2001-08-09"),
            false,
        ),
        (
            "an extra first name",
            ("Moreau", &["Julie", "Anne", "Marie", "Rose"], "2001-08-09"),
            ("MOREAU", &["JULIE", "ANNE", "MARIE"], "2001-08-09"),
            false,
        ),
        (
            "day and month swapped",
            ("Petit", &["Lucas"], "2001-03-04"),
            ("PETIT", &["LUCAS"], "2001-04-03"),
            false,
        ),
        (
            "another birth date by one day",
            ("Petit", &["Lucas"], "2001-03-04"),
            ("PETIT", &["LUCAS"], "2001-03-05"),
            false,
        ),
        (
            "29 February of a leap year",
            ("Roux", &["Léa"], "2004-02-29"),
            ("ROUX", &["LEA"], "2004-02-29"),
            true,
        ),
        (
            "one letter different in the birth name",
            ("Martins", &["Hugo"], "2001-01-01"),
            ("MARTIN", &["HUGO"], "2001-01-01"),
            false,
        ),
        (
            "first name and birth name swapped",
            ("Thomas", &["Martin"], "2001-01-01"),
            ("MARTIN", &["THOMAS"], "2001-01-01"),
            false,
        ),
    ];
    for (case, (bn1, fn1, d1), (bn2, fn2, d2), expected) in cases {
        let declared = identity(bn1, fn1, d1);
        let recorded = identity(bn2, fn2, d2);
        assert_eq!(declared.matches(&recorded), *expected, "case: {case}");
        assert_eq!(
            recorded.matches(&declared),
            *expected,
            "case (reversed): {case}"
        );
    }
}

#[test]
fn birth_dates_must_exist_and_be_plausible() {
    assert_eq!(
        BirthDate::parse_iso("2003-02-29", TODAY),
        Err(BirthDateError::NotACalendarDate)
    );
    assert_eq!(
        BirthDate::parse_iso("2001-13-01", TODAY),
        Err(BirthDateError::NotACalendarDate)
    );
    assert_eq!(
        BirthDate::parse_iso("1899-12-31", TODAY),
        Err(BirthDateError::TooEarly)
    );
    assert_eq!(
        BirthDate::parse_iso("2026-11-25", TODAY),
        Err(BirthDateError::InTheFuture)
    );
    for garbage in [
        "",
        "17/05/2001",
        "2001-5-17",
        "２００１-05-17",
        "2001-05-17T00",
        "+001-05-17",
    ] {
        assert_eq!(
            BirthDate::parse_iso(garbage, TODAY),
            Err(BirthDateError::Unreadable),
            "{garbage:?}"
        );
    }
    let date = BirthDate::parse_iso(" 2004-02-29 ", TODAY).unwrap();
    assert_eq!(date.to_string(), "29/02/2004");
    assert!(!format!("{date:?}").contains("2004"));
}

#[test]
fn birth_places_are_validated() {
    assert_eq!(BirthPlace::parse("  "), Err(BirthPlaceError::Empty));
    assert_eq!(
        BirthPlace::parse("Paris\u{7}"),
        Err(BirthPlaceError::ControlCharacter)
    );
    assert_eq!(
        BirthPlace::parse(&"x".repeat(MAX_PLACE_CHARS + 1)),
        Err(BirthPlaceError::TooLong {
            max: MAX_PLACE_CHARS
        })
    );
    assert_eq!(
        BirthPlace::parse(" Saint-Denis  (La Réunion) ")
            .unwrap()
            .as_str(),
        "Saint-Denis (La Réunion)"
    );
    // exactly the longest is accepted
    assert!(BirthPlace::parse(&"x".repeat(MAX_PLACE_CHARS)).is_ok());
    // shown as written, never printed in debug output
    let place = BirthPlace::parse("Lyon").unwrap();
    assert_eq!(place.to_string(), "Lyon");
    assert_eq!(format!("{place:?}"), "BirthPlace(<redacted>)");
}

#[test]
fn personal_data_never_prints_in_debug_output() {
    let marie = identity("Durand", &["Marie"], "2004-05-17");
    assert_eq!(format!("{:?}", marie.birth_date), "BirthDate(<redacted>)");
    assert_eq!(format!("{:?}", marie.key()), "IdentityKey(<redacted>)");
    let all = format!("{marie:?}");
    assert!(!all.contains("Durand") && !all.contains("Marie") && !all.contains("2004"));
}

#[test]
fn civilities_read_in_full() {
    assert_eq!(Civility::Madame.label(), "Madame");
    assert_eq!(Civility::Monsieur.label(), "Monsieur");
}

fn name_word() -> impl Strategy<Value = String> {
    "[A-Za-zÀ-ÖØ-öø-ÿŒœ]{1,10}"
}

fn first_name_lists() -> impl Strategy<Value = Vec<String>> {
    first_name_lists_of(1)
}

fn first_name_lists_of(min: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set(name_word(), min..5)
        .prop_map(|set| set.into_iter().collect::<Vec<_>>())
        // distinct names after folding, so that a permutation is really a reordering
        .prop_filter("distinct folded names", |names| {
            let mut folded: Vec<String> = names.iter().map(|n| normalize(n)).collect();
            folded.sort();
            folded.dedup();
            folded.len() == names.len()
        })
}

fn dates() -> impl Strategy<Value = Date> {
    (1950i32..2020, 1u8..=12, 1u8..=28)
        .prop_map(|(y, m, d)| Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap())
}

fn build(birth_name: &str, first_names: &[String], date: Date) -> Identity {
    Identity {
        birth_name: BirthName::parse(birth_name).unwrap(),
        first_names: FirstNames::parse(first_names).unwrap(),
        birth_date: BirthDate::new(date, TODAY).unwrap(),
        birth_place: None,
        birth_place_code: None,
    }
}

/// Spelling noise that is not identity: case, separators.
fn noisy(word: &str, upper: bool, separator: &str) -> String {
    let cased = if upper {
        word.to_uppercase()
    } else {
        word.to_lowercase()
    };
    format!("{separator}{cased}{separator}")
}

proptest! {
    #[test]
    fn matching_is_symmetric_and_reflexive(
        a_name in name_word(), a_first in first_name_lists(), a_date in dates(),
        b_name in name_word(), b_first in first_name_lists(), b_date in dates(),
    ) {
        let a = build(&a_name, &a_first, a_date);
        let b = build(&b_name, &b_first, b_date);
        prop_assert!(a.matches(&a));
        prop_assert_eq!(a.matches(&b), b.matches(&a));
    }

    #[test]
    fn spelling_noise_still_matches(
        name in name_word(), first in first_name_lists(), date in dates(),
        upper in any::<bool>(), separator in prop::sample::select(vec![" ", "  ", "-", "'", "’"]),
    ) {
        let clean = build(&name, &first, date);
        let noisy_first: Vec<String> = first.iter().map(|f| noisy(f, upper, separator)).collect();
        let other = build(&noisy(&name, upper, separator), &noisy_first, date);
        prop_assert!(clean.matches(&other));
    }

    #[test]
    fn another_birth_date_never_matches(
        name in name_word(), first in first_name_lists(), date in dates(), other_date in dates(),
    ) {
        prop_assume!(other_date != date);
        let a = build(&name, &first, date);
        let b = build(&name, &first, other_date);
        prop_assert!(!a.matches(&b));
    }

    #[test]
    fn a_missing_first_name_never_matches(
        name in name_word(), first in first_name_lists_of(2), date in dates(), index in any::<prop::sample::Index>(),
    ) {
        let mut fewer = first.clone();
        fewer.remove(index.index(first.len()));
        prop_assert!(!build(&name, &first, date).matches(&build(&name, &fewer, date)));
    }

    #[test]
    fn an_extra_first_name_never_matches(
        name in name_word(), first in first_name_lists(), date in dates(),
        extra in name_word(), index in any::<prop::sample::Index>(),
    ) {
        let mut more = first.clone();
        more.insert(index.index(first.len() + 1), extra);
        prop_assert!(!build(&name, &first, date).matches(&build(&name, &more, date)));
    }

    #[test]
    fn reordered_first_names_never_match(
        name in name_word(), first in first_name_lists_of(2), date in dates(),
        a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(),
    ) {
        // swap two different positions: the names are distinct, so the order changes
        let i = a.index(first.len());
        let j = (i + 1 + b.index(first.len() - 1)) % first.len();
        let mut reordered = first.clone();
        reordered.swap(i, j);
        prop_assert!(!build(&name, &first, date).matches(&build(&name, &reordered, date)));
    }
}

#[test]
fn insee_birth_place_codes_are_five_characters_of_a_commune_or_a_country() {
    use crate::identity::BirthPlaceCode;
    for good in ["69383", "75107", "2A004", "2b033", " 97411 ", "99350"] {
        assert!(BirthPlaceCode::parse(good).is_ok(), "{good}");
    }
    assert_eq!(BirthPlaceCode::parse("2a004").unwrap().as_str(), "2A004");
    assert!(BirthPlaceCode::parse("99350").unwrap().is_country());
    assert!(!BirthPlaceCode::parse("69383").unwrap().is_country());
    for bad in [
        "",
        "6938",
        "693830",
        "2C004",
        "3A004",
        "69 83",
        "Lyon!",
        "٦٩٣٨٣",
        "69a83",
    ] {
        assert!(BirthPlaceCode::parse(bad).is_err(), "{bad}");
    }
    // personal data: never in a debug print
    assert_eq!(
        format!("{:?}", BirthPlaceCode::parse("69383").unwrap()),
        "BirthPlaceCode(<redacted>)"
    );
}
