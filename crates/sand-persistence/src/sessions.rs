//! Login sessions, server-side.

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::ports::{SessionStore, StoredSession};
use sand_domain::profile::ProfileId;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use time::OffsetDateTime;
use tracing::instrument;

use crate::Store;
use crate::entity::web_session;
use crate::error::port;

/// Stores login sessions in the `web_session` table.
#[derive(Debug, Clone)]
pub struct SeaOrmSessionStore(pub(crate) Store);

#[async_trait]
impl SessionStore for SeaOrmSessionStore {
    #[instrument(skip_all, err(level = "debug"))]
    async fn create(&self, session: StoredSession) -> Result<(), PortError> {
        let row = web_session::ActiveModel {
            digest: Set(session.digest),
            profile_id: Set(session.profile.0),
            created_at: Set(session.created_at),
            last_seen_at: Set(session.last_seen_at),
            id_token_hint: Set(session.id_token_hint),
        };
        web_session::Entity::insert(row)
            .exec_without_returning(&self.0.db)
            .await
            .map_err(port)?;
        Ok(())
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn find(&self, digest: &str) -> Result<Option<StoredSession>, PortError> {
        let row = web_session::Entity::find_by_id(digest.to_owned())
            .one(&self.0.db)
            .await
            .map_err(port)?;
        Ok(row.map(|r| StoredSession {
            digest: r.digest,
            profile: ProfileId(r.profile_id),
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            id_token_hint: r.id_token_hint,
        }))
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn touch(&self, digest: &str, at: OffsetDateTime) -> Result<(), PortError> {
        web_session::Entity::update_many()
            .col_expr(web_session::Column::LastSeenAt, Expr::value(at))
            .filter(web_session::Column::Digest.eq(digest))
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(())
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn delete(&self, digest: &str) -> Result<(), PortError> {
        web_session::Entity::delete_by_id(digest.to_owned())
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(())
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn delete_for_profile(&self, profile: ProfileId) -> Result<u64, PortError> {
        let result = web_session::Entity::delete_many()
            .filter(web_session::Column::ProfileId.eq(profile.0))
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(result.rows_affected)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn delete_others(&self, profile: ProfileId, keep: &str) -> Result<u64, PortError> {
        let result = web_session::Entity::delete_many()
            .filter(web_session::Column::ProfileId.eq(profile.0))
            .filter(web_session::Column::Digest.ne(keep))
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(result.rows_affected)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn list_for_profile(&self, profile: ProfileId) -> Result<Vec<StoredSession>, PortError> {
        let rows = web_session::Entity::find()
            .filter(web_session::Column::ProfileId.eq(profile.0))
            .order_by_desc(web_session::Column::CreatedAt)
            .order_by_desc(web_session::Column::Digest)
            .all(&self.0.db)
            .await
            .map_err(port)?;
        Ok(rows
            .into_iter()
            .map(|r| StoredSession {
                digest: r.digest,
                profile: ProfileId(r.profile_id),
                created_at: r.created_at,
                last_seen_at: r.last_seen_at,
                id_token_hint: r.id_token_hint,
            })
            .collect())
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn purge(
        &self,
        idle_before: OffsetDateTime,
        created_before: OffsetDateTime,
    ) -> Result<u64, PortError> {
        let result = web_session::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(web_session::Column::LastSeenAt.lt(idle_before))
                    .add(web_session::Column::CreatedAt.lt(created_before)),
            )
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(result.rows_affected)
    }
}
