//! The back office beside the web service: its address, its store (the back-office
//! role's connection on PostgreSQL), and the demonstration's agents.

use std::io::Write;
use std::sync::Arc;

use sand_domain::credentials::Password;
use sand_domain::issuer::{IssuerCode, IssuerRegistry};
use sand_domain::ports::{PasswordHasher as _, StaffDirectory as _};
use sand_domain::profile::second_factor::TotpSecret;
use sand_domain::staff::audit::{Actor, AuditAction, NewAuditEntry};
use sand_domain::staff::desk::Desk;
use sand_domain::staff::{NewStaffMember, Role, StaffLogin};
use sand_http::staff::{StaffPorts, StaffSettings, StaffState};
use sand_persistence::{KeyProtector, Store, StoreSettings};

use crate::config::DatabaseUrl;

/// Why the back office cannot start, in French.
#[derive(Debug, thiserror::Error)]
pub enum BackofficeError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] sand_persistence::StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Where the back office listens: the configured address, or in the demonstration the
/// port after the site's (`127.0.0.1:8080` → `127.0.0.1:8081`; port 0 stays 0).
#[must_use]
pub fn address(configured: Option<&str>, demo: bool, site: &str) -> Option<String> {
    if let Some(address) = configured {
        return Some(address.to_owned());
    }
    if !demo {
        return None;
    }
    let (host, port) = site.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    Some(format!(
        "{host}:{}",
        if port == 0 { 0 } else { port.saturating_add(1) }
    ))
}

/// The back office's store: its own connection when one is configured (as the
/// back-office role), the site's own on SQLite.
///
/// # Errors
/// [`BackofficeError::Config`] on PostgreSQL without `SAND_STAFF_DATABASE_URL`.
pub async fn store(
    staff_url: Option<&DatabaseUrl>,
    site_url: &DatabaseUrl,
    site: &Store,
    secret: &[u8],
) -> Result<Store, BackofficeError> {
    match staff_url {
        Some(url) => {
            let keys = KeyProtector::from_secret(secret)
                .map_err(|e| BackofficeError::Config(crate::key_protection_message(&e)))?;
            Ok(Store::connect(&StoreSettings::new(url.expose()), keys).await?)
        }
        None if site_url.is_sqlite() => Ok(site.clone()),
        None => Err(BackofficeError::Config(
            "l'espace agents sur PostgreSQL se connecte avec un utilisateur de son propre rôle : définissez SAND_STAFF_DATABASE_URL (voir `sand migrate --backoffice-role`)".to_owned(),
        )),
    }
}

/// What the back office shares with the site, and its login through ProConnect.
pub struct StateParts {
    pub issuers: Arc<IssuerRegistry>,
    pub clock: Arc<dyn sand_domain::ports::Clock>,
    pub proconnect: Option<Arc<dyn sand_domain::ports::AgentIdentityProvider>>,
}

/// The back office's state over `store`.
#[must_use]
pub fn state(
    settings: StaffSettings,
    store: &Store,
    secret: &[u8],
    parts: StateParts,
) -> StaffState {
    let StateParts {
        issuers,
        clock,
        proconnect,
    } = parts;
    StaffState::new(
        settings,
        secret,
        StaffPorts {
            directory: Arc::new(store.staff()),
            desk: Desk {
                store: Arc::new(store.exam_office_desk()),
                issuers,
            },
            audit: Arc::new(store.audit_log()),
            hasher: Arc::new(sand_http::hasher::Argon2Hasher::new(2)),
            clock,
            catalogue: Arc::new(store.catalogue()),
            proconnect,
        },
    )
}

/// The demonstration's agents: one of each role (two exam offices), added at the first
/// start; their passwords derive from the demonstration's secret, so that every start
/// can print them with their TOTP secrets.
/// Three carry the professional addresses (and SIRET) of the test OpenID provider's
/// fixture agents (tests/oidc-provider/agents.mjs), so that a demonstration run beside it
/// can log them in through ProConnect.
const DEMO_AGENTS: &[DemoAgent] = &[
    DemoAgent {
        login: "demo.aide",
        name: "Agent d'assistance (démonstration)",
        role: Role::Helpdesk,
        issuers: &[],
        email: Some("marc.petit@education.gouv.fr"),
        siret: None,
    },
    DemoAgent {
        login: "demo.lyon",
        name: "Agent du service des examens de Lyon (démonstration)",
        role: Role::ExamOffice,
        issuers: &["10"],
        email: Some("claire.moreau@ac-lyon.fr"),
        siret: Some("19691234500013"),
    },
    DemoAgent {
        login: "demo.siec",
        name: "Agent du SIEC (démonstration)",
        role: Role::ExamOffice,
        issuers: &["SIEC"],
        email: Some("paul.girard@siec.education.gouv.fr"),
        siret: Some("13002523400017"),
    },
    DemoAgent {
        login: "demo.admin",
        name: "Administrateur (démonstration)",
        role: Role::Administrator,
        issuers: &[],
        email: None,
        siret: None,
    },
    DemoAgent {
        login: "demo.audit",
        name: "Auditeur (démonstration)",
        role: Role::Auditor,
        issuers: &[],
        email: None,
        siret: None,
    },
];

struct DemoAgent {
    login: &'static str,
    name: &'static str,
    role: Role,
    issuers: &'static [&'static str],
    email: Option<&'static str>,
    siret: Option<&'static str>,
}

/// Adds the demonstration's agents that are missing and prints how to log in as each.
///
/// # Errors
/// [`BackofficeError`] when the store fails.
pub async fn demo_agents(
    store: &Store,
    secret: &[u8],
    address: &str,
    out: &mut impl Write,
) -> Result<(), BackofficeError> {
    let directory = store.staff();
    let hasher = sand_http::hasher::Argon2Hasher::new(1);
    let passwords = sand_http::tokens::Signer::new(secret);
    writeln!(
        out,
        "Espace agents de démonstration : {address} — identifiant, rôle, mot de passe, secret TOTP (`sand staff totp IDENTIFIANT` affiche le code du moment) :"
    )?;
    for agent in DEMO_AGENTS {
        let DemoAgent {
            login,
            name,
            role,
            issuers,
            ..
        } = agent;
        let login = StaffLogin::parse(login).map_err(|e| BackofficeError::Config(e.to_string()))?;
        let password = passwords.pseudonym(&format!("demo agent password {login}"));
        let found = match directory.credentials(&login).await {
            Ok(found) => found,
            // e.g. a server secret rotated since the agent was added: the site still serves
            Err(e) => {
                tracing::warn!(error = %e, login = %login, "a demonstration agent cannot be read");
                writeln!(
                    out,
                    "  {login}\t{}\t(illisible avec ce secret du serveur)",
                    role.label()
                )?;
                continue;
            }
        };
        let credentials = match found {
            Some(found) => found.totp,
            None => {
                let totp = TotpSecret::new(sand_http::system::random_bytes::<20>().to_vec());
                let hash = hasher
                    .hash(
                        &Password::for_login(&password)
                            .map_err(|e| BackofficeError::Config(e.to_string()))?,
                    )
                    .await
                    .map_err(port)?;
                let now = time::OffsetDateTime::now_utc();
                let member = NewStaffMember {
                    login: login.clone(),
                    name: (*name).to_owned(),
                    role: *role,
                    issuers: issuers
                        .iter()
                        .filter_map(|c| IssuerCode::parse(c).ok())
                        .collect(),
                    email: agent
                        .email
                        .and_then(|e| sand_domain::credentials::Email::parse(e).ok()),
                    siret: agent
                        .siret
                        .and_then(|s| sand_domain::staff::sign_in::Siret::parse(s).ok()),
                    created_at: now,
                };
                let audit = NewAuditEntry {
                    at: now,
                    actor: Actor::Operator("demonstration".to_owned()),
                    action: AuditAction::StaffAdd,
                    records: Vec::new(),
                    link: None,
                    batch: None,
                    detail: format!("{login} ({role})"),
                    origin: "demo".to_owned(),
                };
                match directory.add(&member, &hash, &totp, &audit).await {
                    Ok(_) => {}
                    Err(
                        sand_domain::ports::AddStaffStoreError::LoginTaken
                        | sand_domain::ports::AddStaffStoreError::EmailTaken,
                    ) => {}
                    Err(sand_domain::ports::AddStaffStoreError::Port(e)) => return Err(port(e)),
                }
                totp
            }
        };
        let base32 =
            sand_http::totp::generator(credentials.expose(), login.as_str(), "SAND espace agents")
                .map(|t| sand_http::totp::base32(&t))
                .unwrap_or_default();
        writeln!(out, "  {login}\t{}\t{password}\t{base32}", role.label())?;
    }
    Ok(())
}

fn port(e: sand_domain::PortError) -> BackofficeError {
    BackofficeError::Config(format!("espace agents : base de données : {e}"))
}
