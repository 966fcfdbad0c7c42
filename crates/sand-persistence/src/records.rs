//! Records, batches and the catalogue.

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::diploma::DiplomaScope;
use sand_domain::identity::IdentityKey;
use sand_domain::issuer::{IssuedScope, IssuerCode};
use sand_domain::ports::{BatchStaging, Catalogue, CatalogueRevision, RecordReader, RecordWriter};
use sand_domain::record::import::BatchHeader;
use sand_domain::record::{BatchId, DiplomaRecord, ImportBatch, RecordId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use tracing::instrument;
use uuid::Uuid;

use crate::entity::{diploma_record, import_batch};
use crate::error::{corrupt, port};
use crate::mapping::{batch_from, record_from, scope_from};
use crate::staging::SeaOrmBatchStaging;
use sea_orm::DatabaseConnection;

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
pub struct SeaOrmRecordReader(pub(crate) DatabaseConnection);

#[async_trait]
impl RecordReader for SeaOrmRecordReader {
    #[instrument(skip_all, err(level = "debug"), fields(scope = %scope))]
    async fn find_candidates(
        &self,
        scope: &DiplomaScope,
        key: &IdentityKey,
    ) -> Result<Vec<DiplomaRecord>, PortError> {
        let db = &self.0;
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

    #[instrument(skip_all, err(level = "debug"), fields(count = ids.len()))]
    async fn get_many(&self, ids: &[RecordId]) -> Result<Vec<DiplomaRecord>, PortError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ID_CHUNK) {
            let rows = diploma_record::Entity::find()
                .filter(diploma_record::Column::Id.is_in(chunk.iter().map(|id| id.0)))
                .all(&self.0)
                .await
                .map_err(port)?;
            for row in rows {
                out.push(record_from(row)?);
            }
        }
        Ok(out)
    }
}

/// What changes whenever the published scopes do: batches are only added, published or
/// replaced by an import (which sets `imported_at`), never unpublished. Both backends.
/// The catalogue's revision: one row, moved by a trigger whenever `import_batch` changes
/// (migration 15), so one indexed read whatever the number of batches.
const CATALOGUE_REVISION: &str = "SELECT revision FROM catalogue_revision WHERE id = 1";

/// The published scopes.
#[derive(Debug, Clone)]
pub struct SeaOrmCatalogue(pub(crate) DatabaseConnection);

#[async_trait]
impl Catalogue for SeaOrmCatalogue {
    #[instrument(skip_all, err(level = "debug"))]
    async fn published_scopes(&self) -> Result<Vec<IssuedScope>, PortError> {
        let rows: Vec<(String, String, i32, String)> = import_batch::Entity::find()
            .select_only()
            .column(import_batch::Column::DiplomaKind)
            .column(import_batch::Column::Academie)
            .column(import_batch::Column::Session)
            .column(import_batch::Column::ExamOffice)
            .filter(import_batch::Column::Complete.eq(true))
            .order_by_asc(import_batch::Column::Academie)
            .into_tuple()
            .all(&self.0)
            .await
            .map_err(port)?;
        rows.into_iter()
            .map(|(kind, academie, session, issuer)| {
                Ok(IssuedScope {
                    scope: scope_from(&kind, session, &academie)?,
                    issuer: IssuerCode::parse(&issuer).map_err(|_| corrupt("exam office"))?,
                })
            })
            .collect()
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn published_scopes_since(
        &self,
        known: Option<CatalogueRevision>,
    ) -> Result<Option<(CatalogueRevision, Vec<IssuedScope>)>, PortError> {
        let backend = self.0.get_database_backend();
        let row = self
            .0
            .query_one_raw(Statement::from_string(backend, CATALOGUE_REVISION))
            .await
            .map_err(port)?
            .ok_or_else(|| corrupt("catalogue revision"))?;
        let revision = CatalogueRevision(row.try_get_by_index::<i64>(0).map_err(port)?.to_string());
        if known.as_ref() == Some(&revision) {
            return Ok(None);
        }
        Ok(Some((revision, self.published_scopes().await?)))
    }

    #[instrument(skip_all, err(level = "debug"), fields(scope = %scope))]
    async fn is_published(&self, scope: &DiplomaScope) -> Result<bool, PortError> {
        Ok(batch_row(&self.0, scope, true).await?.is_some())
    }
}

/// Writes batches and records: held only by the import composition.
#[derive(Debug, Clone)]
pub struct SeaOrmRecordWriter(pub(crate) DatabaseConnection);

#[async_trait]
impl RecordWriter for SeaOrmRecordWriter {
    #[instrument(skip_all, err(level = "debug"), fields(scope = %scope))]
    async fn find_batch(&self, scope: &DiplomaScope) -> Result<Option<ImportBatch>, PortError> {
        batch_row(&self.0, scope, false)
            .await?
            .map(batch_from)
            .transpose()
    }

    #[instrument(skip_all, err(level = "debug"), fields(scope = %header.scope))]
    async fn begin(&self, header: &BatchHeader) -> Result<Box<dyn BatchStaging>, PortError> {
        Ok(Box::new(SeaOrmBatchStaging::begin(&self.0, header).await?))
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn publish_batch(&self, id: BatchId) -> Result<(), PortError> {
        import_batch::Entity::update_many()
            .col_expr(import_batch::Column::Complete, Expr::value(true))
            .filter(import_batch::Column::Id.eq(id.0))
            .exec(&self.0)
            .await
            .map_err(port)?;
        Ok(())
    }
}
