//! Server-rendered French pages. They work without JavaScript; the layout and the
//! stylesheet are the theme seam (templates/base.html, static/sand.css).

pub mod account;
mod form_errors;
pub mod franceconnect;
mod known_device;
pub mod notices;
pub mod public;
mod qr;
pub mod second_factor;
pub mod security;
pub mod sharing;
pub mod space;
pub mod wallet;

use std::sync::Arc;

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Response, Route, get, handler, post};
use sand_domain::academie::Academie;
use sand_domain::public_paths;

use crate::state::AppState;
use crate::web::{Chrome, Visitor, WebError, page};

/// A page of a few paragraphs and one link.
#[derive(Debug, Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub chrome: Chrome,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, String)>,
}

/// "Are you sure?" before something that cannot be undone.
#[derive(Debug, Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub chrome: Chrome,
    pub paragraphs: Vec<String>,
    pub action: String,
    pub button: String,
    pub cancel: String,
}

macro_rules! static_page {
    ($name:ident, $template:literal, $title:literal) => {
        #[derive(Template)]
        #[template(path = $template)]
        struct $name {
            chrome: Chrome,
        }

        impl $name {
            async fn serve(state: &AppState, visitor: &Visitor) -> Result<Response, WebError> {
                page(
                    StatusCode::OK,
                    &$name {
                        chrome: Chrome::new(state, visitor, $title),
                    },
                )
            }
        }
    };
}

static_page!(HelpPage, "help.html", "Aide");
static_page!(GuidePage, "guide.html", "Guide pas à pas");
static_page!(LegalPage, "legal.html", "Mentions légales");
static_page!(PrivacyPage, "privacy.html", "Données personnelles");

/// The accessibility statement (RGAA): status, what is known not to conform, how to
/// report a difficulty, the audit and the plan — from the operator's configuration.
#[derive(Template)]
#[template(path = "accessibility.html")]
struct AccessibilityPage {
    chrome: Chrome,
    status: &'static str,
    contact: String,
    /// `contact` is an e-mail address (else a web address).
    contact_is_email: bool,
    audit: String,
    plan: String,
}

#[handler]
async fn help(state: Data<&Arc<AppState>>, visitor: Data<&Visitor>) -> Result<Response, WebError> {
    HelpPage::serve(&state, &visitor).await
}

#[handler]
async fn guide(state: Data<&Arc<AppState>>, visitor: Data<&Visitor>) -> Result<Response, WebError> {
    GuidePage::serve(&state, &visitor).await
}

#[handler]
async fn legal(state: Data<&Arc<AppState>>, visitor: Data<&Visitor>) -> Result<Response, WebError> {
    LegalPage::serve(&state, &visitor).await
}

#[handler]
async fn privacy(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
) -> Result<Response, WebError> {
    PrivacyPage::serve(&state, &visitor).await
}

#[handler]
async fn accessibility(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
) -> Result<Response, WebError> {
    let statement = &state.settings.accessibility;
    page(
        StatusCode::OK,
        &AccessibilityPage {
            chrome: Chrome::new(&state, &visitor, "Déclaration d'accessibilité"),
            status: statement.conformance.french(),
            contact: statement.contact.clone(),
            contact_is_email: statement.contact.contains('@') && !statement.contact.contains('/'),
            audit: statement.audit.clone(),
            plan: statement.plan.clone(),
        },
    )
}

/// One académie on the exam offices page: the office that answers its graduates.
#[derive(Debug)]
struct OfficeRow {
    code: &'static str,
    academie: &'static str,
    /// Since which session a merged académie's diplomas are the new académie's.
    merged: Option<(&'static str, u16)>,
    office: String,
    /// The académies this office answers, when it answers several ("Paris, Créteil…").
    shared_with: String,
    contact: sand_domain::issuer::Contact,
    website: String,
    /// The national page, for an office with neither contact nor website.
    national: String,
}

#[derive(Template)]
#[template(path = "offices.html")]
struct OfficesPage {
    chrome: Chrome,
    offices: Vec<OfficeRow>,
    /// The national page on the usual procedure (for establishments), when known.
    national: String,
}

#[handler]
async fn offices(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
) -> Result<Response, WebError> {
    let registry = &state.settings.issuers;
    let offices = Academie::ALL
        .iter()
        .map(|&a| {
            let route = registry.route(a);
            let office = route.office;
            let website = office
                .website
                .as_ref()
                .map(|w| w.url.clone())
                .unwrap_or_default();
            let national = if office.contact.is_empty() && website.is_empty() {
                registry
                    .national()
                    .map(|w| w.url.clone())
                    .unwrap_or_default()
            } else {
                String::new()
            };
            OfficeRow {
                code: a.code(),
                academie: a.name(),
                merged: a.merged_into().map(|(into, year)| (into.name(), year)),
                office: if office.contact.service.is_empty() {
                    office.name.clone()
                } else {
                    office.contact.service.clone()
                },
                shared_with: if office.serves.len() > 1 {
                    office
                        .serves
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    String::new()
                },
                contact: office.contact.clone(),
                website,
                national,
            }
        })
        .collect();
    page(
        StatusCode::OK,
        &OfficesPage {
            chrome: Chrome::new(&state, &visitor, "Services des examens"),
            offices,
            national: registry
                .national()
                .map(|w| w.url.clone())
                .unwrap_or_default(),
        },
    )
}

const STYLESHEET: &str = include_str!("../../static/sand.css");
const FAVICON: &str = include_str!("../../static/favicon.svg");
const SESSION_SCRIPT: &str = include_str!("../../static/session.js");

#[handler]
fn session_script() -> Response {
    Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(SESSION_SCRIPT)
}

#[handler]
fn stylesheet() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(STYLESHEET)
}

#[handler]
fn favicon() -> Response {
    Response::builder()
        .content_type("image/svg+xml")
        .header(header::CACHE_CONTROL, "public, max-age=86400")
        .body(FAVICON)
}

/// Every page route. The paths that leave the service (in mails, on attestations) come
/// from the domain's [`public_paths`] table.
pub(crate) fn routes() -> Route {
    Route::new()
        .at("/", get(public::home))
        .at("/catalogue", get(public::catalogue))
        .at("/catalogue.csv", get(public::catalogue_csv))
        .at("/catalogue.json", get(public::catalogue_json))
        .at(
            public_paths::VERIFY,
            get(public::verify_form).post(public::verify_submit),
        )
        .at(
            "/verifier/fichier",
            get(public::verify_file_form).post(public::verify_file),
        )
        .at("/verifier/aide", get(public::verifier_help))
        .at("/verifier/recu", post(public::download_receipt))
        .at("/aide", get(help))
        .at("/aide/guide", get(guide))
        .at("/aide/services-examens", get(offices))
        .at("/mentions-legales", get(legal))
        .at("/confidentialite", get(privacy))
        .at("/accessibilite", get(accessibility))
        .at(
            "/compte/creer",
            get(account::register_form).post(account::register_submit),
        )
        .at("/compte/creer/confirmer", post(account::register_confirm))
        .at("/compte/creer/corriger", post(account::register_correct))
        .at(
            public_paths::CONFIRM_EMAIL,
            get(account::confirm_email).post(account::confirm_email_submit),
        )
        .at("/compte/renvoyer", post(account::resend_verification))
        .at(
            "/connexion",
            get(account::login_form).post(account::login_submit),
        )
        .at("/connexion/franceconnect", get(franceconnect::start))
        .at(
            "/connexion/franceconnect/retour",
            get(franceconnect::callback),
        )
        .at("/deconnexion", post(account::logout))
        .at(
            "/mot-de-passe-oublie",
            get(account::forgot_form).post(account::forgot_submit),
        )
        .at(public_paths::RESET_PASSWORD, get(account::reset_form))
        .at("/mot-de-passe/nouveau", post(account::reset_submit))
        .at(public_paths::SPACE, get(space::dashboard))
        .at("/espace/diplomes", post(space::attach))
        .at(
            "/espace/diplomes/:id/cle",
            get(space::renew_key_confirm).post(space::renew_key),
        )
        .at(
            "/espace/diplomes/:id/supprimer",
            get(space::detach_confirm).post(space::detach),
        )
        .at("/espace/diplomes/:id/attestation.pdf", get(space::download))
        .at(
            "/espace/diplomes/:id/attestation.vc.jwt",
            get(space::download_credential),
        )
        .at(
            "/espace/diplomes/:id/partages",
            get(sharing::list).post(sharing::create),
        )
        .at(
            "/espace/diplomes/:id/partages/:share/revoquer",
            post(sharing::revoke),
        )
        .at("/partage/:token", get(sharing::open))
        .at(
            "/espace/diplomes/:id/portefeuille",
            get(wallet::show).post(wallet::make_offer),
        )
        .at(public_paths::PROFILE, get(space::profile_page))
        .at(
            "/espace/profil/mot-de-passe",
            get(security::password_form).post(security::password_submit),
        )
        .at(
            "/espace/profil/double-authentification",
            get(second_factor::settings).post(second_factor::enrol),
        )
        .at(
            "/espace/profil/double-authentification/desactiver",
            post(second_factor::disable),
        )
        .at(
            "/connexion/code",
            get(second_factor::code_form).post(second_factor::code_submit),
        )
        .at("/espace/profil/notifications", post(notices::choose))
        .at(
            public_paths::STOP_VERIFICATION_NOTICES,
            get(notices::stop_page).post(notices::stop),
        )
        .at("/espace/sessions/fermer", post(security::end_one))
        .at("/espace/sessions/fermer-autres", post(security::end_others))
        .at(
            "/espace/profil/supprimer",
            get(space::delete_profile_confirm).post(space::delete_profile),
        )
        .at("/static/sand.css", get(stylesheet))
        .at("/static/session.js", get(session_script))
        .at("/espace/session", get(security::extend_session))
        .at("/static/favicon.svg", get(favicon))
        .at("/favicon.ico", get(favicon))
}
