//! sea-orm entities: the tables as rows. Crate-private; the rest of SAND sees domain types.

pub mod audit_log;
pub mod credential_offer;
pub mod diploma_record;
pub mod import_batch;
pub mod issuer_key;
pub mod link;
pub mod link_event;
pub mod mail_outbox;
pub mod profile;
pub mod recovery_code;
pub mod second_factor;
pub mod share_link;
pub mod staff_member;
pub mod verification_event;
pub mod web_session;
