//! The start-up rule that keeps the import one-way in production: the web server must
//! run as a database user that cannot write diploma records.

use sand_persistence::RecordWriteAccess;

/// How the service is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    /// The normal case: the web server and the import run as different database users.
    Shared,
    /// One person's embedded SQLite or demo instance, where the database cannot restrict
    /// writes. Must be asked for explicitly.
    SingleUser,
}

/// Why the web server must not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OneWayError {
    #[error(
        "l'utilisateur de la base de données peut écrire les enregistrements de diplômes ({}) : \
         connectez le serveur web avec le rôle web (voir docs/operations.md), jamais avec le \
         rôle importateur ni avec un administrateur",
        .0.join(", ")
    )]
    RecordsWritable(Vec<String>),
    #[error(
        "cette base de données (SQLite) ne peut pas interdire au serveur web d'écrire les \
         enregistrements de diplômes : utilisez PostgreSQL avec le rôle web, ou déclarez un \
         déploiement mono-utilisateur (--single-user, SAND_SINGLE_USER=true)"
    )]
    NotEnforceable,
}

/// Decides whether the web server may start with this access to records.
///
/// # Errors
/// [`OneWayError`].
pub fn check(access: &RecordWriteAccess, deployment: Deployment) -> Result<(), OneWayError> {
    match (access, deployment) {
        (RecordWriteAccess::Denied, _) => Ok(()),
        (RecordWriteAccess::NotEnforceable, Deployment::SingleUser) => Ok(()),
        (RecordWriteAccess::NotEnforceable, Deployment::Shared) => Err(OneWayError::NotEnforceable),
        // An administrator connection is refused even for a single user on PostgreSQL:
        // the roles exist there, use them.
        (RecordWriteAccess::Granted(grants), _) => {
            Err(OneWayError::RecordsWritable(grants.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_user_may_serve() {
        assert_eq!(
            check(&RecordWriteAccess::Denied, Deployment::Shared),
            Ok(())
        );
        assert_eq!(
            check(&RecordWriteAccess::Denied, Deployment::SingleUser),
            Ok(())
        );
    }

    #[test]
    fn sqlite_serves_only_a_declared_single_user_deployment() {
        assert_eq!(
            check(&RecordWriteAccess::NotEnforceable, Deployment::SingleUser),
            Ok(())
        );
        assert_eq!(
            check(&RecordWriteAccess::NotEnforceable, Deployment::Shared),
            Err(OneWayError::NotEnforceable)
        );
    }

    #[test]
    fn a_user_that_can_write_records_never_serves() {
        let granted = RecordWriteAccess::Granted(vec!["diploma_record: INSERT".into()]);
        for deployment in [Deployment::Shared, Deployment::SingleUser] {
            let err = check(&granted, deployment).unwrap_err();
            assert!(err.to_string().contains("diploma_record: INSERT"));
        }
    }
}
