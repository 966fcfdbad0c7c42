//! The INSEE code of the place of birth on records (optional import column) and on
//! profiles (certified by FranceConnect), and the append-only log of links that ended
//! because someone other than their holder took them (kept for the exam offices; it
//! outlives the links and the profiles it names).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DiplomaRecord {
    Table,
    Id,
    BirthPlaceCode,
}

#[derive(DeriveIden)]
enum Profile {
    Table,
    Id,
    BirthPlaceCode,
}

#[derive(DeriveIden)]
enum LinkEvent {
    Table,
    Id,
    Kind,
    At,
    RecordId,
    PreviousProfileId,
    NewProfileId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DiplomaRecord::Table)
                    .add_column(
                        ColumnDef::new(DiplomaRecord::BirthPlaceCode)
                            .string_len(5)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Profile::Table)
                    .add_column(ColumnDef::new(Profile::BirthPlaceCode).string_len(5).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LinkEvent::Table)
                    .col(
                        ColumnDef::new(LinkEvent::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LinkEvent::Kind).string_len(40).not_null())
                    .col(
                        ColumnDef::new(LinkEvent::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(LinkEvent::RecordId).uuid().not_null())
                    .col(ColumnDef::new(LinkEvent::PreviousProfileId).uuid().null())
                    .col(ColumnDef::new(LinkEvent::NewProfileId).uuid().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_link_event_record")
                            .from(LinkEvent::Table, LinkEvent::RecordId)
                            .to(DiplomaRecord::Table, DiplomaRecord::Id),
                    )
                    // a deleted profile leaves the event, without it
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_link_event_previous_profile")
                            .from(LinkEvent::Table, LinkEvent::PreviousProfileId)
                            .to(Profile::Table, Profile::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_link_event_new_profile")
                            .from(LinkEvent::Table, LinkEvent::NewProfileId)
                            .to(Profile::Table, Profile::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_link_event_previous_profile")
                    .table(LinkEvent::Table)
                    .col(LinkEvent::PreviousProfileId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_link_event_record")
                    .table(LinkEvent::Table)
                    .col(LinkEvent::RecordId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LinkEvent::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Profile::Table)
                    .drop_column(Profile::BirthPlaceCode)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DiplomaRecord::Table)
                    .drop_column(DiplomaRecord::BirthPlaceCode)
                    .to_owned(),
            )
            .await
    }
}
