//! Test databases: one per test, removed afterwards (also when the test fails).

use std::path::PathBuf;

use sand_persistence::{DatabaseRoles, KeyProtector, Store, StoreSettings};
use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

pub const TEST_SECRET: [u8; 32] = [0x5a; 32];

pub fn protector() -> KeyProtector {
    KeyProtector::from_secret(&TEST_SECRET).unwrap()
}

/// The administrator URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var("SAND_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "SAND_TEST_POSTGRES_URL is not set. The PostgreSQL tests need a server: run the \
             suite with `bash tests/run.sh` (it starts one), or set \
             SAND_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/postgres (a user that may \
             create databases and roles)."
        )
    })
}

/// `postgres://u@h:p/postgres` with another database name.
pub fn with_database(admin_url: &str, database: &str) -> String {
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("a postgres URL has a path");
    format!("{base}/{database}")
}

enum Cleanup {
    Sqlite(PathBuf),
    Postgres {
        admin_url: String,
        database: String,
        roles: Vec<String>,
    },
}

/// A migrated store on a database of its own.
pub struct TestStore {
    pub store: Store,
    pub roles: DatabaseRoles,
    pub url: String,
    cleanup: Cleanup,
}

impl TestStore {
    pub async fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("sand-test-{}", Uuid::new_v4().simple()));
        let url = format!("sqlite://{}", dir.join("data").join("sand.db").display());
        let store = Store::connect(&StoreSettings::new(&url), protector())
            .await
            .unwrap();
        let roles = DatabaseRoles::default();
        store.migrate(&roles).await.unwrap();
        Self {
            store,
            roles,
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    pub async fn postgres() -> Self {
        let admin_url = postgres_admin_url();
        let suffix = Uuid::new_v4().simple().to_string();
        let database = format!("sand_test_{suffix}");
        let admin = Database::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at SAND_TEST_POSTGRES_URL: {e}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE {database}"))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = with_database(&admin_url, &database);
        let store = Store::connect(&StoreSettings::new(&url), protector())
            .await
            .unwrap();
        // Roles are cluster-wide: each test has its own, so parallel tests never race.
        let roles = DatabaseRoles::suffixed(&suffix[..12]);
        store.migrate(&roles).await.unwrap();
        Self {
            store,
            cleanup: Cleanup::Postgres {
                admin_url,
                database,
                roles: vec![
                    roles.web.clone(),
                    roles.importer.clone(),
                    roles.backoffice.clone(),
                ],
            },
            roles,
            url,
        }
    }

    /// Registers a role created by a test, dropped with the database.
    pub fn drop_role_afterwards(&mut self, role: &str) {
        if let Cleanup::Postgres { roles, .. } = &mut self.cleanup {
            roles.insert(0, role.to_owned());
        }
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres {
                admin_url,
                database,
                roles,
            } => {
                let (admin_url, database, roles) =
                    (admin_url.clone(), database.clone(), roles.clone());
                // Drop cannot await: a thread with its own runtime does the cleanup.
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async move {
                        let admin = Database::connect(&admin_url).await.unwrap();
                        admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
                            ))
                            .await
                            .unwrap();
                        for role in roles {
                            let _ = admin
                                .execute_unprepared(&format!("DROP ROLE IF EXISTS {role}"))
                                .await;
                        }
                        admin.close().await.unwrap();
                    });
                })
                .join();
            }
        }
    }
}
