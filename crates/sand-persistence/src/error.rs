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

/// A database that cannot be reached is `Unavailable` (503, retry later); anything else
/// is `Unexpected`.
pub(crate) fn port(e: DbErr) -> PortError {
    let mut connection_problem = matches!(e, DbErr::ConnectionAcquire(_) | DbErr::Conn(_));
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            connection_problem = true;
        }
        source = s.source();
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
