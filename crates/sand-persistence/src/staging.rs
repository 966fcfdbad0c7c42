//! Batch staging and the set-based merge of an import.
//!
//! A batch is written in one transaction (PostgreSQL: `COPY … FROM STDIN`; SQLite:
//! prepared multi-row inserts), in one of two ways:
//! - **first batch of its scope**: the batch row is inserted at the start and the records
//!   go straight into `diploma_record` (nothing to merge with);
//! - **a scope already stored**: the records go into a temporary `sand_staging` table,
//!   then five set-based statements merge it into `import_batch` and `diploma_record`
//!   and withdraw what disappeared.
//!
//! Dropping the staging without commit rolls everything back, as a crash does.

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::diploma::{Mention, Speciality};
use sand_domain::identity::{BirthPlace, UsageName};
use sand_domain::ports::BatchStaging;
use sand_domain::record::import::{ApplyReport, BatchHeader, CheckedBatch};
use sand_domain::record::{BatchId, Ine, NewRecord};
use sea_orm::sqlx::{self, Postgres};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, Statement, TransactionTrait, Value,
};
use std::sync::Arc;
use time::{Date, OffsetDateTime};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{pg, port};
use crate::mapping::{civility_code, content_hash, content_hash_hex, first_names_to_row};

/// Rows per `CopyData` message on PostgreSQL.
const COPY_ROWS_PER_MESSAGE: usize = 250;

/// Rows per multi-row INSERT on SQLite (15 columns: well under its 32 766 parameters).
const SQLITE_ROWS_PER_INSERT: usize = 500;

const CREATE_STAGING_POSTGRES: &str = "CREATE TEMP TABLE sand_staging (\
    id uuid NOT NULL, candidate_number text NOT NULL, civility text, birth_name text NOT NULL, \
    birth_name_key text NOT NULL, first_names text NOT NULL, birth_date date NOT NULL, \
    birth_place text, usage_name text, ine text, speciality text, mention text, \
    deliberation_date date NOT NULL, content_hash text NOT NULL, birth_place_code text) ON COMMIT DROP";

const CREATE_STAGING_SQLITE: &str = "CREATE TEMP TABLE sand_staging (\
    id BLOB NOT NULL, candidate_number TEXT NOT NULL, civility TEXT, birth_name TEXT NOT NULL, \
    birth_name_key TEXT NOT NULL, first_names TEXT NOT NULL, birth_date TEXT NOT NULL, \
    birth_place TEXT, usage_name TEXT, ine TEXT, speciality TEXT, mention TEXT, \
    deliberation_date TEXT NOT NULL, content_hash TEXT NOT NULL, birth_place_code TEXT)";

const INDEX_STAGING_SQLITE: &str =
    "CREATE INDEX temp.ix_sand_staging_candidate ON sand_staging (candidate_number)";

const STAGING_COLUMNS: &str = "id, candidate_number, civility, birth_name, birth_name_key, \
    first_names, birth_date, birth_place, usage_name, ine, speciality, mention, \
    deliberation_date, content_hash, birth_place_code";

const RECORD_COLUMNS: &str = "id, batch_id, diploma_kind, session, academie, exam_office, \
    candidate_number, civility, birth_name, birth_name_key, first_names, birth_date, \
    birth_place, usage_name, ine, speciality, mention, deliberation_date, content_hash, \
    birth_place_code";

const COPY_RECORDS: &str = "COPY diploma_record (id, batch_id, diploma_kind, session, \
    academie, exam_office, candidate_number, civility, birth_name, birth_name_key, \
    first_names, birth_date, birth_place, usage_name, ine, speciality, mention, \
    deliberation_date, content_hash, birth_place_code) FROM STDIN (FORMAT binary)";

/// Rows per multi-row INSERT into `diploma_record` on SQLite (20 columns).
const SQLITE_RECORDS_PER_INSERT: usize = 500;

/// $1 académie, $2 kind, $3 session.
const FIND_SCOPE: &str = "SELECT id FROM import_batch \
    WHERE academie = $1 AND diploma_kind = $2 AND session = $3";

/// Same parameters as [`UPSERT_BATCH`]; fails if the scope was stored meanwhile.
const INSERT_BATCH: &str = "INSERT INTO import_batch (id, exam_office, diploma_kind, session, \
    academie, source_system, exported_at, imported_at, complete, record_count, fingerprint, \
    signature_key_id, signature) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// $1 batch, $2 records, $3 imported at.
const FINISH_BATCH: &str =
    "UPDATE import_batch SET record_count = $2, imported_at = $3 WHERE id = $1";

const COPY_STAGING: &str = "COPY sand_staging (id, candidate_number, civility, birth_name, \
    birth_name_key, first_names, birth_date, birth_place, usage_name, ine, speciality, mention, \
    deliberation_date, content_hash, birth_place_code) FROM STDIN (FORMAT binary)";

/// $1 id, $2 exam office, $3 kind, $4 session, $5 académie, $6 source, $7 exported,
/// $8 imported, $9 complete, $10 count, $11 fingerprint, $12 signing key id, $13 signature.
const UPSERT_BATCH: &str = "INSERT INTO import_batch (id, exam_office, diploma_kind, session, \
    academie, source_system, exported_at, imported_at, complete, record_count, fingerprint, \
    signature_key_id, signature) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
    ON CONFLICT (academie, diploma_kind, session) DO UPDATE SET \
    exam_office = excluded.exam_office, source_system = excluded.source_system, \
    exported_at = excluded.exported_at, imported_at = excluded.imported_at, \
    complete = excluded.complete, record_count = excluded.record_count, \
    fingerprint = excluded.fingerprint, signature_key_id = excluded.signature_key_id, \
    signature = excluded.signature \
    RETURNING id";

/// Tells the holders of the links about to be withdrawn, through the mail outbox (kind
/// `record_withdrawn`, see `outbox.rs`), in the import's transaction.
/// $1 batch, $2 now, $3 kind, $4 session, $5 académie.
macro_rules! notify_withdrawn {
    ($id:literal) => {
        concat!(
            "INSERT INTO mail_outbox (id, kind, recipient, diploma_kind, session, academie, \
             created_at, attempts, next_attempt_at) \
             SELECT ",
            $id,
            ", 'record_withdrawn', p.email, $3, $4, $5, $2, 0, $2 \
             FROM link AS l JOIN profile AS p ON p.id = l.profile_id \
             WHERE l.withdrawn_at IS NULL AND l.record_id IN (\
               SELECT r.id FROM diploma_record AS r WHERE r.batch_id = $1 AND r.withdrawn_at IS NULL \
               AND NOT EXISTS (SELECT 1 FROM sand_staging AS s WHERE s.candidate_number = r.candidate_number))"
        )
    };
}
const NOTIFY_WITHDRAWN_POSTGRES: &str = notify_withdrawn!("gen_random_uuid()");
const NOTIFY_WITHDRAWN_SQLITE: &str = notify_withdrawn!("randomblob(16)");

/// $1 batch: the batch's lock, for the transaction (attaches take it shared).
const LOCK_BATCH_EXCLUSIVE: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))";

/// $1 batch, $2 now.
const WITHDRAW_LINKS: &str = "UPDATE link SET withdrawn_at = $2 \
    WHERE withdrawn_at IS NULL AND record_id IN (\
      SELECT r.id FROM diploma_record AS r WHERE r.batch_id = $1 AND r.withdrawn_at IS NULL \
      AND NOT EXISTS (SELECT 1 FROM sand_staging AS s WHERE s.candidate_number = r.candidate_number))";

/// $1 batch, $2 now.
const WITHDRAW_RECORDS: &str = "UPDATE diploma_record SET withdrawn_at = $2 \
    WHERE batch_id = $1 AND withdrawn_at IS NULL \
    AND NOT EXISTS (SELECT 1 FROM sand_staging AS s \
                    WHERE s.candidate_number = diploma_record.candidate_number)";

/// $1 batch, $2 exam office.
const UPDATE_CHANGED: &str = "UPDATE diploma_record AS r SET exam_office = $2, \
    civility = s.civility, birth_name = s.birth_name, birth_name_key = s.birth_name_key, \
    first_names = s.first_names, birth_date = s.birth_date, birth_place = s.birth_place, \
    usage_name = s.usage_name, ine = s.ine, speciality = s.speciality, mention = s.mention, \
    deliberation_date = s.deliberation_date, content_hash = s.content_hash, \
    birth_place_code = s.birth_place_code, withdrawn_at = NULL \
    FROM sand_staging AS s \
    WHERE r.batch_id = $1 AND r.candidate_number = s.candidate_number \
    AND (r.content_hash <> s.content_hash OR r.withdrawn_at IS NOT NULL)";

/// $1 batch, $2 exam office, $3 kind, $4 session, $5 académie.
const INSERT_NEW: &str = "INSERT INTO diploma_record (id, batch_id, diploma_kind, session, \
    academie, exam_office, candidate_number, civility, birth_name, birth_name_key, first_names, \
    birth_date, birth_place, usage_name, ine, speciality, mention, deliberation_date, \
    content_hash, birth_place_code, withdrawn_at) \
    SELECT s.id, $1, $3, $4, $5, $2, s.candidate_number, s.civility, s.birth_name, \
    s.birth_name_key, s.first_names, s.birth_date, s.birth_place, s.usage_name, s.ine, \
    s.speciality, s.mention, s.deliberation_date, s.content_hash, s.birth_place_code, NULL \
    FROM sand_staging AS s WHERE NOT EXISTS (\
      SELECT 1 FROM diploma_record AS r WHERE r.batch_id = $1 AND r.candidate_number = s.candidate_number)";

/// A parameter of the merge statements, bound the same way on both backends.
#[derive(Debug, Clone)]
enum Arg {
    Uuid(Uuid),
    Text(String),
    Int(i32),
    BigInt(i64),
    Bool(bool),
    DateTime(OffsetDateTime),
    OptText(Option<String>),
}

impl From<Arg> for Value {
    fn from(arg: Arg) -> Self {
        match arg {
            Arg::Uuid(v) => v.into(),
            Arg::Text(v) => v.into(),
            Arg::Int(v) => v.into(),
            Arg::BigInt(v) => v.into(),
            Arg::Bool(v) => v.into(),
            Arg::DateTime(v) => v.into(),
            Arg::OptText(v) => v.into(),
        }
    }
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    for arg in args {
        query = match arg {
            Arg::Uuid(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
            Arg::Int(v) => query.bind(v),
            Arg::BigInt(v) => query.bind(v),
            Arg::Bool(v) => query.bind(v),
            Arg::DateTime(v) => query.bind(v),
            Arg::OptText(v) => query.bind(v),
        };
    }
    query
}

/// One transaction on either backend.
enum Tx {
    Sqlite(DatabaseTransaction),
    Postgres(sqlx::Transaction<'static, Postgres>),
    /// A savepoint in the one transaction of an initial load (see `bulk.rs`).
    Savepoint(SharedLoad),
}

/// The PostgreSQL transaction a statement runs in: the staging's own, or the initial
/// load's (locked for the statement).
enum PgTx<'a> {
    Own(&'a mut sqlx::Transaction<'static, Postgres>),
    Shared(MappedMutexGuard<'a, sqlx::Transaction<'static, Postgres>>),
}

impl std::ops::Deref for PgTx<'_> {
    type Target = sqlx::Transaction<'static, Postgres>;
    fn deref(&self) -> &Self::Target {
        match self {
            Self::Own(tx) => tx,
            Self::Shared(tx) => tx,
        }
    }
}

impl std::ops::DerefMut for PgTx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Self::Own(tx) => tx,
            Self::Shared(tx) => tx,
        }
    }
}

impl Tx {
    /// The PostgreSQL transaction, or `None` on SQLite.
    async fn pg(&mut self) -> Result<Option<PgTx<'_>>, PortError> {
        match self {
            Self::Sqlite(_) => Ok(None),
            Self::Postgres(tx) => Ok(Some(PgTx::Own(tx))),
            Self::Savepoint(load) => load.transaction().await.map(|tx| Some(PgTx::Shared(tx))),
        }
    }

    /// Runs a statement written with `$n` placeholders; returns the rows affected.
    async fn execute(&mut self, sql: &'static str, args: Vec<Arg>) -> Result<u64, PortError> {
        match self {
            Self::Sqlite(txn) => {
                let values: Vec<Value> = args.into_iter().map(Value::from).collect();
                let sql = sql.replace('$', "?");
                let result = txn
                    .execute_raw(Statement::from_sql_and_values(
                        DbBackend::Sqlite,
                        sql,
                        values,
                    ))
                    .await
                    .map_err(port)?;
                Ok(result.rows_affected())
            }
            Self::Postgres(_) | Self::Savepoint(_) => {
                let mut tx = self.pg().await?.ok_or_else(not_postgres)?;
                let result = bind_all(sqlx::query(sql), args)
                    .execute(&mut **tx)
                    .await
                    .map_err(pg)?;
                Ok(result.rows_affected())
            }
        }
    }

    async fn returning_uuid(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Uuid, PortError> {
        self.optional_uuid(sql, args)
            .await?
            .ok_or_else(|| crate::error::corrupt("batch upsert result"))
    }

    async fn optional_uuid(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Option<Uuid>, PortError> {
        match self {
            Self::Sqlite(txn) => {
                let values: Vec<Value> = args.into_iter().map(Value::from).collect();
                let sql = sql.replace('$', "?");
                let row = txn
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Sqlite,
                        sql,
                        values,
                    ))
                    .await
                    .map_err(port)?;
                row.map(|row| row.try_get_by_index::<Uuid>(0).map_err(port))
                    .transpose()
            }
            Self::Postgres(_) | Self::Savepoint(_) => {
                use sqlx::Row;
                let mut tx = self.pg().await?.ok_or_else(not_postgres)?;
                let row = bind_all(sqlx::query(sql), args)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(pg)?;
                row.map(|row| row.try_get::<Uuid, _>(0).map_err(pg))
                    .transpose()
            }
        }
    }
}

/// Where a batch's records go.
enum Target {
    /// The temporary staging table, merged at commit.
    Staging,
    /// Straight into `diploma_record`: the first batch of its scope, whose row was
    /// inserted at the start of the transaction.
    Records {
        batch_id: Uuid,
        /// The constant columns after the id, as binary `COPY` fields.
        copy_constants: Vec<u8>,
    },
}

/// A batch being staged, on either backend.
pub(crate) struct SeaOrmBatchStaging {
    tx: Option<Tx>,
    target: Target,
    header: BatchHeader,
    staged: u64,
}

/// The batch row's values, in [`UPSERT_BATCH`] / [`INSERT_BATCH`] parameter order.
fn batch_args(
    id: Uuid,
    header: &BatchHeader,
    imported_at: OffsetDateTime,
    records: u64,
) -> Vec<Arg> {
    vec![
        Arg::Uuid(id),
        Arg::Text(header.exam_office.code().to_owned()),
        Arg::Text(header.scope.kind.code().to_owned()),
        Arg::Int(i32::from(header.scope.session.year())),
        Arg::Text(header.scope.academie.code().to_owned()),
        Arg::Text(header.source_system.code().to_owned()),
        Arg::DateTime(header.exported_at),
        Arg::DateTime(imported_at),
        Arg::Bool(header.complete),
        Arg::BigInt(i64::try_from(records).unwrap_or(i64::MAX)),
        Arg::Text(header.fingerprint.to_hex()),
        Arg::OptText(header.signature.as_ref().map(|s| s.key_id.clone())),
        Arg::OptText(header.signature.as_ref().map(|s| s.signature.clone())),
    ]
}

impl SeaOrmBatchStaging {
    /// Opens the transaction and the staging table.
    pub(crate) async fn begin(
        db: &sea_orm::DatabaseConnection,
        header: &BatchHeader,
    ) -> Result<Self, PortError> {
        let tx = match db.get_database_backend() {
            DbBackend::Postgres => Tx::Postgres(
                db.get_postgres_connection_pool()
                    .begin()
                    .await
                    .map_err(pg)?,
            ),
            _ => Tx::Sqlite(db.begin().await.map_err(port)?),
        };
        Self::prepare(tx, header).await
    }

    /// Opens a savepoint in the transaction of an initial load, and the staging in it.
    pub(crate) async fn begin_in(
        load: SharedLoad,
        header: &BatchHeader,
    ) -> Result<Self, PortError> {
        load.open_savepoint().await?;
        Self::prepare(Tx::Savepoint(load), header).await
    }

    /// Finds whether the scope is stored, and prepares where its records go.
    async fn prepare(mut tx: Tx, header: &BatchHeader) -> Result<Self, PortError> {
        let scope = &header.scope;
        let stored = tx
            .optional_uuid(
                FIND_SCOPE,
                vec![
                    Arg::Text(scope.academie.code().to_owned()),
                    Arg::Text(scope.kind.code().to_owned()),
                    Arg::Int(i32::from(scope.session.year())),
                ],
            )
            .await?;
        let target = if stored.is_some() {
            match &mut tx {
                Tx::Postgres(_) | Tx::Savepoint(_) => {
                    let mut tx = tx.pg().await?.ok_or_else(not_postgres)?;
                    // an earlier batch of the same initial load may have left one
                    sqlx::query("DROP TABLE IF EXISTS pg_temp.sand_staging")
                        .execute(&mut **tx)
                        .await
                        .map_err(pg)?;
                    sqlx::query(CREATE_STAGING_POSTGRES)
                        .execute(&mut **tx)
                        .await
                        .map_err(pg)?;
                }
                Tx::Sqlite(txn) => {
                    txn.execute_unprepared("DROP TABLE IF EXISTS temp.sand_staging")
                        .await
                        .map_err(port)?;
                    txn.execute_unprepared(CREATE_STAGING_SQLITE)
                        .await
                        .map_err(port)?;
                    // SQLite has no hash anti-join: without this index each NOT EXISTS
                    // of the merge scans the whole staging table (O(n²))
                    txn.execute_unprepared(INDEX_STAGING_SQLITE)
                        .await
                        .map_err(port)?;
                }
            }
            Target::Staging
        } else {
            let batch_id = Uuid::now_v7();
            let now = OffsetDateTime::now_utc();
            tx.execute(
                INSERT_BATCH,
                batch_args(batch_id, header, now, header.declared_record_count),
            )
            .await?;
            Target::Records {
                batch_id,
                copy_constants: record_constants(batch_id, header),
            }
        };
        Ok(Self {
            tx: Some(tx),
            target,
            header: header.clone(),
            staged: 0,
        })
    }

    /// Merges the staging table into the stored batch of the scope (see the module).
    async fn merge(
        &mut self,
        header: &BatchHeader,
        staged: u64,
        now: OffsetDateTime,
    ) -> Result<ApplyReport, PortError> {
        let exam_office = Arg::Text(header.exam_office.code().to_owned());
        let kind = Arg::Text(header.scope.kind.code().to_owned());
        let session = Arg::Int(i32::from(header.scope.session.year()));
        let academie = Arg::Text(header.scope.academie.code().to_owned());
        let tx = self.tx()?;
        if let Some(mut tx) = tx.pg().await? {
            sqlx::query("ANALYZE sand_staging")
                .execute(&mut **tx)
                .await
                .map_err(pg)?;
        }
        let batch_id = tx
            .returning_uuid(
                UPSERT_BATCH,
                batch_args(Uuid::now_v7(), header, now, staged),
            )
            .await?;
        let b = Arg::Uuid(batch_id);
        if !matches!(tx, Tx::Sqlite(_)) {
            // attaches to records of this batch wait until the import is applied, and an
            // attach under way finishes first: either way its link sees the withdrawal
            // (see `links.rs`)
            tx.execute(LOCK_BATCH_EXCLUSIVE, vec![b.clone()]).await?;
        }
        let notify = match tx {
            Tx::Postgres(_) | Tx::Savepoint(_) => NOTIFY_WITHDRAWN_POSTGRES,
            Tx::Sqlite(_) => NOTIFY_WITHDRAWN_SQLITE,
        };
        tx.execute(
            notify,
            vec![
                b.clone(),
                Arg::DateTime(now),
                kind.clone(),
                session.clone(),
                academie.clone(),
            ],
        )
        .await?;
        let links_withdrawn = tx
            .execute(WITHDRAW_LINKS, vec![b.clone(), Arg::DateTime(now)])
            .await?;
        let removed = tx
            .execute(WITHDRAW_RECORDS, vec![b.clone(), Arg::DateTime(now)])
            .await?;
        let updated = tx
            .execute(UPDATE_CHANGED, vec![b.clone(), exam_office.clone()])
            .await?;
        let inserted = tx
            .execute(INSERT_NEW, vec![b, exam_office, kind, session, academie])
            .await?;
        Ok(ApplyReport {
            batch: BatchId(batch_id),
            inserted,
            updated,
            unchanged: staged.saturating_sub(inserted + updated),
            removed,
            links_withdrawn,
        })
    }

    fn tx(&mut self) -> Result<&mut Tx, PortError> {
        self.tx
            .as_mut()
            .ok_or_else(|| PortError::unexpected(StagingClosed))
    }
}

async fn sqlite_execute(
    txn: &DatabaseTransaction,
    sql: String,
    values: Vec<Value>,
) -> Result<(), PortError> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        sql,
        values,
    ))
    .await
    .map_err(port)?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error("the batch staging was already committed or aborted")]
struct StagingClosed;

#[derive(Debug, thiserror::Error)]
#[error("a PostgreSQL statement was sent to SQLite")]
struct NotPostgres;

fn not_postgres() -> PortError {
    PortError::unexpected(NotPostgres)
}

/// The staging row of a record, column by column, in [`STAGING_COLUMNS`] order.
struct StagingRow {
    id: Uuid,
    candidate_number: String,
    civility: Option<String>,
    birth_name: String,
    birth_name_key: String,
    first_names: String,
    birth_date: Date,
    birth_place: Option<String>,
    usage_name: Option<String>,
    ine: Option<String>,
    speciality: Option<String>,
    mention: Option<String>,
    deliberation_date: Date,
    content_hash: String,
    birth_place_code: Option<String>,
}

impl StagingRow {
    fn of(record: &NewRecord) -> Self {
        let h = &record.holder;
        let a = &record.award;
        Self {
            id: Uuid::now_v7(),
            candidate_number: record.candidate_number.as_str().to_owned(),
            civility: h.civility.map(|c| civility_code(c).to_owned()),
            birth_name: h.identity.birth_name.as_str().to_owned(),
            birth_name_key: h.identity.birth_name.match_key(),
            first_names: first_names_to_row(&h.identity.first_names),
            birth_date: h.identity.birth_date.date(),
            birth_place: h
                .identity
                .birth_place
                .as_ref()
                .map(|p| BirthPlace::as_str(p).to_owned()),
            usage_name: h
                .usage_name
                .as_ref()
                .map(|u| UsageName::as_str(u).to_owned()),
            ine: h.ine.as_ref().map(|i| Ine::as_str(i).to_owned()),
            speciality: a
                .speciality
                .as_ref()
                .map(|s| Speciality::as_str(s).to_owned()),
            mention: a.mention.map(|m| Mention::code(m).to_owned()),
            deliberation_date: a.deliberation_date,
            content_hash: content_hash(record),
            birth_place_code: h.identity.birth_place_code.map(|c| c.as_str().to_owned()),
        }
    }

    fn values(self) -> [Value; 15] {
        [
            self.id.into(),
            self.candidate_number.into(),
            self.civility.into(),
            self.birth_name.into(),
            self.birth_name_key.into(),
            self.first_names.into(),
            self.birth_date.into(),
            self.birth_place.into(),
            self.usage_name.into(),
            self.ine.into(),
            self.speciality.into(),
            self.mention.into(),
            self.deliberation_date.into(),
            self.content_hash.into(),
            self.birth_place_code.into(),
        ]
    }
}

/// PostgreSQL's binary `COPY`: the header of the data, and the mark of its end.
const BINARY_COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
const BINARY_COPY_TRAILER: &[u8] = &(-1i16).to_be_bytes();

/// The fields of a binary `COPY` tuple, each as PostgreSQL's `recv` function of its
/// column's type reads it: a length then the bytes, or -1 for null. Binary rather than
/// text: nothing to escape on our side, nothing to parse on the server's.
struct BinaryTuple<'a>(&'a mut Vec<u8>);

impl BinaryTuple<'_> {
    /// The Julian day number of PostgreSQL's date epoch, 2000-01-01 (a binary date is
    /// the days since).
    const POSTGRES_EPOCH_JULIAN_DAY: i32 = 2_451_545;

    fn start(out: &mut Vec<u8>, fields: i16) -> BinaryTuple<'_> {
        out.extend_from_slice(&fields.to_be_bytes());
        BinaryTuple(out)
    }

    fn bytes(&mut self, value: &[u8]) {
        // every value here is far under 2 GiB (the longest column is 1 000 characters)
        let length = i32::try_from(value.len()).unwrap_or(i32::MAX);
        self.0.extend_from_slice(&length.to_be_bytes());
        self.0.extend_from_slice(value);
    }

    fn text(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.bytes(v.as_bytes()),
            None => self.0.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    fn uuid(&mut self, value: Uuid) {
        self.bytes(value.as_bytes());
    }

    fn int4(&mut self, value: i32) {
        self.bytes(&value.to_be_bytes());
    }

    fn date(&mut self, value: Date) {
        self.int4(value.to_julian_day() - Self::POSTGRES_EPOCH_JULIAN_DAY);
    }
}

/// The fields a batch's records share in `diploma_record` (after the id): its id,
/// diploma kind, session, académie and exam office, as binary `COPY` fields.
fn record_constants(batch_id: Uuid, header: &BatchHeader) -> Vec<u8> {
    let mut out = Vec::new();
    let mut tuple = BinaryTuple(&mut out);
    tuple.uuid(batch_id);
    tuple.text(Some(header.scope.kind.code()));
    tuple.int4(i32::from(header.scope.session.year()));
    tuple.text(Some(header.scope.academie.code()));
    tuple.text(Some(header.exam_office.code()));
    out
}

/// How many fields [`record_constants`] holds.
const RECORD_CONSTANT_FIELDS: i16 = 5;

/// One tuple of binary `COPY` for `record`, straight from its fields (the columns of
/// [`StagingRow`], in its order): a new id, then `constants` (`constant_fields` fields
/// already written, or none), then the other columns.
fn write_copy_tuple(record: &NewRecord, constants: &[u8], constant_fields: i16, out: &mut Vec<u8>) {
    let h = &record.holder;
    let a = &record.award;
    let first_names = first_names_to_row(&h.identity.first_names);
    let mut tuple = BinaryTuple::start(out, 15 + constant_fields);
    tuple.uuid(Uuid::now_v7());
    tuple.0.extend_from_slice(constants);
    tuple.text(Some(record.candidate_number.as_str()));
    tuple.text(h.civility.map(civility_code));
    tuple.text(Some(h.identity.birth_name.as_str()));
    tuple.text(Some(&h.identity.birth_name.match_key()));
    tuple.text(Some(&first_names));
    tuple.date(h.identity.birth_date.date());
    tuple.text(h.identity.birth_place.as_ref().map(BirthPlace::as_str));
    tuple.text(h.usage_name.as_ref().map(UsageName::as_str));
    tuple.text(h.ine.as_ref().map(Ine::as_str));
    tuple.text(a.speciality.as_ref().map(Speciality::as_str));
    tuple.text(a.mention.map(Mention::code));
    tuple.date(a.deliberation_date);
    tuple.bytes(&content_hash_hex(record, &first_names));
    tuple.text(h.identity.birth_place_code.as_ref().map(|c| c.as_str()));
}

#[async_trait]
impl BatchStaging for SeaOrmBatchStaging {
    #[instrument(skip_all, err(level = "debug"), fields(records = records.len()))]
    async fn stage(&mut self, records: &[NewRecord]) -> Result<(), PortError> {
        let header = &self.header;
        let Some(tx) = self.tx.as_mut() else {
            return Err(PortError::unexpected(StagingClosed));
        };
        match (tx, &self.target) {
            (tx @ (Tx::Postgres(_) | Tx::Savepoint(_)), target) => {
                let mut tx = tx.pg().await?.ok_or_else(not_postgres)?;
                let (copy_sql, constants, constant_fields) = match target {
                    Target::Staging => (COPY_STAGING, &[][..], 0),
                    Target::Records { copy_constants, .. } => (
                        COPY_RECORDS,
                        copy_constants.as_slice(),
                        RECORD_CONSTANT_FIELDS,
                    ),
                };
                // Rows are sent as they are written: the server stores a piece while
                // the next one is being written.
                let mut copy = tx.copy_in_raw(copy_sql).await.map_err(pg)?;
                let mut data = Vec::with_capacity(COPY_ROWS_PER_MESSAGE * 400);
                data.extend_from_slice(BINARY_COPY_HEADER);
                for piece in records.chunks(COPY_ROWS_PER_MESSAGE) {
                    for record in piece {
                        write_copy_tuple(record, constants, constant_fields, &mut data);
                    }
                    copy.send(data.as_slice()).await.map_err(pg)?;
                    data.clear();
                }
                // with the header still there when there was no record
                data.extend_from_slice(BINARY_COPY_TRAILER);
                copy.send(data.as_slice()).await.map_err(pg)?;
                copy.finish().await.map_err(pg)?;
            }
            (Tx::Sqlite(txn), Target::Staging) => {
                for chunk in records.chunks(SQLITE_ROWS_PER_INSERT) {
                    let mut sql = format!("INSERT INTO sand_staging ({STAGING_COLUMNS}) VALUES ");
                    let mut values = Vec::with_capacity(chunk.len() * 15);
                    for (i, record) in chunk.iter().enumerate() {
                        if i > 0 {
                            sql.push(',');
                        }
                        sql.push_str("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
                        values.extend(StagingRow::of(record).values());
                    }
                    sqlite_execute(txn, sql, values).await?;
                }
            }
            (Tx::Sqlite(txn), Target::Records { batch_id, .. }) => {
                let scope = &header.scope;
                let constants: [Value; 5] = [
                    (*batch_id).into(),
                    scope.kind.code().into(),
                    i32::from(scope.session.year()).into(),
                    scope.academie.code().into(),
                    header.exam_office.code().into(),
                ];
                for chunk in records.chunks(SQLITE_RECORDS_PER_INSERT) {
                    let mut sql = format!("INSERT INTO diploma_record ({RECORD_COLUMNS}) VALUES ");
                    let mut values = Vec::with_capacity(chunk.len() * 20);
                    for (i, record) in chunk.iter().enumerate() {
                        if i > 0 {
                            sql.push(',');
                        }
                        sql.push_str("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
                        let mut row = StagingRow::of(record).values().into_iter();
                        values.extend(row.next());
                        values.extend(constants.iter().cloned());
                        values.extend(row);
                    }
                    sqlite_execute(txn, sql, values).await?;
                }
            }
        }
        self.staged += records.len() as u64;
        Ok(())
    }

    #[instrument(skip_all, err(level = "debug"), fields(scope = %batch.header().scope, records = batch.records()))]
    async fn commit(&mut self, batch: &CheckedBatch) -> Result<ApplyReport, PortError> {
        let header = self.header.clone();
        let staged = self.staged;
        if batch.records() != staged || batch.header() != &header {
            return Err(PortError::unexpected(StagingMismatch));
        }
        let now = OffsetDateTime::now_utc();
        let report = match &self.target {
            Target::Records { batch_id, .. } => {
                let batch_id = *batch_id;
                let records = Arg::BigInt(i64::try_from(staged).unwrap_or(i64::MAX));
                self.tx()?
                    .execute(
                        FINISH_BATCH,
                        vec![Arg::Uuid(batch_id), records, Arg::DateTime(now)],
                    )
                    .await?;
                ApplyReport {
                    batch: BatchId(batch_id),
                    inserted: staged,
                    updated: 0,
                    unchanged: 0,
                    removed: 0,
                    links_withdrawn: 0,
                }
            }
            Target::Staging => self.merge(&header, staged, now).await?,
        };
        match self.tx.take() {
            Some(Tx::Postgres(tx)) => tx.commit().await.map_err(pg)?,
            Some(Tx::Savepoint(load)) => load.release_savepoint().await?,
            Some(Tx::Sqlite(txn)) => {
                if matches!(self.target, Target::Staging) {
                    txn.execute_unprepared("DROP TABLE temp.sand_staging")
                        .await
                        .map_err(port)?;
                }
                txn.commit().await.map_err(port)?;
            }
            None => return Err(PortError::unexpected(StagingClosed)),
        }
        Ok(report)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn abort(&mut self) -> Result<(), PortError> {
        match self.tx.take() {
            Some(Tx::Postgres(tx)) => tx.rollback().await.map_err(pg),
            Some(Tx::Savepoint(load)) => load.rollback_savepoint().await,
            Some(Tx::Sqlite(txn)) => txn.rollback().await.map_err(port),
            None => Ok(()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the checked batch is not the one staged")]
struct StagingMismatch;

/// The transaction of an initial load (`bulk.rs`), shared by its batches' savepoints.
pub(crate) struct LoadState {
    pub(crate) tx: Option<sqlx::Transaction<'static, Postgres>>,
    /// A batch's savepoint is open (its staging was dropped without commit or abort if
    /// the next batch finds it so: it is rolled back then).
    pub(crate) savepoint_open: bool,
}

/// The handle the batches of a load share.
#[derive(Clone)]
pub(crate) struct SharedLoad(pub(crate) Arc<Mutex<LoadState>>);

#[derive(Debug, thiserror::Error)]
#[error("the initial load is already committed or rolled back")]
pub(crate) struct LoadClosed;

impl SharedLoad {
    pub(crate) async fn state(&self) -> MutexGuard<'_, LoadState> {
        self.0.lock().await
    }

    /// The load's transaction, locked for one statement.
    pub(crate) async fn transaction(
        &self,
    ) -> Result<MappedMutexGuard<'_, sqlx::Transaction<'static, Postgres>>, PortError> {
        MutexGuard::try_map(self.state().await, |s| s.tx.as_mut())
            .map_err(|_| PortError::unexpected(LoadClosed))
    }

    /// Runs `statements` in the load's transaction, then records whether a batch's
    /// savepoint is open.
    async fn savepoint_step(
        &self,
        statements: &[&'static str],
        open: bool,
    ) -> Result<(), PortError> {
        let mut state = self.state().await;
        let tx = state
            .tx
            .as_mut()
            .ok_or_else(|| PortError::unexpected(LoadClosed))?;
        for sql in statements {
            sqlx::query(*sql).execute(&mut **tx).await.map_err(pg)?;
        }
        state.savepoint_open = open;
        Ok(())
    }

    /// Rolls back a batch left half-staged, then opens the next batch's savepoint.
    pub(crate) async fn open_savepoint(&self) -> Result<(), PortError> {
        let left_open = self.state().await.savepoint_open;
        let statements: &[&'static str] = if left_open {
            &[
                "ROLLBACK TO SAVEPOINT sand_batch",
                "RELEASE SAVEPOINT sand_batch",
                "SAVEPOINT sand_batch",
            ]
        } else {
            &["SAVEPOINT sand_batch"]
        };
        self.savepoint_step(statements, true).await
    }

    /// Keeps the batch (it commits with the load).
    pub(crate) async fn release_savepoint(&self) -> Result<(), PortError> {
        self.savepoint_step(&["RELEASE SAVEPOINT sand_batch"], false)
            .await
    }

    /// Discards the batch, and only it.
    pub(crate) async fn rollback_savepoint(&self) -> Result<(), PortError> {
        self.savepoint_step(
            &[
                "ROLLBACK TO SAVEPOINT sand_batch",
                "RELEASE SAVEPOINT sand_batch",
            ],
            false,
        )
        .await
    }
}
