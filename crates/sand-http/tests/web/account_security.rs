//! The signed-in account's own security: changing its password, seeing and ending its
//! sessions, and the cap on concurrent sessions.

use crate::support::{Browser, PASSWORD, Page, TestApp, assert_sent_to_login};

const EMAIL: &str = "camille@exemple.fr";
const NEW: &str = "autre phrase tranquille";

async fn signed_in(app: &TestApp) -> Browser<'_> {
    app.signed_in("Durand", "Camille", "12/04/2003", EMAIL)
        .await
}

async fn change(b: &mut Browser<'_>, current: &str, new: &str, again: &str) -> Page {
    b.submit(
        "/espace/profil/mot-de-passe",
        "/espace/profil/mot-de-passe",
        &[
            ("actuel", current),
            ("mot_de_passe", new),
            ("confirmation", again),
        ],
    )
    .await
}

async fn is_signed_in(b: &mut Browser<'_>) -> bool {
    let page = b.get("/espace").await;
    match page.status {
        200 => true,
        303 => {
            assert_sent_to_login(&page);
            false
        }
        other => panic!("unexpected {other}: {}", page.body),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_needs_the_current_one_and_ends_the_other_sessions() {
    let app = TestApp::new().await;
    let mut here = signed_in(&app).await;
    let mut elsewhere = app.browser();
    assert_eq!(elsewhere.login(EMAIL, PASSWORD).await.status, 303);

    // the form is reached from the profile page
    let profile = here.get("/espace/profil").await;
    assert!(
        profile
            .body
            .contains("href=\"/espace/profil/mot-de-passe\"")
    );

    // a wrong current password, a weak new one, two different new ones: refused, kept
    let wrong = change(&mut here, "pas la bonne phrase", NEW, NEW).await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong
            .body
            .contains("Mot de passe actuel : ce n&#39;est pas le bon."),
        "{}",
        wrong.body
    );
    let weak = change(&mut here, PASSWORD, "azerty123456", "azerty123456").await;
    assert_eq!(weak.status, 422);
    assert!(weak.body.contains("trop simple ou trop courant"));
    let mismatch = change(&mut here, PASSWORD, NEW, "autre chose encore").await;
    assert_eq!(mismatch.status, 422);
    assert!(mismatch.body.contains("différents"));
    assert!(is_signed_in(&mut elsewhere).await, "nothing changed yet");

    // the right one: changed, this session kept, the other one ended
    let done = change(&mut here, PASSWORD, NEW, NEW).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body
            .contains("Votre autre session ouverte a été fermée.")
    );
    // the owner is told by mail
    let notice = app
        .wait_for_mail(|m| matches!(m, sand_domain::ports::Mail::SecurityChange { .. }))
        .await;
    assert_eq!(
        notice,
        sand_domain::ports::Mail::SecurityChange {
            to: sand_domain::credentials::Email::parse(EMAIL).unwrap(),
            change: sand_domain::ports::SecurityChange::PasswordChanged,
        }
    );
    assert!(is_signed_in(&mut here).await);
    assert!(!is_signed_in(&mut elsewhere).await);
    assert_eq!(app.browser().login(EMAIL, PASSWORD).await.status, 422);
    assert_eq!(app.browser().login(EMAIL, NEW).await.status, 303);
}

#[tokio::test(flavor = "multi_thread")]
async fn guessing_the_current_password_from_a_session_is_limited_like_a_login() {
    // four attempts an hour on one account from one client: the confirmation of the
    // address was the first
    let app = TestApp::with(|s| {
        s.limits.logins_per_account_per_client_per_hour = 4;
        s.trust_forwarded_for = true;
    })
    .await;
    let mut b = signed_in(&app).await;
    for _ in 0..3 {
        assert_eq!(
            change(&mut b, "encore une devinette", NEW, NEW)
                .await
                .status,
            422
        );
    }
    let refused = change(&mut b, PASSWORD, NEW, NEW).await;
    assert_eq!(refused.status, 429);
    // not changed: the old password still opens the account, from another client
    let mut elsewhere = app.browser();
    let csrf = elsewhere.get("/connexion").await.csrf();
    let login = elsewhere
        .post_form_from(
            "198.51.100.20",
            "/connexion",
            &[
                ("csrf", csrf.as_str()),
                ("email", EMAIL),
                ("mot_de_passe", PASSWORD),
            ],
        )
        .await;
    assert_eq!(login.status, 303, "{}", login.body);
}

/// The handles of the "end this session" forms on the profile page.
fn handles(page: &Page) -> Vec<String> {
    page.body
        .match_indices("name=\"session\" value=\"")
        .map(|(i, m)| {
            let rest = &page.body[i + m.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_account_sees_its_sessions_and_ends_one_or_all_the_others() {
    let app = TestApp::new().await;
    let mut here = signed_in(&app).await;
    let mut phone = app.browser();
    assert_eq!(phone.login(EMAIL, PASSWORD).await.status, 303);
    let mut library = app.browser();
    assert_eq!(library.login(EMAIL, PASSWORD).await.status, 303);
    // someone else's session is neither listed nor endable
    let mut stranger = app
        .signed_in("Martin", "Léa", "01/02/2002", "lea@exemple.fr")
        .await;
    let theirs = handles(&stranger.get("/espace/profil").await);
    assert!(theirs.is_empty(), "one session: no button");

    let profile = here.get("/espace/profil").await;
    assert_eq!(profile.status, 200);
    assert!(profile.body.contains("Cette session (cet appareil)"));
    assert_eq!(profile.body.matches("Autre session").count(), 2);
    let others = handles(&profile);
    assert_eq!(others.len(), 2);
    // no stored digest or token reaches the page
    for (name, value) in &here.cookies {
        assert!(!profile.body.contains(value.as_str()), "{name} on the page");
    }

    // a handle of this account ends exactly one session; a stranger's attempt with it
    // ends nothing
    let tried = stranger
        .submit(
            "/espace/profil",
            "/espace/sessions/fermer",
            &[("session", &others[0])],
        )
        .await;
    assert_eq!(tried.status, 303);
    assert!(is_signed_in(&mut phone).await && is_signed_in(&mut library).await);
    let ended = here
        .submit(
            "/espace/profil",
            "/espace/sessions/fermer",
            &[("session", &others[0])],
        )
        .await;
    assert_eq!(ended.status, 303);
    assert_eq!(ended.location(), "/espace/profil#sessions");
    let still = [
        is_signed_in(&mut phone).await,
        is_signed_in(&mut library).await,
    ];
    assert_eq!(still.iter().filter(|s| **s).count(), 1, "{still:?}");
    assert!(is_signed_in(&mut here).await);

    // all the others at once
    let all = here
        .submit("/espace/profil", "/espace/sessions/fermer-autres", &[])
        .await;
    assert_eq!(all.status, 303);
    assert!(!is_signed_in(&mut phone).await && !is_signed_in(&mut library).await);
    assert!(is_signed_in(&mut here).await);
    assert!(
        is_signed_in(&mut stranger).await,
        "another account's sessions stay"
    );
    assert!(handles(&here.get("/espace/profil").await).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_beyond_ten_open_sessions_ends_the_oldest() {
    let app = TestApp::new().await;
    let mut first = signed_in(&app).await;
    let mut later = Vec::new();
    for minute in 1..=9 {
        app.clock.advance(time::Duration::minutes(1));
        let mut b = app.browser();
        assert_eq!(b.login(EMAIL, PASSWORD).await.status, 303, "login {minute}");
        later.push(b);
    }
    assert!(is_signed_in(&mut first).await, "ten sessions are allowed");
    app.clock.advance(time::Duration::minutes(1));
    let mut eleventh = app.browser();
    assert_eq!(eleventh.login(EMAIL, PASSWORD).await.status, 303);
    assert!(!is_signed_in(&mut first).await, "the oldest went");
    assert!(is_signed_in(&mut eleventh).await);
    for b in &mut later {
        assert!(is_signed_in(b).await);
    }
}
