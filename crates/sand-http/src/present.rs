//! What pages and the API both show, computed once: the catalogue's selection and
//! entries, a verified diploma as a person reads it, the French texts of verification
//! errors and of the support steps. A leaf: it depends on the domain and the state, never
//! on `pages` or `api`.

use sand_domain::academie::Academie;
use sand_domain::catalogue::CatalogueView;
use sand_domain::diploma::DiplomaKind;
use sand_domain::issuer::{IssuerCode, IssuerRegistry};
use sand_domain::link::attach::SupportStep;
use sand_domain::verification::{VerifiedDiploma, VerifyError};

use crate::i18n::Lang;
use crate::state::AppState;
use crate::web::WebError;

pub(crate) use crate::catalogue_view::Filtered;

/// The name of the issuer with `code` in the registry (its code when it is not there,
/// e.g. an issuer retired since its batch was imported).
pub(crate) fn issuer_name(issuers: &IssuerRegistry, code: IssuerCode) -> String {
    issuers
        .get(code.code())
        .map_or_else(|| code.code().to_owned(), |i| i.name.clone())
}

/// A session's year and the issuer whose batch holds it.
pub(crate) type HeldSession = (u16, IssuerCode);

/// Every (académie, kind) of the view that passes the filter, with its sessions (newest
/// first) and the issuer that holds each.
pub(crate) fn entries(
    view: &CatalogueView,
    f: &Filtered,
) -> Vec<(Academie, DiplomaKind, Vec<HeldSession>)> {
    let mut out = Vec::new();
    for (academie, kinds) in view.held() {
        if f.academie.is_some_and(|a| a != *academie) {
            continue;
        }
        for (kind, sessions) in kinds {
            if f.kind.is_some_and(|k| k != *kind) {
                continue;
            }
            let years: Vec<HeldSession> = sessions
                .iter()
                .filter(|(s, _)| f.session.is_none_or(|wanted| wanted == s.year()))
                .map(|&(session, issuer)| (session.year(), issuer))
                .collect();
            if !years.is_empty() {
                out.push((*academie, *kind, years));
            }
        }
    }
    out
}

/// One catalogue entry, as served in JSON (pages and API alike).
#[derive(Debug, Clone, serde::Serialize, poem_openapi::Object)]
pub struct CatalogueEntry {
    /// Académie code, e.g. `LYON`.
    pub academie: String,
    pub academie_nom: String,
    /// Diploma kind code, e.g. `BACG`.
    pub diplome: String,
    pub diplome_nom: String,
    pub session: u16,
    /// The issuer whose batch holds the session's results, by its code in the issuer
    /// registry (an académie code, `SIEC`, a UAI code).
    pub emetteur: String,
    /// Its name.
    pub emetteur_nom: String,
}

pub(crate) async fn catalogue_entries(
    state: &AppState,
    academie: Option<Academie>,
    kind: Option<DiplomaKind>,
    session: Option<u16>,
) -> Result<Vec<CatalogueEntry>, WebError> {
    let view = state.catalogue.execute().await?;
    let f = Filtered {
        academie,
        kind,
        session,
    };
    let issuers = &state.settings.issuers;
    Ok(entries(&view, &f)
        .into_iter()
        .flat_map(|(a, k, years)| {
            years.into_iter().map(move |(year, issuer)| CatalogueEntry {
                academie: a.code().to_owned(),
                academie_nom: a.name().to_owned(),
                diplome: k.code().to_owned(),
                diplome_nom: k.title().to_owned(),
                session: year,
                emetteur: issuer.code().to_owned(),
                emetteur_nom: issuer_name(issuers, issuer),
            })
        })
        .collect())
}

/// A valid attestation as shown to a verifier.
#[derive(Debug, Clone)]
pub struct ShownDiploma {
    pub holder: String,
    pub birth_date: String,
    pub diploma: String,
    pub speciality: String,
    pub mention: String,
    pub session: String,
    pub academie: String,
    /// The issuer that holds the result (its name in the registry).
    pub issuer: String,
    pub deliberation: String,
}

impl ShownDiploma {
    /// The diploma as the verification page shows it, in `lang` (official French names
    /// stay French: diploma, académie, mention).
    pub fn of(d: &VerifiedDiploma, lang: Lang, issuers: &IssuerRegistry) -> Self {
        let mut holder = format!("{} {}", d.first_names, d.birth_name);
        if let Some(usage) = &d.usage_name {
            let said = lang.t_with("holder-usage-name", &[("name", &usage.to_string())]);
            holder.push_str(&format!(" ({said})"));
        }
        Self {
            holder,
            birth_date: lang.date(d.birth_date.date()),
            diploma: d.scope.kind.title().to_owned(),
            speciality: d
                .award
                .speciality
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            mention: d
                .award
                .mention
                .map(|m| m.label().to_owned())
                .unwrap_or_default(),
            session: d.scope.session.to_string(),
            academie: d.scope.academie.name().to_owned(),
            issuer: issuers
                .get(d.exam_office.code())
                .map_or_else(|| d.exam_office.code().to_owned(), |i| i.name.clone()),
            deliberation: lang.date(d.deliberation_date()),
        }
    }
}

/// French message of a malformed verification field.
/// What a verifier is told of an uploaded document, page and API alike.
#[derive(Debug)]
pub(crate) struct FileVerdict {
    /// Stable: `intacte`, `modifiee`, `cle_inconnue`, `falsifiee`, `non_attestation`.
    pub code: &'static str,
    /// The document is trustworthy as issued (intact and signed by this service).
    pub intact: bool,
    /// Signed by a demonstration key: no value.
    pub demo: bool,
    /// The control key it carries, when it could be read.
    pub key: Option<String>,
    /// A short verdict (the result's heading).
    pub title: String,
    /// What it means and what to do.
    pub text: String,
}

pub(crate) fn file_verdict(verdict: sand_attestation::verify::Verdict, lang: Lang) -> FileVerdict {
    use sand_attestation::verify::Verdict;
    let (code, intact, demo, key, id) = match verdict {
        Verdict::Intact { facts, demo, .. } => (
            "intacte",
            true,
            demo,
            Some(facts.control_key),
            "verdict-intact",
        ),
        Verdict::Altered { facts, demo } => (
            "modifiee",
            false,
            demo,
            Some(facts.control_key),
            "verdict-altered",
        ),
        Verdict::UnknownKey(_) => ("cle_inconnue", false, false, None, "verdict-unknown-key"),
        Verdict::Forged => ("falsifiee", false, false, None, "verdict-forged"),
        Verdict::NotAnAttestation(_) => (
            "non_attestation",
            false,
            false,
            None,
            "verdict-not-attestation",
        ),
    };
    FileVerdict {
        code,
        intact,
        demo,
        key,
        title: lang.t(&format!("{id}-title")),
        text: lang.t(id),
    }
}

pub(crate) fn verify_error_text(e: &VerifyError, lang: Lang) -> Option<String> {
    let id = match e {
        VerifyError::MalformedKey(_) => "err-key",
        VerifyError::MalformedName(_) => "err-name",
        VerifyError::MalformedOrganisation(_) => "err-organisation",
        VerifyError::BirthDateRequired => "err-birth-required",
        VerifyError::Unexpected(_) => return None,
    };
    Some(lang.t(id))
}

/// What a graduate is told about a session before the service's coverage: not a typing
/// error, and where to ask instead (the office that holds the académie's results, when
/// the académie is known).
pub(crate) fn before_coverage_text(academie: Option<Academie>, issuers: &IssuerRegistry) -> String {
    let first = sand_domain::diploma::FIRST_SESSION;
    match academie {
        Some(academie) => format!(
            "Les diplômes obtenus avant {first} ne sont pas couverts par ce service. Demandez une attestation par la procédure habituelle au service des examens qui tient les résultats de l'académie {} : {}.",
            academie.with_de(),
            issuers.exam_office(academie).name
        ),
        None => format!(
            "Les diplômes obtenus avant {first} ne sont pas couverts par ce service. Demandez une attestation par la procédure habituelle au service des examens de l'académie où vous avez passé l'examen (pour Paris, Créteil et Versailles : le SIEC)."
        ),
    }
}

/// Whether a typed session is a year before the service's coverage (not a typing error).
pub(crate) fn is_before_coverage(session: &str) -> bool {
    let session = session.trim();
    session.len() == 4
        && session
            .parse::<u16>()
            .is_ok_and(|year| year < sand_domain::diploma::FIRST_SESSION)
}

/// The support checklist, in the graduate's words; FranceConnect is recommended only
/// where it is offered (`franceconnect`: it is configured); the exam office named is the
/// one the registry routes the académie to (the SIEC for Paris, Créteil and Versailles).
pub(crate) fn step_text(
    step: &SupportStep,
    franceconnect: bool,
    issuers: &IssuerRegistry,
) -> (String, String, String) {
    let none = (String::new(), String::new());
    let (text, (href, label)) = match step {
        SupportStep::CheckTheCatalogue => (
            "Vérifiez que ce diplôme, cette session et cette académie figurent dans la liste des diplômes disponibles.".to_owned(),
            ("/catalogue".to_owned(), "Voir la liste".to_owned()),
        ),
        SupportStep::WaitForFinalResults => (
            "Un diplôme n'apparaît qu'une fois les résultats de tous les groupes d'épreuves définitifs (rattrapage, deuxième session…) : il peut ne pas être encore disponible.".to_owned(),
            none,
        ),
        SupportStep::StandardProcedure { academie } => (
            format!(
                "Sinon, demandez une attestation par la procédure habituelle au service des examens qui tient les résultats de l'académie {} : {}.",
                academie.with_de(),
                issuers.exam_office(*academie).name
            ),
            (format!("/aide/services-examens#academie-{}", academie.code()), "Ses coordonnées et son site".to_owned()),
        ),
        SupportStep::CheckBirthName => (
            "Vérifiez que votre profil porte votre nom de naissance, et non un nom pris depuis (par exemple par mariage).".to_owned(),
            ("/espace/profil".to_owned(), "Voir mon profil".to_owned()),
        ),
        SupportStep::CheckAllFirstNames => (
            "Vérifiez que votre profil porte tous vos prénoms, dans l'ordre de l'état civil.".to_owned(),
            none,
        ),
        SupportStep::CheckBirthDate => ("Vérifiez votre date de naissance.".to_owned(), none),
        SupportStep::RecreateProfileOrUseFranceConnect if franceconnect => (
            "Un profil ne peut pas être modifié : si votre identité y est erronée, supprimez-le et créez-le de nouveau, ou connectez-vous avec FranceConnect, dont l'identité est certifiée.".to_owned(),
            ("/espace/profil".to_owned(), "Gérer mon profil".to_owned()),
        ),
        SupportStep::RecreateProfileOrUseFranceConnect => (
            "Un profil ne peut pas être modifié : si votre identité y est erronée, supprimez-le et créez-le de nouveau avec votre identité au moment de l'examen.".to_owned(),
            ("/espace/profil".to_owned(), "Gérer mon profil".to_owned()),
        ),
        // a certified claimant whose birth place the exam office recorded takes a record
        // held by an uncertified profile: FranceConnect is the way when it is offered
        SupportStep::AnotherProfileOfYours => (
            format!(
                "Ce diplôme est rattaché à un autre profil, le plus souvent un autre profil à vous (créé plus tôt, ou avec une autre adresse e-mail). Connectez-vous à ce profil, ou retrouvez-le par son adresse avec « Mot de passe oublié », puis supprimez son attestation ou le profil, et rattachez le diplôme ici.{}",
                if franceconnect {
                    " Si ce profil n'est pas le vôtre, connectez-vous avec FranceConnect : votre identité certifiée permet de reprendre le diplôme quand le service des examens a enregistré votre lieu de naissance."
                } else {
                    ""
                }
            ),
            ("/mot-de-passe-oublie".to_owned(), "Retrouver un profil par son adresse".to_owned()),
        ),
        SupportStep::ContactTheEstablishment => (
            "Ce diplôme n'est pas tenu par un service des examens d'académie : demandez une attestation à l'établissement qui vous l'a délivré (l'université, l'école ou l'établissement d'enseignement agricole où vous avez fait vos études). Lui seul peut examiner votre situation.".to_owned(),
            (
                "/aide/services-examens#etablissements".to_owned(),
                "Où s'adresser".to_owned(),
            ),
        ),
        SupportStep::ContactExamOffice { academie } => (
            format!(
                "Contactez le service des examens qui tient les résultats de l'académie {} : {}. Lui seul peut examiner votre situation.",
                academie.with_de(),
                issuers.exam_office(*academie).name
            ),
            (format!("/aide/services-examens#academie-{}", academie.code()), "Ses coordonnées".to_owned()),
        ),
    };
    (text, href, label)
}
