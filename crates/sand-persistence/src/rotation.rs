//! Rotation of the server secret: every stored control key re-protected (lookup hash and
//! sealed key) from the store's current secret to a new one
//! (docs/adr/0002-control-keys-at-rest.md).
//!
//! Links are read in primary-key order, a batch per transaction; a link whose sealed key
//! already opens with the new secret was rotated by an earlier, interrupted run and is
//! left alone, so the rotation can be run again until it reports nothing left. A row is
//! rewritten only if it still holds what was read (a key renewed meanwhile is taken up by
//! the next run).

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use uuid::Uuid;

use crate::Store;
use crate::entity::{link, second_factor, staff_member};
use crate::error::port;
use crate::keys::KeyProtector;
use sand_domain::PortError;

/// What a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Links whose key was re-protected with the new secret.
    pub rotated: u64,
    /// Links already protected with the new secret (an earlier run).
    pub already_rotated: u64,
    /// Links changed while they were being rotated: run the rotation again.
    pub changed_meanwhile: u64,
    /// Links whose sealed key opens with neither secret (corrupt, or a third secret).
    pub unreadable: Vec<Uuid>,
    /// Second factors (TOTP secrets of profiles and of back-office staff) re-sealed with
    /// the new secret.
    pub second_factors_rotated: u64,
    /// Profiles and staff members whose sealed TOTP secret opens with neither secret.
    pub unreadable_second_factors: Vec<Uuid>,
}

impl RotationReport {
    /// Nothing is left under the old secret.
    #[must_use]
    pub fn complete(&self) -> bool {
        self.changed_meanwhile == 0
            && self.unreadable.is_empty()
            && self.unreadable_second_factors.is_empty()
    }
}

impl Store {
    /// How many links hold a control key (for a progress bar).
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn count_links(&self) -> Result<u64, PortError> {
        link::Entity::find().count(&self.db).await.map_err(port)
    }

    /// Re-protects every stored control key from this store's secret to `new`, `batch`
    /// links per transaction; `progress` is told how many links were handled so far.
    ///
    /// # Errors
    /// [`PortError`] when the database fails (what was committed stays rotated: run it
    /// again).
    pub async fn rotate_key_protection(
        &self,
        new: &KeyProtector,
        batch: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<RotationReport, PortError> {
        let mut report = RotationReport::default();
        let mut after: Option<Uuid> = None;
        let mut handled = 0u64;
        loop {
            let mut query = link::Entity::find()
                .order_by_asc(link::Column::Id)
                .limit(batch.max(1));
            if let Some(last) = after {
                query = query.filter(link::Column::Id.gt(last));
            }
            let rows = query.all(&self.db).await.map_err(port)?;
            let Some(last) = rows.last().map(|r| r.id) else {
                break;
            };
            let txn = self.db.begin().await.map_err(port)?;
            for row in &rows {
                let key = match self.keys.open(&row.key_sealed, row.id) {
                    Ok(key) => key,
                    Err(_) if new.open(&row.key_sealed, row.id).is_ok() => {
                        report.already_rotated += 1;
                        continue;
                    }
                    Err(_) => {
                        report.unreadable.push(row.id);
                        continue;
                    }
                };
                let sealed = new.seal(&key, row.id).map_err(PortError::unexpected)?;
                let updated = link::Entity::update_many()
                    .col_expr(link::Column::KeyHash, Expr::value(new.lookup_hash(&key)))
                    .col_expr(link::Column::KeySealed, Expr::value(sealed))
                    .filter(link::Column::Id.eq(row.id))
                    .filter(link::Column::KeySealed.eq(row.key_sealed.clone()))
                    .exec(&txn)
                    .await
                    .map_err(port)?;
                if updated.rows_affected == 1 {
                    report.rotated += 1;
                } else {
                    report.changed_meanwhile += 1;
                }
            }
            txn.commit().await.map_err(port)?;
            handled += rows.len() as u64;
            progress(handled);
            after = Some(last);
        }
        // the second factors' TOTP secrets, sealed with a key of the same secret (few
        // rows: one transaction)
        let txn = self.db.begin().await.map_err(port)?;
        for row in second_factor::Entity::find()
            .all(&txn)
            .await
            .map_err(port)?
        {
            let secret = match self.keys.open_totp(&row.secret_sealed, row.profile_id) {
                Ok(secret) => secret,
                Err(_) if new.open_totp(&row.secret_sealed, row.profile_id).is_ok() => continue,
                Err(_) => {
                    report.unreadable_second_factors.push(row.profile_id);
                    continue;
                }
            };
            let sealed = new
                .seal_totp(&secret, row.profile_id)
                .map_err(PortError::unexpected)?;
            second_factor::Entity::update_many()
                .col_expr(second_factor::Column::SecretSealed, Expr::value(sealed))
                .filter(second_factor::Column::ProfileId.eq(row.profile_id))
                .exec(&txn)
                .await
                .map_err(port)?;
            report.second_factors_rotated += 1;
        }
        // the back-office staff's TOTP secrets, under the same key
        for row in staff_member::Entity::find().all(&txn).await.map_err(port)? {
            let secret = match self.keys.open_totp(&row.totp_sealed, row.id) {
                Ok(secret) => secret,
                Err(_) if new.open_totp(&row.totp_sealed, row.id).is_ok() => continue,
                Err(_) => {
                    report.unreadable_second_factors.push(row.id);
                    continue;
                }
            };
            let sealed = new
                .seal_totp(&secret, row.id)
                .map_err(PortError::unexpected)?;
            staff_member::Entity::update_many()
                .col_expr(staff_member::Column::TotpSealed, Expr::value(sealed))
                .filter(staff_member::Column::Id.eq(row.id))
                .exec(&txn)
                .await
                .map_err(port)?;
            report.second_factors_rotated += 1;
        }
        txn.commit().await.map_err(port)?;
        Ok(report)
    }
}
