//! Links, their protected control keys, and the verification log.

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::control_key::ControlKey;
use sand_domain::link::{Link, LinkId, NewLink};
use sand_domain::ports::{
    CreateLinkStoreError, LinkRepository, Mail, ReplaceKeyStoreError, TakeOverStoreError,
    TakenLink, VerificationLog,
};
use sand_domain::profile::ProfileId;
use sand_domain::record::RecordId;
use sand_domain::sharing::ShareLabel;
use sand_domain::verification::{NewVerificationEvent, Organisation, VerificationEvent};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Statement, TransactionTrait,
};
use time::OffsetDateTime;
use tracing::instrument;
use uuid::Uuid;

use crate::Store;
use crate::entity::{link, link_event, verification_event};
use crate::error::{Violation, port, violation};
use crate::mapping::link_from;

/// Verification by key: served by the unique index on `key_hash`.
pub(crate) fn key_lookup(hash: Vec<u8>) -> sea_orm::Select<link::Entity> {
    link::Entity::find()
        .filter(link::Column::KeyHash.eq(hash))
        .filter(link::Column::WithdrawnAt.is_null())
}

/// A profile's links: served by `ix_link_profile`.
pub(crate) fn profile_links(profile: Uuid) -> sea_orm::Select<link::Entity> {
    link::Entity::find().filter(link::Column::ProfileId.eq(profile))
}

/// The verification log of some links: served by `ix_verification_event_link`.
pub(crate) fn events_of(
    links: impl IntoIterator<Item = Uuid>,
) -> sea_orm::Select<verification_event::Entity> {
    verification_event::Entity::find()
        .filter(verification_event::Column::LinkId.is_in(links))
        .order_by_desc(verification_event::Column::At)
}

/// Takes the shared lock of the batch of record $1 (PostgreSQL), for the transaction:
/// an import applying that batch holds it exclusively (see `staging.rs`).
const LOCK_RECORD_BATCH_SHARED: &str = "SELECT pg_advisory_xact_lock_shared(hashtextextended(batch_id::text, 0)) \
     FROM diploma_record WHERE id = $1";

/// $1 id, $2 profile, $3 record, $4 key hash, $5 sealed key, $6 now. The link takes its
/// record's withdrawal: an attach that read its candidates before an import withdrew
/// the record ends with a withdrawn link, never an active link to a withdrawn record.
const INSERT_LINK_AS_ITS_RECORD: &str = "INSERT INTO link (id, profile_id, record_id, key_hash, \
     key_sealed, created_at, key_issued_at, withdrawn_at) \
     SELECT $1, $2, $3, $4, $5, $6, $6, r.withdrawn_at FROM diploma_record AS r WHERE r.id = $3 \
     RETURNING id, profile_id, record_id, key_hash, key_sealed, created_at, key_issued_at, withdrawn_at";

/// A link's record is not in the store.
#[derive(Debug, thiserror::Error)]
#[error("the record of the link is missing")]
struct RecordMissing;

/// The link log's kind for a link a certified claimant took.
const TAKEN_BY_CERTIFIED_CLAIMANT: &str = "taken_by_certified_claimant";

/// Inserts `new` in the transaction `tx`, taking its record's withdrawal.
async fn insert_link(
    tx: &sea_orm::DatabaseTransaction,
    keys: &crate::keys::KeyProtector,
    new: &NewLink,
) -> Result<link::Model, CreateLinkStoreError> {
    let id = Uuid::new_v4();
    let backend = tx.get_database_backend();
    let values = vec![
        id.into(),
        new.profile.0.into(),
        new.record.0.into(),
        keys.lookup_hash(&new.key).into(),
        keys.seal(&new.key, id)
            .map_err(PortError::unexpected)?
            .into(),
        new.created_at.into(),
    ];
    if backend == DbBackend::Postgres {
        // wait for an import of the record's batch that is being applied (see
        // staging.rs): the link then sees whether the import withdrew the record
        tx.execute_raw(Statement::from_sql_and_values(
            backend,
            LOCK_RECORD_BATCH_SHARED,
            [new.record.0.into()],
        ))
        .await
        .map_err(port)?;
    }
    let sql = match backend {
        // numbered parameters (`?3`) on SQLite
        DbBackend::Sqlite => INSERT_LINK_AS_ITS_RECORD.replace('$', "?"),
        _ => INSERT_LINK_AS_ITS_RECORD.to_owned(),
    };
    // the link is born withdrawn if its record was withdrawn in the meantime
    let inserted = link::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .one(tx)
        .await;
    match inserted {
        Ok(Some(model)) => Ok(model),
        // records are never deleted: only a broken store loses one
        Ok(None) => Err(PortError::unexpected(RecordMissing).into()),
        Err(e) => match violation(&e) {
            Some(Violation::Unique(text)) if text.contains("record") => {
                Err(CreateLinkStoreError::RecordAlreadyLinked)
            }
            Some(Violation::Unique(text)) if text.contains("key") => {
                Err(CreateLinkStoreError::KeyCollision)
            }
            Some(Violation::ForeignKey) => Err(CreateLinkStoreError::ProfileGone),
            _ => Err(port(e).into()),
        },
    }
}

/// Stores links and their keys (hashed and sealed, never in clear).
#[derive(Debug, Clone)]
pub struct SeaOrmLinkRepository(pub(crate) Store);

impl SeaOrmLinkRepository {
    fn to_links(&self, rows: Vec<link::Model>) -> Result<Vec<Link>, PortError> {
        rows.into_iter()
            .map(|row| link_from(row, &self.0.keys))
            .collect()
    }

    async fn owned_row(
        &self,
        id: LinkId,
        profile: ProfileId,
    ) -> Result<Option<link::Model>, PortError> {
        link::Entity::find_by_id(id.0)
            .filter(link::Column::ProfileId.eq(profile.0))
            .one(&self.0.db)
            .await
            .map_err(port)
    }
}

#[async_trait]
impl LinkRepository for SeaOrmLinkRepository {
    #[instrument(skip_all, err(level = "debug"))]
    async fn create(&self, new: NewLink) -> Result<Link, CreateLinkStoreError> {
        let tx = self.0.db.begin().await.map_err(port)?;
        let model = insert_link(&tx, &self.0.keys, &new).await?;
        tx.commit().await.map_err(port)?;
        Ok(link_from(model, &self.0.keys)?)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn take_over(
        &self,
        from: LinkId,
        previous: ProfileId,
        new: NewLink,
        notice: Mail,
    ) -> Result<Link, TakeOverStoreError> {
        let tx = self.0.db.begin().await.map_err(port)?;
        // the old link ends at once (its key with it), if it is still what the caller saw
        let ended = link::Entity::delete_many()
            .filter(link::Column::Id.eq(from.0))
            .filter(link::Column::ProfileId.eq(previous.0))
            .filter(link::Column::RecordId.eq(new.record.0))
            .filter(link::Column::WithdrawnAt.is_null())
            .exec(&tx)
            .await
            .map_err(port)?;
        if ended.rows_affected != 1 {
            return Err(TakeOverStoreError::Changed);
        }
        let model = match insert_link(&tx, &self.0.keys, &new).await {
            Ok(model) => model,
            Err(CreateLinkStoreError::KeyCollision) => {
                return Err(TakeOverStoreError::KeyCollision);
            }
            Err(CreateLinkStoreError::Port(e)) => return Err(e.into()),
            Err(CreateLinkStoreError::RecordAlreadyLinked | CreateLinkStoreError::ProfileGone) => {
                return Err(TakeOverStoreError::Changed);
            }
        };
        link_event::Entity::insert(link_event::ActiveModel {
            id: Set(Uuid::now_v7()),
            kind: Set(TAKEN_BY_CERTIFIED_CLAIMANT.to_owned()),
            at: Set(new.created_at),
            record_id: Set(new.record.0),
            previous_profile_id: Set(Some(previous.0)),
            new_profile_id: Set(Some(new.profile.0)),
        })
        .exec(&tx)
        .await
        .map_err(port)?;
        crate::outbox::enqueue(&tx, &notice, new.created_at, &self.0.keys).await?;
        tx.commit().await.map_err(port)?;
        Ok(link_from(model, &self.0.keys)?)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn taken_from(&self, profile: ProfileId) -> Result<Vec<TakenLink>, PortError> {
        let rows = link_event::Entity::find()
            .filter(link_event::Column::PreviousProfileId.eq(profile.0))
            .filter(link_event::Column::Kind.is_in([
                TAKEN_BY_CERTIFIED_CLAIMANT,
                crate::desk::RELEASED_BY_EXAM_OFFICE,
            ]))
            .order_by_desc(link_event::Column::At)
            .all(&self.0.db)
            .await
            .map_err(port)?;
        Ok(rows
            .into_iter()
            .map(|row| TakenLink {
                record: RecordId(row.record_id),
                at: row.at,
                by: if row.kind == crate::desk::RELEASED_BY_EXAM_OFFICE {
                    sand_domain::link::LinkEndedBy::ExamOffice
                } else {
                    sand_domain::link::LinkEndedBy::CertifiedClaimant
                },
            })
            .collect())
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn find_by_record(&self, record: RecordId) -> Result<Option<Link>, PortError> {
        let row = link::Entity::find()
            .filter(link::Column::RecordId.eq(record.0))
            .one(&self.0.db)
            .await
            .map_err(port)?;
        row.map(|r| link_from(r, &self.0.keys)).transpose()
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn list_for_profile(&self, profile: ProfileId) -> Result<Vec<Link>, PortError> {
        let rows = profile_links(profile.0)
            .order_by_asc(link::Column::CreatedAt)
            .order_by_asc(link::Column::Id)
            .all(&self.0.db)
            .await
            .map_err(port)?;
        self.to_links(rows)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn get_owned(&self, id: LinkId, profile: ProfileId) -> Result<Option<Link>, PortError> {
        self.owned_row(id, profile)
            .await?
            .map(|r| link_from(r, &self.0.keys))
            .transpose()
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn find_active_by_key(&self, key: &ControlKey) -> Result<Option<Link>, PortError> {
        let row = key_lookup(self.0.keys.lookup_hash(key))
            .one(&self.0.db)
            .await
            .map_err(port)?;
        if row.is_none() {
            self.0.keys.open_decoy();
        }
        row.map(|r| link_from(r, &self.0.keys)).transpose()
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn replace_key(
        &self,
        id: LinkId,
        profile: ProfileId,
        key: ControlKey,
        issued_at: OffsetDateTime,
    ) -> Result<Link, ReplaceKeyStoreError> {
        let keys = &self.0.keys;
        let sealed = keys.seal(&key, id.0).map_err(PortError::unexpected)?;
        let result = link::Entity::update_many()
            .col_expr(link::Column::KeyHash, Expr::value(keys.lookup_hash(&key)))
            .col_expr(link::Column::KeySealed, Expr::value(sealed))
            .col_expr(link::Column::KeyIssuedAt, Expr::value(issued_at))
            .filter(link::Column::Id.eq(id.0))
            .filter(link::Column::ProfileId.eq(profile.0))
            .filter(link::Column::WithdrawnAt.is_null())
            .exec(&self.0.db)
            .await;
        match result {
            Ok(r) if r.rows_affected == 0 => Err(ReplaceKeyStoreError::NotFound),
            Ok(_) => {
                let row = self
                    .owned_row(id, profile)
                    .await?
                    .ok_or(ReplaceKeyStoreError::NotFound)?;
                Ok(link_from(row, keys)?)
            }
            Err(e) => match violation(&e) {
                Some(Violation::Unique(_)) => Err(ReplaceKeyStoreError::KeyCollision),
                _ => Err(port(e).into()),
            },
        }
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn delete_owned(&self, id: LinkId, profile: ProfileId) -> Result<bool, PortError> {
        let result = link::Entity::delete_many()
            .filter(link::Column::Id.eq(id.0))
            .filter(link::Column::ProfileId.eq(profile.0))
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(result.rows_affected > 0)
    }
}

/// The verification log.
#[derive(Debug, Clone)]
pub struct SeaOrmVerificationLog(pub(crate) Store);

#[async_trait]
impl VerificationLog for SeaOrmVerificationLog {
    /// Through the store's single event writer: stored in a group with the events of
    /// concurrent verifications, answered once committed.
    #[instrument(skip_all, err(level = "debug"))]
    async fn record(
        &self,
        event: NewVerificationEvent,
        notice: Option<Mail>,
    ) -> Result<(), PortError> {
        self.0
            .events
            .store(&self.0.db, &self.0.keys, event, notice)
            .await
    }

    #[instrument(skip_all, err(level = "debug"), fields(links = links.len()))]
    async fn list_for_links(&self, links: &[LinkId]) -> Result<Vec<VerificationEvent>, PortError> {
        let rows = events_of(links.iter().map(|l| l.0))
            .all(&self.0.db)
            .await
            .map_err(port)?;
        rows.into_iter()
            .map(|row| {
                Ok(VerificationEvent {
                    link: LinkId(
                        row.link_id
                            .ok_or_else(|| crate::error::corrupt("event link"))?,
                    ),
                    at: row.at,
                    organisation: row
                        .organisation
                        .as_deref()
                        .map(Organisation::parse)
                        .transpose()
                        .map_err(|_| crate::error::corrupt("organisation"))?
                        .flatten(),
                    share: row
                        .share_label
                        .as_deref()
                        .map(ShareLabel::parse)
                        .transpose()
                        .map_err(|_| crate::error::corrupt("share label"))?,
                })
            })
            .collect()
    }
}
