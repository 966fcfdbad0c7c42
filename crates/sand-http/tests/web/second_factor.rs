//! The optional second factor: enrolment from the profile, the code after the password
//! at login, each code once, recovery codes once, turning it off with both factors, and
//! the limits.

use sand_domain::ports::Clock;
use totp_rs::{Algorithm, Builder, Secret};

use crate::support::{Browser, PASSWORD, Page, TestApp, assert_sent_to_login};

const EMAIL: &str = "camille@exemple.fr";

/// The value of the hidden or shown field `name` in `page`.
fn field(page: &Page, name: &str) -> String {
    let pattern = format!("name=\"{name}\" value=\"");
    let start = page
        .body
        .find(&pattern)
        .unwrap_or_else(|| panic!("no {name}: {}", page.body))
        + pattern.len();
    page.body[start..start + page.body[start..].find('"').unwrap()].to_owned()
}

/// The base32 key shown for manual entry.
fn shown_secret(page: &Page) -> String {
    let start = page.body.find("<code class=\"secret\">").unwrap() + 21;
    page.body[start..start + page.body[start..].find('<').unwrap()].replace(' ', "")
}

/// The code an authenticator shows for `secret` at the app's clock, `offset` steps away.
fn code(app: &TestApp, secret: &str, offset: i64) -> String {
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build_noncompliant();
    let now = app.clock.now().unix_timestamp() + offset * 30;
    totp.generate(u64::try_from(now).unwrap()).to_string()
}

/// Turns the second factor on for `b`: its secret and recovery codes.
async fn enrol(app: &TestApp, b: &mut Browser<'_>) -> (String, Vec<String>) {
    let page = b.get("/espace/profil/double-authentification").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<svg role=\"img\" aria-label=\"QR code"));
    let secret = shown_secret(&page);
    let enrolment = field(&page, "inscription");
    let done = b
        .post_form(
            "/espace/profil/double-authentification",
            &[
                ("csrf", page.csrf().as_str()),
                ("inscription", enrolment.as_str()),
                ("code", code(app, &secret, 0).as_str()),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Vos codes de secours"));
    let codes: Vec<String> = done
        .body
        .match_indices("<li><code>")
        .map(|(i, m)| done.body[i + m.len()..i + m.len() + 19].to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{}", done.body);
    (secret, codes)
}

async fn code_step(b: &mut Browser<'_>, code: &str) -> Page {
    b.submit("/connexion/code", "/connexion/code", &[("code", code)])
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_second_factor_the_password_alone_opens_nothing() {
    let app = TestApp::new().await;
    let mut b = app
        .signed_in("Durand", "Camille", "12/04/2003", EMAIL)
        .await;
    assert!(
        b.get("/espace/profil")
            .await
            .body
            .contains("Activer la double authentification")
    );
    let (secret, _) = enrol(&app, &mut b).await;
    assert!(b.get("/espace/profil").await.body.contains("Activée"));
    // the code used at enrolment does not open a session later
    let used_at_enrolment = code(&app, &secret, 0);

    let mut other = app.browser();
    let login = other.login(EMAIL, PASSWORD).await;
    assert_eq!(login.status, 303);
    assert_eq!(login.location(), "/connexion/code");
    assert_eq!(
        other.get("/espace").await.status,
        303,
        "no session after the password"
    );
    let reused = code_step(&mut other, &used_at_enrolment).await;
    assert_eq!(reused.status, 422, "a code is accepted once");
    assert!(reused.body.contains("Code incorrect ou déjà utilisé"));
    assert_eq!(code_step(&mut other, "000000").await.status, 422);
    assert_eq!(code_step(&mut other, "pas un code").await.status, 422);

    app.clock.advance(time::Duration::seconds(30));
    let fresh = code(&app, &secret, 0);
    let opened = code_step(&mut other, &fresh).await;
    assert_eq!(opened.status, 303, "{}", opened.body);
    assert_eq!(opened.location(), "/espace");
    assert_eq!(other.get("/espace").await.status, 200);
    // and replaying that one from a third browser fails
    let mut third = app.browser();
    assert_eq!(
        third.login(EMAIL, PASSWORD).await.location(),
        "/connexion/code"
    );
    assert_eq!(code_step(&mut third, &fresh).await.status, 422);

    // the waiting step expires: a code alone, five minutes later, opens nothing
    app.clock.advance(time::Duration::minutes(6));
    assert_sent_to_login(&third.get("/connexion/code").await);
    let csrf = third.get("/connexion").await.csrf();
    let late = third
        .post_form(
            "/connexion/code",
            &[
                ("csrf", csrf.as_str()),
                ("code", code(&app, &secret, 0).as_str()),
            ],
        )
        .await;
    assert_eq!(late.status, 422);
    assert!(late.body.contains("Connexion expirée"));
    // without the password first, the code page sends to the login
    assert_sent_to_login(&app.browser().get("/connexion/code").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recovery_code_opens_once_and_both_factors_turn_it_off() {
    let app = TestApp::new().await;
    let mut b = app
        .signed_in("Durand", "Camille", "12/04/2003", EMAIL)
        .await;
    let (secret, codes) = enrol(&app, &mut b).await;

    let mut lost_phone = app.browser();
    assert_eq!(
        lost_phone.login(EMAIL, PASSWORD).await.location(),
        "/connexion/code"
    );
    // typed in lower case with spaces: still the code
    let typed = codes[3].to_lowercase().replace('-', " ");
    assert_eq!(code_step(&mut lost_phone, &typed).await.status, 303);
    let mut again = app.browser();
    again.login(EMAIL, PASSWORD).await;
    assert_eq!(
        code_step(&mut again, &codes[3]).await.status,
        422,
        "once only"
    );
    assert!(
        b.get("/espace/profil/double-authentification")
            .await
            .body
            .contains("<strong>9</strong> sur 10")
    );

    // off: the password and a code, both right
    app.clock.advance(time::Duration::seconds(30));
    let wrong_password = b
        .submit(
            "/espace/profil/double-authentification",
            "/espace/profil/double-authentification/desactiver",
            &[
                ("mot_de_passe", "pas le bon"),
                ("code", &code(&app, &secret, 0)),
            ],
        )
        .await;
    assert_eq!(wrong_password.status, 422);
    assert!(wrong_password.body.contains("reste activée"));
    let wrong_code = b
        .submit(
            "/espace/profil/double-authentification",
            "/espace/profil/double-authentification/desactiver",
            &[("mot_de_passe", PASSWORD), ("code", "123456")],
        )
        .await;
    assert_eq!(wrong_code.status, 422);
    let done = b
        .submit(
            "/espace/profil/double-authentification",
            "/espace/profil/double-authentification/desactiver",
            &[
                ("mot_de_passe", PASSWORD),
                ("code", &code(&app, &secret, 0)),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Double authentification désactivée"));
    // the owner was told of both changes, by mail
    let changes: Vec<_> = app
        .mails()
        .await
        .into_iter()
        .filter_map(|m| match m {
            sand_domain::ports::Mail::SecurityChange { change, .. } => Some(change),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [
            sand_domain::ports::SecurityChange::SecondFactorEnabled,
            sand_domain::ports::SecurityChange::SecondFactorDisabled
        ]
    );
    // the password alone opens again; the old recovery codes are worthless
    let mut plain = app.browser();
    let login = plain.login(EMAIL, PASSWORD).await;
    assert_eq!(login.location(), "/espace");
}

#[tokio::test(flavor = "multi_thread")]
async fn enrolment_needs_the_offered_secret_of_this_session_and_its_code() {
    let app = TestApp::new().await;
    let mut b = app
        .signed_in("Durand", "Camille", "12/04/2003", EMAIL)
        .await;
    let page = b.get("/espace/profil/double-authentification").await;
    let secret = shown_secret(&page);
    let enrolment = field(&page, "inscription");
    // a wrong code: the same secret is offered again, nothing is on
    let wrong = b
        .post_form(
            "/espace/profil/double-authentification",
            &[
                ("csrf", page.csrf().as_str()),
                ("inscription", enrolment.as_str()),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert_eq!(shown_secret(&wrong), secret);
    // the same offer from another session of the same account is refused
    let mut other = app.browser();
    assert_eq!(other.login(EMAIL, PASSWORD).await.status, 303);
    let csrf = other
        .get("/espace/profil/double-authentification")
        .await
        .csrf();
    let stolen = other
        .post_form(
            "/espace/profil/double-authentification",
            &[
                ("csrf", csrf.as_str()),
                ("inscription", enrolment.as_str()),
                ("code", code(&app, &secret, 0).as_str()),
            ],
        )
        .await;
    assert_eq!(stolen.status, 422);
    assert!(stolen.body.contains("a expiré"));
    // expired after 15 minutes
    app.clock.advance(time::Duration::minutes(16));
    let late = b
        .post_form(
            "/espace/profil/double-authentification",
            &[
                ("csrf", page.csrf().as_str()),
                ("inscription", enrolment.as_str()),
                ("code", code(&app, &secret, 0).as_str()),
            ],
        )
        .await;
    assert_eq!(late.status, 422);
    // nothing is on
    assert_eq!(
        app.browser().login(EMAIL, PASSWORD).await.location(),
        "/espace"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn guessing_codes_is_limited_like_guessing_passwords() {
    let app = TestApp::with(|s| s.limits.logins_per_account_per_client_per_hour = 6).await;
    let mut b = app
        .signed_in("Durand", "Camille", "12/04/2003", EMAIL)
        .await;
    let (secret, _) = enrol(&app, &mut b).await;
    let mut attacker = app.browser();
    // the confirmation was one attempt, the password another
    assert_eq!(
        attacker.login(EMAIL, PASSWORD).await.location(),
        "/connexion/code"
    );
    let mut statuses = Vec::new();
    for guess in ["111111", "222222", "333333", "444444", "555555"] {
        statuses.push(code_step(&mut attacker, guess).await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    app.clock.advance(time::Duration::seconds(30));
    assert_eq!(
        code_step(&mut attacker, &code(&app, &secret, 0))
            .await
            .status,
        429,
        "refused before the code is even read"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn franceconnect_profiles_have_no_second_factor_here() {
    let app = TestApp::new().await;
    // a password profile only: the page is the enrolment; what FranceConnect profiles see
    // is covered where FranceConnect logins are (their profile page shows no such link)
    let mut b = app
        .signed_in("Durand", "Camille", "12/04/2003", EMAIL)
        .await;
    let page = b.get("/espace/profil/double-authentification").await;
    assert!(page.body.contains("Activer la double authentification"));
    let anonymous = app
        .browser()
        .get("/espace/profil/double-authentification")
        .await;
    assert_eq!(anonymous.status, 303);
    assert_sent_to_login(&anonymous);
}

/// The page asked for before signing in is still where a login with a second factor
/// ends: carried through the code step, and only if it is a page of the space.
#[tokio::test(flavor = "multi_thread")]
async fn the_page_asked_for_survives_the_code_step() {
    let app = TestApp::new().await;
    let mut b = app
        .signed_in("Durand", "Camille", "12/04/2003", EMAIL)
        .await;
    let (secret, _) = enrol(&app, &mut b).await;

    let mut other = app.browser();
    let asked = other.get("/espace/profil").await;
    assert_eq!(asked.location(), "/connexion?retour=%2Fespace%2Fprofil");
    let form = other.get(asked.location()).await;
    let token = form.csrf();
    let login = other
        .post_form(
            "/connexion",
            &[
                ("csrf", token.as_str()),
                ("email", EMAIL),
                ("mot_de_passe", PASSWORD),
                ("retour", "/espace/profil"),
            ],
        )
        .await;
    assert_eq!(
        login.location(),
        "/connexion/code?retour=%2Fespace%2Fprofil"
    );
    let step = other.get(login.location()).await;
    assert!(
        step.body
            .contains(r#"<input type="hidden" name="retour" value="/espace/profil">"#),
        "{}",
        step.body
    );
    app.clock.advance(time::Duration::seconds(30));
    let fresh = code(&app, &secret, 0);
    let token = step.csrf();
    let opened = other
        .post_form(
            "/connexion/code",
            &[
                ("csrf", token.as_str()),
                ("code", fresh.as_str()),
                ("retour", "/espace/profil"),
            ],
        )
        .await;
    assert_eq!(opened.status, 303, "{}", opened.body);
    assert_eq!(opened.location(), "/espace/profil");

    // another site given as the way back is not one
    let mut third = app.browser();
    let token = third.get("/connexion").await.csrf();
    let login = third
        .post_form(
            "/connexion",
            &[
                ("csrf", token.as_str()),
                ("email", EMAIL),
                ("mot_de_passe", PASSWORD),
                ("retour", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(login.location(), "/connexion/code");
}
