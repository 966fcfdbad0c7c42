//! The graduate's experience: no surprise, no dead end, nothing typed twice.

use crate::key_of;
use crate::support::*;
use sand_domain::ports::Mail;

/// "Corriger mon identité" on the confirmation step goes back to the form with what was
/// typed (never a password), and "Profil supprimé" offers to create a new profile (the
/// support memo's fix for a wrong identity).
#[tokio::test(flavor = "multi_thread")]
async fn correcting_the_identity_keeps_what_was_typed_and_a_deleted_profile_leads_to_a_new_one() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    let fields = [
        ("nom", "Lefort"),
        ("prenoms", "Camille Marie"),
        ("naissance", "12/04/2003"),
        ("email", "camille.lefort@exemple.fr"),
    ];
    let step1 = b.submit("/compte/creer", "/compte/creer", &fields).await;
    assert_eq!(step1.status, 200, "{}", step1.body);
    assert!(
        step1.body.contains(
            r#"formaction="/compte/creer/corriger" formnovalidate>Corriger mon identité"#
        ),
        "the correction sends what was typed back, not a bare link: {}",
        step1.body
    );
    let token = step1.csrf();
    let mut sent = vec![("csrf", token.as_str())];
    sent.extend_from_slice(&fields);
    sent.extend_from_slice(&[
        ("mot_de_passe", "une phrase secrète"),
        ("confirmation", "x"),
    ]);
    let form = b.post_form("/compte/creer/corriger", &sent).await;
    assert_eq!(form.status, 200, "{}", form.body);
    for (name, value) in fields {
        assert!(
            form.body.contains(&format!(r#"name="{name}""#))
                && form.body.contains(&format!(r#"value="{value}""#)),
            "{name} keeps {value:?}"
        );
    }
    assert!(
        !form.body.contains("une phrase secrète"),
        "never the password"
    );
    assert!(
        app.mails().await.is_empty(),
        "correcting creates nothing and mails nobody"
    );

    // a profile deleted: the way forward is a new one
    let mut graduate = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    let deleted = graduate
        .submit("/espace/profil/supprimer", "/espace/profil/supprimer", &[])
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert!(deleted.body.contains("Profil supprimé"));
    assert!(
        deleted
            .body
            .contains(r#"<a class="button" href="/compte/creer">Créer un nouveau profil</a>"#),
        "{}",
        deleted.body
    );
}

/// Words the service no longer says: one word for e-mail ("adresse e-mail"), names that
/// include everyone, the key's alphabet as it is, the verification's name rule as it is.
const RETIRED: &[(&str, &str)] = &[
    ("adresse électronique", "say « adresse e-mail »"),
    ("courriel", "say « e-mail »"),
    (
        "marié depuis",
        "say it for everyone: « même si votre nom a changé depuis »",
    ),
    (
        "sans I, L, O ni U",
        "I, L and O are read as 1 and 0: only U is never in a key",
    ),
    (
        "seulement avec votre nom de naissance.",
        "the usage name verifies too",
    ),
];

#[test]
fn templates_and_texts_do_not_use_retired_words() {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for dir in [
        "sand-http/templates",
        "sand-http/src",
        "sand-mail/templates",
        "sand-mail/src",
        "sand-attestation/src",
    ] {
        let mut stack = vec![crates.join(dir)];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (word, why) in RETIRED {
                for (n, line) in text.lines().enumerate() {
                    if line.to_lowercase().contains(word) {
                        found.push(format!("{}:{}: « {word} »: {why}", path.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// A refused login says what happened, not that "the form contains errors"; the exam
/// offices of the Pacific are vice-rectorats.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_login_is_not_a_form_error_and_vice_rectorats_are_named() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    let refused = b
        .login("personne@exemple.fr", "pas le bon mot de passe")
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("Adresse e-mail ou mot de passe incorrect.")
    );
    assert!(
        !refused.body.contains("Le formulaire contient des erreurs"),
        "{}",
        refused.body
    );
    let offices = b
        .get("/aide/services-examens")
        .await
        .body
        .replace("&#39;", "'");
    assert!(
        offices.contains("Service des examens et concours du vice-rectorat de Polynésie française")
    );
    assert!(!offices.contains("rectorat de l'académie de Polynésie"));
    assert!(offices.contains("Service des examens et concours du rectorat de l'académie de Lyon"));
}

/// A diploma from before 2009 is not covered: the attach form says so before anyone
/// tries, and a session before 2009 is answered with that and where to ask, not with a
/// format error.
#[tokio::test(flavor = "multi_thread")]
async fn a_session_before_2009_is_said_to_be_uncovered_with_where_to_ask() {
    let app = TestApp::new().await;
    let mut b = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    let dashboard = b.get("/espace").await.body.replace("&#39;", "'");
    assert!(
        dashboard.contains("Diplôme obtenu avant 2009 ?"),
        "{dashboard}"
    );
    let early = b.attach("BACG", "2005", "10").await;
    assert_eq!(early.status, 422, "{}", early.body);
    let text = early.body.replace("&#39;", "'");
    assert!(
        text.contains("iplômes obtenus avant 2009 ne sont pas couverts par ce service"),
        "{text}"
    );
    assert!(!text.contains("sur quatre chiffres"), "not a format error");
    let garbage = b.attach("BACG", "deux mille", "10").await;
    assert!(garbage.body.contains("sur quatre chiffres"));
}

/// A session that ends is said to have ended, and signing in again leads back to the
/// page asked for — never to another site.
#[tokio::test(flavor = "multi_thread")]
async fn an_ended_session_is_said_so_and_signing_in_again_returns_to_the_page_asked_for() {
    let app = TestApp::new().await;
    let mut b = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    app.clock.advance(time::Duration::minutes(31));
    let asked = b.get("/espace/profil").await;
    assert_eq!(asked.status, 303);
    assert_eq!(
        asked.location(),
        "/connexion?expiree=1&retour=%2Fespace%2Fprofil"
    );
    let login = b.get(asked.location()).await;
    assert!(
        login.body.contains("Votre session a pris fin"),
        "{}",
        login.body
    );
    assert!(
        login
            .body
            .contains(r#"<input type="hidden" name="retour" value="/espace/profil">"#),
        "{}",
        login.body
    );
    let token = login.csrf();
    let back = b
        .post_form(
            "/connexion",
            &[
                ("csrf", token.as_str()),
                ("email", "camille@exemple.fr"),
                ("mot_de_passe", PASSWORD),
                ("retour", "/espace/profil"),
            ],
        )
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(back.location(), "/espace/profil");

    // without a session (never signed in): no "ended", still the way back
    let stranger = app.browser().get("/espace").await;
    assert_eq!(stranger.location(), "/connexion?retour=%2Fespace");

    // another site, or a page outside the space, is never where a login leads
    for evil in [
        "//evil.example/espace",
        "https://evil.example/",
        "/espace//evil.example",
        "/aide",
        "/espace/\u{0}",
    ] {
        let mut other = app.browser();
        let form = other.get("/connexion").await.csrf();
        let landed = other
            .post_form(
                "/connexion",
                &[
                    ("csrf", form.as_str()),
                    ("email", "camille@exemple.fr"),
                    ("mot_de_passe", PASSWORD),
                    ("retour", evil),
                ],
            )
            .await;
        assert_eq!(landed.location(), "/espace", "{evil:?}");
        let page = other
            .get(&format!(
                "/connexion?{}",
                serde_urlencoded::to_string([("retour", evil)]).unwrap()
            ))
            .await;
        assert_eq!(page.location(), "/espace", "{evil:?}: already signed in");
    }
}

/// What a screen reader hears once: a field's hint is its description, never also part
/// of its name; the first names field can be filled in; the demonstration banner is in a
/// landmark; the footer says the API page is Swagger's, in English.
#[tokio::test(flavor = "multi_thread")]
async fn hints_are_read_once_and_every_part_of_the_page_is_where_it_says() {
    // every template, the back office's (templates/staff) too
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")];
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.iter().any(|f| f.ends_with("staff/login.html")));
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for label in text.split("<label").skip(1) {
            let inside = label.split("</label>").next().unwrap_or_default();
            assert!(
                !inside.contains("class=\"hint\""),
                "{}: a hint inside a label is read twice: <label{inside}",
                path.display()
            );
        }
    }
    let app = TestApp::with(|s| s.demo = true).await;
    let mut b = app.browser();
    let register = b.get("/compte/creer").await;
    assert!(register.body.contains(
        r#"name="prenoms" type="text" required maxlength="400" autocomplete="given-name""#
    ));
    let home = b.get("/").await;
    assert!(
        home.body
            .contains(r#"<section class="demo-banner" aria-label="Site de démonstration">"#),
        "the banner is a named region"
    );
    assert!(
        home.body
            .contains("documentation interactive Swagger, en anglais")
    );
}

/// A login refused because the address is not confirmed says so first, with the way to
/// get a new link right there — not after the whole login form.
#[tokio::test(flavor = "multi_thread")]
async fn an_unconfirmed_login_offers_a_new_link_before_the_form() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    b.register(
        "Durand",
        "Camille Marie",
        "12/04/2003",
        "camille@exemple.fr",
        PASSWORD,
    )
    .await;
    let refused = b.login("camille@exemple.fr", PASSWORD).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let body = refused.body.replace("&#39;", "'");
    let notice = body
        .find("Votre adresse e-mail n'est pas encore confirmée")
        .expect("the notice");
    let resend = body
        .find(r#"action="/compte/renvoyer""#)
        .expect("the resend form");
    let login = body.find(r#"action="/connexion""#).expect("the login form");
    assert!(
        notice < resend && resend < login,
        "notice, then its action, then the form"
    );
    assert_eq!(
        body.matches("role=\"alert\"").count(),
        1,
        "said once: {body}"
    );
}

/// An outcome is announced on arrival: the page's title says it first (a verification's
/// answer, a diploma attached, a form with errors).
#[tokio::test(flavor = "multi_thread")]
async fn the_page_title_says_the_outcome_first() {
    let app = TestApp::new().await;
    let mut b = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    let attached = b.attach("BACG", "2021", "10").await;
    assert_eq!(attached.status, 303, "{}", attached.body);
    let space = b.get(attached.location()).await;
    assert!(
        space
            .body
            .contains("<title>Diplôme rattaché — Mon espace — "),
        "{}",
        space.body
    );
    let key = space.text_after("class=\"key\">").replace(' ', "");
    let valid = Browser::verify(&app, &key, "Durand").await;
    assert!(
        valid
            .body
            .contains("<title>Attestation valide — Vérifier un diplôme — ")
    );
    let invalid = Browser::verify(&app, &key, "Martin").await;
    assert!(
        invalid
            .body
            .contains("<title>Aucune attestation valide — Vérifier un diplôme — ")
    );
    let mut verifier = app.browser();
    let malformed = verifier
        .submit(
            "/verifier",
            "/verifier",
            &[("cle", "??"), ("nom", "Durand")],
        )
        .await;
    assert_eq!(malformed.status, 422);
    assert!(
        malformed
            .body
            .contains("<title>Erreur : Vérifier un diplôme — ")
    );
}

/// The accessibility statement says the status (partial until an audit says otherwise,
/// also in the footer's link), what does not conform, how to report a difficulty, the
/// recourse and the plan — from the operator's configuration, honest when it is missing.
#[tokio::test(flavor = "multi_thread")]
async fn the_accessibility_statement_is_one() {
    let bare = TestApp::new().await;
    let page = bare.browser().get("/accessibilite").await;
    let body = page.body.replace("&#39;", "'");
    for said in [
        "Déclaration d'accessibilité",
        "<strong>partiellement conforme</strong>",
        "Aucun audit de conformité n'a encore été réalisé",
        "Contenus non accessibles",
        "n'a pas encore indiqué de moyen de contact",
        "Défenseur des droits",
        "Libre réponse 71120",
        "Aucun schéma pluriannuel",
        "Accessibilité : partiellement conforme</a>",
    ] {
        assert!(body.contains(said), "{said}: {body}");
    }
    let home = bare.browser().get("/").await;
    assert!(
        home.body
            .contains("Accessibilité : partiellement conforme</a>")
    );

    let configured = TestApp::with(|s| {
        s.accessibility = sand_http::AccessibilityStatement {
            conformance: sand_http::Conformance::Full,
            contact: "accessibilite@exemple.fr".to_owned(),
            audit:
                "Audit du 2 mars 2026 par Exemple Audit : 100 % des critères applicables respectés."
                    .to_owned(),
            plan: "https://exemple.fr/schema".to_owned(),
        };
    })
    .await;
    let body = configured.browser().get("/accessibilite").await.body;
    for said in [
        "<strong>totalement conforme</strong>",
        r#"<a href="mailto:accessibilite@exemple.fr">accessibilite@exemple.fr</a>"#,
        "Audit du 2 mars 2026 par Exemple Audit",
        r#"<a href="https://exemple.fr/schema">"#,
        "Accessibilité : totalement conforme</a>",
    ] {
        assert!(body.contains(said), "{said}: {body}");
    }
}

/// With the diploma attached to an older profile of the graduate's, attaching from a new
/// one says the likely cause first — another profile of theirs, how to reach it — and the
/// exam office after; FranceConnect's way is told only where it is offered.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_profile_of_your_own_is_told_first_as_the_likely_cause() {
    for franceconnect in [false, true] {
        let app = if franceconnect {
            TestApp::with_provider(std::sync::Arc::new(
                sand_domain::ports::MockIdentityProvider::new(),
            ))
            .await
        } else {
            TestApp::new().await
        };
        let mut older = app
            .signed_in(
                "Durand",
                "Camille Marie",
                "2003-04-12",
                "camille@exemple.fr",
            )
            .await;
        assert_eq!(older.attach("BACG", "2021", "10").await.status, 303);
        let mut newer = app
            .signed_in(
                "Durand",
                "Camille Marie",
                "2003-04-12",
                "camille.durand@exemple.fr",
            )
            .await;
        let refused = newer.attach("BACG", "2021", "10").await;
        let body = refused.body.replace("&#39;", "'");
        let yours = body
            .find("le plus souvent un autre profil à vous")
            .unwrap_or_else(|| panic!("{body}"));
        let office = body
            .find("Contactez le service des examens")
            .unwrap_or_else(|| panic!("{body}"));
        assert!(yours < office, "the likely cause first");
        assert!(body.contains(r#"href="/mot-de-passe-oublie""#));
        assert_eq!(
            body.contains("connectez-vous avec FranceConnect"),
            franceconnect
        );

        let api = newer
            .post_json(
                "/api/v1/moi/diplomes",
                &serde_json::json!({"diplome": "BACG", "session": 2021, "academie": "10"}),
            )
            .await;
        assert_eq!(api.status, 422, "{}", api.body);
        let steps: serde_json::Value = serde_json::from_str(&api.body).unwrap();
        let codes: Vec<&str> = steps["etapes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["autre_profil", "contacter_service_examens"]);
    }
}

/// The key-change confirmation answers only for one of the graduate's own diplomas: a
/// malformed id, an unknown one and another graduate's are the same "not found", and
/// nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn the_key_change_confirmation_is_for_ones_own_diplomas_only() {
    let app = TestApp::new().await;
    let mut owner = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    let attached = owner.attach("BACG", "2021", "10").await;
    let space = owner.get(attached.location()).await;
    let start = space.body.find("/espace/diplomes/").unwrap() + "/espace/diplomes/".len();
    let link = space.body[start..start + 36].to_owned();
    let key = space.text_after("class=\"key\">").replace(' ', "");

    let mut other = app
        .signed_in("Martin", "Paul", "2002-01-01", "paul@exemple.fr")
        .await;
    for id in [
        "pas-un-identifiant",
        "00000000-0000-0000-0000-000000000000",
        &"9".repeat(300),
        link.as_str(),
    ] {
        let page = other.get(&format!("/espace/diplomes/{id}/cle")).await;
        assert_eq!(page.status, 404, "{id}: {}", page.body);
        assert!(!page.body.contains(&key));
    }
    let mine = owner.get(&format!("/espace/diplomes/{link}/cle")).await;
    assert_eq!(mine.status, 200);
    let after = owner.get("/espace").await;
    assert_eq!(after.text_after("class=\"key\">").replace(' ', ""), key);
}

/// Times people read are Paris times, summer time included (a verification at 22:30 UTC
/// on 30 June is "1er juillet à 0h30"); the API keeps UTC with its offset.
#[tokio::test(flavor = "multi_thread")]
async fn times_are_shown_in_paris_time_and_the_api_keeps_utc() {
    let app = TestApp::new().await;
    // From the tests' 24 November 2026, 10:00 UTC to 30 June 2027, 22:30 UTC.
    app.clock
        .advance(time::macros::datetime!(2027-06-30 22:30 UTC) - sand_testkit::fixtures::NOW);
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
    assert!(
        Browser::verify(&app, &key, "Durand")
            .await
            .body
            .contains("Attestation valide")
    );
    let dashboard = camille.get("/espace").await;
    assert!(
        dashboard.body.contains("1er juillet 2027 à 0h30"),
        "{}",
        dashboard.body
    );
    assert!(dashboard.body.contains("Heures de Paris"));
    assert!(!dashboard.body.contains("UTC"));
    assert!(
        dashboard.body.contains("depuis le 1er juillet 2027"),
        "the key's day is Paris's day too"
    );
    let api = camille.get("/api/v1/moi/diplomes").await;
    assert!(
        api.body.contains(r#""le":"2027-06-30T22:30:00Z""#),
        "{}",
        api.body
    );
}

/// The "your attestation was verified" mails: off by default, turned on from the profile,
/// and each mail stops them in one step — its page's button, or a mail client's one-click
/// POST (RFC 8058) that carries no CSRF token and no cookie.
#[tokio::test(flavor = "multi_thread")]
async fn verification_notices_are_chosen_in_the_profile_and_stopped_from_each_mail() {
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
    let verified_mails = |mails: &[Mail]| -> Vec<String> {
        mails
            .iter()
            .filter_map(|m| match m {
                Mail::AttestationVerified { stop, .. } => Some(stop.expose().to_owned()),
                _ => None,
            })
            .collect()
    };

    // off by default: a verification mails nobody
    let profile = camille.get("/espace/profil").await;
    assert!(profile.body.contains("Désactivé."), "{}", profile.body);
    app.mails().await;
    assert!(
        Browser::verify(&app, &key, "Durand")
            .await
            .body
            .contains("Attestation valide")
    );
    assert!(verified_mails(&app.mails().await).is_empty());

    // a choice other than yes or no changes nothing
    let odd = camille
        .submit(
            "/espace/profil",
            "/espace/profil/notifications",
            &[("prevenir", "peut-être")],
        )
        .await;
    assert_eq!(odd.status, 400);
    // nobody chooses for someone else: an anonymous post is sent to the login page
    let mut stranger = app.browser();
    let token = stranger.get("/connexion").await.csrf();
    let anonymous = stranger
        .post_form(
            "/espace/profil/notifications",
            &[("csrf", &token), ("prevenir", "oui")],
        )
        .await;
    assert_sent_to_login(&anonymous);

    // turned on from the profile, said in the title
    let on = camille
        .submit(
            "/espace/profil",
            "/espace/profil/notifications",
            &[("prevenir", "oui")],
        )
        .await;
    assert_eq!(on.status, 303);
    assert_eq!(on.location(), "/espace/profil?avis=prevenu#verifications");
    let profile = camille.get(on.location()).await;
    assert!(
        profile
            .body
            .contains("<title>Vous serez prévenu des vérifications — Mon profil")
    );
    assert!(profile.body.contains("Activé : vous recevez un e-mail"));
    assert!(
        Browser::verify(&app, &key, "Durand")
            .await
            .body
            .contains("Attestation valide")
    );
    let stops = verified_mails(&app.mails().await);
    assert_eq!(stops.len(), 1, "one verification, one mail");
    let stop_path = format!("/notifications/arreter?jeton={}", stops[0]);

    // the mail's link: a page with one button (following the link stops nothing)
    let mut mailbox = app.browser();
    let page = mailbox.get(&stop_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("camille@exemple.fr"));
    assert!(page.body.contains(">Ne plus être prévenu</button>"));
    assert!(camille.get("/espace/profil").await.body.contains("Activé"));
    // a forged or altered token is refused and changes nothing
    for forged in ["n-importe-quoi", &format!("{}x", stops[0])] {
        let refused = mailbox
            .request(
                poem::http::Method::POST,
                &format!("/notifications/arreter?jeton={forged}"),
                Some((
                    "application/x-www-form-urlencoded",
                    b"List-Unsubscribe=One-Click".to_vec(),
                )),
            )
            .await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(refused.body.contains("Lien invalide ou expiré"));
    }
    assert!(camille.get("/espace/profil").await.body.contains("Activé"));

    // the mail client's one-click POST: no cookie, no CSRF token
    let mut mail_client = app.browser();
    let stopped = mail_client
        .request(
            poem::http::Method::POST,
            &stop_path,
            Some((
                "application/x-www-form-urlencoded",
                b"List-Unsubscribe=One-Click".to_vec(),
            )),
        )
        .await;
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    assert!(
        stopped
            .body
            .contains("Vous ne serez plus prévenu des vérifications")
    );
    assert!(
        camille
            .get("/espace/profil")
            .await
            .body
            .contains("Désactivé.")
    );
    assert!(
        Browser::verify(&app, &key, "Durand")
            .await
            .body
            .contains("Attestation valide")
    );
    assert!(verified_mails(&app.mails().await).is_empty(), "stopped");
    // the link again: said to be already stopped, not an error
    let again = app.browser().get(&stop_path).await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("déjà plus prévenu"));

    // an oversized body at the stop address is refused unread
    let huge = vec![b'a'; 2 * 1024 * 1024];
    let refused = app
        .browser()
        .request(
            poem::http::Method::POST,
            &stop_path,
            Some(("application/x-www-form-urlencoded", huge)),
        )
        .await;
    assert_eq!(refused.status, 413);
}

/// RGAA's error pattern on every form: the title starts with "Erreur :", a summary that
/// takes the focus lists every error at once, each a link to its field, and each field
/// in error is marked (`aria-invalid`) and described by its message, after its hint.
#[tokio::test(flavor = "multi_thread")]
async fn form_errors_follow_the_rgaa_pattern_all_at_once() {
    fn assert_pattern(page: &Page, fields: &[&str]) {
        let body = page.body.replace("&#39;", "'");
        assert_eq!(page.status, 422, "{body}");
        assert!(body.contains("<title>Erreur : "), "{body}");
        let summary = body
            .find(r#"id="erreurs" tabindex="-1" autofocus"#)
            .unwrap_or_else(|| panic!("a summary that takes the focus: {body}"));
        let count = if fields.len() == 1 {
            "Le formulaire contient une erreur".to_owned()
        } else {
            format!("Le formulaire contient {} erreurs", fields.len())
        };
        assert!(body.contains(&count), "{count}: {body}");
        for field in fields {
            let link = body
                .find(&format!(r##"<a href="#{field}">"##))
                .unwrap_or_else(|| panic!("the summary links to {field}: {body}"));
            assert!(link > summary);
            let message = body
                .find(&format!(r#"<p class="error-text" id="{field}-erreur">"#))
                .unwrap_or_else(|| panic!("{field}'s message: {body}"));
            let input = body
                .find(&format!(r#" id="{field}" "#))
                .unwrap_or_else(|| panic!("{field}'s input: {body}"));
            assert!(message < input, "the message before the input");
            let tag = &body[input..input + body[input..].find('>').unwrap()];
            assert!(tag.contains(r#"aria-invalid="true""#), "{tag}");
            assert!(
                tag.contains(&format!("{field}-erreur\"")),
                "described by its message: {tag}"
            );
        }
        assert_eq!(
            body.matches(r#"aria-invalid="true""#).count(),
            fields.len(),
            "{body}"
        );
        assert_eq!(body.matches("autofocus").count(), 1, "one focus: {body}");
    }

    let app = TestApp::new().await;
    let mut b = app.browser();
    // verify: an empty form reports the key and the name at once; the key's hint (its
    // alphabet) comes before the error and both describe the field
    let verify = b
        .submit("/verifier", "/verifier", &[("cle", ""), ("nom", "")])
        .await;
    assert_pattern(&verify, &["cle", "nom"]);
    assert!(
        verify
            .body
            .contains(r#"aria-describedby="cle-aide cle-erreur""#)
    );
    let everything = b
        .submit(
            "/verifier",
            "/verifier",
            &[
                ("cle", "??"),
                ("nom", ""),
                ("naissance", "31/02"),
                ("organisme", &"x".repeat(300)),
            ],
        )
        .await;
    assert_pattern(&everything, &["cle", "nom", "naissance", "organisme"]);
    // register: every field at once
    let register = b
        .submit(
            "/compte/creer",
            "/compte/creer",
            &[
                ("nom", ""),
                ("prenoms", ""),
                ("naissance", "hier"),
                ("email", "pas-une-adresse"),
            ],
        )
        .await;
    assert_pattern(&register, &["nom", "prenoms", "naissance", "email"]);
    // login: empty fields are form errors; wrong credentials are a refusal, focused too
    let login = b
        .submit(
            "/connexion",
            "/connexion",
            &[("email", ""), ("mot_de_passe", "")],
        )
        .await;
    assert_pattern(&login, &["email", "mot_de_passe"]);
    let refused = b
        .login("personne@exemple.fr", "pas le bon mot de passe")
        .await;
    assert!(
        refused
            .body
            .contains(r#"role="alert" tabindex="-1" autofocus"#),
        "{}",
        refused.body
    );
    assert!(!refused.body.contains("aria-invalid"));
    // forgot
    let forgot = b
        .submit(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", "x@")],
        )
        .await;
    assert_pattern(&forgot, &["email"]);
    // reset: the password's rule
    b.get("/mot-de-passe-oublie").await;
    let mut camille = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    camille.log_out().await;
    let sent = b
        .submit(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", "camille@exemple.fr")],
        )
        .await;
    assert_eq!(sent.status, 200);
    let Mail::PasswordReset { token, .. } = app
        .wait_for_mail(|m| matches!(m, Mail::PasswordReset { .. }))
        .await
    else {
        unreachable!()
    };
    let token = token.expose().to_owned();
    let reset_form = format!("/compte/mot-de-passe?jeton={token}");
    let reset = b
        .submit(
            &reset_form,
            "/mot-de-passe/nouveau",
            &[
                ("jeton", &token),
                ("mot_de_passe", "court"),
                ("confirmation", "court"),
            ],
        )
        .await;
    assert_pattern(&reset, &["mot_de_passe"]);
    let mismatch = b
        .submit(
            &reset_form,
            "/mot-de-passe/nouveau",
            &[
                ("jeton", &token),
                ("mot_de_passe", "une phrase secrète assez longue"),
                ("confirmation", "une autre phrase secrète"),
            ],
        )
        .await;
    assert_pattern(&mismatch, &["confirmation"]);
}

/// A `multipart/form-data` body as a browser sends the document form.
fn upload_form(csrf: Option<&str>, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----sand-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    if let Some(csrf) = csrf {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"fichier\"; filename=\"attestation.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(b: &mut Browser<'_>, csrf: Option<&str>, file: Vec<u8>) -> Page {
    let (content_type, body) = upload_form(csrf, &file);
    b.request(
        poem::http::Method::POST,
        "/verifier/fichier",
        Some((&content_type, body)),
    )
    .await
}

/// The verification page checks an attestation file too: its verdict in plain French
/// (intact, modified, not an attestation), the key of an intact one carried to the key
/// form; the form is CSRF-checked like every other, and bounded by the document's size,
/// not the small forms'.
#[tokio::test(flavor = "multi_thread")]
async fn the_verification_page_checks_an_uploaded_attestation() {
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
    let dashboard = camille.get("/espace").await;
    let (key, link) = (key_of(&dashboard), crate::link_of(&dashboard));
    let pdf = camille
        .get(&format!("/espace/diplomes/{link}/attestation.pdf"))
        .await
        .bytes;
    assert!(pdf.starts_with(b"%PDF"));

    let mut verifier = app.browser();
    let token = verifier.get("/verifier").await.csrf();
    // intact: said first in the title, and the key is filled in for the online check
    let intact = upload(&mut verifier, Some(&token), pdf.clone()).await;
    assert_eq!(intact.status, 200, "{}", intact.body);
    assert!(
        intact
            .body
            .contains("<title>Fichier intact — Vérifier un diplôme")
    );
    assert!(intact.body.contains(r#"id="cle" name="cle""#));
    assert!(
        intact.body.contains(&format!(r#"value="{key}""#)),
        "the key carried to the form: {}",
        intact.body
    );
    // one byte of its content changed: modified
    let mut edited = pdf.clone();
    let at = edited
        .windows(6)
        .position(|w| w == b"Durand" || w == b"DURAND")
        .unwrap_or(edited.len() / 2);
    edited[at] ^= 0x01;
    let changed = upload(&mut verifier, Some(&token), edited).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let title = changed.text_after("<title>");
    assert!(
        title.starts_with("Fichier modifié")
            || title.starts_with("Document falsifié")
            || title.starts_with("Pas une attestation"),
        "{title}"
    );
    assert!(
        !changed.body.contains(&format!(r#"value="{key}""#)),
        "no key offered"
    );
    // not a PDF at all, and larger than any other form may be (the document's bound)
    let junk = upload(&mut verifier, Some(&token), vec![b'x'; 3 * 1024 * 1024]).await;
    assert_eq!(junk.status, 200, "{}", junk.status);
    assert!(
        junk.body
            .contains("<title>Pas une attestation — Vérifier un diplôme")
    );
    // no file chosen: the error pattern, on the document form
    let empty = upload(&mut verifier, Some(&token), Vec::new()).await;
    assert_eq!(empty.status, 422);
    assert!(empty.body.contains("<title>Erreur : Vérifier un diplôme"));
    assert!(
        empty
            .body
            .contains(r##"<a href="#fichier">Fichier : le fichier choisi est vide."##)
    );
    assert!(
        empty
            .body
            .contains(r#"aria-describedby="fichier-aide fichier-erreur" aria-invalid="true""#)
    );
    // too large for a document: refused unread
    let huge = upload(&mut verifier, Some(&token), vec![b'x'; 6 * 1024 * 1024]).await;
    assert_eq!(huge.status, 413);
    // without the CSRF token, or with another visitor's, nothing is read
    let none = upload(&mut verifier, None, pdf.clone()).await;
    assert_eq!(none.status, 403);
    let foreign = app.browser().get("/verifier").await.csrf();
    let forged = upload(&mut verifier, Some(&foreign), pdf.clone()).await;
    assert_eq!(forged.status, 403);
    // the address opened directly leads to the form
    let direct = verifier.get("/verifier/fichier").await;
    assert_eq!(direct.status, 303);
    assert_eq!(direct.location(), "/verifier#fichier");
}

/// The catalogue's table scrolls in its own region on a narrow screen: the region has a
/// name, takes the keyboard focus, and is described by the sentence that says it scrolls.
#[tokio::test(flavor = "multi_thread")]
async fn the_catalogues_scroller_is_named_focusable_and_said() {
    let app = TestApp::new().await;
    let page = app.browser().get("/catalogue").await;
    let body = page.body.replace("&#39;", "'");
    let region = body
        .find(r#"<div class="table-scroll" tabindex="0" role="region" aria-label="Diplômes disponibles (tableau défilant)" aria-describedby="tableau-aide">"#)
        .unwrap_or_else(|| panic!("{body}"));
    let hint = body.find(r#"id="tableau-aide""#).unwrap();
    assert!(hint < region, "the sentence comes before the table");
    let css = app.browser().get("/static/sand.css").await.body;
    assert!(css.contains("@media (max-width: 44rem) { .scroll-hint { display: block; } }"));
}

/// A signed-in page says when the session ends without activity (Paris time) and carries
/// the one script that warns two minutes before and offers to stay; staying extends the
/// session by the idle limit, never past the absolute one. Anonymous pages carry no script.
#[tokio::test(flavor = "multi_thread")]
async fn a_signed_in_page_says_when_its_session_ends_and_staying_extends_it() {
    let app = TestApp::with(|s| s.session_absolute = std::time::Duration::from_secs(45 * 60)).await;
    let mut camille = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    // the tests' clock: 10:00 UTC, 11h00 in Paris; 30 minutes idle
    let space = camille.get("/espace").await;
    assert!(
        space.body.contains(r#"id="fin-session" data-reste="1800">Sans activité, votre session se fermera à <span id="fin-session-heure">11h30</span> (heure de Paris)."#),
        "{}",
        space.body
    );
    assert!(space.body.contains(r#"role="alertdialog""#));
    assert!(
        space
            .body
            .contains(r#"<script src="/static/session.js" defer></script>"#)
    );
    let csp = space.header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    let script = camille.get("/static/session.js").await;
    assert_eq!(script.status, 200);
    assert!(script.header("content-type").starts_with("text/javascript"));
    assert!(script.body.contains("/espace/session"));

    // 20 minutes later, "Rester connecté": 30 minutes from now
    app.clock.advance(time::Duration::minutes(20));
    let stay = camille.get("/espace/session").await;
    assert_eq!(stay.status, 200, "{}", stay.body);
    assert_eq!(stay.header("cache-control"), "no-store");
    let answer: serde_json::Value = serde_json::from_str(&stay.body).unwrap();
    // ... but the absolute limit (45 minutes after login) comes first: 11h45
    assert_eq!(
        answer,
        serde_json::json!({"reste": 25 * 60, "fin": "11h45"})
    );
    // 24 minutes later (44 after login), still signed in: the extension held
    app.clock.advance(time::Duration::minutes(24));
    assert_eq!(camille.get("/espace").await.status, 200);
    // and at the absolute limit, it ends
    app.clock.advance(time::Duration::minutes(2));
    assert_sent_to_login(&camille.get("/espace").await);

    // nobody signed in: no note, no script, and nothing to extend
    let mut anonymous = app.browser();
    let home = anonymous.get("/").await;
    assert!(!home.body.contains("<script"));
    assert!(!home.body.contains("fin-session"));
    assert_sent_to_login(&anonymous.get("/espace/session").await);
}

/// The verification space speaks English to a foreign verifier: chosen by the browser's
/// `Accept-Language` or by the visible switch (remembered), with the result, the errors,
/// the file check and the help in English, and the API's error messages too; French
/// stays the default, and the graduate's pages stay French.
#[tokio::test(flavor = "multi_thread")]
async fn the_verification_space_speaks_english_to_foreign_verifiers() {
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

    // by default, French, with a switch to English
    let mut verifier = app.browser();
    let french = verifier.get("/verifier").await;
    assert!(french.body.contains(r#"<html lang="fr">"#));
    assert_eq!(french.header("content-language"), "fr");
    assert!(
        french
            .body
            .contains(r#"<a href="?langue=en" lang="en" hreflang="en">English</a>"#)
    );
    assert!(french.header("vary").contains("Accept-Language"));

    // a browser that prefers English
    let mut foreign = app.browser();
    foreign.accept_language = Some("de-DE,de;q=0.9,en;q=0.8".to_owned());
    let page = foreign.get("/verifier").await;
    assert!(page.body.contains(r#"<html lang="en">"#), "{}", page.body);
    assert_eq!(page.header("content-language"), "en");
    for english in [
        "<h1>Verify a diploma</h1>",
        "Control key",
        "Holder&#39;s surname at birth (or usual surname)",
        "Check an attestation file",
        r#"<a href="?langue=fr" lang="fr" hreflang="fr">Français</a>"#,
        "Help for verifiers",
    ] {
        assert!(page.body.contains(english), "{english}: {}", page.body);
    }
    // its errors
    let token = page.csrf();
    let refused = foreign
        .post_form("/verifier", &[("csrf", &token), ("cle", ""), ("nom", "")])
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("<title>Error: Verify a diploma"));
    assert!(refused.body.contains("The form contains 2 errors"));
    assert!(refused.body.contains("Control key: it has 8 characters"));
    // its result, dates in English
    let valid = foreign
        .post_form(
            "/verifier",
            &[("csrf", &token), ("cle", &key), ("nom", "Durand")],
        )
        .await;
    assert!(
        valid
            .body
            .contains("<title>Valid attestation — Verify a diploma"),
        "{}",
        valid.body
    );
    assert!(
        valid.body.contains("<dd>12 April 2003</dd>"),
        "{}",
        valid.body
    );
    assert!(
        valid
            .body
            .contains(r#"<dd lang="fr">Baccalauréat général</dd>"#)
    );
    // the file check
    let (content_type, body) = upload_form(Some(&token), b"not a pdf");
    let checked = foreign
        .request(
            poem::http::Method::POST,
            "/verifier/fichier",
            Some((&content_type, body)),
        )
        .await;
    assert!(
        checked
            .body
            .contains("<title>Not an attestation — Verify a diploma"),
        "{}",
        checked.body
    );
    // the help
    let help = foreign.get("/verifier/aide").await;
    assert_eq!(help.status, 200);
    assert!(help.body.contains("<h1>Help for verifiers</h1>"));
    // an error page on the verification space
    let missing = foreign.get("/verifier/nulle-part").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Page not found"), "{}", missing.body);

    // the switch: English although the browser asks for nothing, remembered
    let mut switching = app.browser();
    let switched = switching.get("/verifier?langue=en").await;
    assert!(switched.body.contains(r#"<html lang="en">"#));
    assert!(switched.header("set-cookie").contains("sand-langue=en"));
    let token = switched.csrf();
    let next = switching
        .post_form(
            "/verifier",
            &[("csrf", &token), ("cle", &key), ("nom", "Dupont")],
        )
        .await;
    assert!(next.body.contains("No valid attestation"), "{}", next.body);
    // and back to French
    assert!(
        switching
            .get("/verifier?langue=fr")
            .await
            .body
            .contains(r#"<html lang="fr">"#)
    );
    assert!(
        switching
            .get("/verifier")
            .await
            .body
            .contains(r#"<html lang="fr">"#)
    );

    // the graduate's pages stay French
    let mut english_graduate = app.browser();
    english_graduate.accept_language = Some("en".to_owned());
    let register = english_graduate.get("/compte/creer").await;
    assert!(register.body.contains(r#"<html lang="fr">"#));
    assert!(register.body.contains("Créer mon profil"));

    // the API's error messages follow Accept-Language; codes stay the same
    let wrong_date =
        serde_json::json!({"cle": key, "nom": "Durand", "date_naissance": "2003-02-30"});
    let api = foreign
        .post_json("/api/v1/verifications", &wrong_date)
        .await;
    assert_eq!(api.status, 422, "{}", api.body);
    let answer: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(answer["code"], "date_naissance_invalide");
    assert_eq!(
        answer["message"],
        "date_naissance: give a date that exists, as YYYY-MM-DD."
    );
    assert_eq!(api.header("content-language"), "en");
    let missing = foreign.get("/api/v1/nulle-part").await;
    let answer: serde_json::Value = serde_json::from_str(&missing.body).unwrap();
    assert_eq!(answer["code"], "introuvable");
    assert_eq!(
        answer["message"],
        "The address asked for does not exist, or no longer does. Check it, or start again from the home page."
    );
    let french_api = verifier
        .post_json("/api/v1/verifications", &wrong_date)
        .await;
    let answer: serde_json::Value = serde_json::from_str(&french_api.body).unwrap();
    assert_eq!(
        answer["message"],
        "date_naissance : indiquez une date qui existe, au format AAAA-MM-JJ."
    );
}

/// The support memo sends a graduate to "the tutorial on the home page": a step-by-step
/// guide one click from the home page, each figure of a page described in full by its
/// caption, FranceConnect mentioned only where it is offered.
#[tokio::test(flavor = "multi_thread")]
async fn a_step_by_step_guide_is_one_click_from_the_home_page() {
    for franceconnect in [false, true] {
        let app = if franceconnect {
            TestApp::with_provider(std::sync::Arc::new(
                sand_domain::ports::MockIdentityProvider::new(),
            ))
            .await
        } else {
            TestApp::new().await
        };
        let mut b = app.browser();
        let home = b.get("/").await;
        assert!(home.body.contains(r#"href="/aide/guide""#), "{}", home.body);
        assert!(b.get("/aide").await.body.contains(r#"href="/aide/guide""#));
        let guide = b.get("/aide/guide").await;
        assert_eq!(guide.status, 200);
        let body = guide.body.replace("&#39;", "'");
        for step in [
            "1. Avant de commencer",
            "2. Créer votre profil",
            "3. Vérifier votre identité et choisir un mot de passe",
            "4. Confirmer votre adresse e-mail",
            "5. Rattacher votre diplôme",
            "6. Télécharger l'attestation et transmettre la clé",
            "7. Si le rattachement échoue",
        ] {
            assert!(body.contains(step), "{step}");
        }
        // every figure: a drawing hidden from assistive technologies, and a caption
        // that says all of it
        let figures = body.matches(r#"<figure class="guide-figure">"#).count();
        assert_eq!(figures, 4);
        assert_eq!(
            body.matches(r#"<div class="figure-frame" aria-hidden="true">"#)
                .count(),
            figures
        );
        assert_eq!(body.matches("<figcaption>Figure ").count(), figures);
        assert_eq!(body.contains("FranceConnect"), franceconnect);
    }
}
