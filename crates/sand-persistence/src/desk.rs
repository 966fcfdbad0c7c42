//! The exam office's desk: reads scoped in the query itself, each with its audit row in
//! the same transaction; the release of a link in one transaction with its event, the
//! holder's mail and its audit row.

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::diploma::DiplomaScope;
use sand_domain::link::LinkId;
use sand_domain::ports::{ExamOfficeDesk, Mail};
use sand_domain::record::{DiplomaRecord, RecordId};
use sand_domain::staff::StaffScope;
use sand_domain::staff::audit::NewAuditEntry;
use sand_domain::staff::records::{
    BatchHistory, LinkView, RecordDetail, RecordQuery, ReleaseReason,
};
use sea_orm::sea_query::{Condition, Expr, IntoCondition, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use time::{Date, OffsetDateTime};
use tracing::instrument;
use uuid::Uuid;

use crate::Store;
use crate::entity::{diploma_record, import_batch, link, link_event, profile, verification_event};
use crate::error::{corrupt, port};
use crate::mapping::{batch_from, record_from};
use crate::staff::append_audit;

/// The kind of the link event a release logs (the holder's space shows it).
pub(crate) const RELEASED_BY_EXAM_OFFICE: &str = "released_by_exam_office";

/// The exam office's desk on the store.
#[derive(Debug, Clone)]
pub struct SeaOrmExamOfficeDesk(pub(crate) Store);

/// `scope` as a condition on a table's issuer and académie columns: the agent's issuers'
/// rows, and the rows its académies' own offices exported. Never true for an empty scope.
fn scoped<C: ColumnTrait>(scope: &StaffScope, issuer: C, academie: C) -> Condition {
    if scope.is_empty() {
        return Expr::cust("1 = 0").into_condition();
    }
    let mut any = Condition::any();
    if !scope.issuers.is_empty() {
        any = any.add(issuer.is_in(scope.issuers.iter().map(|c| c.code().to_owned())));
    }
    for a in &scope.academies {
        any = any.add(
            Condition::all()
                .add(academie.eq(a.code()))
                .add(issuer.eq(a.code())),
        );
    }
    any
}

/// The records of `scope`'s batches: the batch condition lets a search seek the record
/// indexes (both lead with `batch_id`); the record's own columns say the same again.
fn records_in(scope: &StaffScope) -> Condition {
    Condition::all()
        .add(
            diploma_record::Column::BatchId.in_subquery(
                Query::select()
                    .column(import_batch::Column::Id)
                    .from(import_batch::Entity)
                    .cond_where(scoped(
                        scope,
                        import_batch::Column::ExamOffice,
                        import_batch::Column::Academie,
                    ))
                    .to_owned(),
            ),
        )
        .add(scoped(
            scope,
            diploma_record::Column::ExamOffice,
            diploma_record::Column::Academie,
        ))
}

/// An exam office's search among the records of its scope.
pub(crate) fn search_query(
    scope: &StaffScope,
    query: &RecordQuery,
    limit: u64,
) -> sea_orm::Select<diploma_record::Entity> {
    let by = match query {
        RecordQuery::CandidateNumber(number) => {
            Condition::all().add(diploma_record::Column::CandidateNumber.eq(number.as_str()))
        }
        RecordQuery::Ine(ine) => Condition::all().add(diploma_record::Column::Ine.eq(ine.as_str())),
        RecordQuery::NameAndBirthDate {
            birth_name_key,
            birth_date,
        } => Condition::all()
            .add(diploma_record::Column::BirthNameKey.eq(birth_name_key.as_str()))
            .add(diploma_record::Column::BirthDate.eq(*birth_date)),
    };
    diploma_record::Entity::find()
        .filter(records_in(scope))
        .filter(by)
        .order_by_desc(diploma_record::Column::Session)
        .order_by_asc(diploma_record::Column::Id)
        .limit(limit)
}

/// Begins a desk transaction, which reads and then writes its audit row: on SQLite it
/// takes the write lock at once (`BEGIN IMMEDIATE`, waiting its turn like any write), so
/// that no other writer — the mail worker marking a mail sent, another agent — can commit
/// between its reads and its writes. A deferred transaction would then fail at its first
/// write, at once and whatever the busy timeout ("database is locked": its snapshot is
/// older than the database). PostgreSQL ignores the mode.
async fn begin_read_then_write(
    db: &sea_orm::DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, PortError> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
    .map_err(port)
}

/// Audits an attempt on a record the agent cannot reach (out of scope, unknown, or
/// without an active link), naming the id asked for, and commits.
async fn refused(
    txn: sea_orm::DatabaseTransaction,
    audit: &NewAuditEntry,
    asked: RecordId,
) -> Result<(), PortError> {
    let mut detail = audit.detail.clone();
    if !detail.is_empty() {
        detail.push_str(" ; ");
    }
    detail.push_str(&format!("introuvable : {}", asked.0));
    append_audit(
        &txn,
        &NewAuditEntry {
            detail,
            ..audit.clone()
        },
    )
    .await?;
    txn.commit().await.map_err(port)
}

/// The record `id` if it is in `scope`.
async fn record_in(
    txn: &sea_orm::DatabaseTransaction,
    scope: &StaffScope,
    id: RecordId,
) -> Result<Option<diploma_record::Model>, PortError> {
    diploma_record::Entity::find_by_id(id.0)
        .filter(records_in(scope))
        .one(txn)
        .await
        .map_err(port)
}

/// Runs `query` and appends `audit` naming the records it returned, in one transaction.
async fn audited_records(
    store: &Store,
    query: sea_orm::Select<diploma_record::Entity>,
    audit: &NewAuditEntry,
) -> Result<Vec<DiplomaRecord>, PortError> {
    let txn = begin_read_then_write(&store.db).await?;
    let records = query
        .all(&txn)
        .await
        .map_err(port)?
        .into_iter()
        .map(record_from)
        .collect::<Result<Vec<_>, _>>()?;
    append_audit(&txn, &with_records(audit, &records)).await?;
    txn.commit().await.map_err(port)?;
    Ok(records)
}

/// The audit row with the ids of the records it covers.
fn with_records(audit: &NewAuditEntry, records: &[DiplomaRecord]) -> NewAuditEntry {
    NewAuditEntry {
        records: records.iter().map(|r| r.id).collect(),
        ..audit.clone()
    }
}

#[async_trait]
impl ExamOfficeDesk for SeaOrmExamOfficeDesk {
    #[instrument(skip_all, err(level = "debug"))]
    async fn search(
        &self,
        scope: &StaffScope,
        query: &RecordQuery,
        limit: u64,
        audit: &NewAuditEntry,
    ) -> Result<Vec<DiplomaRecord>, PortError> {
        audited_records(&self.0, search_query(scope, query, limit), audit).await
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn record(
        &self,
        scope: &StaffScope,
        id: RecordId,
        audit: &NewAuditEntry,
    ) -> Result<Option<RecordDetail>, PortError> {
        let txn = begin_read_then_write(&self.0.db).await?;
        let Some(row) = record_in(&txn, scope, id).await? else {
            // out of scope or unknown: the attempt is audited too (URL tampering)
            refused(txn, audit, id).await?;
            return Ok(None);
        };
        let batch = import_batch::Entity::find_by_id(row.batch_id)
            .one(&txn)
            .await
            .map_err(port)?
            .ok_or_else(|| corrupt("record without batch"))?;
        let link = link::Entity::find()
            .filter(link::Column::RecordId.eq(id.0))
            .one(&txn)
            .await
            .map_err(port)?;
        let link = match link {
            Some(l) => Some(LinkView {
                id: LinkId(l.id),
                created_at: l.created_at,
                key_issued_at: l.key_issued_at,
                withdrawn: l.withdrawn_at.is_some(),
                verifications: verification_event::Entity::find()
                    .filter(verification_event::Column::LinkId.eq(l.id))
                    .count(&txn)
                    .await
                    .map_err(port)?,
            }),
            None => None,
        };
        let record = record_from(row)?;
        append_audit(
            &txn,
            &NewAuditEntry {
                link: link.as_ref().map(|l| l.id),
                batch: Some(sand_domain::record::BatchId(batch.id)),
                ..with_records(audit, std::slice::from_ref(&record))
            },
        )
        .await?;
        txn.commit().await.map_err(port)?;
        Ok(Some(RecordDetail {
            record,
            batch: batch_from(batch)?,
            link,
        }))
    }

    #[instrument(skip_all, err(level = "debug"), fields(diploma = %diploma))]
    async fn near(
        &self,
        scope: &StaffScope,
        diploma: &DiplomaScope,
        birth_name_key: &str,
        birth_dates: &[Date],
        limit: u64,
        audit: &NewAuditEntry,
    ) -> Result<Vec<DiplomaRecord>, PortError> {
        audited_records(
            &self.0,
            diploma_record::Entity::find()
                .filter(records_in(scope))
                .filter(
                    diploma_record::Column::BatchId.in_subquery(
                        Query::select()
                            .column(import_batch::Column::Id)
                            .from(import_batch::Entity)
                            .and_where(import_batch::Column::DiplomaKind.eq(diploma.kind.code()))
                            .and_where(
                                import_batch::Column::Session.eq(i32::from(diploma.session.year())),
                            )
                            .and_where(import_batch::Column::Academie.eq(diploma.academie.code()))
                            .to_owned(),
                    ),
                )
                .filter(diploma_record::Column::DiplomaKind.eq(diploma.kind.code()))
                .filter(diploma_record::Column::Session.eq(i32::from(diploma.session.year())))
                .filter(diploma_record::Column::Academie.eq(diploma.academie.code()))
                .filter(
                    Condition::any()
                        .add(diploma_record::Column::BirthNameKey.eq(birth_name_key))
                        .add(diploma_record::Column::BirthDate.is_in(birth_dates.iter().copied())),
                )
                .order_by_asc(diploma_record::Column::Id)
                .limit(limit),
            audit,
        )
        .await
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn batches(
        &self,
        scope: &StaffScope,
        limit: u64,
        audit: &NewAuditEntry,
    ) -> Result<Vec<BatchHistory>, PortError> {
        let txn = begin_read_then_write(&self.0.db).await?;
        let rows = import_batch::Entity::find()
            .filter(scoped(
                scope,
                import_batch::Column::ExamOffice,
                import_batch::Column::Academie,
            ))
            .order_by_desc(import_batch::Column::ImportedAt)
            .order_by_asc(import_batch::Column::Id)
            .limit(limit)
            .all(&txn)
            .await
            .map_err(port)?;
        // the withdrawn records of these batches, counted in one query
        let ids: Vec<Uuid> = rows.iter().map(|b| b.id).collect();
        let withdrawn: std::collections::HashMap<Uuid, i64> = diploma_record::Entity::find()
            .select_only()
            .column(diploma_record::Column::BatchId)
            .column_as(diploma_record::Column::Id.count(), "withdrawn")
            .filter(diploma_record::Column::BatchId.is_in(ids))
            .filter(diploma_record::Column::WithdrawnAt.is_not_null())
            .group_by(diploma_record::Column::BatchId)
            .into_tuple::<(Uuid, i64)>()
            .all(&txn)
            .await
            .map_err(port)?
            .into_iter()
            .collect();
        append_audit(&txn, audit).await?;
        txn.commit().await.map_err(port)?;
        rows.into_iter()
            .map(|row| {
                let withdrawn = withdrawn
                    .get(&row.id)
                    .and_then(|n| u64::try_from(*n).ok())
                    .unwrap_or(0);
                Ok(BatchHistory {
                    batch: batch_from(row)?,
                    withdrawn,
                })
            })
            .collect()
    }

    #[instrument(skip_all, err(level = "debug"), fields(reason = %reason))]
    async fn release(
        &self,
        scope: &StaffScope,
        record: RecordId,
        reason: ReleaseReason,
        at: OffsetDateTime,
        audit: &NewAuditEntry,
    ) -> Result<Option<LinkId>, PortError> {
        let txn = begin_read_then_write(&self.0.db).await?;
        let Some(row) = record_in(&txn, scope, record).await? else {
            refused(txn, audit, record).await?;
            return Ok(None);
        };
        let Some(active) = link::Entity::find()
            .filter(link::Column::RecordId.eq(record.0))
            .filter(link::Column::WithdrawnAt.is_null())
            .one(&txn)
            .await
            .map_err(port)?
        else {
            refused(txn, audit, record).await?;
            return Ok(None);
        };
        let holder = profile::Entity::find_by_id(active.profile_id)
            .one(&txn)
            .await
            .map_err(port)?
            .ok_or_else(|| corrupt("link without profile"))?;
        // the link ends at once, its key with it — if it is still the one read
        let ended = link::Entity::delete_many()
            .filter(link::Column::Id.eq(active.id))
            .filter(link::Column::WithdrawnAt.is_null())
            .exec(&txn)
            .await
            .map_err(port)?;
        if ended.rows_affected != 1 {
            return Ok(None);
        }
        link_event::Entity::insert(link_event::ActiveModel {
            id: Set(Uuid::now_v7()),
            kind: Set(RELEASED_BY_EXAM_OFFICE.to_owned()),
            at: Set(at),
            record_id: Set(record.0),
            previous_profile_id: Set(Some(active.profile_id)),
            new_profile_id: Set(None),
        })
        .exec(&txn)
        .await
        .map_err(port)?;
        let record = record_from(row)?;
        let mail = Mail::LinkReleased {
            to: sand_domain::credentials::Email::parse(&holder.email)
                .map_err(|_| corrupt("profile e-mail"))?,
            scope: record.scope,
            reason,
        };
        crate::outbox::enqueue(&txn, &mail, at, &self.0.keys).await?;
        append_audit(
            &txn,
            &NewAuditEntry {
                link: Some(LinkId(active.id)),
                ..with_records(audit, std::slice::from_ref(&record))
            },
        )
        .await?;
        txn.commit().await.map_err(port)?;
        Ok(Some(LinkId(active.id)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sea_orm::{ConnectOptions, ConnectionTrait, Database};

    use super::begin_read_then_write;

    /// The defect: the desk's transactions read, then audit; on SQLite, begun deferred, a
    /// commit by another writer in between made the audit fail at once ("database is
    /// locked"), and the agent got the 503 page. Begun immediate, the transaction holds
    /// the write lock from its start: another writer waits for it (here, with no busy
    /// timeout, is refused at once) instead of slipping in between.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_desk_transaction_holds_the_write_lock_from_its_start_on_sqlite() {
        let path = std::env::temp_dir().join(format!("sand-desk-{}.db", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let db = Database::connect(&url).await.unwrap();
        db.execute_unprepared("PRAGMA journal_mode = WAL")
            .await
            .unwrap();
        db.execute_unprepared("CREATE TABLE t (x INTEGER)")
            .await
            .unwrap();
        let mut one = ConnectOptions::new(url.clone());
        one.max_connections(1).min_connections(1);
        let other = Database::connect(one).await.unwrap();
        other
            .execute_unprepared("PRAGMA busy_timeout = 0")
            .await
            .unwrap();

        let txn = begin_read_then_write(&db).await.unwrap();
        let refused = other.execute_unprepared("INSERT INTO t VALUES (1)").await;
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.to_string().contains("locked")),
            "another writer got in: {refused:?}"
        );
        txn.execute_unprepared("INSERT INTO t VALUES (2)")
            .await
            .unwrap();
        txn.commit().await.unwrap();
        other
            .execute_unprepared("INSERT INTO t VALUES (3)")
            .await
            .unwrap();
        drop((db, other));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
