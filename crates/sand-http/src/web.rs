//! The frame around every request: request id, client address, session and CSRF
//! resolution, security headers, and errors rendered as pages (or JSON under `/api`).

use std::net::IpAddr;
use std::sync::Arc;

use askama::Template;
use cookie::{Cookie, SameSite};
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, PathPattern, Request, Response};
use sand_domain::PortError;
use sand_domain::ports::StoredSession;
use sand_domain::profile::ProfileId;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tracing::Instrument;

use crate::audit::{SecurityEvent, Subject};
use crate::error_code::ErrorCode;
use crate::limits::ClientKey;
use crate::state::AppState;
use crate::system::random_token;

const SESSION_COOKIE: &str = "sand-session";
const SESSION_COOKIE_SECURE: &str = "__Host-sand-session";
const CSRF_COOKIE: &str = "sand-csrf";
const CSRF_COOKIE_SECURE: &str = "__Host-sand-csrf";
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

/// The request's id, in every log line of the request and on every error page.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A signed-in graduate.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub profile: ProfileId,
    pub(crate) digest: String,
    pub(crate) id_token_hint: Option<String>,
}

/// Who is asking: set by the frame on every request.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub signed_in: Option<SignedIn>,
    /// The CSRF token to put in this visitor's forms.
    pub csrf: String,
    csrf_seed: String,
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

/// Why a request failed; rendered as a page in the design, or as JSON under `/api`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WebError {
    #[error("page not found")]
    NotFound,
    /// An API path asked with a method it does not answer; the methods it answers, for
    /// the `Allow` header.
    #[error("method not allowed (allowed: {0})")]
    MethodNotAllowed(String),
    #[error("malformed request")]
    BadRequest,
    #[error("the form's CSRF token is missing or wrong")]
    Csrf,
    #[error("request body too large")]
    TooLarge,
    #[error("too many requests")]
    TooManyRequests,
    #[error("a dependency is unavailable")]
    Unavailable,
    #[error("unexpected: {0}")]
    Unexpected(String),
    #[error("sign-in required")]
    SignIn,
}

impl WebError {
    /// A 5xx cause, logged once where it is mapped.
    pub fn unexpected(cause: impl std::fmt::Display) -> Self {
        Self::Unexpected(cause.to_string())
    }
}

impl From<PortError> for WebError {
    fn from(e: PortError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "dependency unavailable");
            Self::Unavailable
        } else {
            Self::Unexpected(error_chain(&e))
        }
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl poem::error::ResponseError for WebError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Csrf => StatusCode::FORBIDDEN,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::SignIn => StatusCode::SEE_OTHER,
        }
    }
}

/// What every page's layout needs.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub operator: String,
    pub demo: bool,
    pub signed_in: bool,
    pub csrf: String,
    pub request_id: String,
    pub franceconnect: bool,
    pub title: String,
}

impl Chrome {
    #[must_use]
    pub fn new(state: &AppState, visitor: &Visitor, title: impl Into<String>) -> Self {
        Self {
            operator: state.settings.operator_name.clone(),
            demo: state.settings.demo,
            signed_in: visitor.signed_in.is_some(),
            csrf: visitor.csrf.clone(),
            request_id: visitor.request_id.clone(),
            franceconnect: state.ports.franceconnect.is_some(),
            title: title.into(),
        }
    }
}

/// A rendered page with a status.
///
/// # Errors
/// [`WebError::Unexpected`] when the template fails.
pub fn page(status: StatusCode, template: &impl Template) -> Result<Response, WebError> {
    let html = template.render().map_err(WebError::unexpected)?;
    Ok(Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// A 303 redirect (after a form, or to log in).
#[must_use]
pub fn see_other(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .finish()
}

/// Reads an `application/x-www-form-urlencoded` body of at most `limit` bytes.
///
/// # Errors
/// [`WebError::TooLarge`], [`WebError::BadRequest`].
pub async fn read_form<T: DeserializeOwned>(body: Body, limit: usize) -> Result<T, WebError> {
    let bytes = body.into_bytes_limit(limit).await.map_err(|e| match e {
        poem::error::ReadBodyError::PayloadTooLarge => WebError::TooLarge,
        _ => WebError::BadRequest,
    })?;
    serde_urlencoded::from_bytes(&bytes).map_err(|_| WebError::BadRequest)
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn client_address(state: &AppState, req: &Request) -> IpAddr {
    let direct = req
        .remote_addr()
        .as_socket_addr()
        .map_or(IpAddr::from([127, 0, 0, 1]), std::net::SocketAddr::ip);
    if !state.settings.trust_forwarded_for {
        return direct;
    }
    forwarded_client(req.headers()).unwrap_or(direct)
}

/// The address the trusted proxy appended: the right-most `X-Forwarded-For` entry
/// across *all* the header's lines (a client may send lines of its own before the
/// proxy's; only the last entry was written by the proxy). `None` when that entry is
/// not an address.
fn forwarded_client(headers: &poem::http::HeaderMap) -> Option<IpAddr> {
    let last_line = headers.get_all("x-forwarded-for").iter().next_back()?;
    let last = last_line.to_str().ok()?.rsplit(',').next()?;
    last.trim().parse().ok()
}

fn cookies(req: &Request) -> Vec<Cookie<'static>> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_owned()).filter_map(Result::ok))
        .map(Cookie::into_owned)
        .take(64)
        .collect()
}

fn cookie_value(jar: &[Cookie<'static>], name: &str) -> Option<String> {
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

fn session_cookie_name(state: &AppState) -> &'static str {
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

fn csrf_cookie_name(state: &AppState) -> &'static str {
    if state.settings.secure {
        CSRF_COOKIE_SECURE
    } else {
        CSRF_COOKIE
    }
}

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

async fn resolve_session(
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
    if (now - stored.last_seen_at).whole_seconds() >= TOUCH_EVERY_SECS {
        state.ports.sessions.touch(&digest, now).await?;
    }
    Ok((
        Some(SignedIn {
            profile: stored.profile,
            digest,
            id_token_hint: stored.id_token_hint,
        }),
        false,
    ))
}

pub(crate) fn json_error(
    status: StatusCode,
    code: ErrorCode,
    message: &str,
    request_id: &str,
) -> Response {
    let body =
        serde_json::json!({ "code": code.as_str(), "message": message, "request_id": request_id });
    // the same schema as `ApiError`
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

/// A diploma link's id from a path: anything else is a page that does not exist.
pub(crate) fn link_id(raw: &str) -> Result<sand_domain::link::LinkId, WebError> {
    uuid::Uuid::try_parse(raw)
        .map(sand_domain::link::LinkId)
        .map_err(|_| WebError::NotFound)
}

/// An error page (404, 429, 500…) in the design, with the request id.
#[derive(Debug, Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    text: &'static str,
    status: u16,
}

/// The most sessions one account keeps open at once: a new login beyond it ends the
/// oldest (a graduate signs in from a phone, a laptop, a library computer; a list of
/// dozens would hide the one that should not be there).
pub const MAX_SESSIONS_PER_ACCOUNT: usize = 10;

/// The one field the frame reads of a form: its CSRF token.
#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// The frame: every request goes through it.
pub(crate) async fn frame<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let Some(state) = req.data::<Arc<AppState>>().cloned() else {
        return Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR));
    };
    let started = std::time::Instant::now();
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let api = path.starts_with("/api/");
    let docs = path.starts_with("/api/v1/docs");
    let bare =
        path.starts_with("/static/") || path.starts_with("/health/") || path == "/favicon.ico";
    let span =
        tracing::info_span!("request", id = %request_id, method = %req.method(), path = %path);
    async move {
        let client_ip = client_address(&state, &req);
        let client = ClientKey::from(client_ip);
        let jar = cookies(&req);
        let now = state.ports.clock.now();
        let mut set_cookies = Vec::new();
        // stylesheet, icon and health checks need no session: no database lookup for them
        let session_token = if bare {
            None
        } else {
            cookie_value(&jar, session_cookie_name(&state))
        };
        let (signed_in, clear) = match resolve_session(&state, session_token, now).await {
            Ok(found) => found,
            Err(e) => {
                let response = error_response(&state, &request_id, api, &e);
                state
                    .metrics
                    .request(None, method.as_str(), response.status(), started.elapsed());
                return Ok(finish(&state, response, &request_id, Vec::new(), docs));
            }
        };
        if clear {
            set_cookies.push(clear_session_cookie(&state));
        }
        let csrf_seed = if bare {
            String::new()
        } else if let Some(s) = &signed_in {
            s.digest.clone()
        } else if let Some(seed) =
            cookie_value(&jar, csrf_cookie_name(&state)).filter(|v| v.len() == 64)
        {
            seed
        } else {
            let seed = random_token();
            set_cookies.push(set_cookie(&state, csrf_cookie_name(&state), &seed, None));
            seed
        };
        let visitor = Visitor {
            signed_in,
            csrf: if bare {
                String::new()
            } else {
                state.signer.csrf_token(&csrf_seed)
            },
            csrf_seed,
            client,
            client_ip,
            request_id: request_id.clone(),
            franceconnect_pending: cookie_value(&jar, fc_cookie_name(&state)),
            known_device: cookie_value(&jar, device_cookie_name(&state)),
            second_factor_pending: cookie_value(&jar, second_factor_cookie_name(&state)),
        };
        // API bodies are bounded before any parser sees them (forms are bounded where
        // they are read): the PDF check takes a document, everything else small JSON
        if api {
            let limit = if path == "/api/v1/attestations/controle" {
                state.settings.max_pdf_bytes
            } else {
                state.settings.max_body_bytes
            };
            let declared = req
                .headers()
                .get(poem::http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let too_large = declared.is_some_and(|n| n > limit as u64);
            let body = if too_large {
                None
            } else {
                req.take_body().into_bytes_limit(limit).await.ok()
            };
            let Some(body) = body else {
                let response = error_response(&state, &request_id, api, &WebError::TooLarge);
                state
                    .metrics
                    .request(None, method.as_str(), response.status(), started.elapsed());
                return Ok(finish(&state, response, &request_id, set_cookies, docs));
            };
            req.set_body(body);
        }
        // Every unsafe request to a page carries its form's CSRF token, checked here for
        // every route before any handler runs: a handler cannot forget it. (The API has
        // its own rule: a JSON body, which no cross-site form can send.)
        let unsafe_method = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        if unsafe_method && !api && !bare {
            let limit = state.settings.max_body_bytes;
            let body = match req.take_body().into_bytes_limit(limit).await {
                Ok(body) => body,
                Err(e) => {
                    let error = match e {
                        poem::error::ReadBodyError::PayloadTooLarge => WebError::TooLarge,
                        _ => WebError::BadRequest,
                    };
                    let response = error_response(&state, &request_id, api, &error);
                    state.metrics.request(
                        None,
                        method.as_str(),
                        response.status(),
                        started.elapsed(),
                    );
                    return Ok(finish(&state, response, &request_id, set_cookies, docs));
                }
            };
            let token = serde_urlencoded::from_bytes::<CsrfField>(&body)
                .map(|f| f.csrf)
                .unwrap_or_default();
            if !state.signer.check_csrf(&visitor.csrf_seed, &token) {
                crate::audit::record(
                    &state,
                    &visitor,
                    SecurityEvent::CsrfRefused,
                    Subject::Visitor,
                );
                let response = error_response(&state, &request_id, api, &WebError::Csrf);
                tracing::info!(status = response.status().as_u16(), "answered");
                state
                    .metrics
                    .request(None, method.as_str(), response.status(), started.elapsed());
                return Ok(finish(&state, response, &request_id, set_cookies, docs));
            }
            req.set_body(body);
        }
        let audit_visitor = visitor.clone();
        req.set_data(visitor);
        req.set_data(RequestId(request_id.clone()));
        let route: Option<PathPattern>;
        let response = match ep.call(req).await {
            Ok(response) => {
                let response = response.into_response();
                route = response.data::<PathPattern>().cloned();
                response
            }
            Err(e) => {
                // no route matched (a nest's prefix may still be on the error): unmatched
                route = if e.is::<poem::error::NotFoundError>() {
                    None
                } else {
                    e.data::<PathPattern>().cloned()
                };
                let web = if let Some(web) = e.downcast_ref::<WebError>() {
                    Some(web.clone())
                } else {
                    match e.status() {
                        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                            Some(WebError::NotFound)
                        }
                        StatusCode::PAYLOAD_TOO_LARGE => Some(WebError::TooLarge),
                        s if s.is_client_error() && !api => Some(WebError::BadRequest),
                        s if s.is_server_error() => Some(WebError::Unexpected(e.to_string())),
                        _ => None,
                    }
                };
                match web {
                    Some(web) => error_response(&state, &request_id, api, &web),
                    // a malformed API request (bad JSON, wrong type, wrong media type):
                    // the API's JSON error, with the parser's reason
                    None if api && e.status().is_client_error() => json_error(
                        e.status(),
                        ErrorCode::RequeteInvalide,
                        &format!("Demande invalide : {e}"),
                        &request_id,
                    ),
                    None => e.into_response(),
                }
            }
        };
        tracing::info!(status = response.status().as_u16(), "answered");
        audit_refusal(&audit_visitor, response.status(), route.as_ref(), &path);
        state.metrics.request(
            route.as_ref().map(|p| &*p.0),
            method.as_str(),
            response.status(),
            started.elapsed(),
        );
        Ok(finish(&state, response, &request_id, set_cookies, docs))
    }
    .instrument(span)
    .await
}

/// The security events the frame sees for every route: rate-limit refusals, and a
/// signed-in request for an id (a diploma link) that is not the account's.
fn audit_refusal(visitor: &Visitor, status: StatusCode, route: Option<&PathPattern>, path: &str) {
    if status == StatusCode::TOO_MANY_REQUESTS {
        let route = route.map_or("-", |p| &*p.0);
        crate::audit::record_with(visitor, SecurityEvent::RateLimited, route);
    } else if status == StatusCode::NOT_FOUND
        && visitor.signed_in.is_some()
        && route.is_some_and(|p| p.0.contains(':'))
    {
        // the route and the id asked for, never the raw path a client typed
        let id = path
            .split('/')
            .find_map(|segment| uuid::Uuid::parse_str(segment).ok())
            .map_or_else(|| "invalide".to_owned(), |id| id.to_string());
        let route = route.map_or("-", |p| &*p.0);
        crate::audit::record_with(
            visitor,
            SecurityEvent::UnknownOrForeignId,
            &format!("{route} id={id}"),
        );
    }
}

fn finish(
    state: &AppState,
    mut response: Response,
    request_id: &str,
    set_cookies: Vec<String>,
    docs: bool,
) -> Response {
    let status = response.status();
    let headers = response.headers_mut();
    for c in set_cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", v);
    }
    if docs {
        // the interactive API page (Swagger UI) ships inline scripts and styles
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
                 img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
    } else {
        headers.insert(header::CONTENT_SECURITY_POLICY, state.page_csp.clone());
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    // every refusal by a rate limit, and every outage, says when to come back (pages and
    // API alike)
    if !headers.contains_key(header::RETRY_AFTER) {
        if status == StatusCode::TOO_MANY_REQUESTS {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        }
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.settings.secure {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

fn error_response(state: &AppState, request_id: &str, api: bool, error: &WebError) -> Response {
    use poem::error::ResponseError as _;
    if let WebError::Unexpected(cause) = error {
        tracing::error!(cause = %cause, "request failed");
    }
    if matches!(error, WebError::SignIn) {
        return if api {
            json_error(
                StatusCode::UNAUTHORIZED,
                ErrorCode::NonConnecte,
                "Connectez-vous d'abord.",
                request_id,
            )
        } else {
            see_other("/connexion")
        };
    }
    let status = error.status();
    let (code, title, text) = match error {
        WebError::NotFound => (
            ErrorCode::Introuvable,
            "Page introuvable",
            "L'adresse demandée n'existe pas ou plus. Vérifiez-la, ou repartez de l'accueil.",
        ),
        WebError::MethodNotAllowed(_) => (
            ErrorCode::MethodeNonAutorisee,
            "Méthode non autorisée",
            "Cette adresse ne répond pas à cette méthode HTTP (voir l'en-tête Allow).",
        ),
        WebError::BadRequest => (
            ErrorCode::RequeteInvalide,
            "Demande incomprise",
            "Votre demande est incomplète ou mal formée. Revenez à la page précédente et réessayez.",
        ),
        WebError::Csrf => (
            ErrorCode::FormulaireExpire,
            "Formulaire expiré",
            "Ce formulaire a expiré ou ne vient pas de ce site. Rechargez la page, puis envoyez-le de nouveau.",
        ),
        WebError::TooLarge => (
            ErrorCode::TropVolumineux,
            "Envoi trop volumineux",
            "Ce que vous avez envoyé dépasse la taille acceptée.",
        ),
        WebError::TooManyRequests => (
            ErrorCode::TropDeDemandes,
            "Trop de demandes",
            "Vous avez fait beaucoup de demandes en peu de temps. Patientez quelques minutes avant de réessayer.",
        ),
        WebError::Unavailable => (
            ErrorCode::Indisponible,
            "Service momentanément indisponible",
            "Le service ne peut pas répondre pour l'instant. Réessayez dans quelques minutes : rien de ce que vous aviez déjà enregistré n'est perdu.",
        ),
        WebError::Unexpected(_) | WebError::SignIn => (
            ErrorCode::ErreurInterne,
            "Erreur inattendue",
            "Une erreur inattendue nous empêche de répondre. Réessayez plus tard ; si elle persiste, indiquez au support le numéro de demande ci-dessous.",
        ),
    };
    if api {
        let mut response = json_error(status, code, text, request_id);
        if let WebError::MethodNotAllowed(allow) = error
            && let Ok(value) = HeaderValue::from_str(allow)
        {
            response.headers_mut().insert(header::ALLOW, value);
        }
        return response;
    }
    let chrome = Chrome {
        operator: state.settings.operator_name.clone(),
        demo: state.settings.demo,
        signed_in: false,
        csrf: String::new(),
        request_id: request_id.to_owned(),
        franceconnect: false,
        title: title.to_owned(),
    };
    let template = ErrorPage {
        chrome,
        text,
        status: status.as_u16(),
    };
    match page(status, &template) {
        Ok(mut response) => {
            if status == StatusCode::TOO_MANY_REQUESTS {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            }
            response
        }
        Err(_) => Response::builder().status(status).body(title),
    }
}
