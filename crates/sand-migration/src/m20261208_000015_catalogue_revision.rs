//! The catalogue's revision in one row, moved by the database whenever `import_batch`
//! changes.
//!
//! Every view of the public catalogue asks whether the published scopes changed since it
//! last read them. Answering from `import_batch` itself (a count, the published count and
//! the latest import time) is an aggregate over every batch: 4 000 rows at national scale,
//! read on every view. The row `catalogue_revision` answers in one indexed read whatever
//! the number of batches.
//!
//! The database moves it, not the code: a trigger on `import_batch`, so that no way of
//! writing batches (the import, the initial load, an operator's statement) can forget it.
//! On PostgreSQL the trigger is a deferred constraint trigger: it fires at commit, so an
//! import holds the revision row's lock only while it commits, and two imports of
//! different scopes still run side by side. The bump is in the transaction that changed
//! the batch: a reader sees the new revision and the new batches together.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "CREATE TABLE catalogue_revision ( \
        id smallint PRIMARY KEY CHECK (id = 1), \
        revision bigint NOT NULL)",
    "INSERT INTO catalogue_revision (id, revision) VALUES (1, 1)",
    "CREATE FUNCTION sand_bump_catalogue_revision() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
        UPDATE catalogue_revision SET revision = revision + 1 WHERE id = 1; \
        RETURN NULL; \
     END $$",
    "CREATE CONSTRAINT TRIGGER import_batch_moves_catalogue_revision \
        AFTER INSERT OR UPDATE OR DELETE ON import_batch \
        DEFERRABLE INITIALLY DEFERRED \
        FOR EACH ROW EXECUTE FUNCTION sand_bump_catalogue_revision()",
];

const SQLITE: &[&str] = &[
    "CREATE TABLE catalogue_revision ( \
        id integer PRIMARY KEY CHECK (id = 1), \
        revision integer NOT NULL)",
    "INSERT INTO catalogue_revision (id, revision) VALUES (1, 1)",
    "CREATE TRIGGER import_batch_inserted_moves_catalogue_revision AFTER INSERT ON import_batch \
     BEGIN UPDATE catalogue_revision SET revision = revision + 1 WHERE id = 1; END",
    "CREATE TRIGGER import_batch_updated_moves_catalogue_revision AFTER UPDATE ON import_batch \
     BEGIN UPDATE catalogue_revision SET revision = revision + 1 WHERE id = 1; END",
    "CREATE TRIGGER import_batch_deleted_moves_catalogue_revision AFTER DELETE ON import_batch \
     BEGIN UPDATE catalogue_revision SET revision = revision + 1 WHERE id = 1; END",
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
