//! Login sessions, server-side: the browser's cookie holds a random token, this table
//! only its SHA-256 digest.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebSession {
    Table,
    Digest,
    ProfileId,
    CreatedAt,
    LastSeenAt,
    IdTokenHint,
}

#[derive(DeriveIden)]
enum Profile {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebSession::Table)
                    .col(
                        ColumnDef::new(WebSession::Digest)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(WebSession::ProfileId).uuid().not_null())
                    .col(
                        ColumnDef::new(WebSession::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebSession::LastSeenAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebSession::IdTokenHint).text().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_web_session_profile")
                            .from(WebSession::Table, WebSession::ProfileId)
                            .to(Profile::Table, Profile::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_web_session_profile")
                    .table(WebSession::Table)
                    .col(WebSession::ProfileId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_web_session_last_seen")
                    .table(WebSession::Table)
                    .col(WebSession::LastSeenAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebSession::Table).to_owned())
            .await
    }
}
