//! Certified attestations: the adapter behind the domain's [`AttestationRenderer`] port,
//! and the offline checker of the documents it makes.
//!
//! An attestation is an A4 PDF in French that proves itself without our server:
//! - the attested facts and the control key are encoded in a compact canonical
//!   [`payload`], signed with SAND's issuing key (Ed25519);
//! - the QR code carries the verification address with the key, the payload and its
//!   signature, so a phone opens the verification page pre-filled and a program can
//!   check the facts offline with the published public key;
//! - the file itself is signed too (a signature over the SHA-256 of its bytes, the
//!   signature's own place excluded, as PDF signatures do): any edit fails [`verify`].
//!
//! Demonstration deployments sign with a public demonstration key and mark every page
//! "SPÉCIMEN": an open-source tool must never produce a convincing forgery.
//!
//! [`AttestationRenderer`]: sand_domain::ports::AttestationRenderer

mod archival;
pub mod credential;
mod error;
pub mod jws;
pub mod key_proof;
pub mod keys;
pub mod payload;
pub mod receipt;
mod render;
pub mod sample;
pub mod sd_jwt;
pub mod status_list;
mod tagging;
pub mod verify;

pub use keys::{KeyError, KeyId, SigningKeys, VerificationKeys};
pub use payload::Facts;
pub use render::{Issuer, PdfAttestationRenderer, RenderError, SPECIMEN_TEXT, french_date};
pub use verify::{Verdict, verify_pdf};
