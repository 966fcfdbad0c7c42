//! Logging out of the back office: every session of the agent ends server-side, and a
//! ProConnect session ends at ProConnect too.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Response, handler};
use sand_domain::staff::audit::AuditAction;

use super::pages::{Chrome, CsrfForm, by_agent, posted, unavailable};
use super::{Caller, StaffState, end_session_cookie, render};
use crate::web::see_other;

#[handler]
pub(super) async fn logout(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
    body: Body,
) -> Response {
    if let Err(answer) = posted::<CsrfForm>(&state, &caller, body).await {
        return *answer;
    }
    let mut response = see_other("/connexion");
    if let Some(agent) = &caller.agent {
        // every session of the agent ends here, server-side (a copied cookie dies too)
        let audit = by_agent(agent, &caller, AuditAction::Logout, String::new());
        if let Err(e) = state
            .directory
            .end_sessions(agent.id, caller.now, &audit)
            .await
        {
            tracing::error!(error = %e, "the staff directory cannot be written: logout refused");
            return unavailable(&state, &caller);
        }
        if let Some(url) = super::proconnect::end_session_url(&state, &caller).await {
            response = render(
                StatusCode::OK,
                &super::proconnect::MovingOnPage {
                    chrome: Chrome::new(&state, &caller, "Déconnexion"),
                    text: "Votre session de l'espace agents est terminée ; reste à terminer votre session ProConnect.".to_owned(),
                    to: url,
                    link: "Terminer la session ProConnect".to_owned(),
                },
            );
        }
    }
    for cookie in [
        end_session_cookie(&state),
        super::proconnect::clear_hint_cookie(&state),
    ] {
        if let Ok(v) = cookie.parse() {
            response
                .headers_mut()
                .append(poem::http::header::SET_COOKIE, v);
        }
    }
    response
}
