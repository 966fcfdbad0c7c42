//! The wallet credential: an SD-JWT VC (`typ` `dc+sd-jwt`, ES256 with the credential key)
//! whose personal claims are selectively disclosable, bound to the wallet's key
//! (`cnf.jwk`), with its Token Status List entry (`status.status_list {idx, uri}`).
//!
//! Always visible: `iss`, `iat`, `exp`, `vct`, `cnf`, `status` (and `demonstration` for
//! a demonstration credential). Each other claim is a disclosure `[salt, name, value]`
//! (16 random bytes of salt), referenced in `_sd` by the base64url SHA-256 of its
//! encoding; the holder reveals only the disclosures they choose.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sand_domain::issuer::IssuerRegistry;
use sand_domain::ports::Attestation;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::payload::iso;
use crate::status_list::CredentialKeys;

/// The credential type (`vct`).
pub const VCT: &str = "urn:fr:sand:attestation-diplome:1";
/// The JWS `typ` of an SD-JWT VC.
pub const SD_JWT_VC_TYPE: &str = "dc+sd-jwt";
/// How long a wallet credential is valid (`exp` − `iat`); its status says earlier if the
/// link ends.
pub const VALID_DAYS: i64 = 365;

/// Where the credential's status is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReference {
    /// The status list's address (`…/statuts/{n}`).
    pub uri: String,
    pub index: u32,
}

fn disclosure(name: &str, value: &Value) -> String {
    let salt = URL_SAFE_NO_PAD.encode(crate::keys::random_16());
    URL_SAFE_NO_PAD.encode(json!([salt, name, value]).to_string())
}

/// The digest `_sd` holds for an encoded disclosure.
#[must_use]
pub fn digest(encoded: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(encoded.as_bytes()))
}

/// The credential of `attestation`, issued by `issuer` (the service's address) to the
/// wallet key `holder_jwk`: `<issuer-signed JWT>~<disclosure>~…~`.
#[must_use]
pub fn issue(
    attestation: &Attestation,
    holder_jwk: &Value,
    status: &StatusReference,
    issuer: &str,
    issuers: &IssuerRegistry,
    keys: &CredentialKeys,
) -> String {
    let record = &attestation.record;
    let holder = &record.holder;
    let identity = &holder.identity;
    let code = record.source.exam_office.code();
    let mut claims: Vec<(&str, Value)> = vec![
        ("nom_naissance", identity.birth_name.as_str().into()),
        (
            "prenoms",
            identity
                .first_names
                .names()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .into(),
        ),
        ("date_naissance", iso(identity.birth_date.date()).into()),
        ("diplome", record.scope.kind.code().into()),
        ("intitule", record.scope.kind.title().into()),
        ("session", record.scope.session.year().into()),
        ("academie", record.scope.academie.code().into()),
        ("academie_nom", record.scope.academie.name().into()),
        (
            "date_deliberation",
            iso(record.award.deliberation_date).into(),
        ),
        (
            "resultat_tenu_par",
            issuers
                .get(code)
                .map_or_else(|| code.to_owned(), |i| i.name.clone())
                .into(),
        ),
    ];
    if let Some(usage) = &holder.usage_name {
        claims.push(("nom_usage", usage.as_str().into()));
    }
    if let Some(speciality) = &record.award.speciality {
        claims.push(("specialite", speciality.to_string().into()));
    }
    if let Some(mention) = record.award.mention {
        claims.push(("mention", mention.label().into()));
    }
    let disclosures: Vec<String> = claims
        .iter()
        .map(|(name, value)| disclosure(name, value))
        .collect();
    let mut digests: Vec<String> = disclosures.iter().map(|d| digest(d)).collect();
    // the order of `_sd` tells nothing of the claims'
    digests.sort_unstable();
    let iat = attestation.issued_at.unix_timestamp();
    let mut payload = json!({
        "iss": issuer,
        "iat": iat,
        "exp": iat + VALID_DAYS * 86_400,
        "vct": VCT,
        "cnf": { "jwk": holder_jwk },
        "status": { "status_list": { "idx": status.index, "uri": status.uri } },
        "_sd": digests,
        "_sd_alg": "sha-256",
    });
    if keys.is_demo() {
        payload["demonstration"] = true.into();
    }
    let mut out = keys.sign(SD_JWT_VC_TYPE, &payload);
    for d in &disclosures {
        out.push('~');
        out.push_str(d);
    }
    out.push('~');
    out
}

/// The [`WalletCredentialSigner`] of the service: SD-JWT VCs signed with the credential
/// key, their status in the lists at `{issuer}/statuts/{list}`.
///
/// [`WalletCredentialSigner`]: sand_domain::ports::WalletCredentialSigner
#[derive(Debug, Clone)]
pub struct SdJwtVcSigner {
    pub keys: std::sync::Arc<CredentialKeys>,
    /// The service's address (the credential issuer identifier, `iss`).
    pub issuer: String,
    pub issuers: std::sync::Arc<IssuerRegistry>,
}

impl sand_domain::ports::WalletCredentialSigner for SdJwtVcSigner {
    fn sign(
        &self,
        attestation: &Attestation,
        holder_jwk: &str,
        status: sand_domain::credential_status::StatusEntry,
    ) -> Result<String, sand_domain::PortError> {
        let jwk: Value =
            serde_json::from_str(holder_jwk).map_err(sand_domain::PortError::unexpected)?;
        let reference = StatusReference {
            uri: format!("{}/statuts/{}", self.issuer, status.list.0),
            index: status.index,
        };
        Ok(issue(
            attestation,
            &jwk,
            &reference,
            &self.issuer,
            &self.issuers,
            &self.keys,
        ))
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn every_personal_claim_is_a_disclosure_the_signed_part_commits_to() {
        let keys = CredentialKeys::demo().unwrap();
        let now = datetime!(2026-12-07 09:30 UTC);
        let attestation = crate::sample::sample_attestation(now).unwrap();
        let wallet = json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBB"});
        let issued = issue(
            &attestation,
            &wallet,
            &StatusReference {
                uri: "https://sand.example/statuts/0".into(),
                index: 4242,
            },
            "https://sand.example",
            &IssuerRegistry::offices_only(),
            &keys,
        );
        assert!(issued.ends_with('~'));
        let parts: Vec<&str> = issued.trim_end_matches('~').split('~').collect();
        let jwt = parts[0];
        assert!(keys.verifies(jwt));
        let segments: Vec<&str> = jwt.split('.').collect();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segments[0]).unwrap()).unwrap();
        assert_eq!(header["typ"], "dc+sd-jwt");
        assert_eq!(header["alg"], "ES256");
        let payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segments[1]).unwrap()).unwrap();
        assert_eq!(payload["vct"], VCT);
        assert_eq!(payload["cnf"]["jwk"], wallet);
        assert_eq!(payload["status"]["status_list"]["idx"], 4242);
        assert_eq!(
            payload["exp"],
            payload["iat"].as_i64().unwrap() + 365 * 86_400
        );
        assert_eq!(payload["demonstration"], true);
        // no personal data in the signed part itself
        let signed_text = payload.to_string();
        assert!(!signed_text.contains("Durand") && !signed_text.contains("2003-04-12"));
        let sd: Vec<&str> = payload["_sd"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        let disclosed: Vec<Value> = parts[1..]
            .iter()
            .map(|d| {
                assert!(
                    sd.contains(&digest(d).as_str()),
                    "a digest for each disclosure"
                );
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(d).unwrap()).unwrap()
            })
            .collect();
        assert_eq!(disclosed.len(), sd.len());
        let value = |name: &str| {
            disclosed
                .iter()
                .find(|d| d[1] == name)
                .map(|d| d[2].clone())
                .unwrap_or(Value::Null)
        };
        assert_eq!(value("nom_naissance"), "Durand");
        assert_eq!(value("prenoms"), json!(["Camille", "Marie"]));
        assert_eq!(value("diplome"), "BACG");
        assert_eq!(value("session"), 2021);
        assert_eq!(value("nom_usage"), "Martin");
        // salts differ: two issues of the same facts share no digest
        let again = issue(
            &attestation,
            &wallet,
            &StatusReference {
                uri: "https://sand.example/statuts/0".into(),
                index: 1,
            },
            "https://sand.example",
            &IssuerRegistry::offices_only(),
            &keys,
        );
        assert!(parts[1..].iter().all(|d| !again.contains(d)));
    }
}
