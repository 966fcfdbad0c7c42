//! The PostgreSQL roles that make the one-way import a database rule.
//!
//! - the **importer** role may write import batches and records (and mark links withdrawn);
//! - the **web** role may only read batches and records, and reads and writes profiles,
//!   links and the verification log;
//! - the **back-office** role reads records, batches, links and staff, releases links
//!   (deletes them, logs the event, queues the holder's mail) and appends to the audit
//!   log — unable to write records, like the web role.
//!
//! No application role may change or delete an audit row: the log is append-only; only
//! the schema's owner (`sand audit purge`) removes rows past their retention.
//!
//! Both are group roles (`NOLOGIN`): the operator grants them to login users
//! (`GRANT sand_web TO sand_web_app;`). Creating them needs `CREATEROLE`; granting is
//! idempotent and runs after every migration, so new tables get their grants.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

/// The names of the three roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleNames {
    pub web: String,
    pub importer: String,
    pub backoffice: String,
}

impl Default for RoleNames {
    fn default() -> Self {
        Self {
            web: "sand_web".to_owned(),
            importer: "sand_importer".to_owned(),
            backoffice: "sand_backoffice".to_owned(),
        }
    }
}

impl RoleNames {
    /// The roles of one test, named after `suffix` (roles are cluster-wide: parallel
    /// tests never share one).
    #[must_use]
    pub fn suffixed(suffix: &str) -> Self {
        Self {
            web: format!("sand_web_{suffix}"),
            importer: format!("sand_importer_{suffix}"),
            backoffice: format!("sand_backoffice_{suffix}"),
        }
    }
}

/// Why roles could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RolesError {
    /// A role name that is not a plain SQL identifier.
    #[error("invalid role name {0:?}: use [a-z_][a-z0-9_]*, at most 63 characters")]
    InvalidName(String),
    #[error("could not set up the database roles")]
    Db(#[from] DbErr),
}

fn check(name: &str) -> Result<&str, RolesError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if first_ok
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        Ok(name)
    } else {
        Err(RolesError::InvalidName(name.to_owned()))
    }
}

/// Tables the import writes, the web side only reads.
pub const RECORD_TABLES: &[&str] = &["import_batch", "diploma_record", "issuer_key"];
/// Tables the web side reads and writes.
pub const WEB_TABLES: &[&str] = &[
    "profile",
    "verification_event",
    "mail_outbox",
    "web_session",
    "second_factor",
    "recovery_code",
    "share_link",
    "credential_status",
    "credential_offer",
];

/// Creates the roles if missing and grants their privileges. PostgreSQL only; a no-op
/// on other backends.
///
/// # Errors
/// [`RolesError`].
pub async fn set_up<C: ConnectionTrait>(db: &C, names: &RoleNames) -> Result<(), RolesError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let web = check(&names.web)?;
    let importer = check(&names.importer)?;
    let backoffice = check(&names.backoffice)?;
    let mut sql = Vec::new();
    for role in [web, importer, backoffice] {
        sql.push(format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') \
             THEN CREATE ROLE {role} NOLOGIN; END IF; END $$"
        ));
        sql.push(format!("GRANT USAGE ON SCHEMA public TO {role}"));
    }
    for table in RECORD_TABLES {
        sql.push(format!("REVOKE ALL ON {table} FROM {web}"));
        sql.push(format!("GRANT SELECT ON {table} TO {web}"));
        sql.push(format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {importer}"
        ));
    }
    for table in WEB_TABLES {
        sql.push(format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {web}"
        ));
    }
    // the catalogue's revision: moved by the trigger on `import_batch`, which runs as the
    // role that changed the batch; everyone reads it
    sql.push(format!(
        "REVOKE ALL ON catalogue_revision FROM {web}, {importer}, {backoffice}"
    ));
    sql.push(format!(
        "GRANT SELECT ON catalogue_revision TO {web}, {backoffice}"
    ));
    sql.push(format!(
        "GRANT SELECT, UPDATE (revision) ON catalogue_revision TO {importer}"
    ));
    // links: the web side creates and deletes them and renews their keys, but it may
    // not change anything else of a link: in particular it cannot bring a link its
    // exam office withdrew back to life (only the importer writes `withdrawn_at`)
    sql.push(format!("REVOKE UPDATE ON link FROM {web}"));
    sql.push(format!("GRANT SELECT, INSERT, DELETE ON link TO {web}"));
    sql.push(format!(
        "GRANT UPDATE (key_hash, key_sealed, key_issued_at) ON link TO {web}"
    ));
    // both check at start that the schema is up to date (read-only: they cannot create
    // the migrations table, and must not)
    sql.push(format!(
        "GRANT SELECT ON seaql_migrations TO {web}, {importer}"
    ));
    // the importer withdraws links to records that disappeared, and reads them
    sql.push(format!(
        "GRANT SELECT, UPDATE (withdrawn_at) ON link TO {importer}"
    ));
    sql.push(format!("GRANT SELECT ON profile TO {importer}"));
    // the log of links taken by a certified claimant: appended by the web side, never
    // changed; the importer reads it (the exam offices' history)
    sql.push(format!("REVOKE ALL ON link_event FROM {web}"));
    sql.push(format!("GRANT SELECT, INSERT ON link_event TO {web}"));
    sql.push(format!("GRANT SELECT ON link_event TO {importer}"));
    // and tells their holders, through the outbox
    sql.push(format!("GRANT INSERT ON mail_outbox TO {importer}"));
    // a link's end revokes the credentials issued from it, by trigger, as the role that
    // ends it: the importer (withdrawal) and the back office (release)
    for role in [importer, backoffice] {
        sql.push(format!("REVOKE ALL ON credential_status FROM {role}"));
        sql.push(format!(
            "GRANT SELECT, UPDATE (status) ON credential_status TO {role}"
        ));
    }

    // the back office: reads what exam offices need, releases links, never writes records
    for table in RECORD_TABLES {
        sql.push(format!("REVOKE ALL ON {table} FROM {backoffice}"));
        sql.push(format!("GRANT SELECT ON {table} TO {backoffice}"));
    }
    sql.push(format!("REVOKE ALL ON link FROM {backoffice}"));
    sql.push(format!("GRANT SELECT, DELETE ON link TO {backoffice}"));
    sql.push(format!(
        "GRANT SELECT, INSERT ON link_event TO {backoffice}"
    ));
    sql.push(format!(
        "GRANT SELECT ON profile, verification_event TO {backoffice}"
    ));
    sql.push(format!("GRANT INSERT ON mail_outbox TO {backoffice}"));
    sql.push(format!("GRANT SELECT ON seaql_migrations TO {backoffice}"));
    // staff: the back office reads them and records the TOTP steps used; adding and
    // closing accounts is the administrator's (through the back office) or the CLI's
    sql.push(format!(
        "GRANT SELECT, INSERT, UPDATE ON staff_member TO {backoffice}"
    ));
    sql.push(format!("REVOKE ALL ON staff_member FROM {web}, {importer}"));
    // the audit log is append-only for every application role
    for role in [web, importer, backoffice] {
        sql.push(format!("REVOKE ALL ON audit_log FROM {role}"));
    }
    sql.push(format!("GRANT SELECT, INSERT ON audit_log TO {backoffice}"));
    sql.push(format!(
        "GRANT USAGE ON SEQUENCE audit_log_seq_seq TO {backoffice}"
    ));
    for statement in sql {
        db.execute_raw(Statement::from_string(DbBackend::Postgres, statement))
            .await?;
    }
    Ok(())
}
