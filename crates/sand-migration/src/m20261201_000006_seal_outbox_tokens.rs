//! Outbox tokens are sealed (docs/adr/0002-control-keys-at-rest.md): the sealed form is
//! longer than the 200 characters the clear token had; the column becomes text. Tokens
//! still in clear (mails queued before the upgrade) are dropped and their mails
//! abandoned: a new link is one click away, and no token stays readable.
//!
//! SQLite does not enforce a string's length: only PostgreSQL's column changes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MailOutbox {
    Table,
    Token,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            manager
                .alter_table(
                    Table::alter()
                        .table(MailOutbox::Table)
                        .modify_column(ColumnDef::new(MailOutbox::Token).text().null())
                        .to_owned(),
                )
                .await?;
        }
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            "UPDATE mail_outbox SET token = NULL, \
             abandoned_at = COALESCE(abandoned_at, created_at), \
             last_error = COALESCE(last_error, 'token in clear dropped at upgrade') \
             WHERE token IS NOT NULL AND token NOT LIKE 'v1:%'",
        ))
        .await?;
        Ok(())
    }
}
