//! SAND's database schema, as forward-only sea-orm migrations, and the PostgreSQL roles
//! that enforce the one-way import in the database.
//!
//! Run by `sand migrate` (and automatically at start on SQLite). Migrations are never
//! edited once released: a change is a new migration.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_records;
mod m20261124_000002_create_profiles_and_links;
mod m20261124_000003_create_mail_outbox;
mod m20261124_000004_create_web_sessions;
mod m20261201_000005_add_birth_place_codes_and_link_events;
mod m20261201_000006_seal_outbox_tokens;
mod m20261201_000007_create_second_factors;
mod m20261206_000008_create_issuer_keys;
mod m20261206_000009_create_staff_and_audit;
mod m20261207_000010_staff_logins_and_sessions;
mod m20261207_000011_create_share_links;
mod m20261207_000012_create_credential_status;
mod m20261207_000013_create_credential_offers;
mod m20261207_000014_attach_index_by_batch;
mod m20261208_000015_catalogue_revision;
pub mod roles;

/// Every migration, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_records::Migration),
            Box::new(m20261124_000002_create_profiles_and_links::Migration),
            Box::new(m20261124_000003_create_mail_outbox::Migration),
            Box::new(m20261124_000004_create_web_sessions::Migration),
            Box::new(m20261201_000005_add_birth_place_codes_and_link_events::Migration),
            Box::new(m20261201_000006_seal_outbox_tokens::Migration),
            Box::new(m20261201_000007_create_second_factors::Migration),
            Box::new(m20261206_000008_create_issuer_keys::Migration),
            Box::new(m20261206_000009_create_staff_and_audit::Migration),
            Box::new(m20261207_000010_staff_logins_and_sessions::Migration),
            Box::new(m20261207_000011_create_share_links::Migration),
            Box::new(m20261207_000012_create_credential_status::Migration),
            Box::new(m20261207_000013_create_credential_offers::Migration),
            Box::new(m20261207_000014_attach_index_by_batch::Migration),
            Box::new(m20261208_000015_catalogue_revision::Migration),
        ]
    }
}
