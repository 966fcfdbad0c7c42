//! Protection of control keys at rest.
//!
//! The database never holds a key in clear (docs/adr/0002-control-keys-at-rest.md):
//! - `link.key_hash` = HMAC-SHA-256(lookup key, control key) finds a link from a typed key;
//! - `link.key_sealed` = XChaCha20-Poly1305(seal key, control key), with the link id as
//!   associated data, shows the holder their key.
//!
//! Both keys are derived from one server secret (at least 32 bytes, from configuration)
//! with HMAC-SHA-256 and distinct labels. A dump without the secret reveals no valid key.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sand_domain::control_key::ControlKey;
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// Shortest server secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

const NONCE_BYTES: usize = 24;

/// The prefix of a sealed outbox token (the version of its key's label).
const TOKEN_PREFIX: &str = "v1:";

/// Why a server secret or a sealed key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProtectionError {
    #[error("the key-protection secret must have at least {MIN_SECRET_BYTES} bytes")]
    SecretTooShort,
    #[error("a sealed control key could not be opened (wrong secret or corrupt data)")]
    CannotOpen,
}

/// Hashes and seals control keys with keys derived from the server secret.
#[derive(Clone)]
pub struct KeyProtector {
    /// HMAC keyed with the lookup key, cloned for each hash.
    lookup: HmacSha256,
    seal: [u8; 32],
    /// Seals the tokens of mails waiting in the outbox.
    outbox: [u8; 32],
    /// Seals the TOTP secrets of second factors.
    totp: [u8; 32],
    /// HMAC keyed for share tokens' lookup hashes.
    share_lookup: HmacSha256,
    wallet_lookup: HmacSha256,
    /// Seals share tokens (so that their holder can copy the address again).
    share_seal: [u8; 32],
    /// A sealed key of no link, opened when a look-up finds nothing (see
    /// [`KeyProtector::open_decoy`]).
    decoy: Vec<u8>,
}

impl fmt::Debug for KeyProtector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyProtector(<secret>)")
    }
}

fn derive(secret: &[u8], label: &str) -> Result<[u8; 32], KeyProtectionError> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret)
        .map_err(|_| KeyProtectionError::SecretTooShort)?;
    mac.update(label.as_bytes());
    Ok(mac.finalize().into_bytes().into())
}

/// A random nonce followed by the XChaCha20-Poly1305 ciphertext of `message` under
/// `key`, bound to `aad`.
fn seal_with(key: &[u8; 32], message: &[u8], aad: Uuid) -> Result<Vec<u8>, KeyProtectionError> {
    let cipher = XChaCha20Poly1305::new(&(*key).into());
    let mut nonce_bytes = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce_bytes).map_err(|_| KeyProtectionError::CannotOpen)?;
    let nonce = XNonce::from(nonce_bytes);
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: message,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| KeyProtectionError::CannotOpen)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Opens what [`seal_with`] sealed.
fn open_with(key: &[u8; 32], sealed: &[u8], aad: Uuid) -> Result<Vec<u8>, KeyProtectionError> {
    if sealed.len() <= NONCE_BYTES {
        return Err(KeyProtectionError::CannotOpen);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    let cipher = XChaCha20Poly1305::new(&(*key).into());
    cipher
        .decrypt(
            &XNonce::try_from(nonce).map_err(|_| KeyProtectionError::CannotOpen)?,
            Payload {
                msg: ciphertext,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| KeyProtectionError::CannotOpen)
}

impl KeyProtector {
    /// # Errors
    /// [`KeyProtectionError::SecretTooShort`].
    pub fn from_secret(secret: &[u8]) -> Result<Self, KeyProtectionError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyProtectionError::SecretTooShort);
        }
        let mut protector = Self {
            lookup: <HmacSha256 as Mac>::new_from_slice(&derive(
                secret,
                "sand/control-key/lookup/v1",
            )?)
            .map_err(|_| KeyProtectionError::SecretTooShort)?,
            seal: derive(secret, "sand/control-key/seal/v1")?,
            outbox: derive(secret, "sand/outbox/token/v1")?,
            totp: derive(secret, "sand/totp/seal/v1")?,
            share_lookup: <HmacSha256 as Mac>::new_from_slice(&derive(
                secret,
                "sand/share-token/lookup/v1",
            )?)
            .map_err(|_| KeyProtectionError::SecretTooShort)?,
            share_seal: derive(secret, "sand/share-token/seal/v1")?,
            wallet_lookup: <HmacSha256 as Mac>::new_from_slice(&derive(
                secret,
                "sand/wallet-offer/lookup/v1",
            )?)
            .map_err(|_| KeyProtectionError::SecretTooShort)?,
            decoy: Vec::new(),
        };
        let decoy_key =
            ControlKey::parse("ZZZZZZZZ").map_err(|_| KeyProtectionError::CannotOpen)?;
        protector.decoy = protector.seal(&decoy_key, Uuid::nil())?;
        Ok(protector)
    }

    /// Opens a sealed key of no link: the work of opening a live link's key, done when a
    /// look-up by key finds nothing, so that the time of a verification does not tell a
    /// live key from an unknown one.
    pub fn open_decoy(&self) {
        // the result is the decoy key itself; only the work matters
        let _ = self.open(&self.decoy, Uuid::nil());
    }

    /// The lookup hash of a key (32 bytes).
    #[must_use]
    pub fn lookup_hash(&self, key: &ControlKey) -> Vec<u8> {
        let mut mac = self.lookup.clone();
        mac.update(key.as_str().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Seals a key for the link `link`: a random nonce followed by the ciphertext.
    ///
    /// # Errors
    /// Never in practice (encryption of 8 bytes); reported as
    /// [`KeyProtectionError::CannotOpen`] if the cipher refuses.
    pub fn seal(&self, key: &ControlKey, link: Uuid) -> Result<Vec<u8>, KeyProtectionError> {
        seal_with(&self.seal, key.as_str().as_bytes(), link)
    }

    /// Seals the token of the outbox row `row` (a confirmation or reset link waiting to
    /// be mailed): `v1:` and the hex of a random nonce followed by the ciphertext.
    ///
    /// # Errors
    /// [`KeyProtectionError::CannotOpen`] if the random source or the cipher fails.
    pub fn seal_token(&self, token: &str, row: Uuid) -> Result<String, KeyProtectionError> {
        let sealed = seal_with(&self.outbox, token.as_bytes(), row)?;
        Ok(format!("{TOKEN_PREFIX}{}", hex::encode(sealed)))
    }

    /// Opens a token sealed by [`KeyProtector::seal_token`] for the row `row`.
    ///
    /// # Errors
    /// [`KeyProtectionError::CannotOpen`] for another secret, another row, or corrupt data.
    pub fn open_token(&self, stored: &str, row: Uuid) -> Result<String, KeyProtectionError> {
        let sealed = stored
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|h| hex::decode(h).ok())
            .ok_or(KeyProtectionError::CannotOpen)?;
        let clear = open_with(&self.outbox, &sealed, row)?;
        String::from_utf8(clear).map_err(|_| KeyProtectionError::CannotOpen)
    }

    /// Seals the TOTP secret of the profile `profile`'s second factor.
    ///
    /// # Errors
    /// [`KeyProtectionError::CannotOpen`] if the random source or the cipher fails.
    pub fn seal_totp(&self, secret: &[u8], profile: Uuid) -> Result<Vec<u8>, KeyProtectionError> {
        seal_with(&self.totp, secret, profile)
    }

    /// Opens a TOTP secret sealed by [`KeyProtector::seal_totp`].
    ///
    /// # Errors
    /// [`KeyProtectionError::CannotOpen`] for another secret, another profile, or corrupt
    /// data.
    pub fn open_totp(&self, sealed: &[u8], profile: Uuid) -> Result<Vec<u8>, KeyProtectionError> {
        open_with(&self.totp, sealed, profile)
    }

    /// The lookup hash of a share token (32 bytes): a database read does not give the
    /// addresses of share links.
    #[must_use]
    pub fn share_lookup_hash(&self, token: &str) -> Vec<u8> {
        let mut mac = self.share_lookup.clone();
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The keyed hash (32 bytes) of a wallet offer's secret: `purpose` keeps the
    /// pre-authorized code, the transaction code and the access token apart, `context`
    /// ties a transaction code to its offer.
    #[must_use]
    pub fn wallet_hash(&self, purpose: &str, context: &[u8], secret: &str) -> Vec<u8> {
        let mut mac = self.wallet_lookup.clone();
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(context);
        mac.update(&[0]);
        mac.update(secret.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Seals the token of the share link `share`.
    ///
    /// # Errors
    /// [`KeyProtectionError::CannotOpen`] if the random source or the cipher fails.
    pub fn seal_share_token(
        &self,
        token: &str,
        share: Uuid,
    ) -> Result<Vec<u8>, KeyProtectionError> {
        seal_with(&self.share_seal, token.as_bytes(), share)
    }

    /// Opens a token sealed by [`KeyProtector::seal_share_token`].
    ///
    /// # Errors
    /// [`KeyProtectionError::CannotOpen`] for another secret, another share, or corrupt
    /// data.
    pub fn open_share_token(
        &self,
        sealed: &[u8],
        share: Uuid,
    ) -> Result<String, KeyProtectionError> {
        let clear = open_with(&self.share_seal, sealed, share)?;
        String::from_utf8(clear).map_err(|_| KeyProtectionError::CannotOpen)
    }

    /// Opens a sealed key of the link `link`.
    ///
    /// # Errors
    /// [`KeyProtectionError::CannotOpen`] for a wrong secret, another link's sealed key, or
    /// corrupt data.
    pub fn open(&self, sealed: &[u8], link: Uuid) -> Result<ControlKey, KeyProtectionError> {
        let clear = open_with(&self.seal, sealed, link)?;
        let text = std::str::from_utf8(&clear).map_err(|_| KeyProtectionError::CannotOpen)?;
        ControlKey::parse(text).map_err(|_| KeyProtectionError::CannotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protector(secret: &[u8]) -> KeyProtector {
        KeyProtector::from_secret(secret).unwrap()
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert_eq!(
            KeyProtector::from_secret(&[7; 31]).unwrap_err(),
            KeyProtectionError::SecretTooShort
        );
    }

    #[test]
    fn sealed_keys_open_only_with_the_same_secret_and_link() {
        let key = ControlKey::parse("AB1C0DEF").unwrap();
        let link = Uuid::from_u128(1);
        let p = protector(&[1; 32]);
        let sealed = p.seal(&key, link).unwrap();
        assert!(!sealed.windows(8).any(|w| w == b"AB1C0DEF"));
        assert_eq!(p.open(&sealed, link), Ok(key));
        assert!(p.open(&sealed, Uuid::from_u128(2)).is_err());
        assert!(protector(&[2; 32]).open(&sealed, link).is_err());
        assert!(p.open(&sealed[..10], link).is_err());
        // two seals of one key differ (random nonce)
        assert_ne!(p.seal(&key, link).unwrap(), sealed);
    }

    #[test]
    fn outbox_tokens_are_sealed_to_their_row_and_secret() {
        let p = protector(&[1; 32]);
        let row = Uuid::from_u128(9);
        let sealed = p.seal_token("abc.123.def", row).unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains("abc.123"));
        assert_eq!(p.open_token(&sealed, row).unwrap(), "abc.123.def");
        assert!(p.open_token(&sealed, Uuid::from_u128(10)).is_err());
        assert!(protector(&[2; 32]).open_token(&sealed, row).is_err());
        assert!(p.open_token("abc.123.def", row).is_err());
        assert!(p.open_token("v1:zz", row).is_err());
    }

    #[test]
    fn lookup_hashes_depend_on_the_secret() {
        let key = ControlKey::parse("AB1C0DEF").unwrap();
        assert_eq!(
            protector(&[1; 32]).lookup_hash(&key),
            protector(&[1; 32]).lookup_hash(&key)
        );
        assert_ne!(
            protector(&[1; 32]).lookup_hash(&key),
            protector(&[2; 32]).lookup_hash(&key)
        );
        assert_eq!(protector(&[1; 32]).lookup_hash(&key).len(), 32);
    }
}
