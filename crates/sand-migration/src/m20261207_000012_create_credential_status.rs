//! The status of credentials issued from links (wallet credentials: an IETF Token Status
//! List entry each). An entry names its link and outlives it; it turns invalid **in the
//! database, in the same transaction as the link's end**, by triggers on `link`: deleting
//! the link (the holder deletes the attestation or the profile — by cascade —, a
//! certified claimant takes the record over, an exam office releases it) or withdrawing
//! it (an import). Renewing the control key changes neither the row's existence nor
//! `withdrawn_at`, so it does not revoke. A future way of ending a link cannot forget it.
//!
//! Entries are addressed as (list, index): the index is drawn at random within a list so
//! that it tells nothing of the order of issuance; `status` holds the Token Status List
//! value (0 valid, 1 invalid).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "CREATE TABLE credential_status ( \
        list_id integer NOT NULL, \
        idx integer NOT NULL, \
        link_id uuid NOT NULL, \
        status smallint NOT NULL DEFAULT 0, \
        issued_at timestamp with time zone NOT NULL, \
        PRIMARY KEY (list_id, idx))",
    "CREATE INDEX ix_credential_status_link ON credential_status (link_id)",
    "CREATE FUNCTION sand_revoke_credentials_of_link() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
        UPDATE credential_status SET status = 1 WHERE link_id = OLD.id AND status = 0; \
        RETURN NULL; \
     END $$",
    "CREATE TRIGGER link_deleted_revokes_credentials AFTER DELETE ON link \
        FOR EACH ROW EXECUTE FUNCTION sand_revoke_credentials_of_link()",
    "CREATE TRIGGER link_withdrawn_revokes_credentials AFTER UPDATE OF withdrawn_at ON link \
        FOR EACH ROW WHEN (NEW.withdrawn_at IS NOT NULL AND OLD.withdrawn_at IS NULL) \
        EXECUTE FUNCTION sand_revoke_credentials_of_link()",
];

const SQLITE: &[&str] = &[
    "CREATE TABLE credential_status ( \
        list_id integer NOT NULL, \
        idx integer NOT NULL, \
        link_id uuid_text NOT NULL, \
        status integer NOT NULL DEFAULT 0, \
        issued_at timestamp_with_timezone_text NOT NULL, \
        PRIMARY KEY (list_id, idx))",
    "CREATE INDEX ix_credential_status_link ON credential_status (link_id)",
    "CREATE TRIGGER link_deleted_revokes_credentials AFTER DELETE ON link \
     BEGIN UPDATE credential_status SET status = 1 WHERE link_id = OLD.id AND status = 0; END",
    "CREATE TRIGGER link_withdrawn_revokes_credentials AFTER UPDATE OF withdrawn_at ON link \
     WHEN NEW.withdrawn_at IS NOT NULL AND OLD.withdrawn_at IS NULL \
     BEGIN UPDATE credential_status SET status = 1 WHERE link_id = OLD.id AND status = 0; END",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let statements = match backend {
            DbBackend::Postgres => POSTGRES,
            _ => SQLITE,
        };
        for sql in statements {
            db.execute_raw(Statement::from_string(backend, (*sql).to_owned()))
                .await?;
        }
        Ok(())
    }
}
