//! Public pages: home, catalogue (HTML, CSV, JSON), verification, help, legal.

use std::sync::Arc;

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Query};
use poem::{Body, Response, handler};
use sand_attestation::french_date;
use sand_domain::academie::Academie;
use sand_domain::catalogue::CatalogueView;
use sand_domain::diploma::DiplomaKind;
use sand_domain::verification::{VerifiedDiploma, VerifyError, VerifyOutcome, VerifyRequest};
use serde::Deserialize;

use crate::pages::account::parse_birth_date;
use crate::state::AppState;
use crate::verifying::{self, Checked};
use crate::web::{Chrome, Visitor, WebError, page, read_form};

/// A demonstration identity shown on the home page of the demo site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPerson {
    pub birth_name: String,
    pub usage_name: String,
    pub first_names: String,
    pub birth_date: String,
    pub diploma: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    chrome: Chrome,
    demo_people: &'a [DemoPerson],
    mail_hint: &'a str,
}

#[handler]
pub async fn home(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
) -> Result<Response, WebError> {
    let template = HomePage {
        chrome: Chrome::new(&state, &visitor, "Accueil"),
        demo_people: if state.settings.demo {
            &state.settings.demo_people
        } else {
            &[]
        },
        mail_hint: &state.settings.demo_mail_hint,
    };
    page(StatusCode::OK, &template)
}

// ---------------------------------------------------------------------------------------
// Catalogue
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct CatalogueFilter {
    #[serde(default)]
    academie: String,
    #[serde(default)]
    diplome: String,
    #[serde(default)]
    session: String,
}

/// One line of the catalogue: a diploma kind of an académie, with its sessions.
#[derive(Debug, Clone)]
pub struct CatalogueRow {
    pub academie: String,
    pub kind: String,
    pub sessions: String,
}

struct Filtered {
    academie: Option<Academie>,
    kind: Option<DiplomaKind>,
    session: Option<u16>,
}

impl CatalogueFilter {
    fn parse(&self) -> Filtered {
        Filtered {
            academie: self.academie.parse().ok(),
            kind: self.diplome.parse().ok(),
            session: self.session.trim().parse().ok(),
        }
    }

    fn query(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("academie", self.academie.as_str()),
            ("diplome", self.diplome.as_str()),
            ("session", self.session.as_str()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty() && v.len() <= 16)
        .collect();
        if pairs.is_empty() {
            String::new()
        } else {
            format!(
                "?{}",
                serde_urlencoded::to_string(pairs).unwrap_or_default()
            )
        }
    }
}

/// Every (académie, kind, session) of the view that passes the filter.
fn entries(view: &CatalogueView, f: &Filtered) -> Vec<(Academie, DiplomaKind, Vec<u16>)> {
    let mut out = Vec::new();
    for (academie, kinds) in &view.academies {
        if f.academie.is_some_and(|a| a != *academie) {
            continue;
        }
        for (kind, sessions) in kinds {
            if f.kind.is_some_and(|k| k != *kind) {
                continue;
            }
            let years: Vec<u16> = sessions
                .iter()
                .map(|s| s.year())
                .filter(|y| f.session.is_none_or(|wanted| wanted == *y))
                .collect();
            if !years.is_empty() {
                out.push((*academie, *kind, years));
            }
        }
    }
    out
}

#[derive(Template)]
#[template(path = "catalogue.html")]
struct CataloguePage {
    chrome: Chrome,
    academie_options: Vec<(&'static str, &'static str, bool)>,
    kind_options: Vec<(&'static str, &'static str, bool)>,
    session: String,
    rows: Vec<CatalogueRow>,
    query: String,
}

#[handler]
pub async fn catalogue(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    Query(filter): Query<CatalogueFilter>,
) -> Result<Response, WebError> {
    let view = state.catalogue.execute().await?;
    let f = filter.parse();
    let rows = entries(&view, &f)
        .into_iter()
        .map(|(a, k, years)| CatalogueRow {
            academie: a.name().to_owned(),
            kind: k.title().to_owned(),
            sessions: years
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let template = CataloguePage {
        chrome: Chrome::new(&state, &visitor, "Liste des diplômes disponibles"),
        academie_options: Academie::ALL
            .iter()
            .map(|a| (a.code(), a.name(), f.academie == Some(*a)))
            .collect(),
        kind_options: DiplomaKind::ALL
            .iter()
            .map(|k| (k.code(), k.title(), f.kind == Some(*k)))
            .collect(),
        session: f.session.map(|s| s.to_string()).unwrap_or_default(),
        rows,
        query: filter.query(),
    };
    page(StatusCode::OK, &template)
}

/// The catalogue as CSV (one line per académie, diploma kind and session).
#[handler]
pub async fn catalogue_csv(
    state: Data<&Arc<AppState>>,
    Query(filter): Query<CatalogueFilter>,
) -> Result<Response, WebError> {
    let view = state.catalogue.execute().await?;
    let mut csv = String::from("academie;academie_nom;diplome;diplome_nom;session\r\n");
    for (a, k, years) in entries(&view, &filter.parse()) {
        for year in years {
            csv.push_str(&format!(
                "{};{};{};{};{year}\r\n",
                a.code(),
                a.name(),
                k.code(),
                k.title()
            ));
        }
    }
    Ok(Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"catalogue.csv\"",
        )
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .body(csv))
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
    Ok(entries(&view, &f)
        .into_iter()
        .flat_map(|(a, k, years)| {
            years.into_iter().map(move |year| CatalogueEntry {
                academie: a.code().to_owned(),
                academie_nom: a.name().to_owned(),
                diplome: k.code().to_owned(),
                diplome_nom: k.title().to_owned(),
                session: year,
            })
        })
        .collect())
}

#[handler]
pub async fn catalogue_json(
    state: Data<&Arc<AppState>>,
    Query(filter): Query<CatalogueFilter>,
) -> Result<Response, WebError> {
    let f = filter.parse();
    let list = catalogue_entries(&state, f.academie, f.kind, f.session).await?;
    let body = serde_json::to_vec(&list).map_err(WebError::unexpected)?;
    Ok(Response::builder()
        .content_type("application/json")
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .body(body))
}

// ---------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    pub cle: String,
    #[serde(default)]
    pub nom: String,
    #[serde(default)]
    pub organisme: String,
    /// The holder's birth date, optional (required for a key under attack).
    #[serde(default)]
    pub naissance: String,
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
    pub deliberation: String,
}

impl ShownDiploma {
    pub fn of(d: &VerifiedDiploma) -> Self {
        let mut holder = format!("{} {}", d.first_names, d.birth_name);
        if let Some(usage) = &d.usage_name {
            holder.push_str(&format!(" (nom d'usage {usage})"));
        }
        Self {
            holder,
            birth_date: french_date(d.birth_date.date()),
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
            deliberation: french_date(d.deliberation_date()),
        }
    }
}

struct VerifyResult {
    valid: Option<ShownDiploma>,
    checked_at: String,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    chrome: Chrome,
    form: VerifyForm,
    errors: Vec<&'static str>,
    result: Option<VerifyResult>,
}

#[derive(Debug, Default, Deserialize)]
pub struct VerifyQuery {
    #[serde(default)]
    cle: String,
}

#[handler]
pub async fn verify_form(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    Query(query): Query<VerifyQuery>,
) -> Result<Response, WebError> {
    let form = VerifyForm {
        cle: query.cle.chars().take(32).collect(),
        ..VerifyForm::default()
    };
    page(
        StatusCode::OK,
        &VerifyPage {
            chrome: Chrome::new(&state, &visitor, "Vérifier un diplôme"),
            form,
            errors: Vec::new(),
            result: None,
        },
    )
}

const BIRTH_DATE_UNREADABLE: &str = "Date de naissance du titulaire : indiquez-la au format jj/mm/aaaa (facultative, sauf si elle vous est demandée).";

/// French message of a malformed verification field.
pub(crate) fn verify_error_text(e: &VerifyError) -> Option<&'static str> {
    match e {
        VerifyError::MalformedKey(_) => Some(
            "La clé de contrôle doit compter 8 caractères (lettres et chiffres, sans I, L, O ni U).",
        ),
        VerifyError::MalformedName(_) => {
            Some("Indiquez le nom de naissance du titulaire (80 caractères au plus).")
        }
        VerifyError::MalformedOrganisation(_) => Some(
            "Le nom de l'organisme est trop long (120 caractères au plus) ou contient des caractères invalides.",
        ),
        VerifyError::BirthDateRequired => Some(
            "Pour cette clé, indiquez aussi la date de naissance du titulaire, telle qu'elle figure sur l'attestation : de nombreux noms erronés ont été essayés avec elle aujourd'hui.",
        ),
        VerifyError::Unexpected(_) => None,
    }
}

#[handler]
pub async fn verify_submit(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    body: Body,
) -> Result<Response, WebError> {
    let form: VerifyForm = read_form(body, state.settings.max_body_bytes).await?;
    let checked_at = french_date(state.ports.clock.now().date());
    let chrome = Chrome::new(&state, &visitor, "Vérifier un diplôme");
    let birth_date = if form.naissance.trim().is_empty() {
        None
    } else {
        match parse_birth_date(&form.naissance, state.ports.clock.now().date()) {
            Ok(date) => Some(date),
            Err(_) => {
                return page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &VerifyPage {
                        chrome,
                        form,
                        errors: vec![BIRTH_DATE_UNREADABLE],
                        result: None,
                    },
                );
            }
        }
    };
    let request = VerifyRequest {
        key: form.cle.clone(),
        holder_name: form.nom.clone(),
        organisation: form.organisme.clone(),
        birth_date,
        birth_date_required: false,
    };
    let Checked::Done(result) = verifying::verify(&state, visitor.client, request).await else {
        return Err(WebError::TooManyRequests);
    };
    match result {
        Ok(outcome) => {
            let valid = match outcome {
                VerifyOutcome::Valid(d) => Some(ShownDiploma::of(&d)),
                VerifyOutcome::NotValid => None,
            };
            page(
                StatusCode::OK,
                &VerifyPage {
                    chrome,
                    form,
                    errors: Vec::new(),
                    result: Some(VerifyResult { valid, checked_at }),
                },
            )
        }
        Err(VerifyError::Unexpected(e)) => Err(e.into()),
        Err(e) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &VerifyPage {
                chrome,
                form,
                errors: verify_error_text(&e).into_iter().collect(),
                result: None,
            },
        ),
    }
}
