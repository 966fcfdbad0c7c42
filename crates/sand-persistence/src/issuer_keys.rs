//! The public keys issuers sign their batches with, as the operator registered them
//! (`sand issuers add-key`). A key is revoked, never deleted: a stored batch keeps
//! naming the key that signed it. The importer's role writes them; the web side reads.

use sea_orm::{ActiveModelTrait, ActiveValue, EntityTrait, QueryOrder};
use time::OffsetDateTime;

use crate::entity::issuer_key;
use crate::{StoreError, StoreSettings, open};

/// A registered key, as stored: the PEM is read by the caller (the store checks nothing
/// cryptographic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerKey {
    /// 16 hexadecimal digits.
    pub key_id: String,
    /// The issuer's code in the registry.
    pub issuer: String,
    /// The public key, PEM (`-----BEGIN PUBLIC KEY-----`).
    pub public_key: String,
    pub added_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// What registering a key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddKey {
    Added,
    /// The same key was already registered for this issuer: nothing changed.
    AlreadyThere,
    /// This key is registered for another issuer: refused (one key, one issuer).
    OtherIssuer(String),
}

/// Every registered key, oldest first.
///
/// # Errors
/// [`StoreError::Connect`] when the database cannot be reached or read.
pub async fn list(settings: &StoreSettings) -> Result<Vec<IssuerKey>, StoreError> {
    let db = open(settings).await?;
    let rows = issuer_key::Entity::find()
        .order_by_asc(issuer_key::Column::AddedAt)
        .order_by_asc(issuer_key::Column::KeyId)
        .all(&db)
        .await
        .map_err(StoreError::Connect)?;
    db.close().await.map_err(StoreError::Connect)?;
    Ok(rows
        .into_iter()
        .map(|row| IssuerKey {
            key_id: row.key_id,
            issuer: row.issuer,
            public_key: row.public_key,
            added_at: row.added_at,
            revoked_at: row.revoked_at,
        })
        .collect())
}

/// Registers `key` (its id computed by the caller) for its issuer.
///
/// # Errors
/// [`StoreError::Connect`].
pub async fn add(settings: &StoreSettings, key: &IssuerKey) -> Result<AddKey, StoreError> {
    let db = open(settings).await?;
    let existing = issuer_key::Entity::find_by_id(key.key_id.clone())
        .one(&db)
        .await
        .map_err(StoreError::Connect)?;
    let outcome = match existing {
        Some(row) if row.issuer == key.issuer => AddKey::AlreadyThere,
        Some(row) => AddKey::OtherIssuer(row.issuer),
        None => {
            issuer_key::ActiveModel {
                key_id: ActiveValue::Set(key.key_id.clone()),
                issuer: ActiveValue::Set(key.issuer.clone()),
                public_key: ActiveValue::Set(key.public_key.clone()),
                added_at: ActiveValue::Set(key.added_at),
                revoked_at: ActiveValue::Set(None),
            }
            .insert(&db)
            .await
            .map_err(StoreError::Connect)?;
            AddKey::Added
        }
    };
    db.close().await.map_err(StoreError::Connect)?;
    Ok(outcome)
}

/// Revokes a key from `at` on: batches it signs are refused from then on. Returns
/// whether a live key of that id was found.
///
/// # Errors
/// [`StoreError::Connect`].
pub async fn revoke(
    settings: &StoreSettings,
    key_id: &str,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let db = open(settings).await?;
    let existing = issuer_key::Entity::find_by_id(key_id.to_owned())
        .one(&db)
        .await
        .map_err(StoreError::Connect)?;
    let revoked = match existing {
        Some(row) if row.revoked_at.is_none() => {
            let mut row: issuer_key::ActiveModel = row.into();
            row.revoked_at = ActiveValue::Set(Some(at));
            row.update(&db).await.map_err(StoreError::Connect)?;
            true
        }
        _ => false,
    };
    db.close().await.map_err(StoreError::Connect)?;
    Ok(revoked)
}
