//! Records, batches and the catalogue.

use std::collections::HashMap;

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::diploma::DiplomaScope;
use sand_domain::diploma::{Mention, Speciality};
use sand_domain::identity::{BirthPlace, IdentityKey, UsageName};
use sand_domain::ports::{Catalogue, RecordReader, RecordWriter};
use sand_domain::record::import::{ApplyReport, ValidatedBatch};
use sand_domain::record::{BatchId, DiplomaRecord, ImportBatch, Ine, NewRecord, RecordId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use time::OffsetDateTime;
use tracing::instrument;
use uuid::Uuid;

use crate::Store;
use crate::entity::{diploma_record, import_batch, link};
use crate::error::port;
use crate::mapping::{
    batch_from, civility_code, content_hash, first_names_to_row, record_from, scope_from,
};

/// Rows per multi-row INSERT (SQLite allows 32 766 bound parameters; 21 columns).
const INSERT_CHUNK: usize = 1_000;
/// Ids per `IN (…)` list.
const ID_CHUNK: usize = 1_000;

fn scope_filter<Q: QueryFilter>(query: Q, scope: &DiplomaScope) -> Q {
    query
        .filter(import_batch::Column::Academie.eq(scope.academie.code()))
        .filter(import_batch::Column::DiplomaKind.eq(scope.kind.code()))
        .filter(import_batch::Column::Session.eq(i32::from(scope.session.year())))
}

async fn batch_row<C: ConnectionTrait>(
    db: &C,
    scope: &DiplomaScope,
    published_only: bool,
) -> Result<Option<import_batch::Model>, PortError> {
    let query = if published_only {
        published_batch_lookup(scope)
    } else {
        scope_filter(import_batch::Entity::find(), scope)
    };
    query.one(db).await.map_err(port)
}

/// The attach lookup: served by `ix_diploma_record_attach`.
pub(crate) fn attach_lookup(
    scope: &DiplomaScope,
    key: &IdentityKey,
    batch: Uuid,
) -> sea_orm::Select<diploma_record::Entity> {
    diploma_record::Entity::find()
        .filter(diploma_record::Column::Academie.eq(scope.academie.code()))
        .filter(diploma_record::Column::DiplomaKind.eq(scope.kind.code()))
        .filter(diploma_record::Column::Session.eq(i32::from(scope.session.year())))
        .filter(diploma_record::Column::BirthNameKey.eq(key.birth_name.as_str()))
        .filter(diploma_record::Column::BirthDate.eq(key.birth_date))
        .filter(diploma_record::Column::BatchId.eq(batch))
        .filter(diploma_record::Column::WithdrawnAt.is_null())
}

/// The published batch of a scope: served by `ux_import_batch_scope`.
pub(crate) fn published_batch_lookup(
    scope: &DiplomaScope,
) -> sea_orm::Select<import_batch::Entity> {
    scope_filter(import_batch::Entity::find(), scope)
        .filter(import_batch::Column::Complete.eq(true))
}

/// Reads published records: the web side's only access to records.
#[derive(Debug, Clone)]
pub struct SeaOrmRecordReader(pub(crate) Store);

#[async_trait]
impl RecordReader for SeaOrmRecordReader {
    #[instrument(skip_all, err, fields(scope = %scope))]
    async fn find_candidates(
        &self,
        scope: &DiplomaScope,
        key: &IdentityKey,
    ) -> Result<Vec<DiplomaRecord>, PortError> {
        let db = &self.0.db;
        let Some(batch) = batch_row(db, scope, true).await? else {
            return Ok(Vec::new());
        };
        attach_lookup(scope, key, batch.id)
            .all(db)
            .await
            .map_err(port)?
            .into_iter()
            .map(record_from)
            .collect()
    }

    #[instrument(skip_all, err, fields(count = ids.len()))]
    async fn get_many(&self, ids: &[RecordId]) -> Result<Vec<DiplomaRecord>, PortError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ID_CHUNK) {
            let rows = diploma_record::Entity::find()
                .filter(diploma_record::Column::Id.is_in(chunk.iter().map(|id| id.0)))
                .all(&self.0.db)
                .await
                .map_err(port)?;
            for row in rows {
                out.push(record_from(row)?);
            }
        }
        Ok(out)
    }
}

/// The published scopes.
#[derive(Debug, Clone)]
pub struct SeaOrmCatalogue(pub(crate) Store);

#[async_trait]
impl Catalogue for SeaOrmCatalogue {
    #[instrument(skip_all, err)]
    async fn published_scopes(&self) -> Result<Vec<DiplomaScope>, PortError> {
        let rows: Vec<(String, String, i32)> = import_batch::Entity::find()
            .select_only()
            .column(import_batch::Column::DiplomaKind)
            .column(import_batch::Column::Academie)
            .column(import_batch::Column::Session)
            .filter(import_batch::Column::Complete.eq(true))
            .order_by_asc(import_batch::Column::Academie)
            .into_tuple()
            .all(&self.0.db)
            .await
            .map_err(port)?;
        rows.into_iter()
            .map(|(kind, academie, session)| scope_from(&kind, session, &academie))
            .collect()
    }

    #[instrument(skip_all, err, fields(scope = %scope))]
    async fn is_published(&self, scope: &DiplomaScope) -> Result<bool, PortError> {
        Ok(batch_row(&self.0.db, scope, true).await?.is_some())
    }
}

/// Writes batches and records: held only by the import composition.
#[derive(Debug, Clone)]
pub struct SeaOrmRecordWriter(pub(crate) Store);

fn record_row(
    record: &NewRecord,
    batch: Uuid,
    exam_office: &str,
    id: Uuid,
) -> diploma_record::ActiveModel {
    let h = &record.holder;
    let a = &record.award;
    diploma_record::ActiveModel {
        id: Set(id),
        batch_id: Set(batch),
        diploma_kind: Set(record.scope.kind.code().to_owned()),
        session: Set(i32::from(record.scope.session.year())),
        academie: Set(record.scope.academie.code().to_owned()),
        exam_office: Set(exam_office.to_owned()),
        candidate_number: Set(record.candidate_number.as_str().to_owned()),
        civility: Set(h.civility.map(|c| civility_code(c).to_owned())),
        birth_name: Set(h.identity.birth_name.as_str().to_owned()),
        birth_name_key: Set(h.identity.birth_name.match_key()),
        first_names: Set(first_names_to_row(&h.identity.first_names)),
        birth_date: Set(h.identity.birth_date.date()),
        birth_place: Set(h
            .identity
            .birth_place
            .as_ref()
            .map(|p| BirthPlace::as_str(p).to_owned())),
        usage_name: Set(h
            .usage_name
            .as_ref()
            .map(|u| UsageName::as_str(u).to_owned())),
        ine: Set(h.ine.as_ref().map(|i| Ine::as_str(i).to_owned())),
        speciality: Set(a
            .speciality
            .as_ref()
            .map(|s| Speciality::as_str(s).to_owned())),
        mention: Set(a.mention.map(|m| Mention::code(m).to_owned())),
        deliberation_date: Set(a.deliberation_date),
        content_hash: Set(content_hash(record)),
        withdrawn_at: Set(None),
    }
}

#[async_trait]
impl RecordWriter for SeaOrmRecordWriter {
    #[instrument(skip_all, err, fields(scope = %scope))]
    async fn find_batch(&self, scope: &DiplomaScope) -> Result<Option<ImportBatch>, PortError> {
        batch_row(&self.0.db, scope, false)
            .await?
            .map(batch_from)
            .transpose()
    }

    #[instrument(skip_all, err, fields(scope = %batch.request().scope, records = batch.request().records.len()))]
    async fn replace_batch(&self, batch: &ValidatedBatch) -> Result<ApplyReport, PortError> {
        let request = batch.request();
        let now = OffsetDateTime::now_utc();
        let exam_office = request.exam_office.code();
        let txn = self.0.db.begin().await.map_err(port)?;

        let batch_fields = |id: Uuid| import_batch::ActiveModel {
            id: Set(id),
            exam_office: Set(exam_office.to_owned()),
            diploma_kind: Set(request.scope.kind.code().to_owned()),
            session: Set(i32::from(request.scope.session.year())),
            academie: Set(request.scope.academie.code().to_owned()),
            source_system: Set(request.source_system.code().to_owned()),
            exported_at: Set(request.exported_at),
            imported_at: Set(now),
            complete: Set(request.complete),
            record_count: Set(i64::try_from(request.records.len()).unwrap_or(i64::MAX)),
            fingerprint: Set(request.fingerprint.to_hex()),
        };
        let batch_id = match batch_row(&txn, &request.scope, false).await? {
            Some(existing) => {
                import_batch::Entity::update(batch_fields(existing.id))
                    .exec(&txn)
                    .await
                    .map_err(port)?;
                existing.id
            }
            None => {
                let id = Uuid::new_v4();
                import_batch::Entity::insert(batch_fields(id))
                    .exec(&txn)
                    .await
                    .map_err(port)?;
                id
            }
        };

        // What is stored: candidate → (id, content hash, withdrawn).
        let stored: Vec<(Uuid, String, String, Option<OffsetDateTime>)> =
            diploma_record::Entity::find()
                .select_only()
                .column(diploma_record::Column::Id)
                .column(diploma_record::Column::CandidateNumber)
                .column(diploma_record::Column::ContentHash)
                .column(diploma_record::Column::WithdrawnAt)
                .filter(diploma_record::Column::BatchId.eq(batch_id))
                .into_tuple()
                .all(&txn)
                .await
                .map_err(port)?;
        let mut stored: HashMap<String, (Uuid, String, Option<OffsetDateTime>)> = stored
            .into_iter()
            .map(|(id, candidate, hash, withdrawn)| (candidate, (id, hash, withdrawn)))
            .collect();

        let (mut inserted, mut updated, mut unchanged) = (0u64, 0u64, 0u64);
        let mut new_rows = Vec::new();
        for record in &request.records {
            match stored.remove(record.candidate_number.as_str()) {
                Some((id, hash, withdrawn)) => {
                    if hash == content_hash(record) && withdrawn.is_none() {
                        unchanged += 1;
                    } else {
                        diploma_record::Entity::update(record_row(
                            record,
                            batch_id,
                            exam_office,
                            id,
                        ))
                        .exec(&txn)
                        .await
                        .map_err(port)?;
                        updated += 1;
                    }
                }
                None => {
                    new_rows.push(record_row(record, batch_id, exam_office, Uuid::new_v4()));
                    inserted += 1;
                }
            }
        }
        let mut rows = new_rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
            diploma_record::Entity::insert_many(chunk)
                .exec(&txn)
                .await
                .map_err(port)?;
        }

        // Records that disappeared: withdrawn from publication, their links withdrawn.
        let gone: Vec<Uuid> = stored
            .into_values()
            .filter(|(_, _, withdrawn)| withdrawn.is_none())
            .map(|(id, _, _)| id)
            .collect();
        let mut links_withdrawn = 0;
        for chunk in gone.chunks(ID_CHUNK) {
            diploma_record::Entity::update_many()
                .col_expr(diploma_record::Column::WithdrawnAt, Expr::value(now))
                .filter(diploma_record::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await
                .map_err(port)?;
            links_withdrawn += link::Entity::update_many()
                .col_expr(link::Column::WithdrawnAt, Expr::value(now))
                .filter(link::Column::RecordId.is_in(chunk.iter().copied()))
                .filter(link::Column::WithdrawnAt.is_null())
                .exec(&txn)
                .await
                .map_err(port)?
                .rows_affected;
        }

        txn.commit().await.map_err(port)?;
        Ok(ApplyReport {
            batch: BatchId(batch_id),
            inserted,
            updated,
            unchanged,
            removed: gone.len() as u64,
            links_withdrawn,
        })
    }

    #[instrument(skip_all, err)]
    async fn publish_batch(&self, id: BatchId) -> Result<(), PortError> {
        import_batch::Entity::update_many()
            .col_expr(import_batch::Column::Complete, Expr::value(true))
            .filter(import_batch::Column::Id.eq(id.0))
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(())
    }
}
