//! Where the service sends each case it does not cover: the office named is the one the
//! shipped issuer registry routes the académie to (the SIEC for Paris, Créteil and
//! Versailles), in the pages and in the API, and no failure ends without a contact or a
//! web address.

use std::sync::Arc;

use sand_domain::academie::Academie;
use sand_domain::credentials::Email;
use sand_domain::issuer::IssuerRegistry;

use super::support::*;

fn text(page: &Page) -> String {
    page.body.replace("&#39;", "'").replace("&amp;", "&")
}

async fn camille(app: &TestApp) -> Browser<'_> {
    app.signed_in(
        "Durand",
        "Camille Marie",
        "2003-04-12",
        "camille@exemple.fr",
    )
    .await
}

/// The form, the catalogue filter and the API all tell a session before 2009 apart
/// from a typing error, and name the office that holds the results: the SIEC for Paris,
/// the académie's own exam office for Lyon.
#[tokio::test(flavor = "multi_thread")]
async fn before_2009_paris_goes_to_the_siec_and_lyon_to_its_own_exam_office() {
    let app = TestApp::new().await;
    let mut b = camille(&app).await;

    let paris = text(&b.attach("BACG", "2005", "01").await);
    assert!(
        paris.contains("Service interacadémique des examens et concours (SIEC)"),
        "{paris}"
    );
    assert!(!paris.contains("sur quatre chiffres"));
    let lyon = text(&b.attach("BACG", "2005", "10").await);
    assert!(
        lyon.contains("Service des examens et concours du rectorat de l'académie de Lyon"),
        "{lyon}"
    );
    assert!(!lyon.contains("SIEC"));

    let filter = text(&b.get("/catalogue?academie=25&session=2007").await);
    assert!(
        filter.contains("ne sont pas couverts par ce service"),
        "{filter}"
    );
    assert!(filter.contains("(SIEC)"));
    assert!(filter.contains("/aide/services-examens#academie-25"));
    assert!(
        filter.contains("0 résultat(s)"),
        "no row of another session"
    );
    assert!(
        filter.contains("value=\"2007\""),
        "the typed session is kept"
    );

    let api = b
        .post_json(
            "/api/v1/moi/diplomes",
            &serde_json::json!({"diplome": "BACG", "session": 2005, "academie": "24"}),
        )
        .await;
    assert_eq!(api.status, 422, "{}", api.body);
    let json: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(json["code"], "session_non_couverte");
    let step = &json["etapes"][0];
    assert_eq!(step["code"], "procedure_habituelle");
    assert_eq!(step["service"]["code"], "SIEC");
    assert_eq!(step["service"]["nature"], "maison-des-examens");
    assert_eq!(step["service"]["site"], "https://www.siec.education.fr");

    let catalogue = b.get("/api/v1/catalogue?session=2008&academie=10").await;
    assert_eq!(catalogue.status, 422, "{}", catalogue.body);
    let json: serde_json::Value = serde_json::from_str(&catalogue.body).unwrap();
    assert_eq!(json["code"], "session_non_couverte");
    assert_eq!(json["etapes"][0]["service"]["code"], "10");
    assert_eq!(
        json["etapes"][0]["service"]["site"],
        "https://www.ac-lyon.fr"
    );
    // a year that is no year is still a format error
    let absurd = b.get("/api/v1/catalogue?session=1200").await;
    assert_eq!(absurd.status, 400, "{}", absurd.body);
}

/// A refused attachment names the office of the académie asked for, and the API gives
/// the office with a way to reach it.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_attachment_names_the_office_and_the_api_gives_its_address() {
    let app = TestApp::new().await;
    let mut b = camille(&app).await;
    // the demo batch holds Lyon's 2021 general baccalauréat only: Créteil's is not there
    let page = text(&b.attach("BACG", "2021", "24").await);
    assert!(page.contains("(SIEC)"), "{page}");
    assert!(page.contains("/aide/services-examens#academie-24"));

    let api = b
        .post_json(
            "/api/v1/moi/diplomes",
            &serde_json::json!({"diplome": "BACG", "session": 2021, "academie": "31"}),
        )
        .await;
    assert_eq!(api.status, 422, "{}", api.body);
    let json: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    let office = json["etapes"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|s| s.get("service"))
        .expect("a step names the office");
    assert_eq!(office["code"], "31");
    assert_eq!(office["site"], "https://www.ac-martinique.fr");
}

/// Every académie's card on the exam offices page gives a contact or a web address —
/// its official website, or the national page when none is known — and every failure
/// step links to a card that exists.
#[tokio::test(flavor = "multi_thread")]
async fn no_failure_page_lacks_a_contact_or_a_website() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    let offices = text(&b.get("/aide/services-examens").await);
    for academie in Academie::ALL {
        let start = offices
            .find(&format!("id=\"academie-{}\"", academie.code()))
            .unwrap_or_else(|| panic!("no card for {academie}"));
        let card = &offices[start..start + offices[start..].find("</section>").unwrap()];
        assert!(
            card.contains("<dt>Site officiel</dt>")
                || card.contains("<dt>Démarche</dt>")
                || card.contains("<dt>Adresse e-mail</dt>"),
            "{academie}: {card}"
        );
    }
    assert!(offices.contains("https://www.service-public.fr/particuliers/vosdroits/F10492"));

    let mut camille = camille(&app).await;
    for academie in Academie::ALL {
        let page = text(&camille.attach("CAP", "2015", academie.code()).await);
        let anchor = format!("/aide/services-examens#academie-{}", academie.code());
        assert!(page.contains(&anchor), "{academie}: {page}");
    }
}

/// An operator's contact replaces nothing shipped and is shown first: the e-mail on
/// the page, in the API, and the shipped website beside it.
#[tokio::test(flavor = "multi_thread")]
async fn an_operators_contact_is_shown_beside_the_shipped_website() {
    let shipped = sand_import::registry::shipped().unwrap();
    let mut issuers = shipped.all().to_vec();
    let lyon = issuers.iter_mut().find(|i| i.code == "10").unwrap();
    lyon.contact.service = "Division des examens — Lyon".to_owned();
    lyon.contact.email = Some(Email::parse("examens@academie-lyon.example").unwrap());
    let registry = IssuerRegistry::new(issuers, shipped.national().cloned()).unwrap();
    let app = TestApp::with(|s| s.issuers = Arc::new(registry)).await;
    let mut b = app.browser();
    let page = text(&b.get("/aide/services-examens").await);
    assert!(page.contains("Division des examens — Lyon"));
    assert!(page.contains("mailto:examens@academie-lyon.example"));
    assert!(page.contains("https://www.ac-lyon.fr"));

    let mut camille = camille(&app).await;
    let api = camille
        .post_json(
            "/api/v1/moi/diplomes",
            &serde_json::json!({"diplome": "BACG", "session": 2004, "academie": "10"}),
        )
        .await;
    let json: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    let office = &json["etapes"][0]["service"];
    assert_eq!(office["email"], "examens@academie-lyon.example");
    assert_eq!(office["nom"], "Division des examens — Lyon");
    assert!(office.get("procedure_nationale").is_none());
}

/// The attach form in two steps, without script: the académie first (only those the
/// catalogue holds), then exactly the diplomas and sessions that exist for it — never
/// a combination that cannot be attached.
#[tokio::test(flavor = "multi_thread")]
async fn the_attach_form_offers_only_what_exists_for_the_chosen_academie() {
    let app = TestApp::new().await;
    let mut b = camille(&app).await;
    let first = b.get("/espace").await;
    assert!(
        first
            .body
            .contains(r#"<select id="academie" name="academie""#)
    );
    assert!(
        !first.body.contains(r#"id="offre""#),
        "no second step before a choice"
    );

    let catalogue: Vec<serde_json::Value> =
        serde_json::from_str(&b.get("/catalogue.json?academie=10").await.body).unwrap();
    let expected: Vec<String> = catalogue
        .iter()
        .map(|e| format!("{}:{}", e["diplome"].as_str().unwrap(), e["session"]))
        .collect();
    assert!(!expected.is_empty());
    let second = b.get("/espace?academie=10").await;
    let select = &second.body[second.body.find(r#"<select id="offre""#).unwrap()..];
    let select = &select[..select.find("</select>").unwrap()];
    let mut offered: Vec<String> = select
        .split(r#"<option value=""#)
        .skip(1)
        .map(|o| o[..o.find('"').unwrap()].to_owned())
        .collect();
    offered.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(
        offered, expected,
        "exactly the catalogue's entries for Lyon"
    );
    assert!(second.body.contains(r#"<option value="10" selected>"#));
    assert!(
        text(&second).contains("rectorat de l'académie de Lyon"),
        "the office for what is not listed"
    );

    let token = second.csrf();
    let refused = b
        .post_form(
            "/espace/diplomes",
            &[
                ("csrf", &token),
                ("academie", "10"),
                ("offre", "n'importe quoi"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r#"id="offre""#),
        "the second step is shown again"
    );
    assert!(
        refused.body.contains(r##"href="#offre""##),
        "the summary links to the field"
    );
    let early = b
        .post_form(
            "/espace/diplomes",
            &[("csrf", &token), ("academie", "01"), ("offre", "BACG:2004")],
        )
        .await;
    assert!(text(&early).contains("(SIEC)"), "{}", early.body);

    let attached = b
        .post_form(
            "/espace/diplomes",
            &[("csrf", &token), ("academie", "10"), ("offre", "BACG:2021")],
        )
        .await;
    assert_eq!(attached.status, 303, "{}", attached.body);
    assert!(attached.location().starts_with("/espace?avis=rattache"));
}

/// A diploma kind the operator adds in a file — no rebuild — is in the catalogue, the
/// attach form, the API's document, attaches and verifies like the built-in ones.
#[tokio::test(flavor = "multi_thread")]
async fn a_kind_added_by_the_operators_file_is_listed_attached_and_verified() {
    let dir = std::env::temp_dir().join(format!("sand-kinds-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("kinds.toml");
    std::fs::write(
        &file,
        "format = \"sand-diploma-kinds/1\"\n\n[[kind]]\ncode = \"BP\"\nshort_name = \"Brevet professionnel\"\n\
         title = \"Brevet professionnel\"\nlevel = 4\nissuers = [\"rectorat\"]\nfirst_session = 2015\n",
    )
    .unwrap();
    let kinds = sand_import::registry::load_kinds(Some(&file)).unwrap();
    sand_domain::diploma::install(kinds).unwrap();
    std::fs::remove_dir_all(dir).unwrap();

    let bp: sand_domain::diploma::DiplomaKind = "BP".parse().unwrap();
    let scope = sand_domain::diploma::DiplomaScope {
        kind: bp,
        session: sand_domain::diploma::Session::new(2021).unwrap(),
        academie: Academie::Lyon,
    };
    let app = TestApp::new().await;
    app.publish(
        scope,
        vec![record_in(
            scope,
            1,
            "10BP0000001",
            identity("Durand", "Camille Marie", "2003-04-12"),
        )],
    )
    .await;
    let mut b = camille(&app).await;
    let catalogue = text(&b.get("/catalogue?academie=10").await);
    assert!(catalogue.contains("Brevet professionnel"), "{catalogue}");
    let form = b.get("/espace?academie=10").await;
    assert!(
        form.body
            .contains(r#"<option value="BP:2021">Brevet professionnel — session 2021</option>"#)
    );
    let spec = b.get("/api/v1/openapi.json").await;
    assert!(
        spec.body.contains("\"BP\""),
        "the document lists the operator's kind"
    );

    let token = form.csrf();
    let attached = b
        .post_form(
            "/espace/diplomes",
            &[("csrf", &token), ("academie", "10"), ("offre", "BP:2021")],
        )
        .await;
    assert_eq!(attached.status, 303, "{}", attached.body);
    let mine: Vec<serde_json::Value> =
        serde_json::from_str(&b.get("/api/v1/moi/diplomes").await.body).unwrap();
    let attached = mine
        .iter()
        .find(|d| d["diplome"] == "BP")
        .expect("the BP is mine");
    assert_eq!(attached["diplome_nom"], "Brevet professionnel");
    assert_eq!(
        attached["emetteur"], "10",
        "the graduate's list names the issuer"
    );
    let space = text(&b.get("/espace").await);
    assert!(
        space.contains(
            "Résultat tenu par</dt><dd>Service des examens et concours du rectorat de l'académie de Lyon"
        ),
        "{space}"
    );
    let key = attached["cle"].as_str().unwrap().to_owned();
    let verified = b
        .post_json(
            "/api/v1/verifications",
            &serde_json::json!({"cle": key, "nom": "Durand"}),
        )
        .await;
    let json: serde_json::Value = serde_json::from_str(&verified.body).unwrap();
    assert_eq!(json["valide"], true, "{}", verified.body);
    assert_eq!(json["diplome"]["diplome"], "BP");
    // the answer names the issuer that holds the result, on the page too
    let page = text(&Browser::verify(&app, &key, "Durand").await);
    assert!(
        page.contains("Résultat tenu par</dt><dd lang=\"fr\">Service des examens et concours du rectorat de l'académie de Lyon"),
        "{page}"
    );
    assert_eq!(json["diplome"]["emetteur"], "10");
    assert_eq!(
        json["diplome"]["emetteur_nom"],
        "Service des examens et concours du rectorat de l'académie de Lyon"
    );
}

/// A higher-education diploma is held by the establishment that awarded it, not by an
/// académie's exam office: a refused attachment sends there, in the page and the API.
#[tokio::test(flavor = "multi_thread")]
async fn higher_education_is_sent_to_the_establishment() {
    // the licence is one of the shipped kinds (exported by universities only)
    sand_domain::diploma::install(sand_import::registry::load_kinds(None).unwrap()).unwrap();
    let licence: sand_domain::diploma::DiplomaKind = "LIC".parse().unwrap();
    let scope = sand_domain::diploma::DiplomaScope {
        kind: licence,
        session: sand_domain::diploma::Session::new(2021).unwrap(),
        academie: Academie::Lyon,
    };
    let app = TestApp::new().await;
    app.publish(
        scope,
        vec![record_in(
            scope,
            1,
            "LIC0000001",
            identity("Martin", "Louis", "1999-01-15"),
        )],
    )
    .await;
    let mut b = camille(&app).await;
    // in the catalogue, but not hers
    let page = text(&b.attach("LIC", "2021", "10").await);
    assert!(
        page.contains("demandez une attestation à l'établissement qui vous l'a délivré"),
        "{page}"
    );
    assert!(
        !page.contains("rectorat de l'académie de Lyon"),
        "no exam office for a licence"
    );
    assert!(page.contains("/aide/services-examens#etablissements"));
    let offices = b.get("/aide/services-examens").await;
    assert!(offices.body.contains(r#"id="etablissements""#));

    // not in the catalogue (another académie): the establishment too, in the API
    let api = b
        .post_json(
            "/api/v1/moi/diplomes",
            &serde_json::json!({"diplome": "LIC", "session": 2021, "academie": "24"}),
        )
        .await;
    assert_eq!(api.status, 422, "{}", api.body);
    let json: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    let steps = json["etapes"].as_array().unwrap();
    assert_eq!(steps.last().unwrap()["code"], "contacter_etablissement");
    assert!(
        steps.iter().all(|s| s.get("service").is_none()),
        "{}",
        api.body
    );
}
