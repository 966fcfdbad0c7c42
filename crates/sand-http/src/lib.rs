//! SAND's web adapter: the French pages of the graduate space, the verification space,
//! the catalogue and help, and the JSON API, over the domain's use cases.
//!
//! - [`app`] builds the whole endpoint from an [`AppState`];
//! - every request goes through one frame (`web.rs`): request id, client address,
//!   session, CSRF, security headers, errors as pages or JSON;
//! - sessions are server-side ([`sand_domain::ports::SessionStore`]); passwords are
//!   hashed with Argon2id off the runtime ([`hasher::Argon2Hasher`]);
//! - the layout and stylesheet (`templates/base.html`, `static/sand.css`) are the theme.

pub mod api;
mod api_types;
pub mod audit;
mod catalogue_view;
pub mod error;
pub mod error_code;
mod graduate;
pub mod hasher;
pub mod health;
pub mod i18n;
pub mod limits;
pub mod metrics;
mod oidc_login;
pub mod pages;
mod present;
pub mod staff;
pub mod state;
pub mod system;
pub mod timeouts;
pub mod tokens;
pub mod totp;
mod verifying;
pub mod wallet;
pub mod web;

use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::web::{Data, Path};
use poem::{EndpointExt, Response, Route, get, handler, post};

pub use limits::RateLimits;
pub use pages::public::DemoPerson;
pub use state::{AccessibilityStatement, AppState, Conformance, Ports, WebSettings};

#[handler]
fn well_known_keys(state: Data<&Arc<AppState>>) -> Result<Response, web::WebError> {
    let set = api::key_set(&state)?;
    let body = serde_json::json!({
        "cles": set.cles.iter().map(|k| serde_json::json!({
            "id": k.id, "algorithme": k.algorithme, "demonstration": k.demonstration, "pem": k.pem,
        })).collect::<Vec<_>>()
    });
    Ok(Response::builder()
        .content_type("application/json")
        .header("cache-control", "public, max-age=3600")
        .body(body.to_string()))
}

/// The attestation keys as a JSON Web Key Set (RFC 7517): what VC-JOSE-COSE verifiers
/// resolve a credential's `kid` with.
#[handler]
fn well_known_jwks(state: Data<&Arc<AppState>>) -> Response {
    let body = serde_json::json!({
        "keys": state.verification_keys.iter().map(sand_attestation::keys::PublicKey::jwk).collect::<Vec<_>>()
    });
    Response::builder()
        .content_type("application/jwk-set+json")
        .header("cache-control", "public, max-age=3600")
        .header("access-control-allow-origin", "*")
        .body(body.to_string())
}

/// The credential issuer's keys (SD-JWT VC issuer metadata: `issuer` and its `jwks`).
#[handler]
fn well_known_jwt_vc_issuer(state: Data<&Arc<AppState>>) -> Result<Response, web::WebError> {
    let keys = state
        .credential_keys
        .as_ref()
        .ok_or(web::WebError::NotFound)?;
    let body = serde_json::json!({
        "issuer": state.settings.public_url,
        "jwks": { "keys": [keys.jwk()] },
    });
    Ok(Response::builder()
        .content_type("application/json")
        .header("cache-control", "public, max-age=3600")
        .header("access-control-allow-origin", "*")
        .body(body.to_string()))
}

/// A Token Status List (`application/statuslist+jwt`): the revoked credentials of list
/// `list`, signed; cached by relying parties for its `ttl`.
#[handler]
async fn status_list(
    state: Data<&Arc<AppState>>,
    Path(list): Path<String>,
) -> Result<Response, web::WebError> {
    use sand_attestation::status_list::{
        STATUS_LIST_MEDIA_TYPE, STATUS_LIST_TTL_SECS, status_list_jwt,
    };
    let keys = state
        .credential_keys
        .as_ref()
        .ok_or(web::WebError::NotFound)?;
    // a list's number: digits only, as its address was written
    let number: u32 = match list.parse() {
        Ok(n) if list.len() <= 9 && list.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => return Err(web::WebError::NotFound),
    };
    let invalid = state
        .ports
        .credential_status
        .invalid_in(sand_domain::credential_status::StatusListId(number))
        .await?;
    let uri = format!("{}{STATUS_LISTS}{number}", state.settings.public_url);
    let token = status_list_jwt(&uri, &invalid, state.ports.clock.now(), keys)
        .map_err(web::WebError::unexpected)?;
    Ok(Response::builder()
        .content_type(STATUS_LIST_MEDIA_TYPE)
        .header(
            "cache-control",
            format!("public, max-age={STATUS_LIST_TTL_SECS}"),
        )
        .header("access-control-allow-origin", "*")
        .body(token))
}

/// Where recipients open share links: `/partage/{token}`.
pub const SHARE_PREFIX: &str = "/partage/";

/// Where the status lists are: `/statuts/{list}`.
pub const STATUS_LISTS: &str = "/statuts/";

/// The whole web service.
#[must_use]
pub fn app(state: Arc<AppState>) -> BoxEndpoint<'static, Response> {
    let public_url = state.settings.public_url.clone();
    Route::new()
        .nest("/", pages::routes())
        .nest("/api/v1", api::routes(&public_url))
        .at(
            "/.well-known/sand-attestation-keys.json",
            get(well_known_keys),
        )
        .at("/.well-known/jwks.json", get(well_known_jwks))
        .at("/.well-known/jwt-vc-issuer", get(well_known_jwt_vc_issuer))
        .at("/statuts/:list", get(status_list))
        .at(
            "/.well-known/openid-credential-issuer",
            get(wallet::endpoints::issuer_metadata),
        )
        .at(
            "/.well-known/oauth-authorization-server",
            get(wallet::endpoints::authorization_server_metadata),
        )
        .at(wallet::TOKEN_PATH, post(wallet::endpoints::token_endpoint))
        .at(wallet::NONCE_PATH, post(wallet::endpoints::nonce_endpoint))
        .at(
            wallet::CREDENTIAL_PATH,
            post(wallet::endpoints::credential_endpoint),
        )
        .at("/health/live", get(health::live))
        .at("/health/ready", get(health::ready))
        .around(web::frame)
        .data(state)
        .map_to_response()
        .boxed()
}
