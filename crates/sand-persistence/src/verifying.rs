//! The verification space's hot path: one read, and events written in groups.
//!
//! - [`SeaOrmVerificationLookup`]: the live link of a key, its record and its holder's
//!   contact in **one statement** (a join served by the unique index on `key_hash`),
//!   prepared once per connection. The statement does the same index work for an unknown
//!   key: the record and the profile are probed by a decoy id that matches nothing, so
//!   that the time of the answer does not tell a live key from an unknown one;
//! - [`EventWriter`]: a single writer that stores verification events (and the notices
//!   that go with them) for many concurrent verifications in **one transaction** — group
//!   commit. Each verification is answered only once its group is committed, so every
//!   verification answered valid has its event stored; when the service is idle a group
//!   is a single event, written at once (no waiting for company).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::control_key::ControlKey;
use sand_domain::credentials::Email;
use sand_domain::ports::{HolderContact, Mail, VerifiableLink, VerificationLookup};
use sand_domain::profile::ProfileId;
use sand_domain::record::RecordId;
use sand_domain::verification::NewVerificationEvent;
use sea_orm::sqlx;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    Iterable, Statement, TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};
use tracing::instrument;
use uuid::Uuid;

use crate::Store;
use crate::entity::{diploma_record, link, verification_event};
use crate::error::{corrupt, pg, port};
use crate::keys::KeyProtector;
use crate::mapping::{link_from, record_from};

/// The verification read.
#[derive(Debug, Clone)]
pub struct SeaOrmVerificationLookup(pub(crate) Store);

/// The one statement of a verification's read, for `backend`: every column of the link
/// (prefixed `l_`) and of its record (`r_`), and the holder's contact. Always one row:
/// for an unknown key the link's columns are null, and the record and the profile were
/// probed by the decoy id (`$2`) all the same.
fn lookup_sql(backend: DbBackend) -> String {
    use sea_orm::IdenStatic;
    let mut columns: Vec<String> = link::Column::iter()
        .map(|c| format!("l.{0} AS l_{0}", c.as_str()))
        .collect();
    columns.extend(diploma_record::Column::iter().map(|c| format!("r.{0} AS r_{0}", c.as_str())));
    let (hash, decoy, decoy_again) = match backend {
        DbBackend::Postgres => ("$1", "$2", "$2"),
        _ => ("?1", "?2", "?2"),
    };
    format!(
        "SELECT {}, p.id AS p_id, p.email AS p_email, \
         p.notify_on_verification AS p_notify_on_verification \
         FROM (SELECT 1 AS one) k \
         LEFT JOIN link l ON l.key_hash = {hash} AND l.withdrawn_at IS NULL \
         LEFT JOIN diploma_record r ON r.id = COALESCE(l.record_id, {decoy}) \
         LEFT JOIN profile p ON p.id = COALESCE(l.profile_id, {decoy_again})",
        columns.join(", ")
    )
}

#[async_trait]
impl VerificationLookup for SeaOrmVerificationLookup {
    #[instrument(skip_all, err(level = "debug"))]
    async fn find_verifiable(&self, key: &ControlKey) -> Result<Option<VerifiableLink>, PortError> {
        static POSTGRES: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| lookup_sql(DbBackend::Postgres));
        static SQLITE: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| lookup_sql(DbBackend::Sqlite));
        let backend = self.0.db.get_database_backend();
        // the statement is written once per backend, not on every verification
        let sql = match backend {
            DbBackend::Postgres => &*POSTGRES,
            _ => &*SQLITE,
        };
        let statement = Statement::from_sql_and_values(
            backend,
            sql.clone(),
            [
                self.0.keys.lookup_hash(key).into(),
                RecordId::DECOY.0.into(),
            ],
        );
        let row = self.0.db.query_one_raw(statement).await.map_err(port)?;
        // one row whatever the key; null ids where nothing matched
        let present = |column: &str| -> Result<bool, PortError> {
            let id: Option<Uuid> = match &row {
                Some(row) => row.try_get("", column).map_err(port)?,
                None => None,
            };
            Ok(id.is_some())
        };
        let (Some(row), true, true, true) =
            (&row, present("l_id")?, present("r_id")?, present("p_id")?)
        else {
            // the same sealed-key work as a live key, whatever the key (a live link whose
            // record is gone certifies nothing either)
            self.0.keys.open_decoy();
            return Ok(None);
        };
        let link = link::Model::from_query_result(row, "l_").map_err(port)?;
        let record = diploma_record::Model::from_query_result(row, "r_").map_err(port)?;
        let id: Uuid = row.try_get("", "p_id").map_err(port)?;
        let email: String = row.try_get("", "p_email").map_err(port)?;
        let notify: bool = row.try_get("", "p_notify_on_verification").map_err(port)?;
        Ok(Some(VerifiableLink {
            link: link_from(link, &self.0.keys)?,
            record: record_from(record)?,
            holder: HolderContact {
                id: ProfileId(id),
                email: Email::parse(&email).map_err(|_| corrupt("profile e-mail"))?,
                notify_on_verification: notify,
            },
        }))
    }
}

/// Most events one transaction stores.
const MAX_GROUP: usize = 256;

/// A verification waiting for its event to be stored.
struct Waiting {
    event: NewVerificationEvent,
    notice: Option<Mail>,
    stored: oneshot::Sender<Result<(), String>>,
}

/// The single writer of verification events (group commit), started at the first event
/// on the runtime that asks, and again if that runtime has gone.
#[derive(Default)]
pub(crate) struct EventWriter {
    queue: Mutex<Option<mpsc::Sender<Waiting>>>,
}

impl std::fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventWriter")
    }
}

impl EventWriter {
    /// Stores `event` (and `notice`, in the same transaction); returns once it is
    /// committed.
    pub(crate) async fn store(
        &self,
        db: &DatabaseConnection,
        keys: &Arc<KeyProtector>,
        event: NewVerificationEvent,
        notice: Option<Mail>,
    ) -> Result<(), PortError> {
        let (stored, committed) = oneshot::channel();
        let mut waiting = Waiting {
            event,
            notice,
            stored,
        };
        // a writer whose runtime ended is replaced once
        for _ in 0..2 {
            let queue = self.queue(db, keys);
            match queue.send(waiting).await {
                Ok(()) => {
                    return match committed.await {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(why)) => Err(PortError::unavailable(why)),
                        Err(_) => Err(PortError::unavailable("the event writer stopped")),
                    };
                }
                Err(mpsc::error::SendError(back)) => {
                    waiting = back;
                    self.forget();
                }
            }
        }
        Err(PortError::unavailable("the event writer cannot start"))
    }

    fn queue(&self, db: &DatabaseConnection, keys: &Arc<KeyProtector>) -> mpsc::Sender<Waiting> {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(sender) = queue.as_ref().filter(|s| !s.is_closed()) {
            return sender.clone();
        }
        let (sender, receiver) = mpsc::channel(MAX_GROUP * 4);
        tokio::spawn(write_groups(db.clone(), Arc::clone(keys), receiver));
        *queue = Some(sender.clone());
        sender
    }

    fn forget(&self) {
        *self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

/// The writer: takes what is waiting (at least one), stores it in one transaction,
/// answers each.
async fn write_groups(
    db: DatabaseConnection,
    keys: Arc<KeyProtector>,
    mut queue: mpsc::Receiver<Waiting>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        let outcome = write_group(&db, &keys, &group)
            .await
            .map_err(|e| e.to_string());
        if let Err(why) = &outcome {
            tracing::warn!(error = %why, events = group.len(), "verification events could not be stored");
        }
        for waiting in group.drain(..) {
            // a verification whose client went away needs no answer
            let _ = waiting.stored.send(outcome.clone());
        }
    }
}

/// A group's events on PostgreSQL in one statement, whatever their number (one prepared
/// statement, one round trip; a statement is its own transaction).
const INSERT_EVENTS_POSTGRES: &str = "INSERT INTO verification_event \
    (id, link_id, at, organisation, share_label) \
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[])";

async fn write_group(
    db: &DatabaseConnection,
    keys: &KeyProtector,
    group: &[Waiting],
) -> Result<(), PortError> {
    if db.get_database_backend() == DbBackend::Postgres && group.iter().all(|w| w.notice.is_none())
    {
        return write_events_postgres(db, group).await;
    }
    let rows = group.iter().map(|w| verification_event::ActiveModel {
        id: Set(Uuid::new_v4()),
        link_id: Set(Some(w.event.link.0)),
        at: Set(w.event.at),
        organisation: Set(w.event.organisation.as_ref().map(|o| o.as_str().to_owned())),
        share_label: Set(w.event.share.as_ref().map(|l| l.as_str().to_owned())),
    });
    let txn = db.begin().await.map_err(port)?;
    verification_event::Entity::insert_many(rows)
        .exec_without_returning(&txn)
        .await
        .map_err(port)?;
    for waiting in group {
        if let Some(mail) = &waiting.notice {
            crate::outbox::enqueue(&txn, mail, waiting.event.at, keys).await?;
        }
    }
    txn.commit().await.map_err(port)?;
    Ok(())
}

/// The events of `group` (which has no notice to queue) in one statement.
async fn write_events_postgres(
    db: &DatabaseConnection,
    group: &[Waiting],
) -> Result<(), PortError> {
    let ids: Vec<Uuid> = group.iter().map(|_| Uuid::new_v4()).collect();
    let links: Vec<Uuid> = group.iter().map(|w| w.event.link.0).collect();
    let ats: Vec<time::OffsetDateTime> = group.iter().map(|w| w.event.at).collect();
    let organisations: Vec<Option<&str>> = group
        .iter()
        .map(|w| w.event.organisation.as_ref().map(|o| o.as_str()))
        .collect();
    let shares: Vec<Option<&str>> = group
        .iter()
        .map(|w| w.event.share.as_ref().map(|l| l.as_str()))
        .collect();
    sqlx::query(INSERT_EVENTS_POSTGRES)
        .bind(ids)
        .bind(links)
        .bind(ats)
        .bind(organisations)
        .bind(shares)
        .execute(db.get_postgres_connection_pool())
        .await
        .map_err(pg)?;
    Ok(())
}
