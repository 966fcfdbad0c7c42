//! The mail outbox: messages queued in the transaction of the change that causes them,
//! delivered by a background sender with retries.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum MailOutbox {
    Table,
    Id,
    Kind,
    Recipient,
    Token,
    DiplomaKind,
    Session,
    Academie,
    OccurredAt,
    Organisation,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    LastError,
    AbandonedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MailOutbox::Table)
                    .col(
                        ColumnDef::new(MailOutbox::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(MailOutbox::Kind).string_len(32).not_null())
                    .col(
                        ColumnDef::new(MailOutbox::Recipient)
                            .string_len(254)
                            .not_null(),
                    )
                    // a verification or reset token, until the message is delivered
                    .col(ColumnDef::new(MailOutbox::Token).string_len(200).null())
                    .col(ColumnDef::new(MailOutbox::DiplomaKind).string_len(8).null())
                    .col(ColumnDef::new(MailOutbox::Session).integer().null())
                    .col(ColumnDef::new(MailOutbox::Academie).string_len(4).null())
                    .col(
                        ColumnDef::new(MailOutbox::OccurredAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MailOutbox::Organisation)
                            .string_len(200)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MailOutbox::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MailOutbox::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(MailOutbox::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MailOutbox::LastError)
                            .string_len(1000)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MailOutbox::AbandonedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // the sender's query: due messages not abandoned, oldest first
        manager
            .create_index(
                Index::create()
                    .name("ix_mail_outbox_due")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::AbandonedAt)
                    .col(MailOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MailOutbox::Table).to_owned())
            .await
    }
}
