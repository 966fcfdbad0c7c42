//! Translation of database errors into port errors, in one place.

use std::error::Error as _;

use sand_domain::PortError;
use sea_orm::{DbErr, SqlErr};

/// Which constraint a write broke, when it broke one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    /// A unique constraint; the text names the constraint or column.
    Unique(String),
    ForeignKey,
}

pub(crate) fn violation(e: &DbErr) -> Option<Violation> {
    match e.sql_err()? {
        SqlErr::UniqueConstraintViolation(text) => Some(Violation::Unique(text)),
        SqlErr::ForeignKeyConstraintViolation(_) => Some(Violation::ForeignKey),
        _ => None,
    }
}

/// A write the storage cannot take: disk full, read-only file or file system, I/O error.
pub(crate) fn is_storage_problem(e: &DbErr) -> bool {
    let text = e.to_string().to_lowercase();
    [
        "database or disk is full",
        "readonly database",
        "disk i/o error",
        "no space left on device",
        "could not extend file",
        // SQLite on a read-only file system (the directory exists: it is created first)
        "unable to open database file",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// SQLite still locked by another writer when the busy timeout ran out (a long import,
/// an operator's open transaction): busy, not broken.
fn is_busy(e: &DbErr) -> bool {
    let text = e.to_string().to_lowercase();
    text.contains("database is locked") || text.contains("database table is locked")
}

/// A connection lost in the middle of a statement (the server went away, the network was
/// cut). sea-orm wraps the driver's error without its source chain, so the I/O error
/// beneath is found by its text.
fn is_lost_connection(e: &DbErr) -> bool {
    let text = e.to_string().to_lowercase();
    [
        "error communicating with database",
        "connection reset",
        "broken pipe",
        "unexpected end of file",
        "pool timed out",
        "closed pool",
        "crashed background worker",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// A database that cannot be reached, cannot be written or stays locked is `Unavailable`
/// (503, retry later); anything else is `Unexpected`.
/// A failure of a statement sent through sqlx directly (binary `COPY`, the initial load,
/// the event statement), reported as [`port`] reports sea-orm's.
pub(crate) fn pg(e: sea_orm::sqlx::Error) -> PortError {
    port(DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e.into())))
}

pub(crate) fn port(e: DbErr) -> PortError {
    let mut connection_problem =
        matches!(e, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) || is_lost_connection(&e);
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            connection_problem = true;
        }
        source = s.source();
    }
    // storage that cannot take a write (disk full, read-only, I/O error) is an outage
    // to report and fix, not a bug: 503 and a clear log line
    if is_storage_problem(&e) {
        tracing::error!(error = %e, "the database cannot be written");
        connection_problem = true;
    }
    if is_busy(&e) {
        tracing::warn!(error = %e, "the database stayed locked by another writer");
        connection_problem = true;
    }
    if connection_problem {
        PortError::unavailable(e)
    } else {
        PortError::unexpected(e)
    }
}

/// Corrupt or unreadable stored data (a row that no longer parses into the domain).
pub(crate) fn corrupt(what: &'static str) -> PortError {
    PortError::unexpected(CorruptRow(what))
}

#[derive(Debug, thiserror::Error)]
#[error("stored {0} does not parse into the domain")]
struct CorruptRow(&'static str);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::{RuntimeErr, SqlxError};

    use super::*;

    #[test]
    fn a_connection_lost_in_the_middle_of_a_statement_is_an_outage_not_a_bug() {
        let cut = || {
            SqlxError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ))
        };
        for lost in [
            DbErr::Query(RuntimeErr::SqlxError(Arc::new(cut()))),
            DbErr::Exec(RuntimeErr::SqlxError(Arc::new(cut()))),
            DbErr::Query(RuntimeErr::SqlxError(Arc::new(SqlxError::PoolTimedOut))),
        ] {
            let text = lost.to_string();
            assert!(port(lost).is_unavailable(), "{text}");
        }
        // a statement the database refuses is still a bug
        let refused = DbErr::Query(RuntimeErr::Internal("syntax error at or near".into()));
        assert!(!port(refused).is_unavailable());
    }
}
