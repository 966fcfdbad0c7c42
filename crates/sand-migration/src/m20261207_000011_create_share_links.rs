//! Share links: a holder shows one diploma to one recipient through an unguessable
//! address, until a day they choose or until they revoke it. The token is kept as a keyed
//! hash (the look-up) and sealed (so the holder can copy the address again). A share
//! link goes with its link — deleted, taken over, released, or its profile deleted — by
//! the foreign key; an opening also requires the link active and its record live.
//! Verification events say which share link (by its label) was opened.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Profile {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Link {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ShareLink {
    Table,
    Id,
    LinkId,
    ProfileId,
    Label,
    TokenHash,
    TokenSealed,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum VerificationEvent {
    Table,
    ShareLabel,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ShareLink::Table)
                    .col(
                        ColumnDef::new(ShareLink::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ShareLink::LinkId).uuid().not_null())
                    .col(ColumnDef::new(ShareLink::ProfileId).uuid().not_null())
                    .col(ColumnDef::new(ShareLink::Label).string_len(80).not_null())
                    .col(ColumnDef::new(ShareLink::TokenHash).binary().not_null())
                    .col(ColumnDef::new(ShareLink::TokenSealed).binary().not_null())
                    .col(
                        ColumnDef::new(ShareLink::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ShareLink::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ShareLink::RevokedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_share_link_link")
                            .from(ShareLink::Table, ShareLink::LinkId)
                            .to(Link::Table, Link::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_share_link_profile")
                            .from(ShareLink::Table, ShareLink::ProfileId)
                            .to(Profile::Table, Profile::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column, unique) in [
            ("ix_share_link_token_hash", ShareLink::TokenHash, true),
            ("ix_share_link_link", ShareLink::LinkId, false),
            ("ix_share_link_profile", ShareLink::ProfileId, false),
        ] {
            let mut index = Index::create();
            index.name(name).table(ShareLink::Table).col(column);
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(VerificationEvent::Table)
                    .add_column(
                        ColumnDef::new(VerificationEvent::ShareLabel)
                            .string_len(80)
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }
}
