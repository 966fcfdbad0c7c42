//! The mail outbox: a mail is a row written in the transaction of the change that causes
//! it; the background sender (`sand-mail`) claims due rows, delivers them and deletes
//! them, or schedules another attempt.

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::SecretToken;
use sand_domain::academie::Academie;
use sand_domain::credentials::Email;
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Session};
use sand_domain::ports::{Mail, MailId, MailQueue, Mailer, QueuedMail, SecurityChange};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use time::OffsetDateTime;
use tracing::instrument;
use uuid::Uuid;

use crate::Store;
use crate::entity::mail_outbox;
use crate::error::{corrupt, port};
use crate::keys::KeyProtector;

const VERIFY_EMAIL: &str = "verify_email";
const PASSWORD_RESET: &str = "password_reset";
const PROFILE_DELETED: &str = "profile_deleted";
const ATTESTATION_VERIFIED: &str = "attestation_verified";
/// Also written by the import's set-based withdrawal (see `staging.rs`).
pub(crate) const RECORD_WITHDRAWN: &str = "record_withdrawn";
const KEY_GUESSING: &str = "key_guessing";
const WALLET_TX_CODE: &str = "wallet_tx_code";
/// The four security changes, one kind each.
const SECURITY_CHANGES: [(&str, SecurityChange); 4] = [
    ("password_changed", SecurityChange::PasswordChanged),
    ("password_reset_done", SecurityChange::PasswordReset),
    ("second_factor_enabled", SecurityChange::SecondFactorEnabled),
    (
        "second_factor_disabled",
        SecurityChange::SecondFactorDisabled,
    ),
];
const ATTESTATION_TAKEN_OVER: &str = "attestation_taken_over";
const LINK_RELEASED: &str = "link_released";

fn row_of(
    mail: &Mail,
    now: OffsetDateTime,
    keys: &KeyProtector,
) -> Result<mail_outbox::ActiveModel, PortError> {
    let (kind, to, token, scope, occurred_at, organisation) = match mail {
        Mail::VerifyEmail { to, token } => {
            (VERIFY_EMAIL, to, Some(token.expose()), None, None, None)
        }
        Mail::PasswordReset { to, token } => {
            (PASSWORD_RESET, to, Some(token.expose()), None, None, None)
        }
        Mail::ProfileDeleted { to } => (PROFILE_DELETED, to, None, None, None, None),
        Mail::SecurityChange { to, change } => (
            SECURITY_CHANGES
                .iter()
                .find(|(_, c)| c == change)
                .map_or("password_changed", |(kind, _)| kind),
            to,
            None,
            None,
            None,
            None,
        ),
        Mail::AttestationVerified {
            to,
            scope,
            at,
            organisation,
            stop,
        } => (
            ATTESTATION_VERIFIED,
            to,
            Some(stop.expose()),
            Some(scope),
            Some(*at),
            organisation.clone(),
        ),
        Mail::RecordWithdrawn { to, scope } => {
            (RECORD_WITHDRAWN, to, None, Some(scope), None, None)
        }
        Mail::KeyGuessing { to, scope } => (KEY_GUESSING, to, None, Some(scope), None, None),
        // the code is sealed like the other secrets; the offer's end rides as the time
        Mail::WalletTxCode {
            to,
            code,
            scope,
            expires_at,
        } => (
            WALLET_TX_CODE,
            to,
            Some(code.expose()),
            Some(scope),
            Some(*expires_at),
            None,
        ),
        Mail::AttestationTakenOver { to, scope } => {
            (ATTESTATION_TAKEN_OVER, to, None, Some(scope), None, None)
        }
        // the reason's stable code rides in the row's free detail column
        Mail::LinkReleased { to, scope, reason } => (
            LINK_RELEASED,
            to,
            None,
            Some(scope),
            None,
            Some(reason.code().to_owned()),
        ),
    };
    let id = Uuid::now_v7();
    // a link waiting to be mailed is no use to whoever reads the database
    let token = token
        .map(|t| keys.seal_token(t, id))
        .transpose()
        .map_err(PortError::unexpected)?;
    Ok(mail_outbox::ActiveModel {
        id: Set(id),
        kind: Set(kind.to_owned()),
        recipient: Set(to.as_str().to_owned()),
        token: Set(token),
        diploma_kind: Set(scope.map(|s| s.kind.code().to_owned())),
        session: Set(scope.map(|s| i32::from(s.session.year()))),
        academie: Set(scope.map(|s| s.academie.code().to_owned())),
        occurred_at: Set(occurred_at),
        organisation: Set(organisation),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        abandoned_at: Set(None),
    })
}

fn mail_of(row: &mail_outbox::Model, keys: &KeyProtector) -> Result<Mail, PortError> {
    let to = Email::parse(&row.recipient).map_err(|_| corrupt("outbox recipient"))?;
    let token = || {
        row.token
            .as_deref()
            .and_then(|stored| keys.open_token(stored, row.id).ok())
            .map(SecretToken::new)
            .ok_or_else(|| corrupt("outbox token"))
    };
    let scope = || -> Result<DiplomaScope, PortError> {
        let kind = row.diploma_kind.as_deref().unwrap_or_default();
        Ok(DiplomaScope {
            kind: *DiplomaKind::all()
                .iter()
                .find(|k| k.code() == kind)
                .ok_or_else(|| corrupt("outbox diploma kind"))?,
            session: row
                .session
                .and_then(|s| u16::try_from(s).ok())
                .and_then(|s| Session::new(s).ok())
                .ok_or_else(|| corrupt("outbox session"))?,
            academie: Academie::from_code(row.academie.as_deref().unwrap_or_default())
                .map_err(|_| corrupt("outbox académie"))?,
        })
    };
    Ok(match row.kind.as_str() {
        VERIFY_EMAIL => Mail::VerifyEmail {
            to,
            token: token()?,
        },
        PASSWORD_RESET => Mail::PasswordReset {
            to,
            token: token()?,
        },
        PROFILE_DELETED => Mail::ProfileDeleted { to },
        kind if SECURITY_CHANGES.iter().any(|(k, _)| *k == kind) => Mail::SecurityChange {
            to,
            change: SECURITY_CHANGES
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, c)| *c)
                .ok_or_else(|| corrupt("outbox kind"))?,
        },
        ATTESTATION_VERIFIED => Mail::AttestationVerified {
            to,
            scope: scope()?,
            at: row.occurred_at.ok_or_else(|| corrupt("outbox time"))?,
            organisation: row.organisation.clone(),
            stop: token()?,
        },
        RECORD_WITHDRAWN => Mail::RecordWithdrawn {
            to,
            scope: scope()?,
        },
        KEY_GUESSING => Mail::KeyGuessing {
            to,
            scope: scope()?,
        },
        WALLET_TX_CODE => Mail::WalletTxCode {
            to,
            code: row
                .token
                .as_deref()
                .and_then(|stored| keys.open_token(stored, row.id).ok())
                .and_then(|code| sand_domain::wallet::TxCode::parse(&code))
                .ok_or_else(|| corrupt("outbox transaction code"))?,
            scope: scope()?,
            expires_at: row.occurred_at.ok_or_else(|| corrupt("outbox time"))?,
        },
        ATTESTATION_TAKEN_OVER => Mail::AttestationTakenOver {
            to,
            scope: scope()?,
        },
        LINK_RELEASED => Mail::LinkReleased {
            to,
            scope: scope()?,
            reason: row
                .organisation
                .as_deref()
                .and_then(|code| code.parse().ok())
                .ok_or_else(|| corrupt("outbox release reason"))?,
        },
        _ => return Err(corrupt("outbox kind")),
    })
}

/// Queues `mail` on `db` (a transaction of the caller's, usually).
pub(crate) async fn enqueue<C: ConnectionTrait>(
    db: &C,
    mail: &Mail,
    now: OffsetDateTime,
    keys: &KeyProtector,
) -> Result<(), PortError> {
    // without RETURNING: the roles that only queue mail (the importer's, the back
    // office's) may not read the outbox
    mail_outbox::Entity::insert(row_of(mail, now, keys)?)
        .exec_without_returning(db)
        .await
        .map_err(port)?;
    Ok(())
}

/// [`Mailer`]: queues a mail on its own (no other change goes with it).
#[derive(Debug, Clone)]
pub struct SeaOrmMailer(pub(crate) Store);

#[async_trait]
impl Mailer for SeaOrmMailer {
    #[instrument(skip_all, err(level = "debug"))]
    async fn send(&self, mail: Mail) -> Result<(), PortError> {
        enqueue(&self.0.db, &mail, OffsetDateTime::now_utc(), &self.0.keys).await
    }
}

/// [`MailQueue`]: the background sender's view of the outbox.
#[derive(Debug, Clone)]
pub struct SeaOrmMailQueue(pub(crate) Store);

fn truncated(error: &str) -> String {
    error.chars().take(1000).collect()
}

#[async_trait]
impl MailQueue for SeaOrmMailQueue {
    #[instrument(skip_all, err(level = "debug"))]
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, PortError> {
        let db = &self.0.db;
        let due = mail_outbox::Entity::find()
            .filter(mail_outbox::Column::AbandonedAt.is_null())
            .filter(mail_outbox::Column::NextAttemptAt.lte(now))
            .order_by_asc(mail_outbox::Column::NextAttemptAt)
            .limit(u64::from(limit))
            .all(db)
            .await
            .map_err(port)?;
        let mut claimed = Vec::with_capacity(due.len());
        for row in due {
            // claimed only if no other sender moved it since it was read
            let taken = mail_outbox::Entity::update_many()
                .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(now + lease))
                .col_expr(
                    mail_outbox::Column::Attempts,
                    Expr::col(mail_outbox::Column::Attempts).add(1),
                )
                .filter(mail_outbox::Column::Id.eq(row.id))
                .filter(mail_outbox::Column::NextAttemptAt.eq(row.next_attempt_at))
                .exec(db)
                .await
                .map_err(port)?
                .rows_affected
                == 1;
            if !taken {
                continue;
            }
            match mail_of(&row, &self.0.keys) {
                Ok(mail) => claimed.push(QueuedMail {
                    id: MailId(row.id),
                    mail,
                    attempts: u32::try_from(row.attempts + 1).unwrap_or(u32::MAX),
                }),
                Err(e) => {
                    tracing::error!(mail = %row.id, error = %e, "unreadable outbox row abandoned");
                    self.abandon(MailId(row.id), now, "unreadable row").await?;
                }
            }
        }
        Ok(claimed)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn purge_abandoned(&self, before: OffsetDateTime) -> Result<u64, PortError> {
        let result = mail_outbox::Entity::delete_many()
            .filter(mail_outbox::Column::AbandonedAt.lt(before))
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(result.rows_affected)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn delivered(&self, id: MailId) -> Result<(), PortError> {
        mail_outbox::Entity::delete_by_id(id.0)
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(())
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn retry_at(&self, id: MailId, at: OffsetDateTime, error: &str) -> Result<(), PortError> {
        mail_outbox::Entity::update_many()
            .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(at))
            .col_expr(
                mail_outbox::Column::LastError,
                Expr::value(truncated(error)),
            )
            .filter(mail_outbox::Column::Id.eq(id.0))
            .exec(&self.0.db)
            .await
            .map_err(port)?;
        Ok(())
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn abandon(&self, id: MailId, at: OffsetDateTime, error: &str) -> Result<(), PortError> {
        let txn = self.0.db.begin().await.map_err(port)?;
        mail_outbox::Entity::update_many()
            .col_expr(mail_outbox::Column::AbandonedAt, Expr::value(at))
            .col_expr(
                mail_outbox::Column::LastError,
                Expr::value(truncated(error)),
            )
            // a secret that will never be sent is not kept
            .col_expr(
                mail_outbox::Column::Token,
                Expr::value(Option::<String>::None),
            )
            .filter(mail_outbox::Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(port)?;
        txn.commit().await.map_err(port)?;
        Ok(())
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn depth(&self) -> Result<u64, PortError> {
        mail_outbox::Entity::find()
            .filter(mail_outbox::Column::AbandonedAt.is_null())
            .count(&self.0.db)
            .await
            .map_err(port)
    }
}
