//! Name normalisation and identity matching throughput.
//!
//! `cargo bench -p sand-domain --bench matching` prints names/s for SAND's
//! normalisation beside a baseline measured in the same run on the same names: Rust's
//! plain `str::to_uppercase`, the least any case-insensitive comparison must do.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use sand_domain::identity::{BirthDate, BirthName, FirstNames, Identity, compact_key, normalize};
use time::macros::date;

const NAMES: usize = 200_000;
const ROUNDS: usize = 5;

const PARTS: &[&str] = &[
    "Durand",
    "Lefèvre",
    "N'Diaye",
    "Cœur",
    "de La Fontaine",
    "Müller",
    "Jean-Baptiste",
    "Éloïse",
    "Strauß",
    "Lætitia",
    "Nguyễn",
    "Ø",
    "Marie Claire",
    "Françoise",
    "Zoë",
];

/// Deterministic pseudo-random names (a linear congruential generator, no dependency).
fn names() -> Vec<String> {
    let mut state: u64 = 0x5eed;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        usize::try_from(state >> 33).unwrap_or(0)
    };
    (0..NAMES)
        .map(|_| {
            let words = 1 + next() % 3;
            (0..words)
                .map(|_| PARTS[next() % PARTS.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn best_of<F: FnMut()>(mut f: F) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn main() {
    let names = names();
    let baseline = best_of(|| {
        for n in &names {
            black_box(n.to_uppercase());
        }
    });
    let normalized = best_of(|| {
        for n in &names {
            black_box(normalize(n));
        }
    });
    let keyed = best_of(|| {
        for n in &names {
            black_box(compact_key(n));
        }
    });
    let today = date!(2026 - 11 - 24);
    let identities: Vec<Identity> = names
        .iter()
        .map(|n| Identity {
            birth_name: BirthName::parse(n).unwrap_or_else(|_| BirthName::parse("X").unwrap()),
            first_names: FirstNames::parse_text(n)
                .unwrap_or_else(|_| FirstNames::parse(["X"]).unwrap()),
            birth_date: BirthDate::new(date!(2001 - 05 - 17), today).unwrap(),
            birth_place: None,
            birth_place_code: None,
        })
        .collect();
    let reference = identities[0].clone();
    let matched = best_of(|| {
        for i in &identities {
            black_box(i.matches(&reference));
        }
    });

    println!("name normalisation and matching, {NAMES} names, best of {ROUNDS} rounds");
    println!("{:<44} {:>14}", "operation", "names/s");
    println!(
        "{:<44} {:>14.0}",
        "baseline: str::to_uppercase",
        rate(NAMES, baseline)
    );
    println!(
        "{:<44} {:>14.0}",
        "normalize (NFKD, marks, ligatures, separators)",
        rate(NAMES, normalized)
    );
    println!(
        "{:<44} {:>14.0}",
        "compact_key (birth-name key)",
        rate(NAMES, keyed)
    );
    println!(
        "{:<44} {:>14.0}",
        "Identity::matches (two keys each side)",
        rate(NAMES, matched)
    );
    println!(
        "normalize costs {:.1}× the baseline",
        normalized.as_secs_f64() / baseline.as_secs_f64()
    );
}
