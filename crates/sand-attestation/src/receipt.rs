//! Verification receipts: what a verifier checked, when, for which organisation (as
//! typed) and the answer, signed with the attestation key as a JWS (see [`crate::jws`]).
//!
//! The JSON document is the JWS in its flattened JSON serialization; the PDF states the
//! receipt in French and English and carries the compact JWS in its information
//! dictionary (`/SandReceipt`), the file itself signed as attestations are. Both are
//! checked offline by [`verify_receipt`] (and `sand attestation verify`), and by any JOSE
//! library with the published key.

use sand_domain::issuer::IssuerRegistry;
use sand_domain::verification::receipt::VerificationReceipt;
use serde_json::{Value, json};

use crate::jws::{self, JwsError};
use crate::keys::{KeyId, SigningKeys, VerificationKeys};
use crate::payload::{iso, rfc3339};

/// The JWS `typ` of a receipt.
pub const RECEIPT_TYPE: &str = "sand-verification-receipt+jwt";
/// Where a receipt's PDF carries the compact JWS.
pub(crate) const PDF_ENTRY: &[u8] = b"/SandReceipt";

/// The receipt's claims (JSON, French member names like the API's), for `service` (the
/// public address of the verification page).
#[must_use]
pub fn claims(
    receipt: &VerificationReceipt,
    service: &str,
    demo: bool,
    issuers: &IssuerRegistry,
) -> Value {
    let d = &receipt.diploma;
    let code = d.exam_office.code();
    json!({
        "iss": service,
        "iat": receipt.checked_at.unix_timestamp(),
        "type": "recu_de_verification",
        "demonstration": demo,
        "verifie_le": rfc3339(receipt.checked_at),
        "organisme": receipt.organisation.as_ref().map(|o| o.as_str()),
        "saisie": {
            "cle": receipt.key.as_str(),
            "nom": receipt.typed_name,
            "date_naissance": receipt.typed_birth_date.map(|b| iso(b.date())),
        },
        "reponse": "attestation_valide",
        "diplome": {
            "titulaire": {
                "nom_naissance": d.birth_name.as_str(),
                "nom_usage": d.usage_name.as_ref().map(|u| u.as_str()),
                "prenoms": d.first_names.to_string(),
                "date_naissance": iso(d.birth_date.date()),
            },
            "diplome": d.scope.kind.code(),
            "intitule": d.scope.kind.title(),
            "specialite": d.award.speciality.as_ref().map(ToString::to_string),
            "mention": d.award.mention.map(|m| m.label()),
            "session": d.scope.session.year(),
            "academie": d.scope.academie.code(),
            "academie_nom": d.scope.academie.name(),
            "date_deliberation": iso(d.award.deliberation_date),
            "resultat_tenu_par": issuers.get(code).map_or_else(|| code.to_owned(), |i| i.name.clone()),
            "cle_emise_le": rfc3339(d.key_issued_at),
        },
    })
}

/// Signs `claims`: the compact JWS.
#[must_use]
pub fn sign_receipt(claims: &Value, keys: &SigningKeys) -> String {
    jws::sign(RECEIPT_TYPE, &serde_json::Map::new(), claims, keys)
}

/// What a check of a receipt found.
#[derive(Debug, Clone, PartialEq)]
pub enum ReceiptVerdict {
    /// Signed by a known key and unchanged (for a PDF: the file too). With `demo`, the
    /// key is the public demonstration key: the receipt is worthless.
    Intact {
        claims: Value,
        key: KeyId,
        demo: bool,
    },
    /// A PDF whose receipt is signed but whose file was changed after it was issued.
    Altered {
        claims: Value,
    },
    UnknownKey(String),
    /// The signature does not match: forged or tampered with.
    Forged,
    NotAReceipt(String),
}

/// Checks a receipt offline: the JSON document, the compact JWS, or the PDF.
#[must_use]
pub fn verify_receipt(bytes: &[u8], keys: &VerificationKeys) -> ReceiptVerdict {
    let verdict = |compact: &str| match jws::verify(compact, RECEIPT_TYPE, keys) {
        Ok(found) => Ok((found.payload, found.key)),
        Err(JwsError::UnknownKey(id)) => Err(ReceiptVerdict::UnknownKey(id)),
        Err(JwsError::BadSignature) => Err(ReceiptVerdict::Forged),
        Err(e) => Err(ReceiptVerdict::NotAReceipt(e.to_string())),
    };
    if bytes.starts_with(b"%PDF-") {
        if bytes.len() > crate::verify::MAX_PDF_BYTES {
            return ReceiptVerdict::NotAReceipt("fichier trop grand pour être un reçu".into());
        }
        let Some(compact) = crate::verify::info_string(bytes, PDF_ENTRY) else {
            return ReceiptVerdict::NotAReceipt("aucun reçu SAND signé dans ce PDF".into());
        };
        return match verdict(compact) {
            Ok((claims, key)) if crate::verify::document_intact(bytes, key) => {
                ReceiptVerdict::Intact {
                    claims,
                    key: key.id,
                    demo: key.demo,
                }
            }
            Ok((claims, _)) => ReceiptVerdict::Altered { claims },
            Err(other) => other,
        };
    }
    if bytes.len() > jws::MAX_JWS_BYTES * 2 {
        return ReceiptVerdict::NotAReceipt("fichier trop grand pour être un reçu".into());
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return ReceiptVerdict::NotAReceipt("ni un PDF ni un texte".into());
    };
    let text = text.trim();
    let compact = if text.starts_with('{') {
        match serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|doc| jws::compact_of(&doc).ok())
        {
            Some(compact) => compact,
            None => {
                return ReceiptVerdict::NotAReceipt(
                    "un document JSON, mais pas un JWS signé (protected, payload, signature)"
                        .into(),
                );
            }
        }
    } else {
        text.to_owned()
    };
    match verdict(&compact) {
        Ok((claims, key)) => ReceiptVerdict::Intact {
            claims,
            key: key.id,
            demo: key.demo,
        },
        Err(other) => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sand_domain::link::{Link, LinkId, LinkState};
    use sand_domain::ports::ReceiptSigner as _;
    use sand_domain::profile::ProfileId;
    use sand_domain::verification::receipt::ReceiptFormat;
    use sand_domain::verification::{Organisation, VerifiedDiploma};
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use crate::render::{Issuer, PdfAttestationRenderer};

    const NOW: time::OffsetDateTime = datetime!(2026-12-07 09:30 UTC);

    fn receipt() -> VerificationReceipt {
        let attestation = crate::sample::sample_attestation(NOW).unwrap();
        let link = Link {
            id: LinkId(Uuid::from_u128(3)),
            profile: ProfileId(Uuid::from_u128(4)),
            record: attestation.record.id,
            key: attestation.key,
            created_at: NOW,
            key_issued_at: NOW,
            state: LinkState::Active,
        };
        VerificationReceipt {
            checked_at: NOW,
            key: attestation.key,
            typed_name: "MARTIN".into(),
            typed_birth_date: None,
            organisation: Organisation::parse("Entreprise X — recrutement").unwrap(),
            diploma: VerifiedDiploma::of(&link, &attestation.record),
        }
    }

    fn renderer_with(keys: SigningKeys) -> PdfAttestationRenderer {
        PdfAttestationRenderer::new(
            Issuer {
                operator: "Opérateur de test".into(),
                verification_url: "https://sand.example/verifier".into(),
            },
            Arc::new(keys),
        )
        .unwrap()
    }

    fn known(keys: &SigningKeys) -> VerificationKeys {
        let mut known = VerificationKeys::new();
        known.add_signing(keys);
        known
    }

    #[test]
    fn a_receipt_states_what_was_checked_and_verifies_as_json_and_as_pdf() {
        let keys = SigningKeys::generate().unwrap();
        let known = known(&keys);
        let renderer = renderer_with(SigningKeys::from_pem(&keys.to_pem().unwrap()).unwrap());
        let signed = renderer.sign(&receipt()).unwrap();

        let json = renderer
            .file(&signed, ReceiptFormat::Json)
            .unwrap()
            .unwrap();
        assert_eq!(json.media_type, "application/json");
        assert_eq!(json.file_name, "recu-verification-SPEC1MEN.json");
        let ReceiptVerdict::Intact { claims, key, demo } = verify_receipt(&json.bytes, &known)
        else {
            panic!("the JSON receipt verifies")
        };
        assert_eq!((key, demo), (keys.id(), false));
        assert_eq!(claims["verifie_le"], "2026-12-07T09:30:00Z");
        assert_eq!(claims["organisme"], "Entreprise X — recrutement");
        assert_eq!(claims["saisie"]["cle"], "SPEC1MEN");
        assert_eq!(claims["saisie"]["nom"], "MARTIN");
        assert_eq!(claims["reponse"], "attestation_valide");
        assert_eq!(claims["diplome"]["titulaire"]["nom_naissance"], "Durand");
        assert_eq!(claims["diplome"]["diplome"], "BACG");
        assert_eq!(claims["diplome"]["session"], 2021);
        // the compact form verifies too
        assert!(matches!(
            verify_receipt(signed.as_bytes(), &known),
            ReceiptVerdict::Intact { .. }
        ));

        let pdf = renderer.file(&signed, ReceiptFormat::Pdf).unwrap().unwrap();
        assert_eq!(pdf.media_type, "application/pdf");
        assert!(matches!(
            verify_receipt(&pdf.bytes, &known),
            ReceiptVerdict::Intact { .. }
        ));
        // a byte changed in the file: altered; an unknown key: said so
        let mut edited = pdf.bytes.clone();
        let at = edited.len() / 2;
        edited[at] ^= 0x01;
        assert!(matches!(
            verify_receipt(&edited, &known),
            ReceiptVerdict::Altered { .. }
                | ReceiptVerdict::NotAReceipt(_)
                | ReceiptVerdict::Forged
        ));
        assert!(matches!(
            verify_receipt(&pdf.bytes, &VerificationKeys::new()),
            ReceiptVerdict::UnknownKey(_)
        ));
    }

    #[test]
    fn a_tampered_receipt_is_refused_and_the_service_renders_only_its_own() {
        let keys = SigningKeys::generate().unwrap();
        let known = known(&keys);
        let renderer = renderer_with(SigningKeys::from_pem(&keys.to_pem().unwrap()).unwrap());
        let signed = renderer.sign(&receipt()).unwrap();
        let json = renderer
            .file(&signed, ReceiptFormat::Json)
            .unwrap()
            .unwrap();
        // the organisation changed in the signed claims
        let mut document: Value = serde_json::from_slice(&json.bytes).unwrap();
        let payload = document["payload"].as_str().unwrap().to_owned();
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: Value = serde_json::from_slice(&engine.decode(&payload).unwrap()).unwrap();
        claims["organisme"] = "Autre organisme".into();
        document["payload"] = engine.encode(claims.to_string()).into();
        assert_eq!(
            verify_receipt(document.to_string().as_bytes(), &known),
            ReceiptVerdict::Forged
        );
        // not a receipt at all
        for junk in [&b"{}"[..], b"hello", b"%PDF-1.7\n", &[0xff, 0xfe]] {
            assert!(matches!(
                verify_receipt(junk, &known),
                ReceiptVerdict::NotAReceipt(_)
            ));
        }
        // another service's receipt is not rendered by this one
        let other = renderer_with(SigningKeys::generate().unwrap());
        let foreign = other.sign(&receipt()).unwrap();
        assert!(
            renderer
                .file(&foreign, ReceiptFormat::Pdf)
                .unwrap()
                .is_none()
        );
        assert!(
            renderer
                .file("not.a.jws", ReceiptFormat::Json)
                .unwrap()
                .is_none()
        );
    }
}
