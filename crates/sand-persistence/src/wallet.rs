//! Wallet credential offers (docs: the migration `create_credential_offers`): secrets
//! as keyed hashes; redeeming and using the access token are single conditional
//! updates, so two wallets racing with one offer get one credential between them.

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::link::LinkId;
use sand_domain::ports::{CreateOfferStoreError, CredentialOfferStore, Mail, RedeemStoreError};
use sand_domain::profile::ProfileId;
use sand_domain::wallet::{
    AccessToken, CredentialGrant, NewCredentialOffer, OfferId, PreAuthorizedCode, RedeemRefusal,
    TxCode,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement,
    TransactionTrait,
};
use time::OffsetDateTime;
use tracing::instrument;
use uuid::Uuid;

use crate::Store;
use crate::entity::{credential_offer, link};
use crate::error::{corrupt, port};

const CODE: &str = "pre-authorized-code";
const TX_CODE: &str = "tx-code";
const ACCESS: &str = "access-token";

/// Wallet credential offers.
#[derive(Debug, Clone)]
pub struct SeaOrmCredentialOfferStore(pub(crate) Store);

/// Equal in time whatever the bytes (the hashes are keyed, this is belt and braces).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[async_trait]
impl CredentialOfferStore for SeaOrmCredentialOfferStore {
    #[instrument(skip_all, err(level = "debug"))]
    async fn create(
        &self,
        offer: NewCredentialOffer,
        mail: Mail,
    ) -> Result<OfferId, CreateOfferStoreError> {
        let tx = self.0.db.begin().await.map_err(port)?;
        let held = link::Entity::find_by_id(offer.link.0)
            .filter(link::Column::ProfileId.eq(offer.profile.0))
            .filter(link::Column::WithdrawnAt.is_null())
            .one(&tx)
            .await
            .map_err(port)?;
        if held.is_none() {
            return Err(CreateOfferStoreError::LinkNotFound);
        }
        // one offer of a link redeemable at a time: the newest (its code was just mailed)
        credential_offer::Entity::update_many()
            .col_expr(
                credential_offer::Column::EndedAt,
                Expr::value(offer.created_at),
            )
            .filter(credential_offer::Column::LinkId.eq(offer.link.0))
            .filter(credential_offer::Column::EndedAt.is_null())
            .filter(credential_offer::Column::RedeemedAt.is_null())
            .exec(&tx)
            .await
            .map_err(port)?;
        let id = Uuid::now_v7();
        let keys = &self.0.keys;
        let row = credential_offer::ActiveModel {
            id: Set(id),
            link_id: Set(offer.link.0),
            profile_id: Set(offer.profile.0),
            code_hash: Set(keys.wallet_hash(CODE, &[], offer.code.expose())),
            tx_code_hash: Set(keys.wallet_hash(TX_CODE, id.as_bytes(), offer.tx_code.expose())),
            created_at: Set(offer.created_at),
            expires_at: Set(offer.expires_at),
            wrong_tx_codes: Set(0),
            ended_at: Set(None),
            redeemed_at: Set(None),
            access_hash: Set(None),
            access_expires_at: Set(None),
            issued_at: Set(None),
        };
        credential_offer::Entity::insert(row)
            .exec_without_returning(&tx)
            .await
            .map_err(port)?;
        crate::outbox::enqueue(&tx, &mail, offer.created_at, keys).await?;
        tx.commit().await.map_err(port)?;
        Ok(OfferId(id))
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn redeem(
        &self,
        code: &PreAuthorizedCode,
        tx_code: &TxCode,
        access: &AccessToken,
        now: OffsetDateTime,
        access_until: OffsetDateTime,
        max_wrong: u32,
    ) -> Result<(), RedeemStoreError> {
        let keys = &self.0.keys;
        let tx = self.0.db.begin().await.map_err(port)?;
        let backend = tx.get_database_backend();
        let hash = keys.wallet_hash(CODE, &[], code.expose());
        let mut find = credential_offer::Entity::find()
            .filter(credential_offer::Column::CodeHash.eq(hash))
            .filter(credential_offer::Column::EndedAt.is_null())
            .filter(credential_offer::Column::RedeemedAt.is_null())
            .filter(credential_offer::Column::ExpiresAt.gt(now));
        if backend == DbBackend::Postgres {
            // wrong codes are counted one at a time
            use sea_orm::QuerySelect;
            find = find.lock_exclusive();
        }
        let Some(offer) = find.one(&tx).await.map_err(port)? else {
            return Err(RedeemStoreError::Refused(RedeemRefusal::InvalidCode));
        };
        // a withdrawn link's offer is dead too (a deleted one took its offers with it)
        let active = link::Entity::find_by_id(offer.link_id)
            .filter(link::Column::WithdrawnAt.is_null())
            .one(&tx)
            .await
            .map_err(port)?;
        if active.is_none() {
            return Err(RedeemStoreError::Refused(RedeemRefusal::InvalidCode));
        }
        let expected = keys.wallet_hash(TX_CODE, offer.id.as_bytes(), tx_code.expose());
        let open = credential_offer::Column::EndedAt
            .is_null()
            .and(credential_offer::Column::RedeemedAt.is_null());
        if !same(&expected, &offer.tx_code_hash) {
            let wrong = u32::try_from(offer.wrong_tx_codes)
                .unwrap_or(u32::MAX)
                .saturating_add(1);
            let mut update = credential_offer::Entity::update_many()
                .col_expr(
                    credential_offer::Column::WrongTxCodes,
                    Expr::col(credential_offer::Column::WrongTxCodes).add(1),
                )
                .filter(credential_offer::Column::Id.eq(offer.id))
                .filter(open);
            if wrong >= max_wrong {
                update = update.col_expr(credential_offer::Column::EndedAt, Expr::value(now));
            }
            let done = update.exec(&tx).await.map_err(port)?;
            tx.commit().await.map_err(port)?;
            if done.rows_affected == 0 {
                return Err(RedeemStoreError::Refused(RedeemRefusal::InvalidCode));
            }
            return Err(RedeemStoreError::Refused(RedeemRefusal::WrongTxCode {
                left: max_wrong.saturating_sub(wrong),
            }));
        }
        let done = credential_offer::Entity::update_many()
            .col_expr(credential_offer::Column::RedeemedAt, Expr::value(now))
            .col_expr(
                credential_offer::Column::AccessHash,
                Expr::value(keys.wallet_hash(ACCESS, &[], access.expose())),
            )
            .col_expr(
                credential_offer::Column::AccessExpiresAt,
                Expr::value(access_until),
            )
            .filter(credential_offer::Column::Id.eq(offer.id))
            .filter(open)
            .exec(&tx)
            .await
            .map_err(port)?;
        tx.commit().await.map_err(port)?;
        if done.rows_affected == 0 {
            // another request redeemed it meanwhile
            return Err(RedeemStoreError::Refused(RedeemRefusal::InvalidCode));
        }
        Ok(())
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn use_access(
        &self,
        token: &AccessToken,
        now: OffsetDateTime,
    ) -> Result<Option<CredentialGrant>, PortError> {
        let backend = self.0.db.get_database_backend();
        let text = "UPDATE credential_offer SET issued_at = $1 \
             WHERE access_hash = $2 AND issued_at IS NULL AND access_expires_at > $1 \
             RETURNING id, profile_id, link_id";
        let text = match backend {
            DbBackend::Sqlite => text.replace('$', "?"),
            _ => text.to_owned(),
        };
        let row = self
            .0
            .db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                text,
                [
                    now.into(),
                    self.0.keys.wallet_hash(ACCESS, &[], token.expose()).into(),
                ],
            ))
            .await
            .map_err(port)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id = |name: &str| -> Result<Uuid, PortError> {
            row.try_get::<Uuid>("", name)
                .map_err(|_| corrupt("credential offer"))
        };
        Ok(Some(CredentialGrant {
            offer: OfferId(id("id")?),
            profile: ProfileId(id("profile_id")?),
            link: LinkId(id("link_id")?),
        }))
    }
}
