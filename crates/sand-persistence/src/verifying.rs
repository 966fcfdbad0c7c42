//! The verification space's hot path: keys read in groups, events written in groups.
//!
//! - [`SeaOrmVerificationLookup`]: the live link of a key, its record and its holder's
//!   contact in **one statement** (a join served by the unique index on `key_hash`). The
//!   statement does the same index work for an unknown key: the record and the profile
//!   are probed by a decoy id that matches nothing, so that the time of the answer does
//!   not tell a live key from an unknown one. On PostgreSQL the keys of concurrent
//!   verifications are read together by a single reader, in one statement over the array
//!   of their hashes ([`LookupReader`]): one round trip and one statement for a group,
//!   where each verification took its own. A group's time depends on the group, not on
//!   whether one of its keys is live;
//! - [`EventWriter`]: writers (four on PostgreSQL, one on SQLite) that store verification
//!   events (and the notices that go with them) for many concurrent verifications in
//!   **one transaction** each — group commit. Each verification is answered only once its group is committed, so every
//!   verification answered valid has its event stored.
//!
//! Neither waits for company: when the service is idle a group is a single key or a
//! single event, sent at once; under load, what arrived while the previous group was at
//! the database makes the next.

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
    Iterable, QueryResult, Statement, TransactionTrait,
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

/// Most keys one statement reads, and most events one transaction stores.
const MAX_GROUP: usize = 256;

/// The columns every lookup returns: every column of the link (prefixed `l_`) and of its
/// record (`r_`), and the holder's contact (`p_`).
fn lookup_columns() -> String {
    use sea_orm::IdenStatic;
    let mut columns: Vec<String> = link::Column::iter()
        .map(|c| format!("l.{0} AS l_{0}", c.as_str()))
        .collect();
    columns.extend(diploma_record::Column::iter().map(|c| format!("r.{0} AS r_{0}", c.as_str())));
    columns.extend(
        ["id", "email", "notify_on_verification"]
            .iter()
            .map(|c| format!("p.{c} AS p_{c}")),
    );
    columns.join(", ")
}

/// The one statement of a verification's read on SQLite (PostgreSQL reads keys in
/// groups). Always one row: for an unknown key the link's columns are null, and the
/// record and the profile were probed by the decoy id (`?2`) all the same.
fn lookup_sql_sqlite() -> String {
    format!(
        "SELECT {} FROM (SELECT 1 AS one) k \
         LEFT JOIN link l ON l.key_hash = ?1 AND l.withdrawn_at IS NULL \
         LEFT JOIN diploma_record r ON r.id = COALESCE(l.record_id, ?2) \
         LEFT JOIN profile p ON p.id = COALESCE(l.profile_id, ?2)",
        lookup_columns()
    )
}

/// The read of a group of keys on PostgreSQL: the same join for each hash of the array
/// `$1`, one row per hash, in the array's order.
pub(crate) fn lookup_group_sql() -> String {
    format!(
        "SELECT {} FROM unnest($1::bytea[]) WITH ORDINALITY AS k(hash, n) \
         LEFT JOIN link l ON l.key_hash = k.hash AND l.withdrawn_at IS NULL \
         LEFT JOIN diploma_record r ON r.id = COALESCE(l.record_id, $2) \
         LEFT JOIN profile p ON p.id = COALESCE(l.profile_id, $2) \
         ORDER BY k.n",
        lookup_columns()
    )
}

#[async_trait]
impl VerificationLookup for SeaOrmVerificationLookup {
    #[instrument(skip_all, err(level = "debug"))]
    async fn find_verifiable(&self, key: &ControlKey) -> Result<Option<VerifiableLink>, PortError> {
        let store = &self.0;
        let hash = store.keys.lookup_hash(key);
        let row = if store.db.get_database_backend() == DbBackend::Postgres {
            store.lookups.read(&store.db, hash).await?
        } else {
            static SQLITE: std::sync::LazyLock<String> =
                std::sync::LazyLock::new(lookup_sql_sqlite);
            let statement = Statement::from_sql_and_values(
                DbBackend::Sqlite,
                SQLITE.clone(),
                [hash.into(), RecordId::DECOY.0.into()],
            );
            store
                .db
                .query_one_raw(statement)
                .await
                .map_err(port)?
                .ok_or_else(|| corrupt("verification lookup without its row"))?
        };
        verifiable_from(&row, &store.keys)
    }
}

/// A lookup's row as the domain's answer: `None` where nothing live matched the key.
fn verifiable_from(
    row: &QueryResult,
    keys: &KeyProtector,
) -> Result<Option<VerifiableLink>, PortError> {
    // null ids where nothing matched
    let present = |column: &str| -> Result<bool, PortError> {
        let id: Option<Uuid> = row.try_get("", column).map_err(port)?;
        Ok(id.is_some())
    };
    if !(present("l_id")? && present("r_id")? && present("p_id")?) {
        // the same sealed-key work as a live key, whatever the key (a live link whose
        // record is gone certifies nothing either)
        keys.open_decoy();
        return Ok(None);
    }
    let link = link::Model::from_query_result(row, "l_").map_err(port)?;
    let record = diploma_record::Model::from_query_result(row, "r_").map_err(port)?;
    let id: Uuid = row.try_get("", "p_id").map_err(port)?;
    let email: String = row.try_get("", "p_email").map_err(port)?;
    let notify: bool = row.try_get("", "p_notify_on_verification").map_err(port)?;
    Ok(Some(VerifiableLink {
        link: link_from(link, keys)?,
        record: record_from(record)?,
        holder: HolderContact {
            id: ProfileId(id),
            email: Email::parse(&email).map_err(|_| corrupt("profile e-mail"))?,
            notify_on_verification: notify,
        },
    }))
}

/// A group's failure, told to each of its members with its kind (unavailable or not).
#[derive(Debug, Clone)]
struct GroupFailure {
    unavailable: bool,
    why: String,
}

impl GroupFailure {
    fn of(e: &PortError) -> Self {
        use std::error::Error as _;
        Self {
            unavailable: e.is_unavailable(),
            why: e
                .source()
                .map_or_else(|| e.to_string(), ToString::to_string),
        }
    }

    fn stopped(what: &str) -> Self {
        Self {
            unavailable: true,
            why: format!("the {what} stopped"),
        }
    }

    fn into_port(self) -> PortError {
        if self.unavailable {
            PortError::unavailable(self.why)
        } else {
            PortError::unexpected(self.why)
        }
    }
}

/// The queue of a single worker that serves requests in groups: started at the first
/// request on the runtime that asks, and again if that runtime has gone.
struct GroupQueue<T> {
    queue: Mutex<Option<mpsc::Sender<T>>>,
}

impl<T> Default for GroupQueue<T> {
    fn default() -> Self {
        Self {
            queue: Mutex::new(None),
        }
    }
}

impl<T: Send + 'static> GroupQueue<T> {
    /// Hands `item` to the worker, which `start` spawns on the current runtime when there
    /// is none (a worker whose runtime ended is replaced once).
    async fn send(&self, mut item: T, start: impl Fn(mpsc::Receiver<T>)) -> Result<(), PortError> {
        for _ in 0..2 {
            let sender = {
                let mut queue = self
                    .queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match queue.as_ref().filter(|s| !s.is_closed()) {
                    Some(sender) => sender.clone(),
                    None => {
                        let (sender, receiver) = mpsc::channel(MAX_GROUP * 4);
                        start(receiver);
                        *queue = Some(sender.clone());
                        sender
                    }
                }
            };
            match sender.send(item).await {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(back)) => {
                    item = back;
                    *self
                        .queue
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                }
            }
        }
        Err(PortError::unavailable("a group worker cannot start"))
    }
}

/// A key waiting for its row.
struct Lookup {
    hash: Vec<u8>,
    found: oneshot::Sender<Result<sqlx::postgres::PgRow, GroupFailure>>,
}

/// The single reader of keys on PostgreSQL: the keys of concurrent verifications in one
/// statement.
#[derive(Default)]
pub(crate) struct LookupReader(GroupQueue<Lookup>);

impl std::fmt::Debug for LookupReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LookupReader")
    }
}

impl LookupReader {
    /// The lookup's row for the key of lookup hash `hash`, read with the keys of the
    /// verifications in progress.
    async fn read(&self, db: &DatabaseConnection, hash: Vec<u8>) -> Result<QueryResult, PortError> {
        let (found, row) = oneshot::channel();
        self.0
            .send(Lookup { hash, found }, |queue| {
                tokio::spawn(read_groups(db.clone(), queue));
            })
            .await?;
        match row.await {
            Ok(Ok(row)) => Ok(QueryResult::from(row)),
            Ok(Err(failure)) => Err(failure.into_port()),
            Err(_) => Err(GroupFailure::stopped("key reader").into_port()),
        }
    }
}

/// The reader: takes the keys waiting (at least one), reads them in one statement,
/// answers each with its row.
async fn read_groups(db: DatabaseConnection, mut queue: mpsc::Receiver<Lookup>) {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(lookup_group_sql);
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        let hashes: Vec<Vec<u8>> = group
            .iter_mut()
            .map(|l| std::mem::take(&mut l.hash))
            .collect();
        let rows = sqlx::query(sqlx::AssertSqlSafe(SQL.as_str()))
            .bind(hashes)
            .bind(RecordId::DECOY.0)
            .fetch_all(db.get_postgres_connection_pool())
            .await
            .map_err(|e| GroupFailure::of(&pg(e)))
            .and_then(|rows| {
                if rows.len() == group.len() {
                    Ok(rows)
                } else {
                    Err(GroupFailure::of(&corrupt("a key group's row count")))
                }
            });
        match rows {
            Ok(rows) => {
                for (lookup, row) in group.drain(..).zip(rows) {
                    // a verification whose client went away needs no answer
                    let _ = lookup.found.send(Ok(row));
                }
            }
            Err(failure) => {
                for lookup in group.drain(..) {
                    let _ = lookup.found.send(Err(failure.clone()));
                }
            }
        }
    }
}

/// A verification waiting for its event to be stored.
struct Waiting {
    event: NewVerificationEvent,
    notice: Option<Mail>,
    stored: oneshot::Sender<Result<(), GroupFailure>>,
}

/// How many groups of events are stored at once on PostgreSQL. One group in flight makes
/// every verification wait for the commit under way and then for its own; with a few,
/// the events that arrive during a commit go to the next writer at once, and
/// PostgreSQL flushes the commits that meet in one write of its log.
const EVENT_WRITERS: usize = 4;

/// The writers of verification events (group commit).
#[derive(Default)]
pub(crate) struct EventWriter(GroupQueue<Waiting>);

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
        let waiting = Waiting {
            event,
            notice,
            stored,
        };
        self.0
            .send(waiting, |queue| {
                // SQLite has one writer at a time whatever the number of connections
                let writers = match db.get_database_backend() {
                    DbBackend::Postgres => EVENT_WRITERS,
                    _ => 1,
                };
                let queue = Arc::new(tokio::sync::Mutex::new(queue));
                for _ in 0..writers {
                    tokio::spawn(write_groups(
                        db.clone(),
                        Arc::clone(keys),
                        Arc::clone(&queue),
                    ));
                }
            })
            .await?;
        match committed.await {
            Ok(outcome) => outcome.map_err(GroupFailure::into_port),
            Err(_) => Err(GroupFailure::stopped("event writer").into_port()),
        }
    }
}

/// The writer: takes what is waiting (at least one), stores it in one transaction,
/// answers each.
async fn write_groups(
    db: DatabaseConnection,
    keys: Arc<KeyProtector>,
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Waiting>>>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    // the writer that holds the queue waits for events; the others are storing theirs
    while queue.lock().await.recv_many(&mut group, MAX_GROUP).await > 0 {
        let outcome = write_group(&db, &keys, &group)
            .await
            .map_err(|e| GroupFailure::of(&e));
        if let Err(failure) = &outcome {
            tracing::warn!(error = %failure.why, events = group.len(), "verification events could not be stored");
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
