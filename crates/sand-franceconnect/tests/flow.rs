//! The whole FranceConnect flow, and ProConnect's, over real HTTP against a real OpenID
//! Connect provider (`tests/oidc-provider`, npm `oidc-provider` configured like
//! FranceConnect for one client and like ProConnect for the other, with fixture agents),
//! with a small browser (cookies, redirects, the login form) standing in for the
//! graduate or the agent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use openidconnect::reqwest;
use openidconnect::url::Url;
use sand_domain::ports::AgentIdentityProvider;
use sand_domain::ports::{CallbackParams, IdentityProvider, IdentityProviderError, PendingLogin};
use sand_domain::staff::sign_in::{ProvenAgent, Siret};
use sand_franceconnect::{FranceConnect, FranceConnectSettings, OidcSettings, ProConnect};

const REDIRECT: &str = "http://127.0.0.1:9/franceconnect/retour";
const AFTER_LOGOUT: &str = "http://127.0.0.1:9/franceconnect/deconnexion";
const AGENT_REDIRECT: &str = "http://127.0.0.1:9/proconnect/retour";
const AGENT_AFTER_LOGOUT: &str = "http://127.0.0.1:9/proconnect/deconnexion";

/// The test provider; stops when dropped.
struct Provider {
    child: Child,
    issuer: String,
}

impl Provider {
    fn start() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc-provider");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "the test provider is not installed: `npm ci --prefix tests/oidc-provider` (tests/run.sh does it)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .env("PORT", "0")
            .env("REDIRECT_URIS", REDIRECT)
            .env("POST_LOGOUT_REDIRECT_URIS", AFTER_LOGOUT)
            .env("AGENTS_REDIRECT_URIS", AGENT_REDIRECT)
            .env("AGENTS_POST_LOGOUT_REDIRECT_URIS", AGENT_AFTER_LOGOUT)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let mut issuer = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut issuer)
            .unwrap();
        assert!(
            issuer.starts_with("http://"),
            "provider did not start: {issuer:?}"
        );
        Self {
            child,
            issuer: issuer.trim().to_owned(),
        }
    }

    fn adapter(&self) -> FranceConnect {
        FranceConnect::new(FranceConnectSettings {
            issuer: self.issuer.clone(),
            client_id: "sand-dev".into(),
            client_secret: "sand-dev-secret-0123456789abcdefghijklmnopqrstuvwxyz".into(),
            redirect_url: REDIRECT.into(),
            post_logout_redirect_url: AFTER_LOGOUT.into(),
            timeout: Duration::from_secs(10),
        })
        .unwrap()
    }

    fn agents(&self) -> ProConnect {
        ProConnect::new(OidcSettings {
            issuer: self.issuer.clone(),
            client_id: "sand-agents-dev".into(),
            client_secret: "sand-agents-secret-0123456789abcdefghijklmnopqrstuvwxyz".into(),
            redirect_url: AGENT_REDIRECT.into(),
            post_logout_redirect_url: AGENT_AFTER_LOGOUT.into(),
            timeout: Duration::from_secs(10),
        })
        .unwrap()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A browser: keeps cookies, follows the provider's redirects, fills its login form.
struct Browser {
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = request.header("cookie", cookie).send().await.unwrap();
        for value in response.headers().get_all("set-cookie") {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.insert(k.to_owned(), v.to_owned());
        }
        response
    }

    /// Goes through the login at `url` as `login` (or cancels it with `None`); returns
    /// where the provider finally sends the browser (the client's redirect URI).
    async fn log_in(&mut self, url: &str, login: Option<&str>) -> Url {
        self.log_in_back_to(url, login, REDIRECT).await
    }

    /// [`Self::log_in`], for the client whose redirect URI is `redirect`.
    async fn log_in_back_to(&mut self, url: &str, login: Option<&str>, redirect: &str) -> Url {
        let mut response = self.send(self.http.get(url)).await;
        loop {
            assert!(
                response.status().is_redirection(),
                "unexpected {}: {}",
                response.status(),
                response.text().await.unwrap()
            );
            let base = response.url().clone();
            let location = base
                .join(response.headers()["location"].to_str().unwrap())
                .unwrap();
            if location.as_str().starts_with(redirect) {
                return location;
            }
            response = self.send(self.http.get(location.clone())).await;
            if response.status().is_success() && location.path().starts_with("/interaction/") {
                let page = location.clone();
                response = match login {
                    None => {
                        self.send(
                            self.http
                                .get(page.join(&format!("{}/abort", page.path())).unwrap()),
                        )
                        .await
                    }
                    Some(login) => {
                        let action = page.join(&format!("{}/login", page.path())).unwrap();
                        self.send(
                            self.http
                                .post(action)
                                .form(&[("login", login), ("password", "123")]),
                        )
                        .await
                    }
                };
            }
        }
    }
}

fn callback_of(url: &Url) -> CallbackParams {
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    match q.get("error") {
        Some(error) => CallbackParams::Error {
            error: error.clone(),
            state: q.get("state").cloned(),
        },
        None => CallbackParams::Code {
            code: q["code"].clone(),
            state: q["state"].clone(),
        },
    }
}

fn copy(pending: &PendingLogin) -> PendingLogin {
    PendingLogin {
        state: pending.state.clone(),
        nonce: pending.nonce.clone(),
        pkce_verifier: pending.pkce_verifier.clone(),
    }
}

#[tokio::test]
async fn angela_dubois_logs_in_and_out_with_her_certified_identity() {
    let provider = Provider::start();
    let fc = provider.adapter();
    let request = fc.begin().await.unwrap();
    let url = Url::parse(&request.url).unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["acr_values"], "eidas1");
    assert_eq!(q["response_type"], "code");
    assert!(q["state"].len() >= 32 && q["nonce"].len() >= 32);
    // exactly what SAND uses, nothing more (no gender, no preferred_username)
    let mut scopes: Vec<&str> = q["scope"].split(' ').collect();
    scopes.sort_unstable();
    assert_eq!(
        scopes,
        [
            "birthcountry",
            "birthdate",
            "birthplace",
            "email",
            "family_name",
            "given_name",
            "openid"
        ]
    );
    assert_eq!(q["code_challenge_method"], "S256", "PKCE when advertised");

    let back = Browser::new().log_in(&request.url, Some("test")).await;
    let identity = fc
        .complete(request.pending, callback_of(&back))
        .await
        .unwrap();
    assert_eq!(identity.identity.birth_name.as_str(), "DUBOIS");
    let first: Vec<&str> = identity
        .identity
        .first_names
        .names()
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(first, ["Angela", "Claire", "Louise"]);
    assert_eq!(
        identity.identity.birth_date.date().to_string(),
        "1962-08-24"
    );
    assert!(!identity.birth_date_presumed);
    // the INSEE code of her place of birth (Paris 7e) is kept
    assert_eq!(
        identity
            .identity
            .birth_place_code
            .map(|c| c.as_str().to_owned()),
        Some("75107".to_owned())
    );
    assert_eq!(identity.email.unwrap().as_str(), "angela.dubois@exemple.fr");
    assert_eq!(identity.subject.issuer, format!("{}", provider.issuer));
    assert_eq!(identity.subject.subject.len(), 66);
    assert!(identity.subject.subject.ends_with("v1"));

    let logout = Url::parse(
        &fc.logout_url(&identity.id_token_hint, "etat-de-sortie")
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(logout.path(), "/session/end");
    let q: HashMap<String, String> = logout.query_pairs().into_owned().collect();
    assert_eq!(q["id_token_hint"], identity.id_token_hint);
    assert_eq!(q["state"], "etat-de-sortie");
    assert_eq!(q["post_logout_redirect_uri"], AFTER_LOGOUT);
}

#[tokio::test]
async fn the_pivot_edge_cases_map_as_they_should() {
    let provider = Provider::start();
    let fc = provider.adapter();
    let login = |who: &'static str| {
        let fc = &fc;
        async move {
            let request = fc.begin().await.unwrap();
            let back = Browser::new().log_in(&request.url, Some(who)).await;
            fc.complete(request.pending, callback_of(&back)).await
        }
    };
    let presumed = login("date-presumee").await.unwrap();
    assert!(presumed.birth_date_presumed);
    assert_eq!(presumed.identity.birth_name.as_str(), "N'DIAYE");
    let abroad = login("ne-etranger").await.unwrap();
    assert_eq!(abroad.identity.birth_name.as_str(), "LEFÈVRE-MARTIN");
    assert_eq!(abroad.identity.birth_place, None);
    // born abroad: the country's code (Morocco)
    assert_eq!(
        abroad
            .identity
            .birth_place_code
            .map(|c| c.as_str().to_owned()),
        Some("99350".to_owned())
    );
    assert!(matches!(
        login("sans-nom").await,
        Err(IdentityProviderError::IncompleteIdentity)
    ));
}

#[tokio::test]
async fn a_cancelled_login_a_foreign_state_and_a_reused_code_are_refused() {
    let provider = Provider::start();
    let fc = provider.adapter();

    let request = fc.begin().await.unwrap();
    let back = Browser::new().log_in(&request.url, None).await;
    assert!(matches!(
        fc.complete(request.pending, callback_of(&back)).await,
        Err(IdentityProviderError::Cancelled)
    ));

    // the callback belongs to another browser's login
    let mine = fc.begin().await.unwrap();
    let theirs = fc.begin().await.unwrap();
    let back = Browser::new().log_in(&theirs.url, Some("test")).await;
    assert!(matches!(
        fc.complete(mine.pending, callback_of(&back)).await,
        Err(IdentityProviderError::StateMismatch)
    ));

    // a code is good once
    let request = fc.begin().await.unwrap();
    let back = Browser::new().log_in(&request.url, Some("test")).await;
    let pending = copy(&request.pending);
    fc.complete(request.pending, callback_of(&back))
        .await
        .unwrap();
    assert!(matches!(
        fc.complete(pending, callback_of(&back)).await,
        Err(IdentityProviderError::CodeRejected)
    ));

    // a wrong nonce (another login's) fails the id_token check
    let request = fc.begin().await.unwrap();
    let other = fc.begin().await.unwrap();
    let back = Browser::new().log_in(&request.url, Some("test")).await;
    let mut pending = request.pending;
    pending.nonce = other.pending.nonce;
    assert!(matches!(
        fc.complete(pending, callback_of(&back)).await,
        Err(IdentityProviderError::InvalidResponse(_))
    ));
}

#[tokio::test]
async fn a_provider_that_is_down_is_unavailable_not_a_crash() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fc = FranceConnect::new(FranceConnectSettings {
        issuer: format!("http://127.0.0.1:{port}"),
        client_id: "x".into(),
        client_secret: "y".into(),
        redirect_url: REDIRECT.into(),
        post_logout_redirect_url: AFTER_LOGOUT.into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let error = fc.begin().await.unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
}

#[tokio::test]
async fn tampered_unsigned_misaddressed_foreign_or_expired_tokens_are_refused() {
    let provider = Provider::start();
    let fc = provider.adapter();
    for who in [
        "jeton-altere",
        "cle-inconnue",
        // unsigned, validly signed but for another client, by another issuer, expired
        "alg-none",
        "mauvaise-audience",
        "mauvais-emetteur",
        "jeton-expire",
        "userinfo-alg-none",
    ] {
        let request = fc.begin().await.unwrap();
        let back = Browser::new().log_in(&request.url, Some(who)).await;
        match fc.complete(request.pending, callback_of(&back)).await {
            Err(IdentityProviderError::InvalidResponse(why)) => {
                let why = why.to_string();
                assert!(
                    why.contains("id_token") || why.contains("userinfo"),
                    "{who}: {why}"
                );
            }
            other => panic!("{who}: {other:?}"),
        }
    }
    // the control: an id_token re-signed unchanged by the same rewriting is accepted, so
    // the refusals above are for what was changed
    let request = fc.begin().await.unwrap();
    let back = Browser::new()
        .log_in(&request.url, Some("jeton-re-signe"))
        .await;
    fc.complete(request.pending, callback_of(&back))
        .await
        .unwrap();
    // and an honest login still works after the key re-fetch
    let request = fc.begin().await.unwrap();
    let back = Browser::new().log_in(&request.url, Some("test")).await;
    fc.complete(request.pending, callback_of(&back))
        .await
        .unwrap();
}

struct Now;

impl sand_domain::ports::Clock for Now {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }
}

#[tokio::test]
async fn a_first_login_creates_the_certified_profile_and_the_next_finds_it() {
    use sand_domain::profile::sign_in::{FranceConnectSignIn, SignInWithFranceConnect};
    use sand_persistence::{DatabaseRoles, KeyProtector, Store, StoreSettings};
    use std::sync::Arc;

    let provider = Provider::start();
    let fc = provider.adapter();
    let dir = std::env::temp_dir().join(format!("sand-fc-{}", std::process::id()));
    let store = Store::connect(
        &StoreSettings::new(format!("sqlite://{}", dir.join("sand.db").display())),
        KeyProtector::from_secret(&[3; 32]).unwrap(),
    )
    .await
    .unwrap();
    store.migrate(&DatabaseRoles::default()).await.unwrap();
    let sign_in = SignInWithFranceConnect {
        profiles: Arc::new(store.profiles()),
        clock: Arc::new(Now),
    };

    let mut profiles = Vec::new();
    for _ in 0..2 {
        let request = fc.begin().await.unwrap();
        let back = Browser::new().log_in(&request.url, Some("test")).await;
        let certified = fc
            .complete(request.pending, callback_of(&back))
            .await
            .unwrap();
        profiles.push(sign_in.execute(certified).await.unwrap());
    }
    let FranceConnectSignIn::Created(created) = &profiles[0] else {
        panic!("first login: {:?}", profiles[0])
    };
    assert!(created.identity_certified);
    assert_eq!(created.identity.birth_name.as_str(), "DUBOIS");
    assert_eq!(created.email.as_str(), "angela.dubois@exemple.fr");
    let FranceConnectSignIn::Existing(existing) = &profiles[1] else {
        panic!("second login: {:?}", profiles[1])
    };
    assert_eq!(existing.id, created.id, "keyed by (issuer, sub)");
    std::fs::remove_dir_all(dir).unwrap();
}

/// An agent's whole ProConnect login through the provider: what the adapter proves.
async fn agent_login(pc: &ProConnect, login: &str) -> Result<ProvenAgent, IdentityProviderError> {
    let request = pc.begin().await.unwrap();
    let back = Browser::new()
        .log_in_back_to(&request.url, Some(login), AGENT_REDIRECT)
        .await;
    pc.complete(request.pending, callback_of(&back)).await
}

#[tokio::test]
async fn proconnect_asks_for_the_agents_claims_and_amr_and_nothing_else() {
    let provider = Provider::start();
    let request = provider.agents().begin().await.unwrap();
    let url = Url::parse(&request.url).unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let mut scopes: Vec<&str> = q["scope"].split(' ').collect();
    scopes.sort_unstable();
    assert_eq!(
        scopes,
        [
            "email",
            "given_name",
            "idp_id",
            "openid",
            "siret",
            "uid",
            "usual_name"
        ]
    );
    assert_eq!(q["claims"], r#"{"id_token":{"amr":{"essential":true}}}"#);
    assert!(q["state"].len() >= 32 && q["nonce"].len() >= 32);
    assert_eq!(q["redirect_uri"], AGENT_REDIRECT);
    // ProConnect refuses unknown parameters: only these (PKCE's two when advertised)
    let mut names: Vec<&str> = q.keys().map(String::as_str).collect();
    names.sort_unstable();
    let expected: &[&str] = if q.contains_key("code_challenge") {
        &[
            "claims",
            "client_id",
            "code_challenge",
            "code_challenge_method",
            "nonce",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
        ]
    } else {
        &[
            "claims",
            "client_id",
            "nonce",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
        ]
    };
    assert_eq!(names, expected);
}

#[tokio::test]
async fn agents_of_two_rectorats_and_the_siec_are_proven_with_their_establishment_and_second_factor()
 {
    let provider = Provider::start();
    let pc = provider.agents();
    let lyon = agent_login(&pc, "agent.lyon").await.unwrap();
    assert_eq!(lyon.email.as_str(), "claire.moreau@ac-lyon.fr");
    assert_eq!(lyon.usual_name, "MOREAU");
    assert_eq!(lyon.given_name, "Claire Marie");
    assert_eq!(lyon.siret, Some(Siret::parse("19691234500013").unwrap()));
    assert_eq!(lyon.idp_id.as_deref(), Some("fia-ac-lyon"));
    assert_eq!(lyon.issuer, provider.issuer);
    assert!(lyon.used_second_factor(), "{:?}", lyon.methods);
    assert!(lyon.id_token_hint.split('.').count() == 3);

    let grenoble = agent_login(&pc, "agent.grenoble").await.unwrap();
    assert_eq!(grenoble.email.as_str(), "luc.fabre@ac-grenoble.fr");
    assert_eq!(
        grenoble.siret,
        Some(Siret::parse("19381234500016").unwrap())
    );
    assert_eq!(grenoble.idp_id.as_deref(), Some("fia-ac-grenoble"));
    assert_ne!(grenoble.subject, lyon.subject);

    let siec = agent_login(&pc, "agent.siec").await.unwrap();
    assert_eq!(siec.email.as_str(), "paul.girard@siec.education.gouv.fr");
    assert_eq!(siec.siret, Some(Siret::parse("13002523400017").unwrap()));
    assert_ne!(siec.subject, lyon.subject);

    // the same agent with a password only: proven, but without a second factor
    let password_only = agent_login(&pc, "agent.lyon-sans-mfa").await.unwrap();
    assert_eq!(password_only.methods, ["pwd"]);
    assert!(!password_only.used_second_factor());
    // an agent SAND does not know is proven all the same: the directory refuses them
    let unknown = agent_login(&pc, "agent.inconnu").await.unwrap();
    assert_eq!(unknown.email.as_str(), "ines.roux@ac-nantes.fr");
    // no establishment in the claims
    assert_eq!(
        agent_login(&pc, "agent.sans-siret").await.unwrap().siret,
        None
    );

    // logout at ProConnect, with the id_token and a state
    let url = Url::parse(
        &pc.logout_url(&lyon.id_token_hint, "etat-de-sortie")
            .await
            .unwrap(),
    )
    .unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(url.path(), "/session/end");
    assert_eq!(q["id_token_hint"], lyon.id_token_hint);
    assert_eq!(q["state"], "etat-de-sortie");
    assert_eq!(q["post_logout_redirect_uri"], AGENT_AFTER_LOGOUT);
}

#[tokio::test]
async fn a_proconnect_userinfo_signed_with_an_unknown_key_or_a_cancel_or_a_foreign_state_is_refused()
 {
    let provider = Provider::start();
    let pc = provider.agents();
    assert!(matches!(
        agent_login(&pc, "agent.cle-inconnue").await,
        Err(IdentityProviderError::InvalidResponse(_))
    ));
    let request = pc.begin().await.unwrap();
    let back = Browser::new()
        .log_in_back_to(&request.url, None, AGENT_REDIRECT)
        .await;
    assert!(matches!(
        pc.complete(copy(&request.pending), callback_of(&back))
            .await,
        Err(IdentityProviderError::Cancelled)
    ));
    let request = pc.begin().await.unwrap();
    let back = Browser::new()
        .log_in_back_to(&request.url, Some("agent.lyon"), AGENT_REDIRECT)
        .await;
    let mut foreign = copy(&request.pending);
    foreign.state = "0".repeat(64);
    assert!(matches!(
        pc.complete(foreign, callback_of(&back)).await,
        Err(IdentityProviderError::StateMismatch)
    ));
    // the FranceConnect client's code is not the agents' client's
    let fc = provider.adapter();
    let request = fc.begin().await.unwrap();
    let back = Browser::new().log_in(&request.url, Some("test")).await;
    let agents_request = pc.begin().await.unwrap();
    let mut pending = copy(&agents_request.pending);
    pending.state.clone_from(&request.pending.state);
    assert!(matches!(
        pc.complete(pending, callback_of(&back)).await,
        Err(IdentityProviderError::CodeRejected | IdentityProviderError::InvalidResponse(_))
    ));
}
