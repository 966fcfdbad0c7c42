//! Every route of the web app, over a real SQLite store: each outcome, each error, and
//! hostile input.

// Test support code outside `#[test]` functions: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod account_security;
mod audit;
mod blind_spots;
mod experience;
mod faults;
mod franceconnect;
mod fuzz;
mod hardening;
mod receipts;
mod routing;
mod second_factor;
mod sharing;
mod staff;
mod support;
mod timeouts;
mod wallet;

use poem::http::Method;
use sand_domain::ports::Mail;
use support::*;

const PUBLIC_PAGES: &[&str] = &[
    "/",
    "/catalogue",
    "/verifier",
    "/verifier/aide",
    "/aide",
    "/aide/guide",
    "/aide/services-examens",
    "/mentions-legales",
    "/confidentialite",
    "/accessibilite",
    "/compte/creer",
    "/connexion",
    "/mot-de-passe-oublie",
];

/// The paths of the page router that take an unsafe method, read from its source: each
/// a literal or a constant of the domain's public paths table (anything else fails, so
/// that no route escapes the list).
fn unsafe_page_routes() -> Vec<String> {
    use sand_domain::public_paths;
    let router = include_str!("../../src/pages/mod.rs");
    router
        .split(".at(")
        .skip(1)
        .filter(|route| route.contains("post("))
        .map(|route| {
            let path = route
                .trim_start()
                .split(',')
                .next()
                .unwrap_or_default()
                .trim();
            if let Some(literal) = path.strip_prefix('"') {
                return literal.trim_end_matches('"').to_owned();
            }
            match path {
                "public_paths::VERIFY" => public_paths::VERIFY,
                "public_paths::CONFIRM_EMAIL" => public_paths::CONFIRM_EMAIL,
                "public_paths::RESET_PASSWORD" => public_paths::RESET_PASSWORD,
                "public_paths::SPACE" => public_paths::SPACE,
                "public_paths::PROFILE" => public_paths::PROFILE,
                "public_paths::STOP_VERIFICATION_NOTICES" => {
                    public_paths::STOP_VERIFICATION_NOTICES
                }
                other => panic!("a route of the page router this test cannot read: {other}"),
            }
            .to_owned()
        })
        .collect()
}

fn key_of(dashboard: &Page) -> String {
    dashboard.text_after("class=\"key\">").replace(' ', "")
}

fn link_of(dashboard: &Page) -> String {
    let start = dashboard.body.find("/espace/diplomes/").unwrap() + "/espace/diplomes/".len();
    dashboard.body[start..start + 36].to_owned()
}

/// The run names the database every app of the suite runs on; the suite runs on it.
#[tokio::test(flavor = "multi_thread")]
async fn the_suite_runs_on_the_database_the_run_names() {
    let app = TestApp::new().await;
    let backend = app.store.connection().get_database_backend();
    let expected = if on_postgres() {
        sea_orm::DatabaseBackend::Postgres
    } else {
        sea_orm::DatabaseBackend::Sqlite
    };
    assert_eq!(backend, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_public_page_answers_in_french_with_the_security_headers() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    for path in PUBLIC_PAGES {
        let page = b.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(page.body.contains("<html lang=\"fr\">"), "{path}");
        assert!(page.body.contains("Opérateur de test"), "{path}");
        let csp = page.header("content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(page.header("x-frame-options"), "DENY");
        assert_eq!(page.header("referrer-policy"), "no-referrer");
        assert_eq!(page.header("x-content-type-options"), "nosniff");
        assert_eq!(page.header("cache-control"), "no-store");
        assert_eq!(page.header("x-request-id").len(), 32);
        // plain http: no HSTS, no Secure cookie
        assert_eq!(page.header("strict-transport-security"), "");
        assert!(
            !page.body.contains("<script"),
            "{path}: public pages carry no script (signed-in pages carry one: the session warning)"
        );
    }
    let css = b.get("/static/sand.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").starts_with("text/css"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_home_page_has_the_three_entries_and_the_demo_site_says_so() {
    let app = TestApp::new().await;
    let home = app.browser().get("/").await;
    for entry in [
        "Espace diplômé",
        "Vérifier un diplôme",
        "Liste des diplômes disponibles",
    ] {
        assert!(home.body.contains(entry), "{entry}");
    }
    assert!(!home.body.contains("Site de démonstration"));
    assert!(
        !home.body.contains("FranceConnect</a>"),
        "no button without a configured provider"
    );

    let demo = TestApp::with(|s| {
        s.demo = true;
        s.demo_people = vec![sand_http::DemoPerson {
            birth_name: "Durand".into(),
            usage_name: String::new(),
            first_names: "Camille Marie".into(),
            birth_date: "12/04/2003".into(),
            diploma: "Baccalauréat général 2021, académie de Lyon".into(),
        }];
    })
    .await;
    let mut b = demo.browser();
    let home = b.get("/").await;
    assert!(home.body.contains("Site de démonstration"));
    assert!(home.body.contains("Camille Marie"));
    for path in PUBLIC_PAGES {
        assert!(
            b.get(path).await.body.contains("Site de démonstration"),
            "{path}: banner on every page"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_page_is_a_404_page_in_the_design_with_the_request_id() {
    let app = TestApp::new().await;
    let page = app.browser().get("/nulle-part").await;
    assert_eq!(page.status, 404);
    assert!(page.body.contains("Page introuvable"));
    assert!(page.body.contains(page.header("x-request-id")));
    let api = app.browser().get("/api/v1/nulle-part").await;
    assert_eq!(api.status, 404);
    let json: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(json["request_id"], api.header("x-request-id"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_catalogue_lists_filters_and_exports_the_published_scopes() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    let all = b.get("/catalogue").await;
    assert!(
        all.body
            .contains("<td>Lyon</td><td>Baccalauréat général</td><td>2021</td><td>Service des examens et concours du rectorat de l&#39;académie de Lyon</td>"),
        "{}",
        all.body
    );
    let other = b.get("/catalogue?academie=01").await;
    assert!(!other.body.contains("<td>Lyon</td>"));
    assert!(other.body.contains("0 résultat(s)"));
    let hostile = b
        .get("/catalogue?academie=%3Cscript%3E&session=%27%3B--&diplome=x")
        .await;
    assert_eq!(hostile.status, 200);
    assert!(!hostile.body.contains("<script>"));
    let csv = b.get("/catalogue.csv?diplome=BACG").await;
    assert_eq!(
        csv.body,
        "academie;academie_nom;diplome;diplome_nom;session;emetteur;emetteur_nom\r\n\
         10;Lyon;BACG;Baccalauréat général;2021;10;Service des examens et concours du rectorat de l'académie de Lyon\r\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&b.get("/catalogue.json").await.body).unwrap();
    assert_eq!(json[0]["academie"], "10");
    assert_eq!(json[0]["session"], 2021);
    assert_eq!(json[0]["emetteur"], "10");
    assert_eq!(
        json[0]["emetteur_nom"],
        "Service des examens et concours du rectorat de l'académie de Lyon"
    );
    let api: serde_json::Value =
        serde_json::from_str(&b.get("/api/v1/catalogue?session=2021").await.body).unwrap();
    assert_eq!(api, json);
}

/// The catalogue page keeps its rendered rows for each selection only as long as the
/// catalogue is unchanged: a scope published since shows at once, in every selection.
#[tokio::test(flavor = "multi_thread")]
async fn the_catalogue_page_shows_a_scope_published_since_it_was_last_rendered() {
    use sand_domain::academie::Academie;
    use sand_domain::diploma::{DiplomaKind, DiplomaScope, Session};
    let app = TestApp::new().await;
    let mut b = app.browser();
    let first = b.get("/catalogue").await;
    assert_eq!(b.get("/catalogue").await.body, first.body);
    let lyon = b.get("/catalogue?academie=10").await;
    assert!(lyon.body.contains("1 résultat(s)"), "{}", lyon.body);
    assert!(
        !first
            .body
            .contains("<td>Brevet de technicien supérieur</td>")
    );

    let bts = DiplomaScope {
        kind: DiplomaKind::Bts,
        session: Session::new(2021).unwrap(),
        academie: Academie::Lyon,
    };
    app.publish(
        bts,
        vec![record_in(
            bts,
            2,
            "B1",
            identity("Durand", "Marie", "2002-03-04"),
        )],
    )
    .await;
    let all = b.get("/catalogue").await;
    assert!(all.body.contains("2 résultat(s)"), "{}", all.body);
    assert!(
        all.body
            .contains("<td>Lyon</td><td>Brevet de technicien supérieur</td><td>2021</td>"),
        "{}",
        all.body
    );
    let lyon = b.get("/catalogue?academie=10").await;
    assert!(lyon.body.contains("2 résultat(s)"), "{}", lyon.body);
    let bacg = b.get("/catalogue?academie=10&diplome=BACG").await;
    assert!(bacg.body.contains("1 résultat(s)"), "{}", bacg.body);
}

/// A large catalogue is shown a page of 50 rows at a time, with links between pages that
/// keep the selection; the exports still hold every row.
#[tokio::test(flavor = "multi_thread")]
async fn a_large_catalogue_is_paged_and_its_links_keep_the_selection() {
    use sand_domain::academie::Academie;
    use sand_domain::diploma::{DiplomaKind, DiplomaScope, Session};
    let app = TestApp::new().await;
    for (i, academie) in Academie::ALL.iter().enumerate() {
        for kind in [DiplomaKind::BacGeneral, DiplomaKind::Bts] {
            let scope = DiplomaScope {
                kind,
                session: Session::new(2021).unwrap(),
                academie: *academie,
            };
            if scope == support::scope() {
                continue;
            }
            let candidate = format!("P{i}{}", kind.code());
            app.publish(
                scope,
                vec![record_in(
                    scope,
                    2,
                    &candidate,
                    identity("Durand", "Marie", "2002-03-04"),
                )],
            )
            .await;
        }
    }
    let rows = |body: &str| body.matches("<tr><td>").count();
    let mut b = app.browser();
    // the exports hold every row (one session each here: one row a scope)
    let csv = b.get("/catalogue.csv").await;
    let published = csv.body.lines().count() - 1;
    assert!(published > 50 && published <= 100, "{published} rows");

    let first = b.get("/catalogue").await;
    assert!(
        first
            .body
            .contains(&format!("{published} résultat(s), page 1 sur 2.")),
        "{}",
        first.body
    );
    assert_eq!(rows(&first.body), 50);
    assert!(
        first
            .body
            .contains(r#"<a href="/catalogue?page=2" rel="next">Page suivante</a>"#)
    );
    assert!(!first.body.contains(r#"rel="prev""#));

    let second = b.get("/catalogue?page=2").await;
    assert_eq!(rows(&second.body), published - 50);
    assert!(second.body.contains("page 2 sur 2."));
    assert!(
        second
            .body
            .contains(r#"<a href="/catalogue?page=1" rel="prev">Page précédente</a>"#)
    );
    assert!(!second.body.contains(r#"rel="next""#));

    // past the last page, the last; garbage, the first
    assert!(
        b.get("/catalogue?page=99999999999999999999")
            .await
            .body
            .contains("page 1 sur 2.")
    );
    assert!(
        b.get("/catalogue?page=7")
            .await
            .body
            .contains("page 2 sur 2.")
    );
    assert!(
        b.get("/catalogue?page=%3Cscript%3E")
            .await
            .body
            .contains("page 1 sur 2.")
    );
    assert!(
        b.get("/catalogue?page=0")
            .await
            .body
            .contains("page 1 sur 2.")
    );

    // a selection that fits one page has no pager; the links keep the selection
    let bts = b.get("/catalogue?diplome=BTS").await;
    assert!(!bts.body.contains("Pages du tableau"), "{}", bts.body);
    let in_2021 = b.get("/catalogue?academie=&diplome=&session=2021").await;
    assert!(
        in_2021
            .body
            .contains(r#"<a href="/catalogue?session=2021&#38;page=2" rel="next">"#),
        "{}",
        in_2021.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_journey_create_confirm_log_in_attach_download_verify_detach_delete() {
    the_whole_journey_create_confirm_log_in_attach_download_verify_detach_delete_on(
        TestApp::new().await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_journey_create_confirm_log_in_attach_download_verify_detach_delete_on_postgresql_as_the_web_role()
 {
    the_whole_journey_create_confirm_log_in_attach_download_verify_detach_delete_on(
        TestApp::on_postgres_as_web_role().await,
    )
    .await;
}

async fn the_whole_journey_create_confirm_log_in_attach_download_verify_detach_delete_on(
    app: TestApp,
) {
    let mut b = app.browser();
    let created = b
        .register(
            "Durand",
            "Camille Marie",
            "12/04/2003",
            "camille@exemple.fr",
            PASSWORD,
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body.contains("Consultez votre messagerie"));

    // not confirmed yet: the login says so and offers a new link
    let early = b.login("camille@exemple.fr", PASSWORD).await;
    assert_eq!(early.status, 422);
    assert!(early.body.contains("Renvoyer le lien"));
    let token = app.last_token().await;
    let form = b.get(&format!("/compte/confirmer?jeton={token}")).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("Confirmer mon adresse e-mail"));
    // the link alone confirms nothing: the password chosen at registration is asked
    let wrong = b.confirm(&token, "pas le bon mot de passe").await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong.body.contains("pas celui de ce profil"),
        "{}",
        wrong.body
    );
    let confirmed = b.confirm(&token, PASSWORD).await;
    assert_eq!(confirmed.status, 303);
    assert_eq!(confirmed.location(), "/espace", "confirmed and signed in");
    assert_eq!(b.get("/espace").await.status, 200);
    let again = b.get(&format!("/compte/confirmer?jeton={token}")).await;
    assert!(again.body.contains("Adresse déjà confirmée"));
    assert_eq!(b.log_out().await.status, 303);

    let wrong = b
        .login("camille@exemple.fr", "pas le bon mot de passe")
        .await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong
            .body
            .contains("Adresse e-mail ou mot de passe incorrect.")
    );
    let anonymous_cookie = b.cookies.clone();
    let login = b.login("camille@exemple.fr", PASSWORD).await;
    assert_eq!(login.status, 303);
    assert_eq!(login.location(), "/espace");
    assert!(
        login.header("set-cookie").contains("HttpOnly")
            && login.header("set-cookie").contains("SameSite=Lax")
    );
    assert_ne!(b.cookies, anonymous_cookie, "a new session id at login");

    // a scope not in the catalogue, then the right one
    let missing = b.attach("BTS", "2019", "01").await;
    assert!(
        missing.body.contains("Diplôme non disponible"),
        "{}",
        missing.body
    );
    assert!(missing.body.contains("procédure habituelle"));
    let attached = b.attach("BACG", "2021", "10").await;
    assert_eq!(attached.status, 303, "{}", attached.body);
    let dashboard = b.get("/espace?avis=rattache").await;
    assert!(dashboard.body.contains("Diplôme rattaché"));
    assert!(dashboard.body.contains("Mention bien"));
    let key = key_of(&dashboard);
    assert_eq!(key.len(), 8);
    let link = link_of(&dashboard);

    let pdf = b
        .get(&format!("/espace/diplomes/{link}/attestation.pdf"))
        .await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.header("content-type"), "application/pdf");
    assert!(pdf.bytes.starts_with(b"%PDF"));
    let check = b
        .request(
            Method::POST,
            "/api/v1/attestations/controle",
            Some(("application/octet-stream", pdf.bytes.clone())),
        )
        .await;
    let check: serde_json::Value = serde_json::from_str(&check.body).unwrap();
    assert_eq!(check["verdict"], "intacte");
    assert_eq!(check["cle"], key.as_str());

    // a third party verifies: key + birth name, whatever the case and accents
    let valid = Browser::verify(&app, &key.to_lowercase(), "DURAND").await;
    assert!(valid.body.contains("Attestation valide"), "{}", valid.body);
    assert!(valid.body.contains("Camille Marie Durand"));
    let other_name = Browser::verify(&app, &key, "Dupont").await;
    let unknown_key = Browser::verify(&app, "ZZZZZZZZ", "Durand").await;
    assert!(other_name.body.contains("Aucune attestation valide"));
    let strip = |p: &Page| p.stable();
    assert_eq!(
        strip(&other_name).replace("Dupont", "X").replace(&key, "K"),
        strip(&unknown_key)
            .replace("Durand", "X")
            .replace("ZZZZZZZZ", "K"),
        "an unknown key and a wrong name get the same page"
    );
    let dashboard = b.get("/espace").await;
    assert!(
        dashboard.body.contains("Entreprise Exemple"),
        "the holder sees who verified"
    );

    // a new key: asked first, saying what it ends (no one-click form on the dashboard);
    // then the old one stops verifying
    let renew = format!("/espace/diplomes/{link}/cle");
    assert!(
        !dashboard
            .body
            .contains(&format!("method=\"post\" action=\"{renew}\"")),
        "the dashboard changes no key in one click"
    );
    let confirm = b.get(&renew).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Changer la clé de contrôle ?"));
    assert!(
        confirm
            .body
            .contains("les attestations déjà transmises, à un employeur par exemple, ne pourront plus être vérifiées"),
        "the confirmation says what the change ends"
    );
    assert_eq!(
        key_of(&b.get("/espace").await),
        key,
        "asking changes nothing"
    );
    let renewed = b.submit(&renew, &renew, &[]).await;
    assert_eq!(renewed.status, 303);
    let new_key = key_of(&b.get("/espace").await);
    assert_ne!(new_key, key);
    assert!(
        Browser::verify(&app, &key, "Durand")
            .await
            .body
            .contains("Aucune attestation valide")
    );
    assert!(
        Browser::verify(&app, &new_key, "Durand")
            .await
            .body
            .contains("Attestation valide")
    );

    // detach: confirmation page, then the key no longer verifies
    let confirm = b.get(&format!("/espace/diplomes/{link}/supprimer")).await;
    assert!(
        confirm
            .body
            .contains("reste enregistré par le service des examens")
    );
    let detached = b
        .submit(
            &format!("/espace/diplomes/{link}/supprimer"),
            &format!("/espace/diplomes/{link}/supprimer"),
            &[],
        )
        .await;
    assert_eq!(detached.status, 303);
    assert!(
        Browser::verify(&app, &new_key, "Durand")
            .await
            .body
            .contains("Aucune attestation valide")
    );
    assert_eq!(
        b.get(&format!("/espace/diplomes/{link}/attestation.pdf"))
            .await
            .status,
        404
    );

    // delete the profile: confirmation mail, session gone, login impossible
    let profile = b.get("/espace/profil").await;
    assert!(profile.body.contains("Camille Marie"));
    let deleted = b
        .submit("/espace/profil/supprimer", "/espace/profil/supprimer", &[])
        .await;
    assert_eq!(deleted.status, 200);
    assert!(deleted.body.contains("Profil supprimé"));
    assert!(matches!(
        app.mails().await.as_slice(),
        [Mail::ProfileDeleted { .. }]
    ));
    assert_sent_to_login(&b.get("/espace").await);
    assert_eq!(b.login("camille@exemple.fr", PASSWORD).await.status, 422);
}

#[tokio::test(flavor = "multi_thread")]
async fn attaching_failures_walk_through_the_support_checklist_and_never_mention_anyone_else() {
    let app = TestApp::new().await;
    // a married name instead of the birth name: no match
    let mut married = app
        .signed_in("Lefort", "Camille Marie", "2003-04-12", "lefort@exemple.fr")
        .await;
    let no_match = married.attach("BACG", "2021", "10").await;
    assert!(
        no_match.body.contains("Aucun diplôme trouvé à votre nom"),
        "{}",
        no_match.body
    );
    assert!(no_match.body.contains("nom de naissance"));
    assert!(no_match.body.contains("tous vos prénoms"));
    assert!(
        no_match
            .body
            .contains("supprimez-le et créez-le de nouveau")
    );

    // homonyms: sent to the exam office, nothing attached
    let mut paul = app
        .signed_in("Martin", "Paul", "2002-01-01", "paul@exemple.fr")
        .await;
    let homonyms = paul.attach("BACG", "2021", "10").await;
    assert!(
        homonyms.body.contains("Rattachement impossible en ligne"),
        "{}",
        homonyms.body
    );
    assert!(homonyms.body.contains("service des examens"));
    assert!(!homonyms.body.contains("homonyme") && !homonyms.body.contains("C0002"));

    // already attached elsewhere: the likely cause (another profile of the graduate's own)
    // first, never that profile's address or anything of it
    let mut first = app
        .signed_in("N'Diaye", "Aminata", "2002-11-30", "aminata@exemple.fr")
        .await;
    assert_eq!(first.attach("BACG", "2021", "10").await.status, 303);
    let mut second = app
        .signed_in("N’DIAYE", "aminata", "2002-11-30", "aminata2@exemple.fr")
        .await;
    let elsewhere = second.attach("BACG", "2021", "10").await;
    assert!(elsewhere.body.contains("Rattachement impossible en ligne"));
    assert!(!elsewhere.body.contains("aminata@exemple.fr"));
    assert!(
        elsewhere
            .body
            .contains("le plus souvent un autre profil à vous")
    );

    // malformed scope: the form again, with field messages
    let bad = paul.attach("XXX", "20x1", "99").await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Diplôme : choisissez"));
    assert!(bad.body.contains("Session : indiquez"));
    assert!(bad.body.contains("Académie : choisissez"));
}

#[tokio::test(flavor = "multi_thread")]
async fn another_graduates_attestation_is_not_found_everywhere() {
    another_graduates_attestation_is_not_found_everywhere_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn another_graduates_attestation_is_not_found_everywhere_on_postgresql_as_the_web_role() {
    another_graduates_attestation_is_not_found_everywhere_on(
        TestApp::on_postgres_as_web_role().await,
    )
    .await;
}

async fn another_graduates_attestation_is_not_found_everywhere_on(app: TestApp) {
    let mut owner = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    assert_eq!(owner.attach("BACG", "2021", "10").await.status, 303);
    let link = link_of(&owner.get("/espace").await);
    let mut intruder = app
        .signed_in("Martin", "Paul", "2002-01-01", "paul@exemple.fr")
        .await;
    assert_eq!(
        intruder
            .get(&format!("/espace/diplomes/{link}/attestation.pdf"))
            .await
            .status,
        404
    );
    assert_eq!(
        intruder
            .get(&format!("/espace/diplomes/{link}/supprimer"))
            .await
            .status,
        404
    );
    assert_eq!(
        intruder
            .submit(
                "/espace",
                &format!("/espace/diplomes/{link}/supprimer"),
                &[]
            )
            .await
            .status,
        404
    );
    assert_eq!(
        intruder
            .submit("/espace", &format!("/espace/diplomes/{link}/cle"), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        intruder
            .request(
                Method::DELETE,
                &format!("/api/v1/moi/diplomes/{link}"),
                None
            )
            .await
            .status,
        404
    );
    assert_eq!(
        intruder
            .get(&format!("/api/v1/moi/diplomes/{link}/attestation"))
            .await
            .status,
        404
    );
    assert_eq!(
        intruder
            .get("/espace/diplomes/pas-un-uuid/attestation.pdf")
            .await
            .status,
        404
    );
    // the owner still has it
    assert_eq!(
        owner
            .get(&format!("/espace/diplomes/{link}/attestation.pdf"))
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_state_changing_form_refuses_a_missing_or_foreign_csrf_token() {
    let app = TestApp::new().await;
    let mut b = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    assert_eq!(b.attach("BACG", "2021", "10").await.status, 303);
    let dashboard = b.get("/espace").await;
    let (key, link) = (key_of(&dashboard), link_of(&dashboard));
    let foreign = app.browser().get("/verifier").await.csrf();
    // every unsafe page route, read from the router itself: a route added later is
    // covered without being listed here (the frame checks the token for every one)
    let routes = unsafe_page_routes();
    assert!(routes.len() >= 18, "{routes:?}");
    for promised in ["/verifier", "/compte/confirmer", "/compte/creer"] {
        assert!(
            routes.iter().any(|r| r == promised),
            "{promised} in {routes:?}"
        );
    }
    let mut forms: Vec<String> = routes.iter().map(|r| r.replace(":id", &link)).collect();
    // and a path no route has: refused before routing
    forms.push("/nulle-part".to_owned());
    let fields: &[(&str, &str)] = &[
        ("cle", "ABCD1234"),
        ("nom", "Durand"),
        ("email", "camille@exemple.fr"),
        ("mot_de_passe", PASSWORD),
        ("confirmation", PASSWORD),
        ("actuel", PASSWORD),
        ("jeton", "x"),
        ("code", "123456"),
        ("session", "x"),
        ("diplome", "BACG"),
        ("academie", "10"),
    ];
    for path in &forms {
        let path = path.as_str();
        if path == sand_domain::public_paths::STOP_VERIFICATION_NOTICES {
            // the one capability address: the token of its query is the authority (a
            // mail client posts to it with no page), so no CSRF token is asked — and
            // without a genuine token it stops nothing
            let none = b.post_form(path, fields).await;
            assert_eq!(none.status, 400, "{path} without its token");
            assert!(none.body.contains("Lien invalide ou expiré"));
            continue;
        }
        let none = b.post_form(path, fields).await;
        assert_eq!(none.status, 403, "{path} without a token");
        assert!(none.body.contains("Formulaire expiré"));
        let mut with_foreign = vec![("csrf", foreign.as_str())];
        with_foreign.extend_from_slice(fields);
        assert_eq!(
            b.post_form(path, &with_foreign).await.status,
            403,
            "{path} with another visitor's token"
        );
    }
    // nothing happened: still signed in, profile still there, the key neither renewed
    // nor the attestation deleted
    let after = b.get("/espace").await;
    assert_eq!(after.status, 200);
    assert_eq!(key_of(&after), key);
    assert_eq!(link_of(&after), link);
    // and the password is unchanged
    assert_eq!(
        app.browser()
            .login("camille@exemple.fr", PASSWORD)
            .await
            .status,
        303
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_input_gets_a_clear_answer_and_changes_nothing() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    // oversized body
    let huge = "a".repeat(200_000);
    let token = b.get("/verifier").await.csrf();
    let too_big = b
        .post_form(
            "/verifier",
            &[("csrf", &token), ("cle", &huge), ("nom", "x")],
        )
        .await;
    assert_eq!(too_big.status, 413);
    assert!(too_big.body.contains("Envoi trop volumineux"));
    // not a form at all
    let garbage = b
        .request(
            Method::POST,
            "/verifier",
            Some((
                "application/x-www-form-urlencoded",
                vec![0xff, 0xfe, b'%', b'z'],
            )),
        )
        .await;
    assert!(
        garbage.status == 400 || garbage.status == 403,
        "{}",
        garbage.status
    );
    // injection strings are shown escaped, never executed or interpreted
    let injected = b
        .submit(
            "/verifier",
            "/verifier",
            &[
                ("cle", "<script>alert(1)</script>"),
                ("nom", "'; DROP TABLE link; --"),
            ],
        )
        .await;
    assert_eq!(injected.status, 422);
    assert!(
        injected.body.contains("&#60;script&#62;alert(1)"),
        "{}",
        injected.body
    );
    assert!(!injected.body.contains("<script>alert(1)"));
    let sql = b
        .submit(
            "/verifier",
            "/verifier",
            &[("cle", "ABCD1234"), ("nom", "'; DROP TABLE link; --")],
        )
        .await;
    assert!(sql.status == 200 || sql.status == 422);
    // control characters in an identity
    let step1 = b
        .submit(
            "/compte/creer",
            "/compte/creer",
            &[
                ("nom", "Du\u{0}rand"),
                ("prenoms", "Camille\u{7}"),
                ("naissance", "31/02/2003"),
                ("email", "pas-une-adresse"),
            ],
        )
        .await;
    assert_eq!(step1.status, 422);
    assert!(step1.body.contains("Nom de naissance : le caractère"));
    assert!(
        step1
            .body
            .contains("Date de naissance : cette date n&#39;existe pas."),
        "{}",
        step1.body
    );
    assert!(
        step1
            .body
            .contains("Adresse e-mail : elle doit avoir la forme")
    );
    // a future birth date and a huge list of first names
    let many = vec!["Jean"; 40].join(" ");
    let step1 = b
        .submit(
            "/compte/creer",
            "/compte/creer",
            &[
                ("nom", "Durand"),
                ("prenoms", &many),
                ("naissance", "2999-01-01"),
                ("email", "a@exemple.fr"),
            ],
        )
        .await;
    assert!(
        step1.body.contains("Prénoms : 12 prénoms au plus."),
        "{}",
        step1.body
    );
    assert!(step1.body.contains("futur"));
    // weak and mismatched passwords
    let fields = [
        ("nom", "Durand"),
        ("prenoms", "Camille"),
        ("naissance", "12/04/2003"),
        ("email", "camille@exemple.fr"),
    ];
    for (password, confirmation, message) in [
        ("court", "court", "12 caractères au moins"),
        ("motdepasse123", "motdepasse123", "trop simple"),
        ("durand durand 2003", "durand durand 2003", "ni votre nom"),
        (
            "cheval agrafe batterie",
            "cheval agrafe batteri",
            "différents",
        ),
    ] {
        let token = b.get("/compte/creer").await.csrf();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(&fields);
        all.extend_from_slice(&[("mot_de_passe", password), ("confirmation", confirmation)]);
        let page = b.post_form("/compte/creer/confirmer", &all).await;
        assert_eq!(page.status, 422, "{password}");
        assert!(page.body.contains(message), "{password}: {}", page.body);
        assert!(
            !page.body.contains(password),
            "a password is never echoed back"
        );
    }
    assert!(app.mails().await.is_empty(), "no account was created");
    // a forged or truncated confirmation link
    for token in ["", "abc", "0123.456.789", &"f".repeat(5000)] {
        let page = b.get(&format!("/compte/confirmer?jeton={token}")).await;
        assert_eq!(page.status, 400, "{token}");
        assert!(page.body.contains("Lien invalide ou expiré"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_forms_do_not_tell_which_addresses_have_a_profile() {
    let app = TestApp::new().await;
    let _ = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    let mut b = app.browser();
    let again = b
        .register(
            "Autre",
            "Personne",
            "01/01/2000",
            "camille@exemple.fr",
            PASSWORD,
        )
        .await;
    let fresh = b
        .register(
            "Autre",
            "Personne",
            "01/01/2000",
            "nouveau@exemple.fr",
            PASSWORD,
        )
        .await;
    assert_eq!(again.status, fresh.status);
    assert!(
        again.body.contains("Consultez votre messagerie")
            && fresh.body.contains("Consultez votre messagerie")
    );
    let strip = |p: &Page| p.stable();
    assert_eq!(strip(&again), strip(&fresh));

    let known = b
        .submit(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", "camille@exemple.fr")],
        )
        .await;
    let unknown = b
        .submit(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", "personne@exemple.fr")],
        )
        .await;
    assert_eq!(known.status, 200);
    assert_eq!(strip(&known), strip(&unknown));

    let wrong_password = b
        .login("camille@exemple.fr", "pas le bon mot de passe")
        .await;
    let no_account = b
        .login("personne@exemple.fr", "pas le bon mot de passe")
        .await;
    assert_eq!(wrong_password.status, 422);
    assert_eq!(
        strip(&wrong_password).replace("camille@exemple.fr", "X"),
        strip(&no_account).replace("personne@exemple.fr", "X")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_reset_link_works_once_and_ends_every_session() {
    a_password_reset_link_works_once_and_ends_every_session_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_reset_link_works_once_and_ends_every_session_on_postgresql_as_the_web_role() {
    a_password_reset_link_works_once_and_ends_every_session_on(
        TestApp::on_postgres_as_web_role().await,
    )
    .await;
}

async fn a_password_reset_link_works_once_and_ends_every_session_on(app: TestApp) {
    let mut b = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    let mut other = app.browser();
    other
        .submit(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", "camille@exemple.fr")],
        )
        .await;
    // the reset mail is queued off the request
    let Mail::PasswordReset { token, .. } = app
        .wait_for_mail(|m| matches!(m, Mail::PasswordReset { .. }))
        .await
    else {
        unreachable!()
    };
    let token = token.expose().to_owned();
    let form = other
        .get(&format!("/compte/mot-de-passe?jeton={token}"))
        .await;
    assert_eq!(form.status, 200);
    let new_password = "nouvelle phrase secrete";
    let done = other
        .submit(
            &format!("/compte/mot-de-passe?jeton={token}"),
            "/mot-de-passe/nouveau",
            &[
                ("jeton", &token),
                ("mot_de_passe", new_password),
                ("confirmation", new_password),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Mot de passe changé"));
    // the owner is told by mail (a reset they did not ask for must not go unnoticed)
    assert!(matches!(
        app.wait_for_mail(|m| matches!(m, Mail::SecurityChange { .. }))
            .await,
        Mail::SecurityChange {
            change: sand_domain::ports::SecurityChange::PasswordReset,
            ..
        }
    ));
    // the old session is gone
    assert_sent_to_login(&b.get("/espace").await);
    assert_eq!(
        other
            .get(&format!("/compte/mot-de-passe?jeton={token}"))
            .await
            .status,
        400,
        "single use"
    );
    assert_eq!(
        other.login("camille@exemple.fr", PASSWORD).await.status,
        422
    );
    assert_eq!(
        other.login("camille@exemple.fr", new_password).await.status,
        303
    );
    // (expiry, on fresh links just under and just over the hour:
    // blind_spots::a_reset_link_works_just_before_its_hour_and_not_just_after)
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_end_at_logout_after_idling_and_after_their_absolute_lifetime() {
    sessions_end_at_logout_after_idling_and_after_their_absolute_lifetime_on(TestApp::new().await)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_end_at_logout_after_idling_and_after_their_absolute_lifetime_on_postgresql_as_the_web_role()
 {
    sessions_end_at_logout_after_idling_and_after_their_absolute_lifetime_on(
        TestApp::on_postgres_as_web_role().await,
    )
    .await;
}

async fn sessions_end_at_logout_after_idling_and_after_their_absolute_lifetime_on(app: TestApp) {
    let mut b = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    let stolen = b.cookies.clone();
    let out = b.submit("/espace", "/deconnexion", &[]).await;
    assert_eq!(out.status, 303);
    let mut replay = app.browser();
    replay.cookies = stolen;
    // a logged-out session id is dead
    assert_sent_to_login(&replay.get("/espace").await);

    let mut idle = app
        .signed_in("Martin", "Paul", "2002-01-01", "paul@exemple.fr")
        .await;
    app.clock.advance(time::Duration::minutes(29));
    assert_eq!(idle.get("/espace").await.status, 200);
    app.clock.advance(time::Duration::minutes(29));
    assert_eq!(
        idle.get("/espace").await.status,
        200,
        "activity keeps it alive"
    );
    app.clock.advance(time::Duration::minutes(31));
    assert_sent_to_login(&idle.get("/espace").await);

    let mut busy = app
        .signed_in("N'Diaye", "Aminata", "2002-11-30", "aminata@exemple.fr")
        .await;
    // active every 25 minutes: in for 28 steps (11 h 40 min), out at the 29th (12 h 5 min)
    for step in 1..=28 {
        app.clock.advance(time::Duration::minutes(25));
        assert_eq!(busy.get("/espace").await.status, 200, "step {step}");
    }
    app.clock.advance(time::Duration::minutes(25));
    // 12 hours at most
    assert_sent_to_login(&busy.get("/espace").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn verification_is_rate_limited_per_client_and_per_key() {
    let app = TestApp::with(|s| {
        s.limits.verifications_per_client_per_minute = 3;
    })
    .await;
    let mut b = app.browser();
    for i in 0..3 {
        let page = b
            .submit(
                "/verifier",
                "/verifier",
                &[("cle", &format!("ABCD123{i}")), ("nom", "Durand")],
            )
            .await;
        assert_eq!(page.status, 200);
    }
    let refused = b
        .submit(
            "/verifier",
            "/verifier",
            &[("cle", "ABCD1239"), ("nom", "Durand")],
        )
        .await;
    assert_eq!(refused.status, 429);
    assert!(refused.body.contains("Trop de demandes"));
    assert_eq!(refused.header("retry-after"), "60");
    let api = b
        .post_json(
            "/api/v1/verifications",
            &serde_json::json!({"cle": "ABCD1239", "nom": "Durand"}),
        )
        .await;
    assert_eq!(api.status, 429);

    let per_key = TestApp::with(|s| s.limits.wrong_answers_per_key_per_client_per_day = 2).await;
    let mut b = per_key.browser();
    for _ in 0..2 {
        assert_eq!(
            b.post_json(
                "/api/v1/verifications",
                &serde_json::json!({"cle": "ABCD-1234", "nom": "X"})
            )
            .await
            .status,
            200
        );
    }
    assert_eq!(
        b.post_json(
            "/api/v1/verifications",
            &serde_json::json!({"cle": "abcd 1234", "nom": "Y"})
        )
        .await
        .status,
        429
    );
    assert_eq!(
        b.post_json(
            "/api/v1/verifications",
            &serde_json::json!({"cle": "ABCD1235", "nom": "X"})
        )
        .await
        .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_and_attach_attempts_are_rate_limited() {
    let app = TestApp::with(|s| {
        s.limits.logins_per_client_per_minute = 2;
        s.limits.attaches_per_profile_per_hour = 1;
    })
    .await;
    let mut b = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    assert_eq!(b.attach("BTS", "2019", "01").await.status, 200);
    assert_eq!(b.attach("BACG", "2021", "10").await.status, 429);
    let mut guesser = app.browser();
    assert_eq!(
        guesser.login("camille@exemple.fr", "essai un").await.status,
        422
    );
    assert_eq!(
        guesser
            .login("camille@exemple.fr", "essai deux")
            .await
            .status,
        429,
        "two logins a minute"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_verifies_one_or_a_batch_and_serves_its_document_and_keys() {
    let app = TestApp::new().await;
    let mut owner = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    // the graduate's own API
    let attached = owner
        .post_json(
            "/api/v1/moi/diplomes",
            &serde_json::json!({"diplome": "BACG", "session": 2021, "academie": "10"}),
        )
        .await;
    assert_eq!(attached.status, 201, "{}", attached.body);
    let attached: serde_json::Value = serde_json::from_str(&attached.body).unwrap();
    let key = attached["cle"].as_str().unwrap().to_owned();
    let again = owner
        .post_json(
            "/api/v1/moi/diplomes",
            &serde_json::json!({"diplome": "BACG", "session": 2021, "academie": "10"}),
        )
        .await;
    assert_eq!(again.status, 200);
    let missing = owner
        .post_json(
            "/api/v1/moi/diplomes",
            &serde_json::json!({"diplome": "BTS", "session": 2019, "academie": "01"}),
        )
        .await;
    assert_eq!(missing.status, 422);
    // a machine reads a refusal: the one error schema, its request id, coded steps
    let refusal: serde_json::Value = serde_json::from_str(&missing.body).unwrap();
    assert_eq!(refusal["code"], "non_disponible");
    assert_eq!(refusal["request_id"], missing.header("x-request-id"));
    let steps = refusal["etapes"].as_array().unwrap();
    assert_eq!(steps[0]["code"], "verifier_catalogue");
    assert_eq!(steps[0]["lien"], "/catalogue");
    assert!(steps[0]["texte"].as_str().unwrap().starts_with("Vérifiez"));
    let standard = steps
        .iter()
        .find(|s| s["code"] == "procedure_habituelle")
        .unwrap();
    assert_eq!(standard["academie"], "01");
    assert_eq!(attached["diplome"], "BACG");
    assert_eq!(attached["diplome_nom"], "Baccalauréat général");
    assert_eq!(attached["session"], 2021);
    assert_eq!(attached["academie"], "10");
    assert_eq!(attached["academie_nom"], "Lyon");
    let list: serde_json::Value =
        serde_json::from_str(&owner.get("/api/v1/moi/diplomes").await.body).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    let mut verifier = app.browser();
    let one = verifier
        .post_json(
            "/api/v1/verifications",
            &serde_json::json!({"cle": key, "nom": "durand", "organisme": "ACME"}),
        )
        .await;
    let one: serde_json::Value = serde_json::from_str(&one.body).unwrap();
    assert_eq!(one["valide"], true);
    // codes and names, ISO 8601 dates, an integer session
    let diploma = &one["diplome"];
    assert_eq!(diploma["academie"], "10");
    assert_eq!(diploma["academie_nom"], "Lyon");
    assert_eq!(diploma["diplome"], "BACG");
    assert_eq!(diploma["diplome_nom"], "Baccalauréat général");
    assert_eq!(diploma["session"], 2021);
    assert_eq!(diploma["nom_naissance"], "Durand");
    assert_eq!(diploma["prenoms"], serde_json::json!(["Camille", "Marie"]));
    assert_eq!(diploma["date_naissance"], "2003-04-12");
    let deliberation = diploma["date_deliberation"].as_str().unwrap();
    assert!(
        time::Date::parse(
            deliberation,
            &time::format_description::well_known::Iso8601::DATE
        )
        .is_ok(),
        "{deliberation}"
    );
    let items: Vec<_> = (0..3)
        .map(|i| {
            if i == 1 {
                serde_json::json!({"cle": key, "nom": "Durand"})
            } else {
                serde_json::json!({"cle": "ZZZZZZZZ", "nom": "Durand"})
            }
        })
        .chain([serde_json::json!({"cle": "!", "nom": "Durand"})])
        .collect();
    let batch = verifier
        .post_json(
            "/api/v1/verifications/lot",
            &serde_json::json!({"verifications": items}),
        )
        .await;
    assert_eq!(batch.status, 200, "{}", batch.body);
    let batch: serde_json::Value = serde_json::from_str(&batch.body).unwrap();
    let valid: Vec<bool> = batch["resultats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["valide"].as_bool().unwrap())
        .collect();
    assert_eq!(valid, [false, true, false, false]);
    assert!(
        batch["resultats"][3]["erreur"]
            .as_str()
            .unwrap()
            .contains("8 caractères")
    );
    let too_many: Vec<_> = (0..101)
        .map(|_| serde_json::json!({"cle": "ZZZZZZZZ", "nom": "X"}))
        .collect();
    let refused = verifier
        .post_json(
            "/api/v1/verifications/lot",
            &serde_json::json!({"verifications": too_many}),
        )
        .await;
    assert_eq!(refused.status, 400);
    let malformed = verifier
        .request(
            Method::POST,
            "/api/v1/verifications",
            Some(("application/json", b"{\"cle\": 12".to_vec())),
        )
        .await;
    assert_eq!(malformed.status, 400);
    let form_post = verifier
        .request(
            Method::POST,
            "/api/v1/verifications",
            Some(("application/x-www-form-urlencoded", b"cle=A&nom=B".to_vec())),
        )
        .await;
    assert!(
        form_post.status == 400 || form_post.status == 415,
        "{}",
        form_post.status
    );

    // not signed in: 401 JSON
    let anonymous = verifier.get("/api/v1/moi/diplomes").await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.body.contains("non_connecte"));

    let doc: serde_json::Value =
        serde_json::from_str(&verifier.get("/api/v1/openapi.json").await.body).unwrap();
    assert!(doc["paths"]["/verifications"]["post"].is_object());
    let docs = verifier.get("/api/v1/docs").await;
    assert_eq!(docs.status, 200);
    assert!(
        docs.header("content-security-policy")
            .contains("script-src 'self' 'unsafe-inline'")
    );
    let keys: serde_json::Value = serde_json::from_str(
        &verifier
            .get("/.well-known/sand-attestation-keys.json")
            .await
            .body,
    )
    .unwrap();
    assert!(
        keys["cles"][0]["pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    let not_pdf = verifier
        .request(
            Method::POST,
            "/api/v1/attestations/controle",
            Some(("application/octet-stream", b"%PDF-1.7 nothing".to_vec())),
        )
        .await;
    assert!(not_pdf.body.contains("non_attestation"));

    // detach and delete through the API
    let id = attached["id"].as_str().unwrap();
    let renewed = owner
        .post_json(
            &format!("/api/v1/moi/diplomes/{id}/cle"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(renewed.status, 200);
    assert_eq!(
        owner
            .request(Method::DELETE, &format!("/api/v1/moi/diplomes/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        owner
            .request(Method::DELETE, "/api/v1/moi", None)
            .await
            .status,
        204
    );
    assert_eq!(owner.get("/api/v1/moi/diplomes").await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_tls_cookies_are_secure_host_only_and_hsts_is_sent() {
    let app = TestApp::with(|s| {
        s.public_url = "https://diplomes.example.fr".to_owned();
        s.secure = true;
    })
    .await;
    let mut b = app.browser();
    let home = b.get("/").await;
    assert_eq!(
        home.header("strict-transport-security"),
        "max-age=31536000; includeSubDomains"
    );
    let csrf_cookie = home.header("set-cookie");
    assert!(
        csrf_cookie.starts_with("__Host-sand-csrf=") && csrf_cookie.contains("Secure"),
        "{csrf_cookie}"
    );
    b.register(
        "Durand",
        "Camille Marie",
        "12/04/2003",
        "camille@exemple.fr",
        PASSWORD,
    )
    .await;
    let token = app.last_token().await;
    assert_eq!(b.confirm(&token, PASSWORD).await.status, 303);
    assert_eq!(b.log_out().await.status, 303);
    let login = b.login("camille@exemple.fr", PASSWORD).await;
    let session = login.header("set-cookie");
    assert!(
        session.starts_with("__Host-sand-session=")
            && session.contains("Secure")
            && session.contains("HttpOnly"),
        "{session}"
    );
    assert_eq!(b.get("/espace").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_exam_offices_page_shows_the_configured_contacts_and_attach_failures_link_to_them() {
    let shipped = sand_import::registry::shipped().unwrap();
    let mut issuers = shipped.all().to_vec();
    let lyon = issuers.iter_mut().find(|i| i.code == "10").unwrap();
    lyon.contact.service = "Division des examens — Lyon".to_owned();
    lyon.contact.email =
        Some(sand_domain::credentials::Email::parse("examens@academie-lyon.example").unwrap());
    let registry =
        sand_domain::issuer::IssuerRegistry::new(issuers, shipped.national().cloned()).unwrap();
    let app = TestApp::with(|s| s.issuers = std::sync::Arc::new(registry)).await;
    let mut b = app.browser();
    let page = b.get("/aide/services-examens").await;
    assert!(page.body.contains("id=\"academie-10\""));
    assert!(page.body.contains("Division des examens — Lyon"));
    assert!(page.body.contains("mailto:examens@academie-lyon.example"));
    assert!(
        page.body
            .contains("Service des examens et concours du rectorat de l&#39;académie de Bordeaux"),
        "the shipped name without contact"
    );
    let mut paul = app
        .signed_in("Martin", "Paul", "2002-01-01", "paul@exemple.fr")
        .await;
    let homonyms = paul.attach("BACG", "2021", "10").await;
    assert!(homonyms.body.contains("/aide/services-examens#academie-10"));
}

#[tokio::test(flavor = "multi_thread")]
async fn health_endpoints_answer_for_load_balancers() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    let live = b.get("/health/live").await;
    assert_eq!(live.status, 200);
    assert_eq!(live.body, r#"{"status":"ok"}"#);
    let ready = b.get("/health/ready").await;
    assert_eq!(ready.status, 200);

    #[derive(Debug)]
    struct Down;
    #[async_trait::async_trait]
    impl sand_domain::ports::ServiceHealth for Down {
        async fn ready(&self) -> Result<(), sand_domain::ports::NotReady> {
            Err(sand_domain::ports::NotReady::StoreUnreachable(
                sand_domain::PortError::unavailable("connection refused"),
            ))
        }

        async fn figures(
            &self,
        ) -> Result<sand_domain::ports::StoreFigures, sand_domain::PortError> {
            Err(sand_domain::PortError::unavailable("connection refused"))
        }
    }
    let down = TestApp::with_health(std::sync::Arc::new(Down)).await;
    let ready = down.browser().get("/health/ready").await;
    assert_eq!(ready.status, 503);
    assert!(ready.body.contains("base de données injoignable"));
    assert_eq!(down.browser().get("/health/live").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_verifications_and_attaches_by_outcome() {
    let app = TestApp::new().await;
    let metrics =
        poem::test::TestClient::new(sand_http::health::metrics_endpoint(app.state.clone()));
    let mut b = app.browser();
    assert_eq!(b.get("/").await.status, 200);
    assert_eq!(b.get("/nimporte/quoi").await.status, 404);
    let not_valid = Browser::verify(&app, "ABCD2345", "Durand").await;
    assert_eq!(not_valid.status, 200);
    let mut camille = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    assert_eq!(camille.attach("BACG", "2021", "10").await.status, 303);
    let mut paul = app
        .signed_in("Martin", "Paul", "2002-01-01", "paul@exemple.fr")
        .await;
    paul.attach("BACG", "2021", "10").await;

    let response = metrics.get("/metrics").send().await;
    response.assert_status_is_ok();
    response.assert_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8");
    let text = response.0.into_body().into_string().await.unwrap();
    for line in [
        r#"sand_http_requests_total{route="/",method="GET",status="200"} 1"#,
        r#"sand_http_requests_total{route="(inconnue)",method="GET",status="404"} 1"#,
        r#"sand_verifications_total{outcome="not_valid"} 1"#,
        r#"sand_verifications_total{outcome="valid"} 0"#,
        r#"sand_attaches_total{outcome="attached"} 1"#,
        r#"sand_attaches_total{outcome="homonyms"} 1"#,
        r#"sand_http_request_duration_seconds_count{route="/verifier"}"#,
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    // routes with ids are folded: the label set stays bounded
    assert!(!text.contains("/espace/diplomes/0"), "{text}");
    // the public address does not serve them
    assert_eq!(b.get("/metrics").await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_api_bodies_are_refused_before_they_are_read() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    let big = format!(
        "{{\"cle\":\"ABCD2345\",\"nom\":\"{}\"}}",
        "A".repeat(1024 * 1024)
    );
    for path in [
        "/api/v1/verifications",
        "/api/v1/verifications/lot",
        "/api/v1/moi/diplomes",
    ] {
        let page = b
            .request(
                poem::http::Method::POST,
                path,
                Some(("application/json", big.clone().into_bytes())),
            )
            .await;
        assert_eq!(page.status, 413, "{path}: {}", page.body);
        assert!(
            page.body.contains("\"code\":\"trop_volumineux\""),
            "{}",
            page.body
        );
    }
    // a PDF may be larger than JSON, up to its own limit
    let pdf = vec![b'%'; 10 * 1024 * 1024];
    let page = b
        .request(
            poem::http::Method::POST,
            "/api/v1/attestations/controle",
            Some(("application/pdf", pdf)),
        )
        .await;
    assert_eq!(page.status, 413);
}
