//! `sand import` as an operator runs it, on SQLite and on PostgreSQL.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

use crate::{postgres_database, sand, stdout, temp_sqlite_url};

/// A database for one test: (URL, cleanup directory for SQLite).
fn database(backend: &str) -> (String, Option<PathBuf>) {
    match backend {
        "sqlite" => {
            let (dir, url) = temp_sqlite_url();
            (url, Some(dir))
        }
        _ => {
            let (url, _) = postgres_database();
            let out = sand(&[
                "migrate",
                "--database-url",
                &url,
                "--web-role",
                &role("web"),
                "--importer-role",
                &role("imp"),
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            (url, None)
        }
    }
}

fn role(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

fn count(url: &str, sql: &str) -> i64 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let db = Database::connect(url).await.unwrap();
        let backend = db.get_database_backend();
        let row = db
            .query_one_raw(Statement::from_string(backend, sql.to_owned()))
            .await
            .unwrap()
            .unwrap();
        let n = row.try_get_by_index::<i64>(0).unwrap();
        db.close().await.unwrap();
        n
    })
}

fn records(url: &str) -> i64 {
    count(
        url,
        "SELECT COUNT(*) FROM diploma_record WHERE withdrawn_at IS NULL",
    )
}

fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sand-cli-import-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/batch")
}

/// Copies the example batch into `dir` with its CSV transformed and the manifest's
/// count, checksum and completeness updated to match.
fn variant(
    dir: &Path,
    transform: impl Fn(&str) -> String,
    results_final: bool,
    exported_at: &str,
) -> PathBuf {
    let csv = transform(&std::fs::read_to_string(example().join("lyon-bacg-2022.csv")).unwrap());
    let data = dir.join("lyon-bacg-2022.csv");
    std::fs::write(&data, &csv).unwrap();
    let (sha, _) = sand_import::fingerprint_file(&data).unwrap();
    let lines = csv.lines().count() - 1;
    let manifest = std::fs::read_to_string(example().join("lyon-bacg-2022.toml"))
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("data_sha256") {
                format!("data_sha256 = \"{}\"", sha.to_hex())
            } else if l.starts_with("record_count") {
                format!("record_count = {lines}")
            } else if l.starts_with("results_final") {
                format!("results_final = {results_final}")
            } else if l.starts_with("exported_at") {
                format!("exported_at = \"{exported_at}\"")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.join("lyon-bacg-2022.toml");
    std::fs::write(&path, manifest).unwrap();
    path
}

/// Sets `key = value` lines of a manifest (the value as written in TOML).
fn edit_manifest(path: &Path, edits: &[(&str, &str)]) {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text
        .lines()
        .map(|line| {
            let key = line.split('=').next().unwrap_or_default().trim();
            match edits.iter().find(|(k, _)| *k == key) {
                Some((k, v)) => format!("{k} = {v}"),
                None => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(path, text).unwrap();
}

/// Imports unsigned batches (the signature rules have their own tests, `signed`).
fn import(url: &str, paths: &[&Path]) -> std::process::Output {
    let mut args = vec![
        "import".to_owned(),
        "--quiet".to_owned(),
        "--allow-unsigned".to_owned(),
        "--database-url".to_owned(),
        url.to_owned(),
    ];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sand(&args)
}

fn lifecycle(backend: &str) {
    let (url, cleanup) = database(backend);
    let example_manifest = example().join("lyon-bacg-2022.toml");

    // the documented example imports
    let out = import(&url, &[&example_manifest]);
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("3 ajouté(s)"), "{}", stdout(&out));
    assert_eq!(records(&url), 3);

    // the same batch again changes nothing
    let out = import(&url, &[&example_manifest]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("inchangé (lot déjà importé à l'identique)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(records(&url), 3);

    // a corrected batch: line 2's mention changes, line 3 disappears
    let dir = work_dir("corrected");
    let corrected = variant(
        &dir,
        |csv| {
            csv.lines()
                .filter(|l| !l.starts_with("10BACG0000002"))
                .map(|l| {
                    if l.starts_with("10BACG0000001") {
                        l.replace(";TB;", ";B;")
                    } else {
                        l.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        },
        true,
        "2022-07-25T08:00:00Z",
    );
    let out = import(&url, &[&corrected]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("0 ajouté(s), 1 remplacé(s), 1 inchangé(s), 1 retiré(s)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(records(&url), 2);

    // an older export is refused and changes nothing
    let out = import(&url, &[&example_manifest]);
    assert_eq!(out.status.code(), Some(65), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("exporté plus tard"),
        "{}",
        stdout(&out)
    );
    assert_eq!(records(&url), 2);

    std::fs::remove_dir_all(dir).unwrap();
    if let Some(dir) = cleanup {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

fn publication(backend: &str) {
    let (url, cleanup) = database(backend);
    let dir = work_dir("publication");
    let pending = variant(&dir, str::to_owned, false, "2022-07-20T08:00:00Z");
    let out = import(&url, &[&pending]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("non publié (résultats non définitifs)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        count(&url, "SELECT COUNT(*) FROM import_batch WHERE complete"),
        0
    );

    let final_results = variant(&dir, str::to_owned, true, "2022-07-20T08:00:00Z");
    let out = import(&url, &[&final_results]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("désormais publié"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        count(&url, "SELECT COUNT(*) FROM import_batch WHERE complete"),
        1
    );
    std::fs::remove_dir_all(dir).unwrap();
    if let Some(dir) = cleanup {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

fn hostile(backend: &str) {
    let (url, cleanup) = database(backend);
    let dir = work_dir("hostile");

    // bad cells everywhere: every problem listed, nothing written
    let bad = variant(
        &dir,
        |csv| {
            csv.replace("Lefèvre", "Lef3vre")
                .replace(";TB;", ";EXCELLENT;")
                .replace("Dakar (Sénégal)", "=HYPERLINK(\"http://x\")")
                + "10BACG0000009;MME;Durand;;Camille;2004-04-12;Lyon;;BACG;10;2022;Série S;B;2022-07-05\n"
                + "10BACG0000009;M;Petit;;Hugo;2004-01-01;Lyon;;BACG;10;2022;Série S;B;2022-07-05\n"
        },
        true,
        "2022-07-20T08:00:00Z",
    );
    let out = import(&url, &[&bad]);
    assert_eq!(out.status.code(), Some(65), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("REFUSÉ, rien n'a été écrit"), "{text}");
    assert!(text.contains("ligne 2, colonne mention"), "{text}");
    assert!(
        text.contains("ligne 3, colonne lieu_naissance : cellule commençant par « = »"),
        "{text}"
    );
    assert!(text.contains("ligne 4, colonne nom_naissance"), "{text}");
    assert!(
        text.contains("ligne 6 : numéro de candidat 10BACG0000009 déjà présent ligne 5"),
        "{text}"
    );
    assert_eq!(count(&url, "SELECT COUNT(*) FROM diploma_record"), 0);
    assert_eq!(count(&url, "SELECT COUNT(*) FROM import_batch"), 0);

    // a data file that does not match its manifest's checksum
    let tampered = variant(&dir, str::to_owned, true, "2022-07-20T08:00:00Z");
    std::fs::write(dir.join("lyon-bacg-2022.csv"), "numero_candidat\n").unwrap();
    let out = import(&url, &[&tampered]);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stdout(&out).contains("empreinte SHA-256"),
        "{}",
        stdout(&out)
    );

    // binary garbage as data, with a matching checksum
    let garbage = variant(
        &dir,
        |_| "\u{7f}ELF\u{0}\u{1}\u{2}".to_owned(),
        true,
        "2022-07-20T08:00:00Z",
    );
    let out = import(&url, &[&garbage]);
    assert_eq!(out.status.code(), Some(65));
    assert!(stdout(&out).contains("binaires"), "{}", stdout(&out));

    // a manifest that is not one
    let junk = dir.join("junk.toml");
    std::fs::write(&junk, "<html>not a manifest</html>").unwrap();
    let out = import(&url, &[&junk]);
    assert_eq!(out.status.code(), Some(65));
    assert!(stdout(&out).contains("syntaxe TOML"), "{}", stdout(&out));

    // a file that does not exist
    let out = import(&url, &[&dir.join("absent.toml")]);
    assert_eq!(out.status.code(), Some(66));

    assert_eq!(count(&url, "SELECT COUNT(*) FROM diploma_record"), 0);
    std::fs::remove_dir_all(dir).unwrap();
    if let Some(dir) = cleanup {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// Every rule of the domain's import, through the command and a real database: each
/// refusal exits 65, says why in French, and changes nothing.
fn rules(backend: &str) {
    let (url, cleanup) = database(backend);
    let dir = work_dir("rules");
    let exported = "2022-07-20T08:00:00Z";
    let refused = |manifest: &Path, expected: &str| {
        let out = import(&url, &[manifest]);
        assert_eq!(out.status.code(), Some(65), "{expected}: {}", stdout(&out));
        assert!(
            stdout(&out).contains(expected),
            "{expected}: {}",
            stdout(&out)
        );
    };

    // the batch on its own
    let manifest = variant(&dir, str::to_owned, true, exported);
    edit_manifest(&manifest, &[("record_count", "4")]);
    refused(
        &manifest,
        "le manifeste annonce 4 enregistrements, le fichier en contient 3",
    );
    edit_manifest(&manifest, &[("record_count", "2000001")]);
    refused(&manifest, "un lot contient au plus 2000000 enregistrements");
    let header_only = |csv: &str| csv.lines().next().unwrap().to_owned() + "\n";
    let manifest = variant(&dir, header_only, true, exported);
    refused(&manifest, "le lot ne contient aucun enregistrement");
    let manifest = variant(&dir, str::to_owned, true, "2099-07-20T08:00:00Z");
    refused(&manifest, "date d'export dans le futur");
    let manifest = variant(
        &dir,
        |csv| csv.replacen(";BACG;10;2022;", ";BACG;10;2021;", 1),
        true,
        exported,
    );
    refused(&manifest, "ligne 2 : enregistrement hors du lot");
    let manifest = variant(
        &dir,
        |csv| csv.replacen(";TB;2022-07-05", ";TB;2020-07-05", 1),
        true,
        exported,
    );
    refused(
        &manifest,
        "ligne 2 : délibération du 2020-07-05 hors de la session 2022",
    );
    let manifest = variant(
        &dir,
        |csv| csv.replacen(";TB;2022-07-05", ";TB;2022-07-21", 1),
        true,
        exported,
    );
    refused(
        &manifest,
        "ligne 2 : délibération du 2022-07-21 postérieure à l'export",
    );
    let manifest = variant(&dir, str::to_owned, true, exported);
    edit_manifest(&manifest, &[("issuer", "\"SIEC\"")]);
    refused(
        &manifest,
        "l'émetteur « SIEC » (Service interacadémique des examens et concours (SIEC), la Maison des examens d'Arcueil) n'exporte pas les diplômes de l'académie de Lyon",
    );
    assert_eq!(count(&url, "SELECT COUNT(*) FROM diploma_record"), 0);
    assert_eq!(count(&url, "SELECT COUNT(*) FROM import_batch"), 0);

    // the batch against the stored one: a published batch is never unpublished
    let manifest = variant(&dir, str::to_owned, true, exported);
    assert!(import(&url, &[&manifest]).status.success());
    let corrected = |csv: &str| csv.replacen(";TB;", ";B;", 1);
    let manifest = variant(&dir, corrected, false, "2022-07-25T08:00:00Z");
    refused(
        &manifest,
        "un lot publié ne peut pas être remplacé par un lot dont les résultats ne sont pas définitifs",
    );

    // a scope belongs to the office that exported it first: Paris's own exam office,
    // then the SIEC (which may export Paris batches) is refused
    let to_paris = |csv: &str| csv.replace(";BACG;10;2022;", ";BACG;01;2022;");
    let manifest = variant(&dir, to_paris, true, exported);
    edit_manifest(&manifest, &[("academie", "\"01\""), ("issuer", "\"01\"")]);
    let out = import(&url, &[&manifest]);
    assert!(out.status.success(), "{}", stdout(&out));
    let manifest = variant(&dir, to_paris, true, "2022-07-25T08:00:00Z");
    edit_manifest(&manifest, &[("academie", "\"01\""), ("issuer", "\"SIEC\"")]);
    refused(
        &manifest,
        "ce lot est détenu par un autre service des examens",
    );

    assert_eq!(records(&url), 6);
    assert_eq!(
        count(&url, "SELECT COUNT(*) FROM import_batch WHERE complete"),
        2
    );
    std::fs::remove_dir_all(dir).unwrap();
    if let Some(dir) = cleanup {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// Writes a 20 000-record single batch of `seed` into a new directory; returns its manifest.
fn single_batch(seed: u64) -> (PathBuf, PathBuf) {
    let dir = work_dir("kill");
    let out = sand(&[
        "demo",
        "generate",
        "--records",
        "20000",
        "--single-batch",
        "--seed",
        &seed.to_string(),
        "--out",
        &dir.display().to_string(),
    ]);
    assert!(out.status.success());
    let manifest = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "toml"))
        .unwrap();
    (dir, manifest)
}

/// The `data_sha256` of a manifest.
fn fingerprint(manifest: &Path) -> String {
    let text = std::fs::read_to_string(manifest).unwrap();
    let line = text.lines().find(|l| l.starts_with("data_sha256")).unwrap();
    line.split('"').nth(1).unwrap().to_owned()
}

/// Starts `sand import` (with `extra` options) of `manifest`, and kills it with SIGKILL
/// (no cleanup of any kind) once it has written 5 chunks of 1 000 records.
fn kill_at_pause(url: &str, manifest: &Path, extra: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sand"))
        .args([
            "import",
            "--quiet",
            "--allow-unsigned",
            "--chunk-size",
            "1000",
        ])
        .args(extra)
        .args(["--database-url", url])
        .arg(manifest)
        .env("SAND_FAULT_PAUSE_AFTER_CHUNKS", "5")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut paused = false;
    for line in BufReader::new(stderr).lines() {
        if line.unwrap().contains("pause après 5 tranche(s)") {
            paused = true;
            break;
        }
    }
    assert!(paused, "the import never reached the pause");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Kills `sand import` with SIGKILL while its batch is half written, then checks that
/// nothing of it is in the database and that the same import then succeeds. With
/// `replacing`, the killed batch corrects a stored one (the staging and merge path),
/// which must come out untouched.
fn killed_mid_way(backend: &str, replacing: bool) {
    let (url, cleanup) = database(backend);
    let stored = replacing.then(|| {
        let (dir, manifest) = single_batch(6);
        let out = import(&url, &[&manifest]);
        assert!(out.status.success(), "{}", stdout(&out));
        (dir, fingerprint(&manifest))
    });
    let (dir, manifest) = single_batch(5);
    kill_at_pause(&url, &manifest, &[]);

    match &stored {
        None => {
            assert_eq!(
                count(&url, "SELECT COUNT(*) FROM diploma_record"),
                0,
                "a killed import left records"
            );
            assert_eq!(
                count(&url, "SELECT COUNT(*) FROM import_batch"),
                0,
                "a killed import left a batch"
            );
        }
        Some((_, old)) => {
            assert_eq!(records(&url), 20_000, "a killed import changed records");
            assert_eq!(
                count(
                    &url,
                    &format!("SELECT COUNT(*) FROM import_batch WHERE fingerprint = '{old}'")
                ),
                1,
                "a killed import changed the stored batch"
            );
            assert_eq!(count(&url, "SELECT COUNT(*) FROM diploma_record"), 20_000);
        }
    }

    let out = import(&url, &[&manifest]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if stored.is_none() {
        assert!(stdout(&out).contains("20000 ajouté(s)"), "{}", stdout(&out));
    } else {
        assert!(stdout(&out).contains("importé :"), "{}", stdout(&out));
    }
    assert_eq!(records(&url), 20_000);
    assert_eq!(
        count(
            &url,
            &format!(
                "SELECT COUNT(*) FROM import_batch WHERE fingerprint = '{}'",
                fingerprint(&manifest)
            )
        ),
        1
    );
    std::fs::remove_dir_all(dir).unwrap();
    if let Some((dir, _)) = stored {
        std::fs::remove_dir_all(dir).unwrap();
    }
    if let Some(dir) = cleanup {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn sqlite_import_lifecycle() {
    lifecycle("sqlite");
}

#[test]
fn postgres_import_lifecycle() {
    lifecycle("postgres");
}

#[test]
fn sqlite_publication_rule() {
    publication("sqlite");
}

#[test]
fn postgres_publication_rule() {
    publication("postgres");
}

#[test]
fn sqlite_import_rules_refuse_and_change_nothing() {
    rules("sqlite");
}

#[test]
fn postgres_import_rules_refuse_and_change_nothing() {
    rules("postgres");
}

#[test]
fn sqlite_hostile_batches_change_nothing() {
    hostile("sqlite");
}

#[test]
fn postgres_hostile_batches_change_nothing() {
    hostile("postgres");
}

#[test]
fn sqlite_import_killed_mid_way_leaves_no_trace() {
    killed_mid_way("sqlite", false);
}

#[test]
fn postgres_import_killed_mid_way_leaves_no_trace() {
    killed_mid_way("postgres", false);
}

#[test]
fn sqlite_correction_killed_mid_way_leaves_the_stored_batch() {
    killed_mid_way("sqlite", true);
}

#[test]
fn postgres_correction_killed_mid_way_leaves_the_stored_batch() {
    killed_mid_way("postgres", true);
}

/// Whose login [`migrated_with_login`] makes.
enum Login {
    Web,
    Importer,
}

/// A migrated PostgreSQL database with its own roles, and a login user in the web or the
/// importer role: (the owner's URL, the login's URL).
fn migrated_with_login(which: Login) -> (String, String) {
    let (url, _) = postgres_database();
    let (web, imp) = (role("web"), role("imp"));
    let out = sand(&[
        "migrate",
        "--database-url",
        &url,
        "--web-role",
        &web,
        "--importer-role",
        &imp,
    ]);
    assert!(out.status.success());
    let group = match which {
        Login::Web => web,
        Login::Importer => imp,
    };
    let login = format!("{group}_login");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let db = Database::connect(&url).await.unwrap();
        db.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("CREATE ROLE {login} LOGIN IN ROLE {group}"),
        ))
        .await
        .unwrap();
        db.close().await.unwrap();
    });
    let (scheme, rest) = url.split_once("://").unwrap();
    let (_, host) = rest.split_once('@').unwrap();
    let login_url = format!("{scheme}://{login}@{host}");
    (url, login_url)
}

#[test]
fn the_web_role_cannot_import() {
    let (_, web_url) = migrated_with_login(Login::Web);
    let out = import(&web_url, &[&example().join("lyon-bacg-2022.toml")]);
    assert_eq!(
        out.status.code(),
        Some(77),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("rôle importateur"));
}

// ---------------------------------------------------------------------------------------
// Signed batches (sand-batch/2)
// ---------------------------------------------------------------------------------------

/// A new batch key of an exam office (`sand batch keygen`): (secret, public) files.
fn batch_key(dir: &Path) -> (PathBuf, PathBuf) {
    let keys = dir.join(format!("keys-{}", uuid::Uuid::new_v4().simple()));
    let out = sand(&["batch", "keygen", "--out", &keys.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let find = |prefix: &str| {
        std::fs::read_dir(&keys)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .unwrap()
    };
    (find("batch-key-"), find("batch-public-key-"))
}

fn key_id(public: &Path) -> String {
    let name = public.file_stem().unwrap().to_string_lossy().into_owned();
    name.trim_start_matches("batch-public-key-").to_owned()
}

fn add_key(url: &str, issuer: &str, public: &Path) -> std::process::Output {
    sand(&[
        "issuers",
        "add-key",
        "--issuer",
        issuer,
        "--public-key",
        &public.display().to_string(),
        "--database-url",
        url,
    ])
}

fn sign(secret: &Path, manifest: &Path) {
    let out = sand(&[
        "batch",
        "sign",
        "--key",
        &secret.display().to_string(),
        &manifest.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Imports with signatures required (PostgreSQL's default, said explicitly for SQLite).
fn strict_import(url: &str, manifest: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "import",
        "--quiet",
        "--require-signatures",
        "--database-url",
        url,
    ];
    args.extend_from_slice(extra);
    let manifest = manifest.display().to_string();
    args.push(&manifest);
    sand(&args)
}

fn refused_with(out: &std::process::Output, message: &str) {
    assert_eq!(out.status.code(), Some(65), "{}", stdout(out));
    assert!(stdout(out).contains(message), "{message}: {}", stdout(out));
}

/// A signed v2 batch imports, and its key and signature are kept with it; every way a
/// batch can fail to prove its sender is refused and changes nothing; a v1 manifest
/// imports only where the operator accepts the old format.
fn signed(backend: &str) {
    let (url, cleanup) = database(backend);
    let dir = work_dir("signed");
    let (secret, public) = batch_key(&dir);
    let id = key_id(&public);
    let out = add_key(&url, "10", &public);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains(&format!("Clé {id} enregistrée pour « 10 »")));
    assert!(stdout(&add_key(&url, "10", &public)).contains("déjà enregistrée"));
    refused_with_code(
        &add_key(&url, "24", &public),
        "déjà enregistrée pour l'émetteur « 10 »",
    );

    // unsigned: refused in strict mode (PostgreSQL's default: no switch given)
    let manifest = variant(&dir, str::to_owned, true, "2022-07-20T08:00:00Z");
    if backend == "postgres" {
        let default = sand(&[
            "import",
            "--quiet",
            "--database-url",
            &url,
            &manifest.display().to_string(),
        ]);
        refused_with(&default, "lot non signé");
    }
    refused_with(&strict_import(&url, &manifest, &[]), "lot non signé");
    assert_eq!(records(&url), 0);

    // signed by a key nobody registered
    let (stranger, _) = batch_key(&dir);
    sign(&stranger, &manifest);
    refused_with(
        &strict_import(&url, &manifest, &[]),
        "qu'aucun émetteur n'a enregistrée",
    );

    // the issuer's key, for another issuer's batch: Créteil's key on a Lyon batch
    let (creteil_secret, creteil_public) = batch_key(&dir);
    assert!(add_key(&url, "24", &creteil_public).status.success());
    sign(&creteil_secret, &manifest);
    refused_with(
        &strict_import(&url, &manifest, &[]),
        "est celle de l'émetteur « 24 »",
    );

    // an issuer exporting outside its scope: Créteil signing a Lyon batch as itself
    edit_manifest(&manifest, &[("issuer", "\"24\"")]);
    sign(&creteil_secret, &manifest);
    refused_with(
        &strict_import(&url, &manifest, &[]),
        "n'exporte pas les diplômes de l'académie de Lyon",
    );
    edit_manifest(&manifest, &[("issuer", "\"10\"")]);

    // the manifest changed after its signature
    sign(&secret, &manifest);
    edit_manifest(&manifest, &[("results_final", "false")]);
    refused_with(&strict_import(&url, &manifest, &[]), "signature invalide");
    edit_manifest(&manifest, &[("results_final", "true")]);

    // the data changed after the signature (the manifest's SHA-256 no longer matches)
    sign(&secret, &manifest);
    let data = dir.join("lyon-bacg-2022.csv");
    let original = std::fs::read_to_string(&data).unwrap();
    std::fs::write(&data, original.replace("Durand", "Durant")).unwrap();
    refused_with(&strict_import(&url, &manifest, &[]), "empreinte SHA-256");
    std::fs::write(&data, &original).unwrap();

    // a malformed signature file
    let sig = dir.join("lyon-bacg-2022.toml.sig");
    std::fs::write(
        &sig,
        "format = \"sand-batch-signature/1\"\nkey_id = \"zz\"\nsignature = \"00\"\n",
    )
    .unwrap();
    refused_with(
        &strict_import(&url, &manifest, &[]),
        "key_id : 16 chiffres hexadécimaux attendus",
    );
    assert_eq!(records(&url), 0, "no refusal wrote anything");
    assert_eq!(count(&url, "SELECT COUNT(*) FROM import_batch"), 0);

    // signed by Lyon's registered key: imported, the key and signature kept
    sign(&secret, &manifest);
    let out = strict_import(&url, &manifest, &[]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(records(&url), 3);
    assert_eq!(
        count(
            &url,
            &format!(
                "SELECT COUNT(*) FROM import_batch WHERE signature_key_id = '{id}' AND length(signature) = 128"
            )
        ),
        1
    );

    // a revoked key signs nothing from then on
    let revoke = sand(&["issuers", "revoke-key", &id, "--database-url", &url]);
    assert!(
        revoke.status.success(),
        "{}",
        String::from_utf8_lossy(&revoke.stderr)
    );
    let keys = sand(&["issuers", "keys", "--database-url", &url]);
    let line = stdout(&keys)
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap()
        .to_owned();
    assert!(
        line.split('\t').nth(3).is_some_and(|r| !r.is_empty()),
        "{line}"
    );
    let newer = variant(
        &dir,
        |csv| csv.replace("Durand", "Durant"),
        true,
        "2022-07-21T08:00:00Z",
    );
    sign(&secret, &newer);
    refused_with(&strict_import(&url, &newer, &[]), "a été révoquée le");
    assert_eq!(
        count(
            &url,
            "SELECT COUNT(*) FROM diploma_record WHERE birth_name = 'Durant'"
        ),
        0
    );

    // sand-batch/1: refused unless the operator accepts it, then imported unsigned as its
    // exam office, even where signatures are required
    let v1 = variant(
        &dir,
        |csv| csv.replace("Durand", "Durant"),
        true,
        "2022-07-22T08:00:00Z",
    );
    std::fs::remove_file(&sig).unwrap();
    let text = std::fs::read_to_string(&v1)
        .unwrap()
        .replace("format = \"sand-batch/2\"", "format = \"sand-batch/1\"")
        .replace("issuer = ", "exam_office = ");
    std::fs::write(&v1, text).unwrap();
    refused_with(
        &strict_import(&url, &v1, &[]),
        "format « sand-batch/1 » refusé",
    );
    let out = strict_import(&url, &v1, &["--accept-v1"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(
        count(
            &url,
            "SELECT COUNT(*) FROM diploma_record WHERE birth_name = 'Durant' AND withdrawn_at IS NULL"
        ),
        1
    );
    assert_eq!(
        count(
            &url,
            "SELECT COUNT(*) FROM import_batch WHERE signature_key_id IS NULL AND exam_office = '10'"
        ),
        1
    );
    // and its records attach as any other
    attaches(&url, "Durant", &["Camille", "Marie"], "2004-04-12");
    std::fs::remove_dir_all(dir).unwrap();
    if let Some(dir) = cleanup {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// A new profile with this identity attaches Lyon's 2022 baccalauréat général, through
/// the domain's use case on the real store.
fn attaches(url: &str, birth_name: &str, first_names: &[&str], birth_date: &str) {
    use std::sync::Arc;

    use sand_domain::academie::Academie;
    use sand_domain::credentials::{Email, PasswordHash};
    use sand_domain::diploma::{DiplomaKind, DiplomaScope, Session};
    use sand_domain::link::attach::{AttachDiploma, AttachDiplomaRequest, AttachOutcome};
    use sand_domain::ports::ProfileRepository;
    use sand_domain::profile::{NewCredentials, NewProfile};
    use sand_persistence::{KeyProtector, Store, StoreSettings};

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::connect(
            &StoreSettings::new(url),
            KeyProtector::from_secret(&[7; 32]).unwrap(),
        )
        .await
        .unwrap();
        let profile = store
            .profiles()
            .create(NewProfile {
                identity: sand_testkit::fixtures::identity(birth_name, first_names, birth_date),
                email: Email::parse("titulaire@exemple.fr").unwrap(),
                email_verified: true,
                credentials: NewCredentials::Password(PasswordHash::new(
                    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                )),
                identity_certified: false,
                birth_date_presumed: false,
                created_at: time::OffsetDateTime::now_utc(),
            })
            .await
            .unwrap();
        let attach = AttachDiploma {
            catalogue: Arc::new(store.catalogue()),
            profiles: Arc::new(store.profiles()),
            records: Arc::new(store.record_reader()),
            links: Arc::new(store.links()),
            keys: Arc::new(sand_http::system::OsKeyGenerator),
            clock: Arc::new(sand_http::system::SystemClock),
        };
        let outcome = attach
            .execute(AttachDiplomaRequest {
                profile: profile.id,
                scope: DiplomaScope {
                    kind: DiplomaKind::BacGeneral,
                    session: Session::new(2022).unwrap(),
                    academie: Academie::Lyon,
                },
            })
            .await
            .unwrap();
        assert!(
            matches!(outcome, AttachOutcome::Attached { .. }),
            "{outcome:?}"
        );
    });
}

fn refused_with_code(out: &std::process::Output, message: &str) {
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(message), "{message}: {stderr}");
}

#[test]
fn sqlite_signed_batches() {
    signed("sqlite");
}

#[test]
fn postgres_signed_batches() {
    signed("postgres");
}

// ---------------------------------------------------------------------------------------
// Diploma kinds as data
// ---------------------------------------------------------------------------------------

const BP_KIND: &str = "format = \"sand-diploma-kinds/1\"\n\n[[kind]]\ncode = \"BP\"\n\
    short_name = \"Brevet professionnel\"\ntitle = \"Brevet professionnel\"\nlevel = 4\n\
    issuers = [\"rectorat\"]\nfirst_session = 2023\n";

/// A kind the operator's file adds is listed and imported without a rebuild; without
/// the file it is unknown; its issuer kinds and first session are enforced; a bad file
/// is refused with its line.
#[test]
fn an_operators_diploma_kind_imports_without_a_rebuild() {
    let (url, cleanup) = database("sqlite");
    let dir = work_dir("kinds");
    let kinds = dir.join("kinds.toml");
    std::fs::write(&kinds, BP_KIND).unwrap();
    let kinds_arg = kinds.display().to_string();

    let listed = sand(&["diploma-kinds", "--diploma-kinds-file", &kinds_arg]);
    assert!(
        stdout(&listed).contains("BP\tBrevet professionnel\t4\trectorat\t2023"),
        "{}",
        stdout(&listed)
    );
    assert!(stdout(&listed).contains("BACG\tBaccalauréat général\t4\t"));

    let manifest = variant(
        &dir,
        |csv| {
            csv.replace(";BACG;10;2022;", ";BP;10;2023;")
                .replace(";2022-07-0", ";2023-07-0")
        },
        true,
        "2023-07-20T08:00:00Z",
    );
    edit_manifest(
        &manifest,
        &[("diploma_kind", "\"BP\""), ("session", "2023")],
    );
    let unknown = import(&url, &[&manifest]);
    assert_eq!(unknown.status.code(), Some(65));
    assert!(
        stdout(&unknown).contains("diploma_kind « BP » : code inconnu"),
        "{}",
        stdout(&unknown)
    );

    // the SIEC is an exam house: the operator's BP is for rectorats only
    edit_manifest(&manifest, &[("issuer", "\"SIEC\""), ("academie", "\"01\"")]);
    let house = sand(&[
        "import",
        "--quiet",
        "--diploma-kinds-file",
        &kinds_arg,
        "--database-url",
        &url,
        &manifest.display().to_string(),
    ]);
    assert!(
        stdout(&house).contains("n'exporte pas ce type de diplôme (BP)"),
        "{}",
        stdout(&house)
    );
    edit_manifest(
        &manifest,
        &[
            ("issuer", "\"10\""),
            ("academie", "\"10\""),
            ("session", "2022"),
        ],
    );
    let early = sand(&[
        "import",
        "--quiet",
        "--diploma-kinds-file",
        &kinds_arg,
        "--database-url",
        &url,
        &manifest.display().to_string(),
    ]);
    assert!(
        stdout(&early).contains("que depuis la session 2023"),
        "{}",
        stdout(&early)
    );
    assert_eq!(records(&url), 0);

    edit_manifest(&manifest, &[("session", "2023")]);
    let out = sand(&[
        "import",
        "--quiet",
        "--diploma-kinds-file",
        &kinds_arg,
        "--database-url",
        &url,
        &manifest.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(
        count(
            &url,
            "SELECT COUNT(*) FROM diploma_record WHERE diploma_kind = 'BP'"
        ),
        3
    );

    for (content, message) in [
        (
            BP_KIND.replace("\"rectorat\"", "\"lycée\""),
            "ligne 8 : nature d'émetteur « lycée » inconnue",
        ),
        (
            BP_KIND.replace("code = \"BP\"", "code = \"BTS\""),
            "ligne 3 : le type de diplôme « BTS » existe déjà",
        ),
        (
            BP_KIND.replace("first_session = 2023", "first_session = 1990"),
            "ligne 3 : « BP » : `first_session` ne peut précéder 2009",
        ),
        (
            BP_KIND.replace("level = 4", "niveau = 4"),
            "ligne 7 : clé inconnue `niveau`",
        ),
    ] {
        std::fs::write(&kinds, &content).unwrap();
        let refused = sand(&["diploma-kinds", "--diploma-kinds-file", &kinds_arg]);
        assert_eq!(refused.status.code(), Some(78), "{content}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(message) && stderr.contains("kinds.toml"),
            "{message}: {stderr}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
    if let Some(dir) = cleanup {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// An issuer beyond the rectorats: a university the operator registers exports its own
/// kind of diploma, signed with its own key; a rectorat may not export that kind, nor the
/// university the rectorats' kinds.
fn university(backend: &str) {
    let (url, cleanup) = database(backend);
    let dir = work_dir("university");
    // the licence is a shipped kind, exported by universities only
    let issuers = dir.join("issuers.toml");
    std::fs::write(
        &issuers,
        "format = \"sand-issuers/1\"\n\n[[issuer]]\ncode = \"0691775E\"\nkind = \"enseignement-superieur\"\n\
         name = \"Université de démonstration\"\nexports = [\"10\"]\n",
    )
    .unwrap();
    let issuers = issuers.display().to_string();
    let with_registries = |extra: &[&str], manifest: &Path| {
        let manifest = manifest.display().to_string();
        let mut args = vec![
            "import",
            "--quiet",
            "--issuers-file",
            &issuers,
            "--database-url",
            &url,
        ];
        args.extend_from_slice(extra);
        args.push(&manifest);
        sand(&args)
    };
    let manifest = variant(
        &dir,
        |csv| csv.replace(";BACG;10;2022;", ";LIC;10;2022;"),
        true,
        "2022-07-20T08:00:00Z",
    );
    edit_manifest(&manifest, &[("diploma_kind", "\"LIC\"")]);
    // the rectorat does not award licences
    let out = with_registries(&["--allow-unsigned"], &manifest);
    assert!(
        stdout(&out)
            .contains("l'émetteur « 10 » (rectorat) n'exporte pas ce type de diplôme (LIC)"),
        "{}",
        stdout(&out)
    );

    // the university's key, registered, signs its batch: imported under its code
    let (secret, public) = batch_key(&dir);
    let add = sand(&[
        "issuers",
        "add-key",
        "--issuer",
        "0691775E",
        "--public-key",
        &public.display().to_string(),
        "--issuers-file",
        &issuers,
        "--database-url",
        &url,
    ]);
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    edit_manifest(&manifest, &[("issuer", "\"0691775E\"")]);
    let out = with_registries(&["--require-signatures"], &manifest);
    assert_eq!(out.status.code(), Some(65));
    sign(&secret, &manifest);
    let out = with_registries(&["--require-signatures"], &manifest);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(
        count(
            &url,
            "SELECT COUNT(*) FROM diploma_record WHERE exam_office = '0691775E' AND diploma_kind = 'LIC'"
        ),
        3
    );

    // nor does the university award baccalauréats
    let bac = variant(&dir, str::to_owned, true, "2022-07-20T08:00:00Z");
    edit_manifest(&bac, &[("issuer", "\"0691775E\"")]);
    sign(&secret, &bac);
    let out = with_registries(&[], &bac);
    assert!(
        stdout(&out).contains("(enseignement-superieur) n'exporte pas ce type de diplôme (BACG)"),
        "{}",
        stdout(&out)
    );
    std::fs::remove_dir_all(dir).unwrap();
    if let Some(dir) = cleanup {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn sqlite_a_university_exports_its_own_diplomas() {
    university("sqlite");
}

#[test]
fn postgres_a_university_exports_its_own_diplomas() {
    university("postgres");
}

/// The key and signing commands answer garbage with a clear refusal and write nothing.
#[test]
fn batch_and_key_commands_refuse_garbage() {
    let (url, cleanup) = database("sqlite");
    let dir = work_dir("garbage");
    let (secret, public) = batch_key(&dir);
    let unknown = add_key(&url, "ZZZ", &public);
    refused_with_code(&unknown, "émetteur « ZZZ » inconnu du registre");
    let not_pem = dir.join("not.pem");
    std::fs::write(
        &not_pem,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    assert!(!add_key(&url, "10", &not_pem).status.success());
    let keys = sand(&["issuers", "keys", "--database-url", &url]);
    assert_eq!(
        stdout(&keys).lines().count(),
        1,
        "nothing registered: {}",
        stdout(&keys)
    );
    let revoke = sand(&[
        "issuers",
        "revoke-key",
        "0000000000000000",
        "--database-url",
        &url,
    ]);
    refused_with_code(&revoke, "aucune clé en service");

    let junk = dir.join("junk.toml");
    std::fs::write(&junk, "\u{0}\u{1}binaire").unwrap();
    let signed = sand(&[
        "batch",
        "sign",
        "--key",
        &secret.display().to_string(),
        &junk.display().to_string(),
    ]);
    refused_with_code(&signed, "ce n'est pas un manifeste TOML en UTF-8");
    let v1 = variant(&dir, str::to_owned, true, "2022-07-20T08:00:00Z");
    let text = std::fs::read_to_string(&v1)
        .unwrap()
        .replace("sand-batch/2", "sand-batch/1");
    std::fs::write(&v1, text).unwrap();
    let signed = sand(&[
        "batch",
        "sign",
        "--key",
        &secret.display().to_string(),
        &v1.display().to_string(),
    ]);
    refused_with_code(&signed, "ne se signe pas");
    assert!(!dir.join("junk.toml.sig").exists() && !dir.join("lyon-bacg-2022.toml.sig").exists());
    std::fs::remove_dir_all(dir).unwrap();
    if let Some(dir) = cleanup {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// The initial load (`--initial-load`): indexes and foreign keys built at the end
// ---------------------------------------------------------------------------------------

/// The indexes on `diploma_record` and the constraints on it or pointing at it, with
/// whether each is valid: what an initial load must leave exactly as it found.
fn schema_facts(url: &str) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let db = Database::connect(url).await.unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid::text \
                 FROM pg_index AS i WHERE i.indrelid = 'diploma_record'::regclass \
                 UNION ALL \
                 SELECT conrelid::regclass::text || ' ' || conname || ' ' \
                        || pg_get_constraintdef(oid) || ' validated=' || convalidated::text \
                 FROM pg_constraint \
                 WHERE conrelid = 'diploma_record'::regclass \
                    OR confrelid = 'diploma_record'::regclass \
                 ORDER BY 1"
                    .to_owned(),
            ))
            .await
            .unwrap();
        db.close().await.unwrap();
        rows.iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect()
    })
}

/// Runs a statement; its error text, if any.
fn execute(url: &str, sql: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let db = Database::connect(url).await.unwrap();
        let result = db
            .execute_unprepared(sql)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        db.close().await.unwrap();
        result
    })
}

fn initial_load(url: &str, paths: &[&Path]) -> std::process::Output {
    let mut args = vec![
        "import".to_owned(),
        "--quiet".to_owned(),
        "--allow-unsigned".to_owned(),
        "--initial-load".to_owned(),
        // small pieces: a batch refused at its end has pieces staged in its savepoint
        "--chunk-size".to_owned(),
        "2".to_owned(),
        "--database-url".to_owned(),
        url.to_owned(),
    ];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sand(&args)
}

#[test]
fn postgres_initial_load_loads_every_good_batch_and_rebuilds_the_schema_as_it_was() {
    let (url, _) = database("postgres");
    let before = schema_facts(&url);
    assert!(
        before.len() >= 5,
        "expected the record table's indexes and keys: {before:?}"
    );
    let dir = work_dir("initial-load");
    let generated = dir.join("generated");
    let out = sand(&[
        "demo",
        "generate",
        "--records",
        "6000",
        "--batch-size",
        "1500",
        "--seed",
        "7",
        "--out",
        &generated.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
    // a batch refused half-way through its file, between good ones
    let broken_dir = dir.join("broken");
    std::fs::create_dir_all(&broken_dir).unwrap();
    let broken = variant(
        &broken_dir,
        |csv| {
            csv.to_owned()
                + "10BACG0000009;MME;Durand;;Camille;2004-04-12;Lyon;;BACG;10;2022;Série S;B;2022-07-05\n"
                + "10BACG0000009;M;Petit;;Hugo;2004-01-01;Lyon;;BACG;10;2022;Série S;B;2022-07-05\n"
        },
        true,
        "2022-07-08T10:00:00Z",
    );

    let out = initial_load(&url, &[&generated, &broken]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(65),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("REFUSÉ, rien n'a été écrit"), "{text}");
    assert!(text.contains("chargement initial validé"), "{text}");
    assert_eq!(
        count(&url, "SELECT COUNT(*) FROM diploma_record"),
        6000,
        "{text}"
    );
    let batches = std::fs::read_dir(&generated)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "toml")
        })
        .count();
    assert_eq!(
        count(&url, "SELECT COUNT(*) FROM import_batch"),
        i64::try_from(batches).unwrap(),
        "the refused batch left its batch row"
    );
    assert_eq!(
        schema_facts(&url),
        before,
        "the load must leave the same indexes and keys, all valid"
    );
    // the foreign key is back and enforced
    let orphan = execute(
        &url,
        "INSERT INTO diploma_record (id, batch_id, diploma_kind, session, academie, exam_office, \
         candidate_number, birth_name, birth_name_key, first_names, birth_date, \
         deliberation_date, content_hash) SELECT gen_random_uuid(), gen_random_uuid(), \
         diploma_kind, session, academie, exam_office, 'X', birth_name, birth_name_key, \
         first_names, birth_date, deliberation_date, content_hash FROM diploma_record LIMIT 1",
    );
    assert!(
        orphan.as_ref().is_err_and(|e| e.contains("foreign key")),
        "{orphan:?}"
    );
    // the candidate's uniqueness too
    let twin = execute(
        &url,
        "INSERT INTO diploma_record (id, batch_id, diploma_kind, session, academie, exam_office, \
         candidate_number, birth_name, birth_name_key, first_names, birth_date, \
         deliberation_date, content_hash) SELECT gen_random_uuid(), batch_id, \
         diploma_kind, session, academie, exam_office, candidate_number, birth_name, \
         birth_name_key, first_names, birth_date, deliberation_date, content_hash \
         FROM diploma_record LIMIT 1",
    );
    assert!(
        twin.as_ref().is_err_and(|e| e.contains("duplicate key")),
        "{twin:?}"
    );

    // a second initial load is refused: the table is no longer empty
    let out = initial_load(&url, &[&generated]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("contient déjà 6000 enregistrement(s)"),
        "{err}"
    );
    // the daily import goes on as usual
    let out = import(&url, &[&example().join("lyon-bacg-2022.toml")]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(schema_facts(&url), before);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn postgres_initial_load_killed_mid_way_leaves_no_trace_and_the_indexes_back() {
    let (url, _) = database("postgres");
    let before = schema_facts(&url);
    let (dir, manifest) = single_batch(8);
    // killed with the indexes dropped in its transaction
    kill_at_pause(&url, &manifest, &["--initial-load"]);

    assert_eq!(count(&url, "SELECT COUNT(*) FROM diploma_record"), 0);
    assert_eq!(count(&url, "SELECT COUNT(*) FROM import_batch"), 0);
    assert_eq!(schema_facts(&url), before, "the indexes must be back");

    let out = initial_load(&url, &[&manifest]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("20000 ajouté(s)"), "{}", stdout(&out));
    assert_eq!(records(&url), 20_000);
    assert_eq!(schema_facts(&url), before);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_initial_load_is_refused_on_sqlite_and_to_the_importer_role() {
    let (sqlite_url, cleanup) = database("sqlite");
    let out = initial_load(&sqlite_url, &[&example().join("lyon-bacg-2022.toml")]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("demande PostgreSQL"));
    let _ = std::fs::remove_dir_all(cleanup.unwrap());

    let (url, importer_url) = migrated_with_login(Login::Importer);
    let before = schema_facts(&url);
    // the importer role imports as usual…
    let out = import(&importer_url, &[&example().join("lyon-bacg-2022.toml")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    execute(&url, "DELETE FROM diploma_record").unwrap();
    // …but may not drop the indexes an initial load rebuilds
    let out = initial_load(&importer_url, &[&example().join("lyon-bacg-2022.toml")]);
    assert_eq!(
        out.status.code(),
        Some(77),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("propriétaire des tables"));
    assert_eq!(schema_facts(&url), before);

    // the index memory: a number of MiB in range, and only with an initial load
    let manifest = example().join("lyon-bacg-2022.toml");
    for (args, said) in [
        (vec!["--initial-load", "--index-memory-mb", "cinq"], "cinq"),
        (vec!["--initial-load", "--index-memory-mb", "0"], "0"),
        (
            vec!["--initial-load", "--index-memory-mb", "99999999"],
            "99999999",
        ),
        (vec!["--index-memory-mb", "512"], "--initial-load"),
    ] {
        let mut all = vec!["import", "--quiet", "--database-url", &url];
        all.extend(args.iter().copied());
        let path = manifest.display().to_string();
        all.push(&path);
        let out = sand(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(said),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(count(&url, "SELECT COUNT(*) FROM diploma_record"), 0);
    assert_eq!(schema_facts(&url), before);
}
