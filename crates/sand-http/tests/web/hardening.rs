//! The attacks an adversarial review found, each reproduced against the real app: every
//! test here failed before its fix.

use poem::http::Method;

use crate::support::*;

/// The series the metrics endpoint holds (non-comment lines).
async fn series(app: &TestApp) -> usize {
    let metrics =
        poem::test::TestClient::new(sand_http::health::metrics_endpoint(app.state.clone()));
    let text = metrics
        .get("/metrics")
        .send()
        .await
        .0
        .into_body()
        .into_string()
        .await
        .unwrap();
    text.lines().filter(|l| !l.starts_with('#')).count()
}

/// One request of each shape an anonymous client can send, with `noise` in the path.
async fn anonymous_requests(app: &TestApp, noise: &str) {
    let mut b = app.browser();
    let form = Some(("application/x-www-form-urlencoded", b"csrf=x".to_vec()));
    let shapes: [(Method, String, bool); 12] = [
        (Method::GET, format!("/{noise}"), false),
        (Method::GET, format!("/espace/diplomes/{noise}/cle"), false),
        (Method::GET, format!("/{noise}/{noise}/{noise}"), false),
        (
            Method::POST,
            format!("/espace/diplomes/{noise}/supprimer"),
            true,
        ),
        (Method::POST, format!("/espace/diplomes/{noise}/cle"), true),
        (
            Method::GET,
            format!("/espace/diplomes/{noise}/attestation"),
            false,
        ),
        (
            Method::DELETE,
            format!("/api/v1/moi/diplomes/{noise}"),
            false,
        ),
        (
            Method::POST,
            format!("/api/v1/moi/diplomes/{noise}/cle"),
            false,
        ),
        (Method::GET, format!("/api/v1/{noise}"), false),
        (Method::GET, format!("/static/{noise}"), false),
        (Method::PUT, format!("/verifier?cle={noise}"), false),
        (
            Method::from_bytes(noise.to_uppercase().as_bytes()).unwrap(),
            "/".to_owned(),
            false,
        ),
    ];
    for (method, path, with_form) in shapes {
        let body = if with_form { form.clone() } else { None };
        let page = b.request(method, &path, body).await;
        assert!(page.status < 500, "{path}: {}", page.status);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn random_paths_of_every_shape_leave_the_number_of_metric_series_constant() {
    let app = TestApp::new().await;
    // every shape once, so that each label it deserves exists
    anonymous_requests(&app, "premier").await;
    let before = series(&app).await;
    for i in 0..20_000 / 11 {
        anonymous_requests(&app, &format!("zz{i}")).await;
    }
    assert_eq!(series(&app).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_line_of_x_forwarded_for_before_the_proxys_does_not_escape_the_limits() {
    let app = TestApp::with(|s| {
        s.trust_forwarded_for = true;
        s.limits.verifications_per_client_per_minute = 2;
    })
    .await;
    let verify = |spoofed: String| {
        let app = &app;
        async move {
            app.client
                .post("/api/v1/verifications")
                // the client's own line, then the line the proxy appended
                .header("x-forwarded-for", spoofed)
                .header("x-forwarded-for", "198.51.100.7")
                .content_type("application/json")
                .body(r#"{"cle":"ABCD2345","nom":"Durand"}"#)
                .send()
                .await
                .0
                .status()
                .as_u16()
        }
    };
    assert_eq!(verify("203.0.113.1".to_owned()).await, 200);
    assert_eq!(verify("203.0.113.2".to_owned()).await, 200);
    assert_eq!(verify("203.0.113.3".to_owned()).await, 429);
    // a comma list in one line: the right-most entry is the proxy's
    let refused = app
        .client
        .post("/api/v1/verifications")
        .header("x-forwarded-for", "203.0.113.4, 198.51.100.7")
        .content_type("application/json")
        .body(r#"{"cle":"ABCD2345","nom":"Durand"}"#)
        .send()
        .await;
    assert_eq!(refused.0.status().as_u16(), 429);
    // another address behind the same proxy has its own budget
    let other = app
        .client
        .post("/api/v1/verifications")
        .header("x-forwarded-for", "198.51.100.8")
        .content_type("application/json")
        .body(r#"{"cle":"ABCD2345","nom":"Durand"}"#)
        .send()
        .await;
    assert_eq!(other.0.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn x_forwarded_for_is_ignored_unless_the_proxy_is_trusted() {
    let app = TestApp::with(|s| s.limits.verifications_per_client_per_minute = 1).await;
    let verify = |forwarded: &'static str| {
        let app = &app;
        async move {
            app.client
                .post("/api/v1/verifications")
                .header("x-forwarded-for", forwarded)
                .content_type("application/json")
                .body(r#"{"cle":"ABCD2345","nom":"Durand"}"#)
                .send()
                .await
                .0
                .status()
                .as_u16()
        }
    };
    assert_eq!(verify("203.0.113.1").await, 200);
    assert_eq!(
        verify("203.0.113.2").await,
        429,
        "one client, whatever it says"
    );
}

/// Another spelling of `key` that reads as the same key (`0`→`O`, `1`→`I`, lower case).
fn respelled(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '0' => 'O',
            '1' => 'I',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// A verification through the API from `client` (behind the trusted proxy).
async fn api_verify(app: &TestApp, client: &str, body: serde_json::Value) -> (u16, String) {
    let response = app
        .client
        .post("/api/v1/verifications")
        .header("x-forwarded-for", client)
        .content_type("application/json")
        .body(body.to_string())
        .send()
        .await
        .0;
    let status = response.status().as_u16();
    (status, response.into_body().into_string().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stranger_who_knows_a_key_can_neither_block_the_employer_nor_guess_the_name() {
    let app = TestApp::with(|s| {
        s.trust_forwarded_for = true;
        s.limits.wrong_answers_per_key_per_client_per_day = 5;
        s.limits.wrong_answers_per_key_per_day = 12;
    })
    .await;
    let mut camille = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    assert_eq!(camille.attach("BACG", "2021", "10").await.status, 303);
    let key = camille
        .get("/espace")
        .await
        .text_after("class=\"key\">")
        .replace(' ', "");
    app.mails().await;

    // a guesser gets five wrong names for this key, whatever the spelling, then nothing
    for (i, name) in ["Martin", "Dupont", "Bernard", "Petit", "Moreau"]
        .iter()
        .enumerate()
    {
        let typed = if i % 2 == 0 {
            key.clone()
        } else {
            respelled(&key)
        };
        let (status, body) = api_verify(
            &app,
            "203.0.113.66",
            serde_json::json!({"cle": typed, "nom": name}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"valide\":false"), "{body}");
    }
    let (status, _) = api_verify(
        &app,
        "203.0.113.66",
        serde_json::json!({"cle": respelled(&key), "nom": "Durand"}),
    )
    .await;
    assert_eq!(status, 429, "the guesser is done with this key for the day");

    // the employer, elsewhere, is not blocked
    let (status, body) = api_verify(
        &app,
        "198.51.100.20",
        serde_json::json!({"cle": key, "nom": "Durand"}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("\"valide\":true"), "{body}");

    // many strangers together: after 12 wrong answers the birth date is required too
    for i in 0..7u8 {
        let (status, _) = api_verify(
            &app,
            &format!("203.0.113.{}", 100 + i),
            serde_json::json!({"cle": key, "nom": "Inconnu"}),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, body) = api_verify(
        &app,
        "198.51.100.20",
        serde_json::json!({"cle": key, "nom": "Durand"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("\"code\":\"date_naissance_requise\""),
        "{body}"
    );
    let (status, body) = api_verify(
        &app,
        "198.51.100.20",
        serde_json::json!({"cle": key, "nom": "Durand", "date_naissance": "2003-04-12"}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("\"valide\":true"), "{body}");
    let (_, body) = api_verify(
        &app,
        "198.51.100.21",
        serde_json::json!({"cle": key, "nom": "Durand", "date_naissance": "2003-04-13"}),
    )
    .await;
    assert!(
        body.contains("\"valide\":false"),
        "a wrong birth date: {body}"
    );

    // the page asks for it too
    let page = Browser::verify(&app, &key, "Durand").await;
    assert_eq!(page.status, 422);
    assert!(
        page.body.contains("indiquez aussi la date de naissance"),
        "{}",
        page.body
    );
    let mut employer = app.browser();
    let page = employer
        .submit(
            "/verifier",
            "/verifier",
            &[
                ("cle", &key),
                ("nom", "Durand"),
                ("naissance", "12/04/2003"),
            ],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Attestation valide"), "{}", page.body);

    // the holder was told, once
    let told: Vec<_> = app
        .mails()
        .await
        .into_iter()
        .filter(|m| matches!(m, sand_domain::ports::Mail::KeyGuessing { .. }))
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");

    // the next day, the name alone is enough again
    app.clock.advance(time::Duration::days(1));
    let (status, body) = api_verify(
        &app,
        "198.51.100.20",
        serde_json::json!({"cle": key, "nom": "Durand"}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("\"valide\":true"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_key_is_limited_exactly_like_a_live_one() {
    let app = TestApp::with(|s| {
        s.trust_forwarded_for = true;
        s.limits.wrong_answers_per_key_per_client_per_day = 2;
        s.limits.wrong_answers_per_key_per_day = 3;
    })
    .await;
    let mut camille = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    assert_eq!(camille.attach("BACG", "2021", "10").await.status, 303);
    let live = camille
        .get("/espace")
        .await
        .text_after("class=\"key\">")
        .replace(' ', "");
    let mut answers = Vec::new();
    for key in [live.as_str(), "ZZZZ9999"] {
        let mut seen = Vec::new();
        for client in [
            "203.0.113.1",
            "203.0.113.1",
            "203.0.113.1",
            "203.0.113.2",
            "203.0.113.3",
        ] {
            let (status, body) =
                api_verify(&app, client, serde_json::json!({"cle": key, "nom": "X"})).await;
            seen.push((status, body.contains("date_naissance_requise")));
        }
        answers.push(seen);
    }
    assert_eq!(
        answers[0],
        vec![
            (200, false),
            (200, false),
            (429, false),
            (200, false),
            (422, true)
        ]
    );
    assert_eq!(answers[0], answers[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_api_refusal_by_a_rate_limit_says_when_to_come_back() {
    let app = TestApp::with(|s| {
        s.limits.verifications_per_client_per_minute = 1;
        s.limits.file_checks_per_client_per_minute = 1;
    })
    .await;
    let mut b = app.browser();
    let body = serde_json::json!({"cle": "ABCD2345", "nom": "Durand"});
    assert_eq!(
        b.post_json("/api/v1/verifications", &body).await.status,
        200
    );
    for path in ["/api/v1/verifications", "/api/v1/verifications/lot"] {
        let json = if path.ends_with("lot") {
            serde_json::json!({"verifications": [body.clone()]})
        } else {
            body.clone()
        };
        let refused = b.post_json(path, &json).await;
        assert_eq!(refused.status, 429, "{path}");
        assert_eq!(refused.header("retry-after"), "60", "{path}");
        assert!(refused.body.contains("\"code\":\"trop_de_demandes\""));
    }
    // the attestation file check is limited too
    let pdf = || Some(("application/pdf", b"%PDF-1.7 pas une attestation".to_vec()));
    let first = b
        .request(Method::POST, "/api/v1/attestations/controle", pdf())
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let refused = b
        .request(Method::POST, "/api/v1/attestations/controle", pdf())
        .await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), "60");
}

const ATTACKER_PASSWORD: &str = "mot de passe de l'attaquant";

fn token_of(mail: &sand_domain::ports::Mail) -> String {
    match mail {
        sand_domain::ports::Mail::VerifyEmail { token, .. } => token.expose().to_owned(),
        other => panic!("expected a confirmation mail, got {other:?}"),
    }
}

fn confirmation_to(address: &'static str) -> impl Fn(&sand_domain::ports::Mail) -> bool {
    move |m| matches!(m, sand_domain::ports::Mail::VerifyEmail { to, .. } if to.as_str() == address)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_attacker_who_registers_the_victims_address_first_never_gets_the_account() {
    an_attacker_who_registers_the_victims_address_first_never_gets_the_account_on(
        TestApp::new().await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_attacker_who_registers_the_victims_address_first_never_gets_the_account_on_postgresql_as_the_web_role()
 {
    an_attacker_who_registers_the_victims_address_first_never_gets_the_account_on(
        TestApp::on_postgres_as_web_role().await,
    )
    .await;
}

async fn an_attacker_who_registers_the_victims_address_first_never_gets_the_account_on(
    app: TestApp,
) {
    // the attacker registers the victim's address with a password of theirs, and waits
    let mut attacker = app.browser();
    let page = attacker
        .register(
            "Durand",
            "Camille Marie",
            "12/04/2003",
            "camille@exemple.fr",
            ATTACKER_PASSWORD,
        )
        .await;
    assert_eq!(page.status, 200);
    let attackers_link = token_of(
        &app.wait_for_mail(confirmation_to("camille@exemple.fr"))
            .await,
    );

    // the victim asks for a new link: it is the attacker's pending profile's, and the
    // victim's password does not confirm it
    let mut victim = app.browser();
    let csrf = victim.get("/connexion").await.csrf();
    let asked = victim
        .post_form(
            "/compte/renvoyer",
            &[("csrf", csrf.as_str()), ("email", "camille@exemple.fr")],
        )
        .await;
    assert_eq!(asked.status, 200);
    let resent = token_of(
        &app.wait_for_mail(confirmation_to("camille@exemple.fr"))
            .await,
    );
    let refused = victim.confirm(&resent, PASSWORD).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let refused = victim.confirm(&attackers_link, PASSWORD).await;
    assert_eq!(refused.status, 422);

    // the victim registers: the pending profile gives way, a link is sent for theirs
    let page = victim
        .register(
            "Durand",
            "Camille Marie",
            "12/04/2003",
            "camille@exemple.fr",
            PASSWORD,
        )
        .await;
    assert_eq!(page.status, 200);
    let victims_link = token_of(
        &app.wait_for_mail(confirmation_to("camille@exemple.fr"))
            .await,
    );
    let confirmed = victim.confirm(&victims_link, PASSWORD).await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.body);
    assert_eq!(confirmed.location(), "/espace");

    // the attacker's links and password are worth nothing now
    let mut attacker = app.browser();
    assert_eq!(
        attacker
            .get(&format!("/compte/confirmer?jeton={attackers_link}"))
            .await
            .status,
        400,
        "the attacker's profile is gone"
    );
    let login = attacker
        .login("camille@exemple.fr", ATTACKER_PASSWORD)
        .await;
    assert_eq!(login.status, 422);
    // and a confirmed address is not replaced by a new registration
    let again = attacker
        .register(
            "Durand",
            "Camille Marie",
            "12/04/2003",
            "camille@exemple.fr",
            ATTACKER_PASSWORD,
        )
        .await;
    assert_eq!(again.status, 200, "the same answer as for a new address");
    let login = victim.log_out().await;
    assert_eq!(login.status, 303);
    assert_eq!(
        victim.login("camille@exemple.fr", PASSWORD).await.status,
        303
    );
}

/// A login from `client` (behind the trusted proxy) in `browser`.
async fn login_from(browser: &mut Browser<'_>, client: &str, password: &str) -> Page {
    let csrf = browser.get("/connexion").await.csrf();
    browser
        .post_form_from(
            client,
            "/connexion",
            &[
                ("csrf", csrf.as_str()),
                ("email", "camille@exemple.fr"),
                ("mot_de_passe", password),
            ],
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passwords_from_everywhere_slow_an_account_but_never_lock_its_owner_out() {
    let app = TestApp::with(|s| {
        s.trust_forwarded_for = true;
        s.limits.logins_per_account_per_client_per_hour = 3;
        s.limits.login_failures_before_slowing = 10;
        s.limits.login_slowing_interval_secs = 30;
    })
    .await;
    // the owner signed in once on their own computer
    let mut home = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    assert_eq!(home.log_out().await.status, 303);

    // one client gets three tries on the account, then nothing
    let mut guesser = app.browser();
    for _ in 0..3 {
        assert_eq!(
            login_from(&mut guesser, "203.0.113.9", "mauvais mot de passe")
                .await
                .status,
            422
        );
    }
    assert_eq!(
        login_from(&mut guesser, "203.0.113.9", "mauvais mot de passe")
            .await
            .status,
        429
    );
    // many clients: ten failures in all, then the account is slowed
    for i in 0..7u8 {
        let mut other = app.browser();
        let page = login_from(
            &mut other,
            &format!("198.51.100.{i}"),
            "mauvais mot de passe",
        )
        .await;
        assert_eq!(page.status, 422);
    }
    let mut stranger = app.browser();
    let first = login_from(&mut stranger, "192.0.2.1", "mauvais mot de passe").await;
    assert_eq!(
        first.status, 422,
        "one attempt per interval still goes through"
    );
    let mut new_phone = app.browser();
    let slowed = login_from(&mut new_phone, "192.0.2.2", PASSWORD).await;
    assert_eq!(slowed.status, 429);
    let wait: u64 = slowed.header("retry-after").parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert!(
        slowed.body.contains("Mot de passe oublié"),
        "{}",
        slowed.body
    );

    // the owner's own computer is not slowed
    let page = login_from(&mut home, "192.0.2.3", PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
    // and a new device gets in once the interval has passed
    app.clock.advance(time::Duration::seconds(31));
    let page = login_from(&mut new_phone, "192.0.2.2", PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completed_password_reset_ends_the_slowing_of_an_account() {
    let app = TestApp::with(|s| {
        s.trust_forwarded_for = true;
        s.limits.login_failures_before_slowing = 3;
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
    for i in 0..4u8 {
        let mut other = app.browser();
        login_from(
            &mut other,
            &format!("198.51.100.{i}"),
            "mauvais mot de passe",
        )
        .await;
    }
    let mut new_phone = app.browser();
    assert_eq!(
        login_from(&mut new_phone, "192.0.2.2", PASSWORD)
            .await
            .status,
        429
    );
    // the owner resets the password by mail
    let mut owner = app.browser();
    owner
        .submit(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", "camille@exemple.fr")],
        )
        .await;
    let mail = app
        .wait_for_mail(|m| matches!(m, sand_domain::ports::Mail::PasswordReset { .. }))
        .await;
    let sand_domain::ports::Mail::PasswordReset { token, .. } = mail else {
        unreachable!()
    };
    let new_password = "une toute autre phrase secrète";
    let page = owner
        .submit(
            &format!("/compte/mot-de-passe?jeton={}", token.expose()),
            "/mot-de-passe/nouveau",
            &[
                ("jeton", token.expose()),
                ("mot_de_passe", new_password),
                ("confirmation", new_password),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        login_from(&mut new_phone, "192.0.2.2", new_password)
            .await
            .status,
        303
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organisation_name_that_would_read_otherwise_to_the_holder_is_refused() {
    let app = TestApp::new().await;
    let page = app
        .browser()
        .submit(
            "/verifier",
            "/verifier",
            &[
                ("cle", "ABCD2345"),
                ("nom", "Durand"),
                ("organisme", "ACME \u{202E}lanoitanretni"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains("sans caractère de contrôle"),
        "{}",
        page.body
    );
    let api = app
        .browser()
        .post_json(
            "/api/v1/verifications",
            &serde_json::json!({"cle": "ABCD2345", "nom": "Durand", "organisme": "ACME\u{200B}"}),
        )
        .await;
    assert_eq!(api.status, 422, "{}", api.body);
    assert!(
        api.body.contains("\"code\":\"organisme_invalide\""),
        "{}",
        api.body
    );
}

/// Log lines, from every thread (the blocking pool's included).
#[derive(Clone, Default)]
struct SharedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_uploaded_document_is_read_on_the_blocking_pool_not_on_the_runtime() {
    // the blocking pool's threads are named; the runtime itself runs on the test's thread
    let runtime = tokio::runtime::Builder::new_current_thread()
        .thread_name("sand-blocking-pool")
        .enable_all()
        .build()
        .unwrap();
    let log = SharedLog::default();
    let sink = log.clone();
    // events from other threads reach only a global subscriber (nextest runs each test in
    // a process of its own)
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_thread_names(true)
            .with_writer(move || sink.clone())
            .finish(),
    );
    runtime.block_on(async {
        let app = TestApp::new().await;
        let page = app
            .browser()
            .request(
                Method::POST,
                "/api/v1/attestations/controle",
                Some(("application/pdf", vec![b'%'; 1024 * 1024])),
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
    });
    let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("reading an uploaded document"))
        .unwrap_or_else(|| panic!("the document was not read, or not logged: {text}"));
    assert!(
        line.contains("sand-blocking-pool"),
        "read on the runtime's thread: {line}"
    );
}
