//! The wallet through the pages and the OpenID4VCI endpoints: the offer (QR code, link,
//! transaction code by mail), the token, the nonce and the credential, each refusal a
//! wallet can meet, and the credential revoked when its attestation ends.

use base64::Engine as _;
use poem::http::Method;
use sand_domain::ports::{Clock as _, Mail};
use serde_json::{Value, json};

use crate::support::{Browser, Page, TestApp};

const ISSUER: &str = "http://localhost";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

/// The wallet's own key (fixed: the tests need no randomness of their own).
fn wallet_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[11u8; 32]).unwrap()
}

/// What a holder gets from "Ajouter à mon portefeuille": the offer page, the offer's
/// pre-authorized code and the transaction code mailed.
struct Offer {
    page: Page,
    code: String,
    tx_code: String,
}

async fn make_offer(app: &TestApp, b: &mut Browser<'_>, link: &str) -> Offer {
    let path = format!("/espace/diplomes/{link}/portefeuille");
    let page = b.submit(&path, &path, &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let start = page
        .body
        .find("href=\"openid-credential-offer://?")
        .expect("the offer's link")
        + "href=\"".len();
    let uri = page.body[start..].split('"').next().unwrap();
    // the page escapes the address for HTML
    let uri = uri.replace("&amp;", "&").replace("&#43;", "+");
    let query = uri.strip_prefix("openid-credential-offer://?").unwrap();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let offer: Value = serde_json::from_str(&pairs[0].1).unwrap();
    assert_eq!(offer["credential_issuer"], ISSUER);
    let code = offer["grants"][GRANT]["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let tx_code = match app
        .wait_for_mail(|m| matches!(m, Mail::WalletTxCode { .. }))
        .await
    {
        Mail::WalletTxCode { code, .. } => code.expose().to_owned(),
        _ => unreachable!(),
    };
    Offer {
        page,
        code,
        tx_code,
    }
}

async fn token(app: &TestApp, fields: &[(&str, &str)]) -> (Page, Value) {
    let page = app
        .browser()
        .post_form(sand_http::wallet::TOKEN_PATH, fields)
        .await;
    let body = serde_json::from_str(&page.body).unwrap_or(Value::Null);
    (page, body)
}

async fn redeem(app: &TestApp, code: &str, tx_code: &str) -> (Page, Value) {
    token(
        app,
        &[
            ("grant_type", GRANT),
            ("pre-authorized_code", code),
            ("tx_code", tx_code),
        ],
    )
    .await
}

async fn fresh_nonce(app: &TestApp) -> String {
    let page = app
        .browser()
        .request(Method::POST, sand_http::wallet::NONCE_PATH, None)
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("cache-control"), "no-store");
    let body: Value = serde_json::from_str(&page.body).unwrap();
    body["c_nonce"].as_str().unwrap().to_owned()
}

fn proof(app: &TestApp, aud: &str, nonce: &str) -> String {
    sand_attestation::key_proof::sign_for_tests(
        &wallet_key(),
        &json!({}),
        &json!({ "aud": aud, "iat": app.clock.now().unix_timestamp(), "nonce": nonce }),
    )
}

async fn ask_credential(app: &TestApp, access_token: &str, request: &Value) -> (Page, Value) {
    let response = app
        .client
        .post(sand_http::wallet::CREDENTIAL_PATH)
        .header("authorization", format!("Bearer {access_token}"))
        .content_type("application/json")
        .body(request.to_string())
        .send()
        .await
        .0;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().into_vec().await.unwrap();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_str(&body).unwrap_or(Value::Null);
    (
        Page {
            status,
            headers,
            body,
            bytes,
        },
        json,
    )
}

fn request_with(proof: &str) -> Value {
    json!({
        "credential_configuration_id": "attestation_diplome_sd_jwt",
        "proofs": { "jwt": [proof] },
    })
}

fn payload_of(jwt: &str) -> Value {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    serde_json::from_slice(&engine.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// The disclosed claims of an SD-JWT (`jwt~d1~d2~…~`), by name.
fn disclosed(sd_jwt: &str) -> std::collections::BTreeMap<String, Value> {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    sd_jwt
        .split('~')
        .skip(1)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let array: Value = serde_json::from_slice(&engine.decode(d).unwrap()).unwrap();
            (array[1].as_str().unwrap().to_owned(), array[2].clone())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_metadata_says_what_is_offered_where_in_french_and_english() {
    let app = TestApp::new().await;
    let page = app
        .browser()
        .get("/.well-known/openid-credential-issuer")
        .await;
    assert_eq!(page.status, 200);
    let metadata: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(metadata["credential_issuer"], ISSUER);
    assert_eq!(
        metadata["credential_endpoint"],
        "http://localhost/openid4vci/credential"
    );
    assert_eq!(
        metadata["nonce_endpoint"],
        "http://localhost/openid4vci/nonce"
    );
    let config = &metadata["credential_configurations_supported"]["attestation_diplome_sd_jwt"];
    assert_eq!(config["format"], "dc+sd-jwt");
    assert_eq!(config["vct"], "urn:fr:sand:attestation-diplome:1");
    assert_eq!(
        config["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let claims = config["credential_metadata"]["claims"].as_array().unwrap();
    let birth_name = claims
        .iter()
        .find(|c| c["path"] == json!(["nom_naissance"]))
        .unwrap();
    let locales: Vec<&str> = birth_name["display"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["locale"].as_str().unwrap())
        .collect();
    assert_eq!(locales, ["fr", "en"]);

    let page = app
        .browser()
        .get("/.well-known/oauth-authorization-server")
        .await;
    let metadata: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(metadata["issuer"], ISSUER);
    assert_eq!(
        metadata["token_endpoint"],
        "http://localhost/openid4vci/token"
    );
    assert_eq!(
        metadata["pre-authorized_grant_anonymous_access_supported"],
        true
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_holder_puts_a_diploma_in_a_wallet_and_deleting_the_attestation_revokes_it() {
    let app = TestApp::new().await;
    let (mut b, link) = app.with_diploma("camille.portefeuille@exemple.fr").await;
    let dashboard = b.get("/espace").await;
    assert!(dashboard.body.contains("Ajouter à mon portefeuille"));
    let explained = b
        .get(&format!("/espace/diplomes/{link}/portefeuille"))
        .await;
    assert_eq!(explained.status, 200);
    assert!(
        explained
            .body
            .contains("Créer l'offre pour mon portefeuille")
    );

    let offer = make_offer(&app, &mut b, &link).await;
    assert!(offer.page.body.contains("<svg role=\"img\""), "a QR code");
    assert!(offer.page.body.contains("envoyé par e-mail"));
    assert_eq!(offer.page.header("cache-control"), "no-store");
    // the secrets are not in the mail's wrong place nor in the page twice over
    assert!(!offer.page.body.contains(&offer.tx_code));

    let (page, access) = redeem(&app, &offer.code, &offer.tx_code).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("cache-control"), "no-store");
    assert_eq!(access["token_type"], "Bearer");
    assert_eq!(access["expires_in"], 300);
    let access_token = access["access_token"].as_str().unwrap().to_owned();

    let nonce = fresh_nonce(&app).await;
    let (page, answer) = ask_credential(
        &app,
        &access_token,
        &request_with(&proof(&app, ISSUER, &nonce)),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let credential = answer["credentials"][0]["credential"].as_str().unwrap();
    let keys = app.state.credential_keys.as_ref().unwrap();
    let jwt = credential.split('~').next().unwrap();
    assert!(keys.verifies(jwt));
    let payload = payload_of(jwt);
    assert_eq!(payload["iss"], ISSUER);
    assert_eq!(payload["vct"], "urn:fr:sand:attestation-diplome:1");
    // bound to the key the wallet proved
    let proven = sand_attestation::key_proof::check(
        &proof(&app, ISSUER, "n"),
        ISSUER,
        app.clock.now().unix_timestamp(),
    )
    .unwrap();
    assert_eq!(payload["cnf"]["jwk"], proven.jwk);
    let claims = disclosed(credential);
    assert!(
        claims["nom_naissance"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("durand")
    );
    assert_eq!(claims["date_naissance"], "2003-04-12");
    assert_eq!(claims["diplome"], "BACG");

    // one credential per offer: the token is used up, the code too
    let (page, answer) = ask_credential(
        &app,
        &access_token,
        &request_with(&proof(&app, ISSUER, &fresh_nonce(&app).await)),
    )
    .await;
    assert_eq!(page.status, 401);
    assert_eq!(answer["error"], "invalid_token");
    assert!(page.header("www-authenticate").starts_with("Bearer"));
    let (page, answer) = redeem(&app, &offer.code, &offer.tx_code).await;
    assert_eq!(page.status, 400);
    assert_eq!(answer["error"], "invalid_grant");

    // its status entry: valid, then revoked when the attestation is deleted
    let uri = payload["status"]["status_list"]["uri"].as_str().unwrap();
    let index = payload["status"]["status_list"]["idx"].as_u64().unwrap() as usize;
    let path = uri.trim_start_matches(ISSUER).to_owned();
    let bit = |bits: &[u8]| (bits[index / 8] >> (index % 8)) & 1;
    let list = app.browser().get(&path).await;
    assert_eq!(bit(&crate::receipts::status_bits(&list.body)), 0);
    let deleted = b.delete_attestation(&link).await;
    assert_eq!(deleted.status, 303);
    let list = app.browser().get(&path).await;
    assert_eq!(bit(&crate::receipts::status_bits(&list.body)), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_expire_wrong_transaction_codes_are_counted_and_the_fifth_ends_the_offer() {
    let app = TestApp::new().await;
    let (mut b, link) = app.with_diploma("camille.codes@exemple.fr").await;

    // expired: ten minutes after the offer
    let offer = make_offer(&app, &mut b, &link).await;
    app.clock.advance(time::Duration::minutes(10));
    let (page, answer) = redeem(&app, &offer.code, &offer.tx_code).await;
    assert_eq!(page.status, 400);
    assert_eq!(answer["error"], "invalid_grant");

    // wrong codes: counted, the fifth ends the offer, the right one comes too late
    let offer = make_offer(&app, &mut b, &link).await;
    let wrong = if offer.tx_code == "000000" {
        "000001"
    } else {
        "000000"
    };
    for left in (1..5).rev() {
        let (page, answer) = redeem(&app, &offer.code, wrong).await;
        assert_eq!(page.status, 400);
        assert_eq!(answer["error"], "invalid_grant");
        assert!(
            answer["error_description"]
                .as_str()
                .unwrap()
                .contains(&format!("{left} tries left")),
            "{answer}"
        );
    }
    // a malformed code counts as a wrong one
    let (_, answer) = redeem(&app, &offer.code, "12345a").await;
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap()
            .contains("the offer has ended"),
        "{answer}"
    );
    let (_, answer) = redeem(&app, &offer.code, &offer.tx_code).await;
    assert_eq!(answer["error"], "invalid_grant");

    // a new offer ends the one before it
    let first = make_offer(&app, &mut b, &link).await;
    let second = make_offer(&app, &mut b, &link).await;
    let (_, answer) = redeem(&app, &first.code, &first.tx_code).await;
    assert_eq!(answer["error"], "invalid_grant");
    let (page, _) = redeem(&app, &second.code, &second.tx_code).await;
    assert_eq!(page.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_endpoint_refuses_malformed_and_hostile_requests_with_oauth_codes() {
    let app = TestApp::new().await;
    let code = "a".repeat(64);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "invalid_request"),
        (
            vec![("grant_type", "authorization_code"), ("code", "x")],
            "unsupported_grant_type",
        ),
        (vec![("grant_type", GRANT)], "invalid_request"),
        (
            vec![("grant_type", GRANT), ("pre-authorized_code", &code)],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", GRANT),
                ("grant_type", GRANT),
                ("pre-authorized_code", &code),
                ("tx_code", "123456"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", GRANT),
                ("pre-authorized_code", &code),
                ("tx_code", "123456"),
            ],
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", GRANT),
                ("pre-authorized_code", "'; DROP TABLE credential_offer; --"),
                ("tx_code", "123456"),
            ],
            "invalid_grant",
        ),
    ];
    for (fields, expected) in cases {
        let (page, answer) = token(&app, &fields).await;
        assert_eq!(page.status, 400, "{fields:?}: {}", page.body);
        assert_eq!(answer["error"], expected, "{fields:?}");
        assert_eq!(page.header("cache-control"), "no-store");
    }
    // JSON is not a form
    let page = app
        .browser()
        .post_json(sand_http::wallet::TOKEN_PATH, &json!({"grant_type": GRANT}))
        .await;
    assert_eq!(page.status, 400);
    // an oversized body is refused before it is read
    let page = app
        .browser()
        .post_form(
            sand_http::wallet::TOKEN_PATH,
            &[("grant_type", &"x".repeat(100_000))],
        )
        .await;
    assert_eq!(page.status, 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_credential_endpoint_refuses_wrong_proofs_without_using_up_the_token() {
    let app = TestApp::new().await;
    let (mut b, link) = app.with_diploma("camille.preuves@exemple.fr").await;
    // a nonce lives five minutes
    let expired_nonce = fresh_nonce(&app).await;
    app.clock.advance(time::Duration::minutes(6));
    let offer = make_offer(&app, &mut b, &link).await;
    let (_, access) = redeem(&app, &offer.code, &offer.tx_code).await;
    let access_token = access["access_token"].as_str().unwrap().to_owned();
    let nonce_now = fresh_nonce(&app).await;
    let cases: Vec<(Value, &str)> = vec![
        (
            request_with(&proof(&app, "https://autre.example", &nonce_now)),
            "invalid_proof",
        ),
        (
            request_with(&proof(&app, ISSUER, "not-a-nonce-of-this-issuer")),
            "invalid_nonce",
        ),
        (
            request_with(&proof(&app, ISSUER, &expired_nonce)),
            "invalid_nonce",
        ),
        (
            request_with(&sand_attestation::key_proof::sign_for_tests(
                &wallet_key(),
                &json!({}),
                &json!({ "aud": ISSUER, "iat": app.clock.now().unix_timestamp() - 3600, "nonce": nonce_now }),
            )),
            "invalid_proof",
        ),
        (
            json!({
                "credential_configuration_id": "permis_de_conduire",
                "proofs": { "jwt": [proof(&app, ISSUER, &nonce_now)] },
            }),
            "unknown_credential_configuration",
        ),
        (
            json!({ "credential_configuration_id": "attestation_diplome_sd_jwt" }),
            "invalid_credential_request",
        ),
        (
            json!({
                "credential_configuration_id": "attestation_diplome_sd_jwt",
                "proofs": { "jwt": [proof(&app, ISSUER, &nonce_now), proof(&app, ISSUER, &nonce_now)] },
            }),
            "invalid_credential_request",
        ),
        (json!(["not", "an", "object"]), "invalid_credential_request"),
    ];
    for (request, expected) in cases {
        let (page, answer) = ask_credential(&app, &access_token, &request).await;
        assert_eq!(page.status, 400, "{request}: {}", page.body);
        assert_eq!(answer["error"], expected, "{request}");
    }
    // no token at all
    let page = app
        .browser()
        .post_json(
            sand_http::wallet::CREDENTIAL_PATH,
            &request_with(&proof(&app, ISSUER, &nonce_now)),
        )
        .await;
    assert_eq!(page.status, 401);
    // none of those used up the token: the right request still gets the credential
    let (page, answer) = ask_credential(
        &app,
        &access_token,
        &request_with(&proof(&app, ISSUER, &nonce_now)),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(answer["credentials"][0]["credential"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_that_ends_between_the_token_and_the_credential_is_refused_and_others_cannot_offer()
{
    let app = TestApp::new().await;
    let (mut b, link) = app.with_diploma("camille.fin@exemple.fr").await;
    let offer = make_offer(&app, &mut b, &link).await;
    let (_, access) = redeem(&app, &offer.code, &offer.tx_code).await;
    let access_token = access["access_token"].as_str().unwrap().to_owned();
    // the exam office withdraws the record meanwhile
    app.withdraw("C0001").await;
    let (page, answer) = ask_credential(
        &app,
        &access_token,
        &request_with(&proof(&app, ISSUER, &fresh_nonce(&app).await)),
    )
    .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert_eq!(answer["error"], "credential_request_denied");
    // a withdrawn diploma gets no new offer
    let path = format!("/espace/diplomes/{link}/portefeuille");
    let page = b.submit("/espace", &path, &[]).await;
    assert_eq!(page.status, 410, "{}", page.body);

    // someone else's diploma: not found; a stranger: sent to log in
    let mut other = app
        .signed_in(
            "Martin",
            "Dominique",
            "01/01/2000",
            "dominique.autre@exemple.fr",
        )
        .await;
    let page = other.submit("/espace", &path, &[]).await;
    assert_eq!(page.status, 404);
    let page = app.browser().get(&path).await;
    assert!(page.sent_to_login());
    // without the CSRF token, no offer
    let page = other.post_form(&path, &[]).await;
    assert_eq!(page.status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_makes_an_offer_for_the_owner_only() {
    let app = TestApp::new().await;
    let (mut b, link) = app
        .with_diploma("camille.api-portefeuille@exemple.fr")
        .await;
    let path = format!("/api/v1/moi/diplomes/{link}/portefeuille");
    let page = b.post_json(&path, &json!({})).await;
    assert_eq!(page.status, 201, "{}", page.body);
    assert_eq!(page.header("cache-control"), "no-store");
    let answer: Value = serde_json::from_str(&page.body).unwrap();
    let uri = answer["offre"].as_str().unwrap();
    assert!(uri.starts_with("openid-credential-offer://?credential_offer="));
    let expires = time::OffsetDateTime::parse(
        answer["expire_le"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(expires - app.clock.now(), time::Duration::minutes(10));
    assert!(matches!(
        app.wait_for_mail(|m| matches!(m, Mail::WalletTxCode { .. }))
            .await,
        Mail::WalletTxCode { .. }
    ));
    // another graduate, a stranger, a malformed id
    let mut other = app
        .signed_in(
            "Martin",
            "Dominique",
            "01/01/2000",
            "dominique.api@exemple.fr",
        )
        .await;
    assert_eq!(other.post_json(&path, &json!({})).await.status, 404);
    assert_eq!(app.browser().post_json(&path, &json!({})).await.status, 401);
    let page = b
        .post_json(
            "/api/v1/moi/diplomes/pas-un-numero/portefeuille",
            &json!({}),
        )
        .await;
    assert_eq!(page.status, 404);
    // the result withdrawn: gone
    app.withdraw("C0001").await;
    let page = b.post_json(&path, &json!({})).await;
    assert_eq!(page.status, 410, "{}", page.body);
    let answer: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(answer["code"], "retire");
}
