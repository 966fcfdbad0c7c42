//! Graduates' profiles. A profile's identity is immutable: the fix for a wrong identity
//! is to delete the profile and create it again. Only its owner manipulates it.

pub mod create;
pub mod delete;
pub mod mailbox;
pub mod notices;
pub mod password;
pub mod second_factor;
pub mod sign_in;

use std::fmt;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::credentials::{Email, PasswordHash};
use crate::identity::Identity;

/// Identifier of a profile, assigned by the profile store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProfileId(pub Uuid);

/// A FranceConnect user: users are keyed by (issuer, subject), never by e-mail.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FranceConnectSubject {
    pub issuer: String,
    pub subject: String,
}

impl fmt::Debug for FranceConnectSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FranceConnectSubject")
            .field("issuer", &self.issuer)
            .field("subject", &"<redacted>")
            .finish()
    }
}

/// How the graduate logs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginMethod {
    /// E-mail and password; the e-mail must be verified before the first log-in.
    Password,
    /// FranceConnect; the identity is certified by it.
    FranceConnect(FranceConnectSubject),
}

/// A graduate's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub id: ProfileId,
    /// Identity at exam time, as declared (or certified by FranceConnect). Never changes.
    pub identity: Identity,
    pub email: Email,
    pub email_verified: bool,
    pub login: LoginMethod,
    /// The identity comes from FranceConnect (birth name and all first names certified).
    pub identity_certified: bool,
    /// FranceConnect gave a "presumed" birth date (`YYYY-01-01`, day and month unknown).
    pub birth_date_presumed: bool,
    /// The holder asked to be told by e-mail when one of their attestations is verified.
    pub notify_on_verification: bool,
    pub created_at: OffsetDateTime,
}

/// The credentials stored with a new profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewCredentials {
    Password(PasswordHash),
    FranceConnect(FranceConnectSubject),
}

/// A profile about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProfile {
    pub identity: Identity,
    pub email: Email,
    pub email_verified: bool,
    pub credentials: NewCredentials,
    pub identity_certified: bool,
    pub birth_date_presumed: bool,
    pub created_at: OffsetDateTime,
}
