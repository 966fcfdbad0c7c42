//! Login through ProConnect, the State agents' identity federation: ProConnect proves who
//! the agent is, SAND's staff directory (by professional address) decides what they may
//! do ([`admit`]).
//!
//! - `/proconnect/connexion` redirects to ProConnect; the login in progress (state, nonce,
//!   PKCE verifier) travels in a signed, HttpOnly cookie, SameSite=Lax (it must come back
//!   from ProConnect), valid ten minutes, cleared at the callback;
//! - `/proconnect/retour` checks the answer (the adapter checks the tokens), admits the
//!   agent or says why not, and audits either; the session cookie is SameSite=Strict, so
//!   the success page moves on to the home page by a same-site refresh (a Strict cookie
//!   is not sent on the redirect chain that started at ProConnect);
//! - a logout of a ProConnect session ends SAND's sessions, then ProConnect's (by a page
//!   that refreshes to its end-session URL: a form's redirect to another origin would
//!   break the `form-action 'self'` policy), and `/proconnect/deconnexion` checks the
//!   `state` ProConnect brings back.

use std::sync::Arc;

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Query};
use poem::{Response, handler};
use sand_domain::ports::IdentityProviderError;
use sand_domain::staff::audit::{AuditAction, NewAuditEntry};
use sand_domain::staff::sign_in::{AgentRefusal, ProvenAgent, admit};
use serde::Deserialize;
use time::Duration;

use super::pages::{Chrome, by_agent, message, unavailable};
use super::{
    Caller, HINT_COOKIE, HINT_COOKIE_SECURE, PENDING_COOKIE, PENDING_COOKIE_SECURE, StaffState,
    cookie_name, render, session_cookie, set_cookie, set_cookie_with,
};
use crate::oidc_login::{CallbackQuery, open_pending, seal_pending};
use crate::tokens::Purpose;
use crate::web::see_other;

const PENDING_VALID: Duration = Duration::minutes(10);

/// A page that moves on to `to` by itself (and by its link, for who disabled refresh).
#[derive(Template)]
#[template(path = "staff/moving_on.html")]
pub(super) struct MovingOnPage {
    pub chrome: Chrome,
    pub text: String,
    pub to: String,
    pub link: String,
}

fn not_offered(state: &StaffState, caller: &Caller) -> Response {
    message(
        state,
        caller,
        StatusCode::NOT_FOUND,
        "Introuvable",
        "La connexion avec ProConnect n'est pas proposée par ce service.",
    )
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(v) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

fn clear_pending(state: &StaffState, response: Response) -> Response {
    let name = cookie_name(state, PENDING_COOKIE, PENDING_COOKIE_SECURE);
    with_cookie(response, &set_cookie_with(state, name, "", Some(0), "Lax"))
}

#[handler]
pub(super) async fn start(state: Data<&Arc<StaffState>>, caller: Data<&Caller>) -> Response {
    let Some(proconnect) = &state.proconnect else {
        return not_offered(&state, &caller);
    };
    let request = match proconnect.begin().await {
        Ok(request) => request,
        Err(e) => {
            tracing::warn!(error = %e, "ProConnect cannot be reached");
            return message(
                &state,
                &caller,
                StatusCode::SERVICE_UNAVAILABLE,
                "ProConnect indisponible",
                "ProConnect ne répond pas pour l'instant. Réessayez dans quelques minutes.",
            );
        }
    };
    let Some(value) = seal_pending(
        &state.signer,
        Purpose::StaffProConnectLogin,
        request.pending,
        caller.now + PENDING_VALID,
    ) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into();
    };
    let name = cookie_name(&state, PENDING_COOKIE, PENDING_COOKIE_SECURE);
    with_cookie(
        see_other(&request.url),
        &set_cookie_with(
            &state,
            name,
            &value,
            Some(PENDING_VALID.whole_seconds()),
            "Lax",
        ),
    )
}

fn refused(
    state: &StaffState,
    caller: &Caller,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    clear_pending(state, message(state, caller, status, title, text))
}

#[handler]
pub(super) async fn callback(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
    req: &poem::Request,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(proconnect) = &state.proconnect else {
        return not_offered(&state, &caller);
    };
    let name = cookie_name(&state, PENDING_COOKIE, PENDING_COOKIE_SECURE);
    let pending = super::read_cookie(req, name).and_then(|token| {
        open_pending(
            &state.signer,
            Purpose::StaffProConnectLogin,
            &token,
            caller.now,
        )
    });
    let Some(pending) = pending else {
        return refused(
            &state,
            &caller,
            StatusCode::BAD_REQUEST,
            "Connexion expirée",
            "Cette connexion ProConnect a expiré ou n'a pas été commencée dans ce navigateur. Recommencez-la depuis la page de connexion.",
        );
    };
    let Some(params) = q.params() else {
        return refused(
            &state,
            &caller,
            StatusCode::BAD_REQUEST,
            "Connexion refusée",
            "La réponse de ProConnect est incomplète. Recommencez la connexion.",
        );
    };
    let proven = match proconnect.complete(pending, params).await {
        Ok(proven) => proven,
        Err(e) => return provider_failure(&state, &caller, &e),
    };
    let member = match state.directory.find_by_email(&proven.email).await {
        Ok(member) => member,
        Err(e) => {
            tracing::error!(error = %e, "the staff directory cannot be read");
            return clear_pending(&state, unavailable(&state, &caller));
        }
    };
    let known = member.clone();
    match admit(member, &proven, state.settings.second_factor_required) {
        Ok(member) => {
            let entry = login_entry(&caller, &member, AuditAction::Login, &proven, None);
            if let Err(e) = state.audit.append(&entry).await {
                tracing::error!(error = %e, "the audit log cannot be written: login refused");
                return clear_pending(&state, unavailable(&state, &caller));
            }
            tracing::info!(target: "sand::security", event = "staff_login", login = %member.login, method = "proconnect", idp = proven.idp_id.as_deref().unwrap_or(""));
            let response = render(
                StatusCode::OK,
                &MovingOnPage {
                    chrome: Chrome::new(&state, &caller, "Connexion réussie"),
                    text: format!("Vous êtes connecté(e) en tant que {}.", member.name),
                    to: "/".to_owned(),
                    link: "Continuer vers l'espace agents".to_owned(),
                },
            );
            let response = with_cookie(
                response,
                &session_cookie(&state, &member.login, caller.now, caller.now),
            );
            let hint = state.signer.sign(
                Purpose::StaffProConnectHint,
                &hex::encode(&proven.id_token_hint),
                "",
                caller.now + state.settings.absolute,
            );
            let hint_name = cookie_name(&state, HINT_COOKIE, HINT_COOKIE_SECURE);
            clear_pending(
                &state,
                with_cookie(response, &set_cookie(&state, hint_name, &hint, None)),
            )
        }
        Err(refusal) => {
            tracing::info!(target: "sand::security", event = "staff_login_refused", method = "proconnect", reason = refusal.code(), idp = proven.idp_id.as_deref().unwrap_or(""), client = %caller.client);
            if let Some(member) = known {
                let entry = login_entry(
                    &caller,
                    &member,
                    AuditAction::LoginRefused,
                    &proven,
                    Some(refusal),
                );
                if let Err(e) = state.audit.append(&entry).await {
                    tracing::error!(error = %e, "the audit log cannot be written");
                }
            }
            let (title, text) = refusal_text(refusal);
            refused(&state, &caller, StatusCode::FORBIDDEN, title, text)
        }
    }
}

/// The audit row of a ProConnect login: who, how (which identity provider, which
/// methods), or why it was refused. Ids and codes only.
fn login_entry(
    caller: &Caller,
    member: &sand_domain::staff::StaffMember,
    action: AuditAction,
    proven: &ProvenAgent,
    refusal: Option<AgentRefusal>,
) -> NewAuditEntry {
    let mut detail = format!(
        "ProConnect ({}, {})",
        proven
            .idp_id
            .as_deref()
            .unwrap_or("fournisseur non précisé"),
        if proven.methods.is_empty() {
            "méthodes non précisées".to_owned()
        } else {
            proven.methods.join("+")
        }
    );
    if let Some(refusal) = refusal {
        detail = format!("{detail} : {}", refusal.code());
    }
    by_agent(member, caller, action, detail)
}

fn refusal_text(refusal: AgentRefusal) -> (&'static str, &'static str) {
    match refusal {
        AgentRefusal::Unknown => (
            "Accès non ouvert",
            "ProConnect a confirmé votre identité, mais votre adresse professionnelle n'ouvre aucun accès à cet espace. Demandez à l'administrateur de l'espace agents de votre service de vous ajouter.",
        ),
        AgentRefusal::Closed => (
            "Compte fermé",
            "Votre accès à l'espace agents a été fermé. Adressez-vous à l'administrateur de l'espace agents de votre service.",
        ),
        AgentRefusal::NoEstablishment => (
            "Établissement non transmis",
            "ProConnect n'a pas transmis l'établissement (SIRET) de votre employeur : l'accès est refusé par prudence. Vérifiez votre compte auprès de votre fournisseur d'identité, ou adressez-vous à l'administrateur de l'espace agents.",
        ),
        AgentRefusal::OtherEstablishment => (
            "Établissement différent",
            "L'établissement transmis par ProConnect n'est pas celui enregistré pour votre accès. Adressez-vous à l'administrateur de l'espace agents.",
        ),
        AgentRefusal::SecondFactorMissing => (
            "Double authentification requise",
            "Votre rôle donne accès à des données personnelles : la connexion doit utiliser une double authentification (mot de passe et code, ou clé de sécurité). Reconnectez-vous à ProConnect avec un second facteur, ou activez-le auprès de votre fournisseur d'identité.",
        ),
    }
}

fn provider_failure(state: &StaffState, caller: &Caller, e: &IdentityProviderError) -> Response {
    let (status, title, text) = match e {
        IdentityProviderError::Cancelled => (
            StatusCode::OK,
            "Connexion annulée",
            "Vous avez annulé la connexion avec ProConnect. Vous pouvez réessayer.",
        ),
        IdentityProviderError::StateMismatch => (
            StatusCode::BAD_REQUEST,
            "Connexion refusée",
            "La réponse de ProConnect ne correspond pas à la connexion commencée dans ce navigateur. Recommencez la connexion.",
        ),
        IdentityProviderError::CodeRejected => (
            StatusCode::BAD_REQUEST,
            "Connexion expirée",
            "ProConnect n'a pas confirmé cette connexion (lien expiré ou déjà utilisé). Recommencez la connexion.",
        ),
        IdentityProviderError::InvalidResponse(_) => (
            StatusCode::BAD_GATEWAY,
            "Connexion refusée",
            "La réponse de ProConnect n'a pas passé nos contrôles de sécurité ; par prudence, la connexion est refusée. Réessayez plus tard.",
        ),
        IdentityProviderError::IncompleteIdentity => (
            StatusCode::FORBIDDEN,
            "Identité incomplète",
            "ProConnect n'a pas transmis d'adresse professionnelle utilisable : l'accès ne peut pas être vérifié.",
        ),
        IdentityProviderError::Port(p) if p.is_unavailable() => (
            StatusCode::SERVICE_UNAVAILABLE,
            "ProConnect indisponible",
            "ProConnect ne répond pas pour l'instant. Réessayez dans quelques minutes.",
        ),
        IdentityProviderError::Port(_) => (
            StatusCode::BAD_GATEWAY,
            "Connexion impossible",
            "La connexion avec ProConnect a échoué. Réessayez dans quelques minutes.",
        ),
    };
    if matches!(e, IdentityProviderError::Cancelled) {
        tracing::info!("ProConnect login cancelled");
    } else {
        tracing::warn!(error = %crate::error::error_chain(e), "ProConnect login failed");
    }
    refused(state, caller, status, title, text)
}

/// After a logout of a ProConnect session: ProConnect's end-session URL, with a signed
/// `state` checked on the way back; `None` when ProConnect cannot say it.
pub(super) async fn end_session_url(state: &StaffState, caller: &Caller) -> Option<String> {
    let proconnect = state.proconnect.as_ref()?;
    let hint = caller.proconnect_hint.as_deref()?;
    let nonce = crate::system::random_token();
    let logout_state = state.signer.sign(
        Purpose::StaffProConnectLogout,
        &nonce,
        "",
        caller.now + PENDING_VALID,
    );
    match proconnect.logout_url(hint, &logout_state).await {
        Ok(url) => Some(url),
        Err(e) => {
            tracing::warn!(error = %e, "the ProConnect logout URL cannot be made: SAND's session ended alone");
            None
        }
    }
}

/// The cookie that forgets the ProConnect id_token.
pub(super) fn clear_hint_cookie(state: &StaffState) -> String {
    set_cookie(
        state,
        cookie_name(state, HINT_COOKIE, HINT_COOKIE_SECURE),
        "",
        Some(0),
    )
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct LoggedOutQuery {
    state: Option<String>,
}

#[handler]
pub(super) async fn logged_out(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
    Query(q): Query<LoggedOutQuery>,
) -> Response {
    let ours = q.state.as_deref().is_some_and(|s| {
        state
            .signer
            .open(Purpose::StaffProConnectLogout, s, "", caller.now)
            .is_some()
    });
    if ours {
        message(
            &state,
            &caller,
            StatusCode::OK,
            "Vous êtes déconnecté(e)",
            "Votre session de l'espace agents et votre session ProConnect sont terminées.",
        )
    } else {
        see_other("/connexion")
    }
}
