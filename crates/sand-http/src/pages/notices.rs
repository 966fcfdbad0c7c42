//! The "your attestation was verified" mails: the holder's choice in their profile, and
//! the stop link each mail carries — a page with one button, and the one-click stop mail
//! clients send by `POST` (RFC 8058). The link's token is the authority: the frame asks
//! no CSRF token at its address, and no session is needed.

use std::sync::Arc;

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Response, handler};
use sand_domain::profile::notices::Stopped;
use sand_domain::public_paths;
use serde::Deserialize;

use super::MessagePage;
use super::account::TokenQuery;
use crate::state::AppState;
use crate::web::{Chrome, PageForm, SignedIn, Visitor, WebError, page, see_other};

/// Where the profile page shows the choice.
pub(crate) const CHOICE_ANCHOR: &str = "verifications";

#[derive(Debug, Default, Deserialize)]
pub struct ChoiceForm {
    #[serde(default)]
    prevenir: String,
}

/// The holder's choice, from the profile page: `prevenir=oui` or `prevenir=non`.
#[handler]
pub async fn choose(
    state: Data<&Arc<AppState>>,
    signed_in: SignedIn,
    PageForm(form): PageForm<ChoiceForm>,
) -> Result<Response, WebError> {
    let (on, said) = match form.prevenir.as_str() {
        "oui" => (true, "prevenu"),
        "non" => (false, "plus-prevenu"),
        _ => return Err(WebError::BadRequest),
    };
    if !state.notices.choose(signed_in.profile, on).await? {
        // the profile was deleted in another tab
        return Err(WebError::SignIn);
    }
    Ok(see_other(&format!(
        "{}?avis={said}#{CHOICE_ANCHOR}",
        public_paths::PROFILE
    )))
}

/// What the profile page says after a choice: its title and its sentence.
pub(crate) fn choice_notice(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "prevenu" => (
            "Vous serez prévenu des vérifications",
            "C'est noté : vous recevrez un e-mail à chaque vérification d'une de vos attestations.",
        ),
        "plus-prevenu" => (
            "Vous ne serez plus prévenu des vérifications",
            "C'est noté : vous ne recevrez plus d'e-mail quand vos attestations sont vérifiées. La liste des vérifications reste dans votre espace.",
        ),
        _ => return None,
    })
}

#[derive(Template)]
#[template(path = "notices_stop.html")]
struct StopPage {
    chrome: Chrome,
    email: String,
    action: String,
}

fn stop_action(token: &str) -> String {
    let query = serde_urlencoded::to_string([(public_paths::TOKEN, token)]).unwrap_or_default();
    format!("{}?{query}", public_paths::STOP_VERIFICATION_NOTICES)
}

fn invalid_stop_link(state: &AppState, visitor: &Visitor) -> Result<Response, WebError> {
    page(
        StatusCode::BAD_REQUEST,
        &MessagePage {
            chrome: Chrome::new(state, visitor, "Lien invalide ou expiré"),
            paragraphs: vec![
                "Ce lien pour ne plus être prévenu des vérifications n'est pas valide : il a expiré (il sert un an), l'adresse e-mail du profil a changé, ou il a été mal copié.".to_owned(),
                "Connectez-vous : le choix d'être prévenu ou non se trouve dans votre profil.".to_owned(),
            ],
            link: Some((
                format!("{}#{CHOICE_ANCHOR}", public_paths::PROFILE),
                "Choisir dans mon profil".to_owned(),
            )),
        },
    )
}

fn stopped_page(state: &AppState, visitor: &Visitor, already: bool) -> Result<Response, WebError> {
    page(
        StatusCode::OK,
        &MessagePage {
            chrome: Chrome::new(
                state,
                visitor,
                if already {
                    "Vous n'êtes déjà plus prévenu des vérifications"
                } else {
                    "Vous ne serez plus prévenu des vérifications"
                },
            ),
            paragraphs: vec![
                "Vous ne recevrez plus d'e-mail quand vos attestations sont vérifiées.".to_owned(),
                "La liste des vérifications reste dans votre espace, où vous pouvez aussi demander de nouveau à être prévenu.".to_owned(),
            ],
            link: Some((
                format!("{}#{CHOICE_ANCHOR}", public_paths::PROFILE),
                "Mon profil".to_owned(),
            )),
        },
    )
}

/// The stop link's page: what it stops, and one button (a link followed by a mail
/// scanner stops nothing).
#[handler]
pub async fn stop_page(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let Some(profile) = state.notices.stop_target(&q.jeton).await? else {
        return invalid_stop_link(&state, &visitor);
    };
    if !profile.notify_on_verification {
        return stopped_page(&state, &visitor, true);
    }
    page(
        StatusCode::OK,
        &StopPage {
            chrome: Chrome::new(&state, &visitor, "Ne plus être prévenu des vérifications ?"),
            email: profile.email.to_string(),
            action: stop_action(&q.jeton),
        },
    )
}

/// The stop itself: from the page's button, or posted by a mail client (RFC 8058 sends
/// `List-Unsubscribe=One-Click` as the body; nothing of the body is needed).
#[handler]
pub async fn stop(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    match state.notices.stop(&q.jeton).await? {
        Stopped::Stopped(_) => stopped_page(&state, &visitor, false),
        Stopped::NotValid => invalid_stop_link(&state, &visitor),
    }
}
