//! SAND's domain core: every rule of the service that is not input/output.
//!
//! - [`identity`]: identity at exam time and the one name normalisation;
//! - [`record`]: diploma records and the one-way import;
//! - [`profile`]: graduates' profiles (immutable identity), log-in;
//! - [`link`]: attaching, detaching, keys, attestations;
//! - [`verification`]: the verification space;
//! - [`sharing`]: share links a holder gives one recipient;
//! - [`catalogue`]: the public list of available diplomas;
//! - [`issuer`]: who awards diplomas, and where each uncovered case is sent;
//! - [`credential_status`]: the revocation state of credentials issued from links;
//! - [`ports`]: the traits adapters implement.
//!
//! This crate depends on no database, web, async runtime, OpenID Connect or mail crate.

pub mod academie;
pub mod catalogue;
pub mod control_key;
pub mod credential_status;
pub mod credentials;
pub mod diploma;
pub mod error;
pub mod identity;
pub mod issuer;
pub mod issuer_kind;
pub mod link;
pub mod ports;
pub mod profile;
pub mod public_paths;
pub mod record;
pub mod sharing;
pub mod staff;
pub mod text;
pub mod verification;
pub mod wallet;

#[cfg(test)]
mod testing;

pub use credentials::SecretToken;
pub use error::PortError;
