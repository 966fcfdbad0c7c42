//! Signing in, once the account is proven: the session, and the known-device cookie
//! that spares a browser the slowing of repeated failed logins (and, for an account
//! with a second factor, nothing: the code is still asked).

use poem::Response;
use poem::http::header;
use sand_domain::profile::ProfileId;
use sha2::{Digest, Sha256};
use time::Duration;

use crate::state::AppState;
use crate::tokens::Purpose;
use crate::web::{Visitor, WebError, device_cookie_name, see_other, set_cookie, start_session};

/// How the limits know an account: its address as typed, trimmed and lower-cased.
pub(crate) fn email_key(typed: &str) -> String {
    typed.trim().to_lowercase().chars().take(254).collect()
}

/// What the known-device cookie holds for an account: a digest of its address.
fn device_data(email_key: &str) -> String {
    hex::encode(Sha256::digest(email_key.as_bytes()))
}

/// Whether this browser signed in to the account `email_key` before.
pub(crate) fn known_device(state: &AppState, visitor: &Visitor, email_key: &str) -> bool {
    let now = state.ports.clock.now();
    visitor
        .known_device
        .as_deref()
        .and_then(|token| state.signer.open(Purpose::KnownDevice, token, "", now))
        .is_some_and(|data| data == device_data(email_key))
}

pub(crate) fn slowed_message(retry_after_secs: u64) -> String {
    format!(
        "Par sécurité, après de nombreuses tentatives infructueuses sur ce compte, une tentative n'est possible que toutes les quelques secondes depuis un appareil qui ne s'y est jamais connecté. Réessayez dans {retry_after_secs} s, ou choisissez un nouveau mot de passe avec « Mot de passe oublié »."
    )
}

/// Signed in: a new session, the known-device cookie for this account, to the page `to`
/// (the space, or the page of it asked for before signing in).
pub(crate) async fn signed_in_response(
    state: &AppState,
    visitor: &Visitor,
    profile: ProfileId,
    email_key: &str,
    to: &str,
) -> Result<Response, WebError> {
    let cookie = start_session(state, visitor, profile, None).await?;
    let expires = state.ports.clock.now() + KNOWN_DEVICE_VALID;
    let device = state
        .signer
        .sign(Purpose::KnownDevice, &device_data(email_key), "", expires);
    let mut response = see_other(to);
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        cookie.parse().map_err(WebError::unexpected)?,
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(
            state,
            device_cookie_name(state),
            &device,
            Some(KNOWN_DEVICE_VALID.whole_seconds()),
        )
        .parse()
        .map_err(WebError::unexpected)?,
    );
    Ok(response)
}

/// How long a browser stays known to an account after signing in to it.
const KNOWN_DEVICE_VALID: Duration = Duration::days(365);
