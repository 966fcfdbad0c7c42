//! A database of the benchmark's own on the PostgreSQL at `SAND_TEST_POSTGRES_URL`, with a
//! login for the web role, and `sand serve` on it as that role with the limits raised
//! (`#[path]`-included by the load and scale benchmarks).

use std::path::Path;
use std::process::{Command, Stdio};

use sand_persistence::DatabaseRoles;
use sea_orm::{ConnectionTrait, Database};

/// The benchmark's database.
#[derive(Debug)]
pub struct BenchDatabase {
    admin: String,
    name: String,
    /// As the administrator.
    pub url: String,
    web_login: String,
}

impl BenchDatabase {
    /// Creates `PREFIX_PID` beside the administrator's database at `admin`.
    pub async fn create(admin: &str, prefix: &str) -> Self {
        let name = format!("{prefix}_{}", std::process::id());
        let (base, _) = admin.rsplit_once('/').unwrap();
        let db = Database::connect(admin).await.unwrap();
        db.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        db.close().await.unwrap();
        Self {
            admin: admin.to_owned(),
            url: format!("{base}/{name}"),
            web_login: format!("{prefix}_web_{}", std::process::id()),
            name,
        }
    }

    /// A database an earlier run kept (`SAND_SCALE_KEEP`, or a run stopped half-way):
    /// `name` with its web login `web_login`.
    #[allow(dead_code)]
    pub fn existing(admin: &str, name: &str, web_login: &str) -> Self {
        let (base, _) = admin.rsplit_once('/').unwrap();
        Self {
            admin: admin.to_owned(),
            url: format!("{base}/{name}"),
            web_login: web_login.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Once migrated: a login in the web role.
    pub async fn add_web_login(&self) {
        let db = Database::connect(&self.url).await.unwrap();
        db.execute_unprepared(&format!(
            "CREATE ROLE {} LOGIN IN ROLE {}",
            self.web_login,
            DatabaseRoles::default().web
        ))
        .await
        .unwrap();
        db.close().await.unwrap();
    }

    /// The URL of the web role's login.
    pub fn web_url(&self) -> String {
        format!(
            "postgres://{}@{}",
            self.web_login,
            self.url.split_once('@').unwrap().1
        )
    }

    /// Drops the database and the login.
    pub async fn drop_all(&self) {
        let db = Database::connect(&self.admin).await.unwrap();
        let _ = db
            .execute_unprepared(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .await;
        let _ = db
            .execute_unprepared(&format!("DROP ROLE IF EXISTS {}", self.web_login))
            .await;
    }
}

/// Runs `sand ARGS` (this build) with the server secret `secret`; stops the benchmark with
/// its output when it fails.
pub fn sand(secret: &str, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_sand"))
        .args(args)
        .env("SAND_SECRET", secret)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sand {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sand serve` (this build) on `database` as the web role, in `work`, with a pool of
/// `pool` and the verification limits raised so that none refuses.
pub fn serve(
    database: &BenchDatabase,
    secret: &str,
    work: &Path,
    pool: u64,
) -> sand_testkit::Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sand"));
    command
        .current_dir(work)
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
        ])
        .arg(database.web_url())
        .args(["--database-max-connections", &pool.to_string()])
        .args(["--verifications-per-minute", "1000000000"])
        .args(["--wrong-answers-per-key-per-client", "1000000000"])
        .args(["--wrong-answers-per-key", "1000000000"])
        .env("SAND_SECRET", secret)
        .env("SAND_LOG", "warn")
        .stderr(Stdio::inherit());
    sand_testkit::serve(command).unwrap_or_else(|e| panic!("the server stopped: {e}"))
}
