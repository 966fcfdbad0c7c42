//! The back office over a real store: login with password and TOTP, level-2 pages
//! scoped to the agent's issuers (URL tampering finds nothing), every view and action
//! audited, a release that ends the link.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem::test::TestClient;
use sand_domain::credentials::{Email, Password, PasswordHash};
use sand_domain::issuer::{IssuerCode, IssuerRegistry};
use sand_domain::link::NewLink;
use sand_domain::ports::{
    AgentIdentityProvider, AuditLog as _, AuthorizationRequest, CallbackParams,
    IdentityProviderError, LinkRepository as _, PasswordHasher as _, PendingLogin,
    ProfileRepository as _, RecordReader as _, StaffDirectory as _,
};
use sand_domain::profile::second_factor::TotpSecret;
use sand_domain::profile::{NewCredentials, NewProfile};
use sand_domain::staff::audit::{Actor, AuditAction, NewAuditEntry};
use sand_domain::staff::desk::Desk;
use sand_domain::staff::sign_in::{ProvenAgent, Siret};
use sand_domain::staff::{NewStaffMember, Role, StaffLogin};
use sand_http::hasher::Argon2Hasher;
use sand_http::staff::{StaffPorts, StaffSettings, StaffState, staff_app};
use sand_persistence::keys::KeyProtector;
use sand_persistence::{DatabaseRoles, Store, StoreSettings};

use crate::support::{SECRET, TestClock, identity, publish_records, scope};

const PASSWORD: &str = "correct horse battery staple";
const LYON_SIRET: &str = "19691234500013";

/// ProConnect as the pages see it, scripted: the authorization code names the fixture agent
/// it proves (the adapter itself is tested against a real provider in sand-franceconnect,
/// the whole journey in tests/e2e).
struct ScriptedProConnect;

const PC_STATE: &str = "etat-proconnect-0123456789abcdef0123456789abcdef";

#[async_trait::async_trait]
impl AgentIdentityProvider for ScriptedProConnect {
    async fn begin(&self) -> Result<AuthorizationRequest, sand_domain::PortError> {
        Ok(AuthorizationRequest {
            url: format!("https://proconnect.example/api/v2/authorize?state={PC_STATE}"),
            pending: PendingLogin {
                state: PC_STATE.to_owned(),
                nonce: "nonce-proconnect".to_owned(),
                pkce_verifier: None,
            },
        })
    }

    async fn complete(
        &self,
        pending: PendingLogin,
        callback: CallbackParams,
    ) -> Result<ProvenAgent, IdentityProviderError> {
        // what the browser carried back is what was kept at the start
        assert_eq!(pending.nonce, "nonce-proconnect");
        let code = match callback {
            CallbackParams::Error { error, .. } if error == "access_denied" => {
                return Err(IdentityProviderError::Cancelled);
            }
            CallbackParams::Error { error, .. } => {
                return Err(IdentityProviderError::InvalidResponse(error.into()));
            }
            CallbackParams::Code { state, .. } if state != pending.state => {
                return Err(IdentityProviderError::StateMismatch);
            }
            CallbackParams::Code { code, .. } => code,
        };
        let agent = |email: &str, siret: Option<&str>, methods: &[&str]| ProvenAgent {
            issuer: "https://proconnect.example/api/v2".to_owned(),
            subject: format!("sub-{code}"),
            email: Email::parse(email).unwrap(),
            given_name: "Prénom".to_owned(),
            usual_name: "NOM".to_owned(),
            siret: siret.map(|s| Siret::parse(s).unwrap()),
            idp_id: Some("fia-test".to_owned()),
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            id_token_hint: format!("entete.{code}.signature"),
        };
        const MFA: &[&str] = &["pwd", "totp", "mfa"];
        Ok(match code.as_str() {
            "lyon" => agent("claire.moreau@ac-lyon.fr", Some(LYON_SIRET), MFA),
            "lyon-sans-mfa" => agent("claire.moreau@ac-lyon.fr", Some(LYON_SIRET), &["pwd"]),
            "lyon-sans-siret" => agent("claire.moreau@ac-lyon.fr", None, MFA),
            "lyon-autre-siret" => agent("claire.moreau@ac-lyon.fr", Some("13002523400017"), MFA),
            "siec" => agent(
                "paul.girard@siec.education.gouv.fr",
                Some("13002523400017"),
                MFA,
            ),
            "aide-sans-mfa" => agent(
                "marc.petit@education.gouv.fr",
                Some("11004601800013"),
                &["pwd"],
            ),
            "inconnu" => agent("ines.roux@ac-nantes.fr", Some("19441234500011"), MFA),
            "sans-adresse" => return Err(IdentityProviderError::IncompleteIdentity),
            "code-perime" => return Err(IdentityProviderError::CodeRejected),
            other => panic!("no scripted agent {other}"),
        })
    }

    async fn logout_url(
        &self,
        id_token_hint: &str,
        state: &str,
    ) -> Result<String, sand_domain::PortError> {
        Ok(format!(
            "https://proconnect.example/api/v2/session/end?id_token_hint={id_token_hint}&state={state}"
        ))
    }
}

struct Back {
    client: TestClient<BoxEndpoint<'static, poem::Response>>,
    store: Store,
    clock: Arc<TestClock>,
    secrets: BTreeMap<String, TotpSecret>,
    dir: std::path::PathBuf,
}

impl Drop for Back {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Back {
    /// The back office over a fresh database: SQLite, or — when the run says so
    /// ([`crate::support::on_postgres`]) — PostgreSQL, the app connected as a login user of
    /// the **back-office role** (as production runs it), the set-up done as the owner.
    async fn new() -> Self {
        Self::with(StaffSettings::new("SAND — essai")).await
    }

    /// [`Self::new`] with these settings (ProConnect is always the scripted one).
    async fn with(settings: StaffSettings) -> Self {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("sand-staff-{suffix}"));
        let (store, app_store) = if crate::support::on_postgres() {
            use sea_orm::ConnectionTrait;
            let admin_url = std::env::var("SAND_TEST_POSTGRES_URL").expect(
                "SAND_TEST_POSTGRES_URL is not set: run the suite with `bash tests/run.sh`",
            );
            let database = format!("sand_staff_{suffix}");
            let server = sea_orm::Database::connect(&admin_url).await.unwrap();
            server
                .execute_unprepared(&format!("CREATE DATABASE {database}"))
                .await
                .unwrap();
            server.close().await.unwrap();
            let (base, _) = admin_url.rsplit_once('/').unwrap();
            let owner_url = format!("{base}/{database}");
            let owner = Store::connect(
                &StoreSettings::new(&owner_url),
                KeyProtector::from_secret(&SECRET).unwrap(),
            )
            .await
            .unwrap();
            let roles = DatabaseRoles::suffixed(&suffix[..12]);
            owner.migrate(&roles).await.unwrap();
            let login = format!("{}_login", roles.backoffice);
            owner
                .connection()
                .execute_unprepared(&format!(
                    "CREATE ROLE {login} LOGIN IN ROLE {}",
                    roles.backoffice
                ))
                .await
                .unwrap();
            let (scheme, rest) = owner_url.split_once("://").unwrap();
            let host_and_database = rest.split_once('@').map_or(rest, |(_, h)| h);
            let app = Store::connect(
                &StoreSettings::new(format!("{scheme}://{login}@{host_and_database}")),
                KeyProtector::from_secret(&SECRET).unwrap(),
            )
            .await
            .unwrap();
            (owner, app)
        } else {
            let url = format!("sqlite://{}", dir.join("sand.db").display());
            let store = Store::connect(
                &StoreSettings::new(&url),
                KeyProtector::from_secret(&SECRET).unwrap(),
            )
            .await
            .unwrap();
            store.migrate(&DatabaseRoles::default()).await.unwrap();
            (store.clone(), store)
        };
        publish_records(&store).await;
        let hasher = Arc::new(Argon2Hasher::new(2));
        let hash = hasher
            .hash(&Password::for_login(PASSWORD).unwrap())
            .await
            .unwrap();
        let mut secrets = BTreeMap::new();
        for (i, (login, role, issuers, email, siret)) in [
            (
                "lyon.n2",
                Role::ExamOffice,
                &["10"][..],
                "claire.moreau@ac-lyon.fr",
                Some(LYON_SIRET),
            ),
            (
                "siec.n2",
                Role::ExamOffice,
                &["SIEC"][..],
                "paul.girard@siec.education.gouv.fr",
                None,
            ),
            (
                "aide.n1",
                Role::Helpdesk,
                &[][..],
                "marc.petit@education.gouv.fr",
                None,
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let secret = TotpSecret::new(vec![u8::try_from(i + 1).unwrap(); 20]);
            store
                .staff()
                .add(
                    &NewStaffMember {
                        login: StaffLogin::parse(login).unwrap(),
                        name: format!("Agent {login}"),
                        role,
                        issuers: issuers
                            .iter()
                            .map(|c| IssuerCode::parse(c).unwrap())
                            .collect(),
                        email: Some(Email::parse(email).unwrap()),
                        siret: siret.map(|s| Siret::parse(s).unwrap()),
                        created_at: sand_testkit::fixtures::NOW,
                    },
                    &hash,
                    &secret,
                    &NewAuditEntry {
                        at: sand_testkit::fixtures::NOW,
                        actor: Actor::Operator("test".to_owned()),
                        action: AuditAction::StaffAdd,
                        records: Vec::new(),
                        link: None,
                        batch: None,
                        detail: login.to_owned(),
                        origin: "cli".to_owned(),
                    },
                )
                .await
                .unwrap();
            secrets.insert(login.to_owned(), secret);
        }
        let clock = Arc::new(TestClock::default());
        let state = StaffState::new(
            settings,
            &SECRET,
            StaffPorts {
                directory: Arc::new(app_store.staff()),
                desk: Desk {
                    store: Arc::new(app_store.exam_office_desk()),
                    issuers: Arc::new(IssuerRegistry::offices_only()),
                },
                audit: Arc::new(app_store.audit_log()),
                hasher,
                clock: clock.clone(),
                catalogue: Arc::new(app_store.catalogue()),
                proconnect: Some(Arc::new(ScriptedProConnect)),
            },
        );
        Self {
            client: TestClient::new(staff_app(Arc::new(state))),
            store,
            clock,
            secrets,
            dir,
        }
    }

    fn code(&self, login: &str) -> String {
        let totp =
            sand_http::totp::generator(self.secrets[login].expose(), login, "SAND espace agents")
                .unwrap();
        sand_http::totp::current_code(&totp, sand_domain::ports::Clock::now(&*self.clock))
    }

    fn agent(&self) -> Agent<'_> {
        Agent {
            back: self,
            cookies: BTreeMap::new(),
        }
    }

    async fn audit(&self) -> Vec<(String, AuditAction, usize)> {
        self.store
            .audit_log()
            .entries(
                time::OffsetDateTime::UNIX_EPOCH,
                time::OffsetDateTime::now_utc() + time::Duration::days(3650),
                1000,
            )
            .await
            .unwrap()
            .into_iter()
            // the set-up's additions, by the operator, are not the pages' doing
            .filter(|e| !matches!(e.entry.actor, Actor::Operator(_)))
            .map(|e| (e.entry.actor.name(), e.entry.action, e.entry.records.len()))
            .collect()
    }
}

struct Agent<'a> {
    back: &'a Back,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    body: String,
    headers: poem::http::HeaderMap,
}

impl Agent<'_> {
    async fn send(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut request = self.back.client.request(method, path);
        if !self.cookies.is_empty() {
            let cookie: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header("cookie", cookie.join("; "));
        }
        if let Some(fields) = form {
            request = request
                .content_type("application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(fields).unwrap());
        }
        let response = request.send().await.0;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for set in headers.get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() || set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = response.into_body().into_string().await.unwrap();
        Page {
            status,
            body,
            headers,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    /// Posts a form with the CSRF token of the page at `from`.
    async fn post(&mut self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(from).await;
        let csrf = csrf_of(&page.body);
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.send(Method::POST, path, Some(&all)).await
    }

    async fn log_in(&mut self, login: &str) -> Page {
        let code = self.back.code(login);
        self.post(
            "/connexion",
            "/connexion",
            &[
                ("identifiant", login),
                ("mot_de_passe", PASSWORD),
                ("code", &code),
            ],
        )
        .await
    }
}

fn csrf_of(body: &str) -> String {
    let at = body
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    body[at..at + 64].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_logs_in_with_password_and_a_single_use_code() {
    let back = Back::new().await;
    let mut agent = back.agent();
    let first = agent.get("/").await;
    assert_eq!(first.status, 303, "to the login page");
    let login = agent.get("/connexion").await;
    assert_eq!(login.status, 200);
    assert_eq!(login.headers["x-robots-tag"], "noindex, nofollow");
    assert!(
        login.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );

    // a wrong code, a wrong password, a missing CSRF token: refused, the known agent's
    // refusals audited
    let wrong_code = agent
        .post(
            "/connexion",
            "/connexion",
            &[
                ("identifiant", "lyon.n2"),
                ("mot_de_passe", PASSWORD),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong_code.status, 401);
    assert!(
        wrong_code
            .body
            .contains("Identifiant, mot de passe ou code à usage unique incorrect")
    );
    let code = back.code("lyon.n2");
    let wrong_password = agent
        .post(
            "/connexion",
            "/connexion",
            &[
                ("identifiant", "lyon.n2"),
                ("mot_de_passe", "not it at all"),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(wrong_password.status, 401);
    let unknown = agent
        .post(
            "/connexion",
            "/connexion",
            &[
                ("identifiant", "personne"),
                ("mot_de_passe", PASSWORD),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(unknown.status, 401);
    assert!(
        unknown.body.contains("Identifiant, mot de passe ou code"),
        "the same answer"
    );
    let no_csrf = agent
        .send(
            Method::POST,
            "/connexion",
            Some(&[
                ("identifiant", "lyon.n2"),
                ("mot_de_passe", PASSWORD),
                ("code", &code),
            ]),
        )
        .await;
    assert_eq!(no_csrf.status, 403);

    let in_ = agent.log_in("lyon.n2").await;
    assert_eq!(in_.status, 303, "{}", in_.body);
    let home = agent.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Agent lyon.n2"), "{}", home.body);
    assert!(
        home.body.contains("rectorat de l&#39;académie de Lyon"),
        "{}",
        home.body
    );

    // the same code does not open a second session
    let mut thief = back.agent();
    let replay = thief
        .post(
            "/connexion",
            "/connexion",
            &[
                ("identifiant", "lyon.n2"),
                ("mot_de_passe", PASSWORD),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(replay.status, 401);

    // logging out ends the session
    let out = agent.post("/", "/deconnexion", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(agent.get("/recherche").await.status, 303);

    assert_eq!(
        back.audit().await,
        [
            ("lyon.n2".to_owned(), AuditAction::LoginRefused, 0),
            ("lyon.n2".to_owned(), AuditAction::LoginRefused, 0),
            ("lyon.n2".to_owned(), AuditAction::Login, 0),
            ("lyon.n2".to_owned(), AuditAction::LoginRefused, 0),
            ("lyon.n2".to_owned(), AuditAction::Logout, 0),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn level_2_finds_diagnoses_and_releases_within_its_scope_only_and_every_step_is_audited() {
    let back = Back::new().await;
    let camille = back
        .store
        .record_reader()
        .find_candidates(
            &scope(),
            &identity("Durand", "Camille Marie", "2003-04-12").key(),
        )
        .await
        .unwrap()
        .remove(0);
    back.attach_camille(camille.id, "CAM1LLE2").await;

    let mut lyon = back.agent();
    assert_eq!(lyon.log_in("lyon.n2").await.status, 303);
    let found = lyon
        .post("/recherche", "/recherche", &[("numero", "C0001")])
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert!(found.body.contains("1 résultat(s)"), "{}", found.body);
    let path = format!("/resultats/{}", camille.id.0);
    assert!(found.body.contains(&path));
    let by_name = lyon
        .post(
            "/recherche",
            "/recherche",
            &[("nom", "DURAND"), ("naissance", "12/04/2003")],
        )
        .await;
    assert!(by_name.body.contains("1 résultat(s)"), "{}", by_name.body);
    let nothing = lyon.post("/recherche", "/recherche", &[]).await;
    assert_eq!(nothing.status, 422);
    let hostile = lyon
        .post(
            "/recherche",
            "/recherche",
            &[
                ("nom", "<script>alert(1)</script>"),
                ("naissance", "32/13/2003"),
            ],
        )
        .await;
    assert_eq!(hostile.status, 422);
    assert!(!hostile.body.contains("<script>alert"));

    let detail = lyon.get(&path).await;
    assert_eq!(detail.status, 200);
    assert!(detail.body.contains("Rattaché le"), "{}", detail.body);
    assert!(detail.body.contains("non signé"), "{}", detail.body);
    assert!(
        !detail.body.contains("camille@exemple.fr"),
        "never who holds it"
    );

    // the married-name failure: the diagnosis names the field
    let diagnosis = lyon
        .post(
            "/diagnostic",
            "/diagnostic",
            &[
                ("academie", "10"),
                ("diplome", "BACG"),
                ("session", "2021"),
                ("nom", "Durand"),
                ("prenoms", "Camille"),
                ("naissance", "04/12/2003"),
            ],
        )
        .await;
    assert_eq!(diagnosis.status, 200, "{}", diagnosis.body);
    assert!(
        diagnosis
            .body
            .contains("incomplets : 1 prénom(s) saisi(s) sur les 2"),
        "{}",
        diagnosis.body
    );
    assert!(
        diagnosis.body.contains("jour et mois inversés"),
        "{}",
        diagnosis.body
    );

    // garbage in the diagnosis: a clear refusal, nothing read, nothing echoed raw
    for (fields, said) in [
        (
            vec![
                ("academie", "99"),
                ("diplome", "BACG"),
                ("session", "2021"),
                ("nom", "Durand"),
                ("prenoms", "Camille"),
                ("naissance", "12/04/2003"),
            ],
            "Choisissez l&#39;académie.",
        ),
        (
            vec![
                ("academie", "10"),
                ("diplome", "<b>"),
                ("session", "2021"),
                ("nom", "Durand"),
                ("prenoms", "Camille"),
                ("naissance", "12/04/2003"),
            ],
            "Choisissez le diplôme.",
        ),
        (
            vec![
                ("academie", "10"),
                ("diplome", "BACG"),
                ("session", "1850"),
                ("nom", "Durand"),
                ("prenoms", "Camille"),
                ("naissance", "12/04/2003"),
            ],
            "La session s&#39;écrit sur quatre chiffres",
        ),
        (
            vec![
                ("academie", "10"),
                ("diplome", "BACG"),
                ("session", "2021"),
                ("nom", "<script>x</script>"),
                ("prenoms", "Camille"),
                ("naissance", "12/04/2003"),
            ],
            "Le nom de naissance n&#39;est pas valide.",
        ),
        (
            vec![
                ("academie", "10"),
                ("diplome", "BACG"),
                ("session", "2021"),
                ("nom", "Durand"),
                ("prenoms", ""),
                ("naissance", "12/04/2003"),
            ],
            "Donnez les prénoms",
        ),
        (
            vec![
                ("academie", "10"),
                ("diplome", "BACG"),
                ("session", "2021"),
                ("nom", "Durand"),
                ("prenoms", "Camille"),
                ("naissance", "31/02/2003"),
            ],
            "La date de naissance s&#39;écrit jj/mm/aaaa.",
        ),
    ] {
        let refused = lyon.post("/diagnostic", "/diagnostic", &fields).await;
        assert_eq!(refused.status, 422, "{fields:?}");
        assert!(refused.body.contains(said), "{said}: {}", refused.body);
        assert!(!refused.body.contains("<script>x"), "not echoed raw");
    }
    // an oversized form is refused before it is read
    let page = lyon.get("/diagnostic").await;
    let csrf = csrf_of(&page.body);
    let huge = "x".repeat(64 * 1024);
    let oversized = lyon
        .send(
            Method::POST,
            "/diagnostic",
            Some(&[("csrf", csrf.as_str()), ("nom", huge.as_str())]),
        )
        .await;
    assert_eq!(oversized.status, 413);

    // a Paris record (the SIEC's batch) is out of Lyon's reach, by any route
    let paris_scope = sand_domain::diploma::DiplomaScope {
        academie: sand_domain::academie::Academie::Paris,
        ..scope()
    };
    let mut request = sand_testkit::fixtures::batch_request(
        paris_scope,
        vec![crate::support::record_in(
            paris_scope,
            2,
            "P0001",
            identity("Durand", "Camille Marie", "2003-04-12"),
        )],
        time::macros::datetime!(2021-07-20 08:00 UTC),
        true,
        7,
    );
    request.header.exam_office = IssuerCode::parse("SIEC").unwrap();
    {
        use sand_testkit::fixtures::ApplyBatch as _;
        back.store
            .record_writer()
            .replace_batch(&request)
            .await
            .unwrap();
    }
    let in_paris = back
        .store
        .record_reader()
        .find_candidates(
            &paris_scope,
            &identity("Durand", "Camille Marie", "2003-04-12").key(),
        )
        .await
        .unwrap()
        .remove(0);
    let paris_path = format!("/resultats/{}", in_paris.id.0);
    assert_eq!(
        lyon.get(&paris_path).await.status,
        404,
        "Lyon cannot read a Paris record"
    );
    assert_eq!(
        lyon.post(
            "/recherche",
            &format!("{paris_path}/liberer"),
            &[("motif", "usurpation")]
        )
        .await
        .status,
        404
    );
    assert!(
        lyon.post("/recherche", "/recherche", &[("numero", "P0001")])
            .await
            .body
            .contains("0 résultat(s)")
    );

    // Paris's office: the same record by id, and its release, find nothing
    let mut paris = back.agent();
    assert_eq!(paris.log_in("siec.n2").await.status, 303);
    assert_eq!(paris.get(&path).await.status, 404);
    let tampered = paris
        .post(
            "/recherche",
            &format!("{path}/liberer"),
            &[("motif", "usurpation")],
        )
        .await;
    assert_eq!(tampered.status, 404);
    assert!(
        paris
            .post("/recherche", "/recherche", &[("numero", "C0001")])
            .await
            .body
            .contains("0 résultat(s)")
    );
    assert_eq!(paris.get("/resultats/not-an-id").await.status, 404);
    // level 1 has no desk
    let mut helpdesk = back.agent();
    assert_eq!(helpdesk.log_in("aide.n1").await.status, 303);
    assert_eq!(helpdesk.get("/recherche").await.status, 403);
    assert_eq!(helpdesk.get(&path).await.status, 403);

    // Lyon releases the link: its key dies, the holder is told
    let no_reason = lyon.post(&path, &format!("{path}/liberer"), &[]).await;
    assert_eq!(no_reason.status, 422);
    let released = lyon
        .post(
            &path,
            &format!("{path}/liberer"),
            &[("motif", "acces_perdu")],
        )
        .await;
    assert_eq!(released.status, 200, "{}", released.body);
    assert!(released.body.contains("Le rattachement a été libéré"));
    assert!(released.body.contains("n'est rattaché à aucun profil"));
    assert!(
        back.store
            .links()
            .find_by_record(camille.id)
            .await
            .unwrap()
            .is_none()
    );
    let history = lyon.get("/imports").await;
    assert_eq!(history.status, 200);
    assert!(history.body.contains("Retirés depuis"), "{}", history.body);
    assert!(
        history.body.contains("Baccalauréat général, session 2021"),
        "{}",
        history.body
    );

    let rows = back.audit().await;
    let mine: Vec<(AuditAction, usize)> = rows
        .iter()
        .filter(|(who, action, _)| who == "lyon.n2" && *action != AuditAction::Login)
        .map(|(_, action, n)| (*action, *n))
        .collect();
    assert_eq!(
        mine,
        [
            (AuditAction::RecordSearch, 1),
            (AuditAction::RecordSearch, 1),
            (AuditAction::RecordView, 1),
            (AuditAction::AttachDiagnosis, 1),
            // the Paris record tried by address, released by address, searched for
            (AuditAction::RecordView, 0),
            (AuditAction::LinkRelease, 0),
            (AuditAction::RecordSearch, 0),
            // the record page, shown before each of the two release forms below
            (AuditAction::RecordView, 1),
            (AuditAction::RecordView, 1),
            (AuditAction::LinkRelease, 1),
            (AuditAction::RecordView, 1),
            (AuditAction::ImportHistory, 0),
        ],
        "each page that shows a record is one row; refused forms read nothing and write none"
    );
    let theirs: Vec<(AuditAction, usize)> = rows
        .iter()
        .filter(|(who, action, _)| who == "siec.n2" && *action != AuditAction::Login)
        .map(|(_, action, n)| (*action, *n))
        .collect();
    assert_eq!(
        theirs,
        [
            (AuditAction::RecordView, 0),
            (AuditAction::LinkRelease, 0),
            (AuditAction::RecordSearch, 0),
        ],
        "the tampering is audited"
    );
    assert!(
        rows.iter()
            .all(|(who, action, _)| who != "aide.n1" || *action == AuditAction::Login),
        "level 1 saw nothing"
    );
}

impl Back {
    /// Camille Durand's profile, holding her record with `key` (a new profile each time).
    async fn attach_camille(&self, record: sand_domain::record::RecordId, key: &str) {
        let profile = self
            .store
            .profiles()
            .create(NewProfile {
                identity: identity("Durand", "Camille Marie", "2003-04-12"),
                email: Email::parse(&format!("camille.{}@exemple.fr", key.to_lowercase())).unwrap(),
                email_verified: true,
                credentials: NewCredentials::Password(PasswordHash::new(
                    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                )),
                identity_certified: false,
                birth_date_presumed: false,
                created_at: sand_testkit::fixtures::NOW,
            })
            .await
            .unwrap();
        self.store
            .links()
            .create(NewLink {
                profile: profile.id,
                record,
                key: sand_domain::control_key::ControlKey::parse(key).unwrap(),
                created_at: sand_testkit::fixtures::NOW,
            })
            .await
            .unwrap();
    }

    /// Adds an agent of `role` with a known secret.
    async fn add(&mut self, login: &str, role: Role) {
        let hash = Argon2Hasher::new(1)
            .hash(&Password::for_login(PASSWORD).unwrap())
            .await
            .unwrap();
        let secret = TotpSecret::new(vec![0x5a; 20]);
        self.store
            .staff()
            .add(
                &NewStaffMember {
                    login: StaffLogin::parse(login).unwrap(),
                    name: format!("Agent {login}"),
                    role,
                    issuers: Vec::new(),
                    email: None,
                    siret: None,
                    created_at: sand_testkit::fixtures::NOW,
                },
                &hash,
                &secret,
                &NewAuditEntry {
                    at: sand_testkit::fixtures::NOW,
                    actor: Actor::Operator("test".to_owned()),
                    action: AuditAction::StaffAdd,
                    records: Vec::new(),
                    link: None,
                    batch: None,
                    detail: login.to_owned(),
                    origin: "cli".to_owned(),
                },
            )
            .await
            .unwrap();
        self.secrets.insert(login.to_owned(), secret);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn level_1_follows_the_checklist_to_the_right_office_without_personal_data() {
    let back = Back::new().await;
    let mut helpdesk = back.agent();
    assert_eq!(helpdesk.log_in("aide.n1").await.status, 303);
    let start = helpdesk.get("/assistance").await;
    assert_eq!(start.status, 200);
    // in the catalogue: then profile, identity, and the hand-over to Lyon's office
    let published = helpdesk
        .get("/assistance?academie=10&diplome=BACG&session=2021&profil=oui&identite=conforme")
        .await;
    assert!(published.body.contains("disponible."), "{}", published.body);
    assert!(
        published
            .body
            .contains("Transmettre au service des examens")
    );
    assert!(
        published
            .body
            .contains("rectorat de l&#39;académie de Lyon"),
        "{}",
        published.body
    );
    // before 2009 in Paris: the SIEC
    let early = helpdesk
        .get("/assistance?academie=01&diplome=BACG&session=2005")
        .await;
    assert!(
        early.body.contains("non couvert par le service"),
        "{}",
        early.body
    );
    assert!(
        early
            .body
            .contains("Service interacadémique des examens et concours (SIEC)")
    );
    // not (yet) published in Grenoble: the usual procedure there
    let missing = helpdesk
        .get("/assistance?academie=08&diplome=BTS&session=2020")
        .await;
    assert!(
        missing.body.contains("pas (encore) dans la liste"),
        "{}",
        missing.body
    );
    // hostile input: refused clearly, nothing echoed raw
    let hostile = helpdesk
        .get("/assistance?academie=%3Cscript%3E&diplome=x&session=abcd")
        .await;
    assert_eq!(hostile.status, 422);
    assert!(!hostile.body.contains("<script>"));
    // level 1 sees no record and writes no audit row
    assert!(
        back.audit()
            .await
            .iter()
            .all(|(_, action, _)| *action == AuditAction::Login)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_administrator_adds_an_agent_and_the_auditor_exports_the_log() {
    let mut back = Back::new().await;
    back.add("chef.admin", Role::Administrator).await;
    back.add("contr.audit", Role::Auditor).await;
    let mut admin = back.agent();
    assert_eq!(admin.log_in("chef.admin").await.status, 303);
    let refused = admin
        .post(
            "/agents",
            "/agents",
            &[
                ("identifiant", "grenoble.n2"),
                ("nom", "Agent de Grenoble"),
                ("role", "niveau2"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("au moins un émetteur"));
    let added = admin
        .post(
            "/agents",
            "/agents",
            &[
                ("identifiant", "grenoble.n2"),
                ("nom", "Agent de Grenoble"),
                ("role", "niveau2"),
                ("emetteurs", "08"),
            ],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(added.body.contains("Agent « grenoble.n2 » ajouté."));
    assert!(added.body.contains("grenoble.n2</td><td>Agent de Grenoble"));
    let taken = admin
        .post(
            "/agents",
            "/agents",
            &[
                ("identifiant", "grenoble.n2"),
                ("nom", "Autre"),
                ("role", "auditeur"),
            ],
        )
        .await;
    assert!(taken.body.contains("déjà pris"));
    // an auditor cannot manage agents; a level-2 agent cannot read the log
    let mut auditor = back.agent();
    assert_eq!(auditor.log_in("contr.audit").await.status, 303);
    assert_eq!(auditor.get("/agents").await.status, 403);
    let mut lyon = back.agent();
    assert_eq!(lyon.log_in("lyon.n2").await.status, 303);
    assert_eq!(lyon.get("/journal").await.status, 403);
    assert_eq!(lyon.get("/journal.csv").await.status, 403);

    let journal = auditor.get("/journal").await;
    assert_eq!(journal.status, 200);
    assert!(journal.body.contains("ajout_agent"), "{}", journal.body);
    let csv = auditor.get("/journal.csv").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.body
            .starts_with("numero;date;acteur;action;resultats;rattachement;lot;detail;origine\r\n")
    );
    assert!(
        csv.body
            .contains(";chef.admin;ajout_agent;;;;grenoble.n2 (niveau2);"),
        "{}",
        csv.body
    );
    let rows = back.audit().await;
    assert!(rows.contains(&("contr.audit".to_owned(), AuditAction::AuditExport, 0)));

    // closing an account: Lyon's agent is out at its next request and cannot log in
    assert_eq!(lyon.get("/").await.status, 200);
    let own = admin
        .post("/agents", "/agents/chef.admin/fermer", &[])
        .await;
    assert_eq!(own.status, 422, "not one's own");
    let closed = admin.post("/agents", "/agents/lyon.n2/fermer", &[]).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert!(closed.body.contains("lyon.n2</td><td>Agent lyon.n2</td><td>Service des examens (niveau 2)</td><td>10</td><td>claire.moreau@ac-lyon.fr</td><td>19691234500013</td><td>fermé"), "{}", closed.body);
    assert_eq!(
        lyon.get("/recherche").await.status,
        303,
        "its session ended"
    );
    back.clock.advance(time::Duration::seconds(30));
    let mut again = back.agent();
    assert_eq!(again.log_in("lyon.n2").await.status, 401);
    assert_eq!(
        admin
            .post("/agents", "/agents/lyon.n2/fermer", &[])
            .await
            .status,
        404,
        "already closed"
    );
    let rows = back.audit().await;
    assert_eq!(
        rows.iter()
            .filter(|(who, action, _)| who == "chef.admin" && *action == AuditAction::StaffAdd)
            .count(),
        1,
        "the refused additions wrote nothing"
    );
}

/// Every route of the back office, called by the agent that may use it: the rows each
/// writes in the audit log are exactly the expected ones (a route added to the router
/// without its line here fails the test).
#[tokio::test(flavor = "multi_thread")]
async fn every_route_writes_exactly_its_audit_rows() {
    let mut back = Back::new().await;
    back.add("chef.admin", Role::Administrator).await;
    back.add("contr.audit", Role::Auditor).await;
    let camille = back
        .store
        .record_reader()
        .find_candidates(
            &scope(),
            &identity("Durand", "Camille Marie", "2003-04-12").key(),
        )
        .await
        .unwrap()
        .remove(0);
    let record = format!("/resultats/{}", camille.id.0);
    // (route, who calls it, rows of personal data or action it must write)
    let expected: &[((&str, &str), &str, &[AuditAction])] = &[
        (("GET", "/"), "lyon.n2", &[]),
        (("GET", "/connexion"), "", &[]),
        (("POST", "/connexion"), "", &[AuditAction::Login]),
        (("GET", "/recherche"), "lyon.n2", &[]),
        (
            ("POST", "/recherche"),
            "lyon.n2",
            &[AuditAction::RecordSearch],
        ),
        (
            ("GET", "/resultats/:id"),
            "lyon.n2",
            &[AuditAction::RecordView],
        ),
        (
            ("POST", "/resultats/:id/liberer"),
            "lyon.n2",
            &[AuditAction::LinkRelease, AuditAction::RecordView],
        ),
        (("GET", "/diagnostic"), "lyon.n2", &[]),
        (
            ("POST", "/diagnostic"),
            "lyon.n2",
            &[AuditAction::AttachDiagnosis],
        ),
        (
            ("GET", "/imports"),
            "lyon.n2",
            &[AuditAction::ImportHistory],
        ),
        (("GET", "/assistance"), "aide.n1", &[]),
        (("GET", "/proconnect/connexion"), "", &[]),
        (("GET", "/proconnect/retour"), "", &[AuditAction::Login]),
        (("GET", "/proconnect/deconnexion"), "", &[]),
        (("GET", "/agents"), "chef.admin", &[]),
        (("POST", "/agents"), "chef.admin", &[AuditAction::StaffAdd]),
        (("GET", "/agents/:login"), "chef.admin", &[]),
        (
            ("POST", "/agents/:login"),
            "chef.admin",
            &[AuditAction::StaffChange],
        ),
        (
            ("POST", "/agents/:login/fermer"),
            "chef.admin",
            &[AuditAction::StaffChange],
        ),
        (("GET", "/journal"), "contr.audit", &[]),
        (
            ("GET", "/journal.csv"),
            "contr.audit",
            &[AuditAction::AuditExport],
        ),
        (("GET", "/static/sand.css"), "", &[]),
        (("GET", "/health/live"), "", &[]),
        // last: it ends the session the others use
        (("POST", "/deconnexion"), "lyon.n2", &[AuditAction::Logout]),
    ];
    let mut listed: Vec<(&str, &str)> = expected.iter().map(|(route, _, _)| *route).collect();
    let mut routes = sand_http::staff::ROUTES.to_vec();
    listed.sort_unstable();
    routes.sort_unstable();
    assert_eq!(
        listed, routes,
        "every route, and only them, has its expectation"
    );

    let mut sessions: BTreeMap<&str, Agent<'_>> = BTreeMap::new();
    for who in ["lyon.n2", "aide.n1", "chef.admin", "contr.audit"] {
        let mut agent = back.agent();
        assert_eq!(agent.log_in(who).await.status, 303, "{who}");
        sessions.insert(who, agent);
    }
    // each login wrote its row; from here on, count what each route adds
    for ((method, path), who, rows) in expected {
        let before = back.audit().await.len();
        let path = path
            .replace(":id", &camille.id.0.to_string())
            // the agent the previous line added
            .replace(":login", "nouvel.agent");
        let mut anonymous = back.agent();
        let agent = if who.is_empty() {
            &mut anonymous
        } else {
            sessions.get_mut(who).unwrap()
        };
        let page = match (*method, path.as_str()) {
            ("GET", "/proconnect/retour") => {
                agent.get("/proconnect/connexion").await;
                agent
                    .get(&format!("/proconnect/retour?code=lyon&state={PC_STATE}"))
                    .await
            }
            ("GET", _) => agent.get(&path).await,
            ("POST", "/agents/nouvel.agent") => {
                agent
                    .post(
                        "/agents/nouvel.agent",
                        &path,
                        &[("role", "niveau1"), ("adresse", "nouvel.agent@ac-lyon.fr")],
                    )
                    .await
            }
            ("POST", "/connexion") => {
                // a fresh login (the code of the next time step: each code works once)
                back.clock.advance(time::Duration::seconds(30));
                agent.log_in("lyon.n2").await
            }
            ("POST", "/recherche") => {
                agent
                    .post("/recherche", &path, &[("numero", "C0001")])
                    .await
            }
            ("POST", "/diagnostic") => {
                agent
                    .post(
                        "/diagnostic",
                        &path,
                        &[
                            ("academie", "10"),
                            ("diplome", "BACG"),
                            ("session", "2021"),
                            ("nom", "Durand"),
                            ("prenoms", "Camille"),
                            ("naissance", "12/04/2003"),
                        ],
                    )
                    .await
            }
            ("POST", "/agents") => {
                agent
                    .post(
                        "/agents",
                        &path,
                        &[
                            ("identifiant", "nouvel.agent"),
                            ("nom", "Nouvel agent"),
                            ("role", "auditeur"),
                        ],
                    )
                    .await
            }
            ("POST", p) if p.ends_with("/liberer") => {
                // a link to release, then the form (from the home page: no extra view)
                back.attach_camille(camille.id, "CAM1LLE3").await;
                agent
                    .post("/", &path, &[("motif", "demande_titulaire")])
                    .await
            }
            ("POST", "/deconnexion") => agent.post("/", &path, &[]).await,
            ("POST", p) if p.ends_with("/fermer") => agent.post("/agents", &path, &[]).await,
            other => panic!("no call written for {other:?}"),
        };
        assert!(
            page.status < 400,
            "{method} {path} as {who}: {} {}",
            page.status,
            page.body
        );
        let written: Vec<AuditAction> = back.audit().await[before..]
            .iter()
            .map(|(_, a, _)| *a)
            .collect();
        assert_eq!(&written, rows, "{method} {path} as {who}");
    }
    assert_eq!(
        back.agent().get(&record).await.status,
        303,
        "logged out: to the login page"
    );
    // and a path the router does not serve
    assert_eq!(back.agent().get("/nulle-part").await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_ends_after_fifteen_idle_minutes_and_ten_hours_at_most() {
    let back = Back::new().await;
    let mut agent = back.agent();
    assert_eq!(agent.log_in("lyon.n2").await.status, 303);
    // each request moves the idle limit
    for _ in 0..3 {
        back.clock.advance(time::Duration::minutes(14));
        assert_eq!(
            agent.get("/").await.status,
            200,
            "still in after 14 idle minutes"
        );
    }
    back.clock.advance(time::Duration::minutes(16));
    assert_eq!(
        agent.get("/recherche").await.status,
        303,
        "out after 16 idle minutes"
    );

    // however active, ten hours after the login
    let mut busy = back.agent();
    back.clock.advance(time::Duration::seconds(30));
    assert_eq!(busy.log_in("lyon.n2").await.status, 303);
    for _ in 0..(10 * 60 / 14) {
        back.clock.advance(time::Duration::minutes(14));
        busy.get("/").await;
    }
    back.clock.advance(time::Duration::minutes(14));
    assert_eq!(busy.get("/").await.status, 303, "out after ten hours");
}

/// Logs in through the scripted ProConnect: the start, then its callback with `code`.
async fn proconnect_login(agent: &mut Agent<'_>, code: &str) -> Page {
    let start = agent.get("/proconnect/connexion").await;
    assert_eq!(start.status, 303);
    assert!(
        start.headers["location"]
            .to_str()
            .unwrap()
            .starts_with("https://proconnect.example/api/v2/authorize")
    );
    let pending = start
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sand-agent-proconnect="))
        .expect("the login in progress is kept");
    // it must come back from ProConnect's site: Lax, not Strict
    assert!(pending.contains("SameSite=Lax") && pending.contains("HttpOnly"));
    agent
        .get(&format!("/proconnect/retour?code={code}&state={PC_STATE}"))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_known_agent_logs_in_with_proconnect_and_out_of_both() {
    let back = Back::new().await;
    let mut agent = back.agent();
    let form = agent.get("/connexion").await;
    assert!(form.body.contains("S'identifier avec ProConnect"));

    let entered = proconnect_login(&mut agent, "lyon").await;
    assert_eq!(entered.status, 200, "{}", entered.body);
    // the session cookie is Strict: a same-site refresh carries it to the home page
    assert!(
        entered
            .body
            .contains("http-equiv=\"refresh\" content=\"0;url=/\"")
    );
    assert!(entered.body.contains("Agent lyon.n2"));
    let home = agent.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Agent lyon.n2"));
    assert_eq!(agent.get("/recherche").await.status, 200);
    let audit = back
        .store
        .audit_log()
        .entries(
            time::OffsetDateTime::UNIX_EPOCH,
            time::OffsetDateTime::now_utc() + time::Duration::days(1),
            100,
        )
        .await
        .unwrap();
    let login = audit.last().unwrap();
    assert_eq!(login.entry.action, AuditAction::Login);
    assert_eq!(login.entry.detail, "ProConnect (fia-test, pwd+totp+mfa)");

    // logout: SAND's session ends, then ProConnect's, with the id_token and a signed state
    let out = agent.post("/", "/deconnexion", &[]).await;
    assert_eq!(out.status, 200, "{}", out.body);
    let at = out
        .body
        .find("https://proconnect.example/api/v2/session/end")
        .unwrap();
    let url = &out.body[at..];
    let url = &url[..url.find('"').unwrap()].replace("&amp;", "&");
    assert!(url.contains("id_token_hint=entete.lyon.signature"), "{url}");
    assert_eq!(agent.get("/recherche").await.status, 303, "logged out");
    let state = url.split("state=").nth(1).unwrap();
    let back_home = agent
        .get(&format!("/proconnect/deconnexion?state={state}"))
        .await;
    assert_eq!(back_home.status, 200);
    assert!(back_home.body.contains("session ProConnect sont terminées"));
    // a forged state says nothing
    let forged = agent.get("/proconnect/deconnexion?state=faux.etat.0").await;
    assert_eq!(forged.status, 303);
    assert_eq!(
        back.audit().await.last().map(|(_, a, _)| *a),
        Some(AuditAction::Logout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn proconnect_refusals_each_say_why_and_known_agents_refusals_are_audited() {
    let mut back = Back::new().await;
    back.add("chef.admin", Role::Administrator).await;
    // (scripted agent, status, the page's words, audited as a refusal)
    let cases: &[(&str, u16, &str, bool)] = &[
        ("inconnu", 403, "Accès non ouvert", false),
        ("lyon-sans-siret", 403, "Établissement non transmis", true),
        ("lyon-autre-siret", 403, "Établissement différent", true),
        (
            "lyon-sans-mfa",
            403,
            "Double authentification requise",
            true,
        ),
        ("sans-adresse", 403, "Identité incomplète", false),
        ("code-perime", 400, "Connexion expirée", false),
    ];
    for (code, status, words, audited) in cases {
        let before = back.audit().await.len();
        let mut agent = back.agent();
        let page = proconnect_login(&mut agent, code).await;
        assert_eq!(page.status, *status, "{code}: {}", page.body);
        assert!(page.body.contains(words), "{code}: {}", page.body);
        assert_eq!(agent.get("/").await.status, 303, "{code}: no session");
        let rows = back.audit().await;
        if *audited {
            assert_eq!(rows.len(), before + 1, "{code}");
            assert_eq!(rows.last().unwrap().1, AuditAction::LoginRefused, "{code}");
        } else {
            assert_eq!(rows.len(), before, "{code}: nobody to name");
        }
    }
    // level 1 sees no personal data: a password alone is enough
    let mut helpdesk = back.agent();
    assert_eq!(
        proconnect_login(&mut helpdesk, "aide-sans-mfa")
            .await
            .status,
        200
    );
    assert_eq!(helpdesk.get("/assistance").await.status, 200);

    // a cancelled login, a callback this browser did not start, a foreign state, garbage
    let mut agent = back.agent();
    agent.get("/proconnect/connexion").await;
    let cancelled = agent
        .get(&format!(
            "/proconnect/retour?error=access_denied&state={PC_STATE}"
        ))
        .await;
    assert_eq!(cancelled.status, 200);
    assert!(cancelled.body.contains("Connexion annulée"));
    let not_started = back
        .agent()
        .get(&format!("/proconnect/retour?code=lyon&state={PC_STATE}"))
        .await;
    assert_eq!(not_started.status, 400);
    assert!(
        not_started
            .body
            .contains("pas été commencée dans ce navigateur")
    );
    agent.get("/proconnect/connexion").await;
    let foreign = agent.get("/proconnect/retour?code=lyon&state=autre").await;
    assert_eq!(foreign.status, 400);
    agent.get("/proconnect/connexion").await;
    let huge = agent
        .get(&format!(
            "/proconnect/retour?code={}&state={PC_STATE}",
            "a".repeat(5000)
        ))
        .await;
    assert_eq!(huge.status, 400);
    agent.get("/proconnect/connexion").await;
    let hostile = agent
        .get("/proconnect/retour?error=%0Aerreur%20%3Cscript%3E&state=x")
        .await;
    assert!(hostile.status >= 400 && !hostile.body.contains("<script>"));
    // a closed account
    let mut admin_back = back.agent();
    assert_eq!(admin_back.log_in("chef.admin").await.status, 303);
    let closed = admin_back
        .post("/agents", "/agents/lyon.n2/fermer", &[])
        .await;
    assert_eq!(closed.status, 200);
    let mut lyon = back.agent();
    let page = proconnect_login(&mut lyon, "lyon").await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("Compte fermé"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_test_environment_may_admit_proconnect_logins_without_a_second_factor() {
    let mut settings = StaffSettings::new("SAND — essai");
    settings.second_factor_required = false;
    let back = Back::with(settings).await;
    let mut agent = back.agent();
    assert_eq!(
        proconnect_login(&mut agent, "lyon-sans-mfa").await.status,
        200
    );
    assert_eq!(agent.get("/recherche").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logout_ends_every_session_of_the_agent_and_a_change_of_rights_ends_them_too() {
    let mut back = Back::new().await;
    back.add("chef.admin", Role::Administrator).await;
    let mut office = back.agent();
    let mut home = back.agent();
    assert_eq!(office.log_in("lyon.n2").await.status, 303);
    back.clock.advance(time::Duration::seconds(30));
    assert_eq!(home.log_in("lyon.n2").await.status, 303);
    // a copy of the cookie, as a thief would hold it
    let stolen = office.cookies.clone();
    back.clock.advance(time::Duration::seconds(1));
    assert_eq!(office.post("/", "/deconnexion", &[]).await.status, 303);
    assert_eq!(
        home.get("/recherche").await.status,
        303,
        "the other session ended"
    );
    let mut thief = back.agent();
    thief.cookies = stolen;
    assert_eq!(
        thief.get("/recherche").await.status,
        303,
        "the copied cookie died"
    );
    // logging in again works at once
    back.clock.advance(time::Duration::seconds(30));
    assert_eq!(office.log_in("lyon.n2").await.status, 303);
    assert_eq!(office.get("/recherche").await.status, 200);

    // an administrator changes the agent's rights: the agent's session ends
    let mut admin = back.agent();
    assert_eq!(admin.log_in("chef.admin").await.status, 303);
    let form = admin.get("/agents/lyon.n2").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("value=\"claire.moreau@ac-lyon.fr\""));
    assert!(form.body.contains(&format!("value=\"{LYON_SIRET}\"")));
    back.clock.advance(time::Duration::seconds(1));
    let changed = admin
        .post(
            "/agents/lyon.n2",
            "/agents/lyon.n2",
            &[
                ("role", "niveau2"),
                ("emetteurs", "10, 08"),
                ("adresse", "claire.moreau@ac-lyon.fr"),
                ("siret", LYON_SIRET),
            ],
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert!(changed.body.contains("<td>10, 08</td>"));
    assert_eq!(
        office.get("/recherche").await.status,
        303,
        "rights changed: out"
    );
    back.clock.advance(time::Duration::seconds(30));
    assert_eq!(office.log_in("lyon.n2").await.status, 303);
    assert_eq!(office.get("/recherche").await.status, 200);
    // an address change alone keeps the session
    back.clock.advance(time::Duration::seconds(1));
    let readdressed = admin
        .post(
            "/agents/lyon.n2",
            "/agents/lyon.n2",
            &[
                ("role", "niveau2"),
                ("emetteurs", "10, 08"),
                ("adresse", "c.moreau@ac-lyon.fr"),
            ],
        )
        .await;
    assert_eq!(readdressed.status, 200);
    assert_eq!(office.get("/recherche").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_administrator_changes_an_agents_access_within_the_rules() {
    let mut back = Back::new().await;
    back.add("chef.admin", Role::Administrator).await;
    let mut admin = back.agent();
    assert_eq!(admin.log_in("chef.admin").await.status, 303);
    let change = |fields: &'static [(&'static str, &'static str)]| fields;
    // (fields, the refusal's words)
    let refusals: &[(&[(&str, &str)], &str)] = &[
        (change(&[("role", "niveau2")]), "au moins un émetteur"),
        (
            change(&[("role", "niveau1"), ("emetteurs", "10")]),
            "Seuls les agents de niveau 2",
        ),
        (change(&[("role", "chef")]), "Choisissez le rôle"),
        (
            change(&[("role", "niveau2"), ("emetteurs", "ZZ")]),
            "inconnu",
        ),
        (
            change(&[("role", "niveau2"), ("emetteurs", "10;DROP")]),
            "16 majuscules, chiffres ou tirets",
        ),
        (
            change(&[
                ("role", "niveau2"),
                ("emetteurs", "10"),
                ("adresse", "pas une adresse"),
            ]),
            "pas une adresse e-mail valide",
        ),
        (
            change(&[("role", "niveau2"), ("emetteurs", "10"), ("siret", "1234")]),
            "14 chiffres",
        ),
        (
            change(&[
                ("role", "niveau2"),
                ("emetteurs", "10"),
                ("adresse", "paul.girard@siec.education.gouv.fr"),
            ]),
            "déjà celle d&#39;un autre agent",
        ),
    ];
    for (fields, words) in refusals {
        let page = admin
            .post("/agents/lyon.n2", "/agents/lyon.n2", fields)
            .await;
        assert_eq!(page.status, 422, "{fields:?}");
        assert!(page.body.contains(words), "{fields:?}: {}", page.body);
    }
    let own = admin
        .post(
            "/agents/chef.admin",
            "/agents/chef.admin",
            &[("role", "auditeur")],
        )
        .await;
    assert_eq!(own.status, 422);
    assert!(own.body.contains("ne modifie pas son propre accès"));
    assert_eq!(admin.get("/agents/personne").await.status, 404);
    assert_eq!(admin.get("/agents/%2e%2e").await.status, 404);
    let huge = admin
        .post(
            "/agents/lyon.n2",
            "/agents/lyon.n2",
            &[("role", &"x".repeat(20_000))],
        )
        .await;
    assert_eq!(huge.status, 413);
    // nothing changed by the refusals; the agent still works as before
    let mut lyon = back.agent();
    assert_eq!(lyon.log_in("lyon.n2").await.status, 303);
    assert_eq!(lyon.get("/recherche").await.status, 200);
    // another role cannot reach the page
    assert_eq!(lyon.get("/agents/siec.n2").await.status, 403);
    let forbidden = lyon
        .post("/", "/agents/siec.n2", &[("role", "administrateur")])
        .await;
    assert_eq!(forbidden.status, 403);
}
