//! The staff directory for logins through ProConnect and for sessions that end
//! server-side: an account's professional address (unique: the key a ProConnect login
//! is matched on), the establishment (SIRET) such a login must name, and the instant
//! before which the account's sessions are over (set at logout and when an
//! administrator changes the account's role or issuers).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StaffMember {
    Table,
    Email,
    Siret,
    SessionsValidFrom,
}

const EMAIL_INDEX: &str = "staff_member_email_key";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // one column per statement: SQLite alters one thing at a time
        for column in [
            ColumnDef::new(StaffMember::Email)
                .string_len(254)
                .null()
                .to_owned(),
            ColumnDef::new(StaffMember::Siret)
                .string_len(14)
                .null()
                .to_owned(),
            ColumnDef::new(StaffMember::SessionsValidFrom)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(StaffMember::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(EMAIL_INDEX)
                    .table(StaffMember::Table)
                    .col(StaffMember::Email)
                    .unique()
                    .to_owned(),
            )
            .await
    }
}
