//! `just bench-scale`: national scale, measured. Generates a national-size set
//! (`sand demo generate`: every académie, kind and session, batches of realistic sizes),
//! loads about 1 000 000 of its records (every n-th batch, spread over the set) into one
//! PostgreSQL database and the whole set into another, both with `sand import
//! --initial-load`, and measures the hot paths on each, so that each path's p99 at full
//! size is printed beside its p99 at 1 M, in the same run:
//!
//! - the import: wall time, records/s, the importer's peak memory (VmHWM), and the time
//!   the initial load spent building the indexes and keys;
//! - attaching: p50/p99 of the attach use case (one record per new profile);
//! - verification: requests/s, p50/p99 (wrk, valid keys, 32 connections), as the web role;
//! - the catalogue page: requests/s, p50/p99;
//! - the database's size on disk (records and their indexes, links, all);
//! - `EXPLAIN (ANALYZE, BUFFERS)` of every hot-path query at full size.
//!
//! Each size is measured once its load is on disk (`ANALYZE`, `CHECKPOINT`, `sync`): what
//! is measured is the hot paths, not the write-back of the gigabytes just loaded. The
//! verification runs 3 s uncounted before its measured run (a new server process).
//!
//! Needs `SAND_TEST_POSTGRES_URL` (the just recipe starts a throw-away cluster when it is
//! not set), `wrk`, and disk: about 150 bytes of CSV and 600 of database per record.
//! `SAND_SCALE_RECORDS` (23 000 000), `SAND_SCALE_FIRST` (1 000 000), `SAND_SCALE_KEYS`
//! (10 000 per measurement), `SAND_SCALE_SECONDS` (10), `SAND_SCALE_CONNECTIONS` (32);
//! `SAND_SCALE_KEEP=1` keeps the databases.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic,
    clippy::cast_precision_loss
)]

#[path = "../tests/support/attach.rs"]
mod attach;
#[path = "../tests/support/bench_db.rs"]
mod bench_db;
#[path = "../tests/support/wrk.rs"]
mod wrk;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bench_db::BenchDatabase;
use sand_domain::academie::Academie;
use sand_domain::control_key::ControlKey;
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Session};
use sand_domain::identity::{BirthDate, BirthName, FirstNames, Identity};
use sand_persistence::keys::KeyProtector;
use sand_persistence::{HotPathSample, Store, StoreSettings};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use wrk::{Figures, env_or, wrk};

const SECRET: &str = "scale-benchmark-secret-of-more-than-32-bytes";

fn sand(args: &[&str]) {
    bench_db::sand(SECRET, args);
}

fn peak_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// `sand import --initial-load` of `dir`'s manifests: seconds, the importer's peak memory
/// in MiB (its high-water mark, read until it ends), and its report's last lines (the
/// index builds).
fn import(url: &str, dir: &Path) -> (f64, f64, String) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sand"))
        .arg("import")
        .arg(dir)
        .args([
            "--quiet",
            "--allow-unsigned",
            "--initial-load",
            "--database-url",
            url,
        ])
        .env("SAND_SECRET", SECRET)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // the report is read beside the polling, or a full pipe would stop the importer
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        peak = peak.max(peak_kib(child.id()).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(100));
    };
    let seconds = started.elapsed().as_secs_f64();
    let report = reader.join().unwrap();
    assert!(status.success(), "sand import failed:\n{report}");
    let builds = report
        .lines()
        .skip_while(|l| !l.starts_with("chargement initial validé"))
        .collect::<Vec<_>>()
        .join("\n");
    (seconds, peak as f64 / 1024.0, builds)
}

/// A migrated database with a web login.
fn new_database(runtime: &tokio::runtime::Runtime, admin: &str, prefix: &str) -> BenchDatabase {
    let database = runtime.block_on(BenchDatabase::create(admin, prefix));
    sand(&["migrate", "--database-url", &database.url]);
    runtime.block_on(database.add_web_login());
    database
}

fn record_count(manifest: &Path) -> u64 {
    std::fs::read_to_string(manifest)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("record_count = "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// The hot paths at one size.
struct HotPaths {
    records: i64,
    attach_p50: f64,
    attach_p99: f64,
    attaches_per_second: f64,
    verification: Figures,
    catalogue: Figures,
}

fn query_i64(runtime: &tokio::runtime::Runtime, url: &str, sql: &str) -> i64 {
    runtime.block_on(async {
        let db = Database::connect(url).await.unwrap();
        let n = db
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        db.close().await.unwrap();
        n
    })
}

/// How long the verification runs, uncounted, before it is measured.
const WARM_UP_SECONDS: u64 = 3;

fn measure(
    runtime: &tokio::runtime::Runtime,
    database: &BenchDatabase,
    work: &Path,
    keys: u64,
    seconds: u64,
    connections: u64,
) -> HotPaths {
    // the hot paths of a database past its load: statistics made, and the load's
    // gigabytes on disk (its checkpoint and the kernel's write-back would otherwise still
    // be writing under the first measurements, and every commit would wait behind them)
    runtime.block_on(async {
        let db = Database::connect(&database.url).await.unwrap();
        db.execute_unprepared("ANALYZE").await.unwrap();
        db.execute_unprepared("CHECKPOINT").await.unwrap();
        db.close().await.unwrap();
    });
    assert!(
        std::process::Command::new("sync")
            .status()
            .is_ok_and(|s| s.success()),
        "sync failed"
    );
    let records = query_i64(
        runtime,
        &database.url,
        "SELECT count(*) FROM diploma_record",
    );
    let attached = runtime.block_on(attach::attach_keys(&database.url, SECRET, keys));
    let mut took: Vec<f64> = attached
        .iter()
        .map(|a| a.took.as_secs_f64() * 1000.0)
        .collect();
    took.sort_by(f64::total_cmp);
    let keys_file = work.join(format!("keys-{records}.txt"));
    let mut file = std::fs::File::create(&keys_file).unwrap();
    for a in &attached {
        writeln!(file, "{};{}", a.key, a.name).unwrap();
    }
    let script = work.join(format!("valid-{records}.lua"));
    wrk::write_valid_script(&script, &keys_file);
    let served = bench_db::serve(database, SECRET, work, 10);
    let base = served.base_url();
    // a warm-up, not counted: the new process's connections and prepared statements, and
    // the pages of the keys' records, before the measured run
    let _ = wrk(
        &base,
        "/api/v1/verifications",
        Some(&script),
        WARM_UP_SECONDS,
        connections,
    );
    let verification = wrk(
        &base,
        "/api/v1/verifications",
        Some(&script),
        seconds,
        connections,
    );
    let catalogue = wrk(&base, "/catalogue", None, seconds, connections);
    served.stop();
    HotPaths {
        records,
        attach_p50: percentile(&took, 0.5),
        attach_p99: percentile(&took, 0.99),
        // the use case's own rate, 8 at once (not the choice of the people to attach,
        // which reads the whole record table at 23 M)
        attaches_per_second: 8.0 * 1000.0 * took.len() as f64
            / took.iter().sum::<f64>().max(f64::MIN_POSITIVE),
        verification,
        catalogue,
    }
}

fn print(h: &HotPaths) {
    println!(
        "  {} enregistrements : rattachement p50 {:.2} ms p99 {:.2} ms ({:.0}/s, 8 en parallèle) ; \
         vérification {:.0} req/s p50 {:.2} ms p99 {:.2} ms (erreurs {}) ; catalogue {:.0} req/s p50 {:.2} ms p99 {:.2} ms",
        h.records,
        h.attach_p50,
        h.attach_p99,
        h.attaches_per_second,
        h.verification.requests_per_second,
        h.verification.p50_ms,
        h.verification.p99_ms,
        h.verification.errors,
        h.catalogue.requests_per_second,
        h.catalogue.p50_ms,
        h.catalogue.p99_ms
    );
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of every hot-path query, on a live link of the database.
fn explain(runtime: &tokio::runtime::Runtime, url: &str) {
    runtime.block_on(async {
        let store = Store::connect(
            &StoreSettings::new(url),
            KeyProtector::from_secret(SECRET.as_bytes()).unwrap(),
        )
        .await
        .unwrap();
        let db = Database::connect(url).await.unwrap();
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT r.birth_name, r.first_names, r.birth_date::text, r.diploma_kind, r.session, \
                 r.academie, r.batch_id, l.profile_id, l.id FROM link l \
                 JOIN diploma_record r ON r.id = l.record_id LIMIT 1",
            ))
            .await
            .unwrap()
            .unwrap();
        let today = time::OffsetDateTime::now_utc().date();
        let first: String = row.try_get_by_index(1).unwrap();
        let identity = Identity {
            birth_name: BirthName::parse(&row.try_get_by_index::<String>(0).unwrap()).unwrap(),
            first_names: FirstNames::parse_text(&first.replace('|', ",")).unwrap(),
            birth_date: BirthDate::parse_iso(&row.try_get_by_index::<String>(2).unwrap(), today)
                .unwrap(),
            birth_place: None,
            birth_place_code: None,
        };
        let kind: String = row.try_get_by_index(3).unwrap();
        let sample = HotPathSample {
            scope: DiplomaScope {
                kind: *DiplomaKind::all().iter().find(|k| k.code() == kind).unwrap(),
                session: Session::new(u16::try_from(row.try_get_by_index::<i32>(4).unwrap()).unwrap())
                    .unwrap(),
                academie: Academie::from_code(&row.try_get_by_index::<String>(5).unwrap()).unwrap(),
            },
            identity: identity.key(),
            batch: row.try_get_by_index(6).unwrap(),
            key: ControlKey::parse("AAAA0000").unwrap(),
            profile: row.try_get_by_index(7).unwrap(),
            link: row.try_get_by_index(8).unwrap(),
        };
        for (name, sql) in store.hot_path_queries(&sample) {
            let plan: Vec<String> = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"),
                ))
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get_by_index::<String>(0).unwrap())
                .collect();
            let scans = plan.iter().any(|l| l.contains("Seq Scan"));
            let top = plan.first().map_or("", |l| l.trim());
            let time = plan
                .iter()
                .find_map(|l| l.trim().strip_prefix("Execution Time: "))
                .unwrap_or("?");
            println!(
                "  EXPLAIN {name:<32} {time:>12}  {}  {top}",
                if scans { "BALAYAGE" } else { "index" }
            );
        }
    });
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let records = env_or("SAND_SCALE_RECORDS", 23_000_000);
    let first = env_or("SAND_SCALE_FIRST", 1_000_000);
    let keys = env_or("SAND_SCALE_KEYS", 10_000);
    let seconds = env_or("SAND_SCALE_SECONDS", 10);
    let connections = env_or("SAND_SCALE_CONNECTIONS", 32);
    wrk::require_wrk();
    let admin = std::env::var("SAND_TEST_POSTGRES_URL")
        .expect("SAND_TEST_POSTGRES_URL is not set: run `just bench-scale`");
    let work = std::env::temp_dir().join(format!("sand-scale-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // `SAND_SCALE_REUSE=NAME`: measure a database a stopped run left, imported already
    if let Ok(name) = std::env::var("SAND_SCALE_REUSE") {
        let pid = name.rsplit('_').next().unwrap();
        let database = BenchDatabase::existing(&admin, &name, &format!("sand_scale_web_{pid}"));
        let large = measure(&runtime, &database, &work, keys, seconds, connections);
        print(&large);
        sizes_and_plans(&runtime, &database.url);
        if std::env::var("SAND_SCALE_KEEP").is_err() {
            runtime.block_on(database.drop_all());
        }
        return;
    }
    let database = new_database(&runtime, &admin, "sand_scale");
    let durability: Vec<String> = [
        "fsync",
        "synchronous_commit",
        "full_page_writes",
        "shared_buffers",
    ]
    .iter()
    .map(|name| {
        let value = runtime.block_on(async {
            let db = Database::connect(&database.url).await.unwrap();
            db.query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SHOW {name}"),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<String>(0)
            .unwrap()
        });
        format!("{name}={value}")
    })
    .collect();
    println!("PostgreSQL : {}", durability.join(", "));

    let data = work.join("data");
    let started = Instant::now();
    sand(&[
        "demo",
        "generate",
        "--records",
        &records.to_string(),
        "--seed",
        "3",
        "--out",
        data.to_str().unwrap(),
    ]);
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    manifests.sort();
    let bytes: u64 = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!(
        "Jeu national : {records} enregistrements en {} lots, {:.1} Go de CSV, écrits en {:.0} s",
        manifests.len(),
        bytes as f64 / 1e9,
        started.elapsed().as_secs_f64()
    );

    // about `first` records, spread over the set (every 23rd batch, say), in a directory of
    // their own (the files are linked, not copied)
    let step = usize::try_from((records / first.max(1)).max(1)).unwrap_or(1);
    let early_dir = work.join("first");
    std::fs::create_dir_all(&early_dir).unwrap();
    let mut early_records = 0;
    let mut early_batches = 0;
    for manifest in manifests.iter().step_by(step) {
        let csv = manifest.with_extension("csv");
        for file in [manifest, &csv] {
            std::fs::hard_link(file, early_dir.join(file.file_name().unwrap())).unwrap();
        }
        early_records += record_count(manifest);
        early_batches += 1;
    }
    let small_database = new_database(&runtime, &admin, "sand_scale_first");
    let (early_seconds, early_peak, early_builds) = import(&small_database.url, &early_dir);
    println!(
        "Chargement initial, 1 M : {early_records} enregistrements ({early_batches} lots) en {early_seconds:.0} s ({:.0}/s), mémoire de l'import au plus haut {early_peak:.0} Mio\n{early_builds}",
        early_records as f64 / early_seconds
    );
    let small = measure(&runtime, &small_database, &work, keys, seconds, connections);
    print(&small);
    if std::env::var("SAND_SCALE_KEEP").is_err() {
        runtime.block_on(small_database.drop_all());
    }

    let all_records: u64 = manifests.iter().map(|m| record_count(m)).sum();
    let (total_seconds, peak, builds) = import(&database.url, &data);
    println!(
        "Chargement initial, tout : {all_records} enregistrements ({} lots) en {total_seconds:.0} s ({:.1} min ; objectif < 5 min), {:.0}/s, mémoire de l'import au plus haut {peak:.0} Mio\n{builds}",
        manifests.len(),
        total_seconds / 60.0,
        all_records as f64 / total_seconds
    );
    let large = measure(&runtime, &database, &work, keys, seconds, connections);
    print(&large);
    println!(
        "p99 à {} ÷ p99 à {} (objectif ≤ 1,5) : rattachement {:.2}, vérification {:.2}, catalogue {:.2}",
        large.records,
        small.records,
        large.attach_p99 / small.attach_p99,
        large.verification.p99_ms / small.verification.p99_ms,
        large.catalogue.p99_ms / small.catalogue.p99_ms
    );
    sizes_and_plans(&runtime, &database.url);

    if std::env::var("SAND_SCALE_KEEP").is_err() {
        runtime.block_on(database.drop_all());
    }
    let _ = std::fs::remove_dir_all(work);
}

/// The database's sizes on disk, then the hot paths' plans.
fn sizes_and_plans(runtime: &tokio::runtime::Runtime, url: &str) {
    for (what, sql) in [
        (
            "diploma_record (table)",
            "SELECT pg_relation_size('diploma_record')",
        ),
        (
            "diploma_record (index)",
            "SELECT pg_indexes_size('diploma_record')",
        ),
        (
            "link (tout compris)",
            "SELECT pg_total_relation_size('link')",
        ),
        (
            "base entière",
            "SELECT pg_database_size(current_database())",
        ),
    ] {
        let size = query_i64(runtime, url, sql);
        println!("  taille {what:<24} {:>8.2} Go", size as f64 / 1e9);
    }
    explain(runtime, url);
}
