//! Sessions and cookies: who the visitor is ([`Visitor`], [`SignedIn`]), the cookies
//! the service sets (all HttpOnly, SameSite=Lax, `__Host-` behind TLS), and the
//! server-side session's start, end, expiry and touch.

use std::net::IpAddr;

use cookie::{Cookie, SameSite};
use poem::http::header;
use poem::{FromRequest, Request, RequestBody};
use sand_domain::ports::StoredSession;
use sand_domain::profile::ProfileId;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::WebError;
use crate::limits::ClientKey;
use crate::state::AppState;
use crate::system::random_token;

const SESSION_COOKIE: &str = "sand-session";
const SESSION_COOKIE_SECURE: &str = "__Host-sand-session";
/// The FranceConnect login in progress (signed, short-lived, single use).
const FC_COOKIE: &str = "sand-fc";
const FC_COOKIE_SECURE: &str = "__Host-sand-fc";
/// A browser that signed in to an account before (signed, long-lived).
const SECOND_FACTOR_COOKIE: &str = "sand-2fa";
const SECOND_FACTOR_COOKIE_SECURE: &str = "__Host-sand-2fa";
const DEVICE_COOKIE: &str = "sand-appareil";
const DEVICE_COOKIE_SECURE: &str = "__Host-sand-appareil";
/// A session is touched at most this often (seconds), not on every request.
const TOUCH_EVERY_SECS: i64 = 60;

/// A signed-in graduate.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub profile: ProfileId,
    pub(crate) digest: String,
    pub(crate) id_token_hint: Option<String>,
    /// When the session ends if nothing more is asked (the idle limit from its last
    /// request, or its absolute limit if sooner): pages say it, and warn before.
    pub(crate) ends_at: OffsetDateTime,
    /// When the session ends whatever is asked (its absolute limit after login).
    pub(crate) absolute_end: OffsetDateTime,
}

/// Who is asking: set by the frame on every request.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub signed_in: Option<SignedIn>,
    /// The CSRF token to put in this visitor's forms.
    pub csrf: String,
    pub(super) csrf_seed: String,
    pub client: ClientKey,
    /// The client's address (the right-most untrusted one behind trusted proxies).
    pub client_ip: IpAddr,
    pub request_id: String,
    /// The raw FranceConnect login cookie, if any.
    pub(crate) franceconnect_pending: Option<String>,
    /// The raw known-device cookie, if any.
    pub(crate) known_device: Option<String>,
    /// The raw cookie of a login waiting for its second factor, if any.
    pub(crate) second_factor_pending: Option<String>,
    /// The language of the answer: French, or English on the verification space and
    /// the API when asked for (see the frame).
    pub lang: crate::i18n::Lang,
}

impl crate::audit::Requester for Visitor {
    fn account(&self) -> Option<ProfileId> {
        self.signed_in.as_ref().map(|s| s.profile)
    }

    fn client(&self) -> IpAddr {
        self.client_ip
    }

    fn request_id(&self) -> &str {
        &self.request_id
    }
}

/// As handlers receive it.
impl crate::audit::Requester for poem::web::Data<&Visitor> {
    fn account(&self) -> Option<ProfileId> {
        crate::audit::Requester::account(self.0)
    }

    fn client(&self) -> IpAddr {
        self.0.client_ip
    }

    fn request_id(&self) -> &str {
        &self.0.request_id
    }
}

impl Visitor {
    /// The signed-in graduate, or [`WebError::SignIn`] (a redirect to the login page).
    ///
    /// # Errors
    /// [`WebError::SignIn`].
    pub fn require(&self) -> Result<&SignedIn, WebError> {
        self.signed_in.as_ref().ok_or(WebError::SignIn)
    }
}

/// The page a graduate asked for before signing in, when it is one to come back to: a
/// page of the graduate's space, as a path on this site (never another site's address).
#[must_use]
pub fn return_target(raw: &str) -> Option<&str> {
    let ok = raw.len() <= 512
        && (raw == "/espace" || raw.starts_with("/espace/") || raw.starts_with("/espace?"))
        && !raw.contains("//")
        && raw.chars().all(|c| c.is_ascii_graphic());
    ok.then_some(raw)
}

/// The login page's address for a request that needs a session: it says the session
/// expired when one did (`expired`), and leads back to the page asked for (a GET).
#[must_use]
pub(crate) fn login_location(asked: Option<&str>, expired: bool) -> String {
    let mut query = Vec::new();
    if expired {
        query.push(("expiree", "1"));
    }
    if let Some(target) = asked.and_then(return_target) {
        query.push(("retour", target));
    }
    match serde_urlencoded::to_string(&query) {
        Ok(q) if !q.is_empty() => format!("/connexion?{q}"),
        _ => "/connexion".to_owned(),
    }
}

/// A handler that takes a [`SignedIn`] answers only a signed-in graduate: anyone else
/// gets [`WebError::SignIn`] (the login page, or 401 under `/api`) before it runs.
impl<'a> FromRequest<'a> for SignedIn {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        req.data::<Visitor>()
            .and_then(|v| v.signed_in.clone())
            .ok_or_else(|| WebError::SignIn.into())
    }
}

pub(super) fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(super) fn cookies(req: &Request) -> Vec<Cookie<'static>> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_owned()).filter_map(Result::ok))
        .map(Cookie::into_owned)
        .take(64)
        .collect()
}

pub(super) fn cookie_value(jar: &[Cookie<'static>], name: &str) -> Option<String> {
    jar.iter()
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() <= crate::tokens::MAX_TOKEN_CHARS)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`, Secure behind TLS.
pub(crate) fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    max_age_secs: Option<i64>,
) -> String {
    let mut builder = Cookie::build((name.to_owned(), value.to_owned()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(state.settings.secure);
    if let Some(secs) = max_age_secs {
        builder = builder.max_age(cookie::time::Duration::seconds(secs));
    }
    builder.build().to_string()
}

pub(super) fn session_cookie_name(state: &AppState) -> &'static str {
    session_cookie_name_for(state.settings.secure)
}

/// The session cookie's name: `__Host-` behind TLS (`secure`: the public URL is https).
pub(crate) fn session_cookie_name_for(secure: bool) -> &'static str {
    if secure {
        SESSION_COOKIE_SECURE
    } else {
        SESSION_COOKIE
    }
}

/// The FranceConnect login cookie's name: `__Host-` behind TLS (host-only, `Secure`,
/// path `/`: a sibling subdomain cannot plant one).
pub(crate) fn fc_cookie_name(state: &AppState) -> &'static str {
    if state.settings.secure {
        FC_COOKIE_SECURE
    } else {
        FC_COOKIE
    }
}

/// The cookie of a login waiting for its second factor: `__Host-` behind TLS.
pub(crate) fn second_factor_cookie_name(state: &AppState) -> &'static str {
    if state.settings.secure {
        SECOND_FACTOR_COOKIE_SECURE
    } else {
        SECOND_FACTOR_COOKIE
    }
}

/// The known-device cookie's name: `__Host-` behind TLS.
pub(crate) fn device_cookie_name(state: &AppState) -> &'static str {
    if state.settings.secure {
        DEVICE_COOKIE_SECURE
    } else {
        DEVICE_COOKIE
    }
}

/// The most sessions one account keeps open at once: a new login beyond it ends the
/// oldest (a graduate signs in from a phone, a laptop, a library computer; a list of
/// dozens would hide the one that should not be there).
pub const MAX_SESSIONS_PER_ACCOUNT: usize = 10;

/// Starts a session for `profile` (the session id is new at every login) and returns
/// the `Set-Cookie` header value.
///
/// # Errors
/// [`WebError`] when the session cannot be stored.
pub async fn start_session(
    state: &AppState,
    visitor: &Visitor,
    profile: ProfileId,
    id_token_hint: Option<String>,
) -> Result<String, WebError> {
    if let Some(old) = &visitor.signed_in {
        state.ports.sessions.delete(&old.digest).await?;
    }
    let token = random_token();
    let now = state.ports.clock.now();
    state
        .ports
        .sessions
        .create(StoredSession {
            digest: digest(&token),
            profile,
            created_at: now,
            last_seen_at: now,
            id_token_hint,
        })
        .await?;
    // beyond the cap, the oldest sessions end (listed newest first)
    let open = state.ports.sessions.list_for_profile(profile).await?;
    for old in open.iter().skip(MAX_SESSIONS_PER_ACCOUNT) {
        state.ports.sessions.delete(&old.digest).await?;
    }
    Ok(set_cookie(state, session_cookie_name(state), &token, None))
}

/// Ends the visitor's session; returns the `Set-Cookie` value that clears the cookie.
///
/// # Errors
/// [`WebError`] when the store fails.
pub async fn end_session(state: &AppState, visitor: &Visitor) -> Result<String, WebError> {
    if let Some(signed_in) = &visitor.signed_in {
        state.ports.sessions.delete(&signed_in.digest).await?;
    }
    Ok(clear_session_cookie(state))
}

pub(crate) fn clear_session_cookie(state: &AppState) -> String {
    set_cookie(state, session_cookie_name(state), "", Some(0))
}

pub(super) async fn resolve_session(
    state: &AppState,
    token: Option<String>,
    now: OffsetDateTime,
) -> Result<(Option<SignedIn>, bool), WebError> {
    let Some(token) = token.filter(|t| t.len() == 64) else {
        return Ok((None, false));
    };
    let digest = digest(&token);
    let Some(stored) = state.ports.sessions.find(&digest).await? else {
        return Ok((None, true));
    };
    if state
        .settings
        .session_ended(stored.created_at, stored.last_seen_at, now)
    {
        state.ports.sessions.delete(&digest).await?;
        return Ok((None, true));
    }
    let last_seen = if (now - stored.last_seen_at).whole_seconds() >= TOUCH_EVERY_SECS {
        state.ports.sessions.touch(&digest, now).await?;
        now
    } else {
        stored.last_seen_at
    };
    let (idle, absolute) = state.settings.session_limits();
    Ok((
        Some(SignedIn {
            profile: stored.profile,
            digest,
            id_token_hint: stored.id_token_hint,
            ends_at: (last_seen + idle).min(stored.created_at + absolute),
            absolute_end: stored.created_at + absolute,
        }),
        false,
    ))
}
