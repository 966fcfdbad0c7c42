//! Graduates' profiles, their links to records (with protected control keys) and the
//! verification log.

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_create_records::DiplomaRecord;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Profile {
    Table,
    Id,
    Email,
    EmailVerified,
    PasswordHash,
    FcIssuer,
    FcSubject,
    BirthName,
    FirstNames,
    BirthDate,
    BirthPlace,
    IdentityCertified,
    BirthDatePresumed,
    NotifyOnVerification,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Link {
    Table,
    Id,
    ProfileId,
    RecordId,
    KeyHash,
    KeySealed,
    CreatedAt,
    KeyIssuedAt,
    WithdrawnAt,
}

#[derive(DeriveIden)]
pub enum VerificationEvent {
    Table,
    Id,
    LinkId,
    At,
    Organisation,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Profile::Table)
                    .col(ColumnDef::new(Profile::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(Profile::Email)
                            .string_len(254)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Profile::EmailVerified).boolean().not_null())
                    .col(ColumnDef::new(Profile::PasswordHash).string_len(200).null())
                    .col(ColumnDef::new(Profile::FcIssuer).string_len(300).null())
                    .col(ColumnDef::new(Profile::FcSubject).string_len(300).null())
                    .col(ColumnDef::new(Profile::BirthName).string_len(80).not_null())
                    .col(
                        ColumnDef::new(Profile::FirstNames)
                            .string_len(1000)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Profile::BirthDate).date().not_null())
                    .col(ColumnDef::new(Profile::BirthPlace).string_len(120).null())
                    .col(
                        ColumnDef::new(Profile::IdentityCertified)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Profile::BirthDatePresumed)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Profile::NotifyOnVerification)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Profile::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_profile_franceconnect")
                    .table(Profile::Table)
                    .col(Profile::FcIssuer)
                    .col(Profile::FcSubject)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Link::Table)
                    .col(ColumnDef::new(Link::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Link::ProfileId).uuid().not_null())
                    // one record, one holder
                    .col(
                        ColumnDef::new(Link::RecordId)
                            .uuid()
                            .not_null()
                            .unique_key(),
                    )
                    // HMAC-SHA-256 of the key: lookups without storing the key
                    .col(ColumnDef::new(Link::KeyHash).blob().not_null().unique_key())
                    // the key sealed (XChaCha20-Poly1305) for showing it to its holder
                    .col(ColumnDef::new(Link::KeySealed).blob().not_null())
                    .col(
                        ColumnDef::new(Link::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Link::KeyIssuedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Link::WithdrawnAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_link_profile")
                            .from(Link::Table, Link::ProfileId)
                            .to(Profile::Table, Profile::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_link_record")
                            .from(Link::Table, Link::RecordId)
                            .to(DiplomaRecord::Table, DiplomaRecord::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_link_profile")
                    .table(Link::Table)
                    .col(Link::ProfileId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VerificationEvent::Table)
                    .col(
                        ColumnDef::new(VerificationEvent::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    // set to NULL when the link goes: the event keeps no link to the person
                    .col(ColumnDef::new(VerificationEvent::LinkId).uuid().null())
                    .col(
                        ColumnDef::new(VerificationEvent::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(VerificationEvent::Organisation)
                            .string_len(120)
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_verification_event_link")
                            .from(VerificationEvent::Table, VerificationEvent::LinkId)
                            .to(Link::Table, Link::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_verification_event_link")
                    .table(VerificationEvent::Table)
                    .col(VerificationEvent::LinkId)
                    .col(VerificationEvent::At)
                    .to_owned(),
            )
            .await
    }
}
