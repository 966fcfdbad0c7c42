//! The optional second factor of password accounts: a TOTP secret (RFC 6238), sealed
//! with a key derived from the server secret, the last time step accepted (a code works
//! once), and single-use recovery codes kept as digests. Both go with their profile.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Profile {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SecondFactor {
    Table,
    ProfileId,
    SecretSealed,
    LastStep,
    EnabledAt,
}

#[derive(DeriveIden)]
enum RecoveryCode {
    Table,
    ProfileId,
    Digest,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SecondFactor::Table)
                    .col(
                        ColumnDef::new(SecondFactor::ProfileId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(SecondFactor::SecretSealed)
                            .binary()
                            .not_null(),
                    )
                    .col(ColumnDef::new(SecondFactor::LastStep).big_integer().null())
                    .col(
                        ColumnDef::new(SecondFactor::EnabledAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_second_factor_profile")
                            .from(SecondFactor::Table, SecondFactor::ProfileId)
                            .to(Profile::Table, Profile::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCode::Table)
                    .col(ColumnDef::new(RecoveryCode::ProfileId).uuid().not_null())
                    .col(
                        ColumnDef::new(RecoveryCode::Digest)
                            .string_len(64)
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RecoveryCode::ProfileId)
                            .col(RecoveryCode::Digest),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recovery_code_profile")
                            .from(RecoveryCode::Table, RecoveryCode::ProfileId)
                            .to(Profile::Table, Profile::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
