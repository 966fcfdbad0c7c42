//! The verifier's receipt: after a valid verification, the service signs what was
//! checked, when, for which organisation (as typed) and the answer, so that the verifier
//! can prove it later, offline, with the service's published key.

use time::OffsetDateTime;

use crate::control_key::ControlKey;
use crate::identity::BirthDate;
use crate::verification::event::Organisation;
use crate::verification::verified::VerifiedDiploma;

/// What a receipt states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationReceipt {
    pub checked_at: OffsetDateTime,
    /// The key checked (canonical form).
    pub key: ControlKey,
    /// The holder's name as the verifier typed it.
    pub typed_name: String,
    pub typed_birth_date: Option<BirthDate>,
    pub organisation: Option<Organisation>,
    /// The answer: the attestation is valid, and certifies this.
    pub diploma: VerifiedDiploma,
}

/// A signed receipt, as a verifier downloads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptFormat {
    /// The signed JSON document (JWS JSON serialization).
    Json,
    /// A PDF that states it, the signed receipt inside, the file itself signed.
    Pdf,
}
