//! The frame around every request: request id, client address, session and CSRF
//! resolution, bounded API bodies, security headers, metrics, and errors rendered once
//! (as pages, or as JSON under `/api`).

use std::net::IpAddr;
use std::sync::Arc;

use askama::Template;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, PathPattern, Request, Response};
use tracing::Instrument;

use crate::audit::SecurityEvent;
use crate::error::WebError;
use crate::error_code::ErrorCode;
use crate::limits::ClientKey;
use crate::state::AppState;

use super::csrf;
use super::session::{
    Visitor, clear_session_cookie, cookie_value, cookies, device_cookie_name, fc_cookie_name,
    login_location, resolve_session, second_factor_cookie_name, session_cookie_name,
};
use super::{Chrome, RequestId};

/// What a request is, as the frame sorts it.
struct Kind {
    /// Under `/api/`: errors as JSON, bodies bounded here, no CSRF form.
    api: bool,
    /// The interactive API page (its own content security policy).
    docs: bool,
    /// Stylesheet, icon, health checks: no session, no CSRF seed.
    bare: bool,
    /// The verification space, which also speaks English (the switch, a cookie, or the
    /// browser's `Accept-Language`).
    bilingual: bool,
    /// A capability address: the token in its query is the only authority, nothing
    /// ambient (no session) is used, so a form needs no CSRF token — mail clients post
    /// to it without a page (RFC 8058's one-click stop). Its body is still bounded.
    capability: bool,
}

impl Kind {
    fn of(path: &str) -> Self {
        Self {
            api: path.starts_with("/api/"),
            docs: path.starts_with("/api/v1/docs"),
            bare: path.starts_with("/static/")
                || path.starts_with("/health/")
                || path == "/favicon.ico",
            // the wallet's endpoints: their codes and bearer tokens are the authority
            capability: path == sand_domain::public_paths::STOP_VERIFICATION_NOTICES
                || path.starts_with("/openid4vci/"),
            bilingual: path == sand_domain::public_paths::VERIFY
                || path.starts_with("/verifier/")
                || path.starts_with(crate::pages::sharing::SHARE_PREFIX),
        }
    }
}

/// What the login page's address would say if the handler refuses for want of a session
/// (built only then: most requests never need it).
struct LoginNeeded<'a> {
    /// The page asked for (a GET), to come back to.
    asked: Option<&'a str>,
    /// The request came with a session that has just ended.
    expired: bool,
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
    let kind = Kind::of(&path);
    let mut set_cookies = Vec::new();
    let lang = language(&state, &req, &kind, &mut set_cookies);
    // a share link's address is its secret: logs never hold it
    let logged_path = crate::pages::sharing::without_token(&path);
    let span = tracing::info_span!("request", id = %request_id, method = %req.method(), path = %logged_path);
    async move {
        // a page that needs a session sends to the login page, and back here after it
        let asked = (method == Method::GET)
            .then(|| req.uri().path_and_query().map(|p| p.as_str().to_owned()))
            .flatten();
        let prepared = prepare(&state, &mut req, &kind, &request_id, lang, &mut set_cookies).await;
        let (response, route, visitor) = match prepared {
            // refused before routing: no route, no handler ran
            Err(error) => (
                error_response(&state, &request_id, kind.api, lang, &error),
                None,
                None,
            ),
            Ok((visitor, expired)) => {
                let audit_visitor = visitor.clone();
                req.set_data(visitor);
                req.set_data(RequestId(request_id.clone()));
                let login = LoginNeeded {
                    asked: asked.as_deref(),
                    expired,
                };
                let (response, route) =
                    route(&state, &*ep, req, &kind, &request_id, lang, &login).await;
                (response, route, Some(audit_visitor))
            }
        };
        tracing::info!(status = response.status().as_u16(), "answered");
        if let Some(visitor) = &visitor {
            audit_refusal(visitor, response.status(), route.as_ref(), &logged_path);
        }
        state.metrics.request(
            route.as_ref().map(|p| &*p.0),
            method.as_str(),
            response.status(),
            started.elapsed(),
        );
        Ok(finish(
            &state,
            response,
            &request_id,
            set_cookies,
            &kind,
            lang,
        ))
    }
    .instrument(span)
    .await
}

const LANGUAGE_COOKIE: &str = "sand-langue";
const LANGUAGE_COOKIE_SECURE: &str = "__Host-sand-langue";

/// The language of the answer. The API follows `Accept-Language`; the verification
/// space follows its switch (`?langue=en`, remembered in a cookie for a year), then that
/// cookie, then `Accept-Language`; every other page is French.
fn language(
    state: &AppState,
    req: &Request,
    kind: &Kind,
    set_cookies: &mut Vec<String>,
) -> crate::i18n::Lang {
    use crate::i18n::Lang;
    let accepted = || {
        Lang::negotiate(
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )
    };
    if kind.api {
        return accepted();
    }
    if !kind.bilingual {
        return Lang::Fr;
    }
    let cookie_name = if state.settings.secure {
        LANGUAGE_COOKIE_SECURE
    } else {
        LANGUAGE_COOKIE
    };
    let switched = req.uri().query().and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "langue")
            .and_then(|(_, v)| Lang::from_code(&v))
    });
    if let Some(lang) = switched {
        set_cookies.push(super::session::set_cookie(
            state,
            cookie_name,
            lang.code(),
            Some(365 * 24 * 3600),
        ));
        return lang;
    }
    cookie_value(&cookies(req), cookie_name)
        .and_then(|v| Lang::from_code(&v))
        .unwrap_or_else(accepted)
}

/// Everything before routing: the visitor (session, CSRF seed, client address), the
/// API body bounded before any parser sees it, and the CSRF check of every page form.
/// Also says whether the request came with a session that has just ended.
async fn prepare(
    state: &AppState,
    req: &mut Request,
    kind: &Kind,
    request_id: &str,
    lang: crate::i18n::Lang,
    set_cookies: &mut Vec<String>,
) -> Result<(Visitor, bool), WebError> {
    let client_ip = client_address(state, req);
    let jar = cookies(req);
    let now = state.ports.clock.now();
    // stylesheet, icon and health checks need no session: no database lookup for them
    let session_token = if kind.bare {
        None
    } else {
        cookie_value(&jar, session_cookie_name(state))
    };
    let (signed_in, clear) = resolve_session(state, session_token, now).await?;
    if clear {
        set_cookies.push(clear_session_cookie(state));
    }
    let csrf_seed = if kind.bare {
        String::new()
    } else {
        csrf::seed(state, &jar, signed_in.as_ref(), set_cookies)
    };
    let visitor = Visitor {
        signed_in,
        csrf: if kind.bare {
            String::new()
        } else {
            state.signer.csrf_token(&csrf_seed)
        },
        csrf_seed,
        client: ClientKey::from(client_ip),
        client_ip,
        request_id: request_id.to_owned(),
        franceconnect_pending: cookie_value(&jar, fc_cookie_name(state)),
        known_device: cookie_value(&jar, device_cookie_name(state)),
        second_factor_pending: cookie_value(&jar, second_factor_cookie_name(state)),
        lang,
    };
    if kind.api {
        bound_api_body(state, req).await?;
    } else if kind.capability {
        bound_body(req, state.settings.max_body_bytes).await?;
    } else if csrf::is_unsafe(req.method()) && !kind.bare {
        csrf::check_form(state, &visitor, req).await?;
    }
    Ok((visitor, clear))
}

/// API bodies are bounded before any parser sees them (page forms are bounded by the
/// CSRF check): the PDF check takes a document, everything else small JSON.
async fn bound_api_body(state: &AppState, req: &mut Request) -> Result<(), WebError> {
    let limit = if req.uri().path() == "/api/v1/attestations/controle" {
        state.settings.max_pdf_bytes
    } else {
        state.settings.max_body_bytes
    };
    bound_body(req, limit).await
}

/// Reads the body, refused when longer than `limit` bytes, and puts it back.
async fn bound_body(req: &mut Request, limit: usize) -> Result<(), WebError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(WebError::TooLarge);
    }
    let body = req
        .take_body()
        .into_bytes_limit(limit)
        .await
        .map_err(|_| WebError::TooLarge)?;
    req.set_body(body);
    Ok(())
}

/// Routes the request to its handler; a failure becomes the error page or JSON error.
/// Returns the response and the route that matched (none when nothing matched).
async fn route<E: Endpoint>(
    state: &AppState,
    ep: &E,
    req: Request,
    kind: &Kind,
    request_id: &str,
    lang: crate::i18n::Lang,
    login: &LoginNeeded<'_>,
) -> (Response, Option<PathPattern>) {
    match ep.call(req).await {
        Ok(response) => {
            let response = response.into_response();
            let route = response.data::<PathPattern>().cloned();
            (response, route)
        }
        Err(e) => {
            // no route matched (a nest's prefix may still be on the error): unmatched
            let route = if e.is::<poem::error::NotFoundError>() {
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
                    s if s.is_client_error() && !kind.api => Some(WebError::BadRequest),
                    s if s.is_server_error() => Some(WebError::unexpected(e.to_string())),
                    _ => None,
                }
            };
            let response = match web {
                Some(WebError::SignIn) if !kind.api => {
                    super::see_other(&login_location(login.asked, login.expired))
                }
                Some(web) => error_response(state, request_id, kind.api, lang, &web),
                // a malformed API request (bad JSON, wrong type, wrong media type): the
                // API's JSON error, with the parser's reason
                None if kind.api && e.status().is_client_error() => json_error(
                    e.status(),
                    ErrorCode::RequeteInvalide,
                    &lang.t_with("error-invalid-request", &[("reason", &e.to_string())]),
                    request_id,
                ),
                None => e.into_response(),
            };
            (response, route)
        }
    }
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
    kind: &Kind,
    lang: crate::i18n::Lang,
) -> Response {
    let docs = kind.docs;
    let status = response.status();
    let headers = response.headers_mut();
    if !kind.bare {
        headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(lang.code()),
        );
    }
    // the answer depends on the language asked for: caches must keep them apart
    if kind.api || kind.bilingual {
        headers.append(
            header::VARY,
            HeaderValue::from_static(if kind.api {
                "Accept-Language"
            } else {
                "Accept-Language, Cookie"
            }),
        );
    }
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

/// The API's JSON error body (the schema `ApiError` of the document).
pub(crate) fn json_error(
    status: StatusCode,
    code: ErrorCode,
    message: &str,
    request_id: &str,
) -> Response {
    let body =
        serde_json::json!({ "code": code.as_str(), "message": message, "request_id": request_id });
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

/// An error page (404, 429, 500…) in the design, with the request id.
#[derive(Debug, Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    text: String,
    status: u16,
}

/// Renders `error` as the API's JSON (`api`) or as a page, logging it once at the level
/// its meaning deserves: a failure of the service as an error, an outage as a warning,
/// a refusal not at all (the frame logs the status of every answer).
pub(crate) fn error_response(
    state: &AppState,
    request_id: &str,
    api: bool,
    lang: crate::i18n::Lang,
    error: &WebError,
) -> Response {
    match error {
        WebError::Unexpected(cause) => tracing::error!(cause = ?cause, "request failed"),
        WebError::Unavailable(cause) => tracing::warn!(cause = ?cause, "dependency unavailable"),
        _ => {}
    }
    if matches!(error, WebError::SignIn) && !api {
        return super::see_other("/connexion");
    }
    let meaning = error.meaning(lang);
    if api {
        let mut response = json_error(meaning.status, meaning.code, &meaning.text, request_id);
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
        title: meaning.title.clone(),
        refused: false,
        session: None,
        conformance: state.settings.accessibility.conformance,
        lang,
        bilingual: false,
    };
    let template = ErrorPage {
        chrome,
        text: meaning.text,
        status: meaning.status.as_u16(),
    };
    super::page(meaning.status, &template).unwrap_or_else(|_| {
        Response::builder()
            .status(meaning.status)
            .body(meaning.title)
    })
}
