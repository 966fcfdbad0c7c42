//! The real web app over a real SQLite store, a browser-like client that keeps cookies,
//! and fixtures: published records to attach, a clock the tests can move.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::test::TestClient;
use poem::{Response, http::Method};
use sand_attestation::{Issuer, PdfAttestationRenderer, SigningKeys, VerificationKeys};
use sand_domain::academie::Academie;
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Mention, Session, Speciality};
use sand_domain::identity::{Civility, Identity};
use sand_domain::ports::{Clock, IdentityProvider, Mail, MailQueue};
use sand_domain::record::{Award, CandidateNumber, NewRecord, RecordHolder};
use sand_http::hasher::Argon2Hasher;
use sand_http::{AppState, RateLimits, WebSettings};
use sand_persistence::keys::KeyProtector;
use sand_persistence::{DatabaseRoles, Store, StoreSettings};
use time::macros::{date, datetime};

pub use sand_testkit::fixtures::TestClock;
use sand_testkit::fixtures::{ApplyBatch as _, batch_request};

pub const SECRET: [u8; 32] = [42; 32];

pub fn scope() -> DiplomaScope {
    DiplomaScope {
        kind: DiplomaKind::BacGeneral,
        session: Session::new(2021).unwrap(),
        academie: Academie::Lyon,
    }
}

/// An identity, its first names written as a person types them ("Camille Marie").
pub fn identity(birth_name: &str, first_names: &str, birth_date: &str) -> Identity {
    let first_names: Vec<&str> = first_names.split_whitespace().collect();
    sand_testkit::fixtures::identity(birth_name, &first_names, birth_date)
}

fn record(line: u64, candidate: &str, identity: Identity) -> NewRecord {
    record_in(scope(), line, candidate, identity)
}

/// A record of `scope`, with the same award as the default scope's.
pub fn record_in(scope: DiplomaScope, line: u64, candidate: &str, identity: Identity) -> NewRecord {
    NewRecord {
        line,
        candidate_number: CandidateNumber::parse(candidate).unwrap(),
        scope,
        holder: RecordHolder {
            civility: Some(Civility::Madame),
            identity,
            usage_name: None,
            ine: None,
        },
        award: Award {
            speciality: Some(Speciality::parse("Mathématiques, physique-chimie").unwrap()),
            mention: Some(Mention::Bien),
            deliberation_date: date!(2021 - 07 - 06),
        },
    }
}

/// Camille Marie DURAND (2003-04-12) can attach; two Paul MARTIN are homonyms.
fn published_records() -> Vec<NewRecord> {
    vec![
        record(
            2,
            "C0001",
            identity("Durand", "Camille Marie", "2003-04-12"),
        ),
        record(3, "C0002", identity("Martin", "Paul", "2002-01-01")),
        record(4, "C0003", identity("Martin", "Paul", "2002-01-01")),
        record(5, "C0004", identity("N'Diaye", "Aminata", "2002-11-30")),
        // the exam office recorded her place of birth's INSEE code (Paris 7e)
        record(6, "C0005", {
            let mut angela = identity("DUBOIS", "Angela Claire Louise", "1962-08-24");
            angela.birth_place_code =
                Some(sand_domain::identity::BirthPlaceCode::parse("75107").unwrap());
            angela
        }),
    ]
}

pub async fn publish_records(store: &Store) {
    apply_batch(store, published_records(), 1).await;
}

/// Imports `records` as the scope's batch (a corrected batch replaces the previous one).
async fn apply_batch(store: &Store, records: Vec<NewRecord>, fingerprint: u8) {
    let request = batch_request(
        scope(),
        records,
        datetime!(2021-07-20 08:00 UTC),
        true,
        fingerprint,
    );
    store.record_writer().replace_batch(&request).await.unwrap();
}

/// Whether this run puts every app on PostgreSQL (`SAND_TEST_WEB_DATABASE=postgres`):
/// the test command runs the whole suite once on SQLite, once on PostgreSQL as the web
/// role. Any other value but `sqlite` (or none) is refused, not ignored.
pub fn on_postgres() -> bool {
    match std::env::var("SAND_TEST_WEB_DATABASE").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(std::env::VarError::NotPresent) => false,
        Ok(other) => panic!("SAND_TEST_WEB_DATABASE={other}: say sqlite or postgres"),
        Err(e) => panic!("SAND_TEST_WEB_DATABASE: {e}"),
    }
}

/// The app over a fresh database: SQLite, or PostgreSQL as the web role when the run
/// says so ([`on_postgres`]).
pub struct TestApp {
    pub client: TestClient<BoxEndpoint<'static, Response>>,
    /// The store the app runs on (on PostgreSQL: connected as the web role).
    pub store: Store,
    /// The store with the importer's rights (the owner): imports, as exam offices do.
    pub admin: Store,
    pub state: Arc<AppState>,
    pub clock: Arc<TestClock>,
    dir: std::path::PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(configure: impl FnOnce(&mut WebSettings)) -> Self {
        Self::composed(configure, None).await
    }

    /// The app with an identity provider (a mock, in the tests of the pages around it).
    pub async fn with_provider(provider: Arc<dyn IdentityProvider>) -> Self {
        Self::composed(|_| {}, Some(provider)).await
    }

    /// The app with an identity provider and other settings.
    pub async fn with_provider_and(
        provider: Arc<dyn IdentityProvider>,
        configure: impl FnOnce(&mut WebSettings),
    ) -> Self {
        Self::composed(configure, Some(provider)).await
    }

    /// The app with another readiness check.
    pub async fn with_health(health: Arc<dyn sand_domain::ports::ServiceHealth>) -> Self {
        Self::composed_with(|_| {}, None, health, None).await
    }

    /// The app over the database at `url` (already created and migrated, e.g. reached
    /// through a [`crate::faults::Proxy`]).
    pub async fn on_database(url: &str) -> Self {
        Self::composed_with(
            |_| {},
            None,
            Arc::new(sand_http::health::AlwaysReady),
            Some(url.to_owned()),
        )
        .await
    }

    async fn composed(
        configure: impl FnOnce(&mut WebSettings),
        franceconnect: Option<Arc<dyn IdentityProvider>>,
    ) -> Self {
        Self::composed_with(
            configure,
            franceconnect,
            Arc::new(sand_http::health::AlwaysReady),
            None,
        )
        .await
    }

    async fn composed_with(
        configure: impl FnOnce(&mut WebSettings),
        franceconnect: Option<Arc<dyn IdentityProvider>>,
        health: Arc<dyn sand_domain::ports::ServiceHealth>,
        database: Option<String>,
    ) -> Self {
        if database.is_none() && on_postgres() {
            return Self::postgres_as_web_role(configure, franceconnect, health).await;
        }
        let dir = std::env::temp_dir().join(format!("sand-web-{}", uuid::Uuid::new_v4().simple()));
        let url = database.unwrap_or_else(|| format!("sqlite://{}", dir.join("sand.db").display()));
        let mut settings = StoreSettings::new(&url);
        // a database that went away is reported within a second, not five
        settings.acquire_timeout = std::time::Duration::from_secs(1);
        let store = Store::connect(&settings, KeyProtector::from_secret(&SECRET).unwrap())
            .await
            .unwrap();
        store.migrate(&DatabaseRoles::default()).await.unwrap();
        publish_records(&store).await;
        Self::over(store.clone(), store, dir, configure, franceconnect, health).await
    }

    /// The app over a fresh PostgreSQL database (`SAND_TEST_POSTGRES_URL`), connected as
    /// a login user of the **web role** (as production runs it); the records are imported
    /// as the owner, as the importer would.
    pub async fn on_postgres_as_web_role() -> Self {
        Self::on_postgres_as_web_role_with(|_| {}, None).await
    }

    pub async fn on_postgres_as_web_role_with(
        configure: impl FnOnce(&mut WebSettings),
        franceconnect: Option<Arc<dyn IdentityProvider>>,
    ) -> Self {
        Self::postgres_as_web_role(
            configure,
            franceconnect,
            Arc::new(sand_http::health::AlwaysReady),
        )
        .await
    }

    async fn postgres_as_web_role(
        configure: impl FnOnce(&mut WebSettings),
        franceconnect: Option<Arc<dyn IdentityProvider>>,
        health: Arc<dyn sand_domain::ports::ServiceHealth>,
    ) -> Self {
        use sea_orm::ConnectionTrait;
        let admin_url = std::env::var("SAND_TEST_POSTGRES_URL")
            .expect("SAND_TEST_POSTGRES_URL is not set: run the suite with `bash tests/run.sh`");
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("sand_web_{suffix}");
        let server = sea_orm::Database::connect(&admin_url).await.unwrap();
        server
            .execute_unprepared(&format!("CREATE DATABASE {database}"))
            .await
            .unwrap();
        server.close().await.unwrap();
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        let owner_url = format!("{base}/{database}");
        let admin = Store::connect(
            &StoreSettings::new(&owner_url),
            KeyProtector::from_secret(&SECRET).unwrap(),
        )
        .await
        .unwrap();
        // roles are cluster-wide: this test's own
        let roles = DatabaseRoles::suffixed(&suffix[..12]);
        admin.migrate(&roles).await.unwrap();
        publish_records(&admin).await;
        let login = format!("{}_login", roles.web);
        admin
            .connection()
            .execute_unprepared(&format!("CREATE ROLE {login} LOGIN IN ROLE {}", roles.web))
            .await
            .unwrap();
        let (scheme, rest) = owner_url.split_once("://").unwrap();
        let host_and_database = rest.split_once('@').map_or(rest, |(_, h)| h);
        let web_url = format!("{scheme}://{login}@{host_and_database}");
        let store = Store::connect(
            &StoreSettings::new(&web_url),
            KeyProtector::from_secret(&SECRET).unwrap(),
        )
        .await
        .unwrap();
        let dir = std::env::temp_dir().join(format!("sand-web-{suffix}"));
        Self::over(store, admin, dir, configure, franceconnect, health).await
    }

    async fn over(
        store: Store,
        admin: Store,
        dir: std::path::PathBuf,
        configure: impl FnOnce(&mut WebSettings),
        franceconnect: Option<Arc<dyn IdentityProvider>>,
        health: Arc<dyn sand_domain::ports::ServiceHealth>,
    ) -> Self {
        let clock = Arc::new(TestClock::default());
        let signing = Arc::new(SigningKeys::demo());
        let mut keys = VerificationKeys::new();
        keys.add_signing(&signing);
        let renderer = PdfAttestationRenderer::new(
            Issuer {
                operator: "Opérateur de test".to_owned(),
                verification_url: "http://localhost/verifier".to_owned(),
            },
            signing,
        )
        .unwrap();
        // wired as `sand serve` wires them; the clock is the test's, hashing cheaper
        let ports = sand_server::compose::ports(
            &store,
            sand_server::compose::Adapters {
                hasher: Arc::new(Argon2Hasher::new(2)),
                clock: clock.clone(),
                franceconnect,
                health: Some(health),
                ..sand_server::compose::Adapters::new(Arc::new(renderer))
            },
        );
        let mut settings = WebSettings::new("Opérateur de test", "http://localhost");
        // the routing the service ships: the SIEC for Paris, websites with their sources
        settings.issuers =
            Arc::new(sand_import::registry::shipped().expect("the shipped registry"));
        settings.limits = RateLimits {
            logins_per_client_per_minute: 1000,
            logins_per_account_per_client_per_hour: 1000,
            login_failures_before_slowing: 1000,
            login_slowing_interval_secs: 30,
            accounts_per_client_per_hour: 1000,
            mail_requests_per_client_per_hour: 1000,
            mails_per_address_per_hour: 1000,
            verifications_per_client_per_minute: 1000,
            wrong_answers_per_key_per_client_per_day: 1000,
            wrong_answers_per_key_per_day: 1000,
            file_checks_per_client_per_minute: 1000,
            attaches_per_profile_per_hour: 1000,
            share_openings_per_client_per_minute: 1000,
        };
        configure(&mut settings);
        let state = Arc::new(
            AppState::new(settings, ports, &SECRET, keys).with_credential_keys(Some(Arc::new(
                sand_attestation::status_list::CredentialKeys::demo().unwrap(),
            ))),
        );
        let client = TestClient::new(sand_http::app(Arc::clone(&state)));
        Self {
            client,
            state,
            store,
            admin,
            clock,
            dir,
        }
    }

    pub fn browser(&self) -> Browser<'_> {
        Browser {
            app: self,
            cookies: BTreeMap::new(),
            accept_language: None,
        }
    }

    /// The exam office re-imports the scope without the record of `candidate`: the
    /// record is withdrawn, its links with it.
    pub async fn withdraw(&self, candidate: &str) {
        let records = published_records()
            .into_iter()
            .filter(|r| r.candidate_number.as_str() != candidate)
            .collect();
        apply_batch(&self.admin, records, 2).await;
    }

    /// An exam office's published batch of another scope.
    pub async fn publish(&self, scope: DiplomaScope, records: Vec<NewRecord>) {
        let request = batch_request(scope, records, datetime!(2024-07-20 08:00 UTC), true, 9);
        self.admin
            .record_writer()
            .replace_batch(&request)
            .await
            .unwrap();
    }

    /// The mails queued so far (claimed, so each is seen once).
    pub async fn mails(&self) -> Vec<Mail> {
        let queue = self.store.mail_queue();
        let now = self.clock.now() + time::Duration::days(365);
        let claimed = queue
            .claim_due(now, time::Duration::minutes(5), 100)
            .await
            .unwrap();
        let mut mails = Vec::new();
        for queued in claimed {
            queue.delivered(queued.id).await.unwrap();
            mails.push(queued.mail);
        }
        mails
    }

    /// A signed-in browser of a new, verified password account.
    pub async fn signed_in(
        &self,
        birth_name: &str,
        first_names: &str,
        birth_date: &str,
        email: &str,
    ) -> Browser<'_> {
        let mut b = self.browser();
        b.register(birth_name, first_names, birth_date, email, PASSWORD)
            .await;
        let token = self.last_token().await;
        let page = b.confirm(&token, PASSWORD).await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert_eq!(page.location(), "/espace");
        b
    }

    /// A signed-in browser of Camille Durand (address `email`) with the Lyon
    /// baccalauréat 2021 attached, and the id of that diploma's link.
    pub async fn with_diploma(&self, email: &str) -> (Browser<'_>, String) {
        let mut b = self
            .signed_in("Durand", "Camille Marie", "12/04/2003", email)
            .await;
        let attached = b.attach("BACG", "2021", "10").await;
        assert_eq!(attached.status, 303, "{}", attached.body);
        let dashboard = b.get("/espace").await;
        let start = dashboard.body.find("/espace/diplomes/").unwrap() + "/espace/diplomes/".len();
        let link = dashboard.body[start..start + 36].to_owned();
        (b, link)
    }

    /// The mails queued until one satisfies `wanted` (sent off the request, e.g. a new
    /// confirmation link); fails after ten seconds.
    pub async fn wait_for_mail(&self, wanted: impl Fn(&Mail) -> bool) -> Mail {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(mail) = self.mails().await.into_iter().find(|m| wanted(m)) {
                return mail;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no such mail was queued"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// The token of the last verification or reset mail.
    pub async fn last_token(&self) -> String {
        match self.mails().await.pop() {
            Some(Mail::VerifyEmail { token, .. } | Mail::PasswordReset { token, .. }) => {
                token.expose().to_owned()
            }
            other => panic!("expected a mail with a token, got {other:?}"),
        }
    }
}

pub const PASSWORD: &str = "cheval agrafe batterie";

/// A response as a browser sees it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: poem::http::HeaderMap,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Page {
    /// Sent to the login page (which may say the session ended, and where to come back).
    pub fn sent_to_login(&self) -> bool {
        let location = self.location();
        self.status == 303 && (location == "/connexion" || location.starts_with("/connexion?"))
    }

    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The page without what changes between two requests (request id, CSRF token).
    pub fn stable(&self) -> String {
        let mut body = self.body.replace(self.header("x-request-id"), "");
        if self.body.contains("name=\"csrf\" value=\"") {
            body = body.replace(&self.csrf(), "");
        }
        body
    }

    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        let start = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token")
            + 19;
        self.body[start..start + 64].to_owned()
    }

    /// The text between `before` and the next `<`.
    pub fn text_after(&self, before: &str) -> String {
        let start = self
            .body
            .find(before)
            .unwrap_or_else(|| panic!("{before:?} not in {}", self.body))
            + before.len();
        self.body[start..].split('<').next().unwrap().to_owned()
    }
}

/// Keeps cookies like a browser.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
    /// The `Accept-Language` this browser sends, if any.
    pub accept_language: Option<String>,
}

impl Browser<'_> {
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Page {
        self.request_from(None, method, path, body).await
    }

    /// Posts a form as [`Browser::post_form`] does, from `client` (an `X-Forwarded-For`
    /// line, as a trusted proxy would add).
    pub async fn post_form_from(
        &mut self,
        client: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.request_from(
            Some(client),
            Method::POST,
            path,
            Some(("application/x-www-form-urlencoded", body.into_bytes())),
        )
        .await
    }

    async fn request_from(
        &mut self,
        client: Option<&str>,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Page {
        let mut request = self.app.client.request(method, path);
        if let Some(client) = client {
            request = request.header("x-forwarded-for", client);
        }
        if let Some(languages) = &self.accept_language {
            request = request.header("accept-language", languages);
        }
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header("cookie", cookie);
        }
        if let Some((content_type, bytes)) = body {
            request = request.content_type(content_type).body(bytes);
        }
        let response = request.send().await.0;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for set in headers.get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = response.into_body().into_vec().await.unwrap();
        Page {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.request(Method::GET, path, None).await
    }

    /// Posts a form; `csrf` is added from the page at `form_page` unless `fields` has one.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.request(
            Method::POST,
            path,
            Some(("application/x-www-form-urlencoded", body.into_bytes())),
        )
        .await
    }

    /// Fetches `form_page`, then posts `fields` with its CSRF token to `action`.
    pub async fn submit(&mut self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.get(form_page).await.csrf();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_form(action, &all).await
    }

    pub async fn post_json(&mut self, path: &str, json: &serde_json::Value) -> Page {
        self.request(
            Method::POST,
            path,
            Some(("application/json", json.to_string().into_bytes())),
        )
        .await
    }

    pub async fn register(
        &mut self,
        birth_name: &str,
        first_names: &str,
        birth_date: &str,
        email: &str,
        password: &str,
    ) -> Page {
        let fields = [
            ("nom", birth_name),
            ("prenoms", first_names),
            ("naissance", birth_date),
            ("email", email),
        ];
        let step1 = self.submit("/compte/creer", "/compte/creer", &fields).await;
        assert_eq!(step1.status, 200, "{}", step1.body);
        assert!(step1.body.contains("ne pourra plus être modifiée"));
        let token = step1.csrf();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(&fields);
        all.extend_from_slice(&[("mot_de_passe", password), ("confirmation", password)]);
        self.post_form("/compte/creer/confirmer", &all).await
    }

    /// Follows a confirmation link and gives the password chosen at registration.
    pub async fn confirm(&mut self, token: &str, password: &str) -> Page {
        let form = self.get(&format!("/compte/confirmer?jeton={token}")).await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = form.csrf();
        self.post_form(
            "/compte/confirmer",
            &[
                ("csrf", csrf.as_str()),
                ("jeton", token),
                ("mot_de_passe", password),
            ],
        )
        .await
    }

    /// Logs out (from a signed-in page).
    pub async fn log_out(&mut self) -> Page {
        self.submit("/espace", "/deconnexion", &[]).await
    }

    pub async fn login(&mut self, email: &str, password: &str) -> Page {
        self.submit(
            "/connexion",
            "/connexion",
            &[("email", email), ("mot_de_passe", password)],
        )
        .await
    }

    pub async fn attach(&mut self, kind: &str, session: &str, academie: &str) -> Page {
        self.submit(
            "/espace",
            "/espace/diplomes",
            &[
                ("diplome", kind),
                ("session", session),
                ("academie", academie),
            ],
        )
        .await
    }

    /// Deletes the attestation of `link` through its confirmation page; the answer.
    pub async fn delete_attestation(&mut self, link: &str) -> Page {
        let path = format!("/espace/diplomes/{link}/supprimer");
        self.submit(&path, &path, &[]).await
    }

    /// Verifies as a third party (a fresh browser each time).
    pub async fn verify(app: &TestApp, key: &str, name: &str) -> Page {
        let mut third = app.browser();
        third
            .submit(
                "/verifier",
                "/verifier",
                &[
                    ("cle", key),
                    ("nom", name),
                    ("organisme", "Entreprise Exemple"),
                ],
            )
            .await
    }
}

/// The answer sent the browser to the login page.
#[track_caller]
pub fn assert_sent_to_login(page: &Page) {
    assert!(
        page.sent_to_login(),
        "expected the login page, got {} {}",
        page.status,
        page.location()
    );
}
