//! Signed batches: the public keys each issuer signs its batches with (registered by
//! the operator, `sand issuers add-key`; revoked, never deleted, so that a stored batch
//! always names a key that can be shown), and on each stored batch the key that signed
//! it and the signature (empty for a batch imported unsigned).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IssuerKey {
    Table,
    KeyId,
    Issuer,
    PublicKey,
    AddedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ImportBatch {
    Table,
    SignatureKeyId,
    Signature,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IssuerKey::Table)
                    .col(
                        ColumnDef::new(IssuerKey::KeyId)
                            .string_len(16)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(IssuerKey::Issuer).string_len(16).not_null())
                    .col(ColumnDef::new(IssuerKey::PublicKey).text().not_null())
                    .col(
                        ColumnDef::new(IssuerKey::AddedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IssuerKey::RevokedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ImportBatch::Table)
                    .add_column(
                        ColumnDef::new(ImportBatch::SignatureKeyId)
                            .string_len(16)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ImportBatch::Table)
                    .add_column(
                        ColumnDef::new(ImportBatch::Signature)
                            .string_len(128)
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }
}
