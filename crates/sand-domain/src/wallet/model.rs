//! Wallet credential offers as the holder, the wallet and the store see them (model
//! only: the use cases in [`super`] and the ports build on it).
//!
//! An offer is redeemed once, with two secrets that travel apart: the **pre-authorized
//! code** is in the offer the holder's wallet scans (QR code or link); the **transaction
//! code** (`tx_code`, six digits) goes to the holder by e-mail, so that someone who
//! photographs the QR code over the holder's shoulder cannot redeem it. Both live
//! [`OFFER_MINUTES`] minutes; [`MAX_WRONG_TX_CODES`] wrong transaction codes end the
//! offer. Redeeming gives an access token that lives [`ACCESS_MINUTES`] minutes and
//! obtains one credential.

use std::fmt;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::link::LinkId;
use crate::profile::ProfileId;

/// How long an offer (its pre-authorized code and its transaction code) can be redeemed.
pub const OFFER_MINUTES: i64 = 10;
/// How long the access token obtained with an offer can fetch its credential.
pub const ACCESS_MINUTES: i64 = 5;
/// Wrong transaction codes an offer survives: the next one ends it (a guesser has
/// [`MAX_WRONG_TX_CODES`] tries in 10^6).
pub const MAX_WRONG_TX_CODES: u32 = 5;
/// Digits of a transaction code.
pub const TX_CODE_DIGITS: usize = 6;
/// Length of a pre-authorized code or an access token: 32 random bytes as lowercase hex.
pub const SECRET_CHARS: usize = 64;

/// Identifier of an offer, assigned by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OfferId(pub Uuid);

fn hex_of(bytes: [u8; SECRET_CHARS / 2]) -> String {
    use fmt::Write;
    let mut text = String::with_capacity(SECRET_CHARS);
    for b in bytes {
        let _ = write!(text, "{b:02x}");
    }
    text
}

fn hex_secret(raw: &str) -> Option<String> {
    (raw.len() == SECRET_CHARS && raw.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| raw.to_ascii_lowercase())
}

/// The secret of an offer that the wallet presents to the token endpoint. Never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct PreAuthorizedCode(String);

/// The bearer token that fetches an offer's credential. Never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

/// The six digits mailed to the holder. Never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct TxCode(String);

macro_rules! hex_secret_type {
    ($name:ident) => {
        impl $name {
            /// `None` unless `raw` has the shape of one (64 hex digits).
            #[must_use]
            pub fn parse(raw: &str) -> Option<Self> {
                hex_secret(raw).map(Self)
            }

            /// One from `bytes` of a cryptographically secure random source.
            #[must_use]
            pub fn from_random_bytes(bytes: [u8; SECRET_CHARS / 2]) -> Self {
                Self(hex_of(bytes))
            }

            #[must_use]
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

hex_secret_type!(PreAuthorizedCode);
hex_secret_type!(AccessToken);

impl TxCode {
    /// `None` unless `raw` is exactly six ASCII digits.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == TX_CODE_DIGITS && raw.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Self(raw.to_owned()))
    }

    /// A code from a uniform random number (only its value modulo 10^6 is used; the
    /// caller draws it below a multiple of 10^6 so that every code is as likely).
    #[must_use]
    pub fn from_random(value: u32) -> Self {
        Self(format!("{:06}", value % 1_000_000))
    }

    /// A code no offer has (not six digits): what a malformed code is compared as.
    #[must_use]
    pub fn unmatchable() -> Self {
        Self(String::new())
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TxCode(<redacted>)")
    }
}

/// An offer about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredentialOffer {
    pub profile: ProfileId,
    pub link: LinkId,
    pub code: PreAuthorizedCode,
    pub tx_code: TxCode,
    pub created_at: OffsetDateTime,
    /// The first instant it can no longer be redeemed.
    pub expires_at: OffsetDateTime,
}

/// What a redeemed offer's access token may fetch: one credential of this link, for this
/// profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialGrant {
    pub offer: OfferId,
    pub profile: ProfileId,
    pub link: LinkId,
}

/// Why a pre-authorized code was not exchanged for an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedeemRefusal {
    /// Unknown, expired, already redeemed, ended by wrong codes, or its link ended: one
    /// answer for all.
    #[error("the pre-authorized code is not valid")]
    InvalidCode,
    /// The transaction code is wrong; `left` more tries before the offer ends.
    #[error("wrong transaction code ({left} tries left)")]
    WrongTxCode { left: u32 },
}
