//! The key that signs wallet credentials and their status lists (ES256, P-256: the EU
//! wallet's algorithm; the PDFs keep their Ed25519 key), and the IETF Token Status List
//! as a signed JWT (`typ` `statuslist+jwt`, served as `application/statuslist+jwt`).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePrivateKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::keys::KeyError;

/// The seed of the public demonstration credential key (never a secret).
const DEMO_SEED_TEXT: &str = "SAND demonstration credential key: public, worthless";

/// The JWS `typ` of a status list token.
pub const STATUS_LIST_TYPE: &str = "statuslist+jwt";
/// Its media type.
pub const STATUS_LIST_MEDIA_TYPE: &str = "application/statuslist+jwt";
/// How long a relying party may cache a status list, in seconds (`ttl`).
pub const STATUS_LIST_TTL_SECS: i64 = 300;
/// How long a status list token is valid (`exp` − `iat`).
pub const STATUS_LIST_VALID_SECS: i64 = 24 * 3600;

/// The ES256 key of wallet credentials and status lists.
pub struct CredentialKeys {
    key: SigningKey,
    kid: String,
    demo: bool,
}

impl fmt::Debug for CredentialKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialKeys")
            .field("kid", &self.kid)
            .field("demo", &self.demo)
            .finish_non_exhaustive()
    }
}

fn kid_of(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.to_sec1_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl CredentialKeys {
    fn new(key: SigningKey, demo: bool) -> Self {
        let kid = kid_of(key.verifying_key());
        Self { key, kid, demo }
    }

    /// The public demonstration key: anything it signs is worthless, and says so.
    ///
    /// # Errors
    /// [`KeyError::BadPrivateKey`] never in practice (the seed is a valid scalar).
    pub fn demo() -> Result<Self, KeyError> {
        let seed: [u8; 32] = Sha256::digest(DEMO_SEED_TEXT.as_bytes()).into();
        let key =
            SigningKey::from_slice(&seed).map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
        Ok(Self::new(key, true))
    }

    /// Reads a P-256 PKCS#8 PEM private key.
    ///
    /// # Errors
    /// [`KeyError::BadPrivateKey`] (never with key material in the message).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = SigningKey::from_pkcs8_pem(pem.trim())
            .map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
        let keys = Self::new(key, false);
        let demo = Self::demo()?;
        Ok(if keys.kid == demo.kid { demo } else { keys })
    }

    /// Reads a key file (P-256, PKCS#8 PEM), refusing one that other users can read.
    ///
    /// # Errors
    /// [`KeyError`].
    pub fn from_file(path: &std::path::Path) -> Result<Self, KeyError> {
        Self::from_pem(&crate::keys::read_private(path)?)
    }

    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    #[must_use]
    pub fn is_demo(&self) -> bool {
        self.demo
    }

    /// The public key as a JWK (`EC`, `P-256`), named by its `kid`.
    #[must_use]
    pub fn jwk(&self) -> Value {
        let point = self.key.verifying_key().to_sec1_bytes();
        // uncompressed: 0x04 ‖ x ‖ y
        let (x, y) = point
            .get(1..)
            .unwrap_or_default()
            .split_at(32.min(point.len().saturating_sub(1)));
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        })
    }

    /// A compact JWS (ES256) of `payload` with `typ` and this key's `kid`.
    #[must_use]
    pub fn sign(&self, typ: &str, payload: &Value) -> String {
        let header = json!({ "alg": "ES256", "kid": self.kid, "typ": typ });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// Whether `compact` is a JWS this key signed (for the tests and the checker).
    #[must_use]
    pub fn verifies(&self, compact: &str) -> bool {
        let Some((input, signature)) = compact.rsplit_once('.') else {
            return false;
        };
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.key
            .verifying_key()
            .verify(input.as_bytes(), &signature)
            .is_ok()
    }
}

/// The status list token of list `uri` (its own address, `sub`) at `now`: the invalid
/// indexes set to 1 in a one-bit-per-entry array, DEFLATE-compressed (zlib), base64url.
///
/// # Errors
/// [`std::io::Error`] if compression fails (never in practice).
pub fn status_list_jwt(
    uri: &str,
    invalid: &[u32],
    now: time::OffsetDateTime,
    keys: &CredentialKeys,
) -> Result<String, std::io::Error> {
    use std::io::Write;
    let bits = sand_domain::credential_status::pack(invalid);
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&bits)?;
    let compressed = encoder.finish()?;
    let iat = now.unix_timestamp();
    let payload = json!({
        "sub": uri,
        "iat": iat,
        "exp": iat + STATUS_LIST_VALID_SECS,
        "ttl": STATUS_LIST_TTL_SECS,
        "status_list": { "bits": 1, "lst": URL_SAFE_NO_PAD.encode(compressed) },
    });
    Ok(keys.sign(STATUS_LIST_TYPE, &payload))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_demo_key_is_fixed_and_its_jwk_names_it() {
        let demo = CredentialKeys::demo().unwrap();
        assert!(demo.is_demo());
        assert_eq!(demo.kid(), CredentialKeys::demo().unwrap().kid());
        let jwk = demo.jwk();
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk["y"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        assert_eq!(jwk["kid"], demo.kid());
        assert!(!format!("{demo:?}").contains("key:"));
        assert!(matches!(
            CredentialKeys::from_pem("not a key"),
            Err(KeyError::BadPrivateKey(_))
        ));
    }

    #[test]
    fn a_status_list_token_is_signed_and_holds_the_invalid_bits_compressed() {
        let keys = CredentialKeys::demo().unwrap();
        let now = datetime!(2026-12-07 09:30 UTC);
        let token = status_list_jwt(
            "https://sand.example/statuts/0",
            &[3, 8, 1_000_000],
            now,
            &keys,
        )
        .unwrap();
        assert!(keys.verifies(&token));
        let parts: Vec<&str> = token.split('.').collect();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["typ"], "statuslist+jwt");
        assert_eq!(header["alg"], "ES256");
        let payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(payload["sub"], "https://sand.example/statuts/0");
        assert_eq!(payload["exp"], payload["iat"].as_i64().unwrap() + 86_400);
        assert_eq!(payload["status_list"]["bits"], 1);
        let compressed = URL_SAFE_NO_PAD
            .decode(payload["status_list"]["lst"].as_str().unwrap())
            .unwrap();
        assert!(compressed.len() < 1024, "{} bytes", compressed.len());
        let mut bits = Vec::new();
        flate2::read::ZlibDecoder::new(&compressed[..])
            .read_to_end(&mut bits)
            .unwrap();
        assert_eq!(bits.len(), 131_072);
        assert_eq!(bits[0], 0b0000_1000);
        assert_eq!(bits[1], 0b0000_0001);
        assert_eq!(bits[125_000], 0b0000_0001);
        // a changed payload does not verify
        let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode("{}"), parts[2]);
        assert!(!keys.verifies(&forged));
    }
}
