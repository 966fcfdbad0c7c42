//! Signed, expiring tokens (HMAC-SHA-256 with a key derived from the server secret):
//! e-mail verification and password-reset links, CSRF tokens, and the FranceConnect
//! login-in-progress cookie. Nothing of them is stored: a token is valid while its
//! signature, its expiry and its binding hold.
//!
//! A token reads `<data>.<expiry>.<signature>`; the signature covers the purpose, the
//! data, the expiry and a binding that is not in the token: the e-mail address for a
//! verification link, the current password hash for a reset link (so that a reset link
//! works once: the hash it was bound to is gone after use).

use std::fmt;

use hmac::{Hmac, Mac};
use sand_domain::SecretToken;
use sand_domain::ports::{AccountTokenPurpose, AccountTokens};
use sand_domain::profile::ProfileId;
use sha2::Sha256;
use time::OffsetDateTime;

type HmacSha256 = Hmac<Sha256>;

/// What a token is for; a token of one purpose is worthless for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
    Csrf,
    FranceConnectLogin,
    /// A browser that signed in to an account (exempt from the account's slowing).
    KnownDevice,
    /// The pseudonym of an address in the security log.
    Pseudonym,
    /// A TOTP secret offered for enrolment, until its first code is typed.
    SecondFactorEnrolment,
    /// A login whose password was right, waiting for its second factor.
    SecondFactorLogin,
    /// The stop link of a "your attestation was verified" mail.
    StopVerificationNotices,
    /// A back-office agent's session.
    StaffSession,
    /// A back-office login through ProConnect in progress (state, nonce, PKCE verifier).
    StaffProConnectLogin,
    /// The id_token of an agent's ProConnect login, to end ProConnect's session too.
    StaffProConnectHint,
    /// The `state` of a logout at ProConnect, checked on the way back.
    StaffProConnectLogout,
    /// A `c_nonce` a wallet's key proof must carry (OpenID4VCI).
    WalletNonce,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::VerifyEmail => b"verify-email",
            Self::ResetPassword => b"reset-password",
            Self::Csrf => b"csrf",
            Self::FranceConnectLogin => b"franceconnect-login",
            Self::KnownDevice => b"known-device",
            Self::Pseudonym => b"pseudonym",
            Self::SecondFactorEnrolment => b"second-factor-enrolment",
            Self::SecondFactorLogin => b"second-factor-login",
            Self::StopVerificationNotices => b"stop-verification-notices",
            Self::StaffSession => b"staff-session",
            Self::StaffProConnectLogin => b"staff-proconnect-login",
            Self::StaffProConnectHint => b"staff-proconnect-hint",
            Self::StaffProConnectLogout => b"staff-proconnect-logout",
            Self::WalletNonce => b"wallet-nonce",
        }
    }
}

/// Longest token accepted, in characters (anything longer is refused unread).
pub const MAX_TOKEN_CHARS: usize = 4_096;

/// Signs and checks tokens.
#[derive(Clone)]
pub struct Signer {
    mac: HmacSha256,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(<secret>)")
    }
}

impl Signer {
    /// A signer keyed from the server secret (its own derived key: the secret's other
    /// uses never see these MACs).
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        let mut derive =
            <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac_key());
        derive.update(b"sand-http token key");
        let key = derive.finalize().into_bytes();
        let mac =
            <HmacSha256 as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable_hmac_key());
        Self { mac }
    }

    fn keyed(&self, purpose: Purpose, data: &str, expires: i64, binding: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        for part in [
            purpose.label(),
            data.as_bytes(),
            &expires.to_be_bytes(),
            binding.as_bytes(),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// A token carrying `data` (which must not contain `.`) until `expires`.
    #[must_use]
    pub fn sign(
        &self,
        purpose: Purpose,
        data: &str,
        binding: &str,
        expires: OffsetDateTime,
    ) -> String {
        let expires = expires.unix_timestamp();
        let tag = self
            .keyed(purpose, data, expires, binding)
            .finalize()
            .into_bytes();
        format!("{data}.{expires}.{}", hex::encode(tag))
    }

    /// The data of a token, unchecked (to find what its binding should be).
    #[must_use]
    pub fn peek(token: &str) -> Option<&str> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let mut parts = token.splitn(3, '.');
        let data = parts.next()?;
        parts.next()?;
        parts.next()?;
        Some(data)
    }

    /// The data of a token whose signature and binding hold and that has not expired.
    #[must_use]
    pub fn open<'t>(
        &self,
        purpose: Purpose,
        token: &'t str,
        binding: &str,
        now: OffsetDateTime,
    ) -> Option<&'t str> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let mut parts = token.splitn(3, '.');
        let data = parts.next()?;
        let expires: i64 = parts.next()?.parse().ok()?;
        let tag = hex::decode(parts.next()?).ok()?;
        self.keyed(purpose, data, expires, binding)
            .verify_slice(&tag)
            .ok()?;
        (now.unix_timestamp() < expires).then_some(data)
    }

    /// A stable pseudonym of `data` (an address) for the logs: 64 bits of a keyed digest,
    /// enough to follow one address through the log, useless to find it back without
    /// the server secret.
    #[must_use]
    pub fn pseudonym(&self, data: &str) -> String {
        let tag = self
            .keyed(Purpose::Pseudonym, data, 0, "")
            .finalize()
            .into_bytes();
        hex::encode(&tag[..8])
    }

    /// The CSRF token of a session (or of an anonymous visitor's CSRF cookie).
    #[must_use]
    pub fn csrf_token(&self, seed: &str) -> String {
        let tag = self
            .keyed(Purpose::Csrf, seed, 0, "")
            .finalize()
            .into_bytes();
        hex::encode(tag)
    }

    /// Whether `token` is the CSRF token of `seed` (constant time).
    #[must_use]
    pub fn check_csrf(&self, seed: &str, token: &str) -> bool {
        if token.len() != 64 {
            return false;
        }
        let Ok(tag) = hex::decode(token) else {
            return false;
        };
        self.keyed(Purpose::Csrf, seed, 0, "")
            .verify_slice(&tag)
            .is_ok()
    }
}

/// The tokens of mailed account links: the profile id (32 hex digits) as data.
impl AccountTokens for Signer {
    fn issue(
        &self,
        purpose: AccountTokenPurpose,
        profile: ProfileId,
        binding: &str,
        expires: OffsetDateTime,
    ) -> SecretToken {
        let data = profile.0.simple().to_string();
        SecretToken::new(self.sign(purpose.into(), &data, binding, expires))
    }

    fn named_profile(&self, token: &str) -> Option<ProfileId> {
        let data = Self::peek(token)?;
        uuid::Uuid::try_parse(data).ok().map(ProfileId)
    }

    fn holds(
        &self,
        purpose: AccountTokenPurpose,
        token: &str,
        binding: &str,
        now: OffsetDateTime,
    ) -> bool {
        self.open(purpose.into(), token, binding, now).is_some()
    }
}

impl From<AccountTokenPurpose> for Purpose {
    fn from(purpose: AccountTokenPurpose) -> Self {
        match purpose {
            AccountTokenPurpose::ConfirmEmail => Self::VerifyEmail,
            AccountTokenPurpose::ResetPassword => Self::ResetPassword,
            AccountTokenPurpose::StopVerificationNotices => Self::StopVerificationNotices,
        }
    }
}

/// HMAC accepts keys of any length: this cannot happen.
fn unreachable_hmac_key() -> HmacSha256 {
    tracing::error!("HMAC refused a key");
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-24 12:00 UTC);

    #[test]
    fn a_token_opens_with_its_purpose_binding_and_before_its_expiry_only() {
        let signer = Signer::new(b"0123456789abcdef0123456789abcdef");
        let token = signer.sign(
            Purpose::ResetPassword,
            "abc",
            "hash-1",
            NOW + Duration::hours(1),
        );
        assert_eq!(
            signer.open(Purpose::ResetPassword, &token, "hash-1", NOW),
            Some("abc")
        );
        assert_eq!(Signer::peek(&token), Some("abc"));
        assert_eq!(
            signer.open(Purpose::ResetPassword, &token, "hash-2", NOW),
            None
        );
        assert_eq!(
            signer.open(Purpose::VerifyEmail, &token, "hash-1", NOW),
            None
        );
        assert_eq!(
            signer.open(
                Purpose::ResetPassword,
                &token,
                "hash-1",
                NOW + Duration::hours(2)
            ),
            None
        );
        let other = Signer::new(b"another secret of thirty-two bytes!");
        assert_eq!(
            other.open(Purpose::ResetPassword, &token, "hash-1", NOW),
            None
        );
        let forged = token.replacen("abc", "abd", 1);
        assert_eq!(
            signer.open(Purpose::ResetPassword, &forged, "hash-1", NOW),
            None
        );
        for garbage in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.1.zz",
            &"x".repeat(MAX_TOKEN_CHARS + 1),
        ] {
            assert_eq!(
                signer.open(Purpose::ResetPassword, garbage, "hash-1", NOW),
                None
            );
        }
    }

    #[test]
    fn a_csrf_token_belongs_to_its_seed() {
        let signer = Signer::new(b"0123456789abcdef0123456789abcdef");
        let token = signer.csrf_token("session-a");
        assert!(signer.check_csrf("session-a", &token));
        assert!(!signer.check_csrf("session-b", &token));
        assert!(!signer.check_csrf("session-a", ""));
        assert!(!signer.check_csrf("session-a", &"0".repeat(64)));
    }
}
