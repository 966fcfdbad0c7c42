//! Property-based fuzzing of the verification entry points (proptest; `cargo fuzz` needs
//! a nightly toolchain): whatever a verifier types or sends, the answer is a page or a
//! JSON error, never a 5xx, and it never says "valid" for a key that does not exist.
//!
//! The test command runs the default 256 cases; for a longer run:
//! `PROPTEST_CASES=20000 cargo nextest run -p sand-http fuzz_`.

use poem::http::Method;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::support::TestApp;

fn typed() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[A-Z0-9]{8}",
        "[a-z0-9 -]{0,12}",
        "[A-Za-zÀ-ÿ' -]{0,30}",
        "\\PC{0,60}",
        any::<String>().prop_map(|s| s.chars().take(300).collect()),
        Just("<script>alert(1)</script>".to_owned()),
        Just("' OR 1=1 --".to_owned()),
        Just("A".repeat(10_000)),
    ]
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    })
}

fn app(rt: &tokio::runtime::Runtime) -> TestApp {
    rt.block_on(TestApp::with(|settings| {
        settings.limits.verifications_per_client_per_minute = 1_000_000;
        settings.limits.wrong_answers_per_key_per_client_per_day = 1_000_000;
        settings.limits.wrong_answers_per_key_per_day = 1_000_000;
    }))
}

/// Camille attaches her diploma: a real, live key for the fuzzed names.
fn attached_key(rt: &tokio::runtime::Runtime, app: &TestApp) -> String {
    rt.block_on(async {
        let mut camille = app
            .signed_in(
                "Durand",
                "Camille Marie",
                "2003-04-12",
                "camille@exemple.fr",
            )
            .await;
        assert_eq!(camille.attach("BACG", "2021", "10").await.status, 303);
        crate::key_of(&camille.get("/espace").await)
    })
}

/// Whether `name` is Camille's birth name as verification compares names.
fn is_camilles_name(name: &str) -> bool {
    sand_domain::identity::BirthName::parse(name).is_ok_and(|n| n.match_key() == "DURAND")
}

#[test]
fn fuzz_the_verification_form_answers_a_page_never_a_failure() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = app(&rt);
    let real_key = attached_key(&rt, &app);
    let browser = std::cell::RefCell::new(app.browser());
    let token = rt.block_on(browser.borrow_mut().get("/verifier")).csrf();
    // the marker is real: the right name on the real key is answered valid
    let valid = rt.block_on(browser.borrow_mut().post_form(
        "/verifier",
        &[
            ("csrf", token.as_str()),
            ("cle", &real_key),
            ("nom", "durand"),
        ],
    ));
    assert!(valid.body.contains("Attestation valide"), "{}", valid.body);
    let keys = prop_oneof![2 => Just(real_key.clone()), 1 => typed()];
    runner()
        .run(&(keys, typed(), typed()), |(key, name, organisation)| {
            let page = rt.block_on(browser.borrow_mut().post_form(
                "/verifier",
                &[
                    ("csrf", token.as_str()),
                    ("cle", &key),
                    ("nom", &name),
                    ("organisme", &organisation),
                ],
            ));
            prop_assert!(
                [200, 413, 422].contains(&page.status),
                "{} for {key:?} {name:?}",
                page.status
            );
            // valid only for the real key with Camille's name, whatever else is typed
            prop_assert!(
                !page.body.contains("Attestation valide")
                    || (key == real_key && is_camilles_name(&name)),
                "valid for {key:?} {name:?}"
            );
            prop_assert!(!page.body.contains("<script>alert"));
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_raw_form_bodies_are_refused_cleanly() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = app(&rt);
    let browser = std::cell::RefCell::new(app.browser());
    let token = rt.block_on(browser.borrow_mut().get("/verifier")).csrf();
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        "\\PC{0,200}".prop_map(String::into_bytes),
        typed().prop_map(|s| format!("cle={s}&nom={s}&cle=X&organisme=%ZZ").into_bytes()),
    ];
    runner()
        .run(&body, |mut bytes| {
            bytes.extend_from_slice(format!("&csrf={token}").as_bytes());
            let page = rt.block_on(browser.borrow_mut().request(
                Method::POST,
                "/verifier",
                Some(("application/x-www-form-urlencoded", bytes)),
            ));
            prop_assert!(page.status < 500, "{}", page.status);
            prop_assert!(!page.body.contains("Attestation valide"));
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_the_verification_api_answers_json_never_a_failure() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = app(&rt);
    let real_key = attached_key(&rt, &app);
    let browser = std::cell::RefCell::new(app.browser());
    let keys = prop_oneof![2 => Just(real_key.clone()), 1 => typed()];
    let json = prop_oneof![
        (keys, typed(), prop::option::of(typed())).prop_map(|(cle, nom, organisme)| {
            serde_json::json!({ "cle": cle, "nom": nom, "organisme": organisme }).to_string()
        }),
        "\\PC{0,200}",
        Just("{\"cle\": 12345678, \"nom\": null}".to_owned()),
        Just("[]".to_owned()),
        Just("{\"cle\":\"ABCD2345\"}".to_owned()),
    ];
    runner()
        .run(&json, |body| {
            let page = rt.block_on(browser.borrow_mut().request(
                Method::POST,
                "/api/v1/verifications",
                Some(("application/json", body.clone().into_bytes())),
            ));
            prop_assert!(page.status < 500, "{} for {body:?}", page.status);
            let answer: serde_json::Value = serde_json::from_str(&page.body)
                .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {}", page.body)))?;
            // valid only for the real key with Camille's name
            if answer.get("valide") == Some(&serde_json::Value::Bool(true)) {
                let asked: serde_json::Value = serde_json::from_str(&body).unwrap();
                prop_assert_eq!(asked["cle"].as_str(), Some(real_key.as_str()));
                prop_assert!(is_camilles_name(asked["nom"].as_str().unwrap_or_default()));
            }
            Ok(())
        })
        .unwrap();
}
