//! The initial load: many batches into an empty `diploma_record`, in one transaction, with
//! the table's indexes and foreign keys built once at the end instead of kept up to date
//! row by row.
//!
//! Maintaining three B-tree indexes and a foreign-key check per row is what bounds a
//! national load (see docs/benchmarks.md). PostgreSQL's own advice for populating a
//! database is to load first and index after; this is that, made safe:
//! - one transaction: the definitions are read from the catalogue, the indexes and
//!   foreign keys dropped, every batch copied, then everything rebuilt exactly as it was,
//!   and committed. A crash or a kill at any point rolls all of it back, the dropped
//!   indexes included (PostgreSQL's DDL is transactional): nothing is visible before the
//!   commit;
//! - each batch in a savepoint: a refused batch is rolled back alone, as with one
//!   transaction per batch;
//! - only into an empty `diploma_record`, locked for the load: rebuilding the indexes of
//!   records already served would block the service for the whole load;
//! - only by the owner of the tables (dropping an index needs it), never by the importer
//!   role the daily imports use.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::diploma::DiplomaScope;
use sand_domain::ports::{BatchStaging, RecordWriter};
use sand_domain::record::import::BatchHeader;
use sand_domain::record::{BatchId, ImportBatch};
use sea_orm::sqlx::{self, Row};
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::Mutex;
use tracing::{debug, instrument};

use crate::entity::import_batch;
use crate::error::pg;
use crate::mapping::batch_from;
use crate::staging::{LoadClosed, LoadState, SeaOrmBatchStaging, SharedLoad};
use crate::{StoreError, StoreSettings};

/// How long the load waits for the record table's lock before giving up.
const LOCK_WAIT: &str = "10s";

/// The foreign keys and unique constraints on `diploma_record` or pointing at it, and its
/// other indexes: (kind, name, drop statement, create statement). `kind` orders them:
/// foreign keys are dropped first and created last.
const DEFERRED_OBJECTS: &str = "\
    SELECT CASE c.contype WHEN 'f' THEN 'foreign key' ELSE 'constraint' END, c.conname::text, \
           format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname), \
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, \
                  pg_get_constraintdef(c.oid)) \
    FROM pg_constraint AS c \
    WHERE c.contype IN ('p', 'u', 'f') \
      AND (c.conrelid = 'diploma_record'::regclass OR c.confrelid = 'diploma_record'::regclass) \
    UNION ALL \
    SELECT 'index', x.relname::text, format('DROP INDEX %s', i.indexrelid::regclass), \
           pg_get_indexdef(i.indexrelid) \
    FROM pg_index AS i JOIN pg_class AS x ON x.oid = i.indexrelid \
    WHERE i.indrelid = 'diploma_record'::regclass \
      AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k \
                      WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))";

/// Whether the session may drop the indexes: it owns every table involved.
const OWNS_TABLES: &str = "\
    SELECT bool_and(pg_has_role(current_user, t.relowner, 'USAGE')) \
    FROM pg_class AS t \
    WHERE t.oid = 'diploma_record'::regclass \
       OR t.oid IN (SELECT conrelid FROM pg_constraint \
                    WHERE confrelid = 'diploma_record'::regclass)";

/// $1 académie, $2 kind, $3 session.
const FIND_BATCH: &str = "SELECT id, exam_office, diploma_kind, session, academie, \
    source_system, exported_at, imported_at, complete, record_count, fingerprint, \
    signature_key_id, signature FROM import_batch \
    WHERE academie = $1 AND diploma_kind = $2 AND session = $3";

/// Why an initial load could not start.
#[derive(Debug, thiserror::Error)]
pub enum BulkLoadError {
    #[error("the initial load needs PostgreSQL")]
    NotPostgres,
    #[error("diploma_record already holds {0} records: the initial load only fills an empty table")]
    NotEmpty(i64),
    #[error("the initial load rebuilds indexes: connect it as the owner of the tables")]
    NotOwner,
    #[error("diploma_record is in use (another import, or a long query)")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// What an index or key rebuilt at the end was, and how long it took.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub kind: &'static str,
    pub name: String,
    pub took: Duration,
}

/// An object dropped for the load, rebuilt at its end.
#[derive(Debug, Clone)]
struct Deferred {
    kind: &'static str,
    name: String,
    create: String,
}

/// An initial load under way: a [`RecordWriter`] whose batches all commit together at
/// [`BulkLoad::finish`].
pub struct BulkLoad {
    load: SharedLoad,
    deferred: Vec<Deferred>,
    db: DatabaseConnection,
}

impl std::fmt::Debug for BulkLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkLoad")
            .field("deferred", &self.deferred)
            .finish_non_exhaustive()
    }
}

impl BulkLoad {
    /// Opens the load's transaction, locks `diploma_record`, checks it is empty and that
    /// this session owns it, and drops its indexes and foreign keys (until the commit).
    ///
    /// # Errors
    /// [`BulkLoadError`]; nothing was changed.
    #[instrument(skip_all, err(level = "debug"))]
    pub async fn start(settings: &StoreSettings) -> Result<Self, BulkLoadError> {
        let db = crate::open(settings).await?;
        if db.get_database_backend() != DbBackend::Postgres {
            return Err(BulkLoadError::NotPostgres);
        }
        let mut tx = db
            .get_postgres_connection_pool()
            .begin()
            .await
            .map_err(pg)?;
        let owner: Option<bool> = sqlx::query_scalar(OWNS_TABLES)
            .fetch_one(&mut *tx)
            .await
            .map_err(pg)?;
        if owner != Some(true) {
            return Err(BulkLoadError::NotOwner);
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SET LOCAL lock_timeout = '{LOCK_WAIT}'"
        )))
        .execute(&mut *tx)
        .await
        .map_err(pg)?;
        if let Err(e) = sqlx::query("LOCK TABLE diploma_record IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
        {
            let busy = e
                .as_database_error()
                .and_then(sqlx::error::DatabaseError::code)
                .is_some_and(|code| code == "55P03");
            return Err(if busy {
                BulkLoadError::Busy
            } else {
                pg(e).into()
            });
        }
        let stored: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT 1 FROM diploma_record LIMIT 1) AS stored",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(pg)?;
        if stored > 0 {
            let count: i64 = sqlx::query_scalar("SELECT count(*) FROM diploma_record")
                .fetch_one(&mut *tx)
                .await
                .map_err(pg)?;
            return Err(BulkLoadError::NotEmpty(count));
        }
        let rows = sqlx::query(DEFERRED_OBJECTS)
            .fetch_all(&mut *tx)
            .await
            .map_err(pg)?;
        let mut objects: Vec<(Deferred, String)> = Vec::with_capacity(rows.len());
        for row in rows {
            let kind: String = row.try_get(0).map_err(pg)?;
            let kind = match kind.as_str() {
                "foreign key" => "foreign key",
                "constraint" => "constraint",
                _ => "index",
            };
            objects.push((
                Deferred {
                    kind,
                    name: row.try_get(1).map_err(pg)?,
                    create: row.try_get(3).map_err(pg)?,
                },
                row.try_get(2).map_err(pg)?,
            ));
        }
        // foreign keys first: they depend on the unique indexes they point at
        objects.sort_by_key(|(d, _)| (d.kind != "foreign key", d.name.clone()));
        for (object, drop) in &objects {
            // the catalogue's own definitions, names quoted by format('%I')
            sqlx::query(sqlx::AssertSqlSafe(drop.as_str()))
                .execute(&mut *tx)
                .await
                .map_err(pg)?;
            debug!(kind = object.kind, name = %object.name, "deferred until the end of the load");
        }
        // created in the reverse order: indexes and keys, then the foreign keys
        let deferred = objects.into_iter().rev().map(|(d, _)| d).collect();
        Ok(Self {
            load: SharedLoad(Arc::new(Mutex::new(LoadState {
                tx: Some(tx),
                savepoint_open: false,
            }))),
            deferred,
            db,
        })
    }

    /// Rebuilds every index and foreign key dropped at the start (each build sorted, with
    /// `maintenance_work_mem` of `index_memory_mb`), refreshes the planner's statistics
    /// and commits the load. `on_step` is told each object before it is built.
    ///
    /// # Errors
    /// [`PortError`]; the whole load is rolled back.
    #[instrument(skip_all, err(level = "debug"))]
    pub async fn finish(
        &self,
        index_memory_mb: u32,
        mut on_step: impl FnMut(&str, &str) + Send,
    ) -> Result<Vec<Rebuilt>, PortError> {
        let mut state = self.load.state().await;
        let left_open = state.savepoint_open;
        let mut tx = state
            .tx
            .take()
            .ok_or_else(|| PortError::unexpected(LoadClosed))?;
        if left_open {
            sqlx::query("ROLLBACK TO SAVEPOINT sand_batch")
                .execute(&mut *tx)
                .await
                .map_err(pg)?;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SET LOCAL maintenance_work_mem = '{}MB'",
            index_memory_mb.max(1)
        )))
        .execute(&mut *tx)
        .await
        .map_err(pg)?;
        let mut rebuilt = Vec::with_capacity(self.deferred.len());
        for object in &self.deferred {
            on_step(object.kind, &object.name);
            let started = Instant::now();
            sqlx::query(sqlx::AssertSqlSafe(object.create.as_str()))
                .execute(&mut *tx)
                .await
                .map_err(pg)?;
            let took = started.elapsed();
            debug!(kind = object.kind, name = %object.name, took_ms = took.as_millis() as u64, "rebuilt");
            rebuilt.push(Rebuilt {
                kind: object.kind,
                name: object.name.clone(),
                took,
            });
        }
        on_step("statistics", "diploma_record");
        sqlx::query("ANALYZE diploma_record, import_batch")
            .execute(&mut *tx)
            .await
            .map_err(pg)?;
        on_step("commit", "");
        tx.commit().await.map_err(pg)?;
        Ok(rebuilt)
    }

    /// Rolls the whole load back.
    ///
    /// # Errors
    /// [`PortError`] (the server rolls back anyway when the connection closes).
    pub async fn abandon(&self) -> Result<(), PortError> {
        let tx = self.load.state().await.tx.take();
        match tx {
            Some(tx) => tx.rollback().await.map_err(pg),
            None => Ok(()),
        }
    }

    /// Closes the connection pool.
    pub async fn close(self) {
        let _ = self.db.close().await;
    }
}

#[async_trait]
impl RecordWriter for BulkLoad {
    #[instrument(skip_all, err(level = "debug"), fields(scope = %scope))]
    async fn find_batch(&self, scope: &DiplomaScope) -> Result<Option<ImportBatch>, PortError> {
        let mut state = self.load.0.lock().await;
        let tx = state
            .tx
            .as_mut()
            .ok_or_else(|| PortError::unexpected(LoadClosed))?;
        let row = sqlx::query(FIND_BATCH)
            .bind(scope.academie.code())
            .bind(scope.kind.code())
            .bind(i32::from(scope.session.year()))
            .fetch_optional(&mut **tx)
            .await
            .map_err(pg)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let model = import_batch::Model {
            id: row.try_get(0).map_err(pg)?,
            exam_office: row.try_get(1).map_err(pg)?,
            diploma_kind: row.try_get(2).map_err(pg)?,
            session: row.try_get(3).map_err(pg)?,
            academie: row.try_get(4).map_err(pg)?,
            source_system: row.try_get(5).map_err(pg)?,
            exported_at: row.try_get(6).map_err(pg)?,
            imported_at: row.try_get(7).map_err(pg)?,
            complete: row.try_get(8).map_err(pg)?,
            record_count: row.try_get(9).map_err(pg)?,
            fingerprint: row.try_get(10).map_err(pg)?,
            signature_key_id: row.try_get(11).map_err(pg)?,
            signature: row.try_get(12).map_err(pg)?,
        };
        batch_from(model).map(Some)
    }

    #[instrument(skip_all, err(level = "debug"), fields(scope = %header.scope))]
    async fn begin(&self, header: &BatchHeader) -> Result<Box<dyn BatchStaging>, PortError> {
        Ok(Box::new(
            SeaOrmBatchStaging::begin_in(self.load.clone(), header).await?,
        ))
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn publish_batch(&self, id: BatchId) -> Result<(), PortError> {
        let mut state = self.load.0.lock().await;
        let tx = state
            .tx
            .as_mut()
            .ok_or_else(|| PortError::unexpected(LoadClosed))?;
        sqlx::query("UPDATE import_batch SET complete = true WHERE id = $1")
            .bind(id.0)
            .execute(&mut **tx)
            .await
            .map_err(pg)?;
        Ok(())
    }
}
