//! The paths the service promises outside itself: written in mails, printed on
//! attestations (their QR codes), kept in bookmarks. They outlive any page layout, so the
//! web router serves them and the mail and attestation adapters write them from this one
//! table.

/// Where anyone checks an attestation's control key.
pub const VERIFY: &str = "/verifier";
/// A mailed link that confirms a new account's address.
pub const CONFIRM_EMAIL: &str = "/compte/confirmer";
/// A mailed link that lets the owner of the address choose a new password.
pub const RESET_PASSWORD: &str = "/compte/mot-de-passe";
/// The graduate's space: their diplomas.
pub const SPACE: &str = "/espace";
/// The graduate's profile page (how they log in, their sessions).
pub const PROFILE: &str = "/espace/profil";
/// A mailed link that stops the "your attestation was verified" mails (the page and, by
/// `POST`, the one-click stop of RFC 8058 that mail clients offer).
pub const STOP_VERIFICATION_NOTICES: &str = "/notifications/arreter";
/// The query parameter that carries a mailed link's token.
pub const TOKEN: &str = "jeton";
