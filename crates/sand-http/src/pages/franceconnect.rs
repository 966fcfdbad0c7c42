//! Login with FranceConnect: the redirect out, the callback, and a French page for each
//! way it can fail. The login in progress (state, nonce, PKCE verifier) travels in a
//! signed, HttpOnly, SameSite=Lax cookie valid ten minutes and cleared at the callback.

use std::sync::Arc;

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Query};
use poem::{Response, handler};
use sand_domain::ports::IdentityProviderError;
use sand_domain::profile::sign_in::{FranceConnectSignIn, FranceConnectSignInError};
use time::Duration;

use crate::audit::{self, SecurityEvent, Subject};
use crate::oidc_login::{CallbackQuery, open_pending, seal_pending};
use crate::state::AppState;
use crate::tokens::Purpose;
use crate::web::{
    Chrome, Visitor, WebError, fc_cookie_name, page, see_other, set_cookie, start_session,
};

const PENDING_VALID: Duration = Duration::minutes(10);

#[derive(Template)]
#[template(path = "fc_error.html")]
struct FranceConnectErrorPage {
    chrome: Chrome,
    text: &'static str,
}

fn failure(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    title: &str,
    text: &'static str,
) -> Result<Response, WebError> {
    let mut response = page(
        status,
        &FranceConnectErrorPage {
            chrome: Chrome::new(state, visitor, title),
            text,
        },
    )?;
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, fc_cookie_name(state), "", Some(0))
            .parse()
            .map_err(WebError::unexpected)?,
    );
    Ok(response)
}

#[handler]
pub async fn start(state: Data<&Arc<AppState>>) -> Result<Response, WebError> {
    let Some(fc) = &state.ports.franceconnect else {
        return Err(WebError::NotFound);
    };
    let request = fc.begin().await?;
    let expires = state.ports.clock.now() + PENDING_VALID;
    let value = seal_pending(
        &state.signer,
        Purpose::FranceConnectLogin,
        request.pending,
        expires,
    )
    .ok_or_else(|| WebError::unexpected("the login in progress cannot be sealed"))?;
    let mut response = see_other(&request.url);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            &state,
            fc_cookie_name(&state),
            &value,
            Some(PENDING_VALID.whole_seconds()),
        )
        .parse()
        .map_err(WebError::unexpected)?,
    );
    Ok(response)
}

#[handler]
pub async fn callback(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, WebError> {
    let Some(fc) = &state.ports.franceconnect else {
        return Err(WebError::NotFound);
    };
    let now = state.ports.clock.now();
    let pending = visitor
        .franceconnect_pending
        .as_deref()
        .and_then(|v| open_pending(&state.signer, Purpose::FranceConnectLogin, v, now));
    let Some(pending) = pending else {
        return failure(
            &state,
            &visitor,
            StatusCode::BAD_REQUEST,
            "Connexion expirée",
            "Cette connexion FranceConnect a expiré ou n'a pas été commencée dans ce navigateur. Recommencez-la.",
        );
    };
    let Some(params) = q.params() else {
        return Err(WebError::BadRequest);
    };
    let certified = match fc.complete(pending, params).await {
        Ok(identity) => identity,
        Err(e) => {
            let (status, title, text) = match &e {
                IdentityProviderError::Cancelled => (
                    StatusCode::OK,
                    "Connexion annulée",
                    "Vous avez annulé la connexion avec FranceConnect. Vous pouvez réessayer, ou vous connecter avec votre adresse e-mail.",
                ),
                IdentityProviderError::StateMismatch => (
                    StatusCode::BAD_REQUEST,
                    "Connexion refusée",
                    "La réponse de FranceConnect ne correspond pas à la connexion commencée dans ce navigateur. Recommencez la connexion.",
                ),
                IdentityProviderError::CodeRejected => (
                    StatusCode::BAD_REQUEST,
                    "Connexion expirée",
                    "FranceConnect n'a pas confirmé cette connexion (lien expiré ou déjà utilisé). Recommencez la connexion.",
                ),
                IdentityProviderError::InvalidResponse(_) => (
                    StatusCode::BAD_GATEWAY,
                    "Connexion refusée",
                    "La réponse de FranceConnect n'a pas passé nos contrôles de sécurité ; par prudence, la connexion est refusée. Réessayez plus tard.",
                ),
                IdentityProviderError::IncompleteIdentity => (
                    StatusCode::OK,
                    "Identité incomplète",
                    "FranceConnect ne nous a pas transmis toute votre identité (nom de naissance, prénoms, date de naissance). Créez plutôt un profil avec votre adresse e-mail.",
                ),
                IdentityProviderError::Port(p) if p.is_unavailable() => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "FranceConnect indisponible",
                    "FranceConnect ne répond pas pour l'instant. Réessayez dans quelques minutes, ou connectez-vous avec votre adresse e-mail.",
                ),
                IdentityProviderError::Port(_) => (
                    StatusCode::BAD_GATEWAY,
                    "Connexion impossible",
                    "La connexion avec FranceConnect a échoué. Réessayez dans quelques minutes.",
                ),
            };
            tracing::info!(error = %crate::error::error_chain(&e), "FranceConnect login failed");
            audit::record(
                &state,
                &visitor,
                SecurityEvent::FranceConnectLoginFailed,
                Subject::Visitor,
            );
            return failure(&state, &visitor, status, title, text);
        }
    };
    let hint = certified.id_token_hint.clone();
    let signed = match state.sign_in_franceconnect.execute(certified).await {
        Ok(signed) => signed,
        Err(FranceConnectSignInError::EmailMissing) => {
            return failure(
                &state,
                &visitor,
                StatusCode::OK,
                "Adresse e-mail manquante",
                "FranceConnect ne nous a pas transmis d'adresse e-mail ; elle est nécessaire pour créer votre profil. Autorisez sa transmission, ou créez un profil avec votre adresse e-mail.",
            );
        }
        Err(FranceConnectSignInError::EmailUsedByPasswordProfile) => {
            return failure(
                &state,
                &visitor,
                StatusCode::OK,
                "Adresse déjà utilisée",
                "L'adresse e-mail de votre compte FranceConnect est déjà celle d'un profil créé avec un mot de passe. Connectez-vous avec ce mot de passe, ou supprimez ce profil pour utiliser FranceConnect.",
            );
        }
        Err(FranceConnectSignInError::Unexpected(e)) => return Err(e.into()),
    };
    if let FranceConnectSignIn::Created(p) = &signed {
        tracing::info!(profile = %p.id.0, "profile created from FranceConnect");
    }
    audit::record(
        &state,
        &visitor,
        SecurityEvent::FranceConnectLoginSucceeded,
        Subject::Profile(signed.profile().id),
    );
    let cookie = start_session(&state, &visitor, signed.profile().id, Some(hint)).await?;
    let mut response = see_other("/espace");
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        cookie.parse().map_err(WebError::unexpected)?,
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(&state, fc_cookie_name(&state), "", Some(0))
            .parse()
            .map_err(WebError::unexpected)?,
    );
    Ok(response)
}
