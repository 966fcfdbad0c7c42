//! Import throughput: `just bench-import`.
//!
//! Generates one batch of 1 000 000 synthetic records, imports it with `sand import`
//! (release build) into PostgreSQL and into SQLite, and in the same run loads the same
//! file with a raw `COPY` into a bare table (one text column per column of the file, no
//! index, no check). Prints records/s for each, SAND / raw COPY, and the importer's peak memory.
//! A second baseline shows the database's own floor: a raw `COPY` of the rows SAND
//! stored into an empty twin of `diploma_record` with the same indexes and foreign key.
//! Then the same number of records as 4 000 batches of 250 (a national load is thousands
//! of scopes): the per-batch overhead is the difference, divided by the batches.
//!
//! Needs `SAND_TEST_POSTGRES_URL` (the just recipe starts a throw-away cluster).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sea_orm::sqlx::{self, Connection};
use sea_orm::{ConnectionTrait, Database};

const RECORDS: u64 = 1_000_000;
/// The many-small-batches line: batches of this size.
const SMALL_BATCH: u64 = 250;

fn sand(args: &[&str]) -> (String, f64) {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_sand"))
        .args(args)
        .output()
        .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "sand {args:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (text, seconds)
}

fn peak_mib(report: &str) -> String {
    report.split("mémoire max ").nth(1).map_or_else(
        || "?".into(),
        |rest| rest.split_whitespace().next().unwrap_or("?").to_owned(),
    )
}

/// Seconds to `COPY` the rows SAND stored into an empty twin of `diploma_record` (same
/// columns, indexes and foreign key): what the database itself needs to store them.
async fn indexed_copy(url: &str) -> f64 {
    use futures_util::TryStreamExt;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE twin (LIKE diploma_record INCLUDING ALL); \
         ALTER TABLE twin ADD FOREIGN KEY (batch_id) REFERENCES import_batch (id)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let mut rows = Vec::new();
    {
        let mut out = conn
            .copy_out_raw("COPY diploma_record TO STDOUT")
            .await
            .unwrap();
        while let Some(bytes) = out.try_next().await.unwrap() {
            rows.extend_from_slice(&bytes);
        }
    }
    let start = Instant::now();
    let mut copy = conn.copy_in_raw("COPY twin FROM STDIN").await.unwrap();
    for chunk in rows.chunks(1 << 20) {
        copy.send(chunk).await.unwrap();
    }
    assert_eq!(copy.finish().await.unwrap(), RECORDS);
    start.elapsed().as_secs_f64()
}

async fn raw_copy(url: &str, csv: &Path) -> f64 {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    // one text column per column of the file (the exchange format's, whatever its version)
    let data = std::fs::read(csv).unwrap();
    let header = String::from_utf8_lossy(&data[..data.iter().position(|b| *b == b'\n').unwrap()])
        .trim()
        .to_owned();
    // the names are the file's own header, written by `sand demo generate`
    assert!(
        header
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b';')
    );
    let columns: Vec<String> = header.split(';').map(|c| format!("{c} text")).collect();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE bare ({})",
        columns.join(", ")
    )))
    .execute(&mut conn)
    .await
    .unwrap();

    let start = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY bare FROM STDIN (FORMAT csv, DELIMITER ';', HEADER true)")
        .await
        .unwrap();
    for chunk in data.chunks(1 << 20) {
        copy.send(chunk).await.unwrap();
    }
    let rows = copy.finish().await.unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(rows, RECORDS);
    seconds
}

/// A fresh database `name`, migrated: its URL.
fn fresh_database(runtime: &tokio::runtime::Runtime, admin: &str, name: &str) -> String {
    let (base, _) = admin.rsplit_once('/').unwrap();
    runtime.block_on(async {
        let db = Database::connect(admin).await.unwrap();
        db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
            .await
            .unwrap();
        db.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        db.close().await.unwrap();
    });
    let url = format!("{base}/{name}");
    sand(&[
        "migrate",
        "--database-url",
        &url,
        "--web-role",
        &format!("{name}_web"),
        "--importer-role",
        &format!("{name}_importer"),
    ]);
    url
}

fn drop_database(runtime: &tokio::runtime::Runtime, admin: &str, name: &str) {
    runtime.block_on(async {
        let db = Database::connect(admin).await.unwrap();
        db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap();
        db.close().await.unwrap();
    });
}

/// The manifests of `dir`.
fn manifests_in(dir: &Path) -> Vec<PathBuf> {
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    manifests.sort();
    manifests
}

/// Signs every manifest as its exam office does, one key per issuer, each key registered
/// in the database at `url`: PostgreSQL requires signatures, and their check is part of
/// what is measured.
fn sign_by_issuer(url: &str, manifests: &[PathBuf], keys: &Path) -> Vec<(String, PathBuf)> {
    let mut registered = Vec::new();
    let mut by_issuer: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for manifest in manifests {
        let issuer = std::fs::read_to_string(manifest)
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("issuer = ")
                    .map(|v| v.trim_matches('"').to_owned())
            })
            .unwrap();
        by_issuer
            .entry(issuer)
            .or_default()
            .push(manifest.to_str().unwrap().to_owned());
    }
    for (issuer, manifests) in by_issuer {
        let dir = keys.join(&issuer);
        sand(&["batch", "keygen", "--out", dir.to_str().unwrap()]);
        let key_file = |prefix: &str| {
            std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
                .unwrap()
        };
        sand(&[
            "issuers",
            "add-key",
            "--issuer",
            &issuer,
            "--public-key",
            key_file("batch-public-key-").to_str().unwrap(),
            "--database-url",
            url,
        ]);
        let key = key_file("batch-key-");
        let mut args = vec!["batch", "sign", "--key", key.to_str().unwrap()];
        args.extend(manifests.iter().map(String::as_str));
        sand(&args);
        registered.push((issuer, key_file("batch-public-key-")));
    }
    registered
}

/// Registers the issuers' public keys in the database at `url`.
fn add_keys(url: &str, keys: &[(String, PathBuf)]) {
    for (issuer, public_key) in keys {
        sand(&[
            "issuers",
            "add-key",
            "--issuer",
            issuer,
            "--public-key",
            public_key.to_str().unwrap(),
            "--database-url",
            url,
        ]);
    }
}

/// The initial load at `url` left what the ordinary import left at `reference`: the same
/// records, batches, indexes and constraints (all valid).
fn check_integrity(runtime: &tokio::runtime::Runtime, url: &str, reference: &str) {
    const FACTS: &str = "SELECT (SELECT count(*) FROM diploma_record)::text || ' records, ' \
        || (SELECT count(*) FROM import_batch)::text || ' batches, indexes: ' \
        || (SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes \
            WHERE tablename = 'diploma_record') || ', constraints: ' \
        || (SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated::text, \
            '; ' ORDER BY conname) FROM pg_constraint \
            WHERE conrelid = 'diploma_record'::regclass OR confrelid = 'diploma_record'::regclass) \
        || ', invalid indexes: ' || (SELECT count(*) FROM pg_index WHERE NOT indisvalid)::text";
    let facts = |url: &str| {
        runtime.block_on(async {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let text: String = sqlx::query_scalar(FACTS)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            text
        })
    };
    let (loaded, imported) = (facts(url), facts(reference));
    assert_eq!(
        loaded, imported,
        "the initial load left another schema or other rows"
    );
}

fn main() {
    let admin = std::env::var("SAND_TEST_POSTGRES_URL")
        .expect("SAND_TEST_POSTGRES_URL is not set: run `just bench-import`");
    let work = std::env::temp_dir().join(format!("sand-bench-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let batch_dir = work.join("batch");
    let started = Instant::now();
    sand(&[
        "demo",
        "generate",
        "--records",
        &RECORDS.to_string(),
        "--single-batch",
        "--seed",
        "11",
        "--out",
        batch_dir.to_str().unwrap(),
    ]);
    let manifest: PathBuf = std::fs::read_dir(&batch_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "toml"))
        .unwrap();
    let csv = manifest.with_extension("csv");
    let size_mib = std::fs::metadata(&csv).unwrap().len() as f64 / 1_048_576.0;
    println!(
        "generated {RECORDS} records ({size_mib:.0} MiB) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = format!("sand_bench_{}", std::process::id());
    let url = fresh_database(&runtime, &admin, &database);
    let batch_keys = sign_by_issuer(
        &url,
        std::slice::from_ref(&manifest),
        &work.join("batch-keys"),
    );
    let (pg_report, pg_seconds) = sand(&[
        "import",
        "--quiet",
        "--database-url",
        &url,
        manifest.to_str().unwrap(),
    ]);
    let copy_seconds = runtime.block_on(raw_copy(&url, &csv));
    let twin_seconds = runtime.block_on(indexed_copy(&url));

    // the same number of records as many small batches, into a database of their own
    let small_dir = work.join("small");
    sand(&[
        "demo",
        "generate",
        "--records",
        &RECORDS.to_string(),
        "--batch-size",
        &SMALL_BATCH.to_string(),
        "--seed",
        "11",
        "--out",
        small_dir.to_str().unwrap(),
    ]);
    let small_manifests = manifests_in(&small_dir);
    let small_database = format!("sand_bench_small_{}", std::process::id());
    let small_url = fresh_database(&runtime, &admin, &small_database);
    let small_keys = sign_by_issuer(&small_url, &small_manifests, &work.join("small-keys"));
    let (small_report, small_seconds) = sand(&[
        "import",
        "--quiet",
        "--database-url",
        &small_url,
        small_dir.to_str().unwrap(),
    ]);

    // the initial load (indexes built at the end), each into an empty database of its own
    let bulk_database = format!("sand_bench_bulk_{}", std::process::id());
    let bulk_url = fresh_database(&runtime, &admin, &bulk_database);
    add_keys(&bulk_url, &batch_keys);
    let (bulk_report, bulk_seconds) = sand(&[
        "import",
        "--quiet",
        "--initial-load",
        "--database-url",
        &bulk_url,
        manifest.to_str().unwrap(),
    ]);
    check_integrity(&runtime, &bulk_url, &url);
    let small_bulk_database = format!("sand_bench_small_bulk_{}", std::process::id());
    let small_bulk_url = fresh_database(&runtime, &admin, &small_bulk_database);
    add_keys(&small_bulk_url, &small_keys);
    let (small_bulk_report, small_bulk_seconds) = sand(&[
        "import",
        "--quiet",
        "--initial-load",
        "--database-url",
        &small_bulk_url,
        small_dir.to_str().unwrap(),
    ]);
    check_integrity(&runtime, &small_bulk_url, &small_url);

    let sqlite_url = format!("sqlite://{}", work.join("sqlite/sand.db").display());
    std::fs::create_dir_all(work.join("sqlite")).unwrap();
    add_keys(&sqlite_url, &batch_keys);
    let (sqlite_report, sqlite_seconds) = sand(&[
        "import",
        "--quiet",
        "--database-url",
        &sqlite_url,
        manifest.to_str().unwrap(),
    ]);

    let row = |label: &str, seconds: f64, peak: &str| {
        println!(
            "{label:<46} {:>12.0} {seconds:>10.2} {peak:>10}",
            RECORDS as f64 / seconds
        );
    };
    println!();
    println!("import of one {RECORDS}-record batch (release build, same file, same run)");
    println!(
        "{:<46} {:>12} {:>10} {:>10}",
        "", "records/s", "seconds", "peak MiB"
    );
    row(
        "baseline: raw COPY into a bare table (PG)",
        copy_seconds,
        "-",
    );
    row(
        "floor: raw COPY into an indexed twin (PG)",
        twin_seconds,
        "-",
    );
    row(
        "sand import → PostgreSQL",
        pg_seconds,
        &peak_mib(&pg_report),
    );
    row(
        "sand import --initial-load → PostgreSQL",
        bulk_seconds,
        &peak_mib(&bulk_report),
    );
    row(
        "sand import → SQLite",
        sqlite_seconds,
        &peak_mib(&sqlite_report),
    );
    let batches = small_manifests.len();
    row(
        &format!("sand import → PostgreSQL, {batches} batches of {SMALL_BATCH}"),
        small_seconds,
        &peak_mib(&small_report),
    );
    row(
        &format!("sand import --initial-load → PostgreSQL, {batches} batches"),
        small_bulk_seconds,
        &peak_mib(&small_bulk_report),
    );
    println!(
        "ratio SAND initial load / indexed floor on PostgreSQL: {:.2} (goal ≥ 1.5)",
        twin_seconds / bulk_seconds
    );
    println!(
        "ratio SAND / raw COPY on PostgreSQL: {:.2} (goal ≥ 0.5)",
        copy_seconds / pg_seconds
    );
    println!(
        "ratio SAND / indexed floor on PostgreSQL: {:.2}",
        twin_seconds / pg_seconds
    );
    #[allow(clippy::cast_precision_loss)]
    let per_batch_ms = (small_seconds - pg_seconds) * 1000.0 / batches as f64;
    println!(
        "per-batch overhead on PostgreSQL: {per_batch_ms:.1} ms ({batches} batches vs one, same record count; goal < 5 ms)"
    );
    println!(
        "(sand import times include process start, SHA-256 of the file, parsing, checks, staging and the merge)"
    );

    println!(
        "(an initial load fills an empty record table in one transaction and builds its indexes \
         and foreign keys at the end; every other import keeps them up to date row by row)"
    );

    drop_database(&runtime, &admin, &database);
    drop_database(&runtime, &admin, &small_database);
    drop_database(&runtime, &admin, &bulk_database);
    drop_database(&runtime, &admin, &small_bulk_database);
    let _ = std::fs::remove_dir_all(&work);
}
