//! The attestation as a W3C Verifiable Credential (VC Data Model 2.0), secured with
//! VC-JOSE-COSE: the credential is the payload of a JWS (`typ` `vc+jwt`, `cty` `vc`,
//! `alg` `EdDSA`, `kid` a key published at `/.well-known/jwks.json` and
//! `/.well-known/sand-attestation-keys.json`), served as `application/vc+jwt`.
//!
//! **An exported credential cannot be revoked** (it carries no `credentialStatus`): once
//! in its holder's hands it is a signed statement of what SAND certified that day. It is
//! therefore short-lived (`validUntil`, [`VALID_DAYS`] days after `validFrom`) and says
//! where the attestation's current state is checked: the verification page, with the
//! control key it carries. Credentials issued to wallets (OpenID4VCI) are the revocable
//! kind, with a status list.

use sand_domain::issuer::IssuerRegistry;
use sand_domain::ports::Attestation;
use serde_json::{Value, json};

use crate::keys::SigningKeys;
use crate::payload::{iso, rfc3339};

/// How long an exported credential is valid.
pub const VALID_DAYS: i64 = 365;
/// The JWS `typ` of a credential secured as VC-JOSE-COSE prescribes.
pub const VC_JWT_TYPE: &str = "vc+jwt";
/// Its media type.
pub const VC_JWT_MEDIA_TYPE: &str = "application/vc+jwt";

/// The credential (unsigned) of `attestation`, issued by `issuer_id` (the service's
/// address) named `operator`; `verify_url` is the verification page.
#[must_use]
pub fn credential(
    attestation: &Attestation,
    issuer_id: &str,
    operator: &str,
    verify_url: &str,
    demo: bool,
    issuers: &IssuerRegistry,
) -> Value {
    let record = &attestation.record;
    let holder = &record.holder;
    let identity = &holder.identity;
    let code = record.source.exam_office.code();
    let valid_from = attestation.issued_at;
    let valid_until = valid_from + time::Duration::days(VALID_DAYS);
    let mut name = format!(
        "Attestation de réussite — {} — session {}",
        record.scope.kind.title(),
        record.scope.session.year()
    );
    if demo {
        name = format!("SPÉCIMEN sans valeur — {name}");
    }
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": format!("urn:uuid:{}", uuid::Uuid::from_bytes(crate::keys::random_16())),
        "type": ["VerifiableCredential", "DiplomaAttestationCredential"],
        "name": name,
        "description": format!(
            "Ce justificatif ne peut pas être révoqué : il atteste ce que le service certifiait le {} et vaut jusqu'au {}. L'état actuel de l'attestation se vérifie sur {verify_url} avec la clé de contrôle {}.{}",
            sand_domain::text::french_date(sand_domain::text::paris_time(valid_from).date()),
            sand_domain::text::french_date(sand_domain::text::paris_time(valid_until).date()),
            attestation.key.as_str(),
            if demo { " Document de démonstration signé avec une clé publique : il ne certifie rien." } else { "" }
        ),
        "issuer": { "id": issuer_id, "name": operator },
        "validFrom": rfc3339(valid_from),
        "validUntil": rfc3339(valid_until),
        "credentialSubject": {
            "type": "DiplomaHolder",
            "familyNameAtBirth": identity.birth_name.as_str(),
            "usualFamilyName": holder.usage_name.as_ref().map(|u| u.as_str()),
            "givenNames": identity.first_names.names().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "birthDate": iso(identity.birth_date.date()),
            "controlKey": attestation.key.as_str(),
            "achievement": {
                "type": "Diploma",
                "code": record.scope.kind.code(),
                "name": record.scope.kind.title(),
                "speciality": record.award.speciality.as_ref().map(ToString::to_string),
                "mention": record.award.mention.map(|m| m.label()),
                "session": record.scope.session.year(),
                "academie": { "code": record.scope.academie.code(), "name": record.scope.academie.name() },
                "deliberationDate": iso(record.award.deliberation_date),
                "resultHeldBy": issuers.get(code).map_or_else(|| code.to_owned(), |i| i.name.clone()),
            },
        },
    })
}

/// `credential` secured as `application/vc+jwt` with `keys`.
#[must_use]
pub fn secure(credential: &Value, keys: &SigningKeys) -> String {
    let mut extra = serde_json::Map::new();
    extra.insert("cty".into(), "vc".into());
    crate::jws::sign(VC_JWT_TYPE, &extra, credential, keys)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sand_domain::ports::CredentialExporter as _;
    use time::macros::datetime;

    use super::*;
    use crate::keys::VerificationKeys;
    use crate::render::{Issuer, PdfAttestationRenderer};

    #[test]
    fn the_credential_is_a_vc_2_0_secured_as_vc_jwt_and_says_it_cannot_be_revoked() {
        let keys = SigningKeys::generate().unwrap();
        let mut known = VerificationKeys::new();
        known.add_signing(&keys);
        let renderer = PdfAttestationRenderer::new(
            Issuer {
                operator: "Opérateur d'essai".into(),
                verification_url: "https://sand.example/verifier".into(),
            },
            Arc::new(SigningKeys::from_pem(&keys.to_pem().unwrap()).unwrap()),
        )
        .unwrap();
        let now = datetime!(2026-12-07 09:30 UTC);
        let attestation = crate::sample::sample_attestation(now).unwrap();
        let exported = renderer.export(&attestation).unwrap();
        assert_eq!(exported.media_type, "application/vc+jwt");
        assert_eq!(exported.file_name, "attestation-bacg-2021-SPEC1MEN.vc.jwt");
        let compact = String::from_utf8(exported.bytes).unwrap();
        let verified = crate::jws::verify(&compact, VC_JWT_TYPE, &known).unwrap();
        assert_eq!(verified.header["cty"], "vc");
        assert_eq!(verified.header["kid"], keys.id().to_string());
        let vc = verified.payload;
        assert_eq!(vc["@context"][0], "https://www.w3.org/ns/credentials/v2");
        assert_eq!(vc["type"][0], "VerifiableCredential");
        assert_eq!(vc["issuer"]["id"], "https://sand.example");
        assert_eq!(vc["validFrom"], "2026-12-07T09:30:00Z");
        assert_eq!(vc["validUntil"], "2027-12-07T09:30:00Z");
        assert!(vc.get("credentialStatus").is_none());
        assert!(
            vc["description"]
                .as_str()
                .unwrap()
                .contains("ne peut pas être révoqué")
        );
        assert!(vc["id"].as_str().unwrap().starts_with("urn:uuid:"));
        let subject = &vc["credentialSubject"];
        assert_eq!(subject["familyNameAtBirth"], "Durand");
        assert_eq!(subject["givenNames"], json!(["Camille", "Marie"]));
        assert_eq!(subject["birthDate"], "2003-04-12");
        assert_eq!(subject["controlKey"], "SPEC1MEN");
        assert_eq!(subject["achievement"]["code"], "BACG");
        assert_eq!(subject["achievement"]["academie"]["code"], "10");
        // the key is published as a JWK under the same id
        let jwk = known.get(keys.id()).unwrap().jwk();
        assert_eq!(jwk["kid"], keys.id().to_string());
        assert_eq!(jwk["crv"], "Ed25519");
        // a changed credential does not verify
        let parts: Vec<&str> = compact.split('.').collect();
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut changed = vc.clone();
        changed["credentialSubject"]["familyNameAtBirth"] = "Dupont".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            engine.encode(changed.to_string()),
            parts[2]
        );
        assert!(crate::jws::verify(&forged, VC_JWT_TYPE, &known).is_err());
    }
}
