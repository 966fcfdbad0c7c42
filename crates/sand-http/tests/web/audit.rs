//! Security events (ASVS 5.0 V16): each is one structured line on the `sand::security`
//! target with the event's name, the request id, the client address and a pseudonymous
//! account, and no personal data.

use std::sync::{Arc, Mutex};

use poem::http::Method;

use crate::support::{PASSWORD, TestApp};

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

impl Captured {
    /// The security events logged so far, as (event name, whole line).
    fn events(&self) -> Vec<(String, String)> {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines()
            .filter(|l| l.contains("sand::security"))
            .map(|l| (field(l, "event"), l.to_owned()))
            .collect()
    }

    /// The lines of the events named `name`.
    fn lines_of(&self, name: &str) -> Vec<String> {
        self.events()
            .into_iter()
            .filter(|(n, _)| n == name)
            .map(|(_, l)| l)
            .collect()
    }
}

/// The value of `name=` in a log line (quoted or not).
fn field(line: &str, name: &str) -> String {
    let pattern = format!(" {name}=");
    let Some(start) = line.find(&pattern) else {
        return String::new();
    };
    let rest = &line[start + pattern.len()..];
    if let Some(quoted) = rest.strip_prefix('"') {
        quoted.split('"').next().unwrap_or_default().to_owned()
    } else {
        rest.split(' ').next().unwrap_or_default().to_owned()
    }
}

/// The one line of the event `name`, checked for the fields every event carries.
fn only(log: &Captured, name: &str) -> String {
    let lines = log.lines_of(name);
    assert_eq!(
        lines.len(),
        1,
        "{name}: {lines:#?}\nall: {:#?}",
        log.events()
    );
    let line = lines.into_iter().next().unwrap();
    let request_id = field(&line, "request_id");
    assert!(
        request_id.len() == 32 && request_id.chars().all(|c| c.is_ascii_hexdigit()),
        "{line}"
    );
    assert!(!field(&line, "client").is_empty(), "{line}");
    line
}

#[tokio::test]
async fn security_events_are_logged_once_with_request_client_and_pseudonym_only() {
    let log = Captured::default();
    let sink = log.clone();
    // the handlers run on this test's thread (a current-thread runtime)
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish(),
    );
    let app = TestApp::with(|s| {
        s.trust_forwarded_for = true;
        s.limits.mail_requests_per_client_per_hour = 1;
    })
    .await;
    let email = "camille.audit@exemple.fr";

    // creation and confirmation name the profile
    let mut b = app
        .signed_in("Durand", "Camille", "12/04/2003", email)
        .await;
    let created = only(&log, "account_created");
    let profile = field(&created, "account");
    assert_eq!(
        uuid::Uuid::parse_str(&profile).map(|_| ()),
        Ok(()),
        "{created}"
    );
    assert_eq!(field(&only(&log, "email_confirmed"), "account"), profile);

    // a CSRF refusal names the signed-in account
    let refused = b
        .post_form("/espace/profil/supprimer", &[("csrf", "faux")])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let csrf = only(&log, "csrf_refused");
    assert_eq!(field(&csrf, "account"), profile);
    assert_eq!(field(&csrf, "request_id"), refused.header("x-request-id"));

    // an id that is not the account's
    let foreign = uuid::Uuid::new_v4().simple().to_string();
    let page = b
        .get(&format!("/espace/diplomes/{foreign}/attestation.pdf"))
        .await;
    assert_eq!(page.status, 404);
    let line = only(&log, "unknown_or_foreign_id");
    assert_eq!(field(&line, "account"), profile);
    assert!(
        line.contains("/espace/diplomes/:id/attestation.pdf id=")
            && line.contains(&uuid::Uuid::parse_str(&foreign).unwrap().to_string()),
        "{line}"
    );

    // logout
    assert_eq!(b.log_out().await.status, 303);
    assert_eq!(field(&only(&log, "logout"), "account"), profile);

    // a failed login, from a client behind the trusted proxy: the address typed is a
    // pseudonym, the same for the next failure on it, and never the address itself
    let mut stranger = app.browser();
    let form = stranger.get("/connexion").await.csrf();
    let failed = stranger
        .post_form_from(
            "203.0.113.9",
            "/connexion",
            &[
                ("csrf", form.as_str()),
                ("email", "Camille.Audit@exemple.fr"),
                ("mot_de_passe", "pas le bon mot de passe"),
            ],
        )
        .await;
    assert_eq!(failed.status, 422);
    let line = only(&log, "login_failed");
    assert_eq!(field(&line, "client"), "203.0.113.9");
    let pseudonym = field(&line, "account");
    assert!(pseudonym.starts_with("adresse:"), "{line}");
    assert_eq!(
        stranger.login(email, "encore faux encore").await.status,
        422
    );
    let failures = log.lines_of("login_failed");
    assert_eq!(failures.len(), 2);
    assert_eq!(
        field(&failures[1], "account"),
        pseudonym,
        "case and spaces do not matter"
    );

    // a successful login names the profile
    assert_eq!(stranger.login(email, PASSWORD).await.status, 303);
    assert_eq!(field(&only(&log, "login_succeeded"), "account"), profile);

    // a reset asked for, then a second ask refused by the client's limit
    let mut forgetful = app.browser();
    let asked = forgetful
        .submit(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", email)],
        )
        .await;
    assert_eq!(asked.status, 200);
    assert_eq!(
        field(&only(&log, "password_reset_requested"), "account"),
        pseudonym
    );
    let token = match app
        .wait_for_mail(|m| matches!(m, sand_domain::ports::Mail::PasswordReset { .. }))
        .await
    {
        sand_domain::ports::Mail::PasswordReset { token, .. } => token.expose().to_owned(),
        _ => unreachable!(),
    };
    let again = forgetful
        .submit(
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", email)],
        )
        .await;
    assert_eq!(again.status, 429);
    let limited = only(&log, "rate_limited");
    assert_eq!(field(&limited, "detail"), "/mot-de-passe-oublie");

    // the reset itself
    let form = forgetful
        .get(&format!("/compte/mot-de-passe?jeton={token}"))
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    let new_password = "autre phrase tranquille";
    let reset = forgetful
        .post_form(
            "/mot-de-passe/nouveau",
            &[
                ("csrf", form.csrf().as_str()),
                ("jeton", token.as_str()),
                ("mot_de_passe", new_password),
                ("confirmation", new_password),
            ],
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert_eq!(field(&only(&log, "password_reset"), "account"), profile);

    // the deletion of the profile, through the API
    let mut owner = app.browser();
    assert_eq!(owner.login(email, new_password).await.status, 303);
    let deleted = owner.request(Method::DELETE, "/api/v1/moi", None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(field(&only(&log, "profile_deleted"), "account"), profile);

    // no security event carries personal data
    for (name, line) in log.events() {
        for secret in [
            "camille",
            "Camille",
            "Durand",
            "DURAND",
            "exemple.fr",
            PASSWORD,
        ] {
            assert!(!line.contains(secret), "{name} carries {secret:?}: {line}");
        }
        assert!(
            !line.contains(&token),
            "{name} carries the reset token: {line}"
        );
    }
}
