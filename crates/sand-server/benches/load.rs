//! Load benchmark: `just bench-load`.
//!
//! Sets up PostgreSQL with 1 000 000 imported records and 100 000 attached control keys
//! (through the attach use case, as graduates would), starts `sand serve` (release build)
//! as the web role, and measures with `wrk` on loopback, in the same run:
//!
//! - a trivial endpoint (`/health/live`): the baseline, what the HTTP stack gives;
//! - the database's floor for a valid verification: `pgbench` running, at the same
//!   concurrency against the same database, the same SQL work done naively in one
//!   statement per verification (the live link of a key joined with its record, and the
//!   insert of the event: `WITH … INSERT … SELECT`);
//! - the verification API with valid keys, and with invalid keys (rate limits raised);
//! - the home page and the catalogue page.
//!
//! Prints requests/s, p50 and p99 for each, the ratios verification / baseline and
//! verification / floor, the cluster's durability settings, and the server's memory. Needs `SAND_TEST_POSTGRES_URL` (the just recipe starts a throw-away
//! cluster) and `wrk`. `SAND_LOAD_RECORDS`, `SAND_LOAD_KEYS`, `SAND_LOAD_SECONDS` and
//! `SAND_LOAD_CONNECTIONS` change the sizes (defaults 1 000 000, 100 000, 10, 32).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

#[path = "../tests/support/attach.rs"]
mod attach;
#[path = "../tests/support/bench_db.rs"]
mod bench_db;
#[path = "../tests/support/wrk.rs"]
mod wrk;

use wrk::{Figures, env_or, wrk};

const SECRET: &str = "load-benchmark-secret-of-more-than-32-bytes";

fn sand(args: &[&str]) {
    bench_db::sand(SECRET, args);
}

/// Attaches `wanted` keys; writes `KEY;NAME` lines; returns the seconds it took.
async fn attach_keys_into(url: &str, wanted: u64, keys_file: &Path) -> f64 {
    let started = Instant::now();
    let keys = attach::attach_keys(url, SECRET, wanted).await;
    let mut file = std::fs::File::create(keys_file).unwrap();
    for attached in keys {
        writeln!(file, "{};{}", attached.key, attached.name).unwrap();
    }
    started.elapsed().as_secs_f64()
}

/// `pgbench` running `script` on `url` at the same concurrency: transactions/s, and p50
/// and p99 from its per-transaction log.
fn pgbench(url: &str, script: &Path, seconds: u64, connections: u64, work: &Path) -> Figures {
    let prefix = work.join("pgbench");
    let out = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2"])
        .arg(format!("-c{connections}"))
        .arg(format!("-T{seconds}"))
        .arg("-f")
        .arg(script)
        .arg("-l")
        .arg(format!("--log-prefix={}", prefix.display()))
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "pgbench failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tps = text
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    // each log line: client transaction latency_us script epoch epoch_us
    let mut latencies: Vec<u64> = std::fs::read_dir(work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("pgbench.")
        })
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
                .collect::<Vec<u64>>()
        })
        .collect();
    latencies.sort_unstable();
    let at = |q: f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(i).map_or(f64::NAN, |us| *us as f64 / 1000.0)
    };
    Figures {
        requests_per_second: tps,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        errors: 0,
    }
}

/// The machine's CPU time so far, busy and in all, in clock ticks (`/proc/stat`).
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let times: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let total: u64 = times.iter().sum();
    // idle and iowait
    let idle = times.get(3).copied().unwrap_or(0) + times.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// The CPU time a process used so far, user and system, in clock ticks.
fn process_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // the fields after the command's closing parenthesis: utime and stime are 14th and 15th
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse().ok())
        .collect();
    fields.iter().sum()
}

/// What a run cost: the share of the machine's CPU busy, and the server's CPU time per
/// request in µs.
struct Cost {
    machine_busy: f64,
    server_us_per_request: f64,
    /// The server's resident peak so far, in KiB.
    peak_kib: u64,
}

/// Clock ticks per second (`getconf CLK_TCK`).
fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let records = env_or("SAND_LOAD_RECORDS", 1_000_000);
    let wanted = env_or("SAND_LOAD_KEYS", 100_000);
    let seconds = env_or("SAND_LOAD_SECONDS", 10);
    let connections = env_or("SAND_LOAD_CONNECTIONS", 32);
    wrk::require_wrk();
    assert!(
        Command::new("pgbench").arg("--version").output().is_ok(),
        "pgbench is not installed (apt-get install postgresql-client)"
    );
    let pool = env_or("SAND_LOAD_POOL", 10);
    let admin = std::env::var("SAND_TEST_POSTGRES_URL")
        .expect("SAND_TEST_POSTGRES_URL is not set: run `just bench-load`");
    let work = std::env::temp_dir().join(format!("sand-load-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // a database of its own, migrated, with a login for the web role
    let database = runtime.block_on(bench_db::BenchDatabase::create(&admin, "sand_load"));
    let url = database.url.clone();
    sand(&["migrate", "--database-url", &url]);
    runtime.block_on(database.add_web_login());

    println!("Préparation : {records} diplômes importés, {wanted} clés rattachées…");
    let demo = work.join("demo");
    let started = Instant::now();
    sand(&[
        "demo",
        "generate",
        "--records",
        &records.to_string(),
        "--single-batch",
        "--out",
        demo.to_str().unwrap(),
    ]);
    sand(&[
        "import",
        demo.to_str().unwrap(),
        "--quiet",
        // the load test measures the web side: its batch goes in unsigned
        "--allow-unsigned",
        "--database-url",
        &url,
    ]);
    let import_seconds = started.elapsed().as_secs_f64();
    let keys_file = work.join("keys.txt");
    let attach_seconds = runtime.block_on(attach_keys_into(&url, wanted, &keys_file));
    println!(
        "  import {import_seconds:.0} s, rattachements {attach_seconds:.0} s ({:.0}/s)",
        wanted as f64 / attach_seconds
    );

    // the server, as the web role, limits raised for the benchmark
    let served = bench_db::serve(&database, SECRET, &work, pool);
    let base = served.base_url();
    let mut server = served.child;
    let rss_idle = memory_kib(server.id(), "VmRSS:");

    let valid = work.join("valid.lua");
    wrk::write_valid_script(&valid, &keys_file);
    let invalid = work.join("invalid.lua");
    std::fs::write(
        &invalid,
        r#"local alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
math.randomseed(os.time())
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local key = {}
  for j = 1, 8 do
    local n = math.random(1, #alphabet)
    key[j] = alphabet:sub(n, n)
  end
  return wrk.format(nil, nil, nil, '{"cle":"' .. table.concat(key) .. '","nom":"DURAND"}')
end
"#,
    )
    .unwrap();

    // the floor: the same SQL work, naively, one statement per verification, by pgbench
    let (durability, live_keys) = runtime.block_on(async {
        let db = Database::connect(&url).await.unwrap();
        db.execute_unprepared(
            "CREATE TABLE bench_keys (i serial PRIMARY KEY, hash bytea NOT NULL); \
             INSERT INTO bench_keys (hash) SELECT key_hash FROM link WHERE withdrawn_at IS NULL",
        )
        .await
        .unwrap();
        let show = |name: &'static str| {
            let db = &db;
            async move {
                let row = db
                    .query_one_raw(Statement::from_string(
                        DbBackend::Postgres,
                        format!("SHOW {name}"),
                    ))
                    .await
                    .unwrap()
                    .unwrap();
                let value: String = row.try_get_by_index(0).unwrap();
                format!("{name}={value}")
            }
        };
        let settings = [
            show("fsync").await,
            show("synchronous_commit").await,
            show("full_page_writes").await,
        ];
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) FROM bench_keys",
            ))
            .await
            .unwrap()
            .unwrap();
        let count: i64 = row.try_get_by_index(0).unwrap();
        (settings.join(", "), count)
    });
    let floor_script = work.join("floor.sql");
    std::fs::write(
        &floor_script,
        format!(
            "\\set i random(1, {live_keys})\n\
             WITH l AS (SELECT l.id FROM link l JOIN diploma_record r ON r.id = l.record_id \
             WHERE l.key_hash = (SELECT hash FROM bench_keys WHERE i = :i) AND l.withdrawn_at IS NULL) \
             INSERT INTO verification_event (id, link_id, at) SELECT gen_random_uuid(), id, now() FROM l;\n"
        ),
    )
    .unwrap();
    let (busy, total) = machine_ticks();
    let floor = pgbench(&url, &floor_script, seconds, connections, &work);
    let (busy_after, total_after) = machine_ticks();
    #[allow(clippy::cast_precision_loss)]
    let floor_busy = (busy_after - busy) as f64 / (total_after - total).max(1) as f64;

    let runs = [
        ("référence : GET /health/live", "/health/live", None),
        (
            "vérification API, clés valides",
            "/api/v1/verifications",
            Some(valid.as_path()),
        ),
        (
            "vérification API, clés inconnues",
            "/api/v1/verifications",
            Some(invalid.as_path()),
        ),
        ("page d'accueil GET /", "/", None),
        ("catalogue GET /catalogue", "/catalogue", None),
    ];
    let mut results = Vec::new();
    let mut costs = Vec::new();
    let tick = ticks_per_second();
    for (label, path, script) in runs {
        let (busy, total) = machine_ticks();
        let served = process_ticks(server.id());
        let figures = wrk(&base, path, script, seconds, connections);
        let (busy_after, total_after) = machine_ticks();
        let served_after = process_ticks(server.id());
        #[allow(clippy::cast_precision_loss)]
        costs.push(Cost {
            machine_busy: (busy_after - busy) as f64 / (total_after - total).max(1) as f64,
            server_us_per_request: (served_after - served) as f64 / tick * 1e6
                / (figures.requests_per_second * seconds as f64).max(1.0),
            peak_kib: memory_kib(server.id(), "VmHWM:"),
        });
        results.push((label, figures));
    }
    let rss_peak = memory_kib(server.id(), "VmHWM:");
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();

    results.insert(1, ("plancher : pgbench, même SQL naïf", floor));
    let baseline = results[0].1.requests_per_second;
    println!();
    println!(
        "Charge : wrk, 2 fils, {connections} connexions, {seconds} s par mesure, sur la boucle locale ; {records} diplômes, {wanted} clés, PostgreSQL"
    );
    println!(
        "{:<36} {:>10} {:>9} {:>9} {:>8} {:>7} {:>7} {:>10} {:>8}",
        "mesure",
        "req/s",
        "p50 ms",
        "p99 ms",
        "/ réf.",
        "non-2xx",
        "CPU %",
        "µs SAND/req",
        "Mio max"
    );
    for (i, (label, f)) in results.iter().enumerate() {
        // the floor (line 1) is pgbench: the machine's CPU only
        let cost = match i {
            0 => costs.first(),
            1 => None,
            _ => costs.get(i - 1),
        };
        let busy = if i == 1 {
            Some(floor_busy)
        } else {
            cost.map(|c| c.machine_busy)
        };
        println!(
            "{label:<36} {:>10.0} {:>9.2} {:>9.2} {:>8.2} {:>7} {:>7} {:>10} {:>8}",
            f.requests_per_second,
            f.p50_ms,
            f.p99_ms,
            f.requests_per_second / baseline,
            f.errors,
            busy.map_or_else(|| "—".to_owned(), |b| format!("{:.0}", b * 100.0)),
            cost.map_or_else(
                || "—".to_owned(),
                |c| format!("{:.0}", c.server_us_per_request)
            ),
            cost.map_or_else(
                || "—".to_owned(),
                |c| format!("{:.0}", c.peak_kib as f64 / 1024.0)
            ),
        );
    }
    let floor = &results[1].1;
    let verification = &results[2].1;
    println!();
    println!("Grappe PostgreSQL : {durability} ; pool de SAND : {pool} connexions");
    println!(
        "Vérification / plancher : {:.2} (objectif ≥ 1,0) ; vérification / référence : {:.2} ; p99 vérification {:.2} ms (objectif < 10 ms)",
        verification.requests_per_second / floor.requests_per_second,
        verification.requests_per_second / baseline,
        verification.p99_ms
    );
    println!(
        "Mémoire du serveur : {:.0} Mio au repos, {:.0} Mio au plus haut",
        rss_idle as f64 / 1024.0,
        rss_peak as f64 / 1024.0
    );
    runtime.block_on(database.drop_all());
    let _ = std::fs::remove_dir_all(work);
}
