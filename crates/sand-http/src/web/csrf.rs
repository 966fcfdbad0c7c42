//! Cross-site request forgery, refused for every page route by construction: the frame
//! reads the CSRF token of every unsafe request's form before routing, so no handler
//! runs on a forged form and none can forget the check. The token is bound to the
//! session (or, before login, to a random seed in its own cookie). The API has its own
//! rule: its unsafe operations take a JSON body, which no cross-site form can send
//! without a CORS preflight that this service never grants.

use poem::Request;
use poem::http::Method;

use crate::audit::{SecurityEvent, Subject};
use crate::error::WebError;
use crate::state::AppState;
use crate::system::random_token;

use super::session::{SignedIn, Visitor, cookie_value, set_cookie};

const CSRF_COOKIE: &str = "sand-csrf";
const CSRF_COOKIE_SECURE: &str = "__Host-sand-csrf";

fn csrf_cookie_name(state: &AppState) -> &'static str {
    if state.settings.secure {
        CSRF_COOKIE_SECURE
    } else {
        CSRF_COOKIE
    }
}

/// The page form that uploads a document (`multipart/form-data`): the router's
/// `/verifier/fichier` (a test uploads a document larger than any other form may be).
const FILE_CHECK_PAGE: &str = "/verifier/fichier";
/// What a multipart form adds to its document: boundaries, part headers, small fields.
const MULTIPART_OVERHEAD: usize = 16 * 1024;

/// The `csrf` field of a `multipart/form-data` body (empty when there is none or the
/// body is not well formed: the token is then refused). Parts are read in order; the
/// page puts the token first, so a document is not read before it is checked.
async fn multipart_csrf(body: bytes::Bytes, boundary: String) -> String {
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = parts.next_field().await {
        if field.name() == Some("csrf") {
            return field.text().await.unwrap_or_default();
        }
    }
    String::new()
}

/// The one field the frame reads of a form: its CSRF token.
#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// The seed the visitor's CSRF tokens are bound to: the session's digest once signed
/// in, else the seed cookie's value (a new one is set when there is none).
pub(super) fn seed(
    state: &AppState,
    jar: &[cookie::Cookie<'static>],
    signed_in: Option<&SignedIn>,
    set_cookies: &mut Vec<String>,
) -> String {
    if let Some(s) = signed_in {
        return s.digest.clone();
    }
    if let Some(seed) = cookie_value(jar, csrf_cookie_name(state)).filter(|v| v.len() == 64) {
        return seed;
    }
    let seed = random_token();
    set_cookies.push(set_cookie(state, csrf_cookie_name(state), &seed, None));
    seed
}

/// Whether the request's method changes anything (and so must prove its origin).
pub(super) fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Checks the CSRF token of a page form (the body is read, bounded, and put back for
/// the handler). A wrong or missing token is recorded as a security event.
///
/// # Errors
/// [`WebError::Csrf`], or [`WebError::TooLarge`] / [`WebError::BadRequest`] for a body
/// that cannot be read.
pub(super) async fn check_form(
    state: &AppState,
    visitor: &Visitor,
    req: &mut Request,
) -> Result<(), WebError> {
    // the one page form that uploads a document may be as large as one, and a little more
    let limit = if req.uri().path() == FILE_CHECK_PAGE {
        state.settings.max_pdf_bytes + MULTIPART_OVERHEAD
    } else {
        state.settings.max_body_bytes
    };
    let multipart = req
        .headers()
        .get(poem::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok());
    let body = req
        .take_body()
        .into_bytes_limit(limit)
        .await
        .map_err(|e| match e {
            poem::error::ReadBodyError::PayloadTooLarge => WebError::TooLarge,
            _ => WebError::BadRequest,
        })?;
    let token = match multipart {
        Some(boundary) => multipart_csrf(body.clone(), boundary).await,
        None => serde_urlencoded::from_bytes::<CsrfField>(&body)
            .map(|f| f.csrf)
            .unwrap_or_default(),
    };
    if !state.signer.check_csrf(&visitor.csrf_seed, &token) {
        crate::audit::record(state, visitor, SecurityEvent::CsrfRefused, Subject::Visitor);
        return Err(WebError::Csrf);
    }
    req.set_body(body);
    Ok(())
}
