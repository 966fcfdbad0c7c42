//! The graduate's space: their diplomas, attaching, keys, attestations, their profile.

use std::sync::Arc;

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{Response, handler};
use sand_attestation::french_date;
use sand_domain::academie::Academie;
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Session, SessionError};
use sand_domain::issuer::IssuerRegistry;
use sand_domain::link::LinkState;
use sand_domain::link::attach::AttachOutcome;
use sand_domain::link::list::MyDiploma;
use sand_domain::profile::{LoginMethod, Profile};
use sand_domain::sharing::ShareState;
use sand_domain::text::{french_day, french_moment};
use serde::Deserialize;

use super::{ConfirmPage, MessagePage};
use crate::graduate;
use crate::present::{before_coverage_text, step_text};
use crate::state::AppState;
use crate::web::{
    Chrome, FormErrors, PageForm, SignedIn, Visitor, WebError, attachment, clear_session_cookie,
    link_id, page, see_other,
};

/// One attached diploma as the dashboard shows it.
#[derive(Debug, Clone)]
pub struct DashboardDiploma {
    pub id: String,
    pub title: String,
    pub session: String,
    pub academie: String,
    /// The issuer that holds the result.
    pub issuer: String,
    pub speciality: String,
    pub mention: String,
    pub key: String,
    pub key_since: String,
    pub withdrawn: bool,
    pub withdrawn_on: String,
    pub verifications: Vec<(String, String)>,
    /// Its share links that open today.
    pub live_shares: usize,
}

impl DashboardDiploma {
    fn of(d: &MyDiploma, issuers: &IssuerRegistry) -> Self {
        let (withdrawn, withdrawn_on) = match d.link.state {
            LinkState::Active => (false, String::new()),
            LinkState::Withdrawn { at } => (true, french_day(at)),
        };
        let mut verifications: Vec<_> = d
            .verifications
            .iter()
            .map(|v| {
                let when = french_moment(v.at);
                let who = match (&v.share, &v.organisation) {
                    (Some(label), _) => format!("par le lien de partage « {label} »"),
                    (None, Some(organisation)) => organisation.to_string(),
                    (None, None) => String::new(),
                };
                (when, who)
            })
            .collect();
        verifications.reverse();
        Self {
            id: d.link.id.0.to_string(),
            title: d.record.scope.kind.title().to_owned(),
            session: d.record.scope.session.to_string(),
            academie: d.record.scope.academie.name().to_owned(),
            issuer: issuers.get(d.record.source.exam_office.code()).map_or_else(
                || d.record.source.exam_office.code().to_owned(),
                |i| i.name.clone(),
            ),
            speciality: d
                .record
                .award
                .speciality
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            mention: d
                .record
                .award
                .mention
                .map(|m| m.label().to_owned())
                .unwrap_or_default(),
            key: d.link.key.grouped(),
            key_since: french_day(d.link.key_issued_at),
            withdrawn,
            withdrawn_on,
            verifications,
            live_shares: 0,
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    holder: String,
    certified: bool,
    notice: Option<&'static str>,
    diplomas: Vec<DashboardDiploma>,
    /// Whether the wallet credentials are offered.
    wallet: bool,
    /// Diplomas a certified claimant took: (title, session, académie, anchor of the
    /// académie's exam office, date).
    /// (title, session, académie, académie code, day, released by the exam office)
    taken_away: Vec<(String, u16, String, String, String, bool)>,
    errors: FormErrors,
    /// Step 1: the académies the catalogue holds, (code, name, chosen).
    academies: Vec<(&'static str, &'static str, bool)>,
    /// Step 2, once an académie is chosen: it, and what the catalogue holds for it.
    chosen: Option<ChosenAcademie>,
}

/// The attach form's second step: one académie's diplomas and sessions, as they exist.
struct ChosenAcademie {
    code: &'static str,
    name: String,
    /// (value `KIND:YEAR`, "Baccalauréat général — session 2021"), newest first.
    offers: Vec<(String, String)>,
    /// The office that holds the académie's results, for a diploma not in the list.
    office: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    avis: String,
    /// The académie chosen at the attach form's first step.
    #[serde(default)]
    academie: String,
}

/// What the space says after an action: a short title (the page's title says it first,
/// so a screen reader announces it on arrival) and the sentence on the page.
fn notice_text(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "rattache" => (
            "Diplôme rattaché",
            "Diplôme rattaché. Téléchargez son attestation et transmettez sa clé de contrôle à qui doit la vérifier.",
        ),
        "deja" => (
            "Diplôme déjà rattaché",
            "Ce diplôme est déjà rattaché à votre profil.",
        ),
        "cle" => (
            "Nouvelle clé créée",
            "Nouvelle clé de contrôle créée : l'ancienne ne fonctionne plus. Téléchargez de nouveau l'attestation pour qu'elle porte la nouvelle clé.",
        ),
        "supprime" => (
            "Attestation supprimée",
            "Attestation supprimée de votre espace : sa clé ne fonctionne plus. Le résultat reste enregistré par le service des examens.",
        ),
        _ => return None,
    })
}

async fn current_profile(state: &AppState, signed_in: &SignedIn) -> Result<Profile, WebError> {
    // a profile deleted in another tab leaves a session without a profile: log in again
    state
        .ports
        .profiles
        .get(signed_in.profile)
        .await?
        .ok_or(WebError::SignIn)
}

/// The attach form's choices, from the catalogue: the académies it holds and, for the
/// chosen one, exactly the (diploma, session) pairs that exist there — a graduate picks
/// among what can be attached rather than among every combination.
async fn attach_choices(
    state: &AppState,
    academie: Option<Academie>,
) -> Result<
    (
        Vec<(&'static str, &'static str, bool)>,
        Option<ChosenAcademie>,
    ),
    WebError,
> {
    let view = state.catalogue.execute().await?;
    let academies = view
        .academies
        .keys()
        .map(|a| (a.code(), a.name(), Some(*a) == academie))
        .collect();
    let chosen = academie.and_then(|a| {
        let by_kind = view.academies.get(&a)?;
        let mut offers: Vec<(u16, usize, String, String)> = Vec::new();
        for (kind, sessions) in by_kind {
            let order = DiplomaKind::all()
                .iter()
                .position(|k| k == kind)
                .unwrap_or(usize::MAX);
            for session in sessions {
                offers.push((
                    session.year(),
                    order,
                    format!("{}:{}", kind.code(), session.year()),
                    format!("{} — session {}", kind.title(), session.year()),
                ));
            }
        }
        // newest session first, then the kinds in their usual order
        offers.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
        Some(ChosenAcademie {
            code: a.code(),
            name: a.with_de(),
            offers: offers
                .into_iter()
                .map(|(_, _, value, label)| (value, label))
                .collect(),
            office: state.settings.issuers.exam_office(a).name.clone(),
        })
    });
    Ok((academies, chosen))
}

async fn dashboard_page(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    notice: Option<(&'static str, &'static str)>,
    errors: FormErrors,
    academie: Option<Academie>,
) -> Result<Response, WebError> {
    let title = match (notice, errors.is_empty()) {
        (Some((said, _)), true) => format!("{said} — Mon espace"),
        _ => "Mon espace".to_owned(),
    };
    let signed_in = visitor.require()?;
    let profile = current_profile(state, signed_in).await?;
    let diplomas = state.list.execute(profile.id).await?;
    let taken_away = state.list.taken_away(profile.id).await?;
    let (academies, chosen) = attach_choices(state, academie).await?;
    let now = state.ports.clock.now();
    let shares = state.ports.shares.list_for_profile(profile.id).await?;
    let live_shares = |link| {
        shares
            .iter()
            .filter(|s| s.link == link && s.state(now) == ShareState::Live)
            .count()
    };
    page(
        status,
        &DashboardPage {
            chrome: Chrome::new(state, visitor, title).refusing(&errors),
            holder: format!(
                "{} {}",
                profile.identity.first_names, profile.identity.birth_name
            ),
            certified: profile.identity_certified,
            notice: notice.map(|(_, text)| text),
            diplomas: diplomas
                .iter()
                .map(|d| DashboardDiploma {
                    live_shares: live_shares(d.link.id),
                    ..DashboardDiploma::of(d, &state.settings.issuers)
                })
                .collect(),
            wallet: state.wallet.is_some(),
            taken_away: taken_away
                .iter()
                .map(|t| {
                    (
                        t.scope.kind.title().to_owned(),
                        t.scope.session.year(),
                        t.scope.academie.name().to_owned(),
                        t.scope.academie.code().to_owned(),
                        french_day(t.at),
                        t.by == sand_domain::link::LinkEndedBy::ExamOffice,
                    )
                })
                .collect(),
            errors,
            academies,
            chosen,
        },
    )
}

#[handler]
pub async fn dashboard(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    dashboard_page(
        &state,
        &visitor,
        StatusCode::OK,
        notice_text(&q.avis),
        FormErrors::default(),
        q.academie.parse().ok(),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct AttachForm {
    /// The form's second step: `KIND:YEAR` among the académie's diplomas.
    #[serde(default)]
    offre: String,
    #[serde(default)]
    diplome: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    academie: String,
}

#[derive(Template)]
#[template(path = "attach_help.html")]
struct AttachHelpPage {
    chrome: Chrome,
    summary: String,
    steps: Vec<(String, String, String)>,
}

/// The scope the form names; a session before the service's coverage is told apart from
/// a typing error and sent to the office that holds that académie's results.
fn parse_scope(form: &AttachForm, issuers: &IssuerRegistry) -> Result<DiplomaScope, FormErrors> {
    // the second step's one choice stands for the diploma and the session
    if !form.offre.is_empty() {
        let (diplome, session) = form.offre.split_once(':').unwrap_or(("", ""));
        return parse_scope(
            &AttachForm {
                offre: String::new(),
                diplome: diplome.to_owned(),
                session: session.to_owned(),
                academie: form.academie.clone(),
            },
            issuers,
        );
    }
    let mut errors = FormErrors::default();
    let kind = form
        .diplome
        .parse::<DiplomaKind>()
        .map_err(|_| errors.add("diplome", "Diplôme : choisissez un diplôme de la liste."))
        .ok();
    let academie = form.academie.parse::<Academie>();
    let session = form
        .session
        .trim()
        .parse::<Session>()
        .map_err(|e| {
            errors.add("session", match e {
                SessionError::TooEarly => format!(
                    "Session : {} Ses coordonnées sont dans l'aide, « Services des examens ».",
                    before_coverage_text(academie.as_ref().ok().copied(), issuers)
                ),
                SessionError::TooLate => "Session : choisissez une session de la liste.".to_owned(),
                SessionError::NotAYear => {
                    "Session : indiquez l'année de l'examen sur quatre chiffres, par exemple 2021."
                        .to_owned()
                }
            });
        })
        .ok();
    let academie = academie
        .map_err(|_| {
            errors.add(
                "academie",
                "Académie : choisissez une académie de la liste.",
            )
        })
        .ok();
    match (kind, session, academie) {
        (Some(kind), Some(session), Some(academie)) => Ok(DiplomaScope {
            kind,
            session,
            academie,
        }),
        _ => Err(errors),
    }
}

#[handler]
pub async fn attach(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    signed_in: SignedIn,
    PageForm(form): PageForm<AttachForm>,
) -> Result<Response, WebError> {
    let scope = match parse_scope(&form, &state.settings.issuers) {
        Ok(scope) => scope,
        Err(mut errors) => {
            // the form's second step has one control for both
            errors.rename("diplome", "offre");
            errors.rename("session", "offre");
            return dashboard_page(
                &state,
                &visitor,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                errors,
                form.academie.parse().ok(),
            )
            .await;
        }
    };
    let outcome = graduate::attach(&state, &signed_in, scope).await?;
    let what = format!(
        "{} {}, académie {}",
        scope.kind.title(),
        scope.session,
        scope.academie.with_de()
    );
    let (title, summary, steps) = match outcome {
        AttachOutcome::Attached { link, .. } => {
            return Ok(see_other(&format!("/espace?avis=rattache#d-{}", link.id.0)));
        }
        AttachOutcome::AlreadyAttachedToYou { .. } => return Ok(see_other("/espace?avis=deja")),
        AttachOutcome::NotInCatalogue { next_steps, .. } => (
            "Diplôme non disponible",
            format!("Le diplôme demandé ({what}) n'est pas disponible dans ce service."),
            next_steps,
        ),
        AttachOutcome::NoMatch { next_steps, .. } => (
            "Aucun diplôme trouvé à votre nom",
            format!(
                "Aucun résultat du diplôme demandé ({what}) ne porte l'identité de votre profil."
            ),
            next_steps,
        ),
        AttachOutcome::AmbiguousHomonyms { next_steps, .. }
        | AttachOutcome::AttachedToAnotherProfile { next_steps, .. } => (
            "Rattachement impossible en ligne",
            format!(
                "Le diplôme demandé ({what}) ne peut pas être rattaché automatiquement à votre profil."
            ),
            next_steps,
        ),
    };
    page(
        StatusCode::OK,
        &AttachHelpPage {
            chrome: Chrome::new(&state, &visitor, title),
            summary,
            steps: steps
                .iter()
                .map(|step| {
                    step_text(
                        step,
                        state.ports.franceconnect.is_some(),
                        &state.settings.issuers,
                    )
                })
                .collect(),
        },
    )
}

/// The id of one of the graduate's live diploma links, from a path.
async fn owned_link(
    state: &AppState,
    signed_in: &SignedIn,
    id: &str,
) -> Result<sand_domain::link::LinkId, WebError> {
    let link = link_id(id)?;
    match state.ports.links.get_owned(link, signed_in.profile).await? {
        Some(_) => Ok(link),
        None => Err(WebError::NoSuchDiploma),
    }
}

/// "Change the key?" first: the current key stops verifying at once, and with it every
/// attestation already given to an employer.
#[handler]
pub async fn renew_key_confirm(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let link = owned_link(&state, &signed_in, &id).await?;
    page(
        StatusCode::OK,
        &ConfirmPage {
            chrome: Chrome::new(&state, &visitor, "Changer la clé de contrôle ?"),
            paragraphs: vec![
                "La clé actuelle cessera aussitôt de fonctionner : les attestations déjà transmises, à un employeur par exemple, ne pourront plus être vérifiées.".to_owned(),
                "Changez-la si elle a circulé plus que vous ne le vouliez. Téléchargez ensuite l'attestation de nouveau, et transmettez la nouvelle clé à ceux qui doivent la vérifier.".to_owned(),
            ],
            action: format!("/espace/diplomes/{}/cle", link.0),
            button: "Changer la clé".to_owned(),
            cancel: "/espace".to_owned(),
        },
    )
}

#[handler]
pub async fn renew_key(
    state: Data<&Arc<AppState>>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let link = graduate::renew_key(&state, &signed_in, link_id(&id)?).await?;
    Ok(see_other(&format!("/espace?avis=cle#d-{}", link.id.0)))
}

#[handler]
pub async fn detach_confirm(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let link = owned_link(&state, &signed_in, &id).await?;
    page(
        StatusCode::OK,
        &ConfirmPage {
            chrome: Chrome::new(&state, &visitor, "Supprimer cette attestation ?"),
            paragraphs: vec![
                "Le lien entre votre profil et ce diplôme sera supprimé, et sa clé de contrôle cessera aussitôt de fonctionner : les attestations déjà transmises ne pourront plus être vérifiées.".to_owned(),
                "Le résultat reste enregistré par le service des examens : vous pourrez rattacher ce diplôme de nouveau plus tard, avec une nouvelle clé.".to_owned(),
            ],
            action: format!("/espace/diplomes/{}/supprimer", link.0),
            button: "Supprimer l'attestation".to_owned(),
            cancel: "/espace".to_owned(),
        },
    )
}

#[handler]
pub async fn detach(
    state: Data<&Arc<AppState>>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    graduate::detach(&state, &signed_in, link_id(&id)?).await?;
    Ok(see_other("/espace?avis=supprime"))
}

#[handler]
pub async fn download(
    state: Data<&Arc<AppState>>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let rendered = graduate::download(&state, &signed_in, link_id(&id)?).await?;
    Ok(attachment(rendered, false))
}

/// The attestation as a W3C Verifiable Credential, to import in a wallet or hand over.
#[handler]
pub async fn download_credential(
    state: Data<&Arc<AppState>>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let exported = graduate::credential(&state, &signed_in, link_id(&id)?).await?;
    Ok(attachment(exported, true))
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    birth_name: String,
    first_names: String,
    birth_date: String,
    presumed: bool,
    email: String,
    login: &'static str,
    has_password: bool,
    second_factor: bool,
    notify_on_verification: bool,
    notice: Option<&'static str>,
    sessions: Vec<crate::pages::security::ShownSession>,
}

#[handler]
pub async fn profile_page(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    signed_in: SignedIn,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    let profile = current_profile(&state, &signed_in).await?;
    let notice = crate::pages::notices::choice_notice(&q.avis);
    let sessions = crate::pages::security::shown_sessions(&state, &signed_in).await?;
    page(
        StatusCode::OK,
        &ProfilePage {
            has_password: matches!(profile.login, LoginMethod::Password),
            second_factor: state
                .ports
                .profiles
                .second_factor(profile.id)
                .await?
                .is_some(),
            sessions,
            notify_on_verification: profile.notify_on_verification,
            notice: notice.map(|(_, text)| text),
            chrome: Chrome::new(
                &state,
                &visitor,
                notice.map_or("Mon profil".to_owned(), |(said, _)| {
                    format!("{said} — Mon profil")
                }),
            ),
            birth_name: profile.identity.birth_name.to_string(),
            first_names: profile.identity.first_names.to_string(),
            birth_date: french_date(profile.identity.birth_date.date()),
            presumed: profile.birth_date_presumed,
            email: profile.email.to_string(),
            login: match profile.login {
                LoginMethod::Password => "Adresse e-mail et mot de passe",
                LoginMethod::FranceConnect(_) => "FranceConnect (identité certifiée)",
            },
        },
    )
}

#[handler]
pub async fn delete_profile_confirm(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    _signed_in: SignedIn,
) -> Result<Response, WebError> {
    page(
        StatusCode::OK,
        &ConfirmPage {
            chrome: Chrome::new(&state, &visitor, "Supprimer mon profil ?"),
            paragraphs: vec![
                "Votre adresse e-mail, votre identité et tous vos rattachements seront effacés définitivement. Les clés de contrôle de vos attestations cesseront aussitôt de fonctionner.".to_owned(),
                "Les résultats restent détenus par les services des examens : vous pourrez créer un nouveau profil et rattacher vos diplômes de nouveau.".to_owned(),
            ],
            action: "/espace/profil/supprimer".to_owned(),
            button: "Supprimer définitivement mon profil".to_owned(),
            cancel: "/espace/profil".to_owned(),
        },
    )
}

#[handler]
pub async fn delete_profile(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    signed_in: SignedIn,
) -> Result<Response, WebError> {
    graduate::delete_profile(&state, visitor.0, &signed_in).await?;
    let mut anonymous = visitor.clone();
    anonymous.signed_in = None;
    let mut response = page(
        StatusCode::OK,
        &MessagePage {
            chrome: Chrome::new(&state, &anonymous, "Profil supprimé"),
            paragraphs: vec![
                "Votre profil et toutes vos données personnelles ont été supprimés. Un e-mail vous le confirme.".to_owned(),
                "Les clés de contrôle de vos attestations ne fonctionnent plus.".to_owned(),
            ],
            // the support memo's fix for a profile with a wrong identity: a new one
            link: Some((
                "/compte/creer".to_owned(),
                "Créer un nouveau profil".to_owned(),
            )),
        },
    )?;
    response.headers_mut().append(
        header::SET_COOKIE,
        clear_session_cookie(&state)
            .parse()
            .map_err(WebError::unexpected)?,
    );
    Ok(response)
}
