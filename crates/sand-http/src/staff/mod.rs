//! The back office ("espace agents"): a driving adapter of its own, beside the public
//! web, served on its own listener (`SAND_STAFF_LISTEN`, a private address).
//!
//! - its own session cookie (`sand-agent`, signed, HttpOnly, SameSite=Strict), short
//!   idle limit, absolute limit; CSRF on every form; `noindex`; the public site's
//!   security headers;
//! - local accounts log in with a password **and** a TOTP code (a code works once);
//!   State agents log in through ProConnect ([`proconnect`]), found in SAND's directory
//!   by professional address; a logout ends the agent's sessions server-side;
//! - every page that shows personal data or acts goes through the domain's
//!   [`Desk`], scoped in the database queries and audited in the same transaction.

mod logout;
mod pages;
mod proconnect;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use poem::endpoint::BoxEndpoint;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, post};
use sand_domain::issuer::IssuerRegistry;
use sand_domain::ports::{
    AgentIdentityProvider, AuditLog, Catalogue, Clock, PasswordHasher, StaffDirectory,
};
use sand_domain::staff::desk::Desk;
use sand_domain::staff::{StaffLogin, StaffMember};
use time::OffsetDateTime;

use crate::limits::{ClientKey, Limiters, RateLimits};
use crate::tokens::{Purpose, Signer};

/// The back office's settings.
#[derive(Debug, Clone)]
pub struct StaffSettings {
    pub operator_name: String,
    /// Behind TLS: `__Host-` cookie names and the `Secure` flag.
    pub secure: bool,
    /// The demonstration: a banner on every page.
    pub demo: bool,
    /// A session ends after this long without a request.
    pub idle: Duration,
    /// ... and this long after its login, whatever happens.
    pub absolute: Duration,
    /// Use the right-most untrusted `X-Forwarded-For` address (behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// A ProConnect login of a role that sees personal data must report a second factor
    /// (`amr`). Off only for a test environment whose provider cannot report one.
    pub second_factor_required: bool,
}

impl StaffSettings {
    #[must_use]
    pub fn new(operator_name: impl Into<String>) -> Self {
        Self {
            operator_name: operator_name.into(),
            secure: false,
            demo: false,
            idle: Duration::from_secs(15 * 60),
            absolute: Duration::from_secs(10 * 3600),
            trust_forwarded_for: false,
            second_factor_required: true,
        }
    }
}

/// What the back office is composed of.
pub struct StaffPorts {
    pub directory: Arc<dyn StaffDirectory>,
    pub desk: Desk,
    pub audit: Arc<dyn AuditLog>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    pub catalogue: Arc<dyn Catalogue>,
    /// ProConnect, when the deployment uses it.
    pub proconnect: Option<Arc<dyn AgentIdentityProvider>>,
}

impl std::fmt::Debug for StaffPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaffPorts")
    }
}

/// What the back office's handlers share.
pub struct StaffState {
    pub settings: StaffSettings,
    pub(crate) signer: Signer,
    pub directory: Arc<dyn StaffDirectory>,
    pub desk: Desk,
    pub audit: Arc<dyn AuditLog>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    /// What level 1 checks a diploma against.
    pub catalogue: Arc<dyn Catalogue>,
    pub proconnect: Option<Arc<dyn AgentIdentityProvider>>,
    pub(crate) limiters: Limiters,
}

impl std::fmt::Debug for StaffState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaffState")
    }
}

impl StaffState {
    /// `secret` is the server secret (its own tokens' key is derived from it).
    #[must_use]
    pub fn new(settings: StaffSettings, secret: &[u8], ports: StaffPorts) -> Self {
        let StaffPorts {
            directory,
            desk,
            audit,
            hasher,
            clock,
            catalogue,
            proconnect,
        } = ports;
        let mut staff_secret = b"sand back office\n".to_vec();
        staff_secret.extend_from_slice(secret);
        Self {
            settings,
            signer: Signer::new(&staff_secret),
            directory,
            desk,
            audit,
            hasher,
            clock,
            catalogue,
            proconnect,
            limiters: Limiters::new(&RateLimits::default()),
        }
    }

    pub(crate) fn issuers(&self) -> &IssuerRegistry {
        &self.desk.issuers
    }
}

const SESSION_COOKIE: &str = "sand-agent";
const SESSION_COOKIE_SECURE: &str = "__Host-sand-agent";
/// The login form's CSRF seed, before any session.
const PRE_COOKIE: &str = "sand-agent-pre";
const PRE_COOKIE_SECURE: &str = "__Host-sand-agent-pre";
/// A ProConnect login in progress (SameSite=Lax: it must come back from ProConnect).
pub(crate) const PENDING_COOKIE: &str = "sand-agent-proconnect";
pub(crate) const PENDING_COOKIE_SECURE: &str = "__Host-sand-agent-proconnect";
/// The id_token of the session's ProConnect login, for the logout at ProConnect.
pub(crate) const HINT_COOKIE: &str = "sand-agent-idtoken";
pub(crate) const HINT_COOKIE_SECURE: &str = "__Host-sand-agent-idtoken";
/// Largest form accepted.
const MAX_FORM_BYTES: usize = 16 * 1024;

const STYLESHEET: &str = include_str!("../../static/sand.css");

/// Every route of the back office, as (method, path): the audit-completeness test walks
/// them all and fails on a route it does not know, so a new route comes with its audit
/// expectation. Keep in step with [`staff_app`].
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/connexion"),
    ("POST", "/connexion"),
    ("POST", "/deconnexion"),
    ("GET", "/recherche"),
    ("POST", "/recherche"),
    ("GET", "/resultats/:id"),
    ("POST", "/resultats/:id/liberer"),
    ("GET", "/diagnostic"),
    ("POST", "/diagnostic"),
    ("GET", "/imports"),
    ("GET", "/assistance"),
    ("GET", "/proconnect/connexion"),
    ("GET", "/proconnect/retour"),
    ("GET", "/proconnect/deconnexion"),
    ("GET", "/agents"),
    ("POST", "/agents"),
    ("GET", "/agents/:login"),
    ("POST", "/agents/:login"),
    ("POST", "/agents/:login/fermer"),
    ("GET", "/journal"),
    ("GET", "/journal.csv"),
    ("GET", "/static/sand.css"),
    ("GET", "/health/live"),
];

/// The back office's routes, with its frame (headers, session, CSRF seed).
#[must_use]
pub fn staff_app(state: Arc<StaffState>) -> BoxEndpoint<'static, Response> {
    Route::new()
        .at("/", get(pages::home))
        .at("/connexion", get(pages::login_form).post(pages::login))
        .at("/deconnexion", post(logout::logout))
        .at("/proconnect/connexion", get(proconnect::start))
        .at("/proconnect/retour", get(proconnect::callback))
        .at("/proconnect/deconnexion", get(proconnect::logged_out))
        .at("/recherche", get(pages::search_form).post(pages::search))
        .at("/resultats/:id", get(pages::record))
        .at("/resultats/:id/liberer", post(pages::release))
        .at(
            "/diagnostic",
            get(pages::diagnosis_form).post(pages::diagnosis),
        )
        .at("/imports", get(pages::history))
        .at("/assistance", get(pages::checklist))
        .at("/agents", get(pages::agents).post(pages::add_agent))
        .at(
            "/agents/:login",
            get(pages::agent_form).post(pages::change_agent),
        )
        .at("/agents/:login/fermer", post(pages::close_agent))
        .at("/journal", get(pages::journal))
        .at("/journal.csv", get(pages::journal_csv))
        .at("/static/sand.css", get(stylesheet))
        .at("/health/live", get(live))
        .around(frame)
        .data(state)
        .boxed()
}

#[poem::handler]
fn stylesheet() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(STYLESHEET)
}

#[poem::handler]
fn live() -> &'static str {
    "ok"
}

/// Who is asking: set by the frame on every request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The signed-in agent, when the session is valid and the account open.
    pub agent: Option<StaffMember>,
    /// The session token's data (`hex(login):login_unix_ms`), the CSRF seed of a
    /// signed-in agent.
    session: Option<String>,
    /// The id_token of the session's ProConnect login, if it was one.
    pub proconnect_hint: Option<String>,
    /// The seed of the login form's CSRF token.
    pre_seed: Option<String>,
    pub client: IpAddr,
    pub now: OffsetDateTime,
}

impl Caller {
    /// The CSRF token to put in this caller's forms.
    pub(crate) fn csrf(&self, state: &StaffState) -> String {
        match (&self.session, &self.pre_seed) {
            (Some(session), _) => state.signer.csrf_token(&format!("agent:{session}")),
            (None, Some(seed)) => state.signer.csrf_token(&format!("pre:{seed}")),
            (None, None) => String::new(),
        }
    }

    pub(crate) fn check_csrf(&self, state: &StaffState, token: &str) -> bool {
        match (&self.session, &self.pre_seed) {
            (Some(session), _) => state.signer.check_csrf(&format!("agent:{session}"), token),
            (None, Some(seed)) => state.signer.check_csrf(&format!("pre:{seed}"), token),
            (None, None) => false,
        }
    }

    pub(crate) fn origin(&self) -> String {
        self.client.to_string()
    }

    pub(crate) fn client_key(&self) -> ClientKey {
        ClientKey::from(self.client)
    }
}

pub(crate) fn cookie_name(
    state: &StaffState,
    plain: &'static str,
    secure: &'static str,
) -> &'static str {
    if state.settings.secure { secure } else { plain }
}

pub(crate) fn read_cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value for the back office (path `/`, HttpOnly, SameSite=Strict).
pub(crate) fn set_cookie(
    state: &StaffState,
    name: &str,
    value: &str,
    max_age: Option<i64>,
) -> String {
    set_cookie_with(state, name, value, max_age, "Strict")
}

/// A `Set-Cookie` value with its own `SameSite` (`Lax` for what must come back from the
/// identity provider).
pub(crate) fn set_cookie_with(
    state: &StaffState,
    name: &str,
    value: &str,
    max_age: Option<i64>,
    same_site: &str,
) -> String {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if state.settings.secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// Starts a session for `login` logged in at `at`: the cookie to set.
pub(crate) fn session_cookie(
    state: &StaffState,
    login: &StaffLogin,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> String {
    // the token's parts are separated by dots, which logins may hold: the login goes hex;
    // the login instant in milliseconds, against which a logout's end of sessions is told
    let data = format!(
        "{}:{}",
        hex::encode(login.as_str()),
        at.unix_timestamp_nanos() / 1_000_000
    );
    let idle_end = now + state.settings.idle;
    let absolute_end = at + state.settings.absolute;
    let token = state
        .signer
        .sign(Purpose::StaffSession, &data, "", idle_end.min(absolute_end));
    set_cookie(
        state,
        cookie_name(state, SESSION_COOKIE, SESSION_COOKIE_SECURE),
        &token,
        None,
    )
}

pub(crate) fn end_session_cookie(state: &StaffState) -> String {
    set_cookie(
        state,
        cookie_name(state, SESSION_COOKIE, SESSION_COOKIE_SECURE),
        "",
        Some(0),
    )
}

fn client_of(req: &Request, trust_forwarded_for: bool) -> IpAddr {
    let direct = req
        .remote_addr()
        .as_socket_addr()
        .map_or(IpAddr::from([127, 0, 0, 1]), std::net::SocketAddr::ip);
    if !trust_forwarded_for {
        return direct;
    }
    req.headers()
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(direct)
}

/// Every request: who the caller is (and a fresh idle deadline), then the answer with
/// the security headers.
async fn frame<E: Endpoint>(next: E, mut req: Request) -> poem::Result<Response> {
    let Some(state) = req.data::<Arc<StaffState>>().cloned() else {
        return Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR));
    };
    let now = state.clock.now();
    let session_name = cookie_name(&state, SESSION_COOKIE, SESSION_COOKIE_SECURE);
    let pre_name = cookie_name(&state, PRE_COOKIE, PRE_COOKIE_SECURE);
    let mut set_cookies = Vec::new();
    let mut agent = None;
    let mut session = None;
    if let Some(token) = read_cookie(&req, session_name)
        && let Some(data) = state.signer.open(Purpose::StaffSession, &token, "", now)
        && let Some((login, at)) = data.split_once(':')
        && let Some(login) = hex::decode(login)
            .ok()
            .and_then(|l| String::from_utf8(l).ok())
        && let (Ok(login), Ok(at)) = (StaffLogin::parse(&login), at.parse::<i128>())
        && let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(at * 1_000_000)
    {
        match state.directory.credentials(&login).await {
            Ok(Some(found)) if found.member.session_holds(at) => {
                set_cookies.push(session_cookie(&state, &login, at, now));
                session = Some(data.to_owned());
                agent = Some(found.member);
            }
            Ok(_) => set_cookies.push(end_session_cookie(&state)),
            Err(e) => {
                tracing::error!(error = %e, "the staff directory cannot be read");
                return Ok(StatusCode::SERVICE_UNAVAILABLE.into_response());
            }
        }
    }
    let pre_seed = match read_cookie(&req, pre_name) {
        Some(seed) if seed.len() == 64 && seed.bytes().all(|b| b.is_ascii_hexdigit()) => Some(seed),
        _ if agent.is_none() => {
            let seed = crate::system::random_token();
            set_cookies.push(set_cookie(&state, pre_name, &seed, None));
            Some(seed)
        }
        _ => None,
    };
    let hint_name = cookie_name(&state, HINT_COOKIE, HINT_COOKIE_SECURE);
    let proconnect_hint = if agent.is_some() {
        read_cookie(&req, hint_name).and_then(|token| {
            let data = state
                .signer
                .open(Purpose::StaffProConnectHint, &token, "", now)?;
            String::from_utf8(hex::decode(data).ok()?).ok()
        })
    } else {
        None
    };
    req.set_data(Caller {
        agent,
        session,
        proconnect_hint,
        pre_seed,
        client: client_of(&req, state.settings.trust_forwarded_for),
        now,
    });
    let mut response = match next.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    let headers = response.headers_mut();
    for c in set_cookies {
        // a handler that set the session cookie (login, logout) has the last word
        if let Ok(v) = HeaderValue::from_str(&c)
            && !headers.get_all(header::SET_COOKIE).iter().any(|h| {
                h.to_str()
                    .is_ok_and(|h| h.split('=').next() == c.split('=').next())
            })
        {
            headers.append(header::SET_COOKIE, v);
        }
    }
    for (name, value) in [
        (
            "content-security-policy",
            "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("x-robots-tag", "noindex, nofollow"),
        ("cross-origin-opener-policy", "same-origin"),
        (
            "permissions-policy",
            "camera=(), microphone=(), geolocation=(), interest-cohort=()",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.settings.secure {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    Ok(response)
}

/// A rendered back-office page.
pub(crate) fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Response::builder()
            .status(status)
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "a back-office template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A form's fields, bounded in size.
pub(crate) async fn read_form<T: serde::de::DeserializeOwned>(
    body: poem::Body,
) -> Result<T, StatusCode> {
    let bytes = body
        .into_bytes_limit(MAX_FORM_BYTES)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)?;
    serde_urlencoded::from_bytes(&bytes).map_err(|_| StatusCode::BAD_REQUEST)
}

/// The audit log as CSV, `;`-separated, CRLF line ends (what French spreadsheets open):
/// ids and codes only; a cell a spreadsheet would take for a formula gets a leading
/// apostrophe (OWASP's CSV-injection advice).
///
/// # Errors
/// [`csv::Error`] only (writing to memory).
pub fn audit_csv(rows: &[sand_domain::staff::audit::AuditEntry]) -> Result<Vec<u8>, csv::Error> {
    let mut csv = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    csv.write_record([
        "numero",
        "date",
        "acteur",
        "action",
        "resultats",
        "rattachement",
        "lot",
        "detail",
        "origine",
    ])?;
    for row in rows {
        let e = &row.entry;
        let records: Vec<String> = e.records.iter().map(|r| r.0.to_string()).collect();
        csv.write_record([
            row.seq.to_string(),
            e.at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            e.actor.name(),
            e.action.code().to_owned(),
            records.join(","),
            e.link.map(|l| l.0.to_string()).unwrap_or_default(),
            e.batch.map(|b| b.0.to_string()).unwrap_or_default(),
            defuse(&e.detail),
            e.origin.clone(),
        ])?;
    }
    csv.into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// A leading apostrophe for a cell a spreadsheet would take for a formula.
fn defuse(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(super::defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(super::defuse("+1"), "'+1");
        assert_eq!(super::defuse("lyon.n2 (niveau2)"), "lyon.n2 (niveau2)");
    }
}
