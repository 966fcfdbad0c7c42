//! What the suite never looked at: a result withdrawn by its exam office seen through
//! every door, the rate limits left at 1 000 elsewhere, the time rules just under and just
//! over each limit, and the API's gaps.

use poem::http::Method;
use sand_domain::ports::Mail;

use crate::support::*;
use crate::{key_of, link_of};

#[tokio::test(flavor = "multi_thread")]
async fn a_result_withdrawn_by_its_exam_office_is_withdrawn_everywhere() {
    a_result_withdrawn_by_its_exam_office_is_withdrawn_everywhere_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_result_withdrawn_by_its_exam_office_is_withdrawn_everywhere_on_postgresql_as_the_web_role()
 {
    a_result_withdrawn_by_its_exam_office_is_withdrawn_everywhere_on(
        TestApp::on_postgres_as_web_role().await,
    )
    .await;
}

async fn a_result_withdrawn_by_its_exam_office_is_withdrawn_everywhere_on(app: TestApp) {
    let mut camille = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    assert_eq!(camille.attach("BACG", "2021", "10").await.status, 303);
    let dashboard = camille.get("/espace").await;
    let (key, link) = (key_of(&dashboard), link_of(&dashboard));
    assert!(
        Browser::verify(&app, &key, "Durand")
            .await
            .body
            .contains("Attestation valide")
    );
    app.mails().await;

    app.withdraw("C0001").await;

    // the holder is told by mail
    let mails = app.mails().await;
    assert!(
        mails.iter().any(
            |m| matches!(m, Mail::RecordWithdrawn { to, .. } if to.as_str() == "camille@exemple.fr")
        ),
        "{mails:?}"
    );
    // the key stops verifying, page and API
    let page = Browser::verify(&app, &key, "Durand").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Aucune attestation valide"),
        "{}",
        page.body
    );
    let api = camille
        .post_json(
            "/api/v1/verifications",
            &serde_json::json!({"cle": key, "nom": "Durand"}),
        )
        .await;
    assert!(api.body.contains("\"valide\":false"), "{}", api.body);
    // the dashboard shows it withdrawn, without its key, and says why
    let dashboard = camille.get("/espace").await;
    assert!(dashboard.body.contains("Retirée"), "{}", dashboard.body);
    assert!(dashboard.body.contains("a retiré ce résultat"));
    assert!(!dashboard.body.contains("class=\"key\""));
    // the API lists it as withdrawn, without a key
    let mine = camille.get("/api/v1/moi/diplomes").await;
    let json: serde_json::Value = serde_json::from_str(&mine.body).unwrap();
    assert_eq!(json[0]["retire"], serde_json::json!(true), "{}", mine.body);
    assert!(json[0].get("cle").is_none(), "{}", mine.body);
    // no document any more: 410 on the API and the page
    let pdf = camille
        .get(&format!("/api/v1/moi/diplomes/{link}/attestation"))
        .await;
    assert_eq!(pdf.status, 410, "{}", pdf.body);
    assert!(pdf.body.contains("\"code\":\"retire\""));
    let page = camille
        .get(&format!("/espace/diplomes/{link}/attestation.pdf"))
        .await;
    assert_eq!(page.status, 410);
    // and its key cannot be renewed back to life, by the page or the API
    let renewed = camille
        .submit("/espace", &format!("/espace/diplomes/{link}/cle"), &[])
        .await;
    assert_eq!(renewed.status, 404);
    let renewed = camille
        .post_json(
            &format!("/api/v1/moi/diplomes/{link}/cle"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(renewed.status, 404, "{}", renewed.body);
    assert!(
        !Browser::verify(&app, &key, "Durand")
            .await
            .body
            .contains("Attestation valide")
    );
    // the holder may still remove it from the space
    let removed = camille
        .submit(
            &format!("/espace/diplomes/{link}/supprimer"),
            &format!("/espace/diplomes/{link}/supprimer"),
            &[],
        )
        .await;
    assert_eq!(removed.status, 303);
    assert!(!camille.get("/espace").await.body.contains("Retirée"));
}

#[tokio::test(flavor = "multi_thread")]
async fn account_creations_are_limited_per_client() {
    let app = TestApp::with(|s| s.limits.accounts_per_client_per_hour = 2).await;
    let mut b = app.browser();
    for i in 0..2 {
        let page = b
            .register(
                "Durand",
                "Camille Marie",
                "12/04/2003",
                &format!("c{i}@exemple.fr"),
                PASSWORD,
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
    }
    let refused = b
        .register(
            "Durand",
            "Camille Marie",
            "12/04/2003",
            "c3@exemple.fr",
            PASSWORD,
        )
        .await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), "60");
    assert_eq!(app.mails().await.len(), 2, "no third account");
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_and_confirmation_mail_requests_are_limited_per_client() {
    let app = TestApp::with(|s| s.limits.mail_requests_per_client_per_hour = 2).await;
    let mut b = app.browser();
    assert_eq!(
        b.submit(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", "a@exemple.fr")]
        )
        .await
        .status,
        200
    );
    assert_eq!(
        b.submit(
            "/connexion",
            "/compte/renvoyer",
            &[("email", "a@exemple.fr")]
        )
        .await
        .status,
        200
    );
    // the two kinds share the client's budget
    let refused = b
        .submit(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", "b@exemple.fr")],
        )
        .await;
    assert_eq!(refused.status, 429);
    let refused = b
        .submit(
            "/connexion",
            "/compte/renvoyer",
            &[("email", "b@exemple.fr")],
        )
        .await;
    assert_eq!(refused.status, 429);
}

/// Asks for a password reset of camille@exemple.fr; returns the mailed token.
async fn ask_reset(app: &TestApp) -> String {
    let mut b = app.browser();
    b.submit(
        "/mot-de-passe-oublie",
        "/mot-de-passe-oublie",
        &[("email", "camille@exemple.fr")],
    )
    .await;
    match app
        .wait_for_mail(|m| matches!(m, Mail::PasswordReset { .. }))
        .await
    {
        Mail::PasswordReset { token, .. } => token.expose().to_owned(),
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_link_works_just_before_its_hour_and_not_just_after() {
    let app = TestApp::new().await;
    let _ = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    // a fresh link, one second short of an hour: it still works
    let token = ask_reset(&app).await;
    app.clock
        .advance(time::Duration::hours(1) - time::Duration::seconds(1));
    let page = app
        .browser()
        .get(&format!("/compte/mot-de-passe?jeton={token}"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    // another fresh link, one second past its hour: refused, though never used
    let token = ask_reset(&app).await;
    app.clock
        .advance(time::Duration::hours(1) + time::Duration::seconds(1));
    let page = app
        .browser()
        .get(&format!("/compte/mot-de-passe?jeton={token}"))
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("Lien invalide ou expiré"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_confirmation_link_works_just_before_48_hours_and_not_just_after() {
    let app = TestApp::new().await;
    for (email, offset, works) in [
        ("avant@exemple.fr", time::Duration::seconds(-1), true),
        ("apres@exemple.fr", time::Duration::seconds(1), false),
    ] {
        let mut b = app.browser();
        b.register("Durand", "Camille Marie", "12/04/2003", email, PASSWORD)
            .await;
        let token = app.last_token().await;
        app.clock.advance(time::Duration::hours(48) + offset);
        let page = b.get(&format!("/compte/confirmer?jeton={token}")).await;
        if works {
            assert_eq!(page.status, 200, "{}", page.body);
            assert_eq!(b.confirm(&token, PASSWORD).await.status, 303);
        } else {
            assert_eq!(page.status, 400, "{}", page.body);
            assert!(page.body.contains("Lien invalide ou expiré"));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_lives_until_its_12th_hour_of_activity_and_not_a_second_more() {
    let app = TestApp::new().await;
    let mut b = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    // active every 25 minutes (under the 30-minute idle limit) for almost 12 hours
    let step = time::Duration::minutes(25);
    let mut elapsed = time::Duration::ZERO;
    while elapsed + step < time::Duration::hours(12) {
        app.clock.advance(step);
        elapsed += step;
        let page = b.get("/espace").await;
        assert_eq!(page.status, 200, "signed in after {elapsed}");
    }
    // just under 12 hours after login: still in
    let remaining = time::Duration::hours(12) - elapsed;
    app.clock.advance(remaining - time::Duration::seconds(1));
    assert_eq!(b.get("/espace").await.status, 200, "11:59:59 after login");
    // just over: out, however active
    app.clock.advance(time::Duration::seconds(2));
    let page = b.get("/espace").await;
    assert_eq!(page.status, 303);
    assert_sent_to_login(&page);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_session_ends_just_after_30_minutes_not_before() {
    let app = TestApp::new().await;
    let mut b = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    app.clock
        .advance(time::Duration::minutes(30) - time::Duration::seconds(1));
    assert_eq!(b.get("/espace").await.status, 200);
    app.clock
        .advance(time::Duration::minutes(30) + time::Duration::seconds(1));
    assert_eq!(b.get("/espace").await.status, 303);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_batch_gives_a_wrong_name_on_a_real_key_the_answer_of_an_unknown_key() {
    let app = TestApp::new().await;
    let mut camille = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    assert_eq!(camille.attach("BACG", "2021", "10").await.status, 303);
    let key = key_of(&camille.get("/espace").await);
    let mut verifier = app.browser();
    let batch = verifier
        .post_json(
            "/api/v1/verifications/lot",
            &serde_json::json!({"verifications": [
                {"cle": key, "nom": "Durand"},
                {"cle": key, "nom": "Dupont"},
                {"cle": "ZZZZ9999", "nom": "Dupont"},
            ]}),
        )
        .await;
    assert_eq!(batch.status, 200, "{}", batch.body);
    let json: serde_json::Value = serde_json::from_str(&batch.body).unwrap();
    let results = json["resultats"].as_array().unwrap();
    assert_eq!(results[0]["valide"], serde_json::json!(true));
    assert_eq!(
        results[0]["diplome"]["titulaire"]
            .as_str()
            .map(|t| t.contains("DURAND") || t.contains("Durand")),
        Some(true),
        "{}",
        batch.body
    );
    // a wrong name on a real key and an unknown key: the very same item
    assert_eq!(results[1], results[2]);
    assert_eq!(results[1], serde_json::json!({"valide": false}));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_renews_deletes_and_downloads_for_the_owner_only() {
    the_api_renews_deletes_and_downloads_for_the_owner_only_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_renews_deletes_and_downloads_for_the_owner_only_on_postgresql_as_the_web_role() {
    the_api_renews_deletes_and_downloads_for_the_owner_only_on(
        TestApp::on_postgres_as_web_role().await,
    )
    .await;
}

async fn the_api_renews_deletes_and_downloads_for_the_owner_only_on(app: TestApp) {
    let mut camille = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    assert_eq!(camille.attach("BACG", "2021", "10").await.status, 303);
    let dashboard = camille.get("/espace").await;
    let (old_key, link) = (key_of(&dashboard), link_of(&dashboard));
    let mut intruder = app
        .signed_in("Martin", "Paul", "2002-01-01", "paul@exemple.fr")
        .await;
    // another graduate: the link does not exist for them, by any door
    for (method, path) in [
        (Method::POST, format!("/api/v1/moi/diplomes/{link}/cle")),
        (Method::DELETE, format!("/api/v1/moi/diplomes/{link}")),
        (
            Method::GET,
            format!("/api/v1/moi/diplomes/{link}/attestation"),
        ),
    ] {
        let page = intruder
            .request(
                method.clone(),
                &path,
                Some(("application/json", b"{}".to_vec())),
            )
            .await;
        assert_eq!(page.status, 404, "{method} {path}: {}", page.body);
        assert!(page.body.contains("\"code\":\"introuvable\""));
    }
    // the owner downloads the signed PDF
    let pdf = camille
        .get(&format!("/api/v1/moi/diplomes/{link}/attestation"))
        .await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.header("content-type"), "application/pdf");
    assert!(pdf.bytes.starts_with(b"%PDF-"));
    assert!(pdf.header("content-disposition").contains("attachment"));
    // renews: a new key, the old one dead at once, the answer says which
    let renewed = camille
        .post_json(
            &format!("/api/v1/moi/diplomes/{link}/cle"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let json: serde_json::Value = serde_json::from_str(&renewed.body).unwrap();
    let new_key = json["cle"].as_str().unwrap().replace([' ', '-'], "");
    assert_ne!(new_key, old_key);
    assert_eq!(json["id"], serde_json::json!(link));
    assert!(
        !Browser::verify(&app, &old_key, "Durand")
            .await
            .body
            .contains("Attestation valide")
    );
    assert!(
        Browser::verify(&app, &new_key, "Durand")
            .await
            .body
            .contains("Attestation valide")
    );
    // deletes: 204, gone from the list, the key dead
    let deleted = camille
        .request(
            Method::DELETE,
            &format!("/api/v1/moi/diplomes/{link}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let mine = camille.get("/api/v1/moi/diplomes").await;
    assert_eq!(mine.body.trim(), "[]");
    assert!(
        !Browser::verify(&app, &new_key, "Durand")
            .await
            .body
            .contains("Attestation valide")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_request_reaches_an_xml_parser() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    let xml = br#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "x">]><a b="1" b="2"><cle>ABCD2345</cle></a>"#;
    for path in [
        "/api/v1/verifications",
        "/api/v1/verifications/lot",
        "/api/v1/moi/diplomes",
    ] {
        for media in ["application/xml", "text/xml"] {
            let page = b
                .request(Method::POST, path, Some((media, xml.to_vec())))
                .await;
            assert_eq!(page.status, 415, "{path} {media}: {}", page.body);
            assert!(page.body.contains("\"code\""), "{}", page.body);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mailbox_cannot_be_flooded_from_many_addresses() {
    let app = TestApp::with(|s| {
        s.trust_forwarded_for = true;
        // one for the confirmation at registration, two resets
        s.limits.mails_per_address_per_hour = 3;
    })
    .await;
    let _ = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    app.mails().await;
    // five clients ask for a reset of the same address: two mails leave, the same page
    // answers every time
    for i in 0..5u8 {
        let mut b = app.browser();
        let csrf = b.get("/mot-de-passe-oublie").await.csrf();
        let page = b
            .post_form_from(
                &format!("203.0.113.{i}"),
                "/mot-de-passe-oublie",
                &[("csrf", csrf.as_str()), ("email", "Camille@Exemple.fr")],
            )
            .await;
        assert_eq!(page.status, 200);
    }
    // the cap was decided on each request (the sending happens after, off the request):
    // three were capped, so exactly two reset mails are on their way, no more will come
    assert_eq!(app.state.metrics.mails_capped(), 3);
    let mut resets = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while resets < 2 {
        assert!(std::time::Instant::now() < deadline, "{resets} reset mails");
        resets += app
            .mails()
            .await
            .into_iter()
            .filter(|m| matches!(m, Mail::PasswordReset { .. }))
            .count();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(resets, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_birth_date_on_verification_is_a_clear_error_that_keeps_the_form() {
    let app = TestApp::new().await;
    for typed in ["31/02/2003", "hier", "2003-04-12-00", &"1".repeat(500)] {
        let page = app
            .browser()
            .submit(
                "/verifier",
                "/verifier",
                &[("cle", "ABCD2345"), ("nom", "Durand"), ("naissance", typed)],
            )
            .await;
        assert_eq!(page.status, 422, "{typed}: {}", page.body);
        assert!(page.body.contains("jj/mm/aaaa"), "{}", page.body);
        // what was typed is kept for correction
        assert!(page.body.contains("value=\"ABCD2345\""), "{}", page.body);
    }
    let mut b = app.browser();
    for typed in ["2003-02-31", "12/04/2003", "demain", ""] {
        let api = b
            .post_json(
                "/api/v1/verifications",
                &serde_json::json!({"cle": "ABCD2345", "nom": "Durand", "date_naissance": typed}),
            )
            .await;
        match typed {
            // no date given: an ordinary check
            "" => assert_eq!(api.status, 200, "{}", api.body),
            // the document's pattern, but no such day: the rule it cannot state
            "2003-02-31" => {
                assert_eq!(api.status, 422, "{typed}: {}", api.body);
                assert!(
                    api.body.contains("\"code\":\"date_naissance_invalide\""),
                    "{}",
                    api.body
                );
            }
            // not the document's pattern: a malformed request
            _ => {
                assert_eq!(api.status, 400, "{typed}: {}", api.body);
                assert!(api.body.contains("date_naissance"), "{}", api.body);
            }
        }
    }
}

/// The API's own rule against cross-site requests: a browser sends a cross-site request
/// without a preflight only as GET, HEAD or POST with a form's media types; every
/// operation of the OpenAPI document that changes state refuses those media types, so no
/// page elsewhere can drive a signed-in graduate's API. Read from the document itself: an
/// operation added later is covered without being listed.
#[tokio::test(flavor = "multi_thread")]
async fn no_cross_site_form_can_reach_a_state_changing_api_operation() {
    let app = TestApp::new().await;
    let mut b = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    let attached = b
        .post_json(
            "/api/v1/moi/diplomes",
            &serde_json::json!({"diplome": "BACG", "session": 2021, "academie": "10"}),
        )
        .await;
    assert_eq!(attached.status, 201, "{}", attached.body);
    let id = serde_json::from_str::<serde_json::Value>(&attached.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let document: serde_json::Value =
        serde_json::from_str(&b.get("/api/v1/openapi.json").await.body).unwrap();
    // exempt, with why: checking a document changes nothing and needs no session
    let exempt = ["/attestations/controle"];
    let mut checked = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            if method != "post" || exempt.contains(&path.as_str()) {
                // DELETE and the other unsafe methods need a preflight, never granted
                continue;
            }
            let url = format!("/api/v1{}", path.replace("{id}", &id));
            for (media, body) in [
                (
                    "application/x-www-form-urlencoded",
                    "diplome=BACG&session=2021&academie=10",
                ),
                (
                    "multipart/form-data; boundary=x",
                    "--x\r\nContent-Disposition: form-data; name=\"diplome\"\r\n\r\nBACG\r\n--x--\r\n",
                ),
                (
                    "text/plain",
                    r#"{"diplome":"BACG","session":2021,"academie":"10"}"#,
                ),
            ] {
                let answer = b
                    .request(Method::POST, &url, Some((media, body.as_bytes().to_vec())))
                    .await;
                assert_eq!(answer.status, 415, "{url} as {media}: {}", answer.body);
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 12,
        "{checked} requests: the document lost its operations?"
    );
    // and nothing changed: the attestation and its key are as they were
    let list: serde_json::Value =
        serde_json::from_str(&b.get("/api/v1/moi/diplomes").await.body).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        list[0]["cle"],
        serde_json::from_str::<serde_json::Value>(&attached.body).unwrap()["cle"]
    );
}

/// The API refuses as malformed (400) exactly what its document calls invalid: codes from
/// the document's lists, sessions in its bounds, the key's pattern; what the document
/// cannot state is a 422 with a code naming the field; a path asked with another method
/// is a 405 naming the methods it answers.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_refuses_as_malformed_exactly_what_its_document_refuses() {
    let app = TestApp::new().await;
    let mut b = app.browser();

    // an unknown académie was ignored and the whole catalogue answered
    let unknown = b.get("/api/v1/catalogue?academie=99").await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(
        unknown.body.contains("\"code\":\"requete_invalide\""),
        "{}",
        unknown.body
    );
    let lyon = b.get("/api/v1/catalogue?academie=10&diplome=BACG").await;
    assert_eq!(lyon.status, 200, "{}", lyon.body);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&lyon.body).unwrap();
    assert!(!entries.is_empty());
    assert!(
        entries
            .iter()
            .all(|e| e["academie"] == "10" && e["diplome"] == "BACG"),
        "{}",
        lyon.body
    );
    // a session before the coverage is no format error: it has its own answer
    let early = b.get("/api/v1/catalogue?session=2008").await;
    assert_eq!(early.status, 422, "{}", early.body);
    assert!(early.body.contains("\"code\":\"session_non_couverte\""));
    for query in [
        "session=1899",
        "session=2101",
        "session=70000",
        "diplome=bacg",
        "academie=1",
    ] {
        let page = b.get(&format!("/api/v1/catalogue?{query}")).await;
        assert_eq!(page.status, 400, "{query}: {}", page.body);
    }

    // the key's pattern: separators and either case pass, U and a ninth character do not
    let verify = |cle: &str, nom: &str| serde_json::json!({"cle": cle, "nom": nom});
    for cle in ["abcd-2345", "ABCD 2345", "AB.CD_23-45", "abcd\u{3000}2345"] {
        let page = b
            .post_json("/api/v1/verifications", &verify(cle, "Durand"))
            .await;
        assert_eq!(page.status, 200, "{cle:?}: {}", page.body);
    }
    for cle in ["ABCD234U", "ABCD23456", "ABCD234", "ABCD23é5", ""] {
        let page = b
            .post_json("/api/v1/verifications", &verify(cle, "Durand"))
            .await;
        assert_eq!(page.status, 400, "{cle:?}: {}", page.body);
    }
    // a name the document accepts but that is no name: 422, its own code
    let page = b
        .post_json("/api/v1/verifications", &verify("ABCD2345", "1234"))
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains("\"code\":\"nom_invalide\""),
        "{}",
        page.body
    );
    let page = b
        .post_json("/api/v1/verifications", &verify("ABCD2345", ""))
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    // in a batch, a malformed item is reported in its own result
    let page = b
        .post_json(
            "/api/v1/verifications/lot",
            &serde_json::json!({"verifications": [verify("ABCD234U", "Durand"), verify("ABCD2345", "1234"), verify("ABCD2345", "Durand")]}),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let result: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    let codes: Vec<&str> = result["resultats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(codes, ["cle_invalide", "nom_invalide", "-"]);

    // 405 with the methods the path answers (404 before)
    for (method, path, allow) in [
        (Method::PUT, "/api/v1/verifications", "POST"),
        (Method::DELETE, "/api/v1/catalogue", "GET, HEAD"),
        (
            Method::PATCH,
            "/api/v1/moi/diplomes/0123456789abcdef/attestation",
            "GET, HEAD",
        ),
    ] {
        let page = b.request(method.clone(), path, None).await;
        assert_eq!(page.status, 405, "{method} {path}: {}", page.body);
        assert_eq!(page.header("allow"), allow, "{method} {path}");
        assert!(
            page.body.contains("\"code\":\"methode_non_autorisee\""),
            "{}",
            page.body
        );
        assert!(page.body.contains("\"request_id\""), "{}", page.body);
    }
    assert_eq!(
        b.request(Method::PUT, "/api/v1/nulle-part", None)
            .await
            .status,
        404
    );
}

/// The graduate's operations declare the pages' session cookie as their security scheme,
/// and answer 401 without it; the public ones declare none.
#[tokio::test(flavor = "multi_thread")]
async fn the_document_names_the_session_cookie_where_it_is_needed() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    let document: serde_json::Value =
        serde_json::from_str(&b.get("/api/v1/openapi.json").await.body).unwrap();
    let scheme = &document["components"]["securitySchemes"]["session"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["in"], "cookie");
    let cookie = scheme["name"].as_str().unwrap().to_owned();
    let mut secured = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let declared = operation.get("security").is_some();
            assert_eq!(declared, path.starts_with("/moi"), "{method} {path}");
            if declared {
                assert_eq!(operation["security"], serde_json::json!([{"session": []}]));
                assert!(
                    operation["responses"].get("401").is_some(),
                    "{method} {path}"
                );
                secured += 1;
            }
        }
    }
    assert_eq!(secured, 10);
    // the cookie the document names is the one the pages set
    let mut camille = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    assert!(
        camille.cookies.contains_key(&cookie),
        "{:?}",
        camille.cookies.keys()
    );
    assert_eq!(camille.get("/api/v1/moi/diplomes").await.status, 200);
    camille.cookies.remove(&cookie);
    assert_eq!(camille.get("/api/v1/moi/diplomes").await.status, 401);
}
