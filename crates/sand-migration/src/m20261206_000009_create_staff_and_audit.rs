//! The back office: SAND's staff directory (local accounts: a password hash and a TOTP
//! secret sealed with a key derived from the server secret) and the append-only audit
//! log of every view of personal data and every action (ids only, never a copy of a
//! graduate's data; its application roles may insert and read, never change or delete).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StaffMember {
    Table,
    Id,
    Login,
    Name,
    Role,
    /// Issuer codes, comma-separated (level 2 only).
    Issuers,
    PasswordHash,
    TotpSealed,
    TotpLastStep,
    CreatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Seq,
    At,
    Actor,
    StaffId,
    Action,
    /// Record ids, comma-separated.
    Records,
    LinkId,
    BatchId,
    Detail,
    Origin,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StaffMember::Table)
                    .col(
                        ColumnDef::new(StaffMember::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(StaffMember::Login)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(StaffMember::Name).string_len(480).not_null())
                    .col(ColumnDef::new(StaffMember::Role).string_len(16).not_null())
                    .col(ColumnDef::new(StaffMember::Issuers).text().not_null())
                    .col(ColumnDef::new(StaffMember::PasswordHash).text().not_null())
                    .col(ColumnDef::new(StaffMember::TotpSealed).binary().not_null())
                    .col(
                        ColumnDef::new(StaffMember::TotpLastStep)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(StaffMember::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StaffMember::DisabledAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(
                        ColumnDef::new(AuditLog::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AuditLog::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditLog::Actor).string_len(80).not_null())
                    .col(ColumnDef::new(AuditLog::StaffId).uuid().null())
                    .col(ColumnDef::new(AuditLog::Action).string_len(40).not_null())
                    .col(ColumnDef::new(AuditLog::Records).text().not_null())
                    .col(ColumnDef::new(AuditLog::LinkId).uuid().null())
                    .col(ColumnDef::new(AuditLog::BatchId).uuid().null())
                    .col(ColumnDef::new(AuditLog::Detail).string_len(400).not_null())
                    .col(ColumnDef::new(AuditLog::Origin).string_len(80).not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_at")
                    .table(AuditLog::Table)
                    .col(AuditLog::At)
                    .to_owned(),
            )
            .await
    }
}
