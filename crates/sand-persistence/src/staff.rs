//! The back office's staff directory and append-only audit log.

use std::str::FromStr;

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::credentials::{Email, PasswordHash};
use sand_domain::issuer::IssuerCode;
use sand_domain::link::LinkId;
use sand_domain::ports::{AddStaffStoreError, AuditLog, StaffCredentials, StaffDirectory};
use sand_domain::profile::second_factor::TotpSecret;
use sand_domain::record::{BatchId, RecordId};
use sand_domain::staff::audit::{Actor, AuditAction, AuditEntry, NewAuditEntry};
use sand_domain::staff::sign_in::Siret;
use sand_domain::staff::{NewStaffMember, Role, StaffChange, StaffId, StaffLogin, StaffMember};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use time::OffsetDateTime;
use tracing::instrument;
use uuid::Uuid;

use crate::Store;
use crate::entity::{audit_log, staff_member};
use crate::error::{Violation, corrupt, port, violation};

/// The staff directory.
#[derive(Debug, Clone)]
pub struct SeaOrmStaffDirectory(pub(crate) Store);

/// The audit log.
#[derive(Debug, Clone)]
pub struct SeaOrmAuditLog(pub(crate) Store);

/// Appends `entry` on `db` (a transaction of the action it records, or the connection).
pub(crate) async fn append_audit<C: ConnectionTrait>(
    db: &C,
    entry: &NewAuditEntry,
) -> Result<(), PortError> {
    let staff_id = match &entry.actor {
        Actor::Staff { id, .. } => Some(id.0),
        Actor::Operator(_) => None,
    };
    let records: Vec<String> = entry.records.iter().map(|r| r.0.to_string()).collect();
    audit_log::Entity::insert(audit_log::ActiveModel {
        at: Set(entry.at),
        actor: Set(clip(&entry.actor.name(), 80)),
        staff_id: Set(staff_id),
        action: Set(entry.action.code().to_owned()),
        records: Set(records.join(",")),
        link_id: Set(entry.link.map(|l| l.0)),
        batch_id: Set(entry.batch.map(|b| b.0)),
        detail: Set(clip(&entry.detail, 400)),
        origin: Set(clip(&entry.origin, 80)),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await
    .map_err(port)?;
    Ok(())
}

/// At most `max` characters (the columns' bounds; details are short by construction).
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn member_from(row: &staff_member::Model) -> Result<StaffMember, PortError> {
    let issuers = row
        .issuers
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| IssuerCode::parse(c).map_err(|_| corrupt("staff issuer")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StaffMember {
        id: StaffId(row.id),
        login: StaffLogin::parse(&row.login).map_err(|_| corrupt("staff login"))?,
        name: row.name.clone(),
        role: Role::from_str(&row.role).map_err(|_| corrupt("staff role"))?,
        issuers,
        email: row
            .email
            .as_deref()
            .map(|e| Email::parse(e).map_err(|_| corrupt("staff e-mail address")))
            .transpose()?,
        siret: row
            .siret
            .as_deref()
            .map(|s| Siret::parse(s).map_err(|_| corrupt("staff SIRET")))
            .transpose()?,
        created_at: row.created_at,
        disabled_at: row.disabled_at,
        sessions_valid_from: row.sessions_valid_from,
    })
}

/// Which unique key a violation on `staff_member` broke.
fn taken(e: &sea_orm::DbErr) -> Option<AddStaffStoreError> {
    match violation(e) {
        Some(Violation::Unique(text)) if text.contains("email") => {
            Some(AddStaffStoreError::EmailTaken)
        }
        Some(Violation::Unique(_)) => Some(AddStaffStoreError::LoginTaken),
        _ => None,
    }
}

#[async_trait]
impl StaffDirectory for SeaOrmStaffDirectory {
    #[instrument(skip_all, err(level = "debug"), fields(login = %member.login))]
    async fn add(
        &self,
        member: &NewStaffMember,
        password: &PasswordHash,
        totp: &TotpSecret,
        audit: &NewAuditEntry,
    ) -> Result<StaffMember, AddStaffStoreError> {
        let id = Uuid::new_v4();
        let sealed = self
            .0
            .keys
            .seal_totp(totp.expose(), id)
            .map_err(PortError::unexpected)?;
        let issuers: Vec<&str> = member.issuers.iter().map(IssuerCode::code).collect();
        let txn = self.0.db.begin().await.map_err(port)?;
        let inserted = staff_member::Entity::insert(staff_member::ActiveModel {
            id: Set(id),
            login: Set(member.login.as_str().to_owned()),
            name: Set(member.name.trim().to_owned()),
            role: Set(member.role.code().to_owned()),
            issuers: Set(issuers.join(",")),
            password_hash: Set(password.as_str().to_owned()),
            totp_sealed: Set(sealed),
            totp_last_step: Set(None),
            created_at: Set(member.created_at),
            disabled_at: Set(None),
            email: Set(member.email.as_ref().map(|e| e.as_str().to_owned())),
            siret: Set(member.siret.as_ref().map(|s| s.as_str().to_owned())),
            sessions_valid_from: Set(None),
        })
        .exec_without_returning(&txn)
        .await;
        if let Err(e) = inserted {
            return Err(taken(&e).unwrap_or_else(|| port(e).into()));
        }
        append_audit(&txn, audit).await?;
        txn.commit().await.map_err(port)?;
        Ok(StaffMember {
            id: StaffId(id),
            login: member.login.clone(),
            name: member.name.trim().to_owned(),
            role: member.role,
            issuers: member.issuers.clone(),
            email: member.email.clone(),
            siret: member.siret.clone(),
            created_at: member.created_at,
            disabled_at: None,
            sessions_valid_from: None,
        })
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn credentials(&self, login: &StaffLogin) -> Result<Option<StaffCredentials>, PortError> {
        let Some(row) = staff_member::Entity::find()
            .filter(staff_member::Column::Login.eq(login.as_str()))
            .one(&self.0.db)
            .await
            .map_err(port)?
        else {
            return Ok(None);
        };
        let secret = self
            .0
            .keys
            .open_totp(&row.totp_sealed, row.id)
            .map_err(|_| corrupt("staff second factor secret (wrong server secret?)"))?;
        Ok(Some(StaffCredentials {
            member: member_from(&row)?,
            password: PasswordHash::new(row.password_hash.clone()),
            totp: TotpSecret::new(secret),
            last_step: row.totp_last_step.and_then(|s| u64::try_from(s).ok()),
        }))
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn list(&self) -> Result<Vec<StaffMember>, PortError> {
        staff_member::Entity::find()
            .order_by_asc(staff_member::Column::Login)
            .all(&self.0.db)
            .await
            .map_err(port)?
            .iter()
            .map(member_from)
            .collect()
    }

    #[instrument(skip_all, err(level = "debug"), fields(login = %login))]
    async fn close(
        &self,
        login: &StaffLogin,
        at: OffsetDateTime,
        audit: &NewAuditEntry,
    ) -> Result<bool, PortError> {
        let txn = self.0.db.begin().await.map_err(port)?;
        let closed = staff_member::Entity::update_many()
            .col_expr(staff_member::Column::DisabledAt, Expr::value(at))
            .filter(staff_member::Column::Login.eq(login.as_str()))
            .filter(staff_member::Column::DisabledAt.is_null())
            .exec(&txn)
            .await
            .map_err(port)?;
        if closed.rows_affected != 1 {
            return Ok(false);
        }
        append_audit(&txn, audit).await?;
        txn.commit().await.map_err(port)?;
        Ok(true)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn find_by_email(&self, email: &Email) -> Result<Option<StaffMember>, PortError> {
        staff_member::Entity::find()
            .filter(staff_member::Column::Email.eq(email.as_str()))
            .one(&self.0.db)
            .await
            .map_err(port)?
            .as_ref()
            .map(member_from)
            .transpose()
    }

    #[instrument(skip_all, err(level = "debug"), fields(login = %login))]
    async fn change(
        &self,
        login: &StaffLogin,
        change: &StaffChange,
        end_sessions_at: Option<OffsetDateTime>,
        audit: &NewAuditEntry,
    ) -> Result<bool, AddStaffStoreError> {
        let issuers: Vec<&str> = change.issuers.iter().map(IssuerCode::code).collect();
        let txn = self.0.db.begin().await.map_err(port)?;
        let mut update = staff_member::Entity::update_many()
            .col_expr(staff_member::Column::Role, Expr::value(change.role.code()))
            .col_expr(
                staff_member::Column::Issuers,
                Expr::value(issuers.join(",")),
            )
            .col_expr(
                staff_member::Column::Email,
                Expr::value(change.email.as_ref().map(|e| e.as_str().to_owned())),
            )
            .col_expr(
                staff_member::Column::Siret,
                Expr::value(change.siret.as_ref().map(|s| s.as_str().to_owned())),
            );
        if let Some(at) = end_sessions_at {
            update = update.col_expr(staff_member::Column::SessionsValidFrom, Expr::value(at));
        }
        let changed = update
            .filter(staff_member::Column::Login.eq(login.as_str()))
            .exec(&txn)
            .await;
        let changed = match changed {
            Ok(changed) => changed,
            Err(e) => return Err(taken(&e).unwrap_or_else(|| port(e).into())),
        };
        if changed.rows_affected != 1 {
            return Ok(false);
        }
        append_audit(&txn, audit).await?;
        txn.commit().await.map_err(port)?;
        Ok(true)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn end_sessions(
        &self,
        id: StaffId,
        at: OffsetDateTime,
        audit: &NewAuditEntry,
    ) -> Result<(), PortError> {
        let txn = self.0.db.begin().await.map_err(port)?;
        staff_member::Entity::update_many()
            .col_expr(staff_member::Column::SessionsValidFrom, Expr::value(at))
            .filter(staff_member::Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(port)?;
        append_audit(&txn, audit).await?;
        txn.commit().await.map_err(port)?;
        Ok(())
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn accept_totp_step(&self, id: StaffId, step: u64) -> Result<bool, PortError> {
        let step = i64::try_from(step).map_err(PortError::unexpected)?;
        let updated = staff_member::Entity::update_many()
            .col_expr(staff_member::Column::TotpLastStep, Expr::value(step))
            .filter(staff_member::Column::Id.eq(id.0))
            .filter(
                Condition::any()
                    .add(staff_member::Column::TotpLastStep.is_null())
                    .add(staff_member::Column::TotpLastStep.lt(step)),
            )
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(updated.rows_affected == 1)
    }
}

fn entry_from(row: audit_log::Model) -> Result<AuditEntry, PortError> {
    let actor = match (row.staff_id, row.actor.strip_prefix("operateur:")) {
        (Some(id), _) => Actor::Staff {
            id: StaffId(id),
            login: StaffLogin::parse(&row.actor).map_err(|_| corrupt("audit actor"))?,
        },
        (None, Some(user)) => Actor::Operator(user.to_owned()),
        (None, None) => return Err(corrupt("audit actor")),
    };
    let records = row
        .records
        .split(',')
        .filter(|r| !r.is_empty())
        .map(|r| {
            Uuid::parse_str(r)
                .map(RecordId)
                .map_err(|_| corrupt("audit records"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AuditEntry {
        seq: row.seq,
        entry: NewAuditEntry {
            at: row.at,
            actor,
            action: AuditAction::from_str(&row.action).map_err(|_| corrupt("audit action"))?,
            records,
            link: row.link_id.map(LinkId),
            batch: row.batch_id.map(BatchId),
            detail: row.detail,
            origin: row.origin,
        },
    })
}

#[async_trait]
impl AuditLog for SeaOrmAuditLog {
    #[instrument(skip_all, err(level = "debug"), fields(action = %entry.action))]
    async fn append(&self, entry: &NewAuditEntry) -> Result<(), PortError> {
        append_audit(&self.0.db, entry).await
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn entries(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u64,
    ) -> Result<Vec<AuditEntry>, PortError> {
        audit_log::Entity::find()
            .filter(audit_log::Column::At.gte(from))
            .filter(audit_log::Column::At.lt(to))
            .order_by_asc(audit_log::Column::Seq)
            .limit(limit)
            .all(&self.0.db)
            .await
            .map_err(port)?
            .into_iter()
            .map(entry_from)
            .collect()
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn purge_before(
        &self,
        before: OffsetDateTime,
        audit: &NewAuditEntry,
    ) -> Result<u64, PortError> {
        let txn = self.0.db.begin().await.map_err(port)?;
        let removed = audit_log::Entity::delete_many()
            .filter(audit_log::Column::At.lt(before))
            .exec(&txn)
            .await
            .map_err(port)?;
        append_audit(&txn, audit).await?;
        txn.commit().await.map_err(port)?;
        Ok(removed.rows_affected)
    }
}
