//! The verifier's signed receipt: offered after a valid verification (page and API),
//! downloaded as PDF or JSON, checked offline; a receipt the service did not sign, or
//! one changed, is refused.

use base64::Engine as _;
use sand_attestation::receipt::{ReceiptVerdict, verify_receipt};

use crate::support::{Browser, Page, TestApp};

/// A holder with the Lyon baccalauréat attached; their control key.
async fn key_of_holder(app: &TestApp) -> String {
    let (mut b, _) = app.with_diploma("camille.recu@exemple.fr").await;
    b.get("/espace")
        .await
        .text_after("class=\"key\">")
        .replace(' ', "")
}

/// The hidden receipt of a verification page.
fn receipt_of(page: &Page) -> String {
    page.text_after("name=\"recu\" value=\"")
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

async fn download(b: &mut Browser<'_>, csrf: &str, signed: &str, format: &str) -> Page {
    b.post_form(
        "/verifier/recu",
        &[("csrf", csrf), ("recu", signed), ("format", format)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_verification_gives_a_signed_receipt_as_pdf_and_json() {
    let app = TestApp::new().await;
    let key = key_of_holder(&app).await;
    let mut verifier = app.browser();
    let page = verifier
        .submit(
            "/verifier",
            "/verifier",
            &[
                ("cle", &key.to_lowercase()),
                ("nom", " durand "),
                ("organisme", "ACME  RH"),
            ],
        )
        .await;
    assert!(page.body.contains("Attestation valide"), "{}", page.body);
    assert!(
        page.body.contains("Télécharger le reçu (PDF)"),
        "{}",
        page.body
    );
    let signed = receipt_of(&page);
    let csrf = page.csrf();

    let pdf = download(&mut verifier, &csrf, &signed, "pdf").await;
    assert_eq!(pdf.status, 200, "{}", pdf.body);
    assert_eq!(pdf.header("content-type"), "application/pdf");
    assert!(
        pdf.header("content-disposition")
            .contains(&format!("recu-verification-{key}.pdf"))
    );
    let ReceiptVerdict::Intact { claims, demo, .. } =
        verify_receipt(&pdf.bytes, &app.state.verification_keys)
    else {
        panic!("the PDF receipt verifies offline")
    };
    assert!(demo, "the test service signs with the demonstration key");
    assert_eq!(claims["saisie"]["cle"], key.as_str());
    assert_eq!(claims["saisie"]["nom"], "durand");
    assert_eq!(claims["organisme"], "ACME RH");
    assert_eq!(claims["reponse"], "attestation_valide");
    assert_eq!(claims["verifie_le"], "2026-11-24T10:00:00Z");
    assert_eq!(claims["diplome"]["titulaire"]["nom_naissance"], "Durand");

    let json = download(&mut verifier, &csrf, &signed, "json").await;
    assert_eq!(json.status, 200);
    assert_eq!(json.header("content-type"), "application/json");
    let document: serde_json::Value = serde_json::from_slice(&json.bytes).unwrap();
    assert!(document["protected"].is_string() && document["signature"].is_string());
    assert!(matches!(
        verify_receipt(&json.bytes, &app.state.verification_keys),
        ReceiptVerdict::Intact { .. }
    ));

    // the API gives the same receipt with its answer
    let mut machine = app.browser();
    let answer = machine
        .post_json(
            "/api/v1/verifications",
            &serde_json::json!({ "cle": key, "nom": "Durand", "organisme": "ACME RH" }),
        )
        .await;
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    let compact = body["recu"]
        .as_str()
        .expect("a receipt in the API's answer");
    assert!(matches!(
        verify_receipt(compact.as_bytes(), &app.state.verification_keys),
        ReceiptVerdict::Intact { .. }
    ));
    // a wrong name gets no receipt
    let wrong = machine
        .post_json(
            "/api/v1/verifications",
            &serde_json::json!({ "cle": key, "nom": "Dupont" }),
        )
        .await;
    assert!(!wrong.body.contains("recu"), "{}", wrong.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_or_foreign_receipt_is_not_made_into_a_file() {
    let app = TestApp::new().await;
    let key = key_of_holder(&app).await;
    let mut verifier = app.browser();
    let page = verifier
        .submit(
            "/verifier",
            "/verifier",
            &[("cle", &key), ("nom", "Durand")],
        )
        .await;
    let signed = receipt_of(&page);
    let csrf = page.csrf();
    // another organisation slipped into the signed claims
    let parts: Vec<&str> = signed.split('.').collect();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: serde_json::Value =
        serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
    claims["organisme"] = "Faussaire SA".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        engine.encode(claims.to_string()),
        parts[2]
    );
    let too_long = "A".repeat(40_000);
    for (bad, format) in [
        (forged.as_str(), "pdf"),
        ("pas.un.reçu", "json"),
        ("", "pdf"),
        (too_long.as_str(), "pdf"),
        (signed.as_str(), "docx"),
    ] {
        let refused = download(&mut verifier, &csrf, bad, format).await;
        assert!(
            refused.status == 400 || refused.status == 413,
            "{format}: {} {}",
            refused.status,
            refused.body
        );
        assert!(!refused.header("content-type").contains("pdf"));
    }
    // without the page's CSRF token, nothing
    let no_csrf = verifier
        .post_form(
            "/verifier/recu",
            &[("recu", signed.as_str()), ("format", "pdf")],
        )
        .await;
    assert_eq!(no_csrf.status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_holder_exports_a_w3c_credential_that_verifies_with_the_published_jwks() {
    let app = TestApp::new().await;
    let (mut b, link) = app.with_diploma("camille.vc@exemple.fr").await;
    let dashboard = b.get("/espace").await;
    assert!(
        dashboard.body.contains("Exporter (justificatif W3C)"),
        "{}",
        dashboard.body
    );
    let exported = b
        .get(&format!("/espace/diplomes/{link}/attestation.vc.jwt"))
        .await;
    assert_eq!(exported.status, 200, "{}", exported.body);
    assert_eq!(exported.header("content-type"), "application/vc+jwt");
    assert!(exported.header("content-disposition").contains(".vc.jwt"));
    let verified = sand_attestation::jws::verify(
        &exported.body,
        sand_attestation::credential::VC_JWT_TYPE,
        &app.state.verification_keys,
    )
    .expect("the credential verifies with the service's keys");
    assert_eq!(verified.payload["issuer"]["id"], "http://localhost");
    assert_eq!(
        verified.payload["credentialSubject"]["familyNameAtBirth"],
        "Durand"
    );
    assert_eq!(verified.payload["validFrom"], "2026-11-24T10:00:00Z");
    // its kid is in the published key set
    let jwks = app.browser().get("/.well-known/jwks.json").await;
    assert_eq!(jwks.header("content-type"), "application/jwk-set+json");
    let set: serde_json::Value = serde_json::from_str(&jwks.body).unwrap();
    let kid = verified.header["kid"].as_str().unwrap();
    assert!(
        set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid && k["crv"] == "Ed25519"),
        "{set}"
    );
    // nobody else exports it; a withdrawn result is not exported
    let mut other = app
        .signed_in("N'Diaye", "Aminata", "30/11/2002", "aminata.vc@exemple.fr")
        .await;
    assert_eq!(
        other
            .get(&format!("/espace/diplomes/{link}/attestation.vc.jwt"))
            .await
            .status,
        404
    );
    assert!(
        app.browser()
            .get(&format!("/espace/diplomes/{link}/attestation.vc.jwt"))
            .await
            .sent_to_login()
    );
    app.withdraw("C0001").await;
    assert_eq!(
        b.get(&format!("/espace/diplomes/{link}/attestation.vc.jwt"))
            .await
            .status,
        410
    );
}

/// The bits of a status list token's `lst`.
pub fn status_bits(token: &str) -> Vec<u8> {
    use std::io::Read as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload: serde_json::Value =
        serde_json::from_slice(&engine.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let compressed = engine
        .decode(payload["status_list"]["lst"].as_str().unwrap())
        .unwrap();
    let mut bits = Vec::new();
    flate2::read::ZlibDecoder::new(&compressed[..])
        .read_to_end(&mut bits)
        .unwrap();
    bits
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_list_says_revoked_once_the_attestation_is_deleted_not_when_its_key_changes() {
    use sand_domain::ports::Clock as _;
    let app = TestApp::new().await;
    let (mut b, link) = app.with_diploma("camille.statut@exemple.fr").await;
    let link_id = sand_domain::link::LinkId(uuid::Uuid::parse_str(&link).unwrap());
    let status = &app.state.ports.credential_status;
    let entry = status.allocate(link_id, app.clock.now()).await.unwrap();
    let bit = |bits: &[u8]| (bits[(entry.index / 8) as usize] >> (entry.index % 8)) & 1;

    // the issuer's keys, and the list signed with them
    let issuer = app.browser().get("/.well-known/jwt-vc-issuer").await;
    let metadata: serde_json::Value = serde_json::from_str(&issuer.body).unwrap();
    assert_eq!(metadata["issuer"], "http://localhost");
    let keys = app.state.credential_keys.as_ref().unwrap();
    assert_eq!(metadata["jwks"]["keys"][0]["kid"], keys.kid());
    let path = format!("/statuts/{}", entry.list.0);
    let list = app.browser().get(&path).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.header("content-type"), "application/statuslist+jwt");
    assert!(keys.verifies(&list.body));
    assert_eq!(bit(&status_bits(&list.body)), 0);

    // a new key: still valid
    let renewed = b
        .submit(
            &format!("/espace/diplomes/{link}/cle"),
            &format!("/espace/diplomes/{link}/cle"),
            &[],
        )
        .await;
    assert_eq!(renewed.status, 303);
    assert_eq!(bit(&status_bits(&app.browser().get(&path).await.body)), 0);
    // the attestation deleted: revoked
    let deleted = b.delete_attestation(&link).await;
    assert_eq!(deleted.status, 303);
    assert_eq!(bit(&status_bits(&app.browser().get(&path).await.body)), 1);
    // a list's address is a number
    for bad in ["/statuts/abc", "/statuts/-1", "/statuts/1234567890"] {
        assert_eq!(app.browser().get(bad).await.status, 404, "{bad}");
    }
}
