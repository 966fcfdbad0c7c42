//! Wallet credential offers (OpenID4VCI, pre-authorized code flow). An offer's three
//! secrets are kept as keyed hashes only: the pre-authorized code (in the QR code), the
//! transaction code (mailed; hashed with the offer's id, so equal codes of two offers
//! look different) and, once redeemed, the access token. An offer goes with its link —
//! deleted, taken over, released, or its profile deleted — by the foreign key, so no
//! credential is issued from a link that ended.

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
enum CredentialOffer {
    Table,
    Id,
    LinkId,
    ProfileId,
    CodeHash,
    TxCodeHash,
    CreatedAt,
    ExpiresAt,
    WrongTxCodes,
    EndedAt,
    RedeemedAt,
    AccessHash,
    AccessExpiresAt,
    IssuedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let instant = |column: CredentialOffer, required: bool| {
            let mut def = ColumnDef::new(column);
            def.timestamp_with_time_zone();
            if required {
                def.not_null();
            } else {
                def.null();
            }
            def
        };
        manager
            .create_table(
                Table::create()
                    .table(CredentialOffer::Table)
                    .col(
                        ColumnDef::new(CredentialOffer::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(CredentialOffer::LinkId).uuid().not_null())
                    .col(ColumnDef::new(CredentialOffer::ProfileId).uuid().not_null())
                    .col(
                        ColumnDef::new(CredentialOffer::CodeHash)
                            .binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CredentialOffer::TxCodeHash)
                            .binary()
                            .not_null(),
                    )
                    .col(instant(CredentialOffer::CreatedAt, true))
                    .col(instant(CredentialOffer::ExpiresAt, true))
                    .col(
                        ColumnDef::new(CredentialOffer::WrongTxCodes)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(instant(CredentialOffer::EndedAt, false))
                    .col(instant(CredentialOffer::RedeemedAt, false))
                    .col(ColumnDef::new(CredentialOffer::AccessHash).binary().null())
                    .col(instant(CredentialOffer::AccessExpiresAt, false))
                    .col(instant(CredentialOffer::IssuedAt, false))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_credential_offer_link")
                            .from(CredentialOffer::Table, CredentialOffer::LinkId)
                            .to(Link::Table, Link::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_credential_offer_profile")
                            .from(CredentialOffer::Table, CredentialOffer::ProfileId)
                            .to(Profile::Table, Profile::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column, unique) in [
            ("ix_credential_offer_code", CredentialOffer::CodeHash, true),
            (
                "ix_credential_offer_access",
                CredentialOffer::AccessHash,
                true,
            ),
            ("ix_credential_offer_link", CredentialOffer::LinkId, false),
            (
                "ix_credential_offer_profile",
                CredentialOffer::ProfileId,
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(CredentialOffer::Table).col(column);
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }
}
