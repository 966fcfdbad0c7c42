//! The back office's pages.

use std::str::FromStr;
use std::sync::Arc;

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, IntoResponse, Response, handler};
use sand_domain::academie::Academie;
use sand_domain::credentials::Password;
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Session};
use sand_domain::identity::{BirthDate, BirthName, FirstNames, Identity, compact_key};
use sand_domain::record::{CandidateNumber, DiplomaRecord, Ine, RecordId};
use sand_domain::staff::audit::{Actor, AuditAction, NewAuditEntry};
use sand_domain::staff::desk::{DeskError, DeskRequest, NearRecord};
use sand_domain::staff::diagnosis::{DateVerdict, FirstNamesVerdict, NameVerdict};
use sand_domain::staff::records::{RecordDetail, RecordQuery, ReleaseReason};
use sand_domain::staff::{Role, StaffLogin, StaffMember};
use sand_domain::text::DateWriting;
use serde::Deserialize;
use uuid::Uuid;

use super::{Caller, StaffState, read_form, render, session_cookie};
use crate::limits::LoginGate;
use crate::web::see_other;

/// What every back-office page shows around its content.
pub(crate) struct Chrome {
    pub title: String,
    pub operator: String,
    pub demo: bool,
    /// The signed-in agent's name and role.
    pub agent: Option<(String, &'static str)>,
    pub role: Option<Role>,
    pub csrf: String,
}

impl Chrome {
    pub(super) fn new(state: &StaffState, caller: &Caller, title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            operator: state.settings.operator_name.clone(),
            demo: state.settings.demo,
            agent: caller
                .agent
                .as_ref()
                .map(|a| (a.name.clone(), a.role.label())),
            role: caller.agent.as_ref().map(|a| a.role),
            csrf: caller.csrf(state),
        }
    }

    pub fn is(&self, role: &str) -> bool {
        self.role.is_some_and(|r| r.code() == role)
    }
}

#[derive(Template)]
#[template(path = "staff/message.html")]
struct MessagePage {
    chrome: Chrome,
    text: String,
}

pub(super) fn message(
    state: &StaffState,
    caller: &Caller,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    render(
        status,
        &MessagePage {
            chrome: Chrome::new(state, caller, title),
            text: text.to_owned(),
        },
    )
}

fn not_found(state: &StaffState, caller: &Caller) -> Response {
    message(
        state,
        caller,
        StatusCode::NOT_FOUND,
        "Introuvable",
        "Ce résultat n'existe pas, ou il n'est pas dans le périmètre de votre service.",
    )
}

fn forbidden(state: &StaffState, caller: &Caller) -> Response {
    message(
        state,
        caller,
        StatusCode::FORBIDDEN,
        "Accès réservé",
        "Cette page est réservée aux agents des services des examens (niveau 2).",
    )
}

fn desk_error(state: &StaffState, caller: &Caller, e: &DeskError) -> Response {
    match e {
        DeskError::NotAllowed => forbidden(state, caller),
        DeskError::NotFound => not_found(state, caller),
        DeskError::Port(p) => {
            tracing::error!(error = %p, "the exam office's desk failed");
            unavailable(state, caller)
        }
    }
}

/// The signed-in level-2 agent, or the answer to give instead.
fn level_2<'c>(state: &StaffState, caller: &'c Caller) -> Result<&'c StaffMember, Box<Response>> {
    match &caller.agent {
        None => Err(Box::new(see_other("/connexion"))),
        Some(agent) if agent.role == Role::ExamOffice => Ok(agent),
        Some(_) => Err(Box::new(forbidden(state, caller))),
    }
}

fn desk_request<'a>(agent: &'a StaffMember, caller: &Caller, origin: &'a str) -> DeskRequest<'a> {
    DeskRequest {
        agent,
        origin,
        at: caller.now,
    }
}

fn bad_csrf(state: &StaffState, caller: &Caller) -> Response {
    message(
        state,
        caller,
        StatusCode::FORBIDDEN,
        "Formulaire expiré",
        "Ce formulaire a expiré ou ne vient pas de cette page : rechargez la page et recommencez.",
    )
}

/// A form the back office posts: it carries the CSRF token of the page it came from.
pub(super) trait Posted: serde::de::DeserializeOwned {
    fn csrf(&self) -> &str;
}

/// A posted form, bounded in size, its CSRF token checked; or the answer to give.
pub(super) async fn posted<T: Posted>(
    state: &StaffState,
    caller: &Caller,
    body: Body,
) -> Result<T, Box<Response>> {
    let form: T = read_form(body)
        .await
        .map_err(|status| Box::new(status.into_response()))?;
    if caller.check_csrf(state, form.csrf()) {
        Ok(form)
    } else {
        Err(Box::new(bad_csrf(state, caller)))
    }
}

/// The audit row of an action of `agent`'s.
pub(super) fn by_agent(
    agent: &StaffMember,
    caller: &Caller,
    action: AuditAction,
    detail: String,
) -> NewAuditEntry {
    NewAuditEntry {
        at: caller.now,
        actor: Actor::Staff {
            id: agent.id,
            login: agent.login.clone(),
        },
        action,
        records: Vec::new(),
        link: None,
        batch: None,
        detail,
        origin: caller.origin(),
    }
}

/// The store did not answer: said as a page.
pub(super) fn unavailable(state: &StaffState, caller: &Caller) -> Response {
    message(
        state,
        caller,
        StatusCode::SERVICE_UNAVAILABLE,
        "Service indisponible",
        "La base de données ne répond pas. Réessayez dans un instant.",
    )
}

impl Posted for LoginForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl Posted for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl Posted for SearchForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl Posted for ReleaseForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl Posted for DiagnosisForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl Posted for AddAgentForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

// --- home -----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "staff/home.html")]
struct HomePage {
    chrome: Chrome,
    issuers: Vec<String>,
}

#[handler]
pub(super) async fn home(state: Data<&Arc<StaffState>>, caller: Data<&Caller>) -> Response {
    let Some(agent) = &caller.agent else {
        return see_other("/connexion");
    };
    let issuers = agent
        .issuers
        .iter()
        .map(|code| {
            state
                .issuers()
                .get(code.code())
                .map_or_else(|| code.code().to_owned(), |i| i.name.clone())
        })
        .collect();
    render(
        StatusCode::OK,
        &HomePage {
            chrome: Chrome::new(&state, &caller, "Espace agents"),
            issuers,
        },
    )
}

// --- login ----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "staff/login.html")]
struct LoginPage {
    chrome: Chrome,
    login: String,
    error: Option<String>,
    /// The deployment offers ProConnect.
    proconnect: bool,
}

#[handler]
pub(super) async fn login_form(state: Data<&Arc<StaffState>>, caller: Data<&Caller>) -> Response {
    if caller.agent.is_some() {
        return see_other("/");
    }
    render(
        StatusCode::OK,
        &LoginPage {
            chrome: Chrome::new(&state, &caller, "Connexion à l'espace agents"),
            login: String::new(),
            error: None,
            proconnect: state.proconnect.is_some(),
        },
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    identifiant: String,
    #[serde(default)]
    mot_de_passe: String,
    #[serde(default)]
    code: String,
}

const LOGIN_REFUSED: &str =
    "Identifiant, mot de passe ou code à usage unique incorrect. Vérifiez-les et recommencez.";

#[handler]
pub(super) async fn login(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
    body: Body,
) -> Response {
    let form: LoginForm = match posted(&state, &caller, body).await {
        Ok(form) => form,
        Err(answer) => return *answer,
    };
    let refused = |status: StatusCode, text: &str| {
        render(
            status,
            &LoginPage {
                chrome: Chrome::new(&state, &caller, "Connexion à l'espace agents"),
                login: form.identifiant.chars().take(64).collect(),
                error: Some(text.to_owned()),
                proconnect: state.proconnect.is_some(),
            },
        )
    };
    let account_key = format!("agent:{}", form.identifiant.trim().to_lowercase());
    match state
        .limiters
        .login(caller.now, caller.client_key(), &account_key, false)
        .await
    {
        LoginGate::Allowed => {}
        LoginGate::TooMany | LoginGate::SlowedDown { .. } => {
            return refused(
                StatusCode::TOO_MANY_REQUESTS,
                "Trop de tentatives de connexion : attendez quelques minutes avant de recommencer.",
            );
        }
    }
    let Ok(login) = StaffLogin::parse(form.identifiant.trim()) else {
        state.limiters.login_failed(caller.now, &account_key).await;
        return refused(StatusCode::UNAUTHORIZED, LOGIN_REFUSED);
    };
    let Ok(password) = Password::for_login(&form.mot_de_passe) else {
        state.limiters.login_failed(caller.now, &account_key).await;
        return refused(StatusCode::UNAUTHORIZED, LOGIN_REFUSED);
    };
    let found = match state.directory.credentials(&login).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "the staff directory cannot be read");
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "Le service est momentanément indisponible. Réessayez dans un instant.",
            );
        }
    };
    // the password is checked even for an unknown login, so that timing tells nothing
    let decoy = sand_domain::credentials::PasswordHash::new(
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$3l0l4n0l2J0y0ZQ0m9mQ8G5D9S1cYq3cS0R6Zy1VQ9A"
            .to_owned(),
    );
    let hash = found.as_ref().map_or(&decoy, |f| &f.password);
    let password_ok = state.hasher.verify(&password, hash).await.unwrap_or(false);
    let Some(found) = found else {
        state.limiters.login_failed(caller.now, &account_key).await;
        tracing::info!(target: "sand::security", event = "staff_login_refused", client = %caller.client, "unknown staff login");
        return refused(StatusCode::UNAUTHORIZED, LOGIN_REFUSED);
    };
    let member = found.member.clone();
    let code_step = crate::totp::generator(
        found.totp.expose(),
        member.login.as_str(),
        "SAND espace agents",
    )
    .ok()
    .and_then(|totp| crate::totp::check_code(&totp, &form.code, caller.now));
    let audit = |action, detail: &str| NewAuditEntry {
        at: caller.now,
        actor: Actor::Staff {
            id: member.id,
            login: member.login.clone(),
        },
        action,
        records: Vec::new(),
        link: None,
        batch: None,
        detail: detail.to_owned(),
        origin: caller.origin(),
    };
    let why = if !password_ok {
        Some("mot de passe")
    } else if member.disabled_at.is_some() {
        Some("compte fermé")
    } else {
        match code_step {
            None => Some("code"),
            Some(step) => match state.directory.accept_totp_step(member.id, step).await {
                Ok(true) => None,
                Ok(false) => Some("code déjà utilisé"),
                Err(e) => {
                    tracing::error!(error = %e, "the staff directory cannot be written");
                    return refused(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Le service est momentanément indisponible. Réessayez dans un instant.",
                    );
                }
            },
        }
    };
    if let Some(why) = why {
        state.limiters.login_failed(caller.now, &account_key).await;
        if let Err(e) = state
            .audit
            .append(&audit(AuditAction::LoginRefused, why))
            .await
        {
            tracing::error!(error = %e, "the audit log cannot be written");
        }
        return refused(StatusCode::UNAUTHORIZED, LOGIN_REFUSED);
    }
    if let Err(e) = state
        .audit
        .append(&audit(AuditAction::Login, "mot de passe et TOTP"))
        .await
    {
        tracing::error!(error = %e, "the audit log cannot be written: login refused");
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "Le service est momentanément indisponible. Réessayez dans un instant.",
        );
    }
    state.limiters.login_cleared(&account_key).await;
    let mut response = see_other("/");
    if let Ok(v) = session_cookie(&state, &member.login, caller.now, caller.now).parse() {
        response
            .headers_mut()
            .append(poem::http::header::SET_COOKIE, v);
    }
    response
}

#[derive(Debug, Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

// --- search ---------------------------------------------------------------------------

/// A record as a result line.
pub(crate) struct Row {
    pub id: String,
    pub candidate: String,
    pub name: String,
    pub born: String,
    pub diploma: String,
    pub issuer: String,
    pub withdrawn: bool,
}

fn row(state: &StaffState, r: &DiplomaRecord) -> Row {
    let identity = &r.holder.identity;
    let mut name = format!("{} {}", identity.birth_name, identity.first_names);
    if let Some(usage) = &r.holder.usage_name {
        name.push_str(&format!(" (nom d'usage : {usage})"));
    }
    Row {
        id: r.id.0.to_string(),
        candidate: r.source.candidate_number.as_str().to_owned(),
        name,
        born: sand_domain::text::french_date(identity.birth_date.date()),
        diploma: r.scope.to_string(),
        issuer: state
            .issuers()
            .get(r.source.exam_office.code())
            .map_or_else(
                || r.source.exam_office.code().to_owned(),
                |i| i.name.clone(),
            ),
        withdrawn: r.withdrawn_at.is_some(),
    }
}

#[derive(Template)]
#[template(path = "staff/search.html")]
struct SearchPage {
    chrome: Chrome,
    numero: String,
    ine: String,
    nom: String,
    naissance: String,
    error: Option<String>,
    results: Option<Vec<Row>>,
}

#[handler]
pub(super) async fn search_form(state: Data<&Arc<StaffState>>, caller: Data<&Caller>) -> Response {
    if let Err(answer) = level_2(&state, &caller) {
        return *answer;
    }
    render(
        StatusCode::OK,
        &SearchPage {
            chrome: Chrome::new(&state, &caller, "Rechercher un résultat"),
            numero: String::new(),
            ine: String::new(),
            nom: String::new(),
            naissance: String::new(),
            error: None,
            results: None,
        },
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct SearchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    numero: String,
    #[serde(default)]
    ine: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    naissance: String,
}

/// The one query a search form asks, or what is wrong with it.
fn query_of(form: &SearchForm, today: time::Date) -> Result<RecordQuery, &'static str> {
    let (numero, ine, nom, naissance) = (
        form.numero.trim(),
        form.ine.trim(),
        form.nom.trim(),
        form.naissance.trim(),
    );
    if !numero.is_empty() {
        return CandidateNumber::parse(numero)
            .map(RecordQuery::CandidateNumber)
            .map_err(|_| "Le numéro de candidat n'a pas la forme attendue (lettres et chiffres).");
    }
    if !ine.is_empty() {
        return Ine::parse(ine)
            .map(RecordQuery::Ine)
            .map_err(|_| "L'INE compte 11 caractères : 10 chiffres et une lettre, ou 9 chiffres et deux lettres.");
    }
    if nom.is_empty() || naissance.is_empty() {
        return Err(
            "Donnez un numéro de candidat, un INE, ou le nom de naissance avec la date de naissance.",
        );
    }
    let name = BirthName::parse(nom).map_err(|_| "Le nom de naissance n'est pas valide.")?;
    let born = BirthDate::parse(naissance, DateWriting::Typed, today)
        .map_err(|_| "La date de naissance s'écrit jj/mm/aaaa.")?;
    Ok(RecordQuery::NameAndBirthDate {
        birth_name_key: compact_key(name.as_str()),
        birth_date: born.date(),
    })
}

#[handler]
pub(super) async fn search(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
    body: Body,
) -> Response {
    let agent = match level_2(&state, &caller) {
        Ok(agent) => agent,
        Err(answer) => return *answer,
    };
    let form: SearchForm = match posted(&state, &caller, body).await {
        Ok(form) => form,
        Err(answer) => return *answer,
    };
    let page = |status, error: Option<&str>, results| {
        render(
            status,
            &SearchPage {
                chrome: Chrome::new(&state, &caller, "Rechercher un résultat"),
                numero: form.numero.chars().take(40).collect(),
                ine: form.ine.chars().take(20).collect(),
                nom: form.nom.chars().take(100).collect(),
                naissance: form.naissance.chars().take(20).collect(),
                error: error.map(str::to_owned),
                results,
            },
        )
    };
    let query = match query_of(&form, caller.now.date()) {
        Ok(query) => query,
        Err(text) => return page(StatusCode::UNPROCESSABLE_ENTITY, Some(text), None),
    };
    let origin = caller.origin();
    match state
        .desk
        .search(&desk_request(agent, &caller, &origin), &query)
        .await
    {
        Ok(found) => page(
            StatusCode::OK,
            None,
            Some(found.iter().map(|r| row(&state, r)).collect()),
        ),
        Err(e) => desk_error(&state, &caller, &e),
    }
}

// --- one record -----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "staff/record.html")]
struct RecordPage {
    chrome: Chrome,
    row: Row,
    civility: String,
    birth_place: String,
    ine: String,
    speciality: String,
    mention: String,
    deliberation: String,
    batch: BatchRow,
    link: Option<(String, String, bool, u64)>,
    reasons: Vec<(&'static str, &'static str)>,
    released: bool,
}

pub(crate) struct BatchRow {
    /// Records a later import withdrew (on the history page).
    pub withdrawn: u64,
    pub scope: String,
    pub issuer: String,
    pub exported: String,
    pub imported: String,
    pub complete: bool,
    pub records: u64,
    pub signature: String,
}

fn batch_row(state: &StaffState, b: &sand_domain::record::ImportBatch) -> BatchRow {
    BatchRow {
        withdrawn: 0,
        scope: b.scope.to_string(),
        issuer: state
            .issuers()
            .get(b.exam_office.code())
            .map_or_else(|| b.exam_office.code().to_owned(), |i| i.name.clone()),
        exported: sand_domain::text::french_moment(b.exported_at),
        imported: sand_domain::text::french_moment(b.imported_at),
        complete: b.complete,
        records: b.record_count,
        signature: b.signature.as_ref().map_or_else(
            || "non signé".to_owned(),
            |s| format!("signé, clé {}", s.key_id),
        ),
    }
}

fn record_page(
    state: &StaffState,
    caller: &Caller,
    detail: &RecordDetail,
    released: bool,
) -> Response {
    let r = &detail.record;
    render(
        StatusCode::OK,
        &RecordPage {
            chrome: Chrome::new(state, caller, "Résultat"),
            row: row(state, r),
            civility: r
                .holder
                .civility
                .map(|c| c.label().to_owned())
                .unwrap_or_default(),
            birth_place: r
                .holder
                .identity
                .birth_place
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            ine: r
                .holder
                .ine
                .as_ref()
                .map(|i| i.as_str().to_owned())
                .unwrap_or_default(),
            speciality: r
                .award
                .speciality
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            mention: r
                .award
                .mention
                .map(|m| m.label().to_owned())
                .unwrap_or_default(),
            deliberation: sand_domain::text::french_date(r.award.deliberation_date),
            batch: batch_row(state, &detail.batch),
            link: detail.link.as_ref().map(|l| {
                (
                    sand_domain::text::french_moment(l.created_at),
                    sand_domain::text::french_moment(l.key_issued_at),
                    l.withdrawn,
                    l.verifications,
                )
            }),
            reasons: ReleaseReason::ALL
                .iter()
                .map(|r| (r.code(), r.label()))
                .collect(),
            released,
        },
    )
}

fn record_id(text: &str) -> Option<RecordId> {
    Uuid::parse_str(text).ok().map(RecordId)
}

#[handler]
pub(super) async fn record(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
    Path(id): Path<String>,
) -> Response {
    let agent = match level_2(&state, &caller) {
        Ok(agent) => agent,
        Err(answer) => return *answer,
    };
    let Some(id) = record_id(&id) else {
        return not_found(&state, &caller);
    };
    let origin = caller.origin();
    match state
        .desk
        .record(&desk_request(agent, &caller, &origin), id)
        .await
    {
        Ok(detail) => record_page(&state, &caller, &detail, false),
        Err(e) => desk_error(&state, &caller, &e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ReleaseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    motif: String,
}

#[handler]
pub(super) async fn release(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let agent = match level_2(&state, &caller) {
        Ok(agent) => agent,
        Err(answer) => return *answer,
    };
    let form: ReleaseForm = match posted(&state, &caller, body).await {
        Ok(form) => form,
        Err(answer) => return *answer,
    };
    let Some(id) = record_id(&id) else {
        return not_found(&state, &caller);
    };
    let Ok(reason) = ReleaseReason::from_str(&form.motif) else {
        return message(
            &state,
            &caller,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Motif manquant",
            "Choisissez le motif de la libération parmi ceux proposés.",
        );
    };
    let origin = caller.origin();
    let request = desk_request(agent, &caller, &origin);
    match state.desk.release(&request, id, reason).await {
        Ok(_) => match state.desk.record(&request, id).await {
            Ok(detail) => record_page(&state, &caller, &detail, true),
            Err(e) => desk_error(&state, &caller, &e),
        },
        Err(e) => desk_error(&state, &caller, &e),
    }
}

// --- diagnosis ------------------------------------------------------------------------

/// A near record and how its birth name, first names and birth date compare, and
/// whether the identity matches.
type Compared = (Row, String, String, String, bool);

#[derive(Template)]
#[template(path = "staff/diagnosis.html")]
struct DiagnosisPage {
    chrome: Chrome,
    academies: Vec<(&'static str, &'static str, bool)>,
    kinds: Vec<(&'static str, &'static str, bool)>,
    session: String,
    nom: String,
    prenoms: String,
    naissance: String,
    error: Option<String>,
    results: Option<Vec<Compared>>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct DiagnosisForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    academie: String,
    #[serde(default)]
    diplome: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    prenoms: String,
    #[serde(default)]
    naissance: String,
}

fn diagnosis_page(
    state: &StaffState,
    caller: &Caller,
    form: &DiagnosisForm,
    status: StatusCode,
    error: Option<&str>,
    results: Option<Vec<Compared>>,
) -> Response {
    render(
        status,
        &DiagnosisPage {
            chrome: Chrome::new(state, caller, "Diagnostic de rattachement"),
            academies: Academie::ALL
                .iter()
                .map(|a| (a.code(), a.name(), a.code() == form.academie))
                .collect(),
            kinds: DiplomaKind::all()
                .iter()
                .map(|k| (k.code(), k.title(), k.code() == form.diplome))
                .collect(),
            session: form.session.chars().take(4).collect(),
            nom: form.nom.chars().take(100).collect(),
            prenoms: form.prenoms.chars().take(200).collect(),
            naissance: form.naissance.chars().take(20).collect(),
            error: error.map(str::to_owned),
            results,
        },
    )
}

#[handler]
pub(super) async fn diagnosis_form(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
) -> Response {
    if let Err(answer) = level_2(&state, &caller) {
        return *answer;
    }
    diagnosis_page(
        &state,
        &caller,
        &DiagnosisForm::default(),
        StatusCode::OK,
        None,
        None,
    )
}

fn diagnosis_input(
    form: &DiagnosisForm,
    today: time::Date,
) -> Result<(DiplomaScope, Identity), &'static str> {
    let scope = DiplomaScope {
        academie: Academie::from_code(form.academie.trim())
            .map_err(|_| "Choisissez l'académie.")?,
        kind: DiplomaKind::from_str(form.diplome.trim()).map_err(|_| "Choisissez le diplôme.")?,
        session: form
            .session
            .trim()
            .parse::<u16>()
            .ok()
            .and_then(|y| Session::new(y).ok())
            .ok_or("La session s'écrit sur quatre chiffres, à partir de 2009.")?,
    };
    let identity = Identity {
        birth_name: BirthName::parse(form.nom.trim())
            .map_err(|_| "Le nom de naissance n'est pas valide.")?,
        first_names: FirstNames::parse_text(&form.prenoms)
            .map_err(|_| "Donnez les prénoms tels que le ou la diplômé(e) les a saisis.")?,
        birth_date: BirthDate::parse(form.naissance.trim(), DateWriting::Typed, today)
            .map_err(|_| "La date de naissance s'écrit jj/mm/aaaa.")?,
        birth_place: None,
        birth_place_code: None,
    };
    Ok((scope, identity))
}

fn verdicts(n: &NearRecord) -> (String, String, String, bool) {
    let d = &n.diagnosis;
    let name = match d.birth_name {
        NameVerdict::Same => "identique".to_owned(),
        NameVerdict::UsageNameTyped => {
            "différent : le nom saisi est le nom d'usage du résultat (nom d'épouse ou d'époux ?)"
                .to_owned()
        }
        NameVerdict::Differs => "différent".to_owned(),
    };
    let first = match d.first_names {
        FirstNamesVerdict::Same => "identiques".to_owned(),
        FirstNamesVerdict::SomeMissing { typed, recorded } => format!(
            "incomplets : {typed} prénom(s) saisi(s) sur les {recorded} du résultat (tous les prénoms de l'état civil sont attendus)"
        ),
        FirstNamesVerdict::Reordered => {
            "les mêmes, dans un autre ordre (l'ordre de l'état civil est attendu)".to_owned()
        }
        FirstNamesVerdict::TooMany { typed, recorded } => {
            format!("trop nombreux : {typed} saisi(s), le résultat en porte {recorded}")
        }
        FirstNamesVerdict::Differs => "différents".to_owned(),
    };
    let date = match d.birth_date {
        DateVerdict::Same => "identique".to_owned(),
        DateVerdict::DayMonthSwapped => "jour et mois inversés".to_owned(),
        DateVerdict::OtherYear => "même jour et même mois, autre année".to_owned(),
        DateVerdict::Differs => "différente".to_owned(),
    };
    (name, first, date, d.matches())
}

#[handler]
pub(super) async fn diagnosis(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
    body: Body,
) -> Response {
    let agent = match level_2(&state, &caller) {
        Ok(agent) => agent,
        Err(answer) => return *answer,
    };
    let form: DiagnosisForm = match posted(&state, &caller, body).await {
        Ok(form) => form,
        Err(answer) => return *answer,
    };
    let (scope, identity) = match diagnosis_input(&form, caller.now.date()) {
        Ok(input) => input,
        Err(text) => {
            return diagnosis_page(
                &state,
                &caller,
                &form,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(text),
                None,
            );
        }
    };
    let origin = caller.origin();
    match state
        .desk
        .diagnose(&desk_request(agent, &caller, &origin), &scope, &identity)
        .await
    {
        Ok(near) => {
            let results = near
                .iter()
                .map(|n| {
                    let (name, first, date, matches) = verdicts(n);
                    (row(&state, &n.record), name, first, date, matches)
                })
                .collect();
            diagnosis_page(&state, &caller, &form, StatusCode::OK, None, Some(results))
        }
        Err(e) => desk_error(&state, &caller, &e),
    }
}

// --- import history -------------------------------------------------------------------

#[derive(Template)]
#[template(path = "staff/history.html")]
struct HistoryPage {
    chrome: Chrome,
    batches: Vec<BatchRow>,
}

#[handler]
pub(super) async fn history(state: Data<&Arc<StaffState>>, caller: Data<&Caller>) -> Response {
    let agent = match level_2(&state, &caller) {
        Ok(agent) => agent,
        Err(answer) => return *answer,
    };
    let origin = caller.origin();
    match state
        .desk
        .history(&desk_request(agent, &caller, &origin))
        .await
    {
        Ok(batches) => render(
            StatusCode::OK,
            &HistoryPage {
                chrome: Chrome::new(&state, &caller, "Historique des imports"),
                batches: batches
                    .iter()
                    .map(|h| BatchRow {
                        withdrawn: h.withdrawn,
                        ..batch_row(&state, &h.batch)
                    })
                    .collect(),
            },
        ),
        Err(e) => desk_error(&state, &caller, &e),
    }
}

// --- level 1: the support checklist ----------------------------------------------------

/// An office as level 1 hands over to it: name, and where to reach it.
pub(crate) struct OfficeView {
    pub name: String,
    pub service: String,
    pub address: String,
    pub email: String,
    pub phone: String,
    pub web: String,
}

fn office_view(state: &StaffState, academie: Academie) -> OfficeView {
    let route = state.issuers().route(academie);
    let contact = &route.office.contact;
    OfficeView {
        name: route.office.name.clone(),
        service: contact.service.clone(),
        address: contact.address.clone(),
        email: contact
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
        phone: contact.phone.clone(),
        web: route.web.unwrap_or_default().to_owned(),
    }
}

#[derive(Template)]
#[template(path = "staff/checklist.html")]
struct ChecklistPage {
    chrome: Chrome,
    academies: Vec<(&'static str, &'static str, bool)>,
    kinds: Vec<(&'static str, &'static str, bool)>,
    session: String,
    /// The answer to step 1, once the diploma is named.
    diploma: Option<String>,
    covered: Option<CatalogueAnswer>,
    profile: String,
    identity: String,
    office: Option<OfficeView>,
    academie: String,
    diplome: String,
    error: Option<String>,
}

/// What the catalogue says of the named diploma.
pub(crate) enum CatalogueAnswer {
    /// Published: the graduate can attach it.
    Published,
    /// Before the service's coverage of this kind.
    BeforeCoverage { first: u16 },
    /// Held by the establishment, not an exam office.
    Establishment,
    /// Not (yet) published: the usual procedure.
    NotPublished,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ChecklistQuery {
    #[serde(default)]
    academie: String,
    #[serde(default)]
    diplome: String,
    #[serde(default)]
    session: String,
    /// `oui` / `non`: has the graduate created a profile?
    #[serde(default)]
    profil: String,
    /// `conforme` / `non`: the profile's identity is the one at exam time.
    #[serde(default)]
    identite: String,
}

#[handler]
pub(super) async fn checklist(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
    poem::web::Query(q): poem::web::Query<ChecklistQuery>,
) -> Response {
    match &caller.agent {
        None => return see_other("/connexion"),
        Some(agent) if agent.role != Role::Helpdesk && agent.role != Role::ExamOffice => {
            return message(
                &state,
                &caller,
                StatusCode::FORBIDDEN,
                "Accès réservé",
                "La liste de contrôle est réservée à l'assistance (niveau 1) et aux services des examens.",
            );
        }
        Some(_) => {}
    }
    let mut error = None;
    let mut diploma = None;
    let mut covered = None;
    let mut office = None;
    let named = !(q.academie.is_empty() && q.diplome.is_empty() && q.session.is_empty());
    if named {
        let academie = Academie::from_code(q.academie.trim()).ok();
        let kind = DiplomaKind::from_str(q.diplome.trim()).ok();
        let year = q
            .session
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|y| (1900..=2100).contains(y));
        match (academie, kind, year) {
            (Some(academie), Some(kind), Some(year)) => {
                diploma = Some(format!(
                    "{}, session {year}, académie {}",
                    kind.title(),
                    academie.with_de()
                ));
                office = Some(office_view(&state, academie));
                covered = Some(if !kind.held_by_exam_offices() {
                    CatalogueAnswer::Establishment
                } else if year < kind.first_session() {
                    CatalogueAnswer::BeforeCoverage {
                        first: kind.first_session(),
                    }
                } else {
                    match Session::new(year) {
                        Ok(session) => {
                            let scope = DiplomaScope {
                                kind,
                                session,
                                academie,
                            };
                            match state.catalogue.is_published(&scope).await {
                                Ok(true) => CatalogueAnswer::Published,
                                Ok(false) => CatalogueAnswer::NotPublished,
                                Err(e) => {
                                    tracing::error!(error = %e, "the catalogue cannot be read");
                                    return message(
                                        &state,
                                        &caller,
                                        StatusCode::SERVICE_UNAVAILABLE,
                                        "Service indisponible",
                                        "La liste des diplômes ne répond pas. Réessayez dans un instant.",
                                    );
                                }
                            }
                        }
                        Err(_) => CatalogueAnswer::NotPublished,
                    }
                });
            }
            _ => error = Some(
                "Choisissez l'académie et le diplôme, et donnez la session sur quatre chiffres."
                    .to_owned(),
            ),
        }
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &ChecklistPage {
            chrome: Chrome::new(&state, &caller, "Liste de contrôle de l'assistance"),
            academies: Academie::ALL
                .iter()
                .map(|a| (a.code(), a.name(), a.code() == q.academie))
                .collect(),
            kinds: DiplomaKind::all()
                .iter()
                .map(|k| (k.code(), k.title(), k.code() == q.diplome))
                .collect(),
            session: q
                .session
                .chars()
                .filter(char::is_ascii_digit)
                .take(4)
                .collect(),
            diploma,
            covered,
            profile: if q.profil == "oui" || q.profil == "non" {
                q.profil.clone()
            } else {
                String::new()
            },
            identity: if q.identite == "conforme" || q.identite == "non" {
                q.identite.clone()
            } else {
                String::new()
            },
            office,
            academie: q.academie.chars().take(3).collect(),
            diplome: q.diplome.chars().take(16).collect(),
            error,
        },
    )
}

// --- administration and audit ------------------------------------------------------------

#[derive(Template)]
#[template(path = "staff/agents.html")]
struct AgentsPage {
    chrome: Chrome,
    agents: Vec<AgentRow>,
    roles: Vec<(&'static str, &'static str)>,
    error: Option<String>,
    /// The new agent's login, password and TOTP secret, shown once.
    added: Option<(String, String, String)>,
}

/// An agent as the administrator's list shows them.
struct AgentRow {
    login: String,
    name: String,
    role: &'static str,
    issuers: String,
    email: String,
    siret: String,
    closed: bool,
}

fn administrator<'c>(
    state: &StaffState,
    caller: &'c Caller,
) -> Result<&'c StaffMember, Box<Response>> {
    match &caller.agent {
        None => Err(Box::new(see_other("/connexion"))),
        Some(agent) if agent.role == Role::Administrator => Ok(agent),
        Some(_) => Err(Box::new(message(
            state,
            caller,
            StatusCode::FORBIDDEN,
            "Accès réservé",
            "Cette page est réservée aux administrateurs.",
        ))),
    }
}

async fn agents_page(
    state: &StaffState,
    caller: &Caller,
    status: StatusCode,
    error: Option<&str>,
    added: Option<(String, String, String)>,
) -> Response {
    let members = match state.directory.list().await {
        Ok(list) => list,
        Err(e) => {
            tracing::error!(error = %e, "the staff directory cannot be read");
            return unavailable(state, caller);
        }
    };
    render(
        status,
        &AgentsPage {
            chrome: Chrome::new(state, caller, "Agents"),
            agents: members
                .iter()
                .map(|a| AgentRow {
                    login: a.login.to_string(),
                    name: a.name.clone(),
                    role: a.role.label(),
                    issuers: issuer_codes(&a.issuers),
                    email: a
                        .email
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    siret: a
                        .siret
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    closed: a.disabled_at.is_some(),
                })
                .collect(),
            roles: Role::ALL.iter().map(|r| (r.code(), r.label())).collect(),
            error: error.map(str::to_owned),
            added,
        },
    )
}

#[handler]
pub(super) async fn agents(state: Data<&Arc<StaffState>>, caller: Data<&Caller>) -> Response {
    if let Err(answer) = administrator(&state, &caller) {
        return *answer;
    }
    agents_page(&state, &caller, StatusCode::OK, None, None).await
}

#[derive(Debug, Deserialize)]
pub(super) struct AddAgentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    identifiant: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    role: String,
    /// Issuer codes, separated by commas or spaces (level 2).
    #[serde(default)]
    emetteurs: String,
    /// The professional address a ProConnect login is matched on (optional).
    #[serde(default)]
    adresse: String,
    /// The establishment a ProConnect login must name (optional).
    #[serde(default)]
    siret: String,
}

fn issuer_codes(codes: &[sand_domain::issuer::IssuerCode]) -> String {
    codes
        .iter()
        .map(sand_domain::issuer::IssuerCode::code)
        .collect::<Vec<_>>()
        .join(", ")
}

/// An account's access as a form gives it: role, issuers, address and SIRET.
type Access = (
    Role,
    Vec<sand_domain::issuer::IssuerCode>,
    Option<sand_domain::credentials::Email>,
    Option<sand_domain::staff::sign_in::Siret>,
);

/// Reads an account's access from a form; the French reason when it does not read.
fn access_of(
    role: &str,
    emetteurs: &str,
    adresse: &str,
    siret: &str,
) -> Result<Access, &'static str> {
    let role = Role::from_str(role).map_err(|_| "Choisissez le rôle.")?;
    let issuers = emetteurs
        .split([',', ' '])
        .filter(|c| !c.trim().is_empty())
        .map(|code| sand_domain::issuer::IssuerCode::parse(code.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "Un code d'émetteur compte de 1 à 16 majuscules, chiffres ou tirets.")?;
    let email = Some(adresse.trim())
        .filter(|a| !a.is_empty())
        .map(sand_domain::credentials::Email::parse)
        .transpose()
        .map_err(|_| "L'adresse professionnelle n'est pas une adresse e-mail valide.")?;
    let siret = Some(siret.trim())
        .filter(|s| !s.is_empty())
        .map(sand_domain::staff::sign_in::Siret::parse)
        .transpose()
        .map_err(|_| "Le SIRET compte 14 chiffres.")?;
    Ok((role, issuers, email, siret))
}

fn rule_text(e: &sand_domain::staff::StaffRuleError) -> &'static str {
    use sand_domain::staff::StaffRuleError as E;
    match e {
        E::BadName => {
            "Le nom est vide, trop long (120 caractères au plus) ou contient des caractères de contrôle."
        }
        E::NoIssuer => {
            "Un agent de niveau 2 traite les résultats d'au moins un émetteur : donnez son code."
        }
        E::IssuersNotAllowed => "Seuls les agents de niveau 2 sont rattachés à des émetteurs.",
        E::UnknownIssuer(_) => "Un des émetteurs donnés est inconnu (voir la liste des émetteurs).",
    }
}

#[handler]
pub(super) async fn add_agent(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
    body: Body,
) -> Response {
    let admin = match administrator(&state, &caller) {
        Ok(admin) => admin,
        Err(answer) => return *answer,
    };
    let form: AddAgentForm = match posted(&state, &caller, body).await {
        Ok(form) => form,
        Err(answer) => return *answer,
    };
    let refuse = |text: &'static str| {
        agents_page(
            &state,
            &caller,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(text),
            None,
        )
    };
    let Ok(new_login) = StaffLogin::parse(form.identifiant.trim()) else {
        return refuse("L'identifiant compte de 2 à 64 minuscules, chiffres, points, tirets ou soulignés, et commence par une lettre.").await;
    };
    let (role, issuers, email, siret) =
        match access_of(&form.role, &form.emetteurs, &form.adresse, &form.siret) {
            Ok(access) => access,
            Err(text) => return refuse(text).await,
        };
    let member = sand_domain::staff::NewStaffMember {
        login: new_login,
        name: form.nom.trim().to_owned(),
        role,
        issuers,
        email,
        siret,
        created_at: caller.now,
    };
    if let Err(e) = member.check(state.issuers()) {
        return refuse(rule_text(&e)).await;
    }
    let password = crate::system::random_token()[..24].to_owned();
    let hash = match Password::for_login(&password) {
        Ok(p) => match state.hasher.hash(&p).await {
            Ok(hash) => hash,
            Err(e) => {
                tracing::error!(error = %e, "a password could not be hashed");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        },
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let totp = sand_domain::profile::second_factor::TotpSecret::new(
        crate::system::random_bytes::<20>().to_vec(),
    );
    let audit = by_agent(
        admin,
        &caller,
        AuditAction::StaffAdd,
        format!("{} ({})", member.login, member.role),
    );
    match state.directory.add(&member, &hash, &totp, &audit).await {
        Ok(added) => {
            let base32 =
                crate::totp::generator(totp.expose(), added.login.as_str(), "SAND espace agents")
                    .map(|t| crate::totp::base32(&t))
                    .unwrap_or_default();
            agents_page(
                &state,
                &caller,
                StatusCode::OK,
                None,
                Some((added.login.to_string(), password, base32)),
            )
            .await
        }
        Err(sand_domain::ports::AddStaffStoreError::LoginTaken) => {
            refuse("Cet identifiant est déjà pris.").await
        }
        Err(sand_domain::ports::AddStaffStoreError::EmailTaken) => {
            refuse("Cette adresse professionnelle est déjà celle d'un autre agent.").await
        }
        Err(sand_domain::ports::AddStaffStoreError::Port(e)) => {
            tracing::error!(error = %e, "the staff directory cannot be written");
            unavailable(&state, &caller)
        }
    }
}

#[derive(Template)]
#[template(path = "staff/agent.html")]
struct AgentPage {
    chrome: Chrome,
    agent_login: String,
    name: String,
    role: &'static str,
    issuers: String,
    email: String,
    siret: String,
    roles: Vec<(&'static str, &'static str)>,
    error: Option<&'static str>,
}

fn agent_page(
    state: &StaffState,
    caller: &Caller,
    member: &StaffMember,
    status: StatusCode,
    error: Option<&'static str>,
) -> Response {
    render(
        status,
        &AgentPage {
            chrome: Chrome::new(state, caller, format!("Agent {}", member.login)),
            agent_login: member.login.to_string(),
            name: member.name.clone(),
            role: member.role.code(),
            issuers: issuer_codes(&member.issuers),
            email: member
                .email
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            siret: member
                .siret
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            roles: Role::ALL.iter().map(|r| (r.code(), r.label())).collect(),
            error,
        },
    )
}

/// The open account of `login`, for its administrator; or the answer to give.
async fn open_account(
    state: &StaffState,
    caller: &Caller,
    account: &str,
) -> Result<StaffMember, Box<Response>> {
    let Ok(account) = StaffLogin::parse(account) else {
        return Err(Box::new(not_found(state, caller)));
    };
    match state.directory.credentials(&account).await {
        Ok(Some(found)) if found.member.disabled_at.is_none() => Ok(found.member),
        Ok(_) => Err(Box::new(not_found(state, caller))),
        Err(e) => {
            tracing::error!(error = %e, "the staff directory cannot be read");
            Err(Box::new(unavailable(state, caller)))
        }
    }
}

#[handler]
pub(super) async fn agent_form(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
    Path(target): Path<String>,
) -> Response {
    if let Err(answer) = administrator(&state, &caller) {
        return *answer;
    }
    match open_account(&state, &caller, &target).await {
        Ok(member) => agent_page(&state, &caller, &member, StatusCode::OK, None),
        Err(answer) => *answer,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ChangeAgentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    emetteurs: String,
    #[serde(default)]
    adresse: String,
    #[serde(default)]
    siret: String,
}

impl Posted for ChangeAgentForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[handler]
pub(super) async fn change_agent(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
    Path(target): Path<String>,
    body: Body,
) -> Response {
    let admin = match administrator(&state, &caller) {
        Ok(admin) => admin,
        Err(answer) => return *answer,
    };
    let form: ChangeAgentForm = match posted(&state, &caller, body).await {
        Ok(form) => form,
        Err(answer) => return *answer,
    };
    let member = match open_account(&state, &caller, &target).await {
        Ok(member) => member,
        Err(answer) => return *answer,
    };
    let refuse = |text| {
        agent_page(
            &state,
            &caller,
            &member,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(text),
        )
    };
    if member.id == admin.id {
        return refuse(
            "Un administrateur ne modifie pas son propre accès : demandez-le à un autre administrateur.",
        );
    }
    let (role, issuers, email, siret) =
        match access_of(&form.role, &form.emetteurs, &form.adresse, &form.siret) {
            Ok(access) => access,
            Err(text) => return refuse(text),
        };
    let change = sand_domain::staff::StaffChange {
        role,
        issuers,
        email,
        siret,
    };
    if let Err(e) = change.check(state.issuers()) {
        return refuse(rule_text(&e));
    }
    // a change of rights ends the agent's sessions: the next request logs in again
    let ends_sessions = change.changes_rights_of(&member);
    let audit = by_agent(
        admin,
        &caller,
        AuditAction::StaffChange,
        format!(
            "{} : {} ({}){}",
            member.login,
            change.role,
            issuer_codes(&change.issuers),
            if ends_sessions {
                ", sessions fermées"
            } else {
                ""
            }
        ),
    );
    match state
        .directory
        .change(
            &member.login,
            &change,
            ends_sessions.then_some(caller.now),
            &audit,
        )
        .await
    {
        Ok(true) => agents_page(&state, &caller, StatusCode::OK, None, None).await,
        Ok(false) => not_found(&state, &caller),
        Err(sand_domain::ports::AddStaffStoreError::EmailTaken) => {
            refuse("Cette adresse professionnelle est déjà celle d'un autre agent.")
        }
        Err(sand_domain::ports::AddStaffStoreError::LoginTaken) => not_found(&state, &caller),
        Err(sand_domain::ports::AddStaffStoreError::Port(e)) => {
            tracing::error!(error = %e, "the staff directory cannot be written");
            unavailable(&state, &caller)
        }
    }
}

#[handler]
pub(super) async fn close_agent(
    state: Data<&Arc<StaffState>>,
    caller: Data<&Caller>,
    Path(target): Path<String>,
    body: Body,
) -> Response {
    let admin = match administrator(&state, &caller) {
        Ok(admin) => admin,
        Err(answer) => return *answer,
    };
    if let Err(answer) = posted::<CsrfForm>(&state, &caller, body).await {
        return *answer;
    }
    let Ok(target) = StaffLogin::parse(&target) else {
        return not_found(&state, &caller);
    };
    if target == admin.login {
        return agents_page(
            &state,
            &caller,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Un administrateur ne ferme pas son propre compte : demandez-le à un autre administrateur."),
            None,
        )
        .await;
    }
    let audit = by_agent(
        admin,
        &caller,
        AuditAction::StaffChange,
        format!("{target} : compte fermé"),
    );
    match state.directory.close(&target, caller.now, &audit).await {
        Ok(true) => agents_page(&state, &caller, StatusCode::OK, None, None).await,
        Ok(false) => not_found(&state, &caller),
        Err(e) => {
            tracing::error!(error = %e, "the staff directory cannot be written");
            unavailable(&state, &caller)
        }
    }
}

#[derive(Template)]
#[template(path = "staff/journal.html")]
struct JournalPage {
    chrome: Chrome,
    rows: Vec<(i64, String, String, &'static str, String, String)>,
}

fn auditor<'c>(state: &StaffState, caller: &'c Caller) -> Result<&'c StaffMember, Box<Response>> {
    match &caller.agent {
        None => Err(Box::new(see_other("/connexion"))),
        Some(agent) if matches!(agent.role, Role::Administrator | Role::Auditor) => Ok(agent),
        Some(_) => Err(Box::new(message(
            state,
            caller,
            StatusCode::FORBIDDEN,
            "Accès réservé",
            "Le journal d'audit est réservé aux administrateurs et aux auditeurs.",
        ))),
    }
}

/// The last 30 days of the log.
async fn recent_log(
    state: &StaffState,
    caller: &Caller,
) -> Result<Vec<sand_domain::staff::audit::AuditEntry>, sand_domain::PortError> {
    state
        .audit
        .entries(
            caller.now - time::Duration::days(30),
            caller.now + time::Duration::minutes(1),
            5_000,
        )
        .await
}

#[handler]
pub(super) async fn journal(state: Data<&Arc<StaffState>>, caller: Data<&Caller>) -> Response {
    if let Err(answer) = auditor(&state, &caller) {
        return *answer;
    }
    match recent_log(&state, &caller).await {
        Ok(rows) => render(
            StatusCode::OK,
            &JournalPage {
                chrome: Chrome::new(&state, &caller, "Journal d'audit"),
                rows: rows
                    .iter()
                    .rev()
                    .take(500)
                    .map(|r| {
                        let e = &r.entry;
                        (
                            r.seq,
                            sand_domain::text::french_moment(e.at),
                            e.actor.name(),
                            e.action.code(),
                            e.records
                                .iter()
                                .map(|id| id.0.to_string())
                                .collect::<Vec<_>>()
                                .join(", "),
                            e.detail.clone(),
                        )
                    })
                    .collect(),
            },
        ),
        Err(e) => {
            tracing::error!(error = %e, "the audit log cannot be read");
            message(
                &state,
                &caller,
                StatusCode::SERVICE_UNAVAILABLE,
                "Service indisponible",
                "Le journal ne répond pas.",
            )
        }
    }
}

#[handler]
pub(super) async fn journal_csv(state: Data<&Arc<StaffState>>, caller: Data<&Caller>) -> Response {
    let who = match auditor(&state, &caller) {
        Ok(who) => who,
        Err(answer) => return *answer,
    };
    let rows = match recent_log(&state, &caller).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "the audit log cannot be read");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    // the export itself is audited before anything leaves
    let audit = by_agent(
        who,
        &caller,
        AuditAction::AuditExport,
        format!("{} ligne(s), 30 derniers jours", rows.len()),
    );
    if let Err(e) = state.audit.append(&audit).await {
        tracing::error!(error = %e, "the audit log cannot be written: export refused");
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match super::audit_csv(&rows) {
        Ok(csv) => Response::builder()
            .content_type("text/csv; charset=utf-8")
            .header(
                poem::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"journal-audit.csv\"",
            )
            .body(csv),
        Err(e) => {
            tracing::error!(error = %e, "the audit log could not be written as CSV");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
