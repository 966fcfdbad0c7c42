//! Graduates' profiles.

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::credentials::{Email, PasswordHash};
use sand_domain::identity::BirthPlace;
use sand_domain::ports::{CreateProfileStoreError, Mail, ProfileRepository};
use sand_domain::profile::second_factor::{RecoveryCodeDigest, SecondFactor, TotpSecret};
use sand_domain::profile::{FranceConnectSubject, NewCredentials, NewProfile, Profile, ProfileId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, QueryTrait, Statement, TransactionTrait,
};
use time::OffsetDateTime;
use tracing::instrument;
use uuid::Uuid;

use crate::Store;
use crate::entity::{link, mail_outbox, profile, recovery_code, second_factor, verification_event};
use crate::error::{Violation, corrupt, port, violation};
use crate::mapping::{first_names_to_row, profile_from};

/// $1 e-mail: its password profile that was never confirmed (such a profile cannot log
/// in, so it holds no link; the check keeps it that way).
const DELETE_UNCONFIRMED_OF_EMAIL: &str = "DELETE FROM profile WHERE email = $1 \
     AND NOT email_verified AND password_hash IS NOT NULL \
     AND NOT EXISTS (SELECT 1 FROM link WHERE link.profile_id = profile.id)";

/// Stores profiles.
#[derive(Debug, Clone)]
pub struct SeaOrmProfileRepository(pub(crate) Store);

#[async_trait]
impl ProfileRepository for SeaOrmProfileRepository {
    #[instrument(skip_all, err(level = "debug"))]
    async fn create(&self, new: NewProfile) -> Result<Profile, CreateProfileStoreError> {
        let (password_hash, fc_issuer, fc_subject) = match &new.credentials {
            NewCredentials::Password(hash) => (Some(hash.as_str().to_owned()), None, None),
            NewCredentials::FranceConnect(s) => {
                (None, Some(s.issuer.clone()), Some(s.subject.clone()))
            }
        };
        let identity = &new.identity;
        let row = profile::ActiveModel {
            id: Set(Uuid::new_v4()),
            email: Set(new.email.as_str().to_owned()),
            email_verified: Set(new.email_verified),
            password_hash: Set(password_hash),
            fc_issuer: Set(fc_issuer),
            fc_subject: Set(fc_subject),
            birth_name: Set(identity.birth_name.as_str().to_owned()),
            first_names: Set(first_names_to_row(&identity.first_names)),
            birth_date: Set(identity.birth_date.date()),
            birth_place: Set(identity
                .birth_place
                .as_ref()
                .map(|p| BirthPlace::as_str(p).to_owned())),
            birth_place_code: Set(identity.birth_place_code.map(|c| c.as_str().to_owned())),
            identity_certified: Set(new.identity_certified),
            birth_date_presumed: Set(new.birth_date_presumed),
            notify_on_verification: Set(false),
            created_at: Set(new.created_at),
        };
        let txn = self.0.db.begin().await.map_err(port)?;
        // an address never confirmed is no one's: its pending profile gives way
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            match txn.get_database_backend() {
                DbBackend::Sqlite => DELETE_UNCONFIRMED_OF_EMAIL.replace('$', "?"),
                _ => DELETE_UNCONFIRMED_OF_EMAIL.to_owned(),
            },
            [new.email.as_str().into()],
        ))
        .await
        .map_err(port)?;
        let inserted = profile::Entity::insert(row).exec_with_returning(&txn).await;
        match inserted {
            Ok(model) => {
                txn.commit().await.map_err(port)?;
                Ok(profile_from(model)?)
            }
            Err(e) => match violation(&e) {
                Some(Violation::Unique(text)) if text.contains("email") => {
                    Err(CreateProfileStoreError::EmailTaken)
                }
                Some(Violation::Unique(_)) => Err(CreateProfileStoreError::SubjectTaken),
                _ => Err(port(e).into()),
            },
        }
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn purge_unconfirmed(&self, created_before: OffsetDateTime) -> Result<u64, PortError> {
        let result = profile::Entity::delete_many()
            .filter(profile::Column::EmailVerified.eq(false))
            .filter(profile::Column::PasswordHash.is_not_null())
            .filter(profile::Column::CreatedAt.lt(created_before))
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(result.rows_affected)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn set_verification_notices(&self, id: ProfileId, on: bool) -> Result<bool, PortError> {
        let result = profile::Entity::update_many()
            .col_expr(profile::Column::NotifyOnVerification, Expr::value(on))
            .filter(profile::Column::Id.eq(id.0))
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(result.rows_affected > 0)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn second_factor(&self, id: ProfileId) -> Result<Option<SecondFactor>, PortError> {
        let Some(row) = second_factor::Entity::find_by_id(id.0)
            .one(&self.0.db)
            .await
            .map_err(port)?
        else {
            return Ok(None);
        };
        let secret = self
            .0
            .keys
            .open_totp(&row.secret_sealed, id.0)
            .map_err(|_| corrupt("second factor secret (wrong server secret?)"))?;
        let recovery_codes_left = recovery_code::Entity::find()
            .filter(recovery_code::Column::ProfileId.eq(id.0))
            .count(&self.0.db)
            .await
            .map_err(port)?;
        Ok(Some(SecondFactor {
            secret: TotpSecret::new(secret),
            last_step: row.last_step.and_then(|s| u64::try_from(s).ok()),
            enabled_at: row.enabled_at,
            recovery_codes_left,
        }))
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn enable_second_factor(
        &self,
        id: ProfileId,
        secret: &TotpSecret,
        first_step: u64,
        recovery: &[RecoveryCodeDigest],
        at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        let sealed = self
            .0
            .keys
            .seal_totp(secret.expose(), id.0)
            .map_err(PortError::unexpected)?;
        let txn = self.0.db.begin().await.map_err(port)?;
        let inserted = second_factor::Entity::insert(second_factor::ActiveModel {
            profile_id: Set(id.0),
            secret_sealed: Set(sealed),
            last_step: Set(i64::try_from(first_step).ok()),
            enabled_at: Set(at),
        })
        .exec_without_returning(&txn)
        .await;
        match inserted {
            Ok(_) => {}
            // already on, or the profile is gone
            Err(e) if violation(&e).is_some() => return Ok(false),
            Err(e) => return Err(port(e)),
        }
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::ProfileId.eq(id.0))
            .exec(&txn)
            .await
            .map_err(port)?;
        if !recovery.is_empty() {
            recovery_code::Entity::insert_many(recovery.iter().map(|digest| {
                recovery_code::ActiveModel {
                    profile_id: Set(id.0),
                    digest: Set(digest.0.clone()),
                }
            }))
            .exec_without_returning(&txn)
            .await
            .map_err(port)?;
        }
        txn.commit().await.map_err(port)?;
        Ok(true)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn disable_second_factor(&self, id: ProfileId) -> Result<bool, PortError> {
        let txn = self.0.db.begin().await.map_err(port)?;
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::ProfileId.eq(id.0))
            .exec(&txn)
            .await
            .map_err(port)?;
        let removed = second_factor::Entity::delete_by_id(id.0)
            .exec(&txn)
            .await
            .map_err(port)?
            .rows_affected;
        txn.commit().await.map_err(port)?;
        Ok(removed == 1)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn accept_totp_step(&self, id: ProfileId, step: u64) -> Result<bool, PortError> {
        let step = i64::try_from(step).map_err(PortError::unexpected)?;
        let updated = second_factor::Entity::update_many()
            .col_expr(second_factor::Column::LastStep, Expr::value(step))
            .filter(second_factor::Column::ProfileId.eq(id.0))
            .filter(
                Condition::any()
                    .add(second_factor::Column::LastStep.is_null())
                    .add(second_factor::Column::LastStep.lt(step)),
            )
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(updated.rows_affected == 1)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn use_recovery_code(
        &self,
        id: ProfileId,
        digest: &RecoveryCodeDigest,
    ) -> Result<bool, PortError> {
        let removed = recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::ProfileId.eq(id.0))
            .filter(recovery_code::Column::Digest.eq(digest.0.clone()))
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(removed.rows_affected == 1)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn get(&self, id: ProfileId) -> Result<Option<Profile>, PortError> {
        profile::Entity::find_by_id(id.0)
            .one(&self.0.db)
            .await
            .map_err(port)?
            .map(profile_from)
            .transpose()
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn find_password_account(
        &self,
        email: &Email,
    ) -> Result<Option<(Profile, PasswordHash)>, PortError> {
        let Some(row) = profile::Entity::find()
            .filter(profile::Column::Email.eq(email.as_str()))
            .filter(profile::Column::PasswordHash.is_not_null())
            .one(&self.0.db)
            .await
            .map_err(port)?
        else {
            return Ok(None);
        };
        let hash = PasswordHash::new(row.password_hash.clone().unwrap_or_default());
        Ok(Some((profile_from(row)?, hash)))
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn find_by_franceconnect(
        &self,
        subject: &FranceConnectSubject,
    ) -> Result<Option<Profile>, PortError> {
        profile::Entity::find()
            .filter(profile::Column::FcIssuer.eq(subject.issuer.as_str()))
            .filter(profile::Column::FcSubject.eq(subject.subject.as_str()))
            .one(&self.0.db)
            .await
            .map_err(port)?
            .map(profile_from)
            .transpose()
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn mark_email_verified(&self, id: ProfileId) -> Result<bool, PortError> {
        let result = profile::Entity::update_many()
            .col_expr(profile::Column::EmailVerified, Expr::value(true))
            .filter(profile::Column::Id.eq(id.0))
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(result.rows_affected > 0)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn password_hash(&self, id: ProfileId) -> Result<Option<PasswordHash>, PortError> {
        let row = profile::Entity::find_by_id(id.0)
            .one(&self.0.db)
            .await
            .map_err(port)?;
        Ok(row.and_then(|r| r.password_hash).map(PasswordHash::new))
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn set_password(&self, id: ProfileId, hash: PasswordHash) -> Result<bool, PortError> {
        let result = profile::Entity::update_many()
            .col_expr(
                profile::Column::PasswordHash,
                Expr::value(hash.as_str().to_owned()),
            )
            .col_expr(profile::Column::EmailVerified, Expr::value(true))
            .filter(profile::Column::Id.eq(id.0))
            .filter(profile::Column::PasswordHash.is_not_null())
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(result.rows_affected > 0)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn delete(&self, id: ProfileId, notice: Option<Mail>) -> Result<Option<u64>, PortError> {
        let txn = self.0.db.begin().await.map_err(port)?;
        // Lock the profile first: a concurrent attach either committed its link before
        // (and it is counted and deleted here) or fails on the foreign key after.
        let Some(row) = profile::Entity::find_by_id(id.0)
            .lock_exclusive_if_supported()
            .one(&txn)
            .await
            .map_err(port)?
        else {
            return Ok(None);
        };
        // what verifiers typed about this person goes with them: the events stay (the
        // counts), without their organisation or the labels of their share links
        let owned_links = link::Entity::find()
            .select_only()
            .column(link::Column::Id)
            .filter(link::Column::ProfileId.eq(id.0));
        verification_event::Entity::update_many()
            .col_expr(
                verification_event::Column::Organisation,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                verification_event::Column::ShareLabel,
                Expr::value(Option::<String>::None),
            )
            .filter(verification_event::Column::LinkId.in_subquery(owned_links.into_query()))
            .exec(&txn)
            .await
            .map_err(port)?;
        // and so do the mails still waiting for them (the deletion notice comes after)
        mail_outbox::Entity::delete_many()
            .filter(mail_outbox::Column::Recipient.eq(row.email.clone()))
            .exec(&txn)
            .await
            .map_err(port)?;
        let links = link::Entity::find()
            .filter(link::Column::ProfileId.eq(id.0))
            .count(&txn)
            .await
            .map_err(port)?;
        // Verification events lose their link (ON DELETE SET NULL): no tie to the person.
        link::Entity::delete_many()
            .filter(link::Column::ProfileId.eq(id.0))
            .exec(&txn)
            .await
            .map_err(port)?;
        profile::Entity::delete_by_id(id.0)
            .exec(&txn)
            .await
            .map_err(port)?;
        if let Some(mail) = &notice {
            crate::outbox::enqueue(&txn, mail, time::OffsetDateTime::now_utc(), &self.0.keys)
                .await?;
        }
        txn.commit().await.map_err(port)?;
        Ok(Some(links))
    }
}

/// `SELECT … FOR UPDATE` where the backend has it (PostgreSQL); SQLite serialises
/// writers anyway.
trait LockIfSupported {
    fn lock_exclusive_if_supported(self) -> Self;
}

impl<E: EntityTrait> LockIfSupported for sea_orm::Select<E> {
    fn lock_exclusive_if_supported(self) -> Self {
        use sea_orm::QuerySelect;
        self.lock_exclusive()
    }
}
