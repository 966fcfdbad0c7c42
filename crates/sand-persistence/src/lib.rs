//! SAND's storage adapters: every storage port of `sand-domain` on sea-orm, with one code
//! base for the embedded SQLite default and for PostgreSQL in production.
//!
//! ```text
//! Store ─┬─ SeaOrmRecordReader      (RecordReader: published records, web side)
//!        ├─ SeaOrmCatalogue         (Catalogue)
//!        ├─ SeaOrmRecordWriter      (RecordWriter: import side only)
//!        ├─ BulkLoad                (RecordWriter: an initial load, indexes built at its end)
//!        ├─ SeaOrmProfileRepository (ProfileRepository)
//!        ├─ SeaOrmLinkRepository    (LinkRepository: keys hashed and sealed)
//!        └─ SeaOrmVerificationLog   (VerificationLog)
//! ```

pub mod bulk;
mod credential_status;
mod desk;
mod entity;
mod error;
pub mod issuer_keys;
pub mod keys;
mod links;
mod mapping;
mod outbox;
mod profiles;
mod records;
pub mod replica;
pub mod rotation;
mod sessions;
mod sharing;
mod staff;
mod staging;
mod verifying;
mod wallet;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sand_domain::PortError;
use sand_domain::ports::{NotReady, ServiceHealth};
use sand_migration::roles::{self, RoleNames, RolesError};
use sand_migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
};

pub use bulk::{BulkLoad, BulkLoadError, Rebuilt};
pub use credential_status::SeaOrmCredentialStatusStore;
pub use desk::SeaOrmExamOfficeDesk;
pub use keys::{KeyProtectionError, KeyProtector};
pub use links::{SeaOrmLinkRepository, SeaOrmVerificationLog};
pub use outbox::{SeaOrmMailQueue, SeaOrmMailer};
pub use profiles::SeaOrmProfileRepository;
pub use records::{SeaOrmCatalogue, SeaOrmRecordReader, SeaOrmRecordWriter};
pub use sand_migration::roles::RoleNames as DatabaseRoles;
pub use sessions::SeaOrmSessionStore;
pub use sharing::SeaOrmShareLinkStore;
pub use staff::{SeaOrmAuditLog, SeaOrmStaffDirectory};
pub use verifying::SeaOrmVerificationLookup;
pub use wallet::SeaOrmCredentialOfferStore;

/// Values to fill the hot-path queries with (see [`Store::hot_path_queries`]).
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct HotPathSample {
    pub scope: sand_domain::diploma::DiplomaScope,
    pub identity: sand_domain::identity::IdentityKey,
    pub batch: uuid::Uuid,
    pub key: sand_domain::control_key::ControlKey,
    pub profile: uuid::Uuid,
    pub link: uuid::Uuid,
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Why the database could not be opened or prepared.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL (use sqlite://PATH or postgres://…)")]
    UnsupportedUrl,
    #[error("cannot create the data directory {path}")]
    DataDirectory {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to the database")]
    Connect(#[source] DbErr),
    #[error("cannot migrate the database")]
    Migrate(#[source] DbErr),
    #[error(transparent)]
    Roles(#[from] RolesError),
    #[error("cannot configure the database")]
    Configure(#[source] DbErr),
    #[error("cannot read the database user's privileges")]
    Access(#[source] Box<PortError>),
    #[error("the database cannot be written (read-only file or directory, or disk full): {0}")]
    NotWritable(#[source] DbErr),
}

/// Connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// `sqlite://data/sand.db` (created if missing) or `postgres://user@host/db`.
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl StoreSettings {
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

pub use sand_domain::ports::StoreFigures;

/// An open database and the key protector: makes every storage adapter.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: DatabaseConnection,
    pub(crate) keys: Arc<KeyProtector>,
    /// The writers of verification events (group commit), shared by the clones.
    pub(crate) events: Arc<verifying::EventWriter>,
    /// The single reader of verified keys on PostgreSQL, shared by the clones.
    pub(crate) lookups: Arc<verifying::LookupReader>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// Whether the connected database user can write diploma records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordWriteAccess {
    /// The user can only read records: the one-way rule holds in the database.
    Denied,
    /// The user holds these privileges on record tables (`diploma_record: INSERT`, …).
    Granted(Vec<String>),
    /// The backend has no users or privileges (SQLite): only a single-user deployment
    /// may run like this.
    NotEnforceable,
}

/// Opens a connection pool: see [`Store::connect`].
async fn open(settings: &StoreSettings) -> Result<DatabaseConnection, StoreError> {
    let url = settings.url.trim();
    let backend = if url.starts_with("sqlite:") {
        Backend::Sqlite
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Backend::Postgres
    } else {
        return Err(StoreError::UnsupportedUrl);
    };
    let mut url = url.to_owned();
    if backend == Backend::Sqlite {
        let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
        let path = path.split('?').next().unwrap_or_default();
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDirectory {
                path: dir.display().to_string(),
                source,
            })?;
        }
        if !url.contains('?') {
            url.push_str("?mode=rwc");
        }
    }
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .connect_timeout(settings.acquire_timeout)
        .sqlx_logging(false);
    let storage = |e: DbErr, otherwise: fn(DbErr) -> StoreError| {
        if error::is_storage_problem(&e) {
            StoreError::NotWritable(e)
        } else {
            otherwise(e)
        }
    };
    let db = Database::connect(options)
        .await
        .map_err(|e| storage(e, StoreError::Connect))?;
    if backend == Backend::Sqlite {
        for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA foreign_keys = ON"] {
            db.execute_unprepared(pragma)
                .await
                .map_err(|e| storage(e, StoreError::Configure))?;
        }
    }
    Ok(db)
}

async fn record_write_access_of(db: &DatabaseConnection) -> Result<RecordWriteAccess, PortError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(RecordWriteAccess::NotEnforceable);
    }
    let sql = "SELECT t || ': ' || p AS grant \
               FROM unnest(ARRAY['import_batch','diploma_record']) AS t, \
                    unnest(ARRAY['INSERT','UPDATE','DELETE','TRUNCATE']) AS p \
               WHERE has_table_privilege(current_user, t, p) ORDER BY 1";
    let rows = db
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .map_err(error::port)?;
    let granted = rows
        .iter()
        .map(|row| row.try_get::<String>("", "grant"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(error::port)?;
    Ok(if granted.is_empty() {
        RecordWriteAccess::Denied
    } else {
        RecordWriteAccess::Granted(granted)
    })
}

/// What the user of `settings` may do to records, without the key-protection secret
/// (for `sand db check-access`).
///
/// # Errors
/// [`StoreError::Connect`] when the database cannot be reached or asked.
pub async fn check_record_write_access(
    settings: &StoreSettings,
) -> Result<RecordWriteAccess, StoreError> {
    let db = open(settings).await?;
    let access = record_write_access_of(&db).await;
    db.close().await.map_err(StoreError::Connect)?;
    access.map_err(|e| StoreError::Access(Box::new(e)))
}

/// Opens the import side's writer: records and batches only, no key secret needed.
///
/// # Errors
/// [`StoreError::UnsupportedUrl`], [`StoreError::DataDirectory`] or [`StoreError::Connect`].
pub async fn open_record_writer(
    settings: &StoreSettings,
) -> Result<SeaOrmRecordWriter, StoreError> {
    Ok(SeaOrmRecordWriter(open(settings).await?))
}

/// Applies every pending migration (and, on PostgreSQL, the roles and grants) without
/// needing the key-protection secret. Returns the names of the migrations applied.
///
/// # Errors
/// [`StoreError`].
pub async fn migrate_database(
    settings: &StoreSettings,
    roles: &RoleNames,
) -> Result<Vec<String>, StoreError> {
    let db = open(settings).await?;
    let pending: Vec<String> = Migrator::get_pending_migrations(&db)
        .await
        .map_err(StoreError::Migrate)?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    Migrator::up(&db, None).await.map_err(StoreError::Migrate)?;
    roles::set_up(&db, roles).await?;
    db.close().await.map_err(StoreError::Connect)?;
    Ok(pending)
}

impl Store {
    /// Opens the database. For SQLite, the file and its directory are created if missing,
    /// WAL journaling is switched on and foreign keys are enforced.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn connect(settings: &StoreSettings, keys: KeyProtector) -> Result<Self, StoreError> {
        Ok(Self {
            db: open(settings).await?,
            keys: Arc::new(keys),
            events: Arc::default(),
            lookups: Arc::default(),
        })
    }

    /// The underlying connection (for administration commands and tests).
    #[must_use]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        match self.db.get_database_backend() {
            DbBackend::Postgres => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// Applies every pending migration, then (PostgreSQL) creates the roles and grants.
    ///
    /// # Errors
    /// [`StoreError::Migrate`] or [`StoreError::Roles`].
    pub async fn migrate(&self, roles: &RoleNames) -> Result<(), StoreError> {
        Migrator::up(&self.db, None)
            .await
            .map_err(StoreError::Migrate)?;
        roles::set_up(&self.db, roles).await?;
        Ok(())
    }

    /// Names of the migrations not applied yet.
    ///
    /// # Errors
    /// [`StoreError::Migrate`].
    pub async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        Ok(Migrator::get_pending_migrations_read_only(&self.db)
            .await
            .map_err(StoreError::Migrate)?
            .iter()
            .map(|m| m.name().to_owned())
            .collect())
    }

    /// Checks that an embedded (SQLite) database can be written: a read-only file or
    /// directory and a full disk are reported at start, not at the first user's write.
    /// PostgreSQL reports its own storage problems on each write (503).
    ///
    /// # Errors
    /// [`StoreError::NotWritable`].
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        if self.backend() != Backend::Sqlite {
            return Ok(());
        }
        let version = self
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA user_version",
            ))
            .await
            .map_err(StoreError::NotWritable)?
            .and_then(|row| row.try_get_by_index::<i32>(0).ok())
            .unwrap_or(0);
        // rewriting the header with the same value needs the file, its journal and room
        self.db
            .execute_unprepared(&format!("PRAGMA user_version = {version}"))
            .await
            .map_err(StoreError::NotWritable)?;
        Ok(())
    }

    /// Figures for monitoring: the mail outbox's depth and what was imported. Cheap on
    /// any size of data (record counts come from the batches, not from counting rows).
    ///
    /// # Errors
    /// [`PortError`] when the database cannot be asked.
    pub async fn figures(&self) -> Result<StoreFigures, PortError> {
        use sea_orm::{
            ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
        };

        use crate::entity::{import_batch, mail_outbox};
        let mail_pending = mail_outbox::Entity::find()
            .filter(mail_outbox::Column::AbandonedAt.is_null())
            .count(&self.db)
            .await
            .map_err(PortError::unavailable)?;
        let mail_abandoned = mail_outbox::Entity::find()
            .filter(mail_outbox::Column::AbandonedAt.is_not_null())
            .count(&self.db)
            .await
            .map_err(PortError::unavailable)?;
        let batches: Vec<(i64, time::OffsetDateTime)> = import_batch::Entity::find()
            .select_only()
            .column(import_batch::Column::RecordCount)
            .column(import_batch::Column::ImportedAt)
            .order_by_desc(import_batch::Column::ImportedAt)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(PortError::unavailable)?;
        Ok(StoreFigures {
            mail_pending,
            mail_abandoned,
            import_batches: batches.len() as u64,
            diploma_records: batches
                .iter()
                .map(|(n, _)| u64::try_from(*n).unwrap_or(0))
                .sum(),
            last_import: batches.first().map(|(_, at)| *at),
        })
    }

    /// Whether the store can serve: it answers, with an up-to-date schema.
    ///
    /// # Errors
    /// [`NotReady`].
    pub async fn ready(&self) -> Result<(), NotReady> {
        match self.pending_migrations().await {
            Ok(pending) if pending.is_empty() => Ok(()),
            Ok(pending) => Err(NotReady::PendingMigrations(pending.len())),
            Err(e) => Err(NotReady::StoreUnreachable(PortError::unavailable(e))),
        }
    }

    /// What the connected user may do to records (checked by the web server at start).
    ///
    /// # Errors
    /// [`PortError`] when the database cannot be asked.
    pub async fn record_write_access(&self) -> Result<RecordWriteAccess, PortError> {
        record_write_access_of(&self.db).await
    }

    /// The SQL of every hot-path query, as the adapters run it, for `EXPLAIN` checks.
    #[doc(hidden)]
    #[must_use]
    pub fn hot_path_queries(&self, sample: &HotPathSample) -> Vec<(&'static str, String)> {
        use sand_domain::staff::StaffScope;
        use sand_domain::staff::records::RecordQuery;
        use sea_orm::QueryTrait;
        let backend = self.db.get_database_backend();
        let key_hash = self.keys.lookup_hash(&sample.key);
        let key_hex: String = key_hash.iter().map(|b| format!("{b:02x}")).collect();
        // an académie's office, as the back office scopes a rectorat's agent
        let office = StaffScope {
            issuers: std::collections::BTreeSet::new(),
            academies: [sample.scope.academie].into(),
        };
        let mut queries = vec![
            (
                "attach lookup",
                records::attach_lookup(&sample.scope, &sample.identity, sample.batch)
                    .build(backend)
                    .to_string(),
            ),
            (
                "published batch of a scope",
                records::published_batch_lookup(&sample.scope)
                    .build(backend)
                    .to_string(),
            ),
            (
                "verify by key",
                links::key_lookup(key_hash).build(backend).to_string(),
            ),
            (
                "a profile's links",
                links::profile_links(sample.profile)
                    .build(backend)
                    .to_string(),
            ),
            (
                "verifications of links",
                links::events_of([sample.link]).build(backend).to_string(),
            ),
            (
                "exam office: name and birth date",
                desk::search_query(
                    &office,
                    &RecordQuery::NameAndBirthDate {
                        birth_name_key: sample.identity.birth_name.as_str().to_owned(),
                        birth_date: sample.identity.birth_date,
                    },
                    50,
                )
                .build(backend)
                .to_string(),
            ),
        ];
        if backend == sea_orm::DbBackend::Postgres {
            queries.push((
                "verify: a group of keys",
                verifying::lookup_group_sql()
                    .replace(
                        "$1::bytea[]",
                        &format!("ARRAY['\\x{key_hex}'::bytea, '\\x00'::bytea]"),
                    )
                    .replace(
                        "$2",
                        &format!("'{}'::uuid", sand_domain::record::RecordId::DECOY.0),
                    ),
            ));
        }
        if let Ok(number) = sand_domain::record::CandidateNumber::parse("10BACG0000001") {
            queries.push((
                "exam office: candidate number",
                desk::search_query(&office, &RecordQuery::CandidateNumber(number), 50)
                    .build(backend)
                    .to_string(),
            ));
        }
        queries
    }

    #[must_use]
    pub fn record_reader(&self) -> SeaOrmRecordReader {
        SeaOrmRecordReader(self.db.clone())
    }

    #[must_use]
    pub fn catalogue(&self) -> SeaOrmCatalogue {
        SeaOrmCatalogue(self.db.clone())
    }

    /// The import side's writer. The web composition never calls this.
    #[must_use]
    pub fn record_writer(&self) -> SeaOrmRecordWriter {
        SeaOrmRecordWriter(self.db.clone())
    }

    #[must_use]
    pub fn profiles(&self) -> SeaOrmProfileRepository {
        SeaOrmProfileRepository(self.clone())
    }

    #[must_use]
    pub fn links(&self) -> SeaOrmLinkRepository {
        SeaOrmLinkRepository(self.clone())
    }

    #[must_use]
    pub fn verification_log(&self) -> SeaOrmVerificationLog {
        SeaOrmVerificationLog(self.clone())
    }

    /// A verification's read: link, record and holder in one statement.
    #[must_use]
    pub fn verification_lookup(&self) -> SeaOrmVerificationLookup {
        SeaOrmVerificationLookup(self.clone())
    }

    /// The status of credentials issued from links.
    #[must_use]
    pub fn credential_status(&self) -> SeaOrmCredentialStatusStore {
        SeaOrmCredentialStatusStore(self.clone())
    }

    /// Wallet credential offers.
    #[must_use]
    pub fn credential_offers(&self) -> SeaOrmCredentialOfferStore {
        SeaOrmCredentialOfferStore(self.clone())
    }

    /// Share links.
    #[must_use]
    pub fn share_links(&self) -> SeaOrmShareLinkStore {
        SeaOrmShareLinkStore(self.clone())
    }

    /// Queues mails on their own (changes that cause mails queue them themselves).
    #[must_use]
    pub fn mailer(&self) -> SeaOrmMailer {
        SeaOrmMailer(self.clone())
    }

    /// Login sessions of the web server.
    #[must_use]
    pub fn sessions(&self) -> SeaOrmSessionStore {
        SeaOrmSessionStore(self.clone())
    }

    /// The outbox, for the background mail sender.
    #[must_use]
    pub fn mail_queue(&self) -> SeaOrmMailQueue {
        SeaOrmMailQueue(self.clone())
    }

    /// The back office's staff directory.
    #[must_use]
    pub fn staff(&self) -> SeaOrmStaffDirectory {
        SeaOrmStaffDirectory(self.clone())
    }

    /// The exam office's desk (the back office's level 2).
    #[must_use]
    pub fn exam_office_desk(&self) -> SeaOrmExamOfficeDesk {
        SeaOrmExamOfficeDesk(self.clone())
    }

    /// The back office's audit log.
    #[must_use]
    pub fn audit_log(&self) -> SeaOrmAuditLog {
        SeaOrmAuditLog(self.clone())
    }
}

/// The store is what readiness and the monitoring figures depend on (the signing key is
/// loaded before the server starts, or it would not have started).
#[async_trait::async_trait]
impl ServiceHealth for Store {
    async fn ready(&self) -> Result<(), NotReady> {
        Store::ready(self).await
    }

    async fn figures(&self) -> Result<StoreFigures, PortError> {
        Store::figures(self).await
    }
}
