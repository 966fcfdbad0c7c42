//! Property-based fuzzing of the import parser (proptest: `cargo fuzz` needs a nightly
//! toolchain). Every case must end in records or in located problems: never a panic,
//! never a hang, never a record with a problem hidden.
//!
//! The test command runs the default 256 cases of each; for a longer run:
//! `PROPTEST_CASES=200000 cargo nextest run -p sand-import fuzz_` (docs/security.md).

use proptest::prelude::*;

use super::{GOOD_LINE, HEADER, read_all};
use sand_import::{COLUMNS, Encoding, read_manifest};

/// A field value: plausible, empty, hostile or random.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("C1".to_owned()),
        Just("2004-04-12".to_owned()),
        Just("31/02/2004".to_owned()),
        Just("BACG".to_owned()),
        Just("10".to_owned()),
        Just("\"quoted;field\"".to_owned()),
        Just("=cmd|' /C calc'!A0".to_owned()),
        Just("\u{202e}gnp.exe".to_owned()),
        Just("a".repeat(2_000)),
        "[A-Za-zÀ-ÿ' -]{0,30}",
        "\\PC{0,40}",
        any::<String>().prop_map(|s| s.chars().take(60).collect()),
    ]
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![Just(Encoding::Utf8), Just(Encoding::Windows1252)]
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// Any bytes at all: an answer, and problems that say where.
    #[test]
    fn fuzz_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096), enc in encoding()) {
        let newlines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        match read_all(bytes.as_slice(), enc) {
            Ok(lines) => {
                prop_assert!(lines.len() as u64 <= newlines + 1);
                for problems in lines.iter().filter_map(|l| l.as_ref().err()) {
                    prop_assert!(!problems.is_empty());
                    for p in problems {
                        prop_assert!(p.line >= 2 && p.line <= newlines + 2, "{p:?}");
                        prop_assert!(!p.reason.is_empty());
                    }
                }
            }
            Err(problem) => prop_assert!(!problem.reason.is_empty()),
        }
    }

    /// A real header and rows of hostile fields: each row is a record or a list of
    /// problems naming known columns.
    #[test]
    fn fuzz_rows_of_hostile_fields_are_records_or_located_problems(
        rows in prop::collection::vec(prop::collection::vec(field(), 14), 1..20),
        enc in encoding(),
    ) {
        let mut text = String::from(HEADER);
        for row in &rows {
            text.push_str(&row.join(";"));
            text.push('\n');
        }
        let Ok(lines) = read_all(text.as_bytes(), enc) else {
            // a field with a quote or a newline may break the CSV framing: a fatal,
            // located problem, which the generic property above checks
            return Ok(());
        };
        for line in lines {
            match line {
                Ok(record) => prop_assert!(record.line >= 2),
                Err(problems) => {
                    prop_assert!(!problems.is_empty());
                    for p in problems {
                        if let Some(column) = &p.column {
                            prop_assert!(COLUMNS.contains(&column.as_str()), "{p:?}");
                        }
                    }
                }
            }
        }
    }

    /// One field of a good row replaced: the row is still accepted, or its problems
    /// name that column only.
    #[test]
    fn fuzz_one_bad_field_is_reported_in_its_own_column(index in 0usize..14, value in field()) {
        prop_assume!(!value.contains(['"', ';', '\n', '\r']));
        let mut fields: Vec<String> = GOOD_LINE.trim_end().split(';').map(str::to_owned).collect();
        fields[index] = value;
        let text = format!("{HEADER}{}\n", fields.join(";"));
        let lines = read_all(text.as_bytes(), Encoding::Utf8).unwrap();
        prop_assert_eq!(lines.len(), 1);
        if let Err(problems) = &lines[0] {
            for p in problems {
                prop_assert_eq!(p.line, 2);
                prop_assert_eq!(p.column.as_deref(), Some(COLUMNS[index]), "{:?}", p);
            }
        }
    }

    /// A manifest of arbitrary TOML-ish text: an error that names the file, or a
    /// manifest.
    #[test]
    fn fuzz_manifests_never_panic(text in prop_oneof![
        "\\PC{0,300}",
        "(exam_office|diplome|academie|session|record_count|encoding|data_file|data_sha256|exported_at|results_final) = (\"[a-z0-9:-]{0,20}\"|[0-9]{1,12}|true)\n{1,10}",
    ]) {
        let dir = std::env::temp_dir().join(format!("sand-fuzz-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.toml", fastrand_name(&text)));
        std::fs::write(&path, &text).unwrap();
        let result = read_manifest(&path);
        std::fs::remove_file(&path).unwrap();
        if let Err(e) = result {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}

/// A file name unique to this text (cases may run in parallel test processes).
fn fastrand_name(text: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    std::thread::current().id().hash(&mut h);
    format!("{:016x}", h.finish())
}
