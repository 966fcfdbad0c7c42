//! The wallet's key proof (OpenID4VCI 1.0, appendix F.1): a JWT the wallet signs with the
//! key the credential will be bound to, for this issuer (`aud`), now (`iat`), with a
//! nonce the issuer gave (`nonce`). Only ES256 keys given inline (`jwk`) are accepted:
//! that is what the issuer's metadata advertises.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::{Value, json};

/// The proof's JWS `typ`.
pub const PROOF_TYPE: &str = "openid4vci-proof+jwt";
/// How old a proof may be (its `iat`), in seconds.
pub const MAX_AGE_SECS: i64 = 300;
/// How far in the future a proof's `iat` may be (clocks differ), in seconds.
pub const MAX_SKEW_SECS: i64 = 60;
/// Longest proof read, in characters.
pub const MAX_PROOF_CHARS: usize = 8_192;

/// A proof that held: the wallet's public key (only its public members, as the
/// credential's `cnf.jwk` will carry it) and the nonce it signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenKey {
    pub jwk: Value,
    pub nonce: String,
}

/// Why a proof was refused (each a stable reason for the logs; the wallet is told
/// `invalid_proof`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("the header's typ is not openid4vci-proof+jwt")]
    WrongType,
    #[error("the algorithm is not ES256")]
    WrongAlgorithm,
    #[error("no usable P-256 public key in the header's jwk")]
    BadKey,
    #[error("a critical header parameter is not understood")]
    Critical,
    #[error("the signature does not verify with the header's key")]
    BadSignature,
    #[error("the audience is not this issuer")]
    WrongAudience,
    #[error("iat is missing, too old or in the future")]
    BadTime,
    #[error("no nonce")]
    NoNonce,
}

fn json_part(part: &str) -> Result<Value, ProofError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| ProofError::Malformed)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| ProofError::Malformed)?;
    value
        .is_object()
        .then_some(value)
        .ok_or(ProofError::Malformed)
}

fn coordinate(jwk: &Value, name: &str) -> Result<Vec<u8>, ProofError> {
    let text = jwk[name].as_str().ok_or(ProofError::BadKey)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| ProofError::BadKey)?;
    (bytes.len() == 32)
        .then_some(bytes)
        .ok_or(ProofError::BadKey)
}

/// Checks `proof` for the issuer `audience` at `now` (Unix seconds). The nonce is
/// returned for the caller to check against the ones it gave.
///
/// # Errors
/// [`ProofError`].
pub fn check(proof: &str, audience: &str, now: i64) -> Result<ProvenKey, ProofError> {
    if proof.len() > MAX_PROOF_CHARS {
        return Err(ProofError::Malformed);
    }
    let mut parts = proof.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed);
    };
    let head = json_part(header)?;
    if head["typ"] != PROOF_TYPE {
        return Err(ProofError::WrongType);
    }
    if head["alg"] != "ES256" {
        return Err(ProofError::WrongAlgorithm);
    }
    if head.get("crit").is_some() {
        return Err(ProofError::Critical);
    }
    let jwk = &head["jwk"];
    // a private key in a header is a wallet bug; refusing it keeps it out of credentials
    if jwk["kty"] != "EC" || jwk["crv"] != "P-256" || jwk.get("d").is_some() {
        return Err(ProofError::BadKey);
    }
    let (x, y) = (coordinate(jwk, "x")?, coordinate(jwk, "y")?);
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    let key = VerifyingKey::from_sec1_bytes(&point).map_err(|_| ProofError::BadKey)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or(ProofError::BadSignature)?;
    let signed = &proof[..header.len() + 1 + payload.len()];
    key.verify(signed.as_bytes(), &signature)
        .map_err(|_| ProofError::BadSignature)?;
    let claims = json_part(payload)?;
    let audience_ok = match &claims["aud"] {
        Value::String(aud) => aud == audience,
        Value::Array(list) => list.len() == 1 && list[0] == audience,
        _ => false,
    };
    if !audience_ok {
        return Err(ProofError::WrongAudience);
    }
    let iat = claims["iat"].as_i64().ok_or(ProofError::BadTime)?;
    if iat < now - MAX_AGE_SECS || iat > now + MAX_SKEW_SECS {
        return Err(ProofError::BadTime);
    }
    let nonce = claims["nonce"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or(ProofError::NoNonce)?;
    Ok(ProvenKey {
        jwk: json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&x),
            "y": URL_SAFE_NO_PAD.encode(&y),
        }),
        nonce: nonce.to_owned(),
    })
}

/// A proof signed with `key` (for the tests of the issuer's endpoints and of this
/// module): `header` and `claims` as given, `typ`/`alg`/`jwk` added when absent.
#[must_use]
pub fn sign_for_tests(key: &p256::ecdsa::SigningKey, header: &Value, claims: &Value) -> String {
    use p256::ecdsa::signature::Signer;
    let point = key.verifying_key().to_sec1_bytes();
    let mut head = header.clone();
    if let Value::Object(map) = &mut head {
        map.entry("typ").or_insert_with(|| PROOF_TYPE.into());
        map.entry("alg").or_insert_with(|| "ES256".into());
        map.entry("jwk").or_insert_with(|| {
            json!({
                "kty": "EC",
                "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(point.get(1..33).unwrap_or_default()),
                "y": URL_SAFE_NO_PAD.encode(point.get(33..65).unwrap_or_default()),
            })
        });
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(head.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::SigningKey;

    use super::*;

    const AUD: &str = "https://sand.example";
    const NOW: i64 = 1_796_000_000;

    fn wallet() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    fn claims() -> Value {
        json!({"aud": AUD, "iat": NOW, "nonce": "n-1"})
    }

    #[test]
    fn a_fresh_proof_for_this_issuer_gives_the_public_key_and_the_nonce() {
        let proof = sign_for_tests(&wallet(), &json!({}), &claims());
        let proven = check(&proof, AUD, NOW + 10).unwrap();
        assert_eq!(proven.nonce, "n-1");
        assert_eq!(proven.jwk["kty"], "EC");
        assert!(proven.jwk.get("d").is_none());
        // an audience given as a one-element array is the same audience
        let proof = sign_for_tests(
            &wallet(),
            &json!({}),
            &json!({"aud": [AUD], "iat": NOW, "nonce": "n"}),
        );
        assert!(check(&proof, AUD, NOW).is_ok());
    }

    #[test]
    fn every_defect_of_a_proof_is_refused_with_its_reason() {
        let key = wallet();
        let ok = || claims();
        let cases: Vec<(String, ProofError)> = vec![
            ("a.b".into(), ProofError::Malformed),
            ("x".repeat(MAX_PROOF_CHARS + 1), ProofError::Malformed),
            (
                sign_for_tests(&key, &json!({"typ": "JWT"}), &ok()),
                ProofError::WrongType,
            ),
            (
                sign_for_tests(&key, &json!({"alg": "none"}), &ok()),
                ProofError::WrongAlgorithm,
            ),
            (
                sign_for_tests(&key, &json!({"crit": ["exp"]}), &ok()),
                ProofError::Critical,
            ),
            (
                sign_for_tests(
                    &key,
                    &json!({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA"}}),
                    &ok(),
                ),
                ProofError::BadKey,
            ),
            (
                sign_for_tests(
                    &key,
                    &json!({"jwk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}}),
                    &ok(),
                ),
                ProofError::BadKey,
            ),
            (
                sign_for_tests(
                    &key,
                    &json!({}),
                    &json!({"aud": "https://other.example", "iat": NOW, "nonce": "n"}),
                ),
                ProofError::WrongAudience,
            ),
            (
                sign_for_tests(
                    &key,
                    &json!({}),
                    &json!({"aud": AUD, "iat": NOW - 301, "nonce": "n"}),
                ),
                ProofError::BadTime,
            ),
            (
                sign_for_tests(
                    &key,
                    &json!({}),
                    &json!({"aud": AUD, "iat": NOW + 61, "nonce": "n"}),
                ),
                ProofError::BadTime,
            ),
            (
                sign_for_tests(
                    &key,
                    &json!({}),
                    &json!({"aud": AUD, "iat": "now", "nonce": "n"}),
                ),
                ProofError::BadTime,
            ),
            (
                sign_for_tests(&key, &json!({}), &json!({"aud": AUD, "iat": NOW})),
                ProofError::NoNonce,
            ),
        ];
        for (proof, expected) in cases {
            assert_eq!(check(&proof, AUD, NOW), Err(expected), "{proof:.60}");
        }
        // signed by another key than the one in the header
        let other = SigningKey::from_slice(&[9u8; 32]).unwrap();
        let honest = sign_for_tests(&key, &json!({}), &ok());
        let forged = sign_for_tests(&other, &json!({}), &ok());
        let (head, _) = honest.split_once('.').unwrap();
        let (_, rest) = forged.split_once('.').unwrap();
        assert_eq!(
            check(&format!("{head}.{rest}"), AUD, NOW),
            Err(ProofError::BadSignature)
        );
    }
}
