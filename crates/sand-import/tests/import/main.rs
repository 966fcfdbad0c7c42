//! The exchange format, read as an exam office's export and as an attacker's file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fuzz;

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sand_domain::record::import::{BatchChecker, SourceProblem};
use sand_import::synthetic::{GenerateOptions, generate};
use sand_import::{BatchReader, Encoding, LineResult, fingerprint_file, read_manifest};
use time::macros::{date, datetime};

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/batch")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sand-import-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const HEADER: &str = "numero_candidat;civilite;nom_naissance;nom_usage;prenoms;date_naissance;lieu_naissance;ine;diplome;academie;session;specialite;mention;date_deliberation\n";
const GOOD_LINE: &str = "C1;MME;Durand;;Marie;2004-04-12;Lyon;;BACG;10;2022;Série S;B;2022-07-05\n";

fn read_all<R: Read>(input: R, encoding: Encoding) -> Result<Vec<LineResult>, SourceProblem> {
    let mut reader = BatchReader::new(input, encoding, date!(2022 - 07 - 20))?;
    let mut lines = Vec::new();
    while let Some(line) = reader.next_line()? {
        lines.push(line);
    }
    Ok(lines)
}

fn problems_of(text: &str) -> Vec<SourceProblem> {
    read_all(text.as_bytes(), Encoding::Utf8)
        .unwrap()
        .into_iter()
        .flat_map(|l| l.err().unwrap_or_default())
        .collect()
}

#[test]
fn the_documented_example_batch_reads_and_passes_every_check() {
    let manifest = read_manifest(&example_dir().join("lyon-bacg-2022.toml")).unwrap();
    assert_eq!(manifest.record_count, 3);
    assert!(manifest.results_final);
    let (fingerprint, _) = fingerprint_file(&manifest.data_path).unwrap();
    assert_eq!(
        fingerprint, manifest.data_sha256,
        "docs example: data_sha256 is stale"
    );

    let file = std::fs::File::open(&manifest.data_path).unwrap();
    let lines = read_all(file, manifest.encoding).unwrap();
    let mut checker = BatchChecker::new(manifest.header(), datetime!(2026-11-24 0:00 UTC));
    for line in lines {
        let record = line.unwrap();
        assert!(checker.check(&record), "line {}", record.line);
    }
    let checked = checker.finish().unwrap();
    assert_eq!(checked.records(), 3);
}

#[test]
fn fields_are_read_exactly() {
    let file = std::fs::File::open(example_dir().join("lyon-bacg-2022.csv")).unwrap();
    let records: Vec<_> = read_all(file, Encoding::Utf8)
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let r = &records[2];
    assert_eq!(r.line, 4);
    assert_eq!(r.holder.identity.birth_name.as_str(), "Lefèvre");
    assert_eq!(
        r.holder.identity.first_names.to_string(),
        "Jean-Baptiste Paul"
    );
    assert_eq!(r.holder.identity.birth_date.date(), date!(2003 - 02 - 28));
    // a quoted cell may hold the separator
    assert_eq!(
        r.award.speciality.as_ref().unwrap().as_str(),
        "Humanités, littérature et philosophie; langues"
    );
    // DD/MM/YYYY is accepted too
    assert_eq!(
        records[1].holder.identity.birth_date.date(),
        date!(2004 - 11 - 30)
    );
    assert_eq!(
        records[0].holder.usage_name.as_ref().unwrap().as_str(),
        "Martin"
    );
}

#[test]
fn every_bad_cell_is_reported_with_its_line_and_column() {
    let text = format!(
        "{HEADER}{GOOD_LINE}\
         C2;XX;Dur4nd;;;2004-02-30;Lyon;123;BAC;99;20x2;Série S;EXCELLENT;2022-13-01\n\
         C3;M;Petit;;Hugo;2004-01-01;Lyon;;BACG;10;2022;Série S;B;2022-07-05\n"
    );
    let lines = read_all(text.as_bytes(), Encoding::Utf8).unwrap();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].is_ok() && lines[2].is_ok());
    let problems = lines[1].as_ref().unwrap_err();
    let columns: Vec<&str> = problems
        .iter()
        .map(|p| p.column.as_deref().unwrap())
        .collect();
    assert_eq!(
        columns,
        vec![
            "civilite",
            "nom_naissance",
            "prenoms",
            "date_naissance",
            "ine",
            "diplome",
            "academie",
            "session",
            "mention",
            "date_deliberation"
        ]
    );
    assert!(problems.iter().all(|p| p.line == 3));
    assert!(
        problems[1].reason.contains("« 4 »"),
        "{}",
        problems[1].reason
    );
}

#[test]
fn formula_injection_cells_are_refused() {
    for cell in ["=cmd|' /C calc'!A0", "+33 1 23", "-2+3", "@SUM(A1)"] {
        let text = format!(
            "{HEADER}C1;MME;Durand;;Marie;2004-04-12;{cell};;BACG;10;2022;Série S;B;2022-07-05\n"
        );
        let problems = problems_of(&text);
        assert_eq!(problems.len(), 1, "{cell}: {problems:?}");
        assert!(problems[0].reason.contains("formule"), "{cell}");
        assert_eq!(problems[0].column.as_deref(), Some("lieu_naissance"));
    }
}

#[test]
fn control_characters_are_refused_in_either_encoding_and_cells_are_trimmed() {
    for control in ["\u{1}", "\u{7f}", "\u{85}", "\u{9f}"] {
        let text = format!(
            "{HEADER}C1;MME;Dur{control}and;;Marie;2004-04-12;Lyon;;BACG;10;2022;Série S;B;2022-07-05\n"
        );
        let problems = problems_of(&text);
        assert_eq!(problems.len(), 1, "{control:?}: {problems:?}");
        assert_eq!(problems[0].reason, "caractère de contrôle");
        assert_eq!(problems[0].column.as_deref(), Some("nom_naissance"));
    }
    // in Windows-1252, the bytes 0x81, 0x8D, 0x8F, 0x90 and 0x9D decode to C1 controls
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(
        b"C1;MME;Dur\x8dand;;Marie;2004-04-12;Lyon;;BACG;10;2022;S\xe9rie S;B;2022-07-05\n",
    );
    let lines = read_all(bytes.as_slice(), Encoding::Windows1252).unwrap();
    let problems = lines[0].as_ref().unwrap_err();
    assert_eq!(problems[0].column.as_deref(), Some("nom_naissance"));
    assert_eq!(problems[0].reason, "caractère de contrôle");
    // a tab is no control here; spaces and tabs around a cell go, in either encoding
    for encoding in [Encoding::Utf8, Encoding::Windows1252] {
        let text = " C1 ;\tmadame ; Du\trand\t;;Marie;2004-04-12; Lyon ;;BACG;10;2022;S\u{e9}rie S;B;2022-07-05\n";
        let bytes: Vec<u8> = match encoding {
            Encoding::Utf8 => format!("{HEADER}{text}").into_bytes(),
            Encoding::Windows1252 => format!("{HEADER}{text}")
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap())
                .collect(),
        };
        let lines = read_all(bytes.as_slice(), encoding).unwrap();
        let record = lines[0].as_ref().unwrap();
        assert_eq!(record.candidate_number.as_str(), "C1");
        assert_eq!(
            record.holder.civility,
            Some(sand_domain::identity::Civility::Madame)
        );
        assert_eq!(
            record
                .holder
                .identity
                .birth_place
                .as_ref()
                .unwrap()
                .as_str(),
            "Lyon"
        );
        assert_eq!(
            record.award.speciality.as_ref().unwrap().as_str(),
            "Série S"
        );
    }
}

#[test]
fn civilities_are_read_in_any_case_and_nothing_else_is() {
    for (cell, madame) in [
        ("M", false),
        ("m.", false),
        ("Monsieur", false),
        ("mme", true),
        ("MADAME", true),
    ] {
        let text = format!(
            "{HEADER}C1;{cell};Durand;;Marie;2004-04-12;Lyon;;BACG;10;2022;Série S;B;2022-07-05\n"
        );
        let lines = read_all(text.as_bytes(), Encoding::Utf8).unwrap();
        let civility = lines[0].as_ref().unwrap().holder.civility.unwrap();
        assert_eq!(
            civility == sand_domain::identity::Civility::Madame,
            madame,
            "{cell}"
        );
    }
    for cell in ["Mr", "Mlle", "MADAMES", "Ⅿ"] {
        let text = format!(
            "{HEADER}C1;{cell};Durand;;Marie;2004-04-12;Lyon;;BACG;10;2022;Série S;B;2022-07-05\n"
        );
        let problems = problems_of(&text);
        assert_eq!(problems[0].column.as_deref(), Some("civilite"), "{cell}");
    }
}

#[test]
fn a_wrong_number_of_fields_is_a_line_problem_not_the_end() {
    let text = format!("{HEADER}C1;MME;Durand\n{GOOD_LINE}");
    let lines = read_all(text.as_bytes(), Encoding::Utf8).unwrap();
    assert_eq!(lines.len(), 2);
    let problems = lines[0].as_ref().unwrap_err();
    assert!(
        problems[0].reason.contains("3 champs au lieu de 14"),
        "{problems:?}"
    );
    assert_eq!(problems[0].line, 2);
    assert!(lines[1].is_ok());
}

#[test]
fn the_header_must_name_every_column_once_and_nothing_else() {
    let missing =
        read_all("numero_candidat;nom_naissance\n".as_bytes(), Encoding::Utf8).unwrap_err();
    assert!(missing.reason.contains("colonnes manquantes") && missing.reason.contains("prenoms"));
    let unknown = read_all(
        format!("{}extra\n", HEADER.replace('\n', ";")).as_bytes(),
        Encoding::Utf8,
    )
    .unwrap_err();
    assert!(
        unknown.reason.contains("colonnes inconnues : extra"),
        "{}",
        unknown.reason
    );
    let twice = read_all("nom_naissance;nom_naissance\n".as_bytes(), Encoding::Utf8).unwrap_err();
    assert!(twice.reason.contains("répétée"));
    let empty = read_all("".as_bytes(), Encoding::Utf8).unwrap_err();
    assert!(empty.reason.contains("vide"), "{}", empty.reason);
    // a UTF-8 byte order mark and another column order are fine
    let reordered = format!(
        "\u{feff}{}",
        "date_deliberation;mention;specialite;session;academie;diplome;ine;lieu_naissance;date_naissance;prenoms;nom_usage;nom_naissance;civilite;numero_candidat\n2022-07-05;B;Série S;2022;10;BACG;;Lyon;2004-04-12;Marie;;Durand;MME;C1\n"
    );
    let lines = read_all(reordered.as_bytes(), Encoding::Utf8).unwrap();
    assert_eq!(lines[0].as_ref().unwrap().candidate_number.as_str(), "C1");
}

#[test]
fn the_optional_birth_place_code_column_is_read_and_checked() {
    // a file without the column reads as before: no code
    let without = read_all(format!("{HEADER}{GOOD_LINE}").as_bytes(), Encoding::Utf8).unwrap();
    assert_eq!(
        without[0]
            .as_ref()
            .unwrap()
            .holder
            .identity
            .birth_place_code,
        None
    );
    let header = HEADER.replace('\n', ";code_lieu_naissance\n");
    let line = |code: &str| GOOD_LINE.replace('\n', &format!(";{code}\n"));
    let text = format!(
        "{header}{}{}{}{}",
        line("69383"),
        line("2a004"),
        line(""),
        line("Lyon")
    );
    let lines = read_all(text.as_bytes(), Encoding::Utf8).unwrap();
    let code = |i: usize| {
        lines[i]
            .as_ref()
            .unwrap()
            .holder
            .identity
            .birth_place_code
            .map(|c| c.as_str().to_owned())
    };
    assert_eq!(code(0).as_deref(), Some("69383"));
    assert_eq!(code(1).as_deref(), Some("2A004"));
    assert_eq!(code(2), None);
    let problems = lines[3].as_ref().unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, 5);
    assert_eq!(problems[0].column.as_deref(), Some("code_lieu_naissance"));
    assert!(
        problems[0].reason.contains("code INSEE"),
        "{}",
        problems[0].reason
    );
}

#[test]
fn binary_garbage_stops_the_reading_with_a_clear_problem() {
    let mut garbage = HEADER.as_bytes().to_vec();
    garbage.extend_from_slice(b"C1;MME;\x00\x01\x02\xff\xfe;");
    let problem = read_all(garbage.as_slice(), Encoding::Utf8).unwrap_err();
    assert!(problem.reason.contains("binaires"), "{problem:?}");
    let elf = b"\x7fELF\x02\x01\x01\x00\x00\x00";
    assert!(read_all(&elf[..], Encoding::Utf8).is_err());
}

/// An endless line: 1 GiB of 'a' without a newline, never held in memory.
#[test]
fn a_one_gigabyte_line_is_refused_after_16_kib() {
    let endless = HEADER.as_bytes().chain(io::repeat(b'a').take(1 << 30));
    let problem = read_all(endless, Encoding::Utf8).unwrap_err();
    assert!(problem.reason.contains("16384 octets"), "{problem:?}");
    assert_eq!(problem.line, 2);
}

#[test]
fn text_in_another_encoding_than_declared_is_reported() {
    let latin1 = format!(
        "{HEADER}C1;MME;Lef\u{e8}vre;;Marie;2004-04-12;Lyon;;BACG;10;2022;Série S;B;2022-07-05\n"
    );
    let bytes: Vec<u8> = latin1
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    let problems: Vec<_> = read_all(bytes.as_slice(), Encoding::Utf8)
        .unwrap()
        .into_iter()
        .flat_map(|l| l.err().unwrap())
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.column.as_deref() == Some("nom_naissance") && p.reason.contains("UTF-8"))
    );
    // declared as Windows-1252, the same bytes read correctly
    let records = read_all(bytes.as_slice(), Encoding::Windows1252).unwrap();
    assert_eq!(
        records[0]
            .as_ref()
            .unwrap()
            .holder
            .identity
            .birth_name
            .as_str(),
        "Lefèvre"
    );
}

#[test]
fn manifests_report_every_problem() {
    let dir = temp_dir("manifest");
    let path = dir.join("m.toml");
    std::fs::write(
        &path,
        "format = \"sand-batch/9\"\nexam_office = \"Z Z\"\nacademie = \"99\"\ndiploma_kind = \"BAC\"\nsession = 1990\n\
         source_system = \"EXCEL\"\nexported_at = \"hier\"\nresults_final = true\nrecord_count = 1\n\
         data_file = \"../../etc/passwd\"\ndata_sha256 = \"abc\"\nencoding = \"EBCDIC\"\n",
    )
    .unwrap();
    let error = read_manifest(&path).unwrap_err();
    assert_eq!(error.problems.len(), 10, "{error}");
    assert!(error.to_string().contains("data_file « ../../etc/passwd »"));
    // reports speak French throughout
    assert!(
        error
            .to_string()
            .contains("session 1990 : antérieure à 2009, non couverte par le service"),
        "{error}"
    );
    assert!(!error.to_string().contains("not held"), "{error}");

    std::fs::write(&path, "format = \"sand-batch/1\"\nunknown_key = 1\n").unwrap();
    let error = read_manifest(&path).unwrap_err();
    assert!(error.problems[0].contains("TOML"), "{error}");

    std::fs::write(&path, "this is not toml at all [[[").unwrap();
    assert!(read_manifest(&path).is_err());

    std::fs::write(&path, vec![b'#'; 70 * 1024]).unwrap();
    assert!(read_manifest(&path).unwrap_err().problems[0].contains("au plus"));

    // the data file is a plain name beside the manifest: no directory of any shape
    let example = std::fs::read_to_string(example_dir().join("lyon-bacg-2022.toml")).unwrap();
    for data_file in [
        "sub/dir/file.csv",
        "sub\\\\file.csv",
        "./file.csv",
        "/etc/passwd",
        "..",
        "",
    ] {
        let text = example
            .lines()
            .map(|line| {
                if line.starts_with("data_file") {
                    format!("data_file = \"{data_file}\"")
                } else {
                    line.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&path, text).unwrap();
        let error = read_manifest(&path).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("un nom de fichier du même dossier"),
            "{data_file}: {error}"
        );
    }

    assert!(
        read_manifest(&dir.join("absent.toml"))
            .unwrap_err()
            .problems[0]
            .contains("illisible")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn synthetic_batches_are_deterministic_valid_and_varied() {
    let a = temp_dir("synthetic-a");
    let b = temp_dir("synthetic-b");
    let options = GenerateOptions {
        records: 3_000,
        seed: 42,
        single_batch: false,
        batch_size: None,
    };
    let manifests = generate(&a, &options).unwrap();
    generate(&b, &options).unwrap();
    assert_eq!(manifests.len(), 12);

    let mut total = 0;
    let mut academies = std::collections::HashSet::new();
    let mut homonyms = 0;
    let mut usage_names = 0;
    let mut reformed_bac = 0;
    for path in &manifests {
        let twin = b.join(path.file_name().unwrap());
        assert_eq!(
            std::fs::read(path).unwrap(),
            std::fs::read(&twin).unwrap(),
            "same seed, same files"
        );
        let manifest = read_manifest(path).unwrap();
        assert_eq!(
            fingerprint_file(&manifest.data_path).unwrap().0,
            manifest.data_sha256
        );
        academies.insert(manifest.scope.academie);
        let lines = read_all(
            std::fs::File::open(&manifest.data_path).unwrap(),
            manifest.encoding,
        )
        .unwrap();
        let mut checker = BatchChecker::new(manifest.header(), datetime!(2026-11-24 0:00 UTC));
        let mut seen = std::collections::HashSet::new();
        for line in lines {
            let record = line.unwrap_or_else(|p| panic!("{}: {p:?}", path.display()));
            assert!(
                checker.check(&record),
                "{}: line {}",
                path.display(),
                record.line
            );
            if !seen.insert(record.holder.identity.key()) {
                homonyms += 1;
            }
            usage_names += usize::from(record.holder.usage_name.is_some());
            // the baccalauréat général has had spécialités, not series, since 2021
            if record.scope.kind == sand_domain::diploma::DiplomaKind::BacGeneral {
                let speciality = record
                    .award
                    .speciality
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let series = speciality.starts_with("Série");
                if record.scope.session.year() >= 2021 {
                    assert!(!series, "{}: {speciality}", record.scope);
                    reformed_bac += 1;
                } else {
                    assert!(series, "{}: {speciality}", record.scope);
                }
            }
            total += 1;
        }
        checker.finish().unwrap();
    }
    assert_eq!(total, 3_000);
    assert!(academies.len() >= 11, "{}", academies.len());
    assert!(homonyms > 0, "a few homonyms");
    assert!(usage_names > 0, "some married usage names");
    assert!(
        reformed_bac > 0,
        "some baccalauréats généraux of 2021 or later"
    );

    let other = temp_dir("synthetic-c");
    generate(
        &other,
        &GenerateOptions {
            records: 3_000,
            seed: 43,
            single_batch: false,
            batch_size: None,
        },
    )
    .unwrap();
    let first = manifests[1].file_name().unwrap();
    assert_ne!(
        std::fs::read(a.join(first)).unwrap(),
        std::fs::read(other.join(first)).unwrap()
    );
    for dir in [a, b, other] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_national_data_set_is_planned_over_every_scope_with_realistic_batch_sizes() {
    use sand_import::synthetic::{PlanError, all_scopes, plan};
    let scopes = all_scopes();
    // 36 académies × 7 kinds × 17 sessions, Caen and Rouen folded into Normandie from
    // 2020 (and Normandie absent before): 35 × 7 × 11 + 34 × 7 × 6
    assert_eq!(scopes.len(), 4_123);
    // once stuck in an endless loop above ≈1 M records: now planned at once
    for records in [1_000_000, 3_000_000, 23_000_000] {
        let options = GenerateOptions {
            records,
            seed: 3,
            single_batch: false,
            batch_size: None,
        };
        let batches = plan(&options).unwrap();
        assert_eq!(batches.len().min(4_123), batches.len());
        assert_eq!(
            batches.iter().map(|(_, n)| n).sum::<u64>(),
            records,
            "{records}"
        );
        let distinct: std::collections::HashSet<_> = batches.iter().map(|(s, _)| *s).collect();
        assert_eq!(distinct.len(), batches.len(), "one batch per scope");
        assert_eq!(plan(&options).unwrap(), batches, "deterministic");
    }
    // at national scale, a scope's batch ranges from hundreds to tens of thousands
    let national = plan(&GenerateOptions {
        records: 23_000_000,
        seed: 3,
        single_batch: false,
        batch_size: None,
    })
    .unwrap();
    assert_eq!(national.len(), 4_123);
    let smallest = national.iter().map(|(_, n)| *n).min().unwrap();
    let largest = national.iter().map(|(_, n)| *n).max().unwrap();
    assert!((100..2_000).contains(&smallest), "{smallest}");
    assert!((10_000..100_000).contains(&largest), "{largest}");
    // a fixed size, for the many-small-batches benchmark: exact, the rest in the last
    let fixed = plan(&GenerateOptions {
        records: 1_000_000,
        seed: 3,
        single_batch: false,
        batch_size: Some(250),
    })
    .unwrap();
    assert_eq!(fixed.len(), 4_000);
    assert!(fixed.iter().all(|(_, n)| *n == 250));
    let rest = plan(&GenerateOptions {
        records: 1_001,
        seed: 3,
        single_batch: false,
        batch_size: Some(250),
    })
    .unwrap();
    assert_eq!(
        rest.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        [250, 250, 250, 250, 1]
    );
    // more batches than scopes: a clear refusal, not a hang
    let too_many = GenerateOptions {
        records: 5_000_000,
        seed: 3,
        single_batch: false,
        batch_size: Some(250),
    };
    assert_eq!(
        plan(&too_many),
        Err(PlanError::TooManyBatches {
            batches: 20_000,
            size: 250,
            scopes: 4_123
        })
    );
    let dir = temp_dir("synthetic-too-many");
    let refused = generate(&dir, &too_many).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
    assert!(refused.to_string().contains("augmentez --batch-size"));
    assert!(
        std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_none()),
        "nothing written"
    );
    let _ = std::fs::remove_dir_all(dir);
    assert_eq!(
        plan(&GenerateOptions {
            records: 10,
            seed: 3,
            single_batch: false,
            batch_size: Some(0),
        }),
        Err(PlanError::EmptyBatches)
    );
}

#[test]
fn a_large_data_set_covers_every_academie_kind_and_session() {
    let dir = temp_dir("synthetic-coverage");
    let manifests = generate(
        &dir,
        &GenerateOptions {
            records: 20_000,
            seed: 7,
            single_batch: false,
            batch_size: None,
        },
    )
    .unwrap();
    let scopes: Vec<_> = manifests
        .iter()
        .map(|p| read_manifest(p).unwrap().scope)
        .collect();
    let academies: std::collections::HashSet<_> = scopes.iter().map(|s| s.academie).collect();
    let kinds: std::collections::HashSet<_> = scopes.iter().map(|s| s.kind).collect();
    let sessions: std::collections::HashSet<_> = scopes.iter().map(|s| s.session.year()).collect();
    // Caen and Rouen only before 2020, Normandie only since: 35 of the 36 may appear here
    assert!(academies.len() >= 34, "{}", academies.len());
    assert_eq!(kinds.len(), 7);
    assert_eq!(sessions.len(), 17);
    std::fs::remove_dir_all(dir).unwrap();
}
