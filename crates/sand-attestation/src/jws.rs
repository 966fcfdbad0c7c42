//! JSON Web Signatures (RFC 7515) with SAND's Ed25519 keys (`alg` `EdDSA`, RFC 8037),
//! in the compact serialization. The signature is ed25519-dalek's; this module only
//! encodes (base64url without padding) and checks the header strictly: `alg` must be
//! `EdDSA`, `kid` one of the verification keys, `typ` the expected type, and no
//! `crit` extension. Any third-party JOSE library verifies these signatures with the
//! published public key (the tests do, with npm `jose`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::keys::{KeyId, PublicKey, SigningKeys, VerificationKeys};

/// Longest compact JWS accepted.
pub const MAX_JWS_BYTES: usize = 16 * 1024;

/// Why a JWS was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("not a compact JWS (three base64url parts)")]
    Malformed,
    #[error("the JWS is longer than {MAX_JWS_BYTES} bytes")]
    TooLong,
    #[error("the header is not the expected one (alg EdDSA, kid, typ {0})")]
    Header(String),
    #[error("signed with a key this checker does not know ({0})")]
    UnknownKey(String),
    #[error("the signature does not match: altered or forged")]
    BadSignature,
}

/// Signs `payload` (JSON) with `keys`: `header.payload.signature`, the header carrying
/// `alg`, `kid` (the key's id, as published) and `typ`, plus `extra` header members.
#[must_use]
pub fn sign(
    typ: &str,
    extra: &serde_json::Map<String, Value>,
    payload: &Value,
    keys: &SigningKeys,
) -> String {
    let mut header = json!({ "alg": "EdDSA", "kid": keys.id().to_string(), "typ": typ });
    if let Value::Object(members) = &mut header {
        for (name, value) in extra {
            members.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = keys.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A JWS whose signature holds: its header, its payload, and the key that signed it.
#[derive(Debug, Clone)]
pub struct Verified<'k> {
    pub header: Value,
    pub payload: Value,
    pub key: &'k PublicKey,
}

/// Checks a compact JWS of type `typ` against `keys`.
///
/// # Errors
/// [`JwsError`].
pub fn verify<'k>(
    compact: &str,
    typ: &str,
    keys: &'k VerificationKeys,
) -> Result<Verified<'k>, JwsError> {
    let compact = compact.trim();
    if compact.len() > MAX_JWS_BYTES {
        return Err(JwsError::TooLong);
    }
    let mut parts = compact.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwsError::Malformed)
    };
    let header: Value =
        serde_json::from_slice(&decode(header_b64)?).map_err(|_| JwsError::Malformed)?;
    let bad_header = || JwsError::Header(typ.to_owned());
    if header.get("alg").and_then(Value::as_str) != Some("EdDSA")
        || header.get("typ").and_then(Value::as_str) != Some(typ)
        || header.get("crit").is_some()
    {
        return Err(bad_header());
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or_else(bad_header)?;
    let key = KeyId::parse(kid)
        .and_then(|id| keys.get(id))
        .ok_or_else(|| JwsError::UnknownKey(kid.chars().take(32).collect()))?;
    let signature: [u8; 64] = decode(signature_b64)?
        .try_into()
        .map_err(|_| JwsError::BadSignature)?;
    let signing_input = &compact[..header_b64.len() + 1 + payload_b64.len()];
    if !key.verifies(signing_input.as_bytes(), &signature) {
        return Err(JwsError::BadSignature);
    }
    let payload: Value =
        serde_json::from_slice(&decode(payload_b64)?).map_err(|_| JwsError::Malformed)?;
    Ok(Verified {
        header,
        payload,
        key,
    })
}

/// The same JWS in the flattened JSON serialization (RFC 7515 §7.2.2): a JSON document
/// any JOSE library verifies as it is.
///
/// # Errors
/// [`JwsError::Malformed`] when `compact` is not three parts.
pub fn flattened(compact: &str) -> Result<Value, JwsError> {
    let mut parts = compact.trim().split('.');
    let (Some(protected), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    Ok(json!({ "protected": protected, "payload": payload, "signature": signature }))
}

/// A flattened JSON JWS back in the compact form (what [`verify`] reads).
///
/// # Errors
/// [`JwsError::Malformed`].
pub fn compact_of(flattened: &Value) -> Result<String, JwsError> {
    let part = |name: &str| {
        flattened
            .get(name)
            .and_then(Value::as_str)
            .ok_or(JwsError::Malformed)
    };
    Ok(format!(
        "{}.{}.{}",
        part("protected")?,
        part("payload")?,
        part("signature")?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_payload_verifies_and_any_change_is_refused() {
        let keys = SigningKeys::generate().unwrap();
        let mut known = VerificationKeys::new();
        known.add_signing(&keys);
        let jws = sign(
            "test+json",
            &serde_json::Map::new(),
            &json!({"a": 1}),
            &keys,
        );
        let verified = verify(&jws, "test+json", &known).unwrap();
        assert_eq!(verified.payload, json!({"a": 1}));
        assert_eq!(verified.key.id, keys.id());
        assert!(matches!(
            verify(&jws, "other+json", &known),
            Err(JwsError::Header(_))
        ));
        // another payload under the same signature
        let parts: Vec<&str> = jws.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(json!({"a": 2}).to_string()),
            parts[2]
        );
        assert_eq!(
            verify(&forged, "test+json", &known).unwrap_err(),
            JwsError::BadSignature
        );
        // an unknown key
        assert!(matches!(
            verify(&jws, "test+json", &VerificationKeys::new()),
            Err(JwsError::UnknownKey(_))
        ));
        // garbage of every shape
        for junk in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.??.##",
            &"A".repeat(MAX_JWS_BYTES + 1),
        ] {
            assert!(verify(junk, "test+json", &known).is_err(), "{junk:.20}");
        }
        let round = compact_of(&flattened(&jws).unwrap()).unwrap();
        assert_eq!(round, jws);
    }

    #[test]
    fn alg_none_and_critical_extensions_are_refused() {
        let keys = SigningKeys::generate().unwrap();
        let mut known = VerificationKeys::new();
        known.add_signing(&keys);
        for header in [
            json!({"alg": "none", "kid": keys.id().to_string(), "typ": "t"}),
            json!({"alg": "EdDSA", "kid": keys.id().to_string(), "typ": "t", "crit": ["x"]}),
        ] {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode("{}")
            );
            let signature = URL_SAFE_NO_PAD.encode(keys.sign(input.as_bytes()));
            assert!(matches!(
                verify(&format!("{input}.{signature}"), "t", &known),
                Err(JwsError::Header(_))
            ));
        }
    }
}
