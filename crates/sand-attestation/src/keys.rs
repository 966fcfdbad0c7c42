//! SAND's issuing keys: one signing key, several verification keys (rotation).
//!
//! Keys are Ed25519, stored as PEM (PKCS#8 for the secret key, SubjectPublicKeyInfo for
//! public keys) so that standard tools read them. A [`KeyId`] names a public key: the
//! first 8 bytes of the SHA-256 of its 32 bytes, in hex. The demonstration key is
//! derived from a public constant: anyone can sign with it, which is the point — a
//! document signed with it is worthless and every checker says so.

use std::fmt;
use std::path::Path;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// The seed of the public demonstration key (never a secret, never of any value).
const DEMO_SEED_TEXT: &str = "SAND demonstration signing key: public, worthless";

/// Why a key could not be made, read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not an Ed25519 private key in PKCS#8 PEM form ({0})")]
    BadPrivateKey(String),
    #[error("not an Ed25519 public key in PEM form ({0})")]
    BadPublicKey(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path} can be read by other users (mode {mode:o}): run `chmod 600 {path}` — a signing key must stay private"
    )]
    TooOpen { path: String, mode: u32 },
    #[error("no randomness available: {0}")]
    Random(String),
    #[error("cannot encode the key: {0}")]
    Encode(String),
}

/// Names a public key: the first 8 bytes of the SHA-256 of its 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    fn of(key: &VerifyingKey) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Self(id)
    }

    /// Parses the 16-character hexadecimal form.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut id = [0u8; 8];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(id))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// The signing key of this deployment.
pub struct SigningKeys {
    key: SigningKey,
    id: KeyId,
    demo: bool,
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // never the secret
        f.debug_struct("SigningKeys")
            .field("id", &self.id)
            .field("demo", &self.demo)
            .finish_non_exhaustive()
    }
}

impl SigningKeys {
    fn new(key: SigningKey, demo: bool) -> Self {
        let id = KeyId::of(&key.verifying_key());
        Self { key, id, demo }
    }

    /// The public demonstration key (demo mode only).
    #[must_use]
    pub fn demo() -> Self {
        let seed: [u8; 32] = Sha256::digest(DEMO_SEED_TEXT.as_bytes()).into();
        Self::new(SigningKey::from_bytes(&seed), true)
    }

    /// A new random key.
    ///
    /// # Errors
    /// [`KeyError::Random`] when the system has no randomness to give.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let keys = Self::new(SigningKey::from_bytes(&seed), false);
        seed.fill(0);
        Ok(keys)
    }

    /// Reads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Errors
    /// [`KeyError::BadPrivateKey`] (the message never contains key material).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = SigningKey::from_pkcs8_pem(pem.trim())
            .map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
        let keys = Self::new(key, false);
        if keys.id == Self::demo().id {
            return Ok(Self::demo());
        }
        Ok(keys)
    }

    /// Reads a key file, refusing one that other users can read.
    ///
    /// # Errors
    /// [`KeyError`].
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        Self::from_pem(&read_private(path)?)
    }

    /// The private key as PKCS#8 PEM, to be written to a file only its owner reads.
    ///
    /// # Errors
    /// [`KeyError::Encode`].
    pub fn to_pem(&self) -> Result<String, KeyError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.as_str().to_owned())
            .map_err(|e| KeyError::Encode(e.to_string()))
    }

    /// The public key as PEM (SubjectPublicKeyInfo), to be published.
    ///
    /// # Errors
    /// [`KeyError::Encode`].
    pub fn public_pem(&self) -> Result<String, KeyError> {
        public_pem(&self.key.verifying_key())
    }

    #[must_use]
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Whether this is the public demonstration key.
    #[must_use]
    pub fn is_demo(&self) -> bool {
        self.demo
    }

    /// Signs `message` (Ed25519): attestations' facts, or a batch manifest with an
    /// exam office's batch key.
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    pub(crate) fn public(&self) -> PublicKey {
        PublicKey {
            id: self.id,
            key: self.key.verifying_key(),
            demo: self.demo,
        }
    }
}

fn public_pem(key: &VerifyingKey) -> Result<String, KeyError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Encode(e.to_string()))
}

/// 16 bytes from the operating system's random source (identifiers, not secrets: a
/// failing source gives zeros rather than stopping an export).
#[must_use]
pub(crate) fn random_16() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    let _ = getrandom::fill(&mut bytes);
    bytes
}

/// Reads a private key file, refusing one that other users can read.
///
/// # Errors
/// [`KeyError::Read`], [`KeyError::TooOpen`].
pub fn read_private(path: &Path) -> Result<String, KeyError> {
    let display = path.display().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| KeyError::Read {
            path: display.clone(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::TooOpen {
                path: display,
                mode,
            });
        }
    }
    std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: display,
        source,
    })
}

/// A verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub id: KeyId,
    key: VerifyingKey,
    /// The public demonstration key: its signatures prove nothing.
    pub demo: bool,
}

impl PublicKey {
    /// Reads a PEM public key (`-----BEGIN PUBLIC KEY-----`).
    ///
    /// # Errors
    /// [`KeyError::BadPublicKey`].
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_public_key_pem(pem.trim())
            .map_err(|e| KeyError::BadPublicKey(e.to_string()))?;
        let id = KeyId::of(&key);
        Ok(Self {
            id,
            key,
            demo: id == SigningKeys::demo().id,
        })
    }

    /// The key as PEM.
    ///
    /// # Errors
    /// [`KeyError::Encode`].
    pub fn to_pem(&self) -> Result<String, KeyError> {
        public_pem(&self.key)
    }

    /// The key as a JSON Web Key (RFC 8037: `OKP`, `Ed25519`), named by its id.
    #[must_use]
    pub fn jwk(&self) -> serde_json::Value {
        use base64::Engine as _;
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.key.as_bytes()),
            "kid": self.id.to_string(),
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    /// Checks a signature (strictly: no malleable encodings).
    #[must_use]
    pub fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = Signature::from_bytes(signature);
        self.key.verify(message, &signature).is_ok()
            && self.key.verify_strict(message, &signature).is_ok()
    }
}

/// The keys a checker accepts: the current signing key's, the previous ones kept after
/// a rotation, and always the demonstration key (whose signatures it reports as such).
#[derive(Debug, Clone)]
pub struct VerificationKeys {
    keys: Vec<PublicKey>,
}

impl Default for VerificationKeys {
    fn default() -> Self {
        Self {
            keys: vec![SigningKeys::demo().public()],
        }
    }
}

impl VerificationKeys {
    /// The demonstration key only.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key (once).
    pub fn add(&mut self, key: PublicKey) {
        if !self.keys.iter().any(|k| k.id == key.id) {
            self.keys.push(key);
        }
    }

    /// Adds the public half of a signing key.
    pub fn add_signing(&mut self, signing: &SigningKeys) {
        self.add(signing.public());
    }

    /// Adds a PEM public key; returns its id.
    ///
    /// # Errors
    /// [`KeyError::BadPublicKey`].
    pub fn add_pem(&mut self, pem: &str) -> Result<KeyId, KeyError> {
        let key = PublicKey::from_pem(pem)?;
        let id = key.id;
        self.add(key);
        Ok(id)
    }

    #[must_use]
    pub fn get(&self, id: KeyId) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Every key, the demonstration key first (for the well-known address).
    pub fn iter(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_round_trips_through_pem_and_is_not_the_demo_key() {
        let keys = SigningKeys::generate().unwrap();
        assert!(!keys.is_demo());
        let pem = keys.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = SigningKeys::from_pem(&pem).unwrap();
        assert_eq!(again.id(), keys.id());
        let public = PublicKey::from_pem(&keys.public_pem().unwrap()).unwrap();
        assert_eq!(public.id, keys.id());
        assert!(!public.demo);
        assert!(public.verifies(b"m", &keys.sign(b"m")));
        assert!(!public.verifies(b"n", &keys.sign(b"m")));
    }

    #[test]
    fn the_demo_key_is_fixed_and_recognised_from_its_pem() {
        let demo = SigningKeys::demo();
        assert_eq!(demo.id(), SigningKeys::demo().id());
        assert!(
            SigningKeys::from_pem(&demo.to_pem().unwrap())
                .unwrap()
                .is_demo()
        );
        assert!(
            PublicKey::from_pem(&demo.public_pem().unwrap())
                .unwrap()
                .demo
        );
        assert!(VerificationKeys::new().get(demo.id()).unwrap().demo);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let keys = SigningKeys::generate().unwrap();
        let pem = keys.to_pem().unwrap();
        let secret_line = pem.lines().nth(1).unwrap();
        assert!(!format!("{keys:?}").contains(secret_line));
    }

    #[test]
    fn garbage_is_a_clear_error() {
        assert!(matches!(
            SigningKeys::from_pem("hello"),
            Err(KeyError::BadPrivateKey(_))
        ));
        assert!(matches!(
            PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
            Err(KeyError::BadPublicKey(_))
        ));
        assert_eq!(KeyId::parse("xyz"), None);
        let id = SigningKeys::demo().id();
        assert_eq!(KeyId::parse(&id.to_string()), Some(id));
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("sand-key-{}.pem", std::process::id()));
        let keys = SigningKeys::generate().unwrap();
        std::fs::write(&path, keys.to_pem().unwrap()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            SigningKeys::from_file(&path),
            Err(KeyError::TooOpen { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(SigningKeys::from_file(&path).unwrap().id(), keys.id());
        std::fs::remove_file(path).unwrap();
    }
}
