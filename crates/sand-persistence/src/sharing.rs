//! Share links: stored with their token as a keyed hash (the look-up) and sealed (the
//! holder copies the address again); opened in one statement with the link, the record
//! and the holder a verification needs.

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::credentials::Email;
use sand_domain::link::LinkId;
use sand_domain::ports::{CreateShareStoreError, HolderContact, ShareLinkStore, VerifiableLink};
use sand_domain::profile::ProfileId;
use sand_domain::sharing::{NewShareLink, OpenedShare, ShareId, ShareLabel, ShareLink, ShareToken};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult,
    Iterable, QueryFilter, QueryOrder, Statement, TransactionTrait,
};
use time::OffsetDateTime;
use tracing::instrument;
use uuid::Uuid;

use crate::Store;
use crate::entity::{diploma_record, link, share_link};
use crate::error::{corrupt, port};
use crate::mapping::{link_from, record_from};

/// The share links.
#[derive(Debug, Clone)]
pub struct SeaOrmShareLinkStore(pub(crate) Store);

impl SeaOrmShareLinkStore {
    fn share_from(&self, row: share_link::Model) -> Result<ShareLink, PortError> {
        let token = self
            .0
            .keys
            .open_share_token(&row.token_sealed, row.id)
            .ok()
            .and_then(|t| ShareToken::parse(&t))
            .ok_or_else(|| corrupt("share token"))?;
        Ok(ShareLink {
            id: ShareId(row.id),
            link: LinkId(row.link_id),
            label: ShareLabel::parse(&row.label).map_err(|_| corrupt("share label"))?,
            token,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        })
    }
}

/// The statement of an opening, for `backend`: every column of the share link (`s_`),
/// its link (`l_`) and record (`r_`), and the holder's contact; no row unless the share
/// is unrevoked, its link active and held by the profile that shared it, its record live
/// (the expiry is compared by the caller, on the service's clock).
fn open_sql(backend: DbBackend) -> String {
    use sea_orm::IdenStatic;
    let mut columns: Vec<String> = share_link::Column::iter()
        .map(|c| format!("s.{0} AS s_{0}", c.as_str()))
        .collect();
    columns.extend(link::Column::iter().map(|c| format!("l.{0} AS l_{0}", c.as_str())));
    columns.extend(diploma_record::Column::iter().map(|c| format!("r.{0} AS r_{0}", c.as_str())));
    let hash = match backend {
        DbBackend::Postgres => "$1",
        _ => "?1",
    };
    format!(
        "SELECT {}, p.id AS p_id, p.email AS p_email, \
         p.notify_on_verification AS p_notify_on_verification \
         FROM share_link s \
         JOIN link l ON l.id = s.link_id AND l.profile_id = s.profile_id AND l.withdrawn_at IS NULL \
         JOIN diploma_record r ON r.id = l.record_id AND r.withdrawn_at IS NULL \
         JOIN profile p ON p.id = l.profile_id \
         WHERE s.token_hash = {hash} AND s.revoked_at IS NULL",
        columns.join(", ")
    )
}

#[async_trait]
impl ShareLinkStore for SeaOrmShareLinkStore {
    #[instrument(skip_all, err(level = "debug"))]
    async fn create(
        &self,
        new: NewShareLink,
        live_limit: usize,
    ) -> Result<ShareLink, CreateShareStoreError> {
        let tx = self.0.db.begin().await.map_err(port)?;
        let backend = tx.get_database_backend();
        if backend == DbBackend::Postgres {
            // one creation at a time per profile: two cannot pass the limit together
            tx.execute_raw(Statement::from_sql_and_values(
                backend,
                "SELECT id FROM profile WHERE id = $1 FOR UPDATE",
                [new.profile.0.into()],
            ))
            .await
            .map_err(port)?;
        }
        let held = link::Entity::find_by_id(new.link.0)
            .filter(link::Column::ProfileId.eq(new.profile.0))
            .filter(link::Column::WithdrawnAt.is_null())
            .one(&tx)
            .await
            .map_err(port)?;
        if held.is_none() {
            return Err(CreateShareStoreError::LinkNotFound);
        }
        let unrevoked = share_link::Entity::find()
            .filter(share_link::Column::ProfileId.eq(new.profile.0))
            .filter(share_link::Column::RevokedAt.is_null())
            .all(&tx)
            .await
            .map_err(port)?;
        let live = unrevoked
            .iter()
            .filter(|s| s.expires_at > new.created_at)
            .count();
        if live >= live_limit {
            return Err(CreateShareStoreError::TooManyLive);
        }
        let id = Uuid::now_v7();
        let keys = &self.0.keys;
        let row = share_link::ActiveModel {
            id: Set(id),
            link_id: Set(new.link.0),
            profile_id: Set(new.profile.0),
            label: Set(new.label.as_str().to_owned()),
            token_hash: Set(keys.share_lookup_hash(new.token.expose())),
            token_sealed: Set(keys
                .seal_share_token(new.token.expose(), id)
                .map_err(PortError::unexpected)?),
            created_at: Set(new.created_at),
            expires_at: Set(new.expires_at),
            revoked_at: Set(None),
        };
        share_link::Entity::insert(row)
            .exec_without_returning(&tx)
            .await
            .map_err(port)?;
        tx.commit().await.map_err(port)?;
        Ok(ShareLink {
            id: ShareId(id),
            link: new.link,
            label: new.label,
            token: new.token,
            created_at: new.created_at,
            expires_at: new.expires_at,
            revoked_at: None,
        })
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn list_for_profile(&self, profile: ProfileId) -> Result<Vec<ShareLink>, PortError> {
        share_link::Entity::find()
            .filter(share_link::Column::ProfileId.eq(profile.0))
            .order_by_desc(share_link::Column::CreatedAt)
            .order_by_desc(share_link::Column::Id)
            .all(&self.0.db)
            .await
            .map_err(port)?
            .into_iter()
            .map(|row| self.share_from(row))
            .collect()
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn revoke(
        &self,
        id: ShareId,
        profile: ProfileId,
        at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        let result = share_link::Entity::update_many()
            .col_expr(share_link::Column::RevokedAt, Expr::value(at))
            .filter(share_link::Column::Id.eq(id.0))
            .filter(share_link::Column::ProfileId.eq(profile.0))
            .filter(share_link::Column::RevokedAt.is_null())
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(result.rows_affected > 0)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn find_open(
        &self,
        token: &ShareToken,
        now: OffsetDateTime,
    ) -> Result<Option<OpenedShare>, PortError> {
        static POSTGRES: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| open_sql(DbBackend::Postgres));
        static SQLITE: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| open_sql(DbBackend::Sqlite));
        let backend = self.0.db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => &*POSTGRES,
            _ => &*SQLITE,
        };
        let statement = Statement::from_sql_and_values(
            backend,
            sql.clone(),
            [self.0.keys.share_lookup_hash(token.expose()).into()],
        );
        let Some(row) = self.0.db.query_one_raw(statement).await.map_err(port)? else {
            return Ok(None);
        };
        let share = share_link::Model::from_query_result(&row, "s_").map_err(port)?;
        if share.expires_at <= now {
            return Ok(None);
        }
        let link = link::Model::from_query_result(&row, "l_").map_err(port)?;
        let record = diploma_record::Model::from_query_result(&row, "r_").map_err(port)?;
        let id: Uuid = row.try_get("", "p_id").map_err(port)?;
        let email: String = row.try_get("", "p_email").map_err(port)?;
        let notify: bool = row.try_get("", "p_notify_on_verification").map_err(port)?;
        Ok(Some(OpenedShare {
            share: self.share_from(share)?,
            verifiable: VerifiableLink {
                link: link_from(link, &self.0.keys)?,
                record: record_from(record)?,
                holder: HolderContact {
                    id: ProfileId(id),
                    email: Email::parse(&email).map_err(|_| corrupt("profile e-mail"))?,
                    notify_on_verification: notify,
                },
            },
        }))
    }
}
