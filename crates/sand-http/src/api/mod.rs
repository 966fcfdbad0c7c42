//! The JSON API (`/api/v1`, OpenAPI 3 at `/api/v1/openapi.json`, interactive page at
//! `/api/v1/docs`), split by audience: verifiers (`verification`: one key, a batch of up
//! to 100, the signature keys and the check of an attestation file), everyone
//! (`catalogue`), and the signed-in graduate (`me`: their own diplomas and profile, on
//! the session cookie of the pages).
//!
//! State-changing calls take a JSON body: a browser cannot send one cross-site without a
//! CORS preflight, which this API never grants; the session cookie is SameSite=Lax too.
//! Every error is a [`WebError`] rendered by the frame as one body, [`ApiError`], with
//! its stable code and the request id.

mod catalogue;
mod me;
mod verification;

use std::marker::PhantomData;
use std::sync::Arc;

use poem::{Endpoint as _, EndpointExt as _, Response, Route};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApiService, Tags};

use crate::error_code::ErrorCode;
use crate::present::step_text;
use crate::web::WebError;
use sand_domain::academie::Academie;
use sand_domain::issuer::IssuerRegistry;

pub use catalogue::CatalogueApi;
pub use me::MeApi;
pub(crate) use verification::key_set;
pub use verification::{MAX_BATCH, VerificationApi};

/// A JSON error body, as every API error is answered.
#[derive(Debug, Object)]
pub struct ApiError {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// French message for a person.
    pub message: String,
    /// Quote it to support.
    pub request_id: String,
    /// What to do, in order (a refused attachment only).
    #[oai(skip_serializing_if_is_none)]
    pub etapes: Option<Vec<StepJson>>,
}

/// One step of what to do after a refusal.
#[derive(Debug, Object)]
pub struct StepJson {
    /// Stable code: `verifier_catalogue`, `attendre_resultats_definitifs`,
    /// `procedure_habituelle`, `verifier_nom_naissance`, `verifier_prenoms`,
    /// `verifier_date_naissance`, `recreer_profil_ou_franceconnect`, `autre_profil`,
    /// `contacter_service_examens`, `contacter_etablissement` (a diploma no exam office
    /// holds: higher or agricultural education).
    pub code: String,
    /// The step in French, for a person.
    pub texte: String,
    /// The académie concerned (code), for the steps that name one.
    #[oai(skip_serializing_if_is_none)]
    pub academie: Option<String>,
    /// Where to do it on this site (a path), when there is such a page.
    #[oai(skip_serializing_if_is_none)]
    pub lien: Option<String>,
    /// The office to turn to, for the steps that send the graduate to one (the SIEC for
    /// Paris, Créteil and Versailles).
    #[oai(skip_serializing_if_is_none)]
    pub service: Option<OfficeJson>,
}

/// An office that holds results, and how to reach it: its contact as the operator
/// configured it, its official website, else the national page on the usual procedure.
#[derive(Debug, Object)]
pub struct OfficeJson {
    /// Its code in the issuer registry: an académie code, `SIEC`, a UAI code.
    pub code: String,
    /// Its kind: `rectorat`, `vice-rectorat`, `service-education`, `maison-des-examens`,
    /// `agriculture`, `enseignement-superieur`, `autre`.
    pub nature: String,
    pub nom: String,
    #[oai(skip_serializing_if_is_none)]
    pub site: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub telephone: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub adresse: Option<String>,
    /// A contact page of the office's own.
    #[oai(skip_serializing_if_is_none)]
    pub contact_en_ligne: Option<String>,
    /// The national page on how to get an attestation the usual way, for an office with
    /// neither contact nor website.
    #[oai(skip_serializing_if_is_none)]
    pub procedure_nationale: Option<String>,
}

impl OfficeJson {
    /// The office that answers `academie`'s graduates.
    pub(crate) fn of(registry: &IssuerRegistry, academie: Academie) -> Self {
        let office = registry.exam_office(academie);
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let site = office.website.as_ref().map(|w| w.url.clone());
        let national = (office.contact.is_empty() && site.is_none())
            .then(|| registry.national().map(|w| w.url.clone()))
            .flatten();
        Self {
            code: office.code.clone(),
            nature: office.kind.code().to_owned(),
            nom: some(&office.contact.service).unwrap_or_else(|| office.name.clone()),
            site,
            email: office.contact.email.as_ref().map(|e| e.as_str().to_owned()),
            telephone: some(&office.contact.phone),
            adresse: some(&office.contact.address),
            contact_en_ligne: some(&office.contact.web),
            procedure_nationale: national,
        }
    }
}

impl ApiError {
    /// A refusal answered as an outcome of its operation (not through [`WebError`]).
    pub(crate) fn new(visitor: &crate::web::Visitor, code: ErrorCode, message: String) -> Self {
        Self {
            code,
            message,
            request_id: visitor.request_id.clone(),
            etapes: None,
        }
    }
}

impl StepJson {
    /// A step as the API gives it (`franceconnect`: FranceConnect is offered here).
    pub(crate) fn of(
        step: &sand_domain::link::attach::SupportStep,
        franceconnect: bool,
        issuers: &IssuerRegistry,
    ) -> Self {
        use sand_domain::link::attach::SupportStep as S;
        let (code, academie) = match step {
            S::CheckTheCatalogue => ("verifier_catalogue", None),
            S::WaitForFinalResults => ("attendre_resultats_definitifs", None),
            S::StandardProcedure { academie } => ("procedure_habituelle", Some(*academie)),
            S::CheckBirthName => ("verifier_nom_naissance", None),
            S::CheckAllFirstNames => ("verifier_prenoms", None),
            S::CheckBirthDate => ("verifier_date_naissance", None),
            S::RecreateProfileOrUseFranceConnect => ("recreer_profil_ou_franceconnect", None),
            S::AnotherProfileOfYours => ("autre_profil", None),
            S::ContactExamOffice { academie } => ("contacter_service_examens", Some(*academie)),
            S::ContactTheEstablishment => ("contacter_etablissement", None),
        };
        let (texte, lien, _) = step_text(step, franceconnect, issuers);
        Self {
            code: code.to_owned(),
            texte,
            academie: academie.map(|a| a.code().to_owned()),
            lien: (!lien.is_empty()).then_some(lien),
            service: academie.map(|a| OfficeJson::of(issuers, a)),
        }
    }
}

/// What was awarded, as every diploma in the API says it: codes for machines beside
/// names for people (in a verified diploma and in the graduate's list alike).
#[derive(Debug, Clone, Object)]
pub struct AwardJson {
    /// Diploma kind code (`GET /catalogue`), e.g. `BACG`.
    pub diplome: String,
    /// Its title, e.g. `Baccalauréat général`.
    pub diplome_nom: String,
    /// Exam session (year).
    pub session: u16,
    /// Académie code, e.g. `10`.
    pub academie: String,
    /// Its name, e.g. `Lyon`.
    pub academie_nom: String,
    #[oai(skip_serializing_if_is_none)]
    pub specialite: Option<String>,
    /// Mention code: `P` (passable), `AB`, `B`, `TB`, `TBF` (très bien avec félicitations).
    #[oai(skip_serializing_if_is_none)]
    pub mention: Option<String>,
    /// The mention as printed, e.g. `Très bien`.
    #[oai(skip_serializing_if_is_none)]
    pub mention_nom: Option<String>,
    /// The issuer that exported the result and holds it, by its code in the issuer
    /// registry (an académie code, `SIEC`, a UAI code).
    pub emetteur: String,
    /// Its name, e.g. `Service interacadémique des examens et concours (SIEC), …`.
    pub emetteur_nom: String,
}

impl AwardJson {
    pub(crate) fn of(
        scope: &sand_domain::diploma::DiplomaScope,
        award: &sand_domain::record::Award,
        issuer: sand_domain::issuer::IssuerCode,
        issuers: &IssuerRegistry,
    ) -> Self {
        Self {
            emetteur_nom: crate::present::issuer_name(issuers, issuer),
            emetteur: issuer.code().to_owned(),
            diplome: scope.kind.code().to_owned(),
            diplome_nom: scope.kind.title().to_owned(),
            session: scope.session.year(),
            academie: scope.academie.code().to_owned(),
            academie_nom: scope.academie.name().to_owned(),
            specialite: award.speciality.as_ref().map(ToString::to_string),
            mention: award.mention.map(|m| m.code().to_owned()),
            mention_nom: award.mention.map(|m| m.label().to_owned()),
        }
    }
}

/// An instant as the API writes it: RFC 3339 (ISO 8601) in UTC.
pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The refusals an operation documents beyond those every operation may answer
/// ([`COMMON_ERRORS`]): each a status and what it means, all answered with [`ApiError`].
pub trait Refusals: Send + Sync + 'static {
    const LIST: &'static [(u16, &'static str)];
}

/// An operation's failure: a [`WebError`] (the frame renders it, with the request id),
/// documented in the OpenAPI document as the refusals `R` lists.
#[derive(Debug)]
pub struct Failure<R: Refusals>(WebError, PhantomData<fn() -> R>);

impl<R: Refusals, E: Into<WebError>> From<E> for Failure<R> {
    fn from(e: E) -> Self {
        Self(e.into(), PhantomData)
    }
}

impl<R: Refusals> From<Failure<R>> for poem::Error {
    fn from(f: Failure<R>) -> Self {
        f.0.into()
    }
}

impl<R: Refusals> ApiResponse for Failure<R> {
    fn meta() -> poem_openapi::registry::MetaResponses {
        use poem_openapi::payload::Payload as _;
        use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses};
        MetaResponses {
            responses: R::LIST
                .iter()
                .map(|(status, description)| MetaResponse {
                    description,
                    status: Some(*status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: Json::<ApiError>::CONTENT_TYPE,
                        schema: Json::<ApiError>::schema_ref(),
                    }],
                    headers: Vec::new(),
                })
                .collect(),
        }
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        <Json<ApiError> as ApiResponse>::register(registry);
    }
}

/// The result of an operation that may be refused as `R` says.
pub type Answer<T, R> = Result<T, Failure<R>>;

#[derive(Tags)]
enum ApiTags {
    /// For verifiers: check a control key with the holder's name.
    Verification,
    /// Public reference data.
    Catalogue,
    /// Attestation signatures.
    Attestations,
    /// The signed-in graduate's own diplomas and profile.
    Me,
}

/// The API's three audiences, one document.
pub type Api = (VerificationApi, CatalogueApi, MeApi);

/// The OpenAPI service of the API.
#[must_use]
pub fn service(public_url: &str) -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (VerificationApi, CatalogueApi, MeApi),
        "SAND",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Vérification d'attestations de diplômes, catalogue, et opérations du diplômé connecté.",
    )
    .server(format!("{public_url}/api/v1"))
}

/// The errors any operation may answer, whatever its handler does: the request could
/// not be read (400, 413, 415), too many requests (429), the service failed (500) or is
/// temporarily unavailable (503); and 404 where the path names a resource.
const COMMON_ERRORS: [(&str, &str); 7] = [
    ("400", "Demande mal formée (paramètre ou corps illisible)."),
    ("404", "Ressource introuvable."),
    ("413", "Corps de la demande trop volumineux."),
    ("415", "Type de contenu non accepté."),
    ("429", "Trop de demandes : réessayez plus tard."),
    ("500", "Erreur inattendue (citez request_id au support)."),
    (
        "503",
        "Service momentanément indisponible : réessayez plus tard.",
    ),
];

/// The name of the session security scheme in the document.
const SESSION_SCHEME: &str = "session";

/// The OpenAPI document, with the common error answers documented on every operation,
/// and the pages' session cookie as the security scheme of the graduate's operations
/// (`/moi…`).
#[must_use]
pub fn spec_json(public_url: &str) -> String {
    let text = service(public_url).spec();
    let Ok(mut spec) = serde_json::from_str::<serde_json::Value>(&text) else {
        return text;
    };
    let error = serde_json::json!({
        "application/json; charset=utf-8": {
            "schema": { "$ref": "#/components/schemas/ApiError" }
        }
    });
    if let Some(paths) = spec.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for (path, item) in paths.iter_mut() {
            let Some(operations) = item.as_object_mut() else {
                continue;
            };
            for operation in operations.values_mut() {
                if path.starts_with("/moi")
                    && let Some(operation) = operation.as_object_mut()
                {
                    operation.insert(
                        "security".to_owned(),
                        serde_json::json!([{ SESSION_SCHEME: [] }]),
                    );
                }
                let Some(responses) = operation
                    .get_mut("responses")
                    .and_then(|r| r.as_object_mut())
                else {
                    continue;
                };
                for (status, description) in COMMON_ERRORS {
                    if status == "404" && !path.contains('{') {
                        continue;
                    }
                    responses.entry(status).or_insert_with(|| {
                        serde_json::json!({ "description": description, "content": error.clone() })
                    });
                }
            }
        }
    }
    let cookie = crate::web::session_cookie_name_for(public_url.starts_with("https://"));
    if let Some(components) = spec.get_mut("components").and_then(|c| c.as_object_mut()) {
        components.insert(
            "securitySchemes".to_owned(),
            serde_json::json!({
                SESSION_SCHEME: {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": cookie,
                    "description": "La session des pages : se connecter sur /connexion (mot de passe ou FranceConnect), puis envoyer ce cookie. Sans session valide, 401 `non_connecte`.",
                }
            }),
        );
    }
    serde_json::to_string_pretty(&spec).unwrap_or(text)
}

/// Each path template of the document (split into segments, `{…}` for a parameter)
/// with the methods it answers, as an `Allow` header value.
fn allowed_methods(spec: &str) -> Vec<(Vec<String>, String)> {
    let Ok(spec) = serde_json::from_str::<serde_json::Value>(spec) else {
        return Vec::new();
    };
    let Some(paths) = spec.get("paths").and_then(|p| p.as_object()) else {
        return Vec::new();
    };
    paths
        .iter()
        .map(|(path, item)| {
            let segments = path.split('/').map(str::to_owned).collect();
            let mut methods: Vec<String> = item
                .as_object()
                .map(|o| o.keys().map(|m| m.to_uppercase()).collect())
                .unwrap_or_default();
            if methods.iter().any(|m| m == "GET") {
                methods.push("HEAD".to_owned());
            }
            (segments, methods.join(", "))
        })
        .collect()
}

/// The `Allow` value for a path under `/api/v1`, from [`allowed_methods`].
fn allow_for(table: &[(Vec<String>, String)], path: &str) -> String {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let asked: Vec<&str> = path.split('/').collect();
    table
        .iter()
        .find(|(template, _)| {
            template.len() == asked.len()
                && template
                    .iter()
                    .zip(&asked)
                    .all(|(t, a)| t.starts_with('{') || t == a)
        })
        .map(|(_, allow)| allow.clone())
        .unwrap_or_default()
}

/// `/api/v1` with its document and interactive page.
pub(crate) fn routes(public_url: &str) -> Route {
    let service = service(public_url);
    let docs = service.swagger_ui();
    let spec = spec_json(public_url);
    let allowed = Arc::new(allowed_methods(&spec));
    // a path of the document asked with another method: 405 and the methods it answers
    let service = service.around(move |ep, req| {
        let allowed = Arc::clone(&allowed);
        async move {
            // the path below this nest: `/verifications`
            let path = req.uri().path().to_owned();
            match ep.call(req).await {
                Err(e) if e.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED => {
                    Err(WebError::MethodNotAllowed(allow_for(&allowed, &path)).into())
                }
                other => other,
            }
        }
    });

    Route::new()
        .at(
            "/openapi.json",
            poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("application/json; charset=utf-8")
                    .body(spec.clone())
            }),
        )
        .nest("/docs", docs)
        .nest("/", service)
}
