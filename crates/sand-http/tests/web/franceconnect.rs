//! The FranceConnect pages around the adapter, with the provider mocked (the adapter
//! itself is tested against a real provider in sand-franceconnect, the whole journey in
//! tests/e2e): the login in progress survives the round trip, a success opens a session
//! on a certified profile, and every failure has its French page.

use std::sync::Arc;

use sand_domain::credentials::Email;
use sand_domain::ports::{
    AuthorizationRequest, CallbackParams, CertifiedIdentity, IdentityProviderError,
    MockIdentityProvider, PendingLogin,
};
use sand_domain::profile::FranceConnectSubject;

use crate::support::*;

fn provider(
    outcome: impl Fn() -> Result<CertifiedIdentity, IdentityProviderError> + Send + Sync + 'static,
) -> Arc<MockIdentityProvider> {
    let mut mock = MockIdentityProvider::new();
    mock.expect_begin().returning(|| {
        Ok(AuthorizationRequest {
            url: "https://fc.example/api/v2/authorize?state=etat-1".to_owned(),
            pending: PendingLogin {
                state: "etat-1".to_owned(),
                nonce: "nonce-1".to_owned(),
                pkce_verifier: Some("verif".to_owned()),
            },
        })
    });
    mock.expect_complete()
        .returning(move |pending: PendingLogin, params: CallbackParams| {
            // what the browser carried back is what was kept at the start
            assert_eq!(pending.state, "etat-1");
            assert_eq!(pending.nonce, "nonce-1");
            assert_eq!(pending.pkce_verifier.as_deref(), Some("verif"));
            match params {
                CallbackParams::Error { .. } => Err(IdentityProviderError::Cancelled),
                CallbackParams::Code { .. } => outcome(),
            }
        });
    mock.expect_logout_url()
        .returning(|hint: &str, _state: &str| {
            Ok(format!(
                "https://fc.example/api/v2/session/end?id_token_hint={hint}"
            ))
        });
    Arc::new(mock)
}

type Outcome = fn() -> Result<CertifiedIdentity, IdentityProviderError>;

fn angela() -> CertifiedIdentity {
    CertifiedIdentity {
        subject: FranceConnectSubject {
            issuer: "https://fc.example/api/v2".to_owned(),
            subject: "abc123v1".to_owned(),
        },
        identity: identity("DUBOIS", "Angela Claire Louise", "1962-08-24"),
        email: Some(Email::parse("angela.dubois@exemple.fr").unwrap()),
        birth_date_presumed: false,
        id_token_hint: "jeton-id".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_franceconnect_login_opens_a_session_on_a_certified_profile_and_logs_out_there_too() {
    let app = TestApp::with_provider(provider(|| Ok(angela()))).await;
    let mut b = app.browser();
    assert!(
        b.get("/")
            .await
            .body
            .contains("S'identifier avec FranceConnect")
    );
    let start = b.get("/connexion/franceconnect").await;
    assert_eq!(start.status, 303);
    assert_eq!(
        start.location(),
        "https://fc.example/api/v2/authorize?state=etat-1"
    );
    let cookie = start.header("set-cookie");
    assert!(
        cookie.starts_with("sand-fc=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Max-Age=600")
    );

    let back = b
        .get("/connexion/franceconnect/retour?code=code-1&state=etat-1")
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(back.location(), "/espace");
    assert!(
        !b.cookies.contains_key("sand-fc"),
        "the login-in-progress cookie is single use"
    );
    let space = b.get("/espace").await;
    assert!(space.body.contains("Identité certifiée par FranceConnect"));
    assert!(
        b.get("/espace/profil")
            .await
            .body
            .contains("Angela Claire Louise")
    );

    let out = b.submit("/espace", "/deconnexion", &[]).await;
    assert_eq!(out.status, 303);
    assert!(
        out.location()
            .starts_with("https://fc.example/api/v2/session/end?id_token_hint=jeton-id")
    );
    assert_sent_to_login(&b.get("/espace").await);

    // the next login finds the same profile
    let mut again = app.browser();
    again.get("/connexion/franceconnect").await;
    again
        .get("/connexion/franceconnect/retour?code=code-2&state=etat-1")
        .await;
    assert!(
        again
            .get("/espace")
            .await
            .body
            .contains("Angela Claire Louise")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callback_without_the_login_in_progress_or_with_a_forged_one_is_refused() {
    let app = TestApp::with_provider(provider(|| Ok(angela()))).await;
    let mut b = app.browser();
    let page = b
        .get("/connexion/franceconnect/retour?code=c&state=etat-1")
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("Connexion expirée"));
    b.cookies
        .insert("sand-fc".to_owned(), "7b7d.9999999999.00".to_owned());
    assert_eq!(
        b.get("/connexion/franceconnect/retour?code=c&state=etat-1")
            .await
            .status,
        400
    );
    // an expired one
    let mut late = app.browser();
    late.get("/connexion/franceconnect").await;
    app.clock.advance(time::Duration::minutes(11));
    assert!(
        late.get("/connexion/franceconnect/retour?code=c&state=etat-1")
            .await
            .body
            .contains("Connexion expirée")
    );
    // neither a code nor an error
    let mut odd = app.browser();
    odd.get("/connexion/franceconnect").await;
    assert_eq!(odd.get("/connexion/franceconnect/retour").await.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_franceconnect_failure_has_its_french_page() {
    let cases: Vec<(Outcome, u16, &str)> = vec![
        (
            || Err(IdentityProviderError::StateMismatch),
            400,
            "Connexion refusée",
        ),
        (
            || Err(IdentityProviderError::CodeRejected),
            400,
            "Connexion expirée",
        ),
        (
            || {
                Err(IdentityProviderError::InvalidResponse(
                    "bad signature".into(),
                ))
            },
            502,
            "contrôles de sécurité",
        ),
        (
            || Err(IdentityProviderError::IncompleteIdentity),
            200,
            "Identité incomplète",
        ),
        (
            || {
                Err(IdentityProviderError::Port(
                    sand_domain::PortError::unavailable("timeout"),
                ))
            },
            503,
            "FranceConnect indisponible",
        ),
        (
            || {
                Ok(CertifiedIdentity {
                    email: None,
                    ..angela()
                })
            },
            200,
            "Adresse e-mail manquante",
        ),
    ];
    for (outcome, status, text) in cases {
        let app = TestApp::with_provider(provider(outcome)).await;
        let mut b = app.browser();
        b.get("/connexion/franceconnect").await;
        let page = b
            .get("/connexion/franceconnect/retour?code=c&state=etat-1")
            .await;
        assert_eq!(page.status, status, "{text}");
        assert!(page.body.contains(text), "{text}: {}", page.body);
        assert!(page.body.contains("Réessayer avec FranceConnect"));
        // {text}: no session
        assert_sent_to_login(&b.get("/espace").await);
    }
    // cancelled at the provider
    let app = TestApp::with_provider(provider(|| Ok(angela()))).await;
    let mut b = app.browser();
    b.get("/connexion/franceconnect").await;
    let cancelled = b
        .get("/connexion/franceconnect/retour?error=access_denied&state=etat-1")
        .await;
    assert!(cancelled.body.contains("Connexion annulée"));
    // an e-mail already used by a password profile
    let app = TestApp::with_provider(provider(|| Ok(angela()))).await;
    let _ = app
        .signed_in("Dubois", "Angela", "1962-08-24", "angela.dubois@exemple.fr")
        .await;
    let mut b = app.browser();
    b.get("/connexion/franceconnect").await;
    let taken = b
        .get("/connexion/franceconnect/retour?code=c&state=etat-1")
        .await;
    assert!(
        taken.body.contains("Adresse déjà utilisée"),
        "{}",
        taken.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_franceconnect_configured_its_routes_do_not_exist() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    assert_eq!(b.get("/connexion/franceconnect").await.status, 404);
    assert_eq!(
        b.get("/connexion/franceconnect/retour?code=c&state=s")
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_tls_the_login_in_progress_travels_in_a_host_only_cookie() {
    let app = TestApp::with_provider_and(provider(|| Ok(angela())), |s| {
        s.public_url = "https://diplomes.example".to_owned();
        s.secure = true;
    })
    .await;
    let mut b = app.browser();
    let start = b.get("/connexion/franceconnect").await;
    assert_eq!(start.status, 303);
    let set = start
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.contains("sand-fc="))
        .expect("the login in progress is kept in a cookie");
    assert!(set.starts_with("__Host-sand-fc="), "{set}");
    assert!(set.contains("Secure") && set.contains("Path=/"), "{set}");
    assert!(!set.contains("Domain="), "{set}");
    // and it is read back under that name: the login completes
    let back = b
        .get("/connexion/franceconnect/retour?code=code-1&state=etat-1")
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(back.location(), "/espace");
    // a cookie without the prefix (planted by a sibling site) is not taken
    let mut planted = app.browser();
    planted.get("/connexion/franceconnect").await;
    let value = planted.cookies.remove("__Host-sand-fc").unwrap();
    planted.cookies.insert("sand-fc".to_owned(), value);
    let refused = planted
        .get("/connexion/franceconnect/retour?code=code-1&state=etat-1")
        .await;
    assert_eq!(refused.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_callback_error_cannot_write_lines_into_the_logs() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut mock = sand_domain::ports::MockIdentityProvider::new();
    mock.expect_begin().returning(|| {
        Ok(AuthorizationRequest {
            url: "https://fc.example/api/v2/authorize?state=etat-1".to_owned(),
            pending: PendingLogin {
                state: "etat-1".to_owned(),
                nonce: "nonce-1".to_owned(),
                pkce_verifier: None,
            },
        })
    });
    let kept = seen.clone();
    mock.expect_complete()
        .returning(move |_pending: PendingLogin, params: CallbackParams| {
            if let CallbackParams::Error { error, .. } = params {
                kept.lock().unwrap().push(error);
            }
            Err(IdentityProviderError::Cancelled)
        });
    let app = TestApp::with_provider(Arc::new(mock)).await;
    let mut b = app.browser();
    b.get("/connexion/franceconnect").await;
    let page = b
        .get(
            "/connexion/franceconnect/retour?state=etat-1&error=access_denied%0A2026-11-24T10:00:00Z%20INFO%20forged%22%5C%1B%5B31m",
        )
        .await;
    assert_eq!(page.status, 200);
    let errors = seen.lock().unwrap().clone();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .chars()
            .all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\'),
        "{:?}",
        errors[0]
    );
    assert!(
        errors[0].starts_with("access_denied2026-11-24T10:00:00Z INFO forged"),
        "{:?}",
        errors[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_registered_with_the_address_and_never_confirmed_does_not_block_franceconnect() {
    let app = TestApp::with_provider(provider(|| Ok(angela()))).await;
    // someone registers Angela's address with a password, and never confirms it
    let mut squatter = app.browser();
    squatter
        .register(
            "Dubois",
            "Angela",
            "24/08/1962",
            "angela.dubois@exemple.fr",
            "un mot de passe quelconque",
        )
        .await;
    let mut b = app.browser();
    b.get("/connexion/franceconnect").await;
    let back = b
        .get("/connexion/franceconnect/retour?code=code-1&state=etat-1")
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(back.location(), "/espace");
    assert!(
        b.get("/espace/profil")
            .await
            .body
            .contains("Angela Claire Louise")
    );
}

/// Angela as FranceConnect certifies her, born at `code`.
fn angela_born_in(code: Option<&'static str>) -> CertifiedIdentity {
    let mut certified = angela();
    certified.identity.birth_place_code =
        code.map(|c| sand_domain::identity::BirthPlaceCode::parse(c).unwrap());
    certified
}

/// Someone who knows Angela's identity creates a password profile with it and
/// attaches her diploma first; returns the squatter's browser and key.
async fn squatted(app: &TestApp) -> (Browser<'_>, String) {
    let mut squatter = app
        .signed_in(
            "Dubois",
            "Angela Claire Louise",
            "1962-08-24",
            "squatteur@exemple.fr",
        )
        .await;
    assert_eq!(squatter.attach("BACG", "2021", "10").await.status, 303);
    let key = squatter
        .get("/espace")
        .await
        .text_after("class=\"key\">")
        .replace(' ', "");
    assert!(
        Browser::verify(app, &key, "Dubois")
            .await
            .body
            .contains("Attestation valide")
    );
    app.mails().await;
    (squatter, key)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certified_claimant_born_where_the_exam_office_says_takes_her_diploma_back() {
    a_certified_claimant_born_where_the_exam_office_says_takes_her_diploma_back_on(
        TestApp::with_provider(provider(|| Ok(angela_born_in(Some("75107"))))).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certified_claimant_born_where_the_exam_office_says_takes_her_diploma_back_on_postgresql_as_the_web_role()
 {
    let fc = provider(|| Ok(angela_born_in(Some("75107"))));
    a_certified_claimant_born_where_the_exam_office_says_takes_her_diploma_back_on(
        TestApp::on_postgres_as_web_role_with(|_| {}, Some(fc)).await,
    )
    .await;
}

async fn a_certified_claimant_born_where_the_exam_office_says_takes_her_diploma_back_on(
    app: TestApp,
) {
    let (mut squatter, squatters_key) = squatted(&app).await;

    let mut angela = app.browser();
    angela.get("/connexion/franceconnect").await;
    let back = angela
        .get("/connexion/franceconnect/retour?code=code-1&state=etat-1")
        .await;
    assert_eq!(back.status, 303);
    let attached = angela.attach("BACG", "2021", "10").await;
    assert_eq!(attached.status, 303, "{}", attached.body);
    let space = angela.get("/espace").await;
    let key = space.text_after("class=\"key\">").replace(' ', "");
    assert_ne!(key, squatters_key);
    assert!(
        Browser::verify(&app, &key, "Dubois")
            .await
            .body
            .contains("Attestation valide")
    );
    // the squatter's key died at once; their space says why
    assert!(
        !Browser::verify(&app, &squatters_key, "Dubois")
            .await
            .body
            .contains("Attestation valide")
    );
    let their_space = squatter.get("/espace").await;
    assert!(
        !their_space.body.contains("class=\"key\""),
        "{}",
        their_space.body
    );
    assert!(
        their_space
            .body
            .contains("Diplômes qui ont quitté votre espace"),
        "{}",
        their_space.body
    );
    assert!(
        their_space
            .body
            .contains("/aide/services-examens#academie-10")
    );
    // told by mail, and the event is kept for the exam office
    let mails = app.mails().await;
    assert!(
        mails.iter().any(|m| matches!(
            m,
            sand_domain::ports::Mail::AttestationTakenOver { to, .. }
                if to.as_str() == "squatteur@exemple.fr"
        )),
        "{mails:?}"
    );
    use sea_orm::ConnectionTrait;
    let conn = app.store.connection();
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) FROM link_event WHERE kind = 'taken_by_certified_claimant'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certified_claimant_born_elsewhere_or_of_unknown_birth_place_takes_nothing() {
    for code in [Some("13055"), None] {
        let app = TestApp::with_provider(provider(move || Ok(angela_born_in(code)))).await;
        let (mut squatter, squatters_key) = squatted(&app).await;
        let mut angela = app.browser();
        angela.get("/connexion/franceconnect").await;
        angela
            .get("/connexion/franceconnect/retour?code=code-1&state=etat-1")
            .await;
        let refused = angela.attach("BACG", "2021", "10").await;
        assert_eq!(refused.status, 200, "{code:?}: {}", refused.body);
        assert!(
            refused.body.contains("service des examens"),
            "{}",
            refused.body
        );
        // the holder keeps it: a true homonym is not dispossessed
        assert!(
            Browser::verify(&app, &squatters_key, "Dubois")
                .await
                .body
                .contains("Attestation valide")
        );
        assert!(squatter.get("/espace").await.body.contains("class=\"key\""));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_logout_form_may_lead_to_the_providers_single_logout_and_nowhere_else() {
    let app = TestApp::with_provider_and(provider(|| Ok(angela())), |s| {
        s.form_action_origins = vec![
            "https://fc.example".to_owned(),
            // a configuration that tries to smuggle a directive is ignored
            "https://evil.example; script-src *".to_owned(),
        ];
    })
    .await;
    let page = app.browser().get("/").await;
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains("form-action 'self' https://fc.example;"),
        "{csp}"
    );
    assert!(
        !csp.contains("evil")
            && !csp.contains("script-src *")
            && csp.matches("script-src").count() == 1,
        "{csp}"
    );
}

/// FranceConnect is recommended only where it is offered: without it configured, no
/// page, step or answer sends a graduate to it.
#[tokio::test(flavor = "multi_thread")]
async fn franceconnect_is_mentioned_only_where_it_is_offered() {
    async fn mentions(app: &TestApp) -> Vec<String> {
        let mut b = app.browser();
        let mut found = Vec::new();
        for path in ["/", "/aide", "/confidentialite", "/connexion"] {
            if b.get(path).await.body.contains("FranceConnect") {
                found.push(path.to_owned());
            }
        }
        let forgot = b
            .submit(
                "/mot-de-passe-oublie",
                "/mot-de-passe-oublie",
                &[("email", "inconnu@exemple.fr")],
            )
            .await;
        assert_eq!(forgot.status, 200, "{}", forgot.body);
        if forgot.body.contains("FranceConnect") {
            found.push("réponse de mot de passe oublié".to_owned());
        }
        // a married name instead of the birth name: the checklist's steps
        let mut married = app
            .signed_in("Lefort", "Camille Marie", "2003-04-12", "lefort@exemple.fr")
            .await;
        let no_match = married.attach("BACG", "2021", "10").await;
        assert!(no_match.body.contains("Aucun diplôme trouvé à votre nom"));
        if no_match.body.contains("FranceConnect") {
            found.push("étapes d'un rattachement refusé".to_owned());
        }
        let api = married
            .post_json(
                "/api/v1/moi/diplomes",
                &serde_json::json!({"diplome": "BACG", "session": 2021, "academie": "10"}),
            )
            .await;
        assert_eq!(api.status, 422, "{}", api.body);
        assert!(api.body.contains("recreer_profil_ou_franceconnect"));
        if api.body.contains("connectez-vous avec FranceConnect") {
            found.push("étapes de l'API".to_owned());
        }
        found
    }

    let without = TestApp::new().await;
    assert_eq!(
        mentions(&without).await,
        Vec::<String>::new(),
        "FranceConnect is not offered here"
    );
    let with = TestApp::with_provider(provider(|| Ok(angela()))).await;
    let offered = mentions(&with).await;
    for place in [
        "/aide",
        "/connexion",
        "réponse de mot de passe oublié",
        "étapes d'un rattachement refusé",
        "étapes de l'API",
    ] {
        assert!(
            offered.iter().any(|p| p == place),
            "{place} recommends FranceConnect where it is offered: {offered:?}"
        );
    }
}
