//! Share links through the pages: created by the holder for one recipient, opened
//! without a name, logged with their label, expiring, revocable, limited in number,
//! rate-limited when opened, dead with their link — and never written to the logs.

use std::sync::{Arc, Mutex};

use poem::http::Method;
use sand_domain::ports::Mail;

use crate::support::{Browser, PASSWORD, Page, TestApp};

/// A signed-in holder with the Lyon baccalauréat attached; its link id.
async fn holder(app: &TestApp) -> (Browser<'_>, String) {
    app.with_diploma("camille.partage@exemple.fr").await
}

/// Creates a share link for `label` valid until `last_day`; the answer to the form.
async fn create(b: &mut Browser<'_>, link: &str, label: &str, last_day: &str) -> Page {
    let page = format!("/espace/diplomes/{link}/partages");
    b.submit(
        &page,
        &page,
        &[("destinataire", label), ("jusqu_au", last_day)],
    )
    .await
}

/// The addresses of the live share links on the holder's page of `link`.
async fn addresses(b: &mut Browser<'_>, link: &str) -> Vec<String> {
    let page = b.get(&format!("/espace/diplomes/{link}/partages")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body
        .match_indices("readonly value=\"")
        .map(|(i, m)| {
            page.body[i + m.len()..]
                .split('"')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The path of a share link's address (`http://localhost/partage/…`).
fn path_of(address: &str) -> String {
    address.trim_start_matches("http://localhost").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recipient_sees_the_verified_diploma_without_a_name_and_the_holder_sees_the_opening() {
    let app = TestApp::new().await;
    let (mut b, link) = holder(&app).await;
    // the space offers it; the form proposes a month, at most a year
    let dashboard = b.get("/espace").await;
    assert!(
        dashboard.body.contains("Partager par un lien"),
        "{}",
        dashboard.body
    );
    let form = b.get(&format!("/espace/diplomes/{link}/partages")).await;
    assert!(form.body.contains("value=\"2026-12-24\""), "{}", form.body);
    assert!(form.body.contains("max=\"2027-11-24\""), "{}", form.body);

    let made = create(&mut b, &link, "  ACME,  recrutement mars ", "31/12/2026").await;
    assert_eq!(made.status, 303, "{}", made.body);
    assert!(made.location().contains("avis=cree"), "{}", made.location());
    let listed = addresses(&mut b, &link).await;
    assert_eq!(listed.len(), 1);
    let address = &listed[0];
    let token = address.rsplit('/').next().unwrap();
    assert!(
        address.starts_with("http://localhost/partage/"),
        "{address}"
    );
    assert_eq!(token.len(), 64, "256 bits");
    let page = b.get(&format!("/espace/diplomes/{link}/partages")).await;
    assert!(
        page.body.contains("ACME, recrutement mars"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("Valable jusqu&#39;au 31 décembre 2026 inclus"),
        "{}",
        page.body
    );
    assert!(
        b.get("/espace")
            .await
            .body
            .contains("Partager par un lien (1 actif)")
    );

    // a recipient, without any session, sees the diploma, not asked for a name
    let mut recipient = app.browser();
    let shown = recipient.get(&path_of(address)).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains("Attestation valide"), "{}", shown.body);
    assert!(
        shown.body.contains("Camille Marie Durand"),
        "{}",
        shown.body
    );
    assert!(
        shown.body.contains("ACME, recrutement mars"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("31 décembre 2026"), "{}", shown.body);
    assert!(!shown.body.contains("name=\"nom\""), "no name asked");
    assert_eq!(shown.header("cache-control"), "no-store");
    assert_eq!(shown.header("referrer-policy"), "no-referrer");
    assert!(shown.header("x-robots-tag").contains("noindex"));
    // in English for a foreign recipient
    recipient.accept_language = Some("en-GB,en;q=0.9".to_owned());
    let english = recipient.get(&path_of(address)).await;
    assert!(
        english.body.contains("Valid attestation"),
        "{}",
        english.body
    );
    assert!(
        english.body.contains("Diploma shared by its holder"),
        "{}",
        english.body
    );

    // each opening is in the holder's verifications, with its label
    let space = b.get("/espace").await;
    assert!(
        space
            .body
            .contains("par le lien de partage « ACME, recrutement mars »"),
        "{}",
        space.body
    );
    assert!(
        space
            .body
            .contains("Vérifications de cette attestation (2)"),
        "{}",
        space.body
    );
    let api = b.get("/api/v1/moi/diplomes").await;
    assert!(
        api.body
            .contains("\"lien_partage\":\"ACME, recrutement mars\""),
        "{}",
        api.body
    );

    // a new key is not an end: the link still opens
    let renewed = b
        .submit(
            &format!("/espace/diplomes/{link}/cle"),
            &format!("/espace/diplomes/{link}/cle"),
            &[],
        )
        .await;
    assert_eq!(renewed.status, 303, "{}", renewed.body);
    assert_eq!(app.browser().get(&path_of(address)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_holder_who_opted_in_is_told_of_each_opening_by_mail() {
    let app = TestApp::new().await;
    let (mut b, link) = holder(&app).await;
    let on = b
        .submit(
            "/espace/profil",
            "/espace/profil/notifications",
            &[("prevenir", "oui")],
        )
        .await;
    assert_eq!(on.status, 303, "{}", on.body);
    create(&mut b, &link, "Cabinet Y", "31/12/2026").await;
    let address = addresses(&mut b, &link).await.remove(0);
    app.mails().await;
    assert_eq!(app.browser().get(&path_of(&address)).await.status, 200);
    let told = app
        .wait_for_mail(|m| matches!(m, Mail::AttestationVerified { .. }))
        .await;
    let Mail::AttestationVerified { organisation, .. } = told else {
        unreachable!()
    };
    assert_eq!(organisation.as_deref(), Some("Cabinet Y"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_share_link_stops_at_its_last_day_or_when_revoked_with_one_answer() {
    let app = TestApp::new().await;
    let (mut b, link) = holder(&app).await;
    create(&mut b, &link, "Jusqu'à demain", "25/11/2026").await;
    create(&mut b, &link, "Révoqué", "31/12/2026").await;
    let listed = addresses(&mut b, &link).await;
    // newest first
    let (revoked, tomorrow) = (path_of(&listed[0]), path_of(&listed[1]));

    let page = b.get(&format!("/espace/diplomes/{link}/partages")).await;
    let share_id = {
        let marker = "/partages/";
        let at = page.body.find("/revoquer").unwrap();
        let start = page.body[..at].rfind(marker).unwrap() + marker.len();
        page.body[start..at].to_owned()
    };
    let done = b
        .submit(
            &format!("/espace/diplomes/{link}/partages"),
            &format!("/espace/diplomes/{link}/partages/{share_id}/revoquer"),
            &[],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let after = b
        .get(&format!("/espace/diplomes/{link}/partages?avis=revoque"))
        .await;
    assert!(
        after.body.contains("Révoqué le 24 novembre 2026"),
        "{}",
        after.body
    );
    // revoked: the recipient gets the one answer every dead link gets
    let gone = app.browser().get(&revoked).await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    assert!(
        gone.body.contains("Lien de partage non valide"),
        "{}",
        gone.body
    );
    // revoking twice, or someone else's, is not found
    let again = b
        .submit(
            &format!("/espace/diplomes/{link}/partages"),
            &format!("/espace/diplomes/{link}/partages/{share_id}/revoquer"),
            &[],
        )
        .await;
    assert_eq!(again.status, 404);

    // opens all of its last day (Paris time), not after
    app.clock.advance(time::Duration::hours(36)); // 25 November, 22:00 UTC = 23:00 Paris
    assert_eq!(app.browser().get(&tomorrow).await.status, 200);
    app.clock.advance(time::Duration::hours(1)); // midnight in Paris
    let expired = app.browser().get(&tomorrow).await;
    assert_eq!(expired.status, 404);
    let unknown = app
        .browser()
        .get(&format!("/partage/{}", "0".repeat(64)))
        .await;
    let malformed = app.browser().get("/partage/pas-un-jeton").await;
    // one answer, whatever the reason
    for other in [&unknown, &malformed, &gone] {
        assert_eq!(other.status, 404);
        assert_eq!(
            other.body.replace(other.header("x-request-id"), ""),
            expired.body.replace(expired.header("x-request-id"), "")
        );
    }
    // a day and a half later, the holder logs in again
    let again = b.login("camille.partage@exemple.fr", PASSWORD).await;
    assert_eq!(again.status, 303, "{}", again.body);
    let listed = b.get(&format!("/espace/diplomes/{link}/partages")).await;
    assert!(
        listed
            .body
            .contains("Expiré (valable jusqu&#39;au 25 novembre 2026)"),
        "{}",
        listed.body
    );
    assert!(
        addresses(&mut b, &link).await.is_empty(),
        "no address to copy once dead"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_labels_and_days_are_refused_field_by_field_and_the_form_keeps_what_was_typed() {
    let app = TestApp::new().await;
    let (mut b, link) = holder(&app).await;
    let long = "x".repeat(81);
    for (label, day, field, says) in [
        (
            "",
            "31/12/2026",
            "destinataire",
            "Indiquez à qui ce lien est destiné",
        ),
        (
            long.as_str(),
            "31/12/2026",
            "destinataire",
            "80 caractères au plus",
        ),
        (
            "A\u{202e}B",
            "31/12/2026",
            "destinataire",
            "caractère invisible",
        ),
        ("ACME", "23/11/2026", "jusqu_au", "ne peut pas être passé"),
        ("ACME", "2027-11-25", "jusqu_au", "au plus un an"),
        ("ACME", "31/02/2027", "jusqu_au", "jj/mm/aaaa"),
        ("ACME", "demain", "jusqu_au", "jj/mm/aaaa"),
        ("ACME", &"9".repeat(10_000), "jusqu_au", "jj/mm/aaaa"),
    ] {
        let refused = create(&mut b, &link, label, day).await;
        assert_eq!(refused.status, 422, "{label:?} {day:?}: {}", refused.body);
        assert!(
            refused.body.contains(says),
            "{label:?} {day:?}: {}",
            refused.body
        );
        assert!(
            refused.body.contains(&format!("id=\"{field}-erreur\"")),
            "{label:?} {day:?}"
        );
    }
    // what was typed is kept
    let kept = create(&mut b, &link, "Entreprise Z", "demain").await;
    assert!(
        kept.body.contains("value=\"Entreprise Z\""),
        "{}",
        kept.body
    );
    assert!(
        addresses(&mut b, &link).await.is_empty(),
        "nothing was created"
    );
    // the last day allowed: a year from today
    assert_eq!(
        create(&mut b, &link, "ACME", "2027-11-24").await.status,
        303
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nobody_shares_or_sees_the_share_links_of_a_diploma_that_is_not_theirs() {
    let app = TestApp::new().await;
    let (mut b, link) = holder(&app).await;
    create(&mut b, &link, "ACME", "31/12/2026").await;
    let mut other = app
        .signed_in("N'Diaye", "Aminata", "30/11/2002", "aminata@exemple.fr")
        .await;
    let theirs = other
        .get(&format!("/espace/diplomes/{link}/partages"))
        .await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    let token = other.get("/espace").await.csrf();
    let forged = other
        .post_form(
            &format!("/espace/diplomes/{link}/partages"),
            &[
                ("csrf", &token),
                ("destinataire", "Intrus"),
                ("jusqu_au", "31/12/2026"),
            ],
        )
        .await;
    assert_eq!(forged.status, 404, "{}", forged.body);
    // nor without a session, nor without the CSRF token
    let mut anonymous = app.browser();
    let page = anonymous
        .get(&format!("/espace/diplomes/{link}/partages"))
        .await;
    assert!(page.sent_to_login(), "{}", page.status);
    let no_csrf = b
        .post_form(
            &format!("/espace/diplomes/{link}/partages"),
            &[("destinataire", "Sans jeton"), ("jusqu_au", "31/12/2026")],
        )
        .await;
    assert_eq!(no_csrf.status, 403);
    assert_eq!(addresses(&mut b, &link).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_holder_has_at_most_twenty_live_share_links() {
    let app = TestApp::new().await;
    let (mut b, link) = holder(&app).await;
    for n in 0..sand_domain::sharing::MAX_LIVE_SHARES {
        let made = create(&mut b, &link, &format!("Destinataire {n}"), "31/12/2026").await;
        assert_eq!(made.status, 303, "{n}: {}", made.body);
    }
    let refused = create(&mut b, &link, "Un de trop", "31/12/2026").await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("déjà 20 liens de partage valables"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("20 sur 20"), "{}", refused.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_share_link_dies_with_its_attestation_and_with_a_withdrawn_record() {
    let app = TestApp::new().await;
    let (mut b, link) = holder(&app).await;
    create(&mut b, &link, "ACME", "31/12/2026").await;
    let address = path_of(&addresses(&mut b, &link).await.remove(0));
    assert_eq!(app.browser().get(&address).await.status, 200);
    // the exam office withdraws the record
    app.withdraw("C0001").await;
    assert_eq!(app.browser().get(&address).await.status, 404);
    // a withdrawn diploma has no share page
    assert_eq!(
        b.get(&format!("/espace/diplomes/{link}/partages"))
            .await
            .status,
        404
    );

    // deleting the attestation: its share links go with it
    let app = TestApp::new().await;
    let (mut b, link) = holder(&app).await;
    create(&mut b, &link, "ACME", "31/12/2026").await;
    let address = path_of(&addresses(&mut b, &link).await.remove(0));
    let deleted = b.delete_attestation(&link).await;
    assert_eq!(deleted.status, 303);
    assert_eq!(app.browser().get(&address).await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn openings_are_rate_limited_per_client() {
    let app = TestApp::with(|s| {
        s.trust_forwarded_for = true;
        s.limits.share_openings_per_client_per_minute = 3;
    })
    .await;
    let (mut b, link) = holder(&app).await;
    create(&mut b, &link, "ACME", "31/12/2026").await;
    let address = path_of(&addresses(&mut b, &link).await.remove(0));
    let open = |path: String, client: &'static str| {
        let request = app
            .client
            .request(Method::GET, &path)
            .header("x-forwarded-for", client);
        async move { request.send().await.0.status().as_u16() }
    };
    for n in 0..3 {
        let guess = format!("/partage/{n:064x}");
        assert_eq!(open(guess, "203.0.113.9").await, 404);
    }
    // the fourth, even the right one, waits; another client is not held back
    assert_eq!(open(address.clone(), "203.0.113.9").await, 429);
    assert_eq!(open(address, "203.0.113.10").await, 200);
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_logs_never_hold_a_share_links_token() {
    let log = Captured::default();
    let sink = log.clone();
    // the handlers run on this test's thread (a current-thread runtime)
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish(),
    );
    let app = TestApp::new().await;
    let (mut b, link) = holder(&app).await;
    create(&mut b, &link, "ACME", "31/12/2026").await;
    let address = path_of(&addresses(&mut b, &link).await.remove(0));
    let token = address.rsplit('/').next().unwrap().to_owned();
    assert_eq!(app.browser().get(&address).await.status, 200);
    let unknown = "f".repeat(64);
    assert_eq!(
        app.browser()
            .get(&format!("/partage/{unknown}"))
            .await
            .status,
        404
    );
    let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    assert!(text.contains("/partage/(jeton)"), "the requests are logged");
    assert!(!text.contains(&token), "a live token in the logs");
    assert!(!text.contains(&unknown), "a tried token in the logs");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_creates_lists_and_revokes_share_links_with_codes_for_each_refusal() {
    let app = TestApp::new().await;
    let (mut b, link) = holder(&app).await;
    let created = b
        .post_json(
            &format!("/api/v1/moi/diplomes/{link}/partages"),
            &serde_json::json!({ "destinataire": " ACME  RH ", "dernier_jour": "2026-12-31" }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let share: serde_json::Value = serde_json::from_str(&created.body).unwrap();
    assert_eq!(share["destinataire"], "ACME RH");
    assert_eq!(share["etat"], "actif");
    assert_eq!(share["diplome_id"], link.as_str());
    assert_eq!(share["expire_le"], "2026-12-31T23:00:00Z");
    let address = share["adresse"].as_str().unwrap();
    assert_eq!(app.browser().get(&path_of(address)).await.status, 200);
    for (body, code) in [
        (
            serde_json::json!({ "destinataire": "", "dernier_jour": "2026-12-31" }),
            "destinataire_invalide",
        ),
        (
            serde_json::json!({ "destinataire": "A\u{200b}B", "dernier_jour": "2026-12-31" }),
            "destinataire_invalide",
        ),
        (
            serde_json::json!({ "destinataire": "ACME", "dernier_jour": "2027-02-31" }),
            "date_invalide",
        ),
        (
            serde_json::json!({ "destinataire": "ACME", "dernier_jour": "2026-11-23" }),
            "date_passee",
        ),
        (
            serde_json::json!({ "destinataire": "ACME", "dernier_jour": "2027-11-25" }),
            "date_trop_lointaine",
        ),
    ] {
        let refused = b
            .post_json(&format!("/api/v1/moi/diplomes/{link}/partages"), &body)
            .await;
        assert_eq!(refused.status, 422, "{body}: {}", refused.body);
        assert!(
            refused.body.contains(&format!("\"code\":\"{code}\"")),
            "{}",
            refused.body
        );
    }
    let malformed = b
        .post_json(
            &format!("/api/v1/moi/diplomes/{link}/partages"),
            &serde_json::json!({ "destinataire": "ACME", "dernier_jour": "31/12/2026" }),
        )
        .await;
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    // listed, then revoked once
    let listed = b.get("/api/v1/moi/partages").await;
    let list: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let id = share["id"].as_str().unwrap();
    let revoked = b
        .request(
            poem::http::Method::DELETE,
            &format!("/api/v1/moi/partages/{id}"),
            None,
        )
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    let again = b
        .request(
            poem::http::Method::DELETE,
            &format!("/api/v1/moi/partages/{id}"),
            None,
        )
        .await;
    assert_eq!(again.status, 404);
    let after: serde_json::Value =
        serde_json::from_str(&b.get("/api/v1/moi/partages").await.body).unwrap();
    assert_eq!(after[0]["etat"], "revoque");
    assert!(after[0].get("adresse").is_none());
    assert_eq!(app.browser().get(&path_of(address)).await.status, 404);
    // another profile's diploma or share link: not found
    let mut other = app
        .signed_in("N'Diaye", "Aminata", "30/11/2002", "aminata.api@exemple.fr")
        .await;
    let foreign = other
        .post_json(
            &format!("/api/v1/moi/diplomes/{link}/partages"),
            &serde_json::json!({ "destinataire": "Intrus", "dernier_jour": "2026-12-31" }),
        )
        .await;
    assert_eq!(foreign.status, 404, "{}", foreign.body);
    assert!(
        other
            .get("/api/v1/moi/partages")
            .await
            .body
            .starts_with("[]")
    );
}
