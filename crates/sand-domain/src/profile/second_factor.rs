//! The optional second factor of a password account: a TOTP authenticator (RFC 6238)
//! and single-use recovery codes. FranceConnect accounts have their own (the provider's
//! login); this is for accounts that log in with a password.
//!
//! The domain carries the secret and the digests; generating and checking codes is the
//! web adapter's (a TOTP library), sealing the secret the storage's.

use std::fmt;

use time::OffsetDateTime;

/// A TOTP shared secret: 20 random bytes (160 bits, RFC 4226's recommendation). Never
/// printed.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes, for the code generator and the sealing only.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// The digest of a recovery code as stored (hex of SHA-256 of the code without its
/// separators, upper case): codes carry 80 random bits, so a fast digest is enough.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RecoveryCodeDigest(pub String);

impl fmt::Debug for RecoveryCodeDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCodeDigest(<redacted>)")
    }
}

/// How many recovery codes an account receives when it turns its second factor on.
pub const RECOVERY_CODES: usize = 10;

/// A profile's second factor, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactor {
    pub secret: TotpSecret,
    /// The last time step whose code was accepted: a code is accepted once.
    pub last_step: Option<u64>,
    pub enabled_at: OffsetDateTime,
    pub recovery_codes_left: u64,
}
